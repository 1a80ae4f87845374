"""One loader for every dataset the repo trains on.

- `mnist`, `cifar10`, `celeb_a`: tensorflow-datasets. A dataset that is not prepared locally is
  downloaded only when its download host answers within seconds; when it does not, `mnist` falls
  back to the shipped `mnist_5k`, the others fail with one clear line. Training streams them from
  their files (`stream=True`); evaluation loads a split into memory.
- `fashion_mnist`: tensorflow-datasets as above when it is prepared or its host answers, else
  the idx files of Debian's package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist,
  or $FASHION_MNIST_DIR), read into memory by data/idx.py: "train" the 60,000 training images,
  "test" the 10,000 held-out ones; with neither, one line says what to install.
- `folder:PATH`: a directory of images (data/folder.py), flat or one sub-folder per class; only
  the sorted file paths are in memory, the pixels are decoded in the pipeline.
- `mnist_5k`: 5,000 real MNIST digits (500 per class) shipped in `data/mnist_5k.npz`
  (made by `data/make_mnist_5k.py`; MNIST is CC BY-SA 3.0). Split "train" is 4,000 of them
  (400 per class); split "test" holds out the last 100 of each class in file order, for
  evaluation (eval.py), never trained on.
- `ring8`, `grid25`: 2-D Gaussian mixtures of the WGAN-GP / VEEGAN / PacGAN toy experiments,
  sampled on the fly, or from a fixed training set of N points drawn once from the run's seed
  (`train_points`), as the reference code's 25gaussians and PacGAN sets; the toy protocols
  also divide the points by a constant (`data_scale`, gan_toy.py's 1.414 and 2.828).

The training pipeline is indexed by step: batch `s` is a pure function of (seed, s), so a run
resumed at step s sees exactly the batches an uninterrupted run would have seen. In-memory arrays
and folders are read by index (a stateless permutation per epoch); a TFDS stream has no random
access, so its epochs are read in file order and permuted block by block (stateless, keyed by
seed, epoch and block), and a resumed run skips to its place by re-reading part of an epoch.
"""
import dataclasses
import itertools
import os
import socket

import numpy as np
import tensorflow as tf
from absl import logging

from data import folder as image_folder
from data import idx

MNIST_5K_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_5k.npz")


class DatasetError(ValueError):
    """A dataset cannot be used as asked; the message says what to do instead."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    shape: tuple          # (H, W, C) for images, (2,) for toy points
    num_classes: int      # 0 when the dataset has no class labels
    tfds_name: str = ""   # empty for datasets the repo ships or generates
    download_host: str = ""  # probed before a download, to fail fast offline; "": never downloaded

    @property
    def is_image(self):
        return len(self.shape) == 3


DATASETS = {spec.name: spec for spec in [
    DatasetSpec("mnist", (28, 28, 1), 10, "mnist", "storage.googleapis.com"),
    # Offline, Debian's idx files (load_fashion_mnist_idx) when TFDS neither has nor gets it.
    DatasetSpec("fashion_mnist", (28, 28, 1), 10, "fashion_mnist",
                "fashion-mnist.s3-website.eu-central-1.amazonaws.com"),
    DatasetSpec("cifar10", (32, 32, 3), 10, "cifar10", "www.cs.toronto.edu"),
    DatasetSpec("celeb_a", (64, 64, 3), 0, "celeb_a", "drive.google.com"),
    DatasetSpec("mnist_5k", (28, 28, 1), 10),
    DatasetSpec("ring8", (2,), 8),
    DatasetSpec("grid25", (2,), 25),
]}

# Toy mixtures as in the WGAN-GP code and the VEEGAN/PacGAN protocol (docs/variants.md).
TOY_CENTRES = {
    "ring8": np.array([[2.0 * np.cos(a), 2.0 * np.sin(a)]
                       for a in np.arange(8) * 2.0 * np.pi / 8], np.float32),
    "grid25": np.array(list(itertools.product([-4, -2, 0, 2, 4], repeat=2)), np.float32),
}
TOY_STDS = {"ring8": 0.02, "grid25": 0.05}

# Fashion-MNIST from Debian's package `dataset-fashion-mnist`: the four gzipped idx files of the
# original release (Xiao, Rasul & Vollgraf 2017; MIT licence) in this directory, or in
# $FASHION_MNIST_DIR when that is set.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "FASHION_MNIST_DIR"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CLASS_NAMES = {"fashion_mnist": FASHION_MNIST_CLASSES}


@dataclasses.dataclass
class LoadedData:
    """What a run trains on: the dataset actually used and where its examples come from: arrays
    in memory, a folder's files, or a TFDS stream (None of them for toy data)."""
    spec: DatasetSpec
    images: np.ndarray = None   # [N, H, W, C] uint8, in memory
    labels: np.ndarray = None   # [N] int32 (zeros when the dataset has no labels)
    note: str = ""              # why the dataset differs from the one asked for, if it does
    files: np.ndarray = None    # folder: [N] sorted paths (labels in `labels`)
    stream: object = None       # TFDS: () -> tf.data.Dataset of (uint8 image, int32 label), one
    size: int = 0               #   epoch in file order; `size` examples
    class_names: tuple = ()     # folder: the class sub-folders' names; fashion_mnist: its 10

    @property
    def num_examples(self):
        return self.size if self.stream else len(self.files if self.files is not None
                                                  else self.images)


def host_reachable(host, timeout=3.0):
    """True when a TCP connection to host:443 opens within `timeout` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


SPLITS = ("train", "test")
MNIST_5K_HELD_OUT_PER_CLASS = 100


def _tfds_source(spec, data_dir, split):
    """(epoch, size): `epoch()` reads split `split` once in file order as (uint8 image of
    `spec.shape`, int32 label); None when it is neither prepared nor downloadable."""
    import tensorflow_datasets as tfds  # imported here: slow, and unused for shipped data
    builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
    if not builder.is_prepared():
        if not spec.download_host or not host_reachable(spec.download_host):
            return None
        logging.info("Downloading and preparing %s into %s", spec.name, builder.data_dir)
        builder.download_and_prepare()

    def example(ex):
        if spec.name == "celeb_a":  # the face: 178 x 178 from row 20, resized to 64 x 64
            face = tf.image.crop_to_bounding_box(ex["image"], 20, 0, 178, 178)
            image = tf.image.resize(face, spec.shape[:2], antialias=True)
            return (tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8),
                    tf.constant(0, tf.int32))
        return tf.cast(ex["image"], tf.uint8), tf.cast(ex["label"], tf.int32)

    def epoch():
        # No auto-cache: it would keep a small enough split in memory, which is what streaming
        # avoids; file order (no file shuffling) makes the stream the same at every read.
        return builder.as_dataset(split=split, shuffle_files=False,
                                  read_config=tfds.ReadConfig(try_autocache=False)).map(
            example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    return epoch, builder.info.splits[split].num_examples


def load_mnist_5k(split="train"):
    """The shipped digits of `split`: the last 100 of each class (file order) are "test"."""
    with np.load(MNIST_5K_PATH) as f:
        images, labels = f["images"][..., None], f["labels"].astype(np.int32)
    rank = np.zeros(len(labels), np.int64)  # position of each digit among those of its class
    for c in np.unique(labels):
        rank[labels == c] = np.arange((labels == c).sum())[::-1]
    keep = (rank < MNIST_5K_HELD_OUT_PER_CLASS) == (split == "test")
    return images[keep], labels[keep]


def fashion_mnist_dir():
    """Where the Fashion-MNIST idx files are looked for: $FASHION_MNIST_DIR, else Debian's."""
    return os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR


def load_fashion_mnist_idx(split="train", directory=None):
    """(images [N, 28, 28, 1] uint8, labels [N] int32) of `split` read from the idx files in
    `directory` (default `fashion_mnist_dir()`): train-*-ubyte.gz for "train" (60,000 in
    Debian's package), t10k-*-ubyte.gz for "test" (10,000); None when `directory` is missing.

    Raises:
        DatasetError: a file of the split missing, or not the idx file it should be (wrong magic
            number, truncated, not gzip, not 28x28, labels not 0-9, counts that differ).
    """
    directory = directory or fashion_mnist_dir()
    if not os.path.isdir(directory):
        return None
    fix = ("reinstall it: apt-get install --reinstall dataset-fashion-mnist (or pass "
           "--dataset=mnist_5k)")
    prefix = "train" if split == "train" else "t10k"
    paths = [os.path.join(directory, f"{prefix}-{kind}-ubyte.gz")
             for kind in ("images-idx3", "labels-idx1")]
    try:
        images, labels = (idx.read(path, magic)
                          for path, magic in zip(paths, (idx.IMAGES_MAGIC, idx.LABELS_MAGIC)))
    except idx.IdxError as e:
        raise DatasetError(f"fashion_mnist: {e}; {fix}") from None
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"fashion_mnist: {paths[0]} holds {images.shape[1]}x"
                           f"{images.shape[2]} images, not Fashion-MNIST's 28x28; {fix}")
    if len(images) != len(labels):
        raise DatasetError(f"fashion_mnist: {paths[0]} holds {len(images)} images but "
                           f"{paths[1]} {len(labels)} labels; {fix}")
    if len(labels) and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DatasetError(f"fashion_mnist: {paths[1]} has label {labels.max()}, not one of "
                           f"the 10 classes 0-9; {fix}")
    return images[..., None], labels.astype(np.int32)


def load(name, data_dir=None, split="train", stream=False, image_size=None, channels=None,
         with_classes=False):
    """Split `split` ("train" or "test") of dataset `name`: arrays in memory, or with
    `stream=True` (training) a TFDS stream or a folder's file list (toy data has nothing to load).

    `image_size`, `channels`, `with_classes` shape a folder (`folder:PATH`): the side its images
    are centre-cropped and resized to (default: their own side when they share one size), 1 or 3
    channels (default: 3 when any file has colour), one sub-folder per class.

    Raises:
        DatasetError: unknown name, a TFDS dataset that is neither prepared nor downloadable,
            fashion_mnist neither prepared nor installed (or its idx files corrupt), a folder
            that cannot be trained on.
    """
    if image_folder.is_folder(name):
        return _load_folder(name, split, image_size, channels, with_classes)
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, "
                           "or folder:PATH")
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    spec = DATASETS[name]
    if not spec.is_image:
        return LoadedData(spec)
    if name == "mnist_5k":
        return LoadedData(spec, *load_mnist_5k(split))
    names = CLASS_NAMES.get(name, ())
    source = _tfds_source(spec, data_dir, split)
    if source is not None:
        epoch, size = source
        if stream:
            return LoadedData(spec, stream=epoch, size=size, class_names=names)
        images, labels = zip(*((x.numpy(), y.numpy()) for x, y in epoch().batch(4096)))
        return LoadedData(spec, np.concatenate(images), np.concatenate(labels),
                          class_names=names)
    where = data_dir or "~/tensorflow_datasets"
    if name == "fashion_mnist":  # in memory, streamed or not: 47 MB for the training split
        arrays = load_fashion_mnist_idx(split)
        if arrays is None:
            raise DatasetError(
                f"fashion_mnist is not prepared in {where} and {fashion_mnist_dir()} is "
                "missing: apt-get install dataset-fashion-mnist (or pass --dataset=mnist_5k)")
        return LoadedData(spec, *arrays, class_names=names)
    if name == "mnist":
        note = (f"mnist is not prepared in {where} and {spec.download_host} cannot be reached: "
                "training on mnist_5k (4,000 of the 5,000 MNIST digits shipped with the repo)")
        return LoadedData(DATASETS["mnist_5k"], *load_mnist_5k(split), note=note)
    raise DatasetError(
        f"{name} is not prepared in {where} and {spec.download_host} cannot be reached; "
        f"prepare it on a machine with network (`tfds build {spec.tfds_name}`) and pass "
        "--data_dir, or train on --dataset=mnist_5k")


def balanced_subset(data, n):
    """The first n examples of `data` in file order, taken class by class: n // K of each of
    its K classes (the first n % K classes one more). In-memory arrays and folders only."""
    if data.stream is not None:
        raise DatasetError(f"--train_examples needs the data in memory; {data.spec.name} is "
                           "streamed from tensorflow-datasets: train on all of it, or on "
                           "--dataset=mnist_5k")
    if not data.spec.is_image:
        raise DatasetError("--train_examples is for image datasets; toy mixtures take "
                           "--train_points")
    total = data.num_examples
    if not 0 < n <= total:
        raise DatasetError(f"--train_examples={n}: {data.spec.name} has {total} training "
                           "examples; pass 1 to that many, or 0 for all")
    labels = np.asarray(data.labels)
    classes = np.unique(labels)
    quota = {c: n // len(classes) + (i < n % len(classes)) for i, c in enumerate(classes)}
    short = [int(c) for c in classes if np.sum(labels == c) < quota[c]]
    if short:
        raise DatasetError(f"--train_examples={n}: classes {short} have fewer than "
                           f"{n // len(classes) + 1} examples; pass fewer")
    index = np.sort(np.concatenate([np.flatnonzero(labels == c)[:quota[c]] for c in classes]))
    return dataclasses.replace(
        data, labels=labels[index],
        images=None if data.images is None else data.images[index],
        files=None if data.files is None else data.files[index],
        note=(data.note + "; " if data.note else "") + f"training on {n} of its {total} "
        f"examples ({n // len(classes)} or more per class, in file order)")


def _load_folder(name, split, image_size, channels, with_classes):
    path = os.path.abspath(os.path.expanduser(name[len(image_folder.PREFIX):]))
    if split != "train":
        raise DatasetError(f"{name} has no held-out split; a folder is for training only")
    try:
        found = image_folder.scan(path, with_classes)
    except image_folder.FolderError as e:
        raise DatasetError(str(e)) from None
    side = image_size
    if side is None:
        if len(found.sizes) > 1:
            (h0, w0), (h1, w1) = min(found.sizes), max(found.sizes)
            raise DatasetError(f"{path} has images of {len(found.sizes)} sizes ({h0}x{w0} to "
                               f"{h1}x{w1}); pass --image_size=S to centre-crop and resize them "
                               "all to SxS")
        side = min(next(iter(found.sizes)))
    channels = channels or found.channels
    spec = DatasetSpec(image_folder.PREFIX + path, (side, side, channels),
                       len(found.class_names))
    return LoadedData(spec, labels=found.labels, files=found.files,
                      note=image_folder.describe(found, side, channels),
                      class_names=found.class_names)


def _to_unit_range(images, image_size):
    """uint8 [0, 255] -> float32 [-1, 1], resized to image_size x image_size if asked."""
    x = tf.cast(images, tf.float32) / 127.5 - 1.0
    if image_size and image_size != images.shape[1]:
        x = tf.clip_by_value(tf.image.resize(x, (image_size, image_size), antialias=True),
                             -1.0, 1.0)
    return x


# A TFDS stream is permuted in blocks of at most this many bytes of decoded images: the memory
# a streamed epoch holds, whatever the size of the dataset.
SHUFFLE_BLOCK_BYTES = 64 << 20


def _epoch_positions(step, batch_size, n, seed):
    """Indices into N examples of batch `step`: a fresh stateless permutation every epoch."""
    # A batch spans at most two epochs (batch_size <= n): shuffle with both epochs' seeds.
    positions = step * batch_size + tf.range(batch_size, dtype=tf.int64)
    first_epoch = (step * batch_size) // n
    shuffled = [tf.random.experimental.index_shuffle(
        positions % n, tf.stack([tf.constant(seed, tf.int64), first_epoch + i]), n - 1)
        for i in (0, 1)]
    return tf.where(positions // n == first_epoch, shuffled[0], shuffled[1])


def _streamed_examples(data, seed, start):
    """Example `start` onwards of the endless sequence of epochs of a TFDS stream, each read in
    file order and permuted block by block with a stateless shuffle of (seed, epoch, block)."""
    n = data.size
    block = int(max(1, min(n, SHUFFLE_BLOCK_BYTES // np.prod(data.spec.shape))))
    one_epoch = data.stream()

    def permuted(epoch):
        def permute(i, examples):
            k = tf.shape(examples[1], out_type=tf.int64)[0]
            key = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.constant(seed, tf.int64), epoch]), i)
            order = tf.random.experimental.index_shuffle(tf.range(k), key, k - 1)
            return tf.gather(examples[0], order), tf.gather(examples[1], order)
        return one_epoch.batch(block).enumerate().map(permute).unbatch()

    first_epoch, offset = divmod(start, n)
    return (tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(permuted)
            .skip(offset))


def toy_training_set(name, n, seed):
    """A fixed set of n points of mixture `name`: point i is centre i mod K plus Gaussian noise
    (so the modes are balanced, as gan_toy.py's 25gaussians set), drawn with a stateless seed
    of (seed, n): the same set in every process and after every resume. [n, 2], labels [n]."""
    centres = TOY_CENTRES[name]
    mode = np.arange(n) % len(centres)
    noise = tf.random.stateless_normal([n, 2], [seed, n], alg="philox").numpy()
    return centres[mode] + TOY_STDS[name] * noise, mode.astype(np.int32)


def check_batch(data, batch_size, train_points=0):
    """Raises DatasetError when one step's `batch_size` examples are more than the data holds
    (train.py checks this before it touches the run directory)."""
    if data.spec.is_image and batch_size > data.num_examples:
        raise DatasetError(f"a step takes {batch_size} images (--batch_size x --d_steps) and "
                           f"{data.spec.name} has {data.num_examples}; lower --batch_size")
    if not data.spec.is_image and train_points and batch_size > train_points:
        raise DatasetError(f"batch of {batch_size} is larger than the fixed training set of "
                           f"{train_points} points; pass more --train_points")


def make_train_dataset(data, batch_size, seed, start_step=0, image_size=None, data_scale=1.0,
                       train_points=0):
    """An endless tf.data.Dataset of (x, labels) batches, batch s = f(seed, s) for s >= start_step.

    Images in memory or in a folder: every epoch over the N examples is a fresh stateless
    permutation (`tf.random.experimental.index_shuffle`); a folder's files are read and decoded
    as the batch needs them. A TFDS stream: the next `batch_size` examples of its block-permuted
    epochs (`_streamed_examples`). The batch is scaled to [-1, 1]. Toy data: `batch_size` points
    drawn from the mixture (uniform mode, Gaussian noise) with the step's stateless seed, or
    with `train_points` > 0 read from `toy_training_set` like an array in memory; either is
    divided by `data_scale`. The label is the mode index.
    """
    check_batch(data, batch_size, train_points)
    seed = int(seed)
    steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    n = data.num_examples if data.spec.is_image else None
    if data.stream is not None:
        return (_streamed_examples(data, seed, start_step * batch_size)
                .batch(batch_size, drop_remainder=True)
                .map(lambda x, y: (_to_unit_range(x, image_size), y),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .prefetch(tf.data.AUTOTUNE))
    if data.files is not None:
        files, labels = tf.constant(data.files), tf.constant(data.labels, tf.int32)
        side, channels = data.spec.shape[0], data.spec.shape[2]

        def files_at(step):
            index = _epoch_positions(step, batch_size, n, seed)
            return tf.gather(files, index), tf.gather(labels, index)

        # A file that passed the scan but still fails to decode is dropped (logged): the batch
        # takes the next file instead of stopping the run.
        return (steps.map(files_at).unbatch()
                .map(lambda f, y: (image_folder.decode(f, side, channels), y),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .ignore_errors(log_warning=True)
                .batch(batch_size, drop_remainder=True)
                .prefetch(tf.data.AUTOTUNE))
    if data.spec.is_image:
        images = tf.constant(data.images)
        labels = tf.constant(data.labels, tf.int32)

        def batch_at(step):
            index = _epoch_positions(step, batch_size, n, seed)
            return _to_unit_range(tf.gather(images, index), image_size), tf.gather(labels, index)
    elif train_points:
        points, modes = toy_training_set(data.spec.name, train_points, seed)
        points, modes = tf.constant(points / data_scale, tf.float32), tf.constant(modes)

        def batch_at(step):
            index = _epoch_positions(step, batch_size, train_points, seed)
            return tf.gather(points, index), tf.gather(modes, index)
    else:
        centres = tf.constant(TOY_CENTRES[data.spec.name])
        std = TOY_STDS[data.spec.name]

        def batch_at(step):
            s = tf.stack([tf.constant(seed, tf.int64), step])
            mode = tf.random.stateless_uniform([batch_size], s, 0, len(TOY_CENTRES[data.spec.name]),
                                               dtype=tf.int32)
            noise = tf.random.stateless_normal([batch_size, 2], s + [0, 1 << 40])
            points = tf.gather(centres, mode) + std * noise
            return (points / data_scale if data_scale != 1 else points), mode

    return (steps.map(batch_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
