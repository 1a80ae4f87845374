"""The JAX backend's side of backends/__init__.py.

JAX is functional: Keras' JAX trainer calls `train_step(state, data)` with every variable's value
and expects the new values back. The model's step is written as stateful code (reads of
variables, `assign`, `optimizer.apply`), so `train_step` runs it inside a `keras.StatelessScope`
that maps every variable to its value in `state`: reads see the state, assignments are recorded
in the scope, and the new state is read back from it (the way Keras' own `stateless_call` and
`optimizer.stateless_apply` work). `value_and_gradients` differentiates a function of the
variables with `jax.value_and_grad` inside a nested scope, and carries the updates made while
computing the loss (batch norm's moving statistics, dropout's seed) out to the step's scope.
"""
import jax
import jax.numpy as jnp
import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope

# The loops (Python loops) and the replica reductions (one global batch), shared with the other
# backend without replica contexts.
from backends.global_batch import (global_logs, grad_norm, num_replicas,  # noqa: F401
                                   own_rows, repeat, share_of_mean, stacked)

UNROLL = [True]  # JAX traces Python loops unrolled: the only way here
SYNC_BATCH_NORM = False  # BatchNormalization(synchronized=...)
STEP_DTYPE = "int32"  # int64 needs jax_enable_x64, which would change every other dtype


# === Gradients ===

def input_gradient(fn, x):
    # jax.grad is a function transformation: an outer jax.grad differentiates through it.
    return jax.grad(lambda v: jnp.sum(jnp.asarray(fn(v), jnp.float32)))(x)


def _scope():
    scope = get_stateless_scope()
    if scope is None:
        raise RuntimeError("on JAX, a GAN update runs inside the model's train_step "
                           "(backends.train_step), which maps its variables to their state")
    return scope


def value_and_gradients(fn, variables):
    outer = _scope()
    own = {id(v) for v in variables}

    def loss(values):
        with keras.StatelessScope() as scope:
            scope.state_mapping.update(outer.state_mapping)
            scope.state_mapping.update({id(v): x for v, x in zip(variables, values)})
            value, aux = fn()
        # What fn assigned (batch norm's statistics, seed generators' states), not the inputs.
        updates = {key: x for key, x in scope.state_mapping.items()
                   if key not in own and x is not outer.state_mapping.get(key)}
        return value, (aux, updates)

    (value, (aux, updates)), grads = jax.value_and_grad(loss, has_aux=True)(
        [v.value for v in variables])
    outer.state_mapping.update(updates)
    return value, aux, grads


# === Stateless draws: JAX's threefry keys, from the same (seed, step, sub-step) ===

def step_seed(seed, step):
    return jax.random.fold_in(jax.random.PRNGKey(seed), jnp.asarray(step, jnp.uint32))


def fold_in(seed, i):
    return jax.random.fold_in(seed, i)


def normal(shape, seed):
    return jax.random.normal(seed, tuple(shape), jnp.float32)


def uniform(shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
    if jnp.issubdtype(jnp.dtype(dtype), jnp.integer):
        return jax.random.randint(seed, tuple(shape), minval, maxval, jnp.dtype(dtype))
    return jax.random.uniform(seed, tuple(shape), jnp.dtype(dtype), minval, maxval)


class Optimizers:
    """What Keras' JAX trainer asks of `model.optimizer`: the variables of the state it passes
    (here D's optimizer's, then G's), built in the model's compile."""

    built = True

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]


def prepare(model):
    model.optimizer = Optimizers(model.d_optimizer, model.g_optimizer)


def _groups(model):
    return (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
            model.metrics_variables)


def stateful_step(model, run, args):
    state, data = args
    groups = _groups(model)
    mapping = [(v, x) for variables, values in zip(groups, state)
               for v, x in zip(variables, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = run(data)
    return logs, tuple([scope.get_current_value(v) for v in variables] for variables in groups)
