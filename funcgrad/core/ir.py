"""The IR: variables, literals, equations and jaxprs, with JAX's text format.

>>> import numpy as np
>>> from funcgrad.core.avals import ShapedArray
>>> a, b = Var(ShapedArray((3,), np.float32)), Var(ShapedArray((3,), np.float32))
>>> print(Jaxpr([], [a], [b], []))
{ lambda ; a:f32[3]. let  in (b,) }
"""

from __future__ import annotations

import builtins
import itertools
import keyword
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import FuncgradTypeError, SourceInfo


class Var:
    """A variable of the IR: an abstract value and an identity."""

    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self) -> str:
        return f"Var({self.count}:{self.aval.str_short()})"


class Literal:
    """A constant written inline in the IR: one canonical scalar and its type, ``2.0:f32[]``,
    or ``2.0:f32[3]`` for that scalar standing for a whole array of its aval's shape.

    Literals are equal when their types and bit patterns are, so ``-0.0`` and ``0.0`` stay
    distinct and two NaN literals are the same literal (what CSE and folding need).

    >>> Literal(np.float32(-0.0), ShapedArray((), np.float32)) == Literal(
    ...     np.float32(0.0), ShapedArray((), np.float32))
    False
    >>> Literal(np.broadcast_to(np.nan, (3,)), ShapedArray((3,), np.float64)).val.shape
    (3,)
    """

    __slots__ = ("scalar", "aval", "_view")

    def __init__(self, val: Any, aval: ShapedArray):
        # Given an array (a scalar broadcast by a zero-stride view), only its first element is
        # kept: the literal never holds a full-shape array.
        arr = np.asarray(val)
        if arr.ndim == 0:
            self.scalar = np.array(arr)
        else:  # an empty array's literal has no element to keep: its scalar is a zero
            self.scalar = np.array(arr.reshape(-1)[0]) if arr.size else np.zeros((), arr.dtype)
        self.aval = aval
        self._view: np.ndarray | None = None

    @property
    def val(self) -> np.ndarray:
        """The value as an array of the aval's shape: the scalar, or a zero-stride view of it
        (made once: interpreters read it per evaluation, a scan body's once per iteration)."""
        view = self._view
        if view is None:
            shape = self.aval.shape
            view = self._view = np.broadcast_to(self.scalar, shape) if shape else self.scalar
        return view

    @property
    def key(self) -> tuple[Any, ...]:
        """(dtype, shape, bit pattern): what equality and hashing compare."""
        return (self.scalar.dtype.str, self.aval.shape, self.scalar.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Literal({self.scalar}:{self.aval.str_short()})"


Atom = Var | Literal


class Eqn:
    """``outvars = primitive[params] invars``."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source_info")

    def __init__(self, primitive: Any, invars: Sequence[Atom], outvars: Sequence[Var],
                 params: dict[str, Any], source_info: SourceInfo | None = None):
        self.primitive = primitive
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.params = params
        self.source_info = source_info  # the user's file, line and function

    def __repr__(self) -> str:
        return f"Eqn({self.primitive.name})"


class Jaxpr:
    """A closed-over-nothing program: ``{ lambda constvars ; invars . let eqns in outvars }``."""

    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars: Sequence[Var], invars: Sequence[Var],
                 outvars: Sequence[Atom], eqns: Sequence[Eqn]):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)

    def __str__(self) -> str:
        return pp_jaxpr(self)

    def __repr__(self) -> str:
        return pp_jaxpr(self)

    def pretty_print(self, source_info: bool = False) -> str:
        """The text format; with ``source_info``, each equation ends with the user's line."""
        return pp_jaxpr(self, source_info)

    def replace(self, **changes: Any) -> Jaxpr:
        """A new jaxpr with some of ``constvars``, ``invars``, ``outvars``, ``eqns`` replaced
        (the way passes build their results)."""
        fields = {k: getattr(self, k) for k in self.__slots__}
        unknown = set(changes) - set(fields)
        if unknown:
            raise FuncgradTypeError(f"Jaxpr.replace: unknown fields {sorted(unknown)}")
        fields.update(changes)
        return Jaxpr(**fields)


class ClosedJaxpr:
    """A jaxpr with the values of its constvars: what ``make_jaxpr`` returns."""

    __slots__ = ("jaxpr", "consts", "__weakref__")  # weakly keyed rule caches

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        self.jaxpr = jaxpr
        self.consts = list(consts)

    eqns = property(lambda self: self.jaxpr.eqns)
    invars = property(lambda self: self.jaxpr.invars)
    outvars = property(lambda self: self.jaxpr.outvars)
    constvars = property(lambda self: self.jaxpr.constvars)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.jaxpr.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.jaxpr.outvars]

    def __str__(self) -> str:
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self, source_info: bool = False) -> str:
        return pp_jaxpr(self.jaxpr, source_info)

    def to_dot(self, name: str = "jaxpr") -> str:
        """The program as Graphviz DOT (``funcgrad.core.pictures``)."""
        from funcgrad.core.pictures import to_dot
        return to_dot(self.jaxpr, name)

    def to_mermaid(self) -> str:
        """The program as a Mermaid flowchart (``funcgrad.core.pictures``)."""
        from funcgrad.core.pictures import to_mermaid
        return to_mermaid(self.jaxpr)


# -- printing ---------------------------------------------------------------------------------

def _var_names() -> Iterator[str]:
    # Never a Python keyword or builtin (the 45th name would be ``as``), nor ``np`` (NumPy
    # in generated code), so generated source can use the printed names as they are.
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            name = "".join(combo)
            if not (keyword.iskeyword(name) or name in _BUILTINS or name == "np"):
                yield name


_BUILTINS = frozenset(dir(builtins))


class _Namer:
    def __init__(self, source_info: bool = False) -> None:
        self.names: dict[Var, str] = {}
        self.fresh = _var_names()
        self.source_info = source_info

    def __call__(self, atom: Atom) -> str:
        if isinstance(atom, Literal):
            return f"{atom.val.flat[0]}:{atom.aval.str_short()}"
        if atom not in self.names:
            self.names[atom] = next(self.fresh)
        return self.names[atom]

    def binder(self, var: Var) -> str:
        return f"{self(var)}:{var.aval.str_short()}"


def _pp_param(value: Any, namer: _Namer, indent: int) -> str:
    if isinstance(value, (Jaxpr, ClosedJaxpr)):
        inner = value.jaxpr if isinstance(value, ClosedJaxpr) else value
        return _pp_jaxpr(inner, _Namer(namer.source_info), indent + 4)
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__qualname__", repr(value))  # a custom rule: its name
    if isinstance(value, tuple) and any(isinstance(v, (Jaxpr, ClosedJaxpr)) for v in value):
        return "(" + ", ".join(_pp_param(v, namer, indent) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def _pp_jaxpr(jaxpr: Jaxpr, namer: _Namer, indent: int) -> str:
    pad = " " * indent
    consts = " ".join(namer.binder(v) for v in jaxpr.constvars)
    ins = " ".join(namer.binder(v) for v in jaxpr.invars)
    lines = []
    for eqn in jaxpr.eqns:
        lhs = " ".join(namer.binder(v) for v in eqn.outvars)
        params = ""
        if eqn.params:
            items = ", ".join(f"{k}={_pp_param(v, namer, indent)}"
                              for k, v in sorted(eqn.params.items()))
            params = f"[{items}]"
        rhs = " ".join(namer(a) for a in eqn.invars)
        line = f"{pad}    {lhs} = {eqn.primitive.name}{params} {rhs}".rstrip()
        if namer.source_info and eqn.source_info is not None:
            line = f"{line}  # {eqn.source_info}"
        lines.append(line)
    outs = ", ".join(namer(v) for v in jaxpr.outvars)
    outs = f"({outs},)" if len(jaxpr.outvars) == 1 else f"({outs})"
    head = f"{{ lambda {consts}; {ins}. let"
    if not lines:
        return f"{head}  in {outs} }}"
    return "\n".join([head, *lines, f"{pad}  in {outs} }}"])


def pp_jaxpr(jaxpr: Jaxpr, source_info: bool = False) -> str:
    """JAX's text format: one equation a line (with ``source_info``, the user's line)."""
    return _pp_jaxpr(jaxpr, _Namer(source_info), 0)


# -- checking ---------------------------------------------------------------------------------

def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
    """Check that every variable is defined before use and every eqn's types follow its rule."""
    defined: set[Var] = set(jaxpr.constvars) | set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        for atom in eqn.invars:
            if isinstance(atom, Var) and atom not in defined:
                raise FuncgradTypeError(f"jaxpr: {atom} used before definition in {eqn}")
        out = eqn.primitive.abstract_eval(*(a.aval for a in eqn.invars), **eqn.params)
        outs = out if eqn.primitive.multiple_results else [out]
        got = [v.aval for v in eqn.outvars]
        if [(a.shape, a.dtype) for a in outs] != [(a.shape, a.dtype) for a in got]:
            raise FuncgradTypeError(
                f"jaxpr: {eqn.primitive.name} produces {[a.str_short() for a in outs]} "
                f"but its outvars are typed {[a.str_short() for a in got]}")
        for sub in _sub_jaxprs(eqn.params):
            try:
                typecheck_jaxpr(sub)
            except FuncgradTypeError as e:
                raise FuncgradTypeError(f"jaxpr: in a sub-jaxpr of {eqn.primitive.name}: {e}"
                                        ) from None
        defined.update(eqn.outvars)
    for atom in jaxpr.outvars:
        if isinstance(atom, Var) and atom not in defined:
            raise FuncgradTypeError(f"jaxpr: output {atom} is never defined")


def _sub_jaxprs(params: dict[str, Any]) -> Iterator[Jaxpr]:
    """The jaxprs an equation holds in its params (call bodies, branches, loop bodies)."""
    for value in params.values():
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, Jaxpr):
                yield v
