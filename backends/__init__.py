"""What differs between Keras backends, behind one interface: one small module per backend
(`backends/tensorflow.py`, `backends/jax.py`, `backends/torch.py`), chosen by the backend Keras
runs on. Everything in losses/ and models/ is written with `keras.ops` and calls these; the
lowest layer of the project, it imports nothing of it. docs/backends.md says what each backend
guarantees.

Gradients
    input_gradient(fn, x)           d sum(fn(x)) / dx, itself differentiable (WGAN-GP's penalty
                                    is a gradient of a gradient)
    value_and_gradients(fn, vars)   (loss, aux, d loss / d vars) of fn() -> (loss, aux), keeping
                                    the updates fn makes (batch norm's statistics)
Stateless draws, from (run seed, step, sub-step)
    step_seed(seed, step), fold_in(seed, i), normal(shape, seed),
    uniform(shape, seed, minval, maxval, dtype)   (an integer dtype draws integers in [min, max))
Loops
    repeat(body, n, logs, jit_compile)  logs = body(i) for i = 1..n-1 (a traced loop where it can)
    stacked(body, k)                    body(0..k-1)'s logs stacked into [k] vectors
    stateful_step(model, run, args)     Keras' train_step arguments -> what Keras expects back,
                                        `run(data)` computing the logs (on JAX: state in and out)
    prepare(model)                      after compile: what the backend's trainer asks of a model
Replicas (a global batch split over N replicas trains as one device)
    num_replicas(), own_rows(tensors, size), share_of_mean(per_example, global_size),
    grad_norm(grads, optimizer), global_logs(logs)
"""
import contextlib
import importlib

import keras

_MODULES = {"tensorflow": "backends.tensorflow", "jax": "backends.jax", "torch": "backends.torch"}


def current():
    """The module of the backend Keras runs on; ImportError names the backends there are."""
    name = keras.backend.backend()
    if name not in _MODULES:
        raise ImportError(f"no backend module for Keras backend {name!r}; this project runs on "
                          f"{', '.join(_MODULES)} (KERAS_BACKEND)")
    return importlib.import_module(_MODULES[name])


def __getattr__(name):  # backends.fold_in(...) is the current backend's fold_in
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(current(), name)


def train_step(model, args):
    """A GAN's `train_step`: `model.steps_per_call` iterations of `model.algorithm_1` on one
    batch (x [B, K, d_steps, ...], labels [B, K, d_steps], column k feeding iteration k; without
    the K axis when K is 1), the logs [K] vectors when K > 1. On TensorFlow the K iterations
    are one traced loop (under XLA one compiled program), unrolled under a distribution
    strategy, whose gradient sync cannot run inside a loop; they are the K calls of one
    iteration each, bit for bit (tests/test_train_step.py)."""
    module, k = current(), model.steps_per_call

    def run(data):
        images, labels = data
        labels = labels if model.uses_labels else None  # only a model that learns from them
        if k == 1:
            return model.algorithm_1(images, labels)
        return module.stacked(lambda i: model.algorithm_1(
            images[:, i], None if labels is None else labels[:, i]), k)

    return module.stateful_step(model, run, args)


@contextlib.contextmanager
def unrolled():
    """Within: the d_steps updates are traced one by one even where they would loop
    (benchmarks/flops.py counts FLOPs on that graph; a loop's body would count once)."""
    flag = current().UNROLL
    old, flag[0] = flag[0], True
    try:
        yield
    finally:
        flag[0] = old
