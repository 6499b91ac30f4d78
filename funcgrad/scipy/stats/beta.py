"""The beta distribution, as ``jax.scipy.stats.beta`` (densities; the CDF needs the incomplete
beta function, which is not implemented yet).

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

__all__ = ["logpdf", "pdf"]


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
