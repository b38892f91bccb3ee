r"""Similarity functions between rows and anchors, each with its invariance.

A relative representation maps a (preprocessed) point :math:`x` to the
vector of its similarities to the (preprocessed) anchors
:math:`a_1, \dots, a_m`. Each similarity is invariant to a different group of
transformations of the whole space (Cannistraci et al., "From Bricks to
Bridges: Product of Invariances to Enhance Latent Space Communication",
ICLR 2024):

========== ============================================= ====================================
name       value                                         invariant to
========== ============================================= ====================================
cosine     :math:`\langle x, a\rangle / (|x| |a|)`         rotations, reflections, isotropic
                                                         scaling
euclidean  :math:`-\lVert x - a \rVert_2`                rotations, reflections,
                                                         translations
l1         :math:`-\lVert x - a \rVert_1`                coordinate permutations and sign
                                                         flips, translations
linf       :math:`-\lVert x - a \rVert_\infty`           coordinate permutations and sign
                                                         flips, translations
basis      coordinates :math:`c` of :math:`x` in the     every invertible linear map when
           anchors' span, :math:`x \approx c^\top A`     the anchors span the space
           (:math:`c = A^{+\top} x`)
========== ============================================= ====================================

Distances are negated so that, for every function, larger means more
similar (what ``top_k`` keeps). Translation invariance of cosine and basis
comes from centring, done by the estimator before these functions. Cosine
and basis are also invariant to a global rescaling (basis to rescaling any
column when the anchors span the space); the three distances scale with it.
The estimator passes rows scaled by a power of two, so no square overflows.

Each function works on one block of rows and the prepared anchors
(:class:`PreparedAnchors`), so the estimator bounds memory by the block size.
"""

import numpy as np
from scipy.spatial.distance import cdist

from ..utils.extmath import normalize_rows, safe_reciprocal
from ._linalg import drop_ones_direction, least_squares_inverse, restore_ones_direction

SIMILARITIES = ("cosine", "euclidean", "l1", "linf", "basis")

# Squared distances below this fraction of |x|^2 + |a|^2 are recomputed from
# the differences: the expansion |x|^2 + |a|^2 - 2<x, a> loses about
# eps (|x|^2 + |a|^2) to cancellation, which is a large relative error for
# near pairs (a point and itself would get a distance of ~1e-8, not 0).
_NEAR_FRACTION = 1e-3
# Differences recomputed at a time for near pairs (bounds the temporary).
_NEAR_CHUNK = 4096


class PreparedAnchors:
    """The anchors (already centred/whitened) with what each similarity needs.

    Everything is float64; :func:`similarity_block` casts it to the block's
    dtype once per call.

    Parameters
    ----------
    anchors : ndarray of shape (n_anchors, n_features)
        Preprocessed anchor vectors.
    similarities : sequence of str
        The similarity functions that will be asked for.
    offset : ndarray of shape (n_features,), default=None
        For anchors centred on their mean, the size, per column, of what was
        subtracted (in the units of ``anchors``). Their rank is then at most
        ``n_anchors - 1`` by construction and their entries are known only
        to about ``eps * offset``, which the basis similarity takes into
        account. None for anchors used as given.
    """

    def __init__(self, anchors, similarities, *, offset=None):
        anchors = np.asarray(anchors, dtype=np.float64)
        self.anchors = np.ascontiguousarray(anchors)
        self.squared_norms = np.einsum("ij,ij->i", anchors, anchors)
        self.unit = None
        self.pseudo_inverse = None
        if "cosine" in similarities:
            # A zero anchor stays zero: it has cosine 0 to everything.
            self.unit = np.ascontiguousarray(normalize_rows(anchors))
        if "basis" in similarities:
            self.pseudo_inverse = np.ascontiguousarray(
                _anchor_pseudo_inverse(anchors, offset)
            )
        self._cast = {}

    def cast(self, name, dtype):
        """An attribute in ``dtype``, converted once and cached."""
        key = (name, np.dtype(dtype))
        if key not in self._cast:
            self._cast[key] = getattr(self, name).astype(dtype, copy=False)
        return self._cast[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cast"] = {}
        return state


def _anchor_pseudo_inverse(anchors, offset):
    """``A^+``: ``x @ A^+`` are the least-squares coordinates of x in the anchors.

    The minimum-norm ones when the anchors are linearly dependent (more
    anchors than features). Centred anchors have the ones vector as a null
    vector by construction; the rounding of their mean is not exactly in it
    and, inverted, would give coordinates of order 1e13 when the data sit
    away from the origin. So the pseudo-inverse is taken in the complement
    of the ones vector, where nothing is deficient by construction, and the
    coordinates sum to zero, as the exact minimum-norm ones do.
    """
    if offset is None:
        return least_squares_inverse(anchors)
    return restore_ones_direction(least_squares_inverse(drop_ones_direction(anchors), offset))


def cosine_similarity(X, prepared):
    """Cosine of each row of X with each anchor (0 for zero vectors)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    products = X @ prepared.cast("unit", X.dtype).T
    products *= safe_reciprocal(norms)[:, None]
    # Rounding can push |cos| a hair above 1; clip to the exact range.
    np.clip(products, -1.0, 1.0, out=products)
    return products


def euclidean_similarity(X, prepared):
    """Minus the Euclidean distance of each row of X to each anchor.

    One matrix product through the expansion of the squared distance; pairs
    whose squared distance is under ``_NEAR_FRACTION`` of the squared norms
    are recomputed from their differences, so a point at an anchor is at
    distance exactly 0 and the result keeps full relative precision.
    """
    anchors = prepared.cast("anchors", X.dtype)
    anchor_squared = prepared.cast("squared_norms", X.dtype)
    row_squared = np.einsum("ij,ij->i", X, X)
    squared = X @ anchors.T
    squared *= -2.0
    squared += row_squared[:, None]
    squared += anchor_squared[None, :]
    scale = row_squared[:, None] + anchor_squared[None, :]
    rows, cols = np.nonzero(squared < _NEAR_FRACTION * scale)
    for start in range(0, rows.size, _NEAR_CHUNK):
        r, c = rows[start:start + _NEAR_CHUNK], cols[start:start + _NEAR_CHUNK]
        difference = X[r] - anchors[c]
        squared[r, c] = np.einsum("ij,ij->i", difference, difference)
    np.maximum(squared, 0.0, out=squared)
    np.sqrt(squared, out=squared)
    np.negative(squared, out=squared)
    return squared


def _minkowski_similarity(X, prepared, metric):
    # cdist loops in C over the pairs without any (rows x anchors x features)
    # temporary; it computes in float64.
    distances = cdist(X, prepared.anchors, metric=metric)
    return np.negative(distances, out=distances).astype(X.dtype, copy=False)


def l1_similarity(X, prepared):
    """Minus the L1 (city-block) distance of each row of X to each anchor."""
    return _minkowski_similarity(X, prepared, "cityblock")


def linf_similarity(X, prepared):
    """Minus the L-infinity (Chebyshev) distance of each row to each anchor."""
    return _minkowski_similarity(X, prepared, "chebyshev")


def basis_similarity(X, prepared):
    """Coordinates of each row of X in the anchors' span: ``X @ A^+``."""
    return X @ prepared.cast("pseudo_inverse", X.dtype)


SIMILARITY_FUNCTIONS = {
    "cosine": cosine_similarity,
    "euclidean": euclidean_similarity,
    "l1": l1_similarity,
    "linf": linf_similarity,
    "basis": basis_similarity,
}


def similarity_block(X, prepared, name):
    """Similarities of the rows of one block X to the anchors, in X's dtype."""
    return SIMILARITY_FUNCTIONS[name](X, prepared)
