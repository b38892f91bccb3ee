"""skembed on dask arrays against the same work in memory, and out of core.

Parts (each records its own section in RESULTS.md):

1. ``moments``: LinearConceptEraser (LEACE) fit and transform on an
   N x 256 float32 array that fits in memory (default N = 1,000,000), in
   memory (NumPy, BLAS on every core) and as a dask array of 100,000-row
   chunks (threaded scheduler, one task per core, one BLAS thread per
   task); same run, ratio = dask / NumPy. Then the float64 fit under awkward
   chunkings (uneven, one-row chunks) against the in-memory one: largest
   relative difference of the erasure matrix and of the output.
2. ``out-of-core``: LEACE fit + transform (written to a second zarr store)
   + guard check on a zarr store larger than memory (default 26,000,000 x
   256 float32, 26.6 GB; created on first use), on
   ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``. Reports
   the time of each step, the peak RSS of each worker and of the client,
   the largest covariance between the erased output and the concept
   (one-hot), and how often the fit called ``dask.compute`` and read each
   block of the store.
3. ``leverage``: exact leverage scores and a leverage coreset of an
   N x 50 float64 matrix (default N = 10,000,000): ``SensitivitySampler
   (method="leverage", solver="exact")`` in memory (thin QR) and on a dask
   array of 500,000-row chunks (TSQR R, then row norms); ratio and largest
   score difference. Then the sample drawn under three chunkings (same
   seed: identical indices expected) and ``CoresetEstimator(LinearRegression)``
   on the dask array: excess least-squares objective over the full fit.
4. ``throughput``: rows per second of ``transform`` of each transformer on
   1,000,000 x 64 float32 rows, dask (threaded, 2 tasks, 1 BLAS thread) /
   NumPy (BLAS on every core).
5. ``clusterer``: SubspaceClusterer on ``distributed.LocalCluster(n_workers=2,
   threads_per_worker=1)``. First its per-point solvers (``"ensc"``,
   ``"omp"``, ``n_jobs=2``) on 4,000 x 50 ``make_subspaces`` rows in memory,
   run by joblib's default backend (loky) and inside
   ``joblib.parallel_config(backend="dask")`` (the cluster's workers):
   medians of interleaved repeats, ratio = dask / loky, and whether the labels
   are identical. Then a fit of a dask array of N x 50 ``make_subspaces``
   rows (default N = 200,000, 10 subspaces of dimension 5, 20,000-row
   chunks) with the default ``max_samples`` (10,000 rows clustered, every
   row labelled blockwise by ``predict``): time of the fit (sample gathered
   in one compute + clustering), time of computing ``labels_``, accuracy of
   all labels, and equality with the in-memory fit of the same sample.

Needs the ``dask`` extra (and ``zarr`` for part 2).

Run: ``python benchmarks/dask_arrays.py --part
moments|out-of-core|leverage|throughput|clusterer [--rows N] [--store DIR] [--no-record]``
"""

import argparse
import os

import dask
import dask.array as da
import numpy as np
from _harness import format_table, record, timed
from threadpoolctl import threadpool_limits

from skembed import (
    CoresetEstimator,
    LinearConceptEraser,
    NNPreservingReducer,
    RelativeRepresentation,
    SensitivitySampler,
)
from skembed.relative import LatentTranslator

N_CORES = os.cpu_count() or 2


def concept_rows(n_rows, n_features, seed, dtype=np.float32):
    """Correlated Gaussian rows with a 3-class concept shifting three features."""
    rng = np.random.RandomState(seed)
    mixing = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    labels = rng.randint(3, size=n_rows)
    X = np.empty((n_rows, n_features), dtype=dtype)
    for start in range(0, n_rows, 200_000):
        stop = min(start + 200_000, n_rows)
        block = rng.normal(size=(stop - start, n_features)) @ mixing + 5.0
        block[:, :3] += labels[start:stop, None] * 0.5
        X[start:stop] = block
    return X, labels


def _block_of_concept_rows(block_id, chunk, n_features, seed):
    """Row block ``block_id`` of a lazily generated concept table (deterministic)."""
    rng = np.random.RandomState([seed, block_id])
    mixing = np.random.RandomState(seed).normal(size=(n_features, n_features))
    mixing /= np.sqrt(n_features)
    labels = rng.randint(3, size=chunk)
    block = (rng.normal(size=(chunk, n_features)) @ mixing + 5.0).astype(np.float32)
    block[:, :3] += labels[:, None] * 0.5
    return block, labels


def relative_difference(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def part_moments(n_rows, do_record):
    n_features = 256
    X, y = concept_rows(n_rows, n_features, seed=0)
    lazy = da.from_array(X, chunks=(100_000, n_features))

    def fit_numpy():
        return LinearConceptEraser().fit(X, y)

    def fit_numpy_one_thread():
        with threadpool_limits(1):
            return LinearConceptEraser().fit(X, y)

    def fit_dask():
        with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=N_CORES):
            return LinearConceptEraser().fit(lazy, y)

    rows = []
    for _ in range(3):  # interleaved repeats; the median is kept
        numpy_fit, t_numpy = timed(fit_numpy)
        _, t_numpy_one = timed(fit_numpy_one_thread)
        dask_fit, t_dask = timed(fit_dask)
        rows.append((t_numpy, t_numpy_one, t_dask))
    t_numpy, t_numpy_one, t_dask = np.median(rows, axis=0)

    def transform_numpy():
        return numpy_fit.transform(X)

    def transform_numpy_one_thread():
        with threadpool_limits(1):
            return numpy_fit.transform(X)

    def transform_dask():
        out = np.empty_like(X)
        with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=N_CORES):
            da.store(dask_fit.transform(lazy), out)
        return out

    times = []
    for _ in range(3):
        expected, tn = timed(transform_numpy)
        _, tn_one = timed(transform_numpy_one_thread)
        got, td = timed(transform_dask)
        times.append((tn, tn_one, td))
    tn, tn_one, td = np.median(times, axis=0)
    table = [
        {"step": "fit", "numpy_s": t_numpy, "numpy_1_blas_thread_s": t_numpy_one,
         "dask_s": t_dask, "ratio": t_dask / t_numpy},
        {"step": "transform", "numpy_s": tn, "numpy_1_blas_thread_s": tn_one, "dask_s": td,
         "ratio": td / tn},
    ]
    float32_gap = relative_difference(got, expected)

    # Equality in float64 under awkward chunkings (a smaller table: the
    # one-row chunks make one task per row).
    X64, y64 = concept_rows(20_000, 64, seed=1, dtype=np.float64)
    reference = LinearConceptEraser().fit(X64, y64)
    chunkings = {
        "uneven": ((1, 2, 9_997, 10_000), (64,)),
        "one-row chunks at the start": ((1,) * 200 + (19_800,), (64,)),
        "split columns": ((5_000,) * 4, (32, 32)),
    }
    equality = []
    for name, chunks in chunkings.items():
        lazy64 = da.from_array(X64, chunks=chunks)
        with dask.config.set(scheduler="threads"):
            fitted = LinearConceptEraser().fit(lazy64, y64)
            output = fitted.transform(lazy64).compute()
        equality.append({
            "chunking": name,
            "erasure matrix rel. diff": relative_difference(fitted.projection_,
                                                           reference.projection_),
            "output rel. diff": relative_difference(output, reference.transform(X64)),
        })
    body = (
        f"LEACE on {n_rows:,} x {n_features} float32 in memory: NumPy (BLAS on {N_CORES} "
        "cores, and pinned to one thread) vs a dask array of 100,000-row chunks "
        f"(threaded scheduler, {N_CORES} tasks, "
        "one BLAS thread each); medians of 3 interleaved runs; ratio = dask / NumPy on "
        f"{N_CORES} BLAS threads.\n\n"
        + format_table(table)
        + f"\n\nLargest relative difference of the float32 outputs: {float32_gap:.2e}.\n\n"
        "float64, 20,000 x 64, awkward chunkings against the in-memory fit:\n\n"
        + format_table(equality)
    )
    print(body)
    if do_record:
        record("dask: LEACE in memory vs blockwise (moments)", body)


def _block_labels(block_id, chunk, seed):
    """The labels of ``_block_of_concept_rows`` alone (the first draw of its stream)."""
    return np.random.RandomState([seed, block_id]).randint(3, size=chunk)


def _reset_peak_rss():
    """Restart this process's peak-RSS count (VmHWM) from its current RSS.

    ``ru_maxrss`` cannot be reset (and a spawned worker's starts from its
    parent's RSS), so each step's peak is read from VmHWM after a reset.
    """
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return os.getpid()


def _peak_rss_mb():
    """Peak RSS of this process since the last ``_reset_peak_rss`` (MB), and its pid."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, os.getpid()
    raise RuntimeError("no VmHWM in /proc/self/status")


class _ReadLogged:
    """A zarr array whose every (non-empty) read appends its first row to a log file.

    The reads happen in the worker processes; appending one short line with
    O_APPEND is atomic, so the log counts the block reads of all workers.
    """

    def __init__(self, array, log):
        self.array, self.log = array, log
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, index):
        block = self.array[index]
        if block.size:  # not dask's empty read for the array's meta
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, f"{index[0].start}\n".encode())
            finally:
                os.close(fd)
        return block


def _reads_per_block(log, n_blocks, chunk):
    """How many blocks were read 0, 1, 2, ... times since the log was emptied."""
    with open(log) as handle:
        starts = [int(line) for line in handle]
    counts = np.bincount(np.bincount(np.asarray(starts, dtype=np.int64) // chunk,
                                     minlength=n_blocks))
    open(log, "w").close()
    return {times: int(n) for times, n in enumerate(counts) if n}


def _centred_one_hot_cross(erased_block, label_block, frequencies):
    """This block's sum of erased row x (one-hot label - class frequency)."""
    one_hot = (label_block[:, None] == np.arange(frequencies.size)[None, :]) - frequencies
    return erased_block.astype(np.float64).T @ one_hot


def part_out_of_core(n_rows, store, do_record):
    import distributed
    import zarr

    n_features, chunk = 256, 100_000
    source = os.path.join(store, f"concept_{n_rows}x{n_features}.zarr")
    labels_path = os.path.join(store, f"concept_{n_rows}_labels.npy")
    erased_path = os.path.join(store, "erased.zarr")
    n_blocks = -(-n_rows // chunk)
    sizes = [min(chunk, n_rows - b * chunk) for b in range(n_blocks)]

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="4GB") as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: threadpool_limits(1) and None)
        if not os.path.exists(labels_path):
            def write_store():
                parts = [dask.delayed(_block_of_concept_rows)(b, sizes[b], n_features, 7)[0]
                         for b in range(n_blocks)]
                rows = da.concatenate([
                    da.from_delayed(part, shape=(sizes[b], n_features), dtype=np.float32)
                    for b, part in enumerate(parts)
                ])
                rows.to_zarr(source, overwrite=True)
                labels = np.concatenate([_block_labels(b, sizes[b], 7) for b in range(n_blocks)])
                np.save(labels_path, labels)

            _, write_s = timed(write_store)
            print(f"wrote the store in {write_s:.0f} s")
        labels = np.load(labels_path)
        # Every read of a block of the store is logged (a block-read counter).
        read_log = os.path.join(store, "reads.log")
        open(read_log, "w").close()
        source_array = zarr.open_array(source, mode="r")
        assert source_array.chunks[0] == chunk
        X = da.from_array(_ReadLogged(source_array, read_log), chunks=source_array.chunks,
                          name="store-" + dask.base.tokenize(source, n_rows), asarray=True)
        assert X.shape == (n_rows, n_features)

        peaks, reads = {}, {}

        def start_step():
            client.run(_reset_peak_rss)
            _reset_peak_rss()

        def end_step(step):
            peaks[step] = (client.run(_peak_rss_mb), _peak_rss_mb())
            reads[step] = _reads_per_block(read_log, n_blocks, chunk)

        worker_pids = client.run(os.getpid)
        computes = []
        original = dask.compute

        def counting_compute(*args, **kwargs):
            computes.append(len(args))
            return original(*args, **kwargs)

        start_step()
        dask.compute = counting_compute
        try:
            eraser, fit_s = timed(lambda: LinearConceptEraser().fit(X, labels))
        finally:
            dask.compute = original
        end_step("fit")
        start_step()
        _, transform_s = timed(lambda: eraser.transform(X).to_zarr(erased_path, overwrite=True))
        end_step("transform")

        # Cov(erased, concept) = sum_i erased_i (one_hot_i - class frequencies) / n:
        # centring the one-hot side suffices, so each block is read once and the
        # one-hot columns are built inside each task from int8 labels.
        start_step()
        erased_array = zarr.open_array(erased_path, mode="r")
        erased = da.from_array(_ReadLogged(erased_array, read_log), chunks=erased_array.chunks,
                               name="erased-" + dask.base.tokenize(erased_path, n_rows),
                               asarray=True)
        frequencies = np.bincount(labels, minlength=3) / n_rows
        codes = labels.astype(np.int8)
        bounds = np.concatenate([[0], np.cumsum(erased.chunks[0])])
        cross, guard_s = timed(lambda: sum(dask.compute(*[
            dask.delayed(_centred_one_hot_cross)(block, codes[bounds[b]:bounds[b + 1]],
                                                 frequencies)
            for b, block in enumerate(erased.to_delayed().ravel())
        ])) / n_rows)
        end_step("guard check")
        restarted = client.run(os.getpid) != worker_pids
    table = [
        {"step": "fit (one dask.compute)", "seconds": fit_s},
        {"step": "transform, written to zarr", "seconds": transform_s},
        {"step": "guard check (cross-covariance pass)", "seconds": guard_s},
    ]
    body = (
        f"LEACE on a zarr store of {n_rows:,} x {n_features} float32 "
        f"({n_rows * n_features * 4 / 1e9:.1f} GB, {n_blocks} blocks of {chunk:,} rows) on "
        "LocalCluster(n_workers=2, threads_per_worker=1), one BLAS thread per worker.\n\n"
        + format_table(table)
        + "\n\nPeak RSS (VmHWM, reset before each step) of each worker and of the client "
        f"(it holds the {n_rows:,} labels), and block reads in each step, counted in the "
        "workers (the store's; the erased copy's for the guard check; {times read: number of "
        "blocks}):\n\n"
        + format_table([
            {"step": step,
             "worker peaks MB": ", ".join(f"{mb:.0f}" for mb, _ in worker.values()),
             "client peak MB": client_mb,
             "block reads": str(reads[step])}
            for step, (worker, (client_mb, _)) in peaks.items()
        ])
        + ("\n\nA worker was restarted during the run: its peaks are not the run's.\n"
           if restarted else "\n\n")
        + f"Largest |Cov(erased, concept)|: {np.abs(cross).max():.2e} "
        f"(data scale {float(np.abs(eraser.mean_).max()):.1f}).\n"
        f"dask.compute calls during fit: {len(computes)} (the store has {n_blocks} "
        "blocks).\n"
    )
    print(body)
    if do_record:
        record("dask: LEACE out of core (zarr, LocalCluster)", body)


def part_leverage(n_rows, do_record):
    from sklearn.linear_model import LinearRegression

    n_features = 50
    rng = np.random.RandomState(3)
    X = rng.standard_t(4, size=(n_rows, n_features))
    X[:, 0] *= 1e-6  # a column in other units
    y = X @ rng.normal(size=n_features) + rng.standard_t(3, size=n_rows)
    lazy = da.from_array(X, chunks=(500_000, n_features))
    params = {"method": "leverage", "n_samples": 5_000, "random_state": 0}

    def in_memory():
        return SensitivitySampler(**params, solver="exact").fit(X, y)

    def on_dask():
        with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=N_CORES):
            return SensitivitySampler(**params).fit(lazy, y)

    def bare_qr():
        np.linalg.qr(X)  # not returned: Q (as large as X) would stay alive in the next fits

    times = []
    for _ in range(2):
        _, t_qr = timed(bare_qr)
        reference, t_memory = timed(in_memory)
        fitted, t_dask = timed(on_dask)
        times.append((t_qr, t_memory, t_dask))
    t_qr, t_memory, t_dask = np.median(times, axis=0)
    score_gap = np.abs(fitted.scores_ - reference.scores_)
    same_draw = []
    for chunks in [(100_000, n_features), ((1, n_rows - 1), (n_features,)),
                   ((n_rows // 3, n_rows - n_rows // 3), (25, 25))]:
        with dask.config.set(scheduler="threads"):
            drawn = SensitivitySampler(**params).fit(da.from_array(X, chunks=chunks), y)
        same_draw.append(bool(np.array_equal(drawn.sample_indices_, reference.sample_indices_)))

    full = LinearRegression().fit(X, y)
    full_objective = float(((y - full.predict(X)) ** 2).sum())
    with dask.config.set(scheduler="threads"):
        coreset, t_coreset = timed(lambda: CoresetEstimator(
            LinearRegression(), sampler=SensitivitySampler(**params)).fit(lazy, y))
    excess = float(((y - coreset.estimator_.predict(X)) ** 2).sum()) / full_objective - 1
    table = [
        {"case": "np.linalg.qr (yardstick)", "seconds": t_qr, "ratio to QR": 1.0},
        {"case": "leverage, in memory (thin QR + R's SVD)", "seconds": t_memory,
         "ratio to QR": t_memory / t_qr},
        {"case": "leverage, dask (TSQR R + row norms)", "seconds": t_dask,
         "ratio to QR": t_dask / t_qr},
    ]
    body = (
        f"Exact leverage scores of {n_rows:,} x {n_features} float64 (+ target and intercept "
        f"columns) in 500,000-row chunks; threaded scheduler, {N_CORES} tasks, one BLAS thread "
        "each; in memory with BLAS on every core.\n\n"
        + format_table(table)
        + f"\n\nLargest score difference: {score_gap.max():.2e} "
        f"(largest score {reference.scores_.max():.3e}); relative to each score: "
        f"{float((score_gap / reference.scores_).max()):.2e}.\n"
        f"Same sample indices under 3 other chunkings: {same_draw}.\n"
        f"CoresetEstimator(LinearRegression), m = 5,000 leverage sample of the dask array: "
        f"excess objective {excess:.4%} over the full fit, {t_coreset:.1f} s.\n"
    )
    print(body)
    if do_record:
        record("dask: leverage scores and coreset", body)


def part_throughput(n_rows, do_record):
    n_features = 64
    X, y = concept_rows(n_rows, n_features, seed=5)
    sample = X[:20_000]
    transformers = {
        "LinearConceptEraser": LinearConceptEraser().fit(sample, y[:20_000]),
        "RelativeRepresentation(64, cosine)": RelativeRepresentation(64, random_state=0)
        .fit(sample),
        "NNPreservingReducer(16)": NNPreservingReducer(n_components=16, random_state=0)
        .fit(sample[:5_000]),
        "LatentTranslator": LatentTranslator().fit(sample[:2_000], sample[:2_000, :32]),
    }
    lazy = da.from_array(X, chunks=(100_000, n_features))
    rows = []
    for name, fitted in transformers.items():
        def numpy_run(fitted=fitted):
            return fitted.transform(X)

        def dask_run(fitted=fitted):
            with threadpool_limits(1), dask.config.set(scheduler="threads",
                                                       num_workers=N_CORES):
                return fitted.transform(lazy).compute()

        times = []
        for _ in range(3):
            _, tn = timed(numpy_run)
            _, td = timed(dask_run)
            times.append((tn, td))
        tn, td = np.median(times, axis=0)
        rows.append({"transformer": name, "numpy rows/s": n_rows / tn,
                     "dask rows/s": n_rows / td, "dask / numpy": tn / td})
    body = (
        f"transform of {n_rows:,} x {n_features} float32 rows: NumPy (BLAS on {N_CORES} cores) "
        f"vs dask (100,000-row chunks, threaded, {N_CORES} tasks, one BLAS thread each, "
        "result computed to NumPy); medians of 3 interleaved runs.\n\n"
        + format_table(rows)
    )
    print(body)
    if do_record:
        record("dask: transform throughput", body)


def part_clusterer(n_rows, do_record, repeat=2):
    import distributed
    import joblib

    from skembed import SubspaceClusterer
    from skembed.datasets import make_subspaces
    from skembed.metrics import clustering_accuracy

    load_before = os.getloadavg()[0]
    n_features, n_subspaces = 50, 10
    X, _ = make_subspaces(n_samples=4_000, n_features=n_features, n_subspaces=n_subspaces,
                          subspace_dim=5, noise=0.05, random_state=0)
    solver_rows = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: threadpool_limits(1) and None)
        for method in ("ensc", "omp"):
            params = {"method": method, "random_state": 0, "n_jobs": 2}

            def on_loky(params=params):
                return SubspaceClusterer(n_subspaces, **params).fit(X)

            def on_dask(params=params):
                with joblib.parallel_config(backend="dask"):
                    return SubspaceClusterer(n_subspaces, **params).fit(X)

            times = []
            for _ in range(repeat):  # interleaved; the median is kept
                loky_fit, t_loky = timed(on_loky)
                dask_fit, t_dask = timed(on_dask)
                times.append((t_loky, t_dask))
            t_loky, t_dask = np.median(times, axis=0)
            solver_rows.append({
                "method": method, "loky_s": t_loky, "dask_backend_s": t_dask,
                "dask / loky": t_dask / t_loky,
                "same labels": bool(np.array_equal(loky_fit.labels_, dask_fit.labels_)),
                "same C": bool((loky_fit.representation_matrix_
                                != dask_fit.representation_matrix_).nnz == 0),
            })
            print(solver_rows[-1])

        # A dask array of n_rows: the default max_samples clusters 10,000 of
        # them (read in one compute) and labels all rows blockwise.
        big, truth = make_subspaces(n_samples=n_rows, n_features=n_features,
                                    n_subspaces=n_subspaces, subspace_dim=5, noise=0.05,
                                    random_state=1)
        lazy = da.from_array(big, chunks=(20_000, n_features))
        lazy = client.persist(lazy)  # the table at rest on the workers
        distributed.wait(lazy)

        def fit_dask():
            with joblib.parallel_config(backend="dask"):
                return SubspaceClusterer(n_subspaces, random_state=0, n_jobs=2).fit(lazy)

        fitted, t_fit = timed(fit_dask)
        labels, t_labels = timed(lambda: fitted.labels_.compute())
        n_fit = fitted.sample_indices_.size
        in_memory = SubspaceClusterer(n_subspaces, random_state=0, n_jobs=2,
                                      max_samples=n_fit).fit(big)
        same = bool(np.array_equal(labels, in_memory.labels_))
        sample_accuracy = clustering_accuracy(truth[fitted.sample_indices_],
                                              labels[fitted.sample_indices_])
        sample_rows = [{
            "rows": n_rows, "max_samples": n_fit, "method_": fitted.method_,
            "fit_s (gather + cluster)": t_fit, "labels_.compute() s": t_labels,
            "accuracy, all rows": clustering_accuracy(truth, labels),
            "accuracy, sampled rows": sample_accuracy,
            "same labels as in memory": same,
        }]
        print(sample_rows[-1])
    body = (
        "SubspaceClusterer on distributed.LocalCluster(n_workers=2, threads_per_worker=1), "
        "one BLAS thread per worker.\n\n"
        f"Per-point solvers, n_jobs=2, 4,000 x {n_features} make_subspaces ({n_subspaces} "
        "subspaces of dimension 5, noise 0.05) in memory: joblib's default backend (loky) "
        "vs inside joblib.parallel_config(backend=\"dask\") (the cluster's 2 workers); "
        f"medians of {repeat} interleaved runs; \"same C\": identical representation "
        "matrices.\n\n"
        + format_table(solver_rows)
        + f"\n\nA dask array of {n_rows:,} x {n_features} make_subspaces rows (same "
        "generator, 20,000-row chunks, persisted on the workers), SubspaceClusterer("
        f"{n_subspaces}, random_state=0, n_jobs=2) with the default max_samples under the "
        "joblib dask backend: the sample is gathered in one compute (every block checked "
        "for NaN/inf), clustered in memory, and labels_ is a lazy blockwise predict; "
        "\"same labels as in memory\": the NumPy fit with max_samples=10,000 on the same "
        "rows.\n\n"
        + format_table(sample_rows)
        + f"\n\nLoad average (1 min) of the machine at the start and the end: "
        f"{load_before:.1f}, {os.getloadavg()[0]:.1f} (other jobs share its {N_CORES} cores).\n"
    )
    print(body)
    if do_record:
        record("dask: SubspaceClusterer (joblib dask backend, sample fit + blockwise labels)",
               body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["moments", "out-of-core", "leverage", "throughput",
                                           "clusterer"],
                        required=True)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--store", default=None,
                        help="directory for the zarr stores of the out-of-core part")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    record_it = not args.no_record
    if args.part == "moments":
        part_moments(args.rows or 1_000_000, record_it)
    elif args.part == "out-of-core":
        if args.store is None:
            parser.error("--store DIR is needed (room for the store and its erased copy)")
        part_out_of_core(args.rows or 26_000_000, args.store, record_it)
    elif args.part == "leverage":
        part_leverage(args.rows or 10_000_000, record_it)
    elif args.part == "clusterer":
        part_clusterer(args.rows or 200_000, record_it)
    else:
        part_throughput(args.rows or 1_000_000, record_it)


if __name__ == "__main__":
    main()
