import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The JAX processes the tests start (every subprocess inherits this) compile with XLA's
# optimizations mostly off: they run a few steps of tiny nets, so nearly all their time is
# compiling (the parity process of test_backends.py: 99 s of CPU with them, 65 s without). It
# moves the float results a little, within every test's tolerance (the comparisons with
# TensorFlow have theirs; the bit-exact ones compare JAX runs made alike), but for the GPU
# script's parity against figures recorded with them: test_gpu_script.py turns them back on.
# TensorFlow does not read it; benchmarks and train.py run with JAX's defaults.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs, so MirroredStrategy runs with 2 replicas in CI (must precede any TF op).
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

from training.config import Config  # noqa: E402


def tiny_config(tmp_path, model="dcgan", dataset="mnist_5k", **overrides):
    """A run small enough for a test: narrow nets, small batches, few steps."""
    # No XLA by default: compiling costs seconds per model; test_distribute covers XLA and the
    # subprocess tests run the CLI's default (XLA on).
    fields = dict(model=model, dataset=dataset, workdir=str(tmp_path / model), train_steps=2,
                  steps_per_epoch=2, batch_size=8, width=8, jit_compile=False)
    fields.update(overrides)
    return Config(**fields)


@pytest.fixture
def make_config(tmp_path):
    return lambda **kw: tiny_config(tmp_path, **kw)
