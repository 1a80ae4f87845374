"""The project's figures on a GPU, in one call, on JAX (no TensorFlow on the GPU machine).

    python -m benchmarks.gpu [--out=results/gpu/gpu.json]           # on the GPU machine
    python -m benchmarks.gpu --record_reference                     # here, on CPU: the parity's
                                                                    # float32 reference

Three parts, each in the same process or its own child (`--parts`):

- **parity**: each `PARITY` setting (the variant's networks, batch 16, real mnist_5k digits or
  ring8 points) is built on JAX with seed 0 and trained 3 steps with its own draws (JAX's
  threefry, the same numbers on every platform), with XLA's float32 matmuls and convolutions
  at full precision (`jax_default_matmul_precision=highest`: a GPU would otherwise use TF32).
  Every logged value of every step, and 4 random projections of each network's update
  W - W0, are compared with the same run on this repo's CPU (`gpu_reference.json`, written by
  `--record_reference`), to the cross-backend parity's tolerances (tests/test_backends.py):
  logs |gpu - cpu| <= 1e-3 (|cpu| + 0.01), projections <= 2e-3 |W - W0|_cpu.
- **steps**: the step time of DCGAN at batch 128, PacGAN's toy step and InfoGAN's official step,
  as benchmarks/backends.py times it (a timestamp per step, median and IQR after a warm-up,
  one `fit` in a fresh process), on Keras' JAX backend, and of the same networks in PyTorch
  (benchmarks/torch_peer.py) eagerly and under torch.compile. Goal: JAX at least 2x faster than
  PyTorch eager, and no slower than torch.compile, for the DCGAN and toy steps.
- **acgan**: AC-GAN trained `--acgan_steps` steps (the quickstart's 1,500) on mnist_5k held in
  memory, its row's settings; then the shipped digit classifier (metrics/classifier.py) on
  `--acgan_samples` samples against the class asked for: eval.py's AC-GAN accuracy.

Prints one line per measurement and writes them all to `--out`.
"""
import json
import os
import sys
import time

from absl import app, flags

from benchmarks import run_module
from benchmarks.backends import SETTINGS, run_child  # and its flags --settings, --steps, ...

flags.DEFINE_list("parts", ["parity", "steps", "acgan"], "What to run (see the docstring).")
flags.DEFINE_list("parity", None, "PARITY settings to check (default: all).")
flags.DEFINE_bool("torch_compile", True, "Also time torch.compile of the PyTorch peer.")
flags.DEFINE_integer("acgan_steps", 1500, "AC-GAN's training steps.")
flags.DEFINE_integer("acgan_samples", 10000, "Samples the classifier scores.")
flags.DEFINE_bool("record_reference", False, "Write the parity's reference (run on a CPU).")
flags.DEFINE_string("reference", None, "The parity's reference (default: beside this file).")
FLAGS = flags.FLAGS
FLAGS.set_default("settings", ["dcgan", "pacgan_toy", "infogan"])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "benchmarks", "gpu_reference.json")
LOG_RTOL, LOG_ATOL, WEIGHT_RTOL = 1e-3, 1e-5, 2e-3  # tests/test_backends.py's
PROJECTIONS = 4

# setting: (toy dataset or None, variant, batch)
PARITY = {"pacgan_toy": ("ring8", "gan", 16), "dcgan": (None, "dcgan", 16),
          "wgan_gp": (None, "wgan_gp", 16), "infogan": (None, "infogan", 16),
          "acgan": (None, "acgan", 16)}


def _mnist():
    """mnist_5k's digits in [-1, 1], [N, 28, 28, 1] float32, and their labels."""
    import numpy as np
    with np.load(os.path.join(ROOT, "data", "mnist_5k.npz")) as f:
        images, labels = f["images"], f["labels"]
    return (images.astype(np.float32) / 127.5 - 1.0)[..., None], labels.astype(np.int32)


def _ring8(n, rng):
    import numpy as np
    angles = rng.integers(0, 8, n) * 2 * np.pi / 8
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1)
    return (centres + 0.02 * rng.standard_normal((n, 2))).astype(np.float32)


def _variant(toy, name, **fields):
    import dataclasses

    from models.variants import TOY_VARIANTS, VARIANTS
    row = TOY_VARIANTS[toy][name] if toy else VARIANTS[name]
    return dataclasses.replace(row, **fields)


def _gan(variant, shape):
    import keras

    from models.variants import make_optimizer
    keras.utils.set_random_seed(0)
    gan = variant.model_class(variant, shape, 10, seed=0)
    gan.compile(make_optimizer(variant, variant.d_lr), make_optimizer(variant, variant.g_lr))
    return gan


def projections(before, after):
    """(|W - W0|, its dot products with PROJECTIONS fixed random unit vectors)."""
    import numpy as np
    delta = np.concatenate([(np.asarray(b, np.float64) - np.asarray(a, np.float64)).ravel()
                            for a, b in zip(before, after)])
    rng = np.random.default_rng(0)
    out = []
    for _ in range(PROJECTIONS):
        r = rng.standard_normal(delta.size)
        out.append(float(delta @ (r / np.linalg.norm(r))))
    return float(np.linalg.norm(delta)), out


def parity_run(setting, steps=3):
    """{"logs": [{name: value} per step], "networks": {name: [|W - W0|, projections]}}."""
    import jax
    import keras
    import numpy as np
    jax.config.update("jax_default_matmul_precision", "highest")
    toy, name, batch = PARITY[setting]
    variant = _variant(toy, name, batch_size=batch)
    rng = np.random.default_rng(1)
    n = steps * batch * variant.d_steps
    if toy:
        x, shape = _ring8(n, rng) / variant.data_scale, (2,)
        y = np.zeros(n, np.int32)
    else:
        images, labels = _mnist()
        pick = rng.permutation(len(images))[:n]
        x, y, shape = images[pick], labels[pick], (28, 28, 1)
    x = x.reshape(steps * batch, variant.d_steps, *shape)
    y = y.reshape(steps * batch, variant.d_steps)
    gan = _gan(variant, shape)
    before = {net: [np.asarray(w) for w in model.get_weights()]
              for net, model in gan.networks().items()}
    rows = []

    class Logs(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            rows.append({k: float(np.asarray(v)) for k, v in (logs or {}).items()})

    gan.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[Logs()])
    return {"logs": rows, "networks": {
        net: projections(before[net], model.get_weights())
        for net, model in gan.networks().items()}}


def compare(got, reference):
    """The worst (miss / tolerance) over logs and projections: <= 1 passes."""
    worst = {"logs": 0.0, "weights": 0.0}
    for ours, theirs in zip(got["logs"], reference["logs"], strict=True):
        for key, value in theirs.items():
            tolerance = LOG_RTOL * (abs(value) + 0.01) + LOG_ATOL
            worst["logs"] = max(worst["logs"], abs(ours[key] - value) / tolerance)
    for net, (norm, theirs) in reference["networks"].items():
        _, ours = got["networks"][net]
        for a, b in zip(ours, theirs, strict=True):
            worst["weights"] = max(worst["weights"], abs(a - b) / (WEIGHT_RTOL * norm))
    return worst


def acgan_run(steps, samples):
    """AC-GAN, its row's settings, `steps` steps on mnist_5k in memory (shuffled every epoch),
    then the shipped classifier's accuracy on `samples` samples against the class asked for."""
    import keras
    import numpy as np

    import backends
    from metrics import scores
    from metrics.classifier import build_classifier, predict, weights_path
    variant = _variant(None, "acgan")
    images, labels = _mnist()
    batch = variant.batch_size
    rng = np.random.default_rng(0)
    order = np.concatenate([rng.permutation(len(images))
                            for _ in range(-(-steps * batch // len(images)))])[:steps * batch]
    gan = _gan(variant, (28, 28, 1))
    from benchmarks.clock import StepClock
    clock = StepClock()

    start = time.perf_counter()
    gan.fit(images[order][:, None], labels[order][:, None], batch_size=batch, epochs=1,
            verbose=0, shuffle=False, callbacks=[clock])
    train_seconds = time.perf_counter() - start
    classifier = build_classifier()
    classifier.load_weights(weights_path("mnist_5k"))
    asked, predicted = [], []
    for i in range(0, samples, 500):
        latents = gan.latent.sample(min(500, samples - i), backends.step_seed(7, i))
        fake = keras.ops.convert_to_numpy(gan.samples(latents))
        predicted.append(predict(classifier, (fake + 1.0) / 2.0)[1].argmax(1))
        asked.append(keras.ops.convert_to_numpy(latents["labels"]))
    accuracy, per_class = scores.per_class_accuracy(np.concatenate(predicted),
                                                    np.concatenate(asked), 10)
    timed = np.diff(clock.times[min(20, len(clock.times) - 2):])
    return {"steps": steps, "batch": batch, "samples": samples,
            "accuracy_pct": round(100 * float(accuracy), 2),
            "per_class_pct": [round(100 * float(a), 1) for a in per_class],
            "train_seconds": round(train_seconds, 1),
            "median_step_ms": float(np.median(timed) * 1e3) if len(timed) else None}


def torch_settings(setting):
    """benchmarks/torch_peer.py's settings for a benchmarks/backends.py setting."""
    from models.networks import ARCHITECTURES
    name, toy, shape, batch = SETTINGS[setting]
    v = _variant(toy, name)
    v = _variant(toy, name, width=v.width or ARCHITECTURES[v.arch].width)
    codes = (v.num_categorical or 0) + (v.num_continuous or 0)
    return {"arch": v.arch, "data_shape": list(shape), "input_dim": v.latent_dim + codes,
            "width": v.width, "d_norm": v.d_norm, "g_norm": v.g_norm,
            "batch": batch or v.batch_size, "d_steps": v.d_steps, "loss": v.loss,
            "optimizer": v.optimizer, "d_lr": v.d_lr, "g_lr": v.g_lr, "beta_1": v.beta_1,
            "beta_2": v.beta_2, "gp_weight": v.gp_weight, "clip_value": v.clip_value,
            "num_categorical": v.num_categorical, "num_continuous": v.num_continuous}


def keras_parameters(setting):
    """{network: trainable parameters} of our model for a benchmarks/backends.py setting."""
    import numpy as np
    name, toy, shape, _ = SETTINGS[setting]
    gan = _variant(toy, name).model_class(_variant(toy, name), shape, 10, seed=0)
    return {net: int(sum(np.prod(w.shape) for w in model.trainable_weights))
            for net, model in (("generator", gan.generator),
                               ("discriminator", gan.discriminator))}


def time_steps(setting, device):
    """The JAX step and the PyTorch peer's (eager, compiled), as rows."""
    rows = [dict(run_child(setting, "jax"), runner="keras_jax")]
    ours = keras_parameters(setting)
    for compiled in [False, True] if FLAGS.torch_compile else [False]:
        s = dict(torch_settings(setting), device=device, compile=compiled)
        row = run_module(["benchmarks.torch_peer", json.dumps(s), str(FLAGS.steps),
                          str(FLAGS.warmup)], failure=f"the PyTorch peer of {setting}")
        if row["parameters"] != ours:
            raise RuntimeError(f"the PyTorch peer of {setting} is not our network: "
                               f"{row['parameters']} vs {ours}")
        rows.append(dict(row, setting=setting, runner="torch_compile" if compiled
                         else "torch_eager"))
    return rows


def main(argv):
    del argv
    import jax
    import keras
    assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"
    reference_path = FLAGS.reference or REFERENCE
    settings = FLAGS.parity or list(PARITY)
    if FLAGS.record_reference:
        runs = {s: parity_run(s) for s in settings}
        with open(reference_path, "w") as f:
            json.dump({"command": "python -m benchmarks.gpu --record_reference",
                       "device": str(jax.devices()[0]), "jax": jax.__version__,
                       "keras": keras.__version__, "runs": runs}, f, indent=1)
            f.write("\n")
        print(f"wrote {reference_path}")
        return
    device = jax.devices()[0]
    record = {"command": "python -m benchmarks.gpu " + " ".join(sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d"), "device": getattr(device, "device_kind",
                                                                   str(device)),
              "platform": device.platform, "jax": jax.__version__, "keras": keras.__version__}
    torch_device = "cuda" if device.platform == "gpu" else "cpu"
    if "parity" in FLAGS.parts:
        with open(reference_path) as f:
            reference = json.load(f)
        record["parity"] = {}
        for setting in settings:
            worst = compare(parity_run(setting), reference["runs"][setting])
            passed = max(worst.values()) <= 1.0
            record["parity"][setting] = {**worst, "passed": passed}
            print(f"parity {setting:10s} worst miss / tolerance: logs {worst['logs']:.3f}, "
                  f"weights {worst['weights']:.3f} ({'pass' if passed else 'FAIL'}) against "
                  f"{reference['device']}", flush=True)
    if "steps" in FLAGS.parts:
        record["steps"] = []
        for setting in FLAGS.settings:
            rows = time_steps(setting, torch_device)
            record["steps"] += rows
            ms = {r["runner"]: r["median_ms"] for r in rows}
            print(f"steps  {setting:10s} " + "  ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
                  + f"  (eager / jax {ms['torch_eager'] / ms['keras_jax']:.2f}x"
                  + (f", compile / jax {ms['torch_compile'] / ms['keras_jax']:.2f}x"
                     if "torch_compile" in ms else "") + ")", flush=True)
    if "acgan" in FLAGS.parts:
        record["acgan"] = acgan_run(FLAGS.acgan_steps, FLAGS.acgan_samples)
        print("acgan  " + json.dumps(record["acgan"]), flush=True)
    if FLAGS.out:
        os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
        with open(FLAGS.out, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    app.run(main)
