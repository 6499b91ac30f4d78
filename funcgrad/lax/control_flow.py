"""Control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan`` and ``map``.

Three primitives hold their bodies as ``ClosedJaxpr`` params (JAX's names and layouts):

- ``cond`` (``index, *operands``; ``branches``): run branch ``index`` (clamped);
- ``while`` (``*cond_consts, *body_consts, *carry``; ``cond_jaxpr, body_jaxpr, cond_nconsts,
  body_nconsts``): loop ``body`` while ``cond`` holds;
- ``scan`` (``*consts, *carry, *xs``; ``jaxpr, length, reverse, num_consts, num_carry``): thread
  a carry through ``length`` steps, stacking the per-step outputs.

When Python can decide a branch or a trip count, it does:

- ``cond``/``switch`` with a predicate that is concrete at the current trace (``full_lower``
  sees through JVP/VJP tracers whose primal is concrete) just call the chosen branch, so the
  eager ``grad``/``jvp``/``vjp`` of a ``cond`` is the derivative of the branch taken;
- ``fori_loop`` with concrete bounds is a Python ``for`` loop outside staging, and a ``scan``
  with a fixed trip count under ``make_jaxpr``/``jit`` (as JAX, so it stays reverse-mode
  differentiable without unrolling the program);
- ``while_loop`` and ``scan`` always bind their primitive, eager or not (their bodies are traced
  once). ``scan``'s length is static anyway; binding it gives reverse mode O(length) memory,
  where a Python loop would slice ``xs`` ``length`` times and pay O(length**2) for the
  cotangents of the slices. ``while_loop`` must bind so that reverse mode can refuse it, as JAX.

Rules, written with funcgrad primitives so they nest to any order:

- JVP: the primitive again on the JVP of its jaxprs (``ad.jvp_flat`` staged with
  ``trace_to_jaxpr``); tangents of integer values are symbolic zeros.
- VJP of ``cond``: a ``cond`` over the VJPs of the branches (each recomputes its branch's
  forward pass). VJP of ``scan``, by recomputation: one forward ``scan`` stacks the carry that
  entered each step (the residuals), then a reverse ``scan`` runs the VJP of the body at each
  stored carry, recomputing the body's intermediates inside the step (per-step checkpointing:
  memory O(length * carry), about three forward passes of work). ``while`` has no VJP: reverse
  mode raises a ``TypeError`` that points to ``scan``/``fori_loop``.
- Batching: the body is batched (``BatchTrace`` on the jaxpr, carries batched to a fixpoint). A
  batched ``cond`` index runs every branch and selects; a batched ``while`` predicate runs while
  any example's predicate holds, freezing finished examples with ``select``.
"""

from __future__ import annotations

import builtins
import operator
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval, result_type
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.ir import ClosedJaxpr, Jaxpr, Var
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import StagingTrace, eval_jaxpr
from funcgrad.core.staging import cached_rule as _cached_rule
from funcgrad.core.staging import stage_closure_converted as _stage
from funcgrad.core.staging import stage_rule as _stage_rule
from funcgrad.core.tracing import (
    EVAL_TRACE,
    Tracer,
    current_trace,
    full_lower,
    set_current_trace,
)
from funcgrad.lax.elementwise import (
    convert_element_type,
    eq,
    gt,
    lt,
    ne,
    select,
)
from funcgrad.lax.elementwise import max as lax_max
from funcgrad.lax.elementwise import min as lax_min
from funcgrad.lax.reductions import reduce_sum
from funcgrad.lax.structural import broadcast_in_dim
from funcgrad.transforms import ad, api_util, batching, codegen
from funcgrad.transforms.ad import jvp_jaxpr as _jvp_jaxpr
from funcgrad.transforms.ad import vjp_call as _vjp_call
from funcgrad.transforms.ad import vjp_jaxpr as _vjp_jaxpr
from funcgrad.transforms.batching import batch_eval as _batch_eval
from funcgrad.transforms.batching import batch_jaxpr as _batch_jaxpr
from funcgrad.transforms.batching import bdim_at_front, moveaxis

_py_map = builtins.map  # this module defines lax.map

# == jaxpr plumbing ===========================================================================


def _inexact(aval: ShapedArray) -> bool:
    return np.issubdtype(aval.dtype, np.inexact)


def _as_operand(x: Any) -> Any:
    """A pytree leaf as a primitive operand: Python and NumPy scalars become arrays."""
    return x if isinstance(x, (np.ndarray, Tracer)) else np.asarray(x)


def _to_arrays(tree: Any) -> Any:
    """Scalar leaves of a Python-evaluated result as arrays, as a staged result would be."""
    return pytree.tree_map(_as_operand, tree)


def _eval_closed(closed: ClosedJaxpr, *args: Any) -> list[Any]:
    return eval_jaxpr(closed.jaxpr, closed.consts, *args)


def _split(xs: Sequence[Any], *sizes: int) -> list[list[Any]]:
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _trace_user_fun(fun: Callable[..., Any], in_tree: pytree.PyTreeDef,
                    in_avals: Sequence[ShapedArray]
                    ) -> tuple[ClosedJaxpr, list[Any], pytree.PyTreeDef]:
    """Stage a user function of pytree arguments: (jaxpr, hoisted operands, output tree)."""
    out_trees: list[pytree.PyTreeDef] = []
    closed, hoisted = _stage(api_util.flatten_fun(fun, in_tree, out_trees), in_avals)
    return closed, hoisted, out_trees[0]


# User bodies are cached as JAX's ``_initial_style_jaxpr`` is: on (the function's identity,
# input tree, input avals), when it captured no tracer (rule jaxprs are cached on the body
# jaxpr, in the transforms). Repeated grads of a scan then stage nothing. A staged body holds
# the arrays it read as constants, so an entry is reused only while the function's closure
# cells and the module globals it names hold the same objects: rebinding one re-stages.
_user_cache: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _captured(fun: Callable[..., Any]) -> tuple[Any, ...]:
    """The objects ``fun`` reads from its closure cells and by global name, strongly held by
    the cache entry (so their identities stay valid while it lives)."""
    code = getattr(fun, "__code__", None)
    if code is None:
        return ()
    values = []
    for cell in fun.__closure__ or ():  # type: ignore[attr-defined]
        try:
            values.append(cell.cell_contents)
        except ValueError:  # an empty cell (a name assigned after the def)
            values.append(_captured)
    names = fun.__globals__  # type: ignore[attr-defined]
    values.extend(names.get(n, _captured) for n in code.co_names)
    return tuple(values)


def _cached_user_fun(user_fun: Callable[..., Any], fun: Callable[..., Any],
                     in_tree: pytree.PyTreeDef, in_avals: Sequence[ShapedArray]
                     ) -> tuple[ClosedJaxpr, list[Any], pytree.PyTreeDef]:
    """``_trace_user_fun(fun, ...)`` where ``fun`` wraps ``user_fun``, cached on
    ``user_fun``."""
    key = (in_tree, tuple(in_avals))
    try:
        per_fun = _user_cache.setdefault(user_fun, {})
    except TypeError:  # not weakly referenceable: stage every time
        return _trace_user_fun(fun, in_tree, in_avals)
    captured = _captured(user_fun)
    hit = per_fun.get(key)
    if hit is not None and len(hit[2]) == len(captured) and all(
            a is b for a, b in zip(hit[2], captured, strict=True)):
        return hit[0], [], hit[1]
    closed, hoisted, out_tree = _trace_user_fun(fun, in_tree, in_avals)
    if not hoisted:  # captured tracers differ per call: only tracer-free bodies are reused
        per_fun[key] = (closed, out_tree, captured)
    return closed, hoisted, out_tree


def _with_invars(closed: ClosedJaxpr, order: Sequence[int], extra: Sequence[ShapedArray] = ()
                 ) -> ClosedJaxpr:
    """Reorder a jaxpr's inputs: position ``i`` of the new input list is old input
    ``order[i]``; indices past the old inputs are new, unused inputs typed by ``extra``."""
    old = closed.jaxpr.invars
    pool = [*old, *(Var(a) for a in extra)]
    jaxpr = closed.jaxpr
    new = Jaxpr(jaxpr.constvars, [pool[i] for i in order], jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(new, closed.consts)


def _with_outvars(closed: ClosedJaxpr, order: Sequence[int]) -> ClosedJaxpr:
    jaxpr = closed.jaxpr
    new = Jaxpr(jaxpr.constvars, jaxpr.invars, [jaxpr.outvars[i] for i in order], jaxpr.eqns)
    return ClosedJaxpr(new, closed.consts)


def _same_type(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _types_str(avals: Sequence[ShapedArray]) -> str:
    return "[" + ", ".join(a.str_short() for a in avals) + "]"


def _under_staging() -> bool:
    """Whether some trace between the current one and the eval trace records a jaxpr."""
    trace = current_trace()
    while not isinstance(trace, StagingTrace):
        parent = getattr(trace, "parent", trace)
        if parent is trace:  # the eval trace is its own parent
            return False
        trace = parent
    return True


# == transform helpers shared by the rules ====================================================

def _batched_carry(body: ClosedJaxpr, consts_b: Sequence[bool], init_b: Sequence[bool],
                   xs_b: Sequence[bool], size: int) -> list[bool]:
    """Which loop carries are batched: those whose init is, or that the body (inputs
    ``[*consts, *carry, *xs]``, carry outputs first) makes so; iterated to a fixpoint."""
    carry_b = list(init_b)
    n_out = len(body.out_avals)
    while True:
        out_b = _batch_jaxpr(body, [*consts_b, *carry_b, *xs_b], size, [False] * n_out)[1]
        new = [a or b for a, b in zip(carry_b, out_b[:len(carry_b)], strict=True)]
        if new == carry_b:
            return carry_b
        carry_b = new


def _select_batched(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``select`` with a per-example predicate of shape (B,) on arrays batched on axis 0."""
    shape = get_aval(on_true).shape
    return select(broadcast_in_dim(pred, shape, (0,)), on_true, on_false)


# == cond / switch ============================================================================

cond_p = Primitive("cond", multiple_results=True)


def _clamp_index(index: int, n: int) -> int:
    return int(np.clip(index, 0, n - 1))


def _cond_impl(index: Any, *ops: Any, branches: tuple[ClosedJaxpr, ...]) -> list[Any]:
    with set_current_trace(EVAL_TRACE):
        return _eval_closed(branches[_clamp_index(index, len(branches))], *ops)


def _cond_abstract_eval(index: ShapedArray, *ops: ShapedArray,
                        branches: tuple[ClosedJaxpr, ...]) -> list[ShapedArray]:
    if index.shape != () or index.dtype.kind not in "iu":
        raise FuncgradTypeError(f"cond: the branch index must be an integer scalar, got "
                                f"{index.str_short()}")
    outs = branches[0].out_avals
    for i, br in enumerate(branches):
        if len(br.in_avals) != len(ops) or not all(_py_map(_same_type, br.in_avals, ops)):
            raise FuncgradTypeError(f"cond: branch {i} takes {_types_str(br.in_avals)} but the "
                                    f"operands are {_types_str(ops)}")
        if len(br.out_avals) != len(outs) or not all(_py_map(_same_type, br.out_avals, outs)):
            raise FuncgradTypeError(f"cond: branch {i} returns {_types_str(br.out_avals)} but "
                                    f"branch 0 returns {_types_str(outs)}")
    return list(outs)


cond_p.def_impl(_cond_impl)
cond_p.def_abstract_eval(_cond_abstract_eval)


def _tuple_of(names: Sequence[str]) -> str:
    return ", ".join(names) + ("," if len(names) == 1 else "")


def _cond_codegen(fn: codegen.FunctionWriter, eqn: Any, ins: list[str], outs: list[str]) -> None:
    # The index is concrete at run time: a Python if/elif on it, as _clamp_index clamps.
    branches = eqn.params["branches"]
    index, ops = ins[0], ", ".join(ins[1:])
    targets = _tuple_of(outs) if outs else "_"
    if len(branches) == 1:
        fn.emit(f"{targets} = {fn.call_function(branches[0], 'cond_branch0')}({ops})")
        return
    for i, br in enumerate(branches):
        callee = fn.call_function(br, f"cond_branch{i}")
        if i < len(branches) - 1:
            test = f"{index} <= {i}" if i == 0 else f"{index} == {i}"
            fn.emit(f"{'if' if i == 0 else 'elif'} {test}:")
        else:
            fn.emit("else:")
        fn.indent += 1
        fn.emit(f"{targets} = {callee}({ops})")
        fn.indent -= 1


codegen.codegen_rules[cond_p] = _cond_codegen


def _cond_jvp(primals: Sequence[Any], tangents: Sequence[Any],
              branches: tuple[ClosedJaxpr, ...]) -> tuple[list[Any], list[Any]]:
    index, *ops = primals
    op_dots = list(tangents[1:])
    out_float = [_inexact(a) for a in branches[0].out_avals]
    idx = full_lower(index)
    if not isinstance(idx, Tracer):  # the branch is known: differentiate just that one
        branch = branches[_clamp_index(idx, len(branches))]
        outs, dots = ad.jvp_flat(lambda *xs: _eval_closed(branch, *xs), ops, op_dots)
        return outs, [t if f else None for t, f in zip(dots, out_float, strict=True)]
    nonzero = [t is not None for t in op_dots]
    jvp_branches = tuple(_jvp_jaxpr(br, nonzero) for br in branches)
    res = cond_p.bind(index, *ops, *(t for t in op_dots if t is not None),
                      branches=jvp_branches)
    n = len(out_float)
    dots = iter(res[n:])
    return res[:n], [next(dots) if f else None for f in out_float]


def _cond_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
              **params: Any) -> list[Any]:
    branches = params["branches"]
    index, *ops = primals
    op_needs = [need and _inexact(get_aval(x)) for need, x in zip(needs[1:], ops, strict=True)]
    idx = full_lower(index)
    if not isinstance(idx, Tracer):
        branch = branches[_clamp_index(idx, len(branches))]
        return [None, *_vjp_call(lambda *xs: _eval_closed(branch, *xs), ops, op_needs, cts)]
    ct_nonzero = [c is not None for c in cts]
    vjp_branches = tuple(_vjp_jaxpr(br, op_needs, ct_nonzero) for br in branches)
    res = iter(cond_p.bind(index, *ops, *(c for c in cts if c is not None),
                           branches=vjp_branches))
    return [None, *(next(res) if need else None for need in op_needs)]


def _cond_batch(args: Sequence[Any], dims: Sequence[Any], branches: tuple[ClosedJaxpr, ...]
                ) -> tuple[list[Any], list[Any]]:
    size = batching.batch_size(args, dims)
    index, *ops = (x if d is None else moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True))
    op_batched = [d is not None for d in dims[1:]]
    force = [True] * len(branches[0].out_avals)
    if dims[0] is None:  # one branch for everyone: batch every branch's body
        batched = tuple(_batch_jaxpr(br, op_batched, size, force)[0] for br in branches)
        return cond_p.bind(index, *ops, branches=batched), [0] * len(force)
    # A per-example branch index: run every branch on the whole batch, then select.
    index = lax_max(lax_min(index, len(branches) - 1), 0)
    outs = _batch_eval(branches[0], ops, op_batched, size, force)[0]
    for k in range(1, len(branches)):
        outs_k = _batch_eval(branches[k], ops, op_batched, size, force)[0]
        pred = eq(index, np.full(get_aval(index).shape, k, get_aval(index).dtype))
        outs = [_select_batched(pred, a, b) for a, b in zip(outs_k, outs, strict=True)]
    return outs, [0] * len(force)


ad.jvp_rules[cond_p] = _cond_jvp
ad.vjp_rules[cond_p] = _cond_vjp
batching.batch_rules[cond_p] = _cond_batch


def _promote_weak(avals: Sequence[ShapedArray], targets: Sequence[ShapedArray]
                  ) -> list[ShapedArray] | None:
    """JAX's weak-type promotion of loop carries: a weakly typed input (a Python scalar)
    whose body output has another dtype takes that dtype. None if nothing changes."""
    out, changed = [], False
    for a, t in zip(avals, targets, strict=True):
        if a.weak_type and a.shape == t.shape and a.dtype != t.dtype:
            out.append(ShapedArray(a.shape, t.dtype))
            changed = True
        else:
            out.append(a)
    return out if changed else None


def _cast_outputs(closed: ClosedJaxpr, dtypes: Sequence[np.dtype]) -> ClosedJaxpr:
    def cast(x: Any, dtype: np.dtype) -> Any:
        # a constant output (a Python scalar) is cast now, not by a staged equation
        return convert_element_type(x, dtype) if isinstance(x, Tracer) else np.asarray(x, dtype)

    def fun(*args: Any) -> list[Any]:
        return [cast(o, d) for o, d in zip(_eval_closed(closed, *args), dtypes, strict=True)]
    return _stage_rule(fun, closed.in_avals)


def _branch_targets(out_avals: Sequence[Sequence[ShapedArray]], what: str) -> list[np.dtype]:
    """The common output dtypes of branches returning ``out_avals`` (one list per branch);
    weakly typed outputs (Python scalars) give way to the strongly typed dtype of the other
    branches, as JAX. Else a TypeError naming every branch's output types."""
    targets = []
    for j in range(len(out_avals[0])):
        column = [avals[j] for avals in out_avals]
        strong = {a.dtype for a in column if not a.weak_type}
        shapes = {a.shape for a in column}
        if len(shapes) == 1 and len({a.dtype for a in column}) == 1:
            targets.append(column[0].dtype)
        elif len(shapes) == 1 and len(strong) <= 1:
            targets.append(strong.pop() if strong else np.result_type(*(a.dtype for a in column)))
        else:
            raise FuncgradTypeError(at_user_line(
                f"{what} must return identical types: the branches return "
                + "; ".join(_types_str(avals) for avals in out_avals)))
    return targets


def _unify_branch_outputs(jaxprs: list[ClosedJaxpr], what: str) -> list[ClosedJaxpr]:
    """Make every branch return the same types (see ``_branch_targets``)."""
    targets = _branch_targets([br.out_avals for br in jaxprs], what)
    return [br if all(a.dtype == d for a, d in zip(br.out_avals, targets, strict=True))
            else _cast_outputs(br, targets) for br in jaxprs]


def _check_branches_concrete(chosen: int, out: Any, branches: Sequence[Callable[..., Any]],
                             operands: Sequence[Any], what: str) -> Any:
    """With a concrete predicate only ``branches[chosen]`` ran (giving ``out``), but every
    branch must still return the same types, as when staged: the others are staged on abstract
    operands (their jaxprs are discarded) and compared. Returns ``out`` with leaves as arrays,
    weakly typed ones cast to the common dtype."""
    out_leaves, out_tree = pytree.tree_flatten(out)
    out_avals = [get_aval(x) for x in out_leaves]
    leaves, in_tree = pytree.tree_flatten(tuple(operands))
    in_avals = [get_aval(x) for x in leaves]
    trees: list[Any] = []
    all_avals: list[Sequence[ShapedArray]] = []
    for k, br in enumerate(branches):
        if k == chosen:
            trees.append(out_tree)
            all_avals.append(out_avals)
        else:  # only its types are read, so a cached trace is exact (no stale constants)
            closed, _, tree = _cached_user_fun(br, br, in_tree, in_avals)
            trees.append(tree)
            all_avals.append(closed.out_avals)
    if any(t != out_tree for t in trees):
        raise FuncgradTypeError(at_user_line(
            f"{what} must return the same pytree structure, got "
            + " and ".join(str(t) for t in trees)))
    targets = _branch_targets(all_avals, what)

    def cast(x: Any, dtype: np.dtype) -> Any:
        x = _as_operand(x)
        if get_aval(x).dtype == dtype:
            return x
        return convert_element_type(x, dtype) if isinstance(x, Tracer) else np.asarray(x, dtype)
    return pytree.tree_unflatten(out_tree, [cast(x, d) for x, d in zip(out_leaves, targets,
                                                                       strict=True)])


def _stage_switch(index: Any, branches: Sequence[Callable[..., Any]], operands: Sequence[Any],
                  what: str) -> Any:
    leaves, in_tree = pytree.tree_flatten(tuple(operands))
    avals = [get_aval(x) for x in leaves]
    traced = [_trace_user_fun(br, in_tree, avals) for br in branches]
    out_tree = traced[0][2]
    for _, _, tree in traced[1:]:
        if tree != out_tree:
            raise FuncgradTypeError(at_user_line(
                f"{what} must return the same pytree structure, got "
                + " and ".join(str(t) for _, _, t in traced)))
    jaxprs = _unify_branch_outputs([closed for closed, _, _ in traced], what)
    # Every branch takes the tracers captured by all branches, then the operands.
    hoisted = [h for _, hs, _ in traced for h in hs]
    counts = [len(hs) for _, hs, _ in traced]
    padded, start = [], 0
    for closed, n in zip(jaxprs, counts, strict=True):
        n_in = len(closed.in_avals)
        before = [get_aval(h) for h in hoisted[:start]]
        after = [get_aval(h) for h in hoisted[start + n:]]
        # new order: [fresh(before), own hoisted, fresh(after), operands]
        extra = [*before, *after]
        order = [*range(n_in, n_in + len(before)), *range(n),
                 *range(n_in + len(before), n_in + len(extra)), *range(n, n_in)]
        padded.append(_with_invars(closed, order, extra))
        start += n
    outs = cond_p.bind(index, *hoisted, *_py_map(_as_operand, leaves), branches=tuple(padded))
    return pytree.tree_unflatten(out_tree, outs)


def _scalar_aval(x: Any, what: str) -> ShapedArray:
    try:
        aval = get_aval(x)
    except TypeError:
        raise FuncgradTypeError(at_user_line(
            f"{what} must be a scalar array or Python scalar, got {type(x).__name__}")) from None
    if aval.shape != ():
        raise FuncgradTypeError(at_user_line(f"{what} must be a scalar, got shape {aval.shape}"))
    return aval


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as ``jax.lax.cond``.

    With a concrete ``pred`` this is a Python ``if``; with a traced one (under ``jit``,
    ``make_jaxpr``, or a per-example predicate under ``vmap``) both branches are staged into a
    ``cond`` primitive, and they must return the same pytree of shapes and dtypes.

    Args:
        pred: a scalar bool (or number: nonzero is true).
        true_fun: called with ``*operands`` when ``pred`` is true.
        false_fun: called with ``*operands`` otherwise.
        *operands: pytrees passed to the branch.

    Returns:
        The chosen branch's output.

    >>> import funcgrad as fg, numpy as np
    >>> fg.lax.cond(np.array(2.0) > 1.0, lambda x: x * 10, lambda x: -x, np.array(3.0))
    array(30.)
    >>> fg.vmap(lambda p, x: fg.lax.cond(p, lambda x: x * 10, lambda x: -x, x))(
    ...     np.array([True, False]), np.array([1.0, 2.0]))
    array([10., -2.])
    """
    aval = _scalar_aval(pred, "cond: the predicate")
    if aval.dtype != np.bool_ and not np.issubdtype(aval.dtype, np.number):
        raise FuncgradTypeError(at_user_line(
            f"cond: the predicate must be a boolean or a number, got dtype {aval.dtype}"))
    if not (callable(true_fun) and callable(false_fun)):
        raise FuncgradTypeError(at_user_line("cond: true_fun and false_fun must be callable"))
    p = full_lower(pred)
    if not isinstance(p, Tracer):
        chosen = 1 if bool(p) else 0
        out = (true_fun if chosen else false_fun)(*operands)
        return _check_branches_concrete(chosen, out, (false_fun, true_fun), operands,
                                        "cond: true_fun and false_fun")
    if aval.dtype != np.bool_:
        pred = ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, np.int32)
    return _stage_switch(index, (false_fun, true_fun), operands,
                         "cond: true_fun and false_fun")


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped to the valid range, as
    ``jax.lax.switch``.

    Args:
        index: an integer scalar.
        branches: a non-empty sequence of functions with the same output types.
        *operands: pytrees passed to the chosen branch.

    Returns:
        The chosen branch's output.

    >>> import funcgrad as fg, numpy as np
    >>> fns = [lambda x: x + 1, lambda x: x * 2, lambda x: x ** 2]
    >>> [int(fg.lax.switch(i, fns, np.array(5))) for i in (0, 1, 2, 7)]
    [6, 10, 25, 25]
    """
    branches = tuple(branches)
    if not branches or not all(callable(b) for b in branches):
        raise FuncgradValueError(at_user_line(
            "switch: branches must be a non-empty sequence of callables"))
    aval = _scalar_aval(index, "switch: the index")
    if aval.dtype.kind not in "iu":
        raise FuncgradTypeError(at_user_line(
            f"switch: the index must be an integer, got dtype {aval.dtype}"))
    i = full_lower(index)
    if not isinstance(i, Tracer):
        chosen = _clamp_index(int(i), len(branches))
        return _check_branches_concrete(chosen, branches[chosen](*operands), branches,
                                        operands, "switch: the branches")
    if len(branches) == 1:
        return _to_arrays(branches[0](*operands))
    index = convert_element_type(index, np.int32)
    index = lax_max(lax_min(index, len(branches) - 1), 0)
    return _stage_switch(index, branches, operands, "switch: the branches")


# == while ====================================================================================

while_p = Primitive("while", multiple_results=True)


def _while_impl(*args: Any, cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr,
                cond_nconsts: int, body_nconsts: int) -> list[Any]:
    cond_consts, body_consts, carry = _split(args, cond_nconsts, body_nconsts)
    with set_current_trace(EVAL_TRACE):
        while _eval_closed(cond_jaxpr, *cond_consts, *carry)[0]:
            carry = _eval_closed(body_jaxpr, *body_consts, *carry)
    return carry


def _while_abstract_eval(*avals: ShapedArray, cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr,
                         cond_nconsts: int, body_nconsts: int) -> list[ShapedArray]:
    _, _, carry = _split(avals, cond_nconsts, body_nconsts)
    outs = body_jaxpr.out_avals
    if len(outs) != len(carry) or not all(_py_map(_same_type, outs, carry)):
        raise FuncgradTypeError(f"while: the body returns {_types_str(outs)} for a carry of "
                                f"{_types_str(carry)}")
    return list(carry)


while_p.def_impl(_while_impl)
while_p.def_abstract_eval(_while_abstract_eval)


def _while_codegen(fn: codegen.FunctionWriter, eqn: Any, ins: list[str], outs: list[str]
                   ) -> None:
    cond_consts, body_consts, carry = _split(ins, eqn.params["cond_nconsts"],
                                             eqn.params["body_nconsts"])
    cond = fn.call_function(eqn.params["cond_jaxpr"], "while_cond")
    body = fn.call_function(eqn.params["body_jaxpr"], "while_body")
    if not outs:
        fn.emit(f"while {cond}({', '.join(cond_consts)})[0]:")
        fn.indent += 1
        fn.emit("pass")
        fn.indent -= 1
        return
    fn.emit(f"{_tuple_of(outs)} = {', '.join(carry)}{',' if len(carry) == 1 else ''}")
    fn.emit(f"while {cond}({', '.join([*cond_consts, *outs])})[0]:")
    fn.indent += 1
    fn.emit(f"{_tuple_of(outs)} = {body}({', '.join([*body_consts, *outs])})")
    fn.indent -= 1


codegen.codegen_rules[while_p] = _while_codegen

_WHILE_REVERSE_MSG = (
    "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
    "dynamic start/stop values: its trip count is only known by running it. Try lax.scan, "
    "or lax.fori_loop with static (concrete) start/stop values; forward mode (fg.jvp, "
    "fg.jacfwd) does work through while_loop.")


def _while_jvp(primals: Sequence[Any], tangents: Sequence[Any], cond_jaxpr: ClosedJaxpr,
               body_jaxpr: ClosedJaxpr, cond_nconsts: int, body_nconsts: int
               ) -> tuple[list[Any], list[Any]]:
    cond_consts, body_consts, init = _split(primals, cond_nconsts, body_nconsts)
    _, bconst_dots, init_dots = _split(tangents, cond_nconsts, body_nconsts)
    nb, nc = len(body_consts), len(init)
    carry_float = [_inexact(get_aval(x)) for x in init]
    bconst_nz = [t is not None for t in bconst_dots]
    n_bnz, n_cf = sum(bconst_nz), sum(carry_float)
    # jvp body inputs: [bconsts, carry, bconst_dots, carry_dots] -> [bconsts, bconst_dots,
    # carry, carry_dots]; outputs: [carry, carry_dots] as the carry needs.
    jvp_body = _jvp_jaxpr(body_jaxpr, [*bconst_nz, *carry_float])
    order = [*range(nb), *range(nb + nc, nb + nc + n_bnz), *range(nb, nb + nc),
             *range(nb + nc + n_bnz, nb + nc + n_bnz + n_cf)]
    jvp_body = _with_invars(jvp_body, order)
    dot_avals = [a for a, f in zip(body_jaxpr.out_avals, carry_float, strict=True) if f]
    n_cond_in = len(cond_jaxpr.in_avals)
    jvp_cond = _with_invars(cond_jaxpr, [*range(n_cond_in + len(dot_avals))], dot_avals)
    carry_dots = [ad.instantiate_zeros(t, x) for t, x, f in zip(init_dots, init, carry_float,
                                                                strict=True)
                  if f]
    outs = while_p.bind(*cond_consts, *body_consts, *(t for t in bconst_dots if t is not None),
                        *init, *carry_dots, cond_jaxpr=jvp_cond, body_jaxpr=jvp_body,
                        cond_nconsts=cond_nconsts, body_nconsts=nb + n_bnz)
    dots = iter(outs[nc:])
    return outs[:nc], [next(dots) if f else None for f in carry_float]


def _while_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
               **params: Any) -> list[Any]:
    raise FuncgradTypeError(at_user_line(_WHILE_REVERSE_MSG))


def _any(pred: Any) -> Any:
    """Whether any entry of a boolean vector is true (a sum, so a size-0 batch works)."""
    count = reduce_sum(convert_element_type(pred, np.int32), (0,))
    return gt(count, np.zeros((), np.int32))


def _while_batch(args: Sequence[Any], dims: Sequence[Any], cond_jaxpr: ClosedJaxpr,
                 body_jaxpr: ClosedJaxpr, cond_nconsts: int, body_nconsts: int
                 ) -> tuple[list[Any], list[Any]]:
    size = batching.batch_size(args, dims)
    args = [x if d is None else moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True)]
    cconsts, bconsts, init = _split(args, cond_nconsts, body_nconsts)
    cc_b, bc_b, init_b = _split([d is not None for d in dims], cond_nconsts, body_nconsts)
    nc = len(init)
    carry_b = _batched_carry(body_jaxpr, bc_b, init_b, [], size)
    pred_b = _batch_jaxpr(cond_jaxpr, [*cc_b, *carry_b], size, [False])[1][0]
    if pred_b:  # examples finish at different steps, so every carry is per-example
        carry_b = [True] * nc
    body_b = _batch_jaxpr(body_jaxpr, [*bc_b, *carry_b], size, carry_b)[0]
    cond_b = _batch_jaxpr(cond_jaxpr, [*cc_b, *carry_b], size, [False])[0]
    init = [bdim_at_front(x, None, size) if cb and not ib else x
            for x, cb, ib in zip(init, carry_b, init_b, strict=True)]
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = while_p.bind(*cconsts, *bconsts, *init, cond_jaxpr=cond_b, body_jaxpr=body_b,
                            cond_nconsts=cond_nconsts, body_nconsts=body_nconsts)
        return outs, out_dims
    ncc = len(cconsts)

    def any_cond(*a: Any) -> list[Any]:
        return [_any(_eval_closed(cond_b, *a)[0])]

    def masked_body(*a: Any) -> list[Any]:
        cc, bc, carry = _split(a, ncc, len(bconsts))
        pred = _eval_closed(cond_b, *cc, *carry)[0]
        new = _eval_closed(body_b, *bc, *carry)
        return [_select_batched(pred, n, c) for n, c in zip(new, carry, strict=True)]

    body_avals = [*cond_b.in_avals[:ncc], *body_b.in_avals]
    outs = while_p.bind(*cconsts, *cconsts, *bconsts, *init,
                        cond_jaxpr=_stage_rule(any_cond, cond_b.in_avals),
                        body_jaxpr=_stage_rule(masked_body, body_avals),
                        cond_nconsts=ncc, body_nconsts=ncc + len(bconsts))
    return outs, out_dims


ad.jvp_rules[while_p] = _while_jvp
ad.vjp_rules[while_p] = _while_vjp
batching.batch_rules[while_p] = _while_batch


def _reverse_mode_operand(xs: Sequence[Any]) -> bool:
    """Whether a differentiable operand is being traced by a live reverse-mode trace."""
    for x in xs:
        while isinstance(x, Tracer):
            if (isinstance(x, ad.VJPTracer) and x._trace.is_alive
                    and _inexact(get_aval(x))):
                return True
            x = getattr(x, "primal", getattr(x, "val", None))
    return False


def _check_carry(what: str, in_avals: Sequence[ShapedArray], out_avals: Sequence[ShapedArray],
                 tree: pytree.PyTreeDef) -> None:
    if not all(_py_map(_same_type, in_avals, out_avals)):
        paths = pytree.tree_key_paths(pytree.tree_unflatten(tree, range(tree.num_leaves)))
        diffs = [f"carry{p or ''}: input {a.str_short()} but output {b.str_short()}"
                 for p, a, b in zip(paths, in_avals, out_avals,
                                    strict=True) if not _same_type(a, b)]
        raise FuncgradTypeError(at_user_line(
            f"{what} output and input must have identical types (shapes and dtypes): "
            + "; ".join(diffs)))


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
               init_val: Any) -> Any:
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``, as ``jax.lax.while_loop``.

    Both functions are traced once; the carry keeps its pytree structure, shapes and dtypes.
    Differentiable in forward mode only (reverse mode raises a ``TypeError``, as JAX).

    Args:
        cond_fun: carry -> boolean scalar.
        body_fun: carry -> carry.
        init_val: the initial carry (a pytree).

    Returns:
        The final carry.

    >>> import funcgrad as fg, numpy as np
    >>> fg.lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 2.0),
    ...                   (0, np.array(1.0)))
    (array(5), array(32.))
    """
    leaves, tree = pytree.tree_flatten(init_val)
    in_tree = pytree.tree_structure((init_val,))
    avals = [get_aval(x) for x in leaves]
    init = [_as_operand(x) for x in leaves]
    for _ in range(2):
        body, body_consts, body_tree = _cached_user_fun(body_fun, body_fun, in_tree, avals)
        if body_tree != tree:
            raise FuncgradTypeError(at_user_line(
                f"while_loop: body_fun must return the carry's pytree structure {tree}, "
                f"got {body_tree}"))
        promoted = _promote_weak(avals, body.out_avals)
        if promoted is None:
            break
        avals = promoted
        init = [convert_element_type(x, a.dtype) for x, a in zip(init, avals, strict=True)]
    _check_carry("while_loop: body_fun", avals, body.out_avals, tree)
    cond, cond_consts, _ = _cached_user_fun(cond_fun, cond_fun, in_tree, avals)
    outs = cond.out_avals
    if len(outs) != 1 or outs[0].shape != () or outs[0].dtype != np.bool_:
        raise FuncgradTypeError(at_user_line(
            f"while_loop: cond_fun must return a boolean scalar, got {_types_str(outs)}"))
    if _reverse_mode_operand([*body_consts, *init]):
        raise FuncgradTypeError(at_user_line(_WHILE_REVERSE_MSG))
    outs = while_p.bind(*cond_consts, *body_consts, *init, cond_jaxpr=cond, body_jaxpr=body,
                        cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))
    return pytree.tree_unflatten(tree, outs)


def _keep_float_dtypes(out: Any, like: Any) -> Any:
    """Cast floating leaves of ``out`` back to the floating dtype of ``like``'s leaves.

    A staged index is a traced int64, and funcgrad.numpy promotes ``float32 + int64`` to
    float64 where the eager loop's Python-int index would have kept float32.
    """
    out_leaves, tree = pytree.tree_flatten(out)
    like_leaves = pytree.tree_leaves(like)
    if len(out_leaves) != len(like_leaves):
        return out  # the structure error is reported by scan
    cast = []
    for o, x in zip(out_leaves, like_leaves, strict=True):
        a, b = get_aval(o), get_aval(x)
        if a.dtype != b.dtype and _inexact(a) and _inexact(b) and not b.weak_type:
            o = convert_element_type(o, b.dtype)
        cast.append(o)
    return pytree.tree_unflatten(tree, cast)


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any,
              *, unroll: int | bool | None = None) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``, as ``jax.lax.fori_loop``.

    Concrete bounds: a Python loop (``i`` is a Python int), or under ``make_jaxpr``/``jit`` a
    ``scan`` with a static trip count; reverse-mode differentiable either way. Traced bounds: a
    ``while_loop`` (forward mode only).

    Args:
        lower: the first index (an integer scalar).
        upper: one past the last index.
        body_fun: ``(i, val) -> val``.
        init_val: the initial carry (a pytree).
        unroll: accepted for JAX compatibility; NumPy has no loop to unroll, so it is unused.

    Returns:
        The final carry.

    >>> import funcgrad as fg, numpy as np
    >>> fg.lax.fori_loop(0, 4, lambda i, x: x * 2.0 + i, np.array(1.0))
    array(27.)
    >>> fg.grad(lambda x: fg.lax.fori_loop(0, 3, lambda i, v: v * x, 1.0))(np.array(2.0))
    array(12.)
    """
    for bound, name in ((lower, "lower"), (upper, "upper")):
        aval = _scalar_aval(bound, f"fori_loop: {name}")
        if aval.dtype.kind not in "iu":
            raise FuncgradTypeError(at_user_line(
                f"fori_loop: {name} must be an integer, got dtype {aval.dtype}"))
    lo, hi = full_lower(lower), full_lower(upper)
    if not isinstance(lo, Tracer) and not isinstance(hi, Tracer):
        lo_i, hi_i = operator.index(int(lo)), operator.index(int(hi))
        if not _under_staging():
            val = init_val
            for i in range(lo_i, hi_i):
                val = body_fun(i, val)
            return _to_arrays(val)

        def step(carry: Any, _: Any) -> Any:
            i, val = carry
            return (i + 1, _keep_float_dtypes(body_fun(i, val), val)), None

        start = lower if isinstance(lower, int) else lo
        (_, val), _ = scan(step, (start, init_val), None, length=max(hi_i - lo_i, 0))
        return val
    dtype, _ = result_type(get_aval(lower), get_aval(upper))
    start = convert_element_type(_as_operand(lower), dtype)
    stop = convert_element_type(_as_operand(upper), dtype)

    def body(carry: Any) -> Any:
        i, val = carry
        return i + np.ones((), dtype), body_fun(i, val)

    _, val = while_loop(lambda carry: lt(carry[0], stop), body, (start, init_val))
    return val


# == scan =====================================================================================

scan_p = Primitive("scan", multiple_results=True)


def _scan_impl(*args: Any, jaxpr: ClosedJaxpr, length: int, reverse: bool, num_consts: int,
               num_carry: int) -> list[Any]:
    consts, carry, xs = _split(args, num_consts, num_carry)
    y_avals = jaxpr.out_avals[num_carry:]
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    with set_current_trace(EVAL_TRACE):
        for i in (range(length - 1, -1, -1) if reverse else range(length)):
            out = _eval_closed(jaxpr, *consts, *carry, *(x[i] for x in xs))
            carry = out[:num_carry]
            for y, v in zip(ys, out[num_carry:], strict=True):
                y[i] = v
    return [*carry, *ys]


def _scan_abstract_eval(*avals: ShapedArray, jaxpr: ClosedJaxpr, length: int, reverse: bool,
                        num_consts: int, num_carry: int) -> list[ShapedArray]:
    consts, carry, xs = _split(avals, num_consts, num_carry)
    for x in xs:
        if x.ndim == 0 or x.shape[0] != length:
            raise FuncgradValueError(f"scan: xs of type {x.str_short()} do not have the leading "
                                     f"axis of length {length}")
    expected = [*consts, *carry, *(x.update(shape=x.shape[1:]) for x in xs)]
    if len(expected) != len(jaxpr.in_avals) or not all(_py_map(_same_type, jaxpr.in_avals,
                                                           expected)):
        raise FuncgradTypeError(f"scan: the body takes {_types_str(jaxpr.in_avals)} but is "
                                f"given {_types_str(expected)}")
    outs = jaxpr.out_avals
    if not all(_py_map(_same_type, outs[:num_carry], carry)):
        raise FuncgradTypeError(f"scan: the body returns the carry {_types_str(outs[:num_carry])}"
                                f" for an input carry {_types_str(carry)}")
    ys = [a.update(shape=(length, *a.shape)) for a in outs[num_carry:]]
    return [*carry, *ys]


scan_p.def_impl(_scan_impl)
scan_p.def_abstract_eval(_scan_abstract_eval)


def _scan_codegen(fn: codegen.FunctionWriter, eqn: Any, ins: list[str], outs: list[str]) -> None:
    # A for loop over the generated body; ys are written into preallocated stacks.
    params = eqn.params
    length, num_carry = params["length"], params["num_carry"]
    consts, carry, xs = _split(ins, params["num_consts"], num_carry)
    body = fn.call_function(params["jaxpr"], "scan_body")
    carry_out, ys = outs[:num_carry], outs[num_carry:]
    y_avals = params["jaxpr"].out_avals[num_carry:]
    for y, a in zip(ys, y_avals, strict=True):
        fn.emit(f"{y} = np.empty({(length, *a.shape)!r}, {fn.param(a.dtype, 'dtype')})")
    if carry_out:
        fn.emit(f"{_tuple_of(carry_out)} = {', '.join(carry)}{',' if len(carry) == 1 else ''}")
    i = fn.fresh_name()
    steps = f"range({length - 1}, -1, -1)" if params["reverse"] else f"range({length})"
    fn.emit(f"for {i} in {steps}:")
    fn.indent += 1
    y_now = [fn.fresh_name() for _ in ys]
    targets = [*carry_out, *y_now]
    call = f"{body}({', '.join([*consts, *carry_out, *(f'{x}[{i}]' for x in xs)])})"
    fn.emit(f"{_tuple_of(targets) if targets else '_'} = {call}")
    for y, v in zip(ys, y_now, strict=True):
        fn.emit(f"{y}[{i}] = {v}")
    fn.indent -= 1


codegen.codegen_rules[scan_p] = _scan_codegen


def _scan_jvp(primals: Sequence[Any], tangents: Sequence[Any], jaxpr: ClosedJaxpr, length: int,
              reverse: bool, num_consts: int, num_carry: int) -> tuple[list[Any], list[Any]]:
    consts, init, xs = _split(primals, num_consts, num_carry)
    c_dots, init_dots, x_dots = _split(tangents, num_consts, num_carry)
    nk, nc, nx = len(consts), len(init), len(xs)
    c_nz = [t is not None for t in c_dots]
    carry_f = [_inexact(get_aval(x)) for x in init]
    x_nz = [t is not None for t in x_dots]
    y_f = [_inexact(a) for a in jaxpr.out_avals[nc:]]
    ny = len(y_f)
    n_cnz, n_cf, n_xnz, n_yf = sum(c_nz), sum(carry_f), sum(x_nz), sum(y_f)
    jvp = _jvp_jaxpr(jaxpr, [*c_nz, *carry_f, *x_nz])
    # inputs [consts, carry, xs, c_dots, carry_dots, x_dots] -> [consts, c_dots, carry,
    # carry_dots, xs, x_dots]; outputs [carry, ys, carry_dots, y_dots] -> [carry, carry_dots,
    # ys, y_dots].
    p = nk + nc + nx
    in_order = [*range(nk), *range(p, p + n_cnz), *range(nk, nk + nc),
                *range(p + n_cnz, p + n_cnz + n_cf), *range(nk + nc, p),
                *range(p + n_cnz + n_cf, p + n_cnz + n_cf + n_xnz)]
    q = nc + ny
    out_order = [*range(nc), *range(q, q + n_cf), *range(nc, q), *range(q + n_cf, q + n_cf + n_yf)]
    jvp = _with_outvars(_with_invars(jvp, in_order), out_order)
    carry_dots = [ad.instantiate_zeros(t, x) for t, x, f in zip(init_dots, init, carry_f,
                                                                strict=True) if f]
    outs = scan_p.bind(*consts, *(t for t in c_dots if t is not None), *init, *carry_dots,
                       *xs, *(t for t in x_dots if t is not None), jaxpr=jvp, length=length,
                       reverse=reverse, num_consts=nk + n_cnz, num_carry=nc + n_cf)
    carry, cdots, ys, ydots = _split(outs, nc, n_cf, ny)
    cdots_it, ydots_it = iter(cdots), iter(ydots)
    return ([*carry, *ys], [*(next(cdots_it) if f else None for f in carry_f),
                            *(next(ydots_it) if f else None for f in y_f)])


def _scan_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
              **params: Any) -> list[Any]:
    jaxpr, length, reverse = params["jaxpr"], params["length"], params["reverse"]
    nk, nc = params["num_consts"], params["num_carry"]
    consts, init, xs = _split(primals, nk, nc)
    k_need, _, x_need = _split([need and _inexact(get_aval(p)) for p, need in
                                zip(primals, needs, strict=True)], nk, nc)
    carry_f = [_inexact(get_aval(x)) for x in init]
    ct_carry, ct_ys = list(cts[:nc]), list(cts[nc:])
    y_nz = [c is not None for c in ct_ys]
    if not any(k_need) and not any(x_need) and not any(
            need for need, f in zip(needs[nk:nk + nc], carry_f, strict=True) if f):
        return [None] * len(primals)

    # 1. The residuals: the carry entering every step, from a forward scan.
    def carries_body(*args: Any) -> list[Any]:
        return [*_eval_closed(jaxpr, *args)[:nc], *args[nk:nk + nc]]

    fwd = _cached_rule(jaxpr, ("carries", nk, nc),
                       lambda: _stage_rule(carries_body, jaxpr.in_avals))
    stacked = scan_p.bind(*consts, *init, *xs, jaxpr=fwd, length=length, reverse=reverse,
                          num_consts=nk, num_carry=nc)[nc:]

    # 2. A reverse scan of the body's VJP at each stored carry. Its carry: the running sum of
    # the consts' cotangents, then the carry's cotangent; its xs: stored carries, xs, ct_ys.
    k_avals = [a for a, need in zip(jaxpr.in_avals[:nk], k_need, strict=True) if need]
    c_avals = jaxpr.in_avals[nk:nk + nc]
    x_avals = jaxpr.in_avals[nk + nc:]
    cf_avals = [a for a, f in zip(c_avals, carry_f, strict=True) if f]
    cty_avals = [a for a, nz in zip(jaxpr.out_avals[nc:], y_nz, strict=True) if nz]
    n_acc, n_cf = len(k_avals), len(cf_avals)
    in_needs = [*k_need, *carry_f, *x_need]

    def bwd_body(*args: Any) -> list[Any]:
        k, acc, ct_c, carry, x, ct_y = _split(args, nk, n_acc, n_cf, nc, len(x_avals))
        ct_c_it, ct_y_it = iter(ct_c), iter(ct_y)
        out_cts = [*(next(ct_c_it) if f else None for f in carry_f),
                   *(next(ct_y_it) if nz else None for nz in y_nz)]
        grads = _vjp_call(lambda *a: _eval_closed(jaxpr, *a), [*k, *carry, *x], in_needs,
                          out_cts)
        g_k, g_c, g_x = _split(grads, nk, nc)
        new_acc = [ad.add_tangents(a, g) for a, g in zip(acc, (g for g in g_k if g is not None),
                                                         strict=True)]
        return [*new_acc, *(g for g in g_c if g is not None), *(g for g in g_x if g is not None)]

    bwd = _cached_rule(jaxpr, ("bwd", nk, nc, tuple(k_need), tuple(x_need), tuple(y_nz)),
                       lambda: _stage_rule(bwd_body, [*jaxpr.in_avals[:nk], *k_avals, *cf_avals,
                                                      *c_avals, *x_avals, *cty_avals]))
    acc0 = [np.zeros(a.shape, a.dtype) for a in k_avals]
    ct_c0 = [ad.instantiate_zeros(c, x) for c, x, f in zip(ct_carry, init, carry_f,
                                                           strict=True) if f]
    res = scan_p.bind(*consts, *acc0, *ct_c0, *stacked, *xs,
                      *(c for c in ct_ys if c is not None), jaxpr=bwd, length=length,
                      reverse=not reverse, num_consts=nk, num_carry=n_acc + n_cf)
    ct_k, ct_init, ct_xs = _split(res, n_acc, n_cf)
    k_it, c_it, x_it = iter(ct_k), iter(ct_init), iter(ct_xs)
    out_k = [next(k_it) if need else None for need in k_need]
    out_c = [next(c_it) if f else None for f in carry_f]
    out_c = [c if need else None for c, need in zip(out_c, needs[nk:nk + nc], strict=True)]
    out_x = [next(x_it) if need else None for need in x_need]
    return [*out_k, *out_c, *out_x]


def _scan_batch(args: Sequence[Any], dims: Sequence[Any], jaxpr: ClosedJaxpr, length: int,
                reverse: bool, num_consts: int, num_carry: int) -> tuple[list[Any], list[Any]]:
    size = batching.batch_size(args, dims)
    consts, init, xs = _split(args, num_consts, num_carry)
    k_dims, c_dims, x_dims = _split(dims, num_consts, num_carry)
    consts = [x if d is None else moveaxis(x, d, 0) for x, d in zip(consts, k_dims, strict=True)]
    init = [x if d is None else moveaxis(x, d, 0) for x, d in zip(init, c_dims, strict=True)]
    # the batch axis of xs goes second, so each step's slice has it first
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, x_dims, strict=True)]
    k_b, init_b, x_b = ([d is not None for d in ds] for ds in (k_dims, c_dims, x_dims))
    ny = len(jaxpr.out_avals) - num_carry
    carry_b = _batched_carry(jaxpr, k_b, init_b, x_b, size)
    body, out_b = _batch_jaxpr(jaxpr, [*k_b, *carry_b, *x_b], size, [*carry_b, *[False] * ny])
    init = [bdim_at_front(x, None, size) if cb and not ib else x
            for x, cb, ib in zip(init, carry_b, init_b, strict=True)]
    outs = scan_p.bind(*consts, *init, *xs, jaxpr=body, length=length, reverse=reverse,
                       num_consts=num_consts, num_carry=num_carry)
    return outs, [*(0 if b else None for b in carry_b),
                  *(1 if b else None for b in out_b[num_carry:])]


ad.jvp_rules[scan_p] = _scan_jvp
ad.vjp_rules[scan_p] = _scan_vjp
batching.batch_rules[scan_p] = _scan_batch


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``, stacking the ``y``, as
    ``jax.lax.scan``.

    ``f`` is traced once; the carry keeps its pytree structure, shapes and dtypes. Reverse-mode
    differentiation recomputes the body per step from stored carries (see the module docs).

    Args:
        f: ``(carry, x) -> (carry, y)``; ``x`` and ``y`` are pytrees (``y`` may be None).
        init: the initial carry (a pytree).
        xs: a pytree of arrays with a common leading axis, or None (then pass ``length``).
        length: the number of steps, required when ``xs`` has no leaves.
        reverse: scan from the end of ``xs`` to its start (``ys`` keep ``xs``'s order).
        unroll: accepted for JAX compatibility; NumPy has no loop to unroll, so it is unused.

    Returns:
        ``(final carry, stacked ys)``.

    >>> import funcgrad as fg, numpy as np
    >>> fg.lax.scan(lambda c, x: (c + x, c * x), np.array(0.0), np.array([1.0, 2.0, 3.0]))
    (array(6.), array([0., 2., 9.]))
    """
    init_leaves, init_tree = pytree.tree_flatten(init)
    xs_leaves = pytree.tree_leaves(xs)
    x_avals = [get_aval(x) for x in xs_leaves]
    lengths = {a.shape[0] for a in x_avals if a.ndim}
    if any(a.ndim == 0 for a in x_avals):
        raise FuncgradValueError(at_user_line(
            "scan: every leaf of xs needs a leading axis to scan over, got a scalar"))
    if length is not None:
        lengths.add(operator.index(length))
    if len(lengths) != 1:
        raise FuncgradValueError(at_user_line(
            "scan: the length must be given when xs is None"
            if not lengths else
            f"scan: xs leaves (and length) disagree on the number of steps: {sorted(lengths)}"))
    n = lengths.pop()
    in_tree = pytree.tree_structure((init, xs))
    carry_avals = [get_aval(x) for x in init_leaves]
    slice_avals = [a.update(shape=a.shape[1:]) for a in x_avals]
    carry_ops = [_as_operand(x) for x in init_leaves]

    def body(carry: Any, x: Any) -> tuple[Any, Any]:
        out = f(carry, x)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise FuncgradTypeError(at_user_line(
                f"scan: f must return a pair (carry, y), got {type(out).__name__}"))
        return out[0], out[1]

    nc = len(init_leaves)
    for _ in range(2):
        closed, consts, out_tree = _cached_user_fun(f, body, in_tree,
                                                    [*carry_avals, *slice_avals])
        carry_tree, y_tree = pytree.treedef_children(out_tree)
        if carry_tree != init_tree:
            raise FuncgradTypeError(at_user_line(
                f"scan: f must return a carry with the structure of init {init_tree}, got "
                f"{carry_tree}"))
        promoted = _promote_weak(carry_avals, closed.out_avals[:nc])
        if promoted is None:
            break
        carry_avals = promoted
        carry_ops = [convert_element_type(x, a.dtype) for x, a in zip(carry_ops, carry_avals,
                                                                      strict=True)]
    _check_carry("scan: the carry", carry_avals, closed.out_avals[:nc], init_tree)
    outs = scan_p.bind(*consts, *carry_ops, *_py_map(_as_operand, xs_leaves), jaxpr=closed,
                       length=n, reverse=bool(reverse), num_consts=len(consts), num_carry=nc)
    return (pytree.tree_unflatten(init_tree, outs[:nc]),
            pytree.tree_unflatten(y_tree, outs[nc:]))


def map(f: Callable[[Any], Any], xs: Any, *,  # JAX's name: shadows builtins.map here
        batch_size: int | None = None) -> Any:
    """``f`` applied to each slice of ``xs`` along its leading axis, stacked: ``jax.lax.map``.

    With ``batch_size``, as JAX: the leading ``n // batch_size * batch_size`` slices are
    scanned over in groups of ``batch_size``, each group by ``vmap(f)``, and the remainder
    by one more ``vmap(f)``.

    Args:
        f: a function of one slice (a pytree).
        xs: a pytree of arrays with a common leading axis.
        batch_size: how many slices each step maps with ``vmap`` (None: one, by ``scan``).

    Returns:
        The stacked outputs.

    >>> import funcgrad as fg, numpy as np
    >>> fg.lax.map(lambda x: x.sum(), np.arange(6.0).reshape(3, 2))
    array([1., 5., 9.])
    >>> fg.lax.map(lambda x: x.sum(), np.arange(10.0).reshape(5, 2), batch_size=2)
    array([ 1.,  5.,  9., 13., 17.])
    """
    if batch_size is None:
        return scan(lambda carry, x: (carry, f(x)), None, xs)[1]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise FuncgradValueError(at_user_line(
            f"map: batch_size must be a positive int, got {batch_size!r}"))
    return _batched_map(f, xs, int(batch_size))


def _batched_map(f: Callable[[Any], Any], xs: Any, batch_size: int) -> Any:
    from funcgrad.lax.structural import concatenate, reshape, slice_in_dim

    leaves, tree = pytree.tree_flatten(xs)
    if not leaves:
        raise FuncgradValueError(at_user_line("map: xs has no leaves"))
    avals = [get_aval(x) for x in leaves]
    if any(a.ndim == 0 for a in avals) or len({a.shape[0] for a in avals}) != 1:
        raise FuncgradValueError(at_user_line(
            f"map: every leaf of xs needs the same leading axis, got shapes "
            f"{[a.shape for a in avals]}"))
    n = avals[0].shape[0]
    num_batches, rem = divmod(n, batch_size)
    vf = batching.vmap(f)
    parts = []
    if num_batches:
        main = [reshape(slice_in_dim(x, 0, num_batches * batch_size),
                        (num_batches, batch_size, *a.shape[1:]))
                for x, a in zip(leaves, avals, strict=True)]
        ys = scan(lambda carry, x: (carry, vf(x)), None, pytree.tree_unflatten(tree, main))[1]
        parts.append(pytree.tree_map(
            lambda y: reshape(y, (num_batches * batch_size, *get_aval(y).shape[2:])), ys))
    if rem:
        tail = [slice_in_dim(x, num_batches * batch_size, n) for x in leaves]
        parts.append(vf(pytree.tree_unflatten(tree, tail)))
    if len(parts) == 1:
        return parts[0]
    return pytree.tree_map(lambda a, b: concatenate([a, b], 0), *parts)


# == implicit differentiation: custom_root and custom_linear_solve ===========================
# Both are custom_jvp functions of the values their functions close over (made explicit by
# closure_convert) and of their inputs. The tangent of a root x*(c) of f(x, c) = 0 is
# -J_x^{-1} J_c dc (the implicit function theorem, solved by the user's tangent_solve); the
# tangent of x = A(c)^{-1} b is A^{-1}(db - dA x), itself a linear solve, whose reverse mode
# (a custom_vjp) is the transposed solve A^{-T} ct. Reverse mode over the custom_jvp functions
# is the transpose of these linear tangent maps, as in JAX.


def _tree_sub(a: Any, b: Any) -> Any:
    return pytree.tree_map(lambda x, y: x - y, a, b)


def _tree_neg(a: Any) -> Any:
    return pytree.tree_map(lambda x: -x, a)


def _zeros_tangent(tree: Any) -> Any:
    from funcgrad.lax.elementwise import full_like
    return pytree.tree_map(lambda x: full_like(x if isinstance(x, Tracer) else np.asarray(x), 0),
                           tree)


def _split_aux(out: Any, has_aux: bool, what: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise FuncgradTypeError(at_user_line(
            f"{what}: with has_aux=True, solve must return a pair (solution, aux)"))
    return out[0], out[1]


def _check_like(value: Any, like: Any, what: str) -> None:
    v_leaves, v_tree = pytree.tree_flatten(value)
    l_leaves, l_tree = pytree.tree_flatten(like)
    if v_tree != l_tree:
        raise FuncgradTypeError(at_user_line(
            f"{what} has structure {v_tree}, expected {l_tree}"))
    for v, w in zip(v_leaves, l_leaves, strict=True):
        if get_aval(v).shape != get_aval(w).shape:
            raise FuncgradValueError(at_user_line(
                f"{what} has a leaf of shape {get_aval(v).shape}, expected "
                f"{get_aval(w).shape}"))


def custom_root(f: Callable[[Any], Any], initial_guess: Any,
                solve: Callable[[Callable[[Any], Any], Any], Any],
                tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
                has_aux: bool = False) -> Any:
    """A root of ``f`` found by ``solve(f, initial_guess)``, differentiated implicitly, as
    ``jax.lax.custom_root``: the derivative of the root with respect to whatever ``f`` closes
    over comes from the implicit function theorem, never from differentiating ``solve``.

    Args:
      f: the function whose root is sought (a pytree to a pytree of the same structure).
      initial_guess: the starting point for ``solve``.
      solve: ``solve(f, initial_guess) -> root`` (or ``(root, aux)`` with ``has_aux``).
      tangent_solve: ``tangent_solve(g, y) -> x`` with ``g(x) = y`` for the linear ``g``
        (the Jacobian of ``f`` at the root); e.g. ``lambda g, y: y / g(1.0)`` for scalars.
        It must itself be differentiable and linear in ``y`` for reverse mode.
      has_aux: ``solve`` returns ``(root, aux)``; ``aux`` gets no derivative.

    >>> import funcgrad as fg, numpy as np
    >>> def sqrt_by_newton(a):
    ...     f = lambda x: x ** 2 - a
    ...     def solve(f, x):
    ...         for _ in range(30):
    ...             x = x - f(x) / (2 * x)
    ...         return x
    ...     return fg.lax.custom_root(f, np.array(1.0), solve, lambda g, y: y / g(1.0))
    >>> float(sqrt_by_newton(np.array(4.0))), float(fg.grad(sqrt_by_newton)(np.array(4.0)))
    (2.0, 0.25)
    """
    from funcgrad.transforms import api
    from funcgrad.transforms.custom import custom_jvp, stop_gradient
    from funcgrad.transforms.extras import closure_convert

    f_conv, consts = closure_convert(f, initial_guess)
    consts = list(consts)
    # solve and tangent_solve may close over traced values too: explicit operands, held
    # constant (their derivatives are not the solution's, as in JAX).
    s_conv, s_consts = closure_convert(
        lambda cs, g: solve(lambda x: f_conv(x, *cs), g), consts, initial_guess)

    def linear_at(cs: list[Any], sol: Any) -> Callable[[Any], Any]:
        return lambda v: api.jvp(lambda x: f_conv(x, *cs), (sol,), (v,))[1]

    t_conv, t_consts = closure_convert(
        lambda cs, sol, y: tangent_solve(linear_at(cs, sol), y), consts, initial_guess,
        initial_guess)

    def _root(consts: list[Any], guess: Any, s_consts: list[Any], t_consts: list[Any]
              ) -> Any:
        out = s_conv(consts, stop_gradient(guess), *stop_gradient(s_consts))
        sol, aux = _split_aux(out, has_aux, "custom_root")
        _check_like(sol, guess, "custom_root: the solution")
        sol = stop_gradient(sol)
        return (sol, stop_gradient(aux)) if has_aux else sol

    root = custom_jvp(_root)

    @root.defjvp
    def _root_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
        consts, guess, s_consts, t_consts = primals
        d_consts = tangents[0]
        out = root(consts, guess, s_consts, t_consts)
        sol, aux = _split_aux(out, has_aux, "custom_root")
        # f(x*(c), c) = 0  =>  J_x dx = -J_c dc.
        if consts:
            _, rhs = api.jvp(lambda *c: f_conv(sol, *c), tuple(consts), tuple(d_consts))
        else:
            rhs = _zeros_tangent(sol)
        d_sol = _tree_neg(t_conv(consts, sol, rhs, *stop_gradient(t_consts)))
        return out, ((d_sol, _zeros_tangent(aux)) if has_aux else d_sol)

    return root(consts, initial_guess, list(s_consts), list(t_consts))


def custom_linear_solve(matvec: Callable[[Any], Any], b: Any,
                        solve: Callable[[Callable[[Any], Any], Any], Any],
                        transpose_solve: Callable[[Callable[[Any], Any], Any], Any] | None
                        = None, symmetric: bool = False, has_aux: bool = False) -> Any:
    """``x`` with ``matvec(x) == b``, found by ``solve(matvec, b)`` and differentiated
    implicitly, as ``jax.lax.custom_linear_solve``: tangents and cotangents are linear solves
    too (``solve`` for forward mode, ``transpose_solve`` with the transposed operator for
    reverse mode), so an iterative ``solve`` is never differentiated.

    Args:
      matvec: the linear operator (a pytree to a pytree like ``b``); differentiable in
        what it closes over.
      b: the right-hand side.
      solve: ``solve(matvec, b) -> x`` (or ``(x, aux)`` with ``has_aux``).
      transpose_solve: ``transpose_solve(vecmat, b) -> x`` for the transposed operator;
        needed for reverse mode unless ``symmetric``.
      symmetric: ``matvec`` is symmetric, so ``solve`` serves as ``transpose_solve``.
      has_aux: ``solve`` returns ``(x, aux)``; ``aux`` gets no derivative.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> def f(a, b):
    ...     return fg.lax.custom_linear_solve(lambda x: a @ x, b,
    ...                                       lambda mv, r: fnp.linalg.solve(a, r),
    ...                                       symmetric=True)
    >>> a, b = np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0])
    >>> f(a, b), fg.grad(lambda b: f(a, b).sum())(b)
    (array([1. , 0.5]), array([0.5 , 0.25]))
    """
    from funcgrad.transforms import api
    from funcgrad.transforms.custom import custom_jvp, custom_vjp, stop_gradient
    from funcgrad.transforms.extras import closure_convert, linear_transpose

    mv, consts = closure_convert(matvec, b)
    consts = list(consts)
    if symmetric and transpose_solve is None:
        transpose_solve = solve

    def vecmat_at(cs: list[Any]) -> Callable[[Any], Any]:
        if symmetric:
            return lambda v: mv(v, *cs)
        transposed = linear_transpose(lambda v: mv(v, *cs), b)
        return lambda v: transposed(v)[0]

    # solve and transpose_solve may close over traced values too: explicit operands, held
    # constant (only matvec's values are differentiated, as in JAX).
    s_conv, s_consts = closure_convert(lambda cs, r: solve(lambda x: mv(x, *cs), r), consts, b)
    t_conv, t_consts = (None, []) if transpose_solve is None else closure_convert(
        lambda cs, r: transpose_solve(vecmat_at(cs), r), consts, b)

    def run(cs: list[Any], rhs: Any, s_cs: list[Any]) -> tuple[Any, Any]:
        x, aux = _split_aux(s_conv(cs, rhs, *stop_gradient(s_cs)), has_aux,
                            "custom_linear_solve")
        _check_like(x, b, "custom_linear_solve: the solution")
        return x, aux

    def _solve(cs: list[Any], rhs: Any, s_cs: list[Any], t_cs: list[Any]) -> Any:
        x, aux = run(cs, rhs, s_cs)
        return (x, stop_gradient(aux)) if has_aux else x

    lin_solve = custom_jvp(_solve)

    # A^{-1} rhs, linear in rhs: its reverse mode is the transposed solve lambda = A^{-T} ct
    # (and -(d(A x)/dc)^T lambda for the operator's values), itself a custom_linear_solve with
    # the roles of solve and transpose_solve swapped; solve is never differentiated.
    def _tangent(cs: list[Any], rhs: Any, s_cs: list[Any], t_cs: list[Any]) -> Any:
        out = lin_solve(cs, rhs, s_cs, t_cs)
        return out[0] if has_aux else out

    # Forward mode of this custom_vjp runs its primal, the custom_jvp solve: so the tangent
    # of a tangent is again a linear solve.
    tangent_lin = custom_vjp(_tangent)
    tangent_lin._jvp_ok = True

    def _fwd(cs: list[Any], rhs: Any, s_cs: list[Any], t_cs: list[Any]) -> tuple[Any, Any]:
        x = run(cs, rhs, s_cs)[0]
        return x, (cs, x, s_cs, t_cs)

    def _bwd(res: Any, ct: Any) -> tuple[Any, ...]:
        cs, x, s_cs, t_cs = res
        if t_conv is None:
            raise FuncgradTypeError(at_user_line(
                "custom_linear_solve: reverse-mode differentiation needs transpose_solve= "
                "(or symmetric=True)"))
        lam = custom_linear_solve(
            vecmat_at(cs), ct,
            lambda vm, r: _split_aux(t_conv(cs, r, *t_cs), has_aux, "custom_linear_solve")[0],
            lambda vm, r: _split_aux(s_conv(cs, r, *s_cs), has_aux, "custom_linear_solve")[0],
            symmetric=symmetric)
        ct_cs = [_tree_neg(c) for c in api.vjp(lambda *c: mv(x, *c), *cs)[1](lam)] if cs \
            else []
        return ct_cs, lam, None, None

    tangent_lin.defvjp(_fwd, _bwd)

    @lin_solve.defjvp
    def _solve_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
        cs, rhs, s_cs, t_cs = primals
        d_cs, d_rhs = tangents[0], tangents[1]
        out = lin_solve(cs, rhs, s_cs, t_cs)
        x = out[0] if has_aux else out
        # x = A^{-1} b  =>  dx = A^{-1} (db - dA x).
        if cs:
            _, d_ax = api.jvp(lambda *c: mv(x, *c), tuple(cs), tuple(d_cs))
            d_rhs = _tree_sub(d_rhs, d_ax)
        dx = tangent_lin(cs, d_rhs, s_cs, t_cs)
        return out, ((dx, _zeros_tangent(out[1])) if has_aux else dx)

    return lin_solve(consts, b, list(s_consts), list(t_consts))
