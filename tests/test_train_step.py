"""Training-step behaviours on tiny data: d_steps, WGAN clipping, the two generator costs, noise.
(Every variant's logged numbers are pinned in test_step_logs.py.)"""
import glob

import numpy as np
import pytest
import tensorflow as tf

from data.datasets import load, make_train_dataset
from models.variants import VARIANTS
from training.config import resolve
from training.loop import build_gan, split_for_d_steps, train

from test_step_logs import BASE_KEYS


def fit_steps(config, steps):
    config, variant = resolve(config)
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    dataset = split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps,
                                                   config.seed), config.batch_size,
                                variant.d_steps)
    history = gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return gan, {k: v[-1] for k, v in history.history.items()}


def test_d_steps_flag_sets_discriminator_updates_per_generator_update(make_config):
    gan, _ = fit_steps(make_config(model="gan", d_steps=3), steps=2)
    assert int(gan.d_optimizer.iterations.numpy()) == 6
    assert int(gan.g_optimizer.iterations.numpy()) == 2


@pytest.mark.parametrize("model", ["wgan", "wgan_gp"])
def test_critic_updates_in_a_loop_equal_them_unrolled(make_config, model):
    """Without XLA, critic updates 2..d_steps run in a traced loop (one trace, not d_steps - 1);
    the numbers are those of the updates written out one by one, to float32 rounding (the two
    graphs' arithmetic is arranged differently: wgan_gp's logs differ in the 7th digit)."""
    config, variant = resolve(make_config(model=model, d_steps=3))
    data = load(config.dataset)
    x, y = next(iter(split_for_d_steps(make_train_dataset(data, 8 * 3, 0), 8, 3)))
    weights, logs = [], []
    for unroll in (False, True):
        gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
        gan.unroll_d_steps = unroll
        step = tf.function(gan.train_step)
        for _ in range(2):
            out = step((x, y))
        logs.append({k: float(v) for k, v in out.items()})
        weights.append([w.numpy() for w in gan.discriminator.weights + gan.generator.weights])
        assert int(gan.d_optimizer.iterations.numpy()) == 6
        ops = {op.type for op in step.get_concrete_function((x, y)).graph.get_operations()}
        assert ("While" in ops or "StatelessWhile" in ops) != unroll
    # Under XLA the updates stay unrolled (its step is faster so).
    xla = build_gan(config, variant, data.spec.shape, data.spec.num_classes, jit_compile=True)
    assert xla.jit_compile and not xla.loops_d_steps()
    assert logs[0].keys() == logs[1].keys()
    for name in logs[0]:
        assert logs[0][name] == pytest.approx(logs[1][name], rel=1e-5, abs=1e-6), name
    for looped, unrolled in zip(*weights):
        np.testing.assert_allclose(looped, unrolled, rtol=1e-5, atol=1e-6)


def test_both_networks_change_and_generator_only_in_its_step(make_config):
    config, variant = resolve(make_config(model="dcgan"))
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    before_g = [w.numpy().copy() for w in gan.generator.trainable_weights]
    before_d = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    x, y = next(iter(split_for_d_steps(make_train_dataset(data, 8, 0), 8, 1)))
    gan.train_step((x, y))
    assert any(not np.allclose(a, b.numpy())
               for a, b in zip(before_g, gan.generator.trainable_weights))
    assert any(not np.allclose(a, b.numpy())
               for a, b in zip(before_d, gan.discriminator.trainable_weights))


def test_wgan_critic_weights_stay_within_clip_bound(make_config):
    gan, _ = fit_steps(make_config(model="wgan", d_lr=0.1), steps=2)  # large lr: clipping must act
    c = VARIANTS["wgan"].clip_value
    values = np.concatenate([w.numpy().ravel() for w in gan.discriminator.trainable_weights])
    assert np.max(np.abs(values)) <= c + 1e-7
    assert np.max(np.abs(values)) == pytest.approx(c)  # the bound is reached, so it clipped


def test_wgan_gp_critic_has_no_batch_norm(make_config):
    config, variant = resolve(make_config(model="wgan_gp"))
    gan = build_gan(config, variant, (28, 28, 1), 10)
    kinds = {type(layer).__name__ for layer in gan.discriminator.layers}
    assert "BatchNormalization" not in kinds and "LayerNormalization" in kinds


def test_loss_flag_selects_minimax_or_non_saturating_generator_cost(make_config):
    # log(1 - D(G(z))) < 0 < -log D(G(z)) for any D(G(z)) in (0, 1).
    _, minimax = fit_steps(make_config(model="gan", loss="minimax"), steps=1)
    _, non_saturating = fit_steps(make_config(model="gan", loss="non_saturating"), steps=1)
    assert minimax["g_adv"] < 0 < non_saturating["g_adv"]
    assert minimax["g_adv"] == pytest.approx(np.log(1 - minimax["d_fake"]), abs=0.3)


def test_noise_differs_per_step_and_is_reproducible(make_config):
    config, variant = resolve(make_config(model="dcgan"))
    gan = build_gan(config, variant, (28, 28, 1), 10)
    a = gan.latent.sample(4, [0, 1])["z"]
    b = gan.latent.sample(4, [0, 2])["z"]
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, gan.latent.sample(4, [0, 1])["z"])


def test_train_logs_are_per_step_values(make_config, tmp_path):
    logs = train(make_config(model="gan", train_steps=3, steps_per_epoch=3), verbose=0)
    assert set(logs) == BASE_KEYS and all(np.isfinite(v) for v in logs.values())
    steps = set()
    for path in glob.glob(str(tmp_path / "gan" / "train" / "events*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "d_loss":
                    steps.add(event.step)
    assert steps == {1, 2, 3}
