"""Row sampling for big regressions: leverage scores, Lewis weights, lp sensitivities, coresets."""

from ._coreset import CoresetEstimator
from ._sampler import SensitivitySampler

__all__ = ["CoresetEstimator", "SensitivitySampler"]
