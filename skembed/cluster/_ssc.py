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
step costs a dense n x (n + d) product: this is the method for n up to a few
thousand; ``"ensc"`` with ``tau=1`` solves the same lasso per point in
O(n) memory.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def ssc_admm(X, *, alpha, affine=False, outlier_alpha=None, tol=2e-4, max_iter=200):
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
        Stop when ``max|Z - A|`` and the change of ``A`` are below this.
    max_iter : int, default=200
        ADMM steps.

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
    gram = X @ X.T
    off_diagonal = np.abs(gram - np.diag(np.diag(gram)))
    coherence = off_diagonal.max(axis=1)
    weights = np.ones(n_samples)
    if outlier_alpha is None:
        dictionary, fit_products = X, gram
    else:
        largest_l1 = np.abs(X).sum(axis=1).max()
        error_weight = outlier_alpha / largest_l1 if largest_l1 > 0 else outlier_alpha
        dictionary = np.vstack([X, np.eye(n_features)])
        fit_products = np.hstack([gram, X])  # X P^T
        weights = np.concatenate([weights, np.full(n_features, error_weight)])
        coherence = np.maximum(coherence, np.abs(X).max(axis=1) / error_weight)
    mu = coherence.min()
    lam = alpha / mu if mu > 0 else alpha
    rho = alpha
    n_atoms = dictionary.shape[0]
    apply_inverse, ones_term = _system_inverse(dictionary, lam, rho, n_samples if affine else 0)
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
    else:
        warnings.warn(
            f"SubspaceClusterer: the SSC ADMM did not converge in max_iter={max_iter} "
            f"steps (residual {gap:.2g} > tol={tol:g}); the coefficients are approximate. "
            "Raise SubspaceClusterer's max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    C = np.ascontiguousarray(A[:, :n_samples])
    E = None if outlier_alpha is None else np.ascontiguousarray(A[:, n_samples:])
    return C, E, n_iter


def _system_inverse(dictionary, lam, rho, n_affine):
    """Right multiplication by :math:`S^{-1}`, :math:`S = \\lambda P P^\\top + \\rho I + \\rho u u^\\top`.

    ``u`` is one on the first ``n_affine`` atoms (0: no affine term). The
    solver is picked by shape: with fewer features d than atoms m, the
    Woodbury identity
    :math:`(\\lambda P P^\\top + \\rho I)^{-1} = \\rho^{-1}(I - P K P^\\top)`,
    :math:`K = (\\rho / \\lambda\\, I_d + P^\\top P)^{-1}`, costs 2 m d per row
    instead of m^2 and never forms the m x m inverse; the affine term is a
    rank-one (Sherman-Morrison) correction. Returns the multiplication and
    :math:`u^\\top S^{-1}` (None without the affine term).
    """
    n_atoms, n_features = dictionary.shape
    if 2 * n_features >= n_atoms:
        system = lam * (dictionary @ dictionary.T)
        system.flat[:: n_atoms + 1] += rho
        system[:n_affine, :n_affine] += rho
        inverse = np.linalg.inv(system)  # symmetric: M S^-1 = M @ inverse
        ones_term = inverse[:n_affine].sum(axis=0) if n_affine else None
        return (lambda M: M @ inverse), ones_term
    core = dictionary.T @ dictionary
    core.flat[:: n_features + 1] += rho / lam
    core = np.linalg.inv(core)

    def apply_base(M):  # M B^-1 with B = lam P P' + rho I
        return (M - ((M @ dictionary) @ core) @ dictionary.T) / rho

    if not n_affine:
        return apply_base, None
    u = np.zeros(n_atoms)
    u[:n_affine] = 1.0
    b = apply_base(u)  # B^-1 u (B symmetric)
    shrink = rho / (1.0 + rho * (u @ b))

    def apply_inverse(M):
        return apply_base(M) - shrink * np.outer(M @ b, b)

    return apply_inverse, b * (1.0 - shrink * (u @ b))
