"""Statistics and numerical calculus: the nan-reductions, ``average``, ``cov``, ``corrcoef``,
``bincount``, ``histogram``, the array API's cumulative functions, ``convolve``/``correlate``,
``polyval``, ``polyfit``, ``trapezoid``, ``interp``, ``gradient``, ``diff`` and ``ediff1d``.

Every function here is a composite of existing primitives (``select`` for the nan masks,
comparisons and ``reduce_sum`` for counting, ``gather``/``scatter_add`` for indexing), so
each differentiates, batches under ``vmap`` and stages under ``make_jaxpr``/``jit`` through
the rules of those primitives. Where NumPy's output shape depends on values (``bincount``,
``histogram``), the shape-determining argument must be concrete, as in JAX.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
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
    abs,
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
    logical_or,
    minimum,
    multiply,
    not_equal,
    real,
    remainder,
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
        scl = np.asarray(x.size / builtins.max(int(np.prod(avg.shape)), 1), avg.dtype)
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
    "average", "bincount", "convolve", "corrcoef", "correlate", "count_nonzero", "cov",
    "cumulative_prod", "cumulative_sum", "diff", "ediff1d", "gradient", "histogram",
    "histogram_bin_edges", "interp", "nanargmax", "nanargmin", "nancumprod", "nancumsum",
    "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "polyfit",
    "polyval", "trapezoid",
]
