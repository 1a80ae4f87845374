"""The TensorFlow backend's side of backends/__init__.py: tapes, philox draws, traced loops and
`tf.distribute`'s replica contexts. These are the ops the project ran before it was written for
every backend, kept as they were, so that the pinned logs (tests/step_logs.json) do not move."""
import tensorflow as tf

# True: the d_steps updates are traced one by one even where they would loop
# (`backends.unrolled`); benchmarks/flops.py counts FLOPs on that graph.
UNROLL = [False]
SYNC_BATCH_NORM = True  # BatchNormalization(synchronized=...)
STEP_DTYPE = "int64"  # the checkpoints' step counter


# === Gradients ===

def input_gradient(fn, x):
    # A tape of its own, inside whatever tape takes the outer gradient: TensorFlow records the
    # inner gradient's ops, so the outer one differentiates through it.
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.cast(fn(x), tf.float32))
    return tape.gradient(total, x)


def value_and_gradients(fn, variables):
    with tf.GradientTape() as tape:
        value, aux = fn()
    return value, aux, tape.gradient(value, variables)


# === Stateless draws: philox, named explicitly, so a seed keeps its numbers on CPU and GPU ===

def step_seed(seed, step):
    return tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])


def fold_in(seed, i):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), i, alg="philox")


def normal(shape, seed):
    return tf.random.stateless_normal(shape, seed, alg="philox")


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
    return tf.random.stateless_uniform(shape, seed, minval, maxval, dtype=dtype, alg="philox")


# === Loops ===

def _may_loop(jit_compile):
    # Under XLA the loop's step is slower (docs/speed.md), and a strategy's gradient sync cannot
    # run inside a loop (a RuntimeError at trace time).
    return not (jit_compile or UNROLL[0] or tf.distribute.has_strategy())


def repeat(body, n, logs, jit_compile=False):
    if n <= 1 or not _may_loop(jit_compile):
        for i in range(1, n):
            logs = body(i)
        return logs
    _, logs = tf.while_loop(lambda i, _: i < n, lambda i, _: (i + 1, body(i)),
                            (tf.constant(1), logs))
    return logs


def stacked(body, k):
    if tf.distribute.has_strategy():
        rows = [body(i) for i in range(k)]
        return {name: tf.stack([row[name] for row in rows]) for name in rows[0]}
    first = body(0)  # traced once more, for the logs' names and types
    arrays = {name: tf.TensorArray(v.dtype, k).write(0, v) for name, v in first.items()}

    def step(i, arrays):
        logs = body(i)
        return i + 1, {name: arrays[name].write(i, logs[name]) for name in arrays}

    _, arrays = tf.while_loop(lambda i, _: i < k, step, (tf.constant(1), arrays))
    return {name: a.stack() for name, a in arrays.items()}


def stateful_step(model, run, args):
    (data,) = args
    return run(data)


def prepare(model):
    """Nothing: TensorFlow's trainer keeps no state of its own."""


# === Replicas: N replicas of a strategy train as one device on the global batch ===

def num_replicas():
    return tf.distribute.get_replica_context().num_replicas_in_sync


def own_rows(tensors, size):
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # outside any replica context (a callback under a strategy): the first rows
        return tf.nest.map_structure(lambda t: t[:size], tensors)
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * size
    return tf.nest.map_structure(lambda t: t[start:start + size], tensors)


def share_of_mean(per_example, global_size):
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)


def _sum_over_replicas(value):
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def grad_norm(grads, optimizer):
    scale = getattr(optimizer, "dynamic_scale", None)
    norm = tf.linalg.global_norm(_sum_over_replicas(grads))
    return norm if scale is None else norm / tf.cast(scale, norm.dtype)


def global_logs(logs):
    logs = {name: value if name.endswith("_grad_norm") else _sum_over_replicas(value)
            for name, value in logs.items()}
    # Under MultiWorkerMirroredStrategy each has shape [1]: Keras 3 reduces multi-worker logs
    # along axis 0 (keras#20585).
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs
