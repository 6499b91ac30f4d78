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


def reshape(a: ArrayLike, newshape: Any = None, order: str = "C", *, shape: Any = None) -> Any:
    if order != "C":
        raise NotImplementedError("only row-major (order='C') reshapes are supported")
    new = shape if shape is not None else newshape
    new = _as_tuple(new)
    return lax.reshape(asarray(a), new)


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
    for d, s in sorted(zip(dst, src)):
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
                x != y for i, (x, y) in enumerate(zip(a.shape, arrs[0].shape))
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
        # Split points are slice bounds: negative ones count from the end, as NumPy.
        points = [int(i) for i in indices_or_sections]
        bounds = [0, *[builtins.min(i + n if i < 0 else i, n) for i in points], n]
        bounds = [builtins.max(b, 0) for b in bounds]
    return [lax.slice_in_dim(x, lo, builtins.max(lo, hi), axis=ax)
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def pad(array: ArrayLike, pad_width: Any, mode: str = "constant",
        constant_values: Any = 0) -> Any:
    """Constant padding (``mode='constant'``), with NumPy's ``pad_width`` forms."""
    x = asarray(array)
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r}: only 'constant' is supported")
    if np.asarray(pad_width).dtype.kind not in "iu":
        raise FuncgradTypeError(f"`pad_width` must be of integral type, got {pad_width!r}")
    width_arr = np.asarray(pad_width, dtype=np.int64)
    # NumPy's forms: n, (n,), (before, after), ((before, after),), one pair per axis.
    if width_arr.ndim < 2:
        width_arr = width_arr.reshape(1, -1)
    widths = np.broadcast_to(width_arr, (x.ndim, 2))
    config = [(int(lo), int(hi), 0) for lo, hi in widths]
    if isinstance(constant_values, Tracer):
        # lax.pad's value is static; a traced one (which may carry a derivative) is added
        # around x - v padded with zeros: x inside, v outside.
        v = asarray(constant_values, x.dtype)
        if v.ndim:
            raise NotImplementedError("pad: constant_values must be a scalar")
        return add(lax.pad(subtract(x, v), 0, config), v)
    return lax.pad(x, np.asarray(constant_values, x.dtype).item(), config)


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
    inter = tuple(v for r, n in zip(reps, x.shape) for v in (r, n))
    b = lax.broadcast_in_dim(x, inter, tuple(range(1, 2 * nd, 2)))
    return reshape(b, tuple(r * n for r, n in zip(reps, x.shape)))


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
