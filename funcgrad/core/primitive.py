"""The ``Primitive`` class, ``bind`` and the registry of every primitive.

A primitive knows how to run (``impl``, on NumPy arrays) and how to compute the abstract value of
its output (``abstract_eval``, the shape rule). Every other rule (JVP, VJP, batching, codegen)
lives in the table of the transform that uses it, registered right after the primitive's
definition in its ``lax`` family file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core import tracing
from funcgrad.core.avals import ShapedArray

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

    __slots__ = ("name", "multiple_results", "impl", "abstract_eval", "__weakref__")

    def __init__(self, name: str, *, multiple_results: bool = False, register: bool = True):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable[..., Any] = _missing_rule(name, "impl")
        self.abstract_eval: Callable[..., Any] = _missing_rule(name, "abstract_eval")
        if register:
            if name in _REGISTRY:
                raise ValueError(f"a primitive named {name!r} is already registered")
            _REGISTRY[name] = self

    def def_impl(self, impl: Callable[..., Any]) -> None:
        self.impl = impl

    def def_abstract_eval(self, rule: Callable[..., ShapedArray | list[ShapedArray]]) -> None:
        self.abstract_eval = rule

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive under whatever trace is current: the one entry point."""
        return tracing._state.trace.process_primitive(self, args, params)

    def __repr__(self) -> str:
        return self.name


def _missing_rule(name: str, rule: str) -> Callable[..., Any]:
    def missing(*args: Any, **params: Any) -> Any:
        raise NotImplementedError(f"primitive {name!r} has no {rule} rule")
    return missing


def primitives() -> dict[str, Primitive]:
    """Every registered primitive, by name."""
    return dict(_REGISTRY)


# -- the two things every transform emits: cotangent accumulation and zeros --------------------
# (JAX's add_jaxvals_p lives in ad_util for the same reason: ad.py must not import lax.)

add_any_p = Primitive("add_any")
add_any_p.def_impl(lambda x, y: x + y)
add_any_p.def_abstract_eval(lambda x, y: x)


def zeros_like_aval(aval: ShapedArray) -> Any:
    """A concrete zero array: a constant is valid at every trace level, so no primitive."""
    return np.zeros(aval.shape, aval.dtype)
