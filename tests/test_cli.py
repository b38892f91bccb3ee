import re

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


def test_demo_runs_every_section_on_bundled_sample(capsys):
    """One run of the whole demo (it takes a while): each section prints sane figures."""
    assert cli.main(["demo"]) == 0
    header, *blocks, footer = capsys.readouterr().out.strip().split("\n\n")
    assert header == f"skembed {__version__} demo"
    # One block per section, named by the estimator it runs (the sample comes first).
    sections = {block.split()[0]: block for block in blocks}
    assert len(blocks) == len(_demo.DEMOS) == len(sections)
    assert set(sections) == {"Word", "LinearConceptEraser", "NNPreservingReducer",
                             "RelativeRepresentation", "SensitivitySampler", "SubspaceClusterer"}

    words = load_sample_words()
    sizes = [int(value) for value in re.findall(r"\d+", sections["Word"].splitlines()[0])]
    assert sizes == [len(words.words), words.data.shape[1], words.minilm.shape[1],
                     int(np.sum(words.target < 2))]
    glove_probe, minilm_probe, chance = printed(sections["Word"], "%")
    assert chance == 50 and glove_probe > 90 and minilm_probe > 55  # gender is present

    before, after, _, edit = printed(sections["LinearConceptEraser"], "%")
    assert before > 90 and 40 <= after < 60 and 0 < edit < 100  # gender erased to chance

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
