"""A run's settings: what the user asked for, resolved against the variant's paper defaults.

Every field that is None means "the variant's default"; `resolve` fills them in, and the
resolved config is what `config.json` records. The defaults depend on the kind of data: on a
toy mixture (ring8, grid25) a variant with a toy protocol (models/variants.py `TOY_VARIANTS`:
gan, wgan, wgan_gp) takes that protocol's row, networks, step count and data scaling
included; any flag given still wins.
"""
import dataclasses
import json
import os

from data.datasets import DATASETS
from data.folder import PREFIX as FOLDER_PREFIX
from models.networks import ARCHS, D_NORM_ARCHS, G_NORM_ARCHS, IMAGE_ARCHS, NORMS
from models.variants import VARIANTS, variant_for
from models.wgan import WGAN

LOSS_CHOICES = ("minimax", "non_saturating")  # the --loss flag, for gan and dcgan


class ConfigError(ValueError):
    """A setting that cannot work; the message names the fix."""


@dataclasses.dataclass
class Config:
    model: str = "acgan"            # gan, dcgan, wgan, wgan_gp, infogan or acgan
    dataset: str = "mnist"          # dataset asked for (see data/datasets.py), or folder:PATH
    workdir: str = "runs/acgan"     # config.json, events, checkpoints and saved_model go here
    train_steps: int = None         # generator updates in the whole run (None: the variant's)
    steps_per_epoch: int = 500      # steps between sample grids and checkpoints
    seed: int = 0                   # weights, noise and data order all derive from it
    batch_size: int = None          # examples per discriminator update
    d_steps: int = None             # discriminator updates per generator update
    loss: str = None                # gan/dcgan only: "minimax" or "non_saturating"
    latent_dim: int = None          # size of the noise z
    d_lr: float = None              # discriminator learning rate
    g_lr: float = None              # generator learning rate
    beta_1: float = None            # Adam beta_1 (both networks)
    beta_2: float = None            # Adam beta_2 (both networks)
    gp_weight: float = None         # gradient-penalty lambda (wgan_gp)
    clip_value: float = None        # weight-clipping bound c (wgan)
    width: int = None               # base width: conv channels (64) or MLP units (512)
    d_norm: str = None              # D's hidden-layer normalization: batch, layer or none
    g_norm: str = None              # G's: batch or none (nets that have batch norm in G)
    g_arch: str = None              # G's networks when not D's (e.g. mlp: WGAN paper Fig. 6)
    g_width: int = None             # G's width when not --width
    data_scale: float = None        # toy data: divided by this for training (gan_toy.py: 1.414)
    train_points: int = None        # toy data: a fixed training set of N points (0: fresh draws)
    train_examples: int = None      # images: train on N of them, class-balanced (0: all)
    toy_defaults: bool = True       # toy data: the toy protocol's row (False: the image row's)
    image_size: int = None          # resize images to this side (default: the dataset's)
    channels: int = None            # folder: 1 (grey) or 3 (default: 3 if any file has colour)
    data_dir: str = None            # tensorflow-datasets directory
    log_every: int = 1              # steps between TensorBoard scalar writes
    print_every: int = 100          # steps between progress lines when stdout is not a terminal
    checkpoint_every: int = 500     # steps between checkpoints (one is also written at the end)
    keep_checkpoints: int = 3       # how many of the latest checkpoints to keep
    overwrite: bool = False         # replace the run in workdir instead of resuming it
    jit_compile: bool = None        # compile the step with XLA (None: loop.XLA_DEFAULT)
    mixed_precision: bool = False   # float16 compute, float32 variables and outputs, loss scaling
    strategy: str = "default"       # default, mirrored, multi_worker or tpu
    devices: str = None             # mirrored: comma-separated devices (default: all GPUs/CPUs)
    tpu: str = None                 # tpu: the TPU's name or grpc:// address
    dataset_used: str = None        # filled in: the dataset actually trained on
    dataset_note: str = None        # filled in: why it differs from `dataset`, if it does
    class_names: list = None        # filled in: a folder's class sub-folders, in label order

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls(**json.load(f))


# What validate and resolve know of a folder before it is read: images, classes maybe.
_FOLDER = DATASETS["mnist_5k"]

VARIANT_OVERRIDES = ("batch_size", "d_steps", "loss", "latent_dim", "d_lr", "g_lr", "beta_1",
                     "beta_2", "gp_weight", "clip_value", "train_steps", "width", "data_scale",
                     "train_points", "d_norm", "g_norm", "g_arch", "g_width")


def validate(config):
    """Raises ConfigError for settings no run can use (before any data or model is built)."""
    if config.model not in VARIANTS:
        raise ConfigError(f"unknown model {config.model!r}; choose one of {', '.join(VARIANTS)}")
    if config.dataset.startswith(FOLDER_PREFIX):
        if not config.dataset[len(FOLDER_PREFIX):]:
            raise ConfigError("--dataset=folder: needs a path: --dataset=folder:DIR")
    elif config.dataset not in DATASETS:
        raise ConfigError(f"--dataset={config.dataset} is not a dataset; choose one of "
                          f"{', '.join(DATASETS)}, or folder:DIR (a directory of images)")
    if config.channels is not None:
        if config.channels not in (1, 3):
            raise ConfigError(f"--channels must be 1 or 3, got {config.channels}")
        if not config.dataset.startswith(FOLDER_PREFIX):
            raise ConfigError("--channels applies to --dataset=folder:DIR only; drop it")
    is_toy = not DATASETS.get(config.dataset, _FOLDER).is_image
    for name, neutral in (("data_scale", 1.0), ("train_points", 0)):
        # The neutral value is what a resolved image run records: it may be resolved again.
        if getattr(config, name) not in (None, neutral) and not is_toy:
            raise ConfigError(f"--{name} applies to the toy mixtures (ring8, grid25), not "
                              f"{config.dataset}; drop --{name}")
    if config.data_scale is not None and config.data_scale <= 0:
        raise ConfigError(f"--data_scale must be positive, got {config.data_scale}")
    if config.train_points is not None and config.train_points < 0:
        raise ConfigError(f"--train_points must be >= 0 (0: fresh draws every batch), got "
                          f"{config.train_points}")
    if config.loss is not None and config.loss != VARIANTS[config.model].loss:
        if config.model not in ("gan", "dcgan"):
            raise ConfigError(f"--loss applies to gan and dcgan only, not {config.model} "
                              "(its loss is fixed by its paper); drop --loss")
        if config.loss not in LOSS_CHOICES:
            raise ConfigError(f"--loss must be one of {', '.join(LOSS_CHOICES)}")
    for name, value, choices in (("d_norm", config.d_norm, NORMS),
                                 ("g_norm", config.g_norm, ("batch", "none")),
                                 ("g_arch", config.g_arch, ARCHS)):
        if value not in (None, *choices) and not (name == "g_arch" and value == ""):  # "": D's
            raise ConfigError(f"--{name} must be one of {', '.join(choices)}, got {value!r}")
    for name in ("train_steps", "steps_per_epoch", "batch_size", "d_steps", "latent_dim",
                 "d_lr", "g_lr", "width", "image_size", "log_every", "print_every", "checkpoint_every",
                 "keep_checkpoints"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be positive, got {value}")
    if config.train_examples is not None and config.train_examples < 0:
        raise ConfigError(f"--train_examples must be >= 0 (0: all), got {config.train_examples}")
    if config.train_examples and is_toy:
        raise ConfigError("--train_examples is for image datasets; toy mixtures take "
                          "--train_points")
    if config.g_width is not None and config.g_width < 0:
        raise ConfigError(f"--g_width must be positive (0: --width), got {config.g_width}")
    for name in ("beta_1", "beta_2"):
        value = getattr(config, name)
        if value is not None and not 0 <= value < 1:
            raise ConfigError(f"--{name} must be in [0, 1), got {value}")
    critics = ", ".join(n for n, v in VARIANTS.items() if issubclass(v.model_class, WGAN))
    for name in ("gp_weight", "clip_value"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name} must be >= 0, got {value}")
        if value and not issubclass(VARIANTS[config.model].model_class, WGAN):
            raise ConfigError(f"--{name} applies to the Wasserstein critics ({critics}), not "
                              f"{config.model}; drop --{name}")
    if (VARIANTS[config.model].model_class.uses_labels
            and DATASETS.get(config.dataset, _FOLDER).num_classes == 0):
        raise ConfigError(f"{config.model} needs class labels and {config.dataset} has none; "
                          "pick a labelled dataset")
    if os.path.exists(config.workdir) and not os.path.isdir(config.workdir):
        raise ConfigError(f"--workdir {config.workdir} is a file; pass a directory")


def resolve(config):
    """Returns (config with every None filled from the variant, the resolved Variant).

    The variant's row is its toy protocol's on a toy mixture (unless `toy_defaults` is off),
    else its image row; the flags given override it field by field."""
    validate(config)
    is_image = DATASETS.get(config.dataset, _FOLDER).is_image
    variant = variant_for(config.model, config.dataset, config.toy_defaults)
    if not is_image and variant.arch in IMAGE_ARCHS:
        variant = dataclasses.replace(variant, arch="mlp")  # the image nets' stand-in on points
    if not variant.width:
        variant = dataclasses.replace(
            variant, width=64 if variant.arch in IMAGE_ARCHS else 512)
    row = variant
    overrides = {k: getattr(config, k) for k in VARIANT_OVERRIDES if getattr(config, k) is not None}
    variant = dataclasses.replace(variant, **overrides)
    if not is_image and variant.g_arch in IMAGE_ARCHS:
        variant = dataclasses.replace(variant, g_arch="mlp")
    if variant.g_arch == variant.arch:
        variant = dataclasses.replace(variant, g_arch="")  # "" is "D's": one spelling recorded
    g_arch = variant.g_arch or variant.arch
    if g_arch not in G_NORM_ARCHS:  # no batch norm to keep or remove: record the truth
        if config.g_norm == "batch":
            raise ConfigError(f"--g_norm applies to generators with batch norm "
                              f"({', '.join(G_NORM_ARCHS)}); the {g_arch} generator has none: "
                              "drop --g_norm")
        variant = dataclasses.replace(variant, g_norm="none")
    if config.d_norm not in (None, row.d_norm) and variant.arch not in D_NORM_ARCHS:
        raise ConfigError(f"--d_norm applies to the {', '.join(D_NORM_ARCHS)} discriminators, "
                          f"not {variant.arch} (its reference fixes it); drop --d_norm")
    filled = dataclasses.replace(config, train_examples=config.train_examples or 0,
                                 **{k: getattr(variant, k) for k in VARIANT_OVERRIDES})
    if variant.train_points and variant.train_points < variant.batch_size * variant.d_steps:
        raise ConfigError(f"--train_points={variant.train_points} is fewer than one step's "
                          f"{variant.batch_size * variant.d_steps} points (batch_size x "
                          "d_steps); pass more, or 0 for fresh draws")
    return filled, variant
