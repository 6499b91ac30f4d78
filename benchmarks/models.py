"""The networks of the train-step rows, written once per kind of library.

A :class:`NetSpec` describes a classifier: optional conv layers (each ``conv -> relu -> 2x2 max
pool``), then dense layers (relu between them), then softmax cross-entropy. The MLP, LeNet-5,
the 3-conv CNN and the per-example CNN are all specs. The same spec runs as:

- :func:`loss`: one definition for every NumPy-like library (funcgrad, JAX, autograd), given an
  :class:`~benchmarks.contenders.ArrayOps` (swap the namespace, keep the model);
- :func:`torch_loss`: PyTorch's idiomatic layers;
- :func:`numpy_value_and_grad`: hand-written NumPy forward and backward (the reference).

Parameters are a flat tuple ``(w1, b1, w2, b2, ...)``: conv kernels OIHW, dense ``(in, out)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import nplayers
from benchmarks.contenders import ArrayOps

LEARNING_RATE = 0.01
Params = tuple[Any, ...]


@dataclass(frozen=True)
class ConvLayer:
    channels: int
    kernel: int
    padding: int


@dataclass(frozen=True)
class NetSpec:
    name: str
    in_shape: tuple[int, ...]        # (features,) for an MLP, (C, H, W) for a CNN
    convs: tuple[ConvLayer, ...]     # each: conv (stride 1) -> relu -> 2x2 max pool
    dense: tuple[int, ...]           # output widths; the last is the number of classes
    batch: int

    def layer_shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """``(weight shape, bias shape)`` per layer."""
        shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        c = self.in_shape[0]
        for layer in self.convs:
            shapes.append(((layer.channels, c, layer.kernel, layer.kernel), (layer.channels,)))
            c = layer.channels
        features = self.flat_features()
        for width in self.dense:
            shapes.append(((features, width), (width,)))
            features = width
        return shapes

    def flat_features(self) -> int:
        if not self.convs:
            return self.in_shape[0]
        c, h, w = self.in_shape
        for layer in self.convs:
            h = (h + 2 * layer.padding - layer.kernel + 1) // 2
            w = (w + 2 * layer.padding - layer.kernel + 1) // 2
            c = layer.channels
        return c * h * w

    def init(self, seed: int = 0) -> Params:
        """He-normal weights, small random biases, float32."""
        rng = np.random.default_rng(seed)
        params: list[np.ndarray] = []
        for w_shape, b_shape in self.layer_shapes():
            fan_in = int(np.prod(w_shape[1:])) if len(w_shape) == 4 else w_shape[0]
            params.append((rng.standard_normal(w_shape) * np.sqrt(2.0 / fan_in))
                          .astype(np.float32))
            params.append((0.01 * rng.standard_normal(b_shape)).astype(np.float32))
        return tuple(params)

    def batch_inputs(self, seed: int = 1) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        classes = self.dense[-1]
        labels = rng.integers(0, classes, self.batch)
        return {
            "x": rng.standard_normal((self.batch, *self.in_shape), dtype=np.float32),
            "labels": labels.astype(np.int64),
            "onehot": np.eye(classes, dtype=np.float32)[labels],
        }

    def matmul_shapes(self, per_example: bool = False) -> tuple[tuple[int, ...], ...]:
        """The matmuls a minimal im2col implementation of one forward + backward does:
        ``(m, k, n)``, or ``(batch, m, k, n)`` for per-example weight gradients."""
        n = self.batch
        shapes: list[tuple[int, ...]] = []
        if self.convs:
            c, h, w = self.in_shape
            for i, layer in enumerate(self.convs):
                ho = h + 2 * layer.padding - layer.kernel + 1
                wo = w + 2 * layer.padding - layer.kernel + 1
                shapes += conv_matmul_shapes(n, c, layer.channels, ho * wo, layer.kernel,
                                             need_dx=i > 0, per_example=per_example)
                c, h, w = layer.channels, ho // 2, wo // 2
        features = self.flat_features()
        for j, width in enumerate(self.dense):
            shapes.append((n, features, width))                             # forward
            shapes.append((n, features, 1, width) if per_example else (features, n, width))
            if j > 0 or self.convs:
                shapes.append((n, width, features))                         # dX
            features = width
        return tuple(shapes)


def conv_matmul_shapes(n: int, c_in: int, c_out: int, out_pixels: int, kernel: int,
                       need_dx: bool = True, per_example: bool = False) -> list[tuple[int, ...]]:
    """The matmuls of :mod:`benchmarks.nplayers`' im2col conv, forward and backward."""
    ckk, cols = c_in * kernel * kernel, n * out_pixels
    shapes: list[tuple[int, ...]] = [(c_out, ckk, cols)]                    # forward
    shapes.append((n, c_out, out_pixels, ckk) if per_example else (c_out, cols, ckk))  # dW
    if need_dx:
        shapes.append((ckk, c_out, cols))                                   # d(columns)
    return shapes


MLP = NetSpec("mlp", (784,), (), (512, 512, 10), batch=128)
LENET5 = NetSpec("lenet5", (1, 28, 28), (ConvLayer(6, 5, 2), ConvLayer(16, 5, 0)),
                 (120, 84, 10), batch=64)
CNN3 = NetSpec("cnn3", (3, 32, 32),
               (ConvLayer(32, 3, 1), ConvLayer(64, 3, 1), ConvLayer(128, 3, 1)), (10,), batch=32)
SMALL_CNN = NetSpec("small-cnn", (1, 28, 28), (ConvLayer(8, 3, 1),), (10,), batch=32)


def sgd(params: Params, grads: Params) -> Params:
    return tuple(p - LEARNING_RATE * g for p, g in zip(params, grads, strict=True))


# == one definition for funcgrad, JAX and autograd ============================================

def loss(ops: ArrayOps, spec: NetSpec, params: Params, x: Any, onehot: Any) -> Any:
    """Mean softmax cross-entropy of the network on a batch."""
    xp = ops.xp
    h, i = x, 0
    for layer in spec.convs:
        w, b = params[i], params[i + 1]
        i += 2
        h = ops.conv(h, w, 1, layer.padding, 1) + xp.reshape(b, (1, -1, 1, 1))
        h = ops.max_pool(xp.maximum(h, 0.0), 2)
    h = xp.reshape(h, (h.shape[0], -1))
    for j in range(len(spec.dense)):
        w, b = params[i], params[i + 1]
        i += 2
        h = xp.matmul(h, w) + b
        if j < len(spec.dense) - 1:
            h = xp.maximum(h, 0.0)
    shifted = h - xp.max(h, axis=1, keepdims=True)
    logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    return -xp.sum(onehot * logp) / h.shape[0]


# == PyTorch ==================================================================================

def torch_loss(spec: NetSpec, params: Params, x: Any, labels: Any) -> Any:
    import torch.nn.functional as F

    h, i = x, 0
    for layer in spec.convs:
        h = F.conv2d(h, params[i], params[i + 1], padding=layer.padding)
        h = F.max_pool2d(F.relu(h), 2)
        i += 2
    h = h.reshape(h.shape[0], -1)
    for j in range(len(spec.dense)):
        h = h @ params[i] + params[i + 1]
        i += 2
        if j < len(spec.dense) - 1:
            h = F.relu(h)
    return F.cross_entropy(h, labels)


# == hand-written NumPy =======================================================================

def numpy_value_and_grad(spec: NetSpec, params: Params, x: np.ndarray, onehot: np.ndarray,
                         per_example: bool = False) -> tuple[np.ndarray, Params]:
    """Loss and gradients by hand. With ``per_example`` every gradient has a leading batch
    axis and is the gradient of that example's own loss."""
    conv_caches = []
    h, i = x, 0
    for layer in spec.convs:
        w, b = params[i], params[i + 1]
        i += 2
        z, cache = nplayers.conv_forward(h, w, 1, layer.padding, 1)
        r = np.maximum(z + b[None, :, None, None], 0)
        h, argmax = nplayers.max_pool_forward(r, 2)
        conv_caches.append((cache, r, argmax))
    pooled_shape = h.shape
    h = h.reshape(h.shape[0], -1)
    dense_inputs = []
    for j in range(len(spec.dense)):
        dense_inputs.append(h)
        h = h @ params[i] + params[i + 1]
        i += 2
        if j < len(spec.dense) - 1:
            h = np.maximum(h, 0)
    value, dh = nplayers.cross_entropy(h, onehot, per_example)

    grads: list[np.ndarray] = []
    for j in reversed(range(len(spec.dense))):
        i -= 2
        h_in, w = dense_inputs[j], params[i]
        if j < len(spec.dense) - 1:
            dh = dh * (dense_inputs[j + 1] > 0)      # relu: its output is the next input
        if per_example:
            grads += [dh, h_in[:, :, None] * dh[:, None, :]]
        else:
            grads += [dh.sum(axis=0), h_in.T @ dh]
        if j > 0 or spec.convs:
            dh = dh @ w.T
    if spec.convs:
        dh = dh.reshape(pooled_shape)
    for k in reversed(range(len(spec.convs))):
        i -= 2
        cache, r, argmax = conv_caches[k]
        dz = nplayers.max_pool_backward(dh, argmax, r.shape, 2) * (r > 0)
        dx, dw = nplayers.conv_backward(dz, cache, need_dx=k > 0, per_example=per_example)
        grads += [dz.sum(axis=(2, 3)) if per_example else dz.sum(axis=(0, 2, 3)), dw]
        if dx is not None:
            dh = dx
    return value, tuple(reversed(grads))
