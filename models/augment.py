"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): every image the discriminator sees, real or generated, in D's updates and in G's,
goes through the same family of random, differentiable transforms T, so D cannot memorise a
small training set and G's gradient passes through T to G.

The transforms are those of the paper's reference code (mit-han-lab/data-efficient-gans,
`DiffAugment_tf.py`), on NHWC images in [-1, 1], each random value drawn once per image:

    color        brightness x + (u - 0.5), u ~ U[0, 1); saturation (x - m_c) * 2u + m_c, m_c
                 the mean over channels at each pixel; contrast (x - m) * (u + 0.5) + m, m the
                 image's mean. In that order. Values are not clipped (nor are they there).
    translation  an integer shift of each axis, uniform on [-s, s], s = int(side / 8 + 0.5);
                 pixels from outside the image are 0.
    cutout       a square of side int(side / 2 + 0.5) set to 0, its centre uniform on
                 {0..side} (odd squares: {0..side - 1}) on each axis, cut at the borders.

The ops run in the order the policy names them (the paper's low-data policy:
"color,translation,cutout"). Unlike the reference's stateful draws, every value comes from the
update's stateless seed and is drawn for the global batch, each replica taking its rows
(models/replicas.py): a resumed run and N mirrored replicas draw what one device draws.
"""
import tensorflow as tf

from models import replicas

OPS = ("color", "translation", "cutout")
# fold_in indices of the two draws of an update: the latents use 0-3, the penalty's eps 7.
REAL, FAKE = 11, 12


def policy_ops(policy):
    """"color,translation" -> ("color", "translation"); "" -> ()."""
    return tuple(op.strip() for op in policy.split(",") if op.strip())


def check_policy(policy):
    """None, or what is wrong with a policy string (the end of a one-line error)."""
    ops = policy_ops(policy)
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        return (f"takes a comma-separated list of {', '.join(OPS)}, got {policy!r} "
                f"({unknown[0]!r} is none of them)")
    if len(set(ops)) != len(ops):
        return f"names an op twice: {policy!r}"
    return None


def _uniform(seed, i, shape, minval=0.0, maxval=1.0, dtype=tf.float32):
    return tf.random.stateless_uniform(
        shape, tf.random.experimental.stateless_fold_in(seed, i, alg="philox"), minval, maxval,
        dtype=dtype, alg="philox")


def color(x, seed, size, global_size):
    u = replicas.own_slice(_uniform(seed, 0, [global_size, 3, 1, 1, 1]), size)
    u = tf.cast(tf.transpose(u, [1, 0, 2, 3, 4]), x.dtype)  # [3, size, 1, 1, 1]
    x = x + (u[0] - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (u[1] * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (u[2] + 0.5) + mean


def _shifted(x, shift, axis, pad):
    """Image b's row (axis 1) or column (axis 2) i is x's i + shift[b], 0 where outside."""
    length = x.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [pad, pad]
    padded = tf.pad(x, padding)
    index = tf.range(length)[None, :] + shift[:, None] + pad  # [size, length] into padded
    return tf.gather(padded, index, axis=axis, batch_dims=1)


def translation(x, seed, size, global_size, ratio=0.125):
    h, w = x.shape[1], x.shape[2]
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = replicas.own_slice(_uniform(seed, 1, [global_size], -sh, sh + 1, tf.int32), size)
    dx = replicas.own_slice(_uniform(seed, 2, [global_size], -sw, sw + 1, tf.int32), size)
    return _shifted(_shifted(x, dy, 1, sh), dx, 2, sw)


def cutout(x, seed, size, global_size, ratio=0.5):
    h, w = x.shape[1], x.shape[2]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = replicas.own_slice(_uniform(seed, 3, [global_size], 0, h + (1 - ch % 2), tf.int32),
                            size)
    cx = replicas.own_slice(_uniform(seed, 4, [global_size], 0, w + (1 - cw % 2), tf.int32),
                            size)
    rows = tf.range(h)[None, :] - (cy - ch // 2)[:, None]  # [size, h]: inside when in [0, ch)
    cols = tf.range(w)[None, :] - (cx - cw // 2)[:, None]
    inside = ((rows >= 0) & (rows < ch))[:, :, None] & ((cols >= 0) & (cols < cw))[:, None, :]
    return x * tf.cast(~inside, x.dtype)[..., None]


FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(images, ops, seed, size, global_size):
    """T(images): this replica's `size` images [size, H, W, C] through `ops` in order, with
    the draws of the global batch from the [2] int64 stateless `seed`."""
    for i, op in enumerate(ops):
        images = FUNCTIONS[op](images, tf.random.experimental.stateless_fold_in(
            seed, i, alg="philox"), size, global_size)
    return images
