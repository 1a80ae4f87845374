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
                             define_flags, resolve, resume_mismatch, validate)

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


# A valid value of every setting that only some variants take.
SOME_VARIANTS = {"loss": "minimax", "gp_weight": 1.0, "clip_value": 0.02, "real_label": 0.9,
                 "aux_weight": 0.5, "aux_fake_weight": 1.0, "class_input": "concat",
                 "num_categorical": 20, "num_continuous": 1, "info_weight": 0.5,
                 "info_weight_continuous": 0.1}


def test_every_setting_of_some_variants_is_listed_here():
    assert set(SOME_VARIANTS) == {f.name for f in SETTINGS if f.metadata["only_some"]}


@pytest.mark.parametrize("name, value", SOME_VARIANTS.items())
def test_options_of_some_variants_are_taken_by_exactly_the_classes_that_list_them(name, value,
                                                                                  tmp_path):
    """Refused on every other variant, even at a value a taking variant has (aux_fake_weight=1
    on wgan): the user is told that the flag does nothing there."""
    for model, row in VARIANTS.items():
        config = Config(model=model, dataset="mnist_5k", workdir=str(tmp_path), **{name: value})
        if name in row.model_class.options:
            assert getattr(resolve(config), name) == value
            assert getattr(resolve(config).variant, name) == value  # what the model is built from
        else:
            with pytest.raises(ConfigError, match=f"--{name} applies to .* only, not {model}"):
                validate(config)
            # Resolved, a variant records None for what it does not take, in config.json too.
            assert getattr(resolve(dataclasses.replace(config, **{name: None})), name) is None


def test_the_resolved_config_is_the_models_variant_field_by_field(tmp_path):
    """One object carries the run: every hyperparameter the variant takes is the config's, and
    `config.variant` is what the model class is built from."""
    for model in VARIANTS:
        config = resolve(Config(model=model, dataset="mnist_5k", workdir=str(tmp_path)))
        variant = config.variant
        assert variant.model_class is VARIANTS[model].model_class
        for name in HYPERPARAMETERS:
            if getattr(config, name) is not None:
                assert getattr(variant, name) == getattr(config, name), (model, name)
            else:  # not taken: the row's value, which the class never reads
                assert name not in variant.model_class.options
    with pytest.raises(ValueError, match="resolve"):
        Config(model="acgan", dataset="mnist_5k", workdir="x").variant


def test_the_variant_rows_cannot_be_changed_in_place():
    """Benchmarks, experiments and tests set a variant's fields as a user does, by settings."""
    from models.variants import TOY_VARIANTS
    with pytest.raises(TypeError):
        VARIANTS["acgan"] = VARIANTS["gan"]
    with pytest.raises(TypeError):
        TOY_VARIANTS["ring8"]["gan"] = VARIANTS["gan"]


def test_help_gives_the_models_own_values():
    values = flags.FlagValues()
    define_flags(values, "wgan", "mnist_5k")
    assert "Default: 5e-05 (wgan's)." in values["d_lr"].help
    assert "Default: rmsprop (wgan's)." in values["optimizer"].help
    assert "Not taken by wgan." in values["aux_fake_weight"].help
    values = flags.FlagValues()
    define_flags(values, "wgan_gp", "ring8")
    assert "Default: 0.1 (wgan_gp's on ring8)." in values["gp_weight"].help
    values = flags.FlagValues()
    define_flags(values, "acgan", None)  # the flags' own default dataset
    assert "Default: 0.0 (acgan's)." in values["aux_fake_weight"].help
    assert "Default: multiply (acgan's)." in values["class_input"].help


def _written_by_an_older_version(path, model):
    """config.json of a resolved run as versions before these settings existed wrote it: none
    of them recorded, and the row's value of every setting the variant does not take."""
    config = resolve(Config(model=model, dataset="mnist_5k", workdir=os.path.dirname(path)))
    config.save(path)
    with open(path) as f:
        recorded = json.load(f)
    for name in ("arch", "optimizer", "noise", "aux_weight", "aux_fake_weight", "class_input",
                 "real_label", "d_dropout", "num_categorical", "num_continuous", "info_weight",
                 "info_weight_continuous"):
        del recorded[name]
    recorded.update(loss=VARIANTS[model].loss, gp_weight=0.0, clip_value=0.0)
    with open(path, "w") as f:
        json.dump(recorded, f)
    return config


@pytest.mark.parametrize("model", ["acgan", "infogan", "dcgan"])
def test_an_older_config_json_counts_each_new_setting_as_its_old_value(model, tmp_path):
    path = str(tmp_path / "config.json")
    config = _written_by_an_older_version(path, model)
    previous = Config.load(path)
    assert resume_mismatch(previous, config) is None  # the same run: it resumes
    assert previous.gp_weight is None and previous.clip_value is None  # not taken by the class
    changed = {"acgan": ("class_input", "concat"), "infogan": ("num_categorical", 20),
               "dcgan": ("optimizer", "rmsprop")}[model]
    asked = resolve(dataclasses.replace(config, **dict([changed])))
    assert resume_mismatch(previous, asked) == (changed[0], getattr(config, changed[0]),
                                                changed[1])


def test_a_loss_the_class_does_not_offer_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="--loss must be one of minimax, non_saturating for "
                                          "gan, got 'wasserstein'"):
        validate(Config(model="gan", dataset="mnist_5k", workdir=str(tmp_path),
                        loss="wasserstein"))
