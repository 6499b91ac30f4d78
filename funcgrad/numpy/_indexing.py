"""Index-valued and gather functions: ``nonzero``, ``take``, ``take_along_axis``."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.core.tracing import Tracer, full_lower
from funcgrad.lax.indexing import getitem as _getitem
from funcgrad.numpy._core import ArrayLike, asarray


def nonzero(a: ArrayLike) -> tuple[np.ndarray, ...]:
    concrete = full_lower(a)
    if isinstance(concrete, Tracer):
        raise FuncgradTypeError(at_user_line(
            "nonzero/argwhere/where(cond) need a concrete array: their output shape depends "
            "on the values; use where(cond, x, y) instead"))
    return np.nonzero(np.asarray(concrete))


def _axis_in(axis: Any, ndim: int) -> int:
    if not -ndim <= int(axis) < ndim:
        raise np.exceptions.AxisError(at_user_line(
            f"axis {axis} is out of bounds for array of dimension {ndim}"))
    return int(axis) % ndim


def take(a: ArrayLike, indices: ArrayLike, axis: int | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        x, axis = lax.reshape(x, (-1,)), 0
    ax = _axis_in(axis, x.ndim)
    key = (builtins.slice(None),) * ax + (asarray(indices),)
    return _getitem(x, key)


def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis: int | None) -> Any:
    x = asarray(arr)
    idx = asarray(indices)
    if axis is None:
        x, axis = lax.reshape(x, (-1,)), 0
    ax = _axis_in(axis, x.ndim)
    if idx.ndim != x.ndim:
        raise ShapeError(at_user_line(
            f"take_along_axis: indices {idx.shape} and array {x.shape} must have the same "
            f"number of dimensions"))
    # Every other axis is indexed by a broadcastable arange: NumPy's own definition.
    key: list[Any] = [np.arange(n).reshape([-1 if j == i else 1 for j in range(x.ndim)])
                      for i, n in enumerate(x.shape)]
    key[ax] = idx
    return _getitem(x, tuple(key))
