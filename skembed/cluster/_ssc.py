r"""Sparse subspace clustering (SSC) by the alternating direction method of multipliers.

SSC (Elhamifar & Vidal, "Sparse subspace clustering: algorithm, theory, and
applications", TPAMI 2013) writes every point by the others with the lasso,
for all points at once (rows of ``C`` are the coefficients of each point):

.. math::

    \min_C\ \|C\|_1 + \frac{\lambda_z}{2} \|X - C X\|_F^2
    \quad \text{s.t.}\ \operatorname{diag}(C) = 0\ (,\ C \mathbf 1 = \mathbf 1),

with :math:`\lambda_z = \alpha / \mu_z` and
:math:`\mu_z = \min_j \max_{i \ne j} |x_i^\top x_j|` (the smallest
:math:`\lambda_z` that gives every point a nonzero representation is
:math:`1 / \mu_z`, so :math:`\alpha > 1`). The second constraint is for
affine subspaces.

**Sparse outlying entries** (their Section 4.2): points whose entries are
partly corrupted by large errors get a sparse error matrix :math:`E`,

.. math::

    \min_{C, E}\ \|C\|_1 + \lambda_e \|E\|_1 + \frac{\lambda_z}{2} \|X - C X - E\|_F^2,

with :math:`\lambda_e = \alpha_e / \max_j \|x_j\|_1` as in the authors' code
(larger :math:`\alpha_e`: fewer entries called corrupted). Writing
:math:`A = [C \;\; E]` and :math:`P = [X;\ I_d]` makes this the same lasso
over the augmented dictionary :math:`P` with weight :math:`\lambda_e` on the
last d coefficients, so one solver does both; :math:`\mu_z` then also counts
the dictionary's identity part,
:math:`\mu_z = \min_j \max(\max_{i \ne j} |x_i^\top x_j|,\ \|x_j\|_\infty / \lambda_e)`.
The coefficients are unit-free and the errors in the units of X, while one
ADMM penalty and one tolerance serve both: the iteration runs on X in units
of its root mean square norm (E is returned in the units of X), so its
result is the same for X and any multiple of it.

ADMM splits :math:`A` into a smooth copy :math:`Z` and the sparse :math:`A`,
with :math:`u = [\mathbf 1_n; 0_d]` selecting the coefficients on points:

* :math:`Z = (\lambda_z X P^\top + \rho A - \Delta + (\rho \mathbf 1 - \delta) u^\top)
  (\lambda_z P P^\top + \rho I + \rho u u^\top)^{-1}` (the terms in
  :math:`u` only when affine);
* :math:`A = \operatorname{shrink}(Z + \Delta / \rho, w / \rho)` with
  weights :math:`w` (1 on points, :math:`\lambda_e` on errors), then
  :math:`\operatorname{diag}(C) = 0`;
* :math:`\Delta \mathrel{+}= \rho (Z - A)`,
  :math:`\delta \mathrel{+}= \rho (Z u - \mathbf 1)`,

with :math:`\rho = \alpha` as in the authors' code, until
the primal residual :math:`\max |Z - A|` and the change of :math:`A` fall
below ``tol``. (The authors' code also zeroes the diagonal of :math:`Z`, which
makes the iteration inexact; here the constraint is kept by :math:`A` alone,
so the iteration converges to the solution of the program.) Each
step multiplies the dense n x (n + d) coefficients by the system's inverse,
applied by the cheapest of a dense inverse, the Woodbury identity or a Schur
complement for the shape at hand (:func:`_system_inverse`): this is the
method for n up to a few thousand; ``"ensc"`` with ``tau=1`` solves the same
lasso per point in O(n) memory.
"""


import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..utils._messages import warn
from ..utils.extmath import root_mean_square_norm
from ._chunked import STEPS_PER_PROGRESS_LINE

#: ADMM steps when the caller gives none.
MAX_ITER = 200


def ssc_admm(X, *, alpha, affine=False, outlier_alpha=None, tol=2e-4, max_iter=MAX_ITER,
             progress=None):
    """Lasso self-representation of all rows of ``X`` by ADMM.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The points.
    alpha : float
        Fit weight relative to its smallest useful value (> 1).
    affine : bool, default=False
        Add the constraint that each row of C sums to one.
    outlier_alpha : float or None, default=None
        Add the sparse error term with
        :math:`\\lambda_e = \\alpha_e / \\max_j \\|x_j\\|_1` (> 0); None
        leaves it out.
    tol : float, default=2e-4
        Stop when ``max|Z - A|`` and the change of ``A`` are below this
        (the error block in units of the points' root mean square norm).
    max_iter : int, default=200
        ADMM steps.
    progress : skembed.utils._progress.ProgressLog, optional
        Told every ``STEPS_PER_PROGRESS_LINE`` steps (it prints from its
        level 2 on).

    Returns
    -------
    C : ndarray of shape (n_samples, n_samples)
        The coefficients (row j expresses point j), zero diagonal.
    E : ndarray of shape (n_samples, n_features) or None
        The sparse errors (row j for point j), None without the error term.
    n_iter : int
        Steps run.
    """
    n_samples, n_features = X.shape
    with_errors = outlier_alpha is not None
    unit = 1.0
    if with_errors:
        # The coefficients are unit-free but the errors are in the units of
        # X, and one penalty rho (and one tolerance) serves both: in units of
        # the points' root mean square norm the iterates, and so the result,
        # are the same for X and for any multiple of it.
        unit = root_mean_square_norm(X) or 1.0
        X = X / unit
    gram = X @ X.T
    off_diagonal = np.abs(gram - np.diag(np.diag(gram)))
    coherence = off_diagonal.max(axis=1)
    weights = np.ones(n_samples)
    if not with_errors:
        fit_products = gram  # X P^T
    else:
        largest_l1 = np.abs(X).sum(axis=1).max()
        error_weight = outlier_alpha / largest_l1 if largest_l1 > 0 else outlier_alpha
        fit_products = np.hstack([gram, X])
        weights = np.concatenate([weights, np.full(n_features, error_weight)])
        coherence = np.maximum(coherence, np.abs(X).max(axis=1) / error_weight)
    # A point correlated with no other (e.g. an all-zero row) gets C = 0
    # whatever lambda is; it must not set lambda for the others.
    positive = coherence[coherence > 0]
    mu = positive.min() if positive.size else 0.0
    lam = alpha / mu if mu > 0 else alpha
    rho = alpha
    n_atoms = fit_products.shape[1]
    apply_inverse, ones_term = _system_inverse(X, lam, rho, affine=affine,
                                               with_errors=with_errors, gram=gram)
    fitted = apply_inverse(lam * fit_products)
    A = np.zeros((n_samples, n_atoms))
    dual = np.zeros((n_samples, n_atoms))
    dual_sum = np.zeros(n_samples)
    thresholds = weights / rho
    diagonal = (np.arange(n_samples), np.arange(n_samples))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        Z = fitted + apply_inverse(rho * A - dual)
        if affine:
            Z += np.outer(rho - dual_sum, ones_term)
        previous = A
        shifted = Z + dual / rho
        A = np.sign(shifted) * np.maximum(np.abs(shifted) - thresholds, 0.0)
        A[diagonal] = 0.0
        dual += rho * (Z - A)
        if affine:
            dual_sum += rho * (Z[:, :n_samples].sum(axis=1) - 1.0)
        # Primal (Z = A, Zu = 1) and dual (A settled) residuals.
        gap = max(np.abs(Z - A).max(), np.abs(A - previous).max())
        if affine:
            gap = max(gap, np.abs(Z[:, :n_samples].sum(axis=1) - 1.0).max())
        if gap <= tol:
            break
        if progress is not None and n_iter % STEPS_PER_PROGRESS_LINE == 0:
            progress.chunk(n_iter, max_iter, "ADMM steps")
    else:
        warn(
            f"the SSC ADMM did not converge in max_iter={max_iter} steps (residual "
            f"{gap:.2g} > tol={tol:g}); the coefficients are approximate. Raise max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    C = np.ascontiguousarray(A[:, :n_samples])
    E = None if not with_errors else np.ascontiguousarray(A[:, n_samples:]) * unit
    return C, E, n_iter


def _system_inverse(X, lam, rho, *, affine, with_errors, gram=None, solver=None):
    """Right multiplication by the inverse of the ADMM system.

    The system is :math:`S = \\lambda P P^\\top + \\rho I + \\rho u u^\\top`
    with :math:`P = X` (n atoms) or :math:`P = [X;\\ I_d]` (n + d atoms, with
    the error term), and :math:`u` one on the n point atoms (only when
    ``affine``). The solver is picked by its cost per row of the multiplied
    matrix, and none forms an (n + d)-square inverse:

    ``"dense"`` (no error term, d >= n / 2)
        The n x n inverse: n^2 flops per row.
    ``"woodbury"`` (d small)
        :math:`(\\lambda P P^\\top + \\rho I)^{-1} = \\rho^{-1}(I - P K P^\\top)`,
        :math:`K = (\\rho / \\lambda\\, I_d + P^\\top P)^{-1}`: 2 m d flops for
        m atoms; the affine term is a rank-one (Sherman-Morrison) correction.
    ``"schur"`` (error term, d not small)
        Eliminating the identity block, whose Schur complement is
        :math:`T = \\frac{\\lambda\\rho}{\\lambda+\\rho} X X^\\top + \\rho I
        (+ \\rho \\mathbf 1 \\mathbf 1^\\top)`: with :math:`c = \\lambda / (\\lambda + \\rho)`
        and :math:`[M_1\\ M_2] S^{-1} = [Y,\\ M_2 / (\\lambda + \\rho) - c\\, Y X]`,
        :math:`Y = (M_1 - c\\, M_2 X^\\top) T^{-1}`: n (n + 2d) flops.

    Returns the multiplication and :math:`u^\\top S^{-1}` (None without the
    affine term). ``gram`` is :math:`X X^\\top` when the caller has it.
    ``solver`` forces a path (tests).
    """
    n_samples, n_features = X.shape
    n_atoms = n_samples + n_features if with_errors else n_samples
    if solver is None:
        costs = {"woodbury": 2 * n_atoms * n_features}
        if with_errors:
            costs["schur"] = n_samples * (n_samples + 2 * n_features)
        else:
            costs["dense"] = n_samples * n_samples
        solver = min(costs, key=costs.get)
    if gram is None and solver in ("dense", "schur"):
        gram = X @ X.T
    # u: one on the point atoms (the affine constraint's direction).
    u = np.zeros((1, n_atoms))
    u[0, :n_samples] = 1.0
    ones_block = (slice(0, n_samples),) * 2 if affine else (slice(0, 0),) * 2

    if solver == "dense" and not with_errors:
        system = lam * gram
        system.flat[:: n_samples + 1] += rho
        system[ones_block] += rho
        inverse = np.linalg.inv(system)  # symmetric: M S^-1 = M @ inverse

        def apply_inverse(M):
            return M @ inverse
    elif solver == "schur" and with_errors:
        c = lam / (lam + rho)
        complement = (lam * rho / (lam + rho)) * gram
        complement.flat[:: n_samples + 1] += rho
        complement[ones_block] += rho
        complement_inverse = np.linalg.inv(complement)

        def apply_inverse(M):
            on_points, on_axes = M[:, :n_samples], M[:, n_samples:]
            Y = (on_points - c * (on_axes @ X.T)) @ complement_inverse
            return np.hstack([Y, on_axes / (lam + rho) - c * (Y @ X)])
    elif solver == "woodbury":
        P = np.vstack([X, np.eye(n_features)]) if with_errors else X
        core = P.T @ P
        core.flat[:: n_features + 1] += rho / lam
        core = np.linalg.inv(core)

        def apply_base(M):  # M B^-1 with B = lam P P' + rho I
            return (M - ((M @ P) @ core) @ P.T) / rho

        apply_inverse = apply_base
        if affine:
            b = apply_base(u)  # (B^-1 u)' (B symmetric)
            # Sherman-Morrison: (B + rho u u')^-1 = B^-1 - scale B^-1 u u' B^-1.
            scale = rho / (1.0 + rho * (b @ u.T).item())

            def apply_inverse(M):
                return apply_base(M) - scale * (M @ b.T) @ b
    else:
        raise ValueError(f"unknown solver {solver!r} for with_errors={with_errors}")
    if not affine:
        return apply_inverse, None
    return apply_inverse, apply_inverse(u)[0]
