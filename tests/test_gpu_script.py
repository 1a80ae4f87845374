"""benchmarks/gpu.py, the GPU machine's one call, runs here on CPU where TensorFlow cannot be
imported (the GPU machine has none), in small: every part, every child process."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_gpu_script_runs_every_part_without_tensorflow(tmp_path):
    hidden = tmp_path / "hidden" / "tensorflow"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ImportError(\"No module named 'tensorflow' (hidden by the test)\")\n")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "hidden"), ROOT]))
    # Compiled as on the GPU machine, with XLA's optimizations (conftest.py turns most off for
    # the other JAX processes): the parity compares with figures recorded so, and PacGAN's toy
    # g_grad_norm moves by 1.7% (6.8x its tolerance) when they are off.
    env.pop("JAX_DISABLE_MOST_OPTIMIZATIONS", None)
    out = tmp_path / "gpu.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--parity=pacgan_toy", "--settings=pacgan_toy",
         "--steps=3", "--warmup=2", "--notorch_compile", "--acgan_steps=3",
         "--acgan_samples=100", f"--out={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parity pacgan_toy" in result.stdout and "(pass)" in result.stdout, result.stdout
    record = json.loads(out.read_text())
    assert record["platform"] == "cpu" and record["parity"]["pacgan_toy"]["passed"]
    runners = [(row["runner"], row["steps"]) for row in record["steps"]]
    assert runners == [("keras_jax", 3), ("torch_eager", 3)]
    assert record["acgan"]["steps"] == 3 and 0 <= record["acgan"]["accuracy_pct"] <= 100
    assert len(record["acgan"]["per_class_pct"]) == 10
    check = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 1 and "hidden by the test" in check.stderr


def test_the_parity_check_misses_a_log_or_an_update_moved_by_its_tolerance():
    """The comparison the GPU run makes against the recorded CPU figures: the reference against
    itself passes; one logged value moved by twice its tolerance, or one projection of a
    network's update moved by twice its, fails."""
    from benchmarks import gpu
    with open(gpu.REFERENCE) as f:
        reference = json.load(f)
    assert set(reference["runs"]) == set(gpu.PARITY)
    for setting, run in reference["runs"].items():
        assert len(run["logs"]) == 3 and run["networks"]
        assert gpu.compare(run, run) == {"logs": 0.0, "weights": 0.0}
        moved = json.loads(json.dumps(run))
        value = moved["logs"][2]["g_loss"]
        moved["logs"][2]["g_loss"] = value + 2 * (gpu.LOG_RTOL * (abs(value) + 0.01)
                                                  + gpu.LOG_ATOL)
        assert gpu.compare(moved, run)["logs"] == pytest.approx(2.0)
        moved = json.loads(json.dumps(run))
        norm, projections = moved["networks"]["generator"]
        projections[1] += 2 * gpu.WEIGHT_RTOL * norm
        assert gpu.compare(moved, run)["weights"] == pytest.approx(2.0)
