"""A small benchmark harness: same-run timings, ratios, tables, RESULTS.md.

These machines are shared and noisy, so absolute times mean little; what is
reported is the median of several repeats and the ratio to a baseline timed
in the same run, with repeats interleaved across cases so that a slow moment
of the machine hits every case alike.

Typical use::

    from _harness import compare, format_table, record

    rows = compare({"ours": lambda: ours(X), "theirs": lambda: theirs(X)},
                   baseline="theirs", repeat=5)
    table = format_table(rows, ["case", "median_s", "ratio"])
    print(table)
    record("kNN search, 50k x 50", table)
"""

import datetime
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("RESULTS.md")


def time_call(fn, *, warmup=1, repeat=5):
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; return the times."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def timed(fn, *, repeat=1):
    """Run ``fn`` ``repeat`` times; return ``(last result, median seconds)``.

    For runs too long to repeat (a full fit that takes minutes) and for runs
    whose result is needed as well as their time (a fit, then its accuracy):
    every timing of the benchmarks goes through this function,
    :func:`time_call` or :func:`compare`, so each says how it was measured.
    """
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def compare(cases, *, baseline=None, warmup=1, repeat=5):
    """Time several callables in one run, interleaving their repeats.

    Parameters
    ----------
    cases : dict of str -> callable
        The callables, by name.
    baseline : str, optional
        Name of the case the others are divided by.
    warmup, repeat : int
        Untimed and timed calls per case.

    Returns
    -------
    rows : list of dict
        One per case: ``case``, ``median_s``, ``min_s``, ``repeat`` and, with a
        baseline, ``ratio`` (median / baseline median; below 1 is faster).
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    rows = []
    for name, values in times.items():
        rows.append(
            {
                "case": name,
                "median_s": float(np.median(values)),
                "min_s": float(np.min(values)),
                "repeat": repeat,
            }
        )
    if baseline is not None:
        reference = next(row["median_s"] for row in rows if row["case"] == baseline)
        for row in rows:
            row["ratio"] = row["median_s"] / reference
    return rows


def _cell(value):
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def format_table(rows, columns=None):
    """A Markdown table of dict rows (columns default to every row's keys, in order of appearance)."""
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(col, "")) for col in columns) + " |")
    return "\n".join(lines)


def machine_summary():
    """One line describing where the figures were measured."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )


def record(title, body, *, command=None, results=RESULTS):
    """Append a dated section with the figures and the command to RESULTS.md."""
    if command is None:
        script = os.path.relpath(os.path.abspath(sys.argv[0]), RESULTS.parent.parent)
        command = "python " + " ".join(shlex.quote(arg) for arg in [script, *sys.argv[1:]])
    stamp = datetime.date.today().isoformat()
    section = (
        f"\n## {title}\n\n"
        f"{stamp} · {machine_summary()}\n\n"
        f"Reproduce: `{command}`\n\n"
        f"{body.strip()}\n"
    )
    with open(results, "a", encoding="utf-8") as handle:
        handle.write(section)
    return section
