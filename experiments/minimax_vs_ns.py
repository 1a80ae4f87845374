"""Minimax vs non-saturating generator loss, as a training outcome (Goodfellow et al. 2014,
Sec. 3: log(1 - D(G(z))) saturates early, -log D(G(z)) "provides much stronger gradients early
in learning"; Lucic et al. 2018 measured MNIST FID 9.8 (minimax) vs 6.8 (non-saturating)).

    python -m experiments.minimax_vs_ns [--seeds=0,1,2] [--quick]

`dcgan` from scratch with `--loss=minimax` and with its default `--loss=non_saturating`, the
same networks, seeds and data; Frechet distance and IS (eval.py's classifier) over training.
experiments/vanishing_gradients.py shows the gradient side of the claim; this one asks whether
minimax learns at all here: it "learns" when its final Frechet distance is below a fifth of its
step-0 value (the untrained generator's, about 750; a generator collapsed to one digit scores
about as badly, docs/results.md), and the comparison is the final FD per seed.
"""
import time

from experiments import common, curves

NAME = "minimax_vs_ns"
SIDES = (("dcgan_minimax", "tab:red"), ("dcgan", "tab:blue"))


def run(out_dir, quick=False, seed=0, seeds=None):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    seeds = curves.seed_list(seeds, seed, quick)
    pool = curves.pool_dir(out_dir, quick)
    got = curves.records(pool, [n for n, _ in SIDES], seeds, quick)
    per_seed = []
    for mm, ns in zip(got["dcgan_minimax"], got["dcgan"]):
        per_seed.append({
            "seed": mm["seed"],
            "minimax": {"fd_step0": mm["curve"][0]["fd"], "first_checkpoint": mm["curve"][1],
                        "final_fd": mm["curve"][-1]["fd"],
                        "final_is": mm["curve"][-1]["is"],
                        "learns": curves.learns(mm)},
            "non_saturating": {"fd_step0": ns["curve"][0]["fd"], "first_checkpoint": ns["curve"][1],
                               "final_fd": ns["curve"][-1]["fd"], "final_is": ns["curve"][-1]["is"],
                               "learns": curves.learns(ns)},
            "non_saturating_lower_fd": bool(ns["curve"][-1]["fd"] < mm["curve"][-1]["fd"])})
    record = {"per_seed": per_seed, "seeds": seeds, "quick": quick,
              "data": got["dcgan"][0]["data"], "real_held_out": got["dcgan"][0]["real"],
              "criterion": f"learns: final FD < step-0 FD / {curves.LEARNS}",
              "lucic_2018_mnist_fid": {"minimax": 9.8, "non_saturating": 6.8},
              "runs": {n: [curves.record_path(pool, n, s) for s in seeds] for n, _ in SIDES}}
    record["summary"] = {
        "minimax_learns_seeds": sum(p["minimax"]["learns"] for p in per_seed),
        "ns_lower_fd_seeds": sum(p["non_saturating_lower_fd"] for p in per_seed),
        "seeds": len(seeds)}

    fig, (ax_fd, ax_is) = common.new_figure(2)
    for name, colour in SIDES:
        for i, r in enumerate(got[name]):
            for ax, key in ((ax_fd, "fd"), (ax_is, "is")):
                steps, values = curves.series(r, key)
                ax.plot(steps, values, color=colour, lw=1, marker="o", ms=2,
                        label=curves.RUNS[name][2] if i == 0 else None)
    real = record["real_held_out"]
    ax_fd.axhline(real["fd"], color="k", lw=0.8, ls="--", label="real held-out digits")
    ax_is.axhline(real["is"], color="k", lw=0.8, ls="--", label="real held-out digits")
    ax_fd.set_yscale("log")
    ax_fd.set_ylabel("Frechet distance (eval classifier)")
    ax_is.set_ylabel("classifier IS")
    for ax in (ax_fd, ax_is):
        ax.set_xlabel("generator step")
        ax.legend(fontsize=7)
    ax_fd.set_title(f"DCGAN from scratch, {len(seeds)} seed(s) each", fontsize=10)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    curves.cli(NAME, run, default_seeds=["0", "1", "2"])
