"""scikit-learn's own compatibility checks, over every skembed estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skembed.utils import all_estimators

from ._instances import all_instances, expected_failed_checks


@pytest.mark.slow
@parametrize_with_checks(all_instances(), expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_public_estimator_is_exported():
    import skembed

    for name, _ in all_estimators():
        assert name in skembed.__all__, f"{name} is public but not in skembed.__all__"
