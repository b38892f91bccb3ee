"""SensitivitySampler and CoresetEstimator against uniform sampling and the full fit.

1. ``lad``: least absolute deviations on real embeddings. X = GloVe 6B-50d
   vectors of the 100,000 most frequent words (plus the intercept the model
   fits), y = log(1 + frequency rank). Full fit:
   ``QuantileRegressor(quantile=0.5, alpha=0, solver="highs")``. For m in
   {500, 1000, 2000, 5000} and each method, the full-data objective at the
   coreset solution divided by the optimum (median and max over the seeds),
   and the coreset path's time (scores + median coreset fit) against the full
   fit; then ``refine`` = 5, 10, 20 IRLS passes on the Lewis coreset (also
   alone: ``--part refine``).
2. ``coherent``: a design where uniform sampling breaks: Student-t rows
   (3 degrees of freedom) plus three rare binary features (5 rows each) with
   large coefficients; the same table, with the sensitivity and hybrid
   scores too (they solve one LP per row, so n is 10,000 here).
3. ``ls``: least squares (p = 2) on the GloVe data with leverage scores
   (exact and sketched), Lewis (= leverage at p = 2) and uniform.
4. ``speed``: scores of a 1,000,000 x 50 Gaussian matrix with heavy-tailed
   row norms: sketched and exact leverage scores, Lewis weights (p = 1,
   tol 1e-6), and a bare ``np.linalg.qr`` of the same matrix as the yardstick
   (same run; ratio = time / QR time).

Scores are computed once per method (their time is reported); the seeds
re-draw the sample from the same probabilities (Bernoulli scheme), so the
spread over seeds is the sampling noise. Needs the ``bench`` extra (GloVe)
for parts 1 and 3.

Run: ``python benchmarks/sampling.py [--part lad|refine|coherent|ls|speed|all] [--seeds 15] [--n-words 100000] [--no-record]``
"""

import argparse

import numpy as np
from _harness import compare, format_table, record, timed
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, QuantileRegressor

from skembed.sampling import (
    CoresetEstimator,
    SensitivitySampler,
    bernoulli_sample,
    exact_leverage_scores,
    lewis_weights,
    sketched_leverage_scores,
)

SIZES = (500, 1000, 2000, 5000)


def lad_model():
    return QuantileRegressor(quantile=0.5, alpha=0, solver="highs")


def lad_objective(model, X, y):
    return float(np.abs(y - model.predict(X)).sum())


def ls_objective(model, X, y):
    return float(((y - model.predict(X)) ** 2).sum())


def glove_regression(n_words=100_000):
    from skembed.datasets import load_word_embeddings

    glove = load_word_embeddings("glove", n_words=n_words)
    X = glove.data.astype(np.float64)
    y = np.log1p(np.arange(1, len(X) + 1, dtype=np.float64))  # rows are in frequency order
    return X, y


def coherent_regression(n=10_000, d=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_t(3, size=(n, d))
    rare = np.zeros((n, 3))
    for j in range(3):
        rare[rng.choice(n, 5, replace=False), j] = 1.0
    X = np.hstack([X, rare])
    coef = np.concatenate([rng.standard_normal(d), [200.0, -300.0, 250.0]])
    y = X @ coef + rng.laplace(size=n)
    return X, y


def coreset_table(X, y, model, objective, methods, p, seeds, sizes, full_seconds, optimum):
    """Rows: method x m, objective ratio median/max over seeds, times."""
    rows = []
    for name, params in methods.items():
        sampler, score_seconds = timed(
            lambda params=params: SensitivitySampler(p=p, random_state=0, **params).fit(X, y)
        )
        q = sampler.probabilities_
        for m in sizes:
            ratios, fit_times, sizes_drawn = [], [], []
            for seed in range(seeds):
                indices, weights, _ = bernoulli_sample(q, m, np.random.RandomState(seed))
                fitted, seconds = timed(
                    lambda rows=indices, weights=weights: clone(model).fit(
                        X[rows], y[rows], sample_weight=weights
                    )
                )
                fit_times.append(seconds)
                ratios.append(objective(fitted, X, y) / optimum)
                sizes_drawn.append(len(indices))
            path = score_seconds + float(np.median(fit_times))
            rows.append({
                "method": name, "m": m, "rows_drawn": int(np.median(sizes_drawn)),
                "ratio_median": float(np.median(ratios)), "ratio_max": float(np.max(ratios)),
                "scores_s": score_seconds, "coreset_fit_s": float(np.median(fit_times)),
                "speedup_vs_full": full_seconds / path,
            })
            print(rows[-1], flush=True)
    return rows


def refine_table(X, y, seeds, full_seconds, optimum, passes_list=(5, 10, 20)):
    """IRLS passes over all rows, warm-started at the Lewis coreset solution (full path timed)."""
    rows = []
    for m in (1000, 2000):
        for passes in passes_list:
            ratios, times = [], []
            for seed in range(min(seeds, 5)):
                sampler = SensitivitySampler(m, p=1, random_state=seed)
                coreset, seconds = timed(
                    lambda sampler=sampler, passes=passes: CoresetEstimator(
                        lad_model(), sampler=sampler, refine=passes
                    ).fit(X, y)
                )
                times.append(seconds)
                ratios.append(lad_objective(coreset, X, y) / optimum)
            rows.append({
                "method": f"lewis + refine={passes}", "m": m,
                "ratio_median": float(np.median(ratios)), "ratio_max": float(np.max(ratios)),
                "path_s": float(np.median(times)),
                "speedup_vs_full": full_seconds / float(np.median(times)),
            })
            print(rows[-1], flush=True)
    return rows


def time_full_fit(model, objective, X, y):
    """Fit ``model`` on all rows: (seconds, full-data objective at its solution)."""
    fitted, seconds = timed(lambda: model.fit(X, y))
    return seconds, objective(fitted, X, y)


def refine_part(seeds, n_words):
    X, y = glove_regression(n_words)
    full_seconds, optimum = time_full_fit(lad_model(), lad_objective, X, y)
    rows = refine_table(X, y, seeds, full_seconds, optimum)
    return (
        f"LAD on GloVe 6B-50d, {n_words:,} most frequent words: CoresetEstimator(refine=k) "
        f"(Lewis p=1 coreset, then k IRLS passes over all rows); full fit {full_seconds:.1f} s; "
        f"{min(seeds, 5)} seeds; speedup = full fit / whole coreset path.\n\n"
        + format_table(rows)
    )


def lad_part(seeds, n_words=100_000):
    X, y = glove_regression(n_words)
    full_seconds, optimum = time_full_fit(lad_model(), lad_objective, X, y)
    print(f"full LAD fit {full_seconds:.1f} s, objective {optimum:.6g}", flush=True)
    methods = {"uniform": dict(method="uniform"), "lewis": dict(method="lewis"),
               "leverage": dict(method="leverage"), "root_leverage": dict(method="root_leverage")}
    rows = coreset_table(X, y, lad_model(), lad_objective, methods, 1.0, seeds, SIZES,
                         full_seconds, optimum)
    refine_rows = refine_table(X, y, seeds, full_seconds, optimum)
    return (
        f"LAD on GloVe 6B-50d, {n_words:,} most frequent words x 50 (+ intercept), y = log(1 + rank). "
        f"Full QuantileRegressor(highs): {full_seconds:.1f} s. Objective ratio = full-data "
        f"objective at the coreset solution / optimum, over {seeds} seeds (Bernoulli draws from "
        "scores computed once); speedup = full fit time / (scores + median coreset fit).\n\n"
        + format_table(rows)
        + f"\n\nRefinement (full CoresetEstimator path, {min(seeds, 5)} seeds):\n\n"
        + format_table(refine_rows)
    )


def coherent_part(seeds):
    X, y = coherent_regression()
    full_seconds, optimum = time_full_fit(lad_model(), lad_objective, X, y)
    methods = {"uniform": dict(method="uniform"), "lewis": dict(method="lewis"),
               "sensitivity": dict(method="sensitivity"),
               "hybrid": dict(method="hybrid"),
               "root_leverage": dict(method="root_leverage")}
    rows = coreset_table(X, y, lad_model(), lad_objective, methods, 1.0, seeds, (500, 1000, 2000),
                         full_seconds, optimum)
    return (
        f"LAD on a coherent design: 10,000 Student-t(3) rows x 10 plus 3 rare binary features "
        f"(5 rows each, coefficients 200, -300, 250), Laplace noise. Full fit {full_seconds:.1f} s; "
        f"{seeds} seeds. Sensitivities: one LP per row against a 200-row Lewis embedding.\n\n"
        + format_table(rows)
    )


def ls_part(seeds, n_words=100_000):
    X, y = glove_regression(n_words)
    full_seconds, optimum = time_full_fit(LinearRegression(), ls_objective, X, y)
    methods = {"uniform": dict(method="uniform"),
               "leverage (exact)": dict(method="leverage", solver="exact"),
               "leverage (sketch)": dict(method="leverage", solver="sketch"),
               "lewis p=2": dict(method="lewis")}
    rows = coreset_table(X, y, LinearRegression(), ls_objective, methods, 2.0, seeds, SIZES,
                         full_seconds, optimum)
    return (
        f"Least squares on the same GloVe data (p = 2). Full LinearRegression {full_seconds:.2f} s "
        f"(faster than any coreset path: least squares on 100k x 51 is one cheap solve); "
        f"{seeds} seeds.\n\n" + format_table(rows)
    )


def speed_part(n=1_000_000, d=50):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, d)) * rng.standard_t(3, size=(n, 1))
    cases = {
        "np.linalg.qr (reference)": lambda: np.linalg.qr(X),
        "leverage, sketched": lambda: sketched_leverage_scores(X, np.random.RandomState(0)),
        "leverage, exact (QR)": lambda: exact_leverage_scores(X),
        "Lewis p=1 (tol 1e-6)": lambda: lewis_weights(X, 1.0, tol=1e-6),
    }
    rows = compare(cases, baseline="np.linalg.qr (reference)", warmup=0, repeat=2)
    _, n_iter = lewis_weights(X, 1.0, tol=1e-6)
    return (
        f"Scores of a {n:,} x {d} matrix (Gaussian rows scaled by Student-t(3)); median of 2 "
        f"interleaved repeats; ratio = time / bare np.linalg.qr in the same run. Lewis ran "
        f"{n_iter} iterations. Goals: sketched leverage <= 2 s, Lewis weights <= 15 s on "
        "2 cores.\n\n" + format_table(rows, ["case", "median_s", "min_s", "ratio"])
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all", choices=["lad", "refine", "coherent", "ls", "speed", "all"])
    parser.add_argument("--seeds", type=int, default=15)
    parser.add_argument("--n-words", type=int, default=100_000,
                        help="GloVe rows for the lad and ls parts")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    parts = {"speed": lambda: speed_part(), "coherent": lambda: coherent_part(args.seeds),
             "ls": lambda: ls_part(args.seeds, args.n_words),
             "lad": lambda: lad_part(args.seeds, args.n_words),
             "refine": lambda: refine_part(args.seeds, args.n_words)}
    for name, run in parts.items():
        if args.part not in (name, "all"):
            continue
        body = run()
        print(body)
        if not args.no_record:
            record(f"SensitivitySampler ({name})", body)


if __name__ == "__main__":
    main()
