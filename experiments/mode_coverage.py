"""Mode coverage on the 2-D mixtures, by the VEEGAN / PacGAN protocol (TARGETS.md).

    python -m experiments.mode_coverage [--quick] [--steps=4000] [--seeds=5] [--checks=8]

For each dataset (ring8: 8 Gaussians on a circle of radius 2, std 0.02; grid25: {-4..4}^2,
std 0.05) and each variant (gan with the non-saturating loss, wgan, wgan_gp), trains a run of
train.py with the variant's paper defaults (MLP networks) for `--steps` generator updates,
once per seed, then draws 2,500 samples from its exported generator and counts: modes captured
(a centre nearest to >= 1 high-quality sample), high-quality share (within 3 std of the nearest
centre) and the reverse KL of the mode histogram (metrics/scores.py `toy_mode_metrics`).
The same counts are also taken `--checks` times during training, on the in-memory generator,
so the table says whether a variant was still improving when it stopped.

The table gives mean +- std over seeds beside the published rows (PacGAN4 and VEEGAN, as quoted
in TARGETS.md; their networks, steps and batch sizes differ from ours) and beside 2,500 draws of
the true mixture. The figure shows seed 0's samples over the true density, and the counts
during training (mean over seeds).
"""
import os
import time

import keras
import numpy as np
from absl import app, flags

from data.datasets import TOY_CENTRES, TOY_STDS, load, make_train_dataset
from experiments import common
from metrics.evaluation import TOY_SAMPLES, draw, load_sampler
from metrics.scores import toy_mode_metrics
from training.config import Config
from training.loop import train

NAME = "mode_coverage"
MODELS = ("gan", "wgan", "wgan_gp")
DATASETS = ("ring8", "grid25")
# (modes, high-quality %) as quoted in ../shared/TARGETS.md.
PUBLISHED = {"ring8": {"PacGAN4": (7.8, 95.9), "VEEGAN": (8, 52.9)},
             "grid25": {"PacGAN4": (24.8, 93.6), "VEEGAN": (24.6, 40.0)}}


def generator_mode_metrics(gan, dataset, seed=12345):
    """toy_mode_metrics of TOY_SAMPLES points from an in-memory GAN's generator."""
    latents = gan.latent.sample(TOY_SAMPLES, [seed, 0])
    points = np.asarray(gan.generator(gan.latent.generator_input(latents), training=False))
    return toy_mode_metrics(points, TOY_CENTRES[dataset], TOY_STDS[dataset])


class ModeCurve(keras.callbacks.Callback):
    """Records (step, modes, high-quality share) at the end of every epoch of `train`."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset, self.points = dataset, []

    def on_epoch_end(self, epoch, logs=None):
        m = generator_mode_metrics(self.model, self.dataset)
        self.points.append((int(self.model.step.numpy()), m["modes"], m["high_quality"]))


def run(out_dir, quick=False, seed=0, steps=4000, seeds=5, models=MODELS, datasets=DATASETS,
        checks=8):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    if quick:
        steps, seeds, models, datasets, checks = 20, 1, ("gan",), ("ring8",), 2
    if checks < 1 or steps % checks:
        raise common.ExperimentError(f"--steps={steps} does not split into --checks={checks} "
                                     "equal parts; pick a divisor of --steps")
    runs = {}
    for dataset in datasets:
        real = next(iter(make_train_dataset(load(dataset), TOY_SAMPLES, seed=seed + 99)))[0]
        runs[(dataset, "real")] = [dict(toy_mode_metrics(real.numpy(), TOY_CENTRES[dataset],
                                                         TOY_STDS[dataset]),
                                        points=real.numpy())]
        for model in models:
            for s in range(seed, seed + seeds):
                workdir = os.path.join(out_dir, "runs", f"{dataset}_{model}_seed{s}")
                config = Config(model=model, dataset=dataset, workdir=workdir, train_steps=steps,
                                steps_per_epoch=steps // checks, checkpoint_every=steps, seed=s,
                                overwrite=True,
                                **({"width": 32, "jit_compile": False} if quick else {}))
                curve = ModeCurve(dataset)
                t = time.perf_counter()
                train(config, verbose=0, callbacks=[curve])
                seconds = time.perf_counter() - t
                points = draw(load_sampler(os.path.join(workdir, "saved_model")), TOY_SAMPLES,
                              seed=s)["samples"]
                m = toy_mode_metrics(points, TOY_CENTRES[dataset], TOY_STDS[dataset])
                runs.setdefault((dataset, model), []).append(dict(m, points=points, seed=s,
                                                                  train_seconds=seconds,
                                                                  curve=curve.points))
                print(f"{dataset} {model} seed {s}: {m['modes']} modes, "
                      f"{100 * m['high_quality']:.1f}% high quality ({seconds:.0f} s)", flush=True)

    table = {}
    for (dataset, model), results in runs.items():
        modes = np.array([r["modes"] for r in results], float)
        hq = np.array([100 * r["high_quality"] for r in results])
        kl = np.array([r["reverse_kl"] for r in results])
        table.setdefault(dataset, {})[model] = {
            "modes_mean": modes.mean(), "modes_std": modes.std(), "high_quality_mean": hq.mean(),
            "high_quality_std": hq.std(), "reverse_kl_mean": kl.mean(),
            "all_modes_every_seed": bool(np.all(modes == len(TOY_CENTRES[dataset]))),
            "per_seed": [{k: r[k] for k in ("seed", "modes", "high_quality", "reverse_kl",
                                            "train_seconds", "curve") if k in r}
                         for r in results]}
    record = {"protocol": f"{TOY_SAMPLES} samples; high quality = within 3 std of the nearest "
                          "centre; a mode counts with >= 1 high-quality sample",
              "steps": steps, "seeds": seeds, "checks": checks, "quick": quick, "table": table,
              "published": PUBLISHED, "markdown": markdown(table, steps, seeds),
              "summary": {f"{d}/{m}": f"{t['modes_mean']:.1f} modes, "
                                      f"{t['high_quality_mean']:.1f}% HQ"
                          for d, rows in table.items() for m, t in rows.items()}}
    return common.write_outputs(out_dir, NAME, figure(runs, datasets, models, seeds), record,
                                started)


def markdown(table, steps, seeds):
    lines = ["| data | model | modes (mean +- std) | high quality % | reverse KL | every mode, "
             "every seed |", "|---|---|---|---|---|---|"]
    for dataset, rows in table.items():
        k = len(TOY_CENTRES[dataset])
        for model, t in rows.items():
            label = "true mixture" if model == "real" else f"`{model}` ({seeds} seeds, {steps} steps)"
            lines.append(f"| {dataset} | {label} | {t['modes_mean']:.1f} +- {t['modes_std']:.1f} "
                         f"of {k} | {t['high_quality_mean']:.1f} +- {t['high_quality_std']:.1f} | "
                         f"{t['reverse_kl_mean']:.3f} | {'yes' if t['all_modes_every_seed'] else 'no'} |")
        for name, (modes, hq) in PUBLISHED[dataset].items():
            lines.append(f"| {dataset} | {name} (published) | {modes} of {k} | {hq} | - | - |")
    return "\n".join(lines)


def figure(runs, datasets, models, seeds):
    """Per dataset: seed 0's samples over the real mixture for each model, then modes and
    high-quality % against the step (mean over seeds) from the checks during training."""
    columns = len(models) + 3
    fig, _ = common.new_figure(columns, width=3.0, height=3.0 * len(datasets))
    fig.clear()
    grid = fig.subplots(len(datasets), columns, squeeze=False)
    for i, dataset in enumerate(datasets):
        centres, real = TOY_CENTRES[dataset], runs[(dataset, "real")][0]["points"]
        for j, model in enumerate(("real",) + tuple(models)):
            ax, r = grid[i, j], runs[(dataset, model)][0]
            ax.scatter(real[:, 0], real[:, 1], s=1, c="tab:blue", alpha=0.3)
            if model != "real":
                ax.scatter(r["points"][:, 0], r["points"][:, 1], s=1, c="tab:orange", alpha=0.5)
            ax.scatter(centres[:, 0], centres[:, 1], s=8, c="k", marker="x", linewidths=0.5)
            ax.set_xlim(-5.5, 5.5)
            ax.set_ylim(-5.5, 5.5)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{dataset} {model}: {r['modes']} modes, "
                         f"{100 * r['high_quality']:.0f}% HQ", fontsize=8)
        modes_ax, hq_ax = grid[i, -2], grid[i, -1]
        for model in models:
            curves = np.array([r["curve"] for r in runs[(dataset, model)]], float)
            steps = curves[0, :, 0]
            modes_ax.plot(steps, curves[:, :, 1].mean(0), marker="o", ms=3, label=model)
            hq_ax.plot(steps, 100 * curves[:, :, 2].mean(0), marker="o", ms=3, label=model)
        modes_ax.axhline(len(centres), color="k", lw=0.5, ls="--")
        hq_ax.axhline(100 * (1 - np.exp(-4.5)), color="k", lw=0.5, ls="--")
        modes_ax.set_title(f"{dataset}: modes (mean of {seeds} seeds)", fontsize=8)
        hq_ax.set_title(f"{dataset}: high-quality % (mean of {seeds} seeds)", fontsize=8)
        for ax in (modes_ax, hq_ax):
            ax.set_xlabel("generator step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
    return fig


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_integer("steps", 4000, "Generator updates per run.")
    flags.DEFINE_integer("checks", 8, "Mode counts taken during each run (--steps must divide).")
    flags.DEFINE_integer("seeds", 5, "Seeds per (dataset, model).")
    flags.DEFINE_list("models", list(MODELS), "Variants to train.")
    flags.DEFINE_list("datasets", list(DATASETS), "Toy datasets.")
    app.run(common.cli_main(NAME, run,
                            extra_flags=("steps", "seeds", "models", "datasets", "checks")))
