"""Concept erasure: LEACE, orthogonal (SAL), INLP, R-LACE, SPLICE and quadratic (QLEACE)."""

from ._eraser import LinearConceptEraser
from ._nonlinear import NonlinearConceptEraser

__all__ = ["LinearConceptEraser", "NonlinearConceptEraser"]
