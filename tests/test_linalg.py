"""fnp.linalg (solve, inv, det, slogdet, cholesky) and the lax.linalg primitives: values against
numpy.linalg, derivatives against finite differences, closed forms and JAX, vmap against a
loop, staged programs against eager ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from specs_control import well_conditioned

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import eval_jaxpr
from funcgrad.core.pytree import tree_leaves
from funcgrad.lax import linalg as lax_linalg
from funcgrad.test_util import check_grads


def spd(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random symmetric positive-definite matrices ``(..., n, n)``."""
    m = rng.standard_normal(shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


def fd_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar NumPy function, one coordinate at a time."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        g[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# == values ===================================================================================

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_match_numpy(rng: np.random.Generator, dtype: Any) -> None:
    tol = 1e-12 if dtype == np.float64 else 1e-5
    a = well_conditioned(rng, 2, 4, 4).astype(dtype)
    s = spd(rng, 3, 4, 4).astype(dtype)
    b_vec = rng.standard_normal(4).astype(dtype)
    b_mat = rng.standard_normal((2, 4, 3)).astype(dtype)
    cases = [
        (fnp.linalg.solve(a[0], b_vec), np.linalg.solve(a[0], b_vec)),
        (fnp.linalg.solve(a, b_mat), np.linalg.solve(a, b_mat)),
        (fnp.linalg.solve(a, b_mat[0]), np.linalg.solve(a, b_mat[0])),  # broadcast b
        (fnp.linalg.inv(a), np.linalg.inv(a)),
        (fnp.linalg.det(a), np.linalg.det(a)),
        (fnp.linalg.det(a[0]), np.asarray(np.linalg.det(a[0]))),  # 0-d: still an ndarray
        (fnp.linalg.slogdet(a).sign, np.linalg.slogdet(a).sign),
        (fnp.linalg.slogdet(a).logabsdet, np.linalg.slogdet(a).logabsdet),
        (fnp.linalg.cholesky(s), np.linalg.cholesky(s)),
        (fnp.linalg.cholesky(s, upper=True), np.linalg.cholesky(s, upper=True)),
    ]
    for got, want in cases:
        assert type(got) is np.ndarray and got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_det_sign_and_integer_input() -> None:
    a = np.array([[0.0, 2.0], [3.0, 1.0]])
    assert fnp.linalg.det(a) == pytest.approx(-6.0)
    sign, logabsdet = fnp.linalg.slogdet(a)
    assert sign == -1.0 and logabsdet == pytest.approx(np.log(6.0))
    out = fnp.linalg.inv(np.array([[2, 0], [0, 4]]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0.5, 0.0], [0.0, 0.25]])


def test_cholesky_reads_lower_triangle_or_symmetrizes() -> None:
    s = np.array([[4.0, 2.0], [2.0, 5.0]])
    junk_upper = s + np.triu(np.full((2, 2), 1.0), 1)
    np.testing.assert_allclose(fnp.linalg.cholesky(junk_upper, symmetrize_input=False),
                               np.linalg.cholesky(s), rtol=1e-15)
    sym = (junk_upper + junk_upper.T) / 2
    np.testing.assert_allclose(fnp.linalg.cholesky(junk_upper), np.linalg.cholesky(sym))


def test_cholesky_not_positive_definite_gives_nan() -> None:
    good = np.eye(2) * 4.0
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    out = fnp.linalg.cholesky(np.stack([good, bad]))
    np.testing.assert_array_equal(out[0], np.eye(2) * 2.0)
    assert np.isnan(out[1]).all()


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"square matrices.*\(2, 3\)"):
        fnp.linalg.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="right-hand side|must have shape"):
        fnp.linalg.solve(np.eye(3), np.ones(2))
    with pytest.raises(TypeError, match="floating"):  # complex det works now (issue 17)
        lax_linalg.svd(np.eye(2, dtype=int))
    with pytest.raises(TypeError, match="floating"):
        lax_linalg.solve(np.eye(2, dtype=int), np.ones((2, 1), int))


# == derivatives ==============================================================================

FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[[np.random.Generator], tuple]]] = {
    "solve_vec": (fnp.linalg.solve,
                  lambda r: (well_conditioned(r, 3, 3), r.standard_normal(3))),
    "solve_batched": (fnp.linalg.solve,
                      lambda r: (well_conditioned(r, 2, 3, 3), r.standard_normal((3, 2)))),
    "inv": (fnp.linalg.inv, lambda r: (well_conditioned(r, 2, 3, 3),)),
    "det": (fnp.linalg.det, lambda r: (well_conditioned(r, 3, 3),)),
    "slogdet": (lambda a: fnp.linalg.slogdet(a).logabsdet,
                lambda r: (well_conditioned(r, 2, 3, 3),)),
    "cholesky": (fnp.linalg.cholesky, lambda r: (spd(r, 2, 3, 3),)),
    "cholesky_upper": (lambda a: fnp.linalg.cholesky(a, upper=True), lambda r: (spd(r, 3, 3),)),
    "cholesky_lower_only": (lambda a: fnp.linalg.cholesky(a, symmetrize_input=False),
                            lambda r: (spd(r, 3, 3),)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_check_grads_order2(name: str, rng: np.random.Generator) -> None:
    f, make = FUNCTIONS[name]
    check_grads(f, make(rng), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_grad_matches_numpy_finite_differences(name: str, rng: np.random.Generator) -> None:
    f, make = FUNCTIONS[name]
    args = make(rng)
    w = [rng.standard_normal(np.shape(o)) for o in tree_leaves(f(*args))]

    def loss(*a: Any) -> Any:
        return sum(fnp.sum(o * wi) for o, wi in zip(tree_leaves(f(*a)), w, strict=True))

    grads = fg.grad(loss, argnums=tuple(range(len(args))))(*args)
    for i, g in enumerate(grads):
        def loss_i(x: np.ndarray, i: int = i) -> float:
            full = list(args)
            full[i] = x
            return float(loss(*full))
        np.testing.assert_allclose(g, fd_grad(loss_i, args[i]), rtol=1e-6, atol=1e-8)


def test_closed_forms(rng: np.random.Generator) -> None:
    a = well_conditioned(rng, 3, 3)
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(fg.grad(fnp.linalg.det)(a), np.linalg.det(a) * inv.T,
                               rtol=1e-12)
    np.testing.assert_allclose(fg.grad(lambda a: fnp.linalg.slogdet(a)[1])(a), inv.T,
                               rtol=1e-12)
    t = rng.standard_normal((3, 3))
    _, t_inv = fg.jvp(fnp.linalg.inv, (a,), (t,))
    np.testing.assert_allclose(t_inv, -inv @ t @ inv, rtol=1e-12, atol=1e-14)
    # sign is piecewise constant: no derivative
    _, t_sign = fg.jvp(lambda a: fnp.linalg.slogdet(a).sign, (a,), (t,))
    np.testing.assert_array_equal(t_sign, 0.0)


def test_cholesky_tangent_is_lower_triangular_and_consistent(rng: np.random.Generator) -> None:
    s = spd(rng, 4, 4)
    t = rng.standard_normal((4, 4))
    t = t + t.T
    L, dL = fg.jvp(fnp.linalg.cholesky, (s,), (t,))
    np.testing.assert_array_equal(np.triu(dL, 1), 0.0)
    np.testing.assert_allclose(dL @ L.T + L @ dL.T, t, rtol=1e-12, atol=1e-12)  # d(L L^T) = dA


def test_hessian_of_logdet_is_minus_kron_of_inverses(rng: np.random.Generator) -> None:
    a = well_conditioned(rng, 3, 3)
    inv = np.linalg.inv(a)
    hess = fg.hessian(lambda a: fnp.linalg.slogdet(a)[1])(a)
    want = -np.einsum("li,jk->ijkl", inv, inv)  # d/dA_kl (A^-T)_ij = -(A^-1)_jk (A^-1)_li
    np.testing.assert_allclose(hess, want, rtol=1e-11, atol=1e-13)


def test_against_jax(jax_x64: Any, rng: np.random.Generator) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    a, s = well_conditioned(rng, 3, 3), spd(rng, 3, 3)
    b = rng.standard_normal(3)
    w = rng.standard_normal((3, 3))
    pairs = [
        (lambda a: fnp.sum(fnp.linalg.cholesky(a) * w),
         lambda a: jnp.sum(jnp.linalg.cholesky(a) * w), s),
        (lambda a: fnp.sum(fnp.linalg.inv(a) * w), lambda a: jnp.sum(jnp.linalg.inv(a) * w), a),
        (lambda a: fnp.sum(fnp.linalg.solve(a, b) ** 3),
         lambda a: jnp.sum(jnp.linalg.solve(a, b) ** 3), a),
        (fnp.linalg.det, jnp.linalg.det, a),
    ]
    for f, f_jax, x in pairs:
        np.testing.assert_allclose(fg.grad(f)(x), np.asarray(jax.grad(f_jax)(x)), rtol=1e-11,
                                   atol=1e-13)
        np.testing.assert_allclose(fg.hessian(f)(x), np.asarray(jax.hessian(f_jax)(x)),
                                   rtol=1e-9, atol=1e-11)


# == vmap and staging =========================================================================

def test_vmap_equals_loop(rng: np.random.Generator) -> None:
    a = well_conditioned(rng, 4, 3, 3)
    b = rng.standard_normal((4, 3))
    s = spd(rng, 4, 3, 3)
    np.testing.assert_allclose(fg.vmap(fnp.linalg.solve)(a, b),
                               [np.linalg.solve(x, y) for x, y in zip(a, b,
                                                                      strict=True)], rtol=1e-13)
    np.testing.assert_allclose(fg.vmap(fnp.linalg.solve, in_axes=(None, 0))(a[0], b),
                               [np.linalg.solve(a[0], y) for y in b], rtol=1e-13)
    np.testing.assert_allclose(fg.vmap(fnp.linalg.solve, in_axes=(0, None))(a, b[0]),
                               [np.linalg.solve(x, b[0]) for x in a], rtol=1e-13)
    moved = np.moveaxis(s, 0, 2)  # batch on the last axis
    np.testing.assert_allclose(fg.vmap(fnp.linalg.cholesky, in_axes=2)(moved),
                               np.linalg.cholesky(s), rtol=1e-13)
    sign, logdet = fg.vmap(fnp.linalg.slogdet, in_axes=1)(np.moveaxis(a, 0, 1))
    np.testing.assert_allclose(logdet, np.linalg.slogdet(a).logabsdet, rtol=1e-13)
    np.testing.assert_array_equal(sign, np.linalg.slogdet(a).sign)
    per_example = fg.vmap(fg.grad(fnp.linalg.det))(a)
    np.testing.assert_allclose(per_example, [fg.grad(fnp.linalg.det)(x) for x in a], rtol=1e-13)
    assert fg.vmap(fnp.linalg.inv)(np.zeros((0, 3, 3))).shape == (0, 3, 3)


def test_staged_equals_eager(rng: np.random.Generator) -> None:
    a, s = well_conditioned(rng, 2, 3, 3), spd(rng, 3, 3)

    def f(a: Any, s: Any) -> Any:
        return fnp.linalg.det(a), fnp.linalg.inv(a), fnp.linalg.cholesky(s)

    closed = fg.make_jaxpr(f)(a, s)
    names = {e.primitive.name for e in closed.eqns}
    assert {"solve", "slogdet", "cholesky"} <= names
    for got, want in zip(eval_jaxpr(closed.jaxpr, closed.consts, a, s), f(a, s), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    loss = lambda a: fnp.sum(fnp.linalg.inv(a) ** 2)  # noqa: E731
    gj = fg.make_jaxpr(fg.grad(loss))(a)
    np.testing.assert_allclose(eval_jaxpr(gj.jaxpr, gj.consts, a)[0], fg.grad(loss)(a),
                               rtol=1e-13)
