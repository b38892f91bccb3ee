"""Dask arrays: lazy validation, blockwise reductions and blockwise transforms.

Data at rest that outgrow memory arrive as :class:`dask.array.Array`.
skembed never schedules work itself: a fit builds a graph of blockwise
reductions and calls :func:`dask.compute` once (whatever scheduler the user
configured: threads, processes, a ``distributed`` cluster), and a transform
returns a lazy array of the same row chunks. This is the pattern of dask-ml's
``StandardScaler`` (fit) and ``ParallelPostFit`` (transform).

dask stays optional: it is imported only when a dask array arrives, and
recognising one does not import it.

What stays in memory: the fitted attributes (d x d at most), the
per-row vectors a fit needs in full (class labels, sample weights), which
are read into memory first, and the rows a fit gathers (a sample, the
anchors: :func:`read_rows`, :func:`lazy_rows`). Validation never
materialises X: its dtype, shape and feature count come from the array's
metadata, and the finiteness check runs inside the same compute as the fit
(or the transform), on each block as it is read.
"""

import numbers
from functools import partial

import numpy as np
from sklearn import get_config


def is_dask_array(X):
    """Whether X is a dask array (checked without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks") and hasattr(
        X, "dask"
    )


def import_dask_array(caller):
    """``dask.array``, or an ImportError that says how to install it."""
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised without dask installed
        raise ImportError(
            f"{caller}: X is a dask array but dask is not installed. Install it with "
            "pip install '.[dask]' in a skembed checkout, or pip install dask."
        ) from exc
    return da


class NonFiniteBlockError(ValueError):
    """A block of a dask array holds NaN or infinity (raised during the compute)."""


def _check_finite_block(block, caller):
    # A finite sum proves every entry finite at the cost of one read (the
    # fast path of scikit-learn's own check); only an overflowing or
    # non-finite sum needs the elementwise test. The sum is in the block's own
    # dtype: a float32 block summed in float64 is cast element by element,
    # which made the check cost 3x the whole erasure; an overflow of the
    # float32 sum only sends the block to the exact test.
    with np.errstate(over="ignore", invalid="ignore"):
        total = block.sum()
    if not np.isfinite(total) and not np.isfinite(block).all():
        raise NonFiniteBlockError(
            f"{caller}: Input X contains NaN or infinity (found while reading a block "
            "of the dask array). Remove or impute those rows, e.g. keep = "
            "da.isfinite(X).all(axis=1); X = X[keep]; X.compute_chunk_sizes() (and the "
            "same rows of y), or impute them."
        )
    return block


def validate_dask_X(estimator, X, *, reset, min_samples, caller, dtypes=("float64", "float32")):
    """Check a dask array lazily; return it with the finiteness check attached.

    Shape, feature count and dtype are read from the metadata (no data is
    read). Rows must be in one chunk of columns: each block then holds whole
    rows, which the blockwise solvers need; other column chunkings are
    rechunked (lazily). Integer and boolean data become float64, as in the
    in-memory path. The returned array raises :class:`NonFiniteBlockError`
    from any block holding NaN or infinity, inside the caller's compute.
    """
    import_dask_array(caller)
    if X.ndim != 2:
        raise ValueError(
            f"{caller}: Expected a 2D dask array, got {X.ndim}D with shape {X.shape}. "
            "Reshape it to (n_samples, n_features)."
        )
    n_samples, n_features = X.shape
    if not isinstance(n_features, numbers.Integral):
        raise ValueError(
            f"{caller}: the dask array's number of columns is unknown (NaN). Give it "
            "a known shape (e.g. da.from_delayed(..., shape=(n, d)))."
        )
    if isinstance(n_samples, float) or not all(
        isinstance(size, numbers.Integral) for size in X.chunks[0]
    ):
        raise ValueError(
            f"{caller}: the dask array's chunk sizes are unknown (NaN), e.g. after "
            "boolean indexing. Call X.compute_chunk_sizes() first."
        )
    kind = np.dtype(X.dtype).kind
    if kind not in "fiub":
        raise ValueError(
            f"{caller}: dtype={X.dtype} is not numeric. Pass a dask array of floats."
        )
    if n_features < 1:
        raise ValueError(
            f"{caller}: 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if reset:
        if n_samples < min_samples:
            raise ValueError(
                f"{caller}: Found array with {n_samples} sample(s) (shape={X.shape}) "
                f"while a minimum of {min_samples} is required. Pass more rows."
            )
        estimator.n_features_in_ = n_features
        vars(estimator).pop("feature_names_in_", None)
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"{caller}: X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    if np.dtype(X.dtype).name not in dtypes:
        X = X.astype(np.float64)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if get_config()["assume_finite"]:
        # As check_array: a caller that has just checked X (a meta-estimator
        # handing it to its sampler) says so, and each block is read once.
        return X
    return X.map_blocks(_check_finite_block, caller, dtype=X.dtype)


def to_numpy_vector(values, caller, name):
    """A per-row vector (labels, weights) given as a dask array, read into memory."""
    if is_dask_array(values):
        import dask

        (values,) = dask.compute(values)
    return values


def dask_compute(*collections):
    """``dask.compute`` (imported only when a dask collection is there)."""
    import dask

    return dask.compute(*collections)


def row_offsets(X):
    """Start row of each row chunk of a dask array, and the total."""
    return np.concatenate([[0], np.cumsum(X.chunks[0])])


def lazy_rows(X, indices):
    """The rows ``indices`` of the dask array X (all rows for None), as one delayed array.

    One task per block of X, each reading its block (so the finiteness
    check :func:`validate_dask_X` attached runs on every block, as an
    in-memory fit checks every row) and keeping the requested rows it
    holds; a last task puts them together in the order of ``indices``
    (any order; repeats allowed). Compute it in one :func:`dask_compute`
    with the fit's other reductions over ``X.to_delayed()`` (such as
    :func:`tree_reduce` or ``blockwise_moments``): they share the block
    tasks, so each block is read once. A dask *array* computed beside it
    would be optimised apart (dask fuses its reads into its own tasks) and
    read the blocks again.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        With one chunk of columns (as :func:`validate_dask_X` returns it).
    indices : array-like of int of shape (n_rows,) or None
        Row numbers of X, from 0 to ``n_samples - 1``; None: every row.

    Returns
    -------
    rows : dask.delayed.Delayed
        Computes to an ndarray of shape (n_rows, n_features) in X's dtype
        (``(n_samples, n_features)`` for None).
    """
    from dask import delayed

    order = None
    if indices is not None:
        indices = np.asarray(indices, dtype=np.intp).ravel()
        wanted, inverse = np.unique(indices, return_inverse=True)
        if wanted.size != indices.size or np.any(wanted != indices):
            order = inverse.ravel()  # read sorted and distinct, then put in order
    offsets = row_offsets(X)
    parts = []
    for index, block in enumerate(X.to_delayed().ravel()):
        local = None
        if indices is not None:
            start, stop = np.searchsorted(wanted, offsets[index:index + 2])
            local = wanted[start:stop] - offsets[index]
        parts.append(delayed(_rows_of_block, pure=True)(block, local))
    return delayed(_stack_rows, pure=True)(parts, order)


def read_rows(X, indices):
    """The rows ``indices`` of the dask array X (all rows for None), in memory.

    One compute of :func:`lazy_rows`: every block is read once, and so
    checked for NaN and infinity by the check :func:`validate_dask_X`
    attached to X (its :class:`NonFiniteBlockError` names the estimator),
    including the blocks that hold none of the rows.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        As :func:`validate_dask_X` returns it.
    indices : array-like of int of shape (n_rows,) or None
        Row numbers (any order); None: every row.

    Returns
    -------
    rows : ndarray of shape (n_rows, n_features)
        In X's dtype.
    """
    (rows,) = dask_compute(lazy_rows(X, indices))
    return rows


def _rows_of_block(block, local):
    """The rows ``local`` of one block (the whole block for None)."""
    return block if local is None else block[local]


def _stack_rows(parts, order):
    rows = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    return rows if order is None else rows[order]


def tree_reduce(parts, merge):
    """Merge delayed parts pairwise in a balanced tree (depth log2 of their number).

    A balanced tree keeps every intermediate result O(1) blocks in size
    and lets independent merges run on different workers.
    """
    from dask import delayed

    merge = delayed(merge, pure=True)
    parts = list(parts)
    while len(parts) > 1:
        paired = [merge(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            paired.append(parts[-1])
        parts = paired
    return parts[0]


def blockwise_transform(X, transform_block, n_columns, dtype):
    """A lazy array whose row block i is ``transform_block(X_block_i)``.

    ``X`` has one column chunk (see :func:`validate_dask_X`); the output keeps
    X's row chunks and has ``n_columns`` columns in one chunk, or is 1-D
    (one value per row, e.g. ``predict``) when ``n_columns`` is None.
    """
    # A block without rows (``X[keep]`` after ``compute_chunk_sizes`` drops a
    # whole block) gets an empty output: estimators refuse zero rows.
    guarded = partial(_skip_empty_block, transform_block=transform_block,
                      n_columns=n_columns, dtype=dtype)
    if n_columns is None:
        return X.map_blocks(guarded, dtype=dtype, chunks=(X.chunks[0],), drop_axis=1,
                            meta=np.empty((0,), dtype=dtype))
    return X.map_blocks(
        guarded,
        dtype=dtype,
        chunks=(X.chunks[0], (n_columns,)),
        meta=np.empty((0, n_columns), dtype=dtype),
    )


def _skip_empty_block(block, transform_block, n_columns, dtype):
    if block.shape[0] == 0:
        return np.empty((0,) if n_columns is None else (0, n_columns), dtype=dtype)
    return transform_block(block)
