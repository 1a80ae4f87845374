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
(backends/): a resumed run and N mirrored replicas draw what one device draws.
"""
from keras import ops

import backends

OPS = ("color", "translation", "cutout")
# fold_in indices of the two draws of an update: the latents use 0-3, the penalty's eps 7.
REAL, FAKE = 11, 12


def policy_ops(policy):
    """"color,translation" -> ("color", "translation"); "" -> ()."""
    return tuple(op.strip() for op in policy.split(",") if op.strip())


def check_policy(policy):
    """None, or what is wrong with a policy string (the end of a one-line error)."""
    ops_ = policy_ops(policy)
    unknown = [op for op in ops_ if op not in OPS]
    if unknown:
        return (f"takes a comma-separated list of {', '.join(OPS)}, got {policy!r} "
                f"({unknown[0]!r} is none of them)")
    if len(set(ops_)) != len(ops_):
        return f"names an op twice: {policy!r}"
    return None


def _uniform(seed, i, shape, size, minval=0.0, maxval=1.0, dtype="float32"):
    """This replica's `size` rows of a draw `i` for the global batch (shape[0])."""
    return backends.own_rows(backends.uniform(shape, backends.fold_in(seed, i), minval, maxval,
                                              dtype), size)


def color(x, seed, size, global_size):
    u = _uniform(seed, 0, [global_size, 3, 1, 1, 1], size)
    u = ops.cast(ops.transpose(u, [1, 0, 2, 3, 4]), x.dtype)  # [3, size, 1, 1, 1]
    x = x + (u[0] - 0.5)
    mean = ops.mean(x, axis=3, keepdims=True)
    x = (x - mean) * (u[1] * 2.0) + mean
    mean = ops.mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * (u[2] + 0.5) + mean


def _shifted(x, shift, axis, pad):
    """Image b's row (axis 1) or column (axis 2) i is x's i + shift[b], 0 where outside."""
    length = x.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [pad, pad]
    padded = ops.pad(x, padding)
    index = ops.arange(length)[None, :] + shift[:, None] + pad  # [size, length] into padded
    index = ops.reshape(index, [-1, length, 1, 1] if axis == 1 else [-1, 1, length, 1])
    return ops.take_along_axis(padded, index, axis=axis)  # index broadcast over the rest


def translation(x, seed, size, global_size, ratio=0.125):
    h, w = x.shape[1], x.shape[2]
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _uniform(seed, 1, [global_size], size, -sh, sh + 1, "int32")
    dx = _uniform(seed, 2, [global_size], size, -sw, sw + 1, "int32")
    return _shifted(_shifted(x, dy, 1, sh), dx, 2, sw)


def cutout(x, seed, size, global_size, ratio=0.5):
    h, w = x.shape[1], x.shape[2]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _uniform(seed, 3, [global_size], size, 0, h + (1 - ch % 2), "int32")
    cx = _uniform(seed, 4, [global_size], size, 0, w + (1 - cw % 2), "int32")
    rows = ops.arange(h)[None, :] - (cy - ch // 2)[:, None]  # [size, h]: inside when in [0, ch)
    cols = ops.arange(w)[None, :] - (cx - cw // 2)[:, None]
    inside = (ops.logical_and(rows >= 0, rows < ch)[:, :, None]
              & ops.logical_and(cols >= 0, cols < cw)[:, None, :])
    return x * ops.cast(ops.logical_not(inside), x.dtype)[..., None]


FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(images, ops_, seed, size, global_size):
    """T(images): this replica's `size` images [size, H, W, C] through `ops_` in order, with
    the draws of the global batch from the update's stateless `seed`."""
    for i, op in enumerate(ops_):
        images = FUNCTIONS[op](images, backends.fold_in(seed, i), size, global_size)
    return images
