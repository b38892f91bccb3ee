"""Dask arrays: lazy fits equal to the in-memory ones, blockwise transforms, clear refusals.

Run on dask's synchronous scheduler (deterministic, in process); one test
starts a real ``distributed.LocalCluster`` when distributed is installed.
"""

import numpy as np
import pytest
from sklearn.base import clone

from skembed import (
    LinearConceptEraser,
    NNPreservingReducer,
    RelativeRepresentation,
    SensitivitySampler,
    SubspaceClusterer,
)
from skembed.relative import LatentTranslator
from skembed.utils._dask import NonFiniteBlockError

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

# Row chunkings a user may hand us: even, uneven, a chunk of one row, and
# columns split in two (rechunked to whole rows internally).
CHUNKINGS = {
    "even": lambda n, d: (n // 4 + 1, d),
    "uneven": lambda n, d: ((1, 2, n - 403, 400), (d,)),
    "split-columns": lambda n, d: ((n // 2, n - n // 2), (d // 2, d - d // 2)),
}


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture
def refuse_materialising(monkeypatch):
    """Make reading a whole dask array into NumPy fail, as memory would."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("a dask array was converted to NumPy")

    monkeypatch.setattr(da.Array, "__array__", refuse)


def concept_data(seed, n=2_000, d=12, dtype=np.float64, n_classes=3):
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 5.0
    X[:, :2] += y[:, None] * 0.7
    return X.astype(dtype), y


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["leace", "orth", "splice"])
def test_eraser_on_dask_equals_in_memory(method, dtype, chunking, refuse_materialising):
    X, y = concept_data(0, dtype=dtype)
    rng = np.random.RandomState(1)
    weights = rng.uniform(0.5, 2.0, size=len(y))
    weights[::9] = 0.0
    extra = {}
    if method == "splice":
        extra["target"] = (X[:, 5] > np.median(X[:, 5])).astype(int)
    lazy = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    on_dask = LinearConceptEraser(method=method).fit(lazy, y, sample_weight=weights, **extra)
    in_memory = LinearConceptEraser(method=method).fit(X, y, sample_weight=weights, **extra)
    # The moments are accumulated in float64 either way: the fitted maps agree
    # to rounding whatever the dtype.
    np.testing.assert_allclose(on_dask.projection_, in_memory.projection_, atol=1e-10)
    np.testing.assert_allclose(on_dask.mean_, in_memory.mean_, rtol=1e-10)
    assert on_dask.rank_ == in_memory.rank_
    out = on_dask.transform(lazy)
    assert isinstance(out, da.Array) and out.dtype == dtype and out.shape == X.shape
    expected = in_memory.transform(X)
    computed = out.compute()
    assert computed.dtype == dtype
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(computed, expected, rtol=tolerance, atol=tolerance)


def test_eraser_guard_holds_on_the_dask_output():
    X, y = concept_data(2, n=3_000)
    lazy = da.from_array(X, chunks=(700, X.shape[1]))
    erased = LinearConceptEraser().fit(lazy, y).transform(lazy).compute()
    one_hot = (y[:, None] == np.unique(y)[None, :]).astype(float)
    cross = (erased - erased.mean(axis=0)).T @ (one_hot - one_hot.mean(axis=0)) / len(y)
    assert np.abs(cross).max() < 1e-10 * np.abs(X).max()


def test_labels_and_weights_may_be_dask_arrays():
    X, y = concept_data(3)
    lazy = da.from_array(X, chunks=(500, X.shape[1]))
    weights = np.linspace(0.0, 2.0, len(y))
    expected = LinearConceptEraser().fit(X, y, sample_weight=weights).projection_
    fitted = LinearConceptEraser().fit(
        lazy, da.from_array(y, chunks=300), sample_weight=da.from_array(weights, chunks=700)
    )
    np.testing.assert_allclose(fitted.projection_, expected, atol=1e-10)


def test_continuous_concept_on_dask():
    X, _ = concept_data(4)
    concept = X[:, :2] @ np.array([[1.0], [-0.5]])
    lazy = da.from_array(X, chunks=(333, X.shape[1]))
    expected = LinearConceptEraser().fit(X, concept).projection_
    np.testing.assert_allclose(LinearConceptEraser().fit(lazy, concept).projection_, expected,
                               atol=1e-10)


def test_partial_fit_mixes_dask_and_numpy_batches():
    X, y = concept_data(5)
    eraser = LinearConceptEraser()
    eraser.partial_fit(da.from_array(X[:1200], chunks=(250, X.shape[1])), y[:1200],
                       classes=np.unique(y))
    eraser.partial_fit(X[1200:], y[1200:])
    np.testing.assert_allclose(eraser.projection_, LinearConceptEraser().fit(X, y).projection_,
                               atol=1e-10)


def test_integer_dask_input_becomes_float64():
    X, y = concept_data(6)
    integers = np.round(X * 10).astype(np.int64)
    fitted = LinearConceptEraser().fit(da.from_array(integers, chunks=(600, X.shape[1])), y)
    np.testing.assert_allclose(fitted.projection_,
                               LinearConceptEraser().fit(integers, y).projection_, atol=1e-10)


def test_nan_in_a_block_is_a_named_error_raised_during_the_fit():
    X, y = concept_data(7)
    X[1500, 3] = np.nan
    lazy = da.from_array(X, chunks=(400, X.shape[1]))
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*NaN or infinity"):
        LinearConceptEraser().fit(lazy, y)
    fitted = LinearConceptEraser().fit(X[:1000], y[:1000])
    out = fitted.transform(lazy)  # lazy: nothing read yet
    with pytest.raises(NonFiniteBlockError, match=r"LinearConceptEraser\.transform"):
        out.compute()


@pytest.mark.parametrize("method", ["inlp", "rlace"])
def test_iterative_eraser_refuses_dask(method):
    X, y = concept_data(8)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*'leace', 'orth'"):
        LinearConceptEraser(method=method).fit(da.from_array(X, chunks=500), y)


def test_shape_errors_come_before_any_read(refuse_materialising):
    X, y = concept_data(9)
    fitted = LinearConceptEraser().fit(X, y)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.transform: X has 11 features"):
        fitted.transform(da.from_array(X[:, :11], chunks=500))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples"):
        LinearConceptEraser().fit(da.from_array(X, chunks=500), y[:-1])
    unknown = da.from_array(X, chunks=500)
    unknown = unknown[unknown[:, 0] > -1e9]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        LinearConceptEraser().fit(unknown, y)
    with pytest.raises(ValueError, match=r"minimum of 2"):
        LinearConceptEraser().fit(da.from_array(X[:1], chunks=1), y[:1])


@pytest.mark.parametrize(
    "estimator",
    [
        RelativeRepresentation(12, similarity=["cosine", "euclidean", "basis"], whiten=True,
                               normalize="standard", random_state=0),
        RelativeRepresentation(12, similarity="l1", random_state=0),
        NNPreservingReducer(n_components=4, random_state=0),
        NNPreservingReducer(n_components=4, metric="cosine", random_state=0),
    ],
    ids=["relative-whitened", "relative-l1", "reducer", "reducer-cosine"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_is_blockwise_and_equal(estimator, dtype, refuse_materialising):
    X, _ = concept_data(10, n=900, d=10, dtype=dtype)
    fitted = clone(estimator).fit(X)
    lazy = da.from_array(X, chunks=((1, 499, 400), (10,)))
    out = fitted.transform(lazy)
    assert isinstance(out, da.Array) and out.dtype == dtype
    expected = fitted.transform(X)
    tolerance = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.compute(), expected, rtol=tolerance, atol=tolerance)


def test_translator_transform_is_blockwise():
    rng = np.random.RandomState(11)
    source = rng.normal(size=(200, 8))
    translator = LatentTranslator().fit(source, source @ rng.normal(size=(8, 5)))
    X = rng.normal(size=(700, 8))
    out = translator.transform(da.from_array(X, chunks=(128, 8)))
    np.testing.assert_allclose(out.compute(), translator.transform(X), atol=1e-12)


def test_top_k_refuses_dask():
    X, _ = concept_data(12, n=300, d=6)
    fitted = RelativeRepresentation(10, top_k=3, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"RelativeRepresentation\.transform: top_k"):
        fitted.transform(da.from_array(X, chunks=100))


@pytest.mark.parametrize(
    "estimator, method",
    [
        (SensitivitySampler(n_samples=10, method="sensitivity"), "fit"),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else value,
)
def test_paths_without_dask_support_refuse_instead_of_materialising(
    estimator, method, refuse_materialising
):
    X, y = concept_data(13, n=200, d=6)
    lazy = da.from_array(X, chunks=50)
    name = type(estimator).__name__
    with pytest.raises(ValueError, match=rf"{name}\.{method}: (X is a dask array|method=)"):
        getattr(clone(estimator), method)(lazy)


def test_real_cluster_runs_an_eraser():
    distributed = pytest.importorskip("distributed")
    X, y = concept_data(14, n=4_000, d=16, dtype=np.float32)
    lazy = da.from_array(X, chunks=(1_000, 16))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        fitted = LinearConceptEraser().fit(lazy, y)
        erased = fitted.transform(lazy).compute()
    expected = LinearConceptEraser().fit(X, y)
    np.testing.assert_allclose(fitted.projection_, expected.projection_, atol=1e-10)
    np.testing.assert_allclose(erased, expected.transform(X), rtol=1e-4, atol=1e-4)


def regression_data(seed, n=6_000, d=5):
    rng = np.random.RandomState(seed)
    X = rng.standard_t(3, size=(n, d)) * np.logspace(-3, 3, d)
    y = X @ rng.normal(size=d) + rng.standard_t(2, size=n)
    return X, y


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize(
    "method, p", [("leverage", 2.0), ("root_leverage", 1.0), ("lewis", 1.0), ("lewis", 3.0),
                  ("uniform", 2.0)]
)
def test_sampler_scores_and_draw_equal_in_memory(method, p, chunking, refuse_materialising):
    X, y = regression_data(20)
    weights = np.random.RandomState(21).uniform(0, 2, size=len(y))
    weights[::11] = 0.0
    params = {"method": method, "p": p, "n_samples": 300, "random_state": 3, "tol": 1e-10,
              "max_iter": 500}
    lazy = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    on_dask = SensitivitySampler(**params).fit(lazy, y, sample_weight=weights)
    in_memory = SensitivitySampler(**params, solver="exact").fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(on_dask.scores_, in_memory.scores_, rtol=1e-8,
                               atol=1e-12 * in_memory.scores_.max())
    # The draw is made from the scores in memory: the same seed gives the
    # same rows under any chunking.
    np.testing.assert_array_equal(on_dask.sample_indices_, in_memory.sample_indices_)
    np.testing.assert_allclose(on_dask.sample_weight_, in_memory.sample_weight_, rtol=1e-8)


def test_sampler_fit_resample_returns_the_rows_in_memory():
    X, y = regression_data(22, n=3_000)
    sampler = SensitivitySampler(method="leverage", n_samples=200, random_state=0)
    X_small, y_small = sampler.fit_resample(da.from_array(X, chunks=700),
                                            da.from_array(y, chunks=500))
    assert isinstance(X_small, np.ndarray) and isinstance(y_small, np.ndarray)
    np.testing.assert_array_equal(X_small, X[sampler.sample_indices_])
    np.testing.assert_array_equal(y_small, y[sampler.sample_indices_])


@pytest.mark.parametrize("method", ["sensitivity", "hybrid"])
def test_per_row_programs_refuse_dask(method):
    X, y = regression_data(23, n=500)
    with pytest.raises(ValueError, match=rf"SensitivitySampler\.fit: method='{method}'"):
        SensitivitySampler(method=method).fit(da.from_array(X, chunks=100), y)


def test_coreset_on_dask_fits_the_same_model_and_predicts_blockwise(refuse_materialising):
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from skembed import CoresetEstimator

    X, y = regression_data(24)
    lazy = da.from_array(X, chunks=(1_000, X.shape[1]))
    on_dask = CoresetEstimator(LinearRegression(), random_state=0).fit(lazy, y)
    in_memory = CoresetEstimator(LinearRegression(), random_state=0).fit(X, y)
    np.testing.assert_allclose(on_dask.estimator_.coef_, in_memory.estimator_.coef_,
                               rtol=1e-8)
    predicted = on_dask.predict(lazy)
    assert isinstance(predicted, da.Array) and predicted.shape == (len(y),)
    np.testing.assert_allclose(predicted.compute(), in_memory.predict(X), rtol=1e-8, atol=1e-8)
    labels = (y > np.median(y)).astype(int)
    classifier = CoresetEstimator(LogisticRegression(), random_state=0).fit(lazy, labels)
    assert classifier.predict_proba(lazy).compute().shape == (len(y), 2)


@pytest.mark.parametrize("kind, n_passes, max_reads", [
    ("least_squares", 1, 1), ("quantile", 3, 4), ("logistic", 6, 12),
])
def test_coreset_refine_on_dask_equals_in_memory(kind, n_passes, max_reads, monkeypatch,
                                                  refuse_materialising):
    # Each refinement pass is one blockwise reduction (one dask.compute);
    # the coefficients equal the in-memory refinement's, chunks uneven.
    import dask
    from sklearn.linear_model import (
        LinearRegression,
        LogisticRegression,
        QuantileRegressor,
    )

    from skembed import CoresetEstimator

    X, y = regression_data(25)
    X[:, 1] *= 1e-9
    lazy = da.from_array(X.astype(np.float32).astype(np.float64),
                         chunks=((1, 999, 2_500, 2_500), (X.shape[1],)))
    X = lazy.compute()
    model, target = {
        "least_squares": (LinearRegression(), y),
        "quantile": (QuantileRegressor(alpha=0, solver="highs"), y),
        "logistic": (LogisticRegression(), (y > np.median(y)).astype(int)),
    }[kind]
    computes = []
    compute = dask.compute
    monkeypatch.setattr(dask, "compute", lambda *a, **k: computes.append(1) or compute(*a, **k))
    plain = CoresetEstimator(model, random_state=0).fit(lazy, target)
    reads_without_refine = len(computes)
    on_dask = CoresetEstimator(model, refine=n_passes, random_state=0).fit(lazy, target)
    assert 1 <= len(computes) - 2 * reads_without_refine <= max_reads
    in_memory = CoresetEstimator(model, refine=n_passes, random_state=0).fit(X, target)
    np.testing.assert_allclose(on_dask.estimator_.coef_, in_memory.estimator_.coef_,
                               rtol=1e-7)
    assert np.ravel(on_dask.estimator_.coef_)[1] != np.ravel(plain.estimator_.coef_)[1]
    if kind == "least_squares":
        # The exact fit in comparable units (LinearRegression's lstsq cutoff
        # drops the 1e-11 column as numerically zero).
        units = X.std(axis=0)
        exact = LinearRegression().fit(X / units, y)
        np.testing.assert_allclose(on_dask.estimator_.coef_, exact.coef_ / units, rtol=1e-9)
        assert on_dask.estimator_.intercept_ == pytest.approx(exact.intercept_, rel=1e-9)


def test_uniform_sampling_still_checks_every_block():
    X, _ = regression_data(30, n=400)
    X[-1, 0] = np.nan
    with pytest.raises(ValueError, match=r"SensitivitySampler\.fit: .*NaN or infinity"):
        SensitivitySampler(50, method="uniform").fit_resample(da.from_array(X, chunks=41))


def test_coreset_checks_each_block_once_and_names_itself(monkeypatch):
    from sklearn.linear_model import LinearRegression

    from skembed import CoresetEstimator
    from skembed.utils import _dask

    X, y = regression_data(31, n=3_000)
    X[2_500, 1] = np.nan
    checked = []
    check = _dask._check_finite_block
    monkeypatch.setattr(_dask, "_check_finite_block",
                        lambda block, caller: (block.size and checked.append(
                            (caller, float(block[0, 0])))) or check(block, caller))
    with pytest.raises(ValueError, match=r"^CoresetEstimator\.fit: Input X contains NaN") as info:
        CoresetEstimator(LinearRegression(), random_state=0).fit(
            da.from_array(X, chunks=500), y)
    assert "SensitivitySampler" not in str(info.value)
    # The first pass stops at the bad block (the scheduler decides which
    # blocks come before it): each block checked once, by the coreset.
    firsts = [first for _, first in checked]
    assert len(firsts) == len(set(firsts)) and float(X[2_500, 0]) in firsts
    assert {caller for caller, _ in checked} == {"CoresetEstimator.fit"}


def test_a_dask_dataframe_is_refused_with_the_conversion_to_use():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = concept_data(31, n=200, d=4)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*to_dask_array"):
        LinearConceptEraser().fit(frame, y)


def test_unknown_column_count_is_a_named_error():
    X, y = concept_data(32, n=100, d=4)
    unknown = da.from_delayed(dask.delayed(lambda: X)(), shape=(100, np.nan), dtype=float)
    with pytest.raises(ValueError, match=r"LinearConceptEraser\.fit: .*columns is unknown"):
        LinearConceptEraser().fit(unknown, y)


# ---------------------------------------------------------------------------
# SubspaceClusterer: a fit on a sample read in one compute, labels blockwise
# ---------------------------------------------------------------------------

#: Fast settings (LSR in closed form, few k-means restarts); the sample path
#: is the same for every method.
CLUSTERER = {"n_clusters": 3, "method": "lsr", "n_init": 3, "random_state": 0}


def subspace_data(seed, n=600, d=12, dtype=np.float64):
    from skembed.datasets import make_subspaces

    X, y = make_subspaces(n_samples=n, n_features=d, n_subspaces=3, subspace_dim=2,
                          noise=0.01, random_state=seed)
    return X.astype(dtype), y


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clusterer_sample_fit_on_dask_equals_in_memory(dtype, chunking, refuse_materialising):
    X, y = subspace_data(40, dtype=dtype)
    lazy = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    on_dask = SubspaceClusterer(**CLUSTERER, max_samples=150).fit(lazy)
    in_memory = SubspaceClusterer(**CLUSTERER, max_samples=150).fit(X)
    assert on_dask.sample_indices_.shape == (150,)
    np.testing.assert_array_equal(on_dask.sample_indices_, in_memory.sample_indices_)
    # The sample is clustered from the same float64 rows: the same bits.
    assert (on_dask.representation_matrix_ != in_memory.representation_matrix_).nnz == 0
    for basis, expected in zip(on_dask.subspace_bases_, in_memory.subspace_bases_):
        np.testing.assert_array_equal(basis, expected)
    labels = on_dask.labels_
    assert isinstance(labels, da.Array) and labels.chunks == (lazy.chunks[0],)
    computed = labels.compute()
    np.testing.assert_array_equal(computed, in_memory.labels_)
    # labels_ = predict(X), and the sample fit is the fit of those rows.
    np.testing.assert_array_equal(computed, in_memory.predict(X))
    of_the_rows = SubspaceClusterer(**CLUSTERER, max_samples=None).fit(
        X[on_dask.sample_indices_])
    np.testing.assert_array_equal(computed, of_the_rows.predict(X))
    from skembed.metrics import clustering_accuracy

    assert clustering_accuracy(y, computed) > 0.95


def test_clusterer_sample_does_not_depend_on_the_chunking():
    X, _ = subspace_data(41, n=500)
    fits = [SubspaceClusterer(**CLUSTERER, max_samples=100).fit(da.from_array(X, chunks=chunks))
            for chunks in [(500, 12), (97, 12), ((1, 1, 498), (12,)), ((250, 250), (5, 7))]]
    for fitted in fits[1:]:
        np.testing.assert_array_equal(fitted.sample_indices_, fits[0].sample_indices_)
        np.testing.assert_array_equal(fitted.labels_.compute(), fits[0].labels_.compute())
    other_seed = SubspaceClusterer(**{**CLUSTERER, "random_state": 1}, max_samples=100)
    assert not np.array_equal(other_seed.fit(da.from_array(X, chunks=97)).sample_indices_,
                              fits[0].sample_indices_)


def test_clusterer_reads_a_small_dask_array_whole(refuse_materialising):
    # 300 rows <= max_samples="auto" (10,000 on dask): every row is clustered,
    # and labels_ are the spectral step's, as a dask array of X's row chunks.
    X, _ = subspace_data(42, n=300)
    lazy = da.from_array(X, chunks=((1, 149, 150), (12,)))
    on_dask = SubspaceClusterer(**CLUSTERER).fit(lazy)
    in_memory = SubspaceClusterer(**CLUSTERER).fit(X)
    assert on_dask.sample_indices_ is None and in_memory.sample_indices_ is None
    assert isinstance(on_dask.labels_, da.Array) and on_dask.labels_.chunks == lazy.chunks[:1]
    np.testing.assert_array_equal(on_dask.labels_.compute(), in_memory.labels_)
    predicted = clone(on_dask).fit_predict(lazy)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), in_memory.labels_)


@pytest.mark.parametrize(
    "params",
    [{}, {"affine": True}, {"out_of_sample": "collaborative"},
     {"method": "omp", "out_of_sample": "collaborative", "collaborative_alpha": 0.1}],
    ids=["basis", "affine-basis", "collaborative", "omp-collaborative"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clusterer_predict_is_blockwise_for_every_rule(params, dtype, refuse_materialising):
    X, _ = subspace_data(43, n=400, dtype=dtype)
    fitted = SubspaceClusterer(**{**CLUSTERER, **params}).fit(X[:200])
    lazy = da.from_array(X, chunks=((1, 2, 197, 200), (12,)))
    out = fitted.predict(lazy)
    assert isinstance(out, da.Array) and out.dtype == np.intp and out.shape == (400,)
    assert out.chunks == lazy.chunks[:1]
    np.testing.assert_array_equal(out.compute(), fitted.predict(X))


def test_clusterer_nan_in_any_block_is_a_named_error_of_fit_and_predict():
    X, _ = subspace_data(44, n=500)
    fitted = SubspaceClusterer(**CLUSTERER, max_samples=50).fit(X)
    unsampled = np.setdiff1d(np.arange(500), fitted.sample_indices_)
    for row in (fitted.sample_indices_[7], unsampled[-1]):  # in the sample or not
        corrupted = X.copy()
        corrupted[row, 3] = np.nan
        lazy = da.from_array(corrupted, chunks=(60, 12))
        with pytest.raises(ValueError, match=r"SubspaceClusterer\.fit: .*NaN or infinity"):
            SubspaceClusterer(**CLUSTERER, max_samples=50).fit(lazy)
        labels = fitted.predict(lazy)  # lazy: nothing read yet
        with pytest.raises(NonFiniteBlockError, match=r"SubspaceClusterer\.predict"):
            labels.compute()


def test_clusterer_sample_needs_a_point_per_cluster():
    X, _ = subspace_data(45, n=100)
    with pytest.raises(ValueError, match=r"SubspaceClusterer\.fit: max_samples=2 .*max_samples >= 3"):
        SubspaceClusterer(**CLUSTERER, max_samples=2).fit(da.from_array(X, chunks=50))
    with pytest.raises(ValueError, match=r"SubspaceClusterer\.predict: X has 11 features"):
        SubspaceClusterer(**CLUSTERER).fit(X).predict(da.from_array(X[:, :11], chunks=50))


def test_clusterer_memory_check_counts_the_sample(monkeypatch):
    import skembed.cluster._subspace_clusterer as clusterer_module
    from skembed.utils import InsufficientMemoryError, _memory

    def no_read(*args, **kwargs):
        raise AssertionError("the memory check passed")

    monkeypatch.setattr(clusterer_module, "read_rows", no_read)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 2**30)
    # 2,000,000 x 50, never read. LSR holds 8 dense n x n float64 matrices:
    # on every row, 233 TiB; on the default sample of a dense method (5,000
    # rows), 1.5 GiB; on 2,000 rows, 244 MiB, within the 1 GiB said free.
    lazy = da.zeros((2_000_000, 50), chunks=(100_000, 50))
    with pytest.raises(InsufficientMemoryError, match=r"SubspaceClusterer\.fit: .*max_samples"):
        SubspaceClusterer(n_clusters=3, method="lsr", max_samples=None).fit(lazy)
    with pytest.raises(InsufficientMemoryError, match=r"fitting 2,000,000 x 50"):
        SubspaceClusterer(n_clusters=3, method="lsr").fit(lazy)
    with pytest.raises(AssertionError, match="memory check passed"):
        SubspaceClusterer(n_clusters=3, method="lsr", max_samples=2_000).fit(lazy)
    # In memory, an int max_samples counts the sample's fit and the blocked predict.
    from skembed.utils import estimate_fit_memory

    sampled = estimate_fit_memory(SubspaceClusterer(method="lsr", max_samples=2_000),
                                  2_000_000, 50)
    assert sampled < 2**30 < estimate_fit_memory(SubspaceClusterer(method="lsr"), 2_000_000, 50)


@pytest.mark.parametrize("method", ["omp", "ensc"])
def test_joblib_dask_backend_gives_the_same_clustering(method):
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    # n_jobs=2 cuts the points into 8 chunks, the tasks either backend runs;
    # gamma=20 keeps the elastic nets sparse and fast (omp ignores it).
    X, _ = subspace_data(46, n=240, d=30)
    params = {"n_clusters": 3, "method": method, "gamma": 20.0, "n_init": 3, "random_state": 0,
              "n_jobs": 2}
    default = SubspaceClusterer(**params).fit(X)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=None), joblib.parallel_config(backend="dask"):
        on_cluster = SubspaceClusterer(**params).fit(X)
    np.testing.assert_array_equal(on_cluster.labels_, default.labels_)
    # The same coefficients up to the rounding of the solver's reductions,
    # which older joblib/dask releases schedule in another order.
    difference = abs(on_cluster.representation_matrix_ - default.representation_matrix_)
    assert difference.max() <= 1e-8 * abs(default.representation_matrix_).max()


def test_lewis_sample_is_the_same_on_dask_above_the_sketch_threshold():
    # In memory above 50,000 rows the Lewis basis is sketched, which consumed
    # numbers of the seed's stream before the draw: the dask path (exact
    # basis) drew other rows for the same seed.
    X = np.random.RandomState(0).standard_normal((60_000, 6))
    in_memory = SensitivitySampler(500, p=1, random_state=0).fit(X)
    on_dask = SensitivitySampler(500, p=1, random_state=0).fit(da.from_array(X, chunks=10_000))
    assert in_memory.solvers_ != on_dask.solvers_  # sketched vs exact basis
    np.testing.assert_array_equal(in_memory.sample_indices_, on_dask.sample_indices_)


def test_metrics_refuse_dask_arrays_instead_of_reading_them_whole(refuse_materialising):
    from skembed.metrics import guardedness_report, knn_recall

    X = da.from_array(np.random.RandomState(0).normal(size=(500, 6)), chunks=100)
    with pytest.raises(ValueError, match=r"^knn_recall: X_reference is a dask Array"):
        knn_recall(X, X[:, :3])
    with pytest.raises(ValueError, match=r"guardedness_report: X_erased is a dask Array"):
        guardedness_report(X, np.arange(500) % 2)


def test_a_failed_dask_refit_leaves_the_estimator_as_it_was():
    # The NaN of a block is found inside the fit's compute, after validation
    # set n_features_in_ for the new data: the old model sat beside the new
    # width, refusing the data it was fitted on.
    from sklearn.linear_model import LinearRegression

    from skembed import CoresetEstimator

    rng = np.random.RandomState(0)
    X6, y = rng.normal(size=(3_000, 6)), rng.randint(2, size=3_000)
    X8 = rng.normal(size=(3_000, 8))
    X8[2_900, 3] = np.nan
    lazy8 = da.from_array(X8, chunks=500)
    cases = [
        (NNPreservingReducer(2, max_iter=2, random_state=0), (X6,), (lazy8,), "transform"),
        (RelativeRepresentation(10, random_state=0), (X6,), (lazy8,), "transform"),
        (CoresetEstimator(LinearRegression(), sampler=SensitivitySampler(500, random_state=0)),
         (X6, y.astype(float)), (lazy8, y.astype(float)), "predict"),
        (SubspaceClusterer(2, method="lsr", random_state=0), (X6,), (lazy8,), "predict"),
    ]
    for estimator, fit_args, bad_args, method in cases:
        expected = getattr(estimator.fit(*fit_args), method)(X6)
        with pytest.raises(ValueError, match="NaN or infinity"):
            estimator.fit(*bad_args)
        assert estimator.n_features_in_ == 6
        np.testing.assert_array_equal(getattr(estimator, method)(X6), expected)
