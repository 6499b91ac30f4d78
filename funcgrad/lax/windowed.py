"""Windowed reductions (pooling): ``reduce_window_sum``, ``reduce_window_max``, and the pair of
primitives that route max-pooling gradients, ``select_and_scatter_add`` /
``select_and_gather_add``.

Every primitive here takes ``window_dimensions``, ``window_strides`` and ``padding`` (one
``(low, high)`` pair per axis, negative crops) over *all* axes of the operand, as XLA; pooling
over NCHW uses windows of 1 on N and C. Padding contributes 0 to sums and -inf to maxima.

Gradient rules (the seeds' pooling rules):

- ``reduce_window_sum`` is linear; its transpose upsamples: the cotangent, dilated by the
  stride and padded, summed over windows again (``pad`` + ``reduce_window_sum``), so
  overlapping windows add up. Average pooling is this divided by the window size.
- ``reduce_window_max`` sends each window's cotangent, whole, to exactly one position: the
  window's *first* maximum in row-major order. Ties are never split or duplicated, and
  overlapping windows accumulate (``select_and_scatter_add``). Its JVP gathers the tangent at the
  same position (``select_and_gather_add``); the two are each other's transpose, so second
  derivatives work.

Impls work on strided views, with one vectorised NumPy operation per window offset and never
a loop over output elements.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import ShapeError
from funcgrad.core.primitive import Primitive
from funcgrad.lax import workspace
from funcgrad.lax.conv import padtype_to_pads
from funcgrad.lax.elementwise import _UINT_OF_SIZE, select_impl
from funcgrad.lax.structural import broadcast_in_dim, pad, pad_p, reshape
from funcgrad.transforms import ad, batching, codegen

Pads = tuple[tuple[int, int], ...]


# == shapes and window taps ===================================================================

def _window_out_shape(shape: Sequence[int], window_dimensions: Sequence[int],
                      window_strides: Sequence[int], padding: Pads) -> tuple[int, ...]:
    return tuple(max(0, (n + lo + hi - k) // s + 1)
                 for n, k, s, (lo, hi) in zip(shape, window_dimensions, window_strides, padding,
                                              strict=True))


def _check_window(x: ShapedArray, window_dimensions: tuple[int, ...],
                  window_strides: tuple[int, ...], padding: Pads, name: str) -> None:
    n = x.ndim
    if not len(window_dimensions) == len(window_strides) == len(padding) == n:
        raise ShapeError(f"{name}: window_dimensions {window_dimensions}, window_strides "
                         f"{window_strides} and padding {padding} need one entry per axis of "
                         f"the operand {x.shape}")
    if any(k < 1 for k in window_dimensions) or any(s < 1 for s in window_strides):
        raise ValueError(f"{name}: window dimensions and strides must be positive, got "
                         f"{window_dimensions} and {window_strides}")


def _window_abstract_eval(x: ShapedArray, *, window_dimensions: tuple[int, ...],
                          window_strides: tuple[int, ...], padding: Pads,
                          name: str = "reduce_window") -> ShapedArray:
    _check_window(x, window_dimensions, window_strides, padding, name)
    return ShapedArray(_window_out_shape(x.shape, window_dimensions, window_strides, padding),
                       x.dtype, x.weak_type)


def _pad_with(x: np.ndarray, padding: Pads, value: Any) -> np.ndarray:
    if all(p == (0, 0) for p in padding):
        return x
    return pad_p.impl(x, padding_config=tuple((lo, hi, 0) for lo, hi in padding),
                      padding_value=value)


def _unpad(x: np.ndarray, padding: Pads) -> np.ndarray:
    return _pad_with(x, tuple((-lo, -hi) for lo, hi in padding), 0)


def _taps(xp: np.ndarray, window_dimensions: Sequence[int], window_strides: Sequence[int],
          out_shape: Sequence[int]) -> Iterator[tuple[int, tuple[slice, ...]]]:
    """(flat index, slices of ``xp``) per window offset: tap ``j`` of every window at once."""
    offsets = itertools.product(*(range(k) for k in window_dimensions))
    for j, offset in enumerate(offsets):
        yield j, tuple(slice(o, o + (m - 1) * s + 1, s)
                       for o, m, s in zip(offset, out_shape, window_strides, strict=True))


def _min_value(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    if dtype.kind == "b":
        return False
    raise TypeError(f"reduce_window_max: unsupported dtype {dtype}")


def _over_rows(fn: Callable[[int, int], None], xp: np.ndarray,
               window_dimensions: tuple[int, ...], window_strides: tuple[int, ...],
               padding: Pads) -> None:
    """``fn(lo, hi)`` for row ranges covering the leading axis of ``xp``: in chunks on
    codegen's threads when ``xp`` is large and no window spans that axis (the strided ufuncs
    release the GIL; each chunk writes its own rows: the single-thread bits), else once."""
    rows = xp.shape[0]
    if window_dimensions[0] == 1 and window_strides[0] == 1 and padding[0] == (0, 0):
        codegen.parallel_chunks(fn, rows, xp.nbytes)
    else:
        fn(0, rows)


def _combine_taps(xp: np.ndarray, window_dimensions: tuple[int, ...],
                  window_strides: tuple[int, ...], combine: Callable[..., Any],
                  out: np.ndarray) -> None:
    taps = [sl for _, sl in _taps(xp, window_dimensions, window_strides, out.shape)]
    if len(taps) == 1:
        np.copyto(out, xp[taps[0]])
        return
    combine(xp[taps[0]], xp[taps[1]], out=out)  # the first two taps straight into the output
    for sl in taps[2:]:
        combine(out, xp[sl], out=out)


def _reduce_taps(x: np.ndarray, window_dimensions: tuple[int, ...],
                 window_strides: tuple[int, ...], padding: Pads, init: Any,
                 combine: Callable[..., Any]) -> np.ndarray:
    out_shape = _window_out_shape(x.shape, window_dimensions, window_strides, padding)
    if 0 in out_shape:
        return np.zeros(out_shape, x.dtype)
    xp = _pad_with(x, padding, init)
    out = workspace.empty(out_shape, xp.dtype)
    if not xp.ndim:
        np.copyto(out, xp)
        return out
    _over_rows(lambda lo, hi: _combine_taps(xp[lo:hi], window_dimensions, window_strides,
                                            combine, out[lo:hi]),
               xp, window_dimensions, window_strides, padding)
    return out


def _first_argmax(xp: np.ndarray, window_dimensions: tuple[int, ...],
                  window_strides: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """Per window, the flat (row-major) index of its first maximum."""
    best: np.ndarray | None = None
    k = math.prod(window_dimensions)
    idx = np.zeros(out_shape, np.uint8 if k <= 256 else np.int64)
    for j, sl in _taps(xp, window_dimensions, window_strides, out_shape):
        v = xp[sl]
        if best is None:
            best = v.copy()
            continue
        better = v > best   # strict: an equal later value never takes over (first max wins)
        # Branchless selects: a max pool's masks are random, where np.copyto(where=) and
        # np.where mispredict on every other element.
        best = select_impl(better, v, best)
        idx = select_impl(better, np.broadcast_to(idx.dtype.type(j), idx.shape), idx)
    return idx


_MASK_TAPS = 16   # windows up to this many taps route gradients by masks, not an argmax


def _maxima_for_masks(xp: np.ndarray, window_dimensions: tuple[int, ...],
                      window_strides: tuple[int, ...], out_shape: tuple[int, ...],
                      maxima: np.ndarray | None = None) -> np.ndarray | None:
    """The window maxima to mask the taps against, or None when masks cannot route exactly.

    The maxima are the forward's output when given (``maxima``, saved by the forward), else
    recomputed (the forward's strided ``np.maximum``); ``_mask_stream`` then takes a tap where
    it equals its window's maximum and no earlier tap was. Without NaNs that is exactly
    ``_first_argmax(...) == j`` (equal values, -0.0 and +0.0 included, compare equal under
    both ``==`` and the argmax's strict ``>``); with a NaN, or a large window, None and the
    caller uses the argmax.
    """
    if math.prod(window_dimensions) > _MASK_TAPS:
        return None
    if maxima is not None:
        best = maxima
    else:
        best = _reduce_taps(xp, window_dimensions, window_strides,
                            ((0, 0),) * xp.ndim, None, np.maximum)
    if best.dtype.kind in "fc" and np.isnan(best).any():
        return None
    return best


def _mask_stream(xp: np.ndarray, window_dimensions: tuple[int, ...],
                 window_strides: tuple[int, ...], best: np.ndarray
                 ) -> Iterator[tuple[tuple[slice, ...], np.ndarray]]:
    """Per tap, its slices of ``xp`` and where it is its window's first maximum (``best``
    from ``_maxima_for_masks``). Each mask is valid only until the next is asked for (the
    buffers are reused: no copies)."""
    taps = [sl for _, sl in _taps(xp, window_dimensions, window_strides, best.shape)]
    taken = xp[taps[0]] == best
    yield taps[0], taken
    if len(taps) == 1:
        return
    m = np.empty_like(taken)
    for sl in taps[1:-1]:
        np.equal(xp[sl], best, out=m)
        np.greater(m, taken, out=m)    # m & ~taken, in one pass
        yield sl, m
        taken |= m
    np.logical_not(taken, out=m)       # no NaN: every window has its maximum somewhere
    yield taps[-1], m


# == reduce_window_sum ========================================================================

reduce_window_sum_p = Primitive("reduce_window_sum")


def _reduce_window_sum_impl(x: np.ndarray, *, window_dimensions: tuple[int, ...],
                            window_strides: tuple[int, ...], padding: Pads) -> np.ndarray:
    return _reduce_taps(x, window_dimensions, window_strides, padding, 0, np.add)


reduce_window_sum_p.def_impl(_reduce_window_sum_impl)
reduce_window_sum_p.def_abstract_eval(_window_abstract_eval)
codegen.def_impl_call(reduce_window_sum_p)


def _upsample_pads(in_shape: Sequence[int], window_dimensions: Sequence[int],
                   window_strides: Sequence[int], out_shape: Sequence[int],
                   padding: Pads) -> list[tuple[int, int, int]]:
    # The cotangent dilated by the stride, padded so every window of the result covers the
    # outputs that read it: k - 1 - lo below, and what restores the input's size above.
    config = []
    for n, k, s, m, (lo, _) in zip(in_shape, window_dimensions, window_strides, out_shape,
                                   padding, strict=True):
        before = k - lo - 1
        dilated = 0 if m == 0 else (m - 1) * s + 1
        config.append((before, n + k - 1 - dilated - before, s - 1))
    return config


def _reduce_window_sum_transpose(ct: Any, x: Any, *, window_dimensions: tuple[int, ...],
                                 window_strides: tuple[int, ...], padding: Pads) -> list[Any]:
    in_shape = get_aval(x).shape
    out_shape = get_aval(ct).shape
    if window_strides == window_dimensions and 0 not in out_shape:
        # Windows tile the padded operand: each cotangent is copied to its k positions, one
        # axis at a time from the innermost (a broadcast view and the reshape's copy; the
        # outer axes then copy whole rows), and the padding is cropped.
        up, shape = ct, list(out_shape)
        for ax in reversed(range(len(shape))):
            k = window_dimensions[ax]
            if k == 1:
                continue
            up = broadcast_in_dim(up, [*shape[:ax + 1], k, *shape[ax + 1:]],
                                  [*range(ax + 1), *range(ax + 2, len(shape) + 1)])
            shape[ax] *= k
            up = reshape(up, shape)
        return [pad(up, 0, [(-lo, n + lo - m * k, 0) for n, m, k, (lo, _) in
                            zip(in_shape, out_shape, window_dimensions, padding, strict=True)])]
    config = _upsample_pads(in_shape, window_dimensions, window_strides, get_aval(ct).shape,
                            padding)
    padded = pad(ct, 0, config)
    ones = (1,) * len(in_shape)
    return [reduce_window_sum_p.bind(padded, window_dimensions=window_dimensions,
                                     window_strides=ones, padding=((0, 0),) * len(in_shape))]


def _window_batch(prim: Primitive) -> Callable[..., tuple[Any, int]]:
    """Batch axis to the front, with a window of 1 over it."""
    def rule(args: Sequence[Any], dims: Sequence[Any], *, window_dimensions: tuple[int, ...],
             window_strides: tuple[int, ...], padding: Pads) -> tuple[Any, int]:
        size = next(get_aval(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
        xs = [batching.bdim_at_front(a, d, size) for a, d in zip(args, dims, strict=True)]
        return prim.bind(*xs, window_dimensions=(1, *window_dimensions),
                         window_strides=(1, *window_strides), padding=((0, 0), *padding)), 0
    return rule


ad.deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)
batching.batch_rules[reduce_window_sum_p] = _window_batch(reduce_window_sum_p)


# == reduce_window_max ========================================================================

reduce_window_max_p = Primitive("reduce_window_max")


def _reduce_window_max_impl(x: np.ndarray, *, window_dimensions: tuple[int, ...],
                            window_strides: tuple[int, ...], padding: Pads) -> np.ndarray:
    return _reduce_taps(x, window_dimensions, window_strides, padding, _min_value(x.dtype),
                        np.maximum)


reduce_window_max_p.def_impl(_reduce_window_max_impl)
reduce_window_max_p.def_abstract_eval(_window_abstract_eval)
codegen.def_impl_call(reduce_window_max_p)


# The forward's maxima ride along as the optional third operand: the backward masks the taps
# against them (one strided == per tap) instead of recomputing them.
def _reduce_window_max_jvp(t: Any, ans: Any, x: Any, **params: Any) -> Any:
    return select_and_gather_add_p.bind(t, x, ans, **params)


def _reduce_window_max_vjp(ct: Any, ans: Any, x: Any, **params: Any) -> Any:
    return select_and_scatter_add_p.bind(ct, x, ans, **params)


ad.defjvp(reduce_window_max_p, _reduce_window_max_jvp)
ad.defvjp(reduce_window_max_p, _reduce_window_max_vjp)
batching.batch_rules[reduce_window_max_p] = _window_batch(reduce_window_max_p)


# == select_and_scatter_add / select_and_gather_add ===========================================
# Both are linear in their first argument and piecewise constant in ``operand`` (which only
# chooses the positions), and each is the other's transpose.

select_and_scatter_add_p = Primitive("select_and_scatter_add")
select_and_gather_add_p = Primitive("select_and_gather_add")


def _select_and_scatter_add_impl(source: np.ndarray, operand: np.ndarray, *maxima: np.ndarray,
                                 window_dimensions: tuple[int, ...],
                                 window_strides: tuple[int, ...], padding: Pads) -> np.ndarray:
    """``source`` (one value per window) added at each window's first maximum of ``operand``;
    ``maxima``, when given, is ``reduce_window_max(operand)`` saved by the forward."""
    out_shape = source.shape
    if 0 in out_shape:
        return np.zeros(operand.shape, source.dtype)
    if not operand.ndim:  # one window of one element: it takes the source (0 + source)
        return np.asarray(np.add(source.dtype.type(0), source))
    xp = _pad_with(operand, padding, _min_value(operand.dtype))
    best = _maxima_for_masks(xp, window_dimensions, window_strides, out_shape,
                             maxima[0] if maxima else None)
    uint = _UINT_OF_SIZE.get(source.dtype.itemsize)
    disjoint = all(s >= k for k, s in zip(window_dimensions, window_strides, strict=True))
    if best is not None and disjoint and uint is not None and source.dtype.kind in "fiu":
        # Each position is written by at most one window: write 0 + (source where taken,
        # else 0) straight into the tap's view (the same bits as zeros += select), with the
        # select as a bit mask (branchless; unlike source * mask, an inf or NaN source not
        # taken gives 0).
        covered = all(s == k and m * k == n for n, k, s, m in zip(xp.shape, window_dimensions,
                                                                  window_strides, out_shape,
                                                                      strict=True))
        buf = workspace.empty(xp.shape, source.dtype)
        shifted = workspace.empty(out_shape, source.dtype)

        def rows(lo: int, hi: int) -> None:
            if not covered:
                buf[lo:hi] = 0
            # 0 + source once (what zeros += source gives where taken: -0.0 becomes +0.0),
            # then per tap its bits times the 0/1 mask: the taken bits, or those of +0.0.
            bits = np.add(source.dtype.type(0), source[lo:hi], out=shifted[lo:hi]).view(uint)
            chunk = buf[lo:hi]
            for sl, m in _mask_stream(xp[lo:hi], window_dimensions, window_strides,
                                      best[lo:hi]):
                np.multiply(bits, m, out=chunk[sl].view(uint))

        _over_rows(rows, xp, window_dimensions, window_strides, padding)
        return _unpad(buf, padding)
    buf = np.zeros(xp.shape, source.dtype)
    zero = np.broadcast_to(np.zeros((), source.dtype), source.shape)
    masks: Iterator[tuple[tuple[slice, ...], np.ndarray]]
    if best is None:
        idx = _first_argmax(xp, window_dimensions, window_strides, out_shape)
        masks = iter([(sl, idx == j) for j, sl in _taps(xp, window_dimensions,
                                                        window_strides, out_shape)])
    else:
        masks = _mask_stream(xp, window_dimensions, window_strides, best)
    for sl, m in masks:
        buf[sl] += select_impl(m, source, zero)
    return _unpad(buf, padding)


def _select_and_gather_add_impl(tangent: np.ndarray, operand: np.ndarray, *maxima: np.ndarray,
                                window_dimensions: tuple[int, ...],
                                window_strides: tuple[int, ...], padding: Pads) -> np.ndarray:
    """Per window, ``tangent`` at the window's first maximum of ``operand`` (``maxima``, when
    given, is ``reduce_window_max(operand)``)."""
    out_shape = _window_out_shape(operand.shape, window_dimensions, window_strides, padding)
    if 0 in out_shape:
        return np.zeros(out_shape, tangent.dtype)
    xp = _pad_with(operand, padding, _min_value(operand.dtype))
    tp = _pad_with(tangent, padding, 0)
    out = np.zeros(out_shape, tangent.dtype)
    best = _maxima_for_masks(xp, window_dimensions, window_strides, out_shape,
                             maxima[0] if maxima else None)
    if best is None:
        idx = _first_argmax(xp, window_dimensions, window_strides, out_shape)
        for j, sl in _taps(tp, window_dimensions, window_strides, out_shape):
            np.copyto(out, tp[sl], where=idx == j)
        return out
    # the masks' taps are slices of xp, which has tp's shape
    for sl, m in _mask_stream(xp, window_dimensions, window_strides, best):
        np.copyto(out, tp[sl], where=m)
    return out


def _check_maxima(maxima: Sequence[ShapedArray], want: tuple[int, ...], operand: ShapedArray,
                  name: str) -> None:
    if len(maxima) > 1 or (maxima and (maxima[0].shape != want
                                       or maxima[0].dtype != operand.dtype)):
        got = [(m.shape, str(m.dtype)) for m in maxima]
        raise ShapeError(f"{name}: the optional maxima operand must be one array of the "
                         f"windowed shape {want} and dtype {operand.dtype} of operand "
                         f"{operand.shape}, got {got}")


def _select_and_scatter_add_abstract_eval(source: ShapedArray, operand: ShapedArray,
                                          *maxima: ShapedArray,
                                          window_dimensions: tuple[int, ...],
                                          window_strides: tuple[int, ...], padding: Pads
                                          ) -> ShapedArray:
    _check_window(operand, window_dimensions, window_strides, padding, "select_and_scatter_add")
    want = _window_out_shape(operand.shape, window_dimensions, window_strides, padding)
    if source.shape != want:
        raise ShapeError(f"select_and_scatter_add: source shape {source.shape} must be the "
                         f"windowed shape {want} of operand {operand.shape}")
    _check_maxima(maxima, want, operand, "select_and_scatter_add")
    return ShapedArray(operand.shape, source.dtype, source.weak_type)


def _select_and_gather_add_abstract_eval(tangent: ShapedArray, operand: ShapedArray,
                                         *maxima: ShapedArray,
                                         window_dimensions: tuple[int, ...],
                                         window_strides: tuple[int, ...], padding: Pads
                                         ) -> ShapedArray:
    if tangent.shape != operand.shape:
        raise ShapeError(f"select_and_gather_add: tangent {tangent.shape} and operand "
                         f"{operand.shape} must have the same shape")
    out = _window_abstract_eval(operand, window_dimensions=window_dimensions,
                                window_strides=window_strides, padding=padding,
                                name="select_and_gather_add")
    _check_maxima(maxima, out.shape, operand, "select_and_gather_add")
    return ShapedArray(out.shape, tangent.dtype, tangent.weak_type)


select_and_scatter_add_p.def_impl(_select_and_scatter_add_impl)
select_and_scatter_add_p.def_abstract_eval(_select_and_scatter_add_abstract_eval)
codegen.def_impl_call(select_and_scatter_add_p)
select_and_gather_add_p.def_impl(_select_and_gather_add_impl)
select_and_gather_add_p.def_abstract_eval(_select_and_gather_add_abstract_eval)
codegen.def_impl_call(select_and_gather_add_p)

# ``maxima`` (optional third operand) only chooses positions, like ``operand``.
ad.defjvp(select_and_scatter_add_p,
          lambda t, ans, source, operand, *maxima, **p:
          select_and_scatter_add_p.bind(t, operand, *maxima, **p), None, None)
ad.defvjp(select_and_scatter_add_p,
          lambda ct, ans, source, operand, *maxima, **p:
          select_and_gather_add_p.bind(ct, operand, *maxima, **p), None, None)
ad.defjvp(select_and_gather_add_p,
          lambda t, ans, tangent, operand, *maxima, **p:
          select_and_gather_add_p.bind(t, operand, *maxima, **p), None, None)
ad.defvjp(select_and_gather_add_p,
          lambda ct, ans, tangent, operand, *maxima, **p:
          select_and_scatter_add_p.bind(ct, operand, *maxima, **p), None, None)
batching.batch_rules[select_and_scatter_add_p] = _window_batch(select_and_scatter_add_p)
batching.batch_rules[select_and_gather_add_p] = _window_batch(select_and_gather_add_p)


# == public wrappers ==========================================================================

def _window_params(operand: Any, window_dimensions: Sequence[int],
                   window_strides: Sequence[int] | None, padding: str | Sequence[Any]
                   ) -> dict[str, Any]:
    shape = get_aval(operand).shape
    dims = tuple(int(k) for k in window_dimensions)
    strides = (1,) * len(dims) if window_strides is None else tuple(int(s) for s in
                                                                     window_strides)
    if isinstance(padding, str):
        pads = padtype_to_pads(shape, dims, strides, padding)
    else:
        pads = tuple((int(p[0]), int(p[1])) for p in padding)
    if not len(dims) == len(strides) == len(pads) == len(shape):
        raise ShapeError(f"reduce_window: window_dimensions {dims}, window_strides {strides} "
                         f"and padding {pads} need one entry per axis of the operand {shape}")
    params: dict[str, Any] = {"window_dimensions": dims, "window_strides": strides,
                              "padding": pads}
    _window_abstract_eval(get_aval(operand), **params)
    return params


def reduce_window_sum(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: str | Sequence[tuple[int, int]] = "VALID") -> Any:
    """Sum over sliding windows (padding counts as 0).

    Args:
      operand: the array to pool; windows run over every axis.
      window_dimensions: window size per axis (1 on axes not pooled).
      window_strides: stride per axis (default 1).
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.

    Returns:
      One value per window position.

    >>> import numpy as np
    >>> reduce_window_sum(np.arange(6.0).reshape(2, 3), (1, 2), (1, 1), 'VALID')
    array([[1., 3.],
           [7., 9.]])
    """
    return reduce_window_sum_p.bind(operand, **_window_params(operand, window_dimensions,
                                                              window_strides, padding))


def reduce_window_max(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: str | Sequence[tuple[int, int]] = "VALID") -> Any:
    """Maximum over sliding windows (padding counts as -inf); its gradient goes to each
    window's first maximum, whole.

    Args:
      operand: the array to pool; windows run over every axis.
      window_dimensions: window size per axis (1 on axes not pooled).
      window_strides: stride per axis (default 1).
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.

    Returns:
      One value per window position.

    >>> import numpy as np
    >>> reduce_window_max(np.array([1.0, 3.0, 2.0, 0.0]), (2,), (2,), 'VALID')
    array([3., 2.])
    """
    return reduce_window_max_p.bind(operand, **_window_params(operand, window_dimensions,
                                                              window_strides, padding))


def reduce_window_min(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: str | Sequence[tuple[int, int]] = "VALID") -> Any:
    """Minimum over sliding windows: ``-reduce_window_max(-operand)`` (first minimum wins).

    Args:
      operand: the array to pool; windows run over every axis.
      window_dimensions: window size per axis (1 on axes not pooled).
      window_strides: stride per axis (default 1).
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.

    Returns:
      One value per window position.

    >>> import numpy as np
    >>> reduce_window_min(np.array([1.0, 3.0, 2.0, 0.0]), (2,), (2,), 'VALID')
    array([1., 0.])
    """
    from funcgrad.lax.elementwise import neg
    return neg(reduce_window_max(neg(operand), window_dimensions, window_strides, padding))


def select_and_scatter_add(source: Any, operand: Any, window_dimensions: Sequence[int],
                           window_strides: Sequence[int] | None = None,
                           padding: str | Sequence[tuple[int, int]] = "VALID") -> Any:
    """Add each window's ``source`` value at the window's first maximum of ``operand``
    (the gradient of max pooling).

    Args:
      source: one value per window (the shape of ``reduce_window_max(operand, ...)``).
      operand: the pooled array, which decides where each window's maximum is.
      window_dimensions: window size per axis.
      window_strides: stride per axis (default 1).
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.

    Returns:
      An array shaped like ``operand``; overlapping windows accumulate.

    >>> import numpy as np
    >>> select_and_scatter_add(np.array([1.0, 1.0]), np.ones(3), (2,), (1,), 'VALID')
    array([1., 1., 0.])
    """
    params = _window_params(operand, window_dimensions, window_strides, padding)
    _select_and_scatter_add_abstract_eval(get_aval(source), get_aval(operand), **params)
    return select_and_scatter_add_p.bind(source, operand, **params)


def select_and_gather_add(tangent: Any, operand: Any, window_dimensions: Sequence[int],
                          window_strides: Sequence[int] | None = None,
                          padding: str | Sequence[tuple[int, int]] = "VALID") -> Any:
    """Per window, ``tangent`` at the window's first maximum of ``operand`` (the JVP of max
    pooling; the transpose of ``select_and_scatter_add``).

    Args:
      tangent: an array shaped like ``operand``.
      operand: the pooled array, which decides where each window's maximum is.
      window_dimensions: window size per axis.
      window_strides: stride per axis (default 1).
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.

    Returns:
      One value per window position.

    >>> import numpy as np
    >>> select_and_gather_add(np.array([10.0, 20.0, 30.0]), np.array([1.0, 3.0, 2.0]), (2,))
    array([20., 20.])
    """
    params = _window_params(operand, window_dimensions, window_strides, padding)
    _select_and_gather_add_abstract_eval(get_aval(tangent), get_aval(operand), **params)
    return select_and_gather_add_p.bind(tangent, operand, **params)


def reduce_window(operand: Any, init_value: Any, computation: Callable[..., Any],
                  window_dimensions: Sequence[int], window_strides: Sequence[int],
                  padding: str | Sequence[tuple[int, int]],
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """Reduce sliding windows with ``computation``, as ``jax.lax.reduce_window``.

    ``lax.add`` (with ``init_value`` 0), ``lax.max`` (``-inf`` or the dtype's minimum) and
    ``lax.min`` (``+inf`` / maximum) without dilation run as the pooling primitives (their
    fast kernels and the seeds' gradient rules). Any other binary ``computation`` (``lax.mul``,
    a lambda of lax operations, a non-identity ``init_value``) or a ``base_dilation`` /
    ``window_dilation`` runs as a composite: the operand is padded (and base-dilated) with
    ``init_value`` by ``lax.pad``, each window tap is one strided ``lax.slice``, and the taps
    are folded with ``computation`` starting from ``init_value``, so it is differentiable,
    batched and staged like its parts (window size times the output's work).

    Args:
      operand: the array to reduce.
      init_value: the identity of ``computation`` (also the padding value).
      computation: ``lax.add``, ``lax.max`` or ``lax.min``.
      window_dimensions: window size per axis.
      window_strides: stride per axis.
      padding: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per axis.
      base_dilation: the operand's dilation per axis (``d - 1`` init values between
        neighbours), or None.
      window_dilation: the window's dilation per axis, or None.

    Returns:
      One value per window position.

    >>> import numpy as np
    >>> from funcgrad import lax
    >>> lax.reduce_window(np.arange(4.0), -np.inf, lax.max, (2,), (1,), 'VALID')
    array([1., 2., 3.])
    """
    from funcgrad.lax import elementwise as ew
    ndim = len(get_aval(operand).shape)
    dilated = any(d is not None and any(int(v) != 1 for v in d)
                  for d in (base_dilation, window_dilation))
    dtype = get_aval(operand).dtype
    init = np.asarray(init_value)
    wrapper: Any = None
    identity: Any = None
    if computation in (ew.add, np.add):
        wrapper, identity = reduce_window_sum, 0
    elif computation in (ew.max, np.maximum):
        wrapper, identity = reduce_window_max, _min_value(dtype)
    elif computation in (ew.min, np.minimum):
        wrapper = reduce_window_min
        identity = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    if (wrapper is not None and not dilated and init.shape == ()
            and init.item() == identity):
        return wrapper(operand, window_dimensions, window_strides, padding)
    if init.shape != ():
        raise ValueError(f"reduce_window: init_value must be a scalar, got shape {init.shape}")
    for name, seq in (("window_dimensions", window_dimensions),
                      ("window_strides", window_strides),
                      ("base_dilation", base_dilation), ("window_dilation", window_dilation)):
        if seq is not None and (len(seq) != ndim or any(int(v) < 1 for v in seq)):
            raise ValueError(f"reduce_window: {name} must have {ndim} positive entries (the "
                             f"operand's rank), got {tuple(seq)}")
    return _reduce_window_taps(operand, init.astype(dtype), computation,
                               tuple(int(k) for k in window_dimensions),
                               tuple(int(v) for v in window_strides), padding,
                               tuple(int(v) for v in base_dilation or (1,) * ndim),
                               tuple(int(v) for v in window_dilation or (1,) * ndim))


def _reduce_window_taps(operand: Any, init: np.ndarray, computation: Callable[..., Any],
                        window: tuple[int, ...], strides: tuple[int, ...], padding: Any,
                        base_dilation: tuple[int, ...], window_dilation: tuple[int, ...]
                        ) -> Any:
    """The composite form: pad and dilate, one strided slice per window tap, the taps folded
    with ``computation`` after ``init``. As XLA, padding and dilation holes take no part (a
    mask skips them), so a non-identity ``init`` counts once per window."""
    import itertools

    from funcgrad.lax.conv import padtype_to_pads
    from funcgrad.lax.elementwise import select
    from funcgrad.lax.structural import broadcast_in_dim, pad
    from funcgrad.lax.structural import slice as lax_slice
    shape = tuple(get_aval(operand).shape)
    dilated_window = tuple((k - 1) * r + 1 for k, r in zip(window, window_dilation, strict=True))
    # JAX resolves 'SAME' from the undilated operand and the dilated window; so does this
    pads = (padtype_to_pads(shape, dilated_window, strides, padding) if isinstance(padding, str)
            else tuple((int(lo), int(hi)) for lo, hi in padding))
    config = [(lo, hi, b - 1) for (lo, hi), b in zip(pads, base_dilation, strict=True)]
    x = pad(operand, init, config)
    holes = any(lo or hi for lo, hi in pads) or any(b > 1 for b in base_dilation)
    real = pad(np.ones(shape, bool), np.asarray(False), config) if holes else None
    padded = tuple(get_aval(x).shape)
    out = tuple(max((n - w) // s + 1, 0) for n, w, s in zip(padded, dilated_window, strides,
                                                            strict=True))
    acc = broadcast_in_dim(init, out, ())
    if 0 in out:
        return acc
    for tap in itertools.product(*(range(k) for k in window)):
        start = [t * r for t, r in zip(tap, window_dilation, strict=True)]
        limit = [a + (o - 1) * s + 1 for a, o, s in zip(start, out, strides, strict=True)]
        step = computation(acc, lax_slice(x, start, limit, strides))
        acc = step if real is None else select(lax_slice(real, start, limit, strides), step, acc)
    return acc
