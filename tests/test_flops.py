"""The benchmark's FLOP count (benchmarks/flops.py) against a count by hand of a step's matmuls."""
import pytest

from benchmarks.flops import step_flops
from data.datasets import load, make_train_dataset
from training.config import resolve
from training.loop import build_gan, split_for_d_steps


def dense_flops(batch, layers):
    """One pass (forward, weight gradient or input gradient) through dense layers [(in, out)]."""
    return sum(2 * batch * a * b for a, b in layers)


def test_executed_flops_are_the_matmuls_a_step_needs(make_config):
    """Vanilla GAN, MLP nets (z 100 -> w -> w -> w -> 2; 2 -> w -> w -> w -> 1), one D update
    and one G update. The step needs, per pass over a net, 2 * batch * in * out FLOPs a layer:
    D's update: G forward; D forward on real and fake; D's weight gradients on both; D's input
    gradients on both but for its first layer (the data needs none). G's update: G and D
    forward; D's input gradients, first layer included (they flow into G); G's weight gradients
    and its input gradients but for its first layer. The traced graph also holds what the tapes
    recorded and nobody asked for (G's backward inside D's update, D's weight gradients inside
    G's): "traced" counts it, "executed" must not. Elementwise ops (activations, Adam) add a
    few percent at this width."""
    batch, width = 64, 64
    config = resolve(make_config(model="gan", dataset="ring8", toy_defaults=False,
                                 batch_size=batch, width=width))
    variant = config.variant
    assert variant.latent_dim == 100 and variant.d_steps == 1
    data = load(config.dataset)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    dataset = split_for_d_steps(make_train_dataset(data, batch, 0), batch, 1)
    g = [(100, width), (width, width), (width, width), (width, 2)]
    d = [(2, width), (width, width), (width, width), (width, 1)]
    assert [tuple(w.shape) for w in gan.generator.trainable_weights[::2]] == g
    assert [tuple(w.shape) for w in gan.discriminator.trainable_weights[::2]] == d

    def f(layers):
        return dense_flops(batch, layers)

    d_update = f(g) + 2 * f(d) + 2 * f(d) + 2 * f(d[1:])
    g_update = f(g) + f(d) + f(d) + f(g) + f(g[1:])
    unused = f(d[:1]) + f(g) + f(g[1:]) + f(d)
    counts = step_flops(gan, *dataset.element_spec)
    assert counts["executed"] == pytest.approx(d_update + g_update, rel=0.1)
    assert counts["traced"] == pytest.approx(d_update + g_update + unused, rel=0.1)
    assert counts["traced"] - counts["executed"] == pytest.approx(unused, rel=0.1)
