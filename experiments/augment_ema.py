"""DCGAN and WGAN-GP on MNIST with DiffAugment and with the generator's moving average, beside
their defaults (docs/augment.md).

    python -m experiments.augment_ema [--models=dcgan,wgan_gp] [--settings=augment,ema]
        [--seeds=0,1,2] [--notrain] [--quick]

Each (model, setting, seed) is one run of experiments/curves.py's pool: the variant's default
image run (3,000 generator steps on mnist, mnist_5k offline) with one change, `--augment=
color,translation,cutout` (the policy InfoGAN's pilot picked, docs/results.md) or `--ema=0.999`.
The default runs are the pool's `dcgan` and `wgan_gp`, shared with the other claims experiments
(trained once). Per run: eval.py's full evaluation of the export (10,000 samples; under --ema the
average, as eval.py scores it), and the Frechet distance over training at every 250 steps (the
same noise at each checkpoint; under --ema the average's). The verdict per (model, setting):
lower final FD than the default run on every seed, and on how many. With --notrain nothing is
trained: each model's table holds those of --seeds whose records are all in the pool.
"""
import os
import time

from absl import app, flags

from experiments import common, curves

NAME = "augment_ema"
MODELS = ("dcgan", "wgan_gp")
SETTINGS = ("augment", "ema")
METRICS = {"fd": "Frechet distance (classifier)", "is": "classifier IS",
           "precision": "precision (classifier)", "recall": "recall (classifier)"}
COLOURS = {"default": "tab:gray", "augment": "tab:orange", "ema": "tab:green"}


def run_name(model, setting):
    return model if setting == "default" else f"{model}_{setting}"


def _value(v):
    return v[0] if isinstance(v, (list, tuple)) else v


def run(out_dir, quick=False, seed=0, seeds=None, models=MODELS, settings=SETTINGS, train=True):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    for name, given, known in (("--models", models, MODELS), ("--settings", settings, SETTINGS)):
        if not given or set(given) - set(known):
            raise common.ExperimentError(f"{name} takes some of {','.join(known)}; got "
                                         f"{','.join(given)}")
    seeds = curves.seed_list(seeds, seed, quick)
    pool = curves.pool_dir(out_dir, quick)
    sides = ("default",) + tuple(s for s in SETTINGS if s in settings)
    rows, got = [], {}
    for model in (m for m in MODELS if m in models):
        names = [run_name(model, s) for s in sides]
        have = [k for k in seeds if train or all(
            os.path.exists(curves.record_path(pool, n, k)) for n in names)]
        if not have:
            continue
        records = curves.records(pool, names, have, quick)
        got[model] = {s: records[n] for s, n in zip(sides, names)}
        finals = {s: [{k: _value(r["final"][m]) for k, m in METRICS.items()}
                      for r in got[model][s]] for s in sides}
        for s in sides:
            row = {"model": model, "setting": s, "run": run_name(model, s), "seeds": have,
                   **{k: [f[k] for f in finals[s]] for k in METRICS},
                   "steps": [r["steps"] for r in got[model][s]],
                   "train_seconds": [curves.train_seconds(r) for r in got[model][s]]}
            if s != "default":
                lower = [a["fd"] < b["fd"] for a, b in zip(finals[s], finals["default"])]
                row["lower_fd_than_default"] = lower
                row["lower_fd_seeds"] = f"{sum(lower)} of {len(lower)}"
                row["lower_fd_every_seed"] = all(lower)
            rows.append(row)
    if not got:
        raise common.ExperimentError(f"--notrain: no model has all its records for seeds "
                                     f"{','.join(map(str, seeds))} in {pool}; train them first")
    first = next(iter(got.values()))["default"][0]
    record = {"rows": rows, "seeds": seeds, "quick": quick, "data": first["data"],
              "real_held_out": {k: _value(first["final_real"][m]) for k, m in METRICS.items()},
              "changes": {s: curves.RUNS[run_name(MODELS[0], s)][1] for s in sides},
              "runs": {r["run"]: [curves.record_path(pool, r["run"], s) for s in r["seeds"]]
                       for r in rows},
              "samples_png": {r["run"]: [curves.record_path(pool, r["run"], s).replace(
                  ".json", "_samples.png") for s in r["seeds"]] for r in rows}}
    record["summary"] = {f"{r['run']}_fd": [round(v, 1) for v in r["fd"]] for r in rows}
    record["summary"].update({f"{r['run']}_lower_fd": r["lower_fd_seeds"] for r in rows
                              if "lower_fd_seeds" in r})

    fig, axes = common.new_figure(len(got), width=4.8, height=3.6)
    for ax, (model, by_side) in zip(axes, got.items()):
        for s, runs_ in by_side.items():
            for i, r in enumerate(runs_):
                steps, fd = curves.series(r, "fd")
                ax.plot(steps, fd, color=COLOURS[s], lw=1, marker="o", ms=2,
                        label=curves.RUNS[run_name(model, s)][2] if i == 0 else None)
        ax.axhline(first["real"]["fd"], color="k", lw=0.8, ls="--", label="real held-out")
        ax.set_yscale("log")
        ax.set_xlabel("generator step")
        ax.set_ylabel("Frechet distance (eval classifier)")
        ax.set_title(f"{model}, {len(by_side['default'])} seed(s) each", fontsize=10)
        ax.legend(fontsize=7)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    common.define_flags(NAME)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds to train (or read from the pool).")
    flags.DEFINE_list("models", list(MODELS), "Variants: dcgan, wgan_gp.")
    flags.DEFINE_list("settings", list(SETTINGS), "Changes beside the default: augment, ema.")
    flags.DEFINE_bool("train", True, "Train the missing records (--notrain: tabulate, per "
                      "model, the seeds whose records are all in the pool).")
    app.run(common.cli_main(NAME, run, extra_flags=("seeds", "models", "settings", "train")))
