"""fg.nn.initializers: variances for dense and conv (OIHW) layouts, against the closed forms and
jax.nn.initializers' fan arithmetic; orthogonality; determinism; dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from oracles import oracle

import funcgrad as fg
import funcgrad.nn.initializers as init
from funcgrad.core.errors import FuncgradValueError

K = fg.random.key(0)
DENSE = (400, 300)
CONV = (64, 32, 3, 3)   # (C_out, C_in, kh, kw): fan_in 288, fan_out 576

# (name, expected variance as a function of (fan_in, fan_out), distribution)
FAMILIES = [
    ("glorot_uniform", lambda i, o: 2 / (i + o), "uniform"),
    ("xavier_uniform", lambda i, o: 2 / (i + o), "uniform"),
    ("glorot_normal", lambda i, o: 2 / (i + o), "truncated_normal"),
    ("xavier_normal", lambda i, o: 2 / (i + o), "truncated_normal"),
    ("he_uniform", lambda i, o: 2 / i, "uniform"),
    ("kaiming_uniform", lambda i, o: 2 / i, "uniform"),
    ("he_normal", lambda i, o: 2 / i, "truncated_normal"),
    ("kaiming_normal", lambda i, o: 2 / i, "truncated_normal"),
    ("lecun_uniform", lambda i, o: 1 / i, "uniform"),
    ("lecun_normal", lambda i, o: 1 / i, "truncated_normal"),
]


def test_fans_of_funcgrad_layouts() -> None:
    assert init.compute_fans(DENSE) == (400.0, 300.0)
    assert init.compute_fans(CONV) == (32 * 9.0, 64 * 9.0)
    assert init.compute_fans((10,)) == (10.0, 10.0)
    # explicit axes reproduce JAX's HWIO arithmetic
    oracle("jax")
    from jax._src.nn.initializers import _compute_fans
    for shape, axes in [((3, 3, 32, 64), (-2, -1, ())), ((5, 3, 3, 32, 64), (-2, -1, 0)),
                        ((64, 32, 3, 3), (1, 0, ()))]:
        assert init.compute_fans(shape, *axes) == tuple(
            float(f) for f in _compute_fans(shape, *axes))
    with pytest.raises(FuncgradValueError, match="disjoint"):
        init.compute_fans(CONV, in_axis=0, out_axis=0)


@pytest.mark.parametrize("name,var,dist", FAMILIES, ids=[f[0] for f in FAMILIES])
@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
def test_variance_and_distribution(name: str, var: object, dist: str,
                                   shape: tuple[int, ...]) -> None:
    w = getattr(init, name)()(K, shape)
    assert w.shape == shape and w.dtype == np.float32
    fi, fo = init.compute_fans(shape)
    v = var(fi, fo)  # type: ignore[operator]
    n = w.size
    assert abs(w.mean()) < 5 * np.sqrt(v / n)
    assert abs(w.var() / v - 1) < 0.03
    x = w.astype(np.float64).ravel() / np.sqrt(v)
    if dist == "uniform":
        ref = st.uniform(-np.sqrt(3), 2 * np.sqrt(3))
    else:
        c = 0.87962566103423978
        ref = st.truncnorm(-2, 2, scale=1 / c)
    assert st.kstest(x, ref.cdf).pvalue > 1e-3


def test_matches_jax_distribution() -> None:
    # Same distribution as jax.nn.initializers.he_normal on the same (dense) shape: two-sample KS.
    jax = oracle("jax")
    ours = np.asarray(init.he_normal()(K, DENSE)).ravel()
    theirs = np.asarray(jax.nn.initializers.he_normal()(jax.random.key(0), DENSE)).ravel()
    assert st.ks_2samp(ours, theirs).pvalue > 1e-3
    ours_u = np.asarray(init.lecun_uniform()(K, DENSE)).ravel()
    theirs_u = np.asarray(jax.nn.initializers.lecun_uniform()(jax.random.key(1), DENSE)).ravel()
    assert st.ks_2samp(ours_u, theirs_u).pvalue > 1e-3


def test_variance_scaling_modes_and_axes() -> None:
    shape = (3, 3, 32, 64)  # HWIO, with explicit axes
    for mode, n in [("fan_in", 288), ("fan_out", 576), ("fan_avg", 432)]:
        w = init.variance_scaling(1.0, mode, "normal", in_axis=-2, out_axis=-1)(K, shape)
        assert abs(w.var() * n - 1) < 0.04
    with pytest.raises(FuncgradValueError, match="mode"):
        init.variance_scaling(1.0, "fan", "normal")
    with pytest.raises(FuncgradValueError, match="distribution"):
        init.variance_scaling(1.0, "fan_in", "cauchy")


def test_simple_initializers() -> None:
    assert (init.zeros(K, (2, 3)) == 0).all() and init.zeros(K, (2,)).dtype == np.float32
    assert (init.ones(K, (2,), np.float64) == 1).all()
    assert (init.constant(-0.5)(K, (4,)) == -0.5).all()
    w = init.normal(0.5)(K, (20000,))
    assert abs(w.std() / 0.5 - 1) < 0.02 and st.kstest(w / 0.5, "norm").pvalue > 1e-3
    u = init.uniform(2.0)(K, (20000,))
    assert u.min() >= 0 and u.max() < 2 and st.kstest(u, st.uniform(0, 2).cdf).pvalue > 1e-3
    t = init.truncated_normal(1.0, lower=-1.0, upper=0.5)(K, (20000,))
    assert t.min() > -1 and t.max() < 0.5
    assert st.kstest(t, st.truncnorm(-1, 0.5).cdf).pvalue > 1e-3
    assert init.normal(dtype=np.float64)(K, (2,)).dtype == np.float64
    with pytest.raises(FuncgradValueError, match="dtype"):
        init.normal()(K, (2,), np.int32)


@pytest.mark.parametrize("shape,axis", [((5, 3), None), ((3, 5), None), ((16, 4, 3, 3), None),
                                        ((4, 6, 2), 1)])
def test_orthogonal(shape: tuple[int, ...], axis: int | None) -> None:
    w = np.asarray(init.orthogonal(2.0, column_axis=axis, dtype=np.float64)(K, shape))
    ca = (0 if len(shape) > 2 else -1) if axis is None else axis
    m = np.moveaxis(w, ca, -1).reshape(-1, shape[ca]) / 2.0
    small = min(m.shape)
    g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(g, np.eye(small), atol=1e-12)


def test_orthogonal_is_haar() -> None:
    # Haar measure on O(n): each entry of a random orthogonal matrix, times sqrt(n), is close to
    # N(0, 1) for moderate n; and the trace has mean 0 and variance 1 (Diaconis-Shahshahani).
    qs = fg.vmap(lambda k: fg.random.orthogonal(k, 8))(fg.random.split(K, 400))
    tr = np.trace(qs, axis1=-2, axis2=-1)
    assert abs(tr.mean()) < 5 / np.sqrt(400) and abs(tr.var() - 1) < 0.25
    np.testing.assert_allclose(np.einsum("bji,bjk->bik", qs, qs), np.broadcast_to(np.eye(8),
                               (400, 8, 8)), atol=1e-12)


def test_determinism_and_key_dependence() -> None:
    f = init.he_uniform()
    np.testing.assert_array_equal(f(K, (4, 4)), f(K, (4, 4)))
    assert not np.allclose(f(K, (4, 4)), f(fg.random.key(1), (4, 4)))
    ws = fg.vmap(lambda k: f(k, (4, 4)))(fg.random.split(K, 3))
    np.testing.assert_array_equal(ws, np.stack([f(k, (4, 4)) for k in fg.random.split(K, 3)]))
