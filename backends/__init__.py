"""What differs between Keras backends, behind one interface: one small module per backend
(`backends/tensorflow.py`, `backends/jax.py`), chosen by the backend Keras runs on.

Everything else in losses/ and models/ is written with `keras.ops`, so that it runs on any
backend that has a module here. The lowest layer of the project: it imports nothing of it.

    input_gradient(fn, x)   d sum(fn(x)) / dx, itself differentiable (WGAN-GP's penalty is a
                            gradient of a gradient)
"""
import importlib

import keras

_MODULES = {"tensorflow": "backends.tensorflow", "jax": "backends.jax"}


def current():
    """The module of the backend Keras runs on; ImportError names the backends there are."""
    name = keras.backend.backend()
    if name not in _MODULES:
        raise ImportError(f"no backend module for Keras backend {name!r}; this project runs on "
                          f"{', '.join(_MODULES)} (KERAS_BACKEND)")
    return importlib.import_module(_MODULES[name])


def input_gradient(fn, x):
    """The gradient of sum(fn(x)) with respect to the input `x` (same shape as x), computed so
    that it can itself be differentiated with respect to fn's weights."""
    return current().input_gradient(fn, x)
