"""Discovery of skembed's public estimators (used by the common tests and the CLI)."""

import inspect
import pkgutil
from importlib import import_module
from pathlib import Path

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
)

_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def _is_sampler(cls):
    return callable(getattr(cls, "fit_resample", None))


def all_estimators(type_filter=None):
    """List every public estimator defined in skembed.

    Walks the package (skipping private modules and the tests), the way
    :func:`sklearn.utils.discovery.all_estimators` does, so a new estimator is
    found as soon as it is defined in a public module of skembed.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster", \
"sampler"} or list of those, default=None
        Keep only estimators of these kinds; None keeps all.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from skembed.utils import all_estimators
    >>> names = [name for name, cls in all_estimators()]
    """
    found = {}
    # The package's own folder, found from this file: utils depends on no
    # other part of skembed.
    root = [str(Path(__file__).resolve().parent.parent)]
    for module_info in pkgutil.walk_packages(root, prefix="skembed."):
        parts = module_info.name.split(".")
        if any(part.startswith("_") or part == "tests" for part in parts[1:]):
            continue
        if module_info.name == "skembed.cli":
            continue
        module = import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseEstimator)
                and cls.__module__.startswith("skembed.")
                and not name.startswith("_")
                and not inspect.isabstract(cls)
            ):
                found[name] = cls

    estimators = sorted(found.items())
    if type_filter is None:
        return estimators
    kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    unknown = set(kinds) - set(_TYPE_MIXINS) - {"sampler"}
    if unknown:
        raise ValueError(
            f"all_estimators: unknown type_filter {sorted(unknown)}; use any of "
            f"{sorted([*_TYPE_MIXINS, 'sampler'])} or None."
        )

    def keep(cls):
        return any(
            _is_sampler(cls) if kind == "sampler" else issubclass(cls, _TYPE_MIXINS[kind])
            for kind in kinds
        )

    return [(name, cls) for name, cls in estimators if keep(cls)]
