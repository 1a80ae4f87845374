"""InfoGAN on MNIST (Chen et al. 2016) with the official code's setup, seed by seed: does the
categorical code classify the digits (paper: 5% error), and what do the continuous codes do?

    python -m experiments.infogan_mnist [--seeds=0,1,2,3,4] [--steps=5000] [--quick]
    python -m experiments.infogan_mnist --train_examples=1000 --seeds=0   # the data-size curve
    python -m experiments.infogan_mnist --augment=translation,cutout      # with DiffAugment

For each seed, trains (or resumes, or reuses) the default `infogan` run, which follows
openai/InfoGAN (launchers/run_mnist_exp.py, infogan/models/regularized_gan.py,
infogan/algos/infogan_trainer.py; models/variants.py says what differs), in
`<out_dir>/runs/seed<k>`, then:
- code accuracy: Q's categorical code on the real held-out digits under the best one-to-one
  code-to-digit matching, at the end (eval.py's protocol, on the exported `infer_codes`) and at
  every checkpoint of the run (the curve over training);
- L_I = ln 10 - E[-log Q(c | G(z, c))] on 10,000 samples (the paper: it reaches ln 10 quickly);
- the continuous codes: the paper's Fig. 2 says c1 and c2 capture rotation and stroke width. On
  10,000 generated digits (every latent drawn from its prior), the Spearman correlation of each
  continuous code with the slant (degrees, from the image's second moments: atan(-mu11 / mu02),
  positive when the top leans right) and with the ink (mean pixel value), beside eval.py's
  traversal grids (code j from -2 to 2 across the columns).
Writes `seed<k>.json` per seed and skips a seed whose JSON exists, so seeds accumulate across
sessions; then `infogan_mnist.json` and `.png` over every seed found: per-seed accuracy, the
median, the curves. Data: mnist when tensorflow-datasets has it, else the shipped mnist_5k
(4,000 training digits, 1,000 held out). With --train_examples=N the records go to
`examples<N>/`, and `infogan_mnist_data_size.json` and `.png` put every record found on one
curve: code accuracy against the number of training digits. With --augment / --ema the same
records, summary and curve go to `augment_<policy>/` (or `ema_<decay>/`), beside these.
"""
import dataclasses
import functools
import glob
import json
import os
import time

import numpy as np
import scipy.stats
import tensorflow as tf
from absl import app, flags

from data.datasets import load
from experiments import common, runs
from metrics.evaluation import draw, load_sampler
from metrics.scores import matched_accuracy
from training.config import Config, resolve
from training.loop import build_gan

NAME = "infogan_mnist"
# The published code accuracy to compare each dataset's runs with, and what it is. MNIST: the
# InfoGAN paper's own figure (5% error on the 55,000 training digits). A dataset not listed has
# no published figure here: its summary and figures show none.
PUBLISHED = {"mnist": (95.0, "InfoGAN paper: 95% (55,000 digits)")}


def family(data):
    """The dataset a record's "data" is drawn from: mnist for mnist_5k, else itself."""
    return "mnist" if data.startswith("mnist") else data


def published(data):
    """(accuracy %, label) published for `data`'s family, or None."""
    return PUBLISHED.get(family(data))


def noun(data):
    """What the figures call one example of `data`."""
    return "digits" if family(data) == "mnist" else "images"

CHECK_EVERY = 500
CODE_SAMPLES = 10000


def slant_and_ink(images):
    """Per image [N, H, W(, 1)] in [0, 1]: (slant in degrees from the second moments, positive
    when the top leans right; ink = mean pixel value)."""
    x = np.asarray(images, np.float64).reshape(len(images), images.shape[1], images.shape[2])
    mass = x.sum(axis=(1, 2)) + 1e-12
    rows, cols = np.mgrid[0:x.shape[1], 0:x.shape[2]]
    cy = (x * rows).sum(axis=(1, 2)) / mass
    cx = (x * cols).sum(axis=(1, 2)) / mass
    dy, dx = rows[None] - cy[:, None, None], cols[None] - cx[:, None, None]
    mu11 = (x * dx * dy).sum(axis=(1, 2)) / mass
    mu02 = (x * dy * dy).sum(axis=(1, 2)) / mass + 1e-12
    # Rows grow downwards: a stroke leaning right has x falling as the row index grows.
    return np.degrees(np.arctan(-mu11 / mu02)), x.mean(axis=(1, 2))


def code_correlations(saved_model, n, seed):
    """Spearman correlation of each continuous code with slant and ink on n samples."""
    got = draw(load_sampler(saved_model), n, seed)
    slant, ink = slant_and_ink(got["samples"])
    out = {}
    for j in range(got["continuous"].shape[1]):
        c = got["continuous"][:, j]
        out[f"c{j + 1}"] = {"slant": float(scipy.stats.spearmanr(c, slant)[0]),
                            "ink": float(scipy.stats.spearmanr(c, ink)[0])}
    return out, {"slant_deg_mean": float(slant.mean()), "slant_deg_std": float(slant.std()),
                 "ink_mean": float(ink.mean()), "ink_std": float(ink.std())}


def accuracy_curve(workdir):
    """[(step, code accuracy %)] of Q at every checkpoint kept in the run, on held-out digits."""
    config = resolve(dataclasses.replace(
        Config.load(os.path.join(workdir, "config.json")), workdir=workdir, jit_compile=False,
        mixed_precision=False, strategy="default"))
    variant = config.variant
    test = load(config.dataset_used, config.data_dir, split="test")
    images = tf.constant(test.images.astype(np.float32) / 127.5 - 1.0)
    gan = build_gan(config, test.spec.shape, test.spec.num_classes)
    checkpoint = tf.train.Checkpoint(discriminator=gan.discriminator, step=gan.step)
    state = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints"))
    curve = []
    for path in (state.all_model_checkpoint_paths if state else []):
        checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
        logits = np.concatenate([gan.discriminator(images[i:i + 500], training=False)
                                 ["code_logits"].numpy() for i in range(0, len(test.images), 500)])
        acc, _ = matched_accuracy(logits.argmax(1), test.labels, variant.num_categorical, 10)
        curve.append((int(gan.step.numpy()), 100 * acc))
    return curve


def run_seed(out_dir, seed, steps, quick, **fields):
    """Trains/resumes one seed's run (Config `fields` beside the protocol's: dataset,
    train_examples, augment, ema) and measures it; returns its record (also written)."""
    started = time.perf_counter()
    workdir = os.path.join(out_dir, "runs", f"seed{seed}")
    every = 3 if quick else CHECK_EVERY
    config, train_seconds = runs.train_or_reuse(
        workdir, "infogan", steps, quick, seed=seed, checkpoint_every=every,
        steps_per_epoch=every, keep_checkpoints=steps // every + 1,  # all kept: the curve
        **fields)
    _, _, _, result, rows = runs.train_and_evaluate(
        os.path.join(out_dir, "runs", f"seed{seed}_eval"), "infogan", quick, seed, workdir,
        steps, config=config)
    correlations, spread = code_correlations(os.path.join(workdir, "saved_model"),
                                             200 if quick else CODE_SAMPLES, seed)
    record = {
        "seed": seed, "data": config["dataset_used"], "steps": config["train_steps"],
        "train_examples": config.get("train_examples") or None,
        "augment": config.get("augment") or "", "ema": config.get("ema") or 0.0,
        "protocol_steps": 5000, "quick": quick,
        "train_seconds_this_call": train_seconds,
        "train_seconds": runs.total_train_seconds(workdir),
        "code_accuracy": rows["InfoGAN code accuracy %"]["model"],
        "code_to_digit": result["details"].get("infogan_code_to_digit"),
        "supervised_classifier_accuracy": rows["InfoGAN code accuracy %"]["real"],
        "mi_lower_bound": rows["InfoGAN L_I (nats)"]["model"], "ln_10": float(np.log(10)),
        "curve": accuracy_curve(workdir),
        "continuous_code_spearman": correlations, "generated_slant_ink": spread,
        "other_metrics": {k: {"model": r["model"], "real": r["real"]} for k, r in rows.items()},
        "traversals": {k: os.path.join(out_dir, "runs", f"seed{seed}_eval", "eval", f"{k}.png")
                       for k in ("categorical", "continuous_0", "continuous_1")},
        "wall_seconds": time.perf_counter() - started}
    common.write_json(os.path.join(out_dir, f"seed{seed}.json"), record)
    return record


def setting_dir(augment, ema):
    """The sub-directory of the records of runs with --augment / --ema ("" without)."""
    parts = ([f"augment_{augment.replace(',', '+')}"] if augment else []) + (
        [f"ema_{ema:g}"] if ema else [])
    return "_".join(parts)


def run(out_dir, quick=False, seed=0, seeds=None, steps=5000, train_examples=0, augment="",
        ema=0.0, dataset="mnist"):
    """Records of the official setup on MNIST under `out_dir` (on another dataset under
    `out_dir/<dataset>`), of a setting with --augment / --ema under `<that>/<setting_dir>`, each
    with its data-size curve in `examples<N>/`."""
    fields = dict(augment=augment, ema=ema)
    if dataset != "mnist":
        out_dir, fields["dataset"] = os.path.join(out_dir, dataset), dataset
    out_dir = os.path.join(out_dir, setting_dir(augment, ema))
    if train_examples:  # the data-size curve: its own records, beside the full-data ones
        record = run_seeds(os.path.join(out_dir, f"examples{train_examples}"), quick, seed,
                           seeds, steps, train_examples=train_examples, **fields)
        data_size_curve(out_dir, beside=os.path.dirname(out_dir) if augment or ema else None)
        return record
    return run_seeds(out_dir, quick, seed, seeds, steps, **fields)


def run_seeds(out_dir, quick, seed, seeds, steps, **fields):
    """Each seed's record in `out_dir` (trained and measured, or read), then their summary."""
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    seeds = [seed] if quick or seeds is None else [int(s) for s in seeds]
    steps = 6 if quick else steps
    if steps != 5000 and not quick:
        print(f"shortened: {steps} of the official code's 5,000 generator updates", flush=True)
    for s in seeds:
        if os.path.exists(os.path.join(out_dir, f"seed{s}.json")):
            print(f"seed {s}: {out_dir}/seed{s}.json exists; kept (delete it to redo)", flush=True)
            continue
        record = run_seed(out_dir, s, steps, quick, **fields)
        print(f"seed {s}: code accuracy {record['code_accuracy']:.1f}%, L_I "
              f"{record['mi_lower_bound']:.3f}, {record['wall_seconds']:.0f} s", flush=True)
    records = []
    for path in sorted(glob.glob(os.path.join(out_dir, "seed*.json"))):
        with open(path) as f:
            records.append(json.load(f))
    records.sort(key=lambda r: r["seed"])
    accuracies = [r["code_accuracy"] for r in records]
    median = float(np.median(accuracies))
    paper = published(records[0]["data"]) if records else None
    paper_pct = paper[0] if paper else None
    record = {"per_seed": [{k: r[k] for k in ("seed", "data", "steps", "code_accuracy",
                                              "mi_lower_bound", "continuous_code_spearman",
                                              "curve", "wall_seconds")} for r in records],
              "median_code_accuracy": median, "seeds": len(records),
              "paper": {"code_accuracy": paper_pct, "source": paper and paper[1],
                        "mi_lower_bound": float(np.log(10))},
              "reached": None if paper is None else median >= paper_pct, "quick": quick}
    record["summary"] = {"seeds": len(records), "median_code_accuracy_pct": round(median, 1),
                         "per_seed_pct": [round(a, 1) for a in accuracies],
                         "paper_pct": paper_pct}
    fig, (ax_curve, ax_corr) = common.new_figure(2)
    for r in records:
        steps_, acc = zip(*r["curve"]) if r["curve"] else ((), ())
        ax_curve.plot(steps_, acc, marker="o", ms=3, label=f"seed {r['seed']}: "
                      f"{r['code_accuracy']:.1f}%")
    if paper:
        ax_curve.axhline(paper_pct, color="k", lw=1, ls="--", label=paper[1])
    ax_curve.set_xlabel("generator step")
    ax_curve.set_ylabel(f"code accuracy on held-out {noun(records[0]['data'])} %"
                        if records else "code accuracy %")
    ax_curve.set_ylim(0, 100)
    ax_curve.set_title(f"InfoGAN categorical code; median {median:.1f}% ({len(records)} seeds)")
    ax_curve.legend(loc="lower right", fontsize=7)
    labels, width = ["c1 slant", "c1 ink", "c2 slant", "c2 ink"], 0.8 / max(len(records), 1)
    for i, r in enumerate(records):
        c = r["continuous_code_spearman"]
        values = [c["c1"]["slant"], c["c1"]["ink"], c["c2"]["slant"], c["c2"]["ink"]]
        ax_corr.bar(np.arange(4) + i * width - 0.4 + width / 2, values, width,
                    label=f"seed {r['seed']}")
    ax_corr.axhline(0, color="k", lw=0.6)
    ax_corr.set_xticks(np.arange(4), labels)
    ax_corr.set_ylim(-1, 1)
    ax_corr.set_ylabel("Spearman correlation with the code")
    ax_corr.set_title("continuous codes vs slant and ink (10,000 samples)")
    ax_corr.legend(loc="lower right", fontsize=7)
    return common.write_outputs(out_dir, NAME, fig, record, started)


@functools.lru_cache(maxsize=None)
def split_size(data):
    """The number of training examples of dataset `data`, loaded once per process."""
    return load(data).num_examples


def size_points(out_dir):
    """The seed records of the full-data runs (`out_dir`, the whole training split) and of each
    `examples<N>/` (the first N digits, class-balanced), grouped by N: one point per N, in
    order; [] when no examples<N>/ record exists."""
    paths = sorted(glob.glob(os.path.join(out_dir, "seed*.json")))
    subsets = sorted(glob.glob(os.path.join(out_dir, "examples*", "seed*.json")))
    if not subsets:
        return []
    groups = {}
    for path in paths + subsets:
        with open(path) as f:
            r = json.load(f)
        digits = r.get("train_examples") or split_size(r["data"])  # None: all of them
        groups.setdefault((r["data"], digits), []).append(r)
    points = []
    for (data, digits), records in sorted(groups.items(), key=lambda item: item[0][1]):
        records.sort(key=lambda r: r["seed"])
        accuracies = [r["code_accuracy"] for r in records]
        points.append({"data": data, "train_digits": digits,
                       "seeds": [r["seed"] for r in records], "code_accuracy": accuracies,
                       "median": float(np.median(accuracies)),
                       "steps": [r["steps"] for r in records],
                       "quick": any(r["quick"] for r in records),
                       "curves": {str(r["seed"]): r["curve"] for r in records}})
    return points


def data_size_curve(out_dir, beside=None):
    """Code accuracy against the number of training digits (size_points). Writes
    <out_dir>/infogan_mnist_data_size.json and .png (left: each seed's final accuracy and the
    median per N, and, for a setting's curve, the medians of the runs without it in `beside`;
    right: accuracy over training, one line per run); returns the record, or None when no
    examples<N>/ record exists."""
    points = size_points(out_dir)
    if not points:
        return None
    started = time.perf_counter()
    without = size_points(beside) if beside else []
    paper = published(points[0]["data"])
    record = {"points": points, "paper_pct": paper and paper[0],
              "summary": {p["train_digits"]: {"seeds": p["seeds"],
                                              "per_seed_pct": [round(a, 1) for a in
                                                               p["code_accuracy"]]}
                          for p in points},
              "without": [{k: p[k] for k in ("train_digits", "seeds", "code_accuracy", "median")}
                          for p in without]}
    fig, (ax_n, ax_curve) = common.new_figure(2)
    for p in points:
        ax_n.scatter([p["train_digits"]] * len(p["seeds"]), p["code_accuracy"], s=14,
                     color="0.5", zorder=2)
        for s, a in zip(p["seeds"], p["code_accuracy"]):
            ax_n.annotate(str(s), (p["train_digits"], a), xytext=(4, -3),
                          textcoords="offset points", fontsize=6)
    ax_n.plot([p["train_digits"] for p in points], [p["median"] for p in points], "k-o", ms=4,
              label="median of the seeds run")
    if without:  # the same sizes without the setting, for comparison
        ax_n.plot([p["train_digits"] for p in without], [p["median"] for p in without], ":s",
                  color="0.55", ms=3, label="without --augment / --ema: median")
    seed0 = [(p["train_digits"], a) for p in points for s, a in zip(p["seeds"], p["code_accuracy"])
             if s == 0]
    if len(seed0) > 1:  # the one seed run at every size: like against like
        ax_n.plot(*zip(*seed0), "--", color="tab:blue", lw=1, label="seed 0")
    if paper:
        ax_n.axhline(paper[0], color="k", lw=1, ls="--", label=paper[1])
    ax_n.set_xscale("log", base=2)
    ax_n.set_xticks([p["train_digits"] for p in points], [f"{p['train_digits']:,}"
                                                          for p in points])
    ax_n.minorticks_off()
    what = noun(points[0]["data"])
    ax_n.set_xlabel(f"training {what} (class-balanced)")
    ax_n.set_ylabel(f"final code accuracy on held-out {what} %")
    ax_n.set_ylim(0, 100)
    ax_n.set_title("InfoGAN code accuracy vs training data (label: seed)")
    ax_n.legend(loc="lower right", fontsize=7)
    for i, p in enumerate(points):  # one colour per data size
        for j, (s, curve) in enumerate(sorted(p["curves"].items())):
            if curve:
                steps_, acc = zip(*curve)
                ax_curve.plot(steps_, acc, marker="o", ms=2, lw=1, color=f"C{i}",
                              label=(f"{p['train_digits']:,} {what}, seed"
                                     f"{'s' if len(p['seeds']) > 1 else ''} "
                                     f"{', '.join(map(str, p['seeds']))}") if j == 0 else None)
    if paper:
        ax_curve.axhline(paper[0], color="k", lw=1, ls="--")
    ax_curve.set_xlabel("generator step")
    ax_curve.set_ylabel("code accuracy %")
    ax_curve.set_ylim(0, 100)
    ax_curve.set_title("over training")
    ax_curve.legend(loc="lower right", fontsize=6, ncol=2)
    return common.write_outputs(out_dir, NAME + "_data_size", fig, record, started)


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Seeds to train and measure.")
    flags.DEFINE_integer("steps", 5000, "Generator updates per run (official code: 5,000).")
    flags.DEFINE_integer("train_examples", 0, "Train on this many digits, class-balanced (the "
                         "data-size curve; 0: all), recorded under <out_dir>/examples<N>/.")
    flags.DEFINE_string("augment", "", "DiffAugment policy of the runs (train.py's --augment), "
                        "recorded under <out_dir>/augment_<policy>/.")
    flags.DEFINE_float("ema", 0.0, "Generator average decay (train.py's --ema); its records "
                       "go under <out_dir>/ema_<decay>/ (with --augment: beside the policy).")
    flags.DEFINE_string("dataset", "mnist", "The data (mnist: mnist_5k offline; fashion_mnist: "
                        "Debian's package offline); another than mnist records under "
                        "<out_dir>/<dataset>/.")
    app.run(common.cli_main(NAME, run, extra_flags=("seeds", "steps", "train_examples",
                                                    "augment", "ema", "dataset")))
