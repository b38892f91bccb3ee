"""ValidationMixin and validate_array: conversions, targets, messages, tags."""

import numpy as np
import pytest
from sklearn.utils import get_tags

from skembed.base import validate_array

from ._reference_estimators import ClassMeanProjector, MeanCenterer


def test_float_dtypes_kept_and_others_become_float64():
    X = np.arange(12.0).reshape(6, 2)
    for dtype in (np.float32, np.float64):
        assert MeanCenterer()._validate_X(X.astype(dtype), reset=True).dtype == dtype
    for dtype in (np.int32, np.int64, np.uint8, bool):
        assert MeanCenterer()._validate_X(X.astype(dtype), reset=True).dtype == np.float64


def test_no_copy_when_input_is_already_valid():
    X = np.random.RandomState(0).normal(size=(5, 3))
    assert MeanCenterer()._validate_X(X, reset=True) is X


def test_feature_names_recorded_and_checked():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.RandomState(0).normal(size=(6, 2)), columns=["a", "b"])
    est = MeanCenterer().fit(frame)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="MeanCenterer.transform.*feature names"):
        est.transform(frame.rename(columns={"b": "c"}))


def test_method_name_appears_in_message():
    est = MeanCenterer().fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^MeanCenterer\.transform: Input X contains NaN\. Impute or drop"):
        est.transform(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"^MeanCenterer\.predict: "):
        est._validate_X(np.ones((2, 3)), reset=False, method="predict")


def test_min_samples_override_is_honoured():
    class NeedsFive(MeanCenterer):
        def _min_fit_samples(self):
            return 5

    with pytest.raises(ValueError, match="minimum of 5 is required by NeedsFive.*more rows"):
        NeedsFive().fit(np.ones((4, 2)))
    NeedsFive().fit(np.ones((5, 2)))
    # Later methods accept a single row.
    NeedsFive().fit(np.ones((5, 2))).transform(np.ones((1, 2)))


def test_concept_labels_may_be_strings():
    X = np.random.RandomState(0).normal(size=(6, 3))
    _, y, _ = ClassMeanProjector()._validate_X_y(X, np.array(["a", "b"] * 3), y_kind="concept")
    assert y.dtype.kind == "U"


def test_text_in_a_continuous_target_is_named_with_the_caller():
    X = np.random.RandomState(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match="ClassMeanProjector.fit: could not convert.*numbers"):
        ClassMeanProjector()._validate_X_y(X, np.array(list("abcdef")), y_kind="continuous")


def test_continuous_concept_is_two_dimensional():
    X = np.random.RandomState(0).normal(size=(6, 3)).astype(np.float32)
    z = np.random.RandomState(1).normal(size=(6, 2))
    _, z_out, _ = ClassMeanProjector()._validate_X_y(X, z, y_kind="concept")
    assert z_out.shape == (6, 2) and z_out.dtype == np.float32
    with pytest.raises(ValueError, match=r"Unknown label type.*reshape\(-1, 1\)"):
        ClassMeanProjector()._validate_X_y(X, z[:, 0], y_kind="concept")


def test_labels_must_be_one_dimensional():
    X = np.random.RandomState(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match="y should be a 1d array"):
        ClassMeanProjector()._validate_X_y(X, np.zeros((6, 2)), y_kind="labels")


def test_continuous_target_is_cast_to_x_dtype():
    X = np.ones((4, 2), dtype=np.float32)
    _, y, _ = MeanCenterer()._validate_X_y(X, [1, 2, 3, 4], y_kind="continuous")
    assert y.dtype == np.float32


def test_sample_weight_returned_in_x_dtype_or_none():
    X = np.random.RandomState(0).normal(size=(4, 2)).astype(np.float32)
    y = [0, 1, 0, 1]
    _, _, weights = ClassMeanProjector()._validate_X_y(X, y, sample_weight=[1, 2, 3, 4])
    assert weights.dtype == np.float32
    assert ClassMeanProjector()._validate_X_y(X, y)[2] is None


def test_y_none_for_supervised_estimator():
    with pytest.raises(ValueError, match="requires y to be passed"):
        ClassMeanProjector().fit(np.ones((4, 2)), None)


def test_tags():
    tags = get_tags(ClassMeanProjector())
    assert tags.target_tags.required
    assert not tags.input_tags.allow_nan and not tags.input_tags.sparse
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]
    assert not get_tags(MeanCenterer()).target_tags.required


def test_validate_array_names_the_caller_and_argument():
    with pytest.raises(ValueError, match=r"^my_metric: Input X_embedded contains NaN"):
        validate_array([[np.nan]], caller="my_metric", input_name="X_embedded")
    with pytest.raises(ValueError, match="minimum of 3 is required"):
        validate_array(np.ones((2, 2)), caller="f", min_samples=3)
    X = np.ones((2, 2), dtype=np.float32)
    assert validate_array(X, caller="f") is X


class _NeedsTwoArguments(ValueError):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def test_named_errors_prefix_solver_errors_and_warnings():
    from skembed.utils._messages import warn

    estimator = MeanCenterer()
    with pytest.raises(ValueError, match=r"^MeanCenterer\.fit: bad input") as raised:
        with estimator._named_errors("fit"):
            raise ValueError("bad input")
    assert str(raised.value.__cause__) == "bad input"
    with pytest.raises(RuntimeError, match=r"^MeanCenterer\.fit: solver failed"):
        with estimator._named_errors("fit"):
            raise RuntimeError("solver failed")
    # A class that cannot be rebuilt from a message passes unchanged.
    with pytest.raises(_NeedsTwoArguments) as raised:
        with estimator._named_errors("fit"):
            raise _NeedsTwoArguments("odd", code=7)
    assert raised.value.code == 7
    with pytest.warns(UserWarning, match=r"^MeanCenterer\.transform: did not converge"):
        with estimator._named_errors("transform"):
            warn("did not converge")
    with pytest.warns(UserWarning, match=r"^did not converge"):
        warn("did not converge")  # outside an estimator: generic


def test_named_errors_leave_warning_filters_alone_across_threads():
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from skembed.utils._messages import warn

    def run(i):
        with MeanCenterer()._named_errors("fit"):
            warn(f"message {i}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = list(warnings.filters)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(run, range(64)))
        assert warnings.filters == before


def test_a_warning_turned_into_an_error_stops_the_solver_at_once():
    import warnings

    from skembed.utils._messages import warn

    reached = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="MeanCenterer.fit: slow"):
            with MeanCenterer()._named_errors("fit"):
                warn("slow")
                reached.append(True)
    assert reached == []


def test_warnings_about_the_callers_arguments_point_at_the_callers_line():
    # The warnings about what the caller passed name the caller's line,
    # however many wrappers (scikit-learn's fit context, skembed's own) sit
    # between it and the check.
    import warnings

    from sklearn.exceptions import DataConversionWarning

    from skembed import LinearConceptEraser, NNPreservingReducer

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 4)), rng.randint(2, size=200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LinearConceptEraser().fit(X, y[:, None])
        NNPreservingReducer(objective="margin", n_components=2, max_iter=1,
                            random_state=0).fit(X)
    about_arguments = [w for w in caught
                       if issubclass(w.category, (DataConversionWarning, FutureWarning))]
    assert len(about_arguments) == 2
    assert all(w.filename == __file__ for w in about_arguments)
