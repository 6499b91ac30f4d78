"""Structural primitives: they move, copy or drop elements but never combine them.

All are linear, so each gets its JVP and VJP from one transpose rule (``ad.deflinear``), and
they transpose into each other: broadcast <-> reduce_sum, pad <-> slice, rev <-> rev,
reshape <-> reshape, transpose <-> transpose, concatenate <-> slices.
"""

from __future__ import annotations

import builtins
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import ShapeError, check_axes
from funcgrad.core.ir import Literal
from funcgrad.core.primitive import Primitive
from funcgrad.transforms import ad, batching, codegen, passes
from funcgrad.transforms.batching import moveaxis

_py_slice = builtins.slice  # this module defines lax.slice

# == broadcast_in_dim =========================================================================

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def _broadcast_in_dim_impl(x: np.ndarray, shape: tuple[int, ...],
                           broadcast_dimensions: tuple[int, ...]) -> np.ndarray:
    expanded = [1] * len(shape)
    for src, dst in enumerate(broadcast_dimensions):
        expanded[dst] = x.shape[src]
    return np.broadcast_to(x.reshape(expanded), shape)


def _broadcast_in_dim_abstract_eval(x: ShapedArray, shape: tuple[int, ...],
                                    broadcast_dimensions: tuple[int, ...]) -> ShapedArray:
    if len(broadcast_dimensions) != x.ndim or any(
            x.shape[i] not in (1, shape[d]) for i, d in enumerate(broadcast_dimensions)):
        raise ShapeError(f"broadcast_in_dim: cannot broadcast shape {x.shape} to {shape} "
                         f"along dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype, x.weak_type)


broadcast_in_dim_p.def_impl(_broadcast_in_dim_impl)
broadcast_in_dim_p.def_abstract_eval(_broadcast_in_dim_abstract_eval)


def _simplify_broadcast(eqn: Any, defs: Any) -> Any:
    # A broadcast scalar constant is a zero-stride view: a literal, visible to other rules.
    x = eqn.invars[0]
    if isinstance(x, Literal) and x.val.ndim == 0:
        out = eqn.outvars[0].aval
        return Literal(np.broadcast_to(x.val.astype(out.dtype), out.shape), out)
    return None


passes.simplify_rules[broadcast_in_dim_p] = _simplify_broadcast
codegen.def_broadcast(broadcast_in_dim_p)


def broadcast_in_dim(x: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Any:
    """Broadcast ``x`` to ``shape``; operand axis ``i`` becomes ``broadcast_dimensions[i]``."""
    shape, dims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if get_aval(x).shape == shape:
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=dims)


def _broadcast_in_dim_transpose(ct: Any, x: Any, shape: tuple[int, ...],
                                broadcast_dimensions: tuple[int, ...]) -> list[Any]:
    # The one "unbroadcast": sum the new axes away, then the axes that were stretched from 1.
    from funcgrad.lax.reductions import reduce_sum
    x_shape = get_aval(x).shape
    new_axes = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions)
                      if x_shape[i] == 1 and shape[d] != 1)
    summed = reduce_sum(ct, tuple(sorted(new_axes + stretched)))
    return [reshape(summed, x_shape)]


def _broadcast_in_dim_batch(args: Sequence[Any], dims: Sequence[Any], shape: tuple[int, ...],
                            broadcast_dimensions: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (bdim,) = args, dims
    x = moveaxis(x, bdim, 0)
    size = get_aval(x).shape[0]
    return broadcast_in_dim(x, (size, *shape), (0, *(d + 1 for d in broadcast_dimensions))), 0


ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
batching.batch_rules[broadcast_in_dim_p] = _broadcast_in_dim_batch


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """NumPy-style broadcast (trailing axes aligned)."""
    ndim = get_aval(x).ndim
    return broadcast_in_dim(x, shape, tuple(range(len(shape) - ndim, len(shape))))


# == reshape ==================================================================================

reshape_p = Primitive("reshape")


# broadcast_reshape copies per repeated index when there are at most BROADCAST_COPIES of them
# and fewer than BROADCAST_INNER elements vary inside the last repeated axis (NumPy's copy
# of (n, 16, 2->32) runs 2-element inner loops: 2.8 ms against 0.54 ms; of (n, 2, 32) it is
# faster than two strided copies: 0.6 ms against 1.0 ms).
BROADCAST_COPIES = 16
BROADCAST_INNER = 16


def broadcast_reshape(view: np.ndarray, new_sizes: tuple[int, ...]) -> np.ndarray:
    """``view.reshape(new_sizes)`` (a copy) for a broadcast ``view``: a fresh array of
    ``view``'s shape gets the operand once per index of the repeated (zero-stride) axes,
    each a strided copy with the operand's inner loop, when the repeated axes are inner
    (NumPy's own copy then runs inner loops as short as the repeat).

    >>> v = np.broadcast_to(np.arange(3.0)[:, None], (3, 2))
    >>> broadcast_reshape(v, (6,))
    array([0., 0., 1., 1., 2., 2.])
    """
    repeated = [ax for ax in range(view.ndim) if view.strides[ax] == 0 and view.shape[ax] > 1]
    copies = math.prod([view.shape[ax] for ax in repeated])
    inner = math.prod(view.shape[repeated[-1] + 1:]) if repeated else 0
    if not repeated or copies > BROADCAST_COPIES or inner >= BROADCAST_INNER or view.size == 0:
        # NumPy's copy: its inner loop is long enough. A reshape NumPy can do as a view (unit
        # axes added to a broadcast) is one, of read-only or someone else's memory: copied,
        # since callers own the result (generated code writes into it)
        out = view.reshape(new_sizes)
        return out.copy() if np.may_share_memory(out, view) else out
    out = np.empty(view.shape, view.dtype)
    src = view[tuple(0 if ax in repeated else _py_slice(None) for ax in range(view.ndim))]
    wheres: list[tuple[Any, ...]] = []
    for index in itertools.product(*(range(view.shape[ax]) for ax in repeated)):
        where: list[Any] = [_py_slice(None)] * view.ndim
        for ax, i in zip(repeated, index, strict=True):
            where[ax] = i
        wheres.append(tuple(where))

    def copy_rows(lo: int, hi: int) -> None:
        # rows lo:hi of the leading axis (not a repeated one): each chunk its own rows
        for rows in wheres:
            out[lo:hi][rows] = src[lo:hi]

    if repeated[0] == 0:
        for rows in wheres:
            out[rows] = src
    else:       # the copies release the GIL: large ones run in row chunks on two threads
        codegen.parallel_chunks(copy_rows, view.shape[0], out.nbytes)
    return out.reshape(new_sizes)


def _reshape_impl(x: np.ndarray, new_sizes: tuple[int, ...]) -> np.ndarray:
    if 0 in x.strides:     # a broadcast view (or a size-1 axis): see broadcast_reshape
        return broadcast_reshape(x, new_sizes)
    return x.reshape(new_sizes)


reshape_p.def_impl(_reshape_impl)


def _reshape_abstract_eval(x: ShapedArray, new_sizes: tuple[int, ...]) -> ShapedArray:
    if math.prod(new_sizes) != x.size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} "
                         f"({x.size} elements) into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p.def_abstract_eval(_reshape_abstract_eval)
passes.simplify_rules[reshape_p] = lambda eqn, defs: (
    eqn.invars[0] if passes.same_type(eqn.invars[0], eqn.outvars[0]) else None)
codegen.def_reshape(reshape_p, broadcast_reshape)


def reshape(x: Any, new_sizes: Sequence[int]) -> Any:
    """Row-major reshape; one entry of ``new_sizes`` may be -1."""
    aval = get_aval(x)
    sizes = tuple(int(d) for d in new_sizes)
    if -1 in sizes:
        known = math.prod([d for d in sizes if d != -1])
        if sizes.count(-1) > 1 or known == 0 or aval.size % known:
            raise ShapeError(f"reshape: cannot reshape an array of shape {aval.shape} into "
                             f"shape {tuple(new_sizes)}")
        sizes = tuple(aval.size // known if d == -1 else d for d in sizes)
    if sizes == aval.shape:
        return x
    if math.prod(sizes) != aval.size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {aval.shape} "
                         f"({aval.size} elements) into shape {sizes}")
    return reshape_p.bind(x, new_sizes=sizes)


def _reshape_batch(args: Sequence[Any], dims: Sequence[Any], new_sizes: tuple[int, ...]
                   ) -> tuple[Any, int]:
    x = moveaxis(args[0], dims[0], 0)
    return reshape(x, (get_aval(x).shape[0], *new_sizes)), 0


ad.deflinear(reshape_p, lambda ct, x, new_sizes: [reshape(ct, get_aval(x).shape)])
batching.batch_rules[reshape_p] = _reshape_batch


def expand_dims(x: Any, dimensions: Sequence[int]) -> Any:
    shape = list(get_aval(x).shape)
    ndim = len(shape) + len(dimensions)
    norm = [d % ndim for d in dimensions if -ndim <= d < ndim]
    if len(norm) != len(dimensions) or len(set(norm)) != len(norm):
        raise ShapeError(f"expand_dims: dimensions {tuple(dimensions)} must be distinct axes "
                         f"of the result, of rank {ndim}, for an operand of shape "
                         f"{tuple(shape)}")
    for d in sorted(d % ndim for d in dimensions):
        shape.insert(d, 1)
    return reshape(x, shape)


def squeeze(x: Any, dimensions: Sequence[int]) -> Any:
    shape = get_aval(x).shape
    dims = {d % len(shape) for d in dimensions} if shape else set()
    for d in dims:
        if shape[d] != 1:
            raise ShapeError(f"squeeze: cannot squeeze axis {d} of size {shape[d]} "
                             f"(shape {shape})")
    return reshape(x, [n for i, n in enumerate(shape) if i not in dims])


# == transpose ================================================================================

transpose_p = Primitive("transpose")
transpose_p.def_impl(lambda x, permutation: x.transpose(permutation))


def _transpose_abstract_eval(x: ShapedArray, permutation: tuple[int, ...]) -> ShapedArray:
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeError(f"transpose: permutation {permutation} is not a permutation of the "
                         f"axes of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p.def_abstract_eval(_transpose_abstract_eval)
passes.simplify_rules[transpose_p] = lambda eqn, defs: (
    eqn.invars[0] if tuple(eqn.params["permutation"]) == tuple(range(eqn.invars[0].aval.ndim))
    else None)
codegen.def_impl_call(transpose_p)


def transpose(x: Any, permutation: Sequence[int]) -> Any:
    perm = tuple(int(p) for p in permutation)
    if perm == tuple(range(len(perm))):
        return x
    return transpose_p.bind(x, permutation=perm)


def _transpose_batch(args: Sequence[Any], dims: Sequence[Any], permutation: tuple[int, ...]
                     ) -> tuple[Any, int]:
    x = moveaxis(args[0], dims[0], 0)
    return transpose(x, (0, *(p + 1 for p in permutation))), 0


ad.deflinear(transpose_p, lambda ct, x, permutation:
             [transpose(ct, tuple(np.argsort(permutation)))])
batching.batch_rules[transpose_p] = _transpose_batch


# == pad ======================================================================================

pad_p = Primitive("pad")


def _pad_impl(x: np.ndarray, padding_config: tuple[tuple[int, int, int], ...],
              padding_value: Any) -> np.ndarray:
    # Positive low/high padding and interior padding first, then crop any negative padding.
    shape, inner, crop = [], [], []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        lo_p, hi_p = lo if lo > 0 else 0, hi if hi > 0 else 0
        core = n + (n - 1) * interior if n else 0
        shape.append(lo_p + core + hi_p)
        inner.append(_py_slice(lo_p, lo_p + core, interior + 1))
        crop.append(_py_slice(-lo if lo < 0 else 0, lo_p + core + hi_p - (-hi if hi < 0 else 0)))
    out = np.full(shape, padding_value, dtype=x.dtype)
    out[tuple(inner)] = x
    return out[tuple(crop)]


def _pad_abstract_eval(x: ShapedArray, padding_config: tuple[tuple[int, int, int], ...],
                       padding_value: Any) -> ShapedArray:
    if len(padding_config) != x.ndim:
        raise ShapeError(f"pad: padding_config has {len(padding_config)} entries for an array "
                         f"of shape {x.shape}")
    shape = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        size = lo + hi + n + max(n - 1, 0) * interior
        if interior < 0 or size < 0:
            raise ShapeError(f"pad: padding {padding_config} is invalid for shape {x.shape}")
        shape.append(size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


pad_p.def_impl(_pad_impl)
pad_p.def_abstract_eval(_pad_abstract_eval)
codegen.def_impl_call(pad_p)


def pad(x: Any, padding_value: Any, padding_config: Sequence[Sequence[int]]) -> Any:
    """Pad with (low, high, interior) per axis, as ``jax.lax.pad``; negative low/high crop.

    ``padding_value`` is a static scalar here (funcgrad pads with constants only).
    """
    config = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    if all(c == (0, 0, 0) for c in config):
        return x
    value = padding_value.item() if isinstance(padding_value, np.ndarray) else padding_value
    return pad_p.bind(x, padding_config=config, padding_value=value)


def _pad_transpose(ct: Any, x: Any, padding_config: tuple[tuple[int, int, int], ...],
                   padding_value: Any) -> list[Any]:
    # Undo low/high with negated padding, then keep every (interior + 1)-th element.
    unpadded = pad(ct, 0, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    shape = get_aval(unpadded).shape
    return [slice(unpadded, (0,) * len(shape), shape,
                  tuple(i + 1 for _, _, i in padding_config))]


def _pad_jvp(primals: Any, tangents: Any, padding_config: Any, padding_value: Any
             ) -> tuple[Any, Any]:
    # Affine in x: the padding value is a constant, so the tangent is padded with zeros.
    (x,), (t,) = primals, tangents
    return (pad_p.bind(x, padding_config=padding_config, padding_value=padding_value),
            pad(t, 0, padding_config))


def _pad_batch(args: Sequence[Any], dims: Sequence[Any], padding_config: Any,
               padding_value: Any) -> tuple[Any, int]:
    x = moveaxis(args[0], dims[0], 0)
    return pad(x, padding_value, ((0, 0, 0), *padding_config)), 0


ad.jvp_rules[pad_p] = _pad_jvp
ad.defvjp(pad_p, lambda ct, ans, x, padding_config, padding_value:
          _pad_transpose(ct, x, padding_config, padding_value)[0])
batching.batch_rules[pad_p] = _pad_batch


# == slice ====================================================================================

slice_p = Primitive("slice")


def _slice_impl(x: np.ndarray, start_indices: tuple[int, ...], limit_indices: tuple[int, ...],
                strides: tuple[int, ...]) -> np.ndarray:
    return x[tuple(_py_slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides,
                                                           strict=True))]


def _slice_abstract_eval(x: ShapedArray, start_indices: tuple[int, ...],
                         limit_indices: tuple[int, ...], strides: tuple[int, ...]
                         ) -> ShapedArray:
    if not (len(start_indices) == len(limit_indices) == len(strides) == x.ndim) or any(
            not 0 <= s <= e <= n or st < 1
            for s, e, st, n in zip(start_indices, limit_indices, strides, x.shape, strict=True)):
        raise ShapeError(f"slice: start {start_indices}, limit {limit_indices} and strides "
                         f"{strides} do not fit shape {x.shape}")
    shape = tuple(-(-(e - s) // st) for s, e, st in zip(start_indices, limit_indices, strides,
                                                        strict=True))
    return ShapedArray(shape, x.dtype, x.weak_type)


slice_p.def_impl(_slice_impl)
slice_p.def_abstract_eval(_slice_abstract_eval)
codegen.def_impl_call(slice_p)


def slice(x: Any, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None) -> Any:
    """``x[start:limit:stride]`` per axis, with non-negative static bounds (as jax.lax.slice)."""
    start = tuple(int(s) for s in start_indices)
    limit = tuple(int(e) for e in limit_indices)
    steps = (1,) * len(start) if strides is None else tuple(int(s) for s in strides)
    if start == (0,) * len(start) and limit == get_aval(x).shape and steps == (1,) * len(start):
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=steps)


def slice_in_dim(x: Any, start: int, limit: int, stride: int = 1, axis: int = 0) -> Any:
    shape = get_aval(x).shape
    axis %= len(shape)
    starts = [0] * len(shape)
    limits = list(shape)
    steps = [1] * len(shape)
    starts[axis], limits[axis], steps[axis] = start, limit, stride
    return slice(x, starts, limits, steps)


def _slice_transpose(ct: Any, x: Any, start_indices: tuple[int, ...],
                     limit_indices: tuple[int, ...], strides: tuple[int, ...]) -> list[Any]:
    # Scatter the slice back into zeros: pad low by start, dilate by stride - 1, pad the rest.
    x_shape = get_aval(x).shape
    ct_shape = get_aval(ct).shape
    config = []
    for s, st, n, m in zip(start_indices, strides, x_shape, ct_shape, strict=True):
        real_limit = s + (0 if m == 0 else 1 + (m - 1) * st)
        config.append((s, n - real_limit, st - 1))
    return [pad(ct, 0, config)]


def _slice_batch(args: Sequence[Any], dims: Sequence[Any], start_indices: tuple[int, ...],
                 limit_indices: tuple[int, ...], strides: tuple[int, ...]) -> tuple[Any, int]:
    x = moveaxis(args[0], dims[0], 0)
    n = get_aval(x).shape[0]
    return slice(x, (0, *start_indices), (n, *limit_indices), (1, *strides)), 0


ad.deflinear(slice_p, _slice_transpose)
batching.batch_rules[slice_p] = _slice_batch


# == rev ======================================================================================

rev_p = Primitive("rev")
rev_p.def_impl(lambda x, dimensions: np.flip(x, dimensions))
def _rev_abstract_eval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    check_axes("rev", "dimensions", dimensions, x.shape)
    return x


rev_p.def_abstract_eval(_rev_abstract_eval)
codegen.def_impl_call(rev_p)


def rev(x: Any, dimensions: Sequence[int]) -> Any:
    """Reverse the order of elements along ``dimensions`` (rot180 of a kernel is a rev)."""
    nd = get_aval(x).ndim
    check_axes("rev", "dimensions", tuple(int(d) % nd if -nd <= d < nd else int(d)
                                          for d in dimensions), get_aval(x).shape)
    dims = tuple(sorted(int(d) % nd for d in dimensions))
    return x if not dims else rev_p.bind(x, dimensions=dims)


def _rev_batch(args: Sequence[Any], dims: Sequence[Any], dimensions: tuple[int, ...]
               ) -> tuple[Any, int]:
    x = moveaxis(args[0], dims[0], 0)
    return rev(x, tuple(d + 1 for d in dimensions)), 0


ad.deflinear(rev_p, lambda ct, x, dimensions: [rev(ct, dimensions)])
batching.batch_rules[rev_p] = _rev_batch


# == concatenate ==============================================================================

concatenate_p = Primitive("concatenate")
concatenate_p.def_impl(lambda *xs, dimension: np.concatenate(xs, axis=dimension))


def _concatenate_abstract_eval(*xs: ShapedArray, dimension: int) -> ShapedArray:
    first = xs[0]
    check_axes("concatenate", "dimension", (dimension,), first.shape)
    for x in xs[1:]:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape,
                                                                             strict=True))
                                       if i != dimension) or x.dtype != first.dtype:
            raise ShapeError(f"concatenate: along axis {dimension}, all shapes must agree "
                             f"elsewhere and dtypes must match; got "
                             f"{', '.join(a.str_short() for a in xs)}")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(tuple(shape), first.dtype, all(x.weak_type for x in xs))


concatenate_p.def_abstract_eval(_concatenate_abstract_eval)
codegen.def_impl_call(concatenate_p)


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


def _concatenate_transpose(ct: Any, *xs: Any, dimension: int) -> list[Any]:
    out, start = [], 0
    for x in xs:
        n = get_aval(x).shape[dimension]
        out.append(slice_in_dim(ct, start, start + n, axis=dimension))
        start += n
    return out


def _concatenate_vjp(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                     **params: Any) -> list[Any]:
    pieces = _concatenate_transpose(ct, *primals, **params)
    return [p if need else None for p, need in zip(pieces, needs, strict=True)]


def _concatenate_jvp(primals: Any, tangents: Any, dimension: int) -> tuple[Any, Any]:
    ans = concatenate_p.bind(*primals, dimension=dimension)
    ts = [ad.instantiate_zeros(t, p) for t, p in zip(tangents, primals, strict=True)]
    return ans, concatenate(ts, dimension)


def _concatenate_batch(args: Sequence[Any], dims: Sequence[Any], dimension: int
                       ) -> tuple[Any, int]:
    size = batching.batch_size(args, dims)
    xs = [batching.bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    return concatenate(xs, dimension + 1), 0


ad.jvp_rules[concatenate_p] = _concatenate_jvp
ad.vjp_rules[concatenate_p] = _concatenate_vjp
batching.batch_rules[concatenate_p] = _concatenate_batch


# == iota =====================================================================================

iota_p = Primitive("iota")


def _iota_impl(dtype: np.dtype, shape: tuple[int, ...], dimension: int) -> np.ndarray:
    ramp = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.broadcast_to(ramp.reshape(expanded), shape)


iota_p.def_impl(_iota_impl)
def _iota_abstract_eval(dtype: np.dtype, shape: tuple[int, ...], dimension: int
                        ) -> ShapedArray:
    if any(d < 0 for d in shape):
        raise ShapeError(f"iota: shape {shape} has a negative dimension")
    check_axes("iota", "dimension", (dimension,), shape)
    return ShapedArray(shape, dtype)


iota_p.def_abstract_eval(_iota_abstract_eval)
codegen.def_impl_call(iota_p)
ad.defnondiff(iota_p)
# iota has no operands, so it is never batched; the rule exists for the registry's sake.
batching.batch_rules[iota_p] = lambda args, dims, **params: (iota_p.bind(**params), None)


def iota(dtype: Any, size: int) -> Any:
    """``arange(size)`` as a primitive (staged under jit, constant elsewhere)."""
    return iota_p.bind(dtype=np.dtype(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int) -> Any:
    return iota_p.bind(dtype=np.dtype(dtype), shape=tuple(int(d) for d in shape),
                       dimension=int(dimension))
