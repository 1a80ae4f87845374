"""Every variant class builds and fits 2 iterations on random arrays, on the backend
KERAS_BACKEND names, with nothing of the project but models/, losses/ and backends/:

    KERAS_BACKEND=jax PYTHONPATH=. python tests/fit_anywhere.py [VARIANT ...]

In a venv with only jax, keras and numpy installed, this is the check that the core needs no
TensorFlow (docs/backends.md). DCGAN and AC-GAN run with --augment and --ema; the toy rows of
ring8 (PacGAN's and gan_toy.py's nets) on 2-D points."""
import dataclasses
import sys

import keras
import numpy as np

from models.variants import TOY_VARIANTS, VARIANTS

EXTRAS = {"dcgan": {"augment": "color,translation,cutout", "ema": 0.9},
          "acgan": {"augment": "color,translation,cutout", "ema": 0.9}}


def fit(name, shape=(28, 28, 1), num_classes=10, batch=8, steps=2, toy=None):
    row = TOY_VARIANTS[toy][name] if toy else VARIANTS[name]
    variant = dataclasses.replace(row, **EXTRAS.get(name, {}) if not toy else {})
    gan = variant.model_class(variant, shape, num_classes, seed=0)
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch * steps, variant.d_steps, *shape)).astype("float32")
    y = rng.integers(0, num_classes, (batch * steps, variant.d_steps)).astype("int32")
    history = gan.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    logs = {k: float(np.ravel(v[-1])[0]) for k, v in history.history.items()}
    assert int(keras.ops.convert_to_numpy(gan.step)) == steps
    assert all(np.isfinite(v) for v in logs.values()), logs
    return logs


if __name__ == "__main__":
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; TensorFlow "
          f"{'imported' if 'tensorflow' in sys.modules else 'not imported'}")
    runs = [(name, None) for name in sys.argv[1:] or VARIANTS]
    if not sys.argv[1:]:  # and the toy protocols' nets on 2-D points
        runs += [(name, "ring8") for name in TOY_VARIANTS["ring8"]]
    for name, toy in runs:
        logs = fit(name, (2,) if toy else (28, 28, 1), toy=toy)
        print(f"{name + (' ' + toy if toy else ''):14s} 2 iterations: d_loss "
              f"{logs['d_loss']:.4f}, g_loss {logs['g_loss']:.4f}")
