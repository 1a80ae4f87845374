"""WGAN-GP on images (Gulrajani et al. 2017): the default `wgan_gp` run (DCGAN nets, layer norm
in the critic, lambda 10, 5 critic updates, Adam 1e-4 with betas 0 / 0.9) trained on MNIST
(mnist_5k offline) and scored by eval.py, for docs/results.md's table of default runs.

    python -m experiments.wgan_gp_mnist [--seeds=0,1,2] [--quick]

The run is experiments/curves.py's `wgan_gp` (shared with w_tracks_quality): eval.py's full
evaluation of its export (10,000 samples), its Frechet distance and IS at every checkpoint, the
critic's W estimate over training, its wall time and time per generator step.
"""
import time

from experiments import common, curves

NAME = "wgan_gp_mnist"
ROW_METRICS = ("classifier IS", "Frechet distance (classifier)", "precision (classifier)",
               "recall (classifier)", "class KL to uniform", "Parzen log-likelihood")


def _value(v):
    return v[0] if isinstance(v, (list, tuple)) else v


def run(out_dir, quick=False, seed=0, seeds=None):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    seeds = curves.seed_list(seeds, seed, quick)
    pool = curves.pool_dir(out_dir, quick)
    got = curves.records(pool, ["wgan_gp"], seeds, quick)["wgan_gp"]
    per_seed = []
    for r in got:
        seconds = curves.train_seconds(r)
        per_seed.append({"seed": r["seed"], "steps": r["steps"],
                         "final": {k: _value(r["final"].get(k)) for k in ROW_METRICS},
                         "real": {k: _value(r["final_real"].get(k)) for k in ROW_METRICS},
                         "train_seconds": seconds, "ms_per_step": 1000 * seconds / r["steps"],
                         "curve": [{k: p.get(k) for k in ("step", "fd", "is", "w_estimate")}
                                   for p in r["curve"]]})
    record = {"per_seed": per_seed, "seeds": seeds, "quick": quick, "data": got[0]["data"],
              "config": got[0]["config"], "samples_png": [r["samples_png"] for r in got],
              "runs": [curves.record_path(pool, "wgan_gp", s) for s in seeds]}
    record["summary"] = {"seeds": seeds, "steps": [s["steps"] for s in per_seed],
                         "is": [round(s["final"]["classifier IS"] or 0, 2) for s in per_seed],
                         "fd": [round(s["final"]["Frechet distance (classifier)"], 1)
                                for s in per_seed],
                         "ms_per_step": [round(s["ms_per_step"]) for s in per_seed]}

    fig, (ax_fd, ax_w) = common.new_figure(2, width=4.6, height=3.6)
    for r in got:
        steps, fd = curves.series(r, "fd")
        ax_fd.plot(steps, fd, marker="o", ms=3, label=f"seed {r['seed']}")
        steps, w = curves.series(r, "w_estimate")
        ax_w.plot(steps, w, marker="s", ms=3, label=f"seed {r['seed']}")
    ax_fd.axhline(got[0]["real"]["fd"], color="k", lw=0.8, ls="--", label="real held-out")
    ax_fd.set_yscale("log")
    ax_fd.set_ylabel("Frechet distance (eval classifier)")
    ax_w.set_ylabel("critic's W estimate (window median)")
    for ax in (ax_fd, ax_w):
        ax.set_xlabel("generator step")
        ax.legend(fontsize=7)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    curves.cli(NAME, run, default_seeds=["0", "1", "2"])
