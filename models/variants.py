"""The six GAN variants as data: one frozen record each, one table for all.

A row names the class that trains it (models/gan.py, wgan.py, infogan.py, acgan.py) and holds
its paper's defaults; the classes read these fields and never branch on the variant's name.

`VARIANTS` holds the image runs' rows. `TOY_VARIANTS` holds, per 2-D mixture (ring8, grid25),
the rows of the variants whose reference code has a toy setup of its own: `gan` is PacGAN's GAN
baseline (packing 1), `wgan` and `wgan_gp` are gan_toy.py's two modes. training/config.py
`resolve` takes a variant's defaults from its toy row when the data is a toy mixture.
"""
import dataclasses
import types

import keras

from losses import LOSSES
from models.acgan import ACGAN
from models.augment import check_policy
from models.gan import GAN
from models.infogan import InfoGAN
from models.hparams import (at_least_zero, categories, hparam, label_target, non_negative,
                            positive, unit_interval)
from models.networks import ARCHS, NORMS
from models.wgan import WGAN


@dataclasses.dataclass(frozen=True)
class Variant:
    """A variant's paper defaults. Every field but its name, paper, class and note is a
    hyperparameter declared with `hparam`, which a flag can override (training/config.py
    derives the flags, their checks and the resume identity from these declarations)."""
    name: str
    paper: str
    model_class: type      # the keras.Model subclass that trains this variant
    arch: str = hparam(
        help="D's networks, and G's unless --g_arch (models/networks.py); an image net's "
             "rows use mlp on the 2-D mixtures.", choices=ARCHS, resume="same_or_row")
    d_norm: str = hparam(
        help="D's hidden-layer normalization (the nets whose trunk takes one: mlp, dcgan, "
             "infogan_mnist).", choices=NORMS, resume="same_if_recorded")
    loss: str = hparam(
        help="The adversarial loss pair; gan/dcgan choose the generator cost: log(1-D(G(z))) "
             "(minimax) or -log D(G(z)) (non_saturating).", choices=tuple(LOSSES),
        only_some=True)
    latent_dim: int = hparam(help="Size of the noise z.", check=positive, resume="same")
    batch_size: int = hparam(help="Examples per discriminator update.", check=positive,
                             resume="same")
    d_steps: int = hparam(help="Discriminator (critic) updates per generator update (k, "
                               "n_critic).", check=positive, resume="same")
    optimizer: str = hparam(help="The optimizer of both networks: adam (with --beta_1, "
                                 "--beta_2) or rmsprop.", choices=("adam", "rmsprop"),
                            resume="same_or_row")
    d_lr: float = hparam(help="Discriminator learning rate.", check=positive)
    g_lr: float = hparam(help="Generator learning rate.", check=positive)
    noise: str = hparam("normal", help="Distribution of the noise z: normal, N(0, I), or "
                                       "uniform, U(-1, 1).", choices=("normal", "uniform"),
                        resume="same_or_row")
    train_steps: int = hparam(3000, help="Generator updates in the whole run (the toy "
                                         "protocols' own on ring8/grid25).", check=positive)
    beta_1: float = hparam(0.5, help="Adam beta_1 of both optimizers.", check=unit_interval)
    beta_2: float = hparam(0.999, help="Adam beta_2 of both optimizers.", check=unit_interval)
    gp_weight: float = hparam(0.0, help="Gradient-penalty weight lambda (0: none).",
                              check=non_negative, only_some=True)
    clip_value: float = hparam(0.0, help="Critic weight-clipping bound c (0: none).",
                               check=non_negative, only_some=True)
    aux_weight: float = hparam(0.0, help="AC-GAN: weight of the class loss, in D's and G's "
                                         "objectives.", check=non_negative, only_some=True)
    aux_fake_weight: float = hparam(
        1.0, help="AC-GAN: share of D's class loss taken on generated images (1: the paper's "
                  "L_C; 0: real images only, the Keras example's; docs/variants.md).",
        check=non_negative, only_some=True)
    class_input: str = hparam(
        "concat", help="AC-GAN: G gets [z | one-hot c] (concat) or z * embed(c) (multiply, "
                       "the Keras example's).", choices=("concat", "multiply"),
        only_some=True, resume="same_or_row")
    real_label: float = hparam(
        1.0, help="D's target on real data (< 1: one-sided label smoothing, Salimans et al. "
                  "2016); not for a critic.", check=label_target, only_some=True)
    d_dropout: float = hparam(
        0.0, help="Dropout rate after each of D's hidden activations (the mlp and dcgan "
                  "trunks; the Keras AC-GAN example's 0.3).", check=unit_interval)
    num_categorical: int = hparam(
        0, help="InfoGAN: categories of the categorical code (0: no categorical code).",
        check=categories, only_some=True, resume="same_or_row")
    num_continuous: int = hparam(0, help="InfoGAN: number of U(-1, 1) continuous codes.",
                                 check=non_negative, only_some=True, resume="same_or_row")
    info_weight: float = hparam(0.0, help="InfoGAN: lambda of the categorical code's "
                                          "mutual-information term.", check=non_negative,
                                only_some=True)
    info_weight_continuous: float = hparam(
        0.0, help="InfoGAN: lambda of the continuous codes' mutual-information term.",
        check=non_negative, only_some=True)
    width: int = hparam(0, help="Base width: conv channels or MLP units (0 in a row: the "
                                "nets' own, 64 for conv nets, 512 for MLPs; toy protocols: 512 "
                                "gan_toy.py, 400 PacGAN's G with 200-unit maxout D).",
                        check=positive, resume="same")
    g_norm: str = hparam("batch", help="Batch norm in G's hidden layers, or none (the nets "
                                       "that have it: dcgan, infogan_mnist, pacgan_toy).",
                         choices=("batch", "none"), resume="same_if_recorded")
    g_arch: str = hparam("", help="G's networks when not D's (e.g. mlp: the WGAN paper's MLP "
                                  "generator).", choices=ARCHS, neutral="",
                         resume="same_if_recorded")
    g_width: int = hparam(0, help="G's width when not --width (0: --width).",
                          check=at_least_zero("--width"), resume="same_if_recorded")
    data_scale: float = hparam(
        1.0, help="Toy data: divide the training points by this (e.g. 1.414 on ring8 for "
                  "wgan_gp); samples and scores stay in the data's coordinates.",
        check=positive, data="toy", neutral=1.0, resume="same_if_recorded")
    train_points: int = hparam(
        0, help="Toy data: train on a fixed set of this many points drawn from the seed (0: "
                "fresh draws every batch).", check=at_least_zero("fresh draws every batch"),
        data="toy", neutral=0, resume="same_if_recorded")
    augment: str = hparam(
        "", help="DiffAugment policy: a comma-separated list of color, translation, cutout, "
                 "applied to every image D sees, real and generated, in both updates "
                 "(docs/augment.md); empty: none.", check=check_policy, data="image",
        neutral="", resume="same_or_off")
    ema: float = hparam(
        0.0, help="Decay per generator update of an exponential moving average of G's weights "
                  "(e.g. 0.999; docs/augment.md): exported as saved_model/, the raw G as "
                  "saved_model_raw/; 0: none.", check=unit_interval, neutral=0.0,
        resume="same_or_off")
    note: str = ""


# Read-only: a run changes a variant's fields by its settings (training/config.py), never the row.
VARIANTS = types.MappingProxyType({v.name: v for v in [
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
            latent_dim=100, train_steps=1500, batch_size=100, d_steps=1, optimizer="adam",
            d_lr=2e-4, g_lr=2e-4, aux_weight=1.0, aux_fake_weight=0.0, class_input="multiply",
            note="as keras-team/keras examples/mnist_acgan.py: D's class loss on real images "
                 "only (the paper's objective also trains it on generated ones: 80% class "
                 "accuracy at 1,000 steps against 92%, docs/results.md) and G fed z * embed(c) "
                 "(94.2% at 1,250 steps against 91.7% with [z | one-hot c]); G's source term is "
                 "-log D(G(z)); 1,500 steps: the quickstart's length"),
]})


_NOISE = {"normal": "N(0,1)", "uniform": "U(-1,1)"}


# === Toy protocols: the reference code's own 2-D setups ===
# gan_toy.py = igul222/improved_wgan_training gan_toy.py @fa66c57 (the WGAN-GP code);
# PacGAN = fjxmlzn/PacGAN synthetic_data_experiments/2D{Ring,Grid}_GAN&PacGAN/ @190853e.

def _gan_toy(name, dataset, **fields):
    """gan_toy.py's setup, MODE wgan (RMSProp 5e-5, clipping at 0.01: gan_toy.py:109-133) or
    wgan-gp (Adam 1e-4, 0.5, 0.9: :88-107; LAMBDA 0.1: :23): DIM 512 nets (:20, 31-58), 2-D
    noise (:46), CRITIC_ITERS 5 (:25), BATCH_SIZE 256 (:26), ITERS 100,000 (:27); 8gaussians
    fresh each batch / 1.414 (:202-226), 25gaussians a fixed set of 100,000 points / 2.828
    (:174-189)."""
    ring = dataset == "ring8"
    return dataclasses.replace(
        VARIANTS[name], paper=VARIANTS[name].paper + ", gan_toy.py", arch="wgan_gp_toy",
        d_norm="none", latent_dim=2, batch_size=256, d_steps=5, train_steps=100_000, width=512,
        data_scale=1.414 if ring else 2.828, train_points=0 if ring else 100_000, **fields)


def _pacgan(dataset):
    """PacGAN's GAN baseline (packing 1): config.py:15-36 and pacgan_task.py:42-100."""
    return dataclasses.replace(
        VARIANTS["gan"], paper="Lin et al. 2018 (PacGAN), packing 1", arch="pacgan_toy",
        d_norm="none", loss="non_saturating", latent_dim=2, batch_size=100, d_steps=1,
        optimizer="adam", d_lr=1e-4, g_lr=1e-4, beta_1=0.8, beta_2=0.999,
        train_steps=400_000, width=400, train_points=100_000,
        # Their ring has radius 1, std 0.01 (2DRing config.py:6-7): ours / 2. Their grid is ours.
        data_scale=2.0 if dataset == "ring8" else 1.0,
        note="D and G take turns, G on fresh noise (Algorithm 1, the one training step of "
             "every variant); PacGAN's ali_algorithm updates both at once from one batch. The "
             "fixed set is balanced over the modes (theirs: a bootstrap resample of one draw)")


_GAN_TOY_ORDER = ("G updates after the critic's, not before (the one training step of every "
                  "variant: the same sequence but for the last G update)")
_GAN_TOY_SET = ("; the fixed set is reshuffled every epoch (the pipeline's stateless "
                "permutation; theirs: shuffled once)")

TOY_VARIANTS = types.MappingProxyType({dataset: types.MappingProxyType({
    "gan": _pacgan(dataset),
    "wgan": _gan_toy("wgan", dataset,
                     note=_GAN_TOY_ORDER + ("" if dataset == "ring8" else _GAN_TOY_SET)),
    "wgan_gp": _gan_toy("wgan_gp", dataset, beta_1=0.5, beta_2=0.9, gp_weight=0.1,
                        note=_GAN_TOY_ORDER + ("" if dataset == "ring8" else _GAN_TOY_SET)),
}) for dataset in ("ring8", "grid25")})


def variant_for(model, dataset, toy_defaults=True):
    """The row of `model` for `dataset`: its toy row on a toy mixture (if it has one and
    `toy_defaults`), else its image row."""
    if toy_defaults and model in TOY_VARIANTS.get(dataset, {}):
        return TOY_VARIANTS[dataset][model]
    return VARIANTS[model]


def make_optimizer(row, lr):
    """The optimizer `row` names (a Variant, or a resolved Config, which has the same fields)
    at learning rate `lr`: RMSprop, or Adam with the row's beta_1 and beta_2."""
    if row.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.Adam(lr, beta_1=row.beta_1, beta_2=row.beta_2)


def _optimizer(v):
    return (f"Adam({v.d_lr:g} / {v.g_lr:g}, b1={v.beta_1:g}, b2={v.beta_2:g})"
            if v.optimizer == "adam" else f"RMSProp({v.d_lr:g} / {v.g_lr:g})")


def _extra(v):
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
    return "; ".join(extra) or "-"


def markdown_table():
    """docs/variants.md's defaults table, generated from VARIANTS (a test keeps them equal)."""
    rows = ["| model | class | paper | nets | D norm | loss | z | batch | d_steps | steps "
            "| optimizer (D / G lr) | extra | notes |", "|" + "---|" * 13]
    for v in VARIANTS.values():
        rows.append(f"| `{v.name}` | `{v.model_class.__name__}` | {v.paper} | {v.arch} | "
                    f"{v.d_norm} | {v.loss} | {v.latent_dim} x {_NOISE[v.noise]} | {v.batch_size} | "
                    f"{v.d_steps} | "
                    f"{v.train_steps:,} | {_optimizer(v)} | {_extra(v)} | {v.note or '-'} |")
    return "\n".join(rows)


def toy_markdown_table():
    """docs/variants.md's table of the toy rows (TOY_VARIANTS), kept equal by the same test."""
    rows = ["| data | model | reference | nets (width) | loss | z | batch | d_steps | steps "
            "| optimizer (D / G lr) | extra | training data | not followed, and why |",
            "|" + "---|" * 13]
    for dataset, variants in TOY_VARIANTS.items():
        for v in variants.values():
            data = (f"fixed set of {v.train_points:,}" if v.train_points
                    else "fresh draws each batch")
            if v.data_scale != 1:
                data += f", / {v.data_scale:g}"
            rows.append(f"| {dataset} | `{v.name}` | {v.paper} | {v.arch} ({v.width}) | "
                        f"{v.loss} | N(0, I_{v.latent_dim}) | {v.batch_size} | {v.d_steps} | "
                        f"{v.train_steps:,} | {_optimizer(v)} | {_extra(v)} | {data} | "
                        f"{v.note or '-'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
    print()
    print(toy_markdown_table())
