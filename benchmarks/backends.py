"""One training step of the same model class on TensorFlow, JAX and PyTorch, timed the same way.

    python -m benchmarks.backends [--settings=dcgan,wgan_gp_toy,pacgan_toy,infogan]
                                  [--backends=tensorflow,jax,torch] [--steps=150] [--warmup=20]
                                  [--rounds=2] [--out=results/backends_cpu/backends_cpu.json]

Each measurement is a fresh process with KERAS_BACKEND set, which builds the variant's class
from its row (the paper's networks, batch and optimizer; the toy rows of models/variants.py for
the toy steps) and fits `--warmup` + `--steps` steps in ONE `fit` on random arrays held in
memory, with a callback that waits for each step's logs and takes a timestamp: the step time is
the difference of consecutive timestamps after the warm-up (median, interquartile range), and
the fit's wall time over the timed steps is the cross-check. The backends take turns within
each round, in an order that rotates from round to round, so a drift of the machine hits each
alike.

How each backend runs the step: TensorFlow as train.py does (XLA by training/xla.py's default
for the step: off for convolution nets with oneDNN on a CPU, on otherwise); JAX through Keras'
JAX trainer, which always compiles the step with XLA; PyTorch eagerly, through Keras' PyTorch
trainer. The settings:

    dcgan        DCGAN on 28x28x1 at batch 128
    wgan_gp_toy  WGAN-GP's toy step (gan_toy.py's nets, 5 critic updates with the penalty)
    pacgan_toy   PacGAN's toy step (its 2-D nets, the toy `gan` protocol)
    infogan      InfoGAN's official MNIST step (its nets, batch 128)
"""
import json
import os
import statistics
import sys
import time

from absl import app, flags

from benchmarks import run_module, summarize

flags.DEFINE_list("settings", ["dcgan", "wgan_gp_toy", "pacgan_toy", "infogan"],
                  "Steps to time (see the module's docstring).")
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Keras backends to time.")
flags.DEFINE_integer("steps", 150, "Timed steps per process (after the warm-up).")
flags.DEFINE_integer("warmup", 20, "Steps not timed: tracing, compiling, caches.")
flags.DEFINE_integer("rounds", 2, "Processes per backend and setting.")
flags.DEFINE_string("out", None, "Write every measurement here as JSON.")
flags.DEFINE_string("_child", None, "Internal: run one measurement and print JSON.")
FLAGS = flags.FLAGS

# setting: (variant, toy dataset or None, data shape, batch size or None for the row's)
SETTINGS = {"dcgan": ("dcgan", None, (28, 28, 1), 128),
            "wgan_gp_toy": ("wgan_gp", "ring8", (2,), None),
            "pacgan_toy": ("gan", "ring8", (2,), None),
            "infogan": ("infogan", None, (28, 28, 1), None)}


def measure(setting):
    """One process's measurement, on the backend this process runs."""
    import keras
    import numpy as np

    from models.variants import TOY_VARIANTS, VARIANTS, make_optimizer
    name, toy, shape, batch = SETTINGS[setting]
    variant = TOY_VARIANTS[toy][name] if toy else VARIANTS[name]
    batch = batch or variant.batch_size
    backend = keras.backend.backend()
    jit = "auto"
    if backend == "tensorflow":
        import tensorflow as tf

        from training.xla import resolve_jit_compile
        jit = resolve_jit_compile(None, tf.distribute.get_strategy(), variant.arch,
                                  gradient_penalty=bool(variant.gp_weight))
    keras.utils.set_random_seed(0)
    gan = variant.model_class(variant, shape, 10, seed=0)

    gan.compile(make_optimizer(variant, variant.d_lr), make_optimizer(variant, variant.g_lr),
                jit_compile=jit)
    calls = FLAGS.warmup + FLAGS.steps
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (calls * batch, variant.d_steps, *shape)).astype(np.float32)
    y = rng.integers(0, 10, (calls * batch, variant.d_steps)).astype(np.int32)

    from benchmarks.clock import StepClock
    clock = StepClock()
    gan.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    timed = np.diff(clock.times[FLAGS.warmup - 1:])
    return {"setting": setting, "backend": backend, "variant": name, "toy": toy,
            "batch": batch, "d_steps": variant.d_steps, "arch": variant.arch,
            "xla": True if backend == "jax" else (bool(jit) if backend == "tensorflow"
                                                   else False),
            "steps": len(timed), **summarize(timed),
            "step_ms": [round(float(t) * 1e3, 2) for t in timed],
            "first_step_s": float(clock.times[0] - clock.begin),
            "fit_ms_per_step": float((clock.times[-1] - clock.times[FLAGS.warmup - 1])
                                     / len(timed) * 1e3),
            "versions": {"keras": keras.__version__, **_versions(backend)}}


def _versions(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return {module: __import__(module).__version__}


def run_child(setting, backend):
    return run_module(["benchmarks.backends", f"--_child={setting}", f"--steps={FLAGS.steps}",
                       f"--warmup={FLAGS.warmup}"],
                      {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
                      f"benchmark of {setting} on {backend}")


def main(argv):
    del argv
    if FLAGS._child:
        print("RESULT " + json.dumps(measure(FLAGS._child)), flush=True)
        return
    results, order = [], list(FLAGS.backends)
    for setting in FLAGS.settings:
        for r in range(FLAGS.rounds):
            for backend in order[r % len(order):] + order[:r % len(order)]:
                result = run_child(setting, backend)
                results.append(result)
                print(f"{setting:12s} {backend:10s} round {r}: {result['median_ms']:8.2f} ms "
                      f"(IQR {result['q25_ms']:.2f}-{result['q75_ms']:.2f}, fit "
                      f"{result['fit_ms_per_step']:.2f} ms/step, XLA {result['xla']}, first "
                      f"step {result['first_step_s']:.1f} s)", flush=True)
    print("\nmedian of the rounds' medians, ms per step (and vs TensorFlow):")
    for setting in FLAGS.settings:
        medians = {}
        for backend in FLAGS.backends:
            medians[backend] = statistics.median(
                r["median_ms"] for r in results
                if r["setting"] == setting and r["backend"] == backend)
        base = medians.get("tensorflow")
        print(f"  {setting:12s} " + "  ".join(
            f"{b} {m:.2f}" + (f" ({base / m:.2f}x)" if base and b != "tensorflow" else "")
            for b, m in medians.items()))
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump({"command": "python -m benchmarks.backends " + " ".join(sys.argv[1:]),
                       "date": time.strftime("%Y-%m-%d"), "machine": _machine(),
                       "results": results}, f, indent=1)
            f.write("\n")


def _machine():
    cpu = "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


if __name__ == "__main__":
    app.run(main)
