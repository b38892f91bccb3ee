"""Peak memory and time of an in-memory LEACE fit on a large float32 table.

Each fit runs in a fresh child process that first builds X (N x 256
float32, correlated Gaussian rows with a 3-class concept), records its
resident memory and resets the high-water mark (``/proc/self/clear_refs``,
Linux), then fits ``LinearConceptEraser()`` and records the peak resident
memory during the fit (``VmHWM``) and the fit time. The figure is the peak
over the input: the goal is at most 1.25 x the input + 100 MB.

With ``--baseline-tree DIR`` (a checkout of an earlier skembed, e.g. made
with ``git worktree add DIR <commit>``) the same child runs on that code in
the same session, alternating with the current one, so the times compare.

Run: ``python benchmarks/memory.py [--rows 4000000] [--repeat 2]
[--baseline-tree DIR] [--no-record]``
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _harness import format_table, record

CHILD = r"""
import json, resource, sys
import numpy as np
from threadpoolctl import threadpool_limits
n_rows = int(sys.argv[1])
rng = np.random.RandomState(0)
X = np.empty((n_rows, 256), dtype=np.float32)
labels = rng.randint(3, size=n_rows)
mixing = rng.normal(size=(256, 256)) / 16
for start in range(0, n_rows, 250_000):
    stop = min(start + 250_000, n_rows)
    block = rng.normal(size=(stop - start, 256)) @ mixing + 5.0
    block[:, :3] += labels[start:stop, None] * 0.5
    X[start:stop] = block
del block
import skembed
from skembed import LinearConceptEraser
def status(field):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field)) / 1024
# Reset the high-water mark to the current RSS (Linux), so the peak is the fit's.
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")
rss = status("VmRSS")
sys.path.insert(0, sys.argv[2])  # the benchmarks folder: timings go through its harness
from _harness import timed
eraser, seconds = timed(lambda: LinearConceptEraser().fit(X, labels))
peak = status("VmHWM")
print(json.dumps({"input_mb": X.nbytes / 2**20, "rss_before_mb": rss, "peak_mb": peak,
                  "fit_s": seconds, "rank": int(eraser.rank_)}))
"""


def run_child(n_rows, tree):
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.path.abspath(tree)
    out = subprocess.run([sys.executable, "-c", CHILD, str(n_rows), os.path.dirname(os.path.abspath(__file__))], env=env, check=True,
                         capture_output=True, text=True, cwd=tree or None)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline-tree", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    trees = {"current": None}
    if args.baseline_tree:
        trees["baseline"] = args.baseline_tree
    results = {name: [] for name in trees}
    for _ in range(args.repeat):
        for name, tree in trees.items():  # interleaved
            results[name].append(run_child(args.rows, tree))
    rows = []
    for name, runs in results.items():
        extra = [r["peak_mb"] - r["rss_before_mb"] for r in runs]
        rows.append({
            "code": name,
            "input_MB": runs[0]["input_mb"],
            "peak_RSS_MB": float(np.median([r["peak_mb"] for r in runs])),
            "peak / input": float(np.median([r["peak_mb"] / r["input_mb"] for r in runs])),
            "peak - RSS before fit (MB)": float(np.median(extra)),
            "fit_s (median)": float(np.median([r["fit_s"] for r in runs])),
            "rank_": runs[0]["rank"],
        })
    goal = 1.25 * rows[0]["input_MB"] + 100
    body = (
        f"LinearConceptEraser().fit on {args.rows:,} x 256 float32 in memory, each run in a "
        f"fresh process ({args.repeat} runs per code, interleaved); the goal is a peak "
        f"RSS of at most 1.25 x input + 100 MB = {goal:.0f} MB.\n\n" + format_table(rows)
    )
    print(body)
    if not args.no_record:
        record("Memory: in-memory LEACE peak", body)


if __name__ == "__main__":
    main()
