"""Linear algebra of the relative module, with every rank decision made where it means something.

The rank-tolerance rule of :mod:`skembed.utils.extmath` is relative: it may
only be applied to a matrix whose columns are in comparable units and which
is not rank-deficient by construction. The matrices of this module break both
conditions unless they are prepared:

* **Centred rows** (anchors, or the source anchors of a translator) have rank
  at most ``m - 1``: the ones vector is a null vector of the rows. The
  computed mean differs from the exact one by about ``eps |mean|``, which adds
  ``1 delta^T`` to the centred rows: a singular value of about
  ``sqrt(m) eps |mean|`` along the ones vector. When the data sit away from
  the origin (offset 100, spread 1) it exceeds the rank cut, and its inverse
  gives coordinates of order 1e13. :func:`drop_ones_direction` writes the
  rows in an orthonormal basis of the complement of the ones vector, which
  removes ``1 delta^T`` exactly; only what is left is cut. And the centred
  entries are themselves known only to about ``eps |mean|``, not
  ``eps |entry|``: data that lie exactly on an affine subspace away from
  the origin keep, once centred, a spread of that size off the subspace.
  :func:`least_squares_inverse` takes the subtracted mean (``offset``) into
  account, so such a direction is cut at every offset.
* **Columns in different units**: a column 1e12 times smaller than another
  has all its singular values under the cut even when it carries
  information. When the anchors span the space, :func:`least_squares_inverse`
  decides the rank on the columns scaled to unit root mean square, and the
  coordinates are unit-free. When they do not, the coordinates are a
  Euclidean projection, defined (and conditioned) in the columns' own units.
* **Range**: squares of entries above about 1e154 overflow and below 1e-154
  underflow. Data are scaled by powers of two (:func:`~skembed.utils.extmath.power_of_two_exponent`),
  which is exact: ordinary data give the same bits as without it.
"""

import numpy as np
from sklearn.utils import gen_batches

from ..utils._moments import WeightedMoments, shrunk_covariance
from ..utils.extmath import (
    column_scales,
    constant_columns,
    numerical_support,
    psd_inverse_sqrt,
)


def rounding_columns(mean, centred):
    """Columns of centred rows that are only the rounding of a constant column.

    A column constant over the rows, centred with a computed mean, is a few
    ulps of the mean rather than exact zeros; scaled to unit size it would
    look like a column of data. The rule is
    :func:`~skembed.utils.extmath.constant_columns`, with the column's root
    mean square (computed without overflow) as its standard deviation.
    """
    scales = column_scales(centred)
    scales[~np.any(centred, axis=0)] = 0.0  # column_scales gives 1 for zero columns
    return constant_columns(mean, scales**2)


def _ones_reflector(n_rows):
    """Unit w with (I - 2 w w^T) sending the unit ones vector to -e_1."""
    w = np.full(n_rows, 1.0 / np.sqrt(n_rows))
    w[0] += 1.0  # v + e_1 rather than v - e_1: no cancellation
    return w / np.linalg.norm(w)


def drop_ones_direction(rows):
    """The rows written in an orthonormal basis of the complement of the ones vector.

    Parameters
    ----------
    rows : ndarray of shape (m, k)

    Returns
    -------
    projected : ndarray of shape (m - 1, k)
        ``H^T rows`` with ``H`` (m x (m - 1)) orthonormal and ``H^T 1 = 0``:
        the last m - 1 rows of the Householder reflection that sends the
        ones vector onto the first axis. Any component of the form
        ``1 c^T`` (a column constant over the rows, the rounding of a mean)
        is removed, and ``H projected`` gives back the rows centred.
    """
    w = _ones_reflector(rows.shape[0])
    return (rows - 2.0 * np.outer(w, w @ rows))[1:]


def restore_ones_direction(coefficients):
    """Coefficients on the basis of :func:`drop_ones_direction`, back on the rows.

    Parameters
    ----------
    coefficients : ndarray of shape (k, m - 1)

    Returns
    -------
    coefficients : ndarray of shape (k, m)
        ``coefficients @ H^T``: each row sums to zero.
    """
    w = _ones_reflector(coefficients.shape[1] + 1)
    full = np.hstack([np.zeros((coefficients.shape[0], 1)), coefficients])
    return full - 2.0 * np.outer(full @ w, w)


def _truncated_inverse(matrix, reference):
    """``(M^+, rank)`` through the SVD, cut by the rule of ``numerical_support``.

    ``reference`` (a norm in the matrix's units, or None) is the magnitude
    the rule is relative to when the matrix's largest singular value is
    smaller: the size of what the entries were computed from.
    """
    U, singular, Vt = np.linalg.svd(matrix, full_matrices=False)
    keep = numerical_support(singular, max(matrix.shape), reference=reference)
    return (Vt[keep].T / singular[keep]) @ U[:, keep].T, int(np.count_nonzero(keep))


def least_squares_inverse(matrix, offset=None):
    """Moore-Penrose pseudo-inverse, with the rank decided in the metric that defines it.

    Parameters
    ----------
    matrix : ndarray of shape (m, d)
    offset : ndarray of shape (d,), default=None
        For centred rows, the size of what was subtracted from each column
        (the mean, in the matrix's units). The entries are then only known
        to about ``eps * offset``, and the rank tolerance is taken relative
        to the larger of the matrix's largest singular value and the norm of
        the offset rows ``1 offset^T``.

    Returns
    -------
    inverse : ndarray of shape (d, m)
        ``x @ inverse``: the least-squares coordinates of a row vector x in
        the rows of the matrix (minimum norm when the rows are dependent),
        in the Euclidean metric of the columns as given.

    Notes
    -----
    When the rows span the space, the coordinates of x are those of its
    exact reconstruction and do not depend on the units of any column:
    with ``S`` the columns' root mean squares, ``M^+ = S^-1 (M S^-1)^+``,
    whose rank is decided on the columns in comparable units. Otherwise x is
    projected onto the rows' span in the Euclidean metric of the columns as
    given, whose conditioning is a property of those units: a direction
    below the rounding of the largest columns cannot be resolved by that
    projection whatever its size in its own column, and deciding the rank
    in comparable units there gives coordinates of 1e17 for data whose
    columns differ in units by more than 1/eps. So that rank is decided on
    the matrix as given (its units brought near 1 by the caller).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    scales = column_scales(matrix)

    def reference(units):
        if offset is None:
            return None
        return np.sqrt(matrix.shape[0] + 1) * np.linalg.norm(offset / units)

    if matrix.shape[0] >= matrix.shape[1]:  # fewer rows cannot span: one SVD
        inverse, rank = _truncated_inverse(matrix / scales, reference(scales))
        if rank == matrix.shape[1]:
            return inverse / scales[:, None]
    return _truncated_inverse(matrix, reference(1.0))[0]


def correlation_whitening(X, shrinkage, block_rows):
    r"""Whitening computed on the correlation scale (ZCA-cor).

    ``W = D^{-1} P^{-1/2}`` with ``D`` the columns' standard deviations and
    ``P`` their correlation matrix (Kessy, Lewin & Strimmer, 2018), so the
    rank decision is made on a matrix with a unit diagonal, whatever the
    units of each column. ``W^T \Sigma W`` is the identity (a projector when
    the data do not span the space), like the symmetric
    :math:`\Sigma^{-1/2}`, from which it differs by a rotation; unlike it,
    the whitened coordinates do not change when a column is rescaled.
    Shrinkage acts on ``P`` toward the identity (the covariance toward its
    own diagonal), also unit-free. Columns constant over X get zero rows
    and columns: they carry no direction, shrinkage or not.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Float32 or float64; the moments are accumulated in float64 on the
        columns scaled by powers of two (exact), so float32 input gives the
        float64 result of the same numbers and no entry overflows when
        squared.
    shrinkage : bool or float
        As :func:`~skembed.utils._moments.shrunk_covariance`.
    block_rows : int
        Rows converted to float64 at a time.

    Returns
    -------
    exponents : ndarray of int of shape (n_features,)
        Column j is first multiplied by ``2**-exponents[j]``.
    unit_whitening : ndarray of shape (n_features, n_features)
        The whitening of the scaled columns: ``W = diag(2**-exponents) @
        unit_whitening``.
    shrinkage : float
        The coefficient used (0 without).
    """
    n_samples, n_features = X.shape
    largest = np.zeros(n_features)
    for rows in gen_batches(n_samples, block_rows):
        np.maximum(largest, np.abs(X[rows]).max(axis=0), out=largest)
    exponents = np.frexp(largest)[1]
    moments = WeightedMoments(n_features, {})
    for rows in gen_batches(n_samples, block_rows):
        block = np.ldexp(np.asarray(X[rows], dtype=np.float64), -exponents)
        moments.update(block, {}, np.ones(block.shape[0]))

    variance = moments.variance
    varying = np.flatnonzero(~constant_columns(moments.mean_x, variance) & (variance > 0))
    unit_whitening = np.zeros((n_features, n_features))
    rho = 0.0
    if varying.size:
        deviation = np.sqrt(variance[varying])
        correlation = moments.covariance[np.ix_(varying, varying)]
        correlation /= np.outer(deviation, deviation)
        correlation, rho = shrunk_covariance(correlation, moments.weight, shrinkage)
        unit_whitening[np.ix_(varying, varying)] = (
            psd_inverse_sqrt(correlation) / deviation[:, None]
        )
    return exponents, unit_whitening, rho
