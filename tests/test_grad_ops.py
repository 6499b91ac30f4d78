"""Derivatives of every OpSpec: finite differences in both modes, the JVP/VJP adjoint identity,
closed forms, and the seed's reverse-mode regressions (tie splitting, cotangent magnitude,
exponential reuse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.pytree import tree_leaves
from funcgrad.test_util import check_grads
from funcgrad.transforms import ad

SPECS = all_specs()
DIFF_SPECS = [s for s in SPECS if s.grad_order > 0]
NONDIFF_SPECS = [s for s in SPECS if s.grad_order == 0]


def diff_problem(spec: OpSpec, rng: np.random.Generator
                 ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """``spec.fn`` as a function of its differentiable arguments only, and their values.

    ``diff_argnums=None`` means every floating-point argument.
    """
    args = spec.args(rng)
    nums = spec.diff_argnums
    if nums is None:
        nums = tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind in "fc")

    def f(*diff: Any) -> Any:
        full = list(args)
        for i, d in zip(nums, diff, strict=True):
            full[i] = d
        return spec.fn(*full)

    return f, tuple(args[i] for i in nums)


def test_tables_are_not_empty() -> None:
    assert len(DIFF_SPECS) > 100 and len(NONDIFF_SPECS) > 10


# == finite differences =======================================================================

@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_check_grads(spec: OpSpec, rng: np.random.Generator) -> None:
    f, args = diff_problem(spec, rng)
    assert args, f"spec {spec.name} has grad_order > 0 but no differentiable argument"
    check_grads(f, args, order=spec.grad_order, modes=("rev", "fwd"), atol=spec.tol,
                rtol=spec.tol)


# == the adjoint identity: <vjp(ct), t> == <ct, jvp(t)> =========================================

def _inner(xs: list[Any], ys: list[Any]) -> tuple[float, float]:
    """Sum of <x, y> and the sum of |x| * |y| (the scale a rounding error is relative to)."""
    total, scale = 0.0, 0.0
    for x, y in zip(xs, ys, strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        assert x.shape == y.shape
        total += float(np.sum(x * y))
        scale += float(np.sum(np.abs(x) * np.abs(y)))
    return total, scale


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_adjoint(spec: OpSpec, rng: np.random.Generator) -> None:
    f, args = diff_problem(spec, rng)
    tangents = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype) for a in args)
    out, t_out = fg.jvp(f, args, tangents)
    out2, f_vjp = fg.vjp(f, *args)
    for o, o2 in zip(tree_leaves(out), tree_leaves(out2), strict=True):
        np.testing.assert_array_equal(o, o2)  # both modes run the same forward pass
    out_leaves = tree_leaves(out)
    cts_leaves = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype)
                  for o in out_leaves]
    from funcgrad.core.pytree import tree_structure, tree_unflatten
    cts = tree_unflatten(tree_structure(out), cts_leaves)
    in_cts = f_vjp(cts)
    lhs, lhs_scale = _inner(list(in_cts), list(tangents))
    rhs, rhs_scale = _inner(cts_leaves, tree_leaves(t_out))
    scale = max(lhs_scale, rhs_scale, 1e-300)
    # Near machine precision: float64 everywhere, unless the spec has float32 inputs/outputs.
    low = any(np.asarray(x).dtype == np.float32 for x in (*args, *out_leaves))
    rtol = 1e-5 if low else 1e-10
    assert abs(lhs - rhs) <= rtol * scale, (
        f"{spec.name}: <vjp(ct), t> = {lhs!r} but <ct, jvp(t)> = {rhs!r} "
        f"(relative difference {abs(lhs - rhs) / scale:.3g})")


# == non-differentiable ops have zero derivatives =============================================

@pytest.mark.parametrize("spec", NONDIFF_SPECS, ids=spec_id)
def test_nondifferentiable_zero_derivative(spec: OpSpec, rng: np.random.Generator) -> None:
    f, args = diff_problem(spec, rng)
    if not args:
        pytest.skip("no floating-point argument")
    tangents = tuple(np.ones(np.shape(a)) for a in args)
    _, t_out = fg.jvp(f, args, tangents)
    for t in tree_leaves(t_out):
        assert not np.any(np.asarray(t)), f"{spec.name}: nonzero tangent {t}"
    out, f_vjp = fg.vjp(f, *args)
    cts = fg.tree_util.tree_map(lambda o: np.ones(np.shape(o), np.float64), out)
    for c in f_vjp(cts):
        assert not np.any(c), f"{spec.name}: nonzero cotangent {c}"


# == closed forms =============================================================================

def test_grad_sum_cube() -> None:
    x = np.array([-1.5, 0.0, 2.0, 3.0])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(x ** 3))(x), 3 * x ** 2, rtol=1e-15)
    np.testing.assert_allclose(fg.grad(fg.grad(lambda x: x ** 3))(2.0), 12.0)


def test_grad_softmax_weighted() -> None:
    x = np.array([0.3, -1.2, 2.0, 0.5])
    w = np.array([1.0, -2.0, 0.5, 3.0])

    def f(x: Any) -> Any:
        e = fnp.exp(x - fnp.max(x))
        return fnp.sum(w * e / fnp.sum(e))

    s = np.exp(x - x.max())
    s /= s.sum()
    np.testing.assert_allclose(fg.grad(f)(x), s * (w - s @ w), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("x, want", [
    ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
    ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
])
def test_grad_prod_with_zeros(x: list[float], want: list[float]) -> None:
    x_arr = np.array(x)
    g = fg.grad(lambda x: fnp.prod(x))(x_arr)
    np.testing.assert_array_equal(g, want)
    _, t = fg.jvp(lambda x: fnp.prod(x), (x_arr,), (np.ones(3),))
    np.testing.assert_array_equal(t, sum(want))


def test_hessian_prod_with_zero() -> None:
    # d2/dxi dxj prod(x) = prod of the others (i != j), 0 on the diagonal.
    x = np.array([2.0, 0.0, 3.0])
    want = np.array([[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    np.testing.assert_array_equal(fg.hessian(lambda x: fnp.prod(x))(x), want)


def test_max_ties_split_evenly() -> None:
    g = fg.grad(lambda x: 4 * fnp.max(x))(np.array([3.0, 3.0, 1.0]))
    np.testing.assert_array_equal(g, [2.0, 2.0, 0.0])
    g = fg.grad(lambda x: 6 * fnp.min(x))(np.array([1.0, 5.0, 1.0, 1.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 2.0, 2.0])
    _, t = fg.jvp(lambda x: fnp.max(x), (np.array([3.0, 3.0, 1.0]),),
                  (np.array([1.0, 3.0, 5.0]),))
    np.testing.assert_array_equal(t, 2.0)


def test_max_along_axis_ties() -> None:
    x = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    g = fg.grad(lambda x: fnp.sum(fnp.max(x, axis=1) * np.array([2.0, 3.0])))(x)
    np.testing.assert_array_equal(g, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])


def test_max_gradient_scales_with_cotangent() -> None:
    g = fg.grad(lambda x: 3 * fnp.max(x))(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 3.0, 0.0])
    _, f_vjp = fg.vjp(lambda x: fnp.max(x, axis=0), np.array([[1.0, 5.0], [4.0, 2.0]]))
    np.testing.assert_array_equal(f_vjp(np.array([-7.0, 0.5]))[0], [[0.0, 0.5], [-7.0, 0.0]])


def test_elementwise_maximum_ties() -> None:
    gx, gy = fg.grad(lambda x, y: fnp.sum(fnp.maximum(x, y) * 4), argnums=(0, 1))(
        np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0]))
    np.testing.assert_array_equal(gx, [2.0, 0.0, 4.0])
    np.testing.assert_array_equal(gy, [2.0, 4.0, 0.0])


def test_abs_and_clip_closed_forms() -> None:
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(fnp.abs(x)))(x), np.sign(x))
    np.testing.assert_array_equal(
        fg.grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(x), [0.0, 1.0, 1.0, 0.0])


def test_power_gradient_at_zero_base() -> None:
    # d/dy x**y at x = 0 is 0 (JAX's convention), not nan; d/dx x**2 at 0 is 0.
    gx, gy = fg.grad(lambda x, y: x ** y, argnums=(0, 1))(np.array(0.0), np.array(2.0))
    assert gx == 0.0 and gy == 0.0
    assert fg.grad(lambda x: x ** 2)(0.0) == 0.0


def test_scatter_add_gradient_repeated_broadcast() -> None:
    idx = np.array([[2, 3], [3, 4]])

    def f(x: Any, u: Any) -> Any:
        out = fg.lax.scatter_add(x, fnp.broadcast_to(u, (2, 2)), idx)
        return fnp.sum(out * np.arange(6.0))

    gx, gu = fg.grad(f, argnums=(0, 1))(np.zeros(6), np.array([1.0, 10.0]))
    np.testing.assert_array_equal(gx, np.arange(6.0))
    np.testing.assert_array_equal(gu, [2 + 3, 3 + 4])


def test_gather_gradient_accumulates_repeats() -> None:
    idx = np.array([[2, 3], [3, 4]])
    w = np.array([1.0, 10.0])
    g = fg.grad(lambda x: fnp.sum(x[idx] * w))(np.zeros(6))
    # PITFALLS.md: np.add.at with w broadcast against 2-d indices writes garbage.
    np.testing.assert_array_equal(g, [0, 0, 1, 11, 10, 0])


# == exponential reuse (the seed's path-DFS) ==================================================

def test_repeated_doubling_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    from funcgrad.lax.elementwise import add_p
    calls = {"add": 0}
    rule = ad.vjp_rules[add_p]

    def counting_rule(*args: Any, **params: Any) -> Any:
        calls["add"] += 1
        return rule(*args, **params)

    monkeypatch.setitem(ad.vjp_rules, add_p, counting_rule)

    def f(x: Any) -> Any:
        y = x
        for _ in range(16):
            y = y + y
        return y

    assert fg.grad(f)(np.array(1.0)) == 2.0 ** 16
    assert calls["add"] == 16  # one backward step per add; a path-DFS would take 2**16


def test_repeated_doubling_tape_is_linear() -> None:
    from funcgrad.core.tracing import current_trace, set_current_trace
    trace = ad.VJPTrace(current_trace())
    x = trace.new_tracer(np.array(1.0))
    with set_current_trace(trace):
        y = x
        for _ in range(16):
            y = y + y
    trace.is_alive = False
    assert len(trace.tape) == 16
    (g,) = trace.backward([y.slot], [np.array(1.0)], [x.slot])
    assert g == 2.0 ** 16


# == the backward and forward passes staged, and batched ======================================

def _vjp_fn(f: Callable[..., Any], cts: Any) -> Callable[..., Any]:
    def pullback(*args: Any) -> Any:
        return fg.vjp(f, *args)[1](cts)
    return pullback


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_staged_derivatives_match_eager(spec: OpSpec, rng: np.random.Generator) -> None:
    # make_jaxpr of vjp/jvp runs every rule on abstract values: their shape rules must agree
    # with what the eager rules compute.
    from funcgrad.core import eval_jaxpr
    f, args = diff_problem(spec, rng)
    out = f(*args)
    cts = fg.tree_util.tree_map(lambda o: rng.standard_normal(np.shape(o)).astype(
        np.asarray(o).dtype), out)
    tangents = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype)
                     for a in args)
    for fun, fargs in ((_vjp_fn(f, cts), args),
                       (lambda *a: fg.jvp(f, a[:len(args)], a[len(args):])[1],
                        (*args, *tangents))):
        closed = fg.make_jaxpr(fun)(*fargs)
        staged = eval_jaxpr(closed.jaxpr, closed.consts, *tree_leaves(fargs))
        eager = tree_leaves(fun(*fargs))
        assert len(staged) == len(eager)
        for s, e, aval in zip(staged, eager, closed.out_avals, strict=True):
            np.testing.assert_allclose(s, e, rtol=1e-12, atol=1e-12, err_msg=spec.name)
            assert (np.shape(e), np.asarray(e).dtype) == (aval.shape, aval.dtype)


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_vmap_of_vjp_and_jvp(spec: OpSpec, rng: np.random.Generator) -> None:
    # Per-example derivatives: the rules' own primitives must batch (scatter_add with batched
    # indices, pad and slice transposes, ...).
    problems = [diff_problem(spec, np.random.default_rng(k)) for k in range(3)]
    f0, args0 = problems[0]
    n = len(args0)
    # one function of the stacked differentiable args; the other args are those of example 0
    cts = fg.tree_util.tree_map(lambda o: rng.standard_normal(np.shape(o)), f0(*args0))
    cts = fg.tree_util.tree_map(lambda c, o: c.astype(np.asarray(o).dtype), cts, f0(*args0))
    tangents = [tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype)
                      for a in args) for _, args in problems]
    stacked = [np.stack([args[i] for _, args in problems]) for i in range(n)]
    stacked_t = [np.stack([t[i] for t in tangents]) for i in range(n)]
    got = fg.vmap(_vjp_fn(f0, cts))(*stacked)
    want = [_vjp_fn(f0, cts)(*args) for _, args in problems]
    for i in range(n):
        np.testing.assert_allclose(got[i], np.stack([w[i] for w in want]), rtol=1e-12,
                                   atol=1e-12, err_msg=f"{spec.name}: vmap of vjp")
    got_t = fg.vmap(lambda *a: fg.jvp(f0, a[:n], a[n:])[1])(*stacked, *stacked_t)
    want_t = [fg.jvp(f0, args, t)[1] for (_, args), t in zip(problems, tangents, strict=True)]
    for g, w in zip(tree_leaves(got_t), zip(*(tree_leaves(w) for w in want_t), strict=True),
                                            strict=True):
        np.testing.assert_allclose(g, np.stack(w), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{spec.name}: vmap of jvp")
