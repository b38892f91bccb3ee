"""Anchor selection: which rows of X the relative representation is measured against.

Every strategy returns sorted-or-ordered, distinct row numbers of ``X``; the
estimator stores the chosen rows (``anchors_``) and never the data itself.
Strategies (Moschella et al., ICLR 2023, use uniform random anchors; the
others are the usual coverage-oriented samplers):

* :func:`random_anchors`: ``m`` rows drawn uniformly without replacement.
* :func:`kmeans_anchors`: the row nearest each of ``m`` k-means centroids
  (distinct rows: a centroid whose nearest row is taken gets its next one).
* :func:`fps_anchors`: farthest-point sampling on the rows scaled to unit
  length (each new anchor is the row whose smallest distance to the anchors
  chosen so far is largest), a 2-approximation of the k-center cover.
* :func:`stratified_anchors`: as many anchors from each class of ``y`` as
  possible (classes too small give all their rows, the rest is shared).
* :func:`explicit_anchors`: row numbers given by the user, for *parallel*
  anchors (the same items embedded by two encoders).
"""

import numpy as np
from sklearn.cluster import KMeans

from ..utils import exact_kneighbors
from ..utils.extmath import normalize_rows


def random_anchors(n_samples, n_anchors, rng):
    """``n_anchors`` distinct rows drawn uniformly, in increasing order."""
    return np.sort(rng.choice(n_samples, size=n_anchors, replace=False))


def kmeans_anchors(X, n_anchors, rng):
    """The row nearest each k-means centroid, all distinct.

    k-means (k-means++ start, one initialisation) runs on X itself; each
    centroid, in order, takes its nearest row not already taken. Each centroid
    is given ``n_anchors`` candidates (found by the exact kNN helper), so a
    free row always exists among them.
    """
    kmeans = KMeans(n_clusters=n_anchors, n_init=1, random_state=rng).fit(X)
    centroids = kmeans.cluster_centers_.astype(X.dtype, copy=False)
    candidates = exact_kneighbors(
        X, min(n_anchors, X.shape[0]), queries=centroids, return_distance=False
    )
    taken = np.zeros(X.shape[0], dtype=bool)
    chosen = np.empty(n_anchors, dtype=np.intp)
    for i, row in enumerate(candidates):
        free = row[~taken[row]][0]
        taken[free] = True
        chosen[i] = free
    return chosen


def fps_anchors(X, n_anchors, rng):
    """Farthest-point sampling on the unit-normalised rows.

    Starts from a random row; then repeatedly adds the row farthest (in
    Euclidean distance between unit vectors, i.e. largest angle) from its
    nearest chosen anchor. O(n d) per anchor; memory: a float64 copy of X
    scaled to unit rows, plus O(n).
    Chosen rows are never picked again, even when duplicates leave every
    remaining distance at zero.
    """
    # normalize_rows scales each row by a power of two first, so entries of
    # 1e160 or 1e-170 neither overflow nor underflow.
    unit = normalize_rows(np.asarray(X, dtype=np.float64))
    squared_norms = np.einsum("ij,ij->i", unit, unit)  # 1, or 0 for zero rows

    def squared_distances_to(row):
        return np.maximum(squared_norms + squared_norms[row] - 2.0 * (unit @ unit[row]), 0.0)

    chosen = np.empty(n_anchors, dtype=np.intp)
    chosen[0] = rng.randint(X.shape[0])
    nearest = squared_distances_to(chosen[0])
    nearest[chosen[0]] = -1.0
    for i in range(1, n_anchors):
        chosen[i] = int(np.argmax(nearest))
        np.minimum(nearest, squared_distances_to(chosen[i]), out=nearest)
        nearest[chosen[: i + 1]] = -1.0
    return chosen


def stratified_anchors(y, n_anchors, rng):
    """Anchors balanced over the classes of ``y``.

    Each class gets ``n_anchors // n_classes`` anchors (the remainder going to
    randomly chosen classes); a class with fewer rows gives all of them and
    its shortfall is shared among the others (water-filling), so exactly
    ``n_anchors`` rows are returned whenever ``n_anchors <= len(y)``.
    """
    classes, encoded = np.unique(y, return_inverse=True)
    sizes = np.bincount(encoded, minlength=classes.size)
    quota = np.zeros(classes.size, dtype=np.intp)
    remaining = n_anchors
    open_classes = np.arange(classes.size)
    while remaining > 0 and open_classes.size:
        share, extra = divmod(remaining, open_classes.size)
        bonus = np.zeros(open_classes.size, dtype=np.intp)
        bonus[rng.permutation(open_classes.size)[:extra]] = 1
        wanted = share + bonus
        room = sizes[open_classes] - quota[open_classes]
        given = np.minimum(wanted, room)
        quota[open_classes] += given
        remaining -= int(given.sum())
        open_classes = open_classes[quota[open_classes] < sizes[open_classes]]
    chosen = [
        rng.choice(np.flatnonzero(encoded == k), size=quota[k], replace=False)
        for k in range(classes.size)
        if quota[k]
    ]
    return np.sort(np.concatenate(chosen))


def explicit_anchors(indices, n_samples):
    """Check user-given anchor row numbers: integers, distinct, in range.

    Raises a ValueError saying what is wrong and how to pass them; the
    estimator prefixes its name.
    """
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0:
        raise ValueError(
            "anchors given as an array must be a non-empty 1-D array of "
            f"row numbers, got shape {indices.shape}. Pass e.g. anchors=np.arange(300)."
        )
    if indices.dtype.kind == "b" or (
        indices.dtype.kind not in "iu"
        and not (indices.dtype.kind == "f" and np.all(np.mod(indices, 1) == 0))
    ):
        raise ValueError(
            "anchors must hold integer row numbers of X, got dtype "
            f"{indices.dtype}. Pass row indices (np.flatnonzero(mask) for a boolean mask)."
        )
    indices = indices.astype(np.intp)
    bad = (indices < 0) | (indices >= n_samples)
    if bad.any():
        raise ValueError(
            f"anchor row {int(indices[bad][0])} is out of range for X with "
            f"{n_samples} rows. Pass row numbers between 0 and {n_samples - 1}."
        )
    unique, counts = np.unique(indices, return_counts=True)
    if unique.size != indices.size:
        raise ValueError(
            f"anchor rows must be distinct, but row {int(unique[counts > 1][0])} "
            "is given twice. Pass each anchor once (np.unique(anchors))."
        )
    return indices
