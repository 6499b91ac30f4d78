"""``fg.lax.special`` and ``fg.scipy.special`` against SciPy (and JAX), over wide ranges, tails
and special values; derivatives against closed forms. (Finite differences, vmap against a loop
and staged-equals-eager run over the op specs in ``specs_special.py``.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.lax import special as lsp
from funcgrad.scipy import special as sp
from funcgrad.test_util import check_grads

RNG = np.random.default_rng(20)
WIDE = np.concatenate([RNG.uniform(-10, 10, 400), RNG.uniform(0, 3, 400), 10.0 ** RNG.uniform(
    -8, 8, 200), [1.4616321449683622, 1.0, 2.0, 0.5, 1e-300, 1e10]])
SPECIAL = np.array([0.0, -0.0, -1.0, -2.0, -2.5, np.inf, -np.inf, np.nan])


def _assert_like(got: np.ndarray, want: np.ndarray, rtol: float, atol: float = 0.0) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])  # inf/-inf/nan as SciPy
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=atol)


@pytest.mark.parametrize("name, ours, rtol, atol", [
    ("gammaln", sp.gammaln, 1e-14, 1e-14),
    ("digamma", sp.digamma, 1e-13, 1e-13),
    ("erf", sp.erf, 1e-15, 0.0),
    ("erfc", sp.erfc, 3e-14, 0.0),  # math.erfc and cephes differ by ~10 ulp in the tail
    ("expit", sp.expit, 1e-15, 0.0),
    # z = x / sqrt 2 rounds: erfc(z)'s condition number 2 z^2 costs digits far in the tails
    ("ndtr", sp.ndtr, 3e-13, 0.0),
    ("log_ndtr", sp.log_ndtr, 3e-13, 0.0),  # (JAX's loses digits right of 3; this is SciPy's)
])
def test_unary_against_scipy(name: str, ours, rtol: float, atol: float) -> None:
    ss = oracle("scipy.special")
    x = np.concatenate([WIDE, -WIDE[WIDE < 40], SPECIAL])
    if name == "log_ndtr":
        x = np.concatenate([x, -10.0 ** RNG.uniform(0, 4, 100), RNG.uniform(-3, 9, 200)])
    with np.errstate(all="ignore"):
        _assert_like(ours(x), getattr(ss, name)(x), rtol, atol)


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_polygamma_against_scipy(m: int) -> None:
    ss = oracle("scipy.special")
    x = WIDE[WIDE > 0] if m > 2 else WIDE[(WIDE > 0) | (WIDE != np.round(WIDE))]
    _assert_like(sp.polygamma(m, x), ss.polygamma(m, x), 1e-13, 1e-13)


def test_inverse_functions_against_scipy_in_the_tails() -> None:
    ss = oracle("scipy.special")
    e = np.concatenate([RNG.uniform(-1, 1, 500), 1 - 10.0 ** -RNG.uniform(0, 16, 100),
                        -1 + 10.0 ** -RNG.uniform(0, 16, 100), [-1.0, 1.0, 0.0, 2.0, np.nan]])
    _assert_like(sp.erfinv(e), ss.erfinv(e), 1e-15, 1e-300)
    p = np.concatenate([RNG.uniform(0, 1, 500), 10.0 ** -RNG.uniform(0, 300, 100),
                        1 - 10.0 ** -RNG.uniform(0, 16, 100), [0.0, 1.0, 0.5, -1.0, np.nan]])
    _assert_like(sp.ndtri(p), ss.ndtri(p), 1e-14)
    # round trips
    np.testing.assert_allclose(sp.erf(sp.erfinv(e[:500])), e[:500], rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(sp.ndtr(sp.ndtri(p[:600])), p[:600], rtol=1e-12)


def test_binary_functions_against_scipy() -> None:
    ss = oracle("scipy.special")
    a = np.concatenate([RNG.uniform(0.01, 20, 500), [1.0, 0.5, 2.0, 3.0]])
    x = np.concatenate([RNG.uniform(0, 40, 500), [0.0, np.inf, 1e-300, 1.0]])
    np.testing.assert_allclose(sp.gammainc(a, x), ss.gammainc(a, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sp.gammaincc(a, x), ss.gammaincc(a, x), rtol=1e-11, atol=1e-300)
    b = RNG.uniform(0.1, 30, a.shape)
    np.testing.assert_allclose(sp.betaln(a, b), ss.betaln(a, b), rtol=1e-12, atol=1e-12)
    u = np.concatenate([RNG.uniform(0, 1, a.size - 2), [0.0, 1.0]])
    np.testing.assert_allclose(sp.betainc(a, b, u), ss.betainc(a, b, u), rtol=1e-11,
                               atol=1e-14)
    with pytest.raises(NotImplementedError, match="a and b"):
        fg.grad(lambda a: sp.betainc(a, 2.0, 0.5))(np.array(1.5))
    xs = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0])
    ys = np.array([0.0, -1.0, np.inf, 2.0, 0.0, 3.0, 0.5])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(sp.xlogy(xs, ys), ss.xlogy(xs, ys))
        np.testing.assert_array_equal(sp.xlog1py(xs, ys - 1), ss.xlog1py(xs, ys - 1))
    p = RNG.uniform(0, 1, 50)
    np.testing.assert_allclose(sp.logit(p), ss.logit(p), rtol=1e-14)
    np.testing.assert_allclose(sp.entr(p), ss.entr(p), rtol=1e-14)
    np.testing.assert_allclose(sp.multigammaln(a + 3, 4), ss.multigammaln(a + 3, 4),
                               rtol=1e-13)


def test_logsumexp_softmax_against_scipy() -> None:
    ss = oracle("scipy.special")
    a = RNG.normal(size=(3, 4)) * 30
    b = RNG.normal(size=(3, 4))
    for axis in (None, 0, 1, (0, 1)):
        np.testing.assert_allclose(sp.logsumexp(a, axis=axis), ss.logsumexp(a, axis=axis),
                                   rtol=1e-14)
        got = sp.logsumexp(a, axis=axis, b=b, return_sign=True, keepdims=True)
        want = ss.logsumexp(a, axis=axis, b=b, return_sign=True, keepdims=True)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(sp.softmax(a), ss.softmax(a), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(sp.log_softmax(a, axis=1), ss.log_softmax(a, axis=1),
                               rtol=1e-13)


def test_against_jax() -> None:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    js = jax.scipy.special
    x = RNG.uniform(0.1, 8, 40)
    for ours, theirs in ((sp.gammaln, js.gammaln), (sp.digamma, js.digamma),
                         (sp.erfc, js.erfc)):
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-12)
    q = RNG.uniform(0.01, 0.99, 40)
    np.testing.assert_allclose(sp.erfinv(2 * q - 1), np.asarray(js.erfinv(2 * q - 1)),
                               rtol=1e-12)
    np.testing.assert_allclose(sp.ndtri(q), np.asarray(js.ndtri(q)), rtol=1e-12)
    # gradients as JAX: d/dx xlogy at x = 0 is log(y)
    for ours, theirs in ((sp.xlogy, js.xlogy), (sp.xlog1py, js.xlog1py)):
        g = fg.grad(lambda x, y, f=ours: fnp.sum(f(x, y)), argnums=(0, 1))(np.zeros(3), x[:3])
        gj = jax.grad(lambda x, y, f=theirs: f(x, y).sum(), argnums=(0, 1))(np.zeros(3),
                      x[:3])
        for a, b in zip(g, gj, strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-14)


def test_derivatives_are_the_closed_forms() -> None:
    ss = oracle("scipy.special")
    x = RNG.uniform(0.2, 6, 20)
    np.testing.assert_allclose(fg.vmap(fg.grad(lsp.lgamma))(x), ss.digamma(x), rtol=1e-13)
    np.testing.assert_allclose(fg.vmap(fg.grad(lsp.digamma))(x), ss.polygamma(1, x),
                               rtol=1e-13)
    np.testing.assert_allclose(fg.vmap(fg.grad(fg.grad(lsp.digamma)))(x), ss.polygamma(2, x),
                               rtol=1e-12)
    p = RNG.uniform(0.01, 0.99, 20)
    np.testing.assert_allclose(fg.vmap(fg.grad(lsp.ndtri))(p),
                               1 / (np.exp(-ss.ndtri(p) ** 2 / 2) / math.sqrt(2 * math.pi)),
                               rtol=1e-12)
    a = RNG.uniform(0.5, 5, 20)
    h = 1e-6
    fd = (ss.gammainc(a + h, x) - ss.gammainc(a - h, x)) / (2 * h)
    np.testing.assert_allclose(lsp.igamma_grad_a(a, x), fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fg.vmap(fg.grad(lsp.igamma, argnums=1))(a, x),
                               np.exp((a - 1) * np.log(x) - x - ss.gammaln(a)), rtol=1e-12)


def test_second_derivative_in_a_is_a_clear_error() -> None:
    with pytest.raises(NotImplementedError, match="shape parameter a"):
        fg.grad(fg.grad(lambda a: lsp.igamma(a, np.array(1.0))))(np.array(1.5))


def test_float32_stays_float32_and_ints_promote() -> None:
    x32 = np.array([0.5, 1.5], np.float32)
    for f in (sp.gammaln, sp.digamma, sp.erfc, sp.erfinv, sp.expit, sp.ndtri, sp.log_ndtr):
        assert f(x32 * 0.5).dtype == np.float32
    assert sp.gammaln(np.array([3])).dtype == np.float64
    assert sp.xlogy(2, x32).dtype == np.float32


def test_expm_against_scipy_and_frechet() -> None:
    sl = oracle("scipy.linalg")
    a = RNG.normal(size=(4, 5, 5)) * np.array([0.01, 1, 5, 30])[:, None, None]
    got = lsp.expm(a)
    for g, m in zip(got, a, strict=True):
        want = sl.expm(m)
        np.testing.assert_allclose(g, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
    e = RNG.normal(size=(5, 5))
    _, t = fg.jvp(lsp.expm, (a[1],), (e,))
    np.testing.assert_allclose(t, sl.expm_frechet(a[1], e, compute_expm=False), rtol=1e-10,
                               atol=1e-12)
    check_grads(lsp.expm, (a[1] * 0.3,), order=2)
    np.testing.assert_array_equal(lsp.expm(np.zeros((0, 3, 3))).shape, (0, 3, 3))


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        sp.polygamma(-1, np.ones(2))
    with pytest.raises(ValueError, match="square"):
        lsp.expm(np.ones((2, 3)))
    with pytest.raises(TypeError, match="floating"):
        fg.make_jaxpr(lsp.lgamma)(np.ones(2, np.int64))
