"""cond, switch, while_loop, fori_loop, scan and map: values against Python/NumPy loops,
derivatives against finite differences (both modes, order 2), staged programs against eager
ones, and vmap against a loop, including per-example predicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_specs import staged

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core import eval_jaxpr
from funcgrad.core.errors import ConcretizationTypeError
from funcgrad.core.pytree import tree_leaves
from funcgrad.test_util import check_grads


def prims(fun: Callable[..., Any], *args: Any) -> list[str]:
    return [e.primitive.name for e in fg.make_jaxpr(fun)(*args).eqns]


def assert_tree_close(got: Any, want: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    g, w = tree_leaves(got), tree_leaves(want)
    assert len(g) == len(w)
    for a, b in zip(g, w, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


X3 = np.array([0.3, -0.7, 1.1])


def two_way(p: Any, x: Any) -> Any:
    return lax.cond(p > 0, lambda x: fnp.sin(x) * x, lambda x: fnp.cos(x) + x ** 2, x)


def two_way_ref(p: float, x: np.ndarray) -> np.ndarray:
    return np.sin(x) * x if p > 0 else np.cos(x) + x ** 2


# == cond and switch ==========================================================================

@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_values_eager_and_staged(p: float) -> None:
    want = two_way_ref(p, X3)
    np.testing.assert_allclose(two_way(p, X3), want, rtol=1e-15)
    np.testing.assert_allclose(staged(two_way)(p, X3), want, rtol=1e-15)
    assert "cond" in prims(two_way, p, X3)


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_grads_eager_and_staged(p: float) -> None:
    check_grads(lambda x: two_way(p, x), (X3,), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: staged(two_way)(np.float64(p), x), (X3,), order=2,
                modes=("fwd", "rev"))


def test_cond_closed_form_grad() -> None:
    g = fg.grad(lambda x: fnp.sum(two_way(1.0, x)))(X3)
    np.testing.assert_allclose(g, np.cos(X3) * X3 + np.sin(X3), rtol=1e-14)
    g = fg.grad(lambda x: fnp.sum(two_way(-1.0, x)))(X3)
    np.testing.assert_allclose(g, -np.sin(X3) + 2 * X3, rtol=1e-14)


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_grad_and_jvp_of_staged_cond_with_traced_predicate(p: float) -> None:
    # make_jaxpr(grad(f)) stages the VJP rule of cond (the predicate is abstract there).
    loss = lambda p, x: fnp.sum(two_way(p, x) ** 2)  # noqa: E731
    gj = fg.make_jaxpr(fg.grad(loss, 1))(1.0, X3)
    assert sum(e.primitive.name == "cond" for e in gj.eqns) == 2
    np.testing.assert_allclose(eval_jaxpr(gj.jaxpr, gj.consts, p, X3)[0],
                               fg.grad(loss, 1)(p, X3), rtol=1e-14)
    t = np.array([1.0, 2.0, -1.0])
    jj = fg.make_jaxpr(lambda p, x, t: fg.jvp(lambda x: two_way(p, x), (x,), (t,)))(1.0, X3, t)
    assert_tree_close(eval_jaxpr(jj.jaxpr, jj.consts, p, X3, t),
                      fg.jvp(lambda x: two_way(p, x), (X3,), (t,)), rtol=1e-14)


def test_grad_of_staged_cond_via_eval_jaxpr() -> None:
    closed = fg.make_jaxpr(lambda p, x: fnp.sum(two_way(p, x)))(1.0, X3)

    def f(p: Any, x: Any) -> Any:
        return eval_jaxpr(closed.jaxpr, closed.consts, p, x)[0]

    for p in (1.0, -1.0):
        np.testing.assert_allclose(fg.grad(f, 1)(p, X3),
                                   fg.grad(lambda p, x: fnp.sum(two_way(p, x)), 1)(p, X3),
                                   rtol=1e-14)
    np.testing.assert_allclose(fg.hessian(lambda x: f(1.0, x))(X3),
                               np.diag(2 * np.cos(X3) - X3 * np.sin(X3)), atol=1e-14)


def test_vmap_cond_batched_predicate_equals_loop() -> None:
    ps = np.array([1.0, -1.0, 2.0, -0.5])
    xs = np.random.default_rng(0).normal(size=(4, 3))
    got = fg.vmap(two_way)(ps, xs)
    np.testing.assert_allclose(got, np.stack([two_way_ref(p, x) for p, x in zip(ps, xs,
                                                                                strict=True)]),
                               rtol=1e-15)
    got = fg.vmap(two_way, in_axes=(0, None))(ps, X3)
    np.testing.assert_allclose(got, np.stack([two_way_ref(p, X3) for p in ps]), rtol=1e-15)
    got = fg.vmap(two_way, in_axes=(None, 1), out_axes=1)(-1.0, xs.T)
    np.testing.assert_allclose(got, two_way_ref(-1.0, xs.T), rtol=1e-15)


def test_vmap_of_grad_and_jvp_through_batched_cond() -> None:
    ps = np.array([1.0, -1.0, 2.0])
    loss = lambda p, x: fnp.sum(two_way(p, x) ** 2)  # noqa: E731
    got = fg.vmap(fg.grad(loss, 1), in_axes=(0, None))(ps, X3)
    np.testing.assert_allclose(got, np.stack([fg.grad(loss, 1)(p, X3) for p in ps]),
                               rtol=1e-14)
    got = fg.grad(lambda x: fnp.sum(fg.vmap(loss, in_axes=(0, None))(ps, x)))(X3)
    np.testing.assert_allclose(got, sum(fg.grad(loss, 1)(p, X3) for p in ps), rtol=1e-14)
    t = np.ones(3)
    got = fg.vmap(lambda p: fg.jvp(lambda x: two_way(p, x), (X3,), (t,))[1])(ps)
    want = np.stack([fg.jvp(lambda x, p=p: two_way(p, x), (X3,), (t,))[1] for p in ps])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    hess = lambda p: fg.hessian(loss, 1)(p, X3)  # noqa: E731
    np.testing.assert_allclose(fg.vmap(hess)(ps), np.stack([hess(p) for p in ps]), rtol=1e-13)


def test_cond_closure_over_batched_and_differentiated_values() -> None:
    def f(p: Any, x: Any, y: Any) -> Any:
        return lax.cond(p > 0, lambda x: x * y, lambda x: x + y, x)

    ps = np.array([1.0, -1.0])
    ys = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = fg.vmap(f, in_axes=(0, None, 0))(ps, X3, ys)
    np.testing.assert_allclose(got, [X3 * ys[0], X3 + ys[1]])
    g = fg.vmap(fg.grad(lambda p, x, y: fnp.sum(f(p, x, y) ** 2), 2), in_axes=(0, None, 0))
    np.testing.assert_allclose(g(ps, X3, ys), [2 * X3 * ys[0] * X3, 2 * (X3 + ys[1])])


def test_cond_pytree_operands_and_outputs() -> None:
    def f(p: Any, tree: dict[str, Any]) -> Any:
        return lax.cond(p, lambda t: (t["a"] * 2, [t["b"]]),
                        lambda t: (t["a"] - 1, [t["b"] * t["a"][0]]), tree)

    tree = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
    out = fg.vmap(f, in_axes=(0, None))(np.array([True, False]), tree)
    np.testing.assert_allclose(out[0], [[2.0, 4.0], [0.0, 1.0]])
    np.testing.assert_allclose(out[1][0], [3.0, 3.0])
    assert_tree_close(staged(f)(np.array(False), tree), f(False, tree))


def test_cond_weak_typed_branch_output_is_promoted() -> None:
    x = np.array([1.0, 2.0], np.float32)
    f = lambda p, x: lax.cond(p, lambda x: x[0], lambda x: 0.0, x)  # noqa: E731
    out = fg.vmap(f, in_axes=(0, None))(np.array([True, False]), x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 0.0])


def test_cond_mismatched_branches_raise() -> None:
    f = lambda p, x: lax.cond(p, lambda x: x, lambda x: x[:2], x)  # noqa: E731
    with pytest.raises(TypeError, match="identical types"):
        fg.make_jaxpr(f)(True, X3)
    g = lambda p, x: lax.cond(p, lambda x: (x, x), lambda x: x, x)  # noqa: E731
    with pytest.raises(TypeError, match="pytree structure"):
        fg.make_jaxpr(g)(True, X3)
    with pytest.raises(TypeError, match="scalar"):
        lax.cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)


def test_cond_printout_shows_both_branches() -> None:
    text = str(fg.make_jaxpr(two_way)(1.0, X3))
    assert "cond[branches=(" in text
    assert text.count("lambda") == 3  # the outer jaxpr and one per branch
    assert "sin" in text and "cos" in text and "integer_pow" in text


def test_batched_predicate_in_python_if_raises() -> None:
    def f(p: Any, x: Any) -> Any:
        return x if p > 0 else -x

    with pytest.raises(ConcretizationTypeError, match="fg.lax.cond"):
        fg.vmap(f)(np.array([1.0, -1.0]), np.array([1.0, 2.0]))


SWITCH_FNS = [lambda x: x + 1.0, lambda x: x * fnp.sin(x), lambda x: fnp.exp(-x)]


def switch_ref(i: int, x: np.ndarray) -> np.ndarray:
    i = min(max(i, 0), 2)
    return [x + 1.0, x * np.sin(x), np.exp(-x)][i]


@pytest.mark.parametrize("i", [-3, 0, 1, 2, 9])
def test_switch_clamps_eager_staged_and_batched(i: int) -> None:
    f = lambda i, x: lax.switch(i, SWITCH_FNS, x)  # noqa: E731
    np.testing.assert_allclose(f(i, X3), switch_ref(i, X3), rtol=1e-15)
    np.testing.assert_allclose(staged(f)(np.array(i), X3), switch_ref(i, X3), rtol=1e-15)
    check_grads(lambda x: staged(f)(np.array(i), x), (X3,), order=2)


def test_switch_vmap_and_grad() -> None:
    f = lambda i, x: lax.switch(i, SWITCH_FNS, x)  # noqa: E731
    idx = np.array([-1, 0, 1, 2, 5])
    xs = np.linspace(0.1, 0.9, 5)
    np.testing.assert_allclose(fg.vmap(f)(idx, xs),
                               [switch_ref(i, x) for i, x in zip(idx, xs, strict=True)], rtol=1e-15)
    g = fg.vmap(fg.grad(f, 1))(idx, xs)
    want = [fg.grad(lambda x, i=i: f(i, x))(x) for i, x in zip(idx, xs, strict=True)]
    np.testing.assert_allclose(g, want, rtol=1e-14)
    with pytest.raises(TypeError, match="integer"):
        lax.switch(1.0, SWITCH_FNS, X3)


# == while_loop ===============================================================================

def count_up(n: Any, x: Any) -> Any:
    return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * x + 1.0),
                          (0, fnp.ones_like(x)))


def count_up_ref(n: int, x: np.ndarray) -> tuple[int, np.ndarray]:
    i, v = 0, np.ones_like(x)
    while i < n:
        i, v = i + 1, v * x + 1.0
    return i, v


def test_while_loop_values_and_staging() -> None:
    i, v = count_up(4, X3)
    ri, rv = count_up_ref(4, X3)
    assert i == ri and i.dtype == np.int64
    np.testing.assert_allclose(v, rv, rtol=1e-15)
    assert_tree_close(staged(count_up)(np.array(4), X3), (ri, rv))
    assert prims(count_up, 4, X3) == ["while"]


def test_while_loop_forward_mode() -> None:
    check_grads(lambda x: count_up(3, x)[1], (X3,), order=2, modes=("fwd",))
    _, t = fg.jvp(lambda x: count_up(3, x)[1], (X3,), (np.ones(3),))
    np.testing.assert_allclose(t, 3 * X3 ** 2 + 2 * X3 + 1, rtol=1e-14)  # d(x^3+x^2+x+1)
    jac = fg.jacfwd(lambda x: count_up(3, x)[1])(X3)
    np.testing.assert_allclose(jac, np.diag(3 * X3 ** 2 + 2 * X3 + 1), rtol=1e-14)


def test_while_loop_reverse_mode_raises() -> None:
    with pytest.raises(TypeError, match="Reverse-mode differentiation does not work for "
                                        "lax.while_loop"):
        fg.grad(lambda x: fnp.sum(count_up(3, x)[1]))(X3)
    # also when the loop is only met inside a staged program
    closed = fg.make_jaxpr(lambda x: fnp.sum(count_up(3, x)[1]))(X3)
    with pytest.raises(TypeError, match="scan"):
        fg.grad(lambda x: eval_jaxpr(closed.jaxpr, closed.consts, x)[0])(X3)


def test_while_loop_vmap_batched_and_unbatched_predicate() -> None:
    ns = np.array([0, 3, 1, 5])
    xs = np.random.default_rng(1).uniform(-1, 1, size=(4, 3))
    i, v = fg.vmap(count_up)(ns, xs)
    refs = [count_up_ref(n, x) for n, x in zip(ns, xs, strict=True)]
    np.testing.assert_array_equal(i, [r[0] for r in refs])
    np.testing.assert_allclose(v, [r[1] for r in refs], rtol=1e-15)
    i, v = fg.vmap(count_up, in_axes=(None, 0))(3, xs)  # predicate shared by all examples
    np.testing.assert_array_equal(i, [3, 3, 3, 3])
    np.testing.assert_allclose(v, [count_up_ref(3, x)[1] for x in xs], rtol=1e-15)
    i, v = fg.vmap(count_up, in_axes=(0, None))(np.zeros(0, np.int64), X3)  # empty batch
    assert i.shape == (0,) and v.shape == (0, 3)
    jac = fg.vmap(fg.jacfwd(lambda n, x: count_up(n, x)[1], 1))(ns, xs)
    want = [np.diag(sum((k * x ** (k - 1) for k in range(1, n + 1)), np.zeros(3)))
            for n, x in zip(ns, xs, strict=True)]
    np.testing.assert_allclose(jac, want, rtol=1e-13, atol=1e-15)


def test_while_loop_errors() -> None:
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c - 1.0, np.array(3.0))
    with pytest.raises(TypeError, match="identical types"):
        lax.while_loop(lambda c: c.sum() < 3.0, lambda c: fnp.concatenate([c, c]), np.ones(1))
    with pytest.raises(TypeError, match="structure"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: c[0] + 1, (0, 1.0))


def test_while_loop_weak_carry_is_promoted() -> None:
    # A Python-scalar init is weakly typed: it takes the dtype the body gives it (as JAX).
    x = np.array(0.5, np.float32)
    i, v = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, fnp.sin(x)), (0, 0.0))
    assert v.dtype == np.float32 and v == np.sin(x) and i == 3


# == fori_loop ================================================================================

def horner(x: Any) -> Any:
    return lax.fori_loop(0, 4, lambda i, v: v * x + fnp.sin(v) + i, fnp.ones_like(x))


def horner_ref(x: np.ndarray) -> np.ndarray:
    v = np.ones_like(x)
    for i in range(4):
        v = v * x + np.sin(v) + i
    return v


def test_fori_loop_values_eager_staged_batched() -> None:
    np.testing.assert_allclose(horner(X3), horner_ref(X3), rtol=1e-15)
    assert prims(horner, X3) == ["scan"]  # a static trip count stays a scan when staged
    np.testing.assert_allclose(staged(horner)(X3), horner_ref(X3), rtol=1e-15)
    xs = np.random.default_rng(2).normal(size=(5, 3))
    np.testing.assert_allclose(fg.vmap(horner)(xs), horner_ref(xs), rtol=1e-14)
    assert lax.fori_loop(3, 1, lambda i, v: v + i, 7) == 7  # empty range


def test_fori_loop_grads() -> None:
    check_grads(horner, (X3,), order=2, modes=("fwd", "rev"))
    check_grads(staged(horner), (X3,), order=2, modes=("fwd", "rev"))
    g = fg.grad(lambda x: lax.fori_loop(0, 5, lambda i, v: v * x, 1.0))(np.array(1.5))
    np.testing.assert_allclose(g, 5 * 1.5 ** 4, rtol=1e-15)


def test_fori_loop_traced_bounds_use_while() -> None:
    f = lambda n, x: lax.fori_loop(0, n, lambda i, v: v * x + i, x)  # noqa: E731
    assert "while" in prims(f, 3, X3)

    def ref(n: int, x: np.ndarray) -> np.ndarray:
        v = x
        for i in range(n):
            v = v * x + i
        return v

    ns = np.array([0, 1, 4])
    xs = np.random.default_rng(3).normal(size=(3, 3))
    np.testing.assert_allclose(fg.vmap(f)(ns, xs), [ref(n, x) for n, x in zip(ns, xs, strict=True)],
                               rtol=1e-14)
    np.testing.assert_allclose(staged(f)(np.array(4), X3), ref(4, X3), rtol=1e-14)
    with pytest.raises(TypeError, match="fori_loop with dynamic start/stop"):
        fg.vmap(fg.grad(lambda n, x: fnp.sum(f(n, x)), 1))(ns, xs)


# == scan =====================================================================================

def rnn(params: dict[str, Any], h0: Any, xs: Any) -> Any:
    def step(h: Any, x: Any) -> Any:
        h = fnp.tanh(params["W"] @ h + params["U"] @ x + params["b"])
        return h, fnp.sum(h * params["v"])
    return lax.scan(step, h0, xs)


def rnn_ref(params: dict[str, np.ndarray], h0: np.ndarray, xs: np.ndarray) -> Any:
    h, ys = h0, []
    for x in xs:
        h = np.tanh(params["W"] @ h + params["U"] @ x + params["b"])
        ys.append(np.sum(h * params["v"]))
    return h, np.array(ys)


def rnn_problem(seed: int = 0, steps: int = 5) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                         np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(size=(3, 3)) * 0.5, "U": rng.normal(size=(3, 2)),
              "b": rng.normal(size=3), "v": rng.normal(size=3)}
    return params, rng.normal(size=3), rng.normal(size=(steps, 2))


def test_scan_rnn_values_and_staging() -> None:
    params, h0, xs = rnn_problem()
    assert_tree_close(rnn(params, h0, xs), rnn_ref(params, h0, xs))
    assert_tree_close(staged(rnn)(params, h0, xs), rnn_ref(params, h0, xs))
    assert prims(rnn, params, h0, xs) == ["scan"]


def test_scan_rnn_grad_matches_finite_differences() -> None:
    params, h0, xs = rnn_problem()

    def loss(params: Any, h0: Any, xs: Any) -> Any:
        h, ys = rnn(params, h0, xs)
        return fnp.sum(h ** 2) + fnp.sum(ys ** 2)

    def loss_ref(params: Any, h0: Any, xs: Any) -> float:
        h, ys = rnn_ref(params, h0, xs)
        return float(np.sum(h ** 2) + np.sum(ys ** 2))

    g_params, g_h0, g_xs = fg.grad(loss, argnums=(0, 1, 2))(params, h0, xs)
    eps = 1e-6
    for name, p in params.items():
        fd = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd[idx] = (loss_ref(plus, h0, xs) - loss_ref(minus, h0, xs)) / (2 * eps)
        np.testing.assert_allclose(g_params[name], fd, rtol=1e-6, atol=1e-8)
    fd_xs = np.zeros_like(xs)
    for idx in np.ndindex(xs.shape):
        d = np.zeros_like(xs)
        d[idx] = eps
        fd_xs[idx] = (loss_ref(params, h0, xs + d) - loss_ref(params, h0, xs - d)) / (2 * eps)
    np.testing.assert_allclose(g_xs, fd_xs, rtol=1e-6, atol=1e-8)
    check_grads(loss, (params, h0, xs), order=2, modes=("fwd", "rev"))


def test_scan_reverse_and_pytrees() -> None:
    def f(c: Any, x: Any) -> Any:
        a, b = c
        return (a + x["u"], b * x["w"]), {"s": a * b, "u": x["u"]}

    xs = {"u": np.arange(4.0), "w": np.array([1.0, 2.0, 0.5, 3.0])}
    init = (np.array(1.0), np.array(2.0))
    for reverse in (False, True):
        (a, b), ys = lax.scan(f, init, xs, reverse=reverse)
        ra, rb, s = 1.0, 2.0, [0.0] * 4
        for i in (reversed(range(4)) if reverse else range(4)):
            s[i] = ra * rb
            ra, rb = ra + xs["u"][i], rb * xs["w"][i]
        assert a == ra and b == rb
        np.testing.assert_allclose(ys["s"], s)
        np.testing.assert_array_equal(ys["u"], xs["u"])
        check_grads(lambda init, xs, r=reverse: lax.scan(f, init, xs, reverse=r),
                    (init, xs), order=2, modes=("fwd", "rev"))


def test_scan_without_xs_and_empty() -> None:
    c, ys = lax.scan(lambda c, _: (c * 2.0, c), np.array(1.0), None, length=4)
    assert c == 16.0
    np.testing.assert_array_equal(ys, [1.0, 2.0, 4.0, 8.0])
    c, ys = lax.scan(lambda c, x: (c + x, x * 2), np.ones(3), np.zeros((0, 3)))
    np.testing.assert_array_equal(c, np.ones(3))
    assert ys.shape == (0, 3)
    g = fg.grad(lambda c0: lax.scan(lambda c, x: (c * x, None), c0, np.zeros(0))[0])(2.0)
    assert g == 1.0
    with pytest.raises(ValueError, match="length"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="disagree"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.zeros(2), np.zeros(3)))
    with pytest.raises(TypeError, match="identical types"):
        lax.scan(lambda c, x: (fnp.stack([c, c]), x), np.array(0.0), np.zeros(2))
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, np.array(0.0), np.zeros(2))


def test_scan_grad_captures_outer_values_and_consts() -> None:
    w = np.array([0.5, -1.0, 2.0])

    def f(w: Any, x0: Any) -> Any:
        c, ys = lax.scan(lambda c, x: (fnp.sin(c * w) + x, c * x), x0, np.ones((3, 3)))
        return fnp.sum(c) + fnp.sum(ys)

    check_grads(f, (w, X3), order=2, modes=("fwd", "rev"))
    check_grads(staged(f), (w, X3), order=2, modes=("fwd", "rev"))


def test_scan_vmap_equals_loop() -> None:
    params, h0, _ = rnn_problem()
    xs = np.random.default_rng(4).normal(size=(6, 5, 2))  # 6 sequences
    h0s = np.random.default_rng(5).normal(size=(6, 3))
    got = fg.vmap(rnn, in_axes=(None, 0, 0))(params, h0s, xs)
    want = [rnn_ref(params, h, x) for h, x in zip(h0s, xs, strict=True)]
    np.testing.assert_allclose(got[0], [w[0] for w in want], rtol=1e-13)
    np.testing.assert_allclose(got[1], [w[1] for w in want], rtol=1e-13)
    # sequences batched on their last axis, unbatched initial state (the carry becomes batched)
    got = fg.vmap(rnn, in_axes=(None, None, 2))(params, h0, np.moveaxis(xs, 0, 2))
    want = [rnn_ref(params, h0, x) for x in xs]
    np.testing.assert_allclose(got[1], [w[1] for w in want], rtol=1e-13)
    # batched parameters only
    Ws = np.stack([params["W"] * s for s in (0.5, 1.0, 1.5)])
    f = lambda W: rnn({**params, "W": W}, h0, xs[0])  # noqa: E731
    got = fg.vmap(f)(Ws)
    np.testing.assert_allclose(got[1], [rnn_ref({**params, "W": W}, h0, xs[0])[1] for W in Ws],
                               rtol=1e-13)


def test_scan_per_example_gradients() -> None:
    params, h0, _ = rnn_problem()
    xs = np.random.default_rng(6).normal(size=(4, 5, 2))

    def loss(params: Any, xs: Any) -> Any:
        h, ys = rnn(params, h0, xs)
        return fnp.sum(ys ** 2)

    got = fg.vmap(fg.grad(loss), in_axes=(None, 0))(params, xs)
    for k in params:
        want = np.stack([fg.grad(loss)(params, x)[k] for x in xs])
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-14)


def test_scan_hessian_and_jvp_of_grad() -> None:
    w = np.array([0.3, -0.2])

    def f(w: Any) -> Any:
        c, _ = lax.scan(lambda c, x: (fnp.tanh(c * w[0] + x * w[1]), None), 0.5,
                        np.linspace(-1, 1, 4))
        return c

    def f_ref(w: np.ndarray) -> float:
        c = 0.5
        for x in np.linspace(-1, 1, 4):
            c = np.tanh(c * w[0] + x * w[1])
        return float(c)

    eps = 1e-4
    fd = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * eps, np.eye(2)[j] * eps
            fd[i, j] = (f_ref(w + e_i + e_j) - f_ref(w + e_i - e_j) - f_ref(w - e_i + e_j)
                        + f_ref(w - e_i - e_j)) / (4 * eps ** 2)
    np.testing.assert_allclose(fg.hessian(f)(w), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fg.jacrev(fg.grad(f))(w), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fg.grad(fg.grad(lambda a: f(fnp.stack([a, 0.1]))))(0.3),
                               fg.hessian(f)(np.array([0.3, 0.1]))[0, 0], rtol=1e-12)


def test_scan_printout_and_linearize() -> None:
    text = str(fg.make_jaxpr(lambda xs: lax.scan(lambda c, x: (c + x, c * x), 0.0, xs))(
        np.ones(3)))
    assert "scan[jaxpr={ lambda" in text and "length=3" in text and "num_carry=1" in text
    y, f_jvp = fg.linearize(lambda x: rnn(rnn_problem()[0], x, np.ones((4, 2)))[1], X3)
    _, t = fg.jvp(lambda x: rnn(rnn_problem()[0], x, np.ones((4, 2)))[1], (X3,), (np.ones(3),))
    np.testing.assert_allclose(f_jvp(np.ones(3)), t, rtol=1e-13)


def test_map() -> None:
    xs = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(lax.map(lambda x: fnp.sum(fnp.sin(x)), xs),
                               np.sin(xs).sum(1), rtol=1e-15)
    out = lax.map(lambda t: {"p": t[0] * t[1]}, (xs, xs + 1))
    np.testing.assert_allclose(out["p"], xs * (xs + 1))
    check_grads(lambda xs: lax.map(lambda x: fnp.prod(fnp.sin(x)), xs), (xs,), order=2)


def test_scan_float32_stays_float32() -> None:
    xs = np.ones((3, 2), np.float32)
    c, ys = lax.scan(lambda c, x: (c + x * 0.5, c), np.zeros(2, np.float32), xs)
    assert c.dtype == np.float32 and ys.dtype == np.float32
    c, _ = lax.scan(lambda c, x: (x[0] * 3, None), 0.0, xs)  # a weak init takes f32
    assert c.dtype == np.float32 and c == 3.0
    # the index of a staged fori_loop does not promote a float32 carry
    f = lambda x: lax.fori_loop(0, 3, lambda i, v: v * 2 + i, x)  # noqa: E731
    x = np.ones(2, np.float32)
    assert f(x).dtype == np.float32 and staged(f)(x).dtype == np.float32
    np.testing.assert_array_equal(staged(f)(x), f(x))


def _step(c, x):
    return c * fnp.tanh(x) + x, c * x


@pytest.fixture
def staging_count(monkeypatch):
    """A list that grows by one each time a jaxpr is staged."""
    from funcgrad.core import staging

    calls = []
    real = staging.trace_to_jaxpr

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(staging, "trace_to_jaxpr", counting)
    return calls


def test_repeated_grads_of_a_scan_stage_nothing(staging_count):
    staged = staging_count

    def loss(c0, xs):
        c, ys = fg.lax.scan(_step, c0, xs)
        return fnp.sum(ys) + c

    g = fg.grad(loss, argnums=(0, 1))
    c0, xs = np.array(0.5), np.linspace(-1.0, 1.0, 5)
    first = g(c0, xs)
    assert len(staged) == 3  # the body, the forward-carries rule and the backward body
    staged.clear()
    again = g(c0, xs)
    assert staged == []
    np.testing.assert_array_equal(first[1], again[1])
    fg.jvp(lambda c: loss(c, xs), (c0,), (np.array(1.0),))
    staged.clear()
    fg.jvp(lambda c: loss(c, xs), (c0,), (np.array(1.0),))
    assert staged == []



def test_repeated_eager_conds_stage_nothing(staging_count):
    staged = staging_count
    # With a concrete predicate only the chosen branch runs; the other is traced for its
    # types, once per (function, input types).

    def loss(p, x):
        return fnp.sum(fg.lax.cond(p, fnp.sin, fnp.cos, x))

    x = np.linspace(0.0, 1.0, 3)
    first = fg.grad(lambda x: loss(True, x))(x)
    staged.clear()
    again = fg.grad(lambda x: loss(True, x))(x)
    assert staged == []
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(fg.grad(lambda x: loss(False, x))(x), -np.sin(x))


def test_repeated_while_loops_stage_nothing(staging_count):
    staged = staging_count

    def cond(c):
        return c[0] < 4

    def body(c):
        return c[0] + 1, c[1] * fnp.cos(c[1])

    def run(x):
        return fg.lax.while_loop(cond, body, (0, x))[1]

    x = np.array(0.3)
    first = fg.jvp(run, (x,), (np.array(1.0),))
    assert len(staged) >= 2  # the body and the predicate, staged once each
    staged.clear()
    again = fg.jvp(run, (x,), (np.array(1.0),))
    assert staged == []
    np.testing.assert_array_equal(first[1], again[1])


SCALE = np.array(2.0)


def _scaled_body(c):
    return c[0] + 1, c[1] * SCALE


def test_cached_bodies_see_rebound_globals_and_closures():
    global SCALE
    run = lambda x: fg.lax.while_loop(lambda c: c[0] < 3, _scaled_body, (0, x))[1]  # noqa: E731
    np.testing.assert_allclose(run(np.array(1.0)), 8.0)
    old = SCALE
    try:
        SCALE = np.array(3.0)  # a cached body would still multiply by 2
        np.testing.assert_allclose(run(np.array(1.0)), 27.0)
    finally:
        SCALE = old

    w = np.array(0.5)

    def step(c, x):
        return c * w + x, c

    def total(xs):
        return fg.lax.scan(step, np.array(1.0), xs)[0]

    xs = np.ones(3)
    before = total(xs)
    w = np.array(2.0)  # rebinds the closure cell step reads
    after = total(xs)
    np.testing.assert_allclose(before, 0.5 ** 3 + 0.5 ** 2 + 0.5 + 1)
    np.testing.assert_allclose(after, 2.0 ** 3 + 2.0 ** 2 + 2.0 + 1)
