r"""Thresholding-based subspace clustering (TSC).

TSC (Heckel & Bolcskei, "Robust subspace clustering via thresholding", IEEE
Trans. Inf. Theory 2015) connects each point to the ``q`` points of largest
absolute cosine similarity, :math:`|\langle x_i, x_j\rangle| / (\|x_i\|
\|x_j\|)`, with weight :math:`\exp(-2 \arccos |\cos(x_i, x_j)|)`; points of
the same subspace have the largest absolute correlations. The absolute
cosine is the cosine on the sign-symmetric set :math:`\{x_i\} \cup \{-x_i\}`,
so the neighbours are found by skembed's one exact kNN search
(:func:`skembed.utils.exact_kneighbors`, cosine metric) over the stacked
``[X; -X]``, the query's own row excluded. Memory is O(n q).
"""

import numpy as np

from ..utils import exact_kneighbors


def tsc_neighbors(X, *, n_neighbors):
    """The ``n_neighbors`` points of largest |cos| for every row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points (no all-zero row).
    n_neighbors : int
        Neighbours per point (``q``), at most ``n_samples - 1``.

    Returns
    -------
    indices : ndarray of int of shape (n_samples, n_neighbors)
        Rows of X, largest |cos| first.
    abs_cos : ndarray of shape (n_samples, n_neighbors)
        Their absolute cosines.
    """
    n_samples = X.shape[0]
    stacked = np.concatenate([X, -X])
    # Both x_i and -x_i can be among the nearest when cosines tie (at 0 for
    # orthogonal subspaces), so twice as many are asked for and only each
    # point's first appearance is kept: among 2q results at least q points
    # are distinct. The query's mirror image -x_j sits at cosine -1, the
    # farthest of the 2n - 1 candidates, so 2q <= 2n - 2 never reaches it.
    distances, indices = exact_kneighbors(
        stacked, 2 * n_neighbors, queries=np.arange(n_samples), metric="cosine"
    )
    folded = indices % n_samples
    order = np.argsort(folded, axis=1, kind="stable")
    in_order = np.take_along_axis(folded, order, axis=1)
    repeated_sorted = np.zeros(folded.shape, dtype=bool)
    repeated_sorted[:, 1:] = in_order[:, 1:] == in_order[:, :-1]
    repeated = np.empty_like(repeated_sorted)
    np.put_along_axis(repeated, order, repeated_sorted, axis=1)
    # Positions of the first n_neighbors distinct points, nearest first.
    first = np.argsort(repeated, axis=1, kind="stable")[:, :n_neighbors]
    indices = np.take_along_axis(folded, first, axis=1)
    distances = np.take_along_axis(distances, first, axis=1)
    abs_cos = np.clip(1.0 - distances.astype(np.float64), 0.0, 1.0)
    return indices, abs_cos


def tsc_weights(abs_cos):
    """TSC edge weights, ``exp(-2 arccos |cos|)``."""
    return np.exp(-2.0 * np.arccos(np.clip(abs_cos, 0.0, 1.0)))
