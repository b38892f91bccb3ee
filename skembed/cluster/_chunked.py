"""Per-point solvers run over chunks of points, in parallel, into one sparse matrix.

The per-point methods (``"ensc"``, ``"omp"``, with or without candidates)
express each point independently of the others, so the points are cut into
chunks; each chunk is one call of the method's chunk solver (one block product
against the dictionary per round instead of one per point), the chunks run
through :class:`sklearn.utils.parallel.Parallel` (so ``n_jobs`` and a joblib
backend such as dask apply), and their rows are assembled into one CSR matrix.
Memory stays O(chunk x dictionary) per worker plus O(n ``n_nonzero``) for the
result.

A chunk solver is called as ``solve(X, rows, **per_row_slices, **options)``
and returns ``(counts, indices, values, n_iter, *extras)``: the number of
coefficients of each row of ``rows``, their columns and values concatenated
in row order (the CSR layout), the iterations the chunk needed, and anything
else the caller collects.
"""

import numpy as np
from joblib import effective_n_jobs
from scipy import sparse
from sklearn.utils.parallel import Parallel, delayed

#: Most rows in one chunk, however small the rows.
MAX_CHUNK_ROWS = 1024
#: Chunks per worker when ``n_jobs > 1``, so that unequal chunks balance out.
CHUNKS_PER_WORKER = 4
#: Workers assumed for a negative ``n_jobs`` when sizing chunks.
WORKERS_FOR_NEGATIVE_N_JOBS = 8
#: Steps of a dense iterative solver (SSC's ADMM, LRR's ALM) per progress line
#: at level 2: its chunks, since it has no chunks of points (one step of
#: several thousand points takes seconds; a line per step would flood).
STEPS_PER_PROGRESS_LINE = 10


def chunk_rows(n_samples, *, floats_per_row, max_floats, n_jobs=None):
    """Consecutive chunks of ``range(n_samples)``.

    Parameters
    ----------
    n_samples : int
        Rows to cut.
    floats_per_row : int
        Floats one row adds to the chunk's largest block.
    max_floats : int
        Most floats in that block (at most :data:`MAX_CHUNK_ROWS` rows).
    n_jobs : int or None, default=None
        With more than one worker, chunks are made small enough for each
        worker to get several.

    Returns
    -------
    chunks : list of ndarray of int
    """
    size = max(1, min(MAX_CHUNK_ROWS, max_floats // max(floats_per_row, 1)))
    workers = 1 if n_jobs is None else (n_jobs if n_jobs > 0 else WORKERS_FOR_NEGATIVE_N_JOBS)
    if workers > 1:
        size = max(1, min(size, -(-n_samples // (CHUNKS_PER_WORKER * workers))))
    return [np.arange(start, min(start + size, n_samples)) for start in range(0, n_samples, size)]


def run_in_chunks(solve_chunk, X, *, floats_per_row, max_floats, n_jobs=None, progress=None,
                  per_row=None, **options):
    """Run a chunk solver over all rows of ``X`` and assemble its rows.

    Parameters
    ----------
    solve_chunk : callable
        ``solve_chunk(X, rows, **per_row_slices, **options)`` returning
        ``(counts, indices, values, n_iter, *extras)`` (see the module
        docstring).
    X : ndarray of shape (n_samples, n_features)
        The points; row j of the result expresses point j.
    floats_per_row, max_floats : int
        Chunk size, as in :func:`chunk_rows`.
    n_jobs : int or None, default=None
        Parallel jobs (joblib semantics).
    progress : skembed.utils._progress.ProgressLog, optional
        From its level 2 on, one line per chunk when the chunks run one
        after the other, joblib's own messages when several workers run them.
    per_row : dict of str to ndarray, optional
        Arrays with one entry per point; each chunk gets its rows' slice under
        the same keyword.
    **options
        Passed to every chunk as they are.

    Returns
    -------
    C : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The coefficients, explicit zeros removed.
    n_iter : int
        The largest iteration count of any chunk.
    extras : list of tuple
        What each chunk returned after its iteration count, in chunk order.
    """
    n_samples = X.shape[0]
    per_row = per_row or {}
    chunks = chunk_rows(n_samples, floats_per_row=floats_per_row, max_floats=max_floats,
                        n_jobs=n_jobs)
    jobs = (
        delayed(solve_chunk)(X, rows, **{key: value[rows] for key, value in per_row.items()},
                             **options)
        for rows in chunks
    )
    # The helper decides from which level chunks are reported.
    report = progress is not None and progress.joblib_verbose() > 0
    if report and effective_n_jobs(n_jobs) == 1:
        # One worker runs the chunks in order: each is reported, as it ends,
        # in the shared format (taken one by one from joblib's generator).
        results = []
        for done, result in enumerate(Parallel(n_jobs=n_jobs, return_as="generator")(jobs),
                                      start=1):
            results.append(result)
            progress.chunk(done, len(chunks), "chunks of points")
    else:
        # Several workers finish chunks out of order, which joblib's own
        # messages count (an ordered count would stall behind a slow chunk).
        results = Parallel(n_jobs=n_jobs,
                           verbose=progress.joblib_verbose() if report else 0)(jobs)
    counts = np.concatenate([result[0] for result in results])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    C = sparse.csr_matrix(
        (np.concatenate([result[2] for result in results]),
         np.concatenate([result[1] for result in results]), indptr),
        shape=(n_samples, n_samples),
    )
    C.eliminate_zeros()
    return C, int(max(result[3] for result in results)), [result[4:] for result in results]
