"""grad/vjp/value_and_grad, jvp/linearize, Jacobians, vmap, custom rules, checkpoint."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.lax.dot import dot_general_p
from funcgrad.test_util import check_grads
from funcgrad.transforms import ad
from funcgrad.transforms.ad import residual_bytes

RNG = np.random.default_rng(0)


# -- an MLP written with fg.numpy: the core issue's "done means" -------------------------------

def init_mlp(sizes, rng):
    return [{"w": rng.standard_normal((m, n)) / np.sqrt(m), "b": rng.standard_normal(n) * 0.1}
            for m, n in zip(sizes[:-1], sizes[1:], strict=True)]


def mlp_loss(params, x, y):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    shifted = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=1, keepdims=True))
    return -fnp.mean(fnp.take_along_axis(logp, y[:, None], axis=1))


def numerical_grad(f, params, eps=1e-6):
    leaves, tree = fg.tree_util.tree_flatten(params)
    grads = []
    for k, leaf in enumerate(leaves):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            plus = [v.copy() for v in leaves]
            minus = [v.copy() for v in leaves]
            plus[k][i] += eps
            minus[k][i] -= eps
            g[i] = (f(fg.tree_util.tree_unflatten(tree, plus))
                    - f(fg.tree_util.tree_unflatten(tree, minus))) / (2 * eps)
        grads.append(g)
    return fg.tree_util.tree_unflatten(tree, grads)


def test_mlp_grad_matches_finite_differences_to_1e6():
    rng = np.random.default_rng(1)
    params = init_mlp([4, 5, 3], rng)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    grads = fg.grad(mlp_loss)(params, x, y)
    expected = numerical_grad(lambda p: float(mlp_loss(p, x, y)), params)
    for g, e in zip(fg.tree_util.tree_leaves(grads), fg.tree_util.tree_leaves(expected),
                    strict=True):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e, atol=1e-6, rtol=1e-6)


def test_float32_mlp_stays_float32():
    rng = np.random.default_rng(2)
    params = fg.tree_util.tree_map(lambda a: a.astype(np.float32), init_mlp([4, 3], rng))
    x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
    loss, grads = fg.value_and_grad(mlp_loss)(params, x, y)
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in fg.tree_util.tree_leaves(grads))


# -- reverse mode API ------------------------------------------------------------------------

def test_grad_closed_forms():
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(x ** 3))(x), 3 * x ** 2)
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(fnp.sin(x) * fnp.exp(x)))(x),
                               np.exp(x) * (np.sin(x) + np.cos(x)))
    np.testing.assert_allclose(fg.grad(lambda x: fnp.prod(x))(x), [-2.0, 1.0, -0.5])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.prod(x))(np.array([0.0, 2.0, 3.0])),
                               [6.0, 0.0, 0.0])


def test_outputs_are_plain_ndarrays():
    out = fg.grad(lambda x: fnp.sum(x * x))(np.array(3.0))
    assert type(out) is np.ndarray
    assert type(fnp.sin(np.array(1.0))) is np.ndarray
    value, grad = fg.value_and_grad(lambda x: fnp.sum(x))(np.ones(2))
    assert type(value) is np.ndarray and type(grad) is np.ndarray


def test_argnums_tuple_and_pytrees_in_and_out():
    def f(a, b, c):
        return fnp.sum(a["w"] * b[0]) + c
    a, b = {"w": np.array([1.0, 2.0])}, (np.array([3.0, 4.0]),)
    ga, gb = fg.grad(f, argnums=(0, 1))(a, b, 1.0)
    np.testing.assert_allclose(ga["w"], [3.0, 4.0])
    np.testing.assert_allclose(gb[0], [1.0, 2.0])
    np.testing.assert_allclose(fg.grad(f, argnums=-1)(a, b, np.array(1.0)), 1.0)


def test_has_aux():
    def f(x):
        return fnp.sum(x ** 2), {"norm": fnp.sqrt(fnp.sum(x ** 2))}
    (value, aux), g = fg.value_and_grad(f, has_aux=True)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(value, 25.0)
    np.testing.assert_allclose(aux["norm"], 5.0)
    assert type(aux["norm"]) is np.ndarray
    g2, aux2 = fg.grad(f, has_aux=True)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g2, [6.0, 8.0])


def test_vjp_multiple_primals_and_outputs():
    out, f_vjp = fg.vjp(lambda x, y: (x * y, fnp.sin(x)), np.array(2.0), np.array(3.0))
    np.testing.assert_allclose(out[0], 6.0)
    gx, gy = f_vjp((np.array(1.0), np.array(2.0)))
    np.testing.assert_allclose(gx, 3.0 + 2 * np.cos(2.0))
    np.testing.assert_allclose(gy, 2.0)
    gx2, _ = f_vjp((np.array(0.0), np.array(1.0)))  # vjp_fn can be called again
    np.testing.assert_allclose(gx2, np.cos(2.0))


def test_python_control_flow_under_grad():
    def f(x, n):
        y = x
        for _ in range(n):
            y = fnp.sin(y) if y > 0 else y * 2.0
        while fnp.abs(y) < 10:
            y = y * 3.0
        return y
    x = np.array(0.5)
    check_grads(lambda x: f(x, 3), (x,), order=2)


def test_reused_value_costs_linear_time():
    calls = {"n": 0}
    rule = ad.vjp_rules[fg.lax.elementwise.add_p]

    def counting(*args, **params):
        calls["n"] += 1
        return rule(*args, **params)

    ad.vjp_rules[fg.lax.elementwise.add_p] = counting
    try:
        def f(x):
            y = x
            for _ in range(16):
                y = y + y
            return fnp.sum(y)
        g = fg.grad(f)(np.array([1.0]))
    finally:
        ad.vjp_rules[fg.lax.elementwise.add_p] = rule
    np.testing.assert_allclose(g, [2.0 ** 16])
    assert calls["n"] == 16  # one rule call per recorded add: 2^16 with per-path pushing


def test_unneeded_cotangents_are_not_computed():
    seen = []
    rule = ad.vjp_rules[dot_general_p]

    def spy(ct, ans, primals, needs, **params):
        seen.append(tuple(needs))
        return rule(ct, ans, primals, needs, **params)

    ad.vjp_rules[dot_general_p] = spy
    try:
        fg.grad(lambda w, x: fnp.sum(x @ w))(np.ones((3, 2)), np.ones((4, 3)))
    finally:
        ad.vjp_rules[dot_general_p] = rule
    assert seen == [(False, True)]  # x is data: its cotangent is never formed


def test_stop_gradient():
    f = lambda x: fnp.sum(x * fg.stop_gradient(x))  # noqa: E731
    np.testing.assert_allclose(fg.grad(f)(np.array([2.0, 3.0])), [2.0, 3.0])
    np.testing.assert_allclose(fg.jvp(f, (np.array([2.0]),), (np.array([1.0]),))[1], 2.0)
    tree = fg.stop_gradient({"a": np.ones(2)})
    assert set(tree) == {"a"}


def test_higher_order_grads():
    f = lambda x: fnp.sin(x) * x ** 2  # noqa: E731
    x = np.array(0.7)
    d1 = 2 * x * np.sin(x) + x ** 2 * np.cos(x)
    d2 = 2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x)
    d3 = 6 * np.cos(x) - 6 * x * np.sin(x) - x ** 2 * np.cos(x)
    np.testing.assert_allclose(fg.grad(f)(x), d1)
    np.testing.assert_allclose(fg.grad(fg.grad(f))(x), d2)
    np.testing.assert_allclose(fg.grad(fg.grad(fg.grad(f)))(x), d3)


def test_nested_grad_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = 1 (Siskind & Pearlmutter): tags keep the two apart.
    f = lambda x: x * fg.grad(lambda y: x + y)(np.array(1.0))  # noqa: E731
    np.testing.assert_allclose(fg.grad(f)(np.array(2.0)), 1.0)
    g = lambda x: x * fg.jvp(lambda y: x + y, (np.array(1.0),), (np.array(1.0),))[1]  # noqa
    np.testing.assert_allclose(fg.jvp(g, (np.array(2.0),), (np.array(1.0),))[1], 1.0)


# -- forward mode, Jacobians -----------------------------------------------------------------

def test_jvp_and_linearize():
    f = lambda x, y: fnp.sin(x) * y  # noqa: E731
    x, y = np.array([0.3, 1.2]), np.array([2.0, -1.0])
    tx, ty = np.array([1.0, 0.5]), np.array([0.1, 0.2])
    out, t_out = fg.jvp(f, (x, y), (tx, ty))
    np.testing.assert_allclose(t_out, np.cos(x) * tx * y + np.sin(x) * ty)
    out2, f_jvp = fg.linearize(f, x, y)
    np.testing.assert_allclose(out2, out)
    np.testing.assert_allclose(f_jvp(tx, ty), t_out)


def test_linearize_stages_only_tangent_work():
    calls = []
    f = lambda x: fnp.exp(fnp.sin(x))  # noqa: E731
    _, f_jvp = fg.linearize(f, np.array(1.0))
    orig = fg.lax.elementwise.sin_p.impl
    fg.lax.elementwise.sin_p.def_impl(lambda x: calls.append(1) or orig(x))
    try:
        np.testing.assert_allclose(f_jvp(np.array(1.0)), np.cos(1.0) * np.exp(np.sin(1.0)))
    finally:
        fg.lax.elementwise.sin_p.def_impl(orig)
    assert calls == []  # the primal sin was folded at linearize time


def test_jacobians_and_hessian():
    def f(x):
        return fnp.stack([x[0] * x[1], fnp.sin(x[2]), x[0] ** 2])
    x = np.array([1.0, 2.0, 0.5])
    expected = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, np.cos(0.5)], [2.0, 0.0, 0.0]])
    np.testing.assert_allclose(fg.jacfwd(f)(x), expected)
    np.testing.assert_allclose(fg.jacrev(f)(x), expected)
    g = lambda x: fnp.sum(x ** 3) + x[0] * x[1]  # noqa: E731
    hess = np.diag(6 * x) + np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0.0]])
    np.testing.assert_allclose(fg.hessian(g)(x), hess)
    np.testing.assert_allclose(fg.jacfwd(fg.jacrev(g))(x), hess)
    np.testing.assert_allclose(fg.jacrev(fg.jacrev(g))(x), hess)
    np.testing.assert_allclose(fg.jacrev(fg.jacfwd(g))(x), hess)


def test_jacobian_pytrees_and_argnums():
    def f(a, b):
        return {"s": fnp.sum(a * b), "p": a * 2.0}
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for jac in (fg.jacfwd, fg.jacrev):
        j = jac(f, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(j["s"][0], b)
        np.testing.assert_allclose(j["s"][1], a)
        np.testing.assert_allclose(j["p"][0], 2 * np.eye(2))
        np.testing.assert_allclose(j["p"][1], np.zeros((2, 2)))
        assert jac(f)(a, b)["p"].shape == (2, 2)


def test_hvp_via_jvp_of_grad_equals_hessian_vector():
    f = lambda x: fnp.sum(fnp.tanh(x) ** 2 * x)  # noqa: E731
    x, v = RNG.standard_normal(4), RNG.standard_normal(4)
    hvp = fg.jvp(fg.grad(f), (x,), (v,))[1]
    np.testing.assert_allclose(hvp, fg.hessian(f)(x) @ v, rtol=1e-10)
    hvp_rev = fg.grad(lambda x: fnp.vdot(fg.grad(f)(x), v))(x)
    np.testing.assert_allclose(hvp_rev, hvp, rtol=1e-10)


# -- vmap ------------------------------------------------------------------------------------

def test_vmap_axes_nesting_and_out_axes():
    xs = RNG.standard_normal((3, 4, 5))
    f = lambda m: fnp.sum(fnp.tanh(m) @ m.T)  # noqa: E731
    np.testing.assert_allclose(fg.vmap(f)(xs), [f(m) for m in xs])
    np.testing.assert_allclose(fg.vmap(f, in_axes=2)(xs), [f(xs[..., i]) for i in range(5)])
    inner = fg.vmap(fg.vmap(lambda v: fnp.sum(v ** 2)))(xs)
    np.testing.assert_allclose(inner, (xs ** 2).sum(-1))
    moved = fg.vmap(lambda m: m * 2.0, out_axes=1)(xs)
    np.testing.assert_allclose(moved, np.moveaxis(xs * 2, 0, 1))
    np.testing.assert_allclose(fg.vmap(lambda v: 1.0 * np.ones(2), axis_size=3,
                                       in_axes=None)(np.ones(2)), np.ones((3, 2)))


def test_vmap_of_grad_is_per_example_gradients():
    rng = np.random.default_rng(3)
    params = init_mlp([3, 4, 2], rng)
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)

    def per_example(p, xi, yi):
        return mlp_loss(p, xi[None], yi[None])

    batched = fg.vmap(fg.grad(per_example), in_axes=(None, 0, 0))(params, x, y)
    for i in range(5):
        single = fg.grad(per_example)(params, x[i], y[i])
        for b, s in zip(fg.tree_util.tree_leaves(batched), fg.tree_util.tree_leaves(single),
                        strict=True):
            np.testing.assert_allclose(b[i], s, atol=1e-12)


def test_grad_of_vmap_and_vmap_of_jvp():
    f = lambda w, x: fnp.sum(fg.vmap(lambda xi: fnp.tanh(fnp.dot(w, xi)))(x))  # noqa: E731
    w, x = RNG.standard_normal(3), RNG.standard_normal((4, 3))
    expected = ((1 - np.tanh(x @ w) ** 2)[:, None] * x).sum(0)
    np.testing.assert_allclose(fg.grad(f)(w, x), expected)
    tangents = fg.vmap(lambda t: fg.jvp(fnp.sin, (w,), (t,))[1])(np.eye(3))
    np.testing.assert_allclose(tangents, np.diag(np.cos(w)))


# -- custom rules and checkpoint -------------------------------------------------------------

def test_custom_vjp_composes():
    @fg.custom_vjp
    def f(x):
        return fnp.sin(x)

    def f_fwd(x):
        return fnp.sin(x), fnp.cos(x)

    def f_bwd(cos_x, g):
        return (2.0 * cos_x * g,)  # deliberately twice the true derivative

    f.defvjp(f_fwd, f_bwd)
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(f(x), np.sin(x))
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(f(x)))(x), 2 * np.cos(x))
    per_example = fg.vmap(fg.grad(lambda x: f(x)))(x)
    np.testing.assert_allclose(per_example, 2 * np.cos(x))
    through_vmap = fg.grad(lambda x: fnp.sum(fg.vmap(f)(x)))(x)
    np.testing.assert_allclose(through_vmap, 2 * np.cos(x))


def test_custom_jvp_in_both_modes():
    @fg.custom_jvp
    def safe_log1pexp(x):
        return fnp.log1p(fnp.exp(x))

    @safe_log1pexp.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return safe_log1pexp(x), t * (1 - 1 / (1 + fnp.exp(x)))

    x = np.array([-2.0, 0.0, 3.0])
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(fg.jvp(safe_log1pexp, (x,), (np.ones(3),))[1], sig)
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(safe_log1pexp(x)))(x), sig)
    np.testing.assert_allclose(fg.vmap(fg.grad(safe_log1pexp))(x), sig)
    np.testing.assert_allclose(fg.grad(fg.grad(lambda x: safe_log1pexp(x)))(np.array(0.0)),
                               0.25)


def test_checkpoint_recomputes_and_saves_residuals():
    def chain(x):
        for _ in range(10):
            x = fnp.sin(x)
        return fnp.sum(x)
    x = RNG.standard_normal(1000)
    np.testing.assert_allclose(fg.grad(fg.checkpoint(chain))(x), fg.grad(chain)(x))
    plain, remat = residual_bytes(chain, x), residual_bytes(fg.checkpoint(chain), x)
    assert plain >= 10 * x.nbytes
    assert remat <= 2 * x.nbytes
    assert fg.remat is fg.checkpoint
    second = fg.grad(lambda x: fnp.sum(fg.grad(fg.checkpoint(chain))(x)))(x[:3])
    np.testing.assert_allclose(second, fg.grad(lambda x: fnp.sum(fg.grad(chain)(x)))(x[:3]))


def test_results_are_writable_and_never_alias_inputs():
    g = fg.grad(lambda x: fnp.sum(x))(np.ones(3))
    g *= 2.0  # a read-only broadcast view would raise here
    np.testing.assert_allclose(g, [2.0, 2.0, 2.0])
    ct = np.ones(3)
    assert fg.vjp(lambda x: x + 1.0, np.zeros(3))[1](ct)[0] is not ct
    t = np.ones(2)
    assert fg.jvp(lambda x: x, (np.zeros(2),), (t,))[1] is not t


def test_vjp_fn_takes_a_python_scalar_cotangent_in_the_outputs_dtype():
    # a weakly typed Python scalar, as JAX takes it (it used to fail inside a VJP rule)
    for dtype in (np.float64, np.float32):
        w = np.arange(3.0, dtype=dtype)
        _, f = fg.vjp(lambda w: fnp.sum(w ** 2), w)
        (g,) = f(1.0)
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, 2 * w)
        (g2,) = f(2)
        np.testing.assert_array_equal(g2, 4 * w)
    _, f = fg.vjp(lambda w: w ** 2, np.arange(3.0))
    with pytest.raises(ValueError, match=r"cotangent has shape \(\) but the primal output has "
                                          r"shape \(3,\)"):
        f(1.0)


def test_vmap_and_vmap_of_grad_leave_no_reference_cycle():
    # in_axes used to be expanded by a closure that referred to itself: a cycle per call
    import gc
    rng = np.random.default_rng(15)
    w, xs = rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 3))

    def loss(w, x):
        return fnp.sum(fg.nn.relu(x @ w) ** 2)

    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0))
    batched = fg.vmap(lambda d: fnp.sin(d["a"]) * 2.0, in_axes=({"a": 0},))
    for f, args in ((per_example, (w, xs)), (batched, ({"a": xs},))):
        f(*args)
        gc.collect()
        gc.disable()
        try:
            f(*args)
            assert gc.collect() == 0
        finally:
            gc.enable()
