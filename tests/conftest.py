import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
