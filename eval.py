"""Scores an exported generator against real data, with real held-out data as the baseline.

    python eval.py --workdir=runs/acgan                          # a run: its export and dataset
    python eval.py --saved_model=DIR --dataset=mnist_5k          # any export of train.py

Prints a table (metric | model | real held-out | protocol), writes `metrics.json`, PNGs and
TensorBoard events into `--out_dir` (default: the run's `eval/` directory; its runs `generated/`
and `real/` share their tags, so a metric's two values are one chart). Every metric is
computed twice with the same sample sizes: on generated samples, and on real held-out data
(the dataset's test split, never trained on) in their place, so the second column says what
"perfect" reads on this data and this feature extractor. A run with no export yet is named as
training now, or as stopped at step N of M with the command that finishes it.

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
import dataclasses
import json
import os
import sys

from absl import app, flags, logging

# Only the standard library and absl above this line: the paths are checked, and a wrong one
# refused, before TensorFlow loads (seconds), and TensorFlow loads through start_tensorflow
# (training/console.py), which hides its start-up lines.
from training.console import devices, run_first_ops, start_tensorflow

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


def is_run(directory):
    """Whether `directory` is a train.py run: it holds the config.json a run records first."""
    return bool(directory) and os.path.exists(os.path.join(directory, "config.json"))


def locate(workdir, saved_model):
    """(run directory or None, saved_model directory) of the flags; exits with the fix when a
    path is not there, so that no advice leads to a second error."""
    if workdir:
        if not os.path.exists(workdir):
            sys.exit(f"error: --workdir {workdir} does not exist; pass the --workdir of a "
                     "train.py run")
        if not os.path.isdir(workdir):
            sys.exit(f"error: --workdir {workdir} is a file; pass the --workdir of a train.py run")
        saved_model = os.path.join(workdir, "saved_model")
        if not is_run(workdir) and not os.path.exists(saved_model):
            sys.exit(f"error: {workdir} is not a train.py run (it has no config.json and no "
                     "saved_model/); pass the --workdir of a run, or --saved_model=DIR "
                     "--dataset=NAME")
        return workdir, saved_model
    parent = os.path.dirname(os.path.normpath(saved_model))
    if is_run(parent):  # a run's own export: its config names the dataset and the step
        return parent, saved_model
    if not os.path.exists(saved_model):
        sys.exit(f"error: --saved_model {saved_model} does not exist; pass the saved_model/ "
                 "directory of a finished train.py run")
    return None, saved_model


def dataset_of(workdir, saved_model):
    if FLAGS.dataset:
        return FLAGS.dataset
    if not is_run(workdir):
        sys.exit(f"error: {workdir or saved_model} has no config.json to name its dataset; "
                 "pass --dataset=NAME")
    path = os.path.join(workdir, "config.json")
    try:
        with open(path) as f:
            return json.load(f)["dataset_used"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"error: {path} is unreadable ({e}); pass --dataset=NAME")


def no_export(workdir, step):
    """Why the run in `workdir` has no saved_model yet, and what makes one: it is training
    now (it exports when it ends), or it stopped at its last checkpoint (its own command,
    rerun, resumes there, finishes and exports)."""
    from training.config import Config, train_command
    from training.workdir import LOCK_FILE, holder, is_locked

    head = f"{workdir} has no export yet"
    try:
        config = Config.load(os.path.join(workdir, "config.json"))
    except (OSError, ValueError, TypeError) as e:
        return (f"{head}, and its config.json is unreadable ({e}); rerun the train.py command "
                "that made it")
    total, lock = config.train_steps, os.path.join(workdir, LOCK_FILE)
    if is_locked(lock):
        saved = (f"checkpointed at step {step} of {total}" if step else
                 f"before its first checkpoint of {total} steps")
        return (f"{head}: it is training now ({holder(lock)}), {saved}; it exports when it "
                "ends: run eval.py again then")
    stopped = ("the run stopped after its last step, before exporting" if step >= total else
               f"the run stopped at step {step} of {total}" if step else
               f"the run stopped before its first checkpoint of {total} steps")
    # The command names the directory as given here: the run may have moved since.
    command = train_command(dataclasses.replace(config, workdir=workdir))
    return f"{head}: {stopped}; rerun its command to finish and export it: {command}"


def main(argv):
    del argv
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.ERROR)  # as train.py
    if bool(FLAGS.workdir) == bool(FLAGS.saved_model):
        sys.exit("error: pass --workdir=RUN (a train.py run) or --saved_model=DIR --dataset=NAME")
    workdir, saved_model = locate(FLAGS.workdir, FLAGS.saved_model)
    dataset = dataset_of(workdir, saved_model)
    start_tensorflow()
    run_first_ops()  # their notices (oneDNN's int32 fallback) caught as the start-up's are
    from data.datasets import DatasetError
    from metrics.evaluation import EvalError, SavedModelError, evaluate, run_step

    step = run_step(workdir)
    if is_run(workdir) and not any(os.path.exists(os.path.join(path, "saved_model.pb"))
                                   for path in (saved_model, os.path.join(workdir, "saved_model"))):
        sys.exit(f"error: {no_export(workdir, step)}")
    out_dir = FLAGS.out_dir or os.path.join(workdir or os.path.dirname(
        os.path.abspath(saved_model)), "eval")
    at = f" (step {step})" if workdir else ""
    print(f"eval.py: scoring {saved_model}{at} on {dataset}, {devices()}", flush=True)
    try:
        evaluate(saved_model, dataset, out_dir, FLAGS.num_samples, FLAGS.split_size, FLAGS.seed,
                 FLAGS.data_dir, FLAGS.classifier_dir, FLAGS.inception_weights, step=step)
    except (SavedModelError, EvalError, DatasetError) as e:
        sys.exit(f"error: {e}")
    print(f"wrote {out_dir}/metrics.json")


if __name__ == "__main__":
    app.run(main)
