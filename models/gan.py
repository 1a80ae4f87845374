"""`GAN(keras.Model)`: the vanilla GAN (Goodfellow et al. 2014), and Algorithm 1 for every variant.

`algorithm_1` is Algorithm 1 of the GAN paper (and of WGAN / WGAN-GP): `d_steps` discriminator
updates, each on its own real minibatch and fresh noise, then one generator update
(`train_step` hands it Keras' calls). A variant is
a subclass that extends what that skeleton calls, never the skeleton itself:

    make_latent()                what G is fed (here: Gaussian noise z)
    make_generator()             G on that input (here: the variant's networks)
    discriminator_heads(trunk)   D's outputs beside the real/fake logit (here: none)
    discriminator_loss(batch)    the named terms of D's objective
    generator_loss(batch)        the named terms of G's objective

Each subclass lives in its own file beside this one and owns everything of its variant: its
latent (what the export, grids and eval.py ask of it), heads, loss terms, logs, the options
only it takes (`options`) and any export signature of its own (`export_endpoints`);
models/variants.py names the class of every variant and holds its paper defaults.

Written with `keras.ops`; what differs between Keras backends (gradients, draws, loops,
replicas, the trainer's state) is behind backends/. Distribution-ready by construction: every
objective term is a per-example vector reduced once over the global batch, noise is drawn for
the global batch from a stateless seed (run seed, step, sub-step) and sliced per replica, and
the logs are global means.
"""
import dataclasses

import keras

import backends
import losses
from models import augment
from models.ema import GeneratorAverage
from models.latent import LatentSpec
from models.networks import ARCHITECTURES, build_discriminator, build_generator


@dataclasses.dataclass(frozen=True)
class Batch:
    """What one update's objective sees: this replica's share of the global batch."""
    real: object       # [size, ...] real samples as D sees them, T(x) under --augment (None in
                       # the generator update)
    labels: object     # [size] their class labels (None unless the model trains on labels)
    latents: dict      # the drawn latents: `z`, and what a subclass adds
    fake: object       # G(latents) as D sees it, T(G(z)) under --augment
    real_heads: dict   # D(real) (None in the generator update)
    fake_heads: dict   # D(fake)
    seed: object       # the update's stateless seed, for further draws
    size: int          # examples on this replica
    global_size: int   # examples on all replicas: the denominator of every mean


class GAN(keras.Model):
    """Generator + discriminator trained adversarially by `fit`.

    `fit` expects batches (x, labels) with x [B, d_steps, *data_shape] in [-1, 1] and labels
    [B, d_steps]: column i is the real minibatch of discriminator update i. With
    `steps_per_call` K > 1: x [B, K, d_steps, *data_shape] and labels [B, K, d_steps], column k
    feeding iteration k, and every log a [K] vector (one value per iteration).
    """

    uses_labels = False  # whether the data's class labels reach the objective
    # The options of models/variants.py that only some variants take (`only_some`), with the
    # values this class accepts (None: any value its check passes): here the generator cost
    # and the target of D's real term.
    options = {"loss": ("minimax", "non_saturating"), "real_label": None}

    def __init__(self, variant, data_shape, num_classes=0, seed=0, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        # A width of 0 in a row is the nets' own (training/config.py `resolve` fills it in).
        if not variant.width:
            variant = dataclasses.replace(variant, width=ARCHITECTURES[variant.arch].width)
        self.variant = variant
        self.data_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.seed = int(seed)
        # Algorithm 1 iterations per call of train_step (train.py's --steps_per_execution): K > 1
        # runs K of them in one traced loop, which XLA compiles as one program (set by
        # training/loop.py build_gan before the first call; 1: one iteration, as Keras calls it).
        self.steps_per_call = 1
        # {"d_loss" / "g_loss": {term: weight, or None if logged only}}, as the step traced
        # them: what the logs' descriptions say each objective is made of.
        self.objective_weights = {}
        problem = self.settings_problem(variant)
        if problem:
            raise ValueError(problem)
        self.latent = self.make_latent()
        self.loss = losses.LOSSES[variant.loss]  # D's loss, G's, and what D outputs
        # === Networks ===
        self.generator = self.make_generator()
        self.discriminator = build_discriminator(self.data_shape, variant.arch, variant.width,
                                                 variant.d_norm, heads=self.discriminator_heads,
                                                 dropout=variant.d_dropout)
        # DiffAugment's ops (models/augment.py; none by default) and the moving average of G
        # (models/ema.py; None by default): what the export, grids and eval sample from.
        self.augment_ops = augment.policy_ops(variant.augment)
        self.average = GeneratorAverage(self.generator, self.make_generator(), variant.ema
                                        ) if variant.ema else None
        if self.average:  # its weights are the model's state (on JAX, what the trainer passes)
            self.generator_average = self.average.generator
        # Number of generator updates done; also the stateless noise counter (the RNG state).
        self.step = self.add_weight(name="step", shape=(), dtype=backends.STEP_DTYPE,
                                    initializer="zeros", trainable=False,
                                    aggregation="only_first_replica")
        # Both networks are built functional models; without this, Keras would try to build
        # the GAN by calling it on a training batch under a strategy scope (docs/keras_traps.md).
        self.built = True

    @classmethod
    def settings_problem(cls, variant):
        """What in `variant` this class cannot train, in one line (training/config.py `resolve`
        refuses it before anything is built), or None."""
        if variant.real_label != 1.0 and variant.loss == "wasserstein":
            return "label smoothing (real_label) has no meaning for a critic's score"
        return None

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3's fit() under a strategy pulls a batch and MEAN-reduces it across replicas to
        # build the model symbolically; under MultiWorkerMirroredStrategy that reduction fails
        # ("Attempt to convert a value (PerReplica...)"). Both networks are built in __init__
        # and both optimizers in compile(): there is nothing left to build.
        return

    def call(self, generator_input, training=False):
        return self.generator(generator_input, training=training)

    def networks(self):
        """{name: network} of what a run trains: G, D (with any heads) and, under --ema, the
        averaged G."""
        nets = {"generator": self.generator, "discriminator": self.discriminator}
        if self.average:
            nets["average"] = self.average.generator
        return nets

    @property
    def sampler(self):
        """The generator that samples are drawn from: the moving average under --ema, else G."""
        return self.average.generator if self.average else self.generator

    def samples(self, latents):
        """The sampler's samples (inference mode) in the data's own coordinates: a toy protocol
        trains on data divided by `variant.data_scale`, so G's output is multiplied back."""
        x = self.sampler(self.latent.generator_input(latents), training=False)
        return x * self.variant.data_scale if self.variant.data_scale != 1 else x

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        # No optimizer for keras' own use: an unused one would be created outside any
        # strategy scope and break distributed fit (docs/keras_traps.md).
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built now, not lazily, so checkpoints restore their slots and MirroredStrategy works
        # (keras#19246).
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        backends.prepare(self)

    # === The vanilla GAN: what subclasses extend ===

    def make_latent(self):
        """z of the variant's `latent_dim` and `noise` distribution."""
        return LatentSpec(self.variant.latent_dim, noise=self.variant.noise)

    def make_generator(self):
        """G on the [N, latent.input_dim] vector `latent.generator_input` makes."""
        return self.generator_networks(self.latent.input_dim)

    def generator_networks(self, input_dim):
        """The variant's G networks on [N, input_dim]: D's architecture and width unless the
        row names G's own (`g_arch`, `g_width`), with `g_norm`."""
        v = self.variant
        return build_generator(input_dim, self.data_shape, v.g_arch or v.arch,
                               v.g_width or v.width, norm=v.g_norm)

    def discriminator_heads(self, trunk):
        """Outputs on D's trunk features beside the real/fake `logits`: none."""
        return {}

    def discriminator_loss(self, batch):
        """Terms of D's loss, {name: (weight, per-example values)}; weight None is logged only.

        L_D = -[log D(x) + log(1 - D(G(z)))] (Goodfellow 2014, eq. 1; losses/adversarial.py),
        real data's target `real_label` (1, or below it for one-sided label smoothing).
        """
        real, fake = batch.real_heads["logits"], batch.fake_heads["logits"]
        return {"d_adv": (1.0, self.loss.discriminator(real, fake, self.variant.real_label)),
                "d_real": (None, self.loss.output(real)),
                "d_fake": (None, self.loss.output(fake))}

    def generator_loss(self, batch):
        """Terms of G's loss: L_G = log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating,
        the paper's practical choice), per `variant.loss`."""
        return {"g_adv": (1.0, self.loss.generator(batch.fake_heads["logits"]))}

    def term_descriptions(self):
        """{log name: (TensorBoard group, what it is)} of what `train_step` logs: D's and G's
        objectives and their terms (`loss`), D's outputs (`D_output`), the gradient norms
        (`grad_norm`). Subclasses add their own terms under their own group.
        training/callbacks.py `ScalarLogger` adds each term's weight in its objective."""
        v = self.variant
        real = ("-[log D(x) + log(1 - D(G(z)))]" if v.real_label == 1.0 else
                f"-[{v.real_label:g} log D(x) + {1 - v.real_label:g} log(1 - D(x)) + "
                "log(1 - D(G(z)))] (one-sided label smoothing)")
        generator = {"minimax": "log(1 - D(G(z))), the minimax cost (it saturates when D "
                                "rejects G's samples)",
                     "non_saturating": "-log D(G(z)), the non-saturating cost"}
        return {
            "d_loss": ("loss", "D's objective, minimized: the weighted sum of its terms."),
            "g_loss": ("loss", "G's objective, minimized: the weighted sum of its terms."),
            "d_adv": ("loss", f"D's adversarial loss, batch mean of {real} (Goodfellow et al. "
                              "2014, eq. 1)."),
            "g_adv": ("loss", f"G's adversarial loss, batch mean of {generator.get(v.loss)}."),
            "d_real": ("D_output", "D(x) = sigmoid(logit): D's mean probability that a real "
                                   "example is real (its optimum is p_data / (p_data + p_g))."),
            "d_fake": ("D_output", "D(G(z)): D's mean probability that a generated example "
                                   "is real."),
            "d_grad_norm": ("grad_norm", "Global L2 norm of the gradient of d_loss over D's "
                                         "weights, before the update."),
            "g_grad_norm": ("grad_norm", "Global L2 norm of the gradient of g_loss over G's "
                                         "weights, before the update."),
        }

    def export_endpoints(self, archive, to_model_input, samples_spec):
        """Signatures of this variant beside the generator's (training/export.py): none."""

    # === Algorithm 1 ===

    def train_step(self, *args):
        """What Keras' fit calls per batch: `steps_per_call` iterations of `algorithm_1`
        (backends/ runs them, and on JAX passes the variables' state in and out)."""
        return backends.train_step(self, args)

    def algorithm_1(self, images, labels=None):
        """One iteration of Algorithm 1: `d_steps` discriminator updates, column i of `images`
        [B, d_steps, ...] (and `labels`) feeding update i, then one generator update; the
        noise of update i is drawn from (run seed, step, i). Returns the global logs (the last
        D update's, and G's)."""
        size = images.shape[0]  # static: the pipeline drops remainders
        global_size = size * backends.num_replicas()
        seed = backends.step_seed(self.seed, self.step)

        def update_discriminator(i):
            return self.update_discriminator(images[:, i], None if labels is None else
                                             labels[:, i], backends.fold_in(seed, i), size,
                                             global_size)

        logs = backends.repeat(update_discriminator, self.variant.d_steps,
                               update_discriminator(0), self.jit_compile)
        logs.update(self.update_generator(backends.fold_in(seed, self.variant.d_steps), size,
                                          global_size))
        if self.average:
            self.average.update(self.step)
        self.step.assign_add(1)
        return backends.global_logs(logs)

    def update_discriminator(self, real, labels, seed, size, global_size):
        """One step of D on `discriminator_loss`: real data against fresh samples of G."""
        latents = backends.own_rows(self.latent.sample(global_size, seed), size)
        real = self.seen(real, seed, augment.REAL, size, global_size)

        def terms():
            fake = self.seen(self.generator(self.latent.generator_input(latents), training=True),
                             seed, augment.FAKE, size, global_size)
            return self.discriminator_loss(Batch(
                real, labels, latents, fake, self.discriminator(real, training=True),
                self.discriminator(fake, training=True), seed, size, global_size))

        return self.descend("d_loss", terms, self.discriminator, self.d_optimizer, global_size)

    def update_generator(self, seed, size, global_size):
        """One step of G on `generator_loss`, through D (whose weights stay)."""
        latents = backends.own_rows(self.latent.sample(global_size, seed), size)

        def terms():
            fake = self.seen(self.generator(self.latent.generator_input(latents), training=True),
                             seed, augment.FAKE, size, global_size)
            return self.generator_loss(Batch(None, None, latents, fake, None,
                                             self.discriminator(fake, training=True), seed,
                                             size, global_size))

        return self.descend("g_loss", terms, self.generator, self.g_optimizer, global_size)

    def descend(self, name, terms, network, optimizer, global_size):
        """One optimizer step of `network` on the weighted sum of `terms()`, each term's mean
        over the global batch; returns the logs: every term, the total `name` and the
        gradient's norm before the update."""

        def objective():
            named = terms()
            self.objective_weights[name] = {term: w for term, (w, _) in named.items()}
            total, logs = 0.0, {}
            for term, (weight, per_example) in named.items():
                logs[term] = backends.share_of_mean(per_example, global_size)
                if weight is not None:
                    total += weight * logs[term]
            logs[name] = total
            return optimizer.scale_loss(total), logs  # scaled only under mixed precision

        variables = network.trainable_variables
        _, logs, grads = backends.value_and_gradients(objective, variables)
        logs[name[0] + "_grad_norm"] = backends.grad_norm(grads, optimizer)  # unscaled
        optimizer.apply(grads, variables)  # unscales the gradient; then any weight constraint
        return logs

    def seen(self, images, seed, which, size, global_size):
        """`images` as D sees them: through DiffAugment's ops when --augment names any, with
        the draw `which` (augment.REAL or FAKE) of the update's seed."""
        if not self.augment_ops:
            return images
        return augment.diff_augment(images, self.augment_ops, backends.fold_in(seed, which),
                                    size, global_size)
