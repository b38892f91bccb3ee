"""Neighbour-preserving linear dimensionality reduction."""

from ._reducer import NNPreservingReducer

__all__ = ["NNPreservingReducer"]
