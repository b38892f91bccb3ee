"""Row sampling for big regressions: leverage scores, Lewis weights, sensitivities, coresets.

The estimators (:class:`SensitivitySampler`, :class:`CoresetEstimator`) are
built on functions that are public too: the row scores
(:func:`exact_leverage_scores`, :func:`sketched_leverage_scores`,
:func:`lewis_weights`, :func:`exact_sensitivities`,
:func:`sketched_sensitivities`) and the unbiased draws from a distribution
over the rows (:func:`inclusion_probabilities`, :func:`bernoulli_sample`,
:func:`iid_sample`), for scoring once and drawing many samples.
"""

from ._coreset import CoresetEstimator, CoresetSpeedWarning
from ._leverage import exact_leverage_scores, sketched_leverage_scores
from ._lewis import lewis_weights
from ._sampler import SensitivitySampler
from ._schemes import bernoulli_sample, iid_sample, inclusion_probabilities
from ._sensitivity import exact_sensitivities, sketched_sensitivities

__all__ = [
    "CoresetEstimator",
    "CoresetSpeedWarning",
    "SensitivitySampler",
    "bernoulli_sample",
    "exact_leverage_scores",
    "exact_sensitivities",
    "iid_sample",
    "inclusion_probabilities",
    "lewis_weights",
    "sketched_leverage_scores",
    "sketched_sensitivities",
]
