"""Labels and sample weights given as dask arrays beside a dask X stay lazy (issue 16)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning

from skembed import LinearConceptEraser

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def concept_data(seed, n=1_200, d=7, n_classes=3, dtype=np.float64):
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0
    X[:, :2] += y[:, None] * 0.7
    return X.astype(dtype), y


CHUNKINGS = {
    "uneven": lambda n: (1, 2, 397, n - 400),
    "one-row": lambda n: (1,) * 30 + (n - 30,),
    "even": lambda n: (n // 4,) * 4,
}


def lazy_X(X, rows):
    return da.from_array(X, chunks=(rows, X.shape[1]))


def assert_same_fit(lazy, reference):
    """The lazy-target fit equals the in-memory-target fit to 1e-12 relative."""
    scale = np.abs(reference.projection_).max()
    np.testing.assert_allclose(lazy.projection_, reference.projection_, rtol=0,
                               atol=1e-12 * scale)
    np.testing.assert_allclose(lazy.mean_, reference.mean_, rtol=1e-12)
    assert lazy.rank_ == reference.rank_
    assert lazy.n_samples_seen_ == reference.n_samples_seen_
    if hasattr(reference, "classes_"):
        assert lazy.classes_.dtype == reference.classes_.dtype
        np.testing.assert_array_equal(lazy.classes_, reference.classes_)


@pytest.mark.parametrize("method", ["leace", "orth", "splice"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunking", sorted(CHUNKINGS))
def test_lazy_y_equals_y_in_memory(method, dtype, chunking):
    X, y = concept_data(0, dtype=dtype)
    rows = CHUNKINGS[chunking](len(y))
    extra = {"target": X[:, 3] > 3} if method == "splice" else {}
    on_dask = lazy_X(X, rows)
    lazy = LinearConceptEraser(method=method).fit(on_dask, da.from_array(y, chunks=rows),
                                                  **extra)
    reference = LinearConceptEraser(method=method).fit(on_dask, y, **extra)
    assert_same_fit(lazy, reference)
    # And the in-memory fit, as tests/test_dask.py checks the dask path.
    numpy_fit = LinearConceptEraser(method=method).fit(X, y, **extra)
    np.testing.assert_allclose(lazy.projection_, numpy_fit.projection_, atol=1e-10)
    np.testing.assert_array_equal(lazy.classes_, numpy_fit.classes_)


@pytest.mark.parametrize("y_chunks", [333, 1_200, (1, 1_199)])
def test_y_chunked_unlike_X(y_chunks):
    X, y = concept_data(1)
    on_dask = lazy_X(X, 500)
    lazy = LinearConceptEraser().fit(on_dask, da.from_array(y, chunks=y_chunks))
    assert_same_fit(lazy, LinearConceptEraser().fit(on_dask, y))


def test_y_as_a_column():
    X, y = concept_data(2)
    on_dask = lazy_X(X, 400)
    with pytest.warns(DataConversionWarning, match="LinearConceptEraser.fit: A column-vector"):
        lazy = LinearConceptEraser().fit(on_dask, da.from_array(y[:, None], chunks=(250, 1)))
    with pytest.warns(DataConversionWarning):
        reference = LinearConceptEraser().fit(on_dask, y[:, None])
    assert_same_fit(lazy, reference)


def test_continuous_concepts_stay_continuous():
    X, _ = concept_data(3)
    rng = np.random.RandomState(3)
    one = X[:, :1] * 0.4 + rng.normal(size=(len(X), 1))  # (n, 1) of values: a concept column
    two = np.hstack([one, X[:, 2:3] - X[:, 1:2]])
    on_dask = lazy_X(X, 300)
    for concept in (one, two):
        lazy = LinearConceptEraser().fit(on_dask, da.from_array(concept, chunks=(450, 1)))
        assert_same_fit(lazy, LinearConceptEraser().fit(on_dask, concept))
        assert not hasattr(lazy, "classes_")


def test_lazy_sample_weight_with_zeros():
    X, y = concept_data(4)
    weights = np.random.RandomState(4).uniform(0.0, 2.0, size=len(y))
    weights[::7] = 0.0
    weights[:40] = 0.0
    on_dask = lazy_X(X, (1, 2, 597, 600))
    reference = LinearConceptEraser().fit(on_dask, y, sample_weight=weights)
    for lazy_y in (True, False):
        lazy = LinearConceptEraser().fit(
            on_dask, da.from_array(y, chunks=350) if lazy_y else y,
            sample_weight=da.from_array(weights, chunks=(40, 1_160)),
        )
        assert_same_fit(lazy, reference)
    # Weights in memory beside a lazy y.
    lazy = LinearConceptEraser().fit(on_dask, da.from_array(y, chunks=350),
                                     sample_weight=weights)
    assert_same_fit(lazy, reference)


def test_string_labels_of_object_dtype():
    X, y = concept_data(5)
    names = np.array(["cat", "ant", "bee"], dtype=object)[y]
    on_dask = lazy_X(X, 300)
    lazy = LinearConceptEraser().fit(on_dask, da.from_array(names, chunks=500))
    reference = LinearConceptEraser().fit(on_dask, names)
    assert_same_fit(lazy, reference)
    assert lazy.classes_.tolist() == ["ant", "bee", "cat"]
    mixed = names.copy()
    mixed[5] = 3
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: the labels in y cannot "
                                         "be sorted"):
        LinearConceptEraser().fit(on_dask, da.from_array(mixed, chunks=500))


def test_partial_fit_with_lazy_labels():
    X, y = concept_data(6)
    eraser = LinearConceptEraser()
    eraser.partial_fit(lazy_X(X[:600], 250), da.from_array(y[:600], chunks=100),
                       classes=np.unique(y))
    eraser.partial_fit(lazy_X(X[600:], 250), da.from_array(y[600:], chunks=100))
    np.testing.assert_allclose(eraser.projection_, LinearConceptEraser().fit(X, y).projection_,
                               atol=1e-10)
    with pytest.raises(ValueError, match=r"partial_fit: y has labels \[7\] not seen"):
        eraser.partial_fit(lazy_X(X[:10], 5), da.from_array(np.full(10, 7), chunks=5))


def unreadable(X, rows):
    """A dask X whose blocks raise when read: a check made before the moments pass passes."""
    def refuse(block):
        if block.size:
            raise AssertionError("X was read")
        return block

    return lazy_X(X, rows).map_blocks(refuse, dtype=X.dtype, meta=np.empty((0, 0), X.dtype))


def test_checks_run_before_the_pass_over_X():
    X, y = concept_data(7)
    never_read = unreadable(X, 300)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: y has 1 class \(2\), "
                                         "but at least 2"):
        LinearConceptEraser().fit(never_read, da.full(len(y), 2, chunks=500))
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*inconsistent numbers "
                                         r"of samples: \[1200, 1199\]"):
        LinearConceptEraser().fit(never_read, da.from_array(y[:-1], chunks=500))
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*\[1200, 1201\]"):
        LinearConceptEraser().fit(never_read, da.from_array(y, chunks=500),
                                  sample_weight=da.ones(len(y) + 1, chunks=500))
    labels = y.astype(float)
    labels[900] = np.nan
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: Input y contains NaN"):
        LinearConceptEraser().fit(never_read, da.from_array(labels, chunks=500))
    names = np.array(["a", "b", "c"], dtype=object)[y]
    names[3] = np.nan
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: Input y contains NaN"):
        LinearConceptEraser().fit(never_read, da.from_array(names, chunks=500))
    with pytest.raises(ValueError, match=r"Unknown label type for y \('continuous'\).*"
                                         r"reshape\(-1, 1\)"):
        LinearConceptEraser().fit(never_read, da.from_array(X[:, 0], chunks=500))
    lazy_y = da.from_array(y, chunks=500)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: sample_weight has "
                                         "negative values"):
        LinearConceptEraser().fit(never_read, lazy_y,
                                  sample_weight=da.from_array(np.linspace(-1, 1, len(y))))
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: sample_weight is zero "
                                         "for every row"):
        LinearConceptEraser().fit(never_read, lazy_y, sample_weight=da.zeros(len(y)))
    unknown = da.from_array(y, chunks=500)
    unknown = unknown[unknown >= 0]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match=r"y\.compute_chunk_sizes\(\)"):
        LinearConceptEraser().fit(never_read, unknown)


def test_y_is_never_read_into_the_client(monkeypatch):
    X, y = concept_data(8, n=2_000)
    lazy_y = da.from_array(y, chunks=(300, 300, 1_400))
    lazy_w = da.from_array(np.linspace(0.5, 1.5, len(y)), chunks=600)
    reference = LinearConceptEraser().fit(lazy_X(X, 500), y, sample_weight=lazy_w.compute())

    def refuse(*args, **kwargs):
        raise AssertionError("a dask target was read into the client")

    import skembed.base

    monkeypatch.setattr(da.Array, "__array__", refuse)
    monkeypatch.setattr(da.Array, "compute", refuse)
    monkeypatch.setattr(skembed.base, "to_numpy_vector", refuse)
    # Every block of X read exactly once, in one compute over X (the other
    # compute is over y and the weights alone).
    reads = []

    def count(block):
        if block.size:
            reads.append(block[0, 0])
        return block

    counted = lazy_X(X, 500).map_blocks(count, dtype=X.dtype, meta=np.empty((0, 0), X.dtype))
    computes = []
    original = dask.compute

    def counting_compute(*args, **kwargs):
        computes.append(len(reads))
        return original(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counting_compute)
    lazy = LinearConceptEraser().fit(counted, lazy_y, sample_weight=lazy_w)
    assert computes == [0, 0]  # the targets' compute, then the one pass over X
    assert sorted(reads) == sorted(X[::500, 0])
    assert_same_fit(lazy, reference)


def test_iterative_methods_and_in_memory_targets_unchanged():
    X, y = concept_data(9)
    on_dask = lazy_X(X, 400)
    with pytest.raises(ValueError, match="trains classifiers on the rows"):
        LinearConceptEraser(method="inlp").fit(on_dask, da.from_array(y, chunks=400))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = LinearConceptEraser().fit(on_dask, y)
    np.testing.assert_array_equal(fitted.classes_, np.unique(y))


def test_lazy_targets_are_not_counted_in_the_client_memory_check(monkeypatch):
    # With y lazy the client holds nothing per row: the memory check counts
    # the largest block only. With y in memory it also counts 48 bytes a row.
    from skembed.utils import _memory
    from skembed.utils._memory import InsufficientMemoryError

    n_rows = 1_000_000
    X = da.random.RandomState(0).normal(size=(n_rows, 4), chunks=(100_000, 4))
    labels = np.random.RandomState(1).randint(2, size=n_rows)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 40 * 2**20)
    with pytest.raises(InsufficientMemoryError, match=r"LinearConceptEraser\.fit"):
        LinearConceptEraser().fit(X, labels)
    eraser = LinearConceptEraser().fit(X, da.from_array(labels, chunks=100_000))
    assert eraser.n_features_in_ == 4
