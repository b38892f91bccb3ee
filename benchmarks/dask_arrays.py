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
6. ``coreset-20m``: ``CoresetEstimator(LinearRegression)`` and
   ``CoresetEstimator(QuantileRegressor(quantile=0.5, alpha=0,
   solver="highs"))`` (LAD), each with its default sampler at n_samples =
   5,000, on a dask array of N x 50 float64 (default N = 20,000,000;
   500,000-row chunks) generated blockwise inside the tasks (heavy-tailed
   rows, never held whole). Times the whole fit (scores, draw, gather of
   the sample, fit on it) against a bare pass over the table, and the
   excess full-data objective: least squares against the exact optimum
   (normal equations in one blockwise pass); LAD against an LP-duality
   lower bound of the optimum built from the generating coefficients'
   residuals (so an upper bound of the excess), and against the best
   objective evaluated.
7. ``client-memory``: LinearConceptEraser (LEACE) fit of a lazily generated
   N x 256 float32 dask array (default N = 26,000,000; 100,000-row chunks,
   made on the workers) with 3-class labels, on
   ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``: y as a
   lazy dask array vs y in memory. Reports the client's and each worker's
   peak RSS, the time and the number of ``dask.compute`` calls of each fit,
   and whether the two fits agree.

Needs the ``dask`` extra (and ``zarr`` for part 2).

Run: ``python benchmarks/dask_arrays.py --part
moments|out-of-core|leverage|throughput|clusterer|coreset-20m|client-memory [--rows N]
[--store DIR] [--no-record]``
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

    class _Sink:
        """A store target that drops each block: what the transform itself costs when
        its blocks go on to a writer (zarr) or a further blockwise step."""

        def __setitem__(self, region, block):
            pass

    def transform_dask_blocks():
        with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=N_CORES):
            da.store(dask_fit.transform(lazy), _Sink(), lock=False)

    # Each run's 1 GB output is dropped before the next run starts, and the
    # order alternates. Holding the outputs of the earlier runs (as this part
    # once did) made the last run of each repeat, dask's, fault its output
    # into memory that had not been used for a while, which a virtual
    # machine that hands freed memory back to its host serves several times
    # slower (up to 2 s of system time per GB here, against 0.1 s for memory
    # freed just before).
    runs = {"numpy": transform_numpy, "numpy_one": transform_numpy_one_thread,
            "dask": transform_dask, "dask_blocks": transform_dask_blocks}
    times = {name: [] for name in runs}
    for repeat in range(3):
        for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
            times[name].append(timed(runs[name])[1])
    tn, tn_one, td, td_blocks = (float(np.median(times[name])) for name in runs)
    expected = transform_numpy()
    got = transform_dask()
    table = [
        {"step": "fit", "numpy_s": t_numpy, "numpy_1_blas_thread_s": t_numpy_one,
         "dask_s": t_dask, "ratio": t_dask / t_numpy},
        {"step": "transform, into a NumPy array", "numpy_s": tn,
         "numpy_1_blas_thread_s": tn_one, "dask_s": td, "ratio": td / tn},
        {"step": "transform, blocks consumed", "numpy_s": tn,
         "numpy_1_blas_thread_s": tn_one, "dask_s": td_blocks, "ratio": td_blocks / tn},
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
        "one BLAS thread each); medians of 3 interleaved runs (transform: each run's "
        "output dropped before the next, order alternating); ratio = dask / NumPy on "
        f"{N_CORES} BLAS threads. The dask transform is timed twice: written by "
        "da.store into a preallocated NumPy array (the whole output in memory, as "
        "NumPy's; each block is made, then copied), and with each block dropped as it "
        "is made (da.store into a target that keeps nothing: the transform's own cost "
        "when its blocks go on to a writer such as zarr, or to a further blockwise "
        "step).\n\n"
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


def _timed_fit_counting_computes(X, y):
    """``LinearConceptEraser().fit(X, y)`` timed, with the number of ``dask.compute``
    calls it made: ``(eraser, seconds, n_computes)``."""
    computes = []
    original = dask.compute

    def counting_compute(*args, **kwargs):
        computes.append(len(args))
        return original(*args, **kwargs)

    dask.compute = counting_compute
    try:
        eraser, seconds = timed(lambda: LinearConceptEraser().fit(X, y))
    finally:
        dask.compute = original
    return eraser, seconds, len(computes)


def _generated_labels_cross(erased_block, block_id, size, frequencies):
    """``_centred_one_hot_cross`` of a block whose labels are generated in the task."""
    return _centred_one_hot_cross(erased_block, _block_labels(block_id, size, 7), frequencies)


def _lazy_block_labels(sizes):
    """The labels of the concept table as a lazy dask array, made in the workers."""
    return da.concatenate([
        da.from_delayed(dask.delayed(_block_labels, pure=True)(b, size, 7), shape=(size,),
                        dtype=np.int64)
        for b, size in enumerate(sizes)
    ])


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
        # The labels stay lazy (a dask array generated block by block in the
        # workers, as a label column stored beside X would be read): the
        # client holds none of the 26 million.
        labels = _lazy_block_labels(sizes)
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
        start_step()
        eraser, fit_s, n_computes = _timed_fit_counting_computes(X, labels)
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
        frequencies = sum(dask.compute(*[
            dask.delayed(np.bincount)(dask.delayed(_block_labels)(b, size, 7), minlength=3)
            for b, size in enumerate(sizes)])) / n_rows
        cross, guard_s = timed(lambda: sum(dask.compute(*[
            dask.delayed(_generated_labels_cross)(block, b, sizes[b], frequencies)
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
        f"(the {n_rows:,} labels are a lazy dask array made in the workers, as a stored "
        "label column would be read: the client holds none), and block reads in each "
        "step, counted in the "
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
        f"dask.compute calls during fit: {n_computes} (the store has {n_blocks} "
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


#: Seed of the coreset-20m table (its rows, noise and coefficients).
CORESET_TABLE_SEED = 11
#: Lewis weights' stopping tolerance in the coreset-20m part (see its text).
LEWIS_TOL = 1e-2
#: Refinement passes of the LAD coreset in the coreset-20m part.
LAD_REFINE = 2


def _heavy_regression_block(block_id, chunk, n_features, seed):
    """Row block ``block_id`` of the coreset-20m table: ``(X_block, y_block)``, deterministic.

    Gaussian rows scaled by Student-t(3) factors (sampling.py's heavy-tailed
    rows: a few rows carry most of the norm), column 0 in other units
    (x 1e-6, as in the leverage part), y = X @ coef + Student-t(3) noise
    (coef: ``_regression_coef``, intercept 0). The noise is symmetric and
    independent of X, so coef is the population optimum of both least
    squares and LAD. SFC64 keeps the generation of a block cheap: every
    pass over the table regenerates it.
    """
    rng = np.random.Generator(np.random.SFC64([seed, block_id]))
    X = rng.standard_normal((chunk, n_features))
    X *= rng.standard_t(3, size=(chunk, 1))
    X[:, 0] *= 1e-6
    y = X @ _regression_coef(n_features, seed) + rng.standard_t(3, size=chunk)
    return X, y


def _regression_coef(n_features, seed):
    return np.random.RandomState(seed).normal(size=n_features)


def _heavy_regression_rows(block_id, chunk, n_features, seed):
    return _heavy_regression_block(block_id, chunk, n_features, seed)[0]


def _with_ones(X):
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _target_and_gram(block_id, chunk, n_features, seed):
    """The block's y and the Gram matrix of its [X, 1, y] (float64)."""
    X, y = _heavy_regression_block(block_id, chunk, n_features, seed)
    design = np.hstack([_with_ones(X), y[:, None]])
    return y, design.T @ design


def _dual_setup(X1, y, coef_true, whiten, h_cap, deltas):
    """Residuals r at coef_true, whitened rows Z, and per delta the box point
    u = clip(r / delta, -1, 1), its correction rows (|r| < delta, leverage <= h_cap)
    and their slack 1 - |u|."""
    r = y - X1 @ coef_true
    Z = X1 @ whiten
    low = np.einsum("ij,ij->i", Z, Z) <= h_cap
    for delta in deltas:
        u = np.clip(r / delta, -1.0, 1.0)
        mask = low & (np.abs(r) < delta)
        yield r, Z, u, mask, 1.0 - np.abs(u[mask])


def _dual_moments(block_id, chunk, n_features, seed, coef_true, whiten, h_cap, deltas):
    """Per delta: Z^T u and Z_D^T S Z_D of the block (LAD dual certificate, pass 1)."""
    X, y = _heavy_regression_block(block_id, chunk, n_features, seed)
    g, M = [], []
    for _, Z, u, mask, slack in _dual_setup(_with_ones(X), y, coef_true, whiten, h_cap,
                                            deltas):
        g.append(Z.T @ u)
        M.append(Z[mask].T @ (Z[mask] * slack[:, None]))
    return np.array(g), np.array(M)


def _objectives_and_dual(block_id, chunk, n_features, seed, coefs, coef_true, whiten, h_cap,
                         deltas, corrections):
    """Sums of squared and absolute residuals of each coefficient column, and the
    corrected dual points' pieces per delta: max |u'|, u'^T r, Z^T u'."""
    X, y = _heavy_regression_block(block_id, chunk, n_features, seed)
    X1 = _with_ones(X)
    residuals = y[:, None] - X1 @ coefs
    squares, absolutes = (residuals ** 2).sum(axis=0), np.abs(residuals).sum(axis=0)
    dual = []
    for (r, Z, u, mask, slack), z in zip(_dual_setup(X1, y, coef_true, whiten, h_cap,
                                                     deltas), corrections):
        u[mask] -= slack * (Z[mask] @ z)
        dual.append((np.abs(u).max(initial=0.0), u @ r, Z.T @ u))
    return squares, absolutes, dual


class _StampedLines:
    """A stdout stand-in that prints through and notes when each line ended."""

    def __init__(self, out):
        import time

        self.out, self.lines, self._partial, self._clock = out, [], "", time.perf_counter

    def write(self, text):
        self.out.write(text)
        now = self._clock()
        *done, self._partial = (self._partial + text).split("\n")
        self.lines.extend((now, line) for line in done)
        return len(text)

    def flush(self):
        self.out.flush()

    def first(self, needle):
        return next(t for t, line in self.lines if needle in line)


def _coreset_fit_in_steps(estimator, lazy, y, sampler, refine):
    """CoresetEstimator(estimator, sampler=sampler, refine=refine) fitted on the dask
    array; the whole fit timed, its steps from the progress lines and a timed gather,
    and a copy of the estimator as fitted on the sample, before the refinement."""
    import contextlib
    import copy
    import sys
    import time
    import warnings

    from sklearn.base import clone

    from skembed.sampling import _coreset

    sampler = clone(sampler).set_params(verbose=2)
    coreset = CoresetEstimator(estimator, sampler=sampler, refine=refine, verbose=2)
    gather, before_refine = {}, {}
    compute, refine_estimator = _coreset.dask_compute, _coreset.refine_estimator

    def timed_gather(*collections):
        gather["start"] = time.perf_counter()
        out = compute(*collections)
        gather["stop"] = time.perf_counter()
        return out

    def kept_refine(fitted, *args, **kwargs):
        before_refine["estimator"] = copy.deepcopy(fitted)
        return refine_estimator(fitted, *args, **kwargs)

    lines = _StampedLines(sys.stdout)
    _coreset.dask_compute, _coreset.refine_estimator = timed_gather, kept_refine
    try:
        with contextlib.redirect_stdout(lines), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            coreset.fit(lazy, y)
            stop = time.perf_counter()
    finally:
        _coreset.dask_compute, _coreset.refine_estimator = compute, refine_estimator
    scored, drawn = lines.first("] scores:"), lines.first("] sample drawn")
    fitted = lines.first("fitted on")
    steps = {
        "scores_s": scored - start,
        "draw_s": drawn - scored,
        "gather_s": gather["stop"] - gather["start"],
        "fit_on_sample_s": fitted - gather["stop"],
        "refine_s": lines.first("refined (") - fitted if refine else 0.0,
        "whole_fit_s": stop - start,
    }
    n_iter = sum("Lewis iteration" in line for _, line in lines.lines)
    reads = next((line for _, line in lines.lines if "passes over the data" in line
                  or "pass over the data" in line), "")
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return (coreset, before_refine.get("estimator", coreset.estimator_), steps, n_iter,
            reads.split("refine: ")[-1].split(" pass")[0], notes)


def _jacobi_cholesky(gram):
    """``(scales, L)`` with diag(scales) gram diag(scales) = L L^T (columns in comparable units)."""
    import scipy.linalg

    scales = 1 / np.sqrt(np.diag(gram))
    return scales, scipy.linalg.cholesky(gram * scales[:, None] * scales, lower=True)


def part_coreset_20m(n_rows, do_record, chunk=500_000, n_samples=5_000,
                     deltas=(0.025, 0.05, 0.1, 0.2, 0.4)):
    import scipy.linalg
    from sklearn.linear_model import LinearRegression, QuantileRegressor

    load_start = os.getloadavg()
    n_features, seed = 50, CORESET_TABLE_SEED
    sizes = [min(chunk, n_rows - start) for start in range(0, n_rows, chunk)]
    lazy = da.concatenate([
        da.from_delayed(dask.delayed(_heavy_regression_rows, pure=True)(b, size, n_features,
                                                                        seed),
                        shape=(size, n_features), dtype=np.float64)
        for b, size in enumerate(sizes)
    ])

    def blockwise(function, *args):
        """``function(b, size, n_features, seed, *args)`` of every block, in one compute."""
        task = dask.delayed(function, pure=True)
        return dask.compute(*[task(b, size, n_features, seed, *args)
                              for b, size in enumerate(sizes)])

    with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=N_CORES):
        # A bare pass (generate every block, sum its columns): the unit of the other times.
        _, bare_s = timed(lambda: dask.compute(lazy.sum(axis=0)))
        print(f"bare pass {bare_s:.1f} s", flush=True)
        # Setup pass: y (into memory, as CoresetEstimator reads a target beside a dask X)
        # and the Gram matrix of [X, 1, y].
        parts, setup_s = timed(lambda: blockwise(_target_and_gram))
        y = np.concatenate([part[0] for part in parts])
        gram = sum(part[1] for part in parts)
        del parts
        print(f"setup pass {setup_s:.1f} s", flush=True)
        fits = {}
        for name, estimator, sampler, refine in [
            ("LinearRegression", LinearRegression(),
             SensitivitySampler(n_samples, method="leverage", p=2, random_state=0), 1),
            ("QuantileRegressor(0.5, alpha=0, highs)",
             QuantileRegressor(quantile=0.5, alpha=0, solver="highs"),
             SensitivitySampler(n_samples, method="lewis", p=1, tol=LEWIS_TOL,
                                random_state=0), LAD_REFINE),
        ]:
            fits[name] = _coreset_fit_in_steps(estimator, lazy, y, sampler, refine)
            print(name, fits[name][2], flush=True)

        # Least-squares optimum from the normal equations (Jacobi-scaled, so
        # the 1e-6 column costs no digits): f* = L[-1, -1]^2 in y's units.
        scales, L = _jacobi_cholesky(gram)
        ls_optimum = float(L[-1, -1] / scales[-1]) ** 2
        coef_ls = scales[:-1] / scales[-1] * scipy.linalg.solve_triangular(
            L[:-1, :-1].T, L[-1, :-1], lower=False)
        # LAD: a lower bound from LP duality. For every u with |u_i| <= 1 and
        # [X, 1]^T u = 0, sum_i u_i y_i <= sum_i |y_i - x_i b - b0| for all (b, b0).
        # u = clip(r / delta, -1, 1), r the residuals at the generating
        # coefficients, corrected by u_i -= (1 - |u_i|) z_i^T c on the rows with
        # |r| < delta and low leverage, c chosen so that the whitened [X, 1]^T u
        # is 0 (inside the box while |z_i^T c| <= 1); then scaled into the box.
        scales_x, L_x = _jacobi_cholesky(gram[:-1, :-1])
        whiten = scales_x[:, None] * scipy.linalg.solve_triangular(
            L_x.T, np.eye(n_features + 1), lower=False)  # Z = [X, 1] @ whiten: Z^T Z = I
        h_cap = 2 * (n_features + 1) / n_rows  # 2 x the mean leverage
        coef_true = np.append(_regression_coef(n_features, seed), 0.0)
        parts, dual_s = timed(lambda: blockwise(_dual_moments, coef_true, whiten, h_cap,
                                                deltas))
        g = sum(part[0] for part in parts)
        M = sum(part[1] for part in parts)
        corrections = [scipy.linalg.lstsq(M[k], g[k])[0] for k in range(len(deltas))]
        models = {"generating coefficients": coef_true, "least-squares optimum": coef_ls}
        for name, (coreset, before, *_) in fits.items():
            models[f"coreset {name}"] = np.append(before.coef_, before.intercept_)
            fitted = coreset.estimator_
            models[f"coreset {name}, refine={coreset.refine}"] = np.append(
                fitted.coef_, fitted.intercept_)
        coefs = np.column_stack(list(models.values()))
        parts, evaluate_s = timed(lambda: blockwise(
            _objectives_and_dual, coefs, coef_true, whiten, h_cap, deltas, corrections))
    squares = dict(zip(models, sum(part[0] for part in parts)))
    absolutes = dict(zip(models, sum(part[1] for part in parts)))
    lad_true = absolutes["generating coefficients"]
    bounds = []
    for k, delta in enumerate(deltas):
        largest = max(part[2][k][0] for part in parts)
        inner = sum(part[2][k][1] for part in parts)
        residual = np.linalg.norm(sum(part[2][k][2] for part in parts))
        scale = max(1.0, largest)
        # sum u_i r_i over the box-scaled u, less what the leftover Z^T u can
        # move it: |e^T (c* - c_true)| <= |e| |Z (c* - c_true)|_1 <= 2 |e| f(coef_true).
        bounds.append({"delta": delta, "max |u'|": largest,
                       "lower bound": (inner - 2 * residual * lad_true) / scale,
                       "|Z^T u'|": residual})
    lad_lower = max(row["lower bound"] for row in bounds)
    lad_upper_name = min(absolutes, key=absolutes.get)
    lad_upper = absolutes[lad_upper_name]
    load_end = os.getloadavg()

    rows = []
    for name, (coreset, _, steps, n_iter, reads, notes) in fits.items():
        sampler = coreset.sampler_
        for refine in (0, coreset.refine):
            coef = f"coreset {name}" + (f", refine={refine}" if refine else "")
            if name == "LinearRegression":
                excess = {"excess objective": squares[coef] / ls_optimum - 1,
                          "against": "exact optimum"}
            else:
                excess = {"excess objective": absolutes[coef] / lad_lower - 1,
                          "against": "dual lower bound",
                          "excess vs best known": absolutes[coef] / lad_upper - 1}
            whole = steps["whole_fit_s"] - (0.0 if refine else steps["refine_s"])
            rows.append({
                "estimator": name,
                "sampler": (f"{sampler.method} p={sampler.p:g}, m={sampler.n_samples:,}"
                            + (f", tol={sampler.tol:g}" if sampler.method == "lewis" else "")),
                "rows drawn": int(sampler.sample_indices_.size),
                "Lewis iterations": n_iter if sampler.method == "lewis" else "",
                "refine": f"{refine} ({reads} reads)" if refine else "0",
                **{key: value for key, value in steps.items() if key != "whole_fit_s"},
                "refine_s": steps["refine_s"] if refine else 0.0,
                "whole fit s": whole,
                "whole fit / bare pass": whole / bare_s,
                **excess,
            })
        for note in notes:
            print(f"{name}: {note}")
    objective_rows = [{"coefficients": name, "sum of squares": squares[name],
                       "/ LS optimum - 1": squares[name] / ls_optimum - 1,
                       "sum of |residuals|": absolutes[name],
                       "/ LAD lower bound - 1": absolutes[name] / lad_lower - 1}
                      for name in models]
    notes = [f"{name}: {note}" for name, (*_, notes) in fits.items() for note in notes]
    body = (
        f"CoresetEstimator on a dask array of {n_rows:,} x {n_features} float64 "
        f"({n_rows * n_features * 8 / 1e9:.1f} GB, {len(sizes)} blocks of {chunk:,} rows) "
        "generated blockwise inside the tasks (never held whole: every pass regenerates "
        "each block): Gaussian rows scaled by Student-t(3) factors, column 0 x 1e-6, y = X "
        "@ coef + Student-t(3) noise; y is in memory (as the coreset reads a continuous "
        f"target beside a dask X). Threaded scheduler, {N_CORES} workers, one BLAS thread "
        f"per task. Each estimator's default sampling method with n_samples = "
        f"{n_samples:,} (random_state=0), the Lewis weights to a relative change of "
        f"tol={LEWIS_TOL:g} (the sampler's default is 1e-6; the weights serve only as "
        "sampling probabilities, and weights within a factor 1 +- tol change the "
        "sample size a guarantee needs by that factor); one fit() per estimator with "
        "refine=1 (least squares: one pass, the exact solution) and "
        f"refine={LAD_REFINE} (LAD), timed once, its steps read from the progress "
        "lines and a timed gather (scores: every pass of the sampler; gather: the one "
        "compute of the sampled rows; fit on sample: the estimator on the gathered rows; "
        "refine: the full-data passes, each one blockwise reduction). The refine=0 rows "
        "are the same fits before their refinement (the model as fitted on the sample, "
        "kept aside; whole fit without refine_s). "
        f"A bare pass (generate every block, sum its columns) took {bare_s:.1f} s: "
        "\"whole fit / bare pass\" is the fit in units of reading the table once.\n\n"
        + format_table(rows)
        + "\n\nExcess objective = full-data objective at the coreset's coefficients / "
        "reference - 1, every objective summed blockwise over all rows. Least squares: "
        "the reference is the exact optimum, from the normal equations accumulated in "
        "one pass in float64 (Jacobi-scaled Cholesky; its coefficients evaluated over all "
        "rows reproduce it, row \"least-squares optimum\" below). LAD: the exact optimum is "
        "an LP over every row (QuantileRegressor(highs) did not finish at a million rows, "
        "see \"SensitivitySampler (payoff)\"), so the excess is against a lower bound of "
        "it, and is therefore an upper bound of the true excess; \"excess vs best known\" "
        "is against the smallest LAD objective evaluated (an upper bound of the optimum), "
        "so a lower bound of the true excess. The lower bound is LP duality: sum u_i y_i "
        "<= sum |y_i - x_i b - b0| for every (b, b0) when |u_i| <= 1 and [X, 1]^T u = 0; "
        "u = clip(r / delta, -1, 1) with r the residuals at the generating coefficients, "
        "corrected by u_i -= (1 - |u_i|) z_i^T c on the rows with |r| < delta and "
        "leverage below 2x the mean (z_i: row i of Z, the whitened [X, 1]; c solves "
        "Z^T u = 0, one more pass), divided by max(1, max |u|), less 2 |Z^T u| "
        "f(generating coefficients) for what the rounding leaves of Z^T u; the best of "
        "these deltas is kept:\n\n"
        + format_table(bounds)
        + f"\n\nLAD: best known objective {lad_upper:.9e} ({lad_upper_name}), lower bound "
        f"{lad_lower:.9e}: the optimum is known within {lad_upper / lad_lower - 1:.2e} "
        "(relative). Full-data objectives of each coefficient vector:\n\n"
        + format_table(objective_rows)
        + f"\n\nReference passes: y and the Gram matrix {setup_s:.1f} s, dual certificate "
        f"{dual_s:.1f} s, objectives {evaluate_s:.1f} s (not part of the fits).\n"
        + (f"Warnings: {'; '.join(notes)}.\n" if notes else "")
        + "Load average (1, 5, 15 min) at the start and the end: "
        f"{', '.join(f'{x:.1f}' for x in load_start)}; "
        f"{', '.join(f'{x:.1f}' for x in load_end)} (other jobs share its {N_CORES} cores).\n"
    )
    print(body)
    if do_record:
        record("dask: CoresetEstimator on a 20,000,000-row table (LS and LAD)", body)


def _generated_labels(block_id, chunk, seed):
    """Labels of row block ``block_id`` of the generated table (3 classes, int64)."""
    return np.random.default_rng([seed, block_id, 0]).integers(3, size=chunk)


def _generated_rows(block_id, chunk, n_features, seed):
    """Row block ``block_id``: float32 Gaussian rows, the first 3 features shifted by the label.

    The labels are drawn again from their own stream (cheap), so the rows
    and the labels are generated by separate tasks and agree.
    """
    labels = _generated_labels(block_id, chunk, seed)
    rng = np.random.default_rng([seed, block_id, 1])
    block = rng.standard_normal((chunk, n_features), dtype=np.float32)
    block += np.float32(5.0)
    block[:, :3] += (labels[:, None] * 0.5).astype(np.float32)
    return block


def _vm_rss_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def part_client_memory(n_rows, do_record):
    """Client and worker peaks of a LEACE fit of a dask X with y in memory vs y lazy."""
    import gc

    import distributed

    n_features, chunk, seed = 256, 100_000, 11
    n_blocks = -(-n_rows // chunk)
    sizes = [min(chunk, n_rows - b * chunk) for b in range(n_blocks)]
    load_before = os.getloadavg()[0]
    # X and y generated lazily on the workers, block by block (nothing at rest).
    X = da.concatenate([
        da.from_delayed(dask.delayed(_generated_rows, pure=True)(b, size, n_features, seed),
                        shape=(size, n_features), dtype=np.float32)
        for b, size in enumerate(sizes)
    ])
    lazy_y = da.concatenate([
        da.from_delayed(dask.delayed(_generated_labels, pure=True)(b, size, seed),
                        shape=(size,), dtype=np.int64)
        for b, size in enumerate(sizes)
    ])
    rows, fits = [], {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="4GB") as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: threadpool_limits(1) and None)
        # Warm up the workers (imports, the first tasks) before either fit is timed.
        LinearConceptEraser().fit(X[:2 * chunk], lazy_y[:2 * chunk])

        def measured_fit(case, y):
            gc.collect()
            before = _vm_rss_mb()
            client.run(_reset_peak_rss)
            _reset_peak_rss()
            eraser, seconds, n_computes = _timed_fit_counting_computes(X, y)
            client_peak, _ = _peak_rss_mb()
            workers = client.run(_peak_rss_mb)
            fits[case] = eraser
            rows.append({
                "y": case, "fit_s": seconds, "client RSS before MB": before,
                "client peak MB": client_peak,
                "worker peaks MB": ", ".join(f"{mb:.0f}" for mb, _ in workers.values()),
                "dask.compute calls": n_computes,
            })
            print(rows[-1])

        # Lazy first: the in-memory labels are made for the second fit only.
        measured_fit("lazy dask array", lazy_y)
        in_memory = np.concatenate([_generated_labels(b, size, seed)
                                    for b, size in enumerate(sizes)])
        measured_fit(f"in memory (NumPy int64, {in_memory.nbytes / 1e6:.0f} MB)", in_memory)
    first, second = fits.values()
    gap = relative_difference(first.projection_, second.projection_)
    same_classes = bool(np.array_equal(first.classes_, second.classes_))
    body = (
        f"LinearConceptEraser().fit (LEACE) of a lazily generated dask X of {n_rows:,} x "
        f"{n_features} float32 ({n_blocks} blocks of {chunk:,} rows, made on the workers) "
        "with 3-class labels y, on LocalCluster(n_workers=2, threads_per_worker=1), one BLAS "
        "thread per worker: y as a lazy dask array (generated beside X) vs y in memory. "
        "Peak RSS = VmHWM, reset before each fit; the client's includes what it held before "
        "(the in-memory labels).\n\n"
        + format_table(rows)
        + f"\n\nThe two fits: largest relative difference of projection_ {gap:.1e}, "
        f"classes_ identical: {same_classes}. With y lazy, the first dask.compute reads y "
        "alone (its classes and checks), the second reads each block of X once with its "
        "block of y. Load average (1 min) at the start and the end: "
        f"{load_before:.1f}, {os.getloadavg()[0]:.1f} ({N_CORES} cores shared with other "
        "jobs).\n"
    )
    print(body)
    if do_record:
        record("dask: client memory of a fit with y lazy vs in memory", body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["moments", "out-of-core", "leverage", "throughput",
                                           "clusterer", "coreset-20m", "client-memory"],
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
    elif args.part == "coreset-20m":
        part_coreset_20m(args.rows or 20_000_000, record_it)
    elif args.part == "client-memory":
        part_client_memory(args.rows or 26_000_000, record_it)
    else:
        part_throughput(args.rows or 1_000_000, record_it)


if __name__ == "__main__":
    main()
