"""Two toy runs side by side, one CPU each, against one run on every CPU: which trains more steps
per second in all.

    python -m benchmarks.toy_throughput [--model=gan] [--dataset=ring8] [--steps=3000]
        [--rounds=2] [--out=results/train_step/toy_throughput.json]

Each round runs, in alternating order, (a) one `python train.py` on all of this process's CPUs
and (b) as many `python train.py` at once as there are CPUs, each pinned to its own
(`os.sched_setaffinity` before TensorFlow starts: TensorFlow and XLA size their thread pools by
the CPUs a process may use). Each is the variant's default toy run (train.py's defaults,
--steps_per_execution included) for `--steps` steps with its own seed and workdir. A run's
step time is read from its TensorBoard events (benchmarks/run_step_times.py: median over the
calls after the first 10%); its wall time is the whole process, start-up and export included.
Throughput is steps per second summed over the processes of a setting, from the median step
times and, as a cross-check, from the wall times.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

flags.DEFINE_string("model", "gan", "Variant (its toy protocol's defaults).")
flags.DEFINE_string("dataset", "ring8", "Toy mixture.")
flags.DEFINE_integer("steps", 3000, "Steps per run.")
flags.DEFINE_integer("rounds", 2, "Rounds of (one run on all CPUs, one run per CPU).")
flags.DEFINE_string("out", None, "Write every measurement here as JSON.")
FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(workdir, seed, cpus):
    """train.py in a process restricted to `cpus` (None: every CPU this one may use)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    command = [sys.executable, os.path.join(ROOT, "train.py"), f"--model={FLAGS.model}",
               f"--dataset={FLAGS.dataset}", f"--train_steps={FLAGS.steps}",
               f"--steps_per_epoch={FLAGS.steps}", f"--checkpoint_every={FLAGS.steps}",
               f"--seed={seed}", f"--workdir={workdir}"]
    pin = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=pin)


def run_setting(cpu_sets, scratch, tag, round_):
    """Runs one process per entry of `cpu_sets` at once; returns their figures."""
    from benchmarks.run_step_times import step_times
    began = time.perf_counter()
    workdirs = [os.path.join(scratch, f"{tag}_r{round_}_{i}") for i in range(len(cpu_sets))]
    processes = [start(w, i, cpus) for i, (w, cpus) in enumerate(zip(workdirs, cpu_sets))]
    runs = []
    for process, workdir, cpus in zip(processes, workdirs, cpu_sets):
        _, stderr = process.communicate()
        wall = time.perf_counter() - began
        if process.returncode:
            sys.exit(f"train.py failed:\n{stderr[-3000:]}")
        with open(os.path.join(workdir, "config.json")) as f:
            k = json.load(f)["steps_per_execution"]
        times = step_times(os.path.join(workdir, "train"), skip=FLAGS.steps // 10,
                           steps_per_call=k)
        runs.append({"cpus": sorted(cpus) if cpus else "all", "steps_per_execution": k,
                     "wall_s": wall, **times})
    return {"setting": tag, "round": round_, "processes": len(runs), "runs": runs,
            "steps_per_s": sum(1e3 / r["median_ms"] for r in runs),
            "steps_per_s_wall": len(runs) * FLAGS.steps / max(r["wall_s"] for r in runs)}


def main(argv):
    del argv
    cpus = sorted(os.sched_getaffinity(0))
    settings = {"one_run_all_cpus": [None], "one_run_per_cpu": [{c} for c in cpus]}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(FLAGS.rounds):
            order = list(settings) if r % 2 == 0 else list(settings)[::-1]
            for tag in order:
                row = run_setting(settings[tag], scratch, tag, r)
                rows.append(row)
                each = ", ".join(f"{x['median_ms']:.1f}" for x in row["runs"])
                print(f"round {r} {tag:18} {len(row['runs'])} process(es): "
                      f"{row['steps_per_s']:7.1f} steps/s by step times "
                      f"(ms per step: {each}), "
                      f"{row['steps_per_s_wall']:7.1f} by wall time", flush=True)
    import numpy as np
    summary = {tag: {"steps_per_s_median": float(np.median([x["steps_per_s"] for x in rows
                                                            if x["setting"] == tag])),
                     "steps_per_s_wall_median": float(np.median(
                         [x["steps_per_s_wall"] for x in rows if x["setting"] == tag]))}
               for tag in settings}
    ratio = (summary["one_run_per_cpu"]["steps_per_s_median"]
             / summary["one_run_all_cpus"]["steps_per_s_median"])
    print(f"one run per CPU / one run on all {len(cpus)}: {ratio:.2f}x the steps per second",
          flush=True)
    if FLAGS.out:
        os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
        with open(FLAGS.out, "w") as f:
            json.dump({"model": FLAGS.model, "dataset": FLAGS.dataset, "steps": FLAGS.steps,
                       "cpus": len(cpus), "rows": rows, "summary": summary,
                       "per_cpu_over_all": ratio, "date": time.strftime("%Y-%m-%d %H:%M")},
                      f, indent=1)


if __name__ == "__main__":
    app.run(main)
