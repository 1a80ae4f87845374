"""MNIST runs scored over training: what the claims experiments (batch_norm, w_tracks_quality,
minimax_vs_ns, wgan_gp_mnist) compare.

A *run* (`RUNS`) is a variant's default image run on MNIST (mnist_5k offline) with a few named
settings changed. Per seed it trains once into <pool>/runs/<run>_seed<k>, checkpointing every
`EVERY` generator steps and keeping every checkpoint, and is then measured:
- at step 0 (the seeded initial weights) and at every checkpoint: its generator (inference
  mode) on as many samples as the held-out split has, the same noise at every step, scored with
  eval.py's classifier (metrics/classifier.py, trained on real digits only) by eval.py's own
  functions: Frechet distance to the training reference set, the classifier's Inception-style
  score, and the KL of the predicted-class shares to uniform;
- the training scalars of the steps since the previous checkpoint (median and quartiles):
  `w_estimate` = d_real - d_fake, which for a Wasserstein critic is its estimate
  E[f(x)] - E[f(G(z))] of the Earth-Mover distance (the WGAN paper's Fig. 3-4 quantity), and
  d_loss, g_loss;
- at the end: eval.py's full evaluation of the export, and an 8 x 8 grid of samples.
The record is <pool>/<run>_seed<k>.json. A run whose record exists is read, not retrained, so
a run that two experiments share trains once and seeds accumulate across sessions; delete a
record to redo it.
"""
import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from data.datasets import DATASETS
from experiments import common, runs
from metrics import scores
from metrics.classifier import predict as classify
from metrics.evaluation import classifier_and_real_features, draw, evaluate, load_sampler
from models.variants import VARIANTS
from training import checkpoints, visualize
from training.config import Config, resolve
from training.loop import build_gan

POOL = os.path.join(common.RESULTS_DIR, "gan_curves")
EVERY = 250          # generator steps between checkpoints: 13 points over a 3,000-step run
SPLIT = 1000         # samples per Inception-score split, as eval.py
QUICK_STEPS, QUICK_EVERY, QUICK_SAMPLES = 8, 2, 250

# name: (variant, Config changes, label). The changes are the only difference from the
# variant's defaults; both sides of a comparison use the same networks.
RUNS = {
    "dcgan": ("dcgan", {}, "DCGAN, -log D(G(z))"),
    "dcgan_minimax": ("dcgan", {"loss": "minimax"}, "DCGAN, minimax log(1 - D(G(z)))"),
    "dcgan_no_bn": ("dcgan", {"g_norm": "none", "d_norm": "none"}, "DCGAN, no batch norm"),
    "dcgan_mlp_g": ("dcgan", {"g_arch": "mlp", "g_width": 512}, "DCGAN D, MLP G (4 x 512)"),
    "wgan": ("wgan", {}, "WGAN"),
    "wgan_no_bn": ("wgan", {"g_norm": "none", "d_norm": "none"}, "WGAN, no batch norm"),
    "wgan_mlp_g": ("wgan", {"g_arch": "mlp", "g_width": 512}, "WGAN critic, MLP G (4 x 512)"),
    "wgan_gp": ("wgan_gp", {}, "WGAN-GP"),
    # experiments/augment_ema.py: the policy InfoGAN's pilot picked, the StyleGAN2-ADA decay.
    "dcgan_augment": ("dcgan", {"augment": "color,translation,cutout"},
                      "DCGAN, DiffAugment color,translation,cutout"),
    "dcgan_ema": ("dcgan", {"ema": 0.999}, "DCGAN, generator average 0.999"),
    "wgan_gp_augment": ("wgan_gp", {"augment": "color,translation,cutout"},
                        "WGAN-GP, DiffAugment color,translation,cutout"),
    "wgan_gp_ema": ("wgan_gp", {"ema": 0.999}, "WGAN-GP, generator average 0.999"),
}
SCALARS = ("d_real", "d_fake", "d_loss", "g_loss")
# A run "learns" when its final FD is below its step-0 FD divided by this (set at 5 after seeing
# the first minimax runs; 10 failed every run, whose IS nonetheless rose from 1.0 to 6.8-7.0).
LEARNS = 5


def record_path(pool, run, seed):
    return os.path.join(pool, f"{run}_seed{seed}.json")


def get(pool, run, seed, quick=False, log=print):
    """The record of `run` at `seed`: read from the pool, or trained and measured now."""
    path = record_path(pool, run, seed)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    started = time.perf_counter()
    model, fields, label = RUNS[run]
    steps = QUICK_STEPS if quick else VARIANTS[model].train_steps
    every = QUICK_EVERY if quick else EVERY
    fields = dict(fields, checkpoint_every=every, steps_per_epoch=every,
                  keep_checkpoints=steps // every + 1)  # all kept: the curve
    if quick and "g_width" in fields:
        fields["g_width"] = 16
    workdir = os.path.join(pool, "runs", f"{run}_seed{seed}")
    log(f"{run} seed {seed}: training {model} ({label}) for {steps} steps in {workdir}")
    config, train_seconds = runs.train_or_reuse(workdir, model, steps, quick, seed=seed,
                                                **fields)
    log(f"{run} seed {seed}: scoring {steps // every + 1} checkpoints")
    curve, real = checkpoint_scores(workdir, seed, quick)
    eval_dir = os.path.join(pool, "runs", f"{run}_seed{seed}_eval")
    result = evaluate(os.path.join(workdir, "saved_model"), config["dataset_used"], eval_dir,
                      num_samples=200 if quick else 10000, split_size=100 if quick else SPLIT,
                      seed=seed, log=lambda *_: None, progress=False)
    grid = os.path.join(pool, f"{run}_seed{seed}_samples.png")
    samples = draw(load_sampler(os.path.join(workdir, "saved_model")), 64, seed)["samples"]
    with open(grid, "wb") as f:
        f.write(visualize.labelled_grid_png(samples, 8, 8, title=f"{run}, seed {seed}"))
    record = {
        "run": run, "label": label, "model": model, "changes": RUNS[run][1], "seed": seed,
        "data": config["dataset_used"], "steps": config["train_steps"], "quick": quick,
        "config": {k: config[k] for k in ("batch_size", "d_steps", "loss", "d_lr", "g_lr",
                                          "d_norm", "g_norm", "g_arch", "g_width", "width",
                                          "augment", "ema")},
        "train_seconds_this_call": train_seconds,
        "train_seconds": runs.total_train_seconds(workdir),  # every call, a resumed run's too
        "curve": curve, "real": real,
        "final": {r["metric"]: r["model"] for r in result["rows"]},
        "final_real": {r["metric"]: r["real"] for r in result["rows"]},
        "samples_png": grid, "wall_seconds": time.perf_counter() - started}
    return common.write_json(path, record)


def checkpoint_scores(workdir, seed, quick=False):
    """([{step, fd, is, class_kl, w_estimate, d_loss, ...}] at step 0 and every checkpoint,
    {the same scores of the real held-out digits}), on as many samples as the held-out split
    has (quick: QUICK_SAMPLES)."""
    config = resolve(dataclasses.replace(
        Config.load(os.path.join(workdir, "config.json")), workdir=workdir, jit_compile=False,
        mixed_precision=False, strategy="default"))
    variant = config.variant
    classifier, _, (test_f, test_p), (ref_f, _) = classifier_and_real_features(
        config.dataset_used, config.data_dir, log=lambda *_: None)
    n = QUICK_SAMPLES if quick else len(test_f)
    real = {"fd": scores.frechet_distance(test_f[:n], ref_f),
            "is": scores.inception_score(test_p[:n], min(SPLIT, n))[0],
            "class_kl": scores.class_shares(test_p[:n])[1], "samples": n}
    spec = DATASETS[config.dataset_used]
    gan = build_gan(config, spec.shape, spec.num_classes)
    latents = gan.latent.sample(n, tf.constant([seed, 1], tf.int64))  # the same at every step

    def score(step):
        images = np.concatenate([gan.samples({k: v[i:i + 500] for k, v in latents.items()})
                                 .numpy() for i in range(0, n, 500)])
        features, probs = classify(classifier, np.clip((images + 1) / 2, 0, 1))
        return {"step": step, "fd": scores.frechet_distance(features, ref_f),
                "is": scores.inception_score(probs, min(SPLIT, n))[0],
                "class_kl": scores.class_shares(probs)[1]}

    curve = [score(0)]  # build_gan seeds the weights as the run did: its initial G
    # gan.samples draws from the sampler: under --ema the averaged G, restored beside G.
    checkpoint = tf.train.Checkpoint(step=gan.step, **checkpoints.generators(gan))
    state = tf.train.get_checkpoint_state(os.path.join(workdir, "checkpoints"))
    for path in (state.all_model_checkpoint_paths if state else []):
        checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
        curve.append(score(int(gan.step.numpy())))
    logged = runs.scalar_curves(os.path.join(workdir, "train"), SCALARS)
    w_steps, w = logged["d_real"][0], logged["d_real"][1] - logged["d_fake"][1]
    for previous, point in zip(curve, curve[1:]):
        window = lambda steps: (steps > previous["step"]) & (steps <= point["step"])  # noqa: E731
        inside = w[window(w_steps)]
        point["w_estimate"] = float(np.median(inside)) if len(inside) else None
        point["w_estimate_iqr"] = (np.percentile(inside, [25, 75]).tolist() if len(inside)
                                   else None)
        for tag in ("d_loss", "g_loss"):
            steps, values = logged[tag]
            inside = values[window(steps)]
            point[tag] = float(np.median(inside)) if len(inside) else None
    return curve, real


def records(pool, names, seeds, quick=False, log=print):
    """{run: [records in seed order]}, training what is missing."""
    return {name: [get(pool, name, s, quick, log) for s in seeds] for name in names}


def train_seconds(record):
    """A pool record's training seconds over every call (records written before the total
    was kept: their one call's)."""
    return record.get("train_seconds", record["train_seconds_this_call"])


def learns(record):
    """Whether a run learned: final FD < step-0 FD / `LEARNS`."""
    return bool(record["curve"][-1]["fd"] < record["curve"][0]["fd"] / LEARNS)


def series(record, key):
    """(steps, values) of a curve key over the checkpoints that have it."""
    points = [(p["step"], p[key]) for p in record["curve"] if p.get(key) is not None]
    return (np.array([s for s, _ in points]), np.array([v for _, v in points], float))


def spearman(a, b):
    """Spearman's rank correlation (None with fewer than 3 points or a constant side)."""
    import scipy.stats
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(scipy.stats.spearmanr(a, b)[0])


def seed_list(seeds, seed, quick):
    """The seeds to run: --seeds as integers (quick: --seed alone)."""
    if quick or seeds is None:
        return [seed]
    try:
        return [int(s) for s in seeds]
    except ValueError:
        raise common.ExperimentError(f"--seeds takes integers, e.g. --seeds=0,1,2; got "
                                     f"{','.join(seeds)}") from None


def pool_dir(out_dir, quick):
    """The pool of runs: POOL, or (quick) one inside out_dir, never mixed with real records."""
    return os.path.join(out_dir, "pool") if quick else POOL


def cli(name, run, default_seeds):
    """The command line of a claims experiment: common flags plus --seeds."""
    common.define_flags(name)
    flags.DEFINE_list("seeds", default_seeds, "Seeds to train (or read from the pool).")
    app.run(common.cli_main(name, run, extra_flags=("seeds",)))
