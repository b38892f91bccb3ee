import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skembed.metrics import (
    _RegularizedQDA,
    clustering_accuracy,
    guardedness_report,
    knn_recall,
    linear_probe_accuracy,
)


def test_knn_recall_is_one_under_similarity_and_low_at_random():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 10))
    rotation = np.linalg.qr(rng.normal(size=(10, 10)))[0]
    assert knn_recall(X, 3 * X @ rotation + 1, n_neighbors=10) == 1.0
    random = knn_recall(X, rng.normal(size=(400, 10)), n_neighbors=10)
    assert random < 0.1


@pytest.mark.parametrize("factor", [1e160, 1e-200])
def test_knn_recall_does_not_depend_on_the_scale_of_a_representation(factor):
    # Squared distances of rows at 1e160 overflow, of rows at 1e-200 underflow;
    # neighbours are the same in any multiple of a representation.
    rng = np.random.RandomState(0)
    X, Q = rng.normal(size=(200, 5)), rng.normal(size=(20, 5))
    assert knn_recall(X, factor * X, n_neighbors=5) == 1.0
    assert knn_recall(factor * X, X, n_neighbors=5, queries_reference=factor * Q,
                      queries_embedded=Q) == 1.0


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


# ----------------------------------------------------------------------------
# guardedness_report
# ----------------------------------------------------------------------------


def _accuracies(report, key="accuracy"):
    return {row["probe"]: row[key] for row in report.table}


def test_guardedness_report_linearly_decodable_concept_is_found_by_every_probe():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    report = guardedness_report(X, y, random_state=0)
    accuracy = _accuracies(report)
    assert list(accuracy) == ["majority", "linear", "quadratic", "rbf_svm", "mlp"]
    assert abs(report.majority_rate - 0.5) < 0.05
    assert report.majority_rate == accuracy["majority"]
    for probe in ("linear", "quadratic", "rbf_svm", "mlp"):
        assert accuracy[probe] > 0.9, (probe, accuracy)
    assert report.mean_squared_edit is None and report.neighbour_retention is None
    assert set(report.seconds) == {"linear", "quadratic", "rbf_svm", "mlp"}


@pytest.mark.parametrize("concept", ["xor", "spheres"])
def test_guardedness_report_nonlinear_concept_escapes_the_linear_probe_only(concept):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(800, 4))
    if concept == "xor":
        y = (X[:, 0] * X[:, 1] > 0).astype(int)
    else:
        norms = np.linalg.norm(X, axis=1)
        y = (norms > np.median(norms)).astype(int)
    report = guardedness_report(X, y, random_state=0)
    accuracy = _accuracies(report)
    balanced = _accuracies(report, "balanced_accuracy")
    assert abs(accuracy["linear"] - report.majority_rate) < 0.1
    for probe in ("rbf_svm", "mlp"):
        assert accuracy[probe] > 0.85 and balanced[probe] > 0.85, (probe, accuracy)
    assert accuracy["quadratic"] > 0.75  # XOR and spheres differ in covariance


def test_guardedness_report_random_labels_stay_near_the_majority_rate():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 5))
    y = rng.choice(["a", "b", "c"], size=600, p=[0.5, 0.3, 0.2])
    report = guardedness_report(X, y, random_state=0)
    assert report.table[0]["balanced_accuracy"] == pytest.approx(1 / 3)
    for row in report.table[1:]:
        # A constant beats a probe that guesses; no probe beats the constant by much.
        assert row["accuracy"] < report.majority_rate + 0.06, row
        assert abs(row["balanced_accuracy"] - 1 / 3) < 0.08, row
    assert list(report.classes) == ["a", "b", "c"]


def test_guardedness_report_edit_and_neighbour_retention_exact():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = np.arange(300) % 2
    same = guardedness_report(X, y, X_original=X, probes=["linear"])
    assert same.mean_squared_edit == 0.0 and same.neighbour_retention == 1.0
    shifted = guardedness_report(X + np.r_[3.0, 4.0, np.zeros(6)], y, X_original=X,
                                 probes=["linear"])
    assert shifted.mean_squared_edit == pytest.approx(25.0)  # ||(3, 4)||^2, every row
    assert shifted.neighbour_retention == 1.0  # a translation keeps every neighbour
    permuted = guardedness_report(X[rng.permutation(300)], y, X_original=X,
                                  probes=["linear"], n_neighbors=5)
    assert permuted.neighbour_retention < 0.1
    # The edit is the mean over rows of the squared distance, by hand.
    X_erased = X.copy()
    X_erased[:, 0] = 0
    report = guardedness_report(X_erased, y, X_original=X, probes=["linear"])
    assert report.mean_squared_edit == pytest.approx(np.mean(X[:, 0] ** 2))
    records = report.records()
    assert [r["probe"] for r in records] == ["majority", "linear"]
    assert all(r["mean_squared_edit"] == report.mean_squared_edit
               and r["neighbour_retention"] == report.neighbour_retention for r in records)


def test_guardedness_report_is_reproducible_and_uses_the_same_test_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] * X[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(int)
    first = guardedness_report(X, y, random_state=3, max_train_samples=150)
    second = guardedness_report(X, y, random_state=3, max_train_samples=150)
    assert first.table == second.table
    other = guardedness_report(X, y, random_state=4, max_train_samples=150)
    assert other.table != first.table
    assert first.table[3]["n_train"] == 150 and first.table[1]["n_train"] == 280
    assert all(row["n_test"] == 120 for row in first.table)
    # Parallel fits give the same figures (threads: no process start-up in a test).
    from joblib import parallel_config

    with parallel_config(backend="threading"):
        parallel = guardedness_report(X, y, random_state=3, max_train_samples=150, n_jobs=2)
    assert parallel.table == first.table


def test_guardedness_report_cross_validation_tests_every_row_once():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    report = guardedness_report(X, y, cv=4, probes=("linear", "quadratic"), random_state=0)
    assert [row["n_test"] for row in report.table] == [200, 200, 200]
    assert report.table[1]["n_train"] == 150 and report.table[1]["accuracy"] > 0.9
    assert "4-fold" in report.evaluation


def test_guardedness_report_units_do_not_matter():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    scaled = X * [1e-33, 1.0, 1e6, 1.0]
    a = guardedness_report(X, y, probes=("linear", "quadratic", "rbf_svm"))
    b = guardedness_report(scaled, y, probes=("linear", "quadratic", "rbf_svm"))
    assert b.table[1]["accuracy"] > 0.9
    for row_a, row_b in zip(a.table, b.table):
        assert row_b["accuracy"] == pytest.approx(row_a["accuracy"], abs=0.02)


def _scale_free_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


@settings(max_examples=15, deadline=None)
@given(exponents=st.lists(st.integers(-900, 900), min_size=4, max_size=4))
@example(exponents=[520, 0, -540, 0])  # the concept at 1e156, a column at 1e-163
def test_guardedness_report_is_the_same_whatever_the_column_scales(exponents):
    """Columns from 1e-271 to 1e271 (2**900), 1e-150 to 1e150 among them: the
    probes see the same standardised features, bit for bit, so the report is
    the same."""
    X, y = _scale_free_data()
    scaled = X * np.ldexp(1.0, exponents)
    assert guardedness_report(scaled, y).table == guardedness_report(X, y).table


@pytest.mark.parametrize("factor", [1e150, 1e154, 1e-170])
def test_guardedness_report_reads_a_concept_in_a_column_at_any_scale(factor):
    # At 1e154 the scalers' squares overflowed: the concept's column was divided
    # by an infinite scale and every probe read chance ("guarded").
    X, y = _scale_free_data()
    scaled = X.copy()
    scaled[:, 0] *= factor  # not a power of two: the same up to one rounding per entry
    expected = guardedness_report(X, y)
    report = guardedness_report(scaled, y)
    assert _accuracies(report)["linear"] > 0.95
    for row, row_expected in zip(report.table, expected.table):
        assert row["probe"] == row_expected["probe"]
        assert row["accuracy"] == pytest.approx(row_expected["accuracy"],
                                                abs=1 / row["n_test"])


def test_guardedness_report_prints_as_a_table():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    report = guardedness_report(X, y, X_original=X, probes=["linear", "quadratic"])
    lines = str(report).splitlines()
    assert lines[0].startswith("stratified split: 70 training rows, 30 test rows")
    assert lines[1].split()[:3] == ["probe", "accuracy", "balanced"]
    assert [line.split()[0] for line in lines[2:5]] == ["majority", "linear", "quadratic"]
    assert lines[5] == "mean squared edit: 0"
    assert lines[6].endswith("neighbours): 1.000")
    assert report.format(digits=1).splitlines()[3].split()[1] == \
        f"{report.table[1]['accuracy']:.1f}"
    assert "not measured" in str(guardedness_report(X, y, probes="linear"))
    pd = pytest.importorskip("pandas")
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["probe", "accuracy", "balanced_accuracy", "n_train",
                                   "n_test", "mean_squared_edit", "neighbour_retention"]


def test_regularized_qda_is_the_gaussian_bayes_classifier_by_hand():
    from scipy.stats import multivariate_normal

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4)) * [1.0, 2.0, 0.5, 1.0]
    y = np.where(X[:, 0] * X[:, 1] > 0, "p", "n")
    qda = _RegularizedQDA(reg_param=0.1).fit(X, y)
    Q = rng.normal(size=(50, 4))
    expected = []
    for label in ("n", "p"):
        rows = X[y == label]
        covariance = 0.9 * np.cov(rows, rowvar=False) + 0.1 * np.eye(4)
        expected.append(np.log(len(rows) / len(X))
                        + multivariate_normal(rows.mean(axis=0), covariance).logpdf(Q))
    expected = np.column_stack(expected)
    scores = qda.decision_function(Q)
    # Equal up to one constant (the Gaussian's normalisation) per row.
    np.testing.assert_allclose(scores - scores[:, :1], expected - expected[:, :1], atol=1e-9)
    np.testing.assert_array_equal(qda.predict(Q), np.array(["n", "p"])[expected.argmax(axis=1)])
    # A class with fewer rows than columns: still defined.
    few = _RegularizedQDA().fit(rng.normal(size=(12, 20)), np.arange(12) % 2)
    assert few.predict(rng.normal(size=(5, 20))).shape == (5,)


@pytest.mark.parametrize("kwargs, message", [
    ({"X_erased": np.full((40, 2), np.nan)}, "guardedness_report: Input X_erased contains NaN"),
    ({"y": np.arange(39) % 2}, "X_erased has 40 rows but y has 39"),
    ({"y": np.zeros(40)}, "y has 1 class"),
    ({"y": np.r_[np.zeros(39), np.nan]}, "y contains NaN"),
    ({"y": np.r_[np.zeros(37), 1, 1, 1]}, "class 1.0 has 3 rows; every class needs at least 4 .2 for training"),
    ({"y": np.array(["b"] * 36 + ["a"] * 4)}, "class 'a' has 1 row in the test rows"),
    ({"X_original": np.zeros((40, 3))}, r"X_erased has shape \(40, 2\) but X_original has "
                                        r"shape \(40, 3\)"),
    ({"X_original": np.zeros((40, 2)), "n_neighbors": 40}, "n_neighbors=40 must be smaller"),
    ({"probes": ["linear", "svm"]}, "unknown probe 'svm'; choose from linear, quadratic"),
    ({"probes": []}, "probes is empty"),
    ({"probes": ["mlp", "mlp"]}, "names a probe twice"),
    ({"test_size": 1.5}, "The 'test_size' parameter of guardedness_report"),
    ({"cv": 1}, "The 'cv' parameter of guardedness_report"),
    ({"cv": 15}, "class 0 has 20 rows; every class needs at least 30 .2 in each of the cv=15"),
    ({"test_size": 0.02}, "cannot split the 40 rows.*another test_size"),
    ({"test_size": 0.95}, "class 0 has 1 row in the training rows"),
])
def test_guardedness_report_errors_before_any_probe_is_fit(kwargs, message, monkeypatch):
    import skembed.metrics as metrics

    def refuse(*args, **kwargs):  # pragma: no cover - reached only on a bug
        raise AssertionError("a probe was fitted before the inputs were checked")

    monkeypatch.setattr(metrics, "_fit_and_predict", refuse)
    arguments = {"X_erased": np.random.RandomState(0).normal(size=(40, 2)),
                 "y": np.arange(40) % 2, **kwargs}
    X_erased, y = arguments.pop("X_erased"), arguments.pop("y")
    with pytest.raises(ValueError, match=message):
        guardedness_report(X_erased, y, **arguments)


def test_guardedness_report_mlp_needs_a_validation_row_per_class():
    X = np.random.RandomState(0).normal(size=(12, 2))
    y = np.repeat([0, 1, 2], 4)
    with pytest.raises(ValueError, match="mlp probe holds out 10% of its 6 training rows"):
        guardedness_report(X, y, test_size=0.5)
    report = guardedness_report(X, y, test_size=0.5, probes=("linear", "quadratic"))
    assert report.table[0]["n_test"] == 6
