"""Pins the mathematics of every variant's training step: a fixed-seed 3-step run (CPU, no XLA)
must log the numbers recorded in step_logs.json, to RTOL, with every loss part of its variant,
after d_steps discriminator updates per generator update.

A change of structure (how the models are written) must leave these numbers alone. A change of a
variant's defaults changes them on purpose: re-record with `python tests/test_step_logs.py` and
say why in the commit.
"""
import json
import os
import sys

import keras
import numpy as np
import pytest

if __name__ == "__main__":  # recording: make the repo importable without pytest's conftest
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.datasets import load, make_train_dataset  # noqa: E402
from training.config import Config, resolve  # noqa: E402
from training.loop import build_gan, split_for_d_steps  # noqa: E402

BASE_KEYS = {"d_loss", "d_adv", "d_real", "d_fake", "d_grad_norm", "g_loss", "g_adv",
             "g_grad_norm"}
EXTRA_KEYS = {
    "gan": set(), "dcgan": set(), "wgan": set(), "wgan_gp": {"gp"},
    "acgan": {"d_aux_real", "d_aux_fake", "g_aux"},
    "infogan": {"d_info_categorical", "d_info_continuous", "g_info_categorical",
                "g_info_continuous", "mi_lower_bound"},
}

# float32 round-off depends on the CPU's kernels (oneDNN and Eigen pick theirs by instruction
# set). The unchanged code logs every variant within 3.2e-6 relative of the record (made on
# another CPU), on an Intel CPU with AVX-512 FP16 and AMX and on an AMD EPYC, except InfoGAN: its
# official nets' batch norm (epsilon 1e-5, over batches of 8 here) amplifies round-off, by the
# third step to 1.4e-3 (Intel) and 6.7e-4 (AMD) relative (InfoGAN on ring8: 5.7e-5). Its
# mi_lower_bound, ln 10 minus the code's cross-entropy (~2.28), is a difference of two ~2.3
# values, so its error is relative to ln 10 (on the AMD: 2.2e-4 of a 0.022 bound, 1e-2 of it).
# A change of the mathematics moves these numbers by far more: InfoGAN's lambda 1.005 instead
# of 1 moves its gradient norms by 2e-2 to 9.5e-2 relative by the third step.
RTOL = 1e-5
RTOL_INFOGAN = 5e-3

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "step_logs.json")
STEPS = 3
# name: Config overrides of a tiny run. Every variant on images, the other generator cost, the
# toy protocols' networks and data (gan_toy.py's on ring8: scaled fresh draws; PacGAN's on
# grid25: a fixed training set), and the MLP networks of variants without a toy protocol.
CASES = {
    "gan": dict(model="gan"),
    "gan_minimax": dict(model="gan", loss="minimax"),
    "dcgan": dict(model="dcgan"),
    "wgan": dict(model="wgan"),
    "wgan_gp": dict(model="wgan_gp"),
    "infogan": dict(model="infogan"),
    "acgan": dict(model="acgan"),
    "wgan_gp_ring8": dict(model="wgan_gp", dataset="ring8"),
    "gan_grid25": dict(model="gan", dataset="grid25"),
    "infogan_ring8": dict(model="infogan", dataset="ring8"),
    "acgan_grid25": dict(model="acgan", dataset="grid25"),
}


class _PerStep(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append({k: float(np.asarray(v).reshape(-1)[0]) for k, v in logs.items()})


def run_case(case, **settings):
    """(the GAN after STEPS steps, [logs of each step]); `settings` as train.py's flags."""
    fields = dict(dataset="mnist_5k", workdir="unused", train_steps=STEPS, batch_size=8, width=8,
                  seed=3, jit_compile=False)
    fields.update(CASES[case], **settings)
    config = resolve(Config(**fields))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    dataset = split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps,
                                                   config.seed, data_scale=config.data_scale,
                                                   train_points=config.train_points),
                                config.batch_size, variant.d_steps)
    recorder = _PerStep()
    gan.fit(dataset, steps_per_epoch=STEPS, epochs=1, verbose=0, shuffle=False,
            callbacks=[recorder])
    return gan, recorder.steps


@pytest.mark.parametrize("case", list(CASES))
def test_step_logs_equal_the_recorded_ones(case):
    with open(RECORD) as f:
        expected = json.load(f)[case]
    gan, got = run_case(case)
    model, dataset = CASES[case]["model"], CASES[case].get("dataset", "mnist_5k")
    assert len(got) == len(expected) == STEPS
    assert set(got[-1]) == BASE_KEYS | EXTRA_KEYS[model]
    assert int(gan.step.numpy()) == int(gan.g_optimizer.iterations.numpy()) == STEPS
    assert int(gan.d_optimizer.iterations.numpy()) == STEPS * gan.variant.d_steps
    if dataset != "mnist_5k":  # toy mixtures train MLP networks on 2-D points
        assert gan.generator.output_shape == (None, 2)
        if model in ("gan", "wgan_gp"):  # the toy protocols' noise of the data's dimension
            assert gan.latent.noise_dim == 2
        assert not any("conv" in layer.name for layer in gan.discriminator.layers)
    for step, (want, have) in enumerate(zip(expected, got), 1):
        assert set(have) == set(want), f"step {step}: logged keys changed"
        for name in want:
            rtol = RTOL_INFOGAN if model == "infogan" else RTOL
            atol = rtol * np.log(10) if name == "mi_lower_bound" else 1e-6
            np.testing.assert_allclose(have[name], want[name], rtol=rtol, atol=atol,
                                       err_msg=f"{case}, step {step}, {name}")


@pytest.mark.parametrize("aux_fake_weight", [0.0, 1.0])
def test_acgan_discriminator_loss_is_its_logged_terms_weighted(aux_fake_weight):
    """D's objective is d_adv + w (d_aux_real + aux_fake_weight d_aux_fake): 0 (the default,
    the Keras example) leaves the class loss on generated images logged but untrained; 1 is the
    paper's L_C. Both terms are computed either way, on the same batch as d_loss."""
    _, logs = run_case("acgan", aux_fake_weight=aux_fake_weight)
    for step in logs:
        expected = step["d_adv"] + step["d_aux_real"] + aux_fake_weight * step["d_aux_fake"]
        assert step["d_loss"] == pytest.approx(expected, rel=1e-5)
        assert step["d_aux_fake"] > 0.1  # logged: a real cross-entropy, not a placeholder
        assert step["g_loss"] == pytest.approx(step["g_adv"] + step["g_aux"], rel=1e-5)


def test_infogan_losses_are_their_logged_terms_with_the_lambdas_asked_for():
    """--info_weight and --info_weight_continuous weigh the mutual-information terms of both
    objectives (the official code's 1 and 1 are the row's)."""
    _, logs = run_case("infogan", info_weight=0.5, info_weight_continuous=0.25)
    for step in logs:
        assert step["d_loss"] == pytest.approx(step["d_adv"] + 0.5 * step["d_info_categorical"]
                                               + 0.25 * step["d_info_continuous"], rel=1e-5)
        assert step["g_loss"] == pytest.approx(step["g_adv"] + 0.5 * step["g_info_categorical"]
                                               + 0.25 * step["g_info_continuous"], rel=1e-5)


def test_label_smoothing_reaches_the_real_term():
    """--real_label=0.9: the same first batch and weights give the same D(x), and a different
    d_adv (the smoothed loss itself is checked against its formula in test_losses.py)."""
    _, smoothed = run_case("dcgan", real_label=0.9)
    _, plain = run_case("dcgan")
    assert smoothed[0]["d_real"] == pytest.approx(plain[0]["d_real"], rel=1e-6)
    assert smoothed[0]["d_adv"] != pytest.approx(plain[0]["d_adv"], rel=1e-3)


if __name__ == "__main__":
    import tensorflow as tf

    tf.config.set_logical_device_configuration(  # as under pytest (conftest.py)
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    record = {case: run_case(case)[1] for case in CASES}
    with open(RECORD, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    print(f"recorded {len(record)} cases in {RECORD}")
