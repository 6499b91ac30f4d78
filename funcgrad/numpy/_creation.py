"""Array creation: zeros, ones, full, *_like, arange, linspace, eye, identity, tril, triu."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from funcgrad.core.avals import get_aval
from funcgrad.core.tracing import Tracer
from funcgrad.numpy._core import (
    ArrayLike,
    _as_tuple,
    _broadcast_shapes,
    _cast,
    _check_device,
    asarray,
    astype,
    check_dtype,
    result_type,
)
from funcgrad.numpy._shape import broadcast_to
from funcgrad.numpy._ufuncs import add, multiply, subtract, where


def zeros(shape: Any, dtype: Any = float, *, device: Any = None) -> np.ndarray:
    _check_device(device)
    return np.zeros(shape, check_dtype(dtype))


def ones(shape: Any, dtype: Any = float, *, device: Any = None) -> np.ndarray:
    _check_device(device)
    return np.ones(shape, check_dtype(dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None, *, device: Any = None) -> Any:
    _check_device(device)
    if isinstance(fill_value, Tracer):
        # Traced (possibly differentiated) fill values stay traced: no full_lower here.
        shape = _as_tuple(shape)
        return broadcast_to(asarray(fill_value, dtype), shape)
    return np.full(shape, fill_value, check_dtype(dtype))


def empty(shape: Any, dtype: Any = float, *, device: Any = None) -> np.ndarray:
    """An array of ``shape`` (zeros: funcgrad never hands out uninitialised memory)."""
    _check_device(device)
    return np.zeros(shape, check_dtype(dtype))


def _like(a: ArrayLike, dtype: Any, shape: Any, device: Any) -> tuple[tuple[int, ...], Any]:
    _check_device(device)
    aval = get_aval(asarray(a))
    return (aval.shape if shape is None else _as_tuple(shape)), (check_dtype(dtype) or aval.dtype)


def zeros_like(a: ArrayLike, dtype: Any = None, shape: Any = None, *,
               device: Any = None) -> np.ndarray:
    return np.zeros(*_like(a, dtype, shape, device))


def ones_like(a: ArrayLike, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> np.ndarray:
    return np.ones(*_like(a, dtype, shape, device))


def empty_like(prototype: ArrayLike, dtype: Any = None, shape: Any = None, *,
               device: Any = None) -> np.ndarray:
    """An array shaped like ``prototype`` (zeros, as :func:`empty`), as ``numpy.empty_like``.

    >>> empty_like(np.ones((2, 1), np.float32))
    array([[0.],
           [0.]], dtype=float32)
    """
    return np.zeros(*_like(prototype, dtype, shape, device))


def full_like(a: ArrayLike, fill_value: Any, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> Any:
    shape, dtype = _like(a, dtype, shape, device)
    return full(shape, fill_value, dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None, *,
           device: Any = None) -> np.ndarray:
    _check_device(device)
    # NumPy's semantics: arange(stop), arange(start, stop), and step given by keyword with
    # or without stop; a None is "not given", never dropped so later arguments shift left.
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, 1 if step is None else step, dtype=check_dtype(dtype))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             dtype: Any = None, *, device: Any = None) -> Any:
    _check_device(device)
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        return np.linspace(start, stop, num, endpoint=endpoint, dtype=check_dtype(dtype))
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


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float, *,
        device: Any = None) -> np.ndarray:
    _check_device(device)
    return np.eye(N, M, k, dtype=check_dtype(dtype))


def identity(n: int, dtype: Any = float, *, device: Any = None) -> np.ndarray:
    _check_device(device)
    return np.identity(n, check_dtype(dtype))


def tril(m: ArrayLike, k: int = 0) -> Any:
    x = asarray(m)
    mask = np.tril(np.ones(x.shape[-2:], bool), k)
    return where(mask, x, np.zeros((), x.dtype))  # a weak 0 would promote booleans


def triu(m: ArrayLike, k: int = 0) -> Any:
    x = asarray(m)
    mask = np.triu(np.ones(x.shape[-2:], bool), k)
    return where(mask, x, np.zeros((), x.dtype))  # a weak 0 would promote booleans
