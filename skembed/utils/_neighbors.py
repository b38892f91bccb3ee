"""Exact k-nearest-neighbour search in blocks: skembed's one kNN helper.

Every part of skembed that needs exact neighbours (the ``knn_recall`` metric,
neighbour-preserving objectives, kNN affinity graphs) calls
:func:`exact_kneighbors`. It never holds the n x n distance matrix: queries are
processed ``block_size`` rows at a time, each block being one BLAS matrix
product against the data followed by a partial sort.
"""

import numpy as np
from sklearn.utils import gen_batches

__all__ = ["exact_kneighbors"]

# Memory for one block of query-to-data distances (bytes).
_BLOCK_BYTES = 128 * 2**20


def _row_normalized(X):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    # Zero rows stay zero (cosine distance 1 to everything) instead of NaN.
    norms[norms == 0] = 1
    return X / norms


def exact_kneighbors(
    X,
    n_neighbors,
    *,
    queries=None,
    metric="euclidean",
    exclude_self=True,
    block_size=None,
    return_distance=True,
):
    """Find the exact k nearest rows of ``X`` for each query, block by block.

    Distances are computed as ``||q||^2 - 2 q.x + ||x||^2`` (Euclidean) or
    ``1 - cos(q, x)`` (cosine) for a block of queries at a time, then the k
    smallest are selected with :func:`numpy.argpartition` and sorted. Memory is
    O(block_size * n_samples), never O(n_samples^2).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points searched, already validated (finite, 2-D, float).
    n_neighbors : int
        Number of neighbours per query.
    queries : None, ndarray of int of shape (n_queries,), or ndarray of shape \
(n_queries, n_features), default=None
        None searches for every row of ``X``; an integer vector gives row
        indices of ``X`` to use as queries; a 2-D float array gives new query
        points.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance used.
    exclude_self : bool, default=True
        When queries are rows of ``X``, do not return the query itself
        (ignored for new query points).
    block_size : int, optional
        Queries per block; chosen so a block of distances takes about 128 MiB.
    return_distance : bool, default=True
        Also return the distances.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors)
        Sorted increasingly; only when ``return_distance``.
    indices : ndarray of int of shape (n_queries, n_neighbors)
        Row indices into ``X`` of the neighbours, nearest first.

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

    if metric == "cosine":
        X = _row_normalized(X)
        if new_points is not None:
            new_points = _row_normalized(new_points)
    elif metric == "euclidean":
        data_sq_norms = np.einsum("ij,ij->i", X, X)
    else:
        raise ValueError(
            f"exact_kneighbors: unknown metric {metric!r}; use 'euclidean' or 'cosine'."
        )
    n_queries = new_points.shape[0] if query_rows is None else query_rows.shape[0]

    if block_size is None:
        block_size = max(1, _BLOCK_BYTES // (8 * max(n_samples, 1)))

    indices = np.empty((n_queries, n_neighbors), dtype=np.intp)
    distances = np.empty((n_queries, n_neighbors), dtype=X.dtype)
    for batch in gen_batches(n_queries, block_size):
        block = X[query_rows[batch]] if query_rows is not None else new_points[batch]
        dist = block @ X.T
        if metric == "cosine":
            np.subtract(1, dist, out=dist)
        else:
            dist *= -2
            dist += data_sq_norms
            dist += np.einsum("ij,ij->i", block, block)[:, None]
            np.maximum(dist, 0, out=dist)
        if exclude_self:
            dist[np.arange(dist.shape[0]), query_rows[batch]] = np.inf
        if n_neighbors < n_samples:
            part = np.argpartition(dist, n_neighbors - 1, axis=1)[:, :n_neighbors]
        else:
            part = np.broadcast_to(np.arange(n_samples), dist.shape)
        part_dist = np.take_along_axis(dist, part, axis=1)
        order = np.argsort(part_dist, axis=1, kind="stable")
        indices[batch] = np.take_along_axis(part, order, axis=1)
        distances[batch] = np.take_along_axis(part_dist, order, axis=1)

    if metric == "euclidean":
        np.sqrt(distances, out=distances)
    if return_distance:
        return distances, indices
    return indices
