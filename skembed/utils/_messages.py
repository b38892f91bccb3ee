"""Solver warnings that carry the name of the estimator running them.

Solvers are plain functions on arrays and know nothing of estimators, so they
word their warnings generically ("the SSC ADMM did not converge ...") and
emit them with :func:`warn`. An estimator runs its solvers inside
``ValidationMixin._named_errors(method)``, which records "Estimator.method"
in a context variable; :func:`warn` prefixes it. A context variable (not a
change of the global warning filters) keeps this correct when fits run in
threads, and lets every warning go out as it happens, under the user's own
filters (a warning turned into an error stops the fit at once).
"""

import contextvars
import warnings

__all__ = ["calling_estimator", "warn"]

#: "Estimator.method" of the fit running in this thread or task, or None.
calling_estimator = contextvars.ContextVar("skembed_calling_estimator", default=None)


def warn(message, category=UserWarning, stacklevel=2):
    """``warnings.warn`` with the running estimator's name in front, if any."""
    caller = calling_estimator.get()
    if caller is not None:
        message = f"{caller}: {message}"
    warnings.warn(message, category, stacklevel=stacklevel + 1)
