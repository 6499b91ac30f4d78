"""``fg.numpy.fft``: NumPy's discrete Fourier transforms, as ``jax.numpy.fft``.

Every transform is the one ``fft`` primitive (``fg.lax.fft``) over the selected axes, moved
to the end, after NumPy's cropping or zero-padding to ``n``/``s``; ``norm`` ('backward',
'ortho', 'forward') scales the result. All are linear, so differentiable to any order (the
JVP is the transform of the tangent, the VJP its transpose), batched by ``vmap``, and staged
under ``jit``. As JAX, repeated axes are refused and integer or real input to the complex
transforms is promoted (float32 stays single precision).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.lax.fft import FftType
from funcgrad.lax.fft import fft as _fft_p
from funcgrad.numpy._core import _check_device

__all__ = [
    "fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn", "ifftshift",
    "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn",
]

_NORMS = (None, "backward", "ortho", "forward")


def _axes_and_lengths(x: Any, s: Sequence[int] | None, axes: Sequence[int] | None, name: str
                      ) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    if axes is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
    try:
        norm_axes = tuple(int(a) % x.ndim if -x.ndim <= int(a) < x.ndim else _bad_axis(a, x, name)
                          for a in axes)
    except TypeError:
        raise TypeError(at_user_line(f"{name}: axes must be integers, got {axes!r}")) from None
    if len(set(norm_axes)) != len(norm_axes):
        raise ValueError(at_user_line(f"{name}: repeated axes {tuple(axes)} are not supported"))
    if s is not None:
        s = tuple(int(n) for n in s)
        if len(s) != len(norm_axes):
            raise ValueError(at_user_line(
                f"{name}: s {s} and axes {tuple(axes)} must have the same length"))
        if any(n < 1 for n in s):
            raise ValueError(at_user_line(f"{name}: invalid number of data points {s}"))
    return norm_axes, s


def _bad_axis(a: Any, x: Any, name: str) -> int:
    raise ValueError(at_user_line(f"{name}: axis {a} is out of bounds for an array of shape "
                                  f"{x.shape}"))


def _resize(x: Any, axis: int, n: int) -> Any:
    """Crop or zero-pad ``axis`` to ``n``, as NumPy's ``n``/``s`` arguments."""
    size = x.shape[axis]
    if n == size:
        return x
    if n < size:
        return fnp.take(x, np.arange(n), axis=axis)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, n - size)
    return fnp.pad(x, widths)


def _scale(x: Any, norm: str | None, n: int, inverse: bool, name: str) -> Any:
    if norm not in _NORMS:
        raise ValueError(at_user_line(
            f"{name}: norm must be 'backward', 'ortho' or 'forward', got {norm!r}"))
    # the primitive's forward transforms are unscaled and its inverses carry 1/n ('backward')
    if norm == "ortho":
        factor = math.sqrt(n) if inverse else 1 / math.sqrt(n)
    elif norm == "forward":
        factor = float(n) if inverse else 1 / n
    else:
        return x
    return fnp.multiply(x, factor)


def _as_complex(x: Any) -> Any:
    if x.dtype.kind == "c":
        return x
    dtype = np.complex64 if x.dtype == np.float32 or x.dtype == np.float16 else np.complex128
    return fnp.astype(x, dtype)


def _as_real(x: Any, name: str) -> Any:
    if x.dtype.kind == "c":
        raise FuncgradTypeError(at_user_line(
            f"{name}: expected real input, got dtype {x.dtype} (use fft for complex input)"))
    if x.dtype.kind != "f":
        return fnp.astype(x, np.float64)
    return fnp.astype(x, np.float32) if x.dtype == np.float16 else x


def _apply(x: Any, axes: tuple[int, ...], kind: FftType, lengths: tuple[int, ...]) -> Any:
    """The primitive over ``axes`` (moved to the end in order), moved back."""
    k = len(axes)
    dest = tuple(range(x.ndim - k, x.ndim))
    moved = fnp.moveaxis(x, axes, dest)
    out = _fft_p(moved, kind, lengths)
    return fnp.moveaxis(out, dest, axes)


def _resized(x: Any, s: Sequence[int] | None, axes: Sequence[int] | None, name: str
             ) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """``x`` cut or zero-padded to ``s`` along ``axes`` (NumPy's defaults for both), with the
    axes and the transform lengths."""
    if x.ndim == 0:
        raise ShapeError(at_user_line(f"{name}: expected at least one dimension, got a scalar"))
    ax, s = _axes_and_lengths(x, s, axes, name)
    if s is not None:
        for axis, n in zip(ax, s, strict=True):
            x = _resize(x, axis, n)
    return x, tuple(ax), tuple(x.shape[a] for a in ax)


def _c2c(a: Any, s: Sequence[int] | None, axes: Sequence[int] | None, norm: str | None,
         inverse: bool, name: str) -> Any:
    x, ax, lengths = _resized(_as_complex(fnp.asarray(a)), s, axes, name)
    out = _apply(x, ax, FftType.IFFT if inverse else FftType.FFT, lengths)
    return _scale(out, norm, math.prod(lengths), inverse, name)


def _r2c(a: Any, s: Sequence[int] | None, axes: Sequence[int] | None, norm: str | None,
         name: str) -> Any:
    x, ax, lengths = _resized(_as_real(fnp.asarray(a), name), s, axes, name)
    return _scale(_apply(x, ax, FftType.RFFT, lengths), norm, math.prod(lengths), False, name)


def _c2r(a: Any, s: Sequence[int] | None, axes: Sequence[int] | None, norm: str | None,
         name: str) -> Any:
    x = _as_complex(fnp.asarray(a))
    if x.ndim == 0:
        raise ShapeError(at_user_line(f"{name}: expected at least one dimension, got a scalar"))
    ax, s = _axes_and_lengths(x, s, axes, name)
    if s is None:
        s = (*(x.shape[a] for a in ax[:-1]), 2 * (x.shape[ax[-1]] - 1))
        if s[-1] < 1:
            raise ValueError(at_user_line(
                f"{name}: invalid number of data points {s[-1]} (the last axis has length "
                f"{x.shape[ax[-1]]}); pass n or s"))
    for axis, n in zip(ax[:-1], s[:-1], strict=True):
        x = _resize(x, axis, n)
    x = _resize(x, ax[-1], s[-1] // 2 + 1)
    return _scale(_apply(x, ax, FftType.IRFFT, tuple(s)), norm, math.prod(s), True, name)


def _one(n: int | None) -> tuple[int, ...] | None:
    return None if n is None else (n,)


# == one-dimensional ==========================================================================

def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The 1-d discrete Fourier transform, as ``numpy.fft.fft``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.fft(np.array([1.0, 0.0, -1.0, 0.0]))
    array([0.+0.j, 2.+0.j, 0.+0.j, 2.+0.j])
    """
    return _c2c(a, _one(n), (axis,), norm, False, "fft.fft")


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``fft``, as ``numpy.fft.ifft``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.ifft(np.array([0.0, 2.0, 0.0, 2.0])).real
    array([ 1.,  0., -1.,  0.])
    """
    return _c2c(a, _one(n), (axis,), norm, True, "fft.ifft")


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The transform of real input, the ``n // 2 + 1`` non-negative frequencies, as
    ``numpy.fft.rfft``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.rfft(np.array([1.0, 2.0, 3.0, 4.0]))
    array([10.+0.j, -2.+2.j, -2.+0.j])
    """
    return _r2c(a, _one(n), (axis,), norm, "fft.rfft")


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``rfft`` (``n`` real outputs, default ``2 * (m - 1)``), as
    ``numpy.fft.irfft``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.irfft(np.array([10.0, -2.0 + 2.0j, -2.0]))
    array([1., 2., 3., 4.])
    """
    return _c2r(a, _one(n), (axis,), norm, "fft.irfft")


_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The transform of a Hermitian-symmetric signal given by its first half (a real
    spectrum), as ``numpy.fft.hfft``: ``irfft(conj(a), n)`` with the opposite normalisation.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.hfft(np.array([1.0, 2.0, 3.0]))
    array([ 8., -2.,  0., -2.])
    """
    if norm not in _NORMS:
        _scale(None, norm, 1, False, "fft.hfft")
    return _c2r(fnp.conj(_as_complex(fnp.asarray(a))), _one(n), (axis,), _SWAP[norm],
                "fft.hfft")


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of ``hfft``, as ``numpy.fft.ihfft``: ``conj(rfft(a, n))`` with the
    opposite normalisation.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.ihfft(np.array([8.0, -2.0, 0.0, -2.0]))
    array([1.-0.j, 2.-0.j, 3.-0.j])
    """
    if norm not in _NORMS:
        _scale(None, norm, 1, False, "fft.ihfft")
    return fnp.conj(_r2c(a, _one(n), (axis,), _SWAP[norm], "fft.ihfft"))


# == two- and n-dimensional ===================================================================

def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None) -> Any:
    """The 2-d transform over ``axes``, as ``numpy.fft.fft2``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.fft2(np.ones((2, 2))).real
    array([[4., 0.],
           [0., 0.]])
    """
    return _c2c(a, s, axes, norm, False, "fft.fft2")


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The inverse 2-d transform, as ``numpy.fft.ifft2``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.ifft2(np.array([[4.0, 0.0], [0.0, 0.0]])).real
    array([[1., 1.],
           [1., 1.]])
    """
    return _c2c(a, s, axes, norm, True, "fft.ifft2")


def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Any:
    """The n-d transform over ``axes`` (all by default, or the last ``len(s)``), as
    ``numpy.fft.fftn``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.fftn(np.ones((2, 2, 2)))[0, 0]
    array([8.+0.j, 0.+0.j])
    """
    return _c2c(a, s, axes, norm, False, "fft.fftn")


def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The inverse n-d transform, as ``numpy.fft.ifftn``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.ifftn(np.full((2, 2), 4.0))[0]
    array([4.+0.j, 0.+0.j])
    """
    return _c2c(a, s, axes, norm, True, "fft.ifftn")


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The 2-d transform of real input (the last axis halved), as ``numpy.fft.rfft2``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.rfft2(np.ones((2, 4))).shape
    (2, 3)
    """
    return _r2c(a, s, axes, norm, "fft.rfft2")


def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Any:
    """The inverse of ``rfft2``, as ``numpy.fft.irfft2``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.irfft2(fnp.fft.rfft2(np.arange(8.0).reshape(2, 4)))
    array([[0., 1., 2., 3.],
           [4., 5., 6., 7.]])
    """
    return _c2r(a, s, axes, norm, "fft.irfft2")


def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The n-d transform of real input (the last of ``axes`` halved), as
    ``numpy.fft.rfftn``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.rfftn(np.ones((2, 3, 4))).shape
    (2, 3, 3)
    """
    return _r2c(a, s, axes, norm, "fft.rfftn")


def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Any:
    """The inverse of ``rfftn`` (the last output axis ``2 * (m - 1)`` long unless ``s``
    says), as ``numpy.fft.irfftn``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.irfftn(fnp.fft.rfftn(np.ones((2, 3))), s=(2, 3))
    array([[1., 1., 1.],
           [1., 1., 1.]])
    """
    return _c2r(a, s, axes, norm, "fft.irfftn")


# == frequencies and shifts ===================================================================

def fftfreq(n: int, /, d: Any = 1.0, *, dtype: Any = None, device: Any = None
            ) -> np.ndarray:
    """The sample frequencies of an ``n``-point ``fft`` with spacing ``d``, as
    ``numpy.fft.fftfreq``.

    >>> import funcgrad.numpy as fnp
    >>> fnp.fft.fftfreq(4)
    array([ 0.  ,  0.25, -0.5 , -0.25])
    """
    _check_device(device)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(at_user_line(f"fft.fftfreq: n must be a positive integer, got {n!r}"))
    out = np.fft.fftfreq(int(n), d)
    return out if dtype is None else out.astype(dtype)


def rfftfreq(n: int, /, d: Any = 1.0, *, dtype: Any = None, device: Any = None
             ) -> np.ndarray:
    """The ``n // 2 + 1`` non-negative sample frequencies of an ``n``-point ``rfft``, as
    ``numpy.fft.rfftfreq``.

    >>> import funcgrad.numpy as fnp
    >>> fnp.fft.rfftfreq(4)
    array([0.  , 0.25, 0.5 ])
    """
    _check_device(device)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(at_user_line(f"fft.rfftfreq: n must be a positive integer, got {n!r}"))
    out = np.fft.rfftfreq(int(n), d)
    return out if dtype is None else out.astype(dtype)


def _shift(x: Any, axes: Any, inverse: bool) -> Any:
    a = fnp.asarray(x)
    if axes is None:
        axes = tuple(range(a.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    if not axes:
        return a
    shifts = tuple(-(a.shape[ax] // 2) if inverse else a.shape[ax] // 2 for ax in axes)
    return fnp.roll(a, shifts, tuple(axes))


def fftshift(x: Any, axes: Any = None) -> Any:
    """Move the zero frequency to the centre (roll by ``n // 2``), as ``numpy.fft.fftshift``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.fftshift(np.arange(5.0))
    array([3., 4., 0., 1., 2.])
    """
    return _shift(x, axes, False)


def ifftshift(x: Any, axes: Any = None) -> Any:
    """The inverse of ``fftshift``, as ``numpy.fft.ifftshift``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.fft.ifftshift(np.array([3.0, 4.0, 0.0, 1.0, 2.0]))
    array([0., 1., 2., 3., 4.])
    """
    return _shift(x, axes, True)
