"""fg.random: determinism, pinned stream, split/fold_in, distributions (moments + KS), vmap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.random as fr
from funcgrad.core import eval_jaxpr
from funcgrad.core.errors import FuncgradValueError

N = 20000


def test_key_shape_dtype() -> None:
    k = fr.PRNGKey(3)
    assert k.shape == (2,) and k.dtype == np.uint32
    assert (fr.key(3) == k).all()


def test_golden_values_pin_the_stream() -> None:
    # These literals pin the Philox-based stream: changing them breaks every user's seeds.
    k = fr.key(42)
    np.testing.assert_array_equal(
        fr.uniform(k, (3,)), [0.8201981478608876, 0.18924562408645496, 0.8676608148821462])
    np.testing.assert_array_equal(fr.split(k), [[3522724221, 812803766], [3726574823, 1694714510]])
    np.testing.assert_array_equal(fr.fold_in(k, 7), [198700145, 2432344302])


def test_determinism_and_distinct_streams() -> None:
    k = fr.key(0)
    a, b = fr.split(k)
    assert (fr.normal(k, (5,)) == fr.normal(k, (5,))).all()
    assert not np.allclose(fr.normal(a, (5,)), fr.normal(b, (5,)))
    assert not np.allclose(fr.normal(fr.fold_in(k, 1), (5,)), fr.normal(fr.fold_in(k, 2), (5,)))
    assert not np.allclose(fr.normal(k, (5,)), fr.normal(a, (5,)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform(dtype: type) -> None:
    u = fr.uniform(fr.key(1), (N,), dtype)
    assert u.dtype == dtype and u.min() >= 0 and u.max() < 1
    assert st.kstest(u, "uniform").pvalue > 1e-3
    v = fr.uniform(fr.key(1), (N,), dtype, minval=-2.0, maxval=3.0)
    assert v.min() >= -2 and v.max() < 3 and v.dtype == dtype


@pytest.mark.parametrize("name,dist", [("normal", "norm"), ("exponential", "expon"),
                                       ("gumbel", "gumbel_r"), ("laplace", "laplace")])
def test_continuous_ks_and_moments(name: str, dist: str) -> None:
    x = getattr(fr, name)(fr.key(2), (N,))
    ref = getattr(st, dist)
    assert st.kstest(x, dist).pvalue > 1e-3
    assert abs(x.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(N)
    assert abs(x.var() / ref.var() - 1) < 0.05


def test_bernoulli_and_randint() -> None:
    b = fr.bernoulli(fr.key(4), 0.3, (N,))
    assert b.dtype == bool and abs(b.mean() - 0.3) < 0.02
    r = fr.randint(fr.key(5), (N,), -2, 3)
    assert r.dtype == np.int64 and set(np.unique(r)) == {-2, -1, 0, 1, 2}
    counts = np.bincount(r + 2)
    assert st.chisquare(counts).pvalue > 1e-3
    with pytest.raises(FuncgradValueError, match="maxval"):
        fr.randint(fr.key(5), (3,), 3, 3)


def test_bad_key_names_argument() -> None:
    with pytest.raises(FuncgradValueError, match="key"):
        fr.normal(np.zeros(3, np.uint32), (2,))


@pytest.mark.parametrize("name", ["normal", "uniform", "exponential", "gumbel", "laplace"])
def test_vmap_over_keys_equals_loop(name: str) -> None:
    keys = fr.split(fr.key(0), 4)
    f = getattr(fr, name)
    got = fg.vmap(lambda k: f(k, (3,)))(keys)
    np.testing.assert_array_equal(got, np.stack([f(k, (3,)) for k in keys]))
    got2 = fg.vmap(lambda k: fr.split(k, 3))(keys)
    np.testing.assert_array_equal(got2, np.stack([fr.split(k, 3) for k in keys]))


def test_jit_style_staging() -> None:
    k = fr.key(9)
    jaxpr = fg.make_jaxpr(lambda k: fr.normal(k, (2,)))(k)
    assert "random_bits" in str(jaxpr)


def test_erfinv_against_scipy() -> None:
    import scipy.special as sp
    y = np.concatenate([np.linspace(-0.9999, 0.9999, 20001), [0.0, 1e-300]])
    np.testing.assert_allclose(fr._erfinv(y), sp.erfinv(y), rtol=1e-12, atol=1e-300)
    # beyond 1 - 1e-8 the polynomial alone (erf's rounding next to 1 limits any Newton step)
    t = 1 - np.logspace(-4, -15, 50)
    np.testing.assert_allclose(fr._erfinv(t), sp.erfinv(t), rtol=1e-6)
    np.testing.assert_allclose(fr._erfinv(-t), sp.erfinv(-t), rtol=1e-6)
    np.testing.assert_array_equal(fr._erfinv(np.array([-1.0, 1.0])), [-np.inf, np.inf])


@pytest.mark.parametrize("lo,hi", [(-2.0, 2.0), (-1.0, 0.5), (1.0, 3.0), (-np.inf, 0.0)])
def test_truncated_normal_ks(lo: float, hi: float) -> None:
    x = fr.truncated_normal(fr.key(6), lo, hi, (N,))
    assert x.min() > lo and x.max() < hi
    ref = st.truncnorm(lo, hi)
    assert st.kstest(x, ref.cdf).pvalue > 1e-3
    assert abs(x.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(N)
    assert fr.truncated_normal(fr.key(6), -1.0, 1.0, (3,), np.float32).dtype == np.float32
    # shape defaults to the broadcast shape of the bounds
    assert fr.truncated_normal(fr.key(6), np.zeros(4) - 1, 1.0).shape == (4,)


def test_categorical_frequencies_and_shapes() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    c = fr.categorical(fr.key(7), np.log(p), shape=(N,))
    assert st.chisquare(np.bincount(c, minlength=4), N * p).pvalue > 1e-3
    logits = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))
    d = fr.categorical(fr.key(7), logits, shape=(100, 2))
    assert d.shape == (100, 2) and set(d[:, 0]) <= {0, 1} and (d[:, 1] == 2).all()
    e = fr.categorical(fr.key(7), logits.T, axis=0)
    assert e.shape == (2,) and e[1] == 2
    with pytest.raises(FuncgradValueError, match="batch shape"):
        fr.categorical(fr.key(7), logits, shape=(3,))


def test_choice() -> None:
    x = fr.choice(fr.key(8), 6, (N,))
    assert st.chisquare(np.bincount(x, minlength=6)).pvalue > 1e-3
    p = np.array([0.5, 0.0, 0.25, 0.25])
    y = fr.choice(fr.key(8), np.array([10, 20, 30, 40]), (N,), p=p)
    assert st.chisquare(np.bincount(y // 10 - 1, minlength=4)[[0, 2, 3]], N * p[[0, 2, 3]]
                        ).pvalue > 1e-3 and not (y == 20).any()
    z = fr.choice(fr.key(8), 10, (2, 5), replace=False)
    assert z.shape == (2, 5) and sorted(z.ravel().tolist()) == list(range(10))
    # without replacement, the first draw is uniform over the entries (and p-weighted with p)
    firsts = fg.vmap(lambda k: fr.choice(k, 5, (3,), replace=False))(fr.split(fr.key(9), 5000))
    assert all(len(set(r)) == 3 for r in firsts.tolist())
    assert st.chisquare(np.bincount(firsts[:, 0], minlength=5)).pvalue > 1e-3
    rows = fr.choice(fr.key(8), np.arange(12).reshape(4, 3), (2,), replace=False, axis=1)
    assert rows.shape == (4, 2) and (rows[:, 0] % 3 == rows[0, 0]).all()
    with pytest.raises(FuncgradValueError, match="without replacement"):
        fr.choice(fr.key(8), 3, (4,), replace=False)
    with pytest.raises(FuncgradValueError, match="p must have shape"):
        fr.choice(fr.key(8), 3, (2,), p=np.ones(4) / 4)


def test_rademacher_and_multivariate_normal() -> None:
    r = fr.rademacher(fr.key(10), (N,))
    assert set(np.unique(r)) == {-1, 1} and abs(r.mean()) < 5 / np.sqrt(N)
    mean = np.array([1.0, -2.0, 0.5])
    a = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])
    cov = a @ a.T
    x = fr.multivariate_normal(fr.key(11), mean, cov, (N,))
    assert x.shape == (N, 3)
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(cov.diagonal().max() / N))
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.08)
    # whitened draws are standard normal (KS per coordinate)
    w = np.linalg.solve(np.linalg.cholesky(cov), (x - mean).T)
    assert min(st.kstest(row, "norm").pvalue for row in w) > 1e-3
    with pytest.raises(FuncgradValueError, match="cov"):
        fr.multivariate_normal(fr.key(11), mean, np.eye(2))


def test_orthogonal_sampler() -> None:
    q = fr.orthogonal(fr.key(12), 6, (3,))
    assert q.shape == (3, 6, 6)
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(6), (3, 6, 6)),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["truncated_normal", "categorical", "choice", "rademacher",
                                  "orthogonal", "multivariate_normal"])
def test_new_samplers_vmap_over_keys_and_staging(name: str) -> None:
    calls = {
        "truncated_normal": lambda k: fr.truncated_normal(k, -1.0, 2.0, (3,)),
        "categorical": lambda k: fr.categorical(k, np.log(np.array([0.2, 0.3, 0.5])), shape=(4,)),
        "choice": lambda k: fr.choice(k, 7, (3,), replace=False),
        "rademacher": lambda k: fr.rademacher(k, (4,)),
        "orthogonal": lambda k: fr.orthogonal(k, 3),
        "multivariate_normal": lambda k: fr.multivariate_normal(k, np.zeros(2),
                                                                np.array([[2.0, 0.5], [0.5, 1.0]])),
    }
    f = calls[name]
    keys = fr.split(fr.key(13), 4)
    loop = np.stack([f(k) for k in keys])
    np.testing.assert_allclose(fg.vmap(f)(keys), loop, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(f(keys[0]), f(keys[0]))
    jaxpr = fg.make_jaxpr(f)(keys[0])
    staged = eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, keys[0])[0]
    np.testing.assert_allclose(staged, loop[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("a", [0.05, 0.3, 1.0, 2.5, 40.0])
def test_gamma_ks_and_moments(a: float) -> None:
    x = fr.gamma(fr.key(14), a, (N,))
    ref = st.gamma(a)
    assert x.min() >= 0 and st.kstest(x, ref.cdf).pvalue > 1e-3
    assert abs(x.mean() - a) < 5 * np.sqrt(a / N)
    # array shape parameters broadcast against shape
    y = fr.gamma(fr.key(14), np.array([0.5, 5.0]), (N, 2))
    assert st.kstest(y[:, 0], st.gamma(0.5).cdf).pvalue > 1e-3
    assert st.kstest(y[:, 1], st.gamma(5.0).cdf).pvalue > 1e-3


def test_beta_chisquare_t_dirichlet() -> None:
    b = fr.beta(fr.key(15), 0.5, 2.0, (N,))
    assert st.kstest(b, st.beta(0.5, 2.0).cdf).pvalue > 1e-3
    c = fr.chisquare(fr.key(16), 3.0, (N,))
    assert st.kstest(c, st.chi2(3.0).cdf).pvalue > 1e-3
    tt = fr.t(fr.key(17), 4.0, (N,))
    assert st.kstest(tt, st.t(4.0).cdf).pvalue > 1e-3
    alpha = np.array([0.5, 1.0, 3.0])
    d = fr.dirichlet(fr.key(18), alpha, (N,))
    assert d.shape == (N, 3)
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.mean(0), alpha / alpha.sum(), atol=0.01)
    # each marginal is Beta(alpha_i, sum - alpha_i)
    for i in range(3):
        assert st.kstest(d[:, i], st.beta(alpha[i], alpha.sum() - alpha[i]).cdf).pvalue > 1e-3
    with pytest.raises(FuncgradValueError, match="alpha"):
        fr.dirichlet(fr.key(18), 1.0)


def test_gamma_holds_no_gradient_for_a() -> None:
    g = fg.grad(lambda a: fnp.sum(fr.gamma(fr.key(0), a, (3,))))(2.0)
    assert g == 0.0


def test_permutation() -> None:
    p = fr.permutation(fr.key(19), 30)
    assert sorted(p.tolist()) == list(range(30))
    x = np.arange(12).reshape(3, 4)
    q = fr.permutation(fr.key(19), x, axis=1)
    assert q.shape == (3, 4) and (np.sort(q, axis=1) == x).all() and (q[1] - q[0] == 4).all()
    # all 6 orders of 3 items are equally likely
    perms = fg.vmap(lambda k: fr.permutation(k, 3))(fr.split(fr.key(20), 6000))
    codes = perms[:, 0] * 9 + perms[:, 1] * 3 + perms[:, 2]
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == 6 and st.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("name", ["gamma", "beta", "dirichlet", "t", "permutation"])
def test_gamma_family_vmap_and_staging(name: str) -> None:
    calls = {
        "gamma": lambda k: fr.gamma(k, np.array([0.5, 3.0])),
        "beta": lambda k: fr.beta(k, 2.0, 0.5, (3,)),
        "dirichlet": lambda k: fr.dirichlet(k, np.array([1.0, 2.0, 0.2])),
        "t": lambda k: fr.t(k, 5.0, (3,)),
        "permutation": lambda k: fr.permutation(k, np.arange(5) * 10),
    }
    f = calls[name]
    keys = fr.split(fr.key(21), 4)
    loop = np.stack([f(k) for k in keys])
    np.testing.assert_allclose(fg.vmap(f)(keys), loop, rtol=1e-12)
    jaxpr = fg.make_jaxpr(f)(keys[0])
    np.testing.assert_allclose(eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, keys[0])[0], loop[0],
                               rtol=1e-12)


@pytest.mark.parametrize("lam", [0.3, 4.0, 9.5, 10.0, 37.0, 1000.0])
def test_poisson_matches_its_pmf(lam: float) -> None:
    # A chi-square goodness-of-fit test over the bins holding 99.9% of the mass: both of
    # poisson's regimes (Knuth below 10, PTRS from 10) and the switch between them.
    x = fr.poisson(fr.key(5), lam, (N,))
    assert x.dtype == np.int64 and x.min() >= 0
    lo, hi = int(st.poisson.ppf(5e-4, lam)), int(st.poisson.ppf(1 - 5e-4, lam))
    edges = np.arange(lo, hi + 2)
    observed = np.histogram(np.clip(x, lo, hi), edges)[0]
    expected = N * np.diff(st.poisson.cdf(edges - 1, lam))
    expected[0] += N * st.poisson.cdf(lo - 1, lam)
    expected[-1] += N * st.poisson.sf(hi, lam)
    keep = expected > 5
    assert keep.sum() >= 2
    chi2 = (((observed - expected) ** 2 / expected)[keep]).sum()
    assert st.chi2.sf(chi2, keep.sum() - 1) > 1e-4


def test_poisson_array_rate_vmap_jit_and_staging() -> None:
    lam = np.array([[0.5, 3.0], [12.0, 200.0]])
    x = fr.poisson(fr.key(0), lam)
    assert x.shape == (2, 2)
    np.testing.assert_array_equal(fg.jit(lambda k: fr.poisson(k, lam))(fr.key(0)), x)
    keys = fr.split(fr.key(1), 4)
    batched = fg.vmap(lambda k: fr.poisson(k, lam))(keys)
    np.testing.assert_array_equal(batched, np.stack([fr.poisson(k, lam) for k in keys]))
    means = fr.poisson(fr.key(2), lam, (4000, 2, 2)).mean(0)
    np.testing.assert_allclose(means, lam, rtol=0.1, atol=0.1)
    assert fg.grad(lambda r: fnp.sum(fr.poisson(fr.key(0), r, (3,)) * r))(2.0) == \
        fr.poisson(fr.key(0), 2.0, (3,)).sum()    # no gradient flows through the counts


def test_fold_in_traced_data_under_vmap_and_jit() -> None:
    k = fr.key(42)
    ints = np.arange(5)
    loop = np.stack([fr.fold_in(k, int(i)) for i in ints])
    np.testing.assert_array_equal(fg.vmap(lambda d: fr.fold_in(k, d))(ints), loop)
    np.testing.assert_array_equal(fg.jit(fr.fold_in)(k, 7), fr.fold_in(k, 7))
    keys = fr.split(k, 5)
    np.testing.assert_array_equal(fg.vmap(fr.fold_in)(keys, ints),
                                  np.stack([fr.fold_in(q, int(i)) for q, i in zip(keys, ints,
                                                                                  strict=True)]))
    np.testing.assert_array_equal(fg.vmap(lambda q: fr.fold_in(q, 3))(keys),
                                  np.stack([fr.fold_in(q, 3) for q in keys]))
    # A batch of keys per example against one datum per example, and a loop counter under jit.
    kk = fr.split(k, 6).reshape(2, 3, 2)
    np.testing.assert_array_equal(fg.vmap(fr.fold_in)(kk, np.array([1, 2])),
                                  np.stack([fr.fold_in(kk[i], i + 1) for i in range(2)]))
    draws = fg.jit(lambda q: fg.lax.fori_loop(
        0, 3, lambda i, acc: acc + fr.uniform(fr.fold_in(q, i), (2,)), fnp.zeros(2)))(k)
    np.testing.assert_allclose(draws, sum(fr.uniform(fr.fold_in(k, i), (2,)) for i in range(3)))
    assert "random_fold_in" in str(fg.make_jaxpr(fr.fold_in)(k, 1))


def test_fold_in_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError, match="data must be an integer"):
        fr.fold_in(fr.key(0), 1.5)
    with pytest.raises(TypeError, match="data must be an integer"):
        fg.jit(fr.fold_in)(fr.key(0), np.float64(1.0))
    with pytest.raises(ValueError, match="uint32"):
        fr.fold_in(np.zeros(3, np.uint32), 1)
