"""Elementwise functions (NumPy's ufuncs): arithmetic, math, comparisons, logic, bits."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError
from funcgrad.core.tracing import Tracer
from funcgrad.lax import elementwise as _ew
from funcgrad.numpy._core import (
    _PY_SCALARS,
    ArrayLike,
    _binary,
    _broadcast,
    _broadcast_shapes,
    _cast,
    _float,
    _promote,
    asarray,
    astype,
    result_type,
)
from funcgrad.numpy._indexing import nonzero


def add(x: ArrayLike, y: ArrayLike) -> Any:
    """Elementwise ``x + y`` with broadcasting.

    >>> add(np.ones(2, np.float32), 1.0)
    array([2., 2.], dtype=float32)
    """
    return _ew.add_p.bind(*_binary(x, y))  # operands are already arrays: bind directly


def subtract(x: ArrayLike, y: ArrayLike) -> Any:
    return _ew.sub_p.bind(*_binary(x, y))


def multiply(x: ArrayLike, y: ArrayLike) -> Any:
    return _ew.mul_p.bind(*_binary(x, y))


def true_divide(x: ArrayLike, y: ArrayLike) -> Any:
    x, y = _binary(x, y)
    if x.dtype.kind not in "fc":
        x, y = _cast(x, np.float64), _cast(y, np.float64)
    return lax.div(x, y)


divide = true_divide


def _bool_as_int8(x: Any, y: Any) -> tuple[Any, Any]:
    # NumPy's integer division and remainder of booleans compute in int8.
    if x.dtype == np.bool_:
        return _cast(x, np.int8), _cast(y, np.int8)
    return x, y


def floor_divide(x: ArrayLike, y: ArrayLike) -> Any:
    x, y = _bool_as_int8(*_binary(x, y))
    if x.dtype.kind in "iu":
        return lax.div(x, y)
    # NumPy's floor division is (x - remainder(x, y)) / y rounded to an integer, which is not
    # floor(x / y) when x / y rounds up to an integer (1.0 // 0.1 is 9.0, floor(1.0 / 0.1)
    # is 10.0). Division by zero keeps x / y (inf or nan), as NumPy.
    q = lax.round(lax.div(lax.sub(x, lax.rem(x, y)), y))
    return lax.select(lax.eq(y, 0), lax.div(x, y), q)


def remainder(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.rem(*_bool_as_int8(*_binary(x, y)))


mod = remainder


def power(x: ArrayLike, y: ArrayLike) -> Any:
    # x ** 2 is integer_pow: exact and cheap, with a derivative that needs no log. Only a
    # concrete exponent qualifies (a traced one may carry a derivative), and the result has
    # NumPy's dtype: a Python scalar exponent is weak (float32 ** 2 is float32), a NumPy
    # scalar or 0-d array is not (float32 ** np.float64(2) is float64).
    if not isinstance(y, Tracer) and np.ndim(y) == 0 and not isinstance(y, (bool, np.bool_)):
        y_val = np.asarray(y).item()
        if isinstance(y_val, (int, float)) and float(y_val).is_integer() and (
                builtins.abs(y_val) <= 64):
            xa = asarray(x)
            dt = result_type(xa, y if type(y) in _PY_SCALARS else np.asarray(y))
            if dt.kind in "fc" or (dt.kind in "iu" and y_val >= 0):
                return lax.integer_pow(_cast(xa, dt), int(y_val))
    a, b = _binary(x, y)
    if a.dtype == np.bool_:  # NumPy has no boolean power loop and computes in int8
        a, b = _cast(a, np.int8), _cast(b, np.int8)
    return lax.pow(a, b)


def negative(x: ArrayLike) -> Any:
    return lax.neg(asarray(x))


def positive(x: ArrayLike) -> Any:
    x = asarray(x)
    if x.dtype == np.bool_:
        raise FuncgradTypeError("positive is not defined for boolean arrays (as NumPy)")
    return x


def _unary_float(fn: Any, name: str, doc_example: str = "") -> Callable[[ArrayLike], Any]:
    def op(x: ArrayLike) -> Any:
        return fn(_float(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}``, as ``numpy.{name}``.{doc_example}"
    return op


exp = _unary_float(lax.exp, "exp")
exp2 = _unary_float(lax.exp2, "exp2")
log = _unary_float(lax.log, "log")
log1p = _unary_float(lax.log1p, "log1p")
def expm1(x: ArrayLike) -> Any:
    """Elementwise ``exp(x) - 1``, as ``numpy.expm1``; for complex ``x`` with a zero
    imaginary part the result is ``expm1(real) + imag*1j`` exactly (the array API's special
    cases: NumPy gives ``inf+nanj`` at ``inf+0j``).

    >>> expm1(np.array([complex(np.inf, 0.0)]))
    array([inf+0.j])
    """
    z = _float(x)
    if z.dtype.kind != "c":
        return lax.expm1(z)
    re, im = lax.real(z), lax.imag(z)
    on_axis = lax.complex(lax.expm1(re), im)
    return lax.select(lax.eq(im, lax.full_like(im, 0)), on_axis, lax.expm1(z))
sqrt = _unary_float(lax.sqrt, "sqrt")
sin = _unary_float(lax.sin, "sin", "\n\n    >>> sin(np.zeros(2))\n    array([0., 0.])")
cos = _unary_float(lax.cos, "cos")
tan = _unary_float(lax.tan, "tan")
arcsin = _unary_float(lax.asin, "arcsin")
arccos = _unary_float(lax.acos, "arccos")
arctan = _unary_float(lax.atan, "arctan")
sinh = _unary_float(lax.sinh, "sinh")
cosh = _unary_float(lax.cosh, "cosh")
tanh = _unary_float(lax.tanh, "tanh")
arcsinh = _unary_float(lax.asinh, "arcsinh")
arccosh = _unary_float(lax.acosh, "arccosh")
arctanh = _unary_float(lax.atanh, "arctanh")


def log2(x: ArrayLike) -> Any:
    x = _float(x)
    return lax.div(lax.log(x), float(np.log(2)))


def log10(x: ArrayLike) -> Any:
    x = _float(x)
    return lax.div(lax.log(x), float(np.log(10)))


def arctan2(x1: ArrayLike, x2: ArrayLike) -> Any:
    a, b = _binary(x1, x2)  # promote first: a Python scalar stays weak (NEP 50)
    return lax.atan2(_float(a), _float(b))


def abs(x: ArrayLike) -> Any:
    x = asarray(x)
    return x if x.dtype.kind in "bu" else lax.abs(x)


absolute = abs


def sign(x: ArrayLike) -> Any:
    return lax.sign(asarray(x))


def _int8_if_bool(x: Any) -> Any:
    # NumPy has no boolean loop for these ufuncs and computes in int8.
    return _cast(x, np.int8) if x.dtype == np.bool_ else x


def square(x: ArrayLike) -> Any:
    return lax.integer_pow(_int8_if_bool(asarray(x)), 2)


def reciprocal(x: ArrayLike) -> Any:
    x = _int8_if_bool(asarray(x))
    if x.dtype.kind in "fc":
        return lax.div(lax.full_like(x, 1), x)
    # Integer 1 / x truncates toward zero, as NumPy's C loop: x for x = +-1, else 0.
    return where(equal(abs(x), 1), x, 0)


def floor(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.floor(x) if x.dtype.kind in "fc" else x  # integers are their own floor


def ceil(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.ceil(x) if x.dtype.kind in "fc" else x


def round(x: ArrayLike, decimals: int = 0) -> Any:
    x = asarray(x)
    if x.dtype == np.bool_:
        x = _cast(x, np.float16)  # NumPy has no boolean loop and rounds in float16
    if x.dtype.kind not in "fc":
        if decimals >= 0:
            return x
        # Half to even on a multiple of 10**-decimals, computed exactly in the integers.
        scale = 10 ** -decimals
        q = floor_divide(x, scale)
        r = subtract(x, multiply(q, scale))
        up = logical_or(greater(multiply(r, 2), scale),
                        logical_and(equal(multiply(r, 2), scale), not_equal(remainder(q, 2), 0)))
        return multiply(add(q, astype(up, x.dtype)), scale)
    if decimals == 0:
        return lax.round(x)
    scale = 10.0 ** decimals
    return lax.div(lax.round(lax.mul(x, scale)), scale)


around = round


def maximum(x: ArrayLike, y: ArrayLike) -> Any:
    return _ew.max_p.bind(*_binary(x, y))


def minimum(x: ArrayLike, y: ArrayLike) -> Any:
    return _ew.min_p.bind(*_binary(x, y))


def clip(a: ArrayLike, /, min: ArrayLike = None, max: ArrayLike = None, *,
         a_min: ArrayLike = None, a_max: ArrayLike = None) -> Any:
    """``minimum(maximum(a, min), max)``; either bound may be None. The bounds are named as
    in the array API and jax.numpy (``min``, ``max``); NumPy's ``a_min=``/``a_max=`` work too.

    >>> clip(np.array([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    array([0. , 0.5, 1. ])
    """
    if a_min is not None:
        if min is not None:
            raise TypeError("clip: pass the lower bound as a_min or min, not both")
        min = a_min
    if a_max is not None:
        if max is not None:
            raise TypeError("clip: pass the upper bound as a_max or max, not both")
        max = a_max
    a_min, a_max = min, max
    out = asarray(a)
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def where(condition: ArrayLike, x: ArrayLike = None, y: ArrayLike = None) -> Any:
    """``x`` where ``condition`` else ``y``, broadcasting all three."""
    if x is None and y is None:
        return nonzero(condition)
    c = _as_bool(condition)
    a, b = _promote(x, y)
    shape = _broadcast_shapes(c.shape, a.shape)
    return lax.select(_broadcast(c, shape), _broadcast(a, shape), _broadcast(b, shape))


def isnan(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.ne(x, x) if x.dtype.kind in "fc" else np.full(x.shape, False)


def isinf(x: ArrayLike) -> Any:
    x = asarray(x)
    return logical_and(logical_not(isfinite(x)), logical_not(isnan(x)))


def isfinite(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.is_finite(x) if x.dtype.kind in "fc" else np.full(x.shape, True)


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow."""
    a, b = _binary(x, y)  # promote first: a Python scalar stays weak (NEP 50)
    a, b = _float(a), _float(b)
    if a.dtype.kind == "c":
        raise FuncgradTypeError(f"logaddexp is not defined for complex operands (as NumPy), "
                                f"got {a.dtype}")
    m = lax.max(a, b)
    # The shift cancels mathematically, so it carries no gradient.
    m_safe = where(isfinite(m), lax.stop_gradient(m), 0)
    return add(m_safe, log(add(exp(subtract(a, m_safe)), exp(subtract(b, m_safe)))))


_BinaryOp = Callable[[ArrayLike, ArrayLike], Any]


def _compare(lax_fn: Any, name: str) -> _BinaryOp:
    def op(x: ArrayLike, y: ArrayLike) -> Any:
        return lax_fn(*_binary(x, y))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise comparison, as ``numpy.{name}`` (not differentiable)."
    return op


equal: _BinaryOp = _compare(lax.eq, "equal")
not_equal: _BinaryOp = _compare(lax.ne, "not_equal")
less: _BinaryOp = _compare(lax.lt, "less")
less_equal: _BinaryOp = _compare(lax.le, "less_equal")
greater: _BinaryOp = _compare(lax.gt, "greater")
greater_equal: _BinaryOp = _compare(lax.ge, "greater_equal")


def _as_bool(x: Any) -> Any:
    x = asarray(x)
    return x if x.dtype == np.bool_ else not_equal(x, 0)


def logical_and(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_and(*_binary(_as_bool(x), _as_bool(y)))


def logical_or(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_or(*_binary(_as_bool(x), _as_bool(y)))


def logical_xor(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_xor(*_binary(_as_bool(x), _as_bool(y)))


def logical_not(x: ArrayLike) -> Any:
    return lax.bitwise_not(_as_bool(x))


def bitwise_and(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_and(*_binary(x, y))


def bitwise_or(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_or(*_binary(x, y))


def bitwise_xor(x: ArrayLike, y: ArrayLike) -> Any:
    return lax.bitwise_xor(*_binary(x, y))


def invert(x: ArrayLike) -> Any:
    return lax.bitwise_not(asarray(x))


# -- complex parts (as NumPy: real arrays pass through, with a zero imaginary part) -----------

def real(x: ArrayLike) -> Any:
    """The real part, as ``numpy.real`` (a real array is returned as is).

    >>> real(np.array([1 + 2j]))
    array([1.])
    """
    x = asarray(x)
    return lax.real(x) if x.dtype.kind == "c" else x


def imag(x: ArrayLike) -> Any:
    """The imaginary part, as ``numpy.imag`` (zeros for a real array).

    >>> imag(np.array([1 + 2j]))
    array([2.])
    """
    x = asarray(x)
    if x.dtype.kind == "c":
        return lax.imag(x)
    return lax.full_like(x, 0)  # a constant: no derivative reaches x, as in NumPy's algebra


def conjugate(x: ArrayLike) -> Any:
    """The complex conjugate, as ``numpy.conjugate`` (a real array is returned as is).

    >>> conjugate(np.array([1 + 2j]))
    array([1.-2.j])
    """
    x = asarray(x)
    return lax.conj(x) if x.dtype.kind == "c" else _int8_if_bool(x)


conj = conjugate


def angle(z: ArrayLike, deg: bool = False) -> Any:
    """The argument of complex numbers, as ``numpy.angle`` (0 or pi for real ones).

    >>> angle(np.array([1j]))
    array([1.57079633])
    """
    z = asarray(z)
    if z.dtype.kind == "c":
        a = lax.atan2(lax.imag(z), lax.real(z))
    else:
        zr = _float(_cast(z, np.int64) if z.dtype == np.bool_ else z)  # arctan2(0, z): NEP 50
        a = lax.atan2(lax.full_like(zr, 0), zr)
    return lax.mul(a, float(180 / np.pi)) if deg else a
