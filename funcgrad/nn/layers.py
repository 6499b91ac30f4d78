"""Layers on channel-first arrays ``(N, C, *spatial)`` with 1, 2 or 3 spatial axes (PyTorch's
layout): convolutions, pooling, dense, normalisation, dropout.

Convolutions and pooling lower onto the ``lax`` primitives ``conv_general_dilated``,
``reduce_window_sum`` and ``reduce_window_max``, whose VJP rules are the seeds' rules; everything
else is a composite of ``fg.numpy``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.avals import get_aval
from funcgrad.core.tracing import Tracer
from funcgrad.lax.conv import padtype_to_pads

Array = Any
IntOrSeq = int | Sequence[int]
Padding = int | str | Sequence[int] | Sequence[tuple[int, int]]

__all__ = [
    "adaptive_avg_pool", "avg_pool", "batch_norm", "conv", "conv_transpose", "dense", "dropout",
    "flatten", "global_avg_pool", "layer_norm", "max_pool",
]


# == argument normalisation ===================================================================

def _per_axis(v: IntOrSeq, n: int, name: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    out = tuple(int(a) for a in v)
    if len(out) != n:
        raise ValueError(f"{name}={tuple(v)} needs {n} entries (one per spatial axis)")
    return out


def _pairs(padding: Padding, n: int, name: str = "padding") -> tuple[tuple[int, int], ...]:
    """An int, one int per axis, or one (low, high) pair per axis -> pairs."""
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    items: list[Any] = list(padding)  # type: ignore[arg-type]
    if len(items) != n:
        raise ValueError(f"{name}={padding!r} needs {n} entries (one per spatial axis)")
    out = []
    for p in items:
        if isinstance(p, (int, np.integer)):
            out.append((int(p), int(p)))
        else:
            lo, hi = p
            out.append((int(lo), int(hi)))
    return tuple(out)


def _spatial_pads(padding: Padding, in_sp: Sequence[int], window: Sequence[int],
                  strides: Sequence[int]) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        return padtype_to_pads(in_sp, window, strides, padding)
    return _pairs(padding, len(in_sp))


def _check_rank(x: Array, name: str) -> int:
    nsp = fnp.ndim(x) - 2
    if nsp < 1:
        raise ValueError(f"{name} expects (N, C, *spatial) input with 1 to 3 spatial axes, got "
                         f"shape {fnp.shape(x)}")
    return nsp


def _common_dtype(*xs: Array) -> list[Array]:
    dtype = fnp.result_type(*xs)
    return [fnp.asarray(x, dtype) for x in xs]


def _channel_shape(nsp: int) -> tuple[int, ...]:
    return (1, -1) + (1,) * nsp


def _add_bias(y: Array, b: Array | None, nsp: int) -> Array:
    if b is None:
        return y
    if isinstance(b, (np.ndarray, Tracer)):
        ya, ba = get_aval(y), get_aval(b)
        if ba.dtype == ya.dtype and not (ba.weak_type or ya.weak_type) and \
                ba.shape == (ya.shape[1],):
            # the channel bias broadcast straight to y's shape (the same sums, bitwise,
            # forward and backward, as the fnp reshape + broadcasting add)
            return lax.add(y, lax.broadcast_in_dim(b, ya.shape, (1,)))
    return y + fnp.reshape(b, _channel_shape(nsp))


# == convolution ==============================================================================

def conv(x: Array, w: Array, b: Array | None = None, *, stride: IntOrSeq = 1,
         padding: Padding = 0, dilation: IntOrSeq = 1, groups: int = 1) -> Array:
    """N-d convolution (cross-correlation) as ``torch.nn.functional.conv{1,2,3}d``.

    Args:
      x: input ``(N, C_in, *spatial)``.
      w: kernel ``(C_out, C_in / groups, *kernel)``.
      b: optional bias ``(C_out,)``.
      stride: int or one per spatial axis.
      padding: int, one int per axis, one ``(low, high)`` pair per axis, ``'SAME'`` (output
        size ``ceil(in / stride)``, extra padding on the high side) or ``'VALID'``.
      dilation: kernel dilation, int or one per axis (1 = none).
      groups: feature groups (``groups = C_in`` is depthwise).

    Returns:
      ``(N, C_out, *out_spatial)`` with ``out = (in + lo + hi - dilation * (k - 1) - 1) //
      stride + 1``.

    >>> import numpy as np
    >>> conv(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=2, padding=1).shape
    (1, 2, 3, 3)
    """
    nsp = _check_rank(x, "conv")
    x, w = _common_dtype(x, w)
    strides = _per_axis(stride, nsp, "stride")
    dil = _per_axis(dilation, nsp, "dilation")
    pads: Any = padding.upper() if isinstance(padding, str) else _pairs(padding, nsp)
    y = lax.conv_general_dilated(x, w, strides, pads, rhs_dilation=dil,
                                 feature_group_count=int(groups))
    return _add_bias(y, b, nsp)


def conv_transpose(x: Array, w: Array, b: Array | None = None, *, stride: IntOrSeq = 1,
                   padding: IntOrSeq | Sequence[tuple[int, int]] = 0,
                   output_padding: IntOrSeq = 0, dilation: IntOrSeq = 1,
                   groups: int = 1) -> Array:
    """Transposed convolution as ``torch.nn.functional.conv_transpose{1,2,3}d``: the input
    gradient of ``conv`` with the same kernel, stride, padding, dilation and groups.

    Args:
      x: input ``(N, C_in, *spatial)``.
      w: kernel ``(C_in, C_out / groups, *kernel)`` (PyTorch's layout for this layer).
      b: optional bias ``(C_out,)``.
      stride: int or one per spatial axis.
      padding: the matching conv's padding (int, one per axis, or (low, high) pairs).
      output_padding: extra size on the high side of each axis (``< stride`` or
        ``< dilation``), to pick among the input sizes a strided conv maps to one size.
      dilation: kernel dilation (1 = none).
      groups: feature groups.

    Returns:
      ``(N, C_out, *out)`` with ``out = (in - 1) * stride - lo - hi + dilation * (k - 1) +
      output_padding + 1``.

    >>> import numpy as np
    >>> conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 4, 3, 3)), stride=2, padding=1,
    ...                output_padding=1).shape
    (1, 4, 6, 6)
    """
    nsp = _check_rank(x, "conv_transpose")
    x, w = _common_dtype(x, w)
    strides = _per_axis(stride, nsp, "stride")
    dil = _per_axis(dilation, nsp, "dilation")
    out_pad = _per_axis(output_padding, nsp, "output_padding")
    pads = _pairs(padding, nsp)  # type: ignore[arg-type]
    for op, s, d in zip(out_pad, strides, dil, strict=True):
        if not 0 <= op < max(s, d):
            raise ValueError(f"conv_transpose: output_padding {out_pad} must be smaller than "
                             f"the stride {strides} or the dilation {dil}")
    g = int(groups)
    c_in, og, *ks = fnp.shape(w)
    if c_in % g:
        raise ValueError(f"conv_transpose: kernel input channels ({c_in}) are not divisible "
                         f"by groups={g}")
    # (C_in, C_out/g, k) -> (C_out, C_in/g, k) per group, flipped: the conv kernel of dX.
    sp = tuple(range(3, 3 + nsp))
    kernel = fnp.reshape(w, (g, c_in // g, og, *ks))
    kernel = fnp.reshape(fnp.transpose(kernel, (0, 2, 1, *sp)), (g * og, c_in // g, *ks))
    kernel = lax.rev(kernel, tuple(range(2, 2 + nsp)))
    conv_pads = [(d * (k - 1) - lo, d * (k - 1) - hi + op)
                 for k, d, (lo, hi), op in zip(ks, dil, pads, out_pad, strict=True)]
    y = lax.conv_general_dilated(x, kernel, (1,) * nsp, conv_pads, lhs_dilation=strides,
                                 rhs_dilation=dil, feature_group_count=g)
    return _add_bias(y, b, nsp)


# == pooling ==================================================================================

def _pool_params(x: Array, window: IntOrSeq, stride: IntOrSeq | None, padding: Padding,
                 name: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[Any, ...]]:
    nsp = _check_rank(x, name)
    win = _per_axis(window, nsp, "window")
    strides = win if stride is None else _per_axis(stride, nsp, "stride")
    in_sp = fnp.shape(x)[2:]
    pads = _spatial_pads(padding, in_sp, win, strides)
    for a, (n, w, (lo, hi)) in enumerate(zip(in_sp, win, pads, strict=True)):
        if w > n + lo + hi:  # no window fits: the result would silently be empty
            from funcgrad.core.errors import FuncgradValueError, at_user_line
            raise FuncgradValueError(at_user_line(
                f"{name}: window {tuple(win)} is larger than the padded input along spatial "
                f"axis {a}: size {n} + padding ({lo}, {hi}) = {n + lo + hi} < {w} (input shape "
                f"{fnp.shape(x)})"))
    return (1, 1, *win), (1, 1, *strides), ((0, 0), (0, 0), *pads)


def max_pool(x: Array, window: IntOrSeq, stride: IntOrSeq | None = None,
             padding: Padding = 0) -> Array:
    """Max pooling over the spatial axes (padding counts as -inf).

    The gradient of each window goes, whole, to the window's first maximum in row-major
    order: ties are never split, overlapping windows accumulate.

    Args:
      x: input ``(N, C, *spatial)``.
      window: window size, int or one per spatial axis.
      stride: defaults to ``window``.
      padding: int, one per axis, (low, high) pairs, ``'SAME'`` or ``'VALID'``.

    Returns:
      ``(N, C, *out)`` with ``out = (in + lo + hi - window) // stride + 1``.

    >>> import numpy as np
    >>> max_pool(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    dims, strides, pads = _pool_params(x, window, stride, padding, "max_pool")
    return lax.reduce_window_max(x, dims, strides, pads)


def avg_pool(x: Array, window: IntOrSeq, stride: IntOrSeq | None = None,
             padding: Padding = 0) -> Array:
    """Average pooling over the spatial axes.

    Padded positions count as zeros in the average (PyTorch's ``count_include_pad=True``):
    every window is divided by the full window size. The gradient upsamples the cotangent
    divided by the window size; overlapping windows add up.

    Args:
      x: input ``(N, C, *spatial)``.
      window: window size, int or one per spatial axis.
      stride: defaults to ``window``.
      padding: int, one per axis, (low, high) pairs, ``'SAME'`` or ``'VALID'``.

    Returns:
      ``(N, C, *out)`` with ``out = (in + lo + hi - window) // stride + 1``.

    >>> import numpy as np
    >>> avg_pool(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    dims, strides, pads = _pool_params(x, window, stride, padding, "avg_pool")
    x = fnp.asarray(x)
    if x.dtype.kind not in "fc":
        x = fnp.asarray(x, np.float64)
    return lax.reduce_window_sum(x, dims, strides, pads) / float(math.prod(dims))


def adaptive_avg_pool(x: Array, output_size: IntOrSeq) -> Array:
    """Average pooling to a fixed output size, as ``torch.nn.functional.adaptive_avg_pool``:
    output cell ``i`` of an axis of length ``n`` averages ``[floor(i n / m), ceil((i + 1) n /
    m))``. Computed as one small averaging matrix per spatial axis.

    Args:
      x: input ``(N, C, *spatial)``.
      output_size: int or one per spatial axis.

    Returns:
      ``(N, C, *output_size)``.

    >>> import numpy as np
    >>> adaptive_avg_pool(np.arange(5.0).reshape(1, 1, 5), 2)[0, 0]
    array([1., 3.])
    """
    nsp = _check_rank(x, "adaptive_avg_pool")
    x = fnp.asarray(x)
    if x.dtype.kind not in "fc":
        x = fnp.asarray(x, np.float64)
    sizes = _per_axis(output_size, nsp, "output_size")
    for a, m in enumerate(sizes):
        axis = a + 2
        n = fnp.shape(x)[axis]
        starts = (np.arange(m) * n) // m
        ends = -((-(np.arange(m) + 1) * n) // m)
        cols = np.arange(n)
        inside = (cols >= starts[:, None]) & (cols < ends[:, None])
        avg = (inside / (ends - starts)[:, None]).astype(x.dtype)     # (m, n)
        x = fnp.moveaxis(fnp.tensordot(avg, x, axes=([1], [axis])), 0, axis)
    return x


def global_avg_pool(x: Array, keepdims: bool = False) -> Array:
    """Mean over all spatial axes.

    Args:
      x: input ``(N, C, *spatial)``.
      keepdims: keep the spatial axes with size 1.

    Returns:
      ``(N, C)`` (or ``(N, C, 1, ...)``).

    >>> import numpy as np
    >>> global_avg_pool(np.ones((2, 3, 4, 4))).shape
    (2, 3)
    """
    nsp = _check_rank(x, "global_avg_pool")
    return fnp.mean(x, axis=tuple(range(2, 2 + nsp)), keepdims=keepdims)


# == dense, flatten ===========================================================================

def dense(x: Array, w: Array, b: Array | None = None) -> Array:
    """Affine layer ``x @ w + b``.

    Args:
      x: input ``(..., in)``.
      w: weights ``(in, out)``.
      b: optional bias ``(out,)``.

    Returns:
      ``(..., out)``.

    >>> import numpy as np
    >>> dense(np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0))
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]])
    """
    fast = _dense_lax(x, w, b)
    if fast is not None:
        return fast
    y = fnp.matmul(x, w)
    return y if b is None else y + b


_FLOATS = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))


def _dense_lax(x: Array, w: Array, b: Array | None) -> Array | None:
    """``dense`` straight on the lax primitives when nothing needs promoting or
    broadcasting beyond the bias: arrays (or tracers) of one float dtype, none weakly typed,
    ``x`` of rank >= 2, ``w`` a matrix and ``b`` of shape ``(out,)``. The primitives are the
    ones ``fnp.matmul(x, w) + b`` binds (the same dot_general, broadcast_in_dim and add), so
    the result is bitwise the same, without fnp's per-call promotion work (a third of a
    small dense layer's eager gradient)."""
    ops = (x, w) if b is None else (x, w, b)
    if not all(isinstance(o, np.ndarray) or isinstance(o, Tracer) for o in ops):
        return None
    avals = [get_aval(o) for o in ops]
    xa, wa = avals[0], avals[1]
    if (xa.dtype not in _FLOATS or any(a.dtype != xa.dtype or a.weak_type for a in avals)
            or xa.ndim < 2 or wa.ndim != 2 or xa.shape[-1] != wa.shape[0]):
        return None
    if b is not None and avals[2].shape != (wa.shape[1],):
        return None
    y = lax.dot_general(x, w, (((xa.ndim - 1,), (0,)), ((), ())))
    if b is None:
        return y
    shape = (*xa.shape[:-1], wa.shape[1])
    return lax.add(y, lax.broadcast_in_dim(b, shape, (len(shape) - 1,)))


def flatten(x: Array, start_axis: int = 1) -> Array:
    """Merge the axes from ``start_axis`` on into one (keeps the batch axis by default).

    Args:
      x: input array.
      start_axis: first axis to merge.

    Returns:
      ``x.shape[:start_axis] + (-1,)``.

    >>> import numpy as np
    >>> flatten(np.ones((2, 3, 4, 5))).shape
    (2, 60)
    """
    shape = fnp.shape(x)
    start = int(start_axis) % max(len(shape), 1)
    return fnp.reshape(x, (*shape[:start], math.prod(shape[start:])))


# == normalisation and dropout ================================================================

def batch_norm(x: Array, scale: Array | None, bias: Array | None, running_mean: Array,
               running_var: Array, *, train: bool, momentum: float = 0.1, eps: float = 1e-5
               ) -> tuple[Array, Array, Array]:
    """Batch normalisation over the batch and spatial axes of ``(N, C, *spatial)``, as a
    pure function of its statistics.

    With ``train=True`` the batch's mean and (biased) variance normalise ``x``, and the
    running statistics move toward them: ``new = (1 - momentum) * running + momentum *
    batch`` (the running variance uses the unbiased batch variance, as PyTorch). Everything
    is an ordinary differentiable function of the inputs (wrap the new statistics in
    ``fg.stop_gradient`` if a loss ever depends on them). With ``train=False`` the running
    statistics normalise ``x`` and are returned unchanged.

    Args:
      x: input ``(N, C, *spatial)`` (or ``(N, C)``).
      scale: per-channel ``(C,)`` multiplier, or None.
      bias: per-channel ``(C,)`` offset, or None.
      running_mean: ``(C,)``.
      running_var: ``(C,)``.
      train: use batch statistics and update the running ones.
      momentum: weight of the batch statistics in the update.
      eps: added to the variance.

    Returns:
      ``(y, new_running_mean, new_running_var)``.

    >>> import numpy as np
    >>> y, m, v = batch_norm(np.array([[1.0], [3.0]]), None, None, np.zeros(1), np.ones(1),
    ...                      train=True)
    >>> y.round(3), m, v
    (array([[-1.],
           [ 1.]]), array([0.2]), array([1.1]))
    """
    x = fnp.asarray(x)
    nsp = fnp.ndim(x) - 2
    if nsp < 0:
        raise ValueError(f"batch_norm expects (N, C, ...) input, got shape {fnp.shape(x)}")
    shape_c = _channel_shape(nsp)
    axes = (0, *range(2, 2 + nsp))
    if train:
        mean = fnp.mean(x, axis=axes)
        var = fnp.var(x, axis=axes)
        n = math.prod([fnp.shape(x)[a] for a in axes])
        unbiased = var * (n / max(n - 1, 1))
        new_mean = running_mean * (1.0 - momentum) + mean * float(momentum)
        new_var = running_var * (1.0 - momentum) + unbiased * float(momentum)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    inv = fnp.reshape(1.0 / fnp.sqrt(var + float(eps)), shape_c)
    y = (x - fnp.reshape(mean, shape_c)) * inv
    if scale is not None:
        y = y * fnp.reshape(scale, shape_c)
    if bias is not None:
        y = y + fnp.reshape(bias, shape_c)
    return y, new_mean, new_var


def layer_norm(x: Array, scale: Array | None = None, bias: Array | None = None,
               eps: float = 1e-5, axes: int | Sequence[int] | None = None) -> Array:
    """Layer normalisation: zero mean and unit (biased) variance over the trailing axes.

    The normalised axes are ``axes`` if given, else the last ``scale.ndim`` axes (PyTorch's
    ``normalized_shape = scale.shape``), else the last axis.

    Args:
      x: input array.
      scale: multiplier shaped like the normalised axes, or None.
      bias: offset shaped like the normalised axes, or None.
      eps: added to the variance.
      axes: the normalised axes (overrides the rule above).

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> layer_norm(np.array([[1.0, 3.0]])).round(3)
    array([[-1.,  1.]])
    """
    x = fnp.asarray(x)
    if axes is None:
        k = fnp.ndim(scale) if scale is not None and fnp.ndim(scale) > 0 else 1
        axes = tuple(range(x.ndim - k, x.ndim))
    mean = fnp.mean(x, axis=axes, keepdims=True)
    var = fnp.var(x, axis=axes, keepdims=True)
    y = (x - mean) / fnp.sqrt(var + float(eps))
    if scale is not None:
        y = y * scale
    if bias is not None:
        y = y + bias
    return y


def dropout(key: Array, x: Array, rate: float, train: bool = True) -> Array:
    """Inverted dropout: zero each element with probability ``rate`` and scale the rest by
    ``1 / (1 - rate)``, so the expectation is unchanged.

    The mask is ``fg.random.uniform(key, x.shape) >= rate``: the same key gives the same mask.
    Under ``vmap`` over ``x`` alone every example shares one mask; map over split keys too
    (``vmap(dropout, (0, 0, None))(fg.random.split(key, n), xs, rate)``) for one mask each.

    Args:
      key: a ``fg.random`` key (``uint32[2]``).
      x: input array.
      rate: drop probability in [0, 1].
      train: if False, return ``x`` unchanged (evaluation mode).

    Returns:
      An array like ``x``.

    >>> import funcgrad as fg, numpy as np
    >>> y = dropout(fg.random.key(0), np.ones(1000), 0.5)
    >>> sorted(set(y.tolist())), bool(400 < (y == 0).sum() < 600)
    ([0.0, 2.0], True)
    """
    from funcgrad import random

    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate}")
    if isinstance(key, (int, np.integer, np.random.Generator)):
        raise TypeError(f"dropout: key must be a fg.random key (fg.random.key(seed)), got "
                        f"{type(key).__name__}")
    x = fnp.asarray(x)
    if not train or rate == 0.0:
        return x
    if rate == 1.0:
        return x * 0.0
    keep = random.uniform(key, fnp.shape(x), np.float64) >= rate
    return fnp.where(keep, x * (1.0 / (1.0 - rate)), 0)
