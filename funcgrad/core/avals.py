"""Abstract values: what a transform knows about an array without its data.

A ``ShapedArray`` is a shape, a dtype and a ``weak_type`` flag. Weak types implement NumPy 2's
NEP 50 rule for Python scalars: ``float32_array * 2.0`` stays float32, because the ``2.0`` is
weak and gives way to the array's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_SHORT_NAMES = {
    "float16": "f16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "complex64": "c64", "complex128": "c128", "bool": "bool",
}


def short_dtype_name(dtype: np.dtype) -> str:
    """``float32`` -> ``f32``, as JAX prints types."""
    return _SHORT_NAMES.get(np.dtype(dtype).name, np.dtype(dtype).name)


class ShapedArray:
    """The abstract value of an array: shape, dtype and weak type.

    >>> ShapedArray((2, 3), np.float32).str_short()
    'f32[2,3]'
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: tuple[int, ...], dtype: Any, weak_type: bool = False):
        # Built for every traced value under vmap and jit: the common case (a tuple of ints
        # from an ndarray's .shape, an np.dtype) skips the conversions.
        self.shape = shape if type(shape) is tuple else tuple(int(d) for d in shape)
        self.dtype = dtype if type(dtype) is np.dtype or isinstance(dtype, np.dtype) \
            else np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def str_short(self) -> str:
        return f"{short_dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def update(self, shape: tuple[int, ...] | None = None, dtype: Any = None,
               weak_type: bool | None = None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


_PY_SCALARS = (bool, int, float, complex)


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a concrete array, a Python scalar or a tracer."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if type(x) in _PY_SCALARS:
        return ShapedArray((), np.asarray(x).dtype, weak_type=True)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, x.dtype)
    raise TypeError(f"{type(x).__name__} is not a valid array type for funcgrad: "
                    f"expected a numpy.ndarray, a NumPy scalar or a Python scalar, got {x!r}")


def weak_stand_in(aval: ShapedArray) -> Any:
    # NEP 50: a weak value promotes like a Python scalar of its kind.
    kind = aval.dtype.kind
    return {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[kind]


def result_type(*avals: ShapedArray) -> tuple[np.dtype, bool]:
    """NumPy 2 (NEP 50) promotion of abstract values: (dtype, weak_type).

    >>> result_type(ShapedArray((), np.float32), ShapedArray((), np.float64, weak_type=True))
    (dtype('float32'), False)
    """
    strong = [a.dtype for a in avals if not a.weak_type]
    if not strong:
        return np.result_type(*(a.dtype for a in avals)), True
    weak = [weak_stand_in(a) for a in avals if a.weak_type]
    return np.result_type(*strong, *weak), False
