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
