"""What the theory experiments share: the command line, output files, small discriminators and
one compiled training loop.

Flags are defined by `define_flags`, called only when an experiment runs as a script: eval.py
defines `--seed` too, and the test suite imports both into one process, where absl would refuse
the second definition.
"""
import json
import math
import os
import sys
import tempfile
import time

import keras
import matplotlib
import numpy as np
import tensorflow as tf
from absl import flags, logging

from models.networks import build_discriminator

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the non-interactive backend is chosen)

RESULTS_DIR = "results"


class ExperimentError(Exception):
    """An input the experiment cannot use; the message says what to do instead."""


# === Command line ===

def define_flags(name):
    flags.DEFINE_bool("quick", False, "A small, fast version of the same protocol (for tests).")
    flags.DEFINE_string("out_dir", None,
                        f"Directory for {name}.png and {name}.json (default: results/{name}).")
    flags.DEFINE_integer("seed", 0, "Seed of the networks' weights and of every sample.")


def cli_main(name, run, extra_flags=()):
    """An absl `main`: flags -> run(out_dir, quick=, seed=, **extra) -> a summary on stdout;
    an ExperimentError becomes one `error: ...` line and exit status 1, a training stopped by
    SIGINT/SIGTERM (checkpointed) one `stopped: ...` line and exit status 130, as train.py."""
    from training.loop import Interrupted  # here: the theory experiments never train a run

    def main(argv):
        values = flags.FLAGS
        if not values["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        if len(argv) > 1:
            sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; "
                     "flags take the form --name=value")
        extra = {k: values[k].value for k in extra_flags}
        try:
            record = run(values.out_dir or os.path.join(RESULTS_DIR, name), quick=values.quick,
                         seed=values.seed, **extra)
        except ExperimentError as e:
            sys.exit(f"error: {e}")
        except Interrupted as e:
            print(f"stopped: {e}", file=sys.stderr)
            sys.exit(130)
        if record is None:  # a run that only trained (its summary is another process's)
            return
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in record["summary"].items()))
        print(f"wrote {record['files']['figure']} and {record['files']['json']}")

    return main


# === Output ===

def prepare_out_dir(out_dir):
    """Creates `out_dir`, or raises ExperimentError before any computation starts."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ExperimentError(f"--out_dir {out_dir} is a file; pass a directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
        # A probe of its own: seeds run side by side open one out_dir at the same moment.
        fd, probe = tempfile.mkstemp(prefix=".write_test", dir=out_dir)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ExperimentError(f"cannot write to --out_dir {out_dir}: {e.strerror or e}; "
                              "pass a writable directory") from None


def _rounded(value):
    """JSON-ready copy: numpy scalars/arrays to Python, floats to 6 significant digits."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_rounded(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if not math.isfinite(value) or value == 0 else float(f"{value:.6g}")
    return value


def write_outputs(out_dir, name, figure, record, started):
    """Writes <name>.png (small: 100 dpi) and <name>.json; returns the record as written."""
    png, path = os.path.join(out_dir, f"{name}.png"), os.path.join(out_dir, f"{name}.json")
    figure.savefig(png, dpi=100)
    plt.close(figure)
    record = dict(record, files={"figure": png, "json": path},
                  wall_seconds=time.perf_counter() - started)
    return write_json(path, record)


def write_json(path, value, indent=2):
    """Writes the rounded copy of `value` to `path` atomically (a temporary file, then a
    rename: a killed run never leaves half a record); returns that copy."""
    value = _rounded(value)
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=indent)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return value


def new_figure(columns=1, width=5.0, height=3.4, **kwargs):
    figure, axes = plt.subplots(1, columns, figsize=(width * columns, height),
                                constrained_layout=True, squeeze=False, **kwargs)
    return figure, axes[0]


# === Networks and training ===

def mlp_discriminator(input_dim, width, seed):
    """The repo's MLP discriminator (3 hidden LeakyReLU(0.2) layers of `width`, no
    normalization, one logit) on points of `input_dim`, weights drawn from `seed`."""
    keras.utils.set_random_seed(seed)
    return build_discriminator((input_dim,), "mlp", width, "none")


def logits_of(net, x):
    """[N] logits (or critic values) of a discriminator built by the repo."""
    return tf.reshape(net(x)["logits"], [-1])


class Restarter:
    """Puts a network and its optimizer back to their initial values, so that one traced
    training loop can train "from scratch" many times without retracing."""

    def __init__(self, variables, optimizer):
        optimizer.build(variables)
        self._variables = list(variables) + list(optimizer.variables)
        self._initial = [v.numpy() for v in self._variables]

    def __call__(self):
        for variable, value in zip(self._variables, self._initial):
            variable.assign(value)


def training_loop(variables, optimizer, loss_fn):
    """A tf.function(steps, seed, *args) making `steps` optimizer updates of `variables` on
    loss_fn(step_seed, *args), step_seed = fold_in(seed, i); returns the last loss."""

    @tf.function
    def train(steps, seed, *args):
        loss = tf.constant(0.0)
        for i in tf.range(steps):
            step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(i, tf.int64))
            with tf.GradientTape() as tape:
                loss = loss_fn(step_seed, *args)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
        return loss

    return train


def seed_pair(*values):
    """A [2] int64 stateless seed from integers."""
    seed = tf.constant([values[0], 0], tf.int64)
    for v in values[1:]:
        seed = tf.random.experimental.stateless_fold_in(seed, v)
    return seed


def evaluate(fn, x, chunk=1 << 16):
    """fn applied to a large array in chunks; returns a numpy array."""
    return np.concatenate([np.asarray(fn(tf.constant(x[i:i + chunk])))
                           for i in range(0, len(x), chunk)])
