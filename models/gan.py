"""`GAN(keras.Model)`: the vanilla GAN (Goodfellow et al. 2014), and Algorithm 1 for every variant.

`train_step` is Algorithm 1 of the GAN paper (and of WGAN / WGAN-GP): `d_steps` discriminator
updates, each on its own real minibatch and fresh noise, then one generator update. A variant is
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

Distribution-ready by construction (models/replicas.py): every objective term is a per-example
vector reduced once over the global batch, noise is drawn for the global batch from a stateless
seed (run seed, step, sub-step) and sliced per replica, and the logs are global means.
"""
import dataclasses

import keras
import tensorflow as tf

import losses
from models import augment, replicas
from models.ema import GeneratorAverage
from models.latent import LatentSpec
from models.networks import ARCHITECTURES, build_discriminator, build_generator


@dataclasses.dataclass(frozen=True)
class Batch:
    """What one update's objective sees: this replica's share of the global batch."""
    real: tf.Tensor    # [size, ...] real samples as D sees them, T(x) under --augment (None in
                       # the generator update)
    labels: tf.Tensor  # [size] their class labels (None unless the model trains on labels)
    latents: dict      # the drawn latents: `z`, and what a subclass adds
    fake: tf.Tensor    # G(latents) as D sees it, T(G(z)) under --augment
    real_heads: dict   # D(real) (None in the generator update)
    fake_heads: dict   # D(fake)
    seed: tf.Tensor    # the update's stateless seed, for further draws
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
        # True: the d_steps discriminator updates are traced one by one even where they would
        # loop (`loops_d_steps`); benchmarks/train_step.py counts FLOPs on that graph (a loop's
        # body would count once).
        self.unroll_d_steps = False
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
        self.d_loss_fn = losses.DISCRIMINATOR_LOSSES[variant.loss]
        self.g_loss_fn = losses.GENERATOR_LOSSES[variant.loss]
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
        # Number of generator updates done; also the stateless noise counter (the RNG state).
        self.step = self.add_weight(name="step", shape=(), dtype="int64", initializer="zeros",
                                    trainable=False, aggregation="only_first_replica")
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

    def discriminator_output(self, logits):
        """What `d_real` / `d_fake` log: D(x) = sigmoid(logits), a probability."""
        return tf.sigmoid(logits)

    def discriminator_loss(self, batch):
        """Terms of D's loss, {name: (weight, per-example values)}; weight None is logged only.

        L_D = -[log D(x) + log(1 - D(G(z)))] (Goodfellow 2014, eq. 1; losses/adversarial.py).
        """
        real, fake = batch.real_heads["logits"], batch.fake_heads["logits"]
        target = self.variant.real_label
        d_adv = (self.d_loss_fn(real, fake) if target == 1.0
                 else losses.smoothed_discriminator_loss(real, fake, target))
        return {"d_adv": (1.0, d_adv),
                "d_real": (None, tf.reshape(self.discriminator_output(real), [-1])),
                "d_fake": (None, tf.reshape(self.discriminator_output(fake), [-1]))}

    def generator_loss(self, batch):
        """Terms of G's loss: L_G = log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating,
        the paper's practical choice), per `variant.loss`."""
        return {"g_adv": (1.0, self.g_loss_fn(batch.fake_heads["logits"]))}

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

    def train_step(self, data):
        images, _ = data  # the vanilla GAN never sees the data's labels
        return self.algorithm_1(images)

    def algorithm_1(self, images, labels=None):
        """`steps_per_call` iterations of Algorithm 1 (`iteration`), column k of `images` (and
        `labels`) feeding iteration k when there are several; returns the global logs, [K]
        vectors when K > 1.

        The K iterations run as one traced `tf.while_loop` (under XLA one compiled program: no
        return to Python between them), unrolled under a distribution strategy, whose gradient
        sync cannot run inside a loop. They are the K calls of one iteration each, bit for bit
        (tests/test_train_step.py)."""
        k = self.steps_per_call
        if k == 1:
            return self.iteration(images, labels)

        def column(i):
            return images[:, i], None if labels is None else labels[:, i]

        if tf.distribute.has_strategy():
            rows = [self.iteration(*column(i)) for i in range(k)]
            return {name: tf.stack([row[name] for row in rows]) for name in rows[0]}
        first = self.iteration(*column(0))  # traced once more, for the logs' names and types
        arrays = {name: tf.TensorArray(v.dtype, k).write(0, v) for name, v in first.items()}

        def body(i, arrays):
            logs = self.iteration(*column(i))
            return i + 1, {name: arrays[name].write(i, logs[name]) for name in arrays}

        _, arrays = tf.while_loop(lambda i, _: i < k, body, (tf.constant(1), arrays))
        return {name: a.stack() for name, a in arrays.items()}

    def iteration(self, images, labels=None):
        """One iteration of Algorithm 1: `d_steps` discriminator updates, column i of `images`
        (and `labels`) feeding update i, then one generator update; returns the global logs
        (the last D update's, and G's)."""
        size = images.shape[0]  # static: the pipeline drops remainders
        global_size = size * tf.distribute.get_replica_context().num_replicas_in_sync
        step_seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])

        def sub_seed(i):
            return tf.random.experimental.stateless_fold_in(step_seed, i, alg="philox")

        def update_discriminator(i):
            return self._update_discriminator(images[:, i],
                                              None if labels is None else labels[:, i],
                                              sub_seed(i), size, global_size)

        logs = update_discriminator(0)
        if self.loops_d_steps():
            _, logs = tf.while_loop(lambda i, _: i < self.variant.d_steps,
                                    lambda i, _: (i + 1, update_discriminator(i)),
                                    (tf.constant(1), logs))
        else:
            for i in range(1, self.variant.d_steps):
                logs = update_discriminator(i)
        logs.update(self._update_generator(sub_seed(self.variant.d_steps), size, global_size))
        if self.average:
            self.average.update(self.step)
        self.step.assign_add(1)
        return replicas.global_logs(logs)

    def loops_d_steps(self):
        """Whether discriminator updates 2..d_steps run as a traced loop, not unrolled. The
        loop traces one update instead of d_steps - 1 (each unrolled critic update, the
        gradient penalty's nested tape above all, adds seconds to the first step), but under
        XLA its step is slower (docs/speed.md), and a distribution strategy's gradient
        sync cannot run inside a loop (a RuntimeError at trace time): so it loops only without
        XLA and without a strategy."""
        return (self.variant.d_steps > 1 and not self.unroll_d_steps and not self.jit_compile
                and not tf.distribute.has_strategy())

    def seen(self, images, seed, which, size, global_size):
        """`images` as D sees them: through DiffAugment's ops when --augment names any, with
        the draw `which` (augment.REAL or FAKE) of the update's seed."""
        if not self.augment_ops:
            return images
        return augment.diff_augment(images, self.augment_ops, tf.random.experimental
                                    .stateless_fold_in(seed, which, alg="philox"), size,
                                    global_size)

    def _update_discriminator(self, real, labels, seed, size, global_size):
        latents = replicas.own_slice(self.latent.sample(global_size, seed), size)
        real = self.seen(real, seed, augment.REAL, size, global_size)
        with tf.GradientTape() as tape:
            fake = self.seen(self.generator(self.latent.generator_input(latents), training=True),
                             seed, augment.FAKE, size, global_size)
            batch = Batch(real, labels, latents, fake, self.discriminator(real, training=True),
                          self.discriminator(fake, training=True), seed, size, global_size)
            terms = self.discriminator_loss(batch)
            total, logs = replicas.objective(terms, global_size)
            scaled = self.d_optimizer.scale_loss(total)  # identity unless mixed precision
        variables = self.discriminator.trainable_variables
        grads = tape.gradient(scaled, variables)
        logs["d_grad_norm"] = replicas.grad_norm(grads, self.d_optimizer)  # before apply() moves
        self.d_optimizer.apply(grads, variables)  # the loss scale; then any weight constraint
        logs["d_loss"] = total
        self.objective_weights["d_loss"] = {name: w for name, (w, _) in terms.items()}
        return logs

    def _update_generator(self, seed, size, global_size):
        latents = replicas.own_slice(self.latent.sample(global_size, seed), size)
        with tf.GradientTape() as tape:
            fake = self.seen(self.generator(self.latent.generator_input(latents), training=True),
                             seed, augment.FAKE, size, global_size)
            batch = Batch(None, None, latents, fake, None, self.discriminator(fake, training=True),
                          seed, size, global_size)
            terms = self.generator_loss(batch)
            total, logs = replicas.objective(terms, global_size)
            scaled = self.g_optimizer.scale_loss(total)
        variables = self.generator.trainable_variables
        grads = tape.gradient(scaled, variables)
        logs["g_grad_norm"] = replicas.grad_norm(grads, self.g_optimizer)
        self.g_optimizer.apply(grads, variables)
        logs["g_loss"] = total
        self.objective_weights["g_loss"] = {name: w for name, (w, _) in terms.items()}
        return logs
