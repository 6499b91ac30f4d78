"""Traces and tracers, with context-based dispatch.

There is no global stack of trace levels. Exactly one trace is *current* (a thread-local);
``Primitive.bind`` hands every operation to it. A transform creates a new trace whose
``parent`` is the trace that was current, makes it current while the user's function runs, and
its ``process_primitive`` does its own work by binding to ``parent``. A tracer belongs to exactly
one trace object, its *tag*: an argument that is not one of the current trace's own tracers is a
constant to it, so nested transforms never confuse their perturbations.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import (
    ConcretizationTypeError,
    FuncgradTypeError,
    TracerArrayConversionError,
    UnexpectedTracerError,
    at_user_line,
    value_ranges,
)


def _index_str(key: Any) -> str:
    """``key`` as it was written inside ``x[...]`` (arrays and tracers as ``idx``)."""
    def one(k: Any) -> str:
        if k is Ellipsis:
            return "..."
        if isinstance(k, slice):
            s = ("" if k.start is None else one(k.start)) + ":" + (
                "" if k.stop is None else one(k.stop))
            return s + ("" if k.step is None else ":" + one(k.step))
        if k is None or isinstance(k, (int, np.integer, bool)):
            return repr(k if not isinstance(k, np.integer) else int(k))
        return "idx"
    keys = key if isinstance(key, tuple) else (key,)
    return ", ".join(one(k) for k in keys) if keys else "()"


_ndarray = np.ndarray


class Trace:
    """Interprets primitives. Subclasses implement ``process_primitive``."""

    parent: Trace
    is_alive: bool = True
    # Whether this trace differentiates its tracers: float() of one would then drop the
    # derivative silently, so it is refused.
    differentiates: bool = False
    # Why a traced value cannot become a Python value under this trace (for error messages).
    concretization_hint = "use fnp.where or fg.lax.cond instead of Python control flow"

    def process_primitive(self, primitive: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support custom_jvp")

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support custom_vjp")


class EvalTrace(Trace):
    """The bottom of every chain: runs primitives on NumPy arrays."""

    def process_primitive(self, primitive: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        check = primitive.eager_check
        fast = primitive.binary_same_type
        if fast:
            # Two ndarrays of one shape and a dtype the shape rule always accepts: nothing to
            # check (inline: a call would cost as much as the impl).
            x, y = args
            if x.__class__ is not _ndarray or y.__class__ is not _ndarray or \
                    (dtype := x.dtype) is not y.dtype or dtype not in fast or \
                    x.shape != y.shape:
                self._check_args(primitive, args)
                check(args, params)
        elif check is not None or len(args) != 1 or args[0].__class__ is not _ndarray:
            self._check_args(primitive, args)
            if check is not None:
                # Eager refuses what staging refuses: NumPy would broadcast, wrap or clip
                # silently where the shape rule says the arguments do not fit.
                check(args, params)
        out = primitive.impl(*args, **params)
        if out.__class__ is _ndarray:
            return out
        if primitive.multiple_results:
            return [o if o.__class__ is _ndarray else np.asarray(o) for o in out]
        # NumPy ufuncs return scalars for 0-d inputs; users always get an ndarray.
        return np.asarray(out)

    @staticmethod
    def _check_args(primitive: Any, args: Sequence[Any]) -> None:
        for x in args:
            if x.__class__ is not _ndarray and isinstance(x, Tracer):
                x._check_alive()  # only a tracer whose transform has ended can get here
                raise UnexpectedTracerError(f"a tracer of a live {type(x._trace).__name__} "
                                            f"reached plain evaluation of {primitive.name}")

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        return fun(*args)

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        return fun(*args)


class CheckingEvalTrace(EvalTrace):
    """EvalTrace that also checks: each primitive's shape rule against its inputs and
    output (``enable_checks``), and NaN/Inf in outputs (``debug_nans``/``debug_infs``)."""

    check_shapes = False
    check_nans = True
    check_infs = False

    def process_primitive(self, primitive: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        if self.check_shapes:
            from funcgrad.core.avals import get_aval
            # Plain NumPy would broadcast or wrap silently where the rule says the types
            # do not fit; the rule's error names the shapes.
            expected = primitive.abstract_eval(*(get_aval(a) for a in args), **params)
        if self.check_nans or self.check_infs:
            # The check below reports a NaN/Inf at the user's line; NumPy's RuntimeWarning
            # would only point into funcgrad, so it is silenced.
            with np.errstate(all="ignore"):
                out = EvalTrace.process_primitive(self, primitive, args, params)
        else:
            out = EvalTrace.process_primitive(self, primitive, args, params)
        if self.check_shapes:
            got = [get_aval(o) for o in (out if primitive.multiple_results else [out])]
            want = expected if primitive.multiple_results else [expected]
            if [(a.shape, a.dtype) for a in got] != [(a.shape, a.dtype) for a in want]:
                raise TypeError(at_user_line(
                    f"enable_checks: primitive {primitive.name!r} returned "
                    f"{[a.str_short() for a in got]} but its shape rule says "
                    f"{[a.str_short() for a in want]}"))
        for o in out if primitive.multiple_results else [out]:
            if o.dtype.kind in "fc":
                bad = (self.check_nans and np.isnan(o).any()) or (
                    self.check_infs and np.isinf(o).any())
                if bad:
                    phase = ""
                    if _state.backward_of is not None:
                        fwd = (_state.backward_sources or {}).get(id(_state.backward_of))
                        phase = (f" in the backward pass (backward of {fwd[0]} at {fwd[1]})"
                                 if fwd is not None else " in the backward pass (a VJP rule)")
                    raise FloatingPointError(at_user_line(
                        f"debug_nans/debug_infs: primitive {primitive.name!r} produced a "
                        f"non-finite value{phase}, from inputs {value_ranges(args)}"))
        return out


EVAL_TRACE = EvalTrace()
EVAL_TRACE.parent = EVAL_TRACE


def set_debug_checks(nans: bool, infs: bool, shapes: bool = False) -> None:
    """Switch the eval trace between the fast and the checking interpreter."""
    CheckingEvalTrace.check_nans, CheckingEvalTrace.check_infs = nans, infs
    CheckingEvalTrace.check_shapes = shapes
    EVAL_TRACE.__class__ = CheckingEvalTrace if (nans or infs or shapes) else EvalTrace
    global DEBUG_NANS
    DEBUG_NANS = nans or infs


# Whether NaN/Inf checks are on: reverse mode then records each tape entry's primitive and
# user line, so a NaN in the backward pass names the forward line it differentiates.
DEBUG_NANS = False


class _State(threading.local):
    trace: Trace = EVAL_TRACE
    # While the backward pass runs a VJP rule: the forward output it differentiates, so a
    # staging trace can attribute the rule's equations to the forward equation.
    backward_of: Any = None
    # Under DEBUG_NANS, the running backward pass's id(forward output) -> (primitive, line).
    backward_sources: Any = None
    # While checkpoint recomputes its forward inside the backward pass.
    recomputing: bool = False


_state = _State()


def current_trace() -> Trace:
    return _state.trace


class recomputing:  # noqa: N801 (used like a function)
    """Mark the equations staged inside the block as a checkpoint's recomputation."""

    __slots__ = ("previous",)

    def __enter__(self) -> None:
        self.previous = _state.recomputing
        _state.recomputing = True

    def __exit__(self, *exc: Any) -> None:
        _state.recomputing = self.previous


class set_current_trace:  # noqa: N801 (used like a function: `with set_current_trace(t):`)
    """Make ``trace`` current inside a ``with`` block. A class rather than a generator-based
    context manager: the JVP and batching traces enter one per primitive."""

    __slots__ = ("trace", "previous")

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self) -> None:
        self.previous = _state.trace
        _state.trace = self.trace

    def __exit__(self, *exc: Any) -> None:
        _state.trace = self.previous


class Tracer:
    """A value being traced by one trace. Operators come from ``funcgrad.numpy``."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    _trace: Trace

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    def to_concrete(self) -> Any:
        """The concrete value behind this tracer, or a ConcretizationTypeError."""
        raise ConcretizationTypeError(at_user_line(
            f"a traced value ({self.aval.str_short()}) was used where a concrete value is needed, "
            f"such as a Python `if`, `bool()`, `int()` or an index; "
            f"{self._trace.concretization_hint}"))

    def _check_alive(self) -> None:
        if not self._trace.is_alive:
            raise UnexpectedTracerError(at_user_line(
                f"an escaped tracer ({self.aval.str_short()}) was used after the transform "
                f"that created it ({type(self._trace).__name__}) had ended; return values "
                f"from the transformed function instead of storing them in outside state"))

    # -- the array interface -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    def __len__(self) -> int:
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def __bool__(self) -> bool:
        self._check_alive()
        return bool(self.to_concrete())

    def __int__(self) -> int:
        self._check_alive()
        return int(self.to_concrete())

    def __float__(self) -> float:
        return float(self._python_value("float()"))

    def __complex__(self) -> complex:
        return complex(self._python_value("complex()"))

    def item(self, *args: Any) -> Any:
        return np.asarray(self._python_value(".item()")).item(*args)

    def tolist(self) -> Any:
        return np.asarray(self._python_value(".tolist()")).tolist()

    def _python_value(self, what: str) -> Any:
        """The concrete value for a conversion to a Python number, which no trace follows:
        refused under a differentiating transform, where the derivative through it would
        silently be zero (``int()`` and comparisons, whose derivative is zero anyway, work)."""
        self._check_alive()
        if self._trace.differentiates:
            raise ConcretizationTypeError(at_user_line(
                f"{what} of a value being differentiated ({self.aval.str_short()}) would turn "
                f"it into a Python number, which the derivative cannot follow (it would be "
                f"silently wrong); keep it an array (use x itself or fnp functions), or write "
                f"{_stop_gradient_form(what)} if you mean a constant"))
        return self.to_concrete()

    def __index__(self) -> int:
        self._check_alive()
        return int(np.asarray(self.to_concrete()).__index__())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._check_alive()
        raise TracerArrayConversionError(at_user_line(
            f"a traced value ({self.aval.str_short()}) was passed to plain NumPy, which cannot "
            f"trace it; use funcgrad.numpy (import funcgrad.numpy as fnp) inside transformed "
            f"functions ({self._trace.concretization_hint})"))

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return self.__array__()

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return self.__array__()

    def __setitem__(self, key: Any, value: Any) -> None:
        v = repr(value) if type(value) in (bool, int, float, complex) else "value"
        raise FuncgradTypeError(at_user_line(
            f"traced arrays ({self.aval.str_short()}) are immutable, so they do not support item "
            f"assignment; instead of `x[{_index_str(key)}] = {v}` write "
            f"`x = x.at[{_index_str(key)}].set({v})` (or .add, .multiply, .min, .max)"))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.aval.str_short()}>"


def _stop_gradient_form(what: str) -> str:
    if what.startswith("."):
        return f"fg.lax.stop_gradient(x){what}"
    return f"{what[:-2]}(fg.lax.stop_gradient(x))"


def full_lower(x: Any) -> Any:
    """The concrete value inside nested tracers whose traces can see it, else ``x``."""
    while isinstance(x, Tracer):
        try:
            x = x.to_concrete()
        except ConcretizationTypeError:
            return x
    return x
