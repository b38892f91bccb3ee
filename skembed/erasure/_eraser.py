"""LinearConceptEraser: the scikit-learn transformer over skembed's erasure methods."""

from dataclasses import dataclass
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..base import ValidationMixin, validate_array
from ..utils._compat import Interval, StrOptions, fit_context
from ..utils._dask import blockwise_transform, is_dask_array
from ..utils._dask_targets import LazyTarget, blockwise_moments_aligned
from ..utils._memory import float_bytes
from ..utils._messages import warn
from ..utils._moments import (
    MOMENT_BLOCK_ROWS,
    WeightedMoments,
    correlation_matrix,
    shrink_in_place,
)
from ..utils._progress import ProgressLog
from ..utils.extmath import constant_columns
from ._inlp import inlp_basis
from ._leace import guard_residual, leace_factors
from ._orth import orth_factors
from ._rlace import rlace_basis
from ._splice import splice_factors

#: Methods computed from running moments (closed form, streaming-capable).
MOMENT_METHODS = ("leace", "orth", "splice")
#: Methods that can learn from a stream (partial_fit): SPLICE needs a target.
STREAMING_METHODS = ("leace", "orth")
#: Methods that learn from the rows themselves (iterative, label concepts only).
ITERATIVE_METHODS = ("inlp", "rlace")
#: Methods that whiten, so need the d x d covariance among their moments.
COVARIANCE_METHODS = ("leace", "splice")
DEFAULT_MAX_ITER = {"inlp": 30, "rlace": 2000}
_EPS = np.finfo(np.float64).eps
#: Largest correlation between an erased feature and a concept column that
#: counts as rounding, checked on every full closed-form erasure: half of
#: float64's digits, the most a least-squares readout can lose (see
#: ``LinearConceptEraser._checked_guard``).
GUARD_TOLERANCE = np.sqrt(_EPS)


def rounding_correlation(relative_mean, std):
    """Largest correlation with a concept that is rounding, per feature.

    :data:`GUARD_TOLERANCE` plus what centring a feature of mean m and
    standard deviation s loses, ``64 eps |m| / s`` (both in the same units).
    """
    return GUARD_TOLERANCE + 64 * _EPS * np.abs(relative_mean) / std


def _one_hot(codes, n_classes):
    """One-hot float64 columns of class codes 0 .. n_classes - 1."""
    return (codes[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)


def _side_width(side):
    """Columns of a side array, or of a compact ``(encoder, codes)`` one."""
    return side[0].keywords["n_classes"] if isinstance(side, tuple) else side.shape[1]


def _as_float64(values):
    return np.asarray(values, dtype=np.float64)


def _erase(X, readout, directions, mean=None):
    """``X - ((X - mean) @ readout) @ directions.T`` in X's dtype (no mean: X itself)."""
    dtype = X.dtype
    # (X - mean) @ R = X @ R - mean @ R: no centred n x d copy; the one
    # n x d allocation is the output, to which X is added in place.
    coordinates = X @ readout.astype(dtype)
    if mean is not None:
        coordinates -= (mean @ readout).astype(dtype)
    erased = coordinates @ (-directions.T).astype(dtype)
    erased += X
    return erased


def _embed_rows(factor, rows, n_features):
    """A (n_features, r) row-major array holding ``factor`` on ``rows``, 0 elsewhere.

    The solvers see only the features with variance: a constant feature lies
    outside the covariance's support, so the exact eraser leaves it
    untouched, and a zero row keeps it exactly constant (rounding there
    would write a tiny but perfectly concept-correlated signal into a bias
    feature, found at once by any scale-invariant probe). Row-major storage
    makes transform's products bitwise reproducible (BLAS picks kernels by
    memory layout), also after a pickle round trip.
    """
    full = np.zeros((n_features, factor.shape[1]))
    full[rows] = factor
    return np.ascontiguousarray(full)


@dataclass(frozen=True, eq=False)
class _ErasureMap:
    """A solved eraser: its two (n_features, r) factors and the shrinkage used.

    Frozen: a fit or partial_fit replaces it (or drops it, to be solved again
    from the merged moments) and never edits it, so a map read once stays
    the map of the data seen until then.
    """

    readout: np.ndarray
    directions: np.ndarray
    shrinkage: float


class LinearConceptEraser(ValidationMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Remove a concept from embeddings so that no linear probe can recover it.

    The eraser is an affine map :math:`r(x) = x - L R^\top (x - \mu)` with
    :math:`L, R` of shape (n_features, r), fitted so that the concept ``y``
    (class labels or continuous values) cannot be predicted from
    :math:`r(X)` by a linear classifier, while moving the embeddings as little
    as the method allows.

    Methods:

    ``"leace"`` (default)
        LEACE (Belrose et al., 2023), closed form. With the whitening
        :math:`W = (\Sigma_{XX}^{1/2})^+` and :math:`U` an orthonormal basis of
        :math:`\mathrm{colsp}(W \Sigma_{XZ})`,
        :math:`r(x) = x - W^+ U U^\top W (x - \mu)`: the affine map of least
        mean squared edit with :math:`\mathrm{Cov}(r(X), Z) = 0`, which is
        exactly the condition for no linear classifier to beat a constant.
    ``"orth"``
        Orthogonal projection off :math:`\mathrm{colsp}(\Sigma_{XZ})`
        (spectral attribute removal). With ``rank=k`` only the top k singular
        directions of the cross-covariance are removed (R-LACE's closed form
        for the regression objective).
    ``"inlp"``
        Iterative nullspace projection (Ravfogel et al., 2020): train a
        class-balanced logistic-regression probe on the standardised
        columns, remove its weight vectors, repeat for ``max_iter`` rounds
        (default 30), until the probes' cross-validated balanced accuracy
        (5 stratified folds, each scored by a run that learnt its directions
        without it) is within ``tol`` of chance (``1 / n_classes``), or
        ``rank`` directions are removed. With a small class that score is
        noisy (standard error at chance 0.038 for 45 rows of 1,500), so the
        stop then averages the last rounds' scores, as many as bring the
        mean's standard error to ``1.5 tol`` (at most 8; one round for
        classes of about 280 rows or more at the default ``tol``). Warns
        when the probes were fit on too few rows (at most
        ``2 (n_features + 1)``) for chance to mean anything, and when a
        class is too small (about 100 rows or fewer) for the stop to tell
        a concept still a few points above chance from none; ``"leace"``
        is then the reliable choice.
    ``"rlace"``
        Relaxed linear adversarial concept erasure (Ravfogel et al., 2022):
        the minimax game between a rank-``rank`` projection, relaxed to the
        Fantope, and a linear classifier, played by alternating mini-batch
        gradient steps for ``max_iter`` steps (default 2000); returns the
        orthogonal projection off the top-``rank`` eigenvectors of the relaxed
        solution. ``rank`` defaults to 1. The game starts from its regression
        solution (the ``"orth"`` directions; ``init="random"`` starts where
        the paper does), which is already an optimum of the game when
        ``rank`` is at least the number of classes minus one (every class mean
        is then equal): no steps are run (``n_iter_ == 1``: one exact solve)
        and the result is ``"orth"``'s, at most ``n_classes - 1`` directions.
    ``"splice"``
        SPLICE (Holstege, Ravfogel & Wouters, 2025): the oblique projection of
        least mean squared edit that guards the concept and keeps
        :math:`\mathrm{Cov}(X, \text{target})` exactly; pass ``target`` to
        :meth:`fit`.

    Read more in the :doc:`User Guide </user_guide/erasure>`.

    Parameters
    ----------
    method : {"leace", "orth", "inlp", "rlace", "splice"}, default="leace"
        The erasure method (see above).
    rank : int, default=None
        Number of directions to remove. For ``"leace"``, ``"orth"`` and
        ``"splice"``: at most the concept's rank (classes - 1, or the number
        of concept columns); None removes all of them, which is what the
        guarantee needs. For ``"inlp"``: an upper bound (None: no bound). For
        ``"rlace"``: the projection's rank (None: 1).
    shrinkage : bool or float in [0, 1], default=False
        Linear shrinkage of the correlation matrix toward the identity (of
        the covariance toward its own diagonal, so that the result does not
        depend on the features' units): ``True`` uses the distribution-free
        optimal coefficient, a float sets it. Guardedness holds to rounding
        as without shrinkage; the edit is least-squares optimal for the
        shrunk covariance. Only used when ``method="leace"`` or
        ``"splice"`` (the others use no covariance).
    affine : bool, default=True
        Keep the mean: ``r(x) = x - L R^T (x - mu)``. With False the map is
        linear, ``r(x) = x - L R^T x`` (the concept is still guarded; the mean
        moves).
    tol : float, default=0.01
        ``"inlp"``: stop once the probes' cross-validated balanced accuracy
        (with a small class, its mean over the last rounds) is within
        ``tol`` of chance. ``"rlace"``: stop once a probe on
        held-out rows (20%, stratified) is within ``tol`` of the majority
        rate. Only used when ``method="inlp"`` or ``"rlace"``.
    max_iter : int, default=None
        Rounds (``"inlp"``, None: 30) or gradient steps (``"rlace"``, None:
        2000). Only used when ``method="inlp"`` or ``"rlace"``.
    init : {"spectral", "random"}, default="spectral"
        Where R-LACE's game starts: ``"spectral"`` at its regression
        solution (see ``"rlace"`` above), ``"random"`` at a random point of
        the Fantope, as in the paper. The random start is kept to compare
        with the paper: from it, the alternating gradient steps often stop a
        few degrees short of the optimal subspace, which leaves a strong
        concept partly decodable. Only used when ``method="rlace"``.
    random_state : int, RandomState instance or None, default=None
        Cross-validation folds (``"inlp"``), held-out split, mini-batches
        and initialisation (``"rlace"``). Only used when ``method="inlp"`` or
        ``"rlace"``.
    verbose : int, default=0
        Progress of the iterative methods on standard output (the levels of
        every skembed estimator): 1 prints a line per INLP round (its
        cross-validated score and the directions removed) and per R-LACE
        evaluation (the held-out accuracy). Only used when
        ``method="inlp"`` or ``"rlace"``; the moment methods solve in one
        step.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Weighted mean of the training data (the :math:`\mu` of the map).
    n_samples_seen_ : float
        Total sample weight seen (the number of rows without weights).
    classes_ : ndarray of shape (n_classes,)
        The concept's classes, when it is given as labels.
    concept_readout_ : ndarray of shape (n_features, r)
        :math:`R`: ``(x - mu) @ concept_readout_`` are the concept
        coordinates the eraser removes.
    concept_directions_ : ndarray of shape (n_features, r)
        :math:`L`: the directions along which each point is moved.
    rank_ : int
        Number of directions removed, ``r``.
    shrinkage_ : float
        Shrinkage coefficient used (0 without shrinkage, and for the methods
        that use no covariance).
    n_iter_ : int
        Rounds (``"inlp"``) or gradient steps (``"rlace"``) run; 1 for the
        closed-form methods and for ``"rlace"`` when its starting point is
        already an optimum (one exact solve).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    skembed.metrics.linear_probe_accuracy : Measure how much of the concept is left.

    Notes
    -----
    Linear erasure leaves nonlinear information: a small MLP can often still
    recover the concept from LEACE'd embeddings (see the user guide's figures).

    The fitted map is stored as the mean and the two d x r factors, never as
    the training data, so :meth:`transform` costs O(n d r). Every fit merges
    weighted moments (mean, covariance, cross-covariances) of the rows;
    ``leace`` and ``orth`` also learn from a stream with :meth:`partial_fit`,
    which merges each batch's moments exactly into the same running totals
    (:meth:`fit` is that merge on one batch, after forgetting earlier
    ones). The map is solved from the totals, at the end of :meth:`fit` or,
    after :meth:`partial_fit`, when it is next used. The moments are
    accumulated in float64 (float32 input gives the float64 fit of the same
    numbers) and stored in per-column units, so any magnitude from 1e-170 to
    1e150 gives the same eraser.

    ``"leace"``, ``"orth"`` and ``"splice"`` make every rank decision on the
    correlation scale, with a label concept's one redundant indicator
    dropped (so at most ``n_classes - 1`` directions), and check the guard
    after each solve: the correlation left between an erased feature and the
    concept, with the rounding of applying the map, must be below
    sqrt(eps) (about 1.5e-8; about 1e-15 on well-conditioned data).
    Otherwise they warn and erase with the projection orthogonal on the
    correlation scale instead.

    Memory: beyond X, ``"leace"`` and ``"splice"`` need 3 d x d float64
    matrices (the stored scatter, the correlation matrix, whose memory the
    eigendecomposition reuses, and its eigenvectors), or while accumulating
    two of them and two blocks of 16,384 rows: 8 max(3 d^2, 2 d^2 + 32,768
    d) bytes, with 74.5 GiB for each d x d matrix at d = 100,000. ``"orth"``
    needs only
    the two blocks, ``"inlp"`` and ``"rlace"`` about 4 float64 copies of X.
    ``fit`` checks this estimate against the available memory before any
    work (:func:`skembed.utils.estimate_fit_memory`) and raises
    :class:`~skembed.utils.InsufficientMemoryError` naming the method that
    avoids it. On a dask array the blocks are its chunks.

    References
    ----------
    .. [1] N. Belrose, D. Schneider-Joseph, S. Ravfogel, R. Cotterell, E. Raff,
       S. Biderman. "LEACE: Perfect linear concept erasure in closed form."
       NeurIPS 2023.
    .. [2] S. Ravfogel, M. Twiton, Y. Goldberg, R. Cotterell. "Linear
       adversarial concept erasure." ICML 2022.
    .. [3] S. Ravfogel, Y. Elazar, H. Gonen, M. Twiton, Y. Goldberg. "Null it
       out: guarding protected attributes by iterative nullspace projection."
       ACL 2020.
    .. [4] F. Holstege, S. Ravfogel, B. Wouters. "Preserving task-relevant
       information under linear concept removal." NeurIPS 2025.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skembed import LinearConceptEraser
    >>> from skembed.metrics import linear_probe_accuracy
    >>> X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    >>> linear_probe_accuracy(X, y) > 0.9
    True
    >>> X_erased = LinearConceptEraser().fit_transform(X, y)
    >>> linear_probe_accuracy(X_erased, y) < 0.6
    True
    """

    _requires_y = True
    _dask_methods = frozenset({"fit", "partial_fit", "transform"})

    _parameter_constraints = {
        "method": [StrOptions({"leace", "orth", "inlp", "rlace", "splice"})],
        "rank": [Interval(Integral, 1, None, closed="left"), None],
        "shrinkage": ["boolean", Interval(Real, 0, 1, closed="both")],
        "affine": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "init": [StrOptions({"spectral", "random"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        method="leace",
        *,
        rank=None,
        shrinkage=False,
        affine=True,
        tol=0.01,
        max_iter=None,
        init="spectral",
        random_state=None,
        verbose=0,
    ):
        self.method = method
        self.rank = rank
        self.shrinkage = shrinkage
        self.affine = affine
        self.tol = tol
        self.max_iter = max_iter
        self.init = init
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Fitting: fit is a reset plus the streaming update, then one solve
    # ------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, target=None):
        """Fit the eraser of the concept ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_concepts)
            The concept: class labels (binary or multiclass), or continuous
            values with one column per concept.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights. For the moment methods (``"leace"``, ``"orth"``,
            ``"splice"``) integer weights are equivalent to repeated rows;
            ``"inlp"`` and ``"rlace"`` use them as loss weights (a repeated
            row may fall in another cross-validation fold or mini-batch than
            its copy, a weighted row cannot), and a row of weight 0 takes no
            part.
        target : array-like of shape (n_samples,) or (n_samples, n_targets), \
default=None
            ``method="splice"`` only: the task target (labels or values)
            whose covariance with X is kept.

        Returns
        -------
        self : LinearConceptEraser
            The fitted eraser.
        """
        self._reset()
        X, y, weights = self._update(X, y, sample_weight, method="fit", target=target)
        # Solved now rather than lazily: fit reports the solvers' errors and
        # its time includes the solve.
        try:
            with self._named_errors("fit"):
                if self.method in ITERATIVE_METHODS:
                    self._map = self._solve_iteratively(X, y, weights)
                else:
                    self._map = self._solve_from_moments()
        except Exception:
            self._reset()  # a failed fit leaves the eraser unfitted, not half-solved
            raise
        return self

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit (see the class docstring's Notes)."""
        block = min(n_samples, MOMENT_BLOCK_ROWS)
        # Weights and labels, and a continuous concept's columns (twice: as
        # given and in float64); a label concept's one-hot columns are built
        # per block.
        concept_columns = 1 if n_targets is None else n_targets
        per_row = n_samples * (8 + 2 * concept_columns)
        if self.method in ("leace", "splice"):
            # Accumulating: a block's product and the scatter, beside the
            # block's temporaries; solving: the stored scatter, the
            # correlation matrix and its eigenvectors.
            squares = max(3 * n_features**2, 2 * n_features**2 + 2 * block * n_features)
            return float_bytes(squares, per_row)
        if self.method == "orth":
            return float_bytes(2 * block * n_features, per_row)
        return float_bytes(4 * n_samples * n_features, per_row)  # inlp, rlace: the rows

    def _memory_advice(self, n_samples, n_features):
        if self.method in ("leace", "splice"):
            return (f"method={self.method!r} works with n_features x n_features matrices; "
                    "method='orth' erases the same concept with n_features x n_classes "
                    "ones (a projection orthogonal in the data's units), or reduce the "
                    "features first.")
        if self.method in ITERATIVE_METHODS:
            return (f"method={self.method!r} trains probes on the rows in memory; the "
                    "moment methods ('leace', 'orth') need one block of rows at a time "
                    "and take dask arrays.")
        return ("method='orth' reads X one block of rows at a time: pass X as a dask "
                "array, or feed it in chunks to partial_fit.")

    def _streaming_method(self):
        return self.method in STREAMING_METHODS

    @available_if(_streaming_method)
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the eraser with one batch of rows (``"leace"`` and ``"orth"``).

        The weighted moments are merged exactly (Chan et al.), so calling
        ``partial_fit`` on chunks gives the same eraser as :meth:`fit` on all
        rows, up to rounding. The eraser itself is recomputed lazily, on the
        next :meth:`transform` or attribute access. Only available for
        ``"leace"`` and ``"orth"`` (``hasattr(eraser, "partial_fit")`` is
        False for the other methods).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_concepts)
            The batch's concept values; a batch may hold a single class.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of a label concept. Needed on the first call unless
            that batch already holds every class; ignored afterwards.

        Returns
        -------
        self : LinearConceptEraser
            The updated eraser.
        """
        self._update(X, y, sample_weight, method="partial_fit", classes=classes)
        return self

    def _reset(self):
        """Forget an earlier fit: running moments, concept encoding and solved map."""
        fitted = ("n_samples_seen_", "mean_", "n_iter_", "classes_", "_concept_width")
        fitted += ("_target_labels",)
        for name in (*fitted, "_moments", "_map"):
            vars(self).pop(name, None)

    def _update(self, X, y, sample_weight, *, method, target=None, classes=None):
        """The streaming path: validate one batch and merge its moments.

        The first batch after :meth:`_reset` (or ever) fixes the features,
        the concept's encoding and which moments are tracked; later batches
        are checked against them. The solved map is dropped, to be recomputed
        from the merged moments. Returns the validated ``X``, ``y`` and the
        row weights, which the iterative methods also learn from.
        """
        self._check_target(target)
        first_call = not (hasattr(self, "n_samples_seen_") and self._moments_serve_method())
        if first_call:
            self._reset()  # what a failed first call or another method may have left
        X, y, sample_weight = self._validate_X_y(
            X,
            y,
            reset=first_call,
            y_kind="concept",
            sample_weight=sample_weight,
            method=method,
            # A chunk of a stream may hold a single class; a fit may not.
            min_classes=1 if method == "partial_fit" else 2,
            # Beside a dask X, a dask y or sample_weight stays lazy and is read
            # block by block with X (the moment methods' single pass).
            lazy_targets=self.method in MOMENT_METHODS,
        )
        # Every valid batch records the parameters its update (and the lazy
        # solve after it) uses, as a first fit does.
        self._remember_params()
        if is_dask_array(X) and self.method in ITERATIVE_METHODS:
            raise ValueError(
                f"{self._caller(method)}: method={self.method!r} trains classifiers on "
                "the rows, which a dask array would have to hold in memory. Use "
                "method='leace', 'orth' or 'splice' (one blockwise pass over the "
                "moments), or fit on a sample: X[:n].compute()."
            )
        if is_dask_array(X):
            # A dask fit passes the weights to its blocks as given, or none
            # (a float per row of tens of millions would sit in the client
            # for nothing); its moments are all it keeps.
            weights = None
        elif sample_weight is not None:
            weights = sample_weight.astype(float)
        else:
            weights = np.ones(X.shape[0])
        if first_call and classes is not None and y.ndim == 1:
            self.classes_ = np.unique(np.asarray(classes))
        concept, concept_rank = self._encode_concept(
            y, reset=first_call, method=method, compact=is_dask_array(X)
        )
        if first_call:
            self._check_rank(concept_rank, n_features=X.shape[1], method=method)
        sides = {"concept": concept}
        if self.method == "splice":
            sides["target"] = self._encode_target(target, X.shape[0])
        if first_call:
            self._moments = WeightedMoments(
                X.shape[1],
                {name: _side_width(side) for name, side in sides.items()},
                # Only the whitening methods need the d x d covariance.
                track_covariance=self.method in COVARIANCE_METHODS,
            )
        if is_dask_array(X):
            self._moments.merge(self._dask_moments(X, sides, sample_weight))
        else:
            self._moments.update(X, sides, weights)
        self.mean_ = self._moments.mean_x.copy()
        self.n_samples_seen_ = float(self._moments.weight)
        self.n_iter_ = 1  # one exact solve (the iterative methods count their own)
        self._map = None
        return X, y, weights

    def _dask_moments(self, X, sides, sample_weight):
        """The moments of a dask X: one blockwise reduction, computed once.

        The finiteness check travels with the blocks (see
        :func:`~skembed.utils._dask.validate_dask_X`), so the data are read
        once. Labels travel as compact codes, one-hot encoded inside each
        block's task.
        """
        import dask

        encoded = {
            name: side if isinstance(side, tuple) else (_as_float64, side)
            for name, side in sides.items()
        }
        # Lazy labels and weights (LazyTarget) go block by block beside X's.
        lazy = blockwise_moments_aligned(
            X, encoded, sample_weight, track_covariance=self.method in COVARIANCE_METHODS
        )
        (moments,) = dask.compute(lazy)
        return moments

    def _moments_serve_method(self):
        """Whether the running moments hold what ``self.method`` solves from.

        Not so after ``set_params(method=...)`` to a method that needs more
        (the covariance, or other cross-covariances) than the moments of the
        last fit: its next update then starts over.
        """
        sides = {"concept", "target"} if self.method == "splice" else {"concept"}
        return set(self._moments.cross_scatter) == sides and (
            self._moments.scatter_xx is not None or self.method not in COVARIANCE_METHODS
        )

    def _check_target(self, target):
        if target is not None and self.method != "splice":
            raise ValueError(
                f"LinearConceptEraser.fit: target is only used by method='splice', "
                f"but method={self.method!r}. Drop target, or use method='splice'."
            )
        if self.method == "splice" and target is None:
            raise ValueError(
                "LinearConceptEraser.fit: method='splice' keeps the covariance with a "
                "task target: pass target=... (labels or values of each row)."
            )

    def _encode_concept(self, y, *, reset, method, compact=False):
        """Return ``(columns, rank)``: one-hot columns for labels, values as given.

        k centred one-hot columns span k - 1 dimensions, so a label concept
        has rank ``n_classes - 1``; a continuous one, its number of columns.
        With ``compact``, labels come back as ``(encoder, class codes)`` for
        :func:`~skembed.utils._moments.blockwise_moments`, which one-hot
        encodes each block's codes inside its task.
        """
        caller = self._caller(method)
        if y.ndim == 2:
            if self.method in ITERATIVE_METHODS:
                raise ValueError(
                    f"{caller}: method={self.method!r} trains a classifier, so the "
                    "concept must be 1-D class labels. Use 'leace', 'orth' or 'splice' "
                    "for continuous concepts."
                )
            if reset:
                self._concept_width = y.shape[1]
            elif getattr(self, "_concept_width", None) != y.shape[1]:
                raise ValueError(
                    f"{caller}: y has {y.shape[1]} concept columns, unlike earlier "
                    "batches. Pass the same concept in every batch."
                )
            return y, y.shape[1]
        # Lazy labels (a dask y) bring their distinct values, found in validation.
        labels = y.classes if isinstance(y, LazyTarget) else y
        if reset and not hasattr(self, "classes_"):
            self.classes_ = np.unique(labels)
        if not hasattr(self, "classes_"):
            raise ValueError(
                f"{caller}: y holds labels, but earlier batches had continuous "
                "values. Pass the same concept in every batch."
            )
        unknown = ~np.isin(labels, self.classes_)
        if unknown.any():
            raise ValueError(
                f"{caller}: y has labels {np.unique(labels[unknown]).tolist()} not seen in "
                "the first batch. Pass every class with classes=... on the first call."
            )
        if isinstance(y, LazyTarget):
            encoder = partial(_one_hot, n_classes=len(self.classes_))
            return (encoder, y.codes(self.classes_)), len(self.classes_) - 1
        if compact:
            # The smallest integer type of the codes (uint8 below 256 classes),
            # filled in slices: they travel in the graph, one slice per block.
            codes = np.empty(len(y), dtype=np.min_scalar_type(len(self.classes_) - 1))
            for rows in gen_batches(len(y), 1 << 20):
                codes[rows] = np.searchsorted(self.classes_, y[rows])
            return (partial(_one_hot, n_classes=len(self.classes_)), codes), len(self.classes_) - 1
        one_hot = (y[:, None] == self.classes_[None, :]).astype(np.float64)
        return one_hot, len(self.classes_) - 1

    def _encode_target(self, target, n_samples):
        target = validate_array(
            target,
            caller="LinearConceptEraser.fit",
            input_name="target",
            dtype=None,
            ensure_2d=False,
        )
        if target.shape[0] != n_samples:
            raise ValueError(
                f"LinearConceptEraser.fit: target has {target.shape[0]} rows but X has "
                f"{n_samples}. Pass one target value per row."
            )
        kind = type_of_target(target, input_name="target")
        self._target_labels = kind in ("binary", "multiclass")
        if self._target_labels:
            # A column vector of labels is raveled, as scikit-learn does.
            target = column_or_1d(target, warn=True)
            labels = np.unique(target)
            return (target[:, None] == labels[None, :]).astype(np.float64)
        try:
            values = np.asarray(target, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"LinearConceptEraser.fit: target must be class labels or numbers, "
                f"got values of type {kind!r}."
            ) from exc
        return values.reshape(n_samples, -1)

    def _check_rank(self, concept_rank, *, n_features, method):
        if self.rank is None:
            return
        caller = self._caller(method)
        if self.method in MOMENT_METHODS and self.rank > concept_rank:
            raise ValueError(
                f"{caller}: rank={self.rank} exceeds the concept's rank "
                f"({concept_rank}: classes - 1, or the number of concept columns). "
                f"Pass rank <= {concept_rank}, or rank=None to erase all of it."
            )
        if self.method == "rlace" and self.rank >= n_features:
            raise ValueError(
                f"{caller}: rank={self.rank} must be smaller than "
                f"n_features={n_features} for method='rlace'. Pass a smaller rank."
            )

    # ------------------------------------------------------------------
    # Solving: running moments (or, for the iterative methods, the rows)
    # -> one frozen map
    # ------------------------------------------------------------------

    def _solve_from_moments(self, method=None):
        """Solve the map on the correlation scale, check its guard, map it back.

        LEACE and SPLICE are equivariant under rescaling the features
        (r_{DX}(Dx) = D r_X(x)), and guardedness does not depend on the
        units of the concept, so every rank decision is made with features
        and concept columns standardised: encoders have dead dimensions
        around 1e-33 beside others around 1e-1, and a relative tolerance
        on raw units would drop the former with their concept signal.
        Shrinkage, too, is applied on that scale (toward the identity, i.e.
        toward the features' own variances), so that it cannot swamp a
        feature of tiny units. ``"orth"`` is orthogonal in X's own units;
        only its rank decisions use the standardised ones.
        """
        # The parameters of the last fit or partial_fit, not a later set_params
        # (``method`` given: that method's map, at full rank).
        if method is None:
            method, rank = self._fitted_param("method"), self._fitted_param("rank")
        else:
            rank = None
        requested_shrinkage = self._fitted_param("shrinkage")
        moments = self._moments
        active = ~self._constant_features()
        n_features = active.size
        # Standard deviations in the moments' stored units (a power of two
        # per feature; see WeightedMoments) and in X's units.
        stored_std = np.sqrt(moments.scaled_variance[active])
        feature_std = moments.scale_x[active] * stored_std
        guard, ranking = self._side_cross_covariance(
            "concept", active, stored_std, labels=hasattr(self, "classes_")
        )
        shrinkage = 0.0
        relative_mean = moments.mean_x[active] / moments.scale_x[active]
        if rank is None and np.all(
                np.abs(guard) <= rounding_correlation(relative_mean, stored_std)[:, None]):
            # Already guarded: every correlation with the concept is rounding,
            # so the least-squares edit is none. A rank decision on a
            # cross-covariance of pure rounding would erase a direction of
            # noise (moving a feature by its whole spread: a concept whose
            # class means are exactly equal, as for x and -x in one class).
            nothing = np.zeros((n_features, 0))
            return _ErasureMap(nothing, nothing.copy(), shrinkage)
        if method == "orth":
            readout, directions = orth_factors(
                guard, feature_std, rank=rank, ranking=ranking
            )
        else:
            # One d x d work matrix (the correlation matrix, shrunk in place),
            # whose memory the eigendecomposition then reuses: with its
            # eigenvectors, two beside the stored scatter.
            covariance = correlation_matrix(moments, active, stored_std)
            shrinkage = shrink_in_place(covariance, moments.weight, requested_shrinkage)
            if method == "splice":
                target, _ = self._side_cross_covariance(
                    "target", active, stored_std, labels=self._target_labels
                )
                readout, directions = splice_factors(
                    covariance, guard, target, rank=rank, ranking=ranking,
                    overwrite_covariance=True,
                )
            else:
                readout, directions = leace_factors(
                    covariance, guard, rank=rank, ranking=ranking, overwrite_covariance=True
                )
        if rank is None:
            readout, directions = self._checked_guard(guard, readout, directions)
        return _ErasureMap(
            _embed_rows(readout / feature_std[:, None], active, n_features),
            _embed_rows(directions * feature_std[:, None], active, n_features),
            shrinkage,
        )

    def _side_cross_covariance(self, name, active, stored_std, *, labels):
        """X's cross-covariance with a side array (concept, target), features standardised.

        Returns ``(guard, ranking)``. ``guard`` has the side's columns
        standardised, without its constant columns and, for one-hot labels,
        without the most frequent class's column (k centred indicators sum
        to zero, so they span k - 1 dimensions by construction and the last
        singular value is only rounding): its column space is the
        concept's, at full column rank, in comparable units. ``ranking``
        keeps the side's columns in their own units, which decide what the
        "top" directions of a partial erasure (``rank``) are.
        """
        moments = self._moments
        cross = moments.scaled_cross_covariance(name)[active] / stored_std[:, None]
        unit = moments.side_scale(name)
        variance = moments.scaled_side_variance(name)
        with np.errstate(over="ignore"):
            varying = ~constant_columns(moments.side_means[name] / unit, variance)
        ranking = cross * np.where(varying, unit / unit.max(), 0.0)
        if labels and varying.any():
            frequent = np.where(varying, moments.side_means[name], -np.inf).argmax()
            varying[frequent] = False
        return cross[:, varying] / np.sqrt(variance[varying]), ranking

    def _checked_guard(self, guard, readout, directions):
        """The promise itself: Cov(r(X), Z) at rounding level, else a map that keeps it.

        Two parts, in correlations between an erased feature and a concept
        column: what the factors leave of the cross-covariance
        (``guard_residual``, from the moments), and the rounding that
        applying them to data adds (float64 unit roundoff times the
        readout's amplification, on the correlation scale). The
        least-squares readout amplifies rounding by at most
        1 / sqrt(n_features * eps) (the whitening's rank tolerance), so a
        correct solve stays under ``GUARD_TOLERANCE``. A readout that must
        resolve a difference far below the features' scale does not: the
        projection orthogonal in X's units when features 1e40 apart in
        units are also nearly collinear, say. The projection orthogonal on
        the correlation scale, whose factors amplify nothing, then guards
        instead, with a warning.
        """
        residual = guard_residual(guard, readout, directions)
        amplification = np.linalg.norm(readout, axis=0)
        rounding = _EPS * np.linalg.norm(directions * amplification, axis=1).max(initial=0.0)
        if residual + rounding <= GUARD_TOLERANCE:
            return readout, directions
        cost = {
            "orth": "the map is not orthogonal in X's own units",
            "splice": "the edit is larger and the target covariance is not kept",
        }.get(self._fitted_param("method"), "the edit is larger than the least-squares one")
        warn(
            f"method={self._fitted_param('method')!r} would leave a correlation of about "
            f"{residual + rounding:.1e} between the erased features and the concept "
            "(its readout needs differences far below the features' scale, "
            "beyond float64's precision), so the concept is erased by the "
            "projection orthogonal on the correlation scale (each feature over "
            f"its standard deviation) instead: the guard holds, but {cost}.",
            UserWarning,
        )
        return orth_factors(guard, np.ones(guard.shape[0]))

    def _solve_iteratively(self, X, y, weights):
        rng = check_random_state(self.random_state)
        max_iter = self.max_iter or DEFAULT_MAX_ITER[self.method]
        centred = X.astype(np.float64) - self.mean_
        if self.method == "inlp":
            # Orthonormal in the coordinates centred / scales (see _inlp).
            basis, scales, self.n_iter_ = inlp_basis(
                centred, y, weights, max_iter=max_iter, tol=self.tol,
                max_rank=self.rank or X.shape[1], random_state=rng,
                progress=ProgressLog(self, self.verbose),
            )
            return self._frozen_map(basis, scales)
        if self.init == "spectral" and (self.rank or 1) >= self.classes_.size - 1:
            # The game's start, the regression solution, is then an optimum
            # (see _rlace): orth's map, solved and guard-checked on the
            # moments' standardised scale like orth itself, in one step.
            self.n_iter_ = 1
            return self._solve_from_moments(method="orth")
        basis, self.n_iter_ = rlace_basis(
            centred, y, weights, rank=self.rank or 1, max_iter=max_iter,
            tol=self.tol, random_state=rng, init=self.init,
            progress=ProgressLog(self, self.verbose),
        )
        return self._frozen_map(basis)

    def _constant_features(self):
        moments = self._moments
        # In the moments' stored units, where neither side under- or overflows
        # (a mean far beyond the unit overflows to inf: constant, rightly).
        with np.errstate(over="ignore"):
            return constant_columns(moments.mean_x / moments.scale_x, moments.scaled_variance)

    def _frozen_map(self, basis, scales=None):
        """The projection off an orthonormal basis (the iterative methods' map).

        ``basis`` is orthonormal in the coordinates ``(x - mu) / scales``
        (X's own without ``scales``); its rows on constant features are
        zeroed and it is re-orthonormalised (see :func:`_embed_rows`).
        """
        active = ~self._constant_features()
        if basis.shape[1] and not active.all():
            basis = basis.copy()
            basis[~active] = 0
            basis = np.linalg.qr(basis)[0]
        if scales is None:
            basis = np.ascontiguousarray(basis)
            return _ErasureMap(basis, basis, 0.0)
        return _ErasureMap(
            np.ascontiguousarray(basis / scales[:, None]),
            np.ascontiguousarray(basis * scales[:, None]),
            0.0,
        )

    # ------------------------------------------------------------------
    # The fitted map
    # ------------------------------------------------------------------

    def _fitted_map(self):
        """The solved map, recomputed from the moments after a partial_fit."""
        check_is_fitted(self, "mean_")
        if self._map is None:
            # The moments merged by partial_fit are solved on first use.
            with self._named_errors("partial_fit"):
                self._map = self._solve_from_moments()
        return self._map

    @property
    def concept_readout_(self):
        return self._fitted_map().readout

    @property
    def concept_directions_(self):
        return self._fitted_map().directions

    @property
    def shrinkage_(self):
        return self._fitted_map().shrinkage

    @property
    def rank_(self):
        return self._fitted_map().readout.shape[1]

    @property
    def projection_(self):
        """The dense (n_features, n_features) matrix ``I - R L^T``.

        ``transform(X) == (X - mean_) @ projection_ + mean_`` when ``affine``,
        ``X @ projection_`` otherwise. Only for inspection: ``transform`` uses
        the low-rank factors.
        """
        fitted = self._fitted_map()
        return np.eye(fitted.readout.shape[0]) - fitted.readout @ fitted.directions.T

    def transform(self, X):
        """Erase the concept from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        X_erased : ndarray of shape (n_samples, n_features)
            ``X - ((X - mean_) @ concept_readout_) @ concept_directions_.T``
            (without ``mean_`` when ``affine=False``), in X's dtype.
        """
        fitted = self._fitted_map()
        X = self._validate_X(X, reset=False)
        if is_dask_array(X):
            # Each block goes through the same in-memory erasure, lazily.
            return blockwise_transform(
                X, partial(_erase, readout=fitted.readout, directions=fitted.directions,
                           mean=self.mean_ if self._fitted_param("affine") else None),
                X.shape[1], X.dtype,
            )
        mean = self.mean_ if self._fitted_param("affine") else None
        return _erase(X, fitted.readout, fitted.directions, mean)


