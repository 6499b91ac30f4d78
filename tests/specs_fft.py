"""Op specs for the ``fft`` primitive (``fg.lax.fft``, every ``FftType``) and the
``fg.numpy.fft`` composites.

Specs are functions of real arrays returning real arrays (complex inputs are built as
``x + i y`` from two real arguments, outputs split into real and imaginary parts), so the
harness's finite differences and adjoint test apply as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad.numpy as fnp
from funcgrad import lax

SPECS: list[OpSpec] = []
F = fnp.fft


def spec(name: str, fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...],
         ref: Callable[..., Any] | None = None, numpy: tuple[str, ...] = (),
         dtypes: tuple[Any, ...] = (np.float64,), order: int = 2,
         prims: tuple[str, ...] = ("fft",)) -> None:
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=shapes, primitives=prims, dtypes=dtypes,
                        grad_order=order, reference=ref, extra={"numpy": numpy}))


def _parts(y: Any) -> Any:
    return fnp.stack([fnp.real(y), fnp.imag(y)])


def _np_parts(y: Any) -> np.ndarray:
    return np.stack([y.real, y.imag])


def c2c(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` of a complex array, as a real function of its real and imaginary parts."""
    return lambda x, y: _parts(f(x + 1j * y))


def np_c2c(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, y: _np_parts(f(x + 1j * y))


def c2r(f: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, y: f(x + 1j * y)


S, HALF = (2, 3, 4), (2, 3, 3)

# == the primitive ============================================================================

spec("lax.fft_fft", c2c(lambda z: lax.fft(z, "fft", (3, 4))), (S, S),
     np_c2c(lambda z: np.fft.fftn(z, axes=(1, 2))))
spec("lax.fft_ifft", c2c(lambda z: lax.fft(z, lax.FftType.IFFT, (4,))), (S, S),
     np_c2c(lambda z: np.fft.ifft(z)))
spec("lax.fft_rfft", lambda x: _parts(lax.fft(x, "rfft", (3, 4))), (S,),
     lambda x: _np_parts(np.fft.rfftn(x, axes=(1, 2))), dtypes=(np.float64, np.float32))
spec("lax.fft_rfft_odd", lambda x: _parts(lax.fft(x, "rfft", (5,))), ((2, 5),),
     lambda x: _np_parts(np.fft.rfft(x)))
spec("lax.fft_irfft", c2r(lambda z: lax.fft(z, "irfft", (3, 4))), (HALF, HALF),
     lambda x, y: np.fft.irfftn(x + 1j * y, s=(3, 4), axes=(1, 2)))
spec("lax.fft_irfft_odd", c2r(lambda z: lax.fft(z, "irfft", (5,))), ((2, 3), (2, 3)),
     lambda x, y: np.fft.irfft(x + 1j * y, 5))

# == fg.numpy.fft =============================================================================

spec("fft.fft", c2c(lambda z: F.fft(z, 6, axis=1, norm="ortho")), (S, S),
     np_c2c(lambda z: np.fft.fft(z, 6, axis=1, norm="ortho")), numpy=("fft.fft",))
spec("fft.ifft", c2c(lambda z: F.ifft(z, 3, norm="forward")), (S, S),
     np_c2c(lambda z: np.fft.ifft(z, 3, norm="forward")), numpy=("fft.ifft",))
spec("fft.rfft", lambda x: _parts(F.rfft(x, axis=0)), ((5, 3),),
     lambda x: _np_parts(np.fft.rfft(x, axis=0)), numpy=("fft.rfft",))
spec("fft.irfft", c2r(lambda z: F.irfft(z, 7)), ((2, 4), (2, 4)),
     lambda x, y: np.fft.irfft(x + 1j * y, 7), numpy=("fft.irfft",))
spec("fft.fft2_ifft2", c2c(lambda z: F.fft2(z) + F.ifft2(z, s=(3, 4))), (S, S),
     np_c2c(lambda z: np.fft.fft2(z) + np.fft.ifft2(z, s=(3, 4))),
     numpy=("fft.fft2", "fft.ifft2"))
spec("fft.fftn_ifftn", c2c(lambda z: F.fftn(z, axes=(0, 2)) + F.ifftn(z, norm="ortho")),
     (S, S), np_c2c(lambda z: np.fft.fftn(z, axes=(0, 2)) + np.fft.ifftn(z, norm="ortho")),
     numpy=("fft.fftn", "fft.ifftn"))
spec("fft.rfftn_rfft2", lambda x: fnp.concatenate(
         [_parts(F.rfftn(x)), _parts(F.rfft2(x, s=(3, 4)))], axis=-1), (S,),
     lambda x: np.concatenate([_np_parts(np.fft.rfftn(x)), _np_parts(np.fft.rfft2(x, s=(3, 4)))],
                              axis=-1), numpy=("fft.rfftn", "fft.rfft2"))
spec("fft.irfftn_irfft2", c2r(lambda z: F.irfftn(z, s=(3, 5)) + F.irfft2(z, s=(3, 5))),
     (HALF, HALF), lambda x, y: np.fft.irfftn(x + 1j * y, s=(3, 5))
     + np.fft.irfft2(x + 1j * y, s=(3, 5)), numpy=("fft.irfftn", "fft.irfft2"))
spec("fft.hfft_ihfft", lambda x, y: fnp.concatenate(
         [F.hfft(x + 1j * y), _parts(F.ihfft(x))[0]], axis=-1), ((2, 4), (2, 4)),
     lambda x, y: np.concatenate([np.fft.hfft(x + 1j * y), np.fft.ihfft(x).real], axis=-1),
     numpy=("fft.hfft", "fft.ihfft"))
spec("fft.fftshift_ifftshift", lambda x: F.fftshift(x, axes=(0, 2)) + F.ifftshift(x),
     (S,), lambda x: np.fft.fftshift(x, axes=(0, 2)) + np.fft.ifftshift(x),
     numpy=("fft.fftshift", "fft.ifftshift"), prims=("concatenate", "slice"))
