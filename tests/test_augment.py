"""--augment (DiffAugment, models/augment.py) and --ema (models/ema.py): each transform against
its definition on known images, the gradient through them, the draws of the global batch, the
moving average against its formula; where they reach the step, the export and TensorBoard.
(Mirrored parity with both on: test_distribute.py; resume after SIGKILL: test_robustness.py.)"""
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from data.datasets import load, make_train_dataset
from models import augment, ema
from training.config import Config, ConfigError, resolve, validate
from training.loop import build_gan, split_for_d_steps, train

SEED = tf.constant([5, 9], tf.int64)


def _shift(image, dy, dx):
    """numpy: out[i, j] = image[i + dy, j + dx], 0 where that is outside."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[i, j] = image[i + dy, j + dx]
    return out


def test_translation_moves_each_image_by_its_own_shift_of_up_to_an_eighth_filling_zeros():
    n = 60
    x = np.random.default_rng(0).uniform(0.1, 1.0, (n, 32, 32, 1)).astype(np.float32)
    out = augment.translation(tf.constant(x), SEED, n, n).numpy()
    shifts = []
    for image, moved in zip(x, out):
        found = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                 if np.array_equal(moved, _shift(image, dy, dx))]
        assert len(found) == 1, found  # exactly one shift of at most 32 / 8 = 4 pixels
        shifts.append(found[0])
    dys, dxs = zip(*shifts)
    assert set(dys) == set(range(-4, 5)) and set(dxs) == set(range(-4, 5))  # [-4, 4], both ends
    assert len(set(shifts)) > 30  # drawn per image, each axis on its own


def test_cutout_zeroes_one_square_of_half_the_side_cut_at_the_borders():
    n = 400
    out = augment.cutout(tf.ones([n, 32, 32, 3]), SEED, n, n).numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    full = 0
    for image in out:
        zero = image[..., 0] == 0
        assert (zero == (image == 0).all(-1)).all()  # the same patch on every channel
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        # one axis-aligned rectangle: the product of its rows and columns, contiguous
        assert (zero == np.outer(zero.any(1), zero.any(0))).all()
        assert np.ptp(rows) + 1 == len(rows) and np.ptp(cols) + 1 == len(cols)
        assert 8 <= len(rows) <= 16 and 8 <= len(cols) <= 16  # side 16, cut at most to half
        if len(rows) < 16:
            assert rows[0] == 0 or rows[-1] == 31  # shortened only by a border
        full += len(rows) == len(cols) == 16
    # Centres uniform on {0..32}: whole when in {8..24} on both axes, (17/33)^2 = 26.5%.
    assert 0.20 < full / n < 0.33


def test_color_shifts_brightness_scales_saturation_and_contrast_per_image():
    n = 50
    x = np.random.default_rng(1).uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)
    out = augment.color(tf.constant(x), SEED, n, n).numpy()
    chroma_in = x - x.mean(3, keepdims=True)
    chroma_out = out - out.mean(3, keepdims=True)
    for i in range(n):
        # brightness adds b to every value; saturation scales the chroma by s; contrast then
        # scales every deviation from the image's mean by k and keeps that mean:
        # mean(out) = mean(x) + b, chroma(out) = k s chroma(x).
        b = out[i].mean() - x[i].mean()
        assert -0.5 <= b < 0.5
        ks = (chroma_out[i] * chroma_in[i]).sum() / (chroma_in[i] ** 2).sum()
        np.testing.assert_allclose(chroma_out[i], ks * chroma_in[i], atol=1e-5)
        assert 0 <= ks < 3.0
        grey_in, grey_out = x[i].mean(2), out[i].mean(2)  # contrast on the grey levels
        k = ((grey_out - grey_out.mean()) * (grey_in - grey_in.mean())).sum() / (
            (grey_in - grey_in.mean()) ** 2).sum()
        np.testing.assert_allclose(grey_out - grey_out.mean(), k * (grey_in - grey_in.mean()),
                                   atol=1e-5)
        assert 0.5 <= k < 1.5 and 0 <= ks / k < 2.0


def test_ops_run_in_the_policy_order_and_bad_policies_are_refused_in_one_line():
    assert augment.policy_ops("color, translation,cutout") == ("color", "translation",
                                                               "cutout")
    assert augment.policy_ops("") == ()
    assert augment.check_policy("translation,cutout") is None
    with pytest.raises(ConfigError, match=r"--augment takes a comma-separated list of color, "
                                          r"translation, cutout, got 'flip' \('flip' is none"):
        validate(Config(model="dcgan", dataset="mnist_5k", augment="flip"))
    with pytest.raises(ConfigError, match="--augment applies to image datasets, not ring8; "
                                          "drop --augment"):
        validate(Config(model="gan", dataset="ring8", augment="translation"))
    with pytest.raises(ConfigError, match=r"--ema must be in \[0, 1\), got 1.0"):
        validate(Config(model="dcgan", dataset="mnist_5k", ema=1.0))
    validate(Config(model="gan", dataset="ring8", ema=0.99))  # --ema takes every dataset


def test_the_gradient_passes_through_every_op_and_translation_and_cutout_are_linear():
    x = tf.random.stateless_uniform([4, 16, 16, 3], [1, 2], -1, 1)
    weights = tf.random.stateless_normal([4, 16, 16, 3], [3, 4])
    for op in augment.OPS:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(augment.diff_augment(x, (op,), SEED, 4, 4) * weights)
        grad = tape.gradient(y, x).numpy()
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0, op
    ops = ("translation", "cutout")
    x2 = tf.random.stateless_uniform([4, 16, 16, 3], [5, 6], -1, 1)
    np.testing.assert_allclose(augment.diff_augment(2 * x + x2, ops, SEED, 4, 4),
                               2 * augment.diff_augment(x, ops, SEED, 4, 4)
                               + augment.diff_augment(x2, ops, SEED, 4, 4), atol=1e-6)


def test_a_replica_takes_its_rows_of_the_global_batchs_draw(make_config):
    x = tf.random.stateless_uniform([8, 16, 16, 1], [1, 2], -1, 1)
    whole = augment.diff_augment(x, augment.OPS, SEED, 8, 8).numpy()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    parts = strategy.experimental_local_results(strategy.run(
        lambda: augment.diff_augment(
            x[4 * tf.distribute.get_replica_context().replica_id_in_sync_group:][:4],
            augment.OPS, SEED, 4, 8)))
    np.testing.assert_allclose(np.concatenate([p.numpy() for p in parts]), whole, atol=1e-6)


def _one_batch(config, variant, data):
    return next(iter(split_for_d_steps(make_train_dataset(
        data, config.batch_size * variant.d_steps, 0), config.batch_size, variant.d_steps)))


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp", "infogan", "acgan"])
def test_every_variant_trains_on_what_the_augmentation_shows(make_config, model):
    """With --augment, D's terms are those of the augmented images, and G's gradient goes
    through the augmentation: the same weights and batch log other losses than without it,
    and G still moves."""
    logs, moved, first = {}, {}, None
    for policy in ("", "color,translation,cutout"):
        config = resolve(make_config(model=model, augment=policy, d_steps=1))
        variant = config.variant
        data = load(config.dataset)
        gan = build_gan(config, data.spec.shape, data.spec.num_classes)
        first = first or gan
        gan.generator.set_weights(first.generator.get_weights())
        gan.discriminator.set_weights(first.discriminator.get_weights())
        before = [w.numpy().copy() for w in gan.generator.trainable_weights]
        logs[policy] = {k: float(v) for k, v in gan.train_step(_one_batch(config, variant,
                                                                            data)).items()}
        moved[policy] = any(not np.array_equal(a, b.numpy())
                            for a, b in zip(before, gan.generator.trainable_weights))
    assert moved[""] and moved["color,translation,cutout"]
    assert logs["color,translation,cutout"]["g_grad_norm"] > 0
    assert logs[""]["d_real"] != logs["color,translation,cutout"]["d_real"]
    assert logs[""]["g_loss"] != logs["color,translation,cutout"]["g_loss"]


def test_ema_beta_follows_the_half_life_with_its_ramp_up():
    average = ema.GeneratorAverage.__new__(ema.GeneratorAverage)
    average.half_life = ema.half_life(0.999)
    assert average.half_life == pytest.approx(692.8, abs=0.1)
    assert float(average.beta(0)) == 0.0  # the first update is copied
    for t in (1, 100, 13_000, 20_000):
        span = min(average.half_life, 0.05 * t)
        assert float(average.beta(t)) == pytest.approx(0.5 ** (1 / span), rel=1e-6)
    assert float(average.beta(20_000)) == pytest.approx(0.999, rel=1e-6)


def test_ema_is_the_recursion_over_the_generators_weights_and_keeps_constant_weights(
        make_config):
    config = resolve(make_config(model="dcgan", ema=0.9))
    variant = config.variant
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    np.testing.assert_array_equal(gan.average.generator.get_weights()[0],
                                  gan.generator.get_weights()[0])  # starts as a copy
    batch = _one_batch(config, variant, data)
    expected = [w.copy() for w in gan.generator.get_weights()]
    for t in range(4):
        gan.train_step(batch)
        beta = 0.0 if t == 0 else 0.5 ** (1 / min(ema.half_life(0.9), 0.05 * t))
        expected = [beta * a + (1 - beta) * w
                    for a, w in zip(expected, gan.generator.get_weights())]
    names = [w.path for w in gan.generator.weights]
    assert any("moving_mean" in n for n in names)  # batch norm's statistics are averaged too
    for name, want, got in zip(names, expected, gan.average.generator.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=name)
    assert not np.allclose(gan.average.generator.get_weights()[0], gan.generator.get_weights()[0])
    # G's learning rate 0 and no batch norm statistics moving: the average of constant weights
    # is those weights.
    config = resolve(make_config(model="dcgan", ema=0.9, g_norm="none"))
    variant = config.variant
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    gan.g_optimizer.learning_rate.assign(0.0)
    for _ in range(3):
        gan.train_step(batch)
    for want, got in zip(gan.generator.get_weights(), gan.average.generator.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_ema_run_exports_the_average_with_the_raw_generator_beside_it(make_config):
    config = make_config(model="acgan", ema=0.5, train_steps=3, steps_per_epoch=3,
                         augment="translation", g_lr=0.02)  # G moves: the two differ
    train(config, verbose=0)
    # The checkpoint holds the average beside G: a model rebuilt and restored from it holds
    # both, and they differ.
    from training.checkpoints import make_checkpoint
    resolved = resolve(Config.load(os.path.join(config.workdir, "config.json")))
    variant = resolved.variant
    gan = build_gan(resolved, (28, 28, 1), 10)
    make_checkpoint(gan).restore(tf.train.latest_checkpoint(
        os.path.join(config.workdir, "checkpoints"))).assert_existing_objects_matched()
    assert not all(np.array_equal(a, b) for a, b in zip(gan.average.generator.get_weights(),
                                                        gan.generator.get_weights()))
    z = np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32)
    labels = np.array([0, 4, 9], np.int32)
    outputs = [g(gan.latent.generator_input({"z": z, "labels": labels}), training=False).numpy()
               for g in (gan.average.generator, gan.generator)]
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-5  # 100 times the tolerance below
    for name, generator in (("saved_model", gan.average.generator),
                            ("saved_model_raw", gan.generator)):
        loaded = tf.saved_model.load(os.path.join(config.workdir, name))
        exported = loaded.signatures["serving_default"](
            z=tf.constant(z), labels=tf.constant(labels))["samples"].numpy()
        ours = generator(gan.latent.generator_input({"z": z, "labels": labels}),
                         training=False).numpy()
        np.testing.assert_allclose(exported, (ours + 1) / 2, rtol=0, atol=1e-7, err_msg=name)
        out = loaded.signatures["sample"](num_samples=tf.constant(6), seed=tf.constant(1))
        assert out["samples"].shape == (6, 28, 28, 1) and out["labels"].shape == (6,)


def test_tensorboard_shows_the_real_images_beside_what_d_sees_once(make_config):
    config = make_config(model="dcgan", augment="color,translation,cutout", train_steps=2)
    train(config, verbose=0)
    config.train_steps = 4
    train(config, verbose=0)  # a resume writes them no more

    def written():
        found = []
        for path in glob.glob(os.path.join(config.workdir, "train", "events*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.tag.startswith("data/"):
                        png = value.tensor.string_val[2]
                        found.append((value.tag, event.step, tf.io.decode_png(png).shape))
        return found

    found = written()
    assert sorted(t for t, _, _ in found) == ["data/augmented", "data/real"]
    assert all(step == 0 for _, step, _ in found)
    assert found[0][2] == found[1][2] and found[0][2][0] >= 8 * 28  # 8 x 8 digits, unscaled
