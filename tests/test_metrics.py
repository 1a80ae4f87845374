"""The metrics on inputs whose answer is known, and the shipped evaluation classifier."""
import json

import numpy as np
import pytest
from scipy.stats import ncx2

from data.datasets import TOY_CENTRES, TOY_STDS, load, make_train_dataset
from metrics import scores
from metrics.classifier import load_classifier, predict, weights_path


@pytest.fixture(scope="module")
def digits():
    """Classifier features and probabilities of the real held-out digits and of training
    digits, plus a "generator" that only ever outputs one digit."""
    model, summary = load_classifier("mnist_5k")
    train, test = load("mnist_5k"), load("mnist_5k", split="test")
    test_f, test_p = predict(model, test.images)
    # A random 1,000 of the training digits (the file is sorted by class).
    train_f, train_p = predict(model, train.images[np.random.default_rng(0).permutation(4000)[:1000]])
    ones = train.images[train.labels == 1][:1]
    one_f, one_p = predict(model, np.repeat(ones, 1000, axis=0))
    return dict(summary=summary, test=(test_f, test_p, test.labels), train=(train_f, train_p),
                one=(one_f, one_p))


def test_shipped_classifier_is_accurate_on_held_out_digits_and_says_so(digits):
    test_f, test_p, labels = digits["test"]
    accuracy = np.mean(test_p.argmax(1) == labels)
    assert accuracy > 0.97
    # The stated figure is the measured one.
    assert digits["summary"]["held_out_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    with open(weights_path("mnist_5k").replace(".weights.h5", ".json")) as f:
        assert json.load(f)["test_examples"] == 1000


def test_inception_score_of_real_digits_is_near_ten_and_of_one_digit_is_one(digits):
    real, _, _ = scores.inception_score(digits["test"][1], split_size=1000)
    assert 9.0 < real <= 10.0
    single, _, _ = scores.inception_score(digits["one"][1], split_size=1000)
    assert single == pytest.approx(1.0, abs=1e-3)


def test_inception_score_of_uniform_confident_predictions_is_the_number_of_classes():
    probs = np.eye(10)[np.arange(1000) % 10]
    mean, std, splits = scores.inception_score(probs, split_size=100)
    assert mean == pytest.approx(10.0, rel=1e-6) and std < 1e-6 and splits == 10


def test_frechet_distance_is_zero_for_identical_sets_and_matches_the_gaussian_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert scores.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4 I): ||m||^2 + tr(I + 4I - 2 * 2I) = ||m||^2 + 3.
    b = 2.0 * rng.normal(size=(20000, 3)) + np.array([1.0, 0.0, 2.0])
    assert scores.frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.03)


def test_real_vs_real_beats_one_digit_on_every_feature_metric(digits):
    test_f, _, _ = digits["test"]
    train_f, _ = digits["train"]
    one_f, _ = digits["one"]
    real_fd, one_fd = scores.frechet_distance(test_f, train_f), scores.frechet_distance(one_f,
                                                                                         train_f)
    assert real_fd < one_fd / 10
    real_kid, _ = scores.kernel_inception_distance(test_f, train_f, subsets=10)
    one_kid, _ = scores.kernel_inception_distance(one_f, train_f, subsets=10)
    assert abs(real_kid) < one_kid / 10
    p, r = scores.precision_recall(train_f, test_f)
    assert p > 0.6 and r > 0.6
    _, one_recall = scores.precision_recall(train_f, one_f)
    assert one_recall < 0.05


def test_precision_and_recall_are_one_for_the_same_distribution_and_separate_quality_from_coverage():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
    p, r = scores.precision_recall(real, fake)
    assert p > 0.95 and r > 0.95
    # Half the real distribution, sampled well: precision stays high, recall falls to ~half.
    half = fake[fake[:, 0] > 0]
    p, r = scores.precision_recall(real[:len(half)], half)
    assert p > 0.9 and 0.3 < r < 0.7


def test_class_shares_raise_the_alarm_on_one_digit(digits):
    shares, kl = scores.class_shares(digits["test"][1])
    assert kl < 0.01 and np.all(np.abs(shares - 0.1) < 0.02)
    shares, kl = scores.class_shares(digits["one"][1])
    assert shares[1] == 1.0 and kl == pytest.approx(np.log(10))


def test_code_to_digit_matching_recovers_a_known_permutation():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, 5000)
    permutation = rng.permutation(10)
    codes = np.argsort(permutation)[labels]  # code c stands for digit permutation[c]
    noisy = np.where(rng.random(5000) < 0.1, rng.integers(0, 10, 5000), codes)
    accuracy, mapping = scores.matched_accuracy(noisy, labels, 10, 10)
    assert mapping.tolist() == permutation.tolist()
    assert accuracy == pytest.approx(np.mean(permutation[noisy] == labels))
    assert 0.88 < accuracy < 0.93


def test_mutual_information_bound_is_ln_k_for_a_perfect_q_and_zero_for_a_blind_one():
    codes = np.arange(1000) % 10
    perfect = 50.0 * np.eye(10)[codes]
    assert scores.categorical_mi_lower_bound(perfect, codes) == pytest.approx(np.log(10), abs=1e-6)
    assert scores.categorical_mi_lower_bound(np.zeros((1000, 10)), codes) == pytest.approx(0.0)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_true_mixture_scores_every_mode_and_the_exact_high_quality_share(name):
    points = next(iter(make_train_dataset(load(name), 20000, seed=5)))[0].numpy()
    m = scores.toy_mode_metrics(points, TOY_CENTRES[name], TOY_STDS[name])
    assert m["modes"] == len(TOY_CENTRES[name])
    # Within 3 std in 2-D: P(chi^2_2 <= 9) = 1 - exp(-4.5); 20,000 draws: se 0.07%.
    assert m["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.003)
    assert m["reverse_kl"] < 0.01


def test_shifted_mixture_and_a_collapsed_generator_score_fewer_modes():
    centres, std = TOY_CENTRES["grid25"], TOY_STDS["grid25"]
    rng = np.random.default_rng(3)
    points = centres[rng.integers(0, 25, 2500)] + std * rng.normal(size=(2500, 2))
    # Shifted by 4 std: the high-quality share is P(noncentral chi^2_2(16) <= 9), ~13%.
    shifted = scores.toy_mode_metrics(points + np.array([4 * std, 0.0]), centres, std)
    assert shifted["high_quality"] == pytest.approx(ncx2.cdf(9, 2, 16), abs=0.02)
    # By 6 std: ~0.2% high quality, so only a few modes keep a high-quality sample.
    far = scores.toy_mode_metrics(points + np.array([6 * std, 0.0]), centres, std)
    assert far["high_quality"] < 0.01 and far["modes"] < 15
    collapsed = scores.toy_mode_metrics(centres[3] + std * rng.normal(size=(2500, 2)), centres, std)
    assert collapsed["modes"] == 1 and collapsed["reverse_kl"] == pytest.approx(np.log(25), abs=0.01)


def test_parzen_matches_the_exact_gaussian_log_likelihood():
    rng = np.random.default_rng(4)
    # One kernel at 0 with sigma 1 in 2-D: log N(x; 0, I) exactly.
    x = rng.normal(size=(500, 2))
    ll, se = scores.parzen_log_likelihood(np.zeros((1, 2)), x, 1.0)
    exact = np.mean(-0.5 * np.sum(x ** 2, 1) - np.log(2 * np.pi))
    assert ll == pytest.approx(exact, abs=1e-9) and se > 0
    # Sigma chosen on validation data: 200 draws of N(0, 1) want a bandwidth near Silverman's
    # 1.06 * 200^(-1/5) = 0.37, inside the grid, not at either end of it.
    samples = rng.normal(size=(200, 1))
    validation = rng.normal(size=(2000, 1))
    sigma = scores.parzen_select_sigma(samples, validation)
    assert 0.2 < sigma < 0.7
    # The sigma whose own log-likelihood is the highest (the distances are shared across sigmas).
    grid = np.logspace(-1, 0, 10)
    assert sigma == grid[np.argmax([scores.parzen_log_likelihood(samples, validation, s)[0]
                                    for s in grid])]


def test_a_tfds_dataset_gets_its_classifier_trained_once_then_cached(tmp_path, monkeypatch):
    from data.datasets import DATASETS, LoadedData
    from metrics import classifier

    def fake_mnist(name, data_dir=None, split="train"):  # stands in for TFDS mnist, offline
        real = load("mnist_5k", split=split)
        keep = slice(0, None, 8)
        return LoadedData(DATASETS["mnist"], real.images[keep], real.labels[keep])
    monkeypatch.setattr(classifier, "load", fake_mnist)
    messages = []
    _, summary = classifier.load_classifier("mnist", classifier_dir=str(tmp_path),
                                            log=messages.append, epochs=1)
    assert len(messages) == 1 and "training the mnist evaluation classifier" in messages[0]
    assert (tmp_path / "mnist_classifier.weights.h5").exists()
    assert summary["dataset"] == "mnist" and summary["test_examples"] == 125
    model, cached = classifier.load_classifier("mnist", classifier_dir=str(tmp_path),
                                               log=messages.append)
    assert len(messages) == 1 and cached == summary  # loaded, not retrained


def test_inception_features_load_a_local_weights_file_or_say_why_not(tmp_path):
    import keras

    from metrics.inception import InceptionFeatures, InceptionUnavailable
    with pytest.raises(InceptionUnavailable, match="pass --inception_weights"):
        InceptionFeatures(None)
    with pytest.raises(InceptionUnavailable, match="does not exist"):
        InceptionFeatures(str(tmp_path / "missing.h5"))
    (tmp_path / "junk.weights.h5").write_bytes(b"not weights")
    with pytest.raises(InceptionUnavailable, match="not a keras InceptionV3 weights file"):
        InceptionFeatures(str(tmp_path / "junk.weights.h5"))
    # Randomly initialised weights in the keras.applications file layout (the real file cannot be
    # downloaded here): the path that FID/KID take with real weights.
    path = str(tmp_path / "inception.weights.h5")
    keras.applications.InceptionV3(weights=None).save_weights(path)
    features, probs = InceptionFeatures(path)(np.random.default_rng(0).random((3, 28, 28, 1)))
    assert features.shape == (3, 2048) and probs.shape == (3, 1000)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
