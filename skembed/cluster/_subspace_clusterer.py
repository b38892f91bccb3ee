"""SubspaceClusterer: self-expressive subspace clustering with out-of-sample predict.

The estimator resolves its parameters (:mod:`._methods`), has the chosen
method compute the representation matrix, runs the spectral step
(:mod:`._spectral`) and fits the out-of-sample rules (:mod:`._out_of_sample`).
"""

import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..base import N_JOBS_CONSTRAINT, FitSampleMixin, ValidationMixin
from ..utils._compat import Interval, StrOptions, fit_context
from ..utils._dask import (
    blockwise_transform,
    import_dask_array,
    is_dask_array,
    read_rows,
)
from ..utils._memory import float_bytes
from ..utils._progress import ProgressLog
from ..utils.extmath import normalize_rows, power_of_two_unit
from ._chunked import MAX_CHUNK_ROWS
from ._methods import (
    AUTO_DENSE_LIMIT,
    AUTO_POWERS,
    CHUNK_FLOATS,
    METHODS,
    Candidate,
    auto_candidates,
    resolve_affinity,
    resolve_settings,
)
from ._out_of_sample import (
    BLOCK_FLOATS,
    DEFAULT_COLLABORATIVE_ALPHA,
    fit_collaborative,
    fit_subspace_bases,
    predict_by_bases,
    predict_collaborative,
)
from ._spectral import (
    POWER_AFFINITY_LIMIT,
    affinity_from_representation,
    count_components,
    default_power_rank,
    embedding_kmeans,
    estimate_n_clusters,
    merge_components,
    power_embedding,
    power_from_embedding,
    relative_eigengap,
    spectral_labels,
    top_eigenpairs,
)

#: Most clusters n_clusters="auto" considers.
MAX_AUTO_CLUSTERS = 64
#: Unit rows equal on this grid are one point (duplicates up to rounding).
UNIT_ROW_GRID = 2.0**40
_EPS = np.finfo(np.float64).eps
#: Rows max_samples="auto" clusters of a dask array: the most points the
#: per-point solvers handle exactly (n_candidates="auto" restricts them to
#: candidates above this), in about 10 s (omp) to 1.5 min (ensc) on 2 cores.
DASK_MAX_SAMPLES = 10_000
#: The same for the dense methods and the power affinity: the most points
#: method="auto" gives them (several n x n float64 matrices, 200 MB each here).
DASK_DENSE_MAX_SAMPLES = 5_000


class SubspaceClusterer(FitSampleMixin, ValidationMixin, ClusterMixin, BaseEstimator):
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
    2. builds an affinity from :math:`C` (see ``affinity``), and clusters it
       spectrally: the eigenvectors of the normalised Laplacian, rows
       normalised to unit length (Ng, Jordan & Weiss), then k-means.

    **The default** (``method="auto"``) chooses per data set, without labels,
    among a small set of candidates: up to 5,000 points, LSR in closed form
    with ``gamma`` in {1, 10, 100} and the ``"power"`` affinity (the SSC /
    DSC-Net post-processing) with power in {4, 8}; above, SSC-OMP and TSC
    with the symmetric affinity (SSC-OMP alone with ``affine=True``). Each
    candidate's graph goes through the spectral step, and the candidate kept
    is the one whose spectral embedding is closest to k clusters without
    links between them: the least *embedding distortion*, the mean squared
    distance of the embedding's unit rows to their k-means centres (0 for k
    disconnected clusters, whose unit rows are k orthogonal points; the
    quantity the spectral step's k-means minimises, and what the alignment
    cost of self-tuning spectral clustering [11]_ measures). A graph with
    more components than clusters ranks last. With ``n_clusters="auto"``,
    where distortions at different k do not compare, the largest *relative
    eigengap* of the normalised Laplacian decides,
    :math:`(\lambda_{k+1} - \lambda_k) / (\epsilon + \frac1k \sum_{i \le k}
    \lambda_i)` (AutoSC [8]_). Every candidate and both criteria are in
    ``candidates_``; given ``gamma`` or ``affinity_power`` fix that part.
    With ``affine=True`` the candidates are those that offer it: LSR up to
    5,000 points, SSC-OMP alone above (TSC has no affine form). With
    ``n_clusters="auto"`` each candidate's k is the k >= 2 of largest
    relative eigengap (a graph of c > 1 connected components: c).

    **Scale.** A point of a linear subspace stays in it when scaled, so the
    rows are scaled to unit norm before any method sees them
    (``normalize_rows=True``): raw pixels and unit-norm rows give the same
    labels. Not with ``affine=True`` (an affine subspace is not invariant to
    scaling its points).

    **Duplicates and row order.** The rows are put in a canonical (sorted)
    order and identical rows (after the scaling, so with normalised rows
    copies up to a nonzero factor, when their unit rows agree on a grid of
    2^-40: nearly always, but a copy whose unit row rounds to the other side
    of a grid line stays apart) are clustered once, each copy taking its
    twin's label: a point expressed by its own copy is cut from its
    subspace. The partition therefore does not depend on the order of the
    rows (the numbers given to the clusters may). An affinity graph with more connected components than clusters
    has its components grouped by single linkage on the absolute cosine
    between their points, with a warning (a graph of exactly k components
    gives them as the clusters); with ``n_clusters="auto"`` a graph
    of c > 1 components has c clusters, and the eigengap is read only on a
    connected graph.

    Methods (step 1):

    ``"auto"`` (default)
        The label-free selection above.
    ``"ensc"``
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
        Number of clusters (subspaces). ``"auto"``: the number of connected
        components of the affinity graph when it has more than one,
        otherwise the position of the largest eigengap of its normalised
        Laplacian. Like k-means, ``fit`` needs at least ``n_clusters`` rows
        (one per cluster), so the default fits 8 rows or more. Subspaces are
        recovered when each has at least two points (each point is then
        expressed by others of its own subspace); with fewer than
        ``2 n_clusters`` rows some cluster holds a single point, whose
        subspace for :meth:`predict` is the line through it (the point
        itself with ``affine=True``).
    method : {"auto", "ensc", "ssc", "omp", "lsr", "lrr", "tsc"}, default="auto"
        How each point is expressed by the others (see above); ``"auto"``
        selects among LSR candidates (OMP and TSC above 5,000 points).
    gamma : float, default=None
        Weight of the fit against the regulariser, larger is a closer fit
        with more nonzero coefficients (``"ensc"``, ``"ssc"``: must exceed 1;
        ``"lsr"``, ``"lrr"``: > 0). None uses 100 for ``"ensc"``, 20 for
        ``"ssc"``, 100 for ``"lsr"`` and 1 for ``"lrr"``; with
        ``method="auto"`` the selection tries 1, 10 and 100. Only used when
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
        ``max(3, n_samples // (20 n_clusters))``, at most 100, so memory stays
        O(n q)), for ``"ensc"`` the largest
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
    affinity : {"auto", "symmetric", "knn", "power"}, default="auto"
        ``"power"``: the post-processing of the SSC and DSC-Net code
        ([1]_, [9]_): the rank-r SVD :math:`U \Sigma V^\top` of
        :math:`(C + C^\top)/2`, rows :math:`u_i` of :math:`U \Sigma^{1/2}`
        scaled to unit norm, :math:`W_{ij} = \max(u_i^\top u_j, 0)^p`
        (``affinity_rank``, ``affinity_power``); dense, up to 5,000 points.
        It explains much of the accuracy reported for deep subspace
        clustering [10]_. ``"symmetric"``: :math:`|\bar C| + |\bar C|^\top`
        (rows of :math:`C` scaled to unit norm). ``"knn"``: the
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
        eigengap the kNN graph blurs); with ``method="auto"``, ``"power"``
        up to 5,000 points and ``"symmetric"`` above.
    affinity_rank : int, default=None
        Rank r of the ``"power"`` affinity. None derives it from the data:
        the number of singular values of the (scaled) points that carry 99%
        of their energy, at least ``n_clusters + 1``; for k subspaces of
        dimension d about k d, the order of the research code's ``d K + 1``.
    affinity_power : float, default=None
        Exponent p of the ``"power"`` affinity (> 0). None tries 4 and 8
        (DSC-Net's published settings are 3.5 for faces and 8 for objects)
        and keeps the one the selection criterion prefers (see above).
    n_neighbors : int, default=5
        Neighbours per point of the ``"knn"`` affinity; only used when the
        affinity (``affinity_``) is ``"knn"``. Accuracy depends on it: ``"ensc"`` on Extended Yale
        B (64 faces per person) reaches 90.3%, 90.9%, 93.4%, 85.4% and 81.4%
        with 3, 4, 5, 6 and 8 neighbours. Fewer neighbours than the points' subspace
        dimension leave each cluster sparsely connected; more link clusters.
    normalize_rows : bool, default=True
        Scale every point to unit norm before the method sees it (see
        *Scale* above); ignored with ``affine=True``. False runs the method
        on the points as given (the ridge of LSR or the lasso of SSC then
        weigh large points more).
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
    max_samples : int, "auto" or None, default="auto"
        Most rows :meth:`fit` clusters. With more rows, ``max_samples`` of
        them are drawn uniformly at random without replacement
        (``random_state``; their indices, sorted, are ``sample_indices_``),
        clustered exactly as ``fit(X[sample_indices_])`` would cluster them
        with the same ``random_state``, and every row, the sampled ones
        included, is labelled by :meth:`predict` (``labels_ =
        predict(X)``). The draw depends only on the number of rows and the
        seed, so a dask array gives the same sample however it is chunked.
        ``"auto"``: every row of an in-memory X (nothing changes for it);
        of a dask array (see *Dask arrays* below) 10,000 rows, 5,000 with
        the dense methods (``"ssc"``, ``"lsr"``, ``"lrr"``) or
        ``affinity="power"``. 10,000 is the most points the per-point
        solvers handle exactly (``n_candidates="auto"``), fitted in about
        10 s (``"omp"``) to 1.5 min (``"ensc"``) on 2 cores, 1,000 points
        per cluster for 10 clusters; labelling the other rows costs
        O(d dim) per row and cluster, a small share of reading them. The
        dense methods hold about ten n x n float64 matrices (2 GB at
        5,000 points). An int: that many rows at most, for an in-memory X
        as for a dask array (a dask fit then equals the in-memory fit of the
        computed array). None: every row; a dask array is then read whole
        into memory (the memory check of ``fit`` applies). X with no more
        rows than ``max_samples`` is clustered whole (a dask array is then
        read into memory in one compute).
    random_state : int, RandomState instance or None, default=None
        Eigensolver start, k-means seeds and, with candidates and
        ``"ensc"``, the points whose restricted solution is checked. One
        random generator is drawn from it per fit; the rows of
        ``max_samples`` are drawn before, by a generator of their own for
        an int seed, so that the seed gives the fit of
        ``X[sample_indices_]`` with it.
    n_jobs : int, default=None
        Parallel jobs over chunks of points (joblib semantics: None is one
        unless a ``joblib.parallel_config`` context says otherwise, -1 all
        processors; 0 is an error), through ``sklearn.utils.parallel``, so a
        joblib backend such as dask applies. Only used when method is
        ``"ensc"`` or ``"omp"``.
    verbose : int, default=0
        Progress on standard output, with the levels shared by every skembed
        estimator, each line starting ``[SubspaceClusterer]`` and ending with
        the seconds since ``fit`` began. 0: silent. 1: a line as each stage
        ends: the candidate search (``n_candidates``), each representation,
        each candidate of the selection with its criteria (as in
        ``candidates_``), the spectral step and the out-of-sample rule.
        2 and above: also each chunk of points of ``"ensc"`` and ``"omp"``
        (joblib's own messages when several jobs run them) and every 10 steps
        of the ADMM of ``"ssc"`` and the ALM of ``"lrr"``.

    Attributes
    ----------
    labels_ : ndarray of int of shape (n_samples,), or dask array
        Cluster of each training point: of the spectral step when every row
        is clustered, ``predict(X)`` when a sample is (``max_samples``). A
        lazy dask array of X's row chunks when X is a dask array (labelled
        block by block when computed).
    sample_indices_ : ndarray of int of shape (max_samples,) or None
        The rows clustered, sorted, when ``max_samples`` drew a sample; None
        when every row was. The matrices below, ``n_distinct_rows_`` and
        the rules of :meth:`predict` are then those of ``X[sample_indices_]``
        (n_samples below is the sample's size).
    representation_matrix_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The coefficients :math:`C`; row j expresses point j; at most
        ``n_nonzero`` entries per row for the sparse methods. Copies of
        one point (with normalised rows: up to a nonzero factor, see Notes) are clustered
        once: each copy has the row of the copy kept, times -1 for a
        negative copy, and coefficients are on the copies kept.
    affinity_matrix_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The symmetric affinity clustered in the spectral step (a copy has its
        twin's row and column).
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
    method_ : str
        The method fitted (``method`` with ``"auto"`` resolved).
    affinity_ : {"symmetric", "knn", "power"}
        The affinity built (``affinity`` with ``"auto"`` resolved).
    affinity_rank_ : int or None
        Rank of the ``"power"`` affinity; None with the others.
    affinity_power_ : float or None
        Power of the ``"power"`` affinity; None with the others.
    relative_eigengap_ : float
        The relative eigengap of the candidate kept (the selection
        criterion with ``n_clusters="auto"``).
    embedding_distortion_ : float or None
        The embedding distortion of the candidate kept (the selection
        criterion with a given ``n_clusters``; between 0 and 2); 0 when its
        graph has at least k components, None when one candidate was fitted
        and its graph is connected, or with ``n_clusters="auto"``.
    candidates_ : list of dict
        Every candidate fitted, in order: ``method``, ``gamma``,
        ``affinity``, ``affinity_rank``, ``affinity_power``, ``n_clusters``,
        ``n_components`` (of its graph), ``relative_eigengap`` and
        ``embedding_distortion``. One entry for a fixed method and affinity.
    normalize_rows_ : bool
        Whether the rows were scaled to unit norm.
    n_distinct_rows_ : int
        Rows clustered: the distinct rows after the scaling, a row and its
        negative counting once when the rows are normalised (all rows when
        fewer than ``max(3, n_clusters)`` are distinct).
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
    Memory: the dense methods hold several float64 n x n matrices at their
    peak (``"ssc"`` about 11, ``"lsr"`` and ``"lrr"`` 8, ``"auto"`` up to
    5,000 points 10: 8 n^2 bytes each, 670 GiB for one at 300,000 points);
    ``fit`` checks this before any work and raises
    :class:`~skembed.utils.InsufficientMemoryError` naming the sparse
    methods. Above 4,096 points the sparse methods never build an n x n
    dense matrix:
    per-point work runs over chunks of points (one block product against all
    points per round), the affinity is sparse and the eigenvectors come from
    ``eigsh``, so memory stays O(n ``n_nonzero``) beside the data, plus the
    chunk products: ``"omp"`` and ``"ensc"`` hold about 3 blocks of up to
    1,024 x n floats (at most 64 MB each) per worker, and 6 (omp) or 28
    (ensc) floats per point and feature. Below that,
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
    functions of ``skembed.cluster`` (:func:`~skembed.cluster.fit_subspace_bases`,
    :func:`~skembed.cluster.predict_by_bases`,
    :func:`~skembed.cluster.fit_collaborative`,
    :func:`~skembed.cluster.predict_collaborative`), as is the spectral step
    (:func:`~skembed.cluster.affinity_from_representation`,
    :func:`~skembed.cluster.spectral_labels`).

    **Dask arrays.** ``fit`` takes a :class:`dask.array.Array` of any row
    chunking: shape and dtype are checked from its metadata, ``max_samples``
    rows (10,000 by default) are gathered into memory in one compute that
    also checks every block for NaN and infinity (each block read once),
    the sample is clustered in memory, and ``labels_`` is a lazy dask array:
    ``predict`` applied block by block, read when computed (``fit_predict``
    returns it). ``predict`` on a dask array is lazy and blockwise too.
    Nothing else reads the array into memory. The per-point solvers
    (``"ensc"``, ``"omp"``) run their chunks of points through
    ``sklearn.utils.parallel``: inside
    ``joblib.parallel_config(backend="dask")`` with a ``distributed``
    client they run on the cluster's workers, with the same labels.

    The labels do not depend on the units of X: multiplying X by any
    positive number between 1e-150 and 1e150 gives the same labels, and
    ``predict`` on new points multiplied by it the same predictions. The
    solvers run on X divided by a power of two at its largest entry (exact,
    so squares neither overflow nor underflow), and the two solvers whose
    iterations mix coefficients with quantities in the units of X (the ADMM
    of ``outlier_gamma``, the inexact ALM of ``"lrr"``) run in units of the
    points' root mean square norm. ``outlying_entries_`` are in the units of
    X.

    Every default that depends on the method or the data is resolved once
    per candidate during :meth:`fit`, into the attributes ending in ``_`` above
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
    .. [8] J. Fan, Y. Tu, Z. Zhang, M. Zhao, H. Zhang. "A simple approach to
       automated spectral clustering." NeurIPS 2022.
    .. [9] P. Ji, T. Zhang, H. Li, M. Salzmann, I. Reid. "Deep subspace
       clustering networks." NIPS 2017.
    .. [10] B. D. Haeffele, C. You, R. Vidal. "A critique of self-expressive
       deep subspace clustering." ICLR 2021.
    .. [11] L. Zelnik-Manor, P. Perona. "Self-tuning spectral clustering."
       NIPS 2004.

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

    #: fit reads a sample of a dask array and labels it blockwise; predict is blockwise.
    _dask_methods = frozenset({"fit", "predict"})

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions(set(METHODS) | {"auto"})],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "tau": [Interval(Real, 0, 1, closed="right"), None],
        "n_nonzero": [Interval(Integral, 1, None, closed="left"), None],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "affine": ["boolean"],
        "outlier_gamma": [Interval(Real, 0, None, closed="neither"), None],
        "affinity": [StrOptions({"auto", "symmetric", "knn", "power"})],
        "affinity_rank": [Interval(Integral, 1, None, closed="left"), None],
        "affinity_power": [Interval(Real, 0, None, closed="neither"), None],
        "normalize_rows": ["boolean"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "out_of_sample": [StrOptions({"basis", "collaborative"})],
        "collaborative_alpha": [Interval(Real, 0, None, closed="neither"), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "max_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}),
                        None],
        "random_state": ["random_state"],
        "n_jobs": N_JOBS_CONSTRAINT,
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        method="auto",
        gamma=None,
        tau=None,
        n_nonzero=None,
        n_candidates="auto",
        affine=False,
        outlier_gamma=None,
        affinity="auto",
        affinity_rank=None,
        affinity_power=None,
        n_neighbors=5,
        normalize_rows=True,
        out_of_sample="basis",
        collaborative_alpha=None,
        n_init=20,
        max_iter=None,
        max_samples="auto",
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
        self.affinity_rank = affinity_rank
        self.affinity_power = affinity_power
        self.n_neighbors = n_neighbors
        self.normalize_rows = normalize_rows
        self.out_of_sample = out_of_sample
        self.collaborative_alpha = collaborative_alpha
        self.n_init = n_init
        self.max_iter = max_iter
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    #: Peak float64 n x n matrices of the dense methods' fits (measured with
    #: tracemalloc: the solver's iterates, the symmetrised coefficients and
    #: the spectral step), and of method="auto" up to AUTO_DENSE_LIMIT points.
    _DENSE_SQUARES = {"ssc": 11, "lsr": 8, "lrr": 8, "auto": 10}
    #: The per-point methods (measured with tracemalloc, 1,000 to 9,000
    #: points, 10 to 200 features): blocks of chunk rows x n products held
    #: at once, and floats per point and feature (the candidates' coordinates).
    _CHUNK_BLOCKS = {"omp": 3, "ensc": 3}
    _FLOATS_PER_ENTRY = {"omp": 6, "ensc": 28, "tsc": 2}
    #: predict: copies of a block of BLOCK_FLOATS floats held at once (the
    #: block in float64, its centred rows and their squares).
    _PREDICT_BLOCKS = 4
    #: tsc: its neighbour search's blocks, per point.
    _TSC_FLOATS_PER_POINT = 900

    def _memory_method(self, n_samples):
        """The method whose memory a fit on ``n_samples`` points needs."""
        if self.method == "auto" and n_samples > AUTO_DENSE_LIMIT:
            return "omp"  # then tsc, which needs less
        return self.method

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit (see the class docstring's Notes).

        An in-memory X of more rows than ``max_samples`` (an int) is clustered
        on a sample: the sample's float64 copy and the clustering of its rows,
        then the labels of all rows, predicted in blocks of rows.
        """
        n_fit = self._n_fit_rows(n_samples, on_dask=False)
        if n_fit == n_samples:
            return self._clustering_memory_bytes(n_samples, n_features)
        return (self._clustering_memory_bytes(n_fit, n_features)
                + float_bytes(n_fit * n_features, self._PREDICT_BLOCKS * BLOCK_FLOATS,
                              n_samples))

    def _clustering_memory_bytes(self, n_samples, n_features):
        """Peak working memory of clustering ``n_samples`` rows (no sample drawn)."""
        method = self._memory_method(n_samples)
        if method in self._DENSE_SQUARES:
            return float_bytes(self._DENSE_SQUARES[method] * n_samples**2,
                               2 * n_samples * n_features)
        entries = self._FLOATS_PER_ENTRY[method] * n_samples * n_features
        if method == "tsc":
            return float_bytes(self._TSC_FLOATS_PER_POINT * n_samples, entries)
        # Each worker holds its chunk's products against all points.
        block = min(MAX_CHUNK_ROWS * n_samples, CHUNK_FLOATS)
        workers = effective_n_jobs(self.n_jobs)
        return float_bytes(self._CHUNK_BLOCKS[method] * block * workers, entries)

    def _memory_advice(self, n_samples, n_features):
        if self._memory_method(n_samples) not in self._DENSE_SQUARES:
            return ("Each worker holds its chunk's products against all points: use fewer "
                    "n_jobs, or fit on a sample of the rows and label the rest with predict "
                    "(a smaller max_samples).")
        return ("The dense methods ('ssc', 'lsr', 'lrr', and 'auto' up to "
                f"{AUTO_DENSE_LIMIT:,} points) hold several n x n matrices: use "
                "method='omp' or 'ensc' (memory O(n n_candidates)), or fit on a sample "
                "of the rows and label the rest with predict (a smaller max_samples).")

    def _min_fit_samples(self):
        # What the data check requires whatever n_clusters is: each point
        # expressed by another, and three points to read an eigengap from.
        # The one point per cluster that n_clusters asks for is checked by
        # fit, with its own message.
        return 3 if self.n_clusters == "auto" else 2

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster the rows of ``X``.

        With more rows than ``max_samples`` allows, ``max_samples`` of them
        drawn at random are clustered and every row is labelled by
        :meth:`predict`.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            The points. A dask array is read once, in one compute: the
            sampled rows are gathered into memory and every block is checked
            for NaN and infinity; ``labels_`` is then a lazy dask array.
        y : None
            Ignored.

        Returns
        -------
        self : SubspaceClusterer
            The fitted clusterer.
        """
        X = self._validate_X(X, reset=True)
        with self._named_errors("fit"):
            self._check_options()  # before a dask array's sample is read
        on_dask = is_dask_array(X)
        n_rows = X.shape[0]
        n_fit = self._n_fit_rows(n_rows, on_dask=on_dask)
        progress = ProgressLog(self, self.verbose)
        # A point per cluster, and the rows any fit needs.
        needed = max(self._min_fit_samples(),
                     0 if self.n_clusters == "auto" else int(self.n_clusters))
        indices = self._fit_sample_indices(
            n_rows, n_fit, needed=needed,
            needs=f"n_clusters={self.n_clusters!r} (one point per cluster) needs")
        if on_dask:
            rows = read_rows(X, indices)
            progress.stage(f"read {n_fit:,} of {n_rows:,} rows of the dask array "
                           "(one compute, every block checked)")
            self._fit_rows(np.asarray(rows, dtype=np.float64), progress)
            if indices is None:
                labels = _labels_as_dask(self.labels_, X.chunks[0])
            else:
                labels = blockwise_transform(X, self._label_rows(), None, np.intp)
        else:
            rows = X if indices is None else X[indices]
            self._fit_rows(np.asarray(rows, dtype=np.float64), progress)
            labels = self.labels_ if indices is None else self._label_rows()(X)
            if indices is not None:
                progress.stage(f"predict: labels of the {n_rows:,} rows")
        self.sample_indices_ = indices
        self.labels_ = labels
        return self

    def _dask_max_samples(self):
        """Rows ``max_samples="auto"`` clusters of a dask array: fewer for the dense graphs."""
        dense = self.method in self._DENSE_SQUARES and self.method != "auto"
        return (DASK_DENSE_MAX_SAMPLES if dense or self.affinity == "power"
                else DASK_MAX_SAMPLES)

    def _label_rows(self):
        """The function labelling rows with the fitted out-of-sample rule."""
        if self._fitted_param("out_of_sample") == "collaborative":
            if getattr(self, "_collaborative_rule", None) is None:
                raise ValueError(
                    f"{self._caller('predict')}: out_of_sample='collaborative' needs the "
                    "fitted points, which a fit with out_of_sample='basis' does not keep. "
                    "Refit with out_of_sample='collaborative'."
                )
            return partial(_label_in_blocks, rule=self._collaborative_rule)
        return partial(_label_in_blocks, bases=self.subspace_bases_,
                       offsets=self.subspace_offsets_)

    def _fit_rows(self, data, progress):
        """Fit on the float64 rows ``data`` in memory (all attributes but the sample's)."""
        self._check_n_samples(data.shape)
        with self._named_errors("fit"):
            self._check_options()
            rng = check_random_state(self.random_state)
            # Every method's representation is unit-free; its solver squares
            # entries, which overflow from about 1e154 and underflow below
            # 1e-154. Dividing by a power of two is exact, so ordinary data
            # keep their bits, and only the range changes.
            unit = power_of_two_unit(data)
            work = data / unit
            # A point of a linear subspace stays in it when scaled, so the
            # rows are put on the unit sphere: raw pixels and unit-norm rows
            # give the same labels. An affine subspace is not invariant to
            # scaling its points: with affine=True the rows are left as they are.
            self.normalize_rows_ = bool(self.normalize_rows and not self.affine)
            if self.normalize_rows_:
                row_norms = _row_norms(work)
                work = normalize_rows(work)
            else:
                row_norms = np.ones(data.shape[0])
            fit_rows, rep, kept, sign, group = _canonical_rows(
                work, self._min_distinct_rows(), up_to_sign=self.normalize_rows_)
            self.n_distinct_rows_ = fit_rows.shape[0]
            n_distinct = int(group.max()) + 1 if group.size else 0

            best = self._select(fit_rows, rng, progress)
            (candidate, settings, found, W, n_clusters, active, components, embedding,
             chosen_labels) = best
            n_components = int(components.max()) + 1 if components.size else 0
            if n_components > n_clusters:
                warnings.warn(
                    f"The affinity graph has {n_components} connected components for "
                    f"{n_clusters} clusters; its components are grouped by single linkage on "
                    "the absolute cosine between their points. A denser representation "
                    "(larger n_nonzero or n_neighbors, or affinity='power') connects them.",
                    UserWarning,
                )
            if n_components >= n_clusters > 1:
                # k components are the k clusters the spectral step would find
                # (its embedding is then constant on each component): taken
                # exactly, without an eigensolver facing a k-fold eigenvalue.
                labels = np.empty(fit_rows.shape[0], dtype=np.intp)
                labels[active] = merge_components(fit_rows[active], components, n_clusters)
                isolated = np.setdiff1d(np.arange(fit_rows.shape[0]), active)
                if isolated.size:
                    # A point without links joins its most parallel linked point
                    # (an all-zero row, parallel to none, the first one).
                    cosines = np.abs(fit_rows[isolated] @ fit_rows[active].T)
                    labels[isolated] = labels[active][np.argmax(cosines, axis=1)]
                progress.stage(f"spectral step: {n_clusters} clusters from the graph's "
                               f"{n_components} components")
            elif chosen_labels is not None:  # the selection ran the spectral step
                labels = chosen_labels
                progress.stage(f"spectral step: {n_clusters} clusters")
            else:
                labels = spectral_labels(W, n_clusters, n_init=self.n_init, random_state=rng,
                                         embedding=embedding)
                progress.stage(f"spectral step: {n_clusters} clusters")
            labels = labels[rep]
            if self.n_clusters != "auto" and n_distinct <= n_clusters:
                # As many distinct points as clusters, or fewer: each is its
                # own cluster (any other split of copies of one point is
                # arbitrary, and predict could not reproduce it).
                labels = group
                if n_distinct < n_clusters:
                    warnings.warn(
                        f"{self._caller('fit')}: X has {n_distinct} distinct point(s) "
                        f"({'up to scale' if self.normalize_rows_ else 'exactly'}) for "
                        f"n_clusters={n_clusters}; each is its own cluster, so n_clusters_ is "
                        f"{n_distinct}. Pass n_clusters <= {n_distinct}.",
                        ConvergenceWarning,
                    )
                n_clusters = n_distinct
            self.n_clusters_ = int(n_clusters)
            self.labels_ = _relabel_by_first_appearance(labels)
            # Row j of the matrices is the row of the distinct point j stands
            # for (times its sign relative to it); columns are the rows kept,
            # each times the sign its row was folded by (the coefficients
            # express rows in terms of the folded rows clustered).
            to_kept = sparse.csr_matrix(
                (sign[kept], (np.arange(kept.size), kept)),
                shape=(kept.size, data.shape[0]))
            self.representation_matrix_ = sparse.csr_matrix(
                sparse.diags(sign) @ sparse.csr_matrix(found.matrix)[rep] @ to_kept)
            self.affinity_matrix_ = sparse.csr_matrix(W[rep][:, rep])
            self.n_iter_ = found.n_iter
            self.candidate_violation_rate_ = found.candidate_violation_rate
            errors = None
            if found.outlying_entries is not None:
                # In the units the solver saw (rows of ``work``); outlying_entries_
                # back in the units of X.
                errors = np.asarray(found.outlying_entries)[rep] * sign[:, None]
                self.outlying_entries_ = sparse.csr_matrix(errors * (row_norms * unit)[:, None])
            else:
                self.outlying_entries_ = None

        # The bases and the collaborative rule are fitted on the points the
        # clustering saw (unit rows when normalised; both rules compare
        # residuals of one new point, so its own scale does not matter).
        points = work
        if errors is not None:
            # The subspaces hold the points without their corrupted entries.
            points = points - errors
        if not self.normalize_rows_:
            points = points * unit
        self.subspace_bases_, self.subspace_offsets_ = fit_subspace_bases(
            points, self.labels_, self.n_clusters_, affine=self.affine
        )
        progress.stage("subspace bases")
        # The fitted points are kept only for the rule that needs them.
        self._collaborative_rule = None
        if self.out_of_sample == "collaborative":
            self._collaborative_rule = fit_collaborative(
                points, self.labels_, self.n_clusters_, alpha=self.collaborative_alpha_
            )
            progress.stage("collaborative rule")
        return self

    def _min_distinct_rows(self):
        """Distinct points needed to cluster only the distinct points (one per cluster)."""
        return 3 if self.n_clusters == "auto" else max(3, int(self.n_clusters))

    def _select(self, X, rng, progress):
        """Fit every candidate and keep the one of largest relative eigengap.

        Returns the best ``(candidate, settings, representation, W,
        n_clusters, active, components, embedding)``: ``active`` are the
        points with at least one link, ``components`` their connected
        components, ``embedding`` the eigenvectors of the graph when every
        point is active. Records every candidate in ``candidates_``.
        """
        n_samples = X.shape[0]
        if self.method == "auto":
            candidates = auto_candidates(n_samples=n_samples, gamma=self.gamma,
                                         affinity=self.affinity,
                                         affinity_power=self.affinity_power,
                                         affine=self.affine)
        else:
            chosen = resolve_affinity(self.affinity, self.method, n_samples=n_samples,
                                      n_clusters=self.n_clusters)
            powers = ((self.affinity_power,) if self.affinity_power is not None
                      else AUTO_POWERS) if chosen == "power" else (None,)
            candidates = [Candidate(self.method, self.gamma, chosen, p) for p in powers]
        if any(c.affinity == "power" for c in candidates) and n_samples > POWER_AFFINITY_LIMIT:
            raise ValueError(
                f"affinity='power' builds a dense {n_samples} x {n_samples} affinity; it is "
                f"offered up to {POWER_AFFINITY_LIMIT} distinct points. Use "
                "affinity='symmetric' (or 'auto'), or fit on a sample and predict the rest."
            )
        k_asked = 1 if self.n_clusters == "auto" else int(self.n_clusters)
        # With k given, candidates compare by the distortion of their
        # spectral embedding (see the class docstring); with k estimated per
        # candidate, distortions at different k do not compare (more
        # clusters, less distortion), and the relative eigengap decides.
        compare_distortion = self.n_clusters != "auto" and len(candidates) > 1
        max_clusters = max(1, min(n_samples // 2, MAX_AUTO_CLUSTERS))
        self.candidates_ = []
        best, best_score = None, -np.inf
        representations = {}
        rank = None
        for number, candidate in enumerate(candidates, start=1):
            settings = self._resolve(candidate, n_samples)
            key = (candidate.method, settings)
            if key not in representations:
                representations.clear()  # one representation held at a time
                found = METHODS[candidate.method].represent(
                    X, settings, random_state=rng, n_jobs=self.n_jobs, progress=progress)
                if progress.verbose:  # no formatting for a silent fit
                    described = _describe(candidate.method, settings.gamma)
                    progress.stage(f"representation: {described}, n_iter={found.n_iter}")
                embedding_u = None
                representations[key] = found
            found = representations[key]
            if candidate.affinity == "power":
                if rank is None:
                    rank = (default_power_rank(X, k_asked) if self.affinity_rank is None
                            else int(min(self.affinity_rank, n_samples)))
                if embedding_u is None:
                    embedding_u = power_embedding(found.matrix, rank)
                W = power_from_embedding(embedding_u, candidate.power)
            else:
                W = affinity_from_representation(found.matrix, candidate.affinity,
                                                 self.n_neighbors_)
            # A point without any link (an all-zero row) is its own component
            # and adds a zero eigenvalue whatever the clusters: the graph is
            # read without such points, which are labelled afterwards.
            active = np.flatnonzero(np.asarray(W.sum(axis=1)).ravel() > 0)
            W_active = W if active.size == n_samples else W[active][:, active]
            n_components, components = count_components(W_active)
            if self.n_clusters == "auto":
                k, _ = estimate_n_clusters(W_active, max_clusters, rng,
                                           min_clusters=n_components)
            else:
                k = k_asked
            vectors, gap, distortion, labels = None, 0.0, None, None
            if active.size > k:
                eigenvalues, vectors = top_eigenpairs(W_active, k + 1, rng)
                gap = relative_eigengap(eigenvalues, k)
            if n_components >= k:
                distortion = 0.0  # k components: k orthogonal unit rows
            elif vectors is not None and compare_distortion:
                labels, distortion = embedding_kmeans(vectors, k, n_init=self.n_init,
                                                      random_state=rng)
            self.candidates_.append({
                "method": candidate.method, "gamma": settings.gamma,
                "affinity": candidate.affinity,
                "affinity_rank": rank if candidate.affinity == "power" else None,
                "affinity_power": candidate.power, "n_clusters": int(k),
                "n_components": int(n_components), "relative_eigengap": gap,
                "embedding_distortion": distortion,
            })
            if progress.verbose:
                described = _describe(candidate.method, settings.gamma, candidate.affinity,
                                      rank, candidate.power)
                measured = "" if distortion is None else f"embedding distortion {distortion:.4g}, "
                progress.stage(f"candidate {number}/{len(candidates)}: {described}: "
                               f"{measured}relative eigengap {gap:.4g} at {k} clusters, "
                               f"{n_components} component(s)")
            # Fewer components than clusters beat more (whose extra
            # components are merged by a heuristic), then the criterion.
            # Distortions below one rounding unit are all "k exact clusters"
            # (their values, about 1e-31, are rounding noise): ties, which
            # the first candidate wins, so the choice does not flip with the
            # rounding of the rows (copies folded by sign, rows reordered).
            score = (n_components <= k,
                     -max(distortion, _EPS) if compare_distortion and distortion is not None
                     else gap)
            if best is None or score > best_score:
                best_score = score
                whole = active.size == n_samples
                best = (candidate, settings, found, W, k, active, components,
                        vectors if whole else None, labels if whole else None,
                        gap, distortion)
        candidate, settings = best[0], best[1]
        self._resolve(candidate, n_samples)  # the chosen one's fitted attributes
        self.method_ = candidate.method
        self.affinity_ = candidate.affinity
        self.affinity_rank_ = rank if candidate.affinity == "power" else None
        self.affinity_power_ = candidate.power
        self.relative_eigengap_ = best[9]
        self.embedding_distortion_ = best[10]
        return best[:9]

    def _check_n_samples(self, shape):
        """One point per cluster, as for k-means: fewer rows cannot make k clusters.

        Two points per cluster are what lets every point be expressed by
        others of its own subspace, but a cluster of one point is still
        well defined (its subspace is the line through the point, the point
        itself with ``affine=True``), so only fewer rows than clusters are
        impossible.
        """
        if self.n_clusters == "auto" or shape[0] >= self.n_clusters:
            return
        raise ValueError(
            f"{self._caller('fit')}: Found array with {shape[0]} sample(s) (shape={shape}) "
            f"for n_clusters={self.n_clusters}: each cluster needs at least one point, so "
            f"a minimum of {self.n_clusters} samples is required. Pass at least "
            f"{self.n_clusters} rows or n_clusters <= {shape[0]}."
        )

    def _check_options(self):
        if self.out_of_sample == "collaborative" and self.affine:
            raise ValueError(
                "out_of_sample='collaborative' expresses new points by a linear "
                "combination of the fitted points and has no affine form. Use "
                "out_of_sample='basis' (bases centred on each cluster's mean) with "
                "affine=True."
            )
        if self.out_of_sample == "collaborative":
            self.collaborative_alpha_ = (DEFAULT_COLLABORATIVE_ALPHA
                                         if self.collaborative_alpha is None
                                         else self.collaborative_alpha)
        else:
            self.collaborative_alpha_ = None

    def _resolve(self, candidate, n_samples):
        """Every default of one candidate, into the fitted attributes ending in ``_``."""
        settings = resolve_settings(
            candidate.method,
            n_samples=n_samples,
            n_clusters=1 if self.n_clusters == "auto" else self.n_clusters,
            gamma=candidate.gamma,
            tau=self.tau,
            n_nonzero=self.n_nonzero,
            n_candidates=self.n_candidates,
            max_iter=self.max_iter,
            affine=self.affine,
            outlier_gamma=self.outlier_gamma,
        )
        self.gamma_ = None if settings.gamma is None else float(settings.gamma)
        self.tau_ = settings.tau
        self.n_nonzero_ = settings.n_nonzero
        self.n_candidates_ = settings.n_candidates
        self.max_iter_ = settings.max_iter
        self.n_neighbors_ = (min(self.n_neighbors, n_samples - 1)
                             if candidate.affinity == "knn" else None)
        return settings

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

        Both rules label each point on its own, so points are labelled in
        blocks of rows (a bounded working memory), and a dask array block
        by block, lazily.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            New points.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,), or dask array
            Cluster of each point; for a dask array, a lazy dask array of its
            row chunks (its blocks are checked for NaN and infinity as they
            are read).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False, method="predict")
        label_rows = self._label_rows()
        if is_dask_array(X):
            # Each row block is labelled by the same in-memory rule, lazily.
            return blockwise_transform(X, label_rows, None, np.intp)
        return label_rows(X)

    def fit_predict(self, X, y=None):
        """Cluster the rows of ``X`` and return their labels.

        Parameters
        ----------
        X : {array-like, dask array} of shape (n_samples, n_features)
            The points.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,), or dask array
            ``labels_`` (a lazy dask array when X is one).
        """
        return self.fit(X).labels_


def _describe(method, gamma, affinity=None, affinity_rank=None, affinity_power=None):
    """The parameters of a representation or candidate, for a progress line."""
    parts = [f"method={method!r}"]
    if gamma is not None:
        parts.append(f"gamma={gamma:g}")
    if affinity is not None:
        parts.append(f"affinity={affinity!r}")
    if affinity_power is not None:
        parts.append(f"affinity_rank={affinity_rank}, affinity_power={affinity_power:g}")
    return ", ".join(parts)


def _row_norms(X):
    """Euclidean norm of each row (X already in a power of two of its units)."""
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def _canonical_rows(X, min_distinct, *, up_to_sign=False):
    """The rows in a canonical (sorted) order, each distinct row once.

    The rows are sorted lexicographically, so the clustered matrix, and with
    it every step after, is the same bits whatever the order of the rows:
    the labels cannot depend on it. Identical rows are then kept once (a
    point must not be expressed by its own copy: the copy's coefficient
    would take all the weight and cut the point from its subspace), unless
    fewer than ``min_distinct`` distinct rows remain, in which case all
    sorted rows are clustered. With ``up_to_sign`` (unit rows of linear
    subspaces), rows equal up to rounding (a grid of 2^-40) and up to sign
    are one point: x and -x lie in exactly the same subspaces, and one would
    express the other alone. Each row is then first given the sign that
    makes its first nonzero entry (on the grid) positive, and the rows
    clustered are these sign-folded rows: which of x and -x comes first
    cannot matter. The row kept for a group is its smallest after the sort,
    whatever the row order.

    Returns
    -------
    fit_rows : ndarray of shape (m, n_features)
        The rows clustered: rows of X, times -1 for the rows ``up_to_sign``
        folded.
    rep : ndarray of int of shape (n_samples,)
        Row of ``fit_rows`` each original row stands as.
    kept : ndarray of int of shape (m,)
        Original index of each row of ``fit_rows``.
    sign : ndarray of shape (n_samples,)
        +1 or -1: each original row is, up to rounding, ``sign`` times the
        row of ``fit_rows`` it stands as.
    group : ndarray of int of shape (n_samples,)
        Index of each original row's distinct point (0 .. n_distinct - 1).
    """
    n_samples = X.shape[0]
    folded, key = X, X
    sign = np.ones(n_samples)
    if up_to_sign and X.shape[1]:
        # Unit rows compare on a grid: the rows of one point scaled
        # differently are equal only up to rounding once normalised.
        key = np.round(X * UNIT_ROW_GRID)
        # The sign that makes each row's first nonzero entry positive.
        leading = key[np.arange(n_samples), np.argmax(key != 0, axis=1)]
        sign[leading < 0] = -1.0
        folded = X * sign[:, None]
        key = key * sign[:, None]
    # Sorted by the key, then by the rows themselves: the row kept for a
    # group of near duplicates is its smallest, whatever the row order.
    columns = [*folded.T[::-1]] if key is X else [*folded.T[::-1], *key.T[::-1]]
    order = np.lexsort(columns) if X.shape[1] else np.arange(n_samples)
    ordered_key = key[order]
    new = np.ones(n_samples, dtype=bool)
    new[1:] = np.any(ordered_key[1:] != ordered_key[:-1], axis=1)
    group = np.empty(n_samples, dtype=np.intp)
    group[order] = np.cumsum(new) - 1
    if np.count_nonzero(new) < min_distinct:
        rep = np.empty(n_samples, dtype=np.intp)
        rep[order] = np.arange(n_samples)
        return folded[order], rep, order, sign, group
    kept = order[new]
    return folded[kept], group, kept, sign, group


def _labels_as_dask(labels, row_chunks):
    """In-memory labels as a dask array with the row chunks of the data."""
    da = import_dask_array("SubspaceClusterer.fit")
    return da.from_array(labels, chunks=(row_chunks,))


def _label_in_blocks(X, bases=None, offsets=None, rule=None):
    """Labels of the rows of X by the basis rule (or ``rule``), in blocks of rows.

    Both rules label each row on its own, so blocks give the labels of the
    whole array; a block of at most :data:`BLOCK_FLOATS` floats bounds their
    temporaries (a few copies of the block) whatever the number of rows, and
    each block is read in float64 as the rules need.
    """
    n_rows, n_features = X.shape
    size = max(1, BLOCK_FLOATS // max(n_features, 1))
    labels = np.empty(n_rows, dtype=np.intp)
    for start in range(0, n_rows, size):
        rows = np.asarray(X[start:start + size], dtype=np.float64)
        labels[start:start + size] = (predict_by_bases(rows, bases, offsets) if rule is None
                                      else predict_collaborative(rows, rule))
    return labels


def _relabel_by_first_appearance(labels):
    """Renumber clusters 0..k-1 by first appearance (deterministic labels)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.intp)
