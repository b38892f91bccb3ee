r"""The spectral step shared by every self-expressive method.

From a representation matrix :math:`C` (row j expresses point j) to labels:

1. **Affinity.** ``"symmetric"``: :math:`W = |\bar C| + |\bar C|^\top` where
   :math:`\bar C` is :math:`C` with each row scaled to unit l2 norm (so every
   point has the same say, whatever the scale of its coefficients; You et al.
   2016). ``"knn"``: the symmetrised graph of the ``n_neighbors`` nearest rows
   of :math:`|\bar C|` (points whose representations use the same points).
2. **Normalised Laplacian.** :math:`L = I - D^{-1/2} W D^{-1/2}` with
   :math:`D = \operatorname{diag}(W \mathbf 1)`; the k eigenvectors of its
   smallest eigenvalues are those of the largest eigenvalues of the sparse
   :math:`N = D^{-1/2} W D^{-1/2}`, found by ``eigsh`` (dense ``eigh`` for
   small n). No dense n x n matrix is built for large n.
3. **Row normalisation** of the n x k embedding (Ng, Jordan & Weiss, NIPS
   2001): each point is mapped to the unit sphere before k-means. On the very
   sparse graphs of subspace clustering, rows of points weakly connected to
   their cluster are short and k-means on the raw embedding splits clusters
   by row length; the normalisation removes that.
4. **k-means** with ``n_init`` restarts.

The third affinity, ``"power"``, is the post-processing of the SSC code
(Elhamifar & Vidal 2013) and of deep subspace clustering networks (Ji,
Zhang, Li, Salzmann & Reid, NIPS 2017): the symmetrised coefficients
:math:`A = (C + C^\top)/2` are replaced by their best rank-r approximation,
:math:`A \approx U \Sigma V^\top`, each row of :math:`U \Sigma^{1/2}` is
scaled to unit length (:math:`u_i`), and

.. math::

    W_{ij} = \max(u_i^\top u_j, 0)^{p}, \qquad W_{ii} = 0.

The rank cut removes the directions of :math:`A` that carry noise rather
than subspace membership; the power sharpens the contrast between the
(near 1) similarities within a subspace and the smaller ones across
subspaces. Haeffele, You & Vidal ("A critique of self-expressive deep
subspace clustering", ICLR 2021) show that this step explains much of the
accuracy reported for deep methods; applied to the closed form of LSR it
gives the figures of ``benchmarks/RESULTS.md``. :math:`W` is dense: up to
:data:`POWER_AFFINITY_LIMIT` points.

With ``n_clusters="auto"`` the number of clusters is the k >= 2 of largest
*relative* eigengap of :math:`L` (:func:`relative_eigengap`, AutoSC's
criterion; the eigengap heuristic of von Luxburg 2007 measured relative to
the size of the first k eigenvalues): a graph with k well separated
clusters has k eigenvalues near 0 and then a jump. The plain gap is not
used: on noisy graphs the tail's gaps are larger than the jump after the
small eigenvalues. A graph with c > 1 connected components has c clusters:
the eigengap is only read on a connected graph (:func:`estimate_n_clusters`).

A graph with more connected components than clusters has a null space of
:math:`L` larger than k, whose basis (and so the labels) the eigensolver
picks arbitrarily; :func:`merge_components` groups its components by the
largest absolute cosine between their points instead (single linkage).
"""

import numpy as np
from scipy import linalg, sparse
from scipy.cluster.hierarchy import cut_tree, linkage
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from ..utils import sparse_row_kneighbors
from ..utils.extmath import safe_reciprocal

#: Below this many points the eigenvectors come from a dense eigendecomposition.
DENSE_EIGEN_LIMIT = 1000
#: Most points of the dense ``"power"`` affinity (a 5,000 x 5,000 float64
#: matrix is 200 MB, and its eigendecomposition about a minute on one core).
POWER_AFFINITY_LIMIT = 5000
#: Share of the data's energy its rank keeps in the default rank of the
#: ``"power"`` affinity (:func:`default_power_rank`).
POWER_RANK_ENERGY = 0.99
#: Most points whose cosines to all others :func:`merge_components` computes
#: exactly; above it, each point's nearest neighbours by ``|cos|`` only.
EXACT_MERGE_LIMIT = 20_000
#: Neighbours per point searched by :func:`merge_components` above that.
MERGE_NEIGHBORS = 50


def affinity_from_representation(C, kind="symmetric", n_neighbors=3, *, rank=None, power=8.0):
    """Symmetric sparse affinity from a representation matrix.

    Parameters
    ----------
    C : sparse matrix of shape (n_samples, n_samples)
        Row j holds the coefficients of point j.
    kind : {"symmetric", "knn", "power"}, default="symmetric"
        See the module docstring.
    n_neighbors : int, default=3
        Neighbours per point for ``"knn"``.
    rank : int, default=None
        Rank r of ``"power"`` (None: ``n_samples - 1``, no cut).
    power : float, default=8.0
        Exponent p of ``"power"``.

    Returns
    -------
    W : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Non-negative, symmetric, zero diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from skembed.cluster import affinity_from_representation
    >>> C = sparse.csr_matrix(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, -3.0, 0.0]]))
    >>> affinity_from_representation(C).toarray()
    array([[0., 2., 0.],
           [2., 0., 1.],
           [0., 1., 0.]])
    """
    # scikit-learn's normalize, as extmath.normalize_rows is dense only: C is
    # sparse (n x n) and must stay so.
    if kind == "power":
        return power_affinity(C, rank, power)
    rows = normalize(abs(sparse.csr_matrix(C, dtype=np.float64)), norm="l2")
    if kind == "symmetric":
        W = rows + rows.T
    else:
        # Only rows sharing a nonzero can be near: skembed's sparse row search.
        graph = sparse_row_kneighbors(rows, n_neighbors)
        W = graph + graph.T
    W = sparse.csr_matrix(W)
    W.setdiag(0)
    W.eliminate_zeros()
    return W


def power_affinity(C, rank=None, power=8.0):
    r"""The ``"power"`` affinity: rank-r SVD, unit rows, entries to the power p.

    Parameters
    ----------
    C : sparse matrix or ndarray of shape (n_samples, n_samples)
        Row j holds the coefficients of point j.
    rank : int, default=None
        Singular triplets kept (None: all but one); at most ``n_samples``.
    power : float, default=8.0
        Exponent applied to the clipped cosines.

    Returns
    -------
    W : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        :math:`\max(u_i^\top u_j, 0)^p` off the diagonal (see the module
        docstring); symmetric, entries in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.cluster._spectral import power_affinity
    >>> from scipy import linalg
    >>> C = linalg.block_diag(np.ones((3, 3)), np.ones((2, 2))) - np.eye(5)
    >>> power_affinity(C, rank=2, power=2.0).toarray()
    array([[0., 1., 1., 0., 0.],
           [1., 0., 1., 0., 0.],
           [1., 1., 0., 0., 0.],
           [0., 0., 0., 0., 1.],
           [0., 0., 0., 1., 0.]])
    """
    return power_from_embedding(power_embedding(C, rank), power)


def power_embedding(C, rank=None):
    """Unit rows of :math:`U \\Sigma^{1/2}`, the rank-r SVD of :math:`(C + C^\\top)/2`.

    The first half of :func:`power_affinity`, shared by every power tried
    on one representation.

    Returns
    -------
    U : ndarray of shape (n_samples, rank)
    """
    A = C.toarray() if sparse.issparse(C) else np.array(C, dtype=np.float64)
    A = (A + A.T) / 2
    n_samples = A.shape[0]
    rank = n_samples - 1 if rank is None else int(min(rank, n_samples))
    # A is symmetric: its singular values are |eigenvalues| and its left
    # singular vectors its eigenvectors, so one symmetric eigendecomposition
    # gives the SVD (the research code calls svds on A).
    values, vectors = linalg.eigh(A, overwrite_a=True, check_finite=False)
    keep = np.argsort(-np.abs(values), kind="stable")[: max(rank, 1)]
    return normalize(vectors[:, keep] * np.sqrt(np.abs(values[keep])), norm="l2")


def power_from_embedding(U, power):
    """The second half of :func:`power_affinity`: clipped cosines to the power p."""
    W = U @ U.T
    np.clip(W, 0.0, 1.0, out=W)  # negative cosines out; rounding can exceed 1
    W **= power
    np.fill_diagonal(W, 0.0)
    W = sparse.csr_matrix(W)
    W.eliminate_zeros()
    return W


def default_power_rank(X, n_clusters):
    r"""Rank of the ``"power"`` affinity derived from the data.

    The coefficients of a self-expressive method live, up to noise, in the
    span of the data: LSR's :math:`C = I - \lambda D` mixes the rows through
    :math:`(X X^\top + \lambda I)^{-1}`, whose directions beyond the data's
    signal rank only carry the ridge. The rank kept is therefore the number
    of singular values of X that carry a share :data:`POWER_RANK_ENERGY` of
    its energy (sum of squared singular values), at least ``n_clusters + 1``
    (the spectral step needs k independent directions) and at most
    ``n_samples - 1``. For k subspaces of dimension d it is about k d, the
    order of the research code's fixed ``d K + 1``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points as the method saw them.
    n_clusters : int
        Clusters wanted (1 when estimated).

    Returns
    -------
    rank : int
    """
    n_samples = X.shape[0]
    singular = linalg.svdvals(X, check_finite=False)
    energy = np.cumsum(singular**2)
    if energy.size == 0 or energy[-1] <= 0:
        return max(1, min(n_clusters + 1, n_samples - 1))
    rank = int(np.searchsorted(energy, POWER_RANK_ENERGY * energy[-1]) + 1)
    return int(max(1, min(max(rank, n_clusters + 1), n_samples - 1)))


def relative_eigengap(eigenvalues, n_clusters):
    r"""AutoSC's relative eigengap of the normalised Laplacian at k clusters.

    .. math::

        \zeta_k = \frac{\lambda_{k+1} - \lambda_k}
                        {\epsilon + \frac1k \sum_{i \le k} \lambda_i},

    with the eigenvalues :math:`0 = \lambda_1 \le \lambda_2 \le \dots`
    of :math:`L` and :math:`\epsilon = 10^{-6}` (Fan, Tu, Zhang, Zhao &
    Zhang, "A simple approach to automated spectral clustering", NeurIPS
    2022): a graph of k clusters with few edges between them has k small
    eigenvalues and a jump after them, and the ratio is unit-free, so
    graphs built with different parameters compare. Larger is better.

    Parameters
    ----------
    eigenvalues : ndarray of shape (m,)
        Ascending eigenvalues of the normalised Laplacian, ``m > n_clusters``.
    n_clusters : int

    Returns
    -------
    zeta : float
    """
    k = int(n_clusters)
    low = np.clip(eigenvalues[:k], 0.0, None)
    return float((eigenvalues[k] - eigenvalues[k - 1]) / (1e-6 + low.mean()))


def merge_components(X, components, n_groups):
    """Group a graph's connected components into ``n_groups`` by single linkage.

    Two components are as close as their closest points, measured by the
    absolute cosine (the angle between lines through the origin, which is
    what a linear subspace sees): the components of one subspace that a
    sparse graph left apart join before components of different subspaces.
    The closeness of each pair is exact up to :data:`EXACT_MERGE_LIMIT`
    points (blocks of products against all points); above it, from each
    point's :data:`MERGE_NEIGHBORS` nearest points by ``|cos|`` (pairs of
    components without such a link are as far as possible).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The points (any row scaling: cosines are taken).
    components : ndarray of int of shape (n_samples,)
        Component of each point, ``0 .. c - 1``.
    n_groups : int
        Groups wanted, ``<= c``.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
        Group of each point, ``0 .. n_groups - 1``.
    """
    n_components = int(components.max()) + 1
    if n_components <= n_groups:
        return components.astype(np.intp)
    unit = normalize(np.asarray(X, dtype=np.float64), norm="l2")
    closeness = np.zeros((n_components, n_components))
    n_samples = unit.shape[0]
    if n_samples <= EXACT_MERGE_LIMIT:
        order = np.argsort(components, kind="stable")
        starts = np.searchsorted(components[order], np.arange(n_components))
        block = max(1, 2**22 // max(n_samples, 1))
        for begin in range(0, n_samples, block):
            rows = np.arange(begin, min(begin + block, n_samples))
            cosines = np.abs(unit[rows] @ unit[order].T)
            # Largest |cos| of each row to each component, then per pair.
            per_component = np.maximum.reduceat(cosines, starts, axis=1)
            np.maximum.at(closeness, components[rows], per_component)
    else:
        from ._tsc import tsc_neighbors

        indices, abs_cos = tsc_neighbors(unit, n_neighbors=min(MERGE_NEIGHBORS, n_samples - 1))
        np.maximum.at(closeness, (np.repeat(components, indices.shape[1]),
                                  components[indices.ravel()]), abs_cos.ravel())
    closeness = np.maximum(closeness, closeness.T)
    np.fill_diagonal(closeness, 1.0)
    distance = 1.0 - np.clip(closeness, 0.0, 1.0)
    condensed = distance[np.triu_indices(n_components, k=1)]
    # The tree cut after its last n_groups - 1 merges undone. Not fcluster's
    # maxclust, which cuts at a height: when every pair is equally far (the
    # components span orthogonal coordinates, closeness 0 everywhere) no
    # height separates them, and it returned a single group.
    groups = cut_tree(linkage(condensed, method="single"), n_clusters=n_groups).ravel()
    # Group numbers 0.. by the first component of each group.
    _, groups = np.unique(groups, return_inverse=True)
    return groups[components].astype(np.intp)


def count_components(W):
    """Number of connected components of the affinity graph and each point's."""
    return connected_components(sparse.csr_matrix(W), directed=False)


def _normalised_adjacency(W):
    degree = np.asarray(W.sum(axis=1)).ravel()
    # An isolated point (degree 0) keeps a zero row and column.
    scaling = sparse.diags(safe_reciprocal(np.sqrt(degree)))
    return sparse.csr_matrix(scaling @ W @ scaling)


def top_eigenpairs(W, n_components, random_state):
    """The ``n_components`` largest eigenpairs of the normalised adjacency.

    Returns eigenvalues of the Laplacian ``L = I - N`` (ascending) and the
    eigenvectors (n_samples x n_components).
    """
    N = _normalised_adjacency(W)
    n_samples = N.shape[0]
    # A graph with a quarter of its entries nonzero (the "power" affinity) is
    # decomposed faster dense than by Lanczos.
    mostly_dense = N.nnz > n_samples**2 // 4 and n_samples <= POWER_AFFINITY_LIMIT
    if n_samples <= DENSE_EIGEN_LIMIT or n_components >= n_samples // 2 or mostly_dense:
        dense = N.toarray()
        values, vectors = linalg.eigh(
            dense, subset_by_index=(n_samples - n_components, n_samples - 1)
        )
        if values.size < n_components:
            # LAPACK's subset driver (syevr) can return fewer eigenvalues
            # than asked when the wanted ones sit inside a cluster of equal
            # ones (a graph of many components: eigenvalue 1 many times
            # over); the full decomposition cannot.
            values, vectors = linalg.eigh(dense, driver="evd")
            values, vectors = values[-n_components:], vectors[:, -n_components:]
    else:
        rng = check_random_state(random_state)
        start = rng.uniform(-1, 1, n_samples)
        # N's spectrum lies in [-1, 1]; shifting by I makes it non-negative, so
        # the wanted eigenvalues are the largest in magnitude, where Lanczos
        # converges fastest.
        shifted = N + sparse.identity(n_samples, format="csr")
        values, vectors = eigsh(shifted, k=n_components, which="LM", v0=start, tol=1e-8)
        values = values - 1.0
    order = np.argsort(-values)
    return 1.0 - values[order], vectors[:, order]


def estimate_n_clusters(W, max_clusters, random_state, *, min_clusters=1):
    """Number of clusters (at least 2) from the largest relative eigengap of the Laplacian.

    A graph with c > 1 connected components (``min_clusters``) has c
    clusters: its Laplacian has c zero eigenvalues, and the eigengaps after
    them measure how well each piece is connected inside, not a further
    split (on the sparse graphs of SSC-OMP or TSC they would cut each
    subspace into dozens). The eigengap is read only on a connected graph.

    Returns
    -------
    n_clusters : int
    eigenvalues : ndarray
        The ascending eigenvalues computed (for the relative eigengap).
    """
    n_samples = W.shape[0]
    if min_clusters > 1 or n_samples < 3:
        return max(int(min_clusters), 1), None
    n_eigen = min(max(3, max_clusters + 1), n_samples)
    eigenvalues, _ = top_eigenpairs(W, n_eigen, random_state)
    # The largest relative eigengap over k >= 2. The absolute gap favoured
    # the noisy tail (0, 0, .0002, .0008, then .05 ... .11, .17: a jump of
    # .06 at 15 beat the four small eigenvalues' .05), and k = 1, whose
    # denominator is epsilon alone, would beat every k at any connected graph.
    candidates = np.arange(2, n_eigen)
    zeta = [relative_eigengap(eigenvalues, k) for k in candidates]
    return int(candidates[int(np.argmax(zeta))]), eigenvalues


def spectral_labels(W, n_clusters, *, n_init, random_state, embedding=None):
    """NJW spectral clustering of the affinity ``W``.

    Parameters
    ----------
    W : sparse matrix of shape (n_samples, n_samples)
        Symmetric non-negative affinity.
    n_clusters : int
        Clusters wanted.
    n_init : int
        k-means restarts.
    random_state : int, RandomState instance or None
        Start of the eigensolver and the k-means seeds.
    embedding : ndarray of shape (n_samples, >= n_clusters), optional
        The eigenvectors of ``W``'s normalised Laplacian, ascending
        eigenvalues, when already computed.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from skembed.cluster import spectral_labels
    >>> W = sparse.block_diag([np.ones((3, 3)) - np.eye(3)] * 2, format="csr")
    >>> spectral_labels(W, 2, n_init=5, random_state=0).tolist() in ([0, 0, 0, 1, 1, 1],
    ...                                                               [1, 1, 1, 0, 0, 0])
    True
    """
    if n_clusters == 1:
        return np.zeros(W.shape[0], dtype=np.intp)
    rng = check_random_state(random_state)
    if embedding is None:
        _, embedding = top_eigenpairs(W, n_clusters, rng)
    return embedding_kmeans(embedding, n_clusters, n_init=n_init, random_state=rng)[0]


def embedding_kmeans(embedding, n_clusters, *, n_init, random_state):
    r"""k-means on the unit rows of a spectral embedding, and its distortion.

    The last step of NJW spectral clustering: each row of the first
    ``n_clusters`` eigenvectors is scaled to unit length, then k-means. Its
    distortion, the mean squared distance of the unit rows to their centres
    (between 0 and 2), measures how far the embedding is from the ideal
    of k clusters without links between them, whose unit rows are exactly k
    orthogonal points (distortion 0); it is the quantity the step minimises,
    and the alignment criterion of self-tuning spectral clustering
    (Zelnik-Manor & Perona, NIPS 2004) measures the same distance to k
    orthogonal directions.

    Returns
    -------
    labels : ndarray of int of shape (n_samples,)
    distortion : float
    """
    embedding = embedding[:, :n_clusters]
    # scikit-learn's normalize, not extmath.normalize_rows: an isolated point's
    # row is rounding noise (norm about 1e-16), which normalize's floor of 10
    # eps leaves at the origin instead of sending it to a random unit vector.
    embedding = normalize(embedding, norm="l2")
    kmeans = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit(embedding)
    distortion = float(kmeans.inertia_) / max(embedding.shape[0], 1)
    return kmeans.labels_.astype(np.intp), distortion
