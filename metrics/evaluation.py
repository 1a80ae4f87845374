"""Scoring an exported generator against real data (the library behind eval.py).

`evaluate(saved_model, dataset, out_dir)` samples the SavedModel through its signatures (the
contract of training/export.py), computes every metric of metrics/scores.py that applies to
the data twice, on generated samples and on real held-out data with the same sample sizes, and
writes metrics.json, PNGs and TensorBoard events (runs `generated/` and `real/` under `out_dir`,
with the same tags). See eval.py for the command line.
"""
import dataclasses
import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from data.datasets import (DATASETS, TOY_CENTRES, TOY_STDS, DatasetError, DatasetSpec, load,
                           make_train_dataset)
from data.folder import is_folder
from metrics import scores
from metrics.classifier import CLASSIFIER_DATASETS, load_classifier
from metrics.classifier import predict as classify
from metrics.inception import InceptionFeatures, InceptionUnavailable
from models import latent_of_export
from training import checkpoints, visualize

TOY_SAMPLES = 2500          # VEEGAN / PacGAN protocol
MAX_REFERENCE = 10000       # real training examples used as the reference set
PARZEN_SAMPLES = 10000      # Goodfellow et al. 2014


class SavedModelError(ValueError):
    pass


class EvalError(ValueError):
    pass


def load_sampler(path):
    """Loads a SavedModel and checks it has the signatures of training/export.py."""
    if not tf.io.gfile.exists(path + "/saved_model.pb"):
        raise SavedModelError(f"{path} is not a SavedModel (no saved_model.pb); pass the "
                              "saved_model directory of a finished run")
    model = tf.saved_model.load(path)
    missing = {"sample", "serving_default", "latent_spec"} - set(model.signatures)
    if missing:
        raise SavedModelError(f"{path} lacks the {', '.join(sorted(missing))} signature(s); "
                              "pass a generator exported by train.py")
    return model


def latent_spec_of(model):
    return latent_of_export(model)


def class_names_of(model):
    """The class names an export carries (trained on class folders), else ()."""
    if "class_names" not in model.signatures:
        return ()
    return tuple(n.decode() for n in model.signatures["class_names"]()["names"].numpy())


def sample_png(model, seed=0):
    """PNG bytes of a sample grid (images: 10 x 10 from `sample`, drawn to TensorBoard's card
    width) or scatter (2-D points)."""
    sample = model.signatures["sample"]
    if sample(num_samples=tf.constant(1), seed=tf.constant(seed))["samples"].shape.rank == 2:
        points = sample(num_samples=tf.constant(2000), seed=tf.constant(seed))["samples"]
        return visualize.scatter_png(points.numpy(), title="generated samples")
    images = sample(num_samples=tf.constant(100), seed=tf.constant(seed))["samples"].numpy()
    return visualize.labelled_grid_png(images, 10, 10, title=f"samples, seed {seed}")


def code_grids(model, seed=0):
    """{name: PNG bytes}: the latent's grids beside the plain one of `sample_png` (AC-GAN's
    class grid, a row per class, named; InfoGAN's traversals, a row per categorical value and
    noise, or continuous code j from -2 to 2, across the labelled columns)."""
    spec = latent_spec_of(model)
    serve = model.signatures["serving_default"]
    grids = {}
    for tag, grid in spec.grids(seed, class_names_of(model)).items():
        if tag == "samples":
            continue  # the plain grid: sample_png's
        images = serve(**{k: tf.convert_to_tensor(v) for k, v in grid.latents.items()})["samples"]
        grids[tag] = visualize.grid_png(images.numpy(), grid)
    return grids


def draw(model, n, seed, batch_size=500, progress=None):
    """n samples from the `sample` signature, in batches with distinct seeds: a dict of arrays."""
    out = {}
    for i, start in enumerate(range(0, n, batch_size)):
        b = min(batch_size, n - start)
        got = model.signatures["sample"](num_samples=tf.constant(b),
                                         seed=tf.constant(seed * 100_000 + i))
        for k, v in got.items():
            out.setdefault(k, []).append(v.numpy())
        if progress:
            progress.add(b)
    return {k: np.concatenate(v) for k, v in out.items()}


class SampleLines:
    """Keras's progress bar's replacement when stdout is a file or a pipe (a log gets no
    carriage returns or escape codes): a plain line at each fifth of the samples, e.g.
    `generated 4000/11000 samples (12.3 s)`."""

    def __init__(self, total, parts=5):
        self.total, self.parts, self.done = total, parts, 0
        self.start = time.perf_counter()

    def add(self, n):
        before, self.done = self.done, self.done + n
        if self.done * self.parts // self.total > before * self.parts // self.total:
            print(f"generated {self.done}/{self.total} samples "
                  f"({time.perf_counter() - self.start:.1f} s)", flush=True)


def progress_of(total):
    """A progress bar on a terminal, plain lines otherwise (as train.py's)."""
    if sys.stdout.isatty():
        return keras.utils.Progbar(total, unit_name="sample")
    return SampleLines(total)


class Report:
    """Rows of (metric, model value, real held-out value, protocol note) plus details."""

    def __init__(self):
        self.rows, self.details = [], {}

    def add(self, name, model, real, note=""):
        self.rows.append({"metric": name, "model": model, "real": real, "note": note})

    def table(self):
        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, (tuple, list)):
                return f"{v[0]:.4g} +- {v[1]:.2g}"
            return f"{v:.4g}" if isinstance(v, float) else str(v)
        lines = [("metric", "model", "real held-out", "protocol")]
        lines += [(r["metric"], fmt(r["model"]), fmt(r["real"]), r["note"]) for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}"
                         for a, b, c, d in lines)


def _to_data_shape(images, shape):
    """Generated images (maybe trained at another --image_size) at the dataset's resolution."""
    if images.shape[1:] == tuple(shape):
        return images
    if images.shape[-1] != shape[-1]:
        raise EvalError(f"the generator makes {images.shape[-1]}-channel images, the dataset "
                        f"has {shape[-1]}; pass the --dataset it was trained on")
    return np.clip(tf.image.resize(images, shape[:2], antialias=True).numpy(), 0.0, 1.0)


def evaluate_toy(model, spec, seed, report, progress):
    centres, std = TOY_CENTRES[spec.name], TOY_STDS[spec.name]
    fake = draw(model, TOY_SAMPLES, seed, progress=progress)["samples"]
    if fake.shape[1:] != (2,):
        raise EvalError(f"the generator makes samples of shape {fake.shape[1:]}, {spec.name} "
                        "has 2-D points; pass the --dataset it was trained on")
    real = next(iter(make_train_dataset(load(spec.name), TOY_SAMPLES, seed=seed + 1)))[0].numpy()
    m, r = scores.toy_mode_metrics(fake, centres, std), scores.toy_mode_metrics(real, centres, std)
    protocol = f"{TOY_SAMPLES} samples, VEEGAN/PacGAN"
    report.add("modes captured", m["modes"], r["modes"], f"of {len(centres)}; {protocol}")
    report.add("high-quality %", 100 * m["high_quality"], 100 * r["high_quality"],
               "within 3 std of nearest centre (true mixture: 98.89%)")
    report.add("reverse KL of modes", m["reverse_kl"], r["reverse_kl"],
               "KL(mode histogram || uniform), nats")
    report.details["mode_counts"] = {"model": m["counts"], "real": r["counts"]}
    return {"scatter": visualize.scatter_png(fake, real, title="generated over real")}


def real_splits(dataset, data_dir=None):
    """(train, held-out test, reference images) of an image dataset, in the fixed random orders
    every score uses (the files may be sorted by class, so that any prefix or split of 1,000 -
    Inception score, Parzen validation/test halves - is a fair sample); the reference set is
    up to MAX_REFERENCE training images."""
    train = load(dataset, data_dir)
    test = load(dataset, data_dir, split="test")
    order = np.random.default_rng(1).permutation(len(test.images))
    test = dataclasses.replace(test, images=test.images[order], labels=test.labels[order])
    reference = train.images[np.random.default_rng(0).permutation(len(train.images))
                             [:MAX_REFERENCE]]
    return train, test, reference


_REAL_FEATURES = {}


def classifier_and_real_features(dataset, data_dir=None, classifier_dir=None, log=print):
    """(eval classifier, its summary, (features, probabilities) of the held-out split, (the
    same) of the reference set), in real_splits' orders; computed once per process, so that
    scoring many samples or checkpoints classifies the real digits once."""
    key = (dataset, data_dir, classifier_dir)
    if key not in _REAL_FEATURES:
        classifier, summary = load_classifier(dataset, data_dir, classifier_dir, log=log)
        _, test, reference = real_splits(dataset, data_dir)
        _REAL_FEATURES[key] = (classifier, summary, classify(classifier, test.images),
                               classify(classifier, reference))
    return _REAL_FEATURES[key]


_REAL_SCORES = {}


def _real_score(key, compute):
    """`compute()`, once per process per `key`: a real split's score depends on the data, the
    feature space and the sample counts, never on the model, so scoring many runs or
    checkpoints in one process (the experiments) computes each baseline once."""
    if key not in _REAL_SCORES:
        _REAL_SCORES[key] = compute()
    return _REAL_SCORES[key]


def evaluate_images(model, spec, args, report, progress, log):
    """All image metrics; returns extra PNGs."""
    train, test, reference = real_splits(spec.name, args["data_dir"])
    n, n_test = args["num_samples"], len(test.images)
    latent = latent_spec_of(model)
    got = draw(model, max(n, n_test), args["seed"], progress=progress)
    fake = _to_data_shape(got["samples"], spec.shape)
    real_test = test.images.astype(np.float32) / 255.0

    features = {}
    if spec.name in CLASSIFIER_DATASETS:
        log("scoring: eval classifier on generated, held-out and training digits ...")
        classifier, summary, (test_f, test_p), (ref_f, _) = classifier_and_real_features(
            spec.name, args["data_dir"], args["classifier_dir"], log)
        report.details["classifier"] = summary
        name = f"classifier ({summary['held_out_accuracy']:.2%} held-out accuracy)"
        fake_f, fake_p = classify(classifier, fake)
        features["classifier"] = (fake_f, test_f, ref_f)
        split = args["split_size"]
        if len(fake_p) >= split:
            is_real = (scores.inception_score(test_p, split) if n_test >= split else None)
            mean, std, k = scores.inception_score(fake_p[:n], split)
            report.add("classifier IS", (mean, std), is_real and is_real[:2],
                       f"{k} splits of {split} (real: {is_real[2] if is_real else 0}); {name}")
        shares, kl = scores.class_shares(fake_p[:n])
        real_shares, real_kl = scores.class_shares(test_p)
        report.add("class KL to uniform", kl, real_kl,
                   f"nats; predicted-class shares (min share {shares.min():.1%})")
        report.details["class_shares"] = {"model": shares.tolist(), "real": real_shares.tolist()}
        for row in latent.evaluation_rows:  # the latent's own rows (models/latent.py)
            LATENT_ROWS[row](model, latent, got, fake, fake_p, n, test, test_p, report)
        # Parzen window in pixel space: sigma on the first half of the test split, score the rest.
        log("scoring: Parzen window (sigma chosen on validation digits) ...")
        flat = lambda x: np.asarray(x, np.float32).reshape(len(x), -1)  # noqa: E731
        k_p = min(PARZEN_SAMPLES, n, len(train.images))
        valid, scored = flat(real_test[:n_test // 2]), flat(real_test[n_test // 2:])

        def parzen_of(samples):
            sigma = scores.parzen_select_sigma(samples, valid)
            return scores.parzen_log_likelihood(samples, scored, sigma) + (sigma,)
        parzen = {"model": parzen_of(flat(fake[:k_p])),
                  "real": _real_score(("parzen", spec.name, args["data_dir"], k_p), lambda: (
                      parzen_of(flat(reference[:k_p].astype(np.float32) / 255.0))))}
        report.add("Parzen log-likelihood", parzen["model"][:2], parzen["real"][:2],
                   f"nats, {k_p} samples, sigma {parzen['model'][2]:.3f} (real {parzen['real'][2]:.3f}) "
                   "from validation; poor estimator in 784-d (Theis 2016)")
    try:
        inception = InceptionFeatures(args["inception_weights"])
        if args["inception_weights"] or spec.name not in CLASSIFIER_DATASETS:
            fake_i, fake_ip = inception(fake[:max(n, n_test)])
            test_i, test_ip = inception(real_test)
            ref_i, _ = inception(reference.astype(np.float32) / 255.0)
            features["Inception"] = (fake_i, test_i, ref_i)
            if fake_ip is not None and len(fake_ip) >= args["split_size"]:
                mean, std, k = scores.inception_score(fake_ip[:n], args["split_size"])
                real_is = (scores.inception_score(test_ip, args["split_size"])[:2]
                           if n_test >= args["split_size"] else None)
                report.add("Inception score", (mean, std), real_is,
                           f"{k} splits of {args['split_size']}")
    except InceptionUnavailable as e:
        report.add("FID / KID (Inception)", None, None, f"not computed: {e}")
    for space, (fake_f, test_f, ref_f) in features.items():
        log(f"scoring: Frechet distance, KID, precision/recall in {space} features ...")
        fid = "FID" if space == "Inception" else "Frechet distance"
        sub = ref_f[:n_test]
        real_key = (space, spec.name, args["data_dir"], args["classifier_dir"],
                    args["inception_weights"])
        real_fd, real_kid, (real_p, real_r) = _real_score(real_key, lambda: (
            scores.frechet_distance(test_f, ref_f), scores.kernel_inception_distance(test_f, ref_f),
            scores.precision_recall(sub, test_f)))
        report.add(f"{fid} ({space})", scores.frechet_distance(fake_f[:n_test], ref_f), real_fd,
                   f"{n_test} samples vs {len(ref_f)} training examples")
        kid = scores.kernel_inception_distance(fake_f[:n_test], ref_f)
        report.add(f"KID ({space})", kid, real_kid, "unbiased MMD^2, cubic kernel, 100 subsets")
        p, r = scores.precision_recall(sub, fake_f[:n_test])
        report.add(f"precision ({space})", p, real_p, f"k=3 NN manifolds, {n_test} vs {len(sub)}")
        report.add(f"recall ({space})", r, real_r, "")
    return {}


def _class_accuracy(model, latent, got, fake, fake_p, n, test, test_p, report):
    """AC-GAN: the classifier's accuracy on samples against the class they were asked for."""
    k = latent.label.bound
    acc, per_class = scores.per_class_accuracy(fake_p[:n].argmax(1), got["labels"][:n], k)
    real_acc, real_per = scores.per_class_accuracy(test_p.argmax(1), test.labels, k)
    report.add("AC-GAN accuracy %", 100 * acc, 100 * real_acc,
               "classifier on samples vs the requested label (real: vs true label); "
               f"worst class {np.nanargmin(per_class)}: {np.nanmin(per_class):.1%}")
    report.details["acgan_accuracy_per_class"] = {"model": per_class.tolist(),
                                                  "real": real_per.tolist()}


def _code_accuracy(model, latent, got, fake, fake_p, n, test, test_p, report):
    """InfoGAN: Q's categorical code as an unsupervised classifier of real held-out digits
    (best 1-to-1 matching), and the MI lower bound L_I on samples."""
    if "infer_codes" not in model.signatures:
        report.add("InfoGAN code accuracy %", None, None, "not computed: this export has no "
                   "infer_codes signature (exported before it existed); re-export the run")
        return
    infer = model.signatures["infer_codes"]

    def logits(images):
        return np.concatenate([infer(samples=tf.constant(images[i:i + 500], tf.float32))
                               ["categorical_logits"].numpy() for i in range(0, len(images), 500)])
    k = latent.label.bound
    codes = logits(test.images.astype(np.float32) / 255.0).argmax(1)
    acc, mapping = scores.matched_accuracy(codes, test.labels, k, 10)
    real_acc = float(np.mean(test_p.argmax(1) == test.labels))
    report.add("InfoGAN code accuracy %", 100 * acc, 100 * real_acc,
               "Q's code on real held-out digits, best 1-to-1 matching (real: supervised "
               "classifier); paper 95%")
    report.details["infogan_code_to_digit"] = mapping.tolist()
    fake_logits = logits(fake[:n])
    report.add("InfoGAN L_I (nats)", scores.categorical_mi_lower_bound(
        fake_logits, got["categorical"][:n]), float(np.log(k)),
        "MI lower bound on samples (real: its ceiling H(c) = ln K)")


# The rows a latent names in its `evaluation_rows` (models/acgan.py, models/infogan.py).
LATENT_ROWS = {"class_accuracy": _class_accuracy, "code_accuracy": _code_accuracy}


def run_step(workdir):
    """The step of a run's latest checkpoint (0 when unknown)."""
    latest = checkpoints.latest(os.path.join(workdir, "checkpoints")) if workdir else None
    return checkpoints.step_of(latest) if latest else 0


def evaluate(saved_model, dataset, out_dir, num_samples=10000, split_size=1000, seed=0,
             data_dir=None, classifier_dir=None, inception_weights=None, step=0, log=print,
             progress=True):
    """Scores `saved_model` on `dataset`; writes metrics.json, PNGs and events to `out_dir`.

    Returns the metrics.json dict. Raises SavedModelError, EvalError, DatasetError.
    """
    folder = is_folder(dataset)
    if not folder and dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}, "
                           "or folder:DIR")
    if num_samples < 1 or split_size < 1:
        raise EvalError("--num_samples and --split_size must be positive")
    start = time.time()
    model = load_sampler(saved_model)
    report = Report()
    if folder:  # the pictures, and a row saying why there is nothing to score
        spec = DatasetSpec(dataset, (), 0)
        report.add("metrics", None, None, "not computed: a folder has no held-out split to "
                   "score against; the PNGs are the evaluation")
        pictures = {}
    else:
        spec = DATASETS[dataset]
        probe = load(dataset, data_dir, split="test") if spec.is_image else None
        if probe is not None and probe.note:
            log(probe.note)
            spec = probe.spec
        total = TOY_SAMPLES if not spec.is_image else max(num_samples, len(probe.images))
        bar = progress_of(total) if progress else None
        args = dict(num_samples=num_samples, split_size=split_size, seed=seed,
                    data_dir=data_dir, classifier_dir=classifier_dir,
                    inception_weights=inception_weights)
        if spec.is_image:
            pictures = evaluate_images(model, spec, args, report, bar, log)
        else:
            pictures = evaluate_toy(model, spec, seed, report, bar)
    pictures = {"samples": sample_png(model, seed), **code_grids(model, seed), **pictures}

    os.makedirs(out_dir, exist_ok=True)
    for name, png in pictures.items():
        with open(os.path.join(out_dir, f"{name}.png"), "wb") as f:
            f.write(png)
    result = {"saved_model": os.path.abspath(saved_model), "dataset": spec.name, "step": step,
              "num_samples": num_samples, "seed": seed, "rows": report.rows,
              "details": report.details, "seconds": round(time.time() - start, 1)}
    with open(os.path.join(out_dir, "metrics.json.tmp"), "w") as f:
        json.dump(result, f, indent=2, default=float)
    os.replace(os.path.join(out_dir, "metrics.json.tmp"), os.path.join(out_dir, "metrics.json"))
    _write_events(out_dir, report, pictures, step)
    log(report.table())
    return result


def _tag(name):
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").replace("__", "_")


def _description(row, run):
    """The info of a metric's TensorBoard card: what the run's value is, and the protocol."""
    what = ("real held-out data (the test split, never trained on) scored in the samples' "
            "place: what a perfect generator reads" if run == "real" else "generated samples")
    return f"{row['metric']}, {what}" + (f"; {row['note']}" if row["note"] else "")


def _write_events(out_dir, report, pictures, step):
    """Two runs, `generated/` and `real/`, with the same tags (`eval/<metric>`): TensorBoard
    draws a metric's model value and its real baseline in one chart, a run each. The
    pictures go with the generated run."""
    for who, run in (("model", "generated"), ("real", "real")):
        writer = tf.summary.create_file_writer(os.path.join(out_dir, run))
        with writer.as_default(step=step):
            for row in report.rows:
                v = row[who]
                if v is not None:
                    v = v[0] if isinstance(v, (tuple, list)) else v
                    tf.summary.scalar(f"eval/{_tag(row['metric'])}", float(v),
                                      description=_description(row, run))
            if run == "generated":
                for name, png in pictures.items():
                    tf.summary.image(f"eval/{name}", tf.io.decode_png(png)[None])
        writer.close()
