"""Batch norm and stability (WGAN paper, Sec. 4.3 and Fig. 5-6): without the DCGAN generator's
batch norm, or with a plain MLP generator, the standard GAN fails where WGAN still learns.

    python -m experiments.batch_norm [--seeds=0,1,2] [--quick]

Six runs per seed (experiments/curves.py `RUNS`), each its variant's defaults with one change:
`dcgan` (non-saturating GAN) and `wgan` (weight clipping) with
- their DCGAN networks as they are (the reference point: both learn, Fig. 5);
- every batch norm removed from G and D (`--g_norm=none --d_norm=none`), Fig. 6's first setting
  (the paper's nets also keep the filter count constant; ours keep the DCGAN widths);
- G replaced by a 4-layer ReLU MLP of 512 units (`--g_arch=mlp --g_width=512`), D unchanged,
  Fig. 6's second setting (martinarjovsky/WassersteinGAN models/mlp.py MLP_G: 3 x [Linear 512 +
  ReLU] + Linear; ours ends in tanh like every image G here).
Each is scored over training with eval.py's classifier (Frechet distance, IS, class KL). A run
*learns* when its final Frechet distance is below a fifth of its step-0 one (`curves.learns`,
the rule minimax_vs_ns uses). The claim is called reproduced for a setting without batch norm or
with the MLP generator when, on every seed, the GAN does not learn and WGAN does; the setting
with batch norm is the reference, where both should learn. A lower final FD alone is not the
claim: two runs that both collapse differ in FD too. The figure shows each run's last samples
side by side, and the curves (FD, IS, class KL).
"""
import os
import time

from experiments import common, curves, w_tracks_quality

NAME = "batch_norm"
SETTINGS = (("with batch norm (DCGAN nets)", "dcgan", "wgan"),
            ("no batch norm in G and D", "dcgan_no_bn", "wgan_no_bn"),
            ("MLP generator, 4 x 512", "dcgan_mlp_g", "wgan_mlp_g"))


def final(record, key="fd"):
    return record["curve"][-1][key]


def critic_estimate(got):
    """The W-tracks-quality question (WGAN paper, Fig. 3) asked of these runs' critics:
    - within each WGAN run, Spearman of the estimate with FD beside minus the step number's
      (w_tracks_quality.correlations): the estimate tracks quality beyond the passing of time
      only where it beats that baseline;
    - across generators with the same critic (Fig. 3's upper plots share the DCGAN critic "so
      losses can be subjected to comparison"): at each checkpoint, does the run with the lower
      estimate, `wgan` (DCGAN G) or `wgan_mlp_g`, also have the lower FD?"""
    within = {name: [w_tracks_quality.correlations(r, "w_estimate") for r in got[name]]
              for _, _, name in SETTINGS}
    across = []
    for dc, mlp in zip(got["wgan"], got["wgan_mlp_g"]):
        # Paired by step: a resumed run has an extra checkpoint where it was stopped.
        at = {q["step"]: q for q in mlp["curve"][1:] if q.get("w_estimate") is not None}
        points = [(p["step"], p["w_estimate"] < at[p["step"]]["w_estimate"],
                   p["fd"] < at[p["step"]]["fd"])
                  for p in dc["curve"][1:]
                  if p["step"] in at and p.get("w_estimate") is not None]
        across.append({"seed": dc["seed"], "checkpoints": len(points),
                       "agree": sum(lower_w == lower_fd for _, lower_w, lower_fd in points),
                       "disagree_at_steps": [step for step, lower_w, lower_fd in points
                                             if lower_w != lower_fd]})
    return {"within_run": within, "across_generators": across}


def run(out_dir, quick=False, seed=0, seeds=None):
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    seeds = curves.seed_list(seeds, seed, quick)
    pool = curves.pool_dir(out_dir, quick)
    names = [n for _, gan, wgan in SETTINGS for n in (gan, wgan)]
    got = curves.records(pool, names, seeds, quick)
    rows = []
    for title, gan, wgan in SETTINGS:
        fd_gan = [final(r) for r in got[gan]]
        fd_wgan = [final(r) for r in got[wgan]]
        gan_learns = [curves.learns(r) for r in got[gan]]
        wgan_learns = [curves.learns(r) for r in got[wgan]]
        reference = gan == "dcgan"   # with batch norm: both should learn
        rows.append({"setting": title, "gan_run": gan, "wgan_run": wgan, "seeds": seeds,
                     "gan_final_fd": fd_gan, "wgan_final_fd": fd_wgan,
                     "gan_final_is": [final(r, "is") for r in got[gan]],
                     "wgan_final_is": [final(r, "is") for r in got[wgan]],
                     "gan_final_class_kl": [final(r, "class_kl") for r in got[gan]],
                     "wgan_final_class_kl": [final(r, "class_kl") for r in got[wgan]],
                     "wgan_lower_fd_every_seed": bool(all(w < g for g, w in zip(fd_gan, fd_wgan))),
                     "gan_learns": gan_learns, "wgan_learns": wgan_learns,
                     "expected": "both learn" if reference else "the GAN fails, WGAN learns",
                     "as_expected_every_seed": bool(all(
                         (g if reference else not g) and w
                         for g, w in zip(gan_learns, wgan_learns)))})
    real = got["dcgan"][0]["real"]
    record = {"settings": rows, "seeds": seeds, "quick": quick, "data": got["dcgan"][0]["data"],
              "real_held_out": real,
              "criterion": f"a run learns when its final FD < its step-0 FD / {curves.LEARNS}; "
                           "reproduced for a setting without batch norm or with the MLP G when, "
                           "on every seed, the GAN does not learn and WGAN does (with batch "
                           "norm, the reference: both learn)",
              "runs": {n: [curves.record_path(pool, n, s) for s in seeds] for n in names}}
    record["summary"] = {
        r["setting"]: (f"{r['expected']}: " + ("yes, every seed" if r["as_expected_every_seed"]
                                               else "no") +
                       f" (GAN learns on {sum(r['gan_learns'])}, WGAN on {sum(r['wgan_learns'])} "
                       f"of {len(seeds)} seeds)") for r in rows}
    record["summary"]["seeds"] = len(seeds)
    record["critic_estimate"] = critic_estimate(got)

    # === Figures: the last samples (seed 0) side by side; FD and IS over training ===
    import matplotlib.image as mpimg
    grids, axes = common.plt.subplots(2, 3, figsize=(13, 9.4), constrained_layout=True)
    for col, (title, gan, wgan) in enumerate(SETTINGS):
        for row, name in enumerate((gan, wgan)):
            ax, r = axes[row, col], got[name][0]
            ax.imshow(mpimg.imread(r["samples_png"]))
            ax.set_title(f"{curves.RUNS[name][2]}\nFD {final(r):.1f}, IS {final(r, 'is'):.2f} "
                         f"(seed {r['seed']}, step {r['curve'][-1]['step']})", fontsize=9)
            ax.axis("off")
    record["samples_figure"] = os.path.join(out_dir, f"{NAME}_samples.png")
    grids.savefig(record["samples_figure"], dpi=80)
    common.plt.close(grids)
    fig, axes = common.plt.subplots(3, 3, figsize=(15, 11), constrained_layout=True)
    for col, (title, gan, wgan) in enumerate(SETTINGS):
        for row, key in enumerate(("fd", "is", "class_kl")):
            ax = axes[row, col]
            for name, colour in ((gan, "tab:red"), (wgan, "tab:blue")):
                for i, r in enumerate(got[name]):
                    steps, values = curves.series(r, key)
                    ax.plot(steps, values, color=colour, alpha=0.8, lw=1,
                            label=curves.RUNS[name][2] if i == 0 else None)
            ax.axhline(real[key], color="k", lw=0.8, ls="--", label="real held-out digits")
            ax.set_xlabel("generator step")
            if key == "fd":
                ax.set_yscale("log")
                ax.set_ylabel("Frechet distance (eval classifier)")
                ax.set_title(title, fontsize=10)
            elif key == "is":
                ax.set_ylabel("classifier IS")
            else:
                ax.set_ylabel("class KL to uniform (ln 10 = one class)")
            ax.legend(fontsize=7)
    return common.write_outputs(out_dir, NAME, fig, record, started)


if __name__ == "__main__":
    curves.cli(NAME, run, default_seeds=["0", "1", "2"])
