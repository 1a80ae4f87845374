"""AC-GAN on MNIST (Odena et al. 2017): does the generator draw the digit it is asked for?

    python -m experiments.acgan_mnist [--workdir=runs/acgan] [--steps=1500] [--quick]

Trains (or reuses) a default `acgan` run, then asks for 10,000 digits with uniform labels and
scores them with the independent evaluation classifier (metrics/classifier.py, trained only on
real digits): accuracy against the requested label, overall and per class, beside the
classifier's own accuracy on real held-out digits of each class; plus the class grid (one row per
requested digit, the same noise down each column).
Data: mnist when tensorflow-datasets has it, else the shipped mnist_5k (4,000 training digits).
"""
import os
import time

import numpy as np
from absl import app, flags

from experiments import common, runs

NAME = "acgan_mnist"


def run(out_dir, quick=False, seed=0, workdir=None, steps=1500):
    started = time.perf_counter()
    workdir, config, train_seconds, result, rows = runs.train_and_evaluate(
        out_dir, "acgan", quick, seed, workdir, steps)
    per_class = result["details"]["acgan_accuracy_per_class"]
    curve_steps, _ = runs.scalar_curve(os.path.join(workdir, "train"), "g_loss")
    record = {"data": config["dataset_used"], "steps": int(curve_steps[-1]) if len(curve_steps) else 0,
              "train_seconds_this_call": train_seconds, "quick": quick,
              "accuracy": rows["AC-GAN accuracy %"]["model"],
              "classifier_accuracy_on_real": rows["AC-GAN accuracy %"]["real"],
              "per_class": per_class, "class_grid": os.path.join(out_dir, "eval", "classes.png"),
              "other_metrics": {k: {"model": r["model"], "real": r["real"]} for k, r in rows.items()}}
    record["summary"] = {"data": record["data"], "steps": record["steps"],
                         "accuracy_pct": round(record["accuracy"], 1),
                         "worst_class_pct": round(100 * float(np.nanmin(per_class["model"])), 1)}
    fig, (ax,) = common.new_figure(1)
    digits = np.arange(10)
    ax.bar(digits - 0.2, 100 * np.array(per_class["model"]), 0.4, label="generated (vs requested)")
    ax.bar(digits + 0.2, 100 * np.array(per_class["real"]), 0.4, label="real held-out (vs true)")
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("classifier accuracy %")
    ax.set_ylim(0, 105)
    ax.set_title(f"AC-GAN: {record['accuracy']:.1f}% of samples are the requested digit")
    ax.legend(loc="lower right", fontsize=8)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_string("workdir", None, "Run to reuse or train (default: runs/acgan).")
    flags.DEFINE_integer("steps", 1500, "Generator updates of the run (the acgan default).")
    app.run(common.cli_main(NAME, run, extra_flags=("workdir", "steps")))
