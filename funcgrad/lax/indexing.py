"""Gather and scatter: NumPy advanced indexing and the ``.at[]`` updates lower to these.

``gather(x, *indices)`` is ``x[indices[0], ..., indices[k-1]]`` on the leading ``k`` axes of
``x``, with integer index arrays of one common shape ``B``: the result has shape
``B + x.shape[k:]``. ``scatter_add(x, updates, *indices)`` is its transpose (NumPy's
``np.add.at`` on a copy) and ``scatter(x, updates, *indices)`` the functional ``x[idx] = u``.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.core.primitive import Primitive, zeros_like_aval
from funcgrad.core.tracing import Tracer, full_lower
from funcgrad.lax.elementwise import convert_element_type, eq, full_like, mul, select
from funcgrad.lax.elementwise import max as lax_max
from funcgrad.lax.elementwise import min as lax_min
from funcgrad.lax.structural import (
    broadcast_in_dim,
    expand_dims,
    reshape,
    rev,
    slice,
    squeeze,
    transpose,
)
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis

# == primitives ===============================================================================


def _check_indices(x: ShapedArray, indices: Sequence[ShapedArray], name: str) -> tuple[int, ...]:
    if len(indices) > x.ndim:
        raise ShapeError(f"{name}: {len(indices)} index arrays for an operand of shape {x.shape}")
    shapes = {i.shape for i in indices}
    if len(shapes) > 1:
        raise ShapeError(f"{name}: index arrays must share one shape, got {sorted(shapes)}")
    if any(i.dtype.kind not in "iu" for i in indices):
        raise FuncgradTypeError(f"{name}: indices must be integers, got "
                                f"{[str(i.dtype) for i in indices]}")
    return indices[0].shape if indices else ()


gather_p = Primitive("gather")
gather_p.def_impl(lambda x, *indices: x[indices])


def _gather_abstract_eval(x: ShapedArray, *indices: ShapedArray) -> ShapedArray:
    b = _check_indices(x, indices, "gather")
    return ShapedArray((*b, *x.shape[len(indices):]), x.dtype, x.weak_type)


gather_p.def_abstract_eval(_gather_abstract_eval)
codegen.def_impl_call(gather_p)


def gather(x: Any, *indices: Any) -> Any:
    """``x[indices]`` over the leading ``len(indices)`` axes (indices of one shape)."""
    return gather_p.bind(x, *indices)


def _full_updates(x: np.ndarray, updates: np.ndarray, indices: Sequence[np.ndarray]) -> Any:
    # np.add.at mis-handles values that must broadcast against multi-dimensional indices
    # (NumPy 2.4, see shared/PITFALLS.md): always hand it the full indexed shape.
    shape = (*np.shape(indices[0]), *x.shape[len(indices):]) if indices else x.shape
    return np.broadcast_to(updates, shape)


def _scatter_add_impl(x: np.ndarray, updates: np.ndarray, *indices: np.ndarray) -> np.ndarray:
    out = x.copy()
    np.add.at(out, indices, _full_updates(x, updates, indices))
    return out


def _scatter_impl(x: np.ndarray, updates: np.ndarray, *indices: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[indices] = _full_updates(x, updates, indices)
    return out


def _scatter_abstract_eval(name: str) -> Any:
    def rule(x: ShapedArray, updates: ShapedArray, *indices: ShapedArray) -> ShapedArray:
        b = _check_indices(x, indices, name)
        expected = (*b, *x.shape[len(indices):])
        if updates.shape != expected or updates.dtype != x.dtype:
            raise ShapeError(f"{name}: updates {updates.str_short()} must have the indexed "
                             f"shape {expected} and dtype {x.dtype}")
        return x
    return rule


scatter_add_p = Primitive("scatter_add")
scatter_add_p.def_impl(_scatter_add_impl)
scatter_add_p.def_abstract_eval(_scatter_abstract_eval("scatter_add"))
codegen.def_impl_call(scatter_add_p)
scatter_p = Primitive("scatter")
scatter_p.def_impl(_scatter_impl)
scatter_p.def_abstract_eval(_scatter_abstract_eval("scatter"))
codegen.def_impl_call(scatter_p)


def scatter_add(x: Any, updates: Any, *indices: Any) -> Any:
    """A copy of ``x`` with ``updates`` added at ``indices`` (repeats accumulate)."""
    return scatter_add_p.bind(x, updates, *indices)


def scatter(x: Any, updates: Any, *indices: Any) -> Any:
    """A copy of ``x`` with ``updates`` written at ``indices``."""
    return scatter_p.bind(x, updates, *indices)


def _zeros_of(x: Any) -> np.ndarray:
    return zeros_like_aval(get_aval(x))


def _scatter_jvp(prim: Primitive) -> ad.JVPRule:
    # Linear in (x, updates) jointly: the tangents are scattered at the same indices.
    def jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        dots = (ad.instantiate_zeros(t, p) for t, p in zip(tangents[:2], primals[:2], strict=True))
        return prim.bind(*primals), prim.bind(*dots, *primals[2:])
    return jvp


# gather is linear in x: its transpose scatters the cotangent back, adding over repeats.
ad.defjvp(gather_p, lambda t, ans, x, *idx: gather(t, *idx))
ad.defvjp(gather_p, lambda ct, ans, x, *idx: scatter_add(_zeros_of(x), ct, *idx))
ad.jvp_rules[scatter_add_p] = _scatter_jvp(scatter_add_p)
ad.defvjp(scatter_add_p, lambda ct, ans, x, u, *idx: ct,
          lambda ct, ans, x, u, *idx: gather(ct, *idx))
# scatter (set): overwritten entries of x get no gradient.
ad.jvp_rules[scatter_p] = _scatter_jvp(scatter_p)


def _scatter_winners(x: Any, u: Any, idx: Sequence[Any]) -> Any:
    # With repeated indices only one update per position lands in the output (the one the
    # impl writes last). Scatter each update's own id with the same impl and read the ids back:
    # an update wins where it reads its own id. Indices may be traced, so this stays in lax.
    u_shape = get_aval(u).shape
    b_shape = get_aval(idx[0]).shape if idx else ()
    n = math.prod(b_shape)
    ids = np.arange(n, dtype=np.int64).reshape(b_shape)
    ids = np.broadcast_to(ids.reshape(b_shape + (1,) * (len(u_shape) - len(b_shape))), u_shape)
    x_shape = get_aval(x).shape
    written = scatter(np.full(x_shape, -1, np.int64), ids, *idx)
    return eq(gather(written, *idx), ids)


def _scatter_updates_vjp(ct: Any, ans: Any, x: Any, u: Any, *idx: Any) -> Any:
    ct_u = gather(ct, *idx)
    if not idx:
        return ct_u
    if all(isinstance(i, np.ndarray) for i in idx):
        flat = np.ravel_multi_index([i.reshape(-1) for i in idx], get_aval(x).shape[:len(idx)],
                                    mode="wrap")
        if np.unique(flat).size == flat.size:
            return ct_u  # no repeats: every update lands
    return select(_scatter_winners(x, u, idx), ct_u, full_like(ct_u, 0))


ad.defvjp(scatter_p, lambda ct, ans, x, u, *idx: scatter(ct, _zeros_of(u), *idx),
          _scatter_updates_vjp)


def _batched_indices(indices: Sequence[Any], dims: Sequence[Any], size: int) -> list[Any]:
    """Index arrays with a leading batch axis, all of shape (size, *B)."""
    idx = [batching.bdim_at_front(i, d, size) for i, d in zip(indices, dims, strict=True)]
    b_shape = (size, *next((get_aval(i).shape[1:] for i in idx), ()))
    ramp = np.arange(size).reshape((size,) + (1,) * (len(b_shape) - 1))
    return [np.broadcast_to(ramp, b_shape), *idx]


def _gather_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    x, xd, size = args[0], dims[0], batching.batch_size(args, dims)
    idx = _batched_indices(args[1:], dims[1:], size)
    if xd is None:
        return gather(x, *idx[1:]), 0
    return gather(moveaxis(x, xd, 0), *idx), 0


def _scatter_batch(prim: Primitive) -> Any:
    def rule(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
        size = batching.batch_size(args, dims)
        x = batching.bdim_at_front(args[0], dims[0], size)
        u = batching.bdim_at_front(args[1], dims[1], size)
        idx = _batched_indices(args[2:], dims[2:], size)
        return prim.bind(x, u, *idx), 0
    return rule


batching.batch_rules[gather_p] = _gather_batch
batching.batch_rules[scatter_add_p] = _scatter_batch(scatter_add_p)
batching.batch_rules[scatter_p] = _scatter_batch(scatter_p)


# == NumPy indexing ===========================================================================

def _is_int_scalar(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, bool)


def _as_index_array(k: Any) -> Any:
    if isinstance(k, Tracer):
        lowered = full_lower(k)
        if not isinstance(lowered, Tracer) and get_aval(k).dtype == np.bool_:
            return np.asarray(lowered)
        if get_aval(k).dtype == np.bool_:
            raise FuncgradTypeError(at_user_line(
                "boolean mask indexing needs a concrete mask (its result's shape depends on "
                "the values); use fnp.where(mask, x, 0) instead"))
        if get_aval(k).dtype.kind not in "iu":
            raise FuncgradTypeError(at_user_line(
                f"indices must be integers, got a traced {get_aval(k).str_short()}"))
        return k
    arr = np.asarray(k)
    if arr.dtype == np.bool_:
        return arr
    if arr.size == 0 and isinstance(k, (list, tuple)):
        return arr.astype(np.intp)  # x[[]]: NumPy reads an empty list as integer indices
    if arr.dtype.kind not in "iu":
        raise FuncgradTypeError(at_user_line(f"indices must be integers or booleans, got {k!r}"))
    return arr


def _expand_key(key: Any, ndim: int) -> list[Any]:
    """Normalise an index: a list with Ellipsis expanded and boolean masks as int arrays."""
    key = list(key) if isinstance(key, tuple) else [key]
    out: list[Any] = []
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, builtins.slice) or _is_int_scalar(k):
            out.append(k)
            continue
        arr = _as_index_array(k)
        if isinstance(arr, np.ndarray) and arr.dtype == np.bool_ and arr.ndim == 0:
            raise IndexError(at_user_line(
                f"a 0-d boolean index (x[{bool(arr)}]) is not supported on traced arrays; "
                f"write x[None] for x[True] and x[None][:0] for x[False]"))
        if isinstance(arr, np.ndarray) and arr.dtype == np.bool_:
            out.extend(np.nonzero(arr))  # a mask over n axes is n integer index arrays
        else:
            out.append(arr)
    n_real = sum(1 for k in out if k is not None and k is not Ellipsis)
    # Identity tests only: `==` on index arrays would compare elementwise.
    ellipses = [i for i, k in enumerate(out) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > ndim:
        raise IndexError(at_user_line(
            f"too many indices for array: array is {ndim}-dimensional, but {n_real} were "
            f"indexed"))
    fill = [builtins.slice(None)] * (ndim - n_real)
    if ellipses:
        i = ellipses[0]
        return out[:i] + fill + out[i + 1:]
    return out + fill


def getitem(x: Any, key: Any) -> Any:
    """NumPy's ``x[key]``: basic indexing lowers to slice/rev/reshape, advanced to gather."""
    shape = get_aval(x).shape
    entries = _expand_key(key, len(shape))
    if not any(_is_advanced(k) for k in entries):
        return _basic_index(x, entries)
    if any(k is None for k in entries):
        # NumPy treats each None as a full slice over a new axis of length 1, also for the
        # placement of the advanced indices' result axes: make those axes real first.
        x = expand_dims(x, [i for i, k in enumerate(entries) if k is None])
        shape = get_aval(x).shape
        entries = [builtins.slice(None) if k is None else k for k in entries]
    # Integers among advanced indices are advanced too (NumPy's placement rule).
    entries = [np.asarray(k) if _is_int_scalar(k) else k for k in entries]
    # Apply the slices first: they keep their axes, so advanced positions do not move.
    sliced = _basic_index(x, [k if isinstance(k, builtins.slice) else builtins.slice(None)
                              for k in entries])
    adv = [i for i, k in enumerate(entries) if _is_advanced(k)]
    rest = [i for i in range(len(entries)) if i not in adv]
    idx = _broadcast_indices([entries[i] for i in adv], [shape[i] for i in adv])
    out = gather(transpose(sliced, (*adv, *rest)), *idx)
    n_b = get_aval(idx[0]).ndim
    if adv == list(range(adv[0], adv[0] + len(adv))) and adv[0] > 0:
        # Adjacent advanced indices: their result axes replace them in place.
        n_before = adv[0]
        perm = (*range(n_b, n_b + n_before), *range(n_b), *range(n_b + n_before,
                                                                  get_aval(out).ndim))
        out = transpose(out, perm)
    return out


def _is_advanced(k: Any) -> bool:
    return isinstance(k, (np.ndarray, Tracer))


def _broadcast_indices(indices: Sequence[Any], sizes: Sequence[int]) -> list[Any]:
    shapes = [get_aval(i).shape for i in indices]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError(at_user_line(
            f"shape mismatch: indexing arrays could not be broadcast together with shapes "
            f"{' '.join(map(str, shapes))}")) from None
    out = []
    for i, n in zip(indices, sizes, strict=True):
        if isinstance(i, np.ndarray):
            # (an empty broadcast reads nothing, so NumPy checks the bounds of integers only)
            if i.size and (math.prod(shape) or i.ndim == 0) and (i.max() >= n or i.min() < -n):
                raise IndexError(at_user_line(
                    f"index {int(i.max()) if i.max() >= n else int(i.min())} is out of bounds "
                    f"for axis with size {n}"))
            out.append(np.broadcast_to(np.where(i < 0, i + n, i), shape))
        else:
            out.append(broadcast_in_dim(i, shape, tuple(range(len(shape) - get_aval(i).ndim,
                                                              len(shape)))))
    return out


def _basic_index(x: Any, entries: Sequence[Any]) -> Any:
    shape = get_aval(x).shape
    starts, limits, steps, flips, squeezed = [], [], [], [], []
    axis = 0
    new_axes = []
    out_pos = 0
    for k in entries:
        if k is None:
            new_axes.append(out_pos)
            out_pos += 1
            continue
        n = shape[axis]
        if _is_int_scalar(k):
            i = int(k)
            if not -n <= i < n:
                raise IndexError(at_user_line(
                    f"index {i} is out of bounds for axis {axis} with size {n}"))
            i %= n
            starts.append(i)
            limits.append(i + 1)
            steps.append(1)
            squeezed.append(axis)
        else:
            start, stop, step = k.indices(n)
            if step < 0:
                # x[a:b:-s] is rev(x)[n-1-a : n-1-b : s].
                flips.append(axis)
                start, stop, step = n - 1 - start, n - 1 - stop, -step
            count = builtins.max(0, -(-(stop - start) // step))
            starts.append(start)
            limits.append(start + (count - 1) * step + 1 if count else start)
            steps.append(step)
            out_pos += 1
        axis += 1
    y = rev(x, flips) if flips else x
    y = slice(y, starts, limits, steps)
    if squeezed:
        y = squeeze(y, squeezed)
    if new_axes:
        y = expand_dims(y, new_axes)
    return y


def _full_index_arrays(shape: tuple[int, ...], key: Any) -> list[np.ndarray]:
    """Index arrays, one per axis, with ``x[key] == x[arrays]`` (exact NumPy semantics)."""
    grids = np.ogrid[tuple(builtins.slice(0, n) for n in shape)]
    return [np.broadcast_to(g, shape)[key] for g in grids]


class _IndexUpdateRef:
    """``x.at[key]``: functional updates, as JAX's ``.at[...]`` API."""

    __slots__ = ("x", "key")

    def __init__(self, x: Any, key: Any):
        self.x = x
        self.key = key

    def get(self) -> Any:
        return getitem(self.x, self.key)

    def _indices(self) -> list[Any]:
        shape = get_aval(self.x).shape
        key = self.key if isinstance(self.key, tuple) else (self.key,)
        if any(isinstance(k, Tracer) and isinstance(full_lower(k), Tracer) for k in key):
            # Traced indices: supported on the leading axes (x.at[i], x.at[i, j]).
            entries = _expand_key(key, len(shape))
            lead = [k for k in entries if not isinstance(k, builtins.slice)]
            if any(isinstance(k, builtins.slice) and k != builtins.slice(None)
                   for k in entries[:len(lead)]) or any(
                    not isinstance(k, builtins.slice) for k in entries[len(lead):]):
                raise NotImplementedError(
                    ".at[] with traced indices supports integer indices on the leading axes "
                    "only (x.at[i], x.at[i, j], x.at[idx_array])")
            lead = [np.asarray(k) if _is_int_scalar(k) else k for k in lead]
            return _broadcast_indices(lead, shape[:len(lead)])
        concrete = tuple(full_lower(k) for k in key)
        return _full_index_arrays(shape, concrete)

    def _updates(self, values: Any, idx: Sequence[Any]) -> Any:
        x_aval = get_aval(self.x)
        target = (*get_aval(idx[0]).shape, *x_aval.shape[len(idx):])
        v = values
        if not isinstance(v, (np.ndarray, Tracer)):
            v = np.asarray(v, dtype=x_aval.dtype)
        v = convert_element_type(v, x_aval.dtype)
        v_shape = get_aval(v).shape
        try:
            np.broadcast_shapes(v_shape, target)
        except ValueError:
            raise ShapeError(at_user_line(
                f".at[]: cannot broadcast update values of shape {v_shape} to the indexed "
                f"shape {target}")) from None
        nd = len(target)
        if v_shape != target:
            v = broadcast_in_dim(reshape(v, (1,) * (nd - len(v_shape)) + v_shape), target,
                                 tuple(range(nd)))
        return v

    def set(self, values: Any) -> Any:
        idx = self._indices()
        return scatter(self.x, self._updates(values, idx), *idx)

    def add(self, values: Any) -> Any:
        idx = self._indices()
        return scatter_add(self.x, self._updates(values, idx), *idx)

    def _combine(self, values: Any, op: Any, name: str) -> Any:
        idx = self._indices()
        if all(isinstance(i, np.ndarray) for i in idx):
            flat = np.ravel_multi_index([np.asarray(i) for i in idx],
                                        get_aval(self.x).shape[:len(idx)])
            if np.unique(flat).size != flat.size:
                raise NotImplementedError(
                    f".at[].{name} with repeated indices is not supported (use .add/.set or "
                    f"deduplicate the indices)")
        current = gather(self.x, *idx)
        return scatter(self.x, op(current, self._updates(values, idx)), *idx)

    def multiply(self, values: Any) -> Any:
        return self._combine(values, mul, "multiply")

    mul = multiply

    def min(self, values: Any) -> Any:
        return self._combine(values, lax_min, "min")

    def max(self, values: Any) -> Any:
        return self._combine(values, lax_max, "max")


class IndexHelper:
    """The ``.at`` property: ``x.at[key]`` returns an update reference."""

    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.x, key)
