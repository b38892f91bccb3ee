r"""Cheap full-data passes that polish a coreset solution (``CoresetEstimator(refine=k)``).

A coreset solution is already within :math:`1+\varepsilon` of the optimum; a
few second-order passes over all rows, each O(n d^2) (one weighted Gram
matrix), close most of the remaining gap. Supported models:

* least squares (``LinearRegression``, ``Ridge``): the exact solution of the
  full weighted normal equations, one pass;
* ``QuantileRegressor(alpha=0)`` (least absolute deviations for
  quantile=0.5): iteratively reweighted least squares, the majorize-minimize
  scheme of Schlossmacher (1973) for the check loss
  :math:`\rho_\tau(r) = |r|/2 + (\tau - 1/2) r`: with
  :math:`\omega_i = v_i/\max(|r_i|, \delta)`, solve
  :math:`A^\top\Omega A\,b = A^\top\Omega y + (2\tau-1) A^\top v`; a pass is
  kept only if it lowers the full objective;
* binary ``LogisticRegression`` with an l2 penalty or none: damped Newton
  steps on :math:`C\sum_i v_i \ell_i + \tfrac12\|w\|^2` (the intercept is
  not penalised), with a backtracking line search.

Anything else raises a ValueError naming what is supported.

Every pass solves for the coefficients of the design with its columns in
comparable units (:func:`~skembed.utils.extmath.column_scales`) and maps them
back to X's units: the solution does not depend on the columns' units, and
Gram matrices of columns between 1e-150 and 1e150 neither overflow nor lose
a column to another's scale. Penalties are on the coefficients in X's units,
so they are rescaled with them.
"""

import functools

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.special import expit

from ..utils._dask import is_dask_array, tree_reduce
from ..utils.extmath import column_scales
from ._blockwise import SUB_BLOCK_ROWS, BlockwiseDesign, _design_block

__all__ = ["check_refinable", "refine_estimator"]


def _kind(estimator):
    from sklearn.linear_model import (
        LinearRegression,
        LogisticRegression,
        LogisticRegressionCV,
        QuantileRegressor,
        Ridge,
    )

    if isinstance(estimator, (LinearRegression, Ridge)):
        # positive=True is a constrained problem (the passes solve the
        # unconstrained one); one alpha per target is not supported.
        if getattr(estimator, "positive", False):
            return None
        if np.ndim(getattr(estimator, "alpha", 0)) > 0:
            return None
        return "least_squares"
    if isinstance(estimator, QuantileRegressor):
        return "quantile" if estimator.alpha == 0 else None
    if isinstance(estimator, LogisticRegression) and not isinstance(
            estimator, LogisticRegressionCV):
        penalty = getattr(estimator, "penalty", "deprecated")
        if getattr(estimator, "l1_ratio", None) not in (0, 0.0, None) or penalty in (
                "l1", "elasticnet"):
            return None
        if estimator.class_weight is not None:
            return None
        # liblinear penalises the intercept too: the passes, which do not,
        # would optimise another objective than the estimator's.
        if estimator.solver == "liblinear":
            return None
        return "logistic"
    return None


def check_refinable(estimator):
    """Raise a ValueError before any work when ``estimator`` cannot be refined."""
    if _kind(estimator) is None:
        raise ValueError(
            "refine supports LinearRegression and Ridge (not positive=True, one "
            "scalar alpha), QuantileRegressor(alpha=0) and binary LogisticRegression "
            "with an l2 penalty or none (no class_weight, not liblinear, which "
            f"penalises the intercept); got {estimator!r}. Use refine=0 for other "
            "estimators."
        )


class _FullDataPasses:
    """Sums over every row of the design ``[X - m, 1]``, one read of X per call.

    Each pass hands ``function`` the design's rows a block at a time, in
    standardised coordinates: with an intercept, X's columns are centred on
    ``m``, the means of the coreset's sampled rows (the model is the same,
    ``x b + b0 = (x - m) b + (b0 + m b)``, but a column of offset 1e7 and
    spread 1 no longer squares the Gram matrix's condition number: the
    uncentred normal equations made refine=1 worse than the coreset fit),
    then every column is divided by its scale (``A = A_s D``, D the column
    scales of the centred sample, so ``A b = A_s (D b)``). The passes solve
    for the coefficients of ``A_s``; :meth:`start` and :meth:`coefficients`
    map to and from the estimator's. A NumPy or sparse X is read
    :data:`SUB_BLOCK_ROWS` rows at a time (the design is never formed
    whole); a dask X block by block inside its tasks, the blocks' sums
    merged in a tree, with one ``dask.compute`` per pass.

    Centres and scales come from the coreset's sampled rows, so they cost
    no pass. Any centre and positive scale per column leave the solution
    the same; these make it independent of the columns' units (multiplying
    a column by a power of two multiplies its centre and scale by exactly
    that).
    """

    def __init__(self, X, y, v, *, fit_intercept, sample_rows):
        self.X, self.y, self.v = X, y, v
        self.fit_intercept = fit_intercept
        rows = sample_rows.toarray() if sp.issparse(sample_rows) else sample_rows
        rows = np.asarray(rows, dtype=np.float64)
        n_features = rows.shape[1]
        self.offsets = np.zeros(n_features + int(fit_intercept))
        if fit_intercept and rows.shape[0]:
            # The mean of each column, computed in units of its largest
            # entry (a column near 1e300 does not overflow when summed).
            largest = np.abs(rows).max(axis=0)
            unit = np.where(largest > 0, largest, 1.0)
            self.offsets[:n_features] = (rows / unit).mean(axis=0) * unit
        self.scales = column_scales(self.design(rows, scaled=False))
        self.n_passes = 0

    def design(self, rows, *, scaled=True):
        """The design rows ``(rows with a 1, centred) / scales`` of dense rows of X."""
        design = _design_block(rows, None, None, self.fit_intercept, 1)
        design -= self.offsets
        if scaled:
            design /= self.scales
        return design

    def __call__(self, function, *args):
        """``sum over blocks of function(A_s rows, y rows, v rows, *args)`` (a tuple)."""
        self.n_passes += 1
        if is_dask_array(self.X):
            import dask

            design = BlockwiseDesign(self.X, None, None, fit_intercept=self.fit_intercept, p=1)
            parts = design.map(_standardised_rows, function, self.offsets, self.scales, args,
                               per_block=(self.y, self.v), combine=_sum_parts)
            (total,) = dask.compute(tree_reduce(parts, _add_parts))
            return total
        parts = []
        for start in range(0, max(self.X.shape[0], 1), SUB_BLOCK_ROWS):
            block = self.X[start:start + SUB_BLOCK_ROWS]
            if sp.issparse(block):
                block = block.toarray()
            rows = _design_block(block, None, None, self.fit_intercept, 1)
            parts.append(_standardised_rows(rows, function, self.offsets, self.scales, args,
                                            self.y[start:start + SUB_BLOCK_ROWS],
                                            self.v[start:start + SUB_BLOCK_ROWS]))
        return _sum_parts(parts)

    def start(self, estimator):
        """The fitted coefficients (and intercept) in the passes' coordinates."""
        coef = np.ravel(estimator.coef_)
        if not self.fit_intercept:
            return coef * self.scales
        n_features = coef.size
        intercept = float(np.ravel(estimator.intercept_)[0]) + self.offsets[:n_features] @ coef
        return np.append(coef, intercept) * self.scales

    def coefficients(self, b_scaled):
        """Coefficients (intercept last) in X's units, from the passes' (a vector or one
        column per target)."""
        scales = self.scales if np.ndim(b_scaled) == 1 else self.scales[:, None]
        b = b_scaled / scales
        if self.fit_intercept:
            b[-1] -= self.offsets[:-1] @ b[:-1]
        return b

    def penalty(self, weights):
        """A diagonal penalty ``sum_j weights_j b_j^2`` expressed on the scaled coefficients."""
        # Two divisions: the square of a scale of 1e-170 would underflow.
        return weights / self.scales / self.scales


def _standardised_rows(rows, function, offsets, scales, args, y, v):
    rows -= offsets
    rows /= scales
    return function(rows, np.asarray(y, dtype=np.float64), np.asarray(v, dtype=np.float64),
                    *args)


def _add_parts(first, second):
    return tuple(a + b for a, b in zip(first, second))


def _sum_parts(parts):
    return functools.reduce(_add_parts, parts)


def _solve(gram, rhs):
    try:
        return scipy.linalg.solve(gram, rhs, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _set_linear(estimator, b, fit_intercept, coef_shape):
    coef, intercept = (b[:-1], b[-1]) if fit_intercept else (b, 0.0)
    estimator.coef_ = coef.reshape(coef_shape)
    if np.ndim(estimator.intercept_) == 0:
        estimator.intercept_ = float(intercept)
    else:
        estimator.intercept_ = np.array([intercept])


def _normal_equations(A, y, v):
    Av = A * v[:, None]
    return A.T @ Av, Av.T @ y


def _least_squares(estimator, passes):
    gram, rhs = passes(_normal_equations)
    if getattr(estimator, "alpha", 0):
        penalty = np.full(gram.shape[0], float(estimator.alpha))
        if estimator.fit_intercept:
            penalty[-1] = 0
        gram = gram + np.diag(passes.penalty(penalty))
    # One solve for every target column (a matrix right-hand side).
    b = passes.coefficients(_solve(gram, rhs))
    if b.ndim == 1:
        _set_linear(estimator, b, estimator.fit_intercept, np.shape(estimator.coef_))
        return
    coef, intercept = (b[:-1], b[-1]) if estimator.fit_intercept else (b, np.zeros(b.shape[1]))
    estimator.coef_ = coef.T.reshape(np.shape(estimator.coef_))
    estimator.intercept_ = intercept if np.ndim(estimator.intercept_) else 0.0


def _report(progress, n_pass, value):
    if progress is not None:
        progress.stage(f"refine pass {n_pass}: full-data objective {value:.6g}", level=2)


def _check_loss_sums(A, y, v, b, tau, delta):
    """At coefficients b: the check-loss objective, sum v|r|, sum v, and (when
    ``delta`` is given) the IRLS system of the majorizer with floor delta."""
    r = y - A @ b
    objective = v @ (r * (tau - (r < 0)))
    magnitude = np.abs(r)
    sums = (np.array([objective, v @ magnitude, v.sum()]),)
    if delta is None:
        return sums
    omega = v / np.maximum(magnitude, delta)
    Aw = A * omega[:, None]
    return (*sums, A.T @ Aw, Aw.T @ y, A.T @ v)


def _smoothing_floor(absolute_sum, weight_sum):
    # The floor is relative to the residuals, in y's units (an absolute
    # floor would swamp residuals of a target in tiny units): 1e-6 of their
    # weighted mean, 0 for an exact fit (nothing left to improve).
    return 1e-6 * absolute_sum / weight_sum if weight_sum > 0 else 0.0


def _quantile(estimator, passes, sample, n_passes, progress=None):
    """IRLS passes; each pass evaluates the current coefficients and builds their next system."""
    tau = estimator.quantile
    b = passes.start(estimator)
    # The first floor from the sampled rows (weighted: they stand for all
    # rows), so the first pass can build its system at once; later floors
    # come from each pass's full-data residuals.
    sample_rows, sample_y, sample_v = sample
    (start,) = _check_loss_sums(sample_rows, sample_y, sample_v, b, tau, None)
    delta = _smoothing_floor(start[1], start[2])
    if not delta > 0:
        return
    (values, gram, rhs, linear) = passes(_check_loss_sums, b, tau, delta)
    best = values[0]
    for n_pass in range(1, n_passes + 1):
        candidate = _solve(gram, rhs + (2 * tau - 1) * linear)
        delta = _smoothing_floor(values[1], values[2])
        last = n_pass == n_passes or not delta > 0
        # The last pass only needs the candidate's objective, not its system.
        result = passes(_check_loss_sums, candidate, tau, None if last else delta)
        values = result[0]
        if not values[0] < best:
            break
        b, best = candidate, values[0]
        _report(progress, n_pass, best)
        if last:
            break
        gram, rhs, linear = result[1:]
    _set_linear(estimator, passes.coefficients(b), estimator.fit_intercept,
                np.shape(estimator.coef_))


#: Step sizes of the logistic line search, largest first (halving down to
#: just above 1e-4), all evaluated in the pass that tries the step.
_STEP_SIZES = 0.5 ** np.arange(14)


def _logistic_sums(A, t, v, b, step, sizes):
    """Objectives at ``b - s step`` for each size s, and the derivatives at ``b - step``."""
    z = A @ b
    dz = A @ step
    shifted = z[:, None] - dz[:, None] * sizes[None, :]
    # log(1 + exp(-s z)) with s = +-1, computed stably.
    losses = v @ (np.logaddexp(0, shifted) - t[:, None] * shifted)
    prob = expit(z - dz)
    gradient = A.T @ (v * (prob - t))
    hessian = A.T @ (A * (v * prob * (1 - prob))[:, None])
    return losses, gradient, hessian


def _logistic(estimator, passes, n_passes, progress=None):
    """Damped Newton; a pass tries every step size at once and speculates the full step."""
    C = float(estimator.C)
    # penalty=None means no penalty whatever C says.
    unpenalised = np.isinf(C) or getattr(estimator, "penalty", "l2") is None
    n_columns = passes.scales.shape[0]
    ridge = np.zeros(n_columns) if unpenalised else np.ones(n_columns)
    if estimator.fit_intercept:
        ridge[-1] = 0
    ridge = passes.penalty(ridge)
    scale = 1.0 if unpenalised else C

    def derivatives(gradient, hessian, b):
        return scale * gradient + ridge * b, scale * hessian + np.diag(ridge)

    b = passes.start(estimator)
    no_step = np.zeros_like(b)
    losses, gradient, hessian = passes(_logistic_sums, b, no_step, _STEP_SIZES[:1])
    value = scale * losses[0] + 0.5 * ridge @ (b * b)
    gradient, hessian = derivatives(gradient, hessian, b)
    for n_pass in range(1, n_passes + 1):
        # A relative nudge of each diagonal entry, not of the trace: a
        # penalty in X's units on a column of 1e-11 puts 1e22 on one entry,
        # and 1e-12 of the trace on every other entry damped their steps
        # to nothing.
        step = _solve(hessian + 1e-12 * np.diag(hessian.diagonal()), gradient)
        losses, full_gradient, full_hessian = passes(_logistic_sums, b, step, _STEP_SIZES)
        candidates = b[None, :] - _STEP_SIZES[:, None] * step[None, :]
        values = scale * losses + 0.5 * (candidates * candidates) @ ridge
        lower = np.flatnonzero(values < value)
        if lower.size == 0:
            break
        chosen = lower[0]
        b, value = candidates[chosen], values[chosen]
        _report(progress, n_pass, value)
        if n_pass == n_passes:
            break
        if chosen == 0:
            gradient, hessian = derivatives(full_gradient, full_hessian, b)
        else:
            _, gradient, hessian = passes(_logistic_sums, b, no_step, _STEP_SIZES[:1])
            gradient, hessian = derivatives(gradient, hessian, b)
    _set_linear(estimator, passes.coefficients(b), estimator.fit_intercept,
                np.shape(estimator.coef_))


def refine_estimator(estimator, X, y, sample_weight, n_passes, progress=None, sample=None):
    """Polish the fitted ``estimator`` with ``n_passes`` full-data passes (in place).

    ``X`` is a NumPy array, a sparse matrix or a dask array (then ``y`` and
    ``sample_weight`` are in memory). ``sample`` is the coreset: ``(rows,
    y_rows, weights)`` the estimator was fitted on; its rows give the
    column scales and the first smoothing floor, so no pass is spent on
    them (default: X itself, in memory only). ``progress`` (a
    :class:`~skembed.utils._progress.ProgressLog`) is told the full-data
    objective after each pass that lowered it (printed from its level 2 on),
    and the number of passes over X.
    """
    n_samples = X.shape[0]
    v = (np.ones(n_samples) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    kind = _kind(estimator)
    if kind == "logistic":
        classes = estimator.classes_
        if len(classes) != 2:
            raise ValueError(
                "refine supports binary LogisticRegression; "
                f"this one has {len(classes)} classes. Use refine=0."
            )
        y = (np.asarray(y) == classes[1]).astype(np.float64)
    else:
        y = np.asarray(y, dtype=np.float64)
    if sample is None:
        sample = (X, y, v)
    elif kind == "logistic":
        sample = (sample[0], (np.asarray(sample[1]) == classes[1]).astype(np.float64), sample[2])
    passes = _FullDataPasses(X, y, v, fit_intercept=estimator.fit_intercept,
                             sample_rows=sample[0])
    if kind == "least_squares":
        _least_squares(estimator, passes)
    elif kind == "quantile":
        rows = sample[0].toarray() if sp.issparse(sample[0]) else sample[0]
        sample = (passes.design(rows), np.asarray(sample[1], dtype=np.float64),
                  np.asarray(sample[2], dtype=np.float64))
        _quantile(estimator, passes, sample, n_passes, progress)
    else:
        _logistic(estimator, passes, n_passes, progress)
    if progress is not None:
        progress.stage(f"refine: {passes.n_passes} pass{'' if passes.n_passes == 1 else 'es'} "
                       "over the data", level=2)
    return estimator
