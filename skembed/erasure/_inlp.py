"""INLP: iterative nullspace projection (Ravfogel et al., ACL 2020).

Repeat: train a linear classifier w_i to predict the concept from the data
with the directions found so far removed, then add its weight vectors to the
removed set. The final eraser projects onto the intersection of the
classifiers' nullspaces,

    r(x) = x - Q Q^T (x - mu),   Q an orthonormal basis of span(w_1, ..., w_T),

which equals the product of the per-round nullspace projections but is formed
in one step, so rounding does not accumulate. Rounds stop after ``max_iter``,
when a probe on held-out rows is within ``tol`` of the majority rate, or when
``max_rank`` directions are removed.
"""

import numpy as np

from ..utils.extmath import orthonormal_basis
from ._probing import held_out_accuracy, holdout_split, majority_rate


def inlp_basis(X, y, weights, *, max_iter, tol, max_rank, random_state):
    """Orthonormal basis (d x r) of the removed directions, and the rounds run.

    ``X`` must already be centred; ``weights`` are non-negative row weights.
    """
    n_features = X.shape[1]
    fit_rows, held_rows = holdout_split(y, random_state)
    chance = majority_rate(y[held_rows], weights[held_rows])
    basis = np.zeros((n_features, 0))
    n_iter = 0
    while n_iter < max_iter and basis.shape[1] < min(max_rank, n_features):
        n_iter += 1
        accuracy, probe = held_out_accuracy(X, y, weights, fit_rows, held_rows, basis)
        if accuracy <= chance + tol:
            break
        new = probe.coef_.T - basis @ (basis.T @ probe.coef_.T)
        new_basis = orthonormal_basis(new)
        if new_basis.shape[1] == 0:
            break
        basis = np.hstack([basis, new_basis])[:, :max_rank]
    return basis, n_iter
