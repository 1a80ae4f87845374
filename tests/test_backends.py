"""Cross-backend parity: every variant class trains on JAX and on PyTorch what it trains on
TensorFlow.

Each variant (tests/parity.py: its row with tiny nets on 16x16 images, batch 16; DCGAN and
AC-GAN with --augment=color,translation and --ema; and PacGAN's toy protocol on 2-D points) is trained for 3 Algorithm-1 iterations by
Keras' `fit` here on TensorFlow, then on JAX and on PyTorch, each in a process where
`import tensorflow` fails,
starting from TensorFlow's initial weights, on the same real batches and the same random draws
(injected in call order). The tolerance, float32's after 3 iterations of the variant's own
optimizer (Adam turns the rounding of an exactly-zero gradient, that of a bias before batch
norm, into a step of the learning rate's size, so weights are compared by network):

- every logged value of every iteration: |other - tf| <= 1e-3 (|tf| + 0.01);
- each network's weights: ||W_other - W_tf|| <= 2e-3 ||W_tf - W_0||, the norm of what 3
  iterations moved them.

A mutant of each loss term (its sign flipped, or weight 1 where it is logged only), trained on
PyTorch, must break it: its first iteration's logs miss TensorFlow's by more than 10x the
tolerance. (On PyTorch, whose mutants cost least; the comparison is the one every backend
passes.)

Two differences of Keras' layers between the backends are kept out, and said in
docs/backends.md: TensorFlow's synchronized batch norm (the project's default on TensorFlow)
computes the variance as E[x^2] - E[x]^2, which on 16 examples differs from the others' in the 4th
digit, so the reference is computed with plain batch norm; and the derivative of LeakyReLU at
exactly 0 is the slope on TensorFlow and 1 on JAX, which cutout's zeroed squares reach, so
cutout is compared on its own (`test_augment_is_the_same_function_on_every_backend`).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import backends
import parity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_RTOL, UPDATE_RTOL = 1e-3, 2e-3


BACKENDS = ("jax", "torch")
MUTANTS = "torch"  # the backend that trains the mutants


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(TensorFlow's arrays, TensorFlow's runs, {backend: its arrays}); the other backends run
    side by side."""
    folder = tmp_path_factory.mktemp("parity")
    module = backends.current()
    saved, module.SYNC_BATCH_NORM = module.SYNC_BATCH_NORM, False
    try:
        reference = {name: parity.train(name) for name in parity.SETTINGS}
    finally:
        module.SYNC_BATCH_NORM = saved
    arrays = {"augmented": parity.augmented()}
    for name, run in reference.items():
        arrays.update(parity.flatten(name, *run))
    np.savez(folder / "tensorflow.npz", **arrays)
    processes = {backend: subprocess.Popen(
        [sys.executable, parity.__file__, str(folder / "tensorflow.npz"),
         str(folder / f"{backend}.npz"), "--hide-tensorflow"]
        + (["--mutants"] if backend == MUTANTS else []),
        env=dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for backend in BACKENDS}
    for backend, process in processes.items():
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"{backend}: {err[-3000:]}"
    return arrays, reference, {b: np.load(folder / f"{b}.npz") for b in BACKENDS}


def log_error(expected, logs):
    """max |a - b| / (|a| + 0.01) over every logged value of every iteration."""
    assert len(logs) == len(expected) and all(a.keys() == b.keys()
                                              for a, b in zip(expected, logs))
    return max(abs(a[k] - b[k]) / (abs(a[k]) + 0.01) for a, b in zip(expected, logs) for k in a)


def update_error(initial, expected, final):
    """max over networks of ||W - W_expected|| / ||W_expected - W_0||."""
    worst = 0.0
    for net in expected:
        moved = sum(float(np.sum((e - w) ** 2)) for e, w in zip(expected[net], initial[net]))
        assert moved > 0, f"{net} did not train"
        missed = sum(float(np.sum((e - f) ** 2)) for e, f in zip(expected[net], final[net]))
        worst = max(worst, (missed / moved) ** 0.5)
    return worst


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(parity.SETTINGS))
def test_each_variant_trains_on_every_backend_what_it_trains_on_tensorflow(runs, name, backend):
    _, reference, other = runs
    initial, logs, final = reference[name]
    _, other_logs, other_final = parity.unflatten(other[backend], name)
    assert len(logs) == parity.ITERATIONS
    assert log_error(logs, other_logs) <= LOG_RTOL
    assert update_error(initial, final, other_final) <= UPDATE_RTOL


@pytest.mark.parametrize("name", list(parity.SETTINGS))
def test_a_wrong_sign_or_weight_in_any_loss_term_breaks_the_parity(runs, name):
    _, reference, other = runs
    logs = reference[name][1]
    terms = parity.loss_terms(logs[0])
    assert {"d_adv", "g_adv"} <= set(terms)
    for term in terms:
        _, mutant_logs, _ = parity.unflatten(other[MUTANTS], f"{name}~{term}")
        assert log_error(logs[:1], mutant_logs) > 10 * LOG_RTOL, f"a wrong {term} went unseen"


def test_the_mutants_cover_every_loss_term_of_the_papers(runs):
    _, reference, _ = runs
    terms = {name: set(parity.loss_terms(run[1][0])) for name, run in reference.items()}
    assert terms["wgan_gp"] == {"d_adv", "gp", "g_adv"}
    assert terms["acgan"] == {"d_adv", "d_aux_real", "d_aux_fake", "g_adv", "g_aux"}
    assert terms["infogan"] == {"d_adv", "d_info_categorical", "d_info_continuous", "g_adv",
                                "g_info_categorical", "g_info_continuous"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_augment_is_the_same_function_on_every_backend(runs, backend):
    """color, translation and cutout on the same images and draws: the same images."""
    arrays, _, other = runs
    np.testing.assert_allclose(other[backend]["augmented"], arrays["augmented"], rtol=1e-6,
                               atol=1e-6)
    assert (arrays["augmented"] == 0).any()  # cutout's square is there
