"""SensitivitySampler: lp row sampling by leverage scores, Lewis weights or sensitivities."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ..base import N_JOBS_CONSTRAINT, ValidationMixin
from ..utils._compat import Interval, StrOptions, fit_context, safe_indexing
from ..utils._dask import dask_compute, is_dask_array, to_numpy_vector
from ..utils._memory import float_bytes
from ..utils._messages import warn
from ..utils._progress import ProgressLog
from ..utils.extmath import power_of_two_unit
from ._blockwise import (
    BlockwiseDesign,
    blockwise_leverage_scores,
    blockwise_lewis_weights,
    two_pass_leverage_scores,
)
from ._leverage import (
    PASS_BLOCK_ROWS,
    default_sketch_size,
    exact_leverage_scores,
    sketched_leverage_scores,
    stacked_sketched_leverage_scores,
    well_conditioned_basis,
)
from ._lewis import lewis_weights
from ._schemes import bernoulli_sample, iid_sample
from ._sensitivity import exact_sensitivities, sketched_sensitivities

METHODS = ("leverage", "lewis", "sensitivity", "root_leverage", "hybrid", "uniform")
#: Above these sizes ``solver="auto"`` sketches.
SKETCH_LEVERAGE_ABOVE = 200_000
EXACT_BASIS_BELOW = 50_000
EXACT_SENSITIVITY_BELOW = 500
#: Columns of the Gaussian JL projection of the sketched leverage scores
#: when the design's rank exceeds it. Each score is multiplied by a
#: chi2_k / k factor, which raises the variance of the sampled objective by
#: E[k / chi2_k] = k / (k - 2) at most: 20 columns cost 11% of the sample's
#: effective size, and the row-norm pass reads k columns instead of rank.
SAMPLING_JL_DIM = 20


class SensitivitySampler(ValidationMixin, BaseEstimator):
    r"""Pick a small weighted subset of rows whose lp objectives match the full data's.

    For every coefficient vector :math:`b` the weighted sample satisfies
    :math:`\mathbb{E}\sum_{i\in S} w_i |a_i^\top b|^p = \|Ab\|_p^p`, where
    :math:`A = [X, y, 1]` (the target and an intercept column are part of
    the design of a regression), and with enough rows the two agree within
    :math:`1\pm\varepsilon` for all b at once (a subspace embedding, hence a
    coreset for least squares (p = 2), least absolute deviations and quantile
    regression (p = 1), and, through the same scores, Huber and logistic
    losses).

    Each row gets a score, the scores are normalised into a sampling
    distribution :math:`q`, and a sample of about ``n_samples`` rows is drawn:

    ``"leverage"``
        :math:`\tau_i = a_i^\top (A^\top A)^+ a_i`, the l2 sensitivities
        (thin QR, or a CountSketch-preconditioned estimate on tall data,
        which reads a dense X twice and never forms A).
    ``"lewis"`` (default)
        lp Lewis weights, :math:`w_i = (a_i^\top (A^\top W^{1-2/p}A)^{+}
        a_i)^{p/2}` (Cohen & Peng 2015): the standard practical scores for
        any p; leverage scores at p = 2. They sum to rank(A) and bound the
        sensitivities (times :math:`r^{p/2-1}` for p > 2).
    ``"sensitivity"``
        lp sensitivities :math:`s_i = 1/\min\{\|Ab\|_p^p : a_i^\top b = 1\}`,
        one convex program per row (an LP for p = 1), exact on small data and
        solved against a Lewis-weight lp embedding of A on larger data.
        Expensive: n programs.
    ``"root_leverage"``
        :math:`\sqrt{\tau_i}`: Woodruff & Yasuda's root-leverage sampling,
        about d rows for :math:`1 \le p < 2`.
    ``"hybrid"``
        :math:`q_i = \tfrac12(s_i/S + \tau_i/r)`: sensitivities mixed with
        leverage scores (Woodruff & Yasuda's mixture for p > 2, the
        l2-augmented sampling for p <= 2).
    ``"uniform"``
        The baseline, :math:`q_i = 1/n` (:math:`q_i \propto v_i` with
        ``sample_weight`` v: uniform over the weighted rows).

    Read more in the :doc:`User Guide </user_guide/sampling>`.

    Parameters
    ----------
    n_samples : int, default=1000
        Expected number of sampled rows (``"bernoulli"``) or number of draws
        (``"iid"``). With ``n_samples >= n`` every row is kept with weight 1.
    p : float, default=2.0
        The norm of the loss: 2 for least squares, 1 for least absolute
        deviations / quantile regression and, as a proxy, logistic and Huber
        losses.
    method : str, default="lewis"
        The row scores: "lewis", "leverage", "sensitivity", "root_leverage",
        "hybrid" or "uniform" (see above).
    scheme : {"bernoulli", "iid"}, default="bernoulli"
        ``"bernoulli"``: keep row i independently with probability
        :math:`\pi_i = \min(1, c q_i)`, c set so that the expected size is
        ``n_samples``; weight :math:`1/\pi_i`; rows with :math:`\pi_i = 1`
        enter exactly. ``"iid"``: ``n_samples`` draws with replacement,
        weight :math:`1/(m q_i)` per draw, duplicates merged.
    include_target : bool, default=True
        Append a numeric ``y`` to the scored matrix (a regression's residual
        lives in the span of [X, y]). Non-numeric labels are never appended.
    fit_intercept : bool, default=True
        Append a column of ones, for models that fit an intercept.
    solver : {"auto", "exact", "sketch"}, default="auto"
        ``"exact"``: thin QR (leverage), QR-based basis (Lewis), one program
        per row against all rows (sensitivities). ``"sketch"``: a
        CountSketch-preconditioned estimate (leverage, within a constant
        factor; row norms through a 20-column Gaussian projection when the
        rank exceeds 20), a sketch-preconditioned basis (Lewis weights,
        still exact), programs against a Lewis-weight embedding
        (sensitivities). ``"auto"``
        sketches leverage above 200,000 rows, Lewis bases above 50,000 rows
        and sensitivities above 500 rows. Not used by ``method="uniform"``.
    tol : float, default=1e-6
        Lewis weights: stop when no weight changes by more than ``tol``
        (relative). Only used when ``method="lewis"``, or by the Lewis-weight
        embedding of sketched sensitivities (``"sensitivity"``, ``"hybrid"``).
    max_iter : int, default=200
        Lewis weights: most iterations. Only used where ``tol`` is.
    n_jobs : int, default=None
        Parallel workers for the sensitivity programs (joblib: None is one
        unless a ``joblib.parallel_config`` context says otherwise, -1 all
        CPUs). Only used when ``method`` is ``"sensitivity"`` or
        ``"hybrid"`` with ``p`` other than 2.
    random_state : int, RandomState instance or None, default=None
        The draw of the sample and the sketches.
    verbose : int, default=0
        Progress on standard output: 1 prints a line as each stage ends
        (scores, sample drawn) with the seconds since the fit began, 2 also
        one per Lewis iteration.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples_in,)
        The row scores of ``method`` (on :math:`V^{1/p}A` with sample weights
        v).
    total_sensitivity_ : float
        Sum of ``scores_``.
    probabilities_ : ndarray of shape (n_samples_in,)
        The sampling distribution q (scores divided by their sum).
    inclusion_probabilities_ : ndarray of shape (n_samples_in,)
        Probability that each row is in the sample.
    sample_indices_ : ndarray of int
        The sampled rows, sorted, each once.
    sample_weight_ : ndarray of float
        Their loss weights: :math:`v_i/\pi_i` (Bernoulli) or
        :math:`v_i c_i/(m q_i)` with :math:`c_i` draws (i.i.d.).
    n_iter_ : int
        Lewis-weight iterations run (1 for one-pass scores; 0 for Lewis
        weights at p = 2, which are the leverage scores).
    solvers_ : dict of str -> {"exact", "sketch"}
        ``solver`` as resolved for each scoring step the method ran:
        ``"leverage"``, ``"lewis_basis"``, ``"sensitivity"`` (empty for
        ``"uniform"``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    CoresetEstimator : Fit any weighted estimator on the sample.

    Notes
    -----
    How many rows: Lewis-weight sampling gives a :math:`(1\pm\varepsilon)`
    lp subspace embedding with :math:`O(d\log(d)/\varepsilon^2)` rows for
    p < 2 and :math:`O(d^{p/2}\log d/\varepsilon^5)` for p > 2 (Cohen & Peng
    2015); sensitivity sampling about :math:`S^{2/p}` rows for p < 2 and
    :math:`S^{2-2/p}` for p > 2, root-leverage sampling about d rows for
    :math:`1\le p<2`, and the hybrid :math:`d^{2/p}S^{2-4/p}` for p > 2
    (Woodruff & Yasuda 2023), up to log factors and the accuracy. On benign
    data uniform sampling is as good; scores matter when a few rows carry
    directions no other row has.

    The scores depend only on the column space of A, so not on the units of
    X's columns or of y: every rank decision is made with the columns in
    comparable units, and the design is scored in float64 whatever X's
    dtype.

    Memory: about 4 float64 copies of the design ``[X, y, 1]`` plus three
    of its d x d products (n x d when n < d); with ``method="leverage"`` or
    ``"root_leverage"``, a few floats per row and a sketch instead (a dense
    X is read twice and never copied, exact and sketched scores alike);
    checked before any work (see
    :func:`skembed.utils.estimate_fit_memory`). On a dask array the
    leverage and Lewis scores run in passes over its blocks, and only the
    scores (one float per row) are held.

    References
    ----------
    .. [1] D. P. Woodruff, T. Yasuda. "Sharper bounds for lp sensitivity
       sampling." ICML 2023.
    .. [2] M. B. Cohen, R. Peng. "lp row sampling by Lewis weights." STOC 2015.
    .. [3] P. Drineas, M. Magdon-Ismail, M. W. Mahoney, D. P. Woodruff. "Fast
       approximation of matrix coherence and statistical leverage." JMLR 2012.
    .. [4] K. L. Clarkson, D. P. Woodruff. "Low rank approximation and
       regression in input sparsity time." STOC 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed import SensitivitySampler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((5000, 5))
    >>> y = X @ np.ones(5) + rng.laplace(size=5000)
    >>> sampler = SensitivitySampler(n_samples=500, p=1, random_state=0)
    >>> X_small, y_small = sampler.fit_resample(X, y)
    >>> X_small.shape[0] < 600, sampler.sample_weight_.shape == y_small.shape
    (True, True)
    >>> round(sampler.total_sensitivity_, 3)  # Lewis weights sum to rank [X, y, 1]
    7.0
    """

    _accept_sparse = ["csr", "csc"]
    _dask_methods = frozenset({"fit"})
    #: The methods a dask array can be scored by (see ``_blockwise``).
    _DASK_SCORES = ("leverage", "root_leverage", "lewis", "uniform")

    _parameter_constraints = {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "p": [Interval(Real, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "scheme": [StrOptions({"bernoulli", "iid"})],
        "include_target": ["boolean"],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", "exact", "sketch"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_samples=1000,
        *,
        p=2.0,
        method="lewis",
        scheme="bernoulli",
        include_target=True,
        fit_intercept=True,
        solver="auto",
        tol=1e-6,
        max_iter=200,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_samples = n_samples
        self.p = p
        self.method = method
        self.scheme = scheme
        self.include_target = include_target
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Score the rows and draw the sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The design.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
            Regression target (appended to the scored matrix when numeric
            and ``include_target``) or class labels (not appended).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights v: scores are computed on :math:`V^{1/p}A` and the
            output weights are multiplied by v.

        Returns
        -------
        self : SensitivitySampler
            The fitted sampler.
        """
        if is_dask_array(X) and self.method not in self._DASK_SCORES:
            raise ValueError(
                f"SensitivitySampler.fit: method={self.method!r} solves one program per "
                "row, which a dask array would have to hold in memory. Use method="
                f"{', '.join(repr(m) for m in self._DASK_SCORES)} on dask arrays (blockwise "
                "passes), or pass a NumPy array."
            )
        progress = ProgressLog(self, self.verbose)
        # For the memory check of the validation: a dense X is scored without
        # forming the design (see _fit_memory_bytes).
        self._sparse_input = sp.issparse(X)
        X, target, sample_weight = self._validate(X, y, sample_weight)
        random_state = check_random_state(self.random_state)
        # The draw has a stream of its own, seeded before any scoring: how
        # many numbers a solver consumes (the sketch of a well-conditioned
        # basis in memory above 50,000 rows; none on a dask array) must not
        # change the rows drawn, which differed between the two paths.
        draw_state = np.random.RandomState(random_state.randint(np.iinfo(np.int32).max))
        with self._named_errors("fit"):
            if is_dask_array(X):
                scores, n_iter = self._dask_scores(X, target, sample_weight, progress)
            elif self._scores_without_design(X, target):
                self.solvers_ = {"leverage": self._scores_without_design(X, target)}
                scores, n_iter = self._stacked_leverage(X, target, sample_weight,
                                                        random_state), 1
            else:
                self.solvers_ = self._resolve_solvers(X)
                design = self._design(X, target, sample_weight)
                scores, n_iter = self._scores(design, sample_weight, random_state, progress)
        solvers = ", ".join(f"{step} {how}" for step, how in self.solvers_.items())
        progress.stage(f"scores: {self.method}" + (f" ({solvers})" if solvers else ""))
        # In units of the largest score (a power of two: exact), so that
        # scores as large as absurd weights (1e306 each) do not overflow the sum.
        unit_scores = scores / power_of_two_unit(scores)
        if not unit_scores.sum() > 0:
            raise ValueError(
                "SensitivitySampler.fit: every row has score 0 (the scored design "
                "[X, y, 1] is zero, or every sample_weight is 0), so there is nothing to "
                "sample from. Check the input, or keep fit_intercept=True."
            )
        self.scores_ = scores
        with np.errstate(over="ignore"):  # inf only for uniform scores of absurd weights
            self.total_sensitivity_ = float(scores.sum())
        self.n_iter_ = n_iter
        self.probabilities_ = unit_scores / unit_scores.sum()
        self._draw(draw_state, sample_weight)
        progress.stage(f"sample drawn: {self.sample_indices_.size} of {scores.size} rows")
        return self

    def fit_resample(self, X, y=None, sample_weight=None):
        """Fit, then return the sampled rows (imbalanced-learn's convention).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The design.
        y : array-like of shape (n_samples,), default=None
            The target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        X_resampled : array-like of shape (n_sampled, n_features)
            ``X[sample_indices_]``, of X's type (array, sparse, DataFrame).
        y_resampled : array-like of shape (n_sampled,) or None
            ``y[sample_indices_]``; None without y. The loss weights are in
            ``sample_weight_``.

        Warns
        -----
        UserWarning
            Once per sampler, when the weights differ from row to row: the
            rows returned stand for the data only with ``sample_weight_``,
            which imbalanced-learn's convention cannot pass on (a model fit
            on them unweighted is biased toward the rows the sampler
            favours). Pass the weights to the model's ``fit``, or use
            :class:`CoresetEstimator`, which does.
        """
        self.fit(X, y, sample_weight=sample_weight)
        self._warn_about_unpassed_weights()
        if is_dask_array(X):
            # The sample is small: its rows are read (one pass) and returned
            # in memory, in the order of sample_indices_.
            (X_res,) = dask_compute(X[self.sample_indices_])
            y = to_numpy_vector(y, "SensitivitySampler.fit_resample", "y")
            # By position, as for in-memory X (a Series' index is not looked up).
            return X_res, None if y is None else safe_indexing(y, self.sample_indices_)
        X_res = safe_indexing(X, self.sample_indices_)
        y_res = None if y is None else safe_indexing(y, self.sample_indices_)
        return X_res, y_res

    def _warn_about_unpassed_weights(self):
        weights = self.sample_weight_
        if getattr(self, "_warned_about_weights", False) or weights.size == 0:
            return
        if weights.max() <= weights.min() * (1 + 1e-9):
            return
        self._warned_about_weights = True
        warnings.warn(
            "SensitivitySampler.fit_resample: the sampled rows stand for the data only "
            f"with their weights sample_weight_ (here from {weights.min():.3g} to "
            f"{weights.max():.3g}), which fit_resample cannot return; a model fit on "
            "them unweighted is biased toward the rows the sampler favours. Pass "
            "sample_weight=sampler.sample_weight_ to the model's fit, or use "
            "CoresetEstimator, which does. (This warning is shown once per sampler.)",
            UserWarning,
            stacklevel=2,
        )

    # ------------------------------------------------------------------

    def _validate(self, X, y, sample_weight):
        """Validate X, an optional y and weights through the shared mixin."""
        y = to_numpy_vector(y, "SensitivitySampler.fit", "y")
        if y is None:
            X = self._validate_X(X, reset=True, method="fit")
            if sample_weight is None:
                return X, None, None
            # The mixin checks weights alongside a target: a zero column
            # stands in for the absent one.
            _, _, sample_weight = self._validate_X_y(
                X, np.zeros(X.shape[0]), y_kind="continuous", sample_weight=sample_weight
            )
            return X, None, sample_weight
        numeric = np.asarray(y).dtype.kind in "biuf"
        X, y, sample_weight = self._validate_X_y(
            X, y, y_kind="continuous" if numeric else "labels", sample_weight=sample_weight
        )
        target = y if (numeric and self.include_target) else None
        return X, target, sample_weight

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit (see the class docstring's Notes)."""
        width = n_features + 2  # the design [X, y, 1]
        sketch_rows = default_sketch_size(n_samples, width)
        if self.method in ("leverage", "root_leverage") and sketch_rows < n_samples:
            # A dense X is scored in two passes over row blocks, the design
            # never formed: about 6 floats per row (scores, probabilities,
            # the draw, the target and ones columns) plus the sketch (it, its
            # scaled copy and its SVD) and one block's JL products, or, exact,
            # the folded QR of 2048-row blocks of the design.
            sketched = self.solver == "sketch" or (self.solver == "auto"
                                                   and n_samples > SKETCH_LEVERAGE_ABOVE)
            k = min(width, SAMPLING_JL_DIM) if sketched else width
            work = (4 * sketch_rows * width + 2 * PASS_BLOCK_ROWS * k if sketched
                    else 4 * 2048 * width)
            per_row = 6
            # A sparse X (or one not yet seen) forms its design sparse and
            # two dense n x k products of it.
            if getattr(self, "_sparse_input", True):
                per_row += 2 * k
            return float_bytes(per_row * n_samples, work)
        # Its d x d products have the rank of the design: on wide data
        # (n < d) they are n x d.
        return float_bytes(4 * n_samples * width, 3 * width * min(width, n_samples))

    def _memory_advice(self, n_samples, n_features):
        return ("The scores work on a float64 copy of the design [X, y, 1] and its "
                "orthonormal basis; pass X as a dask array (method 'leverage' or 'lewis' "
                "then run in passes over row blocks), or score a uniform sample first.")

    def _design(self, X, target, sample_weight):
        """The scored matrix :math:`V^{1/p}[X, y, 1]` in float64 (a new array).

        The weights enter in units of the largest (a power of two): the
        scores do not depend on a common factor of the weights, and weights
        of 1e306 would otherwise overflow the design.
        """
        n_rows = X.shape[0]
        if sample_weight is not None:
            sample_weight = sample_weight / power_of_two_unit(sample_weight)
        blocks = [X]
        if target is not None:
            blocks.append(np.asarray(target, dtype=np.float64).reshape(n_rows, -1))
        if self.fit_intercept:
            blocks.append(np.ones((n_rows, 1)))
        if sp.issparse(X):
            design = sp.hstack(blocks, format="csr", dtype=np.float64)
            if sample_weight is not None:
                design = sp.diags(np.asarray(sample_weight, dtype=np.float64) ** (1 / self.p)) @ design
            return design.tocsr()
        design = np.hstack([np.asarray(block, dtype=np.float64) for block in blocks])
        if design is X:  # pragma: no cover - hstack always copies
            design = design.copy()
        if sample_weight is not None:
            design *= (np.asarray(sample_weight, dtype=np.float64) ** (1 / self.p))[:, None]
        return design

    #: The scoring steps each method runs.
    _STEPS = {
        "uniform": (),
        "leverage": ("leverage",),
        "root_leverage": ("leverage",),
        "lewis": ("lewis_basis",),
        "sensitivity": ("sensitivity",),
        "hybrid": ("sensitivity", "leverage"),
    }

    def _resolve_solvers(self, X):
        """``solver`` resolved, once, for each step ``method`` runs (from X's rows and format).

        ``"auto"`` sketches each step above its own size: leverage scores
        above ``SKETCH_LEVERAGE_ABOVE`` rows, the Lewis basis above
        ``EXACT_BASIS_BELOW`` rows (or for sparse input, which has no thin
        QR), sensitivities above ``EXACT_SENSITIVITY_BELOW`` rows.
        """
        n_rows, sparse_input = X.shape[0], sp.issparse(X)
        if self.solver != "auto":
            solvers = {step: self.solver for step in self._STEPS[self.method]}
            if sparse_input and "lewis_basis" in solvers:
                solvers["lewis_basis"] = "sketch"
            return solvers
        exact = {
            "leverage": n_rows <= SKETCH_LEVERAGE_ABOVE,
            "lewis_basis": n_rows <= EXACT_BASIS_BELOW and not sparse_input,
            "sensitivity": n_rows <= EXACT_SENSITIVITY_BELOW,
        }
        return {step: "exact" if exact[step] else "sketch" for step in self._STEPS[self.method]}

    def _scores_without_design(self, X, target):
        """The leverage solver, when the scores of a dense X are computed without the design; else None.

        Leverage and root-leverage scores of a dense X are: exact ones by the
        two passes of :func:`~._blockwise.two_pass_leverage_scores`, sketched
        ones by those of :func:`~._leverage.stacked_sketched_leverage_scores`
        when the sketch is smaller than X (a sketch holding every row factors
        the formed design, exactly, as before).
        """
        if self.method not in ("leverage", "root_leverage") or sp.issparse(X):
            return None
        solver = self._resolve_solvers(X)["leverage"]
        if solver == "sketch" and not self._sketch_is_smaller(X.shape[0], self._width(X, target)):
            return None
        return solver

    def _width(self, X, target):
        """Columns of the design [X, y, 1]."""
        n_targets = 0 if target is None else int(np.prod(np.shape(target)[1:], dtype=int))
        return X.shape[1] + n_targets + int(self.fit_intercept)

    @staticmethod
    def _sketch_is_smaller(n_rows, width):
        return default_sketch_size(n_rows, width) < n_rows

    def _stacked_leverage(self, X, target, sample_weight, random_state):
        """(Root) leverage scores of :math:`V^{1/p}[X, y, 1]`, exact or sketched, reading X twice.

        The scores of the design :meth:`_design` would form (the same
        random draws when sketched), without forming it: X is neither copied
        nor converted whole.
        """
        n_rows = X.shape[0]
        if self.solvers_["leverage"] == "exact":
            if sample_weight is not None:  # in units of the largest, as in _design
                sample_weight = sample_weight / power_of_two_unit(sample_weight)
            leverage = two_pass_leverage_scores(
                X, None if target is None else np.asarray(target).reshape(n_rows, -1),
                sample_weight, fit_intercept=self.fit_intercept, p=self.p)
            return np.sqrt(leverage) if self.method == "root_leverage" else leverage
        columns = []
        if target is not None:
            columns.append(np.asarray(target, dtype=np.float64).reshape(n_rows, -1))
        if self.fit_intercept:
            columns.append(np.ones((n_rows, 1)))
        columns = np.hstack(columns) if columns else None
        row_scale = None
        if sample_weight is not None:
            # In units of the largest weight, as in _design.
            unit = np.asarray(sample_weight, dtype=np.float64) / power_of_two_unit(sample_weight)
            row_scale = unit ** (1 / self.p)
        leverage = stacked_sketched_leverage_scores(X, columns, row_scale, random_state,
                                                    jl_dim=SAMPLING_JL_DIM)
        return np.sqrt(leverage) if self.method == "root_leverage" else leverage

    def _scores(self, design, sample_weight, random_state, progress=None):
        method, solvers = self.method, self.solvers_
        if method == "uniform":
            weights = np.ones(design.shape[0]) if sample_weight is None else sample_weight
            return np.asarray(weights, dtype=np.float64).copy(), 1
        if method == "lewis":
            exact_below = np.inf if solvers["lewis_basis"] == "exact" else -1
            basis = well_conditioned_basis(design, random_state, exact_below=exact_below)
            return lewis_weights(
                design, self.p, tol=self.tol, max_iter=self.max_iter, basis=basis,
                progress=progress,
            )
        n_iter = 1
        if "sensitivity" in solvers:
            if solvers["sensitivity"] == "exact":
                sensitivities = exact_sensitivities(
                    design, self.p, n_jobs=self.n_jobs, random_state=random_state
                )
            else:
                sensitivities, n_iter = sketched_sensitivities(
                    design, self.p, random_state, n_jobs=self.n_jobs, tol=self.tol,
                    max_iter=self.max_iter,
                )
            if method == "sensitivity":
                return sensitivities, n_iter
        if solvers["leverage"] == "sketch":
            # The JL columns of the sampler only where the sketch is smaller
            # than the design (as in _stacked_leverage): a sketch holding every
            # row gives the exact basis, which a projection would only blur.
            jl_dim = SAMPLING_JL_DIM if self._sketch_is_smaller(*design.shape) else None
            leverage = sketched_leverage_scores(design, random_state, jl_dim=jl_dim)
        else:
            leverage = exact_leverage_scores(design, random_state)
        if method == "leverage":
            return leverage, n_iter
        if method == "root_leverage":
            return np.sqrt(leverage), n_iter
        # hybrid: q = (s / S + tau / r) / 2, stored as the scores s + (S / r) tau,
        # an upper bound of s summing to 2 S.
        total, rank = sensitivities.sum(), leverage.sum()
        return sensitivities + (total / rank) * leverage, n_iter

    def _dask_scores(self, X, target, sample_weight, progress=None):
        """Scores of a dask X by blockwise passes (see :mod:`._blockwise`).

        Leverage scores are exact (TSQR's R, then the rows' norms: two
        passes, the cost of one sketch), so ``solver`` does not apply; Lewis
        weights take one more pass per iteration.
        """
        if self.method == "uniform":
            self.solvers_ = {}
            # No scores to compute, but the rows are still checked for NaN and
            # infinity (one pass), as in memory: the sample must not hold them.
            dask_compute(X.sum(axis=0))
            weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
            return np.asarray(weights, dtype=np.float64).copy(), 1
        if sample_weight is not None:  # in units of the largest, as in _design
            sample_weight = sample_weight / power_of_two_unit(sample_weight)
        design = BlockwiseDesign(X, target, sample_weight, fit_intercept=self.fit_intercept,
                                 p=self.p)
        if self.method == "lewis":
            self.solvers_ = {"lewis_basis": "exact"}
            scores, n_iter, converged, change = blockwise_lewis_weights(
                design, self.p, tol=self.tol, max_iter=self.max_iter, progress=progress
            )
            if not converged:
                warn(
                    f"Lewis weights did not converge in max_iter={self.max_iter} iterations "
                    f"(largest relative change {change:.2g} > tol={self.tol:g}); they are "
                    "not yet a fixed point. Raise max_iter or tol.",
                    ConvergenceWarning,
                )
            return scores, n_iter
        self.solvers_ = {"leverage": "exact"}
        leverage = blockwise_leverage_scores(design)
        return (np.sqrt(leverage) if self.method == "root_leverage" else leverage), 1

    def _draw(self, random_state, sample_weight):
        q = self.probabilities_
        n_rows = q.shape[0]
        if self.scheme == "bernoulli" or self.n_samples >= n_rows:
            # With n_samples >= n both schemes keep every row (with q > 0)
            # exactly: no reduction is possible, and none is made.
            indices, weights, inclusion = bernoulli_sample(q, self.n_samples, random_state)
        else:
            indices, weights = iid_sample(q, self.n_samples, random_state)
            inclusion = 1.0 - (1.0 - q) ** self.n_samples
        if sample_weight is not None:
            weights = weights * sample_weight[indices]
        self.inclusion_probabilities_ = inclusion
        self.sample_indices_ = indices
        self.sample_weight_ = np.asarray(weights, dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
