"""The estimator instances every common test runs on.

Adding an estimator to skembed needs nothing here: ``all_estimators()`` finds
it and it is checked with its default parameters. List extra parameter
settings when options change code paths, and any expected failure of a
scikit-learn check with the reason.
"""

from skembed.utils import all_estimators

from ._reference_estimators import ClassMeanProjector, MeanCenterer

#: Extra parameter settings per estimator name (each reaches other code paths).
CHECK_PARAMS = {}

#: Expected failures: estimator name -> {check name: reason}.
EXPECTED_FAILED_CHECKS = {}

#: Estimators that test the shared machinery (ValidationMixin) on its own.
REFERENCE_ESTIMATORS = [MeanCenterer(), MeanCenterer(with_std=True), ClassMeanProjector()]


def public_instances():
    """One instance per public estimator and parameter setting."""
    for name, cls in all_estimators():
        for params in CHECK_PARAMS.get(name, [{}]):
            yield cls(**params)


def all_instances():
    return [*public_instances(), *REFERENCE_ESTIMATORS]


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
