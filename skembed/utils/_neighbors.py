"""Exact k-nearest-neighbour search: skembed's one kNN helper.

Every part of skembed that needs exact neighbours (the ``knn_recall`` metric,
neighbour-preserving objectives, kNN affinity graphs) calls
:func:`exact_kneighbors`. It runs on scikit-learn's brute-force engine, which
computes distances in chunks bounded by ``sklearn.config_context(
working_memory=...)`` and keeps the k best per query with parallel heaps, so
the n x n distance matrix never exists. (A pure NumPy version, one BLAS block
product and an ``argpartition`` per block, was 8x slower on 100,000 GloVe
vectors: the partial sort dominates.) This helper adds what skembed needs on
top: queries given as row numbers with the query itself excluded by index,
and the cosine distance through normalised Euclidean search.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import gen_batches

__all__ = ["exact_kneighbors", "neighbour_overlap"]


def _row_normalized(X, name):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError(
            f"exact_kneighbors: {name} has an all-zero row (row "
            f"{int(np.flatnonzero(norms == 0)[0])}), whose cosine distance is "
            "undefined. Drop such rows or use metric='euclidean'."
        )
    return X / norms


def _drop_self(indices, distances, query_rows, n_neighbors):
    """Remove each query's own row from its k+1 neighbours.

    When exact duplicates of the query tie with it at distance 0, the query
    may not be among the k+1 returned; the farthest neighbour is dropped then.
    """
    is_self = indices == query_rows[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    shape = (len(query_rows), n_neighbors)
    return indices[keep].reshape(shape), distances[keep].reshape(shape)


def exact_kneighbors(
    X,
    n_neighbors,
    *,
    queries=None,
    metric="euclidean",
    exclude_self=True,
    return_distance=True,
):
    """Find the exact k nearest rows of ``X`` for each query.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points searched, already validated (finite, 2-D, float).
    n_neighbors : int
        Number of neighbours per query.
    queries : None, ndarray of int of shape (n_queries,), or ndarray of shape \
(n_queries, n_features), default=None
        None searches for every row of ``X``; an integer vector gives row
        numbers of ``X`` to use as queries; a 2-D float array gives new query
        points.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` is ``1 - cos(q, x)``, found as the Euclidean neighbours
        of the normalised rows (the two orders agree).
    exclude_self : bool, default=True
        When queries are rows of ``X``, do not return the query itself
        (ignored for new query points).
    return_distance : bool, default=True
        Also return the distances.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors)
        Sorted increasingly, in ``X``'s dtype; only when ``return_distance``.
    indices : ndarray of int of shape (n_queries, n_neighbors)
        Row numbers in ``X`` of the neighbours, nearest first.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils import exact_kneighbors
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> distances, indices = exact_kneighbors(X, 2)
    >>> indices[0]
    array([1, 2])
    """
    n_samples = X.shape[0]
    new_points = None
    if queries is None:
        query_rows = np.arange(n_samples)
    else:
        queries = np.asarray(queries)
        if queries.ndim == 1:
            query_rows = queries.astype(np.intp, copy=False)
        else:
            query_rows, new_points = None, queries
            exclude_self = False

    n_available = n_samples - 1 if exclude_self else n_samples
    if not 1 <= n_neighbors <= n_available:
        raise ValueError(
            f"exact_kneighbors: n_neighbors={n_neighbors} must be between 1 and "
            f"{n_available} for {n_samples} points. Ask for fewer neighbours."
        )
    if metric not in ("euclidean", "cosine"):
        raise ValueError(
            f"exact_kneighbors: unknown metric {metric!r}; use 'euclidean' or 'cosine'."
        )

    if metric == "cosine":
        X = _row_normalized(X, "X")
        if new_points is not None:
            new_points = _row_normalized(new_points, "queries")
    points = X[query_rows] if new_points is None else new_points
    n_search = n_neighbors + 1 if exclude_self else n_neighbors
    index = NearestNeighbors(n_neighbors=n_search, algorithm="brute").fit(X)
    distances, indices = index.kneighbors(points)
    if exclude_self:
        indices, distances = _drop_self(indices, distances, query_rows, n_neighbors)
    if metric == "cosine":
        distances = distances**2 / 2  # ||a - b||^2 = 2 - 2 cos for unit vectors
    distances = distances.astype(X.dtype, copy=False)
    if return_distance:
        return distances, indices
    return indices


def neighbour_overlap(found, truth):
    """Mean fraction of each row of ``truth`` that also appears in ``found``.

    Parameters
    ----------
    found, truth : ndarray of int of shape (n_queries, k)
        Neighbour indices per query (e.g. in a reduced and in the original
        space).

    Returns
    -------
    overlap : float
        In [0, 1]; the recall@k of ``found`` against ``truth``.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils import neighbour_overlap
    >>> neighbour_overlap(np.array([[1, 2], [0, 3]]), np.array([[2, 1], [0, 2]]))
    0.75
    """
    kept = 0
    # Blocks keep the (rows, k, k) comparison small.
    for rows in gen_batches(len(truth), max(1, 2**22 // max(truth.shape[1], 1) ** 2)):
        kept += int((found[rows, :, None] == truth[rows, None, :]).any(axis=1).sum())
    return kept / truth.size
