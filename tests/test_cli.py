import errno
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skembed import __version__, _demo, cli
from skembed.datasets import load_sample_words
from skembed.utils import all_estimators


@pytest.fixture
def pca_command(monkeypatch):
    """Register sklearn's PCA as a subcommand, to test the subcommand pattern."""
    monkeypatch.setitem(cli.COMMANDS, "pca", cli.EstimatorCommand(PCA, "principal components"))
    monkeypatch.setitem(
        cli.COMMANDS,
        "scale-supervised",
        cli.EstimatorCommand(StandardScaler, "scaler that is given a target", needs_y=True),
    )


def one_line_error(capsys, status):
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    return lines[0]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


def printed(text, unit):
    """The numbers printed with a unit ("%" or "x"), in order."""
    return [float(value) for value in re.findall(rf"(\d+(?:\.\d+)?){re.escape(unit)}", text)]


@pytest.mark.slow
def test_demo_runs_every_section_on_bundled_sample(capsys):
    """One run of the whole demo (it takes a while): each section prints sane figures."""
    assert cli.main(["demo"]) == 0
    header, *blocks, footer = capsys.readouterr().out.strip().split("\n\n")
    assert header == f"skembed {__version__} demo"
    # One block per section, named by the estimator it runs (the sample comes first).
    sections = {block.split()[0]: block for block in blocks}
    assert len(blocks) == len(_demo.DEMOS) == len(sections)
    assert set(sections) == {"Word", "LinearConceptEraser", "NonlinearConceptEraser",
                             "NNPreservingReducer", "RelativeRepresentation",
                             "SensitivitySampler", "SubspaceClusterer"}

    words = load_sample_words()
    sizes = [int(value) for value in re.findall(r"\d+", sections["Word"].splitlines()[0])]
    assert sizes == [len(words.words), words.data.shape[1], words.minilm.shape[1],
                     int(np.sum(words.target < 2))]
    glove_probe, minilm_probe, chance = printed(sections["Word"], "%")
    assert chance == 50 and glove_probe > 90 and minilm_probe > 55  # gender is present

    before, after, _, edit = printed(sections["LinearConceptEraser"], "%")
    assert before > 90 and 40 <= after < 60 and 0 < edit < 100  # gender erased to chance

    (mlp_linear, mlp_quadratic, qda_linear, qda_quadratic, majority, kept_linear, kept_quadratic,
     mlp_density, qda_density, kept_density) = printed(sections["NonlinearConceptEraser"], "%")
    assert 45 <= majority <= 55
    # Nonlinear probes still read gender after LEACE; the quadratic eraser takes more of it,
    # and more of the neighbourhoods.
    assert majority < mlp_quadratic < mlp_linear and majority < qda_quadratic < qda_linear
    assert 0 < kept_quadratic < kept_linear < 100
    # Dropping directions takes more of gender than LEACE, and more of the neighbourhoods.
    assert majority < mlp_density < mlp_linear and majority < qda_density < qda_linear
    assert 0 < kept_density < kept_linear

    ours, pca = printed(sections["NNPreservingReducer"], "%")
    assert 0 < pca < ours <= 100

    stitched, within = printed(sections["RelativeRepresentation"], "%")
    assert stitched > 55 and within > 55

    lewis, uniform, refined = printed(sections["SensitivitySampler"], "x")
    assert 1 <= refined <= lewis < 2 and 1 <= uniform < 2  # ratios to the optimum

    clustered, kmeans = printed(sections["SubspaceClusterer"], "%")
    assert kmeans < clustered <= 100

    listed = footer.splitlines()[0].partition(": ")[2].rstrip(".").split(", ")
    assert listed == [name for name, _ in all_estimators()]


def test_npy_to_npy_with_params(pca_command, tmp_path, capsys):
    X = np.random.RandomState(0).normal(size=(30, 4))
    np.save(tmp_path / "x.npy", X)
    status = cli.main(
        ["pca", str(tmp_path / "x.npy"), "-o", str(tmp_path / "out.npy"),
         "--param", "n_components=2", "--param", "random_state=0"]
    )
    assert status == 0
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), PCA(2).fit_transform(X))


def test_csv_with_header_and_target_column(pca_command, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 3))
    path = tmp_path / "x.csv"
    np.savetxt(path, np.column_stack([X, np.arange(10) % 2]), delimiter=",",
               header="a,b,c,label", comments="")
    assert cli.main(["scale-supervised", str(path), "-o", str(tmp_path / "o.csv"),
                     "--y-column", "label"]) == 0
    written = np.loadtxt(tmp_path / "o.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(written, StandardScaler().fit_transform(X), rtol=1e-7)
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "a,b,c"


def test_parquet_input(pca_command, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(np.random.RandomState(0).normal(size=(8, 3)), columns=list("xyz"))
    frame.to_parquet(tmp_path / "x.parquet")
    assert cli.main(["pca", str(tmp_path / "x.parquet"), "-o", str(tmp_path / "o.npy")]) == 0
    assert np.load(tmp_path / "o.npy").shape == (8, 3)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d: ["pca", str(d / "missing.npy"), "-o", str(d / "o.npy")], "no such file"),
        (lambda d: ["pca", str(d / "x.txt"), "-o", str(d / "o.npy")], "unknown file type"),
        (lambda d: ["pca", str(d / "x.npy"), "-o", str(d / "o.json")], "unknown file type"),
        (lambda d: ["pca", str(d / "x.npy"), "-o", str(d / "o.npy"), "--param", "n_components"],
         "name=value"),
        (lambda d: ["pca", str(d / "x.npy"), "-o", str(d / "o.npy"), "--param", "colour=1"],
         "colour"),
        (lambda d: ["pca", str(d / "x.npy"), "-o", str(d / "o.npy"), "--param", "n_components=-3"],
         "n_components"),
        (lambda d: ["pca", str(d / "bad.csv"), "-o", str(d / "o.npy")], "cannot read"),
        (lambda d: ["scale-supervised", str(d / "x.npy"), "-o", str(d / "o.npy")], "--y"),
        (lambda d: ["pca", str(d / "x.csv"), "-o", str(d / "o.npy"), "--y-column", "nope"],
         "not a column"),
    ],
)
def test_bad_files_and_parameters_exit_2_with_one_line(pca_command, tmp_path, capsys,
                                                        make_args, message):
    np.save(tmp_path / "x.npy", np.ones((5, 2)))
    np.savetxt(tmp_path / "x.csv", np.ones((5, 2)), delimiter=",", header="a,b", comments="")
    (tmp_path / "x.txt").write_text("1 2\n")
    (tmp_path / "bad.csv").write_text("1,2\n3,oops\n")
    line = one_line_error(capsys, cli.main(make_args(tmp_path)))
    assert message in line


def test_nan_input_is_reported_by_the_estimator(pca_command, tmp_path, capsys):
    X = np.ones((5, 2))
    X[0, 0] = np.nan
    np.save(tmp_path / "x.npy", X)
    line = one_line_error(capsys, cli.main(["pca", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.npy")]))
    assert "NaN" in line


def test_erase_command(tmp_path):
    from skembed import LinearConceptEraser

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 5))
    z = (X[:, 0] > 0).astype(int)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "z.npy", z)
    status = cli.main(
        ["erase", "--input", str(tmp_path / "X.npy"), "--concept", str(tmp_path / "z.npy"),
         "--output", str(tmp_path / "out.npy"), "--param", "method=orth"]
    )
    assert status == 0
    expected = LinearConceptEraser(method="orth").fit_transform(X, z)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected)


def test_erase_command_errors(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.random.RandomState(0).normal(size=(20, 3)))
    np.save(tmp_path / "z.npy", np.zeros(20))
    args = ["erase", str(tmp_path / "X.npy"), "-o", str(tmp_path / "o.npy")]
    assert "--concept FILE" in one_line_error(capsys, cli.main(args))
    line = one_line_error(capsys, cli.main([*args, "--concept", str(tmp_path / "z.npy")]))
    assert "1 class" in line
    line = one_line_error(capsys, cli.main([*args, "--concept", str(tmp_path / "z.npy"),
                                            "--param", "method=nope"]))
    assert "method" in line
    assert "no input" in one_line_error(capsys, cli.main(["erase", "-o", str(tmp_path / "o.npy")]))


def test_reduce_command(tmp_path):
    from skembed import NNPreservingReducer

    X = np.random.RandomState(0).normal(size=(120, 6))
    np.save(tmp_path / "X.npy", X)
    status = cli.main(["reduce", "--input", str(tmp_path / "X.npy"), "--output",
                       str(tmp_path / "Y.csv"), "--param", "n_components=2",
                       "--param", "max_iter=1", "--param", "random_state=0"])
    assert status == 0
    expected = NNPreservingReducer(2, max_iter=1, random_state=0).fit_transform(X)
    lines = (tmp_path / "Y.csv").read_text().splitlines()
    assert lines[0] == "nnpreservingreducer0,nnpreservingreducer1"
    np.testing.assert_allclose(np.loadtxt(lines[1:], delimiter=","), expected, rtol=1e-7)


class _EveryOtherRow:
    """A minimal sampler: keeps rows 0, 2, 4, ... with weight 2."""

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        self.sample_indices_ = np.arange(0, len(X), 2)
        self.sample_weight_ = np.full(len(self.sample_indices_), 2.0)
        return self


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_sampler_output_writes_indices_and_weights(monkeypatch, tmp_path, capsys, suffix):
    monkeypatch.setitem(
        cli.COMMANDS, "halve", cli.EstimatorCommand(_EveryOtherRow, "halve", output="sample")
    )
    np.save(tmp_path / "x.npy", np.zeros((7, 2)))
    out = tmp_path / f"rows{suffix}"
    assert cli.main(["halve", str(tmp_path / "x.npy"), "-o", str(out)]) == 0
    if suffix == ".npz":
        saved = np.load(out)
        indices, weights = saved["indices"], saved["sample_weight"]
    else:
        table = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
        indices, weights = table[:, 0].astype(int), table[:, 1]
    np.testing.assert_array_equal(indices, [0, 2, 4, 6])
    np.testing.assert_array_equal(weights, [2.0] * 4)
    assert "wrote 4 of 7 rows" in capsys.readouterr().out


def test_sampler_output_rejects_npy(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(
        cli.COMMANDS, "halve", cli.EstimatorCommand(_EveryOtherRow, "halve", output="sample")
    )
    np.save(tmp_path / "x.npy", np.zeros((7, 2)))
    status = cli.main(["halve", str(tmp_path / "x.npy"), "-o", str(tmp_path / "rows.npy")])
    assert ".npz or .csv" in one_line_error(capsys, status)


def test_cluster_relative_and_sample_commands(tmp_path, capsys):
    from skembed.datasets import make_subspaces
    from skembed.metrics import clustering_accuracy

    X, y = make_subspaces(n_samples=120, n_subspaces=3, random_state=0)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "t.npy", X @ np.arange(X.shape[1]))

    assert cli.main(["cluster", str(tmp_path / "x.npy"), "-o", str(tmp_path / "labels.npy"),
                     "--param", "n_clusters=3"]) == 0
    assert clustering_accuracy(y, np.load(tmp_path / "labels.npy")) > 0.95

    assert cli.main(["relative", str(tmp_path / "x.npy"), "-o", str(tmp_path / "r.npy"),
                     "--param", "n_anchors=10", "--param", "random_state=0"]) == 0
    assert np.load(tmp_path / "r.npy").shape == (120, 10)

    assert cli.main(["sample", str(tmp_path / "x.npy"), "--target", str(tmp_path / "t.npy"),
                     "-o", str(tmp_path / "rows.npz"), "--param", "n_samples=30",
                     "--param", "random_state=0"]) == 0
    rows = np.load(tmp_path / "rows.npz")
    assert 0 < len(rows["indices"]) < 120
    assert rows["indices"].shape == rows["sample_weight"].shape
    assert np.all(rows["sample_weight"] >= 1)


def test_translate_command_and_sparse_relative_output(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "target.npy", X @ rotation)
    assert cli.main(["translate", str(tmp_path / "x.npy"), "--target", str(tmp_path / "target.npy"),
                     "-o", str(tmp_path / "mapped.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "mapped.npy"), X @ rotation, atol=1e-8)

    assert cli.main(["relative", str(tmp_path / "x.npy"), "-o", str(tmp_path / "r.csv"),
                     "--param", "n_anchors=10", "--param", "top_k=3",
                     "--param", "random_state=0"]) == 0
    table = np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1)
    assert table.shape == (50, 10) and np.all(np.count_nonzero(table, axis=1) <= 3)


# ----------------------------------------------------------------------------
# The installed command, run as a user runs it: exit status, one stderr line,
# and the bytes of any existing output (issue 14, section 3; issue 18, item 1).
# ----------------------------------------------------------------------------

#: Run in a subprocess: loads the installed ``skembed`` console script's entry
#: point once, then runs each case (one JSON line on stdin) in a forked child
#: with its own working directory, stdout/stderr files, resource limits and
#: exit status, exactly as ``sys.exit(main())`` in the installed script does.
#: Importing skembed takes seconds, so a fresh interpreter per case would make
#: these tests slow; a fork starts each case from a clean interpreter state
#: (warning filters, no pytest) in milliseconds. A few cases also run the
#: ``skembed`` executable itself (``run_installed``).
LAUNCHER = r"""
import json, os, resource, sys, traceback
from importlib.metadata import entry_points

main = next(ep for ep in entry_points(group="console_scripts") if ep.name == "skembed").load()
cli = sys.modules[main.__module__]


class Failing:
    # An estimator whose fit raises what a solver raises: SolverError cannot
    # be provoked reliably on purpose, and estimators are being fixed not to.
    def __init__(self, fault):
        self.fault = fault

    def set_params(self, **params):
        return self

    def fit_transform(self, X, y=None):
        if self.fault == "solver_error":
            from cvxpy.error import SolverError

            raise SolverError("Solver 'CLARABEL' failed. Try another solver, or solve with "
                              "verbose=True for more information.")
        if self.fault == "memory_error":
            raise MemoryError()
        raise RuntimeError(self.fault)


def virtual_memory():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024


def run(case):
    os.chdir(case["cwd"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    if case["fault"]:
        cli.COMMANDS["fail"] = cli.EstimatorCommand(lambda: Failing(case["fault"]), "fails")
    if case["fsize"]:
        resource.setrlimit(resource.RLIMIT_FSIZE, (case["fsize"], case["fsize"]))
    if case["memory"]:
        limit = virtual_memory() + case["memory"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.argv = ["skembed", *case["argv"]]
    sys.exit(main())


for line in sys.stdin:
    case = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            run(case)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
"""

#: One BLAS thread: the cases are tiny, and forked children must not inherit
#: a thread pool; no PYTHONWARNINGS, so warnings show as a user would see them.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str

    def error_line(self):
        """The one line of a failed run (status 2, one stderr line, no traceback)."""
        lines = self.stderr.strip().splitlines()
        assert self.status == 2, (self.status, self.stderr)
        assert len(lines) == 1, self.stderr
        assert "Traceback" not in self.stderr and "Warning:" not in self.stderr
        return lines[0]


class Launcher:
    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=ENV,
        )

    def __call__(self, cwd, *argv, fault=None, fsize=None, memory=None):
        out, err = Path(cwd) / ".stdout.txt", Path(cwd) / ".stderr.txt"
        case = dict(argv=[str(a) for a in argv], cwd=str(cwd), stdout=str(out),
                    stderr=str(err), fault=fault, fsize=fsize, memory=memory)
        self.process.stdin.write(json.dumps(case) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        assert reply, "the launcher died"
        run = Run(json.loads(reply), out.read_text(), err.read_text())
        out.unlink()
        err.unlink()
        return run

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def skembed():
    """Run the installed command: ``skembed(cwd, *argv)`` returns a :class:`Run`."""
    if os.name != "posix" or not any(
        ep.name == "skembed" for ep in entry_points(group="console_scripts")
    ):
        pytest.skip("needs skembed installed (pip install .) on a POSIX system")
    launcher = Launcher()
    yield launcher
    launcher.close()


def run_installed(cwd, *argv, preexec_fn=None):
    """Run the ``skembed`` executable itself in a subprocess."""
    executable = shutil.which("skembed", path=f"{Path(sys.executable).parent}{os.pathsep}"
                              f"{os.environ.get('PATH', '')}")
    if executable is None:
        pytest.skip("the skembed command is not installed (pip install .)")
    done = subprocess.run([executable, *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, env=ENV, preexec_fn=preexec_fn, timeout=120)
    return Run(done.returncode, done.stdout, done.stderr)


SENTINEL = b"the user's previous results\n" * 4


def existing_output(path):
    path.write_bytes(SENTINEL)
    return path


def assert_unchanged(directory, files):
    """The directory holds exactly ``files`` ({name: bytes}): no temporary file left."""
    assert {p.name: p.read_bytes() for p in Path(directory).iterdir() if p.is_file()} == files


def gender_data(n=60, d=4, seed=0):
    X = np.random.RandomState(seed).normal(size=(n, d))
    return X, np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "male", "female")


def test_empty_and_header_only_inputs_exit_2_with_one_line(skembed, tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    np.save(tmp_path / "no_rows.npy", np.empty((0, 3)))
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "blank.csv").write_text("\n\n")
    (tmp_path / "header.csv").write_text("a,b,c\n")
    (tmp_path / "index_header.csv").write_text(",0,1,2\n")  # DataFrame(np.empty((0, 3))).to_csv
    expected = {"empty.npy": "empty", "no_rows.npy": "no rows", "empty.csv": "empty",
                "blank.csv": "no rows", "header.csv": "no data rows",
                "index_header.csv": "no data rows"}
    for name, message in expected.items():
        line = skembed(tmp_path, "reduce", name, "-o", "out.npy").error_line()
        assert name in line and message in line, line
    # An empty target file too.
    np.save(tmp_path / "x.npy", np.ones((5, 2)))
    line = skembed(tmp_path, "erase", "x.npy", "--concept", "empty.csv", "-o", "o.npy").error_line()
    assert "empty.csv" in line and "empty" in line
    assert not (tmp_path / "out.npy").exists() and not (tmp_path / "o.npy").exists()


def test_output_is_checked_before_the_fit(skembed, tmp_path):
    # The input has a NaN, so a fit would fail with a message about it: an
    # error about the output shows the output was checked first.
    X = np.ones((40, 3))
    X[0, 0] = np.nan
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "out.npy").mkdir()
    existing_output(tmp_path / "old.npy")
    cases = {
        "no/such/dir/out.npy": "does not exist",
        "out.npy": "is a directory",
        "x.npy": "--force",
        "old.npy": "--force",
    }
    for output, message in cases.items():
        line = skembed(tmp_path, "reduce", "x.npy", "-o", output).error_line()
        assert message in line and "NaN" not in line, line
    assert_unchanged(tmp_path, {"x.npy": (tmp_path / "x.npy").read_bytes(), "old.npy": SENTINEL})
    # A usage error is one line too.
    line = skembed(tmp_path, "reduce", "x.npy").error_line()
    assert "-o/--output" in line and "--help" in line


def test_force_replaces_an_existing_output_or_the_input(skembed, tmp_path):
    from skembed import LinearConceptEraser

    X, z = gender_data()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "z.npy", z)
    expected = LinearConceptEraser().fit_transform(X, z)
    existing_output(tmp_path / "out.npy")
    assert skembed(tmp_path, "erase", "x.npy", "--concept", "z.npy", "-o", "out.npy",
                   "--force").status == 0
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected)
    assert skembed(tmp_path, "erase", "x.npy", "--concept", "z.npy", "-o", "x.npy",
                   "--force").status == 0
    np.testing.assert_allclose(np.load(tmp_path / "x.npy"), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "x.npy", "z.npy"]
    assert (tmp_path / "out.npy").stat().st_mode == (tmp_path / "z.npy").stat().st_mode


def test_fit_failures_exit_2_with_one_line_and_keep_the_existing_output(skembed, tmp_path):
    X, z = gender_data()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "one_class.npy", np.zeros(len(X)))
    existing_output(tmp_path / "out.npy")
    files = {name: (tmp_path / name).read_bytes() for name in ("x.npy", "one_class.npy", "out.npy")}

    # An estimator's ValueError.
    line = skembed(tmp_path, "erase", "x.npy", "--concept", "one_class.npy", "-o", "out.npy",
                   "--force").error_line()
    assert "LinearConceptEraser" in line and "1 class" in line
    # What solvers raise: cvxpy's SolverError, a MemoryError with no message.
    line = skembed(tmp_path, "fail", "x.npy", "-o", "out.npy", "--force",
                   fault="solver_error").error_line()
    assert "Failing: SolverError: Solver 'CLARABEL' failed" in line
    line = skembed(tmp_path, "fail", "x.npy", "-o", "out.npy", "--force",
                   fault="memory_error").error_line()
    assert "Failing: out of memory" in line and "sample of the rows" in line
    assert_unchanged(tmp_path, files)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc")
def test_running_out_of_memory_exits_2_with_one_line(skembed, tmp_path):
    # A real allocation failure: the n x n matrix of 'lsr' on 6,000 rows
    # needs about 300 MB per copy, with 150 MB left to the process.
    np.save(tmp_path / "x.npy", np.random.RandomState(0).normal(size=(6000, 5)))
    existing_output(tmp_path / "labels.npy")
    line = skembed(tmp_path, "cluster", "x.npy", "-o", "labels.npy", "--force",
                   "--param", "method='lsr'", "--param", "n_clusters=3",
                   memory=150 * 2**20).error_line()
    assert line.startswith("skembed cluster: error: SubspaceClusterer") and "memory" in line
    assert (tmp_path / "labels.npy").read_bytes() == SENTINEL


def test_huge_values_give_one_line_and_no_warnings(skembed, tmp_path):
    X = np.random.RandomState(0).normal(size=(120, 4)) * 1e200
    np.save(tmp_path / "x.npy", X)
    existing_output(tmp_path / "out.npy")
    for argv in (["translate", "x.npy", "--target", "x.npy"],
                 ["relative", "x.npy", "--param", "n_anchors=10", "--param", "random_state=0"]):
        run = skembed(tmp_path, *argv, "-o", "out.npy", "--force")
        if run.status == 0:  # a result is written only when it is finite
            assert np.all(np.isfinite(np.load(tmp_path / "out.npy")))
            assert "Warning" not in run.stderr and "encountered" not in run.stderr
            existing_output(tmp_path / "out.npy")
        else:
            assert "rescale" in run.error_line()
            assert (tmp_path / "out.npy").read_bytes() == SENTINEL


def test_a_write_failing_halfway_leaves_the_existing_output(tmp_path):
    """The issue's reproduction (``ulimit -f 8``) on the ``skembed`` executable."""
    resource = pytest.importorskip("resource")
    np.save(tmp_path / "x.npy", np.random.RandomState(0).normal(size=(300, 6)))
    existing_output(tmp_path / "out.csv")
    files = {name: (tmp_path / name).read_bytes() for name in ("x.npy", "out.csv")}

    def limit_file_size():  # 8 KB; the output is about 50 KB
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    line = run_installed(tmp_path, "translate", "x.npy", "--target", "x.npy", "-o", "out.csv",
                         "--force", preexec_fn=limit_file_size).error_line()
    assert "cannot write out.csv" in line and "existing file is unchanged" in line
    assert_unchanged(tmp_path, files)


def test_a_write_failing_halfway_in_process(monkeypatch, pca_command, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.RandomState(0).normal(size=(20, 3)))
    existing_output(tmp_path / "out.npy")

    def half_then_disk_full(handle, values):
        handle.write(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", half_then_disk_full)
    status = cli.main(["pca", str(tmp_path / "x.npy"), "-o", str(tmp_path / "out.npy"), "--force"])
    assert "No space left on device" in one_line_error(capsys, status)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "x.npy"]
    assert (tmp_path / "out.npy").read_bytes() == SENTINEL


class _Payload:
    """Unpickling this runs ``os.mkdir(path)``: the marker of code execution."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_a_malicious_npy_is_never_unpickled(skembed, tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([_Payload(str(marker))], dtype=object)
    np.save(tmp_path / "evil.npy", payload, allow_pickle=True)
    np.load(tmp_path / "evil.npy", allow_pickle=True)  # the payload is live...
    assert marker.is_dir()
    marker.rmdir()
    np.save(tmp_path / "x.npy", np.ones((10, 2)))
    for argv in (["reduce", "evil.npy"], ["erase", "x.npy", "--concept", "evil.npy"]):
        line = skembed(tmp_path, *argv, "-o", "out.npy").error_line()
        assert "evil.npy" in line and "never unpickles" in line
    assert not marker.exists()  # ...and was never run


def test_unknown_and_ill_typed_params_exit_2_and_are_never_evaluated(skembed, tmp_path):
    np.save(tmp_path / "x.npy", np.random.RandomState(0).normal(size=(80, 4)))
    marker = tmp_path / "pwned"
    cases = {
        "colour=1": "colour",
        "n_components=[1, 2]": "n_components",
        f"n_components=__import__('os').mkdir({str(marker)!r})": "n_components",
        "n_components": "name=value",
    }
    for param, message in cases.items():
        line = skembed(tmp_path, "reduce", "x.npy", "-o", "out.npy", "--param", param).error_line()
        assert "NNPreservingReducer" in line or message == "name=value"
        assert message in line
    assert not marker.exists() and not (tmp_path / "out.npy").exists()


def test_files_written_by_pandas_and_numpy_read_back_as_written(skembed, tmp_path):
    """Issue 18: DataFrame.to_csv with and without the index, to_parquet and np.save,
    with text labels as the concept, give exactly the in-memory result."""
    pd = pytest.importorskip("pandas")
    from skembed import LinearConceptEraser

    X, z = gender_data()
    expected = LinearConceptEraser().fit_transform(X, z)
    frame, labels = pd.DataFrame(X), pd.Series(z)
    frame.to_csv(tmp_path / "x_index.csv")                           # ,0,1,2,3
    frame.to_csv(tmp_path / "x_noindex.csv", index=False)            # 0,1,2,3
    np.save(tmp_path / "x.npy", X)
    labels.to_csv(tmp_path / "z_index.csv")                          # ,0 / 0,male
    labels.to_csv(tmp_path / "z_noindex.csv", index=False)           # 0 / male
    pd.DataFrame({"gender": z}).to_csv(tmp_path / "z_named.csv", index=False)
    np.savetxt(tmp_path / "z_bare.csv", z, fmt="%s")                 # male / female, no header
    np.save(tmp_path / "z.npy", z)
    with_column = frame.assign(gender=z)
    with_column.to_csv(tmp_path / "xz.csv")
    frame.rename_axis("id").to_csv(tmp_path / "x_named_index.csv")   # id,0,1,2,3
    cases = [
        ("x_index.csv", ["--concept", "z_index.csv"]),
        ("x_named_index.csv", ["--concept", "z_index.csv"]),
        ("x_noindex.csv", ["--concept", "z_noindex.csv"]),
        ("x_noindex.csv", ["--concept", "z_bare.csv"]),
        ("x.npy", ["--concept", "z_named.csv"]),
        ("x.npy", ["--concept", "z.npy"]),
        ("xz.csv", ["--concept-column", "gender"]),
    ]
    if importlib.util.find_spec("pyarrow") is not None:
        frame.to_parquet(tmp_path / "x.parquet")
        labels.to_frame("gender").to_parquet(tmp_path / "z.parquet")
        with_column.rename(columns=str).to_parquet(tmp_path / "xz.parquet")
        cases += [("x.parquet", ["--concept", "z.parquet"]),
                  ("xz.parquet", ["--concept-column", "gender"])]
    for source, target in cases:
        run = skembed(tmp_path, "erase", source, *target, "-o", "out.npy", "--force")
        assert run.status == 0 and run.stderr == "", (source, target, run.stderr)
        np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-12,
                                   err_msg=f"{source} {target}")
    # The CSV skembed writes reads back in pandas as the same numbers.
    assert skembed(tmp_path, "erase", "x_index.csv", "--concept", "z_index.csv",
                   "-o", "out.csv").status == 0
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns) == [str(j) for j in range(X.shape[1])]
    # Up to rounding: the command's process may sum in another order than
    # this one (BLAS kernels depend on memory alignment; numpy 1.24's differ
    # by 2e-15 here), and %.17g then writes those last bits exactly.
    np.testing.assert_allclose(written.to_numpy(), expected, rtol=1e-12,
                               atol=1e-14 * np.abs(expected).max())


def test_header_and_index_flags(skembed, tmp_path):
    pd = pytest.importorskip("pandas")
    X = np.random.RandomState(0).normal(size=(80, 3))
    pd.DataFrame(X).to_csv(tmp_path / "x_index.csv")
    assert skembed(tmp_path, "translate", "x_index.csv", "--target", "x_index.csv",
                   "--index-col", "none", "-o", "kept.npy").status == 0
    assert np.load(tmp_path / "kept.npy").shape == (80, 4)  # the index read as a feature
    # A headerless file whose first row happens to read 0,1,2.
    X[0] = [0, 1, 2]
    np.savetxt(tmp_path / "bare.csv", X, delimiter=",", fmt="%.17g")
    assert skembed(tmp_path, "translate", "bare.csv", "--target", "bare.csv", "--no-header",
                   "-o", "bare.npy").status == 0
    np.testing.assert_allclose(np.load(tmp_path / "bare.npy"), X, atol=1e-8)
    # An unnamed first column that is not 0..n-1 (a filtered frame's index,
    # words, dates) is pandas' index too: a header's empty first cell names
    # no feature.
    pd.DataFrame(X, index=np.arange(80) * 2).to_csv(tmp_path / "x_other.csv")
    assert skembed(tmp_path, "translate", "x_other.csv", "--target", "x_other.csv",
                   "-o", "other.npy").status == 0
    np.testing.assert_allclose(np.load(tmp_path / "other.npy"), X, atol=1e-8)
    # A named index beside pandas' column names 0..k-1 that is not 0..n-1 is
    # ambiguous: the user must say what it is.
    named = pd.DataFrame(X, index=pd.Index(np.arange(80) * 2, name="id"))
    named.to_csv(tmp_path / "x_named.csv")
    line = skembed(tmp_path, "reduce", "x_named.csv", "-o", "o.npy").error_line()
    assert "--index-col 0" in line and "--index-col none" in line


# How CSV files are read (skembed._tables): each layout pandas and numpy write.


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, kwargs, values, names",
    [
        # DataFrame.to_csv: an unnamed index column over 0..n-1, numeric names.
        (",0,1\n0,0.5,1.5\n1,2.5,3.5\n", {}, [[0.5, 1.5], [2.5, 3.5]], ["0", "1"]),
        # to_csv(index=False): the names 0,1 are a header, not a row.
        ("0,1\n0.5,1.5\n2.5,3.5\n", {}, [[0.5, 1.5], [2.5, 3.5]], ["0", "1"]),
        # ...even over integers, for two columns or more.
        ("0,1\n4,5\n6,7\n", {}, [[4, 5], [6, 7]], ["0", "1"]),
        # An index column named as pandas names it once read back.
        ("Unnamed: 0,a\n0,0.5\n1,2.5\n", {}, [[0.5], [2.5]], ["a"]),
        # to_csv(index_label=False): the header has no field for the index.
        ("a,b\n0,0.5,1.5\n1,2.5,3.5\n", {}, [[0.5, 1.5], [2.5, 3.5]], ["a", "b"]),
        # np.savetxt's header ("# a,b"), quoted names, blank lines.
        ("# a,b\n1,2\n\n3,4\n", {}, [[1, 2], [3, 4]], ["a", "b"]),
        ('"x, first",y\n1,2\n', {}, [[1, 2]], ["x, first", "y"]),
        # No header: numbers other than 0..k-1 are data; a single row is a table.
        ("1,2\n3,4\n", {}, [[1, 2], [3, 4]], None),
        ("1.5,2\n", {}, [[1.5, 2]], None),
        # Text labels: a header only when the name is not one of the labels.
        ("male\nfemale\nmale\n", {}, [["male"], ["female"], ["male"]], None),
        ("gender\nmale\nfemale\n", {}, [["male"], ["female"]], ["gender"]),
        ("0\nmale\nfemale\n", {}, [["male"], ["female"]], ["0"]),
        # The row count settles what the content cannot.
        ("0\n1\n0\n", {"n_rows": 3}, [[0], [1], [0]], None),
        ("0\n1\n0\n", {"n_rows": 2}, [[1], [0]], ["0"]),
        ("male\nfemale\n", {"n_rows": 1}, [["female"]], ["male"]),
        # The flags.
        ("0,1\n4,5\n", {"header": False}, [[0, 1], [4, 5]], None),
        ("1,2\n4,5\n", {"header": True}, [[4, 5]], ["1", "2"]),
        (",a\n0,1\n1,2\n", {"index_col": "none"}, [[0, 1], [1, 2]], ["", "a"]),
        # An empty first header cell is pandas' index, whatever it holds.
        (",a\n3,1\n5,2\n", {}, [[1], [2]], ["a"]),
        ("id,a\n7,1\n9,2\n", {"index_col": "id"}, [[1], [2]], ["a"]),
        ("7,1\n9,2\n", {"index_col": "0"}, [[1], [2]], None),
        # A named index (df.index.name = "id") beside pandas' column names.
        ("id,0,1\n0,0.5,1.5\n1,2.5,3.5\n", {}, [[0.5, 1.5], [2.5, 3.5]], ["0", "1"]),
        # ...but a column named beside other names is a feature.
        ("id,a\n0,0.5\n1,2.5\n", {}, [[0, 0.5], [1, 2.5]], ["id", "a"]),
        # Headerless: 0..n-1 over two rows is data; the flag settles three or more.
        ("0,5\n1,6\n", {}, [[0, 5], [1, 6]], None),
        ("0,5\n1,6\n2,7\n", {"index_col": "0"}, [[5], [6], [7]], None),
        ("0,5\n1,6\n2,7\n", {"index_col": "none"}, [[0, 5], [1, 6], [2, 7]], None),
    ],
)
def test_csv_layouts(tmp_path, text, kwargs, values, names):
    from skembed._tables import read_table

    read, read_names = read_table(write(tmp_path / "t.csv", text), **kwargs)
    assert read.tolist() == values and read_names == names


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("0\n1\n0\n", {}, "--header or --no-header"),
        ("id,0\n3,1\n5,2\n", {}, "is named 'id' beside columns named 0..0"),
        ("0,5\n1,6\n2,7\n", {}, "holds 0..n-1, as pandas writes an index with header=False"),
        ("a,b,c\n1,2\n", {}, "3 names but the rows have 2"),
        ("1,2,3\n1,2\n", {}, "the first row has 3 values but the next has 2"),
        ("a,b\n1,2\n3,4,5\n", {}, "cannot read"),
        ("a,b\n1,2\n", {"index_col": "c"}, "'c' is not a column"),
        ("a,b\n1,2\n", {"index_col": "5"}, "out of range"),
        ("a,b\n1,2\n", {"header": False}, "holds text"),
    ],
)
def test_csv_layouts_that_cannot_be_read(tmp_path, text, kwargs, message):
    from skembed._tables import TableError, read_table

    with pytest.raises(TableError, match=re.escape(message)):
        read_table(write(tmp_path / "t.csv", text), **kwargs)


def test_text_in_the_input_is_named(pca_command, tmp_path, capsys):
    write(tmp_path / "x.csv", "a,gender\n1,male\n2,female\n3,male\n")
    line = one_line_error(capsys, cli.main(["pca", str(tmp_path / "x.csv"),
                                            "-o", str(tmp_path / "o.npy")]))
    assert "column 'gender'" in line and "--y-column" in line
    write(tmp_path / "x.csv", "a,b\n1,\n2,3\n")  # pandas writes NaN as an empty cell
    line = one_line_error(capsys, cli.main(["pca", str(tmp_path / "x.csv"),
                                            "-o", str(tmp_path / "o.npy")]))
    assert "column 'b' has an empty cell" in line


def test_help_documents_force_and_csv_reading(capsys):
    with pytest.raises(SystemExit):
        cli.main(["erase", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--force replace the output if it exists" in text
    assert "to_csv(path, index=False)" in text and "--index-col" in text


def test_cluster_asks_for_the_number_of_clusters_before_reading_anything(skembed, tmp_path):
    np.save(tmp_path / "x.npy", np.random.RandomState(0).normal(size=(40, 5)))
    existing_output(tmp_path / "labels.npy")
    line = skembed(tmp_path, "cluster", "x.npy", "-o", "labels.npy", "--force").error_line()
    assert line.startswith("skembed cluster: error: cluster needs --param n_clusters=")
    assert "n_clusters=auto" in line
    assert (tmp_path / "labels.npy").read_bytes() == SENTINEL


def test_reduce_works_with_its_defaults_on_narrow_embeddings(skembed, tmp_path):
    # 50 columns, like GloVe 6B-50d: the default output is half the width.
    np.save(tmp_path / "glove_like.npy", np.random.RandomState(0).normal(size=(200, 50)))
    run = skembed(tmp_path, "reduce", "glove_like.npy", "-o", "reduced.npy")
    assert run.status == 0, run.stderr
    assert np.load(tmp_path / "reduced.npy").shape == (200, 25)


# ----------------------------------------------------------------------------
# Fit once, apply many: --save-model, --model, --transform / --predict, --target
# ----------------------------------------------------------------------------

skops = pytest.importorskip("skops.io")


@pytest.fixture
def concept_files(tmp_path):
    """A training table with a text concept column, new rows, and a task target."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((240, 8))
    concept = np.where(X[:, 0] + 0.3 * rng.standard_normal(240) > 0, "female", "male")
    train = tmp_path / "train.csv"
    with open(train, "w") as handle:
        handle.write(",".join([str(j) for j in range(8)] + ["g"]) + "\n")
        for row, label in zip(X, concept):
            handle.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    new = tmp_path / "new.npy"
    np.save(new, rng.standard_normal((30, 8)))
    task = tmp_path / "task.npy"
    np.save(task, (X[:, 1] > 0).astype(int))
    return X, concept, train, new, task


def read_csv_values(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


@pytest.mark.parametrize("command, fit_options, expected", [
    ("erase", ["--concept-column", "g"], "LinearConceptEraser"),
    ("reduce", ["--param", "n_components=3", "--param", "max_iter=3",
                "--param", "random_state=0"], "NNPreservingReducer"),
    ("relative", ["--param", "random_state=0", "--param", "n_anchors=20"],
     "RelativeRepresentation"),
    ("cluster", ["--param", "n_clusters=2", "--param", "random_state=0"], "SubspaceClusterer"),
])
def test_saved_model_applies_to_new_rows_as_the_fitted_estimator_does(
        command, fit_options, expected, concept_files, tmp_path, capsys):
    """--save-model then --model gives what --transform/--predict give, and what
    the estimator fitted in Python gives on the new rows."""
    X, concept, train, new, _ = concept_files
    model = tmp_path / "model.skops"
    drop = [] if command == "erase" else ["--y-column", "g"] if command == "cluster" else []
    fit_args = [command, str(train), *fit_options, *drop]
    if command in ("reduce", "relative"):
        # These take no target: fit on the numeric columns only.
        np.save(tmp_path / "numeric.npy", X)
        fit_args = [command, str(tmp_path / "numeric.npy"), *fit_options]
    assert cli.main(fit_args + ["-o", str(tmp_path / "fit.csv"),
                                "--save-model", str(model)]) == 0
    assert f"saved the fitted {expected}" in capsys.readouterr().out
    assert cli.main([command, str(new), "--model", str(model),
                     "-o", str(tmp_path / "applied.csv")]) == 0
    apply_flag = "--predict" if command == "cluster" else "--transform"
    assert cli.main(fit_args + [apply_flag, str(new), "-o", str(tmp_path / "direct.csv")]) == 0
    applied = read_csv_values(tmp_path / "applied.csv")
    direct = read_csv_values(tmp_path / "direct.csv")
    assert applied.shape[0] == 30
    np.testing.assert_allclose(applied, direct, rtol=1e-12, atol=1e-12)

    loaded = cli.load_model(model)
    assert type(loaded).__name__ == expected
    rows = np.load(new)
    values = loaded.predict(rows) if command == "cluster" else loaded.transform(rows)
    np.testing.assert_allclose(applied, np.reshape(values, (30, -1)), rtol=1e-12, atol=1e-12)


def test_translate_fits_on_anchor_pairs_and_transforms_any_rows(tmp_path):
    rng = np.random.RandomState(1)
    source, mixing = rng.standard_normal((100, 6)), rng.standard_normal((6, 4))
    np.save(tmp_path / "src.npy", source)
    np.save(tmp_path / "tgt.npy", source @ mixing)
    new = rng.standard_normal((25, 6))
    np.save(tmp_path / "rows.npy", new)
    assert cli.main(["translate", str(tmp_path / "src.npy"), "--target",
                     str(tmp_path / "tgt.npy"), "--transform", str(tmp_path / "rows.npy"),
                     "-o", str(tmp_path / "out.npy")]) == 0
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (25, 4)
    from skembed import LatentTranslator

    expected = LatentTranslator().fit(source, source @ mixing).transform(new)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_splice_reads_its_task_target(concept_files, tmp_path, capsys):
    X, concept, train, _, task = concept_files
    out = tmp_path / "spliced.npy"
    status = cli.main(["erase", str(train), "--concept-column", "g",
                       "--param", "method=splice", "-o", str(out)])
    message = one_line_error(capsys, status)
    assert "method=splice" in message and "--target FILE" in message
    assert not out.exists()
    assert cli.main(["erase", str(train), "--concept-column", "g", "--param", "method=splice",
                     "--target", str(task), "-o", str(out)]) == 0
    from skembed import LinearConceptEraser

    expected = LinearConceptEraser(method="splice").fit(
        X, concept, target=np.load(task)).transform(X)
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("extra, flag", [
    (["--param", "method=orth"], "--param"),
    (["--concept-column", "g"], "--concept"),
    (["--save-model", "again.skops"], "--save-model"),
    (["--transform", "new.npy"], "--transform"),
])
def test_model_mode_refuses_fit_options(extra, flag, concept_files, tmp_path, capsys,
                                        monkeypatch):
    _, _, train, new, _ = concept_files
    monkeypatch.chdir(tmp_path)
    assert cli.main(["erase", str(train), "--concept-column", "g", "-o", "fit.npy",
                     "--save-model", "m.skops"]) == 0
    capsys.readouterr()
    status = cli.main(["erase", str(new), "--model", "m.skops", "-o", "out.npy", *extra])
    message = one_line_error(capsys, status)
    assert flag in message and "only read by a fit" in message
    assert not (tmp_path / "out.npy").exists()


def test_model_of_another_estimator_names_its_command(concept_files, tmp_path, capsys):
    _, _, train, new, _ = concept_files
    model = tmp_path / "eraser.skops"
    assert cli.main(["erase", str(train), "--concept-column", "g", "-o",
                     str(tmp_path / "fit.npy"), "--save-model", str(model)]) == 0
    capsys.readouterr()
    status = cli.main(["reduce", str(new), "--model", str(model), "-o",
                       str(tmp_path / "out.npy")])
    message = one_line_error(capsys, status)
    assert "holds a LinearConceptEraser" in message and "skembed erase --model" in message


def test_save_model_is_checked_before_the_fit(concept_files, tmp_path, capsys, monkeypatch):
    _, _, train, _, _ = concept_files

    def no_fit(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("fitted although --save-model was unusable")

    from skembed import LinearConceptEraser

    monkeypatch.setattr(LinearConceptEraser, "fit", no_fit)
    out = tmp_path / "out.npy"
    status = cli.main(["erase", str(train), "--concept-column", "g", "-o", str(out),
                       "--save-model", str(tmp_path / "model.pkl")])
    assert ".skops" in one_line_error(capsys, status)
    (tmp_path / "model.skops").write_bytes(b"old")
    status = cli.main(["erase", str(train), "--concept-column", "g", "-o", str(out),
                       "--save-model", str(tmp_path / "model.skops")])
    assert "--force" in one_line_error(capsys, status)
    assert (tmp_path / "model.skops").read_bytes() == b"old" and not out.exists()


class _Carrier:
    """An object holding a function, like a model file crafted to run code on load."""

    def __init__(self):
        self.payload = os.system


@pytest.mark.parametrize("make_file", ["function", "foreign class", "not a model"])
def test_loading_refuses_untrusted_or_damaged_files(make_file, tmp_path, capsys):
    from skembed import LinearConceptEraser

    path = tmp_path / "model.skops"
    if make_file == "function":
        eraser = LinearConceptEraser().fit(np.eye(6), [0, 1, 0, 1, 0, 1])
        eraser.payload_ = os.system
        path.write_bytes(skops.dumps(eraser))
        expected = "system"
    elif make_file == "foreign class":
        path.write_bytes(skops.dumps(_Carrier()))
        expected = "_Carrier"
    else:
        path.write_bytes(b"PK\x03\x04 not really a zip file")
        expected = "not a model"
    np.save(tmp_path / "rows.npy", np.eye(6))
    status = cli.main(["erase", str(tmp_path / "rows.npy"), "--model", str(path),
                       "-o", str(tmp_path / "out.npy")])
    message = one_line_error(capsys, status)
    assert expected in message
    if make_file != "not a model":
        assert message.startswith("skembed erase: error: refusing to load")
    assert not (tmp_path / "out.npy").exists()


def test_sample_command_has_no_model_options():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["sample", "x.npy", "-o", "s.npz", "--model", "m.skops"])


@pytest.mark.parametrize("index", [False, True])
def test_missing_value_in_a_pandas_csv_names_its_line_and_column(index, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.RandomState(0).standard_normal((20, 4)))
    frame.iloc[3, 2] = np.nan  # pandas writes it as an empty cell
    frame.to_csv(tmp_path / "x.csv", index=index)
    status = cli.main(["reduce", str(tmp_path / "x.csv"), "-o", str(tmp_path / "out.npy")])
    message = one_line_error(capsys, status)
    # Line 5: the header, then data rows 0..3; column 3 or 4 with the index.
    assert f"line 5, column {4 if index else 3} is empty (a missing value)" in message
    assert "dropna" in message


# ----------------------------------------------------------------------------
# skembed probe: the guardedness report of an erasure
# ----------------------------------------------------------------------------


def _write_with_concept(path, X, concept):
    with open(path, "w") as handle:
        handle.write(",".join([f"x{j}" for j in range(X.shape[1])] + ["gender"]) + "\n")
        for row, label in zip(X, concept):
            handle.write(",".join(repr(float(v)) for v in row) + f",{label}\n")


def _read_report(path):
    import csv

    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_probe_round_trip_after_erase(tmp_path, capsys):
    from skembed.metrics import guardedness_report

    X, concept = gender_data(n=240, d=5)
    _write_with_concept(tmp_path / "x.csv", X, concept)
    assert cli.main(["erase", str(tmp_path / "x.csv"), "--concept-column", "gender",
                     "-o", str(tmp_path / "erased.csv")]) == 0
    capsys.readouterr()
    # The erased file has no concept column: it is read from --original.
    status = cli.main(["probe", str(tmp_path / "erased.csv"), "--original", str(tmp_path / "x.csv"),
                       "--concept-column", "gender", "-o", str(tmp_path / "report.csv"),
                       "--max-train-samples", "100", "--random-state", "1"])
    out = capsys.readouterr().out
    assert status == 0
    rows = _read_report(tmp_path / "report.csv")
    assert list(rows[0]) == ["probe", "accuracy", "balanced_accuracy", "n_train", "n_test",
                             "mean_squared_edit", "neighbour_retention"]
    assert [row["probe"] for row in rows] == ["majority", "linear", "quadratic", "rbf_svm", "mlp"]
    erased = np.loadtxt(tmp_path / "erased.csv", delimiter=",", skiprows=1)
    expected = guardedness_report(erased, concept, X_original=X, max_train_samples=100,
                                  random_state=1)
    for row, record in zip(rows, expected.records()):
        assert row["probe"] == record["probe"]
        for key in ("accuracy", "balanced_accuracy", "mean_squared_edit",
                    "neighbour_retention"):
            assert float(row[key]) == record[key]  # written exactly
        assert int(row["n_train"]) == record["n_train"] and int(row["n_test"]) == 72
    assert rows[3]["n_train"] == "100"
    # The table is printed too.
    assert expected.format() in out and "wrote 5 rows to" in out


def test_probe_reads_the_concept_from_a_file_and_runs_chosen_probes(tmp_path, capsys):
    X, concept = gender_data(n=120, d=3)
    np.save(tmp_path / "erased.npy", X)
    np.save(tmp_path / "concept.npy", concept)
    status = cli.main(["probe", str(tmp_path / "erased.npy"), "--concept",
                       str(tmp_path / "concept.npy"), "-o", str(tmp_path / "report.csv"),
                       "--probes", "quadratic, linear", "--cv", "3"])
    assert status == 0, capsys.readouterr().err
    rows = _read_report(tmp_path / "report.csv")
    assert list(rows[0]) == ["probe", "accuracy", "balanced_accuracy", "n_train", "n_test"]
    assert [row["probe"] for row in rows] == ["majority", "quadratic", "linear"]
    assert all(row["n_test"] == "120" for row in rows)  # 3 folds: every row tested once
    assert float(rows[2]["accuracy"]) > 0.85
    assert "3-fold" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (["--concept", "concept.npy", "--probes", "linear,svm"], "--probes 'linear,svm': unknown probe 'svm'; choose from"),
    (["--concept-column", "sex"], "--concept-column 'sex' is not a column of"),
    (["--concept", "missing.npy"], "cannot read missing.npy: no such file"),
    (["--concept", "short.npy"], "guardedness_report: X_erased has 60 rows but y has 59"),
    (["--concept", "one_class.npy"], "guardedness_report: y has 1 class"),
    (["--concept", "rare.npy"], "guardedness_report: class 'rare' has 3 rows; every class "
                                "needs at least 4"),
    (["--concept", "concept.npy", "--original", "narrow.npy"],
     r"guardedness_report: X_erased has shape \(60, 4\) but X_original has shape \(60, 3\)"),
    (["--concept", "concept.npy", "--test-size", "1.5"],
     "argument --test-size: 1.5 is not strictly between 0 and 1"),
    (["--concept", "concept.npy", "--cv", "two"], "argument --cv: 'two' is not a whole number"),
    (["--concept", "concept.npy", "--concept-column", "gender"], "not allowed with argument"),
    ([], "one of the arguments --concept --concept-column is required"),
])
def test_probe_errors_are_one_line_and_keep_the_output(options, message, tmp_path, capsys,
                                                       monkeypatch):
    X, concept = gender_data(n=60, d=4)
    monkeypatch.chdir(tmp_path)
    _write_with_concept(tmp_path / "x.csv", X, concept)
    np.save(tmp_path / "concept.npy", concept)
    np.save(tmp_path / "short.npy", concept[:59])
    np.save(tmp_path / "one_class.npy", np.full(60, "male"))
    np.save(tmp_path / "rare.npy", np.r_[concept[:57], ["rare"] * 3])
    np.save(tmp_path / "narrow.npy", X[:, :3])
    np.save(tmp_path / "erased.npy", X)
    existing_output(tmp_path / "report.csv")
    erased = "x.csv" if "--concept-column" in options and "--concept" not in options \
        else "erased.npy"
    try:
        status = cli.main(["probe", erased, "-o", "report.csv", "--force", *options])
    except SystemExit as exit_info:  # a usage error, reported by argparse
        status = exit_info.code
    line = one_line_error(capsys, status)
    assert re.search(message, line), line
    assert line.startswith("skembed probe: error: ")
    assert (tmp_path / "report.csv").read_bytes() == SENTINEL


def test_probe_checks_the_output_before_reading_or_fitting(tmp_path, capsys, monkeypatch):
    import skembed.metrics as metrics

    monkeypatch.setattr(metrics, "guardedness_report", None)  # never reached
    existing_output(tmp_path / "report.csv")
    line = one_line_error(capsys, cli.main(["probe", str(tmp_path / "missing.npy"), "--concept",
                                            str(tmp_path / "missing.npy"),
                                            "-o", str(tmp_path / "report.csv")]))
    assert "the file exists; pass --force" in line
    line = one_line_error(capsys, cli.main(["probe", str(tmp_path / "missing.npy"), "--concept",
                                            str(tmp_path / "missing.npy"),
                                            "-o", str(tmp_path / "report.npy")]))
    assert "unknown file type; use .csv" in line
    assert_unchanged(tmp_path, {"report.csv": SENTINEL})


def test_applying_a_model_matches_columns_by_name(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.standard_normal((200, 5)), columns=[f"d{j}" for j in range(5)])
    frame["g"] = np.where(frame["d0"] > 0, "f", "m")
    frame.to_csv(tmp_path / "train.csv", index=False)
    model = tmp_path / "m.skops"
    assert cli.main(["erase", str(tmp_path / "train.csv"), "--concept-column", "g",
                     "-o", str(tmp_path / "fit.csv"), "--save-model", str(model)]) == 0
    # The same file (with the concept column) and its columns reversed.
    frame[frame.columns[::-1]].to_csv(tmp_path / "reversed.csv", index=False)
    for name in ("train.csv", "reversed.csv"):
        assert cli.main(["erase", str(tmp_path / name), "--model", str(model),
                         "-o", str(tmp_path / f"out_{name}")]) == 0
    straight = pd.read_csv(tmp_path / "out_train.csv")
    reversed_ = pd.read_csv(tmp_path / "out_reversed.csv")
    assert list(reversed_.columns) == [f"d{j}" for j in range(5)]
    np.testing.assert_allclose(reversed_.to_numpy(), straight.to_numpy(), atol=1e-12)
    capsys.readouterr()
    frame[["d1", "d2"]].to_csv(tmp_path / "few.csv", index=False)
    status = cli.main(["erase", str(tmp_path / "few.csv"), "--model", str(model),
                       "-o", str(tmp_path / "few_out.csv")])
    assert "lacks column(s) ['d0', 'd3', 'd4']" in one_line_error(capsys, status)


def test_missing_text_label_is_refused_and_word_index_dropped(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(1)
    X = rng.standard_normal((60, 4))
    np.save(tmp_path / "x.npy", X)
    labels = pd.Series(np.where(X[:, 0] > 0, "female", "male"),
                       index=[f"word{i}" for i in range(60)])
    labels.to_csv(tmp_path / "words.csv")  # pandas' unnamed index of words
    assert cli.main(["erase", str(tmp_path / "x.npy"), "--concept", str(tmp_path / "words.csv"),
                     "-o", str(tmp_path / "out.npy")]) == 0
    assert np.load(tmp_path / "out.npy").shape == (60, 4)
    labels.iloc[3] = None
    labels.to_csv(tmp_path / "missing.csv")
    status = cli.main(["erase", str(tmp_path / "x.npy"), "--concept",
                       str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out2.npy")])
    assert "1 missing value(s) (first at row 3)" in one_line_error(capsys, status)
    assert not (tmp_path / "out2.npy").exists()


def test_column_names_with_commas_are_quoted_in_csv_output(tmp_path):
    path = tmp_path / "quoted.csv"
    write(path, '"a,1",b,c\n1,2,3\n4,5,6\n')
    assert cli.main(["translate", str(path), "--target", str(path), "-o",
                     str(tmp_path / "out.csv")]) == 0
    values, names = cli.read_table(tmp_path / "out.csv")
    assert values.shape == (2, 3) and names is not None and len(names) == 3


@pytest.mark.parametrize("damage", ["schema-list", "not-a-file"])
def test_damaged_model_files_are_one_line_errors(damage, tmp_path, capsys):
    import zipfile

    np.save(tmp_path / "rows.npy", np.eye(4))
    if damage == "schema-list":
        path = tmp_path / "m.skops"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("schema.json", "[]")
    else:
        path = tmp_path / "a_directory.skops"
        path.mkdir()
    status = cli.main(["erase", str(tmp_path / "rows.npy"), "--model", str(path),
                       "-o", str(tmp_path / "out.npy")])
    assert "cannot read the model" in one_line_error(capsys, status)


def test_apply_file_of_another_width_is_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    from skembed import NNPreservingReducer

    def no_fit(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("fitted although the apply file was unusable")

    monkeypatch.setattr(NNPreservingReducer, "fit", no_fit)
    np.save(tmp_path / "x.npy", np.random.RandomState(0).standard_normal((50, 6)))
    np.save(tmp_path / "narrow.npy", np.ones((5, 4)))
    status = cli.main(["reduce", str(tmp_path / "x.npy"), "--transform",
                       str(tmp_path / "narrow.npy"), "-o", str(tmp_path / "out.npy")])
    assert "has 4 column(s) but the input has 6" in one_line_error(capsys, status)
