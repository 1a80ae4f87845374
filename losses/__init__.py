"""Pure loss functions: logits in, per-example losses out (reduced by the training step).
`LOSSES[name]` is the adversarial pair a variant's `loss` names (losses/adversarial.py)."""
from losses.adversarial import (LOSSES, AdversarialLoss, critic_loss, discriminator_loss,
                                minimax_discriminator_loss, minimax_generator_loss,
                                non_saturating_generator_loss, smoothed_discriminator_loss,
                                wasserstein_critic_loss, wasserstein_generator_loss)
from losses.auxiliary import categorical_code_loss, class_loss, gaussian_code_loss
from losses.penalties import clip_weights, gradient_penalty
