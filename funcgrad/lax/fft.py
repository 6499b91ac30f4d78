"""The fast Fourier transform primitive ``fft``, as ``jax.lax.fft``.

One primitive, four kinds (``FftType``) over the trailing ``len(fft_lengths)`` axes:

- ``FFT`` / ``IFFT``: complex to complex (``numpy.fft.fftn`` / ``ifftn``; the inverse carries
  the ``1 / prod(fft_lengths)``);
- ``RFFT``: real to complex, the last axis halved to ``n // 2 + 1`` (``rfftn``);
- ``IRFFT``: complex (the half spectrum) to real of trailing shape ``fft_lengths`` (``irfftn``).

All four are linear, so the JVP applies the primitive to the tangent and the VJP is the
transpose (transposes, not adjoints, as JAX): the DFT matrix is symmetric, so FFT and IFFT are
their own transposes; ``RFFT = FFT(x)[..., :n//2+1]`` transposes to ``re FFT(zero-pad ct)``;
``IRFFT``'s transpose is ``conj(RFFT(ct) * mask / N)`` with the mask doubling the bins that
the half spectrum stands for twice (JAX's ``_irfft_transpose``). Batching moves the batch axis
to the front (the transformed axes are the trailing ones). Normalisation modes, ``n``/``s``
cropping and padding, and axis selection are ``fg.numpy.fft``'s.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, ShapeError
from funcgrad.core.primitive import Primitive
from funcgrad.lax.elementwise import conj, convert_element_type, mul, real
from funcgrad.lax.structural import pad
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis


class FftType(enum.IntEnum):
    """The kind of transform, as ``jax.lax.FftType``."""

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


def _complex_dtype(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _real_dtype(dtype: Any) -> np.dtype:
    return np.empty(0, dtype).real.dtype


fft_p = Primitive("fft")


def _fft_impl(x: np.ndarray, fft_type: FftType, fft_lengths: tuple[int, ...]) -> np.ndarray:
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == FftType.FFT:
        return np.fft.fftn(x, axes=axes).astype(x.dtype, copy=False)
    if fft_type == FftType.IFFT:
        return np.fft.ifftn(x, axes=axes).astype(x.dtype, copy=False)
    if fft_type == FftType.RFFT:
        return np.fft.rfftn(x, axes=axes).astype(_complex_dtype(x.dtype), copy=False)
    return np.fft.irfftn(x, s=fft_lengths, axes=axes).astype(_real_dtype(x.dtype), copy=False)


def _fft_abstract_eval(x: ShapedArray, fft_type: FftType, fft_lengths: tuple[int, ...]
                       ) -> ShapedArray:
    k = len(fft_lengths)
    if not 1 <= k <= x.ndim:
        raise ShapeError(f"fft: fft_lengths {fft_lengths} must name 1 to {x.ndim} trailing "
                         f"axes of an operand of shape {x.shape}")
    lead, trail = x.shape[:-k], x.shape[-k:]
    if fft_type == FftType.RFFT:
        if x.dtype.kind != "f":
            raise FuncgradTypeError(f"fft: RFFT takes a real floating operand, got {x.dtype}")
        if trail != fft_lengths:
            raise ShapeError(f"fft: RFFT of trailing shape {trail} needs fft_lengths {trail}, "
                             f"got {fft_lengths}")
        return ShapedArray((*lead, *trail[:-1], trail[-1] // 2 + 1), _complex_dtype(x.dtype))
    if x.dtype.kind != "c":
        raise FuncgradTypeError(f"fft: {fft_type.name} takes a complex operand, got {x.dtype}")
    if fft_type == FftType.IRFFT:
        want = (*fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
        if trail != want:
            raise ShapeError(f"fft: IRFFT to fft_lengths {fft_lengths} needs an operand of "
                             f"trailing shape {want}, got {trail}")
        return ShapedArray((*lead, *fft_lengths), _real_dtype(x.dtype))
    if trail != fft_lengths:
        raise ShapeError(f"fft: {fft_type.name} of trailing shape {trail} needs fft_lengths "
                         f"{trail}, got {fft_lengths}")
    return ShapedArray(x.shape, x.dtype)


fft_p.def_impl(_fft_impl)
fft_p.def_abstract_eval(_fft_abstract_eval)
codegen.def_impl_call(fft_p)


def _canonical_type(fft_type: Any) -> FftType:
    if isinstance(fft_type, str):
        try:
            return FftType[fft_type.upper()]
        except KeyError:
            raise ValueError(f"fft: unknown fft_type {fft_type!r} (FFT, IFFT, RFFT, IRFFT)"
                             ) from None
    return FftType(fft_type)


def fft(x: Any, fft_type: Any, fft_lengths: Sequence[int]) -> Any:
    """The ``fft_type`` transform (``FftType`` or its name) over the trailing
    ``len(fft_lengths)`` axes, as ``jax.lax.fft``.

    >>> fft(np.array([1.0, 2.0, 3.0, 4.0]), "rfft", (4,))
    array([10.+0.j, -2.+2.j, -2.+0.j])
    """
    kind = _canonical_type(fft_type)
    lengths = tuple(int(n) for n in fft_lengths)
    _fft_abstract_eval(get_aval(x), kind, lengths)  # eager binds skip shape rules: check now
    return fft_p.bind(x, fft_type=kind, fft_lengths=lengths)


def _rfft_transpose(ct: Any, fft_lengths: tuple[int, ...]) -> Any:
    # RFFT(x) = FFT(x + 0j)[..., :n//2+1]: zero-pad back to n, FFT (symmetric), real part.
    aval = get_aval(ct)
    n, half = fft_lengths[-1], aval.shape[-1]
    config = [(0, 0, 0)] * (aval.ndim - 1) + [(0, n - half, 0)]
    full = pad(ct, np.zeros((), aval.dtype), config)
    return real(fft(full, FftType.FFT, fft_lengths))


def _irfft_transpose(ct: Any, fft_lengths: tuple[int, ...]) -> Any:
    x = fft(ct, FftType.RFFT, fft_lengths)
    aval = get_aval(x)
    half, odd = aval.shape[-1], fft_lengths[-1] % 2
    mask = np.concatenate([np.ones(1), np.full(half - 2 + odd, 2.0), np.ones(1 - odd)])
    scale = np.broadcast_to((mask / math.prod(fft_lengths)).astype(aval.dtype), aval.shape)
    return conj(mul(x, scale))  # JAX's convention for complex cotangents


def _fft_transpose(ct: Any, x: Any, fft_type: FftType, fft_lengths: tuple[int, ...]
                   ) -> list[Any]:
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    return [fft(convert_element_type(ct, get_aval(x).dtype), fft_type, fft_lengths)]


def _fft_batch(args: Sequence[Any], dims: Sequence[Any], fft_type: FftType,
               fft_lengths: tuple[int, ...]) -> tuple[Any, int]:
    return fft_p.bind(moveaxis(args[0], dims[0], 0), fft_type=fft_type,
                      fft_lengths=fft_lengths), 0


ad.deflinear(fft_p, _fft_transpose)
batching.batch_rules[fft_p] = _fft_batch

__all__ = ["FftType", "fft"]
