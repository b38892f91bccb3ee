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
5. ``payoff``: ``CoresetEstimator()`` with its default sampler against the
   full in-memory fit, side by side on 1,000,000 x 50 heavy-tailed rows
   (Gaussian rows scaled by Student-t(3)): least squares
   (``LinearRegression``, a target with a quadratic misspecification and
   Student-t noise), logistic regression (``LogisticRegression``, labels
   drawn from a logistic model of a misspecified score) and LAD
   (``QuantileRegressor(highs)``, at ``--lad-rows`` rows: the full LP does
   not finish at a million). Per seed (the coreset's ``random_state``):
   full-fit seconds, coreset seconds (the whole ``fit``), their ratio and
   the excess objective (the full-data objective at the coreset model over
   the full model's), full and coreset timed alternately (the LAD full fit
   once).
6. ``crossover``: the same two paths' seconds against the number of rows
   (10,000 to 1,000,000) for least squares (``LinearRegression``, and
   ``Ridge``, whose full fit solves the normal equations) and logistic
   regression, and the
   row count where the coreset starts to be faster (log-linear
   interpolation): the data of the crossover plot and of
   ``skembed.sampling._coreset.CROSSOVER_ROWS``.

BLAS runs on ``--blas-threads`` threads (threadpoolctl) on both sides of
each comparison: default 1 for the payoff and crossover parts (a shared
2-core machine makes a threaded BLAS's small calls erratic), the library's
default for the others unless the option is given.

Scores are computed once per method (their time is reported); the seeds
re-draw the sample from the same probabilities (Bernoulli scheme), so the
spread over seeds is the sampling noise. Needs the ``bench`` extra (GloVe)
for parts 1 and 3.

Run: ``python benchmarks/sampling.py [--part lad|refine|coherent|ls|speed|payoff|crossover|all] [--seeds 15] [--n-words 100000] [--blas-threads 1] [--no-record]``
"""

import argparse
import warnings

import numpy as np
from _harness import compare, format_table, record, timed
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    QuantileRegressor,
    Ridge,
)
from threadpoolctl import threadpool_limits

from skembed.sampling import (
    CoresetEstimator,
    CoresetSpeedWarning,
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


def heavy_tailed_rows(n, d, rng):
    """Gaussian rows scaled by Student-t(3) factors: a few rows carry most of the norm."""
    return rng.standard_normal((n, d)) * rng.standard_t(3, size=(n, 1))


def payoff_problem(kind, n, d=50, seed=0):
    """``(X, y)`` of the payoff cases: least squares, logistic or LAD on heavy-tailed rows.

    The targets are misspecified (a quadratic term no linear model fits) and
    noisy, so that no row is irrelevant to the fit.
    """
    rng = np.random.RandomState(seed)
    X = heavy_tailed_rows(n, d, rng)
    coef = rng.standard_normal(d)
    score = X @ coef / np.sqrt(d)
    bend = 0.1 * (X[:, 0] ** 2 - np.mean(X[:, 0] ** 2))  # the misspecification
    if kind == "logistic":
        return X, (rng.uniform(size=n) < expit(score + bend)).astype(np.int64)
    noise = rng.laplace(size=n) if kind == "LAD" else rng.standard_t(3, size=n)
    return X, score + bend + noise


def logistic_objective(model, X, y):
    """What LogisticRegression(C) minimises: C * sum of log-losses + ||w||^2 / 2."""
    z = X @ model.coef_.ravel() + model.intercept_[0]
    t = (y == model.classes_[1]).astype(np.float64)
    w = model.coef_.ravel()
    return float(model.C * np.sum(np.logaddexp(0, z) - t * z) + 0.5 * w @ w)


PAYOFF_CASES = {
    "least squares": (LinearRegression, ls_objective),
    "ridge": (Ridge, ls_objective),
    "logistic": (LogisticRegression, logistic_objective),
    "LAD": (lad_model, lad_objective),
}


def payoff_rows(kind, n, seeds):
    """Per seed: full and coreset seconds (timed alternately), ratio, excess objective."""
    make, objective = PAYOFF_CASES[kind]
    X, y = payoff_problem(kind, n)
    rows = []
    # The LAD LP takes minutes: fitted once, the seeds re-draw the coreset.
    once = timed(lambda: make().fit(X, y)) if kind == "LAD" else None
    for seed in range(seeds):
        # Timed alternately: a slow moment of the shared machine hits both.
        full, full_s = once or timed(lambda: make().fit(X, y))
        coreset, coreset_s = timed(
            lambda seed=seed: CoresetEstimator(make(), random_state=seed).fit(X, y))
        sampler = coreset.sampler_
        rows.append({
            "case": kind, "n": n, "seed": seed,
            "sampler": f"{sampler.method} p={sampler.p:g}, m={sampler.n_samples}",
            "rows_drawn": int(sampler.sample_indices_.size),
            "full_s": full_s, "coreset_s": coreset_s, "speedup": full_s / coreset_s,
            "excess_objective": objective(coreset.estimator_, X, y) / objective(full, X, y),
        })
        print(rows[-1], flush=True)
    return rows


def payoff_part(seeds, lad_rows):
    n = 1_000_000
    rows = payoff_rows("least squares", n, seeds) + payoff_rows("logistic", n, seeds)
    if lad_rows > 0:
        rows += payoff_rows("LAD", lad_rows, seeds)
    summary = []
    for kind in ("least squares", "logistic", "LAD"):
        mine = [row for row in rows if row["case"] == kind]
        if not mine:
            continue
        summary.append({
            "case": kind, "n": mine[0]["n"], "sampler": mine[0]["sampler"],
            "full_s (median)": float(np.median([r["full_s"] for r in mine])),
            "coreset_s (median)": float(np.median([r["coreset_s"] for r in mine])),
            "speedup (min)": float(min(r["speedup"] for r in mine)),
            "speedup (median)": float(np.median([r["speedup"] for r in mine])),
            "excess (max)": float(max(r["excess_objective"] for r in mine)),
        })
    lad = (f"{lad_rows:,} x 50 for LAD (QuantileRegressor(highs): the full LP does not finish "
           "at a million rows)" if lad_rows > 0 else "LAD not run (--lad-rows 0)")
    return (
        f"CoresetEstimator(estimator) with its default sampler against estimator.fit on all "
        f"rows: {n:,} x 50 heavy-tailed rows (Gaussian rows scaled by Student-t(3)) for least "
        f"squares and logistic regression, {lad}. {seeds} seeds (the coreset's "
        "random_state); full and coreset fits timed alternately, whole fit() each; excess = "
        "full-data objective at the coreset model / at the full model (logistic: C * log-loss "
        "sum + ||w||^2 / 2). Goal: speedup >= 5 at excess <= 1.01 for least squares and "
        "logistic, >= 50 for LAD.\n\n"
        + format_table(summary) + "\n\nPer seed:\n\n" + format_table(rows)
    )


def crossover_at(rows):
    """Rows where the coreset becomes faster (speedup 1), interpolated in log n; None if never."""
    for before, after in zip(rows, rows[1:]):
        if before["speedup"] < 1 <= after["speedup"]:
            t = np.log(before["speedup"]) / (np.log(before["speedup"]) - np.log(after["speedup"]))
            return int(round(np.exp(np.log(before["n"]) + t * (np.log(after["n"]) - np.log(before["n"])))))
    return rows[0]["n"] if rows and rows[0]["speedup"] >= 1 else None


def crossover_part(sizes=(10_000, 30_000, 100_000, 300_000, 1_000_000)):
    tables, crossings = [], []
    for kind in ("least squares", "ridge", "logistic"):
        make, _ = PAYOFF_CASES[kind]
        rows = []
        for n in sizes:
            X, y = payoff_problem(kind, n)
            repeat = 3 if n <= 300_000 else 2
            times = compare({
                "full": lambda X=X, y=y: make().fit(X, y),
                "coreset": lambda X=X, y=y: CoresetEstimator(make(), random_state=0).fit(X, y),
            }, warmup=1, repeat=repeat)
            full_s, coreset_s = (next(r["median_s"] for r in times if r["case"] == c)
                                 for c in ("full", "coreset"))
            rows.append({"case": kind, "n": n, "full_s": full_s, "coreset_s": coreset_s,
                         "speedup": full_s / coreset_s})
            print(rows[-1], flush=True)
        tables.extend(rows)
        crossings.append({"case": kind, "crossover_rows": crossover_at(rows),
                          "speedup_at_largest": rows[-1]["speedup"]})
    return (
        "Seconds of estimator.fit on all rows and of CoresetEstimator(estimator).fit (default "
        "sampler) against the rows n, 50 heavy-tailed columns (the payoff part's data); median "
        "of 3 interleaved repeats (2 at 1,000,000) after a warm-up. crossover_rows: where the "
        "coreset starts to be faster, interpolated in log n between the sizes that bracket it "
        "(the data of the guide's crossover plot and of CROSSOVER_ROWS in "
        "skembed/sampling/_coreset.py).\n\n"
        + format_table(crossings) + "\n\n" + format_table(tables)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all", choices=["lad", "refine", "coherent", "ls", "speed",
                                                          "payoff", "crossover", "all"])
    parser.add_argument("--seeds", type=int, default=15)
    parser.add_argument("--n-words", type=int, default=100_000,
                        help="GloVe rows for the lad and ls parts")
    parser.add_argument("--lad-rows", type=int, default=30_000,
                        help="rows of the LAD payoff case (its full fit is an LP; 0 skips it)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads, both sides of each comparison (default: 1 for "
                             "payoff and crossover, unpinned for the others)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    # The payoff seeds default to 3: each least-squares seed refits the full model.
    payoff_seeds = 3 if args.seeds == parser.get_default("seeds") else args.seeds
    parts = {"speed": lambda: speed_part(), "coherent": lambda: coherent_part(args.seeds),
             "payoff": lambda: payoff_part(payoff_seeds, args.lad_rows),
             "crossover": lambda: crossover_part(),
             "ls": lambda: ls_part(args.seeds, args.n_words),
             "lad": lambda: lad_part(args.seeds, args.n_words),
             "refine": lambda: refine_part(args.seeds, args.n_words)}
    for name, run in parts.items():
        if args.part not in (name, "all"):
            continue
        threads = args.blas_threads
        if threads is None and name in ("payoff", "crossover"):
            threads = 1
        with warnings.catch_warnings(), threadpool_limits(threads):
            # The crossover part fits below the crossover on purpose.
            warnings.simplefilter("ignore", CoresetSpeedWarning)
            body = run()
        if threads is not None:
            body += f"\n\nBLAS threads: {threads} (threadpoolctl), both sides."
        print(body)
        if not args.no_record:
            record(f"SensitivitySampler ({name})", body)


if __name__ == "__main__":
    main()
