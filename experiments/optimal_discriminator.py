"""The optimal discriminator and the value it reaches, on two known 1-D densities.

Goodfellow et al. 2014, "Generative Adversarial Nets", Proposition 1 and Theorem 1: for a
fixed G the discriminator maximizing
    V(G, D) = E_{x~p_data}[log D(x)] + E_{x~p_G}[log(1 - D(x))]
is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and
    max_D V(G, D) = -2 log 2 + KL(p_data || m) + KL(p_G || m) = -2 log 2 + 2 JS(p_data, p_G),
m = (p_data + p_G) / 2.

Protocol:
- p_data = N(0, 1); p_G = 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2): they overlap partly, so
  0 < JS < log 2, and D* is not monotone (high at 0, low at +-2, high again in the far tails).
- JS, max V and V(D*) are integrated numerically (trapezoid rule, step 1e-4 on [-12, 12]).
- D is the repo's MLP discriminator (models/networks.py, width 64) trained by Adam (lr 1e-3,
  cosine decay) on the repo's loss (losses.minimax_discriminator_loss), a fresh minibatch of
  each density at every step.
- Reported: V of the learned D by the same quadrature and by Monte Carlo on fresh samples
  (the repo's loss again, with its standard error), max |D - D*| over the central 98% of m (the
  bulk, where both densities put their mass) and the m-weighted mean |D - D*|.

    python -m experiments.optimal_discriminator [--quick] [--out_dir=results/optimal_discriminator]
"""
import dataclasses
import math
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app

from experiments import common
from losses import minimax_discriminator_loss

NAME = "optimal_discriminator"
LOG2 = math.log(2.0)
G_MEANS, G_STD = (-2.0, 2.0), 0.5


@dataclasses.dataclass(frozen=True)
class Settings:
    steps: int           # discriminator updates
    batch_size: int      # samples of each density per update
    eval_samples: int    # samples of each density for the Monte Carlo V
    checkpoints: int     # times V is measured during training
    width: int = 64
    lr: float = 1e-3


FULL = Settings(steps=8000, batch_size=1024, eval_samples=1_000_000, checkpoints=40)
QUICK = Settings(steps=1500, batch_size=512, eval_samples=200_000, checkpoints=10)


# === The two densities ===

def _normal_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


def p_data(x):
    return _normal_pdf(x, 0.0, 1.0)


def p_g(x):
    return sum(_normal_pdf(x, mean, G_STD) for mean in G_MEANS) / len(G_MEANS)


def sample_data(n, seed):
    return tf.random.stateless_normal([n, 1], seed)


def sample_g(n, seed):
    pick = tf.random.stateless_uniform([n, 1], tf.random.experimental.stateless_fold_in(seed, 1))
    means = tf.where(pick < 0.5, G_MEANS[0], G_MEANS[1])
    return means + G_STD * tf.random.stateless_normal([n, 1], seed)


# === Exact values ===

def integrate(values, x):
    return float(np.trapezoid(values, x))


def _a_log_a_over_b(a, b):
    """a log(a / b), with 0 log 0 = 0 (the far tails underflow to 0 in float64)."""
    safe = np.where(a > 0, a, 1.0)
    return np.where(a > 0, a * np.log(safe / np.where(a > 0, b, 1.0)), 0.0)


def exact_values(x):
    """JS(p_data, p_G), max_D V = 2 JS - 2 log 2, and V(D*) integrated directly."""
    p, q = p_data(x), p_g(x)
    m = 0.5 * (p + q)
    js = 0.5 * (integrate(_a_log_a_over_b(p, m), x) + integrate(_a_log_a_over_b(q, m), x))
    v_d_star = integrate(_a_log_a_over_b(p, p + q) + _a_log_a_over_b(q, p + q), x)
    return {"js": js, "max_v": 2.0 * js - 2.0 * LOG2, "v_of_d_star": v_d_star}


def value_by_quadrature(logits, x):
    """V(D) = integral of p log D + p_G log(1 - D), with log D = -softplus(-l)."""
    return integrate(-p_data(x) * np.logaddexp(0.0, -logits) - p_g(x) * np.logaddexp(0.0, logits),
                     x)


def bulk_interval(x, mass=0.98):
    """The central `mass` of m = (p_data + p_G) / 2, from its numerical CDF."""
    m = 0.5 * (p_data(x) + p_g(x))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (m[1:] + m[:-1]) * np.diff(x))])
    tail = (1.0 - mass) / 2.0
    return float(np.interp(tail, cdf, x)), float(np.interp(1.0 - tail, cdf, x))


# === The experiment ===

def run(out_dir, quick=False, seed=0):
    """Trains D towards D*, writes the figure and the JSON; returns the JSON record."""
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    s = QUICK if quick else FULL
    fine = np.linspace(-12.0, 12.0, 240_001)
    exact = exact_values(fine)
    quad = np.linspace(-8.0, 8.0, 16_001)  # D's quadrature: both densities < 1e-14 outside
    lo, hi = bulk_interval(fine)
    grid = np.linspace(-5.0, 5.0, 1001)
    bulk = (grid >= lo) & (grid <= hi)
    d_star = p_data(grid) / (p_data(grid) + p_g(grid))

    net = common.mlp_discriminator(1, s.width, seed)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        s.lr, s.steps, alpha=0.01))
    optimizer.build(net.trainable_variables)

    def loss_fn(step_seed):
        real = sample_data(s.batch_size, step_seed)
        fake = sample_g(s.batch_size, tf.random.experimental.stateless_fold_in(step_seed, 2))
        return tf.reduce_mean(minimax_discriminator_loss(common.logits_of(net, real),
                                                         common.logits_of(net, fake)))

    train = common.training_loop(net.trainable_variables, optimizer, loss_fn)
    logits = tf.function(lambda x: common.logits_of(net, x))
    column = lambda a: a[:, None].astype(np.float32)  # noqa: E731
    curve, done = [(0, value_by_quadrature(common.evaluate(logits, column(quad)), quad))], 0
    for k in range(1, s.checkpoints + 1):
        steps = s.steps * k // s.checkpoints - done
        train(tf.constant(steps), common.seed_pair(seed, k))
        done += steps
        curve.append((done, value_by_quadrature(common.evaluate(logits, column(quad)), quad)))

    d_learned = 1.0 / (1.0 + np.exp(-common.evaluate(logits, column(grid))))
    error = np.abs(d_learned - d_star)
    m_grid = 0.5 * (p_data(grid) + p_g(grid))
    eval_seed = common.seed_pair(seed, 10**6)
    per_example = common.evaluate(
        lambda pair: minimax_discriminator_loss(logits(pair[:, :1]), logits(pair[:, 1:])),
        np.concatenate([sample_data(s.eval_samples, eval_seed).numpy(),
                        sample_g(s.eval_samples, eval_seed + 7).numpy()], axis=1))
    v_mc = -float(per_example.mean())
    v_quad = curve[-1][1]

    record = {
        "experiment": NAME,
        "paper": "Goodfellow et al. 2014, Proposition 1 and Theorem 1",
        "claim": "D -> D* = p_data / (p_data + p_G) and max_D V = -2 log 2 + 2 JS(p_data, p_G)",
        "quick": quick, "seed": seed, "settings": dataclasses.asdict(s),
        "p_data": "N(0, 1)", "p_g": "0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)",
        "exact": dict(exact, two_log_two=2 * LOG2),
        "estimated": {
            "v_monte_carlo": v_mc,
            "v_monte_carlo_stderr": float(per_example.std() / math.sqrt(s.eval_samples)),
            "v_quadrature": v_quad,
            "js_from_v": (v_quad + 2 * LOG2) / 2,
            "gap_max_v_minus_v_quadrature": exact["max_v"] - v_quad,
        },
        "d_error": {
            "bulk": "central 98% of m = (p_data + p_G) / 2",
            "bulk_interval": [lo, hi],
            "max_abs_d_minus_d_star_in_bulk": float(error[bulk].max()),
            "argmax_in_bulk": float(grid[bulk][np.argmax(error[bulk])]),
            "m_weighted_mean_abs_error": float((error * m_grid).sum() / m_grid.sum()),
        },
        "v_quadrature_during_training": {"steps": [c[0] for c in curve],
                                         "v": [c[1] for c in curve]},
    }
    record["summary"] = {
        "js": round(exact["js"], 4), "max_v": round(exact["max_v"], 4),
        "v_monte_carlo": round(v_mc, 4), "v_quadrature": round(v_quad, 4),
        "max_abs_d_error_bulk": round(float(error[bulk].max()), 4)}
    return common.write_outputs(out_dir, NAME, _figure(grid, d_star, d_learned, (lo, hi), curve,
                                                       exact), record, started)


def _figure(grid, d_star, d_learned, bulk, curve, exact):
    figure, (left, right) = common.new_figure(2)
    left.axvspan(*bulk, color="0.93", label="bulk (98% of m)")
    left.plot(grid, p_data(grid), color="tab:blue", lw=1, alpha=0.6, label="p_data")
    left.plot(grid, p_g(grid), color="tab:orange", lw=1, alpha=0.6, label="p_G")
    left.plot(grid, d_star, color="k", lw=2, label="D* exact")
    left.plot(grid, d_learned, color="tab:red", lw=1.2, ls="--", label="D learned")
    left.set(xlabel="x", ylim=(0, 1.3), title="D(x) vs p_data / (p_data + p_G)")
    left.legend(fontsize=7, loc="upper center", ncol=3)
    steps, values = zip(*curve)
    right.plot(steps, values, "o-", ms=3, color="tab:red", label="V(G, D) of learned D")
    right.axhline(exact["max_v"], color="k", lw=1.5,
                  label=f"-2 log 2 + 2 JS = {exact['max_v']:.4f}")
    right.axhline(-2 * LOG2, color="0.6", ls=":", label="-2 log 2 (JS = 0)")
    right.set(xlabel="discriminator updates", ylabel="V", title="V(G, D) -> max_D V")
    right.set_ylim(min(min(values), -2 * LOG2) - 0.05, exact["max_v"] + 0.1)
    right.legend(fontsize=7, loc="center right")
    return figure


if __name__ == "__main__":
    common.define_flags(NAME)
    app.run(common.cli_main(NAME, run))
