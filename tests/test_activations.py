"""The newer ``fg.nn`` activations, ``logsumexp``/``softmax`` with ``where`` and
``dot_product_attention`` against ``jax.nn`` (values and gradients). Finite differences to
order 2, vmap against a loop and staged-equals-eager run over ``specs_special.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn

RNG = np.random.default_rng(22)


def _jax() -> Any:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


NAMES = ["selu", "celu", "glu", "log_sigmoid", "hard_tanh", "hard_sigmoid", "hard_swish",
         "mish", "sparse_plus", "standardize"]


@pytest.mark.parametrize("name", NAMES)
def test_activation_against_jax(name: str) -> None:
    jax = _jax()
    x = np.concatenate([RNG.normal(size=(3, 4)) * 3, [[-1e4, 1e4, 0.3, -0.7]]])
    ours, theirs = getattr(nn, name), getattr(jax.nn, name)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-13, atol=1e-13)
    g = fg.grad(lambda v: fnp.sum(fnp.sin(ours(v))))(x[:3])
    gj = jax.grad(lambda v: jax.numpy.sin(theirs(v)).sum())(x[:3])
    np.testing.assert_allclose(g, np.asarray(gj), rtol=1e-11, atol=1e-12)
    assert ours(x.astype(np.float32)).dtype == np.float32


def test_where_reductions_against_jax() -> None:
    jax = _jax()
    x = RNG.normal(size=(3, 5))
    where = RNG.random((3, 5)) < 0.6
    where[0] = False  # an empty row: logsumexp -inf
    b = RNG.uniform(0.5, 2, (3, 5))
    np.testing.assert_allclose(nn.logsumexp(x, axis=1, where=where),
                               np.asarray(jax.nn.logsumexp(x, axis=1, where=where)))
    np.testing.assert_allclose(nn.logsumexp(x, axis=0, b=b, where=where),
                               np.asarray(jax.nn.logsumexp(x, axis=0, b=b, where=where)),
                               rtol=1e-13)
    w = where.copy()
    w[0, 0] = True
    np.testing.assert_allclose(nn.softmax(x, where=w), np.asarray(jax.nn.softmax(x, where=w)),
                               rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(nn.log_softmax(x, where=w),
                               np.asarray(jax.nn.log_softmax(x, where=w)), rtol=1e-13)
    np.testing.assert_allclose(nn.standardize(x, axis=0, where=w),
                               np.asarray(jax.nn.standardize(x, axis=0, where=w)), rtol=1e-11)
    g = fg.grad(lambda v: fnp.sum(nn.softmax(v, where=w) ** 2))(x)
    gj = jax.grad(lambda v: (jax.nn.softmax(v, where=w) ** 2).sum())(x)
    np.testing.assert_allclose(g, np.asarray(gj), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs", [
    {},
    {"is_causal": True},
    {"scale": 0.3, "local_window_size": (1, 0)},
    {"key_value_seq_lengths": np.array([3, 5], np.int32),
     "query_seq_lengths": np.array([2, 4], np.int32)},
    {"mask": "random", "bias": "random"},
])
def test_dot_product_attention_against_jax(kwargs: dict[str, Any]) -> None:
    jax = _jax()
    q = RNG.normal(size=(2, 4, 4, 3))
    k = RNG.normal(size=(2, 5, 2, 3))
    v = RNG.normal(size=(2, 5, 2, 3))
    kw = dict(kwargs)
    if kw.get("mask") == "random":
        kw["mask"] = RNG.random((2, 4, 4, 5)) < 0.7
        kw["bias"] = RNG.normal(size=(2, 4, 4, 5))
    got = nn.dot_product_attention(q, k, v, **kw)
    want = jax.nn.dot_product_attention(q, k, v, **kw)
    # JAX takes the softmax in float32 even for float64 inputs: agreement to ~1e-7
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)
    g = fg.grad(lambda a, b, c: fnp.sum(fnp.sin(nn.dot_product_attention(a, b, c, **kw))),
                argnums=(0, 1, 2))(q, k, v)
    gj = jax.grad(lambda a, b, c: jax.numpy.sin(jax.nn.dot_product_attention(a, b, c, **kw))
                  .sum(), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(g, gj, strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    # float64 reference: softmax(q k^T / sqrt(H)) v per head, key heads repeated
    kr, vr = np.repeat(k, 2, axis=2), np.repeat(v, 2, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, kr) / np.sqrt(3)
    if not kw:
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        np.testing.assert_allclose(got, np.einsum("bnts,bsnh->btnh", p, vr), rtol=1e-13)
    unbatched = nn.dot_product_attention(q[0], k[0], v[0])
    np.testing.assert_allclose(unbatched, nn.dot_product_attention(q, k, v)[0], rtol=1e-14)


def test_errors() -> None:
    with pytest.raises(ValueError, match="even"):
        nn.glu(np.ones((2, 3)))
    with pytest.raises(ValueError, match="K dividing N"):
        nn.dot_product_attention(np.ones((1, 2, 3, 4)), np.ones((1, 2, 2, 4)),
                                 np.ones((1, 2, 2, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_jax_relu_bitwise_with_its_derivatives(dtype):
    # max(x, 0) with the derivative select(x > 0, g, 0): NaN stays NaN, -0.0 gives +0.0,
    # the derivative at +-0 is 0, in reverse mode, forward mode, second order, vmap and jit.
    jax = _jax()
    jnp = jax.numpy
    x = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -1.5, 2.5, 1e-30, -1e-30], dtype)
    t = np.linspace(-2, 3, x.size).astype(dtype)

    def bits(a: Any) -> np.ndarray:
        a = np.asarray(a)
        assert a.dtype == dtype
        return a.view(np.uint8)

    want = np.asarray(jax.nn.relu(jnp.asarray(x)))
    assert np.array_equal(bits(nn.relu(x)), bits(want))
    assert np.array_equal(bits(fg.jit(nn.relu)(x)), bits(want))
    g_want = np.asarray(jax.grad(lambda v: jnp.sum(jax.nn.relu(v) * t))(jnp.asarray(x)))
    for f in (fg.grad(lambda v: fnp.sum(nn.relu(v) * t)),
              fg.jit(fg.grad(lambda v: fnp.sum(nn.relu(v) * t)))):
        assert np.array_equal(bits(f(x)), bits(g_want))
    j_want = np.asarray(jax.jvp(jax.nn.relu, (jnp.asarray(x),), (jnp.asarray(t),))[1])
    assert np.array_equal(bits(fg.jvp(nn.relu, (x,), (t,))[1]), bits(j_want))
    vg = fg.vmap(fg.grad(lambda v: fnp.sum(nn.relu(v) * t)))(np.stack([x, -x]))
    assert np.array_equal(bits(vg[0]), bits(g_want))
    # second order, reverse over reverse and forward over reverse: relu'' = 0, relu' at 0 = 0
    y = np.array([-1.0, 0.0, 2.0], dtype)
    h_want = np.asarray(jax.hessian(lambda v: jnp.sum(jax.nn.relu(v) ** 3))(jnp.asarray(y)))
    np.testing.assert_array_equal(fg.hessian(lambda v: fnp.sum(nn.relu(v) ** 3))(y), h_want)
    np.testing.assert_array_equal(
        fg.jacfwd(fg.grad(lambda v: fnp.sum(nn.relu(v) ** 3)))(y), h_want)
    # an outer derivative of the value relu(x) inside an inner gradient's function
    outer = fg.grad(lambda v: fg.grad(lambda u: fnp.sum(nn.relu(u) * nn.relu(v)))(v).sum())
    jouter = jax.grad(lambda v: jax.grad(
        lambda u: jnp.sum(jax.nn.relu(u) * jax.nn.relu(v)))(v).sum())
    z = np.array([-1.0, 0.0, 0.5, 3.0], dtype)
    np.testing.assert_array_equal(outer(z), np.asarray(jouter(jnp.asarray(z))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((6, 10), 1), ((6, 10), 0), ((2, 3, 4), (0, 2)),
                                          ((5,), None), ((3, 1), 1)])
def test_log_softmax_lax_path_is_bitwise_the_fnp_composite(dtype, shape, axis):
    # log_softmax without where binds the fnp composite's primitives directly: the same
    # bits in eager, grad, jit and vmap (rows of -inf included).
    from funcgrad.nn.activations import _axes_tuple, _masked_max

    def ref(x):
        axes = _axes_tuple(x.ndim, axis)
        shifted = x - _masked_max(x, axes, None)
        return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axes, keepdims=True))

    x = (RNG.standard_normal(shape) * 3).astype(dtype)
    x.reshape(-1)[0] = 1e4
    if len(shape) == 2 and axis == 1:
        x[-1] = -np.inf

    def bits(a):
        a = np.asarray(a)
        assert a.dtype == dtype
        return a.view(np.uint8)

    t = RNG.standard_normal(shape).astype(dtype)
    pairs = [(nn.log_softmax(x, axis), ref(x)),
             (fg.jit(lambda v: nn.log_softmax(v, axis))(x), ref(x))]
    finite = np.where(np.isfinite(x), x, 0).astype(dtype)
    pairs.append((fg.grad(lambda v: fnp.sum(nn.log_softmax(v, axis) * t))(finite),
                  fg.grad(lambda v: fnp.sum(ref(v) * t))(finite)))
    pairs.append((fg.vmap(lambda v: nn.log_softmax(v, axis))(np.stack([x, x[::-1]])),
                  fg.vmap(ref)(np.stack([x, x[::-1]]))))
    for got, want in pairs:
        assert np.array_equal(bits(got), bits(want))
