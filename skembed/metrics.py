"""Measures shared by skembed's estimators, tests, demo and benchmarks.

* :func:`knn_recall`: how many of each point's nearest neighbours survive a
  change of representation (dimensionality reduction, quantisation, erasure).
* :func:`clustering_accuracy`: accuracy of a clustering under the best
  one-to-one matching of clusters to classes (Hungarian algorithm).
* :func:`linear_probe_accuracy`: how well a linear classifier recovers a label
  from embeddings (the figure concept erasure must bring to chance).
"""

from numbers import Integral

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.cluster import contingency_matrix
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .base import validate_array
from .utils import exact_kneighbors, neighbour_overlap
from .utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

__all__ = ["knn_recall", "clustering_accuracy", "linear_probe_accuracy"]


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

    reference = exact_kneighbors(
        X_reference, n_neighbors, queries=reference_queries, metric=metric,
        return_distance=False,
    )
    embedded = exact_kneighbors(
        X_embedded, n_neighbors, queries=embedded_queries, metric=metric,
        return_distance=False,
    )
    return neighbour_overlap(embedded, reference)


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
