"""The beta distribution, as ``jax.scipy.stats.beta`` (the distribution functions are
differentiable in ``x``, not in ``a`` and ``b``, as JAX's).

>>> import numpy as np
>>> pdf(np.array([0.5]), 2.0, 2.0)
array([1.5])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy.stats._util import promote

Array = Any

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``(a-1) log y + (b-1) log(1-y) - betaln(a, b) - log scale`` on ``0 <= y <= 1``.

    >>> import numpy as np
    >>> logpdf(np.array([0.25, 2.0]), 1.0, 2.0).round(6)
    array([0.405465,     -inf])
    """
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    y = (x - loc) / scale
    inside = (y >= 0) & (y <= 1)
    y_safe = fnp.where(inside, y, 0.5)
    out = (special.xlogy(a - 1, y_safe) + special.xlog1py(b - 1, -y_safe)
           - special.betaln(a, b) - fnp.log(scale))
    return fnp.where(inside, out, -np.inf)


def pdf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``exp(logpdf)``.

    >>> import numpy as np
    >>> pdf(np.array([0.25]), 1.0, 2.0)
    array([1.5])
    """
    return fnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``I_y(a, b)`` for ``y = (x - loc) / scale`` clipped to ``[0, 1]``.

    >>> import numpy as np
    >>> cdf(np.array([0.5]), 2.0, 1.0)
    array([0.25])
    """
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    return special.betainc(a, b, fnp.clip((x - loc) / scale, 0, 1))


def logcdf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log cdf``.

    >>> import numpy as np
    >>> logcdf(np.array([1.0]), 2.0, 1.0)
    array([0.])
    """
    return fnp.log(cdf(x, a, b, loc, scale))


def sf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``1 - cdf = I_(1-y)(b, a)`` (accurate where the cdf is near 1).

    >>> import numpy as np
    >>> sf(np.array([0.5]), 2.0, 1.0)
    array([0.75])
    """
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    return special.betainc(b, a, 1 - fnp.clip((x - loc) / scale, 0, 1))


def logsf(x: Array, a: Array, b: Array, loc: Array = 0, scale: Array = 1) -> Array:
    """``log sf``.

    >>> import numpy as np
    >>> logsf(np.array([0.0]), 2.0, 1.0)
    array([0.])
    """
    return fnp.log(sf(x, a, b, loc, scale))
