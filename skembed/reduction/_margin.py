"""The "margin" objective: each point's true neighbours must outrank intruders.

For a query x_i with true k nearest neighbours N_i (in the original space) and
a candidate set C_i containing N_i, the current nearest neighbours of x_i in
the reduced space (the intruders that cost recall) and random points, let
d_ij = ||W^T (x_i - x_j)||^2 be the reduced squared distances. The loss is
the softmax ranking (listwise) loss

    L_i(W) = -(1/k) sum_{j in N_i} log p_ij,
    p_ij = exp(-d_ij / tau) / sum_{l in C_i} exp(-d_il / tau),

i.e. the cross-entropy between the uniform distribution on the true
neighbours and the softmax of negated reduced distances over the candidates:
it is small exactly when every true neighbour is closer than every
intruder, by a margin of a few tau. Its gradient is

    dL_i/dW = sum_{j in C_i} g_ij 2 (x_i - x_j)(x_i - x_j)^T W,
    g_ij = ([j in N_i] / k - p_ij) / tau.

A soft penalty alpha ||W^T W - I||_F^2, with W's columns brought back to unit
norm after every step, keeps W near-orthonormal, so that the reduced
distances keep the scale of the original ones and tau keeps its meaning
(without the renormalisation the loss shrinks W on unstructured data).

The listwise form is the one measured (benchmarks/RESULTS.md); hinge or
pairwise variants have not been compared.
"""

import numpy as np


def margin_loss_and_gradient(W, X, queries, candidates, is_neighbour, temperature, valid=None):
    """Mean softmax ranking loss over a batch of queries, and its gradient in W.

    Only the rows the batch touches are projected, once each, and the
    gradient is gathered per row:

        dL/dW = 2 sum_{i,j} g_ij (x_i - x_j)(p_i - p_j)^T
              = 2 (X_q^T S - X_u^T V),

    with p = W^T x, S_i = sum_j g_ij (p_i - p_j) per query and V_u the sum of
    g_ij (p_i - p_j) over the pairs whose candidate is row u; no
    (batch x candidates x features) tensor is formed.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
    X : ndarray of shape (n_samples, n_features)
        Centred data.
    queries : ndarray of int of shape (batch,)
    candidates : ndarray of int of shape (batch, n_candidates)
        Candidate rows for each query (true neighbours included).
    is_neighbour : ndarray of bool of shape (batch, n_candidates)
        Which candidates are true neighbours (k per row).
    temperature : float
    valid : ndarray of bool of shape (batch, n_candidates), optional
        Candidates to ignore are False (e.g. repeats of a true neighbour).

    Returns
    -------
    loss : float
    gradient : ndarray of shape (n_features, n_components)
    """
    rows, position = np.unique(np.concatenate([queries, candidates.ravel()]), return_inverse=True)
    X_rows = X[rows]
    P = X_rows @ W  # each touched row projected once
    query_at, candidate_at = position[: len(queries)], position[len(queries):].reshape(candidates.shape)
    gaps = P[query_at][:, None, :] - P[candidate_at]  # (b, c, m): p_i - p_j
    distances = np.einsum("bcm,bcm->bc", gaps, gaps)
    logits = -distances / temperature
    if valid is not None:
        logits = np.where(valid, logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    n_positive = is_neighbour.sum(axis=1, keepdims=True)
    targets = is_neighbour / n_positive
    batch = len(queries)
    loss = -np.sum(targets * np.log(np.maximum(probabilities, 1e-300))) / batch
    # dL/dd_ij = (dL/dlogit_ij)(dlogit_ij/dd_ij) = (p_ij - t_ij)(-1/tau)
    coefficients = (targets - probabilities) / (temperature * batch)
    weighted_gaps = gaps * coefficients[:, :, None]  # g_ij (p_i - p_j)
    per_row = np.zeros_like(P)
    np.add.at(per_row, query_at, weighted_gaps.sum(axis=1))
    np.add.at(per_row, candidate_at.ravel(), -weighted_gaps.reshape(-1, P.shape[1]))
    gradient = 2 * X_rows.T @ per_row
    return float(loss), gradient


def orthogonality_penalty(W, weight):
    """weight ||W^T W - I||_F^2 and its gradient 4 weight W (W^T W - I)."""
    gram_error = W.T @ W - np.eye(W.shape[1])
    return float(weight * np.sum(gram_error**2)), 4 * weight * W @ gram_error
