"""Numerical calculus on arrays: ``convolve``/``correlate``, ``polyval``/``polyfit``,
``trapezoid``, ``interp``, ``gradient``, ``diff`` and ``ediff1d``.

Composites of existing primitives, like ``_statistics``: a Toeplitz gather and a matrix
product for convolution, Horner's rule, a comparison search and gathers for interpolation,
slices and concatenation for differences; so each differentiates, batches and stages through
those primitives' rules.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import ShapeError, at_user_line
from funcgrad.core.tracing import Tracer
from funcgrad.lax.indexing import getitem as _getitem
from funcgrad.numpy._core import (
    ArrayLike,
    _axes,
    _broadcast,
    _cast,
    _float,
    asarray,
)
from funcgrad.numpy._core import ndim as _ndim
from funcgrad.numpy._products import dot
from funcgrad.numpy._reductions import (
    sum,
)
from funcgrad.numpy._shape import concatenate, ravel, reshape
from funcgrad.numpy._statistics import _concrete, _count_le, _normalize_axes, _slice
from funcgrad.numpy._ufuncs import (
    abs,
    add,
    clip,
    conjugate,
    equal,
    greater,
    less,
    logical_and,
    logical_or,
    multiply,
    not_equal,
    remainder,
    sqrt,
    subtract,
    true_divide,
)
from funcgrad.numpy._ufuncs import where as _where  # the where= arguments shadow the name

# == convolution and correlation ==============================================================

def _vector(a: ArrayLike, name: str, fn: str) -> Any:
    x = asarray(a)
    if x.ndim == 0:
        x = reshape(x, (1,))
    if x.ndim != 1:
        raise ValueError(at_user_line(f"{fn}: {name} must be 1-D, got shape {x.shape}"))
    if x.shape[0] == 0:
        raise ValueError(at_user_line(f"{fn}: {name} cannot be empty"))
    return x


def _full_convolution(a: Any, v: Any) -> Any:
    # out[k] = sum_j a[k - j] v[j]: a Toeplitz matrix of a (a gather from a zero-padded a,
    # T[k, j] = a_pad[k + m - 1 - j]) times v, one BLAS matrix-vector product.
    n, m = a.shape[0], v.shape[0]
    ap = lax.pad(a, np.zeros((), a.dtype).item(), [(m - 1, m - 1, 0)])
    idx = np.arange(n + m - 1)[:, None] + (m - 1) - np.arange(m)[None, :]
    return dot(_getitem(ap, idx), v)


def _mode_window(mode: str, n: int, m: int, swapped: bool) -> tuple[int, int]:
    """(start, length) of NumPy's ``mode`` output inside the full one."""
    short, long_ = builtins.min(n, m), builtins.max(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "valid":
        return short - 1, long_ - short + 1
    if mode == "same":
        # NumPy computes with the longer input first, then reverses back if it swapped.
        return (short // 2 if swapped else short - 1 - short // 2), long_
    raise ValueError(at_user_line(
        f"mode must be one of 'valid', 'same', or 'full', got {mode!r}"))


def _convolve_like(a: Any, v: Any, mode: str, swapped: bool) -> Any:
    dt = np.result_type(a.dtype, v.dtype)
    a, v = _cast(a, dt), _cast(v, dt)
    start, length = _mode_window(mode, a.shape[0], v.shape[0], swapped)
    if v.shape[0] > a.shape[0]:
        a, v = v, a  # convolution commutes; the shorter one is the kernel
    return _slice(_full_convolution(a, v), start, start + length, 0)


def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full") -> Any:
    """Discrete linear convolution of two 1-D arrays, as ``numpy.convolve`` (modes
    ``full``, ``same``, ``valid``). Differentiable in both inputs.

    >>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    x, k = _vector(a, "a", "convolve"), _vector(v, "v", "convolve")
    return _convolve_like(x, k, mode, False)


def correlate(a: ArrayLike, v: ArrayLike, mode: str = "valid") -> Any:
    """Cross-correlation of two 1-D arrays, ``c[k] = sum_n a[n + k] conj(v[n])``, as
    ``numpy.correlate`` (modes ``valid``, ``same``, ``full``).

    >>> correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([3.5])
    """
    x, k = _vector(a, "a", "correlate"), _vector(v, "v", "correlate")
    kr = conjugate(lax.rev(k, (0,)))
    return _convolve_like(x, kr, mode, k.shape[0] > x.shape[0])


# == polynomials, integration, interpolation, differences =====================================

def polyval(p: ArrayLike, x: ArrayLike) -> Any:
    """A polynomial with coefficients ``p`` (highest degree first) at ``x``, by Horner's
    rule, as ``numpy.polyval``.

    >>> polyval(np.array([1.0, 0.0, -1.0]), np.array([0.0, 2.0]))
    array([-1.,  3.])
    """
    coef = asarray(p)
    xs = asarray(x)
    if coef.ndim != 1:
        raise ValueError(at_user_line(f"polyval: p must be 1-D, got shape {coef.shape}"))
    y: Any = np.zeros(xs.shape, xs.dtype)
    for i in builtins.range(coef.shape[0]):
        y = add(multiply(y, xs), _getitem(coef, i))
    return asarray(y)


def _vander(x: Any, order: int) -> Any:
    """Columns ``x**(order-1), ..., x, 1`` by repeated products (no pow: smooth at x = 0)."""
    cols = [lax.full_like(x, 1)]
    for _ in builtins.range(order - 1):
        cols.append(multiply(cols[-1], x))
    return concatenate([reshape(c, (-1, 1)) for c in reversed(cols)], axis=1)


def polyfit(x: ArrayLike, y: ArrayLike, deg: int, rcond: Any = None, full: bool = False,
            w: ArrayLike = None, cov: bool | str = False) -> Any:
    """Least-squares polynomial fit of degree ``deg``, as ``numpy.polyfit``: coefficients
    highest degree first (one column per column of a 2-D ``y``), with weights ``w`` and the
    coefficients' covariance (``cov=True`` or ``'unscaled'``).

    NumPy solves the column-scaled Vandermonde system with an SVD; here it is the normal
    equations of the same scaled system through ``linalg.solve`` (differentiable in ``x``,
    ``y`` and ``w``), which agrees for the well-conditioned fits of modest degree polyfit is
    meant for. ``full=True`` (the SVD diagnostics) and ``rcond`` are not supported.

    >>> polyfit(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0]), 1).round(6)
    array([2., 1.])
    """
    from funcgrad.numpy.linalg import solve  # linalg imports this package

    if full or rcond is not None:
        raise NotImplementedError(at_user_line(
            "polyfit: full=True and rcond= (the SVD diagnostics) are not supported"))
    deg = int(deg)
    if deg < 0:
        raise ValueError(at_user_line(f"polyfit: expected deg >= 0, got {deg}"))
    xs, ys = _float(x), _float(y)
    if xs.ndim != 1 or xs.shape[0] == 0:
        raise TypeError(at_user_line(f"polyfit: expected a non-empty 1-D x, got {xs.shape}"))
    if ys.ndim not in (1, 2) or ys.shape[0] != xs.shape[0]:
        raise TypeError(at_user_line(
            f"polyfit: expected a 1-D or 2-D y with len(x) = {xs.shape[0]} rows, got "
            f"{ys.shape}"))
    order = deg + 1
    if xs.dtype.kind == "c" or ys.dtype.kind == "c":
        raise TypeError(at_user_line("polyfit: complex x or y is not supported"))
    dt = np.result_type(xs.dtype, ys.dtype, np.float64)  # NumPy fits float32 data in float64
    xs, ys = _cast(xs, dt), _cast(ys, dt)
    lhs, rhs = _vander(xs, order), ys
    if w is not None:
        ws = _cast(_float(w), dt)
        if ws.ndim != 1 or ws.shape[0] != ys.shape[0]:
            raise TypeError(at_user_line(
                f"polyfit: expected 1-D weights of length {ys.shape[0]}, got {ws.shape}"))
        lhs = multiply(lhs, reshape(ws, (-1, 1)))
        rhs = multiply(rhs, reshape(ws, (-1, 1)) if rhs.ndim == 2 else ws)
    scale = sqrt(sum(multiply(lhs, lhs), axis=0))
    lhs = true_divide(lhs, scale)
    gram = dot(lax.transpose(lhs, (1, 0)), lhs)
    cs = solve(gram, dot(lax.transpose(lhs, (1, 0)), rhs))
    c = true_divide(cs, scale if cs.ndim == 1 else reshape(scale, (-1, 1)))
    if not cov:
        return c
    from funcgrad.numpy.linalg import inv
    vbase = true_divide(inv(gram), multiply(reshape(scale, (-1, 1)), reshape(scale, (1, -1))))
    if cov == "unscaled":
        return c, vbase if ys.ndim == 1 else reshape(vbase, (*vbase.shape, 1))
    n = xs.shape[0]
    if n <= order:
        raise ValueError(at_user_line(
            "the number of data points must exceed order to scale the covariance matrix"))
    r = subtract(dot(lhs, cs), rhs)
    fac = true_divide(sum(multiply(r, r), axis=0), float(n - order))
    if ys.ndim == 1:
        return c, multiply(vbase, fac)
    return c, multiply(reshape(vbase, (*vbase.shape, 1)), fac)


def trapezoid(y: ArrayLike, x: ArrayLike = None, dx: ArrayLike = 1.0, axis: int = -1) -> Any:
    """Integral of ``y`` by the trapezoidal rule along ``axis``, as ``numpy.trapezoid``:
    sample points ``x`` (1-D along ``axis``, or ``y``'s shape), else spacing ``dx``.

    >>> trapezoid(np.array([1.0, 2.0, 3.0]), dx=0.5)
    array(2.)
    """
    ys = asarray(y)
    (ax,) = _axes(ys, axis)
    n = ys.shape[ax]
    if x is None:
        d: Any = dx if type(dx) in (int, float) else asarray(dx)
    else:
        xs = asarray(x)
        if xs.ndim == 1:
            if xs.shape[0] != n:
                raise ShapeError(at_user_line(
                    f"trapezoid: x of length {xs.shape[0]} does not match y's axis {axis} of "
                    f"length {n}"))
            d = reshape(diff(xs), tuple(n - 1 if i == ax else 1 for i in builtins.range(ys.ndim)))
        else:
            d = diff(xs, axis=ax)
    pair = add(_slice(ys, builtins.min(1, n), n, ax), _slice(ys, 0, builtins.max(n - 1, 0), ax))
    return sum(true_divide(multiply(d, pair), 2.0), axis=ax)


def _stable_order(v: Any) -> Any:
    """The stable argsort of a short 1-D array by comparisons (O(n^2), no sort primitive):
    rank[i] = #{j: v[j] < v[i]} + #{j < i: v[j] == v[i]}, then order[r] = i with rank r."""
    n = v.shape[0]
    vi, vj = reshape(v, (n, 1)), reshape(v, (1, n))
    earlier = np.arange(n)[None, :] < np.arange(n)[:, None]  # [i, j]: j < i
    before = logical_or(less(vj, vi), logical_and(equal(vj, vi), earlier))
    rank = sum(before, axis=1)  # rank[i]
    onehot = equal(reshape(rank, (1, n)), np.arange(n)[:, None])  # [r, i]
    return sum(_where(onehot, np.arange(n)[None, :], 0), axis=1)


def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left: ArrayLike = None,
           right: ArrayLike = None, period: ArrayLike = None) -> Any:
    """Piecewise-linear interpolation of ``(xp, fp)`` at ``x``, as ``numpy.interp``
    (``xp`` increasing; ``left``/``right`` outside it, ``fp``'s ends by default; ``period``
    for periodic coordinates). The result is float64 (complex128 for complex ``fp``), as
    NumPy's. Differentiable in ``x``, ``xp`` and ``fp``.

    The interval of each ``x`` is found without a sort or a Python loop over points: by
    comparing it with every ``xp`` when there are few, else by a branchless binary search
    (log2(len(xp)) rounds of gather-compare-select). Under ``vmap`` a batched ``x``, ``xp``
    or ``fp`` is just a batched comparison and gather, so each example gets its own knots;
    a traced ``xp`` with ``period`` is ordered by an O(n^2) comparison rank.

    >>> interp(np.array([0.5, 1.5, 3.0]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 10.0, 0.0]))
    array([5., 5., 0.])
    """
    xs, xps, fps = asarray(x), asarray(xp), asarray(fp)
    if xps.ndim != 1 or fps.ndim != 1:
        raise ValueError(at_user_line(
            f"interp: xp {xps.shape} and fp {fps.shape} must be 1-D"))
    if xps.shape[0] != fps.shape[0]:
        raise ValueError(at_user_line(
            f"interp: fp and xp are not of the same length ({fps.shape[0]} and "
            f"{xps.shape[0]})"))
    if xps.shape[0] == 0:
        raise ValueError(at_user_line("interp: array of sample points is empty"))
    if xs.dtype.kind == "c" or xps.dtype.kind == "c":
        raise TypeError(at_user_line("interp: x and xp must be real"))
    out_dt = np.dtype(np.complex128 if fps.dtype.kind == "c" else np.float64)
    xs, xps, fps = _cast(xs, np.float64), _cast(xps, np.float64), _cast(fps, out_dt)
    if period is not None:
        known = _concrete(period)
        if known is not None and known == 0:
            raise ValueError(at_user_line("interp: period must be a non-zero value"))
        per = abs(_cast(asarray(period), np.float64))
        left = right = None
        xs, xps = remainder(xs, per), remainder(xps, per)
        order = (_stable_order(xps) if isinstance(xps, Tracer)
                 else np.argsort(xps, kind="stable"))
        xps, fps = _getitem(xps, order), _getitem(fps, order)
        n0 = xps.shape[0]
        xps = concatenate([subtract(_slice(xps, n0 - 1, n0, 0), per), xps,
                           add(_slice(xps, 0, 1, 0), per)])
        fps = concatenate([_slice(fps, n0 - 1, n0, 0), fps, _slice(fps, 0, 1, 0)])
    n = xps.shape[0]
    first, last = _getitem(fps, 0), _getitem(fps, n - 1)
    if n == 1:
        f: Any = _broadcast(asarray(first), xs.shape) if xs.shape else asarray(first)
    else:
        # i: the number of xp <= x (searchsorted side='right'), kept inside [1, n - 1].
        i = clip(_count_le(xps, xs), 1, n - 1)
        x0, x1 = _getitem(xps, subtract(i, 1)), _getitem(xps, i)
        f0, f1 = _getitem(fps, subtract(i, 1)), _getitem(fps, i)
        dx = subtract(x1, x0)
        flat = equal(dx, 0)
        slope = true_divide(subtract(f1, f0), _where(flat, 1.0, dx))
        f = _where(flat, f0, add(multiply(slope, subtract(xs, x0)), f0))
        f = _where(equal(xs, _getitem(xps, n - 1)), last, f)
    lo_val = first if left is None else _cast(asarray(left), out_dt)
    hi_val = last if right is None else _cast(asarray(right), out_dt)
    f = _where(less(xs, _getitem(xps, 0)), lo_val, f)
    f = _where(greater(xs, _getitem(xps, n - 1)), hi_val, f)
    return asarray(f)


def _spacings(f: Any, varargs: Sequence[Any], axes: tuple[int, ...]) -> list[Any]:
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and _ndim(varargs[0]) == 0:
        return [varargs[0]] * len(axes)
    if len(varargs) != len(axes):
        raise TypeError(at_user_line(
            f"gradient: invalid number of spacing arguments ({len(varargs)} for "
            f"{len(axes)} axes)"))
    out = []
    for h, ax in zip(varargs, axes, strict=True):
        h = asarray(h)
        if h.ndim == 0:
            out.append(h)
            continue
        if h.ndim != 1:
            raise ValueError(at_user_line("gradient: distances must be either scalars or 1d"))
        if h.shape[0] != f.shape[ax]:
            raise ValueError(at_user_line(
                f"gradient: when 1d, distances must match the length of the corresponding "
                f"dimension ({h.shape[0]} != {f.shape[ax]})"))
        d = diff(_float(h))
        if not isinstance(d, Tracer) and d.size and np.all(d == d[0]):
            out.append(d[0])  # uniform constant coordinates: NumPy's scalar formulas
        else:
            out.append(d)
    return out


def _along(c: Any, ax: int, ndim: int) -> Any:
    """A 1-D coefficient array shaped to broadcast along axis ``ax``."""
    return reshape(c, tuple(-1 if i == ax else 1 for i in builtins.range(ndim)))


def _gradient_axis(f: Any, h: Any, ax: int, edge_order: int) -> Any:
    n, nd = f.shape[ax], f.ndim

    def s(lo: int, hi: int) -> Any:
        return _slice(f, lo, hi, ax)

    f0, f1, f2 = s(0, 1), s(1, 2), s(2, 3) if n > 2 else None
    fl, fl1, fl2 = s(n - 1, n), s(n - 2, n - 1), s(n - 3, n - 2) if n > 2 else None
    if _ndim(h) == 0:
        if type(h) not in (int, float):  # a Python scalar stays weak, as in NumPy
            h = _cast(asarray(h), f.dtype)
        interior = true_divide(subtract(s(2, n), s(0, n - 2)), multiply(2.0, h))
        if edge_order == 1:
            first = true_divide(subtract(f1, f0), h)
            last = true_divide(subtract(fl, fl1), h)
        else:
            first = true_divide(add(add(multiply(-1.5, f0), multiply(2.0, f1)),
                                    multiply(-0.5, f2)), h)
            last = true_divide(add(add(multiply(0.5, fl2), multiply(-2.0, fl1)),
                                   multiply(1.5, fl)), h)
    else:
        d = _cast(h, np.result_type(h.dtype, f.dtype))
        dx1, dx2 = _slice(d, 0, n - 2, 0), _slice(d, 1, n - 1, 0)
        a = true_divide(-dx2, multiply(dx1, add(dx1, dx2)))
        b = true_divide(subtract(dx2, dx1), multiply(dx1, dx2))
        c = true_divide(dx1, multiply(dx2, add(dx1, dx2)))
        interior = add(add(multiply(_along(a, ax, nd), s(0, n - 2)),
                           multiply(_along(b, ax, nd), s(1, n - 1))),
                       multiply(_along(c, ax, nd), s(2, n)))
        d0, d1 = _getitem(d, 0), _getitem(d, n - 2)
        if edge_order == 1:
            first = true_divide(subtract(f1, f0), d0)
            last = true_divide(subtract(fl, fl1), d1)
        else:
            p, q = d0, _getitem(d, 1)
            first = add(add(multiply(true_divide(-(2.0 * p + q), p * (p + q)), f0),
                            multiply(true_divide(p + q, p * q), f1)),
                        multiply(true_divide(-p, q * (p + q)), f2))
            p, q = _getitem(d, n - 3), d1
            last = add(add(multiply(true_divide(q, p * (p + q)), fl2),
                           multiply(true_divide(-(q + p), p * q), fl1)),
                       multiply(true_divide(2.0 * q + p, q * (p + q)), fl))
    return _cast(concatenate([first, interior, last], axis=ax), f.dtype)


def gradient(f: ArrayLike, *varargs: ArrayLike, axis: Any = None, edge_order: int = 1) -> Any:
    """Second-order central differences inside and one-sided differences (first or second
    order, ``edge_order``) at the ends, as ``numpy.gradient``. Spacing: one scalar, one per
    axis, or 1-D coordinate arrays. One axis gives an array, several a tuple.

    >>> gradient(np.array([1.0, 2.0, 4.0, 7.0]))
    array([1. , 1.5, 2.5, 3. ])
    """
    fa = asarray(f)
    if fa.ndim == 0:
        raise ValueError(at_user_line("gradient: f must have at least one dimension"))
    axes = tuple(builtins.range(fa.ndim)) if axis is None else _normalize_axes(axis, fa.ndim)
    if edge_order not in (1, 2):
        raise ValueError(at_user_line(f"gradient: edge_order must be 1 or 2, got {edge_order}"))
    for ax in axes:
        if fa.shape[ax] < edge_order + 1:
            raise ValueError(at_user_line(
                "Shape of array too small to calculate a numerical gradient, at least "
                f"(edge_order + 1) elements are required (shape {fa.shape})"))
    if fa.dtype.kind not in "fc":
        fa = _cast(fa, np.float64)
    spacing = _spacings(fa, varargs, axes)
    outs = [_gradient_axis(fa, h, ax, edge_order) for h, ax in zip(spacing, axes, strict=True)]
    return outs[0] if len(outs) == 1 else tuple(outs)


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: ArrayLike = None,
         append: ArrayLike = None) -> Any:
    """The ``n``-th discrete difference along ``axis``, as ``numpy.diff`` (``not_equal`` for
    booleans), after joining ``prepend``/``append`` (scalars broadcast to one slice).

    >>> diff(np.array([1, 4, 9, 16]), n=2)
    array([2, 2])
    """
    if n < 0:
        raise ValueError(at_user_line(f"diff: order must be non-negative but got {n!r}"))
    x = asarray(a)
    if x.ndim == 0:
        raise ValueError(at_user_line("diff requires input that is at least one dimensional"))
    if n == 0:
        return x
    (ax,) = _axes(x, axis)
    def edge(extra: ArrayLike) -> Any:
        e = asarray(extra)
        if e.ndim == 0:
            e = _broadcast(e, tuple(1 if i == ax else s for i, s in enumerate(x.shape)))
        return e

    if prepend is not None or append is not None:
        parts = [] if prepend is None else [edge(prepend)]
        parts += [x] if append is None else [x, edge(append)]
        x = concatenate(parts, axis=ax)
    op = not_equal if x.dtype == np.bool_ else subtract
    for _ in builtins.range(n):
        m = x.shape[ax]
        x = op(_slice(x, builtins.min(1, m), m, ax), _slice(x, 0, builtins.max(m - 1, 0), ax))
    return x


def ediff1d(ary: ArrayLike, to_end: ArrayLike = None, to_begin: ArrayLike = None) -> Any:
    """Differences of the flattened array, with ``to_begin``/``to_end`` joined around, as
    ``numpy.ediff1d`` (the extras must cast to ``ary``'s dtype by the same-kind rule).

    >>> ediff1d(np.array([1, 2, 4]), to_begin=0)
    array([0, 1, 2])
    """
    x = ravel(asarray(ary))
    parts = []
    for name, extra in (("to_begin", to_begin), (None, None), ("to_end", to_end)):
        if name is None:
            m = x.shape[0]
            parts.append(subtract(_slice(x, builtins.min(1, m), m, 0),
                                  _slice(x, 0, builtins.max(m - 1, 0), 0)))
            continue
        if extra is None:
            continue
        e = ravel(asarray(extra))
        if not np.can_cast(e.dtype, x.dtype, casting="same_kind"):
            raise TypeError(at_user_line(
                f"dtype of `{name}` ({e.dtype}) must be compatible with input `ary` "
                f"({x.dtype}) under the `same_kind` rule."))
        parts.append(_cast(e, x.dtype))
    return parts[0] if len(parts) == 1 else concatenate(parts)


__all__ = [
    "convolve", "correlate", "diff", "ediff1d", "gradient", "interp", "polyfit", "polyval",
    "trapezoid",
]
