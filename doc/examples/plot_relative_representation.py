"""
=====================================================
Two encoders, one space: relative representations
=====================================================

The word sample shipped with skembed embeds the same 3,000 words with GloVe
(50-d) and with all-MiniLM-L6-v2 (384-d). The two spaces have nothing in
common: different widths, different axes. Describing every word by its
similarities to the same 300 *anchor* words in each space
(:class:`~skembed.RelativeRepresentation`) makes them comparable: a gender
classifier trained on GloVe's relative representations is applied, as is,
to MiniLM's (zero-shot stitching).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from skembed import LatentTranslator, RelativeRepresentation
from skembed.datasets import load_sample_words

words = load_sample_words()
glove, minilm, y = words.data.astype(np.float64), words.minilm.astype(np.float64), words.target
gendered = np.flatnonzero(y < 2)
train, test = gendered[::2], gendered[1::2]

# Parallel anchors: 300 words drawn once, used in both spaces. Each space's
# columns are standardised on its own data (normalize="standard").
glove_relative = RelativeRepresentation(300, normalize="standard", random_state=0).fit(glove)
anchors = glove_relative.anchor_indices_
minilm_relative = RelativeRepresentation(anchors=anchors, normalize="standard").fit(minilm)
R_glove, R_minilm = glove_relative.transform(glove), minilm_relative.transform(minilm)

# %%
# Zero-shot stitching
# -------------------
# Train on GloVe, test on MiniLM, without ever fitting anything on MiniLM's
# labels; compare with a classifier trained and tested within MiniLM.

stitched = LogisticRegression(max_iter=2000).fit(R_glove[train], y[train])
within = LogisticRegression(max_iter=2000).fit(R_minilm[train], y[train])
stitched_accuracy = stitched.score(R_minilm[test], y[test])
within_accuracy = within.score(R_minilm[test], y[test])
print(f"stitched GloVe -> MiniLM: {stitched_accuracy:.1%}; within MiniLM: {within_accuracy:.1%}")

# The same through an explicit map: LatentTranslator fits an orthogonal map
# MiniLM -> GloVe on the anchors alone; the GloVe classifier reads the result.
translator = LatentTranslator().fit(minilm[anchors], glove[anchors])
raw_classifier = LogisticRegression(max_iter=2000).fit(glove[train], y[train])
translated_accuracy = raw_classifier.score(translator.transform(minilm[test]), y[test])
print(f"translated MiniLM -> GloVe, GloVe classifier: {translated_accuracy:.1%}")

# %%
# Before and after
# ----------------
# Top: each space's own 2-D PCA; the two pictures are unrelated. Bottom: one
# PCA fitted on GloVe's relative representations and applied to both, the
# same ten words labelled in each: in relative coordinates the "other" words
# and the gendered ones fall on the same sides in both encoders, and the
# labelled words land in the same regions (MiniLM's gender signal is weaker,
# hence its tighter, more mixed cloud).

colours = np.array(["tab:red", "tab:blue", "lightgrey"])
fig, axes = plt.subplots(2, 2, figsize=(9, 8))
for ax, data, name in [(axes[0, 0], glove, "GloVe"), (axes[0, 1], minilm, "MiniLM")]:
    points = PCA(2).fit_transform(data)
    ax.scatter(*points.T, c=colours[y], s=4)
    ax.set_title(f"{name}: own PCA of the raw vectors")

shared = PCA(2).fit(R_glove)
P_glove, P_minilm = shared.transform(R_glove), shared.transform(R_minilm)
for ax, points, name in [(axes[1, 0], P_glove, "GloVe"), (axes[1, 1], P_minilm, "MiniLM")]:
    ax.scatter(*points.T, c=colours[y], s=4)
    ax.set_title(f"{name}: relative representation (shared PCA)")
sample = np.random.RandomState(0).choice(len(glove), 10, replace=False)
limits = axes[1, 0].get_xlim(), axes[1, 0].get_ylim()
for ax in axes[1]:
    ax.set_xlim(limits[0])
    ax.set_ylim(limits[1])
for i in sample:
    axes[1, 1].annotate(words.words[i], P_minilm[i], fontsize=7)
    axes[1, 0].annotate(words.words[i], P_glove[i], fontsize=7)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(
    f"female (red), male (blue), other (grey); stitched gender accuracy "
    f"{stitched_accuracy:.0%} vs {within_accuracy:.0%} within MiniLM"
)
fig.tight_layout()
plt.show()
