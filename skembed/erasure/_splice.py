"""SPLICE: erase a concept and keep the covariance with a task target exactly.

Holstege, Ravfogel & Wouters, "Preserving task-relevant information under
linear concept removal" (NeurIPS 2025). SPLICE solves LEACE's least-squares
problem with one more constraint: among the affine edits
``r(x) = x - E (x - mu)`` with

    E Sigma_XZ = Sigma_XZ      (Cov(r(X), Z) = 0: the concept is guarded)
    E Sigma_XY = 0             (Cov(r(X), Y) = Cov(X, Y): the task is kept)

it takes the one of least mean squared edit tr(E Sigma E^T). Lagrange
multipliers give E = C0 (C^T Sigma^+ C)^+ C^T Sigma^+ with C = [Sigma_XZ,
Sigma_XY] and C0 = [Sigma_XZ, 0]; E is idempotent, so r is an oblique
projection that "splices out" the concept directions along the task ones. In
whitened coordinates it is the projection onto span(W Sigma_XZ) along
span(W Sigma_XY) plus the orthogonal complement of both, computed by
:func:`._leace.leace_factors`. Without a target it is LEACE.
"""

from ._leace import leace_factors


def splice_factors(
    covariance, concept_cross_covariance, target_cross_covariance, *, rank=None, ranking=None,
    overwrite_covariance=False,
):
    """SPLICE eraser as ``(readout, directions)`` factors (see the module docstring)."""
    return leace_factors(
        covariance,
        concept_cross_covariance,
        rank=rank,
        ranking=ranking,
        keep_cross_covariance=target_cross_covariance,
        overwrite_covariance=overwrite_covariance,
    )
