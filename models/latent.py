"""What the generator is fed, drawn with stateless RNG so that the same seed gives the same draw
everywhere (training step, export, evaluation).

`LatentSpec` is the vanilla GAN's latent, noise z: N(0, I) by default, U(-1, 1) where the
reference code draws it so (InfoGAN's official MNIST code). A model that feeds G more subclasses
it (AC-GAN's class label in models/acgan.py, InfoGAN's codes in models/infogan.py); the sizes
below are what the exported `latent_spec` signature reports, zero where a model adds nothing.
"""
import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    noise_dim: int
    noise: str = "normal"  # z ~ N(0, I) ("normal") or U(-1, 1) per coordinate ("uniform")
    # Not fields: a subclass that feeds G a label or codes makes them its own fields.
    num_classes = 0       # AC-GAN: G is conditioned on a one-hot class label
    num_categorical = 0   # InfoGAN: one categorical code with this many values
    num_continuous = 0    # InfoGAN: continuous codes

    @property
    def input_dim(self):
        return self.noise_dim + self.num_classes + self.num_categorical + self.num_continuous

    @staticmethod
    def sub_seed(seed, i):
        """Seed of part i of a draw. Philox named explicitly, so a seed keeps its samples on CPU
        and GPU. (XLA-compiled steps draw other numbers from the same seed: same distribution,
        other values.)"""
        return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), i, alg="philox")

    def __post_init__(self):
        if self.noise not in ("normal", "uniform"):
            raise ValueError(f"noise must be 'normal' or 'uniform', not {self.noise!r}")

    def sample(self, batch_size, seed):
        """{"z": [N, noise_dim]} for N = `batch_size`, from a [2] int stateless seed."""
        shape, seed = [batch_size, self.noise_dim], self.sub_seed(seed, 0)
        if self.noise == "uniform":
            return {"z": tf.random.stateless_uniform(shape, seed, -1.0, 1.0, alg="philox")}
        return {"z": tf.random.stateless_normal(shape, seed, alg="philox")}

    def generator_input(self, latents):
        """The [N, input_dim] vector G takes."""
        return tf.cast(latents["z"], tf.float32)
