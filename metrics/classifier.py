"""The digit classifier that scores generated MNIST-like images (no Inception weights offline).

A small CNN (two conv blocks, a 128-unit feature layer, 10 logits) trained by this script on the
training split of a 28x28x1, 10-class dataset, with random shifts of up to 2 pixels; its held-out
accuracy is measured on the dataset's test split, which neither it nor a GAN trains on.

    python -m metrics.classifier --dataset=mnist_5k        # writes the shipped weights
    python -m metrics.classifier --dataset=fashion_mnist   # the same for Fashion-MNIST

- `mnist_5k` (and `mnist` when it falls back to it): the weights shipped in
  `metrics/mnist_5k_classifier.weights.h5`, with their held-out accuracy in the `.json` beside.
- `fashion_mnist`: shipped the same way (`metrics/fashion_mnist_classifier.weights.h5`,
  trained on its 60,000 training images from Debian's package or tensorflow-datasets, the same
  images; 93.2% on the 10,000 held out), so every machine scores with the same features.
- `mnist` from tensorflow-datasets: trained on first use on the full training split (a few
  minutes on a CPU) and cached in `--classifier_dir` (default ~/.cache/gan_reproductions).

Eval uses `probabilities` for the classifier Inception score, class shares and AC-GAN accuracy,
and the 128-d `features` (post-ReLU) for the Frechet distance, KID and precision/recall.
"""
import json
import os
import sys
import time

import keras
import numpy as np
from absl import app, flags

SHIPPED_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "gan_reproductions")
# Datasets a digit-style classifier can score; the others need Inception (metrics/inception.py).
CLASSIFIER_DATASETS = ("mnist", "mnist_5k", "fashion_mnist")
SHIPPED = ("mnist_5k", "fashion_mnist")  # their weights are files of this package


def build_classifier():
    """Input: [N, 28, 28, 1] float in [0, 1]. Outputs: `features` [N, 128], `logits` [N, 10]."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for i, filters in enumerate((32, 64)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}a")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}b")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    features = keras.layers.Dense(128, activation="relu", name="features")(x)
    logits = keras.layers.Dense(10, name="logits")(keras.layers.Dropout(0.3)(features))
    return keras.Model(inputs, {"features": features, "logits": logits}, name="classifier")


def weights_path(dataset, classifier_dir=None):
    if dataset in SHIPPED:
        return os.path.join(SHIPPED_DIR, f"{dataset}_classifier.weights.h5")
    return os.path.join(classifier_dir or DEFAULT_CACHE, f"{dataset}_classifier.weights.h5")


def _unit(images):
    return np.asarray(images, np.float32) / 255.0


def load(*args, **kwargs):
    """data/datasets.py `load`, imported when called: it imports TensorFlow, which scoring with
    the shipped weights does not need (benchmarks/gpu.py runs without it)."""
    from data.datasets import load as load_data
    return load_data(*args, **kwargs)


def train_classifier(dataset, data_dir=None, epochs=20, seed=0, verbose=1):
    """Trains on `dataset`'s training split; returns (model, held-out accuracy, summary dict)."""
    import tensorflow as tf  # the training pipeline only: scoring needs Keras alone
    keras.utils.set_random_seed(seed)
    train, test = load(dataset, data_dir), load(dataset, data_dir, split="test")
    if train.spec.name != dataset:  # mnist fell back to mnist_5k: that classifier is shipped
        raise ValueError(train.note)
    model = build_classifier()
    shift = keras.Sequential([keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant",
                                                             seed=seed)])
    ds = (tf.data.Dataset.from_tensor_slices((_unit(train.images), train.labels))
          .shuffle(len(train.labels), seed=seed).batch(64)
          .map(lambda x, y: (shift(x, training=True), y)).prefetch(tf.data.AUTOTUNE))
    logits_only = keras.Model(model.inputs, model.get_layer("logits").output)  # shares the layers
    logits_only.compile(keras.optimizers.Adam(1e-3),
                        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
    start = time.time()
    logits_only.fit(ds, epochs=epochs, verbose=verbose, shuffle=False)  # ds is shuffled
    accuracy = float(np.mean(predict(model, test.images)[1].argmax(1) == test.labels))
    summary = {"dataset": dataset, "train_examples": int(len(train.labels)),
               "test_examples": int(len(test.labels)), "held_out_accuracy": accuracy,
               "epochs": epochs, "seed": seed, "train_seconds": round(time.time() - start, 1)}
    return model, accuracy, summary


def predict(model, images, batch_size=500):
    """(features [N, 128], probabilities [N, 10]) of uint8 [0, 255] or float [0, 1] images."""
    images = np.asarray(images)
    x = _unit(images) if images.dtype == np.uint8 else images.astype(np.float32)
    features, probs = [], []
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size], training=False)
        features.append(keras.ops.convert_to_numpy(out["features"]))
        probs.append(keras.ops.convert_to_numpy(keras.ops.softmax(out["logits"])))
    if not features:
        return np.zeros([0, 128], np.float32), np.zeros([0, 10], np.float32)
    return np.concatenate(features), np.concatenate(probs)


def load_classifier(dataset, data_dir=None, classifier_dir=None, log=print, epochs=20):
    """The classifier for `dataset` (one of CLASSIFIER_DATASETS), trained and cached on first use.

    Returns (model, summary dict with the held-out accuracy).
    """
    path = weights_path(dataset, classifier_dir)
    model = build_classifier()
    if not os.path.exists(path):
        if dataset in SHIPPED:
            raise FileNotFoundError(f"{path} is missing; run python -m metrics.classifier "
                                    f"--dataset={dataset} to rebuild it")
        log(f"training the {dataset} evaluation classifier once (cached in {path}) ...")
        model, _, summary = train_classifier(dataset, data_dir, epochs=epochs, verbose=0)
        save(model, summary, path)
        return model, summary
    model.load_weights(path)
    with open(path.replace(".weights.h5", ".json")) as f:
        return model, json.load(f)


def save(model, summary, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    model.save_weights(path)
    with open(path.replace(".weights.h5", ".json"), "w") as f:
        json.dump(summary, f, indent=2)


FLAGS = flags.FLAGS


def _define_flags():  # only when run as a script: eval.py, which imports this, has its own
    flags.DEFINE_enum("dataset", "mnist_5k", list(CLASSIFIER_DATASETS), "Dataset to train on.")
    flags.DEFINE_string("data_dir", None, "tensorflow-datasets directory.")
    flags.DEFINE_string("classifier_dir", None, "Where non-shipped classifiers are cached.")
    flags.DEFINE_integer("epochs", 20, "Training epochs.")


def main(argv):
    del argv
    try:
        model, accuracy, summary = train_classifier(FLAGS.dataset, FLAGS.data_dir, FLAGS.epochs)
    except ValueError as e:
        sys.exit(f"error: {e}")
    path = weights_path(FLAGS.dataset, FLAGS.classifier_dir)
    save(model, summary, path)
    print(f"held-out accuracy {accuracy:.4f} on {summary['test_examples']} images; wrote {path}")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
