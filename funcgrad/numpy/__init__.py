"""``fg.numpy``: NumPy's API on funcgrad primitives (import as ``fnp``).

NumPy semantics are kept: broadcasting (made explicit in the IR), NumPy 2 / NEP 50 dtype
promotion (Python scalars are weak, float32 stays float32), axis arguments and ``keepdims``.
Outside any transform the results are plain ``numpy.ndarray``.

>>> import funcgrad.numpy as fnp, numpy as np
>>> fnp.sum(fnp.sin(np.zeros(3, np.float32)) + 1.0).dtype
dtype('float32')
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import lax
from funcgrad.core.avals import get_aval, weak_stand_in
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.core.tracing import Tracer, full_lower
from funcgrad.lax import elementwise as _ew
from funcgrad.lax.indexing import getitem as _getitem

ndarray = np.ndarray
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint32, uint64 = np.uint8, np.uint32, np.uint64
complex64, complex128 = np.complex64, np.complex128
bool_ = np.bool_
pi, e, inf, nan, newaxis = np.pi, np.e, np.inf, np.nan, None
dtype, finfo, iinfo = np.dtype, np.finfo, np.iinfo

_PY_SCALARS = (bool, int, float, complex)
ArrayLike = Any


# == conversion, promotion, broadcasting ======================================================

def asarray(a: ArrayLike, dtype: Any = None) -> Any:
    """``a`` as an array (tracers pass through; lists and scalars become ndarrays)."""
    if isinstance(a, Tracer):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, Tracer) for x in _flat(a)):
        return stack([asarray(x) for x in a]).astype(dtype) if dtype else stack(
            [asarray(x) for x in a])
    return np.asarray(a, dtype=dtype)


def array(a: ArrayLike, dtype: Any = None, copy: bool = True) -> Any:
    out = asarray(a, dtype)
    return out.copy() if copy and isinstance(out, np.ndarray) and out is a else out


def _flat(a: Any) -> list[Any]:
    if isinstance(a, (list, tuple)):
        return [y for x in a for y in _flat(x)]
    return [a]


def _dtype_of(x: Any) -> Any:
    if type(x) in _PY_SCALARS:
        return x
    if isinstance(x, Tracer) and x.aval.weak_type:
        return weak_stand_in(x.aval)  # a traced Python scalar promotes like one (NEP 50)
    return x.dtype


def _result_type_arg(a: Any) -> Any:
    # Dtypes, scalar types (fnp.float32, float) and dtype names pass through as NumPy takes them.
    if isinstance(a, (np.dtype, type, str)):
        return a
    if isinstance(a, (list, tuple)):
        return np.asarray(a).dtype
    return _dtype_of(a)


def result_type(*args: Any) -> np.dtype:
    """NEP 50 promotion: Python scalars are weak; dtypes and scalar types are accepted."""
    return np.result_type(*(_result_type_arg(a) for a in args))


def _cast(x: Any, dtype: DTypeLike) -> Any:
    if type(x) in _PY_SCALARS:
        return np.asarray(x, dtype)
    if x.dtype == dtype:
        return x
    if isinstance(x, np.ndarray):
        return x.astype(dtype)
    return lax.convert_element_type(x, dtype)


def _broadcast(x: Any, shape: tuple[int, ...]) -> Any:
    if x.shape == shape:
        return x
    if isinstance(x, np.ndarray):
        return np.broadcast_to(x, shape)  # a constant: a free view, no primitive needed
    return lax.broadcast_to(x, shape)


def _broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(at_user_line(
            f"operands could not be broadcast together with shapes "
            f"{' '.join(str(s) for s in shapes)}")) from None


def _promote(*args: Any, dtype: Any = None) -> list[Any]:
    """Arrays of one dtype and one shape, by NumPy's rules."""
    operands = [np.asarray(a) if isinstance(a, (list, tuple, np.generic)) else a for a in args]
    dt = (np.dtype(dtype) if dtype is not None
          else np.result_type(*(_dtype_of(a) for a in operands)))
    arrays = [_cast(a, dt) for a in operands]
    shape = arrays[0].shape
    if builtins.any(a.shape != shape for a in arrays[1:]):
        shape = _broadcast_shapes(*(a.shape for a in arrays))
        arrays = [_broadcast(a, shape) for a in arrays]
    return arrays


# A weak Python scalar of this type keeps an array of this dtype kind's dtype (NEP 50).
_WEAK_KEEPS = {"f": (int, float, bool), "c": (int, float, complex, bool), "i": (int, bool),
               "u": (int, bool), "b": (bool,)}


def _binary(x: Any, y: Any) -> tuple[Any, Any]:
    # Fast paths first: they are most of eager mode's dispatch cost.
    tx, ty = type(x), type(y)
    if ty in _PY_SCALARS and tx not in _PY_SCALARS and hasattr(x, "dtype"):
        dtype = x.dtype
        if ty in _WEAK_KEEPS.get(dtype.kind, ()):
            return x, lax.constant(y, dtype, x.shape)
    elif tx in _PY_SCALARS and ty not in _PY_SCALARS and hasattr(y, "dtype"):
        dtype = y.dtype
        if tx in _WEAK_KEEPS.get(dtype.kind, ()):
            return lax.constant(x, dtype, y.shape), y
    elif (hasattr(x, "dtype") and hasattr(y, "dtype") and x.dtype == y.dtype
          and x.shape == y.shape):
        return x, y
    a, b = _promote(x, y)
    return a, b


def _float(x: Any) -> Any:
    """``x`` as an inexact array (ints promote as NumPy's ufuncs do: int8 -> float16...)."""
    x = asarray(x) if not isinstance(x, Tracer) else x
    if x.dtype.kind in "fc":
        return x
    return _cast(x, np.result_type(x.dtype, np.float16))


# == elementwise ==============================================================================

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
    return lax.pow(*_binary(x, y))


def negative(x: ArrayLike) -> Any:
    return lax.neg(asarray(x))


def positive(x: ArrayLike) -> Any:
    return asarray(x)


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
expm1 = _unary_float(lax.expm1, "expm1")
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


def square(x: ArrayLike) -> Any:
    return lax.integer_pow(asarray(x), 2)


def reciprocal(x: ArrayLike) -> Any:
    x = asarray(x)
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


def clip(a: ArrayLike, a_min: ArrayLike = None, a_max: ArrayLike = None) -> Any:
    """``minimum(maximum(a, a_min), a_max)``; either bound may be None."""
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


def nonzero(a: ArrayLike) -> tuple[np.ndarray, ...]:
    concrete = full_lower(a)
    if isinstance(concrete, Tracer):
        raise FuncgradTypeError(at_user_line(
            "nonzero/argwhere/where(cond) need a concrete array: their output shape depends "
            "on the values; use where(cond, x, y) instead"))
    return np.nonzero(np.asarray(concrete))


def isnan(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.ne(x, x) if x.dtype.kind in "fc" else full_like(x, False, dtype=bool)


def isinf(x: ArrayLike) -> Any:
    x = asarray(x)
    return logical_and(logical_not(isfinite(x)), logical_not(isnan(x)))


def isfinite(x: ArrayLike) -> Any:
    x = asarray(x)
    return lax.is_finite(x) if x.dtype.kind in "fc" else full_like(x, True, dtype=bool)


def logaddexp(x: ArrayLike, y: ArrayLike) -> Any:
    """``log(exp(x) + exp(y))`` without overflow."""
    a, b = _binary(x, y)  # promote first: a Python scalar stays weak (NEP 50)
    a, b = _float(a), _float(b)
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


# == reductions ===============================================================================

def _as_tuple(x: Any) -> tuple[Any, ...]:
    """One integer (an axis, a size, a shift) as a 1-tuple, a sequence of them as a tuple."""
    return (x,) if isinstance(x, (int, np.integer)) else tuple(x)


def _axes(x: Any, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    ndim = x.ndim
    if axis is None:
        return tuple(range(ndim))
    axes = _as_tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(at_user_line(
                f"axis {a} is out of bounds for array of dimension {ndim}"))
        out.append(int(a) % ndim)
    return tuple(sorted(out))


def _keepdims(y: Any, x_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return y
    return lax.reshape(y, tuple(1 if i in axes else n for i, n in enumerate(x_shape)))


def _sum_dtype(dt: np.dtype) -> np.dtype:
    # NumPy accumulates small integers and bools in the default integer.
    if dt.kind == "b" or (dt.kind == "i" and dt.itemsize < 8):
        return np.dtype(np.int64)
    if dt.kind == "u" and dt.itemsize < 8:
        return np.dtype(np.uint64)
    return dt


def _cast_to_sum_dtype(x: Any, dtype: Any) -> Any:
    """``x`` in the dtype NumPy's sum/prod/cumsum use: ``dtype`` if given, else ``_sum_dtype``."""
    return _cast(x, np.dtype(dtype) if dtype is not None else _sum_dtype(x.dtype))


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Sum over ``axis`` (all axes by default), as ``numpy.sum``.

    >>> sum(np.ones((2, 3)), axis=1)
    array([3., 3.])
    """
    x = asarray(a)
    x = _cast_to_sum_dtype(x, dtype)
    axes = _axes(x, axis)
    return _keepdims(lax.reduce_sum(x, axes), x.shape, axes, keepdims)


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    x = asarray(a)
    x = _cast_to_sum_dtype(x, dtype)
    axes = _axes(x, axis)
    return _keepdims(lax.reduce_prod(x, axes), x.shape, axes, keepdims)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    x = asarray(a)
    if dtype is not None:
        x = _cast(x, np.dtype(dtype))
    elif x.dtype.kind not in "fc":
        x = _cast(x, np.float64)
    axes = _axes(x, axis)
    total = lax.reduce_sum(x, axes)
    return _keepdims(lax.div(total, float(_count(x.shape, axes))), x.shape, axes, keepdims)


def var(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    x = _float(a) if dtype is None else _cast(asarray(a), np.dtype(dtype))
    axes = _axes(x, axis)
    centered = subtract(x, mean(x, axis=axes, keepdims=True))
    sq = multiply(centered, centered)
    n = _count(x.shape, axes) - ddof
    return _keepdims(lax.div(lax.reduce_sum(sq, axes), float(n)), x.shape, axes, keepdims)


def std(a: ArrayLike, axis: Any = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Any:
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _check_nonempty(x: Any, axes: tuple[int, ...], name: str) -> None:
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(at_user_line(
            f"zero-size array to reduction operation {name} which has no identity "
            f"(shape {x.shape})"))


def max(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis``; ties share the gradient evenly (as JAX)."""
    x = asarray(a)
    axes = _axes(x, axis)
    _check_nonempty(x, axes, "maximum")
    return _keepdims(lax.reduce_max(x, axes), x.shape, axes, keepdims)


def min(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    x = asarray(a)
    axes = _axes(x, axis)
    _check_nonempty(x, axes, "minimum")
    return _keepdims(lax.reduce_min(x, axes), x.shape, axes, keepdims)


amax, amin = max, min


def _arg_reduce(lax_fn: Any, a: ArrayLike, axis: int | None, keepdims: bool) -> Any:
    x = asarray(a)
    if axis is None:
        flat = ravel(x)
        _check_nonempty(flat, (0,), "argmax/argmin")
        out = lax_fn(flat, 0)
        return lax.reshape(out, (1,) * x.ndim) if keepdims else out
    (ax,) = _axes(x, axis)
    _check_nonempty(x, (ax,), "argmax/argmin")
    return _keepdims(lax_fn(x, ax), x.shape, (ax,), keepdims)


def argmax(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    return _arg_reduce(lax.argmax, a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, keepdims: bool = False) -> Any:
    return _arg_reduce(lax.argmin, a, axis, keepdims)


def _bool_reduce(lax_fn: Any, identity: bool, a: ArrayLike, axis: Any, keepdims: bool) -> Any:
    x = _as_bool(a)
    axes = _axes(x, axis)
    if not axes:
        out = x
    elif _count(x.shape, axes) == 0:
        # An empty reduction is the identity (np.all([]) is True), which min/max lack.
        kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
        out = np.full(kept, identity)
    else:
        out = lax_fn(x, axes)
    return _keepdims(out, x.shape, axes, keepdims)


def all(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    return _bool_reduce(lax.reduce_min, True, a, axis, keepdims)


def any(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Any:
    return _bool_reduce(lax.reduce_max, False, a, axis, keepdims)


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    x = _cast_to_sum_dtype(x, dtype)
    return lax.cumsum(x, _axes(x, axis)[0])


def cumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    """Running product. Differentiable exactly (zeros included) as a masked product:
    ``out[i] = prod_j where(j <= i, x[j], 1)``, which costs n^2 along the axis."""
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    x = _cast_to_sum_dtype(x, dtype)
    (ax,) = _axes(x, axis)
    moved = moveaxis(x, ax, -1)
    n = moved.shape[-1]
    tiled = lax.broadcast_in_dim(moved, (*moved.shape, n),
                                 (*range(moved.ndim - 1), moved.ndim))  # [..., i, j] = x[j]
    mask = np.broadcast_to(np.tril(np.ones((n, n), bool)), tiled.shape)
    out = lax.reduce_prod(lax.select(mask, tiled, lax.full_like(tiled, 1)), moved.ndim)
    return moveaxis(out, -1, ax)


# == shape manipulation =======================================================================

def reshape(a: ArrayLike, newshape: Any = None, order: str = "C", *, shape: Any = None) -> Any:
    if order != "C":
        raise NotImplementedError("only row-major (order='C') reshapes are supported")
    new = shape if shape is not None else newshape
    new = _as_tuple(new)
    return lax.reshape(asarray(a), new)


def ravel(a: ArrayLike) -> Any:
    return lax.reshape(asarray(a), (-1,))


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    x = asarray(a)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        int(p) % builtins.max(x.ndim, 1) for p in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(at_user_line(f"axes {axes} don't match array of shape {x.shape}"))
    return lax.transpose(x, perm)


def _axis_tuple(axis: Any) -> tuple[int, ...]:
    return tuple(int(a) for a in _as_tuple(axis))


def moveaxis(a: ArrayLike, source: Any, destination: Any) -> Any:
    x = asarray(a)
    src = [s % x.ndim for s in _axis_tuple(source)]
    dst = [d % x.ndim for d in _axis_tuple(destination)]
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(x, tuple(order))


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    x = asarray(a)
    perm = list(range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return lax.transpose(x, tuple(perm))


def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Any:
    return lax.expand_dims(asarray(a), _axis_tuple(axis))


def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
    return lax.squeeze(x, _axis_tuple(axis))


def broadcast_to(a: ArrayLike, shape: Sequence[int]) -> Any:
    x = asarray(a)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    _broadcast_shapes(x.shape, shape)
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ShapeError(at_user_line(f"cannot broadcast an array of shape {x.shape} to "
                                      f"shape {shape}"))
    return _broadcast(x, shape)


def broadcast_arrays(*args: ArrayLike) -> list[Any]:
    arrays = [asarray(a) for a in args]
    shape = _broadcast_shapes(*(a.shape for a in arrays))
    return [_broadcast(a, shape) for a in arrays]


def atleast_1d(a: ArrayLike) -> Any:
    x = asarray(a)
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(a: ArrayLike) -> Any:
    x = atleast_1d(a)
    return reshape(x, (1, *x.shape)) if x.ndim == 1 else x


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (NumPy promotion across all of them)."""
    arrs = [asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrs, axis = [ravel(a) for a in arrs], 0
    dt = np.result_type(*(a.dtype for a in arrs))
    arrs = [_cast(a, dt) for a in arrs]
    ndim = arrs[0].ndim
    for a in arrs[1:]:
        if a.ndim != ndim or builtins.any(
                x != y for i, (x, y) in enumerate(zip(a.shape, arrs[0].shape))
                if i != axis % ndim):
            raise ShapeError(at_user_line(
                f"concatenate: all input array dimensions except for the concatenation axis "
                f"must match; got shapes {[tuple(x.shape) for x in arrs]} along axis {axis}"))
    return lax.concatenate(arrs, axis % builtins.max(ndim, 1))


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Any:
    arrs = [asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("need at least one array to stack")
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise ShapeError(at_user_line(f"stack: all input arrays must have the same shape, "
                                      f"got {sorted(shapes)}"))
    ax = axis % (arrs[0].ndim + 1)
    return concatenate([expand_dims(a, ax) for a in arrs], ax)


def hstack(arrays: Sequence[ArrayLike]) -> Any:
    arrs = [atleast_1d(a) for a in arrays]
    return concatenate(arrs, 0 if arrs[0].ndim == 1 else 1)


def vstack(arrays: Sequence[ArrayLike]) -> Any:
    return concatenate([atleast_2d(a) for a in arrays], 0)


def split(a: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    x = asarray(a)
    ax = axis % x.ndim
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ValueError(at_user_line(
                f"array split does not result in an equal division: {n} into "
                f"{indices_or_sections}"))
        step = n // indices_or_sections
        bounds = [i * step for i in range(int(indices_or_sections) + 1)]
    else:
        # Split points are slice bounds: negative ones count from the end, as NumPy.
        points = [int(i) for i in indices_or_sections]
        bounds = [0, *[builtins.min(i + n if i < 0 else i, n) for i in points], n]
        bounds = [builtins.max(b, 0) for b in bounds]
    return [lax.slice_in_dim(x, lo, builtins.max(lo, hi), axis=ax)
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def pad(array: ArrayLike, pad_width: Any, mode: str = "constant",
        constant_values: Any = 0) -> Any:
    """Constant padding (``mode='constant'``), with NumPy's ``pad_width`` forms."""
    x = asarray(array)
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r}: only 'constant' is supported")
    width_arr = np.asarray(pad_width, dtype=np.int64)
    # NumPy's forms: n, (n,), (before, after), ((before, after),), one pair per axis.
    if width_arr.ndim < 2:
        width_arr = width_arr.reshape(1, -1)
    widths = np.broadcast_to(width_arr, (x.ndim, 2))
    config = [(int(lo), int(hi), 0) for lo, hi in widths]
    if isinstance(constant_values, Tracer):
        # lax.pad's value is static; a traced one (which may carry a derivative) is added
        # around x - v padded with zeros: x inside, v outside.
        v = asarray(constant_values, x.dtype)
        if v.ndim:
            raise NotImplementedError("pad: constant_values must be a scalar")
        return add(lax.pad(subtract(x, v), 0, config), v)
    return lax.pad(x, np.asarray(constant_values, x.dtype).item(), config)


def flip(m: ArrayLike, axis: Any = None) -> Any:
    x = asarray(m)
    return lax.rev(x, _axes(x, axis))


def fliplr(m: ArrayLike) -> Any:
    return flip(m, 1)


def flipud(m: ArrayLike) -> Any:
    return flip(m, 0)


def rot90(m: ArrayLike, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    x = asarray(m)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    if k == 1:
        return swapaxes(flip(x, a1), a0, a1)
    return flip(swapaxes(x, a0, a1), a1)


def tile(a: ArrayLike, reps: Any) -> Any:
    x = asarray(a)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = builtins.max(x.ndim, len(reps))
    x = reshape(x, (1,) * (nd - x.ndim) + x.shape)
    reps = (1,) * (nd - len(reps)) + reps
    # Broadcast to (r0, n0, r1, n1, ...) then merge pairs.
    inter = tuple(v for r, n in zip(reps, x.shape) for v in (r, n))
    b = lax.broadcast_in_dim(x, inter, tuple(range(1, 2 * nd, 2)))
    return reshape(b, tuple(r * n for r, n in zip(reps, x.shape)))


def repeat(a: ArrayLike, repeats: Any, axis: int | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = axis % x.ndim
    reps = full_lower(repeats)
    if isinstance(reps, Tracer):
        raise NotImplementedError("repeat: repeats must be concrete")
    reps = np.asarray(reps)
    if reps.ndim == 0:
        r = int(reps)
        b = lax.broadcast_in_dim(x, (*x.shape[:ax + 1], r, *x.shape[ax + 1:]),
                                 (*range(ax + 1), *range(ax + 2, x.ndim + 1)))
        return reshape(b, (*x.shape[:ax], x.shape[ax] * r, *x.shape[ax + 1:]))
    return take(x, np.repeat(np.arange(x.shape[ax]), reps), axis=ax)


def roll(a: ArrayLike, shift: Any, axis: Any = None) -> Any:
    x = asarray(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts, axes = _as_tuple(shift), _as_tuple(axis)
    try:
        pairs = np.broadcast(np.asarray(shifts), np.asarray(axes))
    except ValueError:
        raise ValueError(at_user_line(f"roll: shift {shift} and axis {axis} do not match")
                         ) from None
    for s, ax in ((int(s), int(a)) for s, a in pairs):
        ax %= x.ndim
        n = x.shape[ax]
        if n == 0:
            continue
        s %= n
        if s:
            x = concatenate([lax.slice_in_dim(x, n - s, n, axis=ax),
                             lax.slice_in_dim(x, 0, n - s, axis=ax)], ax)
    return x


def take(a: ArrayLike, indices: ArrayLike, axis: int | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = axis % x.ndim
    key = (builtins.slice(None),) * ax + (asarray(indices),)
    return _getitem(x, key)


def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis: int | None) -> Any:
    x = asarray(arr)
    idx = asarray(indices)
    if axis is None:
        x, axis = ravel(x), 0
    ax = axis % x.ndim
    if idx.ndim != x.ndim:
        raise ShapeError(at_user_line(
            f"take_along_axis: indices {idx.shape} and array {x.shape} must have the same "
            f"number of dimensions"))
    # Every other axis is indexed by a broadcastable arange: NumPy's own definition.
    key: list[Any] = [np.arange(n).reshape([-1 if j == i else 1 for j in range(x.ndim)])
                      for i, n in enumerate(x.shape)]
    key[ax] = idx
    return _getitem(x, tuple(key))


# == linear algebra ===========================================================================

def _dot_dtype(a: Any, b: Any) -> tuple[Any, Any]:
    dt = np.result_type(a.dtype, b.dtype)
    return _cast(a, dt), _cast(b, dt)


def matmul(a: ArrayLike, b: ArrayLike) -> Any:
    """``a @ b`` with NumPy's batching (stacked matrices broadcast).

    >>> matmul(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    x, y = _dot_dtype(asarray(a), asarray(b))
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(at_user_line("matmul: input operand does not have enough dimensions "
                                      f"(shapes {x.shape} and {y.shape})"))
    x_vec, y_vec = x.ndim == 1, y.ndim == 1
    if x_vec:
        x = reshape(x, (1, x.shape[0]))
    if y_vec:
        y = reshape(y, (y.shape[0], 1))
    if x.shape[-1] != y.shape[-2]:
        raise ShapeError(at_user_line(
            f"matmul: contracting dimension mismatch: {tuple(asarray(a).shape)} @ "
            f"{tuple(asarray(b).shape)} ({x.shape[-1]} != {y.shape[-2]})"))
    if x.ndim == 2 and y.ndim == 2:
        out = lax.dot_general(x, y, (((1,), (0,)), ((), ())))
    elif y.ndim == 2:
        # A stack of matrices times one matrix: a single BLAS call on the flattened stack.
        out = lax.dot_general(x, y, (((x.ndim - 1,), (0,)), ((), ())))
    else:
        batch = _broadcast_shapes(x.shape[:-2], y.shape[:-2])
        x = _broadcast(x, (*batch, *x.shape[-2:]))
        y = _broadcast(y, (*batch, *y.shape[-2:]))
        nb = len(batch)
        out = lax.dot_general(x, y, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))))
    if x_vec:
        out = squeeze(out, out.ndim - 2)
    if y_vec:
        out = squeeze(out, out.ndim - 1)
    return out


def dot(a: ArrayLike, b: ArrayLike) -> Any:
    x, y = _dot_dtype(asarray(a), asarray(b))
    if x.ndim == 0 or y.ndim == 0:
        return multiply(x, y)
    if y.ndim == 1:
        return tensordot(x, y, ((x.ndim - 1,), (0,)))
    return tensordot(x, y, ((x.ndim - 1,), (y.ndim - 2,)))


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    return dot(ravel(a), ravel(b))


def inner(a: ArrayLike, b: ArrayLike) -> Any:
    x, y = _dot_dtype(asarray(a), asarray(b))
    if x.ndim == 0 or y.ndim == 0:
        return multiply(x, y)
    return tensordot(x, y, ((x.ndim - 1,), (y.ndim - 1,)))


def outer(a: ArrayLike, b: ArrayLike) -> Any:
    x, y = _dot_dtype(ravel(a), ravel(b))
    return multiply(reshape(x, (-1, 1)), reshape(y, (1, -1)))


def tensordot(a: ArrayLike, b: ArrayLike, axes: Any = 2) -> Any:
    x, y = _dot_dtype(asarray(a), asarray(b))
    if isinstance(axes, (int, np.integer)):
        xa = tuple(range(x.ndim - int(axes), x.ndim))
        ya = tuple(range(int(axes)))
    else:
        xa_, ya_ = axes
        xa = (xa_,) if isinstance(xa_, int) else tuple(xa_)
        ya = (ya_,) if isinstance(ya_, int) else tuple(ya_)
    xa = tuple(i % x.ndim for i in xa)
    ya = tuple(i % y.ndim for i in ya)
    for i, j in zip(xa, ya):
        if x.shape[i] != y.shape[j]:
            raise ShapeError(at_user_line(
                f"tensordot: shape mismatch for sum: {x.shape} axes {xa} vs {y.shape} axes "
                f"{ya}"))
    return lax.dot_general(x, y, ((xa, ya), ((), ())))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    return sum(diagonal(a, offset, axis1, axis2), axis=-1)


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    x = asarray(a)
    a1, a2 = axis1 % x.ndim, axis2 % x.ndim
    n1, n2 = x.shape[a1], x.shape[a2]
    i = np.arange(builtins.max(0, builtins.min(n1 - builtins.max(0, -offset),
                                               n2 - builtins.max(0, offset))))
    rows, cols = i + builtins.max(0, -offset), i + builtins.max(0, offset)
    moved = moveaxis(x, (a1, a2), (0, 1))
    d = _getitem(moved, (rows, cols))  # shape (k, *rest)
    return moveaxis(d, 0, -1)


def einsum(subscripts: Any, *operands: Any, optimize: Any = "greedy") -> Any:
    """Einstein summation, contracted pairwise in the order ``numpy.einsum_path`` picks; the
    subscripts-string form or NumPy's interleaved ``(op0, sublist0, op1, sublist1, ...)``."""
    from funcgrad.numpy._einsum import einsum as _einsum
    return _einsum(subscripts, *operands, optimize=optimize)


# == creation =================================================================================

def zeros(shape: Any, dtype: Any = float) -> np.ndarray:
    return np.zeros(shape, dtype)


def ones(shape: Any, dtype: Any = float) -> np.ndarray:
    return np.ones(shape, dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    if isinstance(fill_value, Tracer):
        # Traced (possibly differentiated) fill values stay traced: no full_lower here.
        shape = _as_tuple(shape)
        return broadcast_to(asarray(fill_value, dtype), shape)
    return np.full(shape, fill_value, dtype)


def empty(shape: Any, dtype: Any = float) -> np.ndarray:
    return np.zeros(shape, dtype)


def zeros_like(a: ArrayLike, dtype: Any = None) -> np.ndarray:
    aval = get_aval(asarray(a))
    return np.zeros(aval.shape, dtype or aval.dtype)


def ones_like(a: ArrayLike, dtype: Any = None) -> np.ndarray:
    aval = get_aval(asarray(a))
    return np.ones(aval.shape, dtype or aval.dtype)


def full_like(a: ArrayLike, fill_value: Any, dtype: Any = None) -> Any:
    aval = get_aval(asarray(a))
    return full(aval.shape, fill_value, dtype or aval.dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> np.ndarray:
    # NumPy's semantics: arange(stop), arange(start, stop), and step given by keyword with
    # or without stop; a None is "not given", never dropped so later arguments shift left.
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, 1 if step is None else step, dtype=dtype)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             dtype: Any = None) -> Any:
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        return np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)
    # Traced ends (possibly differentiated): start + (stop - start) * i / div, with the sample
    # axis first and NumPy's dtype (the ends promote with a weak float).
    dt = result_type(start, stop, 1.0)
    start, stop = asarray(start), asarray(stop)
    start, stop = _cast(start, dt), _cast(stop, dt)
    end_shape = _broadcast_shapes(start.shape, stop.shape)
    div_ = (num - 1) if endpoint else num
    steps = (np.arange(num, dtype=np.float64) / builtins.max(div_, 1)).astype(dt)
    steps = steps.reshape((num,) + (1,) * len(end_shape))
    out = add(start, multiply(subtract(stop, start), steps))
    return out if dtype is None else astype(out, dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float) -> np.ndarray:
    return np.eye(N, M, k, dtype=dtype)


def identity(n: int, dtype: Any = float) -> np.ndarray:
    return np.identity(n, dtype)


def tril(m: ArrayLike, k: int = 0) -> Any:
    x = asarray(m)
    mask = np.tril(np.ones(x.shape[-2:], bool), k)
    return where(mask, x, 0)


def triu(m: ArrayLike, k: int = 0) -> Any:
    x = asarray(m)
    mask = np.triu(np.ones(x.shape[-2:], bool), k)
    return where(mask, x, 0)


def shape(a: ArrayLike) -> tuple[int, ...]:
    return tuple(get_aval(asarray(a)).shape)


def ndim(a: ArrayLike) -> int:
    return get_aval(asarray(a)).ndim


def size(a: ArrayLike) -> int:
    return get_aval(asarray(a)).size


def astype(x: ArrayLike, dtype: Any) -> Any:
    return _cast(asarray(x), np.dtype(dtype))


from funcgrad.numpy import _array_methods  # noqa: E402  (installs Tracer operators)
from funcgrad.numpy import linalg as linalg  # noqa: E402

del _array_methods
