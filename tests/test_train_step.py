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


def _one_batch(config, variant, data):
    return next(iter(split_for_d_steps(make_train_dataset(data, config.batch_size * variant.d_steps,
                                                          0), config.batch_size, variant.d_steps)))


def test_each_network_changes_only_in_its_own_update(make_config):
    """D's update moves D only and G's moves G only: with G's learning rate at 0 a step leaves
    G's weights as they were and moves D exactly as a full step does (D's update comes first and
    never reads G's); with D's at 0, D stays and G moves, and it moves otherwise than in a full
    step, because G's update reads the D that D's update just made (Algorithm 1's order). (G's
    batch-norm moving statistics are not weights: they move whenever G runs in training mode.)"""
    config, variant = resolve(make_config(model="dcgan"))
    data = load(config.dataset)
    batch = _one_batch(config, variant, data)
    template = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    after = {}
    for frozen in (None, "g", "d"):
        gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
        gan.generator.set_weights(template.generator.get_weights())
        gan.discriminator.set_weights(template.discriminator.get_weights())
        if frozen:
            getattr(gan, frozen + "_optimizer").learning_rate.assign(0.0)
        gan.train_step(batch)
        after[frozen] = ([w.numpy() for w in gan.generator.trainable_weights],
                         [w.numpy() for w in gan.discriminator.trainable_weights])
    g0 = [w.numpy() for w in template.generator.trainable_weights]
    d0 = [w.numpy() for w in template.discriminator.trainable_weights]

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    assert not same(after[None][0], g0) and not same(after[None][1], d0)
    assert same(after["g"][0], g0) and same(after["g"][1], after[None][1])
    assert same(after["d"][1], d0) and not same(after["d"][0], g0)
    assert not same(after["d"][0], after[None][0])


def _softplus(x):
    return np.logaddexp(0.0, x)


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_each_update_draws_its_noise_from_the_run_seed_the_step_and_its_place(make_config, loss):
    """Update i of step s draws z from the stateless seed fold_in([run seed, s], i) (D's updates
    i < d_steps, then G's at i = d_steps), for the global batch; D's loss is computed with the G
    and D from before the step and G's with the updated D. The logged d_adv and g_adv equal the
    papers' formulas evaluated on that noise, here with numpy, to float32 rounding:
    d_adv = -log D(x) - log(1 - D(G(z_0))), and g_adv = log(1 - D(G(z_1))) (minimax) or
    -log D(G(z_1)) (non-saturating)."""
    config, variant = resolve(make_config(model="dcgan", seed=3, loss=loss))
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    images, labels = _one_batch(config, variant, data)
    gan.step.assign(5)

    def z(i):
        seed = tf.random.experimental.stateless_fold_in(tf.constant([3, 5], tf.int64), i,
                                                        alg="philox")
        return gan.latent.sample(config.batch_size, seed)

    def logits(x):
        return gan.discriminator(x, training=True)["logits"].numpy().ravel().astype(np.float64)

    def fake(i):
        return gan.generator(gan.latent.generator_input(z(i)), training=True)

    g_before = gan.generator.get_weights()
    real_logits, fake_logits = logits(images[:, 0]), logits(fake(0))
    d_adv = np.mean(_softplus(-real_logits) + _softplus(fake_logits))
    logs = {k: float(v) for k, v in gan.train_step((images, labels)).items()}
    assert int(gan.step.numpy()) == 6
    gan.generator.set_weights(g_before)  # G's cost is taken before G's update, after D's
    f = logits(fake(1))
    g_adv = np.mean(-_softplus(f)) if loss == "minimax" else np.mean(_softplus(-f))
    assert logs["d_adv"] == pytest.approx(d_adv, rel=1e-5)
    assert logs["g_adv"] == pytest.approx(g_adv, rel=1e-5)
    assert (logs["g_adv"] < 0) == (loss == "minimax")
    # Another step, another run seed or another place draws other numbers.
    other_step = tf.random.experimental.stateless_fold_in(tf.constant([3, 6], tf.int64), 0,
                                                          alg="philox")
    assert not np.allclose(z(0)["z"], z(1)["z"])
    assert not np.allclose(z(0)["z"], gan.latent.sample(config.batch_size, other_step)["z"])


def test_d_steps_updates_draw_places_0_to_k_minus_1_and_g_draws_place_k(make_config,
                                                                         monkeypatch):
    """With d_steps = 3, the step draws the noise of places 0, 1, 2 (D) and 3 (G) and no other."""
    config, variant = resolve(make_config(model="wgan", d_steps=3, seed=4))
    data = load(config.dataset)
    gan = build_gan(config, variant, data.spec.shape, data.spec.num_classes)
    gan.step.assign(2)
    drawn, sample = [], type(gan.latent).sample

    def recording_sample(latent, size, seed):
        drawn.append((size, tuple(np.asarray(seed).tolist())))
        return sample(latent, size, seed)

    monkeypatch.setattr(type(gan.latent), "sample", recording_sample)
    gan.train_step(_one_batch(config, variant, data))
    places = [tuple(tf.random.experimental.stateless_fold_in(
        tf.constant([4, 2], tf.int64), i, alg="philox").numpy().tolist()) for i in range(4)]
    assert drawn == [(config.batch_size, p) for p in places]


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
