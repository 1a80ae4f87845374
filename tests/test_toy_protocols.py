"""The toy protocols (#11): on ring8 / grid25, gan, wgan and wgan_gp take their reference code's
own setup (PacGAN's GAN baseline; gan_toy.py's wgan and wgan-gp modes), flags still win, the
networks have the reference's shapes and parameter counts, and the data scaling used for
training never leaks into samples, scores or the export."""
import numpy as np
import pytest
import tensorflow as tf

from data.datasets import (TOY_CENTRES, TOY_STDS, DatasetError, load, make_train_dataset,
                           toy_training_set)
from metrics.scores import toy_mode_metrics
from models.networks import (Maxout, ShapeError, build_discriminator, build_generator,
                             check_shape)
from models.variants import VARIANTS
from training.config import Config, ConfigError, resolve
from training.export import export_generator
from training.loop import build_gan


def _resolved(**fields):
    """(the resolved config, its Variant)."""
    config = resolve(Config(workdir="unused", **fields))
    return config, config.variant


# === The defaults layer ===

def test_wgan_gp_on_a_toy_mixture_takes_gan_toy_py_setup():
    for dataset, scale, points in (("ring8", 1.414, 0), ("grid25", 2.828, 100_000)):
        config, v = _resolved(model="wgan_gp", dataset=dataset)
        assert (v.arch, v.d_norm, config.width, config.latent_dim) == ("wgan_gp_toy", "none",
                                                                       512, 2)
        assert (config.batch_size, config.d_steps, config.gp_weight) == (256, 5, 0.1)
        assert (v.optimizer, config.d_lr, config.g_lr, config.beta_1, config.beta_2) == (
            "adam", 1e-4, 1e-4, 0.5, 0.9)
        assert config.train_steps == 100_000
        assert (config.data_scale, config.train_points) == (scale, points)


def test_wgan_on_a_toy_mixture_takes_gan_toy_py_wgan_mode():
    config, v = _resolved(model="wgan", dataset="grid25")
    assert (v.arch, v.optimizer, config.d_lr, config.clip_value, config.gp_weight) == (
        "wgan_gp_toy", "rmsprop", 5e-5, 0.01, 0.0)
    assert (config.batch_size, config.d_steps, config.latent_dim) == (256, 5, 2)


def test_gan_on_a_toy_mixture_is_pacgan_gan_baseline():
    for dataset, scale in (("ring8", 2.0), ("grid25", 1.0)):  # their ring: radius 1, std 0.01
        config, v = _resolved(model="gan", dataset=dataset)
        assert (v.arch, config.width, config.latent_dim, v.loss) == ("pacgan_toy", 400, 2,
                                                                     "non_saturating")
        assert (config.batch_size, config.d_steps, config.d_lr, config.beta_1) == (100, 1, 1e-4,
                                                                                    0.8)
        assert (config.train_steps, config.train_points, config.data_scale) == (
            400_000, 100_000, scale)


def test_flags_win_over_the_toy_protocol_and_images_keep_their_rows():
    config, v = _resolved(model="wgan_gp", dataset="grid25", gp_weight=10.0, batch_size=64,
                          train_steps=7, width=16, data_scale=1.0, train_points=0, latent_dim=5)
    assert (config.gp_weight, config.batch_size, config.train_steps, config.width) == (
        10.0, 64, 7, 16)
    assert (v.data_scale, v.train_points, v.latent_dim, v.arch) == (1.0, 0, 5, "wgan_gp_toy")
    # --notoy_defaults: the image row, with its MLP stand-in for the dcgan nets.
    config, v = _resolved(model="wgan_gp", dataset="ring8", toy_defaults=False)
    assert (v.arch, config.gp_weight, config.latent_dim, config.train_steps) == ("mlp", 10.0,
                                                                                 128, 3000)
    # Variants without a toy protocol and image runs are as before.
    for model in VARIANTS:
        config, v = _resolved(model=model, dataset="mnist_5k")
        assert (config.train_steps, config.data_scale, config.train_points) == (
            VARIANTS[model].train_steps, 1.0, 0)
        assert v.arch == VARIANTS[model].arch
    assert _resolved(model="acgan", dataset="grid25")[1].arch == "mlp"
    # A resolved config (config.json) resolves again to itself, images included.
    for dataset in ("mnist_5k", "grid25"):
        config, _ = _resolved(model="wgan_gp", dataset=dataset)
        assert resolve(config) == config


@pytest.mark.parametrize("fields,message", [
    (dict(model="gan", dataset="mnist_5k", data_scale=2.0), "--data_scale applies to the toy"),
    (dict(model="gan", dataset="ring8", data_scale=0.0), "--data_scale must be positive"),
    (dict(model="gan", dataset="ring8", train_points=-1), "--train_points must be >= 0"),
    (dict(model="wgan_gp", dataset="grid25", train_points=1000), "fewer than one step's 1280"),
])
def test_bad_toy_settings_name_the_fix(fields, message):
    with pytest.raises(ConfigError, match=message):
        _resolved(**fields)


# === Networks: the reference's layers and parameter counts ===

def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def test_gan_toy_networks_have_gan_toy_py_parameter_counts():
    # gan_toy.py: 3 x Linear(DIM) + ReLU, then Linear; DIM 512, 2-D in and out.
    dim = 512
    g = build_generator(2, (2,), "wgan_gp_toy", dim)
    d = build_discriminator((2,), "wgan_gp_toy", dim, "none")
    assert _count(g.trainable_weights) == (2 * dim + dim) + 2 * (dim * dim + dim) + (dim * 2 + 2)
    assert _count(g.trainable_weights) == 527_874
    assert _count(d.trainable_weights) == (2 * dim + dim) + 2 * (dim * dim + dim) + (dim + 1)
    assert _count(d.trainable_weights) == 527_361
    assert not g.non_trainable_weights and g.output_shape == (None, 2)
    assert d.output["logits"].shape == (None, 1)
    assert not any("norm" in layer.name for layer in g.layers + d.layers)


def test_pacgan_networks_have_pacgan_parameter_counts():
    # G: 2 -> 4 x [400, no bias, BN (gamma, beta) + ReLU] -> 2 (bias); D: maxout 200 x 5
    # pieces (each a Linear to 1,000 with bias), three times, then Linear(1).
    g = build_generator(2, (2,), "pacgan_toy", 400)
    d = build_discriminator((2,), "pacgan_toy", 400, "none")
    g_expected = 2 * 400 + 3 * 400 * 400 + (400 * 2 + 2) + 4 * 2 * 400
    assert _count(g.trainable_weights) == g_expected == 484_802
    assert _count(g.non_trainable_weights) == 4 * 2 * 400  # BN population mean and variance
    d_expected = (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + (200 + 1)
    assert _count(d.trainable_weights) == d_expected == 405_201
    assert d.get_layer("maxout_0").output.shape == (None, 200)
    assert not any("bn" in layer.name or "norm" in layer.name for layer in d.layers)


def test_maxout_takes_the_max_of_consecutive_pieces():
    x = np.arange(12, dtype=np.float32).reshape(1, 12) * np.array([1, -1] * 6, np.float32)
    out = np.asarray(Maxout(3)(x))  # pieces (0,-1,2), (-3,4,-5), (6,-7,8), (-9,10,-11)
    np.testing.assert_array_equal(out, [[2, 4, 8, 10]])


def test_toy_networks_refuse_images():
    with pytest.raises(ShapeError, match="take 2-D points"):
        check_shape("pacgan_toy", (28, 28, 1))


# === Data scaling and the fixed training set ===

def test_fixed_training_set_is_seeded_balanced_and_resumes_exactly():
    a, modes = toy_training_set("grid25", 1000, seed=3)
    b, _ = toy_training_set("grid25", 1000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, toy_training_set("grid25", 1000, seed=4)[0])
    assert np.all(np.bincount(modes) == 40)
    assert np.abs(a - TOY_CENTRES["grid25"][modes]).max() < 6 * TOY_STDS["grid25"]
    data = load("grid25")
    stream = make_train_dataset(data, 64, 3, data_scale=2.828, train_points=1000)
    first = [x.numpy() for x, _ in stream.take(20)]
    resumed = next(iter(make_train_dataset(data, 64, 3, start_step=17, data_scale=2.828,
                                           train_points=1000)))[0].numpy()
    np.testing.assert_array_equal(resumed, first[17])
    # The batches come from the set, divided by the scale; one epoch covers it.
    set_rows = {tuple(np.round(p, 5)) for p in (a / 2.828).astype(np.float32)}
    assert all(tuple(np.round(p, 5)) in set_rows for p in first[0])
    assert toy_mode_metrics(first[0] * 2.828, TOY_CENTRES["grid25"],
                            TOY_STDS["grid25"])["high_quality"] > 0.9


def test_fresh_draws_are_divided_by_the_scale():
    data = load("ring8")
    plain = next(iter(make_train_dataset(data, 32, 5)))[0].numpy()
    scaled = next(iter(make_train_dataset(data, 32, 5, data_scale=1.414)))[0].numpy()
    np.testing.assert_allclose(scaled * 1.414, plain, rtol=1e-6)


def test_export_and_in_memory_samples_are_in_data_coordinates(tmp_path):
    config, variant = _resolved(model="wgan_gp", dataset="ring8", width=8, jit_compile=False)
    gan = build_gan(config, (2,), 8)
    export_generator(gan, False, str(tmp_path / "g"))
    g = tf.saved_model.load(str(tmp_path / "g"))
    got = g.signatures["sample"](num_samples=tf.constant(16), seed=tf.constant(2))["samples"]
    latents = gan.latent.sample(16, tf.constant([2, 0]))
    raw = gan.generator(gan.latent.generator_input(latents), training=False).numpy()
    np.testing.assert_allclose(got.numpy(), raw * 1.414, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gan.samples(latents).numpy(), raw * 1.414, rtol=1e-5, atol=1e-6)
    served = g.signatures["serving_default"](z=latents["z"])["samples"].numpy()
    np.testing.assert_allclose(served, raw * 1.414, rtol=1e-5, atol=1e-6)
