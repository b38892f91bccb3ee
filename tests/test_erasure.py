"""LinearConceptEraser: the guarantees of each method, streaming, weights, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skembed import LinearConceptEraser
from skembed.erasure import _eraser
from skembed.erasure._rlace import fantope_projection
from skembed.metrics import linear_probe_accuracy
from skembed.utils._moments import shrunk_covariance
from skembed.utils.extmath import column_scales

GUARDED_METHODS = ["leace", "orth", "splice"]


def one_hot(y):
    return (y[:, None] == np.unique(y)[None, :]).astype(float)


def cross_covariance(X, Z):
    return (X - X.mean(axis=0)).T @ (Z - Z.mean(axis=0)) / len(X)


@pytest.fixture(scope="module", params=[2, 3, 5, 10])
def classification(request):
    n_classes = request.param
    X, y = make_classification(
        n_samples=2048, n_features=128, n_informative=20, n_classes=n_classes,
        random_state=0,
    )
    return X, y


def fit_eraser(method, X, y, **params):
    eraser = LinearConceptEraser(method=method, **params)
    target = None
    if method == "splice":
        # A task target correlated with X but not the concept itself.
        target = X[:, :3] @ np.array([1.0, -2.0, 0.5])
    return eraser.fit(X, y, target=target), target


@pytest.mark.parametrize("method", GUARDED_METHODS)
def test_closed_form_methods_guard_label_concepts(classification, method):
    X, y = classification
    eraser, _ = fit_eraser(method, X, y)
    X_erased = eraser.transform(X)
    Z = one_hot(y)
    before = np.abs(cross_covariance(X, Z)).max()
    after = np.abs(cross_covariance(X_erased, Z)).max()
    assert before > 1e-2
    assert after <= 1e-10 * before
    # Every class mean equals the global mean.
    global_mean = X_erased.mean(axis=0)
    scale = np.abs(X).max()
    for label in np.unique(y):
        np.testing.assert_allclose(X_erased[y == label].mean(axis=0), global_mean, atol=1e-10 * scale)


@pytest.mark.parametrize("method", GUARDED_METHODS)
@pytest.mark.parametrize("n_redundant", [0, 2])
def test_unregularised_logistic_regression_learns_nothing(method, n_redundant):
    X, y = make_classification(
        n_samples=2048, n_features=128, n_redundant=n_redundant, random_state=42
    )
    raw = LogisticRegression(max_iter=1000).fit(X, y)
    assert np.abs(raw.coef_).max() > 0.1
    X_erased = fit_eraser(method, X, y)[0].transform(X)
    # Unregularised (C=inf), solved by Newton-CG to full precision.
    null = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-12).fit(X_erased, y)
    coef = null.coef_[0]
    if n_redundant:
        # Redundant features leave directions of zero variance, along which a
        # coefficient changes no prediction (the intercept absorbs it) and the
        # solver may drift: only the part of coef in the data's span counts.
        _, singular, Vt = np.linalg.svd(X_erased - X_erased.mean(axis=0), full_matrices=False)
        span = Vt[singular > 1e-8 * singular[0]]
        coef = span.T @ (span @ coef)
    assert np.abs(coef).max() < 1e-6


@pytest.mark.parametrize("method", GUARDED_METHODS)
def test_continuous_concepts_are_guarded(method):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 30)) @ rng.normal(size=(30, 30))
    Z = X[:, :2] @ rng.normal(size=(2, 2)) + 0.1 * rng.normal(size=(1000, 2))
    eraser, _ = fit_eraser(method, X, Z)
    assert eraser.rank_ == 2
    after = np.abs(cross_covariance(eraser.transform(X), Z)).max()
    assert after <= 1e-10 * np.abs(cross_covariance(X, Z)).max()


def test_leace_is_idempotent_low_rank_and_least_edit(classification):
    X, y = classification
    k = np.unique(y).size
    leace = LinearConceptEraser().fit(X, y)
    X_once = leace.transform(X)
    np.testing.assert_allclose(leace.transform(X_once), X_once, atol=1e-10 * np.abs(X).max())
    assert leace.rank_ <= k - 1
    assert np.linalg.matrix_rank(np.eye(X.shape[1]) - leace.projection_) <= k - 1

    def edit(eraser):
        return np.mean(np.sum((eraser.fit(X, y).transform(X) - X) ** 2, axis=1))

    # Least among the maps that guard the concept; INLP stops once a probe
    # is at chance, which need not guard it exactly, so it is compared only
    # when it does.
    leace_edit = edit(LinearConceptEraser("leace"))
    assert leace_edit <= edit(LinearConceptEraser("orth")) + 1e-9
    inlp = LinearConceptEraser("inlp", random_state=0).fit_transform(X, y)
    if guard_correlation(X, inlp, one_hot(y)) <= 1e-8:
        assert leace_edit <= np.mean(np.sum((inlp - X) ** 2, axis=1)) + 1e-9


def test_projection_property_matches_transform():
    X, y = make_classification(n_samples=300, n_features=10, random_state=1)
    for affine in (True, False):
        eraser = LinearConceptEraser(affine=affine).fit(X, y)
        mean = eraser.mean_ if affine else 0
        np.testing.assert_allclose(
            eraser.transform(X), (X - mean) @ eraser.projection_ + mean, atol=1e-12
        )


def test_leace_matches_its_closed_form():
    """r(x) = x - W^+ P W (x - mu) computed naively with full-rank matrices."""
    rng = np.random.RandomState(3)
    X = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 8))
    y = (X[:, 0] + rng.normal(size=500) > 0).astype(int)
    Z = one_hot(y)
    sigma = np.cov(X.T, bias=True)
    eigenvalues, V = np.linalg.eigh(sigma)
    W = V @ np.diag(eigenvalues**-0.5) @ V.T
    W_plus = V @ np.diag(eigenvalues**0.5) @ V.T
    U = np.linalg.svd(W @ cross_covariance(X, Z))[0][:, :1]
    expected = X - (X - X.mean(axis=0)) @ (W_plus @ U @ U.T @ W).T
    np.testing.assert_allclose(LinearConceptEraser().fit_transform(X, y), expected, atol=1e-10)


def test_rank_deficient_and_wide_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 100))  # rank 5, d=100 > n=40
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    X_erased = LinearConceptEraser().fit_transform(X, y)
    assert np.isfinite(X_erased).all()
    after = np.abs(cross_covariance(X_erased, one_hot(y))).max()
    assert after <= 1e-8 * np.abs(cross_covariance(X, one_hot(y))).max()


def test_splice_keeps_target_covariance():
    X, y = make_classification(n_samples=2048, n_features=64, n_informative=10, random_state=0)
    rng = np.random.RandomState(0)
    target = X @ rng.normal(size=64) + rng.normal(size=2048)
    eraser = LinearConceptEraser("splice").fit(X, y, target=target)
    X_erased = eraser.transform(X)
    kept = cross_covariance(X_erased, target[:, None])
    np.testing.assert_allclose(kept, cross_covariance(X, target[:, None]), rtol=1e-10, atol=1e-10)
    assert np.abs(cross_covariance(X_erased, one_hot(y))).max() < 1e-10
    # Labels as target work too (one-hot covariance kept).
    labels = (target > 0).astype(int)
    X_labels = LinearConceptEraser("splice").fit(X, y, target=labels).transform(X)
    np.testing.assert_allclose(
        cross_covariance(X_labels, one_hot(labels)), cross_covariance(X, one_hot(labels)),
        atol=1e-10,
    )
    # Without the target constraint the covariance is not kept (so the test can fail).
    leace_kept = cross_covariance(LinearConceptEraser().fit_transform(X, y), target[:, None])
    assert np.abs(leace_kept - cross_covariance(X, target[:, None])).max() > 1e-3


def test_splice_rejects_a_target_aligned_with_the_concept():
    X, y = make_classification(n_samples=500, n_features=10, random_state=0)
    eraser = LinearConceptEraser("splice")
    with pytest.raises(ValueError, match="^LinearConceptEraser.fit: .*overlap the target"):
        eraser.fit(X, y, target=y)
    # A fit that fails leaves no half-fitted eraser behind.
    with pytest.raises(NotFittedError):
        eraser.transform(X)


@pytest.mark.parametrize("method", ["leace", "orth"])
@pytest.mark.parametrize("concept", ["labels", "continuous"])
def test_streaming_equals_batch(method, concept):
    X, y = make_classification(n_samples=3000, n_features=40, n_classes=3,
                               n_informative=8, random_state=0)
    X = X + 50  # a large mean: merging must not lose precision
    Z = y if concept == "labels" else np.column_stack([X[:, 0] * 2 + 1, X[:, 1] ** 2])
    batch = LinearConceptEraser(method).fit(X, Z)
    stream = LinearConceptEraser(method)
    for chunk in np.array_split(np.arange(len(X)), 10):
        stream.partial_fit(X[chunk], Z[chunk], classes=np.unique(y))
    np.testing.assert_allclose(stream.mean_, batch.mean_, rtol=1e-12)
    np.testing.assert_allclose(stream.transform(X), batch.transform(X), rtol=1e-10, atol=1e-10)
    assert stream.n_samples_seen_ == len(X)


def test_partial_fit_recomputes_the_map_and_fit_starts_over():
    """The solved map follows the moments: another batch changes it, fit forgets."""
    X, y = make_classification(n_samples=600, n_features=10, n_informative=5, random_state=0)
    first, second = slice(0, 300), slice(300, None)
    stream = LinearConceptEraser().partial_fit(X[first], y[first])
    after_first = stream.transform(X)
    readout_first = stream.concept_readout_
    kept = readout_first.copy()
    np.testing.assert_array_equal(
        after_first, LinearConceptEraser().fit(X[first], y[first]).transform(X)
    )

    stream.partial_fit(X[second], y[second])
    np.testing.assert_allclose(
        stream.transform(X), LinearConceptEraser().fit(X, y).transform(X), atol=1e-10
    )
    assert np.abs(stream.transform(X) - after_first).max() > 1e-3
    # A map read before the second batch is not edited by it.
    np.testing.assert_array_equal(readout_first, kept)

    # fit after partial_fit forgets the stream; partial_fit after fit continues it.
    np.testing.assert_array_equal(
        stream.fit(X[second], y[second]).transform(X),
        LinearConceptEraser().fit(X[second], y[second]).transform(X),
    )
    assert stream.n_samples_seen_ == 300
    stream.partial_fit(X[first], y[first])
    np.testing.assert_allclose(
        stream.transform(X), LinearConceptEraser().fit(X, y).transform(X), atol=1e-10
    )
    assert stream.n_samples_seen_ == 600


def test_partial_fit_after_set_params_continues_only_moments_it_can_use():
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    first, rest = slice(0, 100), slice(100, None)
    # leace's moments hold everything orth solves from: the stream continues.
    eraser = LinearConceptEraser("leace").fit(X[first], y[first])
    eraser.set_params(method="orth").partial_fit(X[rest], y[rest])
    np.testing.assert_allclose(
        eraser.transform(X), LinearConceptEraser("orth").fit(X, y).transform(X), atol=1e-10
    )
    # An iterative fit tracks no covariance, which leace needs: it starts over.
    eraser = LinearConceptEraser("inlp", random_state=0).fit(X[first], y[first])
    eraser.set_params(method="leace").partial_fit(X[rest], y[rest])
    assert eraser.n_samples_seen_ == 200
    np.testing.assert_allclose(
        eraser.transform(X), LinearConceptEraser().fit(X[rest], y[rest]).transform(X),
        atol=1e-10,
    )


def test_partial_fit_accepts_single_class_chunks_with_classes():
    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]  # first chunk all class 0
    stream = LinearConceptEraser()
    stream.partial_fit(X[:200], y[:200], classes=[0, 1])
    stream.partial_fit(X[200:], y[200:])
    np.testing.assert_allclose(stream.transform(X), LinearConceptEraser().fit_transform(X, y), atol=1e-10)
    with pytest.raises(ValueError, match=r"labels \[7\] not seen"):
        stream.partial_fit(X[:5], np.full(5, 7))


def test_partial_fit_only_for_streaming_methods():
    assert hasattr(LinearConceptEraser("leace"), "partial_fit")
    for method in ("inlp", "rlace", "splice"):
        assert not hasattr(LinearConceptEraser(method), "partial_fit")


@pytest.mark.parametrize("method", ["leace", "orth", "splice"])
def test_integer_weights_equal_repeated_rows(method):
    X, y = make_classification(n_samples=200, n_features=12, random_state=0)
    weights = np.random.RandomState(0).randint(0, 4, size=200)
    target = X[:, 0] + X[:, 1]
    weighted = LinearConceptEraser(method).fit(
        X, y, sample_weight=weights, target=target if method == "splice" else None
    )
    rows = np.repeat(np.arange(200), weights)
    repeated = LinearConceptEraser(method).fit(
        X[rows], y[rows], target=target[rows] if method == "splice" else None
    )
    np.testing.assert_allclose(weighted.transform(X), repeated.transform(X), atol=1e-10)


@pytest.mark.parametrize("method", ["leace", "orth", "inlp", "rlace"])
def test_float32_in_float32_out(method):
    # Full-rank columns: with exactly collinear ones (make_classification's
    # default redundant features), rounding to float32 makes them merely
    # near-collinear, and an iterative method's later probes, fit on what is
    # left of the concept, turn by 1e-2 between the two inputs.
    X, y = make_classification(n_samples=300, n_features=10, n_redundant=0, random_state=0)
    eraser = LinearConceptEraser(method, max_iter=200, random_state=0)
    X32 = X.astype(np.float32)
    out = eraser.fit(X32, y).transform(X32)
    assert out.dtype == np.float32
    fitted_rounds = getattr(eraser, "n_iter_", None)
    np.testing.assert_allclose(out, eraser.fit(X, y).transform(X), rtol=1e-3, atol=1e-3)
    assert getattr(eraser, "n_iter_", None) == fitted_rounds


def _planted_binary_concept(seed, n=16000, d=20, separation=1.5):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    X = rng.normal(size=(n, d)) + separation * np.outer(2 * y - 1, direction)
    return X, y, direction


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_rlace_rank_one_on_a_planted_concept(seed):
    """R-LACE rank 1 brings a held-out probe within 2 points of the majority rate."""
    X, y, direction = _planted_binary_concept(seed)
    train, test = slice(0, 8000), slice(8000, None)
    raw = linear_probe_accuracy(X[train], y[train], X[test], y[test])
    eraser = LinearConceptEraser("rlace", rank=1, random_state=0).fit(X[train], y[train])
    erased = linear_probe_accuracy(
        eraser.transform(X[train]), y[train], eraser.transform(X[test]), y[test]
    )
    majority = max(np.mean(y[test]), 1 - np.mean(y[test]))
    assert raw > 0.9
    assert erased <= majority + 0.02
    assert eraser.rank_ == 1 and abs(eraser.concept_readout_[:, 0] @ direction) > 0.99


@pytest.mark.parametrize("n_classes", [2, 4])
def test_rlace_with_rank_for_every_class_is_the_regression_optimum(n_classes):
    """rank >= n_classes - 1: the spectral start already guards; no steps, orth's map."""
    X, y = make_classification(
        n_samples=600, n_features=12, n_informative=6, n_classes=n_classes, random_state=0
    )
    rlace = LinearConceptEraser("rlace", rank=n_classes - 1, random_state=0).fit(X, y)
    orth = LinearConceptEraser("orth").fit(X, y)
    assert rlace.n_iter_ == 1 and rlace.rank_ == n_classes - 1
    np.testing.assert_allclose(rlace.transform(X), orth.transform(X), atol=1e-10)


def test_rlace_game_from_a_random_start_finds_the_planted_direction():
    """The game itself (the paper's random start) converges near the planted direction."""
    X, y, direction = _planted_binary_concept(0, n=8000)
    eraser = LinearConceptEraser("rlace", rank=1, init="random", random_state=0).fit(X, y)
    # Played, although rank 1 against two classes would skip the game from
    # the default (spectral) start.
    assert eraser.n_iter_ > 1
    assert abs(eraser.concept_readout_[:, 0] @ direction) > 0.99


def test_rlace_plays_the_game_when_rank_is_below_classes_minus_one():
    """With 4 classes and rank 1 the spectral start is not an optimum: steps run."""
    X, y = make_classification(
        n_samples=2000, n_features=10, n_informative=6, n_classes=4, random_state=0
    )
    eraser = LinearConceptEraser("rlace", rank=1, max_iter=300, random_state=0).fit(X, y)
    assert eraser.n_iter_ > 1 and eraser.rank_ == 1


def test_rlace_is_deterministic_under_random_state():
    X, y = make_classification(n_samples=400, n_features=10, random_state=0)
    a = LinearConceptEraser("rlace", max_iter=300, random_state=3).fit_transform(X, y)
    b = LinearConceptEraser("rlace", max_iter=300, random_state=3).fit_transform(X, y)
    np.testing.assert_array_equal(a, b)


def test_inlp_stops_at_chance_and_respects_rank():
    X, y = make_classification(n_samples=1000, n_features=30, n_informative=5, random_state=0)
    eraser = LinearConceptEraser("inlp", random_state=0).fit(X, y)
    assert 1 <= eraser.n_iter_ <= 30
    assert linear_probe_accuracy(eraser.transform(X), y) < 0.6
    # A projection: its readout and directions are biorthogonal (an
    # orthonormal basis in the coordinates INLP's probes are trained in).
    coupling = eraser.concept_readout_.T @ eraser.concept_directions_
    np.testing.assert_allclose(coupling, np.eye(eraser.rank_), atol=1e-10)
    assert LinearConceptEraser("inlp", rank=2, random_state=0).fit(X, y).rank_ <= 2


def test_fantope_projection():
    A = fantope_projection(np.random.RandomState(0).normal(size=(12, 12)), 3)
    eigenvalues = np.linalg.eigvalsh(A)
    assert eigenvalues.min() > -1e-10 and eigenvalues.max() < 1 + 1e-10
    assert eigenvalues.sum() == pytest.approx(3)
    # A point already in the Fantope is its own projection.
    P = np.diag([1.0, 1.0, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(fantope_projection(P, 3), P, atol=1e-10)


def test_shrinkage():
    rng = np.random.RandomState(0)
    sample = np.cov(rng.normal(size=(20, 50)).T, bias=True)
    shrunk, rho = shrunk_covariance(sample, 20, True)
    assert 0 < rho <= 1
    assert np.trace(shrunk) == pytest.approx(np.trace(sample))
    assert np.linalg.eigvalsh(shrunk).min() > 0  # p > n: the sample covariance is singular
    assert shrunk_covariance(sample, 20, 0.25)[1] == 0.25
    X, y = make_classification(n_samples=60, n_features=80, random_state=0)
    eraser = LinearConceptEraser(shrinkage=True).fit(X, y)
    assert 0 < eraser.shrinkage_ <= 1
    # Guardedness does not depend on the covariance estimate.
    after = np.abs(cross_covariance(eraser.transform(X), one_hot(y))).max()
    assert after <= 1e-10 * np.abs(cross_covariance(X, one_hot(y))).max()


def test_pipeline_and_grid_search():
    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    pipe = make_pipeline(LinearConceptEraser(), LogisticRegression())
    search = GridSearchCV(pipe, {"linearconcepteraser__method": ["leace", "orth"]}, cv=3)
    search.fit(X, y)
    # The concept is the label itself, so the erased data predicts it at chance.
    assert search.best_score_ < 0.65


def test_set_output_pandas():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    out = LinearConceptEraser().set_output(transform="pandas").fit(frame, y).transform(frame)
    assert list(out.columns) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "params, fit_kwargs, match",
    [
        (dict(method="leace"), dict(target=np.zeros(50)), "target is only used by method='splice'"),
        (dict(method="splice"), {}, "pass target="),
        (dict(method="leace", rank=2), {}, r"rank=2 exceeds the concept's rank \(1"),
        (dict(method="splice"), dict(target=np.zeros(49)), "target has 49 rows"),
        (dict(method="rlace", rank=5), {}, "n_features=5"),
    ],
)
def test_clear_errors(params, fit_kwargs, match):
    X, y = make_classification(n_samples=50, n_features=5, n_informative=3, random_state=0)
    with pytest.raises(ValueError, match=match):
        LinearConceptEraser(**params).fit(X, y, **fit_kwargs)


@pytest.mark.parametrize(
    "method, unused",
    [
        ("leace", dict(tol=0.5, max_iter=1, init="random", random_state=3)),
        ("orth", dict(shrinkage=True, tol=0.5, max_iter=1, init="random", random_state=3)),
        ("inlp", dict(shrinkage=0.5, init="random")),
        ("rlace", dict(shrinkage=True)),
    ],
)
def test_parameters_a_method_does_not_use_are_ignored(method, unused):
    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    params = dict(method=method, max_iter=50, random_state=0)
    reference = LinearConceptEraser(**params).fit(X, y)
    eraser = LinearConceptEraser(**{**params, **unused}).fit(X, y)
    np.testing.assert_array_equal(eraser.transform(X), reference.transform(X))
    assert eraser.shrinkage_ == 0.0 and eraser.n_iter_ == reference.n_iter_


def test_iterative_methods_need_labels():
    X = np.random.RandomState(0).normal(size=(50, 4))
    with pytest.raises(ValueError, match="must be 1-D class labels"):
        LinearConceptEraser("inlp").fit(X, X[:, :2])


def test_invalid_parameters():
    X, y = make_classification(n_samples=50, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="method"):
        LinearConceptEraser(method="lace").fit(X, y)
    with pytest.raises(ValueError, match="shrinkage"):
        LinearConceptEraser(shrinkage=1.5).fit(X, y)
    with pytest.raises(ValueError, match="init"):
        LinearConceptEraser("rlace", init="zeros").fit(X, y)


@pytest.mark.parametrize("method", ["leace", "splice"])
def test_features_of_very_different_scales_are_all_erased(method):
    """Dead encoder dimensions (values ~1e-33) must not keep the concept.

    A scale-invariant probe (standardise + logistic regression) sees a
    concept left in a tiny feature as clearly as in a large one.
    """
    X, y = make_classification(n_samples=2000, n_features=12, n_informative=4, random_state=0)
    X[:, 0] *= 1e-30  # informative, but far below the others' scale
    X[:, 1] = 0.37  # constant
    eraser, _ = fit_eraser(method, X, y)
    X_erased = eraser.transform(X)
    assert np.all(X_erased[:, 1] == 0.37)  # a constant column stays exactly constant
    scaled = (X_erased - X_erased.mean(axis=0)) / np.where(X_erased.std(axis=0) > 0, X_erased.std(axis=0), 1)
    assert np.abs(cross_covariance(scaled, one_hot(y))).max() < 1e-10
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    assert probe.fit(X_erased, y).score(X_erased, y) < 0.55


def test_fitted_attributes_available_right_after_partial_fit():
    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    eraser = LinearConceptEraser(shrinkage=True).partial_fit(X, y)
    assert 0 <= eraser.shrinkage_ <= 1 and eraser.rank_ == 1


# ----------------------------------------------------------------------
# The guarantee on hostile but legitimate data (issue 13). Every check is
# the promise itself, on the fitted object's output: the cross-covariance of
# transform(X) with the concept, as a correlation (each erased feature over
# its input column's scale, each concept column over its standard
# deviation), so that it means the same at any units.
# ----------------------------------------------------------------------


def guard_correlation(X, X_erased, Z, sample_weight=None):
    """Largest |Cov_w(r(X)_i, z_j)| / (scale_i std_w(z_j)), safe at any magnitude."""
    weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    weights = weights / weights.sum()
    scales = column_scales(X)
    erased = X_erased.astype(np.float64) / scales
    erased = erased - weights @ erased
    Z = Z - weights @ Z
    z_std = np.sqrt(weights @ Z**2)
    Z = Z[:, z_std > 0] / z_std[z_std > 0]
    return float(np.abs(erased.T @ (weights[:, None] * Z)).max(initial=0.0))


def fit_any(params, X, y, **fit_params):
    """Fit ``LinearConceptEraser(**params)``; SPLICE keeps the first column's covariance."""
    if params.get("method") == "splice":
        fit_params["target"] = X[:, 0] / column_scales(X[:, :1])[0]
    return LinearConceptEraser(**params).fit(X, y, **fit_params)


GUARDED_PARAMS = [{}, {"method": "orth"}, {"method": "splice"}, {"shrinkage": True}]
GUARDED_IDS = ["leace", "orth", "splice", "shrinkage"]


def tiny_variance_leak():
    """Issue 13, item 1: a seventh feature equal to the first plus 1e-8 times the concept."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 6))
    y = rng.randint(0, 2, 2000)
    leak = X[:, 0] + 1e-8 * (y - 0.5 + 0.3 * rng.normal(size=2000))
    return np.column_stack([X, leak]), y


def readout_accuracy(readout, y):
    readout = readout[:, None]
    probe = make_pipeline(StandardScaler(), LogisticRegression())
    return probe.fit(readout, y).score(readout, y)


@pytest.mark.parametrize("params", GUARDED_PARAMS, ids=GUARDED_IDS)
def test_a_concept_along_a_tiny_variance_direction_is_erased(params):
    # Its variance (1e-17 on the correlation scale) is below the whitening's
    # rank tolerance; the edit must still move along it.
    X, y = tiny_variance_leak()
    assert readout_accuracy(X[:, 6] - X[:, 0], y) > 0.9
    X_erased = fit_any(params, X, y).transform(X)
    assert abs(readout_accuracy(X_erased[:, 6] - X_erased[:, 0], y) - 0.5) <= 0.02
    assert guard_correlation(X, X_erased, one_hot(y)) <= 1e-12


@pytest.mark.parametrize("params", GUARDED_PARAMS, ids=GUARDED_IDS)
def test_a_concept_direction_the_whitening_cannot_see_is_read_orthogonally(params):
    # Two features that differ by 1e-12 times a second function of the
    # class: the whitened solve sees one concept direction, the concept has
    # two; the second is read out orthogonally, still within rank k - 1.
    rng = np.random.RandomState(0)
    X = np.tile(rng.normal(size=(300, 3)), (3, 1))  # no class signal in these
    y = np.repeat([0, 1, 2], 300)
    first, second = np.array([0.0, 1.0, 3.0]), np.array([1.0, -2.0, 0.5])
    X = np.column_stack([X, first[y], first[y] + 1e-12 * second[y]])
    eraser = fit_any(params, X, y)
    X_erased = eraser.transform(X)
    assert eraser.rank_ == 2
    assert guard_correlation(X, X_erased, one_hot(y)) <= 1e-12
    # The read-out x4 - x3 carried 1e-12 of the concept; what is left is the
    # rounding of features of order 1.
    for data, bound in ((X, (1e-13, np.inf)), (X_erased, (0.0, 1e-15))):
        difference = (data[:, 4] - data[:, 3])[:, None]
        left = np.abs(cross_covariance(difference, one_hot(y))).max()
        assert bound[0] <= left <= bound[1]


@pytest.mark.parametrize("n_classes", [3, 5])
def test_a_label_concept_removes_at_most_classes_minus_one_directions(n_classes):
    # Issue 13, item 2: k centred one-hot columns span k - 1 dimensions; the
    # k-th singular value is rounding and must not be removed. The edit is
    # the closed-form optimum tr(E Sigma E^T), E = A (A^T S^-1 A)^-1 A^T S^-1
    # with A the cross-covariance with k - 1 of the indicators.
    for seed in range(50):
        rng = np.random.RandomState(seed)
        X = rng.normal(size=(3000, 10))
        y = rng.randint(0, n_classes, 3000)
        eraser = LinearConceptEraser().fit(X, y)
        assert eraser.rank_ <= n_classes - 1
        edit = np.mean(np.sum((eraser.transform(X) - X) ** 2, axis=1))
        sigma = np.cov(X.T, bias=True)
        A = cross_covariance(X, one_hot(y))[:, :-1]
        inverse_a = np.linalg.solve(sigma, A)
        E = A @ np.linalg.solve(A.T @ inverse_a, inverse_a.T)
        optimum = np.trace(E @ sigma @ E.T)
        assert edit == pytest.approx(optimum, rel=1e-10)


def test_shrinkage_guards_a_feature_in_tiny_units():
    # Issue 13, item 5: the concept is carried by one feature at 1e-30.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 20))
    y = rng.randint(0, 2, 2000)
    X[:, 0] = 1e-30 * (y + rng.normal(size=2000))
    for shrinkage in (False, True, 0.5):
        eraser = LinearConceptEraser(shrinkage=shrinkage).fit(X, y)
        assert guard_correlation(X, eraser.transform(X), one_hot(y)) <= 1e-12


@pytest.mark.parametrize("params", GUARDED_PARAMS, ids=GUARDED_IDS)
@pytest.mark.parametrize("scale", [1e-170, 1e-150, 1e-30, 3e77, 1e150])
def test_the_eraser_of_rescaled_data_is_the_rescaled_eraser(params, scale):
    # Issue 13, item 6: shrinkage raised "Eigenvalues did not converge" from
    # 1e77 (a sum of squares overflowed) and nothing was erased at 1e-170.
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    expected = fit_any(params, X, y).transform(X)
    X_scaled = X * scale
    X_erased = fit_any(params, X_scaled, y).transform(X_scaled)
    np.testing.assert_allclose(X_erased / scale, expected, atol=1e-10 * np.abs(expected).max())
    assert guard_correlation(X_scaled, X_erased, one_hot(y)) <= 1e-12


def test_labels_in_a_column_vector_are_labels():
    # Issue 13, item 11: read as one continuous column, three classes kept
    # a probe at 0.65 (chance 0.33).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 10))
    y = rng.randint(0, 3, 3000)
    X[:, :3] += np.eye(3)[y]
    with pytest.warns(DataConversionWarning, match="^LinearConceptEraser.fit: A column-vector y"):
        eraser = LinearConceptEraser().fit(X, y.reshape(-1, 1))
    assert eraser.rank_ == 2
    np.testing.assert_array_equal(eraser.classes_, [0, 1, 2])
    np.testing.assert_allclose(
        eraser.transform(X), LinearConceptEraser().fit(X, y).transform(X), atol=1e-12
    )
    assert linear_probe_accuracy(eraser.transform(X), y) < 0.36
    # A continuous column stays one continuous concept, without a warning.
    z = X[:, 0] + rng.normal(size=3000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        continuous = LinearConceptEraser().fit(X, z.reshape(-1, 1))
    assert continuous.rank_ == 1 and not hasattr(continuous, "classes_")
    assert guard_correlation(X, continuous.transform(X), z[:, None]) <= 1e-12


def test_float32_input_gives_the_float64_fit_of_the_same_numbers():
    # Issue 13, item 12: moments accumulated in float32 gave rank 3 for 3
    # classes and an edit matrix 29% away from the float64 fit.
    rng = np.random.RandomState(0)
    n_samples, n_features = 200_000, 64
    rotation = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
    spread = np.sqrt(np.logspace(0, np.log10(2.4e3), n_features))
    X = (rng.normal(size=(n_samples, n_features)) * spread) @ rotation.T + 5.0
    y = rng.randint(0, 3, n_samples)
    X[:, :3] += 0.3 * np.eye(3)[y]
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    single, double = LinearConceptEraser().fit(X32, y), LinearConceptEraser().fit(X64, y)
    assert single.rank_ == double.rank_ == 2
    np.testing.assert_allclose(single.projection_, double.projection_, rtol=0, atol=1e-12)
    out32, out64 = single.transform(X32), double.transform(X64)
    assert out32.dtype == np.float32
    assert np.abs(out32 - out64).max() <= 1e-6 * np.abs(out64).max()


def test_an_orthogonal_map_that_cannot_guard_in_float64_is_replaced():
    # Found by the property test below: two features 1e2 apart in units and
    # equal but for 1e-10 times the concept, and a third 1e-41 below them.
    # The projection orthogonal in X's units reads the 1e-10 difference with
    # a unit-norm readout, whose rounding (1e-16 / 1e-10 of the third
    # feature) swamps the guard; the fit sees it and uses the correlation
    # scale instead.
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    base = rng.normal(size=60) + y
    X = np.column_stack([
        base, rng.normal(size=60) + y, base + 1e-10 * (rng.normal(size=60) + y)
    ]) * [1e21, 1e-18, 3.6e23]
    with pytest.warns(UserWarning, match="fit: method='orth' would leave .* correlation scale"):
        eraser = LinearConceptEraser("orth").fit(X, y)
    assert eraser.rank_ == 2
    assert guard_correlation(X, eraser.transform(X), one_hot(y)) <= 1e-12


@pytest.mark.parametrize("method", ["leace", "orth", "splice"])
def test_a_map_that_fails_its_check_is_replaced_by_the_correlation_scale_projection(
    monkeypatch, method
):
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    std = X.std(axis=0)
    expected = LinearConceptEraser("orth").fit(X / std, y).transform(X / std) * std
    monkeypatch.setattr(_eraser, "GUARD_TOLERANCE", 0.0)  # every check fails
    with pytest.warns(UserWarning, match=f"fit: method='{method}' would leave"):
        eraser = fit_any({"method": method}, X, y)
    np.testing.assert_allclose(eraser.transform(X), expected, atol=1e-10)


# Hypothesis: shapes with n < d, one unit for all columns or one per column
# from 1e-150 to 1e150, weights with zeros, duplicated rows, near-collinear
# columns whose tiny difference carries the concept.

HOSTILE = settings(max_examples=30, deadline=None, derandomize=True)


@st.composite
def concept_data(draw, collinear_gaps=(0.0, 1e-12, 1e-8, 1e-4)):
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    n_samples = draw(st.integers(4, 40))
    n_features = draw(st.integers(1, 12))
    n_classes = draw(st.integers(2, 4))
    y = np.concatenate([np.arange(n_classes), rng.randint(0, n_classes, n_samples)])
    X = rng.normal(size=(y.size, n_features)) + draw(st.floats(0, 3)) * rng.normal(
        size=(n_classes, n_features)
    )[y]
    if draw(st.booleans()):
        copies = rng.randint(y.size, size=y.size // 3)
        X, y = np.vstack([X, X[copies]]), np.concatenate([y, y[copies]])
    if n_features >= 2 and draw(st.booleans()):
        i, j = rng.choice(n_features, 2, replace=False)
        gap = draw(st.sampled_from(collinear_gaps))
        X[:, j] = X[:, i] + gap * (rng.normal(size=y.size) + rng.normal(size=n_classes)[y])
    X += draw(st.sampled_from([0.0, 100.0])) * rng.normal(size=n_features)
    weights = None
    if draw(st.booleans()):
        weights = rng.randint(0, 3, y.size).astype(float)
        weights[:n_classes] = 1.0  # every class keeps a row
    if draw(st.booleans()):
        units = 10.0 ** rng.uniform(-150, 150, size=n_features)
    else:
        units = np.full(n_features, 10.0 ** draw(st.floats(-150, 150)))
    return X, units, y, weights


@HOSTILE
@given(concept_data(), st.sampled_from(GUARDED_PARAMS))
def test_the_guard_holds_on_hostile_data(case, params):
    """Cov(r(X), Z) = 0 to rounding and at most classes - 1 directions, always.

    The bound is half of float64's digits: what the least-squares readout
    can lose on nearly collinear features (the fit falls back to the
    orthogonal projection beyond it); on well-conditioned data it is 1e-15.
    """
    X, units, y, weights = case
    X = X * units
    try:
        eraser = fit_any(params, X, y, sample_weight=weights)
    except ValueError as exc:  # a SPLICE target aligned with the concept
        assert "overlap the target" in str(exc)
        return
    X_erased = eraser.transform(X)
    assert np.all(np.isfinite(X_erased))
    assert eraser.rank_ <= np.unique(y).size - 1
    assert guard_correlation(X, X_erased, one_hot(y), weights) <= 1e-8


@HOSTILE
@given(concept_data(collinear_gaps=(0.0,)), st.sampled_from(GUARDED_PARAMS))
def test_the_eraser_does_not_depend_on_units(case, params):
    """LEACE and SPLICE are equivariant under rescaling each feature, and every
    method under rescaling all of them: the same map in any units.

    (Repeated columns, but no nearly collinear ones: there the map is as
    ill-conditioned as the covariance, and two units give two roundings.)
    """
    X, units, y, weights = case
    if params.get("method") == "orth":
        units = np.full_like(units, units[0])  # orthogonality has one unit
    try:
        expected = fit_any(params, X, y, sample_weight=weights).transform(X)
    except ValueError as exc:
        assert "overlap the target" in str(exc)
        return
    X_erased = fit_any(params, X * units, y, sample_weight=weights).transform(X * units)
    np.testing.assert_allclose(X_erased / units, expected, atol=1e-8 * np.abs(expected).max())


@HOSTILE
@given(concept_data(), st.sampled_from(GUARDED_PARAMS))
def test_float32_fits_equal_the_float64_fit_of_the_same_numbers(case, params):
    X, units, y, weights = case
    X32 = (X * np.clip(units[0], 1e-30, 1e30)).astype(np.float32)  # float32's range
    try:
        single = fit_any(params, X32, y, sample_weight=weights)
    except ValueError as exc:
        assert "overlap the target" in str(exc)
        return
    double = fit_any(params, X32.astype(np.float64), y, sample_weight=weights)
    np.testing.assert_array_equal(single.concept_readout_, double.concept_readout_)
    np.testing.assert_array_equal(single.concept_directions_, double.concept_directions_)


@HOSTILE
@given(concept_data(), st.sampled_from(["leace", "orth"]), st.integers(2, 5))
def test_streaming_at_any_scale_keeps_the_guard(case, method, n_chunks):
    # Chunks sorted by the first feature differ in magnitude and mean, so
    # the merge rescales the running moments' units batch by batch.
    X, units, y, weights = case
    X = X * units
    stream = LinearConceptEraser(method)
    order = np.argsort(X[:, 0], kind="stable")
    for chunk in np.array_split(order, min(n_chunks, y.size // 2)):  # 2 rows at least
        if weights is not None and not weights[chunk].any():
            continue  # partial_fit rejects a batch of zero weight
        stream.partial_fit(
            X[chunk], y[chunk], sample_weight=None if weights is None else weights[chunk],
            classes=np.unique(y),
        )
    assert stream.rank_ <= np.unique(y).size - 1
    assert guard_correlation(X, stream.transform(X), one_hot(y), weights) <= 1e-8


def test_rlace_closed_form_is_orth_in_any_units():
    # The concept in a column of 1e-33 units: projected in raw units, the
    # closed-form R-LACE left it decodable by a standardised probe (0.96).
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 400)
    X = rng.normal(size=(400, 2))
    X[:, 0] = (X[:, 0] + 3 * y) * 1e-33
    rlace = LinearConceptEraser("rlace").fit(X, y)
    orth = LinearConceptEraser("orth").fit(X, y)
    assert rlace.n_iter_ == 1
    np.testing.assert_allclose(rlace.transform(X), orth.transform(X), rtol=1e-12, atol=0)
    erased = rlace.transform(X)
    assert balanced_probe_score_standardised(erased, y) < 0.6


def balanced_probe_score_standardised(X, y):
    from sklearn.model_selection import cross_val_score

    probe = make_pipeline(StandardScaler(), LogisticRegression())
    return cross_val_score(probe, X, y, scoring="balanced_accuracy", cv=5).mean()


@pytest.mark.parametrize("method", ["leace", "orth"])
def test_concept_with_exactly_equal_class_means_is_left_alone(method):
    """Nothing to erase: every row's negation is in its class (the XOR of two signs), so
    the class means are equal to rounding. The least-squares edit is none; a rank decision
    on a cross-covariance of pure rounding used to erase a direction of noise, moving a
    feature by 3.5 of its units and the nonlinear concept with it."""
    rng = np.random.RandomState(0)
    half = rng.normal(size=(500, 4))
    signs = np.sign(half[:, 0] * half[:, 1])
    X, y = np.vstack([half, -half]), np.concatenate([signs, signs])
    eraser = LinearConceptEraser(method=method).fit(X, y)
    assert eraser.rank_ == 0
    np.testing.assert_array_equal(eraser.transform(X), X)
    # A concept one part in a million of the spread away from guarded is still erased.
    X_shifted = X + 1e-6 * (y == 1)[:, None]
    assert LinearConceptEraser(method=method).fit(X_shifted, y).rank_ == 1
