"""Does the critic's Wasserstein estimate track sample quality? (WGAN paper, Sec. 4.2, Fig. 3-4:
"a meaningful loss metric that correlates with the generator's convergence and sample quality";
Fig. 4: a standard GAN's discriminator loss does not.)

    python -m experiments.w_tracks_quality [--seeds=0,1,2] [--quick]

Through a `wgan`, a `wgan_gp` and a `dcgan` run (their defaults; experiments/curves.py), at each
checkpoint: the critic's estimate E[f(x)] - E[f(G(z))] (the median over the steps since the
previous checkpoint of the logged d_real - d_fake, the last critic update of each step) for the
two critics, the discriminator's loss for dcgan, beside the Frechet distance of the generator at
that checkpoint (eval.py's classifier). Reports Spearman's rank correlation between each training
quantity and the FD over all checkpoints and over the second half of training (where a shared
early trend no longer drives it), beside the same for minus the step number: when FD falls
steadily, any steadily falling quantity scores as high, so only a quantity above that baseline
tracks quality beyond the passing of time. Expected: strongly positive for the critics, no
useful correlation for the GAN's loss.
"""
import time

from experiments import common, curves

NAME = "w_tracks_quality"
SIDES = (("wgan", "w_estimate", "critic's W estimate"),
         ("wgan_gp", "w_estimate", "critic's W estimate"),
         ("dcgan", "d_loss", "D loss"))


def correlations(record, key):
    """Spearman(key, FD) over the checkpoints after step 0, and over the later half; beside
    them the same for minus the step number, a quantity that only says time has passed (when
    FD falls steadily it scores as high as anything can)."""
    points = [p for p in record["curve"][1:] if p.get(key) is not None]
    values, fd = [p[key] for p in points], [p["fd"] for p in points]
    clock = [-p["step"] for p in points]
    half = len(points) // 2
    return {"all": curves.spearman(values, fd), "second_half": curves.spearman(
        values[half:], fd[half:]), "checkpoints": len(points),
        "minus_step_all": curves.spearman(clock, fd),
        "minus_step_second_half": curves.spearman(clock[half:], fd[half:])}


def run(out_dir, quick=False, seed=0, seeds=None):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    seeds = curves.seed_list(seeds, seed, quick)
    pool = curves.pool_dir(out_dir, quick)
    got = curves.records(pool, [name for name, _, _ in SIDES], seeds, quick)
    rows = []
    for name, key, what in SIDES:
        for r in got[name]:
            rows.append({"run": name, "seed": r["seed"], "quantity": key, "what": what,
                         "spearman_with_fd": correlations(r, key),
                         "final_fd": r["curve"][-1]["fd"]})
    record = {"rows": rows, "seeds": seeds, "quick": quick, "data": got["dcgan"][0]["data"],
              "runs": {n: [curves.record_path(pool, n, s) for s in seeds] for n, _, _ in SIDES}}
    record["summary"] = {f"{r['run']}_seed{r['seed']}_{r['quantity']}_rho":
                         r["spearman_with_fd"]["all"] for r in rows}
    record["per_run"] = {}  # over the seeds: does the quantity rise and fall with FD on each?
    for name, key, _ in SIDES:
        mine = [r["spearman_with_fd"] for r in rows if r["run"] == name]
        record["per_run"][name] = {
            "quantity": key, "seeds": seeds, "rho_all": [c["all"] for c in mine],
            "rho_second_half": [c["second_half"] for c in mine],
            "minus_step_rho_all": [c["minus_step_all"] for c in mine],
            "minus_step_rho_second_half": [c["minus_step_second_half"] for c in mine],
            "positive_every_seed": all(c["all"] is not None and c["all"] > 0 for c in mine)}

    fig, axes = common.new_figure(len(SIDES) + 1, width=4.6, height=3.6)
    styles = ("-", "--", ":", "-.")
    for ax, (name, key, what) in zip(axes, SIDES):
        twin = ax.twinx()
        rhos = []
        for i, r in enumerate(got[name]):
            style, seed_label = styles[i % len(styles)], f"seed {r['seed']}"
            steps, fd = curves.series(r, "fd")
            q_steps, q = curves.series(r, key)
            ax.plot(steps, fd, color="k", ls=style, marker="o", ms=3,
                    label=f"FD, {seed_label} (left)")
            twin.plot(q_steps, q, color="tab:blue", ls=style, marker="s", ms=3,
                      label=f"{what}, {seed_label} (right)")
            rho = correlations(r, key)["all"]
            rhos.append("n/a" if rho is None else f"{rho:+.2f}")
        ax.set_yscale("log")
        ax.set_xlabel("generator step")
        ax.set_ylabel("Frechet distance")
        twin.set_ylabel(what, color="tab:blue")
        ax.set_title(f"{name}: Spearman {', '.join(rhos)}", fontsize=10)
        ax.legend(loc="upper right", fontsize=6)
        twin.legend(loc="center right", fontsize=6)
    ax = axes[-1]
    for name, key, what in SIDES[:2]:
        for r in got[name]:
            points = [p for p in r["curve"][1:] if p.get(key) is not None]
            ax.scatter([p[key] for p in points], [p["fd"] for p in points], s=12,
                       label=f"{name} seed {r['seed']}")
    ax.set_yscale("log")
    ax.set_xscale("log")  # weight clipping keeps WGAN's estimate ~100x smaller than WGAN-GP's
    ax.set_xlabel("critic's W estimate at the checkpoint")
    ax.set_ylabel("Frechet distance")
    ax.set_title("the critics: estimate vs FD", fontsize=10)
    ax.legend(fontsize=7)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    curves.cli(NAME, run, default_seeds=["0", "1", "2"])
