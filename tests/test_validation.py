"""Bad input gets a clear error and the caller's data is never changed.

Every estimator (public ones, found by ``all_estimators``, and the reference
estimators that test ValidationMixin alone) goes through the same battery.
"""

import inspect
import pickle
import re

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.utils import get_tags

from ._instances import all_instances

INSTANCES = all_instances()
IDS = [repr(estimator) for estimator in INSTANCES]
N_SAMPLES, N_FEATURES = 60, 6


def make_data(estimator, dtype=np.float64, n_samples=N_SAMPLES, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, N_FEATURES)).astype(dtype)
    y = np.arange(n_samples) % 2 if get_tags(estimator).target_tags.required else None
    return X, y


def fit(estimator, X, y=None, **kwargs):
    return estimator.fit(X, y, **kwargs) if y is not None else estimator.fit(X, **kwargs)


def apply(estimator, X):
    """The estimator's output on new data (transform, or predict), as a dense array.

    A sampler (``fit_resample``) has no method on new data: its output is the
    sample it drew at fit.
    """
    if not has_method_on_new_data(estimator):
        return estimator.sample_indices_
    out = estimator.transform(X) if hasattr(estimator, "transform") else estimator.predict(X)
    return out.toarray() if sparse.issparse(out) else out


def has_method_on_new_data(estimator):
    return hasattr(estimator, "transform") or hasattr(estimator, "predict")


def skip_if_no_method_on_new_data(estimator):
    if not has_method_on_new_data(estimator):
        pytest.skip("a sampler has no method on new data")


def takes_class_labels(estimator):
    """The target is a class label (a concept, a class), not continuous values."""
    tags = get_tags(estimator)
    return not (tags.target_tags.multi_output or tags.estimator_type == "regressor")


def raises_naming(estimator, match):
    """pytest.raises(ValueError) whose message names the estimator and matches."""
    pattern = f"(?s)(?=.*{re.escape(type(estimator).__name__)}).*{match}"
    return pytest.raises(ValueError, match=pattern)


@pytest.fixture(params=INSTANCES, ids=IDS)
def estimator(request):
    return clone(request.param)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_rejected_at_fit(estimator, bad):
    X, y = make_data(estimator)
    X[3, 2] = bad
    with raises_naming(estimator, "NaN|infinity"):
        fit(estimator, X, y)


def test_non_finite_values_rejected_after_fit(estimator):
    skip_if_no_method_on_new_data(estimator)
    X, y = make_data(estimator)
    fit(estimator, X, y)
    X_new = X[:5].copy()
    X_new[0, 0] = np.nan
    with raises_naming(estimator, "NaN"):
        apply(estimator, X_new)


def test_one_dimensional_input_rejected(estimator):
    X, y = make_data(estimator)
    with raises_naming(estimator, "Expected 2D array"):
        fit(estimator, X[:, 0], y)
    skip_if_no_method_on_new_data(estimator)
    fit(estimator, X, y)
    with raises_naming(estimator, "Expected 2D array"):
        apply(estimator, X[0])


def test_empty_input_rejected(estimator):
    X, y = make_data(estimator)
    with raises_naming(estimator, "0 sample"):
        fit(estimator, X[:0], None if y is None else y[:0])
    with raises_naming(estimator, "0 feature"):
        fit(estimator, X[:, :0], y)


def test_too_few_samples_rejected(estimator):
    needed = estimator._min_fit_samples()
    X, y = make_data(estimator, n_samples=needed - 1) if needed > 1 else (None, None)
    if X is None:
        pytest.skip("fit accepts a single row")
    if y is not None:
        y = np.arange(len(y)) % 2
    with raises_naming(estimator, f"minimum of {needed} is required"):
        fit(estimator, X, y)


def test_wrong_number_of_features_after_fit(estimator):
    skip_if_no_method_on_new_data(estimator)
    X, y = make_data(estimator)
    fit(estimator, X, y)
    with raises_naming(estimator, f"{N_FEATURES - 1} features.*expecting {N_FEATURES}"):
        apply(estimator, X[:, :-1])


@pytest.mark.parametrize(
    "values, match",
    [
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]] * 4), "string|convert"),
        (np.ones((12, 2)) + 1j, "Complex data"),
    ],
    ids=["strings", "complex"],
)
def test_non_numeric_input_rejected(estimator, values, match):
    _, y = make_data(estimator, n_samples=len(values))
    with raises_naming(estimator, match):
        fit(estimator, values, y)


def test_caller_arrays_unchanged(estimator):
    X, y = make_data(estimator)
    X_before = X.copy()
    y_before = None if y is None else y.copy()
    fit(estimator, X, y)
    apply(estimator, X)
    if hasattr(estimator, "fit_transform"):
        clone(estimator).fit_transform(X, y)
    np.testing.assert_array_equal(X, X_before)
    if y is not None:
        np.testing.assert_array_equal(y, y_before)


def test_read_only_input_accepted(estimator):
    X, y = make_data(estimator)
    X.setflags(write=False)
    fit(estimator, X, y)
    apply(estimator, X)


def test_float32_preserved(estimator):
    tags = get_tags(estimator)
    if tags.transformer_tags is None or "float32" not in tags.transformer_tags.preserves_dtype:
        pytest.skip("not a float32-preserving transformer")
    X, y = make_data(estimator, dtype=np.float32)
    fit(estimator, X, y)
    assert apply(estimator, X).dtype == np.float32


def test_integer_input_becomes_float64(estimator):
    X, y = make_data(estimator)
    X_int = np.round(10 * X).astype(np.int64)
    fit(estimator, X_int, y)
    output = apply(estimator, X_int)
    if hasattr(estimator, "transform"):
        assert output.dtype == np.float64


def test_pickle_round_trip_is_exact(estimator):
    X, y = make_data(estimator)
    fit(estimator, X, y)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(apply(estimator, X), apply(restored, X))


def test_target_checks(estimator):
    if not get_tags(estimator).target_tags.required:
        pytest.skip("fit takes no target")
    X, y = make_data(estimator)
    if takes_class_labels(estimator):
        with raises_naming(estimator, "1 class"):
            fit(estimator, X, np.zeros_like(y))
    with raises_naming(estimator, "inconsistent numbers of samples"):
        fit(estimator, X, y[:-1])
    y_nan = y.astype(float)
    y_nan[0] = np.nan
    with raises_naming(estimator, "NaN"):
        fit(estimator, X, y_nan)


def test_sample_weight_checks(estimator):
    if "sample_weight" not in inspect.signature(estimator.fit).parameters:
        pytest.skip("fit takes no sample_weight")
    X, y = make_data(estimator)
    weights = np.ones(len(X))
    weights[0] = -1
    with raises_naming(estimator, "negative"):
        fit(estimator, X, y, sample_weight=weights)
    with raises_naming(estimator, "zero"):
        fit(estimator, X, y, sample_weight=np.zeros(len(X)))
    with raises_naming(estimator, "sample_weight"):
        fit(estimator, X, y, sample_weight=np.ones(len(X) - 1))


SCALES = [1e-150, 1e-30, 1e30, 1e150]


def _same_up_to_scale(scaled_output, output, scale):
    """Equal, or equal after dividing by the scale (outputs in the units of X)."""
    if scaled_output.dtype.kind in "iub" or output.dtype.kind in "iub":
        return np.array_equal(scaled_output, output)
    if not np.all(np.isfinite(scaled_output)):
        return False
    reach = np.abs(output).max(initial=0.0)
    for candidate in (scaled_output, scaled_output / scale):
        if np.allclose(candidate, output, rtol=1e-6, atol=1e-9 * reach):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("scale", SCALES, ids=[f"{s:g}" for s in SCALES])
def test_global_rescaling_gives_the_same_result(estimator, scale):
    """Every estimator's result on s * X is its result on X (or s times it).

    Embeddings come in any units; none of skembed's methods has a preferred
    one, so a fit must neither overflow, underflow nor change its decisions
    between 1e-150 and 1e150.
    """
    X, y = make_data(estimator, n_samples=90)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)  # the same draws on both fits
    if hasattr(estimator, "_make_sampler"):
        # A coreset meta-estimator's own part is the weighted sample it
        # draws; the model it then fits is scikit-learn's (LogisticRegression's
        # fixed penalty and QuantileRegressor's solver are not unit-free), so
        # the sampler it builds is compared, fit as the coreset fits it.
        target = None if is_classifier(estimator._base_estimator()) else y
        with np.errstate(all="ignore"):
            output = estimator._make_sampler().fit(X, target).sample_indices_
        scaled = estimator._make_sampler().fit(X * scale, target).sample_indices_
        np.testing.assert_array_equal(scaled, output)
        return
    with np.errstate(all="ignore"):
        output = apply(fit(clone(estimator), X, y), X)
    fitted = fit(clone(estimator), X * scale, y)
    assert _same_up_to_scale(apply(fitted, X * scale), output, scale)


def _set_params_after_fit_cases():
    from skembed import LinearConceptEraser, NNPreservingReducer, RelativeRepresentation

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6)) + 3.0
    y = (X[:, 0] > 3.0).astype(int)
    return [
        (LinearConceptEraser(), {"affine": False}, X, y),
        (NNPreservingReducer(n_components=2, random_state=0), {"metric": "cosine"}, X, None),
        (RelativeRepresentation(8, random_state=0), {"normalize": "standard"}, X, None),
        (RelativeRepresentation(8, random_state=0), {"top_k": 50}, X, None),
        (RelativeRepresentation(8, random_state=0, top_k=3), {"top_k": None}, X, None),
        (RelativeRepresentation(8, random_state=0), {"center": False}, X, None),
    ]


@pytest.mark.parametrize("case", range(6))
def test_transform_uses_the_parameters_of_the_fit(case):
    """scikit-learn's convention: set_params after fit changes nothing until the next fit."""
    estimator, new_params, X, y = _set_params_after_fit_cases()[case]
    fitted = fit(estimator, X, y)
    before = apply(fitted, X)
    fitted.set_params(**new_params)
    np.testing.assert_array_equal(apply(fitted, X), before)
    if new_params == {"top_k": 50}:  # more than the 8 anchors: the next fit says so
        with pytest.raises(ValueError, match="top_k=50 exceeds the number of anchors"):
            fit(fitted, X, y)
        return
    refitted = apply(fit(fitted, X, y), X)  # the next fit takes them
    assert refitted.shape != before.shape or not np.allclose(refitted, before)


def test_partial_fit_solves_with_the_parameters_of_its_last_batch():
    from skembed import LinearConceptEraser

    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 5))
    y = rng.randint(3, size=300)
    X[:, :2] += y[:, None]
    eraser = LinearConceptEraser(rank=1).partial_fit(X, y)
    eraser.set_params(rank=None)  # after the batch: the lazy solve keeps rank=1
    assert eraser.rank_ == 1
    eraser.partial_fit(X[:10], y[:10])  # a new batch takes rank=None
    assert eraser.rank_ == 2


def test_a_failed_fit_keeps_the_parameters_of_the_last_good_one():
    from skembed import RelativeRepresentation

    rng = np.random.RandomState(2)
    X = rng.normal(size=(60, 5))
    model = RelativeRepresentation(5, random_state=0).fit(X)
    before = model.transform(X)
    model.set_params(normalize="l2")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad)
    np.testing.assert_array_equal(model.transform(X), before)
