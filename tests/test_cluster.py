"""SubspaceClusterer: each self-expression solver against its definition, the
spectral step, predict, and the errors."""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from skembed.cluster import (
    SubspaceClusterer,
    _ssc,
    affinity_from_representation,
    fit_collaborative,
    fit_subspace_bases,
    predict_by_bases,
    predict_collaborative,
    spectral_labels,
)
from skembed.cluster._ensc import ensc_chunk
from skembed.cluster._lsr import lsr_coefficients
from skembed.cluster._omp import omp_chunk
from skembed.cluster._out_of_sample import collaborative_labels, ridge_map
from skembed.cluster._spectral import (
    count_components,
    default_power_rank,
    embedding_kmeans,
    relative_eigengap,
    top_eigenpairs,
)
from skembed.cluster._ssc import _system_inverse, ssc_admm
from skembed.datasets import make_subspaces
from skembed.metrics import clustering_accuracy
from skembed.utils._compat import has_compiled_gram_solver
from skembed.utils.extmath import normalize_rows

METHODS = ["ensc", "ssc", "omp", "lsr", "lrr", "tsc"]
# Per-method settings of the accuracy test: OMP stops at the subspace
# dimension (extra greedy steps on noisy data pick points of other subspaces).
SETTINGS = {"omp": {"n_nonzero": 4}}


@pytest.fixture(scope="module")
def subspaces():
    return make_subspaces(n_samples=500, n_features=30, n_subspaces=5, subspace_dim=4,
                          noise=0.05, random_state=0)


def dense_rows(counts, indices, values, n_samples):
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sparse.csr_matrix((values, indices, indptr),
                             shape=(len(counts), n_samples)).toarray()


def held_out_accuracy(model, X, y, n_fit):
    """Accuracy of ``predict`` on rows ``n_fit:`` of a model fitted on rows ``:n_fit``.

    Clusters are matched to subspaces by majority on the fitted part, so the
    held-out score measures the prediction, not a new matching.
    """
    mapping = {}
    for k in np.unique(model.labels_):
        values, counts = np.unique(y[:n_fit][model.labels_ == k], return_counts=True)
        mapping[k] = values[np.argmax(counts)]
    predicted = np.array([mapping[k] for k in model.predict(X[n_fit:])])
    return np.mean(predicted == y[n_fit:])


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_every_method_recovers_the_subspaces(subspaces, method):
    X, y = subspaces
    model = SubspaceClusterer(5, method=method, random_state=0, **SETTINGS.get(method, {}))
    labels = model.fit_predict(X)
    assert clustering_accuracy(y, labels) >= 0.98
    C = model.representation_matrix_
    assert sparse.issparse(C) and C.shape == (500, 500)
    if method != "lrr":  # LRR has no zero-diagonal constraint
        assert np.all(C.diagonal() == 0)
    assert model.n_clusters_ == 5 and model.n_iter_ >= 1
    assert sparse.issparse(model.affinity_matrix_)
    assert abs(model.affinity_matrix_ - model.affinity_matrix_.T).max() < 1e-12


@pytest.mark.parametrize("method", ["ensc", "ssc", "omp", "tsc"])
def test_sparse_representations_are_subspace_preserving(method):
    X, y = make_subspaces(n_samples=300, n_features=30, n_subspaces=5, subspace_dim=4,
                          noise=0.01, random_state=0)
    model = SubspaceClusterer(5, method=method, random_state=0, **SETTINGS.get(method, {}))
    C = model.fit(X).representation_matrix_.tocoo()
    own = np.abs(C.data)[y[C.row] == y[C.col]].sum() / np.abs(C.data).sum()
    assert own >= 0.95


@pytest.mark.slow
def test_sparse_methods_respect_n_nonzero(subspaces):
    X, _ = subspaces
    for method, k in [("ensc", 6), ("omp", 3), ("tsc", 7)]:
        C = SubspaceClusterer(5, method=method, n_nonzero=k, random_state=0).fit(X)
        assert np.diff(C.representation_matrix_.indptr).max() <= k


@pytest.mark.parametrize("tau", [1.0, 0.7])
def test_ensc_solution_satisfies_the_elastic_net_kkt_conditions(subspaces, tau):
    X, _ = subspaces
    rows = np.arange(40)
    gamma = 50.0
    C = dense_rows(*ensc_chunk(X, rows, gamma=gamma, tau=tau, n_nonzero=None)[:3], len(X))
    for j in rows:
        correlations = X @ X[j]
        correlations[j] = 0
        lam = np.abs(correlations).max() / tau / gamma
        c = C[j]
        assert c[j] == 0
        # Stationarity: X r - lam (1 - tau) c = lam tau sign(c) on the support,
        # |X r| <= lam tau elsewhere (r the residual).
        gradient = X @ (X[j] - c @ X) - lam * (1 - tau) * c
        gradient[j] = 0
        support = c != 0
        assert support.any()
        np.testing.assert_allclose(gradient[support], lam * tau * np.sign(c[support]),
                                   atol=1e-6 * lam)
        assert np.abs(gradient[~support]).max() <= lam * tau * (1 + 1e-6)


def test_ensc_matches_cvxpy():
    X, _ = make_subspaces(n_samples=60, n_features=8, n_subspaces=3, subspace_dim=2,
                          noise=0.05, random_state=1)
    gamma, tau, j = 20.0, 0.8, 7
    ours = dense_rows(*ensc_chunk(X, np.array([j]), gamma=gamma, tau=tau,
                                  n_nonzero=None)[:3], len(X))[0]
    others = np.delete(np.arange(len(X)), j)
    lam = np.abs(X[others] @ X[j]).max() / tau / gamma
    c = cp.Variable(len(others))
    objective = (0.5 * cp.sum_squares(X[j] - X[others].T @ c)
                 + lam * (tau * cp.norm1(c) + (1 - tau) / 2 * cp.sum_squares(c)))
    cp.Problem(cp.Minimize(objective)).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(ours[others], c.value, atol=1e-5)


def test_lsr_equals_its_closed_form():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 12))
    lam = 0.3
    C = lsr_coefficients(X, lam=lam)
    # Each row solves the ridge problem with c_jj = 0: drop point j and solve.
    for j in range(len(X)):
        others = np.delete(np.arange(len(X)), j)
        A = X[others]
        expected = np.linalg.solve(A @ A.T + lam * np.eye(len(others)), A @ X[j])
        np.testing.assert_allclose(C[j, others], expected, atol=1e-10)
        assert C[j, j] == 0


def test_affine_lsr_is_the_constrained_least_squares_solution():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 10))
    lam = 0.5
    C = lsr_coefficients(X, lam=lam, affine=True)
    np.testing.assert_allclose(C.sum(axis=1), 1.0, atol=1e-10)
    j = 4
    others = np.delete(np.arange(len(X)), j)
    c = cp.Variable(len(others))
    cp.Problem(cp.Minimize(cp.sum_squares(X[j] - X[others].T @ c) + lam * cp.sum_squares(c)),
               [cp.sum(c) == 1]).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(C[j, others], c.value, atol=1e-6)


def test_affine_coefficients_sum_to_one():
    X, y = make_subspaces(n_samples=300, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.01, affine=True, random_state=2)
    for method, atol in [("lsr", 1e-9), ("omp", 1e-9)]:
        model = SubspaceClusterer(3, method=method, affine=True, random_state=0).fit(X)
        sums = np.asarray(model.representation_matrix_.sum(axis=1)).ravel()
        np.testing.assert_allclose(sums, 1.0, atol=atol)
        assert clustering_accuracy(y, model.labels_) >= 0.98
        assert clustering_accuracy(y, model.predict(X)) >= 0.98
    # ADMM meets the constraint up to its tolerance.
    C, _, _ = ssc_admm(X[:100], alpha=20.0, affine=True, tol=1e-7, max_iter=5000)
    np.testing.assert_allclose(C.sum(axis=1), 1.0, atol=1e-4)


def test_omp_is_least_squares_on_its_support(subspaces):
    X, _ = subspaces
    rows = np.arange(10)
    counts, indices, values, _ = omp_chunk(X, rows, n_nonzero=3)
    start = 0
    for j, count in zip(rows, counts):
        support = indices[start:start + count]
        coef = values[start:start + count]
        start += count
        assert j not in support and len(set(support)) == count
        expected = np.linalg.lstsq(X[support].T, X[j], rcond=None)[0]
        np.testing.assert_allclose(coef, expected, atol=1e-10)


def test_ssc_admm_solves_the_lasso_program():
    X, _ = make_subspaces(n_samples=40, n_features=6, n_subspaces=2, subspace_dim=2,
                          noise=0.02, random_state=3)
    alpha = 20.0
    C, _, _ = ssc_admm(X, alpha=alpha, tol=1e-7, max_iter=5000)
    gram = np.abs(X @ X.T)
    np.fill_diagonal(gram, 0)
    lam = alpha / gram.max(axis=1).min()
    Z = cp.Variable((40, 40))
    problem = cp.Problem(cp.Minimize(cp.sum(cp.abs(Z)) + lam / 2 * cp.sum_squares(X - Z @ X)),
                         [cp.diag(Z) == 0])
    problem.solve(solver=cp.CLARABEL)
    value = np.abs(C).sum() + lam / 2 * np.sum((X - C @ X) ** 2)
    assert value <= problem.value * (1 + 1e-3)


@pytest.mark.parametrize("affine", [False, True])
def test_ssc_admm_with_outliers_solves_its_program(affine):
    X, _ = make_subspaces(n_samples=40, n_features=6, n_subspaces=2, subspace_dim=2,
                          noise=0.02, random_state=3)
    X = X.copy()
    X[0, 1] += 2.0  # two grossly corrupted entries
    X[5, 3] -= 1.5
    alpha, outlier_alpha = 20.0, 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # judged by the objective
        C, E, _ = ssc_admm(X, alpha=alpha, outlier_alpha=outlier_alpha, affine=affine,
                           tol=1e-7, max_iter=5000)
    # The program's weights, from their definitions.
    lam_e = outlier_alpha / np.abs(X).sum(axis=1).max()
    gram = np.abs(X @ X.T)
    np.fill_diagonal(gram, 0)
    lam = alpha / np.maximum(gram.max(axis=1), np.abs(X).max(axis=1) / lam_e).min()
    Z, F = cp.Variable((40, 40)), cp.Variable((40, 6))
    constraints = [cp.diag(Z) == 0] + ([cp.sum(Z, axis=1) == 1] if affine else [])
    problem = cp.Problem(cp.Minimize(cp.sum(cp.abs(Z)) + lam_e * cp.sum(cp.abs(F))
                                     + lam / 2 * cp.sum_squares(X - Z @ X - F)), constraints)
    problem.solve(solver=cp.CLARABEL)
    value = np.abs(C).sum() + lam_e * np.abs(E).sum() + lam / 2 * np.sum((X - C @ X - E) ** 2)
    assert value <= problem.value * (1 + 1e-4)
    assert np.all(np.diag(C) == 0)
    if affine:
        np.testing.assert_allclose(C.sum(axis=1), 1.0, atol=1e-4)
    # The error term takes the corruption.
    assert abs(E[0, 1]) > 1.0 and abs(E[5, 3]) > 1.0


def test_ssc_outlier_term_clusters_points_with_corrupted_entries():
    X, y = make_subspaces(n_samples=300, n_features=40, n_subspaces=5, subspace_dim=4,
                          noise=0.01, random_state=0)
    rng = np.random.RandomState(0)
    corrupted = np.zeros(X.shape, dtype=bool)
    for row in rng.choice(300, 150, replace=False):  # half the points, 4 entries each
        corrupted[row, rng.choice(40, 4, replace=False)] = True
    X = X + corrupted * rng.choice([-1.0, 1.0], X.shape) * rng.uniform(0.5, 1.0, X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = SubspaceClusterer(5, method="ssc", random_state=0).fit(X)
        robust = SubspaceClusterer(5, method="ssc", outlier_gamma=5.0, random_state=0).fit(X)
    assert plain.outlying_entries_ is None
    assert clustering_accuracy(y, plain.labels_) < 0.8
    assert clustering_accuracy(y, robust.labels_) >= 0.98
    found = np.abs(robust.outlying_entries_.toarray()) > 1e-3
    assert robust.outlying_entries_.shape == X.shape
    assert (found & corrupted).sum() >= 0.95 * corrupted.sum()
    # The bases fit the points without their errors: the training points
    # keep their labels under predict.
    assert np.mean(robust.predict(X - robust.outlying_entries_.toarray()) == robust.labels_) >= 0.98


@pytest.mark.parametrize("with_errors, solver", [(False, "dense"), (False, "woodbury"),
                                                 (True, "woodbury"), (True, "schur"),
                                                 (False, None), (True, None)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("n_features", [5, 40])
def test_ssc_system_inverse_is_the_inverse(with_errors, solver, affine, n_features):
    rng = np.random.RandomState(0)
    n_samples = 30
    X = rng.normal(size=(n_samples, n_features))
    P = np.vstack([X, np.eye(n_features)]) if with_errors else X
    M = rng.normal(size=(7, P.shape[0]))
    lam, rho = 2.0, 3.0
    # The system written out in full.
    system = lam * P @ P.T + rho * np.eye(P.shape[0])
    if affine:
        system[:n_samples, :n_samples] += rho
    inverse = np.linalg.inv(system)
    apply_inverse, ones_term = _system_inverse(X, lam, rho, affine=affine,
                                               with_errors=with_errors, solver=solver)
    np.testing.assert_allclose(apply_inverse(M), M @ inverse, atol=1e-11)
    if affine:
        np.testing.assert_allclose(ones_term, inverse[:n_samples].sum(axis=0), atol=1e-11)
    else:
        assert ones_term is None


def test_ssc_ignores_an_all_zero_row_when_scaling_lambda():
    X, y = make_subspaces(n_samples=200, n_features=30, n_subspaces=4, subspace_dim=3,
                          noise=0.01, random_state=1)
    X = 0.05 * X  # lambda must follow the scale of the points, not of the zero row
    with_zero = np.vstack([X, np.zeros((1, 30))])
    for outlier_gamma in (None, 5.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SubspaceClusterer(4, method="ssc", outlier_gamma=outlier_gamma,
                                      random_state=0).fit(with_zero)
        assert clustering_accuracy(y, model.labels_[:200]) >= 0.98
        assert model.representation_matrix_[200].nnz == 0


def test_predict_labels_held_out_points():
    X, y = make_subspaces(n_samples=1000, n_features=30, n_subspaces=5, subspace_dim=4,
                          noise=0.05, random_state=4)
    model = SubspaceClusterer(5, random_state=0).fit(X[:500])
    assert held_out_accuracy(model, X, y, n_fit=500) >= 0.98
    assert all(basis.shape[0] == 30 and basis.shape[1] >= 1 for basis in model.subspace_bases_)
    for basis in model.subspace_bases_:
        np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-10)


@pytest.mark.parametrize("shape", [(40, 6), (8, 30)], ids=["more points", "more features"])
def test_ridge_map_gives_the_ridge_coefficients(shape):
    rng = np.random.RandomState(0)
    X, x = rng.normal(size=shape), rng.normal(size=shape[1])
    lam = 0.3
    # The ridge program's normal equations, solved directly.
    expected = np.linalg.solve(X @ X.T + lam * np.eye(shape[0]), X @ x)
    np.testing.assert_allclose(ridge_map(X, lam) @ x, expected, rtol=1e-10, atol=1e-12)


def test_collaborative_labels_follow_the_normalised_class_residual():
    rng = np.random.RandomState(1)
    X_fit, X_new = rng.normal(size=(30, 5)), rng.normal(size=(12, 5))
    bounds = np.array([0, 10, 25, 30])
    lam = 0.5
    P = ridge_map(X_fit, lam)
    expected = []
    for x in X_new:  # the definition, point by point
        c = np.linalg.lstsq(np.vstack([X_fit.T, np.sqrt(lam) * np.eye(30)]),
                            np.concatenate([x, np.zeros(30)]), rcond=None)[0]
        scores = [np.linalg.norm(x - c[a:b] @ X_fit[a:b]) / np.linalg.norm(c[a:b])
                  for a, b in zip(bounds[:-1], bounds[1:])]
        expected.append(np.argmin(scores))
    np.testing.assert_array_equal(collaborative_labels(X_new, X_fit, bounds, P), expected)


def test_collaborative_predict_labels_held_out_points_and_training_points():
    X, y = make_subspaces(n_samples=1000, n_features=30, n_subspaces=5, subspace_dim=4,
                          noise=0.05, random_state=4)
    model = SubspaceClusterer(5, out_of_sample="collaborative", random_state=0).fit(X[:500])
    assert clustering_accuracy(y[:500], model.labels_) >= 0.98
    assert held_out_accuracy(model, X, y, n_fit=500) >= 0.98
    assert np.mean(model.predict(X[:500]) == model.labels_) >= 0.98
    # The ridge weight is relative to the mean squared norm of the points.
    scale = np.mean(np.sum(X[:500] ** 2, axis=1))
    for alpha, fitted in [(0.01, model), (3.0, SubspaceClusterer(
            5, out_of_sample="collaborative", collaborative_alpha=3.0, random_state=0).fit(X[:500]))]:
        assert fitted.collaborative_alpha_ == alpha
        rule = fit_collaborative(X[:500], fitted.labels_, fitted.n_clusters_, alpha=alpha)
        points, bounds, projection = rule
        np.testing.assert_array_equal(np.diff(bounds), np.bincount(fitted.labels_))
        np.testing.assert_array_equal(points, X[:500][np.argsort(fitted.labels_, kind="stable")])
        expected = ridge_map(points, alpha * scale)
        np.testing.assert_allclose(projection, expected, rtol=1e-12,
                                   atol=1e-12 * np.abs(expected).max())
        # predict is that rule.
        np.testing.assert_array_equal(fitted.predict(X[500:]),
                                      predict_collaborative(X[500:], rule))


def test_switching_the_rule_after_fit_never_uses_stale_points(subspaces):
    X, _ = subspaces
    model = SubspaceClusterer(5, out_of_sample="collaborative", random_state=0).fit(X[:250])
    # Refit with the basis rule: the points of the first fit must be dropped.
    model.set_params(out_of_sample="basis").fit(X[250:])
    assert model._collaborative_rule is None
    by_bases = model.predict(X[:10])
    # predict follows the rule of the fit (scikit-learn's convention), not a
    # set_params after it: no stale points are read.
    model.set_params(out_of_sample="collaborative")
    np.testing.assert_array_equal(model.predict(X[:10]), by_bases)
    # The next fit takes the new rule.
    model.fit(X[250:])
    assert model._collaborative_rule is not None
    assert np.mean(model.predict(X[250:]) == model.labels_) >= 0.98


def test_collaborative_predict_beats_bases_with_few_points_per_subspace():
    # 12 points per 8-dimensional subspace: an energy-truncated basis drops
    # directions, while the ridge representation uses every point.
    X, y = make_subspaces(n_samples=1200, n_features=40, n_subspaces=4, subspace_dim=8,
                          noise=0.1, random_state=2)
    fit, rest = np.arange(48), np.arange(48, 1200)
    # The estimator's default ridge weight.
    alpha = SubspaceClusterer(4, method="lsr", out_of_sample="collaborative",
                              random_state=0).fit(X[fit]).collaborative_alpha_
    # Isolate the rule from the clustering: build its state from true labels.
    bases, offsets = fit_subspace_bases(X[fit], y[fit], 4)
    rule = fit_collaborative(X[fit], y[fit], 4, alpha=alpha)
    scores = {"basis": np.mean(predict_by_bases(X[rest], bases, offsets) == y[rest]),
              "collaborative": np.mean(predict_collaborative(X[rest], rule) == y[rest])}
    assert scores["collaborative"] >= 0.95
    assert scores["collaborative"] > scores["basis"]


def test_auto_n_clusters_from_the_eigengap():
    X, y = make_subspaces(n_samples=400, n_features=30, n_subspaces=4, subspace_dim=3,
                          noise=0.02, random_state=5)
    model = SubspaceClusterer("auto", random_state=0).fit(X)
    assert model.n_clusters_ == 4
    assert clustering_accuracy(y, model.labels_) >= 0.98


@pytest.mark.parametrize("method, seed, noise", [("ensc", 0, 0.0), ("ensc", 0, 0.02),
                                                  ("lsr", 2, 0.02)])
def test_auto_n_clusters_reads_the_relative_eigengap(method, seed, noise):
    # Connected graphs whose largest plain eigengap lies in the noisy tail
    # (it gave 15, 24 and 16 clusters for these 4 subspaces); and never k = 1,
    # which the relative eigengap's epsilon alone would make win.
    X, y = make_subspaces(n_samples=400, n_features=30, n_subspaces=4, subspace_dim=3,
                          noise=noise, random_state=seed)
    model = SubspaceClusterer("auto", method=method, random_state=0).fit(X)
    assert model.n_clusters_ == 4
    assert clustering_accuracy(y, model.labels_) >= 0.98
    assert all(candidate["n_clusters"] >= 2 for candidate in model.candidates_)


def test_top_eigenpairs_recovers_when_the_subset_driver_returns_too_few(monkeypatch):
    # LAPACK's subset driver returned 4 of 6 eigenpairs inside a cluster of
    # equal eigenvalues (a graph of about 50 components), which crashed the
    # relative eigengap with an IndexError.
    from scipy import linalg

    from skembed.cluster import _spectral

    blocks = sparse.block_diag([np.ones((5, 5)) - np.eye(5)] * 8, format="csr")
    eigh = linalg.eigh

    def short_subset(matrix, **kwargs):
        values, vectors = eigh(matrix, **kwargs)
        if "subset_by_index" in kwargs:
            return values[2:], vectors[:, 2:]
        return values, vectors

    monkeypatch.setattr(_spectral.linalg, "eigh", short_subset)
    values, vectors = top_eigenpairs(blocks, 6, 0)
    assert values.shape == (6,) and vectors.shape == (40, 6)
    np.testing.assert_allclose(values, 0.0, atol=1e-12)


def test_components_equally_far_apart_still_make_k_clusters():
    # Six components on orthogonal coordinates: every pair is equally far
    # (closeness 0), and a cut of the single-linkage tree by height returned
    # one cluster for n_clusters=3.
    rng = np.random.RandomState(0)
    X = np.zeros((240, 18))
    for piece in range(6):
        X[40 * piece:40 * piece + 40, 3 * piece:3 * piece + 3] = rng.randn(40, 3)
    with pytest.warns(UserWarning, match="6 connected components for 3 clusters"):
        model = SubspaceClusterer(3, method="omp", random_state=0).fit(X)
    assert np.unique(model.labels_).size == 3
    for piece in range(6):  # each piece whole, in one cluster
        assert np.unique(model.labels_[40 * piece:40 * piece + 40]).size == 1
    np.testing.assert_array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("method", ["lrr", "lsr"])
def test_copies_up_to_sign_do_not_make_labels_depend_on_row_order(method):
    # Rounded rows repeat up to sign; the copy kept was whichever of x and -x
    # came first, so the clustered rows (and the labels) followed the order.
    X, _ = make_subspaces(n_samples=150, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.02, random_state=1)
    D = np.round(3 * X)
    reference = SubspaceClusterer(3, method=method, random_state=0).fit(D)
    for seed in (9, 1):
        order = np.random.RandomState(seed).permutation(D.shape[0])
        permuted = SubspaceClusterer(3, method=method, random_state=0).fit(D[order])
        assert adjusted_rand_score(reference.labels_[order], permuted.labels_) == 1.0
        assert permuted.n_distinct_rows_ == reference.n_distinct_rows_


def test_spectral_step_on_disconnected_graph_is_exact():
    blocks = sparse.block_diag([np.ones((5, 5)) - np.eye(5)] * 3, format="csr")
    labels = spectral_labels(blocks, 3, n_init=5, random_state=0)
    assert clustering_accuracy(np.repeat([0, 1, 2], 5), labels) == 1.0


def test_large_graph_uses_the_sparse_eigensolver():
    # 3 random sparse blocks of 700 points: above the dense limit, so eigsh runs.
    blocks = [sparse.random(700, 700, density=0.01, random_state=seed, format="csr")
              for seed in range(3)]
    W = sparse.block_diag([b + b.T for b in blocks], format="csr")
    labels = spectral_labels(W, 3, n_init=3, random_state=0)
    assert clustering_accuracy(np.repeat([0, 1, 2], 700), labels) == 1.0


def test_knn_affinity_is_symmetric_and_clusters(subspaces):
    X, y = subspaces
    model = SubspaceClusterer(5, affinity="knn", random_state=0).fit(X)
    W = model.affinity_matrix_
    assert abs(W - W.T).max() == 0
    assert clustering_accuracy(y, model.labels_) >= 0.98
    W2 = affinity_from_representation(model.representation_matrix_, "knn", 5)
    assert (W2 != W).nnz == 0
    # n_neighbors sets the graph: each row keeps at most that many neighbours.
    wider = SubspaceClusterer(5, affinity="knn", n_neighbors=8, random_state=0).fit(X)
    W8 = affinity_from_representation(model.representation_matrix_, "knn", 8)
    assert (wider.affinity_matrix_ != W8).nnz == 0
    assert wider.affinity_matrix_.nnz > W.nnz


def test_knn_affinity_equals_brute_force_neighbours_of_the_rows():
    # Random sparse rows with distinct overlaps: the sparse-product search
    # must return exactly the brute-force nearest rows (ties aside).
    rng = np.random.RandomState(7)
    C = sparse.random(80, 80, density=0.3, random_state=rng, format="csr")
    C.setdiag(0)
    C.eliminate_zeros()
    W = affinity_from_representation(C, "knn", 4)
    rows = normalize(abs(C).toarray())
    distances = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :4]
    graph = np.zeros((80, 80))
    np.put_along_axis(graph, nearest, 1.0, axis=1)
    expected = ((graph + graph.T) > 0).astype(float)
    np.testing.assert_array_equal((W.toarray() > 0).astype(float), expected)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ensc", "omp"])
def test_all_points_as_candidates_is_the_full_search(subspaces, method):
    X, _ = subspaces
    X = normalize(X)  # equal norms: lambda_max over candidates is the global one
    params = dict(method=method, random_state=0, affinity="symmetric")
    full = SubspaceClusterer(5, n_candidates=None, **params).fit(X)
    every = SubspaceClusterer(5, n_candidates=len(X) - 1, **params).fit(X)
    assert abs(full.representation_matrix_ - every.representation_matrix_).max() < 1e-6
    if method == "ensc":
        assert every.candidate_violation_rate_ == 0.0
    else:
        assert every.candidate_violation_rate_ is None
    assert full.candidate_violation_rate_ is None


@pytest.mark.parametrize("method", ["ensc", "omp"])
def test_few_candidates_still_recover_the_subspaces(subspaces, method):
    X, y = subspaces
    model = SubspaceClusterer(5, method=method, n_candidates=40, affinity="symmetric",
                              random_state=0).fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.98
    C = model.representation_matrix_.tocoo()
    own = np.abs(C.data)[y[C.row] == y[C.col]].sum() / np.abs(C.data).sum()
    assert own >= 0.95
    if method == "ensc":
        assert 0.0 <= model.candidate_violation_rate_ <= 1.0


def test_random_state_reproducible_and_float32(subspaces):
    X, _ = subspaces
    a = SubspaceClusterer(5, random_state=0).fit(X)
    b = SubspaceClusterer(5, random_state=0).fit(X.astype(np.float32))
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_n_jobs_gives_the_same_result(subspaces):
    X, _ = subspaces
    one = SubspaceClusterer(5, random_state=0).fit(X)
    two = SubspaceClusterer(5, random_state=0, n_jobs=2).fit(X)
    assert abs(one.representation_matrix_ - two.representation_matrix_).max() < 1e-12
    np.testing.assert_array_equal(one.labels_, two.labels_)


@pytest.mark.slow
def test_caller_array_untouched(subspaces):
    X, _ = subspaces
    before = X.copy()
    for method in METHODS:
        SubspaceClusterer(5, method=method, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(method="ensc", gamma=1.0), "gamma > 1"),
        (dict(method="ssc", gamma=0.5), "gamma > 1"),
        (dict(method="tsc", affine=True), "affine=True"),
        (dict(method="ensc", affine=True), "affine=True"),
        (dict(method="lsr", affine=True, out_of_sample="collaborative"), "no affine form"),
    ],
)
def test_option_mismatches_rejected(subspaces, params, match):
    # Only values the chosen method uses and cannot honour: affine=True would
    # fit linear subspaces with "tsc" or "ensc".
    X, _ = subspaces
    with pytest.raises(ValueError, match="SubspaceClusterer.fit: .*" + match):
        SubspaceClusterer(5, **params).fit(X)


@pytest.mark.parametrize(
    "method, unused",
    [
        ("omp", dict(gamma=10.0, tau=0.5, outlier_gamma=5.0, max_iter=3)),
        ("tsc", dict(gamma=10.0, n_candidates=7)),
        ("lsr", dict(tau=0.5, outlier_gamma=5.0, n_candidates=7, max_iter=3)),
        ("ensc", dict(outlier_gamma=5.0, collaborative_alpha=0.1, max_iter=3)),
        ("ssc", dict(tau=0.5, n_candidates=7, n_neighbors=3, affinity="symmetric")),
    ],
)
def test_parameters_the_method_does_not_use_are_ignored(method, unused):
    X, _ = make_subspaces(n_samples=150, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.01, random_state=0)
    base = dict(method=method, random_state=0, **{k: v for k, v in unused.items()
                                                  if k == "affinity"})
    plain = SubspaceClusterer(3, **base).fit(X)
    ignoring = SubspaceClusterer(3, **{**base, **unused}).fit(X)
    assert (plain.representation_matrix_ != ignoring.representation_matrix_).nnz == 0
    np.testing.assert_array_equal(plain.labels_, ignoring.labels_)
    np.testing.assert_array_equal(plain.predict(X), ignoring.predict(X))
    for name in ("gamma_", "tau_", "n_nonzero_", "n_candidates_", "max_iter_", "affinity_",
                 "n_neighbors_", "collaborative_alpha_"):
        assert getattr(plain, name) == getattr(ignoring, name)


@pytest.mark.slow
def test_a_grid_over_method_scores_every_method(subspaces):
    # tau is the elastic net's: "omp" ignores it instead of failing the fit.
    X, y = subspaces
    search = GridSearchCV(SubspaceClusterer(5, tau=0.8, random_state=0),
                          {"method": ["ensc", "omp"]}, scoring="adjusted_rand_score", cv=2,
                          error_score="raise").fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, resolved",
    [
        (dict(), dict(method_="lsr", affinity_="power", tau_=None, n_neighbors_=None,
                      normalize_rows_=True)),
        (dict(affine=True), dict(method_="lsr", normalize_rows_=False)),
        (dict(method="ensc"), dict(gamma_=100.0, tau_=0.9, n_nonzero_=50, n_candidates_=None,
                                   max_iter_=None, affinity_="knn", n_neighbors_=5)),
        (dict(method="ssc"), dict(gamma_=20.0, tau_=None, n_nonzero_=None, max_iter_=200,
                                  affinity_="knn")),
        (dict(method="omp"), dict(gamma_=None, tau_=None, n_nonzero_=10, n_candidates_=None,
                                  affinity_="symmetric", n_neighbors_=None)),
        (dict(method="lsr", n_nonzero=10), dict(gamma_=100.0, n_nonzero_=10, max_iter_=None)),
        (dict(method="lrr", max_iter=50), dict(gamma_=1.0, max_iter_=50)),
        # TSC's q: a twentieth of the points per cluster, at least 3.
        (dict(method="tsc"), dict(gamma_=None, n_nonzero_=5, affinity_="symmetric")),
        (dict(method="ensc", n_candidates=40, n_nonzero=500),
         dict(n_nonzero_=499, n_candidates_=40)),
        (dict(method="ensc", n_clusters="auto"), dict(affinity_="symmetric")),
        (dict(affinity="knn", n_neighbors=8), dict(affinity_="knn", n_neighbors_=8)),
        (dict(out_of_sample="collaborative"), dict(collaborative_alpha_=0.01)),
        (dict(collaborative_alpha=0.3), dict(collaborative_alpha_=None)),
    ],
)
def test_defaults_are_resolved_into_fitted_attributes(subspaces, params, resolved):
    X, _ = subspaces
    params = {"n_clusters": 5, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SubspaceClusterer(random_state=0, **params).fit(X)
    assert {name: getattr(model, name) for name in resolved} == resolved


def test_more_clusters_than_rows_rejected():
    X = np.random.RandomState(0).normal(size=(9, 4))
    message = ("SubspaceClusterer.fit: Found array with 9 sample.*n_clusters=10: each "
               "cluster needs at least one point.*Pass at least 10 rows or n_clusters <= 9")
    with pytest.raises(ValueError, match=message):
        SubspaceClusterer(10).fit(X)


@pytest.mark.parametrize("method", ["auto", *METHODS])
@pytest.mark.parametrize("n_samples", [8, 10, 15])
def test_one_row_per_cluster_is_enough(method, n_samples):
    # Like k-means, k clusters need k rows, not 2 k: the default n_clusters=8
    # fits the 10 and 15 rows of scikit-learn's common checks. A cluster of
    # one point has the line through it as its subspace.
    X = np.random.RandomState(n_samples).normal(size=(n_samples, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # ssc's ADMM on noise
        model = SubspaceClusterer(8, method=method, random_state=0).fit(X)
    assert np.bincount(model.labels_, minlength=8).min() >= 1
    assert model.labels_.max() == 7 and model.n_clusters_ == 8
    singletons = np.flatnonzero(np.bincount(model.labels_) == 1)
    assert singletons.size >= 16 - n_samples  # fewer than 2 k rows leave some
    for k in singletons:
        point = X[model.labels_ == k]
        assert model.subspace_bases_[k].shape == (4, 1)
        np.testing.assert_allclose(abs(point @ model.subspace_bases_[k]).ravel(),
                                   np.linalg.norm(point))
        assert model.predict(point).tolist() == [k]


def test_all_zero_rows_are_isolated_not_fatal():
    X, _ = make_subspaces(n_samples=60, n_features=10, n_subspaces=2, subspace_dim=2,
                          noise=0.01, random_state=6)
    others = np.arange(60) != 3
    with_zero = X.copy()
    with_zero[3] = 0
    for method in METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SubspaceClusterer(2, method=method, random_state=0).fit(with_zero)
            without = SubspaceClusterer(2, method=method, random_state=0).fit(X[others])
        # The zero row is expressed by no point (LRR's dense solve leaves
        # rounding) and, but for LRR, whose rounding is normalised like any
        # row, linked to none ...
        C = abs(model.representation_matrix_)
        assert C[3].toarray().max() <= 1e-12 * C.max()
        if method != "lrr":
            assert model.affinity_matrix_[3].nnz == 0
        assert model.labels_[3] in (0, 1)
        # ... and the other points are clustered as if it were not there.
        assert clustering_accuracy(without.labels_, model.labels_[others]) == 1.0
        # No subspace fits it better than another: the first cluster.
        assert model.predict(with_zero[[3]])[0] == 0


@pytest.mark.skipif(not has_compiled_gram_solver(),
                    reason="the installed scikit-learn offers no compiled solver skembed can call")
def test_numpy_coordinate_descent_matches_the_compiled_one():
    # The fallback used if scikit-learn's private solver disappears.
    from skembed.cluster._ensc import _coordinate_descent, _polish

    rng = np.random.RandomState(8)
    atoms = rng.normal(size=(30, 12))
    target = rng.normal(size=12)
    gram, products = atoms @ atoms.T, atoms @ target
    l1, l2 = 0.3 * np.abs(products).max(), 0.05
    results = []
    for compiled in (True, False):
        coef = _coordinate_descent(np.zeros(30), l1, l2, gram, products, target, 5000,
                                   1e-10, use_compiled=compiled)
        polished = _polish(gram, products, l1, l2, np.asarray(coef))
        assert polished is not None
        results.append(polished)
    np.testing.assert_allclose(results[0], results[1], atol=1e-10)


def test_tsc_neighbours_are_distinct_when_cosines_tie():
    """Orthogonal subspaces tie every cross cosine at 0: each point is listed once."""
    from skembed.cluster._tsc import tsc_neighbors

    rng = np.random.RandomState(0)
    X = np.zeros((12, 6))
    X[:6, :3] = rng.normal(size=(6, 3))
    X[6:, 3:] = rng.normal(size=(6, 3))
    for q in (6, 7, 8, 11):
        indices, _ = tsc_neighbors(X, n_neighbors=q)
        assert all(len(set(row)) == q for row in indices)
        assert not np.any(indices == np.arange(12)[:, None])


def test_ssc_warns_when_admm_stops_early():
    from sklearn.exceptions import ConvergenceWarning

    X, _ = make_subspaces(n_samples=120, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.05, random_state=0)
    with pytest.warns(ConvergenceWarning, match="SubspaceClusterer.fit: .*max_iter=2"):
        SubspaceClusterer(3, method="ssc", max_iter=2, random_state=0).fit(X)


def test_auto_affinity_follows_points_per_cluster():
    # The kNN graph up to 100 points per cluster on average, for methods
    # whose rows have enough nonzeros.
    X, _ = make_subspaces(n_samples=201, n_features=20, n_subspaces=2, subspace_dim=3,
                          noise=0.01, random_state=0)
    few = SubspaceClusterer(2, method="ensc", random_state=0).fit(X[:200])
    many = SubspaceClusterer(2, method="ensc", random_state=0).fit(X)
    assert (few.affinity_, many.affinity_) == ("knn", "symmetric")
    assert (few.n_neighbors_, many.n_neighbors_) == (5, None)
    # The matrix clustered is the affinity named.
    for model in (few, many):
        expected = affinity_from_representation(model.representation_matrix_, model.affinity_,
                                                model.n_neighbors_ or 5)
        # Up to rounding: the fit saw the rows in a canonical order.
        np.testing.assert_allclose(model.affinity_matrix_.toarray(), expected.toarray(),
                                   rtol=1e-10, atol=1e-12)
    assert SubspaceClusterer(2, method="omp", random_state=0).fit(X[:200]).affinity_ == "symmetric"


def test_estimator_delegates_to_the_out_of_sample_functions(subspaces):
    X, _ = subspaces
    model = SubspaceClusterer(5, random_state=0).fit(X[:250])
    # The bases are those of the points the clustering saw: unit rows.
    bases, offsets = fit_subspace_bases(normalize_rows(X[:250]), model.labels_,
                                        model.n_clusters_)
    assert len(bases) == len(model.subspace_bases_) == 5
    for ours, expected in zip(model.subspace_bases_, bases):
        np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(model.subspace_offsets_, offsets)
    np.testing.assert_array_equal(model.predict(X[250:]), predict_by_bases(X[250:], bases, offsets))


def test_affine_bases_are_centred_on_each_cluster_mean():
    rng = np.random.RandomState(0)
    labels = np.repeat([0, 1], 20)
    # Two parallel lines off the origin: one direction each, offset by the mean.
    X = np.zeros((40, 3))
    X[:, 0] = rng.normal(size=40)
    X[:20, 1], X[20:, 2] = 1.0, 2.0
    bases, offsets = fit_subspace_bases(X, labels, affine=True)
    np.testing.assert_allclose(offsets[0], [X[:20, 0].mean(), 1.0, 0.0])
    assert [basis.shape[1] for basis in bases] == [1, 1]
    np.testing.assert_allclose(np.abs(bases[0][:, 0]), [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(predict_by_bases(X, bases, offsets), labels)


def test_one_random_generator_per_fit():
    # A seed and a generator seeded alike give the same fit, candidates' check
    # included: the fit draws everything from one generator.
    X, _ = make_subspaces(n_samples=300, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.05, random_state=0)
    params = dict(n_candidates=30, affinity="symmetric")
    seeded = SubspaceClusterer(3, random_state=7, **params).fit(X)
    generator = SubspaceClusterer(3, random_state=np.random.RandomState(7), **params).fit(X)
    np.testing.assert_array_equal(seeded.labels_, generator.labels_)
    assert seeded.candidate_violation_rate_ == generator.candidate_violation_rate_


# ----------------------------------------------------------------------
# Units: the labels do not depend on a global rescaling of the points
# ----------------------------------------------------------------------

#: Every method, with the options that change its solver.
SCALE_FREE_SETTINGS = [
    {"method": "ensc"},
    {"method": "ensc", "out_of_sample": "collaborative"},
    {"method": "ssc"},
    {"method": "ssc", "outlier_gamma": 20.0},
    {"method": "ssc", "affine": True},
    {"method": "omp", "n_nonzero": 3},
    {"method": "omp", "n_nonzero": 3, "affine": True},
    {"method": "lsr"},
    {"method": "lsr", "affine": True},
    {"method": "lrr"},
    {"method": "tsc"},
]


def fit_quietly(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SubspaceClusterer(random_state=0, n_init=5, **params).fit(X)


def unit_rows_on_subspaces(n_features, subspace_dim, noise):
    """300 points of unit norm on 5 subspaces (the issue's data)."""
    X, y = make_subspaces(n_samples=300, n_features=n_features, n_subspaces=5,
                          subspace_dim=subspace_dim, noise=noise, random_state=0)
    return normalize(X), y


@pytest.mark.parametrize("scale", [1e100, 1e-100])
def test_affine_lsr_labels_at_extreme_scales(scale):
    # Was: NaN coefficients (an underflowing determinant), a ValueError at
    # 1e100 and 1e-100.
    X, y = make_subspaces(n_samples=120, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.01, affine=True, random_state=0)
    reference = fit_quietly(X, n_clusters=3, method="lsr", affine=True)
    scaled = fit_quietly(X * scale, n_clusters=3, method="lsr", affine=True)
    np.testing.assert_array_equal(scaled.labels_, reference.labels_)
    assert clustering_accuracy(y, scaled.labels_) >= 0.98
    np.testing.assert_array_equal(scaled.predict(X * scale), reference.predict(X))


def test_ssc_outlier_term_labels_do_not_depend_on_the_units():
    # Was: accuracy 0.207 on the points scaled by 0.01 (1.0 at scale 1).
    X, y = unit_rows_on_subspaces(n_features=30, subspace_dim=5, noise=0.0)
    reference = fit_quietly(X, n_clusters=5, method="ssc", outlier_gamma=20.0)
    scaled = fit_quietly(X * 0.01, n_clusters=5, method="ssc", outlier_gamma=20.0)
    assert clustering_accuracy(y, reference.labels_) == 1.0
    np.testing.assert_array_equal(scaled.labels_, reference.labels_)
    # The errors are in the units of the points.
    np.testing.assert_allclose(scaled.outlying_entries_.toarray(),
                               0.01 * reference.outlying_entries_.toarray(),
                               rtol=1e-6, atol=1e-12)


def test_lrr_labels_do_not_depend_on_the_units():
    # Was: accuracy 0.353 on the points scaled by 1e-6 (1.0 at scale 1).
    X, y = unit_rows_on_subspaces(n_features=20, subspace_dim=3, noise=0.01)
    reference = fit_quietly(X, n_clusters=5, method="lrr")
    scaled = fit_quietly(X * 1e-6, n_clusters=5, method="lrr")
    assert clustering_accuracy(y, reference.labels_) == 1.0
    np.testing.assert_array_equal(scaled.labels_, reference.labels_)


def decided_by_rounding(model):
    """Whether the spectral step's eigenspace is degenerate (more components than clusters).

    The eigenvectors of a repeated eigenvalue are any basis of its
    eigenspace, so rounding decides the labels; no rescaling property can
    hold there.
    """
    eigenvalues, _ = top_eigenpairs(model.affinity_matrix_, model.n_clusters_ + 1, 0)
    return eigenvalues[-1] - eigenvalues[-2] < 1e-8


@pytest.mark.parametrize("params", SCALE_FREE_SETTINGS,
                         ids=lambda params: "-".join(f"{key}={value}" for key, value in params.items()))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 999), exponent=st.floats(-150, 150),
       n_features=st.sampled_from([6, 40]), duplicate=st.booleans())
def test_labels_and_predict_do_not_depend_on_a_global_rescaling(params, seed, exponent,
                                                               n_features, duplicate):
    """Every method's labels on s X are its labels on X, for s in 1e-150..1e150.

    Ten points per cluster on dimension-2 subspaces, in fewer or more
    dimensions than points, with or without a duplicated point; predict on
    s X_new with the model fitted on s X gives the labels of X_new under the
    model of X. Labels are compared where rounding does not decide them.
    """
    X, _ = make_subspaces(n_samples=45, n_features=n_features, n_subspaces=3,
                          subspace_dim=2, noise=0.01, affine=params.get("affine", False),
                          random_state=seed)
    X_fit, X_new = X[:30], X[30:]
    if duplicate:
        X_fit = np.vstack([X_fit, X_fit[:1]])
    scale = 10.0**exponent
    reference = fit_quietly(X_fit, n_clusters=3, **params)
    assume(not decided_by_rounding(reference))
    scaled = fit_quietly(X_fit * scale, n_clusters=3, **params)
    np.testing.assert_array_equal(scaled.labels_, reference.labels_)
    np.testing.assert_array_equal(scaled.predict(X_new * scale), reference.predict(X_new))


# ----------------------------------------------------------------------
# The default: power affinity, scale handling, degenerate graphs, selection
# ----------------------------------------------------------------------

def _three_subspaces(n_per=40, n_features=30, dim=3, seed=0):
    """The issue's data: points on 3 random dim-dimensional subspaces, no noise."""
    rng = np.random.RandomState(seed)
    blocks = [rng.normal(size=(n_per, dim)) @ rng.normal(size=(dim, n_features))
              for _ in range(3)]
    return np.vstack(blocks), np.repeat(np.arange(3), n_per)


def test_power_affinity_is_the_published_post_processing():
    # Brute force: rank-r SVD of (C + C')/2, rows of U S^(1/2) normalised,
    # clipped cosines to the power p, zero diagonal.
    rng = np.random.RandomState(0)
    C = rng.normal(size=(30, 30))
    U, S, _ = np.linalg.svd((C + C.T) / 2)
    rows = normalize(U[:, :7] * np.sqrt(S[:7]))
    expected = np.clip(rows @ rows.T, 0, None) ** 3.0
    np.fill_diagonal(expected, 0.0)
    W = affinity_from_representation(sparse.csr_matrix(C), "power", rank=7, power=3.0)
    np.testing.assert_allclose(W.toarray(), expected, atol=1e-12)


def test_relative_eigengap_and_the_default_rank():
    # Two cliques: eigenvalues 0, 0 then a jump; the ratio is unit-free.
    W = sparse.block_diag([np.ones((4, 4)) - np.eye(4)] * 2, format="csr")
    values, _ = top_eigenpairs(W, 3, 0)
    assert relative_eigengap(values, 2) > 1e5
    assert relative_eigengap(values, 2) == pytest.approx(relative_eigengap(
        top_eigenpairs(W * 7.0, 3, 0)[0], 2))
    # 3 subspaces of dimension 3: a rank of 9 carries the energy.
    X, _ = _three_subspaces()
    assert default_power_rank(X, 3) == 9
    assert default_power_rank(X, 20) == 21  # at least k + 1


def test_default_selects_by_the_embedding_distortion_and_records_it(subspaces):
    X, y = subspaces
    model = SubspaceClusterer(5, random_state=0).fit(X)
    assert clustering_accuracy(y, model.labels_) == 1.0
    distortions = [c["embedding_distortion"] for c in model.candidates_]
    assert len(distortions) == 6 and model.embedding_distortion_ == min(distortions)
    assert all(0.0 <= d <= 2.0 for d in distortions)
    best = model.candidates_[int(np.argmin(distortions))]
    assert model.relative_eigengap_ == best["relative_eigengap"]
    assert (best["method"], best["gamma"], best["affinity"], best["affinity_power"]) == (
        model.method_, model.gamma_, model.affinity_, model.affinity_power_)
    assert model.affinity_rank_ == best["affinity_rank"]
    # The labels are the chosen candidate's spectral step: its embedding's
    # k-means, whose distortion is the criterion.
    W = model.affinity_matrix_
    _, vectors = top_eigenpairs(W, 6, check_random_state(0))
    _, distortion = embedding_kmeans(vectors, 5, n_init=10, random_state=0)
    assert distortion == pytest.approx(model.embedding_distortion_, rel=0.05)
    # Given values leave one candidate; predict works for the chosen one.
    fixed = SubspaceClusterer(5, gamma=10.0, affinity_power=4.0, affinity_rank=20,
                              random_state=0).fit(X)
    assert len(fixed.candidates_) == 1 and fixed.affinity_rank_ == 20
    assert (model.predict(X) == model.labels_).mean() >= 0.99


def test_default_offers_affine():
    X, y = make_subspaces(n_samples=150, n_features=20, n_subspaces=3, subspace_dim=2,
                          noise=0.01, random_state=3)
    X = X + np.random.RandomState(1).normal(size=(3, 20))[y]  # affine subspaces
    model = SubspaceClusterer(3, affine=True, random_state=0).fit(X)
    assert model.method_ in ("lsr", "omp") and not model.normalize_rows_
    assert clustering_accuracy(y, model.labels_) >= 0.95
    assert (model.predict(X) == model.labels_).mean() >= 0.95


@pytest.mark.parametrize("method", ["auto", "ensc", "omp"])
def test_row_scaling_does_not_change_the_labels(method):
    X, _ = make_subspaces(n_samples=150, n_features=20, n_subspaces=3, subspace_dim=3,
                          noise=0.05, random_state=0)
    scales = np.exp(np.random.RandomState(0).uniform(-5, 5, size=(X.shape[0], 1)))
    params = dict(method=method, random_state=0)
    unit = SubspaceClusterer(3, **params).fit(normalize(X))
    scaled = SubspaceClusterer(3, **params).fit(X * scales)
    np.testing.assert_array_equal(unit.labels_, scaled.labels_)
    np.testing.assert_array_equal(unit.predict(X), scaled.predict(X * 3.0))
    # The option turns it off: LSR's ridge then sees the row scales.
    off = SubspaceClusterer(3, method="lsr", normalize_rows=False, random_state=0)
    on = SubspaceClusterer(3, method="lsr", random_state=0)
    assert not np.allclose(off.fit(X * scales).representation_matrix_.toarray(),
                           on.fit(X * scales).representation_matrix_.toarray())


@pytest.mark.parametrize("method", ["auto", "omp", "lsr"])
def test_exact_duplicates_are_clustered_once(method):
    X, y = _three_subspaces()
    twice = np.vstack([X, X])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no component warning
        model = SubspaceClusterer(3, method=method, n_nonzero=3 if method == "omp" else None,
                                  random_state=0).fit(twice)
    assert model.n_distinct_rows_ == 120
    assert clustering_accuracy(np.concatenate([y, y]), model.labels_) == 1.0
    np.testing.assert_array_equal(model.labels_[:120], model.labels_[120:])
    assert model.representation_matrix_.shape == (240, 240)


@pytest.mark.parametrize("method", ["omp", "lsr", "auto"])
def test_a_point_and_its_negative_or_multiple_are_one_point(method):
    # With normalised rows, -x and 3x lie in exactly the subspaces of x.
    X, y = _three_subspaces()
    stacked = np.vstack([X, -X[:60], 3.0 * X[60:]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = SubspaceClusterer(3, method=method, n_nonzero=3 if method == "omp" else None,
                                  random_state=0).fit(stacked)
    assert model.n_distinct_rows_ == 120
    np.testing.assert_array_equal(model.labels_[120:], model.labels_[:120])
    assert clustering_accuracy(y, model.labels_[:120]) == 1.0
    # Each copy is expressed as its row kept, negated for -x: C X = X still.
    C = model.representation_matrix_.toarray()
    alone = SubspaceClusterer(3, method=method, n_nonzero=3 if method == "omp" else None,
                              random_state=0).fit(X)
    residual = np.linalg.norm(normalize(stacked) - C @ normalize(stacked))
    assert residual == pytest.approx(
        np.sqrt(2) * np.linalg.norm(normalize(X) - alone.representation_matrix_ @ normalize(X)),
        rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("method", METHODS + ["auto"])
@pytest.mark.parametrize("case", ["one line", "identical rows", "two lines, three clusters"])
def test_predict_reproduces_labels_when_points_are_fewer_than_clusters(method, case):
    # Copies of one point (up to scale and sign) cannot be split in a way
    # predict reproduces: each distinct point is its own cluster, with a
    # warning when there are fewer than n_clusters.
    rng = np.random.RandomState(0)
    X = {"one line": rng.normal(size=(40, 1)),
         "identical rows": np.ones((30, 4)),
         "two lines, three clusters": np.vstack([np.outer(rng.normal(size=20), [1.0, 0.0]),
                                                 np.outer(rng.normal(size=20), [0.0, 1.0])])}[case]
    n_distinct = 2 if case.startswith("two") else 1
    with pytest.warns(ConvergenceWarning, match=f"{n_distinct} distinct point"):
        model = SubspaceClusterer(3, method=method, random_state=0).fit(X)
    assert model.n_clusters_ == n_distinct
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert np.unique(model.labels_).size == n_distinct


@pytest.mark.parametrize("method", ["omp", "ensc", "auto"])
def test_auto_n_clusters_counts_the_components(method):
    # The graphs of omp and ensc have exactly 3 components (the eigengap
    # after them found 54 and 24 clusters); the default's graph is connected.
    X, y = _three_subspaces()
    model = SubspaceClusterer("auto", method=method, random_state=0).fit(X)
    assert model.n_clusters_ == 3
    assert clustering_accuracy(y, model.labels_) == 1.0


def _two_dim_planes():
    X, y = make_subspaces(n_samples=120, n_features=12, n_subspaces=3, subspace_dim=2,
                          noise=0.0, random_state=0)
    return X, y


def test_more_components_than_clusters_are_merged_with_a_warning():
    X, y = _two_dim_planes()
    params = dict(method="tsc", random_state=0)
    n_components, _ = count_components(SubspaceClusterer(3, **params).fit(X).affinity_matrix_)
    assert n_components > 3
    with pytest.warns(UserWarning, match="connected components for 3 clusters"):
        model = SubspaceClusterer(3, **params).fit(X)
    assert clustering_accuracy(y, model.labels_) == 1.0


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1),
       params=st.sampled_from([dict(), dict(method="ensc", affinity="knn"),
                               dict(method="omp", n_nonzero=3), dict(method="tsc"),
                               dict(method="ensc", affinity="knn", n_neighbors=3)]))
def test_labels_do_not_depend_on_the_order_of_the_rows(seed, params):
    X, _ = _two_dim_planes()
    permutation = np.random.RandomState(seed).permutation(X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plain = SubspaceClusterer(3, random_state=0, **params).fit(X).labels_
        shuffled = SubspaceClusterer(3, random_state=0, **params).fit(X[permutation]).labels_
    # The same partition (cluster numbers follow first appearance).
    inverse = np.argsort(permutation)
    assert clustering_accuracy(plain, shuffled[inverse]) == 1.0


def test_auto_above_the_dense_limit_chooses_between_omp_and_tsc(monkeypatch):
    # Noisy 3-dim subspaces of R^20: OMP's ten greedy steps reach into other
    # subspaces (it gave chance accuracy as the only candidate); TSC does not.
    import skembed.cluster._methods as methods
    import skembed.cluster._subspace_clusterer as clusterer_module

    monkeypatch.setattr(methods, "AUTO_DENSE_LIMIT", 300)
    monkeypatch.setattr(clusterer_module, "AUTO_DENSE_LIMIT", 300)
    X, y = make_subspaces(n_samples=600, n_features=20, n_subspaces=4, subspace_dim=3,
                          noise=0.02, random_state=0)
    model = SubspaceClusterer(4, random_state=0).fit(X)
    assert {c["method"] for c in model.candidates_} == {"omp", "tsc"}
    assert clustering_accuracy(y, model.labels_) > 0.95
    affine = SubspaceClusterer(4, affine=True, random_state=0).fit(X)
    assert [c["method"] for c in affine.candidates_] == ["omp"]


def test_affine_omp_with_duplicates_and_more_steps_than_dimensions():
    # Affine OMP solved a singular system when a duplicate of a chosen point
    # was picked, or when n_nonzero (10) exceeded the dimension (LinAlgError).
    X, y = make_subspaces(n_samples=200, n_features=30, n_subspaces=3, subspace_dim=3,
                          random_state=1)
    X, y = np.vstack([X, X[:40]]), np.concatenate([y, y[:40]])
    for seed in range(3):
        model = SubspaceClusterer(3, method="omp", affine=True, random_state=seed).fit(X)
        assert clustering_accuracy(y, model.labels_) == 1.0
    rng = np.random.RandomState(0)
    lines = np.vstack([rng.normal(size=5) * 3 + rng.normal(size=(40, 1)) @ rng.normal(size=(1, 5))
                       for _ in range(3)])
    labels = SubspaceClusterer(3, method="omp", affine=True, random_state=0).fit_predict(lines)
    assert labels.shape == (120,) and np.isfinite(labels).all()


_PROGRESS_LINE = r"\[SubspaceClusterer\] (.*) \(\d+\.\d\d s\)"


def _progress_lines(text):
    """The messages of the clusterer's progress lines; every line must be one."""
    import re

    lines = text.splitlines()
    matches = [re.fullmatch(_PROGRESS_LINE, line) for line in lines]
    assert all(matches), lines
    return [match.group(1) for match in matches]


def test_verbose_zero_prints_nothing(capsys):
    X, _ = _three_subspaces()
    for method in ["auto", "omp", "ssc"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SubspaceClusterer(3, method=method, max_iter=20, random_state=0).fit(X)
    assert capsys.readouterr() == ("", "")


def test_verbose_one_prints_each_stage_and_candidate(capsys):
    X, _ = _three_subspaces()
    model = SubspaceClusterer(3, random_state=0, verbose=1,
                              out_of_sample="collaborative").fit(X)
    messages = _progress_lines(capsys.readouterr().out)
    # Each of the 3 LSR representations, then the 2 powers tried on it.
    assert [m.split(":")[0] for m in messages] == [
        "representation", "candidate 1/6", "candidate 2/6",
        "representation", "candidate 3/6", "candidate 4/6",
        "representation", "candidate 5/6", "candidate 6/6",
        "spectral step", "subspace bases", "collaborative rule",
    ]
    candidates = [m for m in messages if m.startswith("candidate")]
    for message, entry in zip(candidates, model.candidates_, strict=True):
        assert (f"method='lsr', gamma={entry['gamma']:g}, affinity='power', "
                f"affinity_rank={entry['affinity_rank']}, "
                f"affinity_power={entry['affinity_power']:g}") in message
        assert f"relative eigengap {entry['relative_eigengap']:.4g} at 3 clusters" in message
    assert messages[-3] == "spectral step: 3 clusters"
    # Level 1 has no chunk lines.
    assert not any("chunks" in m for m in messages)


def test_verbose_two_prints_each_chunk(capsys, monkeypatch):
    from skembed.cluster import _methods

    X, _ = _three_subspaces()
    # 120 points against 120: chunks of 25 rows, 5 chunks.
    monkeypatch.setattr(_methods, "CHUNK_FLOATS", 25 * X.shape[0])
    SubspaceClusterer(3, method="omp", n_nonzero=3, random_state=0, verbose=2).fit(X)
    messages = _progress_lines(capsys.readouterr().out)
    chunks = [m for m in messages if "chunks of points" in m]
    assert chunks == [f"{i}/5 chunks of points" for i in range(1, 6)]
    assert messages.index(chunks[-1]) < messages.index(
        next(m for m in messages if m.startswith("representation")))
    # The same fit at level 1 reports the stages only.
    SubspaceClusterer(3, method="omp", n_nonzero=3, random_state=0, verbose=1).fit(X)
    assert not any("chunks" in m for m in _progress_lines(capsys.readouterr().out))


def test_verbose_two_leaves_parallel_chunks_to_joblib(capsys, monkeypatch):
    from joblib import parallel_config

    from skembed.cluster import _methods

    X, _ = _three_subspaces()
    monkeypatch.setattr(_methods, "CHUNK_FLOATS", 25 * X.shape[0])
    with parallel_config(backend="threading", n_jobs=2):
        SubspaceClusterer(3, method="omp", n_nonzero=3, random_state=0, verbose=2).fit(X)
    captured = capsys.readouterr()
    assert not any("chunks" in m for m in _progress_lines(captured.out))
    # joblib reports its own progress (the worker count it shows varies by release).
    assert "[Parallel(n_jobs=" in captured.err + captured.out


@pytest.mark.parametrize("method, steps", [("ssc", "ADMM steps"), ("lrr", "ALM steps")])
def test_verbose_two_reports_solver_steps(capsys, monkeypatch, method, steps):
    X, _ = _three_subspaces()
    # The SSC ADMM stops once every point's duality gap is certified, which
    # the polishing makes happen within 25 steps here: check only at the end.
    monkeypatch.setattr(_ssc, "CHECK_EVERY", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SubspaceClusterer(3, method=method, max_iter=25, random_state=0,
                                  verbose=2).fit(X)
    assert model.n_iter_ == 25  # fewer steps than either solver needs here
    messages = _progress_lines(capsys.readouterr().out)
    assert [m for m in messages if m.endswith(steps)] == [f"10/25 {steps}", f"20/25 {steps}"]
