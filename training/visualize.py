"""Pictures of a generator: grids of samples and, for 2-D toy data, a scatter of samples over
the real mixture. Which latents a grid holds, and what names its rows and columns, is the
latent's (models/latent.py `grids`: class rows for AC-GAN, code traversals for InfoGAN).

Grids are drawn for people: upscaled (nearest neighbour, so pixels stay pixels) to about
`MIN_TILE` pixels a tile, with each row named (class, code value) and traversal values over the
columns, so a reader needs no README to tell the rows apart. TensorBoard and eval.py's PNGs
show the same pictures.
"""
import io
import math

import matplotlib
import numpy as np
import tensorflow as tf

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the non-interactive backend is chosen)

MIN_TILE = 64      # pixels a grid tile is upscaled to, at least (an integer factor)


def image_grid(images, rows, cols):
    """[rows * cols, H, W, C] in [0, 1] -> one [rows * H, cols * W, C] image, row-major."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    assert n == rows * cols, (n, rows, cols)
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(
        rows * h, cols * w, c)


def grid_png(images, grid):
    """PNG bytes of the samples of a models/latent.py `Grid`, with its labels and title."""
    return labelled_grid_png(images, grid.rows, grid.cols, grid.row_labels, grid.col_labels,
                             grid.title)


def labelled_grid_png(images, rows, cols, row_labels=None, col_labels=None, title=""):
    """PNG bytes of a [rows * cols, H, W, C] grid in [0, 1], upscaled to >= MIN_TILE pixels a
    tile, with optional row / column labels and a title."""
    grid = np.asarray(image_grid(images, rows, cols))
    h, w = grid.shape[0] // rows, grid.shape[1] // cols
    scale = max(1, math.ceil(MIN_TILE / min(h, w)))
    grid = grid.repeat(scale, 0).repeat(scale, 1)
    dpi = 100
    left = 1.1 if row_labels else 0.1
    top = 0.5 if title else 0.1
    bottom = 0.35 if col_labels else 0.1
    width, height = grid.shape[1] / dpi, grid.shape[0] / dpi
    fig = plt.figure(figsize=(width + left + 0.1, height + top + bottom), dpi=dpi)
    ax = fig.add_axes([left / (width + left + 0.1), bottom / (height + top + bottom),
                       width / (width + left + 0.1), height / (height + top + bottom)])
    # RGB, not a colour map: a map's 256-entry table would shift grey levels.
    ax.imshow(np.repeat(grid, 3, axis=-1) if grid.shape[-1] == 1 else grid,
              interpolation="nearest")
    tile_h, tile_w = h * scale, w * scale
    ax.set_yticks([(r + 0.5) * tile_h for r in range(rows)] if row_labels else [])
    ax.set_yticklabels(row_labels or [])
    ax.set_xticks([(c + 0.5) * tile_w for c in range(cols)] if col_labels else [])
    ax.set_xticklabels(col_labels or [])
    ax.tick_params(length=0, labelsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def to_unit(images):
    """Generator output in [-1, 1] -> [0, 1]."""
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def scatter_png(samples, real=None, title=""):
    """PNG bytes of a scatter of 2-D samples (orange) over real points (blue)."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=80)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.4, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:orange", alpha=0.6, label="generated")
    ax.set_xlim(-6, 6)
    ax.set_ylim(-6, 6)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def png_bytes(image):
    """[H, W, C] float in [0, 1] -> PNG bytes."""
    return tf.io.encode_png(tf.cast(tf.round(np.asarray(image) * 255.0), tf.uint8)).numpy()
