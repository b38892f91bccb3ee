"""RelativeRepresentation: each point described by its similarities to anchor points."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.validation import check_is_fitted

from ..base import FitSampleMixin, ValidationMixin
from ..utils._compat import Interval, StrOptions, fit_context
from ..utils._dask import (
    blockwise_transform,
    dask_compute,
    is_dask_array,
    lazy_rows,
    read_rows,
    tree_reduce,
)
from ..utils._memory import check_fit_memory, float_bytes
from ..utils._moments import blockwise_moments, shrunk_covariance
from ..utils.extmath import (
    constant_columns,
    normalize_rows,
    power_of_two_exponent,
    psd_inverse_sqrt,
    safe_reciprocal,
)
from ._anchors import (
    explicit_anchors,
    fps_anchors,
    kmeans_anchors,
    random_anchors,
    stratified_anchors,
)
from ._linalg import correlation_whitening, rounding_columns
from ._similarities import SIMILARITIES, PreparedAnchors, similarity_block

#: Anchors chosen by default (Moschella et al. use 300 on most of their benchmarks).
DEFAULT_N_ANCHORS = 300
ANCHOR_STRATEGIES = ("random", "kmeans", "fps", "stratified")
#: The strategies that choose among the rows themselves (in memory): on more
#: rows than ``max_samples``, they choose among a random sample of them.
ROW_STRATEGIES = ("kmeans", "fps")
#: Rows max_samples="auto" gives "kmeans" and "fps" on a dask array: 20,000
#: x 256 float32 rows took 25 s (k-means) and 3 s (farthest points) for 300
#: anchors on 2 shared cores, 67 rows per k-means centroid.
DASK_MAX_SAMPLES = 20_000

#: Similarities in the units of the data (the others are unit-free).
_DISTANCES = ("euclidean", "l1", "linf")

#: Output (and whitened input) entries computed per row block: bounds the
#: temporaries of transform to a few tens of MB whatever the number of rows.
_BLOCK_ELEMENTS = 2**22


class RelativeRepresentation(
    FitSampleMixin, ValidationMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
    BaseEstimator
):
    r"""Represent each point by its similarities to a set of anchor points.

    Two encoders (two sentence-transformers, a static and a contextual word
    model, two vision backbones) embed the same items in incompatible spaces.
    If the two spaces differ by a transformation that a similarity function
    ignores (an angle-preserving map for cosine, say), then the vector of
    similarities to a fixed set of *parallel* anchors, the same items in both
    spaces, is the same in both: a classifier trained on one encoder's
    relative representations works on the other's (zero-shot stitching), and
    points can be searched across spaces (Moschella et al., 2023).

    With anchors :math:`a_1, \dots, a_m` (rows of the fit data), centring
    vector :math:`c` and whitening matrix :math:`W` (identity unless
    ``whiten``), a point :math:`x` becomes

    .. math::

       r(x) = \big(s(\tilde x, \tilde a_1), \dots, s(\tilde x, \tilde a_m)\big),
       \qquad \tilde x = (x - c)\,W,

    for each similarity :math:`s` asked for (see ``similarity``). With several
    similarities the blocks are concatenated, each standardised by the mean
    and standard deviation of the anchors' own similarities to each other
    (Cannistraci et al., 2024): every block keeps its invariance and none
    dominates by scale.

    Read more in the :doc:`User Guide </user_guide/relative>`.

    Parameters
    ----------
    n_anchors : int, default=None
        Number of anchors chosen among the rows of X (at most the number of
        rows). None: ``min(300, n_samples)``, the seed paper's anchor count
        on data that has that many rows. Only used when ``anchors`` names a
        strategy (ignored for an array of row numbers).
    anchors : {"random", "kmeans", "fps", "stratified"} or array-like, default="random"
        How anchors are chosen:

        * ``"random"``: uniformly, without replacement (the seed paper);
        * ``"kmeans"``: the row nearest each of ``n_anchors`` k-means
          centroids (distinct rows);
        * ``"fps"``: farthest-point sampling on the rows scaled to unit
          length (spread over the directions of the data);
        * ``"stratified"``: balanced over the classes of ``y`` (pass ``y``);
        * an array of distinct row numbers of X: how *parallel* anchors are
          given, the same items in two spaces.
    similarity : str or list of str, default="cosine"
        ``"cosine"``, ``"euclidean"`` (minus the distance), ``"l1"`` (minus
        the city-block distance), ``"linf"`` (minus the Chebyshev distance),
        ``"basis"`` (least-squares coordinates in the anchors' span), or a
        list of them: the product of invariances, blocks concatenated in the
        list's order, each standardised by the anchors' statistics. When the
        anchors span the space, the basis coordinates do not depend on the
        units of any column; when they do not (fewer anchors than features),
        they are the Euclidean projection onto the anchors' span, in the
        columns' own units (whiten to make them unit-free).
    center : bool, default=True
        Subtract the anchors' mean first. Makes every similarity invariant to
        translations of the whole space (cosine and basis are not otherwise).
    whiten : bool, default=False
        Whiten with the covariance of the fit data on the correlation scale,
        :math:`W = D^{-1} P^{-1/2}` with :math:`D` the features' standard
        deviations and :math:`P` their correlation matrix (ZCA-cor;
        pseudo-inverse square root, so directions without variance are
        dropped): :math:`W^\top \Sigma W = I`. Cosine and Euclidean
        similarities then become Mahalanobis ones, and the cosine, Euclidean
        and basis blocks are invariant to every invertible linear map of the
        whole space. ``"l1"`` and ``"linf"`` are invariant to rescaling
        (and permuting) features, not to other maps: they depend on the
        whitened coordinates, which such maps rotate. The anchors alone are
        too few to estimate the covariance when ``n_anchors < n_features``;
        all rows of X are used (moments accumulated in float64).
    shrinkage : bool or float in [0, 1], default=False
        Shrink the correlation matrix :math:`P` toward the identity (the
        covariance toward its own diagonal; ``True``: the distribution-free
        optimal coefficient, as :class:`~skembed.LinearConceptEraser` does; a
        float sets it). Helps when the fit data are few for their dimension.
        Keeps the invariance to rescaling features, at the cost of exact
        invariance to other linear maps (shrinkage toward the identity
        depends on the coordinates). Only used when ``whiten=True``.
    top_k : int, default=None
        Keep only each row's ``top_k`` largest similarities in each block,
        the others set to zero; :meth:`transform` then returns a
        ``scipy.sparse`` CSR matrix.
    normalize : {None, "l2", "standard"}, default=None
        Normalisation of the output: ``"l2"`` scales each row to unit length
        (after ``top_k``); ``"standard"`` standardises each column with its
        mean and standard deviation over the fit data (not with ``top_k``).
    max_samples : int, "auto" or None, default="auto"
        Most rows ``anchors="kmeans"`` and ``"fps"`` choose the anchors
        among. With more rows, ``max_samples`` of them are drawn uniformly
        at random without replacement (``random_state``; their indices,
        sorted, are ``sample_indices_``), and the anchors are the rows
        ``fit(X[sample_indices_])`` would choose with the same
        ``random_state`` (``anchor_indices_`` are row numbers of X).
        Everything else is fitted on every row: the scale, the whitening
        and the statistics of ``normalize``. The draw depends only on the
        number of rows and the seed, so a dask array gives the same sample
        however it is chunked. ``"auto"``: every row of an in-memory X
        (nothing changes for it); 20,000 rows of a dask array (see *Dask
        arrays* in the Notes), on which k-means chose 300 anchors among
        20,000 x 256 rows in 25 s and farthest-point sampling in 3 s on 2
        cores. An int: that many rows at most, for an in-memory X as for a
        dask array (the two fits then choose the same anchors). None: every
        row; a dask array is then read whole into memory. Only used when
        ``anchors`` is ``"kmeans"`` or ``"fps"``: the other strategies pick
        row numbers without reading the rows, among all of them.
    random_state : int, RandomState instance or None, default=None
        Anchor draw (``"random"``, ``"stratified"``), k-means initialisation
        (``"kmeans"``) and the first anchor of ``"fps"``. The rows of
        ``max_samples`` are drawn before, by a generator of their own for
        an int seed, so that the seed chooses the anchors of
        ``X[sample_indices_]`` with it.

    Attributes
    ----------
    anchor_indices_ : ndarray of int of shape (`n_anchors_`,)
        Row numbers, in the fit data, of the anchors; give them as
        ``anchors=`` to the estimator of another space for parallel anchors.
    anchors_ : ndarray of shape (`n_anchors_`, n_features)
        The anchor vectors, as given (float64).
    sample_indices_ : ndarray of int of shape (max_samples,) or None
        The rows the anchors were chosen among, sorted, when ``max_samples``
        drew a sample; None when every row was a candidate (and for the
        strategies that do not read the rows).
    n_anchors_ : int
        Number of anchors.
    similarities_ : tuple of str
        The similarity of each output block, in order.
    center_ : ndarray of shape (n_features,)
        Subtracted before the similarities: the anchors' mean (zeros when
        ``center=False``).
    whitening_ : ndarray of shape (n_features, n_features) or None
        :math:`W` (not symmetric in general), or None without ``whiten``.
    shrinkage_ : float
        Shrinkage coefficient used by the whitening (0 without).
    block_mean_, block_scale_ : ndarray of shape (n_blocks,)
        Per-block standardisation (the anchors' similarities to each other);
        0 and 1 for a single similarity given as a string.
    output_mean_, output_scale_ : ndarray of shape (n_features_out,) or None
        Column statistics of ``normalize="standard"``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    LatentTranslator : Map one space into another with a map fitted on
        parallel anchors.

    Notes
    -----
    Only the anchors, the centring vector and the whitening matrix are kept,
    never the training data. :meth:`transform` costs O(n m d) (plus O(n d^2)
    with ``whiten``), computed in blocks of rows so memory stays bounded; it
    is deterministic. Float32 input gives float32 output (the L1 and
    L-infinity distances are computed in float64 and cast back).

    Units: cosine, basis and every whitened similarity are unit-free (the
    same output for ``X`` and ``s * X``); the distances are in the units of
    X (``s`` times the output), unless standardised (a list of
    similarities, or ``normalize``). Rows are scaled by powers of two
    internally (exact), so data between 1e-150 and 1e150 give these results
    without overflow. Rank decisions are made where they mean something:
    the whitening on the correlation matrix; the basis coordinates on the
    centred anchors without the direction of their mean (centred anchors
    have rank at most ``n_anchors - 1``), with columns in comparable units
    when the anchors span the space.

    Memory: ``fit`` holds the anchors twice and their similarities to each
    other, with ``whiten`` about 7 d x d float64 matrices, and while choosing
    anchors about 3 copies of X (``"kmeans"``) or 2 (``"fps"``), of the
    sample's rows with ``max_samples``; checked before any work (see
    :func:`skembed.utils.estimate_fit_memory`).
    ``transform`` works in blocks of rows of about 2**22 entries.

    **Dask arrays.** ``fit`` takes a :class:`dask.array.Array` of any row
    chunking and never reads it whole (unless ``max_samples`` asks for
    every row of ``"kmeans"`` or ``"fps"``). One compute gathers the rows
    it needs and reduces every block: the anchor rows for ``"random"``,
    ``"stratified"`` and explicit anchors (chosen from the number of rows,
    or from ``y``, read into memory), or the ``max_samples`` rows
    (20,000 by default) that ``"kmeans"`` and ``"fps"`` choose among in
    memory; each column's largest absolute value (the scale, exact); with
    ``whiten``, the moments of every row, merged in a tree with the exact
    update of Chan et al. (float64, equal to the in-memory whitening to
    rounding). ``normalize="standard"`` reads the array once more, for the
    column moments of its representation. Every block is read once per
    compute and checked for NaN and infinity. ``transform`` on a dask
    array is lazy and blockwise (not with ``top_k``).

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello,
       E. Rodolà. "Relative representations enable zero-shot latent space
       communication." ICLR 2023.
    .. [2] I. Cannistraci, L. Moschella, M. Fumero, V. Maiorca, E. Rodolà.
       "From Bricks to Bridges: Product of Invariances to Enhance Latent Space
       Communication." ICLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed import RelativeRepresentation
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 20))
    >>> rotation = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    >>> anchors = np.arange(50)  # the same items in both spaces
    >>> R1 = RelativeRepresentation(anchors=anchors).fit_transform(X)
    >>> R2 = RelativeRepresentation(anchors=anchors).fit_transform(3 * X @ rotation + 1)
    >>> R1.shape
    (500, 50)
    >>> bool(np.abs(R1 - R2).max() < 1e-10)
    True
    """

    #: fit reads a dask array blockwise (the anchor rows, or a sample for
    #: "kmeans" and "fps", and the moments); transform is blockwise.
    _dask_methods = frozenset({"fit", "transform"})
    _parameter_constraints = {
        "n_anchors": [Interval(Integral, 1, None, closed="left"), None],
        "anchors": [StrOptions(set(ANCHOR_STRATEGIES)), "array-like"],
        "similarity": [StrOptions(set(SIMILARITIES)), list, tuple],
        "center": ["boolean"],
        "whiten": ["boolean"],
        "shrinkage": ["boolean", Interval(Real, 0, 1, closed="both")],
        "top_k": [Interval(Integral, 1, None, closed="left"), None],
        "normalize": [StrOptions({"l2", "standard"}), None],
        "max_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                        None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_anchors=None,
        *,
        anchors="random",
        similarity="cosine",
        center=True,
        whiten=False,
        shrinkage=False,
        top_k=None,
        normalize=None,
        max_samples="auto",
        random_state=None,
    ):
        self.n_anchors = n_anchors
        self.anchors = anchors
        self.similarity = similarity
        self.center = center
        self.whiten = whiten
        self.shrinkage = shrinkage
        self.top_k = top_k
        self.normalize = normalize
        self.max_samples = max_samples
        self.random_state = random_state

    def _explicit(self):
        return not isinstance(self.anchors, str)

    def _min_fit_samples(self):
        if self._explicit():
            return max(self._min_samples, int(np.size(self.anchors)))
        return max(self._min_samples, self.n_anchors or 1)

    def _requested_anchors(self, n_samples):
        """The number of anchors a fit on ``n_samples`` rows uses."""
        if self._explicit():
            return int(np.size(self.anchors))
        if self.n_anchors is None:
            return min(DEFAULT_N_ANCHORS, n_samples)
        return self.n_anchors

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    def _check_options(self):
        caller = "RelativeRepresentation.fit"
        names = [self.similarity] if isinstance(self.similarity, str) else list(self.similarity)
        unknown = [name for name in names if name not in SIMILARITIES]
        if not names or unknown:
            raise ValueError(
                f"{caller}: similarity must be one of {list(SIMILARITIES)} or a non-empty "
                f"list of them, got {self.similarity!r}."
            )
        if len(set(names)) != len(names):
            raise ValueError(
                f"{caller}: similarity lists {names}, with a repeat; a repeated block "
                "only duplicates columns. List each similarity once."
            )
        if self.top_k is not None and self.normalize == "standard":
            raise ValueError(
                f"{caller}: normalize='standard' centres the columns, which would fill "
                "the zeros left by top_k. Use normalize='l2' or None with top_k."
            )
        return tuple(names)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the anchors and the statistics the representation needs.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Embeddings; anchors are chosen among these rows. A dask array is
            read in one compute (twice with ``normalize="standard"``), never
            whole: the anchor rows (or the sample of ``max_samples``) are
            gathered, the scale and the whitening moments reduced block by
            block over every row, and every block checked for NaN and
            infinity.
        y : array-like of shape (n_samples,), default=None
            Class labels, used only by ``anchors="stratified"`` (read into
            memory when given as a dask array).

        Returns
        -------
        self : RelativeRepresentation
            The fitted estimator.
        """
        similarities = self._check_options()
        if not self._explicit() and self.anchors == "stratified":
            if y is None:
                raise ValueError(
                    "RelativeRepresentation.fit: anchors='stratified' balances the anchors "
                    "over the classes of y. Pass y to fit, or choose another strategy."
                )
            X, y, _ = self._validate_X_y(X, y, y_kind="labels")
        else:
            X = self._validate_X(X, reset=True)
        n_samples = X.shape[0]
        on_dask = is_dask_array(X)

        caller = "RelativeRepresentation.fit"
        # Checked before any anchor is chosen (k-means anchors cost a clustering).
        n_anchors = self._requested_anchors(n_samples)
        if self.center and n_anchors < 2:
            raise ValueError(
                f"{caller}: with center=True a single anchor is its own mean, so every "
                "similarity to it would be constant. Use at least 2 anchors, or center=False."
            )
        if self.top_k is not None and self.top_k > n_anchors:
            raise ValueError(
                f"{caller}: top_k={self.top_k} exceeds the number of anchors "
                f"({n_anchors}). Pass top_k <= {n_anchors}."
            )
        sample = None
        if self._chooses_among_rows():
            n_fit = self._n_fit_rows(n_samples, on_dask=on_dask)
            sample = self._fit_sample_indices(
                n_samples, n_fit, needed=n_anchors,
                needs=f"choosing {n_anchors} anchors among them (anchors={self.anchors!r}) "
                      "needs", other_fixes=", fewer n_anchors")
            if sample is None and on_dask:
                # The sample is every row: read them, and fit in memory.
                X = read_rows(X, None)
                on_dask = False
        rng = check_random_state(self.random_state)

        # The strategies that need only the number of rows (or y) pick row
        # numbers first; "kmeans" and "fps" choose among the rows (or the
        # sample's), below.
        indices = None
        if self._explicit():
            with self._named_errors("fit"):
                indices = explicit_anchors(self.anchors, n_samples)
        elif self.anchors == "random":
            indices = random_anchors(n_samples, n_anchors, rng)
        elif self.anchors == "stratified":
            indices = stratified_anchors(y, n_anchors, rng)

        statistics = None
        if on_dask:
            # One compute: the rows wanted (anchors, or the sample to choose
            # them from) and the blockwise moments, each block read once.
            rows, statistics = self._read_dask(X, indices if indices is not None else sample)
            if indices is None:
                local = self._choose_anchors(rows, n_anchors, rng)
                indices, rows = sample[local], rows[local]
        else:
            if indices is None:
                among = X if sample is None else X[sample]
                indices = self._choose_anchors(among, n_anchors, rng)
                if sample is not None:
                    indices = sample[indices]
            rows = X[indices]
        n_anchors = indices.size

        self.anchor_indices_ = indices
        self.sample_indices_ = sample
        self.anchors_ = np.array(rows, dtype=np.float64)
        self.n_anchors_ = n_anchors
        self.similarities_ = similarities
        self.center_ = (
            self.anchors_.mean(axis=0) if self.center else np.zeros(X.shape[1])
        )
        centred = self.anchors_ - self.center_
        if self.center:
            # A column constant over the anchors is exactly 0 once centred;
            # computed, it is a few ulps of the mean, which cosine (and the
            # basis after scaling its columns) would read as a direction.
            centred[:, rounding_columns(self.center_, centred)] = 0.0
        self._fit_preprocessing(X, statistics)
        self._prepared = PreparedAnchors(
            self._scale_and_whiten(centred), similarities, offset=self._centring_offset()
        )

        n_blocks = len(similarities)
        self.block_mean_, self.block_scale_ = np.zeros(n_blocks), np.ones(n_blocks)
        if self._standardised_blocks():
            self._fit_block_statistics()
        self._n_features_out = n_anchors * n_blocks
        self.output_mean_ = self.output_scale_ = None
        if self.normalize == "standard":
            self._fit_output_statistics(X)
        return self

    def _chooses_among_rows(self):
        """Whether the anchor strategy reads the rows (and so may need a sample)."""
        return not self._explicit() and self.anchors in ROW_STRATEGIES

    def _dask_max_samples(self):
        return DASK_MAX_SAMPLES

    def _choose_anchors(self, X, n_anchors, rng):
        """Anchors chosen among the rows of X by "kmeans" or "fps" (row numbers of X)."""
        if self.anchors == "kmeans":
            # Scaled by a power of two (exact): the same clustering, without
            # squared distances overflowing for data of order 1e150.
            unit_X = np.ldexp(X, -power_of_two_exponent(X))
            return kmeans_anchors(unit_X, n_anchors, rng)
        return fps_anchors(X, n_anchors, rng)

    def _read_dask(self, X, indices):
        """The rows ``indices`` of a dask X and its moments, in one compute.

        Returns the rows (in memory, X's dtype) and the statistics
        :meth:`_fit_preprocessing` needs: each column's largest absolute
        value (the scale, exactly as in memory) and, with ``whiten``, the
        moments of every row (a tree of Chan et al.'s exact merges, in
        float64). Every block is read once, and so checked for NaN and
        infinity.
        """
        from dask import delayed

        peaks = tree_reduce(
            [delayed(_column_peaks, pure=True)(block) for block in X.to_delayed().ravel()],
            np.maximum,
        )
        moments = blockwise_moments(X, {}, None) if self.whiten else None
        rows, peaks, moments = dask_compute(lazy_rows(X, indices), peaks, moments)
        return rows, (peaks, moments)

    def _fit_preprocessing(self, X, statistics=None):
        """The whitening, and the powers of two that keep every square in range.

        Without ``whiten`` the rows are scaled by one power of two, from the
        fit data's largest entry (not the anchors': they may be near
        duplicates of each other, far from the rest): exact, so the
        similarities are those of the data as given, but no square overflows
        (data of order 1e150) or underflows (1e-150). The distances are returned in the data's
        units (``_distance_exponent``); cosine and basis are unit-free.
        With ``whiten`` each column is scaled by its own power of two and the
        whitened coordinates are unit-free.

        For a dask X, ``statistics`` are what :meth:`_read_dask` reduced:
        the same powers of two, and the moments of every row.
        """
        self.whitening_, self.shrinkage_, self._unit_whitening = None, 0.0, None
        if self.whiten:
            if statistics is None:
                rows = self._block_rows(X.shape[1], width=X.shape[1])
                whitening = correlation_whitening(X, self.shrinkage, rows)
            else:
                whitening = _whitening_from_moments(*statistics, self.shrinkage)
            self._column_exponents, self._unit_whitening, self.shrinkage_ = whitening
            self.whitening_ = np.ldexp(self._unit_whitening, -self._column_exponents[:, None])
            self._distance_exponent = 0
            return
        if statistics is None:
            exponent = power_of_two_exponent(X)
        else:
            top = float(statistics[0].max(initial=0.0))
            exponent = int(np.frexp(top)[1]) if top > 0 else 0
        self._column_exponents = np.full(X.shape[1], exponent, dtype=np.intc)
        self._distance_exponent = exponent

    def _centring_offset(self):
        """Per preprocessed column, the size of what centring subtracted (None without).

        Without whitening, the centre in the scaled units. With it, the
        rounding ``e`` of the centred entries (``|e_j| <= eps |c_j|``) reaches
        whitened column k as ``sum_j e_j W_jk``: the column norms of
        ``diag(c) W`` bound it.
        """
        if not self._fitted_param("center"):
            return None
        centre = np.abs(np.ldexp(self.center_, -self._column_exponents))
        if self._unit_whitening is None:
            return centre
        return np.linalg.norm(centre[:, None] * self._unit_whitening, axis=0)

    def _preprocess(self, X):
        """``(X - center_) @ whitening_``, in X's dtype (a new array), scaled.

        Computed as ``((X - center_) * 2**-exponents) @ unit_whitening``, the
        rows in units of about 1 (see :meth:`_fit_preprocessing`).
        """
        return self._scale_and_whiten(X - self.center_.astype(X.dtype, copy=False))

    def _scale_and_whiten(self, centred):
        """Centred rows, scaled by powers of two and whitened (in place when possible)."""
        np.ldexp(centred, -self._column_exponents, out=centred)
        if self._unit_whitening is not None:
            centred = centred @ self._unit_whitening.astype(centred.dtype, copy=False)
        return centred

    def _block_exponents(self):
        """Per block, the power of two its values are computed in (0: unit-free)."""
        return [self._distance_exponent if name in _DISTANCES else 0 for name in self.similarities_]

    def _output_exponent(self):
        """The power of two the output is computed in: a single distance block's."""
        return 0 if self._standardised_blocks() else self._block_exponents()[0]

    def _standardised_blocks(self):
        return not isinstance(self._fitted_param("similarity"), str)

    def _fit_block_statistics(self):
        """Mean and standard deviation of each block over the anchors' own similarities.

        The anchors' similarities to each other are invariant exactly as
        every block is, so standardising by them keeps each invariance.
        """
        anchors = self._prepared.anchors
        for b, (name, exponent) in enumerate(zip(self.similarities_, self._block_exponents())):
            values = similarity_block(anchors, self._prepared, name)
            scale = values.std()
            # In the data's units, as the single-similarity output.
            self.block_mean_[b] = np.ldexp(values.mean(), exponent)
            self.block_scale_[b] = np.ldexp(scale, exponent) if scale > 0 else 1.0

    def _fit_output_statistics(self, X):
        """Column means and standard deviations of the fit data's representation.

        Accumulated block by block in float64 around the first block's means
        (a shift that keeps the one-pass variance free of cancellation), in
        the units the output is computed in (no square overflows), and
        stored in the output's units. A dask X is read once more: each
        block's representation gives its moments, merged in a tree with
        Chan et al.'s exact update.
        """
        if is_dask_array(X):
            values = blockwise_transform(X, self._output_values, self._n_features_out,
                                         np.float64)
            (moments,) = dask_compute(blockwise_moments(values, {}, None,
                                                        track_covariance=False))
            self._set_output_statistics(moments.mean_x, moments.variance)
            return
        total = shift = sum_ = sum_sq = None
        for rows in gen_batches(X.shape[0], self._block_rows(X.shape[1])):
            block = np.concatenate(self._blocks(X[rows]), axis=1).astype(np.float64)
            if shift is None:
                shift = block.mean(axis=0)
                total, sum_, sum_sq = 0, np.zeros_like(shift), np.zeros_like(shift)
            block -= shift
            total += block.shape[0]
            sum_ += block.sum(axis=0)
            sum_sq += np.einsum("ij,ij->j", block, block)
        mean = sum_ / total
        variance = np.maximum(sum_sq / total - mean**2, 0.0)
        self._set_output_statistics(shift + mean, variance)

    def _output_values(self, X):
        """The representation of X before ``normalize``, in float64, in blocks of rows."""
        parts = [np.concatenate(self._blocks(X[rows]), axis=1).astype(np.float64)
                 for rows in gen_batches(X.shape[0], self._block_rows(X.shape[1]))]
        return np.concatenate(parts, axis=0) if parts else np.empty((0, self._n_features_out))

    def _set_output_statistics(self, mean, variance):
        """``output_mean_`` and ``output_scale_`` from the columns' moments (output units)."""
        scale = np.sqrt(variance)
        # A column counts as constant (scale 1: centred, it stays 0) when its
        # deviation is at most 1e-12 of max(|mean|, 1). Not
        # extmath.constant_columns, whose (64 eps |mean|)^2 bounds only the
        # rounding of a mean: these columns are computed similarities whose
        # own rounding, accumulated over blocks by a one-pass variance, is
        # larger, and a column near 0 needs the absolute part of the floor
        # (meaningful because the values are in units of about 1 here).
        scale = np.where(scale > 1e-12 * np.abs(mean).clip(1), scale, 1.0)
        exponent = self._output_exponent()
        self.output_mean_ = np.ldexp(mean, exponent)
        self.output_scale_ = np.ldexp(scale, exponent)

    # ------------------------------------------------------------------
    # The representation
    # ------------------------------------------------------------------

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit (see the class docstring's Notes)."""
        n_anchors = self._requested_anchors(n_samples)
        n_blocks = 1 if isinstance(self.similarity, str) else len(self.similarity)
        whitening = 7 * n_features**2 if self.whiten else 0
        # Choosing the anchors (measured with tracemalloc): k-means works on
        # a rescaled copy of X and its distances, farthest-point sampling on
        # a copy and its running distances; the others pick row numbers.
        # With max_samples, on a copy of the sample.
        choosing, n_choose = 0, 0
        if self._chooses_among_rows():
            choosing = {"kmeans": 3, "fps": 2}[self.anchors]
            n_choose = self._n_fit_rows(n_samples, on_dask=False)
        sample = n_choose * n_features if n_choose < n_samples else 0
        return float_bytes(whitening, choosing * n_choose * n_features, sample,
                           2 * n_anchors * n_features, n_blocks * n_anchors**2 / 2)

    def _check_fit_memory(self, X, method, n_targets=None, *, lazy_targets=False):
        """The memory check of a fit: on a dask array, what it holds at once.

        A dask fit holds the rows it gathers (the ``max_samples`` rows that
        ``"kmeans"`` and ``"fps"`` choose among, with the strategy's copies of
        them; otherwise the anchors alone), and, one at a time, a block with
        its float64 copy and its moments (with ``normalize="standard"``, its
        representation); ``y`` of ``"stratified"`` is read whole.
        """
        if not is_dask_array(X):
            return super()._check_fit_memory(X, method, n_targets)
        n_rows, n_features = X.shape
        block = max(X.chunks[0])
        if self._chooses_among_rows():
            n_work = self._n_fit_rows(n_rows, on_dask=True)
            gathered = n_work * n_features
        else:
            n_work, gathered = min(block, n_rows), 0
        width = 0
        if self.normalize == "standard":
            n_blocks = 1 if isinstance(self.similarity, str) else len(self.similarity)
            width = self._requested_anchors(n_rows) * n_blocks
        labels = 8 * n_rows if not self._explicit() and self.anchors == "stratified" else 0
        check_fit_memory(self, n_work, n_features, self._caller(method),
                         extra_bytes=float_bytes(gathered, 2 * block * n_features,
                                                 block * width) + labels,
                         total_rows=n_rows)

    def _memory_advice(self, n_samples, n_features):
        if self.whiten:
            return ("whiten=True works with n_features x n_features matrices; use "
                    "whiten=False or reduce the features first.")
        if self._chooses_among_rows():
            return (f"anchors={self.anchors!r} works on copies of the rows it chooses "
                    "among: choose among a sample of them (a smaller max_samples), or "
                    "use anchors='random'.")
        return super()._memory_advice(n_samples, n_features)

    def _block_rows(self, n_features, width=None):
        if width is None:
            width = self.n_anchors_ * len(self.similarities_)
        return max(1, _BLOCK_ELEMENTS // max(width, n_features, 1))

    def _blocks(self, X):
        """The similarity blocks of a block of rows (dense), standardised for a list.

        In the units of :meth:`_block_exponents`; the standardised blocks of
        a list are unit-free.
        """
        Z = self._preprocess(X)
        blocks = []
        for b, (name, exponent) in enumerate(zip(self.similarities_, self._block_exponents())):
            values = similarity_block(Z, self._prepared, name)
            if self._standardised_blocks():
                values -= values.dtype.type(np.ldexp(self.block_mean_[b], -exponent))
                values *= values.dtype.type(1.0 / np.ldexp(self.block_scale_[b], -exponent))
            blocks.append(values)
        return blocks

    def _top_k(self, blocks):
        """CSR matrix keeping the top_k largest values of each row in each block."""
        k, m = self._fitted_param("top_k"), self.n_anchors_
        n_rows = blocks[0].shape[0]
        columns, values = [], []
        for b, block in enumerate(blocks):
            kept = np.argpartition(-block, k - 1, axis=1)[:, :k]
            columns.append(kept + b * m)
            values.append(np.take_along_axis(block, kept, axis=1))
        columns, values = np.concatenate(columns, axis=1), np.concatenate(values, axis=1)
        order = np.argsort(columns, axis=1)
        columns = np.take_along_axis(columns, order, axis=1)
        values = np.take_along_axis(values, order, axis=1)
        indptr = np.arange(0, n_rows * columns.shape[1] + 1, columns.shape[1])
        return sp.csr_matrix(
            (values.ravel(), columns.ravel(), indptr), shape=(n_rows, m * len(blocks))
        )

    def _represent(self, X):
        # Everything is computed in the units of _output_exponent; only an
        # output left in the data's units (a distance, not normalised) is
        # scaled back, by a power of two.
        blocks = self._blocks(X)
        exponent = self._output_exponent()
        normalize = self._fitted_param("normalize")
        if self._fitted_param("top_k") is not None:
            out = self._top_k(blocks)
            if normalize == "l2":
                norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
                out = sp.diags(safe_reciprocal(norms).astype(out.dtype, copy=False)) @ out
            elif exponent:
                np.ldexp(out.data, exponent, out=out.data)
            return out
        out = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
        if normalize == "standard":
            out -= np.ldexp(self.output_mean_, -exponent).astype(out.dtype, copy=False)
            out /= np.ldexp(self.output_scale_, -exponent).astype(out.dtype, copy=False)
        elif normalize == "l2":
            out = normalize_rows(out)
        elif exponent:
            np.ldexp(out, exponent, out=out)
        return out

    def transform(self, X):
        """Represent X by its similarities to the anchors.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Embeddings in the same space as the fit data.

        Returns
        -------
        X_relative : ndarray or CSR matrix of shape (n_samples, `n_anchors_` * n_blocks)
            Blocks in the order of ``similarities_``, anchors in the order of
            ``anchor_indices_``; in X's dtype; sparse with ``top_k``; a lazy
            dask array of X's row chunks when X is one.
        """
        check_is_fitted(self, "anchors_")
        X = self._validate_X(X, reset=False)
        if is_dask_array(X):
            if self._fitted_param("top_k") is not None:
                raise ValueError(
                    "RelativeRepresentation.transform: top_k gives a sparse matrix, which "
                    "a dask array of blocks does not hold. Transform with top_k=None, "
                    "or pass a NumPy array."
                )
            return self._transform_lazily(X, self._represent_in_blocks)
        return self._represent_in_blocks(X)

    def _represent_in_blocks(self, X):
        if X.shape[0] == 0:  # an empty dask block
            return self._represent(X)
        parts = [
            self._represent(X[rows])
            for rows in gen_batches(X.shape[0], self._block_rows(X.shape[1]))
        ]
        if len(parts) == 1:
            return parts[0]
        if self._fitted_param("top_k") is not None:
            return sp.vstack(parts, format="csr")
        return np.concatenate(parts, axis=0)


def _column_peaks(block):
    """Each column's largest absolute value over a block (float64; 0 without rows).

    The maximum over blocks is the in-memory value: the scale of
    :func:`~skembed.utils.extmath.power_of_two_exponent` (the largest entry)
    and the per-column scale of the whitening.
    """
    if block.shape[0] == 0:
        return np.zeros(block.shape[1])
    return np.maximum(block.max(axis=0), -block.min(axis=0)).astype(np.float64)


def _whitening_from_moments(peaks, moments, shrinkage):
    """:func:`~._linalg.correlation_whitening` from the moments of a dask X.

    ``peaks`` are the columns' largest absolute values, ``moments`` the
    :class:`~skembed.utils._moments.WeightedMoments` of every row (in
    their own units, powers of two). The moments are brought to the
    units of the whitening's column exponents (exactly: a ratio of powers
    of two) and the rest is the in-memory computation.
    """
    exponents = np.frexp(peaks)[1]
    units = np.ldexp(1.0, exponents)
    ratio = moments.scale_x / units  # a power of two (1: both are the peak's)
    mean = moments.mean_x / units
    variance = moments.scaled_variance * ratio**2
    n_features = peaks.size
    varying = np.flatnonzero(~constant_columns(mean, variance) & (variance > 0))
    unit_whitening = np.zeros((n_features, n_features))
    rho = 0.0
    if varying.size:
        deviation = np.sqrt(variance[varying])
        correlation = moments.scaled_covariance[np.ix_(varying, varying)]
        correlation *= np.outer(ratio[varying], ratio[varying])
        correlation /= np.outer(deviation, deviation)
        correlation, rho = shrunk_covariance(correlation, moments.weight, shrinkage)
        unit_whitening[np.ix_(varying, varying)] = (
            psd_inverse_sqrt(correlation) / deviation[:, None]
        )
    return exponents, unit_whitening, rho
