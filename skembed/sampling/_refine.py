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
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.special import expit

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


def _design(X, fit_intercept):
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    if fit_intercept:
        return np.hstack([X, np.ones((X.shape[0], 1))])
    return X


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
    A = _design(X, estimator.fit_intercept)
    Av = A * v[:, None]
    gram = A.T @ Av
    if getattr(estimator, "alpha", 0):
        penalty = np.full(A.shape[1], float(estimator.alpha))
        if estimator.fit_intercept:
            penalty[-1] = 0
        gram = gram + np.diag(penalty)
    y = np.asarray(y, dtype=np.float64)
    # One solve for every target column (a matrix right-hand side).
    b = _solve(gram, Av.T @ y)
    if b.ndim == 1:
        _set_linear(estimator, b, estimator.fit_intercept, np.shape(estimator.coef_))
        return
    coef, intercept = (b[:-1], b[-1]) if estimator.fit_intercept else (b, np.zeros(b.shape[1]))
    estimator.coef_ = coef.T.reshape(np.shape(estimator.coef_))
    estimator.intercept_ = intercept if np.ndim(estimator.intercept_) else 0.0


def _quantile(estimator, X, y, v, n_passes):
    A = _design(X, estimator.fit_intercept)
    tau = estimator.quantile
    y = np.asarray(y, dtype=np.float64)

    def objective(b):
        r = y - A @ b
        return float(v @ (r * (tau - (r < 0))))

    coef = np.ravel(estimator.coef_)
    b = np.append(coef, estimator.intercept_) if estimator.fit_intercept else coef.copy()
    best = objective(b)
    linear_term = (2 * tau - 1) * (A.T @ v)
    for _ in range(n_passes):
        r = y - A @ b
        delta = max(1e-12, 1e-6 * float(np.median(np.abs(r))))
        omega = v / np.maximum(np.abs(r), delta)
        Aw = A * omega[:, None]
        candidate = _solve(A.T @ Aw, Aw.T @ y + linear_term)
        value = objective(candidate)
        if not value < best:
            break
        b, best = candidate, value
    _set_linear(estimator, b, estimator.fit_intercept, np.shape(estimator.coef_))


def _logistic(estimator, X, y, v, n_passes):
    classes = estimator.classes_
    if len(classes) != 2:
        raise ValueError(
            "refine supports binary LogisticRegression; "
            f"this one has {len(classes)} classes. Use refine=0."
        )
    A = _design(X, estimator.fit_intercept)
    t = (np.asarray(y) == classes[1]).astype(np.float64)
    C = float(estimator.C)
    # penalty=None means no penalty whatever C says.
    unpenalised = np.isinf(C) or getattr(estimator, "penalty", "l2") is None
    ridge = np.zeros(A.shape[1]) if unpenalised else np.ones(A.shape[1])
    if estimator.fit_intercept:
        ridge[-1] = 0
    scale = 1.0 if unpenalised else C

    def objective(b):
        z = A @ b
        # log(1 + exp(-s z)) with s = +-1, computed stably.
        loss = np.logaddexp(0, z) - t * z
        return float(scale * (v @ loss) + 0.5 * ridge @ (b * b))

    coef = np.ravel(estimator.coef_)
    b = np.append(coef, estimator.intercept_) if estimator.fit_intercept else coef.copy()
    value = objective(b)
    for _ in range(n_passes):
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
    _set_linear(estimator, b, estimator.fit_intercept, np.shape(estimator.coef_))


def refine_estimator(estimator, X, y, sample_weight, n_passes):
    """Polish the fitted ``estimator`` with ``n_passes`` full-data passes (in place)."""
    v = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    kind = _kind(estimator)
    if kind == "least_squares":
        _least_squares(estimator, X, y, v)
    elif kind == "quantile":
        _quantile(estimator, X, y, v, n_passes)
    else:
        _logistic(estimator, X, y, v, n_passes)
    return estimator
