import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skembed.metrics import clustering_accuracy, knn_recall, linear_probe_accuracy


def test_knn_recall_is_one_under_similarity_and_low_at_random():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 10))
    rotation = np.linalg.qr(rng.normal(size=(10, 10)))[0]
    assert knn_recall(X, 3 * X @ rotation + 1, n_neighbors=10) == 1.0
    random = knn_recall(X, rng.normal(size=(400, 10)), n_neighbors=10)
    assert random < 0.1


def test_knn_recall_by_hand():
    X_ref = np.array([[0.0], [1.0], [2.0], [10.0]])
    X_emb = np.array([[0.0], [5.0], [1.0], [1.5]])
    # k=1 reference neighbours: 0->1, 1->0 (tie with 2: lower index), 2->1, 3->2
    # embedded neighbours:      0->2, 1->3, 2->3, 3->2
    assert knn_recall(X_ref, X_emb, n_neighbors=1) == 0.25


def test_knn_recall_pca_improves_with_components():
    X = np.random.RandomState(0).normal(size=(300, 20)) * np.linspace(3, 0.1, 20)
    recalls = [
        knn_recall(X, PCA(k).fit_transform(X), n_neighbors=10, n_queries=100, random_state=0)
        for k in (2, 5, 20)
    ]
    assert recalls[0] < recalls[1] < recalls[2] == pytest.approx(1.0)


def test_knn_recall_queries_are_reproducible():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    a = knn_recall(X, X + 0.3 * Y, n_queries=50, random_state=1)
    assert a == knn_recall(X, X + 0.3 * Y, n_queries=50, random_state=1)


def test_knn_recall_errors():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="X_reference has 5 rows but X_embedded has 4"):
        knn_recall(X, X[:4])
    with pytest.raises(ValueError, match="n_neighbors=5 must be smaller"):
        knn_recall(X, X, n_neighbors=5)
    with pytest.raises(ValueError, match="knn_recall: Input X_embedded contains NaN"):
        knn_recall(X, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="n_neighbors"):
        knn_recall(X, X, n_neighbors=0)


def test_clustering_accuracy():
    assert clustering_accuracy([0, 0, 1, 1], [5, 5, 3, 3]) == 1.0
    assert clustering_accuracy([0, 0, 1, 1, 2], [1, 1, 0, 0, 0]) == 0.8
    # More clusters than classes: the extra cluster counts as errors.
    assert clustering_accuracy([0, 0, 0, 1], [0, 1, 2, 2]) == 0.5
    assert clustering_accuracy(["a", "b", "a"], [1, 0, 1]) == 1.0
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clustering_accuracy([0, 1], [0])


def test_linear_probe_accuracy_cv_and_test_split():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.1 * rng.normal(size=400) > 0).astype(int)
    assert linear_probe_accuracy(X, y) > 0.9
    assert linear_probe_accuracy(X[:300], y[:300], X[300:], y[300:]) > 0.9
    # Erased feature: chance level.
    X_erased = X.copy()
    X_erased[:, 0] = 0
    assert linear_probe_accuracy(X_erased, y) < 0.65
    custom = linear_probe_accuracy(X, y, probe=LogisticRegression(C=1e-4))
    assert 0 <= custom <= 1


def test_linear_probe_accuracy_errors():
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="1 class"):
        linear_probe_accuracy(X, np.zeros(20))
    with pytest.raises(ValueError, match="both X_test and y_test"):
        linear_probe_accuracy(X, np.arange(20) % 2, X_test=X)
    with pytest.raises(ValueError, match="X has 3 features but X_test has 2"):
        linear_probe_accuracy(X, np.arange(20) % 2, X[:, :2], np.arange(20) % 2)


def test_knn_recall_of_held_out_queries_equals_brute_force():
    rng = np.random.RandomState(0)
    X, Q = rng.normal(size=(300, 10)), rng.normal(size=(40, 10))
    projection = np.linalg.qr(rng.normal(size=(10, 3)))[0]
    recall = knn_recall(X, X @ projection, n_neighbors=5,
                        queries_reference=Q, queries_embedded=Q @ projection)

    def neighbours(collection, queries):
        distances = ((queries[:, None, :] - collection[None, :, :]) ** 2).sum(axis=2)
        return np.argsort(distances, axis=1)[:, :5]

    truth, kept = neighbours(X, Q), neighbours(X @ projection, Q @ projection)
    expected = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(truth, kept)])
    assert recall == pytest.approx(expected)
    assert 0 < recall < 1
    # A query equal to a row of the collection finds that row (it is not the row).
    exact = knn_recall(X, 2 * X, n_neighbors=1, queries_reference=X[:5],
                       queries_embedded=2 * X[:5])
    assert exact == 1.0
    # n_queries subsamples the new points, reproducibly.
    a = knn_recall(X, X @ projection, 5, n_queries=10, random_state=0,
                   queries_reference=Q, queries_embedded=Q @ projection)
    b = knn_recall(X, X @ projection, 5, n_queries=10, random_state=0,
                   queries_reference=Q, queries_embedded=Q @ projection)
    assert a == b


@pytest.mark.parametrize("kwargs, message", [
    ({"queries_reference": np.zeros((3, 10))}, "pass both queries_reference"),
    ({"queries_reference": np.zeros((3, 9)), "queries_embedded": np.zeros((3, 10))},
     "queries_reference has 9 columns"),
    ({"queries_reference": np.zeros((3, 10)), "queries_embedded": np.zeros((2, 10))},
     "queries_reference has 3 rows but queries_embedded has 2"),
    ({"queries_reference": np.full((3, 10), np.nan), "queries_embedded": np.zeros((3, 10))},
     "NaN"),
])
def test_knn_recall_held_out_query_errors(kwargs, message):
    X = np.random.RandomState(0).normal(size=(50, 10))
    with pytest.raises(ValueError, match=message):
        knn_recall(X, X, n_neighbors=3, **kwargs)
