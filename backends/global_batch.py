"""What the backends without a TensorFlow-style replica context share (backends/jax.py,
backends/torch.py), written with `keras.ops`: the step sees the global batch (one device, or
keras.distribution's sharded global arrays), so the replica reductions are the plain ones, and
the loops are Python loops (traced into one program by JAX, run eagerly by PyTorch)."""
from keras import ops


def repeat(body, n, logs, jit_compile=False):
    for i in range(1, n):
        logs = body(i)
    return logs


def stacked(body, k):
    rows = [body(i) for i in range(k)]
    return {name: ops.stack([row[name] for row in rows]) for name in rows[0]}


def num_replicas():
    return 1


def own_rows(tensors, size):
    return tensors


def share_of_mean(per_example, global_size):
    return ops.sum(per_example) / global_size


def grad_norm(grads, optimizer):
    scale = getattr(optimizer, "dynamic_scale", None)
    norm = ops.sqrt(sum(ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads))
    return norm if scale is None else norm / scale


def global_logs(logs):
    return logs
