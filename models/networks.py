"""Generator and discriminator networks, sized from the data shape.

- "mlp": fully connected nets (Goodfellow 2014): 3 hidden layers of `width`; G ReLU, D
  LeakyReLU(0.2) with `norm` after its second and third layers. Any data.
- "dcgan": Radford et al. 2016 conventions: strided transposed convolutions in G with batch norm
  and ReLU (none on the output, which is tanh); strided convolutions in D with LeakyReLU(0.2) and
  no normalization on the input layer. Square images of side 4 * 2^k or 7 * 2^k (28, 32, 64);
  on 2-D points it means "mlp".
- "wgan_gp_toy": gan_toy.py's nets (igul222/improved_wgan_training gan_toy.py:31-58): G and D
  3 x [Linear(`width`) + ReLU] + Linear, He-uniform hidden weights, Glorot-uniform output
  weights, zero biases (tflib/ops/linear.py), no normalization. 2-D points.
- "pacgan_toy": PacGAN's 2-D nets (fjxmlzn/PacGAN pacgan_task.py:42-95): G 4 x [Linear(`width`,
  no bias) + batch norm + ReLU] + Linear; D 3 maxout layers of `width // 2` units of 5 pieces
  + Linear, no normalization; every weight N(0, 0.02), biases 0 (config.py:21-22). Batch norm
  as in Blocks: epsilon 1e-4, population statistics moving by 0.05 a step (pacgan_task.py:149).
  2-D points.

The discriminator returns a dict of heads: `logits` [N, 1] (real/fake, or the critic's value)
always, and whatever heads the model adds on the trunk's features (AC-GAN's `class_logits`,
InfoGAN's Q: `code_logits`, `code_mean`), built by the model's `discriminator_heads`.
"""
import math

import keras
from keras import layers

from data.datasets import DatasetError


def dcgan_plan(side):
    """(base side, number of stride-2 stages) for a square image side, or an error."""
    for base in (4, 7):
        stages = math.log2(side / base) if side >= base else -1
        if stages >= 1 and stages == int(stages):
            return base, int(stages)
    raise DatasetError(
        f"the dcgan networks take square images of side 4*2^k or 7*2^k (28, 32, 64, ...), "
        f"not {side}; pick another --image_size")


TOY_ARCHS = ("wgan_gp_toy", "pacgan_toy")
ARCHS = ("mlp", "dcgan") + TOY_ARCHS


def check_shape(arch, shape):
    """Raises DatasetError when `arch` cannot take data of `shape`."""
    if arch in TOY_ARCHS and len(shape) != 1:
        raise DatasetError(f"the {arch} networks take 2-D points (ring8, grid25), not shape "
                           f"{shape}; pick a toy dataset or another --model")
    if arch == "dcgan":
        if len(shape) != 3 or shape[0] != shape[1]:
            raise DatasetError(f"the dcgan networks take square images, not shape {shape}")
        dcgan_plan(shape[0])


def normalization(kind, name):
    """A normalization layer of `kind` ("batch", "layer"; None for "none")."""
    if kind == "batch":
        # Synchronized: under N replicas the statistics are those of the global batch.
        return layers.BatchNormalization(synchronized=True, name=name)
    if kind == "layer":
        return layers.LayerNormalization(axis=[1, 2, 3] if name.startswith("conv") else -1,
                                         name=name)
    return None


def build_generator(input_dim, data_shape, arch, width):
    """G: input vector [N, input_dim] -> sample [N, *data_shape] (tanh for images)."""
    # === Layers ===
    inputs = keras.Input((input_dim,), name="latent")
    is_image = len(data_shape) == 3
    if arch in TOY_ARCHS:
        return keras.Model(inputs, _TOY_GENERATORS[arch](inputs, data_shape[0], width),
                           name="generator")
    if arch == "mlp" or not is_image:
        x = inputs
        for i in range(3):
            x = layers.Dense(width, activation="relu", name=f"dense_{i}")(x)
        x = layers.Dense(math.prod(data_shape), activation="tanh" if is_image else None,
                         name="output", dtype="float32")(x)
        outputs = layers.Reshape(data_shape, name="sample")(x)
    else:
        base, stages = dcgan_plan(data_shape[0])
        channels = width * 2 ** (stages - 1)
        x = layers.Dense(base * base * channels, use_bias=False, name="project")(inputs)
        x = layers.ReLU()(normalization("batch", "project_bn")(x))
        x = layers.Reshape((base, base, channels))(x)
        for i in range(stages - 1):
            channels //= 2
            x = layers.Conv2DTranspose(channels, 4, 2, "same", use_bias=False, name=f"up_{i}")(x)
            x = layers.ReLU()(normalization("batch", f"up_{i}_bn")(x))
        outputs = layers.Conv2DTranspose(data_shape[2], 4, 2, "same", activation="tanh",
                                         name="sample", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="generator")


def build_discriminator(data_shape, arch, width, norm, heads=None):
    """D: sample [N, *data_shape] -> {"logits": [N, 1], **heads(trunk features)}."""
    # === Trunk ===
    inputs = keras.Input(data_shape, name="sample")
    is_image = len(data_shape) == 3
    if arch in TOY_ARCHS:
        x, logits = _TOY_DISCRIMINATORS[arch](inputs, width)
        outputs = {"logits": logits}
        outputs.update(heads(x) if heads else {})
        return keras.Model(inputs, outputs, name="discriminator")
    if arch == "mlp" or not is_image:
        x = layers.Flatten()(inputs) if is_image else inputs
        for i in range(3):
            x = layers.Dense(width, name=f"dense_{i}")(x)
            norm_layer = normalization(norm, f"dense_{i}_norm") if i > 0 else None
            x = layers.LeakyReLU(0.2)(norm_layer(x) if norm_layer else x)
    else:
        _, stages = dcgan_plan(data_shape[0])
        x = inputs
        for i in range(stages):
            x = layers.Conv2D(width * 2 ** i, 4, 2, "same", use_bias=i == 0 or norm != "batch",
                              name=f"conv_{i}")(x)
            norm_layer = normalization(norm, f"conv_{i}_norm") if i > 0 else None
            x = layers.LeakyReLU(0.2)(norm_layer(x) if norm_layer else x)
        x = layers.Flatten()(x)
    # === Heads ===
    outputs = {"logits": layers.Dense(1, name="logits", dtype="float32")(x)}
    outputs.update(heads(x) if heads else {})
    return keras.Model(inputs, outputs, name="discriminator")


# === The toy protocols' networks ===

def _gan_toy_generator(z, out_dim, width):
    x = z
    for i in range(3):
        x = layers.Dense(width, activation="relu", kernel_initializer="he_uniform",
                         name=f"dense_{i}")(x)
    return layers.Dense(out_dim, name="sample", dtype="float32")(x)


def _gan_toy_discriminator(points, width):
    """(trunk features, critic value [N, 1])."""
    x = points
    for i in range(3):
        x = layers.Dense(width, activation="relu", kernel_initializer="he_uniform",
                         name=f"dense_{i}")(x)
    return x, layers.Dense(1, name="logits", dtype="float32")(x)


def _pacgan_init():
    return keras.initializers.RandomNormal(stddev=0.02)


def _pacgan_generator(z, out_dim, width):
    x = z
    for i in range(4):
        x = layers.Dense(width, use_bias=False, kernel_initializer=_pacgan_init(),
                         name=f"dense_{i}")(x)
        # Blocks' batch norm: epsilon 1e-4; population statistics p <- 0.95 p + 0.05 m.
        x = layers.BatchNormalization(momentum=0.95, epsilon=1e-4, synchronized=True,
                                      name=f"dense_{i}_bn")(x)
        x = layers.ReLU()(x)
    return layers.Dense(out_dim, kernel_initializer=_pacgan_init(), name="sample",
                        dtype="float32")(x)


class Maxout(layers.Layer):
    """max over `pieces` consecutive units: [N, units * pieces] -> [N, units] (Goodfellow et
    al. 2013; Blocks' LinearMaxout groups its linear outputs the same way)."""

    def __init__(self, pieces, **kwargs):
        super().__init__(**kwargs)
        self.pieces = pieces

    def call(self, x):
        units = x.shape[-1] // self.pieces
        return keras.ops.max(keras.ops.reshape(x, (-1, units, self.pieces)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


MAXOUT_PIECES = 5


def _pacgan_discriminator(points, width):
    """(trunk features, logit [N, 1]): 3 maxout layers of width // 2 units (400 -> 200)."""
    x = points
    for i in range(3):
        x = layers.Dense((width // 2) * MAXOUT_PIECES, kernel_initializer=_pacgan_init(),
                         name=f"maxout_{i}_linear")(x)
        x = Maxout(MAXOUT_PIECES, name=f"maxout_{i}")(x)
    return x, layers.Dense(1, kernel_initializer=_pacgan_init(), name="logits",
                           dtype="float32")(x)


_TOY_GENERATORS = {"wgan_gp_toy": _gan_toy_generator, "pacgan_toy": _pacgan_generator}
_TOY_DISCRIMINATORS = {"wgan_gp_toy": _gan_toy_discriminator,
                       "pacgan_toy": _pacgan_discriminator}
