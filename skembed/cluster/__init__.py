"""Subspace clustering: EnSC, SSC, SSC-OMP, LSR, LRR and TSC with one spectral step."""

from ._subspace_clusterer import SubspaceClusterer

__all__ = ["SubspaceClusterer"]
