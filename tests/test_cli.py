"""train.py and eval.py on bad input: non-zero exit and one clear line, no traceback."""
import json
import os
import subprocess
import sys
import time

import pytest

from experiments import curves
from training.config import Config, ConfigError, resolve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(script, *args, cwd=None, log_level="3"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=log_level, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


BAD_FLAGS = [
    (["--model=foo"], "--model=foo"),
    (["--batch_size=0"], "--batch_size must be positive, got 0"),
    (["--train_steps=-5"], "--train_steps must be positive"),
    (["--dataset=imagenet"], "--dataset=imagenet"),
    (["--dataset=mnist_5k", "--image_size=30"], "square images of side 4*2^k or 7*2^k"),
    (["--model=wgan", "--loss=minimax"], "--loss applies to gan and dcgan only"),
    (["--model=acgan", "--dataset=celeb_a"], "acgan needs class labels"),
    (["--model=dcgan", "--gp_weight=10"], "--gp_weight applies to wgan and wgan_gp only, not dcgan"),
    (["--model=infogan", "--clip_value=0.01"], "--clip_value applies to wgan and wgan_gp only, not infogan"),
    (["--dataset=mnist_5k", "--batch_size=6000"], "lower --batch_size"),
    (["--d_lr=0"], "--d_lr must be positive"),
    (["--g_lr=-0.1"], "--g_lr must be positive"),
    (["--strategy=foo"], "--strategy=foo"),
    (["--model=gan", "--dataset=mnist_5k", "--g_norm=batch"], "the mlp generator has none"),
    (["--model=gan", "--dataset=ring8", "--d_norm=batch"], "--d_norm applies to the mlp, dcgan"),
    (["--dataset=mnist_5k", "--g_arch=wgan_gp_toy"], "networks take 2-D points"),
    (["--dataset=mnist_5k", "--arch=pacgan_toy"], "or other nets (--arch, --g_arch)"),
    (["--g_width=-3"], "--g_width must be >= 0 (0: --width), got -3"),
    (["--dataset=ring8", "--train_examples=10"], "--train_examples applies to image datasets, not ring8"),
    (["--dataset=mnist_5k", "--train_examples=9000"], "mnist_5k has 4000 training examples"),
    (["--strategy=multi_worker", "--dataset=mnist_5k"], "needs the TF_CONFIG"),
    # Folders (relative to the test's working directory; `flat` holds 4 PNGs).
    (["--dataset=folder:"], "--dataset=folder: needs a path"),
    (["--dataset=folder:missing"], "missing does not exist; pass --dataset=folder:DIR"),
    (["--model=acgan", "--dataset=folder:flat"], "acgan needs one sub-folder per class"),
    (["--dataset=folder:flat", "--channels=2"], "--channels must be 1 or 3, got 2"),
    # A refusal about the data comes before the run directory exists: the retry it advises runs.
    (["--model=gan", "--dataset=folder:flat"], "has 4; lower --batch_size"),
    # Settings of some variants only, refused elsewhere even at the taking variants' value.
    (["--model=wgan", "--aux_fake_weight=1"], "--aux_fake_weight applies to acgan only, not wgan"),
    (["--model=wgan_gp", "--real_label=0.9"], "--real_label applies to gan and dcgan and infogan and acgan only"),
    (["--model=acgan", "--num_categorical=20"], "--num_categorical applies to infogan only"),
    (["--model=infogan", "--num_categorical=0", "--num_continuous=0"], "infogan needs a latent code"),
    (["--model=infogan", "--num_categorical=1"], "--num_categorical must be 0 (none) or >= 2"),
    (["--model=infogan", "--d_dropout=0.3"], "--d_dropout applies to the mlp, dcgan discriminators"),
    (["--optimizer=sgd"], "--optimizer"),
    (["--model=dcgan", "--noise=cauchy"], "--noise"),
]

# Runs train.py's absl entry point on each argv in one process (importing TensorFlow once per
# case would cost ~5 s each) and reports its exit code and everything it wrote to stderr,
# including the message of sys.exit, which the interpreter would print on the way out.
IN_ONE_PROCESS = r"""
import contextlib, io, json, sys, traceback
from absl import app, flags
import train
out = []
for argv in json.loads(sys.argv[1]):
    flags.FLAGS.unparse_flags()
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            app.run(train.main, argv=["train.py"] + argv)
        except SystemExit as e:
            code = e.code
        except BaseException:
            traceback.print_exc()
            code = "crash"
    text = err.getvalue() + (code + "\n" if isinstance(code, str) else "")
    out.append({"code": code if isinstance(code, int) else 1, "stderr": text})
print(json.dumps(out))
"""


def test_bad_flags_exit_nonzero_with_one_clear_line(tmp_path):
    import numpy as np
    import tensorflow as tf
    (tmp_path / "flat").mkdir()
    for i in range(4):
        (tmp_path / "flat" / f"{i}.png").write_bytes(
            tf.io.encode_png(np.zeros((8, 8, 1), np.uint8)).numpy())
    argvs = [[f"--workdir={tmp_path / f'run{i}'}", *args] for i, (args, _) in enumerate(BAD_FLAGS)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    env.pop("TF_CONFIG", None)
    result = subprocess.run([sys.executable, "-c", IN_ONE_PROCESS, json.dumps(argvs)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for i, ((args, message), outcome) in enumerate(zip(BAD_FLAGS, outcomes)):
        assert outcome["code"] != 0, args
        assert "Traceback" not in outcome["stderr"], outcome["stderr"]
        lines = [l for l in outcome["stderr"].splitlines() if message in l]
        assert len(lines) == 1, (args, outcome["stderr"][-3000:])
        assert not (tmp_path / f"run{i}").exists(), args  # nothing written, nothing to refuse


def test_batch_that_does_not_split_over_replicas_exits_with_one_clear_line(tmp_path):
    # Its own process: --cpu_devices must configure TensorFlow before anything else runs. With
    # the user's own TF_CPP_MIN_LOG_LEVEL=0 TensorFlow's lines show, as asked, and the error
    # is still one line, the last.
    result = run("train.py", f"--workdir={tmp_path / 'run'}", "--strategy=mirrored",
                 "--cpu_devices=2", "--batch_size=7", "--dataset=mnist_5k", cwd=tmp_path,
                 log_level="0")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines()
             if "--batch_size=7 does not split over 2 replicas" in l]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "I0000" in result.stderr  # TensorFlow's own start-up lines: the user's choice
    assert result.stderr.strip().splitlines()[-1] == lines[0]


def test_workdir_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    result = run("train.py", f"--workdir={target}", "--dataset=mnist_5k", cwd=tmp_path)
    assert result.returncode != 0 and "is a file" in result.stderr
    assert target.read_text() == "keep me"


def test_offline_dataset_fails_fast_with_the_fix(tmp_path):
    start = time.time()
    result = run("train.py", f"--workdir={tmp_path / 'run'}", "--dataset=cifar10",
                 f"--data_dir={tmp_path / 'tfds'}", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cifar10 is not prepared" in result.stderr and "--dataset=mnist_5k" in result.stderr
    assert time.time() - start < 60


def test_eval_on_a_directory_that_is_not_a_saved_model(tmp_path):
    result = run("eval.py", f"--saved_model={tmp_path}", "--dataset=mnist_5k")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "is not a SavedModel" in result.stderr


def test_helpfull_lists_every_flag_with_its_help():
    """--helpfull shows every setting, with the help its declaration gives, and --cpu_devices;
    a hyperparameter's help gives the value of the --model on the command line."""
    from models.hparams import choices_of
    from training.config import SETTINGS
    result = run("train.py", "--model=infogan", "--helpfull")
    assert "Traceback" not in result.stderr  # absl's help exits with status 1
    text = " ".join(result.stdout.split())  # absl wraps the help over lines
    assert len(SETTINGS) >= 40
    for field in SETTINGS:
        flag = (f"--[no]{field.name}:" if field.type is bool else f"--{field.name}:")
        assert flag in text, flag
        start = " ".join(field.metadata["help"].split())[:30]
        choices = field.metadata["choices"]
        if choices is not None:  # absl shows an enum's values first
            flag += " <" + "|".join(choices_of(field)) + ">:"
        assert f"{flag} {start}" in text, (flag, start)
    assert "--cpu_devices:" in text
    assert "Default: 10 (infogan's)." in text  # --num_categorical
    assert "Default: 0.001 (infogan's)." in text  # --g_lr
    assert "Not taken by infogan." in text  # --aux_weight, --gp_weight, ...


def test_norm_flags_refuse_nets_they_do_not_apply_to():
    with pytest.raises(ConfigError, match="the mlp generator has none"):
        resolve(Config(model="wgan", dataset="mnist_5k", g_arch="mlp", g_norm="batch"))
    for bad in ("group", ""):
        with pytest.raises(ConfigError, match="--d_norm must be one of"):
            resolve(Config(model="dcgan", dataset="mnist_5k", d_norm=bad))
    # A toy protocol's fixed nets: its own row's value resolves, another is refused.
    config = resolve(Config(model="wgan_gp", dataset="grid25"))
    assert config.d_norm == "none" and config.g_norm == "none"
    with pytest.raises(ConfigError, match="--d_norm applies to"):
        resolve(Config(model="wgan_gp", dataset="grid25", d_norm="layer"))


def test_seeds_must_be_integers_said_in_one_line():
    from experiments.common import ExperimentError
    assert curves.seed_list(["2", "0"], 5, quick=False) == [2, 0]
    assert curves.seed_list(["2", "0"], 5, quick=True) == [5]
    with pytest.raises(ExperimentError, match="--seeds takes integers"):
        curves.seed_list(["x"], 0, quick=False)


def test_the_strategies_of_tensorflow_only_are_refused_on_jax_in_one_line(tmp_path):
    """On JAX, --strategy=mirrored is data parallel (test_distribute.py); multi_worker and
    tpu are tf.distribute's, refused before anything is written."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, KERAS_BACKEND="jax")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--model=gan",
                             "--dataset=ring8", "--strategy=tpu", f"--workdir={tmp_path / 'r'}"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1] == (
        "error: --strategy=tpu runs on TensorFlow only, not on Keras' jax backend (on JAX, "
        "--strategy=mirrored is data parallel); unset KERAS_BACKEND to train on TensorFlow")
    assert not (tmp_path / "r").exists()
