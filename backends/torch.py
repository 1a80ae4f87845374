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


# === Loops ===

def repeat(body, n, logs, jit_compile=False):
    for i in range(1, n):
        logs = body(i)
    return logs


def stacked(body, k):
    rows = [body(i) for i in range(k)]
    return {name: torch.stack([row[name] for row in rows]) for name in rows[0]}


def prepare(model):
    """Nothing: Keras' PyTorch trainer keeps no state of its own."""


def stateful_step(model, run, args):
    (data,) = args
    return run(data)


# === Replicas: one device ===

def num_replicas():
    return 1


def own_rows(tensors, size):
    return tensors


def share_of_mean(per_example, global_size):
    return torch.sum(per_example) / global_size


def grad_norm(grads, optimizer):
    scale = getattr(optimizer, "dynamic_scale", None)
    norm = torch.sqrt(sum(torch.sum(torch.square(g.to(torch.float32))) for g in grads))
    return norm if scale is None else norm / scale


def global_logs(logs):
    return logs
