r"""Low-rank representation (LRR) by the inexact augmented Lagrange multiplier method.

LRR (Liu, Lin, Yan, Sun, Yu & Ma, "Robust recovery of subspace structures by
low-rank representation", TPAMI 2013) represents the data by itself with a
matrix of least nuclear norm, allowing column-sparse errors. In columns
(:math:`X \in \mathbb R^{d \times n}`, :math:`x_j = X z_j + e_j`):

.. math::

    \min_{Z, E}\ \|Z\|_* + \lambda \|E\|_{2,1} \quad \text{s.t.}\ X = X Z + E.

The minimiser lies in the row space of X, so with an orthonormal basis
:math:`Q` (n x r) of it and :math:`A = X Q`, the program is solved for
:math:`Z = Q Z'` with :math:`Z'` of size r x n (Liu et al., section 4.3).
The inexact ALM (Lin, Chen & Ma 2010) introduces :math:`J = Z'` and repeats

* :math:`J = \operatorname{SVT}_{1/\mu}(Z' + Y_2 / \mu)` (singular value thresholding),
* :math:`Z' = (I + A^\top A)^{-1} (A^\top (X - E) + J + (A^\top Y_1 - Y_2) / \mu)`,
* :math:`E = \operatorname{colshrink}_{\lambda / \mu}(X - A Z' + Y_1 / \mu)`,
* :math:`Y_1 \mathrel{+}= \mu (X - A Z' - E)`, :math:`Y_2 \mathrel{+}= \mu (Z' - J)`,
  :math:`\mu = \min(\rho \mu, \mu_{\max})`,

until both constraint violations are below ``tol`` (relative to the largest
entry of X). The iteration runs on X in units of its root mean square norm
(with :math:`\lambda` converted), so its steps do not depend on the units of
X. Z is dense (n x n) and each step is an r x n SVD: this is the
method for n up to a few thousand.
"""


import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from ..utils._messages import warn
from ..utils.extmath import numerical_rank, root_mean_square_norm, safe_reciprocal
from ._chunked import STEPS_PER_PROGRESS_LINE

#: ALM steps when the caller gives none.
MAX_ITER = 300


def _column_shrink(M, threshold):
    norms = np.linalg.norm(M, axis=0)
    scale = np.maximum(norms - threshold, 0.0) * safe_reciprocal(norms)
    return M * scale


def lrr_ialm(X, *, lam, tol=1e-6, max_iter=MAX_ITER, rho=1.5, mu=1e-4, mu_max=1e8,
             progress=None):
    """LRR coefficients of all rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The points (rows).
    lam : float
        Weight of the column-sparse error term (> 0), in the units of X
        (inverse of a norm); larger fits closer.
    tol : float, default=1e-6
        Stopping tolerance on the constraint violations.
    max_iter : int, default=300
        ALM steps.
    rho, mu, mu_max : float
        Penalty growth factor, initial and largest penalty.
    progress : skembed.utils._progress.ProgressLog, optional
        Told every ``STEPS_PER_PROGRESS_LINE`` steps (it prints from its
        level 2 on).

    Returns
    -------
    C : ndarray of shape (n_samples, n_samples)
        Row j holds the coefficients of point j (``C = Z'``).
    n_iter : int
        Steps run.
    """
    # The penalty mu (and the system I + A'A) adds the unit-free copy
    # constraint Z' = J to the fit constraint, which is in the units of X: in
    # units of the points' root mean square norm the iterates, and so the
    # result, are the same for X and for any multiple of it (and squares
    # neither overflow nor underflow).
    unit = root_mean_square_norm(X) or 1.0
    X = X / unit
    lam = lam * unit
    data = X.T  # d x n, columns are points
    # Orthonormal basis of the row space of data (= column space of X).
    U, s, _ = linalg.svd(X, full_matrices=False, check_finite=False)
    rank = numerical_rank(s, max(X.shape))
    Q = U[:, :rank]
    A = data @ Q  # d x r
    r, n = rank, X.shape[0]
    inverse = linalg.inv(np.eye(r) + A.T @ A)
    Z = np.zeros((r, n))
    J = np.zeros((r, n))
    E = np.zeros_like(data)
    Y1 = np.zeros_like(data)
    Y2 = np.zeros((r, n))
    scale = np.abs(data).max(initial=0.0)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        u, sigma, vt = linalg.svd(Z + Y2 / mu, full_matrices=False, check_finite=False,
                                  lapack_driver="gesdd")
        keep = sigma > 1.0 / mu
        J = (u[:, keep] * (sigma[keep] - 1.0 / mu)) @ vt[keep]
        Z = inverse @ (A.T @ (data - E) + J + (A.T @ Y1 - Y2) / mu)
        AZ = A @ Z
        E = _column_shrink(data - AZ + Y1 / mu, lam / mu)
        violation_fit = data - AZ - E
        violation_copy = Z - J
        Y1 += mu * violation_fit
        Y2 += mu * violation_copy
        mu = min(rho * mu, mu_max)
        if (np.abs(violation_fit).max(initial=0.0) <= tol * scale
                and np.abs(violation_copy).max(initial=0.0) <= tol):
            break
        if progress is not None and n_iter % STEPS_PER_PROGRESS_LINE == 0:
            progress.chunk(n_iter, max_iter, "ALM steps")
    else:
        warn(
            f"the LRR inexact ALM did not converge in max_iter={max_iter} steps; the "
            "coefficients are approximate. Raise max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return (Q @ Z).T, n_iter
