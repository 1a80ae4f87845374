"""`train(config)`: the whole run behind `python train.py`, importable by tests.

Run directory (`config.workdir`):
    config.json      every resolved setting, and the dataset actually used
    train/           TensorBoard events (scalars per step, pictures per epoch)
    checkpoints/     tf.train.Checkpoint: G, D, both optimizers (with slots), step
    saved_model/     the exported generator (training/export.py)
Running again with the same workdir resumes from the latest checkpoint and stops at the same
total step count; the data pipeline and the noise are functions of (seed, step), so the resumed
run sees the batches the uninterrupted one would have seen.
"""
import dataclasses
import os
import shutil

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from data.datasets import TOY_CENTRES, TOY_STDS, load, make_train_dataset
from models.gan import GAN
from models.networks import check_shape
from training.callbacks import Checkpointer, SamplePictures, ScalarLogger
from training.config import Config, ConfigError, resolve
from training.export import export_generator

# Settings that must match for a workdir to be resumed.
RUN_IDENTITY = ("model", "dataset_used", "image_size", "latent_dim", "width", "batch_size",
                "d_steps", "seed")


def make_optimizer(variant, lr):
    if variant.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.Adam(lr, beta_1=variant.beta_1, beta_2=variant.beta_2)


def build_gan(config, variant, data_shape, num_classes):
    """The compiled GAN of a resolved config, with both optimizers built."""
    keras.utils.set_random_seed(config.seed)
    gan = GAN(variant, data_shape, num_classes, width=config.width, seed=config.seed)
    gan.compile(make_optimizer(variant, variant.d_lr), make_optimizer(variant, variant.g_lr),
                jit_compile=config.jit_compile)
    return gan


def make_checkpoint(gan):
    return tf.train.Checkpoint(generator=gan.generator, discriminator=gan.discriminator,
                               d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer,
                               step=gan.step)


def split_for_d_steps(dataset, batch_size, d_steps):
    """(x [d*B, ...], y [d*B]) -> (x [B, d, ...], y [B, d]): column i feeds D update i.

    Batch-major, so that splitting the batch across replicas gives each replica its share of
    every D update's minibatch."""

    def split(x, y):
        x = tf.reshape(x, [d_steps, batch_size] + x.shape[1:].as_list())
        perm = [1, 0] + list(range(2, len(x.shape)))
        return tf.transpose(x, perm), tf.transpose(tf.reshape(y, [d_steps, batch_size]))

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)


def epoch_segments(step, total, steps_per_epoch):
    """Splits steps [step, total) into `fit` calls that keep epochs aligned to multiples of
    steps_per_epoch: [(initial_epoch, epochs, steps_per_epoch), ...]."""
    segments = []
    while step < total:
        epoch = step // steps_per_epoch
        if step % steps_per_epoch or total - step < steps_per_epoch:
            n = min((epoch + 1) * steps_per_epoch, total) - step
            segments.append((epoch, epoch + 1, n))
            step += n
        else:
            full = (total - step) // steps_per_epoch
            segments.append((epoch, epoch + full, steps_per_epoch))
            step += full * steps_per_epoch
    return segments


def _check_resumable(config, path):
    previous = Config.load(path)
    for name in RUN_IDENTITY:
        if getattr(previous, name) != getattr(config, name):
            raise ConfigError(
                f"{config.workdir} holds a run with {name}={getattr(previous, name)!r}, not "
                f"{getattr(config, name)!r}; use another --workdir to start a new run")


def train(config, verbose="auto"):
    """Trains (or resumes) the run described by `config`; returns the last step's logs."""
    config, variant = resolve(config)
    data = load(config.dataset, config.data_dir)
    if data.note:
        print(data.note, flush=True)
    shape = data.spec.shape
    if config.image_size and data.spec.is_image:
        shape = (config.image_size, config.image_size, shape[2])
    check_shape(variant.arch if data.spec.is_image else "mlp", shape)
    config = dataclasses.replace(config, dataset_used=data.spec.name,
                                 dataset_note=data.note or None)
    os.makedirs(config.workdir, exist_ok=True)
    config_path = os.path.join(config.workdir, "config.json")
    if os.path.exists(config_path):
        _check_resumable(config, config_path)
    config.save(config_path)

    gan = build_gan(config, variant, shape, data.spec.num_classes)
    checkpoint = make_checkpoint(gan)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(config.workdir, "checkpoints"),
                                         max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("Resumed from %s", manager.latest_checkpoint)
    start = int(gan.step.numpy())

    writer = tf.summary.create_file_writer(os.path.join(config.workdir, "train"))
    real_points = None
    if not data.spec.is_image:
        name = data.spec.name
        rng = np.random.default_rng(0)
        real_points = (TOY_CENTRES[name][rng.integers(len(TOY_CENTRES[name]), size=1000)]
                       + TOY_STDS[name] * rng.standard_normal((1000, 2)))
    callbacks = [ScalarLogger(writer, start, config.log_every),
                 SamplePictures(writer, gan, real_points), Checkpointer(manager, gan)]
    logs = {}
    step = start
    for initial_epoch, epochs, steps in epoch_segments(start, config.train_steps,
                                                       config.steps_per_epoch):
        dataset = split_for_d_steps(
            make_train_dataset(data, config.batch_size * variant.d_steps, config.seed,
                               start_step=step, image_size=config.image_size),
            config.batch_size, variant.d_steps)
        history = gan.fit(dataset, initial_epoch=initial_epoch, epochs=epochs,
                          steps_per_epoch=steps, callbacks=callbacks, verbose=verbose,
                          shuffle=False)
        logs = {k: float(v[-1]) for k, v in history.history.items()}
        step = int(gan.step.numpy())
    writer.close()  # the Checkpointer saved the last step: every segment ends an epoch

    export_dir = os.path.join(config.workdir, "saved_model")
    tmp_dir = export_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    export_generator(gan.generator, gan.latent, data.spec.is_image, tmp_dir)
    shutil.rmtree(export_dir, ignore_errors=True)
    os.replace(tmp_dir, export_dir)
    return logs
