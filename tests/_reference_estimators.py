"""Two minimal estimators built on ValidationMixin, used to test the shared machinery.

They exercise every path a real estimator uses (unsupervised and supervised
validation, sample weights, dtype preservation, feature names) so the common
checks and the bad-input battery test the mixin itself, independently of any
algorithm.
"""

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skembed.base import ValidationMixin
from skembed.utils._compat import fit_context


class MeanCenterer(ValidationMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Subtract the column means (and divide by the standard deviations)."""

    _parameter_constraints = {"with_std": ["boolean"]}

    def __init__(self, with_std=False):
        self.with_std = with_std

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        X = self._validate_X(X, reset=True)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0) if self.with_std else np.ones(X.shape[1], dtype=X.dtype)
        scale[scale == 0] = 1
        self.scale_ = scale
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)


class ClassMeanProjector(ValidationMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Project out the directions between (weighted) class means of a concept."""

    _requires_y = True
    _min_samples = 3

    _parameter_constraints = {}

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y, sample_weight = self._validate_X_y(
            X, y, y_kind="concept", sample_weight=sample_weight
        )
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        if y.ndim == 1:
            classes = np.unique(y)
            means = np.stack(
                [np.average(X[y == c], axis=0, weights=weights[y == c] + 1e-300) for c in classes]
            )
            directions = (means[1:] - means[0]).T
        else:
            centered = X - np.average(X, axis=0, weights=weights)
            directions = (centered * weights[:, None]).T @ (y - y.mean(axis=0))
        basis, singular, _ = np.linalg.svd(directions, full_matrices=False)
        basis = basis[:, singular > 1e-12 * max(singular.max(), 1e-300)]
        self.projection_ = (np.eye(X.shape[1]) - basis @ basis.T).astype(X.dtype)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return X @ self.projection_.astype(X.dtype, copy=False)
