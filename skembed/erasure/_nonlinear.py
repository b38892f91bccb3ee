"""NonlinearConceptEraser: erasure against nonlinear probes (per-class maps, oracle transform).

The estimator is organised so that a method is one branch in
:meth:`NonlinearConceptEraser._solve` (what :meth:`fit` computes, returning a
frozen solution) and one in :meth:`NonlinearConceptEraser._move` (how a
block of rows is moved, with or without labels); the method's math lives in
its own module (``_quadratic.py`` for ``"quadratic"``).
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..base import ValidationMixin, validate_array
from ..utils._compat import Interval, StrOptions, fit_context
from ..utils._memory import float_bytes
from ..utils._messages import warn
from ..utils._moments import MOMENT_BLOCK_ROWS, WeightedMoments, shrink_in_place
from ..utils.extmath import (
    constant_columns,
    powers_of_two_above,
    psd_eigh,
    standardised_discrepancy,
)
from ._eraser import LinearConceptEraser, rounding_correlation
from ._quadratic import (
    GaussianDiscriminant,
    posterior_transport,
    transport,
    transport_maps,
    wasserstein_barycenter,
)

#: Methods that learn from per-class running moments, so can stream (partial_fit).
STREAMING_METHODS = ("quadratic",)
_EPS = np.finfo(np.float64).eps
#: The oracle form's promise, and the largest mismatch between a class's
#: transported covariance and the barycenter's that :meth:`fit` accepts
#: without a warning: per entry (i, j), relative to the geometric mean of
#: features i's and j's variances (:func:`standardised_discrepancy`), so a
#: feature in units 1e12 times smaller than another is held to the same
#: standard.
ORACLE_TOLERANCE = 1e-8


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _constant_in_class(moments):
    """Features constant within a class: variance at the rounding of their mean
    (:func:`~skembed.utils.extmath.constant_columns`)."""
    with np.errstate(over="ignore"):
        return constant_columns(moments.mean_x / moments.scale_x, moments.scaled_variance)


def _class_covariance(moments, scale, shrinkage):
    """A class's covariance in standardised units (entry ij over ``scale_i scale_j``).

    Features constant within the class get exactly zero variance (and are
    never multiplied by their unit: no overflow). Shrinkage works on the
    correlation scale, as :class:`LinearConceptEraser`'s does: the
    correlation matrix is pulled toward the identity, i.e. the covariance
    toward its own diagonal, ``(1 - rho) S + rho diag(S)``, so the
    coefficient does not depend on the features' units. Returns
    ``(covariance, rho)``.
    """
    constant = _constant_in_class(moments)
    # From the moments' per-feature powers of two to the standardised units
    # (bounded ratios: a varying feature's unit is at most about 1/eps times
    # its class's spread, which is at most 1/sqrt(prior) times its scale).
    relative = np.where(constant, 0.0, moments.scale_x / scale)
    covariance = moments.scatter_xx / moments.weight
    covariance *= relative[:, None]
    covariance *= relative[None, :]
    covariance[constant, :] = 0.0
    covariance[:, constant] = 0.0
    if shrinkage is False:
        return covariance, 0.0
    variances = covariance.diagonal().copy()
    active = variances > 0
    if shrinkage is True:
        std = np.sqrt(variances[active])
        correlation = covariance[np.ix_(active, active)]
        correlation /= std[:, None]
        correlation /= std[None, :]
        rho = shrink_in_place(correlation, moments.weight, True)
        del correlation
    else:
        rho = float(shrinkage)
    if rho:
        covariance *= 1 - rho
        covariance[np.diag_indices_from(covariance)] = variances
    return covariance, rho


def _feature_scales(moments, priors):
    """Each feature's pooled within-class standard deviation: the standardised units.

    ``sqrt(sum_k pi_k var_k)``, with the variance of a feature constant
    within class k (to rounding) counted as 0. Evaluated in a power of two
    per feature at least every class's mean and standard deviation, read
    from the moments' own units, so features of 1e-170 or 1e170 neither
    underflow nor overflow when squared, and multiplying a feature of X by a
    power of two multiplies its scale by exactly that. A feature constant
    within every class gets that power of two instead (1 when it is zero
    everywhere): its maps' rows are zero, so only the range matters.
    """
    magnitude = np.zeros(moments[0].mean_x.shape[0])
    for class_moments in moments:
        relative = np.maximum(np.abs(class_moments.mean_x) / class_moments.scale_x,
                              np.sqrt(class_moments.scaled_variance))
        magnitude = np.maximum(magnitude, relative * class_moments.scale_x)
    unit = powers_of_two_above(magnitude)
    pooled = np.zeros_like(unit)
    for prior, class_moments in zip(priors, moments):
        relative = class_moments.scale_x / unit
        variance = class_moments.scaled_variance * relative**2
        variance[_constant_in_class(class_moments)] = 0.0
        pooled += prior * variance
    return np.where(pooled > 0, unit * np.sqrt(pooled), unit)


def accumulate_class_moments(moments, X, codes, weights):
    """Merge the rows of each class into its ``WeightedMoments``; returns the rows per class.

    Block by block, so a class's rows are never copied whole (the merge of
    Chan et al. is exact: the blocks' moments add up to the class's).
    """
    counts = np.zeros(len(moments), dtype=np.int64)
    for rows in gen_batches(X.shape[0], MOMENT_BLOCK_ROWS):
        block_codes = codes[rows]
        for k in np.unique(block_codes):
            mask = block_codes == k
            moments[k].update(X[rows][mask], {}, weights[rows][mask])
            counts[k] += int(np.count_nonzero(mask))
    return counts


def _in_data_units(covariance, scale):
    """A covariance in standardised units times ``outer(scale, scale)`` (inf past float64)."""
    with np.errstate(over="ignore"):
        return covariance * scale[..., :, None] * scale[..., None, :]


def _linearly_guarded(X, codes, weights, n_classes):
    """Whether every correlation between a feature of X and a class indicator is rounding.

    Rounding: below ``rounding_correlation`` (sqrt(eps), what
    :class:`LinearConceptEraser` accepts of its own output, plus what
    centring a feature loses). Constant features are left out.
    """
    one_hot = (codes[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)
    moments = WeightedMoments(X.shape[1], {"concept": n_classes}, track_covariance=False)
    moments.update(X, {"concept": one_hot}, weights)
    variance = moments.scaled_variance
    with np.errstate(over="ignore"):
        relative_mean = moments.mean_x / moments.scale_x
        active = ~constant_columns(relative_mean, variance)
    std = np.sqrt(variance[active])
    side_std = np.sqrt(moments.scaled_side_variance("concept"))
    side_std = np.where(side_std > 0, side_std, np.inf)
    correlation = moments.scaled_cross_covariance("concept")[active] / std[:, None]
    correlation /= side_std[None, :]
    tolerance = rounding_correlation(relative_mean[active], std)
    return bool(np.all(np.abs(correlation) <= tolerance[:, None]))


@dataclass(frozen=True, eq=False)
class _QuadraticSolution:
    """A solved quadratic eraser (frozen: a fit or partial_fit replaces it, never edits it).

    ``covariances``, ``barycenter_covariance`` and ``maps`` are in the
    standardised units of ``scale`` (covariance entry ij over ``scale_i
    scale_j``; a map acts on rows divided by ``scale``), the means in the
    data's units.
    """

    priors: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    barycenter_mean: np.ndarray
    barycenter_covariance: np.ndarray
    maps: np.ndarray
    discriminant: GaussianDiscriminant
    scale: np.ndarray
    shrinkage: np.ndarray
    n_iter: int


class NonlinearConceptEraser(ValidationMixin, OneToOneFeatureMixin, TransformerMixin,
                             BaseEstimator):
    r"""Remove a class concept from embeddings against nonlinear (quadratic) probes.

    :class:`LinearConceptEraser` makes every *linear* probe useless; a
    concept that shows in the classes' spreads rather than their means (two
    classes with the same mean and different covariances) survives it and
    is read by a quadratic probe (QDA, a small MLP). This estimator moves
    each class onto one common distribution instead, with a map per class.

    Methods:

    ``"quadratic"`` (default)
        QLEACE (Belrose et al., 2023, section 6): Gaussian optimal transport
        of every class onto the classes' 2-Wasserstein barycenter. Class k
        has weight :math:`\pi_k`, mean :math:`\mu_k` and covariance
        :math:`\Sigma_k` (weighted, normalised by the class's total weight).
        Everything is solved in *standardised units*: feature j divided by
        its pooled within-class standard deviation
        :math:`s_j = (\sum_k \pi_k \Sigma_{k,jj})^{1/2}` (``scale_``;
        :math:`D = \mathrm{diag}(s)`, :math:`C_k = D^{-1} \Sigma_k D^{-1}`).
        The barycenter has mean :math:`\bar\mu = \sum_k \pi_k \mu_k` and
        covariance :math:`\bar\Sigma = D \bar C D`, with :math:`\bar C` the
        fixed point of :math:`\bar C = \sum_k \pi_k (\bar C^{1/2} C_k
        \bar C^{1/2})^{1/2}`, found by the iteration of Alvarez-Esteban
        et al. (2016) :math:`S \leftarrow S^{-1/2} (\sum_k \pi_k (S^{1/2}
        C_k S^{1/2})^{1/2})^2 S^{-1/2}` from the mean covariance, until
        the relative change is at most ``tol``. Class k moves by its optimal
        transport map

        .. math::

            T_k(x) = \bar\mu + D B_k D^{-1} (x - \mu_k), \qquad
            B_k = C_k^{-1/2} (C_k^{1/2} \bar C C_k^{1/2})^{1/2} C_k^{-1/2},

        the affine map of least mean squared edit in standardised units,
        :math:`E\|D^{-1}(T_k(X) - X)\|^2`, that gives a Gaussian class the
        barycenter's distribution.

        Why standardised units: in X's raw Euclidean units a feature in
        small units costs nothing to move, and the maps cannot be computed
        for it at all (its variance is lost in the rounding of the larger
        features' once the scales differ by 1e4 or more). In standardised
        units every rank decision and tolerance judges each feature at its
        own scale, and the eraser does not depend on the features' units:
        multiplying a feature of X by c multiplies that feature of the
        output by c and changes nothing else (bit for bit when c is a power
        of two).

    Two forms of :meth:`transform`:

    **Oracle** (``transform(X, y)``, labels given): row i moves by
    :math:`T_{y_i}`. On the training rows (weighted as in fit), every class
    then has mean :math:`\bar\mu` and covariance :math:`\bar\Sigma` to
    1e-8 per entry in the units of its features,

    .. math::

        |\mathrm{mean}_{y=k}(Z)_i - \bar\mu_i| \le 10^{-8}\, \bar\Sigma_{ii}^{1/2},
        \qquad |\mathrm{cov}_{y=k}(Z)_{ij} - \bar\Sigma_{ij}| \le 10^{-8}\,
        (\bar\Sigma_{ii} \bar\Sigma_{jj})^{1/2},

    for float64 X, whatever the features' scales (1e-150 to 1e150 are
    tested), as long as no feature's mean is more than about 1e4 of its
    standard deviations from 0 (means and rows are rounded relative to
    their own magnitude), and unless :meth:`fit` warned that a class's
    covariance is singular or nearly so (see Notes). For float32 X see
    **Precision** below. So every quadratic function :math:`q(z) = z^\top
    Q z + b^\top z + c` of the output has the same mean in every class:
    :math:`E[q(Z) \mid y = k] = \mathrm{tr}(Q \bar\Sigma) + q(\bar\mu)`
    does not depend on k. That is
    quadratic guardedness in expectation: no quadratic probe's expected
    score, and no linear probe at all, depends on the class. It is not a
    promise about thresholded decisions: a quadratic classifier can still
    beat chance on classes that differ in higher moments (skew, tails, a
    mixture's shape); for Gaussian classes the outputs are identically
    distributed and no probe of any kind can. On new rows the equalities
    hold as far as their class moments match the training ones.

    **Label-free** (``transform(X)``; also what :meth:`fit_transform`,
    pipelines and ``final_leace`` use): row x moves by
    :math:`f(x) = \sum_k p(k \mid x) T_k(x)`, with :math:`p(k \mid x)` the
    posteriors of the Gaussian discriminant (QDA) with the fitted priors,
    means and covariances, computed in log space. No exact guarantee: on the
    training rows, for each class k,

    .. math::

        \Big\| \mathrm{mean}_{y=k} f(x) - \bar\mu \Big\| \le
        \mathrm{mean}_{y=k} \sum_{j \ne k} p(j \mid x) \|T_j(x) - T_k(x)\|,

    since :math:`\mathrm{mean}_{y=k} T_k(x) = \bar\mu` exactly: the class
    means are off by at most the posterior mass on wrong classes times how
    much the maps disagree there. Where the classes overlap (the posteriors
    are unsure) the label-free map erases less than the oracle. With
    ``final_leace=True`` (default) a LEACE step
    (``LinearConceptEraser(method="leace")``, fitted on the label-free
    outputs of the training rows) follows, so the label-free output is
    linearly guarded in-sample exactly as :class:`LinearConceptEraser`'s
    (zero cross-covariance with the concept: every class has the same mean);
    the bound above describes the output before that step
    (``final_leace=False``).

    **Precision.** float32 X gives float32 output, as scikit-learn's
    transformers do: a float32 pipeline keeps float32 memory end to end,
    and float32 embeddings carry about 7 digits, which the erasure does not
    need more of. The moments, maps and rows are computed in float64 and
    each output entry is rounded once, to within :math:`u = 2^{-24}
    \approx 6 \cdot 10^{-8}` of its float64 value relative to its
    magnitude. The oracle figure above then widens by that rounding: per
    entry, :math:`10^{-8} + u \rho_i` for the means (in units of
    :math:`\bar\Sigma_{ii}^{1/2}`) and :math:`10^{-8} + u (\rho_i + \rho_j
    + u \rho_i \rho_j)` for the covariances (in units of
    :math:`(\bar\Sigma_{ii} \bar\Sigma_{jj})^{1/2}`), with
    :math:`\rho_i = (1 + \bar\mu_i^2 / \bar\Sigma_{ii})^{1/2}` the output
    feature's root mean square over its standard deviation: about 1.3e-7
    for centred features, more for features far from 0. Pass float64 X for
    the 1e-8 figure. The fitted attributes are float64 either way.

    Read more in the :doc:`User Guide </user_guide/erasure>`.

    Parameters
    ----------
    method : {"quadratic"}, default="quadratic"
        The erasure method (see above).
    shrinkage : bool or float in [0, 1], default=False
        Linear shrinkage of each class's correlation matrix toward the
        identity (its covariance toward its own diagonal): ``True`` uses the
        distribution-free optimal coefficient, a float sets it. Recommended
        when a class has about as many rows as features or fewer: its
        covariance is then singular or noisy. The maps and the discriminant
        use the shrunk covariances, so the oracle moments match the
        barycenter's for the shrunk model, not exactly on the training rows.
    final_leace : bool, default=True
        Follow the label-free map by a LEACE step fitted on its training
        outputs, so the label-free output is linearly guarded in-sample.
        :meth:`partial_fit` is only available with ``final_leace=False``
        (see its docstring). The oracle form never applies it (its output is
        already linearly guarded).
    tol : float, default=1e-8
        Relative change (Frobenius norm, in standardised units) of the
        barycenter's covariance at which its fixed-point iteration stops.
        Only the optimality of the maps depends on it: the oracle moments
        match whatever the barycenter iterate is.
    max_iter : int, default=100
        Most fixed-point steps of the barycenter (a ``ConvergenceWarning``
        when reached).
    random_state : int, RandomState instance or None, default=None
        Unused by ``"quadratic"`` (deterministic); for the methods that
        sample.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The concept's classes (those with positive weight at fit).
    priors_ : ndarray of shape (n_classes,)
        Class weights :math:`\pi_k` (each class's share of the sample weight).
    means_ : ndarray of shape (n_classes, n_features)
        Class means :math:`\mu_k`.
    covariances_ : ndarray of shape (n_classes, n_features, n_features)
        Class covariances :math:`\Sigma_k` as used (shrunk with
        ``shrinkage``), in X's units (inf where they exceed float64).
    barycenter_mean_ : ndarray of shape (n_features,)
        :math:`\bar\mu`, also the weighted mean of the training data.
    barycenter_covariance_ : ndarray of shape (n_features, n_features)
        :math:`\bar\Sigma`, in X's units.
    maps_ : ndarray of shape (n_classes, n_features, n_features)
        The matrices :math:`D^{-1} B_k D` that rows are multiplied by:
        ``T_k(x) = barycenter_mean_ + (x - means_[k]) @ maps_[k]``, and
        ``maps_[k] * scale_[:, None] / scale_[None, :]`` is the symmetric
        positive semi-definite :math:`B_k` (inf where the ratio of two
        scales exceeds float64).
    scale_ : ndarray of shape (n_features,)
        The standardised units :math:`s_j`: each feature's pooled
        within-class standard deviation. A feature constant within every
        class has none, and gets a power of two at least its magnitude
        (its maps' rows and columns are zero, so it only sets the range).
    shrinkage_ : ndarray of shape (n_classes,)
        Shrinkage coefficient used per class (0 without shrinkage).
    n_iter_ : int
        Fixed-point steps of the barycenter iteration.
    final_eraser_ : LinearConceptEraser or None
        The fitted LEACE step. None with ``final_leace=False``, and when the
        label-free outputs of the training rows were already linearly
        guarded to rounding (every correlation between an output feature and
        a class indicator below sqrt(eps), as when the posteriors are hard on
        the training rows): LEACE would then only erase rounding noise.
    n_samples_seen_ : float
        Total sample weight seen (the number of rows without weights).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    LinearConceptEraser : Erasure against linear probes, one affine map.

    Notes
    -----
    Singular class covariances (a class with no more rows than features,
    collinear or constant features) are handled on their numerical support
    (pseudo-inverse square roots, the package's rank rule, in standardised
    units): :math:`B_k` then acts on the span of the class's own variance
    only, and the oracle output of that class has covariance
    :math:`D P_k \bar C P_k D` (:math:`P_k` the orthogonal projection onto
    that span in standardised units) instead of :math:`\bar\Sigma`: no
    affine map can give a class variance in directions it has none. The
    means still match. :meth:`fit` warns when a class's transported
    covariance :math:`B_k C_k B_k` misses :math:`\bar C` by more than the
    1e-8 per entry promised (singular or nearly singular covariances), and
    ``shrinkage=True`` avoids it. The discriminant then
    floors the class's variances at the rank rule's tolerance, so posteriors
    are decided by the distance to each class's affine span (near 0 or 1).
    A class with a single distinct row of positive weight has no
    covariance: its map sends that row to the barycenter's mean (its mean is
    erased, not its spread) and :meth:`fit` warns; drop the class's rows,
    merge it into another class, or add rows of it.

    The maps are optimal in standardised units (see ``"quadratic"`` above),
    so the output does not depend on the features' units. Every fit
    accumulates weighted per-class moments (float64, in per-feature
    power-of-two units, see ``skembed.utils._moments``), so integer weights
    equal repeated rows and a weight of 0 drops a row; the standardised
    covariances are formed from them without squaring the data's entries,
    so features of 1e-150 and 1e150 neither underflow nor overflow.

    Memory: the fitted eraser keeps 4 d x d float64 matrices per class (the
    scatter, for :meth:`partial_fit`, the covariance, the map and the
    discriminant's eigenvectors: 4.7 MB per class at d = 384, 32 MB at
    d = 1,000); solving needs about 5 n_classes + 6 of them at the peak.
    Rows are read in blocks of 16,384, so the rows themselves cost one n x d
    array, for the label-free training outputs the LEACE step is fitted on
    (none with ``final_leace=False``). :meth:`fit` checks its estimate
    (:func:`skembed.utils.estimate_fit_memory`, for two classes) against
    the available memory before any work. :meth:`transform` moves the rows
    in blocks: O(n d^2 n_classes) time.

    References
    ----------
    .. [1] N. Belrose, D. Schneider-Joseph, S. Ravfogel, R. Cotterell, E. Raff,
       S. Biderman. "LEACE: Perfect linear concept erasure in closed form."
       NeurIPS 2023 (section 6, quadratic erasure).
    .. [2] P. C. Alvarez-Esteban, E. del Barrio, J. A. Cuesta-Albertos,
       C. Matran. "A fixed-point approach to barycenters in Wasserstein
       space." Journal of Mathematical Analysis and Applications 441, 2016.
    .. [3] M. Agueh, G. Carlier. "Barycenters in the Wasserstein space." SIAM
       Journal on Mathematical Analysis 43, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    >>> from skembed import NonlinearConceptEraser
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=2000)
    >>> X = rng.normal(size=(2000, 5)) * np.where(y[:, None] == 1, 2.0, 1.0)
    >>> qda = QuadraticDiscriminantAnalysis()
    >>> qda.fit(X, y).score(X, y) > 0.7  # same means, different spreads
    True
    >>> eraser = NonlinearConceptEraser().fit(X, y)
    >>> X_oracle = eraser.transform(X, y)  # labels known: moments equalised
    >>> np.allclose(np.cov(X_oracle[y == 0].T), np.cov(X_oracle[y == 1].T), atol=1e-2)
    True
    >>> qda.fit(X_oracle, y).score(X_oracle, y) < 0.6
    True
    >>> X_erased = eraser.transform(X)  # label-free: posterior-weighted maps
    """

    _requires_y = True

    _parameter_constraints = {
        "method": [StrOptions({"quadratic"})],
        "shrinkage": ["boolean", Interval(Real, 0, 1, closed="both")],
        "final_leace": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="quadratic",
        *,
        shrinkage=False,
        final_leace=True,
        tol=1e-8,
        max_iter=100,
        random_state=None,
    ):
        self.method = method
        self.shrinkage = shrinkage
        self.final_leace = final_leace
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # ------------------------------------------------------------------
    # Fitting: a reset plus the streaming update, then one solve
    # ------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the per-class maps of the concept ``y`` (and the LEACE step).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,)
            The concept's class labels: at least two classes of positive
            weight (a class with a single row is accepted with a warning, see
            Notes).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights: integer weights equal repeated rows, a weight of 0
            drops the row.

        Returns
        -------
        self : NonlinearConceptEraser
            The fitted eraser.
        """
        self._reset()
        X, codes, weights = self._update(X, y, sample_weight, method="fit")
        try:
            with self._named_errors("fit"):
                self._solution = self._solve()
                if self.final_leace:
                    self._final = self._fit_final_leace(X, codes, weights)
        except Exception:
            self._reset()  # a failed fit leaves the eraser unfitted, not half-solved
            raise
        return self

    def _fit_final_leace(self, X, codes, weights):
        """LEACE on the label-free outputs of the training rows (as transform makes them)."""
        moved = np.empty(X.shape, dtype=X.dtype)
        for rows in gen_batches(X.shape[0], MOMENT_BLOCK_ROWS):
            moved[rows] = self._move(X[rows])
        if _linearly_guarded(moved, codes, weights, len(self.classes_)):
            # Hard posteriors on the training rows (well separated or
            # singular classes) leave every class mean at the barycenter's:
            # LEACE would erase directions of rounding noise, moving the rows
            # for nothing (and differently on every rounding).
            return None
        eraser = LinearConceptEraser(method="leace").set_output(transform="default")
        return eraser.fit(moved, codes, sample_weight=weights)

    def _fit_memory_bytes(self, n_samples, n_features, n_targets=None):
        """Peak working memory of a fit, for two classes (see the class docstring's Notes).

        The largest of three phases, in float64 entries: accumulating (the
        stored scatters, a block's product, and a class's share of a block
        of rows copied and centred),
        solving (5 k + 6 d x d matrices: scatters, covariances, their
        eigenvectors, maps, discriminant bases and the barycenter's work
        matrices) and, with ``final_leace``, the LEACE step (the stored
        solution's 4 k d x d matrices, the n x d label-free outputs, and
        either the transport's four blocks of rows or LEACE's own matrices).
        """
        n_classes = 2
        d2 = n_features**2
        block = min(n_samples, MOMENT_BLOCK_ROWS) * n_features
        phases = [(n_classes + 1) * d2 + 1.25 * block, (5 * n_classes + 6) * d2]
        if self.final_leace:
            phases.append(4 * n_classes * d2 + n_samples * n_features
                          + max(4 * block, 3 * d2, 2 * d2 + 2 * block))
        # weights, codes and the indicators of the guard check, per row
        return float_bytes(max(phases), n_samples * (n_classes + 3))

    def _memory_advice(self, n_samples, n_features):
        return (f"method={self.method!r} keeps n_features x n_features matrices per "
                "class: reduce the features first (e.g. with PCA). final_leace=False "
                "saves the n_samples x n_features outputs the LEACE step is fitted on, "
                "and lets partial_fit take the rows in chunks.")

    def _streaming_method(self):
        return self.method in STREAMING_METHODS and not self.final_leace

    @available_if(_streaming_method)
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the eraser with one batch of rows (``final_leace=False`` only).

        The per-class weighted moments are merged exactly (Chan et al.), so
        ``partial_fit`` on chunks gives the same eraser as :meth:`fit` on all
        rows, up to rounding; the barycenter and maps are recomputed from the
        merged moments on the next :meth:`transform` or attribute access.
        The LEACE step of ``final_leace=True`` is fitted on the label-free
        outputs of the training rows, which a stream does not keep, so
        ``partial_fit`` is then unavailable (``hasattr`` is False). To stream
        with a linear guard, make two passes: ``partial_fit`` this eraser
        (``final_leace=False``) on every chunk, then
        ``LinearConceptEraser().partial_fit(eraser.transform(chunk), y_chunk)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of embeddings.
        y : array-like of shape (n_samples,)
            The batch's labels; a batch may hold a single class.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of the concept. Needed on the first call unless that
            batch already holds every class; ignored afterwards.

        Returns
        -------
        self : NonlinearConceptEraser
            The updated eraser.
        """
        self._update(X, y, sample_weight, method="partial_fit", classes=classes)
        return self

    def _reset(self):
        """Forget an earlier fit: running moments, classes and solution."""
        for name in ("classes_", "n_samples_seen_", "_class_moments", "_class_rows",
                     "_solution", "_final"):
            vars(self).pop(name, None)

    def _update(self, X, y, sample_weight, *, method, classes=None):
        """The streaming path: validate one batch and merge its per-class moments.

        The first batch after :meth:`_reset` fixes the features and the
        classes. Rows of weight 0 are dropped here, so weights with zeros
        give exactly the fit without those rows. Returns the kept rows, their
        class codes and their weights.
        """
        first_call = not hasattr(self, "_class_moments")
        if first_call:
            self._reset()
        caller = self._caller(method)
        X, y, sample_weight = self._validate_X_y(
            X, y, reset=first_call, y_kind="labels", sample_weight=sample_weight,
            method=method, min_classes=1 if method == "partial_fit" else 2,
        )
        self._remember_params()
        weights = (np.ones(X.shape[0]) if sample_weight is None
                   else np.asarray(sample_weight, dtype=np.float64))
        positive = weights > 0
        if not positive.all():
            X, y, weights = X[positive], y[positive], weights[positive]
        if first_call:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        codes = self._encode_labels(y, caller, hint="on the first call")
        if method == "fit":
            self._check_classes(codes, caller)
        if first_call:
            n_features = X.shape[1]
            self._class_moments = [WeightedMoments(n_features, {}) for _ in self.classes_]
            self._class_rows = np.zeros(len(self.classes_), dtype=np.int64)
        self._class_rows += accumulate_class_moments(self._class_moments, X, codes, weights)
        self.n_samples_seen_ = float(sum(m.weight for m in self._class_moments))
        self._solution = None
        self._final = None
        return X, codes, weights

    def _encode_labels(self, y, caller, *, hint):
        """Class codes 0 .. n_classes - 1 of labels, refusing labels not fitted."""
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            fix = (f"Pass every class with classes=... {hint}." if hint else
                   "Only the fitted classes have maps: drop those rows, or refit with them.")
            raise ValueError(
                f"{caller}: y has labels {np.unique(y[unknown]).tolist()} not among the "
                f"classes {self.classes_.tolist()}. {fix}"
            )
        return np.searchsorted(self.classes_, y)

    def _check_classes(self, codes, caller):
        """At fit: two classes of positive weight. Before a lazy solve: every class seen."""
        if codes is not None:
            if np.unique(codes).size < 2:
                raise ValueError(
                    f"{caller}: sample_weight leaves 1 class with positive weight, but at "
                    "least 2 classes are needed. Give rows of at least two classes a "
                    "positive weight."
                )
            return
        missing = self._class_rows == 0
        if missing.any():
            names = [_plain(label) for label in self.classes_[missing]]
            raise ValueError(
                f"{caller}: class(es) {names} were declared with classes=... but no row "
                "of positive weight has been seen. Pass rows of every class to "
                "partial_fit before transform."
            )

    # ------------------------------------------------------------------
    # Solving: per-class moments -> one frozen solution (a branch per method)
    # ------------------------------------------------------------------

    def _solve(self):
        method = self._fitted_param("method")
        if method == "quadratic":
            return self._solve_quadratic()
        raise AssertionError(method)  # pragma: no cover - the constraints list the methods

    def _solve_quadratic(self):
        moments = self._class_moments
        priors = np.array([m.weight for m in moments])
        priors /= priors.sum()
        means = np.array([m.mean_x for m in moments])
        # Everything is solved in standardised units: every feature divided
        # by its pooled within-class standard deviation. The relative rank
        # rule and the tolerance checks then judge each feature at its own
        # scale (in the data's units, a feature 1e4 times smaller than
        # another is lost in the rounding of the larger one), and rescaling
        # a feature of X changes only its scale.
        scale = _feature_scales(moments, priors)
        shrinkage = self._fitted_param("shrinkage")
        covariances = np.empty((len(moments), means.shape[1], means.shape[1]))
        rhos = np.zeros(len(moments))
        for k, class_moments in enumerate(moments):
            covariances[k], rhos[k] = _class_covariance(class_moments, scale, shrinkage)
        # Each class's eigendecomposition, once: for the barycenter's start,
        # the maps' square roots and the discriminant.
        decompositions = [psd_eigh(covariance) for covariance in covariances]
        barycenter, n_iter, converged = wasserstein_barycenter(
            covariances, priors, tol=self._fitted_param("tol"),
            max_iter=self._fitted_param("max_iter"), decompositions=decompositions,
        )
        if not converged:
            warn(f"the barycenter's fixed-point iteration did not reach tol="
                 f"{self._fitted_param('tol')} in max_iter={n_iter} steps; the maps "
                 "still equalise the class moments, but move the rows more than the "
                 "optimum. Increase max_iter or tol.", ConvergenceWarning)
        maps = transport_maps(covariances, barycenter, decompositions=decompositions)
        self._check_transported_covariances(covariances, maps, barycenter)
        return _QuadraticSolution(
            priors=priors,
            means=means,
            covariances=covariances,
            barycenter_mean=priors @ means,
            barycenter_covariance=barycenter,
            maps=maps,
            discriminant=GaussianDiscriminant.from_covariances(
                means, covariances, priors, scale, decompositions=decompositions),
            scale=scale,
            shrinkage=rhos,
            n_iter=n_iter,
        )

    def _check_transported_covariances(self, covariances, maps, barycenter):
        """Warn when a class's transported covariance misses the barycenter's (singular).

        The oracle promise, checked on the model: ``A C_k A`` against the
        barycenter entry by entry, each in the units of its two features
        (standardised units already; the discrepancy is relative to the
        diagonal, so it holds whatever the features' scales).
        """
        if not barycenter.any():
            return
        points = np.array([not covariance.any() for covariance in covariances])
        if points.any():
            names = [_plain(label) for label in self.classes_[points]]
            warn(
                f"class(es) {names} have no variance (a single distinct row of positive "
                "weight), so their maps send them to the barycenter's mean: their mean "
                "is erased but their covariance stays zero, and the label-free "
                "posteriors treat them as points. Drop those rows, merge the class into "
                "another, or add rows of it.",
                UserWarning,
            )
        mismatch = np.array([standardised_discrepancy(A @ S @ A, barycenter)
                             for A, S in zip(maps, covariances)])
        bad = (mismatch > ORACLE_TOLERANCE) & ~points
        if bad.any():
            names = [_plain(label) for label in self.classes_[bad]]
            warn(
                f"the covariances of class(es) {names} are singular (no more rows than "
                "features, or collinear features) or nearly so, so their transport maps "
                "give them the barycenter's covariance only on the span of their own "
                "variance (mismatch up to "
                f"{mismatch[bad].max():.1e} of the features' scales, over the "
                f"{ORACLE_TOLERANCE:.0e} promised); the label-free posteriors are then "
                "nearly hard. Pass shrinkage=True for full-rank class covariances.",
                UserWarning,
            )

    # ------------------------------------------------------------------
    # The fitted solution
    # ------------------------------------------------------------------

    def _fitted_solution(self):
        """The solution, recomputed from the merged moments after a partial_fit."""
        check_is_fitted(self, "classes_")
        if self._solution is None:
            with self._named_errors("partial_fit"):
                self._check_classes(None, self._caller("partial_fit"))
                self._solution = self._solve()
        return self._solution

    @property
    def priors_(self):
        return self._fitted_solution().priors

    @property
    def means_(self):
        return self._fitted_solution().means

    @property
    def covariances_(self):
        solution = self._fitted_solution()
        return _in_data_units(solution.covariances, solution.scale)

    @property
    def barycenter_mean_(self):
        return self._fitted_solution().barycenter_mean

    @property
    def barycenter_covariance_(self):
        solution = self._fitted_solution()
        return _in_data_units(solution.barycenter_covariance, solution.scale)

    @property
    def maps_(self):
        solution = self._fitted_solution()
        # x @ A = ((x / s) @ B) * s: A_ij = B_ij s_j / s_i.
        with np.errstate(over="ignore"):
            ratio = solution.scale[None, :] / solution.scale[:, None]
            return solution.maps * ratio

    @property
    def scale_(self):
        return self._fitted_solution().scale

    @property
    def shrinkage_(self):
        return self._fitted_solution().shrinkage

    @property
    def n_iter_(self):
        return self._fitted_solution().n_iter

    @property
    def final_eraser_(self):
        self._fitted_solution()
        return self._final

    def _class_posteriors(self, X):
        """``p(k | x)`` of the fitted discriminant, shape (n, n_classes) (for inspection)."""
        solution = self._fitted_solution()
        X = self._validate_X(X, reset=False)
        return solution.discriminant.posteriors(X)

    # ------------------------------------------------------------------
    # Transform (a branch per method)
    # ------------------------------------------------------------------

    def _move(self, block, codes=None):
        """One block of rows moved by the fitted maps, in float64.

        ``codes`` given: the oracle form (each row by its class's map);
        None: the label-free form (before the LEACE step).
        """
        solution = self._solution
        method = self._fitted_param("method")
        if method == "quadratic":
            if codes is None:
                posteriors = solution.discriminant.posteriors(block)
                return posterior_transport(block, solution.means, solution.maps,
                                           solution.barycenter_mean, posteriors,
                                           solution.scale)
            moved = np.empty(block.shape)
            for k in np.unique(codes):
                rows = codes == k
                moved[rows] = transport(block[rows], solution.means[k], solution.maps[k],
                                        solution.barycenter_mean, solution.scale)
            return moved
        raise AssertionError(method)  # pragma: no cover

    def transform(self, X, y=None):
        """Erase the concept from X: oracle with labels, label-free without.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,), default=None
            The rows' class labels, when known (the oracle form: row i moves
            by its class's map, and every class's mean and covariance become
            the barycenter's on the training rows). None: the label-free form
            (posterior-weighted maps, then the LEACE step with
            ``final_leace=True``).

        Returns
        -------
        X_erased : ndarray of shape (n_samples, n_features)
            In X's dtype: float32 stays float32, computed in float64 and
            rounded once (see **Precision** in the class docstring).
        """
        self._fitted_solution()
        X = self._validate_X(X, reset=False)
        codes = None
        if y is not None:
            codes = self._validate_transform_labels(y, X.shape[0])
        out = np.empty(X.shape, dtype=X.dtype)
        for rows in gen_batches(X.shape[0], MOMENT_BLOCK_ROWS):
            moved = self._move(X[rows], None if codes is None else codes[rows])
            if codes is None and self._final is not None:
                moved = self._final.transform(moved.astype(X.dtype, copy=False))
            out[rows] = moved
        return out

    def _validate_transform_labels(self, y, n_samples):
        caller = self._caller("transform")
        y = validate_array(y, caller=caller, input_name="y", dtype=None, ensure_2d=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        y = column_or_1d(y)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"{caller}: y has {y.shape[0]} labels but X has {n_samples} rows. Pass "
                "one label per row, or no y for the label-free form."
            )
        return self._encode_labels(y, caller, hint=None)
