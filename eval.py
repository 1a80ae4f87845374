"""Scores an exported generator against real data, with real held-out data as the baseline.

    python eval.py --workdir=runs/acgan                          # a run: its export and dataset
    python eval.py --saved_model=DIR --dataset=mnist_5k          # any export of train.py

Prints a table (metric | model | real held-out | protocol), writes `metrics.json`, PNGs and
TensorBoard events into `--out_dir` (default: the run's `eval/` directory, which TensorBoard
shows beside `train/`). Every metric is computed twice with the same sample sizes: on generated
samples, and on real held-out data (the dataset's test split, never trained on) in their place,
so the second column says what "perfect" reads on this data and this feature extractor.

- MNIST-like data (mnist, mnist_5k, fashion_mnist): the digit classifier of
  metrics/classifier.py gives the classifier Inception score (splits of 1,000), the Frechet
  distance, KID and precision/recall in its 128-d feature space, class shares with their KL to
  uniform, AC-GAN per-class accuracy, and the Parzen-window log-likelihood in pixel space.
- InfoGAN: the categorical code as an unsupervised classifier of real held-out digits (best
  one-to-one matching) and the mutual-information lower bound L_I on generated samples.
- Toy data (ring8, grid25): modes, high-quality share and reverse KL on 2,500 samples.
- FID / KID in Inception space with `--inception_weights` (local file only; nothing is
  downloaded); without it they are reported as not computed.
Metric definitions and their sources: metrics/scores.py; the scoring: metrics/evaluation.py.
"""
import json
import os
import sys

from absl import app, flags, logging

from data.datasets import DatasetError
from metrics.evaluation import EvalError, SavedModelError, evaluate, run_step

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A run directory of train.py: scores its saved_model on the "
                    "dataset it was trained on.")
flags.DEFINE_string("saved_model", None, "Directory of an exported generator (instead of "
                    "--workdir); needs --dataset unless it sits in a run directory.")
flags.DEFINE_string("dataset", None, "Dataset the generator was trained on (with --saved_model).")
flags.DEFINE_string("out_dir", None, "Where metrics.json, PNGs and events go (default: the run's "
                    "eval/ directory).")
flags.DEFINE_integer("num_samples", 10000, "Generated samples for the image metrics.")
flags.DEFINE_integer("split_size", 1000, "Samples per split of the Inception score.")
flags.DEFINE_integer("seed", 0, "Seed of the generated samples.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets directory.")
flags.DEFINE_string("classifier_dir", None, "Cache of evaluation classifiers trained on first use.")
flags.DEFINE_string("inception_weights", None, "Local keras InceptionV3 weights (.h5) for FID/KID.")


def main(argv):
    del argv
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.workdir) == bool(FLAGS.saved_model):
        sys.exit("error: pass --workdir=RUN (a train.py run) or --saved_model=DIR --dataset=NAME")
    workdir = FLAGS.workdir
    saved_model = FLAGS.saved_model or os.path.join(workdir, "saved_model")
    if not workdir and os.path.exists(os.path.join(saved_model, "..", "config.json")):
        workdir = os.path.normpath(os.path.join(saved_model, ".."))
    dataset = FLAGS.dataset
    if not dataset:
        config = os.path.join(workdir or "", "config.json")
        if not workdir or not os.path.exists(config):
            sys.exit(f"error: {workdir or saved_model} has no config.json to name its dataset; "
                     "pass --dataset=NAME")
        with open(config) as f:
            dataset = json.load(f)["dataset_used"]
    out_dir = FLAGS.out_dir or os.path.join(workdir or os.path.dirname(
        os.path.abspath(saved_model)), "eval")
    try:
        evaluate(saved_model, dataset, out_dir, FLAGS.num_samples, FLAGS.split_size, FLAGS.seed,
                 FLAGS.data_dir, FLAGS.classifier_dir, FLAGS.inception_weights,
                 step=run_step(workdir))
    except (SavedModelError, EvalError, DatasetError) as e:
        sys.exit(f"error: {e}")
    print(f"wrote {out_dir}/metrics.json")


if __name__ == "__main__":
    app.run(main)
