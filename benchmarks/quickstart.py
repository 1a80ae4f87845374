"""The README's first command as a new user runs it, timed and scored.

    python -m benchmarks.quickstart [--seed=N] [--workdir=runs/quickstart_acgan] [--out=FILE]
    python -m benchmarks.quickstart --ema=0.999 [--augment=POLICY] --seed=N   # the same, with them
    python -m benchmarks.quickstart --backend=jax --seed=N     # KERAS_BACKEND=jax python train.py

Runs `python train.py --model=acgan` with default flags (its own process, a fresh --workdir, so
the wall time includes start-up, data loading, XLA compiling and the export: what a user waits
for), then `python eval.py` on the run (10,000 samples, the independent classifier), and writes
the wall time, the class accuracy overall and per digit, and the goal (docs/results.md: >= 95%
in under 10 minutes on the 2-core CPU) to one JSON file.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_string("workdir", "runs/quickstart_acgan", "Run directory (replaced).")
flags.DEFINE_string("out", None, "Where the JSON goes (default: results/quickstart/"
                    "<onednn|eigen_xla>_seed<N>.json, by the kernels this process runs).")
flags.DEFINE_integer("seed", 0, "The run's --seed (0: the command as the README gives it).")
flags.DEFINE_float("ema", 0.0, "The run's --ema (0: off, as the README's command).")
flags.DEFINE_string("augment", "", "The run's --augment (empty: off, as the README's command).")
flags.DEFINE_enum("backend", "tensorflow", ["tensorflow", "jax", "torch"],
                  "KERAS_BACKEND of the training run (eval.py runs on TensorFlow).")
FLAGS = flags.FLAGS

GOAL_ACCURACY, GOAL_SECONDS = 95.0, 600.0


def main(argv):
    del argv
    if os.path.exists(FLAGS.workdir):
        shutil.rmtree(FLAGS.workdir)
    command = [sys.executable, "train.py", "--model=acgan", f"--workdir={FLAGS.workdir}"]
    seed = [f"--seed={FLAGS.seed}"] if FLAGS.seed else []
    seed += ([f"--ema={FLAGS.ema:g}"] if FLAGS.ema else []) + (
        [f"--augment={FLAGS.augment}"] if FLAGS.augment else [])
    env = dict(os.environ, KERAS_BACKEND=FLAGS.backend)
    start = time.perf_counter()
    subprocess.run(command + seed, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    train_seconds = time.perf_counter() - start
    subprocess.run([sys.executable, "eval.py", f"--workdir={FLAGS.workdir}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, KERAS_BACKEND="tensorflow"))
    with open(os.path.join(FLAGS.workdir, "eval", "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(FLAGS.workdir, "config.json")) as f:
        config = json.load(f)
    row = next(r for r in metrics["rows"] if r["metric"] == "AC-GAN accuracy %")
    per_class = metrics["details"]["acgan_accuracy_per_class"]["model"]
    prefix = [] if FLAGS.backend == "tensorflow" else [f"KERAS_BACKEND={FLAGS.backend}"]
    result = {"command": " ".join(prefix + ["python"] + command[1:2] + ["--model=acgan"] + seed),
              "backend": FLAGS.backend,
              "onednn_kernels": (os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "1"
                                 if FLAGS.backend == "tensorflow" else None),
              "train_steps": config["train_steps"], "data": config["dataset_used"],
              "wall_seconds": round(train_seconds, 1),
              "accuracy_pct": round(row["model"], 2),
              "per_class_pct": [round(100 * a, 1) for a in per_class],
              "classifier_on_real_pct": round(row["real"], 2),
              "goal": {"accuracy_pct": GOAL_ACCURACY, "wall_seconds": GOAL_SECONDS},
              "reached": row["model"] >= GOAL_ACCURACY and train_seconds < GOAL_SECONDS,
              "machine": f"{len(os.sched_getaffinity(0))} of {os.cpu_count()} CPUs"}
    kernels = ("onednn" if result["onednn_kernels"] else "eigen_xla"
               ) if FLAGS.backend == "tensorflow" else FLAGS.backend
    setting = (f"_ema{FLAGS.ema:g}" if FLAGS.ema else "") + (
        f"_augment_{FLAGS.augment.replace(',', '+')}" if FLAGS.augment else "")
    out = FLAGS.out or f"results/quickstart/{kernels}{setting}_seed{FLAGS.seed}.json"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    app.run(main)
