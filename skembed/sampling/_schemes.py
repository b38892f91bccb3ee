r"""Drawing the sample: Bernoulli (Poisson) sampling and i.i.d. draws with replacement.

Both make the sampled objective unbiased: for any b,
:math:`\mathbb{E}\sum_{i \in S} w_i |x_i^\top b|^p = \|Xb\|_p^p`.

Bernoulli
    Row i is kept independently with probability :math:`\pi_i =
    \min(1, c\,q_i)` and weighted :math:`1/\pi_i`. Cohen & Peng and
    Woodruff & Yasuda take :math:`c = m`, whose expected size is below m as
    soon as some :math:`\pi_i` is capped at 1; we raise c until the expected
    size is exactly :math:`\min(m, n^+)` (:math:`n^+` the rows with
    :math:`q_i > 0`), which only adds rows, so every guarantee for c = m
    still holds. Rows with :math:`\pi_i = 1` enter exactly, with weight 1.
i.i.d.
    m draws with replacement from q, each weighted :math:`1/(m q_i)`;
    duplicates are merged by adding their weights. (Drawing without
    replacement with these weights would be biased.)
"""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["bernoulli_sample", "iid_sample", "inclusion_probabilities"]


def inclusion_probabilities(q, n_samples):
    """:math:`\\pi_i = \\min(1, c q_i)` with c chosen so that :math:`\\sum_i \\pi_i = \\min(m, n^+)`.

    Parameters
    ----------
    q : ndarray of shape (n,)
        Non-negative sampling distribution (sums to 1).
    n_samples : int
        The expected sample size m.

    Returns
    -------
    inclusion : ndarray of shape (n,)
        :math:`\\pi_i`, in [0, 1]; 0 where q is 0, 1 everywhere else when
        ``n_samples`` is at least the number of rows with q > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import inclusion_probabilities
    >>> inclusion_probabilities(np.array([0.7, 0.1, 0.1, 0.1]), 2)
    array([1.        , 0.33333333, 0.33333333, 0.33333333])
    """
    positive = q > 0
    n_positive = int(positive.sum())
    if n_samples >= n_positive:
        return positive.astype(np.float64)
    # Water-filling: with q sorted decreasingly, the first k rows are capped
    # at 1 and the rest share the remaining budget m - k in proportion to q.
    # At most m - 1 rows are capped, so only the m largest q need sorting
    # (a partition, O(n), then m log m): sorting all n rows took 0.25 s of
    # a 1,000,000-row draw.
    top = np.argpartition(q, q.shape[0] - n_samples)[q.shape[0] - n_samples:]
    sorted_q = np.sort(q[top])[::-1]
    rest = np.ones(q.shape[0], dtype=bool)
    rest[top] = False
    # tail[k] = sum of q from rank k on: the top's suffix sums plus the rest.
    tail = np.cumsum(sorted_q[::-1])[::-1] + float(q[rest].sum())
    ranks = np.arange(n_samples)
    # The first rank whose row is not capped; it exists since m < n+.
    capped = int(np.argmax((n_samples - ranks) * sorted_q[:n_samples] <= tail[:n_samples]))
    scale = (n_samples - capped) / tail[capped]
    return np.minimum(1.0, scale * q)


def bernoulli_sample(q, n_samples, random_state):
    """Keep row i independently with probability :math:`\\pi_i`, weight :math:`1/\\pi_i`.

    Parameters
    ----------
    q : ndarray of shape (n,)
        Non-negative sampling distribution (sums to 1).
    n_samples : int
        The expected sample size m (see :func:`inclusion_probabilities`).
    random_state : int, RandomState instance or None
        The draw.

    Returns
    -------
    indices : ndarray of int
        The kept rows, in increasing order.
    weights : ndarray of float
        Their weights :math:`1/\\pi_i`.
    inclusion : ndarray of shape (n,)
        :math:`\\pi_i` for every row.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import bernoulli_sample
    >>> indices, weights, _ = bernoulli_sample(np.full(1000, 1e-3), 100, random_state=0)
    >>> bool(np.allclose(weights, 10.0)), 60 < len(indices) < 140
    (True, True)
    """
    random_state = check_random_state(random_state)
    inclusion = inclusion_probabilities(q, n_samples)
    kept = np.flatnonzero(random_state.uniform(size=q.shape[0]) < inclusion)
    return kept, 1.0 / inclusion[kept], inclusion


def iid_sample(q, n_samples, random_state):
    """``n_samples`` draws with replacement from q, weight :math:`1/(m q_i)` per draw.

    Parameters
    ----------
    q : ndarray of shape (n,)
        Sampling distribution (sums to 1).
    n_samples : int
        The number of draws m.
    random_state : int, RandomState instance or None
        The draws.

    Returns
    -------
    indices : ndarray of int
        The drawn rows, in increasing order, each once.
    weights : ndarray of float
        Their weights, :math:`c_i/(m q_i)` for a row drawn :math:`c_i` times.

    Examples
    --------
    >>> import numpy as np
    >>> from skembed.sampling import iid_sample
    >>> indices, weights = iid_sample(np.full(1000, 1e-3), 100, random_state=0)
    >>> float(weights.sum())
    1000.0
    """
    random_state = check_random_state(random_state)
    draws = random_state.choice(q.shape[0], size=n_samples, replace=True, p=q)
    indices, counts = np.unique(draws, return_counts=True)
    return indices, counts / (n_samples * q[indices])
