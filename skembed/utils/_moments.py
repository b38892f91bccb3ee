"""Weighted, mergeable first and second moments (mean, covariance, cross-covariances).

The closed-form erasers (LEACE, SAL/orth, SPLICE) need only the mean of X, the
covariance of X and the cross-covariances of X with the concept (and the
task target); whitening in the relative representation needs the first two.
These are accumulated batch by batch with the pairwise update of Chan, Golub & LeVeque
(1979): for batches A and B of total weights n_A, n_B
with means m_A, m_B and centred scatter matrices S_A, S_B,

    n = n_A + n_B,   delta = m_B - m_A,   m = m_A + delta n_B / n,
    S = S_A + S_B + (n_A n_B / n) delta_x delta_z^T,

which is exact, so a fit on ten chunks equals a fit on all rows up to
rounding, and integer sample weights equal repeated rows. Within a batch the
scatter is computed on centred rows, block by block, so large means do not
cancel catastrophically and memory stays bounded.
"""

import numpy as np
from sklearn.utils import gen_batches

# Rows per block when forming centred scatter matrices (bounds the temporary).
_BLOCK_ROWS = 16_384


def _weighted_mean(A, weights, total):
    """sum_i w_i a_i / total, accumulated in float64 block by block.

    (A float64 weight vector times a float32 matrix would make NumPy copy
    the whole matrix to float64; blocks bound that copy.)
    """
    accumulated = np.zeros(A.shape[1])
    for rows in gen_batches(A.shape[0], _BLOCK_ROWS):
        accumulated += weights[rows] @ A[rows]
    return accumulated / total


def _centred_scatter(X, mean_x, blocks, weights):
    """sum_i w_i (x_i - m_x)(b_i - m_b)^T for each (B, m_b) in ``blocks``,
    and the diagonal sum_i w_i (x_i - m_x)^2.

    Rows are scaled by sqrt(w_i) on both sides, so the scatter of X with
    itself is ``A.T @ A``, which NumPy evaluates with the symmetric BLAS
    kernel (syrk) at half the cost of a general product.
    """
    n_features = X.shape[1]
    scatters = [np.zeros((n_features, B.shape[1])) for B, _ in blocks]
    diagonal = np.zeros(n_features)
    root_weights = None if np.all(weights == 1) else np.sqrt(weights).astype(X.dtype)
    for rows in gen_batches(X.shape[0], _BLOCK_ROWS):
        centred = X[rows] - mean_x.astype(X.dtype, copy=False)
        if root_weights is not None:
            centred *= root_weights[rows, None]
        diagonal += np.einsum("ij,ij->j", centred, centred)
        for scatter, (B, mean_b) in zip(scatters, blocks):
            if B is X:
                scatter += centred.T @ centred
                continue
            side = (B[rows] - mean_b).astype(X.dtype, copy=False)
            if root_weights is not None:
                side *= root_weights[rows, None]
            scatter += centred.T @ side
    return scatters, diagonal


class WeightedMoments:
    """Running weighted mean of X and scatter of X with itself and side arrays.

    Parameters
    ----------
    n_features : int
        Columns of X.
    side_widths : dict of str -> int
        Names and widths of the arrays whose cross-scatter with X is tracked
        (e.g. ``{"concept": k, "target": m}``).
    track_covariance : bool, default=True
        Also track the d x d scatter of X (not needed by the orthogonal
        method).
    """

    def __init__(self, n_features, side_widths, track_covariance=True):
        self.weight = 0.0
        self.mean_x = np.zeros(n_features)
        self.scatter_xx = np.zeros((n_features, n_features)) if track_covariance else None
        # The diagonal alone is always kept: it tells which features are constant.
        self.scatter_diag = np.zeros(n_features)
        self.side_means = {name: np.zeros(width) for name, width in side_widths.items()}
        self.cross_scatter = {
            name: np.zeros((n_features, width)) for name, width in side_widths.items()
        }

    def update(self, X, sides, weights):
        """Merge one batch: X (n, d), sides {name: (n, k)}, weights (n,) >= 0."""
        weights = np.asarray(weights, dtype=np.float64)
        batch_weight = float(weights.sum())
        if batch_weight <= 0:
            return self
        batch_mean_x = _weighted_mean(X, weights, batch_weight)
        batch_side_means = {
            name: _weighted_mean(B, weights, batch_weight) for name, B in sides.items()
        }

        blocks = [(sides[name], batch_side_means[name]) for name in self.cross_scatter]
        if self.scatter_xx is not None:
            blocks.append((X, batch_mean_x))
        scatters, batch_diag = _centred_scatter(X, batch_mean_x, blocks, weights)
        batch_xx = scatters.pop() if self.scatter_xx is not None else None
        batch_cross = dict(zip(self.cross_scatter, scatters))

        total = self.weight + batch_weight
        factor = self.weight * batch_weight / total
        delta_x = batch_mean_x - self.mean_x
        if self.scatter_xx is not None:
            self.scatter_xx += batch_xx + factor * np.outer(delta_x, delta_x)
        self.scatter_diag += batch_diag + factor * delta_x**2
        for name in self.cross_scatter:
            delta_side = batch_side_means[name] - self.side_means[name]
            self.cross_scatter[name] += batch_cross[name] + factor * np.outer(delta_x, delta_side)
            self.side_means[name] += delta_side * (batch_weight / total)
        self.mean_x += delta_x * (batch_weight / total)
        self.weight = total
        return self

    @property
    def covariance(self):
        """Weighted covariance of X (normalised by the total weight), symmetrised."""
        covariance = self.scatter_xx / self.weight
        return (covariance + covariance.T) / 2

    def cross_covariance(self, name):
        return self.cross_scatter[name] / self.weight

    @property
    def variance(self):
        """Weighted variance of each feature of X."""
        return self.scatter_diag / self.weight


def shrunk_covariance(covariance, n_samples, shrinkage):
    """Linear shrinkage of a covariance toward a multiple of the identity.

    Returns ``(1 - rho) S + rho (tr S / p) I``. With ``shrinkage=True`` the
    coefficient is the distribution-free, asymptotically Frobenius-optimal one
    of Bai-type random-matrix shrinkage (the formula used by LEACE's reference
    implementation, from "On the strong convergence of the optimal linear
    shrinkage estimator for large dimensional covariance matrix", 2013),
    which for the isotropic target reduces to

        rho = tr(S)^2 / (n (||S||_F^2 - tr(S)^2 / p)),

    clipped to [0, 1]. A float gives rho directly.

    Returns
    -------
    covariance : ndarray of shape (p, p)
    rho : float
        The coefficient used.
    """
    if shrinkage is False:
        return covariance, 0.0
    n_features = covariance.shape[0]
    trace = np.trace(covariance)
    if shrinkage is True:
        dispersion = np.sum(covariance**2) - trace**2 / n_features
        rho = 1.0 if dispersion <= 0 else trace**2 / (n_samples * dispersion)
        rho = float(np.clip(rho, 0.0, 1.0))
    else:
        rho = float(shrinkage)
    shrunk = (1 - rho) * covariance
    shrunk[np.diag_indices_from(shrunk)] += rho * trace / n_features
    return shrunk, rho
