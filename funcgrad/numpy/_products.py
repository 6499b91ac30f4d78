"""Products: matmul, dot, vdot, inner, outer, tensordot, einsum, trace and diagonal."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradValueError, ShapeError, at_user_line
from funcgrad.lax.indexing import getitem as _getitem
from funcgrad.numpy._core import ArrayLike, _broadcast, _broadcast_shapes, _cast, asarray
from funcgrad.numpy._reductions import sum
from funcgrad.numpy._shape import moveaxis, ravel, reshape, squeeze
from funcgrad.numpy._ufuncs import conjugate, multiply


def _dot_dtype(a: Any, b: Any, preferred_element_type: Any = None) -> tuple[Any, Any]:
    # The result dtype: NumPy's promotion, or JAX's preferred_element_type (the operands are
    # converted to it, NumPy accumulating in the operands' dtype).
    dt = (np.result_type(a.dtype, b.dtype) if preferred_element_type is None
          else np.dtype(preferred_element_type))
    return _cast(a, dt), _cast(b, dt)


def _check_precision(precision: Any, where: str) -> None:
    from funcgrad.lax.dot import check_precision
    check_precision(precision, where)


def matmul(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """``a @ b`` with NumPy's batching (stacked matrices broadcast). ``precision`` is
    validated and ignored (NumPy computes in the operands' dtype), ``preferred_element_type``
    is the result dtype (as ``jax.numpy``'s).

    >>> matmul(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    _check_precision(precision, "matmul")
    x, y = _dot_dtype(asarray(a), asarray(b), preferred_element_type)
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


def dot(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
        preferred_element_type: Any = None) -> Any:
    """``numpy.dot``, with ``jax.numpy``'s ``precision`` (validated, ignored) and
    ``preferred_element_type`` (the result dtype).

    >>> dot(np.ones((2, 3), np.int8), np.ones(3, np.int8), preferred_element_type=np.float32)
    array([3., 3.], dtype=float32)
    """
    _check_precision(precision, "dot")
    x, y = _dot_dtype(asarray(a), asarray(b), preferred_element_type)
    if x.ndim == 0 or y.ndim == 0:
        return multiply(x, y)
    if y.ndim == 1:
        return tensordot(x, y, ((x.ndim - 1,), (0,)))
    return tensordot(x, y, ((x.ndim - 1,), (y.ndim - 2,)))


def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """``sum(conj(a) * b)`` over the flattened arrays, as ``numpy.vdot``."""
    x, y = ravel(a), ravel(b)
    if x.size != y.size:
        raise ShapeError(at_user_line(f"vdot: vectors have different lengths: {x.size} and "
                                      f"{y.size}"))
    return dot(conjugate(x), y)


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
        if not 0 <= axes <= builtins.min(x.ndim, y.ndim):
            raise np.exceptions.AxisError(at_user_line(
                f"tensordot: axes={axes} needs that many axes in both operands, got shapes "
                f"{x.shape} and {y.shape}"))
        xa = tuple(range(x.ndim - int(axes), x.ndim))
        ya = tuple(range(int(axes)))
    else:
        xa_, ya_ = axes
        xa = (xa_,) if isinstance(xa_, int) else tuple(xa_)
        ya = (ya_,) if isinstance(ya_, int) else tuple(ya_)
    if len(xa) != len(ya) or builtins.any(not -x.ndim <= i < x.ndim for i in xa) or \
            builtins.any(not -y.ndim <= j < y.ndim for j in ya):
        raise np.exceptions.AxisError(at_user_line(
            f"tensordot: axes {axes} do not fit shapes {x.shape} and {y.shape}"))
    xa = tuple(i % x.ndim for i in xa)
    ya = tuple(i % y.ndim for i in ya)
    for i, j in zip(xa, ya, strict=True):
        if x.shape[i] != y.shape[j]:
            raise ShapeError(at_user_line(
                f"tensordot: shape mismatch for sum: {x.shape} axes {xa} vs {y.shape} axes "
                f"{ya}"))
    return lax.dot_general(x, y, ((xa, ya), ((), ())))


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    return sum(diagonal(a, offset, axis1, axis2), axis=-1)


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    x = asarray(a)
    if x.ndim < 2:
        raise FuncgradValueError(f"diagonal requires an array of at least two dimensions, "
                                 f"got shape {x.shape}")
    if not (-x.ndim <= axis1 < x.ndim and -x.ndim <= axis2 < x.ndim):
        raise np.exceptions.AxisError(at_user_line(
            f"diagonal: axis1 {axis1} or axis2 {axis2} is out of bounds for array of "
            f"dimension {x.ndim}"))
    a1, a2 = axis1 % x.ndim, axis2 % x.ndim
    if a1 == a2:
        raise FuncgradValueError("diagonal: axis1 and axis2 cannot be the same")
    n1, n2 = x.shape[a1], x.shape[a2]
    i = np.arange(builtins.max(0, builtins.min(n1 - builtins.max(0, -offset),
                                               n2 - builtins.max(0, offset))))
    rows, cols = i + builtins.max(0, -offset), i + builtins.max(0, offset)
    moved = moveaxis(x, (a1, a2), (0, 1))
    d = _getitem(moved, (rows, cols))  # shape (k, *rest)
    return moveaxis(d, 0, -1)


def einsum(subscripts: Any, *operands: Any, optimize: Any = "greedy", precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """Einstein summation, contracted pairwise in the order ``numpy.einsum_path`` picks; the
    subscripts-string form or NumPy's interleaved ``(op0, sublist0, op1, sublist1, ...)``.
    ``precision`` is validated and ignored; ``preferred_element_type`` is the result dtype."""
    from funcgrad.numpy._einsum import einsum as _einsum
    _check_precision(precision, "einsum")
    if preferred_element_type is not None:
        dt = np.dtype(preferred_element_type)
        operands = tuple(_cast(asarray(o), dt) if hasattr(o, "shape") or
                         isinstance(o, (int, float, complex)) else o for o in operands)
        if not isinstance(subscripts, str):
            subscripts = _cast(asarray(subscripts), dt)
    return _einsum(subscripts, *operands, optimize=optimize)
