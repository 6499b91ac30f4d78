"""Passes over the IR that jit runs before code generation; each ``Jaxpr -> Jaxpr``, linear.

- ``simplify``: exact algebraic rewrites registered per primitive (``x * 1``, double negation,
  ``a + (-b)`` as ``a - b``, ``integer_pow 2`` as a product, identity reshapes/transposes/
  converts). Never ``x * 0 -> 0`` or ``x + 0 -> x``: they change NaN and -0.0.
- ``cse``: one equation for equal (primitive, operands, params); commutative operands are
  sorted first. A checkpoint's recomputation in the backward pass is a barrier (merging it
  with the forward would keep what checkpoint frees), and effectful primitives never merge.
- ``dce``: a reverse walk dropping equations whose outputs nothing reads.
- ``inline``: a nested call (``jit`` inside ``jit``) whose constants are scalars becomes its
  equations, so the passes and the fusion see across the call boundary.
- ``fold``: an equation whose operands are all literals and whose result is one repeated
  value is evaluated at compile time, in the result dtype, and becomes a literal.

>>> import numpy as np, funcgrad.numpy as fnp
>>> from funcgrad import make_jaxpr
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

from funcgrad.core.errors import pass_of
from funcgrad.core.ir import Atom, Eqn, Jaxpr, Literal, Var
from funcgrad.core.primitive import Primitive

# rule(eqn, defs) -> None (keep), an Atom the output equals, or a replacement Eqn; ``defs``
# maps each variable defined so far to its (simplified) equation, so a rule can look one
# equation up the chain (``a + (-b)``).
SimplifyRule = Callable[[Eqn, "dict[Var, Eqn]"], "Atom | Eqn | None"]
simplify_rules: dict[Primitive, SimplifyRule] = {}
commutative: set[Primitive] = set()
effectful: set[Primitive] = set()  # never merged, never dropped
# call primitive -> the param holding its ClosedJaxpr: ``inline`` may replace the call by it.
inlinable: dict[Primitive, str] = {}
# Results of at most this many elements are folded (a literal is one value, broadcast).
FOLD_MAX_SIZE = 1 << 16


def optimize(jaxpr: Jaxpr) -> Jaxpr:
    """The pipeline jit runs: inline, fold, simplify, CSE, DCE."""
    return dce(cse(simplify(fold(inline(jaxpr)))))


def _substitute(atom: Atom, alias: dict[Var, Atom]) -> Atom:
    return alias.get(atom, atom) if isinstance(atom, Var) else atom


def _rebuild(eqn: Eqn, invars: list[Atom]) -> Eqn:
    if all(a is b for a, b in zip(invars, eqn.invars, strict=True)):
        return eqn
    return Eqn(eqn.primitive, invars, eqn.outvars, eqn.params, eqn.source_info)


def simplify(jaxpr: Jaxpr) -> Jaxpr:
    alias: dict[Var, Atom] = {}
    eqns: list[Eqn] = []
    defs: dict[Var, Eqn] = {}
    for eqn in jaxpr.eqns:
        eqn = _rebuild(eqn, [_substitute(a, alias) for a in eqn.invars])
        rule = simplify_rules.get(eqn.primitive)
        result = rule(eqn, defs) if rule is not None else None
        if isinstance(result, Eqn):
            eqn = result
        elif result is not None:
            alias[eqn.outvars[0]] = result
            continue
        eqns.append(eqn)
        for v in eqn.outvars:
            defs[v] = eqn
    return _finish(jaxpr, eqns, alias)


def defined_by(atom: Atom, prim: Primitive, defs: dict[Var, Eqn]) -> Eqn | None:
    """The equation defining ``atom`` if it is an application of ``prim``, else None."""
    eqn = defs.get(atom) if isinstance(atom, Var) else None
    return eqn if eqn is not None and eqn.primitive is prim else None


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
    return pass_of(eqn.source_info) == "recomputed"


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
            alias.update(zip(eqn.outvars, first.outvars, strict=True))
            continue
        seen[key] = eqn
        eqns.append(eqn)
    return _finish(jaxpr, eqns, alias)


def _as_literal(value: Any, aval: Any) -> Literal | None:
    """``value`` as a literal of type ``aval`` if it is 0-d or one value repeated, bit for bit
    (the literal convention: a scalar, or a scalar broadcast by a zero-stride view)."""
    arr = np.asarray(value)
    if arr.shape != tuple(aval.shape) or arr.dtype != aval.dtype:
        return None
    if arr.ndim == 0:
        return Literal(np.array(arr), aval)
    if arr.size == 0:
        return None
    first = np.array(arr[(0,) * arr.ndim])
    if any(arr.strides) and arr.tobytes() != np.broadcast_to(first, arr.shape).tobytes():
        return None
    return Literal(np.broadcast_to(first, arr.shape), aval)


def inline(jaxpr: Jaxpr) -> Jaxpr:
    """Replace each inlinable call whose constants are literals by the callee's equations, with
    fresh variables (one callee may be inlined at several call sites)."""
    if not any(e.primitive in inlinable for e in jaxpr.eqns):
        return jaxpr
    alias: dict[Var, Atom] = {}
    eqns: list[Eqn] = []
    for eqn in jaxpr.eqns:
        eqn = _rebuild(eqn, [_substitute(a, alias) for a in eqn.invars])
        param = inlinable.get(eqn.primitive)
        callee = eqn.params.get(param) if param is not None else None
        const_atoms = ([_as_literal(c, v.aval)
                        for c, v in zip(callee.consts, callee.jaxpr.constvars, strict=True)]
                       if callee is not None else [])
        if callee is None or any(c is None for c in const_atoms):
            eqns.append(eqn)
            continue
        inner = inline(callee.jaxpr)
        env: dict[Var, Atom] = dict(zip(inner.constvars, const_atoms, strict=True))  # type: ignore[arg-type]
        env.update(zip(inner.invars, eqn.invars, strict=True))
        for e in inner.eqns:
            outs = [Var(v.aval) for v in e.outvars]
            env.update(zip(e.outvars, outs, strict=True))
            eqns.append(Eqn(e.primitive, [_substitute(a, env) for a in e.invars], outs,
                            e.params, e.source_info))
        alias.update(zip(eqn.outvars, (_substitute(a, env) for a in inner.outvars), strict=True))
    return _finish(jaxpr, eqns, alias)


def fold(jaxpr: Jaxpr) -> Jaxpr:
    """Evaluate equations of literals whose result is a single repeated value."""
    alias: dict[Var, Atom] = {}
    eqns: list[Eqn] = []
    for eqn in jaxpr.eqns:
        eqn = _rebuild(eqn, [_substitute(a, alias) for a in eqn.invars])
        folded = None
        values = [a.val for a in eqn.invars if isinstance(a, Literal)]
        if (values and len(values) == len(eqn.invars) and len(eqn.outvars) == 1
                and not eqn.primitive.multiple_results
                and eqn.primitive not in effectful and eqn.primitive not in inlinable
                and eqn.outvars[0].aval.size <= FOLD_MAX_SIZE
                and not any(hasattr(v, "jaxpr") or isinstance(v, Jaxpr) or callable(v)
                            for v in eqn.params.values())):
            try:
                with np.errstate(all="ignore"):
                    value = eqn.primitive.impl(*values, **eqn.params)
            except Exception:  # noqa: BLE001 - a failing fold leaves the error to run time
                value = None
            if value is not None:
                folded = _as_literal(value, eqn.outvars[0].aval)
        if folded is not None:
            alias[eqn.outvars[0]] = folded
        else:
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
