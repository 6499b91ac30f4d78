"""User-defined derivative rules: ``custom_jvp``, ``custom_vjp``, ``checkpoint``; and
``stop_gradient``.

A custom function is dispatched to the current trace (``process_custom_jvp`` /
``process_custom_vjp``), which decides what it means for that transform: the JVP trace calls
the custom JVP rule, the tape trace records the custom backward function, vmap batches the
function and its rules, and plain evaluation just calls the function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.ir import ClosedJaxpr, Literal
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import eval_closed, stage_closure_converted, trace_to_jaxpr
from funcgrad.core.tracing import current_trace, recomputing
from funcgrad.transforms import ad, api, api_util, batching, codegen

# == stop_gradient ============================================================================

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(lambda x: x)
stop_gradient_p.def_abstract_eval(lambda x: x)
ad.defnondiff(stop_gradient_p)
batching.defvectorized(stop_gradient_p)
codegen.def_identity(stop_gradient_p)


def stop_gradient(x: Any) -> Any:
    """The identity, with zero derivative (pytrees too), as ``jax.lax.stop_gradient``.

    >>> import funcgrad as fg, numpy as np
    >>> fg.grad(lambda x: x * fg.stop_gradient(x))(np.array(3.0))
    array(3.)
    """
    return pytree.tree_map(lambda leaf: stop_gradient_p.bind(
        leaf if hasattr(leaf, "dtype") else np.asarray(leaf)), x)


# == custom_jvp ===============================================================================

def _split_nondiff(args: Sequence[Any], nondiff_argnums: tuple[int, ...]
                   ) -> tuple[list[Any], list[Any], Callable[[Sequence[Any]], list[Any]]]:
    """``(differentiable args, nondiff args in nondiff_argnums order, full_args)``, where
    ``full_args(dyn)`` puts new differentiable args back among the nondiff ones."""
    static = {i: args[i] for i in nondiff_argnums}
    dyn = [a for i, a in enumerate(args) if i not in static]

    def full_args(dyn_args: Sequence[Any]) -> list[Any]:
        it = iter(dyn_args)
        return [static[i] if i in static else next(it) for i in range(len(args))]

    return dyn, [static[i] for i in nondiff_argnums], full_args


class custom_jvp:  # noqa: N801 (JAX's name)
    """A function with a user-defined JVP rule, as ``jax.custom_jvp``.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> @fg.custom_jvp
    ... def f(x):
    ...     return fnp.sin(x)
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return f(x), 2.0 * t   # a deliberately different derivative
    >>> fg.grad(f)(np.array(0.0))
    array(2.)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None
        functools.update_wrapper(self, fun)

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """``jvp(primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One JVP per argument, as ``jax.custom_jvp.defjvps``: ``jvps[i](t_i, primal_out,
        *primals)`` is argument ``i``'s contribution to the output tangent (``None``: it
        contributes nothing); the output tangent is their sum.

        >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
        >>> @fg.custom_jvp
        ... def f(x, y):
        ...     return fnp.sin(x) * y
        >>> f.defjvps(lambda t, ans, x, y: fnp.cos(x) * y * t,
        ...           lambda t, ans, x, y: fnp.sin(x) * t)
        >>> fg.grad(f, argnums=(0, 1))(np.array(0.0), np.array(2.0))
        (array(2.), array(0.))
        """
        if self.nondiff_argnums:
            raise FuncgradTypeError("custom_jvp.defjvps can't be used with nondiff_argnums; "
                                    "use defjvp")

        def jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
            if len(jvps) != len(primals):
                raise FuncgradTypeError(at_user_line(
                    f"custom_jvp.defjvps: {len(jvps)} JVP function(s) for "
                    f"{len(primals)} argument(s) of {self.fun.__name__}"))
            ans = self(*primals)
            t_out: Any = None
            for rule, t in zip(jvps, tangents, strict=True):
                if rule is None:
                    continue
                term = rule(t, ans, *primals)
                t_out = term if t_out is None else pytree.tree_map(
                    lambda a, b: a + b, t_out, term)
            if t_out is None:
                t_out = pytree.tree_map(lambda a: np.zeros(np.shape(a), get_aval(a).dtype)
                                        if not hasattr(a, "aval") else a * 0, ans)
            return ans, t_out

        jvp.__qualname__ = f"{getattr(self.fun, '__qualname__', 'f')}_defjvps"
        self.defjvp(jvp)

    def __call__(self, *args: Any) -> Any:
        if self.jvp is None:
            raise FuncgradTypeError(f"custom_jvp function {self.fun.__name__} has no JVP rule: "
                                    f"call .defjvp(rule) first")
        dyn, nondiff, full_args = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = pytree.tree_flatten(tuple(dyn))
        out_trees: list[Any] = []
        fun_flat = api_util.flatten_fun(lambda *d: self.fun(*full_args(d)), in_tree, out_trees)
        jvp_rule = self.jvp

        def jvp_flat(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
            p = pytree.tree_unflatten(in_tree, primals)
            t = pytree.tree_unflatten(in_tree, tangents)
            out, t_out = jvp_rule(*nondiff, tuple(p), tuple(t))
            out_leaves, tree = pytree.tree_flatten(out)
            out_trees.append(tree)
            t_leaves = pytree.tree_leaves(t_out)
            return out_leaves, t_leaves

        _name_after(jvp_flat, jvp_rule)
        outs = current_trace().process_custom_jvp(fun_flat, jvp_flat, leaves)
        return pytree.tree_unflatten(out_trees[-1], outs)


def _checked_cotangents(in_cts: Sequence[Any], primals: Sequence[Any], bwd_name: str
                        ) -> list[Any]:
    """The flat cotangents a custom_vjp bwd returned, checked against ``primals`` (the
    arguments, or pytrees of their ShapedArrays) as JAX checks them: per
    differentiable argument ``None`` or the argument's structure, each leaf ``None`` or of
    the primal leaf's shape and dtype. A wrong shape would otherwise broadcast into a
    silently wrong gradient."""
    flat: list[Any] = []
    for i, (ct, primal) in enumerate(zip(in_cts, primals, strict=True)):
        p_leaves, p_tree = pytree.tree_flatten(primal)
        if ct is None:
            flat.extend([None] * len(p_leaves))
            continue
        # None marks a zero cotangent: it stays a leaf instead of an empty subtree.
        c_leaves, c_tree = pytree.tree_flatten(ct, is_leaf=lambda x: x is None)
        if c_tree != p_tree:
            raise FuncgradTypeError(at_user_line(
                f"custom_vjp bwd {bwd_name} returned a cotangent for argument {i} with "
                f"structure {c_tree}, but the primal argument has structure {p_tree}"))
        for c, p in zip(c_leaves, p_leaves, strict=True):
            if c is not None:
                c_aval = get_aval(c)
                p_aval = p if isinstance(p, ShapedArray) else get_aval(p)
                if c_aval.shape != p_aval.shape:
                    raise FuncgradValueError(at_user_line(
                        f"custom_vjp bwd {bwd_name} returned a cotangent of shape "
                        f"{c_aval.shape} for argument {i}, whose primal has shape "
                        f"{p_aval.shape}"))
                if c_aval.dtype != p_aval.dtype and not c_aval.weak_type:
                    raise FuncgradTypeError(at_user_line(
                        f"custom_vjp bwd {bwd_name} returned a cotangent of dtype "
                        f"{c_aval.dtype} for argument {i}, whose primal has dtype "
                        f"{p_aval.dtype}"))
            flat.append(c)
    return flat


def _type_of(leaf: Any) -> Any:
    """An argument leaf's ShapedArray; a leaf that is no array stays itself."""
    try:
        return get_aval(leaf)
    except TypeError:
        return leaf


def _name_after(flat: Callable[..., Any], rule: Callable[..., Any]) -> None:
    """Give a flattened rule its user's name, which printed jaxprs show."""
    flat.__qualname__ = getattr(rule, "__qualname__", flat.__qualname__)


# == custom_vjp ===============================================================================

class custom_vjp:  # noqa: N801 (JAX's name)
    """A function with a user-defined VJP, as ``jax.custom_vjp``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, ct) -> tuple of cotangents``, one per
    (non-``nondiff_argnums``) argument.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> @fg.custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, g: (fnp.clip(g, -1.0, 1.0),))
    >>> fg.grad(lambda x: 5.0 * clip_grad(x))(np.array(2.0))
    array(1.)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._jvp_ok = False  # checkpoint's custom_vjp: forward mode differentiates the primal
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise FuncgradTypeError(f"custom_vjp function {self.fun.__name__} has no VJP rule: "
                                    f"call .defvjp(fwd, bwd) first")
        dyn, nondiff, full_args = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = pytree.tree_flatten(tuple(dyn))
        out_trees: list[Any] = []
        fwd, bwd = self.fwd, self.bwd
        fun_flat = api_util.flatten_fun(lambda *d: self.fun(*full_args(d)), in_tree, out_trees)

        def fwd_flat(*primals: Any) -> tuple[list[Any], Any]:
            out, res = fwd(*full_args(pytree.tree_unflatten(in_tree, primals)))
            out_leaves, tree = pytree.tree_flatten(out)
            out_trees.append(tree)
            return out_leaves, res

        # The rule keeps the arguments' types, not the arguments: under grad they are tracers,
        # which hold their trace, whose tape holds this rule (a cycle keeping the tape's
        # residuals alive until the garbage collector runs).
        dyn_types = [pytree.tree_map(_type_of, a) for a in dyn]
        fun_name = getattr(self.fun, "__name__", repr(self.fun))

        def bwd_flat(res: Any, cts: Sequence[Any]) -> list[Any]:
            ct_tree = pytree.tree_unflatten(out_trees[-1], cts)
            in_cts = bwd(*nondiff, res, ct_tree)
            if not isinstance(in_cts, (tuple, list)) or len(in_cts) != len(dyn_types):
                raise FuncgradValueError(at_user_line(
                    f"custom_vjp bwd of {fun_name} must return a tuple with one "
                    f"cotangent per differentiable argument ({len(dyn_types)}), got {in_cts!r}"))
            return _checked_cotangents(in_cts, dyn_types, getattr(bwd, "__qualname__", "bwd"))

        _name_after(fwd_flat, fwd)
        _name_after(bwd_flat, bwd)
        outs = current_trace().process_custom_vjp(fun_flat, fwd_flat, bwd_flat, leaves,
                                                  out_trees, self._jvp_ok)
        return pytree.tree_unflatten(out_trees[-1], outs)


# == staged custom rules: equations that keep the rules =========================================
# A staged custom_jvp/custom_vjp call is one equation holding the primal as a closed jaxpr and
# the user's rules as callables (as JAX keeps its bwd). Its ``bind`` hands the call back to the
# current trace's custom-rule method, so evaluating a staged program under grad, jvp or vmap
# uses the custom rules exactly as the eager program does.

class CustomCallPrimitive(Primitive):
    """A call primitive whose ``bind`` dispatches to ``process_custom_jvp``/``_vjp``."""

    __slots__ = ()

    def bind(self, *args: Any, **params: Any) -> Any:
        fun = functools.partial(eval_closed, params["call_jaxpr"])
        trace = current_trace()
        if self is custom_vjp_call_p:
            return trace.process_custom_vjp(fun, params["fwd"], params["bwd"], args,
                                            params["out_trees"], params["jvp_ok"])
        return trace.process_custom_jvp(fun, params["jvp"], args)


custom_vjp_call_p = CustomCallPrimitive("custom_vjp_call", multiple_results=True)
custom_jvp_call_p = CustomCallPrimitive("custom_jvp_call", multiple_results=True)


def _call_impl(*args: Any, call_jaxpr: ClosedJaxpr, **_: Any) -> list[Any]:
    return eval_closed(call_jaxpr, *args)


def _call_abstract_eval(*avals: Any, call_jaxpr: ClosedJaxpr, **_: Any) -> list[Any]:
    return call_jaxpr.out_avals


# The table rules restate what the trace methods do, for code that walks the tables directly.
def _custom_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any
                     ) -> tuple[Any, Any]:
    prim = custom_vjp_call_p if "bwd" in params else custom_jvp_call_p
    ts = [ad.instantiate_zeros(t, p) for t, p in zip(tangents, primals, strict=True)]
    return ad.jvp_flat(lambda *xs: prim.bind(*xs, **params), primals, ts)


def _custom_call_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                     needs: Sequence[bool], **params: Any) -> list[Any]:
    prim = custom_vjp_call_p if "bwd" in params else custom_jvp_call_p
    _, pullback = ad.vjp_flat(lambda *xs: prim.bind(*xs, **params), primals)
    in_cts = pullback([ad.instantiate_zeros(c, a) for c, a in zip(cts, ans, strict=True)])
    return [c if need else None for c, need in zip(in_cts, needs, strict=True)]


def _custom_call_batch(args: Sequence[Any], dims: Sequence[Any], **params: Any
                       ) -> tuple[list[Any], list[int]]:
    prim = custom_vjp_call_p if "bwd" in params else custom_jvp_call_p
    outs = batching.vmap(lambda *xs: prim.bind(*xs, **params), in_axes=tuple(dims))(*args)
    return outs, [0] * len(outs)


for _prim in (custom_vjp_call_p, custom_jvp_call_p):
    _prim.def_impl(_call_impl)
    _prim.def_abstract_eval(_call_abstract_eval)
    ad.jvp_rules[_prim] = _custom_call_jvp
    ad.vjp_rules[_prim] = _custom_call_vjp
    batching.batch_rules[_prim] = _custom_call_batch
    codegen.codegen_rules[_prim] = codegen.call_rule("call_jaxpr")


def _stage_primal(trace: Any, fun: Callable[..., Any], args: Sequence[Any]) -> ClosedJaxpr:
    closed, hoisted = stage_closure_converted(fun, [get_aval(x) for x in args])
    if hoisted:
        raise FuncgradTypeError(at_user_line(
            "a custom_jvp/custom_vjp function closes over a traced value; pass it as an "
            "argument instead (or use nondiff_argnums for non-array values)"))
    return closed


def stage_custom_vjp(trace: Any, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                     out_trees: Any, jvp_ok: bool) -> Any:
    """How a staging trace records a custom_vjp call: one ``custom_vjp_call`` equation."""
    closed = _stage_primal(trace, fun, args)
    return trace.process_primitive(custom_vjp_call_p, args, dict(
        call_jaxpr=closed, fwd=fwd, bwd=bwd, out_trees=out_trees, jvp_ok=jvp_ok))


def stage_custom_jvp(trace: Any, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
    """How a staging trace records a custom_jvp call: one ``custom_jvp_call`` equation."""
    closed = _stage_primal(trace, fun, args)
    return trace.process_primitive(custom_jvp_call_p, args, dict(call_jaxpr=closed, jvp=jvp))


# == checkpoint ===============================================================================

# ``checkpoint_name(x, name)``: the identity, marking ``x`` for ``save_only_these_names``.
name_p = Primitive("name")
name_p.def_impl(lambda x, *, name: x)
name_p.def_abstract_eval(lambda x, *, name: x)
ad.deflinear(name_p, lambda ct, x, *, name: [name_p.bind(ct, name=name)])
batching.defvectorized(name_p)
codegen.def_identity(name_p)


def checkpoint_name(x: Any, name: str) -> Any:
    """Name ``x`` for a checkpoint policy (``jax.ad_checkpoint.checkpoint_name``).

    >>> import funcgrad as fg, numpy as np
    >>> fg.ad_checkpoint.checkpoint_name(np.ones(2), "h")
    array([1., 1.])
    """
    return pytree.tree_map(lambda leaf: name_p.bind(
        leaf if hasattr(leaf, "dtype") else np.asarray(leaf), name=name), x)


Policy = Callable[..., bool]


def checkpoint(fun: Callable[..., Any], *, prevent_cse: bool = True,
               policy: Policy | None = None,
               static_argnums: int | Sequence[int] = ()) -> Callable[..., Any]:
    """Recompute ``fun``'s forward pass inside the backward pass instead of storing its
    intermediates (``fg.remat`` is the same function), as ``jax.checkpoint``.

    Without a ``policy`` only the inputs are kept. A policy (see ``fg.checkpoint_policies``),
    called as ``policy(primitive, *input_avals, **params)``, names the equations whose outputs
    are saved: the backward pass replays the staged body with those outputs substituted, so
    only the rest is recomputed. ``prevent_cse`` is accepted for JAX compatibility
    (funcgrad's passes never merge a recomputation with the forward).

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> f = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    >>> float(fg.grad(f)(np.array(0.0)))
    1.0
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if static:
        def with_static(*args: Any) -> Any:
            dyn = [a for i, a in enumerate(args) if i not in static]

            def inner(*d: Any) -> Any:
                it = iter(d)
                return fun(*[args[i] if i in static else next(it) for i in range(len(args))])
            return checkpoint(inner, prevent_cse=prevent_cse, policy=policy)(*dyn)
        functools.update_wrapper(with_static, fun)
        return with_static

    @custom_vjp
    def remat_fun(*args: Any) -> Any:
        return fun(*args)

    if policy is None:
        def fwd(*args: Any) -> tuple[Any, Any]:
            return fun(*args), args

        def bwd(res: Any, ct: Any) -> Any:
            with recomputing():
                _, pullback = api.vjp(fun, *res)
            return pullback(ct)
    else:
        fwd, bwd = _policy_rules(fun, policy)

    remat_fun.defvjp(fwd, bwd)
    remat_fun._jvp_ok = True
    functools.update_wrapper(remat_fun, fun)
    return remat_fun


def _policy_rules(fun: Callable[..., Any], policy: Policy
                  ) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """fwd/bwd of a checkpoint with a policy: the body is staged once per input signature;
    the forward saves the outputs of the equations the policy names, the backward replays
    the body on the tape with those outputs substituted."""
    staged: dict[Any, tuple[ClosedJaxpr, Any, frozenset[int]]] = {}

    def stage(args: Sequence[Any]) -> tuple[list[Any], ClosedJaxpr, Any, frozenset[int]]:
        leaves, in_tree = pytree.tree_flatten(tuple(args))
        key = (in_tree, tuple(get_aval(x) for x in leaves))
        if key not in staged:
            out_trees: list[Any] = []
            flat = api_util.flatten_fun(fun, in_tree, out_trees)
            closed = trace_to_jaxpr(flat, [get_aval(x) for x in leaves])
            saved = {i for i, e in enumerate(closed.eqns) if policy(
                e.primitive, *(a.aval for a in e.invars), **e.params)}
            # A saved name is the value of the equation that produced it: save that one, so
            # the replay records it with its known output instead of recomputing it.
            producer = {v: i for i, e in enumerate(closed.eqns) for v in e.outvars}
            for i in sorted(saved):
                eqn = closed.eqns[i]
                if eqn.primitive is name_p and eqn.invars[0] in producer:
                    saved.add(producer[eqn.invars[0]])
            staged[key] = (closed, out_trees[-1], frozenset(saved))
        return [leaves, *staged[key]]  # type: ignore[return-value]

    def run(closed: ClosedJaxpr, leaves: Sequence[Any], saved: frozenset[int],
            known: dict[int, Any] | None) -> tuple[list[Any], dict[int, Any]]:
        env: dict[Any, Any] = dict(zip(closed.jaxpr.constvars, closed.consts, strict=True))
        env.update(zip(closed.jaxpr.invars, leaves, strict=True))
        read = lambda a: a.val if isinstance(a, Literal) else env[a]  # noqa: E731
        keep: dict[int, Any] = {}
        for i, eqn in enumerate(closed.eqns):
            ins = [read(a) for a in eqn.invars]
            if known is not None and i in known:
                trace = current_trace()
                out = (trace.record_known(eqn.primitive, ins, eqn.params, known[i])
                       if isinstance(trace, ad.VJPTrace) else known[i])
            else:
                out = eqn.primitive.bind(*ins, **eqn.params)
                if i in saved:
                    keep[i] = out
            env.update(zip(eqn.outvars, out if eqn.primitive.multiple_results else [out],
                           strict=True))
        return [read(a) for a in closed.jaxpr.outvars], keep

    def fwd(*args: Any) -> tuple[Any, Any]:
        leaves, closed, out_tree, saved = stage(args)
        outs, keep = run(closed, leaves, saved, None)
        return pytree.tree_unflatten(out_tree, outs), (args, keep)

    def bwd(res: Any, ct: Any) -> Any:
        args, keep = res
        leaves, closed, out_tree, saved = stage(args)
        _, in_tree = pytree.tree_flatten(tuple(args))

        def replay(*flat: Any) -> Any:
            return pytree.tree_unflatten(out_tree, run(closed, flat, saved, keep)[0])

        with recomputing():
            _, pullback = api.vjp(replay, *leaves)
        return tuple(pytree.tree_unflatten(in_tree, list(pullback(ct))))

    return fwd, bwd


remat = checkpoint
