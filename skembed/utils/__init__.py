"""Utilities shared across skembed: estimator discovery, exact kNN search, memory estimates."""

from ._discovery import all_estimators
from ._memory import (
    InsufficientMemoryError,
    available_memory_bytes,
    estimate_fit_memory,
)
from ._neighbors import exact_kneighbors, neighbour_overlap, sparse_row_kneighbors

__all__ = [
    "InsufficientMemoryError",
    "all_estimators",
    "available_memory_bytes",
    "estimate_fit_memory",
    "exact_kneighbors",
    "neighbour_overlap",
    "sparse_row_kneighbors",
]
