"""Linear probes shared by the iterative erasers (INLP, R-LACE).

Both fit on part of the rows and judge progress by a probe's accuracy on the
held-out rest: they stop once it is within ``tol`` of the majority rate.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression

HOLDOUT_FRACTION = 0.2


def holdout_split(y, rng):
    """Stratified split of row numbers into (fit, held-out).

    Classes with fewer than 2 rows stay in the fitting part; when nothing
    can be held out (tiny data), both parts are all rows.
    """
    fit_rows, held_rows = [], []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        n_held = int(HOLDOUT_FRACTION * len(rows)) if len(rows) >= 2 else 0
        held_rows.append(rows[:n_held])
        fit_rows.append(rows[n_held:])
    fit_rows, held_rows = np.sort(np.concatenate(fit_rows)), np.sort(np.concatenate(held_rows))
    if held_rows.size == 0 or np.unique(y[held_rows]).size < 2:
        everything = np.arange(len(y))
        return everything, everything
    return fit_rows, held_rows


def majority_rate(y, weights):
    """Weighted share of the most frequent class."""
    _, codes = np.unique(y, return_inverse=True)
    return float(np.bincount(codes, weights=weights).max() / weights.sum())


def make_probe():
    """The linear classifier the iterative erasers train and remove."""
    return LogisticRegression(max_iter=1000)


def project_out(X, basis):
    """Remove the span of the orthonormal columns of ``basis`` from the rows of X."""
    if basis.shape[1] == 0:
        return X
    return X - (X @ basis) @ basis.T


def held_out_accuracy(X, y, weights, fit_rows, held_rows, basis):
    """Accuracy on the held-out rows of a probe fit on the others, after erasure."""
    probe = make_probe().fit(
        project_out(X[fit_rows], basis), y[fit_rows], sample_weight=weights[fit_rows]
    )
    accuracy = probe.score(
        project_out(X[held_rows], basis), y[held_rows], sample_weight=weights[held_rows]
    )
    return accuracy, probe
