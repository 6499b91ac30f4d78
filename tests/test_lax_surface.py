"""``fg.lax`` beyond the primitives, against ``jax.lax`` (x64) and NumPy: dynamic slicing
with traced, negative and out-of-range starts (eager, jit, vmap over the starts),
``rsqrt``/``cbrt``/``clamp``/``select_n``, the cumulative reductions and
``associative_scan`` (values and gradients), ``reduce`` and its refusals, ``Precision``,
``map(batch_size=)``, and implicit differentiation (``custom_root``,
``custom_linear_solve``) against finite differences and JAX. The op-spec table
(``specs_surface.py``) adds check_grads to order 2, vmap, staged and jit for each."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax

jax.config.update("jax_enable_x64", True)
RNG = np.random.default_rng(0)


def close(a: Any, b: Any, tol: float = 1e-10) -> None:
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


# == dynamic slicing ==========================================================================

X = RNG.normal(size=(5, 6))


@pytest.mark.parametrize("i", [-7, -5, -1, 0, 2, 3, 4, 9])
def test_dynamic_slice_clamps_like_jax(i: int) -> None:
    for j in (-9, -2, 0, 3, 5):
        want = jax.lax.dynamic_slice(X, (i, j), (3, 2))
        np.testing.assert_array_equal(lax.dynamic_slice(X, (i, j), (3, 2)), want)
        traced = fg.jit(lambda x, a, b: lax.dynamic_slice(x, (a, b), (3, 2)))
        np.testing.assert_array_equal(traced(X, np.int64(i), np.int64(j)), want)
        np.testing.assert_array_equal(lax.dynamic_slice(X, np.array([i, j]), (3, 2)), want)
        if i >= 0 and j >= 0:
            np.testing.assert_array_equal(
                lax.dynamic_slice(X, (i, j), (3, 2), allow_negative_indices=False),
                jax.lax.dynamic_slice(X, (i, j), (3, 2), allow_negative_indices=False))
        else:
            with pytest.raises(ValueError, match="allow_negative_indices"):
                lax.dynamic_slice(X, (i, j), (3, 2), allow_negative_indices=False)
        # traced: a negative start is clamped to 0, as JAX's
        np.testing.assert_array_equal(
            fg.jit(lambda a, b: lax.dynamic_slice(X, (a, b), (3, 2),
                                                  allow_negative_indices=False))(
                np.int64(i), np.int64(j)),
            jax.jit(lambda a, b: jax.lax.dynamic_slice(X, (a, b), (3, 2),
                                                       allow_negative_indices=False))(i, j))
        u = np.full((3, 2), 7.0)
        np.testing.assert_array_equal(
            fg.jit(lambda x, a, u=u, j=j: lax.dynamic_update_slice(x, u, (a, j)))(
                X, np.int32(i)),
            jax.lax.dynamic_update_slice(X, u, (i, j)))


def test_dynamic_slice_vmapped_starts_and_gradients() -> None:
    starts = np.array([-1, 0, 2, 7])
    ours = fg.vmap(lambda i: lax.dynamic_slice_in_dim(X, i, 2, axis=1))(starts)
    theirs = jax.vmap(lambda i: jax.lax.dynamic_slice_in_dim(X, i, 2, axis=1))(starts)
    np.testing.assert_array_equal(ours, theirs)
    w = RNG.normal(size=(5, 2))

    def loss(np_lax: Any, x: Any, i: Any) -> Any:
        return (np_lax.dynamic_slice_in_dim(x, i, 2, axis=1) * w).sum()

    for i in (-1, 3, 8):
        close(fg.grad(lambda x, i=i: loss(lax, x, np.int64(i)))(X),
              jax.grad(lambda x, i=i: loss(jax.lax, x, i))(X))
    per = fg.vmap(fg.grad(lambda x, i: loss(lax, x, i)), (None, 0))(X, starts)
    close(per, jax.vmap(jax.grad(lambda x, i: loss(jax.lax, x, i)), (None, 0))(X, starts))
    # dynamic_update_slice: gradient to the operand outside the block, and to the update
    u = RNG.normal(size=(2, 6))

    def upd(np_lax: Any, x: Any, u: Any, i: Any) -> Any:
        return (np_lax.dynamic_update_index_in_dim(x, u[0], i, 0) ** 2).sum() + \
            (np_lax.dynamic_update_slice_in_dim(x, u, i, 0) * X).sum()

    for i in (-2, 1, 4):
        close(fg.grad(lambda x, u, i=i: upd(lax, x, u, np.int64(i)), argnums=(0, 1))(X, u),
              jax.grad(lambda x, u, i=i: upd(jax.lax, x, u, i), argnums=(0, 1))(X, u))
    close(fg.vmap(lambda i: lax.dynamic_index_in_dim(X, i, keepdims=False))(starts),
          jax.vmap(lambda i: jax.lax.dynamic_index_in_dim(X, i, keepdims=False))(starts))


def test_dynamic_slice_errors() -> None:
    with pytest.raises(ValueError, match="slice_sizes"):
        lax.dynamic_slice(X, (0, 0), (6, 1))
    with pytest.raises(ValueError, match="start indices"):
        lax.dynamic_slice(X, (0,), (1, 1))
    with pytest.raises(TypeError, match="integer"):
        lax.dynamic_slice(X, (0.5, 0), (1, 1))
    with pytest.raises(TypeError, match="dtype"):
        lax.dynamic_update_slice(X, np.ones((1, 1), np.float32), (0, 0))
    with pytest.raises(ValueError, match="does not fit"):
        lax.dynamic_update_slice(X, np.ones((6, 1)), (0, 0))
    np.testing.assert_array_equal(lax.index_in_dim(X, -1, 1, keepdims=False), X[:, -1])
    with pytest.raises(ValueError, match="out of bounds"):
        lax.index_in_dim(X, 5, 0)


# == elementwise composites ===================================================================

def test_rsqrt_cbrt_clamp_select_n_match_jax() -> None:
    x = RNG.uniform(0.2, 3, (4,)) * np.array([1, -1, 1, -1])
    close(lax.rsqrt(np.abs(x)), jax.lax.rsqrt(np.abs(x)))
    close(lax.cbrt(x), jax.lax.cbrt(x))
    close(fg.grad(lambda v: lax.cbrt(v).sum())(x), jax.grad(lambda v: jax.lax.cbrt(v).sum())(x))
    close(fg.grad(lambda v: lax.rsqrt(v).sum())(np.abs(x)),
          jax.grad(lambda v: jax.lax.rsqrt(v).sum())(np.abs(x)))
    close(lax.clamp(-0.5, x, 1.0), jax.lax.clamp(-0.5, x, 1.0))
    lo, hi = np.full(4, -1.0), np.full(4, 0.3)
    close(fg.grad(lambda a, b, c: lax.clamp(a, b, c).sum(), argnums=(0, 1, 2))(lo, x, hi),
          jax.grad(lambda a, b, c: jax.lax.clamp(a, b, c).sum(), argnums=(0, 1, 2))(lo, x, hi))
    cases = [RNG.normal(size=4) for _ in range(3)]
    which = np.array([2, 0, 1, 2])
    close(lax.select_n(which, *cases), jax.lax.select_n(which, *cases))
    close(lax.select_n(np.int32(1), *cases), jax.lax.select_n(np.int32(1), *cases))
    close(lax.select_n(which > 0, *cases[:2]), jax.lax.select_n(which > 0, *cases[:2]))
    close(fg.vmap(lambda w, a, b: lax.select_n(w, a, b))(which > 1, cases[0], cases[1]),
          np.where(which > 1, cases[1], cases[0]))
    with pytest.raises(TypeError, match="floating"):
        lax.rsqrt(np.array([4]))
    with pytest.raises(ValueError, match="scalar"):
        lax.clamp(np.zeros(2), x, 1.0)
    with pytest.raises(ValueError, match="2 cases"):
        lax.select_n(which > 0, *cases)
    with pytest.raises(TypeError, match="one shape and dtype"):
        lax.select_n(which, cases[0], np.ones(3))
    with pytest.raises(TypeError, match="boolean or integer"):
        lax.select_n(np.ones(4), *cases)


def test_precision_enum() -> None:
    assert [p.name for p in lax.Precision] == [p.name for p in jax.lax.Precision]
    for s in ("highest", "float32", "default", "bfloat16", "high", "tensorfloat32"):
        assert lax.Precision(s).name == jax.lax.Precision(s).name
    assert str(lax.Precision.HIGH) == str(jax.lax.Precision.HIGH) == "HIGH"
    with pytest.raises(ValueError):
        lax.Precision("fast")


# == cumulative reductions and associative_scan ===============================================

@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_match_jax(name: str, axis: int, reverse: bool) -> None:
    x = RNG.uniform(0.5, 2, (7, 4)) * RNG.choice([-1.0, 1.0], (7, 4))
    w = RNG.normal(size=(7, 4))
    ours, theirs = getattr(lax, name), getattr(jax.lax, name)
    jaxis = axis % 2  # jax.lax refuses negative axes; funcgrad normalises them
    close(ours(x, axis=axis, reverse=reverse), theirs(x, axis=jaxis, reverse=reverse))
    close(fg.grad(lambda v: (ours(v, axis=axis, reverse=reverse) * w).sum())(x),
          jax.grad(lambda v: (theirs(v, axis=jaxis, reverse=reverse) * w).sum())(x))
    close(fg.jit(lambda v: ours(v, axis=axis, reverse=reverse))(x),
          theirs(x, axis=jaxis, reverse=reverse))


def test_cumlogsumexp_infinities() -> None:
    x = np.array([-np.inf, -np.inf, 0.0, -np.inf, 1.0])
    close(lax.cumlogsumexp(x), jax.lax.cumlogsumexp(x))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_matches_jax(n: int, reverse: bool) -> None:
    a, b = RNG.uniform(-1, 1, (3, n)), RNG.normal(size=(3, n))

    def combine(p: Any, q: Any) -> Any:  # h = a h + b composed: not commutative
        return (p[0] * q[0], q[0] * p[1] + q[1])

    ours = lax.associative_scan(combine, (a, b), reverse=reverse, axis=1)
    theirs = jax.lax.associative_scan(combine, (a, b), reverse=reverse, axis=1)
    close(ours, theirs)
    close(fg.grad(lambda a, b: lax.associative_scan(combine, (a, b), reverse, 1)[1].sum(),
                  argnums=(0, 1))(a, b),
          jax.grad(lambda a, b: jax.lax.associative_scan(combine, (a, b), reverse, 1)[1].sum(),
                   argnums=(0, 1))(a, b))
    vm = fg.vmap(lambda a, b: lax.associative_scan(combine, (a, b), reverse))(a, b)
    close(vm, theirs)
    bools = RNG.uniform(size=(n,)) > 0.5
    np.testing.assert_array_equal(lax.associative_scan(lax.bitwise_or, bools),
                                  jax.lax.associative_scan(jnp.logical_or, bools))


def test_associative_scan_errors() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        lax.associative_scan(lambda p, q: p, (np.ones(3), np.ones(4)))
    with pytest.raises(TypeError, match="structure"):
        lax.associative_scan(lambda p, q: p[0], (np.ones(3), np.ones(3)))
    with pytest.raises(ValueError, match="scalars"):
        lax.associative_scan(lax.add, np.array(1.0))


# == reduce ===================================================================================

def test_reduce_matches_jax() -> None:
    x = RNG.normal(size=(3, 4, 5))
    for op, jop, init in ((lax.add, jax.lax.add, 0.0), (lax.mul, jax.lax.mul, 1.0),
                          (lax.max, jax.lax.max, -np.inf), (lax.min, jax.lax.min, np.inf)):
        for dims in ((0,), (1, 2), (0, 1, 2), ()):
            close(lax.reduce(x, init, op, dims), jax.lax.reduce(x, init, jop, dims))
    close(lax.reduce(x, 0.0, lambda a, b: a + b, (1,)), x.sum(1))
    close(lax.reduce(x, 2.0, lax.add, (1,)), x.sum(1) + 2.0)  # a non-identity init, once
    b = x > 0
    np.testing.assert_array_equal(lax.reduce(b, True, lax.bitwise_and, (0,)), b.all(0))
    np.testing.assert_array_equal(lax.reduce(b, False, lax.bitwise_or, (0,)), b.any(0))
    xi = RNG.integers(-5, 5, (4, 3))
    np.testing.assert_array_equal(lax.reduce(xi, np.iinfo(np.int64).min, lax.max, (0,)),
                                  xi.max(0))
    tree = {"s": x, "m": -x}
    ours = lax.reduce(tree, {"s": 0.0, "m": -np.inf},
                      lambda p, q: {"s": p["s"] + q["s"], "m": lax.max(p["m"], q["m"])}, (2,))
    close(ours, {"s": x.sum(2), "m": (-x).max(2)})
    close(fg.grad(lambda v: lax.reduce(v, -np.inf, lax.max, (1,)).sum())(x),
          jax.grad(lambda v: jax.lax.reduce(v, -np.inf, jax.lax.max, (1,)).sum())(x))
    close(fg.jit(lambda v: lax.reduce(v, 1.0, lax.mul, (0,)))(x), x.prod(0))


def test_reduce_refuses_general_computations() -> None:
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="not a recognised monoid"):
        lax.reduce(x, 0.0, lambda a, b: a + 2 * b, (0,))
    with pytest.raises(TypeError, match="not a recognised monoid"):
        lax.reduce(x, 0.0, lax.sub, (0,))
    with pytest.raises(TypeError, match="not a recognised monoid"):
        lax.reduce(np.ones(3, np.int64), 0, lax.bitwise_and, (0,))
    with pytest.raises(ValueError, match="init_values"):
        lax.reduce((x, x), 0.0, lambda a, b: a, (0,))
    with pytest.raises(ValueError, match="share one shape"):
        lax.reduce((x, np.ones(3)), (0.0, 0.0), lambda a, b: (a[0] + b[0], a[1] + b[1]), (0,))


# == map(batch_size=) =========================================================================

@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 7])
def test_map_batch_size_matches_jax(batch_size: int) -> None:
    xs = {"a": RNG.normal(size=(5, 3)), "b": RNG.normal(size=(5,))}

    def f(np_: Any) -> Any:
        return lambda d: (np_.sin(d["a"]) * d["b"], d["a"].sum())

    ours = lax.map(f(fnp), xs, batch_size=batch_size)
    close(ours, jax.lax.map(f(jnp), xs, batch_size=batch_size))
    close(ours, lax.map(f(fnp), xs))
    close(fg.jit(lambda t: lax.map(f(fnp), t, batch_size=batch_size))(xs), ours)
    close(fg.grad(lambda a: lax.map(lambda r: fnp.sin(r).sum(), a, batch_size=batch_size).sum())(
        xs["a"]), np.cos(xs["a"]))
    with pytest.raises(ValueError, match="batch_size"):
        lax.map(f(fnp), xs, batch_size=0)


def test_map_batch_size_vmaps_each_batch() -> None:
    shapes: list[tuple[int, ...]] = []

    def f(x: Any) -> Any:
        shapes.append(x.shape)
        return x * 2

    lax.map(f, np.ones((7, 2)), batch_size=3)
    assert (2,) in shapes and len(shapes) == 2  # traced once under scan, once for the rest


# == implicit differentiation =================================================================

def _fd(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        out.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(out, -1)


def _newton(np_: Any, lax_: Any) -> Any:
    def solve(f: Any, x: Any) -> Any:
        # a fixed number of Newton steps with a numerical Jacobian-free scalar update
        return lax_.fori_loop(0, 50, lambda i, x: x - f(x) / (3 * x ** 2 + 1.0), x)

    def root_of(c: Any) -> Any:
        # x^3 + x = c, elementwise (monotone: one real root)
        return lax_.custom_root(lambda x: x ** 3 + x - c, np_.zeros_like(c), solve,
                                lambda g, y: y / g(np_.ones_like(y)))
    return root_of


def test_custom_root_gradients_against_finite_differences_and_jax() -> None:
    c = np.array([0.5, 2.0, -3.0])
    ours, theirs = _newton(fnp, lax), _newton(jnp, jax.lax)
    x = ours(c)
    close(x ** 3 + x, c, 1e-12)
    close(x, theirs(c))
    jac = fg.jacrev(ours)(c)
    close(jac, _fd(lambda v: np.asarray(ours(v)), c), 1e-6)
    close(jac, np.diag(1 / (3 * x ** 2 + 1)), 1e-10)
    close(fg.jacfwd(ours)(c), jac)
    close(jac, jax.jacrev(theirs)(c))
    g2 = fg.grad(lambda v: fg.grad(lambda w: ours(w).sum())(v).sum())(c)
    close(g2, _fd(lambda v: np.asarray(fg.grad(lambda w: ours(w).sum())(v)), c).sum(0), 1e-5)
    close(g2, jax.grad(lambda v: jax.grad(lambda w: theirs(w).sum())(v).sum())(c))
    close(fg.jit(fg.grad(lambda v: ours(v).sum()))(c), np.diag(jac))
    close(fg.vmap(ours)(np.stack([c, 2 * c])), np.stack([x, ours(2 * c)]))


def test_custom_root_of_a_system_never_differentiates_solve() -> None:
    # Root of A x = b(theta) with a while-loop (Jacobi) solver: while has no reverse mode, so
    # the gradient can only come from implicit differentiation.
    a = np.array([[4.0, 1.0, 0.0], [1.0, 5.0, 2.0], [0.0, 2.0, 6.0]])

    def solve(f: Any, x0: Any) -> Any:
        def body(s: Any) -> Any:
            x, k = s
            return x - f(x) / np.diag(a), k + 1
        return lax.while_loop(lambda s: s[1] < 200, body, (x0, 0))[0]

    def tangent_solve(g: Any, y: Any) -> Any:
        jac = fg.jacfwd(g)(y)
        return fnp.linalg.solve(jac, y)

    def root(theta: Any) -> Any:
        return lax.custom_root(lambda x: fnp.dot(a, x) - fnp.sin(theta), fnp.zeros(3),
                               solve, tangent_solve)

    theta = np.array([0.3, -1.2, 2.0])
    close(root(theta), np.linalg.solve(a, np.sin(theta)), 1e-12)
    want = np.linalg.solve(a, np.diag(np.cos(theta)))
    close(fg.jacrev(root)(theta), want, 1e-10)
    close(fg.jacfwd(root)(theta), want, 1e-10)
    close(fg.jit(fg.jacrev(root))(theta), want, 1e-10)


def test_custom_root_has_aux() -> None:
    def solve(f: Any, x: Any) -> Any:
        x = lax.fori_loop(0, 40, lambda i, x: x - f(x) / (2 * x), x)
        return x, {"residual": f(x)}

    def root(a: Any) -> Any:
        return lax.custom_root(lambda x: x * x - a, np.array(1.0), solve,
                               lambda g, y: y / g(1.0), has_aux=True)

    x, aux = root(np.array(2.0))
    close(x, np.sqrt(2.0), 1e-12)
    assert abs(float(aux["residual"])) < 1e-12
    close(fg.grad(lambda a: root(a)[0])(np.array(2.0)), 0.5 / np.sqrt(2.0))
    with pytest.raises(TypeError, match="pair"):
        lax.custom_root(lambda x: x - 1.0, np.array(0.0), lambda f, x: x,
                        lambda g, y: y, has_aux=True)
    with pytest.raises(ValueError, match="shape"):
        lax.custom_root(lambda x: x - 1.0, np.array(0.0), lambda f, x: np.ones(2),
                        lambda g, y: y)


def _cg(np_: Any, lax_: Any, n: int) -> Any:
    def solve(mv: Any, b: Any) -> Any:
        def body(s: Any) -> Any:
            x, r, p, k = s
            ap = mv(p)
            alpha = (r @ r) / (p @ ap)
            x2, r2 = x + alpha * p, r - alpha * ap
            return x2, r2, r2 + (r2 @ r2) / (r @ r) * p, k + 1
        return lax_.while_loop(lambda s: s[3] < n, body, (np_.zeros_like(b), b, b, 0))[0]
    return solve


def test_custom_linear_solve_with_cg_matches_jax() -> None:
    m = RNG.normal(size=(4, 4))
    a, b = m @ m.T + 4 * np.eye(4), RNG.normal(size=4)
    w = RNG.normal(size=4)

    def ours(a: Any, b: Any) -> Any:
        return lax.custom_linear_solve(lambda x: fnp.dot(a, x), b, _cg(fnp, lax, 4),
                                       symmetric=True)

    def theirs(a: Any, b: Any) -> Any:
        return jax.lax.custom_linear_solve(lambda x: jnp.dot(a, x), b, _cg(jnp, jax.lax, 4),
                                           symmetric=True)

    close(ours(a, b), np.linalg.solve(a, b), 1e-10)
    loss = lambda a, b: fnp.sum(ours(a, b) * w)  # noqa: E731
    jloss = lambda a, b: jnp.sum(theirs(a, b) * w)  # noqa: E731
    close(fg.grad(loss, argnums=(0, 1))(a, b), jax.grad(jloss, argnums=(0, 1))(a, b), 1e-9)
    ta, tb = RNG.normal(size=(4, 4)), RNG.normal(size=4)
    close(fg.jvp(ours, (a, b), (ta, tb))[1], jax.jvp(theirs, (a, b), (ta, tb))[1], 1e-9)
    close(fg.jit(fg.grad(loss))(a, b), jax.grad(jloss)(a, b), 1e-9)
    bs = RNG.normal(size=(3, 4))
    close(fg.vmap(ours, (None, 0))(a, bs), np.linalg.solve(a, bs.T).T, 1e-9)
    close(fg.vmap(fg.grad(loss, 1), (None, 0))(a, bs),
          jax.vmap(jax.grad(jloss, 1), (None, 0))(a, bs), 1e-9)
    close(fg.hessian(lambda b: fnp.sum(ours(a, b) ** 2))(b),
          jax.hessian(lambda b: jnp.sum(theirs(a, b) ** 2))(b), 1e-9)


def test_custom_linear_solve_nonsymmetric_and_second_order() -> None:
    m = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    b = RNG.normal(size=3)

    def make(np_: Any, lax_: Any) -> Any:
        def f(m: Any, b: Any) -> Any:
            return lax_.custom_linear_solve(
                lambda x: np_.dot(m, x), b, lambda mv, r: np_.linalg.solve(m, r),
                lambda vm, r: np_.linalg.solve(m.T, r))
        return f

    ours, theirs = make(fnp, lax), make(jnp, jax.lax)
    close(ours(m, b), np.linalg.solve(m, b), 1e-12)
    loss = lambda m, b: fnp.sum(ours(m, b) ** 3)  # noqa: E731
    jloss = lambda m, b: jnp.sum(theirs(m, b) ** 3)  # noqa: E731
    close(fg.grad(loss, (0, 1))(m, b), jax.grad(jloss, (0, 1))(m, b), 1e-9)
    g_fd = _fd(lambda v: np.asarray(loss(m, v)), b)
    close(fg.grad(loss, 1)(m, b), g_fd, 1e-6)
    close(fg.grad(lambda v: fg.grad(loss, 1)(m, v).sum())(b),
          jax.grad(lambda v: jax.grad(jloss, 1)(m, v).sum())(b), 1e-9)
    close(fg.jacfwd(fg.grad(loss, 1), 1)(m, b), jax.hessian(jloss, 1)(m, b), 1e-9)
    with pytest.raises(TypeError, match="transpose_solve"):
        fg.grad(lambda v: lax.custom_linear_solve(lambda x: fnp.dot(m, x), v,
                                                  lambda mv, r: fnp.linalg.solve(m, r)).sum())(b)
    # forward mode needs no transpose_solve
    close(fg.jvp(lambda v: lax.custom_linear_solve(lambda x: fnp.dot(m, x), v,
                                                   lambda mv, r: fnp.linalg.solve(m, r)),
                 (b,), (b,))[1], np.linalg.solve(m, b), 1e-12)


def test_custom_linear_solve_pytree_and_aux() -> None:
    d = np.array([2.0, 3.0])

    def mv(x: Any) -> Any:
        return {"u": d * x["u"], "v": 4.0 * x["v"]}

    def solve(mv_: Any, r: Any) -> Any:
        return {"u": r["u"] / d, "v": r["v"] / 4.0}, {"n": np.array(1)}

    b = {"u": np.array([1.0, 1.0]), "v": np.array(2.0)}
    x, aux = lax.custom_linear_solve(mv, b, solve, symmetric=True, has_aux=True)
    close(x, {"u": 1 / d, "v": 0.5})
    assert int(aux["n"]) == 1
    g = fg.grad(lambda b: lax.custom_linear_solve(
        mv, b, solve, symmetric=True, has_aux=True)[0]["u"].sum())(b)
    close(g, {"u": 1 / d, "v": np.array(0.0)})
