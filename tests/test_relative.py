"""RelativeRepresentation and LatentTranslator: invariances, anchors, translation, errors."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans

from skembed.relative import LatentTranslator, RelativeRepresentation
from skembed.utils import exact_kneighbors

PROPERTY = settings(max_examples=8, deadline=None, derandomize=True)
TOL = 1e-10

seeds = st.integers(0, 2**31 - 1)
shapes = st.tuples(st.integers(40, 120), st.integers(2, 12))  # (n_samples, n_features)


def data(seed, n_samples, n_features):
    rng = np.random.RandomState(seed)
    # Anisotropic, off-centre data: the invariances must not rely on a round cloud.
    mixing = rng.normal(size=(n_features, n_features)) + 2 * np.eye(n_features)
    return rng.normal(size=(n_samples, n_features)) @ mixing + rng.normal(size=n_features), rng


def rotation(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def relative(X, anchors, **params):
    return RelativeRepresentation(anchors=anchors, **params).fit_transform(X)


def max_difference(X, X_mapped, n_anchors=15, **params):
    anchors = np.arange(n_anchors)
    return np.abs(relative(X, anchors, **params) - relative(X_mapped, anchors, **params)).max()


# ----------------------------------------------------------------------
# Invariances (each to 1e-10) and the invariances each similarity lacks
# ----------------------------------------------------------------------


@PROPERTY
@given(seeds, shapes, st.floats(0.1, 10.0), st.booleans())
def test_cosine_invariant_to_rotation_and_isotropic_scaling(seed, shape, factor, center):
    X, rng = data(seed, *shape)
    mapped = factor * X @ rotation(rng, shape[1])
    assert max_difference(X, mapped, center=center) < TOL


@PROPERTY
@given(seeds, shapes)
def test_centred_cosine_invariant_to_translation_uncentred_is_not(seed, shape):
    X, rng = data(seed, *shape)
    shift = 5 * rng.normal(size=shape[1])
    assert max_difference(X, X + shift, center=True) < TOL
    assert max_difference(X, X + shift, center=False) > 1e-3


@PROPERTY
@given(seeds, shapes)
def test_cosine_not_invariant_to_anisotropic_scaling(seed, shape):
    X, _ = data(seed, *shape)
    stretch = np.linspace(0.2, 3.0, shape[1])
    assert max_difference(X, X * stretch) > 1e-3


@PROPERTY
@given(seeds, shapes, st.booleans())
def test_euclidean_invariant_to_rotation_and_translation_not_scaling(seed, shape, center):
    X, rng = data(seed, *shape)
    mapped = X @ rotation(rng, shape[1]) + 10 * rng.normal(size=shape[1])
    assert max_difference(X, mapped, similarity="euclidean", center=center) < TOL
    assert max_difference(X, 2 * X, similarity="euclidean", center=center) > 1e-3


@PROPERTY
@given(seeds, shapes, st.sampled_from(["l1", "linf"]))
def test_l1_linf_invariant_to_permutation_sign_and_translation_not_rotation(seed, shape, name):
    X, rng = data(seed, *shape)
    d = shape[1]
    signs = rng.choice([-1.0, 1.0], size=d)
    mapped = (X * signs)[:, rng.permutation(d)] + 10 * rng.normal(size=d)
    assert max_difference(X, mapped, similarity=name) < TOL
    # A rotation mixing the first two coordinates by 45 degrees changes them.
    turn = np.eye(d)
    turn[:2, :2] = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2)
    assert max_difference(X, X @ turn, similarity=name) > 1e-3


@PROPERTY
@given(seeds, shapes, st.sampled_from(["cosine", "euclidean", "basis"]))
def test_whitening_invariant_to_any_invertible_linear_map(seed, shape, name):
    X, rng = data(seed, *shape)
    d = shape[1]
    # Well conditioned but far from orthogonal: Q1 diag(s) Q2 with s in [0.3, 3].
    linear = rotation(rng, d) * np.linspace(0.3, 3.0, d) @ rotation(rng, d)
    mapped = X @ linear + rng.normal(size=d)
    assert max_difference(X, mapped, similarity=name, whiten=True) < 1e-9 * max(1, np.abs(
        relative(X, np.arange(15), similarity=name, whiten=True)).max())
    if name != "basis":  # without whitening only the map's orthogonal part is forgiven
        assert max_difference(X, mapped, similarity=name) > 1e-3


@pytest.mark.parametrize("name", ["l1", "linf"])
def test_whitening_does_not_make_l1_linf_invariant_to_linear_maps(name):
    X, rng = data(0, 80, 5)
    linear = rotation(rng, 5) * np.linspace(0.3, 3.0, 5) @ rotation(rng, 5)
    assert max_difference(X, X @ linear + 3.0, similarity=name, whiten=True) > 1e-3


def test_top_k_checked_before_anchors_are_chosen():
    # Three distinct points: k-means with 10 clusters would warn that it
    # found fewer distinct clusters. The option error comes first, so
    # nothing is clustered and nothing warns.
    X = np.repeat(np.eye(3), 4, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="top_k=20 exceeds the number of anchors"):
            RelativeRepresentation(10, anchors="kmeans", top_k=20).fit(X)


@PROPERTY
@given(seeds, st.integers(2, 8))
def test_basis_invariant_to_invertible_maps_when_anchors_span(seed, n_features):
    X, rng = data(seed, 60, n_features)
    linear = rng.normal(size=(n_features, n_features)) + 3 * np.eye(n_features)
    # More anchors than features: the anchors' coordinates are A^+ x, and
    # (A L)^+ = L^-1 A^+ for any invertible L.
    scale = np.abs(relative(X, np.arange(30), similarity="basis")).max()
    assert max_difference(X, X @ linear, n_anchors=30, similarity="basis") < 1e-9 * scale


@PROPERTY
@given(seeds, shapes, st.floats(0.1, 10.0))
def test_product_of_invariances_keeps_only_the_shared_invariance(seed, shape, factor):
    X, rng = data(seed, *shape)
    Q = rotation(rng, shape[1])
    # Standardising each block by the anchors' statistics also cancels an
    # isotropic scaling of the distances: cosine + Euclidean is invariant to
    # every similarity transform (rotation, scaling, translation).
    similar = factor * X @ Q + rng.normal(size=shape[1])
    assert max_difference(X, similar, similarity=["cosine", "euclidean"]) < TOL
    # An L1 block breaks rotation invariance for the whole product.
    turn = np.eye(shape[1])
    turn[:2, :2] = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2)
    assert max_difference(X, X @ turn, similarity=["cosine", "l1"]) > 1e-3
    # And no block forgives an anisotropic stretch.
    stretch = np.linspace(0.2, 3.0, shape[1])
    assert max_difference(X, X * stretch, similarity=["cosine", "euclidean"]) > 1e-3


def test_product_blocks_are_standardised_by_the_anchors():
    X, _ = data(0, 200, 6)
    names = ["cosine", "euclidean", "l1"]
    model = RelativeRepresentation(anchors=np.arange(30), similarity=names).fit(X)
    anchors = model.transform(X[:30])
    for b in range(3):
        block = anchors[:, 30 * b: 30 * (b + 1)]
        assert abs(block.mean()) < 1e-12 and abs(block.std() - 1) < 1e-12
    # Each block is the single-similarity output, standardised.
    for b, name in enumerate(names):
        single = RelativeRepresentation(anchors=np.arange(30), similarity=name).fit(X).transform(X)
        np.testing.assert_allclose(
            model.transform(X)[:, 30 * b: 30 * (b + 1)],
            (single - model.block_mean_[b]) / model.block_scale_[b], atol=1e-12,
        )


def test_similarities_match_their_definitions():
    X, _ = data(1, 50, 5)
    anchors = np.array([3, 7, 11, 20])
    A = X[anchors] - X[anchors].mean(axis=0)
    Z = X - X[anchors].mean(axis=0)
    expected = {
        "cosine": (Z / np.linalg.norm(Z, axis=1)[:, None]) @ (A / np.linalg.norm(A, axis=1)[:, None]).T,
        "euclidean": -np.linalg.norm(Z[:, None] - A[None], axis=2),
        "l1": -np.abs(Z[:, None] - A[None]).sum(axis=2),
        "linf": -np.abs(Z[:, None] - A[None]).max(axis=2),
        "basis": np.linalg.lstsq(A.T, Z.T, rcond=None)[0].T,
    }
    for name, values in expected.items():
        np.testing.assert_allclose(relative(X, anchors, similarity=name), values, atol=1e-12)
    # A point at an anchor is at distance exactly 0 (no cancellation error).
    assert np.all(relative(X, anchors, similarity="euclidean")[anchors, np.arange(4)] == 0)


def test_shrinkage_only_used_with_whitening():
    X, _ = data(2, 100, 4)
    plain = RelativeRepresentation(20, random_state=0).fit(X)
    ignored = RelativeRepresentation(20, shrinkage=True, random_state=0).fit(X)
    assert ignored.whitening_ is None and ignored.shrinkage_ == 0.0
    np.testing.assert_array_equal(ignored.transform(X), plain.transform(X))


def test_whitening_is_the_data_covariance():
    X, _ = data(2, 300, 4)
    model = RelativeRepresentation(20, whiten=True, random_state=0).fit(X)
    W = model.whitening_
    np.testing.assert_allclose(W @ np.cov(X.T, bias=True) @ W, np.eye(4), atol=1e-10)
    shrunk = RelativeRepresentation(20, whiten=True, shrinkage=0.5, random_state=0).fit(X)
    assert shrunk.shrinkage_ == 0.5


# ----------------------------------------------------------------------
# Cross-space retrieval and translation
# ----------------------------------------------------------------------


def two_spaces(noise=0.01, n=1000, d=32, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) @ (rng.normal(size=(d, d)) + 2 * np.eye(d))
    Q = rotation(rng, d)
    Y = 2.5 * X @ Q + 3.0 + noise * np.std(X) * rng.normal(size=(n, d))
    return X, Y, Q


def cross_retrieval_top1(R_query, R_base):
    nearest = exact_kneighbors(R_base, 1, queries=R_query, metric="cosine", return_distance=False)
    return np.mean(nearest[:, 0] == np.arange(len(R_query)))


def test_parallel_anchors_make_cross_space_retrieval_near_perfect():
    X, Y, _ = two_spaces()
    source = RelativeRepresentation(100, random_state=0).fit(X)
    target = RelativeRepresentation(anchors=source.anchor_indices_).fit(Y)
    assert cross_retrieval_top1(source.transform(X), target.transform(Y)) > 0.98
    # Unrelated anchors (other items in the second space) make it fail.
    other = RelativeRepresentation(100, random_state=1).fit(Y)
    assert cross_retrieval_top1(source.transform(X), other.transform(Y)) < 0.05


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine"])
def test_translator_recovers_the_map(method):
    X, Y, Q = two_spaces(noise=0.0)
    translator = LatentTranslator(method).fit(X[:200], Y[:200])
    np.testing.assert_allclose(translator.transform(X), Y, atol=1e-8)
    np.testing.assert_allclose(translator.coef_, 2.5 * Q, atol=1e-10)


def test_orthogonal_translator_is_robust_to_noise_and_pads_widths():
    X, Y, _ = two_spaces(noise=0.05)
    translator = LatentTranslator().fit(X[:300], Y[:300])
    residual = np.linalg.norm(translator.transform(X[300:]) - Y[300:]) / np.linalg.norm(Y[300:] - Y.mean(0))
    assert residual < 0.1
    # The target embedded in a wider space (zero-padded): same map, extra zeros.
    wide = np.hstack([Y, np.zeros((len(Y), 8))])
    padded = LatentTranslator().fit(X[:300], wide[:300])
    assert padded.coef_.shape == (32, 40)
    np.testing.assert_allclose(padded.transform(X)[:, :32], translator.transform(X), atol=1e-10)
    # A narrower target: orthonormal columns.
    narrow = LatentTranslator(scale=False, center=False).fit(X[:300], Y[:300, :10])
    np.testing.assert_allclose(narrow.coef_.T @ narrow.coef_, np.eye(10), atol=1e-10)


def test_translator_least_squares_matches_lstsq_and_1d_target():
    X, Y, _ = two_spaces(noise=0.3)
    linear = LatentTranslator("linear", center=False, scale=False).fit(X[:100], Y[:100])
    np.testing.assert_allclose(linear.coef_, np.linalg.lstsq(X[:100], Y[:100], rcond=None)[0], atol=1e-10)
    affine = LatentTranslator("affine", center=False).fit(X[:100], Y[:100])
    centred = LatentTranslator("linear").fit(X[:100], Y[:100])
    np.testing.assert_allclose(affine.transform(X), centred.transform(X), atol=1e-8)
    single = LatentTranslator("linear").fit(X[:100], Y[:100, 0])
    assert single.transform(X).shape == (len(X), 1)
    np.testing.assert_allclose(single.transform(X)[:, 0], centred.transform(X)[:, 0], atol=1e-8)


def test_relative_of_translated_vectors_equals_target_relative():
    X, Y, _ = two_spaces(noise=0.0)
    anchors = np.arange(50)
    translated = LatentTranslator().fit(X[anchors], Y[anchors]).transform(X)
    np.testing.assert_allclose(relative(translated, anchors), relative(Y, anchors), atol=1e-8)


# ----------------------------------------------------------------------
# Anchor strategies
# ----------------------------------------------------------------------


def test_random_anchors_reproducible_and_distinct():
    X, _ = data(3, 100, 4)
    first = RelativeRepresentation(30, random_state=7).fit(X).anchor_indices_
    again = RelativeRepresentation(30, random_state=7).fit(X).anchor_indices_
    np.testing.assert_array_equal(first, again)
    assert np.unique(first).size == 30
    np.testing.assert_array_equal(RelativeRepresentation(30, random_state=7).fit(X).anchors_, X[first])


def test_kmeans_anchors_are_rows_nearest_the_centroids():
    X, _ = data(4, 300, 3)
    model = RelativeRepresentation(12, anchors="kmeans", random_state=0).fit(X)
    kmeans = KMeans(12, n_init=1, random_state=np.random.RandomState(0)).fit(X)
    nearest = np.argmin(((X[:, None] - kmeans.cluster_centers_[None]) ** 2).sum(axis=2), axis=0)
    # Distinct nearest rows here, so the greedy de-duplication changes nothing.
    assert np.unique(nearest).size == 12
    np.testing.assert_array_equal(model.anchor_indices_, nearest)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_kmeans_anchors_distinct_with_duplicated_rows():
    X = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct points, each 4 times
    model = RelativeRepresentation(6, anchors="kmeans", center=False, random_state=0).fit(X)
    assert np.unique(model.anchor_indices_).size == 6


def fps_anchors(X, n_anchors):
    model = RelativeRepresentation(n_anchors, anchors="fps", center=False, random_state=0)
    return model.fit(X).anchor_indices_


def test_fps_is_farthest_point_sampling_on_directions():
    X, rng = data(5, 200, 5)
    chosen = fps_anchors(X, 10)
    unit = X / np.linalg.norm(X, axis=1)[:, None]
    distance = np.linalg.norm(unit[:, None] - unit[None], axis=2)
    for i in range(1, 10):
        gap = distance[:, chosen[:i]].min(axis=1)
        assert gap[chosen[i]] == pytest.approx(gap.max())
    # Directions only: rescaling rows does not change the choice.
    rescaled = X * rng.uniform(0.5, 2.0, size=(len(X), 1))
    np.testing.assert_array_equal(fps_anchors(rescaled, 10), chosen)
    # Duplicates never give an anchor twice.
    assert np.unique(fps_anchors(np.repeat(X[:3], 5, axis=0), 8)).size == 8


def test_stratified_anchors_are_balanced():
    X, _ = data(6, 200, 4)
    y = np.repeat([0, 1, 2], [150, 45, 5])
    model = RelativeRepresentation(60, anchors="stratified", random_state=0).fit(X, y)
    np.testing.assert_array_equal(np.bincount(y[model.anchor_indices_]), [28, 27, 5])
    model = RelativeRepresentation(61, anchors="stratified", random_state=0).fit(X, y)
    assert model.n_anchors_ == 61 and np.unique(model.anchor_indices_).size == 61


def test_explicit_anchors_kept_in_order():
    X, _ = data(7, 50, 4)
    model = RelativeRepresentation(anchors=[9, 2, 30]).fit(X)
    np.testing.assert_array_equal(model.anchor_indices_, [9, 2, 30])
    assert model.n_anchors_ == 3 and model.transform(X).shape == (50, 3)


# ----------------------------------------------------------------------
# Options, output, memory, dtypes
# ----------------------------------------------------------------------


def test_top_k_keeps_the_largest_per_block_and_is_sparse():
    X, _ = data(8, 80, 5)
    names = ["cosine", "euclidean"]
    dense = RelativeRepresentation(anchors=np.arange(20), similarity=names).fit(X).transform(X)
    sparse = RelativeRepresentation(anchors=np.arange(20), similarity=names, top_k=3).fit(X).transform(X)
    assert sp.issparse(sparse) and sparse.nnz == 80 * 2 * 3
    sparse = sparse.toarray()
    for block in (slice(0, 20), slice(20, 40)):
        kept = sparse[:, block] != 0
        threshold = np.sort(dense[:, block], axis=1)[:, -3]
        assert np.all(dense[:, block][kept] >= np.repeat(threshold, kept.sum(axis=1)))
        np.testing.assert_array_equal(sparse[:, block][kept], dense[:, block][kept])
    l2 = RelativeRepresentation(anchors=np.arange(20), top_k=3, normalize="l2").fit(X).transform(X)
    np.testing.assert_allclose(sp.linalg.norm(l2, axis=1), 1.0)


def test_normalize_options():
    X, _ = data(9, 150, 6)
    standard = RelativeRepresentation(20, normalize="standard", random_state=0).fit(X)
    out = standard.transform(X)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-12)
    l2 = RelativeRepresentation(20, normalize="l2", random_state=0).fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1)


def test_blockwise_transform_equals_one_block():
    # 4 x 25 output columns on 45,000 rows are more than transform computes
    # at once (2**22 entries), so fit and transform go through several row
    # blocks; a slice of 500 rows is one block.
    X, _ = data(10, 45_000, 6)
    params = {"anchors": np.arange(25), "similarity": ["cosine", "euclidean", "l1", "basis"],
              "whiten": True, "normalize": "standard"}
    model = RelativeRepresentation(**params).fit(X)
    blocked = model.transform(X)
    np.testing.assert_allclose(blocked[:500], model.transform(X[:500]), atol=1e-12)
    np.testing.assert_allclose(blocked[-500:], model.transform(X[-500:]), atol=1e-12)
    # The column statistics accumulated over the blocks at fit are exact.
    np.testing.assert_allclose(blocked.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(blocked.std(axis=0), 1, atol=1e-10)
    sparse = RelativeRepresentation(anchors=np.arange(25), top_k=2).fit(X).transform(X)
    assert sp.issparse(sparse) and sparse.shape == (45_000, 25) and sparse.nnz == 2 * 45_000
    # Equal up to rounding: BLAS may sum a block of 500 rows in another order.
    np.testing.assert_allclose(sparse[-500:].toarray(),
                               RelativeRepresentation(anchors=np.arange(25), top_k=2)
                               .fit(X).transform(X[-500:]).toarray(), rtol=1e-12, atol=1e-15)


def test_stores_anchors_not_the_training_set():
    X, _ = data(11, 5000, 8)
    model = RelativeRepresentation(10, random_state=0).fit(X)
    assert len(pickle.dumps(model)) < X.nbytes / 20
    assert model.anchors_.shape == (10, 8)


def test_float32_kept_and_close_to_float64():
    X, _ = data(12, 200, 8)
    for name in ["cosine", "euclidean", "l1", "basis"]:
        model = RelativeRepresentation(anchors=np.arange(20), similarity=name)
        out32 = model.fit(X.astype(np.float32)).transform(X.astype(np.float32))
        out64 = model.fit(X).transform(X)
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32, out64, atol=1e-4 * np.abs(out64).max())


def test_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, _ = data(13, 60, 3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = RelativeRepresentation(anchors=np.arange(4), similarity=["cosine", "l1"])
    out = model.set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == [f"relativerepresentation{i}" for i in range(8)]
    translated = LatentTranslator().set_output(transform="pandas").fit(frame, X[:, :2]).transform(frame)
    assert list(translated.columns) == ["latenttranslator0", "latenttranslator1"]


def test_caller_arrays_unchanged():
    X, _ = data(14, 60, 4)
    before = X.copy()
    RelativeRepresentation(anchors=np.arange(10), whiten=True, similarity=["cosine", "basis"],
                           normalize="standard").fit(X).transform(X)
    LatentTranslator("affine").fit(X, X[:, ::-1]).transform(X)
    np.testing.assert_array_equal(X, before)


# ----------------------------------------------------------------------
# Bad input and impossible options: ValueError naming the fix, before any work
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, y, match",
    [
        ({"n_anchors": 100}, None, "minimum of 100 is required"),
        ({"anchors": "stratified", "n_anchors": 5}, None, "Pass y to fit"),
        ({"anchors": [0, 1, 1]}, None, "distinct"),
        ({"anchors": [0, 80]}, None, "out of range"),
        ({"anchors": [0.5, 2]}, None, "integer row numbers"),
        ({"anchors": [[0, 1]]}, None, "1-D array"),
        ({"similarity": ["cosine", "cosine"]}, None, "repeat"),
        ({"similarity": ["cosine", "dot"]}, None, "similarity must be one of"),
        ({"similarity": []}, None, "similarity must be one of"),
        ({"top_k": 3, "normalize": "standard"}, None, "top_k"),
        ({"n_anchors": 5, "top_k": 6}, None, "top_k=6 exceeds"),
        ({"n_anchors": 1}, None, "single anchor"),
    ],
)
def test_bad_options_rejected(params, y, match):
    X, _ = data(15, 60, 4)
    params = {"n_anchors": 10, **params}
    with pytest.raises(ValueError, match=match):
        RelativeRepresentation(**params).fit(X, y)


def test_anchor_errors_name_the_estimator():
    X, _ = data(15, 60, 4)
    with pytest.raises(ValueError, match="^RelativeRepresentation.fit: anchor rows must be distinct"):
        RelativeRepresentation(anchors=[0, 1, 1]).fit(X)


def test_bad_parameter_values_rejected():
    X, _ = data(16, 60, 4)
    with pytest.raises(ValueError, match="anchors"):
        RelativeRepresentation(anchors="nearest").fit(X)
    with pytest.raises(ValueError, match="n_anchors"):
        RelativeRepresentation(n_anchors=0).fit(X)
    with pytest.raises(ValueError, match="method"):
        LatentTranslator(method="cca").fit(X, X)


def test_translator_rejects_mismatched_rows_and_bad_values():
    X, _ = data(17, 60, 4)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LatentTranslator().fit(X, X[:-1])
    target = X.copy()
    target[0, 0] = np.nan
    with pytest.raises(ValueError, match="LatentTranslator.*NaN"):
        LatentTranslator().fit(X, target)
    fitted = LatentTranslator().fit(X, X)
    with pytest.raises(ValueError, match="3 features.*expecting 4"):
        fitted.transform(X[:, :3])


def test_transform_checks_features():
    X, _ = data(18, 60, 4)
    model = RelativeRepresentation(10).fit(X)
    with pytest.raises(ValueError, match="RelativeRepresentation.*3 features.*expecting 4"):
        model.transform(X[:, :3])
    bad = X[:3].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="RelativeRepresentation.*infinity"):
        model.transform(bad)
