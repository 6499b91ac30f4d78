"""The normal distribution, as ``jax.scipy.stats.norm``.

>>> import numpy as np
>>> logpdf(np.array([0.0])).round(6)
array([-0.918939])
"""

from __future__ import annotations

import math
from typing import Any

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy.stats._util import promote

Array = Any
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log N(x; loc, scale^2)``.

    >>> import numpy as np
    >>> logpdf(np.array([1.0]), 1.0, 2.0).round(6)
    array([-1.612086])
    """
    x, loc, scale = promote(x, loc, scale)
    z = (x - loc) / scale
    return z * z * -0.5 - fnp.log(scale) - _LOG_SQRT_2PI


def pdf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """The density ``exp(logpdf)``.

    >>> import numpy as np
    >>> pdf(np.array([0.0])).round(6)
    array([0.398942])
    """
    return fnp.exp(logpdf(x, loc, scale))


def _z(x: Array, loc: Array, scale: Array) -> Array:
    x, loc, scale = promote(x, loc, scale)
    return (x - loc) / scale


def cdf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``Phi((x - loc) / scale)``.

    >>> import numpy as np
    >>> cdf(np.array([1.959964])).round(4)
    array([0.975])
    """
    return special.ndtr(_z(x, loc, scale))


def logcdf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log Phi((x - loc) / scale)``, accurate far into the left tail.

    >>> import numpy as np
    >>> logcdf(np.array([-40.0])).round(3)
    array([-804.608])
    """
    return special.log_ndtr(_z(x, loc, scale))


def sf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """The survival function ``1 - cdf``.

    >>> import numpy as np
    >>> sf(np.array([0.0]))
    array([0.5])
    """
    return special.ndtr(-_z(x, loc, scale))


def logsf(x: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log(1 - cdf)``.

    >>> import numpy as np
    >>> logsf(np.array([40.0])).round(3)
    array([-804.608])
    """
    return special.log_ndtr(-_z(x, loc, scale))


def ppf(q: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """The quantile function, ``loc + scale * ndtri(q)``.

    >>> import numpy as np
    >>> ppf(np.array([0.5]), 3.0)
    array([3.])
    """
    q, loc, scale = promote(q, loc, scale)
    return special.ndtri(q) * scale + loc


def isf(q: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """The inverse survival function, ``ppf(1 - q)``.

    >>> import numpy as np
    >>> isf(np.array([0.5]), 3.0)
    array([3.])
    """
    q, loc, scale = promote(q, loc, scale)
    return loc - special.ndtri(q) * scale
