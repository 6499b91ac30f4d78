"""``jax.ad_checkpoint``'s names: ``checkpoint``, ``checkpoint_name`` and the residual listing.

>>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
>>> fg.ad_checkpoint.print_saved_residuals(lambda x: fnp.sum(fnp.sin(x)), np.zeros(2))
f64[2] 16 B  from the argument 0
f64[2] 16 B  output of sin at <doctest funcgrad.ad_checkpoint[1]>:1 (<lambda>)
f64[] 8 B  output of reduce_sum at <doctest funcgrad.ad_checkpoint[1]>:1 (<lambda>)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.ir import Literal
from funcgrad.core.staging import trace_to_jaxpr
from funcgrad.core.tracing import current_trace, set_current_trace
from funcgrad.transforms import ad, api_util
from funcgrad.transforms.custom import checkpoint, checkpoint_name, remat

__all__ = ["Residual", "checkpoint", "checkpoint_name", "print_saved_residuals", "remat",
           "saved_residuals"]


class Residual(NamedTuple):
    """One array reverse mode keeps for the backward pass."""

    aval: ShapedArray
    nbytes: int
    description: str  # where it comes from: an argument, or an equation and the user's line


def saved_residuals(fun: Callable[..., Any], *args: Any) -> list[Residual]:
    """Every array ``vjp(fun, *args)`` stores for its backward pass, in the order they arise,
    each once (views count as their base array)."""
    leaves, in_tree = pytree.tree_flatten(args)
    leaves = [np.asarray(x) for x in leaves]
    out_trees: list[Any] = []
    closed = trace_to_jaxpr(api_util.flatten_fun(fun, in_tree, out_trees),
                            [get_aval(x) for x in leaves])
    origin: dict[int, str] = {id(x): f"from the argument {i}" for i, x in enumerate(leaves)}
    trace = ad.VJPTrace(current_trace())
    try:
        env: dict[Any, Any] = dict(zip(closed.jaxpr.constvars, closed.consts, strict=True))
        env.update(zip(closed.jaxpr.invars, [trace.new_tracer(x) for x in leaves], strict=True))
        with set_current_trace(trace):
            for eqn in closed.eqns:
                ins = [a.val if isinstance(a, Literal) else env[a] for a in eqn.invars]
                out = eqn.primitive.bind(*ins, **eqn.params)
                outs = out if eqn.primitive.multiple_results else [out]
                for o in outs:
                    value = o.primal if isinstance(o, ad.VJPTracer) else o
                    origin.setdefault(id(value), f"output of {eqn.primitive.name} at "
                                                 f"{eqn.source_info}")
                env.update(zip(eqn.outvars, outs, strict=True))
    finally:
        trace.is_alive = False
    found: dict[int, Residual] = {}
    for _, params, primals, _, _, ans, _ in trace.tape:
        kept = [leaf for key in ("res", "residuals") if params.get(key) is not None
                for leaf in pytree.tree_leaves(params[key])]
        for x in (*primals, *(ans if isinstance(ans, list) else [ans]), *kept):
            if isinstance(x, np.ndarray):
                base = x.base if isinstance(x.base, np.ndarray) else x
                if id(base) not in found:
                    what = origin.get(id(x), origin.get(id(base), "saved by a checkpoint "
                                                                  "policy or a rule"))
                    found[id(base)] = Residual(get_aval(x), base.nbytes, what)
    return list(found.values())


def print_saved_residuals(fun: Callable[..., Any], *args: Any) -> None:
    """Print ``saved_residuals(fun, *args)``: one line per array, with its bytes."""
    for r in saved_residuals(fun, *args):
        print(f"{r.aval.str_short()} {r.nbytes} B  {r.description}")
