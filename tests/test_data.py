"""The one loader: shipped digits, toy mixtures, offline fallback, step-indexed pipeline,
Fashion-MNIST from Debian's idx files."""
import gzip
import os
import re
import struct
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


# === Fashion-MNIST from idx files ($FASHION_MNIST_DIR, else Debian's dataset-fashion-mnist) ===

def _idx_bytes(magic, array):
    """An idx file written by hand (not by data/idx.py): big-endian magic and sizes, bytes."""
    return struct.pack(f">i{array.ndim}i", magic, *array.shape) + array.astype(np.uint8).tobytes()


def _fake_fashion_split(n, offset):
    """n 28x28 images of known, distinct pixels; labels 0..9, 0..9, ... (n // 10 per class)."""
    pixels = (np.arange(n)[:, None, None] * 31 + offset
              + np.arange(28 * 28).reshape(28, 28)) % 256
    return pixels.astype(np.uint8), (np.arange(n) % 10).astype(np.uint8)


def _write_fake_fashion(directory, splits=(("train", 20, 0), ("t10k", 10, 100))):
    """Gzipped idx files of `splits` (prefix, images, pixel offset) in `directory`."""
    os.makedirs(directory, exist_ok=True)
    arrays = {}
    for prefix, n, offset in splits:
        images, labels = arrays[prefix] = _fake_fashion_split(n, offset)
        for name, magic, array in (("images-idx3", 2051, images), ("labels-idx1", 2049, labels)):
            with gzip.open(os.path.join(directory, f"{prefix}-{name}-ubyte.gz"), "wb") as f:
                f.write(_idx_bytes(magic, array))
    return arrays


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch):
    """20 training and 10 held-out images in $FASHION_MNIST_DIR; TFDS has nothing prepared (its
    data_dir is empty) and its download host does not answer, as offline."""
    monkeypatch.setattr(datasets, "host_reachable", lambda host, timeout=3.0: False)
    directory = str(tmp_path / "fashion-mnist")
    arrays = _write_fake_fashion(directory)
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, directory)
    return directory, arrays, str(tmp_path / "tfds")


def test_fashion_mnist_reads_the_idx_files_pixel_for_pixel(fake_fashion):
    directory, arrays, tfds_dir = fake_fashion
    for split, prefix, n in (("train", "train", 20), ("test", "t10k", 10)):
        for stream in (False, True):  # training asks for a stream: it gets the arrays
            data = load("fashion_mnist", data_dir=tfds_dir, split=split, stream=stream)
            assert data.spec.name == "fashion_mnist" and data.spec.shape == (28, 28, 1)
            assert data.images.shape == (n, 28, 28, 1) and data.images.dtype == np.uint8
            assert data.labels.dtype == np.int32 and data.num_examples == n and not data.note
            np.testing.assert_array_equal(data.images[..., 0], arrays[prefix][0])
            np.testing.assert_array_equal(data.labels, arrays[prefix][1])
            assert data.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    # The held-out images are not training images.
    assert not np.array_equal(load("fashion_mnist", tfds_dir, "test").images[0],
                              load("fashion_mnist", tfds_dir).images[0])


def test_fashion_mnist_train_examples_takes_the_first_of_each_class(fake_fashion, tmp_path):
    from training.config import Config
    from training.loop import train
    _, _, tfds_dir = fake_fashion
    full = load("fashion_mnist", data_dir=tfds_dir)
    part = datasets.balanced_subset(full, 13)
    assert np.bincount(part.labels).tolist() == [2, 2, 2] + [1] * 7
    np.testing.assert_array_equal(part.images, full.images[:13])  # labels cycle 0..9
    assert part.class_names == full.class_names and "training on 13 of its 20" in part.note
    with pytest.raises(DatasetError, match="has 20 training examples"):
        datasets.balanced_subset(full, 21)
    train(Config(model="acgan", dataset="fashion_mnist", data_dir=tfds_dir,
                 workdir=str(tmp_path / "run"), train_steps=1, batch_size=8, width=8,
                 jit_compile=False, train_examples=10), verbose=0)
    config = Config.load(str(tmp_path / "run" / "config.json"))
    assert config.dataset_used == "fashion_mnist" and config.train_examples == 10
    assert "training on 10 of its 20" in config.dataset_note
    assert config.class_names[0] == "T-shirt/top" and len(config.class_names) == 10


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


def _rewrite(path, payload):
    with gzip.open(path, "wb") as f:
        f.write(payload)


IMAGES = "train-images-idx3-ubyte.gz"
LABELS = "train-labels-idx1-ubyte.gz"
CORRUPTIONS = {  # name: (file, how it is spoilt, what the message says)
    "bad magic": (IMAGES, lambda p: _rewrite(p, _idx_bytes(1234, np.zeros((20, 28, 28)))),
                  "not an idx file of images: magic number 1234, expected 2051"),
    "labels where images go": (IMAGES, lambda p: _rewrite(p, _idx_bytes(2049, np.zeros(20))),
                               r"magic number 2049, expected 2051 \(the magic of idx labels: "
                               r"are the files swapped\?\)"),
    "gzip cut short": (IMAGES, _truncate, "is truncated"),
    "fewer pixels than announced": (
        IMAGES, lambda p: _rewrite(p, _idx_bytes(2051, np.zeros((20, 28, 28)))[:-100]),
        r"is truncated: 15580 of the 15680 bytes its header announces \(20x28x28\)"),
    "header cut short": (LABELS, lambda p: _rewrite(p, struct.pack(">i", 2049)),
                         "is truncated inside its header"),
    "empty": (LABELS, lambda p: _rewrite(p, b""), "is truncated"),
    "bytes left over": (LABELS, lambda p: _rewrite(p, _idx_bytes(2049, np.zeros(20)) + b"x"),
                        "has bytes after the 20 its header announces"),
    "not gzip": (LABELS, lambda p: open(p, "wb").write(_idx_bytes(2049, np.zeros(20))),
                 "cannot be read"),
    "missing file": (LABELS, os.remove, "is missing"),
    "not 28x28": (IMAGES, lambda p: _rewrite(p, _idx_bytes(2051, np.zeros((20, 27, 28)))),
                  "holds 27x28 images, not Fashion-MNIST's 28x28"),
    "counts differ": (LABELS, lambda p: _rewrite(p, _idx_bytes(2049, np.zeros(19))),
                      "holds 20 images but .* 19 labels"),
    "label out of range": (LABELS, lambda p: _rewrite(p, _idx_bytes(2049, np.full(20, 10))),
                           "has label 10, not one of the 10 classes"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupt_fashion_mnist_file_gives_one_line_naming_it_and_the_fix(fake_fashion,
                                                                           corruption):
    directory, _, tfds_dir = fake_fashion
    file, spoil, says = CORRUPTIONS[corruption]
    path = os.path.join(directory, file)
    spoil(path)
    with pytest.raises(DatasetError) as caught:
        load("fashion_mnist", data_dir=tfds_dir)
    message = str(caught.value)
    assert "\n" not in message and path in message, message
    assert re.search(says, message), message
    assert message.endswith("apt-get install --reinstall dataset-fashion-mnist (or pass "
                            "--dataset=mnist_5k)"), message
    # No traceback from numpy, gzip or struct behind it.
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    # The other split's files are intact and still load.
    assert len(load("fashion_mnist", data_dir=tfds_dir, split="test").images) == 10


def test_missing_fashion_mnist_says_to_install_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "host_reachable", lambda host, timeout=3.0: False)
    absent = str(tmp_path / "absent")
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, absent)
    with pytest.raises(DatasetError) as caught:
        load("fashion_mnist", data_dir=str(tmp_path / "tfds"))
    assert str(caught.value) == (
        f"fashion_mnist is not prepared in {tmp_path / 'tfds'} and {absent} is missing: "
        "apt-get install dataset-fashion-mnist (or pass --dataset=mnist_5k)")


@pytest.mark.skipif(not os.path.isdir(datasets.FASHION_MNIST_DIR),
                    reason=f"{datasets.FASHION_MNIST_DIR} is absent (apt-get install "
                    "dataset-fashion-mnist)")
def test_debian_fashion_mnist_is_60000_training_and_10000_held_out_images(tmp_path,
                                                                          monkeypatch):
    monkeypatch.delenv(datasets.FASHION_MNIST_ENV, raising=False)
    monkeypatch.setattr(datasets, "host_reachable", lambda host, timeout=3.0: False)
    tfds_dir = str(tmp_path / "tfds")  # nothing prepared: the Debian files are read
    train = load("fashion_mnist", data_dir=tfds_dir)
    test = load("fashion_mnist", data_dir=tfds_dir, split="test")
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28, 1)
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    # The published data: the first image of both splits is an ankle boot, the mean pixel 72.9.
    assert train.labels[0] == test.labels[0] == 9
    assert 72 < train.images.mean() < 74
    assert np.bincount(datasets.balanced_subset(train, 1000).labels).tolist() == [100] * 10
