"""Input validation and shared tags for every skembed estimator.

This module is the single place where skembed checks the arrays users pass in.
Estimators inherit :class:`ValidationMixin` and call
``self._validate_X(...)`` or ``self._validate_X_y(...)``; functions such as the
metrics call :func:`validate_array`. Nothing else in the package calls
scikit-learn's ``check_array`` directly, so every estimator rejects bad input
the same way, with a message that names the estimator, the argument, the
problem and the fix.
"""

import contextlib
import functools
import inspect
import re
import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.random import sample_without_replacement
from sklearn.utils.validation import check_array, validate_data

from .utils._compat import Interval, check_sample_weight, dense_output_config
from .utils._dask import (
    blockwise_transform,
    is_dask_array,
    to_numpy_vector,
    validate_dask_X,
)
from .utils._dask_targets import validate_lazy_targets
from .utils._memory import check_fit_memory, float_bytes
from .utils._messages import calling_estimator, user_stacklevel

__all__ = ["ValidationMixin", "validate_array", "FLOAT_DTYPES", "N_JOBS_CONSTRAINT"]

#: The constraint of every ``n_jobs`` parameter in skembed, as joblib reads it:
#: None (one job unless a ``joblib.parallel_config`` context says otherwise),
#: a positive count, or -1, -2, ... (all CPUs, all but one, ...). 0 means
#: nothing to joblib and is rejected before any work.
N_JOBS_CONSTRAINT = [
    None,
    Interval(Integral, 1, None, closed="left"),
    Interval(Integral, None, -1, closed="right"),
]

#: Floating dtypes kept as they are; any other numeric input becomes float64.
FLOAT_DTYPES = (np.float64, np.float32)
#: A message that already names an estimator's method ("Estimator.method: ...").
_NAMED_MESSAGE = re.compile(r"[A-Z]\w*\.\w+: ")

# What to tell the user, keyed by a fragment of scikit-learn's own message.
# scikit-learn's wording is kept in full (its common checks match on it) and
# the advice is appended.
_ADVICE = (
    ("NaN", "Impute or drop missing and infinite values first, e.g. with "
     "sklearn.impute.SimpleImputer or X[np.isfinite(X).all(axis=1)]."),
    ("infinity", "Impute or drop missing and infinite values first, e.g. with "
     "sklearn.impute.SimpleImputer or X[np.isfinite(X).all(axis=1)]."),
    ("Complex data", "Pass real numbers, e.g. np.abs(X) or X.real."),
    ("could not convert", "Pass numbers: encode text or categories as numeric "
     "vectors (embeddings) first."),
    ("strings", "Pass numbers: encode text or categories as numeric vectors "
     "(embeddings) first."),
    ("sample(s)", "Pass more rows, or parameters that need fewer."),
    ("feature(s)", "Pass at least one column."),
    ("features, but", "Pass data with the same columns as the data seen in fit."),
    ("feature names", "Pass data with the same columns as the data seen in fit."),
    ("Expected 2D array", "Reshape your data with X.reshape(-1, 1) if it has a "
     "single feature or X.reshape(1, -1) if it is a single sample."),
    # scikit-learn's message already says to call .toarray(): add what
    # to do when the dense matrix would not fit.
    ("Sparse data", "If the dense matrix would not fit in memory, reduce the "
     "columns first (e.g. sklearn.decomposition.TruncatedSVD)."),
)


def _advice_for(message):
    for fragment, advice in _ADVICE:
        if fragment in message:
            return advice
    return ""


def _reraise_with_context(exc, caller):
    """Re-raise a validation error as "caller: problem. fix".

    scikit-learn's first line states the problem in words its common checks
    look for; the lines after it (array dumps, general advice) are replaced by
    advice specific to the problem.
    """
    problem = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    problem = problem.rstrip(" :")
    if not problem.endswith("."):
        problem += "."
    advice = _advice_for(problem)
    text = f"{caller}: {problem}"
    if advice:
        text = f"{text} {advice}"
    raise type(exc)(text) from exc


def _plain(value):
    """A NumPy scalar as the Python value it holds (for messages: 0, not np.int64(0))."""
    return value.item() if isinstance(value, np.generic) else value


def _n_columns(y):
    """Columns of a validated target (None when there is none)."""
    if y is None:
        return None
    return 1 if np.ndim(y) < 2 else int(y.shape[1])


def _refuse_other_dask_collections(X, caller):
    """A dask DataFrame or Series would be read whole by NumPy: say how to pass it."""
    module = type(X).__module__.split(".")[0]
    if module == "dask" and not is_dask_array(X):
        raise ValueError(
            f"{caller}: X is a {type(X).__name__} of dask, which would be read whole into "
            "memory. Pass a dask array: X.to_dask_array(lengths=True) (or "
            "X.compute() if it fits in memory). In a pipeline of dask arrays, "
            "set_output(transform='pandas') belongs on the last step only: on the "
            "pipeline it hands each step the DataFrame of the one before."
        )


def validate_array(
    X,
    *,
    caller,
    input_name="X",
    min_samples=1,
    dtype=FLOAT_DTYPES,
    accept_sparse=False,
    ensure_2d=True,
    copy=False,
):
    """Validate one array outside an estimator (metrics, datasets, the CLI).

    Parameters
    ----------
    X : array-like
        The input to check.
    caller : str
        Who is checking, used in error messages (e.g. ``"knn_recall"``).
    input_name : str, default="X"
        The argument's name, used in error messages.
    min_samples : int, default=1
        Fewest rows accepted.
    dtype : dtype, tuple of dtypes or None, default=(float64, float32)
        Accepted dtypes; anything else is converted to the first one.
    accept_sparse : bool or list of str, default=False
        Sparse formats accepted.
    ensure_2d : bool, default=True
        Reject 1-D input.
    copy : bool, default=False
        Force a copy.

    Returns
    -------
    X : ndarray or sparse matrix
        The validated array; the caller's own array when no conversion was
        needed.
    """
    if type(X).__module__.split(".")[0] == "dask":
        # Functions outside the estimators work on arrays in memory (exact
        # neighbours, probes): NumPy would read a dask collection whole.
        raise ValueError(
            f"{caller}: {input_name} is a dask {type(X).__name__}, which would be read "
            f"whole into memory. Pass a NumPy array: a sample of rows "
            f"({input_name}[indices].compute()), or {input_name}.compute() if it fits."
        )
    try:
        return check_array(
            X,
            accept_sparse=accept_sparse,
            dtype=dtype,
            ensure_2d=ensure_2d,
            ensure_min_samples=min_samples,
            input_name=input_name,
            copy=copy,
        )
    except (TypeError, ValueError) as exc:
        _reraise_with_context(exc, caller)


def _restored_after_failed_dask_fit(fit):
    """``fit`` that leaves the estimator as it was when a fit on a dask array fails.

    A dask array's NaN block (or a worker's failure) surfaces inside the
    fit's compute, after validation has set ``n_features_in_`` for the new
    data: without this, a failed refit left the new width beside the old
    model. In memory the same checks fail before anything is set.
    """

    @functools.wraps(fit)
    def wrapper(self, X, *args, **kwargs):
        if not is_dask_array(X):
            return fit(self, X, *args, **kwargs)
        before = dict(vars(self))
        try:
            return fit(self, X, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    wrapper._skembed_restores = True
    return wrapper


def _lazy_output_for_dask(method, name):
    """``method`` with set_output's container made lazy for a dask input.

    Given a dask array and a ``set_output(transform="pandas")`` estimator,
    the result is a dask DataFrame with the output's column names, built
    lazily from the blockwise result (pandas, the eager container, would
    compute it); "polars" has no lazy form here and is refused. Anything
    else goes through scikit-learn's own wrapper unchanged.
    """
    unwrapped = getattr(method, "__wrapped__", method)

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if not is_dask_array(X) or not hasattr(self, "get_feature_names_out"):
            return method(self, X, *args, **kwargs)
        # set_output has one setting for both methods, under "transform".
        container = dense_output_config("transform", self)
        if container == "default":
            return method(self, X, *args, **kwargs)
        if container != "pandas":
            raise ValueError(
                f"{self._caller(name)}: X is a dask array, and set_output(transform="
                f"{container!r}) would read the whole result into memory. Use "
                "set_output(transform='pandas') for a lazy dask DataFrame, or 'default' "
                "for a lazy dask array."
            )
        # Before any work: dask's DataFrame needs pandas and pyarrow, which
        # the dask extra (dask arrays) does not install.
        try:
            import dask.dataframe as dd
        except ImportError as exc:
            raise ImportError(
                f"{self._caller(name)}: set_output(transform='pandas') on a dask array "
                f"gives a dask DataFrame, and dask.dataframe cannot be imported ({exc}). "
                "Install it with pip install 'dask[dataframe]', or use "
                "set_output(transform='default') for a lazy dask array."
            ) from exc
        result = unwrapped(self, X, *args, **kwargs)
        if not is_dask_array(result):
            return result  # already a frame (a fit_transform through transform)

        columns = list(self.get_feature_names_out()) if result.ndim == 2 else None
        return dd.from_dask_array(result, columns=columns)

    wrapper._skembed_dask_output = True
    return wrapper


class ValidationMixin:
    """The one input-validation path shared by every skembed estimator.

    It wraps :func:`sklearn.utils.validation.validate_data` so that estimators
    get, for free and identically:

    * float64 and float32 input kept as they are, other numeric input turned
      into float64;
    * a ``ValueError`` for NaN or infinite values, 1-D or empty input, complex
      numbers, strings, too few rows, and a wrong number of features or
      different feature names after fit, whose message names the estimator,
      the method, the argument and what to do;
    * ``n_features_in_`` and ``feature_names_in_`` set at fit;
    * targets (concepts, labels, continuous targets) and sample weights
      checked by ``_validate_X_y``;
    * scikit-learn tags describing all of this.

    Subclasses configure it with class attributes:

    ``_min_samples`` (int, default 2)
        Fewest rows ``fit`` accepts. Override ``_min_fit_samples`` when
        it depends on parameters (e.g. ``n_clusters``).
    ``_accept_sparse`` (False or list of formats)
        Sparse formats ``fit`` and ``transform`` accept.
    ``_requires_y`` (bool)
        Whether ``fit`` needs a target.
    ``_preserves_dtype`` (tuple of str)
        Dtypes that ``transform`` returns unchanged.
    ``_dask_methods`` (frozenset of str)
        Methods that take a dask array lazily (see
        ``skembed.utils._dask``); the others refuse one with an error
        rather than read it whole into memory.
    """

    _min_samples = 2
    _dask_methods = frozenset()
    _accept_sparse = False
    _requires_y = False
    _preserves_dtype = ("float64", "float32")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # scikit-learn's set_output wraps transform and fit_transform so that
        # their output becomes a pandas (or polars) frame, which would read a
        # lazy dask result whole into memory: a dask input keeps a lazy frame.
        # Only plain functions: a conditional method (``available_if``, e.g.
        # a meta-estimator's transform) must stay a descriptor.
        for name in ("transform", "fit_transform"):
            method = inspect.getattr_static(cls, name, None)
            if inspect.isfunction(method) and not getattr(method, "_skembed_dask_output", False):
                setattr(cls, name, _lazy_output_for_dask(method, name))
        fit = cls.__dict__.get("fit")
        if inspect.isfunction(fit) and not getattr(fit, "_skembed_restores", False):
            cls.fit = _restored_after_failed_dask_fit(fit)

    def _min_fit_samples(self):
        """Fewest rows that ``fit`` accepts (override to depend on parameters)."""
        return self._min_samples

    def _caller(self, method):
        return f"{type(self).__name__}.{method}"

    @contextlib.contextmanager
    def _named_errors(self, method):
        """Put the estimator and method in front of what its solvers raise or warn.

        Solvers are plain functions on arrays whose messages say what went
        wrong in general terms ("the concept's covariance directions overlap
        the target's"). Inside this context a ``ValueError`` or
        ``RuntimeError`` they raise is re-raised as "Estimator.method:
        message" (same class, chained to the original; an exception whose
        class cannot be rebuilt from a message passes unchanged), and their
        warnings, emitted with :func:`skembed.utils._messages.warn`, carry
        the same prefix. Nothing global changes, so fits in threads do not
        disturb each other's warning filters.
        """
        caller = self._caller(method)
        token = calling_estimator.set(caller)
        try:
            yield
        except (ValueError, RuntimeError) as exc:
            message = str(exc)
            # Already named (by this estimator, or by the one whose check
            # raised it inside this fit, e.g. a meta-estimator's NaN check
            # of a dask block): one name, the one that found the problem.
            if _NAMED_MESSAGE.match(message):
                raise
            try:
                named = type(exc)(f"{caller}: {message}")
            except Exception:  # noqa: BLE001 - a class that needs more than a message
                named = None
            if named is None:
                raise
            raise named from exc
        finally:
            calling_estimator.reset(token)

    def _validate_X(self, X, *, reset, method=None, dtype=FLOAT_DTYPES, copy=False):
        """Validate the data passed to ``fit`` (``reset=True``) or later methods.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.
        reset : bool
            True in ``fit``: record ``n_features_in_`` and ``feature_names_in_``
            and require ``_min_fit_samples()`` rows. False elsewhere: check the
            features against those seen in ``fit``.
        method : str, optional
            The public method being run, for error messages; defaults to
            ``"fit"`` or ``"transform"`` from ``reset``.
        dtype : dtype or tuple of dtypes, default=(float64, float32)
            Accepted dtypes.
        copy : bool, default=False
            Force a copy (only when the caller's array would otherwise be
            changed in place).

        Returns
        -------
        X : ndarray or sparse matrix
        """
        method = method or ("fit" if reset else "transform")
        _refuse_other_dask_collections(X, self._caller(method))
        if is_dask_array(X):
            X = self._validate_dask_X(X, reset=reset, method=method, dtype=dtype)
        else:
            try:
                X = validate_data(
                    self,
                    X,
                    reset=reset,
                    accept_sparse=self._accept_sparse,
                    dtype=dtype,
                    ensure_min_samples=self._min_fit_samples() if reset else 1,
                    copy=copy,
                )
            except (TypeError, ValueError) as exc:
                _reraise_with_context(exc, self._caller(method))
        if reset:
            self._check_fit_memory(X, method)
            # Only a fit whose data passed the checks records its parameters:
            # a failed one leaves transform reading the last good fit's.
            self._remember_params()
        return X

    def _check_fit_memory(self, X, method, n_targets=None, *, lazy_targets=False):
        """Refuse a fit whose working memory exceeds what is available, before any work.

        A dask array is fitted block by block, so the rows of its largest
        block count (see :mod:`skembed.utils._memory`), plus what stays in
        memory per row (labels, weights, scores and probabilities: 6 floats
        at most), unless the targets stay lazy (``lazy_targets``): then
        nothing per row is held.
        """
        if is_dask_array(X):
            per_row = 0 if lazy_targets else 48
            check_fit_memory(self, max(X.chunks[0]), X.shape[1], self._caller(method),
                             n_targets=n_targets, extra_bytes=per_row * X.shape[0],
                             total_rows=X.shape[0])
        else:
            check_fit_memory(self, X.shape[0], X.shape[1], self._caller(method),
                             n_targets=n_targets)

    def _memory_advice(self, n_samples, n_features):
        """What to do when a fit of this shape does not fit in memory."""
        return ("Fit on a sample of the rows, or pass a dask array to the estimators "
                "that fit blockwise (see the user guide, 'Beyond one machine').")

    def _remember_params(self):
        """Record the parameters of this fit, for the methods that run after it."""
        self._params_at_fit = self.get_params(deep=False)

    def _fitted_param(self, name):
        """A parameter's value at the last fit (scikit-learn's convention).

        ``transform`` and ``predict`` read what ``fit`` used, so a
        ``set_params`` after fit changes nothing until the next fit (which
        is what a parameter that shapes the fitted state needs).
        """
        fitted = getattr(self, "_params_at_fit", None)
        # An estimator fitted before parameters were recorded reads its own.
        return self.get_params(deep=False)[name] if fitted is None else fitted[name]

    def _validate_dask_X(self, X, *, reset, method, dtype=FLOAT_DTYPES):
        """The dask path of :meth:`_validate_X`: lazy, and only where supported.

        A method listed in ``_dask_methods`` gets X back as a lazy dask array
        (checked from its metadata; NaN/inf raise inside the caller's
        compute, see ``skembed.utils._dask``). Any other method refuses
        it, rather than read the whole array into memory unasked.
        """
        caller = self._caller(method)
        if method not in self._dask_methods:
            supported = (
                f" It supports dask arrays in {', '.join(sorted(self._dask_methods))}."
                if self._dask_methods else ""
            )
            raise ValueError(
                f"{caller}: X is a dask array, which {caller} would have to read whole "
                f"into memory.{supported} Pass a NumPy array (e.g. a sample: "
                "X[:n].compute()) if it fits in memory."
            )
        dtypes = tuple(np.dtype(d).name for d in (dtype if isinstance(dtype, (list, tuple))
                                                   else [dtype]))
        return validate_dask_X(self, X, reset=reset, caller=caller, dtypes=dtypes,
                               min_samples=self._min_fit_samples() if reset else 1)

    def _transform_lazily(self, X, transform_block):
        """A lazy dask array: ``transform_block`` applied to each row block of X.

        ``X`` comes from :meth:`_validate_X` (one column chunk, finiteness
        checked as blocks are read). The output's width and dtype are those
        of ``transform_block`` on one row of zeros (1-D outputs, such as
        ``predict``'s, stay 1-D).
        """
        probe = np.asarray(transform_block(np.zeros((1, X.shape[1]), dtype=X.dtype)))
        width = probe.shape[1] if probe.ndim == 2 else None
        return blockwise_transform(X, transform_block, width, probe.dtype)

    def _validate_X_y(
        self,
        X,
        y,
        *,
        reset=True,
        y_kind="labels",
        sample_weight=None,
        method="fit",
        dtype=FLOAT_DTYPES,
        min_classes=2,
        lazy_targets=False,
    ):
        """Validate data with its target (and optional sample weights).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The target.
        reset : bool, default=True
            As in :meth:`_validate_X`.
        y_kind : {"labels", "concept", "continuous"}, default="labels"
            What ``y`` must be:

            * ``"labels"``: 1-D class labels (numbers or strings) with at
              least two classes;
            * ``"concept"``: either 1-D class labels as above, or a 2-D array
              of continuous concept values (one column per concept);
            * ``"continuous"``: numeric, 1-D or 2-D (regression targets).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero.
        method : str, default="fit"
            The public method being run, for error messages.
        dtype : dtype or tuple of dtypes, default=(float64, float32)
            Accepted dtypes of ``X``.
        min_classes : int, default=2
            Fewest classes accepted in label targets (1 for a chunk passed to
            ``partial_fit``, which may hold a single class).
        lazy_targets : bool, default=False
            With a dask X, keep a ``y`` or ``sample_weight`` given as a dask
            array lazy (for ``y_kind`` "labels" or "concept"): each comes
            back as a :class:`~skembed.utils._dask_targets.LazyTarget`
            aligned with X's row chunks, checked from its metadata and one
            compute over the targets alone (see that module). For
            estimators whose fit reads them block by block beside X; the
            others read them into memory.

        Returns
        -------
        X : ndarray or sparse matrix
        y : ndarray or LazyTarget
            Labels keep their type; continuous values are float, of X's
            dtype.
        sample_weight : ndarray of X's dtype, LazyTarget, or None
            None when no weights were given.
        """
        caller = self._caller(method)
        _refuse_other_dask_collections(X, caller)
        if is_dask_array(X):
            X = self._validate_dask_X(X, reset=reset, method=method, dtype=dtype)
            if lazy_targets and y_kind != "continuous" and (
                is_dask_array(y) or is_dask_array(sample_weight)
            ):
                checked = self._validate_lazy_targets(X, y, sample_weight, caller, y_kind,
                                                      min_classes)
                if reset:
                    self._check_fit_memory(X, method, n_targets=_n_columns(checked[1]),
                                           lazy_targets=True)
                    self._remember_params()
                return checked
            y = self._validate_dask_y(y, X.shape[0], caller, y_kind)
            sample_weight = to_numpy_vector(sample_weight, caller, "sample_weight")
        else:
            try:
                X, y = validate_data(
                    self,
                    X,
                    y,
                    reset=reset,
                    accept_sparse=self._accept_sparse,
                    dtype=dtype,
                    ensure_min_samples=self._min_fit_samples() if reset else 1,
                    multi_output=y_kind != "labels",
                    y_numeric=y_kind == "continuous",
                )
            except (TypeError, ValueError) as exc:
                _reraise_with_context(exc, caller)
        checked = self._check_target_and_weights(X, y, y_kind, sample_weight, caller,
                                                 min_classes)
        if reset:
            self._check_fit_memory(X, method, n_targets=_n_columns(checked[1]))
            self._remember_params()
        return checked

    def _validate_lazy_targets(self, X, y, sample_weight, caller, y_kind, min_classes):
        """The targets beside a dask X with ``lazy_targets``: dask ones stay lazy.

        A dask ``y`` or ``sample_weight`` becomes a ``LazyTarget`` (see
        :func:`~skembed.utils._dask_targets.validate_lazy_targets`: one
        compute over the dask targets, never over X); one given in memory
        gets the checks of the in-memory path.
        """
        lazy_y, lazy_weights = is_dask_array(y), is_dask_array(sample_weight)
        if not lazy_y:
            y = self._validate_dask_y(y, X.shape[0], caller, y_kind)
            _, y, _ = self._check_target_and_weights(X, y, y_kind, None, caller, min_classes)
        elif not lazy_weights and sample_weight is not None:
            # The weight checks alone: an empty continuous stand-in for y.
            stand_in = np.empty((0, 1), dtype=X.dtype)
            _, _, sample_weight = self._check_target_and_weights(
                X, stand_in, "continuous", sample_weight, caller, min_classes
            )
        kept_y, kept_weights = validate_lazy_targets(
            X, y if lazy_y else None, sample_weight if lazy_weights else None,
            caller=caller, y_kind=y_kind, min_classes=min_classes,
        )
        return X, kept_y if lazy_y else y, kept_weights if lazy_weights else sample_weight

    @staticmethod
    def _validate_dask_y(y, n_samples, caller, y_kind):
        """A target beside a dask X: read into memory (one value per row), then checked."""
        y = to_numpy_vector(y, caller, "y")
        if y is None:
            raise ValueError(f"{caller}: requires y to be passed, but the target y is None.")
        try:
            y = check_array(y, ensure_2d=False, dtype="numeric" if y_kind == "continuous"
                            else None, input_name="y")
        except (TypeError, ValueError) as exc:
            _reraise_with_context(exc, caller)
        if y_kind == "labels" and y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape[0] != n_samples:
            raise ValueError(
                f"{caller}: Found input variables with inconsistent numbers of samples: "
                f"[{n_samples}, {y.shape[0]}]. Pass one target value per row of X."
            )
        return y

    def _check_target_and_weights(self, X, y, y_kind, sample_weight, caller, min_classes):
        """The target and weight checks shared by the in-memory and dask paths."""
        if y_kind == "concept":
            y = self._ravel_label_column(y, caller)
        if y_kind == "continuous" or (y_kind == "concept" and y.ndim == 2):
            try:
                y = y.astype(X.dtype, copy=False)
            except (TypeError, ValueError) as exc:
                _reraise_with_context(exc, caller)
        else:
            y = self._check_labels(y, caller, y_kind, min_classes)

        if sample_weight is not None:
            try:
                # A stand-in with X's rows and no columns: the check needs only
                # the number of rows, and a dask X is never touched.
                rows = np.empty((X.shape[0], 0), dtype=X.dtype)
                sample_weight = check_sample_weight(sample_weight, rows, dtype=X.dtype)
            except (TypeError, ValueError) as exc:
                _reraise_with_context(exc, caller)
            if np.any(sample_weight < 0):
                raise ValueError(
                    f"{caller}: sample_weight has negative values. Pass "
                    "non-negative weights (a weight of 0 drops a row)."
                )
            if not np.any(sample_weight > 0):
                raise ValueError(
                    f"{caller}: sample_weight is zero for every row. Give at "
                    "least one row a positive weight."
                )
        return X, y, sample_weight

    @staticmethod
    def _ravel_label_column(y, caller):
        """A concept given as one column of class labels becomes 1-D labels.

        As in scikit-learn, a column vector of labels is raveled with a
        ``DataConversionWarning``; read as one continuous column it would
        guard a single direction of a k-class concept. A column whose values
        are continuous (``type_of_target``) stays a continuous concept.
        """
        if y.ndim != 2 or y.shape[1] != 1:
            return y
        if type_of_target(y, input_name="y") not in ("binary", "multiclass"):
            return y
        warnings.warn(
            f"{caller}: A column-vector y was passed when a 1d array was expected. "
            "Its values are class labels (type_of_target), so it is raveled to "
            "shape (n_samples,) and read as labels. Pass y.ravel() to silence "
            "this warning.",
            DataConversionWarning,
            stacklevel=user_stacklevel(),  # the user's call, past any wrapper
        )
        return y.ravel()

    @staticmethod
    def _check_labels(y, caller, y_kind, min_classes):
        if y.ndim != 1:
            raise ValueError(
                f"{caller}: y must be 1-D class labels, got an array of shape "
                f"{y.shape}. Pass y.ravel() for one label column"
                + (
                    ", or float values of shape (n_samples, n_concepts) for "
                    "continuous concepts."
                    if y_kind == "concept"
                    else "."
                )
            )
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            hint = (
                " For a continuous concept pass y.reshape(-1, 1)."
                if y_kind == "concept" and target_type == "continuous"
                else ""
            )
            raise ValueError(
                f"{caller}: Unknown label type for y ({target_type!r}); y must "
                f"hold class labels (integers or strings).{hint}"
            )
        classes = np.unique(y)
        if classes.size < min_classes:
            raise ValueError(
                f"{caller}: y has 1 class ({_plain(classes[0])!r}), but at least 2 "
                "classes are needed. Pass rows from at least two classes."
            )
        return y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = bool(self._accept_sparse)
        tags.target_tags.required = self._requires_y
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = list(self._preserves_dtype)
        return tags


class FitSampleMixin:
    """``max_samples``: a fit on a random sample of the rows.

    For the estimators whose fit learns something that applies to every row
    (clusters labelled by ``predict``, a map, anchors) from a sample of
    them. ``max_samples`` is an int, ``"auto"`` or None: None fits on every
    row, an int on at most that many, ``"auto"`` on every row of an
    in-memory X and on at most :meth:`_dask_max_samples` rows of a dask
    array (which is never read whole). Place it before
    :class:`ValidationMixin` in the bases: a dask fit's memory check is the
    fit of its sample.
    """

    def _dask_max_samples(self):
        """Rows ``max_samples="auto"`` keeps of a dask array."""
        raise NotImplementedError

    def _n_fit_rows(self, n_rows, *, on_dask):
        """Rows a fit uses (see ``max_samples``)."""
        if self.max_samples is None:
            return n_rows
        if self.max_samples == "auto":
            return min(n_rows, self._dask_max_samples()) if on_dask else n_rows
        return min(n_rows, int(self.max_samples))

    def _fit_sample_indices(self, n_rows, n_fit, *, needed, needs, other_fixes=""):
        """Sorted indices of the ``n_fit`` rows a fit uses; None when it uses every row.

        The sample must hold ``needed`` rows, for the reason ``needs`` gives
        ("n_clusters=5 (one point per cluster) needs"): a ``ValueError``
        before any work otherwise. The rows are drawn from the number of
        rows and ``random_state`` alone, so a dask array gives the same rows
        whatever its chunking; sorted, so they are gathered in storage order
        and the fit is the fit of ``X[sample_indices_]``.
        """
        if n_fit >= n_rows:
            return None
        if n_fit < needed:
            raise ValueError(
                f"{self._caller('fit')}: max_samples={self.max_samples!r} keeps {n_fit} of "
                f"the {n_rows} rows, but {needs} at least {needed}. Pass max_samples >= "
                f"{needed}{other_fixes}, or None for all rows."
            )
        return np.sort(sample_without_replacement(
            n_rows, n_fit, random_state=check_random_state(self.random_state)))

    def _check_fit_memory(self, X, method, n_targets=None, *, lazy_targets=False):
        """On a dask array, the fit of its sample: the sample's rows and their
        indices in memory beside the fit of that many rows."""
        if not is_dask_array(X):
            return super()._check_fit_memory(X, method, n_targets)
        n_rows, n_features = X.shape
        n_fit = self._n_fit_rows(n_rows, on_dask=True)
        check_fit_memory(self, n_fit, n_features, self._caller(method),
                         extra_bytes=float_bytes(n_fit * n_features, n_fit),
                         total_rows=n_rows)
