r"""Elastic-net subspace clustering (EnSC) with the oracle-guided active-set solver.

Each point :math:`x_j` is written as a combination of the other points by the
elastic net

.. math::

    c_j = \arg\min_{c,\ c_j = 0}\ \tfrac12 \|x_j - X^\top c\|_2^2
          + \lambda_j \big(\tau \|c\|_1 + \tfrac{1-\tau}{2} \|c\|_2^2\big),

with :math:`\lambda_j = \lambda_{\max,j} / \gamma`, where
:math:`\lambda_{\max,j} = \max_{i \ne j} |x_i^\top x_j| / \tau` is the
smallest :math:`\lambda` for which :math:`c_j = 0` (so ``gamma > 1`` always
selects at least one point). :math:`\tau = 1` is the lasso of SSC; smaller
:math:`\tau` adds a ridge term that connects more points of the same subspace.

The program is solved by ORGEN (You, Robinson & Vidal, "Oracle based active
set algorithm for scalable elastic net subspace clustering", CVPR 2016): solve
the elastic net on a small support :math:`T`; the solution is optimal for the
full program exactly when no point outside :math:`T` violates the
Karush-Kuhn-Tucker condition :math:`|x_i^\top r| \le \lambda \tau`, where
:math:`r = x_j - X_T^\top c_T` is the residual (the oracle point is
:math:`r / \lambda`); otherwise the violators are added to :math:`T` and the
solve is repeated. Each subproblem has |T| (tens to a few hundred) unknowns,
so the cost per point is O(n d) per round for the violator check (one block
matrix product for a chunk of points) instead of growing with n^2.

The subproblems are solved by cyclic coordinate descent on their Gram matrix
(scikit-learn's compiled elastic-net solver), warm-started between rounds.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..utils._compat import enet_coordinate_descent_gram

#: Rounds of support growth per point (ORGEN converges in a few).
MAX_ROUNDS = 40


def _enet_on_gram(gram, products, target, l1, l2, coef, tol, max_iter):
    """Solve min 1/2 c'Gc - b'c + l1 |c|_1 + l2/2 |c|^2, starting from ``coef``.

    Coordinate descent (scikit-learn's compiled solver) finds the signs; the
    solution is then polished exactly: with the nonzero set S and signs s
    fixed, the optimality conditions are linear,
    ``(G_SS + l2 I) c_S = b_S - l1 s``, and the solve is kept when it keeps
    the signs and leaves every other coordinate with ``|b_i - G_i c| <= l1``.
    On the highly coherent dictionaries of subspace clustering coordinate
    descent converges slowly; the polish gives the exact solution as soon as
    the signs are right.
    """
    for attempt in range(3):  # tighten coordinate descent until the polish holds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            coef = _coordinate_descent(coef, l1, l2, gram, products, target, max_iter, tol)
        coef = np.asarray(coef)
        polished = _polish(gram, products, l1, l2, coef)
        if polished is not None:
            return polished
        tol, max_iter = tol * 1e-3, max_iter * 10
    return coef


def _coordinate_descent(coef, l1, l2, gram, products, target, max_iter, tol,
                        use_compiled=True):
    """Cyclic coordinate descent on min 1/2 c'Gc - b'c + l1 |c|_1 + l2/2 |c|^2.

    scikit-learn's compiled solver when the installed release offers one
    (:mod:`skembed.utils._compat` adapts it to each release); otherwise (or
    with ``use_compiled=False``) the same sweeps in NumPy, stopping when no
    coordinate moves by more than ``tol`` relative to the largest one (the
    exact polish that follows does not depend on how the signs were found).
    """
    if use_compiled:
        compiled = enet_coordinate_descent_gram(
            coef, l1, l2, gram, products, target, max_iter, tol
        )
        if compiled is not None:
            return compiled
    coef = np.array(coef, dtype=np.float64)
    gradient = products - gram @ coef  # b - G c
    diagonal = np.diag(gram)
    for _ in range(max_iter):
        largest_step = 0.0
        for k in range(coef.size):
            if diagonal[k] <= 0:
                continue
            old = coef[k]
            z = gradient[k] + diagonal[k] * old
            new = np.sign(z) * max(abs(z) - l1, 0.0) / (diagonal[k] + l2)
            if new != old:
                gradient -= (new - old) * gram[:, k]
                coef[k] = new
                largest_step = max(largest_step, abs(new - old))
        if largest_step <= tol * max(np.abs(coef).max(), 1e-300):
            break
    return coef


def _polish(gram, products, l1, l2, coef):
    """The exact solution with the signs of ``coef``, or None if they are wrong."""
    nonzero = np.flatnonzero(coef)
    if nonzero.size == 0:
        return coef if np.all(np.abs(products) <= l1 * (1.0 + 1e-9)) else None
    signs = np.sign(coef[nonzero])
    system = gram[np.ix_(nonzero, nonzero)]
    system.flat[:: nonzero.size + 1] += l2
    try:
        exact = np.linalg.solve(system, products[nonzero] - l1 * signs)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.sign(exact) == signs):
        return None
    candidate = np.zeros_like(coef)
    candidate[nonzero] = exact
    slack = np.abs(products - gram @ candidate)
    slack[nonzero] = 0.0
    if np.all(slack <= l1 * (1.0 + 1e-9)):
        return candidate
    return None


def ensc_chunk(X, rows, *, gamma, tau, n_nonzero, support_size=100, tol=1e-6,
               max_iter=200, max_rounds=MAX_ROUNDS, gram=None):
    """Elastic-net coefficients of the points ``rows`` of ``X`` (ORGEN).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        All points (the dictionary).
    rows : ndarray of int of shape (n_rows,)
        The points to express.
    gamma : float
        ``lambda = lambda_max / gamma``; must exceed 1 for a nonzero solution.
    tau : float in (0, 1]
        Weight of the l1 term.
    n_nonzero : int or None
        Keep at most this many coefficients (the largest in absolute value)
        per point; None keeps all.
    tol : float
        Coordinate descent stops at a duality gap of ``tol * ||x_j||^2``.
    max_iter : int
        Coordinate descent sweeps per subproblem.
    support_size : int, default=100
        Size of the starting support (the points of largest ``|x_i' x_j|``,
        as in ORGEN) and most violators added per round (the largest).
    max_rounds : int
        Support-growth rounds per point.
    gram : ndarray of shape (n_samples, n_samples), optional
        ``X @ X.T`` when it is small enough to hold (few thousand points in
        many dimensions): every product is then read from it, at O(n |T|)
        per point and round instead of O(n d).

    Returns
    -------
    indptr_counts : ndarray of int of shape (n_rows,)
        Number of coefficients kept per point.
    indices : ndarray of int
        Their columns (concatenated over points).
    values : ndarray of float64
        Their values.
    rounds : int
        Largest number of rounds any point needed.
    """
    n_samples = X.shape[0]
    n_rows = len(rows)
    support_size = min(support_size, n_samples - 1)
    targets = X[rows]
    # Correlations of the chunk's targets with every point: one block product.
    correlations = targets @ X.T if gram is None else gram[rows]
    correlations[np.arange(n_rows), rows] = 0.0
    magnitudes = np.abs(correlations)
    lambdas = magnitudes.max(axis=1) / tau / gamma
    l1s, l2s = lambdas * tau, lambdas * (1.0 - tau)
    # The points most correlated with x_j start the support (the point itself,
    # at correlation 0 here, would only be picked when all others are).
    magnitudes[np.arange(n_rows), rows] = -1.0
    supports = list(np.argpartition(-magnitudes, support_size - 1, axis=1)[:, :support_size])
    del magnitudes
    coefs = [np.zeros(len(s)) for s in supports]
    active = np.ones(n_rows, dtype=bool)
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        todo = np.flatnonzero(active)
        residuals = np.empty((len(todo), X.shape[1] if gram is None else n_samples))
        for slot, p in enumerate(todo):
            support = supports[p]
            if gram is None:
                atoms = X[support]
                support_gram = atoms @ atoms.T
            else:
                support_gram = gram[np.ix_(support, support)]
            coefs[p] = _enet_on_gram(
                support_gram, correlations[p, support], targets[p], l1s[p], l2s[p],
                coefs[p], tol, max_iter,
            )
            if gram is None:
                residuals[slot] = targets[p] - coefs[p] @ atoms
            else:  # the residual's correlations X r = X x_j - X X_T' c
                residuals[slot] = correlations[p] - coefs[p] @ gram[support]
        # KKT check over all points at once: |x_i' r| <= lambda tau off the support.
        scores = np.abs(residuals @ X.T) if gram is None else np.abs(residuals)
        for slot, p in enumerate(todo):
            column = scores[slot]
            column[supports[p]] = 0.0
            column[rows[p]] = 0.0
            violators = np.flatnonzero(column > l1s[p] * (1.0 + 1e-10))
            if violators.size == 0:
                active[p] = False
                continue
            if violators.size > support_size:
                top = np.argpartition(-column[violators], support_size - 1)[:support_size]
                violators = violators[top]
            supports[p] = np.concatenate([supports[p], violators])
            coefs[p] = np.concatenate([coefs[p], np.zeros(violators.size)])
        if not active.any():
            break

    counts, indices, values = _sparse_rows(coefs, supports, n_nonzero)
    return counts, indices, values, rounds


def ensc_candidates_chunk(X, rows, candidates, *, gamma, tau, n_nonzero, check=None,
                          tol=1e-6, max_iter=200):
    """Elastic-net coefficients of ``rows`` over their candidate points only.

    For large n the per-point program is restricted to the point's
    ``candidates`` (its points of largest ``|cos|``, found once for all points
    by the exact kNN search): each subproblem then costs O(M^2 d) with M
    candidates, independent of n, and ``lambda_max`` is taken over the
    candidates (the same as over all points when the rows have equal norms,
    since the largest ``|x_i' x_j|`` is then the largest ``|cos|``). This is
    ORGEN's first round with the candidates as the starting support, without
    its O(n d) oracle check.

    The restricted program is a different, local one: on large noisy sets the
    global solution at the same ``lambda`` also picks far points (of other
    subspaces) that happen to correlate with the residual noise, which the
    candidates exclude. For the rows flagged in ``check`` the ORGEN oracle
    test runs over *all* points (``|x_i' r| <= lambda tau`` outside the
    candidates), to report how often the two programs differ; the restricted
    solution is kept.

    Returns
    -------
    counts, indices, values, rounds
        As :func:`ensc_chunk`.
    n_checked, n_violated : int
        Rows checked over all points, and those whose candidate solution was
        not optimal there.
    """
    n_rows, n_candidates = candidates.shape
    targets = X[rows]
    atoms = X[candidates]  # (n_rows, M, d)
    grams = np.matmul(atoms, np.swapaxes(atoms, 1, 2))
    products = np.einsum("mkd,md->mk", atoms, targets)
    lambdas = np.abs(products).max(axis=1) / tau / gamma
    l1s, l2s = lambdas * tau, lambdas * (1.0 - tau)
    coefs = np.zeros((n_rows, n_candidates))
    for p in range(n_rows):
        coefs[p] = _enet_on_gram(grams[p], products[p], targets[p], l1s[p], l2s[p],
                                 coefs[p], tol, max_iter)

    counts, indices, values = _sparse_rows(coefs, candidates, n_nonzero)

    n_checked = n_violated = 0
    if check is not None and np.any(check):
        flagged = np.flatnonzero(check)
        residuals = targets[flagged] - np.einsum("mk,mkd->md", coefs[flagged], atoms[flagged])
        scores = np.abs(residuals @ X.T)
        violated = []
        for slot, p in enumerate(flagged):
            column = scores[slot]
            column[candidates[p]] = 0.0
            column[rows[p]] = 0.0
            if np.any(column > l1s[p] * (1.0 + 1e-9)):
                violated.append(p)
        n_checked, n_violated = flagged.size, len(violated)
    return counts, indices, values, 1, n_checked, n_violated


def _sparse_rows(coefs, columns, n_nonzero):
    """Each row's nonzero coefficients (its ``n_nonzero`` largest in magnitude at most).

    ``coefs[p]`` holds row p's coefficients on the points ``columns[p]``;
    returns the row counts, the point indices and the values, concatenated
    over the rows (CSR order).
    """
    counts = np.empty(len(coefs), dtype=np.intp)
    indices, values = [], []
    for p, (row, row_columns) in enumerate(zip(coefs, columns)):
        keep = np.flatnonzero(row)
        if n_nonzero is not None and keep.size > n_nonzero:
            keep = keep[np.argpartition(-np.abs(row[keep]), n_nonzero - 1)[:n_nonzero]]
        counts[p] = keep.size
        indices.append(row_columns[keep])
        values.append(row[keep])
    if not indices:
        return counts, np.zeros(0, dtype=np.intp), np.zeros(0)
    return counts, np.concatenate(indices), np.concatenate(values)
