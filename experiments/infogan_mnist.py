"""InfoGAN on MNIST (Chen et al. 2016): the categorical code as an unsupervised digit classifier,
the mutual-information bound L_I, and the paper's traversal figures.

    python -m experiments.infogan_mnist [--workdir=runs/infogan] [--steps=3000] [--quick]

Trains (or reuses) a default `infogan` run, then:
- accuracy of Q's categorical code on the real held-out digits under the best one-to-one
  code-to-digit matching (paper: 5% error), with the supervised eval classifier beside it;
- L_I = ln 10 - E[-log Q(c | G(z, c))] per training step (the run's `mi_lower_bound` scalar) and
  at the end on 10,000 samples; the paper: L_I reaches H(c) = ln 10 = 2.30 quickly;
- traversals: categorical code down the rows, noise across the columns; and each continuous code
  from -2 to 2 across the columns (the paper's Fig. 2), from `metrics/evaluation.py`.
Data: mnist when tensorflow-datasets has it, else the shipped mnist_5k (4,000 training digits).
"""
import os
import time

import numpy as np
from absl import app, flags

from experiments import common, runs

NAME = "infogan_mnist"


def run(out_dir, quick=False, seed=0, workdir=None, steps=3000):
    started = time.perf_counter()
    workdir, config, train_seconds, result, rows = runs.train_and_evaluate(
        out_dir, "infogan", quick, seed, workdir, steps)
    curve_steps, curve = runs.scalar_curve(os.path.join(workdir, "train"), "mi_lower_bound")
    ln_k = float(np.log(10))
    reached = next((int(s) for s, v in zip(curve_steps, curve) if v >= 0.95 * ln_k), None)
    record = {
        "data": config["dataset_used"], "steps": int(curve_steps[-1]) if len(curve_steps) else 0,
        "train_seconds_this_call": train_seconds, "quick": quick,
        "code_accuracy": rows["InfoGAN code accuracy %"]["model"],
        "supervised_classifier_accuracy": rows["InfoGAN code accuracy %"]["real"],
        "code_to_digit": result["details"].get("infogan_code_to_digit"),
        "mi_lower_bound_final": rows["InfoGAN L_I (nats)"]["model"], "ln_10": ln_k,
        "first_step_within_5pct_of_ln_10": reached,
        "paper": {"code_accuracy": 95.0, "mi_lower_bound": ln_k},
        "curve": {"step": curve_steps.tolist(), "mi_lower_bound": curve.tolist()},
        "traversals": {k: os.path.join(out_dir, "eval", f"{k}.png")
                       for k in ("categorical", "continuous_0", "continuous_1")}}
    record["summary"] = {"data": record["data"], "steps": record["steps"],
                         "code_accuracy_pct": round(record["code_accuracy"], 1),
                         "L_I_final": round(record["mi_lower_bound_final"], 3)}
    fig, (ax,) = common.new_figure(1)
    ax.plot(curve_steps, curve, lw=0.6, color="tab:blue", label="L_I per step (batch)")
    ax.axhline(ln_k, color="k", lw=1, label="H(c) = ln 10")
    ax.set_xlabel("generator step")
    ax.set_ylabel("nats")
    ax.set_ylim(min(0.0, float(curve.min()) if len(curve) else 0.0), ln_k * 1.1)
    ax.set_title(f"InfoGAN L_I; code accuracy {record['code_accuracy']:.1f}% on held-out digits")
    ax.legend(loc="lower right")
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_string("workdir", None, "Run to reuse or train (default: runs/infogan).")
    flags.DEFINE_integer("steps", 3000, "Generator updates of the run.")
    app.run(common.cli_main(NAME, run, extra_flags=("workdir", "steps")))
