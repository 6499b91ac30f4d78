"""``fg.numpy.linalg``: norms (composites) and the matrix functions of ``fg.lax.linalg``."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import numpy as fnp


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
            return fnp.sum(fnp.not_equal(x, 0).astype(x.dtype), axis=ax, keepdims=keepdims)
        if ord == 1:
            return fnp.sum(fnp.abs(x), axis=ax, keepdims=keepdims)
        p = float(ord)
        return fnp.power(fnp.sum(fnp.power(fnp.abs(x), p), axis=ax, keepdims=keepdims), 1 / p)
    if ord in (None, "fro"):
        return fnp.sqrt(fnp.sum(x * x, axis=axes, keepdims=keepdims))
    r, c = (a % x.ndim for a in axes)
    if ord == 1:
        return fnp.max(fnp.sum(fnp.abs(x), axis=r, keepdims=True), axis=axes, keepdims=keepdims)
    if ord == np.inf:
        return fnp.max(fnp.sum(fnp.abs(x), axis=c, keepdims=True), axis=axes, keepdims=keepdims)
    raise NotImplementedError(f"matrix norm ord={ord!r} (supported: None, 'fro', 1, inf)")


def _two_norm(x: Any, axis: int, keepdims: bool, full_ndim: int | None) -> Any:
    sq = fnp.sum(x * x, axis=axis, keepdims=keepdims)
    # sqrt has an infinite derivative at 0; route zeros through a safe branch.
    is_zero = fnp.equal(sq, 0)
    safe = fnp.where(is_zero, 1.0, sq)
    out = fnp.where(is_zero, 0.0, fnp.sqrt(safe))
    if full_ndim is not None and keepdims:
        out = fnp.reshape(out, (1,) * full_ndim)
    return out
