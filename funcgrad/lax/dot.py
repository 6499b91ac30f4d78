"""dot_general: every tensor contraction (matmul, dense layers, tensordot, einsum pairs).

``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`` as XLA; the
output axes are batch, then lhs free, then rhs free. The impl hands the work to BLAS through
one ``np.matmul`` on (batch, free, contract) views.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval, result_type
from funcgrad.core.errors import ShapeError, check_axes
from funcgrad.core.primitive import Primitive
from funcgrad.lax import workspace
from funcgrad.lax.structural import transpose
from funcgrad.transforms import ad, batching, codegen

DimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                         tuple[tuple[int, ...], tuple[int, ...]]]

dot_general_p = Primitive("dot_general")


def _free(ndim: int, *used: Sequence[int]) -> list[int]:
    taken = {a for axes in used for a in axes}
    return [i for i in range(ndim) if i not in taken]


def _dot_general_tensordot(x: np.ndarray, y: np.ndarray, dimension_numbers: DimensionNumbers
                           ) -> np.ndarray:
    """The general path (and the reference the matmul fast paths are tested against)."""
    (xc, yc), (xb, yb) = dimension_numbers
    if not xb:
        return np.tensordot(x, y, (xc, yc))  # BLAS, via one reshape + dot
    x_free, y_free = _free(x.ndim, xc, xb), _free(y.ndim, yc, yb)
    batch = [x.shape[i] for i in xb]
    m = math.prod([x.shape[i] for i in x_free])
    n = math.prod([y.shape[i] for i in y_free])
    k = math.prod([x.shape[i] for i in xc])
    x3 = x.transpose((*xb, *x_free, *xc)).reshape((*batch, m, k))
    y3 = y.transpose((*yb, *yc, *y_free)).reshape((*batch, k, n))
    # A batch of outer products (per-example weight gradients under vmap) is a broadcast
    # multiply: np.matmul's batched k = 1 path is ~5x slower.
    out = x3 * y3 if k == 1 else np.matmul(x3, y3)
    return out.reshape((*batch, *[x.shape[i] for i in x_free], *[y.shape[i] for i in y_free]))


def _dot_general_matmul(x: np.ndarray, y: np.ndarray, dimension_numbers: DimensionNumbers
                        ) -> np.ndarray | None:
    """One ``np.matmul`` on (transposed) views, or None when the case is not covered.

    Covered: batch dims leading (and in order) on both sides, then at most one free and
    exactly one contracting axis per side: the 2-d products of dense layers and their VJPs
    (``x@w``, ``ct@w.T``, ``x.T@ct``) and batched matmuls. BLAS reads transposed views as
    they are, so nothing is copied.
    """
    (xc, yc), (xb, yb) = dimension_numbers
    nb = len(xb)
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        return None
    if len(xc) != 1 or tuple(xb) != tuple(range(nb)) or tuple(yb) != tuple(range(nb)):
        return None
    xr, yr = x.ndim - nb, y.ndim - nb
    if not (1 <= xr <= 2 and 1 <= yr <= 2) or xr + yr < 3 or x.dtype != y.dtype:
        return None
    if nb and (x.shape[xc[0]] == 1 or xr == 1 or yr == 1):
        return None  # the general path's outer-product multiply, and vector batches
    a = x if xc[0] == x.ndim - 1 else x.swapaxes(-1, -2)   # (..., m, k) or (k,)
    b = y if yc[0] == nb else y.swapaxes(-1, -2)            # (..., k, n) or (k,)
    if a.ndim >= 2 and b.ndim >= 2:
        batch = a.shape[:-2]
        if batch != b.shape[:-2]:
            batch = np.broadcast_shapes(batch, b.shape[:-2])
        shape = (*batch, a.shape[-2], b.shape[-1])
        if a.shape[-2] * b.shape[-1] * x.dtype.itemsize * _batch_size(shape) \
                < workspace.MIN_BYTES:
            return np.matmul(a, b)    # not pooled anyway: skip the pool's bookkeeping
        return np.matmul(a, b, out=workspace.empty(shape, x.dtype))
    return np.matmul(a, b)


def _batch_size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape[:-2]:
        n *= d
    return n


def _dot_general_impl(x: np.ndarray, y: np.ndarray, dimension_numbers: DimensionNumbers
                      ) -> np.ndarray:
    out = _dot_general_matmul(x, y, dimension_numbers)
    return _dot_general_tensordot(x, y, dimension_numbers) if out is None else out


def _dot_general_abstract_eval(x: ShapedArray, y: ShapedArray,
                               dimension_numbers: DimensionNumbers) -> ShapedArray:
    (xc, yc), (xb, yb) = dimension_numbers
    check_axes("dot_general", "lhs contracting and batch dimensions", (*xc, *xb), x.shape)
    check_axes("dot_general", "rhs contracting and batch dimensions", (*yc, *yb), y.shape)
    for xs, ys, what in ((xc, yc, "contracting"), (xb, yb, "batch")):
        if len(xs) != len(ys) or any(x.shape[i] != y.shape[j] for i, j in zip(xs, ys, strict=True)):
            raise ShapeError(f"dot_general: {what} dimensions {xs} of lhs shape {x.shape} do "
                             f"not match {ys} of rhs shape {y.shape}")
    if x.dtype != y.dtype:
        raise TypeError(f"dot_general requires equal dtypes, got {x.dtype} and {y.dtype}")
    shape = (*[x.shape[i] for i in xb], *[x.shape[i] for i in _free(x.ndim, xc, xb)],
             *[y.shape[i] for i in _free(y.ndim, yc, yb)])
    dtype, weak = result_type(x, y)
    return ShapedArray(shape, dtype, weak)


dot_general_p.def_impl(_dot_general_impl)
dot_general_p.def_abstract_eval(_dot_general_abstract_eval)
codegen.def_impl_call(dot_general_p)


def check_precision(precision: Any, where: str) -> None:
    """Validate a ``precision=`` argument (``None``, a ``lax.Precision`` or its string, or a
    pair of them); NumPy computes in the operands' dtype, so a valid one changes nothing."""
    from funcgrad.lax.composites import Precision
    for p in precision if isinstance(precision, (tuple, list)) else (precision,):
        if p is None or isinstance(p, Precision):
            continue
        try:
            Precision(p)
        except ValueError:
            raise TypeError(f"{where}: precision must be None, a fg.lax.Precision, one of its "
                            f"names or a pair of them, got {precision!r}") from None


def with_preferred_type(x: Any, y: Any, preferred_element_type: Any) -> tuple[Any, Any]:
    """The operands converted to ``preferred_element_type`` (the accumulation and result
    dtype, as JAX's): NumPy accumulates in the operands' dtype, so they are cast first."""
    if preferred_element_type is None:
        return x, y
    from funcgrad.lax.elementwise import convert_element_type
    dt = np.dtype(preferred_element_type)
    return tuple(a if get_aval(a).dtype == dt else convert_element_type(a, dt)  # type: ignore
                 for a in (x, y))


def dot_general(x: Any, y: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None) -> Any:
    """General contraction, as ``jax.lax.dot_general``. ``precision`` is validated and
    ignored (NumPy computes in the operands' dtype); ``preferred_element_type`` is the result
    dtype, the operands being converted to it.

    >>> import numpy as np
    >>> dot_general(np.ones((2, 3)), np.ones((3, 4)), (((1,), (0,)), ((), ()))).shape
    (2, 4)
    >>> dot_general(np.ones((2, 3), np.int8), np.ones((3,), np.int8), (((1,), (0,)), ((), ())),
    ...             preferred_element_type=np.float32).dtype
    dtype('float32')
    """
    if precision is not None:
        check_precision(precision, "dot_general")
    if preferred_element_type is not None:
        x, y = with_preferred_type(x, y, preferred_element_type)
    (xc, yc), (xb, yb) = dimension_numbers
    dn = ((tuple(int(i) for i in xc), tuple(int(i) for i in yc)),
          (tuple(int(i) for i in xb), tuple(int(i) for i in yb)))
    return dot_general_p.bind(x, y, dimension_numbers=dn)


def dot(x: Any, y: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """``jax.lax.dot``: vector/matrix products contracting ``x``'s last axis with ``y``'s
    first (no broadcasting; both of rank 1 or 2).

    >>> import numpy as np
    >>> dot(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    rx, ry = len(get_aval(x).shape), len(get_aval(y).shape)
    if rx not in (1, 2) or ry not in (1, 2):
        raise TypeError(f"dot: operands must have rank 1 or 2, got shapes "
                        f"{get_aval(x).shape} and {get_aval(y).shape}")
    return dot_general(x, y, (((rx - 1,), (0,)), ((), ())), precision, preferred_element_type)


def _ranges_like(*xs: Sequence[int]) -> list[list[int]]:
    out, start = [], 0
    for x in xs:
        out.append(list(range(start, start + len(x))))
        start += len(x)
    return out


@functools.lru_cache(maxsize=1024)
def _lhs_transpose_dims(x_ndim: int, y_ndim: int, dimension_numbers: DimensionNumbers,
                        swap_ans: bool) -> tuple[DimensionNumbers, tuple[int, ...]]:
    (xc, yc), (xb, yb) = dimension_numbers
    x_kept = _free(x_ndim, xc, xb)
    y_kept = _free(y_ndim, yc, yb)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    dims = ((tuple(ans_y), tuple(y_kept)), (tuple(ans_batch), tuple(yb)))
    xc_sorted_by_y = [xc[i] for i in np.argsort(yc)]
    out_axes = np.argsort([*xb, *x_kept, *xc_sorted_by_y])
    return dims, tuple(int(a) for a in out_axes)


@functools.lru_cache(maxsize=1024)
def _rhs_transpose_dims(x_ndim: int, y_ndim: int, dimension_numbers: DimensionNumbers
                        ) -> tuple[DimensionNumbers, tuple[int, ...]]:
    (xc, yc), (xb, yb) = dimension_numbers
    x_kept = _free(x_ndim, xc, xb)
    y_kept = _free(y_ndim, yc, yb)
    ans_batch, ans_x, _ = _ranges_like(xb, x_kept, y_kept)
    dims = ((tuple(x_kept), tuple(ans_x)), (tuple(xb), tuple(ans_batch)))
    yc_sorted_by_x = [yc[i] for i in np.argsort(xc)]
    out_axes = np.argsort([*yb, *yc_sorted_by_x, *y_kept])
    return dims, tuple(int(a) for a in out_axes)


def _transpose_lhs(ct: Any, x_ndim: int, y: Any, dimension_numbers: DimensionNumbers,
                   swap_ans: bool = False) -> Any:
    # dX = ct . Y contracted over Y's free axes, then axes put back in X's order.
    dims, out_axes = _lhs_transpose_dims(x_ndim, get_aval(y).ndim, dimension_numbers,
                                         swap_ans)
    return transpose(_bind_dot(ct, y, dims), out_axes)


def _transpose_rhs(ct: Any, x: Any, y_ndim: int, dimension_numbers: DimensionNumbers) -> Any:
    # dY = X . ct contracted over X's free axes. With X as the lhs the result comes out as
    # (batch, X's contracting axes, Y's free axes), which is already Y's order in the common
    # cases (a dense layer's dW = x^T ct): no transposed view of a transposed product.
    dims, out_axes = _rhs_transpose_dims(get_aval(x).ndim, y_ndim, dimension_numbers)
    return transpose(_bind_dot(x, ct, dims), out_axes)


def _bind_dot(x: Any, y: Any, dimension_numbers: DimensionNumbers) -> Any:
    """``dot_general`` for the rules, whose dimension numbers are already canonical tuples
    of ints and whose operands already share a dtype."""
    return dot_general_p.bind(x, y, dimension_numbers=dimension_numbers)


# Bilinear: d(x.y) = dx.y + x.dy; the VJPs are the two transposes (a dense layer's
# dx = dz W^T and dW = x^T dz are the 2-d case).
ad.defjvp(dot_general_p,
          lambda t, ans, x, y, dimension_numbers: _bind_dot(t, y, dimension_numbers),
          lambda t, ans, x, y, dimension_numbers: _bind_dot(x, t, dimension_numbers))
ad.defvjp(dot_general_p,
          lambda ct, ans, x, y, dimension_numbers:
          _transpose_lhs(ct, get_aval(x).ndim, y, dimension_numbers),
          lambda ct, ans, x, y, dimension_numbers:
          _transpose_rhs(ct, x, get_aval(y).ndim, dimension_numbers))


def _dot_general_batch(args: Sequence[Any], dims: Sequence[Any],
                       dimension_numbers: DimensionNumbers) -> tuple[Any, int]:
    # Both batched: the batch axis becomes a new leading batch dimension of the contraction.
    # One batched: its batch axis is simply one more free axis, no broadcast needed.
    (x, y), (xd, yd) = args, dims
    (xc, yc), (xb, yb) = dimension_numbers

    def shift(axes: Sequence[int], d: int | None) -> tuple[int, ...]:
        return tuple(a + (1 if d is not None and a >= d else 0) for a in axes)

    if xd is not None and yd is not None:
        dn = ((shift(xc, xd), shift(yc, yd)), ((xd, *shift(xb, xd)), (yd, *shift(yb, yd))))
        return dot_general(x, y, dn), 0
    if xd is not None:
        dn = ((shift(xc, xd), yc), (shift(xb, xd), yb))
        x_free = _free(get_aval(x).ndim, dn[0][0], dn[1][0])
        return dot_general(x, y, dn), len(xb) + x_free.index(xd)
    dn = ((xc, shift(yc, yd)), (xb, shift(yb, yd)))
    y_free = _free(get_aval(y).ndim, dn[0][1], dn[1][1])
    x_free = _free(get_aval(x).ndim, xc, xb)
    return dot_general(x, y, dn), len(xb) + len(x_free) + y_free.index(yd)


batching.batch_rules[dot_general_p] = _dot_general_batch
