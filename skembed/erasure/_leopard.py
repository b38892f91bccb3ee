r"""DensityMatchingEraser: LEOPARD, an orthogonal projection under which the classes' distributions match.

Saillenfest and Lemberger (2025) erase a discrete concept with an orthogonal
projection chosen so that the class-conditional distributions of the
projected rows are as close as a kernel two-sample statistic can tell. In
standardised units :math:`s = D^{-1}(x - \bar x)` (``D`` the pooled
within-class standard deviations), the eraser is

.. math::

    f(x) = \bar x + D\, V V^\top D^{-1} (x - \bar x), \qquad
    V = B U, \quad U^\top U = I_r,

with two steps, as the paper's "cascade" form:

1. **Linear step.** :math:`B` is an orthonormal basis of the complement of
   the class-mean differences :math:`D^{-1}(\mu_k - \mu_1)`, so every class
   has the same mean after projection: the cross-covariance with the
   concept is zero and no linear probe beats a constant on the training
   rows (linear guardedness, as ``LinearConceptEraser(method="orth")`` but in
   standardised units).
2. **Density matching.** :math:`U` (``r`` orthonormal columns in the
   remaining space) minimises the squared maximum mean discrepancy between
   every pair of classes of the projected rows,

   .. math::

       L(U) = \sum_{k < l} \mathrm{MMD}^2\big(U^\top B^\top s \mid k,\;
       U^\top B^\top s \mid l\big),
       \qquad \kappa(a, b) = \sum_{j=0}^{m-1} \exp\!\big(-\|a - b\|^2 / (2^{j - \lfloor m/2 \rfloor} h)\big),

   a sum of ``m = n_kernels`` Gaussian kernels whose bandwidths are powers
   of two around the mean squared distance ``h`` of the batch (the paper's
   mixture of five),
   estimated on class-balanced random batches of rows, by Adam steps on the
   Riemannian gradient of the Stiefel manifold followed by a QR retraction
   (the paper penalises :math:`\|U^\top U - I\|^2` instead; the retraction
   keeps ``U`` exactly orthonormal at every step).

The projection is fixed once fitted, so new rows need no labels, and it is
orthogonal in standardised units: distances there never grow (the map is
1-Lipschitz) and what is kept of a row is kept exactly. What it erases
nonlinearly is empirical: the probes of the paper, and of
:func:`skembed.metrics.guardedness_report`, are the measure; the only
guarantee is the linear one of step 1.

Reference: A. Saillenfest, P. Lemberger. "Nonlinear Concept Erasure: a
Density Matching Approach." ECAI 2025 (arXiv:2507.12341).
"""

from numbers import Integral, Real

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.validation import check_is_fitted

from ..base import ValidationMixin
from ..utils._compat import Interval, fit_context
from ..utils._memory import float_bytes
from ..utils._messages import warn
from ..utils._moments import MOMENT_BLOCK_ROWS, WeightedMoments
from ..utils._progress import ProgressLog
from ..utils.extmath import orthonormal_basis, psd_eigh
from ._nonlinear import _feature_scales, accumulate_class_moments

#: Adam's moment decay rates (Kingma and Ba's defaults, the paper's optimiser).
_ADAM_BETAS = (0.9, 0.999)
_SQRT_EPS = float(np.sqrt(np.finfo(np.float64).eps))
#: Steps between progress lines at verbose=1.
_REPORT_EVERY = 50


def _pair_weights(codes, weights, n_classes):
    r"""The matrix W with :math:`\sum_{k<l} \mathrm{MMD}^2_{kl} = \sum_{ij} W_{ij} K_{ij}`.

    With :math:`a^k_i` row i's share of its class's weight in the batch (0
    outside class k), :math:`\sum_{k<l} (a^k - a^l)(a^k - a^l)^\top =
    n_c \sum_k a^k a^{k\top} - (\sum_k a^k)(\sum_k a^k)^\top`, that is
    :math:`W_{ij} = a_i a_j (n_c [c_i = c_j] - 1)`.
    """
    totals = np.bincount(codes, weights=weights, minlength=n_classes)
    share = weights / totals[codes]
    same = codes[:, None] == codes[None, :]
    return np.outer(share, share) * np.where(same, n_classes - 1.0, -1.0)


def mmd_loss_and_gradient(Z, pair_weights, row_weights, n_kernels):
    r"""The pairwise MMD^2 of projected rows and its gradient in the rows.

    ``Z`` (m, r) are the projected rows of a batch, ``pair_weights`` the
    matrix of :func:`_pair_weights`. Kernel j has bandwidth :math:`2^{j - J}
    h`, ``J = n_kernels // 2`` and ``h`` the mean squared distance between
    the batch's rows weighted by ``row_weights``, pairs of a row with itself
    included, so that integer weights equal repeated rows (the paper's
    mean over distinct pairs differs by a factor ``m / (m - 1)``; held fixed
    in the gradient, as the paper's detached bandwidth). With :math:`M = \sum_j W \circ K_j / h_j`, the
    gradient is :math:`-4 (\mathrm{diag}(M 1) Z - M Z)`.
    """
    squared = np.einsum("ij,ij->i", Z, Z)
    distances = squared[:, None] + squared[None, :] - 2.0 * (Z @ Z.T)
    np.maximum(distances, 0.0, out=distances)
    mean_distance = np.sum(np.outer(row_weights, row_weights) * distances) / row_weights.sum() ** 2
    if not mean_distance > 0:  # every row the same: nothing to tell apart
        return 0.0, np.zeros_like(Z)
    loss = 0.0
    M = np.zeros_like(distances)
    for j in range(n_kernels):
        bandwidth = mean_distance * 2.0 ** (j - n_kernels // 2)
        weighted = np.exp(-distances / bandwidth)
        weighted *= pair_weights
        loss += weighted.sum()
        weighted /= bandwidth
        M += weighted
    gradient = M @ Z
    gradient -= M.sum(axis=1)[:, None] * Z
    gradient *= 4.0
    return float(loss), gradient


class DensityMatchingEraser(ValidationMixin, OneToOneFeatureMixin, TransformerMixin,
                            BaseEstimator):
    r"""Remove a class concept with an orthogonal projection that matches the classes' distributions (LEOPARD).

    An orthogonal projection, in standardised units, onto ``n_components``
    directions: first the class-mean differences are projected out (no
    linear probe beats a constant on the training rows), then, in what is
    left, the directions are chosen so that the kernel maximum mean
    discrepancy between the classes' projected rows is smallest (Saillenfest
    and Lemberger, 2025). The class distributions are matched as wholes,
    not only their means and covariances, by dropping the directions in
    which they differ: the strength of the erasure is the number of
    directions dropped, which also sets how much of the rows' neighbourhoods
    survives. The projection needs no labels at transform.

    The math (see ``skembed/erasure/_leopard.py``): with :math:`\bar x` the
    weighted mean, :math:`D` the pooled within-class standard deviations
    (``scale_``) and :math:`V` (``components_.T``) ``r`` orthonormal columns,

    .. math::

        f(x) = \bar x + D V V^\top D^{-1} (x - \bar x),

    where :math:`V = B U`: :math:`B` spans the complement of the
    standardised class-mean differences, and :math:`U` minimises
    :math:`\sum_{k<l} \mathrm{MMD}^2` between the classes' projected rows
    under a mixture of ``n_kernels`` Gaussian kernels whose bandwidths are
    powers of two around the mean squared distance, estimated on
    class-balanced batches of ``batch_size`` rows by ``max_iter`` Adam steps
    on the Stiefel manifold (QR retraction), starting from the top principal
    directions.

    **Guarantees.** On the training rows (weighted as in fit) every class
    has the same mean after transform, to rounding: the output's
    cross-covariance with the concept is zero, so no linear probe beats a
    constant (linear guardedness). The map is an orthogonal projection in
    standardised units: applied twice it gives the same rows, and distances
    between rows divided by ``scale_`` never grow. Nothing is promised about
    nonlinear probes: the discrepancy is minimised on batches of training
    rows, and what remains readable on new rows is measured by
    :func:`skembed.metrics.guardedness_report` (see the user guide, "Beyond
    linear probes", for the figures against the other methods).

    Read more in the :doc:`User Guide </user_guide/erasure>`.

    Parameters
    ----------
    n_components : int or float in (0, 1], default=0.5
        Directions kept. A float is a share of the directions left after the
        linear step (``n_features`` minus the rank of the class-mean
        differences), rounded, at least 1; an int is the number, at most
        that many. 0.5 is the paper's setting for GloVe (150 of 300). Fewer
        directions erase more and keep less of each row.
    max_iter : int, default=300
        Optimisation steps (one batch each).
    batch_size : int, default=1024
        Rows per step, split evenly between the classes (a class with fewer
        rows gives all of them). Each step costs about ``batch_size**2 *
        (n_kernels + n_components)`` operations.
    learning_rate : float, default=0.01
        Adam's step size, in standardised units (each entry of ``U`` moves
        by about this much per step).
    n_kernels : int, default=5
        Gaussian kernels in the mixture (bandwidths ``2**(j - n_kernels // 2)``
        times the batch's mean squared distance), at most 64.
    random_state : int, RandomState instance or None, default=None
        Draws the batches. An int makes fit reproducible.
    verbose : int, default=0
        Progress on standard output: 1 prints the linear step and, every 50
        steps, the mean discrepancy of those steps' batches; 2 also every
        step.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The concept's classes (those with positive weight at fit).
    mean_ : ndarray of shape (n_features,)
        :math:`\bar x`, the weighted mean of the training rows.
    scale_ : ndarray of shape (n_features,)
        The standardised units: each feature's pooled within-class standard
        deviation (a power of two at least its magnitude for a feature
        constant within every class).
    components_ : ndarray of shape (n_kept, n_features)
        :math:`V^\top` (``n_kept = n_components_``): orthonormal rows in
        standardised units, orthogonal
        to every standardised class-mean difference.
    n_components_ : int
        Directions kept.
    n_linear_ : int
        Directions removed by the linear step (the rank of the class-mean
        differences, at most ``n_classes - 1``).
    loss_curve_ : ndarray of shape (n_steps,)
        The batch's :math:`\sum_{k<l} \mathrm{MMD}^2` at each step (a noisy
        estimate: each step draws another batch); ``n_steps`` is
        ``n_iter_``.
    n_iter_ : int
        Optimisation steps taken: ``max_iter``, or 0 when every direction
        left after the linear step is kept (nothing to choose).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    LinearConceptEraser : Erasure against linear probes, one affine map.
    NonlinearConceptEraser : Class-wise transport maps (quadratic erasure).

    Notes
    -----
    Cost: ``max_iter`` steps of ``O(batch_size**2 * (n_kernels +
    n_components) + batch_size * n_features * n_components)``, plus one
    ``n_features`` x ``n_features`` eigendecomposition for the start and
    one QR per step, whatever the number of rows beyond a batch: on the
    benchmark's MiniLM vectors (384 features), 14 to 22 s for 7,350 rows
    and 16 s for 15,000 rows with the defaults and one BLAS thread, on a
    quiet 2-core machine (``benchmarks/RESULTS.md``). Small data pays the same
    steps: lower ``max_iter`` to explore. Memory: the rows in standardised units (one ``n_samples`` x
    ``n_features`` float64 array) and a few ``batch_size`` x
    ``batch_size`` matrices.

    Sample weights weigh each row's share of its class in the batch's
    discrepancy, the mean, the scales and the start (only their ratios
    matter); rows of weight 0 are dropped. Batches are drawn uniformly
    within each class, so integer weights equal repeated rows exactly when
    every class fits in one batch (half of ``batch_size`` each for two
    classes), and in expectation otherwise.

    With fewer rows than features, when the rows span no more directions
    than are kept, the start is a saddle of the discrepancy and rounding
    decides which way the steps leave it: the same rows in another order
    can give another projection.

    Unlike :class:`NonlinearConceptEraser`, the map has no oracle form and
    does not depend on a row's class: rows of the two classes at the same
    place land at the same place. The paper reports its figures in the
    reduced coordinates :math:`V^\top D^{-1}(x - \bar x)`; ``transform``
    returns the projected rows in X's own features and units, so the
    estimator drops into pipelines in place of the other erasers.

    References
    ----------
    .. [1] A. Saillenfest, P. Lemberger. "Nonlinear Concept Erasure: a
       Density Matching Approach." ECAI 2025. arXiv:2507.12341.
    .. [2] A. Gretton, K. Borgwardt, M. Rasch, B. Schoelkopf, A. Smola. "A
       kernel two-sample test." JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from skembed import DensityMatchingEraser
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of two signs: no linear trace
    >>> SVC().fit(X[:700], y[:700]).score(X[700:], y[700:]) > 0.9
    True
    >>> eraser = DensityMatchingEraser(n_components=2, random_state=0).fit(X[:700], y[:700])
    >>> Z = eraser.transform(X)
    >>> SVC().fit(Z[:700], y[:700]).score(Z[700:], y[700:]) < 0.6
    True
    """

    _requires_y = True

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left"),
                         Interval(Real, 0, 1, closed="right")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_kernels": [Interval(Integral, 1, 64, closed="both")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_components=0.5, *, max_iter=300, batch_size=1024,
                 learning_rate=0.01, n_kernels=5, random_state=None, verbose=0):
        self.n_components = n_components
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_kernels = n_kernels
        self.random_state = random_state
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the projection that erases the concept ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,)
            The concept's class labels: at least two classes of positive
            weight.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; a weight of 0 drops the row.

        Returns
        -------
        self : DensityMatchingEraser
            The fitted eraser.
        """
        caller = self._caller("fit")
        if isinstance(self.n_components, bool):
            raise ValueError(
                f"{caller}: n_components={self.n_components} is a bool. Pass the number "
                "of directions to keep (an int) or their share (a float in (0, 1])."
            )
        X, y, sample_weight = self._validate_X_y(X, y, y_kind="labels",
                                                 sample_weight=sample_weight)
        largest = float(np.abs(X).max())
        if largest > np.finfo(np.float64).max / X.shape[0]:
            raise ValueError(
                f"{caller}: X has values up to {largest:.2g}, whose sum over its "
                f"{X.shape[0]:,} rows exceeds float64's range, so its means cannot be "
                "computed. Rescale the features first: the eraser does not depend on "
                "their units."
            )
        weights = (np.ones(X.shape[0]) if sample_weight is None
                   else np.asarray(sample_weight, dtype=np.float64))
        positive = weights > 0
        if not positive.all():
            X, y, weights = X[positive], y[positive], weights[positive]
        # Only the weights' ratios matter: the largest set to 1, so products of
        # two weights (the batch's kernel weights) neither underflow nor overflow.
        weights = weights / weights.max()
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"{caller}: sample_weight leaves 1 class with positive weight, but at "
                "least 2 classes are needed. Give rows of at least two classes a "
                "positive weight."
            )
        n_features = X.shape[1]
        log = ProgressLog(self, self.verbose)
        with self._named_errors("fit"):
            mean, scale, differences = self._standardisation(X, codes, weights, classes.size)
            # Linear step: the complement of the standardised class-mean
            # differences (k - 1 of them: their rank is not deficient by
            # construction, unlike the k centred means').
            removed = orthonormal_basis(differences.T)
            n_linear = removed.shape[1]
            n_left = n_features - n_linear
            n_components = self._resolve_n_components(n_left, n_features, caller)
            complement = scipy.linalg.qr(removed, mode="full")[0][:, n_linear:] \
                if n_linear else np.eye(n_features)
            reduced = self._standardised(X, mean, scale) @ complement
            log.stage(f"linear step: {n_linear} direction(s) of the class means removed, "
                      f"{n_components} of the {n_left} left to keep")
            U, losses = self._match_densities(reduced, codes, weights, classes.size,
                                              n_components, log)
        self.classes_ = classes
        self.mean_ = mean
        self.scale_ = scale
        self.components_ = (complement @ U).T
        self.n_components_ = n_components
        self.n_linear_ = n_linear
        self.loss_curve_ = losses
        self.n_iter_ = losses.size
        return self

    @staticmethod
    def _standardisation(X, codes, weights, n_classes):
        """The weighted mean, pooled within-class scales and standardised mean differences."""
        moments = [WeightedMoments(X.shape[1], {}, track_covariance=False)
                   for _ in range(n_classes)]
        accumulate_class_moments(moments, X, codes, weights)
        priors = np.array([m.weight for m in moments])
        priors /= priors.sum()
        means = np.array([m.mean_x for m in moments])
        scale = _feature_scales(moments, priors)
        return priors @ means, scale, (means[1:] - means[0]) / scale

    @staticmethod
    def _standardised(X, mean, scale):
        return (np.asarray(X, dtype=np.float64) - mean) / scale

    def _resolve_n_components(self, n_left, n_features, caller):
        wanted = self.n_components
        if n_left == 0:
            warn(
                f"X has {n_features} feature(s) and the class means differ along all of "
                "them, so the linear step leaves no direction to keep: every row becomes "
                "the mean. Use LinearConceptEraser, which erases the class means with a "
                "smaller edit, or add features.",
                UserWarning,
            )
            return 0
        if isinstance(wanted, Integral) and not isinstance(wanted, bool):
            if wanted > n_left:
                raise ValueError(
                    f"{caller}: n_components={wanted} but only {n_left} directions are "
                    "left after the class-mean differences are projected out. Pass "
                    f"n_components <= {n_left}, or a share in (0, 1]."
                )
            return int(wanted)
        return max(1, int(round(float(wanted) * n_left)))

    def _match_densities(self, reduced, codes, weights, n_classes, n_components, log):
        """Adam on the Stiefel manifold from the top principal directions: (U, losses)."""
        rng = check_random_state(self.random_state)
        n_left = reduced.shape[1]
        U = self._principal_start(reduced, weights, n_components)
        if n_components == n_left:  # nothing to choose: the linear step alone
            return U, np.zeros(0)
        members = [np.flatnonzero(codes == k) for k in range(n_classes)]
        per_class = max(1, self.batch_size // n_classes)
        first, second = np.zeros_like(U), np.zeros_like(U)
        beta1, beta2 = _ADAM_BETAS
        losses = np.empty(self.max_iter)
        gradient_scale = 0.0
        for step in range(self.max_iter):
            rows = np.concatenate([
                rows_k if rows_k.size <= per_class
                else rng.choice(rows_k, per_class, replace=False)
                for rows_k in members
            ])
            batch = reduced[rows]
            pair_weights = _pair_weights(codes[rows], weights[rows], n_classes)
            losses[step], row_gradient = mmd_loss_and_gradient(
                batch @ U, pair_weights, weights[rows], self.n_kernels)
            gradient = batch.T @ row_gradient
            gradient_scale = max(gradient_scale, float(np.abs(gradient).max(initial=0.0)))
            # The Riemannian gradient: the component tangent to the Stiefel
            # manifold at U, G - U sym(U^T G).
            tangent = U.T @ gradient
            gradient -= U @ ((tangent + tangent.T) / 2)
            first = beta1 * first + (1 - beta1) * gradient
            second = beta2 * second + (1 - beta2) * gradient**2
            spread = np.sqrt(second / (1 - beta2 ** (step + 1)))
            # Adam divides each entry by its own magnitude, so an entry that
            # is rounding noise would take a full step in a random direction.
            # The tangent is all rounding noise where U is stationary (when
            # the rows span no more directions than are kept, the start
            # already is): entries below sqrt(eps) of the largest Euclidean
            # gradient seen count as zero. (Where the rows span no more
            # directions than are kept, rounding still decides which way the
            # steps leave that saddle: see the class docstring's Notes.)
            floor = _SQRT_EPS * gradient_scale + np.finfo(np.float64).tiny
            step_direction = (first / (1 - beta1 ** (step + 1))) / (spread + floor)
            Q, R = np.linalg.qr(U - self.learning_rate * step_direction)
            # QR's sign convention flips columns at random: keep R's diagonal positive.
            U = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
            log.chunk(step + 1, self.max_iter, "steps")
            if (step + 1) % _REPORT_EVERY == 0 or step + 1 == self.max_iter:
                recent = losses[max(0, step + 1 - _REPORT_EVERY):step + 1]
                log.stage(f"step {step + 1}/{self.max_iter}: mean batch discrepancy "
                          f"{recent.mean():.4g}")
        return U, losses

    @staticmethod
    def _principal_start(reduced, weights, n_components):
        """The top principal directions of the (centred) rows, completed deterministically.

        When the rows span fewer directions than are kept (fewer rows than
        features, duplicates), the rest of the start is the Gram-Schmidt
        completion of the rows' span by the coordinate axes, which depends
        on that span only: eigenvectors of a zero eigenvalue would be
        whatever rounding makes them, and the rows' projection would change
        with their order or repetition.
        """
        _, vectors = psd_eigh((reduced * weights[:, None]).T @ reduced)
        vectors = vectors[:, ::-1][:, :n_components]
        if vectors.shape[1] == n_components:
            return np.ascontiguousarray(vectors)
        Q, R = np.linalg.qr(np.hstack([vectors, np.eye(reduced.shape[1])]))
        Q *= np.where(np.diag(R) < 0, -1.0, 1.0)
        return np.hstack([vectors, Q[:, vectors.shape[1]:n_components]])

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit: the standardised rows twice, batch matrices, d x d."""
        batch = min(self.batch_size, n_samples)
        return float_bytes(2 * n_samples * n_features + 4 * batch**2
                           + 4 * n_features**2, 4 * n_samples)

    def transform(self, X, y=None):
        """Project X: the rows without the concept's directions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : None
            Not used: the projection needs no labels (unlike the oracle form
            of :class:`NonlinearConceptEraser`). Passing labels is an error.

        Returns
        -------
        X_erased : ndarray of shape (n_samples, n_features)
            In X's dtype (computed in float64, rounded once).
        """
        check_is_fitted(self, "components_")
        if y is not None:
            raise ValueError(
                f"{self._caller('transform')}: got labels y, but the projection needs "
                "none: every row is projected the same way whatever its class. Call "
                "transform(X)."
            )
        X = self._validate_X(X, reset=False)
        out = np.empty(X.shape, dtype=X.dtype)
        for rows in gen_batches(X.shape[0], MOMENT_BLOCK_ROWS):
            kept = self._standardised(X[rows], self.mean_, self.scale_) @ self.components_.T
            out[rows] = self.mean_ + (kept @ self.components_) * self.scale_
        return out
