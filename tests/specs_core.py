"""Op specs for the core primitives (elementwise, reductions, structural, indexing, dot) and for
every public ``fg.numpy`` function listed in API.md.

Each spec declares its input domain (log/sqrt positive, arccos in (-1, 1), arccosh > 1, ...);
arguments that are not plain uniform floats (integers, booleans, values with ties, NaNs) come
from ``make_args``. ``extra["numpy"]`` names the public ``fg.numpy`` functions a spec covers
(``test_numpy.py`` checks that every function in API.md is covered); ``extra["vmap_size0"] =
False`` marks specs that cannot take a batch of size 0, ``extra["vmap_none"] = False`` those
whose first argument cannot be left unbatched (``x[i]`` on an ndarray ``x`` is NumPy's own
indexing, which cannot take a tracer ``i``), and ``extra["tracer_only"] = True`` specs written
with operators, methods or ``x[key]``: on ndarrays those are NumPy's own, so the forward tests
run them on tracers (through ``make_jaxpr`` and ``eval_jaxpr``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.primitive import add_any_p
from funcgrad.lax.indexing import IndexHelper, getitem

F32_64 = (np.float64, np.float32)

# == argument generators ======================================================================


class _Gen:
    """One argument: ``gen(rng)`` returns an array of ``shape``."""

    def __init__(self, shape: tuple[int, ...], draw: Callable[[np.random.Generator], Any]):
        self.shape = shape
        self.draw = draw

    def __call__(self, rng: np.random.Generator) -> Any:
        return self.draw(rng)


def U(shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0) -> _Gen:
    """Uniform floats in (lo, hi)."""
    return _Gen(shape, lambda rng: rng.uniform(lo, hi, shape))


def AWAY(shape: tuple[int, ...], lo: float = 0.3, hi: float = 2.0) -> _Gen:
    """Floats with lo <= |x| <= hi and random signs (away from a kink at 0)."""
    return _Gen(shape, lambda rng: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape))


def I(shape: tuple[int, ...], lo: int, hi: int) -> _Gen:  # noqa: E743
    """Integers in [lo, hi)."""
    return _Gen(shape, lambda rng: rng.integers(lo, hi, shape))


def TIES(shape: tuple[int, ...]) -> _Gen:
    """Small integer-valued floats, so comparisons see equal values."""
    return _Gen(shape, lambda rng: rng.integers(-1, 2, shape).astype(np.float64))


def B(shape: tuple[int, ...]) -> _Gen:
    return _Gen(shape, lambda rng: rng.random(shape) < 0.5)


def SPECIAL(shape: tuple[int, ...]) -> _Gen:
    """Floats with NaN, +inf and -inf mixed in."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(-2, 2, shape)
        flat = x.reshape(-1)
        picks = rng.choice([np.nan, np.inf, -np.inf, 0.0, 1.0], flat.size)
        mask = rng.random(flat.size) < 0.5
        flat[mask] = picks[mask]
        return x
    return _Gen(shape, draw)


def WITH_ZEROS(shape: tuple[int, ...]) -> _Gen:
    """Floats where some entries are exactly zero (one per row, and one row with two)."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(0.5, 1.5, shape)
        x[0, 0] = 0.0
        x[-1, 1:3] = 0.0
        return x
    return _Gen(shape, draw)


SPECS: list[OpSpec] = []


def spec(name: str, fn: Callable[..., Any], args: list[_Gen] | tuple[_Gen, ...],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None,
         numpy: tuple[str, ...] = (), order: int = 2, dtypes: tuple[Any, ...] = (np.float64,),
         tol: float | None = None, vmap_size0: bool = True, vmap_none: bool = True,
         tracer_only: bool = False) -> None:
    gens = tuple(args)
    SPECS.append(OpSpec(
        name=name, fn=fn, arg_shapes=tuple(g.shape for g in gens), primitives=prims,
        domain=(-2.0, 2.0), dtypes=dtypes, tol=tol, grad_order=order,
        make_args=lambda rng, gens=gens: tuple(g(rng) for g in gens),
        reference=ref, extra={"numpy": numpy, "vmap_size0": vmap_size0,
                              "vmap_none": vmap_none, "tracer_only": tracer_only}))


def at(x: Any) -> IndexHelper:
    """``x.at`` for tracers and concrete arrays alike (ndarrays have no ``.at``)."""
    return IndexHelper(x)


S23 = (2, 3)

# == elementwise: unary =======================================================================

_UNARY: list[tuple[str, Any, Any, _Gen, tuple[str, ...]]] = [
    ("negative", fnp.negative, np.negative, U(S23), ("neg",)),
    ("abs", fnp.abs, np.abs, AWAY(S23), ("abs",)),
    ("exp", fnp.exp, np.exp, U(S23), ("exp",)),
    ("exp2", fnp.exp2, np.exp2, U(S23), ("exp2",)),
    ("log", fnp.log, np.log, U(S23, 0.5, 3.0), ("log",)),
    ("log2", fnp.log2, np.log2, U(S23, 0.5, 3.0), ("log", "div")),
    ("log10", fnp.log10, np.log10, U(S23, 0.5, 3.0), ("log", "div")),
    ("log1p", fnp.log1p, np.log1p, U(S23, -0.5, 2.0), ("log1p",)),
    ("expm1", fnp.expm1, np.expm1, U(S23), ("expm1",)),
    ("sqrt", fnp.sqrt, np.sqrt, U(S23, 0.5, 3.0), ("sqrt",)),
    ("square", fnp.square, np.square, U(S23), ("integer_pow",)),
    ("reciprocal", fnp.reciprocal, np.reciprocal, AWAY(S23, 0.5, 2.0), ("div",)),
    ("sin", fnp.sin, np.sin, U(S23), ("sin",)),
    ("cos", fnp.cos, np.cos, U(S23), ("cos",)),
    ("tan", fnp.tan, np.tan, U(S23, -1.2, 1.2), ("tan",)),
    ("arcsin", fnp.arcsin, np.arcsin, U(S23, -0.9, 0.9), ("asin",)),
    ("arccos", fnp.arccos, np.arccos, U(S23, -0.9, 0.9), ("acos",)),
    ("arctan", fnp.arctan, np.arctan, U(S23), ("atan",)),
    ("sinh", fnp.sinh, np.sinh, U(S23), ("sinh",)),
    ("cosh", fnp.cosh, np.cosh, U(S23), ("cosh",)),
    ("tanh", fnp.tanh, np.tanh, U(S23), ("tanh",)),
    ("arcsinh", fnp.arcsinh, np.arcsinh, U(S23), ("asinh",)),
    ("arccosh", fnp.arccosh, np.arccosh, U(S23, 1.2, 3.0), ("acosh",)),
    ("arctanh", fnp.arctanh, np.arctanh, U(S23, -0.9, 0.9), ("atanh",)),
]
for _name, _fn, _ref, _gen, _prims in _UNARY:
    spec(_name, _fn, [_gen], _prims, _ref, numpy=(_name,), dtypes=F32_64)

spec("absolute_scalar_shape", fnp.abs, [AWAY(())], ("abs",), np.abs)


def _erf_ref(x: np.ndarray) -> np.ndarray:
    import math
    return np.vectorize(math.erf)(x).astype(x.dtype)


spec("lax.erf", lax.erf, [U(S23)], ("erf",), _erf_ref, dtypes=F32_64)
spec("lax.logistic", lax.logistic, [U(S23, -5.0, 5.0)], ("logistic",),
     lambda x: 1 / (1 + np.exp(-x)), dtypes=F32_64)
spec("lax.integer_pow_neg", lambda x: lax.integer_pow(x, -3), [AWAY(S23, 0.5, 2.0)],
     ("integer_pow",), lambda x: x ** -3.0)

# Not differentiable (zero derivative where defined).
spec("sign", fnp.sign, [U(S23)], ("sign",), np.sign, numpy=("sign",), order=0,
     dtypes=F32_64)
spec("floor", fnp.floor, [U(S23, -3, 3)], ("floor",), np.floor, numpy=("floor",), order=0,
     dtypes=F32_64)
spec("ceil", fnp.ceil, [U(S23, -3, 3)], ("ceil",), np.ceil, numpy=("ceil",), order=0,
     dtypes=F32_64)
spec("round", fnp.round, [U(S23, -3, 3)], ("round",), np.round, numpy=("round",), order=0,
     dtypes=F32_64)
spec("round_decimals", lambda x: fnp.round(x, 1), [U(S23, -3, 3)], ("round", "mul", "div"),
     lambda x: np.round(x, 1), order=0)
spec("isnan", fnp.isnan, [SPECIAL((3, 4))], ("ne",), np.isnan, numpy=("isnan",), order=0)
spec("isfinite", fnp.isfinite, [SPECIAL((3, 4))], ("is_finite",), np.isfinite,
     numpy=("isfinite",), order=0)
spec("stop_gradient", fg.stop_gradient, [U(S23)], ("stop_gradient",), lambda x: x, order=0)

# == elementwise: binary ======================================================================

spec("add", fnp.add, [U(S23), U((3,))], ("add", "broadcast_in_dim"), np.add, numpy=("add",),
     dtypes=F32_64)
spec("subtract", fnp.subtract, [U(S23), U((2, 1))], ("sub", "broadcast_in_dim"), np.subtract,
     numpy=("subtract",), dtypes=F32_64)
spec("multiply", fnp.multiply, [U(S23), U(S23)], ("mul",), np.multiply, numpy=("multiply",),
     dtypes=F32_64)
spec("divide", fnp.divide, [U(S23), AWAY((3,), 0.5, 2.0)], ("div", "broadcast_in_dim"),
     np.divide, numpy=("divide",), dtypes=F32_64)
spec("true_divide", fnp.true_divide, [U(S23), AWAY(S23, 0.5, 2.0)], ("div",), np.true_divide,
     numpy=("true_divide",), dtypes=F32_64)
spec("floor_divide", fnp.floor_divide, [U(S23, -3, 3), AWAY(S23, 0.5, 2.0)], ("div",),
     np.floor_divide, numpy=("floor_divide",), order=0, dtypes=F32_64)
spec("floor_divide_int", fnp.floor_divide, [I(S23, -9, 9), I(S23, 1, 4)], ("div",),
     np.floor_divide, order=0)
spec("remainder", fnp.remainder, [U(S23, 0.2, 3.0), U(S23, 0.7, 2.0)], ("rem",), np.remainder,
     dtypes=F32_64, tol=1e-4)
spec("power", fnp.power, [U(S23, 0.5, 2.0), U(S23)], ("pow",), np.power, numpy=("power",),
     dtypes=F32_64)
spec("power_int_exponent", lambda x: fnp.power(x, 3), [U(S23)], ("integer_pow",),
     lambda x: np.power(x, 3))
spec("maximum", fnp.maximum, [U(S23), U((3,))], ("max", "broadcast_in_dim"), np.maximum,
     numpy=("maximum",), dtypes=F32_64)
spec("minimum", fnp.minimum, [U(S23), U((2, 1))], ("min", "broadcast_in_dim"), np.minimum,
     numpy=("minimum",), dtypes=F32_64)
spec("arctan2", fnp.arctan2, [U(S23), AWAY(S23)], ("atan2",), np.arctan2,
     numpy=("arctan2",), dtypes=F32_64)
spec("logaddexp", fnp.logaddexp, [U(S23, -3, 3), U((3,), -3, 3)],
     ("max", "exp", "log", "stop_gradient", "select"), np.logaddexp, numpy=("logaddexp",),
     dtypes=F32_64)
spec("clip", lambda x: fnp.clip(x, -0.5, 0.7), [U((3, 4))], ("max", "min"),
     lambda x: np.clip(x, -0.5, 0.7), numpy=("clip",), dtypes=F32_64)
spec("clip_array_bounds", fnp.clip, [U((3, 4)), U((4,), -2, -0.2), U((3, 1), 0.2, 2)],
     ("max", "min", "broadcast_in_dim"), np.clip)
spec("where", fnp.where, [B((3, 4)), U((3, 4)), U((4,))], ("select", "broadcast_in_dim"),
     np.where, numpy=("where",))
spec("where_scalar", lambda c, x: fnp.where(c, x, 0.0), [B((3, 4)), U((3, 4))], ("select",),
     lambda c, x: np.where(c, x, 0.0))
spec("lax.select", lax.select, [B(S23), U(S23), U(S23)], ("select",), np.where)
spec("lax.add_any", add_any_p.bind, [U(S23), U(S23)], ("add_any",), np.add)

# Python scalars and operators on tracers (NEP 50: the scalar is weak).
spec("op_mul_scalar", lambda x: x * 2.5 - 1, [U(S23)], ("mul", "sub"),
     lambda x: x * 2.5 - 1, dtypes=F32_64, tracer_only=True)
spec("op_rsub_rdiv", lambda x: 1.0 - 3.0 / x, [AWAY(S23, 0.5, 2.0)], ("sub", "div"),
     lambda x: 1.0 - 3.0 / x, dtypes=F32_64, tracer_only=True)
spec("op_pow_scalar", lambda x: x ** 2.5, [U(S23, 0.5, 2.0)], ("pow",), lambda x: x ** 2.5,
     dtypes=F32_64, tracer_only=True)
spec("op_pow_int", lambda x: x ** 3, [U(S23)], ("integer_pow",), lambda x: x ** 3,
     dtypes=F32_64, tracer_only=True)
spec("op_rpow", lambda x: 2.0 ** x, [U(S23)], ("pow",), lambda x: 2.0 ** x, dtypes=F32_64,
     tracer_only=True)
spec("op_neg_abs_pos", lambda x: -abs(+x), [AWAY(S23)], ("neg", "abs"), lambda x: -abs(x),
     tracer_only=True)
spec("op_floordiv", lambda x, y: x // y, [U(S23, -3, 3), AWAY(S23, 0.5, 2.0)], ("div",),
     lambda x, y: x // y, order=0, tracer_only=True)
spec("op_mod", lambda x, y: x % y, [U(S23, 0.2, 3.0), U(S23, 0.7, 2.0)], ("rem",),
     lambda x, y: x % y, tol=1e-4, tracer_only=True)
spec("floor_divide_inexact_quotient", lambda x: fnp.floor_divide(x, 0.1), [TIES((3, 4))],
     ("rem", "round"), lambda x: np.floor_divide(x, 0.1), order=0)
spec("op_compare", lambda x, y: (x < y, x <= y, x > y, x >= y, x == y, x != y),
     [TIES(S23), TIES(S23)], ("lt", "le", "gt", "ge", "eq", "ne"),
     lambda x, y: (x < y, x <= y, x > y, x >= y, x == y, x != y), order=0, tracer_only=True)
spec("op_bool", lambda a, b: (a & b, a | b, a ^ b, ~a), [B(S23), B(S23)],
     ("and", "or", "xor", "not"), lambda a, b: (a & b, a | b, a ^ b, ~a), order=0, tracer_only=True)

for _name, _prim in (("equal", "eq"), ("not_equal", "ne"), ("less", "lt"),
                     ("less_equal", "le"), ("greater", "gt"), ("greater_equal", "ge")):
    spec(_name, getattr(fnp, _name), [TIES(S23), TIES((3,))], (_prim,), getattr(np, _name),
         numpy=(_name,), order=0)
for _name, _prim in (("logical_and", "and"), ("logical_or", "or"), ("logical_xor", "xor")):
    spec(_name, getattr(fnp, _name), [B(S23), B(S23)], (_prim,), getattr(np, _name),
         numpy=(_name,), order=0)
spec("logical_not", fnp.logical_not, [B(S23)], ("not",), np.logical_not,
     numpy=("logical_not",), order=0)
spec("logical_and_numbers", fnp.logical_and, [TIES(S23), TIES(S23)], ("and", "ne"),
     np.logical_and, order=0)
spec("invert_int", fnp.invert, [I(S23, -5, 5)], ("not",), np.invert, order=0)

spec("astype_f32_to_f64", lambda x: fnp.astype(x, np.float64) * 2,
     [_Gen(S23, lambda rng: rng.uniform(-2, 2, S23).astype(np.float32))],
     ("convert_element_type", "mul"), lambda x: x.astype(np.float64) * 2)
spec("astype_to_int", lambda x: fnp.astype(x, np.int32), [U(S23, -3, 3)],
     ("convert_element_type",), lambda x: x.astype(np.int32), order=0)
spec("int_plus_float", lambda i, x: i + x, [I(S23, -3, 3), U(S23)],
     ("convert_element_type", "add"), lambda i, x: i + x, tracer_only=True)

# == reductions ===============================================================================

S234 = (2, 3, 4)
spec("sum", fnp.sum, [U(S234)], ("reduce_sum",), np.sum, numpy=("sum",), dtypes=F32_64)
spec("sum_axis_keepdims", lambda x: fnp.sum(x, axis=1, keepdims=True), [U(S234)],
     ("reduce_sum", "reshape"), lambda x: np.sum(x, axis=1, keepdims=True), dtypes=F32_64)
spec("sum_axes_negative", lambda x: fnp.sum(x, axis=(0, -1)), [U(S234)], ("reduce_sum",),
     lambda x: np.sum(x, axis=(0, -1)))
spec("sum_int", fnp.sum, [I(S23, -5, 5)], ("reduce_sum",), np.sum, order=0)
spec("mean", lambda x: fnp.mean(x, axis=-1), [U(S234)], ("reduce_sum", "div"),
     lambda x: np.mean(x, axis=-1), numpy=("mean",), dtypes=F32_64)
spec("mean_keepdims", lambda x: fnp.mean(x, axis=(0, 2), keepdims=True), [U(S234)],
     ("reduce_sum", "div", "reshape"), lambda x: np.mean(x, axis=(0, 2), keepdims=True))
spec("prod", lambda x: fnp.prod(x, axis=1), [U((3, 4), 0.5, 1.5)], ("reduce_prod",),
     lambda x: np.prod(x, axis=1), numpy=("prod",), dtypes=F32_64)
spec("prod_with_zeros", lambda x: fnp.prod(x, axis=1), [WITH_ZEROS((3, 4))], ("reduce_prod",),
     lambda x: np.prod(x, axis=1))
spec("prod_all", fnp.prod, [U(S23, 0.5, 1.5)], ("reduce_prod",), np.prod)
for _name in ("max", "min", "amax", "amin"):
    _prim = "reduce_max" if "max" in _name else "reduce_min"
    _f, _g = getattr(fnp, _name), getattr(np, _name)
    spec(_name, lambda x, f=_f: f(x, axis=1), [U(S234)], (_prim,),
         lambda x, g=_g: g(x, axis=1), numpy=(_name,), dtypes=F32_64)
spec("max_all_keepdims", lambda x: fnp.max(x, keepdims=True), [U(S234)],
     ("reduce_max", "reshape"), lambda x: np.max(x, keepdims=True))
spec("min_axes", lambda x: fnp.min(x, axis=(0, 2)), [U(S234)], ("reduce_min",),
     lambda x: np.min(x, axis=(0, 2)))
spec("argmax", lambda x: fnp.argmax(x, axis=1), [TIES(S234)], ("argmax",),
     lambda x: np.argmax(x, axis=1), numpy=("argmax",), order=0)
spec("argmin", lambda x: fnp.argmin(x, axis=-1, keepdims=True), [TIES(S234)], ("argmin",),
     lambda x: np.argmin(x, axis=-1, keepdims=True), numpy=("argmin",), order=0)
spec("argmax_flat", fnp.argmax, [U(S23)], ("argmax", "reshape"), np.argmax, order=0)
spec("var", lambda x: fnp.var(x, axis=1), [U(S234)], ("reduce_sum", "mul", "sub"),
     lambda x: np.var(x, axis=1), numpy=("var",), dtypes=F32_64)
spec("var_ddof_keepdims", lambda x: fnp.var(x, axis=(0, 1), ddof=1, keepdims=True), [U(S234)],
     ("reduce_sum", "mul", "sub"), lambda x: np.var(x, axis=(0, 1), ddof=1, keepdims=True))
spec("std", lambda x: fnp.std(x, axis=0), [U(S234)], ("reduce_sum", "sqrt"),
     lambda x: np.std(x, axis=0), numpy=("std",), dtypes=F32_64)
spec("all", lambda b: fnp.all(b, axis=1), [B(S234)], ("reduce_min",),
     lambda b: np.all(b, axis=1), numpy=("all",), order=0)
spec("any", lambda b: fnp.any(b, axis=(0, 2), keepdims=True), [B(S234)], ("reduce_max",),
     lambda b: np.any(b, axis=(0, 2), keepdims=True), numpy=("any",), order=0)
spec("all_numbers", fnp.all, [TIES(S23)], ("reduce_min", "ne"), np.all, order=0)
spec("cumsum", lambda x: fnp.cumsum(x, axis=1), [U(S234)], ("cumsum",),
     lambda x: np.cumsum(x, axis=1), numpy=("cumsum",), dtypes=F32_64)
spec("cumsum_flat", fnp.cumsum, [U(S23)], ("cumsum", "reshape"), np.cumsum)
spec("cumprod", lambda x: fnp.cumprod(x, axis=0), [U((4, 2), 0.5, 1.5)],
     ("reduce_prod", "select", "broadcast_in_dim"), lambda x: np.cumprod(x, axis=0),
     numpy=("cumprod",), dtypes=F32_64)
spec("cumprod_with_zeros", lambda x: fnp.cumprod(x, axis=1), [WITH_ZEROS((3, 4))],
     ("reduce_prod",), lambda x: np.cumprod(x, axis=1))
spec("lax.cumsum_reverse", lambda x: lax.cumsum(x, axis=1, reverse=True), [U((3, 4))],
     ("cumsum",), lambda x: np.flip(np.cumsum(np.flip(x, 1), axis=1), 1))

# == shape manipulation =======================================================================

spec("reshape", lambda x: fnp.reshape(x, (4, -1)), [U(S234)], ("reshape",),
     lambda x: np.reshape(x, (4, -1)), numpy=("reshape",))
spec("ravel", fnp.ravel, [U(S234)], ("reshape",), np.ravel, numpy=("ravel",))
spec("transpose", fnp.transpose, [U(S234)], ("transpose",), np.transpose,
     numpy=("transpose",))
spec("transpose_axes", lambda x: fnp.transpose(x, (1, -1, 0)), [U(S234)], ("transpose",),
     lambda x: np.transpose(x, (1, -1, 0)))
spec("moveaxis", lambda x: fnp.moveaxis(x, (0, 1), (-1, 0)), [U(S234)], ("transpose",),
     lambda x: np.moveaxis(x, (0, 1), (-1, 0)), numpy=("moveaxis",))
spec("swapaxes", lambda x: fnp.swapaxes(x, 0, -1), [U(S234)], ("transpose",),
     lambda x: np.swapaxes(x, 0, -1), numpy=("swapaxes",))
spec("expand_dims", lambda x: fnp.expand_dims(x, (0, -1)), [U(S23)], ("reshape",),
     lambda x: np.expand_dims(x, (0, -1)), numpy=("expand_dims",))
spec("squeeze", fnp.squeeze, [U((2, 1, 3, 1))], ("reshape",), np.squeeze,
     numpy=("squeeze",))
spec("squeeze_axis", lambda x: fnp.squeeze(x, -1), [U((2, 1, 3, 1))], ("reshape",),
     lambda x: np.squeeze(x, -1))
spec("broadcast_to", lambda x: fnp.broadcast_to(x, (2, 4, 3)), [U((4, 1))],
     ("broadcast_in_dim",), lambda x: np.broadcast_to(x, (2, 4, 3)), numpy=("broadcast_to",))
spec("concatenate", lambda x, y: fnp.concatenate([x, y, x], axis=-1), [U(S23), U((2, 1))],
     ("concatenate",), lambda x, y: np.concatenate([x, y, x], axis=-1),
     numpy=("concatenate",))
spec("concatenate_none", lambda x, y: fnp.concatenate([x, y], axis=None), [U(S23), U((4,))],
     ("concatenate", "reshape"), lambda x, y: np.concatenate([x, y], axis=None))
spec("stack", lambda x, y: fnp.stack([x, y], axis=1), [U(S23), U(S23)],
     ("concatenate", "reshape"), lambda x, y: np.stack([x, y], axis=1), numpy=("stack",))
spec("hstack", lambda x, y: fnp.hstack([x, y]), [U(S23), U((2, 2))], ("concatenate",),
     lambda x, y: np.hstack([x, y]), numpy=("hstack",))
spec("vstack", lambda x, y: fnp.vstack([x, y]), [U((3,)), U(S23)], ("concatenate", "reshape"),
     lambda x, y: np.vstack([x, y]), numpy=("vstack",))
spec("split", lambda x: fnp.split(x, 3, axis=1), [U((2, 6))], ("slice",),
     lambda x: np.split(x, 3, axis=1), numpy=("split",))
spec("split_indices", lambda x: fnp.split(x, [1, 4]), [U((5, 2))], ("slice",),
     lambda x: np.split(x, [1, 4]))
spec("pad", lambda x: fnp.pad(x, ((1, 2), (0, 1)), constant_values=0.5), [U(S23)], ("pad",),
     lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=0.5), numpy=("pad",))
spec("pad_scalar_width", lambda x: fnp.pad(x, 1), [U(S23)], ("pad",), lambda x: np.pad(x, 1))
spec("flip", lambda x: fnp.flip(x, (0, 2)), [U(S234)], ("rev",),
     lambda x: np.flip(x, (0, 2)), numpy=("flip",))
spec("flip_all", fnp.flip, [U(S23)], ("rev",), np.flip)
for _k in (1, 2, 3, -1):
    spec(f"rot90_k{_k}", lambda x, k=_k: fnp.rot90(x, k), [U(S234)], ("rev",),
         lambda x, k=_k: np.rot90(x, k), numpy=("rot90",))
spec("rot90_axes", lambda x: fnp.rot90(x, 1, axes=(1, 2)), [U(S234)], ("rev", "transpose"),
     lambda x: np.rot90(x, 1, axes=(1, 2)))
spec("tile", lambda x: fnp.tile(x, (2, 1, 3)), [U(S23)], ("broadcast_in_dim", "reshape"),
     lambda x: np.tile(x, (2, 1, 3)), numpy=("tile",))
spec("repeat", lambda x: fnp.repeat(x, 2, axis=1), [U(S23)], ("broadcast_in_dim", "reshape"),
     lambda x: np.repeat(x, 2, axis=1), numpy=("repeat",))
spec("repeat_counts", lambda x: fnp.repeat(x, [2, 0, 1], axis=-1), [U(S23)], ("gather",),
     lambda x: np.repeat(x, [2, 0, 1], axis=-1))
spec("repeat_flat", lambda x: fnp.repeat(x, 3), [U(S23)], ("reshape",),
     lambda x: np.repeat(x, 3))
spec("roll", lambda x: fnp.roll(x, -1, axis=1), [U((2, 4))], ("slice", "concatenate"),
     lambda x: np.roll(x, -1, axis=1), numpy=("roll",))
spec("roll_flat", lambda x: fnp.roll(x, 2), [U((2, 3))], ("slice", "concatenate"),
     lambda x: np.roll(x, 2))
spec("roll_multi", lambda x: fnp.roll(x, (1, -2), axis=(0, 1)), [U((3, 4))],
     ("slice", "concatenate"), lambda x: np.roll(x, (1, -2), axis=(0, 1)))
spec("roll_shared_shift", lambda x: fnp.roll(x, 1, axis=(0, 1)), [U((3, 4))],
     ("slice", "concatenate"), lambda x: np.roll(x, 1, axis=(0, 1)))
_TAKE_IDX = np.array([[2, 0], [2, 2]])
spec("take", lambda x: fnp.take(x, _TAKE_IDX, axis=1), [U(S234)], ("gather",),
     lambda x: np.take(x, _TAKE_IDX, axis=1), numpy=("take",))
spec("take_flat_negative", lambda x: fnp.take(x, np.array([-1, 0, -1])), [U(S23)],
     ("gather",), lambda x: np.take(x, np.array([-1, 0, -1])))
spec("take_traced_indices", lambda x, i: fnp.take(x, i, axis=0), [U((4, 3)), I((5,), 0, 4)],
     ("gather",), lambda x, i: np.take(x, i, axis=0))
spec("take_along_axis", lambda x, i: fnp.take_along_axis(x, i, axis=1),
     [U((3, 4)), I((3, 2), 0, 4)], ("gather",),
     lambda x, i: np.take_along_axis(x, i, axis=1), numpy=("take_along_axis",))

# lax structural primitives with parameters fnp does not reach.
spec("lax.pad_interior_negative",
     lambda x: lax.pad(x, -1.0, [(1, -1, 2), (-1, 2, 0)]), [U((3, 4))], ("pad",),
     lambda x: _pad_ref(x, -1.0, [(1, -1, 2), (-1, 2, 0)]))
spec("lax.slice_strided", lambda x: lax.slice(x, (0, 1), (3, 4), (2, 2)), [U((3, 4))],
     ("slice",), lambda x: x[0:3:2, 1:4:2])
spec("lax.rev", lambda x: lax.rev(x, (1,)), [U(S234)], ("rev",), lambda x: x[:, ::-1])
spec("lax.broadcast_in_dim", lambda x: lax.broadcast_in_dim(x, (3, 2, 4), (1, 2)),
     [U((2, 1))], ("broadcast_in_dim",), lambda x: np.broadcast_to(x[None], (3, 2, 4)))
spec("lax.iota", lambda x: x * lax.broadcasted_iota(np.float64, (2, 3), 1), [U(S23)],
     ("iota", "mul"), lambda x: x * np.arange(3.0))
spec("lax.transpose", lambda x: lax.transpose(x, (2, 0, 1)), [U(S234)], ("transpose",),
     lambda x: x.transpose(2, 0, 1))


def _pad_ref(x: np.ndarray, value: float, config: list[tuple[int, int, int]]) -> np.ndarray:
    for axis, (lo, hi, interior) in enumerate(config):
        n = x.shape[axis]
        if interior and n > 1:
            pieces = []
            for i in range(n):
                pieces.append(np.take(x, [i], axis=axis))
                if i < n - 1:
                    filler_shape = list(x.shape)
                    filler_shape[axis] = interior
                    pieces.append(np.full(filler_shape, value))
            x = np.concatenate(pieces, axis=axis)
        width = [(0, 0)] * x.ndim
        width[axis] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, width, constant_values=value)
        m = x.shape[axis]
        x = np.take(x, np.arange(max(-lo, 0), m - max(-hi, 0)), axis=axis)
    return x


# == linear algebra ===========================================================================

spec("dot_matrix", fnp.dot, [U(S23), U((3, 4))], ("dot_general",), np.dot, numpy=("dot",),
     dtypes=F32_64)
spec("dot_vector", fnp.dot, [U((3,)), U((3,))], ("dot_general",), np.dot)
spec("dot_nd", fnp.dot, [U(S234), U((3, 4, 2))], ("dot_general",), np.dot)
spec("dot_scalar", fnp.dot, [U(()), U(S23)], ("mul",), np.dot)
spec("matmul", fnp.matmul, [U(S23), U((3, 2))], ("dot_general",), np.matmul,
     numpy=("matmul",), dtypes=F32_64)
spec("matmul_batch_broadcast", fnp.matmul, [U((1, 2, 3)), U((4, 3, 2))],
     ("dot_general", "broadcast_in_dim"), np.matmul)
spec("matmul_stack_times_matrix", fnp.matmul, [U(S234), U((4, 2))], ("dot_general",),
     np.matmul)
spec("matmul_vec_mat", fnp.matmul, [U((3,)), U((2, 3, 4))], ("dot_general", "reshape"),
     np.matmul)
spec("matmul_mat_vec", fnp.matmul, [U(S234), U((4,))], ("dot_general", "reshape"),
     np.matmul)
spec("op_matmul", lambda x, y: x @ y, [U(S23), U((3,))], ("dot_general",),
     lambda x, y: x @ y, tracer_only=True)
spec("vdot", fnp.vdot, [U(S23), U(S23)], ("dot_general", "reshape"), np.vdot,
     numpy=("vdot",))
spec("inner", fnp.inner, [U(S23), U((4, 3))], ("dot_general",), np.inner, numpy=("inner",))
spec("outer", fnp.outer, [U((3,)), U(S23)], ("mul", "reshape"), np.outer, numpy=("outer",))
spec("tensordot", lambda x, y: fnp.tensordot(x, y, axes=([1, 0], [0, 2])),
     [U(S234), U((3, 4, 2))], ("dot_general",),
     lambda x, y: np.tensordot(x, y, axes=([1, 0], [0, 2])), numpy=("tensordot",))
spec("tensordot_int", lambda x, y: fnp.tensordot(x, y, 1), [U(S23), U((3, 2))],
     ("dot_general",), lambda x, y: np.tensordot(x, y, 1))
spec("trace", fnp.trace, [U((3, 3))], ("gather", "reduce_sum"), np.trace, numpy=("trace",))
spec("trace_offset_axes", lambda x: fnp.trace(x, 1, 0, 2), [U((3, 2, 4))],
     ("gather", "reduce_sum"), lambda x: np.trace(x, 1, 0, 2))
spec("diagonal", lambda x: fnp.diagonal(x, -1, 1, 2), [U((2, 4, 3))], ("gather",),
     lambda x: np.diagonal(x, -1, 1, 2), numpy=("diagonal",))
spec("lax.dot_general_batch",
     lambda x, y: lax.dot_general(x, y, (((2,), (1,)), ((0,), (2,)))),
     [U((2, 3, 4)), U((5, 4, 2))], ("dot_general",),
     lambda x, y: np.einsum("bik,jkb->bij", x, y))

_DOT = ("dot_general",)
_EINSUMS: list[tuple[str, list[tuple[int, ...]], tuple[str, ...]]] = [
    ("ij,jk->ik", [S23, (3, 4)], _DOT),
    ("ii->", [(3, 3)], ("gather", "reduce_sum")),   # trace
    ("ii->i", [(3, 3)], ("gather",)),               # diagonal
    ("ij->ji", [S23], ("transpose",)),
    ("ij,ij", [S23, S23], _DOT),                    # implicit output: a full contraction
    ("ij,jk", [S23, (3, 2)], _DOT),                 # implicit output "ik"
    ("ji,jk", [(3, 2), (3, 4)], _DOT),              # implicit output "ik" (sorted labels)
    ("i,j->ij", [(3,), (2,)], _DOT),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)], _DOT),
    ("i...,i...", [(3, 2), (3, 2)], _DOT),          # implicit output keeps the ellipsis
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)], _DOT),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], _DOT),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)], ("gather", "dot_general")),
    ("ijk->", [S234], ("reduce_sum",)),
    ("ij,kj->", [S23, (4, 3)], ("reduce_sum",)),
]
for _sub, _shapes, _prims in _EINSUMS:
    spec(f"einsum[{_sub}]", lambda *xs, s=_sub: fnp.einsum(s, *xs), [U(s) for s in _shapes],
         _prims, lambda *xs, s=_sub: np.einsum(s, *xs), numpy=("einsum",))

# == indexing =================================================================================

spec("index_basic", lambda x: x[1:, ::-2], [U((3, 5))], ("slice", "rev"),
     lambda x: x[1:, ::-2], tracer_only=True)
spec("index_int_negative", lambda x: x[-1, 1:3], [U((3, 4))], ("slice", "reshape"),
     lambda x: x[-1, 1:3], tracer_only=True)
spec("index_none_ellipsis", lambda x: x[..., None, 1], [U(S234)], ("slice", "reshape"),
     lambda x: x[..., None, 1], tracer_only=True)
spec("index_negative_steps", lambda x: x[3:0:-2, ::-1], [U((5, 3))], ("rev", "slice"),
     lambda x: x[3:0:-2, ::-1], tracer_only=True)
_IDX2 = np.array([[0, 2], [2, 2]])
spec("index_int_array_repeats", lambda x: x[_IDX2], [U((3, 2))], ("gather",),
     lambda x: x[_IDX2], tracer_only=True)
spec("index_adjacent_arrays", lambda x: x[:, [0, 2, 2], [1, 0, 1]], [U(S234)], ("gather",),
     lambda x: x[:, [0, 2, 2], [1, 0, 1]], tracer_only=True)
spec("index_nonadjacent_arrays", lambda x: x[[1, 0], :, [3, 3]], [U(S234)],
     ("gather", "transpose"), lambda x: x[[1, 0], :, [3, 3]], tracer_only=True)
spec("index_int_and_array_nonadjacent", lambda x: x[1, :, [0, 2]], [U(S234)], ("gather",),
     lambda x: x[1, :, [0, 2]], tracer_only=True)
spec("index_int_and_array_adjacent", lambda x: x[:, 1, [0, 2, 0]], [U(S234)], ("gather",),
     lambda x: x[:, 1, [0, 2, 0]], tracer_only=True)
spec("index_array_slice_mix", lambda x: x[np.array([[1], [0]]), 1:, np.array([0, 3])],
     [U(S234)], ("gather",), lambda x: x[np.array([[1], [0]]), 1:, np.array([0, 3])],
     tracer_only=True)
spec("index_none_and_array", lambda x: x[None, :, [2, 0]], [U(S23)], ("gather",),
     lambda x: x[None, :, [2, 0]], tracer_only=True)
spec("index_none_between_arrays", lambda x: x[[1, 0], None, [2, 2]], [U(S23)], ("gather",),
     lambda x: x[[1, 0], None, [2, 2]], tracer_only=True)
_MASK = np.array([[True, False, True], [False, False, True]])
spec("index_bool_mask", lambda x: x[_MASK], [U(S23)], ("gather",), lambda x: x[_MASK],
     tracer_only=True)
spec("index_bool_mask_rows", lambda x: x[np.array([True, False, True])], [U((3, 2))],
     ("gather",), lambda x: x[np.array([True, False, True])], tracer_only=True)
spec("index_traced", lambda x, i: x[i, 1:], [U((4, 3)), I((2, 3), -4, 4)], ("gather",),
     lambda x, i: x[i, 1:], vmap_none=False, tracer_only=True)
# getitem as a function: with an unbatched x (an ndarray) and batched indices, x[i] would be
# NumPy's own indexing, which cannot take a tracer.
spec("lax.getitem_traced", lambda x, i: getitem(x, (slice(None), i)),
     [U((3, 4)), I((2,), 0, 4)], ("gather",), lambda x, i: x[:, i])
spec("lax.gather", lambda x, i, j: lax.gather(x, i, j), [U((3, 4, 2)), I((5,), 0, 3),
                                                         I((5,), 0, 4)],
     ("gather",), lambda x, i, j: x[i, j])

# .at[] updates; the indices repeat and the values broadcast (PITFALLS.md: np.add.at).
_AT_IDX = np.array([[0, 2], [2, 2]])
spec("at_add_repeated_broadcast", lambda x, u: at(x)[_AT_IDX].add(u), [U((3, 4)), U((4,))],
     ("scatter_add",), lambda x, u: _add_at_ref(x, (_AT_IDX,), u))
spec("at_add_scalar_slice", lambda x: at(x)[1:, ::2].add(2.0), [U((3, 4))], ("scatter_add",),
     lambda x: _add_at_ref(x, (slice(1, None), slice(None, None, 2)), np.array(2.0)))
spec("at_set", lambda x, u: at(x)[[0, 2], 1:3].set(u), [U((3, 4)), U((2, 2))], ("scatter",),
     lambda x, u: _set_ref(x, ([0, 2], slice(1, 3)), u))
spec("at_set_repeated", lambda x, u: at(x)[np.array([1, 1, 0])].set(u),
     [U((3, 2)), U((3, 2))], ("scatter",), lambda x, u: _set_ref(x, (np.array([1, 1, 0]),), u))
spec("at_multiply", lambda x, u: at(x)[1].multiply(u), [U((3, 4)), U((4,))],
     ("scatter", "gather", "mul"), lambda x, u: _set_ref(x, (1,), x[1] * u))
spec("at_mul_alias", lambda x: at(x)[:, 0].mul(3.0), [U((3, 4))], ("scatter", "mul"),
     lambda x: _set_ref(x, (slice(None), 0), x[:, 0] * 3))
spec("at_min", lambda x, u: at(x)[:, 1:3].min(u), [U((3, 4)), U((3, 2))],
     ("scatter", "gather", "min"), lambda x, u: _set_ref(x, (slice(None), slice(1, 3)),
                                                         np.minimum(x[:, 1:3], u)))
spec("at_max", lambda x, u: at(x)[np.array([2, 0])].max(u), [U((3, 4)), U((4,))],
     ("scatter", "gather", "max"), lambda x, u: _set_ref(x, (np.array([2, 0]),),
                                                         np.maximum(x[[2, 0]], u)))
spec("at_get", lambda x: at(x)[::-1, 2].get(), [U((3, 4))], ("rev", "slice"),
     lambda x: x[::-1, 2])
spec("at_add_traced_indices", lambda x, i, u: at(x)[i].add(u),
     [U((4, 2)), I((5,), 0, 4), U((5, 2))], ("scatter_add",),
     lambda x, i, u: _add_at_ref(x, (i,), u))
spec("at_set_traced_indices", lambda x, i, u: at(x)[i].set(u),
     [U((4, 2)), _Gen((3,), lambda rng: rng.permutation(4)[:3]), U((3, 2))], ("scatter",),
     lambda x, i, u: _set_ref(x, (i,), u))
spec("lax.scatter_add", lambda x, u, i: lax.scatter_add(x, u, i),
     [U((4, 2)), U((2, 3, 2)), I((2, 3), 0, 4)], ("scatter_add",),
     lambda x, u, i: _add_at_ref(x, (i,), u))
spec("lax.scatter_repeated", lambda x, u, i: lax.scatter(x, u, i),
     [U((4, 2)), U((5, 2)), I((5,), 0, 3)], ("scatter",),
     lambda x, u, i: _set_ref(x, (i,), u))


def _add_at_ref(x: np.ndarray, idx: tuple[Any, ...], u: np.ndarray) -> np.ndarray:
    out = x.copy()
    np.add.at(out, idx, np.broadcast_to(u, out[idx].shape))  # PITFALLS.md: broadcast first
    return out


def _set_ref(x: np.ndarray, idx: tuple[Any, ...], u: Any) -> np.ndarray:
    out = x.copy()
    out[idx] = u
    return out


# == creation, inside computations ============================================================

spec("array_of_tracers", lambda x, y: fnp.array([x, y]), [U((3,)), U((3,))],
     ("concatenate", "reshape"), lambda x, y: np.array([x, y]), numpy=("array",))
spec("asarray_of_tracers", lambda x: fnp.asarray([x, x * 2]), [U(())],
     ("concatenate", "reshape", "mul"), lambda x: np.asarray([x, x * 2]), numpy=("asarray",))
spec("asarray_dtype", lambda x: fnp.asarray(x, np.float64) * 2,
     [_Gen(S23, lambda rng: rng.uniform(-2, 2, S23).astype(np.float32))],
     ("convert_element_type", "mul"), lambda x: np.asarray(x, np.float64) * 2)
spec("zeros", lambda x: x + fnp.zeros((2, 3)), [U((3,))], ("add",),
     lambda x: x + np.zeros((2, 3)), numpy=("zeros",))
spec("ones", lambda x: x * fnp.ones(3, np.float64), [U(S23)], ("mul",),
     lambda x: x * np.ones(3), numpy=("ones",))
spec("full", lambda s: fnp.full((2, 3), s), [U(())], ("broadcast_in_dim",),
     lambda s: np.full((2, 3), s), numpy=("full",))
spec("zeros_like", lambda x: fnp.zeros_like(x) + fnp.sin(x), [U(S23)], ("add", "sin"),
     lambda x: np.zeros_like(x) + np.sin(x), numpy=("zeros_like",))
spec("ones_like", lambda x: x * fnp.ones_like(x), [U(S23)], ("mul",),
     lambda x: x * np.ones_like(x), numpy=("ones_like",))
spec("full_like", lambda x, s: x * fnp.full_like(x, s), [U(S23), U(())],
     ("mul", "broadcast_in_dim"), lambda x, s: x * np.full_like(x, s), numpy=("full_like",))
spec("arange", lambda x: x * fnp.arange(1, 4), [U(S23)], ("mul",),
     lambda x: x * np.arange(1, 4), numpy=("arange",))
spec("linspace", lambda a, b: fnp.linspace(a, b, 5), [U(()), U(())], ("sub", "mul", "add"),
     lambda a, b: np.linspace(a, b, 5), numpy=("linspace",))
spec("linspace_no_endpoint", lambda a, b: fnp.linspace(a, b, 4, endpoint=False),
     [U((2,)), U((2,))], ("sub", "mul", "add"),
     lambda a, b: np.linspace(a, b, 4, endpoint=False))
spec("eye", lambda x: fnp.eye(3, 2, -1) @ x, [U(S23)], ("dot_general",),
     lambda x: np.eye(3, 2, -1) @ x, numpy=("eye",))

# == array methods and properties on tracers ==================================================

spec("methods", lambda x: (x.sum(axis=0), x.mean(), x.max(axis=1), x.min(),
                           x.reshape(3, 2), x.reshape((6,)), x.transpose(), x.transpose(1, 0),
                           x.T, x.astype(np.float64) * x.size + x.ndim),
     [U(S23)], ("reduce_sum", "reduce_max", "reduce_min", "reshape", "transpose"),
     lambda x: (x.sum(axis=0), x.mean(), x.max(axis=1), x.min(), x.reshape(3, 2),
                x.reshape((6,)), x.transpose(), x.transpose(1, 0), x.T,
                x.astype(np.float64) * x.size + x.ndim), tracer_only=True)

# fg.random: the counter-based sampler primitive (integer key in, non-differentiable).
KEY = _Gen((2,), lambda rng: rng.integers(0, 2 ** 32, (2,), dtype=np.uint64).astype(np.uint32))
spec("random_normal", lambda k: fg.random.normal(k, (3,)), [KEY], ("random_bits",), order=0)
spec("random_split", lambda k: fg.random.split(k, 3), [KEY], ("random_bits",), order=0)
spec("random_fold_in", lambda k: fg.random.fold_in(fg.random.split(k, 2), np.arange(2)), [KEY],
     ("random_bits", "random_fold_in"), order=0)

# == complex parts (real in, real out, so finite differences check the convention inside) ====

_C1, _C2 = 0.7 - 1.3j, -0.4 + 0.9j


def _z(x: Any, y: Any, m: Any = None) -> Any:
    return lax.complex(x, y) if m is None else x + 1j * y


spec("complex_parts", lambda x, y: fnp.real(_z(x, y) * _z(x, y) * _C1)
     + fnp.imag(fnp.conj(_z(x, y)) * _C2) + fnp.conjugate(x) + fnp.real(y) - fnp.imag(x),
     [U(S23), U(S23)], ("real", "imag", "conj", "convert_element_type", "mul", "add"),
     lambda x, y: np.real(_z(x, y, np) ** 2 * _C1) + np.imag(np.conj(_z(x, y, np)) * _C2)
     + x + y, numpy=("real", "imag", "conj", "conjugate"))
spec("abs_complex", lambda x, y: fnp.abs(_z(x, y) * _C1), [AWAY(S23), AWAY(S23)], ("abs",),
     lambda x, y: np.abs(_z(x, y, np) * _C1))
spec("angle", lambda x, y: fnp.angle(_z(x, y) * _C2) + fnp.angle(x + 2.5, deg=True),
     [AWAY(S23), AWAY(S23)], ("atan2", "real", "imag"),
     lambda x, y: np.angle(_z(x, y, np) * _C2) + np.angle(x + 2.5, deg=True), numpy=("angle",))
