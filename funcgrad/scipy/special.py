"""``fg.scipy.special``: ``jax.scipy.special``'s functions on funcgrad primitives.

Integer inputs compute in float64 (NumPy's promotion); float32 stays float32. ``gammaln``,
``digamma``, ``polygamma``, ``erfc``, ``erfinv`` and ``ndtri`` are primitives of
``fg.lax.special``; everything else composes them (so derivatives of every order, vmap and
staging come from their rules). ``xlogy``/``xlog1py`` give 0 where ``x == 0`` (any ``y``), with
the derivative ``log(y)`` in ``x`` there, and never a NaN from the unused branch.

>>> import numpy as np
>>> gammaln(np.array([4.0])), xlogy(0.0, 0.0)
(array([1.79175947]), array(0.))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import FuncgradValueError, at_user_line
from funcgrad.lax import special as _sp
from funcgrad.nn.activations import log_softmax as _nn_log_softmax
from funcgrad.nn.activations import logsumexp as logsumexp
from funcgrad.nn.activations import softmax as _nn_softmax

Array = Any

__all__ = [
    "betainc", "betaln", "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gammainc",
    "gammaincc", "gammaln", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln",
    "ndtr", "ndtri", "polygamma", "softmax", "xlog1py", "xlogy",
]


def _floats(*args: Array) -> list[Array]:
    """The arguments as arrays of one floating dtype (NEP 50; integers become float64)."""
    dtype = fnp.result_type(*args)
    if dtype.kind not in "f":
        dtype = np.dtype(np.float64)
    return [fnp.asarray(a, dtype) for a in args]


def _float(x: Array) -> Array:
    return _floats(x)[0]


def erf(x: Array) -> Array:
    """The error function.

    >>> erf(np.array([0.0, 1.0])).round(6)
    array([0.      , 0.842701])
    """
    return lax.erf(_float(x))


def erfc(x: Array) -> Array:
    """``1 - erf(x)``, accurate in the right tail.

    >>> erfc(np.array([10.0]))
    array([2.08848758e-45])
    """
    return _sp.erfc(_float(x))


def erfinv(x: Array) -> Array:
    """The inverse error function on ``(-1, 1)``.

    >>> erfinv(np.array([0.0, 0.9])).round(6)
    array([0.      , 1.163087])
    """
    return _sp.erf_inv(_float(x))


def gammaln(x: Array) -> Array:
    """``log|Gamma(x)|``.

    >>> gammaln(np.array([0.5])).round(6)  # log(sqrt(pi))
    array([0.572365])
    """
    return _sp.lgamma(_float(x))


def digamma(x: Array) -> Array:
    """The logarithmic derivative of Gamma.

    >>> digamma(np.array([1.0])).round(6)  # -Euler gamma
    array([-0.577216])
    """
    return _sp.digamma(_float(x))


def polygamma(n: int, x: Array) -> Array:
    """The ``n``-th derivative of digamma (``n`` a static non-negative integer).

    >>> polygamma(1, np.array([1.0])).round(6)  # pi^2 / 6
    array([1.644934])
    """
    n_concrete = np.asarray(n) if not isinstance(n, int) else n
    if not isinstance(n_concrete, int):
        if n_concrete.ndim != 0 or n_concrete.dtype.kind not in "iu":
            raise FuncgradValueError(at_user_line(
                f"polygamma: n must be a static non-negative integer, got {n!r}"))
        n_concrete = int(n_concrete)
    return _sp.polygamma(n_concrete, _float(x))


def multigammaln(a: Array, d: int) -> Array:
    """The log of the multivariate gamma function of dimension ``d``.

    >>> multigammaln(np.array([2.0]), 1).round(6)
    array([0.])
    """
    a = _float(a)
    d = int(d)
    js = np.arange(d, dtype=a.dtype) / 2
    terms = gammaln(fnp.expand_dims(a, -1) - js)
    return fnp.sum(terms, axis=-1) + float(d * (d - 1) / 4 * math.log(math.pi))


def betaln(a: Array, b: Array) -> Array:
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``.

    >>> betaln(np.array([1.0]), np.array([2.0])).round(6)  # log(1/2)
    array([-0.693147])
    """
    a, b = _floats(a, b)
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def expit(x: Array) -> Array:
    """The logistic sigmoid ``1 / (1 + exp(-x))``.

    >>> expit(np.array([0.0]))
    array([0.5])
    """
    return lax.logistic(_float(x))


def logit(x: Array) -> Array:
    """``log(x / (1 - x))``, the inverse of ``expit``.

    >>> logit(np.array([0.5]))
    array([0.])
    """
    x = _float(x)
    return fnp.log(x) - fnp.log1p(-x)


def _x_times(x: Array, fy: Array, safe: Array) -> Array:
    # 0 where x == 0 and fy is not finite (log 0, log inf, log of a negative): the unused
    # branch sees a safe argument, so neither value nor gradient is NaN; where fy is finite
    # the product stays, so d/dx at x = 0 is fy.
    return fnp.where(safe, x * fy, 0)


def xlogy(x: Array, y: Array) -> Array:
    """``x * log(y)``, and 0 where ``x == 0``.

    >>> xlogy(np.array([0.0, 2.0]), np.array([0.0, np.e]))
    array([0., 2.])
    """
    x, y = _floats(x, y)
    keep = fnp.logical_or(x != 0, fnp.logical_and(y > 0, fnp.isfinite(y)))
    return _x_times(x, fnp.log(fnp.where(keep, y, 1)), keep)


def xlog1py(x: Array, y: Array) -> Array:
    """``x * log1p(y)``, and 0 where ``x == 0``.

    >>> xlog1py(np.array([0.0, 1.0]), np.array([-1.0, 0.0]))
    array([0., 0.])
    """
    x, y = _floats(x, y)
    keep = fnp.logical_or(x != 0, fnp.logical_and(y > -1, fnp.isfinite(y)))
    return _x_times(x, fnp.log1p(fnp.where(keep, y, 0)), keep)


def entr(x: Array) -> Array:
    """``-x log x`` for ``x > 0``, 0 at 0, ``-inf`` for ``x < 0``.

    >>> entr(np.array([0.0, 1.0]))
    array([-0., -0.])
    """
    x = _float(x)
    return fnp.where(x < 0, -np.inf, -xlogy(x, x))


def softmax(x: Array, axis: int | Sequence[int] | None = None) -> Array:
    """Softmax over ``axis`` (scipy's default: all axes).

    >>> softmax(np.array([0.0, 0.0]))
    array([0.5, 0.5])
    """
    return _nn_softmax(x, axis=axis)


def log_softmax(x: Array, axis: int | Sequence[int] | None = None) -> Array:
    """Log-softmax over ``axis`` (scipy's default: all axes).

    >>> log_softmax(np.array([0.0, 0.0])).round(6)
    array([-0.693147, -0.693147])
    """
    return _nn_log_softmax(x, axis=axis)


# == the normal distribution function =========================================================

_SQRT1_2 = 1 / math.sqrt(2)


def ndtr(x: Array) -> Array:
    """The standard normal CDF ``Phi(x) = erfc(-x / sqrt 2) / 2``.

    >>> ndtr(np.array([0.0]))
    array([0.5])
    """
    x = _float(x)
    return _sp.erfc(x * -_SQRT1_2) * 0.5


def ndtri(p: Array) -> Array:
    """The inverse of ``ndtr``.

    >>> ndtri(np.array([0.5]))
    array([0.])
    """
    return _sp.ndtri(_float(p))


def log_ndtr(x: Array) -> Array:
    """``log(Phi(x))``, accurate in both tails (as ``jax.scipy.special.log_ndtr``).

    Right of -1 it is ``log1p(-Phi(-x))`` (``Phi(-x)`` is accurate there, ``log`` of a value
    near 1 would not be); left of -20, where ``Phi`` underflows, the asymptotic series
    ``-x^2/2 - log(-x) - log(2 pi)/2 + log(1 - 1/x^2 + 3/x^4 - ...)``; in between
    ``log(Phi(x))``. Each branch sees a safe argument (no NaN gradients).

    >>> log_ndtr(np.array([-40.0])).round(4)
    array([-804.6084])
    """
    x = _float(x)
    right, left = x > -1, x < -20
    mid_x = fnp.where(right | left, -2, x)
    mid = fnp.log(ndtr(mid_x))
    right_x = fnp.where(right, x, 0)
    right_val = fnp.log1p(-ndtr(-right_x))
    left_x = fnp.where(left, x, -20)
    r = 1 / (left_x * left_x)
    series = fnp.zeros_like(r)
    for n in range(12, 0, -1):  # 1 + sum_n (-1)^n (2n-1)!! / x^2n, Horner (error < 1e-17)
        series = (series + (-1) ** n * math.prod(range(1, 2 * n, 2))) * r
    series = series + 1
    left_val = (left_x * left_x * -0.5 - fnp.log(-left_x) - 0.5 * math.log(2 * math.pi)
                + fnp.log(series))
    return fnp.where(right, right_val, fnp.where(left, left_val, mid))


# == incomplete gamma =============================================================================

def gammainc(a: Array, x: Array) -> Array:
    """The regularized lower incomplete gamma function ``P(a, x)``.

    >>> gammainc(np.array([1.0]), np.array([1.0])).round(6)  # 1 - 1/e
    array([0.632121])
    """
    a, x = fnp.broadcast_arrays(*_floats(a, x))
    return _sp.igamma(a, x)


def gammaincc(a: Array, x: Array) -> Array:
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    >>> gammaincc(np.array([1.0]), np.array([1.0])).round(6)  # 1/e
    array([0.367879])
    """
    a, x = fnp.broadcast_arrays(*_floats(a, x))
    return _sp.igammac(a, x)


def betainc(a: Array, b: Array, x: Array) -> Array:
    """The regularized incomplete beta function ``I_x(a, b)`` (differentiable in ``x``; the
    derivatives in ``a`` and ``b`` raise, as JAX's).

    >>> betainc(np.array([2.0]), np.array([1.0]), np.array([0.5]))  # x^2
    array([0.25])
    """
    a, b, x = fnp.broadcast_arrays(*_floats(a, b, x))
    return _sp.betainc(a, b, x)
