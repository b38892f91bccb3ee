"""Subspace clustering: EnSC, SSC, SSC-OMP, LSR, LRR and TSC with one spectral step.

Besides the estimator, the steps it is built from are public functions: the
spectral step on a representation matrix (:func:`affinity_from_representation`,
:func:`spectral_labels`) and the two out-of-sample rules
(:func:`fit_subspace_bases` with :func:`predict_by_bases`,
:func:`fit_collaborative` with :func:`predict_collaborative`), for studying a
step apart from the others (e.g. a rule built from true classes).
"""

from ._out_of_sample import (
    CollaborativeRule,
    fit_collaborative,
    fit_subspace_bases,
    predict_by_bases,
    predict_collaborative,
)
from ._spectral import affinity_from_representation, spectral_labels
from ._subspace_clusterer import SubspaceClusterer

__all__ = [
    "CollaborativeRule",
    "SubspaceClusterer",
    "affinity_from_representation",
    "fit_collaborative",
    "fit_subspace_bases",
    "predict_by_bases",
    "predict_collaborative",
    "spectral_labels",
]
