"""Op specs for ``fg.lax.sort`` (one operand, several operands, lexicographic ``num_keys``),
``sort_key_val``, ``top_k`` and the ``fg.numpy`` composites on them: sort/argsort (ascending
and descending), lexsort, partition/argpartition, searchsorted, unique (with ``size=``),
median, quantile/percentile (several methods) and the NaN-ignoring forms.

Sorting is differentiable where the order is locally constant: the differentiable specs draw
distinct keys (ties would make finite differences jump between orderings), while the
integer-valued outputs (argsort, searchsorted, counts) are checked as non-differentiable with
tied inputs. NumPy is the forward oracle (``reference``), always with a stable sort.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad.numpy as fnp
from funcgrad import lax

F32_64 = (np.float64, np.float32)
Draw = Callable[[np.random.Generator], Any]
SPECS: list[OpSpec] = []


def U(shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0) -> tuple[tuple[int, ...], Draw]:
    """Uniform floats: distinct with probability one."""
    return shape, lambda rng: rng.uniform(lo, hi, shape)


def TIES(shape: tuple[int, ...]) -> tuple[tuple[int, ...], Draw]:
    """Small integer-valued floats: many equal values."""
    return shape, lambda rng: rng.integers(-1, 2, shape).astype(np.float64)


def INTS(shape: tuple[int, ...], lo: int = 0, hi: int = 3) -> tuple[tuple[int, ...], Draw]:
    return shape, lambda rng: rng.integers(lo, hi, shape)


def WITH_NAN(shape: tuple[int, ...]) -> tuple[tuple[int, ...], Draw]:
    """Uniform floats with about a quarter NaN."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(-2, 2, shape)
        x[rng.random(shape) < 0.25] = np.nan
        return x
    return shape, draw


def SORTED(n: int) -> tuple[tuple[int, ...], Draw]:
    """A sorted 1-d array with a repeated value."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        x = np.sort(rng.integers(-3, 4, n).astype(np.float64))
        return x
    return (n,), draw


def spec(name: str, fn: Callable[..., Any], args: list[tuple[tuple[int, ...], Draw]],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None,
         numpy: tuple[str, ...] = (), order: int = 2, dtypes: tuple[Any, ...] = (np.float64,),
         tol: float | None = None, diff_argnums: tuple[int, ...] | None = None,
         vmap_none: bool = True) -> None:
    draws = tuple(d for _, d in args)
    SPECS.append(OpSpec(
        name=name, fn=fn, arg_shapes=tuple(s for s, _ in args), primitives=prims,
        dtypes=dtypes, tol=tol, grad_order=order, diff_argnums=diff_argnums,
        make_args=lambda rng, draws=draws: tuple(d(rng) for d in draws), reference=ref,
        extra={"numpy": numpy, "vmap_none": vmap_none}))


def _np_sort_by(keys: list[np.ndarray], ops: list[np.ndarray], axis: int) -> tuple:
    """NumPy's lexicographic stable sort of ``ops`` by ``keys`` (first key primary)."""
    moved = [np.moveaxis(k, axis, -1) for k in reversed(keys)]
    perm = np.moveaxis(np.lexsort(moved, axis=-1), -1, axis)
    return tuple(np.take_along_axis(x, perm, axis) for x in ops)


S = (3, 5)
_SORT = ("sort",)

# == lax.sort =================================================================================

spec("lax.sort", lambda x: lax.sort(x), [U(S)], _SORT, lambda x: np.sort(x, -1),
     dtypes=F32_64)
spec("lax.sort_dim0", lambda x: lax.sort(x, dimension=0), [U((4, 2, 3))], _SORT,
     lambda x: np.sort(x, 0))
spec("lax.sort_two_operands", lambda k, v: lax.sort((k, v), dimension=1),
     [U(S), U(S)], _SORT, lambda k, v: _np_sort_by([k], [k, v], 1))
spec("lax.sort_num_keys2", lambda k1, k2, v: lax.sort((k1, k2, v), dimension=0, num_keys=2),
     [TIES((6, 2)), U((6, 2)), U((6, 2))], _SORT,
     lambda k1, k2, v: _np_sort_by([k1, k2], [k1, k2, v], 0), diff_argnums=(1, 2))
spec("lax.sort_int_keys", lambda k, v: lax.sort((k, v), num_keys=1)[1],
     [INTS(S), U(S)], _SORT, lambda k, v: _np_sort_by([k], [v], 1)[0])
spec("lax.sort_ties_values_ride", lambda k, v: lax.sort((k, v), num_keys=1)[1],
     [TIES(S), U(S)], _SORT, lambda k, v: _np_sort_by([k], [v], 1)[0], diff_argnums=(1,))
spec("lax.sort_key_val", lambda k, v: lax.sort_key_val(k, v, dimension=0),
     [U((4, 3)), U((4, 3))], _SORT, lambda k, v: _np_sort_by([k], [k, v], 0))
spec("lax.top_k_values", lambda x: lax.top_k(x, 3)[0], [U((2, 6))], _SORT,
     lambda x: -np.sort(-x, -1)[..., :3], dtypes=F32_64)
spec("lax.top_k_indices", lambda x: lax.top_k(x, 4)[1], [TIES((3, 6))], _SORT,
     lambda x: np.argsort(-x, -1, kind="stable")[..., :4].astype(np.int32), order=0)

# == fnp.sort / argsort / lexsort / partition =================================================

spec("fnp.sort", lambda x: fnp.sort(x), [U(S)], _SORT, lambda x: np.sort(x),
     numpy=("sort",), dtypes=F32_64)
spec("fnp.sort_axis0", lambda x: fnp.sort(x, axis=0), [U((4, 3))], _SORT,
     lambda x: np.sort(x, axis=0), numpy=("sort",))
spec("fnp.sort_flat", lambda x: fnp.sort(x, axis=None), [U((2, 3))], _SORT,
     lambda x: np.sort(x, axis=None), numpy=("sort",))
spec("fnp.sort_descending", lambda x: fnp.sort(x, descending=True), [U(S)], _SORT,
     lambda x: np.flip(np.sort(x), -1), numpy=("sort",))
spec("fnp.argsort", lambda x: fnp.argsort(x), [TIES(S)], _SORT,
     lambda x: np.argsort(x, kind="stable"), numpy=("argsort",), order=0)
spec("fnp.argsort_descending", lambda x: fnp.argsort(x, axis=0, descending=True),
     [TIES((6, 2))], _SORT, lambda x: np.argsort(-x, axis=0, kind="stable"),
     numpy=("argsort",), order=0)
spec("fnp.lexsort", lambda a, b: fnp.lexsort((a, b)), [TIES((2, 6)), TIES((2, 6))], _SORT,
     lambda a, b: np.lexsort((a, b)), numpy=("lexsort",), order=0)
spec("fnp.partition", lambda x: fnp.partition(x, 2), [U(S)], _SORT,
     lambda x: np.sort(x), numpy=("partition",))
spec("fnp.argpartition", lambda x: fnp.argpartition(x, 1, axis=0), [TIES((5, 2))], _SORT,
     lambda x: np.argsort(x, axis=0, kind="stable"), numpy=("argpartition",), order=0)

# == searchsorted =============================================================================

spec("fnp.searchsorted_left", lambda a, v: fnp.searchsorted(a, v), [SORTED(6), TIES((2, 3))],
     ("reduce_sum",), lambda a, v: np.searchsorted(a, v), numpy=("searchsorted",), order=0)
spec("fnp.searchsorted_right", lambda a, v: fnp.searchsorted(a, v, side="right"),
     [SORTED(6), TIES((4,))], ("reduce_sum",), lambda a, v: np.searchsorted(a, v, "right"),
     numpy=("searchsorted",), order=0)
spec("fnp.searchsorted_by_sort", lambda a, v: fnp.searchsorted(a, v, "right", method="sort"),
     [SORTED(6), TIES((2, 3))], ("sort", "scatter", "concatenate"),
     lambda a, v: np.searchsorted(a, v, "right"), numpy=("searchsorted",), order=0)
spec("fnp.searchsorted_sorter",
     lambda a, v: fnp.searchsorted(a, v, sorter=fnp.argsort(a)),
     [TIES((5,)), U((3,))], ("sort", "gather", "reduce_sum"),
     lambda a, v: np.searchsorted(a, v, sorter=np.argsort(a, kind="stable")),
     numpy=("searchsorted",), order=0)

# == unique (static size) =====================================================================


def _np_unique_padded(x: np.ndarray, size: int, fill: float) -> tuple:
    vals, idx, inv, counts = np.unique(x, return_index=True, return_inverse=True,
                                       return_counts=True)
    k = min(size, vals.size)
    out_v = np.full(size, fill, x.dtype)
    out_v[:k] = vals[:k]
    out_i = np.full(size, np.argmin(x.reshape(-1)), np.int64)
    out_i[:k] = idx[:k]
    out_c = np.zeros(size, np.int64)
    out_c[:k] = counts[:k]
    return out_v, out_i, inv.reshape(x.shape), out_c


spec("fnp.unique_size_values", lambda x: fnp.unique(x, size=8, fill_value=9.0), [U((2, 3))],
     ("sort", "scatter"), lambda x: _np_unique_padded(x, 8, 9.0)[0], numpy=("unique",))
spec("fnp.unique_size_all",
     lambda x: fnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                          size=3, fill_value=-5.0)[1:],
     [TIES((2, 4))], ("sort", "scatter", "scatter_add", "cumsum"),
     lambda x: _np_unique_padded(x, 3, -5.0)[1:], numpy=("unique",), order=0)
spec("fnp.unique_counts_size", lambda x: fnp.unique_counts(x, size=2).counts, [TIES((5,))],
     ("sort", "scatter_add"), lambda x: _np_unique_padded(x, 2, 0.0)[3],
     numpy=("unique_counts",), order=0)

# == median / quantile / percentile ===========================================================

spec("fnp.median", lambda x: fnp.median(x, axis=1), [U((3, 4))], _SORT,
     lambda x: np.median(x, axis=1), numpy=("median",), dtypes=F32_64)
spec("fnp.median_all_keepdims", lambda x: fnp.median(x, keepdims=True), [U((3, 3))], _SORT,
     lambda x: np.median(x, keepdims=True), numpy=("median",))
spec("fnp.quantile", lambda x, q: fnp.quantile(x, q, axis=0), [U((5, 2)), U((3,), 0.05, 0.95)],
     _SORT, lambda x, q: np.quantile(x, q, axis=0), numpy=("quantile",))
spec("fnp.quantile_axes", lambda x: fnp.quantile(x, 0.3, axis=(0, 2), keepdims=True),
     [U((2, 3, 4))], _SORT, lambda x: np.quantile(x, 0.3, axis=(0, 2), keepdims=True),
     numpy=("quantile",))
for _m in ("lower", "higher", "nearest", "midpoint", "hazen", "weibull", "median_unbiased",
           "inverted_cdf", "averaged_inverted_cdf", "closest_observation"):
    spec(f"fnp.quantile_{_m}", lambda x, m=_m: fnp.quantile(x, [0.2, 0.65], axis=-1, method=m),
         [U((2, 7))], _SORT, lambda x, m=_m: np.quantile(x, [0.2, 0.65], axis=-1, method=m),
         numpy=("quantile",))
spec("fnp.percentile", lambda x: fnp.percentile(x, [10.0, 50.0, 90.0]), [U((9,))], _SORT,
     lambda x: np.percentile(x, [10.0, 50.0, 90.0]), numpy=("percentile",))
spec("fnp.nanmedian", lambda x: fnp.nanmedian(x, axis=0), [WITH_NAN((6, 3))], _SORT,
     lambda x: np.nanmedian(x, axis=0), numpy=("nanmedian",))
spec("fnp.nanquantile", lambda x: fnp.nanquantile(x, [0.25, 0.8], axis=1), [WITH_NAN((3, 6))],
     _SORT, lambda x: np.nanquantile(x, [0.25, 0.8], axis=1), numpy=("nanquantile",))
spec("fnp.nanpercentile", lambda x: fnp.nanpercentile(x, 40.0, axis=1), [U((3, 5))], _SORT,
     lambda x: np.nanpercentile(x, 40.0, axis=1), numpy=("nanpercentile",))
