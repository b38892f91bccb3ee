"""Orthogonal concept erasure: spectral attribute removal (SAL) and R-LACE's closed form.

Project X orthogonally off the column space of its cross-covariance with the
concept:

    r(x) = x - U U^T (x - mu),   U = top left singular vectors of Sigma_XZ.

Removing all of colsp(Sigma_XZ) guards the concept linearly (Cov(r(X), Z) = 0),
like LEACE, but moves the data more, since the projection ignores the shape of
Sigma (Belrose et al. 2023 compare the two). With ``rank=k`` only the top k
singular directions are removed: spectral attribute removal (Shao et al.
2023) and the closed-form solution of R-LACE's linear-regression objective
(Ravfogel et al. 2022, Section 4.1).
"""

from ..utils.extmath import orthonormal_basis


def orth_factors(cross_covariance, *, rank=None):
    """Orthogonal eraser as ``(readout, directions)`` factors (both U)."""
    basis = orthonormal_basis(cross_covariance, rank)
    return basis, basis
