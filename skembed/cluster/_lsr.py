r"""Least-squares regression (LSR) subspace clustering, in closed form.

LSR (Lu, Min, Zhao, Zhu, Huang & Yan, "Robust and efficient subspace
segmentation via least squares regression", ECCV 2012) replaces the l1 norm
of SSC by the Frobenius norm, which has a closed form. With the zero-diagonal
constraint (their LSR1), in rows (row j of C expresses point j):

.. math::

    \min_C\ \|X - C X\|_F^2 + \lambda \|C\|_F^2 \quad \text{s.t.}\ \operatorname{diag}(C) = 0
    \ \Longrightarrow\ C_{ji} = -D_{ji} / D_{jj}\ (i \ne j),\quad D = (X X^\top + \lambda I)^{-1},

from the stationarity condition of each row with a multiplier for
:math:`c_{jj} = 0`. With the affine constraint :math:`C \mathbf 1 = \mathbf 1`
as well, a second multiplier gives, with :math:`s = D \mathbf 1` and
:math:`S = \mathbf 1^\top D \mathbf 1`,

.. math::

    c_j = e_j - \frac{S\, D e_j - s_j\, s}{S D_{jj} - s_j^2}.

C is dense (n x n): this is the method for n up to a few thousand.
"""

import numpy as np
from scipy import linalg


def lsr_coefficients(X, *, lam, affine=False):
    """Zero-diagonal LSR coefficients of all rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The points.
    lam : float
        Ridge weight (> 0).
    affine : bool, default=False
        Constrain each row of C to sum to one.

    Returns
    -------
    C : ndarray of shape (n_samples, n_samples)
        Row j holds the coefficients of point j; zero diagonal.
    """
    n_samples = X.shape[0]
    system = X @ X.T
    system.flat[:: n_samples + 1] += lam
    D = linalg.inv(system, overwrite_a=True, check_finite=False)
    D = (D + D.T) / 2  # exactly symmetric
    diagonal = np.diag(D).copy()
    if not affine:
        C = -D / diagonal[:, None]
    else:
        sums = D.sum(axis=1)
        total = sums.sum()
        det = total * diagonal - sums**2
        C = -(total * D - np.outer(sums, sums)) / det[:, None]
        C.flat[:: n_samples + 1] += 1.0
    np.fill_diagonal(C, 0.0)
    return C
