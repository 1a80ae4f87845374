"""`WGAN(GAN)`: Wasserstein GAN with weight clipping (Arjovsky et al. 2017) or a gradient penalty
(WGAN-GP, Gulrajani et al. 2017). One class: the two differ only in how the critic is kept
(near) 1-Lipschitz, which the variant table sets (`clip_value`, `gp_weight`).

Critic loss (Algorithm 1 of both papers; losses/adversarial.py, losses/penalties.py):
    L_D = E[f(G(z))] - E[f(x)] + lambda * E[(||grad f(x_hat)||_2 - 1)^2],
          x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per example   (WGAN-GP)
    w <- clip(w, -c, c) after every critic update                          (WGAN)
    L_G = -E[f(G(z))]
The critic has no sigmoid: `d_real` / `d_fake` log its raw values (the loss row's `output`),
and their difference is the estimate of the Earth-Mover distance. The `d_steps` critic updates
per generator update are the skeleton's (models/gan.py), as is the choice of the Wasserstein
loss pair (`loss` in the table).
"""
import functools

import backends
import losses
from models.gan import GAN


class WGAN(GAN):

    # The Lipschitz constraints are the critic's own options; its loss is fixed (wasserstein).
    options = {"gp_weight": None, "clip_value": None}

    def __init__(self, variant, *args, **kwargs):
        super().__init__(variant, *args, **kwargs)
        if variant.clip_value:
            # Clipped right after every critic update: Keras applies a variable's constraint
            # after the optimizer's update, in the right distribution context.
            for weight in self.discriminator.trainable_weights:
                weight.constraint = functools.partial(losses.clip_weights,
                                                      clip_value=variant.clip_value)

    def term_descriptions(self):
        lipschitz = (f"weights clipped to [-{self.variant.clip_value:g}, "
                     f"{self.variant.clip_value:g}] after every update"
                     if self.variant.clip_value else "")
        return {**super().term_descriptions(),
                "d_adv": ("loss", "The critic's loss E[f(G(z))] - E[f(x)]: minus its estimate "
                                  "of the Earth-Mover distance W(P_r, P_g) (Arjovsky et al. "
                                  "2017)" + (f", {lipschitz}." if lipschitz else ".")),
                "g_adv": ("loss", "G's loss -E[f(G(z))]."),
                "d_real": ("D_output", "E[f(x)]: the critic's mean value on real data, no "
                                       "sigmoid (d_real - d_fake estimates W)."),
                "d_fake": ("D_output", "E[f(G(z))]: the critic's mean value on generated "
                                       "data."),
                "gp": ("loss", "Gradient penalty E[(||grad f(x_hat)||_2 - 1)^2], x_hat = "
                               "eps x + (1 - eps) G(z), eps ~ U[0, 1] per example "
                               "(Gulrajani et al. 2017, eq. 3).")}

    def discriminator_loss(self, batch):
        terms = super().discriminator_loss(batch)
        if self.variant.gp_weight:
            # eps drawn for the global batch, then this replica's rows: any replica count
            # interpolates the same points.
            eps = backends.own_rows(backends.uniform(
                [batch.global_size], backends.fold_in(batch.seed, 7)), batch.size)
            terms["gp"] = (self.variant.gp_weight, losses.gradient_penalty(
                lambda x: self.discriminator(x, training=True)["logits"], batch.real,
                batch.fake, eps))
        return terms
