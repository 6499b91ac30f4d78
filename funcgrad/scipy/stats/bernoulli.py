"""The Bernoulli distribution, as ``jax.scipy.stats.bernoulli``.

>>> import numpy as np
>>> pmf(np.array([0, 1]), 0.25)
array([0.75, 0.25])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy.stats._util import promote

Array = Any

__all__ = ["cdf", "logpmf", "pmf", "ppf"]


def logpmf(k: Array, p: Array, loc: Array = 0) -> Array:
    """``log p`` at ``k - loc = 1``, ``log(1 - p)`` at 0, ``-inf`` elsewhere.

    >>> import numpy as np
    >>> logpmf(np.array([2]), 0.5)
    array([-inf])
    """
    k, p, loc = promote(k, p, loc)
    k = k - loc
    log_probs = special.xlogy(k, p) + special.xlog1py(1 - k, -p)
    return fnp.where((k != 0) & (k != 1), -np.inf, log_probs)


def pmf(k: Array, p: Array, loc: Array = 0) -> Array:
    """``exp(logpmf)``.

    >>> import numpy as np
    >>> pmf(np.array([1]), 0.3)
    array([0.3])
    """
    return fnp.exp(logpmf(k, p, loc))


def cdf(k: Array, p: Array) -> Array:
    """``0`` below 0, ``1 - p`` on ``[0, 1)``, ``1`` from 1 on.

    >>> import numpy as np
    >>> cdf(np.array([-1.0, 0.5, 1.0]), 0.25)
    array([0.  , 0.75, 1.  ])
    """
    k, p = promote(k, p)
    bad = fnp.isnan(k) | fnp.isnan(p) | (p < 0) | (p > 1)
    out = fnp.where(k < 0, 0.0, fnp.where(k < 1, 1 - p, 1.0))
    return fnp.where(bad, np.nan, out)


def ppf(q: Array, p: Array) -> Array:
    """The least ``k`` with ``cdf(k) >= q``: ``0`` for ``q <= 1 - p``, else ``1``.

    >>> import numpy as np
    >>> ppf(np.array([0.5, 0.9]), 0.25)
    array([0., 1.])
    """
    q, p = promote(q, p)
    bad = fnp.isnan(q) | fnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return fnp.where(bad, np.nan, fnp.where(q <= 1 - p, 0.0, 1.0))
