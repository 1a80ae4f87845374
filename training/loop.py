"""`train(config)`: the whole run behind `python train.py`, importable by tests.

Run directory (`config.workdir`):
    config.json      every resolved setting, and the dataset actually used
    run.lock         held (flock) by the process writing the run: one writer at a time
    train/           TensorBoard events (scalars per step, pictures per epoch)
    checkpoints/     G, D, both optimizers (with slots), step (and the averaged G under --ema):
                     a tf.train.Checkpoint on TensorFlow, `ckpt-N.npz` on JAX and PyTorch
                     (training/checkpoints.py)
    saved_model/     the exported generator (training/export.py): the averaged G under --ema
    saved_model_raw/ under --ema only: G itself
Running again with the same workdir resumes from the latest checkpoint and stops at the same
total step count; the data pipeline and the noise are functions of (seed, step), so the resumed
run sees the batches the uninterrupted one would have seen.

The Keras backend is KERAS_BACKEND's (docs/backends.md): the model classes are the same on
each; the data pipeline (tf.data), TensorBoard's writer and the export are TensorFlow's on
every backend, so TensorFlow must be installed. On JAX, `--strategy=mirrored` is
keras.distribution's data parallelism over the local devices (training/distribute.py).
"""
import dataclasses
import os
import shutil
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from data.datasets import DatasetError, balanced_subset, check_batch, load, make_train_dataset
from models import variants
from models.networks import ShapeError, check_shape
from training import checkpoints, workdir
from training.callbacks import (Checkpointer, NonFiniteGuard, ProgressLines, RunError,
                                SamplePictures, ScalarLogger, StopOnSignal)
from training.config import ConfigError, resolve, resumed_steps_per_execution
from training.distribute import is_chief, is_peer_failure, lost_peers, make_strategy
from training.xla import resolve_jit_compile


def make_optimizer(config, lr):
    """The optimizer of a resolved config (`optimizer`, `beta_1`, `beta_2`, `mixed_precision`)
    at learning rate `lr`."""
    optimizer = variants.make_optimizer(config, lr)
    # Keras wraps only `model.optimizer`; a GAN's two optimizers each need their own loss scale.
    return keras.optimizers.LossScaleOptimizer(optimizer) if config.mixed_precision else optimizer


def build_gan(config, data_shape, num_classes, jit_compile=False, steps_per_execution=1):
    """The compiled GAN of a resolved config, with both optimizers built. Call it inside the
    strategy's scope. `steps_per_execution` K > 1: each call of train_step runs K iterations
    (models/gan.py `algorithm_1`) on batches of `chunk_steps(dataset, K)`."""
    keras.utils.set_random_seed(config.seed)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if config.mixed_precision else "float32")
    try:
        variant = config.variant
        gan = variant.model_class(variant, data_shape, num_classes, seed=config.seed)
    finally:
        keras.config.set_dtype_policy(policy)
    gan.compile(make_optimizer(config, config.d_lr), make_optimizer(config, config.g_lr),
                jit_compile=jit_compile)
    # Not Keras's steps_per_execution: its loop of calls runs outside the XLA program.
    gan.steps_per_call = steps_per_execution
    return gan


def split_for_d_steps(dataset, batch_size, d_steps):
    """(x [d*B, ...], y [d*B]) -> (x [B, d, ...], y [B, d]): column i feeds D update i.

    Batch-major, so that splitting the batch across replicas gives each replica its share of
    every D update's minibatch."""

    def split(x, y):
        x = tf.reshape(x, [d_steps, batch_size] + x.shape[1:].as_list())
        perm = [1, 0] + list(range(2, len(x.shape)))
        return tf.transpose(x, perm), tf.transpose(tf.reshape(y, [d_steps, batch_size]))

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)


def chunk_steps(dataset, k):
    """(x [B, d, ...], y [B, d]) per step -> (x [B, k, d, ...], y [B, k, d]) per call of k
    steps, column j feeding step j; batch-major like `split_for_d_steps`. k = 1: as it is."""
    if k == 1:
        return dataset

    def stack(*tensors):
        return tuple(tf.transpose(t, [1, 0] + list(range(2, len(t.shape)))) for t in tensors)

    return dataset.batch(k, drop_remainder=True).map(stack, num_parallel_calls=tf.data.AUTOTUNE)


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


class Interrupted(Exception):
    """The run stopped on a signal after saving its checkpoint."""


class LostWorker(RunError):
    """A peer of the cluster died; the message names it and the checkpoint to resume from."""


def _real_points(data, n=1000):
    """n points of a toy mixture, drawn by the training pipeline itself (one definition)."""
    return next(iter(make_train_dataset(data, n, seed=0)))[0].numpy()


def _real_images(data, config, n=64):
    """The first n images the run trains on (the pipeline's first batch, at its image size);
    all of them when the training set is smaller."""
    n = min(n, data.num_examples)
    return next(iter(make_train_dataset(data, n, config.seed, image_size=config.image_size)))[0]


def train(config, verbose="auto", callbacks=()):
    """Trains (or resumes) the run described by `config`; returns the last step's logs.

    `verbose`: "auto" shows one progress line rewritten in place when stdout is a terminal
    (the step, both losses, the speed and the time left) and plain lines every
    `config.print_every` steps otherwise (a log file gets no carriage returns or escape codes:
    training/callbacks.py `ProgressLines`); other values go to `fit` as they are (0: silent).
    `callbacks`: extra Keras callbacks (their `model` is the GAN). One that sets
    `model.stop_training` ends the run early: the step is checkpointed and exported.

    Raises:
        ConfigError, DatasetError: settings or data that cannot work, or a workdir another
            live process is writing (before any write).
        RunError: training had to stop (non-finite values, a checkpoint or export that cannot
            be read or written); the message says what is intact. LostWorker: a peer of the
            cluster died.
        Interrupted: SIGINT/SIGTERM; the current step was checkpointed.
    """
    locks = []
    try:
        return _train(config, verbose, callbacks, locks)
    finally:
        for lock in locks:
            lock.release()


def _progress(verbose, chief, start, config, steps_per_call):
    """(fit's verbose, [callback]) of `train`'s `verbose`: see there."""
    if not chief:
        return 0, []
    if verbose == "auto":
        return 0, [ProgressLines(start, config.train_steps, config.print_every, steps_per_call,
                                 terminal=sys.stdout.isatty())]
    return verbose, []


def _train(config, verbose, callbacks, locks):
    asked_steps_per_execution = config.steps_per_execution
    config = resolve(config)
    strategy = make_strategy(config.strategy, config.devices and config.devices.split(","),
                             config.tpu, keras.backend.backend())
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(f"--batch_size={config.batch_size} does not split over {replicas} "
                          f"replicas; pass a multiple of {replicas}")
    chief = is_chief(strategy)
    data = load(config.dataset, config.data_dir, stream=True, image_size=config.image_size,
                channels=config.channels, with_classes=config.variant.model_class.uses_labels)
    if config.train_examples:
        data = balanced_subset(data, config.train_examples)
    if data.note and chief:
        print(data.note, flush=True)
    shape = data.spec.shape
    if config.image_size and data.spec.is_image:
        shape = (config.image_size, config.image_size, shape[2])
    network = config.arch  # resolve made it "mlp" for image nets on toy data
    try:
        for arch in filter(None, (network, config.g_arch)):
            check_shape(arch, shape)
    except ShapeError as e:
        raise DatasetError(str(e)) from None
    # Every refusal about the data comes before the run directory is created or touched.
    check_batch(data, config.batch_size * config.d_steps, config.train_points)
    config = dataclasses.replace(config, dataset_used=data.spec.name,
                                 dataset_note=data.note or None,
                                 class_names=list(data.class_names) or None)
    if chief:  # the lock first: --overwrite must never remove a live run
        locks.append(workdir.WorkdirLock(config.workdir))
        workdir.prepare(config, check_only=True)  # another backend's run: refused first
        latest = (None if config.overwrite else
                  checkpoints.latest(os.path.join(config.workdir, "checkpoints")))
        if latest:  # a K that cannot resume is refused before anything is written
            resumed_steps_per_execution(asked_steps_per_execution, config.steps_per_execution,
                                        checkpoints.step_of(latest))  # named by its step
        workdir.prepare(config)
    # Saving is collective under multi-worker: the others save to a scratch dir (removed).
    checkpoint_dir = (os.path.join(config.workdir, "checkpoints") if chief
                      else tempfile.mkdtemp(prefix="gan-worker-checkpoints-"))

    with strategy.scope():
        gan = build_gan(config, shape, data.spec.num_classes,
                        resolve_jit_compile(config.jit_compile, strategy, network,
                                            gradient_penalty=bool(config.gp_weight)))
        checkpoint, manager = checkpoints.make_manager(gan, checkpoint_dir,
                                                       config.keep_checkpoints)
        if not chief:  # restore what the chief saved
            manager = checkpoints.ReadFrom(manager, os.path.join(config.workdir, "checkpoints"))
        resumed = checkpoints.restore(checkpoint, manager)
        # A checkpoint restores the learning rates it was saved with; the run's flags win.
        gan.d_optimizer.learning_rate = config.d_lr
        gan.g_optimizer.learning_rate = config.g_lr
    start = int(gan.step.numpy())
    if resumed:
        print(f"resuming from step {start} ({os.path.relpath(resumed, config.workdir)})",
              flush=True)
    k = resumed_steps_per_execution(asked_steps_per_execution, config.steps_per_execution, start)
    if k != config.steps_per_execution:
        print(f"{k} step(s) per call: step {start} is not a multiple of "
              f"{config.steps_per_execution}", flush=True)
    gan.steps_per_call = k

    writer = (tf.summary.create_file_writer(os.path.join(config.workdir, "train")) if chief
              else tf.summary.create_noop_writer())
    stop = StopOnSignal()
    checkpointer = Checkpointer(manager, gan, start, config.checkpoint_every, config.train_steps,
                                steps_per_call=k)
    # With loss scaling an overflowing gradient is expected: the step is skipped, not fatal.
    guard = NonFiniteGuard(start, ignore=("d_grad_norm", "g_grad_norm")
                           if config.mixed_precision else (), steps_per_call=k)
    extra = list(callbacks)
    verbose, progress = _progress(verbose, chief, start, config, k)
    callbacks = [guard, stop, ScalarLogger(writer, start, config.log_every, steps_per_call=k)]
    if chief:
        callbacks.append(SamplePictures(
            writer, gan, None if data.spec.is_image else _real_points(data), data.class_names,
            real_images=_real_images(data, config) if gan.augment_ops else None))
    callbacks += [checkpointer] + progress + extra
    logs = {}
    step = start
    try:
        for initial_epoch, epochs, steps in epoch_segments(start, config.train_steps,
                                                           config.steps_per_epoch):
            dataset = chunk_steps(split_for_d_steps(
                make_train_dataset(data, config.batch_size * config.d_steps, config.seed,
                                   start_step=step, image_size=config.image_size,
                                   data_scale=config.data_scale,
                                   train_points=config.train_points),
                config.batch_size, config.d_steps), k)
            # Keras counts calls: K steps each (every segment is a multiple of K steps).
            history = gan.fit(dataset, initial_epoch=initial_epoch, epochs=epochs,
                              steps_per_epoch=steps // k, callbacks=callbacks,
                              verbose=verbose, shuffle=False)
            logs = {name: float(np.asarray(v[-1]).reshape(-1)[-1])  # the segment's last step
                    for name, v in history.history.items()}
            step = int(gan.step.numpy())
            if stop.received:
                path = checkpointer.save()
                raise Interrupted(f"{stop.received} at step {step}: saved {path}; run the same "
                                  "command again to resume")
            if gan.stop_training:  # an extra callback asked to stop
                checkpointer.save()
                break
    except tf.errors.OpError as e:
        if not is_peer_failure(e, strategy):
            raise
        raise _lost_worker(e, strategy, gan, manager, config.workdir) from None
    finally:
        writer.close()
        if not chief:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
    if chief:
        checkpoints.export(gan, data.spec.is_image, config.workdir, manager.latest_checkpoint,
                           data.class_names)
    return logs


def _lost_worker(error, strategy, gan, manager, workdir):
    peers = lost_peers(error, strategy)
    try:
        at = f" at step {int(gan.step.numpy())}"
    except Exception:  # noqa: BLE001 - the step is a courtesy; the report must not fail
        at = ""
    latest = manager.latest_checkpoint
    intact = (f"the last intact checkpoint is {os.path.relpath(latest, workdir)} in {workdir}"
              if latest else "no checkpoint was written yet")
    return LostWorker(f"lost {' and '.join(peers) or 'a peer'} of the cluster{at} (its "
                      f"collectives were aborted: it stopped or became unreachable); {intact}; "
                      "restart every worker with its TF_CONFIG and the same command to resume")


