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
from funcgrad.core.avals import get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.primitive import Primitive
from funcgrad.core.tracing import current_trace, set_current_trace
from funcgrad.transforms import ad, api_util, batching

# == stop_gradient ============================================================================

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(lambda x: x)
stop_gradient_p.def_abstract_eval(lambda x: x)
ad.defnondiff(stop_gradient_p)
batching.defvectorized(stop_gradient_p)


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

        outs = current_trace().process_custom_jvp(fun_flat, jvp_flat, leaves)
        return pytree.tree_unflatten(out_trees[-1], outs)


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

        def bwd_flat(res: Any, cts: Sequence[Any]) -> list[Any]:
            ct_tree = pytree.tree_unflatten(out_trees[-1], cts)
            in_cts = bwd(*nondiff, res, ct_tree)
            if not isinstance(in_cts, (tuple, list)) or len(in_cts) != len(dyn):
                raise FuncgradValueError(at_user_line(
                    f"custom_vjp bwd of {self.fun.__name__} must return a tuple with one "
                    f"cotangent per differentiable argument ({len(dyn)}), got {in_cts!r}"))
            # None marks a zero cotangent: it stays a leaf instead of an empty subtree.
            return pytree.tree_leaves(tuple(in_cts), is_leaf=lambda x: x is None)

        outs = current_trace().process_custom_vjp(fun_flat, fwd_flat, bwd_flat, leaves,
                                                  out_trees)
        return pytree.tree_unflatten(out_trees[-1], outs)


# == how the traces process them ==============================================================

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True, register=False)
custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True, register=False)


def _custom_vjp_call_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                         needs: Sequence[bool], params: dict[str, Any]) -> list[Any]:
    cts = [ad.instantiate_zeros(c, a) for c, a in zip(cts, ans)]
    in_cts = params["bwd"](params["res"], cts)
    return [c if need else None for c, need in zip(in_cts, needs)]


def _custom_jvp_call_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any],
                         needs: Sequence[bool], params: dict[str, Any]) -> list[Any]:
    # The tangent output of a JVP rule is linear in the tangents, so reverse mode over it (at
    # any tangent point, here zero) is its transpose.
    jvp_rule = params["jvp"]
    zeros = [np.zeros(get_aval(p).shape, get_aval(p).dtype) for p in primals]
    cts = [ad.instantiate_zeros(c, a) for c, a in zip(cts, ans)]
    _, pullback = ad.vjp(lambda *ts: list(jvp_rule(list(primals), list(ts))[1]), *zeros)
    in_cts = pullback(cts)
    return [c if need else None for c, need in zip(in_cts, needs)]


ad.vjp_rules[custom_vjp_call_p] = _custom_vjp_call_vjp
ad.vjp_rules[custom_jvp_call_p] = _custom_jvp_call_vjp


def _record(trace: ad.VJPTrace, prim: Primitive, args: Sequence[Any], run: Callable[..., Any],
            params: dict[str, Any]) -> list[Any]:
    primals, in_slots, needs = [], [], []
    for x in args:
        own = isinstance(x, ad.VJPTracer) and x._trace is trace
        primals.append(x.primal if own else x)
        in_slots.append(x.slot if own else None)
        needs.append(own)
    with set_current_trace(trace.parent):
        outs, extra = run(*primals)
    params = {**params, **extra}
    if all(s is None for s in in_slots):
        return outs
    tracers = [trace.new_tracer(o) for o in outs]
    trace.tape.append((ad.vjp_rules[prim], params, primals, in_slots, needs, outs,
                       [t.slot for t in tracers]))
    return tracers


def record_custom_vjp(trace: ad.VJPTrace, fwd: Any, bwd: Any, args: Sequence[Any],
                      out_tree: Any) -> list[Any]:
    def run(*primals: Any) -> tuple[list[Any], dict[str, Any]]:
        outs, res = fwd(*primals)
        return outs, {"res": res}
    return _record(trace, custom_vjp_call_p, args, run, {"bwd": bwd})


def record_custom_jvp(trace: ad.VJPTrace, fun: Any, jvp: Any, args: Sequence[Any]
                      ) -> list[Any]:
    return _record(trace, custom_jvp_call_p, args, lambda *p: (fun(*p), {}), {"jvp": jvp})


def _batch_custom_vjp(trace: batching.BatchTrace, fun: Any, fwd: Any, bwd: Any,
                      args: Sequence[Any], out_tree: Any) -> list[Any]:
    vals, dims = _unbatch_args(trace, args)
    if all(d is None for d in dims):
        with set_current_trace(trace.parent):
            return trace.parent.process_custom_vjp(fun, fwd, bwd, vals, out_tree)
    in_axes = tuple(dims)
    fun_b = batching.vmap(lambda *xs: fun(*xs), in_axes=in_axes)
    fwd_b = batching.vmap(lambda *xs: fwd(*xs), in_axes=in_axes)

    def bwd_b(res: Any, cts: Sequence[Any]) -> list[Any]:
        in_cts = batching.vmap(lambda r, c: bwd(r, c))(res, list(cts))
        # Arguments that were not batched get the sum of their per-example cotangents.
        from funcgrad.lax import reduce_sum
        return [c if d is not None or c is None else reduce_sum(c, 0)
                for c, d in zip(in_cts, dims)]

    with set_current_trace(trace.parent):
        outs = trace.parent.process_custom_vjp(fun_b, fwd_b, bwd_b, vals, out_tree)
    return [batching.BatchTracer(trace, o, 0) for o in outs]


def _batch_custom_jvp(trace: batching.BatchTrace, fun: Any, jvp: Any, args: Sequence[Any]
                      ) -> list[Any]:
    vals, dims = _unbatch_args(trace, args)
    if all(d is None for d in dims):
        with set_current_trace(trace.parent):
            return trace.parent.process_custom_jvp(fun, jvp, vals)
    in_axes = tuple(dims)
    fun_b = batching.vmap(lambda *xs: fun(*xs), in_axes=in_axes)

    def jvp_b(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        return tuple(batching.vmap(lambda p, t: tuple(jvp(list(p), list(t))),
                                   in_axes=(in_axes, in_axes))(tuple(primals), tuple(tangents)))

    with set_current_trace(trace.parent):
        outs = trace.parent.process_custom_jvp(fun_b, jvp_b, vals)
    return [batching.BatchTracer(trace, o, 0) for o in outs]


def _unbatch_args(trace: batching.BatchTrace, args: Sequence[Any]) -> tuple[list, list]:
    vals, dims = [], []
    for x in args:
        own = isinstance(x, batching.BatchTracer) and x._trace is trace
        vals.append(x.val if own else x)
        dims.append(x.bdim if own else None)
    return vals, dims


ad.VJPTrace.process_custom_jvp = record_custom_jvp  # type: ignore[method-assign,assignment]
batching.BatchTrace.process_custom_vjp = _batch_custom_vjp  # type: ignore[method-assign,assignment]
batching.BatchTrace.process_custom_jvp = _batch_custom_jvp  # type: ignore[method-assign,assignment]


# == checkpoint ===============================================================================

def checkpoint(fun: Callable[..., Any]) -> Callable[..., Any]:
    """Recompute ``fun``'s forward pass inside the backward pass instead of storing its
    intermediates (``fg.remat`` is the same function): only the inputs are kept.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> f = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    >>> float(fg.grad(f)(np.array(0.0)))
    1.0
    """
    @custom_vjp
    def remat_fun(*args: Any) -> Any:
        return fun(*args)

    def fwd(*args: Any) -> tuple[Any, Any]:
        return fun(*args), args

    def bwd(res: Any, ct: Any) -> Any:
        _, pullback = ad.vjp(fun, *res)
        return pullback(ct)

    remat_fun.defvjp(fwd, bwd)
    functools.update_wrapper(remat_fun, fun)
    return remat_fun


remat = checkpoint
