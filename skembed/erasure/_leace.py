"""LEACE: least-squares concept erasure in closed form (Belrose et al., 2023).

Given the covariance Sigma of X and the cross-covariance A = Sigma_XZ of X
with the concept Z, LEACE is the affine map

    r(x) = x - W^+ P W (x - mu),   W = (Sigma^{1/2})^+,
    P = U U^T, U an orthonormal basis of colsp(W A),

the one of least mean squared edit E||r(X) - X||^2 (in fact, least for every
positive semi-definite inner product) among the affine maps with
Cov(r(X), Z) = 0. That zero cross-covariance is exactly the condition under
which no linear classifier can predict Z from r(X) better than a constant
("linear guardedness", Belrose et al., Theorem 3.1).

The edit has rank r <= rank(A) <= k (k = number of concept columns; k - 1
for k centred one-hot classes), so it is stored as two d x r factors and
applied in O(n d r):

    r(x) = x - ((x - mu) @ readout) @ directions.T,
    readout = W U,   directions = A (readout^T A)^+.

In exact arithmetic ``A (U^T W A)^+ = W^+ U`` (A lies in Sigma's support),
the textbook form. The form used here makes the guard hold by construction
for whatever readout was computed: the edit E = directions @ readout.T
satisfies E A = A as soon as ``readout^T A`` has the rank of A. That matters
where Sigma has variance below the rank tolerance of its eigendecomposition
(a feature equal to another plus 1e-8 times the concept): W ignores those
directions, W^+ U has no component along them, and the textbook map leaves
the concept there untouched, while ``A (readout^T A)^+`` moves along all of
A. What the whitened solve cannot see at all (a part of colsp(A) that W
maps to zero) is read out orthogonally by :func:`guarded_factors`.

Every rank decision is made on matrices in comparable units: the caller
standardises the features (correlation scale) and the concept's columns and
drops the one column of a one-hot concept that is a combination of the
others; pseudo-inverses use the package's relative rank tolerance
(:mod:`skembed.utils.extmath`), so rank-deficient covariances and d > n are
handled. SPLICE (:mod:`._splice`) adds a second constraint to the same
least-squares problem and uses the same routine.
"""

import numpy as np

from ..utils.extmath import numerical_rank, orthonormal_basis, psd_eigh, pseudo_inverse

_EPS = np.finfo(np.float64).eps


class Whitening:
    """W = (Sigma^{1/2})^+ and W^+ = Sigma^{1/2}, kept as eigen-factors.

    Only the eigenvectors on the numerical support of Sigma are kept
    (:func:`~skembed.utils.extmath.psd_eigh`), so applying W or W^+ to a
    d x k matrix costs O(d s k) for support size s.
    """

    def __init__(self, covariance, *, overwrite=False):
        eigenvalues, self.basis = psd_eigh(covariance, overwrite=overwrite)
        self.scale = np.sqrt(eigenvalues)

    def whiten(self, M):
        return self.basis @ ((self.basis.T @ M) / self.scale[:, None])

    def unwhiten(self, M):
        return self.basis @ ((self.basis.T @ M) * self.scale[:, None])


def _row_scaled_svd(M):
    """``(M^+, rank, row_space)`` of M, the rank decided on M's rows scaled to unit norm.

    The rows of a coupling ``readout^T A`` come from readouts in different
    units (whitened, orthonormal); scaling rows is M = N M' with N diagonal,
    so M^+ = M'^+ N^{-1} whenever M' has full row rank, and the relative
    rank tolerance then compares directions, not units. ``row_space`` is an
    orthonormal basis (k, k) of M's row space (first ``rank`` columns) and
    of its complement (the rest).
    """
    norms = np.linalg.norm(M, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    scaled = M / norms[:, None]
    _, singular, Vt = np.linalg.svd(scaled)
    rank = numerical_rank(singular, max(scaled.shape))
    return pseudo_inverse(scaled) / norms[None, :], rank, Vt.T


def guarded_factors(cross_covariance, readout, *, keep_basis=None):
    """Directions that make the edit ``directions @ readout.T`` guard the concept.

    Parameters
    ----------
    cross_covariance : ndarray of shape (d, k)
        A = Cov(X, Z), features and concept columns in comparable units and
        without a column that is a combination of the others by construction.
    readout : ndarray of shape (d, r)
        The coordinates ``(x - mu) @ readout`` the edit reads.
    keep_basis : ndarray of shape (d, m), optional
        Orthonormal basis of directions the added readouts must not read
        (SPLICE's target covariance, which the edit keeps).

    Returns
    -------
    readout, directions : ndarray of shape (d, r')
        ``readout`` plus orthonormal readouts for the part of colsp(A) it
        does not see (at most ``rank(A) - r`` of them), and
        ``directions = A (readout^T A)^+``, so that ``E A = A`` for
        ``E = directions @ readout.T``, whatever the accuracy of the
        readout.
    """
    if cross_covariance.size:
        readout = _complete_readout(cross_covariance, readout, keep_basis)
    inverse, _, _ = _row_scaled_svd(readout.T @ cross_covariance)
    return readout, cross_covariance @ inverse


def _complete_readout(cross_covariance, readout, keep_basis):
    """``readout`` plus orthonormal readouts of the part of colsp(A) it misses.

    With V the concept combinations the readout sees (the row space of
    ``readout^T A``) and N the others, the missing part is A N. Its
    component along A V is removed before the new readouts are chosen:
    A N is tiny when it lies where the whitening has no variance (that is
    why the readout missed it), so rounding in it would otherwise point
    the new readouts at A V and make ``[readout, extra]^T A`` nearly
    singular. Reading ``(I - P_{AV}) A N`` makes that coupling block
    triangular: its rank is that of A. The new readouts also avoid
    ``keep_basis``.
    """
    singular = np.linalg.svd(cross_covariance, compute_uv=False)
    size = max(cross_covariance.shape)
    concept_rank = numerical_rank(singular, size)
    _, seen_rank, row_space = _row_scaled_svd(readout.T @ cross_covariance)
    missing = concept_rank - seen_rank
    if missing <= 0:
        return readout
    avoid = [orthonormal_basis(cross_covariance @ row_space[:, :seen_rank])]
    if keep_basis is not None:
        avoid.append(keep_basis)
    avoid = orthonormal_basis(np.hstack(avoid))
    # The new readouts are chosen in coordinates of an orthonormal
    # complement of the avoided span, so they are orthogonal to it to
    # rounding however small A N's part outside it is (a singular vector
    # of A N itself would carry error of order eps * |A N| / that part).
    complement = np.linalg.qr(avoid, mode="complete")[0][:, avoid.shape[1]:]
    coordinates = complement.T @ (cross_covariance @ row_space[:, seen_rank:])
    # Only what is above A's own rank tolerance is concept, not rounding.
    extra = complement @ orthonormal_basis(
        coordinates, min_singular_value=singular[0] * size * _EPS
    )
    return np.hstack([readout, extra[:, :missing]])


def guard_residual(cross_covariance, readout, directions):
    """Largest entry of ``(I - E) A``, E = directions @ readout.T: Cov(r(X), Z)
    in the units of A (correlations when A is on the correlation scale)."""
    if not cross_covariance.size:
        return 0.0
    remaining = cross_covariance - directions @ (readout.T @ cross_covariance)
    return float(np.abs(remaining).max())


def leace_factors(
    covariance, cross_covariance, *, rank=None, ranking=None, keep_cross_covariance=None,
    overwrite_covariance=False,
):
    """Closed-form least-squares eraser as ``(readout, directions)`` factors.

    Parameters
    ----------
    covariance : ndarray of shape (d, d)
        Covariance of X (possibly shrunk), on the correlation scale.
    cross_covariance : ndarray of shape (d, k)
        Cross-covariance of X with the concept, in the same units, concept
        columns standardised and without a null combination (see
        :func:`guarded_factors`).
    rank : int, optional
        Erase only the top ``rank`` directions of colsp(W Sigma_XZ) (partial
        erasure; the guarantee then holds for those directions only).
    ranking : ndarray of shape (d, k0), optional
        The cross-covariance with the concept in its own units, whose top
        whitened directions ``rank`` selects (default: ``cross_covariance``).
    keep_cross_covariance : ndarray of shape (d, m), optional
        Cross-covariance with a task target to keep exactly (SPLICE), in the
        same units.
    overwrite_covariance : bool, default=False
        Let the eigendecomposition work in ``covariance``'s memory (a caller
        that built it for this call saves a d x d matrix).

    Returns
    -------
    readout, directions : ndarray of shape (d, r)
        The edit is ``(x - mu) @ readout @ directions.T``.

    Raises
    ------
    ValueError
        With ``keep_cross_covariance``, when the concept's directions overlap
        the target's (no projection can guard one and keep the other). The
        message names no estimator: the caller adds its own name.
    """
    whitening = Whitening(covariance, overwrite=overwrite_covariance)
    if rank is None:
        concept_basis = orthonormal_basis(whitening.whiten(cross_covariance))
    else:
        ranking = cross_covariance if ranking is None else ranking
        concept_basis = orthonormal_basis(whitening.whiten(ranking), rank)
    if keep_cross_covariance is None:
        if rank is not None:
            # A partial erasure promises no guard: the textbook factors.
            return whitening.whiten(concept_basis), whitening.unwhiten(concept_basis)
        return guarded_factors(cross_covariance, whitening.whiten(concept_basis))

    # SPLICE: the oblique projection onto span(concept_basis) whose kernel
    # contains the whitened target covariance. With Q an orthonormal basis of
    # that covariance and U one of concept_basis minus its part along Q,
    # E = A (U^T A)^{-1} U^T is the projection onto span(A) along
    # span(Q) + span([A, Q])^perp (in whitened coordinates): its readout
    # W U reads nothing of the target, so Cov(r(X), target) is kept.
    keep_basis = orthonormal_basis(whitening.whiten(keep_cross_covariance))
    residual = concept_basis - keep_basis @ (keep_basis.T @ concept_basis)
    # concept_basis is orthonormal, so the residual's singular values are the
    # sines of the angles between the two subspaces; below sqrt(eps) the
    # oblique projection would amplify rounding by more than 1e8.
    readout_basis = orthonormal_basis(residual, min_singular_value=np.sqrt(_EPS))
    if readout_basis.shape[1] < concept_basis.shape[1]:
        raise ValueError(
            "the concept's covariance directions overlap the "
            "target's, so no projection can erase the concept while keeping the "
            "target covariance. Use method='leace', or a target less aligned with "
            "the concept."
        )
    readout = whitening.whiten(readout_basis)
    if rank is not None:
        coupling = readout_basis.T @ concept_basis
        return readout, whitening.unwhiten(concept_basis) @ np.linalg.inv(coupling)
    return guarded_factors(
        cross_covariance, readout, keep_basis=orthonormal_basis(keep_cross_covariance)
    )
