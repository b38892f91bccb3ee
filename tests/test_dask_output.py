"""set_output(transform="pandas") on a dask input gives a lazy dask DataFrame."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone

from skembed import (
    LinearConceptEraser,
    NNPreservingReducer,
    NonlinearConceptEraser,
    RelativeRepresentation,
)
from skembed.relative import LatentTranslator

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")


def _forbid_compute(*args, **kwargs):
    raise AssertionError("the lazy result was computed")


def _data(seed=0, n=400, d=6):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)


FITTED = {
    "eraser": lambda X, y: LinearConceptEraser().fit(X, y),
    "relative": lambda X, y: RelativeRepresentation(8, random_state=0).fit(X),
    "reducer": lambda X, y: NNPreservingReducer(n_components=3, max_iter=2,
                                                random_state=0).fit(X),
    "translator": lambda X, y: LatentTranslator().fit(X, X[:, :4] @ np.ones((4, 2))),
}


@pytest.mark.parametrize("name", list(FITTED))
def test_pandas_output_of_a_dask_input_is_a_lazy_frame(name):
    X, y = _data()
    fitted = FITTED[name](X, y).set_output(transform="pandas")
    lazy = da.from_array(X, chunks=((1, 199, 200), (6,)))
    with dask.config.set(scheduler=_forbid_compute):
        out = fitted.transform(lazy)
    assert isinstance(out, dd.DataFrame)
    expected = fitted.transform(X)  # pandas, eager
    assert list(out.columns) == list(expected.columns)
    with dask.config.set(scheduler="synchronous"):
        values = out.compute()
    np.testing.assert_allclose(values.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12)


def test_fit_transform_and_global_config_stay_lazy():
    X, y = _data(1)
    lazy = da.from_array(X, chunks=(100, 6))
    with config_context(transform_output="pandas"), dask.config.set(scheduler="synchronous"):
        out = LinearConceptEraser().fit_transform(lazy, y)
        assert isinstance(out, dd.DataFrame)
        expected = LinearConceptEraser().fit_transform(X, y)
        np.testing.assert_allclose(out.compute().to_numpy(), expected.to_numpy(), atol=1e-12)


def test_polars_output_of_a_dask_input_is_refused():
    X, y = _data(2)
    eraser = LinearConceptEraser().fit(X, y).set_output(transform="polars")
    with pytest.raises(ValueError, match="LinearConceptEraser.transform: X is a dask array.*"
                                         "'pandas'"):
        eraser.transform(da.from_array(X, chunks=100))


def test_pandas_output_without_dask_dataframe_is_refused_before_any_work(monkeypatch):
    import builtins
    import sys

    X, y = _data(3)
    eraser = LinearConceptEraser().fit(X, y).set_output(transform="pandas")
    real_import = builtins.__import__

    def no_dataframe(name, *args, **kwargs):
        if name.startswith("dask.dataframe"):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "dask.dataframe", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_dataframe)
    lazy = da.from_array(X, chunks=100).map_blocks(_forbid_compute, dtype=X.dtype)
    with pytest.raises(ImportError, match=r"LinearConceptEraser.transform: .*dask\[dataframe\]"):
        eraser.transform(lazy)


def test_default_output_and_numpy_input_are_unchanged():
    X, y = _data(3)
    eraser = LinearConceptEraser().fit(X, y)
    assert isinstance(eraser.transform(da.from_array(X, chunks=100)), da.Array)
    pandas_eraser = clone(eraser).fit(X, y).set_output(transform="pandas")
    assert type(pandas_eraser.transform(X)).__name__ == "DataFrame"
    assert not isinstance(pandas_eraser.transform(X), dd.DataFrame)


def test_conditional_methods_stay_conditional():
    from skembed import CoresetEstimator

    # CoresetEstimator.transform exists only when its estimator has one.
    assert not hasattr(CoresetEstimator(), "transform")
    assert NonlinearConceptEraser.transform.__name__ == "transform"
