"""Slow, obviously-correct NumPy references for convolution and pooling (in the spirit of JAX's
``lax_reference.py``): explicit Python loops over every output position and window element,
accumulated in float64 and returned in the inputs' dtype. Oracles for the forward passes and
for the max-pooling gradient convention; layouts are channel-first (``NC...`` / ``OI...``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Pairs = Sequence[tuple[int, int]]


def _same_pads(in_sp: Sequence[int], window: Sequence[int], strides: Sequence[int]
               ) -> list[tuple[int, int]]:
    pads = []
    for n, k, s in zip(in_sp, window, strides, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def dilate_and_pad(x: np.ndarray, lhs_dilation: Sequence[int], padding: Pairs,
                   value: float = 0.0) -> np.ndarray:
    """Spatial axes (all but the first two): insert ``d - 1`` zeros between neighbours, then
    pad with ``value`` (negative padding crops), element by element."""
    n, c, *sp = x.shape
    dil = [0 if m == 0 else (m - 1) * d + 1 for m, d in zip(sp, lhs_dilation, strict=True)]
    big = [m + max(lo, 0) + max(hi, 0) for m, (lo, hi) in zip(dil, padding, strict=True)]
    out = np.full((n, c, *big), value, dtype=np.float64)
    for pos in itertools.product(*(range(m) for m in dil)):
        inside = all(p % d == 0 for p, d in zip(pos, lhs_dilation, strict=True))
        if not inside:
            out[(slice(None), slice(None), *(p + max(lo, 0) for p, (lo, _) in
                                             zip(pos, padding, strict=True)))] = 0.0
    for pos in itertools.product(*(range(m) for m in sp)):
        dst = tuple(p * d + max(lo, 0) for p, d, (lo, _) in zip(pos, lhs_dilation, padding,
                                                                strict=True))
        out[(slice(None), slice(None), *dst)] = x[(slice(None), slice(None), *pos)]
    crop = tuple(slice(max(-lo, 0), b - max(-hi, 0)) for b, (lo, hi) in zip(big, padding,
                                                                            strict=True))
    return out[(slice(None), slice(None), *crop)]


def conv(lhs: np.ndarray, rhs: np.ndarray, window_strides: Sequence[int],
         padding: Pairs | str, lhs_dilation: Sequence[int] | None = None,
         rhs_dilation: Sequence[int] | None = None, feature_group_count: int = 1
         ) -> np.ndarray:
    """``conv_general_dilated`` in NC.../OI... layout, by its definition."""
    n, c, *sp = lhs.shape
    o, i, *ks = rhs.shape
    nsp = len(sp)
    lhs_dilation = lhs_dilation or (1,) * nsp
    rhs_dilation = rhs_dilation or (1,) * nsp
    if isinstance(padding, str):
        kd = [(k - 1) * d + 1 for k, d in zip(ks, rhs_dilation, strict=True)]
        padding = _same_pads(sp, kd, window_strides) if padding == "SAME" else [(0, 0)] * nsp
    x = dilate_and_pad(lhs.astype(np.float64), lhs_dilation, padding)
    w = rhs.astype(np.float64)
    og = o // feature_group_count
    out_sp = [max(0, (p - ((k - 1) * d + 1)) // s + 1)
              for p, k, d, s in zip(x.shape[2:], ks, rhs_dilation, window_strides, strict=True)]
    out = np.zeros((n, o, *out_sp))
    for b, oc in itertools.product(range(n), range(o)):
        g = oc // og
        for pos in itertools.product(*(range(m) for m in out_sp)):
            acc = 0.0
            for ic in range(i):
                for tap in itertools.product(*(range(k) for k in ks)):
                    src = tuple(p * s + t * d for p, s, t, d in
                                zip(pos, window_strides, tap, rhs_dilation, strict=True))
                    acc += x[(b, g * i + ic, *src)] * w[(oc, ic, *tap)]
            out[(b, oc, *pos)] = acc
    return out.astype(np.result_type(lhs, rhs))


def conv_transpose_torch(x: np.ndarray, w: np.ndarray, stride: Sequence[int],
                         padding: Sequence[int], output_padding: Sequence[int],
                         dilation: Sequence[int], groups: int) -> np.ndarray:
    """PyTorch's ConvTranspose by its definition: every input element scatters
    ``x * w[tap]`` to output position ``i * stride - padding + tap * dilation``."""
    n, c_in, *sp = x.shape
    _, og, *ks = w.shape
    ig = c_in // groups
    out_sp = [(m - 1) * s - 2 * p + d * (k - 1) + op + 1 for m, s, p, d, k, op in
              zip(sp, stride, padding, dilation, ks, output_padding, strict=True)]
    out = np.zeros((n, og * groups, *out_sp))
    for b, ci in itertools.product(range(n), range(c_in)):
        g = ci // ig
        for pos in itertools.product(*(range(m) for m in sp)):
            for oc in range(og):
                for tap in itertools.product(*(range(k) for k in ks)):
                    dst = [p * s - pp + t * d for p, s, pp, t, d in
                           zip(pos, stride, padding, tap, dilation, strict=True)]
                    if all(0 <= q < m for q, m in zip(dst, out_sp, strict=True)):
                        out[(b, g * og + oc, *dst)] += x[(b, ci, *pos)] * w[(ci, oc, *tap)]
    return out.astype(np.result_type(x, w))


def _windows(x: np.ndarray, window: Sequence[int], strides: Sequence[int], padding: Pairs,
             value: float) -> tuple[np.ndarray, list[int]]:
    xp = dilate_and_pad(x.astype(np.float64), (1,) * len(window), padding, value)
    out_sp = [max(0, (p - k) // s + 1) for p, k, s in zip(xp.shape[2:], window, strides,
                                                          strict=True)]
    return xp, out_sp


def _pool_padding(x: np.ndarray, window: Sequence[int], strides: Sequence[int],
                  padding: Pairs | str) -> Pairs:
    if isinstance(padding, str):
        return _same_pads(x.shape[2:], window, strides) if padding == "SAME" else \
            [(0, 0)] * len(window)
    return padding


def max_pool(x: np.ndarray, window: Sequence[int], strides: Sequence[int],
             padding: Pairs | str) -> np.ndarray:
    """Spatial max pooling (padding is -inf)."""
    padding = _pool_padding(x, window, strides, padding)
    xp, out_sp = _windows(x, window, strides, padding, -np.inf)
    out = np.zeros((*x.shape[:2], *out_sp))
    for pos in itertools.product(*(range(m) for m in out_sp)):
        best = np.full(x.shape[:2], -np.inf)
        for tap in itertools.product(*(range(k) for k in window)):
            src = tuple(p * s + t for p, s, t in zip(pos, strides, tap, strict=True))
            best = np.maximum(best, xp[(slice(None), slice(None), *src)])
        out[(slice(None), slice(None), *pos)] = best
    return out.astype(x.dtype)


def sum_pool(x: np.ndarray, window: Sequence[int], strides: Sequence[int],
             padding: Pairs | str) -> np.ndarray:
    """Spatial sum pooling (padding is 0)."""
    padding = _pool_padding(x, window, strides, padding)
    xp, out_sp = _windows(x, window, strides, padding, 0.0)
    out = np.zeros((*x.shape[:2], *out_sp))
    for pos in itertools.product(*(range(m) for m in out_sp)):
        for tap in itertools.product(*(range(k) for k in window)):
            src = tuple(p * s + t for p, s, t in zip(pos, strides, tap, strict=True))
            out[(slice(None), slice(None), *pos)] += xp[(slice(None), slice(None), *src)]
    return out.astype(x.dtype)


def avg_pool(x: np.ndarray, window: Sequence[int], strides: Sequence[int],
             padding: Pairs | str) -> np.ndarray:
    """Average pooling counting padded zeros (PyTorch's count_include_pad=True)."""
    return (sum_pool(x, window, strides, padding) / float(np.prod(window))).astype(x.dtype)


def max_pool_grad(x: np.ndarray, ct: np.ndarray, window: Sequence[int],
                  strides: Sequence[int], padding: Pairs | str) -> np.ndarray:
    """The max-pooling gradient convention: each window's cotangent goes, whole, to the
    window's first maximum in row-major order; overlapping windows accumulate."""
    padding = _pool_padding(x, window, strides, padding)
    xp, out_sp = _windows(x, window, strides, padding, -np.inf)
    gp = np.zeros(xp.shape)
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(m) for m in out_sp)):
            best, where = -np.inf, None
            for tap in itertools.product(*(range(k) for k in window)):
                src = tuple(p * s + t for p, s, t in zip(pos, strides, tap, strict=True))
                if where is None or xp[(b, c, *src)] > best:
                    best, where = xp[(b, c, *src)], src
            gp[(b, c, *where)] += ct[(b, c, *pos)]
    crop = tuple(slice(lo, lo + m) for (lo, _), m in zip(padding, x.shape[2:], strict=True))
    # Undo the padding (this reference supports non-negative padding only).
    return gp[(slice(None), slice(None), *crop)].astype(x.dtype)


def adaptive_avg_pool(x: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """PyTorch's adaptive average pooling: cell ``i`` of ``m`` over ``n`` averages
    ``[floor(i n / m), ceil((i + 1) n / m))``."""
    sp = x.shape[2:]
    out = np.zeros((*x.shape[:2], *output_size))
    for pos in itertools.product(*(range(m) for m in output_size)):
        sl = tuple(slice((p * n) // m, -((-(p + 1) * n) // m))
                   for p, n, m in zip(pos, sp, output_size, strict=True))
        out[(slice(None), slice(None), *pos)] = x[(slice(None), slice(None), *sl)].mean(
            axis=tuple(range(2, 2 + len(sp))))
    return out.astype(x.dtype)
