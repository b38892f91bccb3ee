"""
=========================================
Gender in two encoders' word embeddings
=========================================

The word sample shipped with skembed holds 3,000 words embedded by two
encoders: GloVe 6B-50d (a static word model) and all-MiniLM-L6-v2 (a sentence
encoder). 1,500 of them are labelled female or male by the GloVe gender
benchmark. This example measures how linearly present gender is in each space
(the figure a concept eraser must bring to 50%) and how many nearest
neighbours a PCA keeps as it shrinks the MiniLM vectors (the baseline a
neighbour-preserving reducer must beat).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skembed.datasets import load_sample_words
from skembed.metrics import knn_recall, linear_probe_accuracy

words = load_sample_words()
gendered = words.target < 2

# %%
# Projection on the direction between the class means
# ----------------------------------------------------
# A linear probe separates the classes when their projections on some
# direction do not overlap; the difference of the class means is a simple
# such direction.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, (name, X) in zip(axes, [("GloVe 50-d", words.data), ("MiniLM 384-d", words.minilm)]):
    X, y = X[gendered], words.target[gendered]
    direction = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    projection = X @ direction / np.linalg.norm(direction)
    accuracy = linear_probe_accuracy(X, y)
    for label, colour in [(0, "tab:red"), (1, "tab:blue")]:
        ax.hist(projection[y == label], bins=40, alpha=0.6, color=colour,
                label=words.target_names[label])
    ax.set_title(f"{name}: probe accuracy {accuracy:.0%}")
    ax.set_xlabel("projection on the mean-difference direction")
axes[0].legend()
fig.tight_layout()

# %%
# Neighbours kept by PCA
# ----------------------
# The fraction of each word's 10 nearest MiniLM neighbours that are still
# among its 10 nearest after a PCA to k dimensions.

dimensions = [4, 8, 16, 32, 64, 128]
recalls = [
    knn_recall(words.minilm, PCA(n_components=k, random_state=0).fit_transform(words.minilm),
               n_neighbors=10)
    for k in dimensions
]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(dimensions, recalls, marker="o")
ax.set_xscale("log", base=2)
ax.set_xlabel("PCA dimensions")
ax.set_ylabel("10-NN recall")
ax.set_title("MiniLM word vectors")
fig.tight_layout()
plt.show()
