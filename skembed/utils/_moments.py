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

Precision and range
-------------------
Every block is converted to float64 before its products are formed, so
float32 input gives the moments of the same numbers in float64 (a float32
sum of 200,000 products loses about three digits, enough to shift the rank
decisions made on the covariance). The scatter matrices are stored in units
of a per-column power of two at least the column's largest absolute value
(``scale_x``, and one per side array): the scaled entries are at most a few
times the total weight whatever the data's units, so columns of order 1e-170
or 1e150 neither underflow nor overflow when squared, and scaling by a power
of two is exact, so data of ordinary magnitude give the same bits as without
it. The ``scaled_*`` accessors return the moments in those units; the plain
ones (``covariance``, ``variance``, ``cross_covariance``) multiply the units
back and are exact within float64's range.
"""

import copy

import numpy as np
from sklearn.utils import gen_batches

# Rows per block when forming centred scatter matrices (bounds the temporary).
MOMENT_BLOCK_ROWS = _BLOCK_ROWS = 16_384


def _weighted_mean(A, weights, total):
    """sum_i w_i a_i / total, accumulated in float64 block by block.

    (A float64 weight vector times a float32 matrix would make NumPy copy
    the whole matrix to float64; blocks bound that copy.)
    """
    accumulated = np.zeros(A.shape[1])
    for rows in gen_batches(A.shape[0], _BLOCK_ROWS):
        accumulated += weights[rows] @ A[rows]
    return accumulated / total


def _power_of_two_scales(A, weights):
    """Per column, the smallest power of two >= max |a_ij| over rows of positive weight.

    0 for a column that is zero on those rows (it carries no unit yet).
    """
    largest = np.zeros(A.shape[1])
    positive = None if np.all(weights > 0) else weights > 0
    for rows in gen_batches(A.shape[0], _BLOCK_ROWS):
        block = A[rows] if positive is None else A[rows][positive[rows]]
        if block.shape[0]:
            largest = np.maximum(largest, np.abs(block).max(axis=0))
    return np.where(largest > 0, np.ldexp(1.0, np.frexp(largest)[1]), 0.0)


def _nonzero(scales):
    return np.where(scales > 0, scales, 1.0)


def _centred_scatter(X, mean_x, scale_x, blocks, weights):
    """sum_i w_i (x_i - m_x)(b_i - m_b)^T / (s_x s_b^T) for each (B, m_b, s_b) in
    ``blocks``, and the diagonal sum_i w_i ((x_i - m_x) / s_x)^2, in float64.

    Rows are scaled by sqrt(w_i) on both sides, so the scatter of X with
    itself is ``A.T @ A``, which NumPy evaluates with the symmetric BLAS
    kernel (syrk) at half the cost of a general product.
    """
    n_features = X.shape[1]
    # Filled by the first row block (no zeros to add to: one d x d matrix,
    # not two, when X's scatter with itself is among the blocks).
    scatters = [None] * len(blocks)
    diagonal = np.zeros(n_features)
    root_weights = None if np.all(weights == 1) else np.sqrt(weights)
    for rows in gen_batches(X.shape[0], _BLOCK_ROWS):
        # float32 rows minus the float64 mean are float64 (one pass, exact
        # conversion); dividing by a power of two is exact: only the range
        # changes.
        centred = X[rows] - mean_x
        centred /= scale_x
        if root_weights is not None:
            centred *= root_weights[rows, None]
        diagonal += np.einsum("ij,ij->j", centred, centred)
        for index, (B, mean_b, scale_b) in enumerate(blocks):
            if B is X:
                product = centred.T @ centred
            else:
                side = B[rows] - mean_b
                side /= scale_b
                if root_weights is not None:
                    side *= root_weights[rows, None]
                product = centred.T @ side
            if scatters[index] is None:
                scatters[index] = product
            else:
                scatters[index] += product
    for index, (B, _, _) in enumerate(blocks):
        if scatters[index] is None:  # no rows
            scatters[index] = np.zeros((n_features, B.shape[1]))
    return scatters, diagonal


def _merge_scatter(scatter, old, other, new, factor, delta):
    """``scatter <- scatter * old old^T + other * new new^T + factor delta delta^T``, in place.

    By blocks of rows, so the d x d update needs no d x d temporary (the
    outer products written out would be four of them).
    """
    for rows in gen_batches(scatter.shape[0], 256):
        block = scatter[rows]
        block *= old[rows, None]
        block *= old[None, :]
        update = other[rows] * new[rows, None]
        update *= new[None, :]
        update += factor * np.outer(delta[rows], delta)
        block += update


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

    Notes
    -----
    Scatter matrices are stored in the units of :attr:`scale_x` (and of
    :meth:`side_scale` for the side arrays); see the module docstring.
    """

    def __init__(self, n_features, side_widths, track_covariance=True):
        self.weight = 0.0
        self.mean_x = np.zeros(n_features)
        self._scale_x = np.zeros(n_features)
        # A read-only zero until the first batch replaces it (see merge): no
        # d x d allocation for moments that are about to be overwritten.
        self.scatter_xx = (
            np.broadcast_to(np.float64(0.0), (n_features, n_features)) if track_covariance
            else None
        )
        # The diagonal alone is always kept: it tells which features are constant.
        self.scatter_diag = np.zeros(n_features)
        self.side_means = {name: np.zeros(width) for name, width in side_widths.items()}
        self._side_scales = {name: np.zeros(width) for name, width in side_widths.items()}
        self.side_diag = {name: np.zeros(width) for name, width in side_widths.items()}
        self.cross_scatter = {
            name: np.zeros((n_features, width)) for name, width in side_widths.items()
        }

    def update(self, X, sides, weights):
        """Merge one batch: X (n, d), sides {name: (n, k)}, weights (n,) >= 0."""
        batch = self.of_batch(X, sides, weights, track_covariance=self.tracks_covariance)
        return self.merge(batch, consume=True)

    @property
    def tracks_covariance(self):
        return self.scatter_xx is not None

    @classmethod
    def of_batch(cls, X, sides, weights, *, track_covariance=True):
        """The moments of one batch alone: X (n, d), sides {name: (n, k)}, weights (n,) >= 0.

        Mergeable into any running moments of the same widths with
        :meth:`merge`; a dask fit computes one per block and merges them in
        a tree.
        """
        batch = cls(X.shape[1], {name: B.shape[1] for name, B in sides.items()},
                    track_covariance=track_covariance)
        weights = np.asarray(weights, dtype=np.float64)
        batch_weight = float(weights.sum())
        if batch_weight <= 0:
            return batch
        batch.weight = batch_weight
        batch.mean_x = _weighted_mean(X, weights, batch_weight)
        batch._scale_x = _power_of_two_scales(X, weights)
        for name, B in sides.items():
            batch.side_means[name] = _weighted_mean(B, weights, batch_weight)
            batch._side_scales[name] = _power_of_two_scales(B, weights)
            # A side array is narrow (k columns): its variances in one pass.
            centred_side = (np.asarray(B, dtype=np.float64) - batch.side_means[name]) / _nonzero(
                batch._side_scales[name]
            )
            batch.side_diag[name] = weights @ centred_side**2

        blocks = [
            (sides[name], batch.side_means[name], _nonzero(batch._side_scales[name]))
            for name in batch.cross_scatter
        ]
        if track_covariance:
            blocks.append((X, batch.mean_x, _nonzero(batch._scale_x)))
        scatters, batch.scatter_diag = _centred_scatter(
            X, batch.mean_x, _nonzero(batch._scale_x), blocks, weights
        )
        if track_covariance:
            batch.scatter_xx = scatters.pop()
        batch.cross_scatter = dict(zip(batch.cross_scatter, scatters))
        return batch

    def merge(self, other, *, consume=False):
        """Merge the moments of other rows into these (Chan et al.'s exact update).

        With ``consume``, ``other``'s arrays may be taken over or changed
        (the caller discards it): the first merge then allocates nothing.
        """
        if other.weight <= 0:
            return self
        if set(other.cross_scatter) != set(self.cross_scatter) or (
            self.tracks_covariance and not other.tracks_covariance
        ):
            raise ValueError("cannot merge moments that track different arrays")
        total = self.weight + other.weight
        factor = self.weight * other.weight / total
        delta_x = other.mean_x - self.mean_x
        # The merged unit covers both parts and the shift of their means
        # (|delta| <= both units' maximum, so delta / unit stays <= 2).
        scale_x = np.maximum(self._scale_x, other._scale_x)
        old_x, new_x = self._scale_x / _nonzero(scale_x), other._scale_x / _nonzero(scale_x)
        unit_delta_x = delta_x / _nonzero(scale_x)
        if self.scatter_xx is not None:
            if self.weight == other.weight == total:  # pragma: no cover - impossible
                raise AssertionError
            if self.weight == 0:
                # The first batch: its scatter, rescaled; taken over when the
                # caller discards ``other``, else copied (a scheduler may
                # still hold it).
                self.scatter_xx = other.scatter_xx if consume else other.scatter_xx.copy()
                self.scatter_xx *= new_x[:, None]
                self.scatter_xx *= new_x[None, :]
            else:
                _merge_scatter(self.scatter_xx, old_x, other.scatter_xx, new_x, factor,
                               unit_delta_x)
        self.scatter_diag = (
            self.scatter_diag * old_x**2 + other.scatter_diag * new_x**2 + factor * unit_delta_x**2
        )
        for name in self.cross_scatter:
            side_mean, side_scale = other.side_means[name], other._side_scales[name]
            merged = np.maximum(self._side_scales[name], side_scale)
            old_b, new_b = self._side_scales[name] / _nonzero(merged), side_scale / _nonzero(merged)
            delta_side = side_mean - self.side_means[name]
            unit_delta_side = delta_side / _nonzero(merged)
            self.cross_scatter[name] *= np.outer(old_x, old_b)
            self.cross_scatter[name] += other.cross_scatter[name] * np.outer(new_x, new_b)
            self.cross_scatter[name] += factor * np.outer(unit_delta_x, unit_delta_side)
            self.side_diag[name] = (
                self.side_diag[name] * old_b**2
                + other.side_diag[name] * new_b**2
                + factor * unit_delta_side**2
            )
            self.side_means[name] = self.side_means[name] + delta_side * (other.weight / total)
            self._side_scales[name] = merged
        self.mean_x = self.mean_x + delta_x * (other.weight / total)
        self._scale_x = scale_x
        self.weight = total
        return self

    # -- in the stored units: safe at any magnitude ----------------------

    @property
    def scale_x(self):
        """The unit of each column of X in the ``scaled_*`` moments (a power of two)."""
        return _nonzero(self._scale_x)

    def side_scale(self, name):
        """The unit of each column of a side array in the ``scaled_*`` moments."""
        return _nonzero(self._side_scales[name])

    @property
    def scaled_covariance(self):
        """Covariance of X in units of ``scale_x`` (entry ij over s_i s_j), symmetrised."""
        covariance = self.scatter_xx / self.weight
        return (covariance + covariance.T) / 2

    @property
    def scaled_variance(self):
        """Variance of each feature of X over ``scale_x**2``."""
        return self.scatter_diag / self.weight

    def scaled_cross_covariance(self, name):
        """Cross-covariance of X with a side array, in units of ``scale_x`` and ``side_scale``."""
        return self.cross_scatter[name] / self.weight

    def scaled_side_variance(self, name):
        """Variance of each column of a side array over ``side_scale**2``."""
        return self.side_diag[name] / self.weight

    # -- in the data's units ---------------------------------------------

    @property
    def covariance(self):
        """Weighted covariance of X (normalised by the total weight), symmetrised."""
        return self.scaled_covariance * np.outer(self.scale_x, self.scale_x)

    def cross_covariance(self, name):
        return self.scaled_cross_covariance(name) * np.outer(self.scale_x, self.side_scale(name))

    @property
    def variance(self):
        """Weighted variance of each feature of X."""
        return self.scaled_variance * self.scale_x**2


def correlation_matrix(moments, active, std):
    """The covariance of the ``active`` features over ``outer(std, std)``, as one new array.

    Built in place from the stored scatter (``std`` in the stored units), so
    the only d x d allocation is the result: no symmetrised, indexed or
    divided temporaries. The scatter is exactly symmetric (products of
    symmetric factors; see :meth:`WeightedMoments.merge`).
    """
    if active.all():
        result = moments.scatter_xx / moments.weight
    else:
        result = moments.scatter_xx[np.ix_(active, active)]
        result /= moments.weight
    result /= std[:, None]
    result /= std[None, :]
    return result


def shrink_in_place(covariance, n_samples, shrinkage):
    """:func:`shrunk_covariance` applied to ``covariance`` itself; returns rho.

    Needs no d x d temporary (the dispersion is one contraction).
    """
    if shrinkage is False:
        return 0.0
    n_features = covariance.shape[0]
    trace = float(np.trace(covariance))
    if shrinkage is not True:
        rho = float(shrinkage)
    elif trace > 0:
        unit = trace / n_features
        # sum((S / unit)^2): over the mean diagonal entry, so entries of
        # order 1e154 are not squared.
        dispersion = _scaled_square_sum(covariance, unit) - n_features
        rho = 1.0 if dispersion <= 0 else n_features**2 / (n_samples * dispersion)
        rho = float(np.clip(rho, 0.0, 1.0))
    else:
        rho = 1.0  # no variance (or no feature): nothing to estimate
    if rho:
        covariance *= 1 - rho
        if n_features:
            covariance[np.diag_indices(n_features)] += rho * trace / n_features
    return rho


def _scaled_square_sum(matrix, unit):
    """``sum((matrix / unit)**2)`` in row blocks (temporaries of 64 rows)."""
    total = 0.0
    for rows in gen_batches(matrix.shape[0], 64):
        block = matrix[rows] / unit
        total += float(np.einsum("ij,ij->", block, block))
    return total


def shrunk_covariance(covariance, n_samples, shrinkage):
    """Linear shrinkage of a covariance toward a multiple of the identity.

    Returns ``(1 - rho) S + rho (tr S / p) I``. With ``shrinkage=True`` the
    coefficient is the distribution-free, asymptotically Frobenius-optimal one
    of Bai-type random-matrix shrinkage (the formula used by LEACE's reference
    implementation, from "On the strong convergence of the optimal linear
    shrinkage estimator for large dimensional covariance matrix", 2013),
    which for the isotropic target reduces to

        rho = tr(S)^2 / (n (||S||_F^2 - tr(S)^2 / p)),

    clipped to [0, 1]. A float gives rho directly. The coefficient does not
    depend on the units of S, and is computed on S over its mean diagonal
    entry, so that squaring entries of order 1e154 does not overflow.

    Returns
    -------
    covariance : ndarray of shape (p, p)
    rho : float
        The coefficient used.
    """
    if shrinkage is False:
        return covariance, 0.0
    shrunk = np.array(covariance, dtype=np.float64)
    return shrunk, shrink_in_place(shrunk, n_samples, shrinkage)


def _block_moments(block, names, encoders, raw_sides, weights, track_covariance):
    sides = {name: encode(raw) for name, encode, raw in zip(names, encoders, raw_sides)}
    if weights is None:
        weights = np.ones(block.shape[0])
    return WeightedMoments.of_batch(block, sides, weights, track_covariance=track_covariance)


def _merge_moments(first, second):
    # Merged into a copy: a task must not change its inputs, which the
    # scheduler may still hold for other tasks.
    return copy.deepcopy(first).merge(second)


def blockwise_moments(X, sides, weights, *, track_covariance=True):
    """The weighted moments of a dask array, as one lazy blockwise reduction.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        One chunk of columns; any row chunks.
    sides : dict of str -> (callable, ndarray)
        For each side array, ``(encode, raw)``: ``raw`` holds one entry per
        row in memory (compact, e.g. class codes) and ``encode(raw[rows])``
        gives that block's side columns inside the task, so the graph carries
        only each block's slice of the compact form.
    weights : ndarray of shape (n_samples,) or None
        Row weights (None: all 1).
    track_covariance : bool, default=True

    Returns
    -------
    moments : dask.delayed.Delayed
        Computes to the :class:`WeightedMoments` of all rows, equal to the
        in-memory moments up to rounding: each block goes through
        :meth:`WeightedMoments.of_batch` and blocks are merged pairwise in a
        balanced tree with Chan et al.'s exact update.
    """
    from dask import delayed

    from ._dask import row_offsets, tree_reduce

    names = list(sides)
    offsets = row_offsets(X)
    parts = []
    for index, block in enumerate(X.to_delayed().ravel()):
        rows = slice(int(offsets[index]), int(offsets[index + 1]))
        raw = [sides[name][1][rows] for name in names]
        encoders = [sides[name][0] for name in names]
        parts.append(delayed(_block_moments, pure=True)(
            block, names, encoders, raw, None if weights is None else weights[rows],
            track_covariance,
        ))
    return tree_reduce(parts, _merge_moments)
