"""SubspaceClusterer: self-expressive subspace clustering with out-of-sample predict."""

import time
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ..base import ValidationMixin
from ..utils._compat import Interval, StrOptions, fit_context
from ._collaborative import collaborative_labels, ridge_map
from ._ensc import ensc_candidates_chunk, ensc_chunk
from ._lrr import lrr_ialm
from ._lsr import lsr_coefficients
from ._omp import omp_chunk
from ._spectral import (
    affinity_from_representation,
    estimate_n_clusters,
    spectral_labels,
)
from ._ssc import ssc_admm
from ._tsc import tsc_neighbors, tsc_weights

METHODS = ("ensc", "ssc", "omp", "lsr", "lrr", "tsc")
#: Methods that represent each point by a few others (memory O(n n_nonzero)).
SPARSE_METHODS = ("ensc", "omp", "tsc")
#: Methods that solve for the dense n x n representation at once.
DENSE_METHODS = ("ssc", "lsr", "lrr")
DEFAULT_GAMMA = {"ensc": 100.0, "ssc": 20.0, "lsr": 100.0, "lrr": 1.0}
DEFAULT_TAU = 0.9
DEFAULT_N_NONZERO = {"ensc": 50, "omp": 10}
AFFINE_METHODS = ("ssc", "omp", "lsr")
#: Share of a cluster's energy kept by its subspace basis (used by predict).
#: 0.99, not 0.95: face subspaces have a long spectral tail. Built from the
#: true clusters of 20% of Extended Yale B, the residual rule labels 79.4% of
#: the rest correctly at 0.99 (``benchmarks/cluster.py --part predict``); on
#: an earlier 482-face sample, 79.5% at 0.99 against 66.5% at 0.95 (the
#: superseded predict section of benchmarks/RESULTS.md).
BASIS_ENERGY = 0.99
#: Ridge weight of out_of_sample="collaborative", relative to the mean squared
#: norm of the fitted points. Built from the true clusters of 20% of Extended
#: Yale B, the rule labels the other faces 86.0%, 93.1%, 93.6%, 90.2% and 82.0%
#: right at 1e-4, 1e-3, 1e-2, 0.1 and 1
#: (``python benchmarks/cluster.py --part sample-settings``).
DEFAULT_COLLABORATIVE_ALPHA = 0.01
#: EnSC reads its products from the n x n Gram matrix up to this many points
#: (128 MB) when the points have more dimensions than the active support.
GRAM_LIMIT = 4096
#: Largest number of floats in a chunk's (points x n_samples) block.
CHUNK_FLOATS = 2**23
#: affinity="auto" takes the kNN graph up to this many points per cluster on
#: average (Extended Yale B has 64; make_subspaces with 200 per subspace
#: already splits under a 5-NN graph: 81% against 100% with "symmetric").
KNN_POINTS_PER_CLUSTER = 100
#: n_candidates="auto" restricts "ensc" and "omp" to candidates above this n.
CANDIDATES_ABOVE = 10_000
#: Points per fit whose candidate solution is checked against all points.
CANDIDATE_CHECKS = 500




class SubspaceClusterer(ValidationMixin, ClusterMixin, BaseEstimator):
    r"""Cluster points that lie near a union of linear (or affine) subspaces.

    Face images of one person under varying light, trajectories of one moving
    object, and many learned embeddings lie near a low-dimensional subspace
    per group; distances then mislead k-means and ordinary spectral
    clustering, but each point is well *expressed* by other points of its own
    subspace. Self-expressive subspace clustering therefore

    1. writes every point as a combination of the others,
       :math:`x_j \approx \sum_{i \ne j} c_{ji} x_i`, with a regulariser
       that favours points of the same subspace (the representation matrix
       :math:`C`, row j for point j);
    2. builds the affinity :math:`W = |\bar C| + |\bar C|^\top` (rows of
       :math:`C` scaled to unit norm), and clusters it spectrally: the
       eigenvectors of the normalised Laplacian, rows normalised to unit
       length (Ng, Jordan & Weiss), then k-means.

    Methods (step 1):

    ``"ensc"`` (default)
        Elastic net per point, :math:`\min_c \frac12 \|x_j - X^\top c\|^2 +
        \lambda(\tau \|c\|_1 + \frac{1-\tau}{2}\|c\|^2)`, with
        :math:`\lambda = \lambda_{\max} / \gamma` and
        :math:`\lambda_{\max} = \max_{i \ne j} |x_i^\top x_j| / \tau` (the
        smallest :math:`\lambda` giving :math:`c = 0`), solved exactly by
        the oracle-guided active-set method ORGEN [2]_ over a small support
        grown with the points that violate the optimality conditions.
        ``tau=1`` is the lasso of SSC; smaller ``tau`` connects more points of
        each subspace. Memory O(n ``n_nonzero``).
    ``"ssc"``
        Sparse subspace clustering [1]_: the lasso for all points at once by
        ADMM, :math:`\min \|C\|_1 + \frac{\lambda_z}{2}\|X - CX\|_F^2`,
        :math:`\lambda_z = \gamma / \mu_z`, optionally with a sparse error
        term for corrupted entries (``outlier_gamma``). Dense, for n up to a
        few thousand.
    ``"omp"``
        SSC by orthogonal matching pursuit [3]_: at most ``n_nonzero`` points
        per point chosen greedily, batched over points. The fastest sparse
        method.
    ``"lsr"``
        Least-squares regression [4]_, closed form with zero diagonal,
        :math:`\min \|X - CX\|_F^2 + \lambda \|C\|_F^2`,
        :math:`\lambda = \overline{\|x\|^2} / \gamma`. Dense.
    ``"lrr"``
        Low-rank representation [5]_, :math:`\min \|Z\|_* +
        \gamma\, \|E\|_{2,1} / \sqrt{\overline{\|x\|^2}}` (the root mean square
        norm) s.t. :math:`X^\top = X^\top Z + E`, by
        inexact ALM. Dense.
    ``"tsc"``
        Thresholding [6]_: each point linked to its ``n_nonzero`` points of
        largest absolute cosine, with weight :math:`e^{-2 \arccos |\cos|}`.

    Read more in the :doc:`User Guide </user_guide/cluster>`.

    Parameters
    ----------
    n_clusters : int or "auto", default=8
        Number of clusters (subspaces). ``"auto"`` takes the position of the
        largest eigengap of the normalised Laplacian.
    method : {"ensc", "ssc", "omp", "lsr", "lrr", "tsc"}, default="ensc"
        How each point is expressed by the others (see above).
    gamma : float, default=None
        Weight of the fit against the regulariser, larger is a closer fit
        with more nonzero coefficients (``"ensc"``, ``"ssc"``: must exceed 1;
        ``"lsr"``, ``"lrr"``: > 0). None uses 100 for ``"ensc"``, 20 for
        ``"ssc"``, 100 for ``"lsr"`` and 1 for ``"lrr"``. Not used by
        ``"omp"`` and ``"tsc"``.
    tau : float in (0, 1], default=None
        ``"ensc"`` only: share of the l1 norm in the elastic net. None is 0.9
        (1 is the lasso of SSC; the small ridge share links more points of
        each subspace: on Extended Yale B 93.4%, against 91.3% for
        ``tau=0.8`` and 84.7% for ``gamma=50, tau=1``).
    n_nonzero : int, default=None
        Most coefficients kept per point: for ``"omp"`` the number of greedy
        steps (default 10), for ``"tsc"`` the neighbours ``q`` (default
        ``max(3, n_samples // (20 n_clusters))``), for ``"ensc"`` the largest
        coefficients kept (default 50); for the dense methods, when given,
        only the largest ``n_nonzero`` coefficients of each row are kept.
    n_candidates : int, "auto" or None, default="auto"
        ``"ensc"`` and ``"omp"``: restrict each point's representation to its
        ``n_candidates`` points of largest ``|cos|`` (one exact kNN search),
        so the per-point work no longer grows with n. None searches all
        points (exact ORGEN / OMP); ``"auto"`` is None up to 10,000 points
        and above that 100 candidates for ``"ensc"`` (``2 n_nonzero`` if
        larger) and 200 for ``"omp"`` (``20 n_nonzero`` if larger).
    affine : bool, default=False
        Constrain each point's coefficients to sum to one (affine subspaces,
        e.g. motion segmentation): ``"ssc"``, ``"omp"`` and ``"lsr"``. The
        subspace bases used by :meth:`predict` are then centred on their
        cluster's mean.
    outlier_gamma : float, default=None
        ``"ssc"`` only: add the sparse error term of SSC for points with a few
        grossly corrupted entries, :math:`\min \|C\|_1 + \lambda_e \|E\|_1
        + \frac{\lambda_z}{2}\|X - CX - E\|_F^2` with :math:`\lambda_e =`
        ``outlier_gamma`` :math:`/ \max_j \|x_j\|_1` (> 0; larger calls
        fewer entries corrupted; the authors use 20). The errors found are
        ``outlying_entries_``; the subspace bases and the collaborative rule
        use the points without them. None leaves the term out.
    affinity : {"auto", "symmetric", "knn"}, default="auto"
        ``"symmetric"``: :math:`|\bar C| + |\bar C|^\top`. ``"knn"``: the
        symmetrised ``n_neighbors``-nearest-neighbour graph of the rows of
        :math:`|\bar C|`
        (points whose representations use the same points). ``"knn"`` suits
        few points per subspace (Extended Yale B, 64 per person: 93.4%
        against 63.7% for ``"symmetric"``); ``"symmetric"`` suits thousands
        of points per subspace, where a 5-neighbour graph splits a subspace
        into pieces (``"ensc"`` on 20,000 points of ``make_subspaces``: 97%
        against 81%), and the sparse representations of ``"omp"`` and
        ``"tsc"``, whose rows share too few points. ``"auto"``: ``"knn"``
        for ``"ensc"``, ``"ssc"``, ``"lsr"`` and ``"lrr"`` up to 10,000
        points and at most 100 points per cluster on average,
        ``"symmetric"`` otherwise and with ``n_clusters="auto"`` (whose
        eigengap the kNN graph blurs).
    n_neighbors : int, default=5
        Neighbours per point of the ``"knn"`` affinity (unused by
        ``"symmetric"``). Accuracy depends on it: ``"ensc"`` on Extended Yale
        B (64 faces per person) reaches 90.3%, 90.9%, 93.4%, 85.4% and 81.4%
        with 3, 4, 5, 6 and 8 neighbours. Fewer neighbours than the points' subspace
        dimension leave each cluster sparsely connected; more link clusters.
    out_of_sample : {"basis", "collaborative"}, default="basis"
        How :meth:`predict` labels new points. ``"basis"``: the cluster whose
        subspace basis (``subspace_bases_``) leaves the smallest residual,
        O(d dim) per point and cluster. ``"collaborative"``: the new point is
        expressed by a ridge combination of all fitted points and goes to the
        cluster whose points' share of it leaves the smallest residual for its
        size [7]_, O(n d) per point; it needs no subspace dimension, so it
        suits clusters with few points for their dimension (faces: fitted on
        20% of Extended Yale B, 13 per person, it labels the other 80% 93.6%
        right from the true clusters of the sample, where the bases reach
        79.4%). Not with ``affine=True``.
    collaborative_alpha : float, default=None
        Ridge weight of ``out_of_sample="collaborative"``, relative to the
        mean squared norm of the fitted points (> 0). None is 0.01.
    n_init : int, default=20
        k-means restarts in the spectral step.
    max_iter : int, default=None
        Steps of the iterative solvers of the dense methods: ADMM for
        ``"ssc"`` (None: 200) and inexact ALM for ``"lrr"`` (None: 300). A
        ``ConvergenceWarning`` says when they stop before their tolerance.
    random_state : int, RandomState instance or None, default=None
        Eigensolver start and k-means seeds.
    n_jobs : int, default=None
        Parallel jobs over chunks of points for ``"ensc"`` and ``"omp"``
        (``sklearn.utils.parallel``, so a joblib backend such as dask
        applies).
    verbose : int, default=0
        Print the time of each stage when positive.

    Attributes
    ----------
    labels_ : ndarray of int of shape (n_samples,)
        Cluster of each training point.
    representation_matrix_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The coefficients :math:`C`; row j expresses point j; at most
        ``n_nonzero`` entries per row for the sparse methods.
    affinity_matrix_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The symmetric affinity clustered in the spectral step.
    n_clusters_ : int
        Number of clusters found (``n_clusters`` unless ``"auto"``).
    subspace_bases_ : list of ndarray of shape (n_features, dim_k)
        Orthonormal basis of each cluster's subspace: the leading right
        singular vectors of its points (centred when ``affine``) that carry
        99% of their energy.
    subspace_offsets_ : ndarray of shape (`n_clusters_`, n_features)
        Each cluster's mean when ``affine``, zeros otherwise.
    outlying_entries_ : scipy.sparse.csr_matrix of shape (n_samples, n_features) or None
        The sparse errors :math:`E` of ``"ssc"`` with ``outlier_gamma``
        (row j for point j); None otherwise.
    candidate_violation_rate_ : float or None
        With candidates and ``"ensc"``: share of a random sample of 500
        points whose restricted solution violates the optimality conditions
        over all points. None otherwise.
    n_iter_ : int
        ORGEN rounds (``"ensc"``, the largest over points), greedy steps
        (``"omp"``), ADMM (``"ssc"``) or ALM (``"lrr"``) iterations; 1 for
        the closed forms (``"lsr"``, ``"tsc"``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.cluster.SpectralClustering : Spectral clustering of a
        distance-based affinity (without the row normalisation).
    skembed.metrics.clustering_accuracy : Accuracy under the best matching
        of clusters to classes.

    Notes
    -----
    Above 4,096 points the sparse methods never build an n x n dense matrix:
    per-point work runs over chunks of points (one block product against all
    points per round), the affinity is sparse and the eigenvectors come from
    ``eigsh``, so memory stays O(n ``n_nonzero``) beside the data. Below that,
    ``"ensc"`` reads products from the n x n Gram matrix when the points have
    more than 100 dimensions (at most 128 MB), and the spectral step
    decomposes a dense Laplacian up to 1,000 points. The dense methods (``"ssc"``,
    ``"lsr"``, ``"lrr"``) hold n x n matrices and suit n up to a few
    thousand.

    :meth:`predict` assigns a new point to the cluster whose subspace leaves
    the smallest residual, :math:`\min_k \|(I - U_k U_k^\top)(x - o_k)\|`:
    fit on a sample of a large set, then label the rest at O(d dim) per
    point and cluster. With ``out_of_sample="collaborative"`` it writes the
    point as :math:`c = (X X^\top + \lambda I)^{-1} X x` over the fitted
    points :math:`X` and takes :math:`\min_k \|x - X_k^\top c_k\| / \|c_k\|`
    (see ``skembed/cluster/_collaborative.py``).

    References
    ----------
    .. [1] E. Elhamifar, R. Vidal. "Sparse subspace clustering: algorithm,
       theory, and applications." IEEE TPAMI 35(11), 2013.
    .. [2] C. You, C.-G. Li, D. P. Robinson, R. Vidal. "Oracle based active
       set algorithm for scalable elastic net subspace clustering." CVPR
       2016.
    .. [3] C. You, D. P. Robinson, R. Vidal. "Scalable sparse subspace
       clustering by orthogonal matching pursuit." CVPR 2016.
    .. [4] C.-Y. Lu, H. Min, Z.-Q. Zhao, L. Zhu, D.-S. Huang, S. Yan. "Robust
       and efficient subspace segmentation via least squares regression."
       ECCV 2012.
    .. [5] G. Liu, Z. Lin, S. Yan, J. Sun, Y. Yu, Y. Ma. "Robust recovery of
       subspace structures by low-rank representation." IEEE TPAMI 35(1),
       2013.
    .. [6] R. Heckel, H. Bolcskei. "Robust subspace clustering via
       thresholding." IEEE Trans. Inf. Theory 61(11), 2015.
    .. [7] L. Zhang, M. Yang, X. Feng. "Sparse representation or collaborative
       representation: which helps face recognition?" ICCV 2011.

    Examples
    --------
    >>> from skembed.cluster import SubspaceClusterer
    >>> from skembed.datasets import make_subspaces
    >>> from skembed.metrics import clustering_accuracy
    >>> X, y = make_subspaces(n_samples=300, n_features=20, n_subspaces=3,
    ...                       subspace_dim=3, noise=0.01, random_state=0)
    >>> model = SubspaceClusterer(n_clusters=3, random_state=0).fit(X)
    >>> clustering_accuracy(y, model.labels_)
    1.0
    >>> model.representation_matrix_.shape
    (300, 300)
    >>> bool((model.predict(X) == model.labels_).all())
    True
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions(set(METHODS))],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "tau": [Interval(Real, 0, 1, closed="right"), None],
        "n_nonzero": [Interval(Integral, 1, None, closed="left"), None],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "affine": ["boolean"],
        "outlier_gamma": [Interval(Real, 0, None, closed="neither"), None],
        "affinity": [StrOptions({"auto", "symmetric", "knn"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "out_of_sample": [StrOptions({"basis", "collaborative"})],
        "collaborative_alpha": [Interval(Real, 0, None, closed="neither"), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, None, -1, closed="right"),
                   Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        method="ensc",
        gamma=None,
        tau=None,
        n_nonzero=None,
        n_candidates="auto",
        affine=False,
        outlier_gamma=None,
        affinity="auto",
        n_neighbors=5,
        out_of_sample="basis",
        collaborative_alpha=None,
        n_init=20,
        max_iter=None,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.method = method
        self.gamma = gamma
        self.tau = tau
        self.n_nonzero = n_nonzero
        self.n_candidates = n_candidates
        self.affine = affine
        self.outlier_gamma = outlier_gamma
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.out_of_sample = out_of_sample
        self.collaborative_alpha = collaborative_alpha
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _min_fit_samples(self):
        # Each point must be expressed by at least one other point of its
        # own subspace: two points per expected subspace at the very least.
        if self.n_clusters == "auto":
            return 3
        return max(2, 2 * self.n_clusters)

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The points.
        y : None
            Ignored.

        Returns
        -------
        self : SubspaceClusterer
            The fitted clusterer.
        """
        self._check_options()
        try:
            X = self._validate_X(X, reset=True)
        except ValueError as exc:
            if "minimum of" in str(exc) and self.n_clusters != "auto":
                raise ValueError(
                    f"{exc} n_clusters={self.n_clusters} needs at least 2 points per "
                    "expected subspace (each point is expressed by others of its own "
                    "subspace): pass more rows or a smaller n_clusters."
                ) from None
            raise
        data = np.asarray(X, dtype=np.float64)
        rng = check_random_state(self.random_state)

        start = time.perf_counter()
        self.candidate_violation_rate_ = None
        self.outlying_entries_ = None
        C, self.n_iter_ = self._representation(data)
        self.representation_matrix_ = C
        self._log("representation", start)

        start = time.perf_counter()
        self.affinity_matrix_ = affinity_from_representation(
            C, self._affinity_kind(data.shape[0]), min(self.n_neighbors, data.shape[0] - 1)
        )
        if self.n_clusters == "auto":
            max_clusters = max(1, min(data.shape[0] // 2, 64))
            self.n_clusters_ = estimate_n_clusters(self.affinity_matrix_, max_clusters, rng)
        else:
            self.n_clusters_ = int(self.n_clusters)
        labels = spectral_labels(
            self.affinity_matrix_, self.n_clusters_, n_init=self.n_init, random_state=rng
        )
        self.labels_ = _relabel_by_first_appearance(labels)
        self._log("spectral step", start)

        if self.outlying_entries_ is not None:
            # The subspaces hold the points without their corrupted entries.
            data = data - self.outlying_entries_.toarray()
        self.subspace_bases_, self.subspace_offsets_ = self._fit_bases(data, self.labels_)
        # The fitted points are kept only for the rule that needs them.
        self._collaborative = None
        if self.out_of_sample == "collaborative":
            self._fit_collaborative(data)
        return self

    def _log(self, stage, start):
        if self.verbose:
            print(f"SubspaceClusterer: {stage} in {time.perf_counter() - start:.2f} s")

    def _check_options(self):
        method = self.method
        if self.tau is not None and method != "ensc":
            raise ValueError(
                f"SubspaceClusterer: tau is the l1 share of the elastic net of "
                f"method='ensc', not used by method={method!r}. Leave tau=None or "
                "use method='ensc'."
            )
        if self.gamma is not None and method in ("omp", "tsc"):
            raise ValueError(
                f"SubspaceClusterer: method={method!r} has no gamma; its sparsity is "
                "set by n_nonzero. Leave gamma=None."
            )
        if self.gamma is not None and method in ("ensc", "ssc") and self.gamma <= 1:
            raise ValueError(
                f"SubspaceClusterer: gamma={self.gamma} gives the zero representation "
                f"for method={method!r} (lambda would be at least lambda_max). Pass "
                "gamma > 1, e.g. 50."
            )
        if self.affine and method not in AFFINE_METHODS:
            raise ValueError(
                f"SubspaceClusterer: affine=True is supported by methods "
                f"{', '.join(map(repr, AFFINE_METHODS))}, not method={method!r}. Use one "
                "of those, or affine=False."
            )
        if self.outlier_gamma is not None and method != "ssc":
            raise ValueError(
                f"SubspaceClusterer: outlier_gamma weighs the sparse error term of "
                f"method='ssc', not used by method={method!r}. Leave outlier_gamma=None "
                "or use method='ssc'."
            )
        if self.out_of_sample == "collaborative" and self.affine:
            raise ValueError(
                "SubspaceClusterer: out_of_sample='collaborative' expresses new points "
                "by a linear combination of the fitted points and has no affine form. "
                "Use out_of_sample='basis' (bases centred on each cluster's mean) with "
                "affine=True."
            )
        if self.collaborative_alpha is not None and self.out_of_sample != "collaborative":
            raise ValueError(
                "SubspaceClusterer: collaborative_alpha is the ridge weight of "
                "out_of_sample='collaborative', not used by out_of_sample='basis'. "
                "Leave collaborative_alpha=None or set out_of_sample='collaborative'."
            )

    def _chunks(self, n_samples):
        size = max(1, min(1024, CHUNK_FLOATS // n_samples))
        n_jobs = self.n_jobs if self.n_jobs is not None else 1
        n_jobs = n_jobs if n_jobs > 0 else 8
        if n_jobs > 1:  # enough chunks to balance the workers
            size = max(1, min(size, -(-n_samples // (4 * n_jobs))))
        return [np.arange(start, min(start + size, n_samples))
                for start in range(0, n_samples, size)]

    def _representation(self, X):
        """The representation matrix (CSR) and the iteration count."""
        method = self.method
        n_samples = X.shape[0]
        gamma = self.gamma if self.gamma is not None else DEFAULT_GAMMA.get(method)
        if method in ("ensc", "omp"):
            n_nonzero = self.n_nonzero or DEFAULT_N_NONZERO[method]
            n_nonzero = min(n_nonzero, n_samples - 1)
            n_candidates = self._n_candidates(n_samples, n_nonzero)
            if n_candidates is not None:
                return self._candidate_representation(X, n_candidates, n_nonzero, gamma)
            if method == "ensc":
                tau = self.tau if self.tau is not None else DEFAULT_TAU
                solve = delayed(ensc_chunk)
                support_size = max(100, 2 * n_nonzero)
                options = dict(gamma=gamma, tau=tau, n_nonzero=n_nonzero,
                               support_size=support_size)
                if n_samples <= GRAM_LIMIT and X.shape[1] > support_size:
                    # Few points in many dimensions: products from the Gram matrix.
                    options["gram"] = X @ X.T
            else:
                solve = delayed(omp_chunk)
                options = dict(n_nonzero=n_nonzero, affine=self.affine)
            chunks = self._chunks(n_samples)
            results = Parallel(n_jobs=self.n_jobs, verbose=max(0, self.verbose - 1))(
                solve(X, rows, **options) for rows in chunks
            )
            counts = np.concatenate([r[0] for r in results])
            indptr = np.concatenate([[0], np.cumsum(counts)])
            C = sparse.csr_matrix(
                (np.concatenate([r[2] for r in results]),
                 np.concatenate([r[1] for r in results]), indptr),
                shape=(n_samples, n_samples),
            )
            n_iter = max(r[3] for r in results)
        elif method == "tsc":
            default_q = max(3, n_samples // (20 * self._cluster_guess()))
            q = min(self.n_nonzero or default_q, n_samples - 1)
            # An all-zero row has no angle to anything: it gets no neighbours
            # (an isolated node of the graph) and is searched around.
            nonzero = np.flatnonzero(np.any(X != 0, axis=1))
            q = min(q, max(nonzero.size - 1, 0))
            C = sparse.csr_matrix((n_samples, n_samples))
            if q > 0:
                indices, abs_cos = tsc_neighbors(X[nonzero], n_neighbors=q)
                C = sparse.coo_matrix(
                    (tsc_weights(abs_cos).ravel(), (np.repeat(nonzero, q),
                                                   nonzero[indices.ravel()])),
                    shape=(n_samples, n_samples),
                ).tocsr()
            C.sum_duplicates()
            n_iter = 1
        else:
            if method == "ssc":
                dense, errors, n_iter = ssc_admm(
                    X, alpha=gamma, affine=self.affine, outlier_alpha=self.outlier_gamma,
                    **self._max_iter_option())
                if errors is not None:
                    self.outlying_entries_ = sparse.csr_matrix(errors)
            elif method == "lsr":
                lam = _mean_squared_norm(X) / gamma
                dense, n_iter = lsr_coefficients(X, lam=lam, affine=self.affine), 1
            else:
                scale = np.sqrt(_mean_squared_norm(X))
                dense, n_iter = lrr_ialm(X, lam=gamma / scale, **self._max_iter_option())
            if self.n_nonzero is not None:
                dense = _keep_largest(dense, min(self.n_nonzero, n_samples - 1))
            C = sparse.csr_matrix(dense)
        C.eliminate_zeros()
        return C, int(n_iter)

    def _max_iter_option(self):
        return {} if self.max_iter is None else {"max_iter": self.max_iter}

    def _affinity_kind(self, n_samples):
        if self.affinity != "auto":
            return self.affinity
        # The kNN graph has many small eigenvalues besides the k zeros, which
        # hides the eigengap that n_clusters="auto" reads.
        dense_rows = self.method in ("ensc", "ssc", "lsr", "lrr") and self.n_clusters != "auto"
        # A 5-NN graph splits a subspace holding many points into pieces.
        few_per_cluster = dense_rows and n_samples <= KNN_POINTS_PER_CLUSTER * self.n_clusters
        return "knn" if few_per_cluster and n_samples <= CANDIDATES_ABOVE else "symmetric"

    def _n_candidates(self, n_samples, n_nonzero):
        """Candidates per point for "ensc"/"omp", or None for the full search."""
        if self.n_candidates is None:
            return None
        if self.n_candidates == "auto":
            if n_samples <= CANDIDATES_ABOVE:
                return None
            wanted = max(100, 2 * n_nonzero) if self.method == "ensc" else max(200, 20 * n_nonzero)
        else:
            wanted = self.n_candidates
        return max(1, min(wanted, n_samples - 1))

    def _candidate_representation(self, X, n_candidates, n_nonzero, gamma):
        """"ensc"/"omp" restricted to each point's candidates (large n).

        The candidates are each point's ``n_candidates`` points of largest
        ``|cos|``, found once by skembed's exact kNN search (as for ``"tsc"``:
        scikit-learn's blocked engine, memory O(n M)); the per-point solvers
        then never touch the other points. For ``"ensc"``, a random sample of
        points is checked against all points (the full ORGEN oracle test);
        ``candidate_violation_rate_`` reports the share of the sample whose
        restricted solution is not the solution over all points (the
        restricted one is kept: see :func:`ensc_candidates_chunk`).
        """
        n_samples = X.shape[0]
        start = time.perf_counter()
        nonzero = np.flatnonzero(np.any(X != 0, axis=1))
        m = min(n_candidates, max(nonzero.size - 1, 1))
        candidates = np.empty((n_samples, m), dtype=np.intp)
        # An all-zero row has no angle: its coefficients are 0 whatever its
        # candidates, so it takes the first rows that are not itself.
        candidates[:] = np.arange(1, m + 1)[None, :]
        if nonzero.size > 1:
            indices, _ = tsc_neighbors(X[nonzero], n_neighbors=m)
            candidates[nonzero] = nonzero[indices]
        self._log(f"{m} candidates per point", start)

        size = max(1, min(1024, 2**22 // (m * max(X.shape[1], 1))))
        chunks = [np.arange(s, min(s + size, n_samples)) for s in range(0, n_samples, size)]
        if self.method == "ensc":
            tau = self.tau if self.tau is not None else DEFAULT_TAU
            rng = check_random_state(self.random_state)
            check = np.zeros(n_samples, dtype=bool)
            check[rng.choice(n_samples, min(CANDIDATE_CHECKS, n_samples), replace=False)] = True
            results = Parallel(n_jobs=self.n_jobs, verbose=max(0, self.verbose - 1))(
                delayed(ensc_candidates_chunk)(
                    X, rows, candidates[rows], gamma=gamma, tau=tau, n_nonzero=n_nonzero,
                    check=check[rows])
                for rows in chunks
            )
            checked = sum(r[4] for r in results)
            self.candidate_violation_rate_ = sum(r[5] for r in results) / max(checked, 1)
        else:
            results = Parallel(n_jobs=self.n_jobs, verbose=max(0, self.verbose - 1))(
                delayed(omp_chunk)(X, rows, n_nonzero=n_nonzero, affine=self.affine,
                                   candidates=candidates[rows])
                for rows in chunks
            )
        counts = np.concatenate([r[0] for r in results])
        indptr = np.concatenate([[0], np.cumsum(counts)])
        C = sparse.csr_matrix(
            (np.concatenate([r[2] for r in results]),
             np.concatenate([r[1] for r in results]), indptr),
            shape=(n_samples, n_samples),
        )
        C.eliminate_zeros()
        return C, int(max(r[3] for r in results))

    def _cluster_guess(self):
        return 1 if self.n_clusters == "auto" else self.n_clusters

    def _fit_bases(self, X, labels):
        """Orthonormal basis (99% of the energy) and offset of each cluster."""
        bases = []
        offsets = np.zeros((self.n_clusters_, X.shape[1]))
        for k in range(self.n_clusters_):
            members = X[labels == k]
            if self.affine and len(members):
                offsets[k] = members.mean(axis=0)
            members = members - offsets[k]
            if len(members) == 0:
                bases.append(np.zeros((X.shape[1], 0)))
                continue
            _, singular, vt = np.linalg.svd(members, full_matrices=False)
            energy = np.cumsum(singular**2)
            if energy[-1] <= 0:
                bases.append(np.zeros((X.shape[1], 0)))
                continue
            dim = int(np.searchsorted(energy, BASIS_ENERGY * energy[-1]) + 1)
            # A basis of the whole space would fit every point exactly.
            dim = min(dim, max(1, X.shape[1] - 1), len(members))
            bases.append(np.ascontiguousarray(vt[:dim].T))
        return bases, offsets

    def _fit_collaborative(self, X):
        """The fitted points sorted by cluster and their ridge map (predict)."""
        order = np.argsort(self.labels_, kind="stable")
        points = X[order]
        bounds = np.searchsorted(self.labels_[order], np.arange(self.n_clusters_ + 1))
        alpha = (self.collaborative_alpha if self.collaborative_alpha is not None
                 else DEFAULT_COLLABORATIVE_ALPHA)
        self._collaborative = (points, bounds, ridge_map(points, alpha * _mean_squared_norm(X)))

    # ------------------------------------------------------------------
    # Out-of-sample
    # ------------------------------------------------------------------

    def predict(self, X):
        """Assign points to the cluster whose subspace fits them best.

        Each point goes to the cluster :math:`k` of least residual
        :math:`\\|(I - U_k U_k^\\top)(x - o_k)\\|` (see ``subspace_bases_``),
        or with ``out_of_sample="collaborative"`` of least
        :math:`\\|x - X_k^\\top c_k\\| / \\|c_k\\|` for the ridge coefficients
        :math:`c` of :math:`x` over the fitted points.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New points.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            Cluster of each point.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False, method="predict")
        data = np.asarray(X, dtype=np.float64)
        if self.out_of_sample == "collaborative":
            if getattr(self, "_collaborative", None) is None:
                raise ValueError(
                    "SubspaceClusterer: out_of_sample='collaborative' needs the fitted "
                    "points, which a fit with out_of_sample='basis' does not keep. Refit "
                    "with out_of_sample='collaborative'."
                )
            return collaborative_labels(data, *self._collaborative)
        residuals = np.empty((data.shape[0], self.n_clusters_))
        for k, (basis, offset) in enumerate(zip(self.subspace_bases_, self.subspace_offsets_)):
            centred = data - offset
            residuals[:, k] = np.sum(centred**2, axis=1) - np.sum((centred @ basis) ** 2, axis=1)
        return np.argmin(residuals, axis=1).astype(np.intp)

    def fit_predict(self, X, y=None):
        """Cluster the rows of ``X`` and return their labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The points.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            ``labels_``.
        """
        return self.fit(X).labels_


def _mean_squared_norm(X):
    """The scale the regularisers are relative to (1 for all-zero data)."""
    return float(np.mean(np.sum(X**2, axis=1))) or 1.0


def _keep_largest(dense, n_keep):
    """Zero all but the ``n_keep`` largest absolute entries of each row."""
    cut = np.argpartition(-np.abs(dense), n_keep - 1, axis=1)[:, n_keep:]
    dense = dense.copy()
    np.put_along_axis(dense, cut, 0.0, axis=1)
    return dense


def _relabel_by_first_appearance(labels):
    """Renumber clusters 0..k-1 by first appearance (deterministic labels)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.intp)
