"""The generator's gradient as a discriminator trains towards optimality, for both G costs.

Arjovsky & Bottou 2017, "Towards Principled Methods for Training Generative Adversarial
Networks", Theorem 2.4 / Figure 2 and Theorem 2.5 / Figure 3: with a fixed G and D -> D*, the
gradient of the original cost E_z[log(1 - D(G(z)))] vanishes (its gradient w.r.t. D's logit is
-D(G(z)) -> 0 as D rejects the samples), while the gradient of -E_z[log D(G(z))] (logit gradient
-(1 - D(G(z)))) does not. The paper fixed a DCGAN generator trained 1, 10 and 25 epochs, trained
a discriminator from scratch, and plotted ||grad_theta_G|| against the discriminator iterations
on a log scale.

Protocol:
- Generators, fixed: with --workdir=RUN, G from every checkpoint kept in RUN/checkpoints (a
  train.py run; its config.json rebuilds the GAN, training/loop.build_gan). Without --workdir,
  the repo's `gan` variant (MLP G and D, Adam(2e-4, beta_1=0.5), -log D(G(z))) on `ring8`, its
  own GAN.train_step run for a few G steps, G copied at each listed step (0 = untrained).
- For each G: a fresh discriminator of the run's architecture (same initial weights each time)
  trained from scratch by the run's optimizer kind and betas at learning rate 1e-3 (5x the
  `gan` default, so that D nears optimality within a few hundred iterations) on the repo's loss
  (losses.minimax_discriminator_loss), real batches from the repo's pipeline
  (data.datasets.make_train_dataset) and fresh noise; networks called with training=True, as in
  the repo's train step.
- Every few D iterations: ||grad_theta_G|| (global norm over G's weights) of the mean of
  losses.minimax_generator_loss and of losses.non_saturating_generator_loss, on one fixed batch
  of latents; also the mean D(G(z)) and, on toy data, the fraction of G's samples within 3 std
  of a mode centre.

The theorems assume that p_data and p_G have disjoint supports (almost sure for low-dimensional
manifolds in image space) and a D close to D*. An untrained G on ring8 is far from the ring and
the minimax gradient vanishes as predicted. A G trained for even 50 steps puts its samples
within 0.1-0.5 of the modes (std 0.02), a few percent inside them: there D* is not 0, and a D
trained for 2,000 iterations does not reject the near misses either, so the minimax gradient
stays large. A DCGAN generator on images (--workdir) shows the decay after training as well.

    python -m experiments.vanishing_gradients [--quick] [--workdir=runs/dcgan]
"""
import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from data.datasets import TOY_CENTRES, TOY_STDS, DatasetError, load, make_train_dataset
from experiments import common
from losses import (minimax_discriminator_loss, minimax_generator_loss,
                    non_saturating_generator_loss)
from models.networks import build_discriminator
from training.config import Config, ConfigError, resolve
from training.loop import build_gan, make_optimizer, split_for_d_steps

NAME = "vanishing_gradients"


@dataclasses.dataclass(frozen=True)
class Settings:
    d_iterations: int          # discriminator updates per fixed G
    measure_every: int         # D updates between two gradient measurements
    measure_batch: int         # fixed latents the gradient norms are measured on
    g_steps: tuple             # toy default only: G steps at which G is copied (0 = untrained)
    toy_width: int = 512       # toy default only: the repo's MLP width (the `gan` default)
    d_lr: float = 1e-3         # D's Adam learning rate (the run's beta_1, beta_2)


FULL = Settings(d_iterations=2000, measure_every=20, measure_batch=1000, g_steps=(0, 50, 500))
QUICK = Settings(d_iterations=300, measure_every=20, measure_batch=500, g_steps=(0,))


# === Generators ===

def _toy_generators(s, seed):
    """The repo's `gan` on ring8, trained by its own train_step; G's weights at each g_step."""
    # The image row's MLP `gan` (not PacGAN's toy protocol): the setup this experiment's
    # figure and docs/results.md's numbers were measured with.
    config = resolve(Config(model="gan", dataset="ring8", workdir="", seed=seed,
                            width=s.toy_width, jit_compile=False, toy_defaults=False))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    snapshots, step = [], 0
    for target in sorted(set(s.g_steps)):
        if target > step:
            batches = split_for_d_steps(
                make_train_dataset(data, config.batch_size * variant.d_steps, seed,
                                   start_step=step), config.batch_size, variant.d_steps)
            gan.fit(batches, epochs=1, steps_per_epoch=target - step, verbose=0, shuffle=False)
            step = target
        snapshots.append((step, [w.copy() for w in gan.generator.get_weights()]))
    source = {"kind": "toy", "dataset": "ring8", "model": "gan", "width": config.width,
              "latent_dim": config.latent_dim,
              "generator": "trained by GAN.train_step for g_step steps (0 = random weights)"}
    return config, variant, data, gan, snapshots, source


def _run_generators(workdir):
    """G at every checkpoint kept in a train.py run directory."""
    config_path = os.path.join(workdir, "config.json")
    if not os.path.isfile(config_path):
        raise common.ExperimentError(f"--workdir {workdir} has no config.json; pass the "
                                     "directory of a train.py run")
    state = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints"))
    paths = list(state.all_model_checkpoint_paths) if state else []
    if not paths:
        raise common.ExperimentError(f"{workdir}/checkpoints holds no checkpoint; train first "
                                     f"(python train.py --workdir={workdir})")
    try:
        config = resolve(dataclasses.replace(
   Config.load(config_path), workdir=workdir, mixed_precision=False, strategy="default",
   jit_compile=False))
        variant = config.variant
        data = load(config.dataset_used or config.dataset, config.data_dir)
    except (ValueError, TypeError) as e:  # ConfigError and DatasetError are ValueErrors
        raise common.ExperimentError(f"cannot rebuild the run in {workdir}: {e}") from None
    shape = data.spec.shape
    if config.image_size and data.spec.is_image:
        shape = (config.image_size, config.image_size, shape[2])
    # float32 G even for a mixed-precision run: the minimax gradients measured here underflow
    # float16. Only G and the step are restored (the optimizers' state is not needed).
    gan = build_gan(config, shape, data.spec.num_classes)
    checkpoint = tf.train.Checkpoint(generator=gan.generator, step=gan.step)
    snapshots = []
    for path in paths:
        try:
            checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - any damage gets the same answer
            reason = (getattr(e, "message", None) or str(e)).splitlines()[0][:200]
            raise common.ExperimentError(f"cannot restore the generator from {path} ({reason})"
                                         ) from None
        snapshots.append((int(gan.step.numpy()), [w.copy() for w in gan.generator.get_weights()]))
    source = {"kind": "run", "workdir": workdir, "model": config.model,
              "dataset": data.spec.name, "checkpoints": paths,
              "generator": "restored from each checkpoint; g_step is the run's step"}
    return config, variant, data, gan, snapshots, source


def _near_data(samples, dataset):
    """Fraction of G's samples within 3 std of a mode centre (the VEEGAN / PacGAN "high quality"
    test): where G's samples overlap the data, D* is not 0 and log(1 - D) keeps a gradient."""
    centres, std = TOY_CENTRES[dataset], TOY_STDS[dataset]
    dist = np.linalg.norm(np.asarray(samples)[:, None] - centres[None], axis=2).min(axis=1)
    return float(np.mean(dist <= 3 * std))


# === The experiment ===

def run(out_dir, quick=False, seed=0, workdir=None):
    """Measures both G gradients while D trains, per G; writes figure and JSON; returns the
    record."""
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    s = QUICK if quick else FULL
    try:
        config, variant, data, gan, snapshots, source = (
            _run_generators(workdir) if workdir else _toy_generators(s, seed))
    except (ConfigError, DatasetError) as e:
        raise common.ExperimentError(str(e)) from None
    generator, latent = gan.generator, gan.latent
    shape = generator.output_shape[1:]
    batch = config.batch_size

    keras.utils.set_random_seed(seed + 1)
    disc = build_discriminator(shape, variant.arch if data.spec.is_image else "mlp",
                               config.width, variant.d_norm)
    optimizer = make_optimizer(config, s.d_lr)
    restart = common.Restarter(disc.trainable_variables, optimizer)
    logits = lambda x: tf.reshape(disc(x, training=True)["logits"], [-1])  # noqa: E731
    measure_input = latent.generator_input(latent.sample(s.measure_batch,
                                                         common.seed_pair(seed, 99)))

    @tf.function
    def train_d(real_chunks, seed_):
        for i in tf.range(tf.shape(real_chunks)[0]):
            step_seed = tf.random.experimental.stateless_fold_in(seed_, tf.cast(i, tf.int64))
            fake = generator(latent.generator_input(latent.sample(batch, step_seed)),
                             training=True)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(minimax_discriminator_loss(logits(real_chunks[i]),
                                                                 logits(fake)))
            grads = tape.gradient(loss, disc.trainable_variables)
            optimizer.apply_gradients(zip(grads, disc.trainable_variables))

    @tf.function
    def gradient_norms():
        with tf.GradientTape(persistent=True) as tape:
            fake_logits = logits(generator(measure_input, training=True))
            costs = [tf.reduce_mean(minimax_generator_loss(fake_logits)),
                     tf.reduce_mean(non_saturating_generator_loss(fake_logits))]
        norms = [tf.linalg.global_norm(tape.gradient(c, generator.trainable_variables))
                 for c in costs]
        return norms[0], norms[1], tf.reduce_mean(tf.sigmoid(fake_logits))

    curves = []
    for g_step, weights in snapshots:
        generator.set_weights(weights)
        restart()
        # In the run's training coordinates (a toy protocol divides the data by data_scale).
        real = iter(make_train_dataset(data, batch * s.measure_every, seed,
                                       image_size=config.image_size,
                                       data_scale=variant.data_scale))
        curve = {"g_step": g_step, "d_iteration": [], "minimax_norm": [],
                 "non_saturating_norm": [], "mean_d_of_g_z": []}
        if not data.spec.is_image:
            curve["g_samples_near_data"] = _near_data(
                generator(measure_input, training=False) * variant.data_scale, data.spec.name)
        for it in range(0, s.d_iterations + 1, s.measure_every):
            if it:
                chunk = next(real)[0]
                train_d(tf.reshape(chunk, [s.measure_every, batch] + list(chunk.shape[1:])),
                        common.seed_pair(seed, g_step, it))
            minimax, non_saturating, d_fake = (float(t) for t in gradient_norms())
            for key, value in (("d_iteration", it), ("minimax_norm", minimax),
                               ("non_saturating_norm", non_saturating),
                               ("mean_d_of_g_z", d_fake)):
                curve[key].append(value)
        # At iteration 0, D(x) ~ 1/2 everywhere and both norms are equal and small; the minimax
        # norm first rises as D sharpens, then decays as D(G(z)) -> 0: measured from its peak.
        peak, last = max(curve["minimax_norm"]), curve["minimax_norm"][-1]
        curve["minimax_peak_over_final"] = peak / last if last > 0 else float("inf")
        curve["final_minimax_over_non_saturating"] = last / curve["non_saturating_norm"][-1]
        curves.append(curve)

    record = {
        "experiment": NAME,
        "paper": "Arjovsky & Bottou 2017, Theorems 2.4-2.5, Figures 2-3",
        "claim": "as D trains, ||grad_G E[log(1 - D(G(z)))]|| decays by orders of magnitude; "
                 "||grad_G -E[log D(G(z))]|| does not",
        "quick": quick, "seed": seed, "settings": dataclasses.asdict(s),
        "source": source,
        "discriminator": {"arch": variant.arch if data.spec.is_image else "mlp",
                          "width": config.width, "norm": variant.d_norm,
                          "optimizer": variant.optimizer, "lr": s.d_lr,
                          "beta_1": variant.beta_1, "beta_2": variant.beta_2,
                          "batch_size": batch},
        "curves": curves,
    }
    record["summary"] = {
        f"g_step_{c['g_step']}": "minimax {:.2e} -> {:.2e}, non-saturating {:.2e} -> {:.2e}".format(
            c["minimax_norm"][0], c["minimax_norm"][-1], c["non_saturating_norm"][0],
            c["non_saturating_norm"][-1]) for c in curves}
    return common.write_outputs(out_dir, NAME, _figure(curves, source), record, started)


def _figure(curves, source):
    figure, axes = common.new_figure(2, sharey=True)
    for curve in curves:
        label = f"G after {curve['g_step']} steps" + (" (random)" if not curve["g_step"] else "")
        axes[0].semilogy(curve["d_iteration"], curve["minimax_norm"], label=label)
        axes[1].semilogy(curve["d_iteration"], curve["non_saturating_norm"], label=label)
    axes[0].set(title="log(1 - D(G(z))): minimax", xlabel="discriminator iterations",
                ylabel="||grad_G||")
    axes[1].set(title="-log D(G(z)): non-saturating", xlabel="discriminator iterations")
    axes[0].legend(fontsize=7)
    figure.suptitle(f"fixed G ({source['model']} on {source['dataset']}), D trained from "
                    "scratch", fontsize=9)
    return figure


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_string("workdir", None, "A train.py run directory: measure G at each of its "
                        "checkpoints (default: the repo's gan on ring8, trained briefly here).")
    app.run(common.cli_main(NAME, run, extra_flags=("workdir",)))
