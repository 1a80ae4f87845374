"""The PyTorch backend's side of backends/__init__.py.

Keras' PyTorch trainer runs `train_step(data)` eagerly, as TensorFlow's does outside a graph:
the step's stateful code runs as written, gradients come from `torch.autograd.grad`, and the
loops are Python loops. PyTorch has no stateless random functions, so a seed here is a Python
int, folded with a 64-bit mix (SplitMix64's finalizer) and drawn through a `torch.Generator`
seeded with it: the same (seed, step, sub-step) gives the same numbers on every run and resume.
Keras' PyTorch trainer has no distribution: one device.
"""
import keras
import torch

# The loops (Python loops) and the replica reductions (one global batch), shared with the other
# backend without replica contexts.
from backends.global_batch import (global_logs, grad_norm, num_replicas,  # noqa: F401
                                   own_rows, repeat, share_of_mean, stacked)

UNROLL = [True]  # eager: Python loops
SYNC_BATCH_NORM = False
STEP_DTYPE = "int64"

_MASK = (1 << 64) - 1


# === Gradients ===

def input_gradient(fn, x):
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    total = torch.sum(fn(x).to(torch.float32))
    # create_graph: the outer gradient (over fn's weights) differentiates through this one.
    return torch.autograd.grad(total, x, create_graph=True)[0]


def value_and_gradients(fn, variables):
    value, aux = fn()
    grads = torch.autograd.grad(value, [v.value for v in variables])
    detach = lambda t: t.detach() if isinstance(t, torch.Tensor) else t  # noqa: E731
    return value.detach(), {name: detach(t) for name, t in aux.items()}, list(grads)


# === Draws: a Python int seed per (seed, step, sub-step) ===

def _mix(a, b):
    z = (int(a) * 0x9E3779B97F4A7C15 + int(b) + 0x632BE59BD9B4E019) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def step_seed(seed, step):
    return _mix(seed, int(keras.ops.convert_to_numpy(step)))


def fold_in(seed, i):
    return _mix(seed, int(i))


def _generator(seed):
    return torch.Generator().manual_seed(int(seed) & ((1 << 63) - 1))


def _on_device(t):
    return keras.ops.convert_to_tensor(t)


def normal(shape, seed):
    return _on_device(torch.randn(tuple(int(d) for d in shape), generator=_generator(seed)))


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
    shape = tuple(int(d) for d in shape)
    if "int" in str(dtype):
        return _on_device(torch.randint(int(minval), int(maxval), shape, generator=_generator(seed),
                                        dtype=getattr(torch, str(dtype))))
    u = torch.rand(shape, generator=_generator(seed))
    return _on_device(minval + (maxval - minval) * u)


def prepare(model):
    """Nothing: Keras' PyTorch trainer keeps no state of its own."""


def stateful_step(model, run, args):
    (data,) = args
    return run(data)
