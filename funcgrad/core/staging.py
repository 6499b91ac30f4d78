"""The staging trace: records primitives into a jaxpr instead of running them.

``trace_pytree(f, args)`` traces ``f`` on abstract values (``fg.make_jaxpr`` is its user
face); ``eval_jaxpr`` runs a jaxpr back through ``bind``, so evaluating under any transform
transforms the program.

>>> import numpy as np
>>> from funcgrad.core.primitive import Primitive
>>> from funcgrad.core.avals import get_aval
>>> twice_p = Primitive("twice_example", register=False)
>>> twice_p.def_impl(lambda x: 2 * x); twice_p.def_abstract_eval(lambda x: x)
>>> closed, out_tree = trace_pytree(lambda x: twice_p.bind(x), [np.ones(3, np.float32)])
>>> print(closed)
{ lambda ; a:f32[3]. let
    b:f32[3] = twice_example a
  in (b,) }
>>> eval_jaxpr(closed.jaxpr, closed.consts, np.ones(3))
[array([2., 2., 2.])]
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.config import config
from funcgrad.core.errors import (
    RECOMPUTATION,
    BackwardSourceInfo,
    SourceInfo,
    user_source_info,
)
from funcgrad.core.ir import Atom, ClosedJaxpr, Eqn, Jaxpr, Literal, Var, typecheck_jaxpr
from funcgrad.core.tracing import Trace, Tracer, _state, current_trace, set_current_trace


class StagingTracer(Tracer):
    __slots__ = ("_aval", "var")
    _trace: StagingTrace

    def __init__(self, trace: StagingTrace, aval: ShapedArray, var: Var):
        self._trace = trace
        self._aval = aval
        self.var = var

    @property
    def aval(self) -> ShapedArray:
        return self._aval


class StagingTrace(Trace):
    """Builds a jaxpr. With ``fold_constants``, equations of constants run at trace time."""

    concretization_hint = (
        "under jit or make_jaxpr values are abstract: mark the argument static with "
        "static_argnums/static_argnames, or use fg.lax.cond / fnp.where for control flow")

    def __init__(self, parent: Trace, fold_constants: bool = False):
        self.parent = parent
        self.fold_constants = fold_constants
        self.invars: list[Var] = []
        self.eqns: list[Eqn] = []
        self.constvars: dict[int, tuple[Var, Any]] = {}
        self.producers: dict[Var, Eqn] = {}  # for the source of backward equations

    def _source_info(self) -> SourceInfo | None:
        info = self._user_or_backward_line()
        if _state.recomputing and info is not None:
            # checkpoint's recomputation: CSE must not merge it with the forward pass
            info = BackwardSourceInfo(info[:3])
            info.backward_of = RECOMPUTATION
        return info

    def _user_or_backward_line(self) -> SourceInfo | None:
        fwd = _state.backward_of
        if isinstance(fwd, list):
            fwd = fwd[0] if fwd else None
        if isinstance(fwd, StagingTracer):
            fwd_eqn = fwd._trace.producers.get(fwd.var)
            if fwd_eqn is not None and fwd_eqn.source_info is not None:
                info = BackwardSourceInfo(fwd_eqn.source_info[:3])
                info.backward_of = fwd_eqn.primitive.name
                return info
        return user_source_info()

    def new_arg(self, aval: ShapedArray) -> StagingTracer:
        var = Var(aval)
        self.invars.append(var)
        return StagingTracer(self, aval, var)

    def to_atom(self, x: Any) -> Atom:
        if isinstance(x, StagingTracer) and x._trace is self:
            return x.var
        if isinstance(x, Tracer):
            x._check_alive()
        aval = get_aval(x)
        if not isinstance(x, Tracer) and (aval.shape == () or _is_broadcast_scalar(x)):
            # Scalars, and scalars broadcast by a zero-stride view, are written inline.
            # Literals always hold an ndarray, so impls see arrays, weak scalars included.
            return Literal(np.asarray(x), aval)
        entry = self.constvars.get(id(x))
        if entry is None:
            entry = self.constvars[id(x)] = (Var(aval.update(weak_type=False)), x)
        return entry[0]

    def process_primitive(self, primitive: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        if self.fold_constants and not any(
                isinstance(x, StagingTracer) and x._trace is self for x in args):
            return self.parent.process_primitive(primitive, args, params)
        atoms = [self.to_atom(x) for x in args]
        out_aval = primitive.abstract_eval(*(a.aval for a in atoms), **params)
        out_avals = out_aval if primitive.multiple_results else [out_aval]
        outvars = [Var(a) for a in out_avals]
        # Staging pays about a microsecond per equation for the user's line; eager never does.
        eqn = Eqn(primitive, atoms, outvars, params, self._source_info())
        self.eqns.append(eqn)
        for v in outvars:
            self.producers[v] = eqn
        outs = [StagingTracer(self, v.aval, v) for v in outvars]
        return outs if primitive.multiple_results else outs[0]

    # Custom rules stage as equations holding the primal jaxpr and the rules; the primitives
    # and their rules are the transforms layer's, so they are looked up when first needed.
    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        if not any(isinstance(x, StagingTracer) and x._trace is self for x in args):
            return self.parent.process_custom_jvp(fun, jvp, args)
        from funcgrad.transforms.custom import stage_custom_jvp
        return stage_custom_jvp(self, fun, jvp, args)

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        if not any(isinstance(x, StagingTracer) and x._trace is self for x in args):
            return self.parent.process_custom_vjp(fun, fwd, bwd, args, out_tree, jvp_ok)
        from funcgrad.transforms.custom import stage_custom_vjp
        return stage_custom_vjp(self, fun, fwd, bwd, args, out_tree, jvp_ok)

    def to_jaxpr(self, outs: Sequence[Any]) -> ClosedJaxpr:
        outvars = [self.to_atom(o) for o in outs]
        constvars = [v for v, _ in self.constvars.values()]
        consts = [c for _, c in self.constvars.values()]
        jaxpr = Jaxpr(constvars, self.invars, outvars, self.eqns)
        if config.enable_checks:
            typecheck_jaxpr(jaxpr)
        return ClosedJaxpr(jaxpr, consts)


def _is_broadcast_scalar(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.size > 0 and not any(x.strides)


def trace_to_jaxpr(flat_fun: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray],
                   fold_constants: bool = False) -> ClosedJaxpr:
    """Stage ``flat_fun`` (list of arrays -> list of arrays) on abstract inputs."""
    trace = StagingTrace(current_trace(), fold_constants)
    tracers = [trace.new_arg(a) for a in in_avals]
    try:
        with set_current_trace(trace):
            outs = flat_fun(*tracers)
        return trace.to_jaxpr(outs)
    finally:
        trace.is_alive = False


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """Run ``jaxpr`` through ``bind``, under whatever trace is current."""
    env: dict[Var, Any] = {}

    def read(atom: Atom) -> Any:
        return atom.val if isinstance(atom, Literal) else env[atom]

    env.update(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        out = eqn.primitive.bind(*(read(a) for a in eqn.invars), **eqn.params)
        env.update(zip(eqn.outvars, out if eqn.primitive.multiple_results else [out], strict=True))
    return [read(a) for a in jaxpr.outvars]


def trace_pytree(fun: Callable[..., Any], args: Sequence[Any],
                 static_argnums: int | Sequence[int] = ()) -> tuple[ClosedJaxpr, pytree.PyTreeDef]:
    """Stage ``fun(*args)``: the closed jaxpr over the leaves of the non-static arguments, and
    the pytree structure of the result (which lives with the caller, not in the jaxpr)."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    dyn_idx = [i for i in range(len(args)) if i not in static]
    leaves, in_tree = pytree.tree_flatten([args[i] for i in dyn_idx])
    out_tree: list[pytree.PyTreeDef] = []

    def flat_fun(*flat: Any) -> list[Any]:
        full = list(args)
        for i, v in zip(dyn_idx, pytree.tree_unflatten(in_tree, flat), strict=True):
            full[i] = v
        out_leaves, tree = pytree.tree_flatten(fun(*full))
        out_tree.append(tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in leaves])
    return closed, out_tree[0]


# == staging the bodies of higher-order primitives ==============================================
# Control flow, custom rules and jit hold jaxprs; these build them. Rule jaxprs (a body's JVP,
# VJP or batched form) are cached on the body jaxpr, so repeated transforms stage nothing.

_rule_cache: weakref.WeakKeyDictionary[ClosedJaxpr, dict[Any, Any]] = weakref.WeakKeyDictionary()


def eval_closed(closed: ClosedJaxpr, *args: Any) -> list[Any]:
    """``eval_jaxpr`` of a closed jaxpr."""
    return eval_jaxpr(closed.jaxpr, closed.consts, *args)


def stage_closure_converted(fun: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray]
                            ) -> tuple[ClosedJaxpr, list[Any]]:
    """Trace ``fun`` to a jaxpr; values it closes over that are tracers of an enclosing
    transform become leading inputs (returned, to be passed as operands), so the jaxpr keeps
    only concrete constants."""
    closed = trace_to_jaxpr(fun, list(in_avals))
    jaxpr = closed.jaxpr
    keep_vars, keep_vals, hoist_vars, hoist_vals = [], [], [], []
    for var, val in zip(jaxpr.constvars, closed.consts, strict=True):
        if isinstance(val, Tracer):
            hoist_vars.append(var)
            hoist_vals.append(val)
        else:
            keep_vars.append(var)
            keep_vals.append(val)
    new = Jaxpr(keep_vars, hoist_vars + jaxpr.invars, jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(new, keep_vals), hoist_vals


def stage_rule(fun: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray]
               ) -> ClosedJaxpr:
    """Stage a function built by a rule: it closes over concrete constants only."""
    closed, hoisted = stage_closure_converted(fun, in_avals)
    if hoisted:  # the rule's inputs are all explicit; a captured tracer is a funcgrad bug
        raise RuntimeError("stage_rule: a rule's jaxpr captured a tracer")
    return closed


def cached_rule(body: ClosedJaxpr, key: Any, build: Callable[[], Any]) -> Any:
    """The rule jaxpr ``build()`` for ``body`` and ``key``, staged once per body."""
    per_body = _rule_cache.setdefault(body, {})
    if key not in per_body:
        per_body[key] = build()
    return per_body[key]
