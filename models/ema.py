"""The exponential moving average of the generator's weights (--ema=DECAY), as StyleGAN2-ADA
(training/training_loop.py) and StudioGAN (src/utils/ema.py) keep it.

- The average is a second generator of G's architecture, starting as a copy of G.
- After every generator update t (t = 0, 1, ...), every weight w of G moves its average by
      a <- beta_t * a + (1 - beta_t) * w,
  with beta_t = 0.5 ** (1 / min(H, RAMPUP * t)): H = ln 0.5 / ln DECAY is DECAY's half-life
  in updates, and StyleGAN2-ADA's ramp-up (`ema_rampup` = 0.05 in its cifar and auto
  configurations) caps it at 5% of the updates done, so that the start of training, when G
  moves fastest, is not held for thousands of updates (beta_0 = 0: the first update is
  copied). With DECAY 0.999, H = 693 updates, reached after 13,863.
- Batch norm's moving mean and variance are averaged with the same beta, as StudioGAN and the
  BigGAN code average their buffers (StyleGAN2-ADA copies its buffers; its networks have no
  batch norm): the averaged weights then meet statistics of the same period of training.
- Under a `tf.distribute` strategy the weights of G are mirrored, equal on every replica, so
  each replica computes the same average: one average, not one per replica (the parity test
  compares them with one device's).
"""
import math

from keras import ops

RAMPUP = 0.05


def half_life(decay):
    """Updates over which DECAY halves a weight's share."""
    return math.log(0.5) / math.log(decay)


class GeneratorAverage:
    """`generator`: an averaged copy of `source` (a built model of the same architecture)."""

    def __init__(self, source, generator, decay):
        self.source, self.generator, self.decay = source, generator, decay
        self.half_life = half_life(decay)
        generator.set_weights(source.get_weights())

    def beta(self, step):
        """The weight of the average at generator update `step` (0-based)."""
        span = ops.minimum(ops.convert_to_tensor(self.half_life, "float32"),
                           RAMPUP * ops.cast(step, "float32"))
        return ops.where(span > 0, ops.power(0.5, 1.0 / ops.maximum(span, 1e-8)), 0.0)

    def update(self, step):
        beta = self.beta(step)
        for average, weight in zip(self.generator.weights, self.source.weights):
            average.assign(beta * average + (1.0 - beta) * ops.cast(weight, average.dtype))
