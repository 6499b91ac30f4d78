"""Hand-written NumPy layers, forward and backward: the reference every contender is checked
against and timed against.

Convolution is im2col + one matmul forward and two matmuls backward, with col2im as a loop over
the ``kh * kw`` kernel offsets (Caffe's layout, the seeds' derivation). Pooling is as the shared
reference harness's hand NumPy: the maximum (or sum) of the window's strided views, and max
pooling's backward masked against the forward's output (each window's gradient to its first
maximum). Arrays are NCHW, kernels OIHW, dense weights ``(in, out)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass
class ConvCache:
    cols: np.ndarray           # (C * kh * kw, N * Ho * Wo)
    w_mat: np.ndarray          # (C_out, C * kh * kw)
    x_shape: tuple[int, ...]
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: int
    padding: int
    dilation: int


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int, dilation: int
           ) -> tuple[np.ndarray, tuple[int, int]]:
    """Every receptive field of ``x`` as a column: ``(C * kh * kw, N * Ho * Wo)``.

    Caffe's layout: the copy's inner loop runs along image rows, which is several times faster
    in NumPy than one row per receptive field.
    """
    n, c, h, w = x.shape
    ho = conv_out_size(h, kh, stride, padding, dilation)
    wo = conv_out_size(w, kw, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x
    sn, sc, sh, sw = xp.strides
    windows = as_strided(xp, (c, kh, kw, n, ho, wo),
                         (sc, sh * dilation, sw * dilation, sn, sh * stride, sw * stride),
                         writeable=False)
    return windows.reshape(c * kh * kw, n * ho * wo), (ho, wo)


def col2im(dcols: np.ndarray, cache: ConvCache) -> np.ndarray:
    """Scatter-add the columns of ``dcols`` back into the windows they came from."""
    n, c, h, w = cache.x_shape
    kh, kw = cache.kernel
    ho, wo = cache.out_hw
    s, p, d = cache.stride, cache.padding, cache.dilation
    d6 = dcols.reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i * d: i * d + s * (ho - 1) + 1: s, j * d: j * d + s * (wo - 1) + 1: s] += (
                d6[:, i, j].transpose(1, 0, 2, 3))
    return dxp[:, :, p: p + h, p: p + w]


def conv_forward(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                 dilation: int = 1) -> tuple[np.ndarray, ConvCache]:
    c_out, _, kh, kw = w.shape
    cols, (ho, wo) = im2col(x, kh, kw, stride, padding, dilation)
    w_mat = w.reshape(c_out, -1)
    z = (w_mat @ cols).reshape(c_out, x.shape[0], ho, wo).transpose(1, 0, 2, 3)
    return z, ConvCache(cols, w_mat, x.shape, (ho, wo), (kh, kw), stride, padding, dilation)


def conv_backward(dz: np.ndarray, cache: ConvCache, need_dx: bool = True,
                  per_example: bool = False) -> tuple[np.ndarray | None, np.ndarray]:
    """``(dx, dw)``; with ``per_example`` the kernel gradient keeps the batch axis."""
    n = cache.x_shape[0]
    c_out = cache.w_mat.shape[0]
    dz_mat = dz.transpose(1, 0, 2, 3).reshape(c_out, -1)        # (C_out, N * Ho * Wo)
    w_shape = (c_out, cache.x_shape[1], *cache.kernel)
    if per_example:
        dz_b = dz_mat.reshape(c_out, n, -1).transpose(1, 0, 2)     # (N, C_out, Ho * Wo)
        cols_b = cache.cols.reshape(-1, n, dz_b.shape[2]).transpose(1, 2, 0)  # (N, HoWo, CKK)
        dw = (dz_b @ cols_b).reshape(n, *w_shape)
    else:
        dw = (dz_mat @ cache.cols.T).reshape(w_shape)
    dx = col2im(cache.w_mat.T @ dz_mat, cache) if need_dx else None
    return dx, dw


def _taps(x: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k * k`` window positions of non-overlapping ``k x k`` windows, as strided views
    in row-major window order."""
    ho, wo = x.shape[2] // k, x.shape[3] // k
    return [x[:, :, i:i + k * ho:k, j:j + k * wo:k] for i in range(k) for j in range(k)]


def max_pool_forward(x: np.ndarray, k: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping ``k x k`` max pooling as the maximum of the ``k * k`` strided views;
    returns the output and what the backward masks against (the input and the output)."""
    taps = _taps(x, k)
    y = np.maximum(taps[0], taps[1]) if len(taps) > 1 else taps[0].copy()
    for t in taps[2:]:
        np.maximum(y, t, out=y)
    return y, (x, y)


def max_pool_backward(dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray],
                      x_shape: tuple[int, ...], k: int) -> np.ndarray:
    """Each window's gradient to its first maximum: the taps masked against the forward's
    output (first tap equal to it wins), written into the strided views of dX."""
    x, y = cache
    dx = np.zeros(x_shape, dout.dtype) if (x_shape[2] % k or x_shape[3] % k) else \
        np.empty(x_shape, dout.dtype)
    taps, outs = _taps(x, k), _taps(dx, k)
    taken = taps[0] == y
    np.multiply(dout, taken, out=outs[0])
    for t, out in zip(taps[1:-1], outs[1:-1], strict=True):
        m = t == y
        m &= ~taken
        taken |= m
        np.multiply(dout, m, out=out)
    if len(taps) > 1:
        np.multiply(dout, ~taken, out=outs[-1])
    return dx


def avg_pool_forward(x: np.ndarray, k: int) -> np.ndarray:
    """The ``k * k`` strided views summed, times ``1 / k**2``."""
    taps = _taps(x, k)
    y = taps[0] + taps[1] if len(taps) > 1 else taps[0].copy()
    for t in taps[2:]:
        y += t
    y *= np.asarray(1.0 / (k * k), x.dtype)
    return y


def avg_pool_backward(dout: np.ndarray, x_shape: tuple[int, ...], k: int) -> np.ndarray:
    """``dout / k**2`` written into the ``k * k`` strided views of dX."""
    scaled = dout * np.asarray(1.0 / (k * k), dout.dtype)
    dx = np.zeros(x_shape, dout.dtype) if (x_shape[2] % k or x_shape[3] % k) else \
        np.empty(x_shape, dout.dtype)
    for view in _taps(dx, k):
        view[...] = scaled
    return dx


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: np.ndarray, onehot: np.ndarray, per_example: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits.

    With ``per_example`` each example's loss is its own (the gradient is not divided by N).
    """
    logp = log_softmax(logits)
    n = logits.shape[0]
    loss = -(onehot * logp).sum() / np.float32(n)
    dlogits = np.exp(logp) - onehot
    return loss, dlogits if per_example else dlogits / np.float32(n)
