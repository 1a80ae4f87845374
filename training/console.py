"""What a command prints before its work: nothing from TensorFlow's start-up, then one line.

TensorFlow's C++ runtime writes about ten lines to stderr when it loads and looks for devices:
oneDNN and CPU-instruction notices, "Could not find cuda drivers", and on a machine without a
GPU driver an `E0000 ... failed call to cuInit` line. Several are written before its logging is
configured, so `TF_CPP_MIN_LOG_LEVEL` alone does not silence them. A newcomer reads them as
failures, and they bury the one-line errors that follow.

`start_tensorflow()` imports TensorFlow and lists its devices with stderr caught, then replays
what is not start-up noise: any other line (an error of the user's setup) still shows. Later
log lines keep TensorFlow's own filter at level 2 (errors only). A user who sets
`TF_CPP_MIN_LOG_LEVEL` themselves gets TensorFlow's own behaviour, nothing caught.
"""
import contextlib
import os
import re
import sys
import tempfile

# glog lines: a level letter, MMDD, time, thread, file:line] message.
_GLOG = re.compile(r"^([IWEF])\d{4} [\d:. ]+\s+\d+ ([\w.]+):\d+\] (.*)$")
_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",  # the second line of cpu_feature_guard's notice
)
_NO_DRIVER = "Could not find cuda drivers"
# Error-level lines that TensorFlow logs once, at the first op of a kind, about its own
# fallbacks: the run is unaffected. oneDNN's on a CPU it finds no AVX-512 on (an int32
# transpose, which every train step has, triggers it).
_FIRST_OP_NOTICES = ("oneDNN supports DT_INT32 only on platforms with AVX-512",)


def is_start_up_noise(line, no_driver):
    """Whether a stderr line of TensorFlow's start-up is noise: an info or warning line, the
    notices above, or the failed cuInit of a machine that has no GPU driver (`no_driver`)."""
    if any(line.startswith(prefix) for prefix in _NOISE):
        return True
    match = _GLOG.match(line)
    if not match:
        return False
    level, _, message = match.groups()
    return (level in "IW" or (no_driver and "failed call to cuInit" in message)
            or any(notice in message for notice in _FIRST_OP_NOTICES))


@contextlib.contextmanager
def _caught_stderr():
    """Redirects file descriptor 2 (C++ and Python writes alike) into a temporary file, and
    yields a function that returns what was written."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield lambda: (caught.seek(0), caught.read())[1].decode(errors="replace")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


_quiet = False  # whether start_tensorflow caught the start-up (the user set no log level)


@contextlib.contextmanager
def _replaying_all_but_noise():
    """Catches stderr in the block, then writes back the lines that are not noise."""
    with _caught_stderr() as read:
        try:
            yield
        finally:
            text = read()
    lines = text.splitlines()
    no_driver = any(_NO_DRIVER in line for line in lines)
    kept = [line for line in lines if line.strip() and not is_start_up_noise(line, no_driver)]
    if kept:
        print("\n".join(kept), file=sys.stderr, flush=True)


def start_tensorflow():
    """Imports TensorFlow quietly (see the module docstring) and returns its module. It does
    not start TensorFlow's runtime: logical devices can still be configured after it."""
    global _quiet
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow as tf
        tf.config.list_physical_devices()
        return tf
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    _quiet = True
    with _replaying_all_but_noise():
        import tensorflow as tf
        tf.config.list_physical_devices()  # loads the device plugins: cuInit is tried here
    return tf


def run_first_ops():
    """Starts TensorFlow's runtime and runs the first op of each kind whose notice is one of
    `_FIRST_OP_NOTICES`, with stderr caught where `start_tensorflow` caught it. Call it once
    the logical devices are configured, before the work."""
    import tensorflow as tf
    if not _quiet:
        return
    with _replaying_all_but_noise():
        tf.transpose(tf.zeros([2, 2], tf.int32))


def devices():
    """The devices a run can use, in words: "CPU only (2 cores)", or "1 GPU (NVIDIA H100 80GB
    HBM3)". Call after `start_tensorflow`."""
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return f"CPU only ({cores} core{'s' * (cores != 1)})"
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name")
                         or gpu.name)
        except (ValueError, RuntimeError):
            names.append(gpu.name)
    return f"{len(gpus)} GPU{'s' * (len(gpus) != 1)} ({', '.join(names)})"


def flag_value(argv, name):
    """The value of `--name=VALUE` or `--name VALUE` in a command line, before absl parses it
    (the help of the other flags depends on --model), or None."""
    for i, arg in enumerate(argv[1:], 1):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
    return None
