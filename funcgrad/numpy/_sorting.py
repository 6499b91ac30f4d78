"""Sorting and order statistics: ``sort``, ``argsort``, ``lexsort``, ``partition``,
``argpartition``, ``searchsorted``, the ``unique`` family, ``median``, ``quantile``,
``percentile`` and their NaN-ignoring forms.

All are composites of ``lax.sort`` (one primitive, differentiable by permuting cotangents),
``gather``/``scatter`` and elementwise ops, so they differentiate, batch under ``vmap`` and
stage under ``jit``. The order is NumPy's: NaNs sort last; sorts are always stable.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import (
    ConcretizationTypeError,
    FuncgradTypeError,
    FuncgradValueError,
    ShapeError,
    at_user_line,
)
from funcgrad.core.tracing import Tracer
from funcgrad.lax.indexing import gather, scatter, scatter_add
from funcgrad.numpy._core import ArrayLike, _axes, _cast, _float, asarray, result_type
from funcgrad.numpy._reductions import any as _any
from funcgrad.numpy._reductions import sum as _sum
from funcgrad.numpy._shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    ravel,
    reshape,
    transpose,
)
from funcgrad.numpy._ufuncs import (
    ceil,
    equal,
    floor,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    not_equal,
    where,
)
from funcgrad.numpy._ufuncs import round as _round

_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")

# == sort, argsort, lexsort, partition ========================================================


def _check_sort_args(name: str, kind: Any, order: Any) -> None:
    if kind not in _KINDS:
        raise FuncgradValueError(at_user_line(f"{name}: kind must be one of {_KINDS}, got "
                                              f"{kind!r}"))
    if order is not None:
        raise FuncgradTypeError(at_user_line(f"{name}: order= (structured arrays) is not "
                                             f"supported"))


def _prepare(a: ArrayLike, axis: int | None, name: str) -> tuple[Any, int]:
    x = asarray(a)
    if axis is None:
        return ravel(x), 0
    if x.ndim == 0:
        raise np.exceptions.AxisError(at_user_line(
            f"{name}: axis {axis} is out of bounds for a 0-d array (use axis=None)"))
    return x, _axes(x, axis)[0]


def _iota(shape: tuple[int, ...], axis: int) -> Any:
    return lax.broadcasted_iota(np.int64, shape, axis)


def _argsort(x: Any, axis: int, descending: bool) -> Any:
    iota = _iota(x.shape, axis)
    if not descending:
        return lax.sort((x, iota), axis, True, 1)[1]
    # Stable descending: sort the reversed array ascending, reverse back and re-index.
    idx = lax.rev(lax.sort((lax.rev(x, (axis,)), iota), axis, True, 1)[1], (axis,))
    return lax.sub(np.full(x.shape, x.shape[axis] - 1, np.int64), idx)


def sort(a: ArrayLike, axis: int | None = -1, *, kind: str | None = None, order: Any = None,
         stable: bool | None = True, descending: bool = False) -> Any:
    """A sorted copy of ``a`` along ``axis`` (flattened for ``axis=None``), NaNs last; with
    ``descending=True`` (the array API's keyword) largest first. Differentiable: the gradient
    goes back through the sort permutation (to one element of each tie).

    >>> sort(np.array([[3.0, 1.0], [0.0, 2.0]]), axis=0)
    array([[0., 1.],
           [3., 2.]])
    """
    _check_sort_args("sort", kind, order)
    x, ax = _prepare(a, axis, "sort")
    if x.ndim == 0:
        return x
    if descending:
        return lax.rev(lax.sort(lax.rev(x, (ax,)), ax), (ax,))
    return lax.sort(x, ax)


def argsort(a: ArrayLike, axis: int | None = -1, *, kind: str | None = None,
            order: Any = None, stable: bool | None = True, descending: bool = False) -> Any:
    """Indices (``int64``) that sort ``a`` along ``axis``; always stable (equal elements keep
    their order, also with ``descending=True``). Not differentiable (integer output).

    >>> argsort(np.array([2.0, 1.0, 2.0, 0.0]))
    array([3, 1, 0, 2])
    >>> argsort(np.array([2.0, 1.0, 2.0, 0.0]), descending=True)
    array([0, 2, 1, 3])
    """
    _check_sort_args("argsort", kind, order)
    x, ax = _prepare(a, axis, "argsort")
    if x.ndim == 0:
        return np.zeros((), np.int64)
    return _argsort(x, ax, bool(descending))


def lexsort(keys: Any, axis: int = -1) -> Any:
    """Indices that sort by several keys, the **last** key primary (NumPy's convention).

    >>> lexsort((np.array([1, 0, 1]), np.array([0, 0, 1])))
    array([1, 0, 2])
    """
    ks = [asarray(k) for k in keys] if isinstance(keys, (list, tuple)) else list(asarray(keys))
    if not ks:
        raise FuncgradTypeError(at_user_line("lexsort: needs at least one key"))
    shapes = {k.shape for k in ks}
    if len(shapes) > 1:
        raise ShapeError(at_user_line(f"lexsort: all keys need the same shape, got "
                                      f"{sorted(shapes)}"))
    shape = ks[0].shape
    if not shape:
        return np.zeros((), np.int64)
    ax = _axes(ks[0], axis)[0]
    outs = lax.sort((*reversed(ks), _iota(shape, ax)), ax, True, len(ks))
    return outs[-1]


def _check_kth(x: Any, kth: Any, axis: int, name: str) -> None:
    n = x.shape[axis]
    for k in np.atleast_1d(np.asarray(kth)):
        if not isinstance(k, (int, np.integer)) or not -n <= int(k) < n:
            raise FuncgradValueError(at_user_line(
                f"{name}: kth={kth!r} out of bounds for an axis of length {n}"))


def partition(a: ArrayLike, kth: int | Sequence[int], axis: int | None = -1) -> Any:
    """``a`` with the ``kth`` element(s) in sorted position, smaller ones before and larger
    after. Implemented as a full sort, which satisfies NumPy's contract (NumPy leaves the two
    sides in unspecified order; here they are sorted). Differentiable like ``sort``.

    >>> partition(np.array([3.0, 4.0, 1.0, 2.0]), 1)
    array([1., 2., 3., 4.])
    """
    x, ax = _prepare(a, axis, "partition")
    _check_kth(x, kth, ax, "partition")
    return lax.sort(x, ax)


def argpartition(a: ArrayLike, kth: int | Sequence[int], axis: int | None = -1) -> Any:
    """Indices that partition ``a`` (a full stable argsort, which satisfies the contract).

    >>> argpartition(np.array([3.0, 4.0, 1.0, 2.0]), 1)
    array([2, 3, 0, 1])
    """
    x, ax = _prepare(a, axis, "argpartition")
    _check_kth(x, kth, ax, "argpartition")
    return _argsort(x, ax, False)


# == searchsorted =============================================================================

def _nan_last_less(a: Any, v: Any, right: bool) -> Any:
    """``a < v`` (or ``a <= v`` when ``right``) in NumPy's sort order, where NaN is largest."""
    if a.dtype.kind not in "fc":
        return less_equal(a, v) if right else less(a, v)
    if right:
        return logical_or(less_equal(a, v), isnan(v))
    return logical_or(less(a, v), logical_and(isnan(v), logical_not(isnan(a))))


def _rank(x: Any) -> Any:
    """The position of each element of the 1-d ``x`` in its stable sort."""
    n = x.shape[0]
    perm = _argsort(x, 0, False)
    return scatter(np.zeros((n,), np.int64), np.arange(n, dtype=np.int64), perm)


def _searchsorted_by_sort(arr: Any, vals: Any, right: bool) -> Any:
    # JAX's method='sort': rank the queries among (queries, arr) -- arr first for 'right', so
    # equal elements of arr count as before -- and subtract their rank among themselves.
    q = ravel(vals)
    m = q.shape[0]
    if right:
        index = _rank(concatenate([arr, q]))[arr.shape[0]:]
    else:
        index = _rank(concatenate([q, arr]))[:m]
    return reshape(index - _rank(q), vals.shape)


def searchsorted(a: ArrayLike, v: ArrayLike, side: str = "left", sorter: ArrayLike = None,
                 *, method: str | None = None) -> Any:
    """Insertion indices (``int64``) that keep the sorted 1-d ``a`` sorted, as NumPy's
    (``side='left'``: first suitable position, ``'right'``: last; ``sorter`` sorts ``a``;
    NaN is largest).

    Two loop-free formulations, as JAX's methods of those names (same results):
    ``method='compare_all'`` counts the elements of ``a`` ordered before each ``v`` by
    broadcasting, ``O(len(a) * v.size)``; ``method='sort'`` ranks ``v`` among ``a`` with one
    stable sort, ``O((len(a) + v.size) log)``. The default picks ``compare_all`` up to 2**20
    comparisons and ``sort`` beyond. Either way ``vmap`` batches it as ordinary ops (no
    loop). Not differentiable (integer output).

    >>> searchsorted(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 0.0, 5.0]))
    array([1, 0, 4])
    >>> searchsorted(np.array([1.0, 2.0, 2.0, 3.0]), 2.0, side="right", method="sort")
    array(3)
    """
    if side not in ("left", "right"):
        raise FuncgradValueError(at_user_line(f"searchsorted: side must be 'left' or 'right', "
                                              f"got {side!r}"))
    if method not in (None, "compare_all", "sort"):
        raise FuncgradValueError(at_user_line(f"searchsorted: method must be None, "
                                              f"'compare_all' or 'sort', got {method!r}"))
    arr, vals = asarray(a), asarray(v)
    if arr.ndim != 1:
        raise ShapeError(at_user_line(f"searchsorted: a must be 1-d, got shape {arr.shape}"))
    if sorter is not None:
        srt = asarray(sorter)
        if srt.shape != arr.shape or srt.dtype.kind not in "iu":
            raise FuncgradValueError(at_user_line(
                f"searchsorted: sorter must be integers of a's shape {arr.shape}, got "
                f"{srt.shape} {srt.dtype}"))
        arr = gather(arr, srt)
    dtype = result_type(arr, vals)
    arr, vals = _cast(arr, dtype), _cast(vals, dtype)
    if method is None:
        method = "compare_all" if arr.shape[0] * vals.size <= 2 ** 20 else "sort"
    if method == "sort":
        return _searchsorted_by_sort(arr, vals, side == "right")
    before = _nan_last_less(arr, expand_dims(vals, -1), side == "right")
    return _sum(_cast(before, np.dtype(np.int64)), axis=-1)


# == unique ===================================================================================

class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _unique_parts(x: Any, size: int | None, fill_value: Any, equal_nan: bool) -> dict[str, Any]:
    """Values, first indices, inverse and counts of the flattened ``x``, padded to ``size``.

    The sorted values are grouped by a cumulative sum of "differs from the previous" flags;
    each group's first element is scattered to its slot (slot ``size`` is a dump for the
    groups past ``size``), so no shape depends on the values once ``size`` is known."""
    flat = ravel(x)
    n = flat.shape[0]
    s, perm = lax.sort((flat, _iota((n,), 0)), 0, True, 1)
    if n == 0:
        first = np.zeros((0,), bool)
    else:
        differs = not_equal(s[1:], s[:-1])
        if equal_nan and s.dtype.kind in "fc":
            differs = logical_and(differs, logical_not(logical_and(isnan(s[1:]), isnan(s[:-1]))))
        first = concatenate([np.ones((1,), bool), differs])
    if size is None:
        try:
            size = int(_sum(_cast(first, np.dtype(np.int64))))
        except ConcretizationTypeError as e:
            raise ConcretizationTypeError(at_user_line(
                "unique: the number of unique values depends on the input; under jit/vmap "
                "pass size= (and fill_value=) to make the output shape static")) from e
    gid = lax.sub(lax.cumsum(_cast(first, np.dtype(np.int64)), 0), np.ones((n,), np.int64))
    slot = where(first, minimum(gid, size), size)
    if fill_value is None:
        fill = s[0] if n else np.zeros((), s.dtype)
    else:
        fill = asarray(fill_value).astype(s.dtype) if not isinstance(
            fill_value, Tracer) else _cast(fill_value, s.dtype)
    values = scatter(broadcast_to(fill, (size + 1,)), s, slot)[:size]
    # Padding indices point at the smallest value (JAX's choice).
    pad_index = broadcast_to(perm[0], (size + 1,)) if n else np.zeros((size + 1,), np.int64)
    indices = scatter(pad_index, perm, slot)[:size]
    kept = where(less(gid, size), gid, size)
    counts = scatter_add(np.zeros((size + 1,), np.int64), np.ones((n,), np.int64), kept)[:size]
    inverse = reshape(scatter(np.zeros((n,), np.int64), gid, perm), x.shape)
    return {"values": values, "indices": indices, "inverse": inverse, "counts": counts}


def _check_size(size: Any) -> int | None:
    if size is None:
        return None
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
        raise FuncgradValueError(at_user_line(f"unique: size must be a non-negative int, got "
                                              f"{size!r}"))
    return int(size)


def unique(ar: ArrayLike, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: ArrayLike = None) -> Any:
    """The sorted unique values of ``ar`` (flattened), as ``jnp.unique``: optionally the
    index of each value's first occurrence, the inverse (``ar``'s shape) and the counts.

    The output shape depends on the values, so the input must be concrete (eager code, or
    eager ``grad``), unless ``size=`` fixes it: then the first ``size`` unique values are
    returned, padded with ``fill_value`` (default: the smallest value), indices with the
    index of the smallest value and counts with 0 (as JAX), and it works under ``jit`` and
    ``vmap``. The values are differentiable (each gradient goes to the first occurrence).
    ``axis`` must be None.

    >>> unique(np.array([3, 1, 3, 2]))
    array([1, 2, 3])
    >>> unique(np.array([3.0, 1.0, 3.0]), return_counts=True, size=3, fill_value=0.0)
    (array([1., 3., 0.]), array([1, 2, 0]))
    """
    if axis is not None:
        raise FuncgradValueError(at_user_line("unique: only axis=None is supported"))
    parts = _unique_parts(asarray(ar), _check_size(size), fill_value, equal_nan)
    extra = [parts[k] for k, flag in (("indices", return_index), ("inverse", return_inverse),
                                      ("counts", return_counts)) if flag]
    return (parts["values"], *extra) if extra else parts["values"]


def unique_values(x: ArrayLike, *, size: int | None = None, fill_value: ArrayLike = None
                  ) -> Any:
    """The array API's ``unique_values`` (NaNs are all distinct, as NumPy's).

    >>> unique_values(np.array([2, 1, 2]))
    array([1, 2])
    """
    return _unique_parts(asarray(x), _check_size(size), fill_value, False)["values"]


def unique_counts(x: ArrayLike, *, size: int | None = None, fill_value: ArrayLike = None
                  ) -> UniqueCountsResult:
    """The array API's ``unique_counts``: ``(values, counts)``.

    >>> unique_counts(np.array([2, 1, 2])).counts
    array([1, 2])
    """
    p = _unique_parts(asarray(x), _check_size(size), fill_value, False)
    return UniqueCountsResult(p["values"], p["counts"])


def unique_inverse(x: ArrayLike, *, size: int | None = None, fill_value: ArrayLike = None
                   ) -> UniqueInverseResult:
    """The array API's ``unique_inverse``: ``(values, inverse_indices)``, the inverse in
    ``x``'s shape (``values[inverse_indices] == x``).

    >>> unique_inverse(np.array([2, 1, 2])).inverse_indices
    array([1, 0, 1])
    """
    p = _unique_parts(asarray(x), _check_size(size), fill_value, False)
    return UniqueInverseResult(p["values"], p["inverse"])


def unique_all(x: ArrayLike, *, size: int | None = None, fill_value: ArrayLike = None
               ) -> UniqueAllResult:
    """The array API's ``unique_all``: ``(values, indices, inverse_indices, counts)``.

    >>> unique_all(np.array([2, 1, 2])).indices
    array([1, 0])
    """
    p = _unique_parts(asarray(x), _check_size(size), fill_value, False)
    return UniqueAllResult(p["values"], p["indices"], p["inverse"], p["counts"])


# == quantiles ================================================================================

# NumPy's methods (Hyndman & Fan): continuous ones interpolate at a virtual index
# n q + alpha + q (1 - alpha - beta) - 1 (linear: (n - 1) q); discrete ones pick an index.
_CONTINUOUS = {"interpolated_inverted_cdf": (0.0, 1.0), "hazen": (0.5, 0.5),
               "weibull": (0.0, 0.0), "median_unbiased": (1 / 3, 1 / 3),
               "normal_unbiased": (3 / 8, 3 / 8)}
_METHODS = ("linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf",
            "averaged_inverted_cdf", "closest_observation", *_CONTINUOUS)


def _virtual_index(method: str, n: Any, q: Any) -> tuple[Any, bool]:
    """The (float) virtual index and whether it is already an integer pick."""
    if method == "linear":
        return (n - 1) * q, False
    if method in _CONTINUOUS:
        alpha, beta = _CONTINUOUS[method]
        return n * q + (alpha + q * (1 - alpha - beta)) - 1, False
    if method == "lower":
        return floor((n - 1) * q), True
    if method == "higher":
        return ceil((n - 1) * q), True
    if method == "nearest":
        return _round((n - 1) * q), True
    if method == "midpoint":
        return 0.5 * (floor((n - 1) * q) + ceil((n - 1) * q)), False
    if method == "averaged_inverted_cdf":
        return n * q - 1, False
    # inverted_cdf / closest_observation: the next order statistic unless exactly on one
    # (closest_observation: and on an odd 0-based index), then the previous.
    index = n * q - 1 if method == "inverted_cdf" else n * q - 1.5
    prev = floor(index)
    on = equal(index, prev)
    if method == "closest_observation":
        on = logical_and(on, equal(prev - 2 * floor(prev / 2), 1))
    return maximum(where(on, prev, prev + 1), 0), True


def _gamma(method: str, v: Any, prev: Any) -> Any:
    g = v - prev
    if method == "averaged_inverted_cdf":
        return where(equal(g, 0), 0.5, 1.0)
    if method == "midpoint":
        return where(equal(v, floor(v)), 0.0, 0.5)
    return g


def _take_last(s: Any, idx: Any) -> Any:
    """``s[..., idx]`` per batch position: ``s`` is ``(*B, n)``, ``idx`` is ``(*Q, *B)``;
    the result ``(*Q, *B)``."""
    shape, nb = idx.shape, s.ndim - 1
    ramps = [np.broadcast_to(np.arange(m).reshape((m,) + (1,) * (nb - 1 - i)), shape)
             for i, m in enumerate(s.shape[:-1])]
    return gather(s, *ramps, _cast(idx, np.dtype(np.int64)))


def _quantile(a: ArrayLike, q: ArrayLike, axis: Any, method: str, keepdims: bool,
              ignore_nan: bool, name: str) -> Any:
    if method not in _METHODS:
        raise FuncgradValueError(at_user_line(f"{name}: method must be one of {_METHODS}, got "
                                              f"{method!r}"))
    x = _float(asarray(a))
    qa = asarray(q)
    if qa.ndim > 1:
        raise ShapeError(at_user_line(f"{name}: q must be a scalar or 1-d, got shape "
                                      f"{qa.shape}"))
    if not isinstance(qa, Tracer) and np.any((qa < 0) | (qa > 1)):
        raise FuncgradValueError(at_user_line(f"{name}: quantiles must be in the range [0, 1]"))
    dtype = result_type(x, q if isinstance(q, (int, float)) else qa)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    x, qa = _cast(x, dtype), _cast(qa, dtype)
    axes = _axes(x, axis)
    if builtins.any(x.shape[i] == 0 for i in axes):
        raise FuncgradValueError(at_user_line(f"{name}: cannot take a quantile of an empty "
                                              f"axis (shape {x.shape}, axis {axis})"))
    kept = [i for i in range(x.ndim) if i not in axes]
    b_shape = tuple(x.shape[i] for i in kept)
    xm = reshape(transpose(x, (*kept, *axes)), (*b_shape, -1))
    s = lax.sort(xm, xm.ndim - 1)
    nans = isnan(xm)
    if ignore_nan:
        n: Any = _cast(_sum(_cast(logical_not(nans), np.dtype(np.int64)), axis=-1), dtype)
    else:
        n = np.asarray(xm.shape[-1], dtype)
    qb = reshape(qa, qa.shape + (1,) * len(b_shape))            # (*Q, 1...) against (*B)
    v, discrete = _virtual_index(method, n, qb)
    last = maximum(n - 1, 0)
    out_shape = (*qa.shape, *b_shape)
    if discrete:
        res = _take_last(s, broadcast_to(minimum(v, last), out_shape))
    else:
        prev = floor(v)
        lo = broadcast_to(minimum(maximum(prev, 0), last), out_shape)
        hi = broadcast_to(minimum(maximum(prev + 1, 0), last), out_shape)
        hi = where(less(v, 0), lo, hi)
        t = broadcast_to(_gamma(method, v, prev), out_shape)
        a_lo, a_hi = _take_last(s, lo), _take_last(s, hi)
        diff = a_hi - a_lo
        # NumPy's lerp: from the nearer end (exact at t = 0 and t = 1).
        res = where(less(t, 0.5), a_lo + diff * t, a_hi - diff * (1 - t))
    bad = equal(n, 0) if ignore_nan else _any(nans, axis=-1)
    res = where(bad, np.asarray(np.nan, dtype), res)
    if keepdims:
        res = reshape(res, (*qa.shape, *(1 if i in axes else x.shape[i] for i in range(x.ndim))))
    return res


def quantile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
             ) -> Any:
    """The ``q``-th quantile(s) of ``a`` over ``axis`` (``q`` in [0, 1], scalar or 1-d; its
    axis comes first in the result), with every NumPy ``method``. A NaN in a slice gives NaN.
    Differentiable in ``a`` (through the sort) and, for the interpolating methods, in ``q``.

    >>> quantile(np.array([1.0, 2.0, 3.0, 4.0]), 0.5)
    array(2.5)
    >>> quantile(np.array([[1.0, 5.0], [3.0, 2.0]]), [0.0, 1.0], axis=1)
    array([[1., 2.],
           [5., 3.]])
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("quantile: out= is not supported (arrays are "
                                             "immutable)"))
    return _quantile(a, q, axis, method, keepdims, False, "quantile")


def percentile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
               ) -> Any:
    """``quantile(a, q / 100)``: the ``q``-th percentile(s), ``q`` in [0, 100].

    >>> percentile(np.array([0.0, 10.0]), 25)
    array(2.5)
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("percentile: out= is not supported"))
    return _quantile(a, _percent(q), axis, method, keepdims, False, "percentile")


def _percent(q: ArrayLike) -> Any:
    if isinstance(q, (int, float)):
        return q / 100
    qa = asarray(q)
    return _float(qa) / 100


def median(a: ArrayLike, axis: Any = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """The median over ``axis`` (the mean of the two middle values for even counts).

    >>> median(np.array([[1.0, 4.0, 2.0], [3.0, 3.0, 9.0]]), axis=1)
    array([2., 3.])
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("median: out= is not supported"))
    return _quantile(a, 0.5, axis, "linear", keepdims, False, "median")


def nanquantile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: None = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                ) -> Any:
    """``quantile`` ignoring NaNs (an all-NaN slice gives NaN).

    >>> nanquantile(np.array([1.0, np.nan, 3.0]), 0.5)
    array(2.)
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("nanquantile: out= is not supported"))
    return _quantile(a, q, axis, method, keepdims, True, "nanquantile")


def nanpercentile(a: ArrayLike, q: ArrayLike, axis: Any = None, out: None = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False) -> Any:
    """``percentile`` ignoring NaNs.

    >>> nanpercentile(np.array([np.nan, 0.0, 10.0]), 50)
    array(5.)
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("nanpercentile: out= is not supported"))
    return _quantile(a, _percent(q), axis, method, keepdims, True, "nanpercentile")


def nanmedian(a: ArrayLike, axis: Any = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """``median`` ignoring NaNs.

    >>> nanmedian(np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 7.0]]), axis=1)
    array([1.5, 7. ])
    """
    if out is not None:
        raise FuncgradTypeError(at_user_line("nanmedian: out= is not supported"))
    return _quantile(a, 0.5, axis, "linear", keepdims, True, "nanmedian")


__all__ = [
    "UniqueAllResult", "UniqueCountsResult", "UniqueInverseResult", "argpartition", "argsort",
    "lexsort", "median", "nanmedian", "nanpercentile", "nanquantile", "partition",
    "percentile", "quantile", "searchsorted", "sort", "unique", "unique_all", "unique_counts",
    "unique_inverse", "unique_values",
]
