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

Orthogonality is that of X's own units, so U is computed there; the
directions are then solved from the readout U like LEACE's
(:func:`._leace.guarded_factors`): ``U (U^T A)^+ U^T A = A`` holds for the
computed U, also when a feature 1e30 times smaller than the others carries
the concept (there U's entries are below the SVD's absolute accuracy). On
ordinary data the directions equal U to rounding.
"""

import numpy as np

from ..utils.extmath import numerical_rank, orthonormal_basis
from ._leace import guarded_factors


def orth_factors(cross_covariance, feature_scales, *, rank=None, ranking=None):
    """Orthogonal eraser as ``(readout, directions)`` factors.

    Parameters
    ----------
    cross_covariance : ndarray of shape (d, k)
        Cross-covariance with the concept, features standardised (see
        :func:`._leace.guarded_factors`).
    feature_scales : ndarray of shape (d,)
        Standard deviation of each feature in X's units: the projection is
        orthogonal in those units.
    rank : int, optional
        Remove only the top ``rank`` singular directions.
    ranking : ndarray of shape (d, k0), optional
        The cross-covariance with the concept in its own units, whose top
        singular directions ``rank`` selects (default: ``cross_covariance``).

    Returns
    -------
    readout, directions : ndarray of shape (d, r)
        In the standardised units: ``readout / feature_scales`` is U in X's
        units.
    """
    partial = rank is not None
    if partial:
        source = cross_covariance if ranking is None else ranking
    else:
        # The rank is decided in the standardised units (X's own may differ
        # by 1e30 between features); U spans that many directions.
        source = cross_covariance
        singular = np.linalg.svd(source, compute_uv=False) if source.size else np.zeros(0)
        rank = numerical_rank(singular, max(source.shape))
    relative = feature_scales / feature_scales.max() if feature_scales.size else feature_scales
    basis = orthonormal_basis(relative[:, None] * source)[:, :rank]
    readout = feature_scales[:, None] * basis
    if partial:
        # A partial erasure promises no guard: U U^T itself.
        return readout, basis / feature_scales[:, None]
    return guarded_factors(cross_covariance, readout)
