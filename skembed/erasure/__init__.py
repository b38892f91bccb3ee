"""Linear concept erasure: LEACE, orthogonal (SAL), INLP, R-LACE and SPLICE."""

from ._eraser import LinearConceptEraser

__all__ = ["LinearConceptEraser"]
