"""Auxiliary losses: InfoGAN's mutual-information term and AC-GAN's class term (per example)."""
import math

from keras import ops

# Chen et al. 2016, "InfoGAN", eq. 4-5: L_I(G, Q) = E[log Q(c | G(z, c))] + H(c) <= I(c; G(z, c)).
# Both G and Q minimize the negative log-likelihood part, -E[log Q(c | x)].


def categorical_code_loss(code, code_logits):
    """-log Q(c | x) for a categorical code, per example: cross-entropy with the drawn code.

    Args:
        code: [N] int code values in [0, K).
        code_logits: [N, K] logits of Q's categorical head.
    Returns:
        [N] float32. The categorical MI lower bound is H(c) - mean(loss) = ln K - mean(loss).
    """
    return ops.sparse_categorical_crossentropy(ops.cast(code, "int32"),
                                              ops.cast(code_logits, "float32"), from_logits=True)


def gaussian_code_loss(code, mean, log_std=None):
    """-log Q(c | x) for continuous codes modelled as a factored Gaussian, per example:

        sum_j [0.5 log(2 pi) + log sigma_j + (c_j - mu_j)^2 / (2 sigma_j^2)]

    With `log_std=None` sigma = 1 (the official InfoGAN MNIST setting, fix_std=True).

    Args:
        code: [N, k] drawn continuous codes.
        mean: [N, k] Q's predicted means.
        log_std: optional [N, k] predicted log standard deviations.
    Returns:
        [N] float32 negative log-likelihood.
    """
    code = ops.cast(code, "float32")
    mean = ops.cast(mean, "float32")
    log_std = ops.zeros_like(mean) if log_std is None else ops.cast(log_std, "float32")
    z = (code - mean) * ops.exp(-log_std)
    return ops.sum(0.5 * math.log(2.0 * math.pi) + log_std + 0.5 * ops.square(z), axis=1)


# Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", eq. 2:
# L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]. D maximizes L_S + L_C, G maximizes
# L_C - L_S: the class term is applied to real AND generated images.


def class_loss(labels, class_logits):
    """-log P(C = c | x) per example (softmax cross-entropy on logits; softmax applied once).

    Args:
        labels: [N] int class labels (true labels for real x, requested ones for G(z, c)).
        class_logits: [N, num_classes] logits of D's auxiliary classifier head.
    Returns:
        [N] float32.
    """
    return ops.sparse_categorical_crossentropy(ops.cast(labels, "int32"),
                                              ops.cast(class_logits, "float32"), from_logits=True)
