"""Linear probes shared by the iterative erasers (INLP, R-LACE).

Both judge progress by a probe's score on rows it was not fit on, and stop
once that is within ``tol`` of the score of a constant prediction.

* R-LACE fits on 80% of the rows (:func:`holdout_split`) and scores plain
  accuracy on the rest against the majority rate (:func:`held_out_accuracy`).
* INLP trains class-balanced probes (:func:`fit_balanced_probe`) and scores
  them by balanced accuracy (:func:`balanced_accuracy`) over every row, each
  fold of :func:`stratified_folds` predicted by a probe fit on the others.
  A constant prediction's balanced accuracy is 1 / n_classes whatever the
  class proportions; plain accuracy against the majority rate cannot see a
  rare class (with 5% of the rows in it, a probe is no better than the
  majority vote from the first round, however decodable the concept).
  Scoring every row, not a 20% holdout, keeps a rare class's verdict from
  resting on a handful of held-out rows. How far that verdict can be
  trusted is set by the rarest class: :func:`chance_score_se` is the
  standard error of a balanced accuracy at chance on the scored rows.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..utils.extmath import safe_reciprocal

HOLDOUT_FRACTION = 0.2
N_FOLDS = 5


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


def balanced_weights(y, weights):
    """Row weights rescaled so that every class carries the same total weight.

    A probe trained with them is class-balanced, and its weighted accuracy
    under them is the balanced accuracy (the mean of the per-class recalls),
    so a constant prediction scores 1 / k for the k classes of positive
    weight, however rare some are. The weights sum to the number of rows of
    positive weight, which keeps the probe's regularisation independent of
    the units of ``weights``; rows of zero weight stay at zero.
    """
    _, codes = np.unique(y, return_inverse=True)
    class_totals = np.bincount(codes, weights=weights)
    n_present = np.count_nonzero(class_totals > 0)
    n_rows = np.count_nonzero(weights > 0)
    return weights * safe_reciprocal(class_totals)[codes] * (n_rows / max(n_present, 1))


def stratified_folds(y, rng, n_folds=N_FOLDS):
    """Fold number (0 .. k-1) of each row, every class spread over every fold.

    ``k`` is ``n_folds``, or the size of the smallest class when that is
    smaller, so that every fold's complement holds every class. Returns
    ``(folds, k)``; ``k`` is 1 when a class has a single row (nothing can
    then be held out).
    """
    labels, counts = np.unique(y, return_counts=True)
    n_folds = int(min(n_folds, counts.min()))
    folds = np.empty(len(y), dtype=np.intp)
    start = 0
    for label in labels:
        rows = rng.permutation(np.flatnonzero(y == label))
        # Dealt on from where the previous class stopped, so folds stay even.
        folds[rows] = (start + np.arange(len(rows))) % n_folds
        start += len(rows)
    return folds, n_folds


def make_probe(solver="lbfgs"):
    """The linear classifier the iterative erasers train and remove.

    An L2-penalised logistic regression (C=1); the solver only changes how
    fast its optimum is reached (see :func:`probe_solver`).
    """
    return LogisticRegression(max_iter=1000, solver=solver)


# Newton's method with an exact Hessian ("newton-cholesky") pays n h^2 per
# step for a Hessian of side h = n_features x (n_classes, or 1 for two
# classes) and converges in a few steps whatever the conditioning; L-BFGS
# pays n h per step but needs many steps on ill-conditioned columns, which
# standardised embeddings are (one MiniLM 384-d probe: 88 L-BFGS steps, 4
# Newton steps). Ten INLP rounds on the benchmark's 7,350 words took 2.3x
# (GloVe, 50-d) and 1.8x (MiniLM, 384-d) less time with Newton; at h = 768
# on well-conditioned data Newton was 15x slower than L-BFGS. Both aim at
# the same optimum, which Newton reaches more precisely (L-BFGS stops at a
# gradient of 1e-4, far from it along flat directions): a stop decided by a
# count of right predictions may then come a round apart.
NEWTON_MAX_HESSIAN_SIDE = 512


def probe_solver(n_rows, n_features, n_classes):
    """Newton up to a Hessian of side ``NEWTON_MAX_HESSIAN_SIDE`` (and n_rows), else L-BFGS."""
    side = n_features * (n_classes if n_classes > 2 else 1)
    return "newton-cholesky" if side <= min(NEWTON_MAX_HESSIAN_SIDE, n_rows) else "lbfgs"


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


def fit_balanced_probe(X, y, weights):
    """A class-balanced probe fit on the rows of X."""
    probe = make_probe(probe_solver(X.shape[0], X.shape[1], np.unique(y).size))
    return probe.fit(X, y, sample_weight=balanced_weights(y, weights))


def chance_score_se(y, weights):
    """Standard error of the balanced accuracy of a probe at chance, scored on these rows.

    A probe with nothing to read assigns rows to classes regardless of their
    labels, at rates averaging ``1 / k`` over the ``k`` classes when it is
    balanced. Each class's recall is then a proportion over its rows, of
    variance ``(1 / k) (1 - 1 / k) / n_c``, and the balanced accuracy, their
    mean, has standard error ``sqrt(sum_c (1 / k) (1 - 1 / k) / n_c) / k``:
    the rarest class dominates (45 of 1,500 rows: 0.038; 750 of each: 0.013).
    Weighted rows count as their class's effective number
    ``(sum w)^2 / sum w^2`` (Kish), which is ``n_c`` for equal weights;
    rows of zero weight do not count.
    """
    _, codes = np.unique(y, return_inverse=True)
    totals = np.bincount(codes, weights=weights)
    present = totals > 0
    # Each class's weights over its largest, so that the squares neither
    # under- nor overflow, whatever the units of ``weights``.
    largest = np.zeros(totals.size)
    np.maximum.at(largest, codes, weights)
    relative = weights / np.where(largest > 0, largest, 1.0)[codes]
    sums = np.bincount(codes, weights=relative)[present]
    effective = sums**2 / np.bincount(codes, weights=relative**2)[present]
    k = effective.size
    chance = 1.0 / k
    return float(np.sqrt(np.sum(chance * (1 - chance) / effective)) / k)


def balanced_accuracy(y, predicted, weights):
    """Weighted mean of the per-class recalls: 1 / n_classes for a constant prediction."""
    balanced = balanced_weights(y, weights)
    return float(balanced @ (predicted == y) / balanced.sum())
