"""Generator and discriminator networks, sized from the data shape.

- "mlp": fully connected nets (Goodfellow 2014): 3 hidden layers of `width`; G ReLU, D
  LeakyReLU(0.2) with `norm` after its second and third layers. Any data.
- "dcgan": Radford et al. 2016 conventions: strided transposed convolutions in G with batch norm
  and ReLU (none on the output, which is tanh); strided convolutions in D with LeakyReLU(0.2) and
  no normalization on the input layer. Square images of side 4 * 2^k or 7 * 2^k (28, 32, 64);
  on 2-D points it means "mlp".
- "infogan_mnist": the official InfoGAN MNIST networks (openai/InfoGAN,
  infogan/models/regularized_gan.py 31-65, infogan/misc/custom_ops.py): G = FC 1024-BN-ReLU,
  FC (side/4)^2 x 128-BN-ReLU, deconv 4x4/2 64-BN-ReLU, deconv 4x4/2 to the channels, sigmoid;
  D trunk = conv 4x4/2 64-LReLU, conv 4x4/2 128-BN-LReLU, FC 1024-BN-LReLU, with the code's
  LeakyReLU slope 0.01 (the paper says 0.1), weights N(0, 0.02) (truncated for D's convs), biases
  0, batch norm gamma N(1, 0.02), epsilon 1e-5, moving-average decay 0.9. The official nets see
  images in [0, 1]; the repo's images are in [-1, 1], so G's sigmoid output is mapped to
  2p - 1 and D's input to (x + 1) / 2 by fixed affine layers: the same functions and gradients.
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
import dataclasses
import math

import keras
from keras import initializers, layers

import backends


class ShapeError(ValueError):
    """Networks that cannot take data of this shape (training/loop.py says it as a data error)."""


def dcgan_plan(side):
    """(base side, number of stride-2 stages) for a square image side, or an error."""
    for base in (4, 7):
        stages = math.log2(side / base) if side >= base else -1
        if stages >= 1 and stages == int(stages):
            return base, int(stages)
    raise ShapeError(
        f"the dcgan networks take square images of side 4*2^k or 7*2^k (28, 32, 64, ...), "
        f"not {side}; pick another --image_size")


@dataclasses.dataclass(frozen=True)
class Arch:
    """What a pair of networks can take, asked by the config's checks and the XLA policy."""
    name: str
    data: str              # "images" (square images only), "points" (2-D points only) or "any"
    g_norm: bool           # G has batch norm, which `g_norm="none"` removes
    d_norm: bool           # D's trunk takes the `d_norm` normalization
    d_dropout: bool        # D's trunk takes `d_dropout` after its hidden activations
    width: int             # the default base width: conv channels or MLP units
    on_points: str = None  # the nets that stand in for these on 2-D points

    @property
    def convolutional(self):
        return self.data == "images"

    def for_data(self, is_image):
        """The name of the nets to build on images or on 2-D points."""
        return self.on_points if self.on_points and not is_image else self.name


ARCHITECTURES = {a.name: a for a in (
    Arch("mlp", "any", g_norm=False, d_norm=True, d_dropout=True, width=512),
    Arch("dcgan", "images", g_norm=True, d_norm=True, d_dropout=True, width=64,
         on_points="mlp"),
    Arch("infogan_mnist", "images", g_norm=True, d_norm=True, d_dropout=False, width=64,
         on_points="mlp"),
    Arch("wgan_gp_toy", "points", g_norm=False, d_norm=False, d_dropout=False, width=512),
    Arch("pacgan_toy", "points", g_norm=True, d_norm=False, d_dropout=False, width=512),
)}
ARCHS = tuple(ARCHITECTURES)
NORMS = ("batch", "layer", "none")


def archs_with(capability):
    """Names of the nets that have `capability` (an Arch field that is true for them)."""
    return [a.name for a in ARCHITECTURES.values() if getattr(a, capability)]


def check_shape(arch, shape):
    """Raises ShapeError when `arch` cannot take data of `shape`."""
    data = ARCHITECTURES[arch].data
    if data == "points" and len(shape) != 1:
        raise ShapeError(f"the {arch} networks take 2-D points (ring8, grid25), not shape "
                           f"{shape}; pick a toy dataset, or other nets (--arch, --g_arch)")
    if data == "images":
        if len(shape) != 3 or shape[0] != shape[1]:
            raise ShapeError(f"the {arch} networks take square images, not shape {shape}")
    if arch == "dcgan":
        dcgan_plan(shape[0])
    if arch == "infogan_mnist" and shape[0] % 4:
        raise ShapeError(f"the infogan_mnist networks take square images of a side divisible "
                           f"by 4 (28, 32, ...), not {shape[0]}; pick another --image_size")


@dataclasses.dataclass(frozen=True)
class Style:
    """Per-architecture layer conventions that heads built by a model must follow too."""
    leaky_slope: float = 0.2
    init_std: float = None      # kernels N(0, init_std) and zero biases; None: Keras' defaults
    bn_momentum: float = 0.99   # Keras' defaults unless the reference code says otherwise
    bn_epsilon: float = 1e-3
    gamma_std: float = None     # batch norm gamma N(1, gamma_std); None: ones

    @property
    def init(self):
        """Initializer kwargs for ONE layer: fresh instances, drawn after the run's seed is set
        (an unseeded instance shared by layers, or made at import, would draw its seed once)."""
        if self.init_std is None:
            return {}
        return {"kernel_initializer": initializers.RandomNormal(0.0, self.init_std),
                "bias_initializer": "zeros"}

    @property
    def batch_norm(self):
        kwargs = {"momentum": self.bn_momentum, "epsilon": self.bn_epsilon}
        if self.gamma_std is not None:
            kwargs["gamma_initializer"] = initializers.RandomNormal(1.0, self.gamma_std)
        return kwargs


STYLES = {
    "infogan_mnist": Style(leaky_slope=0.01, init_std=0.02, bn_momentum=0.9, bn_epsilon=1e-5,
                           gamma_std=0.02),
}


def style(arch):
    return STYLES.get(arch, Style())


def normalization(kind, name, arch=None):
    """A normalization layer of `kind` ("batch", "layer"; None for "none"), in `arch`'s style."""
    if kind == "batch":
        # The statistics of the global batch under N replicas: synchronized across a
        # tf.distribute strategy's replicas; on JAX, keras.distribution's step sees the global
        # batch already (Keras has `synchronized` on TensorFlow only).
        return layers.BatchNormalization(synchronized=backends.SYNC_BATCH_NORM, name=name,
                                         **style(arch).batch_norm)
    if kind == "layer":
        return layers.LayerNormalization(axis=[1, 2, 3] if name.startswith("conv") else -1,
                                         name=name)
    return None


def build_generator(input_dim, data_shape, arch, width, norm="batch"):
    """G: input vector [N, input_dim] -> sample [N, *data_shape] (tanh for images). `norm`
    ("batch" or "none") is the normalization of the hidden layers of the nets that have it
    (`Arch.g_norm`; "none": the WGAN paper's batch-norm-free generator, Fig. 6)."""
    # === Layers ===
    inputs = keras.Input((input_dim,), name="latent")
    is_image = len(data_shape) == 3
    if arch in _TOY_GENERATORS:
        return keras.Model(inputs, _TOY_GENERATORS[arch](inputs, data_shape[0], width, norm),
                           name="generator")
    if arch == "mlp" or not is_image:
        x = inputs
        for i in range(3):
            x = layers.Dense(width, activation="relu", name=f"dense_{i}")(x)
        x = layers.Dense(math.prod(data_shape), activation="tanh" if is_image else None,
                         name="output", dtype="float32")(x)
        outputs = layers.Reshape(data_shape, name="sample")(x)
    elif arch == "infogan_mnist":
        outputs = _infogan_generator(inputs, data_shape, width, norm)
    else:
        base, stages = dcgan_plan(data_shape[0])
        channels = width * 2 ** (stages - 1)
        bias = norm != "batch"  # batch norm's beta is the bias
        x = layers.Dense(base * base * channels, use_bias=bias, name="project")(inputs)
        x = layers.ReLU()(_normalize(x, norm, "project_bn"))
        x = layers.Reshape((base, base, channels))(x)
        for i in range(stages - 1):
            channels //= 2
            x = layers.Conv2DTranspose(channels, 4, 2, "same", use_bias=bias, name=f"up_{i}")(x)
            x = layers.ReLU()(_normalize(x, norm, f"up_{i}_bn"))
        outputs = layers.Conv2DTranspose(data_shape[2], 4, 2, "same", activation="tanh",
                                         name="sample", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="generator")


def build_discriminator(data_shape, arch, width, norm, heads=None, dropout=0.0):
    """D: sample [N, *data_shape] -> {"logits": [N, 1], **heads(trunk features)}; `dropout`
    after each hidden activation of the mlp and dcgan trunks (the Keras AC-GAN example's 0.3)."""

    def drop(x):
        return layers.Dropout(dropout)(x) if dropout else x

    # === Trunk ===
    inputs = keras.Input(data_shape, name="sample")
    is_image = len(data_shape) == 3
    if arch in _TOY_DISCRIMINATORS:
        x, logits = _TOY_DISCRIMINATORS[arch](inputs, width)
        outputs = {"logits": logits}
        outputs.update(heads(x) if heads else {})
        return keras.Model(inputs, outputs, name="discriminator")
    if arch == "mlp" or not is_image:
        x = layers.Flatten()(inputs) if is_image else inputs
        for i in range(3):
            x = layers.Dense(width, name=f"dense_{i}")(x)
            norm_layer = normalization(norm, f"dense_{i}_norm") if i > 0 else None
            x = drop(layers.LeakyReLU(0.2)(norm_layer(x) if norm_layer else x))
    elif arch == "infogan_mnist":
        x = _infogan_trunk(inputs, width, norm)
    else:
        _, stages = dcgan_plan(data_shape[0])
        x = inputs
        for i in range(stages):
            x = layers.Conv2D(width * 2 ** i, 4, 2, "same", use_bias=i == 0 or norm != "batch",
                              name=f"conv_{i}")(x)
            norm_layer = normalization(norm, f"conv_{i}_norm") if i > 0 else None
            x = drop(layers.LeakyReLU(0.2)(norm_layer(x) if norm_layer else x))
        x = layers.Flatten()(x)
    # === Heads ===
    outputs = {"logits": layers.Dense(1, name="logits", dtype="float32", **style(arch).init)(x)}
    outputs.update(heads(x) if heads else {})
    return keras.Model(inputs, outputs, name="discriminator")


def _normalize(x, kind, name, arch=None):
    """x through a `kind` normalization layer named `name`, or x itself for "none"."""
    layer = normalization(kind, name, arch)
    return layer(x) if layer else x


def _infogan_generator(inputs, data_shape, width, norm="batch"):
    """The official InfoGAN MNIST G (width 64: 1024, 128 and 64 units as in the code)."""
    side, s, bn = data_shape[0] // 4, STYLES["infogan_mnist"], "infogan_mnist"
    x = layers.Dense(16 * width, name="fc_0", **s.init)(inputs)
    x = layers.ReLU()(_normalize(x, norm, "fc_0_bn", bn))
    x = layers.Dense(side * side * 2 * width, name="fc_1", **s.init)(x)
    x = layers.ReLU()(_normalize(x, norm, "fc_1_bn", bn))
    x = layers.Reshape((side, side, 2 * width))(x)
    x = layers.Conv2DTranspose(width, 4, 2, "same", name="up_0", **s.init)(x)
    x = layers.ReLU()(_normalize(x, norm, "up_0_bn", bn))
    x = layers.Conv2DTranspose(data_shape[2], 4, 2, "same", activation="sigmoid",
                               name="up_1", dtype="float32", **s.init)(x)
    # Sigmoid p in (0, 1), as the official G (MeanBernoulli); the repo's images are 2p - 1.
    return layers.Rescaling(2.0, -1.0, name="sample", dtype="float32")(x)


def _infogan_trunk(inputs, width, norm="batch"):
    """The official InfoGAN MNIST D trunk, up to the FC 1024 features that D and Q share."""
    s, bn = STYLES["infogan_mnist"], "infogan_mnist"

    def conv_init():  # custom_conv2d: truncated N(0, 0.02)
        return {"kernel_initializer": initializers.TruncatedNormal(0.0, 0.02),
                "bias_initializer": "zeros"}
    x = layers.Rescaling(0.5, 0.5, name="to_unit")(inputs)  # [-1, 1] -> the code's [0, 1]
    x = layers.LeakyReLU(s.leaky_slope)(
        layers.Conv2D(width, 4, 2, "same", name="conv_0", **conv_init())(x))
    x = layers.Conv2D(2 * width, 4, 2, "same", name="conv_1", **conv_init())(x)
    x = layers.LeakyReLU(s.leaky_slope)(_normalize(x, norm, "conv_1_norm", bn))
    x = layers.Dense(16 * width, name="fc", **s.init)(layers.Flatten()(x))
    return layers.LeakyReLU(s.leaky_slope)(_normalize(x, norm, "fc_norm", bn))


# === The toy protocols' networks ===

def _gan_toy_generator(z, out_dim, width, norm=None):  # no normalization to remove
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


def _pacgan_generator(z, out_dim, width, norm="batch"):
    x = z
    for i in range(4):
        x = layers.Dense(width, use_bias=norm != "batch", kernel_initializer=_pacgan_init(),
                         name=f"dense_{i}")(x)
        if norm == "batch":
            # Blocks' batch norm: epsilon 1e-4; population statistics p <- 0.95 p + 0.05 m.
            x = layers.BatchNormalization(momentum=0.95, epsilon=1e-4,
                                          synchronized=backends.SYNC_BATCH_NORM,
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
