"""Passes over the IR that jit runs before code generation; each ``Jaxpr -> Jaxpr``, linear.

- ``simplify``: exact algebraic rewrites registered per primitive (``x * 1``, double negation,
  ``integer_pow 2`` as a product, identity reshapes/transposes/converts). Never ``x * 0 -> 0``
  or ``x + 0 -> x``: they change NaN and -0.0.
- ``cse``: one equation for equal (primitive, operands, params); commutative operands are
  sorted first. A checkpoint's recomputation in the backward pass is a barrier (merging it
  with the forward would keep what checkpoint frees), and effectful primitives never merge.
- ``dce``: a reverse walk dropping equations whose outputs nothing reads.

>>> import numpy as np, funcgrad.numpy as fnp
>>> from funcgrad.core.staging import make_jaxpr
>>> closed = make_jaxpr(lambda x: fnp.sin(x) * 1.0 + fnp.sin(x))(np.ones(3))
>>> print(optimize(closed.jaxpr))
{ lambda ; a:f64[3]. let
    b:f64[3] = sin a
    c:f64[3] = add b b
  in (c,) }
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad.core.errors import BackwardSourceInfo
from funcgrad.core.ir import Atom, Eqn, Jaxpr, Literal, Var
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import RECOMPUTATION

# rule(eqn) -> None (keep), an Atom the output equals, or a replacement Eqn.
SimplifyRule = Callable[[Eqn], "Atom | Eqn | None"]
simplify_rules: dict[Primitive, SimplifyRule] = {}
commutative: set[Primitive] = set()
effectful: set[Primitive] = set()  # never merged, never dropped


def optimize(jaxpr: Jaxpr) -> Jaxpr:
    """The pipeline jit runs: simplify, CSE, DCE."""
    return dce(cse(simplify(jaxpr)))


def _substitute(atom: Atom, alias: dict[Var, Atom]) -> Atom:
    return alias.get(atom, atom) if isinstance(atom, Var) else atom


def _rebuild(eqn: Eqn, invars: list[Atom]) -> Eqn:
    if all(a is b for a, b in zip(invars, eqn.invars)):
        return eqn
    return Eqn(eqn.primitive, invars, eqn.outvars, eqn.params, eqn.source_info)


def simplify(jaxpr: Jaxpr) -> Jaxpr:
    alias: dict[Var, Atom] = {}
    eqns: list[Eqn] = []
    for eqn in jaxpr.eqns:
        eqn = _rebuild(eqn, [_substitute(a, alias) for a in eqn.invars])
        rule = simplify_rules.get(eqn.primitive)
        result = rule(eqn) if rule is not None else None
        if isinstance(result, Eqn):
            eqns.append(result)
        elif result is not None:
            alias[eqn.outvars[0]] = result
        else:
            eqns.append(eqn)
    return _finish(jaxpr, eqns, alias)


def _finish(jaxpr: Jaxpr, eqns: list[Eqn], alias: dict[Var, Atom]) -> Jaxpr:
    outvars = [_substitute(a, alias) for a in jaxpr.outvars]
    return jaxpr.replace(eqns=eqns, outvars=outvars)


def _atom_key(atom: Atom) -> Any:
    if isinstance(atom, Literal):
        v = atom.val
        return ("lit", v.dtype.str, v.shape, v[(0,) * v.ndim].tobytes() if v.size else b"")
    return atom


def _params_key(params: dict[str, Any]) -> Any:
    items = []
    for k, v in sorted(params.items()):
        try:
            hash(v)
        except TypeError:
            return None
        # jaxprs and callables compare by identity, which is what equal means for them
        items.append((k, v if not isinstance(v, np.ndarray) else id(v)))
    return tuple(items)


def _is_recomputation(eqn: Eqn) -> bool:
    info = eqn.source_info
    return isinstance(info, BackwardSourceInfo) and info.backward_of == RECOMPUTATION


def cse(jaxpr: Jaxpr) -> Jaxpr:
    seen: dict[Any, Eqn] = {}
    alias: dict[Var, Atom] = {}
    eqns: list[Eqn] = []
    for eqn in jaxpr.eqns:
        eqn = _rebuild(eqn, [_substitute(a, alias) for a in eqn.invars])
        params = _params_key(eqn.params)
        if params is None or eqn.primitive in effectful or _is_recomputation(eqn):
            eqns.append(eqn)
            continue
        ins = [_atom_key(a) for a in eqn.invars]
        if eqn.primitive in commutative:
            ins.sort(key=lambda k: (isinstance(k, tuple), id(k) if isinstance(k, Var) else k))
        key = (eqn.primitive, tuple(ins), params)
        first = seen.get(key)
        if first is not None:
            alias.update(zip(eqn.outvars, first.outvars))
            continue
        seen[key] = eqn
        eqns.append(eqn)
    return _finish(jaxpr, eqns, alias)


def dce(jaxpr: Jaxpr) -> Jaxpr:
    live: set[Var] = {a for a in jaxpr.outvars if isinstance(a, Var)}
    kept: list[Eqn] = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive in effectful or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(a for a in eqn.invars if isinstance(a, Var))
    kept.reverse()
    return jaxpr.replace(eqns=kept)


# -- helpers for the families' rules ------------------------------------------------------------

def literal_value(atom: Atom) -> Any:
    """The scalar value of a literal (scalar or broadcast scalar), else None."""
    if isinstance(atom, Literal) and atom.val.size:
        return atom.val[(0,) * atom.val.ndim].item()
    return None


def same_type(atom: Atom, var: Var) -> bool:
    return bool(atom.aval.shape == var.aval.shape and atom.aval.dtype == var.aval.dtype)
