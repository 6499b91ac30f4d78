"""``fg.numpy.linalg``: norms (composites) and the matrix functions of ``fg.lax.linalg``.

``solve``, ``slogdet`` and ``cholesky`` are primitives (``fg.lax.linalg``); ``inv`` is
``solve(a, I)`` and ``det`` is ``sign * exp(logabsdet)``, so their derivatives come from those
rules. Inputs follow NumPy: stacks of matrices ``(..., n, n)``, integers computed in float64.
Real floating dtypes only (complex inputs raise a ``TypeError``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.lax import linalg as lax_linalg

__all__ = ["SlogdetResult", "cholesky", "det", "inv", "norm", "slogdet", "solve"]


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector and matrix norms, as ``numpy.linalg.norm`` (2-norms, Frobenius, 1, inf, p).

    The gradient of the 2-norm at zero is zero (the subgradient JAX picks), not NaN.
    """
    x = fnp.asarray(x)
    if axis is None and ord is None:
        return _two_norm(fnp.ravel(x), 0, keepdims, x.ndim)
    if axis is None:
        axis = tuple(range(x.ndim)) if x.ndim <= 2 else None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == 1:
        ax = axes[0]
        if ord is None or ord == 2:
            return _two_norm(x, ax, keepdims, None)
        if ord == np.inf:
            return fnp.max(fnp.abs(x), axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return fnp.min(fnp.abs(x), axis=ax, keepdims=keepdims)
        if ord == 0:
            return fnp.sum(fnp.not_equal(x, 0).astype(fnp.abs(x).dtype), axis=ax, keepdims=keepdims)
        if ord == 1:
            return fnp.sum(fnp.abs(x), axis=ax, keepdims=keepdims)
        p = float(ord)
        return fnp.power(fnp.sum(fnp.power(fnp.abs(x), p), axis=ax, keepdims=keepdims), 1 / p)
    if ord in (None, "fro"):
        return fnp.sqrt(fnp.sum(_abs2(x), axis=axes, keepdims=keepdims))
    r, c = (a % x.ndim for a in axes)
    if ord == 1:
        return fnp.max(fnp.sum(fnp.abs(x), axis=r, keepdims=True), axis=axes, keepdims=keepdims)
    if ord == np.inf:
        return fnp.max(fnp.sum(fnp.abs(x), axis=c, keepdims=True), axis=axes, keepdims=keepdims)
    raise NotImplementedError(f"matrix norm ord={ord!r} (supported: None, 'fro', 1, inf)")


def _abs2(x: Any) -> Any:
    # |x|^2, real for complex x (x * x would be complex and give a complex norm).
    return fnp.real(x * fnp.conj(x)) if x.dtype.kind == "c" else x * x


def _two_norm(x: Any, axis: int, keepdims: bool, full_ndim: int | None) -> Any:
    sq = fnp.sum(_abs2(x), axis=axis, keepdims=keepdims)
    # sqrt has an infinite derivative at 0; route zeros through a safe branch.
    is_zero = fnp.equal(sq, 0)
    safe = fnp.where(is_zero, 1.0, sq)
    out = fnp.where(is_zero, 0.0, fnp.sqrt(safe))
    if full_ndim is not None and keepdims:
        out = fnp.reshape(out, (1,) * full_ndim)
    return out


# == matrix functions =========================================================================

def _square_stack(a: Any, name: str) -> Any:
    """``a`` as a floating array of square matrices ``(..., n, n)``."""
    x = fnp.asarray(a)
    if x.dtype.kind == "c":
        raise FuncgradTypeError(at_user_line(
            f"linalg.{name}: complex matrices are not supported, got dtype {x.dtype}"))
    if x.dtype.kind != "f":
        x = fnp.astype(x, np.float64)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(at_user_line(
            f"linalg.{name}: expected square matrices of shape (..., n, n), got {x.shape}"))
    return x


def solve(a: Any, b: Any) -> Any:
    """Solve ``a @ x = b`` for ``x``, as ``numpy.linalg.solve`` (NumPy 2).

    Args:
        a: square matrices, shape ``(..., n, n)``.
        b: a vector ``(n,)`` or matrices ``(..., n, k)``; batch axes broadcast against ``a``'s.

    Returns:
        ``x`` with ``b``'s shape (broadcast batch axes).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.solve(np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([9.0, 8.0]))
    array([2., 3.])
    """
    x = _square_stack(a, "solve")
    y = fnp.asarray(b)
    dtype = np.result_type(x.dtype, y.dtype)
    if dtype.kind != "f":
        raise FuncgradTypeError(at_user_line(
            f"linalg.solve: complex right-hand sides are not supported, got dtype {y.dtype}"))
    x, y = fnp.astype(x, dtype), fnp.astype(y, dtype)
    n = x.shape[-1]
    vector = y.ndim == 1
    if vector:
        y = fnp.expand_dims(y, -1)
    if y.ndim < 2 or y.shape[-2] != n:
        raise ShapeError(at_user_line(
            f"linalg.solve: a has shape {x.shape}, so b must have shape ({n},) or "
            f"(..., {n}, k), got {tuple(fnp.shape(b))}"))
    batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    x = fnp.broadcast_to(x, (*batch, n, n))
    y = fnp.broadcast_to(y, (*batch, *y.shape[-2:]))
    out = lax_linalg.solve(x, y)
    return fnp.squeeze(out, -1) if vector else out


def inv(a: Any) -> Any:
    """The inverse of square matrices ``(..., n, n)``, as ``numpy.linalg.inv``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    x = _square_stack(a, "inv")
    eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
    return lax_linalg.solve(x, eye)


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as NumPy's and JAX's ``slogdet`` return."""

    sign: Any
    logabsdet: Any


def slogdet(a: Any) -> SlogdetResult:
    """Sign and natural log of the absolute determinant, as ``numpy.linalg.slogdet``.

    The sign has a zero derivative; ``logabsdet``'s gradient is ``inv(a).T``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.slogdet(np.array([[0.0, 2.0], [3.0, 0.0]]))
    SlogdetResult(sign=array(-1.), logabsdet=array(1.79175947))
    """
    sign, logabsdet = lax_linalg.slogdet(_square_stack(a, "slogdet"))
    return SlogdetResult(sign, logabsdet)


def det(a: Any) -> Any:
    """The determinant, as ``numpy.linalg.det``: ``sign * exp(logabsdet)`` from ``slogdet``,
    so its gradient is ``det(a) * inv(a).T`` (not defined at singular matrices).

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> round(float(fnp.linalg.det(a)), 12)
    5.0
    >>> fg.grad(fnp.linalg.det)(a)
    array([[ 3., -1.],
           [-1.,  2.]])
    """
    sign, logabsdet = slogdet(a)
    return fnp.multiply(sign, fnp.exp(logabsdet))


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """The Cholesky factor of symmetric positive-definite matrices, as
    ``jax.numpy.linalg.cholesky``: lower ``L`` with ``L @ L.T == a`` (or upper ``L.T``).

    With ``symmetrize_input`` (JAX's default) it factors ``(a + a.T) / 2``, so gradients are
    symmetric; otherwise only the lower triangle of ``a`` is read, as NumPy. A matrix that is
    not positive definite gives NaNs (as JAX) rather than an error.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    L = lax_linalg.cholesky(_square_stack(a, "cholesky"), symmetrize_input=symmetrize_input)
    return fnp.swapaxes(L, -1, -2) if upper else L
