"""Fitted estimators saved to a file and loaded back, safely (``.skops``).

The command line's ``--save-model`` and ``--model`` use the ``skops.io``
format, scikit-learn's recommended alternative to pickle for models that are
shared: loading it builds objects from a description of their types and
attributes instead of running the file's code, and it refuses any type that
the caller has not trusted.

What loading trusts
-------------------
skops itself trusts the types of NumPy, SciPy and scikit-learn it knows to be
data. :func:`load_model` additionally trusts, by name, exactly:

* **classes** defined in a ``skembed`` module (its estimators and the small
  objects they keep as fitted attributes), and
* **SciPy sparse matrix and array classes** (a clusterer's coefficients).

Each name is resolved and must be a class defined where the file says it is:
a function (``skembed.cli.main``), a module, or anything from another package
(``os.system``, ``builtins.eval``) is refused, and the refusal names every
type that was not trusted, before anything is built. A model file from
someone else therefore cannot run code when it is loaded; it can only hold
estimator attributes, which skembed's methods read as data.
"""

import importlib
import inspect
import os

from ._tables import TableError, write_atomically

#: The suffix of a saved model.
MODEL_SUFFIX = ".skops"

_INSTALL_HINT = 'pip install skops (or pip install ".[model]" in a skembed checkout)'


class ModelFileError(TableError):
    """A model file that cannot be written, read or trusted (exit status 2)."""


def _skops_io():
    try:
        return importlib.import_module("skops.io")
    except ImportError as exc:
        raise ImportError(
            f"saving and loading models needs the package 'skops', which is not installed: "
            f"{_INSTALL_HINT}"
        ) from exc


def check_model_support():
    """Raise the install hint now if ``skops`` is missing (before a long fit)."""
    _skops_io()


def _resolve(type_name):
    """The class a skops type name refers to, or None when it is not a class."""
    module_name, _, attribute = type_name.rpartition(".")
    if not module_name or not attribute:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    value = getattr(module, attribute, None)
    if not inspect.isclass(value) or value.__module__ != module_name:
        # A re-exported name: trust only a class where it is defined.
        return None
    return value


def _is_trusted(type_name):
    """Whether loading may build this type (see the module docstring)."""
    top = type_name.split(".", 1)[0]
    if top not in ("skembed", "scipy"):
        # Never import a module the file names unless it is one of ours.
        return False
    cls = _resolve(type_name)
    if cls is None:
        return False
    if top == "skembed":
        return True
    from scipy import sparse

    sparse_bases = tuple(
        base for base in (getattr(sparse, "spmatrix", None), getattr(sparse, "sparray", None))
        if base is not None
    )
    return type_name.startswith("scipy.sparse.") and issubclass(cls, sparse_bases)


def save_model(estimator, path):
    """Write a fitted estimator to ``path`` (``.skops``), atomically.

    The file is written to a temporary name and renamed, so ``path`` never
    holds a partial model.
    """
    data = _skops_io().dumps(estimator)
    write_atomically(path, lambda handle: handle.write(data))


def load_model(path, *, expected=None):
    """Load a model saved by :func:`save_model`, trusting only what is listed above.

    Parameters
    ----------
    path : str or Path
        A ``.skops`` file.
    expected : type, optional
        The class the model must be an instance of.

    Returns
    -------
    estimator : object
        The fitted estimator.

    Raises
    ------
    ModelFileError
        The file is missing, not a skops file, holds a type that is not
        trusted, or holds an estimator of another class than ``expected``.
    """
    sio = _skops_io()
    if not os.path.isfile(path):
        kind = "is not a regular file" if os.path.exists(path) else "does not exist"
        raise ModelFileError(f"cannot read the model {path}: it {kind}")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (OSError, MemoryError) as exc:
        raise ModelFileError(f"cannot read the model {path}: {exc.strerror if isinstance(exc, OSError) else 'out of memory'}") from exc
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a damaged file: zip, JSON or schema errors of many kinds
        raise ModelFileError(
            f"cannot read the model {path}: not a model saved by skembed --save-model "
            f"(a .skops file); {type(exc).__name__}"
        ) from exc
    refused = sorted(name for name in untrusted if not _is_trusted(name))
    if refused:
        raise ModelFileError(
            f"refusing to load the model {path}: it holds types that are not skembed's "
            f"or SciPy's sparse classes ({', '.join(refused)}); only load models from "
            "sources you trust, and inspect them with skops.io.get_untrusted_types"
        )
    try:
        estimator = sio.loads(data, trusted=list(untrusted))
    except Exception as exc:  # a damaged file: skops raises many kinds
        raise ModelFileError(
            f"cannot read the model {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    if expected is not None and not isinstance(estimator, expected):
        raise ModelFileError(
            f"the model {path} holds a {type(estimator).__name__}, not a "
            f"{expected.__name__}"
        )
    return estimator
