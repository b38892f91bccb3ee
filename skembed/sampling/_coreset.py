"""CoresetEstimator: fit any weighted estimator on a SensitivitySampler's sample."""

import warnings
from numbers import Integral

import numpy as np
from sklearn import config_context
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    clone,
    is_classifier,
)
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from ..base import ValidationMixin
from ..utils._compat import (
    HasMethods,
    Interval,
    check_method_params,
    fit_context,
    routing_enabled,
)
from ..utils._dask import dask_compute, is_dask_array
from ..utils._messages import user_stacklevel
from ..utils._progress import ProgressLog
from ._refine import check_refinable, refine_estimator
from ._sampler import SensitivitySampler

__all__ = ["CoresetEstimator", "CoresetSpeedWarning"]

#: Losses that grow linearly in the residual / margin: sampled with p = 1.
_LINEAR_GROWTH = ("QuantileRegressor", "HuberRegressor", "LogisticRegression", "SGDClassifier",
                  "LinearSVC", "LinearSVR", "PoissonRegressor")

#: Rows of the default leverage / root-leverage sample per column of the
#: scored design. For least squares the full-data objective at the sample's
#: solution exceeds the optimum by about r/m (r columns, m rows): 200 rows
#: per column aim at 0.5%; for the logistic loss root-leverage samples of
#: 200 r rows were within 0.5% of the optimum on heavy-tailed data (see
#: benchmarks/RESULTS.md, "SensitivitySampler (payoff)").
ROWS_PER_COLUMN = 200

#: Rows below which the default coreset path was measured slower than the
#: full fit, by estimator (``python benchmarks/sampling.py --part crossover``,
#: the last "SensitivitySampler (crossover)" section of
#: benchmarks/RESULTS.md: 50 Gaussian columns scaled by Student-t(3) rows,
#: one BLAS thread, 2 shared cores). Ridge's full fit solves the normal
#: equations (one Gram matrix), so it stays faster up to about 360,000 rows;
#: LogisticRegression's lbfgs converged in 5 iterations there, and up to
#: 200,000 rows the default scores are exact (a blockwise QR). A machine, a
#: width or a problem that makes the full fit slower moves them down.
CROSSOVER_ROWS = {"LinearRegression": 51_000, "Ridge": 360_000, "LogisticRegression": 160_000}


class CoresetSpeedWarning(UserWarning):
    """A coreset fit on fewer rows than its measured crossover: the full fit is faster.

    Issued once per :class:`~skembed.CoresetEstimator` by ``fit`` with the default
    sampler, for the estimators whose crossover was measured
    (``LinearRegression``, ``Ridge``, ``LogisticRegression``).
    """


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._base_estimator(), attr)

    return check


class CoresetEstimator(ValidationMixin, MetaEstimatorMixin, BaseEstimator):
    r"""Fit an estimator on a small weighted sample of the rows instead of all of them.

    ``fit(X, y)`` runs the ``sampler`` (a :class:`SensitivitySampler`) on
    the rows and fits a clone of ``estimator`` on the sample with the
    sampler's loss weights as ``sample_weight``: because the weighted sample
    approximates every lp objective :math:`\|Xb - y\|_p^p` at once, the
    model fitted on it is nearly the model of the full data (objective within
    :math:`1+\varepsilon`), at the cost of scoring the rows plus a fit on
    ``n_samples`` rows. ``predict``, ``predict_proba``, ``predict_log_proba``,
    ``decision_function``, ``transform`` and ``score`` are those of the
    fitted estimator.

    Read more in the :doc:`User Guide </user_guide/sampling>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Any estimator whose ``fit`` takes ``sample_weight`` (None:
        ``LinearRegression()``).
    sampler : SensitivitySampler, default=None
        None: a sampler chosen by the estimator's loss, with
        ``random_state`` and ``verbose`` (r below is the number of columns
        of the scored design: n_features + 1 for the intercept, + the
        targets of a regression):

        * least squares and other p = 2 losses (any estimator not listed
          below): ``method="leverage", p=2`` (the l2 sensitivities: sampling
          by them is a subspace embedding, and Lewis weights at p = 2 are the
          same scores; exact up to 200,000 rows, sketched above, both in two
          passes over X), ``n_samples=200 r``;
        * linear classifiers (``LogisticRegression``, ``SGDClassifier``,
          ``LinearSVC``): ``method="root_leverage", p=1`` on [X, 1]:
          :math:`\sqrt{\tau_i}` bounds the share of a linearly growing loss
          that row i can carry (Munteanu et al. 2018 sample by these norms
          plus a uniform term, which the intercept column provides: with
          it :math:`\tau_i \ge 1/n`); measured as accurate as l1 Lewis
          weights (Mai, Musco & Rao 2021) at the cost of two passes over X
          instead of one per Lewis iteration; ``n_samples=200 r``;
        * robust regressions (``QuantileRegressor``, ``HuberRegressor``,
          ``LinearSVR``, ``PoissonRegressor``): ``method="lewis", p=1``
          (Cohen & Peng's l1 guarantee), the sampler's default 1,000 rows,
          since their fit grows faster than linearly with the rows.

        For classifiers the target is never part of the scored matrix.
    refine : int, default=0
        Full-data second-order passes after the coreset fit: the exact
        solution for least squares (``LinearRegression``, ``Ridge``),
        iteratively reweighted least squares for ``QuantileRegressor(alpha=0)``,
        Newton steps for binary ``LogisticRegression`` (l2 penalty or none).
        Each pass reads X once and costs O(n d^2); least squares takes one
        pass, ``QuantileRegressor`` ``refine + 1`` at most (the first
        evaluates the coreset solution), ``LogisticRegression`` two per
        Newton step at most (every step size of the line search is tried in
        the same pass). On a dask X each pass is one blockwise reduction
        (one ``dask.compute``). Other estimators raise a ValueError.
    random_state : int, RandomState instance or None, default=None
        Seed of the default sampler. Only used when ``sampler`` is None (a
        given sampler keeps its own ``random_state``).
    verbose : int, default=0
        Progress on standard output: 1 prints a line as each stage ends (the
        default sampler's scores and draw, the estimator's fit on the
        sample, the refinement), 2 also one per Lewis iteration and per
        refinement pass. A given sampler keeps its own ``verbose``.

    Attributes
    ----------
    estimator_ : estimator object
        The estimator fitted on the sample.
    sampler_ : SensitivitySampler
        The fitted sampler (its ``sample_indices_``, ``sample_weight_``,
        ``scores_``).
    classes_ : ndarray of shape (n_classes,)
        The classes, for classifiers.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    Warns
    -----
    CoresetSpeedWarning
        A ``UserWarning`` subclass (``skembed.sampling.CoresetSpeedWarning``),
        once per estimator, when ``fit`` with the default sampler gets
        fewer rows than the crossover measured for ``LinearRegression``,
        ``Ridge`` or ``LogisticRegression`` (below it the full fit is faster
        than scoring the rows and fitting on the sample), or when the default
        sample (200 rows per design column) would hold every row, as on wide
        data.

    See Also
    --------
    SensitivitySampler : The row sampler.

    Notes
    -----
    Other fit parameters are sliced to the sampled rows and passed to the
    estimator's ``fit``; with metadata routing enabled
    (``sklearn.set_config(enable_metadata_routing=True)``) they are routed
    as requested by the estimator. ``sample_weight`` is always consumed by
    the coreset itself (the scores are computed on the weighted rows, and the
    estimator receives the product of the weights).

    Memory: the sampler's scoring of all rows (see
    :class:`SensitivitySampler`), checked before any work under the
    coreset's name; the estimator then fits on the sample alone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from skembed import CoresetEstimator, SensitivitySampler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((20000, 5))
    >>> y = X @ np.arange(1.0, 6.0) + rng.laplace(size=20000)
    >>> lad = QuantileRegressor(quantile=0.5, alpha=0, solver="highs")
    >>> sampler = SensitivitySampler(1000, p=1, random_state=0)
    >>> coreset = CoresetEstimator(lad, sampler=sampler)
    >>> coreset.fit(X, y).estimator_.coef_.round(1)
    array([1., 2., 3., 4., 5.])
    >>> len(coreset.sampler_.sample_indices_) < 1200
    True
    """

    _dask_methods = frozenset(
        {"fit", "predict", "predict_proba", "predict_log_proba", "decision_function", "transform"}
    )

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "sampler": [HasMethods(["fit"]), None],
        "refine": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, *, sampler=None, refine=0, random_state=None, verbose=0):
        self.estimator = estimator
        self.sampler = sampler
        self.refine = refine
        self.random_state = random_state
        self.verbose = verbose

    def _base_estimator(self):
        if self.estimator is None:
            from sklearn.linear_model import LinearRegression

            return LinearRegression()
        return self.estimator

    @property
    def _accept_sparse(self):
        return ["csr", "csc"] if get_tags(self._base_estimator()).input_tags.sparse else False

    @property
    def _requires_y(self):
        return True

    def _default_sampling(self):
        """``(method, p, rows per column or None)`` of the default sampler (see ``sampler``)."""
        base = self._base_estimator()
        if type(base).__name__ in _LINEAR_GROWTH:
            if is_classifier(base):
                return "root_leverage", 1.0, ROWS_PER_COLUMN
            return "lewis", 1.0, None
        return "leverage", 2.0, ROWS_PER_COLUMN

    def _make_sampler(self, width=None):
        """The sampler to fit: a clone of ``sampler``, or the default for a design of ``width`` columns."""
        if self.sampler is not None:
            return clone(self.sampler)
        method, p, per_column = self._default_sampling()
        params = dict(method=method, p=p, random_state=self.random_state, verbose=self.verbose)
        if per_column is not None and width is not None:
            params["n_samples"] = per_column * width
        return SensitivitySampler(**params)

    def _warn_below_crossover(self, n_rows, width):
        """Say once that the full fit is faster: below the measured crossover, or
        when the default sample would hold every row (wide data)."""
        if self.sampler is not None or getattr(self, "_warned_about_speed", False):
            return
        name = type(self._base_estimator()).__name__
        _, _, per_column = self._default_sampling()
        sample_rows = None if per_column is None else per_column * width
        if sample_rows is not None and sample_rows >= n_rows:
            self._warned_about_speed = True
            warnings.warn(
                f"CoresetEstimator.fit: the default sample of {per_column} rows per design "
                f"column ({sample_rows:,} for {width} columns) holds every one of the "
                f"{n_rows:,} rows, so the coreset is the data and only adds the scoring. "
                f"Fit {name} directly, or pass a sampler with a smaller n_samples. (This "
                "warning is shown once per estimator.)",
                CoresetSpeedWarning,
                stacklevel=user_stacklevel(),  # the user's call, past any wrapper
            )
            return
        crossover = CROSSOVER_ROWS.get(name)
        if crossover is None or n_rows >= crossover:
            return
        self._warned_about_speed = True
        warnings.warn(
            f"CoresetEstimator.fit: {n_rows:,} rows is below the crossover measured for "
            f"{name} (about {crossover:,} rows with 50 features; see "
            "benchmarks/RESULTS.md), under which scoring the rows and fitting on the sample "
            f"takes longer than {name}().fit on every row. Fit {name} directly, or pass a "
            "sampler to keep the coreset. (This warning is shown once per estimator.)",
            CoresetSpeedWarning,
            stacklevel=user_stacklevel(),  # the user's call, past any wrapper
        )

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Sample the rows, then fit a clone of the estimator on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values or class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, used by the sampler's scores and multiplied into the
            weights the estimator receives.
        **fit_params : dict
            Other parameters of the estimator's ``fit``; arrays of length
            n_samples are restricted to the sampled rows.

        Returns
        -------
        self : CoresetEstimator
            The fitted meta-estimator.
        """
        base = self._base_estimator()
        caller = "CoresetEstimator.fit"
        if not has_fit_parameter(base, "sample_weight"):
            raise ValueError(
                f"{caller}: {type(base).__name__}.fit takes no sample_weight, but a "
                "coreset's rows carry weights that the fit must use. Wrap an estimator "
                "whose fit accepts sample_weight (e.g. LinearRegression, "
                "QuantileRegressor, HuberRegressor, LogisticRegression, SGDRegressor)."
            )
        if self.refine:
            with self._named_errors("fit"):
                check_refinable(base)
        classifier = is_classifier(base)
        X, y, sample_weight = self._validate_X_y(
            X, y, y_kind="labels" if classifier else "continuous", sample_weight=sample_weight
        )
        if routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            estimator_params = dict(routed.estimator.fit)
            estimator_params.pop("sample_weight", None)
        else:
            estimator_params = fit_params

        if self.refine and classifier and np.unique(y).size != 2:
            raise ValueError(
                f"{caller}: refine supports binary LogisticRegression; y has "
                f"{np.unique(y).size} classes. Use refine=0, or a binary target."
            )
        progress = ProgressLog(self, self.verbose)
        n_targets = 0 if classifier else (1 if np.ndim(y) < 2 else y.shape[1])
        width = X.shape[1] + 1 + n_targets
        self._warn_below_crossover(X.shape[0], width)
        sampler = self._make_sampler(width=width)
        # X, y and the weights were just checked (finite, shapes): the
        # sampler's own check would read X once more for nothing.
        with config_context(assume_finite=True):
            # Class labels are not a direction of the design: score X alone.
            sampler.fit(X, None if classifier else y, sample_weight=sample_weight)
        indices = sampler.sample_indices_
        if classifier:
            self.classes_ = np.unique(y)
            missing = np.setdiff1d(self.classes_, y[indices])
            if missing.size:
                raise ValueError(
                    f"{caller}: the sample of {indices.size} rows has no row of classes "
                    f"{missing.tolist()}. Increase the sampler's n_samples, or use "
                    "class_weight / stratify the rare classes before sampling."
                )
        estimator_params = check_method_params(X, estimator_params, indices=indices)
        estimator = clone(base)
        # On a dask X the sample's rows are read into memory (it is small).
        sample = dask_compute(X[indices])[0] if is_dask_array(X) else X[indices]
        estimator.fit(sample, y[indices], sample_weight=sampler.sample_weight_,
                      **estimator_params)
        progress.stage(f"{type(estimator).__name__} fitted on {indices.size} rows")
        if self.refine:
            with self._named_errors("fit"):
                refine_estimator(estimator, X, y, sample_weight, self.refine, progress,
                                 sample=(sample, y[indices], sampler.sample_weight_))
            progress.stage(f"refined (refine={self.refine})")
        self.estimator_ = estimator
        self.sampler_ = sampler
        return self

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """The sampler's scoring of all rows (the estimator then fits on the sample)."""
        sampler = self._make_sampler()
        estimate = getattr(sampler, "_fit_memory_bytes", None)
        return 0 if estimate is None else estimate(n_samples, n_features)

    def _memory_advice(self, n_samples, n_features):
        sampler = self._make_sampler()
        if hasattr(sampler, "_memory_advice"):
            return sampler._memory_advice(n_samples, n_features)
        return super()._memory_advice(n_samples, n_features)

    def _check_X(self, X, method):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, method=method)

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator fitted on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The fitted estimator's predictions.
        """
        X = self._check_X(X, "predict")
        if is_dask_array(X):
            return self._transform_lazily(X, self.estimator_.predict)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the estimator fitted on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The fitted estimator's probabilities.
        """
        X = self._check_X(X, "predict_proba")
        if is_dask_array(X):
            return self._transform_lazily(X, self.estimator_.predict_proba)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the estimator fitted on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            The fitted estimator's log probabilities.
        """
        X = self._check_X(X, "predict_log_proba")
        if is_dask_array(X):
            return self._transform_lazily(X, self.estimator_.predict_log_proba)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the estimator fitted on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        scores : ndarray
            The fitted estimator's decision function.
        """
        X = self._check_X(X, "decision_function")
        if is_dask_array(X):
            return self._transform_lazily(X, self.estimator_.decision_function)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform with the estimator fitted on the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        X_new : ndarray
            The fitted estimator's transform.
        """
        X = self._check_X(X, "transform")
        if is_dask_array(X):
            return self._transform_lazily(X, self.estimator_.transform)
        return self.estimator_.transform(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the estimator fitted on the sample (its own ``score``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            R^2 for regressors, accuracy for classifiers (or the estimator's
            own score).
        """
        X = self._check_X(X, "score")
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def get_metadata_routing(self):
        """Route ``fit`` parameters other than ``sample_weight`` to the estimator.

        Returns
        -------
        routing : MetadataRouter
            The routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                estimator=self._base_estimator(),
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._base_estimator())
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.transformer_tags = inner.transformer_tags
        tags.target_tags = inner.target_tags
        tags.target_tags.required = True
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags
