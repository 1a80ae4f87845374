"""Step times of a real training run, read back from its TensorBoard events: the cross-check of
benchmarks.train_step on the run a user makes (checkpoints, sample grids, per-step scalar
writes and all).

    python -m benchmarks.run_step_times --workdir=runs/dcgan [--skip=20]

Every logged step's scalars carry the wall time they were written at (training/callbacks.py
`ScalarLogger`, every `--log_every` steps); the differences of consecutive steps' times, after
the first `--skip` steps of each process (tracing, compiling), give the median and quartiles
per step, and the share of steps slower than twice the median (checkpoints, sample grids);
under --steps_per_execution=K, per call of K steps, divided by K. Differences are taken
within each events file (one per process), so a resumed run's restart is never a step.
"""
import glob
import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

flags.DEFINE_string("workdir", None, "A run directory written by train.py.")
flags.DEFINE_integer("skip", 20, "First steps of each process left out (tracing, compiling).")
flags.DEFINE_string("tag", "g_loss", "A scalar logged at every step.")
FLAGS = flags.FLAGS


def step_times(logdir, tag="g_loss", skip=20, steps_per_call=1):
    """{steps, median_ms, q25_ms, q75_ms, slow_share, total_s} of the steps logged in logdir.

    With `steps_per_call` K > 1 (the run's --steps_per_execution) a call's K steps are written
    together after it: the time of a step is then the time between the writes of consecutive
    calls' last steps (multiples of K) divided by K, one value per call."""
    k = steps_per_call
    ms = []
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        wall = {}  # one file per process: a resumption's restart never counts as a step
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            # The log name, with or without TensorBoard's group before it (loss/g_loss).
            if any(v.tag.rsplit("/", 1)[-1] == tag for v in event.summary.value):
                wall[event.step] = event.wall_time
        steps = np.array(sorted(s for s in wall if s % k == 0), dtype=np.int64)
        times = np.array([wall[s] for s in steps])
        keep = (np.diff(steps) == k) & (steps[1:] > steps[0] + skip) if len(steps) else []
        ms.extend((np.diff(times) * 1e3 / k)[keep])
    ms = np.array(ms)
    if len(ms) == 0:
        raise app.UsageError(f"no consecutive steps with {tag!r} after step {skip} in {logdir}")
    q25, q50, q75 = np.percentile(ms, [25, 50, 75])
    return {"steps": int(len(ms)), "median_ms": float(q50), "q25_ms": float(q25),
            "q75_ms": float(q75), "slow_share": float(np.mean(ms > 2 * q50)),
            "total_s": float(ms.sum() / 1e3)}


def main(argv):
    del argv
    if not FLAGS.workdir:
        raise app.UsageError("pass --workdir=DIR, the run to read")
    with open(os.path.join(FLAGS.workdir, "config.json")) as f:
        k = json.load(f).get("steps_per_execution") or 1  # older runs: one step per call
    print(json.dumps(step_times(os.path.join(FLAGS.workdir, "train"), FLAGS.tag, FLAGS.skip,
                                k)))


if __name__ == "__main__":
    app.run(main)
