"""The exported generator: contract of `sample` and `serving_default`, loadable without the repo."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data.datasets import load
from training.config import Config, resolve
from training.loop import build_gan, train
from training.checkpoints import make_checkpoint

from metrics import evaluation
from models import latent_of_export

RUNS = {"acgan": "mnist_5k", "infogan": "mnist_5k", "dcgan": "mnist_5k", "gan": "ring8"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    for model, dataset in RUNS.items():
        train(Config(model=model, dataset=dataset, workdir=str(root / model), train_steps=2,
                     steps_per_epoch=2, batch_size=8, width=8, jit_compile=False), verbose=0)
    return root


def _restored_gan(workdir):
    config = resolve(Config.load(os.path.join(workdir, "config.json")))
    variant = config.variant
    data = load(config.dataset_used)
    gan = build_gan(config, data.spec.shape, data.spec.num_classes)
    manager = tf.train.CheckpointManager(make_checkpoint(gan), workdir + "/checkpoints", 3)
    make_checkpoint(gan).restore(manager.latest_checkpoint).assert_existing_objects_matched()
    return gan


@pytest.mark.parametrize("model", list(RUNS))
def test_sample_signature_is_deterministic_with_stated_shapes_and_ranges(runs, model):
    check_sample_signature(runs / model / "saved_model", model)


def check_sample_signature(saved_model, model):
    sampler = tf.saved_model.load(str(saved_model)).signatures["sample"]
    a = sampler(num_samples=tf.constant(12), seed=tf.constant(3))
    b = sampler(num_samples=tf.constant(12), seed=tf.constant(3))
    c = sampler(num_samples=tf.constant(12), seed=tf.constant(4))
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert not np.allclose(a["samples"].numpy(), c["samples"].numpy())
    samples = a["samples"]
    assert samples.dtype == tf.float32
    if RUNS[model] == "ring8":
        assert samples.shape == (12, 2)
    else:
        assert samples.shape == (12, 28, 28, 1)
        assert 0.0 <= float(tf.reduce_min(samples)) and float(tf.reduce_max(samples)) <= 1.0
    expected = {"acgan": {"samples", "labels"}, "infogan": {"samples", "categorical", "continuous"}}
    assert set(a) == expected.get(model, {"samples"})
    if model == "acgan":
        assert a["labels"].dtype == tf.int32 and a["labels"].shape == (12,)
        assert set(a["labels"].numpy()) <= set(range(10))
    if model == "infogan":
        assert a["categorical"].dtype == tf.int32 and a["continuous"].shape == (12, 2)
        assert np.all(np.abs(a["continuous"].numpy()) <= 1.0)
    assert sampler(num_samples=tf.constant(0), seed=tf.constant(0))["samples"].shape[0] == 0


@pytest.mark.parametrize("model", list(RUNS))
def test_serving_default_matches_in_memory_generator(runs, model):
    workdir = str(runs / model)
    gan = _restored_gan(workdir)
    loaded = tf.saved_model.load(workdir + "/saved_model")
    latents = gan.latent.sample(6, [9, 9])
    feed = {"z": latents["z"]}
    for key in ("labels", "categorical", "continuous"):
        if key in latents:
            feed[key] = latents[key]
    exported = loaded.signatures["serving_default"](**feed)["samples"].numpy()
    in_memory = gan.generator(gan.latent.generator_input(latents), training=False).numpy()
    if RUNS[model] != "ring8":
        in_memory = np.clip((in_memory + 1) / 2, 0, 1)
    else:  # PacGAN's protocol trains on ring8 / 2: the export gives the data's coordinates
        assert gan.variant.data_scale == 2.0
        in_memory = in_memory * 2.0
        np.testing.assert_allclose(gan.samples(latents).numpy(), in_memory, atol=1e-6)
    np.testing.assert_allclose(exported, in_memory, atol=1e-6)
    # `sample` is the same generator on the latents it reports, and a reader of the export
    # (eval.py, sample.py) rebuilds the very latent training drew from: InfoGAN's noise is
    # U(-1, 1), the others' N(0, I).
    drawn = loaded.signatures["sample"](num_samples=tf.constant(5), seed=tf.constant(1))
    assert latent_of_export(loaded) == gan.latent
    assert gan.latent.noise == ("uniform" if model == "infogan" else "normal")
    again = loaded.signatures["serving_default"](**{
        k: v for k, v in latent_of_export(loaded).sample(5, tf.constant([1, 0])).items()
        if k == "z" or k not in drawn}, **{k: v for k, v in drawn.items() if k != "samples"})
    np.testing.assert_allclose(again["samples"].numpy(), drawn["samples"].numpy(), atol=1e-6)


def test_sample_rejects_negative_count_and_out_of_range_labels(runs):
    loaded = tf.saved_model.load(str(runs / "acgan" / "saved_model"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be >= 0"):
        loaded.signatures["sample"](num_samples=tf.constant(-1), seed=tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        loaded.signatures["serving_default"](z=tf.zeros([1, 100]), labels=tf.constant([10]))


LOAD_WITHOUT_REPO = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("data", "losses", "models", "training", "train", "eval"):
            raise ImportError("the repo must not be needed: " + name)
sys.meta_path.insert(0, Block())
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
out = m.signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(7))
spec = {k: int(v) for k, v in m.signatures["latent_spec"]().items()}
print(json.dumps({"keys": sorted(out), "shape": out["samples"].shape.as_list(), "spec": spec}))
"""


def test_saved_model_loads_and_samples_without_this_repo(runs, tmp_path):
    env = dict(os.environ, PYTHONPATH="")
    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_REPO,
                             str(runs / "acgan" / "saved_model")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"keys": ["labels", "samples"], "shape": [4, 28, 28, 1],
                   "spec": {"noise_dim": 100, "num_classes": 10, "num_categorical": 0,
                            "num_continuous": 0, "noise_uniform": 0}}


def _offset_of(picture, block, near, reach=4):
    """(row, col) within `reach` pixels of `near` where `block` [h, w, 3] lies in `picture`
    to within 1 grey level, else None."""
    h, w = block.shape[:2]
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            r, c = near[0] + dr, near[1] + dc
            window = picture[r:r + h, c:c + w, :3].astype(int)
            if r >= 0 and c >= 0 and window.shape[:2] == (h, w) and (
                    np.abs(window - block).max() <= 1):
                return r, c
    return None


@pytest.mark.parametrize("model", list(RUNS))
def test_eval_writes_a_png_of_exactly_the_exported_samples(runs, model):
    """eval.py's picture is the export's own `sample(100, seed)`: for images a 10 x 10 grid of
    those samples, unscaled (280 pixels of the card's 350; twice would overflow it), found pixel
    for pixel under the title; for points, a scatter whose generated (orange) dots are there."""
    sampler = evaluation.load_sampler(str(runs / model / "saved_model"))
    picture = tf.io.decode_png(evaluation.sample_png(sampler, seed=2)).numpy()
    if RUNS[model] == "ring8":
        assert picture.shape[:2] == (350, 350)  # as wide as TensorBoard's image card
        orange = (picture[..., 0] > 200) & (picture[..., 1] > 100) & (picture[..., 1] < 180) & (
            picture[..., 2] < 80)
        assert orange.sum() > 5  # 2 steps of training: the points sit close together
        return
    samples = sampler.signatures["sample"](num_samples=tf.constant(100),
                                           seed=tf.constant(2))["samples"].numpy()
    tiles = samples.reshape(10, 10, 28, 28).transpose(0, 2, 1, 3).reshape(280, 280)
    block = np.round(tiles * 255).astype(int)[..., None].repeat(3, -1)
    assert picture.shape[1] == 350  # the card's width; the grid centred, 6-pixel margin below
    near = (picture.shape[0] - 6 - 280, (350 - 280) // 2)
    assert _offset_of(picture, block, near=near) is not None
    other = sampler.signatures["sample"](num_samples=tf.constant(100),
                                         seed=tf.constant(3))["samples"].numpy()
    other = other.reshape(10, 10, 28, 28).transpose(0, 2, 1, 3).reshape(280, 280)
    other = np.round(other * 255).astype(int)[..., None].repeat(3, -1)
    # The check can fail: 3 grey levels off, or another seed's samples where they differ (after
    # 2 steps InfoGAN's G is still nearly constant in z).
    assert _offset_of(picture, np.clip(block + 3, 0, 255), near=near) is None
    if np.abs(other - block).max() > 2:
        assert _offset_of(picture, other, near=near) is None


def test_eval_refuses_a_directory_that_is_not_an_export(tmp_path):
    with pytest.raises(evaluation.SavedModelError, match="not a SavedModel"):
        evaluation.load_sampler(str(tmp_path))


def test_eval_refuses_a_saved_model_without_the_sample_signature(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"serving_default": module.f})
    with pytest.raises(evaluation.SavedModelError, match="lacks the latent_spec, sample signature"):
        evaluation.load_sampler(str(tmp_path / "other"))


def test_infogan_export_infers_the_codes_as_the_trained_q_head_does(runs):
    gan = _restored_gan(str(runs / "infogan"))
    loaded = tf.saved_model.load(str(runs / "infogan" / "saved_model"))
    images = loaded.signatures["sample"](num_samples=tf.constant(6), seed=tf.constant(3))["samples"]
    heads = gan.discriminator(images * 2.0 - 1.0, training=False)
    inferred = loaded.signatures["infer_codes"](samples=images)
    np.testing.assert_allclose(inferred["categorical_logits"], heads["code_logits"], atol=1e-5)
    np.testing.assert_allclose(inferred["continuous_mean"], heads["code_mean"], atol=1e-5)
    assert "infer_codes" not in tf.saved_model.load(str(runs / "acgan" / "saved_model")).signatures


EXPECTED_ROWS = {
    "acgan": ["classifier IS", "AC-GAN accuracy %", "KID (classifier)", "FID / KID (Inception)", "Frechet distance (classifier)",
              "precision (classifier)", "recall (classifier)", "Parzen log-likelihood"],
    "infogan": ["InfoGAN code accuracy %", "InfoGAN L_I (nats)", "class KL to uniform"],
    "gan": ["modes captured", "high-quality %", "reverse KL of modes"],
}
EXPECTED_PICTURES = {"acgan": ["samples", "classes"],
                     "infogan": ["samples", "categorical", "continuous_0", "continuous_1"],
                     "gan": ["samples", "scatter"]}


@pytest.mark.parametrize("model", ["acgan", "infogan", "gan"])  # dcgan: acgan's path, no head
def test_eval_scores_a_tiny_run_against_the_real_held_out_baseline(runs, model, tmp_path):
    out = tmp_path / "eval"
    result = evaluation.evaluate(str(runs / model / "saved_model"), RUNS[model], str(out),
                               num_samples=200, split_size=100, step=2, log=lambda *_: None,
                               progress=False)
    rows = {r["metric"]: r for r in result["rows"]}
    assert set(EXPECTED_ROWS[model]) <= set(rows)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["rows"] == json.loads(json.dumps(result["rows"]))
    for name in EXPECTED_PICTURES[model]:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for run in ("generated", "real"):  # one chart per metric, a run each (test_eval_cli.py)
        assert list((out / run).glob("events.out.tfevents.*"))
    # A 2-step generator is far from the data; real held-out digits are not.
    if model == "gan":
        assert rows["modes captured"]["real"] == 8
        assert rows["high-quality %"]["model"] < rows["high-quality %"]["real"]
    else:
        fd = rows["Frechet distance (classifier)"]
        assert fd["model"] > 10 * fd["real"]
        assert rows["recall (classifier)"]["model"] < rows["recall (classifier)"]["real"]
        assert "not computed" in rows.get("FID / KID (Inception)", {"note": "not computed"})["note"]
    if model == "infogan":
        # A lower bound: at most ln 10, and near 0 (may dip below) for an untrained Q.
        assert -0.5 < rows["InfoGAN L_I (nats)"]["model"] <= np.log(10) + 1e-6
        assert 10.0 <= rows["InfoGAN code accuracy %"]["model"] <= 100.0
    if model == "acgan":
        assert len(result["details"]["acgan_accuracy_per_class"]["model"]) == 10
        # Real held-out digits in splits of 100 score near 10 classes (not ~1: splits must mix
        # classes, whatever the order of the file).
        assert rows["classifier IS"]["real"][0] > 8.0


def test_real_baselines_computed_once_per_process_equal_fresh_ones(runs, tmp_path):
    def real_column(model, n):
        result = evaluation.evaluate(str(runs / model / "saved_model"), RUNS[model],
                                     str(tmp_path / f"{model}{n}"), num_samples=n,
                                     split_size=100, log=lambda *_: None, progress=False)
        return {r["metric"]: r["real"] for r in result["rows"]
                if r["metric"] not in ("AC-GAN accuracy %", "InfoGAN code accuracy %",
                                       "InfoGAN L_I (nats)")}
    # Another model and another sample count (Parzen scores as many real digits as samples)
    # after a first evaluation: the real column is the one computed from scratch.
    first = real_column("acgan", 200)
    cached = real_column("dcgan", 300)
    evaluation._REAL_SCORES.clear()
    assert cached == real_column("dcgan", 300)
    assert cached["Parzen log-likelihood"] != first["Parzen log-likelihood"]
    assert cached["KID (classifier)"] == first["KID (classifier)"]


def test_eval_cli_scores_a_run_directory_into_its_eval_subdirectory(runs):
    result = subprocess.run([sys.executable, "eval.py", f"--workdir={runs / 'gan'}"],
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "modes captured" in result.stdout and "real held-out" in result.stdout
    metrics = json.loads((runs / "gan" / "eval" / "metrics.json").read_text())
    assert metrics["dataset"] == "ring8" and metrics["step"] == 2


# === A run trained on JAX: the same SavedModel contract ===

JAX_RUNS = {"acgan": "mnist_5k", "infogan": "mnist_5k", "gan": "ring8"}
# Trains each run on JAX through train() and, once trained, writes what the JAX model itself
# computes: the sampler on drawn latents (`latents.npz`) and InfoGAN's Q head on images.
TRAIN_ON_JAX = r"""
import json, sys
import keras, numpy as np
import backends
from training.config import Config
from training.loop import train
root, runs = sys.argv[1], json.loads(sys.argv[2])

class Outputs(keras.callbacks.Callback):
    def __init__(self, workdir):
        super().__init__()
        self.workdir = workdir

    def on_train_end(self, logs=None):
        gan = self.model
        latents = gan.latent.sample(6, backends.step_seed(9, 9))
        out = {k: keras.ops.convert_to_numpy(v) for k, v in latents.items()}
        out["in_memory"] = keras.ops.convert_to_numpy(gan.samples(latents))
        if hasattr(gan.latent, "num_categorical"):
            images = np.random.default_rng(0).uniform(0, 1, (6, 28, 28, 1)).astype("float32")
            heads = gan.discriminator(images * 2.0 - 1.0, training=False)
            out["images"] = images
            out["code_logits"] = keras.ops.convert_to_numpy(heads["code_logits"])
            out["code_mean"] = keras.ops.convert_to_numpy(heads["code_mean"])
        np.savez(self.workdir + "/latents.npz", **out)

assert keras.backend.backend() == "jax"
for model, dataset in runs.items():
    workdir = f"{root}/{model}"
    train(Config(model=model, dataset=dataset, workdir=workdir, train_steps=2, steps_per_epoch=2,
                 batch_size=8, width=8), verbose=0, callbacks=[Outputs(workdir)])
"""


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_jax")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", TRAIN_ON_JAX, str(root),
                             json.dumps(JAX_RUNS)], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.parametrize("model", list(JAX_RUNS))
def test_a_run_trained_on_jax_exports_the_same_contract_with_its_own_weights(jax_runs, model):
    """The SavedModel of a JAX run (rebuilt on TensorFlow from its checkpoint) has the contract
    of a TensorFlow run's, and computes what the JAX model computed: `serving_default` on the
    latents JAX drew gives JAX's samples, `sample` reports latents of the same distribution,
    InfoGAN's `infer_codes` gives JAX's Q head."""
    workdir = jax_runs / model
    assert json.loads((workdir / "config.json").read_text())["backend"] == "jax"
    assert os.path.exists(workdir / "checkpoints" / "ckpt-2.npz")
    check_sample_signature(workdir / "saved_model", model)
    loaded = tf.saved_model.load(str(workdir / "saved_model"))
    jax = dict(np.load(workdir / "latents.npz"))
    feed = {k: tf.constant(jax[k]) for k in ("z", "labels", "categorical", "continuous")
            if k in jax}
    exported = loaded.signatures["serving_default"](**feed)["samples"].numpy()
    expected = (np.clip((jax["in_memory"] + 1) / 2, 0, 1) if JAX_RUNS[model] != "ring8"
                else jax["in_memory"])
    assert np.ptp(expected) > 0  # a real output, not a constant
    np.testing.assert_allclose(exported, expected, rtol=1e-4, atol=2e-5 * np.abs(expected).max())
    assert latent_of_export(loaded).noise == ("uniform" if model == "infogan" else "normal")
    if model == "infogan":
        inferred = loaded.signatures["infer_codes"](samples=tf.constant(jax["images"]))
        np.testing.assert_allclose(inferred["categorical_logits"], jax["code_logits"], atol=2e-5)
        np.testing.assert_allclose(inferred["continuous_mean"], jax["code_mean"], atol=2e-5)


def test_eval_and_sample_read_a_jax_run_unchanged(jax_runs, tmp_path):
    """eval.py on the JAX run's directory (its step from `ckpt-2.npz`), and sample.py on its
    export, as on a TensorFlow run."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "eval.py", f"--workdir={jax_runs / 'gan'}"],
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((jax_runs / "gan" / "eval" / "metrics.json").read_text())
    assert metrics["dataset"] == "ring8" and metrics["step"] == 2
    out = tmp_path / "samples.png"
    result = subprocess.run([sys.executable, "sample.py",
                             f"--saved_model={jax_runs / 'acgan' / 'saved_model'}",
                             f"--out={out}"], cwd=root, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
