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

import keyword
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree, tracing
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, at_user_line, user_source_info
from funcgrad.core.ir import ClosedJaxpr, Literal
from funcgrad.core.primitive import Primitive, _is_plain, add_any_p, zeros_like_aval
from funcgrad.core.staging import cached_rule, eval_closed, stage_rule, trace_to_jaxpr
from funcgrad.core.tracing import EvalTrace, Trace, Tracer, current_trace, set_current_trace

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
        # Not strict: trailing operands without a function (indices, say) carry no tangent.
        for fn, t in zip(tangent_fns, tangents, strict=False):
            if t is not None and fn is not None:
                t_out = add_tangents(t_out, fn(t, ans, *primals, **params))
        return ans, t_out
    jvp_rules[prim] = rule


def defvjp(prim: Primitive, *ct_fns: Callable[..., Any] | None) -> None:
    """One cotangent function per argument: ``fn(ct, ans, *primals, **params)``; None = the
    argument is not differentiable. Only the cotangents that are needed are computed."""
    def rule(ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
             **params: Any) -> list[Any]:
        # Not strict: trailing operands without a function (indices, say) get no cotangent.
        return [fn(ct, ans, *primals, **params) if need and fn is not None else None
                for fn, need in zip(ct_fns, needs, strict=False)]

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
        ts = [instantiate_zeros(t, p) for t, p in zip(tangents, primals, strict=True)]
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


# Whether eager backward passes replay VJP rules as compiled NumPy (tests turn it off to
# compare the two paths).
REPLAY_RULES = True


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
            return [JVPTracer(self, o, t) for o, t in zip(out, t_out, strict=True)]
        return out if t_out is None else JVPTracer(self, out, t_out)

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        primals = [x.primal if isinstance(x, JVPTracer) and x._trace is self else x
                   for x in args]
        tangents = [x.tangent if isinstance(x, JVPTracer) and x._trace is self else None
                    for x in args]
        if all(t is None for t in tangents):
            # Not this trace's: the parent sees the custom rule (the primal body would lose it).
            with set_current_trace(self.parent):
                return self.parent.process_custom_jvp(fun, jvp, primals)
        tangents = [instantiate_zeros(t, p) for t, p in zip(tangents, primals, strict=True)]
        with set_current_trace(self.parent):
            outs, t_outs = jvp(primals, tangents)
        return [JVPTracer(self, o, t) for o, t in zip(outs, t_outs, strict=True)]

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
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents, strict=True)]
        with set_current_trace(trace):
            outs = fun(*ins)
        pairs = [_unwrap_jvp(trace, o) for o in outs]
    finally:
        trace.is_alive = False
    return [p for p, _ in pairs], [t for _, t in pairs]


# == reverse mode =============================================================================

# One recorded primitive application, in the tape's execution order: a plain tuple
# ``(rule, params, primals, in_slots, needs, ans, out_slot)``: the VJP rule (looked up when
# recorded), the primitive's params (and residuals), the primal inputs, each input's tape slot
# (None for data), which inputs need a cotangent, the output (a list if multiple) and its
# slot (a list if multiple). A plain tuple is built in ~40 ns (a tuple subclass with named
# fields costs ~200 ns, 3% of eager grad's 60-op chain) and unpacked by the backward walk.
TapeEntry = tuple


class VJPTracer(PrimalTracer):
    __slots__ = ("slot",)

    def __init__(self, trace: VJPTrace, primal: Any, slot: int):
        self._trace = trace
        self.primal = primal
        self.slot = slot


# The ``needs`` of one- and two-operand tape entries (shared: rules only read them).
_NEEDS_1 = (True,)
_NEEDS_TT, _NEEDS_TF, _NEEDS_FT = (True, True), (True, False), (False, True)
_new_vjp_tracer = object.__new__  # VJPTracer without its __init__ call, on the hot path


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
        self.sources: dict[int, tuple[str, Any]] = {}  # only under debug_nans/debug_infs

    def new_tracer(self, primal: Any) -> VJPTracer:
        self.num_slots += 1
        return VJPTracer(self, primal, self.num_slots - 1)

    def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]
                          ) -> Any:
        # The hot path of eager grad: kept flat on purpose, with one and two operands
        # unrolled (most primitives), and the tape entry put inline.
        n = len(args)
        if n == 1:
            x = args[0]
            if x.__class__ is not VJPTracer or x._trace is not self:
                return self.parent.process_primitive(prim, args, params)
            primals: list[Any] = [x.primal]
            in_slots: list[int | None] = [x.slot]
            needs: Sequence[bool] = _NEEDS_1
        elif n == 2:
            x, y = args
            if x.__class__ is VJPTracer and x._trace is self:
                if y.__class__ is VJPTracer and y._trace is self:
                    primals, in_slots, needs = [x.primal, y.primal], [x.slot, y.slot], _NEEDS_TT
                else:
                    primals, in_slots, needs = [x.primal, y], [x.slot, None], _NEEDS_TF
            elif y.__class__ is VJPTracer and y._trace is self:
                primals, in_slots, needs = [x, y.primal], [None, y.slot], _NEEDS_FT
            else:
                return self.parent.process_primitive(prim, args, params)
        else:
            primals, in_slots, needs = self._unwrap(args)
            if not any(needs):
                return self.parent.process_primitive(prim, primals, params)
        if prim in residual_rules:
            # The residual channel: the forward saves values (in primitives, one level down)
            # that the VJP rule reads as params["residuals"].
            with set_current_trace(self.parent):
                ans, residuals = residual_rules[prim](*primals, **params)
            params = {**params, "residuals": residuals}
        else:
            ans = self.parent.process_primitive(prim, primals, params)
        if prim.multiple_results:
            return ans if prim in nondiff_primitives else self._append(
                prim, params, primals, in_slots, needs, ans)
        if ans.dtype.kind not in "fc" or prim in nondiff_primitives:
            return ans  # integer and boolean values carry no cotangent: nothing to record
        rule = vjp_rules.get(prim)
        if rule is None or tracing.DEBUG_NANS:
            return self._append(prim, params, primals, in_slots, needs, ans)
        slot = self.num_slots
        self.num_slots = slot + 1
        self.tape.append((rule, params, primals, in_slots, needs, ans, slot))
        tracer = _new_vjp_tracer(VJPTracer)
        tracer._trace, tracer.primal, tracer.slot = self, ans, slot
        return tracer

    def _append(self, prim: Primitive, params: dict[str, Any], primals: list[Any],
                in_slots: list[int | None], needs: Sequence[bool], ans: Any) -> Any:
        """Put one tape entry: (vjp rule, params, primal inputs, their slots, which of them
        need a cotangent, output, output slot(s)); return the output's tracer(s)."""
        rule = vjp_rules.get(prim)
        if rule is None:
            raise _missing("vjp", prim)
        if tracing.DEBUG_NANS:  # so a NaN in this entry's VJP names the forward line
            self.sources[id(ans)] = (prim.name, user_source_info())
        if prim.multiple_results:
            outs = [self.new_tracer(a) for a in ans]
            self.tape.append((rule, params, primals, in_slots, needs, ans,
                              [o.slot for o in outs]))
            return outs
        slot = self.num_slots
        self.num_slots = slot + 1
        self.tape.append((rule, params, primals, in_slots, needs, ans, slot))
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
        # The primals go to the parent as a custom_jvp call too, so an enclosing transform
        # (grad of grad) uses the rule instead of differentiating the primal body.
        return self._record_custom(
            _custom_jvp_vjp, args,
            lambda *p: (self.parent.process_custom_jvp(fun, jvp, p), {}), {"jvp": jvp})

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
        self.tape.append((rule, {**params, **extra}, primals, in_slots, needs, outs,
                          [t.slot for t in tracers]))
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
        for slot, ct in zip(out_slots, out_cts, strict=True):
            if slot is not None and ct is not None:
                cts[slot] = add_tangents(cts[slot], ct)
        lowest_needed = min(in_slots, default=0)
        state = tracing._state
        outer_backward_of, outer_sources = state.backward_of, state.backward_sources
        state.backward_sources = self.sources
        try:
            self._walk_back(cts, lowest_needed, state)
        finally:
            state.backward_of, state.backward_sources = outer_backward_of, outer_sources
        return [cts[s] for s in in_slots]

    def _walk_back(self, cts: list[Any], lowest_needed: int, state: Any) -> None:
        # Under plain evaluation, replayable rules run as compiled NumPy (see _replay_key)
        # and cotangents accumulate with add_any's impl, as the eval trace would run them.
        plain = state.trace.__class__ is EvalTrace and REPLAY_RULES
        replays = _REPLAYS
        for rule, params, primals, node_in_slots, needs, ans, out_slot in reversed(self.tape):
            if out_slot.__class__ is int:
                ct = cts[out_slot]
                if ct is None:
                    continue
                if out_slot < lowest_needed:
                    break  # everything earlier on the tape cannot reach the inputs
                cts[out_slot] = None  # used once: free it as the walk goes
                if plain and ct.__class__ is _nd and ans.__class__ is _nd:
                    key = _replay_key(rule, ct, ans, primals, needs, params)
                    if key is not None:
                        fn = replays.get(key, _MISSING)
                        if fn is _MISSING:
                            fn = _replay_for(key, rule, ct, ans, primals, needs, params)
                        if fn is not None:
                            fn(ct, ans, primals, node_in_slots, cts)
                            continue
            else:
                ct = [cts[s] for s in out_slot]
                if all(c is None for c in ct):
                    continue
            state.backward_of = ans
            # Most entries have no params: skipping the empty ** saves ~60 ns per entry.
            in_cts = (rule(ct, ans, primals, needs, **params) if params
                      else rule(ct, ans, primals, needs))
            # Not strict: defvjp's rules may leave out trailing non-differentiable operands.
            for s, c in zip(node_in_slots, in_cts, strict=False):
                if s is not None and c is not None:
                    prev = cts[s]
                    cts[s] = c if prev is None else add_any_p.bind(prev, c)
            plain = plain and state.trace.__class__ is EvalTrace  # a rule ran user code

# == replayed VJP rules ========================================================================
# Eager grad's backward pass spends most of its time dispatching: a VJP rule of two primitives
# goes through two lax wrappers, two binds and two eval-trace checks around two NumPy calls.
# When nothing but plain evaluation is current, the rule of a tape entry is instead staged once
# per (rule, types of its inputs, params) into a jaxpr and compiled to straight-line Python that
# calls the primitives' impls, as ``EvalTrace`` would: the same impls on the same values in the
# same order, so the same results bit for bit. The rule table stays the only source of rules.
# Anything unusual (params that are not plain values, rules that stage control flow, rules
# whose staging fails or whose outputs are constants) is not replayed: the rule runs as usual.

_REPLAYS: dict[Any, Any] = {}  # key -> replay function, or None: run the rule directly
_MISSING = object()
_nd = np.ndarray


def _replay_key(rule: Any, ct: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                params: dict[str, Any]) -> Any:
    """The cache key of a tape entry's backward step (``ct`` and ``ans`` are ndarrays), or
    None when it is not replayable: an operand that is not an ndarray, or params that are not
    plain values (arrays, jaxprs, functions)."""
    if needs.__class__ is not tuple:
        needs = tuple(needs)
    n = len(primals)
    if n == 1:
        p = primals[0]
        if p.__class__ is not _nd:
            return None
        key: Any = (rule, ct.shape, ct.dtype, ans.shape, ans.dtype, p.shape, p.dtype, needs)
    elif n == 2:
        p, q = primals
        if p.__class__ is not _nd or q.__class__ is not _nd:
            return None
        key = (rule, ct.shape, ct.dtype, ans.shape, ans.dtype, p.shape, p.dtype, q.shape,
               q.dtype, needs)
    else:
        if any(p.__class__ is not _nd for p in primals):
            return None
        key = (rule, ct.shape, ct.dtype, ans.shape, ans.dtype,
               *[(p.shape, p.dtype) for p in primals], needs)
    if params:
        items = tuple(params.items())
        if not all(_is_plain(v) for _, v in items):
            return None
        key = (key, items)
    return key


def _replay_for(key: Any, rule: Any, ct: Any, ans: Any, primals: Sequence[Any],
                needs: Sequence[bool], params: dict[str, Any]) -> Any:
    """The compiled replay of ``key`` (None: not replayable), compiled on first use."""
    try:
        fn = _compile_replay(rule, ct, ans, primals, needs, params)
    except Exception:  # the rule cannot be staged here: it runs directly, as always
        fn = None
    if len(_REPLAYS) > 4096:
        _REPLAYS.clear()
    _REPLAYS[key] = fn
    return fn


def _compile_replay(rule: Any, ct: Any, ans: Any, primals: Sequence[Any],
                    needs: Sequence[bool], params: dict[str, Any]) -> Any:
    n = len(primals)
    avals = [ShapedArray(x.shape, x.dtype) for x in (ct, ans, *primals)]
    present: list[bool] = []

    def fun(ct_t: Any, ans_t: Any, *primal_ts: Any) -> list[Any]:
        outs = list(rule(ct_t, ans_t, list(primal_ts), needs, **params))
        present[:] = [o is not None for o in outs]
        return [o for o in outs if o is not None]

    state = tracing._state
    outer = state.backward_of
    state.backward_of = None  # staged equations need no forward line
    try:
        closed = trace_to_jaxpr(fun, avals)
    finally:
        state.backward_of = outer
    jaxpr = closed.jaxpr
    names: dict[Any, str] = {}
    env: dict[str, Any] = {"_nd": _nd, "_asarray": np.asarray}
    for i, v in enumerate(jaxpr.invars):
        names[v] = f"i{i}"
    for i, (v, c) in enumerate(zip(jaxpr.constvars, closed.consts, strict=True)):
        if c.__class__ is not _nd or c.flags.writeable:
            return None  # a fresh array per call in the rule: replaying would share it
        names[v], env[f"c{i}"] = f"c{i}", c
    literal_count = 0

    def atom(a: Any) -> str:
        nonlocal literal_count
        if isinstance(a, Literal):
            val = a.val
            if val.__class__ is not _nd or val.flags.writeable or a.aval.weak_type:
                raise _NotReplayable
            literal_count += 1
            env[f"l{literal_count}"] = val
            return f"l{literal_count}"
        return names[a]

    body = [f"    {''.join(f'i{i + 2}, ' for i in range(n))}= primals"] if n else []
    produced: set[Any] = set()
    try:
        for k, eqn in enumerate(jaxpr.eqns):
            prim = eqn.primitive
            args = [atom(a) for a in eqn.invars]
            for j, (pname, pval) in enumerate(eqn.params.items()):
                if not _is_plain(pval) or not pname.isidentifier() or keyword.iskeyword(pname):
                    return None
                env[f"p{k}_{j}"] = pval
                args.append(f"{pname}=p{k}_{j}")
            env[f"f{k}"] = prim.impl
            call = f"f{k}({', '.join(args)})"
            outs = []
            for v in eqn.outvars:
                names[v] = f"v{len(names)}"
                outs.append(names[v])
                produced.add(v)
            if prim.multiple_results:
                body += [f"    t = {call}",
                         "    if t.__class__ is not _nd:",
                         "        t = [o if o.__class__ is _nd else _asarray(o) for o in t]",
                         f"    {''.join(o + ', ' for o in outs)}= t"]
            else:
                out, = outs
                body.append(f"    {out} = {call}")
                # A ufunc of exact ndarrays returns an exact ndarray unless the result is 0-d.
                if not (isinstance(prim.impl, np.ufunc) and prim.impl.nout == 1
                        and eqn.outvars[0].aval.shape != ()):
                    body.append(f"    if {out}.__class__ is not _nd: {out} = _asarray({out})")
    except _NotReplayable:
        return None
    if len(present) != n:
        return None
    # Each cotangent goes straight into the walk's table, accumulated as _walk_back does.
    env["_add"], env["_add_bind"] = add_any_p.impl, add_any_p.bind
    results = iter(jaxpr.outvars)
    for i, here in enumerate(present):
        if not here:
            continue
        res = next(results)
        if isinstance(res, Literal) or (res not in produced and res not in jaxpr.invars):
            return None  # a constant output: the rule may hand out a fresh array each call
        out = names[res]
        body += [f"    s = slots[{i}]",
                 "    if s is not None:",
                 "        prev = cts[s]",
                 "        if prev is None:",
                 f"            cts[s] = {out}",
                 "        elif prev.__class__ is _nd:",
                 f"            prev = _add(prev, {out})",
                 "            cts[s] = prev if prev.__class__ is _nd else _asarray(prev)",
                 "        else:",
                 f"            cts[s] = _add_bind(prev, {out})"]
    source = "def replay(i0, i1, primals, slots, cts):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<vjp replay of {getattr(rule, '__qualname__', rule)}>", "exec"), env)
    return env["replay"]


class _NotReplayable(Exception):
    pass


def _custom_vjp_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                    needs: Sequence[bool], *, bwd: Any, res: Any) -> list[Any]:
    cts = [instantiate_zeros(c, a) for c, a in zip(cts, ans, strict=True)]
    in_cts = bwd(res, cts)
    return [c if need else None for c, need in zip(in_cts, needs, strict=True)]


def _custom_jvp_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                    needs: Sequence[bool], *, jvp: Any) -> list[Any]:
    # The tangent output of a JVP rule is linear in the tangents, so reverse mode over it (at
    # any tangent point, here zero) is its transpose.
    zeros = [zeros_like_aval(get_aval(p)) for p in primals]
    cts = [instantiate_zeros(c, a) for c, a in zip(cts, ans, strict=True)]
    _, pullback = vjp_flat(lambda *ts: list(jvp(list(primals), list(ts))[1]), zeros)
    in_cts = pullback(cts)
    return [c if need else None for c, need in zip(in_cts, needs, strict=True)]


def vjp_flat(fun: Callable[..., Sequence[Any]], primals: Sequence[Any]
             ) -> tuple[list[Any], Callable[[Sequence[Any]], list[Any]]]:
    """Reverse mode of a function of flat arrays returning a flat list: ``(outs, pullback)``,
    with ``pullback(cts)`` giving one cotangent per primal (zeros instantiated). The rules'
    own entry point; users call ``api.vjp``."""
    trace = VJPTrace(current_trace())
    try:
        tracers = [trace.new_tracer(x) for x in primals]
        with set_current_trace(trace):
            outs = list(fun(*tracers))
        out_primals = [_primal_of(trace, o) for o in outs]
        out_slots = [o.slot if isinstance(o, VJPTracer) and o._trace is trace else None
                     for o in outs]
    finally:
        trace.is_alive = False
    in_slots = [t.slot for t in tracers]

    def pullback(cts: Sequence[Any]) -> list[Any]:
        in_cts = trace.backward(out_slots, list(cts), in_slots)
        return [instantiate_zeros(c, x) for c, x in zip(in_cts, primals, strict=True)]
    return out_primals, pullback


def _primal_of(trace: VJPTrace, x: Any) -> Any:
    return x.primal if isinstance(x, VJPTracer) and x._trace is trace else x


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


# == jaxpr transforms (used by control flow and jit) =============================================

def _inexact(aval: ShapedArray) -> bool:
    return bool(np.issubdtype(aval.dtype, np.inexact))


def jvp_jaxpr(closed: ClosedJaxpr, nonzero: Sequence[bool]) -> ClosedJaxpr:
    """``(*primals, *tangents[nonzero]) -> (*outs, *tangents of the inexact outs)``."""
    n = len(closed.in_avals)
    in_avals = [*closed.in_avals, *(a for a, nz in zip(closed.in_avals, nonzero,
                                                       strict=True) if nz)]
    out_float = [_inexact(a) for a in closed.out_avals]

    def fun(*args: Any) -> list[Any]:
        dots = iter(args[n:])
        tangents = [next(dots) if nz else None for nz in nonzero]
        outs, out_dots = jvp_flat(lambda *xs: eval_closed(closed, *xs), args[:n], tangents)
        return [*outs, *(t for t, f in zip(out_dots, out_float, strict=True) if f)]

    return cached_rule(closed, ("jvp", tuple(nonzero)), lambda: stage_rule(fun, in_avals))


def vjp_call(fun: Callable[..., Sequence[Any]], primals: Sequence[Any], needs: Sequence[bool],
              cts: Sequence[Any]) -> list[Any]:
    """Cotangents of ``fun``'s inputs (zeros instantiated where needed, None elsewhere)."""
    trace = VJPTrace(current_trace())
    ins = [trace.new_tracer(p) if need else p for p, need in zip(primals, needs, strict=True)]
    try:
        with set_current_trace(trace):
            outs = fun(*ins)
        out_slots = [o.slot if isinstance(o, VJPTracer) and o._trace is trace else None
                     for o in outs]
    finally:
        trace.is_alive = False
    in_slots = [t.slot for t, need in zip(ins, needs, strict=True) if need]
    grads = iter(trace.backward(out_slots, cts, in_slots) if in_slots else [])
    return [instantiate_zeros(next(grads), p) if need else None
            for p, need in zip(primals, needs, strict=True)]


def vjp_jaxpr(closed: ClosedJaxpr, needs: Sequence[bool], ct_nonzero: Sequence[bool]
               ) -> ClosedJaxpr:
    """``(*primals, *cts[ct_nonzero]) -> cotangents of the needed primals``."""
    n = len(closed.in_avals)
    ct_avals = [a for a, nz in zip(closed.out_avals, ct_nonzero, strict=True) if nz]

    def fun(*args: Any) -> list[Any]:
        cts_in = iter(args[n:])
        cts = [next(cts_in) if nz else None for nz in ct_nonzero]
        grads = vjp_call(lambda *xs: eval_closed(closed, *xs), args[:n], needs, cts)
        return [g for g, need in zip(grads, needs, strict=True) if need]

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
    tracers = [tape.new_tracer(x) if need else x for x, need in zip(ins, needs, strict=True)]
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
    cts_in = [bwd_trace.new_arg(a) if f else None for a, f in zip(closed.out_avals, out_float,
                                                                  strict=True)]

    def sub(x: Any) -> Any:
        return res_in[x.var] if staged(x) else x

    tape.tape = [(rule, {k: pytree.tree_map(sub, v) if k in ("residuals", "res")
                         else v for k, v in params.items()},
                  [sub(p) for p in primals], in_slots, nd,
                  [sub(a) for a in ans] if isinstance(ans, list) else sub(ans),
                  out_slot)
                 for rule, params, primals, in_slots, nd, ans, out_slot in tape.tape]
    in_slots = [t.slot for t in tracers if isinstance(t, VJPTracer)]
    try:
        with set_current_trace(bwd_trace):
            grads = iter(tape.backward(out_slots, cts_in, in_slots) if in_slots else [])
            in_cts = [_or_zeros(next(grads), a) for a, need in zip(closed.in_avals, needs,
                                                                   strict=True)
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
