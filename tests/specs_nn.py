"""Op specs for the neural-net primitives (``conv_general_dilated``, ``reduce_window_sum``,
``reduce_window_max``, ``select_and_scatter_add``, ``select_and_gather_add``) and for every
public ``fg.nn`` function.

Inputs stay away from kinks where a finite-difference check would straddle one (relu at 0,
huber at ``|d| = delta``); max-pooling inputs are continuous random values, so no window has a
tie. ``extra["nn"]`` names the public ``fg.nn`` functions a spec covers (``test_nn.py`` checks
that every one is covered). Forward references are the loop oracles of ``reference.py`` and
plain NumPy formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import reference as ref
from op_specs import OpSpec

from funcgrad import lax, nn, random
from funcgrad.lax.conv import conv_patches_p, conv_patches_transpose_p

F32_64 = (np.float64, np.float32)
Draw = Callable[[np.random.Generator], Any]


def U(shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0) -> tuple[tuple[int, ...], Draw]:
    return shape, lambda rng: rng.uniform(lo, hi, shape)


def AWAY(shape: tuple[int, ...], lo: float = 0.3, hi: float = 2.0
         ) -> tuple[tuple[int, ...], Draw]:
    """lo <= |x| <= hi with random signs (away from a kink at 0)."""
    return shape, lambda rng: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def HUBER(shape: tuple[int, ...]) -> tuple[tuple[int, ...], Draw]:
    """|x| in [0.1, 0.7] or [1.3, 2.0] (away from the huber kink at 1) with random signs."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.1, 0.7, shape),
                       rng.uniform(1.3, 2.0, shape))
        return mag * rng.choice([-1.0, 1.0], shape)
    return shape, draw


def LABELS(shape: tuple[int, ...], classes: int) -> tuple[tuple[int, ...], Draw]:
    return shape, lambda rng: rng.integers(0, classes, shape)


def PROBS(shape: tuple[int, ...]) -> tuple[tuple[int, ...], Draw]:
    def draw(rng: np.random.Generator) -> np.ndarray:
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=-1, keepdims=True)
    return shape, draw


SPECS: list[OpSpec] = []


def spec(name: str, fn: Callable[..., Any], args: list[tuple[tuple[int, ...], Draw]],
         prims: tuple[str, ...], reference: Callable[..., Any] | None = None,
         covers: tuple[str, ...] = (), order: int = 2, dtypes: tuple[Any, ...] = (np.float64,),
         tol: float | None = None, diff_argnums: tuple[int, ...] | None = None) -> None:
    draws = tuple(d for _, d in args)
    SPECS.append(OpSpec(
        name=name, fn=fn, arg_shapes=tuple(s for s, _ in args), primitives=prims,
        dtypes=dtypes, tol=tol, grad_order=order, diff_argnums=diff_argnums,
        make_args=lambda rng, draws=draws: tuple(d(rng) for d in draws),
        reference=reference, extra={"nn": covers}))


CONV = ("conv_general_dilated",)

# == primitives ===============================================================================

_CONV_2D = dict(window_strides=(2, 1), padding=((1, 0), (2, 1)), rhs_dilation=(1, 2),
                feature_group_count=2)
spec("lax.conv_general_dilated", lambda x, w: lax.conv_general_dilated(x, w, **_CONV_2D),
     [U((2, 4, 6, 5)), U((4, 2, 3, 2))], CONV,
     lambda x, w: ref.conv(x, w, **_CONV_2D))
_CONV_LD = dict(window_strides=(1, 1), padding=((2, 1), (-1, 2)), lhs_dilation=(2, 3),
                rhs_dilation=(1, 2))
spec("lax.conv_general_dilated_lhs_dilation",
     lambda x, w: lax.conv_general_dilated(x, w, **_CONV_LD),
     [U((2, 2, 3, 4)), U((3, 2, 3, 2))], CONV, lambda x, w: ref.conv(x, w, **_CONV_LD))
spec("lax.conv_general_dilated_1d",
     lambda x, w: lax.conv_general_dilated(x, w, (3,), "SAME"),
     [U((2, 3, 10)), U((2, 3, 4))], CONV, lambda x, w: ref.conv(x, w, (3,), "SAME"))
spec("lax.conv_general_dilated_3d",
     lambda x, w: lax.conv_general_dilated(x, w, (1, 2, 1), ((1, 0), (0, 1), (1, 1))),
     [U((1, 2, 3, 4, 3)), U((2, 2, 2, 2, 2))], CONV,
     lambda x, w: ref.conv(x, w, (1, 2, 1), ((1, 0), (0, 1), (1, 1))))
spec("lax.conv_general_dilated_nhwc",
     lambda x, w: lax.conv_general_dilated(x, w, (2, 2), "SAME",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC")),
     [U((2, 5, 4, 3)), U((3, 2, 3, 2))], (*CONV, "transpose"))
spec("lax.conv_transpose",
     lambda x, w: lax.conv_transpose(x, w, (2, 2), "SAME"),
     [U((1, 3, 4, 2)), U((3, 3, 2, 3))], CONV)
spec("lax.conv_transpose_flipped",
     lambda x, w: lax.conv_transpose(x, w, (2, 1), "VALID", transpose_kernel=True),
     [U((1, 3, 4, 2)), U((2, 3, 3, 2))], (*CONV, "rev"))

_PATCH = dict(kernel_shape=(3, 2), window_strides=(2, 1), padding=((1, 0), (2, 1)),
              rhs_dilation=(1, 2))
spec("lax.conv_patches", lambda x: conv_patches_p.bind(x, **_PATCH), [U((2, 2, 6, 5))],
     ("conv_patches",))
spec("lax.conv_patches_transpose",
     lambda c: conv_patches_transpose_p.bind(c, input_shape=(6, 5), **_PATCH),
     [U((12, 2, 3, 6))], ("conv_patches_transpose",))

_WIN = ((1, 1, 3, 2), (1, 1, 2, 1), ((0, 0), (0, 0), (1, 1), (0, 1)))
spec("lax.reduce_window_sum", lambda x: lax.reduce_window_sum(x, *_WIN), [U((2, 3, 7, 5))],
     ("reduce_window_sum",), lambda x: ref.sum_pool(x, (3, 2), (2, 1), [(1, 1), (0, 1)]),
     dtypes=F32_64)
spec("lax.reduce_window_max", lambda x: lax.reduce_window_max(x, *_WIN), [U((2, 3, 7, 5))],
     ("reduce_window_max",), lambda x: ref.max_pool(x, (3, 2), (2, 1), [(1, 1), (0, 1)]),
     dtypes=F32_64)
spec("lax.reduce_window", lambda x: lax.reduce_window(x, -np.inf, lax.max, (2, 3), (1, 2),
                                                      "SAME"),
     [U((5, 7))], ("reduce_window_max",))
spec("lax.reduce_window_min", lambda x: lax.reduce_window_min(x, (2, 2), (2, 1), "VALID"),
     [U((4, 5))], ("reduce_window_max", "neg"))
spec("lax.select_and_scatter_add",
     lambda s, x: lax.select_and_scatter_add(s, x, *_WIN),
     [U((2, 3, 4, 5)), U((2, 3, 7, 5))], ("select_and_scatter_add",), diff_argnums=(0,))
spec("lax.select_and_gather_add",
     lambda t, x: lax.select_and_gather_add(t, x, *_WIN),
     [U((2, 3, 7, 5)), U((2, 3, 7, 5))], ("select_and_gather_add",), diff_argnums=(0,))

# == fg.nn: convolution and pooling ===========================================================

spec("nn.conv", lambda x, w, b: nn.conv(x, w, b, stride=2, padding=1),
     [U((2, 3, 6, 5)), U((4, 3, 3, 3)), U((4,))], (*CONV, "add"),
     lambda x, w, b: ref.conv(x, w, (2, 2), [(1, 1), (1, 1)]) + b[:, None, None],
     covers=("conv",))
spec("nn.conv_1d_dilated", lambda x, w: nn.conv(x, w, dilation=2, padding="SAME"),
     [U((2, 2, 9)), U((3, 2, 3))], CONV,
     lambda x, w: ref.conv(x, w, (1,), [(2, 2)], None, (2,)), covers=("conv",))
spec("nn.conv_3d", lambda x, w: nn.conv(x, w, padding=((1, 0), (0, 0), (0, 1))),
     [U((1, 2, 3, 4, 3)), U((2, 2, 2, 3, 2))], CONV,
     lambda x, w: ref.conv(x, w, (1, 1, 1), [(1, 0), (0, 0), (0, 1)]), covers=("conv",))
spec("nn.conv_depthwise", lambda x, w: nn.conv(x, w, stride=2, groups=3),
     [U((2, 3, 7, 7)), U((6, 1, 3, 3))], CONV,
     lambda x, w: ref.conv(x, w, (2, 2), [(0, 0), (0, 0)], None, None, 3), covers=("conv",))
spec("nn.conv_transpose",
     lambda x, w, b: nn.conv_transpose(x, w, b, stride=2, padding=1, output_padding=1,
                                       groups=2),
     [U((2, 4, 3, 3)), U((4, 3, 3, 3)), U((6,))], (*CONV, "rev", "add"),
     lambda x, w, b: ref.conv_transpose_torch(x, w, (2, 2), (1, 1), (1, 1), (1, 1), 2)
     + b[:, None, None], covers=("conv_transpose",))
spec("nn.max_pool", lambda x: nn.max_pool(x, 3, 2, 1), [U((2, 3, 7, 6))],
     ("reduce_window_max",), lambda x: ref.max_pool(x, (3, 3), (2, 2), [(1, 1), (1, 1)]),
     covers=("max_pool",), dtypes=F32_64)
spec("nn.max_pool_same_1d", lambda x: nn.max_pool(x, 2, 1, "SAME"), [U((2, 3, 7))],
     ("reduce_window_max",), lambda x: ref.max_pool(x, (2,), (1,), "SAME"),
     covers=("max_pool",))
spec("nn.avg_pool", lambda x: nn.avg_pool(x, (2, 3), padding=((1, 0), (0, 2))),
     [U((2, 3, 7, 6))], ("reduce_window_sum", "div"),
     lambda x: ref.avg_pool(x, (2, 3), (2, 3), [(1, 0), (0, 2)]), covers=("avg_pool",),
     dtypes=F32_64)
spec("nn.avg_pool_3d_overlap", lambda x: nn.avg_pool(x, 2, 1), [U((1, 2, 4, 3, 4))],
     ("reduce_window_sum", "div"), lambda x: ref.avg_pool(x, (2, 2, 2), (1, 1, 1), "VALID"),
     covers=("avg_pool",))
spec("nn.adaptive_avg_pool", lambda x: nn.adaptive_avg_pool(x, (3, 2)), [U((2, 3, 7, 5))],
     ("dot_general", "transpose"), lambda x: ref.adaptive_avg_pool(x, (3, 2)),
     covers=("adaptive_avg_pool",))
spec("nn.global_avg_pool", nn.global_avg_pool, [U((2, 3, 4, 5))], ("reduce_sum", "div"),
     lambda x: x.mean(axis=(2, 3)), covers=("global_avg_pool",), dtypes=F32_64)

# == dense, flatten ===========================================================================

spec("nn.dense", nn.dense, [U((3, 4)), U((4, 5)), U((5,))], ("dot_general", "add"),
     lambda x, w, b: x @ w + b, covers=("dense",), dtypes=F32_64)
spec("nn.flatten", nn.flatten, [U((2, 3, 2, 2))], ("reshape",),
     lambda x: x.reshape(2, -1), covers=("flatten",), dtypes=F32_64)

# == activations ==============================================================================


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x).astype(x.dtype)


_ACTIVATIONS: list[tuple[str, Callable[..., Any], Callable[..., Any], Any, tuple[str, ...]]] = [
    ("relu", nn.relu, lambda x: np.maximum(x, 0), AWAY((3, 4)), ("max",)),
    ("relu6", nn.relu6, lambda x: np.clip(x, 0, 6), AWAY((3, 4), 0.3, 8.0), ("select",)),
    ("leaky_relu", nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x), AWAY((3, 4)),
     ("select", "mul")),
    ("elu", nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), AWAY((3, 4)),
     ("expm1", "select")),
    ("gelu", lambda x: nn.gelu(x, approximate=False),
     lambda x: x * 0.5 * (1.0 + _erf(x / math.sqrt(2))), U((3, 4)),
     ("erf", "mul")),
    ("sigmoid", nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), U((3, 4)), ("logistic",)),
    ("silu", nn.silu, lambda x: x / (1 + np.exp(-x)), U((3, 4)), ("logistic", "mul")),
    ("softplus", nn.softplus, lambda x: np.logaddexp(x, 0.0), U((3, 4)), ("log", "exp")),
    ("tanh", nn.tanh, np.tanh, U((3, 4)), ("tanh",)),
]
for _name, _fn, _ref, _gen, _prims in _ACTIVATIONS:
    spec(f"nn.{_name}", _fn, [_gen], _prims, _ref, covers=(_name,), dtypes=F32_64)

spec("nn.gelu_tanh", nn.gelu, [U((3, 4))], ("tanh", "mul"),
     lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     covers=("gelu",), dtypes=F32_64)


def _log_softmax_ref(x: np.ndarray, axis: int = -1) -> np.ndarray:
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


spec("nn.softmax", nn.softmax, [U((3, 5), -5, 5)], ("exp", "reduce_sum", "div"),
     lambda x: np.exp(_log_softmax_ref(x)), covers=("softmax",), dtypes=F32_64, tol=1e-4)
spec("nn.log_softmax_axis0", lambda x: nn.log_softmax(x, axis=0), [U((4, 3), -5, 5)],
     ("exp", "log", "reduce_sum"), lambda x: _log_softmax_ref(x, 0), covers=("log_softmax",),
     dtypes=F32_64)
spec("nn.logsumexp", lambda x: nn.logsumexp(x, axis=1), [U((3, 4, 2), -5, 5)],
     ("exp", "log", "reduce_sum", "stop_gradient"),
     lambda x: np.log(np.exp(x).sum(axis=1)), covers=("logsumexp",))
spec("nn.one_hot", lambda labels: nn.one_hot(labels, 4), [LABELS((5,), 4)], ("eq",),
     lambda labels: np.eye(4)[labels], covers=("one_hot",), order=0)

# == losses ===================================================================================


def _xent_int_ref(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    lp = _log_softmax_ref(logits)
    return np.asarray(-lp[np.arange(len(labels)), labels].mean())


spec("nn.cross_entropy_int", nn.cross_entropy, [U((4, 5), -4, 4), LABELS((4,), 5)],
     ("exp", "log", "reduce_sum"), _xent_int_ref, covers=("cross_entropy",))
spec("nn.cross_entropy_soft", nn.cross_entropy, [U((4, 5), -4, 4), PROBS((4, 5))],
     ("exp", "log", "reduce_sum", "mul"),
     lambda z, p: np.asarray(-(p * _log_softmax_ref(z)).sum(axis=-1).mean()),
     covers=("cross_entropy",), dtypes=F32_64)
spec("nn.cross_entropy_nchw_sum",
     lambda z, y: nn.cross_entropy(z, y, axis=1, reduction="sum"),
     [U((2, 3, 2, 2), -4, 4), LABELS((2, 2, 2), 3)], ("exp", "log", "reduce_sum"),
     covers=("cross_entropy",))
spec("nn.binary_cross_entropy_with_logits", nn.binary_cross_entropy_with_logits,
     [U((3, 4), -4, 4), U((3, 4), 0, 1)], ("exp", "log", "mul"),
     lambda z, t: np.asarray((np.logaddexp(z, 0) - z * t).mean()),
     covers=("binary_cross_entropy_with_logits",), dtypes=F32_64)
spec("nn.mse", nn.mse, [U((3, 4)), U((3, 4))], ("sub", "mul", "reduce_sum"),
     lambda p, t: np.asarray(((p - t) ** 2).mean()), covers=("mse",), dtypes=F32_64)
spec("nn.l1_loss", lambda d: nn.l1_loss(d, 0.0), [AWAY((3, 4))], ("abs", "reduce_sum"),
     lambda d: np.asarray(np.abs(d).mean()), covers=("l1_loss",), dtypes=F32_64)
spec("nn.huber_loss", lambda d: nn.huber_loss(d, 0.0, reduction="none"), [HUBER((3, 4))],
     ("abs", "select"),
     lambda d: np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5),
     covers=("huber_loss",), dtypes=F32_64)

# == normalisation, dropout ===================================================================


def _bn_train_ref(x: np.ndarray, s: np.ndarray, b: np.ndarray, rm: np.ndarray,
                  rv: np.ndarray) -> tuple[np.ndarray, ...]:
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    n = x.size // x.shape[1]
    y = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * s[:, None, None] \
        + b[:, None, None]
    return y, 0.9 * rm + 0.1 * mean, 0.9 * rv + 0.1 * var * n / (n - 1)


def _bn_eval_ref(x: np.ndarray, s: np.ndarray, b: np.ndarray, rm: np.ndarray,
                 rv: np.ndarray) -> tuple[np.ndarray, ...]:
    y = (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5) * s[:, None] + b[:, None]
    return y, rm, rv


spec("nn.batch_norm_train",
     lambda x, s, b, rm, rv: nn.batch_norm(x, s, b, rm, rv, train=True),
     [U((3, 2, 2, 3)), U((2,)), U((2,)), U((2,)), U((2,), 0.5, 2.0)],
     ("reduce_sum", "sqrt"), _bn_train_ref, covers=("batch_norm",))
spec("nn.batch_norm_eval",
     lambda x, s, b, rm, rv: nn.batch_norm(x, s, b, rm, rv, train=False),
     [U((3, 2, 4)), U((2,)), U((2,)), U((2,)), U((2,), 0.5, 2.0)],
     ("sqrt", "div"), _bn_eval_ref, covers=("batch_norm",))
spec("nn.layer_norm", lambda x, s, b: nn.layer_norm(x, s, b),
     [U((3, 4, 5)), U((4, 5)), U((4, 5))], ("reduce_sum", "sqrt"),
     lambda x, s, b: (x - x.mean(axis=(1, 2), keepdims=True))
     / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5) * s + b,
     covers=("layer_norm",))


def _dropout_ref(x: np.ndarray) -> np.ndarray:
    # the mask is uniform(key(7), x.shape) >= rate; that stream is pinned in test_random.py
    keep = random.uniform(random.key(7), x.shape) >= 0.25
    return np.where(keep, x * (1.0 / 0.75), 0).astype(x.dtype)


spec("nn.dropout", lambda x: nn.dropout(random.key(7), x, 0.25), [U((4, 6))], ("select", "mul"),
     _dropout_ref, covers=("dropout",), dtypes=F32_64)
