"""How long one training step takes, measured inside one long `fit`, XLA off and on.

    python -m benchmarks.train_step [--models=dcgan,acgan] [--steps=150] [--pairs=2]
    python -m benchmarks.train_step --models=dcgan --whole_run=100   # + train.py N vs 2N steps

Each measurement is a fresh process that builds the variant's default run (paper batch size and
networks; `--dataset`, mnist or mnist_5k offline, or a toy mixture) and fits `--warmup` +
`--steps` steps in ONE `fit` call, with a callback that waits for each step's logs and takes a
timestamp. The step time is the difference of consecutive timestamps after the warm-up: the
median and the interquartile range over `--steps` steps are reported, and the fit's own wall time
over the timed steps as a cross-check. XLA off and on alternate process by process (off, on, on,
off, ...) for `--pairs` pairs, so a drift of the machine hits both alike; the speed-up is the
median of the pairs' ratios.

`--torch` also times the PyTorch peer of the same networks (benchmarks/torch_peer.py; gan, dcgan,
wgan and wgan_gp, whose D has no extra head), in its own process, within each pair's rotation.

`--whole_run=N` also times `python train.py` for N and 2N steps (XLA off and on, interleaved):
(T(2N) - T(N)) / N is the step time as a user sees it, start-up, tracing and export excluded.

Also per variant: model FLOPs per step (TensorFlow's per-op counts on the traced train_step, of
the ops that run: benchmarks/flops.py), the fraction of this machine's measured float32 matmul
peak (MFU; the PyTorch peer's on the same work), peak memory, and the time
from the fit's start to the first step's logs ("1st s": tracing, compiling and one step).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from benchmarks import run_module, summarize
from benchmarks.flops import step_flops

flags.DEFINE_string("models", "gan,dcgan,wgan,wgan_gp,infogan,acgan", "Variants to time.")
flags.DEFINE_string("dataset", "mnist", "Dataset (mnist falls back to mnist_5k offline).")
flags.DEFINE_integer("batch_size", None, "Batch size (default: the variant's).")
flags.DEFINE_integer("steps", 150, "Timed steps per process (after the warm-up).")
flags.DEFINE_integer("warmup", 20, "Steps not timed: tracing, compiling, caches.")
flags.DEFINE_integer("pairs", 2, "XLA off/on process pairs per variant.")
flags.DEFINE_integer("whole_run", 0, "If > 0: also time train.py for N and 2N steps.")
flags.DEFINE_bool("mixed_precision", False, "Time the mixed-precision step.")
flags.DEFINE_string("augment", "", "Time the step with this DiffAugment policy (train.py's "
                    "--augment; empty: none).")
flags.DEFINE_integer("steps_per_execution", 1,
                     "Steps per call into TensorFlow (train.py's --steps_per_execution: one "
                     "traced loop of K steps); > 1 times each call and divides by it.")
flags.DEFINE_enum("scalars", "none", ["none", "traced", "eager"],
                  "Also write the step's scalars to TensorBoard every step, as train.py does "
                  "(traced: its ScalarLogger; eager: one eager tf.summary.scalar per value, as "
                  "it wrote them before), and time the step with the writes.")
flags.DEFINE_bool("torch", False, "Also time the PyTorch peer of the same networks.")
flags.DEFINE_bool("onednn", True, "TensorFlow's oneDNN kernels (TF_ENABLE_ONEDNN_OPTS), on "
                  "as train.py runs them; --noonednn: TensorFlow's own.")
flags.DEFINE_string("out", None, "Write every measurement here as JSON.")
flags.DEFINE_string("_child", None, "Internal: run one measurement and print JSON.")
FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def matmul_peak_flops(n=2048, repeats=20):
    """Measured float32 matmul FLOP/s of the default device (the MFU denominator)."""
    import tensorflow as tf
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    step = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=True)
    step(a, b).numpy()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = step(a, b)
        out.numpy()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - start))
    return best


def measure(model, jit):
    """One process's measurement: per-step timestamps inside one fit."""
    import resource

    import keras
    import numpy as np
    import tensorflow as tf
    from data.datasets import load, make_train_dataset
    from training.callbacks import ScalarLogger
    from training.config import Config, resolve
    from training.loop import build_gan, chunk_steps, split_for_d_steps
    from training.xla import onednn_enabled

    class EagerScalarLogger(keras.callbacks.Callback):
        """The baseline of --scalars: every value written by its own eager op."""

        def __init__(self, writer):
            super().__init__()
            self.writer, self.step = writer, 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            with self.writer.as_default(step=self.step):
                for name, value in (logs or {}).items():
                    tf.summary.scalar(name, np.asarray(value).reshape(-1)[0])

    config = resolve(Config(model=model, dataset=FLAGS.dataset,
                            batch_size=FLAGS.batch_size,
                            mixed_precision=FLAGS.mixed_precision,
                            augment=FLAGS.augment))
    variant = config.variant
    data = load(config.dataset)
    shape = data.spec.shape
    k = FLAGS.steps_per_execution
    gan = build_gan(config, shape, data.spec.num_classes, jit_compile=jit,
                    steps_per_execution=k)
    dataset = split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps, 0,
                                                   data_scale=variant.data_scale,
                                                   train_points=variant.train_points),
                                config.batch_size, variant.d_steps)
    flops = step_flops(gan, *dataset.element_spec)  # one step's
    dataset = chunk_steps(dataset, k)

    from benchmarks.clock import StepClock
    clock = StepClock()  # per call into TensorFlow: k steps
    warmup, steps = -(-FLAGS.warmup // k), -(-FLAGS.steps // k)   # in calls of k steps
    with tempfile.TemporaryDirectory() as logdir:
        writer = tf.summary.create_file_writer(logdir)
        loggers = {"none": [], "traced": [ScalarLogger(writer, 0, steps_per_call=k)],
                   "eager": [EagerScalarLogger(writer)]}[FLAGS.scalars]
        gan.fit(dataset, steps_per_epoch=warmup + steps, epochs=1, verbose=0,
                shuffle=False, callbacks=loggers + [clock])  # the clock after the writes
        writer.close()
    if len(clock.times) != warmup + steps:
        sys.exit(f"expected {warmup + steps} calls of {k} steps, got {len(clock.times)}")
    timed = np.diff(clock.times[warmup - 1:]) / k
    gpus = tf.config.list_logical_devices("GPU")
    memory = (tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpus
              else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"model": model, "xla": jit, "onednn": onednn_enabled(), "scalars": FLAGS.scalars,
            "batch": config.batch_size, "d_steps": variant.d_steps,
            "dataset": data.spec.name, "steps": len(timed) * k, "steps_per_execution": k,
            **summarize(timed),
            # Every timed step, to see the distribution the median and quartiles summarise.
            "step_ms": [round(float(t) * 1e3, 2) for t in timed],
            # From fit's start to the first step's logs: tracing, compiling and one step.
            "first_step_s": float(clock.times[0] - clock.begin),
            "fit_ms_per_step": float((clock.times[-1] - clock.times[warmup - 1])
                                     / (len(timed) * k) * 1e3),
            "peak_memory_mb": memory / 2 ** 20, "gflops_per_step": flops["executed"] / 1e9,
            "gflops_traced": flops["traced"] / 1e9,
            "device": "GPU" if gpus else "CPU", "peak_gflops": matmul_peak_flops() / 1e9,
            "parameters": {name: int(sum(np.prod(w.shape) for w in net.trainable_weights))
                           for name, net in (("generator", gan.generator),
                                             ("discriminator", gan.discriminator))}}


def run_child(model, jit):
    args = ["benchmarks.train_step", f"--_child={model}:{int(jit)}", f"--steps={FLAGS.steps}", f"--warmup={FLAGS.warmup}", f"--dataset={FLAGS.dataset}",
            f"--mixed_precision={FLAGS.mixed_precision}", f"--augment={FLAGS.augment}",
            f"--steps_per_execution={FLAGS.steps_per_execution}", f"--scalars={FLAGS.scalars}"]
    if FLAGS.batch_size:
        args.append(f"--batch_size={FLAGS.batch_size}")
    return run_module(args, {"TF_CPP_MIN_LOG_LEVEL": "3",
                             "TF_ENABLE_ONEDNN_OPTS": str(int(FLAGS.onednn))},
                      f"benchmark of {model}")


def whole_run_seconds(model, jit, steps):
    """Wall time of `python train.py` for `steps` steps, in a fresh workdir."""
    with tempfile.TemporaryDirectory() as workdir:
        args = [sys.executable, "train.py", f"--model={model}", f"--dataset={FLAGS.dataset}",
                f"--workdir={workdir}", f"--train_steps={steps}", f"--steps_per_epoch={steps}",
                f"--jit_compile={jit}"]
        if FLAGS.batch_size:
            args.append(f"--batch_size={FLAGS.batch_size}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                   TF_ENABLE_ONEDNN_OPTS=str(int(FLAGS.onednn)))
        start = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - start
    if out.returncode:
        sys.exit(f"train.py {' '.join(args[2:])} failed:\n{out.stderr[-3000:]}")
    return seconds


def torch_settings(model):
    """The variant's default run, as the PyTorch peer takes it (None: no peer for it)."""
    from data.datasets import DATASETS
    from training.config import Config, resolve
    config = resolve(Config(model=model, dataset=FLAGS.dataset, batch_size=FLAGS.batch_size))
    v = config.variant
    spec = DATASETS["mnist_5k" if FLAGS.dataset == "mnist" else FLAGS.dataset]
    if v.aux_weight or v.num_categorical or v.num_continuous:
        return None
    if spec.is_image and (v.arch == "dcgan" and spec.shape != (28, 28, 1)):
        return None
    if v.arch not in ("mlp", "dcgan", "wgan_gp_toy", "pacgan_toy"):
        return None
    return {"arch": v.arch, "data_shape": list(spec.shape),
            "input_dim": v.latent_dim, "width": config.width, "d_norm": v.d_norm,
            "g_norm": v.g_norm,
            "batch": config.batch_size, "d_steps": v.d_steps, "loss": v.loss,
            "optimizer": v.optimizer, "d_lr": v.d_lr, "g_lr": v.g_lr, "beta_1": v.beta_1,
            "beta_2": v.beta_2, "gp_weight": v.gp_weight, "clip_value": v.clip_value}


def run_torch(settings):
    return run_module(["benchmarks.torch_peer", json.dumps(settings), str(FLAGS.steps),
                       str(FLAGS.warmup)], failure='the PyTorch peer (pip install -e ".[bench]")')


def main(argv):
    del argv
    if FLAGS._child:
        model, jit = FLAGS._child.split(":")
        print("RESULT " + json.dumps(measure(model, jit == "1")), flush=True)
        return
    import numpy as np
    rows, summary = [], []
    print(f"{'model':8} {'xla':>4} {'median ms':>10} {'IQR ms':>14} {'fit ms':>8} "
          f"{'GFLOP/st':>9} {'MFU':>6} {'peak MB':>8} {'1st s':>6}", flush=True)
    for model in FLAGS.models.split(","):
        pairs, peer = [], torch_settings(model) if FLAGS.torch else None
        torch_rows = []
        for i in range(FLAGS.pairs):
            pair = {}
            order = [False, True] + (["torch"] if peer else [])
            for jit in order[i % len(order):] + order[:i % len(order)]:
                if jit == "torch":
                    t = run_torch(peer)
                    torch_rows.append(t)
                    print(f"{model:8} {'torch':>4} {t['median_ms']:10.1f} "
                          f"{t['q25_ms']:6.1f}-{t['q75_ms']:<7.1f}", flush=True)
                    continue
                r = run_child(model, jit)
                r["mfu"] = r["gflops_per_step"] / (r["median_ms"] / 1e3) / r["peak_gflops"]
                rows.append(r)
                pair[jit] = r
                print(f"{model:8} {'on' if jit else 'off':>4} {r['median_ms']:10.1f} "
                      f"{r['q25_ms']:6.1f}-{r['q75_ms']:<7.1f} {r['fit_ms_per_step']:8.1f} "
                      f"{r['gflops_per_step']:9.2f} {r['mfu']:6.1%} {r['peak_memory_mb']:8.0f} "
                      f"{r['first_step_s']:6.1f}",
                      flush=True)
            pairs.append(pair[False]["median_ms"] / pair[True]["median_ms"])
        entry = {"model": model, "xla_speedups": pairs,
                 "xla_speedup": float(np.median(pairs))}
        print(f"{'':8} XLA speed-up (off / on, per pair): "
              f"{', '.join(f'{p:.2f}x' for p in pairs)}", flush=True)
        if torch_rows:
            mine = {jit: [r for r in rows if r["model"] == model and r["xla"] == jit]
                    for jit in (False, True)}
            ours = {jit: float(np.median([r["median_ms"] for r in mine[jit]])) for jit in mine}
            theirs = float(np.median([t["median_ms"] for t in torch_rows]))
            if torch_rows[0]["parameters"] != rows[-1]["parameters"]:
                sys.exit(f"the PyTorch peer of {model} is not our network: parameters "
                         f"{torch_rows[0]['parameters']} vs {rows[-1]['parameters']}")
            entry.update(torch=torch_rows, torch_median_ms=theirs,
                         torch_over_ours={("xla_on" if j else "xla_off"): theirs / ours[j]
                                          for j in ours})
            work = rows[-1]["gflops_per_step"] / float(np.median(
                [r["peak_gflops"] for r in mine[False] + mine[True]]))
            entry["torch_mfu"] = work / (theirs / 1e3)
            print(f"{'':8} PyTorch eager {theirs:.1f} ms (MFU {entry['torch_mfu']:.1%}): ours "
                  f"is {theirs / ours[False]:.2f}x faster (XLA off), "
                  f"{theirs / ours[True]:.2f}x (XLA on)", flush=True)
            fast = {jit: float(np.median([r["q10_ms"] for r in mine[jit]])) for jit in mine}
            theirs_fast = float(np.median([t["q10_ms"] for t in torch_rows]))
            entry["torch_over_ours_q10"] = {("xla_on" if j else "xla_off"):
                                            theirs_fast / fast[j] for j in fast}
            print(f"{'':8} 10th percentiles: PyTorch {theirs_fast:.1f} ms, ours "
                  f"{fast[False]:.1f} (XLA off), {fast[True]:.1f} (XLA on): "
                  f"{theirs_fast / fast[False]:.2f}x, {theirs_fast / fast[True]:.2f}x", flush=True)
        if FLAGS.whole_run:
            n = FLAGS.whole_run
            timing = {False: {}, True: {}}
            for jit in (False, True):
                timing[jit][n] = whole_run_seconds(model, jit, n)
            for jit in (True, False):
                timing[jit][2 * n] = whole_run_seconds(model, jit, 2 * n)
            for jit in (False, True):
                per_step = (timing[jit][2 * n] - timing[jit][n]) / n * 1e3
                entry[f"whole_run_ms_xla_{'on' if jit else 'off'}"] = per_step
                print(f"{'':8} train.py, XLA {'on ' if jit else 'off'}: {n} steps "
                      f"{timing[jit][n]:.1f} s, {2 * n} steps {timing[jit][2 * n]:.1f} s: "
                      f"{per_step:.1f} ms/step", flush=True)
        summary.append(entry)
    print(f"device: {rows[0]['device']}, measured matmul peak "
          f"{rows[0]['peak_gflops']:.0f} GFLOP/s (float32, 2048x2048, XLA); data: "
          f"{rows[0]['dataset']}; oneDNN kernels: {rows[0]['onednn']}; "
          f"mixed precision: {FLAGS.mixed_precision}; "
          f"{FLAGS.steps} timed steps per process after {FLAGS.warmup}; steps per execution: "
          f"{FLAGS.steps_per_execution}")
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump({"measurements": rows, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
