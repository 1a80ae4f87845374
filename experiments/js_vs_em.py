"""Jensen-Shannon vs Earth-Mover distance on the parallel lines, estimated by trained nets.

Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Example 1 and Figure 1: with
Z ~ U[0, 1], P_0 the law of (0, Z) and P_theta the law of (theta, Z),
    JS(P_0, P_theta) = log 2 for theta != 0 and 0 at theta = 0  (a step: no gradient in theta),
    W(P_0, P_theta)  = |theta|                                   (continuous, gradient +-1).

Protocol, for each theta (the same initial weights every time, trained from scratch):
- JS: the repo's MLP discriminator (width 64) trained by Adam(1e-3, cosine decay to 1e-5) on
  the minimax loss (losses.minimax_discriminator_loss) with fresh minibatches of P_0 (real) and
  P_theta (fake); then, by Goodfellow 2014 Theorem 1, JS_hat = (V(D) + 2 log 2) / 2, V
  estimated on fresh samples.
- W: the same architecture as a critic (no sigmoid) trained by the WGAN-GP objective of Gulrajani et
  al. 2017 (losses.wasserstein_critic_loss + 10 * losses.gradient_penalty), Adam(1e-3, same
  decay, beta_1=0, beta_2=0.9); W_hat = E_{P_0}[f] - E_{P_theta}[f] on fresh samples. The
  penalty is two-sided, so its optimum is not exactly |theta|: on this problem the penalized
  objective s |theta| - lambda (s - 1)^2 peaks at slope s = 1 + |theta| / (2 lambda), i.e.
  W_hat -> |theta| + theta^2 / (2 lambda) (1.05 at |theta| = 1); both curves are drawn.

    python -m experiments.js_vs_em [--quick] [--out_dir=results/js_vs_em]
"""
import dataclasses
import math
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app

from experiments import common
from losses import gradient_penalty, minimax_discriminator_loss, wasserstein_critic_loss

NAME = "js_vs_em"
LOG2 = math.log(2.0)
GP_WEIGHT = 10.0  # lambda of Gulrajani et al. 2017


@dataclasses.dataclass(frozen=True)
class Settings:
    thetas: tuple        # horizontal offsets of the second line
    steps: int           # updates of each discriminator / critic, per theta
    batch_size: int      # samples of each distribution per update
    eval_samples: int    # samples of each distribution for the estimates
    width: int = 64
    lr: float = 1e-3


FULL = Settings(thetas=tuple(np.round(np.linspace(-1.0, 1.0, 21), 2)), steps=1000,
                batch_size=256, eval_samples=200_000)
QUICK = Settings(thetas=(-1.0, -0.6, -0.2, 0.0, 0.2, 0.6, 1.0), steps=300, batch_size=256,
                 eval_samples=50_000)


def sample_line(n, x, seed):
    """n points (x, y), y ~ U(0, 1)."""
    y = tf.random.stateless_uniform([n, 1], seed)
    return tf.concat([tf.fill([n, 1], tf.cast(x, tf.float32)), y], axis=1)


def exact_js(theta):
    return 0.0 if theta == 0 else LOG2


def _split(seed):
    fold = tf.random.experimental.stateless_fold_in
    return fold(seed, 0), fold(seed, 1), fold(seed, 2)


def run(out_dir, quick=False, seed=0):
    """Estimates JS and W at every theta, writes the figure and the JSON; returns the record."""
    started = time.perf_counter()
    common.prepare_out_dir(out_dir)
    s = QUICK if quick else FULL

    d_net = common.mlp_discriminator(2, s.width, seed)
    # Cosine decay: the estimates are read off the last weights, so minibatch noise must die out.
    schedule = keras.optimizers.schedules.CosineDecay(s.lr, s.steps, alpha=0.01)
    d_opt = keras.optimizers.Adam(schedule)
    restart_d = common.Restarter(d_net.trainable_variables, d_opt)
    f_net = common.mlp_discriminator(2, s.width, seed + 1)
    f_opt = keras.optimizers.Adam(schedule, beta_1=0.0, beta_2=0.9)
    restart_f = common.Restarter(f_net.trainable_variables, f_opt)
    critic = lambda x: common.logits_of(f_net, x)  # noqa: E731

    def d_loss(step_seed, theta):
        s_real, s_fake, _ = _split(step_seed)
        real, fake = sample_line(s.batch_size, 0.0, s_real), sample_line(s.batch_size, theta,
                                                                          s_fake)
        return tf.reduce_mean(minimax_discriminator_loss(common.logits_of(d_net, real),
                                                         common.logits_of(d_net, fake)))

    def f_loss(step_seed, theta):
        s_real, s_fake, s_eps = _split(step_seed)
        real, fake = sample_line(s.batch_size, 0.0, s_real), sample_line(s.batch_size, theta,
                                                                          s_fake)
        eps = tf.random.stateless_uniform([s.batch_size], s_eps)
        return tf.reduce_mean(wasserstein_critic_loss(critic(real), critic(fake))
                              + GP_WEIGHT * gradient_penalty(critic, real, fake, eps))

    train_d = common.training_loop(d_net.trainable_variables, d_opt, d_loss)
    train_f = common.training_loop(f_net.trainable_variables, f_opt, f_loss)

    @tf.function
    def estimates(theta, eval_seed):
        s_real, s_fake, _ = _split(eval_seed)
        real = sample_line(s.eval_samples, 0.0, s_real)
        fake = sample_line(s.eval_samples, theta, s_fake)
        v = -tf.reduce_mean(minimax_discriminator_loss(common.logits_of(d_net, real),
                                                       common.logits_of(d_net, fake)))
        return v, tf.reduce_mean(critic(real)) - tf.reduce_mean(critic(fake))

    rows = []
    for i, theta in enumerate(s.thetas):
        theta_t = tf.constant(theta, tf.float32)
        restart_d()
        restart_f()
        train_d(tf.constant(s.steps), common.seed_pair(seed, i, 0), theta_t)
        train_f(tf.constant(s.steps), common.seed_pair(seed, i, 1), theta_t)
        v, w = (float(t) for t in estimates(theta_t, common.seed_pair(seed, i, 2)))
        rows.append({"theta": float(theta), "v": v, "js_hat": (v + 2 * LOG2) / 2,
                     "js_exact": exact_js(theta), "w_hat": w, "w_exact": abs(theta),
                     "w_penalized_optimum": abs(theta) + theta ** 2 / (2 * GP_WEIGHT)})

    away = [r for r in rows if abs(r["theta"]) >= 0.2 - 1e-9]
    w_err = [abs(r["w_hat"] - r["w_exact"]) for r in rows]
    record = {
        "experiment": NAME,
        "paper": "Arjovsky, Chintala & Bottou 2017, Example 1 and Figure 1",
        "claim": "JS = log 2 for every theta != 0 (flat: no gradient), W = |theta|",
        "quick": quick, "seed": seed, "settings": dataclasses.asdict(s),
        "gp_weight": GP_WEIGHT, "log_2": LOG2,
        "rows": rows,
        "away_from_zero": {
            "where": "|theta| >= 0.2",
            "max_abs_js_hat_minus_log2": max(abs(r["js_hat"] - LOG2) for r in away),
            "js_hat_range": [min(r["js_hat"] for r in away), max(r["js_hat"] for r in away)],
        },
        "max_abs_w_hat_minus_abs_theta": max(w_err),
        "max_abs_w_hat_minus_penalized_optimum": max(
            abs(r["w_hat"] - r["w_penalized_optimum"]) for r in rows),
    }
    zero = [r for r in rows if r["theta"] == 0][0]
    record["summary"] = {
        "js_hat_at_0": round(zero["js_hat"], 4),
        "js_hat_away_from_0": "{:.4f}..{:.4f}".format(*record["away_from_zero"]["js_hat_range"]),
        "log_2": round(LOG2, 4),
        "max_abs_w_hat_minus_abs_theta": round(max(w_err), 4)}
    return common.write_outputs(out_dir, NAME, _figure(rows), record, started)


def _figure(rows):
    theta = np.array([r["theta"] for r in rows])
    fine = np.linspace(theta.min(), theta.max(), 401)
    figure, (left, right) = common.new_figure(2)
    for side in (fine[fine < 0], fine[fine > 0]):
        left.plot(side, np.full_like(side, LOG2), color="k", lw=1.5)
    left.plot([0], [0], "ko", ms=5, label="JS exact (log 2 if theta != 0)")
    left.plot([0], [LOG2], "o", mfc="w", mec="k", ms=5)
    left.plot(theta, [r["js_hat"] for r in rows], "s", color="tab:red", ms=4,
              label="(V(D) + 2 log 2) / 2, trained D")
    left.set(xlabel="theta", ylim=(-0.05, 0.85), title="Jensen-Shannon")
    left.legend(fontsize=7, loc="lower left")
    right.plot(fine, np.abs(fine), color="k", lw=1.5, label="W exact = |theta|")
    right.plot(fine, np.abs(fine) + fine ** 2 / (2 * GP_WEIGHT), color="0.5", ls=":",
               label="|theta| + theta^2 / 20: optimum with the GP")
    right.plot(theta, [r["w_hat"] for r in rows], "s", color="tab:blue", ms=4,
               label="E_P0[f] - E_Ptheta[f], WGAN-GP critic")
    right.set(xlabel="theta", title="Earth-Mover (Wasserstein-1)")
    right.legend(fontsize=7, loc="upper center")
    return figure


if __name__ == "__main__":
    common.define_flags(NAME)
    app.run(common.cli_main(NAME, run))
