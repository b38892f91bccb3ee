"""LatentTranslator: a map from one encoder's space into another's, fitted on parallel anchors."""

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted

from ..base import ValidationMixin
from ..utils._compat import StrOptions, fit_context
from ..utils._dask import is_dask_array
from ..utils._memory import float_bytes
from ..utils.extmath import power_of_two_exponent, root_mean_square_norm
from ._linalg import drop_ones_direction, least_squares_inverse, rounding_columns


def _rms_norm(centred):
    """sqrt(mean ||row||^2): the isotropic scale of a centred cloud (1 if zero)."""
    return root_mean_square_norm(centred) or 1.0


def orthogonal_procrustes(source, target):
    r"""The (semi-)orthogonal :math:`R` minimising :math:`\lVert S R - T \rVert_F`.

    With the thin SVD :math:`S^\top T = U \Sigma V^\top`, :math:`R = U V^\top`
    (Schönemann, 1966). When the widths differ, this equals padding the
    narrower space with zero columns and solving the square problem: R has
    orthonormal rows (``d_s <= d_t``) or columns (``d_s >= d_t``).
    """
    U, _, Vt = np.linalg.svd(source.T @ target, full_matrices=False)
    return U @ Vt


def least_squares(source, target, *, offset=None):
    """The minimum-norm least-squares ``R`` of ``source @ R ~ target``.

    The rank of ``source`` is decided on its columns in comparable units
    (:func:`~skembed.relative._linalg.least_squares_inverse`). With ``offset`` (the
    size of the source mean subtracted from each column), both are centred
    on their means: ``source`` then has rank at most n - 1 by construction,
    so the problem is solved in the complement of the ones vector, where
    the rounding of the means is gone.
    """
    if offset is None:
        return least_squares_inverse(source) @ target
    projected = drop_ones_direction(source)
    return least_squares_inverse(projected, offset) @ drop_ones_direction(target)


class LatentTranslator(
    ValidationMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    r"""Map vectors of one encoder's space into another's, fitted on parallel anchors.

    Given the same items embedded by two encoders (rows of ``X_source`` and
    ``X_target`` in the same order, the *parallel anchors*), fit an
    affine map :math:`t(x) = x\,C + b` so that :math:`t(X_{source}) \approx
    X_{target}`, then send any source vector into the target space
    (Maiorca et al., 2023). Both spaces are first centred (``center``) and
    scaled to unit root-mean-square norm (``scale``); the map found between
    the standardised spaces is composed with those steps into ``coef_`` and
    ``intercept_``:

    ``"orthogonal"`` (default)
        Orthogonal Procrustes: :math:`R = U V^\top` from the SVD
        :math:`\tilde S^\top \tilde T = U \Sigma V^\top`, the rotation (or
        reflection) that best aligns the standardised anchors. Different
        widths are handled as if the narrower space were padded with zeros.
    ``"linear"``
        Least squares, :math:`R = \tilde S^+ \tilde T` (minimum norm when
        there are fewer anchors than source features).
    ``"affine"``
        Least squares with an intercept. With ``center=True`` this is the same
        map as ``"linear"``; with ``center=False`` the bias is fitted.

    Read more in the :doc:`User Guide </user_guide/relative>`.

    Parameters
    ----------
    method : {"orthogonal", "linear", "affine"}, default="orthogonal"
        The family of maps (see above).
    center : bool, default=True
        Centre each space on its anchors' mean before fitting (the map then
        sends the source mean to the target mean).
    scale : bool, default=True
        Scale each centred space to unit root-mean-square norm before fitting,
        and the result back to the target's scale (isotropic, so orthogonal
        maps stay orthogonal).

    Attributes
    ----------
    coef_ : ndarray of shape (`n_features_in_`, `n_target_features_`)
        :math:`C`: ``transform(X) = X @ coef_ + intercept_``.
    intercept_ : ndarray of shape (`n_target_features_`,)
        :math:`b`.
    source_mean_, target_mean_ : ndarray
        The anchors' means in each space (zeros when ``center=False``).
    source_scale_, target_scale_ : float
        The root-mean-square norms used by ``scale`` (1 when ``scale=False``).
    n_target_features_ : int
        Width of the target space.
    n_features_in_ : int
        Width of the source space.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    RelativeRepresentation : Make spaces comparable without fitting a map.

    Notes
    -----
    ``fit(X_source, X_target)`` takes the target vectors in the place of
    scikit-learn's ``y``; a 1-D target is treated as a single column. The map
    is linear, so float32 input gives float32 output.

    Memory: about 1.5 float64 copies of each side of the anchors, plus the
    d_s x d_t product and its SVD (``"orthogonal"``) or about 4 copies of
    the source for its pseudo-inverse and 3 d_s x d_t solutions
    (``"linear"``, ``"affine"``); checked before any work (see
    :func:`skembed.utils.estimate_fit_memory`).

    References
    ----------
    .. [1] V. Maiorca, L. Moschella, A. Norelli, M. Fumero, F. Locatello,
       E. Rodolà. "Latent Space Translation via Semantic Alignment."
       NeurIPS 2023.
    .. [2] P. H. Schönemann. "A generalized solution of the orthogonal
       Procrustes problem." Psychometrika 31, 1966.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed import LatentTranslator
    >>> rng = np.random.RandomState(0)
    >>> X_source = rng.normal(size=(200, 16))
    >>> rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    >>> X_target = 2.0 * X_source @ rotation + 5.0
    >>> translator = LatentTranslator().fit(X_source[:50], X_target[:50])
    >>> bool(np.abs(translator.transform(X_source) - X_target).max() < 1e-10)
    True
    """

    _requires_y = True

    _dask_methods = frozenset({"transform"})
    _parameter_constraints = {
        "method": [StrOptions({"orthogonal", "linear", "affine"})],
        "center": ["boolean"],
        "scale": ["boolean"],
    }

    def __init__(self, method="orthogonal", *, center=True, scale=True):
        self.method = method
        self.center = center
        self.scale = scale

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the map from the source anchors ``X`` to the target anchors ``y``.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features)
            The anchors in the source space.
        y : array-like of shape (n_anchors, n_target_features) or (n_anchors,)
            The same anchors, in the same order, in the target space (a 1-D
            array is one target column).

        Returns
        -------
        self : LatentTranslator
            The fitted translator.
        """
        if is_dask_array(y):
            raise ValueError(
                f"{self._caller('fit')}: y is a dask array; the anchors' target vectors "
                "are read whole into memory, as the source anchors are. Pass them in "
                "memory (y.compute(): one row per anchor)."
            )
        X, Y, _ = self._validate_X_y(X, y, y_kind="continuous")
        source = np.asarray(X, dtype=np.float64)
        target = np.asarray(Y, dtype=np.float64).reshape(source.shape[0], -1)

        n_source, n_target = source.shape[1], target.shape[1]
        self.source_mean_ = source.mean(axis=0) if self.center else np.zeros(n_source)
        self.target_mean_ = target.mean(axis=0) if self.center else np.zeros(n_target)
        source = source - self.source_mean_
        target = target - self.target_mean_
        if self.center:
            # A column constant over the anchors is, once centred, only the
            # rounding of its mean; the rank decision must not see it.
            source[:, rounding_columns(self.source_mean_, source)] = 0.0
        self.source_scale_ = _rms_norm(source) if self.scale else 1.0
        self.target_scale_ = _rms_norm(target) if self.scale else 1.0
        source /= self.source_scale_
        target /= self.target_scale_
        # Powers of two (exact) keep S^T T and every square in range without
        # `scale`; the solution is scaled back below.
        source_exponent = power_of_two_exponent(source)
        target_exponent = power_of_two_exponent(target)
        source = np.ldexp(source, -source_exponent)
        target = np.ldexp(target, -target_exponent)

        bias = np.zeros(n_target)
        if self.method == "orthogonal":
            # Invariant to positive rescalings of either side.
            rotation = orthogonal_procrustes(source, target)
        elif self.method == "linear":
            offset = None
            if self.center:
                offset = np.ldexp(np.abs(self.source_mean_) / self.source_scale_, -source_exponent)
            rotation = least_squares(source, target, offset=offset)
            rotation = np.ldexp(rotation, target_exponent - source_exponent)
        else:
            # The column of ones absorbs the rounding of the means: no
            # deficiency by construction even when centred.
            augmented = np.hstack([source, np.ones((source.shape[0], 1))])
            solution = least_squares(augmented, target)
            rotation = np.ldexp(solution[:-1], target_exponent - source_exponent)
            bias = np.ldexp(solution[-1], target_exponent)

        ratio = self.target_scale_ / self.source_scale_
        self.coef_ = np.ascontiguousarray(rotation * ratio)
        self.intercept_ = self.target_mean_ + bias * self.target_scale_ - self.source_mean_ @ self.coef_
        self.n_target_features_ = n_target
        self._n_features_out = n_target
        return self

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit: float64 copies of both sides, and the solve.

        Measured (tracemalloc): centring and scaling hold about 1.5 copies of
        each side; Procrustes adds the d_s x d_t product and its SVD, least
        squares the pseudo-inverse of the source (about 4 more copies of it)
        and up to 3 d_s x d_t solutions (the solution, rescaled, as ``coef_``).
        """
        n_targets = n_features if n_targets is None else n_targets
        sides = 1.5 * n_samples * (n_features + n_targets)
        if self.method == "orthogonal":
            return float_bytes(sides, 2.5 * n_features * n_targets)
        return float_bytes(sides, 4 * n_samples * n_features, 3 * n_features * n_targets)

    def _memory_advice(self, n_samples, n_features):
        return ("The map is determined by far fewer anchors than this: fit on a sample "
                "of the parallel rows (a few times the width of either space), "
                "then transform all of them.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The target is a matrix of vectors (one column when 1-D), not labels.
        tags.target_tags.multi_output = True
        return tags

    def transform(self, X):
        """Send source vectors into the target space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors of the source space.

        Returns
        -------
        X_translated : ndarray of shape (n_samples, `n_target_features_`)
            ``X @ coef_ + intercept_``, in X's dtype.
        """
        check_is_fitted(self, "coef_")
        X = self._validate_X(X, reset=False)
        if is_dask_array(X):
            return self._transform_lazily(X, self._translate)
        return self._translate(X)

    def score(self, X, y, sample_weight=None):
        """R^2 of the translated vectors against the true target vectors.

        The coefficient of determination of ``transform(X)`` as a prediction
        of ``y``, averaged uniformly over the target's columns (what
        scikit-learn's regressors report), so that ``GridSearchCV`` and
        ``cross_val_score`` can compare translators without a scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Vectors of the source space.
        y : array-like of shape (n_samples, n_target_features) or (n_samples,)
            The same items in the target space.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            1 for a perfect translation; 0 for predicting the target's mean.
        """
        from sklearn.metrics import r2_score

        if is_dask_array(X) or is_dask_array(y):
            raise ValueError(
                f"{self._caller('score')}: a dask array would be read whole into memory "
                "to score it. Score a sample in memory (X[rows].compute()), or compute "
                "the R^2 blockwise from transform(X), which is lazy."
            )
        translated = self.transform(X)
        target = np.asarray(y, dtype=np.float64).reshape(translated.shape[0], -1)
        return float(r2_score(target, translated, sample_weight=sample_weight))

    def _translate(self, X):
        out = X @ self.coef_.astype(X.dtype, copy=False)
        out += self.intercept_.astype(X.dtype, copy=False)
        return out
