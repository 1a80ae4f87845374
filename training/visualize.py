"""Pictures of a generator: grids of samples and, for 2-D toy data, a scatter of samples over
the real mixture. Which latents a grid holds, and what names its rows and columns, is the
latent's (models/latent.py `grids`: class rows for AC-GAN, code traversals for InfoGAN).

Pictures are drawn for TensorBoard's images tab, which shows each one scaled to its card's width
(`CARD_WIDTH`) unless "show actual image size" is ticked: a grid's tiles are upscaled by the
largest integer factor (nearest neighbour, so pixels stay pixels) that keeps the picture within
the card, and the picture is padded to the card's width so that the card shows it pixel for
pixel. Each row is named (class, code value), traversal values stand under the columns, and the
text is `TEXT_PX` pixels as the card shows it; when even unscaled tiles overflow the card the
text grows with the picture. eval.py's PNGs are the same pictures.
"""
import io
import math

import matplotlib
import numpy as np
import tensorflow as tf

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the non-interactive backend is chosen)
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

DPI = 100          # figure dots an inch: sizes below are pixels, fonts are turned into points
CARD_WIDTH = 350   # pixels TensorBoard's images tab scales a picture to (tf-image-loader's CSS)
TEXT_PX = 12       # pixels a label's em is on the card; the title's is one more
PAD = 6            # pixels of white around the picture and between text and samples


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
    """PNG bytes of a [rows * cols, H, W, C] grid in [0, 1], tiles upscaled to fit the card,
    with optional row / column labels and a title (`grid_figure`)."""
    return _png(grid_figure(images, rows, cols, row_labels, col_labels, title))


def grid_figure(images, rows, cols, row_labels=None, col_labels=None, title=""):
    """The matplotlib figure of `labelled_grid_png`, `DPI` dots an inch (the caller closes it)."""
    grid = np.asarray(image_grid(images, rows, cols))
    h, w = grid.shape[0] // rows, grid.shape[1] // cols
    font = TEXT_PX
    for _ in range(20):  # text that the card shrinks grows with the picture; a few rounds settle
        layout = _grid_layout(h, w, rows, cols, row_labels, col_labels, title, font)
        if font * CARD_WIDTH >= TEXT_PX * layout["width"]:
            break
        font = TEXT_PX * layout["width"] / CARD_WIDTH
    scale, width, height = layout["scale"], layout["width"], layout["height"]
    grid = grid.repeat(scale, 0).repeat(scale, 1)
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes([layout["x"] / width, layout["bottom"] / height,
                       grid.shape[1] / width, grid.shape[0] / height])
    # RGB, not a colour map: a map's 256-entry table would shift grey levels.
    ax.imshow(np.repeat(grid, 3, axis=-1) if grid.shape[-1] == 1 else grid,
              interpolation="nearest")
    tile_h, tile_w = h * scale, w * scale
    ax.set_yticks([(r + 0.5) * tile_h for r in range(rows)] if row_labels else [])
    ax.set_yticklabels(row_labels or [])
    ax.set_xticks([(c + 0.5) * tile_w for c in range(cols)] if col_labels else [])
    ax.set_xticklabels(col_labels or [], **(
        {"rotation": 45, "ha": "right", "rotation_mode": "anchor"} if layout["slant"] else {}))
    ax.tick_params(length=0, labelsize=_points(font), pad=_points(PAD))
    for spine in ax.spines.values():
        spine.set_visible(False)
    if layout["lines"]:
        fig.text(layout["title_x"] / width, 1 - PAD / height, "\n".join(layout["lines"]),
                 ha="center", va="top", fontsize=_points(font + 1), linespacing=1.2)
    return fig


def _grid_layout(h, w, rows, cols, row_labels, col_labels, title, font):
    """Pixel layout of a grid of h x w tiles with `font`-pixel labels: the tiles' integer
    `scale`, the picture's `width` and `height`, the grid's left `x` and `bottom`, whether the
    column labels `slant` (45 degrees, when wider than a tile), the title's wrapped `lines`."""
    left = PAD + (max(_text_width(s, font) for s in row_labels) + PAD if row_labels else 0)
    scale = max(1, (CARD_WIDTH - left - PAD) // (cols * w))
    tile_w = w * scale
    bottom, slant = PAD, False
    if col_labels:
        widest = max(_text_width(s, font) for s in col_labels)
        slant = widest > tile_w - PAD
        if slant:  # each label's top right corner at its column, running down to the left
            left = max(left, PAD + math.ceil(widest * 0.71 - tile_w / 2))
            bottom += PAD + math.ceil((widest + font) * 0.71)
        else:
            bottom += PAD + math.ceil(1.2 * font)
    grid_w = cols * tile_w
    width = max(CARD_WIDTH, left + grid_w + PAD)
    x = left + (width - left - grid_w - PAD) // 2
    lines = _wrap(title, font + 1, width - 2 * PAD) if title else []
    top = PAD + (math.ceil(1.2 * (font + 1) * len(lines)) + PAD if lines else 0)
    widest_line = max([_text_width(s, font + 1) for s in lines], default=0)
    title_x = min(max(x + grid_w / 2, PAD + widest_line / 2), width - PAD - widest_line / 2)
    return {"scale": scale, "width": width, "height": top + rows * h * scale + bottom,
            "x": x, "bottom": bottom, "slant": slant, "lines": lines, "title_x": title_x}


def _points(pixels):
    return pixels * 72 / DPI


def _text_width(text, pixels):
    """Width in pixels of one line of `text` with a `pixels`-pixel em, as Agg draws it."""
    renderer = RendererAgg(1, 1, DPI)
    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=_points(pixels)), ismath=False)
    return math.ceil(width)


def _wrap(text, pixels, width):
    """`text` broken between words into lines at most `width` pixels wide (a longer word
    keeps its own line)."""
    lines = []
    for word in text.split():
        if lines and _text_width(lines[-1] + " " + word, pixels) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def to_unit(images):
    """Generator output in [-1, 1] -> [0, 1]."""
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def scatter_png(samples, real=None, title=""):
    """PNG bytes of a scatter of 2-D samples (orange) over real points (blue)."""
    return _png(scatter_figure(samples, real, title))


def scatter_figure(samples, real=None, title=""):
    """The matplotlib figure of `scatter_png`: a square as wide as the card, `DPI` dots an
    inch, its text `TEXT_PX` pixels (the caller closes it)."""
    with plt.rc_context({"font.size": _points(TEXT_PX), "axes.titlesize": _points(TEXT_PX + 1)}):
        fig, ax = plt.subplots(figsize=(CARD_WIDTH / DPI, CARD_WIDTH / DPI), dpi=DPI,
                               layout="constrained")
        if real is not None:
            ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.4, label="real")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:orange", alpha=0.6,
                   label="generated")
        ax.set_xlim(-6, 6)
        ax.set_ylim(-6, 6)
        ax.set_aspect("equal")
        ax.legend(loc="upper right", markerscale=4)
        ax.set_title(title)
    return fig


def png_bytes(image):
    """[H, W, C] float in [0, 1] -> PNG bytes."""
    return tf.io.encode_png(tf.cast(tf.round(np.asarray(image) * 255.0), tf.uint8)).numpy()
