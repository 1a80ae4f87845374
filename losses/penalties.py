"""Lipschitz constraints on the critic: gradient penalty (WGAN-GP) and weight clipping (WGAN)."""
from keras import ops

import backends

# Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1.


def gradient_penalty(critic_fn, real, fake, epsilon, norm_epsilon=1e-10):
    """GP = (||grad_x_hat f(x_hat)||_2 - 1)^2 per example, x_hat = eps * x + (1 - eps) * G(z).

    The caller multiplies by lambda (10 in the paper) and averages. `norm_epsilon` sits inside
    the square root so the gradient of the norm stays finite when grad f(x_hat) = 0.

    Args:
        critic_fn: maps a batch [N, ...] to critic values [N] or [N, 1]. Must treat examples
            independently (no batch norm): then d sum_i f(x_i) / d x_i = d f(x_i) / d x_i.
        real: [N, ...] real data x.
        fake: [N, ...] generated data, same shape and dtype as `real`.
        epsilon: [N] interpolation weights, eps ~ U[0, 1] per example.
        norm_epsilon: small constant added under the square root.
    Returns:
        [N] float32 penalty.
    """
    real = ops.cast(real, "float32")
    fake = ops.cast(fake, "float32")
    eps = ops.reshape(ops.cast(epsilon, "float32"), [-1] + [1] * (len(real.shape) - 1))
    x_hat = eps * real + (1.0 - eps) * fake
    grads = backends.input_gradient(critic_fn, x_hat)  # the backend's nested gradient
    squared = ops.sum(ops.reshape(ops.square(grads), [ops.shape(grads)[0], -1]), axis=1)
    return ops.square(ops.sqrt(squared + norm_epsilon) - 1.0)


# Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Algorithm 1, line 8.


def clip_weights(weights, clip_value):
    """w <- clip(w, -c, c): the WGAN critic's weights after each update (c = 0.01).

    Pure: returns the clipped value. The GAN installs it as every critic variable's Keras
    `constraint`, which the optimizer applies right after each update, in the right
    distribution context (a plain `assign` from a replica would fail under MirroredStrategy).
    """
    return ops.clip(weights, -clip_value, clip_value)
