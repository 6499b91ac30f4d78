"""Activations, the softmax family and ``one_hot``: composites of ``fg.numpy`` and ``fg.lax``.

Every function is stable for logits of magnitude 1e4 (no overflow to inf/nan), keeps the input's
floating dtype (float32 stays float32), and has derivatives of every order. Shifts by the
maximum (softmax, log_softmax, logsumexp) carry no gradient (``stop_gradient``): the shift
cancels mathematically, so stopping it is exact and keeps ties in the maximum from mattering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.transforms.custom import stop_gradient

Array = Any

__all__ = [
    "elu", "gelu", "leaky_relu", "log_softmax", "logsumexp", "one_hot", "relu", "relu6",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]


def _float(x: Array) -> Array:
    x = fnp.asarray(x)
    return x if x.dtype.kind in "fc" else fnp.asarray(x, np.float64)


def relu(x: Array) -> Array:
    """``max(x, 0)``, with derivative 0 at 0 (as ``jax.nn.relu``).

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    x = _float(x)
    return fnp.where(x > 0, x, 0)


def relu6(x: Array) -> Array:
    """``min(max(x, 0), 6)``; derivative 1 strictly inside (0, 6), else 0.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> relu6(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """
    x = _float(x)
    return fnp.where(x > 0, fnp.where(x < 6, x, 6), 0)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    """``x`` for ``x >= 0``, else ``negative_slope * x``.

    Args:
      x: input array.
      negative_slope: the slope for negative inputs.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> leaky_relu(np.array([-2.0, 3.0]), 0.1)
    array([-0.2,  3. ])
    """
    x = _float(x)
    return fnp.where(x >= 0, x, x * float(negative_slope))


def elu(x: Array, alpha: float = 1.0) -> Array:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
      x: input array.
      alpha: the saturation value for large negative inputs is ``-alpha``.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> elu(np.array([-1e4, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    """
    x = _float(x)
    positive = x > 0
    # exp is only evaluated on the negative side, so large positive x cannot overflow.
    safe = fnp.where(positive, 0, x)
    return fnp.where(positive, x, fnp.expm1(safe) * float(alpha))


def gelu(x: Array, approximate: bool = True) -> Array:
    """Gaussian error linear unit.

    ``approximate=True`` (the default, as ``jax.nn.gelu``; PyTorch defaults to exact) is the
    tanh form ``x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))``; ``approximate=False``
    is the exact ``x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))``.

    Args:
      x: input array.
      approximate: use the tanh approximation.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> gelu(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.8412])
    >>> gelu(np.array([0.0, 1.0]), approximate=False).round(4)
    array([0.    , 0.8413])
    """
    x = _float(x)
    if approximate:
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * 0.5 * (fnp.tanh(inner) + 1.0)
    return x * 0.5 * (lax.erf(x * (1 / math.sqrt(2))) + 1.0)


def sigmoid(x: Array) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``, exact on both tails.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> sigmoid(np.array([-1e4, 0.0, 1e4]))
    array([0. , 0.5, 1. ])
    """
    return lax.logistic(_float(x))


def silu(x: Array) -> Array:
    """``x * sigmoid(x)`` (also called swish).

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> silu(np.array([0.0, 1e4]))
    array([    0., 10000.])
    """
    x = _float(x)
    return x * sigmoid(x)


def softplus(x: Array) -> Array:
    """``log(1 + exp(x))`` without overflow (``logaddexp(x, 0)``); ``softplus'(0) = 1/2``.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> softplus(np.array([-1e4, 0.0, 1e4])).round(4)
    array([0.000e+00, 6.931e-01, 1.000e+04])
    """
    x = _float(x)
    # A zero of x's own dtype: fnp.logaddexp(x, 0.0) promotes float32 to float64.
    return fnp.logaddexp(x, np.zeros((), x.dtype))


def tanh(x: Array) -> Array:
    """Hyperbolic tangent.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> tanh(np.array([0.0, 1e4]))
    array([0., 1.])
    """
    return fnp.tanh(_float(x))


def _axes_tuple(ndim: int, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


def _stable_max(x: Array, axes: tuple[int, ...]) -> Array:
    # The shift by the maximum, without gradient; a row of -inf shifts by 0 instead of nan.
    m = fnp.max(x, axis=axes, keepdims=True)
    return stop_gradient(fnp.where(fnp.isfinite(m), m, 0))


def logsumexp(x: Array, axis: int | Sequence[int] | None = None,
              keepdims: bool = False) -> Array:
    """``log(sum(exp(x), axis))`` without overflow.

    Args:
      x: input array.
      axis: axis or axes to reduce (None: all).
      keepdims: keep the reduced axes with size 1.

    Returns:
      The reduced array.

    >>> import numpy as np
    >>> logsumexp(np.array([1e4, 1e4]))
    array(10000.69314718)
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    m = _stable_max(x, axes)
    out = fnp.log(fnp.sum(fnp.exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else fnp.squeeze(out, axis=axes)


def softmax(x: Array, axis: int | Sequence[int] = -1) -> Array:
    """``exp(x) / sum(exp(x), axis)``, shifted by the (gradient-free) maximum.

    Args:
      x: logits.
      axis: the axis (or axes) that sums to one.

    Returns:
      Probabilities shaped like ``x``.

    >>> import numpy as np
    >>> softmax(np.array([1e4, 1e4, -1e4]))
    array([0.5, 0.5, 0. ])
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    unnormalised = fnp.exp(x - _stable_max(x, axes))
    return unnormalised / fnp.sum(unnormalised, axis=axes, keepdims=True)


def log_softmax(x: Array, axis: int | Sequence[int] = -1) -> Array:
    """``x - logsumexp(x, axis)``, shifted by the (gradient-free) maximum.

    Args:
      x: logits.
      axis: the normalised axis (or axes).

    Returns:
      Log-probabilities shaped like ``x``.

    >>> import numpy as np
    >>> log_softmax(np.array([1e4, 0.0])).round(3)
    array([     0., -10000.])
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    shifted = x - _stable_max(x, axes)
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axes, keepdims=True))


def one_hot(x: Array, num_classes: int, dtype: Any = np.float64, axis: int = -1) -> Array:
    """One-hot encode integer labels along a new axis, as ``jax.nn.one_hot``; labels outside
    ``[0, num_classes)`` give all-zero rows.

    Args:
      x: integer labels.
      num_classes: length of the new axis.
      dtype: dtype of the result.
      axis: where the new axis goes.

    Returns:
      ``x.shape`` with ``num_classes`` inserted at ``axis``.

    >>> import numpy as np
    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    x = fnp.asarray(x)
    out_ndim = x.ndim + 1
    axis = int(axis) % out_ndim
    shape = [1] * out_ndim
    shape[axis] = int(num_classes)
    classes = np.arange(num_classes).reshape(shape)
    return fnp.asarray(fnp.expand_dims(x, axis) == classes, dtype)
