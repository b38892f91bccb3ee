r"""lp sensitivities (Langberg & Schulman 2010; Woodruff & Yasuda, ICML 2023).

The lp sensitivity of row i of X is

.. math:: s_i = \max_{b:\,Xb \ne 0} \frac{|x_i^\top b|^p}{\|Xb\|_p^p}
              = \frac{1}{\min\{\|Xb\|_p^p : x_i^\top b = 1\}},

the largest share of the objective :math:`\|Xb\|_p^p` that row i can carry.
The total sensitivity :math:`S = \sum_i s_i` is at most
:math:`\mathrm{rank}(X)` for :math:`p \le 2` and :math:`r^{p/2}` for p > 2;
Woodruff & Yasuda show that sampling by sensitivities needs about
:math:`S^{2/p}` rows for p < 2 and :math:`S^{2-2/p}` for p > 2.

Each :math:`s_i` is one convex program. It is invariant under
:math:`X \to XA`, so it is solved on a well-conditioned basis of colsp(X):

* p = 1: a linear program, :math:`\min \sum_j t_j` s.t.
  :math:`-t \le Yb \le t`, :math:`y_i^\top b = 1` (HiGHS through
  :func:`scipy.optimize.linprog`);
* p = 2: closed form, the leverage score;
* other p: :math:`\min \|Yb\|_p` s.t. :math:`y_i^\top b = 1` with cvxpy
  (one compiled problem per worker, the row as a parameter).

The sketched version solves the same programs with :math:`\|Xb\|_p` replaced
by :math:`\|Zb\|_p` on an lp subspace embedding Z of X: a Lewis-weight sample
of ``embedding_size`` rows, each scaled by :math:`\pi_j^{-1/p}` (Cohen &
Peng 2015), so every program has ``embedding_size`` rows instead of n. For
an :math:`\varepsilon` embedding the scores are within a factor
:math:`(1\pm\varepsilon)` of the exact ones. Rows are split into chunks run
through joblib (``n_jobs``).
"""

import os
import sys

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from ..utils.extmath import pseudo_inverse
from ._leverage import reproducible_random_state, well_conditioned_basis
from ._lewis import lewis_weights

__all__ = ["exact_sensitivities", "lewis_sensitivity_bound", "sketched_sensitivities"]


def lewis_sensitivity_bound(lewis, p, rank):
    """Upper bound on the sensitivities from the Lewis weights.

    :math:`s_i \\le w_i` for p <= 2 and :math:`s_i \\le r^{p/2-1} w_i` for
    p > 2 (Cauchy-Schwarz in the Lewis-weighted norm, then Hoelder).
    """
    return lewis * float(rank) ** max(0.0, p / 2 - 1)


def _l1_constraints(Z):
    """:math:`-t \\le Zb \\le t` as rows ``[Z, -I; -Z, -I]`` over the variables (b, t)."""
    m = Z.shape[0]
    identity = sp.identity(m, format="csr")
    Zs = sp.csr_matrix(Z)
    return sp.vstack([sp.hstack([Zs, -identity]), sp.hstack([-Zs, -identity])], format="csr")


def _silent_highs(highspy):
    """A HiGHS instance, created without its copyright banner on standard output.

    HiGHS prints the banner from C when the instance is created, before any
    option can switch output off, so the process's stdout descriptor is
    pointed at the null device for that one call.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _l1_minima(Z, rows):
    """:math:`\\min\\{\\|Zb\\|_1 : r^\\top b = 1\\}` for each r in ``rows``.

    With highspy (a dependency of recent cvxpy) the equivalent support
    function :math:`\\max\\{r^\\top b : \\|Zb\\|_1 \\le 1\\}` is solved for every
    row on one LP whose cost alone changes, so the simplex restarts from the
    previous optimal basis; without it, one :func:`scipy.optimize.linprog`
    call per row.
    """
    try:
        import highspy
    except ImportError:  # pragma: no cover - depends on the installed cvxpy
        return _l1_minima_linprog(Z, rows)
    m, r = Z.shape
    solver = _silent_highs(highspy)
    for option, value in (("output_flag", False), ("presolve", "off"), ("threads", 1)):
        solver.setOptionValue(option, value)
    infinity = highspy.kHighsInf
    solver.addVars(r + m, np.concatenate([np.full(r, -infinity), np.zeros(m)]),
                   np.full(r + m, infinity))
    A = sp.vstack([_l1_constraints(Z), sp.hstack([sp.csr_matrix((1, r)), np.ones((1, m))])],
                  format="csr")
    upper = np.zeros(A.shape[0])
    upper[-1] = 1.0  # sum of t <= 1
    solver.addRows(A.shape[0], np.full(A.shape[0], -infinity), upper, A.nnz,
                   A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
    solver.changeObjectiveSense(highspy.ObjSense.kMaximize)
    columns = np.arange(r, dtype=np.int32)
    maxima = np.empty(len(rows))
    for k, row in enumerate(rows):
        solver.changeColsCost(r, columns, np.ascontiguousarray(row, dtype=np.float64))
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # pragma: no cover
            return _l1_minima_linprog(Z, rows)
        maxima[k] = solver.getInfo().objective_function_value
    return 1.0 / maxima


def _l1_minima_linprog(Z, rows):
    """One HiGHS LP per row through scipy: :math:`\\min \\sum t` s.t. :math:`-t \\le Zb \\le t`, :math:`r^\\top b = 1`."""
    m, r = Z.shape
    A_ub = _l1_constraints(Z)
    b_ub = np.zeros(2 * m)
    cost = np.concatenate([np.zeros(r), np.ones(m)])
    bounds = [(None, None)] * r + [(0, None)] * m
    minima = np.empty(len(rows))
    for k, row in enumerate(rows):
        A_eq = np.concatenate([row, np.zeros(m)])[None, :]
        result = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=bounds,
                         method="highs")
        if result.status != 0:  # pragma: no cover - HiGHS solves these bounded LPs
            raise RuntimeError(f"sensitivity LP failed: {result.message}")
        minima[k] = result.fun
    return minima


def _lp_minima(Z, rows, p):
    """:math:`\\min\\{\\|Zb\\|_p^p : r^\\top b = 1\\}` for each r in ``rows`` (cvxpy)."""
    import cvxpy as cp

    b = cp.Variable(Z.shape[1])
    row = cp.Parameter(Z.shape[1])
    problem = cp.Problem(cp.Minimize(cp.pnorm(Z @ b, p)), [row @ b == 1])
    minima = np.empty(len(rows))
    for k, value in enumerate(rows):
        row.value = value
        try:
            problem.solve(solver=cp.CLARABEL)
        except cp.error.SolverError as exc:
            raise ValueError(
                f"the l{p:g} sensitivity program of a row could not be solved ({exc}). "
                "Use method='lewis', whose weights bound the sensitivities, or "
                "method='leverage'."
            ) from exc
        minima[k] = problem.value**p
    return minima


def _sensitivities_against(Z, rows, p, n_jobs):
    """Sensitivities of ``rows`` against the objective :math:`\\|Zb\\|_p^p`."""
    scores = np.zeros(len(rows))
    # Rows that are zero up to rounding (a basis of data with zero rows
    # carries ~1e-32 there) have sensitivity 0 and would make the program
    # infeasible in floating point. This is a floor on squared row norms
    # (1e-24 of the largest, i.e. 1e-12 on norms), not extmath's rank
    # tolerance: it tells rows apart, not singular values, and must not
    # depend on the number of rows.
    norms = np.einsum("ij,ij->i", rows, rows)
    nonzero = np.flatnonzero(norms > 1e-24 * max(norms.max(initial=0.0), np.finfo(float).tiny))
    if nonzero.size == 0:
        return scores
    if p == 2:
        gram_inverse = pseudo_inverse(Z.T @ Z)
        sub = rows[nonzero]
        scores[nonzero] = np.einsum("ij,jk,ik->i", sub, gram_inverse, sub)
        return scores
    solve = _l1_minima if p == 1 else (lambda Z_, rows_: _lp_minima(Z_, rows_, p))
    n_chunks = max(1, min(len(nonzero), 8 * (1 if n_jobs in (None, 1) else abs(n_jobs))))
    chunks = np.array_split(nonzero, n_chunks)
    minima = Parallel(n_jobs=n_jobs)(delayed(solve)(Z, rows[chunk]) for chunk in chunks)
    scores[nonzero] = 1.0 / np.concatenate(minima)
    return scores


def exact_sensitivities(X, p, *, n_jobs=None, random_state=None):
    """Exact lp sensitivities: one convex program per row (small n).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The matrix whose rows are scored (finite values).
    p : float
        The norm, p >= 1: a linear program per row for p = 1, the leverage
        scores (closed form) for p = 2, a cvxpy program otherwise.
    n_jobs : int, default=None
        Parallel workers for the programs (joblib).
    random_state : int, RandomState instance or None, default=None
        The sketch that preconditions large or sparse X (None:
        ``RandomState(0)``).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        :math:`s_i = 1/\\min\\{\\|Xb\\|_p^p : x_i^\\top b = 1\\}` (0 on zero
        rows).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import exact_sensitivities
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    >>> exact_sensitivities(X, p=1).round(6)
    array([1.  , 0.25, 0.25, 0.5 ])
    """
    random_state = reproducible_random_state(random_state)
    Y = well_conditioned_basis(X, random_state)
    # Y is orthonormal, so ||y_i||^2 is row i's leverage score. A row outside
    # the span of the others (leverage 1) has sensitivity exactly 1: some b
    # has Yb = e_i, and any b with y_i^T b = 1 has ||Yb||_p^p >= 1. Its
    # program is degenerate (the solver can fail on it), and on wide data
    # every row is such a row, so it is not solved.
    leverage = np.einsum("ij,ij->i", Y, Y)
    alone = leverage >= 1.0 - 1e-9
    # Rows that are zero up to rounding (zero rows, or rows of zero weight)
    # have sensitivity 0, decided against the largest row of all of Y, as in
    # _sensitivities_against: among the remaining rows alone they could look
    # like data, and their program is infeasible in floating point.
    zero = leverage <= 1e-24 * max(leverage.max(initial=0.0), np.finfo(float).tiny)
    scores = np.zeros(Y.shape[0])
    scores[alone] = 1.0
    solve = ~alone & ~zero
    if solve.any():
        scores[solve] = _sensitivities_against(Y, Y[solve], p, n_jobs)
    return scores


def default_embedding_size(n_samples, rank):
    """Rows of the lp embedding used by the sketched sensitivities."""
    return int(min(n_samples, max(200, 10 * rank)))


def sketched_sensitivities(X, p, random_state, *, embedding_size=None, n_jobs=None,
                           tol=1e-6, max_iter=200):
    """lp sensitivities against a Lewis-weight lp subspace embedding of X.

    Each row's program is solved against ``embedding_size`` rows drawn by
    their Lewis weights and scaled by :math:`\\pi_j^{-1/p}` instead of all n
    rows: within a factor :math:`1\\pm\\varepsilon` of the exact scores for an
    :math:`\\varepsilon` embedding.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        The matrix whose rows are scored (finite values).
    p : float
        The norm, p >= 1.
    random_state : int, RandomState instance or None
        The sketch that preconditions large or sparse X and the draw of the
        embedding.
    embedding_size : int, default=None
        Expected rows of the embedding (default ``max(200, 10 rank)``); with
        at least n the exact sensitivities are returned.
    n_jobs : int, default=None
        Parallel workers for the programs (joblib).
    tol, max_iter : float and int, default=1e-6 and 200
        Stopping rule of the Lewis weights that build the embedding.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        The estimated sensitivities.
    n_iter : int
        Iterations of the Lewis weights that built the embedding (0 when
        none was needed).

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import sketched_sensitivities
    >>> X = np.random.RandomState(0).standard_normal((300, 3))
    >>> scores, n_iter = sketched_sensitivities(X, 1, random_state=0)
    >>> scores.shape
    (300,)
    """
    random_state = check_random_state(random_state)
    Y = well_conditioned_basis(X, random_state)
    n_samples, rank = Y.shape
    size = default_embedding_size(n_samples, rank) if embedding_size is None else embedding_size
    if size >= n_samples:
        return _sensitivities_against(Y, Y, p, n_jobs), 0
    lewis, n_iter = lewis_weights(Y, p, tol=tol, max_iter=max_iter, basis=Y)
    from ._schemes import inclusion_probabilities

    inclusion = inclusion_probabilities(lewis / lewis.sum(), size)
    kept = np.flatnonzero(random_state.uniform(size=n_samples) < inclusion)
    Z = Y[kept] * (1.0 / inclusion[kept])[:, None] ** (1.0 / p)
    return _sensitivities_against(Z, Y, p, n_jobs), n_iter
