"""NNPreservingReducer: linear dimensionality reduction that keeps nearest neighbours."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ..base import N_JOBS_CONSTRAINT, FitSampleMixin, ValidationMixin
from ..utils import exact_kneighbors, neighbour_overlap
from ..utils._compat import Hidden, Interval, StrOptions, fit_context
from ..utils._dask import is_dask_array, read_rows
from ..utils._memory import float_bytes
from ..utils._messages import user_stacklevel
from ..utils._optim import Adam
from ..utils._progress import ProgressLog
from ..utils.extmath import (
    mean_squared_norm,
    normalize_rows,
    power_of_two_unit,
    root_mean_square_norm,
)
from ._margin import margin_loss_and_gradient, orthogonality_penalty
from ._mpad import mpad_objective_and_gradient

BATCH_SIZE = 256
PATIENCE = 2
MIN_STEPS = 50
#: The default output dimension on wide data (half the width on narrower data).
DEFAULT_MAX_COMPONENTS = 64
#: The default k of the kept neighbourhoods (fewer on fewer rows).
DEFAULT_N_NEIGHBORS = 10
#: Rows max_samples="auto" fits on for a dask array: the default max_queries,
#: so that every sampled row is a query of the margin loss.
DASK_MAX_SAMPLES = 20_000


class NNPreservingReducer(
    FitSampleMixin, ValidationMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
    BaseEstimator
):
    r"""Linear dimensionality reduction that keeps each point's nearest neighbours.

    Learns a linear map :math:`x \mapsto W^\top (x - \mu)` to
    ``n_components`` dimensions, started from PCA, so that each point's
    ``n_neighbors`` nearest neighbours stay its nearest neighbours: the figure
    vector search depends on (recall@k), which PCA and random projections do
    not optimise.

    Methods (what is optimised):

    ``"margin"`` (default)
        A listwise softmax ranking loss: for each query, its true k nearest
        neighbours must be closer, in the reduced space, than the candidates
        that currently intrude among its reduced-space neighbours and than
        random points, by a margin of a few ``temperature`` units:

        .. math::

           L_i = -\frac{1}{k} \sum_{j \in N_i} \log
           \frac{e^{-d_{ij}/\tau}}{\sum_{l \in C_i} e^{-d_{il}/\tau}},
           \quad d_{ij} = \lVert W^\top (x_i - x_j) \rVert^2,

        plus ``orthogonality`` :math:`\cdot \lVert W^\top W - I \rVert_F^2`,
        with the columns of :math:`W` brought back to unit norm after each
        step (so the penalty acts on their correlations).
        Intruders are mined again at every epoch; mini-batch Adam with
        analytic gradients. The fitted map is the best one seen by recall on
        a held-out sample of the training points, PCA included, so it never
        ends below its PCA start there.
    ``"mpad"``
        The MPAD/QPAD objective (Fu & Zhao, 2025): maximise, for every
        direction, the mean of the smallest ``tail_fraction`` of the
        projected gaps :math:`|\langle w_s, x_i - x_j \rangle|` over pairs,
        minus ``orthogonality`` :math:`\cdot \sum_{s \ne t} \langle w_s, w_t
        \rangle^2`, with unit-norm directions and the gaps measured in
        units of the root mean square norm of the centred data (so the
        balance with the penalty does not depend on the units of X).
        Optimised jointly, with analytic subgradients on pairs resampled at
        every step, instead of direction by direction with finite
        differences.

    Neither result depends on the units of X: the fit on ``s * X`` (any
    positive s between 1e-150 and 1e150) has the same recall history and,
    to rounding, the same ``components_``; its transform is s times the
    transform of X (the same with ``metric="cosine"``).

    Read more in the :doc:`User Guide </user_guide/reduction>`.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the output; smaller than ``n_features`` and at most
        ``n_samples``. None: ``min(64, n_features // 2)`` (at least 1, at
        most ``n_samples``), so that the default reduces any width: 384-d
        or 768-d sentence embeddings to 64, 50-d GloVe to 25. The value used
        is ``n_components_``.
    n_neighbors : int, default=None
        The k of the neighbourhoods to keep (recall@k). None: 10, or
        ``n_samples - 1`` on fewer rows. The value used is ``n_neighbors_``.
    method : {"margin", "mpad"}, default="margin"
        What is optimised (see above).
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` L2-normalises the rows first (in ``fit`` and
        ``transform``), the usual setting for sentence embeddings.
    init : {"pca", "random"}, default="pca"
        Starting map: the top principal axes, or a random orthonormal one.
    orthogonality : float, default=1.0
        Weight of the soft orthogonality penalty.
    n_negatives : int, default=50
        ``method="margin"``: intruders mined per query (its nearest
        reduced-space neighbours that are not true neighbours); 20 random
        points are added. ``method="mpad"``: number of pairs per step is
        ``100 * n_negatives``.
    temperature : float, default=0.5
        :math:`\tau` as a fraction of the median reduced squared distance
        between neighbours at the start. Only used when ``method="margin"``.
    tail_fraction : float, default=0.1
        The fraction b of smallest gaps averaged. Only used when
        ``method="mpad"``.
    learning_rate : float, default=1e-3
        Adam step size.
    max_iter : int, default=8
        Epochs (``method="margin"``: passes over the queries, with intruders
        mined again at each; ``method="mpad"``: 100 steps each).
    batch_size : int, default=256
        Queries per gradient step. Only used when ``method="margin"``.
    max_queries : int, default=20000
        At most this many training points (a random sample, drawn once) serve
        as queries: their exact neighbours are computed once and their
        intruders at every epoch, which bounds the cost on large data. Only
        used when ``method="margin"``.
    tol : float, default=1e-4
        Stop when the best held-out recall has grown by less than ``tol`` for
        two epochs in a row.
    max_samples : int, "auto" or None, default="auto"
        Most rows :meth:`fit` learns from. With more rows, ``max_samples``
        of them are drawn uniformly at random without replacement
        (``random_state``; their indices, sorted, are ``sample_indices_``)
        and the map is fitted exactly as ``fit(X[sample_indices_])`` would
        fit it with the same ``random_state`` (``mean_``, the defaults of
        ``n_components`` and ``n_neighbors`` included); it applies to every
        row. The neighbourhoods kept are those of the sample, whose rows
        are sparser than the full table's. The draw depends only on the
        number of rows and the seed, so a dask array gives the same sample
        however it is chunked. ``"auto"``: every row of an in-memory X
        (nothing changes for it); 20,000 rows of a dask array (see *Dask
        arrays* in the Notes), the default ``max_queries``, so that every
        sampled row is a query (an epoch on 20,000 x 256 rows took about
        20 s on 2 shared cores). An int: that many rows at most, for an
        in-memory X as for a dask array (a dask fit then equals the
        in-memory fit of the computed array). None: every row; a dask array
        is then read whole into memory (the memory check of ``fit``
        applies).
    random_state : int, RandomState instance or None, default=None
        Query sampling, negatives, held-out sample and ``init="random"``.
        The rows of ``max_samples`` are drawn before, by a generator of
        their own for an int seed, so that the seed gives the fit of
        ``X[sample_indices_]`` with it.
    n_jobs : int, default=None
        Threads for the neighbour searches and matrix products (None: as the
        BLAS and OpenMP libraries are configured; -1: all cores).
    verbose : int, default=0
        Progress on standard output, with the levels shared by every skembed
        estimator: 0 silent; 1 and above a line after each epoch,
        ``[NNPreservingReducer] epoch 3: loss ..., held-out recall@10 ...``
        ending with the seconds since ``fit`` began (an epoch has no chunks
        to report at level 2).
    objective : {"margin", "mpad"}, default="deprecated"
        Former name of ``method``; when given, it is used instead of
        ``method``.

        .. deprecated:: 0.1
           ``objective`` was renamed ``method`` in 0.1 and will be removed
           in 0.2.

    Attributes
    ----------
    components_ : ndarray of shape (`n_components_`, n_features)
        The map's rows: ``transform(X) = (X - mean_) @ components_.T``.
    n_components_ : int
        The output dimension: ``n_components``, or the default it resolved to.
    n_neighbors_ : int
        The k of the kept neighbourhoods: ``n_neighbors``, or its default.
    mean_ : ndarray of shape (n_features,)
        Mean of the (normalised) training data.
    n_iter_ : int
        Epochs run.
    recall_history_ : list of float
        Held-out recall@k of the start and after each epoch.
    sample_indices_ : ndarray of int of shape (max_samples,) or None
        The rows the map was learnt from, sorted, when ``max_samples`` drew
        a sample; None when every row was used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The variance-preserving baseline.
    skembed.utils.estimate_fit_memory : The memory a fit needs.
    skembed.metrics.knn_recall : The measure of kept neighbours.

    Notes
    -----
    Memory: ``fit`` needs about 4 float64 copies of X and 400 floats per
    row (the neighbour lists and their distances; ``"mpad"``: 3 copies, 12
    d x d matrices, 100 floats per row and 3 x 100 ``n_negatives`` pair
    differences of d floats), checked before any work. Fit on
    a sample of the rows when the table is large (``max_samples``): the
    learnt map applies to every row, and :meth:`transform` takes a dask
    array.

    **Dask arrays.** ``fit`` takes a :class:`dask.array.Array` of any row
    chunking: shape and dtype are checked from its metadata,
    ``max_samples`` rows (20,000 by default) are gathered into memory in
    one compute that also checks every block for NaN and infinity (each
    block read once), and the map is fitted on them in memory, as
    ``fit(X[sample_indices_])`` fits it. Nothing else reads the array.
    ``transform`` on a dask array is lazy and blockwise.

    References
    ----------
    .. [1] J. Fu, D. Zhao. "MPAD: A new dimension-reduction method for
       preserving nearest neighbors in high-dimensional vector search" (QPAD
       in its second version), 2025.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed import NNPreservingReducer
    >>> X = np.random.RandomState(0).normal(size=(300, 20))
    >>> reducer = NNPreservingReducer(n_components=5, max_iter=2, random_state=0)
    >>> reducer.fit_transform(X).shape
    (300, 5)
    """

    #: fit reads a random sample of a dask array's rows; transform is blockwise.
    _dask_methods = frozenset({"fit", "transform"})
    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "method": [StrOptions({"margin", "mpad"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "init": [StrOptions({"pca", "random"})],
        "orthogonality": [Interval(Real, 0, None, closed="left")],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "tail_fraction": [Interval(Real, 0, 1, closed="right")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_queries": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                        None],
        "random_state": ["random_state"],
        "n_jobs": N_JOBS_CONSTRAINT,
        "verbose": ["verbose"],
        # "deprecated" is the default that tells an unset objective apart;
        # hidden so that error messages list only the real choices.
        "objective": [StrOptions({"margin", "mpad"}), Hidden(StrOptions({"deprecated"}))],
    }

    def __init__(
        self,
        n_components=None,
        *,
        n_neighbors=None,
        method="margin",
        metric="euclidean",
        init="pca",
        orthogonality=1.0,
        n_negatives=50,
        temperature=0.5,
        tail_fraction=0.1,
        learning_rate=1e-3,
        max_iter=8,
        batch_size=BATCH_SIZE,
        max_queries=20_000,
        tol=1e-4,
        max_samples="auto",
        random_state=None,
        n_jobs=None,
        verbose=0,
        objective="deprecated",
    ):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.method = method
        self.metric = metric
        self.init = init
        self.orthogonality = orthogonality
        self.n_negatives = n_negatives
        self.temperature = temperature
        self.tail_fraction = tail_fraction
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.max_queries = max_queries
        self.tol = tol
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.objective = objective

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit (see the class docstring's Notes).

        An in-memory X of more rows than ``max_samples`` (an int) is fitted
        on a copy of its sample.
        """
        n_fit = self._n_fit_rows(n_samples, on_dask=False)
        sample = n_fit * n_features if n_fit < n_samples else 0
        method = self.method if self.objective == "deprecated" else self.objective
        if method == "mpad":
            # The pair differences of a step (100 n_negatives pairs) and their copies.
            pairs = 100 * self.n_negatives
            return float_bytes(3 * n_fit * n_features, 3 * pairs * n_features,
                               12 * n_features**2, 100 * n_fit, sample)
        return float_bytes(4 * n_fit * n_features, 400 * n_fit, sample)

    def _memory_advice(self, n_samples, n_features):
        return ("Fit on a random sample of the rows, with a smaller max_samples (the map "
                "it learns applies to every row: transform takes a dask array of any size).")

    def _min_fit_samples(self):
        # k neighbours need k + 1 points; n_components axes need as many rows
        # (the default adapts to the rows there are).
        return max((self.n_neighbors or 1) + 1, self.n_components or 1, 2)

    def _resolve_n_neighbors(self, n_samples):
        if self.n_neighbors is not None:
            return self.n_neighbors
        return max(1, min(DEFAULT_N_NEIGHBORS, n_samples - 1))

    def _resolve_n_components(self, n_samples, n_features):
        if self.n_components is not None:
            return self.n_components
        return max(1, min(DEFAULT_MAX_COMPONENTS, n_features // 2, n_samples))

    def _prepare(self, X):
        if self._fitted_param("metric") == "cosine":
            # normalize_rows puts each row in a power of two of its own size
            # first (exact), so its squared norm neither overflows nor underflows.
            X = normalize_rows(X)
        return X

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the map from the neighbourhoods of X.

        With more rows than ``max_samples`` allows, the map is learnt from
        ``max_samples`` of them drawn at random (``sample_indices_``).

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Training data (e.g. the vectors of the collection to search). A
            dask array is read once, in one compute: the sampled rows are
            gathered into memory and every block is checked for NaN and
            infinity.
        y : None
            Ignored.

        Returns
        -------
        self : NNPreservingReducer
            The fitted reducer.
        """
        X = self._validate_X(X, reset=True)
        method = self.method
        if self.objective != "deprecated":
            warnings.warn(
                "NNPreservingReducer: the parameter 'objective' was renamed 'method' "
                "in 0.1 and will be removed in 0.2; use "
                f"method={self.objective!r}.",
                FutureWarning,
                stacklevel=user_stacklevel(),  # the user's call, past any wrapper
            )
            method = self.objective
        n_rows = X.shape[0]
        n_fit = self._n_fit_rows(n_rows, on_dask=is_dask_array(X))
        # From the shape alone, before a dask array's sample is read.
        self._check_n_components(n_fit, X.shape[1])
        indices = self._fit_sample_indices(
            n_rows, n_fit, needed=self._min_fit_samples(),
            needs=f"n_neighbors={self.n_neighbors!r} and n_components="
                  f"{self.n_components!r} need")
        if is_dask_array(X):
            X = read_rows(X, indices)  # every block read once, and checked
        elif indices is not None:
            X = X[indices]
        limits = None if self.n_jobs is None or self.n_jobs < 0 else self.n_jobs
        with threadpool_limits(limits=limits), self._named_errors("fit"):
            self._fit(X, method)
        self.sample_indices_ = indices
        return self

    def _check_n_components(self, n_samples, n_features):
        """The output dimension for this shape, which must be below n_features."""
        n_components = self._resolve_n_components(n_samples, n_features)
        if n_components >= n_features:
            raise ValueError(
                f"NNPreservingReducer.fit: n_components={n_components} must be "
                f"smaller than n_features={n_features}. Pass a smaller n_components "
                "(a reduction needs at least 2 features)."
            )
        return n_components

    def _dask_max_samples(self):
        return DASK_MAX_SAMPLES

    def _fit(self, X, method):
        progress = ProgressLog(self, self.verbose)
        n_samples, n_features = X.shape
        self.n_components_ = self._check_n_components(n_samples, n_features)
        self.n_neighbors_ = self._resolve_n_neighbors(n_samples)
        rng = check_random_state(self.random_state)
        data = self._prepare(X).astype(np.float64, copy=False)
        # Neighbours, the PCA start and the margin loss do not depend on the
        # units of X, but squared distances overflow from about 1e154 and
        # underflow below 1e-154: the fit runs on the data divided by a power
        # of two, which is exact (ordinary data keep their bits). The map W
        # is unit-free, and mean_ is given back in the units of X.
        unit = power_of_two_unit(data)
        scaled = data / unit
        scaled_mean = scaled.mean(axis=0)
        self.mean_ = scaled_mean * unit
        centred = scaled - scaled_mean

        W = self._initial_map(centred, rng)
        held_out = rng.choice(n_samples, size=min(n_samples, 1000), replace=False)
        truth_held_out = exact_kneighbors(
            centred, self.n_neighbors_, queries=held_out, return_distance=False
        )
        best_W, best_recall = W.copy(), _recall(centred, W, held_out, truth_held_out)
        self.recall_history_ = [best_recall]

        fit_method = self._fit_margin if method == "margin" else self._fit_mpad
        epochs = fit_method(centred, W, rng, held_out, truth_held_out, progress)
        for W_epoch, recall in epochs:
            if recall > best_recall:
                best_W, best_recall = W_epoch.copy(), recall
        self.n_iter_ = len(self.recall_history_) - 1
        self.components_ = np.ascontiguousarray(best_W.T)
        self._n_features_out = self.n_components_
        return self

    def _initial_map(self, centred, rng):
        if self.init == "pca":
            pca = PCA(n_components=self.n_components_, random_state=rng).fit(centred)
            return pca.components_.T.copy()
        gaussian = rng.standard_normal((centred.shape[1], self.n_components_))
        return np.linalg.qr(gaussian)[0]

    def _epochs(self, run_epoch, centred, W, held_out, truth_held_out, progress):
        """Run epochs, yielding (W, held-out recall).

        Stops after ``max_iter`` epochs, or when the best held-out recall has
        not grown by ``tol`` for ``PATIENCE`` epochs in a row (single epochs
        of a stochastic objective may dip). Each epoch is a stage of
        ``progress`` (a ``ProgressLog``).
        """
        best, stale = self.recall_history_[-1], 0
        for epoch in range(self.max_iter):
            loss = run_epoch(W)
            recall = _recall(centred, W, held_out, truth_held_out)
            self.recall_history_.append(recall)
            progress.stage(f"epoch {epoch + 1}: loss {loss:.4f}, "
                           f"held-out recall@{self.n_neighbors_} {recall:.4f}")
            yield W, recall
            if recall > best + self.tol:
                best, stale = recall, 0
            else:
                stale += 1
                if stale >= PATIENCE:
                    break

    def _fit_margin(self, centred, W, rng, held_out, truth_held_out, progress):
        n_samples = centred.shape[0]
        k = self.n_neighbors_
        # The queries: every point, or a fixed sample of max_queries of them on
        # large data; their exact neighbours among all points are found once.
        queries = np.arange(n_samples)
        if n_samples > self.max_queries:
            queries = np.sort(rng.choice(n_samples, self.max_queries, replace=False))
        true_neighbours = exact_kneighbors(centred, k, queries=queries, return_distance=False)
        projected = centred @ W
        neighbour_distances = np.sum(
            (projected[queries, None] - projected[true_neighbours]) ** 2, axis=-1
        )
        temperature = self.temperature * _typical_distance(neighbour_distances, projected)
        n_hard = min(self.n_negatives, n_samples - 1)
        optimizer = Adam([W.shape], self.learning_rate)

        def run_epoch(W):
            hard = exact_kneighbors(centred @ W, n_hard, queries=queries, return_distance=False)
            random = rng.randint(0, n_samples, size=(len(queries), 20))
            candidates = np.concatenate([true_neighbours, hard, random], axis=1)
            is_neighbour = np.zeros(candidates.shape, dtype=bool)
            is_neighbour[:, :k] = True
            valid = np.ones(candidates.shape, dtype=bool)
            extra = candidates[:, k:]
            valid[:, k:] = ~(
                (extra[:, :, None] == true_neighbours[:, None, :]).any(axis=2)
                | (extra == queries[:, None])
            )
            losses = []
            # An epoch is a pass over the queries, and at least MIN_STEPS steps
            # (small data would otherwise get a handful of steps per epoch).
            n_steps = max(MIN_STEPS, len(queries) // self.batch_size)
            order = np.concatenate(
                [rng.permutation(len(queries)) for _ in range(-(-n_steps * self.batch_size // len(queries)))]
            )
            for batch in np.array_split(order[: n_steps * self.batch_size], n_steps):
                loss, gradient = margin_loss_and_gradient(
                    W, centred, queries[batch], candidates[batch], is_neighbour[batch],
                    temperature, valid[batch],
                )
                penalty, penalty_gradient = orthogonality_penalty(W, self.orthogonality)
                optimizer.update([W], [gradient + penalty_gradient])
                W /= np.linalg.norm(W, axis=0)  # unit directions, as in MPAD
                losses.append(loss + penalty)
            return float(np.mean(losses))

        return self._epochs(run_epoch, centred, W, held_out, truth_held_out, progress)

    def _fit_mpad(self, centred, W, rng, held_out, truth_held_out, progress):
        n_samples = centred.shape[0]
        # The gaps are in the units of X and the orthogonality penalty is
        # unit-free: measured in units of the points' root mean square norm
        # (about their distance to the mean), the balance between them, the
        # steps and so the map are the same for X and any multiple of it.
        rms = root_mean_square_norm(centred)
        gaps_in_units = centred / rms if rms > 0 else centred
        W /= np.linalg.norm(W, axis=0)
        optimizer = Adam([W.shape], self.learning_rate)
        n_pairs = 100 * self.n_negatives

        def run_epoch(W):
            objectives = []
            for _ in range(100):
                first = rng.randint(0, n_samples, n_pairs)
                second = rng.randint(0, n_samples, n_pairs)
                keep = first != second
                differences = gaps_in_units[first[keep]] - gaps_in_units[second[keep]]
                objective, gradient = mpad_objective_and_gradient(
                    W, differences, self.tail_fraction, self.orthogonality
                )
                optimizer.update([W], [-gradient])  # ascent
                W /= np.linalg.norm(W, axis=0)
                objectives.append(objective)
            return -float(np.mean(objectives))

        return self._epochs(run_epoch, centred, W, held_out, truth_held_out, progress)

    def transform(self, X):
        """Project X: ``(X - mean_) @ components_.T`` (rows normalised first for cosine).

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            Data to reduce.

        Returns
        -------
        X_reduced : ndarray of shape (n_samples, `n_components_`)
            In X's dtype; a lazy dask array of X's row chunks when X is one.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if is_dask_array(X):
            return self._transform_lazily(X, self._prepare_and_reduce)
        return self._prepare_and_reduce(X)

    def _prepare_and_reduce(self, X):
        return self._reduce(self._prepare(X))

    def _reduce(self, prepared):
        """The map on validated, normalised rows: one product, in their dtype."""
        dtype = prepared.dtype
        reduced = prepared @ self.components_.T.astype(dtype)
        reduced -= (self.mean_ @ self.components_.T).astype(dtype)
        return reduced

    def score(self, X, y=None):
        """Recall@k of the k nearest neighbours of X kept by the transform.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data whose neighbourhoods are compared (each row against the
            others).
        y : None
            Ignored.

        Returns
        -------
        recall : float
            :func:`skembed.metrics.knn_recall` between X and its transform.
        """
        from ..metrics import knn_recall

        check_is_fitted(self)
        prepared = self._prepare(self._validate_X(X, reset=False, method="score"))
        reduced = self._reduce(prepared)
        # Neighbours do not change when a space is divided by a number; a
        # power of two keeps the squared distances in range (exactly).
        # The fit's k; with the default, at most the rows scored here allow.
        k = self.n_neighbors_ if self.n_neighbors is not None else min(
            self.n_neighbors_, max(1, prepared.shape[0] - 1))
        return knn_recall(prepared / power_of_two_unit(prepared),
                          reduced / power_of_two_unit(reduced), n_neighbors=k)


def _typical_distance(neighbour_distances, projected):
    """The median reduced squared distance to a true neighbour, never 0.

    The temperature is a fraction of it, so it is in the units of the data
    whatever they are. When most neighbours coincide in the reduced space
    (duplicated points), the median of the positive distances stands in; when
    all do, the mean squared norm of the projection; 1 for all-zero data.
    """
    typical = float(np.median(neighbour_distances))
    if typical > 0:
        return typical
    positive = neighbour_distances[neighbour_distances > 0]
    if positive.size:
        return float(np.median(positive))
    return mean_squared_norm(projected) or 1.0


def _recall(centred, W, queries, truth):
    """Recall@k of ``truth`` (true neighbours of ``queries``) under the map W."""
    found = exact_kneighbors(centred @ W, truth.shape[1], queries=queries, return_distance=False)
    return neighbour_overlap(found, truth)
