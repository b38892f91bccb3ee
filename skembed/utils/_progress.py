"""Progress messages: one meaning of ``verbose`` for every skembed estimator.

Every estimator and loader that can run for long takes ``verbose`` (an int,
default 0) with the same levels:

* ``0``: silent.
* ``1``: one line per stage of the fit as it ends (what finished, and the
  seconds since the fit began), and one per epoch or iteration of an
  iterative fit.
* ``2`` and above: also one line per chunk of a long loop over rows, so a fit
  of several minutes shows it is moving (parallel chunks report through
  joblib's own messages).

Lines go to standard output, flushed at once, each starting with the
estimator's name in brackets (``[SubspaceClusterer] ...``), as scikit-learn's
own verbose estimators print.
"""

import time


class ProgressLog:
    """Print progress lines for one fit, if ``verbose`` asks for them.

    Parameters
    ----------
    owner : object or str
        The estimator (its class name prefixes each line) or a name.
    verbose : int
        The verbosity level (see the module docstring).

    Examples
    --------
    >>> log = ProgressLog("Example", verbose=1)
    >>> log.stage("scores")  # doctest: +ELLIPSIS
    [Example] scores (... s)
    >>> log.chunk(1, 4, "rows")  # level 2 only: prints nothing
    """

    def __init__(self, owner, verbose):
        self.name = owner if isinstance(owner, str) else type(owner).__name__
        self.verbose = int(verbose or 0)
        self.start = time.perf_counter()

    def elapsed(self):
        """Seconds since this log was created."""
        return time.perf_counter() - self.start

    def stage(self, message, level=1):
        """Report that a stage ended (shown from ``level`` on)."""
        if self.verbose >= level:
            print(f"[{self.name}] {message} ({self.elapsed():.2f} s)", flush=True)

    def chunk(self, done, total, what="chunks"):
        """Report that ``done`` of ``total`` chunks are finished (level 2)."""
        if self.verbose >= 2:
            print(f"[{self.name}] {done}/{total} {what} ({self.elapsed():.2f} s)", flush=True)

    def joblib_verbose(self):
        """The ``verbose`` to give ``joblib.Parallel``: its messages from level 2 on."""
        return 10 if self.verbose >= 2 else 0
