"""Utilities shared across skembed: estimator discovery and exact kNN search."""

from ._discovery import all_estimators
from ._neighbors import exact_kneighbors, neighbour_overlap, sparse_row_kneighbors

__all__ = ["all_estimators", "exact_kneighbors", "neighbour_overlap", "sparse_row_kneighbors"]
