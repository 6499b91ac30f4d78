"""Sorting: the ``sort`` primitive (several operands sorted together, as ``jax.lax.sort``) and
its composites ``sort_key_val`` and ``top_k``.

``sort(*operands, dimension, is_stable, num_keys)`` orders every operand along ``dimension``
by the lexicographic order of the first ``num_keys`` operands; the others ride along. NaNs
sort last, as NumPy's (``np.argsort``/``np.lexsort`` define the order); the impl is always
stable, so ``is_stable=False`` only states that the caller does not rely on it.

Derivatives: sorting is a permutation ``p`` (data dependent, locally constant), so
``d sort(x)_i = dx_{p_i}`` and the cotangent goes back through the inverse permutation,
``ct_x = ct_y[p^-1]``. The rules obtain ``p`` by sorting an ``iota`` along with the operands
(JAX's trick) and apply it with ``gather``; the inverse is ``scatter(iota)`` at ``p``. Both are
existing primitives, so the rules differentiate, batch and stage again. Integer and boolean
operands carry no tangent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.core.primitive import Primitive
from funcgrad.lax.elementwise import imag, real
from funcgrad.lax.indexing import gather, scatter
from funcgrad.lax.structural import broadcasted_iota, rev, slice_in_dim
from funcgrad.transforms import ad, batching, codegen

# == the primitive ============================================================================

sort_p = Primitive("sort", multiple_results=True)


def _sort_permutation(operands: Sequence[np.ndarray], dimension: int, num_keys: int
                      ) -> np.ndarray:
    keys = operands[:num_keys]
    if num_keys == 1:
        return np.argsort(keys[0], axis=dimension, kind="stable")
    # np.lexsort's primary key is its last; it sorts along the last axis of each key.
    moved = [np.moveaxis(k, dimension, -1) for k in reversed(keys)]
    if moved[0].ndim == 0:
        return np.zeros((), np.intp)
    return np.moveaxis(np.lexsort(moved, axis=-1), -1, dimension)


def _sort_impl(*operands: np.ndarray, dimension: int, is_stable: bool, num_keys: int
               ) -> list[np.ndarray]:
    if len(operands) == 1:
        return [np.sort(operands[0], axis=dimension)]  # equal values are indistinguishable
    perm = _sort_permutation(operands, dimension, num_keys)
    return [np.take_along_axis(x, perm, axis=dimension) for x in operands]


def _sort_abstract_eval(*operands: ShapedArray, dimension: int, is_stable: bool,
                        num_keys: int) -> list[ShapedArray]:
    if not operands:
        raise ShapeError("sort: needs at least one operand")
    shapes = {x.shape for x in operands}
    if len(shapes) > 1:
        raise ShapeError(f"sort: operands must share one shape, got {sorted(shapes)}")
    nd = operands[0].ndim
    if not 0 <= dimension < max(nd, 1):
        raise ShapeError(f"sort: dimension {dimension} is out of range for shape "
                         f"{operands[0].shape}")
    if not 1 <= num_keys <= len(operands):
        raise ShapeError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    return [ShapedArray(x.shape, x.dtype, x.weak_type) for x in operands]


sort_p.def_impl(_sort_impl)
sort_p.def_abstract_eval(_sort_abstract_eval)
codegen.def_impl_call(sort_p)


# == rules ====================================================================================

def _index_arrays(perm: Any, dimension: int) -> list[Any]:
    """Index arrays that read ``x`` in the order ``perm`` along ``dimension`` (every other axis
    by a broadcast arange): ``gather(x, *_index_arrays(p, d))`` is take_along_axis."""
    shape = get_aval(perm).shape
    return [perm if i == dimension else np.broadcast_to(
        np.arange(n).reshape([-1 if j == i else 1 for j in range(len(shape))]), shape)
        for i, n in enumerate(shape)]


def _permute(x: Any, perm: Any, dimension: int) -> Any:
    return gather(x, *_index_arrays(perm, dimension))


def _inverse_permutation(perm: Any, dimension: int) -> Any:
    aval = get_aval(perm)
    iota = broadcasted_iota(aval.dtype, aval.shape, dimension)
    return scatter(np.zeros(aval.shape, aval.dtype), iota, *_index_arrays(perm, dimension))


def _differentiable(x: Any) -> bool:
    return get_aval(x).dtype.kind in "fc"


def _sort_with_permutation(operands: Sequence[Any], dimension: int, is_stable: bool,
                           num_keys: int) -> tuple[list[Any], Any]:
    shape = get_aval(operands[0]).shape
    iota = broadcasted_iota(np.int64, shape, dimension) if shape else np.zeros((), np.int64)
    *outs, perm = sort_p.bind(*operands, iota, dimension=dimension, is_stable=is_stable,
                              num_keys=num_keys)
    return outs, perm


def _sort_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, dimension: int,
              is_stable: bool, num_keys: int) -> tuple[list[Any], list[Any]]:
    if all(t is None for t in tangents):
        return sort_p.bind(*primals, dimension=dimension, is_stable=is_stable,
                           num_keys=num_keys), [None] * len(primals)
    outs, perm = _sort_with_permutation(primals, dimension, is_stable, num_keys)
    if not get_aval(perm).shape:
        return outs, list(tangents)
    return outs, [None if t is None else _permute(t, perm, dimension) for t in tangents]


def _sort_residuals(*operands: Any, dimension: int, is_stable: bool, num_keys: int
                    ) -> tuple[list[Any], Any]:
    return _sort_with_permutation(operands, dimension, is_stable, num_keys)


def _sort_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool], *,
              dimension: int, is_stable: bool, num_keys: int, residuals: Any = None
              ) -> list[Any]:
    # ct_x = ct_y[p^-1] along dimension.
    if not any(need and ct is not None and _differentiable(x)
               for need, ct, x in zip(needs, cts, primals, strict=True)):
        return [None] * len(primals)
    perm = residuals
    if perm is None:
        _, perm = _sort_with_permutation(primals, dimension, is_stable, num_keys)
    if not get_aval(perm).shape:
        return [ct if need else None for ct, need in zip(cts, needs, strict=True)]
    inv = _inverse_permutation(perm, dimension)
    return [_permute(ct, inv, dimension) if need and ct is not None and _differentiable(x)
            else None for ct, need, x in zip(cts, needs, primals, strict=True)]


def _sort_batch(args: Sequence[Any], dims: Sequence[Any], *, dimension: int, is_stable: bool,
                num_keys: int) -> tuple[list[Any], list[int]]:
    size = batching.batch_size(args, dims)
    moved = [batching.bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    outs = sort_p.bind(*moved, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


ad.jvp_rules[sort_p] = _sort_jvp
ad.vjp_rules[sort_p] = _sort_vjp
ad.residual_rules[sort_p] = _sort_residuals
batching.batch_rules[sort_p] = _sort_batch


# == wrappers =================================================================================

def _canonical_dimension(shape: tuple[int, ...], dimension: int, name: str) -> int:
    nd = len(shape)
    if not isinstance(dimension, (int, np.integer)) or isinstance(dimension, bool):
        raise FuncgradTypeError(at_user_line(f"{name}: dimension must be an int, got "
                                             f"{dimension!r}"))
    if nd == 0:
        if dimension not in (0, -1):
            raise ShapeError(at_user_line(f"{name}: dimension {dimension} is out of range for "
                                          f"a 0-d operand"))
        return 0
    if not -nd <= dimension < nd:
        raise ShapeError(at_user_line(f"{name}: dimension {dimension} is out of range for "
                                      f"shape {shape}"))
    return int(dimension) % nd


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort along ``dimension``, as ``jax.lax.sort``: ``operand`` is one array or a sequence of
    arrays of one shape, sorted together by the lexicographic order of the first ``num_keys``
    (NaNs last; complex keys by real, then imaginary part). Returns an array, or a tuple for a
    sequence.

    >>> sort(np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    >>> sort((np.array([2, 1, 2]), np.array([0.5, 1.5, 2.5])), num_keys=1)
    (array([1, 2, 2]), array([1.5, 0.5, 2.5]))
    """
    single = not isinstance(operand, (tuple, list))
    operands = [operand] if single else list(operand)
    if not operands:
        raise ShapeError(at_user_line("sort: needs at least one operand"))
    avals = [get_aval(x) for x in operands]
    shapes = [a.shape for a in avals]
    if len(set(shapes)) > 1:
        raise ShapeError(at_user_line(f"sort: operands must share one shape, got {shapes}"))
    if not isinstance(num_keys, (int, np.integer)) or not 1 <= num_keys <= len(operands):
        raise ShapeError(at_user_line(f"sort: num_keys={num_keys!r} must be between 1 and the "
                                      f"number of operands ({len(operands)})"))
    dim = _canonical_dimension(shapes[0], dimension, "sort")
    if not shapes[0]:
        outs = operands
    elif any(a.dtype.kind == "c" for a in avals[:num_keys]):
        # Complex keys order by real part, then imaginary part (NumPy's order): each becomes
        # two real keys, sorted along with (and dropped from) the operands.
        keys = [part for x, a in zip(operands[:num_keys], avals[:num_keys], strict=True)
                for part in ((real(x), imag(x)) if a.dtype.kind == "c" else (x,))]
        outs = sort_p.bind(*keys, *operands, dimension=dim, is_stable=bool(is_stable),
                           num_keys=len(keys))[len(keys):]
    else:
        outs = sort_p.bind(*operands, dimension=dim, is_stable=bool(is_stable),
                           num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True
                 ) -> tuple[Any, Any]:
    """Sort ``keys`` along ``dimension`` and ``values`` in the same order.

    >>> sort_key_val(np.array([2.0, 0.0, 1.0]), np.array([10, 20, 30]))
    (array([0., 1., 2.]), array([20, 30, 10]))
    """
    k, v = sort((keys, values), dimension, is_stable, 1)
    return k, v


def top_k(operand: Any, k: int) -> tuple[Any, Any]:
    """The ``k`` largest entries along the last axis, in descending order, and their indices
    (``int32``), as ``jax.lax.top_k``: ties keep the lower index first, NaN counts as largest.
    Differentiable in the values.

    >>> top_k(np.array([1.0, 4.0, 2.0, 4.0]), 2)
    (array([4., 4.]), array([1, 3], dtype=int32))
    """
    aval = get_aval(operand)
    if aval.ndim == 0:
        raise ShapeError(at_user_line("top_k: operand must have at least one dimension"))
    n = aval.shape[-1]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise ShapeError(at_user_line(f"top_k: k={k!r} must be an int between 0 and the last "
                                      f"dimension ({n}) of shape {aval.shape}"))
    d = aval.ndim - 1
    iota = broadcasted_iota(np.int32, aval.shape, d)
    # Descending and stable: sort the reversed array ascending, reverse back.
    vals, idx = sort((rev(operand, (d,)), rev(iota, (d,))), d, True, 1)
    vals, idx = rev(vals, (d,)), rev(idx, (d,))
    return slice_in_dim(vals, 0, int(k), axis=d), slice_in_dim(idx, 0, int(k), axis=d)


__all__ = ["sort", "sort_key_val", "sort_p", "top_k"]
