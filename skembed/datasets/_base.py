"""Where skembed keeps downloaded or computed data, and optional imports."""

import os
from importlib import import_module
from pathlib import Path

# skembed is installed from its source tree (it is not on PyPI): extras are
# named on the checkout, as the README does.
_BENCH_HINT = 'pip install ".[bench]"'


def get_data_home(data_home=None):
    """Return the folder where skembed caches data, creating it if needed.

    The folder is, in order of precedence: the ``data_home`` argument, the
    ``SKEMBED_DATA_HOME`` environment variable, or ``~/skembed_data``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use.

    Returns
    -------
    data_home : pathlib.Path
        The folder, which exists on return.

    Examples
    --------
    >>> from skembed.datasets import get_data_home
    >>> folder = get_data_home()
    """
    if data_home is None:
        data_home = os.environ.get("SKEMBED_DATA_HOME", Path("~") / "skembed_data")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_optional(module, *, package, purpose):
    """Import an optional dependency or say exactly how to install it."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the package {package!r}, which is not installed. "
            f"Install it with `pip install {package}` (or `{_BENCH_HINT}` in a skembed "
            "checkout for every benchmark dependency)."
        ) from exc
