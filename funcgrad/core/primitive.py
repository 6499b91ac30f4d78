"""The ``Primitive`` class, ``bind`` and the registry of every primitive.

A primitive knows how to run (``impl``, on NumPy arrays) and how to compute the abstract value of
its output (``abstract_eval``, the shape rule). Every other rule (JVP, VJP, batching, codegen)
lives in the table of the transform that uses it, registered right after the primitive's
definition in its ``lax`` family file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import tracing
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import at_user_line

_REGISTRY: dict[str, Primitive] = {}


class Primitive:
    """An operation every transform knows how to interpret.

    >>> import numpy as np
    >>> double_p = Primitive("double_example", register=False)
    >>> double_p.def_impl(lambda x: 2 * x)
    >>> double_p.def_abstract_eval(lambda x: x)
    >>> double_p.bind(np.array([1.0, 2.0]))
    array([2., 4.])
    """

    __slots__ = ("name", "multiple_results", "impl", "abstract_eval", "eager_check",
                 "binary_same_type", "__weakref__")
    binary_same_type: frozenset[np.dtype]

    def __init__(self, name: str, *, multiple_results: bool = False, register: bool = True):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable[..., Any] = _missing_rule(name, "impl")
        self.abstract_eval: Callable[..., Any] = _missing_rule(name, "abstract_eval")
        # Run by eager evaluation before the impl, as check(args, params), so eager refuses
        # what staging refuses (None: nothing to check). Defaults to the shape rule.
        self.eager_check: Callable[[Sequence[Any], dict[str, Any]], None] | None = None
        # The dtypes of which two operands of one shape and dtype always pass the shape rule
        # (binary elementwise primitives): eager evaluation then skips the check with inline
        # comparisons. Empty: no such fast path.
        self.binary_same_type: frozenset[np.dtype] = frozenset()
        if register:
            if name in _REGISTRY:
                raise ValueError(f"a primitive named {name!r} is already registered")
            _REGISTRY[name] = self

    def def_impl(self, impl: Callable[..., Any]) -> None:
        self.impl = impl

    def def_abstract_eval(self, rule: Callable[..., ShapedArray | list[ShapedArray]]) -> None:
        self.abstract_eval = _naming_errors(self.name, rule)
        self.eager_check = _shape_rule_check(self)  # until def_eager_check says otherwise
        self.binary_same_type = frozenset()

    def def_eager_check(self, check: Callable[[Sequence[Any], dict[str, Any]], None] | None
                        = None, *, binary_same_type: str = "") -> None:
        """Replace the shape rule as the check eager evaluation runs before the impl: a
        cheaper ``check(args, params)`` that raises what the shape rule would, or None when
        the shape rule cannot refuse anything the impl accepts. ``binary_same_type``: the
        primitive takes two operands, and the shape rule accepts any two of one shape and
        dtype whose kind is in this string (``"biufc"``: any); eager evaluation runs the shape
        rule only for other operands. Call it after
        ``def_abstract_eval``, which resets the check to the shape rule."""
        if binary_same_type:
            check = _shape_rule_check(self)
        self.eager_check = check
        self.binary_same_type = frozenset(
            d for d in _NUMPY_DTYPES if d.kind in binary_same_type)

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive under whatever trace is current: the one entry point."""
        return tracing._state.trace.process_primitive(self, args, params)

    def __repr__(self) -> str:
        return self.name


def _missing_rule(name: str, rule: str) -> Callable[..., Any]:
    def missing(*args: Any, **params: Any) -> Any:
        raise NotImplementedError(f"primitive {name!r} has no {rule} rule")
    return missing


_NUMPY_DTYPES = [np.dtype(c) for c in "?bhilqBHILQefdgFDG"]


def _naming_errors(name: str, rule: Callable[..., Any]) -> Callable[..., Any]:
    """``rule`` whose TypeErrors and ValueErrors name the primitive and the user's line."""
    def shape_rule(*avals: Any, **params: Any) -> Any:
        try:
            return rule(*avals, **params)
        except (TypeError, ValueError) as e:
            raise _renamed(e, name) from None
    shape_rule.__wrapped__ = rule  # type: ignore[attr-defined]
    shape_rule.__name__ = getattr(rule, "__name__", "shape_rule")
    return shape_rule


def _renamed(e: Exception, name: str) -> Exception:
    message = str(e) if len(e.args) == 1 and isinstance(e.args[0], str) else None
    if message is None:
        return e
    if not message.startswith(name) and f"{name!r}" not in message:
        message = f"{name}: {message}"
    if "\n  (at " not in message:
        message = at_user_line(message)
    if message == e.args[0]:
        return e
    try:
        new = type(e)(message)
    except Exception:  # an exception class whose constructor takes other arguments
        return e
    return new.with_traceback(e.__traceback__)


# Successful eager checks, keyed by (primitive, argument types, params), so a loop that binds
# the same operation again pays one dictionary lookup. Only keys of plain values are kept
# (never a jaxpr or a function, which could hold large constants alive).
_CHECKED: set[Any] = set()
_PLAIN = (int, float, bool, str, bytes, type(None), np.dtype, np.generic)


def _is_plain(v: Any) -> bool:
    if type(v) is tuple:
        return all(_is_plain(x) for x in v)
    return isinstance(v, _PLAIN) or (isinstance(v, type) and issubclass(v, np.generic))


def _arg_key(x: Any) -> Any:
    if x.__class__ is np.ndarray or isinstance(x, np.generic):
        return (x.shape, x.dtype)
    if type(x) in (bool, int, float, complex):
        return type(x)
    return None


def _shape_rule_check(prim: Primitive) -> Callable[[Sequence[Any], dict[str, Any]], None]:
    def check(args: Sequence[Any], params: dict[str, Any]) -> None:
        arg_keys = [(x.shape, x.dtype) if x.__class__ is np.ndarray else _arg_key(x)
                    for x in args]
        if None in arg_keys:
            return  # an argument funcgrad has no type for: the impl's business
        key: Any = (prim, *arg_keys, *params.items())
        try:
            if key in _CHECKED:
                return
        except TypeError:  # an unhashable param
            key = None
        prim.abstract_eval(*[get_aval(x) for x in args], **params)
        if key is not None and all(_is_plain(v) for v in params.values()):
            if len(_CHECKED) > 8192:
                _CHECKED.clear()
            _CHECKED.add(key)
    return check


def primitives() -> dict[str, Primitive]:
    """Every registered primitive, by name."""
    return dict(_REGISTRY)


# -- the two things every transform emits: cotangent accumulation and zeros --------------------
# (JAX's add_jaxvals_p lives in ad_util for the same reason: ad.py must not import lax.)

add_any_p = Primitive("add_any")
add_any_p.def_impl(lambda x, y: x + y)
add_any_p.def_abstract_eval(lambda x, y: x)
add_any_p.def_eager_check(None)  # only transforms bind it, with cotangents of one type


def zeros_like_aval(aval: ShapedArray) -> Any:
    """A concrete zero array: a constant is valid at every trace level, so no primitive."""
    return np.zeros(aval.shape, aval.dtype)
