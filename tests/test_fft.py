"""fg.numpy.fft and the lax ``fft`` primitive: values against numpy.fft for every function,
n/s/axes/norm; derivatives against jax.vjp/jvp and finite differences (check_grads to order
2); the adjoint identity for each transform kind; vmap against a loop; staged and jit against
eager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import eval_jaxpr
from funcgrad.core.pytree import tree_leaves
from funcgrad.lax.fft import FftType
from funcgrad.lax.fft import fft as lax_fft
from funcgrad.test_util import check_grads

F = fnp.fft
NORMS = (None, "backward", "ortho", "forward")


def close(got: Any, want: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def _crandn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


# == values against NumPy =====================================================================

ONE_D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
N_D = ("fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn")


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("norm", NORMS)
def test_one_dimensional_match_numpy(name: str, norm: str | None,
                                     rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 6, 5))
    z = x + 1j * rng.standard_normal(x.shape)
    arg = x if name in ("rfft", "ihfft") else z
    ours, theirs = getattr(F, name), getattr(np.fft, name)
    for n in (None, 4, 7, 8):
        for axis in (-1, 0, 1):
            got = ours(arg, n=n, axis=axis, norm=norm)
            want = theirs(arg, n=n, axis=axis, norm=norm)
            assert got.shape == want.shape and got.dtype == want.dtype
            close(got, want)


@pytest.mark.parametrize("name", N_D)
@pytest.mark.parametrize("norm", NORMS)
def test_n_dimensional_match_numpy(name: str, norm: str | None,
                                   rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4, 5))
    z = x + 1j * rng.standard_normal(x.shape)
    arg = x if name.startswith("rfft") else z
    ours, theirs = getattr(F, name), getattr(np.fft, name)
    nd = name.endswith("n")
    cases: list[dict[str, Any]] = [{}, {"axes": (0, 2)}, {"axes": (2, 0)}, {"s": (6, 3)},
                                   {"s": (2, 7), "axes": (0, 1)}]
    if nd:
        cases += [{"axes": (1,)}, {"s": (2, 3, 6)}, {"axes": (0, 1, 2)}]
    for kw in cases:
        got, want = ours(arg, norm=norm, **kw), theirs(arg, norm=norm, **kw)
        assert got.shape == want.shape and got.dtype == want.dtype, kw
        close(got, want)


def test_dtypes_and_promotion(rng: np.random.Generator) -> None:
    x32 = rng.standard_normal((4, 6)).astype(np.float32)
    assert F.fft(x32).dtype == np.complex64 == np.fft.fft(x32).dtype
    assert F.rfft(x32).dtype == np.complex64
    assert F.irfft(F.rfft(x32)).dtype == np.float32
    close(F.fft(x32), np.fft.fft(x32), rtol=1e-5, atol=1e-5)
    ints = np.arange(6)
    assert F.fft(ints).dtype == np.complex128 and F.rfft(ints).dtype == np.complex128
    close(F.rfft(ints), np.fft.rfft(ints))


def test_freqs_and_shifts(rng: np.random.Generator) -> None:
    for n in (1, 4, 5):
        for d in (1.0, 0.1):
            close(F.fftfreq(n, d), np.fft.fftfreq(n, d))
            close(F.rfftfreq(n, d), np.fft.rfftfreq(n, d))
    assert F.fftfreq(4, dtype=np.float32).dtype == np.float32
    x = rng.standard_normal((4, 5, 3))
    for axes in (None, 0, 1, (0, 2), (-1,)):
        close(F.fftshift(x, axes), np.fft.fftshift(x, axes))
        close(F.ifftshift(x, axes), np.fft.ifftshift(x, axes))
        close(F.ifftshift(F.fftshift(x, axes), axes), x)


def test_errors() -> None:
    with pytest.raises(ValueError, match="norm"):
        F.fft(np.ones(4), norm="bogus")
    with pytest.raises(ValueError, match="repeated axes"):
        F.fftn(np.ones((2, 2)), axes=(0, 0))
    with pytest.raises(ValueError, match="same length"):
        F.fftn(np.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises(ValueError, match="out of bounds"):
        F.fft(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError, match="real input"):
        F.rfft(np.ones(4) * 1j)
    with pytest.raises(ValueError, match="data points"):
        F.irfft(np.ones(1))
    with pytest.raises(ValueError, match="data points"):
        F.fft(np.ones(3), n=0)
    with pytest.raises(ValueError, match="fft_lengths"):
        lax_fft(np.ones(4, complex), "fft", (5,))
    with pytest.raises(TypeError, match="complex operand"):
        lax_fft(np.ones(4), FftType.FFT, (4,))
    with pytest.raises(ValueError, match="unknown fft_type"):
        lax_fft(np.ones(4), "dct", (4,))


# == derivatives ==============================================================================

def _losses(jnp: Any) -> dict[str, tuple[Callable[..., Any], Callable[..., Any], bool]]:
    """name: (funcgrad loss, jax loss, complex input?): real scalars of each transform."""
    w = np.random.default_rng(3).standard_normal((8, 12))

    def mix(f: Any, np_: Any) -> Callable[[Any], Any]:
        def loss(x: Any) -> Any:
            y = f(x)
            ww = w[: y.shape[-2], : y.shape[-1]]
            return np_.sum(np_.real(y) * ww) + np_.sum(np_.imag(y) ** 2) if y.dtype.kind == "c" \
                else np_.sum(y * ww + y ** 2)
        return loss

    pairs = {
        "fft_n7_ortho": (lambda x: F.fft(x, 7, norm="ortho"),
                         lambda x: jnp.fft.fft(x, 7, norm="ortho"), True),
        "ifft_axis0": (lambda x: F.ifft(x, axis=0), lambda x: jnp.fft.ifft(x, axis=0), True),
        "rfft_odd": (lambda x: F.rfft(x, 5), lambda x: jnp.fft.rfft(x, 5), False),
        "rfft_even_forward": (lambda x: F.rfft(x, norm="forward"),
                              lambda x: jnp.fft.rfft(x, norm="forward"), False),
        "irfft_even": (lambda x: F.irfft(x), lambda x: jnp.fft.irfft(x), True),
        "irfft_odd_ortho": (lambda x: F.irfft(x, 7, norm="ortho"),
                            lambda x: jnp.fft.irfft(x, 7, norm="ortho"), True),
        "fft2": (F.fft2, jnp.fft.fft2, True),
        "rfft2_s": (lambda x: F.rfft2(x, s=(3, 4)), lambda x: jnp.fft.rfft2(x, s=(3, 4)), False),
        "irfftn": (lambda x: F.irfftn(x, s=(4, 7)), lambda x: jnp.fft.irfftn(x, s=(4, 7)), True),
        "hfft": (F.hfft, jnp.fft.hfft, True),
        "ihfft": (F.ihfft, jnp.fft.ihfft, False),
        "fftshift_fftn": (lambda x: F.fftshift(F.fftn(x)),
                          lambda x: jnp.fft.fftshift(jnp.fft.fftn(x)), True),
    }
    return {k: (mix(f, fnp), mix(g, jnp), c) for k, (f, g, c) in pairs.items()}


NAMES = sorted(_losses(np))


@pytest.mark.parametrize("name", NAMES)
def test_grads_match_jax(name: str, jax_x64: Any, rng: np.random.Generator) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    f, f_jax, cplx = _losses(jnp)[name]
    x = _crandn(rng, 4, 6) if cplx else rng.standard_normal((4, 6))
    close(f(x), f_jax(x))
    close(fg.grad(f)(x), jax.grad(f_jax)(x), rtol=1e-9, atol=1e-11)
    t = _crandn(rng, 4, 6) if cplx else rng.standard_normal((4, 6))
    close(fg.jvp(f, (x,), (t,))[1], jax.jvp(f_jax, (x,), (t,))[1], rtol=1e-9, atol=1e-11)
    if not cplx:
        close(fg.hessian(f)(x), jax.hessian(f_jax)(x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", [n for n in NAMES if not _losses(np)[n][2]])
def test_check_grads_order2(name: str, rng: np.random.Generator) -> None:
    f, _, _ = _losses(np)[name]
    check_grads(f, (rng.standard_normal((4, 6)),), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("kind", list(FftType))
def test_adjoint_identity(kind: FftType, rng: np.random.Generator) -> None:
    # <ct, T t> = <T^T ct, t> with the bilinear (non-conjugating) pairing of JAX's convention.
    lengths = (3, 5)
    if kind == FftType.RFFT:
        x = rng.standard_normal((2, 3, 5))
    elif kind == FftType.IRFFT:
        x = _crandn(rng, 2, 3, 3)
    else:
        x = _crandn(rng, 2, 3, 5)
    f = lambda a: lax_fft(a, kind, lengths)  # noqa: E731
    y, pullback = fg.vjp(f, x)
    t = _crandn(rng, *x.shape) if x.dtype.kind == "c" else rng.standard_normal(x.shape)
    ct = _crandn(rng, *y.shape) if y.dtype.kind == "c" else rng.standard_normal(y.shape)
    t_out = fg.jvp(f, (x,), (t,))[1]
    (ct_in,) = pullback(ct)

    if kind in (FftType.FFT, FftType.IFFT):  # C-linear: the bilinear pairing, complex
        close(np.sum(ct * t_out), np.sum(ct_in * t))
    else:  # R-linear (real on one side): the real part of the bilinear pairing
        close(np.real(np.sum(ct * t_out)), np.real(np.sum(ct_in * t)))


# == vmap and staging =========================================================================

def test_vmap_equals_loop(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4, 6))
    z = x + 1j * rng.standard_normal(x.shape)
    fns: list[tuple[Callable[..., Any], np.ndarray]] = [
        (F.fft, z), (lambda a: F.ifft(a, axis=0), z), (F.rfft, x), (F.irfft, z),
        (F.fft2, z), (lambda a: F.rfftn(a, s=(3, 5)), x), (lambda a: F.irfft2(a, s=(4, 5)), z),
        (F.fftshift, x), (F.hfft, z),
    ]
    for f, a in fns:
        want = np.stack([np.asarray(f(ai)) for ai in a])
        close(fg.vmap(f)(a), want)
        close(fg.vmap(f, in_axes=2)(np.moveaxis(a, 0, 2)), want)
        assert fg.vmap(f)(a[:0]).shape == (0, *want.shape[1:])
    loss = lambda a: fnp.sum(fnp.abs(F.rfft(a)) ** 2)  # noqa: E731
    close(fg.vmap(fg.grad(loss))(x[:, 0]), np.stack([fg.grad(loss)(a) for a in x[:, 0]]))


def test_staged_and_jit_equal_eager(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 6))

    def f(x: Any) -> Any:
        y = F.rfft2(x, norm="ortho")
        return F.irfft2(y * fnp.conj(y), s=(4, 6)), F.fftshift(F.fft(x, axis=0))

    closed = fg.make_jaxpr(f)(x)
    assert sum(e.primitive.name == "fft" for e in closed.eqns) == 3
    for got, want in zip(eval_jaxpr(closed.jaxpr, closed.consts, x), tree_leaves(f(x)),
                         strict=True):
        close(got, want, rtol=1e-13)
    for got, want in zip(tree_leaves(fg.jit(f)(x)), tree_leaves(f(x)), strict=True):
        close(got, want, rtol=1e-13)
    loss = lambda x: fnp.sum(f(x)[0] ** 2) + fnp.sum(fnp.abs(f(x)[1]))  # noqa: E731
    close(fg.jit(fg.grad(loss))(x), fg.grad(loss)(x), rtol=1e-12)
    # a round trip is the identity, and so is its gradient's pullback
    close(F.irfft(F.rfft(x, 6), 6), x)
    close(fg.grad(lambda x: fnp.sum(F.ifft(F.fft(x)).real * x))(x), 2 * x)
