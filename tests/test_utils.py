import numpy as np
import pytest
from scipy import sparse
from sklearn import config_context
from sklearn.base import TransformerMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from skembed import SensitivitySampler
from skembed.utils import (
    _neighbors,
    all_estimators,
    exact_kneighbors,
    sparse_row_kneighbors,
)


def test_all_estimators_lists_public_classes_sorted():
    estimators = all_estimators()
    names = [name for name, _ in estimators]
    assert names == sorted(names)
    assert all(not name.startswith("_") for name in names)
    assert all_estimators(type_filter="transformer") == [
        (n, c) for n, c in estimators if issubclass(c, TransformerMixin)
    ]
    # A meta-estimator's passthrough transform does not make it a transformer.
    assert "CoresetEstimator" not in dict(all_estimators(type_filter="transformer"))
    assert dict(all_estimators(type_filter="sampler")) == {"SensitivitySampler": SensitivitySampler}


def test_all_estimators_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown type_filter"):
        all_estimators(type_filter="regresor")


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("working_memory", [None, 1])
def test_exact_kneighbors_matches_sklearn(metric, working_memory):
    X = np.random.RandomState(0).normal(size=(3000, 8))
    with config_context(working_memory=working_memory):  # 1 MiB: many chunks
        distances, indices = exact_kneighbors(X, 7, metric=metric)
    ref = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(X)
    ref_distances, ref_indices = ref.kneighbors()
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(distances, ref_distances, atol=1e-10)


def test_exact_kneighbors_query_rows_and_new_points():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(120, 5))
    rows = np.array([3, 50, 7])
    ref = NearestNeighbors(n_neighbors=4).fit(X)
    np.testing.assert_array_equal(
        exact_kneighbors(X, 3, queries=rows, return_distance=False),
        ref.kneighbors(X[rows])[1][:, 1:],
    )
    new = rng.normal(size=(6, 5))
    np.testing.assert_array_equal(
        exact_kneighbors(X, 4, queries=new, return_distance=False), ref.kneighbors(new)[1]
    )


def test_exact_kneighbors_all_points_and_float32():
    X = np.random.RandomState(2).normal(size=(10, 3)).astype(np.float32)
    distances, indices = exact_kneighbors(X, 9)
    assert distances.dtype == np.float32
    assert all(set(row) == set(range(10)) - {i} for i, row in enumerate(indices))
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_exact_kneighbors_duplicates_exclude_the_query_itself():
    X = np.array([[0.0], [0.0], [0.0], [5.0], [6.0]])
    indices = exact_kneighbors(X, 2, return_distance=False)
    for i in range(3):
        assert i not in indices[i] and set(indices[i]) == {0, 1, 2} - {i}
    np.testing.assert_array_equal(indices[3:, 0], [4, 3])  # then a tie among 0, 1, 2


def test_exact_kneighbors_cosine_distances_and_zero_rows():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, -0.1]])
    distances, indices = exact_kneighbors(X, 3, queries=np.array([0]), metric="cosine")
    np.testing.assert_array_equal(indices, [[2, 1, 3]])
    np.testing.assert_allclose(distances, [[1 - np.sqrt(0.5), 1.0, 1 + 1 / np.hypot(1, 0.1)]])
    X[3] = 0
    with pytest.raises(ValueError, match="all-zero row"):
        exact_kneighbors(X, 2, metric="cosine")


def test_exact_kneighbors_rejects_impossible_requests():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="between 1 and 4"):
        exact_kneighbors(X, 5)
    with pytest.raises(ValueError, match="unknown metric"):
        exact_kneighbors(X, 2, metric="manhattan")


def _brute_force_row_graph(A, k):
    """k nearest rows by cosine among rows with a positive cosine, ties to the smaller row."""
    rows = normalize(abs(A).toarray())
    products = rows @ rows.T
    np.fill_diagonal(products, -np.inf)
    nearest = np.argsort(-products, axis=1, kind="stable")[:, :k]
    graph = np.zeros(products.shape)
    positive = np.take_along_axis(products, nearest, axis=1) > 0
    np.put_along_axis(graph, nearest, positive.astype(float), axis=1)
    return graph


@pytest.mark.parametrize("pairs_per_block", [None, 50])
def test_sparse_row_kneighbors_equals_brute_force(monkeypatch, pairs_per_block):
    # Sparse rows (few overlaps, some rows with fewer than k overlapping rows),
    # and with a tiny pair budget: many blocks, same graph.
    if pairs_per_block is not None:
        monkeypatch.setattr(_neighbors, "ROW_PAIRS_PER_BLOCK", pairs_per_block)
    rng = np.random.RandomState(7)
    A = sparse.random(150, 150, density=0.03, random_state=rng, format="csr")
    graph = sparse_row_kneighbors(A, 4)
    np.testing.assert_array_equal(graph.toarray(), _brute_force_row_graph(A, 4))
    assert graph.getnnz(axis=1).min() < 4  # the "fewer overlaps" case is exercised


def test_sparse_row_kneighbors_dense_path_matches_the_sparse_path():
    rng = np.random.RandomState(9)
    A = sparse.random(60, 60, density=0.2, random_state=rng, format="csr")
    dense = _neighbors._dense_row_kneighbors(normalize(A).toarray(), 4)
    assert (dense != sparse_row_kneighbors(A, 4)).nnz == 0
    np.testing.assert_array_equal(dense.toarray(), _brute_force_row_graph(A, 4))


def test_sparse_row_kneighbors_rejects_bad_input():
    with pytest.raises(ValueError, match="negative entries"):
        sparse_row_kneighbors(-sparse.eye(4, format="csr"), 1)
    with pytest.raises(ValueError, match="at least 1"):
        sparse_row_kneighbors(sparse.eye(4, format="csr"), 0)
