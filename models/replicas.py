"""Distribution-safe pieces of the training step (models/gan.py), so that N replicas of a
`tf.distribute` strategy train exactly as one device on the global batch (docs/keras_traps.md):

- Keras 3 optimizers SUM gradients over replicas, so each objective term is reduced over the
  GLOBAL batch (`tf.nn.compute_average_loss`) and each replica contributes its share;
- noise is drawn for the global batch from one stateless seed and each replica takes its rows
  (`own_slice`): replicas get different noise, and any replica count sees the same draw;
- gradient norms are of the global gradient, unscaled under mixed precision, and every logged
  value is all-reduced, so the logs are global means.
"""
import tensorflow as tf


def own_slice(tensors, size):
    """This replica's `size` rows of tensors drawn for the global batch (outside any replica
    context, as in a callback under a strategy: the first `size`)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return tf.nest.map_structure(lambda t: t[:size], tensors)
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * size
    return tf.nest.map_structure(lambda t: t[start:start + size], tensors)


def objective(terms, global_size):
    """(sum of weight * global-batch mean over the weighted terms, {name: mean}) of terms
    {name: (weight or None, per-example values)}: this replica's share of each, so that the
    optimizers' sum over replicas is the global one. Weight None: logged, not optimized."""
    total, means = 0.0, {}
    for name, (weight, per_example) in terms.items():
        means[name] = tf.nn.compute_average_loss(per_example, global_batch_size=global_size)
        if weight is not None:
            total += weight * means[name]
    return total, means


def all_reduce_sum(value):
    """Sums the replicas' shares of a global mean into the global mean."""
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def grad_norm(grads, optimizer):
    """Norm of the global gradient, unscaled when the optimizer scales the loss."""
    scale = getattr(optimizer, "dynamic_scale", None)
    norm = tf.linalg.global_norm(all_reduce_sum(grads))
    return norm if scale is None else norm / tf.cast(scale, norm.dtype)


def global_logs(logs):
    """The step's logs as global values: shares summed, gradient norms (already global) kept.
    Under MultiWorkerMirroredStrategy each has shape [1]: Keras 3 reduces multi-worker logs
    along axis 0 (keras#20585)."""
    logs = {name: value if name.endswith("_grad_norm") else all_reduce_sum(value)
            for name, value in logs.items()}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs
