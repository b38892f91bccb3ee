"""R-LACE: relaxed linear adversarial concept erasure (Ravfogel et al., ICML 2022).

The rank-k eraser is the solution of the minimax game

    max_{P in P_k} min_theta  L(theta; X (I - P), Z),

where P_k are the rank-k orthogonal projections and L is the cross-entropy of
a linear classifier theta. The paper relaxes P_k to its convex hull, the
Fantope F_k = {A : 0 <= A <= I, tr A = k}, and alternates a gradient ascent
step on A, followed by the Euclidean projection onto F_k, with a descent step
on theta. The projection onto F_k keeps A's eigenvectors and replaces its
eigenvalues lambda_i by clip(lambda_i - gamma, 0, 1), with gamma found by
bisection so that they sum to k (Vu et al. 2013).

The game starts from the closed-form solution of its regression version: the
projector onto the top-k left singular vectors of the cross-covariance
Sigma_XZ (spectral attribute removal; the paper derives it for the squared
loss). When k >= (number of classes - 1) that point is an optimum of the
classification game as well: it makes every class mean equal the global mean,
and then no linear classifier beats the constant one for any convex loss
(Belrose et al. 2023, Theorem 3.1), so the loss is already at its maximum and
the eraser returns it without playing: "orth"'s map, solved on the
moments' standardised scale with its guard checked (at most n_classes - 1
directions, the smallest edit among the optima). For smaller k the game is played from the
regression solution of the fitting rows. The paper's random start
(``init="random"``, an option of the eraser) is kept for comparison: from
it, alternating gradient steps often stall a few degrees from the optimal
subspace, which leaves a strong concept partly decodable
(benchmarks/erasure.py measures both). Every ``evaluate_every`` steps the
proper projector onto A's top-k eigenvectors is scored by a probe
trained afresh on the fitting rows and tested on held-out rows; the
projector whose probe is closest to the majority rate is returned, and the
game stops once that is within ``tol``.

This is a NumPy port of the algorithm with mini-batches drawn from a seeded
generator, so it is deterministic under ``random_state``.
"""

import numpy as np

from ..utils._optim import Adam
from ..utils.extmath import mean_squared_norm, orthonormal_basis
from ._probing import held_out_accuracy, holdout_split, majority_rate

BATCH_SIZE = 256
EVALUATE_EVERY = 100
ADVERSARY_STEP = 0.1
CLASSIFIER_STEP = 0.003


def fantope_projection(A, rank):
    """Euclidean projection of a symmetric matrix onto {0 <= A <= I, tr A = rank}."""
    eigenvalues, eigenvectors = np.linalg.eigh((A + A.T) / 2)
    low, high = eigenvalues.min() - 1.0, eigenvalues.max()
    for _ in range(100):  # bisection on the shift: the clipped sum decreases in it
        shift = (low + high) / 2
        if np.clip(eigenvalues - shift, 0, 1).sum() > rank:
            low = shift
        else:
            high = shift
    clipped = np.clip(eigenvalues - (low + high) / 2, 0, 1)
    return (eigenvectors * clipped) @ eigenvectors.T


def _top_eigenvectors(A, rank):
    return np.linalg.eigh(A)[1][:, ::-1][:, :rank]


def _softmax_gradient(logits, targets, weights):
    """d(weighted mean cross-entropy)/d(logits) for softmax (or sigmoid) outputs."""
    if logits.shape[1] == 1:
        probabilities = 1 / (1 + np.exp(-logits))
    else:
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
    return (probabilities - targets) * (weights / weights.sum())[:, None]


def _cross_covariance_basis(X, targets, weights, rank):
    """The regression game's solution: top left singular vectors of Sigma_XZ."""
    centred_targets = targets - np.average(targets, axis=0, weights=weights)
    return orthonormal_basis(X.T @ (centred_targets * weights[:, None]), rank)


def rlace_basis(X, y, weights, *, rank, max_iter, tol, random_state, init="spectral",
                progress=None):
    """Orthonormal basis (d x rank) of the removed subspace, and the steps run.

    ``X`` must already be centred; it is rescaled internally so that the step
    sizes do not depend on the data's scale (the subspace does not change).
    ``init="spectral"`` starts the game at the regression solution;
    ``"random"`` starts at a random point of the Fantope, as the paper does.
    When rank >= n_classes - 1 the regression solution is an optimum, and
    the eraser returns orth's map instead of calling this function.
    """
    n_features = X.shape[1]
    rng = random_state
    # Weights in units of their mean over the rows that count (the largest
    # first, so that no sum overflows): the probes' L2 penalty then weighs
    # the same against the loss whatever the weights' units.
    weights = weights / weights.max()
    weights = weights * (np.count_nonzero(weights) / weights.sum())
    # Root mean square entry; the zero matrix (no scale) is left as it is.
    X = X / (np.sqrt(mean_squared_norm(X) / n_features) or 1.0)
    fit_rows, held_rows = holdout_split(y, rng)
    chance = majority_rate(y[held_rows], weights[held_rows])

    classes, codes = np.unique(y, return_inverse=True)
    if classes.size == 2:
        targets = codes[:, None].astype(float)
    else:
        targets = np.eye(classes.size)[codes]
    n_outputs = targets.shape[1]

    random_start = fantope_projection(1e-1 * rng.standard_normal((n_features, n_features)), rank)
    if init == "spectral":
        basis = _cross_covariance_basis(X[fit_rows], targets[fit_rows], weights[fit_rows], rank)
        # With rank above the basis' size, the Fantope projection spreads the
        # remaining trace evenly over the other directions.
        A = fantope_projection(basis @ basis.T, rank)
    else:
        A = random_start
    theta = 1e-2 * rng.standard_normal((n_features, n_outputs))
    bias = np.zeros(n_outputs)
    optimizer = Adam([theta.shape, bias.shape], CLASSIFIER_STEP)

    best_basis, best_gap = _top_eigenvectors(A, rank), np.inf
    n_iter = 0
    if init == "spectral":
        # Score the start too, so the game never returns something worse.
        accuracy, _ = held_out_accuracy(X, y, weights, fit_rows, held_rows, best_basis)
        best_gap = abs(accuracy - chance)
    while n_iter < max_iter:
        n_iter += 1
        batch = fit_rows[rng.randint(0, fit_rows.size, size=min(BATCH_SIZE, fit_rows.size))]
        Xb, targets_b, weights_b = X[batch], targets[batch], weights[batch]
        if weights_b.sum() <= 0:
            continue
        erased = Xb - Xb @ A
        # Classifier: one Adam descent step on the erased batch.
        grad_logits = _softmax_gradient(erased @ theta + bias, targets_b, weights_b)
        optimizer.update([theta, bias], [erased.T @ grad_logits, grad_logits.sum(axis=0)])
        # Adversary: gradient ascent on the classifier's loss w.r.t. A, then
        # back onto the Fantope. d loss / d A = -X_b^T G theta^T (symmetrised).
        grad_logits = _softmax_gradient(erased @ theta + bias, targets_b, weights_b)
        grad_A = -(Xb.T @ grad_logits) @ theta.T
        A = fantope_projection(A + ADVERSARY_STEP * (grad_A + grad_A.T) / 2, rank)

        if n_iter % EVALUATE_EVERY == 0 or n_iter == max_iter:
            basis = _top_eigenvectors(A, rank)
            accuracy, _ = held_out_accuracy(X, y, weights, fit_rows, held_rows, basis)
            gap = abs(accuracy - chance)
            if progress is not None:
                progress.stage(f"R-LACE step {n_iter}: held-out accuracy {accuracy:.3f} "
                               f"(majority {chance:.3f})")
            if gap < best_gap:
                best_basis, best_gap = basis, gap
            if gap <= tol:
                break
    return best_basis, n_iter
