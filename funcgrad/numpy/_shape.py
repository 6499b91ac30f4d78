"""Shape manipulation: reshape, transposes, broadcasting, joining, splitting, padding,
flips, tiling and rolling."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, ShapeError, at_user_line
from funcgrad.core.tracing import Tracer, full_lower
from funcgrad.numpy._core import (
    ArrayLike,
    _as_tuple,
    _axes,
    _axis_tuple,
    _broadcast,
    _broadcast_shapes,
    _cast,
    asarray,
)
from funcgrad.numpy._indexing import take
from funcgrad.numpy._ufuncs import add, subtract


def _norm_axis(axis: Any, ndim: int, what: str = "axis") -> int:
    """``axis`` in [0, ndim), or NumPy's AxisError (a ValueError and an IndexError): a
    bare ``axis % ndim`` would wrap an out-of-range axis into a silently wrong one."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(at_user_line(
            f"{what}: axis {axis} is out of bounds for array of dimension {ndim}"))
    return a % ndim


def reshape(a: ArrayLike, /, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: bool | None = None) -> Any:
    """``a`` with a new shape (one entry may be -1), as ``numpy.reshape`` (NumPy 2.1's
    signature; ``newshape=`` is its older name). ``copy=False`` is always honoured: a
    row-major reshape never copies.

    >>> reshape(np.arange(6), (2, -1)).shape
    (2, 3)
    """
    if order != "C":
        raise NotImplementedError("only row-major (order='C') reshapes are supported")
    if shape is not None and newshape is not None:
        raise TypeError("reshape: pass the new shape as shape or newshape, not both")
    new = shape if shape is not None else newshape
    if new is None:
        raise TypeError("reshape: the new shape is missing")
    new = _as_tuple(new)
    out = lax.reshape(asarray(a), new)
    return out.copy() if copy and isinstance(out, np.ndarray) else out


def ravel(a: ArrayLike) -> Any:
    return lax.reshape(asarray(a), (-1,))


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Any:
    x = asarray(a)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(
        _norm_axis(p, x.ndim, "transpose") for p in axes)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(at_user_line(f"axes {axes} don't match array of shape {x.shape}"))
    return lax.transpose(x, perm)


def moveaxis(a: ArrayLike, source: Any, destination: Any) -> Any:
    x = asarray(a)
    src = [_norm_axis(s, x.ndim, "source") for s in _axis_tuple(source)]
    dst = [_norm_axis(d, x.ndim, "destination") for d in _axis_tuple(destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(at_user_line(
            f"moveaxis: source {source} and destination {destination} must be sequences of "
            f"distinct axes of the same length"))
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return lax.transpose(x, tuple(order))


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Any:
    x = asarray(a)
    perm = list(range(x.ndim))
    axis1, axis2 = _norm_axis(axis1, x.ndim, "axis1"), _norm_axis(axis2, x.ndim, "axis2")
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return lax.transpose(x, tuple(perm))


def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Any:
    x = asarray(a)
    ndim = x.ndim + len(_axis_tuple(axis))
    axes = [_norm_axis(d, ndim, "expand_dims") for d in _axis_tuple(axis)]
    if len(set(axes)) != len(axes):
        raise ValueError(at_user_line(f"expand_dims: repeated axis in {axis}"))
    return lax.expand_dims(x, tuple(axes))


def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
    return lax.squeeze(x, tuple(_norm_axis(d, x.ndim, "squeeze") for d in _axis_tuple(axis)))


def broadcast_to(a: ArrayLike, shape: Sequence[int]) -> Any:
    x = asarray(a)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    _broadcast_shapes(x.shape, shape)
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ShapeError(at_user_line(f"cannot broadcast an array of shape {x.shape} to "
                                      f"shape {shape}"))
    return _broadcast(x, shape)


def broadcast_arrays(*args: ArrayLike) -> list[Any]:
    arrays = [asarray(a) for a in args]
    shape = _broadcast_shapes(*(a.shape for a in arrays))
    return [_broadcast(a, shape) for a in arrays]


def atleast_1d(a: ArrayLike) -> Any:
    x = asarray(a)
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(a: ArrayLike) -> Any:
    x = atleast_1d(a)
    return reshape(x, (1, *x.shape)) if x.ndim == 1 else x


def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (NumPy promotion across all of them)."""
    arrs = [asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrs, axis = [ravel(a) for a in arrs], 0
    dt = np.result_type(*(a.dtype for a in arrs))
    arrs = [_cast(a, dt) for a in arrs]
    ndim = arrs[0].ndim
    if ndim == 0:
        raise ValueError(at_user_line("zero-dimensional arrays cannot be concatenated"))
    axis = _norm_axis(axis, ndim, "concatenate")
    for a in arrs[1:]:
        if a.ndim != ndim or builtins.any(
                x != y for i, (x, y) in enumerate(zip(a.shape, arrs[0].shape, strict=True))
                if i != axis % ndim):
            raise ShapeError(at_user_line(
                f"concatenate: all input array dimensions except for the concatenation axis "
                f"must match; got shapes {[tuple(x.shape) for x in arrs]} along axis {axis}"))
    return lax.concatenate(arrs, axis % builtins.max(ndim, 1))


def stack(arrays: Sequence[ArrayLike], axis: int = 0) -> Any:
    arrs = [asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("need at least one array to stack")
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise ShapeError(at_user_line(f"stack: all input arrays must have the same shape, "
                                      f"got {sorted(shapes)}"))
    ax = _norm_axis(axis, arrs[0].ndim + 1, "stack")
    return concatenate([expand_dims(a, ax) for a in arrs], ax)


def hstack(arrays: Sequence[ArrayLike]) -> Any:
    arrs = [atleast_1d(a) for a in arrays]
    return concatenate(arrs, 0 if arrs[0].ndim == 1 else 1)


def vstack(arrays: Sequence[ArrayLike]) -> Any:
    return concatenate([atleast_2d(a) for a in arrays], 0)


def split(a: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    x = asarray(a)
    ax = _norm_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ValueError(at_user_line(
                f"array split does not result in an equal division: {n} into "
                f"{indices_or_sections}"))
        step = n // indices_or_sections
        bounds = [i * step for i in range(int(indices_or_sections) + 1)]
    else:
        bounds = split_point_bounds(indices_or_sections, n)
    return split_at(x, bounds, ax)


def split_point_bounds(points: Any, n: int) -> list[int]:
    """Slice bounds of an axis of length ``n`` cut at ``points`` (negative ones count from
    the end, and every bound is clipped to ``[0, n]``, as NumPy)."""
    inner = [builtins.min(i + n if i < 0 else i, n) for i in (int(p) for p in points)]
    return [builtins.max(b, 0) for b in [0, *inner, n]]


def split_at(x: Any, bounds: Sequence[int], ax: int) -> list[Any]:
    """The pieces of ``x`` between consecutive ``bounds`` along axis ``ax`` (empty where a
    bound is below the previous one)."""
    return [lax.slice_in_dim(x, lo, builtins.max(lo, hi), axis=ax)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def _pairs(value: Any, ndim: int, name: str, dtype: Any = np.int64) -> np.ndarray:
    """NumPy's per-axis (before, after) forms: n, (n,), (before, after), ((b, a),), one
    pair per axis; as an ``(ndim, 2)`` array."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim < 2:
        arr = arr.reshape(1, -1)
    try:
        return np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ValueError(at_user_line(
            f"pad: {name} {value!r} cannot be read as (before, after) pairs for {ndim} "
            f"axes")) from None


_PAD_INDEX_MODES = ("edge", "wrap", "reflect", "symmetric")
_PAD_STAT_MODES = {"maximum": "max", "minimum": "min", "mean": "mean"}


def pad(array: ArrayLike, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Padding with NumPy's modes and ``pad_width`` forms, as ``numpy.pad``.

    Modes: ``constant`` (``constant_values``), ``empty`` (zeros), ``edge``, ``wrap``,
    ``reflect`` and ``symmetric`` (``reflect_type`` 'even' or 'odd'), ``linear_ramp``
    (``end_values``), ``maximum``, ``minimum`` and ``mean`` (``stat_length``). Axes are padded
    one after another, so corners come out as NumPy's. All are differentiable in ``array``
    (the index modes are gathers, ``linear_ramp`` and ``mean`` linear maps).

    >>> pad(np.array([1.0, 2.0, 3.0]), 2, mode="reflect")
    array([3., 2., 1., 2., 3., 2., 1.])
    """
    x = asarray(array)
    if np.asarray(pad_width).dtype.kind not in "iu":
        raise FuncgradTypeError(f"`pad_width` must be of integral type, got {pad_width!r}")
    widths = _pairs(pad_width, x.ndim, "pad_width")
    if (widths < 0).any():
        raise ValueError(at_user_line(f"pad: pad_width {pad_width!r} has negative entries"))
    allowed = {"constant": {"constant_values"}, "empty": set(), "edge": set(),
               "wrap": set(), "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "linear_ramp": {"end_values"}, "maximum": {"stat_length"},
               "minimum": {"stat_length"}, "mean": {"stat_length"}}
    if mode not in allowed:
        raise (NotImplementedError if mode == "median" or callable(mode) else ValueError)(
            f"pad: mode {mode!r} is not supported; use one of {sorted(allowed)}")
    unknown = set(kwargs) - allowed[mode]
    if unknown:
        raise ValueError(f"pad: unsupported keyword(s) {sorted(unknown)} for mode {mode!r}")
    if mode in ("constant", "empty"):
        return _pad_constant(x, widths, kwargs.get("constant_values", 0))
    if builtins.any(n == 0 for n, (lo, hi) in zip(x.shape, widths, strict=True) if lo or hi):
        raise ValueError(at_user_line(
            f"pad: can't extend an empty axis with mode {mode!r} (shape {x.shape})"))
    for ax, (lo, hi) in enumerate(widths.tolist()):
        if not lo and not hi:
            continue
        if mode in _PAD_INDEX_MODES:
            x = _pad_axis_index(x, ax, lo, hi, mode, kwargs.get("reflect_type", "even"))
        elif mode == "linear_ramp":
            x = _pad_axis_ramp(x, ax, lo, hi, kwargs.get("end_values", 0))
        else:
            x = _pad_axis_stat(x, ax, lo, hi, mode, kwargs.get("stat_length"))
    return x


def _pad_constant(x: Any, widths: np.ndarray, constant_values: Any) -> Any:
    config = [(int(lo), int(hi), 0) for lo, hi in widths]
    if isinstance(constant_values, Tracer):
        # lax.pad's value is static; a traced one (which may carry a derivative) is added
        # around x - v padded with zeros: x inside, v outside.
        v = asarray(constant_values, x.dtype)
        if v.ndim:
            raise NotImplementedError("pad: a traced constant_values must be a scalar")
        return add(lax.pad(subtract(x, v), 0, config), v)
    values = np.asarray(constant_values)
    if values.ndim == 0 or values.size == 1:
        return lax.pad(x, values.astype(x.dtype).item(), config)
    # Per-axis (before, after) values: pad with 0, then fill each axis's bands in turn (later
    # axes overwrite the corners, as NumPy).
    pairs = _pairs(values, x.ndim, "constant_values", dtype=None)
    out = lax.pad(x, 0, config)
    for ax, (lo, hi) in enumerate(widths.tolist()):
        n = out.shape[ax]
        pos = np.arange(n).reshape((-1,) + (1,) * (out.ndim - ax - 1))
        band = np.where(pos < lo, pairs[ax, 0], np.where(pos >= n - hi, pairs[ax, 1], 0))
        inside = (pos >= lo) & (pos < n - hi)
        from funcgrad.numpy._ufuncs import where
        out = where(inside, out, band.astype(x.dtype))
    return out


def _pad_axis_index(x: Any, ax: int, lo: int, hi: int, mode: str, reflect_type: str) -> Any:
    n = x.shape[ax]
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    if reflect_type == "even" or mode in ("edge", "wrap"):
        # NumPy's own padding of the positions says which element each output takes.
        idx = np.pad(np.arange(n), (lo, hi), mode=mode)  # type: ignore[call-overload]
        return take(x, idx, axis=ax)
    # Odd reflection is linear, 2 * edge - mirror image: its matrix is NumPy's padding of the
    # identity's columns.
    mat = np.pad(np.eye(n, dtype=x.dtype), ((lo, hi), (0, 0)),  # type: ignore[call-overload]
                 mode=mode, reflect_type="odd")
    from funcgrad.numpy._products import tensordot
    return moveaxis(tensordot(mat, x, axes=([1], [ax])), 0, ax)


def _pad_axis_ramp(x: Any, ax: int, lo: int, hi: int, end_values: Any) -> Any:
    from funcgrad.numpy._ufuncs import multiply
    n = x.shape[ax]
    ends = _pairs(end_values, x.ndim, "end_values", dtype=None)
    shape = [1] * x.ndim

    def ramp(width: int, edge: Any, end: Any, reverse: bool) -> Any:
        # NumPy's linspace(end, edge, width, endpoint=False): end + (edge - end) * i / width.
        shape[ax] = width
        frac = (np.arange(width, dtype=np.float64) / builtins.max(width, 1))
        frac = frac[::-1] if reverse else frac
        dt = x.dtype if x.dtype.kind in "fc" else np.float64
        part = add(end, multiply(subtract(_cast(edge, dt), end),
                                 frac.astype(dt).reshape(shape)))
        if x.dtype.kind in "iu":
            from funcgrad.numpy._ufuncs import floor
            part = floor(part)  # NumPy's integer linspace rounds down
        return _cast(part, x.dtype)

    pieces = []
    if lo:
        pieces.append(ramp(lo, lax.slice_in_dim(x, 0, 1, axis=ax), ends[ax, 0].item(), False))
    pieces.append(x)
    if hi:
        pieces.append(ramp(hi, lax.slice_in_dim(x, n - 1, n, axis=ax), ends[ax, 1].item(),
                           True))
    return concatenate(pieces, ax)


def _pad_axis_stat(x: Any, ax: int, lo: int, hi: int, mode: str, stat_length: Any) -> Any:
    from funcgrad.numpy import _reductions
    n = x.shape[ax]
    lengths = (np.array([[n, n]] * x.ndim) if stat_length is None
               else _pairs(stat_length, x.ndim, "stat_length"))
    reduce = getattr(_reductions, _PAD_STAT_MODES[mode])

    def stat(part: Any, width: int) -> Any:
        v = reduce(part, axis=ax, keepdims=True)
        if mode == "mean" and x.dtype.kind in "iu":
            from funcgrad.numpy._ufuncs import round as _round
            v = _round(v)  # NumPy rounds an integer mean to the nearest integer
        v = _cast(v, x.dtype)
        return _broadcast(v, (*x.shape[:ax], width, *x.shape[ax + 1:]))

    pieces = []
    if lo:
        k = builtins.max(1, builtins.min(int(lengths[ax, 0]), n))
        pieces.append(stat(lax.slice_in_dim(x, 0, k, axis=ax), lo))
    pieces.append(x)
    if hi:
        k = builtins.max(1, builtins.min(int(lengths[ax, 1]), n))
        pieces.append(stat(lax.slice_in_dim(x, n - k, n, axis=ax), hi))
    return concatenate(pieces, ax)


def flip(m: ArrayLike, axis: Any = None) -> Any:
    x = asarray(m)
    return lax.rev(x, _axes(x, axis))


def fliplr(m: ArrayLike) -> Any:
    return flip(m, 1)


def flipud(m: ArrayLike) -> Any:
    return flip(m, 0)


def rot90(m: ArrayLike, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    x = asarray(m)
    k %= 4
    a0, a1 = axes
    if x.ndim < 2 or _norm_axis(a0, x.ndim, "rot90") == _norm_axis(a1, x.ndim, "rot90"):
        raise FuncgradValueError(f"rot90: axes {axes} must be two different axes of an array "
                                 f"of at least two dimensions, got shape {x.shape}")
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    if k == 1:
        return swapaxes(flip(x, a1), a0, a1)
    return flip(swapaxes(x, a0, a1), a1)


def tile(a: ArrayLike, reps: Any) -> Any:
    x = asarray(a)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = builtins.max(x.ndim, len(reps))
    x = reshape(x, (1,) * (nd - x.ndim) + x.shape)
    reps = (1,) * (nd - len(reps)) + reps
    # Broadcast to (r0, n0, r1, n1, ...) then merge pairs.
    inter = tuple(v for r, n in zip(reps, x.shape, strict=True) for v in (r, n))
    b = lax.broadcast_in_dim(x, inter, tuple(range(1, 2 * nd, 2)))
    return reshape(b, tuple(r * n for r, n in zip(reps, x.shape, strict=True)))


def repeat(a: ArrayLike, repeats: Any, axis: int | None = None) -> Any:
    x = asarray(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _norm_axis(axis, x.ndim, "repeat")
    reps = full_lower(repeats)
    if isinstance(reps, Tracer):
        raise NotImplementedError("repeat: repeats must be concrete")
    reps = np.asarray(reps)
    if reps.ndim == 0:
        r = int(reps)
        b = lax.broadcast_in_dim(x, (*x.shape[:ax + 1], r, *x.shape[ax + 1:]),
                                 (*range(ax + 1), *range(ax + 2, x.ndim + 1)))
        return reshape(b, (*x.shape[:ax], x.shape[ax] * r, *x.shape[ax + 1:]))
    return take(x, np.repeat(np.arange(x.shape[ax]), reps), axis=ax)


def roll(a: ArrayLike, shift: Any, axis: Any = None) -> Any:
    x = asarray(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts, axes = _as_tuple(shift), _as_tuple(axis)
    try:
        pairs = np.broadcast(np.asarray(shifts), np.asarray(axes))
    except ValueError:
        raise ValueError(at_user_line(f"roll: shift {shift} and axis {axis} do not match")
                         ) from None
    for s, ax in ((int(s), int(a)) for s, a in pairs):
        ax = _norm_axis(ax, x.ndim, "roll")
        n = x.shape[ax]
        if n == 0:
            continue
        s %= n
        if s:
            x = concatenate([lax.slice_in_dim(x, n - s, n, axis=ax),
                             lax.slice_in_dim(x, 0, n - s, axis=ax)], ax)
    return x
