"""What the MNIST experiments share: a run of train.py (reused or trained) and its logged curves."""
import glob
import json
import os
import time

import numpy as np
import tensorflow as tf

from experiments import common
from metrics.evaluation import evaluate
from training.config import Config
from training.loop import train


SECONDS_FILE = "train_seconds.json"


def total_train_seconds(workdir):
    """Seconds spent in train() on the run in `workdir` over every call, interrupted ones
    included (0 for a run that has no checkpoint yet)."""
    if tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")) is None:
        return 0.0
    try:
        with open(os.path.join(workdir, SECONDS_FILE)) as f:
            return float(json.load(f)["seconds"])
    except (OSError, ValueError, KeyError):
        return 0.0


def timed_train(config, **kwargs):
    """train(config): adds the time it took to the run's total (`total_train_seconds`) even
    when it stops on a signal or an error, so a resumed run reports its whole cost. Returns
    (train()'s logs, seconds spent in this call)."""
    before, start = total_train_seconds(config.workdir), time.perf_counter()
    try:
        return train(config, **kwargs), time.perf_counter() - start
    finally:
        if os.path.isdir(config.workdir):
            common.write_json(os.path.join(config.workdir, SECONDS_FILE),
                              {"seconds": before + time.perf_counter() - start})


def train_or_reuse(workdir, model, steps, quick, seed=0, **fields):
    """The run in `workdir`: trained (or resumed) with the variant's defaults on `mnist`
    (mnist_5k offline) for `steps` generator updates unless it already holds that many;
    `fields` set other Config fields. Returns (config dict, seconds spent training now); the
    run's total over every call is `total_train_seconds(workdir)`."""
    config_path = os.path.join(workdir, "config.json")
    settings = dict(train_steps=steps, steps_per_epoch=min(500, steps),
                    checkpoint_every=min(500, steps))
    settings.update(dict(width=8, batch_size=16, jit_compile=False) if quick else {})
    settings.update(fields)
    settings.setdefault("dataset", "mnist_5k" if quick else "mnist")
    _, seconds = timed_train(Config(model=model, workdir=workdir, seed=seed, **settings),
                             verbose=0)
    with open(config_path) as f:
        return json.load(f), seconds


def scalar_curve(logdir, tag):
    """(steps, values) of a scalar that training/callbacks.py logged to `logdir`, by step (the
    last write wins when a resumed run repeated steps)."""
    return scalar_curves(logdir, (tag,))[tag]


def scalar_curves(logdir, tags):
    """{tag: (steps, values)} of several logged scalars, in one read of the events. A tag is
    the step's log name (`g_loss`): TensorBoard's group before it (`loss/g_loss`), which runs
    of earlier versions did not write, is not part of it."""
    points = {tag: {} for tag in tags}
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                name = value.tag.rsplit("/", 1)[-1]
                if name in points and value.metadata.plugin_data.plugin_name != "images":
                    points[name][event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: (np.array(sorted(p)), np.array([p[s] for s in sorted(p)]))
            for tag, p in points.items()}


def train_and_evaluate(out_dir, model, quick, seed, workdir, steps, config=None):
    """The MNIST experiments' common part: prepare `out_dir`, train or reuse the run (quick: a
    6-step tiny one inside out_dir; none when its `config` dict is given), score its export with
    eval.py's evaluation into out_dir/eval. Returns (workdir, run config dict, training seconds,
    evaluation result, {metric name: row})."""
    common.prepare_out_dir(out_dir)
    train_seconds = 0.0
    if config is None:
        if quick:
            workdir, steps = os.path.join(out_dir, "run"), 6
        workdir = workdir or f"runs/{model}"
        config, train_seconds = train_or_reuse(workdir, model, steps, quick)
    result = evaluate(os.path.join(workdir, "saved_model"), config["dataset_used"],
                      os.path.join(out_dir, "eval"), num_samples=200 if quick else 10000,
                      split_size=100 if quick else 1000, seed=seed, log=lambda *_: None,
                      progress=False)
    return workdir, config, train_seconds, result, {r["metric"]: r for r in result["rows"]}
