"""The six GAN variants as data: one frozen record each, one table for all.

A row names the class that trains it (models/gan.py, wgan.py, infogan.py, acgan.py) and holds
its paper's defaults; the classes read these fields and never branch on the variant's name.
"""
import dataclasses

from models.acgan import ACGAN
from models.gan import GAN
from models.infogan import InfoGAN
from models.wgan import WGAN


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    paper: str
    model_class: type      # the keras.Model subclass that trains this variant
    arch: str              # networks for image data: "mlp", "dcgan" or "infogan_mnist" (toy: "mlp")
    d_norm: str            # normalization in D's hidden layers: "batch", "layer" or "none"
    loss: str              # adversarial loss pair: "minimax", "non_saturating" or "wasserstein"
    latent_dim: int        # size of the noise z
    batch_size: int
    d_steps: int           # discriminator (critic) updates per generator update
    optimizer: str         # "adam" or "rmsprop", for both networks
    d_lr: float
    g_lr: float
    noise: str = "normal"  # z ~ N(0, I) ("normal") or U(-1, 1) ("uniform")
    train_steps: int = 3000    # generator updates of a run (--train_steps overrides)
    beta_1: float = 0.5    # Adam only
    beta_2: float = 0.999  # Adam only
    gp_weight: float = 0.0     # lambda of the gradient penalty (0: none)
    clip_value: float = 0.0    # bound c of critic weight clipping (0: none)
    aux_weight: float = 0.0    # weight of the AC-GAN class loss
    aux_fake_weight: float = 1.0  # AC-GAN: share of D's class loss on generated images (paper: 1)
    d_dropout: float = 0.0     # dropout rate after each of D's hidden activations (dcgan, mlp)
    real_label: float = 1.0    # D's target on real data (< 1: one-sided label smoothing)
    class_input: str = "concat"  # AC-GAN: G gets [z | one-hot c] ("concat") or z * embed(c)
    num_categorical: int = 0   # InfoGAN: categories of the categorical code (0: no code)
    num_continuous: int = 0    # InfoGAN: number of U(-1, 1) continuous codes
    info_weight: float = 0.0             # lambda of the categorical mutual-information term
    info_weight_continuous: float = 0.0  # lambda of the continuous mutual-information term
    note: str = ""


VARIANTS = {v.name: v for v in [
    Variant("gan", "Goodfellow et al. 2014", model_class=GAN,
            arch="mlp", d_norm="none", loss="non_saturating",
            latent_dim=100, batch_size=100, d_steps=1, optimizer="adam", d_lr=2e-4, g_lr=2e-4,
            note="paper: k=1, -log D(G(z)) in practice; MLP nets; Adam replaces the paper's "
                 "SGD+momentum schedule"),
    Variant("dcgan", "Radford et al. 2016", model_class=GAN,
            arch="dcgan", d_norm="batch", loss="non_saturating",
            latent_dim=100, batch_size=128, d_steps=1, optimizer="adam", d_lr=2e-4, g_lr=2e-4),
    Variant("wgan", "Arjovsky et al. 2017", model_class=WGAN,
            arch="dcgan", d_norm="batch", loss="wasserstein",
            latent_dim=100, batch_size=64, d_steps=5, optimizer="rmsprop", d_lr=5e-5, g_lr=5e-5,
            clip_value=0.01),
    Variant("wgan_gp", "Gulrajani et al. 2017", model_class=WGAN,
            arch="dcgan", d_norm="layer", loss="wasserstein",
            latent_dim=128, batch_size=64, d_steps=5, optimizer="adam", d_lr=1e-4, g_lr=1e-4,
            beta_1=0.0, beta_2=0.9, gp_weight=10.0,
            note="no batch norm in the critic (layer norm); their toy code used lambda=0.1"),
    Variant("infogan", "Chen et al. 2016", model_class=InfoGAN,
            arch="infogan_mnist", d_norm="batch", loss="non_saturating",
            latent_dim=62, noise="uniform", train_steps=5000, batch_size=128, d_steps=1,
            optimizer="adam", d_lr=2e-4, g_lr=1e-3,
            num_categorical=10, num_continuous=2, info_weight=1.0, info_weight_continuous=1.0,
            note="the official code (openai/InfoGAN launchers/run_mnist_exp.py, "
                 "infogan/models/regularized_gan.py, infogan/algos/infogan_trainer.py): its "
                 "MNIST nets, 62-d U(-1,1) noise, coefficient 1 for every code, 50 x 100 "
                 "updates; Q = FC128+BN+LReLU on D's FC1024 features, continuous codes as "
                 "unit-variance Gaussians"),
    Variant("acgan", "Odena et al. 2017", model_class=ACGAN,
            arch="dcgan", d_norm="batch", loss="non_saturating",
            latent_dim=100, train_steps=1000, batch_size=100, d_steps=1, optimizer="adam",
            d_lr=2e-4, g_lr=2e-4, aux_weight=1.0, aux_fake_weight=0.0,
            note="D's class loss on real images only, as in keras-team/keras "
                 "examples/mnist_acgan.py (the paper's objective also trains it on generated "
                 "ones: 80% class accuracy at 1,000 steps against 92%, README); G's source term "
                 "is -log D(G(z)); 1,000 steps: the quickstart's length"),
]}


_NOISE = {"normal": "N(0,1)", "uniform": "U(-1,1)"}


def markdown_table():
    """The defaults table of the README, generated from VARIANTS (a test keeps them equal)."""
    rows = ["| model | class | paper | nets | D norm | loss | z | batch | d_steps | steps "
            "| optimizer (D / G lr) | extra | notes |", "|" + "---|" * 13]
    for v in VARIANTS.values():
        opt = (f"Adam({v.d_lr:g} / {v.g_lr:g}, b1={v.beta_1:g}, b2={v.beta_2:g})"
               if v.optimizer == "adam" else f"RMSProp({v.d_lr:g} / {v.g_lr:g})")
        extra = []
        if v.gp_weight:
            extra.append(f"GP lambda={v.gp_weight:g}")
        if v.clip_value:
            extra.append(f"clip c={v.clip_value:g}")
        if v.aux_weight:
            extra.append(f"class loss weight={v.aux_weight:g} (D, generated: "
                         f"{v.aux_weight * v.aux_fake_weight:g})")
        if v.num_categorical or v.num_continuous:
            extra.append(f"Cat({v.num_categorical}) + {v.num_continuous} x U(-1,1), "
                         f"lambda={v.info_weight:g} / {v.info_weight_continuous:g}")
        rows.append(f"| `{v.name}` | `{v.model_class.__name__}` | {v.paper} | {v.arch} | "
                    f"{v.d_norm} | {v.loss} | {v.latent_dim} x {_NOISE[v.noise]} | "
                    f"{v.batch_size} | {v.d_steps} | {v.train_steps:,} | "
                    f"{opt} | {'; '.join(extra) or '-'} | {v.note or '-'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
