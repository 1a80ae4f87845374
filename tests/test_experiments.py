"""The theory experiments (experiments/) reproduce their papers' claims in --quick mode.

Each test runs the real experiment in-process and checks the numbers it wrote against the
theory, not only that files exist.
"""
import glob
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from experiments import js_vs_em, optimal_discriminator, runs, vanishing_gradients
from training.config import Config, resolve
from training.loop import build_gan
from training.checkpoints import make_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG2 = math.log(2.0)


def decoded(path):
    """The pixels of a PNG file (fails on anything else)."""
    with open(path, "rb") as f:
        return tf.io.decode_png(f.read()).numpy()


def written(record, name):
    """The JSON on disk (checked equal to the returned record) after checking the PNG."""
    png = record["files"]["figure"]
    assert os.path.basename(png) == f"{name}.png"
    with open(png, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 300 and height >= 200
    assert os.path.getsize(png) < 200_000
    with open(record["files"]["json"]) as f:
        on_disk = json.load(f)
    assert on_disk == record
    return on_disk


def test_optimal_discriminator_matches_d_star_and_max_v(tmp_path):
    r = written(optimal_discriminator.run(str(tmp_path), quick=True), "optimal_discriminator")
    exact, est, err = r["exact"], r["estimated"], r["d_error"]
    # The exact JS, cross-checked by an independent Monte Carlo estimate of
    # JS = 1/2 E_p[log 2p/(p+q)] + 1/2 E_q[log 2q/(p+q)].
    rng = np.random.default_rng(0)
    x_p = rng.normal(size=400_000)
    x_q = rng.choice([-2.0, 2.0], size=400_000) + 0.5 * rng.normal(size=400_000)
    p, q = optimal_discriminator.p_data, optimal_discriminator.p_g
    js_mc = 0.5 * (np.mean(np.log(2 * p(x_p) / (p(x_p) + q(x_p))))
                   + np.mean(np.log(2 * q(x_q) / (p(x_q) + q(x_q)))))
    assert exact["js"] == pytest.approx(js_mc, abs=3e-3)
    assert 0.1 < exact["js"] < LOG2 - 0.1  # partial overlap, as the protocol requires
    # (The JSON keeps 6 significant digits.)
    assert exact["max_v"] == pytest.approx(2 * exact["js"] - 2 * LOG2, abs=2e-6)
    assert exact["v_of_d_star"] == pytest.approx(exact["max_v"], abs=2e-6)  # Theorem 1
    # The trained D reaches the optimum and cannot beat it.
    assert est["v_quadrature"] <= exact["max_v"] + 2e-6
    assert est["v_quadrature"] == pytest.approx(exact["max_v"], abs=0.01)
    assert est["v_monte_carlo"] == pytest.approx(exact["max_v"],
                                                 abs=0.01 + 3 * est["v_monte_carlo_stderr"])
    assert est["js_from_v"] == pytest.approx(exact["js"], abs=0.005)
    # ... and its D is D* where the densities have their mass.
    assert err["max_abs_d_minus_d_star_in_bulk"] < 0.06
    assert err["m_weighted_mean_abs_error"] < 0.015
    # V rose from about -2 log 2 (D = 1/2) towards the maximum.
    v = r["v_quadrature_during_training"]["v"]
    assert v[0] < exact["max_v"] - 0.3 and v[-1] > v[0]


def test_js_is_flat_while_earth_mover_grows(tmp_path):
    r = written(js_vs_em.run(str(tmp_path), quick=True), "js_vs_em")
    rows = {row["theta"]: row for row in r["rows"]}
    assert 0.0 in rows and min(rows) <= -1.0 and max(rows) >= 1.0
    away = [row for t, row in rows.items() if abs(t) >= 0.2]
    # JS: log 2 at every theta != 0 (no information on how far apart the lines are), 0 at 0.
    for row in away:
        assert row["js_hat"] == pytest.approx(LOG2, abs=0.01), row
    assert abs(rows[0.0]["js_hat"]) < 0.01
    js_spread = max(row["js_hat"] for row in away) - min(row["js_hat"] for row in away)
    assert js_spread < 0.01
    # W: |theta|, increasing in |theta| on both sides, up to the penalty's own bias.
    for t, row in rows.items():
        assert row["w_hat"] == pytest.approx(abs(t), abs=0.1), row
        assert row["w_hat"] == pytest.approx(abs(t) + t * t / 20, abs=0.03), row
    for side in (sorted(t for t in rows if t >= 0), sorted((t for t in rows if t <= 0),
                                                           reverse=True)):
        w = [rows[t]["w_hat"] for t in side]
        assert all(b > a + 0.05 for a, b in zip(w, w[1:])), (side, w)


def test_minimax_gradient_vanishes_as_d_trains(tmp_path):
    r = written(vanishing_gradients.run(str(tmp_path), quick=True), "vanishing_gradients")
    assert r["source"]["kind"] == "toy" and r["curves"][0]["g_step"] == 0
    curve = r["curves"][0]
    minimax, non_saturating = curve["minimax_norm"], curve["non_saturating_norm"]
    assert curve["d_iteration"][-1] == r["settings"]["d_iterations"]
    # At iteration 0, D ~ 1/2: the two costs have the same gradient norm.
    assert minimax[0] == pytest.approx(non_saturating[0], rel=0.2)
    # Then D rejects G's samples: the minimax gradient falls by orders of magnitude from its
    # peak, steadily, while the non-saturating one grows and stays large.
    peak = int(np.argmax(minimax))
    assert minimax[peak] / minimax[-1] > 100
    after = np.array(minimax[peak:])
    assert np.mean(after[1:] < after[:-1]) >= 0.8
    assert minimax[-1] / non_saturating[-1] < 1e-3
    assert min(non_saturating[1:]) > 10 * non_saturating[0]
    assert curve["mean_d_of_g_z"][-1] < 1e-3


def test_vanishing_gradients_reads_the_generators_of_a_run(tmp_path):
    """--workdir: the run's config rebuilds the GAN; each kept checkpoint gives one G."""
    workdir = tmp_path / "run"
    config = resolve(Config(model="gan", dataset="ring8", workdir=str(workdir),
                            width=16, batch_size=32, jit_compile=False))
    variant = config.variant
    gan = build_gan(config, (2,), 8)
    manager = tf.train.CheckpointManager(make_checkpoint(gan), str(workdir / "checkpoints"), 3)
    for step in (3, 7):
        gan.step.assign(step)
        kernel = gan.generator.trainable_weights[0]
        kernel.assign_add(tf.ones_like(kernel))
        manager.save(checkpoint_number=step)
    config.save(str(workdir / "config.json"))
    r = written(vanishing_gradients.run(str(tmp_path / "out"), quick=True, workdir=str(workdir)),
                "vanishing_gradients")
    assert r["source"]["kind"] == "run" and r["source"]["model"] == "gan"
    assert [c["g_step"] for c in r["curves"]] == [3, 7]
    assert r["discriminator"]["width"] == 16 and r["discriminator"]["batch_size"] == 32
    first, second = (c["minimax_norm"][0] for c in r["curves"])
    assert first != second  # two different generators were restored


def test_cli_error_is_one_line(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "experiments.vanishing_gradients", "--quick",
         f"--workdir={tmp_path / 'missing'}", f"--out_dir={tmp_path / 'out'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
    assert lines == [f"error: --workdir {tmp_path / 'missing'} has no config.json; pass the "
                     "directory of a train.py run"], result.stderr[-2000:]


def test_sigterm_stops_an_experiment_like_train_py_and_its_time_is_kept(tmp_path):
    """A real SIGTERM mid-training: one `stopped:` line, exit 130, the step checkpointed, and the
    seconds already spent counted in the record of the run that resumes it."""
    from experiments import mode_coverage
    out = tmp_path / "out"
    workdir = out / "runs" / "ring8_gan_seed0"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.mode_coverage", "--models=gan", "--datasets=ring8",
         "--seeds=1", "--steps=100000", "--checks=1", f"--out_dir={out}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (not glob.glob(str(workdir / "train" / "events*")) and process.poll() is None
           and time.time() < deadline):
        time.sleep(0.1)
    time.sleep(3)  # well into training
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    stopped = [l for l in stderr.splitlines() if l.startswith("stopped: ")]
    assert len(stopped) == 1 and "run the same command again to resume" in stopped[0], stderr
    step = int(stopped[0].split(" at step ")[1].split(":")[0])
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith(f"ckpt-{step}")
    spent = runs.total_train_seconds(str(workdir))
    assert spent >= 3
    assert not (out / "ring8_gan_seed0.json").exists()  # no record of an unfinished run

    mode_coverage.run(str(out), steps=step + 2, seeds=1, models=("gan",), datasets=("ring8",),
                      checks=1)
    with open(out / "ring8_gan_seed0.json") as f:
        record = json.load(f)
    assert record["steps_done"] == step + 2
    assert record["train_seconds"] == pytest.approx(runs.total_train_seconds(str(workdir)),
                                                    abs=0.01)
    assert record["train_seconds"] > spent


# === The MNIST and toy runs (their full versions train for minutes; --quick checks the plumbing
# and the relations that hold at any training length) ===

def test_mode_coverage_reports_the_standard_error_over_seeds_as_pacgans_table():
    from experiments import mode_coverage
    # Sample std (ddof 1) over sqrt(n): [6, 7, 8] has std 1, so 1 / sqrt(3).
    assert mode_coverage.standard_error([6, 7, 8]) == pytest.approx(3 ** -0.5)
    assert mode_coverage.standard_error([7, 7]) == 0 and mode_coverage.standard_error([7]) is None
    records = [{"seed": s, "final": {"modes": m, "high_quality": q, "reverse_kl": 0.1,
                                     "counts": [1] * 8}} for s, m, q in ((0, 6, 0.9), (1, 8, 1.0))]
    row = mode_coverage._row(records, 400_000, 400_000)
    assert row["modes_mean"] == 7 and row["modes_se"] == pytest.approx(1.0)
    assert row["high_quality_mean"] == pytest.approx(95) and row["high_quality_se"] == (
        pytest.approx(5.0))
    assert not row["all_modes_every_seed"]


def test_mode_coverage_quick_records_each_seed_says_shortened_and_accumulates(tmp_path, capsys):
    from experiments import mode_coverage
    r = written(mode_coverage.run(str(tmp_path), quick=True), "mode_coverage")
    real = r["table"]["ring8"]["real"]
    assert real["modes_mean"] == 8 and real["high_quality_mean"] == pytest.approx(98.9, abs=0.8)
    gan = r["table"]["ring8"]["gan@20"]
    assert 0 <= gan["modes_mean"] <= 8 and gan["seeds"] == 1
    # One record per seed: PacGAN's protocol, the shortening said, the counts during training.
    with open(tmp_path / "ring8_gan_seed0.json") as f:
        seed0 = json.load(f)
    assert (seed0["steps_done"], seed0["protocol_steps"], seed0["shortened"]) == (20, 400_000,
                                                                               True)
    assert seed0["config"]["latent_dim"] == 2 and seed0["config"]["data_scale"] == 2.0
    assert [c[0] for c in seed0["curve"]] == [10, 20]
    assert all(0 <= c[1] <= 8 and 0 <= c[2] <= 1 for c in seed0["curve"])
    assert len(seed0["points"]) == mode_coverage.FIGURE_POINTS
    assert "shortened: 20 of 400,000 protocol steps" in capsys.readouterr().out
    assert "GAN, PacGAN's table (published) | PacGAN: 400,000 | 10 | 6.3 of 8 | 98.2" in (
        r["markdown"])
    assert "**shortened**: 20 of 400,000" in r["markdown"]
    # Run again: the seed is skipped. Asked for more steps: it resumes from its checkpoint.
    mode_coverage.run(str(tmp_path), quick=True)
    assert "seed 0: done (20 steps), skipped" in capsys.readouterr().out
    mode_coverage.QUICK["steps"] = 40
    try:
        r = mode_coverage.run(str(tmp_path), quick=True)
    finally:
        mode_coverage.QUICK["steps"] = 20
    assert "resuming from step 20" in capsys.readouterr().out
    with open(tmp_path / "ring8_gan_seed0.json") as f:
        seed0 = json.load(f)
    assert seed0["steps_done"] == 40 and [c[0] for c in seed0["curve"]] == [10, 20, 40]
    assert set(r["table"]["ring8"]) == {"real", "gan@40"}


def test_mode_coverage_trains_seeds_side_by_side_each_pinned_to_its_own_cpu(tmp_path):
    """--processes=2: the two seeds run at once, each its own process on one CPU (as the
    benchmark that chose it measured), and the parent tables both."""
    from experiments import mode_coverage
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("side by side needs 2 CPUs")
    r = mode_coverage.run(str(tmp_path), steps=20, seeds=2, models=("gan",),
                          datasets=("ring8",), checks=2, processes=2)
    pinned = []
    for s in (0, 1):
        with open(tmp_path / f"ring8_gan_seed{s}.json") as f:
            record = json.load(f)
        assert record["seed"] == s and record["steps_done"] == 20
        pinned.append(record["cpus_this_session"])
    assert sorted(pinned) == [[cpus[0]], [cpus[1]]]
    assert r["table"]["ring8"]["gan@20"]["seeds"] == 2


def test_two_processes_can_prepare_one_out_dir_at_once(tmp_path):
    """Side-by-side seeds open the same --out_dir at the same moment: the writability probe of
    one must not remove the other's (a shared probe name did, and a seed died with 'cannot
    write')."""
    from experiments import common
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # the child: only file operations, and never back into pytest
            code = 1
            try:
                for _ in range(3000):
                    common.prepare_out_dir(str(tmp_path))
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert codes == [0, 0]
    assert os.listdir(tmp_path) == []  # no probe left behind


def test_infogan_quick_logs_the_bound_and_measures_each_seed(tmp_path):
    from experiments import infogan_mnist, runs
    r = written(infogan_mnist.run(str(tmp_path), quick=True), "infogan_mnist")
    run_dir = tmp_path / "runs" / "seed0"
    # The logged bound is ln 10 minus the logged generator code loss, step by step.
    steps, bound = runs.scalar_curve(str(run_dir / "train"), "mi_lower_bound")
    _, ce = runs.scalar_curve(str(run_dir / "train"), "g_info_categorical")
    np.testing.assert_allclose(bound, math.log(10) - ce, atol=1e-5)
    with open(tmp_path / "seed0.json") as f:
        seed0 = json.load(f)
    assert seed0["mi_lower_bound"] <= math.log(10)
    # A first call: the run's total training time is this call's.
    assert seed0["train_seconds"] == pytest.approx(seed0["train_seconds_this_call"], abs=0.01)
    # A one-to-one matching on balanced digits is right at least as often as chance.
    assert 10.0 <= seed0["code_accuracy"] <= 100.0 and sorted(seed0["code_to_digit"]) == list(
        range(10))
    # The curve has a point per checkpoint (every 3 steps of 6), and its last point is the
    # final export's Q: the same network on the same held-out digits.
    assert [s for s, _ in seed0["curve"]] == [3, 6]
    assert seed0["curve"][-1][1] == pytest.approx(seed0["code_accuracy"], abs=0.05)
    for code in ("c1", "c2"):
        assert set(seed0["continuous_code_spearman"][code]) == {"slant", "ink"}
    assert r["per_seed"][0]["seed"] == 0 and r["median_code_accuracy"] == pytest.approx(
        seed0["code_accuracy"])
    # A seed whose JSON exists is kept, not trained again.
    again = infogan_mnist.run(str(tmp_path), quick=True)
    assert again["per_seed"] == r["per_seed"]
    for png in seed0["traversals"].values():
        picture = decoded(png)  # ten rows of ten 28 x 28 tiles, at least
        assert picture.shape[0] >= 10 * 28 and picture.shape[1] >= 10 * 28
    assert not os.path.exists(tmp_path / "infogan_mnist_data_size.json")  # one size: no curve

    # The data-size curve: a run on the first 2 digits of each class, in its own directory,
    # then every record grouped by its number of training digits.
    small = infogan_mnist.run(str(tmp_path), quick=True, train_examples=20)
    with open(tmp_path / "examples20" / "seed0.json") as f:
        assert json.load(f)["train_examples"] == 20
    with open(tmp_path / "infogan_mnist_data_size.json") as f:
        curve = json.load(f)
    assert [p["train_digits"] for p in curve["points"]] == [20, 4000]  # mnist_5k's training split
    assert curve["points"][0]["code_accuracy"] == [small["per_seed"][0]["code_accuracy"]]
    assert curve["points"][1]["code_accuracy"] == [seed0["code_accuracy"]]
    assert decoded(tmp_path / "infogan_mnist_data_size.png").shape[1] >= 300
    # With --augment, the setting's own curve carries the sizes run without it, for comparison.
    infogan_mnist.run(str(tmp_path), quick=True, train_examples=20, augment="translation")
    with open(tmp_path / "augment_translation" / "infogan_mnist_data_size.json") as f:
        curve = json.load(f)
    assert [p["train_digits"] for p in curve["points"]] == [20]
    assert [(p["train_digits"], p["code_accuracy"]) for p in curve["without"]] == [
        (20, [small["per_seed"][0]["code_accuracy"]]), (4000, [seed0["code_accuracy"]])]


def test_slant_and_ink_read_a_leaning_stroke_and_its_mass():
    from experiments.infogan_mnist import slant_and_ink
    image = np.zeros((3, 28, 28), np.float32)
    for row in range(4, 24):  # a stroke whose top leans right by 45 degrees
        image[0, row, 4 + (24 - row)] = 1.0
        image[1, row, 14] = 1.0   # upright
        image[2, row, 4 + (row - 4)] = 1.0  # top leans left
    slant, ink = slant_and_ink(image)
    np.testing.assert_allclose(slant, [45.0, 0.0, -45.0], atol=1e-6)
    np.testing.assert_allclose(ink, 20 / 784)


def test_acgan_quick_scores_each_requested_class_with_the_independent_classifier(tmp_path):
    from experiments import acgan_mnist
    r = written(acgan_mnist.run(str(tmp_path), quick=True), "acgan_mnist")
    assert len(r["per_class"]["model"]) == 10
    assert r["accuracy"] == pytest.approx(100 * np.nanmean(r["per_class"]["model"]), abs=5)
    assert r["classifier_accuracy_on_real"] > 97.0  # the yardstick itself is sound
    picture = decoded(r["class_grid"])  # a row per class of 28 x 28 tiles
    assert picture.shape[0] >= 10 * 28 and picture.std() > 0


def test_infogan_with_augment_and_ema_records_beside_the_defaults(tmp_path):
    from experiments import infogan_mnist
    infogan_mnist.run(str(tmp_path), quick=True, augment="translation,cutout", ema=0.9)
    setting = tmp_path / "augment_translation+cutout_ema_0.9"
    with open(setting / "seed0.json") as f:
        record = json.load(f)
    assert record["augment"] == "translation,cutout" and record["ema"] == 0.9
    with open(setting / "runs" / "seed0" / "config.json") as f:
        config = json.load(f)
    assert config["augment"] == "translation,cutout" and config["ema"] == 0.9
    assert os.path.isdir(setting / "runs" / "seed0" / "saved_model_raw")
    assert not os.path.exists(tmp_path / "seed0.json")  # the defaults' records stay apart


def test_infogan_compares_each_dataset_with_its_own_published_figure():
    from experiments.infogan_mnist import PUBLISHED, published
    assert published("mnist_5k") == published("mnist") == PUBLISHED["mnist"]
    assert published("mnist")[0] == 95.0  # the InfoGAN paper's 5% error
    for data in ("fashion_mnist", "folder:/x"):  # never MNIST's figure
        assert published(data) is None or published(data) != PUBLISHED["mnist"]
