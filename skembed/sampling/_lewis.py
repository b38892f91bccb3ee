r"""lp Lewis weights (Lewis 1978; Cohen & Peng, "lp row sampling by Lewis weights", STOC 2015).

The lp Lewis weights of :math:`X` are the unique :math:`w \in \mathbb{R}^n_{\ge 0}` with

.. math:: w_i = \left(x_i^\top (X^\top W^{1-2/p} X)^{+} x_i\right)^{p/2},
          \qquad W = \mathrm{diag}(w),

i.e. :math:`w_i` is the leverage score of row i of :math:`W^{1/2-1/p}X`. They
sum to :math:`\mathrm{rank}(X)`, equal the leverage scores at p = 2, are
invariant under :math:`X \to XA` for invertible A, and bound the lp
sensitivities: :math:`s_i \le w_i` for :math:`p \le 2` and
:math:`s_i \le r^{p/2-1} w_i` for :math:`p > 2` (r the rank). Sampling rows
with probabilities proportional to them gives an lp subspace embedding with
:math:`O(d \log d)` rows for p < 2 (Cohen & Peng, Theorem 7.1).

Algorithms
----------
Every iteration is run on a well-conditioned basis :math:`Y = XA` of the
column space (invariance), so the d x d systems stay well posed.

* Cohen & Peng's fixed point :math:`w \leftarrow \sigma(w)^{p/2}` with
  :math:`\sigma_i(w) = y_i^\top (Y^\top W^{1-2/p} Y)^{-1} y_i`. In log
  coordinates its Jacobian is :math:`-(p/2-1)\Lambda` with :math:`\Lambda`
  row-stochastic with real spectrum in [0, 1]: a contraction of factor
  :math:`|1-p/2|` for p < 4, but not for p >= 4, where the plain iteration
  can oscillate. We relax it in log space,
  :math:`\log w \leftarrow (1-\alpha)\log w + \alpha\,\tfrac{p}{2}\log\sigma(w)`
  with :math:`\alpha = 4/(p+2)`, which maps the Jacobian's spectrum into
  :math:`[-|p-2|/(p+2), |p-2|/(p+2)]`: a contraction for every p, of factor
  1/3 at p = 1 (1/2 unrelaxed) and 3/7 at p = 5. Its fixed points are
  exactly the Lewis weights.
* :func:`lewis_weights_convex` solves Lewis's convex program
  :math:`\max \log\det M` s.t. :math:`\sum_i (x_i^\top M x_i)^{p/2} \le r`
  (p >= 2) with cvxpy, whose optimum gives :math:`w_i = (x_i^\top M
  x_i)^{p/2}`; it is the reference the tests check the iteration against.
"""

import warnings

import numpy as np
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning

from ..utils._messages import warn
from ..utils.extmath import psd_inverse_sqrt_factor
from ._leverage import reproducible_random_state, well_conditioned_basis

__all__ = ["lewis_fixed_point_map", "lewis_weights", "lewis_weights_convex"]


def _quadratic_forms(Y, scale):
    """:math:`\\sigma_i = y_i^\\top (Y^\\top \\mathrm{diag}(scale) Y)^{-1} y_i` for every row."""
    # Y^T diag(scale) Y through a symmetric rank-k update: half a GEMM's work.
    root = Y * np.sqrt(scale).astype(Y.dtype)[:, None]
    syrk = scipy.linalg.blas.get_blas_funcs("syrk", (root,))
    gram = syrk(1.0, root.T, trans=0, lower=True).astype(np.float64)
    gram = np.tril(gram) + np.tril(gram, -1).T
    try:
        factor = scipy.linalg.cholesky(gram, lower=True, check_finite=False)
        inverse_factor = scipy.linalg.solve_triangular(
            factor, np.eye(gram.shape[0]), lower=True, check_finite=False
        )
    except np.linalg.LinAlgError:
        # Weights so extreme that the Gram matrix lost definiteness in
        # floating point: fall back to its pseudo-inverse square root.
        inverse_factor = psd_inverse_sqrt_factor(gram).T
    Z = Y @ inverse_factor.T.astype(Y.dtype)
    return np.einsum("ij,ij->i", Z, Z).astype(np.float64)


def lewis_fixed_point_map(Y, w, p):
    """One application of the Lewis map :math:`w \\mapsto \\sigma(w)^{p/2}` (rows with w > 0)."""
    return _quadratic_forms(Y, w ** (1 - 2 / p)) ** (p / 2)


def lewis_weights(X, p, *, tol=1e-6, max_iter=200, random_state=None, basis=None,
                  progress=None):
    """lp Lewis weights by the relaxed Cohen-Peng iteration (converges for every p).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The matrix whose rows are weighted (finite values).
    p : float
        The norm, p >= 1 (any p > 0 works for the iteration).
    tol : float, default=1e-6
        Stop when no weight changes by more than ``tol`` relative.
    max_iter : int, default=200
        Most iterations.
    random_state : int, RandomState instance or None, default=None
        The sketch that preconditions large or sparse X (None:
        ``RandomState(0)``).
    basis : ndarray, default=None
        A precomputed well-conditioned basis of colsp(X).
    progress : skembed.utils._progress.ProgressLog, optional
        Told the change of each iteration (it prints from its level 2 on).

    Returns
    -------
    weights : ndarray of shape (n_samples,)
        The Lewis weights (0 on zero rows); they sum to rank(X).
    n_iter : int
        Iterations run (0 at p = 2, where the weights are the leverage
        scores of the basis, with nothing to iterate).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import lewis_weights
    >>> X = np.random.RandomState(0).standard_normal((200, 3))
    >>> w, n_iter = lewis_weights(X, p=1, tol=1e-10)
    >>> float(round(w.sum(), 8))
    3.0
    """
    random_state = reproducible_random_state(random_state)
    Y = well_conditioned_basis(X, random_state) if basis is None else basis
    n_samples = Y.shape[0]
    weights = np.zeros(n_samples)
    # Zero rows have weight 0 and would give 0 ** negative in W^(1-2/p).
    active = np.einsum("ij,ij->i", Y, Y) > 0
    Y = Y[active] if not active.all() else Y
    if Y.shape[1] == 0 or Y.shape[0] == 0:
        return weights, 0
    # Start from the leverage scores (the p = 2 Lewis weights).
    w = np.einsum("ij,ij->i", Y, Y)
    if p == 2:
        # The fixed point itself: W^(1 - 2/p) = I, so one more pass over the
        # basis would return the same scores (it cost two passes before).
        weights[active] = w
        return weights, 0
    # Over-relaxed for p < 2, damped for p > 2 (see the module docstring).
    damping = 4.0 / (p + 2.0)
    # On tall data the first iterations run on a float32 copy of the basis
    # (half the memory traffic of the two n x r products) until the weights
    # move by less than 1e-3; float64 iterations then finish to ``tol``, so
    # the result is the float64 fixed point.
    phases = [(Y, tol)]
    if Y.shape[0] >= 100_000 and tol < 1e-3:
        phases.insert(0, (Y.astype(np.float32), 1e-3))
    n_iter = 0
    change = np.inf
    for basis_phase, phase_tol in phases:
        while n_iter < max_iter:
            n_iter += 1
            target = lewis_fixed_point_map(basis_phase, w, p)
            new = w ** (1 - damping) * target**damping
            # A floor, not a rank cut: a weight that underflows to 0 would
            # make w ** (1 - 2/p) (p < 2) and the relative change infinite.
            new = np.maximum(new, np.finfo(np.float64).tiny)
            change = np.max(np.abs(new - w) / new)
            w = new
            if progress is not None:
                progress.stage(f"Lewis iteration {n_iter}: largest relative change "
                               f"{change:.2g}", level=2)
            if change <= phase_tol:
                break
    if change > tol:
        warn(
            f"Lewis weights did not converge in max_iter={max_iter} iterations (largest "
            f"relative change {change:.2g} > tol={tol:g}); they are not yet a fixed point "
            "and need not sum to the rank. Raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=2,
        )
    weights[active] = w
    return weights, n_iter


def lewis_weights_convex(X, p, *, random_state=None):
    """lp Lewis weights for p >= 2 from Lewis's convex log-det program (cvxpy).

    Solves :math:`\\max_{M \\succeq 0} \\log\\det M` subject to
    :math:`\\sum_i (y_i^\\top M y_i)^{p/2} \\le r` on a basis Y of colsp(X)
    (rank r), and returns :math:`w_i = (y_i^\\top M y_i)^{p/2}` (KKT: then
    :math:`M = (Y^\\top W^{1-2/p} Y)^{-1}`). For moderate n (a few thousand
    rows); accurate to the conic solver's tolerance.
    """
    import cvxpy as cp

    if p < 2:
        raise ValueError(
            f"lewis_weights_convex: the log-det program is convex for p >= 2, got p={p}. "
            "Use lewis_weights (the Cohen-Peng fixed point) for p < 2."
        )
    random_state = reproducible_random_state(random_state)
    Y = well_conditioned_basis(X, random_state)
    rank = Y.shape[1]
    M = cp.Variable((rank, rank), PSD=True)
    forms = cp.sum(cp.multiply(Y @ M, Y), axis=1)
    problem = cp.Problem(cp.Maximize(cp.log_det(M)), [cp.sum(cp.power(forms, p / 2)) <= rank])
    # Clarabel fails on this log-det + power-cone mix; SCS at a tight
    # tolerance solves it (it may still label the result "inaccurate").
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.SCS, eps=1e-10, max_iters=200_000)
    M_value = (M.value + M.value.T) / 2
    forms_value = np.maximum(np.einsum("ij,jk,ik->i", Y, M_value, Y), 0)
    return forms_value ** (p / 2)
