"""`InfoGAN(GAN)`: Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets".

G is fed noise z and a latent code c: one categorical code (Cat(K), uniform) and k continuous
codes (U(-1, 1)). A head Q on D's trunk predicts c from G(z, c), and both networks also minimize
the negative log-likelihood of the code, which maximizes the variational lower bound

    L_I(G, Q) = E[log Q(c | G(z, c))] + H(c) <= I(c; G(z, c))          (eq. 4-5)
    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q)                       (eq. 6)

Q's continuous part is a unit-variance Gaussian around its predicted mean (the official code's
fix_std=True). The labels of the data are never seen: the categorical code finds the digits, if
it does, unsupervised. `mi_lower_bound` logs L_I's batch estimate, ln K - E[-log Q(c | x)].
"""
import dataclasses
import math

import numpy as np
from keras import layers, ops

import backends
import losses
from models.gan import GAN
from models.latent import GRID_COLUMNS, Grid, Label, LatentSpec
from models.networks import normalization, style


TRAVERSAL = (-2.0, 2.0)  # range of a continuous code across the columns of its grid


@dataclasses.dataclass(frozen=True)
class CodeLatent(LatentSpec):
    """z, plus `categorical` [N] ~ U{0..K-1} and `continuous` [N, k] ~ U(-1, 1)."""
    num_categorical: int = 10
    num_continuous: int = 2

    @property
    def input_dim(self):
        return self.noise_dim + self.num_categorical + self.num_continuous

    @property
    def label(self):
        return Label("categorical", self.num_categorical, "code") if self.num_categorical else None

    @property
    def evaluation_rows(self):
        # Q's categorical code as an unsupervised classifier of real data, and L_I on samples.
        return ("code_accuracy",) if self.num_categorical else ()

    def sample(self, batch_size, seed):
        latents = super().sample(batch_size, seed)
        if self.num_categorical:
            latents["categorical"] = backends.uniform(
                [batch_size], backends.fold_in(seed, 2), 0, self.num_categorical, "int32")
        if self.num_continuous:
            latents["continuous"] = backends.uniform(
                [batch_size, self.num_continuous], backends.fold_in(seed, 3), -1.0, 1.0)
        return latents

    def generator_input(self, latents):
        """[z | one-hot categorical code | continuous codes]."""
        parts = [super().generator_input(latents)]
        if self.num_categorical:
            parts.append(ops.one_hot(latents["categorical"], self.num_categorical))
        if self.num_continuous:
            parts.append(ops.cast(latents["continuous"], "float32"))
        return ops.concatenate(parts, axis=1)

    def serving_inputs(self):
        inputs = super().serving_inputs()
        if self.num_categorical:
            inputs.append(("categorical", [None], "int32"))
        if self.num_continuous:
            inputs.append(("continuous", [None, self.num_continuous], "float32"))
        return inputs

    def bounds(self):
        return {"categorical": self.num_categorical} if self.num_categorical else {}

    def sizes(self):
        return {**super().sizes(), "num_categorical": self.num_categorical,
                "num_continuous": self.num_continuous}

    def grids(self, seed=1234, class_names=()):
        """`categorical`: one row per category value, noise varying across the columns
        (continuous codes at 0); `continuous_j`: one row per category value, code j from -2 to
        2 across the columns, the noise fixed per row, the other codes at 0. Without a
        categorical code: the plain grid."""
        if not self.num_categorical:
            return super().grids(seed, class_names)
        rows, cols, k = self.num_categorical, GRID_COLUMNS, self.num_continuous
        z = self.sample(cols * rows, backends.step_seed(seed, 0))["z"]
        codes = [f"c={c}" for c in range(rows)]
        categorical = ops.repeat(ops.arange(rows), cols)
        grids = {"categorical": Grid(
            {"z": z[:rows * cols], "categorical": categorical,
             **({"continuous": ops.zeros([rows * cols, k])} if k else {})}, rows, cols, codes,
            None, "one row per categorical code value, noise varies across the columns")}
        for j in range(k):
            sweep = np.zeros([rows * cols, k], np.float32)
            sweep[:, j] = np.tile(np.linspace(*TRAVERSAL, cols), rows)
            grids[f"continuous_{j}"] = Grid(
                {"z": ops.repeat(z[:rows], cols, axis=0), "categorical": categorical,
                 "continuous": ops.convert_to_tensor(sweep)}, rows, cols, codes,
                [f"{v:+.1f}" for v in np.linspace(*TRAVERSAL, cols)],
                f"continuous code {j} across the columns, noise fixed per row")
        return grids


class InfoGAN(GAN):

    # Its loss is its paper's: no --loss.
    options = {"real_label": None, "num_categorical": None, "num_continuous": None,
               "info_weight": None, "info_weight_continuous": None}

    @classmethod
    def settings_problem(cls, variant):
        if not (variant.num_categorical or variant.num_continuous):
            return ("infogan needs a latent code: --num_categorical >= 2 or --num_continuous "
                    ">= 1")
        return None

    def make_latent(self):
        v = self.variant
        return CodeLatent(v.latent_dim, noise=v.noise, num_categorical=v.num_categorical,
                          num_continuous=v.num_continuous)

    def discriminator_heads(self, trunk):
        """Q shares D's trunk: FC 128 - BN - LeakyReLU, then the code parameters."""
        arch = self.variant.arch
        # Bias-free before batch norm, except in the official nets, whose layers all have one.
        q = layers.Dense(128, use_bias=arch == "infogan_mnist", name="q_dense",
                         **style(arch).init)(trunk)
        q = layers.LeakyReLU(style(arch).leaky_slope)(normalization("batch", "q_bn", arch)(q))
        heads = {}
        if self.latent.num_categorical:
            heads["code_logits"] = layers.Dense(self.latent.num_categorical, name="code_logits",
                                                dtype="float32", **style(arch).init)(q)
        if self.latent.num_continuous:
            heads["code_mean"] = layers.Dense(self.latent.num_continuous, name="code_mean",
                                              dtype="float32", **style(arch).init)(q)
        return heads

    def code_terms(self, batch, prefix):
        """lambda * -log Q(c | G(z, c)) per code kind, on the generated samples."""
        v, terms = self.variant, {}
        if self.latent.num_categorical:
            terms[prefix + "info_categorical"] = (v.info_weight, losses.categorical_code_loss(
                batch.latents["categorical"], batch.fake_heads["code_logits"]))
        if self.latent.num_continuous:
            terms[prefix + "info_continuous"] = (
                v.info_weight_continuous,
                losses.gaussian_code_loss(batch.latents["continuous"],
                                          batch.fake_heads["code_mean"]))
        return terms

    def discriminator_loss(self, batch):
        """D's loss and Q's: Q trains with D's optimizer."""
        return {**super().discriminator_loss(batch), **self.code_terms(batch, "d_")}

    def generator_loss(self, batch):
        return {**super().generator_loss(batch), **self.code_terms(batch, "g_")}

    def term_descriptions(self):
        k = self.latent.num_categorical
        categorical = (f"-log Q(c | G(z, c)) of the categorical code c ~ Cat({k}): minus L_I "
                       f"(eq. 4) up to H(c) = ln {k}")
        continuous = ("-log Q(c | G(z, c)) of the continuous codes, Q a unit-variance Gaussian "
                      "around its predicted mean (up to a constant)")
        return {**super().term_descriptions(),
                "d_info_categorical": ("infogan", categorical + ", in D's and Q's update."),
                "d_info_continuous": ("infogan", continuous + ", in D's and Q's update."),
                "g_info_categorical": ("infogan", categorical + ", in G's update."),
                "g_info_continuous": ("infogan", continuous + ", in G's update."),
                "mi_lower_bound": ("infogan", f"L_I = ln {k} - g_info_categorical: the "
                                              "variational lower bound on I(c; G(z, c)) "
                                              f"(eq. 5); its ceiling is H(c) = ln {k} = "
                                              f"{math.log(k) if k else 0:.3f}.")}

    def export_endpoints(self, archive, to_model_input, samples_spec):
        """`infer_codes(samples)`: Q (on D's trunk) on samples in the export's format, the code
        as an unsupervised classifier (eval.py's code accuracy)."""
        if not self.latent.num_categorical:
            return
        archive.track(self.discriminator)

        def infer_codes(samples):
            heads = self.discriminator(to_model_input(samples), training=False)
            outputs = {"categorical_logits": ops.cast(heads["code_logits"], "float32")}
            if self.latent.num_continuous:
                outputs["continuous_mean"] = ops.cast(heads["code_mean"], "float32")
            return outputs

        archive.add_endpoint("infer_codes", infer_codes, input_signature=[samples_spec])

    def algorithm_1(self, images, labels=None):  # unsupervised: the data's labels never come
        logs = super().algorithm_1(images, labels)
        if self.latent.num_categorical:
            # L_I = H(c) - E[-log Q(c | x)], H(c) = ln K for a uniform code.
            logs["mi_lower_bound"] = (math.log(self.latent.num_categorical)
                                      - logs["g_info_categorical"])
        return logs
