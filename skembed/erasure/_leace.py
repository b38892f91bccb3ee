"""LEACE: least-squares concept erasure in closed form (Belrose et al., 2023).

Given the covariance Sigma of X and the cross-covariance Sigma_XZ of X with
the concept Z, LEACE is the affine map

    r(x) = x - W^+ P W (x - mu),   W = (Sigma^{1/2})^+,
    P = U U^T, U an orthonormal basis of colsp(W Sigma_XZ),

the one of least mean squared edit E||r(X) - X||^2 (in fact, least for every
positive semi-definite inner product) among the affine maps with
Cov(r(X), Z) = 0. That zero cross-covariance is exactly the condition under
which no linear classifier can predict Z from r(X) better than a constant
("linear guardedness", Belrose et al., Theorem 3.1).

The edit ``W^+ U U^T W`` has rank r <= k (k = number of concept columns; k - 1
for k centred one-hot classes), so it is stored as two d x r factors and
applied in O(n d r):

    r(x) = x - ((x - mu) @ readout) @ directions.T,
    readout = W U,   directions = W^+ U.

Pseudo-inverses use the package's relative rank tolerance (eigenvalues
below ``lambda_max * d * eps`` are zero, :mod:`skembed.utils.extmath`), so
rank-deficient covariances and d > n are handled. Equivalently, ``W^+ U U^T W = A (A^T Sigma^+ A)^+ A^T Sigma^+``
with A spanning colsp(Sigma_XZ); SPLICE (:mod:`._splice`) adds a second
constraint to the same least-squares problem and uses the same routine.
"""

import numpy as np

from ..utils.extmath import orthonormal_basis, psd_eigh


class Whitening:
    """W = (Sigma^{1/2})^+ and W^+ = Sigma^{1/2}, kept as eigen-factors.

    Only the eigenvectors on the numerical support of Sigma are kept
    (:func:`~skembed.utils.extmath.psd_eigh`), so applying W or W^+ to a
    d x k matrix costs O(d s k) for support size s.
    """

    def __init__(self, covariance):
        eigenvalues, self.basis = psd_eigh(covariance)
        self.scale = np.sqrt(eigenvalues)

    def whiten(self, M):
        return self.basis @ ((self.basis.T @ M) / self.scale[:, None])

    def unwhiten(self, M):
        return self.basis @ ((self.basis.T @ M) * self.scale[:, None])


def leace_factors(covariance, cross_covariance, *, rank=None, keep_cross_covariance=None):
    """Closed-form least-squares eraser as ``(readout, directions)`` factors.

    Parameters
    ----------
    covariance : ndarray of shape (d, d)
        Covariance of X (possibly shrunk).
    cross_covariance : ndarray of shape (d, k)
        Cross-covariance of X with the concept.
    rank : int, optional
        Erase only the top ``rank`` directions of colsp(W Sigma_XZ) (partial
        erasure; the guarantee then holds for those directions only).
    keep_cross_covariance : ndarray of shape (d, m), optional
        Cross-covariance with a task target to keep exactly (SPLICE).

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
    whitening = Whitening(covariance)
    concept_basis = orthonormal_basis(whitening.whiten(cross_covariance), rank)
    if keep_cross_covariance is None:
        return whitening.whiten(concept_basis), whitening.unwhiten(concept_basis)

    # SPLICE: the oblique projection onto span(concept_basis) whose kernel
    # contains the whitened target covariance. With Q an orthonormal basis of
    # that covariance and U one of concept_basis minus its part along Q,
    # E = A (U^T A)^{-1} U^T is the projection onto span(A) along
    # span(Q) + span([A, Q])^perp (in whitened coordinates).
    keep_basis = orthonormal_basis(whitening.whiten(keep_cross_covariance))
    residual = concept_basis - keep_basis @ (keep_basis.T @ concept_basis)
    # concept_basis is orthonormal, so the residual's singular values are the
    # sines of the angles between the two subspaces; below sqrt(eps) the
    # oblique projection would amplify rounding by more than 1e8.
    readout_basis = orthonormal_basis(residual, min_singular_value=np.sqrt(np.finfo(float).eps))
    if readout_basis.shape[1] < concept_basis.shape[1]:
        raise ValueError(
            "the concept's covariance directions overlap the "
            "target's, so no projection can erase the concept while keeping the "
            "target covariance. Use method='leace', or a target less aligned with "
            "the concept."
        )
    coupling = readout_basis.T @ concept_basis
    directions = whitening.unwhiten(concept_basis) @ np.linalg.inv(coupling)
    return whitening.whiten(readout_basis), directions
