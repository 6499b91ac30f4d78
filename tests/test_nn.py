"""``fg.nn``: activations, the softmax family, losses, dense/flatten/one_hot, normalisation and
dropout, against NumPy formulas and PyTorch (when importable); stability for logits of 1e4;
derivatives to second order; dtypes. Convolution and pooling live in test_conv.py and
test_pooling.py."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import specs_nn
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn
from funcgrad.test_util import check_grads

# The public fg.nn functions (the API.md section plus the extras the issue asks for).
NN_API = """conv conv_transpose max_pool avg_pool adaptive_avg_pool global_avg_pool dense flatten
    relu relu6 leaky_relu elu gelu silu sigmoid softplus tanh softmax log_softmax logsumexp
    one_hot cross_entropy binary_cross_entropy_with_logits mse l1_loss huber_loss dropout
    batch_norm layer_norm""".split()


@pytest.mark.parametrize("name", NN_API)
def test_api_function_exists_and_has_a_spec(name: str) -> None:
    fn = getattr(nn, name, None)
    assert callable(fn), f"fg.nn.{name} is missing"
    assert fn.__doc__ and ">>>" in fn.__doc__, f"fg.nn.{name} has no docstring example"
    covering = [s.name for s in specs_nn.SPECS if name in s.extra.get("nn", ())]
    assert covering, f"no OpSpec in specs_nn covers fg.nn.{name}"


def test_spec_table_covers_the_new_primitives() -> None:
    declared = {p for s in specs_nn.SPECS for p in s.primitives}
    for prim in ("conv_general_dilated", "reduce_window_sum", "reduce_window_max",
                 "select_and_scatter_add", "select_and_gather_add"):
        assert prim in declared


# == activations ==============================================================================

def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


ACTIVATIONS: dict[str, tuple[Any, Any]] = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "gelu": (lambda x: nn.gelu(x, approximate=False),
             lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (nn.gelu,
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (x + 0.044715 * x ** 3)))),
    "silu": (nn.silu, lambda x: x * 0.5 * (1 + np.tanh(x / 2))),
    "sigmoid": (nn.sigmoid, lambda x: 0.5 * (1 + np.tanh(x / 2))),
    "softplus": (nn.softplus, lambda x: np.logaddexp(x, 0)),
    "tanh": (nn.tanh, np.tanh),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_including_extremes(name: str, rng: np.random.Generator) -> None:
    fn, want = ACTIVATIONS[name]
    x = np.concatenate([rng.uniform(-8, 8, 50), [-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4]])
    with np.errstate(over="ignore"):
        expected = want(x)
    got = fn(x)
    assert type(got) is np.ndarray and got.dtype == np.float64
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_grads_order2(name: str, rng: np.random.Generator) -> None:
    fn, _ = ACTIVATIONS[name]
    x = rng.uniform(0.2, 3.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))  # away from kinks
    check_grads(fn, (x,), order=2, modes=("rev",))
    check_grads(fn, (x,), order=2, modes=("fwd",))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients_are_finite_at_1e4(name: str) -> None:
    fn, _ = ACTIVATIONS[name]
    x = np.array([-1e4, -30.0, 30.0, 1e4])
    g = fg.grad(lambda x: fnp.sum(fn(x)))(x)
    gg = fg.grad(lambda x: fnp.sum(fg.grad(lambda z: fnp.sum(fn(z)))(x)))(x)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(gg))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_dtypes(name: str, dtype: Any, rng: np.random.Generator) -> None:
    fn, _ = ACTIVATIONS[name]
    x = rng.standard_normal(5).astype(dtype)
    y, f_vjp = fg.vjp(fn, x)
    assert y.dtype == dtype and f_vjp(np.ones_like(y))[0].dtype == dtype


def test_activation_derivatives_at_the_kinks() -> None:
    zero = np.zeros(1)
    assert fg.grad(lambda x: fnp.sum(nn.relu(x)))(zero)[0] == 0.0        # as jax.nn.relu
    assert fg.grad(lambda x: fnp.sum(nn.softplus(x)))(zero)[0] == 0.5
    assert fg.grad(lambda x: fnp.sum(nn.sigmoid(x)))(zero)[0] == 0.25
    assert fg.grad(lambda x: fnp.sum(nn.leaky_relu(x, 0.2)))(-np.ones(1))[0] == 0.2
    assert fg.grad(lambda x: fnp.sum(nn.relu6(x)))(np.array([7.0]))[0] == 0.0
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(nn.gelu(x)))(zero), [0.5])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(nn.elu(x, 2.0)))(-np.ones(1)),
                               [2 * math.exp(-1)])


def test_activations_match_torch(rng: np.random.Generator) -> None:
    torch = oracle("torch")
    F = torch.nn.functional
    x = rng.uniform(-8, 8, 40)
    pairs = [(nn.relu6, F.relu6), (nn.elu, F.elu), (nn.silu, F.silu), (nn.softplus, F.softplus),
             (lambda x: nn.gelu(x, approximate=False), F.gelu), (nn.gelu,
                                 lambda t: F.gelu(t, approximate="tanh")),
             (lambda x: nn.leaky_relu(x, 0.1), lambda t: F.leaky_relu(t, 0.1))]
    for ours, theirs in pairs:
        t = torch.tensor(x, requires_grad=True)
        theirs(t).sum().backward()
        np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-7,
                                   atol=1e-12)
        np.testing.assert_allclose(fg.grad(lambda x, ours=ours: fnp.sum(ours(x)))(x),
                                   t.grad.numpy(), rtol=1e-7, atol=1e-12)


# == softmax family ===========================================================================

def test_softmax_family_is_stable_at_1e4() -> None:
    z = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, 0.0]])
    p = nn.softmax(z)
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1]], atol=1e-15)
    lp = nn.log_softmax(z)
    np.testing.assert_allclose(lp, [[0, -1e4, -2e4], [-math.log(3)] * 3, [-1e4, -1e4, 0]],
                               rtol=1e-15, atol=1e-12)
    np.testing.assert_allclose(nn.logsumexp(z, axis=1), [1e4, 1e4 + math.log(3), 0.0],
                               rtol=1e-15)
    for fn in (nn.softmax, nn.log_softmax, lambda z: nn.logsumexp(z, axis=1)):
        c = np.arange(fn(z).size).reshape(fn(z).shape)
        g = fg.grad(lambda z, fn=fn, c=c: fnp.sum(fn(z) * c))(z)
        assert np.all(np.isfinite(g))


def test_logsumexp_rows_of_minus_infinity() -> None:
    z = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer here
        np.testing.assert_array_equal(nn.logsumexp(z, axis=1), [-np.inf, 0.0])
        assert nn.logsumexp(z).shape == ()
        assert nn.logsumexp(z, axis=(0, 1), keepdims=True).shape == (1, 1)


def test_softmax_gradient_closed_form(rng: np.random.Generator) -> None:
    # d/dz sum(c * softmax(z)) = p * (c - p.c): the max shift carries no gradient.
    z, c = rng.standard_normal(6) * 3, rng.standard_normal(6)
    p = np.exp(z - z.max())
    p /= p.sum()
    np.testing.assert_allclose(fg.grad(lambda z: fnp.sum(c * nn.softmax(z)))(z),
                               p * (c - p @ c), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fg.grad(lambda z: nn.logsumexp(z))(z), p, rtol=1e-13)


def test_softmax_family_grads_order2(rng: np.random.Generator) -> None:
    z = rng.standard_normal((3, 4)) * 2
    for fn in (nn.softmax, nn.log_softmax, lambda z: nn.logsumexp(z, axis=0),
               lambda z: nn.softmax(z, axis=(0, 1))):
        check_grads(fn, (z,), order=2, modes=("rev", "fwd"))


# == losses ===================================================================================

def test_cross_entropy_integer_and_one_hot_labels_agree(rng: np.random.Generator) -> None:
    logits, labels = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, 5)
    lp = logits - logits.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    want = -lp[np.arange(5), labels].mean()
    np.testing.assert_allclose(nn.cross_entropy(logits, labels), want, rtol=1e-14)
    np.testing.assert_allclose(nn.cross_entropy(logits, np.eye(4)[labels]), want, rtol=1e-14)
    per = nn.cross_entropy(logits, labels, reduction="none")
    assert per.shape == (5,)
    np.testing.assert_allclose(nn.cross_entropy(logits, labels, reduction="sum"), per.sum())
    g = fg.grad(nn.cross_entropy)(logits, labels)
    p = np.exp(lp)
    np.testing.assert_allclose(g, (p - np.eye(4)[labels]) / 5, rtol=1e-13, atol=1e-16)
    check_grads(lambda z: nn.cross_entropy(z, labels), (logits,), order=2, modes=("rev", "fwd"))
    soft = rng.dirichlet(np.ones(4), 5)
    check_grads(nn.cross_entropy, (logits, soft), order=2, modes=("rev", "fwd"))


def test_cross_entropy_is_stable_at_1e4() -> None:
    logits = np.array([[1e4, -1e4], [-1e4, 1e4]])
    np.testing.assert_allclose(nn.cross_entropy(logits, np.array([0, 0])), 1e4, rtol=1e-15)
    g = fg.grad(nn.cross_entropy)(logits, np.array([0, 0]))
    np.testing.assert_allclose(g, [[0, 0], [-0.5, 0.5]], atol=1e-15)


def test_losses_match_torch(rng: np.random.Generator) -> None:
    torch = oracle("torch")
    F = torch.nn.functional
    logits, labels = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    img_logits, img_labels = rng.standard_normal((2, 3, 4, 4)), rng.integers(0, 3, (2, 4, 4))
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    probs = rng.uniform(0, 1, (4, 3))
    cases = [
        (lambda z: nn.cross_entropy(z, labels),
         lambda z: F.cross_entropy(z, torch.tensor(labels)), logits),
        (lambda z: nn.cross_entropy(z, img_labels, axis=1),
         lambda z: F.cross_entropy(z, torch.tensor(img_labels)), img_logits),
        (lambda z: nn.binary_cross_entropy_with_logits(z, probs),
         lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(probs)), p * 5),
        (lambda a: nn.mse(a, t), lambda a: F.mse_loss(a, torch.tensor(t)), p),
        (lambda a: nn.l1_loss(a, t), lambda a: F.l1_loss(a, torch.tensor(t)), p),
        (lambda a: nn.huber_loss(a, t, 0.7),
         lambda a: F.huber_loss(a, torch.tensor(t), delta=0.7), p),
    ]
    for ours, theirs, x in cases:
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward()
        np.testing.assert_allclose(ours(x), ty.item(), rtol=1e-12)
        np.testing.assert_allclose(fg.grad(ours)(x), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_regression_losses_grads_order2(rng: np.random.Generator) -> None:
    p, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    d = rng.uniform(0.1, 0.6, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    check_grads(nn.mse, (p, t), order=2, modes=("rev", "fwd"))
    check_grads(lambda a: nn.l1_loss(a + d, a), (p,), order=2, modes=("rev", "fwd"))
    check_grads(lambda e: nn.huber_loss(e, 0.0), (d,), order=2, modes=("rev", "fwd"))
    check_grads(lambda e: nn.huber_loss(e * 5, 0.0), (d,), order=2, modes=("rev", "fwd"))
    check_grads(nn.binary_cross_entropy_with_logits, (p * 3, rng.uniform(0, 1, (3, 4))),
                order=2, modes=("rev", "fwd"))
    with pytest.raises(ValueError, match="reduction"):
        nn.mse(p, t, reduction="avg")


def test_bce_with_logits_is_exact_at_zero_and_stable() -> None:
    g = fg.grad(lambda z: nn.binary_cross_entropy_with_logits(z, np.array([1.0])))(np.zeros(1))
    np.testing.assert_allclose(g, [-0.5])
    big = nn.binary_cross_entropy_with_logits(np.array([1e4, -1e4]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(big, 1e4)


# == dense, flatten, one_hot ==================================================================

def test_dense_and_flatten(rng: np.random.Generator) -> None:
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(nn.dense(x, w, b), x @ w + b, rtol=1e-14)
    np.testing.assert_allclose(nn.dense(x, w), x @ w, rtol=1e-14)
    # The seed's dense rules: dx = dz W^T, dW = x^T dz, db = sum dz.
    dz = rng.standard_normal((4, 2))
    _, f_vjp = fg.vjp(nn.dense, x, w, b)
    dx, dw, db = f_vjp(dz)
    np.testing.assert_allclose(dx, dz @ w.T, rtol=1e-14)
    np.testing.assert_allclose(dw, x.T @ dz, rtol=1e-14)
    np.testing.assert_allclose(db, dz.sum(0), rtol=1e-14)
    check_grads(nn.dense, (x, w, b), order=2, modes=("rev", "fwd"))
    assert nn.flatten(np.ones((2, 3, 4, 5))).shape == (2, 60)
    assert nn.flatten(np.ones((2, 3, 4, 5)), start_axis=2).shape == (2, 3, 20)
    y = fg.grad(lambda x: fnp.sum(nn.flatten(x) * np.arange(60.0)))(np.ones((1, 3, 4, 5)))
    np.testing.assert_array_equal(y.reshape(-1), np.arange(60.0))


def test_one_hot() -> None:
    np.testing.assert_array_equal(nn.one_hot(np.array([0, 2, 5, -1]), 3),
                                  [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert nn.one_hot(np.array([[1, 0]]), 4, axis=0).shape == (4, 1, 2)
    assert nn.one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32
    got = fg.vmap(lambda y: nn.one_hot(y, 3))(np.array([[0, 1], [2, 2]]))
    np.testing.assert_array_equal(got, np.eye(3)[np.array([[0, 1], [2, 2]])])


# == normalisation ============================================================================

def test_batch_norm_matches_torch(rng: np.random.Generator) -> None:
    torch = oracle("torch")
    x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
    scale, bias = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    for train in (True, False):
        t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
        tx, ts, tb = (torch.tensor(a, requires_grad=True) for a in (x, scale, bias))
        ty = torch.nn.functional.batch_norm(tx, t_rm, t_rv, ts, tb, training=train,
                                            momentum=0.2, eps=1e-4)
        ct = rng.standard_normal(x.shape)
        ty.backward(torch.tensor(ct))

        def f(x: Any, s: Any, b: Any, train: bool = train) -> Any:
            return nn.batch_norm(x, s, b, rm, rv, train=train, momentum=0.2, eps=1e-4)

        (y, new_m, new_v), f_vjp = fg.vjp(f, x, scale, bias)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(new_m, t_rm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(new_v, t_rv.numpy(), rtol=1e-12)
        grads = f_vjp((ct, np.zeros(3), np.zeros(3)))
        for g, t in zip(grads, (tx, ts, tb), strict=True):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_batch_norm_train_statistics_and_grads(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 2, 3)) * 3 + 2
    y, m, v = nn.batch_norm(x, None, None, np.zeros(2), np.ones(2), train=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-5)
    np.testing.assert_allclose(m, 0.1 * x.mean(axis=(0, 2)), rtol=1e-14)
    np.testing.assert_allclose(v, 0.9 + 0.1 * x.var(axis=(0, 2), ddof=1), rtol=1e-14)
    y_eval, m_eval, v_eval = nn.batch_norm(x, None, None, m, v, train=False)
    assert m_eval is m and v_eval is v
    np.testing.assert_allclose(y_eval, (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5))
    s, b = rng.standard_normal(2), rng.standard_normal(2)
    check_grads(lambda x, s, b: nn.batch_norm(x, s, b, m, v, train=True)[0], (x, s, b),
                order=2, modes=("rev", "fwd"))


def test_layer_norm(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4, 5)) * 2 + 1
    s, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y = nn.layer_norm(x, s, b)
    mu, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5) * s + b, rtol=1e-12)
    y_last = nn.layer_norm(x)
    np.testing.assert_allclose(y_last.mean(axis=-1), 0, atol=1e-14)
    np.testing.assert_allclose(nn.layer_norm(x, axes=(0,)).mean(axis=0), 0, atol=1e-14)
    check_grads(nn.layer_norm, (x, s, b), order=2, modes=("rev", "fwd"))
    torch = oracle("torch")
    want = torch.nn.functional.layer_norm(torch.tensor(x), (4, 5), torch.tensor(s),
                                          torch.tensor(b)).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)


# == dropout ==================================================================================

def test_dropout(rng: np.random.Generator) -> None:
    x = rng.standard_normal((50, 40))
    k3, k4 = fg.random.key(3), fg.random.key(4)
    y = nn.dropout(k3, x, 0.25)
    np.testing.assert_array_equal(y, nn.dropout(k3, x, 0.25))          # same key, same mask
    assert not np.array_equal(y, nn.dropout(k4, x, 0.25))
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-15)
    np.testing.assert_array_equal(nn.dropout(k3, x, 0.25, train=False), x)
    np.testing.assert_array_equal(nn.dropout(k3, x, 0.0), x)
    np.testing.assert_array_equal(nn.dropout(k3, x, 1.0), np.zeros_like(x))
    g = fg.grad(lambda x: fnp.sum(nn.dropout(k3, x, 0.25)))(x)
    np.testing.assert_allclose(g, kept / 0.75, rtol=1e-15)
    assert nn.dropout(k3, x.astype(np.float32), 0.5).dtype == np.float32
    # one mask per example when the keys are mapped too; equal to the loop
    keys = fg.random.split(k3, 5)
    xs = rng.standard_normal((5, 7))
    got = fg.vmap(nn.dropout, (0, 0, None))(keys, xs, 0.5)
    np.testing.assert_array_equal(got, np.stack([nn.dropout(k, xi, 0.5) for k, xi in
                                                 zip(keys, xs, strict=True)]))
    with pytest.raises(ValueError, match="rate"):
        nn.dropout(k3, x, 1.5)
    with pytest.raises(TypeError, match="key"):
        nn.dropout(0, x, 0.5)


# == a small CNN end to end ===================================================================

def test_small_cnn_loss_grads_and_per_example_grads(rng: np.random.Generator) -> None:
    params = {"w1": rng.standard_normal((4, 1, 3, 3)) * 0.5, "b1": np.zeros(4),
              "w2": rng.standard_normal((4 * 3 * 3, 3)) * 0.3, "b2": np.zeros(3)}
    x, y = rng.standard_normal((5, 1, 6, 6)), rng.integers(0, 3, 5)

    def loss(p: Any, x: Any, y: Any) -> Any:
        h = nn.relu(nn.conv(x, p["w1"], p["b1"], padding=1))
        h = nn.max_pool(h, 2)
        h = nn.dense(nn.flatten(h), p["w2"], p["b2"])
        return nn.cross_entropy(h, y)

    g = fg.grad(loss)(params, x, y)
    assert set(g) == set(params) and all(g[k].shape == params[k].shape for k in params)
    check_grads(lambda w1, w2: loss({**params, "w1": w1, "w2": w2}, x, y),
                (params["w1"], params["w2"]), order=1, modes=("rev", "fwd"))
    per = fg.vmap(fg.grad(lambda p, x, y: loss(p, x[None], y[None])),
                  in_axes=(None, 0, 0))(params, x, y)
    for k in params:
        np.testing.assert_allclose(per[k].mean(0), g[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_dense_lax_path_is_bitwise_the_fnp_composite(dtype, x_shape, with_bias):
    # nn.dense binds the primitives of fnp.matmul(x, w) + b directly when no promotion is
    # needed: the same bits in eager, grad, jit and vmap; mixed dtypes take the fnp path.
    rng = np.random.default_rng(31)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((4, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype) if with_bias else None

    def ref(x, w, b):
        y = fnp.matmul(x, w)
        return y if b is None else y + b

    def loss(f):
        return lambda x, w, b: fnp.sum(fnp.sin(f(x, w, b)))

    def bits(a):
        return np.asarray(a).view(np.uint8)

    from funcgrad.nn import layers
    assert layers._dense_lax(x, w, b) is not None
    argnums = (0, 1, 2) if with_bias else (0, 1)
    for got, want in [
            (nn.dense(x, w, b), ref(x, w, b)),
            (fg.jit(nn.dense)(x, w, b), ref(x, w, b)),
            (fg.grad(loss(nn.dense), argnums)(x, w, b), fg.grad(loss(ref), argnums)(x, w, b)),
            (fg.vmap(nn.dense, (0, None, None))(np.stack([x, 2 * x]), w, b),
             fg.vmap(ref, (0, None, None))(np.stack([x, 2 * x]), w, b))]:
        for g, r in zip(fg.tree_util.tree_leaves(got), fg.tree_util.tree_leaves(want),
                        strict=True):
            assert np.asarray(g).dtype == np.asarray(r).dtype and np.array_equal(bits(g), bits(r))
    # mixed dtypes and vector inputs keep the promoting composite
    assert layers._dense_lax(x.astype(np.float64), w.astype(np.float32), None) is None
    v = x.reshape(-1)[:4]
    assert layers._dense_lax(v, w, b) is None
    assert np.array_equal(nn.dense(v, w, b), ref(v, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_conv_bias_is_bitwise_the_reshaped_broadcasting_add(dtype, nsp):
    # nn.conv adds a (C,) bias of y's dtype by one broadcast_in_dim: the same bits as
    # y + reshape(b, (1, C, 1...)) in eager, grad and jit.
    rng = np.random.default_rng(32)
    x = rng.standard_normal((2, 3, *(6,) * nsp)).astype(dtype)
    w = rng.standard_normal((4, 3, *(3,) * nsp)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)

    def ref(x, w, b):
        return nn.conv(x, w, padding=1) + fnp.reshape(b, (1, -1) + (1,) * nsp)

    def mine(x, w, b):
        return nn.conv(x, w, b, padding=1)

    def loss(f):
        return lambda x, w, b: fnp.sum(fnp.sin(f(x, w, b)))

    for got, want in [(mine(x, w, b), ref(x, w, b)),
                      (fg.jit(mine)(x, w, b), ref(x, w, b)),
                      *zip(fg.grad(loss(mine), (0, 1, 2))(x, w, b),
                           fg.grad(loss(ref), (0, 1, 2))(x, w, b), strict=True)]:
        assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8),
                                                           want.view(np.uint8))
