"""Measures shared by skembed's estimators, tests, demo and benchmarks.

* :func:`knn_recall`: how many of each point's nearest neighbours survive a
  change of representation (dimensionality reduction, quantisation, erasure).
* :func:`clustering_accuracy`: accuracy of a clustering under the best
  one-to-one matching of clusters to classes (Hungarian algorithm).
* :func:`linear_probe_accuracy`: how well a linear classifier recovers a label
  from embeddings (the figure concept erasure must bring to chance).
* :func:`guardedness_report`: the table that scores a concept erasure: the
  held-out accuracy of a ladder of probes (linear, quadratic, RBF-SVM, MLP)
  beside the majority rate, the size of the edit and the neighbours kept.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.model_selection import (
    StratifiedKFold,
    StratifiedShuffleSplit,
    cross_val_score,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from threadpoolctl import threadpool_limits

from .base import _plain, validate_array
from .erasure._quadratic import GaussianDiscriminant
from .utils import exact_kneighbors, neighbour_overlap
from .utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from .utils.extmath import (
    mean_squared_norm,
    power_of_two_exponent,
    standardise_columns_by_powers_of_two,
)

__all__ = ["knn_recall", "clustering_accuracy", "linear_probe_accuracy", "guardedness_report"]


@validate_params(
    {
        "X_reference": ["array-like"],
        "X_embedded": ["array-like"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_queries": [Interval(Integral, 1, None, closed="left"), None],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "random_state": ["random_state"],
        "queries_reference": ["array-like", None],
        "queries_embedded": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def knn_recall(
    X_reference,
    X_embedded,
    n_neighbors=10,
    n_queries=None,
    metric="euclidean",
    random_state=None,
    *,
    queries_reference=None,
    queries_embedded=None,
):
    """Fraction of each point's k nearest neighbours kept by an embedding.

    For each query point i, let N_ref(i) be its ``n_neighbors`` exact nearest
    neighbours in ``X_reference`` and N_emb(i) those in ``X_embedded`` (the
    point itself excluded). The recall is the mean over queries of
    ``|N_ref(i) & N_emb(i)| / n_neighbors``: 1 when every neighbourhood is
    kept, about ``n_neighbors / n_samples`` for a random embedding.

    The queries are rows of the collection itself, or, with
    ``queries_reference`` and ``queries_embedded``, new points searched
    against the collection, as a search engine's queries are: the held-out
    form, where a reducer fitted on the collection is judged on queries it
    has not seen.

    Neighbours are found exactly, in blocks of queries, so memory stays
    O(n_samples) per query block, never O(n_samples^2).

    Parameters
    ----------
    X_reference : array-like of shape (n_samples, n_features)
        The original representation.
    X_embedded : array-like of shape (n_samples, n_components)
        The new representation of the same rows, in the same order.
    n_neighbors : int, default=10
        Neighbours compared per query.
    n_queries : int, default=None
        Number of query rows drawn at random without replacement; None uses
        every row.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance in both spaces.
    random_state : int, RandomState instance or None, default=None
        Draw of the queries.
    queries_reference : array-like of shape (n_new, n_features), default=None
        New query points in the reference representation (given with
        ``queries_embedded``); their neighbours are searched among the rows
        of ``X_reference``. ``n_queries`` then subsamples these.
    queries_embedded : array-like of shape (n_new, n_components), default=None
        The same query points in the new representation.

    Returns
    -------
    recall : float
        Mean fraction of neighbours kept, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.metrics import knn_recall
    >>> X = np.random.RandomState(0).normal(size=(200, 10))
    >>> knn_recall(X, 2 * X, n_neighbors=5)
    1.0
    >>> Q = np.random.RandomState(1).normal(size=(20, 10))
    >>> knn_recall(X, 2 * X, n_neighbors=5, queries_reference=Q, queries_embedded=2 * Q)
    1.0
    """
    X_reference = validate_array(
        X_reference, caller="knn_recall", input_name="X_reference", min_samples=2
    )
    X_embedded = validate_array(
        X_embedded, caller="knn_recall", input_name="X_embedded", min_samples=2
    )
    n_samples = X_reference.shape[0]
    if X_embedded.shape[0] != n_samples:
        raise ValueError(
            f"knn_recall: X_reference has {n_samples} rows but X_embedded has "
            f"{X_embedded.shape[0]}. Pass the two representations of the same rows."
        )
    if n_neighbors >= n_samples:
        raise ValueError(
            f"knn_recall: n_neighbors={n_neighbors} must be smaller than the "
            f"number of rows ({n_samples}). Ask for fewer neighbours."
        )
    if (queries_reference is None) != (queries_embedded is None):
        raise ValueError(
            "knn_recall: pass both queries_reference and queries_embedded (the same new "
            "points in the two representations), or neither."
        )
    held_out = queries_reference is not None
    if held_out:
        queries_reference = validate_array(queries_reference, caller="knn_recall",
                                           input_name="queries_reference")
        queries_embedded = validate_array(queries_embedded, caller="knn_recall",
                                          input_name="queries_embedded")
        for name, queries, space in (("queries_reference", queries_reference, X_reference),
                                     ("queries_embedded", queries_embedded, X_embedded)):
            if queries.shape[1] != space.shape[1]:
                raise ValueError(
                    f"knn_recall: {name} has {queries.shape[1]} columns but the collection "
                    f"it is searched in has {space.shape[1]}. Pass the query points in the "
                    "same representation."
                )
        if len(queries_reference) != len(queries_embedded):
            raise ValueError(
                f"knn_recall: queries_reference has {len(queries_reference)} rows but "
                f"queries_embedded has {len(queries_embedded)}. Pass the same query points "
                "in the two representations."
            )
    n_candidates = len(queries_reference) if held_out else n_samples
    if n_queries is None or n_queries >= n_candidates:
        chosen = np.arange(n_candidates)
    else:
        rng = check_random_state(random_state)
        chosen = np.sort(rng.choice(n_candidates, size=n_queries, replace=False))
    if held_out:
        # New points: searched among all rows, none of which is the query.
        reference_queries, embedded_queries = queries_reference[chosen], queries_embedded[chosen]
    else:
        reference_queries = embedded_queries = chosen

    # Neighbours are the same in any multiple of a representation, and a
    # power of two makes it exactly: in units of one above its largest
    # entry, the squared distances of rows at 1e160 do not overflow, nor
    # those of rows at 1e-200 underflow.
    X_reference, reference_queries = _in_power_of_two_unit(
        X_reference, reference_queries if held_out else None, reference_queries)
    X_embedded, embedded_queries = _in_power_of_two_unit(
        X_embedded, embedded_queries if held_out else None, embedded_queries)
    reference = exact_kneighbors(
        X_reference, n_neighbors, queries=reference_queries, metric=metric,
        return_distance=False,
    )
    embedded = exact_kneighbors(
        X_embedded, n_neighbors, queries=embedded_queries, metric=metric,
        return_distance=False,
    )
    return neighbour_overlap(embedded, reference)


def _in_power_of_two_unit(X, query_points, queries):
    """``X`` and its query points divided by one power of two above their largest entry.

    Exact (only the exponents change) and dtype-preserving; ``queries`` (row
    numbers, or the query points themselves) is returned as the new queries.
    """
    exponent = power_of_two_exponent(X)
    if query_points is not None and np.size(query_points):
        exponent = max(exponent, power_of_two_exponent(query_points))
    if exponent == 0:
        return X, queries
    if query_points is not None:
        queries = np.ldexp(query_points, -exponent)
    return np.ldexp(X, -exponent), queries


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def clustering_accuracy(y_true, y_pred):
    """Accuracy of a clustering under the best matching of clusters to classes.

    Cluster labels are arbitrary, so the clusters are matched one-to-one to
    the classes by the Hungarian algorithm on the contingency table (the
    matching that maximises the number of correctly grouped points), and the
    accuracy of that matching is returned. This is the figure reported by the
    subspace-clustering literature (e.g. Elhamifar & Vidal 2013). Clusters or
    classes left unmatched when their numbers differ count as errors.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    accuracy : float
        In [0, 1].

    Examples
    --------
    >>> from skembed.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1, 2], [1, 1, 0, 0, 0])
    0.8
    """
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if y_true.size == 0:
        raise ValueError("clustering_accuracy: y_true is empty. Pass at least one label.")
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / y_true.size)


def _default_probe(random_state):
    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=random_state)
    )


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "X_test": ["array-like", None],
        "y_test": ["array-like", None],
        "probe": [None, HasMethods(["fit", "score"])],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def linear_probe_accuracy(
    X, y, X_test=None, y_test=None, *, probe=None, cv=5, random_state=0
):
    """Accuracy of a linear classifier that predicts ``y`` from ``X``.

    The standard test of what a representation encodes: a concept is
    linearly present when a linear probe beats the majority-class rate, and
    erased when it cannot. With ``X_test`` and ``y_test`` the probe is fit on
    ``(X, y)`` and scored on the test pair; otherwise the score is the mean
    stratified ``cv``-fold cross-validated accuracy on ``(X, y)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training embeddings.
    y : array-like of shape (n_samples,)
        Class labels.
    X_test : array-like of shape (n_test, n_features), default=None
        Held-out embeddings.
    y_test : array-like of shape (n_test,), default=None
        Held-out labels.
    probe : classifier, default=None
        The probe; by default standardisation followed by
        :class:`~sklearn.linear_model.LogisticRegression`. It is cloned.
    cv : int, default=5
        Folds when no test pair is given.
    random_state : int, RandomState instance or None, default=0
        Shuffling of the folds and the default probe's seed.

    Returns
    -------
    accuracy : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.metrics import linear_probe_accuracy
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> linear_probe_accuracy(X, y) > 0.95
    True
    """
    X = validate_array(X, caller="linear_probe_accuracy", min_samples=2)
    y = column_or_1d(y)
    check_consistent_length(X, y)
    if np.unique(y).size < 2:
        raise ValueError(
            "linear_probe_accuracy: y has 1 class; a probe needs at least 2 classes."
        )
    probe = _default_probe(random_state) if probe is None else clone(probe)
    if (X_test is None) != (y_test is None):
        raise ValueError(
            "linear_probe_accuracy: pass both X_test and y_test, or neither "
            "(then the accuracy is cross-validated)."
        )
    if X_test is None:
        folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
        return float(np.mean(cross_val_score(probe, X, y, cv=folds)))
    X_test = validate_array(X_test, caller="linear_probe_accuracy", input_name="X_test")
    y_test = column_or_1d(y_test)
    check_consistent_length(X_test, y_test)
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(
            f"linear_probe_accuracy: X has {X.shape[1]} features but X_test has "
            f"{X_test.shape[1]}. Pass test data with the same columns."
        )
    return float(probe.fit(X, y).score(X_test, y_test))


# ----------------------------------------------------------------------------
# Guardedness report: the table that scores a concept erasure
# ----------------------------------------------------------------------------

#: The probes of :func:`guardedness_report`, from the weakest family to the
#: most flexible; the table lists them in the order they are asked for.
GUARDEDNESS_PROBES = ("linear", "quadratic", "rbf_svm", "mlp")

#: Probes whose training cost grows faster than linearly in the rows (a
#: kernel machine): they are fit on at most ``max_train_samples`` rows.
_CAPPED_PROBES = frozenset({"rbf_svm"})

#: Shrinkage of the quadratic probe's class covariances towards the identity
#: (the covariance of standardised features).
QUADRATIC_REG_PARAM = 0.1


class _RegularizedQDA(ClassifierMixin, BaseEstimator):
    """Quadratic discriminant analysis, class covariances shrunk to the identity.

    Class k is the Gaussian ``N(mu_k, S_k)`` with
    ``S_k = (1 - reg_param) C_k + reg_param I`` (``C_k`` the class's sample
    covariance), and a point goes to the class of largest
    ``log pi_k - (log det S_k + (x - mu_k)' S_k^-1 (x - mu_k)) / 2`` (``pi_k``
    the class's share of the training rows): the model of scikit-learn's
    ``QuadraticDiscriminantAnalysis(reg_param=...)``. It is written out
    because that class changes across the releases skembed supports, and a
    fixed probe must mean the same thing everywhere: scikit-learn 1.9 divides
    the class covariance by ``n_k`` rather than ``n_k - 1``, and refuses a
    class with no more rows than features, which earlier releases fit while
    ignoring the directions the class does not span. With ``reg_param > 0``
    every ``S_k`` is invertible, whatever the class sizes and whether or not
    the erasure left the data rank-deficient.
    """

    def __init__(self, reg_param=QUADRATIC_REG_PARAM):
        self.reg_param = reg_param

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        self.classes_, codes = np.unique(y, return_inverse=True)
        shrinkage = float(self.reg_param)
        n_features = X.shape[1]
        means, covariances, priors = [], [], []
        for k in range(len(self.classes_)):
            rows = X[codes == k]
            mean = rows.mean(axis=0)
            centred = rows - mean
            covariance = (1 - shrinkage) * (centred.T @ centred) / max(len(rows) - 1, 1)
            covariance[np.diag_indices(n_features)] += shrinkage
            means.append(mean)
            covariances.append(covariance)
            priors.append(len(rows) / len(X))
        self.means_ = np.asarray(means)
        # The Gaussian log-densities are the quadratic eraser's own
        # discriminant: one implementation of QDA in skembed.
        self._discriminant = GaussianDiscriminant.from_covariances(
            self.means_, np.asarray(covariances), priors, unit=1.0
        )
        return self

    def decision_function(self, X):
        """Log posterior of each class."""
        check_is_fitted(self, "means_")
        return self._discriminant.log_posteriors(X)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _guardedness_probe(name, random_state=None):
    """The unfitted probe called ``name`` in :func:`guardedness_report`.

    Each is a :class:`~sklearn.pipeline.Pipeline` that standardises its
    inputs first, so a column's units (erased embeddings can hold columns
    at 1e-33) never decide what a probe finds.

    Parameters
    ----------
    name : {"linear", "quadratic", "rbf_svm", "mlp"}
        The probe.
    random_state : int or None, default=None
        Seed of the probes that draw random numbers (the MLP's initial
        weights and batches; the linear probe's solver is deterministic).

    Returns
    -------
    probe : Pipeline
        A new, unfitted classifier.
    """
    if name == "linear":
        return _default_probe(random_state)
    if name == "quadratic":
        return make_pipeline(StandardScaler(), _RegularizedQDA(reg_param=QUADRATIC_REG_PARAM))
    if name == "rbf_svm":
        return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale"))
    if name == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(256,), batch_size=64, early_stopping=True,
                validation_fraction=0.1, n_iter_no_change=20, max_iter=200,
                random_state=random_state,
            ),
        )
    raise ValueError(
        f"guardedness_report: unknown probe {name!r}; choose from "
        f"{', '.join(GUARDEDNESS_PROBES)}."
    )


def _check_probe_names(probes):
    """The probe names as a tuple, or a ValueError naming the bad one."""
    names = (probes,) if isinstance(probes, str) else tuple(probes)
    if not names:
        raise ValueError(
            "guardedness_report: probes is empty. Name at least one of "
            f"{', '.join(GUARDEDNESS_PROBES)}."
        )
    for name in names:
        if name not in GUARDEDNESS_PROBES:
            raise ValueError(
                f"guardedness_report: unknown probe {name!r}; choose from "
                f"{', '.join(GUARDEDNESS_PROBES)}."
            )
    if len(set(names)) < len(names):
        raise ValueError(
            f"guardedness_report: probes {list(names)} names a probe twice. Name each once."
        )
    return names


def _check_concept(y, n_samples):
    """The concept labels as a 1-D array of one label per row, or a ValueError."""
    try:
        y = column_or_1d(y)
    except ValueError as exc:
        raise ValueError(
            f"guardedness_report: y must hold one label per row ({exc}). Pass a 1-D "
            "array of concept labels."
        ) from exc
    if len(y) != n_samples:
        raise ValueError(
            f"guardedness_report: X_erased has {n_samples} rows but y has {len(y)}. "
            "Pass one concept label per row of X_erased."
        )
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError(
            "guardedness_report: y contains NaN or infinity. Drop the unlabelled rows "
            "(from X_erased, y and X_original alike) first."
        )
    try:
        np.unique(y)
    except TypeError as exc:
        raise ValueError(
            "guardedness_report: y mixes labels of different types (e.g. numbers and "
            "text, or missing values). Pass labels of one type."
        ) from exc
    return y


def _check_class_sizes(y, classes, cv):
    """Refuse, before splitting, a class too small to give 2 training and 2 test rows."""
    needed = 4 if cv is None else 2 * cv
    for label in classes:
        count = int(np.sum(y == label))
        if count < needed:
            where = ("2 for training and 2 for testing" if cv is None else
                     f"2 in each of the cv={cv} test folds")
            raise ValueError(
                f"guardedness_report: class {_plain(label)!r} has {count} "
                f"row{'' if count == 1 else 's'}; every class needs at least {needed} "
                f"({where}). Pass more rows of it, "
                f"{'' if cv is None else 'a smaller cv, '}or drop the class."
            )


def _check_splits(splits, y, classes, probes, cv):
    """Refuse splits in which a class has fewer than 2 training or test rows."""
    fix = "Pass more rows of it, a smaller cv" if cv is not None else (
        "Pass more rows of it, another test_size")
    for train, test in splits:
        for rows, part in ((test, "test"), (train, "training")):
            labels = y[rows]
            for label in classes:
                found = int(np.sum(labels == label))
                if found < 2:
                    raise ValueError(
                        f"guardedness_report: class {_plain(label)!r} has {found} "
                        f"row{'' if found == 1 else 's'} in the {part} rows of a split (of "
                        f"{int(np.sum(y == label))} in all); every class needs at least 2 "
                        f"in both. {fix}, or drop the class."
                    )
    if "mlp" in probes:
        n_train = min(len(train) for train, _ in splits)
        n_validation = int(np.ceil(0.1 * n_train))
        if n_validation < len(classes) or n_train - n_validation < len(classes):
            raise ValueError(
                f"guardedness_report: the mlp probe holds out 10% of its {n_train} training "
                f"rows to stop early, fewer than the {len(classes)} classes. Pass more rows, "
                "or leave 'mlp' out of probes."
            )


def _probe_splits(y, test_size, cv, seed):
    n_samples = len(y)
    if cv is None:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    try:
        with warnings.catch_warnings():
            # StratifiedKFold warns of a class smaller than cv; _check_splits
            # then refuses it with a message that says what to do.
            warnings.simplefilter("ignore", UserWarning)
            return list(splitter.split(np.zeros((n_samples, 1)), y))
    except ValueError as exc:
        problem = str(exc).strip().splitlines()[0]
        raise ValueError(
            f"guardedness_report: cannot split the {n_samples} rows into stratified "
            f"training and test rows ({problem}). Pass more rows of each class, or "
            "another test_size."
        ) from exc


def _stratified_subsample(rows, y, size, random_state):
    """At most about ``size`` of ``rows``, drawn without replacement by class.

    Each class gets its share of ``size`` (largest remainders), and at least
    one row.
    """
    if len(rows) <= size:
        return rows
    rng = check_random_state(random_state)
    classes, codes, counts = np.unique(y[rows], return_inverse=True, return_counts=True)
    quota = counts * (size / len(rows))
    take = np.floor(quota).astype(int)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: size - int(take.sum())]] += 1
    take = np.maximum(take, 1)
    chosen = [rng.choice(rows[codes == k], take[k], replace=False) for k in range(len(classes))]
    return np.sort(np.concatenate(chosen))


def _fit_and_predict(probe, X, y, train, test):
    """Fit ``probe`` on the training rows; its predictions for the test rows, and seconds."""
    start = time.perf_counter()
    # One BLAS thread: the probes' matrix products are small (the MLP's are
    # batches of 64 rows), and a threaded BLAS spends more on synchronising
    # than on the work: 3 MLP epochs on 10,500 x 384 rows took 0.5 s of CPU
    # on one thread and 3.7 s on two (wall 0.8 s and 6 s on a shared 2-core
    # machine, measured). Parallelism comes from n_jobs, probes side by side.
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        # The settings are fixed: a probe that stops at max_iter is part of
        # the protocol, not a problem of the user's data.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Probes see integer codes: scikit-learn 1.6's MLP with early stopping
        # fails on string labels (np.isnan on its validation labels).
        classes, codes = np.unique(y, return_inverse=True)
        probe.fit(X[train], codes[train])
        predicted = classes[probe.predict(X[test])]
    return predicted, time.perf_counter() - start


class _GuardednessReport(Bunch):
    """What :func:`guardedness_report` returns: a Bunch that prints as a table."""

    def records(self):
        """The table's rows with the scalar figures as extra columns.

        Every row also carries ``mean_squared_edit`` and
        ``neighbour_retention`` when ``X_original`` was given: the layout
        ``skembed probe`` writes, ready to stack with other methods' reports.
        """
        scalars = {}
        if self.mean_squared_edit is not None:
            scalars = {"mean_squared_edit": self.mean_squared_edit,
                       "neighbour_retention": self.neighbour_retention}
        return [{**row, **scalars} for row in self.table]

    def to_frame(self):
        """:meth:`records` as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "guardedness_report(...).to_frame() needs pandas: pip install pandas "
                "(the table is also report.table, a list of dicts, and str(report))"
            ) from exc
        return pd.DataFrame(self.records())

    def format(self, digits=3):
        """The report as a text table, figures rounded to ``digits`` decimals."""
        header = ["probe", "accuracy", "balanced accuracy", "train rows", "test rows"]
        cells = [header] + [
            [row["probe"], f"{row['accuracy']:.{digits}f}",
             f"{row['balanced_accuracy']:.{digits}f}", str(row["n_train"]),
             str(row["n_test"])]
            for row in self.table
        ]
        widths = [max(len(line[j]) for line in cells) for j in range(len(header))]
        lines = [self.evaluation]
        for line in cells:
            lines.append("  ".join(
                [line[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(line[1:], widths[1:])]
            ).rstrip())
        if self.mean_squared_edit is None:
            lines.append("mean squared edit, neighbour retention: not measured (pass X_original)")
        else:
            lines.append(f"mean squared edit: {self.mean_squared_edit:.{digits + 1}g}")
            lines.append(f"neighbour retention (recall@{self.n_neighbors} of the original "
                         f"neighbours): {self.neighbour_retention:.{digits}f}")
        return "\n".join(lines)

    def __str__(self):
        return self.format()


@validate_params(
    {
        "X_erased": ["array-like"],
        "y": ["array-like"],
        "X_original": ["array-like", None],
        "probes": [tuple, list, str],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "cv": [Interval(Integral, 2, None, closed="left"), None],
        "max_train_samples": [Interval(Integral, 1, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def guardedness_report(
    X_erased,
    y,
    *,
    X_original=None,
    probes=GUARDEDNESS_PROBES,
    test_size=0.3,
    cv=None,
    max_train_samples=5000,
    n_neighbors=10,
    random_state=0,
    n_jobs=None,
):
    r"""How well a ladder of probes recovers a concept from erased embeddings.

    The table that scores a concept erasure: a concept is
    *guarded* against a family of classifiers when no member of it predicts
    the concept from the erased embeddings better than the best constant,
    the majority rate (Ravfogel et al. 2023, "Log-linear guardedness and its
    implications"). Linear erasure (LEACE, Belrose et al. 2023) guards only
    against linear probes, so the report climbs a ladder of ever more
    flexible ones, with settings fixed so that figures compare across
    methods and data sets:

    ``"linear"``
        Logistic regression (``C=1``, L2 penalty, lbfgs, ``max_iter=2000``):
        the probe of :func:`linear_probe_accuracy`, the one erasure targets.
    ``"quadratic"``
        Quadratic discriminant analysis with each class covariance shrunk to
        the identity, :math:`\Sigma_k = 0.9\, C_k + 0.1\, I`: the Bayes
        classifier of Gaussian classes, so it sees what linear erasure leaves
        by design, differences of class covariances. Chosen over logistic
        regression on degree-2 features, which has :math:`d(d+3)/2` inputs
        (74,000 for 384 columns; cutting them to the top principal components
        would miss a concept carried by low-variance directions). Its cost is
        :math:`O(n d^2)`. The shrinkage makes every class covariance
        invertible, also for a class with fewer rows than columns and for
        rank-deficient erased data; on erased GloVe and MiniLM vectors and
        on synthetic XOR and sphere concepts, accuracies moved by at most
        0.05 between shrinkages of 0.001 and 0.3.
    ``"rbf_svm"``
        ``SVC(kernel="rbf", C=1, gamma="scale")``, scikit-learn's defaults
        (``gamma = 1 / d`` on standardised inputs). Its training cost grows
        as :math:`n^2` to :math:`n^3`, so it is fit on at most
        ``max_train_samples`` training rows drawn at random within each class
        in proportion (fitting 5,000 rows of 384 columns and predicting
        4,500 takes about 15 s on one core).
    ``"mlp"``
        ``MLPClassifier(hidden_layer_sizes=(256,), batch_size=64,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=20,
        max_iter=200)`` (Adam, learning rate 0.001, ``alpha=1e-4``, ReLU): it
        stops when the accuracy on 10% of its training rows has not improved
        for 20 epochs and keeps its best weights. The small batches and long
        patience let it learn nonlinear concepts from a few hundred rows,
        where scikit-learn's defaults stop too early.

    Every probe standardises its inputs first (a
    :class:`~sklearn.preprocessing.StandardScaler` in a pipeline, fitted on
    the training rows), so a column's units never decide what it finds:
    erased embeddings can hold columns at 1e-33. Before that, each column of
    ``X_erased`` is divided by a power of two near its root mean square over
    all rows: exact (only the exponents change) and without effect on what
    a standardising probe computes, but the scaler's squares no longer
    overflow (a column at 1e154 would otherwise get an infinite scale and
    read as erased) or underflow (1e-170). The probes' figures are therefore
    the same, bit for bit, for ``X_erased`` and ``X_erased`` with any column
    multiplied by a power of two, and up to one rounding per entry for any
    other factor. (The mean squared edit and the neighbour retention are
    Euclidean, so they do depend on the columns' units, by definition.)
    Convergence warnings of the probes are silenced: stopping at the fixed
    budget is part of the protocol.

    **Evaluation.** With ``cv=None`` (the default) the rows are split once,
    stratified by class, into training rows and ``test_size`` test rows; all
    probes are fit on the same training rows (the SVM on its subsample) and
    scored on the same test rows. With ``cv=K`` a stratified K-fold
    cross-validation tests every row once, which suits small data (K times
    the cost); the figures are then computed over all the pooled held-out
    predictions. The split depends only on ``y``, ``test_size`` (or ``cv``)
    and ``random_state``, so reports on different erasures of the same rows
    use the same test rows.
    With ``n`` held-out rows and predictions :math:`\hat y_i`:

    .. math::

        \mathrm{accuracy} = \frac{1}{n} \sum_i [\hat y_i = y_i], \qquad
        \mathrm{balanced\ accuracy} = \frac{1}{K} \sum_{k=1}^{K}
        \frac{|\{i : y_i = k,\ \hat y_i = k\}|}{|\{i : y_i = k\}|}.

    The majority rate is the accuracy of always predicting the most frequent
    class of the training rows (its balanced accuracy is :math:`1/K`). With
    4,500 test rows, the standard error of an accuracy near 0.5 is about
    0.0075, so a probe within 0.02 of the majority rate cannot be told from
    it.
    Balanced accuracy is the figure to compare when the classes are
    unequal. An accuracy clearly *below* the majority rate is not better
    erasure: it is what an eraser fitted on the test rows themselves does
    (it over-corrects them), so fit the eraser on other rows than those
    reported on.

    **Cost of the erasure**, when ``X_original`` is given, for rows
    :math:`x_i` and their erased versions :math:`\tilde x_i`:

    .. math::

        \mathrm{mean\ squared\ edit} = \frac{1}{n} \sum_{i=1}^{n}
        \lVert \tilde x_i - x_i \rVert^2, \qquad
        \mathrm{neighbour\ retention} = \frac{1}{n k} \sum_{i=1}^{n}
        \lvert N_k(x_i) \cap N_k(\tilde x_i) \rvert,

    over all ``n`` rows, where :math:`N_k(x_i)` are the ``k = n_neighbors``
    exact Euclidean nearest neighbours of row i among the original rows and
    :math:`N_k(\tilde x_i)` those among the erased rows (the recall@k of
    :func:`knn_recall`): 1 when every neighbourhood survives, about
    ``k / n`` when none does.

    **Time.** On the 15,000 x 384 MiniLM vectors of
    :func:`~skembed.datasets.load_glove_gender` the whole report took 45 s
    on a shared 2-core machine: neighbour retention 21 s, RBF-SVM 14 s, MLP
    9 s, linear and quadratic under 1 s each; on its 15,000 x 50 GloVe
    vectors, 14 s. Each probe runs on one BLAS thread: its matrix products
    are too small to share between threads (the MLP used 7 times the CPU on
    two).

    Parameters
    ----------
    X_erased : array-like of shape (n_samples, n_features)
        The embeddings after erasure.
    y : array-like of shape (n_samples,)
        The erased concept, one label (number or text) per row.
    X_original : array-like of shape (n_samples, n_features), default=None
        The same rows before erasure; gives the mean squared edit and the
        neighbour retention (both None without it).
    probes : sequence of str, default=("linear", "quadratic", "rbf_svm", "mlp")
        The probes to run, listed in this order in the table.
    test_size : float, default=0.3
        Share of the rows held out for testing (ignored with ``cv``).
    cv : int, default=None
        Number of stratified folds; None uses one train/test split.
    max_train_samples : int, default=5000
        Most training rows of the RBF-SVM (per fold with ``cv``), drawn per
        class in proportion, at least one of each; None fits it on all of
        them. The other probes always use every training row.
    n_neighbors : int, default=10
        Neighbours compared per row for the neighbour retention.
    random_state : int, RandomState instance or None, default=0
        Seeds the split, the SVM's subsample and the MLP: the same value
        gives the same report.
    n_jobs : int, default=None
        Probes fitted in parallel (joblib processes); None fits them one
        after the other. On an otherwise idle machine ``n_jobs=2`` runs the
        SVM beside the other probes; on a busy one it gained nothing (58 s
        against 45 s for the MiniLM report above).

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch`
        With keys

        - ``table``: list of dicts, one per row: the ``"majority"`` baseline
          then each probe, with ``probe``, ``accuracy``,
          ``balanced_accuracy``, ``n_train`` (training rows per fit) and
          ``n_test`` (held-out rows scored);
        - ``majority_rate``: float, the majority row's accuracy;
        - ``mean_squared_edit``, ``neighbour_retention``: floats, or None
          without ``X_original``;
        - ``n_neighbors``, ``classes``, ``evaluation`` (the split in words);
        - ``estimators``: dict of the unfitted probes, the exact settings;
        - ``seconds``: dict of the wall time of each probe (fit and predict,
          summed over folds) and of the neighbour retention.

        ``str(report)`` (or ``report.format(digits=3)``) is a text table;
        ``report.records()`` gives the table's rows with the edit and the
        retention added as columns, the layout ``skembed probe`` writes as
        CSV, and ``report.to_frame()`` the same as a pandas DataFrame.

    See Also
    --------
    linear_probe_accuracy : The linear probe alone, cross-validated.
    knn_recall : The neighbour retention of any change of representation.

    Examples
    --------
    Fit the eraser on half of the gendered words of the sample and score it
    on the other half:

    >>> from sklearn.model_selection import train_test_split
    >>> from skembed import LinearConceptEraser
    >>> from skembed.datasets import load_sample_words
    >>> from skembed.metrics import guardedness_report
    >>> words = load_sample_words()
    >>> gendered = words.target < 2
    >>> X, y = words.data[gendered], words.target[gendered]
    >>> X_fit, X_score, y_fit, y_score = train_test_split(
    ...     X, y, test_size=0.5, stratify=y, random_state=0)
    >>> eraser = LinearConceptEraser().fit(X_fit, y_fit)
    >>> report = guardedness_report(eraser.transform(X_score), y_score,
    ...                             X_original=X_score, max_train_samples=300)
    >>> [row["probe"] for row in report.table]
    ['majority', 'linear', 'quadratic', 'rbf_svm', 'mlp']
    >>> accuracy = {row["probe"]: row["accuracy"] for row in report.table}
    >>> accuracy["linear"] < 0.6 < accuracy["quadratic"]  # guarded linearly only
    True
    >>> print(report)  # doctest: +SKIP
    stratified split: 525 training rows, 225 test rows (30%)
    probe      accuracy  balanced accuracy  train rows  test rows
    majority      0.498              0.500         525        225
    linear        0.556              0.556         525        225
    quadratic     0.729              0.729         525        225
    rbf_svm       0.680              0.680         300        225
    mlp           0.720              0.720         525        225
    mean squared edit: 2.688
    neighbour retention (recall@10 of the original neighbours): 0.666
    """
    caller = "guardedness_report"
    probes = _check_probe_names(probes)
    X = validate_array(X_erased, caller=caller, input_name="X_erased", min_samples=2)
    n_samples = X.shape[0]
    y = _check_concept(y, n_samples)
    if X_original is not None:
        X_original = validate_array(X_original, caller=caller, input_name="X_original",
                                    min_samples=2)
        if X_original.shape != X.shape:
            raise ValueError(
                f"guardedness_report: X_erased has shape {X.shape} but X_original has "
                f"shape {X_original.shape}. Pass the same rows and columns before and "
                "after the erasure."
            )
        if n_neighbors >= n_samples:
            raise ValueError(
                f"guardedness_report: n_neighbors={n_neighbors} must be smaller than the "
                f"number of rows ({n_samples}). Ask for fewer neighbours."
            )
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"guardedness_report: y has 1 class ({classes[0]!r}); a probe needs at least "
            "2 classes. Pass the rows of every class of the concept."
        )
    rng = check_random_state(random_state)
    split_seed, subsample_seed, probe_seed = (
        int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=3)
    )
    _check_class_sizes(y, classes, cv)
    splits = _probe_splits(y, test_size, cv, split_seed)
    _check_splits(splits, y, classes, probes, cv)

    # Power-of-two units per column (exact): the probes' scalers then square
    # entries of order 1, whatever the columns' scales.
    X_probed = standardise_columns_by_powers_of_two(X)

    seconds = {}
    edit = retention = None
    if X_original is not None:
        start = time.perf_counter()
        edit = mean_squared_norm(np.asarray(X, dtype=np.float64) - X_original)
        retention = knn_recall(X_original, X, n_neighbors=n_neighbors)
        seconds["neighbour_retention"] = time.perf_counter() - start

    subsample_rng = np.random.RandomState(subsample_seed)
    estimators = {name: _guardedness_probe(name, probe_seed) for name in probes}
    fits = []
    for name in probes:
        for split, (train, test) in enumerate(splits):
            if name in _CAPPED_PROBES and max_train_samples is not None:
                train = _stratified_subsample(train, y, max_train_samples, subsample_rng)
            fits.append((name, split, train))
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_predict)(clone(estimators[name]), X_probed, y, train,
                                  splits[split][1])
        for name, split, train in fits
    )

    y_test = np.concatenate([y[test] for _, test in splits])
    n_test = len(y_test)

    def row(probe, predicted, train_sizes):
        return {
            "probe": probe,
            "accuracy": float(accuracy_score(y_test, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
            "n_train": int(np.mean(train_sizes)),
            "n_test": n_test,
        }

    # The best constant: each split's most frequent training class.
    constants = []
    for train, test in splits:
        present, counts = np.unique(y[train], return_counts=True)
        constants.append(np.full(len(test), present[np.argmax(counts)], dtype=y.dtype))
    table = [row("majority", np.concatenate(constants), [len(train) for train, _ in splits])]
    for name in probes:
        mine = [(train, result) for (other, _, train), result in zip(fits, results)
                if other == name]
        predicted = np.concatenate([predictions for _, (predictions, _) in mine])
        table.append(row(name, predicted, [len(train) for train, _ in mine]))
        seconds[name] = float(sum(elapsed for _, (_, elapsed) in mine))

    if cv is None:
        evaluation = (f"stratified split: {len(splits[0][0])} training rows, {n_test} test "
                      f"rows ({test_size:.0%})")
    else:
        evaluation = f"stratified {cv}-fold cross-validation: each of the {n_samples} rows tested once"
    return _GuardednessReport(
        table=table,
        majority_rate=table[0]["accuracy"],
        mean_squared_edit=edit,
        neighbour_retention=retention,
        n_neighbors=n_neighbors,
        classes=classes,
        evaluation=evaluation,
        estimators=estimators,
        seconds=seconds,
    )
