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
The iteration runs on X in units of its root mean square norm (E is
returned in the units of X): the coefficients are unit-free, so its result
is the same for X and any multiple of it.

**ADMM** splits :math:`A` into a smooth copy :math:`Z` and the sparse
:math:`A` (constraint :math:`Z = A`, multiplier :math:`\Delta`); with
:math:`u = [\mathbf 1_n; 0_d]` selecting the coefficients on points, each
step is

* :math:`Z = \arg\min \frac{\lambda_z}{2}\|X - Z P\|^2 + \frac\rho2 \|Z - A + \Delta/\rho\|^2`
  (s.t. :math:`Z u = \mathbf 1` when affine): the right multiplication by
  :math:`(\lambda_z P P^\top + \rho I)^{-1}` of :func:`_system_inverse`,
  then, when affine, the exact projection onto :math:`Z u = \mathbf 1` in
  that metric;
* over-relaxation :math:`\hat Z = \beta Z + (1 - \beta) A`,
  :math:`\beta` = :data:`RELAXATION` (Boyd et al. 2011, Section 3.4.3);
* :math:`A = \operatorname{shrink}(\hat Z + \Delta / \rho, w / \rho)` with
  weights :math:`w` (1 on points, :math:`\lambda_e` on errors), then
  :math:`\operatorname{diag}(C) = 0`;
* :math:`\Delta \mathrel{+}= \rho (\hat Z - A)`.

The authors' code (``admmLasso_mat_func.m``) takes :math:`\rho = \alpha`,
enforces :math:`Z u = 1` by a second multiplier, also zeroes the diagonal
of :math:`Z` (which makes the iteration inexact) and stops after 200 steps
or when :math:`\max |Z - A| < 2 \cdot 10^{-4}`, silently. On clean data
that rule is met after 600 to 2,000 steps, and meeting it says little: the
objective is then within 1e-3 to 1e-5 of its minimum, unrelated to the
threshold. Three changes make the solver converge in the default budget
and its stopping rule mean what it says:

**Penalty.** :math:`\rho = \sqrt{\lambda_z\, \overline{\|x\|^2}}`, the
geometric mean of the fit term's curvature along one coefficient
(:math:`\lambda_z \|x_i\|^2`) and the unit slope of the l1 term. Over
:math:`\alpha` from 5 to 100 and random and union-of-subspaces data, the
fixed :math:`\rho` that reaches a given accuracy in the fewest steps was
within a factor 2 of it; :math:`\rho = \alpha` was 2 to 4 times too large
at :math:`\alpha = 20` (2 to 3 times the steps) and worse at the authors'
:math:`\alpha = 800`. Residual balancing (Boyd et al., Section 3.4.1) from
this start lowered :math:`\rho` by 2 and cost steps, so :math:`\rho` stays
fixed.

**Polishing** (as in OSQP; the lasso's solution is determined by its
support and signs): every :data:`CHECK_EVERY` steps, each point's lasso is
solved exactly on the support and signs of its current :math:`A` row, by
the optimality conditions of the reduced problem (a system of at most
d (+1) unknowns per point, batched by support size), with one correction
(atoms whose sign flipped dropped, the atom that most violates the
optimality conditions added). ADMM finds the support long before its
coefficients settle: most points' polished solutions are exact after 20 to
60 steps.

**Stopping rule: a duality gap per point.** The dual of point j's lasso is
:math:`\max_{\theta, \nu} \theta^\top x_j - \|\theta\|^2 / (2\lambda_z) + \nu`
s.t. :math:`|p_i^\top \theta + \nu u_i| \le w_i` for every atom
:math:`p_i` but point j itself (:math:`\nu = 0` unless affine).
:math:`\theta = \lambda_z r` from a residual :math:`r`, with the best
:math:`\nu` and scaled into the constraints, is a dual point, and any dual
point bounds the optimum from below; a primal point (the polished
solution, or the row of :math:`A`, shifted on its support to sum to one
when affine) bounds it from above. A point is done when
:math:`(\text{primal} - \text{dual}) / \text{primal} \le` ``tol``: its
objective is certified within ``tol`` of its minimum, whatever the data's
scale. Done points leave the iteration (their rows are independent
problems), so later steps cost less. A polished exact solution has a gap of
1e-12 or less; a point still not done at ``max_iter`` keeps its best primal
point, and a ``ConvergenceWarning`` says how many there are and their
largest gap.

Each step multiplies the dense coefficients of the points not yet done by
the system's inverse, applied by the cheapest of a dense inverse, the
Woodbury identity or a Schur complement for the shape at hand
(:func:`_system_inverse`): this is the method for n up to a few thousand;
``"ensc"`` with ``tau=1`` solves the same lasso per point in O(n) memory.
"""


import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..utils._messages import warn
from ..utils.extmath import root_mean_square_norm
from ._chunked import STEPS_PER_PROGRESS_LINE

#: ADMM steps when the caller gives none.
MAX_ITER = 200
#: Relative duality gap per point below which its coefficients are done.
TOL = 1e-4
#: Over-relaxation of the ADMM steps (Boyd et al. 2011 advise 1.5 to 1.8):
#: 20 to 40% fewer steps than none (1.0) here.
RELAXATION = 1.6
#: Rounds of the polishing per check: the support of A, then each round
#: one atom dropped or added, as an active-set method would.
POLISH_ROUNDS = 25
#: A reduced system's solution whose l1 term exceeds this many times the
#: row's objective at a feasible point (which bounds the optimum's l1 term)
#: comes from linearly dependent atoms.
DEPENDENT_EXCESS = 1e3
#: Row-rounds of the active-set method per check, in units of the rows
#: checked: a round costs about a third of an ADMM step.
POLISH_BUDGET = 5
#: Most floats gathered at once for the reduced systems.
POLISH_CHUNK_FLOATS = 2**22
#: Steps between two polishings and duality gap checks. A check costs about
#: two steps.
CHECK_EVERY = 10


def ssc_admm(X, *, alpha, affine=False, outlier_alpha=None, tol=TOL, max_iter=MAX_ITER,
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
    tol : float, default=1e-4
        A point is done when its relative duality gap is at most ``tol``:
        its objective is within ``tol`` (relative) of its minimum (see the
        module docstring).
    max_iter : int, default=200
        Most ADMM steps.
    progress : skembed.utils._progress.ProgressLog, optional
        Told every ``STEPS_PER_PROGRESS_LINE`` steps (it prints from its
        level 2 on).

    Returns
    -------
    C : ndarray of shape (n_samples, n_samples)
        The coefficients (row j expresses point j), zero diagonal; with
        ``affine``, each row sums to one.
    E : ndarray of shape (n_samples, n_features) or None
        The sparse errors (row j for point j), None without the error term.
    n_iter : int
        Steps run.
    """
    n_samples, n_features = X.shape
    with_errors = outlier_alpha is not None
    # The coefficients are unit-free and the errors in the units of X, and
    # one penalty rho serves both: in units of the points' root mean square
    # norm the iterates, and so the result, are the same for X and for any
    # multiple of it.
    unit = root_mean_square_norm(X) or 1.0
    X = X / unit
    gram = X @ X.T
    off_diagonal = np.abs(gram - np.diag(np.diag(gram)))
    coherence = off_diagonal.max(axis=1) if n_samples > 1 else np.zeros(n_samples)
    del off_diagonal
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
    # sqrt(lambda mean|x|^2) (see the module docstring); X is in units of
    # its root mean square norm, so mean|x|^2 is 1 (0 for all-zero X).
    rho = float(np.sqrt(lam)) if np.any(X) else 1.0
    n_atoms = fit_products.shape[1]
    apply_inverse, _ = _system_inverse(X, lam, rho, affine=False, with_errors=with_errors,
                                       gram=gram)
    fitted = apply_inverse(lam * fit_products)
    del fit_products
    projection = None
    if affine:
        # Z u = 1 exactly: Z += (1 - Z u) b' / (u' b) with b = S^-1 u, the
        # minimiser of the Z step's quadratic on that constraint.
        u = np.zeros((1, n_atoms))
        u[0, :n_samples] = 1.0
        b = apply_inverse(u)[0]
        projection = b / b[:n_samples].sum()
    thresholds = weights / rho
    problem = _Problem(X, lam, weights, affine)

    # The iterates of the points not yet done (rows of `active`): A, the
    # relaxed-ADMM variable V = A + Delta / rho and the fitted part of Z.
    active = np.arange(n_samples)
    A = np.zeros((n_samples, n_atoms))
    V = np.zeros((n_samples, n_atoms))
    result = np.zeros((n_samples, n_atoms))
    gaps = np.full(n_samples, np.inf)
    support = None  # the active-set method's supports, carried between checks
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        step = 2.0 * A
        step -= V
        step *= rho
        Z = apply_inverse(step)
        del step
        Z += fitted
        if affine:
            Z += np.outer(1.0 - Z[:, :n_samples].sum(axis=1), projection)
        check = n_iter % CHECK_EVERY == 0 or n_iter == max_iter
        if check:
            Z_kept = Z.copy()
        # V += beta (Z - A), then A = shrink(V) with a zero diagonal.
        Z -= A
        Z *= RELAXATION
        V += Z
        del Z
        A = np.abs(V)
        A -= thresholds
        np.maximum(A, 0.0, out=A)
        np.copysign(A, V, out=A)
        A[np.arange(active.size), active] = 0.0
        if check:
            coefficients, gap, support = problem.best(active, A, Z_kept, support)
            del Z_kept
            result[active] = coefficients
            gaps[active] = gap
            keep = gap > tol
            if not keep.all():
                active, A, V, fitted = active[keep], A[keep], V[keep], fitted[keep]
                support = tuple(part[keep] for part in support)
            if active.size == 0:
                break
        if progress is not None and n_iter % STEPS_PER_PROGRESS_LINE == 0:
            progress.chunk(n_iter, max_iter, "ADMM steps")
    if active.size:
        worst = float(gaps[active].max())
        warn(
            f"the SSC ADMM stopped at max_iter={max_iter} steps before {active.size} of "
            f"{n_samples} points' coefficients were within tol={tol:g} of their optimum "
            f"(largest relative duality gap {worst:.2g}); they are approximate. Raise "
            "max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    C = np.ascontiguousarray(result[:, :n_samples])
    E = None if not with_errors else np.ascontiguousarray(result[:, n_samples:]) * unit
    return C, E, n_iter


class _Problem:
    """Bounds on each point's lasso, and its polishing by an active-set method.

    Point j's program: minimise :math:`\\sum_i w_i |a_i| + \\frac\\lambda2
    \\|x_j - \\sum_i a_i p_i\\|^2` over the atoms :math:`p_i` (rows of
    :math:`P`) but point j, with :math:`\\sum_{i \\le n} a_i = 1` when affine.
    Its solution is determined by its support and signs: on them, the
    optimality conditions are a linear system (bordered by the affine
    constraint) of at most rank(P) (+1) unknowns. The active-set method
    keeps each row's support compactly: ``index`` and ``value`` of shape
    (rows, max_support), the first ``size`` entries of each row in use.
    """

    def __init__(self, X, lam, weights, affine):
        self.X = X
        self.lam = lam
        self.weights = weights
        self.affine = affine
        n_samples, n_features = X.shape
        self.with_errors = weights.size > n_samples
        self.atoms = np.vstack([X, np.eye(n_features)]) if self.with_errors else X
        # The atoms with the affine constraint's row: a step that keeps the
        # residual and the constraint moves along their dependencies.
        self.constrained = self.atoms
        if affine:
            on_points = (np.arange(self.atoms.shape[0]) < n_samples).astype(float)
            self.constrained = np.hstack([self.atoms, on_points[:, None]])
        # A lasso solution needs at most as many atoms as their rank (+1
        # with the affine constraint).
        self.max_support = min(n_features + int(affine), self.atoms.shape[0] - 1)

    def best(self, points, A, Z, carried=None):
        """Best primal point of each row, its relative duality gap, and its support.

        Candidates: the row of ``A`` (made feasible) and the points of the
        active-set method, started from the support and signs of ``A`` or,
        where it does better, from ``carried`` (the support a previous
        check left); dual points: from the residuals of ``Z`` and of those
        points. The active-set method runs at most :data:`POLISH_ROUNDS`
        rounds and :data:`POLISH_BUDGET` rounds per row on average.
        """
        candidate = self.feasible(points, A)
        primal = self.primal(self.residual(points, candidate), np.abs(candidate) @ self.weights)
        dual = self.dual(points, self.residual(points, Z))[0]
        support = _compact(A, self.max_support)
        starts = [(np.arange(points.size), support)]
        if carried is not None:
            rows = np.flatnonzero(carried[3] > 0)
            starts.append((rows, tuple(part[rows] for part in carried)))
        budget = POLISH_BUDGET * points.size
        # Round 0 from each start; the rounds continue from the better one.
        best_objective = np.full(points.size, np.inf)
        pending = np.zeros(points.size, dtype=bool)
        for rows, start in starts:
            objective, bound, solution, after, moved = self.step(points[rows], start,
                                                                 primal[rows])
            budget -= rows.size
            self.absorb(rows, start, objective, bound, solution, candidate, primal, dual)
            better = objective < best_objective[rows]
            if rows.size == points.size:  # the start from A: the default
                better[:] = True
            chosen = rows[better]
            best_objective[chosen] = objective[better]
            for part, new in zip(support, after):
                part[chosen] = new[better]
            pending[chosen] = moved[better]
        pending = np.flatnonzero(pending)
        for _ in range(1, POLISH_ROUNDS):
            if pending.size == 0 or budget <= 0:
                break
            budget -= pending.size
            start = tuple(part[pending] for part in support)
            objective, bound, solution, after, moved = self.step(points[pending], start,
                                                                 primal[pending])
            self.absorb(pending, start, objective, bound, solution, candidate, primal, dual)
            for part, new in zip(support, after):
                part[pending] = new
            pending = pending[moved]
        scale = np.maximum(np.abs(primal), np.finfo(float).tiny)
        return candidate, np.maximum(primal - dual, 0.0) / scale, support

    def absorb(self, rows, start, objective, bound, solution, candidate, primal, dual):
        """Keep the better bounds and primal points of a round."""
        dual[rows] = np.maximum(dual[rows], bound)
        better = np.flatnonzero(objective < primal[rows])
        if better.size:
            primal[rows[better]] = objective[better]
            candidate[rows[better]] = _scatter(start[0][better], solution[better],
                                               start[3][better], candidate.shape[1])

    def step(self, points, support, bound):
        """One round of the active-set method on each row's support.

        Solves each row on its support and signs (:meth:`polish`), prices
        the atoms (:meth:`dual`), and moves toward the optimum: a
        coefficient whose sign flipped leaves at the first zero crossing on
        the way to the solution (a descent step), else the most violating
        atom enters (:meth:`enter`); linearly dependent atoms lose one
        (:meth:`leave`). Returns the objective and dual bound of each row's
        solution (inf and -inf where none), the solutions (compact, as the
        given support), the next support and which rows moved.
        """
        index, value, sign, size = (part.copy() for part in support)
        count = points.size
        objective = np.full(count, np.inf)
        lower = np.full(count, -np.inf)
        moved = np.zeros(count, dtype=bool)
        solution, nu, solved = self.polish(points, index, sign, size, bound)
        # Linearly dependent atoms (the support of A can hold d + 1 points
        # of a d-dimensional subspace): one leaves.
        singular = np.flatnonzero(~solved & (size > 0))
        if singular.size:
            index[singular], value[singular], sign[singular], size[singular] = self.leave(
                index[singular], value[singular], sign[singular], size[singular])
            moved[singular] = size[singular] > 0
        rows = np.flatnonzero(solved)
        residual = self.residual_on(points[rows], index[rows], solution[rows])
        l1 = (np.abs(solution[rows]) * self.weights[index[rows]]).sum(axis=1)
        objective[rows] = self.primal(residual, l1)
        lower[rows], (atom, violation, entering) = self.dual(
            points[rows], residual, nu[rows] if self.affine else None)
        # Not optimal: one step of the active-set method.
        unsolved = (objective[rows] - lower[rows]) > 1e-12 * np.abs(objective[rows])
        rows, atom, violation, entering = (rows[unsolved], atom[unsolved], violation[unsolved],
                                           entering[unsolved])
        used = np.arange(index.shape[1]) < size[rows][:, None]
        # A sign flipped: from the current point toward the solution until
        # the first coefficient reaches zero, which leaves.
        start, target = value[rows], solution[rows]
        flipped = used & (np.sign(target) != sign[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = np.where(flipped, start / (start - target), np.inf)
        drop = np.flatnonzero(flipped.any(axis=1))
        first = crossing[drop].argmin(axis=1)
        fraction = np.clip(crossing[drop, first], 0.0, 1.0)[:, None]
        shifted = start[drop] + fraction * (target[drop] - start[drop])
        shifted[np.arange(drop.size), first] = 0.0
        kept = used[drop]
        kept[np.arange(drop.size), first] = False
        dropped = rows[drop]
        index[dropped], value[dropped], sign[dropped], size[dropped] = _keep(
            index[dropped], shifted, sign[dropped], kept)
        moved[dropped] = True
        # Signs right, an atom outside violates the optimality conditions:
        # it enters with the sign of its violation (by a pivot when it
        # depends on the support's atoms).
        add = np.flatnonzero(~flipped.any(axis=1) & (violation > 1.0))
        added = rows[add]
        index[added], value[added], sign[added], size[added], changed = self.enter(
            index[added], target[add], sign[added], size[added], atom[add], entering[add])
        moved[added[changed]] = True
        return objective, lower, solution, (index, value, sign, size), moved

    def polish(self, points, index, sign, size, bound):
        """Each row's lasso solved on its support and signs.

        Batched by support size. Returns the solutions (compact, as
        ``index``), the multipliers of the affine constraint and which rows
        were solved: not those whose atoms are linearly dependent, told by
        a singular system or by a solution whose l1 term exceeds
        :data:`DEPENDENT_EXCESS` times the row's objective ``bound`` (the
        optimum's l1 term is below it).
        """
        n_samples = self.X.shape[0]
        solution = np.zeros(index.shape)
        nu = np.zeros(points.size)
        solved = np.zeros(points.size, dtype=bool)
        for size_now in np.unique(size):
            if size_now == 0:
                continue
            for rows in _row_chunks(np.flatnonzero(size == size_now),
                                    size_now * self.atoms.shape[1]):
                on = index[rows, :size_now]
                atoms = self.atoms[on]  # rows x size x d
                system = self.lam * atoms @ atoms.transpose(0, 2, 1)
                right = (self.lam * (atoms @ self.X[points[rows]][:, :, None])[:, :, 0]
                         - self.weights[on] * sign[rows, :size_now])
                if self.affine:
                    on_points = (on < n_samples).astype(float)
                    bordered = np.zeros((rows.size, size_now + 1, size_now + 1))
                    bordered[:, :size_now, :size_now] = system
                    bordered[:, :size_now, size_now] = -on_points
                    bordered[:, size_now, :size_now] = on_points
                    system = bordered
                    right = np.hstack([right, np.ones((rows.size, 1))])
                values = _solve_or_nan(system, right)
                l1 = (np.abs(values[:, :size_now]) * self.weights[on]).sum(axis=1)
                with np.errstate(invalid="ignore"):
                    regular = np.isfinite(l1) & (l1 <= DEPENDENT_EXCESS * bound[rows])
                rows, values = rows[regular], values[regular]
                solution[rows, :size_now] = values[:, :size_now]
                if self.affine:
                    nu[rows] = values[:, size_now]
                solved[rows] = True
        return solution, nu, solved

    def enter(self, index, value, signs, size, atom, sign):
        """Let ``atom`` enter each row's support with ``sign``.

        When the atom depends on the support's atoms (with the affine row),
        the objective falls linearly along their dependency, which keeps
        the residual: the pivot of the simplex method, to the first
        coefficient that reaches zero, which leaves. Returns the new
        support (index, value, signs, size) and which rows changed.
        """
        changed = np.zeros(size.size, dtype=bool)
        value = value.copy()
        sizes = size.copy()
        for size_now in np.unique(sizes):
            group = np.flatnonzero(sizes == size_now)
            on = index[group, :size_now]
            support = self.constrained[on]  # group x size x d'
            entering = self.constrained[atom[group]]
            gram = support @ support.transpose(0, 2, 1)
            # The combination of the support's atoms nearest -entering.
            direction = _solve_or_nan(gram, -(support @ entering[:, :, None])[:, :, 0])
            miss = entering + (np.nan_to_num(direction)[:, None, :] @ support)[:, 0, :]
            with np.errstate(invalid="ignore"):
                dependent = np.all(np.isfinite(direction), axis=1) & (
                    np.linalg.norm(miss, axis=1) <= 1e-9 * np.linalg.norm(entering, axis=1))
            # Independent: it enters (the next solution decides its value).
            if size_now < self.max_support:
                free = group[~dependent]
                index[free, size_now] = atom[free]
                value[free, size_now] = 0.0
                signs[free, size_now] = sign[free]
                size[free] += 1
                changed[free] = True
            pivot = np.flatnonzero(dependent)
            if pivot.size == 0:
                continue
            which = group[pivot]
            # Along t: the atom at t * sign, the support + t * sign * direction.
            change = sign[which][:, None] * direction[pivot]
            values = value[which, :size_now]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(values * change < 0, -values / change, np.inf)
            leaving = ratio.argmin(axis=1)
            step = ratio[np.arange(pivot.size), leaving]
            bounded = np.isfinite(step)
            which, leaving, step = which[bounded], leaving[bounded], step[bounded]
            values = values[bounded] + step[:, None] * change[bounded]
            values[np.arange(which.size), leaving] = step * sign[which]
            value[which, :size_now] = values
            index[which, leaving] = atom[which]
            signs[which, leaving] = sign[which]
            changed[which] = True
        return index, value, signs, size, changed

    def leave(self, index, value, signs, size):
        """Drop one of each row's linearly dependent atoms (with the affine row).

        Along their dependency the residual and the affine constraint stay
        and the l1 term changes linearly: the step goes the way it does not
        rise, to the first coefficient that reaches zero, which leaves.
        """
        value = value.copy()
        kept = np.arange(index.shape[1]) < size[:, None]
        for size_now in np.unique(size):
            group = np.flatnonzero(size == size_now)
            on = index[group, :size_now]
            support = self.constrained[on]  # group x size x d'
            left, singular_values, _ = np.linalg.svd(support, full_matrices=True)
            if size_now > support.shape[2]:
                null = left[:, :, -1]  # more atoms than dimensions
            else:
                null = left[np.arange(group.size), :, singular_values.argmin(axis=1)]
            values, on_signs = value[group, :size_now], signs[group, :size_now]
            slope = (self.weights[on] * on_signs * null).sum(axis=1)
            null *= np.where(slope > 0, -1.0, 1.0)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(on_signs * null < 0, -values / null, np.inf)
                # No coefficient reaches zero that way (a flat slope): the other.
                backward = np.where(on_signs * null > 0, values / null, np.inf)
            forward = np.isfinite(ratio).any(axis=1)
            ratio[~forward] = backward[~forward]
            null[~forward] *= -1.0
            # All zero (an all-zero start): drop the last atom.
            ratio[~np.isfinite(ratio).any(axis=1), -1] = 0.0
            leaving = ratio.argmin(axis=1)
            step = ratio[np.arange(group.size), leaving]
            value[group, :size_now] = values + step[:, None] * null
            kept[group, leaving] = False
        return _keep(index, value, signs, kept)

    def feasible(self, points, A):
        """``A`` with, when affine, each row shifted on its support to sum to one.

        A row without support is spread evenly over the other points.
        """
        candidate = A.copy()
        if not self.affine:
            return candidate
        n_samples = self.X.shape[0]
        on_points = candidate[:, :n_samples]
        support = on_points != 0
        support[~support.any(axis=1)] = True
        support[np.arange(points.size), points] = False
        count = np.maximum(support.sum(axis=1), 1)
        on_points += support * ((1.0 - on_points.sum(axis=1)) / count)[:, None]
        return candidate

    def residual(self, points, coefficients):
        """x_j minus its fit by full rows of coefficients."""
        n_samples = self.X.shape[0]
        residual = self.X[points] - coefficients[:, :n_samples] @ self.X
        if self.with_errors:
            residual -= coefficients[:, n_samples:]
        return residual

    def residual_on(self, points, index, value):
        """x_j minus its fit by compact coefficients (zero past each row's size)."""
        residual = self.X[points].copy()
        for position in range(index.shape[1]):
            if np.any(value[:, position]):
                residual -= value[:, position, None] * self.atoms[index[:, position]]
        return residual

    def primal(self, residual, l1):
        return l1 + self.lam / 2 * np.einsum("ij,ij->i", residual, residual)

    def dual(self, points, residual, nu=None):
        """Dual value at a multiple of theta = lam r, with the best nu.

        For a fixed theta the best dual point is :math:`(s\\theta, \\nu)`
        with the largest feasible :math:`\\nu` (the dual objective grows
        with it), :math:`\\nu = 1 - s \\max_{i \\ne j} p_i^\\top\\theta` when
        affine, and the best feasible scale s, a quadratic's maximum on an
        interval. Also returns each row's most violated atom, its violation
        :math:`|p_i^\\top \\theta + \\nu u_i| / w_i` and sign, with the given
        ``nu`` (the polishing's multiplier; else the one that violates
        least), for the active-set method.
        """
        n_samples = self.X.shape[0]
        rows = np.arange(points.size)
        theta = self.lam * residual
        products = theta @ self.X.T  # p_i' theta on the points
        products[rows, points] = -np.inf
        high = products.max(axis=1)
        products[rows, points] = np.inf
        low = products.min(axis=1)
        linear = np.einsum("ij,ij->i", theta, self.X[points])
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.affine:
                linear = linear - high
                constant = 1.0
                largest_scale = 2.0 / (high - low)
            else:
                constant = 0.0
                largest_scale = 1.0 / np.maximum(high, -low)
            if self.with_errors:
                largest_scale = np.minimum(
                    largest_scale, self.weights[n_samples] / np.abs(theta).max(axis=1))
            quadratic = np.einsum("ij,ij->i", theta, theta) / (2 * self.lam)
            scale = np.where(quadratic > 0, linear / (2 * quadratic), 0.0)
        scale = np.clip(np.minimum(scale, largest_scale), 0.0, None)
        value = constant + scale * linear - scale**2 * quadratic
        if nu is None:
            nu = -(high + low) / 2 if self.affine else np.zeros(points.size)
        products += nu[:, None]
        products[rows, points] = 0.0  # point j's own atom: no constraint
        if self.with_errors:
            products = np.hstack([products, theta / self.weights[n_samples]])
        atom = np.abs(products).argmax(axis=1)
        violation = products[rows, atom]
        return value, (atom, np.abs(violation), np.sign(violation))


def _compact(A, n_keep):
    """The ``n_keep`` largest nonzeros of each row of ``A``: index, value, sign, count."""
    n_keep = min(n_keep, A.shape[1])
    magnitude = np.abs(A)
    if n_keep < A.shape[1]:
        index = np.argpartition(-magnitude, n_keep - 1, axis=1)[:, :n_keep]
    else:
        index = np.broadcast_to(np.arange(A.shape[1]), A.shape)
    order = np.argsort(-np.take_along_axis(magnitude, index, axis=1), axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    value = np.take_along_axis(A, index, axis=1)
    return np.ascontiguousarray(index), value, np.sign(value), np.count_nonzero(value, axis=1)


def _keep(index, value, sign, kept):
    """Compact rows to their ``kept`` entries, in order; zero past the new sizes."""
    order = np.argsort(~kept, axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    value = np.take_along_axis(np.where(kept, value, 0.0), order, axis=1)
    sign = np.take_along_axis(np.where(kept, sign, 0.0), order, axis=1)
    return index, value, sign, kept.sum(axis=1)


def _scatter(index, value, size, width):
    """Full rows of width ``width`` from compact ones."""
    full = np.zeros((index.shape[0], width))
    rows, positions = np.nonzero(np.arange(index.shape[1]) < size[:, None])
    full[rows, index[rows, positions]] = value[rows, positions]
    return full


def _row_chunks(rows, floats_per_row):
    """``rows`` in chunks of at most :data:`POLISH_CHUNK_FLOATS` gathered floats."""
    step = max(1, POLISH_CHUNK_FLOATS // max(int(floats_per_row), 1))
    return [rows[start:start + step] for start in range(0, rows.size, step)]


def _solve_or_nan(systems, right):
    """Solve a stack of small systems; NaN rows where a system is singular."""
    try:
        return np.linalg.solve(systems, right[..., None])[..., 0]
    except np.linalg.LinAlgError:
        values = np.full(right.shape, np.nan)
        for i in range(systems.shape[0]):
            try:
                values[i] = np.linalg.solve(systems[i], right[i])
            except np.linalg.LinAlgError:
                pass
        return values


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
