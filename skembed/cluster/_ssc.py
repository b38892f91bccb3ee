r"""Sparse subspace clustering (SSC) by the alternating direction method of multipliers.

SSC (Elhamifar & Vidal, "Sparse subspace clustering: algorithm, theory, and
applications", TPAMI 2013) writes every point by the others with the lasso,
for all points at once (rows of ``C`` are the coefficients of each point):

.. math::

    \min_C\ \|C\|_1 + \frac{\lambda_e}{2} \|X - C X\|_F^2
    \quad \text{s.t.}\ \operatorname{diag}(C) = 0\ (,\ C \mathbf 1 = \mathbf 1),

with :math:`\lambda_e = \alpha / \mu_e` and
:math:`\mu_e = \min_j \max_{i \ne j} |x_i^\top x_j|` (the smallest
:math:`\lambda_e` that gives every point a nonzero representation is
:math:`1 / \mu_e`, so :math:`\alpha > 1`). The second constraint is for
affine subspaces.

ADMM splits :math:`C` into a smooth copy :math:`Z` and the sparse :math:`C`:

* :math:`Z = (\lambda_e G + \rho C - \Delta + (\rho \mathbf 1 - \delta) \mathbf 1^\top)
  (\lambda_e G + \rho I + \rho \mathbf 1 \mathbf 1^\top)^{-1}` with
  :math:`G = X X^\top` (the terms in :math:`\mathbf 1` only when affine), then
  :math:`\operatorname{diag}(Z) = 0`;
* :math:`C = \operatorname{shrink}(Z + \Delta / \rho, 1 / \rho)`,
  :math:`\operatorname{diag}(C) = 0`;
* :math:`\Delta \mathrel{+}= \rho (Z - C)`,
  :math:`\delta \mathrel{+}= \rho (Z \mathbf 1 - \mathbf 1)`,

with :math:`\rho = \alpha` as in the authors' code, until
the primal residual :math:`\max |Z - C|` and the change of :math:`C` fall
below ``tol``. (The authors' code also zeroes the diagonal of :math:`Z`, which
makes the iteration inexact; here the constraint is kept by :math:`C` alone,
so the iteration converges to the solution of the program.) Each
step costs a dense n x n product: this is the method for n up to a few
thousand; ``"ensc"`` with ``tau=1`` solves the same lasso per point in
O(n) memory.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def ssc_admm(X, *, alpha, affine=False, tol=2e-4, max_iter=200):
    """Lasso self-representation of all rows of ``X`` by ADMM.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The points.
    alpha : float
        Fit weight relative to its smallest useful value (> 1).
    affine : bool, default=False
        Add the constraint that each row of C sums to one.
    tol : float, default=2e-4
        Stop when ``max|Z - C|`` and the change of ``C`` are below this.
    max_iter : int, default=200
        ADMM steps.

    Returns
    -------
    C : ndarray of shape (n_samples, n_samples)
        The coefficients (row j expresses point j), zero diagonal.
    n_iter : int
        Steps run.
    """
    n_samples = X.shape[0]
    gram = X @ X.T
    off_diagonal = np.abs(gram - np.diag(np.diag(gram)))
    mu = off_diagonal.max(axis=1).min()
    lam = alpha / mu if mu > 0 else alpha
    rho = alpha
    system = lam * gram + rho * np.eye(n_samples)
    if affine:
        system += rho
    inverse = np.linalg.inv(system)  # symmetric: Z = M @ inverse
    fitted = lam * gram @ inverse
    if affine:
        ones_term = inverse.sum(axis=0)  # 1' A
    C = np.zeros((n_samples, n_samples))
    dual = np.zeros((n_samples, n_samples))
    dual_sum = np.zeros(n_samples)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        Z = fitted + (rho * C - dual) @ inverse
        if affine:
            Z += np.outer(rho - dual_sum, ones_term)
        previous = C
        shifted = Z + dual / rho
        C = np.sign(shifted) * np.maximum(np.abs(shifted) - 1.0 / rho, 0.0)
        np.fill_diagonal(C, 0.0)
        dual += rho * (Z - C)
        if affine:
            dual_sum += rho * (Z.sum(axis=1) - 1.0)
        # Primal (Z = C, Z1 = 1) and dual (C settled) residuals.
        gap = max(np.abs(Z - C).max(), np.abs(C - previous).max())
        if affine:
            gap = max(gap, np.abs(Z.sum(axis=1) - 1.0).max())
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
    return C, n_iter
