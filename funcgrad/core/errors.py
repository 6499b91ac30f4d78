"""Exception classes and user-frame attribution.

Every error a user can cause derives from ``TypeError`` or ``ValueError`` and says where in the
user's code it happened: ``user_frame()`` walks the stack past funcgrad's own frames.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import numpy as np

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame() -> str:
    """``file:line`` of the innermost stack frame outside funcgrad (or '' if none)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


class SourceInfo(tuple):
    """Where a staged equation came from: ``(file, line, function)`` of the user's frame."""

    __slots__ = ()

    def __str__(self) -> str:
        file, line, function = self
        return f"{os.path.basename(file)}:{line} ({function})"


class BackwardSourceInfo(SourceInfo):
    """The source of an equation the backward pass emitted: the forward equation's user line,
    and the primitive whose VJP rule emitted it (``backward of tanh at model.py:12``)."""

    backward_of: str

    def __str__(self) -> str:
        return f"backward of {self.backward_of} at {SourceInfo.__str__(self)}"


# The ``backward_of`` of equations a checkpoint recomputes inside the backward pass.
RECOMPUTATION = "checkpoint (recomputed)"


def pass_of(info: SourceInfo | None) -> str:
    """Which pass an equation with this source info belongs to: "forward", "backward" or
    "recomputed" (a checkpoint's recomputation), for profiles, memory reports and pictures."""
    if isinstance(info, BackwardSourceInfo):
        return "recomputed" if info.backward_of == RECOMPUTATION else "backward"
    return "forward"


def user_source_info() -> SourceInfo | None:
    """The innermost frame outside funcgrad as a ``SourceInfo`` (None if there is none)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(_PACKAGE_DIR):
            return SourceInfo((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return None


def at_user_line(message: str) -> str:
    """Append the user's line to ``message``."""
    where = user_frame()
    return f"{message}\n  (at {where})" if where else message


class _AtUserLine:
    """Every funcgrad error names the user's line: a message raised without one (a shape
    rule, a layer, a pytree helper) gets it appended where the error is made."""

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str) and "\n  (at " not in args[0]:
            args = (at_user_line(args[0]),)
        super().__init__(*args)


class FuncgradTypeError(_AtUserLine, TypeError):
    """A value of the wrong kind was given to a funcgrad function."""


class FuncgradValueError(_AtUserLine, ValueError):
    """A value of the right kind but the wrong shape or content was given."""


class ShapeError(FuncgradValueError):
    """Shapes that do not fit together (the message names both)."""


class ConcretizationTypeError(FuncgradTypeError):
    """A traced value was used where a concrete Python value is needed (``if``, ``int()``)."""


class TracerArrayConversionError(FuncgradTypeError):
    """A traced value was handed to plain NumPy, which cannot trace it."""


def check_axes(name: str, what: str, axes: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """Raise a ShapeError unless ``axes`` are distinct axes of an array of ``shape`` (the
    canonical, non-negative form primitives take)."""
    if any(not isinstance(a, (int, np.integer)) or not 0 <= a < len(shape) for a in axes) \
            or len(set(axes)) != len(axes):
        raise ShapeError(f"{name}: {what} {axes} must be distinct axes in [0, {len(shape)}) "
                         f"of shape {shape}")


# Dtypes of JAX's (the ml_dtypes package) that NumPy has no arithmetic of its own for.
_NON_NUMPY_DTYPES = ("bfloat16", "float8_", "float6_", "float4_", "int4", "uint4", "int2",
                     "uint2", "int1", "uint1", "bcomplex32", "complex32")


def supported_dtype(dtype: object) -> np.dtype:
    """``dtype`` as a NumPy dtype, or a FuncgradTypeError naming it: bfloat16, the float8
    family, int4 and the other dtypes NumPy lacks (registered by ml_dtypes, which JAX loads)
    are refused rather than computed in a slow, inexact emulation."""
    try:
        d = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", repr(dtype))
        if not str(name).startswith(_NON_NUMPY_DTYPES):
            raise FuncgradTypeError(f"data type {dtype!r} not understood") from None
        d = None
    if d is None or d.num >= 256:  # user-defined dtypes (NPY_USERDEF and up): not NumPy's
        name = str(d) if d is not None else str(
            dtype if isinstance(dtype, str) else getattr(dtype, "__name__", dtype))
        kind = "int8" if "int" in name else "float32 (or float16)"
        raise FuncgradTypeError(
            f"dtype {name} is not supported: funcgrad computes with NumPy, which has no "
            f"{name} arithmetic; use {kind} instead")
    return d


class UnexpectedTracerError(FuncgradTypeError):
    """A tracer escaped the transform that created it and was used after it ended."""


def value_ranges(values: Sequence[Any]) -> str:
    """``[lo, hi]`` of each floating input (shapes for the rest), for a NaN report."""
    parts = []
    for v in values:
        a = np.asarray(v)
        if a.dtype.kind in "fc" and a.size:
            with np.errstate(all="ignore"):
                finite = a[np.isfinite(a)]
            lo, hi = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
            extra = "" if finite.size == a.size else f", {a.size - finite.size} non-finite"
            parts.append(f"{a.dtype}{list(a.shape)} in [{lo:.6g}, {hi:.6g}]{extra}")
        else:
            parts.append(f"{a.dtype}{list(a.shape)}")
    return "; ".join(parts)
