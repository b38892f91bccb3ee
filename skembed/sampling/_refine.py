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

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.special import expit

from ..utils.extmath import column_scales

__all__ = ["check_refinable", "refine_estimator"]


def _kind(estimator):
    from sklearn.linear_model import (
        LinearRegression,
        LogisticRegression,
        QuantileRegressor,
        Ridge,
    )

    if isinstance(estimator, (LinearRegression, Ridge)):
        return "least_squares"
    if isinstance(estimator, QuantileRegressor):
        return "quantile" if estimator.alpha == 0 else None
    if isinstance(estimator, LogisticRegression):
        penalty = getattr(estimator, "penalty", "deprecated")
        if estimator.l1_ratio not in (0, 0.0, None) or penalty in ("l1", "elasticnet"):
            return None
        if estimator.class_weight is not None:
            return None
        return "logistic"
    return None


def check_refinable(estimator):
    """Raise a ValueError before any work when ``estimator`` cannot be refined."""
    if _kind(estimator) is None:
        raise ValueError(
            "refine supports LinearRegression, Ridge, QuantileRegressor(alpha=0) "
            "and binary LogisticRegression with an l2 penalty or none (no class_weight); "
            f"got {estimator!r}. Use refine=0 for other estimators."
        )


class _ScaledDesign:
    """The design ``[X, 1]`` with columns divided by their scales, and the map back.

    With ``A = A_s D`` (D the column scales), ``A b = A_s (D b)``: passes
    solve for ``b_s = D b`` on A_s and :meth:`coefficients` returns b.
    """

    def __init__(self, X, fit_intercept):
        X = X.toarray() if sp.issparse(X) else X
        if fit_intercept:
            A = np.hstack([np.asarray(X, dtype=np.float64), np.ones((X.shape[0], 1))])
        else:
            A = np.array(X, dtype=np.float64)  # a copy: it is scaled in place
        self.scales = column_scales(A)
        A /= self.scales
        self.A = A
        self.fit_intercept = fit_intercept

    def start(self, estimator):
        """The fitted coefficients (and intercept) in scaled coordinates."""
        coef = np.ravel(estimator.coef_)
        b = np.append(coef, estimator.intercept_) if self.fit_intercept else coef.copy()
        return b * self.scales

    def coefficients(self, b_scaled):
        """Coefficients in X's units from scaled ones (a vector or one column per target)."""
        scales = self.scales if np.ndim(b_scaled) == 1 else self.scales[:, None]
        return b_scaled / scales

    def penalty(self, weights):
        """A diagonal penalty ``sum_j weights_j b_j^2`` expressed on the scaled coefficients."""
        # Two divisions: the square of a scale of 1e-170 would underflow.
        return weights / self.scales / self.scales


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


def _least_squares(estimator, X, y, v):
    design = _ScaledDesign(X, estimator.fit_intercept)
    A = design.A
    Av = A * v[:, None]
    gram = A.T @ Av
    if getattr(estimator, "alpha", 0):
        penalty = np.full(A.shape[1], float(estimator.alpha))
        if estimator.fit_intercept:
            penalty[-1] = 0
        gram = gram + np.diag(design.penalty(penalty))
    y = np.asarray(y, dtype=np.float64)
    # One solve for every target column (a matrix right-hand side).
    b = design.coefficients(_solve(gram, Av.T @ y))
    if b.ndim == 1:
        _set_linear(estimator, b, estimator.fit_intercept, np.shape(estimator.coef_))
        return
    coef, intercept = (b[:-1], b[-1]) if estimator.fit_intercept else (b, np.zeros(b.shape[1]))
    estimator.coef_ = coef.T.reshape(np.shape(estimator.coef_))
    estimator.intercept_ = intercept if np.ndim(estimator.intercept_) else 0.0


def _report(progress, n_pass, value):
    if progress is not None:
        progress.stage(f"refine pass {n_pass}: full-data objective {value:.6g}", level=2)


def _quantile(estimator, X, y, v, n_passes, progress=None):
    design = _ScaledDesign(X, estimator.fit_intercept)
    A = design.A
    tau = estimator.quantile
    y = np.asarray(y, dtype=np.float64)

    def objective(b):
        r = y - A @ b
        return float(v @ (r * (tau - (r < 0))))

    b = design.start(estimator)
    best = objective(b)
    linear_term = (2 * tau - 1) * (A.T @ v)
    for n_pass in range(1, n_passes + 1):
        r = np.abs(y - A @ b)
        # The smoothing floor is relative to the residuals, in y's units
        # (an absolute floor would swamp residuals of a target in tiny
        # units); when most residuals are exactly 0, the largest sets it.
        delta = 1e-6 * float(np.median(r))
        if not delta > 0:
            delta = 1e-6 * float(r.max(initial=0.0))
        if not delta > 0:
            break  # an exact fit: nothing to improve
        omega = v / np.maximum(r, delta)
        Aw = A * omega[:, None]
        candidate = _solve(A.T @ Aw, Aw.T @ y + linear_term)
        value = objective(candidate)
        if not value < best:
            break
        b, best = candidate, value
        _report(progress, n_pass, best)
    _set_linear(estimator, design.coefficients(b), estimator.fit_intercept,
                np.shape(estimator.coef_))


def _logistic(estimator, X, y, v, n_passes, progress=None):
    classes = estimator.classes_
    if len(classes) != 2:
        raise ValueError(
            "refine supports binary LogisticRegression; "
            f"this one has {len(classes)} classes. Use refine=0."
        )
    design = _ScaledDesign(X, estimator.fit_intercept)
    A = design.A
    t = (np.asarray(y) == classes[1]).astype(np.float64)
    C = float(estimator.C)
    # penalty=None means no penalty whatever C says.
    unpenalised = np.isinf(C) or getattr(estimator, "penalty", "l2") is None
    ridge = np.zeros(A.shape[1]) if unpenalised else np.ones(A.shape[1])
    if estimator.fit_intercept:
        ridge[-1] = 0
    ridge = design.penalty(ridge)
    scale = 1.0 if unpenalised else C

    def objective(b):
        z = A @ b
        # log(1 + exp(-s z)) with s = +-1, computed stably.
        loss = np.logaddexp(0, z) - t * z
        return float(scale * (v @ loss) + 0.5 * ridge @ (b * b))

    b = design.start(estimator)
    value = objective(b)
    for n_pass in range(1, n_passes + 1):
        prob = expit(A @ b)
        gradient = scale * (A.T @ (v * (prob - t))) + ridge * b
        hessian = scale * (A.T @ (A * (v * prob * (1 - prob))[:, None])) + np.diag(ridge)
        step = _solve(hessian + 1e-12 * np.eye(len(b)) * np.trace(hessian), gradient)
        size = 1.0
        while size > 1e-4:
            candidate = b - size * step
            new_value = objective(candidate)
            if new_value < value:
                break
            size /= 2
        else:
            break
        b, value = candidate, new_value
        _report(progress, n_pass, value)
    _set_linear(estimator, design.coefficients(b), estimator.fit_intercept,
                np.shape(estimator.coef_))


def refine_estimator(estimator, X, y, sample_weight, n_passes, progress=None):
    """Polish the fitted ``estimator`` with ``n_passes`` full-data passes (in place).

    ``progress`` (a :class:`~skembed.utils._progress.ProgressLog`) is told the
    full-data objective after each pass that lowered it (printed from its
    level 2 on).
    """
    v = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    kind = _kind(estimator)
    if kind == "least_squares":
        _least_squares(estimator, X, y, v)
    elif kind == "quantile":
        _quantile(estimator, X, y, v, n_passes, progress)
    else:
        _logistic(estimator, X, y, v, n_passes, progress)
    return estimator
