"""Reductions and scans: sum, prod, mean, var, std, max, min, arg-reductions, all/any,
cumsum, cumprod."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, at_user_line
from funcgrad.numpy._core import ArrayLike, _axes, _cast, asarray
from funcgrad.numpy._shape import moveaxis, ravel
from funcgrad.numpy._ufuncs import _as_bool, multiply, sqrt, subtract


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
    x = asarray(a)
    # NumPy's var (like its mean) of integers and booleans is float64, not float16
    x = _cast(x, np.dtype(dtype) if dtype is not None else (
        x.dtype if x.dtype.kind in "fc" else np.dtype(np.float64)))
    axes = _axes(x, axis)
    centered = subtract(x, mean(x, axis=axes, keepdims=True))
    # |x - mean|^2: for complex x the real square of the modulus, as NumPy
    sq = multiply(centered, centered) if x.dtype.kind != "c" else lax.real(
        multiply(centered, lax.conj(centered)))
    n = builtins.max(_count(x.shape, axes) - ddof, 0)  # NumPy's: nan (0/0) past ddof
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
    _int_axis(axis)
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
    _int_axis(axis)
    x = _cast_to_sum_dtype(x, dtype)
    return lax.cumsum(x, _axes(x, axis)[0])


def _int_axis(axis: Any) -> None:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise FuncgradTypeError(f"{type(axis).__name__!r} object cannot be interpreted as an "
                                f"integer (axis must be one integer)")


def cumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None) -> Any:
    """Running product. Differentiable exactly (zeros included) as a masked product:
    ``out[i] = prod_j where(j <= i, x[j], 1)``, which costs n^2 along the axis."""
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
