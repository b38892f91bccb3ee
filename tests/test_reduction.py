"""NNPreservingReducer: objectives, gradients, guarantees and errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA

from skembed import NNPreservingReducer
from skembed.datasets import make_subspaces
from skembed.metrics import knn_recall
from skembed.reduction._margin import margin_loss_and_gradient, orthogonality_penalty
from skembed.reduction._mpad import mpad_objective_and_gradient


def numerical_gradient(function, W, step=1e-6):
    gradient = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        plus, minus = W.copy(), W.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (function(plus) - function(minus)) / (2 * step)
    return gradient


def test_margin_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 7))
    W = rng.normal(size=(7, 3))
    queries = np.arange(5)
    candidates = rng.randint(0, 40, size=(5, 9))
    is_neighbour = np.zeros((5, 9), dtype=bool)
    is_neighbour[:, :3] = True
    valid = rng.rand(5, 9) > 0.2
    valid[:, :3] = True

    def loss(W_):
        return margin_loss_and_gradient(W_, X, queries, candidates, is_neighbour, 0.8, valid)[0]

    analytic = margin_loss_and_gradient(W, X, queries, candidates, is_neighbour, 0.8, valid)[1]
    np.testing.assert_allclose(analytic, numerical_gradient(loss, W), rtol=1e-5, atol=1e-7)


def test_orthogonality_penalty_gradient():
    W = np.random.RandomState(1).normal(size=(6, 3))
    analytic = orthogonality_penalty(W, 0.7)[1]
    numeric = numerical_gradient(lambda W_: orthogonality_penalty(W_, 0.7)[0], W)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_mpad_subgradient_matches_finite_differences():
    rng = np.random.RandomState(2)
    differences = rng.normal(size=(200, 6))
    W = rng.normal(size=(6, 2))
    W /= np.linalg.norm(W, axis=0)

    def objective(W_):
        return mpad_objective_and_gradient(W_, differences, 0.1, 0.5)[0]

    analytic = mpad_objective_and_gradient(W, differences, 0.1, 0.5)[1]
    # Away from ties the tail set is fixed for tiny steps: the subgradient is the gradient.
    np.testing.assert_allclose(analytic, numerical_gradient(objective, W, 1e-8), rtol=1e-4, atol=1e-6)


def test_mpad_tail_mean_by_hand():
    differences = np.array([[1.0], [-2.0], [3.0], [-4.0]])
    value, gradient = mpad_objective_and_gradient(np.array([[1.0]]), differences, 0.5, 0.0)
    assert value == pytest.approx(1.5)  # mean of the two smallest |gaps|: 1 and 2
    np.testing.assert_allclose(gradient, [[(1 + 2) / 2]])  # sign(g) * delta = |delta|


def test_recall_near_one_on_a_subspace_at_its_dimension():
    X, _ = make_subspaces(n_samples=600, n_features=30, n_subspaces=1, subspace_dim=5,
                          noise=0.01, random_state=0)
    reducer = NNPreservingReducer(n_components=5, max_iter=3, random_state=0).fit(X)
    assert reducer.score(X) > 0.95


@pytest.mark.parametrize("method", ["margin", "mpad"])
def test_never_below_pca_start_in_training_recall(method):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(800, 20)) * np.linspace(2, 0.5, 20)
    reducer = NNPreservingReducer(n_components=4, method=method, max_iter=4,
                                  random_state=0).fit(X)
    history = reducer.recall_history_
    assert max(history) >= history[0]
    # The kept map is the best seen, the PCA start included.
    pca_recall = knn_recall(X, PCA(4).fit_transform(X), n_neighbors=10)
    assert reducer.score(X) >= pca_recall - 0.02


def test_margin_beats_pca_on_clustered_data():
    X, _ = make_subspaces(n_samples=1500, n_features=40, n_subspaces=15, subspace_dim=3,
                          noise=0.05, random_state=1)
    reducer = NNPreservingReducer(n_components=6, max_iter=6, random_state=0).fit(X)
    pca_recall = knn_recall(X, PCA(6).fit_transform(X), n_neighbors=10)
    assert reducer.score(X) > pca_recall + 0.02


def test_transform_is_linear_deterministic_and_near_orthonormal():
    X = np.random.RandomState(0).normal(size=(300, 12))
    a = NNPreservingReducer(n_components=3, max_iter=2, random_state=4).fit(X)
    b = NNPreservingReducer(n_components=3, max_iter=2, random_state=4).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    X1, X2 = X[:50], X[50:100]
    np.testing.assert_allclose(
        a.transform(0.3 * X1 + 0.7 * X2), 0.3 * a.transform(X1) + 0.7 * a.transform(X2),
        atol=1e-10,
    )
    np.testing.assert_allclose(a.transform(X), (X - a.mean_) @ a.components_.T, atol=1e-12)
    gram = a.components_ @ a.components_.T
    assert np.abs(gram - np.eye(3)).max() < 0.1


def test_cosine_metric_ignores_row_norms():
    X = np.random.RandomState(0).normal(size=(200, 8))
    reducer = NNPreservingReducer(n_components=3, metric="cosine", max_iter=2,
                                  random_state=0).fit(X)
    scales = np.random.RandomState(1).uniform(0.5, 3, size=(200, 1))
    np.testing.assert_allclose(reducer.transform(X * scales), reducer.transform(X), atol=1e-12)


def test_feature_names_out_and_pandas():
    pd = pytest.importorskip("pandas")
    X = np.random.RandomState(0).normal(size=(100, 6))
    out = (NNPreservingReducer(n_components=2, max_iter=1, random_state=0)
           .set_output(transform="pandas").fit_transform(pd.DataFrame(X)))
    assert list(out.columns) == ["nnpreservingreducer0", "nnpreservingreducer1"]


@pytest.mark.parametrize(
    "params, shape, match",
    [
        (dict(n_components=6), (50, 6), "n_components=6 must be smaller than n_features=6"),
        (dict(n_components=2, n_neighbors=30), (20, 6), "minimum of 31 is required"),
        (dict(n_components=8, n_neighbors=2), (5, 10), "minimum of 8 is required"),
    ],
)
def test_errors(params, shape, match):
    X = np.random.RandomState(0).normal(size=shape)
    with pytest.raises(ValueError, match=match):
        NNPreservingReducer(**params).fit(X)


def test_query_sample_on_large_data_and_thread_limit():
    X, _ = make_subspaces(n_samples=1200, n_features=20, n_subspaces=12, subspace_dim=2,
                          noise=0.05, random_state=3)
    reducer = NNPreservingReducer(n_components=4, max_queries=200, max_iter=3, n_jobs=1,
                                  random_state=0).fit(X)
    assert reducer.n_iter_ >= 1
    assert max(reducer.recall_history_) >= reducer.recall_history_[0]
    np.testing.assert_allclose(reducer.transform(X), (X - reducer.mean_) @ reducer.components_.T)


def test_objective_is_the_deprecated_name_of_method():
    X = np.random.RandomState(0).normal(size=(150, 8))
    expected = NNPreservingReducer(2, method="mpad", max_iter=1, random_state=0).fit(X)
    old = NNPreservingReducer(2, objective="mpad", max_iter=1, random_state=0)
    with pytest.warns(FutureWarning, match="'objective' was renamed 'method'.*method='mpad'"):
        old.fit(X)
    np.testing.assert_array_equal(old.components_, expected.components_)
    assert old.get_params()["objective"] == "mpad"  # clone and grid search still see it


def test_method_default_does_not_warn():
    X = np.random.RandomState(0).normal(size=(100, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        NNPreservingReducer(2, max_iter=1, random_state=0).fit(X)


@pytest.mark.parametrize(
    "method, unused",
    [("margin", {"tail_fraction": 0.7}), ("mpad", {"temperature": 3.0, "batch_size": 7,
                                                   "max_queries": 5})],
)
def test_parameters_of_the_other_method_are_ignored(method, unused):
    X = np.random.RandomState(0).normal(size=(150, 8))
    base = NNPreservingReducer(2, method=method, max_iter=1, random_state=0).fit(X)
    other = NNPreservingReducer(2, method=method, max_iter=1, random_state=0, **unused).fit(X)
    np.testing.assert_array_equal(other.components_, base.components_)


# ----------------------------------------------------------------------
# Units: the fit does not depend on a global rescaling of X
# ----------------------------------------------------------------------

def test_margin_fit_does_not_depend_on_the_units():
    # Was: a floor of 1e-12 on the temperature changed the fit on X * 1e-7
    # and stalled it on X * 1e-8 (recall history 0.1705, 0.1702, 0.1693).
    X = np.random.RandomState(0).normal(size=(600, 32))
    reference = NNPreservingReducer(n_components=8, max_iter=3, random_state=0).fit(X)
    np.testing.assert_allclose(reference.recall_history_, [0.1705, 0.1768, 0.1765, 0.1737],
                               atol=5e-5)
    for scale in (1e-7, 1e-8):
        scaled = NNPreservingReducer(n_components=8, max_iter=3, random_state=0).fit(X * scale)
        assert scaled.recall_history_ == reference.recall_history_
        np.testing.assert_allclose(scaled.transform(X * scale) / scale, reference.transform(X),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("params", [{}, {"method": "mpad"}, {"metric": "cosine"},
                                    {"method": "mpad", "metric": "cosine"}],
                         ids=["margin", "mpad", "margin-cosine", "mpad-cosine"])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), exponent=st.floats(-150, 150),
       shape=st.sampled_from([(60, 10), (30, 40)]))
def test_fit_does_not_depend_on_a_global_rescaling(params, seed, exponent, shape):
    """Recall history, map and score on s X are those on X (the transform times s).

    Scales from 1e-150 to 1e150, fewer points than dimensions and two nearly
    collinear columns. (Not duplicated rows: two copies tie at the k-th
    neighbour of the points near them, and rounding, which differs between
    X and s X, decides which copy counts for recall.)
    """
    rng = np.random.RandomState(seed)
    X = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=shape[1])
    X[:, 1] = X[:, 0] + 1e-6 * rng.normal(size=shape[0])
    scale = 10.0**exponent
    options = dict(n_components=3, n_neighbors=4, n_negatives=5, max_iter=2, random_state=0,
                   **params)
    reference = NNPreservingReducer(**options).fit(X)
    scaled = NNPreservingReducer(**options).fit(X * scale)
    assert scaled.recall_history_ == reference.recall_history_
    np.testing.assert_allclose(scaled.components_, reference.components_, rtol=1e-6, atol=1e-9)
    expected = reference.transform(X)
    factor = 1.0 if params.get("metric") == "cosine" else scale
    np.testing.assert_allclose(scaled.transform(X * scale) / factor, expected, rtol=1e-6,
                               atol=1e-9 * np.abs(expected).max())
    assert scaled.score(X * scale) == reference.score(X)


@pytest.mark.parametrize("shape, expected", [((200, 50), 25), ((200, 384), 64),
                                             ((30, 3), 1), ((6, 40), 6)])
def test_default_output_dimension_adapts_to_the_data(shape, expected):
    X = np.random.RandomState(0).normal(size=shape)
    reducer = NNPreservingReducer(max_iter=1, random_state=0).fit(X)
    assert reducer.n_components_ == expected == reducer.transform(X).shape[1]
    assert reducer.n_neighbors_ == min(10, shape[0] - 1)


def test_explicit_sizes_are_not_adapted():
    X = np.random.RandomState(0).normal(size=(8, 5))
    with pytest.raises(ValueError, match="minimum of 11"):
        NNPreservingReducer(n_components=2, n_neighbors=10).fit(X)
    with pytest.raises(ValueError, match="n_components=5 must be smaller than n_features=5"):
        NNPreservingReducer(n_components=5, n_neighbors=3).fit(np.vstack([X, X]))


@pytest.mark.parametrize("method", ["margin", "mpad"])
def test_verbose_prints_one_line_per_epoch(capsys, method):
    import re

    X = np.random.RandomState(0).normal(size=(200, 10))
    params = dict(n_components=3, method=method, max_iter=3, random_state=0)
    NNPreservingReducer(**params).fit(X)
    assert capsys.readouterr() == ("", "")
    for verbose in (1, 2):  # the reducer has no chunks: level 2 prints as 1
        reducer = NNPreservingReducer(verbose=verbose, **params).fit(X)
        lines = capsys.readouterr().out.splitlines()
        matches = [re.fullmatch(r"\[NNPreservingReducer\] epoch (\d+): loss (-?\d+\.\d{4}), "
                                r"held-out recall@10 (\d\.\d{4}) \((\d+\.\d\d) s\)", line)
                   for line in lines]
        assert all(matches), lines
        assert reducer.n_iter_ >= 1
        assert [int(m.group(1)) for m in matches] == list(range(1, reducer.n_iter_ + 1))
        recalls = [float(m.group(3)) for m in matches]
        np.testing.assert_allclose(recalls, reducer.recall_history_[1:], atol=5e-5)
        seconds = [float(m.group(4)) for m in matches]
        assert seconds == sorted(seconds)  # elapsed since fit began
