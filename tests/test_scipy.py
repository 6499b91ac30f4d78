"""``fg.scipy.stats``, ``fg.scipy.linalg`` and ``fg.scipy.optimize`` against SciPy and JAX.

(Finite-difference gradients to order 2, vmap against a loop and staged-equals-eager for every
function run over the op specs in ``specs_special.py``; here: values, JAX's gradients, pivots,
and the factorizations' defining identities.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from op_specs import staged
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import scipy as fsp
from funcgrad.test_util import check_grads

RNG = np.random.default_rng(21)


def _jax() -> Any:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


# == stats ====================================================================================

def test_norm_against_scipy() -> None:
    st = oracle("scipy.stats")
    x = np.concatenate([RNG.normal(size=50) * 5, [-40.0, -10.0, 0.0, 10.0, 40.0]])
    loc, scale = 0.7, 1.9
    norm = fsp.stats.norm
    for name in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        np.testing.assert_allclose(getattr(norm, name)(x, loc, scale),
                                   getattr(st.norm, name)(x, loc, scale), rtol=1e-12,
                                   atol=1e-300, err_msg=name)
    q = np.concatenate([RNG.uniform(0, 1, 50), [1e-300, 1e-20, 1 - 1e-15]])
    np.testing.assert_allclose(norm.ppf(q, loc, scale), st.norm.ppf(q, loc, scale),
                               rtol=1e-13)
    np.testing.assert_allclose(norm.isf(q, loc, scale), st.norm.isf(q, loc, scale),
                               rtol=1e-12)


def test_multivariate_normal_against_scipy() -> None:
    st = oracle("scipy.stats")
    n = 4
    m = RNG.normal(size=(n, n))
    cov = m @ m.T + n * np.eye(n)
    mean = RNG.normal(size=n)
    x = RNG.normal(size=(5, n))
    mvn = fsp.stats.multivariate_normal
    np.testing.assert_allclose(mvn.logpdf(x, mean, cov), st.multivariate_normal.logpdf(
        x, mean, cov), rtol=1e-13)
    np.testing.assert_allclose(mvn.pdf(x[0], mean, cov), st.multivariate_normal.pdf(
        x[0], mean, cov), rtol=1e-13)
    # batched covariances broadcast against x
    covs = np.stack([cov, 2 * cov])
    got = mvn.logpdf(x[:2], mean, covs)
    want = [st.multivariate_normal.logpdf(x[i], mean, covs[i]) for i in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    # the scalar case
    np.testing.assert_allclose(mvn.logpdf(x[:, 0], 0.5, 2.0),
                               st.norm.logpdf(x[:, 0], 0.5, np.sqrt(2.0)), rtol=1e-13)


def test_discrete_and_gamma_beta_against_scipy() -> None:
    st = oracle("scipy.stats")
    k = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 7.0, 2.5])
    mu, p = 2.3, 0.3
    fs = fsp.stats
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(fs.poisson.logpmf(k, mu), st.poisson.logpmf(k, mu),
                                   rtol=1e-13)
        np.testing.assert_allclose(fs.poisson.pmf(k, mu), st.poisson.pmf(k, mu), rtol=1e-13)
        np.testing.assert_allclose(fs.poisson.cdf(k, mu), st.poisson.cdf(k, mu), rtol=1e-12)
        np.testing.assert_allclose(fs.bernoulli.logpmf(k, p), st.bernoulli.logpmf(k, p),
                                   rtol=1e-14)
        np.testing.assert_allclose(fs.bernoulli.pmf(k, p), st.bernoulli.pmf(k, p), rtol=1e-14)
        np.testing.assert_allclose(fs.bernoulli.cdf(k, p), st.bernoulli.cdf(k, p), rtol=1e-14)
    q = RNG.uniform(0.01, 0.99, 20)
    np.testing.assert_array_equal(fs.bernoulli.ppf(q, p), st.bernoulli.ppf(q, p))
    x = np.concatenate([RNG.uniform(0, 10, 30), [-1.0, 0.0]])
    a, loc, scale = 2.7, -0.5, 1.3
    for name in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(getattr(fs.gamma, name)(x, a, loc, scale),
                                       getattr(st.gamma, name)(x, a, loc, scale),
                                       rtol=1e-12, atol=1e-300, err_msg=name)
    y = np.concatenate([RNG.uniform(0, 1, 30), [-0.5, 1.5]])
    for name in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(getattr(fs.beta, name)(y, 2.5, 1.5, -0.1, 1.2),
                                       getattr(st.beta, name)(y, 2.5, 1.5, -0.1, 1.2),
                                       rtol=1e-12, err_msg=name)


def test_stats_gradients_against_jax() -> None:
    jax = _jax()
    js = jax.scipy.stats
    x = RNG.normal(size=6)
    cases = [
        (lambda x, a: fsp.stats.norm.logcdf(x * a), lambda x, a: js.norm.logcdf(x * a)),
        (lambda x, a: fsp.stats.gamma.logpdf(fnp.abs(x) + 0.1, a),
         lambda x, a: js.gamma.logpdf(jax.numpy.abs(x) + 0.1, a)),
        (lambda x, a: fsp.stats.gamma.cdf(fnp.abs(x) + 0.1, a),
         lambda x, a: js.gamma.cdf(jax.numpy.abs(x) + 0.1, a)),
        (lambda x, a: fsp.stats.beta.logpdf(fsp.special.expit(x), a, 2.0),
         lambda x, a: js.beta.logpdf(jax.nn.sigmoid(x), a, 2.0)),
        (lambda x, a: fsp.stats.poisson.logpmf(3.0, fnp.exp(x) * a),
         lambda x, a: js.poisson.logpmf(3.0, jax.numpy.exp(x) * a)),
    ]
    for ours, theirs in cases:
        g = fg.grad(lambda x, a, f=ours: fnp.sum(f(x, a)), argnums=(0, 1))(x, np.array(1.7))
        gj = jax.grad(lambda x, a, f=theirs: f(x, a).sum(), argnums=(0, 1))(x, 1.7)
        for a, b in zip(g, gj, strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-9)
    m = RNG.normal(size=(3, 3))
    cov = m @ m.T + np.eye(3)
    mean = RNG.normal(size=3)
    g = fg.grad(lambda c, mu: fsp.stats.multivariate_normal.logpdf(x[:3], mu, c),
                argnums=(0, 1))(cov, mean)
    gj = jax.grad(lambda c, mu: js.multivariate_normal.logpdf(x[:3], mu, c),
                  argnums=(0, 1))(cov, mean)
    for a, b in zip(g, gj, strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10)


# == linalg ===================================================================================

def _tri(n: int, lower: bool, batch: tuple[int, ...] = ()) -> np.ndarray:
    a = RNG.uniform(-1, 1, (*batch, n, n))
    idx = np.arange(n)
    a[..., idx, idx] = RNG.uniform(1, 2, (*batch, n))
    return a


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1, "T"])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular_against_scipy(lower: bool, trans: Any, unit: bool) -> None:
    sl = oracle("scipy.linalg")
    a = _tri(5, lower)
    b = RNG.normal(size=(5, 2))
    got = fsp.linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
    want = sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(
        fsp.linalg.solve_triangular(a, b[:, 0], trans=trans, lower=lower, unit_diagonal=unit),
        want[:, 0], rtol=1e-12)


def test_solve_triangular_is_back_substitution_and_batches() -> None:
    # Exactly back substitution (no pivoting): agrees with a loop to the last bits.
    a = _tri(6, True, (3,))
    b = RNG.normal(size=(3, 6))
    got = fsp.linalg.solve_triangular(a, b, lower=True)
    want = np.zeros_like(b)
    for j in range(6):
        want[:, j] = (b[:, j] - np.einsum("bk,bk->b", a[:, j, :j], want[:, :j])) / a[:, j, j]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    loop = np.stack([fsp.linalg.solve_triangular(a[i], b[i], lower=True) for i in range(3)])
    np.testing.assert_allclose(fg.vmap(lambda a, b: fsp.linalg.solve_triangular(
        a, b, lower=True))(a, b), loop, rtol=1e-14)


def test_cholesky_family_against_scipy() -> None:
    sl = oracle("scipy.linalg")
    m = RNG.normal(size=(4, 4))
    a = m @ m.T + np.eye(4)
    b = RNG.normal(size=(4, 3))
    for lower in (False, True):
        c, low = fsp.linalg.cho_factor(a, lower=lower)
        assert low is lower
        want = sl.cholesky(a, lower=lower)
        np.testing.assert_allclose(c, want, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(fsp.linalg.cho_solve((c, low), b),
                                   sl.cho_solve(sl.cho_factor(a, lower=lower), b), rtol=1e-12)
    np.testing.assert_allclose(fsp.linalg.solve(a, b, assume_a="pos"), np.linalg.solve(a, b),
                               rtol=1e-12)


def test_lu_against_scipy() -> None:
    sl = oracle("scipy.linalg")
    for n in (1, 3, 6):
        a = RNG.normal(size=(n, n))
        p, l, u = fsp.linalg.lu(a)
        wp, wl, wu = sl.lu(a)
        for got, want in ((p, wp), (l, wl), (u, wu)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        packed, piv = fsp.linalg.lu_factor(a)
        wpacked, wpiv = sl.lu_factor(a)
        np.testing.assert_array_equal(piv, wpiv)
        assert piv.dtype == np.int32
        np.testing.assert_allclose(packed, wpacked, rtol=1e-12, atol=1e-14)
        pl, u2 = fsp.linalg.lu(a, permute_l=True)
        np.testing.assert_allclose(pl @ u2, a, rtol=1e-12, atol=1e-14)
        b = RNG.normal(size=(n, 2))
        for trans in (0, 1):
            np.testing.assert_allclose(fsp.linalg.lu_solve((packed, piv), b, trans=trans),
                                       sl.lu_solve((wpacked, wpiv), b, trans=trans),
                                       rtol=1e-11)
    # a singular matrix factors as LAPACK's does (a zero pivot column is left alone)
    s = np.array([[0.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(fsp.linalg.lu_factor(s)[0], sl.lu_factor(s, check_finite=False)[0])


def test_lu_batched_staged_and_gradients() -> None:
    a = RNG.normal(size=(3, 4, 4))
    loop = [fsp.linalg.lu(x) for x in a]
    got = fg.vmap(fsp.linalg.lu)(a)
    for i in range(3):
        np.testing.assert_allclose(got[1][:, :, :][i], loop[i][1], rtol=1e-14)
    direct = fsp.linalg.lu(a)  # leading batch axes natively
    for g, d in zip(got, direct, strict=True):
        np.testing.assert_allclose(g, d, rtol=1e-14)
    for g, s in zip(fsp.linalg.lu(a[0]), staged(fsp.linalg.lu)(a[0]), strict=True):
        np.testing.assert_array_equal(g, s)
    check_grads(lambda x: fsp.linalg.lu(x)[2], (a[0],), order=2, atol=1e-4)


def test_linalg_gradients_against_jax() -> None:
    jax = _jax()
    jl = jax.scipy.linalg
    a = RNG.normal(size=(4, 4))
    t = _tri(4, True)
    b = RNG.normal(size=(4, 2))

    def both(ours: Any, theirs: Any, *args: Any, sym: bool = False) -> None:
        nums = tuple(range(len(args)))
        g = fg.grad(lambda *x: fnp.sum(fnp.sin(ours(*x))), argnums=nums)(*args)
        gj = jax.grad(lambda *x: jax.numpy.sin(theirs(*x)).sum(), argnums=nums)(*args)
        for i, (x, y) in enumerate(zip(g, gj, strict=True)):
            if sym and i == 0:
                # The factor reads one triangle: our gradient lives there (as finite
                # differences say), JAX's does not; both agree on symmetric directions dA.
                d = RNG.normal(size=x.shape)
                d = d + d.T
                x, y = np.sum(x * d), np.sum(np.asarray(y) * d)
            np.testing.assert_allclose(x, np.asarray(y), rtol=1e-9, atol=1e-12)

    both(lambda t, b: fsp.linalg.solve_triangular(t, b, lower=True, trans=1),
         lambda t, b: jl.solve_triangular(t, b, lower=True, trans=1), t, b)
    both(lambda a: fsp.linalg.lu(a)[2], lambda a: jl.lu(a)[2], a)
    both(lambda a: fsp.linalg.lu(a)[1], lambda a: jl.lu(a)[1], a)
    both(lambda a, b: fsp.linalg.lu_solve(fsp.linalg.lu_factor(a), b),
         lambda a, b: jl.lu_solve(jl.lu_factor(a), b), a, b)
    both(lambda a: fsp.linalg.expm(a * 0.5), lambda a: jl.expm(a * 0.5), a)
    spd = a @ a.T + np.eye(4)
    both(lambda s, b: fsp.linalg.cho_solve(fsp.linalg.cho_factor(s), b),
         lambda s, b: jl.cho_solve(jl.cho_factor(s), b), spd, b, sym=True)


def test_expm_and_block_diag_against_scipy() -> None:
    sl = oracle("scipy.linalg")
    a = RNG.normal(size=(5, 5)) * 3
    np.testing.assert_allclose(fsp.linalg.expm(a), sl.expm(a), rtol=1e-11)
    blocks = (np.ones((2, 2)), np.array([1.0, 2.0, 3.0]), np.array(4.0), np.ones((1, 0)))
    np.testing.assert_array_equal(fsp.linalg.block_diag(*blocks), sl.block_diag(*blocks))
    got = fg.grad(lambda x, y: fnp.sum(fsp.linalg.block_diag(x, y) ** 2), argnums=(0, 1))(
        np.ones((2, 2)), 2 * np.ones((1, 3)))
    np.testing.assert_allclose(got[0], 2 * np.ones((2, 2)))
    np.testing.assert_allclose(got[1], 4 * np.ones((1, 3)))


def test_linalg_errors() -> None:
    with pytest.raises(ValueError, match="square"):
        fsp.linalg.solve_triangular(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"b must have shape"):
        fsp.linalg.solve_triangular(np.eye(3), np.ones(2))
    with pytest.raises(TypeError, match="trans"):
        fsp.linalg.solve_triangular(np.eye(2), np.ones(2), trans=3)


# == optimize =================================================================================

def _rosen(x: Any) -> Any:
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_minimize_bfgs_against_scipy() -> None:
    so = oracle("scipy.optimize")
    for x0 in (np.array([-1.2, 1.0]), np.array([1.3, 0.7, 0.8, 1.9, 1.2])):
        res = fsp.optimize.minimize(_rosen, x0, method="BFGS")
        assert bool(res.success) and int(res.status) == 0
        want = so.minimize(lambda x: float(_rosen(x)), x0, method="BFGS", jac=fg.grad(_rosen))
        np.testing.assert_allclose(res.x, want.x, atol=1e-5)
        np.testing.assert_allclose(res.x, np.ones_like(x0), atol=1e-5)
        assert np.max(np.abs(res.jac)) <= 1e-5
        np.testing.assert_allclose(res.fun, _rosen(res.x))
        np.testing.assert_allclose(res.jac, fg.grad(_rosen)(res.x))


def test_minimize_bfgs_against_jax_on_a_convex_problem() -> None:
    # (JAX's BFGS stops early on Rosenbrock from (-1.2, 1) in float64, status 3: compare on a
    # problem with one minimizer instead.)
    jax = _jax()
    jo = oracle("jax.scipy.optimize")
    x = RNG.normal(size=(30, 4))
    y = np.sign(x @ np.array([1.0, -2.0, 0.5, 0.0]) + RNG.normal(size=30) * 0.5)

    def loss(w: Any) -> Any:
        return fnp.mean(fg.nn.softplus(-y * (x @ w))) + 0.05 * fnp.sum(w * w)

    def loss_jax(w: Any) -> Any:
        return jax.numpy.mean(jax.nn.softplus(-y * (x @ w))) + 0.05 * jax.numpy.sum(w * w)

    res = fsp.optimize.minimize(loss, np.zeros(4), method="BFGS", tol=1e-9)
    # (jax.scipy's minimize ignores tol for BFGS: the tolerance goes in options)
    jres = jo.minimize(loss_jax, np.zeros(4), method="BFGS", options={"gtol": 1e-9})
    assert bool(res.success) and bool(jres.success)
    np.testing.assert_allclose(res.x, np.asarray(jres.x), atol=1e-7)
    np.testing.assert_allclose(res.fun, float(jres.fun), rtol=1e-12)


def test_minimize_with_args_vmap_and_staging() -> None:
    def quad(x: Any, c: Any, w: Any) -> Any:
        return fnp.sum(w * (x - c) ** 2) + fnp.sum(x ** 4) * 0.01

    w = np.array([1.0, 3.0, 0.5])
    cs = RNG.normal(size=(4, 3))
    one = [fsp.optimize.minimize(quad, np.zeros(3), (c, w), method="BFGS").x for c in cs]
    batched = fg.vmap(lambda c: fsp.optimize.minimize(quad, np.zeros(3), (c, w),
                                                       method="BFGS").x)(cs)
    np.testing.assert_allclose(batched, np.stack(one), atol=1e-6)
    closed = fg.make_jaxpr(lambda c: fsp.optimize.minimize(quad, np.zeros(3), (c, w),
                                                            method="BFGS").x)(cs[0])
    assert any(e.primitive.name == "while" or "while" in e.primitive.name
               for e in closed.jaxpr.eqns)
    np.testing.assert_allclose(staged(lambda c: fsp.optimize.minimize(
        quad, np.zeros(3), (c, w), method="BFGS").x)(cs[0]), one[0], rtol=1e-12)
    res = fsp.optimize.minimize(quad, np.zeros(3), (cs[0], w), method="BFGS",
                                options={"maxiter": 1})
    assert int(res.nit) == 1 and int(res.status) == 1 and not bool(res.success)


def test_minimize_errors() -> None:
    with pytest.raises(ValueError, match="BFGS"):
        fsp.optimize.minimize(_rosen, np.zeros(2), method="Nelder-Mead")
    with pytest.raises(ValueError, match="1-d"):
        fsp.optimize.minimize(_rosen, np.zeros((2, 2)), method="BFGS")
    with pytest.raises(ValueError, match="unknown options"):
        fsp.optimize.minimize(_rosen, np.zeros(2), method="BFGS", options={"disp": True})
