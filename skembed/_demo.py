"""``skembed demo``: every estimator on the word sample shipped with skembed.

Each section is a function of the sample (a :class:`~sklearn.utils.Bunch`
from :func:`skembed.datasets.load_sample_words`) that runs one estimator and
returns the lines it prints; :data:`DEMOS` lists them in the order they run.
Adding an estimator's part of the demo is one function appended to
:data:`DEMOS`.

This module imports every estimator; :mod:`skembed.cli` imports it only when
the demo is asked for, so the other commands stay fast to start.
"""

import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, QuantileRegressor

from . import __version__
from .cluster import SubspaceClusterer
from .datasets import load_sample_words, make_subspaces
from .erasure import DensityMatchingEraser, LinearConceptEraser, NonlinearConceptEraser
from .metrics import (
    clustering_accuracy,
    guardedness_report,
    knn_recall,
    linear_probe_accuracy,
)
from .reduction import NNPreservingReducer
from .relative import RelativeRepresentation
from .sampling import CoresetEstimator, SensitivitySampler
from .utils import all_estimators
from .utils.extmath import mean_squared_norm

#: The demo's sections, run in order. Each takes the word sample (a Bunch)
#: and returns the lines it prints.
DEMOS = []


def _gendered_split(sample):
    """Rows labelled female or male, split alternately into train and test."""
    gendered = np.flatnonzero(sample.target < 2)
    return gendered[::2], gendered[1::2]


def _demo_sample(sample):
    gendered = sample.target < 2
    probe_glove = linear_probe_accuracy(sample.data[gendered], sample.target[gendered])
    probe_minilm = linear_probe_accuracy(sample.minilm[gendered], sample.target[gendered])
    return [
        f"Word sample: {len(sample.words)} words, GloVe {sample.data.shape[1]}-d and "
        f"MiniLM {sample.minilm.shape[1]}-d vectors, "
        f"{int(gendered.sum())} of them labelled female/male.",
        f"  gender is linearly present: a linear probe recovers it with "
        f"{probe_glove:.1%} accuracy from GloVe, {probe_minilm:.1%} from MiniLM "
        "(5-fold CV; chance is 50%).",
    ]


DEMOS.append(_demo_sample)


def _demo_eraser(sample):
    train, test = _gendered_split(sample)
    X, y = sample.data, sample.target
    eraser = LinearConceptEraser().fit(X[train], y[train])
    before = linear_probe_accuracy(X[train], y[train], X[test], y[test])
    after = linear_probe_accuracy(
        eraser.transform(X[train]), y[train], eraser.transform(X[test]), y[test]
    )
    edit = mean_squared_norm(eraser.transform(X[test]) - X[test]) / mean_squared_norm(X[test])
    return [
        "LinearConceptEraser (LEACE) erases gender from GloVe:",
        f"  held-out linear probe accuracy {before:.1%} -> {after:.1%} (chance 50%), "
        f"moving the vectors by {edit:.1%} of their squared norm "
        f"({eraser.rank_} direction removed).",
    ]


DEMOS.append(_demo_eraser)


def _demo_nonlinear_eraser(sample):
    # Every eraser fitted on the train half, probed on the test half; the probes
    # are cross-validated over 3 folds of it so that every test word is scored.
    train, test = _gendered_split(sample)
    X, y = sample.data, sample.target
    reports = {}
    for name, eraser in (("leace", LinearConceptEraser()),
                         ("quadratic", NonlinearConceptEraser(method="quadratic")),
                         ("density", DensityMatchingEraser(n_components=0.8,
                                                           random_state=0))):
        erased = eraser.fit(X[train], y[train]).transform(X[test])
        report = guardedness_report(erased, y[test], X_original=X[test],
                                    probes=("quadratic", "mlp"), cv=3, random_state=0)
        reports[name] = report
    accuracy = {name: {row["probe"]: row["accuracy"] for row in report.table}
                for name, report in reports.items()}
    leace, quadratic, density = accuracy["leace"], accuracy["quadratic"], accuracy["density"]
    return [
        "NonlinearConceptEraser (quadratic, label-free) erases more of gender from GloVe "
        "than LEACE, against nonlinear probes:",
        f"  held-out MLP probe accuracy {leace['mlp']:.1%} after LEACE -> "
        f"{quadratic['mlp']:.1%}, quadratic (QDA) probe {leace['quadratic']:.1%} -> "
        f"{quadratic['quadratic']:.1%} (majority {quadratic['majority']:.1%}), keeping "
        f"{reports['leace'].neighbour_retention:.1%} -> "
        f"{reports['quadratic'].neighbour_retention:.1%} of each word's 10 nearest "
        "neighbours (guardedness_report, 3-fold).",
        f"  DensityMatchingEraser (LEOPARD, n_components=0.8): MLP "
        f"{density['mlp']:.1%}, quadratic {density['quadratic']:.1%}, keeping "
        f"{reports['density'].neighbour_retention:.1%}: 50-d vectors pay for every "
        "direction dropped.",
    ]


DEMOS.append(_demo_nonlinear_eraser)


def _demo_reducer(sample):
    X = sample.minilm
    n_components = 16
    reducer = NNPreservingReducer(n_components, metric="cosine", max_iter=4, random_state=0)
    ours = knn_recall(X, reducer.fit_transform(X), n_neighbors=10)
    pca = knn_recall(X, PCA(n_components).fit_transform(X), n_neighbors=10)
    return [
        f"NNPreservingReducer shrinks MiniLM from {X.shape[1]} to {n_components} dimensions:",
        f"  recall@10 of the nearest neighbours {ours:.1%}, against {pca:.1%} for PCA.",
    ]


DEMOS.append(_demo_reducer)


def _demo_relative(sample):
    train, test = _gendered_split(sample)
    y = sample.target
    glove = RelativeRepresentation(300, normalize="standard", random_state=0).fit(sample.data)
    minilm = RelativeRepresentation(anchors=glove.anchor_indices_, normalize="standard")
    R_glove = glove.transform(sample.data)
    R_minilm = minilm.fit(sample.minilm).transform(sample.minilm)
    stitched = LogisticRegression(max_iter=2000).fit(R_glove[train], y[train])
    within = LogisticRegression(max_iter=2000).fit(R_minilm[train], y[train])
    return [
        "RelativeRepresentation stitches a gender classifier from GloVe to MiniLM:",
        f"  trained on GloVe, tested on MiniLM: {stitched.score(R_minilm[test], y[test]):.1%}, "
        f"against {within.score(R_minilm[test], y[test]):.1%} trained within MiniLM "
        "(300 parallel anchors, no training across the two).",
    ]


DEMOS.append(_demo_relative)


def _demo_sampler(sample):
    # Least absolute deviations: MiniLM's first principal coordinate from GloVe.
    X = sample.data.astype(np.float64)
    centred = sample.minilm - sample.minilm.mean(axis=0)
    y = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
    lad = QuantileRegressor(quantile=0.5, alpha=0, solver="highs")
    optimum = np.abs(y - lad.fit(X, y).predict(X)).sum()

    def ratio(method, refine, seed):
        sampler = SensitivitySampler(300, p=1, method=method, random_state=seed)
        model = CoresetEstimator(lad, sampler=sampler, refine=refine).fit(X, y)
        return np.abs(y - model.predict(X)).sum() / optimum

    fits = {
        (method, refine): np.median([ratio(method, refine, seed) for seed in range(3)])
        for method, refine in (("lewis", 0), ("uniform", 0), ("lewis", 20))
    }
    return [
        "SensitivitySampler + CoresetEstimator fit least absolute deviations (MiniLM's "
        f"first principal coordinate from GloVe) on 300 of {len(X)} rows:",
        f"  full-data objective {fits['lewis', 0]:.3f}x the optimum with Lewis weights "
        f"({fits['uniform', 0]:.3f}x uniform), {fits['lewis', 20]:.4f}x after 20 IRLS "
        "passes over all rows (refine=20); median of 3 draws.",
    ]


DEMOS.append(_demo_sampler)


def _demo_clusterer(sample):
    # The word sample holds no union of subspaces to find, so the demo draws one.
    n_samples = 1000
    X, y = make_subspaces(n_samples=n_samples, n_features=50, n_subspaces=10, subspace_dim=5,
                          noise=0.05, random_state=0)
    start = time.perf_counter()
    model = SubspaceClusterer(n_clusters=10, random_state=0)
    labels = model.fit_predict(X)
    seconds = time.perf_counter() - start
    kmeans = KMeans(10, n_init=10, random_state=0).fit_predict(X)
    chosen = f"{model.method_}, {model.affinity_} affinity"
    return [
        f"SubspaceClusterer (default: label-free choice, here {chosen}) on {n_samples:,} "
        "points near 10 random 5-dim subspaces of R^50 (drawn by make_subspaces):",
        f"  accuracy {clustering_accuracy(y, labels):.1%} in {seconds:.1f} s, "
        f"against {clustering_accuracy(y, kmeans):.1%} for k-means.",
    ]


DEMOS.append(_demo_clusterer)


def run_demo():
    """Print every section of :data:`DEMOS`, run on the shipped word sample."""
    sample = load_sample_words()
    print(f"skembed {__version__} demo")
    print()
    for section in DEMOS:
        for line in section(sample):
            print(line)
        print()
    names = ", ".join(name for name, _ in all_estimators())
    print(f"Estimators in this release: {names}.")
    print("Run `skembed --help` for the command of each.")
