"""Complex numbers follow JAX's convention in every rule (issue 15).

JAX's VJPs are transposes of real-linear maps, never conjugated: for a real-valued ``f`` of a
complex ``z = x + iy``, ``grad(f)(z) = df/dx - i df/dy``, so ``grad(|z|^2)(z) = 2 conj(z)``;
for holomorphic ``f``, ``grad(f, holomorphic=True)(z) = f'(z)``. Every value here is compared
with ``jax`` (x64) or with finite differences of the real and imaginary parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_specs import staged
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp

Z0 = np.complex128(1.1 + 1.2j)
ZV = np.array([1.1 + 1.2j, -0.7 + 0.3j, 0.4 - 2.0j])


def _jax() -> Any:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _cases(m: Any) -> dict[str, Callable[[Any], Any]]:
    """Real-valued functions of a complex scalar, written once for fnp and jnp."""
    def vec(z: Any) -> Any:
        return m.stack([z, z * 2j, z + 1])
    return {
        "abs_squared": lambda z: m.abs(z) ** 2,
        "abs_of_product": lambda z: m.abs(z * (2 + 3j)),
        "real": lambda z: m.real(z * z),
        "imag": lambda z: m.imag(z * z * (1 - 2j)),
        "conj": lambda z: m.real(m.conj(z) * z * (0.3 + 1j)),
        "conjugate": lambda z: m.imag(m.conjugate(z) * (2 + 1j)),
        "angle": lambda z: m.angle(z * (1 + 1j)),
        "angle_deg": lambda z: m.angle(z, deg=True),
        "exp_sin": lambda z: m.real(m.exp(z)) + m.imag(m.sin(z)),
        "abs_log": lambda z: m.abs(m.log(z)),
        "sqrt": lambda z: m.imag(m.sqrt(z)),
        "div": lambda z: m.real(1 / (z + 2j)),
        "pow": lambda z: m.abs(z ** 3),
        "tanh": lambda z: m.real(m.tanh(z)),
        "methods": lambda z: (z * z).real + (z.conj() * 2j).imag + z.conjugate().real,
        "sum_abs": lambda z: m.abs(m.sum(vec(z))),
        "prod": lambda z: m.real(m.prod(vec(z))),
        "mean_abs": lambda z: m.mean(m.abs(vec(z))),
        "norm": lambda z: m.linalg.norm(vec(z)),
        "norm_axis": lambda z: m.sum(m.linalg.norm(m.stack([vec(z), vec(z * z)]), axis=1)),
        "dot": lambda z: m.real(m.dot(vec(z), vec(3 * z))),
        "matmul_abs": lambda z: m.abs(vec(z) @ vec(z - 1j)),
        "where": lambda z: m.abs(m.where(m.abs(z) > 1, z * z, z)),
        "square": lambda z: m.real(m.square(z)),
        "reciprocal": lambda z: m.imag(m.reciprocal(z)),
    }


NAMES = list(_cases(fnp))


@pytest.mark.parametrize("name", NAMES)
def test_grad_of_real_function_of_complex_matches_jax(name: str) -> None:
    jax = _jax()
    f, fj = _cases(fnp)[name], _cases(jax.numpy)[name]
    np.testing.assert_allclose(f(Z0), fj(Z0), rtol=1e-12)
    want = complex(jax.grad(fj)(Z0))
    np.testing.assert_allclose(fg.grad(f)(Z0), want, rtol=1e-10)
    np.testing.assert_allclose(fg.grad(staged(f))(Z0), want, rtol=1e-10)
    np.testing.assert_allclose(fg.jit(fg.grad(f))(Z0), want, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_grad_is_dfdx_minus_i_dfdy(name: str) -> None:
    # JAX's convention, checked without JAX: finite differences along the real and
    # imaginary axes.
    f = _cases(fnp)[name]
    h = 1e-6
    dfdx = (float(f(Z0 + h)) - float(f(Z0 - h))) / (2 * h)
    dfdy = (float(f(Z0 + 1j * h)) - float(f(Z0 - 1j * h))) / (2 * h)
    np.testing.assert_allclose(fg.grad(f)(Z0), dfdx - 1j * dfdy, rtol=1e-6, atol=1e-8)


def test_issue_repros() -> None:
    np.testing.assert_allclose(fg.grad(lambda z: fnp.abs(z) ** 2)(1 + 2j), 2 - 4j)
    with pytest.raises(TypeError, match="real-valued output"):
        fg.grad(lambda x: x * (1 + 0.2j))(1.0)
    n = fnp.linalg.norm(np.array([1 + 2j, 3 - 1j]))
    assert n.dtype == np.float64
    np.testing.assert_allclose(n, np.linalg.norm(np.array([1 + 2j, 3 - 1j])))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_abs_is_real_eager_and_staged_and_its_tangent_is_real(dtype: Any) -> None:
    jax = _jax()
    z, t = ZV.astype(dtype), (ZV * (0.5 - 1j)).astype(dtype)
    real = np.finfo(dtype).dtype
    assert fnp.abs(z).dtype == real
    assert fg.make_jaxpr(fnp.abs)(z).out_avals[0].dtype == real
    out, tan = fg.jvp(fnp.abs, (z,), (t,))
    want_out, want_tan = jax.jvp(jax.numpy.abs, (z,), (t,))
    assert out.dtype == real and tan.dtype == real
    tol = 1e-12 if dtype == np.complex128 else 1e-5
    np.testing.assert_allclose(out, want_out, rtol=tol)
    np.testing.assert_allclose(tan, want_tan, rtol=tol)


def test_abs_at_complex_zero_has_zero_derivative_as_jax() -> None:
    jax = _jax()
    z0 = np.complex128(0)
    np.testing.assert_array_equal(fg.grad(fnp.abs)(z0), complex(jax.grad(jax.numpy.abs)(z0)))
    _, t = fg.jvp(fnp.abs, (z0,), (np.complex128(1 + 1j),))
    assert t == 0.0 and t.dtype == np.float64


@pytest.mark.parametrize("fn", ["sin", "exp", "square", "reciprocal", "sqrt", "log", "tanh"])
def test_holomorphic_grad_is_the_complex_derivative(fn: str) -> None:
    jax = _jax()
    f, fj = getattr(fnp, fn), getattr(jax.numpy, fn)
    want = complex(jax.grad(fj, holomorphic=True)(Z0))
    np.testing.assert_allclose(fg.grad(f, holomorphic=True)(Z0), want, rtol=1e-12)
    h = 1e-6  # f'(z) along the real axis equals the complex derivative
    np.testing.assert_allclose(want, (complex(f(Z0 + h)) - complex(f(Z0 - h))) / (2 * h),
                               rtol=1e-6)


def test_vjp_of_complex_output_is_unconjugated_transpose_as_jax() -> None:
    jax = _jax()

    def f(m: Any) -> Callable[[Any], Any]:
        return lambda z: m.conj(z) * z * (1 + 2j) + m.real(z) - 3j * m.imag(z)
    ct = np.array([0.3 - 0.1j, 1.0 + 2.0j, -1.0j])
    _, pull = fg.vjp(f(fnp), ZV)
    _, pull_j = jax.vjp(f(jax.numpy), ZV)
    np.testing.assert_allclose(pull(ct)[0], pull_j(ct)[0], rtol=1e-12)
    _, tan = fg.jvp(f(fnp), (ZV,), (ct,))
    _, tan_j = jax.jvp(f(jax.numpy), (ZV,), (ct,))
    np.testing.assert_allclose(tan, tan_j, rtol=1e-12)


def test_complex_parts_under_vmap_match_a_loop() -> None:
    def f(z: Any) -> Any:
        return fnp.real(z) * fnp.imag(z) + fnp.angle(z) + fnp.abs(fnp.conj(z) * 1j)
    zs = np.stack([ZV, ZV * 1j, ZV + 1])
    want = np.stack([f(z) for z in zs])
    np.testing.assert_allclose(fg.vmap(f)(zs), want, rtol=1e-14)
    g = fg.vmap(fg.grad(lambda z: fnp.sum(f(z))))(zs)
    np.testing.assert_allclose(g, np.stack([fg.grad(lambda z: fnp.sum(f(z)))(z) for z in zs]),
                               rtol=1e-14)


@pytest.mark.parametrize("fn", ["real", "imag", "conj", "conjugate", "angle"])
@pytest.mark.parametrize("x", [ZV, np.array([1.5, -2.0, 0.0]), np.array([3, -1]),
                               np.float32(2.0), 1 + 2j, 2.0], ids=repr)
def test_complex_part_functions_match_numpy(fn: str, x: Any) -> None:
    got, want = getattr(fnp, fn)(x), getattr(np, fn)(x)
    np.testing.assert_array_equal(got, want)
    assert np.asarray(got).dtype == np.asarray(want).dtype


def test_lax_complex_parts_refuse_real_operands() -> None:
    for fn in (fg.lax.real, fg.lax.imag, fg.lax.conj):
        with pytest.raises(TypeError, match="requires a complex operand"):
            fg.make_jaxpr(fn)(np.ones(2))
    with pytest.raises(TypeError, match="real floating"):
        fg.lax.complex(np.ones(2) * 1j, np.ones(2))
    np.testing.assert_array_equal(fg.lax.complex(np.ones(2), np.full(2, 2.0)), [1 + 2j] * 2)


def test_casting_complex_to_real_keeps_the_real_part_without_warning() -> None:
    # (on ndarrays fnp.astype is NumPy's, ComplexWarning included, as jnp.astype warns)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(staged(lambda z: fnp.astype(z, np.float64))(ZV), ZV.real)
        np.testing.assert_array_equal(
            fg.grad(lambda z: fnp.sum(fnp.astype(z * 2j, np.float64)))(ZV), np.full(3, 2j))
