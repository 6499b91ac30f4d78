"""Conversion, NEP 50 promotion, broadcasting and axis arguments: what every family of
``fg.numpy`` builds on."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from funcgrad import lax
from funcgrad.core.avals import get_aval, weak_stand_in
from funcgrad.core.errors import ShapeError, at_user_line, supported_dtype
from funcgrad.core.tracing import Tracer

_PY_SCALARS = (bool, int, float, complex)
ArrayLike = Any


def check_dtype(dtype: Any) -> np.dtype | None:
    """A ``dtype=`` argument as a NumPy dtype (None stays None); dtypes NumPy lacks (bfloat16,
    float8_*, int4, ...) raise a TypeError naming the dtype and what to use instead.

    >>> check_dtype("float32")
    dtype('float32')
    """
    return None if dtype is None else supported_dtype(dtype)


class _CPUDevice:
    """funcgrad's one device (NumPy's memory), equal to ``"cpu"``."""

    def __repr__(self) -> str:
        return "CpuDevice(id=0)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _CPUDevice) or other == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")


CPU_DEVICE = _CPUDevice()


def _check_device(device: Any) -> None:
    # The array API's device= keyword: None, "cpu" or CPU_DEVICE.
    if device is None or isinstance(device, _CPUDevice) or (
            isinstance(device, str) and device == "cpu"):
        return
    raise ValueError(f"device={device!r}: funcgrad runs on NumPy, whose only device is 'cpu'")


def asarray(a: ArrayLike, dtype: Any = None, order: Any = None, *, device: Any = None,
            copy: bool | None = None) -> Any:
    """``a`` as an array (tracers pass through; lists and scalars become ndarrays).

    ``copy=True`` always copies a concrete array, ``copy=False`` refuses to (ValueError when
    a copy is needed), None copies only when needed, as NumPy 2 and the array API.

    >>> asarray([1, 2], dtype=np.float32, copy=True)
    array([1., 2.], dtype=float32)
    """
    _check_device(device)
    if dtype is not None:
        dtype = supported_dtype(dtype)
    if copy is not None or order is not None:
        if isinstance(a, Tracer):
            if copy is False and dtype is not None and np.dtype(dtype) != a.dtype:
                raise ValueError("asarray: copy=False, but changing the dtype needs a copy")
            return asarray(a, dtype)  # traced values are immutable: a copy is never needed
        if not (isinstance(a, (list, tuple)) and builtins.any(
                isinstance(x, Tracer) for x in _flat(a))):
            return np.asarray(a, dtype=dtype, order=order, copy=copy)
    if isinstance(a, Tracer):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(x, Tracer) for x in _flat(a)):
        from funcgrad.numpy._shape import stack  # _shape builds on this module
        return stack([asarray(x) for x in a]).astype(dtype) if dtype else stack(
            [asarray(x) for x in a])
    out = np.asarray(a, dtype=dtype)
    if out.dtype.num >= 256:  # an ml_dtypes array (bfloat16, ...) from outside
        supported_dtype(out.dtype)
    return out


def array(a: ArrayLike, dtype: Any = None, copy: bool = True, *, device: Any = None) -> Any:
    _check_device(device)
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
    dt = (supported_dtype(dtype) if dtype is not None
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
    if len(set(out)) != len(out):
        raise ValueError(at_user_line(f"duplicate value in 'axis': {axis}"))
    return tuple(sorted(out))


def _axis_tuple(axis: Any) -> tuple[int, ...]:
    return tuple(int(a) for a in _as_tuple(axis))


def shape(a: ArrayLike) -> tuple[int, ...]:
    return tuple(get_aval(asarray(a)).shape)


def ndim(a: ArrayLike) -> int:
    return get_aval(asarray(a)).ndim


def size(a: ArrayLike) -> int:
    return get_aval(asarray(a)).size


def astype(x: ArrayLike, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """``x`` cast to ``dtype``; ``copy=False`` returns ``x`` itself when the dtype already
    matches (a traced value is never copied: it is immutable), as the array API.

    >>> astype(np.array([1.5, -2.5]), np.int32)
    array([ 1, -2], dtype=int32)
    """
    _check_device(device)
    a = asarray(x)
    out = _cast(a, supported_dtype(dtype))
    if copy and out is a and isinstance(a, np.ndarray):
        return a.copy()
    return out
