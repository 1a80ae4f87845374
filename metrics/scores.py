"""Sample-quality metrics as pure numpy functions of features, probabilities or points.

Each function cites where it comes from and states its protocol; eval.py feeds it generated data
and, as the baseline, real held-out data, with the same sample sizes.
"""
import numpy as np
import scipy.optimize
from scipy.special import logsumexp


def inception_score(probs, split_size=1000):
    """Inception score exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016), mean and std over
    consecutive splits of `split_size` samples, p(y) being the split's mean prediction.

    The split size changes the score (docs/results.md: real MNIST test 9.88 +- 0.06 with 10
    splits of 1,000; batches of 32 score ~8.4), so compare only scores of equal split size. Returns
    (mean, std, number of splits); a remainder smaller than a split is dropped.
    """
    probs = np.asarray(probs, np.float64)
    splits = len(probs) // split_size
    if splits < 1:
        raise ValueError(f"{len(probs)} samples do not fill one split of {split_size}")
    scores = []
    for i in range(splits):
        p = probs[i * split_size:(i + 1) * split_size]
        marginal = p.mean(0, keepdims=True)
        kl = np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores)), splits


def frechet_distance(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two
    feature sets (Heusel et al. 2017, the FID formula). With Inception pool features it is the FID;
    with another network's features the number is only comparable to itself (report the
    real-vs-real figure beside it). It is biased upward for small samples: compare equal sizes.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr (S_a S_b)^(1/2) = Tr (S_a^(1/2) S_b S_a^(1/2))^(1/2), a symmetric PSD matrix: exact
    # through eigh, and stable when dead (zero-variance) features make S_a S_b singular.
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
    trace_covmean = np.sqrt(np.maximum(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * trace_covmean)


def kernel_inception_distance(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al.
    2018, KID), mean and std over `subsets` random subsets of `subset_size` from each set (smaller
    when a set is smaller). Unbiased: ~0 (may be slightly negative) for equal distributions.
    """
    a, b = np.asarray(features_a, np.float32), np.asarray(features_b, np.float32)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    # The three kernel matrices once (<= 10,000^2 each); each subset sums a block of them.
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1).astype(np.float64) ** 3
                        for x, y in ((a, a), (b, b), (a, b)))
    rng = np.random.default_rng(seed)
    # Subset block sums as s' K t with 0/1 selection columns: one matmul for all subsets.
    s_a, s_b = np.zeros((len(a), subsets)), np.zeros((len(b), subsets))
    for t in range(subsets):
        s_a[rng.choice(len(a), m, replace=False), t] = 1.0
        s_b[rng.choice(len(b), m, replace=False), t] = 1.0
    xx = (np.sum(s_a * (k_aa @ s_a), 0) - np.diag(k_aa) @ s_a) / (m * (m - 1))
    yy = (np.sum(s_b * (k_bb @ s_b), 0) - np.diag(k_bb) @ s_b) / (m * (m - 1))
    values = xx + yy - 2 * np.sum(s_a * (k_ab @ s_b), 0) / (m * m)
    return float(np.mean(values)), float(np.std(values))


def _pairwise_sq_distances(a, b, batch=2000):
    out = np.empty((len(a), len(b)), np.float32)
    b_sq = np.sum(b * b, 1)
    for i in range(0, len(a), batch):
        x = a[i:i + batch]
        out[i:i + batch] = np.maximum(np.sum(x * x, 1)[:, None] - 2 * x @ b.T + b_sq[None], 0)
    return out


def _knn_radii(features, k):
    d = _pairwise_sq_distances(features, features)
    return np.sqrt(np.partition(d, k, axis=1)[:, k])  # column 0 is the point itself


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union
    of balls around its points reaching their k-th nearest neighbour (k=3 in the paper).
    Precision = share of generated samples inside the real manifold (quality); recall = share of
    real samples inside the generated manifold (coverage). Use equal set sizes.
    """
    real = np.asarray(real_features, np.float32)
    fake = np.asarray(fake_features, np.float32)
    real_r, fake_r = _knn_radii(real, k), _knn_radii(fake, k)
    d = np.sqrt(_pairwise_sq_distances(fake, real))  # [fake, real]
    precision = np.mean(np.any(d <= real_r[None, :], axis=1))
    recall = np.mean(np.any(d.T <= fake_r[None, :], axis=1))
    return float(precision), float(recall)


def class_shares(probs, num_classes=None):
    """Share of each predicted class (argmax) and KL(shares || uniform) in nats: 0 when every
    class is equally frequent, ln K when all samples are one class (a mode-collapse alarm)."""
    predicted = np.argmax(probs, axis=1)
    k = num_classes or np.asarray(probs).shape[1]
    shares = np.bincount(predicted, minlength=k) / max(len(predicted), 1)
    nonzero = shares[shares > 0]
    return shares, float(np.sum(nonzero * np.log(nonzero * k)))


def per_class_accuracy(predicted, targets, num_classes):
    """Overall accuracy and accuracy per target class (NaN for a class with no example)."""
    predicted, targets = np.asarray(predicted), np.asarray(targets)
    per_class = np.array([np.mean(predicted[targets == c] == c) if np.any(targets == c)
                          else np.nan for c in range(num_classes)])
    return float(np.mean(predicted == targets)), per_class


def matched_accuracy(codes, labels, num_codes, num_labels):
    """Accuracy of an unsupervised code as a classifier under the best one-to-one code-to-label
    matching (Hungarian algorithm on the confusion matrix), as in InfoGAN's "5% error" claim
    (Chen et al. 2016). Returns (accuracy, mapping: code -> label, -1 for unmatched codes)."""
    confusion = np.zeros((num_codes, num_labels), np.int64)
    np.add.at(confusion, (np.asarray(codes), np.asarray(labels)), 1)
    rows, cols = scipy.optimize.linear_sum_assignment(confusion, maximize=True)
    mapping = np.full(num_codes, -1)
    mapping[rows] = cols
    return float(confusion[rows, cols].sum() / max(len(codes), 1)), mapping


def categorical_mi_lower_bound(code_logits, codes):
    """L_I = H(c) + E[log Q(c | G(z, c))] for a uniform categorical code (Chen et al. 2016, eq. 4):
    a lower bound of I(c; G(z, c)) that reaches H(c) = ln K when Q recovers the code exactly."""
    logits = np.asarray(code_logits, np.float64)
    log_q = logits - logsumexp(logits, axis=1, keepdims=True)
    return float(np.log(logits.shape[1]) + np.mean(log_q[np.arange(len(codes)), codes]))


def toy_mode_metrics(points, centres, std):
    """Mode coverage of 2-D samples by the VEEGAN / PacGAN protocol (docs/variants.md).

    A sample is high quality when it lies within 3 standard deviations (Euclidean distance
    3 * std) of its nearest centre; a mode is captured when it is the nearest centre of at least
    one high-quality sample. Reverse KL: KL(q || p) between the histogram q of high-quality samples
    over the modes and the true uniform p (0 when balanced; ln K for one mode). The papers use
    2,500 samples. For samples from the true mixture the high-quality share is
    P(chi_2 <= 3) = 1 - exp(-4.5) = 98.89% (2-D Gaussian), not the 1-D 99.73%.

    Returns a dict: modes, high_quality (share in [0, 1]), reverse_kl, counts per mode.
    """
    points, centres = np.asarray(points, np.float64), np.asarray(centres, np.float64)
    d = np.sqrt(((points[:, None, :] - centres[None]) ** 2).sum(-1))
    nearest = d.argmin(1)
    good = d[np.arange(len(points)), nearest] <= 3 * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    q = counts / max(counts.sum(), 1)
    nonzero = q[q > 0]
    return {"modes": int(np.sum(counts > 0)), "high_quality": float(good.mean()),
            "reverse_kl": float(np.sum(nonzero * np.log(nonzero * len(centres)))),
            "counts": counts.tolist()}


def parzen_log_likelihood(samples, data, sigma, batch=100):
    """Mean log-likelihood (nats) of `data` under an isotropic Gaussian Parzen window of width
    `sigma` centred on `samples` (Goodfellow et al. 2014, after Breuleux et al. 2011), with its
    standard error std / sqrt(N). Inputs are flattened; the paper's MNIST protocol uses pixels in
    [0, 1], 10,000 samples and sigma chosen on validation digits (`parzen_select_sigma`).
    Known caveat (Theis et al. 2016): in high dimension this estimate is poor and can rank a model
    that memorizes, or a k-means toy, above good models; read it as a legacy comparison only.
    """
    lls = _parzen_lls(samples, data, [sigma], batch)[0]
    return float(lls.mean()), float(lls.std() / np.sqrt(len(lls)))


def _parzen_lls(samples, data, sigmas, batch=100):
    """[len(sigmas)] arrays of the log-likelihood of each datum, one per sigma: the squared
    distances (the cost, in 784-d) are computed once for every sigma."""
    s = np.asarray(samples, np.float64).reshape(len(samples), -1)
    x = np.asarray(data, np.float64).reshape(len(data), -1)
    dim = s.shape[1]
    s_sq = np.sum(s * s, 1)
    lls = [[] for _ in sigmas]
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        sq = np.maximum(np.sum(xb * xb, 1)[:, None] - 2 * xb @ s.T + s_sq[None], 0)
        for row, sigma in zip(lls, sigmas):
            row.append(logsumexp(-sq / (2 * sigma ** 2), axis=1) - np.log(len(s))
                       - 0.5 * dim * np.log(2 * np.pi * sigma ** 2))
    return [np.concatenate(row) for row in lls]


def parzen_select_sigma(samples, validation, sigmas=np.logspace(-1, 0, 10)):
    """The sigma of `sigmas` (the paper's grid: logspace(-1, 0, 10)) that maximizes the mean
    validation log-likelihood."""
    scores = [lls.mean() for lls in _parzen_lls(samples, validation, sigmas)]
    return float(sigmas[int(np.argmax(scores))])
