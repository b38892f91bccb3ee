"""Dask arrays in ``fit`` of RelativeRepresentation and NNPreservingReducer (issue 16).

RelativeRepresentation reduces what is a sum exactly, blockwise (the scale,
the whitening moments, the output statistics) and gathers the rows it needs
(the anchors, or the sample "kmeans" and "fps" choose among);
NNPreservingReducer fits on a random sample of rows. Both must equal the
in-memory fit of the same rows whatever the chunking, read each block once
per compute, and never read the whole array. Dask's synchronous scheduler
keeps every run deterministic and in process.
"""

from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone

from skembed import NNPreservingReducer, RelativeRepresentation
from skembed.utils import InsufficientMemoryError
from skembed.utils._dask import NonFiniteBlockError, lazy_rows, read_rows, tree_reduce

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

#: Awkward row chunkings: uneven (with chunks of one and two rows), and one
#: row per chunk; columns split in two (rechunked to whole rows internally).
CHUNKINGS = {
    "uneven": lambda n, d: ((1, 2, n - 103, 100), (d,)),
    "one-row": lambda n, d: ((1,) * n, (d,)),
    "split-columns": lambda n, d: ((n // 3, n - n // 3), (d // 2, d - d // 2)),
}


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture
def refuse_materialising(monkeypatch):
    """Reading a whole dask array into NumPy fails, as memory would."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("a whole dask array was read into memory")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    monkeypatch.setattr(da.Array, "compute", refuse)


def embeddings(seed, n=240, d=8, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0
    return X.astype(dtype)


def counted(X, chunks):
    """X as a dask array, and a Counter of the reads of each of its blocks."""
    reads = Counter()

    def note(block, block_info=None):
        reads[block_info[0]["chunk-location"]] += 1
        return block

    lazy = da.from_array(X, chunks=chunks)
    return lazy.map_blocks(note, dtype=X.dtype, meta=np.empty((0, 0), X.dtype)), reads


def assert_close(actual, expected, rtol):
    if expected is None:
        assert actual is None
        return
    scale = max(np.abs(expected).max(), np.finfo(np.float64).tiny)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# ---------------------------------------------------------------------------
# The shared helper
# ---------------------------------------------------------------------------


def test_read_rows_gathers_any_rows_and_reads_every_block_once():
    X = embeddings(0, n=50, d=3)
    lazy, reads = counted(X, ((1, 9, 20, 20), (3,)))
    indices = np.array([49, 0, 7, 7, 30])  # any order, repeats
    np.testing.assert_array_equal(read_rows(lazy, indices), X[indices])
    assert len(reads) == 4 and set(reads.values()) == {1}  # block 2 holds none of them
    np.testing.assert_array_equal(read_rows(lazy, None), X)
    # Beside another reduction of the blocks: one compute, one read each.
    sums = [dask.delayed(np.sum)(block) for block in lazy.to_delayed().ravel()]
    rows, total = dask.compute(lazy_rows(lazy, np.arange(10, 40)), tree_reduce(sums, np.add))
    np.testing.assert_array_equal(rows, X[10:40])
    assert total == pytest.approx(X.sum()) and set(reads.values()) == {3}


# ---------------------------------------------------------------------------
# RelativeRepresentation
# ---------------------------------------------------------------------------

RELATIVE = {
    "whitened-list-standard": dict(n_anchors=10, similarity=["cosine", "euclidean", "basis"],
                                   whiten=True, shrinkage=True, normalize="standard"),
    "l1-standard": dict(n_anchors=10, similarity="l1", normalize="standard", center=False),
    "explicit-unsorted": dict(anchors=[40, 3, 0, 99, 7], similarity="euclidean"),
    "kmeans-sample": dict(n_anchors=8, anchors="kmeans", max_samples=90, whiten=True),
    "fps-sample": dict(n_anchors=8, anchors="fps", max_samples=90, similarity="cosine"),
}


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", list(RELATIVE.values()), ids=list(RELATIVE))
def test_relative_fit_on_dask_equals_in_memory(params, dtype, chunking, refuse_materialising):
    X = embeddings(1, n=100 if chunking == "one-row" else 240, dtype=dtype)
    lazy = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    on_dask = RelativeRepresentation(**params, random_state=0).fit(lazy)
    in_memory = RelativeRepresentation(**params, random_state=0).fit(X)
    np.testing.assert_array_equal(on_dask.anchor_indices_, in_memory.anchor_indices_)
    np.testing.assert_array_equal(on_dask.anchors_, in_memory.anchors_)
    np.testing.assert_array_equal(on_dask.center_, in_memory.center_)
    if in_memory.sample_indices_ is None:
        assert on_dask.sample_indices_ is None
    else:
        np.testing.assert_array_equal(on_dask.sample_indices_, in_memory.sample_indices_)
    # The scale and the whitening moments are float64 either way (float32
    # rows are read exactly); the output statistics average representations
    # computed in X's dtype.
    np.testing.assert_array_equal(on_dask._column_exponents, in_memory._column_exponents)
    assert_close(on_dask.whitening_, in_memory.whitening_, 1e-10)
    assert on_dask.shrinkage_ == pytest.approx(in_memory.shrinkage_, rel=1e-10)
    statistics = 1e-10 if dtype == np.float64 else 1e-5
    assert_close(on_dask.output_mean_, in_memory.output_mean_, statistics)
    assert_close(on_dask.output_scale_, in_memory.output_scale_, statistics)
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    assert_close(on_dask.transform(X), in_memory.transform(X), tolerance)


@pytest.mark.parametrize("strategy", ["kmeans", "fps"])
def test_relative_anchors_are_those_of_the_sample(strategy):
    X = embeddings(2)
    params = dict(n_anchors=6, anchors=strategy, whiten=True, random_state=3)
    fitted = RelativeRepresentation(**params, max_samples=70).fit(
        da.from_array(X, chunks=(50, 8)))
    assert fitted.sample_indices_.shape == (70,)
    assert np.all(np.diff(fitted.sample_indices_) > 0)
    of_the_sample = RelativeRepresentation(**params, max_samples=None).fit(
        X[fitted.sample_indices_])
    np.testing.assert_array_equal(fitted.anchor_indices_,
                                  fitted.sample_indices_[of_the_sample.anchor_indices_])
    # Only the anchors come from the sample: the whitening is that of every row.
    every_row = RelativeRepresentation(**params, max_samples=None).fit(X)
    assert_close(fitted.whitening_, every_row.whitening_, 1e-10)


@pytest.mark.parametrize("strategy", ["kmeans", "fps"])
def test_relative_sample_does_not_depend_on_the_chunking(strategy):
    X = embeddings(4, n=200)
    params = dict(n_anchors=5, anchors=strategy, max_samples=60, random_state=7)
    fits = [RelativeRepresentation(**params).fit(da.from_array(X, chunks=chunks))
            for chunks in [(200, 8), (33, 8), ((1, 1, 198), (8,)), ((100, 100), (3, 5))]]
    for fitted in fits[1:]:
        np.testing.assert_array_equal(fitted.sample_indices_, fits[0].sample_indices_)
        np.testing.assert_array_equal(fitted.anchor_indices_, fits[0].anchor_indices_)
    other_seed = RelativeRepresentation(**{**params, "random_state": 8})
    assert not np.array_equal(other_seed.fit(da.from_array(X, chunks=33)).sample_indices_,
                              fits[0].sample_indices_)


def test_relative_dask_fit_reads_each_block_once_per_compute(refuse_materialising):
    X = embeddings(5)
    lazy, reads = counted(X, ((1, 2, 137, 100), (8,)))
    RelativeRepresentation(10, whiten=True, random_state=0).fit(lazy)
    assert len(reads) == 4 and set(reads.values()) == {1}
    reads.clear()
    RelativeRepresentation(10, normalize="standard", random_state=0).fit(lazy)
    assert set(reads.values()) == {2}  # the output statistics need the anchors first


def test_relative_empty_blocks_are_read_as_no_rows():
    X = embeddings(16)
    params = dict(n_anchors=7, similarity=["cosine", "l1"], whiten=True, normalize="standard",
                  random_state=0)
    on_dask = RelativeRepresentation(**params).fit(da.from_array(X, chunks=((0, 140, 0, 100),
                                                                            (8,))))
    in_memory = RelativeRepresentation(**params).fit(X)
    assert_close(on_dask.whitening_, in_memory.whitening_, 1e-10)
    assert_close(on_dask.output_mean_, in_memory.output_mean_, 1e-10)
    assert_close(on_dask.output_scale_, in_memory.output_scale_, 1e-10)


def test_relative_kmeans_reads_a_small_dask_array_whole():
    # 240 rows <= max_samples="auto" (20,000 on dask): every row is a
    # candidate, read once, and the fit is the in-memory one, bit for bit.
    X = embeddings(6)
    lazy, reads = counted(X, ((1, 139, 100), (8,)))
    params = dict(n_anchors=6, anchors="kmeans", whiten=True, random_state=0)
    on_dask = RelativeRepresentation(**params).fit(lazy)
    in_memory = RelativeRepresentation(**params).fit(X)
    assert on_dask.sample_indices_ is None and set(reads.values()) == {1}
    np.testing.assert_array_equal(on_dask.anchor_indices_, in_memory.anchor_indices_)
    np.testing.assert_array_equal(on_dask.whitening_, in_memory.whitening_)


def test_relative_stratified_reads_labels_and_anchor_rows(refuse_materialising):
    X = embeddings(7)
    y = np.arange(X.shape[0]) % 3
    lazy = da.from_array(X, chunks=(70, 8))
    on_dask = RelativeRepresentation(9, anchors="stratified", random_state=0).fit(
        lazy, da.from_array(y, chunks=50))
    in_memory = RelativeRepresentation(9, anchors="stratified", random_state=0).fit(X, y)
    np.testing.assert_array_equal(on_dask.anchor_indices_, in_memory.anchor_indices_)
    np.testing.assert_array_equal(on_dask.anchors_, in_memory.anchors_)


@pytest.mark.parametrize("params", [{}, {"whiten": True}, {"anchors": "fps", "max_samples": 30}],
                         ids=["random", "whitened", "fps-sample"])
def test_relative_nan_in_any_block_is_a_named_error(params):
    X = embeddings(8, n=200)
    fitted = RelativeRepresentation(5, random_state=0, **params).fit(X)
    row = np.setdiff1d(np.arange(200), fitted.anchor_indices_)[-1]  # not an anchor
    X[row, 2] = np.nan
    with pytest.raises(ValueError, match=r"RelativeRepresentation\.fit: .*NaN or infinity"):
        RelativeRepresentation(5, random_state=0, **params).fit(da.from_array(X, chunks=45))


def test_relative_max_samples_must_hold_the_anchors():
    X = embeddings(9, n=100)
    with pytest.raises(ValueError, match=r"RelativeRepresentation\.fit: max_samples=4 .*"
                                         r"max_samples >= 5"):
        RelativeRepresentation(5, anchors="kmeans", max_samples=4).fit(
            da.from_array(X, chunks=50))
    # The strategies that do not read the rows ignore it.
    fitted = RelativeRepresentation(5, max_samples=4, random_state=0).fit(X)
    assert fitted.sample_indices_ is None


def test_relative_memory_check_counts_the_sample(monkeypatch):
    import skembed.relative._relative as relative_module
    from skembed.utils import _memory

    def no_read(*args, **kwargs):
        raise AssertionError("the memory check passed")

    monkeypatch.setattr(relative_module, "dask_compute", no_read)
    monkeypatch.setattr(relative_module, "read_rows", no_read)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 2**30)
    # 2,000,000 x 50, never read: k-means on every row holds three copies
    # (2.2 GiB); on the default sample of 20,000 rows, 30 MiB.
    lazy = da.zeros((2_000_000, 50), chunks=(100_000, 50))
    with pytest.raises(InsufficientMemoryError, match=r"fitting 2,000,000 x 50 .*max_samples"):
        RelativeRepresentation(anchors="kmeans", max_samples=None).fit(lazy)
    with pytest.raises(AssertionError, match="memory check passed"):
        RelativeRepresentation(anchors="kmeans").fit(lazy)
    with pytest.raises(AssertionError, match="memory check passed"):
        RelativeRepresentation(whiten=True).fit(lazy)


# ---------------------------------------------------------------------------
# NNPreservingReducer
# ---------------------------------------------------------------------------

#: Fast settings: the PCA start and its held-out recall (the sample path is
#: the same for any number of epochs; one test runs one).
REDUCER = {"n_components": 3, "n_neighbors": 5, "max_iter": 0, "random_state": 0}


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reducer_sample_fit_on_dask_equals_in_memory(dtype, chunking, refuse_materialising):
    X = embeddings(10, n=100 if chunking == "one-row" else 240, dtype=dtype)
    lazy = da.from_array(X, chunks=CHUNKINGS[chunking](*X.shape))
    # One epoch once: the fit's random generator is that of X[sample_indices_].
    params = {**REDUCER, "max_samples": 60,
              "max_iter": 1 if chunking == "uneven" and dtype == np.float64 else 0}
    on_dask = NNPreservingReducer(**params).fit(lazy)
    in_memory = NNPreservingReducer(**params).fit(X)
    assert on_dask.sample_indices_.shape == (60,)
    assert np.all(np.diff(on_dask.sample_indices_) > 0)
    np.testing.assert_array_equal(on_dask.sample_indices_, in_memory.sample_indices_)
    # The same rows, in the same dtype: the same fit, bit for bit.
    np.testing.assert_array_equal(on_dask.components_, in_memory.components_)
    np.testing.assert_array_equal(on_dask.mean_, in_memory.mean_)
    assert on_dask.recall_history_ == in_memory.recall_history_
    of_the_rows = NNPreservingReducer(**{**params, "max_samples": None}).fit(
        X[on_dask.sample_indices_])
    np.testing.assert_array_equal(on_dask.components_, of_the_rows.components_)
    out = on_dask.transform(lazy)
    assert isinstance(out, da.Array)
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    (computed,) = dask.compute(out)
    np.testing.assert_allclose(computed, in_memory.transform(X), rtol=tolerance, atol=tolerance)


def test_reducer_sample_does_not_depend_on_the_chunking():
    X = embeddings(11, n=200)
    fits = [NNPreservingReducer(**REDUCER, max_samples=80).fit(da.from_array(X, chunks=chunks))
            for chunks in [(200, 8), (33, 8), ((1, 1, 198), (8,)), ((100, 100), (3, 5))]]
    for fitted in fits[1:]:
        np.testing.assert_array_equal(fitted.sample_indices_, fits[0].sample_indices_)
        np.testing.assert_array_equal(fitted.components_, fits[0].components_)
    other_seed = NNPreservingReducer(**{**REDUCER, "random_state": 1}, max_samples=80)
    assert not np.array_equal(other_seed.fit(da.from_array(X, chunks=33)).sample_indices_,
                              fits[0].sample_indices_)


def test_reducer_reads_a_small_dask_array_whole_once():
    # 240 rows <= max_samples="auto" (20,000 on dask): the in-memory fit.
    X = embeddings(12)
    lazy, reads = counted(X, ((1, 139, 100), (8,)))
    on_dask = NNPreservingReducer(**REDUCER).fit(lazy)
    assert on_dask.sample_indices_ is None and set(reads.values()) == {1}
    in_memory = NNPreservingReducer(**REDUCER).fit(X)
    np.testing.assert_array_equal(on_dask.components_, in_memory.components_)


def test_reducer_nan_in_any_block_is_a_named_error():
    X = embeddings(13, n=200)
    sample = NNPreservingReducer(**REDUCER, max_samples=50).fit(X).sample_indices_
    for row in (sample[3], np.setdiff1d(np.arange(200), sample)[-1]):  # sampled or not
        corrupted = X.copy()
        corrupted[row, 1] = np.inf
        with pytest.raises(ValueError, match=r"NNPreservingReducer\.fit: .*NaN or infinity"):
            NNPreservingReducer(**REDUCER, max_samples=50).fit(
                da.from_array(corrupted, chunks=45))
    fitted = NNPreservingReducer(**REDUCER).fit(X)
    with pytest.raises(NonFiniteBlockError, match=r"NNPreservingReducer\.transform"):
        fitted.transform(da.from_array(corrupted, chunks=45)).compute()


def test_reducer_sample_must_hold_the_neighbourhoods():
    X = embeddings(14, n=100)
    with pytest.raises(ValueError, match=r"NNPreservingReducer\.fit: max_samples=4 .*"
                                         r"max_samples >= 6"):
        NNPreservingReducer(**REDUCER, max_samples=4).fit(da.from_array(X, chunks=50))


def test_reducer_memory_check_counts_the_sample(monkeypatch):
    import skembed.reduction._reducer as reducer_module
    from skembed.utils import _memory, estimate_fit_memory

    def no_read(*args, **kwargs):
        raise AssertionError("the memory check passed")

    monkeypatch.setattr(reducer_module, "read_rows", no_read)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 2**30)
    # 2,000,000 x 50, never read: on every row, 6.6 GiB; on the default
    # sample of 20,000 rows, 100 MiB.
    lazy = da.zeros((2_000_000, 50), chunks=(100_000, 50))
    with pytest.raises(InsufficientMemoryError, match=r"NNPreservingReducer\.fit: .*max_samples"):
        NNPreservingReducer(max_samples=None).fit(lazy)
    with pytest.raises(AssertionError, match="memory check passed"):
        NNPreservingReducer().fit(lazy)
    # In memory, an int max_samples counts the sample's fit and its copy.
    sampled = estimate_fit_memory(NNPreservingReducer(max_samples=20_000), 2_000_000, 50)
    assert sampled < 2**30 < estimate_fit_memory(NNPreservingReducer(), 2_000_000, 50)


def test_in_memory_defaults_are_unchanged():
    X = embeddings(15)
    for estimator in (RelativeRepresentation(6, anchors="fps", random_state=0),
                      NNPreservingReducer(**REDUCER)):
        assert clone(estimator).fit(X).sample_indices_ is None


def test_blocks_without_rows_are_skipped():
    # X[keep] after compute_chunk_sizes() leaves an empty block wherever a
    # whole block was dropped: every path gives the in-memory result.
    from skembed import CoresetEstimator, SensitivitySampler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=400)
    lazy = da.from_array(X, chunks=((200, 0, 200), (5,)))
    sampled = SensitivitySampler(50, method="leverage", random_state=0).fit(lazy, y)
    in_memory = SensitivitySampler(50, method="leverage", random_state=0).fit(X, y)
    np.testing.assert_array_equal(sampled.sample_indices_, in_memory.sample_indices_)
    relative = RelativeRepresentation(10, random_state=0).fit(X)
    np.testing.assert_allclose(relative.transform(lazy).compute(), relative.transform(X))
    coreset = CoresetEstimator(random_state=0).fit(X, y)
    np.testing.assert_allclose(coreset.predict(lazy).compute(), coreset.predict(X))
    fitted = CoresetEstimator(random_state=0).fit(lazy, y)
    np.testing.assert_allclose(fitted.predict(X), coreset.predict(X))


def test_fit_resample_takes_targets_by_position():
    # A Series whose index is not 0..n-1 is indexed by position, as for NumPy X.
    import pandas as pd

    from skembed import SensitivitySampler

    X = np.random.default_rng(1).normal(size=(1000, 4))
    y = pd.Series(X.sum(axis=1), index=np.arange(1000)[::-1])
    X_res, y_res = SensitivitySampler(50, method="leverage", random_state=0).fit_resample(
        da.from_array(X, chunks=100), y)
    np.testing.assert_allclose(np.asarray(y_res), X_res.sum(axis=1))


def test_latent_translator_refuses_to_read_a_dask_target_or_score_whole():
    from skembed.relative import LatentTranslator

    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(200, 6)), rng.normal(size=(200, 4))
    translator = LatentTranslator().fit(X, Y)
    with pytest.raises(ValueError, match=r"LatentTranslator\.fit: y is a dask array"):
        LatentTranslator().fit(X, da.from_array(Y, chunks=50))
    with pytest.raises(ValueError, match=r"LatentTranslator\.score: a dask array"):
        translator.score(da.from_array(X, chunks=50), Y)
    assert translator.score(X, Y) == pytest.approx(LatentTranslator().fit(X, Y).score(X, Y))


@pytest.mark.parametrize("method, p", [("leverage", 2), ("lewis", 1), ("lewis", 3)])
def test_sampler_scores_are_the_same_when_blocks_are_split_into_sub_blocks(monkeypatch, method,
                                                                          p):
    # Each task builds its design SUB_BLOCK_ROWS rows at a time; a block of
    # several sub-blocks (here 7 rows each, some blocks ragged) gives the
    # in-memory scores and the same sample.
    from skembed import SensitivitySampler
    from skembed.sampling import _blockwise

    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 6)) * rng.standard_t(3, size=(600, 1))
    y = X @ rng.normal(size=6) + rng.standard_t(3, size=600)
    monkeypatch.setattr(_blockwise, "SUB_BLOCK_ROWS", 7)
    kwargs = dict(method=method, random_state=0, tol=1e-10)
    if method == "lewis":
        kwargs["p"] = p
    lazy = SensitivitySampler(60, **kwargs).fit(da.from_array(X, chunks=(250, 6)), y)
    in_memory = SensitivitySampler(60, **kwargs).fit(X, y)
    np.testing.assert_allclose(lazy.scores_, in_memory.scores_, rtol=1e-8,
                               atol=1e-12 * in_memory.scores_.max())
    np.testing.assert_array_equal(lazy.sample_indices_, in_memory.sample_indices_)


def test_reducer_refuses_too_many_components_before_reading_the_sample():
    def unread(block):
        raise AssertionError("a block was read")

    X = np.random.default_rng(5).normal(size=(500, 6))
    lazy = da.from_array(X, chunks=100).map_blocks(unread, dtype=X.dtype)
    with pytest.raises(ValueError, match=r"NNPreservingReducer\.fit: n_components=6 must be "
                                         r"smaller than n_features=6"):
        NNPreservingReducer(n_components=6).fit(lazy)
