"""Pictures from an exported generator, for people who only want pictures.

    python sample.py --saved_model=runs/acgan/saved_model --out=grid.png
    python sample.py --saved_model=DIR --num=16 --label=7 --seed=3 --out=sevens.png

Needs only the SavedModel (training/export.py's contract): `sample` draws the latents from the
seed; with `--label` the same noise goes through `serving_default` with the class (AC-GAN) or
categorical code value (InfoGAN) fixed. `--label` takes an index, or a class name when the
generator was trained on class folders. Toy (2-D) generators give a scatter plot.
"""
import math
import os
import sys

from absl import app, flags, logging

FLAGS = flags.FLAGS


def define_flags():
    """Called by the command line only: importing `write_samples` defines no flags, so it
    can live beside eval.py's or train.py's in one process."""
    flags.DEFINE_string("saved_model", None, "Directory of a generator exported by train.py.")
    flags.DEFINE_string("out", "samples.png", "PNG file to write.")
    flags.DEFINE_integer("num", 64, "Number of samples.")
    flags.DEFINE_string("label", None, "Class (AC-GAN) or categorical code value (InfoGAN) of "
                        "every sample: an index, or a class name of a folder-trained generator.")
    flags.DEFINE_integer("seed", 0, "Seed of the latents: same seed, same pictures.")


class SampleError(ValueError):
    """The samples cannot be drawn as asked; the message says what to change."""


def _label_index(label, spec, names):
    """The int a --label names, checked against what the generator was trained with."""
    if spec.label is None:
        raise SampleError("--label needs a class-conditional (acgan) or infogan generator; this "
                          "one takes no label: drop --label")
    bound = spec.label.bound
    if label in names:
        return names.index(label)
    try:
        index = int(label)
    except ValueError:
        raise SampleError(f"--label={label} is not a class of this generator; pass an index in "
                          f"[0, {bound}){' or one of ' + ', '.join(names) if names else ''}"
                          ) from None
    if not 0 <= index < bound:
        raise SampleError(f"--label={index} is out of range; pass an index in [0, {bound})")
    return index


def write_samples(saved_model, out, num=64, label=None, seed=0):
    """Writes `num` samples of `saved_model` as one PNG grid (or scatter) to `out`; returns the
    samples (float32, [num, H, W, C] in [0, 1] or [num, 2])."""
    import numpy as np
    import tensorflow as tf

    from models import latent_of_export
    from training import visualize

    if num < 1:
        raise SampleError(f"--num must be positive, got {num}")
    if not tf.io.gfile.exists(os.path.join(saved_model, "saved_model.pb")):
        raise SampleError(f"{saved_model} is not a SavedModel (no saved_model.pb); pass the "
                          "saved_model directory of a train.py run")
    model = tf.saved_model.load(saved_model)
    if not {"sample", "serving_default", "latent_spec"} <= set(model.signatures):
        raise SampleError(f"{saved_model} lacks the signatures of train.py's export; pass a "
                          "generator exported by train.py")
    spec = latent_of_export(model)
    names = ([n.decode() for n in model.signatures["class_names"]()["names"].numpy()]
             if "class_names" in model.signatures else [])
    title = f"seed {seed}"
    if label is None:
        samples = model.signatures["sample"](num_samples=tf.constant(num),
                                             seed=tf.constant(seed))["samples"].numpy()
    else:
        index = _label_index(str(label), spec, names)
        latents = spec.sample(num, [seed, 0])  # the noise `sample` would draw for this seed
        latents[spec.label.key] = tf.fill([num], index)
        samples = model.signatures["serving_default"](**latents)["samples"].numpy()
        title = (f"{spec.label.what} {index}" + (f" ({names[index]})" if index < len(names) else "")
                 + f", {title}")
    if samples.ndim == 2:
        png = visualize.scatter_png(samples, title=title)
    else:
        cols = math.ceil(math.sqrt(num))
        rows = math.ceil(num / cols)
        blank = np.ones((rows * cols - num, *samples.shape[1:]), np.float32)
        png = visualize.labelled_grid_png(np.concatenate([samples, blank]), rows, cols,
                                          title=title)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "wb") as f:
            f.write(png)
    except OSError as e:
        raise SampleError(f"cannot write {out}: {e.strerror or e}; pass another --out") from None
    return samples


def main(argv):
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.ERROR)  # as train.py
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])}; "
                 "flags take the form --name=value")
    if not FLAGS.saved_model:
        sys.exit("error: pass --saved_model=DIR (the saved_model directory of a train.py run)")
    from training.console import devices, run_first_ops, start_tensorflow
    start_tensorflow()  # without TensorFlow's start-up lines
    run_first_ops()
    label = "" if FLAGS.label is None else f" of label {FLAGS.label}"
    print(f"sample.py: {FLAGS.num} samples{label} from {FLAGS.saved_model}, {devices()}",
          flush=True)
    try:
        write_samples(FLAGS.saved_model, FLAGS.out, FLAGS.num, FLAGS.label, FLAGS.seed)
    except SampleError as e:
        sys.exit(f"error: {e}")
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
