"""What a run saves: the checkpoint of both networks and optimizers, and the exported generator.

- `make_checkpoint`: G, D, both optimizers (their slots built before any restore:
  docs/keras_traps.md) and the step counter, which is also the noise's RNG state.
- `restore`: the latest checkpoint, or a one-line error naming the fix when it is damaged;
  a damaged checkpoint is never trained over.
- `export`: the SavedModel written beside the old one and swapped in, so an export is never
  half done; under --ema `saved_model/` is the averaged G and `saved_model_raw/` the raw one.
- `ReadFrom`: a non-chief worker's manager, which restores what the chief saved.
"""
import os
import shutil

import tensorflow as tf

from training.callbacks import RunError
from training.export import export_generator
from training.workdir import tree_size, write_failure


def generators(gan):
    """The checkpoint's generator entries: G and, under --ema, the averaged G."""
    average = {"generator_average": gan.average.generator} if gan.average else {}
    return {"generator": gan.generator, **average}


def make_checkpoint(gan):
    """G, D, both optimizers, the step and, under --ema, the averaged G."""
    return tf.train.Checkpoint(discriminator=gan.discriminator, d_optimizer=gan.d_optimizer,
                               g_optimizer=gan.g_optimizer, step=gan.step, **generators(gan))


def restore(checkpoint, manager):
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


def export(gan, is_image, workdir, checkpoint, class_names=()):
    """`saved_model/`: the sampler (the averaged G under --ema, else G); under --ema also
    `saved_model_raw/`, G itself. Returns the first's path."""
    if gan.average:
        _export_one(gan, gan.generator, is_image, os.path.join(workdir, "saved_model_raw"),
                    workdir, checkpoint, class_names)
    return _export_one(gan, gan.sampler, is_image, os.path.join(workdir, "saved_model"),
                       workdir, checkpoint, class_names)


def _export_one(gan, generator, is_image, export_dir, workdir, checkpoint, class_names):
    """Writes the SavedModel beside the old one, then swaps it in: an export is never half done.
    One that fails removes its partial files; the previous export and `checkpoint` stay."""
    new, old = export_dir + ".new", export_dir + ".old"
    for path in (new, old):
        shutil.rmtree(path, ignore_errors=True)
    try:
        export_generator(gan, is_image, new, class_names, generator=generator)
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


class ReadFrom:
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
