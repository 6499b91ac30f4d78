"""More of NumPy's elementwise functions and tests of closeness, as composites: fabs, fmax,
fmin, hypot, logaddexp2, degrees/radians, sinc, heaviside, copysign, float_power, cbrt,
signbit, trunc, nextafter, nan_to_num, shifts, isclose/allclose/array_equal/array_equiv; and
the array API's names for existing ones (acos, pow, bitwise_invert, ...), its dtype
functions (can_cast, isdtype, finfo/iinfo of arrays) and ``__array_namespace_info__``."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.tracing import Tracer
from funcgrad.numpy._core import (
    CPU_DEVICE,
    ArrayLike,
    _binary,
    _cast,
    _check_device,
    _float,
    asarray,
    result_type,
)
from funcgrad.numpy._reductions import all as _all
from funcgrad.numpy._ufuncs import (
    abs,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    equal,
    floor,
    invert,
    isfinite,
    isnan,
    less,
    less_equal,
    logaddexp,
    logical_and,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    sin,
    sqrt,
    where,
)

# == elementwise ==============================================================================


def fabs(x: ArrayLike) -> Any:
    """Absolute values as floats, as ``numpy.fabs`` (complex input is refused).

    >>> fabs(np.array([-1, 2]))
    array([1., 2.])
    """
    x = asarray(x)
    if x.dtype.kind == "c":
        raise TypeError(f"fabs: complex input (dtype {x.dtype}) is not supported, as NumPy")
    return abs(_float(x))


def _nan_aware(x: ArrayLike, y: ArrayLike, fn: Any) -> Any:
    a, b = _binary(x, y)
    if a.dtype.kind not in "fc":
        return fn(a, b)
    # A NaN on one side yields the other side (NaN only when both are). The NaN is replaced
    # before fn sees it, so no NaN reaches fn's derivative (0 * NaN in the unchosen branch).
    a_nan, b_nan = isnan(a), isnan(b)
    return fn(where(a_nan, b, a), where(b_nan, a, b))


def fmax(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise maximum ignoring NaNs, as ``numpy.fmax``.

    >>> fmax(np.array([1.0, np.nan]), np.array([np.nan, 2.0]))
    array([1., 2.])
    """
    return _nan_aware(x1, x2, maximum)


def fmin(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise minimum ignoring NaNs, as ``numpy.fmin``.

    >>> fmin(np.array([1.0, np.nan]), np.array([np.nan, 2.0]))
    array([1., 2.])
    """
    return _nan_aware(x1, x2, minimum)


def hypot(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``sqrt(x1**2 + x2**2)`` without overflow, as ``numpy.hypot``.

    >>> hypot(3.0, np.array([4.0]))
    array([5.])
    """
    a, b = _binary(x1, x2)
    a, b = abs(_float(a)), abs(_float(b))
    hi, lo = maximum(a, b), minimum(a, b)
    # hi * sqrt(1 + (lo/hi)^2): no overflow; hi = 0 takes a safe denominator (the where then
    # gives 0 with a zero derivative instead of NaN).
    zero = equal(hi, 0)
    hi_safe = where(zero, 1, hi)
    r = lax.div(lo, hi_safe)
    out = where(zero, hi, multiply(hi, sqrt(add(1, multiply(r, r)))))
    inf = logical_or(equal(a, np.inf), equal(b, np.inf))
    return where(inf, np.inf, out)  # hypot(inf, nan) is inf, as NumPy


_LN2 = float(np.log(2))


def logaddexp2(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``log2(2**x1 + 2**x2)`` without overflow, as ``numpy.logaddexp2``.

    >>> logaddexp2(np.array([1.0]), 1.0)
    array([2.])
    """
    a, b = _binary(x1, x2)
    a, b = _float(a), _float(b)
    return lax.div(logaddexp(multiply(a, _LN2), multiply(b, _LN2)), _LN2)


def deg2rad(x: ArrayLike) -> Any:
    """Degrees to radians, as ``numpy.deg2rad``.

    >>> deg2rad(np.array([180.0]))
    array([3.14159265])
    """
    return multiply(_float(x), float(np.pi / 180))


def rad2deg(x: ArrayLike) -> Any:
    """Radians to degrees, as ``numpy.rad2deg``.

    >>> rad2deg(np.array([np.pi]))
    array([180.])
    """
    return multiply(_float(x), float(180 / np.pi))


radians, degrees = deg2rad, rad2deg


def sinc(x: ArrayLike) -> Any:
    """The normalised sinc ``sin(pi x) / (pi x)`` (1 at 0), as ``numpy.sinc``.

    Differentiable to any order at 0: near it a Taylor polynomial replaces the quotient.

    >>> sinc(np.array([0.0, 0.5]))
    array([1.        , 0.63661977])
    """
    x = asarray(x)
    if x.dtype.kind not in "fc":
        x = _cast(x, np.float64)  # NumPy's sinc is pi * x in Python floats: ints give float64
    z = multiply(x, float(np.pi))
    small = less(abs(z), 1e-3)
    z_safe = where(small, 1, z)
    z2 = multiply(z, z)
    taylor = add(1, multiply(z2, add(-1 / 6, lax.div(z2, 120.0))))
    return where(small, taylor, lax.div(sin(z_safe), z_safe))


def heaviside(x1: ArrayLike, x2: ArrayLike) -> Any:
    """The step function: 0 below 0, ``x2`` at 0, 1 above (NaN stays NaN), as
    ``numpy.heaviside``. Its derivative in ``x1`` is zero; in ``x2`` one where ``x1 == 0``.

    >>> heaviside(np.array([-1.0, 0.0, 2.0]), 0.5)
    array([0. , 0.5, 1. ])
    """
    a, b = _binary(x1, x2)
    a, b = _float(a), _float(b)
    step = where(less(a, 0), 0, where(less(0, a), 1, b))
    return where(isnan(a), a, step)


def signbit(x: ArrayLike) -> Any:
    """Whether the sign bit is set (True for -0.0 and -nan), as ``numpy.signbit``.

    >>> signbit(np.array([-0.0, 0.0, -2.0]))
    array([ True, False,  True])
    """
    x = asarray(x)
    if x.dtype.kind == "i":
        return less(x, 0)
    if x.dtype.kind in "bu":
        return np.zeros(x.shape, np.bool_)
    if x.dtype.kind == "c":
        raise TypeError(f"signbit: complex input (dtype {x.dtype}) is not supported, as NumPy")
    return lax.signbit(x)


def copysign(x1: ArrayLike, x2: ArrayLike) -> Any:
    """The magnitude of ``x1`` with the sign of ``x2`` (``-0.0`` counts as negative), as
    ``numpy.copysign``.

    >>> copysign(np.array([1.0, 2.0]), np.array([-0.0, 3.0]))
    array([-1.,  2.])
    """
    a, b = _binary(x1, x2)
    a, b = _float(a), _float(b)
    mag = abs(a)
    return where(signbit(b), negative(mag), mag)


def float_power(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 ** x2`` computed in float64 (complex128 for complex input), as
    ``numpy.float_power``.

    >>> float_power(np.array([2], np.int32), 3)
    array([8.])
    """
    dt = np.complex128 if result_type(x1, x2).kind == "c" else np.float64
    return power(_cast(asarray(x1), dt), _cast(asarray(x2), dt))


def cbrt(x: ArrayLike) -> Any:
    """The real cube root (negative for negative ``x``), as ``numpy.cbrt``.

    >>> cbrt(np.array([-8.0, 27.0]))
    array([-2.,  3.])
    """
    x = _float(x)
    return multiply(lax.sign(x), lax.pow(abs(x), lax.full_like(x, 1 / 3)))


def trunc(x: ArrayLike) -> Any:
    """Round toward zero, as ``numpy.trunc`` (zero derivative).

    >>> trunc(np.array([-1.5, 1.5]))
    array([-1.,  1.])
    """
    x = asarray(x)
    if x.dtype.kind not in "fc":
        return x
    return where(less(x, 0), ceil(x), floor(x))


fix = trunc


def nextafter(x1: ArrayLike, x2: ArrayLike) -> Any:
    """The next float after ``x1`` towards ``x2``, as ``numpy.nextafter`` (zero derivative).

    >>> nextafter(np.array([1.0]), 2.0) - 1.0
    array([2.22044605e-16])
    """
    a, b = _binary(x1, x2)
    return lax.nextafter(_float(a), _float(b))


def nan_to_num(x: ArrayLike, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN and infinities replaced by finite numbers, as ``numpy.nan_to_num`` (the largest
    finite values of the dtype by default). Complex parts are treated separately.

    >>> nan_to_num(np.array([np.nan, np.inf, -1.0]))
    array([ 0.00000000e+000,  1.79769313e+308, -1.00000000e+000])
    """
    x = asarray(x)
    if x.dtype.kind == "c":
        return lax.complex(nan_to_num(lax.real(x), copy, nan, posinf, neginf),
                           nan_to_num(lax.imag(x), copy, nan, posinf, neginf))
    if x.dtype.kind not in "f":
        return x
    info = np.finfo(x.dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    out = where(isnan(x), nan, x)
    out = where(equal(out, np.inf), hi, out)
    return where(equal(out, -np.inf), lo, out)


# -- shifts ----------------------------------------------------------------------------------

def _int_operands(x1: ArrayLike, x2: ArrayLike, name: str) -> tuple[Any, Any]:
    a, b = _binary(x1, x2)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name}: integer operands are required, got dtype {a.dtype}")
    return a, b


def left_shift(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 << x2`` (0 once the shift passes the width), as ``numpy.left_shift``.

    >>> left_shift(np.array([1, 3], np.int8), 2)
    array([ 4, 12], dtype=int8)
    """
    return lax.shift_left(*_int_operands(x1, x2, "left_shift"))


def right_shift(x1: ArrayLike, x2: ArrayLike) -> Any:
    """``x1 >> x2``: arithmetic on signed, logical on unsigned integers, as
    ``numpy.right_shift``.

    >>> right_shift(np.array([-8, 8], np.int8), 2)
    array([-2,  2], dtype=int8)
    """
    a, b = _int_operands(x1, x2, "right_shift")
    if a.dtype.kind == "u":
        return lax.shift_right_logical(a, b)
    return lax.shift_right_arithmetic(a, b)


# -- closeness -------------------------------------------------------------------------------

def isclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """``|a - b| <= atol + rtol |b|`` elementwise (infinities equal only to themselves), as
    ``numpy.isclose``.

    >>> isclose(np.array([1.0, 1.1]), 1.0)
    array([ True, False])
    """
    x, y = _binary(a, b)
    x, y = _float(x), _float(y)
    with np.errstate(invalid="ignore", over="ignore"):
        close = less_equal(abs(x - y), add(atol, multiply(rtol, abs(y))))
        out = logical_or(logical_and(close, isfinite(y)), equal(x, y))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(x), isnan(y)))
    return out


def allclose(a: ArrayLike, b: ArrayLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Any:
    """Whether every element is close, as ``numpy.allclose`` (a 0-d boolean array; traced
    under a transform).

    >>> bool(allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])))
    True
    """
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: ArrayLike, a2: ArrayLike, equal_nan: bool = False) -> Any:
    """Same shape and same elements, as ``numpy.array_equal`` (False for different shapes).

    >>> bool(array_equal(np.array([1, 2]), [1, 2])), bool(array_equal([1], [1, 1]))
    (True, False)
    """
    x, y = asarray(a1), asarray(a2)
    if x.shape != y.shape:
        return np.bool_(False)
    same = equal(x, y)
    if equal_nan and result_type(x, y).kind in "fc":
        same = logical_or(same, logical_and(isnan(x), isnan(y)))
    return _all(same)


def array_equiv(a1: ArrayLike, a2: ArrayLike) -> Any:
    """Equal after broadcasting, as ``numpy.array_equiv`` (False when they don't broadcast).

    >>> bool(array_equiv(np.array([1, 2]), [[1, 2], [1, 2]]))
    True
    """
    x, y = asarray(a1), asarray(a2)
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        return np.bool_(False)
    return _all(equal(x, y))


# == the array API's names ====================================================================

acos, acosh, asin, asinh = arccos, arccosh, arcsin, arcsinh
atan, atan2, atanh = arctan, arctan2, arctanh
pow = power
bitwise_invert = bitwise_not = invert
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def _dtype_arg(x: Any) -> Any:
    if isinstance(x, (np.ndarray, Tracer, np.generic)):
        return x.dtype
    return x


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether ``from_`` (a dtype or an array) casts to ``to`` under ``casting``, as
    ``numpy.can_cast``.

    >>> can_cast(np.zeros(2, np.int32), np.float64), can_cast(np.float64, np.int8)
    (True, False)
    """
    return bool(np.can_cast(_dtype_arg(from_), _dtype_arg(to), casting))  # type: ignore[arg-type]


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name such as ``"real floating"``, or
    a tuple of them), as the array API's ``isdtype``.

    >>> isdtype(np.float32, "real floating"), isdtype(np.int8, ("bool", "unsigned integer"))
    (True, False)
    """
    return bool(np.isdtype(np.dtype(_dtype_arg(dtype)), kind))


def iscomplexobj(x: Any) -> bool:
    """Whether ``x`` has a complex dtype (arrays, tracers, scalars), as ``numpy.iscomplexobj``.

    >>> iscomplexobj(np.ones(2) * 1j), iscomplexobj([1.0])
    (True, False)
    """
    dt = getattr(x, "dtype", None)
    return (np.dtype(dt) if dt is not None else np.asarray(x).dtype).kind == "c"


def isrealobj(x: Any) -> bool:
    """Whether ``x`` has no complex dtype, as ``numpy.isrealobj``.

    >>> isrealobj(np.ones(2))
    True
    """
    return not iscomplexobj(x)


def finfo(dtype: Any) -> np.finfo:
    """Machine limits of a float dtype, or of an array's dtype, as ``numpy.finfo``.

    >>> finfo(np.zeros(1, np.float32)).bits
    32
    """
    return np.finfo(_dtype_arg(dtype))


def iinfo(dtype: Any) -> np.iinfo:
    """Limits of an integer dtype, or of an array's dtype, as ``numpy.iinfo``.

    >>> int(iinfo(np.zeros(1, np.int8)).max)
    127
    """
    return np.iinfo(_dtype_arg(dtype))


# -- __array_namespace_info__ ----------------------------------------------------------------

_KINDS = {
    "bool": ("bool",),
    "signed integer": ("int8", "int16", "int32", "int64"),
    "unsigned integer": ("uint8", "uint16", "uint32", "uint64"),
    "real floating": ("float32", "float64"),
    "complex floating": ("complex64", "complex128"),
}
_KINDS["integral"] = _KINDS["signed integer"] + _KINDS["unsigned integer"]
_KINDS["numeric"] = (_KINDS["integral"] + _KINDS["real floating"]
                     + _KINDS["complex floating"])


class _NamespaceInfo:
    """What the array API's ``__array_namespace_info__()`` describes."""

    def capabilities(self) -> dict[str, Any]:
        # Boolean indexing and nonzero give value-dependent shapes, concrete only (as JAX).
        return {"boolean indexing": False, "data-dependent shapes": False,
                "max dimensions": 64}

    def default_device(self) -> Any:
        return CPU_DEVICE

    def devices(self) -> list[Any]:
        return [CPU_DEVICE]

    def default_dtypes(self, *, device: Any = None) -> dict[str, np.dtype]:
        _check_device(device)
        return {"real floating": np.dtype(np.float64), "complex floating":
                np.dtype(np.complex128), "integral": np.dtype(np.int64),
                "indexing": np.dtype(np.int64)}

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, np.dtype]:
        _check_device(device)
        if kind is None:
            names = _KINDS["bool"] + _KINDS["numeric"]
        else:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            names = tuple(n for k in kinds for n in (
                (np.dtype(k).name,) if not isinstance(k, str) else _KINDS[k]))
        return {n: np.dtype(n) for n in names}


def __array_namespace_info__() -> _NamespaceInfo:
    """The array API's inspection namespace: devices, dtypes, capabilities.

    >>> __array_namespace_info__().default_dtypes()["real floating"]
    dtype('float64')
    """
    return _NamespaceInfo()


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> np.ndarray:
    """An array sharing (or, with ``copy=True``, copying) the memory of a DLPack producer,
    as the array API's ``from_dlpack`` (CPU only).

    >>> from_dlpack(np.arange(3.0))
    array([0., 1., 2.])
    """
    _check_device(device)
    return np.from_dlpack(x, copy=copy)
