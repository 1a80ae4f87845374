"""`ACGAN(GAN)`: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary
Classifier GANs".

G is fed noise z and a class label c; D has a second head that predicts the class of any image,
real or generated. With the source and class log-likelihoods

    L_S = E[log P(S=real | x_real)] + E[log P(S=fake | x_fake)]
    L_C = E[log P(C=c | x_real)]    + E[log P(C=c | x_fake)]

D maximizes L_S + L_C and G maximizes L_C - L_S (section 3). As losses: D minimizes the
adversarial loss plus the class cross-entropy on real images (their data labels) and, weighted
by `aux_fake_weight`, on generated ones (the labels asked for); G minimizes its adversarial loss
(-log D(G(z)) in practice) plus the class cross-entropy of its samples.

`aux_fake_weight=1` is the paper's L_C. The default is 0, the Keras AC-GAN example's choice
(keras-team/keras examples/mnist_acgan.py: sample weight 0 on generated images, "less stable"
otherwise): D's class head then learns from real digits only, and G is pushed towards what real
digits of class c look like. Measured on mnist_5k (benchmarks.time_to_quality,
docs/results.md): 92% class accuracy after 1,000 steps, against 80% with the paper's L_C.
"""
import dataclasses

import keras
from keras import layers, ops

import backends
import losses
from models.gan import GAN
from models.latent import GRID_COLUMNS, Grid, Label, LatentSpec


@dataclasses.dataclass(frozen=True)
class ClassLatent(LatentSpec):
    """z, plus `labels` [N] ~ U{0..num_classes-1}, fed to G one-hot."""
    num_classes: int = 10

    evaluation_rows = ("class_accuracy",)  # a classifier's accuracy on the asked-for class

    @property
    def input_dim(self):
        return self.noise_dim + self.num_classes

    @property
    def label(self):
        return Label("labels", self.num_classes, "class")

    def sample(self, batch_size, seed):
        latents = super().sample(batch_size, seed)
        latents["labels"] = backends.uniform([batch_size], backends.fold_in(seed, 1), 0,
                                             self.num_classes, "int32")
        return latents

    def generator_input(self, latents):
        """[z | one-hot label]."""
        return ops.concatenate([super().generator_input(latents),
                                ops.one_hot(latents["labels"], self.num_classes)], axis=1)

    def serving_inputs(self):
        return super().serving_inputs() + [("labels", [None], "int32")]

    def bounds(self):
        return {"labels": self.num_classes}

    def sizes(self):
        return {**super().sizes(), "num_classes": self.num_classes}

    def grids(self, seed=1234, class_names=()):
        """One row per class, the same noise down each column."""
        rows, cols = self.num_classes, GRID_COLUMNS
        z = ops.tile(self.sample(cols * rows, backends.step_seed(seed, 0))["z"][:cols], [rows, 1])
        return {"classes": Grid({"z": z, "labels": ops.repeat(ops.arange(rows), cols)}, rows, cols,
                                list(class_names) or [str(k) for k in range(rows)], None,
                                "one row per class, the same noise down each column")}


class ACGAN(GAN):

    uses_labels = True  # D learns the class of real images from their labels
    # Its loss is its paper's: no --loss.
    options = {"real_label": None, "aux_weight": None, "aux_fake_weight": None,
               "class_input": None}

    def make_latent(self):
        return ClassLatent(self.variant.latent_dim, noise=self.variant.noise,
                           num_classes=self.num_classes)

    def make_generator(self):
        """G on [z | one-hot c]; with `class_input="multiply"`, the Keras example's
        conditioning: G's networks get z * embed(c), a learned 100-d vector per class
        multiplied into the noise (keras-team/keras examples/mnist_acgan.py)."""
        if self.variant.class_input == "concat":
            return super().make_generator()
        noise_dim = self.latent.noise_dim
        networks = self.generator_networks(noise_dim)
        inputs = keras.Input((self.latent.input_dim,), name="latent")
        embedding = layers.Dense(noise_dim, use_bias=False, name="class_embedding",
                                 kernel_initializer="glorot_normal")(inputs[:, noise_dim:])
        outputs = networks(inputs[:, :noise_dim] * embedding)
        return keras.Model(inputs, outputs, name="generator")

    def discriminator_heads(self, trunk):
        """The auxiliary classifier: class logits on D's trunk."""
        return {"class_logits": layers.Dense(self.num_classes, name="class_logits",
                                             dtype="float32")(trunk)}

    def discriminator_loss(self, batch):
        w, w_fake = self.variant.aux_weight, self.variant.aux_weight * self.variant.aux_fake_weight
        return {**super().discriminator_loss(batch),
                "d_aux_real": (w, losses.class_loss(batch.labels,
                                                    batch.real_heads["class_logits"])),
                # Weight 0 (the Keras example's choice): logged, not trained on.
                "d_aux_fake": (w_fake or None, losses.class_loss(
                    batch.latents["labels"], batch.fake_heads["class_logits"]))}

    def generator_loss(self, batch):
        return {**super().generator_loss(batch),
                "g_aux": (self.variant.aux_weight, losses.class_loss(
                    batch.latents["labels"], batch.fake_heads["class_logits"]))}

    def term_descriptions(self):
        return {**super().term_descriptions(),
                "d_aux_real": ("acgan", "-log P(C = c | x) on real images and their labels: "
                                        "D's class loss on real data (L_C's first half)."),
                "d_aux_fake": ("acgan", "-log P(C = c | G(z, c)) on generated images and the "
                                        "classes asked for, in D's update (L_C's second half)."),
                "g_aux": ("acgan", "-log P(C = c | G(z, c)): G's class loss, the classes asked "
                                   "for as D's class head reads them.")}
