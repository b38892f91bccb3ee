"""RelativeRepresentation and LatentTranslator across two encoders.

Data: GloVe 6B-50d and all-MiniLM-L6-v2 (384-d) on the same 20,000 most
frequent words (``load_word_embeddings``); anchors are parallel row indices
(chosen in GloVe, reused in MiniLM).

1. Cross-space retrieval: for 2,000 query words (fixed draw), rank all 20,000
   words of the other space by the cosine of their relative representations
   (GloVe query -> MiniLM words); mean reciprocal rank (MRR) of the same word,
   top-1 accuracy, and the mean Jaccard overlap of each query's 5 nearest
   neighbours in the GloVe and in the MiniLM relative space. Grid: 50, 300
   and 1,000 anchors; every similarity at 300 random anchors, and k-means and
   farthest-point anchors with cosine, Euclidean and their product.
   Then the ideas tried for the stretch goal (MRR >= 0.30 at 300 anchors),
   each reported, helpful or not. CSLS (Conneau et al. 2018, "Word
   translation without parallel data") is implemented here as a retrieval
   baseline: ``2 cos(x, y) - r_T(x) - r_S(y)``, r = mean cosine to the 10
   nearest cross-space neighbours (r_S estimated on 5,000 random queries).
   Self-learning (Artetxe et al. 2017/2018, VecMap) is implemented here too:
   refit the orthogonal map on the anchors plus the mutual CSLS nearest
   neighbours among the 10,000 most frequent words, a few rounds.
2. Zero-shot stitching on ``load_glove_gender``: a LogisticRegression trained
   on the GloVe relative representations of the train split, tested on the
   MiniLM relative representations of the test split, against training and
   testing within MiniLM.
3. Throughput of ``transform`` against a bare matrix product of the same
   shapes (20,000 x 384 by 384 x 300), same run.

Needs the ``bench`` extra (GloVe; MiniLM with torch, or its cached vectors).

Run: ``HF_HUB_OFFLINE=1 python benchmarks/relative.py [--part retrieval|stitching|throughput|all] [--no-record]``
"""

import argparse

import numpy as np
import scipy.sparse as sp
from _harness import compare, format_table, record, timed
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skembed.datasets import load_glove_gender, load_word_embeddings
from skembed.relative import LatentTranslator, RelativeRepresentation
from skembed.utils import exact_kneighbors
from skembed.utils.extmath import normalize_rows

N_WORDS, N_QUERIES, CSLS_K = 20_000, 2_000, 10


def unit(A):
    return normalize_rows(A.toarray() if sp.issparse(A) else np.asarray(A, dtype=np.float64))


def hubness(queries, base, k=CSLS_K, sample=5_000, seed=1):
    """r_S(y): mean cosine of each base row to its k nearest of a query sample."""
    rows = np.random.RandomState(seed).choice(len(queries), min(sample, len(queries)), replace=False)
    probe = queries[rows]
    out = np.empty(len(base))
    for start in range(0, len(base), 2_000):
        block = probe @ base[start:start + 2_000].T
        out[start:start + 2_000] = np.sort(block, axis=0)[-k:].mean(axis=0)
    return out


def retrieval_scores(R_query, R_base, queries, csls=False):
    """MRR and top-1 of the same word, GloVe queries ranking every MiniLM word."""
    Q, B = unit(R_query), unit(R_base)
    base_hub = hubness(Q, B) if csls else None
    reciprocal, top1 = [], []
    for start in range(0, len(queries), 500):
        rows = queries[start:start + 500]
        S = Q[rows] @ B.T
        if csls:
            S = 2 * S - np.sort(S, axis=1)[:, -CSLS_K:].mean(axis=1)[:, None] - base_hub[None, :]
        true = S[np.arange(len(rows)), rows]
        rank = 1 + (S > true[:, None]).sum(axis=1)
        reciprocal.append(1.0 / rank)
        top1.append(rank == 1)
    return float(np.mean(np.concatenate(reciprocal))), float(np.mean(np.concatenate(top1)))


def jaccard5(R_a, R_b, queries):
    a = exact_kneighbors(unit(R_a), 5, queries=queries, return_distance=False)
    b = exact_kneighbors(unit(R_b), 5, queries=queries, return_distance=False)
    shared = (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(shared / (10 - shared)))


def relative_pair(glove, minilm, n_anchors, strategy, **params):
    source = RelativeRepresentation(n_anchors, anchors=strategy, random_state=0, **params).fit(glove)
    target = RelativeRepresentation(anchors=source.anchor_indices_, **params).fit(minilm)
    return source.transform(glove), target.transform(minilm), source.anchor_indices_


def self_learning(glove, minilm, anchors, rounds=3, vocabulary=10_000):
    """Orthogonal map MiniLM -> GloVe refitted on anchors + mutual CSLS neighbours."""
    pairs_g, pairs_m = anchors, anchors
    for _ in range(rounds):
        translator = LatentTranslator().fit(minilm[pairs_m], glove[pairs_g])
        G, M = unit(glove[:vocabulary]), unit(translator.transform(minilm[:vocabulary]))
        S = G @ M.T
        S = 2 * S - np.sort(S, axis=1)[:, -CSLS_K:].mean(axis=1)[:, None] \
            - np.sort(S, axis=0)[-CSLS_K:].mean(axis=0)[None, :]
        forward, backward = S.argmax(axis=1), S.argmax(axis=0)
        mutual = np.flatnonzero(backward[forward] == np.arange(vocabulary))
        pairs_g = np.concatenate([anchors, mutual])
        pairs_m = np.concatenate([anchors, forward[mutual]])
    return LatentTranslator().fit(minilm[pairs_m], glove[pairs_g]), len(mutual)


def retrieval_part(quick=False):
    glove = load_word_embeddings("glove", N_WORDS).data.astype(np.float64)
    minilm = load_word_embeddings("minilm", N_WORDS).data.astype(np.float64)
    queries = np.sort(np.random.RandomState(0).choice(N_WORDS, N_QUERIES, replace=False))

    def row(label, R_g, R_m, **extra):
        mrr, top1 = retrieval_scores(R_g, R_m, queries)
        result = {"case": label, "MRR": mrr, "top1": top1,
                  "jaccard5": jaccard5(R_g, R_m, queries), **extra}
        print(result, flush=True)
        return result

    grid = []
    similarities = {"cosine": "cosine", "euclidean": "euclidean", "l1": "l1", "linf": "linf",
                    "basis": "basis", "cos+euc (PoI)": ["cosine", "euclidean"],
                    "cos+euc+l1+linf (PoI)": ["cosine", "euclidean", "l1", "linf"]}
    for n_anchors in (50, 300, 1000):
        strategies = ("random", "kmeans", "fps") if n_anchors == 300 and not quick else ("random",)
        for strategy in strategies:
            for name, similarity in similarities.items():
                if n_anchors != 300 and name not in ("cosine", "cos+euc (PoI)"):
                    continue
                if strategy != "random" and name not in ("cosine", "euclidean", "cos+euc (PoI)"):
                    continue  # keeps the run under ~20 minutes on 2 shared cores
                (R_g, R_m, _), seconds = timed(
                    lambda n_anchors=n_anchors, strategy=strategy, similarity=similarity:
                    relative_pair(glove, minilm, n_anchors, strategy, similarity=similarity)
                )
                grid.append(row(f"{n_anchors} {strategy} {name}", R_g, R_m, transform_s=seconds))

    # Ideas toward MRR >= 0.30 at 300 random anchors.
    ideas = []
    anchors = RelativeRepresentation(300, random_state=0).fit(glove).anchor_indices_
    for label, params in {
        "seed paper (cosine, centred)": {},
        "whiten": {"whiten": True},
        "whiten + shrinkage": {"whiten": True, "shrinkage": True},
        "top_k=30": {"top_k": 30},
        "normalize=standard": {"normalize": "standard"},
        "PoI cos+euc + standard": {"similarity": ["cosine", "euclidean"], "normalize": "standard"},
        "basis (change of basis)": {"similarity": "basis"},
    }.items():
        R_g, R_m, _ = relative_pair(glove, minilm, 300, "random", **params)
        mrr, top1 = retrieval_scores(R_g, R_m, queries)
        mrr_c, top1_c = retrieval_scores(R_g, R_m, queries, csls=True)
        ideas.append({"idea": label, "MRR": mrr, "top1": top1, "MRR CSLS": mrr_c, "top1 CSLS": top1_c})
        print(ideas[-1], flush=True)

    def translated(label, R_g, R_m):
        mrr, top1 = retrieval_scores(R_g, R_m, queries)
        mrr_c, top1_c = retrieval_scores(R_g, R_m, queries, csls=True)
        ideas.append({"idea": label, "MRR": mrr, "top1": top1, "MRR CSLS": mrr_c, "top1 CSLS": top1_c})
        print(ideas[-1], flush=True)

    for method in ("orthogonal", "linear"):
        to_minilm = LatentTranslator(method).fit(glove[anchors], minilm[anchors])
        translated(f"LatentTranslator {method} GloVe->MiniLM", to_minilm.transform(glove), minilm)
        to_glove = LatentTranslator(method).fit(minilm[anchors], glove[anchors])
        translated(f"LatentTranslator {method} MiniLM->GloVe", glove, to_glove.transform(minilm))
    to_minilm = LatentTranslator("linear").fit(glove[anchors], minilm[anchors]).transform(glove)
    rel = RelativeRepresentation(anchors=anchors).fit(minilm)
    translated("relative repr. of linearly translated GloVe", rel.transform(to_minilm),
               rel.transform(minilm))
    white_g = RelativeRepresentation(anchors=anchors, whiten=True, shrinkage=True).fit(glove)
    white_m = RelativeRepresentation(anchors=anchors, whiten=True, shrinkage=True).fit(minilm)
    wg = (glove - white_g.center_) @ white_g.whitening_
    wm = (minilm - white_m.center_) @ white_m.whitening_
    to_glove = LatentTranslator().fit(wm[anchors], wg[anchors])
    translated("Procrustes on whitened spaces MiniLM->GloVe", wg, to_glove.transform(wm))
    refined, n_mutual = self_learning(glove, minilm, anchors)
    translated(f"self-learning Procrustes MiniLM->GloVe (3 rounds, {n_mutual} mutual pairs)",
               glove, refined.transform(minilm))
    for n_anchors in (50, 1000):
        more = RelativeRepresentation(n_anchors, random_state=0).fit(glove).anchor_indices_
        to_glove = LatentTranslator().fit(minilm[more], glove[more])
        translated(f"LatentTranslator orthogonal MiniLM->GloVe, {n_anchors} anchors",
                   glove, to_glove.transform(minilm))

    return (
        f"Cross-space retrieval, GloVe 6B-50d -> all-MiniLM-L6-v2, {N_WORDS:,} words, "
        f"{N_QUERIES:,} GloVe queries ranking every MiniLM word by the cosine of the "
        "relative representations; anchors parallel (chosen in GloVe with "
        "random_state=0, reused in MiniLM); jaccard5 = mean Jaccard of the 5 nearest "
        "neighbours in the two relative spaces; transform_s covers fitting and "
        "transforming both spaces:\n\n"
        + format_table(grid)
        + "\n\nIdeas toward MRR >= 0.30 at 300 random anchors (same queries; CSLS "
        "columns re-rank with cross-domain similarity local scaling, k=10):\n\n"
        + format_table(ideas)
    )


def stitching_part():
    gender = load_glove_gender(minilm=True)
    glove = gender.data.astype(np.float64)
    minilm = gender.minilm.astype(np.float64)
    train, test, y = gender.train_indices, gender.test_indices, gender.target

    def classifier():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    rows = []
    within_raw = classifier().fit(minilm[train], y[train]).score(minilm[test], y[test])
    for n_anchors in (300, 1000):
        anchors = np.sort(np.random.RandomState(0).choice(len(train), n_anchors, replace=False))
        for label, params in {
            "cosine, centred (seed paper)": {},
            "whiten": {"whiten": True},
            "whiten + shrinkage": {"whiten": True, "shrinkage": True},
            "normalize=standard": {"normalize": "standard"},
            "PoI cos+euc": {"similarity": ["cosine", "euclidean"]},
        }.items():
            source = RelativeRepresentation(anchors=anchors, **params).fit(glove[train])
            target = RelativeRepresentation(anchors=anchors, **params).fit(minilm[train])
            stitched = classifier().fit(source.transform(glove[train]), y[train])
            within = classifier().fit(target.transform(minilm[train]), y[train])
            R_test = target.transform(minilm[test])
            stitched_acc = stitched.score(R_test, y[test])
            within_acc = within.score(R_test, y[test])
            rows.append({"anchors": n_anchors, "case": label, "stitched": stitched_acc,
                         "within MiniLM": within_acc, "ratio": stitched_acc / within_acc,
                         "within MiniLM raw vectors": within_raw})
            print(rows[-1], flush=True)
        # Translation route: MiniLM test vectors sent into GloVe, GloVe classifier.
        translator = LatentTranslator().fit(minilm[train][anchors], glove[train][anchors])
        glove_clf = classifier().fit(glove[train], y[train])
        acc = glove_clf.score(translator.transform(minilm[test]), y[test])
        rows.append({"anchors": n_anchors, "case": "LatentTranslator MiniLM->GloVe + GloVe classifier",
                     "stitched": acc, "within MiniLM": within_raw, "ratio": acc / within_raw,
                     "within MiniLM raw vectors": within_raw})
        print(rows[-1], flush=True)
    return (
        "Zero-shot stitching on the GloVe gender words (7,350 train / 4,500 test): "
        "LogisticRegression (standardised) trained on GloVe relative representations of "
        "the train split, tested on the MiniLM relative representations of the test "
        "split; 'within MiniLM' trains on MiniLM's; anchors drawn from the train split "
        "(random_state=0), parallel in both spaces; ratio = stitched / within (goal "
        ">= 0.90):\n\n" + format_table(rows)
    )


def throughput_part():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N_WORDS, 384))
    rows = []
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        models = {
            name: RelativeRepresentation(300, random_state=0, **params).fit(Xd)
            for name, params in {
                "cosine": {}, "euclidean": {"similarity": "euclidean"},
                "basis": {"similarity": "basis"}, "whiten cosine": {"whiten": True},
                "l1": {"similarity": "l1"},
            }.items()
        }
        anchors_t = np.ascontiguousarray(models["cosine"].anchors_.T.astype(dtype))
        cases = {"bare X @ A.T": lambda Xd=Xd, anchors_t=anchors_t: Xd @ anchors_t}
        cases.update({f"transform {name}": (lambda m=m, Xd=Xd: m.transform(Xd))
                      for name, m in models.items()})
        result = compare(cases, baseline="bare X @ A.T", repeat=3)
        for r in result:
            rows.append({"dtype": np.dtype(dtype).name, **r})
        print(result, flush=True)
    return (
        f"transform throughput, {N_WORDS:,} x 384 random rows, 300 anchors, against a bare "
        "matrix product of the same shapes (ratio = our median / the product's, 3 "
        "interleaved repeats; the machine is shared, so absolute times are pessimistic):\n\n"
        + format_table(rows, ["dtype", "case", "median_s", "ratio"])
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["retrieval", "stitching", "throughput", "all"],
                        default="all")
    parser.add_argument("--quick", action="store_true", help="random anchors only in the grid")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    parts = {
        "retrieval": ("RelativeRepresentation: cross-space retrieval GloVe -> MiniLM",
                      lambda: retrieval_part(args.quick)),
        "stitching": ("RelativeRepresentation: zero-shot stitching GloVe -> MiniLM (gender)",
                      stitching_part),
        "throughput": ("RelativeRepresentation: transform throughput", throughput_part),
    }
    for name, (title, run) in parts.items():
        if args.part not in (name, "all"):
            continue
        body = run()
        print(body)
        if not args.no_record:
            record(title, body)


if __name__ == "__main__":
    main()
