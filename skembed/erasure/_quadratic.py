r"""Quadratic concept erasure: Gaussian optimal transport to the Wasserstein barycenter.

The math behind ``NonlinearConceptEraser(method="quadratic")`` (QLEACE,
Belrose et al., 2023, section 6). Each class k of the concept is modelled
by the weight :math:`\pi_k`, mean :math:`\mu_k` and covariance
:math:`\Sigma_k` of its rows. Every class is moved onto one common Gaussian,
the 2-Wasserstein barycenter of the classes: mean
:math:`\bar\mu = \sum_k \pi_k \mu_k` and covariance :math:`\bar\Sigma`, the
fixed point of

.. math:: \bar\Sigma = \sum_k \pi_k (\bar\Sigma^{1/2} \Sigma_k \bar\Sigma^{1/2})^{1/2}

(Agueh & Carlier, 2011), found by the iteration of Alvarez-Esteban et al.
(2016), :func:`wasserstein_barycenter`. The optimal transport map of class
k onto it is affine,

.. math::

    T_k(x) = \bar\mu + A_k (x - \mu_k), \qquad
    A_k = \Sigma_k^{-1/2} (\Sigma_k^{1/2} \bar\Sigma \Sigma_k^{1/2})^{1/2} \Sigma_k^{-1/2},

with :math:`A_k` symmetric positive semi-definite
(:func:`transport_maps`); :math:`A_k \Sigma_k A_k = \bar\Sigma` whenever
:math:`\Sigma_k` is non-singular, whatever :math:`\bar\Sigma` is (the
barycenter only makes the maps the cheapest ones). Without labels, a point
is moved by the maps weighted by the class posteriors of the Gaussian
discriminant with the same means, covariances and priors
(:class:`GaussianDiscriminant`, :func:`posterior_transport`).

Singular covariances (a class with no more rows than features, collinear or
constant features) are handled on their numerical support, every square
root, inverse square root and rank decision going through
:func:`skembed.utils.extmath.psd_eigh` and its rank rule: the inverse
square roots are pseudo-inverses, so :math:`A_k` acts on the span of the
class's variance only and :math:`A_k \Sigma_k A_k = P_k \bar\Sigma P_k`,
with :math:`P_k` the projection onto that span (no affine map can give a
class more variance directions than it has). The functions know nothing of
estimators. They work on covariances in standardised units: the caller
divides each feature by a scale of its own (``NonlinearConceptEraser``, by
its pooled within-class standard deviation), so the relative rank rule and
the Frobenius stopping rule judge every feature at its own scale, and the
maps are optimal for the mean squared edit in those units; :func:`transport`
and :func:`posterior_transport` take the rows in the data's units and the
scales, and return the rows in the data's units.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..utils.extmath import psd_eigh

__all__ = [
    "GaussianDiscriminant",
    "posterior_transport",
    "psd_sqrt_pair",
    "transport",
    "transport_maps",
    "wasserstein_barycenter",
]

_EPS = np.finfo(np.float64).eps
_LOG_2PI = np.log(2 * np.pi)


def _symmetric(matrix):
    """``(M + M^T) / 2``: products of symmetric factors, symmetric again."""
    return (matrix + matrix.T) / 2


def psd_sqrt_pair(matrix):
    """``(M^{1/2}, (M^{1/2})^+)`` of a symmetric PSD matrix from one eigendecomposition.

    Eigenvalues under the rank tolerance of :func:`~skembed.utils.extmath.psd_eigh`
    count as zero in both, so the pseudo-inverse root drops directions
    without variance rather than blowing them up.

    Examples
    --------
    >>> import numpy as np
    >>> root, inverse_root = psd_sqrt_pair(np.diag([4.0, 0.0]))
    >>> root
    array([[2., 0.],
           [0., 0.]])
    >>> inverse_root
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    return _roots_of(psd_eigh(matrix))


def _roots_of(decomposition):
    """``(M^{1/2}, (M^{1/2})^+)`` from ``psd_eigh(M)``."""
    eigenvalues, eigenvectors = decomposition
    roots = np.sqrt(eigenvalues)
    root = _symmetric((eigenvectors * roots) @ eigenvectors.T)
    inverse_root = _symmetric((eigenvectors / roots) @ eigenvectors.T)
    return root, inverse_root


def _psd_sqrt(matrix):
    eigenvalues, eigenvectors = psd_eigh(matrix)
    return _symmetric((eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T)


def wasserstein_barycenter(covariances, weights, *, tol=1e-8, max_iter=100,
                           decompositions=None):
    r"""Covariance of the 2-Wasserstein barycenter of centred Gaussians.

    The fixed-point iteration of Alvarez-Esteban et al. (2016, Theorem 4.2):

    .. math::

        S \leftarrow S^{-1/2} \Big(\sum_k \pi_k (S^{1/2} \Sigma_k S^{1/2})^{1/2}\Big)^2
        S^{-1/2},

    until the relative change :math:`\|S_{t+1} - S_t\|_F / \|S_{t+1}\|_F` is
    at most ``tol``. Each step does not increase the barycenter's objective;
    it converges to the barycenter when some :math:`\Sigma_k` is
    non-singular (otherwise to a fixed point on the span of the start). It
    starts at the weighted mean of the covariances or, for two Gaussians one
    of which is non-singular, at their barycenter in closed form, McCann's
    interpolant :math:`(\pi_0 I + \pi_1 A) \Sigma_0 (\pi_0 I + \pi_1 A)`
    with :math:`A` the optimal map from :math:`\Sigma_0` to
    :math:`\Sigma_1`; the first step then only confirms it.

    Parameters
    ----------
    covariances : ndarray of shape (n_classes, d, d)
        Symmetric PSD matrices, in one common unit (standardised features:
        the relative stopping rule weighs every feature alike).
    weights : ndarray of shape (n_classes,)
        Non-negative weights (normalised here).
    tol : float, default=1e-8
        Relative change (Frobenius) at which to stop.
    max_iter : int, default=100
        Most steps.
    decompositions : list of (eigenvalues, eigenvectors), default=None
        ``psd_eigh`` of each covariance, when the caller has them.

    Returns
    -------
    barycenter : ndarray of shape (d, d)
    n_iter : int
        Steps taken.
    converged : bool
        Whether the last step changed ``S`` by at most ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> S, n_iter, converged = wasserstein_barycenter(
    ...     np.array([np.diag([1.0, 4.0]), np.diag([9.0, 4.0])]), np.array([0.5, 0.5]))
    >>> np.round(S, 12)  # commuting covariances: the mean of the square roots, squared
    array([[4., 0.],
           [0., 4.]])
    """
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    n_features = covariances.shape[1]
    if decompositions is None:
        decompositions = [psd_eigh(covariance) for covariance in covariances]
    barycenter = None
    if len(covariances) == 2:
        full = [index for index in (0, 1) if decompositions[index][0].size == n_features]
        if full:
            base, other = full[0], 1 - full[0]
            transport_map = transport_maps(covariances[[base]], covariances[other],
                                           decompositions=[decompositions[base]])[0]
            step = weights[other] * transport_map
            step[np.diag_indices(n_features)] += weights[base]
            barycenter = _symmetric(step @ covariances[base] @ step)
    if barycenter is None:
        barycenter = _symmetric(np.tensordot(weights, covariances, axes=1))
    for n_iter in range(1, max_iter + 1):
        root, inverse_root = psd_sqrt_pair(barycenter)
        mean_root = np.zeros_like(barycenter)
        for weight, covariance in zip(weights, covariances):
            if weight > 0:
                mean_root += weight * _psd_sqrt(_symmetric(root @ covariance @ root))
        step = inverse_root @ mean_root
        updated = _symmetric(step @ step.T)
        change = np.linalg.norm(updated - barycenter)
        scale = np.linalg.norm(updated)
        barycenter = updated
        if change <= tol * scale:
            return barycenter, n_iter, True
    return barycenter, max_iter, False


def transport_maps(covariances, barycenter, *, decompositions=None):
    r"""The symmetric PSD matrices :math:`A_k` of the optimal maps onto ``barycenter``.

    :math:`A_k = \Sigma_k^{+1/2} (\Sigma_k^{1/2} \bar\Sigma \Sigma_k^{1/2})^{1/2}
    \Sigma_k^{+1/2}`: the Monge map from :math:`N(0, \Sigma_k)` to
    :math:`N(0, \bar\Sigma)` when :math:`\Sigma_k` is non-singular; on a
    singular one, the map of its support (the rest of the space maps to 0).

    Parameters
    ----------
    covariances : ndarray of shape (n_classes, d, d)
    barycenter : ndarray of shape (d, d)

    decompositions : list of (eigenvalues, eigenvectors), default=None
        ``psd_eigh`` of each covariance, when the caller has them.

    Returns
    -------
    maps : ndarray of shape (n_classes, d, d)

    Examples
    --------
    >>> import numpy as np
    >>> transport_maps(np.array([np.diag([1.0, 4.0])]), np.diag([4.0, 4.0]))[0]
    array([[2., 0.],
           [0., 1.]])
    """
    maps = np.empty_like(covariances)
    for index, covariance in enumerate(covariances):
        root, inverse_root = (psd_sqrt_pair(covariance) if decompositions is None
                              else _roots_of(decompositions[index]))
        middle = _psd_sqrt(_symmetric(root @ barycenter @ root))
        maps[index] = _symmetric(inverse_root @ middle @ inverse_root)
    return maps


def transport(X, mean, transport_map, barycenter_mean, scale=1.0, *, out=None):
    """``barycenter_mean + ((X - mean) / scale) @ transport_map * scale``, in float64.

    ``X``, ``mean`` and ``barycenter_mean`` in the data's units,
    ``transport_map`` in the standardised units of ``scale`` (one per
    feature, or one for all); the result is written to ``out`` when given.
    The rows are centred in their own units (no rounding of the mean beyond
    the data's) and only then divided, so features of 1e-150 and 1e150 meet
    in the product as numbers of order 1.
    """
    centred = np.asarray(X, dtype=np.float64) - mean
    centred /= scale
    result = np.matmul(centred, transport_map, out=out)
    result *= scale
    result += barycenter_mean
    return result


@dataclass(frozen=True, eq=False)
class GaussianDiscriminant:
    r"""Class log-posteriors of Gaussians with given means, covariances and priors (QDA).

    .. math::

        \log p(k \mid x) = \log \pi_k - \tfrac12 (x - \mu_k)^\top \Sigma_k^{-1} (x - \mu_k)
        - \tfrac12 \log\det \Sigma_k - \log Z(x),

    normalised in log space (log-sum-exp). A singular :math:`\Sigma_k` has
    its eigenvalues floored at ``floor``, the variance under which the rank
    rule calls a direction empty (``d eps`` times the largest eigenvalue of
    all classes, in the covariances' units), so its density stays finite: a
    point off the class's affine span is penalised by its squared distance
    to it over the floor, the degenerate Gaussian's limit (posteriors near 0
    or 1, decided by the distance to each class's span). Shrinkage avoids
    that regime.

    Build it with :meth:`from_covariances`.
    """

    means: np.ndarray  #: (k, d), in the data's units divided by ``unit``
    bases: tuple  #: per class, eigenvectors (d, r_k) on the support
    variances: tuple  #: per class, the floored eigenvalues (r_k,)
    floor: float  #: the variance given to directions off a class's support
    log_priors: np.ndarray  #: (k,)
    log_normalisers: np.ndarray  #: (k,) log prior - (log det + d log 2 pi) / 2
    unit: object  #: float or (d,) array: rows are divided by it first

    @classmethod
    def from_covariances(cls, means, covariances, priors, unit, *, decompositions=None):
        """The discriminant of ``covariances`` (in ``unit``'s units) and ``means`` (data's).

        ``unit``: one scale for every feature (a float), or one per feature
        (shape (d,)): entry (i, j) of the covariances is in units of
        ``unit[i] * unit[j]``, and rows are divided by ``unit`` before their
        distances are taken (the posteriors do not depend on it, their
        rounding does). ``decompositions``: ``psd_eigh`` of each covariance,
        when the caller has them.
        """
        n_features = covariances.shape[1]
        if decompositions is None:
            decompositions = [psd_eigh(covariance) for covariance in covariances]
        largest = max((values[-1] for values, _ in decompositions if values.size),
                      default=0.0)
        # The rank rule's tolerance (psd_eigh's own cut) on the largest
        # variance of all classes; the smallest positive float when every
        # class is a point.
        floor = max(largest * n_features * _EPS, np.finfo(np.float64).tiny)
        bases, variances, log_dets = [], [], []
        for values, vectors in decompositions:
            values = np.maximum(values, floor)
            bases.append(np.ascontiguousarray(vectors))
            variances.append(values)
            log_dets.append(np.log(values).sum() + (n_features - values.size) * np.log(floor))
        priors = np.asarray(priors, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_priors = np.log(priors / priors.sum())
        log_normalisers = log_priors - (np.array(log_dets) + n_features * _LOG_2PI) / 2
        unit = float(unit) if np.ndim(unit) == 0 else np.asarray(unit, dtype=np.float64)
        return cls(np.asarray(means, dtype=np.float64) / unit, tuple(bases), tuple(variances),
                   float(floor), log_priors, log_normalisers, unit)

    def log_posteriors(self, X):
        """``log p(k | x)`` for each row of X, shape (n, k)."""
        X = np.asarray(X, dtype=np.float64) / self.unit
        n_features = X.shape[1]
        log_joint = np.empty((X.shape[0], len(self.bases)))
        for k, (basis, values) in enumerate(zip(self.bases, self.variances)):
            centred = X - self.means[k]
            coordinates = centred @ basis
            distance = np.einsum("ij,ij->i", coordinates / values, coordinates)
            if basis.shape[1] < n_features:
                # Off the support: the residual's squared norm over the floor.
                centred -= coordinates @ basis.T
                distance += np.einsum("ij,ij->i", centred, centred) / self.floor
            log_joint[:, k] = self.log_normalisers[k] - distance / 2
        return log_joint - logsumexp(log_joint, axis=1, keepdims=True)

    def posteriors(self, X):
        """``p(k | x)`` for each row of X, shape (n, k); each row sums to 1."""
        return np.exp(self.log_posteriors(X))


def posterior_transport(X, means, maps, barycenter_mean, posteriors, scale=1.0):
    r"""``sum_k p(k | x) T_k(x)`` for each row: the label-free quadratic eraser.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Rows in the data's units.
    means : ndarray of shape (k, d)
        In the data's units.
    maps : ndarray of shape (k, d, d)
        In the standardised units of ``scale``.
    barycenter_mean : ndarray of shape (d,)
        In the data's units.
    posteriors : ndarray of shape (n, k)
        Rows summing to 1.
    scale : float or ndarray of shape (d,), default=1.0
        The units of the maps.

    Returns
    -------
    moved : ndarray of shape (n, d), float64
        :math:`\bar\mu + D \sum_k p(k \mid x) B_k D^{-1} (x - \mu_k)`, with
        :math:`D` the diagonal of ``scale`` and :math:`B_k` the maps.
    """
    standardised = np.zeros((X.shape[0], X.shape[1]))
    work = np.empty_like(standardised)
    for k in range(len(maps)):
        if not posteriors[:, k].any():
            continue
        np.subtract(X, means[k], out=work)
        work /= scale
        shifted = work @ maps[k]
        shifted *= posteriors[:, k, None]
        standardised += shifted
    standardised *= scale
    standardised += barycenter_mean
    return standardised
