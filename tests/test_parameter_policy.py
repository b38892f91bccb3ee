"""One parameter policy for every skembed estimator (doc/architecture.rst, "Parameters").

* parameters after the first are keyword-only;
* every parameter is declared in ``_parameter_constraints``;
* ``n_jobs`` follows joblib: None, a positive count or -1, -2, ...; 0 is
  rejected before any work, and the result does not depend on it;
* the choice of algorithm is called ``method``;
* a parameter the chosen method does not use is ignored, never an error, so
  a grid over ``method`` with other parameters set works for every method.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import get_tags

from skembed.utils import all_estimators

from ._instances import all_instances

ESTIMATORS = all_estimators()
IDS = [name for name, _ in ESTIMATORS]


def _data(estimator, n_samples=60, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = np.arange(n_samples) % 2 if get_tags(estimator).target_tags.required else None
    return X, y


def _fit(estimator, X, y):
    return estimator.fit(X, y) if y is not None else estimator.fit(X)


def _output(estimator, X):
    if hasattr(estimator, "transform"):
        out = estimator.transform(X)
    elif hasattr(estimator, "predict"):
        out = estimator.predict(X)
    else:
        out = estimator.sample_indices_
    return out.toarray() if hasattr(out, "toarray") else np.asarray(out)


@pytest.mark.parametrize("cls", [cls for _, cls in ESTIMATORS], ids=IDS)
def test_parameters_after_the_first_are_keyword_only(cls):
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if not parameters:
        pytest.skip("no parameters")
    assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    positional = [p.name for p in parameters[1:] if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert positional == [], f"{cls.__name__}: make {positional} keyword-only"


@pytest.mark.parametrize("cls", [cls for _, cls in ESTIMATORS], ids=IDS)
def test_every_parameter_is_constrained(cls):
    parameters = set(cls().get_params(deep=False))
    assert parameters == set(cls._parameter_constraints)


@pytest.mark.parametrize("cls", [cls for _, cls in ESTIMATORS], ids=IDS)
def test_the_algorithm_choice_is_called_method(cls):
    # "objective" survives one release as a deprecated alias (default "deprecated").
    parameters = cls().get_params(deep=False)
    assert parameters.get("objective", "deprecated") == "deprecated"
    assert "algorithm" not in parameters


WITH_N_JOBS = [
    estimator for estimator in all_instances() if "n_jobs" in estimator.get_params(deep=False)
]


def test_some_estimators_take_n_jobs():
    # Guards the parametrisation below against silently testing nothing.
    assert {type(estimator).__name__ for estimator in WITH_N_JOBS} >= {
        "NNPreservingReducer", "SensitivitySampler", "SubspaceClusterer"
    }


@pytest.mark.parametrize("estimator", WITH_N_JOBS, ids=repr)
def test_n_jobs_zero_is_rejected_before_work(estimator):
    X, y = _data(estimator)
    with pytest.raises(ValueError, match=r"(?is)n_jobs.*got 0"):
        _fit(clone(estimator).set_params(n_jobs=0), X, y)


@pytest.mark.parametrize("estimator", WITH_N_JOBS, ids=repr)
def test_n_jobs_does_not_change_the_result(estimator):
    X, y = _data(estimator)
    if "random_state" in estimator.get_params(deep=False):
        estimator = clone(estimator).set_params(random_state=0)  # compare like with like
    outputs = []
    for n_jobs in (None, 1, 2, -1):
        fitted = _fit(clone(estimator).set_params(n_jobs=n_jobs), X, y)
        outputs.append(_output(fitted, X))
    for output in outputs[1:]:
        np.testing.assert_allclose(output, outputs[0], rtol=1e-10, atol=1e-12)


#: Non-default values of the parameters that only some methods use: with all
#: of them set, every method must fit (the others are ignored), so a grid over
#: ``method`` never scores nan because of a parameter meant for another method.
METHOD_SPECIFIC = {
    "LinearConceptEraser": {"rank": 1, "shrinkage": True, "tol": 0.05, "max_iter": 5,
                            "init": "random", "random_state": 0},
    "NNPreservingReducer": {"n_components": 2, "n_neighbors": 3, "max_iter": 1,
                            "temperature": 0.3, "tail_fraction": 0.2, "batch_size": 16,
                            "max_queries": 30, "random_state": 0},
    "SensitivitySampler": {"n_samples": 20, "p": 3.0, "solver": "exact", "tol": 1e-5,
                           "max_iter": 50, "n_jobs": 1, "random_state": 0},
    "LatentTranslator": {"center": False, "scale": False},
    "NonlinearConceptEraser": {"shrinkage": True, "final_leace": False, "tol": 1e-6,
                               "max_iter": 5, "random_state": 0},
    "SubspaceClusterer": {"n_clusters": 3, "tau": 0.8, "gamma": 50.0, "n_nonzero": 3,
                          "outlier_gamma": 5.0, "max_iter": 30, "collaborative_alpha": 0.1,
                          "n_candidates": 20, "random_state": 0},
}
#: Methods a plain fit(X, y) cannot run (they need another fit argument).
NEEDS_MORE_THAN_X_Y = {("LinearConceptEraser", "splice")}


def _method_cases():
    for name, cls in ESTIMATORS:
        constraint = cls._parameter_constraints.get("method")
        if constraint is None:
            continue
        methods = sorted(next(iter(constraint)).options)
        for method in methods:
            if (name, method) not in NEEDS_MORE_THAN_X_Y:
                yield pytest.param(cls, method, id=f"{name}-{method}")


def test_every_estimator_with_methods_is_covered():
    with_methods = {name for name, cls in ESTIMATORS if "method" in cls._parameter_constraints}
    assert with_methods == set(METHOD_SPECIFIC)


@pytest.mark.parametrize("cls, method", list(_method_cases()))
def test_parameters_of_other_methods_are_ignored(cls, method):
    estimator = cls(**METHOD_SPECIFIC[cls.__name__], method=method)
    X, y = _data(estimator, n_samples=90, n_features=6)
    _fit(estimator, X, y)
    assert np.all(np.isfinite(_output(estimator, X)))
