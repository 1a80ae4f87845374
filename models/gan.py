"""One `GAN(keras.Model)` and one `train_step` for all six variants.

A step is Algorithm 1 of Goodfellow et al. 2014 (and of WGAN / WGAN-GP): `d_steps` discriminator
updates, each on its own real minibatch and fresh noise, then one generator update. What differs
between variants is data (models/variants.py): the adversarial loss pair, the optional weighted
terms (gradient penalty, weight clipping, InfoGAN mutual information, AC-GAN class loss), the
latent sampler and the optimizers.

Distribution-ready by construction (../shared/KERAS3_TRAPS.md):
- every loss is a per-example vector reduced once, by `_mean`, over the GLOBAL batch
  (`tf.nn.compute_average_loss`), because Keras 3 optimizers sum gradients over replicas;
- noise is drawn for the global batch from a stateless seed (run seed, step, sub-step) and each
  replica takes its own slice, so replicas get different noise and any replica count sees the
  same global draw;
- logged values are all-reduced over replicas, so they are global means.
"""
import functools
import math

import keras
import tensorflow as tf

import losses
from models.latent import LatentSpec
from models.networks import build_discriminator, build_generator


class GAN(keras.Model):
    """Generator + discriminator trained adversarially by `fit`.

    `fit` expects batches (x, labels) with x [B, d_steps, *data_shape] in [-1, 1] and labels
    [B, d_steps]: column i is the real minibatch of discriminator update i.
    """

    def __init__(self, variant, data_shape, num_classes=0, width=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        self.variant = variant
        self.data_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.width = width
        self.seed = int(seed)
        self.latent = LatentSpec(variant.latent_dim, num_classes if variant.conditional else 0,
                                 variant.num_categorical, variant.num_continuous)
        self.d_loss_fn = losses.DISCRIMINATOR_LOSSES[variant.loss]
        self.g_loss_fn = losses.GENERATOR_LOSSES[variant.loss]
        # === Networks ===
        self.generator = build_generator(self.latent.input_dim, self.data_shape, variant.arch,
                                         width)
        self.discriminator = build_discriminator(
            self.data_shape, variant.arch, width, variant.d_norm,
            num_classes=num_classes if variant.conditional else 0,
            num_categorical=variant.num_categorical, num_continuous=variant.num_continuous)
        if variant.clip_value:
            # WGAN: every critic parameter is clipped right after every critic update.
            for weight in self.discriminator.trainable_weights:
                weight.constraint = functools.partial(losses.clip_weights,
                                                      clip_value=variant.clip_value)
        # Number of generator updates done; also the stateless noise counter (the RNG state).
        self.step = self.add_weight(name="step", shape=(), dtype="int64", initializer="zeros",
                                    trainable=False, aggregation="only_first_replica")
        # Both networks are built functional models; without this, Keras would try to build
        # the GAN by calling it on a training batch under a strategy scope (KERAS3_TRAPS.md).
        self.built = True

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3's fit() under a strategy pulls a batch and MEAN-reduces it across replicas to
        # build the model symbolically; under MultiWorkerMirroredStrategy that reduction fails
        # ("Attempt to convert a value (PerReplica...)"). Both networks are built in __init__
        # and both optimizers in compile(): there is nothing left to build.
        return

    def call(self, generator_input, training=False):
        return self.generator(generator_input, training=training)

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        # No optimizer for keras' own use: an unused one would be created outside any
        # strategy scope and break distributed fit (KERAS3_TRAPS.md).
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built now, not lazily, so checkpoints restore their slots and MirroredStrategy works
        # (keras#19246).
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    # === Helpers ===

    def _replica(self):
        ctx = tf.distribute.get_replica_context()
        return ctx, ctx.num_replicas_in_sync

    def _mean(self, per_example, global_batch):
        return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)

    def _global(self, value):
        """All-reduces a replica's share of a global mean into the global mean."""
        ctx, _ = self._replica()
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)

    def _own_slice(self, tensors, batch):
        """This replica's `batch` rows of tensors drawn for the global batch."""
        ctx, _ = self._replica()
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * batch
        return tf.nest.map_structure(lambda t: t[start:start + batch], tensors)

    def _grad_norm(self, grads, optimizer):
        """Norm of the global gradient, unscaled when the optimizer scales the loss."""
        scale = getattr(optimizer, "dynamic_scale", None)
        norm = tf.linalg.global_norm(self._global(grads))
        return norm if scale is None else norm / tf.cast(scale, norm.dtype)

    def _code_losses(self, latents, heads, global_batch):
        """Weighted InfoGAN term (-log Q(c|x)) and its logged parts."""
        v, total, parts = self.variant, 0.0, {}
        if v.num_categorical:
            ce = self._mean(losses.categorical_code_loss(latents["categorical"],
                                                         heads["code_logits"]), global_batch)
            parts["info_categorical"] = ce
            total += v.info_weight * ce
        if v.num_continuous:
            nll = self._mean(losses.gaussian_code_loss(latents["continuous"], heads["code_mean"]),
                             global_batch)
            parts["info_continuous"] = nll
            total += v.info_weight_continuous * nll
        return total, parts

    # === Training ===

    def train_step(self, data):
        x, labels = data
        batch = x.shape[0]  # static: the pipeline drops remainders
        _, replicas = self._replica()
        global_batch = batch * replicas
        step_seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(self.step, tf.int64)])

        def sub_seed(i):
            return tf.random.experimental.stateless_fold_in(step_seed, i, alg="philox")

        for i in range(self.variant.d_steps):  # the logs are those of the last D update
            logs = self._discriminator_step(x[:, i], labels[:, i], sub_seed(i), batch,
                                            global_batch)
        logs.update(self._generator_step(sub_seed(self.variant.d_steps), batch, global_batch))
        self.step.assign_add(1)
        # Gradient norms are already global; every other value is this replica's share.
        logs = {name: value if name.endswith("_grad_norm") else self._global(value)
                for name, value in logs.items()}
        if self.variant.num_categorical:
            # L_I = H(c) - E[-log Q(c|x)] <= I(c; G(z, c)), with H(c) = ln K for uniform c.
            logs["mi_lower_bound"] = (math.log(self.variant.num_categorical)
                                      - logs["g_info_categorical"])
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces multi-worker logs along axis 0 (keras#20585): give them one.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def _discriminator_step(self, real, real_labels, seed, batch, global_batch):
        v = self.variant
        latents = self._own_slice(self.latent.sample(global_batch, seed), batch)
        with tf.GradientTape() as tape:
            fake = self.generator(self.latent.generator_input(latents), training=True)
            real_heads = self.discriminator(real, training=True)
            fake_heads = self.discriminator(fake, training=True)
            adv = self._mean(self.d_loss_fn(real_heads["logits"], fake_heads["logits"]),
                             global_batch)
            parts, total = {"d_adv": adv}, adv
            if v.gp_weight:
                eps = self._own_slice(tf.random.stateless_uniform(
                    [global_batch], tf.random.experimental.stateless_fold_in(seed, 7, alg="philox"),
                    alg="philox"), batch)
                gp = self._mean(losses.gradient_penalty(
                    lambda t: self.discriminator(t, training=True)["logits"], real, fake, eps),
                    global_batch)
                parts["gp"] = gp
                total += v.gp_weight * gp
            if v.conditional:
                aux_real = self._mean(losses.class_loss(real_labels, real_heads["class_logits"]),
                                      global_batch)
                aux_fake = self._mean(losses.class_loss(latents["labels"],
                                                        fake_heads["class_logits"]), global_batch)
                parts.update(d_aux_real=aux_real, d_aux_fake=aux_fake)
                total += v.aux_weight * (aux_real + aux_fake)
            if v.has_codes:
                info, info_parts = self._code_losses(latents, fake_heads, global_batch)
                parts.update({"d_" + k: val for k, val in info_parts.items()})
                total += info
            scaled = self.d_optimizer.scale_loss(total)  # identity unless mixed precision
        variables = self.discriminator.trainable_variables
        grads = tape.gradient(scaled, variables)
        parts["d_grad_norm"] = self._grad_norm(grads, self.d_optimizer)  # before apply() moves
        self.d_optimizer.apply(grads, variables)  # the loss scale; then the WGAN clip, if any
        # Mean D(x) and D(G(z)): probabilities for the GAN losses, raw critic values for WGANs.
        to_value = tf.identity if v.loss == "wasserstein" else tf.sigmoid
        parts["d_real"] = self._mean(tf.reshape(to_value(real_heads["logits"]), [-1]),
                                     global_batch)
        parts["d_fake"] = self._mean(tf.reshape(to_value(fake_heads["logits"]), [-1]),
                                     global_batch)
        parts["d_loss"] = total
        return parts

    def _generator_step(self, seed, batch, global_batch):
        v = self.variant
        latents = self._own_slice(self.latent.sample(global_batch, seed), batch)
        with tf.GradientTape() as tape:
            fake = self.generator(self.latent.generator_input(latents), training=True)
            heads = self.discriminator(fake, training=True)
            adv = self._mean(self.g_loss_fn(heads["logits"]), global_batch)
            parts, total = {"g_adv": adv}, adv
            if v.conditional:
                aux = self._mean(losses.class_loss(latents["labels"], heads["class_logits"]),
                                 global_batch)
                parts["g_aux"] = aux
                total += v.aux_weight * aux
            if v.has_codes:
                info, info_parts = self._code_losses(latents, heads, global_batch)
                parts.update({"g_" + k: val for k, val in info_parts.items()})
                total += info
            scaled = self.g_optimizer.scale_loss(total)
        variables = self.generator.trainable_variables
        grads = tape.gradient(scaled, variables)
        parts["g_grad_norm"] = self._grad_norm(grads, self.g_optimizer)
        self.g_optimizer.apply(grads, variables)
        parts["g_loss"] = total
        return parts
