import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pytest  # noqa: E402

from training.config import Config  # noqa: E402


def tiny_config(tmp_path, model="dcgan", dataset="mnist_5k", **overrides):
    """A run small enough for a test: narrow nets, small batches, few steps."""
    fields = dict(model=model, dataset=dataset, workdir=str(tmp_path / model), train_steps=2,
                  steps_per_epoch=2, batch_size=8, width=8)
    fields.update(overrides)
    return Config(**fields)


@pytest.fixture
def make_config(tmp_path):
    return lambda **kw: tiny_config(tmp_path, **kw)
