"""Every fitted estimator survives a model file (skops) with identical outputs."""

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor

from skembed._models import ModelFileError, load_model, save_model

from ._instances import public_instances

pytest.importorskip("skops.io")


def _fit_data(estimator):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 6))
    name = type(estimator).__name__
    if name in ("DensityMatchingEraser", "LinearConceptEraser", "NonlinearConceptEraser"):
        return X, {"y": (X[:, 0] > 0).astype(int)}
    if name == "LatentTranslator":
        return X, {"y": X @ rng.standard_normal((6, 3))}
    if name == "CoresetEstimator":
        y = (X[:, 0] > 0).astype(int) if is_classifier(estimator) else X[:, 0] + X[:, 1]
        return X, {"y": y}
    if is_regressor(estimator):  # pragma: no cover - no other regressor today
        return X, {"y": X[:, 0]}
    return X, {}


def _outputs(estimator, X):
    outputs = {}
    for method in ("transform", "predict", "predict_proba", "decision_function"):
        if hasattr(estimator, method):
            value = getattr(estimator, method)(X)
            outputs[method] = value.toarray() if hasattr(value, "toarray") else value
    for attribute in ("sample_indices_", "sample_weight_", "labels_"):
        if hasattr(estimator, attribute):
            outputs[attribute] = getattr(estimator, attribute)
    return outputs


@pytest.mark.parametrize("estimator", list(public_instances()), ids=repr)
def test_model_file_round_trip(estimator, tmp_path):
    X, targets = _fit_data(estimator)
    fitted = estimator.fit(X, **targets)
    path = tmp_path / "model.skops"
    save_model(fitted, path)
    loaded = load_model(path, expected=type(estimator))
    assert loaded.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    X_new = np.random.RandomState(1).standard_normal((15, 6))
    before, after = _outputs(fitted, X_new), _outputs(loaded, X_new)
    assert before.keys() == after.keys() and before
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_load_model_checks_the_class(tmp_path):
    from skembed import LinearConceptEraser, NNPreservingReducer

    path = tmp_path / "model.skops"
    save_model(LinearConceptEraser().fit(np.eye(4), [0, 1, 0, 1]), path)
    with pytest.raises(ModelFileError, match="holds a LinearConceptEraser, not a "
                                             "NNPreservingReducer"):
        load_model(path, expected=NNPreservingReducer)
