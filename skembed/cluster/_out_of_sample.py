r"""Out-of-sample rules: label new points from a clustering of fitted points.

Each rule is a pair of functions: one builds the rule's state from the fitted
points and their labels, the other labels new points with it.
:class:`~skembed.cluster.SubspaceClusterer` calls them at the end of ``fit``
and in ``predict``; called directly with true classes as labels they measure
a rule apart from the clustering.

**Subspace bases** (:func:`fit_subspace_bases`, :func:`predict_by_bases`).
Each cluster keeps an orthonormal basis :math:`U_k` of its points (centred on
their mean :math:`o_k` for affine subspaces): the leading right singular
vectors that carry a share :data:`BASIS_ENERGY` of the cluster's energy. A
new point goes to the cluster of least residual,

.. math::

    \min_k \|(I - U_k U_k^\top)(x - o_k)\|,

at O(d dim) per point and cluster; only the bases are kept.

**Collaborative representation** (:func:`fit_collaborative`,
:func:`predict_collaborative`). The collaborative representation classifier
(Zhang, Yang & Feng, "Sparse representation or collaborative representation:
which helps face recognition?", ICCV 2011) writes a new point as one ridge
combination of *all* labelled points,

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

from typing import NamedTuple

import numpy as np
from scipy import linalg

from ..utils.extmath import mean_squared_norm, power_of_two_unit, powers_of_two_above

__all__ = [
    "CollaborativeRule",
    "fit_collaborative",
    "fit_subspace_bases",
    "predict_by_bases",
    "predict_collaborative",
]

#: Share of a cluster's energy kept by its subspace basis.
#: 0.99, not 0.95: face subspaces have a long spectral tail. Built from the
#: true clusters of 20% of Extended Yale B, the residual rule labels 79.4% of
#: the rest correctly at 0.99 (``benchmarks/cluster.py --part predict``); on
#: an earlier 482-face sample, 79.5% at 0.99 against 66.5% at 0.95 (the
#: superseded predict section of benchmarks/RESULTS.md).
BASIS_ENERGY = 0.99
#: Ridge weight of the collaborative rule, relative to the mean squared norm
#: of the fitted points. Built from the true clusters of 20% of Extended Yale
#: B, the rule labels the other faces 86.0%, 93.1%, 93.6%, 90.2% and 82.0%
#: right at 1e-4, 1e-3, 1e-2, 0.1 and 1
#: (``python benchmarks/cluster.py --part sample-settings``).
DEFAULT_COLLABORATIVE_ALPHA = 0.01
#: Largest number of floats in a block of new points x fitted points.
BLOCK_FLOATS = 2**22


def _n_labels(labels, n_clusters):
    return int(np.max(labels)) + 1 if n_clusters is None else int(n_clusters)


def fit_subspace_bases(X, labels, n_clusters=None, *, affine=False, energy=BASIS_ENERGY):
    """Orthonormal basis and offset of each cluster's subspace.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The fitted points.
    labels : ndarray of int of shape (n_samples,)
        Cluster of each point, in ``0 .. n_clusters - 1``.
    n_clusters : int, optional
        Number of clusters (a cluster without points gets an empty basis);
        None is ``labels.max() + 1``.
    affine : bool, default=False
        Centre each cluster on its mean (affine subspaces).
    energy : float, default=0.99
        Share of each cluster's energy (sum of squared singular values) its
        basis keeps. A basis never spans the whole space (it would fit every
        point exactly): at most ``n_features - 1`` directions.

    Returns
    -------
    bases : list of ndarray of shape (n_features, dim_k)
        Orthonormal columns, the leading right singular vectors.
    offsets : ndarray of shape (n_clusters, n_features)
        Each cluster's mean when ``affine``, zeros otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.cluster import fit_subspace_bases, predict_by_bases
    >>> X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    >>> bases, offsets = fit_subspace_bases(X, np.array([0, 0, 1, 1]))
    >>> [basis.shape for basis in bases]
    [(2, 1), (2, 1)]
    >>> predict_by_bases(np.array([[5.0, 0.1], [0.2, -4.0]]), bases, offsets)
    array([0, 1])
    """
    labels = np.asarray(labels)
    n_features = X.shape[1]
    n_clusters = _n_labels(labels, n_clusters)
    bases = []
    offsets = np.zeros((n_clusters, n_features))
    for k in range(n_clusters):
        members = X[labels == k]
        if affine and len(members):
            offsets[k] = members.mean(axis=0)
        members = members - offsets[k]
        if len(members) == 0:
            bases.append(np.zeros((n_features, 0)))
            continue
        # The shares of energy are unit-free; a power of two keeps the
        # squared singular values in range (1e-170 or 1e170 data), exactly.
        _, singular, vt = np.linalg.svd(members / power_of_two_unit(members),
                                        full_matrices=False)
        cumulative = np.cumsum(singular**2)
        if cumulative[-1] <= 0:
            bases.append(np.zeros((n_features, 0)))
            continue
        # A share of the energy, not the rank tolerance of extmath: the
        # cluster's noise directions are dropped, not only its rounding.
        dim = int(np.searchsorted(cumulative, energy * cumulative[-1]) + 1)
        dim = min(dim, max(1, n_features - 1), len(members))
        bases.append(np.ascontiguousarray(vt[:dim].T))
    return bases, offsets


def predict_by_bases(X, bases, offsets):
    """Cluster of least residual :math:`\\|(I - U_k U_k^\\top)(x - o_k)\\|` for each row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Points to label.
    bases, offsets
        As returned by :func:`fit_subspace_bases`.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
        Ties (e.g. an all-zero point under linear subspaces) go to the first
        cluster.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.cluster import predict_by_bases
    >>> bases = [np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]])]
    >>> predict_by_bases(np.array([[0.1, 2.0]]), bases, np.zeros((2, 2)))
    array([1])
    """
    residuals = np.empty((X.shape[0], len(bases)))
    # Dividing a row's residuals to every cluster by one positive number keeps
    # their order: each row is measured in a power of two of its own size
    # (its entries and the offsets'), so squares neither overflow nor
    # underflow, whatever the units of X.
    reach = np.maximum(np.abs(X).max(axis=1, initial=0.0),
                       np.abs(offsets).max(initial=0.0))
    row_units = powers_of_two_above(reach)[:, None]
    for k, (basis, offset) in enumerate(zip(bases, offsets)):
        centred = (X - offset) / row_units
        residuals[:, k] = np.sum(centred**2, axis=1) - np.sum((centred @ basis) ** 2, axis=1)
    return np.argmin(residuals, axis=1).astype(np.intp)


class CollaborativeRule(NamedTuple):
    """The state of the collaborative rule (see :func:`fit_collaborative`)."""

    #: The fitted points sorted by label, shape (n_points, n_features).
    points: np.ndarray
    #: Label k holds rows ``bounds[k]:bounds[k + 1]`` of ``points``.
    bounds: np.ndarray
    #: ``ridge_map(points, lam)``, shape (n_points, n_features).
    projection: np.ndarray


def fit_collaborative(X, labels, n_clusters=None, *, alpha=DEFAULT_COLLABORATIVE_ALPHA):
    """The fitted points sorted by label, with their ridge map.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The fitted points.
    labels : ndarray of int of shape (n_samples,)
        Cluster of each point, in ``0 .. n_clusters - 1``.
    n_clusters : int, optional
        Number of clusters; None is ``labels.max() + 1``.
    alpha : float, default=0.01
        Ridge weight relative to the mean squared norm of ``X``:
        :math:`\\lambda = \\alpha\\, \\overline{\\|x\\|^2}` (> 0).

    Returns
    -------
    rule : CollaborativeRule
        ``(points, bounds, projection)``, for :func:`predict_collaborative`.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.cluster import fit_collaborative, predict_collaborative
    >>> X = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    >>> rule = fit_collaborative(X, np.array([0, 0, 1, 1]))
    >>> predict_collaborative(np.array([[5.0, 0.1], [0.2, -4.0]]), rule)
    array([0, 1])
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    points = X[order]
    bounds = np.searchsorted(labels[order], np.arange(_n_labels(labels, n_clusters) + 1))
    # The map is solved on the points in a power of two of their units (exact:
    # only the range changes), with the weight relative to their scale (1 for
    # all-zero data, where any weight is equal).
    unit = power_of_two_unit(points)
    scaled = points / unit
    lam = alpha * (mean_squared_norm(scaled) or 1.0)
    return CollaborativeRule(points, bounds, ridge_map(scaled, lam) / unit)


def predict_collaborative(X, rule):
    """Label of least normalised class residual :math:`\\|x - X_k^\\top c_k\\| / \\|c_k\\|`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Points to label.
    rule : CollaborativeRule
        As returned by :func:`fit_collaborative`.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
        A point that no fitted point helps to express (e.g. all zeros) takes
        label 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.cluster import fit_collaborative, predict_collaborative
    >>> X = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    >>> predict_collaborative(np.zeros((1, 2)), fit_collaborative(X, np.array([0, 0, 1, 1])))
    array([0])
    """
    return collaborative_labels(X, rule.points, rule.bounds, rule.projection)


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
    # A label's score ||x - X_k' c_k|| / ||c_k|| is unchanged when x is
    # divided by a number, and is divided by u when X_fit is divided by u (and
    # the map multiplied by it): each row in a power of two of its own size
    # and the fitted points in one of theirs leave the order of the scores
    # as it is, with norms that neither overflow nor underflow.
    fit_unit = power_of_two_unit(X_fit)
    X_fit = X_fit / fit_unit
    projection = projection * fit_unit
    block = max(1, BLOCK_FLOATS // max(X_fit.shape[0], X_fit.shape[1], 1))
    for start in range(0, n_new, block):
        rows = X_new[start:start + block]
        rows = rows / powers_of_two_above(np.abs(rows).max(axis=1, initial=0.0))[:, None]
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
