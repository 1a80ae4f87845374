"""Never lose a run to a fault made for real: kill -9 and resume bit-exactly, Ctrl-C, the NaN
guard, one writer per workdir, a real full disk, an unwritable workdir, plain logs in a file.
(Resume itself and the run directories it refuses: test_resume.py.)"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from training import callbacks as callbacks_module
from training.callbacks import RunError
from training.loop import train
from training.workdir import human_bytes

from test_resume import checkpoint_state, saved_steps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY_RUN = ["--model=gan", "--dataset=ring8", "--width=32", "--batch_size=16",
           "--steps_per_epoch=20"]
# The tests of signals and locks run the step without XLA: its compile (about 10 s of each
# process's CPU) tests nothing there. The SIGKILL test keeps the default (XLA) step, whose
# resume it checks bit for bit.
NO_XLA = ["--nojit_compile"]


def run_train(workdir, *args, wait=True, stdout=None, stderr=None, timeout=600,
              backend="tensorflow"):
    """train.py in a subprocess on Keras' `backend`; `stdout`, `stderr`: files to write to
    (else captured)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, KERAS_BACKEND=backend)
    command = [sys.executable, os.path.join(ROOT, "train.py"), f"--workdir={workdir}", *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, stdout=stdout or subprocess.PIPE,
                          stderr=stderr or subprocess.PIPE, text=True, timeout=timeout)


def assert_same_checkpoints(expected_run, got_run):
    """The latest checkpoints of two run directories hold the same variables, bit for bit: G,
    D, both optimizers' slots and the generator average."""
    expected, got = checkpoint_state(expected_run), checkpoint_state(got_run)
    assert set(got) == set(expected) and any("optimizer" in k for k in got)
    assert any(k.startswith("generator_average/") for k in got)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(tmp_path):
    """With the generator average on: it is checkpointed and resumed bit for bit too. The toy
    step's default of several steps per call (here 5, the largest divisor of the default that
    divides every cadence) is the one killed."""
    args = TOY_RUN + ["--train_steps=100", "--checkpoint_every=10", "--ema=0.99"]
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
    assert 21 <= interrupted_at < 100, "the kill must land mid-run"
    assert not os.path.exists(killed / "saved_model")

    resumed = run_train(killed, *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(killed / "config.json") as f:
        recorded = json.load(f)
    assert recorded["steps_per_execution"] == 5 and recorded["backend"] == "tensorflow"
    assert_same_checkpoints(tmp_path / "reference", killed)
    assert len(saved_steps(killed)) == 3  # --keep_checkpoints default


def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    workdir = tmp_path / "run"
    process = run_train(workdir, *TOY_RUN, *NO_XLA, "--train_steps=100000",
                        "--checkpoint_every=100000", wait=False)
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
    assert steps[0] % 5 == 0  # the end of a call: 5 steps each on ring8 here
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


def test_guard_names_the_first_bad_step_of_a_call_of_several():
    guard = callbacks_module.NonFiniteGuard(start_step=40, steps_per_call=4)
    guard.on_train_batch_end(0, {"d_loss": np.ones(4), "gp": np.ones(4)})
    with pytest.raises(RunError, match=r"^step 47: non-finite d_loss=inf, gp=nan;"):
        guard.on_train_batch_end(1, {"d_loss": np.array([1, 1, np.inf, np.nan]),
                                     "gp": np.array([1, 1, np.nan, 1])})


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs) at tmp_path/disk, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                                 capture_output=True, text=True)
    except OSError as e:
        pytest.skip(f"cannot run mount ({e}); a real full disk needs a tmpfs mounted as root")
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); a real full disk "
                    "needs a tmpfs mounted as root")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk, leave):
    """Fills `disk` with a file until `leave` bytes are free; returns the file."""
    filler = disk / "filler"
    with open(filler, "ab") as f:
        f.write(b"\0" * max(shutil.disk_usage(disk).free - leave, 0))
    return filler


def test_full_disk_removes_partial_saves_keeps_earlier_ones_and_the_rerun_resumes(
        make_config, small_disk):
    config = make_config(model="gan", dataset="ring8", train_steps=2, checkpoint_every=2,
                         workdir=str(small_disk / "run"))
    train(config, verbose=0)
    checkpoints, export = small_disk / "run" / "checkpoints", small_disk / "run" / "saved_model"
    weights = export / "variables" / "variables.data-00000-of-00001"
    before, export_bytes = checkpoint_state(config.workdir), weights.read_bytes()
    checkpoint_bytes = sum(os.path.getsize(p) for p in glob.glob(str(checkpoints / "ckpt-2.*")))

    # Half a checkpoint free: the step-4 save fails.
    filler = fill(small_disk, leave=checkpoint_bytes // 2)
    config.train_steps = 4
    with pytest.raises(RunError) as error:
        train(config, verbose=0)
    message = str(error.value)
    assert (f"could not write the step-4 checkpoint in {checkpoints}: no space left on device: "
            in message and f"kB free, it needs about {human_bytes(checkpoint_bytes)};" in message
            and f"its partial files were removed and {checkpoints}/ckpt-2 is intact: free space, "
            "then rerun the same command to resume" in message), message
    assert "{{" not in message and "Op:" not in message and "\n" not in message
    assert sorted(os.listdir(checkpoints)) == ["checkpoint", "ckpt-2.data-00000-of-00001",
                                               "ckpt-2.index"]
    after = checkpoint_state(config.workdir)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)

    # Room for the checkpoint, not for the export: the step-4 export fails.
    os.truncate(filler, os.path.getsize(filler) - 2 * checkpoint_bytes - 40 * 1024)
    with pytest.raises(RunError, match=f"could not export the generator to {export}: no space "
                       "left on device: .* free, it needs about .*; its partial files were "
                       f"removed, the previous export and {checkpoints}/ckpt-4 are intact"):
        train(config, verbose=0)
    assert sorted(os.listdir(small_disk / "run")) == ["checkpoints", "config.json", "run.lock",
                                                      "saved_model", "train"]
    assert weights.read_bytes() == export_bytes
    samples = tf.saved_model.load(str(export)).signatures["sample"](
        num_samples=tf.constant(3), seed=tf.constant(0))["samples"]
    assert samples.shape == (3, 2)

    os.remove(filler)  # space is back: the rerun resumes from step 4 and exports
    train(config, verbose=0)
    assert saved_steps(config.workdir) == [2, 4]
    assert weights.read_bytes() != export_bytes  # the step-4 generator
    assert not glob.glob(str(small_disk / "run" / "**" / "*temp*"), recursive=True)


def test_one_writer_per_workdir_and_plain_log_lines_in_a_file(tmp_path):
    """A second train.py on a live workdir is refused (also with --overwrite, which must not
    remove a live run); once the first is killed with SIGKILL, the next one takes the lock,
    says where it resumes, and logs plain lines to a file."""
    workdir = tmp_path / "run"
    first = run_train(workdir, *TOY_RUN, *NO_XLA, "--train_steps=100000",
                      "--checkpoint_every=20", wait=False)
    deadline = time.time() + 300
    while not saved_steps(workdir) and time.time() < deadline:
        time.sleep(0.05)
    try:  # a refusal comes before any training: a second run that trains is a failure
        second = run_train(workdir, *TOY_RUN, *NO_XLA, "--train_steps=100000", "--overwrite",
                           timeout=180)
        assert first.poll() is None, "the first run must still be live"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr[-3000:]
    assert (f"error: --workdir {workdir} is in use by another training run (pid {first.pid} "
            in second.stderr), second.stderr[-3000:]
    step = max(saved_steps(workdir))  # --overwrite removed nothing of the live run
    assert step >= 20 and (workdir / "config.json").exists()

    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        resumed = run_train(workdir, *TOY_RUN, *NO_XLA, f"--train_steps={step + 20}",
                            "--print_every=10", stdout=out, stderr=err)
    out, err = (tmp_path / "out.log").read_bytes(), (tmp_path / "err.log").read_bytes()
    assert resumed.returncode == 0, err[-3000:]
    lines = out.decode().split("\n")[1:]  # after "train.py: gan on ring8, ..."
    assert lines[0] == f"resuming from step {step} (checkpoints/ckpt-{step})", out
    assert [line.split(":")[0] for line in lines[1:3]] == [f"step {step + 10}/{step + 20}",
                                                            f"step {step + 20}/{step + 20}"]
    assert "g_loss=" in lines[1] and "ms/step" in lines[1]
    for text in (out, err):  # bytes: no progress bar, so no carriage return or escape code
        assert b"\r" not in text and b"\x1b" not in text and b"\b" not in text
    assert saved_steps(workdir)[-1] == step + 20


def test_unwritable_workdir_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_train(blocker / "run", *TOY_RUN, *NO_XLA, "--train_steps=2")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot write to --workdir" in result.stderr
