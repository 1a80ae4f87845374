"""Networks are sized from the data shape and follow the DCGAN conventions."""
import pytest
from keras import layers

from data.datasets import DatasetError
from models.networks import build_discriminator, build_generator, check_shape, dcgan_plan
from models.variants import VARIANTS


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
    gan = v.model_class(v, (28, 28, 1), num_classes=10, width=8)
    heads = {k: tuple(t.shape) for k, t in gan.discriminator.output.items()}
    assert heads == {"logits": (None, 1), **HEADS[model]}
    assert gan.generator.input_shape == (None, gan.latent.input_dim)


def test_no_normalization_on_the_discriminator_input_layer():
    d = build_discriminator((28, 28, 1), "dcgan", 8, "batch")
    names = [layer.name for layer in d.layers]
    assert "conv_0_norm" not in names and "conv_1_norm" in names


@pytest.mark.parametrize("shape", [(30, 30, 1), (28, 32, 1), (2,)])
def test_shapes_the_dcgan_networks_cannot_take(shape):
    with pytest.raises(DatasetError):
        check_shape("dcgan", shape)
