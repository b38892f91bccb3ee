"""Numerical helpers shared by every skembed algorithm, each written once.

Modelled on :mod:`sklearn.utils.extmath`: these functions know nothing about
any estimator; they take arrays and return arrays, and each documents the
tolerance rule it applies. Every rank decision of the package goes through
:func:`numerical_support`, so changing the rule (or the matrix it is applied
to) is a change in one place.

The rank-tolerance rule
-----------------------
A singular value (or a PSD matrix's eigenvalue) ``v`` counts as zero when

    v <= max(values) * size * eps,      eps = float64 machine epsilon,

with ``size`` the largest dimension of the matrix the values come from. This
is the rule of :func:`numpy.linalg.matrix_rank` and LAPACK's pseudo-inverses:
it separates the rounding noise of a backward-stable decomposition from the
data. It is *relative*, so it is only meaningful on a matrix

* whose columns are in comparable units: a column a 1e12 times smaller than
  another has all its singular values under the cut even when it carries
  information. Standardise (or scale to unit norm) the columns first and
  undo the scaling afterwards;
* whose rank is not deficient by construction: centred one-hot indicators
  (k columns, rank k - 1), centred anchors (m rows, rank at most m - 1) or a
  Gram matrix of duplicated rows have an exact zero that rounding turns into
  a small positive value, which the cut keeps whenever the matrix's other
  values are small too. Remove the known null direction first (drop a
  column, work in the complement) and cut only what is left.

For eigenvalues of a covariance (squared singular values) the same relative
rule is applied to the eigenvalues themselves; that is the historical choice
of the callers and keeps their results.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp

__all__ = [
    "column_scales",
    "constant_columns",
    "mean_squared_norm",
    "normalize_rows",
    "numerical_rank",
    "numerical_support",
    "orthonormal_basis",
    "power_of_two_exponent",
    "power_of_two_unit",
    "powers_of_two_above",
    "psd_eigh",
    "psd_inverse_sqrt",
    "psd_inverse_sqrt_factor",
    "pseudo_inverse",
    "root_mean_square_norm",
    "safe_reciprocal",
    "standardise_columns_by_powers_of_two",
    "standardised_discrepancy",
]

_EPS = np.finfo(np.float64).eps


def numerical_support(values, size, *, reference=None):
    """Mask of the singular values (or PSD eigenvalues) that are not rounding.

    Parameters
    ----------
    values : ndarray of shape (k,)
        Non-negative singular values, or eigenvalues of a positive
        semi-definite matrix (tiny negative rounding is allowed), in any
        order.
    size : int
        Largest dimension of the matrix the values come from.
    reference : float, default=None
        The magnitude the entries were computed from, in the values' units,
        when it can exceed ``max(values)``: the entries of centred rows are
        only known to about ``eps`` times the mean that was subtracted, so
        the tolerance is relative to the larger of the two.

    Returns
    -------
    mask : ndarray of bool, shape (k,)
        True where ``values > max(max(values), reference) * size * eps``;
        all False when every value is <= 0 (the zero matrix has rank 0).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import numerical_support
    >>> numerical_support(np.array([2.0, 1.0, 1e-18]), size=3)
    array([ True,  True, False])
    """
    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    top = values.max()
    if not top > 0:
        return np.zeros(values.shape, dtype=bool)
    if reference is not None:
        top = max(top, float(reference))
    return values > top * size * _EPS


def numerical_rank(values, size):
    """Number of values above the rank tolerance of :func:`numerical_support`.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import numerical_rank
    >>> numerical_rank(np.linalg.svd(np.ones((4, 3)), compute_uv=False), size=4)
    1
    """
    return int(np.count_nonzero(numerical_support(values, size)))


def psd_eigh(matrix, *, overwrite=False):
    """Eigenpairs of a symmetric PSD matrix on its numerical support.

    Parameters
    ----------
    matrix : ndarray of shape (d, d)
        Symmetric positive semi-definite (a covariance, a Gram matrix); only
        its lower triangle is read.
    overwrite : bool, default=False
        Let LAPACK work in ``matrix``'s memory (its content is then lost):
        one d x d matrix less at the peak.

    Returns
    -------
    eigenvalues : ndarray of shape (r,)
        The eigenvalues above the rank tolerance, ascending.
    eigenvectors : ndarray of shape (d, r)
        Their orthonormal eigenvectors.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import psd_eigh
    >>> values, vectors = psd_eigh(np.diag([4.0, 0.0, 1.0]))
    >>> values
    array([1., 4.])
    """
    # The QR-iteration driver (syev) needs O(d) workspace; the
    # divide-and-conquer one that numpy.linalg.eigh calls needs 2 d^2 more
    # (three d x d matrices at the peak instead of one beside the
    # eigenvectors). MRRR (syevr) is as lean but resolves the eigenvectors of
    # tiny eigenvalues less accurately: LEACE's guard on a 1e-8-variance
    # concept direction rose from 1e-13 to 3e-10 with it.
    # LAPACK works on Fortran-ordered memory: the transpose of a C-ordered
    # symmetric matrix is that same matrix, so overwriting needs no copy.
    eigenvalues, eigenvectors = scipy.linalg.eigh(
        matrix.T if matrix.flags.c_contiguous else matrix, overwrite_a=overwrite,
        check_finite=False, driver="ev", lower=False if matrix.flags.c_contiguous else True,
    )
    # Ascending eigenvalues: the support is a suffix, so the eigenvectors
    # are returned as a view, not a d x r copy.
    first = matrix.shape[0] - numerical_rank(eigenvalues, matrix.shape[0])
    return eigenvalues[first:], eigenvectors[:, first:]


def psd_inverse_sqrt_factor(matrix):
    r"""A factor :math:`F` (d x r) with :math:`F F^\top = (M^{1/2})^{+\,2} = M^+`.

    ``F = V diag(lambda)^{-1/2}`` on the numerical support, so ``Y @ F`` has
    identity Gram matrix when ``M = Y^T Y``: the cheapest way to orthonormalise
    a basis whose Gram matrix is known. Directions without variance are
    dropped, not blown up.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import psd_inverse_sqrt_factor
    >>> psd_inverse_sqrt_factor(np.diag([4.0, 0.0])).shape
    (2, 1)
    """
    eigenvalues, eigenvectors = psd_eigh(matrix)
    return eigenvectors / np.sqrt(eigenvalues)


def psd_inverse_sqrt(matrix):
    r"""Symmetric pseudo-inverse square root :math:`(M^{1/2})^+` (ZCA whitening).

    Eigenvalues under the rank tolerance are treated as zero: directions
    without variance are dropped rather than blown up. The zero matrix maps
    to the zero matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import psd_inverse_sqrt
    >>> psd_inverse_sqrt(np.diag([4.0, 0.0]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    eigenvalues, eigenvectors = psd_eigh(matrix)
    return (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T


def pseudo_inverse(matrix):
    """Moore-Penrose pseudo-inverse through the SVD with the rank tolerance.

    Parameters
    ----------
    matrix : ndarray of shape (m, n)

    Returns
    -------
    inverse : ndarray of shape (n, m)
        ``x @ inverse`` gives the least-squares (minimum-norm when the rows
        are dependent) coordinates of a row vector x in the rows of the
        matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import pseudo_inverse
    >>> pseudo_inverse(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return np.zeros(matrix.shape[::-1])
    U, singular, Vt = np.linalg.svd(matrix, full_matrices=False)
    keep = numerical_support(singular, max(matrix.shape))
    return (Vt[keep].T / singular[keep]) @ U[:, keep].T


def orthonormal_basis(matrix, rank=None, *, min_singular_value=None):
    """Orthonormal basis of a matrix's column space (left singular vectors).

    Parameters
    ----------
    matrix : ndarray of shape (m, n)
    rank : int, optional
        Keep only the top ``rank`` vectors.
    min_singular_value : float, optional
        An absolute floor instead of the relative rank tolerance, for
        matrices whose scale is known (e.g. sines of angles between unit
        bases).

    Returns
    -------
    basis : ndarray of shape (m, r)

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import orthonormal_basis
    >>> orthonormal_basis(np.array([[1.0, 2.0], [2.0, 4.0]])).shape
    (2, 1)
    """
    if matrix.size == 0:
        return np.zeros((matrix.shape[0], 0))
    U, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    if min_singular_value is None:
        keep = numerical_support(singular, max(matrix.shape))
    else:
        keep = singular > min_singular_value
    U = U[:, keep]
    return U if rank is None else U[:, :rank]


def safe_reciprocal(values):
    """``1 / values`` where values > 0, and 0 elsewhere (a float array).

    The convention of every normalisation in skembed: a zero vector has no
    direction, so it stays zero instead of becoming NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import safe_reciprocal
    >>> safe_reciprocal(np.array([2.0, 0.0]))
    array([0.5, 0. ])
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    inverse = np.zeros_like(values)
    np.divide(1.0, values, out=inverse, where=values > 0)
    return inverse


def normalize_rows(X):
    """Rows scaled to unit Euclidean norm; zero rows stay zero. Returns a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import normalize_rows
    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    # Each row is first divided by a power of two near its largest entry
    # (exact), so its squared norm neither overflows (entries of 1e160) nor
    # underflows (1e-170); ordinary rows give the same bits either way.
    X = np.asarray(X)
    scaled = X / powers_of_two_above(np.abs(X).max(axis=1, initial=0.0))[:, None].astype(
        X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64, copy=False)
    norms = np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    return scaled * safe_reciprocal(norms)[:, None]


def mean_squared_norm(X):
    """Mean over rows of the squared Euclidean norm, ``mean_i ||x_i||^2``.

    The scale that skembed's regularisers are expressed in (a weight of
    ``alpha * mean_squared_norm(X)`` means the same whatever the units of
    X). Dense or sparse X; accumulated in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import mean_squared_norm
    >>> mean_squared_norm(np.array([[3.0, 4.0], [0.0, 0.0]]))
    12.5
    """
    if X.shape[0] == 0:
        return 0.0
    if sp.issparse(X):
        total = float(np.sum(np.asarray(X.multiply(X).sum(dtype=np.float64))))
    else:
        total = float(np.einsum("ij,ij->", X, X, dtype=np.float64))
    return total / X.shape[0]


def constant_columns(mean, variance):
    """Mask of columns whose variance is only rounding of their mean.

    A constant column c centred with a computed mean differs from 0 by about
    ``eps * abs(c)``, so its variance is about ``(eps * abs(c))**2``; anything
    at most ``(64 * eps * abs(mean))**2`` is treated as exactly constant.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import constant_columns
    >>> constant_columns(np.array([1e6, 1.0]), np.array([1e-30, 0.5]))
    array([ True, False])
    """
    return np.asarray(variance) <= (64 * _EPS * np.abs(mean)) ** 2


def column_scales(X):
    """A positive scale per column, computed without overflow or underflow.

    The root mean square of each column, evaluated as ``m * rms(x / m)`` with
    ``m`` the column's largest absolute value, so columns of order 1e-150 or
    1e150 neither underflow to 0 nor overflow to inf when squared. All-zero
    columns get scale 1 (dividing by it changes nothing).

    Divide the columns by these scales before a relative rank decision or a
    Gram matrix, and undo the scaling afterwards: results that depend only on
    the column space (leverage scores, guardedness) then do not depend on the
    columns' units.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)

    Returns
    -------
    scales : ndarray of shape (n_features,), float64

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import column_scales
    >>> column_scales(np.array([[3e200, 0.0], [-4e200, 0.0]]))
    array([3.53553391e+200, 1.00000000e+000])
    """
    if sp.issparse(X):
        X = sp.csc_matrix(X)
        largest = np.asarray(abs(X).max(axis=0).todense(), dtype=np.float64).ravel()
    else:
        largest = np.abs(X).max(axis=0, initial=0.0).astype(np.float64)
    safe = np.where(largest > 0, largest, 1.0)
    n_rows = max(X.shape[0], 1)
    if sp.issparse(X):
        scaled = X.astype(np.float64) @ sp.diags(1.0 / safe)
        mean_square = np.asarray(scaled.multiply(scaled).sum(axis=0)).ravel() / n_rows
    else:
        scaled = X / safe
        mean_square = np.einsum("ij,ij->j", scaled, scaled, dtype=np.float64) / n_rows
    scales = safe * np.sqrt(mean_square)
    return np.where(scales > 0, scales, 1.0)


# Units by powers of two
# ----------------------
# Solvers square entries (Gram matrices, squared norms, distances), which
# overflow from about 1e154 and underflow below 1e-154. Dividing the data by
# a power of two changes only the exponent of each entry, so it is exact:
# ordinary data give the same bits as without it, and only the range moves.


def power_of_two_exponent(values):
    """The exponent ``e`` with ``max |values|`` in ``[2**(e - 1), 2**e)``.

    ``np.ldexp(values, -e)`` has entries below 1 in magnitude, exactly. 0 for
    an empty or all-zero array. Reads the array twice, without a temporary.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import power_of_two_exponent
    >>> power_of_two_exponent(np.array([3.0, -5.0]))
    3
    """
    if np.size(values) == 0:
        return 0
    top = max(float(np.max(values)), -float(np.min(values)))
    return int(np.frexp(top)[1]) if top > 0 else 0


def power_of_two_unit(X):
    """``2**power_of_two_exponent(X)``: ``X / power_of_two_unit(X)`` is exact and below 1.

    1.0 for an empty or all-zero array.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import power_of_two_unit
    >>> power_of_two_unit(np.array([[3e200, 0.0]])) > 3e200
    True
    """
    return float(np.ldexp(1.0, power_of_two_exponent(X)))


def powers_of_two_above(values):
    """Elementwise the power of two ``2**e`` with ``values`` in ``[2**(e - 1), 2**e)``.

    1 where a value is 0: dividing by it changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import powers_of_two_above
    >>> powers_of_two_above(np.array([3.0, 0.0, 0.25]))
    array([4. , 1. , 0.5])
    """
    values = np.asarray(values, dtype=np.float64)
    return np.ldexp(1.0, np.frexp(np.where(values > 0, values, 0.5))[1])


def root_mean_square_norm(X):
    """``sqrt(mean_i ||x_i||^2)`` of the rows of a dense X, without overflow or underflow.

    Evaluated on ``X`` divided by :func:`power_of_two_unit`, so rows of norm
    1e-170 or 1e170 give their scale instead of 0 or inf. Expressed in this
    unit, the iterates of solvers that mix quantities of different units (an
    ADMM penalty shared by a coefficient and an error) are the same for the
    data and any multiple of it. 0.0 for an all-zero or empty X.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import root_mean_square_norm
    >>> float(root_mean_square_norm(np.array([[3e200, 4e200], [0.0, 0.0]])) / 1e200)
    3.5355339059327373
    """
    exponent = power_of_two_exponent(X)
    return float(np.ldexp(np.sqrt(mean_squared_norm(np.ldexp(np.asarray(X), -exponent))), exponent))


def standardise_columns_by_powers_of_two(X):
    """X with each column divided by the power of two above its :func:`column_scales`.

    Dividing by a power of two changes only the exponent of each entry, so it
    is exact: the result has columns of root mean square in ``[0.5, 1)``
    whatever their units (1e-150 or 1e150), their squares neither overflow
    nor underflow, and multiplying a column of X by any power of two gives
    the same bits. Any other factor gives the same result up to one rounding
    per entry. All-zero columns stay zero. Dense X only; the dtype is kept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    scaled : ndarray of shape (n_samples, n_features)
        A new array, in X's floating dtype (float64 for other dtypes).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import standardise_columns_by_powers_of_two
    >>> X = np.array([[3.0, 1.0], [-4.0, 0.0]])
    >>> standardise_columns_by_powers_of_two(X)
    array([[ 0.75,  1.  ],
           [-1.  ,  0.  ]])
    >>> bool(np.all(standardise_columns_by_powers_of_two(X * [2.0**600, 2.0**-900])
    ...             == standardise_columns_by_powers_of_two(X)))
    True
    """
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    # column_scales is 1 for an all-zero column (exponent 1: zeros stay zeros).
    exponents = np.frexp(column_scales(X))[1]
    return np.ldexp(X, -exponents.astype(np.int32))


def standardised_discrepancy(matrix, target):
    r"""Largest entrywise difference of two PSD matrices, each entry in its own units.

    .. math::

        \max_{ij} \frac{|M_{ij} - T_{ij}|}{\sqrt{d_i d_j}}, \qquad
        d_i = \max(M_{ii}, T_{ii}),

    the difference of two covariance matrices as a correlation: entry (i, j)
    is judged in the units of features i and j, not of the largest feature,
    so a feature a 1e12 times smaller than another is held to the same
    relative standard (a Frobenius or spectral norm of the difference, over
    that of the target, ignores it). Features without variance in either
    matrix (``d_i = 0``, whose rows are zero in both when they are PSD) are
    left out. Computed without squaring entries, so it does not overflow.

    Parameters
    ----------
    matrix, target : ndarray of shape (d, d)
        Symmetric positive semi-definite (covariances), in the same units.

    Returns
    -------
    discrepancy : float
        0 for equal matrices; at least ``|M_ii - T_ii| / max(M_ii, T_ii)``,
        so 1 when a feature has variance in one matrix and none in the other.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.utils.extmath import standardised_discrepancy
    >>> target = np.diag([1.0, 2.0**-80])
    >>> standardised_discrepancy(np.diag([1.0, 2.0**-78]), target)  # invisible in a norm
    0.75
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if matrix.size == 0:
        return 0.0
    inverse_root = safe_reciprocal(np.sqrt(np.maximum(
        np.maximum(matrix.diagonal(), target.diagonal()), 0.0)))
    difference = np.abs(matrix - target)
    difference *= inverse_root[:, None]
    difference *= inverse_root[None, :]
    return float(difference.max())
