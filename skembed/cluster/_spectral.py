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

With ``n_clusters="auto"`` the number of clusters is the position of the
largest gap between consecutive eigenvalues of :math:`L` (the eigengap
heuristic, von Luxburg 2007): a graph with k well separated clusters has k
eigenvalues near 0 and then a jump.
"""

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from ..utils import sparse_row_kneighbors
from ..utils.extmath import safe_reciprocal

#: Below this many points the eigenvectors come from a dense eigendecomposition.
DENSE_EIGEN_LIMIT = 1000


def affinity_from_representation(C, kind="symmetric", n_neighbors=3):
    """Symmetric sparse affinity from a representation matrix.

    Parameters
    ----------
    C : sparse matrix of shape (n_samples, n_samples)
        Row j holds the coefficients of point j.
    kind : {"symmetric", "knn"}, default="symmetric"
        See the module docstring.
    n_neighbors : int, default=3
        Neighbours per point for ``"knn"``.

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
    if n_samples <= DENSE_EIGEN_LIMIT or n_components >= n_samples // 2:
        values, vectors = linalg.eigh(
            N.toarray(), subset_by_index=(n_samples - n_components, n_samples - 1)
        )
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


def estimate_n_clusters(W, max_clusters, random_state):
    """Number of clusters from the largest eigengap of the normalised Laplacian."""
    n_samples = W.shape[0]
    n_components = max(2, min(max_clusters + 1, n_samples - 1))
    eigenvalues, _ = top_eigenpairs(W, n_components, random_state)
    gaps = np.diff(eigenvalues)
    return int(np.argmax(gaps[: n_components - 1]) + 1)


def spectral_labels(W, n_clusters, *, n_init, random_state):
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
    _, embedding = top_eigenpairs(W, n_clusters, rng)
    # scikit-learn's normalize, not extmath.normalize_rows: an isolated point's
    # row is rounding noise (norm about 1e-16), which normalize's floor of 10
    # eps leaves at the origin instead of sending it to a random unit vector.
    embedding = normalize(embedding, norm="l2")
    kmeans = KMeans(n_clusters, n_init=n_init, random_state=rng)
    return kmeans.fit_predict(embedding).astype(np.intp)
