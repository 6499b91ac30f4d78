"""Automatic differentiation: forward mode (JVP trace) and reverse mode (tape trace).

Both modes keep a rule table keyed by primitive:

- ``jvp_rules[p](primals, tangents, **params) -> (primal_out, tangent_out)``;
- ``vjp_rules[p](ct, ans, primals, needs, **params) -> cotangent per primal (None = zero)``;
- optionally ``residual_rules[p](*primals, **params) -> (ans, residuals)``, whose residuals the
  VJP rule receives as its ``residuals`` keyword.

Tangents and cotangents that are symbolically zero are ``None`` and never materialised. Rules
are written in funcgrad's own primitives, so they are themselves differentiable: ``grad`` of
``grad`` (and any other nesting) works because the backward pass binds its primitives to
whatever trace is current when it runs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree, tracing
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.ir import ClosedJaxpr
from funcgrad.core.primitive import Primitive, add_any_p, zeros_like_aval
from funcgrad.core.staging import cached_rule, eval_closed, eval_jaxpr, stage_rule, trace_to_jaxpr
from funcgrad.core.tracing import Trace, Tracer, current_trace, set_current_trace
from funcgrad.transforms import api_util

JVPRule = Callable[..., tuple[Any, Any]]
VJPRule = Callable[..., Sequence[Any]]  # (ct, ans, primals, needs, **params)

jvp_rules: dict[Primitive, JVPRule] = {}
vjp_rules: dict[Primitive, VJPRule] = {}
# The residual channel: ``residual_rules[p](*primals, **params) -> (ans, residuals)`` computes
# the output together with values its VJP rule wants (a conv's column matrix, a max pool's
# mask), written in primitives so they are differentiable, batchable and stageable; the VJP
# rule then receives them as its ``residuals`` keyword. Only reverse mode runs it.
residual_rules: dict[Primitive, Callable[..., tuple[Any, Any]]] = {}


# == rule helpers =============================================================================

def add_tangents(x: Any, y: Any) -> Any:
    """Sum two (co)tangents, either of which may be a symbolic zero (None)."""
    if x is None:
        return y
    if y is None:
        return x
    return add_any_p.bind(x, y)


def instantiate_zeros(t: Any, primal: Any) -> Any:
    return zeros_like_aval(get_aval(primal)) if t is None else t


def defjvp(prim: Primitive, *tangent_fns: Callable[..., Any] | None) -> None:
    """One tangent function per argument: ``fn(t, ans, *primals, **params)``; None = no
    dependence. The output tangent is the sum of the contributions of nonzero input tangents."""
    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        ans = prim.bind(*primals, **params)
        t_out = None
        for fn, t in zip(tangent_fns, tangents):
            if t is not None and fn is not None:
                t_out = add_tangents(t_out, fn(t, ans, *primals, **params))
        return ans, t_out
    jvp_rules[prim] = rule


def defvjp(prim: Primitive, *ct_fns: Callable[..., Any] | None) -> None:
    """One cotangent function per argument: ``fn(ct, ans, *primals, **params)``; None = the
    argument is not differentiable. Only the cotangents that are needed are computed."""
    def rule(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
             **params: Any) -> list[Any]:
        return [fn(ct, ans, *primals, **params) if need and fn is not None else None
                for fn, need in zip(ct_fns, needs)]

    def unary_rule(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                   **params: Any) -> list[Any]:
        return [fn0(ct, ans, *primals, **params)]  # eager grad's most common case, kept lean

    fn0: Callable[..., Any] = ct_fns[0]  # type: ignore[assignment]
    vjp_rules[prim] = unary_rule if len(ct_fns) == 1 and fn0 is not None else rule


def deflinear(prim: Primitive, transpose: Callable[..., Sequence[Any]]) -> None:
    """A primitive linear in all its inputs: the JVP is the primitive applied to the tangents
    and the VJP is ``transpose(ct, *primals, **params)``, one cotangent per input."""
    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        ans = prim.bind(*primals, **params)
        ts = [instantiate_zeros(t, p) for t, p in zip(tangents, primals)]
        return ans, prim.bind(*ts, **params)

    def vjp(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
            **params: Any) -> Sequence[Any]:
        return transpose(ct, *primals, **params)

    jvp_rules[prim] = jvp
    vjp_rules[prim] = vjp


def defnondiff(prim: Primitive) -> None:
    """Outputs with zero derivative everywhere they exist (comparisons, argmax, floor...)."""
    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        return prim.bind(*primals, **params), None

    def vjp(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
            **params: Any) -> list[Any]:
        return [None] * len(primals)

    jvp_rules[prim] = jvp
    vjp_rules[prim] = vjp
    nondiff_primitives.add(prim)


# Their outputs leave the differentiating traces as plain values: constants to the transform.
nondiff_primitives: set[Primitive] = set()


def _missing(kind: str, prim: Primitive) -> NotImplementedError:
    return NotImplementedError(f"differentiation rule ({kind}) for primitive {prim.name!r} "
                               f"is not implemented")


defjvp(add_any_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
defvjp(add_any_p, lambda ct, ans, x, y: ct, lambda ct, ans, x, y: ct)


# == the tracers of both modes ================================================================

class PrimalTracer(Tracer):
    """A tracer holding its primal value: the array interface reads the primal directly
    (faster than building an aval), and it is concrete wherever the primal is."""

    __slots__ = ("primal",)
    primal: Any

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def to_concrete(self) -> Any:
        p = self.primal
        return p.to_concrete() if isinstance(p, Tracer) else p

    @property
    def shape(self) -> tuple[int, ...]:
        return self.primal.shape

    @property
    def dtype(self) -> np.dtype:
        return self.primal.dtype

    @property
    def ndim(self) -> int:
        return self.primal.ndim


# == forward mode =============================================================================

class JVPTracer(PrimalTracer):
    __slots__ = ("tangent",)

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent


class JVPTrace(Trace):
    differentiates = True

    def __init__(self, parent: Trace):
        self.parent = parent

    def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]
                          ) -> Any:
        primals, tangents, nonzero = [], [], False
        for x in args:
            if x.__class__ is JVPTracer and x._trace is self:
                primals.append(x.primal)
                tangents.append(x.tangent)
                nonzero = nonzero or x.tangent is not None
            else:
                primals.append(x)
                tangents.append(None)
        if not nonzero:
            return self.parent.process_primitive(prim, primals, params)
        rule = jvp_rules.get(prim)
        if rule is None:
            raise _missing("jvp", prim)
        with set_current_trace(self.parent):
            out, t_out = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, o, t) for o, t in zip(out, t_out)]
        return out if t_out is None else JVPTracer(self, out, t_out)

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        primals = [x.primal if isinstance(x, JVPTracer) and x._trace is self else x
                   for x in args]
        tangents = [x.tangent if isinstance(x, JVPTracer) and x._trace is self else None
                    for x in args]
        if all(t is None for t in tangents):
            with set_current_trace(self.parent):
                return fun(*primals)
        tangents = [instantiate_zeros(t, p) for t, p in zip(tangents, primals)]
        with set_current_trace(self.parent):
            outs, t_outs = jvp(primals, tangents)
        return [JVPTracer(self, o, t) for o, t in zip(outs, t_outs)]

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        if any(x.__class__ is JVPTracer and x._trace is self and x.tangent is not None
               for x in args):
            if not jvp_ok:
                # JAX refuses too: the user gave a reverse-mode rule only, and silently
                # differentiating the primal would ignore it.
                raise FuncgradTypeError(at_user_line(
                    "can't apply forward-mode autodiff (jvp, jacfwd, linearize) to a "
                    "custom_vjp function; use fg.custom_jvp for a forward-mode rule, or "
                    "differentiate it in reverse mode (grad, vjp, jacrev; hessian works)"))
            return fun(*args)  # checkpoint: forward mode differentiates the primal
        primals = [x.primal if x.__class__ is JVPTracer and x._trace is self else x
                   for x in args]
        with set_current_trace(self.parent):
            return self.parent.process_custom_vjp(fun, fwd, bwd, primals, out_tree, jvp_ok)


def _jvp_primals(tree: Any) -> Any:
    """``tree`` with forward-mode tracers replaced by their primals (a ``has_aux`` output)."""
    return pytree.tree_map(lambda x: x.primal if isinstance(x, JVPTracer) else x, tree)


def _unwrap_jvp(trace: JVPTrace, x: Any) -> tuple[Any, Any]:
    if isinstance(x, JVPTracer) and x._trace is trace:
        return x.primal, instantiate_zeros(x.tangent, x.primal)
    return x, zeros_like_aval(get_aval(x))


def jvp_flat(fun: Callable[..., Sequence[Any]], primals: Sequence[Any],
             tangents: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Forward mode on flat lists of arrays."""
    trace = JVPTrace(current_trace())
    try:
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        with set_current_trace(trace):
            outs = fun(*ins)
        pairs = [_unwrap_jvp(trace, o) for o in outs]
    finally:
        trace.is_alive = False
    return [p for p, _ in pairs], [t for _, t in pairs]


# == reverse mode =============================================================================

class TapeEntry(tuple):  # type: ignore[type-arg]
    """One recorded primitive application, in the tape's execution order: ``(rule, params,
    primals, in_slots, needs, ans, out_slot)``, readable by name. A tuple subclass with no
    instance dict: built in ~70 ns (a slotted ``__init__`` costs ~270 ns, 5% of eager grad's
    60-op chain) and unpacked as fast as a tuple by the backward walk."""

    __slots__ = ()
    rule = property(operator.itemgetter(0), doc="the VJP rule, looked up when recorded")
    params = property(operator.itemgetter(1), doc="the primitive's params (and residuals)")
    primals = property(operator.itemgetter(2), doc="the primal inputs")
    in_slots = property(operator.itemgetter(3), doc="each input's tape slot, None for data")
    needs = property(operator.itemgetter(4), doc="which inputs need a cotangent")
    ans = property(operator.itemgetter(5), doc="the output (a list if multiple)")
    out_slot = property(operator.itemgetter(6), doc="the output's slot (a list if multiple)")


class VJPTracer(PrimalTracer):
    __slots__ = ("slot",)

    def __init__(self, trace: VJPTrace, primal: Any, slot: int):
        self._trace = trace
        self.primal = primal
        self.slot = slot


class VJPTrace(Trace):
    """Runs the forward pass on concrete values (via ``parent``) while recording a tape.

    The tape is in execution order, which is a topological order, so the backward pass is one
    walk over it in reverse, accumulating the cotangent of each value before it is used.
    """

    differentiates = True

    def __init__(self, parent: Trace):
        self.parent = parent
        self.tape: list[TapeEntry] = []
        self.num_slots = 0

    def new_tracer(self, primal: Any) -> VJPTracer:
        self.num_slots += 1
        return VJPTracer(self, primal, self.num_slots - 1)

    def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]
                          ) -> Any:
        # The hot path of eager grad: kept flat on purpose.
        primals: list[Any] = []
        in_slots: list[int | None] = []
        needs: list[bool] = []
        traced = False
        for x in args:
            if x.__class__ is VJPTracer and x._trace is self:
                primals.append(x.primal)
                in_slots.append(x.slot)
                needs.append(True)
                traced = True
            else:
                primals.append(x)
                in_slots.append(None)
                needs.append(False)
        if traced and prim in residual_rules:
            # The residual channel: the forward saves values (in primitives, one level down)
            # that the VJP rule reads as params["residuals"].
            with set_current_trace(self.parent):
                ans, residuals = residual_rules[prim](*primals, **params)
            params = {**params, "residuals": residuals}
        else:
            ans = self.parent.process_primitive(prim, primals, params)
        if not traced or (not prim.multiple_results and ans.dtype.kind not in "fc") or (
                prim in nondiff_primitives):
            return ans  # integer and boolean values carry no cotangent: nothing to record
        return self._append(prim, params, primals, in_slots, needs, ans)

    def _append(self, prim: Primitive, params: dict[str, Any], primals: list[Any],
                in_slots: list[int | None], needs: list[bool], ans: Any) -> Any:
        """Put one tape entry: (vjp rule, params, primal inputs, their slots, which of them
        need a cotangent, output, output slot(s)); return the output's tracer(s)."""
        rule = vjp_rules.get(prim)
        if rule is None:
            raise _missing("vjp", prim)
        if prim.multiple_results:
            outs = [self.new_tracer(a) for a in ans]
            self.tape.append(TapeEntry((rule, params, primals, in_slots, needs, ans,
                                        [o.slot for o in outs])))
            return outs
        slot = self.num_slots
        self.num_slots = slot + 1
        self.tape.append(TapeEntry((rule, params, primals, in_slots, needs, ans, slot)))
        return VJPTracer(self, ans, slot)

    def _unwrap(self, args: Sequence[Any]) -> tuple[list[Any], list[int | None], list[bool]]:
        """(primals, tape slots, whether each needs a cotangent) of ``args`` for this trace;
        ``process_primitive`` inlines the same loop on the hot path."""
        primals: list[Any] = []
        in_slots: list[int | None] = []
        needs: list[bool] = []
        for x in args:
            own = x.__class__ is VJPTracer and x._trace is self
            primals.append(x.primal if own else x)
            in_slots.append(x.slot if own else None)
            needs.append(own)
        return primals, in_slots, needs

    def record_known(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any],
                     ans: Any) -> Any:
        """Record ``prim`` on the tape with an answer computed earlier instead of running it:
        how checkpoint replays an equation whose output its policy saved."""
        primals, in_slots, needs = self._unwrap(args)
        if not any(needs) or (not prim.multiple_results and ans.dtype.kind not in "fc"):
            return ans
        return self._append(prim, params, primals, in_slots, needs, ans)

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        # Reverse mode through a custom_jvp function: the transpose of its (linear) tangent
        # rule, recorded as one tape entry.
        return self._record_custom(_custom_jvp_vjp, args, lambda *p: (fun(*p), {}),
                                   {"jvp": jvp})

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        def run(*primals: Any) -> tuple[list[Any], dict[str, Any]]:
            outs, res = fwd(*primals)
            return outs, {"res": res}
        return self._record_custom(_custom_vjp_vjp, args, run, {"bwd": bwd})

    def _record_custom(self, rule: VJPRule, args: Sequence[Any], run: Callable[..., Any],
                       params: dict[str, Any]) -> list[Any]:
        """Run ``run`` on the primals one level down and record ``rule`` for its outputs."""
        primals, in_slots, needs = self._unwrap(args)
        with set_current_trace(self.parent):
            outs, extra = run(*primals)
        if all(s is None for s in in_slots):
            return outs
        tracers = [self.new_tracer(o) for o in outs]
        self.tape.append(TapeEntry((rule, {**params, **extra}, primals, in_slots, needs, outs,
                                    [t.slot for t in tracers])))
        return tracers

    def residual_bytes(self) -> int:
        """Bytes of concrete arrays the tape keeps alive for the backward pass."""
        seen: dict[int, int] = {}
        for _, params, primals, _, _, ans, _ in self.tape:
            for x in (*primals, *(ans if isinstance(ans, list) else [ans]),
                      *_leaves_of(params.get("res")), *_leaves_of(params.get("residuals"))):
                if isinstance(x, np.ndarray):
                    base = x.base if x.base is not None else x
                    seen[id(base)] = base.nbytes
        return sum(seen.values())

    def backward(self, out_slots: Sequence[int | None], out_cts: Sequence[Any],
                 in_slots: Sequence[int]) -> list[Any]:
        """Cotangents of the values in ``in_slots``, given those of ``out_slots``."""
        cts: list[Any] = [None] * self.num_slots
        for slot, ct in zip(out_slots, out_cts):
            if slot is not None and ct is not None:
                cts[slot] = add_tangents(cts[slot], ct)
        lowest_needed = min(in_slots, default=0)
        state = tracing._state
        outer_backward_of = state.backward_of
        try:
            self._walk_back(cts, lowest_needed, state)
        finally:
            state.backward_of = outer_backward_of
        return [cts[s] for s in in_slots]

    def _walk_back(self, cts: list[Any], lowest_needed: int, state: Any) -> None:
        for rule, params, primals, node_in_slots, needs, ans, out_slot in reversed(self.tape):
            if out_slot.__class__ is int:
                ct = cts[out_slot]
                if ct is None:
                    continue
                if out_slot < lowest_needed:
                    break  # everything earlier on the tape cannot reach the inputs
                cts[out_slot] = None  # used once: free it as the walk goes
            else:
                ct = [cts[s] for s in out_slot]
                if all(c is None for c in ct):
                    continue
            state.backward_of = ans
            # Most entries have no params: skipping the empty ** saves ~60 ns per entry.
            in_cts = (rule(ct, ans, primals, needs, **params) if params
                      else rule(ct, ans, primals, needs))
            for s, c in zip(node_in_slots, in_cts):
                if s is not None and c is not None:
                    prev = cts[s]
                    cts[s] = c if prev is None else add_any_p.bind(prev, c)


def _custom_vjp_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                    needs: Sequence[bool], *, bwd: Any, res: Any) -> list[Any]:
    cts = [instantiate_zeros(c, a) for c, a in zip(cts, ans)]
    in_cts = bwd(res, cts)
    return [c if need else None for c, need in zip(in_cts, needs)]


def _custom_jvp_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                    needs: Sequence[bool], *, jvp: Any) -> list[Any]:
    # The tangent output of a JVP rule is linear in the tangents, so reverse mode over it (at
    # any tangent point, here zero) is its transpose.
    zeros = [zeros_like_aval(get_aval(p)) for p in primals]
    cts = [instantiate_zeros(c, a) for c, a in zip(cts, ans)]
    _, pullback = vjp(lambda *ts: list(jvp(list(primals), list(ts))[1]), *zeros)
    in_cts = pullback(cts)
    return [c if need else None for c, need in zip(in_cts, needs)]


def _leaves_of(tree: Any) -> list[Any]:
    return [] if tree is None else pytree.tree_leaves(tree)


def residual_bytes(fun: Callable[..., Any], *primals: Any) -> int:
    """How many bytes of residuals reverse mode stores for ``fun`` at ``primals``: the
    measure ``checkpoint`` reduces.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> residual_bytes(lambda x: fnp.sum(fnp.sin(x)), np.zeros(4)) > 0
    True
    """
    trace = VJPTrace(current_trace())
    try:
        with set_current_trace(trace):
            fun(*[trace.new_tracer(np.asarray(x)) for x in primals])
    finally:
        trace.is_alive = False
    return trace.residual_bytes()


# == user-facing transforms ===================================================================

def _check_cotangent(ct: Any, primal_out: Any, where: str) -> Any:
    ct_aval, out_aval = get_aval(ct), get_aval(primal_out)
    if ct_aval.shape != out_aval.shape:
        raise FuncgradValueError(at_user_line(
            f"{where}: cotangent has shape {ct_aval.shape} but the primal output has shape "
            f"{out_aval.shape}"))
    return ct


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """Reverse mode: ``(out, vjp_fn)``, or ``(out, vjp_fn, aux)`` with ``has_aux``.

    ``vjp_fn(ct)`` takes a cotangent shaped like ``out`` and returns a tuple with one
    cotangent per primal argument.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> out, f_vjp = fg.vjp(fnp.sin, np.array([0.0, 1.0]))
    >>> f_vjp(np.ones(2))[0].round(4)
    array([1.    , 0.5403])
    """
    argnums = tuple(range(len(primals)))
    leaves, in_tree, names = api_util.flatten_args(primals, "vjp", argnums)
    api_util.check_differentiable(leaves, names, "vjp")
    rec = _Recording(fun, leaves, in_tree, has_aux, "vjp")
    trace, in_slots, out_slots, out_tree, out_primals = (
        rec.trace, rec.in_slots, rec.out_slots, rec.out_tree, rec.out_primals)

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = pytree.tree_flatten(ct)
        if ct_tree != out_tree:
            raise FuncgradValueError(at_user_line(
                f"vjp_fn: the cotangent's structure {ct_tree} does not match the output's "
                f"{out_tree}"))
        ct_leaves = [_check_cotangent(c, o, "vjp_fn") for c, o in zip(ct_leaves, out_primals)]
        in_cts = trace.backward(out_slots, ct_leaves, in_slots)
        in_cts = [_owned(instantiate_zeros(c, x), ct_leaves) for c, x in zip(in_cts, leaves)]
        return tuple(pytree.tree_unflatten(in_tree, in_cts))

    primal_out = pytree.tree_unflatten(out_tree, out_primals)
    return (primal_out, vjp_fn, rec.aux) if has_aux else (primal_out, vjp_fn)


class _Recording:
    """The forward pass of reverse mode: ``fun`` run on tape tracers of ``leaves``."""

    def __init__(self, fun: Callable[..., Any], leaves: Sequence[Any], in_tree: Any,
                 has_aux: bool, fname: str):
        self.trace = trace = VJPTrace(current_trace())
        self.aux: Any = None
        try:
            tracers = [trace.new_tracer(x) for x in leaves]
            with set_current_trace(trace):
                out = fun(*pytree.tree_unflatten(in_tree, tracers))
            if has_aux:
                out, aux = _split_aux(out, fname)
                self.aux = pytree.tree_map(lambda x: _primal_of(trace, x), aux)
            out_leaves, self.out_tree = pytree.tree_flatten(out)
            self.out_primals = [_primal_of(trace, o) for o in out_leaves]
            self.out_slots = [o.slot if isinstance(o, VJPTracer) and o._trace is trace
                              else None for o in out_leaves]
        finally:
            trace.is_alive = False
        self.in_slots = [t.slot for t in tracers]


def _owned(x: Any, inputs: Sequence[Any]) -> Any:
    """A result the caller may write to: no read-only constant view, no alias of an input."""
    if isinstance(x, np.ndarray) and (not x.flags.writeable or any(x is i for i in inputs)):
        return np.array(x)
    return x


def _primal_of(trace: VJPTrace, x: Any) -> Any:
    return x.primal if isinstance(x, VJPTracer) and x._trace is trace else x


def _split_aux(out: Any, fname: str) -> tuple[Any, Any]:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise FuncgradTypeError(at_user_line(
            f"{fname}(..., has_aux=True) needs the function to return a pair (output, aux), "
            f"got {type(out).__name__}"))
    return out[0], out[1]


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """``(value, gradient)`` of a scalar-output ``fun`` in one forward pass.

    The output must be real, as in JAX, unless ``holomorphic=True`` (then inputs and output
    must be complex, and the gradient is the complex derivative).

    >>> import funcgrad as fg, numpy as np
    >>> fg.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    (array(5.), array([2., 4.]))
    """
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = api_util.normalize_argnums(argnums, len(args), "grad")
        leaves, in_tree, names = api_util.flatten_args(args, "grad", nums)
        api_util.check_differentiable(leaves, names, "grad")
        if holomorphic:
            for x, n in zip(leaves, names):
                if get_aval(x).dtype.kind != "c":
                    raise FuncgradTypeError(at_user_line(
                        f"grad(..., holomorphic=True) requires complex inputs, but {n} has "
                        f"dtype {get_aval(x).dtype}"))

        def f_of_diff(*diff: Any) -> Any:
            return fun(*api_util.replace_args(args, nums, diff), **kwargs)

        rec = _Recording(f_of_diff, leaves, in_tree, has_aux, "grad")
        value = pytree.tree_unflatten(rec.out_tree, rec.out_primals)
        aval = get_aval(value) if isinstance(value, (np.ndarray, np.generic, Tracer)) else None
        if aval is None or aval.shape != ():
            got = f"shape {aval.shape}" if aval is not None else type(value).__name__
            raise FuncgradTypeError(at_user_line(
                f"grad requires a scalar (shape ()) output from the function, got {got}; "
                f"use fg.vjp or fg.jacrev for non-scalar outputs, or reduce with .sum()"))
        if not np.issubdtype(aval.dtype, np.inexact):
            raise FuncgradTypeError(at_user_line(
                f"grad requires a real- or complex-valued output, got dtype {aval.dtype}"))
        if aval.dtype.kind == "c" and not holomorphic:
            raise FuncgradTypeError(at_user_line(
                f"grad requires a real-valued output, got dtype {aval.dtype}; for the complex "
                f"derivative of a holomorphic function pass holomorphic=True, otherwise take "
                f"the real part or abs of the output, or use fg.vjp"))
        if aval.dtype.kind != "c" and holomorphic:
            raise FuncgradTypeError(at_user_line(
                f"grad(..., holomorphic=True) requires a complex output, got dtype {aval.dtype}"))
        # The cotangent is made here, so vjp_fn's structure and shape checks are not needed.
        in_cts = rec.trace.backward(rec.out_slots, [np.ones((), aval.dtype)], rec.in_slots)
        grads = pytree.tree_unflatten(in_tree, [_owned(instantiate_zeros(c, x), ())
                                                for c, x in zip(in_cts, leaves)])
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, rec.aux), g) if has_aux else (value, g)

    value_and_grad_f.__name__ = f"value_and_grad({getattr(fun, '__name__', 'fun')})"
    value_and_grad_f.__wrapped__ = fun  # type: ignore[attr-defined]
    return value_and_grad_f


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False, holomorphic: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar-output ``fun`` with respect to the arguments at ``argnums``.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.grad(lambda x: fnp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([ 3., 12.])
    >>> fg.grad(fg.grad(lambda x: x ** 3))(2.0)
    array(12.)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = f"grad({getattr(fun, '__name__', 'fun')})"
    grad_f.__wrapped__ = fun  # type: ignore[attr-defined]
    return grad_f


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> Any:
    """Forward mode: ``(fun(*primals), J @ tangents)``.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.jvp(fnp.sin, (np.array(0.0),), (np.array(2.0),))
    (array(0.), array(2.))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise FuncgradTypeError("jvp: primals and tangents must be tuples or lists, got "
                                f"{type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_tree, names = api_util.flatten_args(tuple(primals), "jvp",
                                                    tuple(range(len(primals))))
    t_leaves, t_tree = pytree.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise FuncgradValueError(at_user_line(
            f"jvp: primals {p_tree} and tangents {t_tree} must have the same structure"))
    t_leaves = [api_util.as_array_leaf(t, f"jvp: tangent of {n}") for t, n in
                zip(t_leaves, names)]
    api_util.check_differentiable(p_leaves, names, "jvp")
    for p, t, n in zip(p_leaves, t_leaves, names):
        if get_aval(p).shape != get_aval(t).shape:
            raise FuncgradValueError(at_user_line(
                f"jvp: the tangent of {n} has shape {get_aval(t).shape} but the primal has "
                f"shape {get_aval(p).shape}"))
    out_tree: list[Any] = []
    aux_box: list[Any] = []

    def flat_fun(*flat: Any) -> list[Any]:
        out = fun(*pytree.tree_unflatten(p_tree, flat))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
            aux_box.append(aux)
        leaves, tree = pytree.tree_flatten(out)
        out_tree.append(tree)
        return leaves

    outs, t_outs = jvp_flat(flat_fun, p_leaves, t_leaves)
    t_outs = [_owned(t, t_leaves) for t in t_outs]
    primal_out = pytree.tree_unflatten(out_tree[0], outs)
    tangent_out = pytree.tree_unflatten(out_tree[0], t_outs)
    if has_aux:
        return primal_out, tangent_out, _jvp_primals(aux_box[0])
    return primal_out, tangent_out


def linearize(fun: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(fun(*primals), f_jvp)`` where ``f_jvp`` evaluates the JVP at ``primals`` without
    recomputing the primal: the tangent program is staged once into a jaxpr, with every
    primal-only equation folded to a constant at trace time.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> y, f_jvp = fg.linearize(fnp.exp, np.array(0.0))
    >>> f_jvp(np.array(3.0))
    array(3.)
    """
    p_leaves, p_tree, names = api_util.flatten_args(primals, "linearize",
                                                    tuple(range(len(primals))))
    api_util.check_differentiable(p_leaves, names, "linearize")
    out_trees: list[pytree.PyTreeDef] = []
    flat_fun = api_util.flatten_fun(fun, p_tree, out_trees)
    holder: dict[str, Any] = {}

    def tangent_fun(*t_leaves: Any) -> list[Any]:
        outs, t_outs = jvp_flat(flat_fun, p_leaves, list(t_leaves))
        holder["primals"] = outs
        return t_outs

    closed = trace_to_jaxpr(tangent_fun, [get_aval(x) for x in p_leaves], fold_constants=True)
    out_tree = out_trees[-1]

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = pytree.tree_flatten(tangents)
        if t_tree != p_tree:
            raise FuncgradValueError(at_user_line(
                f"linearize: f_jvp takes tangents shaped like the primals {p_tree}, "
                f"got {t_tree}"))
        return pytree.tree_unflatten(out_tree, eval_jaxpr(closed.jaxpr, closed.consts,
                                                          *t_leaves))

    return pytree.tree_unflatten(out_tree, holder["primals"]), f_jvp


# -- Jacobians ------------------------------------------------------------------------------

def _std_basis(leaves: Sequence[Any]) -> tuple[list[Any], int]:
    """One-hot tangents for every scalar input, stacked along a new leading axis."""
    sizes = [get_aval(x).size for x in leaves]
    total = sum(sizes)
    dtype = np.result_type(*[get_aval(x).dtype for x in leaves]) if leaves else np.float64
    eye = np.eye(total, dtype=dtype)
    basis, start = [], 0
    for x, size in zip(leaves, sizes):
        aval = get_aval(x)
        basis.append(eye[:, start:start + size].reshape((total, *aval.shape)).astype(aval.dtype))
        start += size
    return basis, total


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """The Jacobian by forward mode (vmap of jvp over the standard basis).

    The result has shape ``out.shape + in.shape``, per output and input leaf.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.jacfwd(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    from funcgrad.transforms.batching import vmap

    def jac_f(*args: Any) -> Any:
        nums = api_util.normalize_argnums(argnums, len(args), "jacfwd")
        leaves, in_tree, names = api_util.flatten_args(args, "jacfwd", nums)
        api_util.check_differentiable(leaves, names, "jacfwd")
        basis, _ = _std_basis(leaves)
        holder: dict[str, Any] = {}

        def push(*tangent_leaves: Any) -> Any:
            def f_flat(*flat: Any) -> list[Any]:
                out = fun(*api_util.replace_args(args, nums,
                                                 pytree.tree_unflatten(in_tree, flat)))
                if has_aux:
                    out, holder["aux"] = _split_aux(out, "jacfwd")
                out_leaves, holder["tree"] = pytree.tree_flatten(out)
                return out_leaves
            outs, t_outs = jvp_flat(f_flat, leaves, list(tangent_leaves))
            holder["outs"] = outs
            return t_outs

        jac_cols = vmap(push, in_axes=0, out_axes=-1)(*basis)  # (*out_shape, total)
        return _assemble_jac(jac_cols, holder, leaves, in_tree, argnums, has_aux, fwd=True)

    return jac_f


def jacrev(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    """The Jacobian by reverse mode (vmap of the VJP over the standard basis of outputs).

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.jacrev(lambda x: fnp.sin(x) * 2)(np.array([0.0, 0.0]))
    array([[2., 0.],
           [0., 2.]])
    """
    from funcgrad.transforms.batching import vmap

    def jac_f(*args: Any) -> Any:
        nums = api_util.normalize_argnums(argnums, len(args), "jacrev")
        leaves, in_tree, names = api_util.flatten_args(args, "jacrev", nums)
        api_util.check_differentiable(leaves, names, "jacrev")

        def f_flat(*flat: Any) -> Any:
            return fun(*api_util.replace_args(args, nums, pytree.tree_unflatten(in_tree, flat)))

        res = vjp(f_flat, *leaves, has_aux=has_aux)
        out, f_vjp = res[0], res[1]
        out_leaves, out_tree = pytree.tree_flatten(out)
        basis, total = _std_basis(out_leaves)

        def pull(*ct_leaves: Any) -> Any:
            return list(f_vjp(pytree.tree_unflatten(out_tree, ct_leaves)))

        rows = vmap(pull)(*basis)  # per input leaf: (total_out, *in_shape)
        jac_per_out: list[list[Any]] = []
        start = 0
        from funcgrad import lax
        for o in out_leaves:
            oshape = get_aval(o).shape
            size = int(np.prod(oshape, dtype=np.int64))
            jac_per_out.append([
                lax.reshape(lax.slice_in_dim(r, start, start + size, axis=0),
                            (*oshape, *get_aval(x).shape)) for r, x in zip(rows, leaves)])
            start += size
        jac = _nest(jac_per_out, out_tree, in_tree, argnums)
        return (jac, res[2]) if has_aux else jac

    return jac_f


def _nest(per_out: list[list[Any]], out_tree: Any, in_tree: Any,
          argnums: int | Sequence[int]) -> Any:
    """Jacobian blocks -> output pytree of (input pytree) as JAX returns them."""
    blocks = []
    for row in per_out:
        inner = pytree.tree_unflatten(in_tree, row)
        blocks.append(inner[0] if isinstance(argnums, int) else tuple(inner))
    return pytree.tree_unflatten(out_tree, blocks)


def _assemble_jac(jac_cols: Sequence[Any], holder: dict[str, Any], leaves: Sequence[Any],
                  in_tree: Any, argnums: int | Sequence[int], has_aux: bool, fwd: bool) -> Any:
    from funcgrad import lax
    per_out = []
    for col, o in zip(jac_cols, holder["outs"]):
        oshape = get_aval(o).shape
        row, start = [], 0
        for x in leaves:
            ishape = get_aval(x).shape
            size = int(np.prod(ishape, dtype=np.int64))
            piece = lax.slice_in_dim(col, start, start + size, axis=len(oshape))
            row.append(lax.reshape(piece, (*oshape, *ishape)))
            start += size
        per_out.append(row)
    jac = _nest(per_out, holder["tree"], in_tree, argnums)
    return (jac, _jvp_primals(holder["aux"])) if has_aux else jac


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False) -> Callable[..., Any]:
    """``jacfwd(jacrev(fun))``, the Hessian with shape ``out.shape + in.shape + in.shape``.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.hessian(lambda x: fnp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


# == jaxpr transforms (used by control flow and jit) =============================================

def _inexact(aval: ShapedArray) -> bool:
    return bool(np.issubdtype(aval.dtype, np.inexact))


def jvp_jaxpr(closed: ClosedJaxpr, nonzero: Sequence[bool]) -> ClosedJaxpr:
    """``(*primals, *tangents[nonzero]) -> (*outs, *tangents of the inexact outs)``."""
    n = len(closed.in_avals)
    in_avals = [*closed.in_avals, *(a for a, nz in zip(closed.in_avals, nonzero) if nz)]
    out_float = [_inexact(a) for a in closed.out_avals]

    def fun(*args: Any) -> list[Any]:
        dots = iter(args[n:])
        tangents = [next(dots) if nz else None for nz in nonzero]
        outs, out_dots = jvp_flat(lambda *xs: eval_closed(closed, *xs), args[:n], tangents)
        return [*outs, *(t for t, f in zip(out_dots, out_float) if f)]

    return cached_rule(closed, ("jvp", tuple(nonzero)), lambda: stage_rule(fun, in_avals))


def vjp_call(fun: Callable[..., Sequence[Any]], primals: Sequence[Any], needs: Sequence[bool],
              cts: Sequence[Any]) -> list[Any]:
    """Cotangents of ``fun``'s inputs (zeros instantiated where needed, None elsewhere)."""
    trace = VJPTrace(current_trace())
    ins = [trace.new_tracer(p) if need else p for p, need in zip(primals, needs)]
    try:
        with set_current_trace(trace):
            outs = fun(*ins)
        out_slots = [o.slot if isinstance(o, VJPTracer) and o._trace is trace else None
                     for o in outs]
    finally:
        trace.is_alive = False
    in_slots = [t.slot for t, need in zip(ins, needs) if need]
    grads = iter(trace.backward(out_slots, cts, in_slots) if in_slots else [])
    return [instantiate_zeros(next(grads), p) if need else None
            for p, need in zip(primals, needs)]


def vjp_jaxpr(closed: ClosedJaxpr, needs: Sequence[bool], ct_nonzero: Sequence[bool]
               ) -> ClosedJaxpr:
    """``(*primals, *cts[ct_nonzero]) -> cotangents of the needed primals``."""
    n = len(closed.in_avals)
    ct_avals = [a for a, nz in zip(closed.out_avals, ct_nonzero) if nz]

    def fun(*args: Any) -> list[Any]:
        cts_in = iter(args[n:])
        cts = [next(cts_in) if nz else None for nz in ct_nonzero]
        grads = vjp_call(lambda *xs: eval_closed(closed, *xs), args[:n], needs, cts)
        return [g for g, need in zip(grads, needs) if need]

    return cached_rule(closed, ("vjp", tuple(needs), tuple(ct_nonzero)),
                       lambda: stage_rule(fun, [*closed.in_avals, *ct_avals]))



def linearize_jaxpr(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, ClosedJaxpr, int]:
    """Reverse mode of ``closed`` split in two programs, as jit's VJP runs it:
    ``fwd(*primals) -> (*outs, *residuals)`` and
    ``bwd(*residuals, *cts of the inexact outs) -> cts of the inexact inputs``; returns
    ``(fwd, bwd, number of residuals)``.

    The forward is staged under a tape: the residuals are the staged values the tape keeps
    for the backward (VJP rules' inputs and outputs, residual-channel values, custom_vjp
    residuals) that the backward actually reads. The backward is the tape walked back on
    those values as inputs of a second staging trace. If a rule hides a forward value
    somewhere the tape does not show, the backward recomputes the forward instead.
    """
    return cached_rule(closed, ("linearize",), lambda: _linearize(closed))  # type: ignore


def _linearize(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, ClosedJaxpr, int]:
    from funcgrad.core.staging import StagingTrace, StagingTracer
    from funcgrad.core.tracing import UnexpectedTracerError

    needs = [_inexact(a) for a in closed.in_avals]
    out_float = [_inexact(a) for a in closed.out_avals]
    fwd_trace = StagingTrace(current_trace())
    ins = [fwd_trace.new_arg(a) for a in closed.in_avals]
    tape = VJPTrace(fwd_trace)
    tracers = [tape.new_tracer(x) if need else x for x, need in zip(ins, needs)]
    try:
        with set_current_trace(fwd_trace), set_current_trace(tape):
            outs = eval_closed(closed, *tracers)
        out_slots = [o.slot if isinstance(o, VJPTracer) and o._trace is tape else None
                     for o in outs]
        out_primals = [_primal_of(tape, o) for o in outs]
    finally:
        tape.is_alive = False

    def staged(x: Any) -> bool:
        return isinstance(x, StagingTracer) and x._trace is fwd_trace

    kept: dict[Any, Any] = {}  # Var -> forward tracer, in tape order
    for _, params, primals, _, _, ans, _ in tape.tape:
        for x in (*primals, *(ans if isinstance(ans, list) else [ans]),
                  *_leaves_of(params.get("residuals")), *_leaves_of(params.get("res"))):
            if staged(x):
                kept.setdefault(x.var, x)
    try:
        fwd_all = fwd_trace.to_jaxpr([*out_primals, *kept.values()])
    finally:
        fwd_trace.is_alive = False

    bwd_trace = StagingTrace(current_trace())
    res_in = {var: bwd_trace.new_arg(t.aval) for var, t in kept.items()}
    for var, b in res_in.items():
        if var in fwd_trace.producers:  # backward equations name the forward line
            bwd_trace.producers[b.var] = fwd_trace.producers[var]
    cts_in = [bwd_trace.new_arg(a) if f else None for a, f in zip(closed.out_avals, out_float)]

    def sub(x: Any) -> Any:
        return res_in[x.var] if staged(x) else x

    tape.tape = [TapeEntry((rule, {k: pytree.tree_map(sub, v) if k in ("residuals", "res")
                                   else v for k, v in params.items()},
                            [sub(p) for p in primals], in_slots, nd,
                            [sub(a) for a in ans] if isinstance(ans, list) else sub(ans),
                            out_slot))
                 for rule, params, primals, in_slots, nd, ans, out_slot in tape.tape]
    in_slots = [t.slot for t in tracers if isinstance(t, VJPTracer)]
    try:
        with set_current_trace(bwd_trace):
            grads = iter(tape.backward(out_slots, cts_in, in_slots) if in_slots else [])
            in_cts = [_or_zeros(next(grads), a) for a, need in zip(closed.in_avals, needs)
                      if need]
        bwd_all = bwd_trace.to_jaxpr(in_cts)
    except UnexpectedTracerError:
        return _linearize_by_recomputing(closed)
    finally:
        bwd_trace.is_alive = False

    # Keep only the residuals the backward reads.
    used = {a for e in bwd_all.eqns for a in e.invars} | set(bwd_all.jaxpr.outvars)
    n_out = len(closed.out_avals)
    res_vars = bwd_all.jaxpr.invars[:len(kept)]
    keep = [i for i, v in enumerate(res_vars) if v in used]
    fwd = ClosedJaxpr(fwd_all.jaxpr.replace(outvars=[
        *fwd_all.jaxpr.outvars[:n_out], *(fwd_all.jaxpr.outvars[n_out + i] for i in keep)]),
        fwd_all.consts)
    bwd = ClosedJaxpr(bwd_all.jaxpr.replace(invars=[
        *(res_vars[i] for i in keep), *bwd_all.jaxpr.invars[len(kept):]]), bwd_all.consts)
    return fwd, bwd, len(keep)


def _or_zeros(ct: Any, aval: ShapedArray) -> Any:
    return zeros_like_aval(aval) if ct is None else ct


def _linearize_by_recomputing(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, ClosedJaxpr, int]:
    # The residuals are the inputs; the backward runs the forward again under a tape.
    n = len(closed.in_avals)
    needs = [_inexact(a) for a in closed.in_avals]
    out_float = [_inexact(a) for a in closed.out_avals]
    fwd = stage_rule(lambda *xs: [*eval_closed(closed, *xs), *xs], closed.in_avals)
    bwd = vjp_jaxpr(closed, needs, out_float)
    return fwd, bwd, n
