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
import os
import sys
import warnings

import sklearn

__all__ = ["calling_estimator", "user_stacklevel", "warn"]

_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules[__name__.split(".")[0]], sklearn)
)


def user_stacklevel():
    """The ``stacklevel`` that points a warning at the user's call.

    For ``warnings.warn(..., stacklevel=user_stacklevel())`` in the function
    calling this: the first frame up the stack outside skembed and
    scikit-learn (whose fit and set_output wrappers sit in between), so the
    warning names the user's line however many wrappers a method has.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    return level

#: "Estimator.method" of the fit running in this thread or task, or None.
calling_estimator = contextvars.ContextVar("skembed_calling_estimator", default=None)


def warn(message, category=UserWarning, stacklevel=2):
    """``warnings.warn`` with the running estimator's name in front, if any."""
    caller = calling_estimator.get()
    if caller is not None:
        message = f"{caller}: {message}"
    warnings.warn(message, category, stacklevel=stacklevel + 1)
