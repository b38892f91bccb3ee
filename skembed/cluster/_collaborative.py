r"""Out-of-sample labels by collaborative representation.

The collaborative representation classifier (Zhang, Yang & Feng, "Sparse
representation or collaborative representation: which helps face
recognition?", ICCV 2011) writes a new point as one ridge combination of
*all* labelled points,

.. math::

    c = \arg\min_c \|x - X^\top c\|^2 + \lambda \|c\|^2
      = (X X^\top + \lambda I)^{-1} X x = X (X^\top X + \lambda I)^{-1} x,

and gives it the label :math:`k` whose points' share :math:`c_k` of the
coefficients reconstructs it best for its size,

.. math::

    r_k(x) = \|x - X_k^\top c_k\| \,/\, \|c_k\|.

Used with the clusters of a subspace clustering as labels (the out-of-sample
step of scalable subspace clustering, Peng, Zhang & Yi, CVPR 2013, with the
ridge in place of their l1 program), this is the self-expressive model applied
to a new point: it is expressed by the fitted points, and the points of its
own subspace carry the representation. Unlike a per-cluster basis it needs
no subspace dimension: a cluster with as few points as its subspace has
dimensions still represents its new points, where an energy-truncated basis
drops directions and a full-span basis fits noise. Once each cluster holds
about twice its dimension in points of a linear subspace, the basis is the
better rule (the gallery example "Fit on a sample, label the rest").

The map :math:`x \mapsto c` is one ``(n, d)`` matrix, computed through the
smaller of the two systems (``d x d`` when there are more points than
features); predicting costs O(n d) per point.
"""

import numpy as np
from scipy import linalg

#: Largest number of floats in a block of new points x fitted points.
BLOCK_FLOATS = 2**22


def ridge_map(X, lam):
    """The matrix ``P`` with ``P @ x`` the ridge coefficients of ``x`` over the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_points, n_features)
        The fitted points.
    lam : float
        Ridge weight (> 0).

    Returns
    -------
    P : ndarray of shape (n_points, n_features)
        :math:`(X X^\\top + \\lambda I)^{-1} X = X (X^\\top X + \\lambda I)^{-1}`.
    """
    n_points, n_features = X.shape
    if n_features <= n_points:
        system = X.T @ X
        system.flat[:: n_features + 1] += lam
        return linalg.solve(system, X.T, assume_a="pos", check_finite=False).T
    system = X @ X.T
    system.flat[:: n_points + 1] += lam
    return linalg.solve(system, X, assume_a="pos", check_finite=False)


def collaborative_labels(X_new, X_fit, bounds, projection):
    """Label of least normalised class residual for each row of ``X_new``.

    Parameters
    ----------
    X_new : ndarray of shape (n_new, n_features)
        Points to label.
    X_fit : ndarray of shape (n_points, n_features)
        The fitted points, sorted by label.
    bounds : ndarray of int of shape (n_labels + 1,)
        Label ``k`` holds rows ``bounds[k]:bounds[k + 1]`` of ``X_fit``.
    projection : ndarray of shape (n_points, n_features)
        ``ridge_map(X_fit, lam)``.

    Returns
    -------
    labels : ndarray of int of shape (n_new,)
    """
    n_new = X_new.shape[0]
    n_labels = len(bounds) - 1
    labels = np.empty(n_new, dtype=np.intp)
    block = max(1, BLOCK_FLOATS // max(X_fit.shape[0], X_fit.shape[1], 1))
    for start in range(0, n_new, block):
        rows = X_new[start:start + block]
        coefficients = rows @ projection.T
        scores = np.full((rows.shape[0], n_labels), np.inf)
        for k in range(n_labels):
            share = coefficients[:, bounds[k]:bounds[k + 1]]
            size = np.linalg.norm(share, axis=1)
            residual = np.linalg.norm(rows - share @ X_fit[bounds[k]:bounds[k + 1]], axis=1)
            # A label whose points take no part in x's representation is no
            # candidate for it (size 0 leaves its score infinite).
            np.divide(residual, size, out=scores[:, k], where=size > 0)
        # A point that no fitted point helps to express (e.g. all zeros) has
        # every score infinite and takes cluster 0, as under the basis rule,
        # where all its residuals are equal.
        labels[start:start + block] = np.argmin(scores, axis=1)
    return labels
