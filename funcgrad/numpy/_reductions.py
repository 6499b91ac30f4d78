"""Reductions and scans: sum, prod, mean, var, std, max, min, arg-reductions, all/any,
cumsum, cumprod."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, at_user_line
from funcgrad.numpy._core import ArrayLike, _axes, _broadcast, _cast, asarray
from funcgrad.numpy._shape import moveaxis, ravel
from funcgrad.numpy._ufuncs import _as_bool, add, maximum, minimum, multiply, sqrt, subtract


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


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise NotImplementedError(at_user_line(
            f"the 'out' argument to {name} is not supported: arrays are immutable here"))


def _where_mask(where: Any, x: Any) -> Any:
    """The ``where=`` argument as a boolean mask of ``x``'s shape."""
    mask = _as_bool(where)
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(at_user_line(
            f"where= of shape {mask.shape} does not broadcast to the array's shape {x.shape}"))
    return _broadcast(mask, x.shape)


def _masked(x: Any, where: Any, fill: Any) -> Any:
    """``x`` with ``fill`` where the mask is False (no derivative reaches those entries)."""
    if where is None:
        return x
    return lax.select(_where_mask(where, x), x, lax.full_like(x, fill))


def _with_initial(total: Any, initial: Any, combine: Any) -> Any:
    if initial is None:
        return total
    return combine(total, _cast(asarray(initial), total.dtype))


def sum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
        keepdims: bool = False, initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Sum over ``axis`` (all axes by default), as ``numpy.sum``: ``initial`` is added, and
    only entries where ``where`` is True count.

    >>> sum(np.ones((2, 3)), axis=1)
    array([3., 3.])
    >>> sum(np.arange(4.0), where=np.array([True, False, True, False]), initial=10.0)
    array(12.)
    """
    _no_out(out, "sum")
    x = _cast_to_sum_dtype(asarray(a), dtype)
    axes = _axes(x, axis)
    total = _with_initial(lax.reduce_sum(_masked(x, where, 0), axes), initial, add)
    return _keepdims(total, x.shape, axes, keepdims)


def prod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Product over ``axis``, as ``numpy.prod`` (``initial`` multiplies in; masked-out
    entries count as 1).

    >>> prod(np.array([2.0, 3.0, 4.0]), where=np.array([True, True, False]))
    array(6.)
    """
    _no_out(out, "prod")
    x = _cast_to_sum_dtype(asarray(a), dtype)
    axes = _axes(x, axis)
    total = _with_initial(lax.reduce_prod(_masked(x, where, 1), axes), initial, multiply)
    return _keepdims(total, x.shape, axes, keepdims)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod([shape[a] for a in axes])


def _where_count(x: Any, axes: tuple[int, ...], where: Any, dtype: Any) -> Any:
    """How many entries each reduction covers, in ``dtype`` (a Python float if unmasked)."""
    if where is None:
        return float(_count(x.shape, axes))
    mask = _where_mask(where, x)
    return lax.reduce_sum(_cast(mask, dtype), axes)


def _mean_dtype(x: Any, dtype: Any) -> Any:
    if dtype is not None:
        return _cast(x, np.dtype(dtype))
    return x if x.dtype.kind in "fc" else _cast(x, np.float64)


def mean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: ArrayLike = None) -> Any:
    """Arithmetic mean over ``axis``, as ``numpy.mean`` (over the entries where ``where`` is
    True, if given).

    >>> mean(np.array([1.0, 2.0, 9.0]), where=np.array([True, True, False]))
    array(1.5)
    """
    _no_out(out, "mean")
    x = _mean_dtype(asarray(a), dtype)
    axes = _axes(x, axis)
    total = lax.reduce_sum(_masked(x, where, 0), axes)
    count = _where_count(x, axes, where, total.dtype)
    return _keepdims(lax.div(total, count), x.shape, axes, keepdims)


def var(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: ArrayLike = None, correction: Any = None) -> Any:
    """Variance over ``axis``, as ``numpy.var``: ``mean(abs(x - x.mean())**2)`` with
    ``ddof`` (or the array API's ``correction``) subtracted from the count; ``where`` masks.

    >>> var(np.array([1.0, 2.0, 3.0, 4.0]), ddof=1)
    array(1.66666667)
    """
    _no_out(out, "var")
    if correction is not None:
        if ddof != 0:
            raise ValueError(at_user_line("var/std: give ddof or correction, not both"))
        ddof = correction
    x = asarray(a)
    # NumPy's var of integers and booleans is float64 (as its mean), not float16
    x = _cast(x, np.dtype(dtype) if dtype is not None else (
        x.dtype if x.dtype.kind in "fc" else np.dtype(np.float64)))
    axes = _axes(x, axis)
    # Masked-out entries become 0 before centring, so a nan there cannot poison the gradient.
    x = _masked(x, where, 0)
    centered = subtract(x, mean(x, axis=axes, keepdims=True, where=where))
    if centered.dtype.kind == "c":
        sq = lax.add(lax.integer_pow(lax.real(centered), 2),
                     lax.integer_pow(lax.imag(centered), 2))
    else:
        sq = multiply(centered, centered)
    total = lax.reduce_sum(_masked(sq, where, 0), axes)
    n = _where_count(x, axes, where, total.dtype)
    # NumPy's max(n - ddof, 0): past ddof the variance is nan (0/0) or inf, never negative
    denom = (builtins.max(n - ddof, 0.0) if isinstance(n, float)
             else lax.max(subtract(n, ddof), lax.full_like(n, 0)))
    return _keepdims(lax.div(total, denom), x.shape, axes, keepdims)


def std(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: ArrayLike = None, correction: Any = None) -> Any:
    """Standard deviation, ``sqrt(var(...))``, as ``numpy.std``.

    >>> std(np.array([1.0, 3.0]))
    array(1.)
    """
    _no_out(out, "std")
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where,
                    correction=correction))


def _check_nonempty(x: Any, axes: tuple[int, ...], name: str) -> None:
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(at_user_line(
            f"zero-size array to reduction operation {name} which has no identity "
            f"(shape {x.shape})"))


def _lowest(dt: np.dtype, sign: int) -> Any:
    """The identity of max (``sign=-1``: the lowest value) or of min (``sign=1``)."""
    if dt.kind == "f":
        return sign * np.inf
    if dt.kind == "b":
        return sign > 0
    info = np.iinfo(dt)
    return info.max if sign > 0 else info.min


def _extremum(lax_fn: Any, combine: Any, name: str, sign: int, a: ArrayLike, axis: Any,
              keepdims: bool, initial: Any, where: Any) -> Any:
    x = asarray(a)
    axes = _axes(x, axis)
    if initial is None:
        if where is not None:
            raise ValueError(at_user_line(
                f"reduction operation '{name}' does not have an identity, so to use a where "
                f"mask one has to specify 'initial'"))
        _check_nonempty(x, axes, name)
        return _keepdims(lax_fn(x, axes), x.shape, axes, keepdims)
    if x.dtype.kind == "c":
        raise TypeError(at_user_line(f"{name} with initial= is not defined for complex input"))
    if _count(x.shape, axes) == 0:
        kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
        out = lax.broadcast_to(_cast(asarray(initial), x.dtype), kept)
    else:
        out = lax_fn(_masked(x, where, _lowest(x.dtype, sign)), axes)
        out = _with_initial(out, initial, combine)
    return _keepdims(out, x.shape, axes, keepdims)


def max(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False,
        initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Maximum over ``axis``, as ``numpy.max``; ties share the gradient evenly (as JAX).
    ``initial`` is a lower bound of the result (needed with ``where``, and for empty input).

    >>> max(np.array([1.0, 5.0, 2.0]), where=np.array([True, False, True]), initial=0.0)
    array(2.)
    """
    _no_out(out, "max")
    return _extremum(lax.reduce_max, maximum, "maximum", -1, a, axis, keepdims, initial, where)


def min(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False,
        initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Minimum over ``axis``, as ``numpy.min`` (``initial`` is an upper bound).

    >>> min(np.array([3.0, 1.0]), initial=2.0)
    array(1.)
    """
    _no_out(out, "min")
    return _extremum(lax.reduce_min, minimum, "minimum", 1, a, axis, keepdims, initial, where)


amax, amin = max, min


def _arg_reduce(lax_fn: Any, a: ArrayLike, axis: int | None, keepdims: bool) -> Any:
    x = asarray(a)
    if axis is None:
        flat = ravel(x)
        _check_nonempty(flat, (0,), "argmax/argmin")
        out = lax_fn(flat, 0)
        return lax.reshape(out, (1,) * x.ndim) if keepdims else out
    _int_axis(axis)
    (ax,) = _axes(x, axis)
    _check_nonempty(x, (ax,), "argmax/argmin")
    return _keepdims(lax_fn(x, ax), x.shape, (ax,), keepdims)


def argmax(a: ArrayLike, axis: int | None = None, out: None = None, *,
           keepdims: bool = False) -> Any:
    _no_out(out, "argmax")
    return _arg_reduce(lax.argmax, a, axis, keepdims)


def argmin(a: ArrayLike, axis: int | None = None, out: None = None, *,
           keepdims: bool = False) -> Any:
    _no_out(out, "argmin")
    return _arg_reduce(lax.argmin, a, axis, keepdims)


def _bool_reduce(lax_fn: Any, identity: bool, a: ArrayLike, axis: Any, keepdims: bool,
                 where: Any) -> Any:
    x = _as_bool(a)
    axes = _axes(x, axis)
    if not axes:
        out = x if where is None else _masked(x, where, identity)
    elif _count(x.shape, axes) == 0:
        # An empty reduction is the identity (np.all([]) is True), which min/max lack.
        kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
        out = np.full(kept, identity)
    else:
        out = lax_fn(_masked(x, where, identity), axes)
    return _keepdims(out, x.shape, axes, keepdims)


def all(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False, *,
        where: ArrayLike = None) -> Any:
    """True if every entry (where ``where`` is True) is nonzero, as ``numpy.all``.

    >>> all(np.array([1, 0, 1]), where=np.array([True, False, True]))
    array(True)
    """
    _no_out(out, "all")
    return _bool_reduce(lax.reduce_min, True, a, axis, keepdims, where)


def any(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False, *,
        where: ArrayLike = None) -> Any:
    """True if some entry (where ``where`` is True) is nonzero, as ``numpy.any``.

    >>> any(np.array([0, 1]), where=np.array([True, False]))
    array(False)
    """
    _no_out(out, "any")
    return _bool_reduce(lax.reduce_max, False, a, axis, keepdims, where)


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    _no_out(out, "cumsum")
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    _int_axis(axis)
    x = _cast_to_sum_dtype(x, dtype)
    return lax.cumsum(x, _axes(x, axis)[0])


def _int_axis(axis: Any) -> None:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise FuncgradTypeError(f"{type(axis).__name__!r} object cannot be interpreted as an "
                                f"integer (axis must be one integer)")


def cumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: None = None
            ) -> Any:
    """Running product. Differentiable exactly (zeros included) as a masked product:
    ``out[i] = prod_j where(j <= i, x[j], 1)``, which costs n^2 along the axis."""
    _no_out(out, "cumprod")
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    _int_axis(axis)
    x = _cast_to_sum_dtype(x, dtype)
    (ax,) = _axes(x, axis)
    moved = moveaxis(x, ax, -1)
    n = moved.shape[-1]
    tiled = lax.broadcast_in_dim(moved, (*moved.shape, n),
                                 (*range(moved.ndim - 1), moved.ndim))  # [..., i, j] = x[j]
    mask = np.broadcast_to(np.tril(np.ones((n, n), bool)), tiled.shape)
    out = lax.reduce_prod(lax.select(mask, tiled, lax.full_like(tiled, 1)), moved.ndim)
    return moveaxis(out, -1, ax)
