"""Time to quality: how long a default run takes to reach a stated sample quality.

    python -m benchmarks.time_to_quality --task=acgan    # AC-GAN, default data, until the
                                                         # eval classifier reads >= 95% accuracy
    python -m benchmarks.time_to_quality --task=grid25   # WGAN-GP on grid25 until all 25 modes

Trains the task's run with the repo's defaults (train.py's `train`), and every `--check_every`
steps scores the in-memory generator with the metrics of eval.py: AC-GAN: the evaluation
classifier's accuracy on 1,000 samples against the requested labels (metrics/classifier.py);
grid25: modes captured and high-quality share on 2,500 samples (VEEGAN/PacGAN protocol).
Stops at the first check that passes, or at `--max_steps`. Prints the training wall time
(checks excluded, timed separately), the steps, and the figures at each check; writes them as JSON.
"""
import json
import os
import time

# As train.py runs: with oneDNN's kernels, set before TensorFlow loads.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import keras
import numpy as np
from absl import app, flags, logging

flags.DEFINE_enum("task", "acgan", ["acgan", "grid25"], "What to train until it passes.")
flags.DEFINE_integer("check_every", None, "Steps between checks (default: 250 acgan, 500 grid25).")
flags.DEFINE_integer("max_steps", None, "Give up after this many steps (default: 5000 / 20000).")
flags.DEFINE_string("workdir", None, "Run directory (default: runs/time_to_quality_TASK).")
flags.DEFINE_string("out", None, "JSON of the result (default: WORKDIR/time_to_quality.json).")
flags.DEFINE_list("set", [], "Settings of train.py to change for this run, e.g. "
                  "aux_fake_weight=0 (docs/options.md): how a candidate default is measured "
                  "before it is kept.")
FLAGS = flags.FLAGS

TASKS = {
    # model, dataset, check_every, max_steps, target text
    "acgan": ("acgan", "mnist", 250, 5000, "classifier accuracy on samples >= 95%"),
    "grid25": ("wgan_gp", "grid25", 500, 20000, "all 25 modes captured"),
}


class QualityCheck(keras.callbacks.Callback):
    """Scores the generator every epoch; stops training once `passed(scores)`."""

    def __init__(self, score, passed, log):
        super().__init__()
        self.score, self.passed, self.log = score, passed, log
        self.history, self.check_seconds = [], 0.0
        self.train_start = None

    def on_train_begin(self, logs=None):
        if self.train_start is None:
            self.train_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        step = int(self.model.step.numpy())
        scores = self.score(self.model)
        self.check_seconds += time.perf_counter() - start
        train_seconds = time.perf_counter() - self.train_start - self.check_seconds
        entry = {"step": step, "train_seconds": round(train_seconds, 1), **scores}
        self.history.append(entry)
        self.log(json.dumps(entry))
        if self.passed(scores):
            self.model.stop_training = True


def acgan_score(classifier):
    from metrics.classifier import predict

    def score(gan):
        latents = gan.latent.sample(1000, [12345, 0])
        images = gan.generator(gan.latent.generator_input(latents), training=False)
        _, probs = predict(classifier, np.clip((np.asarray(images) + 1) / 2, 0, 1))
        return {"accuracy": float(np.mean(probs.argmax(1) == latents["labels"].numpy()))}
    return score


def grid25_score(gan):
    from experiments.mode_coverage import generator_mode_metrics
    m = generator_mode_metrics(gan, "grid25")
    return {"modes": m["modes"], "high_quality": round(m["high_quality"], 4)}


def _settings(assignments):
    """{name: value} of `name=value` assignments of train.py's settings, typed as their flags
    (checked as a run's flags are, by training/config.py when the run starts)."""
    from training.config import SETTINGS

    types, settings = {f.name: f.type for f in SETTINGS}, {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if types.get(name) not in (int, float, str):
            raise app.UsageError(f"--set {assignment}: {name!r} is not a number or text "
                                 "setting of train.py (docs/options.md)")
        settings[name] = types[name](value)
    return settings


def main(argv):
    del argv
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    from data.datasets import load
    from metrics.classifier import load_classifier
    from training.config import Config
    from training.loop import train

    model, dataset, every, max_steps, target = TASKS[FLAGS.task]
    changes = _settings(FLAGS.set)
    every, max_steps = FLAGS.check_every or every, FLAGS.max_steps or max_steps
    workdir = FLAGS.workdir or f"runs/time_to_quality_{FLAGS.task}"
    if FLAGS.task == "acgan":
        used = load(dataset).spec.name  # mnist falls back to mnist_5k offline
        classifier, summary = load_classifier(used)
        print(f"data: {used}; eval classifier held-out accuracy {summary['held_out_accuracy']:.2%}")
        score, passed = acgan_score(classifier), (lambda s: s["accuracy"] >= 0.95)
    else:
        score, passed = grid25_score, (lambda s: s["modes"] == 25)
    check = QualityCheck(score, passed, print)
    config = Config(**{**dict(model=model, dataset=dataset, workdir=workdir,
                              train_steps=max_steps, steps_per_epoch=every,
                              checkpoint_every=every, overwrite=True), **changes})
    train(config, verbose=0, callbacks=[check])
    last = check.history[-1]
    result = {"task": FLAGS.task, "model": model, "dataset": dataset, "target": target,
              "reached": passed(last), "steps": last["step"],
              "train_seconds": last["train_seconds"],
              "variant_changes": changes,
              "check_seconds": round(check.check_seconds, 1), "checks": check.history,
              "machine": f"{os.cpu_count()} CPUs"}
    out = FLAGS.out or os.path.join(workdir, "time_to_quality.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    verdict = "reached" if result["reached"] else "NOT reached"
    print(f"{FLAGS.task}: {target} {verdict} at step {result['steps']} after "
          f"{result['train_seconds']:.0f} s of training ({result['check_seconds']:.0f} s of checks)")


if __name__ == "__main__":
    app.run(main)
