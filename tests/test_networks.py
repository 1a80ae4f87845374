"""Networks are sized from the data shape and follow the DCGAN conventions."""
import dataclasses

import keras
import numpy as np
import pytest
from keras import layers

from data.datasets import DatasetError
from models.networks import (ShapeError, build_discriminator, build_generator, check_shape,
                             dcgan_plan)
from models.variants import VARIANTS
from training.config import Config, resolve
from training.loop import build_gan


@pytest.mark.parametrize("shape,plan", [((28, 28, 1), (7, 2)), ((32, 32, 3), (4, 3)),
                                        ((64, 64, 3), (4, 4))])
def test_dcgan_networks_for_each_image_shape(shape, plan):
    assert dcgan_plan(shape[0]) == plan
    generator = build_generator(10, shape, "dcgan", 8)
    assert generator.output_shape == (None, *shape)
    assert generator.layers[-1].activation.__name__ == "tanh"
    heads = build_discriminator(shape, "dcgan", 8, "batch",
                                heads=lambda trunk: {"extra": layers.Dense(3)(trunk)}).output
    assert {k: tuple(v.shape) for k, v in heads.items()} == {"logits": (None, 1),
                                                            "extra": (None, 3)}


HEADS = {"gan": {}, "dcgan": {}, "wgan": {}, "wgan_gp": {},
         "acgan": {"class_logits": (None, 10)},
         "infogan": {"code_logits": (None, 10), "code_mean": (None, 2)}}


@pytest.mark.parametrize("model", list(VARIANTS))
def test_each_model_class_adds_its_own_discriminator_heads(model):
    v = VARIANTS[model]
    gan = v.model_class(dataclasses.replace(v, width=8), (28, 28, 1), num_classes=10)
    heads = {k: tuple(t.shape) for k, t in gan.discriminator.output.items()}
    assert heads == {"logits": (None, 1), **HEADS[model]}
    assert gan.generator.input_shape == (None, gan.latent.input_dim)


def test_no_normalization_on_the_discriminator_input_layer():
    d = build_discriminator((28, 28, 1), "dcgan", 8, "batch")
    names = [layer.name for layer in d.layers]
    assert "conv_0_norm" not in names and "conv_1_norm" in names


@pytest.mark.parametrize("shape", [(30, 30, 1), (28, 32, 1), (2,)])
def test_shapes_the_dcgan_networks_cannot_take(shape):
    with pytest.raises(ShapeError):
        check_shape("dcgan", shape)


def _count(model):
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)


def test_infogan_mnist_networks_have_the_official_layers_and_sizes():
    """openai/InfoGAN regularized_gan.py 31-65, counted by hand from its layer list (biases on
    every layer; batch norm gamma and beta): G 74 -> FC 1024 -> FC 7*7*128 -> deconv 64 ->
    deconv 1; D conv 64 -> conv 128 -> FC 1024 -> 1; Q FC 128 -> 10 logits + 2 means (the
    official head also outputs 2 unused standard deviations: 258 weights fewer here)."""
    v = VARIANTS["infogan"]
    gan = v.model_class(dataclasses.replace(v, width=64), (28, 28, 1), num_classes=10)
    assert gan.latent.input_dim == 62 + 10 + 2 and gan.latent.noise == "uniform"
    g = (74 * 1024 + 1024) + 2 * 1024 + (1024 * 6272 + 6272) + 2 * 6272 \
        + (4 * 4 * 128 * 64 + 64) + 2 * 64 + (4 * 4 * 64 * 1 + 1)
    d = (4 * 4 * 1 * 64 + 64) + (4 * 4 * 64 * 128 + 128) + 2 * 128 + (6272 * 1024 + 1024) \
        + 2 * 1024 + (1024 + 1)
    q = (1024 * 128 + 128) + 2 * 128 + (128 * 12 + 12)
    assert (_count(gan.generator), _count(gan.discriminator)) == (g, d + q)
    assert gan.generator.get_layer("up_1").activation.__name__ == "sigmoid"
    slopes = {round(float(layer.negative_slope), 4) for layer in gan.discriminator.layers
              if isinstance(layer, layers.LeakyReLU)}
    assert slopes == {0.01}  # custom_ops.leaky_rectify's default (the paper says 0.1)
    bn = gan.discriminator.get_layer("fc_norm")
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)


def test_infogan_mnist_networks_map_the_official_unit_range_to_the_repos():
    """The official nets see and make images in [0, 1]; the repo's are in [-1, 1]."""
    import numpy as np
    v = VARIANTS["infogan"]
    gan = v.model_class(dataclasses.replace(v, width=8), (28, 28, 1), num_classes=10)
    d_in = gan.discriminator.get_layer("to_unit")(np.array([-1.0, 0.0, 1.0], np.float32))
    np.testing.assert_allclose(np.asarray(d_in), [0.0, 0.5, 1.0])
    logits = np.array([[-3.0], [0.0], [3.0]], np.float32)
    out = gan.generator.get_layer("sample")(1 / (1 + np.exp(-logits)))
    np.testing.assert_allclose(np.asarray(out), np.tanh(logits / 2), atol=1e-6)


def test_acgan_class_embedding_multiplies_the_noise():
    """class_input="multiply" (the Keras AC-GAN example): G's networks get z * embed(c)."""
    import dataclasses

    import numpy as np
    import tensorflow as tf
    v = dataclasses.replace(VARIANTS["acgan"], class_input="multiply")
    gan = v.model_class(dataclasses.replace(v, width=8), (28, 28, 1), num_classes=10)
    embedding = gan.generator.get_layer("class_embedding").kernel.numpy()  # [10, 100]
    networks = gan.generator.get_layer("generator")
    z = np.random.default_rng(0).normal(size=(2, 100)).astype(np.float32)
    labels = np.array([3, 7])
    got = gan.generator(gan.latent.generator_input({"z": z, "labels": tf.constant(labels)}))
    np.testing.assert_allclose(got, networks(z * embedding[labels]), atol=1e-6)
    assert networks.input_shape == (None, 100)


@pytest.mark.parametrize("fields, g_bn, d_norm_layers, g_dense_512", [
    ({}, True, 1, 0),
    ({"g_norm": "none", "d_norm": "none"}, False, 0, 0),
    ({"g_arch": "mlp", "g_width": 512}, False, 1, 3),
])
def test_batch_norm_and_mlp_generator_settings_build_what_they_say(fields, g_bn, d_norm_layers,
                                                                   g_dense_512):
    config = resolve(Config(model="wgan", dataset="mnist_5k", **fields))
    variant = config.variant
    assert resolve(config) == config  # what config.json records resolves the same
    gan = build_gan(config, (28, 28, 1), 10)
    g_layers = gan.generator.layers
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in g_layers) == g_bn
    assert sum(isinstance(l, keras.layers.BatchNormalization)
               for l in gan.discriminator.layers) == d_norm_layers
    dense = [l for l in g_layers if isinstance(l, keras.layers.Dense)]
    assert sum(l.units == 512 for l in dense) == g_dense_512
    if not g_bn:  # batch norm's beta was the bias: without it every layer has its own
        assert all(l.use_bias for l in g_layers
                   if isinstance(l, (keras.layers.Dense, keras.layers.Conv2DTranspose)))
    assert gan.generator(np.zeros([2, 100], np.float32)).shape == (2, 28, 28, 1)


def test_each_new_setting_reaches_what_it_sets():
    """The settings a user can now give (once fixed fields of a variant's row) change the
    model they name, built as train.py builds it."""
    def built(model, **fields):
        return build_gan(resolve(Config(model=model, dataset="mnist_5k", width=8, **fields)),
                         (28, 28, 1), 10)

    gan = built("infogan", num_categorical=20, num_continuous=1)
    heads = gan.discriminator.output
    assert heads["code_logits"].shape[-1] == 20 and heads["code_mean"].shape[-1] == 1
    assert gan.generator.input_shape == (None, 62 + 20 + 1)
    gan = built("acgan", optimizer="rmsprop", noise="normal", class_input="concat")
    assert isinstance(gan.d_optimizer, keras.optimizers.RMSprop)
    assert isinstance(gan.g_optimizer, keras.optimizers.RMSprop)
    assert gan.generator.input_shape == (None, 100 + 10)  # [z | one-hot c]: no embedding
    assert gan.latent.noise == "normal"
    assert built("infogan").latent.noise == "uniform"  # the row's own, U(-1, 1)
    assert built("infogan", noise="normal").latent.noise == "normal"
    dropouts = [l for l in built("dcgan", d_dropout=0.3).discriminator.layers
                if isinstance(l, keras.layers.Dropout)]
    assert dropouts and all(l.rate == 0.3 for l in dropouts)
    mlp = built("dcgan", arch="mlp").discriminator  # the row's DCGAN settings on MLP nets
    assert mlp.get_layer("dense_0").units == 8 and not any("conv" in l.name for l in mlp.layers)
