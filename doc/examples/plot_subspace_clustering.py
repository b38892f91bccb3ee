"""
==================================================================
Subspace clustering of face-like data: affinity and clusters
==================================================================

Images of one face under varying light lie near a 9-dimensional subspace
(Basri & Jacobs); Extended Yale B holds 38 such subspaces in 1,024 pixels.
Here we draw data of that shape with :func:`~skembed.datasets.make_subspaces`
(10 subjects, 9-dimensional subspaces in 256 "pixels", 60 images each, some
noise) and compare :class:`~skembed.SubspaceClusterer` with k-means:
points of different subspaces can be close to each other, so distances
mislead k-means, while every point is best *expressed* by points of its own
subspace.

The figure shows the affinity matrix of the default clusterer (the
label-free choice among its candidates, printed below), rows
and columns sorted by true subject (a block-diagonal matrix means the
representation is subspace-preserving), and the clusters found, on a 2-D
projection of the spectral embedding.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

from skembed.cluster import SubspaceClusterer
from skembed.datasets import make_subspaces
from skembed.metrics import clustering_accuracy

X, y = make_subspaces(n_samples=600, n_features=256, n_subspaces=10, subspace_dim=9,
                      noise=0.2, random_state=0)
X = normalize(X)  # as done for face images: each image scaled to unit norm

model = SubspaceClusterer(n_clusters=10, random_state=0).fit(X)
kmeans = KMeans(10, n_init=20, random_state=0).fit(X)
omp = SubspaceClusterer(n_clusters=10, method="omp", n_nonzero=9, random_state=0).fit(X)
print(f"default ({model.method_}, {model.affinity_}) accuracy "
      f"{clustering_accuracy(y, model.labels_):.1%}")
print(f"SSC-OMP accuracy {clustering_accuracy(y, omp.labels_):.1%}")
print(f"k-means accuracy {clustering_accuracy(y, kmeans.labels_):.1%}")

# %%
# Out-of-sample: ``predict`` assigns each image to the fitted subspace that
# leaves the smallest residual; on the training images it agrees with the
# spectral clusters.
print(f"predict on the training images agrees with labels_ on "
      f"{np.mean(model.predict(X) == model.labels_):.1%} of them")

# %%
# The affinity, sorted by subject, and the coefficient mass that stays inside
# each point's own subspace.
order = np.argsort(y, kind="stable")
W = model.affinity_matrix_[order][:, order].toarray()
C = model.representation_matrix_.tocoo()
own = np.abs(C.data)[y[C.row] == y[C.col]].sum() / np.abs(C.data).sum()
print(f"{own:.1%} of the coefficient mass is inside the point's own subspace")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
axes[0].imshow(W > 0, cmap="Greys", interpolation="nearest")
axes[0].set_title(f"{model.method_} affinity (nonzeros), sorted by subject")
axes[0].set_xticks([])
axes[0].set_yticks([])

# Two coordinates of a PCA of the points, coloured by the clusters found.
centred = X - X.mean(axis=0)
coords = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
axes[1].scatter(coords[:, 0], coords[:, 1], c=model.labels_, cmap="tab10", s=8)
axes[1].set_title("clusters found (PCA of the points: they overlap)")
axes[1].set_xticks([])
axes[1].set_yticks([])
fig.tight_layout()
plt.show()
