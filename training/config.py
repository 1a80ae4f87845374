"""A run's settings: what the user asked for, resolved against the variant's paper defaults.

Every setting is declared once, as a dataclass field with `models.hparams.hparam` metadata:
the run's own settings below, and the variant's hyperparameters in models/variants.py
`Variant`, which `Config` takes over with None meaning "the variant's". From those declarations
come train.py's flags (`define_flags`), the checks of `validate`, the fields of `config.json`,
the resume identity (`resume_mismatch`) and docs/options.md (`markdown_table`).

`resolve` fills every None in, and the resolved Config is the one object that carries the
run: `config.variant` is the Variant the model class is built from, its hyperparameters those
of the config. The defaults depend on the kind of data: on a toy mixture (ring8, grid25) a
variant with a toy protocol (models/variants.py `TOY_VARIANTS`: gan, wgan, wgan_gp) takes that
protocol's row, networks, step count and data scaling included; any flag given still wins. A
setting that the variant does not take (`only_some`: e.g. --aux_fake_weight on wgan) stays
None, in config.json too.
"""
import dataclasses
import json
import math
import os
import shlex

import keras

from data.datasets import DATASETS
from data.folder import PREFIX as FOLDER_PREFIX
from models.hparams import (DATA_KINDS, at_least_zero, choices_of, hparam, is_setting,
                            positive)
from models.networks import ARCHITECTURES, archs_with
from models.variants import TOY_VARIANTS, VARIANTS, Variant, variant_for


STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")  # training/distribute.py makes them
# Algorithm-1 iterations per call into TensorFlow on the toy mixtures on one device, where a
# step is a few milliseconds and the return to Python between steps a large share of it
# (benchmarks.train_step --steps_per_execution, docs/speed.md); image steps take 1.
TOY_STEPS_PER_EXECUTION = 25
# The step counts a call of K steps must divide: the weights exist only between calls.
_CADENCES = ("train_steps", "steps_per_epoch", "checkpoint_every")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the fix."""


def _channels(value):
    return None if value in (1, 3) else f"must be 1 or 3, got {value}"


# The variant's hyperparameters, as settings of a run: None is "the variant's".
_Hyperparameters = dataclasses.make_dataclass("_Hyperparameters", [
    (f.name, f.type, dataclasses.field(default=None, metadata=f.metadata))
    for f in dataclasses.fields(Variant) if is_setting(f)])


def _filled_in(resume=None, **metadata):
    """A field `resolve` and the loop fill in (no flag); `resume` (and `neutral`) as for
    `hparam`."""
    return dataclasses.field(default=None, metadata={"resume": resume, **metadata})


@dataclasses.dataclass
class Config(_Hyperparameters):
    model: str = hparam("acgan", help="GAN variant to train.", choices=lambda: tuple(VARIANTS),
                        resume="same")
    dataset: str = hparam(
        "mnist", help=f"Training data: one of {', '.join(DATASETS)} (mnist falls back to the "
        "shipped mnist_5k when offline), or folder:DIR, a directory of images (flat, or one "
        "sub-folder per class for acgan).")
    workdir: str = hparam("runs/acgan", flag_default=None, help="Run directory (default: "
                          "runs/<model>): config.json, events, checkpoints, saved_model; rerun "
                          "to resume.")
    steps_per_epoch: int = hparam(500, help="Steps between sample pictures.", check=positive)
    seed: int = hparam(0, help="Seed of weights, noise and data order.", resume="same")
    train_examples: int = hparam(
        None, help="Images: train on this many training examples, the first of each class in "
        "file order (0: all; in-memory data: mnist_5k, folders).", check=at_least_zero("all"),
        data="image", neutral=0, resume="same_if_recorded")
    toy_defaults: bool = hparam(True, help="On ring8/grid25, take gan/wgan/wgan_gp's defaults "
                                "from their toy protocol (PacGAN, gan_toy.py); "
                                "--notoy_defaults keeps the image runs' defaults.")
    image_size: int = hparam(None, help="Resize images to this side (default: dataset's; a "
                             "folder's images are centre-cropped to a square first).",
                             check=positive, resume="same")
    channels: int = hparam(None, help="folder: 1 (grey) or 3 (colour); default: 3 when any file "
                           "has colour, else 1.", check=_channels, data="folder")
    data_dir: str = hparam(None, help="tensorflow-datasets data directory.")
    log_every: int = hparam(1, help="Steps between TensorBoard scalar writes.", check=positive)
    print_every: int = hparam(100, help="Steps between plain progress lines when stdout is not "
                              "a terminal (a log file or pipe); on a terminal Keras's progress "
                              "bar is shown instead.", check=positive)
    checkpoint_every: int = hparam(500, help="Steps between checkpoints (one is also written at "
                                   "the end).", check=positive)
    keep_checkpoints: int = hparam(3, help="Latest checkpoints to keep.", check=positive)
    overwrite: bool = hparam(False, help="Replace the run in --workdir instead of resuming it.")
    jit_compile: bool = hparam(None, help="Compile the train step with XLA (default: where it "
                               "measured faster, training/xla.py; off under multi-device "
                               "strategies).")
    steps_per_execution: int = hparam(
        None, help="Training steps per call into TensorFlow: K steps run as one traced loop "
        "(under XLA one compiled program) and TensorBoard still gets every step's scalars. It "
        "must divide --train_steps, --steps_per_epoch and --checkpoint_every, and a resumed "
        "checkpoint's step. Default: %d on the toy mixtures on one device (the largest "
        "divisor of that which divides them all), else 1." % TOY_STEPS_PER_EXECUTION,
        check=positive)
    mixed_precision: bool = hparam(False, help="float16 compute with float32 variables/outputs "
                                   "and loss scaling of both optimizers.")
    strategy: str = hparam("default", help="tf.distribute strategy; multi_worker reads "
                           "TF_CONFIG.", choices=STRATEGIES)
    devices: str = hparam(None, help="mirrored: comma-separated devices (default: all GPUs, "
                          "else all CPUs).")
    tpu: str = hparam(None, help="tpu: the TPU's name or grpc:// address.")
    dataset_used: str = _filled_in(resume="same")  # the dataset actually trained on
    # The Keras backend trained on (`resolve`: this process's): its checkpoints resume on it
    # only (runs written before it was recorded trained on TensorFlow).
    backend: str = _filled_in(resume="same_or_off", neutral="tensorflow")
    dataset_note: str = _filled_in()   # why it differs from `dataset`, if it does
    class_names: list = _filled_in()   # a folder's class sub-folders, in label order

    @property
    def variant(self):
        """The Variant of a resolved config: its row's name, paper, class and note, this
        config's hyperparameters (the row's where the variant does not take one)."""
        row = variant_for(self.model, self.dataset, self.toy_defaults)
        values = {k: getattr(self, k) for k in HYPERPARAMETERS if getattr(self, k) is not None}
        if len(values) + len(_not_taken(self.model)) < len(HYPERPARAMETERS):
            raise ValueError("config.variant needs a resolved config: call resolve(config)")
        return dataclasses.replace(row, **values)

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """The Config that `save` wrote. Earlier versions recorded the row's value of a setting
        the variant does not take; it is read as None, as this version records it."""
        with open(path) as f:
            config = cls(**json.load(f))
        if config.model in VARIANTS:
            config = dataclasses.replace(config, **dict.fromkeys(_not_taken(config.model)))
        return config


SETTINGS = [f for f in dataclasses.fields(Config) if is_setting(f)]
HYPERPARAMETERS = [f.name for f in dataclasses.fields(_Hyperparameters)]

# What validate and resolve know of a folder before it is read: images, classes maybe.
_FOLDER = DATASETS["mnist_5k"]


def _data_kind(dataset):
    """The kinds of data (models/hparams.py DATA_KINDS) that `dataset` is."""
    if dataset.startswith(FOLDER_PREFIX):
        return {"image", "folder"}
    return {"image"} if DATASETS[dataset].is_image else {"toy"}


def _takers(name):
    """The variants whose model class takes the option `name`."""
    return [v for v, row in VARIANTS.items() if name in row.model_class.options]


def _not_taken(model):
    """The `only_some` settings that `model`'s class does not take."""
    options = VARIANTS[model].model_class.options
    return [f.name for f in SETTINGS if f.metadata["only_some"] and f.name not in options]


def _check_setting(field, value, config):
    """Raises ConfigError for a value of one setting that its declaration refuses."""
    m, name = field.metadata, field.name
    choices = choices_of(field) if m["choices"] is not None else None
    if choices is not None and value not in choices and value != m["neutral"]:
        raise ConfigError(f"--{name} must be one of {', '.join(choices)}, got {value!r}")
    problem = m["check"] and m["check"](value)
    if problem:
        raise ConfigError(f"--{name} {problem}")
    if m["data"] and m["data"] not in _data_kind(config.dataset) and value != m["neutral"]:
        # The neutral value is what a resolved run on other data records: it may be resolved
        # again.
        raise ConfigError(f"--{name} applies to {DATA_KINDS[m['data']]}, not {config.dataset}; "
                          f"drop --{name}")
    model_class = VARIANTS[config.model].model_class
    if m["only_some"]:
        if name not in model_class.options:
            raise ConfigError(f"--{name} applies to {' and '.join(_takers(name))} only, not "
                              f"{config.model}; drop --{name}")
        allowed = model_class.options[name]
        if allowed is not None and value not in allowed:
            raise ConfigError(f"--{name} must be one of {', '.join(allowed)} for "
                              f"{config.model}, got {value!r}")


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
    for field in SETTINGS:
        value = getattr(config, field.name)
        if value is not None:
            _check_setting(field, value, config)
    if (VARIANTS[config.model].model_class.uses_labels
            and DATASETS.get(config.dataset, _FOLDER).num_classes == 0):
        raise ConfigError(f"{config.model} needs class labels and {config.dataset} has none; "
                          "pick a labelled dataset")
    if os.path.exists(config.workdir) and not os.path.isdir(config.workdir):
        raise ConfigError(f"--workdir {config.workdir} is a file; pass a directory")


def resolve(config):
    """Returns `config` with every None filled in: the variant's value of each hyperparameter
    it takes, and the run settings that derive from others. Raises ConfigError for settings
    that cannot work together.

    The variant's row is its toy protocol's on a toy mixture (unless `toy_defaults` is off),
    else its image row; the flags given override it field by field."""
    validate(config)
    is_image = DATASETS.get(config.dataset, _FOLDER).is_image
    row = variant_for(config.model, config.dataset, config.toy_defaults)
    arch = ARCHITECTURES[row.arch].for_data(is_image)  # e.g. the image nets' stand-in on points
    row = dataclasses.replace(row, arch=arch, width=row.width or ARCHITECTURES[arch].width)
    overrides = {k: getattr(config, k) for k in HYPERPARAMETERS if getattr(config, k) is not None}
    variant = dataclasses.replace(row, **overrides)
    if "width" not in overrides and variant.arch != row.arch:  # --arch: its nets' own width
        variant = dataclasses.replace(variant, width=ARCHITECTURES[variant.arch].width)
    g_arch = ARCHITECTURES[variant.g_arch or variant.arch].for_data(is_image)
    # "" is "D's": one spelling recorded.
    variant = dataclasses.replace(variant, g_arch="" if g_arch == variant.arch else g_arch)
    if not ARCHITECTURES[g_arch].g_norm:  # no batch norm to keep or remove: record the truth
        if config.g_norm == "batch":
            raise ConfigError(f"--g_norm applies to generators with batch norm "
                              f"({', '.join(archs_with('g_norm'))}); the {g_arch} generator has "
                              "none: drop --g_norm")
        variant = dataclasses.replace(variant, g_norm="none")
    for capability in ("d_norm", "d_dropout"):  # D's trunk options, where the trunk takes them
        asked = getattr(config, capability)
        if (asked not in (None, getattr(row, capability))
                and not getattr(ARCHITECTURES[variant.arch], capability)):
            raise ConfigError(f"--{capability} applies to the "
                              f"{', '.join(archs_with(capability))} discriminators, not "
                              f"{variant.arch} (its reference fixes it); drop --{capability}")
    problem = variant.model_class.settings_problem(variant)
    if problem:
        raise ConfigError(problem)
    not_taken = _not_taken(config.model)
    filled = dataclasses.replace(config, train_examples=config.train_examples or 0,
                                 backend=keras.backend.backend(),  # the one this process runs
                                 **{k: None if k in not_taken else getattr(variant, k)
                                    for k in HYPERPARAMETERS})
    filled = dataclasses.replace(filled, steps_per_execution=_steps_per_execution(filled,
                                                                                  is_image))
    if variant.train_points and variant.train_points < variant.batch_size * variant.d_steps:
        raise ConfigError(f"--train_points={variant.train_points} is fewer than one step's "
                          f"{variant.batch_size * variant.d_steps} points (batch_size x "
                          "d_steps); pass more, or 0 for fresh draws")
    return filled


def _steps_per_execution(config, is_image):
    """The steps per call of a config whose other settings are filled in: as asked (each of
    `_CADENCES` a multiple of it, else ConfigError), or by default the largest divisor of the
    default that divides them all."""
    k = config.steps_per_execution
    cadences = {name: getattr(config, name) for name in _CADENCES}
    if k is None:
        default = (TOY_STEPS_PER_EXECUTION if not is_image and config.strategy == "default"
                   else 1)
        return math.gcd(default, *cadences.values())
    for name, value in cadences.items():
        if value % k:
            raise ConfigError(f"--{name}={value} is not a multiple of --steps_per_execution={k} "
                              "(the weights exist only between calls of that many steps); "
                              f"pass a multiple of {k}, or a --steps_per_execution that "
                              f"divides {value}")
    return k


def resumed_steps_per_execution(asked, resolved, step):
    """The steps per call for a run resumed at `step`: `resolved` if it divides `step`; else
    the largest divisor of it that does when the flag was not given (`asked` None), or
    ConfigError naming the fix."""
    if step % resolved == 0:
        return resolved
    if asked is None:
        return math.gcd(resolved, step)
    raise ConfigError(f"the checkpoint is at step {step}, not a multiple of "
                      f"--steps_per_execution={asked}: resume with a --steps_per_execution that "
                      f"divides {step} (1 always does)")


def resume_mismatch(previous, config):
    """The first (name, recorded value, asked value) of a setting that must be the same to
    resume the run `previous` (a loaded config.json) with `config`, or None."""
    own = [f for f in dataclasses.fields(Config) if f.name not in HYPERPARAMETERS]
    for field in own + list(dataclasses.fields(_Hyperparameters)):  # the model's name first
        rule = field.metadata.get("resume")
        old, new = getattr(previous, field.name), getattr(config, field.name)
        if rule is None or (rule == "same_if_recorded" and old is None):
            continue  # no rule, or recorded only by later versions than `previous`'s
        if rule == "same_or_off" and old is None:
            old = field.metadata["neutral"]  # trained before the setting existed: without it
        if rule == "same_or_row" and old is None and field.name not in _not_taken(previous.model):
            # Trained before the setting existed: with the value the variant's row had.
            old = getattr(variant_for(previous.model, previous.dataset,
                                      previous.toy_defaults is not False), field.name)
            if field.name == "arch":
                old = ARCHITECTURES[old].for_data(DATASETS.get(previous.dataset,
                                                               _FOLDER).is_image)
        if old != new:
            return field.name, old, new
    return None


def train_command(config):
    """The `python train.py` command line of the run whose resolved settings are `config` (a
    loaded config.json): --model, --dataset, --workdir, and every setting whose recorded value
    is not what those three give by default. Rerun, it resumes that run."""
    base = resolve(Config(model=config.model, dataset=config.dataset, workdir=config.workdir,
                          toy_defaults=config.toy_defaults is not False))
    args = ["python", "train.py", f"--model={config.model}", f"--dataset={config.dataset}",
            f"--workdir={config.workdir}"]
    if config.backend not in (None, "tensorflow"):
        args.insert(0, f"KERAS_BACKEND={config.backend}")
    for field in SETTINGS:
        value = getattr(config, field.name)
        if (field.name in ("model", "dataset", "workdir", "overwrite") or value is None
                or value == getattr(base, field.name)):
            continue
        if isinstance(value, bool):
            args.append(f"--{'' if value else 'no'}{field.name}")
        else:
            args.append(f"--{field.name}={value!r}" if isinstance(value, float)
                        else f"--{field.name}={value}")
    return shlex.join(args)


# === The command line ===

def _defaults_of(model, dataset):
    """(the resolved settings of `model` on `dataset` with no flag given, how the help names
    them), or (None, None) when that pair cannot be resolved."""
    try:
        resolved = resolve(Config(model=model, dataset=dataset, workdir=""))
    except (ConfigError, KeyError):
        return None, None
    toy = not DATASETS.get(dataset, _FOLDER).is_image and model in TOY_VARIANTS.get(dataset, {})
    return resolved, f"{model}'s" + (f" on {dataset}" if toy else "")


def define_flags(flag_values, model=None, dataset=None):
    """Defines a flag for every setting of Config on absl's `flag_values`: its type from the
    field's annotation, an enum where it has choices, None as the default of a hyperparameter
    (the variant's value). The help of a hyperparameter gives its value for `model` on
    `dataset` (the command line's, or the flags' own defaults), or says that it does not take
    it."""
    from absl import flags

    defaults, whose = _defaults_of(model or Config.model, dataset or Config.dataset)
    for field in SETTINGS:
        m = field.metadata
        default = m.get("flag_default", field.default)
        help_text = m["help"]
        if field.name in HYPERPARAMETERS:
            value = getattr(defaults, field.name) if defaults else None
            help_text += (" Default: the variant's (docs/variants.md)." if defaults is None else
                          f" Not taken by {defaults.model}." if value is None else
                          f" Default: {value if value != '' else 'none'} ({whose}).")
        if m["choices"] is not None:
            flags.DEFINE_enum(field.name, default, list(choices_of(field)), help_text,
                              flag_values=flag_values)
        else:
            define = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
                      str: flags.DEFINE_string, bool: flags.DEFINE_bool}[field.type]
            define(field.name, default, help_text, flag_values=flag_values)


def config_from_flags(flag_values):
    """The Config of parsed flags; the run directory defaults to runs/<model>."""
    values = {f.name: flag_values[f.name].value for f in SETTINGS}
    values["workdir"] = values["workdir"] or f"runs/{values['model']}"
    return Config(**values)


def markdown_table():
    """docs/options.md's table of every setting (a test keeps the page equal to it)."""
    rows = ["| flag | type | default | applies to | resume | help |", "|---|---|---|---|---|---|"]
    for field in SETTINGS:
        m = field.metadata
        default = m.get("flag_default", field.default)
        default = ("the variant's" if field.name in HYPERPARAMETERS
                   else "-" if default is None else f"`{default}`")
        applies = (", ".join(f"`{v}`" for v in _takers(field.name)) if m["only_some"]
                   else DATA_KINDS[m["data"]] if m["data"] else "all")
        kind = ("one of " + ", ".join(choices_of(field)) if m["choices"] is not None
                else field.type.__name__)
        resume = {"same": "must match", "same_if_recorded": "must match (if recorded)",
                  "same_or_off": "must match (unrecorded: off)",
                  "same_or_row": "must match (unrecorded: the variant's)", None: "-"}[m["resume"]]
        rows.append(f"| `--{field.name}` | {kind} | {default} | {applies} | {resume} | "
                    f"{m['help']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
