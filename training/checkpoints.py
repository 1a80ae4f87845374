"""What a run saves: the checkpoint of both networks and optimizers, and the exported generator.

- `make_manager`: the checkpoint of G, D, both optimizers (their slots built before any
  restore: docs/keras_traps.md), the step counter (also the noise's RNG state) and, under
  --ema, the averaged G, with the manager that saves and lists them. On TensorFlow a
  tf.train.Checkpoint (`checkpoints/ckpt-N.index`, `.data-*`); on JAX and PyTorch, whose
  variables TensorFlow cannot track, an `ArrayCheckpoints` (`checkpoints/ckpt-N.npz`: every
  variable's value, bit for bit). The two formats are not interchangeable: a run resumes on the
  backend it was trained on (config.json's `backend`, training/workdir.py).
- `restore`: the latest checkpoint, or a one-line error naming the fix when it is damaged;
  a damaged checkpoint is never trained over.
- `export`: the SavedModel written beside the old one and swapped in, so an export is never
  half done; under --ema `saved_model/` is the averaged G and `saved_model_raw/` the raw one.
  Off TensorFlow, the generator is rebuilt on TensorFlow in a child process from the latest
  checkpoint, and exported there: the same SavedModel, with no jax2tf in between.
- `ReadFrom`: a non-chief worker's manager, which restores what the chief saved.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
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


def make_manager(gan, directory, max_to_keep):
    """(checkpoint, manager) of `gan` in `directory`, for the backend Keras runs on."""
    if keras.backend.backend() == "tensorflow":
        checkpoint = make_checkpoint(gan)
        return checkpoint, tf.train.CheckpointManager(checkpoint, directory, max_to_keep)
    manager = ArrayCheckpoints(gan, directory, max_to_keep)
    return manager, manager


def step_of(path):
    """The step a checkpoint path is numbered by: `.../ckpt-20` or `.../ckpt-20.npz` -> 20."""
    return int(re.search(r"ckpt-(\d+)(\.npz)?$", path).group(1))


def latest(directory):
    """The latest checkpoint in `directory`, of either format, or None."""
    return tf.train.latest_checkpoint(directory) or ArrayCheckpoints.latest_in(directory)


def restore(checkpoint, manager):
    """Restores the latest checkpoint, if any; a damaged one is reported, never trained over."""
    latest = manager.latest_checkpoint
    if not latest:
        return None
    try:
        if isinstance(checkpoint, ArrayCheckpoints):
            checkpoint.restore(latest)
        else:
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
    `saved_model_raw/`, G itself. Returns the first's path. Off TensorFlow, `checkpoint`
    (the run's latest, of this step) is exported by a child process on TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        export_on_tensorflow(checkpoint, {"shape": list(gan.data_shape),
                                          "num_classes": gan.num_classes, "is_image": is_image,
                                          "class_names": list(class_names or ())}, workdir)
        return os.path.join(workdir, "saved_model")
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


class ArrayCheckpoints:
    """The checkpoints of a run off TensorFlow, with what train() uses of a
    tf.train.CheckpointManager (`directory`, `latest_checkpoint`, `checkpoints`, `save`).

    `ckpt-N.npz` holds every variable of `groups` (G, D, both optimizers, the step, the
    averaged G) under `group/index`, with their paths and shapes in `manifest`. A save writes
    `ckpt-N.npz.tmp`, flushes it to disk and renames it: a kill or a full disk during a save
    leaves no `ckpt-N.npz`, so the previous checkpoint stays the latest. The latest is the
    highest-numbered `ckpt-N.npz`; the `max_to_keep` most recent are kept."""

    PATTERN = re.compile(r"ckpt-(\d+)\.npz$")

    def __init__(self, gan, directory, max_to_keep):
        self.gan, self.directory, self.max_to_keep = gan, directory, max_to_keep

    def groups(self):
        gan = self.gan
        return {**{name: model.variables for name, model in generators(gan).items()},
                "discriminator": gan.discriminator.variables,
                "d_optimizer": gan.d_optimizer.variables,
                "g_optimizer": gan.g_optimizer.variables, "step": [gan.step]}

    @classmethod
    def latest_in(cls, directory):
        found = sorted((int(m.group(1)), path) for path in glob.glob(
            os.path.join(glob.escape(directory), "ckpt-*.npz")) if (m := cls.PATTERN.search(path)))
        return found[-1][1] if found else None

    @property
    def checkpoints(self):
        return sorted(glob.glob(os.path.join(glob.escape(self.directory), "ckpt-*.npz")),
                      key=step_of)

    @property
    def latest_checkpoint(self):
        return self.latest_in(self.directory)

    def save(self, checkpoint_number):
        arrays, manifest = {}, {}
        for group, variables in self.groups().items():
            manifest[group] = [[v.path, list(v.shape)] for v in variables]
            for i, v in enumerate(variables):
                arrays[f"{group}/{i}"] = np.asarray(keras.ops.convert_to_numpy(v.value))
        path = os.path.join(self.directory, f"ckpt-{checkpoint_number}.npz")
        os.makedirs(self.directory, exist_ok=True)
        try:
            with open(path + ".tmp", "wb") as f:
                np.savez(f, manifest=np.array(json.dumps(manifest)), **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(path + ".tmp", path)
        except BaseException:
            if os.path.exists(path + ".tmp"):
                os.remove(path + ".tmp")
            raise
        for old in self.checkpoints[:-self.max_to_keep] if self.max_to_keep else ():
            os.remove(old)
        return path

    def restore(self, path, only=None):
        """Loads `path` into the variables (of the groups named in `only`, default all); raises
        ValueError naming what does not match."""
        try:
            with np.load(path) as saved:
                manifest = json.loads(str(saved["manifest"]))
                values = {key: saved[key] for key in saved.files if key != "manifest"}
        except (zipfile.BadZipFile, EOFError, KeyError, OSError) as e:
            raise ValueError(f"unreadable: {e}") from None
        assignments = []
        for group, variables in self.groups().items():
            if only is not None and group not in only:
                continue
            if len(manifest.get(group, ())) != len(variables):
                raise ValueError(f"{len(manifest.get(group, ()))} variables of {group}, the "
                                 f"model has {len(variables)}")
            for i, v in enumerate(variables):
                value = values[f"{group}/{i}"]
                if tuple(value.shape) != tuple(v.shape):
                    raise ValueError(f"{v.path} has shape {value.shape} there, {v.shape} here")
                assignments.append((v, value))
        for v, value in assignments:  # only once all of them match
            v.assign(value)


def export_on_tensorflow(checkpoint, build, workdir):
    """Exports the run in `workdir` from `checkpoint` (an ArrayCheckpoints file) in a child
    process on TensorFlow (`python -m training.export_child`): the GAN that `build` describes
    (data shape, number of classes, class names, is_image), its networks loaded from the
    checkpoint, through `export` as on TensorFlow. Raises RunError with the child's reason."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-m", "training.export_child", workdir, checkpoint,
                          json.dumps(build)], capture_output=True, text=True, env=env)
    if out.returncode:
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("error: ") if lines else f"status {out.returncode}"
        raise RunError(reason if reason.startswith("could not export") else
                       f"could not export the generator on TensorFlow ({reason}); {checkpoint} "
                       "is intact: rerun the same command to export")


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
