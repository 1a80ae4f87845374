"""One loader for every dataset the repo trains on.

- `mnist`, `fashion_mnist`, `cifar10`, `celeb_a`: tensorflow-datasets. A dataset that is not
  prepared locally is downloaded only when its download host answers within seconds; when it does
  not, `mnist` falls back to the shipped `mnist_5k`, the others fail with one clear line.
- `mnist_5k`: 5,000 real MNIST digits (500 per class) shipped in `data/mnist_5k.npz`
  (made by `data/make_mnist_5k.py`; MNIST is CC BY-SA 3.0). Split "train" is 4,000 of them
  (400 per class); split "test" holds out the last 100 of each class in file order, for
  evaluation (eval.py), never trained on.
- `ring8`, `grid25`: 2-D Gaussian mixtures of the WGAN-GP / VEEGAN / PacGAN toy experiments,
  sampled on the fly.

The training pipeline is indexed by step: batch `s` is a pure function of (seed, s), so a run
resumed at step s sees exactly the batches an uninterrupted run would have seen.
"""
import dataclasses
import itertools
import os
import socket

import numpy as np
import tensorflow as tf
from absl import logging

MNIST_5K_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_5k.npz")


class DatasetError(ValueError):
    """A dataset cannot be used as asked; the message says what to do instead."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    shape: tuple          # (H, W, C) for images, (2,) for toy points
    num_classes: int      # 0 when the dataset has no class labels
    tfds_name: str = ""   # empty for datasets the repo ships or generates
    download_host: str = ""  # probed before a download, to fail fast offline

    @property
    def is_image(self):
        return len(self.shape) == 3


DATASETS = {spec.name: spec for spec in [
    DatasetSpec("mnist", (28, 28, 1), 10, "mnist", "storage.googleapis.com"),
    DatasetSpec("fashion_mnist", (28, 28, 1), 10, "fashion_mnist",
                "fashion-mnist.s3-website.eu-central-1.amazonaws.com"),
    DatasetSpec("cifar10", (32, 32, 3), 10, "cifar10", "www.cs.toronto.edu"),
    DatasetSpec("celeb_a", (64, 64, 3), 0, "celeb_a", "drive.google.com"),
    DatasetSpec("mnist_5k", (28, 28, 1), 10),
    DatasetSpec("ring8", (2,), 8),
    DatasetSpec("grid25", (2,), 25),
]}

# Toy mixtures as in the WGAN-GP code and the VEEGAN/PacGAN protocol (../shared/TARGETS.md).
TOY_CENTRES = {
    "ring8": np.array([[2.0 * np.cos(a), 2.0 * np.sin(a)]
                       for a in np.arange(8) * 2.0 * np.pi / 8], np.float32),
    "grid25": np.array(list(itertools.product([-4, -2, 0, 2, 4], repeat=2)), np.float32),
}
TOY_STDS = {"ring8": 0.02, "grid25": 0.05}


@dataclasses.dataclass
class LoadedData:
    """What a run trains on: the dataset actually used and, for images, the arrays in memory."""
    spec: DatasetSpec
    images: np.ndarray = None   # [N, H, W, C] uint8 (None for toy data)
    labels: np.ndarray = None   # [N] int32 (zeros when the dataset has no labels)
    note: str = ""              # why the dataset differs from the one asked for, if it does


def host_reachable(host, timeout=3.0):
    """True when a TCP connection to host:443 opens within `timeout` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


SPLITS = ("train", "test")
MNIST_5K_HELD_OUT_PER_CLASS = 100


def _load_tfds(spec, data_dir, split):
    import tensorflow_datasets as tfds  # imported here: slow, and unused for shipped data
    builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
    if not builder.is_prepared():
        if not host_reachable(spec.download_host):
            return None
        logging.info("Downloading and preparing %s into %s", spec.name, builder.data_dir)
        builder.download_and_prepare()
    if spec.name == "celeb_a":
        ds = builder.as_dataset(split=split).map(
            lambda ex: tf.image.resize(tf.image.crop_to_bounding_box(ex["image"], 20, 0, 178, 178),
                                       (64, 64), antialias=True))
        images = np.stack([np.round(x).astype(np.uint8) for x in tfds.as_numpy(ds)])
        return images, np.zeros(len(images), np.int32)
    images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1,
                                                      as_supervised=True))
    return images.astype(np.uint8), labels.astype(np.int32)


def load_mnist_5k(split="train"):
    """The shipped digits of `split`: the last 100 of each class (file order) are "test"."""
    with np.load(MNIST_5K_PATH) as f:
        images, labels = f["images"][..., None], f["labels"].astype(np.int32)
    rank = np.zeros(len(labels), np.int64)  # position of each digit among those of its class
    for c in np.unique(labels):
        rank[labels == c] = np.arange((labels == c).sum())[::-1]
    keep = (rank < MNIST_5K_HELD_OUT_PER_CLASS) == (split == "test")
    return images[keep], labels[keep]


def load(name, data_dir=None, split="train"):
    """Loads split `split` ("train" or "test") of dataset `name` into memory (toy data has
    nothing to load).

    Raises:
        DatasetError: unknown name, or a TFDS dataset that is neither prepared nor downloadable.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    spec = DATASETS[name]
    if not spec.is_image:
        return LoadedData(spec)
    if name == "mnist_5k":
        return LoadedData(spec, *load_mnist_5k(split))
    arrays = _load_tfds(spec, data_dir, split)
    if arrays is not None:
        return LoadedData(spec, *arrays)
    where = data_dir or "~/tensorflow_datasets"
    if name == "mnist":
        note = (f"mnist is not prepared in {where} and {spec.download_host} cannot be reached: "
                "training on mnist_5k (4,000 of the 5,000 MNIST digits shipped with the repo)")
        return LoadedData(DATASETS["mnist_5k"], *load_mnist_5k(split), note=note)
    raise DatasetError(
        f"{name} is not prepared in {where} and {spec.download_host} cannot be reached; "
        f"prepare it on a machine with network (`tfds build {spec.tfds_name}`) and pass "
        "--data_dir, or train on --dataset=mnist_5k")


def _to_unit_range(images, image_size):
    """uint8 [0, 255] -> float32 [-1, 1], resized to image_size x image_size if asked."""
    x = tf.cast(images, tf.float32) / 127.5 - 1.0
    if image_size and image_size != images.shape[1]:
        x = tf.clip_by_value(tf.image.resize(x, (image_size, image_size), antialias=True),
                             -1.0, 1.0)
    return x


def make_train_dataset(data, batch_size, seed, start_step=0, image_size=None):
    """An endless tf.data.Dataset of (x, labels) batches, batch s = f(seed, s) for s >= start_step.

    Images: every epoch over the N examples is a fresh stateless permutation
    (`tf.random.experimental.index_shuffle`), read from the in-memory array; the batch is
    `batch_size` examples scaled to [-1, 1]. Toy data: `batch_size` points drawn from the mixture
    (uniform mode, Gaussian noise) with the step's stateless seed; the label is the mode index.
    """
    seed = int(seed)
    if data.spec.is_image:
        if batch_size > len(data.images):
            raise DatasetError(f"batch of {batch_size} is larger than {data.spec.name}'s "
                               f"{len(data.images)} examples; lower --batch_size")
        images = tf.constant(data.images)
        labels = tf.constant(data.labels, tf.int32)
        n = int(images.shape[0])

        def batch_at(step):
            # A batch spans at most two epochs (batch_size <= n): shuffle with both epochs' seeds.
            positions = step * batch_size + tf.range(batch_size, dtype=tf.int64)
            first_epoch = (step * batch_size) // n
            shuffled = [tf.random.experimental.index_shuffle(
                positions % n, tf.stack([tf.constant(seed, tf.int64), first_epoch + i]), n - 1)
                for i in (0, 1)]
            index = tf.where(positions // n == first_epoch, shuffled[0], shuffled[1])
            return _to_unit_range(tf.gather(images, index), image_size), tf.gather(labels, index)
    else:
        centres = tf.constant(TOY_CENTRES[data.spec.name])
        std = TOY_STDS[data.spec.name]

        def batch_at(step):
            s = tf.stack([tf.constant(seed, tf.int64), step])
            mode = tf.random.stateless_uniform([batch_size], s, 0, len(TOY_CENTRES[data.spec.name]),
                                               dtype=tf.int32)
            noise = tf.random.stateless_normal([batch_size, 2], s + [0, 1 << 40])
            return tf.gather(centres, mode) + std * noise, mode

    return (tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
            .map(batch_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
