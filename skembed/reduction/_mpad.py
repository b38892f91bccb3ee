"""The "mpad" objective: MPAD / QPAD (Fu & Zhao, 2025), optimised jointly.

MPAD chooses projection directions w_1, ..., w_m one at a time, each
maximising the mean of the smallest b% of the projected pair gaps
|<w, x_i - x_j>| (spreading apart the pairs that the projection squeezes
most) minus alpha sum_{s<t} <w_s, w_t>^2, with unit-norm directions, by
finite-difference L-BFGS over all pairs. Here all directions are optimised
together on the objective

    Phi(W) = sum_s tailmean_b { |<w_s, x_i - x_j>| : (i, j) in P }
             - alpha sum_{s != t} <w_s, w_t>^2,

with P a random sample of pairs redrawn at every step, the analytic
subgradient (sign(<w_s, delta>) delta summed over the pairs in the tail) and
a projection of each column back to unit norm after every ascent step.
"""

import numpy as np


def mpad_objective_and_gradient(W, differences, tail_fraction, alpha):
    """Phi(W) and its (sub)gradient for a sample of pair differences.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
        Unit-norm columns.
    differences : ndarray of shape (n_pairs, n_features)
        x_i - x_j for the sampled pairs.
    tail_fraction : float in (0, 1]
        b: the fraction of smallest gaps averaged.
    alpha : float
        Weight of the orthogonality penalty.

    Returns
    -------
    objective : float
    gradient : ndarray of shape (n_features, n_components)
    """
    gaps = differences @ W  # (p, m)
    size = max(1, int(np.ceil(tail_fraction * len(differences))))
    absolute = np.abs(gaps)
    tail = np.argpartition(absolute, size - 1, axis=0)[:size]  # (size, m)
    tail_gaps = np.take_along_axis(gaps, tail, axis=0)
    objective = float(np.abs(tail_gaps).mean(axis=0).sum())
    gradient = np.empty_like(W)
    for s in range(W.shape[1]):
        gradient[:, s] = np.sign(tail_gaps[:, s]) @ differences[tail[:, s]] / size
    overlap = W.T @ W
    np.fill_diagonal(overlap, 0.0)
    objective -= alpha * float(np.sum(overlap**2))
    gradient -= 4 * alpha * W @ overlap
    return objective, gradient
