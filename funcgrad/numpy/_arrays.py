"""Building arrays from arrays, as composites: diag/diagflat, the triangle and diagonal index
helpers, meshgrid, ix_, kron, cross, column_stack/dstack/atleast_3d/append, array_split and
h/v/dsplit, rollaxis, select, piecewise, and the index tricks ``r_`` and ``c_``; and the
array API's concat, permute_dims, unstack, matrix_transpose, vecdot."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import at_user_line
from funcgrad.core.tracing import Tracer
from funcgrad.lax.indexing import getitem as _getitem
from funcgrad.numpy._core import ArrayLike, _axes, _cast, _promote, asarray, result_type
from funcgrad.numpy._indexing import nonzero
from funcgrad.numpy._products import diagonal
from funcgrad.numpy._reductions import any as _any
from funcgrad.numpy._reductions import sum as _sum
from funcgrad.numpy._shape import (
    atleast_2d,
    broadcast_to,
    concatenate,
    moveaxis,
    ravel,
    reshape,
    split_at,
    split_point_bounds,
    swapaxes,
    transpose,
)
from funcgrad.numpy._ufuncs import conjugate, logical_not, multiply, subtract, where

# == diagonals and triangles ==================================================================


def diag(v: ArrayLike, k: int = 0) -> Any:
    """The ``k``-th diagonal of a 2-D array, or a 2-D array with ``v`` on it, as
    ``numpy.diag``.

    >>> diag(np.array([1.0, 2.0]), 1)
    array([[0., 1., 0.],
           [0., 0., 2.],
           [0., 0., 0.]])
    """
    x = asarray(v)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(at_user_line(f"diag: v must be 1-D or 2-D, got shape {x.shape}"))
    k = int(k)
    n = x.shape[0] + builtins.abs(k)
    # Row i holds v[i] at column i + k (k >= 0); column j holds v[j] at row j - k (k < 0).
    padded = lax.pad(x, 0, [(0, builtins.abs(k), 0)])
    along = (n, 1) if k >= 0 else (1, n)
    mask = np.eye(n, k=k, dtype=bool)
    return where(mask, reshape(padded, along), 0)


def diagflat(v: ArrayLike, k: int = 0) -> Any:
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal, as ``numpy.diagflat``.

    >>> diagflat(np.array([[1, 2]]))
    array([[1, 0],
           [0, 2]])
    """
    return diag(ravel(v), k)


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[np.ndarray, ...]:
    """Indices of the lower triangle of an ``(n, m)`` array, as ``numpy.tril_indices``.

    >>> tril_indices(2)
    (array([0, 1, 1]), array([0, 0, 1]))
    """
    return np.tril_indices(n, k, m)


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[np.ndarray, ...]:
    """Indices of the upper triangle of an ``(n, m)`` array, as ``numpy.triu_indices``.

    >>> triu_indices(2)
    (array([0, 0, 1]), array([0, 1, 1]))
    """
    return np.triu_indices(n, k, m)


def _matrix_shape(arr: ArrayLike, name: str) -> tuple[int, ...]:
    shape = tuple(np.shape(arr)) if not isinstance(arr, Tracer) else arr.shape
    if len(shape) != 2:
        raise ValueError(at_user_line(f"{name}: input array must be 2-D, got shape {shape}"))
    return shape


def tril_indices_from(arr: ArrayLike, k: int = 0) -> tuple[np.ndarray, ...]:
    """:func:`tril_indices` for the shape of a 2-D ``arr``.

    >>> tril_indices_from(np.zeros((2, 3)))[1]
    array([0, 0, 1])
    """
    n, m = _matrix_shape(arr, "tril_indices_from")
    return np.tril_indices(n, k, m)


def triu_indices_from(arr: ArrayLike, k: int = 0) -> tuple[np.ndarray, ...]:
    """:func:`triu_indices` for the shape of a 2-D ``arr``.

    >>> triu_indices_from(np.zeros((2, 2)))[1]
    array([0, 1, 1])
    """
    n, m = _matrix_shape(arr, "triu_indices_from")
    return np.triu_indices(n, k, m)


def diag_indices(n: int, ndim: int = 2) -> tuple[np.ndarray, ...]:
    """Indices of the main diagonal of an ``(n,) * ndim`` array, as ``numpy.diag_indices``.

    >>> diag_indices(2)
    (array([0, 1]), array([0, 1]))
    """
    return np.diag_indices(n, ndim)


def diag_indices_from(arr: ArrayLike) -> tuple[np.ndarray, ...]:
    """:func:`diag_indices` for a square ``arr`` of any rank.

    >>> diag_indices_from(np.zeros((2, 2)))[0]
    array([0, 1])
    """
    shape = tuple(np.shape(arr)) if not isinstance(arr, Tracer) else arr.shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(at_user_line(
            f"diag_indices_from: input must be at least 2-D with all dimensions equal, got "
            f"shape {shape}"))
    return np.diag_indices(shape[0], len(shape))


# == grids ====================================================================================


def meshgrid(*xi: ArrayLike, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> list[Any]:
    """Coordinate arrays from 1-D coordinate vectors, as ``numpy.meshgrid``.

    >>> [g.shape for g in meshgrid(np.arange(2), np.arange(3))]
    [(3, 2), (3, 2)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrs = [ravel(x) for x in xi]
    nd = len(arrs)
    out = []
    for i, a in enumerate(arrs):
        shape = [1] * nd
        shape[i] = a.shape[0]
        out.append(reshape(a, tuple(shape)))
    if indexing == "xy" and nd > 1:
        out = [swapaxes(o, 0, 1) for o in out]
    if sparse:
        return out
    full = tuple(np.broadcast_shapes(*(o.shape for o in out)))
    return [broadcast_to(o, full) for o in out]


def ix_(*args: ArrayLike) -> tuple[Any, ...]:
    """An open mesh from 1-D sequences (booleans select where True), as ``numpy.ix_``.

    >>> [i.shape for i in ix_([0, 1], [2, 0, 1])]
    [(2, 1), (1, 3)]
    """
    out = []
    nd = len(args)
    for i, a in enumerate(args):
        x = asarray(a)
        if x.ndim != 1:
            raise ValueError(at_user_line(f"ix_: arguments must be 1-D, argument {i} has "
                                          f"shape {x.shape}"))
        if x.dtype == np.bool_:
            (x,) = nonzero(x)
        elif x.shape[0] == 0 and not isinstance(x, Tracer):
            x = x.astype(np.intp)
        elif x.dtype.kind not in "iu":
            raise TypeError(at_user_line(f"ix_: argument {i} must be integer or boolean, got "
                                         f"dtype {x.dtype}"))
        out.append(reshape(x, (1,) * i + (x.shape[0],) + (1,) * (nd - i - 1)))
    return tuple(out)


# == products =================================================================================


def kron(a: ArrayLike, b: ArrayLike) -> Any:
    """The Kronecker product, as ``numpy.kron``.

    >>> kron(np.eye(2), np.array([[1.0, 2.0]]))
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])
    """
    x, y = asarray(a), asarray(b)
    nd = builtins.max(x.ndim, y.ndim)
    x = reshape(x, (1,) * (nd - x.ndim) + x.shape)
    y = reshape(y, (1,) * (nd - y.ndim) + y.shape)
    # x as (x0, 1, x1, 1, ...) times y as (1, y0, 1, y1, ...), then merge each pair.
    xs = reshape(x, tuple(v for n in x.shape for v in (n, 1)))
    ys = reshape(y, tuple(v for n in y.shape for v in (1, n)))
    return reshape(multiply(xs, ys), tuple(m * n for m, n in zip(x.shape, y.shape, strict=True)))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """The cross product of 3-vectors (or the z-component for 2-vectors) along ``axis``, as
    ``numpy.cross``.

    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = moveaxis(asarray(a), axisa, -1), moveaxis(asarray(b), axisb, -1)
    if x.shape[-1] not in (2, 3) or y.shape[-1] not in (2, 3):
        raise ValueError(at_user_line(
            f"cross: incompatible dimensions for cross product (dimension must be 2 or 3), "
            f"got shapes {x.shape} and {y.shape}"))
    dt = result_type(x, y)
    x, y = _cast(x, dt), _cast(y, dt)

    def comp(v: Any, i: int) -> Any:
        return _getitem(v, (Ellipsis, i)) if i < v.shape[-1] else None

    x0, x1, x2 = (comp(x, i) for i in range(3))
    y0, y1, y2 = (comp(y, i) for i in range(3))

    def term(p: Any, q: Any, r: Any, s: Any) -> Any:
        # p*q - r*s, with absent (zero) components dropped.
        left = None if p is None or q is None else multiply(p, q)
        right = None if r is None or s is None else multiply(r, s)
        if right is None:
            return left
        return multiply(right, -1) if left is None else subtract(left, right)

    z = term(x0, y1, x1, y0)
    if x2 is None and y2 is None:
        return z  # two 2-vectors: the z-component only, as NumPy
    cx, cy = term(x1, y2, x2, y1), term(x2, y0, x0, y2)
    shape = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    parts = [reshape(broadcast_to(c, shape), (*shape, 1)) for c in (cx, cy, z)]
    return moveaxis(concatenate(parts, -1), -1, axisc)


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis)`` with broadcasting, as the array API's ``vecdot``.

    >>> vecdot(np.array([1.0, 2.0]), np.array([[3.0, 4.0]]))
    array([11.])
    """
    sx, sy = np.shape(x1), np.shape(x2)   # before _promote broadcasts them
    if not sx or not sy:
        raise ValueError("vecdot: the arguments must have at least one dimension")
    x, y = _promote(x1, x2)
    nx, ny = sx[axis], sy[axis]
    if nx != ny:   # the contracted axis does not broadcast (the array API)
        raise ValueError(f"vecdot: the contracted axis {axis} has size {nx} in x1 (shape "
                         f"{sx}) but {ny} in x2 (shape {sy})")
    return _sum(multiply(conjugate(x), y), axis=axis, dtype=x.dtype)


def matrix_transpose(x: ArrayLike, /) -> Any:
    """Swap the last two axes, as the array API's ``matrix_transpose``.

    >>> matrix_transpose(np.zeros((2, 3, 4))).shape
    (2, 4, 3)
    """
    a = asarray(x)
    if a.ndim < 2:
        raise ValueError(at_user_line(
            f"matrix_transpose: x must have at least 2 dimensions, got shape {a.shape}"))
    return swapaxes(a, -1, -2)


def permute_dims(a: ArrayLike, /, axes: Sequence[int]) -> Any:
    """The axes of ``a`` permuted, as the array API's ``permute_dims``.

    >>> permute_dims(np.zeros((2, 3)), (1, 0)).shape
    (3, 2)
    """
    return transpose(a, axes)


def concat(arrays: Sequence[ArrayLike], /, *, axis: int | None = 0) -> Any:
    """Join arrays along an axis (flattened with ``axis=None``), as the array API's
    ``concat``.

    >>> concat([np.zeros(2), np.ones(1)])
    array([0., 0., 1.])
    """
    return concatenate(arrays, axis)


def unstack(x: ArrayLike, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, as the array API's ``unstack``.

    >>> [u.shape for u in unstack(np.zeros((2, 3)), axis=1)]
    [(2,), (2,), (2,)]
    """
    a = asarray(x)
    (ax,) = _axes(a, axis)
    return tuple(_getitem(a, (slice(None),) * ax + (i,)) for i in range(a.shape[ax]))


# == joining and splitting ====================================================================


def atleast_3d(*arys: ArrayLike) -> Any:
    """Arrays with at least three dimensions (1-D ``(n,)`` becomes ``(1, n, 1)``, 2-D
    ``(m, n)`` becomes ``(m, n, 1)``), as ``numpy.atleast_3d``.

    >>> atleast_3d(np.zeros(2)).shape
    (1, 2, 1)
    """
    out = []
    for a in arys:
        x = asarray(a)
        if x.ndim == 0:
            x = reshape(x, (1, 1, 1))
        elif x.ndim == 1:
            x = reshape(x, (1, x.shape[0], 1))
        elif x.ndim == 2:
            x = reshape(x, (*x.shape, 1))
        out.append(x)
    return out[0] if len(out) == 1 else out


def column_stack(tup: Sequence[ArrayLike]) -> Any:
    """1-D arrays as columns, 2-D ones as they are, joined along axis 1, as
    ``numpy.column_stack``.

    >>> column_stack([np.array([1, 2]), np.array([3, 4])])
    array([[1, 3],
           [2, 4]])
    """
    cols = []
    for a in tup:
        x = asarray(a)
        cols.append(transpose(atleast_2d(x)) if x.ndim < 2 else x)
    return concatenate(cols, 1)


def dstack(tup: Sequence[ArrayLike]) -> Any:
    """Arrays joined along the third axis (after ``atleast_3d``), as ``numpy.dstack``.

    >>> dstack([np.zeros(2), np.ones(2)]).shape
    (1, 2, 2)
    """
    return concatenate([atleast_3d(a) for a in tup], 2)


def append(arr: ArrayLike, values: ArrayLike, axis: int | None = None) -> Any:
    """``values`` appended to ``arr`` (both flattened when ``axis`` is None), as
    ``numpy.append``.

    >>> append(np.array([1, 2]), [[3]])
    array([1, 2, 3])
    """
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


def array_split(ary: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``split`` that allows an unequal division: of ``n`` into ``s`` sections the first
    ``n % s`` have one element more, as ``numpy.array_split``.

    >>> [p.shape for p in array_split(np.arange(5), 3)]
    [(2,), (2,), (1,)]
    """
    x = asarray(ary)
    (ax,) = _axes(x, axis)
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        s = int(indices_or_sections)
        if s <= 0:
            raise ValueError(f"array_split: number of sections must be larger than 0, got {s}")
        q, r = divmod(n, s)
        bounds = np.cumsum([0] + [q + 1] * r + [q] * (s - r)).tolist()
    else:
        bounds = split_point_bounds(indices_or_sections, n)
    return split_at(x, bounds, ax)


def _split_along(ary: ArrayLike, indices_or_sections: Any, axis: int, min_ndim: int,
                 name: str) -> list[Any]:
    x = asarray(ary)
    if x.ndim < min_ndim:
        raise ValueError(at_user_line(f"{name} only works on arrays of {min_ndim} or more "
                                      f"dimensions, got shape {x.shape}"))
    from funcgrad.numpy._shape import split
    return split(x, indices_or_sections, axis)


def hsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Any]:
    """``split`` along axis 1 (axis 0 for 1-D arrays), as ``numpy.hsplit``.

    >>> [p.shape for p in hsplit(np.zeros((2, 4)), 2)]
    [(2, 2), (2, 2)]
    """
    x = asarray(ary)
    return _split_along(x, indices_or_sections, 1 if x.ndim > 1 else 0, 1, "hsplit")


def vsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Any]:
    """``split`` along axis 0 of an array of 2 or more dimensions, as ``numpy.vsplit``.

    >>> [p.shape for p in vsplit(np.zeros((4, 2)), 2)]
    [(2, 2), (2, 2)]
    """
    return _split_along(ary, indices_or_sections, 0, 2, "vsplit")


def dsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Any]:
    """``split`` along axis 2 of an array of 3 or more dimensions, as ``numpy.dsplit``.

    >>> [p.shape for p in dsplit(np.zeros((1, 1, 4)), [1])]
    [(1, 1, 1), (1, 1, 3)]
    """
    return _split_along(ary, indices_or_sections, 2, 3, "dsplit")


def rollaxis(a: ArrayLike, axis: int, start: int = 0) -> Any:
    """``axis`` moved to before position ``start``, as ``numpy.rollaxis`` (prefer
    ``moveaxis``).

    >>> rollaxis(np.zeros((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    x = asarray(a)
    n = x.ndim
    (ax,) = _axes(x, axis)
    if not -n <= start <= n:
        raise np.exceptions.AxisError(at_user_line(
            f"rollaxis: start {start} is out of bounds for array of dimension {n}"))
    start = start + n if start < 0 else start  # NumPy's reading of a negative start
    if ax < start:
        start -= 1
    if ax == start:
        return x
    return moveaxis(x, ax, start)


# == choosing =================================================================================


def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike],
           default: ArrayLike = 0) -> Any:
    """From the first true condition's choice, else ``default``, as ``numpy.select``
    (differentiable in the choices and the default).

    >>> select([np.array([True, False]), np.array([True, True])], [1.0, 2.0], 0.0)
    array([1., 2.])
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: list of cases must be same length as list of conditions, "
                         f"got {len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise ValueError("select: select with an empty condition list is not possible")
    conds = [asarray(c) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != np.bool_:
            raise TypeError(f"select: invalid entry {i} in condlist: should be boolean "
                            f"ndarray, got dtype {c.dtype}")
    # NEP 50, as NumPy: Python scalars among the choices and the default are weak.
    weak = (int, float, complex)
    choices = [c if type(c) in weak else asarray(c) for c in choicelist]
    dflt = default if type(default) in weak else asarray(default)
    dt = result_type(*choices, dflt)
    out = _cast(asarray(dflt), dt)
    for c, v in zip(reversed(conds), reversed(choices), strict=True):
        out = where(c, _cast(asarray(v), dt), out)
    return out


def piecewise(x: ArrayLike, condlist: Any, funclist: Sequence[Any], *args: Any,
              **kw: Any) -> Any:
    """``funclist[i](x)`` where ``condlist[i]`` holds (later conditions win; one extra
    function is the "otherwise"), else 0, in the dtype of ``x``, as ``numpy.piecewise``.

    As in JAX every function is evaluated on all of ``x`` and the results are chosen with
    ``where``, so it traces and differentiates; a function must work on any element.

    >>> piecewise(np.array([-1.0, 2.0]), [np.array([True, False])], [lambda v: -v, 1.0])
    array([1., 1.])
    """
    xa = asarray(x)
    # NumPy's reading of condlist: one condition (an array shaped like x, a scalar, a flat
    # list for a non-0-d x) or a sequence of them.
    if isinstance(condlist, (np.ndarray, Tracer)):
        conds = [condlist] if condlist.ndim == xa.ndim else [
            _getitem(condlist, i) for i in range(condlist.shape[0])]
    elif np.isscalar(condlist) or (
            xa.ndim != 0 and not isinstance(condlist[0], (list, tuple, np.ndarray, Tracer))):
        conds = [condlist]
    else:
        conds = list(condlist)
    conds = [asarray(c) for c in conds]
    n = len(conds)
    if len(funclist) == n + 1:
        otherwise = logical_not(_any_of(conds, xa.shape))
        conds.append(otherwise)
    elif len(funclist) != n:
        raise ValueError(f"piecewise: with {n} condition(s), either {n} or {n + 1} functions "
                         f"are needed, got {len(funclist)}")
    out: Any = np.zeros(xa.shape, xa.dtype)
    for c, f in zip(conds, funclist, strict=True):
        val = f(xa, *args, **kw) if callable(f) else f
        out = where(c, _cast(asarray(val), xa.dtype), out)
    return out


def _any_of(conds: list[Any], shape: tuple[int, ...]) -> Any:
    stacked = concatenate([reshape(broadcast_to(c, shape), (1, *shape)) for c in conds], 0)
    return _any(stacked, axis=0)


# == index tricks: r_ and c_ ==================================================================


class _AxisConcatenator:
    """``r_[...]`` / ``c_[...]``: slices become ranges (``a:b:nj`` a linspace of n points),
    scalars and arrays are joined along an axis; a leading string ``"axis[,ndmin[,trans]]"``
    (or ``"r"``/``"c"``) sets how."""

    def __init__(self, axis: int, ndmin: int, trans1d: int) -> None:
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if items and isinstance(items[0], str):
            spec, items = items[0], items[1:]
            if spec in ("r", "c"):
                raise NotImplementedError(f"r_/c_: the matrix directive {spec!r} is not "
                                          f"supported (funcgrad has no matrix class)")
            try:
                parts = [int(p) for p in spec.split(",")]
            except ValueError:
                raise ValueError(f"r_/c_: unknown directive {spec!r}") from None
            axis = parts[0]
            if len(parts) > 1:
                ndmin = parts[1]
            if len(parts) > 2:
                trans1d = parts[2]
        arrays = [self._item(it, ndmin, trans1d) for it in items]
        if not arrays:
            return np.array([])
        # NumPy's promotion: scalars count as themselves (Python ones weakly, NEP 50), so
        # r_[float32 array, 0.5] stays float32.
        scalar_types = (int, float, complex, builtins.bool, np.generic)
        dt = result_type(*(it if isinstance(it, scalar_types) else a
                           for it, a in zip(items, arrays, strict=True)))
        return concatenate([_cast(a, dt) for a in arrays], axis)

    @staticmethod
    def _item(it: Any, ndmin: int, trans1d: int) -> Any:
        if isinstance(it, slice):
            start = 0 if it.start is None else it.start
            step = 1 if it.step is None else it.step
            x: Any
            if isinstance(step, complex):
                x = np.linspace(start, it.stop, int(builtins.abs(step)))
            else:
                x = np.arange(start, it.stop, step)
            if ndmin > 1:
                x = x.reshape((1,) * (ndmin - 1) + x.shape)
                if trans1d != -1:
                    x = x.swapaxes(-1, trans1d)
            return x
        x = asarray(it)
        if x.ndim == 0:
            x = reshape(x, (1,))
        return _ndmin(x, ndmin, trans1d)


def _ndmin(x: Any, ndmin: int, trans1d: int) -> Any:
    # NumPy's rule: 1s are prepended up to ndmin, then the array's own axes are moved to
    # start at trans1d.
    nd = x.ndim
    if nd >= ndmin:
        return x
    x = reshape(x, (1,) * (ndmin - nd) + x.shape)
    if trans1d != -1:
        k2, k1 = ndmin - nd, trans1d
        if k1 < 0:
            k1 += k2 + 1
        defaxes = list(range(ndmin))
        x = transpose(x, defaxes[:k1] + defaxes[k2:] + defaxes[k1:k2])
    return x


r_ = _AxisConcatenator(0, 1, -1)
c_ = _AxisConcatenator(-1, 2, 0)
