"""What keeps a run directory whole: one writer at a time, and no half-written saves.

- `WorkdirLock`: an advisory lock (flock) on `<workdir>/run.lock`, held by the process that
  writes the run. The kernel drops it when that process ends, however it ends, so a run killed
  with SIGKILL leaves no stale lock: the next process takes it and resumes.
- `prepare`: creates the workdir, or checks that the run in it can be resumed with this config
  (the settings declared `resume="same"` in training/config.py must agree) before any write.
- `remove_partial_checkpoint`, `write_failure`: a save that failed (a full disk, no
  permission) leaves no partial files, and is reported in plain words, not as TensorFlow's
  internal op names.
"""
import errno
import fcntl
import glob
import json
import os
import re
import shutil
import socket
import time

import numpy as np
import tensorflow as tf

from training.config import Config, ConfigError, resume_mismatch

LOCK_FILE = "run.lock"
# What a run writes in its workdir (removed by --overwrite).
RUN_FILES = ("config.json", "train", "checkpoints", "saved_model", "saved_model.new",
             "saved_model.old", "saved_model_raw", "saved_model_raw.new", "saved_model_raw.old")


class WorkdirLock:
    """Holds `<workdir>/run.lock` until `release()` or the end of the process.

    Raises ConfigError, naming the holder, if another process holds it."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, LOCK_FILE)
        try:
            os.makedirs(workdir, exist_ok=True)
            # Never truncated before the lock is ours: the file names the live holder.
            self._file = open(self.path, "a+")
        except OSError as e:
            raise ConfigError(f"cannot write to --workdir {workdir}: {e.strerror or e}; pass a "
                              "writable directory") from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._file.close()
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise ConfigError(f"cannot lock --workdir {workdir}: {e.strerror or e}; pass a "
                                  "directory on a file system that supports locks") from None
            raise ConfigError(f"--workdir {workdir} is in use by another training run "
                              f"({holder(self.path)}); wait for it to end or stop it, or pass "
                              "another --workdir") from None
        self._file.seek(0)
        self._file.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, self._file)
        self._file.flush()

    def release(self):
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def holder(path):
    """'pid 123 on host h, started ...' from a lock file, as far as it can be read."""
    try:
        with open(path) as f:
            info = json.load(f)
        return f"pid {info['pid']} on host {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not yet recorded"


def is_locked(path):
    """Whether a live process holds the run lock `path` (`WorkdirLock`'s exclusive flock): a
    shared lock cannot be taken then. One taken is released at once."""
    try:
        with open(path) as f:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EACCES)
    return False


def checkpoint_files(prefix):
    """The files of checkpoint `prefix` (`.../ckpt-20`), and its `_temp` directory if any."""
    return glob.glob(glob.escape(prefix) + ".index") + glob.glob(
        glob.escape(prefix) + ".data-*") + glob.glob(glob.escape(prefix) + "_temp")


def remove_partial_checkpoint(directory, number):
    """Removes what a failed save of checkpoint `number` left in `directory`, unless the
    `checkpoint` state file points at it. Returns the paths removed."""
    prefix = os.path.join(directory, f"ckpt-{number}")
    state = tf.train.get_checkpoint_state(directory)
    kept = set(state.all_model_checkpoint_paths) if state else set()
    if prefix in kept or os.path.basename(prefix) in kept:
        return []
    removed = []
    for path in checkpoint_files(prefix):
        try:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def human_bytes(n):
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def checkpoint_size(prefix, variables):
    """Bytes a checkpoint takes: the files of `prefix` if it exists, else the variables."""
    files = [p for p in checkpoint_files(prefix) if os.path.isfile(p)] if prefix else []
    if files:
        return sum(os.path.getsize(p) for p in files)
    return sum(np.asarray(v.numpy()).nbytes for v in variables)


def tree_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def write_failure(error, directory, needed=None):
    """(cause, fix) of a failed write, in plain words: ('no space left on device: 52.0 kB
    free, it needs about 102.5 kB', 'free space'), ('permission denied in DIR', ...); never
    TensorFlow's op names."""
    message = getattr(error, "message", None) or str(error)
    code = getattr(error, "errno", None)
    if code == errno.ENOSPC or "No space left on device" in message:
        cause = "no space left on device"
        try:
            cause += f": {human_bytes(shutil.disk_usage(directory).free)} free"
        except OSError:
            pass
        if needed:
            cause += f", it needs about {human_bytes(needed)}"
        return cause, "free space"
    if code == errno.EDQUOT or "Disk quota exceeded" in message:
        return "disk quota exceeded", "free space or raise the quota"
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in message:
        return f"permission denied in {directory}", "fix its owner or permissions"
    if code == errno.EROFS or "Read-only file system" in message:
        return f"{directory} is on a read-only file system", "make it writable"
    # Anything else: its first line, without the op names TensorFlow wraps around it.
    first = message.splitlines()[0] if message else type(error).__name__
    first = re.sub(r"\{\{[^}]*\}\}|\[Op:[^\]]*\]", "", first)
    return re.sub(r"\s+", " ", first).strip(), "fix that"


def prepare(config, check_only=False):
    """Creates the workdir, or checks that the run in it can be resumed with `config` (and
    only checks, with `check_only`)."""
    config_path = os.path.join(config.workdir, "config.json")
    if os.path.exists(config_path) and not config.overwrite:
        try:
            previous = Config.load(config_path)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{config_path} is unreadable ({e}); pass --overwrite to start a "
                              "new run there, or use another --workdir") from None
        mismatch = resume_mismatch(previous, config)
        if mismatch and mismatch[0] == "backend":
            raise ConfigError(
                f"{config.workdir} holds a run with backend={mismatch[1]!r}: its checkpoints are "
                f"Keras' {mismatch[1]} backend's, which {mismatch[2]} cannot read; resume it with "
                f"KERAS_BACKEND={mismatch[1]}, or use another --workdir, or pass --overwrite")
        if mismatch:
            name, recorded, asked = mismatch
            raise ConfigError(
                f"{config.workdir} holds a run with {name}={recorded!r}, not {asked!r}; use "
                "another --workdir, or pass --overwrite to replace that run")
    if check_only:
        return
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
