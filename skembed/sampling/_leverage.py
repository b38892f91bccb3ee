r"""Statistical leverage scores: exact (thin QR) and sketched (CountSketch/SRHT + JL).

The leverage score of row :math:`i` of :math:`X \in \mathbb{R}^{n \times d}` is

.. math:: \tau_i = x_i^\top (X^\top X)^{+} x_i = \|U_i\|_2^2,

with :math:`U` any orthonormal basis of the column space of :math:`X`. The
scores lie in [0, 1] and sum to :math:`\mathrm{rank}(X)`; they are the l2
sensitivities, :math:`\tau_i = \max_b (x_i^\top b)^2 / \|Xb\|_2^2`.

Exact scores come from a thin QR, :math:`X = QR`, then an SVD of the small
factor :math:`R` so that rank-deficient X gets the basis of its true column
space (a plain Q would also span spurious directions). The sketched estimate
follows Drineas, Magdon-Ismail, Mahoney & Woodruff, "Fast approximation of
matrix coherence and statistical leverage" (JMLR 2012), with the sparse
embedding of Clarkson & Woodruff ("Low rank approximation and regression in
input sparsity time", STOC 2013) or a subsampled randomized trigonometric
transform: a sketch :math:`SX` (s rows) gives :math:`SX = U\Sigma V^\top`,
the preconditioner :math:`P = V_r\Sigma_r^{-1}` makes :math:`XP` nearly
orthonormal (its singular values lie in :math:`[1/(1+\varepsilon),
1/(1-\varepsilon)]` when S is an :math:`\varepsilon` subspace embedding), and
the row norms of :math:`XP`, or of :math:`XPG` for a Gaussian JL matrix
:math:`G` with :math:`k = O(\log n)` columns when the rank is larger than k,
estimate the scores within a factor :math:`(1\pm\varepsilon)^{\pm 2}`. Cost
:math:`O(\mathrm{nnz}(X)\,\min(d, k) + \mathrm{poly}(d))`.

Units of the columns
--------------------
The scores depend only on the column space of X, which a positive scaling
of the columns does not change, but the rank decision (the relative cut of
:func:`~skembed.utils.extmath.numerical_support` on the singular values of R
or of the sketch) does: a column in units 1e12 times smaller than another
(a target in other units, a timestamp column next to unit-scale features)
would have all its singular values under the cut and its direction would be
lost. Both small factors are therefore scaled to comparable column units
(:func:`~skembed.utils.extmath.column_scales`) before they are decomposed.
That is enough: Householder QR is backward stable column by column, and a
sketch mixes rows, never columns, so neither loses a column to another's
units; scaling the d x d factor or the s x d sketch instead of X costs
nothing and never copies or densifies X. The preconditioner is returned in
X's units, and the scores need no unscaling.
"""

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ..utils.extmath import column_scales, numerical_rank, psd_inverse_sqrt_factor

__all__ = [
    "countsketch",
    "default_sketch_size",
    "exact_leverage_scores",
    "sketch_preconditioner",
    "sketched_leverage_scores",
    "srht",
    "stacked_sketched_leverage_scores",
    "well_conditioned_basis",
]

#: Rows of X per block in the passes of :func:`stacked_sketched_leverage_scores`:
#: the block's products (16384 x k float64, 2.6 MB for k = 20) stay in cache,
#: and no n-row temporary is allocated (page-faulting a fresh 1,000,000 x 52
#: product cost more than computing it, measured).
PASS_BLOCK_ROWS = 16_384


def reproducible_random_state(random_state):
    """A RandomState for the score functions: None gives ``RandomState(0)``.

    Scores are deterministic by default (a sketch only preconditions the
    exact computation there); an int seeds a new generator and an instance
    is used as it is, as :func:`sklearn.utils.check_random_state` does.
    """
    return check_random_state(0 if random_state is None else random_state)


def default_sketch_size(n_samples, n_features):
    """Rows of the sketch: enough for a constant-distortion subspace embedding.

    A CountSketch with :math:`s = O(d^2/\\varepsilon^2)` rows is an
    :math:`\\varepsilon` subspace embedding (Nelson & Nguyen 2013); ``4 d^2 +
    200`` rows keep the measured distortion of the scores well inside a factor
    2 (see tests/test_sampling.py) while the sketch stays tiny next to X.
    """
    return int(min(n_samples, 4 * n_features**2 + 200))


def _countsketch_matrix(n_samples, sketch_size, random_state, row_scale=None):
    """The CountSketch S (sketch_size x n_samples), times ``diag(row_scale)`` when given.

    Built in CSC form, one entry per column: ``S @ X`` then walks the rows of
    X in order and adds each into its bucket (a sequential read of X), where
    the CSR form gathers X's rows in random order (3-4 times slower on a
    1,000,000 x 50 X, measured).
    """
    buckets = random_state.randint(0, sketch_size, size=n_samples)
    signs = random_state.choice(np.array([-1.0, 1.0]), size=n_samples)
    if row_scale is not None:
        signs = signs * row_scale
    return sp.csc_matrix((signs, buckets, np.arange(n_samples + 1)),
                         shape=(sketch_size, n_samples))


def _sketch_dense(S, X):
    """``S @ X`` for a dense X of any float dtype, as float64, without copying X whole.

    A float64 C-ordered X is multiplied at once; any other X (float32,
    Fortran order) block by block, so only one block is ever converted.
    """
    if X.dtype == np.float64 and X.flags.c_contiguous:
        return np.asarray(S @ X)
    SX = np.zeros((S.shape[0], X.shape[1]))
    for start in range(0, X.shape[0], PASS_BLOCK_ROWS):
        stop = min(start + PASS_BLOCK_ROWS, X.shape[0])
        SX += S[:, start:stop] @ np.ascontiguousarray(X[start:stop], dtype=np.float64)
    return SX


def countsketch(X, sketch_size, random_state):
    """The sparse embedding :math:`SX`: each row of X is added, with a random sign, to one of ``sketch_size`` buckets.

    Cost O(nnz(X)); works on dense arrays and sparse matrices and returns a
    dense (sketch_size, n_features) float64 array.
    """
    S = _countsketch_matrix(X.shape[0], sketch_size, random_state)
    if sp.issparse(X):
        return (S @ X).toarray().astype(np.float64, copy=False)
    return _sketch_dense(S, X)


def srht(X, sketch_size, random_state):
    """Subsampled randomized trigonometric transform :math:`\\sqrt{n/s}\\,R\\,C\\,D\\,X`.

    D flips the signs of the rows at random, C is the orthonormal DCT-II along
    the rows (the real analogue of the Hadamard transform, defined for every
    n), and R keeps ``sketch_size`` rows at random. Dense X only; cost
    O(n d log n).
    """
    n_samples = X.shape[0]
    signs = random_state.choice(np.array([-1.0, 1.0]), size=n_samples)
    mixed = scipy.fft.dct(np.asarray(X, dtype=np.float64) * signs[:, None], axis=0, norm="ortho")
    rows = random_state.choice(n_samples, size=sketch_size, replace=False)
    return mixed[rows] * np.sqrt(n_samples / sketch_size)


def sketch_preconditioner(X, random_state, *, sketch_size=None, sketch="countsketch"):
    """Return ``(P, rank)`` with ``X @ P`` nearly orthonormal (d x rank).

    When the sketch would hold every row, X itself is factored and ``X @ P``
    is exactly orthonormal. The rank is decided on the sketch with its
    columns in comparable units, so it does not depend on the units of X's
    columns; P is returned in X's units.
    """
    n_samples, n_features = X.shape
    size = default_sketch_size(n_samples, n_features) if sketch_size is None else sketch_size
    if size >= n_samples:
        SX = X.toarray() if sp.issparse(X) else X
        SX = np.asarray(SX, dtype=np.float64)
    elif sketch == "srht" and not sp.issparse(X):
        SX = srht(X, size, random_state)
    else:
        SX = countsketch(X, size, random_state)
    return _preconditioner_of_sketch(SX)


def _preconditioner_of_sketch(SX):
    """``(P, rank)`` from a sketch SX of X: ``X @ P`` is as orthonormal as S is an embedding."""
    # SX D^-1 = U S V^T gives X (D^-1 V S^-1) nearly orthonormal: the scaling
    # only moves the rank cut to where it means "rounding" for every column.
    scales = column_scales(SX)
    # One BLAS thread: the sketch is a few MB, and a threaded LAPACK spends
    # more on synchronising its threads than on the work (an SVD of 11,016 x
    # 52 took 0.05 s on one thread and 0.2-1.5 s on two of a shared 2-core
    # machine, measured).
    with threadpool_limits(1, user_api="blas"):
        _, singular, Vt = scipy.linalg.svd(SX / scales, full_matrices=False,
                                           lapack_driver="gesdd")
    rank = numerical_rank(singular, max(SX.shape))
    return Vt[:rank].T / singular[:rank] / scales[:, None], rank


def _product(X, P):
    """``X @ P`` as a dense float64 array for dense or sparse X."""
    product = X @ P
    return np.asarray(product, dtype=np.float64)


def _row_sq_norms(Y):
    return np.einsum("ij,ij->i", Y, Y)


def well_conditioned_basis(X, random_state, *, exact_below=50_000):
    """A basis ``Y = X A`` of X's column space with condition number O(1).

    Dense X with at most ``exact_below`` rows: the exact orthonormal basis
    (thin QR, then the SVD of R for the rank). Larger or sparse X: the
    sketch-preconditioned ``X @ P`` followed by one exact orthonormalisation
    through its (now well-conditioned) Gram matrix. Scores that are invariant
    under ``X -> X A`` (leverage scores, Lewis weights) can be computed on Y.
    """
    if not sp.issparse(X) and X.shape[0] <= exact_below:
        return _qr_basis(np.asarray(X, dtype=np.float64))
    P, _ = sketch_preconditioner(X, random_state)
    Y = _product(X, P)
    # Y is within a constant factor of orthonormal, so its Gram matrix is
    # well conditioned and its inverse square root finishes the job stably.
    return Y @ psd_inverse_sqrt_factor(Y.T @ Y)


def _qr_basis(X):
    """Orthonormal basis of colsp(X): thin QR, then the SVD of R for the rank.

    The rank is decided on R with its columns in comparable units (R's
    column norms are X's), so a column in small units keeps its direction.
    """
    Q, R = scipy.linalg.qr(X, mode="economic", overwrite_a=False, check_finite=False)
    U_R, singular, _ = scipy.linalg.svd(R / column_scales(R), full_matrices=False)
    rank = numerical_rank(singular, max(X.shape))
    if rank == R.shape[1]:
        return Q
    return Q @ U_R[:, :rank]


def exact_leverage_scores(X, random_state=None):
    """Exact leverage scores: squared row norms of an orthonormal basis of colsp(X).

    Dense X: thin QR (plus an SVD of R for rank-deficient X). Sparse X (no
    sparse QR in SciPy): the sketch-preconditioned basis of
    ``well_conditioned_basis``, exactly orthonormalised, so the scores
    are exact up to rounding there too.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The matrix whose rows are scored (finite values).
    random_state : int, RandomState instance or None, default=None
        The sketch that preconditions sparse X (None: ``RandomState(0)``);
        unused for dense X.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        :math:`\tau_i = x_i^\top (X^\top X)^+ x_i`, in [0, 1], summing to
        rank(X).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import exact_leverage_scores
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> exact_leverage_scores(X).round(3)
    array([1. , 0.5, 0.5])
    """
    random_state = reproducible_random_state(random_state)
    if sp.issparse(X):
        basis = well_conditioned_basis(X, random_state, exact_below=-1)
    else:
        basis = _qr_basis(np.asarray(X, dtype=np.float64))
    return _row_sq_norms(basis)


def sketched_leverage_scores(X, random_state, *, sketch_size=None, sketch="countsketch", jl_dim=None):
    """Leverage scores estimated from a sketch (Drineas et al. 2012).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The matrix whose rows are scored (finite values).
    random_state : int, RandomState instance or None
        The sketch and the JL projection.
    sketch_size : int, default=None
        Rows of the sketch (default ``default_sketch_size``).
    sketch : {"countsketch", "srht"}, default="countsketch"
        The subspace embedding (SRHT for dense X only).
    jl_dim : int, default=None
        Columns of the Gaussian JL projection applied after the
        preconditioner, used only when the rank exceeds it; default
        ``ceil(8 log n)``.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Within a factor :math:`(1\\pm\\varepsilon)^{\\pm 2}` of the exact scores
        for an :math:`\\varepsilon` embedding (times the JL factor when used).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import exact_leverage_scores, sketched_leverage_scores
    >>> X = np.random.RandomState(0).standard_normal((20000, 5))
    >>> ratio = sketched_leverage_scores(X, 0) / exact_leverage_scores(X)
    >>> bool(0.5 < ratio.min() and ratio.max() < 2)
    True
    """
    random_state = check_random_state(random_state)
    n_samples = X.shape[0]
    P, rank = sketch_preconditioner(X, random_state, sketch_size=sketch_size, sketch=sketch)
    return _row_sq_norms(_product(X, _jl_projection(P, rank, n_samples, jl_dim, random_state)))


def _jl_projection(P, rank, n_samples, jl_dim, random_state):
    """``P @ G`` with a Gaussian JL matrix G of ``jl_dim`` columns when the rank exceeds it."""
    k = int(np.ceil(8 * np.log(max(n_samples, 2)))) if jl_dim is None else jl_dim
    if rank > k:
        G = random_state.standard_normal((rank, k)) / np.sqrt(k)
        return P @ G
    return P


def stacked_sketched_leverage_scores(X, columns, row_scale, random_state, *, sketch_size=None,
                                     jl_dim=None):
    r"""Sketched leverage scores of :math:`A = \mathrm{diag}(s)[X, C]`, without forming A.

    The scores of :func:`sketched_leverage_scores` on A (the same random
    draws, so the same scores up to rounding), computed in two passes over
    the rows of a dense X, block by block: the CountSketch :math:`SA =
    [S'X, S'C]` with :math:`S' = S\,\mathrm{diag}(s)`, then the squared row
    norms of :math:`A P G`, each block's :math:`X_b (PG)_X + C_b (PG)_C`
    scaled by :math:`s_b^2`. X is read twice and never copied (a float32 or
    Fortran-ordered X is converted one block at a time); the working memory
    is the sketch, one block's products and the n scores.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense rows, finite, float32 or float64, any memory order.
    columns : ndarray of shape (n_samples, n_columns) or None
        Extra float64 columns appended to X (a target, the intercept's ones).
    row_scale : ndarray of shape (n_samples,) or None
        The row factors s (None: all 1).
    random_state : RandomState instance
        The sketch and the JL projection.
    sketch_size : int, default=None
        Rows of the sketch (default ``default_sketch_size``); must be below
        n_samples (a sketch holding every row is A itself: use
        :func:`sketched_leverage_scores` on A).
    jl_dim : int, default=None
        Columns of the JL projection, used when the rank exceeds it (default
        ``ceil(8 log n)``, as :func:`sketched_leverage_scores`).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        The estimated leverage scores of the rows of A.
    """
    n_samples, n_features = X.shape
    width = n_features + (0 if columns is None else columns.shape[1])
    size = default_sketch_size(n_samples, width) if sketch_size is None else sketch_size
    if size >= n_samples:
        raise ValueError(
            f"stacked_sketched_leverage_scores: a sketch of {size} rows holds every one of the "
            f"{n_samples} rows; score the stacked matrix with sketched_leverage_scores."
        )
    S = _countsketch_matrix(n_samples, size, random_state, row_scale)
    SA = _sketch_dense(S, X)
    if columns is not None:
        SA = np.hstack([SA, np.asarray(S @ columns)])
    P, rank = _preconditioner_of_sketch(SA)
    scores = np.zeros(n_samples)
    if rank == 0:
        return scores
    Q = _jl_projection(P, rank, n_samples, jl_dim, random_state)
    Q_X, Q_C = Q[:n_features], Q[n_features:]
    with threadpool_limits(1, user_api="blas"):
        _block_row_norms(X, columns, row_scale, Q_X, Q_C, scores)
    return scores


def _block_row_norms(X, columns, row_scale, Q_X, Q_C, scores):
    """``scores[b] = s_b^2 ||X_b Q_X + C_b Q_C||^2`` block by block (on one BLAS thread).

    One thread: each block's product (16384 x d times d x k) is a few MB of
    memory-bound work, and a threaded BLAS spends more synchronising than
    computing on it when the cores are shared (the pass over 1,000,000 x 50
    took 0.2 s on one thread and 0.9-3.9 s on two of a loaded 2-core
    machine, measured).
    """
    n_samples = X.shape[0]
    for start in range(0, n_samples, PASS_BLOCK_ROWS):
        stop = min(start + PASS_BLOCK_ROWS, n_samples)
        block = X[start:stop]
        # A float32 block is converted (one block at a time): the scores are
        # those of the float64 numbers, as everywhere in the sampler.
        if block.dtype != np.float64:
            block = block.astype(np.float64)
        Z = block @ Q_X
        if columns is not None:
            Z += columns[start:stop] @ Q_C
        norms = _row_sq_norms(Z)
        if row_scale is not None:
            norms *= row_scale[start:stop] ** 2
        scores[start:stop] = norms

