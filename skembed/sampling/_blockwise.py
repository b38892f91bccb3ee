r"""Leverage scores and Lewis weights of a dask array, in passes over its row blocks.

The design :math:`A = V^{1/p}[X, y, 1]` is never formed: each task builds
its block's rows from X's block and the in-memory target and weights.

Exact leverage scores in two passes (Demmel et al.'s TSQR for the first):

1. :math:`R` of a thin QR of A, from the R factors of the blocks combined
   pairwise in a tree (:math:`\mathrm{qr}([R_a; R_b]) \to R`), without
   forming Q. Householder QR is backward stable, so A's condition number
   does not matter (a Gram/Cholesky route fails from condition ~1e6).
2. With :math:`R D^{-1} = U \Sigma V^\top` (D: R's column scales, so the
   rank cut compares directions, not units; see :mod:`._leverage`) and
   :math:`P = D^{-1} V_r \Sigma_r^{-1}`, :math:`AP = Q U_r` is an
   orthonormal basis of A's column space, and the scores are the squared
   row norms of :math:`A_b P`, block by block.

An in-memory X runs the same two passes over its row blocks
(:func:`two_pass_leverage_scores`), with the R factors folded in one after
the other: exact scores that read X twice and form one block of the design
at a time, where a thin QR of the whole design copies it and forms its
n x r Q (five times slower at 100,000 x 52, measured).

Lewis weights: the same relaxed Cohen-Peng iteration as :mod:`._lewis`, on
the basis :math:`Y = AP` formed inside each task. Each iteration is one
pass that computes, per block, the new weights from the current
:math:`(Y^\top W^{1-2/p} Y)^{-1}` and the block's part of the next Gram
matrix; the weights (one float per row) come back to memory between
iterations, where the convergence test runs.
"""

import functools

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from ..utils.extmath import column_scales, numerical_rank


def _design_block(block, target, weights, fit_intercept, p):
    parts = [np.asarray(block, dtype=np.float64)]
    if target is not None:
        target = np.asarray(target, dtype=np.float64)
        # (n,) or (n, k): a column per target (reshape(0, -1) fails on 0 rows).
        parts.append(target[:, None] if target.ndim == 1 else target)
    if fit_intercept:
        parts.append(np.ones((block.shape[0], 1)))
    design = np.hstack(parts) if len(parts) > 1 else parts[0].copy()
    if weights is not None:
        design *= (np.asarray(weights, dtype=np.float64) ** (1 / p))[:, None]
    return design


def _r_factor(design):
    if design.shape[0] == 0:
        return np.zeros((0, design.shape[1]))
    return scipy.linalg.qr(design, mode="r", check_finite=False)[0][: design.shape[1]]


def _stacked_r(first, second):
    return _r_factor(np.vstack([first, second]))


def _orthonormalizer(R, n_samples):
    """``P`` with ``A @ P`` orthonormal, from A's R factor; and the rank."""
    scales = column_scales(R)
    _, singular, Vt = scipy.linalg.svd(R / scales, full_matrices=False)
    rank = numerical_rank(singular, max(n_samples, R.shape[1]))
    return Vt[:rank].T / singular[:rank] / scales[:, None], rank


def two_pass_leverage_scores(X, target, weights, *, fit_intercept, p, block_rows=2048):
    """Exact leverage scores of an in-memory :math:`A = V^{1/p}[X, y, 1]`: two passes, A never formed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense rows (any float dtype and memory order; each block is
        converted to float64 as it is built).
    target : ndarray of shape (n_samples, n_targets) or None
        Columns appended to X.
    weights : ndarray of shape (n_samples,) or None
        The row weights v (their 1/p-th power scales the rows).
    fit_intercept : bool
        Append a column of ones.
    p : float
        The power of the weights.
    block_rows : int, default=2048
        Rows per block: the QR of ``[R; block]`` runs in cache (1,024-row
        blocks folded 100,000 x 52 in 0.23 s, 16,384-row ones in 0.32 s and
        one QR of all rows took 0.62 s, measured).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        The leverage scores of the rows of A (the scores of the dask path up
        to rounding, and of a thin QR of A).
    """
    n_samples = X.shape[0]
    bounds = [(start, min(start + block_rows, n_samples))
              for start in range(0, n_samples, block_rows)]

    def block(start, stop):
        return _design_block(X[start:stop], None if target is None else target[start:stop],
                             None if weights is None else weights[start:stop],
                             fit_intercept, p)

    # One BLAS thread: the blocks' QRs and products are small, and a threaded
    # BLAS synchronising on shared cores costs more than it computes (as in
    # the sketched passes of _leverage).
    with threadpool_limits(1, user_api="blas"):
        R = None
        for start, stop in bounds:
            rows = block(start, stop)
            R = _r_factor(rows if R is None else np.vstack([R, rows]))
        P, _ = _orthonormalizer(R, n_samples)
        scores = np.empty(n_samples)
        for start, stop in bounds:
            scores[start:stop] = _block_leverage(block(start, stop), P)
    return scores


class BlockwiseDesign:
    """The scored design of a dask X: its blocks, built lazily inside tasks."""

    def __init__(self, X, target, weights, *, fit_intercept, p):
        from ..utils._dask import row_offsets

        self.X, self.target, self.weights = X, target, weights
        self.fit_intercept, self.p = fit_intercept, p
        self.offsets = row_offsets(X)
        self.blocks = list(X.to_delayed().ravel())
        self.n_samples = int(X.shape[0])

    def _slice(self, values, index):
        if values is None:
            return None
        if isinstance(values, tuple):
            return tuple(self._slice(part, index) for part in values)
        return values[int(self.offsets[index]): int(self.offsets[index + 1])]

    def map(self, function, *extra, per_block=None, combine):
        """Delayed ``function(design_rows, *extra, per_block[rows])`` for every block.

        ``per_block`` is an array with a value (or row) per row of X, or a
        tuple of them, each passed sliced to the block's rows.

        Inside each block's task the design is built and ``function`` applied
        :data:`SUB_BLOCK_ROWS` rows at a time, and ``combine`` merges the
        sub-blocks' results into the block's.
        """
        from dask import delayed

        task = delayed(_in_sub_blocks, pure=True)
        out = []
        for index, block in enumerate(self.blocks):
            out.append(task(block, self._slice(self.target, index),
                            self._slice(self.weights, index), self.fit_intercept, self.p,
                            function, combine, extra, self._slice(per_block, index)))
        return out

    def orthonormalizer(self):
        """First pass: TSQR's R, then ``P`` (see the module docstring)."""
        import dask

        from ..utils._dask import tree_reduce

        (R,) = dask.compute(tree_reduce(self.map(_r_factor, combine=_stack_r_factors),
                                         _stacked_r))
        return _orthonormalizer(R, self.n_samples)


#: Rows of the design a task builds and processes at once. A block's whole
#: design (500,000 x 52 floats: 208 MB) and its products are fresh memory
#: for every pass, and their page faults took 5 times the arithmetic (2.1 s
#: against 0.35 s per block of a Lewis step); sub-blocks are reused by the
#: allocator and stay near the cache.
SUB_BLOCK_ROWS = 32_768


def _in_sub_blocks(block, target, weights, fit_intercept, p, function, combine, extra,
                   per_block):
    """``combine`` of ``function`` over the design of ``block``, sub-block by sub-block."""
    n_rows = block.shape[0]
    parts = []
    for start in range(0, max(n_rows, 1), SUB_BLOCK_ROWS):
        stop = min(start + SUB_BLOCK_ROWS, n_rows)
        rows = _design_block(block[start:stop],
                             None if target is None else target[start:stop],
                             None if weights is None else weights[start:stop],
                             fit_intercept, p)
        if per_block is None:
            args = list(extra)
        elif isinstance(per_block, tuple):
            args = [*extra, *(part[start:stop] for part in per_block)]
        else:
            args = [*extra, per_block[start:stop]]
        parts.append(function(rows, *args))
    return combine(parts)


def _stack_r_factors(parts):
    """TSQR within a block: the R factor of the stacked sub-blocks."""
    return functools.reduce(_stacked_r, parts)


def _concatenate(parts):
    return np.concatenate(parts)


def _concatenate_and_sum(parts):
    """Per-row weights concatenated, Gram parts summed (a Lewis step's results)."""
    return (np.concatenate([rows for rows, _ in parts]),
            functools.reduce(np.add, (gram for _, gram in parts)))


def _block_leverage(design, P):
    Y = design @ P
    return np.einsum("ij,ij->i", Y, Y)


def blockwise_leverage_scores(design):
    """Exact leverage scores of a :class:`BlockwiseDesign`: two passes."""
    import dask

    P, _ = design.orthonormalizer()
    parts = dask.compute(*design.map(_block_leverage, P, combine=_concatenate))
    return np.concatenate(parts) if parts else np.zeros(0)


def _block_lewis_step(design, P, inverse_factor, p, damping, w):
    """The block's new weights and its part of the next Gram matrix."""
    Y = design @ P
    if inverse_factor is None:  # the start: leverage scores (p = 2 weights)
        new = np.einsum("ij,ij->i", Y, Y)
    else:
        Z = Y @ inverse_factor.T
        target = np.einsum("ij,ij->i", Z, Z) ** (p / 2)
        # Zero rows keep weight 0 (0 ** negative would be inf); the floor
        # keeps an underflowed weight from making the next power infinite.
        active = w > 0
        new = np.zeros_like(w)
        new[active] = np.maximum(w[active] ** (1 - damping) * target[active] ** damping,
                                 np.finfo(np.float64).tiny)
    scale = np.zeros_like(new)
    np.power(new, 1 - 2 / p, out=scale, where=new > 0)
    root = Y * np.sqrt(scale)[:, None]
    return new, root.T @ root


def _inverse_factor(gram):
    from ..utils.extmath import psd_inverse_sqrt_factor

    try:
        factor = scipy.linalg.cholesky(gram, lower=True, check_finite=False)
        return scipy.linalg.solve_triangular(factor, np.eye(gram.shape[0]), lower=True,
                                             check_finite=False)
    except np.linalg.LinAlgError:
        return psd_inverse_sqrt_factor(gram).T


def blockwise_lewis_weights(design, p, *, tol, max_iter, progress=None):
    """lp Lewis weights of a :class:`BlockwiseDesign`: one pass per iteration.

    Returns ``(weights, n_iter, converged, change)``; the caller warns.
    ``progress`` (a :class:`~skembed.utils._progress.ProgressLog`) is told
    each iteration's change (printed from its level 2 on).
    """
    import dask

    P, rank = design.orthonormalizer()
    if rank == 0:
        return np.zeros(design.n_samples), 0, True, 0.0
    damping = 4.0 / (p + 2.0)
    results = dask.compute(*design.map(_block_lewis_step, P, None, p, damping, None,
                                       combine=_concatenate_and_sum))
    w = np.concatenate([new for new, _ in results])
    if p == 2:
        # The leverage scores are the p = 2 weights: nothing to iterate.
        return w, 0, True, 0.0
    gram = sum(part for _, part in results)
    n_iter, change = 0, np.inf
    while n_iter < max_iter:
        n_iter += 1
        factor = _inverse_factor(gram)
        results = dask.compute(*design.map(_block_lewis_step, P, factor, p, damping,
                                           per_block=w, combine=_concatenate_and_sum))
        new = np.concatenate([block for block, _ in results])
        gram = sum(part for _, part in results)
        active = new > 0
        change = float(np.max(np.abs(new[active] - w[active]) / new[active], initial=0.0))
        w = new
        if progress is not None:
            progress.stage(f"Lewis iteration {n_iter}: largest relative change {change:.2g}",
                           level=2)
        if change <= tol:
            break
    return w, n_iter, change <= tol, change
