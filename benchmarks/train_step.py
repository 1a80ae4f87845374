"""Training-step throughput of every variant, with XLA on and off.

    python -m benchmarks.train_step [--models=dcgan,acgan] [--windows=5] [--window_steps=20]

Per variant, on the default data (mnist, or mnist_5k offline) with the paper's batch size and
networks: steps/s and real images/s (median of timed windows after a warm-up), peak resident
memory (host) or peak GPU memory, model FLOPs per step (TensorFlow's graph profiler on the
traced train_step: forward and backward of every update), and the fraction of this machine's
measured float32 matmul peak (MFU). Also the input pipeline's overhead over synthetic
in-memory batches (interleaved windows in one process). Each (variant, XLA) pair runs in a fresh
process so memory figures do not mix.
"""
import json
import os
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_string("models", "gan,dcgan,wgan,wgan_gp,infogan,acgan", "Variants to time.")
flags.DEFINE_integer("windows", 5, "Timed windows (the median is reported).")
flags.DEFINE_integer("window_steps", 20, "Steps per timed window.")
flags.DEFINE_bool("mixed_precision", False, "Time the mixed-precision step.")
flags.DEFINE_string("dataset", "mnist", "Dataset (mnist falls back to mnist_5k offline).")
flags.DEFINE_string("_child", None, "Internal: run one measurement and print JSON.")
FLAGS = flags.FLAGS


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


def step_flops(gan, x_spec, y_spec):
    """FLOPs of one traced train_step (all d_steps + 1 updates, forward and backward)."""
    import tensorflow as tf
    concrete = tf.function(gan.train_step).get_concrete_function((x_spec, y_spec))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=concrete.graph, options=options).total_float_ops


def measure(model, jit):
    """Times the step on the real pipeline and on one in-memory batch, in interleaved windows
    of the same process (so that machine noise hits both alike)."""
    import resource

    import numpy as np
    import tensorflow as tf
    from data.datasets import load, make_train_dataset
    from training.config import Config, resolve
    from training.loop import build_gan, split_for_d_steps

    config, variant = resolve(Config(model=model, dataset=FLAGS.dataset,
                                     mixed_precision=FLAGS.mixed_precision))
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes, jit_compile=jit)
    real = split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps, 0),
                             config.batch_size, variant.d_steps)
    # One batch held in memory: the same step with no input pipeline at all.
    synthetic = tf.data.Dataset.from_tensors(next(iter(real))).repeat()
    x_spec, y_spec = real.element_spec
    flops = step_flops(gan, x_spec, y_spec)

    def window(dataset, steps):
        start = time.perf_counter()
        gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - start) / steps

    start = time.perf_counter()  # the pipeline alone: what a step would wait for, unhidden
    for _ in real.take(50):
        pass
    input_ms = (time.perf_counter() - start) / 50 * 1e3
    window(real, 5)  # trace, compile, warm up
    window(synthetic, 5)
    times = {"real": [], "synthetic": []}
    for _ in range(FLAGS.windows):
        times["real"].append(window(real, FLAGS.window_steps))
        times["synthetic"].append(window(synthetic, FLAGS.window_steps))
    step_s = float(np.median(times["real"]))
    gpus = tf.config.list_logical_devices("GPU")
    memory = (tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpus
              else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"model": model, "xla": jit, "batch": config.batch_size, "d_steps": variant.d_steps,
            "dataset": data.spec.name, "step_ms": step_s * 1e3, "steps_per_s": 1 / step_s,
            "real_images_per_s": config.batch_size * variant.d_steps / step_s,
            "pipeline_overhead": step_s / float(np.median(times["synthetic"])) - 1,
            "input_ms_per_batch": input_ms,
            "peak_memory_mb": memory / 2 ** 20, "gflops_per_step": flops / 1e9,
            "device": "GPU" if gpus else "CPU", "peak_gflops": matmul_peak_flops() / 1e9}


def child(spec):
    model, jit = spec.split(":")
    print("RESULT " + json.dumps(measure(model, jit == "1")), flush=True)


def run_child(model, jit):
    args = [sys.executable, "-m", "benchmarks.train_step", f"--_child={model}:{int(jit)}",
            f"--windows={FLAGS.windows}", f"--window_steps={FLAGS.window_steps}",
            f"--dataset={FLAGS.dataset}", f"--mixed_precision={FLAGS.mixed_precision}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(args, capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if not lines:
        sys.exit(f"benchmark of {model} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv):
    del argv
    if FLAGS._child:
        return child(FLAGS._child)
    rows = []
    header = (f"{'model':8} {'xla':>4} {'ms/step':>8} {'steps/s':>8} {'img/s':>8} {'GFLOP/st':>9}"
              f" {'MFU':>6} {'peak MB':>8} {'pipeline':>9} {'input ms':>9}")
    print(header)
    for model in FLAGS.models.split(","):
        for jit in (False, True):
            real = run_child(model, jit)
            real["mfu"] = real["gflops_per_step"] * real["steps_per_s"] / real["peak_gflops"]
            rows.append(real)
            print(f"{model:8} {'on' if jit else 'off':>4} {real['step_ms']:8.1f} "
                  f"{real['steps_per_s']:8.2f} {real['real_images_per_s']:8.0f} "
                  f"{real['gflops_per_step']:9.2f} {real['mfu']:6.1%} "
                  f"{real['peak_memory_mb']:8.0f} {real['pipeline_overhead']:+9.1%} "
                  f"{real['input_ms_per_batch']:9.2f}", flush=True)
        off, on = rows[-2], rows[-1]
        print(f"{'':8} XLA speed-up: {off['step_ms'] / on['step_ms']:.2f}x", flush=True)
    print(f"device: {rows[0]['device']}, measured matmul peak "
          f"{rows[0]['peak_gflops']:.0f} GFLOP/s (float32, 2048x2048, XLA); data: "
          f"{rows[0]['dataset']}; mixed precision: {FLAGS.mixed_precision}")
    print("JSON " + json.dumps(rows))


if __name__ == "__main__":
    app.run(main)
