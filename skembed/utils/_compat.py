"""The one module of skembed that reaches scikit-learn's private names.

scikit-learn keeps no promise about names that start with an underscore: their
location and signatures change between releases. Everything skembed needs from
them is imported here, once, and adapted to every release that ``setup.cfg``
supports (scikit-learn >= 1.6), so a change in scikit-learn is fixed in this
file and nowhere else. The rest of the package imports from here; a test
(``tests/test_compat.py``) checks that no other module imports a private
scikit-learn name.
"""

import warnings

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._metadata_requests import _routing_enabled
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_method_params, _check_sample_weight

__all__ = [
    "HasMethods",
    "Hidden",
    "adapt_gram_solver",
    "Interval",
    "StrOptions",
    "check_method_params",
    "check_sample_weight",
    "enet_coordinate_descent_gram",
    "fit_context",
    "has_compiled_gram_solver",
    "routing_enabled",
    "safe_indexing",
    "validate_params",
]

fit_context = _fit_context
safe_indexing = _safe_indexing
routing_enabled = _routing_enabled
check_method_params = _check_method_params
check_sample_weight = _check_sample_weight


def adapt_gram_solver(compiled):
    """Adapt scikit-learn's compiled Gram-matrix elastic-net routine, or return None.

    The private routine ``sklearn.linear_model._cd_fast.enet_coordinate_descent_gram``
    takes ``(w, alpha, beta, Q, q, y, max_iter, tol, rng, random, positive)`` up
    to scikit-learn 1.7 and gains ``do_screening`` and ``early_stopping``
    flags afterwards (calling it with the newer 12 positional arguments raises
    ``TypeError`` on 1.7). The adapter passes the flags by keyword, keeps
    screening off where the flag exists (the solves here are tiny and warm
    started), and is accepted only if it solves a small elastic net with a
    known answer; anything else (another signature, another return shape, a
    wrong value) gives None and the callers use their NumPy coordinate
    descent.

    Parameters
    ----------
    compiled : callable or None
        The routine as imported from scikit-learn.

    Returns
    -------
    solver : callable or None
        ``solver(w, l1, l2, gram, products, target, max_iter, tol, rng)``
        returning a tuple whose first item is the coefficients.
    """
    if compiled is None:
        return None

    def with_screening_flag(w, l1, l2, gram, products, target, max_iter, tol, rng):
        return compiled(w, l1, l2, gram, products, target, max_iter, tol, rng,
                        random=False, positive=False, do_screening=False)

    def without_screening_flag(w, l1, l2, gram, products, target, max_iter, tol, rng):
        return compiled(w, l1, l2, gram, products, target, max_iter, tol, rng,
                        random=False, positive=False)

    # A small elastic net with a coupled Gram matrix, distinct products and
    # target, and both an active and an inactive coordinate, solved by
    # coordinate descent from a non-zero start: its exact solution (checked
    # below by its optimality conditions) must come back.
    gram = np.array([[2.0, 0.6, 0.2], [0.6, 1.5, -0.4], [0.2, -0.4, 1.0]])
    products = np.array([3.0, -2.0, 0.9])
    target = np.array([1.0, -1.0, 0.5, 2.0])
    l1, l2 = 0.5, 0.3
    for candidate in (with_screening_flag, without_screening_flag):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = candidate(np.array([0.1, 0.1, 0.1]), l1, l2, gram, products, target,
                                   1000, 1e-14, np.random.RandomState(0))
            coef = np.asarray(result[0], dtype=np.float64)
        except Exception:  # noqa: BLE001 - any mismatch means "not usable"
            continue
        if coef.shape == products.shape and _is_enet_optimum(coef, gram, products, l1, l2):
            return candidate
    return None


def _is_enet_optimum(coef, gram, products, l1, l2, tol=1e-9):
    """Optimality conditions of min 1/2 c'Gc - b'c + l1 |c|_1 + l2/2 |c|^2."""
    gradient = products - gram @ coef - l2 * coef
    active = coef != 0
    return bool(
        active.any()
        and (~active).any()
        and np.allclose(gradient[active], l1 * np.sign(coef[active]), atol=tol)
        and np.all(np.abs(gradient[~active]) <= l1 + tol)
    )


def _import_gram_solver():
    try:
        from sklearn.linear_model._cd_fast import enet_coordinate_descent_gram
    except ImportError:  # pragma: no cover - depends on the installed scikit-learn
        return None
    return enet_coordinate_descent_gram


_GRAM_SOLVER = adapt_gram_solver(_import_gram_solver())


def enet_coordinate_descent_gram(coef, l1, l2, gram, products, target, max_iter, tol):
    """Coordinate descent on ``min 1/2 c'Gc - b'c + l1 |c|_1 + l2/2 |c|^2``.

    Runs scikit-learn's compiled solver when the installed release offers one
    this module can call (see :func:`adapt_gram_solver`); returns None
    otherwise, so the caller runs its own solver.

    Parameters
    ----------
    coef : ndarray of shape (k,), float64, C-contiguous
        Starting point (updated in place by the compiled solver).
    l1, l2 : float
        The l1 and l2 penalties.
    gram : ndarray of shape (k, k), float64, C-contiguous
        G.
    products : ndarray of shape (k,)
        b.
    target : ndarray
        The regression target whose Gram products these are (used only for
        the duality gap).
    max_iter : int
        Sweeps.
    tol : float
        Duality-gap tolerance.

    Returns
    -------
    coef : ndarray of shape (k,) or None
    """
    if _GRAM_SOLVER is None:
        return None
    # The routine warns in terms of scikit-learn's estimators ("Set l1_ratio >
    # 0", "increase the number of iterations"), which mean nothing to a
    # skembed user; the caller judges convergence itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = _GRAM_SOLVER(coef, l1, l2, gram, products, target, max_iter, tol,
                              np.random.RandomState(0))
    return np.asarray(result[0])


def has_compiled_gram_solver():
    """Whether :func:`enet_coordinate_descent_gram` runs scikit-learn's solver."""
    return _GRAM_SOLVER is not None


def dense_output_config(method, estimator):
    """The container ``set_output`` asks ``method`` to return: "default", "pandas", ...

    scikit-learn resolves the estimator's own setting and the global
    ``set_config(transform_output=...)`` in a private helper.
    """
    return _get_output_config(method, estimator)["dense"]
