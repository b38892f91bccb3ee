"""Concept erasure: LEACE, orthogonal (SAL), INLP, R-LACE, SPLICE, quadratic (QLEACE) and density matching (LEOPARD)."""

from ._eraser import LinearConceptEraser
from ._leopard import DensityMatchingEraser
from ._nonlinear import NonlinearConceptEraser

__all__ = ["DensityMatchingEraser", "LinearConceptEraser", "NonlinearConceptEraser"]
