"""What a user sees in the terminal: a quiet start, one line saying what runs, a progress line
that fits, and the next commands at the end."""
import io
import os
import subprocess
import sys

from training.callbacks import ProgressLines
from training.console import _replaying_all_but_noise, flag_value, is_start_up_noise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What TensorFlow 2.21 printed on import and device listing on a CPU machine (copied from a run).
START_UP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796532828.604229    2350 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796532828.604660    2350 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796532828.678141    2350 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796532833.852372    2350 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1796533377.042311   12442 util.cc:131] oneDNN supports DT_INT32 only on platforms with AVX-512. Falling back to the default Eigen-based implementation if present.
""".splitlines()


def test_start_up_lines_are_noise_and_other_errors_are_not():
    assert all(is_start_up_noise(line, no_driver=True) for line in START_UP)
    # With a GPU driver present, a failed cuInit is a real problem: it shows.
    assert not is_start_up_noise(START_UP[5], no_driver=False)
    assert not is_start_up_noise("E0000 00:00:1796533377.042311   12442 op_kernel.cc:1840] "
                                 "OP_REQUIRES failed at save_restore_v2_ops.cc:214", True)
    assert not is_start_up_noise("Traceback (most recent call last):", True)


def test_what_is_written_to_file_descriptor_2_is_replayed_unless_noise(capfd):
    with _replaying_all_but_noise():
        os.write(2, (START_UP[2] + "\n").encode())  # as TensorFlow's C++ writes: not Python's
        os.write(2, b"E0000 00:00:1.0   1 file.cc:1] a real failure\n")
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a real failure" in err and "a Python warning" in err
    assert "cuda drivers" not in err


def test_flag_value_reads_both_spellings():
    assert flag_value(["train.py", "--model=wgan", "--dataset", "ring8"], "model") == "wgan"
    assert flag_value(["train.py", "--model=wgan", "--dataset", "ring8"], "dataset") == "ring8"
    assert flag_value(["train.py"], "model") is None


def test_the_terminal_progress_line_holds_the_two_losses_and_fits_80_columns():
    stream = io.StringIO()
    progress = ProgressLines(0, 1500, 100, terminal=True, stream=stream)
    logs = {name: 1.23456 for name in ("d_adv", "d_aux_fake", "d_aux_real", "d_fake",
                                       "d_grad_norm", "d_loss", "d_real", "g_adv", "g_aux",
                                       "g_grad_norm", "g_loss")}
    for batch in range(1500):
        progress.on_train_batch_end(batch, logs)
    progress.on_train_end()
    drawn = stream.getvalue().split("\r")[1:]
    assert drawn[-1].startswith("step 1500/1500 (100%)  d_loss 1.235  g_loss 1.235")
    for line in drawn:
        text = line.replace("\x1b[K", "").rstrip("\n")
        assert len(text) < 80, text
        assert "d_adv" not in text and "grad_norm" not in text  # those go to TensorBoard
    assert "ms/step" in drawn[-1] and "left" in drawn[-1]


def test_train_and_sample_start_quiet_say_what_they_run_and_train_ends_with_next_commands(
        tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--model=gan", "--dataset=ring8",
         f"--workdir={workdir}", "--train_steps=2", "--steps_per_epoch=2", "--batch_size=8",
         "--width=8", "--nojit_compile"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.strip() == "", result.stderr  # none of TensorFlow's start-up lines
    lines = result.stdout.splitlines()
    assert lines[0] == (f"train.py: gan on ring8, CPU only ({len(os.sched_getaffinity(0))} "
                        f"cores); run directory {workdir}")
    assert f"tensorboard --logdir {workdir}" in result.stdout
    assert f"python sample.py --saved_model={workdir}/saved_model" in result.stdout
    assert f"python eval.py --workdir={workdir}" in result.stdout
    # The next command, as printed: quiet too, and its first line says what it draws.
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "sample.py"), f"--saved_model={workdir}/saved_model",
         f"--out={workdir}/samples.png", "--num=16"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr[-3000:]
    assert result.stdout.splitlines()[0] == (f"sample.py: 16 samples from {workdir}/saved_model, "
                                             f"CPU only ({len(os.sched_getaffinity(0))} cores)")


def test_a_refusal_is_the_only_line_on_stderr(tmp_path):
    """No library warning beside the one-line error: here tensorflow-datasets' on a dataset
    folder it cannot use (an earlier download that never finished), which the fallback note on
    stdout already says in plain words."""
    (tmp_path / "tfds" / "mnist" / "3.0.1").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--dataset=mnist",
                             f"--data_dir={tmp_path / 'tfds'}", "--batch_size=6000",
                             f"--workdir={tmp_path / 'run'}"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: a step takes 6000 images (--batch_size x --d_steps) and mnist_5k has 4000; "
        "lower --batch_size"], result.stderr[-3000:]
    assert "training on mnist_5k" in result.stdout
    assert not (tmp_path / "run").exists()
