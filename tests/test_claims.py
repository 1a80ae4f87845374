"""The claims experiments (#12): batch norm and stability, W tracks quality, minimax vs
non-saturating, WGAN-GP on images.

Their full runs train for an hour or more each; --quick trains 8-step runs of tiny nets, far too
short for any claim's direction to show (measured on 2026-11-30: even 200 steps at width 16 and
batch 32 moved DCGAN's FD only from 744 to 700 with -log D(G(z)) and 688 with the minimax loss,
where the full runs part at step 250, 262 against 556-601; the full networks and batch after
100 steps, measured the same day: 748 -> 724 and 733, not yet apart, and 100 steps of each
took about 90 s beside another training), so the quick test checks what the full mode relies on:
every run scored at step 0 and at each checkpoint, the training scalars matched to checkpoints,
runs shared between experiments trained once, and every verdict derived from the numbers
written beside it. The statistics are checked on their own below, the networks the claims'
settings build in test_networks.py.
"""
import json
import os

import numpy as np
import pytest

from experiments import (augment_ema, batch_norm, common, curves, minimax_vs_ns,
                         w_tracks_quality, wgan_gp_mnist)
from tests.test_experiments import written


def test_the_four_claims_quick_share_one_pool_and_derive_their_verdicts(tmp_path):
    out = str(tmp_path)
    gp = written(wgan_gp_mnist.run(out, quick=True), "wgan_gp_mnist")
    pool = curves.pool_dir(out, quick=True)
    gp_record = os.path.join(pool, "wgan_gp_seed0.json")
    stamp = os.path.getmtime(gp_record)
    w = written(w_tracks_quality.run(out, quick=True), "w_tracks_quality")
    mm = written(minimax_vs_ns.run(out, quick=True), "minimax_vs_ns")
    bn = written(batch_norm.run(out, quick=True), "batch_norm")
    ae = written(augment_ema.run(out, quick=True, models=["dcgan"]), "augment_ema")
    assert os.path.getmtime(gp_record) == stamp  # read back, not retrained

    # Every run: scored at step 0 and at each of the 4 checkpoints, scalars from step 2 on.
    # (WGAN-GP's augment and ema runs are augment_ema's second model, left out here.)
    trained = sorted(f[:-len("_seed0.json")] for f in os.listdir(pool) if f.endswith(".json"))
    assert trained == sorted(set(curves.RUNS) - {"wgan_gp_augment", "wgan_gp_ema"})
    for name in trained:
        with open(os.path.join(pool, f"{name}_seed0.json")) as f:
            r = json.load(f)
        assert [p["step"] for p in r["curve"]] == [0, 2, 4, 6, 8], name
        assert "w_estimate" not in r["curve"][0]
        for p in r["curve"]:
            assert np.isfinite([p["fd"], p["is"], p["class_kl"]]).all(), (name, p)
            assert p["fd"] > 0 and 1 <= p["is"] <= 10 and 0 <= p["class_kl"] <= np.log(10) + 1e-4
        for p in r["curve"][1:]:
            assert np.isfinite([p["w_estimate"], p["d_loss"], p["g_loss"]]).all(), (name, p)
            low, high = p["w_estimate_iqr"]
            assert low <= p["w_estimate"] <= high
        assert r["config"] == {**r["config"], **{k: v for k, v in curves.RUNS[name][1].items()
                                                 if k != "g_width"}}
        assert os.path.exists(r["samples_png"]) and r["final"]["Frechet distance (classifier)"] > 0
        assert r["train_seconds"] == pytest.approx(r["train_seconds_this_call"], abs=0.01)
    # The changes reached the runs.
    with open(os.path.join(pool, "dcgan_minimax_seed0.json")) as f:
        assert json.load(f)["config"]["loss"] == "minimax"
    with open(os.path.join(pool, "wgan_mlp_g_seed0.json")) as f:
        assert json.load(f)["config"]["g_arch"] == "mlp"
    with open(os.path.join(pool, "dcgan_augment_seed0.json")) as f, \
            open(os.path.join(pool, "dcgan_ema_seed0.json")) as g:
        assert json.load(f)["config"]["augment"] == "color,translation,cutout"
        assert json.load(g)["config"]["ema"] == 0.999

    # Verdicts follow the numbers written beside them.
    for row in bn["settings"]:
        assert row["wgan_lower_fd_every_seed"] == all(
            w_ < g for g, w_ in zip(row["gan_final_fd"], row["wgan_final_fd"]))
        assert row["seeds"] == [0]
        for side in ("gan", "wgan"):
            with open(os.path.join(pool, f"{row[side + '_run']}_seed0.json")) as f:
                curve = json.load(f)["curve"]
            assert row[f"{side}_learns"] == [curve[-1]["fd"] < curve[0]["fd"] / curves.LEARNS]
        both = [g and w_ for g, w_ in zip(row["gan_learns"], row["wgan_learns"])]
        claim = [not g and w_ for g, w_ in zip(row["gan_learns"], row["wgan_learns"])]
        assert row["as_expected_every_seed"] == all(both if row["gan_run"] == "dcgan" else claim)
    with open(os.path.join(pool, "wgan_seed0.json")) as f, \
            open(os.path.join(pool, "wgan_mlp_g_seed0.json")) as g:
        dc, mlp = json.load(f)["curve"][1:], json.load(g)["curve"][1:]
    across = bn["critic_estimate"]["across_generators"][0]
    disagree = [p["step"] for p, q in zip(dc, mlp)
                if (p["w_estimate"] < q["w_estimate"]) != (p["fd"] < q["fd"])]
    assert across["disagree_at_steps"] == disagree and across["agree"] == 4 - len(disagree)
    assert bn["critic_estimate"]["within_run"]["wgan"] == [
        row["spearman_with_fd"] for row in w["rows"] if row["run"] == "wgan"]
    for seed in mm["per_seed"]:
        for side in ("minimax", "non_saturating"):
            assert seed[side]["learns"] == (
                seed[side]["final_fd"] < seed[side]["fd_step0"] / curves.LEARNS)
        assert seed["non_saturating_lower_fd"] == (
            seed["non_saturating"]["final_fd"] < seed["minimax"]["final_fd"])
    assert {r["run"] for r in w["rows"]} == {"wgan", "wgan_gp", "dcgan"}
    for row in w["rows"]:
        assert row["spearman_with_fd"]["checkpoints"] == 4
        rho = row["spearman_with_fd"]["all"]
        assert rho is None or -1 <= rho <= 1
        summary = w["per_run"][row["run"]]
        assert summary["rho_all"] == [rho] and summary["positive_every_seed"] == (
            rho is not None and rho > 0)
    by_run = {r["run"]: r for r in ae["rows"]}
    assert sorted(by_run) == ["dcgan", "dcgan_augment", "dcgan_ema"]
    for name in ("dcgan_augment", "dcgan_ema"):
        with open(os.path.join(pool, f"{name}_seed0.json")) as f, \
                open(os.path.join(pool, "dcgan_seed0.json")) as g:
            fd = json.load(f)["final"]["Frechet distance (classifier)"]
            default_fd = json.load(g)["final"]["Frechet distance (classifier)"]
        assert by_run[name]["fd"] == [pytest.approx(fd[0] if isinstance(fd, list) else fd)]
        assert by_run[name]["lower_fd_than_default"] == [bool(
            by_run[name]["fd"][0] < by_run["dcgan"]["fd"][0])]
        assert by_run["dcgan"]["fd"] == [pytest.approx(
            default_fd[0] if isinstance(default_fd, list) else default_fd)]
    # --notrain tabulates what the pool holds: DCGAN's three runs, none of WGAN-GP's missing two.
    held = written(augment_ema.run(out, quick=True, train=False), "augment_ema")
    assert [r["run"] for r in held["rows"]] == ["dcgan", "dcgan_augment", "dcgan_ema"]
    assert not os.path.exists(os.path.join(pool, "wgan_gp_ema_seed0.json"))
    assert gp["summary"]["seeds"] == [0] and gp["summary"]["fd"] == [pytest.approx(
        gp["per_seed"][0]["final"]["Frechet distance (classifier)"], rel=1e-3, abs=0.05)]


def test_augment_ema_notrain_on_an_empty_pool_says_to_train_first(tmp_path):
    with pytest.raises(common.ExperimentError, match="no model has all its records.*train them"):
        augment_ema.run(str(tmp_path), quick=True, train=False)
    pool = curves.pool_dir(str(tmp_path), quick=True)
    assert not os.path.isdir(pool) or not os.listdir(pool)  # nothing trained


def test_correlation_reads_a_tracking_estimate_and_ignores_step_zero():
    fd = [900.0, 300.0, 120.0, 80.0, 60.0, 50.0, 45.0]
    record = {"curve": [{"step": 0, "fd": fd[0]}] + [
        {"step": 250 * i, "fd": f, "w_estimate": f / 100 + 0.01 * (i % 2), "d_loss": 1.0 + 0.1 * (-1) ** i}
        for i, f in enumerate(fd[1:], 1)]}
    tracked = w_tracks_quality.correlations(record, "w_estimate")
    assert tracked["all"] == pytest.approx(1.0) and tracked["checkpoints"] == 6
    flat = w_tracks_quality.correlations(record, "d_loss")
    assert abs(flat["all"]) < 0.5
    assert tracked["minus_step_all"] == pytest.approx(1.0)  # FD falls steadily: a clock ties
    # Where FD goes back up, an estimate that follows it beats the clock.
    bumpy = [900.0, 300.0, 120.0, 150.0, 60.0, 80.0, 45.0]
    record = {"curve": [{"step": 250 * i, "fd": f, "w_estimate": f / 100}
                        for i, f in enumerate(bumpy)]}
    tracked = w_tracks_quality.correlations(record, "w_estimate")
    assert tracked["all"] == pytest.approx(1.0) and tracked["minus_step_all"] < 0.9
    assert curves.spearman([1, 1, 1], [1, 2, 3]) is None and curves.spearman([1, 2], [2, 1]) is None


def test_critics_compared_across_generators_checkpoint_by_checkpoint_even_after_a_resume():
    def run(seed, points):
        return {"seed": seed, "curve": [{"step": 0, "fd": 750.0}] + [
            {"step": step, "fd": fd, "w_estimate": w} for step, fd, w in points]}
    # The DCGAN-G run was resumed at step 375: its record has a checkpoint the other lacks.
    dc = run(1, [(250, 400.0, 0.20), (375, 380.0, 0.19), (500, 300.0, 0.10), (750, 200.0, 0.05)])
    mlp = run(1, [(250, 500.0, 0.15), (500, 600.0, 0.12), (750, 700.0, 0.11)])
    got = {"wgan": [dc], "wgan_no_bn": [dc], "wgan_mlp_g": [mlp]}
    estimate = batch_norm.critic_estimate(got)
    # 250: lower estimate on the MLP G run, lower FD on the DCGAN G run (disagree); 500, 750 agree.
    assert estimate["across_generators"] == [
        {"seed": 1, "checkpoints": 3, "agree": 2, "disagree_at_steps": [250]}]
    assert estimate["within_run"]["wgan"][0]["checkpoints"] == 4
