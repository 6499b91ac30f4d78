"""fnp.linalg's decompositions (eigh, svd, qr, eig) and the composites built on them (pinv,
lstsq, norms, cond, matrix_rank, matrix_power, multi_dot, the array API's names), and complex
inputs to det/slogdet/solve/inv/cholesky: values against numpy.linalg, derivatives against
finite differences (check_grads to order 2) and jax.grad/jax.jvp, vmap against a loop, staged
programs against eager ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from specs_linalg import sv_separated, sym_separated

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import eval_jaxpr
from funcgrad.lax import linalg as lax_linalg
from funcgrad.test_util import check_grads

la = fnp.linalg


def close(got: Any, want: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


# == values against NumPy =====================================================================

def test_decompositions_match_numpy(rng: np.random.Generator) -> None:
    a, s = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 3))
    sym = s + np.swapaxes(s, -1, -2)
    w, v = la.eigh(sym)
    close(w, np.linalg.eigh(sym).eigenvalues)
    close(np.abs(v), np.abs(np.linalg.eigh(sym).eigenvectors))
    close(la.eigvalsh(s, symmetrize_input=False), np.linalg.eigvalsh(s))
    close(la.eigvalsh(s, "U", symmetrize_input=False), np.linalg.eigvalsh(s, "U"))
    for full in (True, False):
        for got, want in zip(la.svd(a, full_matrices=full), np.linalg.svd(a, full_matrices=full),
                             strict=True):
            close(got, want)
    close(la.svd(a, compute_uv=False), np.linalg.svd(a, compute_uv=False))
    close(la.svdvals(a), np.linalg.svdvals(a))
    for mode in ("reduced", "complete"):
        for got, want in zip(la.qr(a, mode), np.linalg.qr(a, mode), strict=True):
            close(got, want)
    close(la.qr(a, "r"), np.linalg.qr(a, "r"))
    ew, ev = la.eig(s)
    close(ew, np.linalg.eig(s).eigenvalues)
    close(ev, np.linalg.eig(s).eigenvectors)
    assert ew.dtype == np.complex128 and la.eigvals(sym).dtype == np.complex128  # as JAX
    close(la.eigvals(s), np.linalg.eigvals(s))


def test_composites_match_numpy(rng: np.random.Generator) -> None:
    a, s = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 3))
    v, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    for ord in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        close(la.norm(a, ord, axis=(1, 2)), np.linalg.norm(a, ord, axis=(1, 2)))
        close(la.norm(a, ord, axis=(2, 0), keepdims=True),
              np.linalg.norm(a, ord, axis=(2, 0), keepdims=True))
        close(la.norm(a[0], ord), np.linalg.norm(a[0], ord))
        close(la.matrix_norm(a, ord=ord or "fro"), np.linalg.matrix_norm(a, ord=ord or "fro"))
        close(la.cond(s, ord), np.linalg.cond(s, ord), rtol=1e-9)
    for ord in (None, 1, 2, 3, 0.5, -1, -2.5, 0, np.inf, -np.inf):
        close(la.norm(v, ord, axis=1), np.linalg.norm(v, ord, axis=1))
        if ord is not None:
            close(la.vector_norm(a, ord=ord, axis=(0, 2), keepdims=True),
                  np.linalg.vector_norm(a, ord=ord, axis=(0, 2), keepdims=True))
            close(la.vector_norm(a, ord=ord), np.linalg.vector_norm(a, ord=ord))
    close(la.pinv(a), np.linalg.pinv(a))
    close(la.pinv(np.diag([2.0, 0.0, 1e-20])), np.diag([0.5, 0.0, 0.0]))
    for n in (0, 1, 2, 3, 5, -1, -3):
        close(la.matrix_power(s, n), np.linalg.matrix_power(s, n), rtol=1e-9)
    close(la.matrix_rank(s), np.linalg.matrix_rank(s))
    close(la.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])), 1)
    close(la.matrix_rank(np.zeros(3)), 0)
    close(la.multi_dot([b, a[0], s[0], v[0]]), np.linalg.multi_dot([b, a[0], s[0], v[0]]))
    close(la.multi_dot([a[0], s[0], s[1]]), np.linalg.multi_dot([a[0], s[0], s[1]]))
    close(la.cross(v, v[::-1]), np.linalg.cross(v, v[::-1]))
    close(la.cross(v.T, v.T[:, ::-1], axis=0), np.linalg.cross(v.T, v.T[:, ::-1], axis=0))
    close(la.vecdot(a, a[0, 0]), np.linalg.vecdot(a, a[0, 0]))
    close(la.vecdot(a + 1j, a * 2j, axis=0), np.linalg.vecdot(a + 1j, a * 2j, axis=0))
    close(la.outer(v[0], b), np.linalg.outer(v[0], b))
    close(la.tensordot(a, s[0], axes=1), np.linalg.tensordot(a, s[0], axes=1))
    close(la.matrix_transpose(a), np.linalg.matrix_transpose(a))
    close(la.matmul(a, s), np.linalg.matmul(a, s))
    for k in (-2, -1, 0, 1):
        close(la.trace(a, offset=k), np.linalg.trace(a, offset=k))
        close(la.diagonal(a, offset=k), np.linalg.diagonal(a, offset=k))


def test_lstsq_matches_numpy(rng: np.random.Generator) -> None:
    a = rng.standard_normal((4, 3))
    cases = [(a, rng.standard_normal(4)), (a, rng.standard_normal((4, 2))),
             (a.T, rng.standard_normal(3)),                     # underdetermined: no residuals
             (np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]), rng.standard_normal(3))]  # rank 1
    for x, y in cases:
        for got, want in zip(la.lstsq(x, y), np.linalg.lstsq(x, y), strict=True):
            assert np.shape(got) == np.shape(want)
            close(got, want)
    sol, res, rank, s = fg.jit(la.lstsq)(a, cases[0][1])  # traced: residuals always returned
    close(sol, np.linalg.lstsq(a, cases[0][1])[0])
    close(res, np.linalg.lstsq(a, cases[0][1])[1])


def test_complex_inputs_match_numpy(rng: np.random.Generator) -> None:
    c = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    b = rng.standard_normal((2, 3, 2)) + 1j * rng.standard_normal((2, 3, 2))
    h = c @ np.conj(np.swapaxes(c, -1, -2))
    close(la.det(c), np.linalg.det(c))
    close(la.inv(c), np.linalg.inv(c))
    sign, logdet = la.slogdet(c)
    close(sign, np.linalg.slogdet(c).sign)
    close(logdet, np.linalg.slogdet(c).logabsdet)
    assert logdet.dtype == np.float64 and sign.dtype == np.complex128
    close(la.solve(c, b), np.linalg.solve(c, b))
    close(la.solve(c.real, b), np.linalg.solve(c.real, b))  # real a, complex b: promoted
    close(la.cholesky(h), np.linalg.cholesky(h))
    close(la.cholesky(h, upper=True), np.linalg.cholesky(h, upper=True))
    a = rng.standard_normal((2, 4, 3)) + 1j * rng.standard_normal((2, 4, 3))
    for full in (True, False):
        for got, want in zip(la.svd(a, full_matrices=full), np.linalg.svd(a, full_matrices=full),
                             strict=True):
            close(got, want)
    assert la.svdvals(a).dtype == np.float64
    for got, want in zip(la.qr(a), np.linalg.qr(a), strict=True):
        close(got, want)
    close(la.pinv(a), np.linalg.pinv(a))
    for got, want in zip(la.lstsq(a[0], b[0, :, 0].repeat(2)[:4]),
                         np.linalg.lstsq(a[0], b[0, :, 0].repeat(2)[:4]), strict=True):
        close(got, want)
    close(la.norm(a, "nuc", axis=(1, 2)), np.linalg.norm(a, "nuc", axis=(1, 2)))
    w, v = la.eigh(h)
    assert w.dtype == np.float64 and v.dtype == np.complex128
    close(w, np.linalg.eigvalsh(h))
    close((v * w[..., None, :]) @ np.conj(np.swapaxes(v, -1, -2)), h)
    close(la.eigvalsh(np.tril(h) + 5j * np.triu(np.ones((3, 3)), 1), symmetrize_input=False),
          np.linalg.eigvalsh(np.tril(h) + 5j * np.triu(np.ones((3, 3)), 1)))


def test_errors() -> None:
    with pytest.raises(TypeError, match="floating"):
        lax_linalg.qr(np.eye(2, dtype=int))
    with pytest.raises(ValueError, match="mode"):
        la.qr(np.eye(2), "raw")
    with pytest.raises(ValueError, match="ord"):
        la.norm(np.eye(2), 3)
    with pytest.raises(ValueError, match="size 3"):
        la.cross(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="square"):
        la.matrix_power(np.ones((2, 3)), 2)
    with pytest.raises(TypeError, match="integer"):
        la.matrix_power(np.eye(2), 1.5)
    with pytest.raises(ValueError, match="2-d"):
        la.multi_dot([np.ones(2), np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="square"):
        la.eigh(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="eigenvectors"):
        fg.grad(lambda a: fnp.sum(fnp.abs(la.eig(a).eigenvectors)))(np.eye(2) + np.triu(
            np.ones((2, 2))))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        fg.grad(lambda a: fnp.sum(la.svd(a).U))(np.ones((3, 2)) + np.eye(3, 2))
    with pytest.raises(NotImplementedError, match="m >= n"):
        fg.grad(lambda a: fnp.sum(la.qr(a).R))(np.ones((2, 3)) + np.eye(2, 3))


# == derivatives ==============================================================================

W = np.random.default_rng(7).standard_normal((6, 6))


def _w(x: Any) -> np.ndarray:
    return W[: x.shape[-2], : x.shape[-1]]


def _eigh_loss(a: Any) -> Any:
    w, v = la.eigh(a)
    p = v[:, 1:] @ v[:, 1:].T  # the projector onto the top eigenspaces: gauge invariant
    return fnp.sum(w * fnp.arange(4.0)) + fnp.sum(p * _w(p))


def _svd_loss(a: Any) -> Any:
    u, s, vt = la.svd(a, full_matrices=False)
    return fnp.sum(s ** 2) + fnp.sum(u * u * _w(u)) + fnp.sum((vt * vt) * _w(vt).T.T)


def _qr_loss(a: Any) -> Any:
    q, r = la.qr(a)
    return fnp.sum(q * _w(q)) + fnp.sum(r * _w(r))


LOSSES: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = {
    # name: (funcgrad loss, its jax.numpy twin builder, argument maker)
    "eigh": (_eigh_loss, lambda jnp: lambda a: (
        lambda w, v: jnp.sum(w * jnp.arange(4.0))
        + jnp.sum((v[:, 1:] @ v[:, 1:].T) * W[:4, :4]))(*jnp.linalg.eigh(a)),
        lambda r: sym_separated(r, 4, 4)),
    "eigvalsh_triangle": (lambda a: fnp.sum(la.eigvalsh(a, symmetrize_input=False) ** 3),
                          lambda jnp: lambda a: jnp.sum(
                              jnp.linalg.eigvalsh(a, symmetrize_input=False) ** 3),
                          lambda r: sym_separated(r, 3, 3) + np.triu(r.standard_normal((3, 3)), 1)),
    "svd_tall": (_svd_loss, lambda jnp: lambda a: (
        lambda u, s, vt: jnp.sum(s ** 2) + jnp.sum(u * u * W[:5, :3])
        + jnp.sum(vt * vt * W[:3, :3]))(*jnp.linalg.svd(a, full_matrices=False)),
        lambda r: sv_separated(r, 5, 3)),
    "svd_wide": (_svd_loss, lambda jnp: lambda a: (
        lambda u, s, vt: jnp.sum(s ** 2) + jnp.sum(u * u * W[:3, :3])
        + jnp.sum(vt * vt * W[:3, :5]))(*jnp.linalg.svd(a, full_matrices=False)),
        lambda r: sv_separated(r, 3, 5)),
    "qr": (_qr_loss, lambda jnp: lambda a: (
        lambda q, r: jnp.sum(q * W[:5, :3]) + jnp.sum(r * W[:3, :3]))(*jnp.linalg.qr(a)),
        lambda r: sv_separated(r, 5, 3)),
    "pinv": (lambda a: fnp.sum(la.pinv(a) * _w(la.pinv(a))),
             lambda jnp: lambda a: jnp.sum(jnp.linalg.pinv(a) * W[:3, :4]),
             lambda r: sv_separated(r, 4, 3)),
    "norm_nuc_2": (lambda a: la.norm(a, "nuc") + la.norm(a, 2) * la.norm(a, -2),
                   lambda jnp: lambda a: jnp.linalg.norm(a, "nuc")
                   + jnp.linalg.norm(a, 2) * jnp.linalg.norm(a, -2),
                   lambda r: sv_separated(r, 4, 3)),
    "cond": (la.cond, lambda jnp: jnp.linalg.cond, lambda r: sv_separated(r, 3, 3)),
    "eigvals": (lambda a: fnp.sum(fnp.abs(la.eigvals(a)) ** 2 + fnp.real(la.eigvals(a))),
                lambda jnp: lambda a: jnp.sum(jnp.abs(jnp.linalg.eigvals(a)) ** 2
                                              + jnp.real(jnp.linalg.eigvals(a))),
                lambda r: r.standard_normal((4, 4))),
    "lstsq": (lambda a: fnp.sum(la.lstsq(a, W[:5, 0])[0] ** 2),
              lambda jnp: lambda a: jnp.sum(jnp.linalg.lstsq(a, W[:5, 0])[0] ** 2),
              lambda r: sv_separated(r, 5, 3)),
    "matrix_power": (lambda a: fnp.sum(la.matrix_power(a, -3) * W[:3, :3]),
                     lambda jnp: lambda a: jnp.sum(jnp.linalg.matrix_power(a, -3) * W[:3, :3]),
                     lambda r: sv_separated(r, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_check_grads_order2(name: str, rng: np.random.Generator) -> None:
    f, _, make = LOSSES[name]
    order = 1 if name == "eigvals" else 2  # eigvals: its jvp is tested against JAX below
    check_grads(f, (make(rng),), order=order, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


# JAX's eigh JVP assumes a symmetric tangent, so with symmetrize_input=False its gradient is
# that of the symmetrized function; funcgrad's is the derivative of the function computed (the
# triangle LAPACK reads), which check_grads confirms above.
@pytest.mark.parametrize("name", sorted(set(LOSSES) - {"eigvalsh_triangle"}))
def test_grads_match_jax(name: str, jax_x64: Any, rng: np.random.Generator) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    f, f_jax_of, make = LOSSES[name]
    f_jax, x = f_jax_of(jnp), make(rng)
    close(f(x), f_jax(x), rtol=1e-9)
    close(fg.grad(f)(x), jax.grad(f_jax)(x), rtol=1e-7, atol=1e-9)
    t = rng.standard_normal(x.shape)
    close(fg.jvp(f, (x,), (t,))[1], jax.jvp(f_jax, (x,), (t,))[1], rtol=1e-7, atol=1e-9)


def test_complex_grads_match_jax(jax_x64: Any, rng: np.random.Generator) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    c = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)) + 2 * np.eye(3)
    h = c @ c.conj().T
    b = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    w = rng.standard_normal((3, 3))
    pairs = [
        (lambda a: fnp.sum(fnp.abs(la.solve(a, b)) ** 2),
         lambda a: jnp.sum(jnp.abs(jnp.linalg.solve(a, b)) ** 2), c),
        (lambda a: fnp.sum(fnp.real(la.inv(a)) * w + fnp.imag(la.inv(a))),
         lambda a: jnp.sum(jnp.real(jnp.linalg.inv(a)) * w + jnp.imag(jnp.linalg.inv(a))), c),
        (lambda a: fnp.abs(la.det(a)) + fnp.real(la.det(a)),
         lambda a: jnp.abs(jnp.linalg.det(a)) + jnp.real(jnp.linalg.det(a)), c),
        (lambda a: la.slogdet(a)[1] + fnp.imag(la.slogdet(a)[0]),
         lambda a: jnp.linalg.slogdet(a)[1] + jnp.imag(jnp.linalg.slogdet(a)[0]), c),
        (lambda a: (lambda r: fnp.sum(r.eigenvalues * fnp.arange(3.0))
                    + fnp.sum(fnp.abs(r.eigenvectors) ** 2 * w))(la.eigh(a)),
         lambda a: (lambda r: jnp.sum(r.eigenvalues * jnp.arange(3.0))
                    + jnp.sum(jnp.abs(r.eigenvectors) ** 2 * w))(jnp.linalg.eigh(a)), h),
        (lambda a: (lambda r: fnp.sum(r.S * fnp.arange(3.0)) + fnp.sum(fnp.abs(r.U) ** 2 * w)
                    + fnp.sum(fnp.real(r.U[:, :2] @ r.Vh[:2]) * w))(la.svd(a)),
         lambda a: (lambda r: jnp.sum(r.S * jnp.arange(3.0)) + jnp.sum(jnp.abs(r.U) ** 2 * w)
                    + jnp.sum(jnp.real(r.U[:, :2] @ r.Vh[:2]) * w))(jnp.linalg.svd(a)), c),
        (lambda a: (lambda r: fnp.sum(fnp.real(r.Q) * w + fnp.imag(r.R)))(la.qr(a)),
         lambda a: (lambda r: jnp.sum(jnp.real(r.Q) * w + jnp.imag(r.R)))(jnp.linalg.qr(a)), c),
        (lambda a: fnp.sum(fnp.abs(la.eigvals(a)) ** 2 + fnp.imag(la.eigvals(a))),
         lambda a: jnp.sum(jnp.abs(jnp.linalg.eigvals(a)) ** 2 + jnp.imag(jnp.linalg.eigvals(a))),
         c),
        (lambda a: fnp.sum(fnp.real(la.pinv(a)) * w + fnp.imag(la.pinv(a)) ** 2),
         lambda a: jnp.sum(jnp.real(jnp.linalg.pinv(a)) * w + jnp.imag(jnp.linalg.pinv(a)) ** 2),
         c),
        (lambda a: fnp.sum(fnp.real(la.cholesky(a)) * w + fnp.imag(la.cholesky(a)) * w.T),
         lambda a: jnp.sum(jnp.real(jnp.linalg.cholesky(a)) * w
                           + jnp.imag(jnp.linalg.cholesky(a)) * w.T), h),
    ]
    for f, f_jax, x in pairs:
        close(f(x), f_jax(x))
        close(fg.grad(f)(x), jax.grad(f_jax)(x), rtol=1e-9, atol=1e-11)
        t = rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
        close(fg.jvp(f, (x,), (t,))[1], jax.jvp(f_jax, (x,), (t,))[1], rtol=1e-9, atol=1e-11)


def test_pinv_grad_at_repeated_singular_values(jax_x64: Any, rng: np.random.Generator) -> None:
    # An orthogonal matrix has all singular values 1: the SVD's derivative is infinite there,
    # the pseudo-inverse's (Golub-Pereyra, a custom_jvp as JAX) is not.
    jax, jnp = jax_x64, jax_x64.numpy
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    w = rng.standard_normal((3, 3))
    g = fg.grad(lambda a: fnp.sum(la.pinv(a) * w))(q)
    close(g, jax.grad(lambda a: jnp.sum(jnp.linalg.pinv(a) * w))(q), rtol=1e-9)
    close(g, -q @ w @ q)  # pinv = inv there: grad of sum(w * inv(A)) = -A^-T w A^-T
    t = rng.standard_normal((3, 3))
    close(fg.jvp(la.pinv, (q,), (t,))[1], -q.T @ t @ q.T)


def test_eigvals_jvp_matches_jax(jax_x64: Any, rng: np.random.Generator) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    a, t = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    close(fg.jvp(la.eigvals, (a,), (t,))[1], jax.jvp(jnp.linalg.eigvals, (a,), (t,))[1],
          rtol=1e-8)


def test_closed_forms(rng: np.random.Generator) -> None:
    s = sym_separated(rng, 4, 4)
    w, v = np.linalg.eigh(s)
    # d lambda_i / dA = v_i v_i^T (symmetric input, symmetrized by eigh)
    close(fg.grad(lambda a: la.eigvalsh(a)[2])(s), np.outer(v[:, 2], v[:, 2]))
    a = sv_separated(rng, 4, 3)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    close(fg.grad(lambda a: la.svdvals(a)[0])(a), np.outer(u[:, 0], vt[0]))
    close(fg.grad(lambda a: la.norm(a, "nuc"))(a), u @ vt)  # d ||A||_* = U V^T
    # eigenvalue derivatives survive a repeated eigenvalue elsewhere in the spectrum
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    d = q @ np.diag([1.0, 1.0, 3.0]) @ q.T
    close(fg.grad(lambda a: la.eigvalsh(a)[2])(d), np.outer(q[:, 2], q[:, 2]))
    close(fg.grad(lambda a: fnp.sum(la.eigvalsh(a)))(d), np.eye(3))


# == vmap and staging =========================================================================

def test_vmap_equals_loop(rng: np.random.Generator) -> None:
    s, a = sym_separated(rng, 3, 4, 4), rng.standard_normal((3, 4, 2))
    fns: list[tuple[Callable[..., Any], np.ndarray]] = [
        (lambda x: la.eigh(x).eigenvalues, s), (lambda x: la.svd(x).S, a),
        (lambda x: la.qr(x).R, a), (la.pinv, a), (lambda x: la.norm(x, "nuc"), a),
        (la.eigvals, s), (la.matrix_rank, a), (lambda x: la.lstsq(x, np.ones(4))[0], a),
        (lambda x: la.matrix_power(x, 3), s), (lambda x: la.cond(x, 1), s),
    ]
    for f, x in fns:
        want = np.stack([np.asarray(f(xi)) for xi in x])
        close(fg.vmap(f)(x), want)
        close(fg.vmap(f, in_axes=2)(np.moveaxis(x, 0, 2)), want)
    per_example = fg.vmap(fg.grad(_eigh_loss))(s)
    close(per_example, np.stack([fg.grad(_eigh_loss)(x) for x in s]))


def test_staged_equals_eager(rng: np.random.Generator) -> None:
    s, a = sym_separated(rng, 4, 4), sv_separated(rng, 5, 3)

    def f(s: Any, a: Any) -> Any:
        return (la.eigh(s), la.svd(a, full_matrices=False), la.qr(a), la.eigvals(s),
                la.pinv(a), la.norm(a, 2))

    closed = fg.make_jaxpr(f)(s, a)
    assert {"eigh", "svd", "qr", "eig"} <= {e.primitive.name for e in closed.eqns}
    eager = fg.tree_util.tree_leaves(f(s, a))
    for got, want in zip(eval_jaxpr(closed.jaxpr, closed.consts, s, a), eager, strict=True):
        close(got, want, rtol=1e-13)
    for got, want in zip(fg.tree_util.tree_leaves(fg.jit(f)(s, a)), eager, strict=True):
        close(got, want, rtol=1e-13)
    g = fg.jit(fg.grad(lambda s, a: _eigh_loss(s) + _svd_loss(a), argnums=(0, 1)))(s, a)
    g_eager = fg.grad(lambda s, a: _eigh_loss(s) + _svd_loss(a), argnums=(0, 1))(s, a)
    for got, want in zip(g, g_eager, strict=True):
        close(got, want, rtol=1e-12)
    assert lax_linalg.svd(a, compute_uv=False).shape == (3,)
