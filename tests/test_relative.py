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
    covariance = np.cov(X.T, bias=True)
    np.testing.assert_allclose(W.T @ covariance @ W, np.eye(4), atol=1e-10)
    # On the correlation scale (ZCA-cor): W = D^-1 P^-1/2, so the rank
    # decision is made on a unit diagonal whatever the columns' units.
    deviation = np.sqrt(np.diag(covariance))
    values, vectors = np.linalg.eigh(covariance / np.outer(deviation, deviation))
    np.testing.assert_allclose(W, (vectors / np.sqrt(values)) @ vectors.T / deviation[:, None],
                               atol=1e-10)
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


# ----------------------------------------------------------------------
# Guarantees on any data: rank decisions where they mean something, any
# scale from 1e-150 to 1e150, float32 moments in float64
# ----------------------------------------------------------------------

ALL_SIMILARITIES = ["cosine", "euclidean", "l1", "linf", "basis"]
DISTANCES = ("euclidean", "l1", "linf")


def off_origin(seed, n_samples=40, n_features=12):
    """The issue's input: Gaussian data plus a per-column offset near 100."""
    rng = np.random.RandomState(seed)
    centred = rng.normal(size=(n_samples, n_features))
    return centred, centred + 100 + rng.normal(size=n_features)


def test_basis_bounded_off_origin_with_few_anchors():
    # Centred anchors have rank m - 1 by construction; the rounding of their
    # mean was kept as a direction and inverted: 99 fits in 100 gave
    # |output| > 1e6 (1e13-1e14). Right value: the coordinates do not depend
    # on the offset (center=True), an anchor's coordinates are e_i - 1/m.
    for seed in range(100):
        centred, X = off_origin(seed)
        m = (2, 5, 10, 12)[seed % 4]
        anchors = np.arange(m)
        near_origin = relative(centred, anchors, similarity="basis")
        far = relative(X, anchors, similarity="basis")
        np.testing.assert_allclose(far, near_origin, atol=1e-9 * max(1, np.abs(near_origin).max()))
        np.testing.assert_allclose(far[anchors], np.eye(m) - 1 / m, atol=1e-10)
        assert np.abs(far).max() < 1e3


def test_basis_anchor_coordinates_exact_for_columns_in_any_units():
    # More anchors than features: the rank is decided on comparable units, so
    # a column 1e300 times smaller than another is not cut, and the
    # coordinates do not change when a column is rescaled.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6))
    scales = 10.0 ** np.linspace(-150, 150, 6)
    many = relative(X * scales, np.arange(20), similarity="basis")
    reference = relative(X, np.arange(20), similarity="basis")
    np.testing.assert_allclose(many, reference, atol=1e-9 * np.abs(reference).max())
    # Fewer: a Euclidean projection, in the columns' own units; a column 1e12
    # smaller than another still counts (what only the rounding of the
    # largest columns can resolve is cut). The anchors' coordinates are
    # e_i - 1/m centred, e_i otherwise.
    units = 10.0 ** np.linspace(-6, 6, 6)
    few = relative(X * units, np.arange(4), similarity="basis")
    np.testing.assert_allclose(few[:4], np.eye(4) - 0.25, atol=1e-10)
    plain = relative(X * units, np.arange(4), similarity="basis", center=False)
    np.testing.assert_allclose(plain[:4], np.eye(4), atol=1e-10)


def test_anchors_constant_in_a_column_are_exactly_centred():
    # Three copies of one row: its mean is not exactly the row (0.1 * 3 / 3),
    # so the centred anchors were a few ulps that cosine read as directions.
    X = np.vstack([np.full((3, 4), 0.1), np.random.RandomState(0).normal(size=(10, 4))])
    out = relative(X, np.arange(3))
    np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize("name", ALL_SIMILARITIES)
@pytest.mark.parametrize(
    "params",
    [{}, {"whiten": True}, {"whiten": True, "shrinkage": True}, {"normalize": "standard"},
     {"top_k": 3}],
    ids=["plain", "whiten", "shrinkage", "standard", "top_k"],
)
def test_any_global_scale_gives_the_rescaled_result(name, params):
    # Shrinkage used to overflow from |x| ~ 1e77 (a sum of squares), and
    # normalize="standard" took distances of 1e-50 for constant columns.
    # Right value: the same result as on the rescaled data, the distances in
    # the data's units scaled with them.
    X, _ = data(20, 120, 16)
    anchors = np.arange(30)
    reference = RelativeRepresentation(anchors=anchors, similarity=name, **params).fit(X)
    expected = reference.transform(X)
    expected = expected.toarray() if sp.issparse(expected) else expected
    for factor in [1e-150, 3e-77, 1e77, 7e150]:
        model = RelativeRepresentation(anchors=anchors, similarity=name, **params).fit(X * factor)
        out = model.transform(X * factor)
        out = out.toarray() if sp.issparse(out) else out
        homogeneous = name in DISTANCES and not params.get("whiten") and "normalize" not in params
        if homogeneous:
            out = out / factor
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
        assert model.shrinkage_ == pytest.approx(reference.shrinkage_, rel=1e-10)


@pytest.mark.parametrize("name", ALL_SIMILARITIES)
@pytest.mark.parametrize("shrinkage", [False, True])
def test_whitening_invariant_to_column_units(name, shrinkage):
    # The whitening is decided on the correlation scale: a column in units
    # 1e150 times larger or smaller than another is neither cut nor
    # swamped by the shrinkage target, and the whitened coordinates are
    # invariant to rescaling any column (l1 and linf included).
    X, rng = data(21, 200, 8)
    columns = 10.0 ** rng.uniform(-150, 150, size=8)
    params = {"anchors": np.arange(40), "similarity": name, "whiten": True, "shrinkage": shrinkage}
    expected = RelativeRepresentation(**params).fit_transform(X)
    out = RelativeRepresentation(**params).fit_transform(X * columns)
    np.testing.assert_allclose(out, expected, atol=1e-9 * np.abs(expected).max())


def test_float32_whitening_is_the_float64_fit_of_the_same_numbers():
    # The input: 200,000 x 64 correlated Gaussian data (covariance
    # condition number 2.4e3, mean 5), cast to float32. The moments are
    # accumulated in float64: the float32 fit equals the float64 fit of the
    # same numbers, and the output keeps float32 precision.
    rng = np.random.RandomState(0)
    n, d = 200_000, 64
    mixing = rotation(rng, d) * np.sqrt(np.geomspace(1.0, 2.4e3, d))
    X32 = (rng.normal(size=(n, d)) @ mixing.T + 5.0).astype(np.float32)
    X64 = X32.astype(np.float64)
    params = {"anchors": np.arange(50), "whiten": True, "similarity": ["cosine", "basis"]}
    fit32 = RelativeRepresentation(**params).fit(X32)
    fit64 = RelativeRepresentation(**params).fit(X64)
    np.testing.assert_allclose(fit32.whitening_, fit64.whitening_, rtol=1e-12, atol=0)
    out32, out64 = fit32.transform(X32[:5000]), fit64.transform(X64[:5000])
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=2e-4 * np.abs(out64).max())


def test_translator_with_fewer_anchors_than_features_is_translation_invariant():
    # The centred source anchors have rank n - 1 by construction; the
    # rounding of their mean was a kept direction and the least-squares map
    # was off by 0.3-1.1 of the output for data away from the origin.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 16))
    Y = X @ rng.normal(size=(16, 16))
    offset = 100 + rng.normal(size=16)
    for method in ["linear", "affine"]:
        for n in (5, 10):
            near = LatentTranslator(method).fit(X[:n], Y[:n]).transform(X)
            far = LatentTranslator(method).fit(X[:n] + offset, Y[:n] + 50).transform(X + offset)
            np.testing.assert_allclose(far - 50, near, atol=1e-10 * np.abs(near).max())
            # It interpolates the anchors.
            np.testing.assert_allclose(far[:n] - 50, Y[:n], atol=1e-10 * np.abs(Y[:n]).max())


@pytest.mark.parametrize("method", ["orthogonal", "linear", "affine"])
@pytest.mark.parametrize("scale", [True, False])
def test_translator_at_any_scale(method, scale):
    X, Y, _ = two_spaces(noise=0.1, n=300, d=12)
    expected = LatentTranslator(method, scale=scale).fit(X[:100], Y[:100]).transform(X)
    factors = [(1e-150, 1e150), (1e150, 1e-150), (3e77, 3e77), (1e-150, 1e-150)]
    if method == "orthogonal" and not scale:
        # A rotation cannot change units: only equal factors give the same map.
        factors = [(3e77, 3e77), (1e-150, 1e-150), (7e150, 7e150)]
    for source, target in factors:
        translator = LatentTranslator(method, scale=scale).fit(X[:100] * source, Y[:100] * target)
        out = translator.transform(X * source) / target
        np.testing.assert_allclose(out, expected, atol=1e-10 * np.abs(expected).max())


# Hypothesis: hostile but legitimate data. Shapes with n < d, few anchors and
# more anchors than features; columns in units from 1e-150 to 1e150 (or one
# global unit); duplicated rows; near-collinear and repeated columns; data
# far from the origin.
# (RelativeRepresentation takes no sample weights.)

HOSTILE = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def hostile(draw, collinear_gap=1e-8, duplicates=True):
    seed = draw(seeds)
    n_samples = draw(st.integers(3, 40))
    n_features = draw(st.integers(1, 10))
    n_anchors = draw(st.integers(2, n_samples))
    rng = np.random.RandomState(seed)
    mixing = rotation(rng, n_features) * np.linspace(0.5, 2.0, n_features)
    X = rng.normal(size=(n_samples, n_features)) @ mixing + 3 * rng.normal(size=n_features)
    if duplicates and draw(st.booleans()):
        copies = rng.randint(n_samples, size=n_samples // 3)
        X[rng.randint(n_samples, size=copies.size)] = X[copies]
    if n_features >= 2 and draw(st.booleans()):
        i, j = rng.choice(n_features, 2, replace=False)
        gap = draw(st.sampled_from([0.0, collinear_gap]))
        X[:, j] = X[:, i] * (1 + gap * rng.normal(size=n_samples))
    if draw(st.booleans()):  # far from the origin: 100 times the spread
        X += 100 * np.abs(X - X.mean(axis=0)).max(axis=0) * rng.choice([-1, 1], n_features)
    if draw(st.booleans()):
        units = 10.0 ** rng.uniform(-150, 150, size=n_features)
    else:
        units = np.full(n_features, 10.0 ** draw(st.floats(-150, 150)))
    return X * units, rng.choice(n_samples, n_anchors, replace=False)


def whitening_precision(X):
    """eps / (relative size of the smallest kept correlation eigenvalue).

    What whitened coordinates are accurate to: each eigenvalue carries an
    absolute error of about eps times the largest.
    """
    centred = X - X.mean(axis=0)
    scales = np.abs(centred).max(axis=0)
    varying = centred[:, scales > 0] / scales[scales > 0]
    if varying.shape[1] == 0:
        return 0.0
    deviation = np.sqrt((varying**2).mean(axis=0))
    values = np.linalg.eigvalsh(np.corrcoef(varying.T) if varying.shape[1] > 1 else np.eye(1))
    kept = values[values > values.max() * len(values) * np.finfo(float).eps]
    return np.finfo(float).eps * values.max() / kept.min() if deviation.all() else 0.0


def conditioning(rows):
    """Largest over smallest singular value of the rows in comparable units.

    Values under 1e-12 of the largest (rounding, whatever the rank cut
    keeps) are left out.
    """
    scales = np.abs(rows).max(axis=0)  # not the RMS: squares of 1e-200 underflow
    values = np.linalg.svd(rows / np.where(scales > 0, scales, 1.0), compute_uv=False)
    values = values[values > 1e-12 * values.max(initial=0)]
    return values.max() / values.min() if values.size else 1.0


def row_norms(Z, order):
    # Safe at any magnitude: each row scaled by its largest entry first.
    largest = np.abs(Z).max(axis=1, initial=0)
    safe = np.where(largest > 0, largest, 1.0)
    return largest * np.linalg.norm(Z / safe[:, None], ord=order, axis=1)


@pytest.mark.parametrize("name", ALL_SIMILARITIES)
@HOSTILE
@given(case=hostile(), center=st.booleans(), whiten=st.booleans())
def test_outputs_finite_and_bounded_by_the_data(case, name, center, whiten):
    X, anchors = case
    model = RelativeRepresentation(anchors=anchors, similarity=name, center=center, whiten=whiten)
    out = model.fit_transform(X)
    assert np.all(np.isfinite(out))
    if name == "cosine":
        assert np.abs(out).max() <= 1.0
        return
    Z = X - model.center_
    if whiten:
        Z = Z @ model.whitening_
    if name == "basis":
        # Coordinates are large when anchors are nearly dependent (the exact
        # minimum-norm ones are), but the anchors' own (e_i, or e_i - 1/m
        # centred) have norm at most 1 (plus the 1/size relative precision of
        # a singular value just above the rank cut), and the reconstruction
        # c @ A is a projection: never longer than the point.
        assert np.linalg.norm(out[anchors], axis=1).max() <= 2
        if center:
            # Centred minimum-norm coordinates are orthogonal to the ones
            # vector: the rounding of the anchors' mean, kept as a direction,
            # gave coordinates of 1e13 along it (sums as large as the
            # coordinates). Rounding here grows with the anchors'
            # conditioning, so it is measured against the largest row.
            totals = np.abs(out.sum(axis=1))
            assert totals.max() <= 1e-6 * np.abs(out).sum(axis=1).max()
        unit = np.abs(Z).max()
        Z = Z / unit if unit > 0 else Z
        lengths = row_norms(Z, 2)
        # Allowed: eps times the anchors' conditioning relative to the
        # largest row (Z is scaled to entries <= 1), and the rounding of a
        # sum that cancels when the coordinates are large.
        precision = 1e-9 + 1e3 * np.finfo(float).eps * conditioning(Z[anchors])
        rounding = precision + 1e-12 * np.abs(out) @ lengths[anchors]
        assert np.all(row_norms(out @ Z[anchors], 2) <= (1 + precision) * lengths + rounding)
    else:
        order = {"euclidean": 2, "l1": 1, "linf": np.inf}[name]
        norms = row_norms(Z, order)
        assert np.all(-out <= (1 + 1e-9) * (norms[:, None] + norms[anchors][None, :]))


@HOSTILE
@given(hostile(collinear_gap=1e-3), st.sampled_from(ALL_SIMILARITIES), st.booleans())
def test_translation_invariance_with_center_on_any_data(case, name, whiten):
    # Near-collinear columns 1e-3 apart: whitened coordinates are accurate to
    # about eps / (smallest correlation eigenvalue), and a shift of 100x the
    # spread already costs two digits of the data (exactly repeated columns
    # are drawn too, and cut at every offset).
    X, anchors = case
    if name == "basis" and not whiten:
        # Without whitening, anchors that do not span the space give the
        # Euclidean projection: a column in units 1e100 larger outweighs
        # another with its rounding alone, so the shift's rounding moves the
        # coordinates. One unit for all columns here (the spanning case is
        # unit-free: test_basis_anchor_coordinates_exact_for_columns_in_any_units).
        largest = np.abs(X).max(axis=0)
        X = X / np.where(largest > 0, largest, 1.0) * largest.max()
    spread = np.abs(X - X.mean(axis=0)).max(axis=0)
    shifted = X + 100 * spread * np.random.RandomState(0).uniform(-1, 1, size=X.shape[1])
    params = {"anchors": anchors, "similarity": name, "whiten": whiten}
    expected = RelativeRepresentation(**params).fit_transform(X)
    out = RelativeRepresentation(**params).fit_transform(shifted)
    assert np.all(np.isfinite(out))
    # 100x the spread costs about two digits of the data themselves.
    scale = max(1, np.abs(expected).max())
    precision = 1e-6 + (1e4 * whitening_precision(X) if whiten else 0.0)
    np.testing.assert_allclose(out, expected, atol=precision * scale)


@HOSTILE
@given(seeds, shapes, st.floats(-150, 150), st.sampled_from(ALL_SIMILARITIES), st.booleans(),
       st.integers(2, 30))
def test_global_scale_and_rotation_on_any_scale(seed, shape, log_factor, name, whiten, n_anchors):
    # Cosine, basis and every whitened form are unit-free; the distances
    # scale with the data. Cosine (and everything whitened) also ignores a
    # rotation.
    X, rng = data(seed, shape[0], shape[1])
    n_anchors = min(n_anchors, shape[0])
    factor = 10.0 ** log_factor
    rotate = name == "cosine" or (whiten and name != "l1" and name != "linf")
    mapped = factor * (X @ rotation(rng, shape[1]) if rotate else X)
    params = {"anchors": np.arange(n_anchors), "similarity": name, "whiten": whiten}
    expected = RelativeRepresentation(**params).fit_transform(X)
    out = RelativeRepresentation(**params).fit_transform(mapped)
    if name in DISTANCES and not whiten:
        out = out / factor
    np.testing.assert_allclose(out, expected, atol=1e-8 * max(1, np.abs(expected).max()))


@HOSTILE
@given(hostile(collinear_gap=1e-3), st.sampled_from(["cosine", "euclidean", "basis"]),
       st.booleans())
def test_whitened_forms_invariant_to_invertible_maps_on_any_data(case, name, shrinkage):
    # X -> X L D + b: L well conditioned, D column units up to 1e+-150, b a
    # translation. Without shrinkage the whitened cosine, Euclidean and
    # basis blocks do not change; with it, only the column units and the
    # translation are forgiven (shrinkage toward the identity is not
    # rotation-invariant). Whitened coordinates are accurate to about
    # eps / (smallest correlation eigenvalue), hence a gap of 1e-3 for the
    # near-collinear columns (exactly repeated ones are cut).
    X, anchors = case
    rng = np.random.RandomState(1)
    d = X.shape[1]
    X = X / np.abs(X).max(axis=0).clip(1e-300)  # the map below brings its own units
    linear = np.eye(d)
    if not shrinkage:
        linear = rotation(rng, d) * np.linspace(0.3, 3.0, d) @ rotation(rng, d)
    units = 10.0 ** rng.uniform(-150, 150, size=d)
    mapped = (X @ linear + rng.normal(size=d)) * units
    params = {"anchors": anchors, "similarity": name, "whiten": True, "shrinkage": shrinkage}
    expected = RelativeRepresentation(**params).fit_transform(X)
    out = RelativeRepresentation(**params).fit_transform(mapped)
    precision = 1e-6 + 1e4 * whitening_precision(X)
    np.testing.assert_allclose(out, expected, atol=precision * max(1, np.abs(expected).max()))


@HOSTILE
@given(seeds, st.integers(3, 60), st.integers(1, 12), st.floats(-30, 30))
def test_float32_whitening_equals_float64_fit_of_same_numbers(seed, n_samples, n_features,
                                                               log_unit):
    X, _ = data(seed, n_samples, n_features)
    X32 = (X * 10.0 ** log_unit).astype(np.float32)
    anchors = np.arange(2)
    fit32 = RelativeRepresentation(anchors=anchors, whiten=True, shrinkage=True).fit(X32)
    fit64 = RelativeRepresentation(anchors=anchors, whiten=True, shrinkage=True).fit(
        X32.astype(np.float64))
    np.testing.assert_array_equal(fit32.whitening_, fit64.whitening_)
    assert fit32.shrinkage_ == fit64.shrinkage_


def test_default_anchor_count_adapts_to_the_rows():
    rng = np.random.RandomState(0)
    small = RelativeRepresentation(random_state=0).fit(rng.normal(size=(40, 6)))
    assert small.n_anchors_ == 40
    large = RelativeRepresentation(random_state=0).fit(rng.normal(size=(500, 6)))
    assert large.n_anchors_ == 300
    with pytest.raises(ValueError, match="minimum of 300"):
        RelativeRepresentation(n_anchors=300).fit(rng.normal(size=(40, 6)))


def test_translator_scores_and_grid_searches_without_a_scorer():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    source = rng.normal(size=(300, 8))
    target = source @ rng.normal(size=(8, 5)) + 0.01 * rng.normal(size=(300, 5))
    translator = LatentTranslator(method="linear").fit(source, target)
    assert translator.score(source, target) > 0.99
    shuffled = LatentTranslator(method="linear").fit(source, target[::-1])
    assert shuffled.score(source, target) < 0.5
    search = GridSearchCV(make_pipeline(StandardScaler(), LatentTranslator()),
                          {"latenttranslator__method": ["orthogonal", "linear"]}, cv=3)
    search.fit(source, target)
    assert search.best_params_ == {"latenttranslator__method": "linear"}
