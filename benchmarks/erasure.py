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

Needs the ``bench`` extra (GloVe, MiniLM with torch, concept-erasure).

Run: ``HF_HUB_OFFLINE=1 python benchmarks/erasure.py [--part glove|anchor|all] [--no-record]``
"""

import argparse
import functools

import numpy as np
from _harness import compare, format_table, record, timed
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skembed import LinearConceptEraser
from skembed.datasets import load_glove_gender

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["glove", "anchor", "all"], default="all")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    sections = []
    if args.part in ("glove", "all"):
        sections.append(glove_part())
    if args.part in ("anchor", "all"):
        sections.append(anchor_part())
    body = "\n\n".join(sections)
    print(body)
    if not args.no_record:
        record(f"LinearConceptEraser ({args.part})", body)


if __name__ == "__main__":
    main()
