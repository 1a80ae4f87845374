"""Adversarial losses of the GAN family, as per-example vectors.

Every function takes discriminator (critic) logits of shape [N] or [N, 1] and returns a
per-example loss of shape [N]. Reduction to a scalar happens in one place, the training step,
over the global batch, so the same functions are correct under `tf.distribute`.
D(x) = sigmoid(logits(x)); log D = -softplus(-l) and log(1 - D) = -softplus(l) are the
numerically stable forms. Written with `keras.ops`: they run on every Keras backend.
"""
import dataclasses
from typing import Callable

from keras import ops


def _flat(logits):
    return ops.reshape(ops.cast(logits, "float32"), [-1])


# Goodfellow et al. 2014, "Generative Adversarial Nets", eq. 1 and Algorithm 1.

def minimax_discriminator_loss(real_logits, fake_logits):
    """L_D = -[log D(x) + log(1 - D(G(z)))], per example (D ascends V(D, G)).

    Args:
        real_logits: [N] or [N, 1] logits of D on real data x.
        fake_logits: [N] or [N, 1] logits of D on generated data G(z).
    Returns:
        [N] float32 loss; its mean is -V(D, G) on the minibatch.
    """
    return ops.softplus(-_flat(real_logits)) + ops.softplus(_flat(fake_logits))


def smoothed_discriminator_loss(real_logits, fake_logits, real_target):
    """L_D with one-sided label smoothing (Salimans et al. 2016, section 3.4): real data's target
    is `real_target` (e.g. 0.9) instead of 1, generated data's stays 0, per example:
    -[t log D(x) + (1 - t) log(1 - D(x)) + log(1 - D(G(z)))]. t = 1 is the minimax L_D."""
    real = _flat(real_logits)
    return (real_target * ops.softplus(-real) + (1.0 - real_target) * ops.softplus(real)
            + ops.softplus(_flat(fake_logits)))


def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    """D's loss of the GAN paper, with real data's target `real_label`: the minimax L_D at 1,
    one-sided label smoothing below it."""
    if real_label == 1.0:
        return minimax_discriminator_loss(real_logits, fake_logits)
    return smoothed_discriminator_loss(real_logits, fake_logits, real_label)


def minimax_generator_loss(fake_logits):
    """L_G = log(1 - D(G(z))), per example: the original (saturating) minimax cost.

    Its gradient w.r.t. the logit is -D(G(z)), which vanishes as D(G(z)) -> 0, i.e. exactly
    when D confidently rejects the samples (Goodfellow 2014, section 3; Arjovsky & Bottou 2017).
    """
    return -ops.softplus(_flat(fake_logits))


def non_saturating_generator_loss(fake_logits):
    """L_G = -log D(G(z)), per example: the heuristic cost of Goodfellow 2014, section 3.

    Same fixed point as the minimax cost, but its gradient w.r.t. the logit is
    -(1 - D(G(z))), which stays large when D rejects the samples.
    """
    return ops.softplus(-_flat(fake_logits))


# Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Algorithm 1 (also used by WGAN-GP).

def wasserstein_critic_loss(real_critic, fake_critic):
    """L_D = f(G(z)) - f(x), per example; minimizing its mean maximizes the dual estimate
    E[f(x)] - E[f(G(z))] of the Earth-Mover distance W(P_r, P_g) over (near) 1-Lipschitz f.
    The critic has no sigmoid and no log."""
    return _flat(fake_critic) - _flat(real_critic)


def critic_loss(real_critic, fake_critic, real_label=1.0):
    """The critic's loss in `LOSSES`: a critic's score has no label to smooth."""
    if real_label != 1.0:
        raise ValueError("label smoothing (real_label) has no meaning for a critic's score")
    return wasserstein_critic_loss(real_critic, fake_critic)


def wasserstein_generator_loss(fake_critic):
    """L_G = -f(G(z)), per example."""
    return -_flat(fake_critic)


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """One row of `LOSSES`: D's loss, G's loss, and what D's outputs are (`d_real` / `d_fake`
    log `output` of D's logits)."""
    discriminator: Callable  # (real_logits, fake_logits, real_label) -> [N]
    generator: Callable      # fake_logits -> [N]
    output: Callable         # logits -> D(x) = sigmoid(logits), or the critic's value f(x)


def _probability(logits):
    return ops.sigmoid(_flat(logits))


LOSSES = {
    "minimax": AdversarialLoss(discriminator_loss, minimax_generator_loss, _probability),
    # Only G's cost differs (Goodfellow 2014).
    "non_saturating": AdversarialLoss(discriminator_loss, non_saturating_generator_loss,
                                      _probability),
    "wasserstein": AdversarialLoss(critic_loss, wasserstein_generator_loss, _flat),
}
