"""Losses against hand-computed numbers, TF-GAN's reference vectors and the theory they rest on
(TARGETS.md).

Backend-neutral, as the losses are: this file runs on TensorFlow with the suite, and once more
on JAX and on PyTorch with TensorFlow unimportable (`test_the_losses_hold_on_every_backend`)."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

import backends
import losses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_minimax_discriminator_loss_by_hand():
    real, fake = np.array([2.0, -1.0]), np.array([0.5, -3.0])
    expected = -(np.log(sigmoid(real)) + np.log(1.0 - sigmoid(fake)))
    got = _np(losses.minimax_discriminator_loss(real, fake[:, None]))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_generator_losses_by_hand():
    fake = np.array([1.5, -2.0, 0.0])
    np.testing.assert_allclose(_np(losses.minimax_generator_loss(fake)),
                               np.log(1.0 - sigmoid(fake)), rtol=1e-6)
    np.testing.assert_allclose(_np(losses.non_saturating_generator_loss(fake)),
                               -np.log(sigmoid(fake)), rtol=1e-6)


def test_wasserstein_losses_by_hand():
    real, fake = np.array([3.0, 1.0]), np.array([0.5, 2.0])
    np.testing.assert_allclose(_np(losses.wasserstein_critic_loss(real, fake)), [-2.5, 1.0])
    np.testing.assert_allclose(_np(losses.wasserstein_generator_loss(fake)), [-0.5, -2.0])


def _gaussian_pdf(x, mu, sigma):
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def test_optimal_discriminator_value_is_minus_two_log_two_plus_two_js():
    # Goodfellow 2014, Theorem 1: with D* = p_data / (p_data + p_g), V(G, D*) = -2 log 2 + 2 JS.
    x = np.linspace(-12, 14, 200001)
    dx = x[1] - x[0]
    p_data, p_g = _gaussian_pdf(x, 0.0, 1.0), _gaussian_pdf(x, 2.0, 1.5)
    d_star = p_data / (p_data + p_g)
    logit = np.log(d_star) - np.log1p(-d_star)
    # V(G, D) = E_data[log D] + E_g[log(1 - D)] = -E[L_D] with the loss's per-example terms.
    real_term = -_np(losses.minimax_discriminator_loss(logit, np.full_like(logit, -np.inf)))
    fake_term = -_np(losses.minimax_discriminator_loss(np.full_like(logit, np.inf), logit))
    value = np.sum(p_data * real_term) * dx + np.sum(p_g * fake_term) * dx
    m = 0.5 * (p_data + p_g)
    js = 0.5 * np.sum(p_data * np.log(p_data / m)) * dx + 0.5 * np.sum(p_g * np.log(p_g / m)) * dx
    assert 0.05 < js < math.log(2)
    assert value == pytest.approx(-2 * math.log(2) + 2 * js, abs=1e-6)
    # Any other D does worse: D* is the maximizer.
    for shift in (-0.5, 0.3):
        real_o = -losses.minimax_discriminator_loss(logit + shift, np.full_like(logit, -np.inf))
        fake_o = -losses.minimax_discriminator_loss(np.full_like(logit, np.inf), logit + shift)
        v_other = np.sum(p_data * _np(real_o)) * dx + np.sum(p_g * _np(fake_o)) * dx
        assert v_other < value


def test_js_is_log_two_for_disjoint_supports():
    # p_data and p_g with disjoint supports: D* is 1 on one and 0 on the other, V = 0 = -2log2+2JS.
    real_logit, fake_logit = np.array([30.0]), np.array([-30.0])
    value = -_np(losses.minimax_discriminator_loss(real_logit, fake_logit))[0]
    js = (value + 2 * math.log(2)) / 2
    assert js == pytest.approx(math.log(2), abs=1e-9)


def _logit_grad(loss_fn, logit):
    return float(_np(backends.input_gradient(loss_fn, ops.convert_to_tensor([logit], "float32")))
                 [0])


def test_minimax_generator_loss_saturates_non_saturating_does_not():
    # D(G(z)) = sigmoid(-10) ~ 4.5e-5: D confidently rejects the samples.
    minimax = abs(_logit_grad(losses.minimax_generator_loss, -10.0))
    non_saturating = abs(_logit_grad(losses.non_saturating_generator_loss, -10.0))
    assert minimax == pytest.approx(sigmoid(-10.0), rel=1e-4)      # |d/dl log(1 - D)| = D
    assert non_saturating == pytest.approx(1 - sigmoid(-10.0), rel=1e-4)  # |d/dl -log D| = 1 - D
    assert minimax < 1e-4 < 0.99 < non_saturating
    # Where D is fooled the roles flip, so both keep the same fixed point.
    assert abs(_logit_grad(losses.minimax_generator_loss, 10.0)) > 0.99


def test_gradient_penalty_is_zero_for_unit_norm_linear_critic():
    w = np.array([[0.6], [0.8]], np.float32)  # ||w|| = 1: the critic is exactly 1-Lipschitz
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    eps = rng.uniform(size=16)
    gp = _np(losses.gradient_penalty(lambda x: ops.matmul(x, w), real, fake, eps))
    assert gp.shape == (16,)
    np.testing.assert_allclose(gp, 0.0, atol=1e-8)
    # ||w|| = 2: (2 - 1)^2 = 1 for every example.
    gp2 = _np(losses.gradient_penalty(lambda x: ops.matmul(x, 2 * w), real, fake, eps))
    np.testing.assert_allclose(gp2, 1.0, rtol=1e-5)


def test_gradient_penalty_positive_for_nonlinear_critic_and_uses_interpolates():
    real = np.array([[1.0, 0.0], [0.0, 2.0]])
    fake = np.array([[-1.0, 0.0], [0.0, 0.0]])
    eps = np.array([0.9, 0.5])
    critic = lambda x: ops.sum(x ** 2, axis=1)  # noqa: E731  grad = 2x at x_hat
    x_hat = np.array([[0.8, 0.0], [0.0, 1.0]])  # eps * real + (1 - eps) * fake
    expected = (np.linalg.norm(2 * x_hat, axis=1) - 1.0) ** 2
    got = _np(losses.gradient_penalty(critic, real, fake, eps))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.all(got > 0)


def test_gradient_penalty_is_differentiable_in_the_critics_weights_and_finite_at_zero():
    """The penalty is a gradient; the critic's update takes the gradient of it (a gradient of
    a gradient, through backends.input_gradient twice). The epsilon inside the square root
    keeps it finite where grad f = 0."""
    real, fake = np.ones([4, 2], np.float32), np.zeros([4, 2], np.float32)

    def mean_penalty(w):  # [2, 1] critic weights -> [1] mean penalty of the linear critic x @ w
        return ops.reshape(ops.mean(losses.gradient_penalty(
            lambda x: ops.matmul(x, w), real, fake, np.ones([4], np.float32))), [1])

    zero = ops.zeros([2, 1])
    assert _np(mean_penalty(zero))[0] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.isfinite(_np(backends.input_gradient(mean_penalty, zero))))
    # At w = (0.3, 0.4), ||w|| = 0.5: GP = (||w|| - 1)^2, whose gradient is 2 (||w|| - 1) w/||w||.
    w = np.array([[0.3], [0.4]], np.float32)
    np.testing.assert_allclose(_np(backends.input_gradient(mean_penalty, ops.convert_to_tensor(w))),
                               2 * (0.5 - 1) * w / 0.5, rtol=1e-4)


def test_clip_weights():
    clipped = losses.clip_weights(np.array([[-0.5, 0.005, 2.0], [0.02, -0.001, 0.0]],
                                           np.float32), 0.01)
    np.testing.assert_allclose(_np(clipped), [[-0.01, 0.005, 0.01], [0.01, -0.001, 0.0]])


def test_categorical_code_loss_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    code = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(_np(losses.categorical_code_loss(code, logits)),
                               -np.log(p[[0, 1], code]), rtol=1e-6)
    # A Q that knows nothing gives CE = ln K, i.e. a mutual-information lower bound of 0.
    assert _np(losses.categorical_code_loss([1], [[0.0] * 10]))[0] == pytest.approx(
        math.log(10))


def test_gaussian_code_loss_by_hand():
    code, mean = np.array([[0.5, -1.0]]), np.array([[0.0, -0.5]])
    expected = np.sum(0.5 * np.log(2 * np.pi) + 0.5 * (code - mean) ** 2)
    assert _np(losses.gaussian_code_loss(code, mean))[0] == pytest.approx(expected, rel=1e-6)
    log_std = np.array([[0.3, -0.2]])
    sigma = np.exp(log_std)
    expected = np.sum(0.5 * np.log(2 * np.pi) + log_std + (code - mean) ** 2 / (2 * sigma ** 2))
    got = _np(losses.gaussian_code_loss(code, mean, log_std))[0]
    assert got == pytest.approx(expected, rel=1e-6)


def test_class_loss_is_single_softmax_cross_entropy():
    logits = np.array([[1.0, 2.0, 0.5]])
    p = np.exp(logits) / np.exp(logits).sum()
    assert _np(losses.class_loss([1], logits))[0] == pytest.approx(-np.log(p[0, 1]), rel=1e-6)


def test_one_sided_label_smoothing_is_the_cross_entropy_with_target_t_on_real_data():
    from losses import minimax_discriminator_loss, smoothed_discriminator_loss
    real, fake = np.array([-2.0, 0.3, 4.0], np.float32), np.array([1.0, -1.0, 0.0], np.float32)
    np.testing.assert_allclose(_np(smoothed_discriminator_loss(real, fake, 1.0)),
                               _np(minimax_discriminator_loss(real, fake)), rtol=1e-6)
    d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
    t = 0.9
    expected = -(t * np.log(d_real) + (1 - t) * np.log(1 - d_real) + np.log(1 - d_fake))
    np.testing.assert_allclose(_np(smoothed_discriminator_loss(real, fake, t)), expected,
                               rtol=1e-5)
    # Its optimum on real data is D(x) = t, not 1: D is kept from certainty.
    logits = np.linspace(-6, 6, 12001, dtype=np.float32)
    best = logits[np.argmin(_np(smoothed_discriminator_loss(logits, np.full_like(logits, -50),
                                                           t)))]
    assert 1 / (1 + np.exp(-best)) == pytest.approx(t, abs=1e-3)


# TF-GAN's reference vectors (tensorflow/gan, tensorflow_gan/python/losses/losses_impl_test.py):
# D's logits on real and generated data, and each loss's batch mean, to its 5 decimals.
TFGAN_REAL, TFGAN_GENERATED = [-5.0, 1.4, 12.5, 2.7], [10.0, 4.4, -5.5, 3.6]


def _mean(x):
    return float(np.mean(_np(x)))


def test_tf_gan_reference_vectors():
    real = np.array(TFGAN_REAL, np.float32)
    fake = np.array(TFGAN_GENERATED, np.float32)
    # modified_generator_loss: -log D(G(z)).
    assert _mean(losses.non_saturating_generator_loss(fake)) == pytest.approx(1.38582, abs=1e-5)
    # minimax_discriminator_loss at its default label_smoothing 0.25, which moves real data's
    # target to 1 - 0.25 / 2.
    assert _mean(losses.discriminator_loss(real, fake, 0.875)) == pytest.approx(6.19637,
                                                                                 abs=1e-5)
    # minimax_generator_loss is minus that D loss with real logits of 1 and no smoothing: our
    # log(1 - D(G(z))) plus the constant -log D(1) = softplus(-1).
    assert (_mean(losses.minimax_generator_loss(fake)) - math.log1p(math.exp(-1.0))
            == pytest.approx(-4.82408, abs=1e-5))
    assert _mean(losses.wasserstein_generator_loss(fake)) == pytest.approx(-3.125, abs=1e-5)
    assert _mean(losses.critic_loss(real, fake)) == pytest.approx(0.225, abs=1e-5)
    # acgan_generator_loss and acgan_discriminator_loss (one-hot labels 1, 2, 0, 0).
    generated = np.array([[10.0, 4.4, -5.5, 3.6], [-4.0, 4.4, 5.2, 4.6], [1.1, 2.4, -3.5, 5.6],
                          [1.1, 2.4, -3.5, 5.6]], np.float32)
    on_real = np.array([[-2.0, 0.4, 12.5, 2.7], [-1.2, 1.9, 12.3, 2.6], [-2.4, -1.7, 2.5, 2.7],
                        [1.1, 2.4, -3.5, 5.6]], np.float32)
    labels = np.array([1, 2, 0, 0], np.int32)
    assert _mean(losses.class_loss(labels, generated)) == pytest.approx(3.84974, abs=1e-5)
    assert (_mean(losses.class_loss(labels, on_real)) + _mean(losses.class_loss(labels, generated))
            == pytest.approx(9.43950, abs=1e-5))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_losses_hold_on_every_backend(backend):
    """This file again, on JAX and on PyTorch, in a process where TensorFlow cannot be imported:
    the losses and their backend module need nothing of it."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        pytest.skip("this is the run on another backend")
    code = ("import sys; sys.path.insert(0, 'tests'); import parity; "
            "sys.meta_path.insert(0, parity.HiddenTensorFlow()); import pytest; "
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-o', 'addopts=', "
            f"'--noconftest', {__file__!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300,
                            env=dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
