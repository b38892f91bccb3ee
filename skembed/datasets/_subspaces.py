"""Synthetic data on a union of linear or affine subspaces."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._compat import Interval, validate_params


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_subspaces": [Interval(Integral, 1, None, closed="left")],
        "subspace_dim": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "affine": ["boolean"],
        "shuffle": ["boolean"],
        "return_bases": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_subspaces(
    n_samples=300,
    n_features=30,
    n_subspaces=3,
    subspace_dim=5,
    noise=0.0,
    affine=False,
    *,
    shuffle=True,
    return_bases=False,
    random_state=None,
):
    """Generate points near a union of random linear (or affine) subspaces.

    Subspace k is spanned by an orthonormal basis U_k (``n_features`` x
    ``subspace_dim``) drawn uniformly (QR of a Gaussian matrix). A point of
    subspace k is ``x = U_k a (+ o_k) + e`` with coefficients
    ``a ~ N(0, I / subspace_dim)`` (so ``E||U_k a||^2 = 1``), an offset
    ``o_k ~ N(0, I / n_features)`` when ``affine`` (so the subspace misses the
    origin), and noise ``e ~ N(0, noise^2 I / n_features)`` (so
    ``E||e||^2 = noise^2``). This is the standard test bed of subspace
    clustering (Elhamifar & Vidal 2013, You et al. 2016). Points are split
    between subspaces as evenly as possible.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points.
    n_features : int, default=30
        Ambient dimension.
    n_subspaces : int, default=3
        Number of subspaces (clusters).
    subspace_dim : int, default=5
        Dimension of each subspace; at most ``n_features``.
    noise : float, default=0.0
        Root-mean-square norm of the additive Gaussian noise.
    affine : bool, default=False
        Shift each subspace by a random offset.
    shuffle : bool, default=True
        Shuffle the rows; otherwise they are grouped by subspace.
    return_bases : bool, default=False
        Also return the bases (and offsets).
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points.
    y : ndarray of shape (n_samples,)
        The index of each point's subspace.
    bases : ndarray of shape (n_subspaces, n_features, subspace_dim)
        Orthonormal bases; only when ``return_bases``.
    offsets : ndarray of shape (n_subspaces, n_features)
        Offsets (zero unless ``affine``); only when ``return_bases``.

    Examples
    --------
    >>> from skembed.datasets import make_subspaces
    >>> X, y = make_subspaces(n_samples=60, n_features=10, n_subspaces=3,
    ...                       subspace_dim=2, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((60, 10), [0, 1, 2])
    """
    if subspace_dim > n_features:
        raise ValueError(
            f"make_subspaces: subspace_dim={subspace_dim} exceeds n_features="
            f"{n_features}. Pass subspace_dim <= n_features."
        )
    if n_samples < n_subspaces:
        raise ValueError(
            f"make_subspaces: n_samples={n_samples} is smaller than n_subspaces="
            f"{n_subspaces}. Pass at least one point per subspace."
        )
    rng = check_random_state(random_state)
    gaussian = rng.standard_normal((n_subspaces, n_features, subspace_dim))
    bases = np.linalg.qr(gaussian)[0]
    offsets = np.zeros((n_subspaces, n_features))
    if affine:
        offsets = rng.standard_normal((n_subspaces, n_features)) / np.sqrt(n_features)

    bounds = np.linspace(0, n_samples, n_subspaces + 1).astype(int)
    y = np.repeat(np.arange(n_subspaces), np.diff(bounds))
    coefficients = rng.standard_normal((n_samples, subspace_dim)) / np.sqrt(subspace_dim)
    X = np.empty((n_samples, n_features))
    for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        X[start:stop] = coefficients[start:stop] @ bases[k].T + offsets[k]
    if noise > 0:
        X += rng.standard_normal(X.shape) * (noise / np.sqrt(n_features))
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    if return_bases:
        return X, y, bases, offsets
    return X, y
