"""What keeps a run directory whole: one writer at a time.

- `WorkdirLock`: an advisory lock (flock) on `<workdir>/run.lock`, held by the process that
  writes the run. The kernel drops it when that process ends, however it ends, so a run killed
  with SIGKILL leaves no stale lock: the next process takes it and resumes.
"""
import errno
import fcntl
import json
import os
import socket
import time

from training.config import ConfigError

LOCK_FILE = "run.lock"


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

