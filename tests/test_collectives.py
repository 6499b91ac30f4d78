"""Collectives under a named vmap (and pmap on one CPU) against jax.vmap and the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp

L = fg.lax
X = np.random.default_rng(0).normal(size=(4, 3))

CASES: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("psum", lambda lax, r: lax.psum(r, "i")),
    ("pmean", lambda lax, r: r - lax.pmean(r, "i")),
    ("pmax", lambda lax, r: lax.pmax(r, "i") * r),
    ("pmin", lambda lax, r: lax.pmin(r, "i") + r),
    ("all_gather", lambda lax, r: lax.all_gather(r, "i") * r),
    ("all_gather_axis1", lambda lax, r: lax.all_gather(r, "i", axis=1)),
    ("axis_index", lambda lax, r: r * lax.axis_index("i")),
    ("softmax_over_batch", lambda lax, r: r / lax.psum(r * r, "i")),
]


def _jax() -> Any:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_collective_values_and_gradients_match_jax(name: str, fn: Any) -> None:
    jax = _jax()
    ours = fg.vmap(lambda r: fn(L, r), axis_name="i")(X)
    theirs = jax.vmap(lambda r: fn(jax.lax, r), axis_name="i")(X)
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-12, atol=1e-12)
    if name == "axis_index":
        return
    if name in ("pmax", "pmin"):   # JAX does not differentiate these: the loop meaning does
        red = np.max if name == "pmax" else np.min
        fred = fnp.max if name == "pmax" else fnp.min
        loop = (lambda x: fnp.sum((fred(x, axis=0) * x) ** 2)) if name == "pmax" else (
            lambda x: fnp.sum((fred(x, axis=0) + x) ** 2))
        np.testing.assert_allclose(
            fg.grad(lambda x: fnp.sum(fg.vmap(lambda r: fn(L, r), axis_name="i")(x) ** 2))(X),
            fg.grad(loop)(X), rtol=1e-12)
        assert red(X, 0).shape == (3,)
        return
    # grad inside the vmap (psum's transpose is psum, as JAX's) and outside it
    inner = fg.vmap(fg.grad(lambda r: fnp.sum(fn(L, r) ** 2)), axis_name="i")(X)
    inner_j = jax.vmap(jax.grad(lambda r: (fn(jax.lax, r) ** 2).sum()), axis_name="i")(X)
    np.testing.assert_allclose(inner, np.asarray(inner_j), rtol=1e-10, atol=1e-12)

    def outer(ns: Any, vm: Any, lax: Any) -> Any:
        return lambda x: (vm(lambda r: fn(lax, r), axis_name="i")(x) ** 2).sum()
    np.testing.assert_allclose(fg.grad(outer(fnp, fg.vmap, L))(X),
                               np.asarray(jax.grad(outer(None, jax.vmap, jax.lax))(X)),
                               rtol=1e-10, atol=1e-12)


def test_collectives_are_their_loop_meaning() -> None:
    got = fg.vmap(lambda r: (L.psum(r, "i"), L.pmean(r, "i"), L.all_gather(r, "i"),
                             L.axis_index("i")), axis_name="i")(X)
    n = X.shape[0]
    for i in range(n):
        np.testing.assert_allclose(got[0][i], X.sum(0))
        np.testing.assert_allclose(got[1][i], X.mean(0))
        np.testing.assert_allclose(got[2][i], X)
        assert got[3][i] == i and got[3].dtype == np.int32


def test_nested_axis_names_and_jit_and_pmap() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    both = fg.vmap(fg.vmap(lambda v: L.psum(v, ("i", "j")), axis_name="j"), axis_name="i")(x)
    np.testing.assert_allclose(both, np.broadcast_to(x.sum((0, 1)), x.shape))
    outer_only = fg.vmap(fg.vmap(lambda v: L.psum(v, "i"), axis_name="j"), axis_name="i")(x)
    np.testing.assert_allclose(outer_only, np.broadcast_to(x.sum(0), x.shape))
    inner_only = fg.vmap(fg.vmap(lambda v: L.pmean(v, "j"), axis_name="j"), axis_name="i")(x)
    np.testing.assert_allclose(inner_only, np.broadcast_to(x.mean(1, keepdims=True), x.shape))
    f = fg.vmap(lambda r: r / L.psum(r, "i"), axis_name="i")
    np.testing.assert_allclose(fg.jit(f)(X), X / X.sum(0))
    np.testing.assert_allclose(fg.pmap(lambda r: r - L.pmean(r, "i"), axis_name="i")(X),
                               X - X.mean(0))
    np.testing.assert_allclose(
        fg.pmap(lambda r, s: r * s, axis_name="i", static_broadcasted_argnums=1)(X, 2.0), 2 * X)


def test_unbound_axis_names_raise_name_error() -> None:
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        L.psum(X, "i")
    with pytest.raises(NameError, match="unbound axis name: 'k'"):
        fg.vmap(lambda r: L.psum(r, "k"), axis_name="i")(X)
    with pytest.raises(NameError, match="unbound axis name"):
        fg.vmap(lambda r: L.all_gather(r, "k"), axis_name="i")(X)


def test_collectives_inside_jit_scan_and_cond_inside_the_named_vmap() -> None:
    # The sub-program is batched for the named axis, under its name.
    inner = fg.jit(lambda r: r / L.psum(r, "i"))
    np.testing.assert_allclose(fg.vmap(inner, axis_name="i")(X), X / X.sum(0))

    def scanned(r: Any) -> Any:
        def step(c: Any, x: Any) -> Any:
            return c + L.pmean(x, "i"), L.axis_index("i") * x
        return fg.lax.scan(step, 0.0, r)
    carry, ys = fg.vmap(scanned, axis_name="i")(X)
    np.testing.assert_allclose(carry, np.full(X.shape[0], X.mean(0).sum()))
    np.testing.assert_allclose(ys, np.arange(X.shape[0])[:, None] * X)
    branch = fg.vmap(lambda r: fg.lax.cond(r[0] > 0, lambda v: v - L.pmean(v, "i"),
                                           lambda v: v + L.pmean(v, "i"), r), axis_name="i")
    sign = np.where(X[:, :1] > 0, -1.0, 1.0)
    np.testing.assert_allclose(branch(X), X + sign * X.mean(0))
