"""Never lose a run: kill -9 and resume bit-exactly, Ctrl-C, NaN guard, damaged checkpoints,
refused mismatches, a full disk."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from training import callbacks as callbacks_module
from training.callbacks import RunError
from training.config import ConfigError
from training.loop import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY_RUN = ["--model=gan", "--dataset=ring8", "--width=32", "--batch_size=16",
           "--steps_per_epoch=20"]


def run_train(workdir, *args, wait=True):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    command = [sys.executable, os.path.join(ROOT, "train.py"), f"--workdir={workdir}", *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def checkpoint_state(workdir):
    """{variable name: value} of the latest checkpoint: G, D, both optimizers, step."""
    path = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))}


def saved_steps(workdir):
    return sorted(int(p.split("-")[-1].split(".")[0])
                  for p in glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*.index")))


def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(tmp_path):
    args = TOY_RUN + ["--train_steps=200", "--checkpoint_every=7"]
    reference = run_train(tmp_path / "reference", *args)
    assert reference.returncode == 0, reference.stderr[-3000:]

    killed = tmp_path / "killed"
    process = run_train(killed, *args, wait=False)
    deadline = time.time() + 300
    while not [s for s in saved_steps(killed) if s >= 21] and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    interrupted_at = max(saved_steps(killed))
    assert 21 <= interrupted_at < 200, "the kill must land mid-run"
    assert not os.path.exists(killed / "saved_model")

    resumed = run_train(killed, *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = checkpoint_state(tmp_path / "reference"), checkpoint_state(killed)
    assert set(got) == set(expected) and any("optimizer" in k for k in got)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert len(saved_steps(killed)) == 3  # --keep_checkpoints default


def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    workdir = tmp_path / "run"
    process = run_train(workdir, *TOY_RUN, "--train_steps=100000", "--checkpoint_every=100000",
                        wait=False)
    deadline = time.time() + 300
    while not glob.glob(str(workdir / "train" / "events*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # well into training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "run the same command again to resume" in stderr
    steps = saved_steps(workdir)
    assert len(steps) == 1 and 0 < steps[0] < 100000
    state = checkpoint_state(workdir)
    assert state["step/.ATTRIBUTES/VARIABLE_VALUE"] == steps[0]


def test_nan_stops_training_and_keeps_last_good_checkpoint_and_export(make_config):
    config = make_config(model="gan", train_steps=4, steps_per_epoch=2, checkpoint_every=2)
    train(config, verbose=0)
    export = os.path.join(config.workdir, "saved_model", "saved_model.pb")
    export_bytes = open(export, "rb").read()
    before = checkpoint_state(config.workdir)

    config.train_steps = 50
    config.d_lr = config.g_lr = 1e30  # diverges within a few steps
    with pytest.raises(RunError, match=r"step \d+: non-finite .*(loss|adv|norm|real|fake)"):
        train(config, verbose=0)
    assert open(export, "rb").read() == export_bytes
    after = checkpoint_state(config.workdir)
    for name, value in after.items():
        if value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), name
    assert max(saved_steps(config.workdir)) >= 4
    assert before["step/.ATTRIBUTES/VARIABLE_VALUE"] == 4


def test_guard_names_the_step_and_the_loss_part():
    guard = callbacks_module.NonFiniteGuard(start_step=41)
    guard.on_train_batch_end(0, {"d_loss": 1.0, "gp": 2.0})
    with pytest.raises(RunError, match=r"step 43: non-finite gp=nan"):
        guard.on_train_batch_end(1, {"d_loss": 1.0, "gp": float("nan")})


def test_mismatching_resume_is_refused_unless_overwrite(make_config):
    config = make_config(model="gan", dataset="ring8", train_steps=2)
    train(config, verbose=0)
    for change in ({"latent_dim": 7}, {"model": "wgan"}, {"dataset": "grid25"}):
        other = make_config(model=change.get("model", "gan"),
                            dataset=change.get("dataset", "ring8"), train_steps=2,
                            latent_dim=change.get("latent_dim"), workdir=config.workdir)
        with pytest.raises(ConfigError, match="holds a run with .*--overwrite"):
            train(other, verbose=0)
    assert saved_steps(config.workdir) == [2]
    other = make_config(model="gan", dataset="ring8", train_steps=2, latent_dim=7,
                        workdir=config.workdir, overwrite=True)
    train(other, verbose=0)
    shapes = [v.shape for v in checkpoint_state(config.workdir).values()]
    assert (7, 8) in shapes  # the new run's G: latent 7 -> 8 units


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_is_reported_with_the_fix(make_config, damage):
    config = make_config(model="gan", dataset="ring8", train_steps=2)
    train(config, verbose=0)
    data_file = glob.glob(os.path.join(config.workdir, "checkpoints", "ckpt-2.data*"))[0]
    size = os.path.getsize(data_file)
    with open(data_file, "r+b") as f:
        if damage == "truncate":
            f.truncate(size // 2)
        else:
            f.write(b"\xff" * size)
    config.train_steps = 4
    with pytest.raises(RunError, match="cannot restore .*ckpt-2.*--overwrite"):
        train(config, verbose=0)
    assert os.path.getsize(data_file) == (size // 2 if damage == "truncate" else size)


def test_full_disk_during_a_save_stops_cleanly_with_last_checkpoint_intact(make_config,
                                                                           monkeypatch):
    config = make_config(model="gan", dataset="ring8", train_steps=2, checkpoint_every=2)
    train(config, verbose=0)
    before = checkpoint_state(config.workdir)

    def no_space(self, checkpoint_number=None, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", no_space)
    config.train_steps = 6
    with pytest.raises(RunError, match="could not write the step-4 checkpoint .*No space left "
                                       ".*ckpt-2 is intact"):
        train(config, verbose=0)
    monkeypatch.undo()
    after = checkpoint_state(config.workdir)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])
    train(config, verbose=0)  # space is back: resumes from step 2
    assert saved_steps(config.workdir)[-1] == 6


def test_unwritable_workdir_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_train(blocker / "run", *TOY_RUN, "--train_steps=2")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot write to --workdir" in result.stderr
