"""Mode coverage on the 2-D mixtures, each variant with its reference code's own toy setup.

    python -m experiments.mode_coverage [--quick] [--seeds=5] [--steps=N] [--checks=8]
        [--models=gan,wgan,wgan_gp] [--datasets=ring8,grid25]

For each dataset (ring8: 8 Gaussians on a circle of radius 2, std 0.02; grid25: {-4..4}^2,
std 0.05) and variant, trains `--seeds` runs of train.py with the toy protocol's defaults
(models/variants.py `TOY_VARIANTS`: `gan` is PacGAN's GAN baseline, `wgan` and `wgan_gp`
gan_toy.py's two modes: their networks, noise, batch, optimizers, data scaling, training set
and number of updates), then draws 2,500 samples from the exported generator and counts
modes captured, the high-quality share and the reverse KL of the mode histogram
(metrics/scores.py `toy_mode_metrics`, the VEEGAN / PacGAN protocol). The same counts are taken
`--checks` times during training, so the record says whether a run was still improving.

Each seed writes its own record, `<out_dir>/<dataset>_<model>_seed<s>.json`: the resolved
config, the curve, the final metrics, wall time, and the steps done beside the protocol's.
A seed whose record holds at least the steps asked for is skipped, so seeds accumulate across
sessions; a run stopped midway resumes from its checkpoint in `<out_dir>/runs/` (and a record
of fewer steps is continued from there when more are asked for). `--steps` below the protocol's
count shortens the runs: the record says so and every run prints "shortened: N of M protocol
steps". The table and figure combine every record in `<out_dir>`, beside PacGAN's published
rows (its GAN baseline is the protocol of our `gan` row).

`--processes=P` trains P seeds at once, each in its own process pinned to its own CPU
(TensorFlow sizes its thread pools by the CPUs a process may use); default: one per CPU. On the
2-core CPU two toy runs side by side trained 1.11x the steps per second of one run on both cores
by the medians, inside the spread of the rounds (`python -m benchmarks.toy_throughput`,
docs/speed.md, beside the full-protocol runs' cross-check).
"""
import glob
import json
import os
import subprocess
import sys
import time

import keras
import matplotlib.ticker
import numpy as np
import tensorflow as tf
from absl import app, flags

from data.datasets import TOY_CENTRES, TOY_STDS, load, make_train_dataset
from experiments import common
from experiments.runs import timed_train, total_train_seconds
from metrics.evaluation import TOY_SAMPLES, draw, load_sampler
from metrics.scores import toy_mode_metrics
from training.config import Config, ConfigError, resolve

NAME = "mode_coverage"
MODELS = ("gan", "wgan", "wgan_gp")
DATASETS = ("ring8", "grid25")
# (modes, high-quality %): PacGAN (Lin et al. 2018) Table 1, mean of 10 runs; VEEGAN's own table.
PUBLISHED = {"ring8": {"GAN, PacGAN's table": (6.3, 98.2), "PacGAN4": (7.8, 95.9),
                       "VEEGAN": (8, 52.9)},
             "grid25": {"GAN, PacGAN's table": (17.3, 94.8), "PacGAN4": (24.8, 93.6),
                        "VEEGAN": (24.6, 40.0)}}
FIGURE_POINTS = 500  # of the 2,500 scored samples, kept in each record for the figure
QUICK = dict(steps=20, seeds=1, models=("gan",), datasets=("ring8",), checks=2)


def generator_mode_metrics(gan, dataset, seed=12345):
    """toy_mode_metrics of TOY_SAMPLES points from an in-memory GAN's generator, in the data's
    own coordinates."""
    points = np.asarray(gan.samples(gan.latent.sample(TOY_SAMPLES, [seed, 0])))
    return toy_mode_metrics(points, TOY_CENTRES[dataset], TOY_STDS[dataset])


class ModeCurve(keras.callbacks.Callback):
    """Records [step, modes, high-quality share] at the end of every epoch of `train`, and
    keeps them in `path` so that an interrupted run resumes with its curve."""

    def __init__(self, dataset, path, points=()):
        super().__init__()
        self.dataset, self.path, self.points = dataset, path, list(points)

    def on_epoch_end(self, epoch, logs=None):
        m = generator_mode_metrics(self.model, self.dataset)
        step = int(self.model.step.numpy())
        self.points = [p for p in self.points if p[0] < step]
        self.points.append([step, m["modes"], m["high_quality"]])
        _write_json(self.path, self.points)


def _write_json(path, value):
    common.write_json(path, value, indent=1)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def record_path(out_dir, dataset, model, seed):
    return os.path.join(out_dir, f"{dataset}_{model}_seed{seed}.json")


def protocol_steps(model, dataset):
    return resolve(Config(model=model, dataset=dataset, workdir="")).train_steps


def run_seed(out_dir, dataset, model, seed, steps, checks, quick=False):
    """Trains (or resumes) one seed to `steps` and writes its record; returns the record."""
    path = record_path(out_dir, dataset, model, seed)
    workdir = os.path.join(out_dir, "runs", f"{dataset}_{model}_seed{seed}")
    os.makedirs(workdir, exist_ok=True)
    curve_path = os.path.join(workdir, "curve.json")
    previous = _read_json(path) or {}
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    start = int(latest.rsplit("-", 1)[1]) if latest else 0  # checkpoints are named by step
    if latest is None:
        # Nothing to resume (runs/ is not committed): this run starts over, so must its curve.
        previous = {}
        if os.path.exists(curve_path):
            os.remove(curve_path)
    curve = ModeCurve(dataset, curve_path,
                      _read_json(curve_path) or previous.get("curve", []))
    config = Config(model=model, dataset=dataset, workdir=workdir, seed=seed, train_steps=steps,
                    steps_per_epoch=steps // checks, checkpoint_every=steps // checks,
                    **({"width": 32, "jit_compile": False} if quick else {}))
    resolved = resolve(config)
    target = protocol_steps(model, dataset)
    if steps < target:
        print(f"{dataset} {model} seed {seed}: shortened: {steps:,} of {target:,} protocol "
              "steps", flush=True)
    _, seconds = timed_train(config, verbose=0, callbacks=[curve])
    points = draw(load_sampler(os.path.join(workdir, "saved_model")), TOY_SAMPLES,
                  seed=seed)["samples"]
    m = toy_mode_metrics(points, TOY_CENTRES[dataset], TOY_STDS[dataset])
    with open(os.path.join(workdir, "config.json")) as f:
        done_config = json.load(f)
    record = {
        "dataset": dataset, "model": model, "seed": seed,
        "steps_done": steps, "protocol_steps": target, "shortened": steps < target,
        "final": {k: m[k] for k in ("modes", "high_quality", "reverse_kl", "counts")},
        "curve": curve.points,
        "train_seconds": total_train_seconds(workdir),
        "ms_per_step_this_session": 1000 * seconds / max(steps - start, 1),
        "cpus_this_session": sorted(os.sched_getaffinity(0)),  # pinned under --processes > 1
        "config": done_config, "resolved": {k: getattr(resolved, k) for k in (
            "batch_size", "d_steps", "latent_dim", "width", "d_lr", "g_lr", "beta_1",
            "beta_2", "gp_weight", "clip_value", "data_scale", "train_points")},
        "points": np.round(points[:FIGURE_POINTS], 4).tolist(),
    }
    _write_json(path, record)
    print(f"{dataset} {model} seed {seed}: {m['modes']} modes, "
          f"{100 * m['high_quality']:.1f}% high quality after {steps:,} steps "
          f"({seconds:.0f} s)", flush=True)
    return record


def run(out_dir, quick=False, seed=0, steps=None, seeds=5, models=MODELS, datasets=DATASETS,
        checks=8, processes=1, summary=True):
    """Trains the missing seeds (`steps` None: each protocol's own count), `processes` at a
    time (each its own process on its own CPU), then tables and plots every record in out_dir
    (unless `summary` is off: a seed's own process)."""
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    if quick:
        steps, seeds, models, datasets, checks = (QUICK[k] for k in
                                                  ("steps", "seeds", "models", "datasets",
                                                   "checks"))
    for name, values, known in (("models", models, MODELS), ("datasets", datasets, DATASETS)):
        unknown = [v for v in values if v not in known]
        if unknown:
            raise common.ExperimentError(f"--{name}={','.join(unknown)} is not one of "
                                         f"{','.join(known)}")
    if checks < 1 or seeds < 1 or (steps is not None and steps < 1):
        raise common.ExperimentError("--steps, --seeds and --checks must be positive")
    todo = []  # (dataset, model, seed, steps) still to train
    for dataset in datasets:
        for model in models:
            n = steps or protocol_steps(model, dataset)
            if n % checks:
                raise common.ExperimentError(
                    f"{n} steps ({dataset}, {model}) do not split into --checks={checks} "
                    "equal parts; pick a divisor")
            for s in range(seed, seed + seeds):
                done = _read_json(record_path(out_dir, dataset, model, s))
                if done and done.get("steps_done", 0) >= n:
                    print(f"{dataset} {model} seed {s}: done ({done['steps_done']:,} steps), "
                          "skipped", flush=True)
                    continue
                todo.append((dataset, model, s, n))
    if processes > 1 and len(todo) > 1:
        run_side_by_side(out_dir, todo, checks, processes)
    else:
        for dataset, model, s, n in todo:
            try:
                run_seed(out_dir, dataset, model, s, n, checks, quick)
            except ConfigError as e:
                raise common.ExperimentError(str(e)) from None
    return summarize(out_dir, started, quick) if summary else None


def run_side_by_side(out_dir, todo, checks, processes):
    """Runs each (dataset, model, seed, steps) of `todo` as `python -m
    experiments.mode_coverage` for that seed alone, `processes` at a time, each pinned to a
    CPU of its own; their output goes to the console as it comes."""
    cpus = sorted(os.sched_getaffinity(0))[:processes]
    waiting, running, failed = list(todo), {}, []
    while waiting or running:
        while waiting and len(running) < len(cpus):
            dataset, model, s, n = waiting.pop(0)
            cpu = next(c for c in cpus if c not in running)
            command = [sys.executable, "-m", "experiments.mode_coverage", f"--out_dir={out_dir}",
                       f"--datasets={dataset}", f"--models={model}", f"--seed={s}", "--seeds=1",
                       f"--steps={n}", f"--checks={checks}", "--processes=1", "--nosummary"]
            running[cpu] = (subprocess.Popen(command, preexec_fn=lambda c=cpu:
                                             os.sched_setaffinity(0, {c})), (dataset, model, s))
            print(f"{dataset} {model} seed {s}: started on CPU {cpu}", flush=True)
        time.sleep(1)
        for cpu, (process, job) in list(running.items()):
            if process.poll() is not None:
                del running[cpu]
                if process.returncode:
                    failed.append(f"{' '.join(map(str, job))} (exit status {process.returncode})")
    if failed:
        raise common.ExperimentError(f"seed runs failed: {'; '.join(failed)}; rerun the same "
                                     "command to resume them")


# === Combining the records ===

def load_records(out_dir):
    """Every per-seed record in out_dir, by (dataset, model, steps_done)."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(out_dir, "*_seed*.json"))):
        r = _read_json(path)
        if r and "final" in r:
            groups.setdefault((r["dataset"], r["model"], r["steps_done"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in groups.items()}


def real_metrics(dataset, seed=99):
    """The protocol on TOY_SAMPLES draws of the true mixture, and the points."""
    real = next(iter(make_train_dataset(load(dataset), TOY_SAMPLES, seed=seed)))[0].numpy()
    return toy_mode_metrics(real, TOY_CENTRES[dataset], TOY_STDS[dataset]), real


def summarize(out_dir, started, quick=False):
    groups = load_records(out_dir)
    datasets = [d for d in DATASETS if any(k[0] == d for k in groups)]
    table, real_points = {}, {}
    for dataset in datasets:
        m, real_points[dataset] = real_metrics(dataset)
        table.setdefault(dataset, {})["real"] = _row([{"final": m, "seed": None}], 0, 0)
    for (dataset, model, steps), records in sorted(groups.items()):
        table[dataset][f"{model}@{steps}"] = _row(records, steps, records[0]["protocol_steps"])
    record = {"protocol": f"{TOY_SAMPLES} samples; high quality = within 3 std of the nearest "
                          "centre; a mode counts with >= 1 high-quality sample",
              "quick": quick, "table": table, "published": PUBLISHED,
              "markdown": markdown(table),
              "summary": {f"{d}/{m}": f"{t['modes_mean']:.1f} modes, "
                                      f"{t['high_quality_mean']:.1f}% HQ ({t['seeds']} seeds)"
                          for d, rows in table.items() for m, t in rows.items() if m != "real"}}
    return common.write_outputs(out_dir, NAME, figure(groups, datasets, real_points), record,
                                started)


def standard_error(values):
    """The standard error of the mean over seeds, sample std / sqrt(n) (PacGAN's Table 1 gives
    its means +- this over 10 runs); None for a single seed."""
    values = np.asarray(values, float)
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None


def _row(records, steps, protocol):
    modes = np.array([r["final"]["modes"] for r in records], float)
    hq = np.array([100 * r["final"]["high_quality"] for r in records])
    kl = np.array([r["final"]["reverse_kl"] for r in records])
    k = len(records[0]["final"]["counts"])
    return {"seeds": len(records), "steps_done": steps, "protocol_steps": protocol,
            "modes_mean": modes.mean(), "modes_se": standard_error(modes),
            "high_quality_mean": hq.mean(), "high_quality_se": standard_error(hq),
            "reverse_kl_mean": kl.mean(),
            "all_modes_every_seed": bool(np.all(modes == k)),
            "per_seed": [{"seed": r["seed"], "modes": r["final"]["modes"],
                          "high_quality": r["final"]["high_quality"],
                          "train_seconds": r.get("train_seconds")} for r in records]}


def _se(value):
    return "" if value is None else f" +- {value:.1f}"


def markdown(table):
    lines = ["| data | model | steps (of the protocol's) | seeds | modes (mean +- s.e.) "
             "| high quality % (mean +- s.e.) | reverse KL | every mode, every seed |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset, rows in table.items():
        k = len(TOY_CENTRES[dataset])
        for key, t in rows.items():
            if key == "real":
                label, steps = f"true mixture ({TOY_SAMPLES:,} draws)", "-"
            else:
                label = f"`{key.split('@')[0]}`"
                steps = f"{t['steps_done']:,} of {t['protocol_steps']:,}"
                if t["steps_done"] < t["protocol_steps"]:
                    steps = f"**shortened**: {steps}"
            lines.append(f"| {dataset} | {label} | {steps} | {t['seeds']} | "
                         f"{t['modes_mean']:.1f}{_se(t['modes_se'])} of {k} | "
                         f"{t['high_quality_mean']:.1f}{_se(t['high_quality_se'])} | "
                         f"{t['reverse_kl_mean']:.3f} | "
                         f"{'yes' if t['all_modes_every_seed'] else 'no'} |")
        for name, (modes, hq) in PUBLISHED[dataset].items():
            lines.append(f"| {dataset} | {name} (published) | PacGAN: 400,000 | 10 | {modes} of "
                         f"{k} | {hq} | - | - |" if "VEEGAN" not in name else
                         f"| {dataset} | {name} (published) | its own setup | - | {modes} of {k} "
                         f"| {hq} | - | - |")
    return "\n".join(lines)


def figure(groups, datasets, real_points):
    """Per dataset: each model's longest run (its lowest seed's samples) over the real mixture,
    then modes and high-quality % against the step for every group of records (thin: each
    seed; thick: the mean over seeds of one length)."""
    longest = {}
    for (dataset, model, steps), records in groups.items():
        if steps >= longest.get((dataset, model), (0, None))[0]:
            longest[(dataset, model)] = (steps, records)
    models = [m for m in MODELS if any((d, m) in longest for d in datasets)]
    colours = {m: f"C{i}" for i, m in enumerate(MODELS)}
    columns = len(models) + 3
    fig, _ = common.new_figure(columns, width=3.0, height=3.0 * max(len(datasets), 1))
    fig.clear()
    grid = fig.subplots(max(len(datasets), 1), columns, squeeze=False)
    for i, dataset in enumerate(datasets):
        centres, real = TOY_CENTRES[dataset], real_points[dataset]
        lim = 3.0 if dataset == "ring8" else 5.5
        modes_ax, hq_ax = grid[i, -2], grid[i, -1]
        for j, model in enumerate(("real",) + tuple(models)):
            ax = grid[i, j]
            ax.scatter(real[:, 0], real[:, 1], s=1, c="tab:blue", alpha=0.3)
            title = f"{dataset}: true mixture"
            if model != "real":
                if (dataset, model) not in longest:
                    ax.set_axis_off()
                    continue
                steps, records = longest[(dataset, model)]
                r = records[0]
                p = np.asarray(r["points"])
                ax.scatter(p[:, 0], p[:, 1], s=1, c="tab:orange", alpha=0.5)
                title = (f"{model} seed {r['seed']}, {steps:,} steps:\n{r['final']['modes']} "
                         f"modes, {100 * r['final']['high_quality']:.0f}% HQ")
            ax.scatter(centres[:, 0], centres[:, 1], s=8, c="k", marker="x", linewidths=0.5)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
        for (d, model, steps), records in sorted(groups.items()):
            if d != dataset:
                continue
            curves = [np.asarray(rec["curve"], float) for rec in records]
            style = dict(color=colours[model], ls="-" if steps == longest[(d, model)][0] else "--")
            for c in curves:
                modes_ax.plot(c[:, 0], c[:, 1], lw=0.5, alpha=0.4, **style)
                hq_ax.plot(c[:, 0], 100 * c[:, 2], lw=0.5, alpha=0.4, **style)
            mean = np.mean([c for c in curves if len(c) == len(curves[0])], axis=0)
            label = f"{model}, {len(records)} seed{'s' * (len(records) > 1)} x {steps:,} steps"
            modes_ax.plot(mean[:, 0], mean[:, 1], marker="o", ms=3, label=label, **style)
            hq_ax.plot(mean[:, 0], 100 * mean[:, 2], marker="o", ms=3, label=label, **style)
        modes_ax.axhline(len(centres), color="k", lw=0.5, ls="--")
        hq_ax.axhline(100 * (1 - np.exp(-4.5)), color="k", lw=0.5, ls="--")
        modes_ax.set_title(f"{dataset}: modes during training", fontsize=8)
        hq_ax.set_title(f"{dataset}: high-quality %", fontsize=8)
        for ax in (modes_ax, hq_ax):
            ax.set_xlabel("generator step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))  # 400k
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
    return fig

if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_integer("steps", None, "Generator updates per run (default: each toy "
                         "protocol's own; fewer is recorded and printed as shortened).")
    flags.DEFINE_integer("checks", 8, "Mode counts taken during each run (must divide the "
                         "steps).")
    flags.DEFINE_integer("seeds", 5, "Seeds per (dataset, model); existing records are kept.")
    flags.DEFINE_list("models", list(MODELS), "Variants to train.")
    flags.DEFINE_list("datasets", list(DATASETS), "Toy datasets.")
    flags.DEFINE_integer("processes", len(os.sched_getaffinity(0)), "Seeds trained at once, "
                         "each in its own process on its own CPU (default: one per CPU).")
    flags.DEFINE_bool("summary", True, "Table and plot every record at the end (--nosummary: "
                      "the process of one seed among several).")
    app.run(common.cli_main(NAME, run, extra_flags=("steps", "seeds", "models", "datasets",
                                                    "checks", "processes", "summary")))
