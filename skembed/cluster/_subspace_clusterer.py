"""SubspaceClusterer: self-expressive subspace clustering with out-of-sample predict.

The estimator resolves its parameters (:mod:`._methods`), has the chosen
method compute the representation matrix, runs the spectral step
(:mod:`._spectral`) and fits the out-of-sample rules (:mod:`._out_of_sample`).
"""

import time
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..base import N_JOBS_CONSTRAINT, ValidationMixin
from ..utils._compat import Interval, StrOptions, fit_context
from ..utils.extmath import power_of_two_unit
from ._methods import METHODS, resolve_affinity, resolve_settings
from ._out_of_sample import (
    DEFAULT_COLLABORATIVE_ALPHA,
    fit_collaborative,
    fit_subspace_bases,
    predict_by_bases,
    predict_collaborative,
)
from ._spectral import (
    affinity_from_representation,
    estimate_n_clusters,
    spectral_labels,
)

#: Most clusters n_clusters="auto" considers.
MAX_AUTO_CLUSTERS = 64


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
        ``"ssc"``, 100 for ``"lsr"`` and 1 for ``"lrr"``. Only used when
        method is ``"ensc"``, ``"ssc"``, ``"lsr"`` or ``"lrr"`` (the
        sparsity of ``"omp"`` and ``"tsc"`` is set by ``n_nonzero``).
    tau : float in (0, 1], default=None
        Share of the l1 norm in the elastic net. None is 0.9 (1 is the lasso
        of SSC; the small ridge share links more points of each subspace: on
        Extended Yale B 93.4%, against 91.3% for ``tau=0.8`` and 84.7% for
        ``gamma=50, tau=1``). Only used when ``method="ensc"``.
    n_nonzero : int, default=None
        Most coefficients kept per point: for ``"omp"`` the number of greedy
        steps (default 10), for ``"tsc"`` the neighbours ``q`` (default
        ``max(3, n_samples // (20 n_clusters))``), for ``"ensc"`` the largest
        coefficients kept (default 50); for the dense methods, when given,
        only the largest ``n_nonzero`` coefficients of each row are kept.
    n_candidates : int, "auto" or None, default="auto"
        Restrict each point's representation to its ``n_candidates`` points
        of largest ``|cos|`` (one exact kNN search), so the per-point work no
        longer grows with n. None searches all points (exact ORGEN / OMP);
        ``"auto"`` is None up to 10,000 points and above that 100 candidates
        for ``"ensc"`` (``2 n_nonzero`` if larger) and 200 for ``"omp"``
        (``20 n_nonzero`` if larger). Only used when method is ``"ensc"`` or
        ``"omp"``.
    affine : bool, default=False
        Constrain each point's coefficients to sum to one (affine subspaces,
        e.g. motion segmentation): offered by ``"ssc"``, ``"omp"`` and
        ``"lsr"``, an error with the other methods (they would fit linear
        subspaces instead). The subspace bases used by :meth:`predict` are
        then centred on their cluster's mean.
    outlier_gamma : float, default=None
        Add the sparse error term of SSC for points with a few
        grossly corrupted entries, :math:`\min \|C\|_1 + \lambda_e \|E\|_1
        + \frac{\lambda_z}{2}\|X - CX - E\|_F^2` with :math:`\lambda_e =`
        ``outlier_gamma`` :math:`/ \max_j \|x_j\|_1` (> 0; larger calls
        fewer entries corrupted; the authors use 20). The errors found are
        ``outlying_entries_``; the subspace bases and the collaborative rule
        use the points without them. None leaves the term out. Only used when
        ``method="ssc"``.
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
        Neighbours per point of the ``"knn"`` affinity; only used when the
        affinity (``affinity_``) is ``"knn"``. Accuracy depends on it: ``"ensc"`` on Extended Yale
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
        Ridge weight of the collaborative rule, relative to the mean squared
        norm of the fitted points (> 0). None is 0.01. Only used when
        ``out_of_sample="collaborative"``.
    n_init : int, default=20
        k-means restarts in the spectral step.
    max_iter : int, default=None
        Steps of the iterative solvers of the dense methods: ADMM for
        ``"ssc"`` (None: 200) and inexact ALM for ``"lrr"`` (None: 300). A
        ``ConvergenceWarning`` says when they stop before their tolerance.
        Only used when method is ``"ssc"`` or ``"lrr"``.
    random_state : int, RandomState instance or None, default=None
        Eigensolver start, k-means seeds and, with candidates and
        ``"ensc"``, the points whose restricted solution is checked. One
        random generator is drawn from it per fit.
    n_jobs : int, default=None
        Parallel jobs over chunks of points (joblib semantics: None is one
        unless a ``joblib.parallel_config`` context says otherwise, -1 all
        processors; 0 is an error), through ``sklearn.utils.parallel``, so a
        joblib backend such as dask applies. Only used when method is
        ``"ensc"`` or ``"omp"``.
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
    gamma_ : float or None
        The ``gamma`` the fit used (the method's default when ``gamma`` is
        None); None for ``"omp"`` and ``"tsc"``.
    tau_ : float or None
        The l1 share of ``"ensc"``; None for the other methods.
    n_nonzero_ : int or None
        Coefficients kept per point (greedy steps of ``"omp"``, neighbours of
        ``"tsc"``), at most ``n_samples - 1``; None for a dense method without
        ``n_nonzero``.
    n_candidates_ : int or None
        Candidates per point of ``"ensc"`` and ``"omp"``; None for the full
        search and the other methods.
    max_iter_ : int or None
        Steps allowed to ADMM (``"ssc"``) or inexact ALM (``"lrr"``); None for
        the other methods.
    affinity_ : {"symmetric", "knn"}
        The affinity built (``affinity`` with ``"auto"`` resolved).
    n_neighbors_ : int or None
        Neighbours per point of the ``"knn"`` affinity (at most
        ``n_samples - 1``); None with the symmetric affinity.
    collaborative_alpha_ : float or None
        Ridge weight of the collaborative rule; None with
        ``out_of_sample="basis"``.
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
    (:func:`skembed.cluster.fit_collaborative`). Both rules are public
    functions of :mod:`skembed.cluster` (:func:`~skembed.cluster.fit_subspace_bases`,
    :func:`~skembed.cluster.predict_by_bases`,
    :func:`~skembed.cluster.fit_collaborative`,
    :func:`~skembed.cluster.predict_collaborative`), as is the spectral step
    (:func:`~skembed.cluster.affinity_from_representation`,
    :func:`~skembed.cluster.spectral_labels`).

    The labels do not depend on the units of X: multiplying X by any
    positive number between 1e-150 and 1e150 gives the same labels, and
    ``predict`` on new points multiplied by it the same predictions. The
    solvers run on X divided by a power of two at its largest entry (exact,
    so squares neither overflow nor underflow), and the two solvers whose
    iterations mix coefficients with quantities in the units of X (the ADMM
    of ``outlier_gamma``, the inexact ALM of ``"lrr"``) run in units of the
    points' root mean square norm. ``outlying_entries_`` are in the units of
    X.

    Every default that depends on the method or the data is resolved once,
    at the start of :meth:`fit`, into the attributes ending in ``_`` above
    (``gamma_``, ``affinity_``, ...). A parameter the chosen method does not
    use is ignored, so one set of parameters serves a grid over ``method``.

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
        "n_jobs": N_JOBS_CONSTRAINT,
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
        # What the data check requires whatever n_clusters is: each point
        # expressed by another, and three points to read an eigengap from.
        # The two points per expected subspace that n_clusters asks for are
        # checked by fit, with their own message.
        return 3 if self.n_clusters == "auto" else 2

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
        X = self._validate_X(X, reset=True)
        data = np.asarray(X, dtype=np.float64)
        self._check_n_samples(data.shape)
        with self._named_errors("fit"):
            settings = self._resolve(data.shape[0])
            rng = check_random_state(self.random_state)

            start = time.perf_counter()
            # Every method's representation is unit-free; its solver squares
            # entries, which overflow from about 1e154 and underflow below
            # 1e-154. Dividing by a power of two is exact, so ordinary data
            # keep their bits, and only the range changes.
            unit = power_of_two_unit(data)
            found = METHODS[self.method].represent(
                data / unit, settings, random_state=rng, n_jobs=self.n_jobs,
                verbose=self.verbose, log=self._log,
            )
            self.representation_matrix_ = found.matrix
            self.n_iter_ = found.n_iter
            self.candidate_violation_rate_ = found.candidate_violation_rate
            errors = None if found.outlying_entries is None else found.outlying_entries * unit
            self.outlying_entries_ = None if errors is None else sparse.csr_matrix(errors)
            self._log("representation", start)

            start = time.perf_counter()
            self.affinity_matrix_ = affinity_from_representation(
                self.representation_matrix_, self.affinity_, self.n_neighbors_
            )
            if self.n_clusters == "auto":
                max_clusters = max(1, min(data.shape[0] // 2, MAX_AUTO_CLUSTERS))
                self.n_clusters_ = estimate_n_clusters(self.affinity_matrix_, max_clusters, rng)
            else:
                self.n_clusters_ = int(self.n_clusters)
            labels = spectral_labels(
                self.affinity_matrix_, self.n_clusters_, n_init=self.n_init, random_state=rng
            )
            self.labels_ = _relabel_by_first_appearance(labels)
            self._log("spectral step", start)

        if errors is not None:
            # The subspaces hold the points without their corrupted entries.
            data = data - errors
        self.subspace_bases_, self.subspace_offsets_ = fit_subspace_bases(
            data, self.labels_, self.n_clusters_, affine=self.affine
        )
        # The fitted points are kept only for the rule that needs them.
        self._collaborative_rule = None
        if self.out_of_sample == "collaborative":
            self._collaborative_rule = fit_collaborative(
                data, self.labels_, self.n_clusters_, alpha=self.collaborative_alpha_
            )
        return self

    def _check_n_samples(self, shape):
        """Two points per expected subspace: each is expressed by others of its own."""
        if self.n_clusters == "auto" or shape[0] >= 2 * self.n_clusters:
            return
        raise ValueError(
            f"{self._caller('fit')}: Found array with {shape[0]} sample(s) (shape={shape}) "
            f"while a minimum of {2 * self.n_clusters} is required: "
            f"n_clusters={self.n_clusters} needs at least 2 points per expected subspace "
            "(each point is expressed by others of its own subspace). Pass more rows or "
            "a smaller n_clusters."
        )

    def _resolve(self, n_samples):
        """Every default of this fit, once, into the fitted attributes ending in ``_``."""
        if self.out_of_sample == "collaborative" and self.affine:
            raise ValueError(
                "out_of_sample='collaborative' expresses new points by a linear "
                "combination of the fitted points and has no affine form. Use "
                "out_of_sample='basis' (bases centred on each cluster's mean) with "
                "affine=True."
            )
        settings = resolve_settings(
            self.method,
            n_samples=n_samples,
            n_clusters=1 if self.n_clusters == "auto" else self.n_clusters,
            gamma=self.gamma,
            tau=self.tau,
            n_nonzero=self.n_nonzero,
            n_candidates=self.n_candidates,
            max_iter=self.max_iter,
            affine=self.affine,
            outlier_gamma=self.outlier_gamma,
        )
        self.gamma_ = settings.gamma
        self.tau_ = settings.tau
        self.n_nonzero_ = settings.n_nonzero
        self.n_candidates_ = settings.n_candidates
        self.max_iter_ = settings.max_iter
        self.affinity_ = resolve_affinity(self.affinity, self.method, n_samples=n_samples,
                                          n_clusters=self.n_clusters)
        self.n_neighbors_ = (min(self.n_neighbors, n_samples - 1) if self.affinity_ == "knn"
                             else None)
        if self.out_of_sample == "collaborative":
            self.collaborative_alpha_ = (DEFAULT_COLLABORATIVE_ALPHA
                                         if self.collaborative_alpha is None
                                         else self.collaborative_alpha)
        else:
            self.collaborative_alpha_ = None
        return settings

    def _log(self, stage, start):
        if self.verbose:
            print(f"SubspaceClusterer: {stage} in {time.perf_counter() - start:.2f} s")

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
            if getattr(self, "_collaborative_rule", None) is None:
                raise ValueError(
                    f"{self._caller('predict')}: out_of_sample='collaborative' needs the "
                    "fitted points, which a fit with out_of_sample='basis' does not keep. "
                    "Refit with out_of_sample='collaborative'."
                )
            return predict_collaborative(data, self._collaborative_rule)
        return predict_by_bases(data, self.subspace_bases_, self.subspace_offsets_)

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


def _relabel_by_first_appearance(labels):
    """Renumber clusters 0..k-1 by first appearance (deterministic labels)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.intp)
