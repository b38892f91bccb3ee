"""Memory estimates: checked against measured peaks, and refusals that come before any work."""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skembed import (
    CoresetEstimator,
    LinearConceptEraser,
    NNPreservingReducer,
    NonlinearConceptEraser,
    RelativeRepresentation,
    SensitivitySampler,
    SubspaceClusterer,
)
from skembed.relative import LatentTranslator
from skembed.utils import InsufficientMemoryError, _memory, estimate_fit_memory


def measured_peak(fit):
    """Peak bytes allocated by ``fit()`` beyond what was allocated before (NumPy
    reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fit()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


CASES = [
    (LinearConceptEraser(), 1_000, 600),
    (LinearConceptEraser(), 30_000, 60),
    (LinearConceptEraser(method="orth"), 3_000, 600),
    (LinearConceptEraser(method="splice"), 1_000, 400),
    (LinearConceptEraser(), 20_000, 30),  # a concept of 200 continuous columns
    (LinearConceptEraser(method="inlp", max_iter=2), 1_500, 300),
    (NonlinearConceptEraser(), 3_000, 200),
    (NonlinearConceptEraser(final_leace=False), 30_000, 40),
    (SensitivitySampler(method="leverage"), 20_000, 60),
    (SensitivitySampler(method="lewis"), 2_000, 250),
    (SensitivitySampler(method="leverage"), 50, 3_000),  # wide: n x d products
    (NNPreservingReducer(n_components=8, max_iter=2), 10_000, 50),
    (NNPreservingReducer(n_components=8, max_iter=2, method="mpad"), 1_000, 300),
    (RelativeRepresentation(100, whiten=True), 2_000, 700),
    (RelativeRepresentation(anchors="kmeans"), 20_000, 50),
    (RelativeRepresentation(anchors="fps"), 20_000, 50),
    (RelativeRepresentation(), 20_000, 50),
    (SubspaceClusterer(n_clusters=3, method="lsr"), 900, 20),
    (SubspaceClusterer(n_clusters=3, method="ssc", max_iter=10), 900, 20),
    (SubspaceClusterer(n_clusters=3, method="lrr", max_iter=10), 900, 20),
    (SubspaceClusterer(n_clusters=3, method="omp"), 1_500, 50),
    (SubspaceClusterer(n_clusters=3, method="ensc"), 600, 30),  # slow under tracemalloc
    (SubspaceClusterer(n_clusters=3, method="tsc"), 1_500, 50),
    (LatentTranslator(), 5_000, 300),
    (LatentTranslator(method="linear"), 3_000, 400),
    (LatentTranslator(method="affine"), 500, 800),
    (LatentTranslator(method="affine"), 100, 3_000),
    (CoresetEstimator(sampler=SensitivitySampler(500, random_state=0)), 20_000, 60),
]
#: Target widths of the translator's cases (the other space need not be as wide).
TARGET_WIDTH = {300: 100, 400: 100, 800: 800, 3_000: 3_000}


@pytest.mark.slow
@pytest.mark.parametrize("estimator, n_samples, n_features", CASES,
                         ids=[f"{type(e).__name__}-{n}x{d}" for e, n, d in CASES])
def test_estimate_is_within_a_factor_of_two_of_the_measured_peak(estimator, n_samples,
                                                                 n_features):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, n_features))
    y = rng.randint(2, size=n_samples)
    params = {"target": rng.randint(2, size=n_samples)} if getattr(
        estimator, "method", None) == "splice" else {}
    estimator = clone(estimator).set_params(random_state=0) if "random_state" in \
        estimator.get_params() else clone(estimator)
    n_targets = None
    if isinstance(estimator, LatentTranslator):
        n_targets = TARGET_WIDTH[n_features]
        y = rng.normal(size=(n_samples, n_targets))
    elif isinstance(estimator, CoresetEstimator):
        y = rng.normal(size=n_samples)
    elif isinstance(estimator, LinearConceptEraser) and n_samples == 20_000:
        n_targets = 200
        y = rng.normal(size=(n_samples, n_targets))
    needs_y = isinstance(estimator, (LinearConceptEraser, NonlinearConceptEraser,
                                     LatentTranslator, CoresetEstimator))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few ADMM steps do not converge
        peak = measured_peak(
            lambda: estimator.fit(X, y, **params) if needs_y else estimator.fit(X))
    estimate = estimate_fit_memory(estimator, n_samples, n_features, n_targets)
    assert estimate / 2 <= peak <= 2 * estimate, (peak, estimate)


def test_a_fit_that_cannot_fit_in_memory_is_refused_before_any_work(monkeypatch):
    import skembed.erasure._eraser as eraser_module

    def no_work(*args, **kwargs):
        raise AssertionError("the fit started working")

    monkeypatch.setattr(eraser_module, "leace_factors", no_work)
    monkeypatch.setattr(eraser_module.WeightedMoments, "of_batch", no_work)
    X = np.zeros((10, 20_000))
    y = np.arange(10) % 2
    # 20,000 features: LEACE's d x d matrices need ~19 GiB; say 1 GiB is free.
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(InsufficientMemoryError) as info:
        LinearConceptEraser().fit(X, y)
    message = str(info.value)
    assert message.startswith("LinearConceptEraser.fit: fitting 10 x 20,000 needs about")
    assert "1.0 GiB is available" in message and "method='orth'" in message
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("estimator", [SensitivitySampler(), NNPreservingReducer(),
                                       RelativeRepresentation(5, whiten=True),
                                       SubspaceClusterer(n_clusters=2, method="lrr")],
                         ids=lambda e: type(e).__name__)
def test_every_guarded_estimator_names_itself_and_an_option(estimator, monkeypatch):
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 1024)
    X = np.random.RandomState(0).normal(size=(200, 8))
    with pytest.raises(InsufficientMemoryError,
                       match=rf"^{type(estimator).__name__}\.fit: .*needs about"):
        clone(estimator).fit(X)


@pytest.mark.parametrize("estimator", [LatentTranslator(), CoresetEstimator()],
                         ids=lambda e: type(e).__name__)
def test_supervised_estimators_name_themselves_before_any_work(estimator, monkeypatch):
    import skembed.sampling._sampler as sampler_module

    def no_work(*args, **kwargs):
        raise AssertionError("the fit started working")

    monkeypatch.setattr(sampler_module.SensitivitySampler, "_design", no_work)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 1024)
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(200, 8)), rng.normal(size=(200, 3))
    with pytest.raises(InsufficientMemoryError,
                       match=rf"^{type(estimator).__name__}\.fit: .*needs about .* sample"):
        clone(estimator).fit(X, Y if isinstance(estimator, LatentTranslator) else Y[:, 0])


def test_the_translator_counts_the_target_width():
    narrow = estimate_fit_memory(LatentTranslator(), 10_000, 300, n_targets=10)
    wide = estimate_fit_memory(LatentTranslator(), 10_000, 300, n_targets=3_000)
    assert wide > 5 * narrow
    assert estimate_fit_memory(LatentTranslator(), 10_000, 300) == estimate_fit_memory(
        LatentTranslator(), 10_000, 300, n_targets=300)


def test_unknown_available_memory_never_refuses(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: None)
    X = np.random.RandomState(0).normal(size=(50, 4))
    LinearConceptEraser().fit(X, np.arange(50) % 2)


def test_available_memory_is_read_without_psutil(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_psutil(name, *args, **kwargs):
        if name == "psutil":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psutil)
    available = _memory.available_memory_bytes()
    assert available is None or available > 0


def test_dense_clustering_of_many_points_is_refused_with_the_sparse_methods(monkeypatch):
    import skembed.cluster._methods as methods

    def no_work(*args, **kwargs):
        raise AssertionError("the fit started working")

    monkeypatch.setattr(methods, "lrr_ialm", no_work)
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 6 * 2**30)
    X = np.zeros((300_000, 2))  # 4.6 MB of points, 670 GiB per n x n matrix
    X[:, 0] = 1.0
    with pytest.raises(InsufficientMemoryError, match=r"SubspaceClusterer\.fit: .*'omp'"):
        SubspaceClusterer(n_clusters=2, method="lrr").fit(X)


def test_tsc_default_neighbours_are_bounded():
    from skembed.cluster._methods import METHODS

    q = METHODS["tsc"].default_n_nonzero(300_000, 3)
    assert q == 100  # a twentieth per cluster would be 5,000: n^2 / 60 entries
    assert METHODS["tsc"].default_n_nonzero(600, 3) == 10  # unchanged on small data


@pytest.mark.parametrize("shape", [(-5, 10), (10, -1), (2.5, 3), (np.nan, 3), (10, 3, -2)])
def test_estimate_rejects_impossible_shapes(shape):
    with pytest.raises(ValueError, match="estimate_fit_memory: n_"):
        estimate_fit_memory(LinearConceptEraser(), *shape)
