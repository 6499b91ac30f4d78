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
from funcgrad.core.errors import FuncgradValueError, at_user_line
from funcgrad.transforms.custom import custom_jvp, custom_vjp, stop_gradient

Array = Any

__all__ = [
    "celu", "dot_product_attention", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "log_sigmoid", "log_softmax", "logsumexp", "mish",
    "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "sparse_plus",
    "standardize", "swish", "tanh",
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
    return _relu(_float(x))


# relu is max(x, 0) in one pass with the derivative select(x > 0, g, 0), as jax.nn.relu (a
# custom_jvp of jnp.maximum): so NaN stays NaN, -0.0 gives +0.0, and the derivative at 0 is
# 0 (max's own rule would split a tie). ``_relu_jvp`` carries that rule for forward mode and
# for outer transforms; the custom_vjp around it records reverse mode as one tape entry whose
# backward is one comparison and one select on the saved output (y > 0 exactly where x > 0),
# instead of transposing the JVP rule at every backward pass.

def _zeros(x: Array) -> Array:
    return lax.full_like(x, 0)


@custom_jvp
def _relu_jvp(x: Array) -> Array:
    return lax.max(x, _zeros(x))


@_relu_jvp.defjvp
def _relu_jvp_rule(primals: Sequence[Array], tangents: Sequence[Array]) -> tuple[Array, Array]:
    (x,), (t,) = primals, tangents
    return _relu_jvp(x), lax.select(lax.gt(x, _zeros(x)), t, _zeros(t))


@custom_vjp
def _relu(x: Array) -> Array:
    return _relu_jvp(x)


def _relu_fwd(x: Array) -> tuple[Array, Array]:
    y = _relu_jvp(x)
    return y, y


def _relu_bwd(y: Array, g: Array) -> tuple[Array]:
    return (lax.select(lax.gt(y, _zeros(y)), g, _zeros(g)),)


_relu.defvjp(_relu_fwd, _relu_bwd)
_relu._jvp_ok = True  # forward mode differentiates the primal: _relu_jvp's rule


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
    if any(not -ndim <= int(a) < ndim for a in axes):  # a wrapped axis is a wrong answer
        raise np.exceptions.AxisError(at_user_line(
            f"axis {axis} is out of bounds for an array of dimension {ndim}"))
    return tuple(sorted(int(a) % ndim for a in axes))


def _stable_max(x: Array, axes: tuple[int, ...]) -> Array:
    # The shift by the maximum, without gradient; a row of -inf shifts by 0 instead of nan.
    m = fnp.max(x, axis=axes, keepdims=True)
    return stop_gradient(fnp.where(fnp.isfinite(m), m, 0))


def _masked_max(x: Array, axes: tuple[int, ...], where: Array | None) -> Array:
    return _stable_max(x if where is None else fnp.where(where, x, -np.inf), axes)


def logsumexp(a: Array, axis: int | Sequence[int] | None = None, b: Array | None = None,
              keepdims: bool = False, return_sign: bool = False,
              where: Array | None = None) -> Array:
    """``log(sum(b * exp(a), axis, where=where))`` without overflow, as
    ``jax.nn.logsumexp`` / ``jax.scipy.special.logsumexp``.

    Args:
      a: input array.
      axis: axis or axes to reduce (None: all).
      b: optional scale factors broadcastable against ``a`` (may be negative with
        ``return_sign``).
      keepdims: keep the reduced axes with size 1.
      return_sign: also return the sign of the sum; the first output is then ``log|sum|``.
      where: boolean mask of the elements to include (an empty selection gives ``-inf``).

    Returns:
      The reduced array, or ``(log|sum|, sign)`` with ``return_sign``.

    >>> import numpy as np
    >>> logsumexp(np.array([1e4, 1e4]))
    array(10000.69314718)
    >>> logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -2.0]), return_sign=True)
    (array(0.), array(-1.))
    """
    a = _float(a)
    if b is not None:
        b = fnp.asarray(b)
        dtype = fnp.result_type(a, b)
        a, b = fnp.broadcast_arrays(fnp.asarray(a, dtype), fnp.asarray(b, dtype))
    if where is not None:
        a, where = fnp.broadcast_arrays(a, fnp.asarray(where, bool))
    axes = _axes_tuple(a.ndim, axis)
    m = _masked_max(a, axes, where)
    e = fnp.exp(a - m)
    if b is not None:
        e = e * b
    if where is not None:
        e = fnp.where(where, e, 0)
    total = fnp.sum(e, axis=axes, keepdims=True)
    sign = None
    if return_sign:
        sign = fnp.sign(total)
        total = fnp.abs(total)
    out = fnp.log(total) + m
    if not keepdims:
        out = fnp.squeeze(out, axis=axes)
        sign = None if sign is None else fnp.squeeze(sign, axis=axes)
    return (out, sign) if return_sign else out


def softmax(x: Array, axis: int | Sequence[int] | None = -1,
            where: Array | None = None) -> Array:
    """``exp(x) / sum(exp(x), axis)``, shifted by the (gradient-free) maximum.

    Args:
      x: logits.
      axis: the axis (or axes; None: all) that sums to one.
      where: elements to include; the others get probability 0.

    Returns:
      Probabilities shaped like ``x``.

    >>> import numpy as np
    >>> softmax(np.array([1e4, 1e4, -1e4]))
    array([0.5, 0.5, 0. ])
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    if where is not None:
        where = fnp.broadcast_to(fnp.asarray(where, bool), x.shape)
    unnormalised = fnp.exp(x - _masked_max(x, axes, where))
    if where is not None:
        unnormalised = fnp.where(where, unnormalised, 0)
    return unnormalised / fnp.sum(unnormalised, axis=axes, keepdims=True)


def log_softmax(x: Array, axis: int | Sequence[int] | None = -1,
                where: Array | None = None) -> Array:
    """``x - logsumexp(x, axis)``, shifted by the (gradient-free) maximum.

    Args:
      x: logits.
      axis: the normalised axis (or axes; None: all).
      where: elements to include; the others get ``-inf``.

    Returns:
      Log-probabilities shaped like ``x``.

    >>> import numpy as np
    >>> log_softmax(np.array([1e4, 0.0])).round(3)
    array([     0., -10000.])
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    if where is None:
        return _log_softmax_lax(x, axes)
    where = fnp.broadcast_to(fnp.asarray(where, bool), x.shape)
    shifted = x - _masked_max(x, axes, where)
    e = fnp.exp(shifted)
    if where is not None:
        e = fnp.where(where, e, 0)
    out = shifted - fnp.log(fnp.sum(e, axis=axes, keepdims=True))
    return out if where is None else fnp.where(where, out, -np.inf)


def _log_softmax_lax(x: Array, axes: tuple[int, ...]) -> Array:
    """``log_softmax`` without ``where``, binding the primitives of the fnp composite below
    directly (reduce_max, reshape, is_finite, select, stop_gradient, broadcast_in_dim, sub,
    exp, reduce_sum, reshape, log, broadcast_in_dim, sub): bitwise the same, without fnp's
    per-call promotion and broadcasting work."""
    kept = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    dims = tuple(range(x.ndim))
    m = lax.reshape(lax.reduce_max(x, axes), kept)
    m = stop_gradient(lax.select(lax.is_finite(m), m, lax.full_like(m, 0)))
    shifted = lax.sub(x, lax.broadcast_in_dim(m, x.shape, dims))
    total = lax.reshape(lax.reduce_sum(lax.exp(shifted), axes), kept)
    return lax.sub(shifted, lax.broadcast_in_dim(lax.log(total), x.shape, dims))


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


# == more activations, as jax.nn ==============================================================

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Array) -> Array:
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalising constants.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> selu(np.array([0.0, 1.0])).round(6)
    array([0.      , 1.050701])
    """
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def celu(x: Array, alpha: float = 1.0) -> Array:
    """Continuously differentiable ELU: ``x`` for ``x > 0``, else ``alpha expm1(x / alpha)``.

    Args:
      x: input array.
      alpha: the saturation value for large negative inputs is ``-alpha``.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> celu(np.array([-1e4, 2.0]), 0.5)
    array([-0.5,  2. ])
    """
    # elu(x / alpha) * alpha: x for x > 0, else alpha expm1(x / alpha)
    return elu(_float(x) / float(alpha)) * float(alpha)


def glu(x: Array, axis: int = -1) -> Array:
    """Gated linear unit: the first half of ``axis`` times the sigmoid of the second.

    Args:
      x: input array; ``x.shape[axis]`` must be even.
      axis: the split axis.

    Returns:
      ``x`` with ``axis`` halved.

    >>> import numpy as np
    >>> glu(np.array([2.0, 0.0]))
    array([1.])
    """
    x = _float(x)
    size = x.shape[axis]
    if size % 2:
        raise FuncgradValueError(at_user_line(
            f"glu: axis {axis} of x {x.shape} must have even size, got {size}"))
    first, second = fnp.split(x, 2, axis=axis)
    return first * sigmoid(second)


def log_sigmoid(x: Array) -> Array:
    """``log(sigmoid(x)) = -softplus(-x)``, without overflow.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> log_sigmoid(np.array([-1e4, 0.0])).round(6)
    array([-1.00000e+04, -6.93147e-01])
    """
    return -softplus(-_float(x))


def hard_tanh(x: Array) -> Array:
    """``x`` clipped to ``[-1, 1]`` (derivative 1 strictly inside, else 0).

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> hard_tanh(np.array([-3.0, 0.5, 3.0]))
    array([-1. ,  0.5,  1. ])
    """
    x = _float(x)
    return fnp.where(x > 1, 1, fnp.where(x < -1, -1, x))


def hard_sigmoid(x: Array) -> Array:
    """``relu6(x + 3) / 6``.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> hard_sigmoid(np.array([-4.0, 0.0, 4.0]))
    array([0. , 0.5, 1. ])
    """
    return relu6(_float(x) + 3.0) / 6.0


def hard_silu(x: Array) -> Array:
    """``x * hard_sigmoid(x)`` (also called hard swish).

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> hard_silu(np.array([-4.0, 1.0]))
    array([-0.        ,  0.66666667])
    """
    x = _float(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu
swish = silu


def mish(x: Array) -> Array:
    """``x * tanh(softplus(x))``.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> mish(np.array([0.0, 1.0])).round(6)
    array([0.      , 0.865098])
    """
    x = _float(x)
    return x * fnp.tanh(softplus(x))


def sparse_plus(x: Array) -> Array:
    """``0`` for ``x <= -1``, ``(x + 1)^2 / 4`` on ``(-1, 1)``, ``x`` for ``x >= 1``.

    Args:
      x: input array.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> sparse_plus(np.array([-2.0, 0.0, 2.0]))
    array([0.  , 0.25, 2.  ])
    """
    x = _float(x)
    return fnp.where(x <= -1, 0, fnp.where(x >= 1, x, (x + 1) * (x + 1) * 0.25))


def standardize(x: Array, axis: int | Sequence[int] | None = -1, mean: Array | None = None,
                variance: Array | None = None, epsilon: float = 1e-5,
                where: Array | None = None) -> Array:
    """``(x - mean) / sqrt(variance + epsilon)`` over ``axis``, as ``jax.nn.standardize``.

    Args:
      x: input array.
      axis: the axis (or axes) to normalise over.
      mean: precomputed mean (broadcastable, keepdims shape); computed if None.
      variance: precomputed variance ``E[x^2] - E[x]^2``; computed if None.
      epsilon: added to the variance.
      where: elements to include in the statistics.

    Returns:
      An array like ``x``.

    >>> import numpy as np
    >>> standardize(np.array([1.0, 3.0]), epsilon=0.0)
    array([-1.,  1.])
    """
    x = _float(x)
    axes = _axes_tuple(x.ndim, axis)
    w = None if where is None else fnp.broadcast_to(fnp.asarray(where, bool), x.shape)

    def average(v: Array) -> Array:
        if w is None:
            return fnp.mean(v, axis=axes, keepdims=True)
        total = fnp.sum(fnp.where(w, v, 0), axis=axes, keepdims=True)
        return total / fnp.sum(fnp.asarray(w, x.dtype), axis=axes, keepdims=True)

    if mean is None:
        mean = average(x)
    if variance is None:
        variance = average(x * x) - mean * mean
    return (x - mean) / fnp.sqrt(variance + float(epsilon))


def _attention_mask(t: int, s: int, is_causal: bool, local_window_size: Any,
                    query_seq_lengths: Array | None, key_value_seq_lengths: Array | None
                    ) -> Array | None:
    """The boolean mask ``(B or 1, 1, T, S)`` the keyword options ask for (None: all)."""
    if not (is_causal or local_window_size is not None or query_seq_lengths is not None
            or key_value_seq_lengths is not None):
        return None
    rows = np.arange(t)[:, None]
    cols = np.arange(s)[None, :]
    mask = np.ones((t, s), bool)
    if is_causal:
        mask &= cols <= rows
    if local_window_size is not None:
        left, right = ((local_window_size, local_window_size)
                       if isinstance(local_window_size, int) else local_window_size)
        mask &= (cols >= rows - left) & (cols <= rows + right)
    out: Array = mask[None, None]
    if query_seq_lengths is not None:
        q_len = fnp.reshape(fnp.asarray(query_seq_lengths), (-1, 1, 1, 1))
        out = fnp.logical_and(out, np.arange(t)[None, None, :, None] < q_len)
    if key_value_seq_lengths is not None:
        kv_len = fnp.reshape(fnp.asarray(key_value_seq_lengths), (-1, 1, 1, 1))
        out = fnp.logical_and(out, np.arange(s)[None, None, None, :] < kv_len)
    return out


def dot_product_attention(query: Array, key: Array, value: Array, bias: Array | None = None,
                          mask: Array | None = None, *, scale: float | None = None,
                          is_causal: bool = False, query_seq_lengths: Array | None = None,
                          key_value_seq_lengths: Array | None = None,
                          local_window_size: int | tuple[int, int] | None = None,
                          implementation: str | None = None) -> Array:
    """Scaled dot-product attention, as ``jax.nn.dot_product_attention`` (its ``"xla"`` path).

    ``softmax(q k^T * scale + bias, masked) v`` per head. Shapes are JAX's: ``query`` is
    ``(B, T, N, H)`` (or ``(T, N, H)``), ``key``/``value`` ``(B, S, K, H)`` with ``N`` a
    multiple of ``K`` (grouped-query attention); ``bias``/``mask`` broadcast to ``(B, N, T, S)``.
    Masked logits get a large negative number (as JAX), so a fully masked row averages ``v``.

    Args:
      query, key, value: the attention inputs.
      bias: added to the logits.
      mask: boolean, True where attention is allowed.
      scale: the logit scale (default ``1 / sqrt(H)``).
      is_causal: mask keys after the query position.
      query_seq_lengths, key_value_seq_lengths: per-batch valid lengths ``(B,)``.
      local_window_size: ``w`` or ``(left, right)``: attend only within that window.
      implementation: ``None`` or ``"xla"`` (accepted for compatibility).

    Returns:
      ``(B, T, N, H)`` like ``query``.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 2, 1, 4))
    >>> dot_product_attention(q, k, v).shape
    (1, 2, 1, 4)
    """
    if implementation not in (None, "xla"):
        raise FuncgradValueError(at_user_line(
            f"dot_product_attention: implementation must be None or 'xla', got "
            f"{implementation!r}"))
    q, k, v = _float(query), _float(key), _float(value)
    unbatched = q.ndim == 3
    if unbatched:
        q, k, v = (fnp.expand_dims(a, 0) for a in (q, k, v))
    if q.ndim != 4 or k.ndim != 4 or v.shape != k.shape or q.shape[-1] != k.shape[-1] \
            or q.shape[0] != k.shape[0] or q.shape[2] % k.shape[2]:
        raise FuncgradValueError(at_user_line(
            f"dot_product_attention: expected query (B, T, N, H) and key = value shapes "
            f"(B, S, K, H) with K dividing N, got {query.shape}, {key.shape}, {value.shape}"))
    t, h = q.shape[1], q.shape[3]
    s, groups = k.shape[1], q.shape[2] // k.shape[2]
    if groups > 1:  # grouped-query attention: each key head serves `groups` query heads
        k = fnp.repeat(k, groups, axis=2)
        v = fnp.repeat(v, groups, axis=2)
    factor = float(1 / math.sqrt(h) if scale is None else scale)
    logits = fnp.einsum("btnh,bsnh->bnts", q, k) * factor
    if bias is not None:
        bias = fnp.asarray(bias)
        logits = logits + (fnp.expand_dims(bias, 0) if unbatched and bias.ndim == 3 else bias)
    allowed = _attention_mask(t, s, is_causal, local_window_size, query_seq_lengths,
                              key_value_seq_lengths)
    if mask is not None:
        m = fnp.asarray(mask, bool)
        m = fnp.expand_dims(m, 0) if unbatched and m.ndim == 3 else m
        allowed = m if allowed is None else fnp.logical_and(allowed, m)
    if allowed is not None:
        logits = fnp.where(allowed, logits, float(np.finfo(logits.dtype).min) * 0.7)
    probs = softmax(logits, axis=-1)
    out = fnp.einsum("bnts,bsnh->btnh", probs, v)
    if query_seq_lengths is not None:  # padded query positions give zeros (as JAX)
        q_len = fnp.reshape(fnp.asarray(query_seq_lengths), (-1, 1, 1, 1))
        out = fnp.where(np.arange(t)[None, :, None, None] < q_len, out, 0)
    return out[0] if unbatched else out
