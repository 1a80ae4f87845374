"""A run's settings: what the user asked for, resolved against the variant's paper defaults.

Every field that is None means "the variant's default"; `resolve` fills them in, and the
resolved config is what `config.json` records.
"""
import dataclasses
import json
import os

from data.datasets import DATASETS
from models.variants import VARIANTS

LOSS_CHOICES = ("minimax", "non_saturating")  # the --loss flag, for gan and dcgan


class ConfigError(ValueError):
    """A setting that cannot work; the message names the fix."""


@dataclasses.dataclass
class Config:
    model: str = "acgan"            # gan, dcgan, wgan, wgan_gp, infogan or acgan
    dataset: str = "mnist"          # dataset asked for (see data/datasets.py)
    workdir: str = "runs/acgan"     # config.json, events, checkpoints and saved_model go here
    train_steps: int = 3000         # generator updates in the whole run
    steps_per_epoch: int = 500      # steps between sample grids and checkpoints
    seed: int = 0                   # weights, noise and data order all derive from it
    batch_size: int = None          # examples per discriminator update
    d_steps: int = None             # discriminator updates per generator update
    loss: str = None                # gan/dcgan only: "minimax" or "non_saturating"
    latent_dim: int = None          # size of the Gaussian noise z
    d_lr: float = None              # discriminator learning rate
    g_lr: float = None              # generator learning rate
    beta_1: float = None            # Adam beta_1 (both networks)
    beta_2: float = None            # Adam beta_2 (both networks)
    gp_weight: float = None         # gradient-penalty lambda (wgan_gp)
    clip_value: float = None        # weight-clipping bound c (wgan)
    width: int = None               # base width: conv channels (64) or MLP units (512)
    image_size: int = None          # resize images to this side (default: the dataset's)
    data_dir: str = None            # tensorflow-datasets directory
    log_every: int = 1              # steps between TensorBoard scalar writes
    print_every: int = 100          # steps between progress lines when stdout is not a terminal
    checkpoint_every: int = 500     # steps between checkpoints (one is also written at the end)
    keep_checkpoints: int = 3       # how many of the latest checkpoints to keep
    overwrite: bool = False         # replace the run in workdir instead of resuming it
    jit_compile: bool = None        # compile the train step with XLA (None: where it works)
    mixed_precision: bool = False   # float16 compute, float32 variables and outputs, loss scaling
    strategy: str = "default"       # default, mirrored, multi_worker or tpu
    devices: str = None             # mirrored: comma-separated devices (default: all GPUs/CPUs)
    tpu: str = None                 # tpu: the TPU's name or grpc:// address
    dataset_used: str = None        # filled in: the dataset actually trained on
    dataset_note: str = None        # filled in: why it differs from `dataset`, if it does

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls(**json.load(f))


VARIANT_OVERRIDES = ("batch_size", "d_steps", "loss", "latent_dim", "d_lr", "g_lr", "beta_1",
                     "beta_2", "gp_weight", "clip_value")


def validate(config):
    """Raises ConfigError for settings no run can use (before any data or model is built)."""
    if config.model not in VARIANTS:
        raise ConfigError(f"unknown model {config.model!r}; choose one of {', '.join(VARIANTS)}")
    if config.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {config.dataset!r}; "
                          f"choose one of {', '.join(DATASETS)}")
    if config.loss is not None and config.loss != VARIANTS[config.model].loss:
        if config.model not in ("gan", "dcgan"):
            raise ConfigError(f"--loss applies to gan and dcgan only, not {config.model} "
                              "(its loss is fixed by its paper); drop --loss")
        if config.loss not in LOSS_CHOICES:
            raise ConfigError(f"--loss must be one of {', '.join(LOSS_CHOICES)}")
    for name in ("train_steps", "steps_per_epoch", "batch_size", "d_steps", "latent_dim",
                 "d_lr", "g_lr", "width", "image_size", "log_every", "print_every", "checkpoint_every",
                 "keep_checkpoints"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be positive, got {value}")
    for name in ("beta_1", "beta_2"):
        value = getattr(config, name)
        if value is not None and not 0 <= value < 1:
            raise ConfigError(f"--{name} must be in [0, 1), got {value}")
    for name in ("gp_weight", "clip_value"):
        value = getattr(config, name)
        if value is not None and value < 0:
            raise ConfigError(f"--{name} must be >= 0, got {value}")
    if config.model == "acgan" and DATASETS[config.dataset].num_classes == 0:
        raise ConfigError(f"acgan needs class labels and {config.dataset} has none; "
                          "pick a labelled dataset")
    if os.path.exists(config.workdir) and not os.path.isdir(config.workdir):
        raise ConfigError(f"--workdir {config.workdir} is a file; pass a directory")


def resolve(config):
    """Returns (config with every None filled from the variant, the resolved Variant)."""
    validate(config)
    variant = VARIANTS[config.model]
    overrides = {k: getattr(config, k) for k in VARIANT_OVERRIDES if getattr(config, k) is not None}
    variant = dataclasses.replace(variant, **overrides)
    filled = dataclasses.replace(config, **{k: getattr(variant, k) for k in VARIANT_OVERRIDES})
    if filled.width is None:
        is_image = DATASETS[config.dataset].is_image
        filled.width = 64 if variant.arch == "dcgan" and is_image else 512
    return filled, variant
