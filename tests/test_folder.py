"""Your own images (--dataset=folder:DIR), streamed TFDS splits, readable pictures, sample.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data import datasets
from data.datasets import DatasetError, load, make_train_dataset
from data.folder import probe
from training import visualize
from training.loop import train

import sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_png(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


def flat_folder(root, n=24):
    """n grey 8x8 PNGs, file i filled with the value 10 * i."""
    for i in range(n):
        write_png(os.path.join(root, f"{i:03d}.png"), np.full((8, 8, 1), 10 * i))
    return str(root)


def test_probe_reads_size_and_mode_and_refuses_cut_or_fake_files(tmp_path):
    grey, rgba = tmp_path / "grey.png", tmp_path / "rgba.png"
    write_png(str(grey), np.zeros((5, 7, 1)))
    write_png(str(rgba), np.zeros((6, 4, 4)))
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(tf.io.encode_jpeg(np.zeros((9, 11, 3), np.uint8)).numpy())
    assert probe(str(grey)) == (5, 7, 1)
    assert probe(str(rgba)) == (6, 4, 3)  # alpha is dropped
    assert probe(str(jpeg)) == (9, 11, 3)
    cut = tmp_path / "cut.png"
    cut.write_bytes(grey.read_bytes()[:-20])
    cut_jpeg = tmp_path / "cut.jpg"
    cut_jpeg.write_bytes(jpeg.read_bytes()[:-10])
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    for path, reason in ((cut, "truncated PNG"), (cut_jpeg, "truncated JPEG"),
                         (fake, "not a PNG, JPEG, GIF or BMP")):
        with pytest.raises(ValueError, match=reason):
            probe(str(path))


def test_folder_pipeline_reads_each_file_once_per_epoch_as_a_function_of_seed_and_step(
        tmp_path):
    data = load(f"folder:{flat_folder(tmp_path)}", stream=True)
    assert data.images is None and len(data.files) == 24 and data.spec.shape == (8, 8, 1)
    batches = [x.numpy() for x, _ in make_train_dataset(data, 8, seed=1).take(6)]
    values = [np.round((b[:, 0, 0, 0] + 1) * 127.5).astype(int) for b in batches]
    # Two epochs of 3 batches: each a permutation of the 24 files, in two different orders.
    for epoch in (values[:3], values[3:]):
        assert sorted(np.concatenate(epoch)) == [10 * i for i in range(24)]
    assert not np.array_equal(np.concatenate(values[:3]), np.concatenate(values[3:]))
    resumed = next(iter(make_train_dataset(data, 8, seed=1, start_step=4)))[0].numpy()
    np.testing.assert_array_equal(resumed, batches[4])
    other = next(iter(make_train_dataset(data, 8, seed=2)))[0].numpy()
    assert not np.array_equal(other, batches[0])


def test_a_file_that_passes_the_scan_but_does_not_decode_is_dropped_not_fatal(tmp_path):
    flat_folder(tmp_path, n=9)
    good = (tmp_path / "000.png").read_bytes()
    # Header and IEND intact, compressed pixels garbled: only decoding can tell.
    (tmp_path / "000.png").write_bytes(good[:41] + b"\x00" * (len(good) - 41 - 12) + good[-12:])
    data = load(f"folder:{tmp_path}", stream=True)
    assert len(data.files) == 9  # the scan accepted it
    x = np.concatenate([b[0].numpy() for b in make_train_dataset(data, 8, seed=0).take(3)])
    assert x.shape == (24, 8, 8, 1)
    assert 0 not in np.round((x[:, 0, 0, 0] + 1) * 127.5).astype(int)


def test_dcgan_trains_on_a_flat_folder(tmp_path, make_config):
    root = flat_folder(tmp_path / "images")
    config = make_config(model="dcgan", dataset=f"folder:{root}")
    train(config, verbose=0)
    saved = json.loads(open(os.path.join(config.workdir, "config.json")).read())
    assert saved["dataset_used"] == f"folder:{root}" and saved["class_names"] is None
    assert saved["dataset_note"] == f"folder {root}: 24 images"
    samples = tf.saved_model.load(os.path.join(config.workdir, "saved_model")).signatures[
        "sample"](num_samples=tf.constant(3), seed=tf.constant(0))["samples"]
    assert samples.shape == (3, 8, 8, 1)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """acgan, 2 steps, on class folders holding what real folders hold: grey and colour files,
    two sizes, a truncated PNG and a text file named like a JPEG."""
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        for i in range(8):
            write_png(str(root / "images" / name / f"grey{i}.png"),
                      rng.integers(0, 255, (8, 8, 1)))
            write_png(str(root / "images" / name / f"colour{i}.png"),
                      rng.integers(0, 255, (12, 10, 3)))
    whole = (root / "images" / "cats" / "grey0.png").read_bytes()
    (root / "images" / "cats" / "cut.png").write_bytes(whole[:len(whole) // 2])
    (root / "images" / "dogs" / "notes.jpg").write_text("not an image")
    workdir = root / "run"
    train(datasets_config(workdir, f"folder:{root / 'images'}"), verbose=0)
    return root


def datasets_config(workdir, dataset, **overrides):
    from training.config import Config
    fields = dict(model="acgan", dataset=dataset, workdir=str(workdir), train_steps=2,
                  steps_per_epoch=2, batch_size=8, width=8, jit_compile=False, image_size=8)
    fields.update(overrides)
    return Config(**fields)


def test_acgan_trains_on_class_folders_skipping_bad_files_and_records_the_classes(class_run):
    saved = json.loads((class_run / "run" / "config.json").read_text())
    assert saved["class_names"] == ["cats", "dogs"]
    note = saved["dataset_note"]
    assert "32 images, 2 classes (cats, dogs)" in note
    assert "skipped 2 unreadable or truncated file(s) (cats/cut.png: truncated PNG; " \
           "dogs/notes.jpg: not a PNG, JPEG, GIF or BMP image)" in note
    assert "2 sizes (8x8 to 12x10) centre-cropped and resized to 8x8" in note
    assert "grey and colour files mixed: read as 3 channel(s)" in note
    model = tf.saved_model.load(str(class_run / "run" / "saved_model"))
    assert [n.decode() for n in model.signatures["class_names"]()["names"].numpy()] == [
        "cats", "dogs"]
    out = model.signatures["sample"](num_samples=tf.constant(2), seed=tf.constant(0))
    assert out["samples"].shape == (2, 8, 8, 3)


def _bad_folders(root):
    os.makedirs(root / "empty")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("no pictures here")
    (root / "broken").mkdir()
    (root / "broken" / "a.png").write_text("not a png")
    (root / "broken" / "b.jpg").write_bytes(b"\xff\xd8\xff")
    flat_folder(root / "flat", n=4)
    write_png(str(root / "mixed" / "small.png"), np.zeros((8, 8, 1)))
    write_png(str(root / "mixed" / "large.png"), np.zeros((16, 12, 3)))
    flat_folder(root / "loose" / "a", n=2)
    flat_folder(root / "loose", n=2)
    flat_folder(root / "one_class" / "a", n=2)
    flat_folder(root / "empty_class" / "a", n=2)
    (root / "empty_class" / "b").mkdir()


BAD_FOLDERS = [
    ("missing", "dcgan", "{root}/missing does not exist; pass --dataset=folder:DIR"),
    ("empty", "dcgan", "{root}/empty holds no images (.png, .jpg, .jpeg, .gif, .bmp)"),
    ("notes", "dcgan", "{root}/notes holds no images"),
    ("broken", "dcgan", "none of the 2 image files in {root}/broken can be read (a.png: not a "
                        "PNG, JPEG, GIF or BMP image); check the files"),
    ("flat", "acgan", "acgan needs one sub-folder per class in {root}/flat, which is flat (4 "
                      "images directly in it)"),
    ("mixed", "dcgan", "{root}/mixed has images of 2 sizes (8x8 to 16x12); pass "
                       "--image_size=S to centre-crop and resize them all to SxS"),
    ("loose", "acgan", "{root}/loose has 2 images beside its class sub-folders"),
    ("one_class", "acgan", "acgan needs at least 2 classes"),
    ("empty_class", "acgan", "class folder {root}/empty_class/b holds no images"),
]


@pytest.mark.parametrize("name, model, message", BAD_FOLDERS, ids=[b[0] for b in BAD_FOLDERS])
def test_bad_folder_stops_before_any_write_with_the_fix(tmp_path, name, model, message):
    _bad_folders(tmp_path)
    config = datasets_config(tmp_path / "run", f"folder:{tmp_path / name}", model=model,
                             image_size=None)
    with pytest.raises(DatasetError) as error:
        train(config, verbose=0)
    assert message.format(root=tmp_path) in str(error.value)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


class TinyDigits:
    """A real tensorflow-datasets builder (prepared locally, nothing downloaded): image i of
    the 40 training examples is filled with the value i."""

    @staticmethod
    def register():
        import tensorflow_datasets as tfds

        class TinyDigitsBuilder(tfds.core.GeneratorBasedBuilder):
            name = "tiny_digits_for_tests"
            VERSION = tfds.core.Version("1.0.0")

            def _info(self):
                return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=4)}))

            def _split_generators(self, dl_manager):
                return {"train": self._generate_examples(40), "test": self._generate_examples(4)}

            def _generate_examples(self, n):
                for i in range(n):
                    yield i, {"image": np.full((8, 8, 1), i, np.uint8), "label": i % 4}

        return TinyDigitsBuilder


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory):
    builder = TinyDigits.register()
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    builder(data_dir=data_dir).download_and_prepare()
    return datasets.DatasetSpec("tiny_digits", (8, 8, 1), 4, builder.name, "unreachable.invalid"
                                ), data_dir


def test_tfds_split_streams_each_example_once_per_epoch_and_resumes_exactly(tiny_tfds,
                                                                          monkeypatch):
    spec, data_dir = tiny_tfds
    monkeypatch.setitem(datasets.DATASETS, spec.name, spec)
    # Blocks of 16 images: an epoch of 40 is permuted in three blocks, never held whole.
    monkeypatch.setattr(datasets, "SHUFFLE_BLOCK_BYTES", 16 * 8 * 8)
    data = load(spec.name, data_dir, stream=True)
    assert data.images is None and data.size == 40
    batches = list(make_train_dataset(data, 8, seed=3).take(10))
    values = np.concatenate([np.round((x.numpy()[:, 0, 0, 0] + 1) * 127.5) for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    np.testing.assert_array_equal(labels, values.astype(int) % 4)
    for epoch in (values[:40], values[40:]):
        assert sorted(epoch.astype(int)) == list(range(40))
        assert not np.array_equal(epoch, np.sort(epoch))  # shuffled
    assert not np.array_equal(values[:40], values[40:])
    for start in (3, 6):  # mid-epoch, and across the epoch boundary
        resumed = list(make_train_dataset(data, 8, seed=3, start_step=start).take(2))
        for (x, y), (x0, y0) in zip(resumed, batches[start:start + 2]):
            np.testing.assert_array_equal(x.numpy(), x0.numpy())
            np.testing.assert_array_equal(y.numpy(), y0.numpy())
    test = load(spec.name, data_dir, split="test")  # evaluation still gets arrays
    assert test.images.shape == (4, 8, 8, 1)


def test_labelled_grid_is_upscaled_pixel_for_pixel_with_named_rows():
    levels = np.arange(6) * 40 + 20  # one grey level per tile
    tiles = np.repeat(levels, 64).reshape(6, 8, 8, 1) / 255.0
    plain = tf.io.decode_png(visualize.labelled_grid_png(tiles, 2, 3)).numpy()
    named = tf.io.decode_png(visualize.labelled_grid_png(tiles, 2, 3, ["cats", "dogs"],
                                                         title="t")).numpy()
    # The names take width the tiles had: the named grid's blocks are smaller.
    assert (named[..., 0] == levels[0]).sum() < (plain[..., 0] == levels[0]).sum()
    for picture in (plain, named):  # as wide as TensorBoard's card, which then shows it 1:1
        assert picture.shape[0] >= 2 * 64 and picture.shape[1] == visualize.CARD_WIDTH
        for level in levels:  # each 8x8 tile drawn as a block (>= 64x64) of its own grey
            assert (picture[..., 0] == level).sum() >= 0.95 * 64 * 64


def test_grids_name_classes_codes_and_traversal_values():
    from models import ClassLatent, CodeLatent, LatentSpec
    from models.latent import GRID_COLUMNS
    acgan, infogan = ClassLatent(4, num_classes=2), CodeLatent(4, num_categorical=3, num_continuous=1)
    classes = acgan.grids(class_names=("cats", "dogs"))["classes"]
    assert classes.row_labels == ["cats", "dogs"] and (classes.rows, classes.cols) == (2, GRID_COLUMNS)
    assert acgan.grids()["classes"].row_labels == ["0", "1"]
    # The class grid: the same noise down each column, one class a row.
    z, labels = classes.latents["z"].numpy(), classes.latents["labels"].numpy()
    np.testing.assert_array_equal(z[:GRID_COLUMNS], z[GRID_COLUMNS:])
    assert labels.tolist() == [0] * GRID_COLUMNS + [1] * GRID_COLUMNS
    grids = infogan.grids()
    assert set(grids) == {"categorical", "continuous_0"}
    sweep = grids["continuous_0"]
    assert sweep.row_labels == ["c=0", "c=1", "c=2"]
    assert sweep.col_labels[0] == "-2.0" and sweep.col_labels[-1] == "+2.0"
    assert len(sweep.col_labels) == GRID_COLUMNS
    codes = sweep.latents["continuous"].numpy()[:GRID_COLUMNS, 0]
    np.testing.assert_allclose(codes, np.linspace(-2, 2, GRID_COLUMNS), rtol=1e-6)
    assert list(LatentSpec(4).grids()) == ["samples"] and LatentSpec(4).grids()["samples"].rows == 8


def test_sample_py_draws_a_class_by_name_or_index_and_refuses_bad_labels(class_run, tmp_path):
    saved_model = str(class_run / "run" / "saved_model")
    by_name = sample.write_samples(saved_model, str(tmp_path / "dogs.png"), 5, "dogs", seed=4)
    by_index = sample.write_samples(saved_model, str(tmp_path / "one.png"), 5, "1", seed=4)
    np.testing.assert_array_equal(by_name, by_index)
    cats = sample.write_samples(saved_model, str(tmp_path / "cats.png"), 5, "cats", seed=4)
    assert not np.array_equal(cats, by_name)  # same noise, other class
    # With --label the noise is the one `sample` draws for the seed.
    model = tf.saved_model.load(saved_model)
    drawn = model.signatures["sample"](num_samples=tf.constant(5), seed=tf.constant(4))
    dogs = drawn["labels"].numpy() == 1
    np.testing.assert_allclose(by_name[dogs], drawn["samples"].numpy()[dogs], atol=1e-6)
    assert tf.io.decode_png((tmp_path / "dogs.png").read_bytes()).shape[0] >= 2 * 64
    for label, message in (("7", r"--label=7 is out of range; pass an index in \[0, 2\)"),
                           ("birds", "--label=birds is not a class of this generator; pass an "
                                     r"index in \[0, 2\) or one of cats, dogs")):
        with pytest.raises(sample.SampleError, match=message):
            sample.write_samples(saved_model, str(tmp_path / "x.png"), 4, label)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "sample.py"),
                             f"--saved_model={saved_model}", "--num=5", "--label=dogs",
                             "--seed=4", f"--out={tmp_path / 'cli.png'}"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cli.png").read_bytes() == (tmp_path / "dogs.png").read_bytes()


def test_eval_of_a_folder_run_writes_named_class_grids_and_says_why_nothing_is_scored(
        class_run, tmp_path):
    from metrics import evaluation
    dataset = json.loads((class_run / "run" / "config.json").read_text())["dataset_used"]
    result = evaluation.evaluate(str(class_run / "run" / "saved_model"), dataset,
                                 str(tmp_path / "eval"), log=lambda *a: None, progress=False)
    assert [r["metric"] for r in result["rows"]] == ["metrics"]
    assert "no held-out split" in result["rows"][0]["note"]
    grid = tf.io.decode_png((tmp_path / "eval" / "classes.png").read_bytes()).numpy()
    # Two named rows of ten 8-pixel samples, upscaled 3x: as far as the card's width allows
    # beside the names.
    assert grid.shape[0] >= 2 * 8 * 3 and grid.shape[1] == visualize.CARD_WIDTH
    assert (tmp_path / "eval" / "samples.png").exists()
