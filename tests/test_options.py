"""Every setting is declared once (training/config.py, models/variants.py `Variant`): the flags,
their checks, config.json and the resume identity all derive from that declaration."""
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from absl import flags

from models.hparams import choices_of
from models.variants import VARIANTS
from training.config import (HYPERPARAMETERS, SETTINGS, Config, ConfigError, config_from_flags,
                             define_flags, validate)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _other_value(field):
    """A valid value of `field` that is not its flag's default."""
    default = field.metadata.get("flag_default", field.default)
    if field.metadata["choices"] is not None:
        return next(c for c in choices_of(field) if c != default)
    return {int: 7, float: 0.25, str: "elsewhere", bool: not default}[field.type]


def _parsed(*argv):
    values = flags.FlagValues()
    define_flags(values)
    values(["train.py", *argv])
    return values


@pytest.mark.parametrize("field", SETTINGS, ids=lambda f: f.name)
def test_every_setting_is_a_flag_whose_value_reaches_the_config(field):
    value = _other_value(field)
    arg = (f"--{field.name}" if value is True else f"--no{field.name}" if value is False
           else f"--{field.name}={value}")
    config = config_from_flags(_parsed(arg))
    assert getattr(config, field.name) == value
    # Every other setting keeps its default: the variant's (None) for hyperparameters.
    for other in SETTINGS:
        if other is not field and other.name != "workdir":
            assert getattr(config, other.name) == other.metadata.get("flag_default", other.default)
    assert field.metadata["help"], field.name


def test_train_py_defines_exactly_the_settings_plus_the_process_flag():
    # In a process of its own: importing train defines its flags on absl's global FLAGS.
    code = ("import json, train; f = train.FLAGS; print(json.dumps(sorted(n for n in f if "
            "f.find_module_defining_flag(n) in ('train', 'training.config'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    own = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert own == {f.name for f in SETTINGS} | {"cpu_devices"}


def test_hyperparameter_flags_are_the_variant_fields_declared_as_settings():
    declared = {f.name for f in dataclasses.fields(VARIANTS["gan"]) if "help" in f.metadata}
    assert set(HYPERPARAMETERS) == declared
    assert {f.name for f in dataclasses.fields(Config)} >= declared
    assert config_from_flags(_parsed()).batch_size is None  # None: the variant's


def test_workdir_defaults_to_runs_of_the_model():
    assert config_from_flags(_parsed("--model=wgan")).workdir == "runs/wgan"
    assert config_from_flags(_parsed("--workdir=here")).workdir == "here"


@pytest.mark.parametrize("name, value", [("loss", "minimax"), ("gp_weight", 1.0),
                                         ("clip_value", 0.02)])
def test_options_of_some_variants_are_taken_by_exactly_the_classes_that_list_them(name, value,
                                                                                  tmp_path):
    for model, row in VARIANTS.items():
        config = Config(model=model, dataset="mnist_5k", workdir=str(tmp_path), **{name: value})
        if name in row.model_class.options or getattr(row, name) == value:
            validate(config)
        else:
            with pytest.raises(ConfigError, match=f"--{name} applies to .* only, not {model}"):
                validate(config)


def test_a_loss_the_class_does_not_offer_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="--loss must be one of minimax, non_saturating for "
                                          "gan, got 'wasserstein'"):
        validate(Config(model="gan", dataset="mnist_5k", workdir=str(tmp_path),
                        loss="wasserstein"))
