"""The self-expressive methods of SubspaceClusterer: one registry entry each.

Everything that differs between methods lives in its :class:`Method` entry of
:data:`METHODS`: the defaults of its parameters, which options it uses, and
the function that computes its representation matrix (row j expresses point
j). :func:`resolve_settings` and :func:`resolve_affinity` turn the
estimator's parameters into the values one fit uses, every ``None`` and
``"auto"`` replaced, once, at the start of ``fit`` (the estimator keeps them
as ``gamma_``, ``tau_``, ``n_nonzero_``, ...). A parameter the chosen method
does not use resolves to None and is ignored.

Per-point methods (``"ensc"``, ``"omp"``) run their chunk solver through the
one chunked runner (:func:`skembed.cluster._chunked.run_in_chunks`); above
:data:`CANDIDATES_ABOVE` points they first restrict each point to its
candidates (:func:`candidate_points`). ``"tsc"`` is one kNN search; the dense
methods (``"ssc"``, ``"lsr"``, ``"lrr"``) solve for the n x n matrix at once.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..utils.extmath import mean_squared_norm
from . import _lrr, _ssc
from ._chunked import run_in_chunks
from ._ensc import ensc_candidates_chunk, ensc_chunk
from ._lrr import lrr_ialm
from ._lsr import lsr_coefficients
from ._omp import omp_chunk
from ._ssc import ssc_admm
from ._tsc import tsc_neighbors, tsc_weights

#: EnSC reads its products from the n x n Gram matrix up to this many points
#: (128 MB) when the points have more dimensions than the active support.
GRAM_LIMIT = 4096
#: Most floats in a chunk's block of products against all points (rows x n).
CHUNK_FLOATS = 2**23
#: Most floats in a chunk's candidate points (rows x candidates x features).
CANDIDATE_CHUNK_FLOATS = 2**22
#: n_candidates="auto" restricts "ensc" and "omp" to candidates above this n.
CANDIDATES_ABOVE = 10_000
#: Points per fit whose candidate solution is checked against all points.
CANDIDATE_CHECKS = 500
#: affinity="auto" takes the kNN graph up to this many points per cluster on
#: average (Extended Yale B has 64; make_subspaces with 200 per subspace
#: already splits under a 5-NN graph: 81% against 100% with "symmetric"), and
#: never above CANDIDATES_ABOVE points.
KNN_POINTS_PER_CLUSTER = 100


@dataclass(frozen=True)
class Settings:
    """The parameters one fit uses; None where the method does not use one."""

    gamma: float | None
    tau: float | None
    n_nonzero: int | None
    n_candidates: int | None
    max_iter: int | None
    affine: bool
    outlier_gamma: float | None


@dataclass(frozen=True)
class Representation:
    """What a method computes: the coefficients and what it learned on the way."""

    matrix: sparse.csr_matrix
    n_iter: int
    candidate_violation_rate: float | None = None
    outlying_entries: np.ndarray | None = None


@dataclass(frozen=True)
class Method:
    """One self-expressive method.

    Attributes
    ----------
    name : str
        The value of ``method``.
    represent : callable
        ``represent(X, settings, *, random_state, n_jobs, progress)``
        returning a :class:`Representation`; ``progress`` is the fit's
        ``ProgressLog`` (``skembed.utils._progress``).
    default_gamma : float or None
        None: the method has no ``gamma``.
    gamma_above_one : bool
        ``gamma`` is relative to the smallest value giving a nonzero
        representation, so it must exceed 1.
    default_tau : float or None
        None: the method has no ``tau``.
    default_n_nonzero : callable or None
        ``(n_samples, n_clusters) -> int``; None: ``n_nonzero`` only
        truncates dense rows, when given.
    auto_candidates : callable or None
        ``n_nonzero -> int``, the candidates of ``n_candidates="auto"`` above
        :data:`CANDIDATES_ABOVE` points; None: the method has no candidates.
    default_max_iter : int or None
        None: the method is not iterative (or takes no ``max_iter``).
    offers_affine : bool
        Whether ``affine=True`` is available.
    uses_outlier_gamma : bool
        Whether the method has SSC's sparse error term.
    rows_suit_knn : bool
        Whether its rows have enough nonzeros for ``affinity="auto"`` to pick
        the kNN graph of the rows (rows sharing few points have no useful
        neighbours).
    """

    name: str
    represent: Callable
    default_gamma: float | None = None
    gamma_above_one: bool = False
    default_tau: float | None = None
    default_n_nonzero: Callable | None = None
    auto_candidates: Callable | None = None
    default_max_iter: int | None = None
    offers_affine: bool = False
    uses_outlier_gamma: bool = False
    rows_suit_knn: bool = False


# ----------------------------------------------------------------------
# Representations, one function per method
# ----------------------------------------------------------------------

def candidate_points(X, n_candidates):
    """Each point's ``n_candidates`` points of largest ``|cos|`` (one exact kNN search).

    The search is the one of ``"tsc"`` (scikit-learn's blocked engine, memory
    O(n M)). An all-zero row has no angle: its coefficients are 0 whatever its
    candidates, so it takes the first rows that are not itself; the others
    search among the rows that are not zero.

    Returns
    -------
    candidates : ndarray of int of shape (n_samples, M)
        ``M = min(n_candidates, max(n_nonzero_rows - 1, 1))``.
    """
    n_samples = X.shape[0]
    nonzero = np.flatnonzero(np.any(X != 0, axis=1))
    m = min(n_candidates, max(nonzero.size - 1, 1))
    candidates = np.empty((n_samples, m), dtype=np.intp)
    candidates[:] = np.arange(1, m + 1)[None, :]
    if nonzero.size > 1:
        indices, _ = tsc_neighbors(X[nonzero], n_neighbors=m)
        candidates[nonzero] = nonzero[indices]
    return candidates


def _run_per_point(solve_chunk, X, *, n_jobs, progress, **options):
    """A per-point solver over all points (each chunk against all points)."""
    return run_in_chunks(solve_chunk, X, floats_per_row=X.shape[0], max_floats=CHUNK_FLOATS,
                         n_jobs=n_jobs, progress=progress, **options)


def _run_on_candidates(solve_chunk, X, n_candidates, *, n_jobs, progress, per_row=None,
                       **options):
    """A per-point solver restricted to each point's candidates (large n)."""
    candidates = candidate_points(X, n_candidates)
    progress.stage(f"candidate search: {candidates.shape[1]} candidates per point")
    floats_per_row = candidates.shape[1] * max(X.shape[1], 1)
    return run_in_chunks(solve_chunk, X, floats_per_row=floats_per_row,
                         max_floats=CANDIDATE_CHUNK_FLOATS, n_jobs=n_jobs, progress=progress,
                         per_row={"candidates": candidates, **(per_row or {})}, **options)


def _represent_ensc(X, settings, *, random_state, n_jobs, progress):
    n_samples = X.shape[0]
    options = dict(gamma=settings.gamma, tau=settings.tau, n_nonzero=settings.n_nonzero)
    if settings.n_candidates is None:
        support_size = max(100, 2 * settings.n_nonzero)
        if n_samples <= GRAM_LIMIT and X.shape[1] > support_size:
            # Few points in many dimensions: products from the Gram matrix.
            options["gram"] = X @ X.T
        C, n_iter, _ = _run_per_point(ensc_chunk, X, n_jobs=n_jobs, progress=progress,
                                      support_size=support_size, **options)
        return Representation(C, n_iter)
    # A random sample of points is checked against all points (the full ORGEN
    # oracle test): how often the restricted program differs from the full one.
    check = np.zeros(n_samples, dtype=bool)
    check[random_state.choice(n_samples, min(CANDIDATE_CHECKS, n_samples), replace=False)] = True
    C, n_iter, extras = _run_on_candidates(
        ensc_candidates_chunk, X, settings.n_candidates, n_jobs=n_jobs, progress=progress,
        per_row={"check": check}, **options)
    checked = sum(n_checked for n_checked, _ in extras)
    violated = sum(n_violated for _, n_violated in extras)
    return Representation(C, n_iter, candidate_violation_rate=violated / max(checked, 1))


def _represent_omp(X, settings, *, random_state, n_jobs, progress):
    options = dict(n_nonzero=settings.n_nonzero, affine=settings.affine)
    if settings.n_candidates is None:
        C, n_iter, _ = _run_per_point(omp_chunk, X, n_jobs=n_jobs, progress=progress,
                                      **options)
    else:
        C, n_iter, _ = _run_on_candidates(omp_chunk, X, settings.n_candidates, n_jobs=n_jobs,
                                          progress=progress, **options)
    return Representation(C, n_iter)


def _represent_tsc(X, settings, *, random_state, n_jobs, progress):
    n_samples = X.shape[0]
    # An all-zero row has no angle to anything: it gets no neighbours (an
    # isolated node of the graph) and is searched around.
    nonzero = np.flatnonzero(np.any(X != 0, axis=1))
    q = min(settings.n_nonzero, max(nonzero.size - 1, 0))
    C = sparse.csr_matrix((n_samples, n_samples))
    if q > 0:
        indices, abs_cos = tsc_neighbors(X[nonzero], n_neighbors=q)
        C = sparse.coo_matrix(
            (tsc_weights(abs_cos).ravel(), (np.repeat(nonzero, q), nonzero[indices.ravel()])),
            shape=(n_samples, n_samples),
        ).tocsr()
    C.sum_duplicates()
    C.eliminate_zeros()
    return Representation(C, 1)


def _dense_representation(dense, n_nonzero, n_iter, **found):
    """CSR of a dense representation, keeping each row's ``n_nonzero`` largest when given."""
    if n_nonzero is not None:
        dense = _keep_largest(dense, n_nonzero)
    C = sparse.csr_matrix(dense)
    C.eliminate_zeros()
    return Representation(C, int(n_iter), **found)


def _keep_largest(dense, n_keep):
    """Zero all but the ``n_keep`` largest absolute entries of each row."""
    cut = np.argpartition(-np.abs(dense), n_keep - 1, axis=1)[:, n_keep:]
    dense = dense.copy()
    np.put_along_axis(dense, cut, 0.0, axis=1)
    return dense


def _represent_ssc(X, settings, *, random_state, n_jobs, progress):
    dense, errors, n_iter = ssc_admm(X, alpha=settings.gamma, affine=settings.affine,
                                     outlier_alpha=settings.outlier_gamma,
                                     max_iter=settings.max_iter, progress=progress)
    return _dense_representation(dense, settings.n_nonzero, n_iter, outlying_entries=errors)


def _represent_lsr(X, settings, *, random_state, n_jobs, progress):
    # The ridge weight is relative to the scale of the points (1 for all-zero data).
    lam = (mean_squared_norm(X) or 1.0) / settings.gamma
    dense = lsr_coefficients(X, lam=lam, affine=settings.affine)
    return _dense_representation(dense, settings.n_nonzero, 1)


def _represent_lrr(X, settings, *, random_state, n_jobs, progress):
    # The error weight is relative to the root mean square norm of the points.
    scale = np.sqrt(mean_squared_norm(X) or 1.0)
    dense, n_iter = lrr_ialm(X, lam=settings.gamma / scale, max_iter=settings.max_iter,
                             progress=progress)
    return _dense_representation(dense, settings.n_nonzero, n_iter)


#: The most neighbours TSC's default keeps per point: memory O(n q), as
#: documented, rather than O(n^2 / k) (13 GiB at 300,000 points).
TSC_MAX_DEFAULT_NEIGHBORS = 100


def _default_tsc_neighbors(n_samples, n_clusters):
    """TSC's q: a twentieth of the points per cluster, at least 3 and at most 100."""
    return min(TSC_MAX_DEFAULT_NEIGHBORS, max(3, n_samples // (20 * n_clusters)))


#: The registry: every method's defaults, options and solver.
METHODS = {
    "ensc": Method(
        "ensc", _represent_ensc, default_gamma=100.0, gamma_above_one=True, default_tau=0.9,
        default_n_nonzero=lambda n_samples, n_clusters: 50,
        auto_candidates=lambda n_nonzero: max(100, 2 * n_nonzero), rows_suit_knn=True,
    ),
    "ssc": Method(
        "ssc", _represent_ssc, default_gamma=20.0, gamma_above_one=True,
        default_max_iter=_ssc.MAX_ITER, offers_affine=True, uses_outlier_gamma=True,
        rows_suit_knn=True,
    ),
    "omp": Method(
        "omp", _represent_omp, default_n_nonzero=lambda n_samples, n_clusters: 10,
        auto_candidates=lambda n_nonzero: max(200, 20 * n_nonzero), offers_affine=True,
    ),
    "lsr": Method(
        "lsr", _represent_lsr, default_gamma=100.0, offers_affine=True, rows_suit_knn=True,
    ),
    "lrr": Method(
        "lrr", _represent_lrr, default_gamma=1.0, default_max_iter=_lrr.MAX_ITER,
        rows_suit_knn=True,
    ),
    "tsc": Method("tsc", _represent_tsc, default_n_nonzero=_default_tsc_neighbors),
}
#: Methods that offer ``affine=True``.
AFFINE_METHODS = tuple(name for name, method in METHODS.items() if method.offers_affine)


def _given_or(value, default):
    return default if value is None else value


def resolve_settings(method, *, n_samples, n_clusters, gamma, tau, n_nonzero, n_candidates,
                     max_iter, affine, outlier_gamma):
    """The parameters a fit of ``method`` on ``n_samples`` points uses.

    Every None and ``"auto"`` becomes the method's default; parameters the
    method does not use become None (``affine`` False). ``n_clusters`` is the
    number asked for (1 when it is estimated: it only scales ``"tsc"``'s
    default).

    Returns
    -------
    settings : Settings

    Raises
    ------
    ValueError
        For a value the method uses and cannot honour: ``gamma <= 1`` for a
        method whose ``gamma`` is relative to its smallest useful value, or
        ``affine=True`` for a method without the affine constraint.
    """
    spec = METHODS[method]
    if spec.default_gamma is None:
        gamma = None
    else:
        gamma = _given_or(gamma, spec.default_gamma)
        if spec.gamma_above_one and gamma <= 1:
            raise ValueError(
                f"gamma={gamma} gives the zero representation for method={method!r} "
                "(lambda would be at least lambda_max). Pass gamma > 1, e.g. 50."
            )
    if affine and not spec.offers_affine:
        raise ValueError(
            f"affine=True is supported by methods {', '.join(map(repr, AFFINE_METHODS))}, "
            f"not method={method!r}. Use one of those, or affine=False."
        )
    if spec.default_n_nonzero is not None:
        n_nonzero = _given_or(n_nonzero, spec.default_n_nonzero(n_samples, n_clusters))
    if n_nonzero is not None:
        n_nonzero = min(n_nonzero, n_samples - 1)
    if spec.auto_candidates is None or n_candidates is None:
        n_candidates = None
    elif n_candidates == "auto":
        n_candidates = (None if n_samples <= CANDIDATES_ABOVE
                        else max(1, min(spec.auto_candidates(n_nonzero), n_samples - 1)))
    else:
        n_candidates = max(1, min(n_candidates, n_samples - 1))
    return Settings(
        gamma=gamma,
        tau=None if spec.default_tau is None else _given_or(tau, spec.default_tau),
        n_nonzero=n_nonzero,
        n_candidates=n_candidates,
        max_iter=None if spec.default_max_iter is None else _given_or(max_iter,
                                                                      spec.default_max_iter),
        affine=bool(affine),
        outlier_gamma=outlier_gamma if spec.uses_outlier_gamma else None,
    )


def resolve_affinity(affinity, method, *, n_samples, n_clusters):
    """``"knn"`` or ``"symmetric"``: what ``affinity="auto"`` means for this fit.

    The kNN graph of the coefficient rows for methods whose rows have enough
    nonzeros, with a given number of clusters (the kNN graph has many small
    eigenvalues besides the k zeros, which hides the eigengap that
    ``n_clusters="auto"`` reads), at most :data:`KNN_POINTS_PER_CLUSTER`
    points per cluster on average (a 5-NN graph splits a subspace holding
    many points into pieces) and at most :data:`CANDIDATES_ABOVE` points;
    the symmetric affinity otherwise.
    """
    if affinity != "auto":
        return affinity
    if not METHODS[method].rows_suit_knn or n_clusters == "auto":
        return "symmetric"
    few_per_cluster = n_samples <= KNN_POINTS_PER_CLUSTER * n_clusters
    return "knn" if few_per_cluster and n_samples <= CANDIDATES_ABOVE else "symmetric"


# ----------------------------------------------------------------------
# method="auto": the candidates the default chooses among
# ----------------------------------------------------------------------

#: ``gamma`` of the LSR candidates of ``method="auto"``: ridge weights
#: :math:`\lambda = \overline{\|x\|^2} / \gamma` one decade apart (1, 0.1 and
#: 0.01 of the points' mean squared norm), the range over which LSR is used
#: in the literature. The relative eigengap picks one per data set.
AUTO_LSR_GAMMAS = (1.0, 10.0, 100.0)
#: Powers of the ``"power"`` affinity tried when ``affinity_power`` is None:
#: DSC-Net's published settings are 3.5 (faces) and 8 (objects).
AUTO_POWERS = (4.0, 8.0)
#: ``method="auto"`` uses the dense LSR with the dense ``"power"`` affinity
#: up to this many points, SSC-OMP with the symmetric affinity above
#: (O(n ``n_nonzero``) memory, candidates above ``CANDIDATES_ABOVE``).
AUTO_DENSE_LIMIT = 5000


@dataclass(frozen=True)
class Candidate:
    """One configuration ``method="auto"`` (or a fixed method) fits."""

    method: str
    gamma: float | None
    affinity: str
    power: float | None


def auto_candidates(*, n_samples, gamma, affinity, affinity_power, affine=False):
    """The small candidate set of ``method="auto"``.

    Up to :data:`AUTO_DENSE_LIMIT` points: LSR (closed form, affine form
    available) for each ``gamma`` of :data:`AUTO_LSR_GAMMAS` (or the given
    one) with the ``"power"`` affinity for each power of :data:`AUTO_POWERS`
    (or the given one), at most 6 candidates sharing 3 representations.
    Above: SSC-OMP and TSC with the symmetric affinity (SSC-OMP alone with
    ``affine=True``, which TSC does not offer). LSR and SSC-OMP offer
    ``affine=True``. A given ``affinity`` other than ``"auto"``
    replaces the candidates' affinity.

    Returns
    -------
    candidates : list of Candidate
    """
    if n_samples > AUTO_DENSE_LIMIT:
        chosen = "symmetric" if affinity in ("auto", "power") else affinity
        candidates = [Candidate("omp", None, chosen, None)]
        if not affine:
            # OMP's fixed number of greedy steps overshoots low-dimensional
            # subspaces under noise (chance on 3-dim subspaces of R^20 at
            # noise 0.02, where TSC is exact); TSC's thresholded neighbours
            # do not. The criterion picks between them.
            candidates.append(Candidate("tsc", None, chosen, None))
        return candidates
    gammas = AUTO_LSR_GAMMAS if gamma is None else (gamma,)
    chosen = "power" if affinity == "auto" else affinity
    if chosen != "power":
        return [Candidate("lsr", g, chosen, None) for g in gammas]
    powers = AUTO_POWERS if affinity_power is None else (affinity_power,)
    return [Candidate("lsr", g, "power", p) for g in gammas for p in powers]
