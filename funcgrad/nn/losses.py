"""Losses: composites of ``fg.numpy``; each reduces with ``reduction`` = 'mean' (default),
'sum' or 'none' (per-element / per-example values)."""

from __future__ import annotations

from typing import Any

import funcgrad.numpy as fnp
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.nn.activations import log_softmax, one_hot, softplus

Array = Any

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "l1_loss", "mse"]


def _reduce(per: Array, reduction: str) -> Array:
    if reduction == "mean":
        return fnp.mean(per)
    if reduction == "sum":
        return fnp.sum(per)
    if reduction == "none":
        return per
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def cross_entropy(logits: Array, labels: Array, *, axis: int = -1,
                  reduction: str = "mean") -> Array:
    """Softmax cross-entropy between ``logits`` and integer labels or target distributions.

    Integer ``labels`` (shape ``logits.shape`` without ``axis``) are class indices; floating
    ``labels`` (shape of ``logits``) are one-hot or soft targets. Stable for logits of 1e4.

    Args:
      logits: unnormalised scores, classes along ``axis`` (the last by default; use
        ``axis=1`` for ``(N, C, H, W)`` logits).
      labels: class indices or target probabilities.
      axis: the class axis.
      reduction: 'mean' (over examples), 'sum' or 'none'.

    Returns:
      The loss (a scalar unless ``reduction='none'``).

    >>> import numpy as np
    >>> cross_entropy(np.array([[0.0, 0.0], [1e4, 0.0]]), np.array([0, 0])).round(4)
    np.float64(0.3466)
    """
    logits = fnp.asarray(logits)
    logp = log_softmax(logits, axis=axis)
    labels = fnp.asarray(labels)
    ax = axis % logits.ndim if logits.ndim else axis
    index_shape = logits.shape[:ax] + logits.shape[ax + 1:]
    if labels.dtype.kind in "iub":
        if labels.shape != index_shape:
            raise FuncgradValueError(at_user_line(
                f"cross_entropy: integer labels (class indices) must have shape {index_shape} "
                f"(logits shape {logits.shape} without the class axis), got {labels.shape}"))
        targets = one_hot(labels, logits.shape[axis], dtype=logp.dtype, axis=axis)
    elif labels.shape == logits.shape:
        targets = labels
    elif labels.shape == index_shape:
        raise FuncgradTypeError(at_user_line(
            f"cross_entropy: labels of shape {labels.shape} are class indices for logits of "
            f"shape {logits.shape}, but have dtype {labels.dtype}: cast them to an integer "
            f"dtype (floating labels must be probabilities shaped like the logits)"))
    else:
        raise FuncgradValueError(at_user_line(
            f"cross_entropy: labels of shape {labels.shape} fit neither logits of shape "
            f"{logits.shape} (probabilities) nor {index_shape} (integer class indices)"))
    return _reduce(-fnp.sum(targets * logp, axis=axis), reduction)


def binary_cross_entropy_with_logits(logits: Array, targets: Array, *,
                                     reduction: str = "mean") -> Array:
    """``-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]``, computed as
    ``softplus(x) - t x`` (stable, exact derivative ``sigmoid(x) - t`` everywhere).

    Args:
      logits: unnormalised scores.
      targets: probabilities in [0, 1], shaped like ``logits``.
      reduction: 'mean', 'sum' or 'none'.

    Returns:
      The loss.

    >>> import numpy as np
    >>> binary_cross_entropy_with_logits(np.array([0.0, 1e4]), np.array([1.0, 1.0])).round(4)
    np.float64(0.3466)
    """
    logits = fnp.asarray(logits)
    return _reduce(softplus(logits) - logits * targets, reduction)


def mse(predictions: Array, targets: Array, *, reduction: str = "mean") -> Array:
    """Mean squared error ``mean((predictions - targets) ** 2)``.

    Args:
      predictions: model outputs.
      targets: wanted outputs (broadcastable).
      reduction: 'mean', 'sum' or 'none'.

    Returns:
      The loss.

    >>> import numpy as np
    >>> mse(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    array(2.5)
    """
    d = fnp.subtract(predictions, targets)
    return _reduce(d * d, reduction)


def l1_loss(predictions: Array, targets: Array, *, reduction: str = "mean") -> Array:
    """Mean absolute error ``mean(|predictions - targets|)``.

    Args:
      predictions: model outputs.
      targets: wanted outputs (broadcastable).
      reduction: 'mean', 'sum' or 'none'.

    Returns:
      The loss.

    >>> import numpy as np
    >>> l1_loss(np.array([1.0, -3.0]), np.array([0.0, 0.0]))
    array(2.)
    """
    return _reduce(fnp.abs(fnp.subtract(predictions, targets)), reduction)


def huber_loss(predictions: Array, targets: Array, delta: float = 1.0, *,
               reduction: str = "mean") -> Array:
    """Huber loss: ``d^2 / 2`` for ``|d| <= delta``, else ``delta * (|d| - delta / 2)``.

    Args:
      predictions: model outputs.
      targets: wanted outputs (broadcastable).
      delta: where the quadratic part turns linear.
      reduction: 'mean', 'sum' or 'none'.

    Returns:
      The loss.

    >>> import numpy as np
    >>> huber_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction='none')
    array([0.125, 2.5  ])
    """
    d = fnp.subtract(predictions, targets)
    a = fnp.abs(d)
    delta = float(delta)
    return _reduce(fnp.where(a <= delta, d * d * 0.5, (a - delta * 0.5) * delta), reduction)
