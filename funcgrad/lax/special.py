"""Special functions that no composition of the elementwise primitives computes exactly:
``lgamma``, ``digamma``, ``polygamma``, ``erfc``, ``erf_inv``, ``ndtri``, the incomplete gamma
and beta functions, and the matrix exponential ``expm``.

Impls are NumPy alone (``math.lgamma``/``math.erfc`` per element where the standard library is
exact; recurrences, asymptotic series and Newton/Halley refinement elsewhere), computed in
float64 and cast back, so float32 inputs stay float32. Every derivative is written with
primitives and is itself differentiable:

- ``lgamma' = digamma``, ``digamma' = polygamma(1, .)``, ``polygamma(m)' = polygamma(m + 1)``;
- ``erfc'(x) = -2/sqrt(pi) exp(-x^2)``; ``erf_inv'(x) = sqrt(pi)/2 exp(erf_inv(x)^2)``;
  ``ndtri'(p) = sqrt(2 pi) exp(ndtri(p)^2 / 2)`` (inverse-function rule);
- ``expm``: the Frechet derivative ``L(A, E)`` is the top-right block of
  ``expm([[A, E], [0, A]])`` (Higham 2008, 10.15), and the VJP is its adjoint ``L(A^T, G)``;
  both are ``expm`` again, so every order works.

Values follow ``scipy.special``: ``lgamma`` is ``log|Gamma|`` (``+inf`` at the poles),
``digamma(0.0) = -inf``, ``digamma(-0.0) = +inf``, ``nan`` at the negative integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.primitive import Primitive
from funcgrad.lax.elementwise import add, exp, full_like, log, mul, neg, sub
from funcgrad.lax.structural import concatenate, slice, transpose
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis

# == helpers ==================================================================================


def _float64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64)


def _elementwise(name: str, impl64: Callable[..., np.ndarray]) -> Primitive:
    """A unary float primitive whose impl computes in float64 and casts back."""
    prim = Primitive(name)

    def impl(x: np.ndarray, **params: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = impl64(_float64(x), **params)
        return np.asarray(out, x.dtype)

    def abstract_eval(x: ShapedArray, **params: Any) -> ShapedArray:
        if x.dtype.kind != "f":
            raise FuncgradTypeError(f"{name}: expected a real floating dtype, got {x.dtype}")
        m = params.get("m", 0)
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 0:
            raise FuncgradValueError(f"{name}: the order m must be a non-negative integer, "
                                     f"got {m!r}")
        return x

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract_eval)
    batching.defvectorized(prim)
    codegen.def_impl_call(prim)
    return prim


def _defderiv(prim: Primitive, deriv: Callable[..., Any]) -> None:
    # JVP t * f'(x) and VJP ct * f'(x) from one derivative ``deriv(ans, x, **params)``.
    ad.defjvp(prim, lambda t, ans, x, **p: mul(t, deriv(ans, x, **p)))
    ad.defvjp(prim, lambda ct, ans, x, **p: mul(ct, deriv(ans, x, **p)))


def _frompyfunc(fn: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    ufunc = np.frompyfunc(fn, 1, 1)
    # (on a 0-d array frompyfunc returns a Python float, not an array)
    return lambda x: np.asarray(ufunc(x), np.float64)


def _rec_shift(x: np.ndarray, threshold: float, term: Callable[[np.ndarray], np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(sum_k term(x + k), x + K)`` over ``k < K``, with ``K`` per element the least shift
    that brings ``x + K`` to at least ``threshold`` (the recurrence before an asymptotic
    series)."""
    y = x.copy()
    acc = np.zeros_like(x)
    low = y < threshold
    while np.any(low):
        acc[low] += term(y[low])
        y[low] += 1.0
        low = y < threshold
    return acc, y


# == lgamma, digamma, polygamma ===============================================================

def _lgamma_scalar(x: float) -> float:
    try:
        return math.lgamma(x)
    except ValueError:  # the poles 0, -1, -2, ...
        return math.inf
    except OverflowError:
        return math.inf


_lgamma_elementwise = _frompyfunc(_lgamma_scalar)


def _lgamma64(x: np.ndarray) -> np.ndarray:
    # math.lgamma is correctly rounded almost everywhere (~60 ns an element); log|Gamma| at
    # negative non-integers and +inf at the poles, as scipy.special.gammaln; scipy gives
    # -inf at -inf.
    out = _lgamma_elementwise(x)
    return np.where(x == -np.inf, -np.inf, out)


# Bernoulli numbers B_2 .. B_16, for the asymptotic series of digamma and Hurwitz zeta.
_B2N = np.array([1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510])


def _digamma_pos(x: np.ndarray) -> np.ndarray:
    # psi(x) = psi(x + K) - sum_{k<K} 1/(x + k), then for y >= 10
    # psi(y) ~ log y - 1/(2y) - sum_n B_2n / (2n y^2n)  (truncation error < 1e-17 at y = 10).
    acc, y = _rec_shift(x, 10.0, lambda v: 1.0 / v)
    inv2 = 1.0 / (y * y)
    series = np.zeros_like(y)
    for n in range(len(_B2N), 0, -1):
        series = (series + _B2N[n - 1] / (2 * n)) * inv2
    return np.log(y) - 0.5 / y - series - acc


def _tan_pi(x: np.ndarray) -> np.ndarray:
    # tan(pi x) with the argument reduced first (tan has period pi), exact for large |x|.
    return np.tan(np.pi * (x - np.round(x)))


def _digamma64(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    pos = x > 0
    out[pos] = _digamma_pos(x[pos])
    neg_ = ~pos & np.isfinite(x)
    xn = x[neg_]
    # reflection: psi(x) = psi(1 - x) - pi / tan(pi x); the negative integers are poles (nan)
    vals = _digamma_pos(1.0 - xn) - np.pi / _tan_pi(xn)
    vals[xn == np.round(xn)] = np.nan
    out[neg_] = vals
    out[x == 0] = np.where(np.signbit(x[x == 0]), np.inf, -np.inf)
    out[x == np.inf] = np.inf
    out[(x == -np.inf) | np.isnan(x)] = np.nan
    return out


def _hurwitz_zeta_pos(s: int, x: np.ndarray) -> np.ndarray:
    # zeta(s, x) = sum_{k<K} (x + k)^-s + zeta(s, y), y = x + K >= 12 + s, and Euler-Maclaurin:
    # zeta(s, y) ~ y^(1-s)/(s-1) + y^-s/2 + sum_n B_2n/(2n)! (s)_(2n-1) y^(-s-2n+1).
    acc, y = _rec_shift(x, 12.0 + s, lambda v: v ** -float(s))
    out = y ** (1.0 - s) / (s - 1) + 0.5 * y ** -float(s)
    rising = float(s)                      # (s)_(2n-1): s (s+1) ... (s+2n-2)
    power = y ** (-s - 1.0)
    for n in range(1, len(_B2N) + 1):
        if n > 1:
            rising *= (s + 2 * n - 3) * (s + 2 * n - 2)
            power = power / (y * y)
        out = out + _B2N[n - 1] / math.factorial(2 * n) * rising * power
    return acc + out


def _polygamma64(x: np.ndarray, m: int) -> np.ndarray:
    # psi^(m)(x) = (-1)^(m+1) m! zeta(m + 1, x) for x > 0; reflection for m = 1, 2:
    # psi1(x) = -psi1(1 - x) + pi^2 / sin^2(pi x); psi2(x) = psi2(1 - x) - 2 pi^3 cot / sin^2.
    sign = -1.0 if m % 2 == 0 else 1.0
    out = np.full_like(x, np.nan)
    pos = x > 0
    out[pos] = sign * math.factorial(m) * _hurwitz_zeta_pos(m + 1, x[pos])
    neg_ = (x <= 0) & np.isfinite(x)
    xn = x[neg_]
    r = xn - np.round(xn)
    sin2 = np.sin(np.pi * r) ** 2
    if m in (1, 2) and xn.size:
        reflected = _polygamma64(1.0 - xn, m)
        if m == 1:
            vals = -reflected + np.pi ** 2 / sin2
        else:
            vals = reflected - 2 * np.pi ** 3 * np.cos(np.pi * r) / (sin2 * np.sin(np.pi * r))
        pole = r == 0
        vals[pole] = np.inf if m == 1 else np.nan
        out[neg_] = vals
    out[x == np.inf] = 0.0
    return out


lgamma_p = _elementwise("lgamma", _lgamma64)
digamma_p = _elementwise("digamma", _digamma64)
polygamma_p = _elementwise("polygamma", _polygamma64)


def lgamma(x: Any) -> Any:
    """``log|Gamma(x)|`` (as ``jax.lax.lgamma`` and ``scipy.special.gammaln``).

    >>> lgamma(np.array([1.0, 5.0]))
    array([0.        , 3.17805383])
    """
    return lgamma_p.bind(x)


def digamma(x: Any) -> Any:
    """``d/dx log Gamma(x)``, the digamma function.

    >>> digamma(np.array([1.0])).round(6)
    array([-0.577216])
    """
    return digamma_p.bind(x)


def polygamma(m: int, x: Any) -> Any:
    """The ``m``-th derivative of ``digamma``, for a static integer ``m >= 0``; negative ``x``
    is supported for ``m <= 2`` (nan beyond).

    >>> polygamma(1, np.array([1.0])).round(6)  # pi^2 / 6
    array([1.644934])
    """
    if isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m >= 0:
        return digamma(x) if m == 0 else polygamma_p.bind(x, m=int(m))
    raise FuncgradValueError(at_user_line(
        f"polygamma: the order m must be a static non-negative integer, got {m!r}"))


_defderiv(lgamma_p, lambda ans, x: digamma(x))
_defderiv(digamma_p, lambda ans, x: polygamma_p.bind(x, m=1))
_defderiv(polygamma_p, lambda ans, x, m: polygamma_p.bind(x, m=m + 1))


# == erfc, erf_inv, ndtri =====================================================================

_erf = _frompyfunc(math.erf)
_erfc = _frompyfunc(math.erfc)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erfc_inv_small(p: np.ndarray) -> np.ndarray:
    """``y >= 0`` with ``erfc(y) = p`` for ``0 < p <= 1``: Newton on ``log erfc(y) = log p``
    from the asymptotic start ``y^2 = t - log(pi t)/2``, ``t = -log p`` (converges in a few
    steps: ``log erfc`` is concave)."""
    t = -np.log(p)
    y = np.sqrt(np.maximum(t - 0.5 * np.log(np.pi * np.maximum(t, 1e-300)), 0.0))
    logp = np.log(p)
    for _ in range(50):
        e = _erfc(y)
        # d/dy log erfc(y) = -2/sqrt(pi) exp(-y^2) / erfc(y)
        step = (np.log(e) - logp) / (-_TWO_OVER_SQRT_PI * np.exp(-y * y) / e)
        y = np.maximum(y - step, 0.0)
        if np.all(np.abs(step) <= 1e-15 * np.maximum(y, 1e-300)):
            break
    return y


def _erf_inv_center(x: np.ndarray) -> np.ndarray:
    """``erf_inv`` for ``|x| <= 1/2``: Halley on ``erf(y) - x`` from the Maclaurin series."""
    c = math.sqrt(math.pi) / 2
    z = c * x
    y = z * (1 + z * z * (1 / 3 + z * z * (7 / 30 + z * z * 127 / 630)))
    for _ in range(10):
        u = (_erf(y) - x) / (_TWO_OVER_SQRT_PI * np.exp(-y * y))
        step = u / (1 + y * u)
        y = y - step
        if np.all(np.abs(step) <= 1e-16 * np.abs(y)):
            break
    return y


def _erf_inv64(x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, np.nan)
    a = np.abs(x)
    center = a <= 0.5
    out[center] = _erf_inv_center(x[center])
    tail = (a > 0.5) & (a < 1)
    # 1 - |x| is exact for |x| in [1/2, 1] (Sterbenz), so the tail keeps full precision.
    out[tail] = np.sign(x[tail]) * _erfc_inv_small(1.0 - a[tail])
    out[a == 1] = np.sign(x[a == 1]) * np.inf
    return out


def _ndtri64(p: np.ndarray) -> np.ndarray:
    # ndtri(p) = -sqrt(2) erfc_inv(2p); the center by erf_inv(2p - 1) (2p - 1 exact there).
    out = np.full_like(p, np.nan)
    center = (p >= 0.25) & (p <= 0.75)
    out[center] = math.sqrt(2) * _erf_inv_center(2 * p[center] - 1)
    lo = (p > 0) & (p < 0.25)
    out[lo] = -math.sqrt(2) * _erfc_inv_small(2 * p[lo])
    hi = (p > 0.75) & (p < 1)
    out[hi] = math.sqrt(2) * _erfc_inv_small(2 * (1 - p[hi]))
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    return out


erfc_p = _elementwise("erfc", _erfc)
erf_inv_p = _elementwise("erf_inv", _erf_inv64)
ndtri_p = _elementwise("ndtri", _ndtri64)


def erfc(x: Any) -> Any:
    """The complementary error function ``1 - erf(x)``, accurate where it is tiny.

    >>> erfc(np.array([0.0, 10.0]))
    array([1.00000000e+00, 2.08848758e-45])
    """
    return erfc_p.bind(x)


def erf_inv(x: Any) -> Any:
    """The inverse of ``erf`` on ``(-1, 1)`` (``+-inf`` at ``+-1``, nan outside).

    >>> erf_inv(np.array([0.0, 0.5])).round(6)
    array([0.      , 0.476936])
    """
    return erf_inv_p.bind(x)


def ndtri(p: Any) -> Any:
    """The standard normal quantile: ``x`` with ``Phi(x) = p``, accurate in both tails.

    >>> ndtri(np.array([0.5, 0.975])).round(6)
    array([0.      , 1.959964])
    """
    return ndtri_p.bind(p)


_defderiv(erfc_p, lambda ans, x: mul(exp(neg(mul(x, x))), -_TWO_OVER_SQRT_PI))
_defderiv(erf_inv_p, lambda ans, x: mul(exp(mul(ans, ans)), math.sqrt(math.pi) / 2))
_defderiv(ndtri_p, lambda ans, x: mul(exp(mul(mul(ans, ans), 0.5)), math.sqrt(2 * math.pi)))


# == incomplete gamma ========================================================================

def _igamma_prefactor(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    # x^a e^-x / Gamma(a)
    return np.exp(a * np.log(x) - x - _lgamma64(a))


def _igamma_series(a: np.ndarray, x: np.ndarray, with_da: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``S = sum_n t_n`` with ``t_0 = 1/a``, ``t_n = t_(n-1) x / (a + n)`` (``P = S x^a e^-x /
    Gamma(a)``), and optionally ``dS/da`` carried alongside (forward-mode in the loop)."""
    t = 1.0 / a
    dt = -t * t
    total, dtotal = t.copy(), dt.copy()
    active = np.ones(a.shape, bool)
    for n in range(1, 20000):
        r = x / (a + n)
        if with_da:
            dt = np.where(active, r * (dt - t / (a + n)), 0.0)
            dtotal += dt
        t = np.where(active, t * r, 0.0)
        total += t
        active = active & ((np.abs(t) > 1e-17 * np.abs(total))
                           | (with_da & (np.abs(dt) > 1e-17 * np.abs(dtotal))))
        if not active.any():
            break
    return total, dtotal


def _igammac_cf(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Q(a, x)`` by the modified Lentz continued fraction (converges fast for x > a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full_like(x, 1 / tiny)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 20000):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < 1e-15):  # (1e-16 can stall one ulp away)
            break
    return _igamma_prefactor(a, x) * h


def _igamma_both(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P, Q)``: each computed directly where it is the small one, by complement elsewhere."""
    a, x = np.broadcast_arrays(a, x)
    p = np.full(a.shape, np.nan)
    q = np.full(a.shape, np.nan)
    ok = (a > 0) & (x >= 0) & ~np.isnan(x)
    use_series = ok & (x < a + 1) & (x > 0)
    s, _ = _igamma_series(a[use_series], x[use_series])
    p[use_series] = s * _igamma_prefactor(a[use_series], x[use_series])
    q[use_series] = 1.0 - p[use_series]
    use_cf = ok & (x >= a + 1) & np.isfinite(x)
    q[use_cf] = _igammac_cf(a[use_cf], x[use_cf])
    p[use_cf] = 1.0 - q[use_cf]
    zero, inf = ok & (x == 0), ok & (x == np.inf)
    p[zero], q[zero], p[inf], q[inf] = 0.0, 1.0, 1.0, 0.0
    return p, q


def _igamma_grad_a64(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    # d/da [S e^g] = e^g (dS/da + S (log x - digamma(a))), g = a log x - x - lgamma(a).
    a, x = np.broadcast_arrays(a, x)
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (x > 0) & np.isfinite(x)
    ao, xo = a[ok], x[ok]
    s, ds = _igamma_series(ao, xo, with_da=True)
    out[ok] = _igamma_prefactor(ao, xo) * (ds + s * (np.log(xo) - _digamma64(ao)))
    out[(a > 0) & ((x == 0) | (x == np.inf))] = 0.0
    return out


def _binary(name: str, impl64: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Primitive:
    prim = Primitive(name)

    def impl(a: np.ndarray, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(impl64(_float64(a), _float64(x)), x.dtype)

    def abstract_eval(a: ShapedArray, x: ShapedArray) -> ShapedArray:
        if a.shape != x.shape or a.dtype != x.dtype or x.dtype.kind != "f":
            raise FuncgradTypeError(f"{name}: expected floating operands of equal shapes and "
                                    f"dtypes, got {a.str_short()} and {x.str_short()}")
        return x

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract_eval)
    batching.defbroadcasting(prim)
    codegen.def_impl_call(prim)
    return prim


igamma_p = _binary("igamma", lambda a, x: _igamma_both(a, x)[0])
igammac_p = _binary("igammac", lambda a, x: _igamma_both(a, x)[1])
igamma_grad_a_p = _binary("igamma_grad_a", _igamma_grad_a64)


def igamma(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function ``P(a, x)`` (equal shapes).

    >>> igamma(np.array([2.0]), np.array([1.0])).round(6)  # 1 - 2/e
    array([0.264241])
    """
    return igamma_p.bind(a, x)


def igammac(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``.

    >>> igammac(np.array([2.0]), np.array([1.0])).round(6)  # 2/e
    array([0.735759])
    """
    return igammac_p.bind(a, x)


def igamma_grad_a(a: Any, x: Any) -> Any:
    """``d/da P(a, x)``.

    >>> igamma_grad_a(np.array([1.0]), np.array([1.0])).round(6)
    array([-0.43173])
    """
    return igamma_grad_a_p.bind(a, x)


def _igamma_density(a: Any, x: Any) -> Any:
    # dP/dx = x^(a-1) e^-x / Gamma(a)
    return exp(sub(sub(mul(sub(a, full_like(a, 1)), log(x)), x), lgamma(a)))


def _second_in_a(*_: Any, **__: Any) -> Any:
    raise NotImplementedError("the second derivative of the incomplete gamma function in its "
                              "shape parameter a is not implemented")


ad.defjvp(igamma_p, lambda t, ans, a, x: mul(t, igamma_grad_a(a, x)),
          lambda t, ans, a, x: mul(t, _igamma_density(a, x)))
ad.defvjp(igamma_p, lambda ct, ans, a, x: mul(ct, igamma_grad_a(a, x)),
          lambda ct, ans, a, x: mul(ct, _igamma_density(a, x)))
ad.defjvp(igammac_p, lambda t, ans, a, x: neg(mul(t, igamma_grad_a(a, x))),
          lambda t, ans, a, x: neg(mul(t, _igamma_density(a, x))))
ad.defvjp(igammac_p, lambda ct, ans, a, x: neg(mul(ct, igamma_grad_a(a, x))),
          lambda ct, ans, a, x: neg(mul(ct, _igamma_density(a, x))))
# d/dx dP/da = d/da dP/dx = density * (log x - digamma(a))
ad.defjvp(igamma_grad_a_p, _second_in_a, lambda t, ans, a, x: mul(
    t, mul(_igamma_density(a, x), sub(log(x), digamma(a)))))
ad.defvjp(igamma_grad_a_p, _second_in_a, lambda ct, ans, a, x: mul(
    ct, mul(_igamma_density(a, x), sub(log(x), digamma(a)))))


# == incomplete beta =========================================================================

def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of ``I_x(a, b)`` (modified Lentz; fast for x < (a+1)/(a+b+2))."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    for m in range(1, 20000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            delta = d * c
            h = h * delta
        if np.all(np.abs(delta - 1.0) < 1e-15):
            break
    return h


def _betainc64(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    a, b, x = np.broadcast_arrays(a, b, x)
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    inner = ok & (x > 0) & (x < 1)
    ai, bi, xi = a[inner], b[inner], x[inner]
    # I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * cf; by symmetry 1 - I_(1-x)(b, a) past the mean
    flip = xi > (ai + 1) / (ai + bi + 2)
    a2, b2, x2 = np.where(flip, bi, ai), np.where(flip, ai, bi), np.where(flip, 1 - xi, xi)
    log_front = (a2 * np.log(x2) + b2 * np.log1p(-x2) - np.log(a2)
                 - (_lgamma64(a2) + _lgamma64(b2) - _lgamma64(a2 + b2)))
    val = np.exp(log_front) * _betacf(a2, b2, x2)
    out[inner] = np.where(flip, 1 - val, val)
    out[ok & (x == 0)] = 0.0
    out[ok & (x == 1)] = 1.0
    return out


betainc_p = Primitive("betainc")


def _betainc_impl(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(_betainc64(_float64(a), _float64(b), _float64(x)), x.dtype)


def _betainc_abstract_eval(a: ShapedArray, b: ShapedArray, x: ShapedArray) -> ShapedArray:
    if not (a.shape == b.shape == x.shape and a.dtype == b.dtype == x.dtype) \
            or x.dtype.kind != "f":
        raise FuncgradTypeError(f"betainc: expected floating operands of equal shapes and "
                                f"dtypes, got {a.str_short()}, {b.str_short()} and "
                                f"{x.str_short()}")
    return x


betainc_p.def_impl(_betainc_impl)
betainc_p.def_abstract_eval(_betainc_abstract_eval)
batching.defbroadcasting(betainc_p)
codegen.def_impl_call(betainc_p)


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function ``I_x(a, b)`` (equal shapes).

    >>> betainc(np.array([1.0]), np.array([1.0]), np.array([0.3]))
    array([0.3])
    """
    return betainc_p.bind(a, b, x)


def _betainc_in_shapes(*_: Any, **__: Any) -> Any:
    raise NotImplementedError("the derivative of betainc in its parameters a and b is not "
                              "implemented (as in JAX); it is differentiable in x")


def _betainc_dx(a: Any, b: Any, x: Any) -> Any:
    # x^(a-1) (1-x)^(b-1) / B(a, b)
    one = full_like(x, 1)
    return exp(sub(add(mul(sub(a, one), log(x)), mul(sub(b, one), log(sub(one, x)))),
                   sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))))


ad.defjvp(betainc_p, _betainc_in_shapes, _betainc_in_shapes,
          lambda t, ans, a, b, x: mul(t, _betainc_dx(a, b, x)))
ad.defvjp(betainc_p, _betainc_in_shapes, _betainc_in_shapes,
          lambda ct, ans, a, b, x: mul(ct, _betainc_dx(a, b, x)))


# == expm =====================================================================================

# Higham (2005), "The scaling and squaring method for the matrix exponential revisited":
# the [13/13] Pade approximant after scaling A by 2^-s with ||2^-s A||_1 <= theta_13.
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_impl(a: np.ndarray) -> np.ndarray:
    x = _float64(a)
    n = x.shape[-1]
    norms = np.abs(x).sum(axis=-2).max(axis=-1, initial=0.0)           # 1-norms, batched
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norms / _THETA13))).astype(np.int64)
    s = np.where(np.isfinite(norms), s, 0)
    x = x * np.ldexp(1.0, -s)[..., None, None]
    b = _PADE13
    eye = np.broadcast_to(np.eye(n), x.shape)
    a2 = x @ x
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = x @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
             + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for k in range(int(s.max(initial=0))):  # square each matrix its own number of times
        r = np.where((s > k)[..., None, None], r @ r, r)
    return np.asarray(r, a.dtype)


def _expm_abstract_eval(a: ShapedArray) -> ShapedArray:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise FuncgradValueError(f"expm: expected square matrices of shape (..., n, n), got "
                                 f"{a.shape}")
    if a.dtype.kind != "f":
        raise FuncgradTypeError(f"expm: expected a real floating dtype, got {a.dtype}")
    return a


expm_p = Primitive("expm")
expm_p.def_impl(_expm_impl)
expm_p.def_abstract_eval(_expm_abstract_eval)


def expm(a: Any) -> Any:
    """The matrix exponential of square matrices ``(..., n, n)``.

    >>> expm(np.array([[0.0, 1.0], [0.0, 0.0]]))
    array([[1., 1.],
           [0., 1.]])
    """
    _expm_abstract_eval(get_aval(a))
    return expm_p.bind(a)


def _mT(x: Any) -> Any:
    nd = get_aval(x).ndim
    return transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _frechet(a: Any, e: Any) -> Any:
    """``L(a, e)``: the top-right block of ``expm([[a, e], [0, a]])``."""
    aval = get_aval(a)
    nd, n = aval.ndim, aval.shape[-1]
    zeros = full_like(a, 0)
    top = concatenate([a, e], nd - 1)
    bottom = concatenate([zeros, a], nd - 1)
    big = expm_p.bind(concatenate([top, bottom], nd - 2))
    start = (0,) * (nd - 2) + (0, n)
    return slice(big, start, (*aval.shape[:-2], n, 2 * n))


def _expm_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    (a,), (t,) = primals, tangents
    return expm_p.bind(a), _frechet(a, t)


def _expm_vjp(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
              **params: Any) -> list[Any]:
    return [_frechet(_mT(primals[0]), ct)]


def _expm_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    return expm_p.bind(moveaxis(args[0], dims[0], 0)), 0


ad.jvp_rules[expm_p] = _expm_jvp
ad.vjp_rules[expm_p] = _expm_vjp
batching.batch_rules[expm_p] = _expm_batch
codegen.def_impl_call(expm_p)

__all__ = ["betainc", "digamma", "erf_inv", "erfc", "expm", "igamma", "igamma_grad_a",
           "igammac", "lgamma", "ndtri", "polygamma"]
