"""Where a training step's time goes: a TensorFlow profiler trace of a few steps of a real run,
summed by op.

    python -m benchmarks.profile_step [--model=dcgan] [--nojit_compile] [--warmup=30] [--steps=10]

Trains the variant's default run (train.py's loop, in a scratch workdir) and traces steps
`--warmup` to `--warmup` + `--steps` with `tf.profiler.experimental` (host tracer; with XLA, the
compiled program's thunks too: XLA_FLAGS gets --xla_cpu_enable_xprof_traceme). The trace is
read by xprof (`pip install -e ".[bench]"`): its framework op statistics (self time of each
TensorFlow op on the host, summed by op type) and its Chrome trace events (self time of every
event, by name: with XLA, the compiled program's thunks; work done on Eigen's pool threads has
no event of its own and shows as ThreadpoolListener::Region).
Writes results/profile/<model>_<xla|noxla>.json and keeps the raw trace beside it.
"""
import collections
import glob
import json
import os
import sys
import tempfile
import time

# As train.py runs: with oneDNN's kernels, set before TensorFlow loads.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from absl import app, flags

flags.DEFINE_string("model", "dcgan", "Variant whose default run is traced.")
flags.DEFINE_string("dataset", "mnist_5k", "Dataset of the run.")
flags.DEFINE_bool("jit_compile", True, "Trace the XLA-compiled step (else TensorFlow's ops).")
flags.DEFINE_integer("warmup", 30, "Steps before the trace starts.")
flags.DEFINE_integer("steps", 10, "Steps traced.")
flags.DEFINE_integer("steps_per_execution", 1, "train.py's --steps_per_execution K: the trace "
                     "covers whole calls of K steps (--warmup and --steps rounded up to them).")
flags.DEFINE_integer("top", 25, "Ops listed.")
flags.DEFINE_string("out_dir", "results/profile", "Where the summary and raw trace go.")
FLAGS = flags.FLAGS


def innermost_times(events):
    """{name: [total microseconds, calls]} over complete events ("X"), each event's time less
    the time of the events nested in it on the same thread (self time)."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    totals = collections.defaultdict(lambda: [0.0, 0])
    for thread_events in by_thread.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, child time]
        for e in thread_events:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                done, child = stack.pop()
                totals[done["name"]][0] += max(done["dur"] - child, 0.0)
                totals[done["name"]][1] += 1
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
        while stack:
            done, child = stack.pop()
            totals[done["name"]][0] += max(done["dur"] - child, 0.0)
            totals[done["name"]][1] += 1
    return totals


class _Trace:
    """A Keras callback tracing batches [start, start + count)."""

    def __new__(cls, logdir, start, count):
        import keras
        import tensorflow as tf

        class Trace(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                if batch == start:
                    tf.profiler.experimental.start(logdir)

            def on_train_batch_end(self, batch, logs=None):
                if batch == start + count - 1:
                    tf.profiler.experimental.stop()
                    self.model.stop_training = True
        return Trace()


def main(argv):
    del argv
    if FLAGS.jit_compile:  # before XLA starts: show the compiled program's thunks in the trace
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_enable_xprof_traceme=true").strip()
    try:
        from xprof.convert import raw_to_tool_data
    except ImportError:
        sys.exit("error: xprof is not installed; pip install -e \".[bench]\"")
    from training.config import Config
    from training.loop import train

    tag = (f"{FLAGS.model}_{'xla' if FLAGS.jit_compile else 'noxla'}"
           + (f"_k{FLAGS.steps_per_execution}" if FLAGS.steps_per_execution > 1 else ""))
    logdir = os.path.join(FLAGS.out_dir, f"{tag}_trace")
    workdir = tempfile.mkdtemp(prefix="profile-run-")
    started = time.perf_counter()
    k = FLAGS.steps_per_execution
    warmup, calls = -(-FLAGS.warmup // k), -(-FLAGS.steps // k)  # Keras counts calls
    FLAGS.steps = calls * k  # what the per-step figures divide by
    total = (warmup + calls + 1) * k
    train(Config(model=FLAGS.model, dataset=FLAGS.dataset, workdir=workdir, train_steps=total,
                 steps_per_epoch=total, checkpoint_every=total, steps_per_execution=k,
                 jit_compile=FLAGS.jit_compile),
          verbose=0, callbacks=(_Trace(logdir, warmup, calls),))
    xplanes = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")))
    if not xplanes:
        sys.exit(f"error: no trace written under {logdir}")
    stats, _ = raw_to_tool_data.xspace_to_tool_data([xplanes[-1]], "framework_op_stats", {})
    table = json.loads(stats)[0]
    columns = [c["id"] for c in table["cols"]]
    op_rows = [dict(zip(columns, [cell.get("v") for cell in row["c"]])) for row in table["rows"]]
    raw, _ = raw_to_tool_data.xspace_to_tool_data([xplanes[-1]], "trace_viewer", {})
    trace = json.loads(raw)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    totals = innermost_times(events)
    compute = sum(t for t, _ in totals.values())
    rows = sorted(((name, t, n) for name, (t, n) in totals.items()), key=lambda r: -r[1])
    by_type = collections.defaultdict(float)  # xprof's own per-op self time on the host
    for row in op_rows:
        if row["type"] != "IDLE":
            by_type[row["type"]] += row["total_self_time"]
    busy = sum(by_type.values())
    summary = {"model": FLAGS.model, "xla": FLAGS.jit_compile, "steps": FLAGS.steps,
               "steps_per_execution": k,
               "op_types": [{"type": k, "ms_per_step": v / 1e3 / FLAGS.steps, "share": v / busy}
                            for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])
                            ][:FLAGS.top],
               "ops": [{"name": r["operation"], "type": r["type"],
                        "ms_per_step": r["total_self_time"] / 1e3 / FLAGS.steps,
                        "share": r["total_self_time"] / busy}
                       for r in sorted(op_rows, key=lambda r: -r["total_self_time"])
                       if r["type"] != "IDLE"][:FLAGS.top],
               "trace_events": [{"name": name, "ms_per_step": t / 1e3 / FLAGS.steps,
                                 "calls_per_step": n / FLAGS.steps, "share": t / compute}
                                for name, t, n in rows[:FLAGS.top]],
               "wall_seconds": time.perf_counter() - started}
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    with open(os.path.join(FLAGS.out_dir, f"{tag}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{tag}: host self time by op type (xprof framework_op_stats), per traced step:")
    for op in summary["op_types"]:
        print(f"  {op['share']:6.1%}  {op['ms_per_step']:8.2f} ms  {op['type']}")
    print("trace events by self time (with XLA, the compiled program's thunks; the work of "
          "Eigen's pool threads shows as ThreadpoolListener::Region):")
    for op in summary["trace_events"][:12]:
        print(f"  {op['share']:6.1%}  {op['ms_per_step']:8.2f} ms  x{op['calls_per_step']:<7.1f}"
              f"{op['name'][:80]}")


if __name__ == "__main__":
    app.run(main)
