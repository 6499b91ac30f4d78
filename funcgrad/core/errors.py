"""Exception classes and user-frame attribution.

Every error a user can cause derives from ``TypeError`` or ``ValueError`` and says where in the
user's code it happened: ``user_frame()`` walks the stack past funcgrad's own frames.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

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


class UnexpectedTracerError(FuncgradTypeError):
    """A tracer escaped the transform that created it and was used after it ended."""
