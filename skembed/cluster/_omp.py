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

from ..utils.extmath import safe_reciprocal


def _least_squares(atoms, targets, affine):
    """Stacked (affine-constrained) least squares.

    ``atoms`` has shape (m, t, d), ``targets`` (m, d); returns the
    coefficients (m, t) of min ||target - coef @ atoms|| (s.t. sum(coef) = 1).
    """
    q, r = np.linalg.qr(np.swapaxes(atoms, 1, 2))  # (m, d, t), (m, t, t)
    rhs = np.einsum("mdt,md->mt", q, targets)
    coef = np.linalg.solve(r, rhs[..., None])[..., 0]
    if affine:
        # c = c_ls - w (1'c_ls - 1) / 1'w with w = (A A')^{-1} 1 = R^{-1} R^{-T} 1.
        ones = np.ones(coef.shape + (1,))
        w = np.linalg.solve(r, np.linalg.solve(np.swapaxes(r, 1, 2), ones))[..., 0]
        excess = (coef.sum(axis=1) - 1.0) / w.sum(axis=1)
        coef = coef - w * excess[:, None]
    return coef


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
    for step in range(n_nonzero):
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
        coef_todo = _least_squares(atoms, targets[todo], affine)
        coef[todo, : step + 1] = coef_todo
        counts[todo] = step + 1
        residuals[todo] = targets[todo] - np.einsum("mt,mtd->md", coef_todo, atoms)
        done = np.linalg.norm(residuals[todo], axis=1) <= eps * target_norms[todo]
        active[todo[done]] = False

    if candidates is not None:
        selected = np.take_along_axis(candidates, selected, axis=1)
    keep = np.arange(n_nonzero)[None, :] < counts[:, None]
    return counts, selected[keep], coef[keep], steps
