"""Declaring a setting once: a dataclass field whose metadata says everything else derives.

    batch_size: int = hparam(help="Examples per discriminator update.", check=positive,
                             resume="same")

From that one declaration training/config.py derives the `--batch_size` flag (type from the
annotation, `help`, enum `choices`), its check in `validate`, whether `config.json` of an
earlier run must agree for a resume (`resume`), whether it applies only to some variants
(`only_some`: the model classes' `options` say which) or only to some data (`data`), and
docs/options.md's table. Fields of models/variants.py `Variant` declared so are the
hyperparameters a flag can override (None on the command line: the variant's value).
"""
import dataclasses

# Where a setting applies, by the kind of data (`data=`), and how the refusal names it.
DATA_KINDS = {"toy": "the toy mixtures (ring8, grid25)", "image": "image datasets",
              "folder": "--dataset=folder:DIR"}


def hparam(default=dataclasses.MISSING, *, help, check=None, choices=None, resume=None,
           only_some=False, data=None, neutral=None, flag_default=dataclasses.MISSING):
    """A dataclass field that is a setting of the command line.

    help: the flag's help. check: value -> None, or what is wrong ("must be positive, got 0").
    choices: the values allowed (a tuple, or a function returning one: looked up when asked).
    resume: "same": a run directory resumes only with the value its config.json recorded;
        "same_if_recorded": likewise, unless that config.json predates the setting;
        "same_or_off": likewise, a config.json that predates the setting counting as a run
        with it off (`neutral`);
        "same_or_row": likewise, a config.json that predates the setting counting as a run
        with the variant's own value (what every run had before the setting existed).
    only_some: only the variants whose model class lists it in `options` take it.
    data: "toy", "image" or "folder": only that data takes it; `neutral` is the value that
        means "off" (what a resolved run on other data records).
    flag_default: the flag's default when not the field's (None: filled in from others)."""
    metadata = {"help": help, "check": check, "choices": choices, "resume": resume,
                "only_some": only_some, "data": data, "neutral": neutral}
    if flag_default is not dataclasses.MISSING:
        metadata["flag_default"] = flag_default
    return dataclasses.field(default=default, metadata=metadata)


def is_setting(field):
    return "help" in field.metadata


def choices_of(field):
    choices = field.metadata["choices"]
    return tuple(choices()) if callable(choices) else choices


# === Checks: value -> None, or the end of the one-line error after "--name " ===

def positive(value):
    return None if value > 0 else f"must be positive, got {value}"


def at_least_zero(meaning):
    """>= 0, where 0 means `meaning`."""
    def check(value):
        return None if value >= 0 else f"must be >= 0 (0: {meaning}), got {value}"
    return check


def non_negative(value):
    return None if value >= 0 else f"must be >= 0, got {value}"


def unit_interval(value):
    return None if 0 <= value < 1 else f"must be in [0, 1), got {value}"


def categories(value):
    return None if value == 0 or value >= 2 else f"must be 0 (none) or >= 2, got {value}"


def label_target(value):
    return None if 0 < value <= 1 else f"must be in (0, 1], got {value}"
