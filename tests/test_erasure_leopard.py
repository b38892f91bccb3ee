"""DensityMatchingEraser (LEOPARD): its promises, what it erases, bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skembed import DensityMatchingEraser, LinearConceptEraser
from skembed.erasure._leopard import _pair_weights, mmd_loss_and_gradient
from skembed.metrics import guardedness_report

FAST = {"max_iter": 150, "batch_size": 512, "random_state": 0}


def _xor(n_samples, rng):
    """XOR of four clusters at (+-2, +-2) in 2 of 12 features (the class means are equal
    but for sampling noise: no linear trace)."""
    X = rng.normal(size=(n_samples, 12))
    signs = rng.choice([-1.0, 1.0], size=(n_samples, 2))
    X[:, :2] = 2 * signs + 0.5 * X[:, :2]
    return X, (signs[:, 0] * signs[:, 1] > 0).astype(int)


def _spheres(n_samples, rng):
    """Concentric spheres of radius 1 and 2 in 3 of 12 features."""
    y = rng.randint(2, size=n_samples)
    directions = rng.normal(size=(n_samples, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    X = rng.normal(size=(n_samples, 12))
    X[:, :3] = directions * (1 + y)[:, None] + 0.1 * rng.normal(size=(n_samples, 3))
    return X, y


def _probe_accuracies(X, y):
    report = guardedness_report(X, y, random_state=0)
    return {row["probe"]: row["accuracy"] for row in report.table[1:]}, report.majority_rate


@pytest.mark.parametrize("make, n_components", [(_xor, 9), (_spheres, 8)])
def test_nonlinear_concept_goes_to_chance_where_leace_leaves_it(make, n_components):
    """The issue's synthetic test: only nonlinearly decodable, LEACE leaves >= 90%."""
    rng = np.random.RandomState(0)
    (X, y), (X_test, y_test) = make(2000, rng), make(1000, rng)
    after_leace, _ = _probe_accuracies(LinearConceptEraser().fit(X, y).transform(X_test),
                                       y_test)
    assert max(after_leace["rbf_svm"], after_leace["mlp"]) >= 0.9
    eraser = DensityMatchingEraser(n_components=n_components, **FAST).fit(X, y)
    after, majority = _probe_accuracies(eraser.transform(X_test), y_test)
    # Every rung at the majority rate, to the standard error of 1,000 rows' probe test
    # split (300 rows: about 0.03).
    assert max(after.values()) <= majority + 0.06, after


def test_mmd_gradient_matches_finite_differences():
    rng = np.random.RandomState(1)
    Z = rng.normal(size=(12, 3))
    codes = rng.randint(3, size=12)
    weights = rng.uniform(0.5, 2.0, size=12)
    W = _pair_weights(codes, weights, 3)
    # The matrix form equals the sum over class pairs of (a_k - a_l)^T K (a_k - a_l).
    shares = [np.where(codes == k, weights, 0) / weights[codes == k].sum() for k in range(3)]
    K = np.exp(-((Z[:, None] - Z[None]) ** 2).sum(-1))
    pairs = sum((shares[k] - shares[m]) @ K @ (shares[k] - shares[m])
                for k in range(3) for m in range(k + 1, 3))
    assert np.isclose((W * K).sum(), pairs)
    loss, gradient = mmd_loss_and_gradient(Z, W, weights, 3)
    numeric = np.zeros_like(Z)
    # The bandwidth is held fixed in the gradient: freeze it at Z's.
    squared = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    h = (np.outer(weights, weights) * squared).sum() / weights.sum() ** 2

    def frozen(Zs):
        d = ((Zs[:, None] - Zs[None]) ** 2).sum(-1)
        return sum((W * np.exp(-d / (h * 2.0 ** (j - 1)))).sum() for j in range(3))

    assert np.isclose(frozen(Z), loss)
    step = 1e-6
    for index in np.ndindex(Z.shape):
        shifted = Z.copy()
        shifted[index] += step
        lowered = Z.copy()
        lowered[index] -= step
        numeric[index] = (frozen(shifted) - frozen(lowered)) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_samples=st.integers(4, 40),
    n_features=st.integers(1, 12),  # at least n_classes below: a direction is left
    exponents=st.lists(st.integers(-150, 150), min_size=12, max_size=12),
    zero_weights=st.integers(0, 3),
    duplicate=st.booleans(),
    n_classes=st.integers(2, 3),
    seed=st.integers(0, 2**16),
)
def test_linear_guard_projection_and_units_over_hostile_inputs(
        n_samples, n_features, exponents, zero_weights, duplicate, n_classes, seed):
    """The documented guarantees, on the fitted object: the training rows' class means
    equal (zero cross-covariance), a projection (idempotent, orthonormal components,
    1-Lipschitz in standardised units), and the features' units do not matter."""
    n_features = max(n_features, n_classes)
    rng = np.random.RandomState(seed)
    y = np.arange(n_samples) % n_classes
    X = rng.normal(size=(n_samples, n_features)) + y[:, None] * rng.normal(size=n_features)
    if duplicate:
        X[1::2] = X[0:-1:2] if n_samples % 2 == 0 else X[0:-2:2]
    scales = 10.0 ** np.array(exponents[:n_features])
    weights = rng.uniform(0.5, 3.0, size=n_samples)
    weights[n_classes:n_classes + zero_weights] = 0.0  # every class keeps a row
    X_scaled = X * scales
    X_before = X_scaled.copy()
    eraser = DensityMatchingEraser(max_iter=20, batch_size=16, random_state=0)
    eraser.fit(X_scaled, y, sample_weight=weights)
    np.testing.assert_array_equal(X_scaled, X_before)  # the caller's array untouched
    Z = eraser.transform(X_scaled)
    assert np.all(np.isfinite(Z))
    kept = weights > 0
    # Every class's weighted mean the same, in standardised units, to rounding of the
    # rows' own standardised magnitude (an output of rounding noise alone, when the
    # linear step leaves the rows nothing, is still guarded).
    standardised_rows = (X_scaled[kept] - eraser.mean_) / eraser.scale_
    erased_rows = (Z[kept] - eraser.mean_) / eraser.scale_
    class_means = np.array([np.average(erased_rows[y[kept] == k], axis=0,
                                       weights=weights[kept][y[kept] == k])
                            for k in range(n_classes)])
    rounding = 1e-12 * (1 + np.abs(standardised_rows).max())
    assert np.all(np.ptp(class_means, axis=0) <= rounding)
    V = eraser.components_
    np.testing.assert_allclose(V @ V.T, np.eye(V.shape[0]), atol=1e-10)
    standardised = (Z - eraser.mean_) / eraser.scale_
    again = (eraser.transform(Z) - eraser.mean_) / eraser.scale_
    np.testing.assert_allclose(again, standardised, atol=1e-9 * (1 + np.abs(standardised).max()))
    original = (X_scaled - eraser.mean_) / eraser.scale_
    shrunk = np.linalg.norm(standardised[:, None] - standardised[None], axis=-1)
    apart = np.linalg.norm(original[:, None] - original[None], axis=-1)
    assert np.all(shrunk <= apart * (1 + 1e-9) + 1e-9)
    # Powers of two per feature: the same eraser, the output scaled by exactly them.
    powers = 2.0 ** rng.randint(-20, 21, size=n_features)
    rescaled = DensityMatchingEraser(max_iter=20, batch_size=16, random_state=0)
    rescaled.fit(X_scaled * powers, y, sample_weight=weights)
    np.testing.assert_allclose(rescaled.transform(X_scaled * powers), Z * powers,
                               rtol=1e-9, atol=0)


def test_reproducible_with_random_state_and_float32_kept():
    X, y = _xor(600, np.random.RandomState(3))
    first = DensityMatchingEraser(n_components=2, **FAST).fit(X, y)
    second = DensityMatchingEraser(n_components=2, **FAST).fit(X, y)
    np.testing.assert_array_equal(first.components_, second.components_)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    other = DensityMatchingEraser(n_components=2, **{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(first.loss_curve_, other.loss_curve_)
    out = first.transform(X.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, first.transform(X), rtol=1e-5, atol=1e-5)


def test_integer_weights_equal_repeated_rows():
    """With more rows than features (see tests/_instances.py for fewer)."""
    rng = np.random.RandomState(7)
    X, y = rng.normal(size=(200, 10)), rng.randint(2, size=200)
    weights = rng.randint(0, 4, size=200)
    weighted = DensityMatchingEraser(max_iter=50, random_state=0).fit(X, y, sample_weight=weights)
    repeated = DensityMatchingEraser(max_iter=50, random_state=0).fit(
        X.repeat(weights, axis=0), y.repeat(weights))
    np.testing.assert_allclose(weighted.transform(X), repeated.transform(X), atol=1e-10)


@pytest.mark.parametrize("factor", [1e-300, 1e-200, 1e200, 1e300])
def test_only_the_weights_ratios_matter(factor):
    """Found by a hostile review: products of two weights underflowed (or overflowed), the
    batch's mean distance became 0/0 and the density matching was silently skipped."""
    X, y = _xor(300, np.random.RandomState(8))
    plain = DensityMatchingEraser(n_components=9, max_iter=30, random_state=0).fit(X, y)
    scaled = DensityMatchingEraser(n_components=9, max_iter=30, random_state=0).fit(
        X, y, sample_weight=np.full(300, factor))
    np.testing.assert_allclose(scaled.transform(X), plain.transform(X), atol=1e-10)
    heavy = np.ones(300)
    heavy[0] = factor
    assert np.all(np.isfinite(DensityMatchingEraser(max_iter=5).fit(
        X, y, sample_weight=heavy).components_))


def test_weights_of_zero_drop_rows():
    X, y = _xor(400, np.random.RandomState(4))
    weights = np.ones(400)
    weights[::3] = 0
    weighted = DensityMatchingEraser(n_components=2, **FAST).fit(X, y, sample_weight=weights)
    kept = weights > 0
    dropped = DensityMatchingEraser(n_components=2, **FAST).fit(X[kept], y[kept])
    np.testing.assert_allclose(weighted.components_, dropped.components_, atol=1e-12)


def test_shares_and_counts_of_directions():
    X, y = _spheres(300, np.random.RandomState(5))
    eraser = DensityMatchingEraser(n_components=0.5, max_iter=5).fit(X, y)
    assert eraser.n_linear_ == 1 and eraser.n_components_ == round(0.5 * 11)
    assert eraser.components_.shape == (eraser.n_components_, 12)
    assert eraser.loss_curve_.shape == (5,) and eraser.n_iter_ == 5
    whole = DensityMatchingEraser(n_components=1.0, max_iter=5).fit(X, y)
    assert whole.n_components_ == 11 and whole.n_iter_ == 0  # the linear step alone


def test_bad_input_named_before_work():
    X, y = _spheres(100, np.random.RandomState(6))
    # One feature whose class means differ: the linear step leaves nothing to keep.
    with pytest.warns(UserWarning, match=r"DensityMatchingEraser\.fit: X has 1 feature\(s\) "
                                         r"and the class means differ along all of them"):
        single = DensityMatchingEraser().fit(X[:, :1] + y[:, None], y)
    assert single.n_components_ == 0
    np.testing.assert_allclose(single.transform(X[:, :1]), np.full((100, 1), single.mean_[0]))
    with pytest.raises(ValueError, match=r"n_components=True is a bool"):
        DensityMatchingEraser(n_components=True).fit(X, y)
    with pytest.raises(ValueError, match=r"DensityMatchingEraser\.fit: X has values up to "
                                         r"1e\+307.*Rescale the features"):
        DensityMatchingEraser().fit(np.where(np.arange(12) == 0, 1e307, X), y)
    with pytest.raises(ValueError, match=r"DensityMatchingEraser\.fit: n_components=12 but "
                                         r"only 11 directions"):
        DensityMatchingEraser(n_components=12).fit(X, y)
    with pytest.raises(ValueError, match=r"DensityMatchingEraser\.fit: sample_weight leaves "
                                         r"1 class"):
        DensityMatchingEraser().fit(X, y, sample_weight=(y == 0).astype(float))
    with pytest.raises(ValueError, match="DensityMatchingEraser"):
        DensityMatchingEraser().fit(np.where(np.arange(1200).reshape(100, 12) == 7, np.nan, X), y)
    with pytest.raises(ValueError, match="DensityMatchingEraser"):
        DensityMatchingEraser().fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="n_components"):
        DensityMatchingEraser(n_components=0).fit(X, y)
    fitted = DensityMatchingEraser(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match=r"DensityMatchingEraser\.transform.*12 features"):
        fitted.transform(X[:, :11])
