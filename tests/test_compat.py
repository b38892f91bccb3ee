"""The compatibility layer: private scikit-learn names in one module, adapted per release."""

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

from skembed.utils import _compat

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "skembed" / "utils" / "_compat.py"


def _private_sklearn_imports(path):
    """(line, text) of every import of a private scikit-learn name in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
            private_module = any(part.startswith("_") for part in node.module.split("."))
            private_name = any(alias.name.startswith("_") for alias in node.names)
            if private_module or private_name:
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sklearn" and any(part.startswith("_") for part in parts):
                    found.append((node.lineno, ast.unparse(node)))
    return found


def _python_files():
    for folder in ("skembed", "tests", "benchmarks", "doc"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_only_the_compat_module_imports_private_sklearn_names():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in _python_files()
        if path != COMPAT
        for line, text in _private_sklearn_imports(path)
    ]
    assert offenders == [], "import these through skembed.utils._compat:\n" + "\n".join(offenders)


def test_the_import_scanner_finds_private_imports(tmp_path):
    # The check above must be able to fail: every spelling of a private import.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sklearn.utils._param_validation import Interval\n"
        "from sklearn.base import _fit_context\n"
        "import sklearn.linear_model._cd_fast\n"
        "from sklearn.utils import check_random_state\n"
    )
    assert [line for line, _ in _private_sklearn_imports(sample)] == [1, 2, 3]


def _enet_objective(coef, gram, products, l1, l2):
    return 0.5 * coef @ gram @ coef - products @ coef + l1 * np.abs(coef).sum() + 0.5 * l2 * coef @ coef


def _assert_enet_optimal(coef, gram, products, l1, l2, atol=1e-8):
    """KKT conditions of min 1/2 c'Gc - b'c + l1 |c|_1 + l2/2 |c|^2."""
    gradient = products - gram @ coef - l2 * coef
    active = coef != 0
    np.testing.assert_allclose(gradient[active], l1 * np.sign(coef[active]), atol=atol)
    assert np.all(np.abs(gradient[~active]) <= l1 + atol)


@pytest.mark.skipif(not _compat.has_compiled_gram_solver(),
                    reason="the installed scikit-learn offers no usable compiled solver")
def test_compiled_elastic_net_solves_the_program():
    rng = np.random.RandomState(0)
    design = rng.normal(size=(40, 12))
    target = rng.normal(size=40)
    gram, products = design.T @ design, design.T @ target
    l1, l2 = 5.0, 0.5
    coef = _compat.enet_coordinate_descent_gram(
        np.zeros(12), l1, l2, np.ascontiguousarray(gram), products, target, 10_000, 1e-14
    )
    _assert_enet_optimal(coef, gram, products, l1, l2, atol=1e-6)
    assert 0 < np.count_nonzero(coef) < 12


def _release_1_7(w, alpha, beta, Q, q, y, max_iter, tol, rng, random=0, positive=0):
    """A stand-in with scikit-learn 1.7's signature (11 parameters): cyclic coordinate descent."""
    w = np.array(w, dtype=float)
    for _ in range(max_iter):
        for k in range(w.size):
            z = q[k] - Q[k] @ w + Q[k, k] * w[k]
            w[k] = np.sign(z) * max(abs(z) - alpha, 0.0) / (Q[k, k] + beta)
    return w, 0.0, tol, max_iter


def _release_1_8(w, alpha, beta, Q, q, y, max_iter, tol, rng, random=0, positive=0,
                 do_screening=1, early_stopping=1):
    return _release_1_7(w, alpha, beta, Q, q, y, max_iter, tol, rng)


def _identity_gram_only(w, alpha, beta, Q, q, y, max_iter, tol, rng, random=0, positive=0):
    """Right only when the Gram matrix is the identity: must be refused."""
    return np.sign(q) * np.maximum(np.abs(q) - alpha, 0) / (1 + beta), 0.0, tol, 1


def _wrong_answer(*args, **kwargs):
    return np.ones(2), 0.0, 0.0, 1


def _old_signature(w, P1, Q, q, max_iter, tol, rng, intercept, random=0):
    raise AssertionError("never reached: the adapter's keywords do not fit")


@pytest.mark.parametrize("routine", [_release_1_7, _release_1_8])
def test_adapter_calls_each_release_signature(routine):
    solver = _compat.adapt_gram_solver(routine)
    assert solver is not None
    coef = solver(np.zeros(2), 1.0, 0.5, np.eye(2), np.array([3.0, 0.5]), None, 10, 1e-8, None)[0]
    np.testing.assert_allclose(coef, [2 / 1.5, 0.0])
    gram = np.array([[2.0, 0.5], [0.5, 1.0]])
    coef = solver(np.zeros(2), 0.2, 0.1, gram, np.array([1.0, 1.0]), None, 500, 1e-12, None)[0]
    _assert_enet_optimal(coef, gram, np.array([1.0, 1.0]), 0.2, 0.1)


@pytest.mark.parametrize("routine", [None, _wrong_answer, _old_signature, _identity_gram_only])
def test_adapter_refuses_what_it_cannot_call_correctly(routine):
    assert _compat.adapt_gram_solver(routine) is None


def test_installed_routine_signature_is_one_the_adapter_knows():
    # Either the installed release is adapted, or the adapter said no (and
    # EnSC runs its NumPy sweeps): never a TypeError at fit time.
    routine = _compat._import_gram_solver()
    if routine is None:
        pytest.skip("scikit-learn ships no compiled Gram solver")
    assert (_compat.adapt_gram_solver(routine) is not None) == _compat.has_compiled_gram_solver()
    assert inspect.isfunction(_compat.enet_coordinate_descent_gram)


def test_scikit_learn_warnings_do_not_reach_the_user():
    # With l1 = 0 some releases warn "Set l1_ratio > 0", a parameter skembed
    # does not have; the adapter's callers judge convergence themselves.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coef = _compat.enet_coordinate_descent_gram(
            np.zeros(2), 0.0, 1.0, np.eye(2), np.array([1.0, 2.0]), np.zeros(3), 1, 1e-30
        )
    if coef is not None:
        np.testing.assert_allclose(coef, [0.5, 1.0])
