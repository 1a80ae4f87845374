"""The pictures as TensorBoard's images tab shows them: within the card, every label, column
value and title readable at the card's scale, nothing drawn over anything else, and the samples
pixel for pixel (an integer upscale, nearest neighbour). Checked on the figure that is saved,
with the text extents as Agg draws them, and on the decoded PNG."""
import itertools

import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from models import ClassLatent, CodeLatent, LatentSpec
from training import visualize

# CSS pixels: the width TensorBoard 2.21's images tab (default: "show actual image size" off)
# scales a picture to, measured on a headless-Chromium screenshot (1400 x 1000 window) of an
# AC-GAN run's `classes` card: the old 960-pixel picture's 840-pixel grid spanned 306 screen
# pixels (840 * 350 / 960); the frontend's tf-image-loader CSS says `width: 350px`.
CARD_WIDTH = 350
READABLE_PX = 11  # the smallest em, in screen pixels, that we call readable


def _random(n, side, channels, seed=0):
    return np.random.default_rng(seed).random((n, side, side, channels))


def _cases():
    """(name, images, rows, cols, row labels, column labels, title) of every grid the project
    draws: the latents' grids (models/latent.py), eval.py's 10 x 10, sample.py's few, a folder
    run's long class names, and the datasets' sides (28, 32, 64)."""
    specs = {"acgan": ClassLatent(4), "infogan": CodeLatent(4), "dcgan": LatentSpec(4),
             "folder": ClassLatent(4, num_classes=3)}
    names = {"folder": ("golden_retriever", "cat", "dog")}
    for model, spec in specs.items():
        for tag, grid in spec.grids(class_names=names.get(model, ())).items():
            yield (f"{model}/{tag}", _random(grid.rows * grid.cols, 28, 1), grid.rows, grid.cols,
                   grid.row_labels, grid.col_labels, grid.title)
    yield "eval/mnist", _random(100, 28, 1), 10, 10, None, None, "samples, seed 2"
    yield "eval/cifar10", _random(100, 32, 3), 10, 10, None, None, "samples, seed 2"
    yield "sample.py/5", _random(6, 28, 1), 2, 3, None, None, "class 1 (dogs), seed 4"
    yield "celeb_a/real", _random(64, 64, 3), 8, 8, None, None, "real images"
    yield ("celeb_a/infogan", _random(100, 64, 3), 10, 10, [f"c={k}" for k in range(10)],
           [f"{v:+.1f}" for v in np.linspace(-2, 2, 10)], "continuous code 0 across the columns")


CASES = list(_cases())


def _texts(fig):
    """The text drawn in `fig` (visible, not empty)."""
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def _shown_scale(width):
    """How much the card shrinks a picture `width` pixels wide (a narrower one it stretches,
    which only helps the text: 1 is the bound that holds either way)."""
    return min(1.0, CARD_WIDTH / width)


def _box(extent):
    return np.array([extent.x0, extent.y0, extent.x1, extent.y1])


def _corners(text, renderer):
    """[4, 2] pixel corners of the rectangle `text` is drawn in, turned with the text (a
    slanted label's upright box would claim its neighbours' corners)."""
    angle = np.deg2rad(text.get_rotation())
    upright = text.get_rotation()
    text.set_rotation(0)
    w, h = text.get_window_extent(renderer).size
    text.set_rotation(upright)
    centre = text.get_window_extent(renderer).get_points().mean(0)
    along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle),
                                                                        np.cos(angle)])
    return np.array([centre + a * w / 2 * along + b * h / 2 * across
                     for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _overlap(a, b):
    """Whether two convex quadrilaterals ([4, 2] corners) share area: no edge normal of either
    separates them (the separating axis theorem)."""
    for quad in (a, b):
        for edge in np.roll(quad, -1, 0) - quad:
            normal = np.array([-edge[1], edge[0]])
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() + 1e-6 or pb.max() <= pa.min() + 1e-6:
                return False
    return True


def _rectangle(box):
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_grid_text_is_readable_on_the_card_and_drawn_over_nothing(case):
    _, images, rows, cols, row_labels, col_labels, title = case
    fig = visualize.grid_figure(images, rows, cols, row_labels, col_labels, title)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.canvas.get_width_height()
        png = tf.io.decode_png(visualize._png(fig)).numpy()
        assert png.shape[:2] == (height, width)  # what is measured here is what is saved
        # As wide as the card, so that it shows the picture pixel for pixel; wider only when
        # even unscaled tiles and their names overflow it (then the text grows, as checked).
        samples_width = fig.axes[0].get_window_extent(renderer).width
        assert width == CARD_WIDTH or round(samples_width) == cols * images.shape[2]
        texts = _texts(fig)
        assert texts or not (row_labels or col_labels or title)
        for text in texts:
            shown = text.get_fontsize() * visualize.DPI / 72 * _shown_scale(width)
            assert shown >= READABLE_PX, (text.get_text(), shown)
        quads = [_corners(t, renderer) for t in texts]
        samples = _rectangle(_box(fig.axes[0].get_window_extent(renderer)))
        for quad, text in zip(quads, texts):
            assert quad.min() >= 0 and (quad.max(0) <= (width, height)).all(), (
                text.get_text(), quad, (width, height))  # not cut off at the edge
            assert not _overlap(quad, samples), text.get_text()
        for (a, ta), (b, tb) in itertools.combinations(zip(quads, texts), 2):
            assert not _overlap(a, b), (ta.get_text(), tb.get_text())
        # The content is unchanged: the same names, values and title (wrapped, not cut).
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == list(row_labels or [])
        assert [t.get_text() for t in ax.get_xticklabels()] == list(col_labels or [])
        assert " ".join(t.get_text().replace("\n", " ") for t in fig.texts) == title
    finally:
        matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_grid_samples_are_drawn_pixel_for_pixel_at_an_integer_scale(case):
    _, images, rows, cols, row_labels, col_labels, title = case
    png = tf.io.decode_png(visualize.labelled_grid_png(images, rows, cols, row_labels,
                                                       col_labels, title), channels=3).numpy()
    fig = visualize.grid_figure(images, rows, cols, row_labels, col_labels, title)
    x0, y0, x1, y1 = _box(fig.axes[0].get_window_extent()).round().astype(int)
    matplotlib.pyplot.close(fig)
    drawn = png[png.shape[0] - y1:png.shape[0] - y0, x0:x1].astype(int)
    scale = drawn.shape[1] // (cols * images.shape[2])
    assert scale >= 1 and drawn.shape[:2] == (rows * images.shape[1] * scale,
                                              cols * images.shape[2] * scale)
    grid = visualize.image_grid(images, rows, cols).repeat(scale, 0).repeat(scale, 1)
    expected = np.round(np.broadcast_to(grid, grid.shape[:2] + (3,)) * 255).astype(int)
    assert np.abs(drawn - expected).max() <= 1
    if not row_labels:  # the largest such scale: one more would overflow the card
        assert (scale + 1) * cols * images.shape[2] > CARD_WIDTH - 2 * visualize.PAD


def test_scatter_fits_the_card_with_readable_text():
    rng = np.random.default_rng(0)
    fig = visualize.scatter_figure(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)),
                                   title="step 4")
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.canvas.get_width_height()
        assert width <= CARD_WIDTH
        texts = _texts(fig)
        assert {"real", "generated", "step 4"} <= {t.get_text() for t in texts}
        for text in texts:
            assert text.get_fontsize() * visualize.DPI / 72 * _shown_scale(width) >= READABLE_PX
            box = _box(text.get_window_extent(renderer))
            assert box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
    finally:
        matplotlib.pyplot.close(fig)
    png = tf.io.decode_png(visualize.scatter_png(np.zeros((4, 2)), title="t")).numpy()
    assert png.shape[:2] == (height, width)
