"""Targets and sample weights given as dask arrays beside a dask X, kept lazy.

A fit on a dask X whose class labels (or weights) are a dask array too
need not read them into the client: 26 million labels are 200 MB there,
and their checks (``np.unique``, ``type_of_target``, ``np.isin``) several
copies more. Here they stay where they are:

* their shape, dtype and length are checked from the metadata (no data
  read), and they are rechunked lazily to X's row chunks, so block i of
  the target is the target of block i of X;
* one small compute over the target and the weights alone (never X)
  finds the classes (the unique values of each block, merged) and checks
  what the in-memory path checks on the values: no NaN or infinity, class
  labels rather than continuous values, at least ``min_classes`` classes,
  weights non-negative and not all zero. A failure raises before any pass
  over X;
* the fit's single compute over X then reads each block of X with its
  aligned block of labels (one-hot encoded inside the task) and weights:
  :func:`blockwise_moments_aligned`.

Only estimators that opt in (``lazy_targets=True`` in
``ValidationMixin._validate_X_y``) get :class:`LazyTarget` objects back;
the others read dask targets into memory as before.
"""

import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target

from ._messages import user_stacklevel

__all__ = ["LazyTarget", "blockwise_moments_aligned", "validate_lazy_targets"]


class LazyTarget:
    """One value (or one row of values) per row of a dask X, as a lazy dask array.

    Parameters
    ----------
    array : dask.array.Array of shape (n_samples,) or (n_samples, k)
        Row chunks equal to X's (one chunk of columns): block i holds the
        values of X's block i.
    classes : ndarray or None
        The sorted distinct labels (``np.unique`` of the whole array) for
        class labels; None for values (weights, continuous concepts).
    """

    def __init__(self, array, classes=None):
        self.array = array
        self.classes = classes

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    def blocks(self):
        """The row blocks, as delayed objects (one per row block of X)."""
        return list(self.array.to_delayed().ravel())

    def codes(self, classes):
        """The labels as lazy integer codes: the index of each label in ``classes``."""
        dtype = np.min_scalar_type(max(len(classes) - 1, 0))
        return LazyTarget(self.array.map_blocks(_label_codes, classes, dtype, dtype=dtype,
                                                meta=np.empty((0,), dtype=dtype)))

    def __repr__(self):
        return f"LazyTarget(shape={self.shape}, dtype={self.dtype})"


def _label_codes(labels, classes, dtype):
    return np.searchsorted(classes, labels).astype(dtype, copy=False)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _known_rows(values, caller, name):
    """The number of rows of a dask array, or a ValueError if its chunks are unknown."""
    if np.isnan(values.shape[0]) or any(np.isnan(size) for size in values.chunks[0]):
        raise ValueError(
            f"{caller}: the chunk sizes of the dask array {name} are unknown (NaN), e.g. "
            f"after boolean indexing. Call {name}.compute_chunk_sizes() first."
        )
    return int(values.shape[0])


def _check_length(n_rows, n_samples, caller, name):
    if n_rows != n_samples:
        what = "target value" if name == "y" else "weight"
        raise ValueError(
            f"{caller}: Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {n_rows}] (X and {name}). Pass one {what} per row of X."
        )


def _aligned(values, X):
    """``values`` rechunked (lazily) to X's row chunks and one chunk of columns."""
    chunks = (X.chunks[0],) if values.ndim == 1 else (X.chunks[0], (values.shape[1],))
    return values if values.chunks == chunks else values.rechunk(chunks)


def _label_summary(block, labels):
    """What the checks need to know of one block of a target.

    NaN or infinity; whether a float block holds non-integral values (a
    continuous concept, as ``type_of_target`` decides); and, for labels,
    the block's distinct values (None once the block is known continuous).
    """
    values = np.asarray(block).ravel()
    summary = {"nonfinite": False, "continuous": False, "unsortable": None, "labels": None}
    kind = values.dtype.kind
    if kind in "fc":
        if not np.isfinite(values).all():
            summary["nonfinite"] = True
            return summary
        # type_of_target's own test of a float target.
        if values.size and np.any(values != values.astype(int)):
            summary["continuous"] = True
    elif kind == "O" and np.any(values != values):  # NaN among objects
        summary["nonfinite"] = True
        return summary
    if labels and not summary["continuous"]:
        summary["labels"] = _sorted_unique(values, summary)
    return summary


def _sorted_unique(values, summary):
    try:
        return np.unique(values)
    except TypeError as exc:  # e.g. strings and numbers (or None) mixed
        summary["unsortable"] = str(exc)
        return None


def _merge_label_summaries(first, second):
    merged = {
        "nonfinite": first["nonfinite"] or second["nonfinite"],
        "continuous": first["continuous"] or second["continuous"],
        "unsortable": first["unsortable"] or second["unsortable"],
        "labels": None,
    }
    if first["labels"] is not None and second["labels"] is not None:
        merged["labels"] = _sorted_unique(
            np.concatenate([first["labels"], second["labels"]]), merged
        )
    return merged


def _weight_summary(block, dtype):
    # The in-memory check converts the weights to X's dtype first.
    weights = np.asarray(block).astype(dtype, copy=False)
    return {"nonfinite": not bool(np.isfinite(weights).all()),
            "negative": bool((weights < 0).any()), "positive": bool((weights > 0).any())}


def _merge_weight_summaries(first, second):
    return {key: first[key] or second[key] for key in first}


def _summary(values, summarise, merge, *args):
    """The lazy summary of a dask array: one task per block, merged in a tree."""
    from dask import delayed

    from ._dask import tree_reduce

    summarise = delayed(summarise, pure=True)
    return tree_reduce([summarise(block, *args) for block in values.to_delayed().ravel()],
                       merge)


def _check_y_metadata(y, n_samples, caller, y_kind):
    """Shape, dtype and length of a dask target; returns whether it holds labels or values.

    "labels": 1-D, or one column read as labels if its values are labels
    (decided from the values); "values": a continuous concept of k > 1
    columns.
    """
    if y.ndim not in (1, 2) or (y.ndim == 2 and y_kind == "labels" and y.shape[1] != 1):
        raise ValueError(
            f"{caller}: y must be 1-D class labels, got a dask array of shape {y.shape}. "
            "Pass y.ravel() for one label column."
        )
    kind = np.dtype(y.dtype).kind
    if kind == "c":
        raise ValueError(f"{caller}: y holds complex numbers. Pass real numbers, e.g. y.real.")
    if kind not in "biufOUS":
        raise ValueError(
            f"{caller}: y has dtype {y.dtype}, which is neither numeric nor text. Pass "
            "class labels (integers or strings) or numbers."
        )
    _check_length(_known_rows(y, caller, "y"), n_samples, caller, "y")
    if y.ndim == 2 and y.shape[1] != 1:
        if kind not in "biuf":
            raise ValueError(
                f"{caller}: y of shape {y.shape} is a continuous concept (one column per "
                f"concept) and must be numeric, got dtype {y.dtype}. Pass class labels "
                "as one column, or numbers."
            )
        return "values"
    return "labels"


def _check_label_summary(summary, y, caller, y_kind, min_classes):
    """The in-memory label checks, on the merged summary; returns the classes or None.

    None: the target is a continuous concept of one column.
    """
    if summary["nonfinite"]:
        raise ValueError(
            f"{caller}: Input y contains NaN or infinity (found in the dask array y). "
            "Drop those rows of X and y, or impute the labels."
        )
    if summary["unsortable"] is not None:
        raise ValueError(
            f"{caller}: the labels in y cannot be sorted ({summary['unsortable']}), so "
            "they are not one type of class label. Pass labels of one type: all "
            "strings (e.g. y.astype(str)) or all numbers."
        )
    if summary["continuous"]:
        if y.ndim == 2 and y_kind == "concept":
            return None  # one continuous concept column, kept 2-D
        hint = " For a continuous concept pass y.reshape(-1, 1)." if y_kind == "concept" else ""
        raise ValueError(
            f"{caller}: Unknown label type for y ('continuous'); y must hold class "
            f"labels (integers or strings).{hint}"
        )
    classes = summary["labels"]
    target_type = type_of_target(classes, input_name="y")
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"{caller}: Unknown label type for y ({target_type!r}); y must hold class "
            "labels (integers or strings)."
        )
    if classes.size < min_classes:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise ValueError(
            f"{caller}: y has {classes.size} class ({only!r}), but at least "
            f"{min_classes} classes are needed. Pass rows from at least two classes."
        )
    return classes


def _check_weight_summary(summary, caller):
    if summary["nonfinite"]:
        raise ValueError(
            f"{caller}: Input sample_weight contains NaN or infinity (found in the dask "
            "array sample_weight). Pass finite weights."
        )
    if summary["negative"]:
        raise ValueError(
            f"{caller}: sample_weight has negative values. Pass non-negative weights "
            "(a weight of 0 drops a row)."
        )
    if not summary["positive"]:
        raise ValueError(
            f"{caller}: sample_weight is zero for every row. Give at least one row a "
            "positive weight."
        )


def validate_lazy_targets(X, y, sample_weight, *, caller, y_kind, min_classes):
    """Check a dask target and dask weights beside a dask X without reading them in.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Validated (see :func:`~skembed.utils._dask.validate_dask_X`).
    y : dask.array.Array or None
        The target, or None when it is not a dask array (then the caller
        validates it).
    sample_weight : dask.array.Array or None
        The weights, or None when they are not a dask array.
    caller : str
        "Estimator.method", for the messages.
    y_kind : {"labels", "concept"}
        As in ``ValidationMixin._validate_X_y``.
    min_classes : int
        Fewest classes accepted.

    Returns
    -------
    y, sample_weight : LazyTarget or None
        Aligned with X's row chunks. Labels keep their dtype and carry
        their ``classes`` (sorted, as ``np.unique`` of the whole target);
        a continuous concept and the weights are cast (lazily) to X's
        dtype, as in memory.

    Raises
    ------
    ValueError
        From the metadata (shape, dtype, length) before any data are read;
        then from one compute over ``y`` and ``sample_weight`` alone (NaN,
        continuous values given as labels, fewer than ``min_classes``
        classes, negative or all-zero weights), before any pass over X.
    """
    import dask

    if y_kind not in ("labels", "concept"):
        raise ValueError(f"lazy targets of kind {y_kind!r} are not supported")
    n_samples = X.shape[0]
    content = None
    if y is not None:
        content = _check_y_metadata(y, n_samples, caller, y_kind)
    if sample_weight is not None:
        if sample_weight.ndim != 1:
            raise ValueError(
                f"{caller}: sample_weight must be 1-D (one weight per row), got a dask "
                f"array of shape {sample_weight.shape}. Pass sample_weight.ravel()."
            )
        if np.dtype(sample_weight.dtype).kind not in "biuf":
            raise ValueError(
                f"{caller}: sample_weight has dtype {sample_weight.dtype}. Pass numbers."
            )
        _check_length(_known_rows(sample_weight, caller, "sample_weight"), n_samples, caller,
                      "sample_weight")

    # One compute over the target and the weights (never X).
    lazy = {}
    if y is not None:
        lazy["y"] = _summary(y, _label_summary, _merge_label_summaries, content == "labels")
    if sample_weight is not None:
        lazy["weights"] = _summary(sample_weight, _weight_summary, _merge_weight_summaries,
                                   np.dtype(X.dtype))
    summaries = dict(zip(lazy, dask.compute(*lazy.values())))

    checked_y = checked_weights = None
    if y is not None:
        classes = None
        if content == "labels":
            classes = _check_label_summary(summaries["y"], y, caller, y_kind, min_classes)
        if classes is None:  # continuous values, in X's dtype as in memory
            if np.dtype(y.dtype).kind not in "biuf":
                raise ValueError(f"{caller}: y has dtype {y.dtype}. Pass numbers.")
            if summaries["y"]["nonfinite"]:
                raise ValueError(
                    f"{caller}: Input y contains NaN or infinity (found in the dask array "
                    "y). Drop those rows of X and y, or impute the values."
                )
            checked_y = LazyTarget(_aligned(y.astype(X.dtype), X))
        else:
            if y.ndim == 2:
                warnings.warn(
                    f"{caller}: A column-vector y was passed when a 1d array was expected. "
                    "Its values are class labels (type_of_target), so it is raveled to "
                    "shape (n_samples,) and read as labels. Pass y.ravel() to silence "
                    "this warning.",
                    DataConversionWarning,
                    stacklevel=user_stacklevel(),  # the user's call, past any wrapper
                )
                y = y[:, 0]
            checked_y = LazyTarget(_aligned(y, X), classes)
    if sample_weight is not None:
        _check_weight_summary(summaries["weights"], caller)
        checked_weights = LazyTarget(_aligned(sample_weight.astype(X.dtype), X))
    return checked_y, checked_weights


# ---------------------------------------------------------------------------
# The moments pass
# ---------------------------------------------------------------------------


def blockwise_moments_aligned(X, sides, weights, *, track_covariance=True):
    """:func:`~skembed.utils._moments.blockwise_moments`, with lazy sides and weights.

    ``sides`` maps names to ``(encode, raw)`` and ``weights`` is None or
    one weight per row, as there; here ``raw`` and ``weights`` may also be
    :class:`LazyTarget` objects, whose block i goes with X's block i into
    the same task (no NumPy copy of them in the client). Each task runs
    the same :meth:`WeightedMoments.of_batch` on the same rows, merged in
    the same tree, so the moments equal those of the in-memory target
    bit for bit.
    """
    from dask import delayed

    from ._dask import row_offsets, tree_reduce
    from ._moments import _block_moments, _merge_moments, blockwise_moments

    lazy = [raw for _, raw in sides.values()] + [weights]
    if not any(isinstance(part, LazyTarget) for part in lazy):
        return blockwise_moments(X, sides, weights, track_covariance=track_covariance)
    x_blocks = X.to_delayed().ravel()
    offsets = row_offsets(X)

    def pieces(values):
        if values is None:
            return [None] * len(x_blocks)
        if isinstance(values, LazyTarget):
            return values.blocks()
        return [values[int(offsets[i]):int(offsets[i + 1])] for i in range(len(x_blocks))]

    names = list(sides)
    encoders = [sides[name][0] for name in names]
    raw = [pieces(sides[name][1]) for name in names]
    weight_blocks = pieces(weights)
    parts = [
        delayed(_block_moments, pure=True)(
            block, names, encoders, [side[index] for side in raw], weight_blocks[index],
            track_covariance,
        )
        for index, block in enumerate(x_blocks)
    ]
    return tree_reduce(parts, _merge_moments)

