r"""SSC by orthogonal matching pursuit (SSC-OMP), batched over points.

SSC-OMP (Dyer, Sankaranarayanan & Baraniuk, JMLR 2013; You, Robinson & Vidal,
"Scalable sparse subspace clustering by orthogonal matching pursuit", CVPR
2016) expresses each point :math:`x_j` by at most ``k`` other points chosen
greedily: at each step the point most correlated with the current residual,
:math:`\arg\max_{i \ne j,\ i \notin S} |x_i^\top r| / \|x_i\|`, joins the
support :math:`S`, and the coefficients are the least-squares fit of
:math:`x_j` on :math:`X_S`, so the residual stays orthogonal to every selected
point. It stops after ``k`` points or when :math:`\|r\| \le \epsilon \|x_j\|`.
With ``affine=True`` the least-squares fit is constrained to
:math:`\mathbf 1^\top c = 1`.

Here a chunk of points runs in lock step: the correlations of all points with
all residuals are one block product, and the small least-squares problems are
solved together by stacked QR factorisations, so there is no Python loop over
points.
"""

import numpy as np

from ..utils.extmath import numerical_support, safe_reciprocal


def _stacked_least_squares(atoms, targets):
    """``(coef, independent)`` of min ||target - coef @ atoms|| for stacked problems.

    ``atoms`` (m, t, d) with t <= d. ``independent`` (m,) is False where the
    last atom lies in the span of the others (a duplicate of a chosen point,
    or more atoms than the data's dimension): the rank rule of
    :func:`~skembed.utils.extmath.numerical_support` on the diagonal of R.
    Those rows' coefficients are meaningless and must be discarded.
    """
    q, r = np.linalg.qr(np.swapaxes(atoms, 1, 2))  # (m, d, t), (m, t, t)
    diagonal = np.abs(np.diagonal(r, axis1=1, axis2=2))
    independent = np.array([numerical_support(row, max(atoms.shape[1:]))[-1]
                            for row in diagonal]) if len(diagonal) else np.zeros(0, bool)
    if not independent.all():
        # Any pivot will do for the discarded rows; it keeps solve from failing.
        r = r.copy()
        last = r.shape[-1] - 1
        r[~independent, last, last] = 1.0
    rhs = np.einsum("mdt,md->mt", q, targets)
    return np.linalg.solve(r, rhs[..., None])[..., 0], independent


def _least_squares(atoms, targets, affine):
    """Stacked (affine-constrained) least squares: ``(coef, independent)``.

    ``atoms`` has shape (m, t, d), ``targets`` (m, d); the coefficients (m, t)
    minimise ||target - coef @ atoms|| (subject to sum(coef) = 1). The affine
    problem is the plain one on the differences to the first atom,
    ``x - a_0 = sum_{i >= 1} c_i (a_i - a_0)`` with ``c_0 = 1 - sum c_i``, so
    it needs t - 1 <= d atoms and no Gram matrix (which duplicates or t > d
    made singular).
    """
    if not affine:
        return _stacked_least_squares(atoms, targets)
    m, t, _ = atoms.shape
    if t == 1:
        return np.ones((m, 1)), np.ones(m, dtype=bool)
    base = atoms[:, 0, :]
    rest, independent = _stacked_least_squares(atoms[:, 1:, :] - base[:, None, :],
                                               targets - base)
    return np.concatenate([1.0 - rest.sum(axis=1, keepdims=True), rest], axis=1), independent


def omp_chunk(X, rows, *, n_nonzero, affine=False, eps=1e-6, candidates=None):
    """SSC-OMP coefficients of the points ``rows`` of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        All points.
    rows : ndarray of int of shape (n_rows,)
        The points to express.
    n_nonzero : int
        Most points selected per point (``k``).
    affine : bool, default=False
        Constrain the coefficients to sum to one.
    eps : float, default=1e-6
        Stop a point once its residual norm is below ``eps`` times its norm.
    candidates : ndarray of int of shape (n_rows, M), optional
        Restrict each point's greedy choice to these rows of ``X`` (its
        points of largest ``|cos|``): each step then costs O(M d) per point
        instead of O(n d). None searches all points.

    Returns
    -------
    counts : ndarray of int of shape (n_rows,)
        Points selected for each point.
    indices : ndarray of int
        Their rows, concatenated over points.
    values : ndarray of float64
        The coefficients.
    steps : int
        Steps run.
    """
    n_rows = len(rows)
    norms = np.linalg.norm(X, axis=1)
    inverse_norms = safe_reciprocal(norms)
    targets = X[rows]
    target_norms = norms[rows]
    if candidates is not None:
        pool = X[candidates]  # (n_rows, M, d)
        pool_weights = inverse_norms[candidates]
    # ``selected`` holds rows of X, or positions in ``candidates`` when given.
    selected = np.zeros((n_rows, n_nonzero), dtype=np.intp)
    coef = np.zeros((n_rows, n_nonzero))
    counts = np.zeros(n_rows, dtype=np.intp)
    residuals = targets.copy()
    active = target_norms > 0
    steps = 0
    # More atoms than the dimension (plus one for an affine fit) cannot lower
    # a residual: their least squares would be singular.
    for step in range(min(n_nonzero, X.shape[1] + int(affine))):
        todo = np.flatnonzero(active)
        if todo.size == 0:
            break
        steps = step + 1
        if candidates is None:
            scores = np.abs(X @ residuals[todo].T) * inverse_norms[:, None]
            columns = np.arange(todo.size)
            scores[rows[todo], columns] = -1.0  # never the point itself
            for previous in range(step):
                scores[selected[todo, previous], columns] = -1.0  # nor a chosen one
            selected[todo, step] = scores.argmax(axis=0)
            atoms = X[selected[todo, : step + 1]]
        else:  # candidates never hold the point itself
            scores = np.abs(np.einsum("mkd,md->mk", pool[todo], residuals[todo]))
            scores *= pool_weights[todo]
            np.put_along_axis(scores, selected[todo, :step], -1.0, axis=1)
            selected[todo, step] = scores.argmax(axis=1)
            atoms = np.take_along_axis(pool[todo], selected[todo, : step + 1, None], axis=1)
        coef_todo, independent = _least_squares(atoms, targets[todo], affine)
        # A point whose new atom adds no direction (a duplicate of a chosen
        # point) stops with the atoms it had: its residual cannot decrease.
        active[todo[~independent]] = False
        todo, coef_todo, atoms = todo[independent], coef_todo[independent], atoms[independent]
        coef[todo, : step + 1] = coef_todo
        counts[todo] = step + 1
        residuals[todo] = targets[todo] - np.einsum("mt,mtd->md", coef_todo, atoms)
        done = np.linalg.norm(residuals[todo], axis=1) <= eps * target_norms[todo]
        active[todo[done]] = False

    if candidates is not None:
        selected = np.take_along_axis(candidates, selected, axis=1)
    keep = np.arange(n_nonzero)[None, :] < counts[:, None]
    return counts, selected[keep], coef[keep], steps
