"""Statistics: the nan-reductions, ``count_nonzero``, ``average``, ``cov``, ``corrcoef``,
``bincount``, ``histogram`` and the array API's cumulative functions.

Every function here is a composite of existing primitives (``select`` for the nan masks,
comparisons and ``reduce_sum`` for counting, ``gather``/``scatter_add`` for indexing), so
each differentiates, batches under ``vmap`` and stages under ``make_jaxpr``/``jit`` through
the rules of those primitives. Where NumPy's output shape depends on values (``bincount``,
``histogram``), the shape-determining argument must be concrete, as in JAX.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, at_user_line
from funcgrad.core.tracing import Tracer, full_lower
from funcgrad.lax.indexing import getitem as _getitem
from funcgrad.numpy._core import (
    ArrayLike,
    _axes,
    _broadcast,
    _cast,
    _float,
    asarray,
    result_type,
)
from funcgrad.numpy._core import ndim as _ndim
from funcgrad.numpy._products import diagonal, dot
from funcgrad.numpy._reductions import (
    _no_out,
    _where_mask,
    argmax,
    argmin,
    cumprod,
    cumsum,
    max,
    mean,
    min,
    prod,
    sum,
    var,
)
from funcgrad.numpy._reductions import any as _any
from funcgrad.numpy._shape import concatenate, ravel, reshape
from funcgrad.numpy._ufuncs import (
    _as_bool,
    add,
    clip,
    conjugate,
    equal,
    greater,
    greater_equal,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    minimum,
    multiply,
    not_equal,
    real,
    sqrt,
    subtract,
    true_divide,
)
from funcgrad.numpy._ufuncs import where as _where  # the where= arguments shadow the name


def _concrete(x: Any) -> np.ndarray | None:
    """``x``'s value if it is known now (a constant, or under grad/jvp the primal), else None.
    Only for checks and static sizes: a computation on it would drop the derivative."""
    v = full_lower(x)
    return None if isinstance(v, Tracer) else np.asarray(v)


def _nan_to(x: Any, fill: Any) -> Any:
    # select, not arithmetic: the nan entries get an exactly-zero derivative, as in JAX.
    if x.dtype.kind not in "fc":
        return x
    return lax.select(isnan(x), lax.full_like(x, fill), x)


def _slice(x: Any, lo: int, hi: int, axis: int) -> Any:
    return lax.slice_in_dim(x, lo, hi, axis=axis)


# == nan-ignoring reductions ==================================================================

def nansum(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Sum treating NaNs as zero, as ``numpy.nansum`` (their gradient is zero).

    >>> nansum(np.array([1.0, np.nan, 2.0]))
    array(3.)
    """
    _no_out(out, "nansum")
    return sum(_nan_to(asarray(a), 0), axis=axis, dtype=dtype, keepdims=keepdims,
               initial=initial, where=where)


def nanprod(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Product treating NaNs as one, as ``numpy.nanprod``.

    >>> nanprod(np.array([2.0, np.nan, 3.0]))
    array(6.)
    """
    _no_out(out, "nanprod")
    return prod(_nan_to(asarray(a), 1), axis=axis, dtype=dtype, keepdims=keepdims,
                initial=initial, where=where)


def _not_nan(x: Any, where: Any) -> Any:
    ok = logical_not(isnan(x))
    return ok if where is None else logical_and(ok, _where_mask(where, x))


def nanmean(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, *, where: ArrayLike = None) -> Any:
    """Mean of the non-NaN entries, as ``numpy.nanmean`` (NaN for an all-NaN slice).

    >>> nanmean(np.array([1.0, np.nan, 2.0]))
    array(1.5)
    """
    _no_out(out, "nanmean")
    x = asarray(a)
    if dtype is not None:
        x = _cast(x, np.dtype(dtype))
    if x.dtype.kind not in "fc":
        return mean(x, axis=axis, keepdims=keepdims, where=where)
    return mean(_nan_to(x, 0), axis=axis, keepdims=keepdims, where=_not_nan(x, where))


def nanvar(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, *, where: ArrayLike = None, correction: Any = None) -> Any:
    """Variance of the non-NaN entries, as ``numpy.nanvar`` (NaN where the count minus
    ``ddof`` is not positive).

    >>> nanvar(np.array([1.0, np.nan, 3.0]))
    array(1.)
    """
    _no_out(out, "nanvar")
    if correction is not None:
        if ddof != 0:
            raise ValueError(at_user_line("nanvar/nanstd: give ddof or correction, not both"))
        ddof = correction
    x = _float(a) if dtype is None else _cast(asarray(a), np.dtype(dtype))
    if x.dtype.kind not in "fc":
        return var(x, axis=axis, ddof=ddof, keepdims=keepdims, where=where)
    ok = _not_nan(x, where)
    v = var(_nan_to(x, 0), axis=axis, ddof=ddof, keepdims=keepdims, where=ok)
    count = sum(ok, axis=axis, keepdims=keepdims)
    return _where(greater(subtract(count, ddof), 0), v, np.nan)


def nanstd(a: ArrayLike, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, *, where: ArrayLike = None, correction: Any = None) -> Any:
    """Standard deviation of the non-NaN entries, as ``numpy.nanstd``.

    >>> nanstd(np.array([1.0, np.nan, 3.0]))
    array(1.)
    """
    _no_out(out, "nanstd")
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where,
                       correction=correction))


def _nan_extremum(reduce: Any, sign: int, a: ArrayLike, axis: Any, keepdims: bool,
                  initial: Any, where: Any) -> Any:
    x = asarray(a)
    if x.dtype.kind not in "fc":
        return reduce(x, axis=axis, keepdims=keepdims, initial=initial, where=where)
    out = reduce(_nan_to(x, sign * np.inf), axis=axis, keepdims=keepdims, initial=initial,
                 where=where)
    if initial is not None:
        return out  # an all-NaN slice gives initial, as NumPy
    all_nan = logical_not(_any(_not_nan(x, where), axis=axis, keepdims=keepdims))
    return _where(all_nan, np.nan, out)


def nanmax(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Maximum ignoring NaNs, as ``numpy.nanmax`` (NaN for an all-NaN slice); NaN entries get
    a zero gradient, ties share it.

    >>> nanmax(np.array([1.0, np.nan, 2.0]))
    array(2.)
    """
    _no_out(out, "nanmax")
    return _nan_extremum(max, -1, a, axis, keepdims, initial, where)


def nanmin(a: ArrayLike, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: ArrayLike = None, where: ArrayLike = None) -> Any:
    """Minimum ignoring NaNs, as ``numpy.nanmin``.

    >>> nanmin(np.array([1.0, np.nan, 2.0]))
    array(1.)
    """
    _no_out(out, "nanmin")
    return _nan_extremum(min, 1, a, axis, keepdims, initial, where)


def _nan_arg(reduce: Any, a: ArrayLike, axis: Any, keepdims: bool) -> Any:
    x = asarray(a)
    if x.dtype.kind not in "fc":
        return (argmax if reduce is max else argmin)(x, axis=axis, keepdims=keepdims)
    ok = logical_not(isnan(x))
    all_nan = logical_not(_any(ok, axis=axis, keepdims=keepdims))
    known = _concrete(all_nan)
    if known is not None and known.any():
        raise ValueError(at_user_line("All-NaN slice encountered"))
    # As NumPy (and JAX): NaN becomes -inf (+inf) and the plain arg-reduction picks.
    arg = argmax if reduce is max else argmin
    idx = arg(_nan_to(x, -np.inf if reduce is max else np.inf), axis=axis, keepdims=keepdims)
    return _where(all_nan, -1, idx)  # traced all-NaN slices give -1, as JAX


def nanargmax(a: ArrayLike, axis: int | None = None, out: None = None, *,
              keepdims: bool = False) -> Any:
    """Index of the maximum ignoring NaNs, as ``numpy.nanargmax``. A concrete all-NaN slice
    raises ValueError as in NumPy; a traced one gives -1 (JAX's convention).

    >>> nanargmax(np.array([1.0, np.nan, 2.0]))
    array(2)
    """
    _no_out(out, "nanargmax")
    return _nan_arg(max, a, axis, keepdims)


def nanargmin(a: ArrayLike, axis: int | None = None, out: None = None, *,
              keepdims: bool = False) -> Any:
    """Index of the minimum ignoring NaNs, as ``numpy.nanargmin``.

    >>> nanargmin(np.array([1.0, np.nan, 0.5]))
    array(2)
    """
    _no_out(out, "nanargmin")
    return _nan_arg(min, a, axis, keepdims)


def nancumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None,
              out: None = None) -> Any:
    """Running sum treating NaNs as zero, as ``numpy.nancumsum``.

    >>> nancumsum(np.array([1.0, np.nan, 2.0]))
    array([1., 1., 3.])
    """
    _no_out(out, "nancumsum")
    return cumsum(_nan_to(asarray(a), 0), axis=axis, dtype=dtype)


def nancumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None,
               out: None = None) -> Any:
    """Running product treating NaNs as one, as ``numpy.nancumprod``.

    >>> nancumprod(np.array([2.0, np.nan, 3.0]))
    array([2., 2., 6.])
    """
    _no_out(out, "nancumprod")
    return cumprod(_nan_to(asarray(a), 1), axis=axis, dtype=dtype)


def count_nonzero(a: ArrayLike, axis: Any = None, *, keepdims: bool = False) -> Any:
    """How many entries are nonzero, as ``numpy.count_nonzero`` (an int64 array).

    >>> count_nonzero(np.array([[0, 1], [2, 3]]), axis=0)
    array([1, 2])
    """
    return sum(_as_bool(a), axis=axis, keepdims=keepdims)


# == weighted averages, covariance ============================================================

def average(a: ArrayLike, axis: Any = None, weights: ArrayLike = None, returned: bool = False,
            *, keepdims: bool = False) -> Any:
    """Weighted mean, as ``numpy.average``: ``sum(a * w) / sum(w)`` over ``axis``; 1-D (or
    axis-shaped) weights apply along ``axis``. With ``returned``, also the sum of the weights
    (broadcast to the result's shape). Concrete weights that sum to zero raise
    ZeroDivisionError, as NumPy; traced ones give inf/nan.

    >>> average(np.array([1.0, 2.0, 4.0]), weights=np.array([2.0, 1.0, 1.0]))
    array(2.)
    """
    x = asarray(a)
    if weights is None:
        avg = mean(x, axis=axis, keepdims=keepdims)
        scl = np.asarray(x.size / builtins.max(math.prod(avg.shape), 1), avg.dtype)
    else:
        w = asarray(weights)
        if x.dtype.kind in "biu":
            dt = np.result_type(x.dtype, w.dtype, np.float64)
        else:
            dt = np.result_type(x.dtype, w.dtype)
        x, w = _cast(x, dt), _cast(w, dt)
        if w.shape != x.shape:
            if axis is None:
                raise TypeError(at_user_line(
                    f"average: axis must be specified when shapes of a {x.shape} and weights "
                    f"{w.shape} differ"))
            axes = _normalize_axes(axis, x.ndim)
            if w.shape != tuple(x.shape[ax] for ax in axes):
                raise ValueError(at_user_line(
                    f"average: shape of weights {w.shape} must be consistent with shape of a "
                    f"{x.shape} along axis {axis}"))
            # weights' axes in increasing order, then size-1 axes elsewhere
            w = lax.transpose(w, tuple(int(i) for i in np.argsort(axes)))
            w = reshape(w, tuple(n if i in axes else 1 for i, n in enumerate(x.shape)))
            w = _broadcast(w, x.shape)
        scl = sum(w, axis=axis, keepdims=keepdims)
        known = _concrete(scl)
        if known is not None and np.any(known == 0):
            raise ZeroDivisionError(at_user_line("Weights sum to zero, can't be normalized"))
        avg = true_divide(sum(multiply(x, w), axis=axis, keepdims=keepdims), scl)
    if returned:
        if scl.shape != avg.shape:
            scl = _broadcast(asarray(scl), avg.shape)
        return avg, scl
    return avg


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axes in the order given (``_axes`` sorts), checked for range and duplicates."""
    out = []
    for a in ((axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)):
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(at_user_line(
                f"axis {a} is out of bounds for array of dimension {ndim}"))
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(at_user_line(f"repeated axis in {axis}"))
    return tuple(out)


def _as_2d_vars(m: Any, rowvar: bool, dtype: Any, is_y: bool) -> Any:
    x = _cast(asarray(m), dtype)
    if x.ndim > 2:
        raise ValueError(at_user_line(
            f"cov: {'y' if is_y else 'm'} has more than 2 dimensions (shape {x.shape})"))
    nd = x.ndim
    if nd < 2:
        x = reshape(x, (1, -1) if nd else (1, 1))
    # NumPy's asymmetry: m transposes unless it was 1-D, y unless it has one row.
    if not rowvar and (x.shape[0] != 1 if is_y else nd != 1):
        x = lax.transpose(x, (1, 0))
    return x


def _check_sample_weights(w: Any, name: str, n: int) -> Any:
    w = asarray(w)
    w = _cast(w, np.result_type(w.dtype, np.float64))
    if w.ndim > 1:
        raise ValueError(at_user_line(f"cov: cannot handle multidimensional {name} "
                                      f"(shape {w.shape})"))
    if w.shape[0] != n:
        raise ValueError(at_user_line(
            f"cov: incompatible numbers of samples ({n}) and {name} ({w.shape[0]})"))
    known = _concrete(w)
    if known is not None:
        if name == "fweights" and not np.all(known == np.around(known)):
            raise TypeError(at_user_line("cov: fweights must be integer"))
        if np.any(known < 0):
            raise ValueError(at_user_line(f"cov: {name} cannot be negative"))
    return w


def cov(m: ArrayLike, y: ArrayLike = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: ArrayLike = None, aweights: ArrayLike = None, *,
        dtype: Any = None) -> Any:
    """Covariance matrix, as ``numpy.cov``: rows are variables (columns with
    ``rowvar=False``), normalised by ``N - 1`` (``N`` with ``bias``, ``N - ddof`` with
    ``ddof``), with integer frequency and real analytic weights.

    >>> cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError(at_user_line(f"cov: ddof must be an integer, got {ddof!r}"))
    args = [asarray(m)] + ([] if y is None else [asarray(y)])
    if dtype is None:
        dtype = np.result_type(*(a.dtype for a in args), np.float64)
    x = _as_2d_vars(args[0], rowvar, dtype, False)
    if x.shape[0] == 0:
        return np.array([], dtype).reshape(0, 0)
    if y is not None:
        x = concatenate([x, _as_2d_vars(args[1], rowvar, dtype, True)], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = _check_sample_weights(fweights, "fweights", n)
    aw = None
    if aweights is not None:
        aw = _check_sample_weights(aweights, "aweights", n)
        w = aw if w is None else multiply(w, aw)
    if w is None:
        avg = mean(x, axis=1)
        fact: Any = float(n - ddof)
    else:
        avg, w_sum = average(x, axis=1, weights=w, returned=True)
        w_sum = _getitem(w_sum, 0)
        if ddof == 0:
            fact = w_sum
        elif aw is None:
            fact = subtract(w_sum, ddof)
        else:
            fact = subtract(w_sum, true_divide(multiply(ddof, sum(multiply(w, aw))), w_sum))
    # NumPy warns and divides by zero when the degrees of freedom are not positive.
    fact = builtins.max(fact, 0.0) if isinstance(fact, float) else _where(
        less_equal(fact, 0), 0.0, fact)
    xc = subtract(x, reshape(avg, (-1, 1)))
    xw = xc if w is None else multiply(xc, _cast(w, xc.dtype))
    c = dot(xc, lax.transpose(conjugate(xw), (1, 0)))
    c = true_divide(c, _cast(asarray(fact), c.dtype) if not isinstance(fact, float) else fact)
    return reshape(c, tuple(s for s in c.shape if s != 1))


def corrcoef(x: ArrayLike, y: ArrayLike = None, rowvar: bool = True, *,
             dtype: Any = None) -> Any:
    """Pearson correlation coefficients, as ``numpy.corrcoef``: ``cov`` divided by the outer
    product of the standard deviations, clipped to [-1, 1].

    >>> corrcoef(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]])).round(4)
    array([[ 1.   , -0.982],
           [-0.982,  1.   ]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return true_divide(c, c)
    d = diagonal(c)
    s = sqrt(real(d))
    c = true_divide(true_divide(c, reshape(s, (-1, 1))), reshape(s, (1, -1)))
    if c.dtype.kind == "c":
        return lax.complex(clip(lax.real(c), -1, 1), clip(lax.imag(c), -1, 1))
    return clip(c, -1, 1)


_BROADCAST_SEARCH_MAX = 32  # up to this many points, one broadcast comparison is cheapest


def _count_le(xp: Any, x: Any) -> Any:
    """For sorted 1-D ``xp``: how many ``xp <= x``, for every entry of ``x`` (searchsorted
    with side='right'). A broadcast comparison for short ``xp``; else a branchless binary
    search, ceil(log2(n + 1)) rounds of a gather and a select on ``x``'s shape."""
    n = xp.shape[0]
    if n <= _BROADCAST_SEARCH_MAX:
        return sum(less_equal(xp, reshape(x, (*x.shape, 1))), axis=-1)
    lo: Any = np.zeros(x.shape, np.int64)
    hi: Any = np.full(x.shape, n, np.int64)
    for _ in builtins.range(int(np.ceil(np.log2(n + 1)))):
        mid = lax.div(add(lo, hi), lax.full_like(lo, 2))  # lo <= mid < hi while lo < hi
        go = logical_and(less(mid, hi), less_equal(_getitem(xp, minimum(mid, n - 1)), x))
        lo, hi = _where(go, add(mid, 1), lo), _where(go, hi, mid)
    return lo


# == counting: bincount, histogram ============================================================

def bincount(x: ArrayLike, weights: ArrayLike = None, minlength: int = 0, *,
             length: int | None = None) -> Any:
    """Occurrences of each value in a 1-D array of non-negative ints, as ``numpy.bincount``.

    The output's length depends on the values: ``x`` must be concrete, or ``length=`` (JAX's
    keyword) makes it static; then values ``>= length`` are dropped and (traced) negative
    values count as 0, as in JAX. A concrete negative value raises ValueError, as NumPy.
    Differentiable in ``weights`` (float64, as NumPy); batched by a batched ``scatter_add``.

    >>> bincount(np.array([0, 1, 1, 3]))
    array([1, 2, 0, 1])
    >>> bincount(np.array([0, 1, 1]), weights=np.array([0.5, 1.0, 2.0]), length=4)
    array([0.5, 3. , 0. , 0. ])
    """
    xs = asarray(x)
    if xs.dtype.kind not in "biu":
        raise TypeError(at_user_line(
            f"bincount: x must be an array of non-negative integers, got dtype {xs.dtype}"))
    if xs.ndim != 1:
        raise ValueError(at_user_line(f"bincount: x must be 1-D, got shape {xs.shape}"))
    if minlength < 0:
        raise ValueError(at_user_line(f"bincount: minlength must be non-negative, got "
                                      f"{minlength}"))
    known = _concrete(xs)
    if known is not None and known.size and known.min() < 0:
        raise ValueError(at_user_line("bincount: x must have no negative elements"))
    if length is None:
        if known is None:
            raise FuncgradTypeError(at_user_line(
                "bincount: the output length depends on the values of x, which are traced; "
                "pass length= to make it static"))
        length = builtins.max(int(minlength), int(known.max()) + 1 if known.size else 0)
    length = int(length)
    if weights is None:
        updates: Any = np.ones(xs.shape, np.int64)
    else:
        updates = asarray(weights)
        if updates.shape != xs.shape:
            raise ValueError(at_user_line(
                f"bincount: weights {updates.shape} and x {xs.shape} must have the same shape"))
        updates = _cast(updates, np.result_type(updates.dtype, np.float64))
    xi = _cast(xs, np.int64)
    # Out-of-range values go to an extra slot, cut off below.
    idx = _where(less(xi, length), lax.max(xi, lax.full_like(xi, 0)), length)
    out = lax.scatter_add(np.zeros(length + 1, updates.dtype), updates, idx)
    return _slice(out, 0, length, 0)


def _linspace_edges(lo: Any, hi: Any, n: int, cdt: np.dtype, dt: np.dtype) -> Any:
    """NumPy's ``linspace(lo, hi, n + 1, dtype=dt)`` of traced ends: computed in ``cdt`` (the
    ends' type with a weak float) as ``arange * (delta / n) + lo``, the last edge exactly hi."""
    lo, hi = _cast(asarray(lo), cdt), _cast(asarray(hi), cdt)
    step = true_divide(subtract(hi, lo), n)
    inner = add(multiply(np.arange(n, dtype=cdt), step), lo)
    return _cast(concatenate([inner, reshape(hi, (1,))]), dt)


def histogram_bin_edges(a: ArrayLike, bins: Any = 10, range: Any = None,
                        weights: ArrayLike = None) -> Any:
    """The bin edges ``histogram`` uses, as ``numpy.histogram_bin_edges``: ``bins + 1``
    evenly spaced edges over ``range`` (the data's min and max by default, widened by 0.5
    when they are equal), or ``bins`` itself if it is an array. ``bins`` must be concrete;
    string estimators are not supported (as in JAX).

    >>> histogram_bin_edges(np.array([0.0, 1.0, 4.0]), bins=4)
    array([0., 1., 2., 3., 4.])
    """
    del weights  # only the string estimators use them
    x = ravel(asarray(a))
    if isinstance(bins, str):
        raise NotImplementedError(at_user_line(
            f"histogram: string bins ({bins!r}) are not supported; give a count or the edges"))
    if _ndim(bins) == 1 or isinstance(bins, Tracer):
        edges = asarray(bins)
        if edges.ndim != 1:
            raise ValueError(at_user_line(f"histogram: bins must be 1-D, got {edges.shape}"))
        known = _concrete(edges)
        if known is not None and np.any(np.diff(known) < 0):
            raise ValueError(at_user_line("`bins` must increase monotonically, when an array"))
        return edges
    if _ndim(bins) != 0 or int(bins) != bins or int(bins) < 1:
        raise ValueError(at_user_line(f"`bins` must be a positive integer or a 1-D array, got "
                                      f"{bins!r}"))
    n = int(bins)
    # NumPy's types: the ends as given (the data's min and max in its dtype, or the range's
    # values, Python floats being weak); the edges in result_type(ends, a), integers as
    # float64; linspace computing in the ends' type.
    if range is not None:
        lo, hi = range
    elif x.size == 0:
        lo, hi = 0, 1
    else:
        lo, hi = min(x), max(x)
    dt = result_type(lo, hi, x)
    if dt.kind in "biu":
        dt = np.dtype(np.float64)
    lo_c, hi_c = _concrete(lo), _concrete(hi)
    if lo_c is not None and hi_c is not None:
        if lo_c > hi_c:
            raise ValueError(at_user_line("max must be larger than min in range parameter."))
        if not (np.isfinite(lo_c) and np.isfinite(hi_c)):
            raise ValueError(at_user_line(f"range of [{lo_c}, {hi_c}] is not finite"))
    if not isinstance(lo, Tracer) and not isinstance(hi, Tracer):
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, n + 1, endpoint=True, dtype=dt)
    same = equal(lo, hi)
    lo, hi = _where(same, subtract(lo, 0.5), lo), _where(same, add(hi, 0.5), hi)
    return _linspace_edges(lo, hi, n, result_type(lo, hi, 1.0), dt)


def histogram(a: ArrayLike, bins: Any = 10, range: Any = None, density: bool | None = None,
              weights: ArrayLike = None) -> tuple[Any, Any]:
    """Counts of ``a``'s values in bins, and the bin edges, as ``numpy.histogram`` (bins are
    half-open except the last, which includes its right edge; values outside are dropped).

    With a bin count, each value's bin is computed (NumPy's formula, then corrected by
    comparing with its two edges) and counted by ``scatter_add``: O(a.size). With explicit
    edges, each value's bin is searched among them (a comparison with every edge when there
    are few, else a branchless binary search). Either way it batches under ``vmap`` as
    comparisons, gathers and a batched ``scatter_add``. Differentiable in ``weights``, and
    (through the edges, when ``range`` is None) in ``a`` for ``density=True``.

    >>> histogram(np.array([0.0, 1.0, 1.5, 4.0]), bins=2)
    (array([3, 1]), array([0., 2., 4.]))
    """
    x = ravel(asarray(a))
    edges = histogram_bin_edges(x, bins, range)
    nb = edges.shape[0] - 1
    if nb < 1:
        raise ValueError(at_user_line("histogram: bins must hold at least two edges"))
    if weights is None:
        updates: Any = np.ones(x.shape, np.int64)
    else:
        updates = ravel(asarray(weights))
        if updates.shape != x.shape:
            raise ValueError(at_user_line(
                f"histogram: weights {asarray(weights).shape} must have the shape of a "
                f"{asarray(a).shape}"))
    idx = _uniform_bin(x, edges, nb) if _ndim(bins) == 0 else _bin_by_edges(x, edges, nb)
    counts = _slice(lax.scatter_add(np.zeros(nb + 1, updates.dtype), updates, idx), 0, nb, 0)
    if density:
        widths = _cast(subtract(_slice(edges, 1, nb + 1, 0), _slice(edges, 0, nb, 0)),
                       np.float64)
        counts = true_divide(true_divide(counts, widths), sum(counts))
    return counts, edges


def _uniform_bin(x: Any, edges: Any, nb: int) -> Any:
    """The bin of each value for evenly spaced edges; ``nb`` (a dropped slot) outside them."""
    first, last = _getitem(edges, 0), _getitem(edges, nb)
    keep = logical_and(greater_equal(x, first), less_equal(x, last))  # NaN is in no bin
    xs = _where(keep, x, first)
    f = multiply(subtract(xs, first), true_divide(nb, subtract(last, first)))
    idx = _cast(f, np.int64)
    idx = _where(equal(idx, nb), nb - 1, idx)
    # The rounding of f can miss by one: the two neighbouring edges decide, as in NumPy.
    idx = _where(less(xs, _getitem(edges, idx)), subtract(idx, 1), idx)
    up = logical_and(greater_equal(xs, _getitem(edges, add(idx, 1))), not_equal(idx, nb - 1))
    idx = _where(up, add(idx, 1), idx)
    return _where(keep, idx, nb)


def _bin_by_edges(x: Any, edges: Any, nb: int) -> Any:
    """The bin of each value: ``e[k] <= x < e[k + 1]`` (the last bin closed), else ``nb``."""
    k = subtract(_count_le(edges, x), 1)  # the last edge e[k] <= x
    last = equal(x, _getitem(edges, nb))
    k = _where(last, nb - 1, k)
    inside = logical_and(greater_equal(k, 0), less(k, nb))  # NaN counts no edge: k = -1
    return _where(inside, k, nb)


# == the array API's cumulative functions =====================================================

def _cumulative(scan: Any, identity: int, x: ArrayLike, axis: int | None, dtype: Any,
                include_initial: bool, name: str) -> Any:
    xa = asarray(x)
    if xa.ndim == 0:
        raise ValueError(at_user_line(f"{name}: the input must have at least one dimension"))
    if axis is None:
        if xa.ndim > 1:
            raise ValueError(at_user_line(
                f"{name}: axis must be specified for an input with more than one dimension "
                f"(shape {xa.shape})"))
        axis = 0
    (ax,) = _axes(xa, axis)
    out = scan(xa, axis=ax, dtype=dtype)
    if include_initial:
        shape = tuple(1 if i == ax else n for i, n in enumerate(out.shape))
        out = concatenate([np.full(shape, identity, out.dtype), out], axis=ax)
    return out


def cumulative_sum(x: ArrayLike, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Running sum, as the array API's ``cumulative_sum`` (``include_initial`` prepends 0).

    >>> cumulative_sum(np.array([1, 2, 3]), include_initial=True)
    array([0, 1, 3, 6])
    """
    return _cumulative(cumsum, 0, x, axis, dtype, include_initial, "cumulative_sum")


def cumulative_prod(x: ArrayLike, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Running product, as the array API's ``cumulative_prod`` (``include_initial``
    prepends 1).

    >>> cumulative_prod(np.array([1, 2, 3]), include_initial=True)
    array([1, 1, 2, 6])
    """
    return _cumulative(cumprod, 1, x, axis, dtype, include_initial, "cumulative_prod")


__all__ = [
    "average", "bincount", "corrcoef", "count_nonzero", "cov", "cumulative_prod",
    "cumulative_sum", "histogram", "histogram_bin_edges", "nanargmax", "nanargmin",
    "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum",
    "nanvar",
]
