"""SensitivitySampler and CoresetEstimator: scores against their definitions, unbiasedness, the meta-estimator."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    QuantileRegressor,
)
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skembed.sampling import (
    CoresetEstimator,
    CoresetSpeedWarning,
    SensitivitySampler,
    _coreset,
    bernoulli_sample,
    exact_leverage_scores,
    exact_sensitivities,
    iid_sample,
    inclusion_probabilities,
    lewis_weights,
    sketched_leverage_scores,
    sketched_sensitivities,
)
from skembed.sampling._leverage import (
    PASS_BLOCK_ROWS,
    stacked_sketched_leverage_scores,
    well_conditioned_basis,
)
from skembed.sampling._lewis import lewis_fixed_point_map, lewis_weights_convex
from skembed.sampling._sensitivity import lewis_sensitivity_bound

METHODS = ["leverage", "lewis", "sensitivity", "root_leverage", "hybrid", "uniform"]
seeds = st.integers(0, 2**31 - 1)


def heavy_tailed(n, d, seed=0, rank=None):
    """Rows of very different norms (and optional rank deficiency)."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)) * rng.standard_cauchy(size=(n, 1))
    if rank is not None:
        X = X[:, :rank] @ rng.standard_normal((rank, d))
    return X


# ----------------------------------------------------------------------------
# Leverage scores
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [None, 3])
def test_exact_leverage_is_the_projection_diagonal(rank):
    X = heavy_tailed(200, 6, rank=rank)
    scores = exact_leverage_scores(X)
    hat_diagonal = np.einsum("ij,ji->i", X, np.linalg.pinv(X))  # diag(X X^+)
    np.testing.assert_allclose(scores, hat_diagonal, atol=1e-10)
    assert scores.sum() == pytest.approx(np.linalg.matrix_rank(X), abs=1e-8)
    assert scores.max() <= 1 + 1e-12


def test_exact_leverage_on_sparse_matches_dense():
    rng = np.random.RandomState(1)
    X = sp.random(3000, 8, density=0.3, format="csr", random_state=rng)
    X = sp.hstack([X, np.ones((3000, 1))], format="csr")
    np.testing.assert_allclose(exact_leverage_scores(X), exact_leverage_scores(X.toarray()),
                               atol=1e-9)


@pytest.mark.parametrize("sketch", ["countsketch", "srht"])
def test_sketched_leverage_within_factor_two(sketch):
    # With the default sketch (4 d^2 + 200 rows) the distortion is well inside
    # a factor 2 with high probability: over 5 seeds every row must be.
    X = heavy_tailed(20000, 8)
    exact = exact_leverage_scores(X)
    for seed in range(5):
        estimate = sketched_leverage_scores(X, np.random.RandomState(seed), sketch=sketch)
        ratio = estimate / exact
        assert 0.5 <= ratio.min() and ratio.max() <= 2.0


def test_sketched_leverage_with_jl_projection():
    X = heavy_tailed(20000, 30)
    exact = exact_leverage_scores(X)
    estimate = sketched_leverage_scores(X, np.random.RandomState(0), jl_dim=400)
    ratio = estimate / exact
    assert 0.5 <= ratio.min() and ratio.max() <= 2.0


def test_sketched_leverage_on_sparse_input():
    X = sp.random(20000, 10, density=0.2, format="csr", random_state=0)
    estimate = sketched_leverage_scores(X, np.random.RandomState(0))
    exact = exact_leverage_scores(X.toarray())
    zero = exact < 1e-12  # empty rows
    assert zero.any() and np.all(estimate[zero] == 0)
    ratio = estimate[~zero] / exact[~zero]
    assert 0.5 <= ratio.min() and ratio.max() <= 2.0


# ----------------------------------------------------------------------------
# Lewis weights
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 1.5, 3, 5])
@pytest.mark.parametrize("rank", [None, 4])
def test_lewis_weights_fixed_point_and_sum(p, rank):
    X = heavy_tailed(300, 6, rank=rank)
    weights, n_iter = lewis_weights(X, p, tol=1e-13, max_iter=2000)
    assert n_iter < 2000
    basis = well_conditioned_basis(X, np.random.RandomState(0))
    residual = np.abs(lewis_fixed_point_map(basis, weights, p) - weights) / weights
    assert residual.max() <= 1e-8
    assert weights.sum() == pytest.approx(np.linalg.matrix_rank(X), rel=1e-8)


def test_lewis_weights_at_p2_are_leverage_scores():
    X = heavy_tailed(300, 5)
    np.testing.assert_allclose(lewis_weights(X, 2)[0], exact_leverage_scores(X), rtol=1e-10)


def test_lewis_weights_invariant_under_column_mixing():
    X = heavy_tailed(300, 4)
    A = np.random.RandomState(3).standard_normal((4, 4))
    np.testing.assert_allclose(lewis_weights(X, 1, tol=1e-12)[0],
                               lewis_weights(X @ A, 1, tol=1e-12)[0], rtol=1e-8)


@pytest.mark.slow
def test_damped_iteration_matches_convex_program_at_p5():
    # p >= 4: the plain fixed point does not contract; the damped one must
    # land on the optimum of Lewis's log-det program.
    X = heavy_tailed(40, 3, seed=2)
    iterative = lewis_weights(X, 5, tol=1e-13, max_iter=2000)[0]
    convex = lewis_weights_convex(X, 5)
    np.testing.assert_allclose(iterative, convex, rtol=1e-5)


def test_lewis_weights_sparse_and_zero_rows():
    X = sp.random(2000, 6, density=0.5, format="csr", random_state=0).toarray()
    X[:10] = 0
    dense = lewis_weights(X, 1, tol=1e-12)[0]
    sparse = lewis_weights(sp.csr_matrix(X), 1, tol=1e-12)[0]
    assert np.all(dense[:10] <= 1e-12)
    np.testing.assert_allclose(sparse, dense, rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------
# Sensitivities
# ----------------------------------------------------------------------------


def brute_force_sensitivities(X, p, n_angles=200_000):
    """max over a fine grid of directions b of |x_i b|^p / ||X b||_p^p (d = 2)."""
    angles = np.linspace(0, np.pi, n_angles, endpoint=False)
    B = np.vstack([np.cos(angles), np.sin(angles)])
    values = np.abs(X @ B) ** p
    return (values / values.sum(axis=0)).max(axis=1)


@pytest.mark.parametrize("p", [1, 1.5, 3])
def test_exact_sensitivities_match_brute_force(p):
    X = heavy_tailed(12, 2, seed=4)
    exact = exact_sensitivities(X, p)
    np.testing.assert_allclose(exact, brute_force_sensitivities(X, p), rtol=1e-4)


@pytest.mark.parametrize("p", [1, 3])
def test_sensitivities_below_lewis_bound(p):
    X = heavy_tailed(30, 3, seed=5)
    sensitivities = exact_sensitivities(X, p)
    lewis = lewis_weights(X, p, tol=1e-12)[0]
    bound = lewis_sensitivity_bound(lewis, p, rank=3)
    assert np.all(sensitivities <= bound * (1 + 1e-6))
    # And they are real programs, not the bound itself.
    assert sensitivities.sum() < 0.95 * bound.sum()


def test_sensitivities_at_p2_are_leverage_scores():
    X = heavy_tailed(50, 3)
    np.testing.assert_allclose(exact_sensitivities(X, 2), exact_leverage_scores(X), rtol=1e-9)


def test_linprog_path_matches_warm_started_simplex():
    from skembed.sampling._sensitivity import _l1_minima, _l1_minima_linprog

    X = heavy_tailed(40, 3, seed=6)
    np.testing.assert_allclose(_l1_minima(X, X[:8]), _l1_minima_linprog(X, X[:8]), rtol=1e-7)


@pytest.mark.slow
def test_sketched_sensitivities_close_to_exact():
    X = heavy_tailed(400, 3, seed=7)
    exact = exact_sensitivities(X, 1)
    sketched, _ = sketched_sensitivities(X, 1, np.random.RandomState(0), embedding_size=200)
    ratio = sketched / exact
    assert np.median(ratio) == pytest.approx(1, abs=0.2)
    assert 0.5 <= ratio.min() and ratio.max() <= 3


# ----------------------------------------------------------------------------
# Sampling schemes
# ----------------------------------------------------------------------------


def test_inclusion_probabilities_water_filling():
    q = np.array([0.5, 0.3, 0.1, 0.05, 0.05])
    pi = inclusion_probabilities(q, 3)
    assert pi.sum() == pytest.approx(3)
    assert pi[0] == 1 and pi[1] == 1
    np.testing.assert_allclose(pi[2:] / q[2:], pi[2] / q[2])  # proportional below the cap
    np.testing.assert_array_equal(inclusion_probabilities(q, 5), np.ones(5))


@pytest.mark.parametrize("scheme", ["bernoulli", "iid"])
@pytest.mark.parametrize("p", [1, 2])
def test_sampled_objective_is_unbiased(scheme, p):
    X = heavy_tailed(400, 3, seed=8)
    q = lewis_weights(X, p)[0]
    q = 0.5 * q / q.sum() + 0.5 / len(q)
    b = np.array([1.0, -2.0, 0.5])
    values = np.abs(X @ b) ** p
    draw = bernoulli_sample if scheme == "bernoulli" else iid_sample
    estimates = []
    for seed in range(2000):
        indices, weights = draw(q, 40, np.random.RandomState(seed))[:2]
        estimates.append(weights @ values[indices])
    estimates = np.array(estimates)
    standard_error = estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - values.sum()) <= 4 * standard_error
    # A biased scheme (without replacement, weights 1/(m q)) fails this test.
    biased = []
    for seed in range(2000):
        rng = np.random.RandomState(seed)
        indices = rng.choice(len(q), size=40, replace=False, p=q)
        biased.append((values[indices] / (40 * q[indices])).sum())
    assert abs(np.mean(biased) - values.sum()) > 4 * np.std(biased) / np.sqrt(2000)


# ----------------------------------------------------------------------------
# SensitivitySampler
# ----------------------------------------------------------------------------


def regression(n=3000, d=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)) * rng.exponential(size=(n, 1))
    y = X @ np.arange(1.0, d + 1) + rng.laplace(size=n)
    return X, y


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scheme", ["bernoulli", "iid"])
def test_sampler_attributes(method, scheme):
    # Exact sensitivities solve one LP per row: keep n small for them.
    n = 150 if method in ("sensitivity", "hybrid") else 600
    X, y = regression(n=n, d=3)
    sampler = SensitivitySampler(40, p=1, method=method, scheme=scheme, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (len(sampler.sample_indices_), 3)
    assert sampler.n_iter_ >= 1
    np.testing.assert_array_equal(y_res, y[sampler.sample_indices_])
    assert sampler.scores_.shape == (n,)
    assert sampler.total_sensitivity_ == pytest.approx(sampler.scores_.sum())
    assert sampler.probabilities_.sum() == pytest.approx(1)
    if scheme == "bernoulli":
        assert np.all(sampler.sample_weight_ >= 1 - 1e-12)  # 1 / pi, pi <= 1
        assert 10 <= len(sampler.sample_indices_) <= 80
    else:
        assert len(sampler.sample_indices_) <= 40
        assert sampler.sample_weight_.sum() == pytest.approx(n, rel=0.8)
    assert np.all(np.diff(sampler.sample_indices_) > 0)
    if method == "lewis":
        # Lewis weights of [X, y, 1] sum to its rank.
        assert sampler.total_sensitivity_ == pytest.approx(5, rel=1e-6)


def test_sampler_keeps_every_row_when_asked_for_more():
    X, y = regression(n=50)
    for scheme in ("bernoulli", "iid"):
        sampler = SensitivitySampler(1000, scheme=scheme).fit(X, y)
        np.testing.assert_array_equal(sampler.sample_indices_, np.arange(50))
        np.testing.assert_array_equal(sampler.sample_weight_, np.ones(50))


def test_sampler_reproducible_and_does_not_touch_input():
    X, y = regression()
    X_before = X.copy()
    a = SensitivitySampler(200, p=1, random_state=3).fit(X, y)
    b = SensitivitySampler(200, p=1, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    np.testing.assert_array_equal(X, X_before)


def test_sampler_sample_weight_scales_rows_and_output():
    X, y = regression(n=500)
    v = np.random.RandomState(0).uniform(0.5, 2, size=500)
    sampler = SensitivitySampler(100, p=1, random_state=0).fit(X, y, sample_weight=v)
    design = np.hstack([X, y[:, None], np.ones((500, 1))]) * v[:, None]
    np.testing.assert_allclose(sampler.scores_, lewis_weights(design, 1)[0], rtol=1e-5)
    indices = sampler.sample_indices_
    np.testing.assert_allclose(sampler.sample_weight_,
                               v[indices] / sampler.inclusion_probabilities_[indices])


def test_sampler_sample_weight_enters_as_v_to_the_one_over_p():
    X, y = regression(n=400)
    v = np.random.RandomState(1).uniform(0.5, 2, size=400)
    sampler = SensitivitySampler(100, p=3, random_state=0).fit(X, y, sample_weight=v)
    design = np.hstack([X, y[:, None], np.ones((400, 1))]) * v[:, None] ** (1 / 3)
    np.testing.assert_allclose(sampler.scores_, lewis_weights(design, 3)[0], rtol=1e-5)


def test_sampler_rejects_an_all_zero_design():
    with pytest.raises(ValueError, match="every row has score 0"):
        SensitivitySampler(10, fit_intercept=False).fit(np.zeros((50, 3)))


def test_lewis_weights_warn_when_max_iter_stops_them():
    X, _ = regression(n=300)
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        lewis_weights(X, 8, max_iter=2)


def test_sampler_names_itself_in_the_solver_warning():
    X, y = regression(n=300)
    with pytest.warns(ConvergenceWarning,
                      match="^SensitivitySampler.fit: Lewis weights did not converge"):
        SensitivitySampler(50, p=8, max_iter=2, random_state=0).fit(X, y)


def test_sampler_string_labels_not_in_design():
    X, _ = regression(n=300)
    labels = np.where(X[:, 0] > 0, "a", "b")
    with_labels = SensitivitySampler(50, random_state=0).fit(X, labels)
    without = SensitivitySampler(50, random_state=0).fit(X)
    np.testing.assert_allclose(with_labels.scores_, without.scores_)


def test_sampler_sparse_input():
    X = sp.random(2000, 6, density=0.3, format="csr", random_state=0)
    y = np.asarray(X.sum(axis=1)).ravel()
    dense = SensitivitySampler(200, p=1, random_state=0).fit(X.toarray(), y)
    sparse = SensitivitySampler(200, p=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-6, atol=1e-12)
    X_res, _ = sparse.fit_resample(X, y)
    assert sp.issparse(X_res)


def test_sampler_bad_input():
    X, y = regression(n=100)
    with pytest.raises(ValueError, match="SensitivitySampler.*NaN"):
        SensitivitySampler().fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="p"):
        SensitivitySampler(p=0.5).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        SensitivitySampler(method="magic").fit(X, y)
    with pytest.raises(ValueError, match="SensitivitySampler.*negative"):
        SensitivitySampler().fit(X, sample_weight=-np.ones(100))
    with pytest.raises(ValueError, match="SensitivitySampler.*inconsistent"):
        SensitivitySampler().fit(X, y[:-1])


@pytest.mark.slow
def test_lewis_beats_uniform_on_a_coherent_design():
    # One rare binary feature (5 rows of 8,000) with a large coefficient:
    # uniform samples of 400 rows usually miss it; Lewis weights keep it.
    rng = np.random.RandomState(0)
    n = 8000
    X = rng.standard_normal((n, 3))
    rare = np.zeros(n)
    rare[rng.choice(n, 5, replace=False)] = 1
    X = np.column_stack([X, rare])
    y = X @ np.array([1.0, 1.0, 1.0, 100.0]) + rng.laplace(size=n)
    lad = QuantileRegressor(quantile=0.5, alpha=0, solver="highs")
    full = clone(lad).fit(X, y)

    def objective(model):
        return np.abs(y - model.predict(X)).sum()

    optimum = objective(full)
    ratios = {}
    for method in ("uniform", "lewis"):
        values = []
        for seed in range(9):  # a uniform sample holds a rare row 23% of the time
            sampler = SensitivitySampler(400, p=1, method=method, random_state=seed)
            coreset = CoresetEstimator(lad, sampler=sampler).fit(X, y)
            values.append(objective(coreset) / optimum)
        ratios[method] = np.median(values)
    assert ratios["lewis"] < 1.1
    assert ratios["uniform"] - 1 > 10 * (ratios["lewis"] - 1)


# ----------------------------------------------------------------------------
# CoresetEstimator
# ----------------------------------------------------------------------------


def test_coreset_least_squares_close_to_full_fit():
    X, y = regression(n=20000, d=5)
    full = LinearRegression().fit(X, y)
    sampler = SensitivitySampler(1000, random_state=0)
    coreset = CoresetEstimator(LinearRegression(), sampler=sampler)
    coreset.fit(X, y)
    loss = lambda model: np.sum((y - model.predict(X)) ** 2)
    assert loss(coreset) / loss(full) < 1.05
    assert len(coreset.sampler_.sample_indices_) < 1200


def test_refine_least_squares_is_exact():
    X, y = regression(n=5000, d=4)
    full = LinearRegression().fit(X, y)
    coreset = CoresetEstimator(
        LinearRegression(), sampler=SensitivitySampler(200, random_state=0), refine=1
    ).fit(X, y)
    np.testing.assert_allclose(coreset.estimator_.coef_, full.coef_, rtol=1e-8)
    assert coreset.estimator_.intercept_ == pytest.approx(full.intercept_, abs=1e-8)


def test_refine_quantile_regression_improves_objective():
    X, y = regression(n=6000, d=4)
    lad = QuantileRegressor(quantile=0.5, alpha=0, solver="highs")
    full = clone(lad).fit(X, y)
    loss = lambda model: np.abs(y - model.predict(X)).sum()
    sampler = SensitivitySampler(300, p=1, random_state=0)
    plain = CoresetEstimator(lad, sampler=sampler).fit(X, y)
    refined = CoresetEstimator(lad, sampler=sampler, refine=10).fit(X, y)
    assert loss(refined) <= loss(plain)
    assert loss(refined) / loss(full) < 1.002


def test_refine_logistic_regression_reaches_full_fit():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20000, 4))
    y = (X @ np.array([1.0, -1.0, 2.0, 0.5]) + rng.logistic(size=20000) > 0).astype(int)
    full = LogisticRegression(C=10.0, tol=1e-10, max_iter=1000).fit(X, y)
    coreset = CoresetEstimator(
        LogisticRegression(C=10.0), sampler=SensitivitySampler(500, p=1, random_state=0),
        refine=8
    ).fit(X, y)
    np.testing.assert_allclose(coreset.estimator_.coef_, full.coef_, rtol=1e-4)
    assert coreset.predict_proba(X[:5]).shape == (5, 2)
    assert set(coreset.classes_) == {0, 1}


def test_refine_unpenalised_logistic_regression_ignores_C():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((5000, 3))
    y = (X @ np.array([3.0, -2.0, 1.0]) + rng.logistic(size=5000) > 0).astype(int)
    full = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000, solver="newton-cg").fit(X, y)
    coreset = CoresetEstimator(
        LogisticRegression(C=np.inf), sampler=SensitivitySampler(300, p=1, random_state=0),
        refine=20
    ).fit(X, y)
    np.testing.assert_allclose(coreset.estimator_.coef_, full.coef_, rtol=1e-6)


def test_refine_least_squares_with_several_targets_is_exact():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 3))
    Y = np.column_stack([X @ [1.0, 2.0, 3.0], X @ [-1.0, 0.0, 1.0] + 1.0])
    Y += rng.standard_normal(Y.shape)
    full = LinearRegression().fit(X, Y)
    coreset = CoresetEstimator(
        LinearRegression(), sampler=SensitivitySampler(100, random_state=0), refine=1
    ).fit(X, Y)
    np.testing.assert_allclose(coreset.estimator_.coef_, full.coef_, atol=1e-10)
    np.testing.assert_allclose(coreset.estimator_.intercept_, full.intercept_, atol=1e-10)


def test_coreset_errors():
    X, y = regression(n=200)
    with pytest.raises(ValueError, match="KNeighborsRegressor.fit takes no sample_weight"):
        CoresetEstimator(KNeighborsRegressor()).fit(X, y)
    with pytest.raises(ValueError, match="^CoresetEstimator.fit: refine supports"):
        CoresetEstimator(QuantileRegressor(alpha=1.0), refine=2).fit(X, y)
    three_classes = np.arange(200) % 3
    with pytest.raises(ValueError, match="^CoresetEstimator.fit: refine supports binary"):
        CoresetEstimator(LogisticRegression(), refine=1).fit(X, three_classes)
    # Models whose objective the passes do not optimise are refused up front:
    # a sign constraint, one ridge per target, liblinear's penalised
    # intercept, the cross-validated classifier.
    from sklearn.linear_model import LogisticRegressionCV, Ridge

    labels = (y > np.median(y)).astype(int)
    for model, target in [(LinearRegression(positive=True), y),
                          (Ridge(alpha=np.array([1.0])), y),
                          (LogisticRegression(solver="liblinear"), labels),
                          (LogisticRegressionCV(), labels)]:
        with pytest.raises(ValueError, match="^CoresetEstimator.fit: refine supports"):
            CoresetEstimator(model, refine=1).fit(X, target)
    labels = np.r_[np.zeros(199, int), 1]
    sampler = SensitivitySampler(20, random_state=0)
    with pytest.raises(ValueError, match="no row of classes"):
        CoresetEstimator(LogisticRegression(), sampler=sampler).fit(X, labels)


def test_coreset_default_sampler_p_follows_the_loss():
    X, y = regression(n=300)
    lad = CoresetEstimator(QuantileRegressor(alpha=0, solver="highs")).fit(X, y)
    ls = CoresetEstimator().fit(X, y)
    assert lad.sampler_.p == 1 and ls.sampler_.p == 2


def test_coreset_in_pipeline_and_grid_search():
    X, y = regression(n=2000)
    pipe = make_pipeline(
        StandardScaler(),
        CoresetEstimator(LinearRegression(), sampler=SensitivitySampler(100, random_state=0)),
    )
    search = GridSearchCV(pipe, {"coresetestimator__sampler__n_samples": [100, 400]}, cv=3)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # The nested parameter reaches the sampler: the larger coreset fits at
    # least as well, wins, and the refitted model holds about as many rows.
    assert scores[1] >= scores[0]
    assert search.best_params_["coresetestimator__sampler__n_samples"] == 400
    assert 300 <= len(search.best_estimator_[-1].sampler_.sample_indices_) <= 500
    assert search.score(X, y) > 0.8


def test_coreset_routes_fit_params():
    import sklearn

    class Recorder(LinearRegression):
        def fit(self, X, y, sample_weight=None, tag=None):
            self.tag_ = tag
            return super().fit(X, y, sample_weight=sample_weight)

    X, y = regression(n=500)
    tag = np.arange(500)
    coreset = CoresetEstimator(Recorder(), sampler=SensitivitySampler(50, random_state=0))
    coreset.fit(X, y, tag=tag)
    np.testing.assert_array_equal(coreset.estimator_.tag_, tag[coreset.sampler_.sample_indices_])
    with sklearn.config_context(enable_metadata_routing=True):
        routed = CoresetEstimator(Recorder().set_fit_request(tag=True, sample_weight=True),
                                  sampler=SensitivitySampler(50, random_state=0))
        routed.fit(X, y, tag=tag)
        np.testing.assert_array_equal(routed.estimator_.tag_,
                                      tag[routed.sampler_.sample_indices_])


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, solver, n_rows, expected",
    [
        ("uniform", "auto", 100, {}),
        ("leverage", "auto", 100, {"leverage": "exact"}),
        ("lewis", "auto", 100, {"lewis_basis": "exact"}),
        ("sensitivity", "auto", 600, {"sensitivity": "sketch"}),
        ("hybrid", "auto", 100, {"sensitivity": "exact", "leverage": "exact"}),
        ("root_leverage", "sketch", 100, {"leverage": "sketch"}),
    ],
)
def test_solver_is_resolved_once_per_step(method, solver, n_rows, expected):
    X = np.random.RandomState(0).normal(size=(n_rows, 3))
    p = 3.0 if method == "hybrid" else 1.0
    sampler = SensitivitySampler(50, method=method, solver=solver, p=p, random_state=0).fit(X)
    assert sampler.solvers_ == expected


def test_sparse_lewis_basis_is_sketched_and_says_so():
    X = sp.random(300, 5, density=0.5, random_state=0, format="csr")
    sampler = SensitivitySampler(50, method="lewis", p=1.0, solver="exact", random_state=0).fit(X)
    assert sampler.solvers_ == {"lewis_basis": "sketch"}


# ----------------------------------------------------------------------------
# Units of the columns (issue 13, item 4) and float32 designs (item 12)
# ----------------------------------------------------------------------------


def rare_feature_regression(n=20000, seed=0):
    """Heavy-tailed rows, one indicator feature set on 20 rows only, y depending on it."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, 4)) * rng.standard_cauchy(size=(n, 1))
    rare = np.zeros(n)
    rare[rng.choice(n, 20, replace=False)] = 1
    X = np.column_stack([X, rare])
    y = X @ np.array([1.0, 1.0, 1.0, 1.0, 100.0]) + rng.laplace(size=n)
    return X, y, rare > 0


def test_target_in_other_units_keeps_every_direction():
    # Issue 13 item 4, on 20,000 rows and 400 draws instead of 50,000 and
    # 1,000 (the same sampled fraction). With y in units 1e12 times larger
    # the rank cut on R dropped the five X columns: total_sensitivity_ was
    # 1.0 and 5 of the 20 rare rows were drawn. Right value: the Lewis
    # weights of [X, y, 1] whatever y's units (they sum to its rank, 7), so
    # every rare row is certain to be drawn.
    X, y, rare = rare_feature_regression()
    reference = SensitivitySampler(400, p=1, random_state=0).fit(X, y)
    scaled = SensitivitySampler(400, p=1, random_state=0).fit(X, y * 1e12)
    assert scaled.total_sensitivity_ == pytest.approx(7.0, rel=1e-6)
    np.testing.assert_allclose(scaled.scores_, reference.scores_, rtol=1e-8)
    np.testing.assert_array_equal(scaled.inclusion_probabilities_[rare], 1.0)
    assert np.isin(np.flatnonzero(rare), scaled.sample_indices_).all()


@pytest.mark.parametrize("method", ["leverage", "lewis"])
def test_timestamp_column_keeps_every_direction(method):
    # Issue 13 item 4: nanosecond timestamps (~1.7e18, a month apart) next to
    # unit-scale columns gave a total of 1.0. Right value: [X, t, y, 1] has
    # rank 8, the total of the leverage scores and of the Lewis weights.
    rng = np.random.RandomState(1)
    n = 5000
    timestamps = 1.7e18 + rng.uniform(0, 30 * 86400e9, n)
    X = np.column_stack([rng.standard_normal((n, 5)), timestamps])
    y = X[:, :5].sum(axis=1) + rng.standard_normal(n)
    sampler = SensitivitySampler(500, p=1, method=method, random_state=0).fit(X, y)
    assert sampler.total_sensitivity_ == pytest.approx(8.0, rel=1e-6)
    in_seconds = SensitivitySampler(500, p=1, method=method, random_state=0).fit(
        np.column_stack([X[:, :5], (timestamps - 1.7e18) / 1e9]), y
    )
    np.testing.assert_allclose(sampler.scores_, in_seconds.scores_, rtol=1e-6)


def hostile_design(seed, n, d, *, rank_deficient, duplicates, near_collinear, zero_weights):
    """A regression (X, y, sample_weight) built to stress the rank decisions."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)) * rng.standard_cauchy(size=(n, 1))
    if rank_deficient and d > 1:
        rank = rng.randint(1, d)
        X = X[:, :rank] @ rng.standard_normal((rank, d))
    if near_collinear and d > 1:
        # A column 1e-5 (of its norm) away from another: condition number
        # about 1e5, so a backward-stable QR, accurate to about eps times the
        # condition number, still resolves the scores to well within 1e-8.
        X[:, -1] = X[:, 0] + 1e-5 * np.sqrt(np.mean(X[:, 0] ** 2)) * rng.standard_normal(n)
    if duplicates and n > 2:
        X[rng.randint(1, n, size=n // 3)] = X[0]
    y = X @ rng.standard_normal(d) + rng.laplace(size=n)
    weight = rng.uniform(0.5, 2.0, size=n)
    if zero_weights and n > 1:
        weight[rng.uniform(size=n) < 0.3] = 0.0
        weight[0] = 1.0
    column_scales = 10.0 ** rng.uniform(-150, 150, size=d + 1)
    return X, y, weight, column_scales


def assert_same_scores(actual, expected):
    # 1e-8 relative; a row that is zero in the design (a zero weight) has a
    # rounding-level score, compared at 1e-10 of the total (the rank): on
    # numpy 1.24's LAPACK such a score moved by 2e-11 with a total of 5.
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-10 * max(expected.sum(), 1))


SCALED_CASES = [
    # (method, p, solver): every scoring path of the sampler, exact and sketched.
    ("leverage", 2.0, "exact"),
    ("leverage", 2.0, "sketch"),
    ("root_leverage", 1.0, "exact"),
    ("lewis", 1.0, "exact"),
    ("lewis", 3.0, "exact"),
    ("lewis", 1.0, "sketch"),
    ("sensitivity", 1.0, "exact"),
    ("sensitivity", 1.0, "sketch"),
    ("hybrid", 1.0, "exact"),
    ("hybrid", 2.0, "sketch"),
]


@settings(max_examples=40, deadline=None)
@given(
    seeds,
    st.integers(2, 24),
    st.integers(1, 5),
    st.sampled_from(SCALED_CASES),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_scores_do_not_depend_on_column_units(seed, n, d, case, rank_deficient, duplicates,
                                              near_collinear, zero_weights, sparse):
    # Leverage scores, Lewis weights and sensitivities depend only on the
    # column space of [X, y, 1], which a positive scaling of the columns of
    # [X, y] does not change: the scores must be the same, from 1e-150 to
    # 1e150, for n below, near and above the number of columns. Sketched
    # solvers draw the same sketch for the same random_state, so they too
    # must give the same scores.
    method, p, solver = case
    X, y, weight, scales = hostile_design(
        seed, n, d, rank_deficient=rank_deficient, duplicates=duplicates,
        near_collinear=near_collinear, zero_weights=zero_weights,
    )
    X_scaled, y_scaled = X * scales[:-1], y * scales[-1]
    if sparse:
        X, X_scaled = sp.csr_matrix(X), sp.csr_matrix(X_scaled)
    sampler = SensitivitySampler(5, p=p, method=method, solver=solver, tol=1e-12,
                                 max_iter=2000, random_state=seed)
    expected = clone(sampler).fit(X, y, sample_weight=weight).scores_
    actual = clone(sampler).fit(X_scaled, y_scaled, sample_weight=weight).scores_
    assert_same_scores(actual, expected)


@settings(max_examples=6, deadline=None)  # one LP per row: keep it small
@given(seeds, st.integers(12, 18), st.integers(1, 4), st.sampled_from(["countsketch", "srht"]),
       st.booleans(), st.booleans(), st.booleans())
def test_sketches_do_not_depend_on_column_units(seed, n, d, sketch, rank_deficient, duplicates,
                                                zero_weights):
    # Sketches smaller than n (the sampler's defaults hold every row of small
    # data): the same random_state draws the same sketch, so the sketched
    # leverage scores and the sensitivities against a Lewis-weight embedding
    # must not depend on the units of the columns either.
    X, y, weight, scales = hostile_design(
        seed, n, d, rank_deficient=rank_deficient, duplicates=duplicates,
        near_collinear=False, zero_weights=zero_weights,
    )
    design = np.column_stack([X, y, np.ones(n)]) * weight[:, None]
    scaled = design * np.append(scales, 1.0)
    assert_same_scores(
        sketched_leverage_scores(scaled, seed, sketch_size=n // 2, sketch=sketch),
        sketched_leverage_scores(design, seed, sketch_size=n // 2, sketch=sketch),
    )
    # An embedding of twice the columns, so that it spans the row space.
    size = 2 * design.shape[1]
    assert_same_scores(
        sketched_sensitivities(scaled, 1, seed, embedding_size=size, tol=1e-12)[0],
        sketched_sensitivities(design, 1, seed, embedding_size=size, tol=1e-12)[0],
    )


@pytest.mark.parametrize("n", [100, 3000])  # the sketch holds every row / a CountSketch
def test_sparse_scores_do_not_depend_on_column_units(n):
    rng = np.random.RandomState(2)
    X = sp.random(n, 4, density=0.4, format="csr", random_state=rng)
    X = sp.hstack([X, np.ones((n, 1))], format="csr")
    scaled = X @ sp.diags([1e150, 1e-150, 1e-100, 1.0, 1e100])
    assert sp.issparse(scaled)
    reference = exact_leverage_scores(X.toarray())
    assert_same_scores(exact_leverage_scores(scaled), reference)
    assert_same_scores(lewis_weights(scaled, 1, tol=1e-12)[0],
                       lewis_weights(X.toarray(), 1, tol=1e-12)[0])
    assert_same_scores(sketched_leverage_scores(scaled, 0), sketched_leverage_scores(X, 0))


@pytest.mark.parametrize("n", [100, 3000])
def test_float32_designs_score_as_float64_of_the_same_numbers(n):
    # Issue 13 item 12: every score is computed in float64 whatever the input
    # dtype. A sparse float32 matrix small enough for the sketch to hold it
    # was factored in float32 (leverage scores 1.2e-7 off, Lewis weights
    # 6e-8); now float32 input gives the float64 scores of the same numbers.
    rng = np.random.RandomState(0)
    X32 = (rng.standard_normal((n, 4)) * rng.exponential(size=(n, 1))).astype(np.float32)
    X32[rng.uniform(size=X32.shape) < 0.5] = 0
    X64 = X32.astype(np.float64)
    for make in (np.asarray, sp.csr_matrix):
        np.testing.assert_array_equal(exact_leverage_scores(make(X32)),
                                      exact_leverage_scores(make(X64)))
        np.testing.assert_array_equal(sketched_leverage_scores(make(X32), 0),
                                      sketched_leverage_scores(make(X64), 0))
        np.testing.assert_array_equal(lewis_weights(make(X32), 1)[0],
                                      lewis_weights(make(X64), 1)[0])
    # The sampler scores the float64 design [X, y, 1] of the same numbers.
    y32 = (X64 @ np.ones(4) + rng.laplace(size=n)).astype(np.float32)
    for method in ("leverage", "lewis"):
        for make in (np.asarray, sp.csr_matrix):
            sampler = SensitivitySampler(50, p=1, method=method, random_state=0)
            from_32 = clone(sampler).fit(make(X32), y32)
            from_64 = clone(sampler).fit(make(X64), y32.astype(np.float64))
            np.testing.assert_array_equal(from_32.scores_, from_64.scores_)


@pytest.mark.parametrize("offset", [1e6, 1e7, 1e9])
def test_refine_is_exact_for_columns_far_from_zero(offset):
    # An uncentred Gram matrix of [X, 1] squares the condition number a
    # large column offset gives: refine=1 came out 58% above the optimum
    # (the coreset fit alone: 0.6%). The passes centre X on the sample's means.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20_000, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + rng.standard_normal(20_000)
    X[:, 0] += offset
    refined = CoresetEstimator(LinearRegression(), refine=1,
                               sampler=SensitivitySampler(600, random_state=0)).fit(X, y)
    centred = LinearRegression().fit(X - X.mean(axis=0), y)
    np.testing.assert_allclose(refined.estimator_.coef_, centred.coef_, rtol=1e-7)
    # Predicting through rows of 1e9 cancels about 1e9 eps = 1e-7 per
    # residual: the objectives agree to that, not to 1e-9.
    residual = y - refined.estimator_.predict(X)
    optimum = y - centred.predict(X - X.mean(axis=0))
    assert residual @ residual <= (optimum @ optimum) * (1 + 1e-6)


def test_refine_does_not_depend_on_column_units():
    # The refinement passes solve in comparable column units and map back:
    # the same model, in the scaled units, for columns of 1e-150 to 1e150
    # (the unscaled Gram matrix overflowed to inf at these scales) and a
    # target in tiny units (an absolute floor of 1e-12 on the residuals
    # swamped them).
    from skembed.sampling._refine import refine_estimator

    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 3)) * rng.exponential(size=(3000, 1))
    y = X @ np.array([1.0, 2.0, 3.0]) + rng.laplace(size=3000)
    labels = (y > np.median(y)).astype(int)
    start = LinearRegression().fit(X[:200], y[:200])
    columns, target = np.array([1e150, 1e-150, 1e-100]), 1e-120

    def refined(model, X, y, n_passes, coef, intercept):
        model.coef_, model.intercept_ = coef, intercept
        return refine_estimator(model, X, y, None, n_passes)

    cases = [
        (LinearRegression(), y, 1),
        # IRLS amplifies rounding about tenfold per pass once the weights
        # spread (on the unscaled data too): compare after four passes.
        (QuantileRegressor(quantile=0.3, alpha=0), y, 4),
    ]
    for model, target_values, n_passes in cases:
        plain = refined(clone(model), X, target_values, n_passes, start.coef_, start.intercept_)
        scaled = refined(clone(model), X * columns, target_values * target, n_passes,
                         start.coef_ * target / columns, start.intercept_ * target)
        np.testing.assert_allclose(scaled.coef_ * columns / target, plain.coef_, rtol=1e-8)
        assert scaled.intercept_ / target == pytest.approx(plain.intercept_, rel=1e-8)
    # Unpenalised logistic regression (a penalty on the coefficients is not
    # unit-free): the labels have no units, only the columns.
    logistic = LogisticRegression(C=np.inf).fit(X[:200], labels[:200])
    plain, scaled = clone(logistic), clone(logistic)
    plain.classes_ = scaled.classes_ = logistic.classes_
    refined(plain, X, labels, 8, logistic.coef_, logistic.intercept_)
    refined(scaled, X * columns, labels, 8, logistic.coef_ / columns, logistic.intercept_)
    np.testing.assert_allclose(scaled.coef_ * columns, plain.coef_, rtol=1e-8)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
@pytest.mark.parametrize("method", ["sensitivity", "hybrid"])
def test_wide_data_have_every_sensitivity_equal_to_one(method, p):
    # 30 rows in 50 dimensions: the design has full row rank, so each row can
    # be fit alone and its sensitivity is 1 (the cvxpy program of such a row
    # is degenerate: it made CLARABEL fail).
    X = np.random.RandomState(0).normal(size=(30, 50))
    sampler = SensitivitySampler(method=method, p=p, n_samples=10, random_state=0).fit(X)
    expected = 1.0 if method == "sensitivity" else 2.0  # hybrid: s + (S / r) tau
    np.testing.assert_allclose(sampler.scores_, expected)


def test_rows_outside_the_span_of_the_others_have_sensitivity_one():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(exact_sensitivities(X, p=3), [1.0, 0.1, 0.1, 0.8])


@pytest.mark.parametrize("method", ["lewis", "leverage", "uniform", "sensitivity"])
@pytest.mark.parametrize("weight", [1e306, 1e-310])
def test_absurd_but_finite_weights_give_the_sample_of_unit_weights(method, weight):
    X = np.random.RandomState(1).normal(size=(120, 4)) * 100
    params = {"method": method, "p": 1.0, "n_samples": 40, "random_state": 0}
    weighted = SensitivitySampler(**params).fit(X, sample_weight=np.full(len(X), weight))
    plain = SensitivitySampler(**params).fit(X)
    np.testing.assert_allclose(weighted.probabilities_, plain.probabilities_, rtol=1e-9)
    np.testing.assert_array_equal(weighted.sample_indices_, plain.sample_indices_)
    np.testing.assert_allclose(weighted.sample_weight_ / weight, plain.sample_weight_, rtol=1e-9)


def test_fit_resample_warns_once_that_the_weights_are_not_returned():
    X, y = regression(n=600, d=3)
    sampler = SensitivitySampler(40, p=1, method="leverage", random_state=0)
    with pytest.warns(UserWarning, match=r"^SensitivitySampler\.fit_resample: .*"
                                         r"sample_weight=sampler\.sample_weight_"):
        sampler.fit_resample(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler.fit_resample(X, y)  # once per sampler
        # Uniform weights (every row kept with probability 1) need no warning.
        SensitivitySampler(600, p=1, method="leverage").fit_resample(X, y)


# ----------------------------------------------------------------------------
# The payoff path: scores without the design, default samplers, progress
# ----------------------------------------------------------------------------


def test_water_filling_on_the_top_rows_matches_sorting_every_row():
    # The water-filling partitions out the m largest q instead of sorting all
    # n; with ties, zeros and rows capped at 1 it must give the same pi.
    rng = np.random.RandomState(0)
    for n, m in [(50, 7), (1000, 10), (1000, 700), (20000, 3000)]:
        q = rng.standard_cauchy(size=n) ** 2
        q[rng.uniform(size=n) < 0.2] = 0
        q[:5] = q[5]  # ties
        q /= q.sum()
        assert m < np.count_nonzero(q)  # else every positive row is kept
        order = np.argsort(-q, kind="stable")
        sorted_q = q[order]
        tail = np.cumsum(sorted_q[::-1])[::-1]
        ranks = np.arange(m)
        capped = int(np.argmax((m - ranks) * sorted_q[:m] <= tail[:m]))
        expected = np.minimum(1.0, (m - capped) / tail[capped] * q)
        pi = inclusion_probabilities(q, m)
        np.testing.assert_allclose(pi, expected, rtol=1e-12, atol=1e-15)
        assert pi.sum() == pytest.approx(m)


def test_lewis_weights_at_p2_run_no_iteration():
    X = heavy_tailed(3000, 4, seed=3)
    weights, n_iter = lewis_weights(X, 2)
    assert n_iter == 0
    np.testing.assert_allclose(weights, exact_leverage_scores(X), rtol=1e-10)


@pytest.mark.parametrize("layout", ["C", "F", "float32"])
@pytest.mark.parametrize("with_columns, weighted", [(True, True), (True, False), (False, True)])
def test_stacked_sketch_scores_the_design_it_does_not_form(layout, with_columns, weighted):
    # Two passes over X give the scores that sketched_leverage_scores gives on
    # the formed design diag(s)[X, C] (the same draws), across several blocks.
    rng = np.random.RandomState(1)
    n, d = 2 * PASS_BLOCK_ROWS + 123, 25
    X = heavy_tailed(n, d, seed=1)
    if layout == "float32":
        X = X.astype(np.float32)
    elif layout == "F":
        X = np.asfortranarray(X)
    columns = np.column_stack([rng.standard_normal(n), np.ones(n)]) if with_columns else None
    row_scale = rng.uniform(0.1, 2.0, size=n) if weighted else None
    design = np.asarray(X, dtype=np.float64)
    if columns is not None:
        design = np.hstack([design, columns])
    if row_scale is not None:
        design = design * row_scale[:, None]
    expected = sketched_leverage_scores(design, np.random.RandomState(7), jl_dim=12)
    actual = stacked_sketched_leverage_scores(X, columns, row_scale, np.random.RandomState(7),
                                              jl_dim=12)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-14)
    # Without the projection (rank <= jl_dim) they are leverage scores:
    # within the sketch's constant factor of the exact ones.
    full = stacked_sketched_leverage_scores(X, columns, row_scale, np.random.RandomState(7),
                                            jl_dim=100)
    ratio = full / exact_leverage_scores(design)
    assert 0.5 < ratio.min() and ratio.max() < 2


@pytest.mark.parametrize("solver", ["exact", "sketch"])
def test_sampler_scores_a_read_only_X_without_copying_it(solver):
    # The leverage paths of a dense X neither write to it nor form the design
    # [X, y, 1] (a float64 copy of X): their peak is a fraction of X.
    X, y = regression(n=300_000, d=40)
    X.flags.writeable = False
    sampler = SensitivitySampler(2000, method="leverage", solver=solver, random_state=0)
    tracemalloc.start()
    try:
        sampler.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sampler.solvers_ == {"leverage": solver}
    assert peak < X.nbytes / 3, f"peak {peak / 1e6:.0f} MB for X of {X.nbytes / 1e6:.0f} MB"


@pytest.mark.parametrize("layout", ["C", "F", "float32"])
def test_two_pass_exact_leverage_matches_a_qr_of_the_formed_design(layout):
    # Exact scores of a dense X fold the R factors of 2048-row blocks, then
    # take the row norms block by block: the thin QR's scores of the design
    # V^(1/p) [X, y, 1], rank-deficient design and zero weights included.
    rng = np.random.RandomState(4)
    n = 3 * 2048 + 17
    X = heavy_tailed(n, 6, seed=4, rank=4)
    y = X @ rng.standard_normal(6) + rng.laplace(size=n)
    # Weights that float32 holds exactly (the validation reads them in X's dtype).
    weight = rng.uniform(0.2, 3.0, size=n).astype(np.float32).astype(np.float64)
    weight[rng.uniform(size=n) < 0.1] = 0
    if layout == "F":
        X = np.asfortranarray(X)
    for method, p in [("leverage", 2.0), ("root_leverage", 1.0)]:
        sampler = SensitivitySampler(100, method=method, p=p, solver="exact", random_state=0)
        if layout == "float32":
            # Converted block by block: the float64 scores of the same numbers.
            X32, y32 = X.astype(np.float32), y.astype(np.float32)
            from_32 = clone(sampler).fit(X32, y32, sample_weight=weight).scores_
            from_64 = clone(sampler).fit(X32.astype(np.float64), y32.astype(np.float64),
                                         sample_weight=weight).scores_
            np.testing.assert_array_equal(from_32, from_64)
            continue
        scores = sampler.fit(X, y, sample_weight=weight).scores_
        design = np.column_stack([X, y, np.ones(n)])
        expected = exact_leverage_scores(design * (weight ** (1 / p))[:, None])
        if method == "root_leverage":
            expected = np.sqrt(expected)
        assert sampler.solvers_ == {"leverage": "exact"}
        assert_same_scores(scores, expected)


def test_default_coreset_fit_does_not_copy_X():
    X, y = regression(n=300_000, d=40)
    X.flags.writeable = False
    for estimator, target in [(LinearRegression(), y), (LogisticRegression(), y > np.median(y))]:
        tracemalloc.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                CoresetEstimator(estimator, random_state=0).fit(X, target)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes / 3, f"{estimator}: peak {peak / 1e6:.0f} MB"


def logistic_problem(n, d, seed=0):
    """Heavy-tailed rows and labels from a noisy, misspecified logistic model."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d)) * rng.standard_t(3, size=(n, 1))
    score = X @ rng.standard_normal(d) / np.sqrt(d) + 0.1 * X[:, 0] ** 2
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-score))).astype(int)


def test_default_samplers_follow_the_loss():
    X, y = regression(n=30_000, d=6)
    ls = CoresetEstimator(random_state=0).fit(X, y).sampler_
    assert (ls.method, ls.p, ls.n_samples, ls.solvers_) == ("leverage", 2.0, 200 * 8,
                                                             {"leverage": "exact"})
    X_c, labels = logistic_problem(30_000, 6)
    lr = CoresetEstimator(LogisticRegression(), random_state=0).fit(X_c, labels).sampler_
    assert (lr.method, lr.p, lr.n_samples) == ("root_leverage", 1.0, 200 * 7)
    lad = CoresetEstimator(QuantileRegressor(alpha=0, solver="highs"), random_state=0)
    lad_sampler = lad.fit(X[:3000], y[:3000]).sampler_
    assert (lad_sampler.method, lad_sampler.p, lad_sampler.n_samples) == ("lewis", 1.0, 1000)


@pytest.mark.filterwarnings("ignore::skembed.sampling.CoresetSpeedWarning")
@pytest.mark.parametrize("kind", ["least squares", "logistic"])
def test_default_coreset_is_within_one_percent_of_the_full_fit(kind):
    # The default sample (200 rows per column) of heavy-tailed rows: the
    # full-data objective at its model within 1% of the optimum, every seed.
    n, d = 60_000, 10
    if kind == "least squares":
        rng = np.random.RandomState(0)
        X = rng.standard_normal((n, d)) * rng.standard_t(3, size=(n, 1))
        y = X @ rng.standard_normal(d) + 0.1 * X[:, 0] ** 2 + 3 * rng.standard_t(3, size=n)
        make = LinearRegression

        def objective(model):
            return np.sum((y - model.predict(X)) ** 2)
    else:
        X, y = logistic_problem(n, d)
        make = LogisticRegression

        def objective(model):
            z = model.decision_function(X)
            w = model.coef_.ravel()
            return model.C * np.sum(np.logaddexp(0, z) - (y == 1) * z) + 0.5 * w @ w
    optimum = objective(make().fit(X, y))
    uniform_excess = []
    for seed in range(5):
        coreset = CoresetEstimator(make(), random_state=seed).fit(X, y)
        assert objective(coreset.estimator_) / optimum < 1.01
        uniform = SensitivitySampler(coreset.sampler_.n_samples, method="uniform",
                                     random_state=seed).fit(X)
        model = make().fit(X[uniform.sample_indices_], y[uniform.sample_indices_],
                           sample_weight=uniform.sample_weight_)
        uniform_excess.append(objective(model) / optimum - 1)
    # Not by luck of a large sample: a uniform sample of the same size misses
    # by more on these rows.
    assert np.median(uniform_excess) > 0.002


@pytest.mark.filterwarnings("ignore::skembed.sampling.CoresetSpeedWarning")
def test_coreset_verbose_prints_each_stage(capsys):
    X, y = regression(n=3000, d=3)
    CoresetEstimator(random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    CoresetEstimator(random_state=0, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("]")[0] for line in lines] == [
        "[SensitivitySampler", "[SensitivitySampler", "[CoresetEstimator"]
    assert "scores: leverage" in lines[0] and "sample drawn" in lines[1]
    assert "LinearRegression fitted on" in lines[2] and lines[2].endswith(" s)")
    lad = QuantileRegressor(alpha=0, solver="highs")
    CoresetEstimator(lad, refine=2, random_state=0, verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "Lewis iteration 1: largest relative change" in out
    assert "refine pass 1: full-data objective" in out and "refined (refine=2)" in out
    CoresetEstimator(lad, refine=2, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "Lewis iteration" not in out and "refine pass" not in out and "refined (refine=2)" in out
    # A given sampler keeps its own verbose.
    CoresetEstimator(sampler=SensitivitySampler(500, random_state=0), verbose=1).fit(X, y)
    assert "[SensitivitySampler]" not in capsys.readouterr().out


def test_coreset_warns_once_below_the_measured_crossover(monkeypatch):
    X, y = regression(n=2000, d=3)
    monkeypatch.setitem(_coreset.CROSSOVER_ROWS, "LinearRegression", 5000)
    coreset = CoresetEstimator(random_state=0)
    with pytest.warns(CoresetSpeedWarning, match="below the crossover measured for "
                      "LinearRegression \\(about 5,000 rows") as record:
        coreset.fit(X, y)
    assert record[0].filename == __file__  # points at the caller's fit
    assert issubclass(CoresetSpeedWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CoresetSpeedWarning)
        coreset.fit(X, y)  # once per estimator
        # A given sampler, or as many rows as the crossover: no warning.
        CoresetEstimator(sampler=SensitivitySampler(500, random_state=0)).fit(X, y)
        monkeypatch.setitem(_coreset.CROSSOVER_ROWS, "LinearRegression", 2000)
        CoresetEstimator(random_state=0).fit(X, y)


def test_default_coreset_of_every_row_warns_on_wide_data():
    from sklearn.linear_model import LinearRegression

    from skembed import CoresetEstimator
    from skembed.sampling import CoresetSpeedWarning

    rng = np.random.RandomState(0)
    X = rng.standard_normal((3_000, 20))  # 200 x 22 columns = 4,400 rows >= 3,000
    y = X @ rng.standard_normal(20)
    with pytest.warns(CoresetSpeedWarning, match="holds every one of the 3,000 rows"):
        CoresetEstimator(LinearRegression(), random_state=0).fit(X, y)
