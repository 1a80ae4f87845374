"""Samples an exported generator into a PNG, with nothing but TensorFlow needed to load it.

    python eval.py --saved_model=runs/acgan/saved_model --out=grid.png

Images: a 10 x 10 grid (AC-GAN: one row per class; InfoGAN: one row per categorical code value).
Toy data: a scatter of 2,000 samples.
"""
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from training import visualize

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "Directory of an exported generator (run/saved_model).")
flags.DEFINE_string("out", "grid.png", "PNG file to write.")
flags.DEFINE_integer("seed", 0, "Seed of the samples.")


class SavedModelError(ValueError):
    pass


def load_sampler(path):
    """Loads a SavedModel and checks it has the `sample` signature of training/export.py."""
    if not tf.io.gfile.exists(path + "/saved_model.pb"):
        raise SavedModelError(f"{path} is not a SavedModel (no saved_model.pb); pass the "
                              "saved_model directory of a finished run")
    model = tf.saved_model.load(path)
    missing = {"sample", "serving_default", "latent_spec"} - set(model.signatures)
    if missing:
        raise SavedModelError(f"{path} lacks the {', '.join(sorted(missing))} signature(s); "
                              "pass a generator exported by train.py")
    return model


def sample_png(model, seed=0):
    """PNG bytes of a sample grid (images) or scatter (2-D points)."""
    serve, sample = model.signatures["serving_default"], model.signatures["sample"]
    if sample(num_samples=tf.constant(1), seed=tf.constant(seed))["samples"].shape.rank == 2:
        points = sample(num_samples=tf.constant(2000), seed=tf.constant(seed))["samples"]
        return visualize.scatter_png(points.numpy(), title="generated samples")
    spec = {k: int(v) for k, v in model.signatures["latent_spec"]().items()}
    cols = visualize.GRID_COLUMNS
    rows = spec["num_classes"] or spec["num_categorical"] or 10
    z = tf.random.stateless_normal([cols, spec["noise_dim"]], [seed, 1])
    feed = {"z": tf.tile(z, [rows, 1])}
    if spec["num_classes"]:
        feed["labels"] = tf.repeat(tf.range(rows), cols)
    if spec["num_categorical"]:
        feed["categorical"] = tf.repeat(tf.range(rows), cols)
    if spec["num_continuous"]:
        feed["continuous"] = tf.zeros([rows * cols, spec["num_continuous"]])
    if len(feed) == 1:  # no class or code: 100 draws of `sample`
        feed = None
    images = (sample(num_samples=tf.constant(rows * cols), seed=tf.constant(seed))
              if feed is None else serve(**feed))["samples"].numpy()
    return visualize.png_bytes(visualize.image_grid(images, rows, cols))


def main(argv):
    del argv
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    if not FLAGS.saved_model:
        sys.exit("error: pass --saved_model=DIR (a run's saved_model directory)")
    try:
        model = load_sampler(FLAGS.saved_model)
    except SavedModelError as e:
        sys.exit(f"error: {e}")
    with open(FLAGS.out, "wb") as f:
        f.write(sample_png(model, FLAGS.seed))
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
