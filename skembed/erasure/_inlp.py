"""INLP: iterative nullspace projection (Ravfogel et al., ACL 2020).

Repeat: train a linear classifier w_i to predict the concept from the data
with the directions found so far removed, then add its weight vectors to the
removed set. The final eraser projects onto the intersection of the
classifiers' nullspaces. The classifiers are trained, and the projection is
orthogonal, in the data's standardised coordinates z = (x - mu) / s (s the
column scales, ``column_scales``), where every column is in the same units:

    r(x) = x - S U U^T S^{-1} (x - mu),   U an orthonormal basis of span(w_1, ..., w_T),

with S = diag(s). It equals the product of the per-round nullspace
projections but is formed in one step, so rounding does not accumulate.
Rounds stop after ``max_iter``, when the probes' cross-validated balanced
accuracy (averaged over the last few rounds when a class is small, see
below) is within ``tol`` of chance (1 / n_classes), or when ``max_rank``
directions are removed.

Why standardised coordinates: a probe's L2 penalty would keep it from
reading a column in units of 1e-30 (or any column of data at 1e-150), so
INLP would stop with the concept still there; and a projection orthogonal in
the raw coordinates, applied to weights learnt in standardised ones, would
mix columns of different units (copying a unit-scale column into a 1e-30 one)
and lose the small ones to rounding. In one geometry the eraser is the same
map in any units: fitting on X D (D a positive diagonal) gives the eraser of
X conjugated by D. For columns in comparable units (embeddings), S is close
to a multiple of the identity and r is nearly the orthogonal projection of
the original algorithm.

The stopping rule compares a class-balanced probe's balanced accuracy with
its own chance level (see ``_probing``): plain accuracy against the majority
rate stops at once on a rare class and removes nothing. The number of rounds
is chosen by cross-validating INLP itself: beside the run on all rows, one
run per fold learns its own directions from the other folds' rows only, and
each round's score pools every fold's rows, each predicted by its own run's
probe. So every row is scored, not a 20% holdout whose few rows of a rare
class decide by chance, and no row is scored by an erasure its label helped
to choose (which would make the score look like chance too early). The run
on all rows stops at the first round whose pooled score is within ``tol``
of chance.

A rare class makes that score noisy. At chance its standard error is
``sqrt(sum_c (1 / k) (1 - 1 / k) / n_c) / k`` for k classes of n_c rows
(``chance_score_se``): 0.038 for 45 rows of 1,500, four times the default
``tol``. A single round's score then dips within ``tol`` of chance by noise
while the probes still read the concept: on 45 female words among 1,500
(GloVe 50-d), INLP stopped after 6 to 21 rounds, and a fresh balanced probe
fit on the erased rows scored 0.54 on average, up to 0.64, on the words it
had not seen (15 draws). The score was not biased much (the fold probes
scored 0.53 on new words when it stopped), the probes were not to blame
(running on, both fell to 0.50 by round 20 to 25), and scoring 4 fold
assignments per round did not help: most of the noise is in the 45 rows
themselves, which every assignment shares. What does help is that each round
scores new probes on a new erasure while the concept fades over several
rounds: the stop averages the scores of the last ``m`` rounds (the rounds so
far when fewer), ``m`` the fewest that bring that mean's standard error at
chance down to 1.5 ``tol``, ``m = ceil((se / (1.5 tol))^2)``, at most 8.
Classes large enough for ``m = 1`` (at the default ``tol``, a rare class of
about 280 rows, or two of 560) keep the single-round rule and stop where
they did, the GloVe and MiniLM gender words among them (``tol=0`` always
averages 8 rounds: there INLP ran 19 rounds instead of 14 on GloVe's gender
words, where one score had dipped to chance); 45 rows of 1,500 give m =
7, and the fresh probe's score fell to 0.51 on average (10 draws; 0.50 to
0.52 on other rare concepts, 0.51 for 300 rows of 1,500). The cost is more
rounds: 24 instead of 14 there, and 9 directions instead of 3 removed from a
concept that is not there at all. Averaging makes a rare class's verdict
less often wrong, not precise (single draws still reached 0.58), so when the
standard error is above both ``tol`` and 0.025 (a class of at most about 100
rows), INLP warns on stopping, naming the class, and points to LEACE, which
makes the class means of the rows it is fit on equal in closed form, so that
a probe fit on them has nothing to find.

The one stop that cannot be trusted is a probe at chance that could have fit
any labels: with at most 2 (d + 1) rows for d features, a linear probe
separates at least half of all labellings of rows in general position (Cover,
1965), so it fits the noise and scores near chance on rows it was not fit on
whether or not the concept is still there. INLP then warns and names the
closed-form methods, whose guarantee does not rest on a probe.
"""

import numpy as np

from ..utils._messages import warn
from ..utils.extmath import column_scales, orthonormal_basis
from ._probing import (
    balanced_accuracy,
    balanced_weights,
    chance_score_se,
    fit_balanced_probe,
    majority_rate,
    project_out,
    stratified_folds,
)

#: The stop averages the last rounds' scores until the standard error at
#: chance of their mean is at most this many times ``tol``. Measured on rare
#: classes of 45 to 300 rows of 1,500 (module docstring): 2 left the fresh
#: probe 0.005 to 0.02 higher on average; 1 ran longer still (4 directions
#: instead of 3 off an absent concept with 200 rows) for gains within noise.
RESOLUTION = 1.5
#: At most this many rounds are averaged: over 8 late rounds the probes' score
#: falls by about 0.05 as the concept fades (45 rows of 1,500), so a longer
#: mean would judge erasures too far apart, and a tiny class (a standard error
#: of 0.1 asks for 45 rounds) would remove most directions before any stop.
MAX_WINDOW = 8
#: The scores lie on a grid of 1 / n_c, so a mean of a few can land exactly
#: on chance + tol (0.518125 and 0.501875 with 200 and 800 rows); this
#: margin, far below any score's resolution, settles such a tie the same way
#: whatever rounding the units of the weights bring.
TIE_MARGIN = 1e-9
#: Above this standard error at chance (and above ``tol``), INLP's stop is
#: too coarse to trust: it warns and points to LEACE.
UNRESOLVED_SE = 0.025


def inlp_basis(X, y, weights, *, max_iter, tol, max_rank, random_state, progress=None):
    """The removed directions in standardised coordinates, the scales, and the rounds run.

    ``X`` must already be centred; ``weights`` are non-negative row weights.
    Returns ``(basis, scales, n_iter)``: ``basis`` (d x r) is orthonormal
    in the coordinates ``X / scales``, so the eraser is
    ``x - ((x - mu) / s) @ basis @ (basis * s).T``: its factors are
    ``basis / s`` (read-out) and ``basis * s`` (directions), row-wise. Warns
    when the probes stopped at chance after being fit on too few rows for the
    dimension to show anything (see the module docstring).
    """
    n_features = X.shape[1]
    # Rows of zero weight take no part in fitting or scoring a probe.
    kept = weights > 0
    X, y, weights = X[kept], y[kept], weights[kept]
    scales = column_scales(X)
    if np.unique(y).size < 2:
        # One class carries all the weight: the concept is constant, and a
        # probe is at chance from the start (one round, nothing removed).
        return np.zeros((n_features, 0)), scales, 1
    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        # A probe scored on the rows it was fit on separates a lone row from
        # the rest in any dimension: INLP would remove every direction.
        raise ValueError(
            "INLP decides when to stop by cross-validation, which needs at least 2 "
            f"rows of positive weight in every class; class {labels[counts.argmin()].item()!r} "
            "has 1. Use method='leace' or 'orth', whose guarantee does not rest on a "
            "probe, or give that class more rows."
        )
    standardised = X / scales
    folds, n_folds = stratified_folds(y, random_state)
    everything = np.ones(len(y), dtype=bool)
    scoring = [_Run(folds != fold, folds == fold, n_features) for fold in range(n_folds)]
    full = _Run(everything, None, n_features)
    runs = [*scoring, full]
    # A constant prediction's balanced accuracy: 1 / (number of classes).
    chance = majority_rate(y, balanced_weights(y, weights))
    se = chance_score_se(y, weights)
    window = stop_window(se, tol)
    limit = min(max_rank, n_features)
    n_iter = 0
    scores = []
    while n_iter < max_iter and full.basis.shape[1] < limit:
        n_iter += 1
        predicted = np.empty_like(y)
        for run in scoring:
            predicted[run.scored] = run.probe_and_predict(standardised, y, weights)
        scores.append(balanced_accuracy(y, predicted, weights))
        score = float(np.mean(scores[-window:]))
        if progress is not None:
            progress.stage(f"INLP round {n_iter}: cross-validated balanced accuracy "
                           f"{score:.3f} (chance {chance:.3f}), "
                           f"{full.basis.shape[1]} direction(s) removed")
        if score <= chance + tol + TIE_MARGIN:
            n_fit = int(scoring[0].fitted.sum())
            n_removed = full.basis.shape[1]
            if not _warn_if_unjudged(n_removed, score, chance, n_fit, n_features):
                _warn_if_unresolved(y, weights, se, tol, score, chance, min(window, n_iter))
            break
        full.probe_and_predict(standardised, y, weights)
        for run in runs:
            run.remove_probe_directions(limit)
        if full.stalled:
            break
    return full.basis, scales, n_iter


def stop_window(se, tol):
    """Rounds whose mean score decides the stop: ``ceil((se / (RESOLUTION tol))^2)``.

    ``se`` is the standard error of one round's score at chance; the mean of
    ``m`` rounds' scores has about ``se / sqrt(m)``. Between 1 and
    ``MAX_WINDOW`` (which ``tol=0`` asks for whenever ``se`` is positive).
    """
    if se <= RESOLUTION * tol:
        return 1
    if tol == 0:
        return MAX_WINDOW
    return int(min(MAX_WINDOW, np.ceil((se / (RESOLUTION * tol)) ** 2)))


class _Run:
    """One INLP run: the rows it learns from, the rows it scores, its directions."""

    def __init__(self, fitted, scored, n_features):
        self.fitted, self.scored = fitted, scored
        self.basis = np.zeros((n_features, 0))
        self.probe = None
        self.stalled = False

    def probe_and_predict(self, Z, y, weights):
        """Fit this round's probe on the erased fitting rows; predict the scored rows."""
        erased = project_out(Z[self.fitted], self.basis)
        self.probe = fit_balanced_probe(erased, y[self.fitted], weights[self.fitted])
        if self.scored is None:
            return None
        return self.probe.predict(project_out(Z[self.scored], self.basis))

    def remove_probe_directions(self, limit):
        """Add the span of this round's probe weights to the removed directions."""
        coef = self.probe.coef_
        # A multinomial probe's k weight vectors act only through their
        # differences (adding one vector to all leaves the softmax unchanged),
        # which span k - 1 dimensions: their sum is solver tolerance, not a
        # direction, and would pass the rank cut if it were not dropped first.
        vectors = (coef if coef.shape[0] == 1 else coef[1:] - coef[0]).T
        new = orthonormal_basis(vectors - self.basis @ (self.basis.T @ vectors))
        self.stalled = new.shape[1] == 0
        self.basis = np.hstack([self.basis, new])[:, :limit]


def _warn_if_unjudged(n_removed, score, chance, n_fit, n_features):
    """Warn when the probes that stopped INLP at chance could fit almost any labels.

    Returns whether it warned.
    """
    if n_fit > 2 * (n_features + 1):
        return False
    if n_removed == 0:
        removed = "no direction"
    else:
        removed = f"only {n_removed} direction{'s' if n_removed > 1 else ''}"
    warn(
        f"INLP removed {removed}: its probes' cross-validated balanced accuracy is "
        f"{score:.3f} (chance {chance:.3f}), but each was fit on {n_fit} rows for "
        f"{n_features} features, so few that a linear probe separates at least half of "
        "all labellings of them: a score at chance does not show that the concept is "
        "not linearly present. Use method='leace' or 'orth', which remove the concept's "
        "cross-covariance in closed form, or fit on more rows.",
        UserWarning,
        stacklevel=2,
    )
    return True


def _warn_if_unresolved(y, weights, se, tol, score, chance, n_rounds):
    """Warn when a class is too small for the stop's score to resolve ``tol``."""
    if se <= max(tol, UNRESOLVED_SE):
        return
    labels, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes, weights=(weights > 0).astype(float))
    rarest = counts.argmin()
    rounds = "its last round" if n_rounds == 1 else f"its last {n_rounds} rounds"
    warn(
        f"INLP's stop rests on {int(counts[rarest])} rows of class "
        f"{labels[rarest].item()!r}: at chance, its probes' cross-validated balanced "
        f"accuracy has a standard error of {se:.3f}, above tol={tol:g}. It stopped with "
        f"{rounds} at {score:.3f} on average (chance {chance:.3f}), but so small a class "
        "cannot tell a concept a probe still reads a few points above chance from none: "
        "a probe fit on the erased rows may still score above chance on new ones. Use "
        "method='leace', which makes the class means of the rows it is fit on equal "
        "in closed form, or give that class more rows.",
        UserWarning,
        stacklevel=2,
    )
