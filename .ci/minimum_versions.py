"""Print pip constraints pinning skembed's dependencies to their declared minimums.

Reads setup.cfg, so the minimum-versions CI job always tests the lower bounds
the package actually declares: every core dependency (``install_requires``),
the ``dask`` extra (dask, distributed) and the libraries of the ``test`` extra
that users run (pandas, pyarrow, skops: the newest pyarrow refuses to import
beside an old NumPy, so an unpinned one would test nothing). The test runners themselves (pytest, hypothesis, numpydoc) are tools,
not part of what a user runs, and are left to the resolver.
"""

import configparser
import re
from pathlib import Path

TEST_TOOLS = {"pytest", "hypothesis", "numpydoc"}

config = configparser.ConfigParser()
config.read(Path(__file__).resolve().parent.parent / "setup.cfg")
requirements = config["options"]["install_requires"].split("\n")
requirements += config["options.extras_require"]["test"].split("\n")
requirements += config["options.extras_require"]["dask"].split("\n")
for requirement in requirements:
    requirement = requirement.split("#")[0].strip()
    if not requirement:
        continue
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)", requirement)
    if match is None:
        raise SystemExit(f"setup.cfg: no lower bound to pin in {requirement!r}")
    if match.group(1).lower() in TEST_TOOLS:
        continue
    print(f"{match.group(1)}=={match.group(2)}")
