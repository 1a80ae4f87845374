"""`train(config)`: the whole run behind `python train.py`, importable by tests.

Run directory (`config.workdir`):
    config.json      every resolved setting, and the dataset actually used
    run.lock         held (flock) by the process writing the run: one writer at a time
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
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from data.datasets import balanced_subset, load, make_train_dataset
from models.networks import IMAGE_ARCHS, check_shape
from training.callbacks import (Checkpointer, NonFiniteGuard, ProgressLines, RunError,
                                SamplePictures, ScalarLogger, StopOnSignal)
from training.config import Config, ConfigError, resolve
from training.distribute import is_chief, is_peer_failure, lost_peers, make_strategy
from training.export import export_generator
from training.workdir import WorkdirLock, tree_size, write_failure

# Settings that must match for a workdir to be resumed.
RUN_IDENTITY = ("model", "dataset_used", "image_size", "latent_dim", "width", "batch_size",
                "d_steps", "seed", "data_scale", "train_points", "d_norm", "g_norm", "g_arch",
                "g_width", "train_examples")
# Recorded only since the toy protocols (#11) or later: a config.json without them is not
# compared on them.
NEWER_IDENTITY = ("data_scale", "train_points", "d_norm", "g_norm", "g_arch", "g_width",
                  "train_examples")
# What a run writes in its workdir (removed by --overwrite).
RUN_FILES = ("config.json", "train", "checkpoints", "saved_model", "saved_model.new",
             "saved_model.old")


def make_optimizer(variant, lr, mixed_precision=False):
    if variant.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(lr)
    else:
        optimizer = keras.optimizers.Adam(lr, beta_1=variant.beta_1, beta_2=variant.beta_2)
    # Keras wraps only `model.optimizer`; a GAN's two optimizers each need their own loss scale.
    return keras.optimizers.LossScaleOptimizer(optimizer) if mixed_precision else optimizer


def build_gan(config, variant, data_shape, num_classes, jit_compile=False, steps_per_execution=1):
    """The compiled GAN of a resolved config, with both optimizers built. Call it inside the
    strategy's scope. `steps_per_execution` > 1 (benchmarks only: train.py's callbacks log and
    checkpoint every step) runs that many steps per call into TensorFlow."""
    keras.utils.set_random_seed(config.seed)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if config.mixed_precision else "float32")
    try:
        gan = variant.model_class(variant, data_shape, num_classes, width=config.width,
                                  seed=config.seed)
    finally:
        keras.config.set_dtype_policy(policy)
    gan.compile(make_optimizer(variant, variant.d_lr, config.mixed_precision),
                make_optimizer(variant, variant.g_lr, config.mixed_precision),
                jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return gan


# XLA by default on one device, by device, step kind and whether TensorFlow's oneDNN kernels are
# on: what benchmarks.train_step measured (README, "Speed"). On the 2-core CPU, with TensorFlow's
# own (Eigen) kernels, XLA sped up the DCGAN step 1.25-1.49x and gan_toy.py's MLP wgan_gp step
# 1.18-1.42x. With oneDNN's kernels (train.py turns them on: TF_ENABLE_ONEDNN_OPTS=1), the
# convolutional steps ran as fast or faster without XLA (DCGAN 266-268 ms against 299-336 ms;
# acgan, infogan, wgan 1.00-1.12x), except the gradient penalty's (image wgan_gp: XLA 1.04x and
# 1.26x faster), and the MLP steps stayed faster with it. Kinds: "mlp", "conv", "conv_gp"; the toy
# protocols' nets are MLPs and the infogan_mnist nets convolutional. GPU: not measured here.
XLA_DEFAULT = {(device, kind, onednn): True for device in ("CPU", "GPU")
               for kind in ("mlp", "conv", "conv_gp") for onednn in (False, True)}
XLA_DEFAULT["CPU", "conv", True] = False


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process. It decides once, at import,
    from TF_ENABLE_ONEDNN_OPTS (unset: on only for CPUs with AVX-512 VNNI or newer)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a TensorFlow without it: trust the variable
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


def resolve_jit_compile(requested, strategy, network, onednn=None, gradient_penalty=False):
    """Whether the step is compiled with XLA: the flag if given, else `XLA_DEFAULT` for this
    device, the step's kind (`network`, models/networks.py ARCHS, and whether it has a gradient
    penalty) and whether oneDNN's kernels are on (`onednn`; None: as in this process). Under a
    multi-device strategy Keras cannot compile the step over mirrored variables
    (KERAS3_TRAPS.md), so it is off there, said in one line."""
    single = strategy.num_replicas_in_sync == 1 and not isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if single:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        kind = ("mlp" if network not in IMAGE_ARCHS else
                "conv_gp" if gradient_penalty else "conv")
        onednn = onednn_enabled() if onednn is None else onednn
        return XLA_DEFAULT[device, kind, onednn] if requested is None else requested
    if requested is not False:  # asked for, or the default: say why it is off
        print(f"XLA is off: Keras cannot jit-compile a step under {type(strategy).__name__} "
              f"with {strategy.num_replicas_in_sync} replicas; training without it", flush=True)
    return False


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


class Interrupted(Exception):
    """The run stopped on a signal after saving its checkpoint."""


class LostWorker(RunError):
    """A peer of the cluster died; the message names it and the checkpoint to resume from."""


def _prepare_workdir(config):
    """Creates the workdir, or checks that the run in it can be resumed with `config`."""
    config_path = os.path.join(config.workdir, "config.json")
    if os.path.exists(config_path) and not config.overwrite:
        try:
            previous = Config.load(config_path)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{config_path} is unreadable ({e}); pass --overwrite to start a "
                              "new run there, or use another --workdir") from None
        for name in RUN_IDENTITY:
            if name in NEWER_IDENTITY and getattr(previous, name) is None:
                continue
            if getattr(previous, name) != getattr(config, name):
                raise ConfigError(
                    f"{config.workdir} holds a run with {name}={getattr(previous, name)!r}, not "
                    f"{getattr(config, name)!r}; use another --workdir, or pass --overwrite to "
                    "replace that run")
    try:
        os.makedirs(config.workdir, exist_ok=True)
        if config.overwrite:
            for name in RUN_FILES:
                path = os.path.join(config.workdir, name)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.remove(path)
        config.save(config_path)
    except OSError as e:
        raise ConfigError(f"cannot write to --workdir {config.workdir}: {e.strerror or e}; "
                          "pass a writable directory") from None


def _restore(checkpoint, manager):
    """Restores the latest checkpoint, if any; a damaged one is reported, never trained over."""
    latest = manager.latest_checkpoint
    if not latest:
        return None
    try:
        checkpoint.restore(latest).assert_existing_objects_matched()
    except Exception as e:  # noqa: BLE001 - whatever the damage, the answer is the same
        reason = (getattr(e, "message", None) or str(e) or type(e).__name__).splitlines()[0]
        older = [p for p in manager.checkpoints if p != latest]
        raise RunError(f"cannot restore {latest} ({reason[:200]}); it is corrupt, truncated or "
                       "from another model: delete its files to resume from "
                       f"{older[-1] if older else 'scratch'}, or pass --overwrite to start over"
                       ) from None
    return latest


def _export(gan, is_image, workdir, checkpoint, class_names=()):
    """Writes the SavedModel beside the old one, then swaps it in: an export is never half done.
    One that fails removes its partial files; the previous export and `checkpoint` stay."""
    export_dir = os.path.join(workdir, "saved_model")
    new, old = export_dir + ".new", export_dir + ".old"
    for path in (new, old):
        shutil.rmtree(path, ignore_errors=True)
    try:
        export_generator(gan.generator, gan.latent, is_image, new,
                         gan.discriminator if gan.latent.num_categorical else None, class_names,
                         data_scale=gan.variant.data_scale)
    except (OSError, tf.errors.OpError) as e:
        shutil.rmtree(new, ignore_errors=True)
        previous = os.path.exists(export_dir)
        cause, fix = write_failure(e, workdir, tree_size(export_dir) if previous else None)
        raise RunError(f"could not export the generator to {export_dir}: {cause}; its partial "
                       f"files were removed, {'the previous export and ' if previous else ''}"
                       f"{checkpoint or 'the checkpoints'} are intact: {fix}, then rerun the "
                       "same command to export") from None
    if os.path.exists(export_dir):
        os.replace(export_dir, old)
    os.replace(new, export_dir)
    shutil.rmtree(old, ignore_errors=True)
    return export_dir


def _real_points(data, n=1000):
    """n points of a toy mixture, drawn by the training pipeline itself (one definition)."""
    return next(iter(make_train_dataset(data, n, seed=0)))[0].numpy()


def train(config, verbose="auto", callbacks=()):
    """Trains (or resumes) the run described by `config`; returns the last step's logs.

    `verbose`: "auto" shows Keras's progress bar when stdout is a terminal and plain lines
    every `config.print_every` steps otherwise (a log file gets no carriage returns or escape
    codes); other values go to `fit` as they are (0: silent).
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


def _progress(verbose, chief, start, config):
    """(fit's verbose, [callback]) of `train`'s `verbose`: see there."""
    if not chief:
        return 0, []
    if verbose == "auto" and not sys.stdout.isatty():
        return 0, [ProgressLines(start, config.train_steps, config.print_every)]
    return verbose, []


def _train(config, verbose, callbacks, locks):
    config, variant = resolve(config)
    strategy = make_strategy(config.strategy, config.devices and config.devices.split(","),
                             config.tpu)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ConfigError(f"--batch_size={config.batch_size} does not split over {replicas} "
                          f"replicas; pass a multiple of {replicas}")
    chief = is_chief(strategy)
    data = load(config.dataset, config.data_dir, stream=True, image_size=config.image_size,
                channels=config.channels, with_classes=variant.model_class.uses_labels)
    if config.train_examples:
        data = balanced_subset(data, config.train_examples)
    if data.note and chief:
        print(data.note, flush=True)
    shape = data.spec.shape
    if config.image_size and data.spec.is_image:
        shape = (config.image_size, config.image_size, shape[2])
    network = variant.arch  # resolve made it "mlp" for image nets on toy data
    check_shape(network, shape)
    if variant.g_arch:
        check_shape(variant.g_arch, shape)
    config = dataclasses.replace(config, dataset_used=data.spec.name,
                                 dataset_note=data.note or None,
                                 class_names=list(data.class_names) or None)
    if chief:  # the lock first: --overwrite must never remove a live run
        locks.append(WorkdirLock(config.workdir))
        _prepare_workdir(config)
    # Saving is collective under multi-worker: the others save to a scratch dir (removed).
    checkpoint_dir = (os.path.join(config.workdir, "checkpoints") if chief
                      else tempfile.mkdtemp(prefix="gan-worker-checkpoints-"))

    with strategy.scope():
        gan = build_gan(config, variant, shape, data.spec.num_classes,
                        resolve_jit_compile(config.jit_compile, strategy, network,
                                            gradient_penalty=variant.gp_weight > 0))
        checkpoint = make_checkpoint(gan)
        manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir,
                                             max_to_keep=config.keep_checkpoints)
        if not chief:  # restore what the chief saved
            manager = _ReadFrom(manager, os.path.join(config.workdir, "checkpoints"))
        resumed = _restore(checkpoint, manager)
        # A checkpoint restores the learning rates it was saved with; the run's flags win.
        gan.d_optimizer.learning_rate = variant.d_lr
        gan.g_optimizer.learning_rate = variant.g_lr
    start = int(gan.step.numpy())
    if resumed:
        print(f"resuming from step {start} ({os.path.relpath(resumed, config.workdir)})",
              flush=True)

    writer = (tf.summary.create_file_writer(os.path.join(config.workdir, "train")) if chief
              else tf.summary.create_noop_writer())
    stop = StopOnSignal()
    checkpointer = Checkpointer(manager, gan, start, config.checkpoint_every, config.train_steps)
    # With loss scaling an overflowing gradient is expected: the step is skipped, not fatal.
    guard = NonFiniteGuard(start, ignore=("d_grad_norm", "g_grad_norm")
                           if config.mixed_precision else ())
    extra = list(callbacks)
    verbose, progress = _progress(verbose, chief, start, config)
    callbacks = [guard, stop, ScalarLogger(writer, start, config.log_every)]
    if chief:
        callbacks.append(SamplePictures(writer, gan, None if data.spec.is_image
                                        else _real_points(data), data.class_names))
    callbacks += [checkpointer] + progress + extra
    logs = {}
    step = start
    try:
        for initial_epoch, epochs, steps in epoch_segments(start, config.train_steps,
                                                           config.steps_per_epoch):
            dataset = split_for_d_steps(
                make_train_dataset(data, config.batch_size * variant.d_steps, config.seed,
                                   start_step=step, image_size=config.image_size,
                                   data_scale=variant.data_scale,
                                   train_points=variant.train_points),
                config.batch_size, variant.d_steps)
            history = gan.fit(dataset, initial_epoch=initial_epoch, epochs=epochs,
                              steps_per_epoch=steps, callbacks=callbacks,
                              verbose=verbose, shuffle=False)
            logs = {k: float(np.asarray(v[-1]).reshape(-1)[0])
                    for k, v in history.history.items()}
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
        _export(gan, data.spec.is_image, config.workdir, manager.latest_checkpoint,
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


class _ReadFrom:
    """A non-chief worker's CheckpointManager: saves to its scratch dir, restores the chief's."""

    def __init__(self, manager, chief_dir):
        self._manager, self._chief_dir = manager, chief_dir

    def __getattr__(self, name):
        return getattr(self._manager, name)

    @property
    def latest_checkpoint(self):
        return tf.train.latest_checkpoint(self._chief_dir)

    @property
    def checkpoints(self):
        latest = self.latest_checkpoint
        return [latest] if latest else []
