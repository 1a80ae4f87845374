"""eval.py as a user meets it: a quiet start and a first line that says what it scores, plain
progress lines in a log, TensorBoard charts that hold a metric's model and real values
together, and errors that say what is true of the directory (missing, not a run, a run
stopped before its export, a run training now) with a fix that works."""
import json
import os
import shlex
import signal
import subprocess
import sys
import threading

import keras
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from training.config import Config
from training.console import devices
from training.loop import Interrupted, train
from training.workdir import WorkdirLock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY = dict(model="gan", dataset="ring8", steps_per_epoch=2, batch_size=8, width=8,
           jit_compile=False)


def run_eval(*args):
    """eval.py with a user's environment: no TF_CPP_MIN_LOG_LEVEL (conftest sets one for the
    tests), stdout and stderr to pipes as in a log. Bytes, so escapes and carriage returns
    show."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, os.path.join(ROOT, "eval.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, timeout=300)


def error_line(result):
    """The one line a refusal prints, after checking it is one line and no traceback."""
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """(workdir, eval.py's result) of a finished 2-step toy run."""
    workdir = str(tmp_path_factory.mktemp("eval") / "gan")
    train(Config(workdir=workdir, train_steps=2, **TOY), verbose=0)
    result = run_eval(f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return workdir, result


def test_first_line_says_what_it_scores_and_tensorflow_start_up_is_hidden(scored):
    workdir, result = scored
    first = result.stdout.decode().splitlines()[0]
    assert first == (f"eval.py: scoring {workdir}/saved_model (step 2) on ring8, {devices()}")
    err = result.stderr.decode()
    for noise in ("cuInit", "oneDNN", "cpu_feature_guard", "I0000", "absl::InitializeLog"):
        assert noise not in err, err[-3000:]


def test_progress_in_a_log_is_plain_lines(scored):
    _, result = scored
    assert b"\x1b[" not in result.stdout and b"\r" not in result.stdout and b"\b" not in \
        result.stdout
    lines = [line for line in result.stdout.decode().splitlines()
             if line.startswith("generated ")]
    # 2,500 toy samples in draws of 500: a line at each fifth.
    assert [line.split(" (")[0] for line in lines] == [
        f"generated {n}/2500 samples" for n in (500, 1000, 1500, 2000, 2500)]


def _scalars(multiplexer, run):
    """{tag: (value, description)} of a run's scalars, read by TensorBoard's own reader."""
    out = {}
    for tag in multiplexer.Runs()[run]["tensors"]:
        meta = multiplexer.SummaryMetadata(run, tag)
        if meta.plugin_data.plugin_name == "scalars":
            (event,) = multiplexer.Tensors(run, tag)
            out[tag] = (float(tf.make_ndarray(event.tensor_proto)), meta.summary_description)
    return out


def test_events_put_the_model_and_real_value_of_a_metric_in_one_chart(scored):
    """Two runs, generated/ and real/, with the same tags: TensorBoard draws each metric's
    two values in one chart; the card's info says what each run is and the protocol."""
    workdir, _ = scored
    out_dir = os.path.join(workdir, "eval")
    multiplexer = EventMultiplexer().AddRunsFromDirectory(out_dir)
    multiplexer.Reload()
    assert set(multiplexer.Runs()) == {"generated", "real"}
    generated, real = _scalars(multiplexer, "generated"), _scalars(multiplexer, "real")
    assert set(generated) == set(real) == {"eval/modes_captured", "eval/high_quality",
                                           "eval/reverse_KL_of_modes"}
    with open(os.path.join(out_dir, "metrics.json")) as f:
        rows = {row["metric"]: row for row in json.load(f)["rows"]}
    row = rows["modes captured"]
    assert generated["eval/modes_captured"][0] == row["model"]
    assert real["eval/modes_captured"][0] == row["real"] == 8
    for tag in generated:
        assert "generated samples" in generated[tag][1] and "real held-out" in real[tag][1]
    assert row["note"] in generated["eval/modes_captured"][1]
    assert row["note"] in real["eval/modes_captured"][1]
    images = multiplexer.Runs()["generated"]["tensors"]
    assert {"eval/samples", "eval/scatter"} <= set(images)
    assert not [tag for tag in multiplexer.Runs()["real"]["tensors"] if tag not in real]


def test_paths_that_are_not_there_or_not_a_run_are_named(tmp_path):
    missing = tmp_path / "missing"
    assert error_line(run_eval(f"--workdir={missing}")) == (
        f"error: --workdir {missing} does not exist; pass the --workdir of a train.py run")
    assert error_line(run_eval(f"--saved_model={missing}")) == (
        f"error: --saved_model {missing} does not exist; pass the saved_model/ directory of a "
        "finished train.py run")
    (tmp_path / "notes").mkdir()
    assert error_line(run_eval(f"--workdir={tmp_path / 'notes'}")) == (
        f"error: {tmp_path / 'notes'} is not a train.py run (it has no config.json and no "
        "saved_model/); pass the --workdir of a run, or --saved_model=DIR --dataset=NAME")


class _CtrlC(keras.callbacks.Callback):
    """Sends this process SIGINT once, after the first step: the run's own handler
    (training/callbacks.py StopOnSignal) checkpoints and stops it, as Ctrl-C does."""

    def on_train_batch_end(self, batch, logs=None):
        if not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def stopped_run(tmp_path):
    """A 4-step run stopped by Ctrl-C: a checkpoint, no export. Returns (workdir, step)."""
    assert threading.current_thread() is threading.main_thread(), "signals need the main thread"
    workdir = str(tmp_path / "gan")
    with pytest.raises(Interrupted):
        train(Config(workdir=workdir, train_steps=4, **TOY), verbose=0, callbacks=[_CtrlC()])
    step = int(tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).split("-")[-1])
    assert 0 < step < 4 and not os.path.exists(os.path.join(workdir, "saved_model"))
    return workdir, step


def test_a_stopped_run_names_its_step_and_the_command_that_finishes_it(tmp_path):
    workdir, step = stopped_run(tmp_path)
    line = error_line(run_eval(f"--workdir={workdir}"))
    head = (f"error: {workdir} has no export yet: the run stopped at step {step} of 4; rerun "
            "its command to finish and export it: ")
    assert line.startswith(head), line
    # Following the advice works: the command resumes there, finishes and exports.
    command = shlex.split(line[len(head):])
    assert command[:2] == ["python", "train.py"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    resumed = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from step {step}" in resumed.stdout
    assert os.path.exists(os.path.join(workdir, "saved_model", "saved_model.pb"))


def test_a_run_training_now_names_its_process(tmp_path):
    """This process holds the run's lock, as a live train.py does: eval.py, another process,
    finds it held and names it; the lock file's owner record is what train.py writes."""
    workdir, step = stopped_run(tmp_path)
    lock = WorkdirLock(workdir)
    try:
        line = error_line(run_eval(f"--workdir={workdir}"))
    finally:
        lock.release()
    assert line.startswith(f"error: {workdir} has no export yet: it is training now (pid "
                           f"{os.getpid()} on host "), line
    assert line.endswith(f"), checkpointed at step {step} of 4; it exports when it ends: run "
                         "eval.py again then"), line
