"""Run the examples in every public docstring, so the documentation stays true."""

import doctest
import pkgutil
from importlib import import_module

import pytest

import skembed

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(skembed.__path__, prefix="skembed.")
    if info.name != "skembed.datasets._build_sample"
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


#: Every module whose ``__all__`` the API reference (doc/api.rst) lists.
DOCUMENTED_MODULES = ("skembed", "skembed.base", "skembed.cluster", "skembed.datasets",
                      "skembed.metrics", "skembed.sampling", "skembed.utils",
                      "skembed.utils.extmath")


def _public_objects():
    seen = set()
    for module_name in DOCUMENTED_MODULES:
        module = import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or id(obj) in seen:
                continue
            seen.add(id(obj))
            qualified = f"{module_name}.{name}"
            yield qualified, obj
            for method in ("fit", "partial_fit", "transform", "predict", "fit_predict",
                           "fit_resample", "inverse_transform", "score"):
                function = getattr(obj, "__dict__", {}).get(method)
                if function is not None and getattr(function, "__doc__", None):
                    yield f"{qualified}.{method}", function


PUBLIC_OBJECTS = list(_public_objects())


@pytest.mark.parametrize("name, obj", PUBLIC_OBJECTS, ids=[name for name, _ in PUBLIC_OBJECTS])
def test_docstring_renders_without_warnings(name, obj):
    """The numpydoc-rendered docstring is valid reStructuredText (what Sphinx -W needs)."""
    import inspect
    import io

    docscrape = pytest.importorskip("numpydoc.docscrape_sphinx")
    docutils_core = pytest.importorskip("docutils.core")
    text = str(docscrape.SphinxDocString(inspect.getdoc(obj)))
    stream = io.StringIO()
    docutils_core.publish_doctree(
        text, settings_overrides={"warning_stream": stream, "report_level": 2}
    )
    # Sphinx roles and directives (:class:, .. math::) are unknown to bare
    # docutils; everything else it reports would fail the documentation build.
    sphinx_only = ("Unknown interpreted text role", "Unknown directive", "No role entry",
                   "No directive entry", 'Trying "')
    problems = [
        line for line in stream.getvalue().splitlines()
        if ("WARNING" in line or "ERROR" in line) and not any(s in line for s in sphinx_only)
    ]
    assert not problems, f"{name}: {problems}"
