"""Elementwise primitives: arithmetic, transcendental functions, comparisons, select, casts.

Operands of an n-ary elementwise primitive have equal shapes and dtypes (``funcgrad.numpy``
inserts the broadcasts and casts NumPy's rules call for). For a real unary function with
derivative ``f'``, one rule serves both modes: the JVP is ``f'(x) * t`` and the VJP is
``f'(x) * ct``.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import ShapeError, supported_dtype
from funcgrad.core.ir import Literal
from funcgrad.core.primitive import Primitive, add_any_p
from funcgrad.transforms import ad, batching, codegen, passes

# == helpers ==================================================================================


_CONSTANTS: dict[tuple[Any, ...], np.ndarray] = {}


def full_like(x: Any, value: Any) -> np.ndarray:
    """A concrete constant shaped like ``x``: a read-only zero-stride view of one scalar.

    Constants are valid at every trace level, so this needs no primitive; small ones are
    cached because rules and Python-scalar operands create the same few over and over.
    """
    return constant(value, x.dtype, x.shape)


def _cache_key(value: Any, dtype: Any, shape: tuple[int, ...]) -> Any:
    # 0.0 == -0.0 (and they hash alike), but the constants differ: the sign is part of a
    # float's key. Other inexact scalars (NumPy's, complex) are rare here and not cached.
    if isinstance(value, float):
        return (type(value), value, math.copysign(1.0, value), dtype, shape)
    if isinstance(value, (int, np.integer, np.bool_)):
        return (type(value), value, dtype, shape)
    return None


def constant(value: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    key = _cache_key(value, dtype, shape)
    try:
        return _CONSTANTS[key]
    except (KeyError, TypeError):
        pass
    scalar = np.array(value, dtype)
    # np.broadcast_to costs ~4 us of Python; the ndarray constructor makes the same view.
    out = np.ndarray(shape, scalar.dtype, scalar, 0, (0,) * len(shape)) if shape else scalar
    out.flags.writeable = False
    if len(_CONSTANTS) > 4096:
        _CONSTANTS.clear()
    if key is not None:
        _CONSTANTS[key] = out
    return out


_PY_SCALAR_TYPES = (int, float, bool, builtins.complex)


def _operands(x: Any, y: Any) -> tuple[Any, Any]:
    # Python scalars on one side become constants shaped like the other (internal rules use
    # this for things like `mul(t, 2.0)`).
    if type(y) in _PY_SCALAR_TYPES:
        return x, full_like(x, y)
    if type(x) in _PY_SCALAR_TYPES:
        return full_like(y, x), y
    return x, y


def _same_shape_eval(*avals: ShapedArray) -> ShapedArray:
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape:
            raise ShapeError(f"elementwise operands must have equal shapes, got "
                             f"{' and '.join(str(b.shape) for b in avals)}")
    return first


def _unop(name: str, impl: Callable[..., Any]) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(impl)
    prim.def_abstract_eval(lambda x, **_: x)
    prim.def_eager_check(None)  # the rule accepts every operand
    batching.defvectorized(prim)
    _def_codegen(prim, impl)
    return prim


def _binop(name: str, impl: Callable[..., Any], out_dtype: Any = None,
           kinds: str | None = None) -> Primitive:
    """``kinds``: the dtype kinds the operands may have (None: any)."""
    prim = Primitive(name)
    prim.def_impl(impl)

    def abstract_eval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
        _same_shape_eval(x, y)
        if kinds is not None and (x.dtype.kind not in kinds or y.dtype.kind not in kinds):
            raise TypeError(f"{name} does not accept operands of dtypes {x.dtype} and {y.dtype}")
        if out_dtype is not None:
            return ShapedArray(x.shape, out_dtype)
        if x.dtype != y.dtype:
            raise TypeError(f"{name} requires equal dtypes, got {x.dtype} and {y.dtype}")
        return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)

    prim.def_abstract_eval(abstract_eval)
    prim.def_eager_check(binary_same_type="biufc" if kinds is None else kinds)
    batching.defbroadcasting(prim)
    _def_codegen(prim, impl)
    return prim


def _def_codegen(prim: Primitive, impl: Callable[..., Any]) -> None:
    if isinstance(impl, np.ufunc):
        codegen.def_ufunc(prim, impl)
    else:
        codegen.def_impl_call(prim)


def _defderiv(prim: Primitive, *derivs: Callable[..., Any]) -> None:
    """Real ``prim`` with partial derivatives ``derivs[i](ans, *args, **params)``, one per
    argument: JVP and VJP from one rule each (``t * d_i`` and ``ct * d_i``)."""
    ad.defjvp(prim, *(_times_deriv(d, len(derivs) == 1) for d in derivs))
    ad.defvjp(prim, *(_times_deriv(d, len(derivs) == 1) for d in derivs))


def _times_deriv(deriv: Callable[..., Any], unary: bool) -> Callable[..., Any]:
    if unary:  # no *args packing on eager grad's most common rule
        return lambda t, ans, x, **p: mul(t, deriv(ans, x, **p))
    return lambda t, ans, *args, **p: mul(t, deriv(ans, *args, **p))


# == arithmetic ===============================================================================

add_p = _binop("add", np.add)
sub_p = _binop("sub", np.subtract, kinds="iufc")  # NumPy refuses boolean subtraction
mul_p = _binop("mul", np.multiply)


def _simplify_mul(eqn: Any, defs: Any) -> Any:
    # x * 1 is x exactly (NaN, inf and -0.0 included); x * 0 is not 0, so it stays.
    x, y = eqn.invars
    out = eqn.outvars[0]
    for a, b in ((x, y), (y, x)):
        if passes.literal_value(b) == 1 and passes.same_type(a, out):
            return a
    return None


passes.simplify_rules[mul_p] = _simplify_mul
div_p = _binop("div", lambda x, y: np.divide(x, y) if x.dtype.kind in "fc"
               else np.floor_divide(x, y), kinds="iufc")
codegen.def_ufunc_by_dtype(div_p, lambda dt: np.divide if dt.kind in "fc" else np.floor_divide)


def _simplify_div(eqn: Any, defs: Any) -> Any:
    # x / 2**k is x * 2**-k exactly (one rounding of the same real number; inf, NaN, -0.0
    # alike) when 2**-k is a finite value of the dtype: a multiply, fusible and cheaper.
    x, y = eqn.invars
    v = passes.literal_value(y)
    dt = eqn.outvars[0].aval.dtype
    if v is None or dt.kind != "f" or not isinstance(v, float) or v == 0 or \
            abs(np.frexp(v)[0]) != 0.5:
        return None
    with np.errstate(all="ignore"):
        r = dt.type(1) / dt.type(v)
    if not np.isfinite(r) or r * dt.type(v) != 1:
        return None
    lit = Literal(np.broadcast_to(np.asarray(r, dt), y.aval.shape), y.aval)
    return type(eqn)(mul_p, [x, lit], eqn.outvars, {}, eqn.source_info)


passes.simplify_rules[div_p] = _simplify_div
# Kinds whose NumPy loops keep the dtype (bool ** bool, bool / bool are int8 in NumPy).
pow_p = _binop("pow", np.power, kinds="iufc")
# NumPy vectorizes maximum and minimum only between two strided arrays: against a scalar (a
# 0-d array, or a zero-stride broadcast) it runs an element loop, 2.5x slower (np.maximum of
# 1M float32 and 0: 387 us; against an array of zeros: 156 us). A relu is exactly that, so
# the constant is laid out as a small filled array and the operand taken in blocks of its
# size: the same bits (checked on NaN payloads, -0.0, inf, subnormals and integers).
CONSTANT_BLOCK = 1 << 16
CONSTANT_MIN_SIZE = 4096
_constant_blocks: dict[tuple[str, bytes], np.ndarray] = {}


def _constant_block(value: np.ndarray) -> np.ndarray:
    key = (value.dtype.str, value.tobytes())
    block = _constant_blocks.get(key)
    if block is None:
        if len(_constant_blocks) >= 64:
            _constant_blocks.clear()
        block = np.full(CONSTANT_BLOCK, value, value.dtype)
        block.flags.writeable = False
        _constant_blocks[key] = block
    return block


def _with_constant(ufunc: np.ufunc) -> Callable[..., np.ndarray]:
    def kernel(a: Any, b: Any, out: np.ndarray | None = None) -> np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        const_b = not any(b.strides)
        x = a if const_b else b
        c = b if const_b else a
        if (any(c.strides) or x.size < CONSTANT_MIN_SIZE or x.dtype != c.dtype
                or not x.flags.c_contiguous
                or (out is not None and not out.flags.c_contiguous)):
            return ufunc(a, b) if out is None else ufunc(a, b, out=out)
        block = _constant_block(np.asarray(c[(0,) * c.ndim]))
        res = np.empty(x.shape, x.dtype) if out is None else out
        xs, rs = x.reshape(-1), res.reshape(-1)
        for lo in range(0, xs.size, block.size):
            hi = builtins.min(lo + block.size, xs.size)
            k = block[:hi - lo]
            if const_b:
                ufunc(xs[lo:hi], k, out=rs[lo:hi])
            else:
                ufunc(k, xs[lo:hi], out=rs[lo:hi])
        return res
    kernel.__name__ = f"{ufunc.__name__}_with_constant"
    return kernel


_max_kernel, _min_kernel = _with_constant(np.maximum), _with_constant(np.minimum)
max_p = _binop("max", _max_kernel)
min_p = _binop("min", _min_kernel)
codegen.def_ufunc(max_p, np.maximum, _max_kernel)
codegen.def_ufunc(min_p, np.minimum, _min_kernel)
atan2_p = _binop("atan2", np.arctan2, kinds="f")
rem_p = _binop("rem", np.remainder, kinds="iuf")
neg_p = _unop("neg", np.negative)


def add(x: Any, y: Any) -> Any:
    return add_p.bind(*_operands(x, y))


def sub(x: Any, y: Any) -> Any:
    return sub_p.bind(*_operands(x, y))


def mul(x: Any, y: Any) -> Any:
    return mul_p.bind(*_operands(x, y))


def div(x: Any, y: Any) -> Any:
    """True division for floats, floor division for integers (NumPy's ``//``)."""
    return div_p.bind(*_operands(x, y))


def pow(x: Any, y: Any) -> Any:
    return pow_p.bind(*_operands(x, y))


def max(x: Any, y: Any) -> Any:
    return max_p.bind(*_operands(x, y))


def min(x: Any, y: Any) -> Any:
    return min_p.bind(*_operands(x, y))


def atan2(x: Any, y: Any) -> Any:
    return atan2_p.bind(*_operands(x, y))


def rem(x: Any, y: Any) -> Any:
    """NumPy's ``remainder`` (the sign of the divisor)."""
    return rem_p.bind(*_operands(x, y))


def neg(x: Any) -> Any:
    return neg_p.bind(x)


ad.defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
ad.defvjp(add_p, lambda ct, ans, x, y: ct, lambda ct, ans, x, y: ct)
ad.defjvp(sub_p, lambda t, ans, x, y: t, lambda t, ans, x, y: neg(t))
ad.defvjp(sub_p, lambda ct, ans, x, y: ct, lambda ct, ans, x, y: neg(ct))
ad.defjvp(mul_p, lambda t, ans, x, y: mul(t, y), lambda t, ans, x, y: mul(x, t))
ad.defvjp(mul_p, lambda ct, ans, x, y: mul(ct, y), lambda ct, ans, x, y: mul(x, ct))
# d(x/y) = dx / y - dy * (x/y) / y
ad.defjvp(div_p, lambda t, ans, x, y: div(t, y), lambda t, ans, x, y: neg(mul(t, div(ans, y))))
ad.defvjp(div_p, lambda ct, ans, x, y: div(ct, y),
          lambda ct, ans, x, y: neg(mul(ct, div(ans, y))))
ad.deflinear(neg_p, lambda ct, x: [neg(ct)])


# Negations folded into their readers, exactly (IEEE subtraction is the addition of the
# negated operand, and integers wrap alike): -(-x) is x, a + (-b) is a - b, a - (-b) is a + b.
# The backward passes of sub and neg make these: a VJP's neg(ct) summed (add_any) into
# another cotangent.
def _simplify_neg(eqn: Any, defs: Any) -> Any:
    inner = passes.defined_by(eqn.invars[0], neg_p, defs)
    return inner.invars[0] if inner is not None else None


def _simplify_add_sub(eqn: Any, defs: Any) -> Any:
    a, b = eqn.invars
    if eqn.outvars[0].aval.dtype.kind == "b":
        return None
    negated_b = passes.defined_by(b, neg_p, defs)
    if negated_b is not None:
        flipped = add_p if eqn.primitive is sub_p else sub_p
        return type(eqn)(flipped, [a, negated_b.invars[0]], eqn.outvars, {}, eqn.source_info)
    negated_a = passes.defined_by(a, neg_p, defs)
    if negated_a is not None and eqn.primitive is not sub_p:  # (-a) + b is b - a
        return type(eqn)(sub_p, [b, negated_a.invars[0]], eqn.outvars, {}, eqn.source_info)
    return None


passes.simplify_rules[neg_p] = _simplify_neg
passes.simplify_rules[add_p] = _simplify_add_sub
passes.simplify_rules[sub_p] = _simplify_add_sub
passes.simplify_rules[add_any_p] = _simplify_add_sub  # the backward pass's sums of cotangents


def _pow_dx(ans: Any, x: Any, y: Any) -> Any:
    # y * x^(y-1), written without dividing by x so that x = 0 is exact.
    return mul(y, pow(x, sub(y, 1)))


def _pow_dy(ans: Any, x: Any, y: Any) -> Any:
    # log(x) * x^y, with the x = 0 limit 0 (as JAX) instead of 0 * -inf = nan.
    zero = eq(x, 0)
    safe_x = select(zero, full_like(x, 1), x)
    return select(zero, full_like(x, 0), mul(log(safe_x), ans))


_defderiv(pow_p, _pow_dx, _pow_dy)


def _minmax_weights(ans: Any, x: Any, y: Any) -> tuple[Any, Any]:
    # Where x and y tie, each gets half the gradient (JAX's convention for max/min).
    x_wins = convert_element_type(eq(ans, x), x.dtype)
    y_wins = convert_element_type(eq(ans, y), x.dtype)
    total = add(x_wins, y_wins)
    return div(x_wins, total), div(y_wins, total)


for _p in (max_p, min_p):
    _defderiv(_p, lambda ans, x, y: _minmax_weights(ans, x, y)[0],
              lambda ans, x, y: _minmax_weights(ans, x, y)[1])


def _atan2_denom(x: Any, y: Any) -> Any:
    return add(mul(x, x), mul(y, y))


# atan2(x, y) = angle of (y, x): d/dx = y / (x^2 + y^2), d/dy = -x / (x^2 + y^2)
_defderiv(atan2_p, lambda ans, x, y: div(y, _atan2_denom(x, y)),
          lambda ans, x, y: neg(div(x, _atan2_denom(x, y))))
# remainder(x, y) = x - floor(x / y) * y
ad.defjvp(rem_p, lambda t, ans, x, y: t,
          lambda t, ans, x, y: mul(t, neg(floor(div(x, y)))))
ad.defvjp(rem_p, lambda ct, ans, x, y: ct,
          lambda ct, ans, x, y: mul(ct, neg(floor(div(x, y)))))


# == unary functions ==========================================================================

exp_p = _unop("exp", np.exp)
exp2_p = _unop("exp2", np.exp2)
log_p = _unop("log", np.log)
log1p_p = _unop("log1p", np.log1p)
expm1_p = _unop("expm1", np.expm1)
sqrt_p = _unop("sqrt", np.sqrt)
sin_p = _unop("sin", np.sin)
cos_p = _unop("cos", np.cos)
tan_p = _unop("tan", np.tan)
asin_p = _unop("asin", np.arcsin)
acos_p = _unop("acos", np.arccos)
atan_p = _unop("atan", np.arctan)
sinh_p = _unop("sinh", np.sinh)
cosh_p = _unop("cosh", np.cosh)
tanh_p = _unop("tanh", np.tanh)
asinh_p = _unop("asinh", np.arcsinh)
acosh_p = _unop("acosh", np.arccosh)
atanh_p = _unop("atanh", np.arctanh)
abs_p = _unop("abs", np.abs)
logistic_p = _unop("logistic", lambda x: _logistic_impl(x))
erf_p = _unop("erf", lambda x: _erf_impl(x))
integer_pow_p = _unop("integer_pow", lambda x, y: _integer_pow_impl(x, y))


def _integer_pow_abstract_eval(x: ShapedArray, y: int) -> ShapedArray:
    if not isinstance(y, (int, np.integer)) or isinstance(y, bool):
        raise TypeError(f"integer_pow: the exponent y must be a Python int, got {y!r}")
    return x


integer_pow_p.def_abstract_eval(_integer_pow_abstract_eval)


def _simplify_integer_pow(eqn: Any, defs: Any) -> Any:
    # The impl computes a square as x * x: the same product, now visible to CSE and fusion.
    if eqn.params["y"] == 2:
        x = eqn.invars[0]
        return type(eqn)(mul_p, [x, x], eqn.outvars, {}, eqn.source_info)
    return None


passes.simplify_rules[integer_pow_p] = _simplify_integer_pow


def _logistic_impl(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) overflows for x << 0; this form is exact on both tails.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_math_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_impl(x: np.ndarray) -> np.ndarray:
    # NumPy has no erf; math.erf is exact to the last bit, at ~50 ns an element.
    # (on a 0-d array frompyfunc returns a Python float, not an array)
    return np.asarray(_math_erf(x)).astype(x.dtype)


def _integer_pow_impl(x: np.ndarray, y: int) -> np.ndarray:
    if y == 2:
        return x * x
    if y < 0 and x.dtype.kind in "iu":
        raise ValueError(f"integer_pow: integers to negative powers ({y}) are not allowed")
    return np.power(x, y)


def exp(x: Any) -> Any:
    return exp_p.bind(x)


def exp2(x: Any) -> Any:
    return exp2_p.bind(x)


def log(x: Any) -> Any:
    return log_p.bind(x)


def log1p(x: Any) -> Any:
    return log1p_p.bind(x)


def expm1(x: Any) -> Any:
    return expm1_p.bind(x)


def sqrt(x: Any) -> Any:
    return sqrt_p.bind(x)


def sin(x: Any) -> Any:
    return sin_p.bind(x)


def cos(x: Any) -> Any:
    return cos_p.bind(x)


def tan(x: Any) -> Any:
    return tan_p.bind(x)


def asin(x: Any) -> Any:
    return asin_p.bind(x)


def acos(x: Any) -> Any:
    return acos_p.bind(x)


def atan(x: Any) -> Any:
    return atan_p.bind(x)


def sinh(x: Any) -> Any:
    return sinh_p.bind(x)


def cosh(x: Any) -> Any:
    return cosh_p.bind(x)


def tanh(x: Any) -> Any:
    return tanh_p.bind(x)


def asinh(x: Any) -> Any:
    return asinh_p.bind(x)


def acosh(x: Any) -> Any:
    return acosh_p.bind(x)


def atanh(x: Any) -> Any:
    return atanh_p.bind(x)


def abs(x: Any) -> Any:
    return abs_p.bind(x)


def logistic(x: Any) -> Any:
    """The sigmoid ``1 / (1 + exp(-x))``, exact on both tails."""
    return logistic_p.bind(x)


def erf(x: Any) -> Any:
    return erf_p.bind(x)


def integer_pow(x: Any, y: int) -> Any:
    """``x ** y`` for a static integer ``y``."""
    return integer_pow_p.bind(x, y=int(y))


def square(x: Any) -> Any:
    return integer_pow(x, 2)


def _one_minus_sq(a: Any) -> Any:
    return sub(full_like(a, 1), mul(a, a))


_defderiv(exp_p, lambda ans, x: ans)
_defderiv(exp2_p, lambda ans, x: mul(ans, float(np.log(2))))
_defderiv(log_p, lambda ans, x: div(full_like(x, 1), x))
_defderiv(log1p_p, lambda ans, x: div(full_like(x, 1), add(x, 1)))
_defderiv(expm1_p, lambda ans, x: add(ans, 1))
_defderiv(sqrt_p, lambda ans, x: div(full_like(x, 0.5), ans))
_defderiv(sin_p, lambda ans, x: cos(x))
_defderiv(cos_p, lambda ans, x: neg(sin(x)))
_defderiv(tan_p, lambda ans, x: add(mul(ans, ans), 1))
_defderiv(asin_p, lambda ans, x: div(full_like(x, 1), sqrt(_one_minus_sq(x))))
_defderiv(acos_p, lambda ans, x: div(full_like(x, -1), sqrt(_one_minus_sq(x))))
_defderiv(atan_p, lambda ans, x: div(full_like(x, 1), add(mul(x, x), 1)))
_defderiv(sinh_p, lambda ans, x: cosh(x))
_defderiv(cosh_p, lambda ans, x: sinh(x))
_defderiv(tanh_p, lambda ans, x: _one_minus_sq(ans))
_defderiv(asinh_p, lambda ans, x: div(full_like(x, 1), sqrt(add(mul(x, x), 1))))
_defderiv(acosh_p, lambda ans, x: div(full_like(x, 1), sqrt(sub(mul(x, x), 1))))
_defderiv(atanh_p, lambda ans, x: div(full_like(x, 1), _one_minus_sq(x)))


def _abs_deriv(ans: Any, x: Any) -> Any:
    # As JAX: the slope at 0 is 1 (select(x >= 0, 1, -1)), so grad(abs)(0.0) == 1.0.
    return select(ge(x, full_like(x, 0)), full_like(x, 1), full_like(x, -1))


def _abs_complex_factor(ans: Any, x: Any) -> Any:
    # |z| is not holomorphic: its JVP is the real-linear map t -> re(conj(z) t / |z|), and
    # JAX's convention transposes that (no conjugation of the cotangent) to ct -> ct conj(z)/|z|.
    # At z = 0 the divisor is 1, so both are 0 there (JAX's _replace_zero).
    mag = convert_element_type(ans, x.dtype)
    return div(conj(x), select(eq(mag, full_like(mag, 0)), full_like(mag, 1), mag))


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    if x.dtype.kind == "c":
        return real(mul(t, _abs_complex_factor(ans, x)))
    return mul(t, _abs_deriv(ans, x))


def _abs_vjp(ct: Any, ans: Any, x: Any) -> Any:
    if x.dtype.kind == "c":
        return mul(convert_element_type(ct, x.dtype), _abs_complex_factor(ans, x))
    return mul(ct, _abs_deriv(ans, x))


def _real_part_eval(x: ShapedArray, **_: Any) -> ShapedArray:
    # abs, real and imag of a complex array are real (complex64 -> float32).
    if x.dtype.kind == "c":
        return ShapedArray(x.shape, np.finfo(x.dtype).dtype, x.weak_type)
    return x


abs_p.def_abstract_eval(_real_part_eval)
ad.defjvp(abs_p, _abs_jvp)
ad.defvjp(abs_p, _abs_vjp)
_defderiv(logistic_p, lambda ans, x: mul(ans, sub(full_like(ans, 1), ans)))
_defderiv(erf_p, lambda ans, x: mul(exp(neg(mul(x, x))), float(2 / np.sqrt(np.pi))))


def _integer_pow_deriv(ans: Any, x: Any, y: int) -> Any:
    if y == 0:
        return full_like(x, 0)
    if y == 1:
        return full_like(x, 1)
    return mul(x if y == 2 else integer_pow(x, y - 1), float(y))


_defderiv(integer_pow_p, _integer_pow_deriv)


# == complex parts ============================================================================
# As JAX's real_p/imag_p/conj_p: linear over the reals, so their transposes are the whole
# complex convention: real's is ct -> ct + 0j, imag's ct -> -1j ct, conj's ct -> conj(ct).


def _complex_only(name: str, out_real: bool) -> Callable[..., ShapedArray]:
    def rule(x: ShapedArray) -> ShapedArray:
        if x.dtype.kind != "c":
            raise TypeError(f"{name} requires a complex operand, got {x.dtype} "
                            f"(fnp.{name} accepts real arrays too)")
        return _real_part_eval(x) if out_real else x
    return rule


real_p = Primitive("real")
real_p.def_impl(np.real)
real_p.def_abstract_eval(_complex_only("real", True))
imag_p = Primitive("imag")
imag_p.def_impl(np.imag)
imag_p.def_abstract_eval(_complex_only("imag", True))
conj_p = Primitive("conj")
conj_p.def_impl(np.conjugate)
conj_p.def_abstract_eval(_complex_only("conj", False))
for _p in (real_p, imag_p):
    codegen.def_impl_call(_p)  # np.real/np.imag return views of the operand
    batching.defvectorized(_p)
codegen.def_ufunc(conj_p, np.conjugate)
batching.defvectorized(conj_p)


def _complex_dtype_of(x: Any) -> Any:
    return np.result_type(x.dtype, np.complex64)


def real(x: Any) -> Any:
    """The real part of a complex array (as ``jax.lax.real``)."""
    return real_p.bind(x)


def imag(x: Any) -> Any:
    """The imaginary part of a complex array (as ``jax.lax.imag``)."""
    return imag_p.bind(x)


def conj(x: Any) -> Any:
    """The complex conjugate of a complex array (as ``jax.lax.conj``)."""
    return conj_p.bind(x)


def complex(x: Any, y: Any) -> Any:
    """``x + 1j * y`` for real arrays of equal shape and dtype (as ``jax.lax.complex``)."""
    if get_aval(x).dtype.kind not in "f" or get_aval(y).dtype.kind not in "f":
        raise TypeError(f"complex requires real floating operands, got {get_aval(x).dtype} "
                        f"and {get_aval(y).dtype}")
    cdt = _complex_dtype_of(get_aval(x))
    return add(convert_element_type(x, cdt), mul(convert_element_type(y, cdt), 1j))


ad.deflinear(real_p, lambda ct, x: [convert_element_type(ct, x.dtype)])
ad.deflinear(imag_p, lambda ct, x: [mul(convert_element_type(ct, x.dtype), -1j)])
ad.deflinear(conj_p, lambda ct, x: [conj(ct)])


# == non-differentiable and boolean functions =================================================

sign_p = _unop("sign", np.sign)
floor_p = _unop("floor", np.floor)
ceil_p = _unop("ceil", np.ceil)
round_p = _unop("round", np.round)  # half to even, as NumPy
is_finite_p = Primitive("is_finite")
is_finite_p.def_impl(np.isfinite)
is_finite_p.def_abstract_eval(lambda x: ShapedArray(x.shape, np.bool_))
codegen.def_ufunc(is_finite_p, np.isfinite)
batching.defvectorized(is_finite_p)
signbit_p = Primitive("signbit")  # the sign bit itself: -0.0 and -nan too, which no compare sees
signbit_p.def_impl(np.signbit)
signbit_p.def_abstract_eval(lambda x: ShapedArray(x.shape, np.bool_))
codegen.def_ufunc(signbit_p, np.signbit)
batching.defvectorized(signbit_p)
not_p = _unop("not", lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x))


def _not_abstract_eval(x: ShapedArray) -> ShapedArray:
    if x.dtype.kind not in "biu":
        raise TypeError(f"not requires a boolean or integer operand, got {x.dtype}")
    return x


not_p.def_abstract_eval(_not_abstract_eval)

eq_p = _binop("eq", np.equal, np.bool_)
ne_p = _binop("ne", np.not_equal, np.bool_)
passes.commutative.update((add_p, mul_p, eq_p, ne_p))  # bitwise symmetric in NumPy
lt_p = _binop("lt", np.less, np.bool_)
le_p = _binop("le", np.less_equal, np.bool_)
gt_p = _binop("gt", np.greater, np.bool_)
ge_p = _binop("ge", np.greater_equal, np.bool_)
and_p = _binop("and", lambda x, y: np.bitwise_and(x, y), kinds="biu")
or_p = _binop("or", lambda x, y: np.bitwise_or(x, y), kinds="biu")
xor_p = _binop("xor", lambda x, y: np.bitwise_xor(x, y), kinds="biu")



def _as_kind(x: np.ndarray, kind: str) -> np.ndarray:
    # The same bits as a signed ("i") or unsigned ("u") integer of the same width.
    return x if x.dtype.kind == kind else x.view(np.dtype(f"{kind}{x.dtype.itemsize}"))


def _shift_right_arithmetic_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # NumPy's right_shift is arithmetic on signed and logical on unsigned integers; this one
    # is arithmetic on both (the top bit is copied), as lax.shift_right_arithmetic.
    return np.right_shift(_as_kind(x, "i"), _as_kind(y, "i")).view(x.dtype)


def _shift_right_logical_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Zeros shift in from the top whatever the signedness, as lax.shift_right_logical.
    return np.right_shift(_as_kind(x, "u"), _as_kind(y, "u")).view(x.dtype)


shift_left_p = _binop("shift_left", np.left_shift)  # shifts past the width give 0, as JAX
shift_right_arithmetic_p = _binop("shift_right_arithmetic", _shift_right_arithmetic_impl)
shift_right_logical_p = _binop("shift_right_logical", _shift_right_logical_impl)
# nextafter is a step of one ulp: not differentiable (its derivative is taken as zero, as for
# floor and round; JAX has no rule for it at all).
nextafter_p = _binop("nextafter", np.nextafter)

for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, eq_p, ne_p, lt_p, le_p, gt_p,
           ge_p, and_p, or_p, xor_p, shift_left_p, shift_right_arithmetic_p,
           shift_right_logical_p, nextafter_p, signbit_p):
    ad.defnondiff(_p)


def sign(x: Any) -> Any:
    return sign_p.bind(x)


def floor(x: Any) -> Any:
    return floor_p.bind(x)


def ceil(x: Any) -> Any:
    return ceil_p.bind(x)


def round(x: Any) -> Any:
    return round_p.bind(x)


def is_finite(x: Any) -> Any:
    return is_finite_p.bind(x)


def signbit(x: Any) -> Any:
    """Whether the sign bit of a float is set (True for -0.0 and -nan), as
    ``jnp.signbit`` on floats."""
    return signbit_p.bind(x)


def bitwise_not(x: Any) -> Any:
    return not_p.bind(x)


def eq(x: Any, y: Any) -> Any:
    return eq_p.bind(*_operands(x, y))


def ne(x: Any, y: Any) -> Any:
    return ne_p.bind(*_operands(x, y))


def lt(x: Any, y: Any) -> Any:
    return lt_p.bind(*_operands(x, y))


def le(x: Any, y: Any) -> Any:
    return le_p.bind(*_operands(x, y))


def gt(x: Any, y: Any) -> Any:
    return gt_p.bind(*_operands(x, y))


def ge(x: Any, y: Any) -> Any:
    return ge_p.bind(*_operands(x, y))


def bitwise_and(x: Any, y: Any) -> Any:
    return and_p.bind(*_operands(x, y))


def bitwise_or(x: Any, y: Any) -> Any:
    return or_p.bind(*_operands(x, y))


def bitwise_xor(x: Any, y: Any) -> Any:
    return xor_p.bind(*_operands(x, y))


def shift_left(x: Any, y: Any) -> Any:
    """``x << y`` on integers of one dtype and shape, as ``jax.lax.shift_left``."""
    return shift_left_p.bind(x, y)


def shift_right_arithmetic(x: Any, y: Any) -> Any:
    """``x >> y`` copying the top bit, as ``jax.lax.shift_right_arithmetic``."""
    return shift_right_arithmetic_p.bind(x, y)


def shift_right_logical(x: Any, y: Any) -> Any:
    """``x >> y`` shifting in zeros, as ``jax.lax.shift_right_logical``."""
    return shift_right_logical_p.bind(x, y)


def nextafter(x: Any, y: Any) -> Any:
    """The next float after ``x`` towards ``y``, as ``jax.lax.nextafter``."""
    return nextafter_p.bind(x, y)


# == select and dtype conversion ==============================================================

select_p = Primitive("select")
_UINT_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def select_impl(pred: np.ndarray, on_true: np.ndarray, on_false: np.ndarray) -> np.ndarray:
    uint = _UINT_OF_SIZE.get(on_true.dtype.itemsize)
    if uint is None or on_true.size < 4096:
        return np.where(pred, on_true, on_false)
    # np.where branches per element and mispredicts on a random mask (a relu's, say); the
    # same bits by arithmetic on the bit patterns are branchless and several times faster on
    # large arrays, and exact for every value, NaN and inf included:
    # false ^ ((true ^ false) * pred), or true * pred when the false branch is all +0.0 bits
    # (a relu's backward).
    t, f = on_true.view(uint), on_false.view(uint)
    if not any(f.strides) and not f.reshape(-1)[0]:
        return np.multiply(t, pred).view(on_true.dtype)
    out = np.bitwise_xor(t, f)
    np.multiply(out, pred, out=out)
    np.bitwise_xor(out, f, out=out)
    return out.view(on_true.dtype)


select_p.def_impl(select_impl)


def _select_abstract_eval(pred: ShapedArray, on_true: ShapedArray, on_false: ShapedArray
                          ) -> ShapedArray:
    _same_shape_eval(pred, on_true, on_false)
    if pred.dtype != np.bool_:
        raise TypeError(f"select: the predicate must be boolean, got {pred.dtype}")
    if on_true.dtype != on_false.dtype:
        raise TypeError(f"select: branches must have equal dtypes, got {on_true.dtype} and "
                        f"{on_false.dtype}")
    return on_true.update(weak_type=on_true.weak_type and on_false.weak_type)


select_p.def_abstract_eval(_select_abstract_eval)
codegen.def_select(select_p)
batching.defbroadcasting(select_p)


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` else ``on_false`` (equal shapes)."""
    on_true, on_false = _operands(on_true, on_false)
    return select_p.bind(pred, on_true, on_false)


def _zeros(x: Any) -> np.ndarray:
    return full_like(x, 0)


ad.defjvp(select_p, None,
          lambda t, ans, p, a, b: select(p, t, _zeros(t)),
          lambda t, ans, p, a, b: select(p, _zeros(t), t))
ad.defvjp(select_p, None,
          lambda ct, ans, p, a, b: select(p, ct, _zeros(ct)),
          lambda ct, ans, p, a, b: select(p, _zeros(ct), ct))

convert_element_type_p = Primitive("convert_element_type")
def _convert_impl(x: np.ndarray, new_dtype: Any) -> np.ndarray:
    if x.dtype.kind == "c" and new_dtype.kind != "c":
        # The real part, as JAX, without NumPy's ComplexWarning pointing into funcgrad.
        return x.real.astype(new_dtype)
    return x.astype(new_dtype)


convert_element_type_p.def_impl(_convert_impl)
def _convert_element_type_abstract_eval(x: ShapedArray, new_dtype: np.dtype) -> ShapedArray:
    if supported_dtype(new_dtype).kind not in "biufc":
        raise TypeError(f"convert_element_type: new_dtype must be a boolean or numeric dtype, "
                        f"got {new_dtype}")
    return ShapedArray(x.shape, new_dtype)


convert_element_type_p.def_abstract_eval(_convert_element_type_abstract_eval)
codegen.def_impl_call(convert_element_type_p)
passes.simplify_rules[convert_element_type_p] = lambda eqn, defs: (
    eqn.invars[0] if passes.same_type(eqn.invars[0], eqn.outvars[0]) else None)
batching.defvectorized(convert_element_type_p)


def convert_element_type(x: Any, new_dtype: Any) -> Any:
    """Cast ``x`` to ``new_dtype`` (a no-op when it already has it)."""
    new_dtype = np.dtype(new_dtype)
    if get_aval(x).dtype == new_dtype:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


def _is_float(dtype: Any) -> bool:
    return np.dtype(dtype).kind in "fc"


def _convert_jvp(primals: Any, tangents: Any, new_dtype: np.dtype) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype)
    both_float = _is_float(get_aval(x).dtype) and _is_float(new_dtype)
    return ans, convert_element_type(t, new_dtype) if both_float else None


ad.jvp_rules[convert_element_type_p] = _convert_jvp
ad.defvjp(convert_element_type_p,
          lambda ct, ans, x, new_dtype: convert_element_type(ct, x.dtype)
          if _is_float(x.dtype) and _is_float(new_dtype) else None)
