"""Parameter initialisers with ``jax.nn.initializers``' API: each returns (or is)
``init(key, shape, dtype=float32) -> array`` for a :mod:`funcgrad.random` key.

Fan-in and fan-out follow funcgrad's layouts by default, not JAX's: a dense kernel is
``(in, out)`` (the same as JAX), a conv kernel is ``(C_out, C_in, *kernel)`` (OIHW, PyTorch's),
so for ``ndim > 2`` the default is ``in_axis=1, out_axis=0`` where JAX assumes HWIO
(``in_axis=-2, out_axis=-1``). Pass ``in_axis``/``out_axis`` explicitly for other layouts;
the receptive field is the product of the remaining (non-batch) axes. ``orthogonal``'s default
``column_axis`` is likewise the output axis (``-1`` for ``ndim <= 2``, ``0`` above). The
default dtype is float32 (JAX's default without x64). The draws come from ``fg.random``'s
Philox streams, so the numbers differ from JAX's for the same seed; the distributions match.

>>> import funcgrad as fg
>>> w = fg.nn.initializers.glorot_uniform()(fg.random.key(0), (64, 32))
>>> w.shape, w.dtype
((64, 32), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import random
from funcgrad.core.errors import FuncgradValueError

__all__ = [
    "compute_fans", "constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
    "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform", "normal", "ones",
    "orthogonal", "truncated_normal", "uniform", "variance_scaling", "xavier_normal",
    "xavier_uniform", "zeros",
]

Initializer = Callable[..., Any]
Shape = Sequence[int]
Axes = int | Sequence[int]
DEFAULT_DTYPE = np.float32


def _shape(shape: int | Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise FuncgradValueError(f"{name}: dtype must be a real floating dtype, got {dt}")
    return dt


def zeros(key: Any, shape: int | Shape, dtype: Any = DEFAULT_DTYPE) -> Any:
    """All zeros (``key`` is ignored).

    >>> zeros(None, (2,))
    array([0., 0.], dtype=float32)
    """
    return np.zeros(_shape(shape), dtype=dtype)


def ones(key: Any, shape: int | Shape, dtype: Any = DEFAULT_DTYPE) -> Any:
    """All ones (``key`` is ignored).

    >>> ones(None, (2,))
    array([1., 1.], dtype=float32)
    """
    return np.ones(_shape(shape), dtype=dtype)


def constant(value: Any, dtype: Any = DEFAULT_DTYPE) -> Initializer:
    """An initialiser filling with ``value`` (broadcast to the shape).

    >>> constant(0.5)(None, (2,))
    array([0.5, 0.5], dtype=float32)
    """
    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        return np.broadcast_to(np.asarray(value, dtype=dtype), _shape(shape)).copy()
    return init


def normal(stddev: float = 1e-2, dtype: Any = DEFAULT_DTYPE) -> Initializer:
    """``N(0, stddev^2)`` draws.

    >>> normal(1.0)(random.key(0), (3,)).shape
    (3,)
    """
    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "normal")
        return fnp.asarray(random.normal(key, _shape(shape), dt) * stddev, dtype=dt)
    return init


def uniform(scale: float = 1e-2, dtype: Any = DEFAULT_DTYPE) -> Initializer:
    """Uniform draws on ``[0, scale)`` (as JAX).

    >>> bool((uniform(1.0)(random.key(0), (9,)) >= 0).all())
    True
    """
    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "uniform")
        return fnp.asarray(random.uniform(key, _shape(shape), dt) * scale, dtype=dt)
    return init


def truncated_normal(stddev: float = 1e-2, dtype: Any = DEFAULT_DTYPE, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:
    """``stddev`` times a standard normal truncated to ``(lower, upper)``.

    >>> float(abs(truncated_normal(1.0)(random.key(0), (100,))).max()) < 2.0
    True
    """
    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "truncated_normal")
        x = random.truncated_normal(key, lower, upper, _shape(shape), np.float64)
        return fnp.asarray(x * stddev, dtype=dt)
    return init


def _axes(a: Axes, ndim: int) -> tuple[int, ...]:
    t = (a,) if isinstance(a, (int, np.integer)) else tuple(a)
    out = []
    for ax in t:
        if not -ndim <= int(ax) < ndim:
            raise FuncgradValueError(f"axis {ax} is out of range for a shape of rank {ndim}")
        out.append(int(ax) % ndim)
    return tuple(out)


def compute_fans(shape: Shape, in_axis: Axes | None = None, out_axis: Axes | None = None,
                 batch_axis: Axes = ()) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a kernel shape; ``None`` axes mean funcgrad's layouts
    (``(in, out)`` dense, ``(C_out, C_in, *kernel)`` conv).

    >>> compute_fans((16, 3, 5, 5)), compute_fans((16, 3, 5, 5), in_axis=-2, out_axis=-1)
    ((75.0, 400.0), (240.0, 240.0))
    """
    s = _shape(shape)
    if len(s) < 1:
        return 1.0, 1.0
    if len(s) == 1:
        return float(s[0]), float(s[0])
    conv = len(s) > 2
    ia = _axes((1 if conv else -2) if in_axis is None else in_axis, len(s))
    oa = _axes((0 if conv else -1) if out_axis is None else out_axis, len(s))
    ba = _axes(batch_axis, len(s))
    if set(ia) & set(oa) or (set(ia) | set(oa)) & set(ba):
        raise FuncgradValueError(f"in_axis {ia}, out_axis {oa} and batch_axis {ba} must be "
                                 f"disjoint for shape {s}")
    rf = float(np.prod([d for i, d in enumerate(s) if i not in ia + oa + ba]))
    return float(np.prod([s[i] for i in ia])) * rf, float(np.prod([s[i] for i in oa])) * rf


# stddev of the standard normal truncated to (-2, 2): scale so the truncated draw has the variance
_TRUNC_STD = 0.87962566103423978


def variance_scaling(scale: float, mode: str, distribution: str,
                     in_axis: Axes | None = None, out_axis: Axes | None = None,
                     batch_axis: Axes = (), dtype: Any = DEFAULT_DTYPE) -> Initializer:
    """Draws with variance ``scale / n``, ``n`` the fan-in, fan-out or their average
    (``mode`` ``"fan_in" | "fan_out" | "fan_avg"``), from ``distribution``
    ``"truncated_normal" | "normal" | "uniform"`` (as ``jax.nn.initializers``).

    >>> w = variance_scaling(2.0, "fan_in", "normal")(random.key(0), (1000, 200))
    >>> bool(abs(w.var() * 1000 / 2.0 - 1) < 0.05)
    True
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise FuncgradValueError(f"variance_scaling: mode must be 'fan_in', 'fan_out' or "
                                 f"'fan_avg', got {mode!r}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise FuncgradValueError(f"variance_scaling: distribution must be 'truncated_normal', "
                                 f"'normal' or 'uniform', got {distribution!r}")

    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "variance_scaling")
        s = _shape(shape)
        fan_in, fan_out = compute_fans(s, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        var = scale / max(n, 1.0)
        if distribution == "truncated_normal":
            x = random.truncated_normal(key, -2.0, 2.0, s, np.float64) * (np.sqrt(var)
                                                                        / _TRUNC_STD)
        elif distribution == "normal":
            x = random.normal(key, s, np.float64) * np.sqrt(var)
        else:
            x = random.uniform(key, s, np.float64, -1.0, 1.0) * np.sqrt(3 * var)
        return fnp.asarray(x, dtype=dt)
    return init


def _family(scale: float, mode: str, distribution: str, doc: str) -> Callable[..., Initializer]:
    def make(in_axis: Axes | None = None, out_axis: Axes | None = None, batch_axis: Axes = (),
             dtype: Any = DEFAULT_DTYPE) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)
    make.__doc__ = doc
    return make


glorot_uniform = _family(1.0, "fan_avg", "uniform", """Glorot/Xavier uniform:
    ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``.

    >>> glorot_uniform()(random.key(0), (4, 3)).shape
    (4, 3)
    """)
glorot_normal = _family(1.0, "fan_avg", "truncated_normal", """Glorot/Xavier normal: truncated
    normal with variance ``2 / (fan_in + fan_out)``.

    >>> glorot_normal()(random.key(0), (4, 3)).shape
    (4, 3)
    """)
he_uniform = _family(2.0, "fan_in", "uniform", """He/Kaiming uniform: ``U(-a, a)``,
    ``a = sqrt(6 / fan_in)``.

    >>> he_uniform()(random.key(0), (8, 3, 3, 3)).shape
    (8, 3, 3, 3)
    """)
he_normal = _family(2.0, "fan_in", "truncated_normal", """He/Kaiming normal: truncated normal
    with variance ``2 / fan_in``.

    >>> he_normal()(random.key(0), (8, 3, 3, 3)).shape
    (8, 3, 3, 3)
    """)
lecun_uniform = _family(1.0, "fan_in", "uniform", """LeCun uniform: ``U(-a, a)``,
    ``a = sqrt(3 / fan_in)``.

    >>> lecun_uniform()(random.key(0), (4, 3)).shape
    (4, 3)
    """)
lecun_normal = _family(1.0, "fan_in", "truncated_normal", """LeCun normal: truncated normal with
    variance ``1 / fan_in``.

    >>> lecun_normal()(random.key(0), (4, 3)).shape
    (4, 3)
    """)
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def orthogonal(scale: float = 1.0, column_axis: int | None = None,
               dtype: Any = DEFAULT_DTYPE) -> Initializer:
    """A (semi-)orthogonal matrix: the shape flattened to ``(rows, shape[column_axis])`` has
    orthonormal columns (or rows, when wide), times ``scale``. ``column_axis`` defaults to the
    output axis of funcgrad's layouts (``-1`` for ``ndim <= 2``, ``0`` for conv kernels).

    >>> w = orthogonal()(random.key(0), (5, 3))
    >>> bool(np.allclose(w.T @ w, np.eye(3), atol=1e-6))
    True
    """
    def init(key: Any, shape: int | Shape, dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "orthogonal")
        s = _shape(shape)
        if len(s) < 2:
            raise FuncgradValueError(f"orthogonal: shape must have at least 2 axes, got {s}")
        ca = _axes((0 if len(s) > 2 else -1) if column_axis is None else column_axis,
                   len(s))[0]
        n_cols = s[ca]
        n_rows = int(np.prod(s)) // n_cols
        tall = (n_rows, n_cols) if n_rows >= n_cols else (n_cols, n_rows)
        q = random._q_factor(random.normal(key, tall, np.float64))
        if n_rows < n_cols:
            q = fnp.swapaxes(q, 0, 1)
        rest = tuple(d for i, d in enumerate(s) if i != ca)
        q = fnp.moveaxis(fnp.reshape(q, rest + (n_cols,)), -1, ca)
        return fnp.asarray(q * scale, dtype=dt)
    return init
