"""Which XLA:CPU backend options make the compiled step faster on this machine?

    python -m benchmarks.xla_flags [--models=dcgan] [--rounds=2] [--steps=100]
        [--dataset=mnist_5k] [--steps_per_execution=1]

Each measurement is one `benchmarks.train_step` child process (per-step timestamps inside one
`fit`, warm-up excluded: median and quartiles) with XLA on and one `XLA_FLAGS` setting from
`CONFIGS`, plus XLA off as a reference. The settings rotate process by process, round by round,
so a drift of the machine hits them alike. Writes results/xla_flags/<model>.json (a toy
dataset or K steps per call: <model>_<dataset>_k<K>.json).
"""
import json
import os
import subprocess
import sys
import time

from absl import app, flags

from benchmarks import child_result

# name: XLA_FLAGS (None: XLA off). The options exist in this TensorFlow's XLA (2.21); XNNPACK
# is on by default, so one setting turns it off.
CONFIGS = {
    "xla default": "",
    "xla + onednn thunks": "--xla_cpu_use_onednn=true",
    "xla + onednn custom calls": "--xla_cpu_experimental_onednn_custom_call=true",
    "xla, no xnnpack": "--xla_cpu_use_xnnpack=false",
    "xla + xnn fusions": "--xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce",
    "no xla": None,
}

flags.DEFINE_list("models", ["dcgan"], "Variants to time (their default image runs).")
flags.DEFINE_integer("rounds", 2, "Rounds over every setting.")
flags.DEFINE_integer("steps", 100, "Timed steps per process.")
flags.DEFINE_string("dataset", "mnist_5k", "Dataset of the runs.")
flags.DEFINE_integer("steps_per_execution", 1, "Steps per call into TensorFlow (25: the toy "
                     "mixtures' train.py default).")
FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(model, xla_flags):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    started = time.time()
    out = subprocess.run([sys.executable, "-m", "benchmarks.train_step",
                          f"--_child={model}:{int(xla_flags is not None)}",
                          f"--steps={FLAGS.steps}", "--warmup=20", f"--dataset={FLAGS.dataset}",
                          f"--steps_per_execution={FLAGS.steps_per_execution}"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    result = child_result(out)
    if result is None:
        return {"failed": out.stderr[-800:]}
    return dict(result, process_seconds=time.time() - started)


def main(argv):
    del argv
    os.makedirs(os.path.join(ROOT, "results", "xla_flags"), exist_ok=True)
    names = list(CONFIGS)
    for model in FLAGS.models:
        defaults = all(FLAGS[f].value == FLAGS[f].default
                       for f in ("dataset", "steps_per_execution"))
        name_of_record = (model if defaults
                          else f"{model}_{FLAGS.dataset}_k{FLAGS.steps_per_execution}")
        results = []
        for r in range(FLAGS.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                got = dict(measure(model, CONFIGS[name]), config=name,
                           xla_flags=CONFIGS[name], round=r)
                results.append(got)
                print(f"{model} round {r} {name:28s} " + (
                    "FAILED " + got["failed"][-300:] if "failed" in got else
                    f"{got['median_ms']:.1f} ms/step (IQR {got['q25_ms']:.1f}-"
                    f"{got['q75_ms']:.1f}; fit {got['fit_ms_per_step']:.1f})"), flush=True)
                with open(os.path.join(ROOT, "results", "xla_flags", f"{name_of_record}.json"),
                          "w") as f:
                    json.dump(results, f, indent=1)


if __name__ == "__main__":
    app.run(main)
