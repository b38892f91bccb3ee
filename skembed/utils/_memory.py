"""Know the memory a fit needs before doing the work.

Each estimator that can outgrow memory implements ``_fit_memory_bytes(
n_samples, n_features)``: its peak working memory for a fit on data of that
shape, from its options, counted in float64 arrays (the input itself is not
counted: the caller already holds it). The formulas are in each estimator's
docstring ("Memory" in its Notes) and are checked against peaks measured
with :mod:`tracemalloc` in the tests (within a factor of 2).

``ValidationMixin`` calls :func:`check_fit_memory` right after validating
the data of a fit, before any work: an estimate above the memory available
raises :class:`InsufficientMemoryError`, naming the estimator, the estimate,
what is available and the option that avoids it.
"""

import numbers
import os

import numpy as np

__all__ = ["InsufficientMemoryError", "available_memory_bytes", "estimate_fit_memory"]


class InsufficientMemoryError(MemoryError, ValueError):
    """A fit would need more memory than the machine has available.

    Raised before any work. A subclass of both :class:`MemoryError` (what
    it is) and :class:`ValueError` (a problem with the input's size for the
    chosen options, as scikit-learn reports such problems).
    """


def available_memory_bytes():
    """Memory available to a new allocation, in bytes (None when unknown).

    ``psutil.virtual_memory().available`` when psutil is installed (it counts
    reclaimable caches), else the free physical pages (``os.sysconf``), which
    undercounts caches.
    """
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def estimate_fit_memory(estimator, n_samples, n_features, n_targets=None):
    """Peak working memory, in bytes, of ``estimator.fit`` on data of this shape.

    Parameters
    ----------
    estimator : skembed estimator
        Its options decide the estimate (e.g. ``method``).
    n_samples, n_features : int
        The shape of X.
    n_targets : int, default=None
        Columns of ``y``, for the estimators whose fit holds them
        (``LatentTranslator``: the target space's width, None: as wide as
        X; ``LinearConceptEraser``: a continuous concept's columns, None:
        one).

    Returns
    -------
    bytes : int
        The estimate, beyond the input itself; 0 for an estimator whose fit
        needs no more than a small multiple of its parameters.

    Examples
    --------
    >>> from skembed import LinearConceptEraser
    >>> from skembed.utils import estimate_fit_memory
    >>> gib = estimate_fit_memory(LinearConceptEraser(), 1_000_000, 100_000) / 2**30
    >>> gib > 200  # LEACE works with d x d matrices: use method="orth" instead
    True
    """
    for name, value in (("n_samples", n_samples), ("n_features", n_features),
                        ("n_targets", 0 if n_targets is None else n_targets)):
        if not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(
                f"estimate_fit_memory: {name} must be a non-negative integer, got {value!r}."
            )
    estimate = getattr(estimator, "_fit_memory_bytes", None)
    if estimate is None:
        return 0
    if n_targets is not None:
        n_targets = int(n_targets)
    return int(estimate(int(n_samples), int(n_features), n_targets=n_targets))


def format_bytes(value):
    """``value`` bytes as a short human-readable size (``"74.5 GiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def check_fit_memory(estimator, n_samples, n_features, caller, *, n_targets=None,
                     extra_bytes=0, total_rows=None):
    """Raise :class:`InsufficientMemoryError` when the fit cannot fit in memory.

    ``n_samples`` are the rows worked on at once (a dask array's largest
    block); ``total_rows``, when given, the rows the message reports.
    """
    needed = estimate_fit_memory(estimator, n_samples, n_features, n_targets) + int(extra_bytes)
    if needed <= 0:
        return
    available = available_memory_bytes()
    if available is None or needed <= available:
        return
    advice = estimator._memory_advice(n_samples, n_features)
    raise InsufficientMemoryError(
        f"{caller}: fitting {total_rows or n_samples:,} x {n_features:,} needs about "
        f"{format_bytes(needed)} of working memory, but {format_bytes(available)} is "
        f"available. {advice}"
    )


def float_bytes(*counts):
    """Bytes of float64 arrays with these many entries in total."""
    return int(8 * float(np.sum(counts)))
