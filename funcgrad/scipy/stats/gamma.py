"""The gamma distribution (shape ``a``), as ``jax.scipy.stats.gamma``.

>>> import numpy as np
>>> pdf(np.array([1.0]), 1.0).round(6)
array([0.367879])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy.stats._util import promote

Array = Any

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``(a - 1) log y - y - gammaln(a) - log scale`` for ``y = (x - loc) / scale >= 0``.

    >>> import numpy as np
    >>> logpdf(np.array([1.0]), 2.0).round(6)
    array([-1.])
    """
    x, a, loc, scale = promote(x, a, loc, scale)
    y = (x - loc) / scale
    inside = y >= 0
    y_safe = fnp.where(inside, y, 1)
    out = special.xlogy(a - 1, y_safe) - y_safe - special.gammaln(a) - fnp.log(scale)
    return fnp.where(inside, out, -np.inf)


def pdf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``exp(logpdf)``.

    >>> import numpy as np
    >>> pdf(np.array([-1.0]), 2.0)
    array([0.])
    """
    return fnp.exp(logpdf(x, a, loc, scale))


def _shape_and_y(x: Array, a: Array, loc: Array, scale: Array) -> tuple[Array, Array]:
    x, a, loc, scale = promote(x, a, loc, scale)
    return a, fnp.maximum((x - loc) / scale, 0)


def cdf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``P(a, max(y, 0))``, the regularized lower incomplete gamma function.

    >>> import numpy as np
    >>> cdf(np.array([1.0]), 1.0).round(6)
    array([0.632121])
    """
    return special.gammainc(*_shape_and_y(x, a, loc, scale))


def logcdf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log cdf`` (the logarithm of ``cdf``).

    >>> import numpy as np
    >>> logcdf(np.array([1.0]), 1.0).round(6)
    array([-0.458675])
    """
    return fnp.log(cdf(x, a, loc, scale))


def sf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``1 - cdf = Q(a, max(y, 0))``, accurate in the right tail.

    >>> import numpy as np
    >>> sf(np.array([1.0]), 1.0).round(6)
    array([0.367879])
    """
    return special.gammaincc(*_shape_and_y(x, a, loc, scale))


def logsf(x: Array, a: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log sf``.

    >>> import numpy as np
    >>> logsf(np.array([1.0]), 1.0).round(6)
    array([-1.])
    """
    return fnp.log(sf(x, a, loc, scale))
