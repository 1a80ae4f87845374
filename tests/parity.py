"""Cross-backend parity harness (tests/test_backends.py): one variant's model class trained for 3
Algorithm-1 iterations through Keras' `fit`, on whatever backend this process runs.

Both sides start from the same weights (TensorFlow's, passed to the other side) and see the same
real batches and the same random draws: every stateless draw of backends/ (latents, WGAN-GP's
eps, DiffAugment's) is replaced by numpy's generator in call order, the step running eagerly so
that each call draws anew. It imports no TensorFlow.

    python tests/parity.py IN.npz OUT.npz   runs every variant on this process's backend from
                                            IN's weights; with --mutants, also each loss
                                            term's mutant; with --hide-tensorflow, `import
                                            tensorflow` fails
"""
import dataclasses
import importlib.abc
import importlib.machinery
import os
import sys

import numpy as np

SHAPE, NUM_CLASSES, BATCH, ITERATIONS = (16, 16, 1), 10, 16, 3
# Each variant's row with tiny nets; DCGAN and AC-GAN also with --augment and --ema.
AUGMENT_EMA = {"augment": "color,translation", "ema": 0.9}
SETTINGS = {"gan": {"width": 16}, "dcgan": {"width": 8, **AUGMENT_EMA},
            "wgan": {"width": 8}, "wgan_gp": {"width": 8}, "infogan": {"width": 8},
            "acgan": {"width": 8, **AUGMENT_EMA},
            # PacGAN's toy protocol: its 2-D nets (maxout D, G with batch norm), on points.
            "gan_ring8": {"width": 16}}
TOY = {"gan_ring8": ("ring8", "gan")}  # a toy row: (mixture, variant)
OUTPUTS = ("d_real", "d_fake")  # D's outputs: logged, not loss terms


class Draws:
    """backends' `normal` and `uniform`, drawn from numpy in call order instead."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, seed):
        return self._tensor(self.rng.standard_normal(_shape(shape)).astype(np.float32))

    def uniform(self, shape, seed, minval=0.0, maxval=1.0, dtype="float32"):
        if "int" in str(dtype):
            return self._tensor(self.rng.integers(int(minval), int(maxval), _shape(shape))
                                .astype(np.int32))
        return self._tensor(self.rng.uniform(float(minval), float(maxval), _shape(shape))
                            .astype(np.float32))

    @staticmethod
    def _tensor(array):
        import keras
        return keras.ops.convert_to_tensor(array)


def _shape(shape):
    return tuple(int(d) for d in shape)


def variant_of(name):
    from models.variants import TOY_VARIANTS, VARIANTS
    row = TOY_VARIANTS[TOY[name][0]][TOY[name][1]] if name in TOY else VARIANTS[name]
    return dataclasses.replace(row, **SETTINGS[name])


def shape_of(name):
    return (2,) if name in TOY else SHAPE


def batches(variant, shape):
    """The real data [N, d_steps, *shape] in [-1, 1] and their labels, N = 3 batches."""
    rng = np.random.default_rng(1)
    n = ITERATIONS * BATCH
    x = rng.uniform(-1, 1, (n, variant.d_steps, *shape)).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, (n, variant.d_steps)).astype(np.int32)
    return x, y


def mutate(gan, term):
    """One loss term made wrong: its sign flipped, or weight 1 where it is logged only."""
    for method in ("discriminator_loss", "generator_loss"):
        original = getattr(gan, method)

        def wrong(batch, original=original):
            terms = original(batch)
            if term in terms:
                weight, values = terms[term]
                terms[term] = (-weight if weight else 1.0, values)
            return terms

        setattr(gan, method, wrong)


def train(name, initial=None, mutant=None, iterations=ITERATIONS):
    """(initial weights, [logs of each iteration], final weights) of `name`'s `iterations`,
    from `initial` ({net: [arrays]}) when given, else from this backend's initialization."""
    import keras

    import backends
    from models.variants import make_optimizer
    variant = variant_of(name)
    keras.utils.set_random_seed(0)
    gan = variant.model_class(variant, shape_of(name), NUM_CLASSES, seed=0)

    gan.compile(make_optimizer(variant, variant.d_lr), make_optimizer(variant, variant.g_lr),
                run_eagerly=True)
    if initial:
        for net, model in gan.networks().items():
            model.set_weights(initial[net])
    start = {net: model.get_weights() for net, model in gan.networks().items()}
    if mutant:
        mutate(gan, mutant)
    rows = []  # the logs of each iteration
    log = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: rows.append(
        {k: float(np.asarray(v)) for k, v in logs.items()}))
    module, draws = backends.current(), Draws(2)
    saved = module.normal, module.uniform
    module.normal, module.uniform = draws.normal, draws.uniform
    try:
        x, y = (a[:iterations * BATCH] for a in batches(variant, shape_of(name)))
        gan.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[log])
    finally:
        module.normal, module.uniform = saved
    return start, rows, {net: model.get_weights() for net, model in gan.networks().items()}


def loss_terms(logs):
    """The terms a mutant can make wrong: every logged term but the totals, D's outputs,
    the gradient norms and what is derived from the others."""
    return [k for k in logs if k not in OUTPUTS and not k.endswith(("_loss", "_grad_norm"))
            and k != "mi_lower_bound"]


def flatten(prefix, initial, logs, final):
    out = {}
    for net, arrays in final.items():
        for i, a in enumerate(arrays):
            out[f"{prefix}/final/{net}/{i}"] = a
    for net, arrays in (initial or {}).items():
        for i, a in enumerate(arrays):
            out[f"{prefix}/initial/{net}/{i}"] = a
    for i, row in enumerate(logs):
        for k, v in row.items():
            out[f"{prefix}/logs/{i}/{k}"] = np.float64(v)
    return out


def unflatten(arrays, prefix):
    """(initial, logs, final) of `prefix` in an npz written by `flatten`."""
    initial, logs, final = {}, {}, {}
    for key in arrays:
        if not key.startswith(prefix + "/"):
            continue
        kind, *rest = key[len(prefix) + 1:].split("/")
        if kind == "logs":
            logs.setdefault(int(rest[0]), {})[rest[1]] = float(arrays[key])
        else:
            target = initial if kind == "initial" else final
            target.setdefault(rest[0], {})[int(rest[1])] = arrays[key]
    as_lists = lambda d: {n: [v[i] for i in sorted(v)] for n, v in d.items()}  # noqa: E731
    return as_lists(initial), [logs[i] for i in sorted(logs)], as_lists(final)


def augmented():
    """DiffAugment's three ops on fixed images, with injected draws (backends' draws)."""
    import keras

    import backends
    from models import augment
    module, draws = backends.current(), Draws(3)
    saved = module.uniform, module.fold_in
    module.uniform, module.fold_in = draws.uniform, lambda seed, i: seed
    try:
        images = np.random.default_rng(4).uniform(-1, 1, (BATCH, *SHAPE)).astype(np.float32)
        return keras.ops.convert_to_numpy(augment.diff_augment(
            keras.ops.convert_to_tensor(images), augment.OPS, None, BATCH, BATCH))
    finally:
        module.uniform, module.fold_in = saved


def main(source, target, mutants=False):
    reference = np.load(source)
    out = {"augmented": augmented()}
    for name in SETTINGS:
        initial, ref_logs, _ = unflatten(reference, name)
        _, logs, final = train(name, initial)
        out.update(flatten(name, None, logs, final))
        for term in loss_terms(ref_logs[0]) if mutants else ():
            _, logs, final = train(name, initial, mutant=term, iterations=1)
            out.update(flatten(f"{name}~{term}", None, logs, final))
    np.savez(target, **out)


class HiddenTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import tensorflow` fails as where it is not installed, while `find_spec` (which
    PyTorch's compiler asks of every library it skips) finds a spec without a file, so nothing
    that merely looks for TensorFlow trips on it."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ModuleNotFoundError(f"No module named {module.__name__!r}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--hide-tensorflow" in sys.argv:
        sys.meta_path.insert(0, HiddenTensorFlow())
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(*args, mutants="--mutants" in sys.argv)
