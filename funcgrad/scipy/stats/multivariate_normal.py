"""The multivariate normal distribution, as ``jax.scipy.stats.multivariate_normal``.

``logpdf(x, mean, cov)`` with ``x`` of shape ``(..., n)``, ``mean`` ``(..., n)`` and ``cov``
``(..., n, n)`` (batch axes broadcast), through the Cholesky factor ``L`` of ``cov``:
``-|L^-1 (x - mean)|^2 / 2 - n log(2 pi) / 2 - sum log diag L``. A scalar ``mean`` is the
univariate case (``cov`` a variance).

>>> import numpy as np
>>> round(float(logpdf(np.zeros(2), np.zeros(2), np.eye(2))), 6)
-1.837877
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.core.errors import FuncgradValueError, ShapeError, at_user_line
from funcgrad.lax import linalg as lax_linalg
from funcgrad.scipy.linalg import solve_triangular

Array = Any

__all__ = ["logpdf", "pdf"]


def logpdf(x: Array, mean: Array, cov: Array, allow_singular: Any = None) -> Array:
    """The log density at ``x``.

    >>> import numpy as np
    >>> round(float(logpdf(np.array([1.0, 0.0]), np.zeros(2), 2 * np.eye(2))), 6)
    -2.781024
    """
    if allow_singular:
        raise FuncgradValueError(at_user_line(
            "multivariate_normal.logpdf: allow_singular=True is not supported"))
    dtype = fnp.result_type(x, mean, cov)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    x, mean, cov = (fnp.asarray(v, dtype) for v in (x, mean, cov))
    if mean.ndim == 0:
        z = x - mean
        return z * z / cov * -0.5 - 0.5 * (math.log(2 * math.pi) + fnp.log(cov))
    n = mean.shape[-1]
    if cov.ndim < 2 or cov.shape[-2:] != (n, n) or x.shape[-1:] != (n,):
        raise ShapeError(at_user_line(
            f"multivariate_normal.logpdf: expected x (..., {n}) and cov (..., {n}, {n}) for "
            f"mean {mean.shape}, got x {x.shape} and cov {cov.shape}"))
    diff = x - mean
    batch = np.broadcast_shapes(diff.shape[:-1], cov.shape[:-2])
    factor = lax_linalg.cholesky(fnp.broadcast_to(cov, (*batch, n, n)))
    y = solve_triangular(factor, fnp.broadcast_to(diff, (*batch, n)), lower=True)
    log_det = fnp.sum(fnp.log(fnp.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
    return fnp.sum(y * y, axis=-1) * -0.5 - log_det - 0.5 * n * math.log(2 * math.pi)


def pdf(x: Array, mean: Array, cov: Array) -> Array:
    """The density ``exp(logpdf)``.

    >>> import numpy as np
    >>> round(float(pdf(np.zeros(1), np.zeros(1), np.eye(1))), 6)
    0.398942
    """
    return fnp.exp(logpdf(x, mean, cov))
