"""train.py on JAX against real faults, as test_robustness.py makes them on TensorFlow: a run
killed under its lock resumes bit for bit, and its run directory is refused by TensorFlow. (Its
own file: the scheduler of the suite's two workers can then place it apart from the
TensorFlow runs of test_robustness.py.)"""
import glob
import json
import os
import signal
import time

from training.workdir import is_locked

from test_resume import saved_steps
from test_robustness import TOY_RUN, assert_same_checkpoints, run_train


def test_a_jax_run_killed_under_its_lock_resumes_bit_exactly_and_refuses_tensorflow(tmp_path):
    """On JAX (checkpoints `ckpt-N.npz`), test_robustness.py's kill and lock tests in one:
    while the run is live, a second train.py (on TensorFlow, with --overwrite) is refused by its lock and
    removes nothing; killed with SIGKILL mid-run and rerun, it says where it resumes, logs
    plain lines to a file, and ends bit for bit where an uninterrupted run of the same length
    ends, the generator average included. Its directory is then refused, in one line, by a run
    on TensorFlow, which cannot read its checkpoints."""
    args = TOY_RUN + ["--checkpoint_every=10", "--ema=0.99", "--steps_per_epoch=100"]
    killed = tmp_path / "killed"
    process = run_train(killed, *args, "--train_steps=100000", wait=False, backend="jax")
    deadline = time.time() + 300
    try:  # the lock is taken first: the second run is refused while the first starts up
        while not is_locked(str(killed / "run.lock")) and time.time() < deadline:
            time.sleep(0.05)
        second = run_train(killed, *args, "--train_steps=100000", "--overwrite", timeout=180)
        assert process.poll() is None, "the first run must still be live"
        while not [s for s in saved_steps(killed) if s >= 20] and time.time() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr[-3000:]
    assert f"error: --workdir {killed} is in use by another training run (pid {process.pid} " \
        in second.stderr, second.stderr[-3000:]
    step = max(saved_steps(killed))  # --overwrite removed nothing of the live run
    assert step >= 20 and not os.path.exists(killed / "saved_model")
    assert glob.glob(str(killed / "checkpoints" / "ckpt-*.npz"))

    length = [f"--train_steps={step + 20}"]
    reference = run_train(tmp_path / "reference", *args, *length, backend="jax")
    assert reference.returncode == 0, reference.stderr[-3000:]
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        resumed = run_train(killed, *args, *length, "--print_every=10", stdout=out, stderr=err,
                            backend="jax")
    out = (tmp_path / "out.log").read_text()
    assert resumed.returncode == 0, (tmp_path / "err.log").read_text()[-3000:]
    lines = out.split("\n")[1:]  # after "train.py: gan on ring8, ..."
    assert lines[0] == f"resuming from step {step} (checkpoints/ckpt-{step}.npz)", out
    assert [line.split(":")[0] for line in lines[1:3]] == [f"step {step + 10}/{step + 20}",
                                                            f"step {step + 20}/{step + 20}"]
    assert "\r" not in out and "\x1b" not in out
    with open(killed / "config.json") as f:
        recorded = json.load(f)
    assert recorded["steps_per_execution"] == 5 and recorded["backend"] == "jax"
    assert_same_checkpoints(tmp_path / "reference", killed)
    assert saved_steps(killed)[-1] == step + 20 and (killed / "saved_model").is_dir()

    other = run_train(killed, *args, f"--train_steps={step + 30}")  # on TensorFlow
    assert other.returncode == 1 and "Traceback" not in other.stderr, other.stderr[-3000:]
    assert other.stderr.splitlines()[-1] == (
        f"error: {killed} holds a run with backend='jax': its checkpoints are Keras' jax "
        "backend's, which tensorflow cannot read; resume it with KERAS_BACKEND=jax, or use "
        "another --workdir, or pass --overwrite")
    assert saved_steps(killed)[-1] == step + 20
