"""The user guides' examples run as written and print the figures they show.

Every ``>>>`` line of ``doc/user_guide/*.rst`` is a doctest: a figure a guide
quotes from its own code cannot drift from what the code prints. A line that
needs an optional package or data not shipped with skembed carries
``# doctest: +SKIP`` (Sphinx hides the flag); code that prints no figure may
stay a plain ``python`` block.
"""

import doctest
from pathlib import Path

import pytest

GUIDES = Path(__file__).resolve().parents[1] / "doc" / "user_guide"
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Guides whose examples take long: the subspace-clustering guide fits six
# candidate graphs on 2,000 points (about 20 s on 2 cores).
SLOW = {"cluster.rst"}


def guides():
    if not GUIDES.is_dir():  # tests run from an installed copy without the docs
        return []
    return [
        pytest.param(path, id=path.stem,
                     marks=[pytest.mark.slow] if path.name in SLOW else [])
        for path in sorted(GUIDES.glob("*.rst"))
    ]


@pytest.mark.parametrize("guide", guides())
def test_guide_examples_print_what_they_show(guide):
    result = doctest.testfile(str(guide), module_relative=False, encoding="utf-8",
                              optionflags=OPTIONS, report=True)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples of {guide.name} print "
        "something else than the guide shows (the report is above)"
    )
