"""Reductions: sum, max, min, prod over static axes; argmax/argmin; cumulative sum.

``axes`` is a sorted tuple of non-negative axes; reduced axes are dropped (``keepdims`` is a
reshape in ``funcgrad.numpy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import ShapeError, check_axes
from funcgrad.core.primitive import Primitive
from funcgrad.lax.elementwise import (
    convert_element_type,
    div,
    eq,
    full_like,
    mul,
    select,
)
from funcgrad.lax.structural import broadcast_in_dim, reshape, transpose
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis


def _reduced_shape(x: ShapedArray, axes: tuple[int, ...]) -> tuple[int, ...]:
    if any(not 0 <= a < x.ndim for a in axes):
        raise ShapeError(f"reduction axes {axes} are out of range for shape {x.shape}")
    if len(set(axes)) != len(axes):
        raise ShapeError(f"reduction axes {axes} repeat an axis of shape {x.shape}")
    return tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _reducer(name: str, impl: Any, ufunc: np.ufunc) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(lambda x, axes: impl(x, axis=axes))
    prim.def_abstract_eval(lambda x, axes: ShapedArray(_reduced_shape(x, axes), x.dtype,
                                                       x.weak_type))
    batching.defreducer(prim)
    codegen.codegen_rules[prim] = _reduce_codegen(ufunc)
    codegen.block_reductions[prim] = ufunc
    return prim


def _reduce_codegen(ufunc: np.ufunc) -> codegen.CodegenRule:
    # ``ufunc.reduce`` is what np.sum/np.max call; the accumulator dtype is the operand's.
    def rule(fn: codegen.FunctionWriter, eqn: Any, ins: list[str], outs: list[str]) -> None:
        dtype = fn.param(eqn.invars[0].aval.dtype, "dtype")
        fn.assign(eqn, outs, f"{fn.ufunc(ufunc)}.reduce({ins[0]}, axis={eqn.params['axes']!r}, "
                             f"dtype={dtype})")
    return rule


def _canonical_axes(x: Any, axes: int | Sequence[int] | None) -> tuple[int, ...]:
    ndim = get_aval(x).ndim
    if axes is None:
        return tuple(range(ndim))
    axes = (axes,) if isinstance(axes, (int, np.integer)) else axes
    out = []
    for a in axes:
        if not -ndim <= int(a) < max(ndim, 1):
            raise ShapeError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(set(out)))


def _reduce(prim: Primitive, x: Any, axes: int | Sequence[int] | None) -> Any:
    # Reducing over no axes is the identity: no equation.
    axes_t = _canonical_axes(x, axes)
    return x if not axes_t else prim.bind(x, axes=axes_t)


def expand_reduced(y: Any, x_shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Broadcast a reduced value back to ``x_shape`` (the inverse of dropping ``axes``)."""
    kept = tuple(i for i in range(len(x_shape)) if i not in axes)
    return broadcast_in_dim(y, x_shape, kept)


# == sum ======================================================================================

# dtype=x.dtype: NumPy would accumulate small integers in int64; the primitive keeps its type.
reduce_sum_p = _reducer("reduce_sum", lambda x, axis: np.sum(x, axis=axis, dtype=x.dtype),
                        np.add)


def reduce_sum(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    return _reduce(reduce_sum_p, x, axes)


ad.deflinear(reduce_sum_p, lambda ct, x, axes: [expand_reduced(ct, get_aval(x).shape, axes)])


# == max / min ================================================================================

reduce_max_p = _reducer("reduce_max", np.max, np.maximum)
reduce_min_p = _reducer("reduce_min", np.min, np.minimum)


def reduce_max(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    return _reduce(reduce_max_p, x, axes)


def reduce_min(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    return _reduce(reduce_min_p, x, axes)


def _chooser_weights(ans: Any, x: Any, axes: tuple[int, ...]) -> Any:
    # Every position equal to the extremum shares the gradient evenly (JAX: 4*max([3,3,1])
    # gives [2, 2, 0]); the weights scale with the cotangent, never normalised by it.
    shape = get_aval(x).shape
    hits = convert_element_type(eq(x, expand_reduced(ans, shape, axes)), get_aval(x).dtype)
    counts = reduce_sum(hits, axes)
    return div(hits, expand_reduced(counts, shape, axes))


def _defweighted(prim: Primitive, weights: Callable[[Any, Any, tuple[int, ...]], Any]) -> None:
    """A reduction whose derivative is ``weights(ans, x, axes)``, one weight per element of
    ``x``: the JVP is ``sum(t * w)`` over ``axes`` and the VJP ``expand(ct) * w``."""
    ad.defjvp(prim, lambda t, ans, x, axes: reduce_sum(mul(t, weights(ans, x, axes)), axes))
    ad.defvjp(prim, lambda ct, ans, x, axes: mul(expand_reduced(ct, get_aval(x).shape, axes),
                                                 weights(ans, x, axes)))


_defweighted(reduce_max_p, _chooser_weights)
_defweighted(reduce_min_p, _chooser_weights)


# == prod =====================================================================================

reduce_prod_p = _reducer("reduce_prod", lambda x, axis: np.prod(x, axis=axis, dtype=x.dtype),
                         np.multiply)


def reduce_prod(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    return _reduce(reduce_prod_p, x, axes)


def _prod_of_others(ans: Any, x: Any, axes: tuple[int, ...]) -> Any:
    # d prod / d x_i = prod_{j != i} x_j, computed exactly (zeros included) by taking the
    # product of an (n, n) matrix whose diagonal is 1. Costs n^2 memory along the axes.
    shape = get_aval(x).shape
    kept = [i for i in range(len(shape)) if i not in axes]
    n = math.prod([shape[a] for a in axes])
    moved = reshape(transpose(x, (*kept, *axes)), (*[shape[i] for i in kept], n))
    k = len(kept)
    tiled = broadcast_in_dim(moved, (*[shape[i] for i in kept], n, n), (*range(k), k + 1))
    eye = np.broadcast_to(np.eye(n, dtype=bool), get_aval(tiled).shape)
    others = reduce_prod(select(eye, full_like(tiled, 1), tiled), (k + 1,))
    back = reshape(others, (*[shape[i] for i in kept], *[shape[a] for a in axes]))
    return transpose(back, tuple(np.argsort((*kept, *axes))))


_defweighted(reduce_prod_p, _prod_of_others)


# == argmax / argmin ==========================================================================

def _arg_reducer(name: str, impl: Any) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(lambda x, axis, index_dtype: impl(x, axis=axis).astype(index_dtype))
    def abstract_eval(x: ShapedArray, axis: int, index_dtype: np.dtype) -> ShapedArray:
        if np.dtype(index_dtype).kind not in "iu":
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        return ShapedArray(_reduced_shape(x, (axis,)), index_dtype)

    prim.def_abstract_eval(abstract_eval)
    batching.defreducer(prim, "axis")
    ad.defnondiff(prim)
    codegen.def_impl_call(prim)
    return prim


argmax_p = _arg_reducer("argmax", np.argmax)
argmin_p = _arg_reducer("argmin", np.argmin)


def argmax(x: Any, axis: int, index_dtype: Any = np.int64) -> Any:
    """Index of the first maximum along ``axis``."""
    return argmax_p.bind(x, axis=_canonical_axes(x, axis)[0], index_dtype=np.dtype(index_dtype))


def argmin(x: Any, axis: int, index_dtype: Any = np.int64) -> Any:
    return argmin_p.bind(x, axis=_canonical_axes(x, axis)[0], index_dtype=np.dtype(index_dtype))


# == cumulative sum ===========================================================================

cumsum_p = Primitive("cumsum")


def _cumsum_impl(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


cumsum_p.def_impl(_cumsum_impl)
def _cumsum_abstract_eval(x: ShapedArray, axis: int, reverse: bool) -> ShapedArray:
    check_axes("cumsum", "axis", (axis,), x.shape)
    return x


cumsum_p.def_abstract_eval(_cumsum_abstract_eval)
codegen.def_impl_call(cumsum_p)


def cumsum(x: Any, axis: int = 0, reverse: bool = False) -> Any:
    return cumsum_p.bind(x, axis=_canonical_axes(x, axis)[0], reverse=bool(reverse))


def _cumsum_batch(args: Sequence[Any], dims: Sequence[Any], axis: int, reverse: bool
                  ) -> tuple[Any, int]:
    return cumsum(moveaxis(args[0], dims[0], 0), axis + 1, reverse), 0


# The transpose of a running sum is the running sum in the other direction.
ad.deflinear(cumsum_p, lambda ct, x, axis, reverse: [cumsum(ct, axis, not reverse)])
batching.batch_rules[cumsum_p] = _cumsum_batch
