"""The Poisson distribution, as ``jax.scipy.stats.poisson``.

>>> import numpy as np
>>> pmf(np.array([0]), 2.0).round(6)
array([0.135335])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy.stats._util import promote

Array = Any

__all__ = ["cdf", "logpmf", "pmf"]


def logpmf(k: Array, mu: Array, loc: Array = 0) -> Array:
    """``k log mu - mu - log k!`` at non-negative integers ``k - loc``, ``-inf`` elsewhere.

    >>> import numpy as np
    >>> logpmf(np.array([1]), 1.0)
    array([-1.])
    """
    k, mu, loc = promote(k, mu, loc)
    k = k - loc
    out = special.xlogy(k, mu) - special.gammaln(k + 1) - mu
    return fnp.where((k < 0) | (k != fnp.floor(k)), -np.inf, out)


def pmf(k: Array, mu: Array, loc: Array = 0) -> Array:
    """``exp(logpmf)``.

    >>> import numpy as np
    >>> pmf(np.array([1]), 1.0).round(6)
    array([0.367879])
    """
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k: Array, mu: Array, loc: Array = 0) -> Array:
    """``P(K <= k) = Q(floor(k - loc) + 1, mu)``, 0 below the support.

    >>> import numpy as np
    >>> cdf(np.array([0.0]), 2.0).round(6)
    array([0.135335])
    """
    k, mu, loc = promote(k, mu, loc)
    k = k - loc
    safe = fnp.where(k < 0, 0, fnp.floor(k))
    return fnp.where(k < 0, 0.0, special.gammaincc(safe + 1, mu))
