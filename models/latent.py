"""What the generator is fed, drawn with stateless RNG so that the same seed gives the same draw
everywhere (training step, export, evaluation).

`LatentSpec` is the vanilla GAN's latent, noise z: N(0, I) by default, U(-1, 1) where the
reference code draws it so (InfoGAN's official MNIST code). A model that feeds G more subclasses
it in its own file (AC-GAN's class label in models/acgan.py, InfoGAN's codes in
models/infogan.py) and extends what the export, the sample grids, sample.py and eval.py ask of
a latent:

    input_dim, sample(), generator_input()   what G is fed
    serving_inputs(), bounds()               the export's `serving_default` inputs and their bounds
    sizes()                                  the export's `latent_spec` signature
    grids()                                  the fixed-latent pictures (TensorBoard, eval.py)
    label                                    the input sample.py's --label sets, if any
    evaluation_rows                          eval.py's rows for this latent (metrics/evaluation.py)
"""
import dataclasses

from keras import ops

import backends

GRID_COLUMNS = 10


@dataclasses.dataclass(frozen=True)
class Grid:
    """One fixed-latent picture: `rows` x `cols` samples of `latents`, row-major, with what
    names its rows and columns."""
    latents: dict
    rows: int
    cols: int
    row_labels: list = None
    col_labels: list = None
    title: str = ""


@dataclasses.dataclass(frozen=True)
class Label:
    """A discrete input of G that a user can set (sample.py --label): latent key, bound, name."""
    key: str
    bound: int
    what: str


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    noise_dim: int
    noise: str = "normal"  # z ~ N(0, I) ("normal") or U(-1, 1) per coordinate ("uniform")

    evaluation_rows = ()  # names of metrics/evaluation.py's rows that only this latent has

    @property
    def input_dim(self):
        return self.noise_dim

    @property
    def label(self):
        return None  # plain noise: nothing to choose

    def __post_init__(self):
        if self.noise not in ("normal", "uniform"):
            raise ValueError(f"noise must be 'normal' or 'uniform', not {self.noise!r}")

    def sample(self, batch_size, seed):
        """{"z": [N, noise_dim]} for N = `batch_size`, from a stateless seed (backends/: on
        TensorFlow a [2] int seed and philox, so a seed keeps its samples on CPU and GPU)."""
        shape, seed = [batch_size, self.noise_dim], backends.fold_in(seed, 0)
        if self.noise == "uniform":
            return {"z": backends.uniform(shape, seed, -1.0, 1.0)}
        return {"z": backends.normal(shape, seed)}

    def generator_input(self, latents):
        """The [N, input_dim] vector G takes."""
        return ops.cast(latents["z"], "float32")

    # === The export's contract (training/export.py) ===

    def serving_inputs(self):
        """The `serving_default` signature's inputs, in `generator_input`'s order: (name,
        shape, dtype)."""
        return [("z", [None, self.noise_dim], "float32")]

    def bounds(self):
        """{name: bound} of the integer inputs, each in [0, bound): none for noise."""
        return {}

    def sizes(self):
        """The `latent_spec` signature: every size, zero where this latent has no such part
        (the contract is the same for every export); models.latent_from_sizes inverts it."""
        return {"noise_dim": self.noise_dim, "num_classes": 0, "num_categorical": 0,
                "num_continuous": 0, "noise_uniform": int(self.noise == "uniform")}

    # === Pictures ===

    def grids(self, seed=1234, class_names=()):
        """{tag: Grid}: here 8 x 8 samples of fixed noise."""
        return {"samples": Grid(self.sample(64, backends.step_seed(seed, 0)), 8, 8)}
