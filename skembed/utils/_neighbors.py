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

One search differs and lives here beside it: :func:`sparse_row_kneighbors`,
the kNN graph of the rows of a sparse non-negative matrix (a subspace
clustering representation). It exploits the sparsity and compares only rows
that share a nonzero column, linear in n where the brute-force search is
quadratic.
"""

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import gen_batches

from .extmath import normalize_rows

__all__ = ["exact_kneighbors", "neighbour_overlap", "sparse_row_kneighbors"]

#: Most candidate pairs (nonzeros of a block of A A') held at once by
#: :func:`sparse_row_kneighbors` (about 40 bytes each with the sort).
ROW_PAIRS_PER_BLOCK = 2**21


def _row_normalized(X, name):
    # Unlike normalize_rows' convention (a zero row stays zero), a zero row
    # has no cosine distance to anything, so it is refused here.
    zero_rows = np.flatnonzero(~np.any(X, axis=1))
    if zero_rows.size:
        raise ValueError(
            f"exact_kneighbors: {name} has an all-zero row (row "
            f"{int(zero_rows[0])}), whose cosine distance is "
            "undefined. Drop such rows or use metric='euclidean'."
        )
    return normalize_rows(X)


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


def sparse_row_kneighbors(A, n_neighbors):
    r"""Graph of the nearest rows of a sparse non-negative matrix (cosine).

    Row :math:`i` is linked to the ``n_neighbors`` rows :math:`j \ne i` of
    largest cosine :math:`\cos(a_i, a_j)`, counting only rows with a positive
    cosine, i.e. rows that share a nonzero column with :math:`a_i`. This is
    the kNN graph of the rows of a subspace-clustering representation matrix
    (points whose representations use the same points).

    Why not :func:`exact_kneighbors`: that brute-force search compares every
    pair of rows, O(n^2) time, and works on dense rows. Here the rows are
    non-negative and very sparse, so two rows can be nearer than the cosine-0
    distance only when their supports overlap: the candidates are exactly the
    nonzeros of the sparse product :math:`\bar A \bar A^\top` (rows scaled
    to unit norm), computed by blocks of rows whose size is set from an upper
    bound of each row's candidate count, so the pairs held at once stay below
    ``ROW_PAIRS_PER_BLOCK`` (about 80 MB). Time is O(n s^2) for s nonzeros
    per row and column, linear in n. Rows with no overlap at all are never
    compared (their cosine is 0), so a row with fewer than ``n_neighbors``
    overlapping rows keeps only those. Ties go to the smaller row number.
    When A is dense (more than 5% nonzeros), the products run as BLAS blocks
    instead, with the same rule.

    Parameters
    ----------
    A : sparse matrix or ndarray of shape (n_samples, n_features)
        Non-negative rows (e.g. ``abs(C)``); all-zero rows get no neighbours.
    n_neighbors : int
        Neighbours per row, at least 1.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        ``graph[i, j] = 1`` when row j is one of row i's nearest rows (not
        symmetric).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils import sparse_row_kneighbors
    >>> A = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 0.9, 0.0, 0.0],
    ...               [0.0, 0.0, 1.0, 0.0], [0.0, 0.1, 1.0, 0.0]])
    >>> sparse_row_kneighbors(A, 1).toarray().astype(int)
    array([[0, 1, 0, 0],
           [1, 0, 0, 0],
           [0, 0, 0, 1],
           [0, 0, 1, 0]])
    """
    from sklearn.preprocessing import normalize

    if n_neighbors < 1:
        raise ValueError(
            f"sparse_row_kneighbors: n_neighbors={n_neighbors} must be at least 1."
        )
    A = sparse.csr_matrix(A, dtype=np.float64)
    if A.nnz and A.data.min() < 0:
        raise ValueError(
            "sparse_row_kneighbors: A has negative entries; pass abs(A) (the "
            "overlap rule holds for non-negative rows only)."
        )
    n_samples = A.shape[0]
    rows = normalize(A, norm="l2")
    if rows.nnz > 0.05 * n_samples * rows.shape[1]:
        return _dense_row_kneighbors(rows.toarray(), n_neighbors)
    transposed = sparse.csr_matrix(rows.T)
    # Candidates of row i are at most sum over its columns of their counts
    # (and at most n): cut blocks where the running bound reaches the budget.
    column_counts = np.diff(transposed.indptr).astype(np.float64)
    pattern = sparse.csr_matrix((np.ones(rows.nnz), rows.indices, rows.indptr), shape=rows.shape)
    bounds = np.minimum(pattern @ column_counts, n_samples)
    cuts = np.searchsorted(np.cumsum(bounds), np.arange(1, int(bounds.sum() // ROW_PAIRS_PER_BLOCK) + 1)
                           * float(ROW_PAIRS_PER_BLOCK))
    edges = np.unique(np.concatenate([[0], cuts, [n_samples]]))
    pieces_rows, pieces_cols = [], []
    for start, stop in zip(edges[:-1], edges[1:]):
        products = sparse.csr_matrix(rows[start:stop] @ transposed).tocoo()
        keep = (products.col != products.row + start) & (products.data > 0)
        r, c, v = products.row[keep], products.col[keep], products.data[keep]
        del products, keep
        order = np.lexsort((c, -v, r))  # by row, then largest product, then column
        r, c = r[order], c[order]
        del order, v
        rank = np.arange(r.size) - np.searchsorted(r, r, side="left")
        top = rank < n_neighbors
        pieces_rows.append(r[top].astype(np.intp) + start)
        pieces_cols.append(c[top].astype(np.intp))
    r = np.concatenate(pieces_rows) if pieces_rows else np.zeros(0, dtype=np.intp)
    c = np.concatenate(pieces_cols) if pieces_cols else np.zeros(0, dtype=np.intp)
    return sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n_samples, n_samples))


def _dense_row_kneighbors(rows, n_neighbors):
    """:func:`sparse_row_kneighbors` for dense unit rows, by BLAS blocks.

    Same rule: only positive products count, ties go to the smaller row.
    """
    n_samples = rows.shape[0]
    k = min(n_neighbors, n_samples - 1)
    pieces_rows, pieces_cols = [], []
    for block in gen_batches(n_samples, max(1, 2**22 // max(n_samples, 1))):
        products = rows[block] @ rows.T
        local = np.arange(block.stop - block.start)
        products[local, local + block.start] = -np.inf
        # Stable sort on the negated products keeps the smaller column first on ties.
        nearest = np.argsort(-products, axis=1, kind="stable")[:, :k]
        positive = np.take_along_axis(products, nearest, axis=1) > 0
        pieces_rows.append(np.broadcast_to((local + block.start)[:, None], nearest.shape)[positive])
        pieces_cols.append(nearest[positive])
    r, c = np.concatenate(pieces_rows), np.concatenate(pieces_cols)
    return sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n_samples, n_samples))
