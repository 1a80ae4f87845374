"""The one loader: shipped digits, toy mixtures, offline fallback, step-indexed pipeline."""
import time

import numpy as np
import pytest
import tensorflow as tf

from data import datasets
from data.datasets import DatasetError, TOY_CENTRES, TOY_STDS, load, make_train_dataset


def test_mnist_5k_is_400_training_and_100_held_out_real_digits_per_class():
    data = load("mnist_5k")
    assert data.images.shape == (4000, 28, 28, 1) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [400] * 10
    # Real digits: mostly black background, bright strokes.
    assert 0.1 < (data.images > 128).mean() < 0.25
    test = load("mnist_5k", split="test")
    assert np.bincount(test.labels).tolist() == [100] * 10
    # Disjoint: no held-out digit is among the training ones.
    train_keys = {x.tobytes() for x in data.images}
    assert not any(x.tobytes() in train_keys for x in test.images)


def test_pipeline_scales_to_unit_range_and_visits_every_example_once_per_epoch():
    data = load("mnist_5k")
    batches = list(make_train_dataset(data, 1000, seed=3).take(4))
    x = np.concatenate([b[0].numpy() for b in batches])
    assert x.min() == -1.0 and x.max() == 1.0 and x.dtype == np.float32
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert np.bincount(labels).tolist() == [400] * 10
    # The same multiset of images as the array: a permutation, not a resample.
    np.testing.assert_allclose(np.sort(x.reshape(len(x), -1).sum(1)),
                               np.sort((data.images / 127.5 - 1).reshape(4000, -1).sum(1)),
                               rtol=1e-5)


def test_pipeline_is_a_function_of_seed_and_step():
    data = load("mnist_5k")
    a = [b[0].numpy() for b in make_train_dataset(data, 16, seed=1).take(4)]
    resumed = next(iter(make_train_dataset(data, 16, seed=1, start_step=3)))[0].numpy()
    np.testing.assert_array_equal(a[3], resumed)
    other = next(iter(make_train_dataset(data, 16, seed=2)))[0].numpy()
    assert not np.array_equal(a[0], other)


def test_image_size_resizes_each_digit_of_the_same_batch():
    """--image_size=32 gives the batch of the same seed and step, each digit resized: its labels,
    values in [-1, 1], and each image scaled back to 28 x 28 is its own digit (it matches the
    unresized one better than any other digit of the batch does)."""
    data = load("mnist_5k")
    x28, y28 = next(iter(make_train_dataset(data, 16, 0)))
    x32, y32 = next(iter(make_train_dataset(data, 16, 0, image_size=32)))
    assert x32.shape == (16, 32, 32, 1) and x32.dtype == tf.float32
    np.testing.assert_array_equal(y28, y32)
    assert -1.0 <= float(tf.reduce_min(x32)) and float(tf.reduce_max(x32)) <= 1.0
    back = tf.image.resize(x32, (28, 28), antialias=True).numpy().reshape(16, -1)
    x28 = x28.numpy().reshape(16, -1)
    errors = np.abs(back[:, None] - x28[None]).mean(-1)  # [resized i, original j]
    assert errors.diagonal().max() < 0.1
    np.testing.assert_array_equal(errors.argmin(1), np.arange(16))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_mixture_matches_its_definition(name):
    x, mode = next(iter(make_train_dataset(load(name), 20000, seed=0)))
    x, mode = x.numpy(), mode.numpy()
    centres = TOY_CENTRES[name]
    assert len(centres) == {"ring8": 8, "grid25": 25}[name]
    residual = x - centres[mode]
    np.testing.assert_allclose(residual.std(0), TOY_STDS[name], rtol=0.05)
    counts = np.bincount(mode, minlength=len(centres))
    assert counts.min() > 0.8 * len(x) / len(centres)
    if name == "ring8":
        np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)


def test_offline_mnist_falls_back_to_mnist_5k_within_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "host_reachable", lambda host, timeout=3.0: False)
    start = time.time()
    data = load("mnist", data_dir=str(tmp_path))
    assert time.time() - start < 10
    assert data.spec.name == "mnist_5k" and "mnist_5k" in data.note
    assert len(data.images) == 4000


def test_offline_other_dataset_fails_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "host_reachable", lambda host, timeout=3.0: False)
    with pytest.raises(DatasetError, match="cifar10 is not prepared.*--dataset=mnist_5k"):
        load("cifar10", data_dir=str(tmp_path))


def test_unreachable_host_is_detected_fast():
    start = time.time()
    assert not datasets.host_reachable("unreachable.invalid", timeout=3.0)
    assert time.time() - start < 5


def test_train_examples_takes_the_first_of_each_class_and_the_run_records_it(tmp_path):
    from training.config import Config
    from training.loop import train
    full = load("mnist_5k")
    part = datasets.balanced_subset(full, 1003)
    assert np.bincount(part.labels).tolist() == [101] * 3 + [100] * 7
    for c in range(10):  # the first of the class in file order, in file order
        np.testing.assert_array_equal(part.images[part.labels == c],
                                      full.images[full.labels == c][:np.sum(part.labels == c)])
    with pytest.raises(DatasetError, match="has 4000 training examples"):
        datasets.balanced_subset(full, 4001)
    train(Config(model="dcgan", dataset="mnist_5k", workdir=str(tmp_path / "run"), train_steps=1,
                 batch_size=8, width=8, jit_compile=False, train_examples=20), verbose=0)
    config = Config.load(str(tmp_path / "run" / "config.json"))
    assert config.train_examples == 20 and "training on 20 of its 4000" in config.dataset_note
