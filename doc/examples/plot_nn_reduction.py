"""
=====================================================
Recall of nearest neighbours against the dimension
=====================================================

Vector search needs each point's nearest neighbours, not its variance. We
reduce the MiniLM vectors of the shipped word sample with PCA, a Gaussian
random projection and :class:`~skembed.NNPreservingReducer`, fitting on 80% of
the words and measuring, for the other 20%, how many of their 10 nearest
neighbours (among all words) survive the reduction.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.random_projection import GaussianRandomProjection

from skembed import NNPreservingReducer
from skembed.datasets import load_sample_words
from skembed.utils import exact_kneighbors, neighbour_overlap

X = load_sample_words().minilm.astype(np.float64)
X /= np.linalg.norm(X, axis=1, keepdims=True)
order = np.random.RandomState(0).permutation(len(X))
fit_rows, queries = np.sort(order[:2400]), np.sort(order[2400:])
truth = exact_kneighbors(X, 10, queries=queries, return_distance=False)


def held_out_recall(model):
    reduced = model.fit(X[fit_rows]).transform(X)
    found = exact_kneighbors(reduced, 10, queries=queries, return_distance=False)
    return neighbour_overlap(found, truth)


dimensions = [4, 8, 16, 32, 64]
methods = {
    "NNPreservingReducer": lambda m: NNPreservingReducer(m, max_iter=4, random_state=0),
    "PCA": lambda m: PCA(m, random_state=0),
    "random projection": lambda m: GaussianRandomProjection(m, random_state=0),
}
curves = {name: [held_out_recall(make(m)) for m in dimensions] for name, make in methods.items()}

# %%
# Recall@10 of held-out queries
# -----------------------------
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, values in curves.items():
    ax.plot(dimensions, values, marker="o", label=name)
ax.set_xscale("log", base=2)
ax.set_xlabel("dimensions (from 384)")
ax.set_ylabel("recall@10, held-out queries")
ax.legend()
fig.tight_layout()
plt.show()
