"""vmap: the batching interpreter.

A ``BatchTracer`` is an array with one extra axis, ``bdim``, the batch axis. Each primitive has
a rule ``batch_rules[p](args, dims, **params) -> (out, out_dim)`` that computes the batched
result with one call of (usually) the same primitive: there is no per-example loop anywhere.
``dims[i]`` is None for an argument that is not batched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradValueError, at_user_line
from funcgrad.core.ir import ClosedJaxpr
from funcgrad.core.primitive import Primitive, add_any_p
from funcgrad.core.staging import cached_rule, eval_closed, stage_rule
from funcgrad.core.tracing import Trace, Tracer, current_trace, set_current_trace

BatchRule = Callable[..., tuple[Any, Any]]
batch_rules: dict[Primitive, BatchRule] = {}
# Collectives (``lax.psum``...): rule(vals, dims, axis_size, **params) -> (out, out_dim), run
# by the vmap whose ``axis_name`` the call names; other vmaps batch them by ``batch_rules``.
collective_rules: dict[Primitive, Callable[..., tuple[Any, Any]]] = {}
# The axis name of the named vmap whose batching rule is running (a one-slot stack frame per
# rule call): batch_eval gives it to the trace that batches a jit/cond/scan body.
class _RuleAxis(threading.local):
    name: Any = None


_rule_axis = _RuleAxis()


def _lax() -> Any:
    # The helpers below emit transpose/broadcast; the lax package registers the rules that use
    # them, so it is always imported by the time a rule runs.
    from funcgrad import lax
    return lax


# == rule helpers =============================================================================

def moveaxis(x: Any, src: int, dst: int) -> Any:
    """Move axis ``src`` of ``x`` to position ``dst`` (a transpose, or nothing)."""
    ndim = get_aval(x).ndim
    src, dst = src % ndim, dst % ndim
    if src == dst:
        return x
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return _lax().transpose(x, tuple(perm))


def batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    """The length of the batch axis (that of the first batched argument)."""
    return next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True) if d is not None)


def bdim_at_front(x: Any, bdim: int | None, size: int) -> Any:
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size``."""
    if bdim is None:
        aval = get_aval(x)
        return _lax().broadcast_in_dim(x, (size, *aval.shape), tuple(range(1, aval.ndim + 1)))
    return moveaxis(x, bdim, 0)


def defvectorized(prim: Primitive) -> None:
    """Unary elementwise: batch axis passes straight through."""
    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        return prim.bind(*args, **params), dims[0]
    batch_rules[prim] = rule


def defbroadcasting(prim: Primitive) -> None:
    """N-ary elementwise on equal shapes: align every batch axis at the front."""
    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        first = next(d for d in dims if d is not None)
        if all(d == first for d in dims):
            return prim.bind(*args, **params), first
        size = batch_size(args, dims)
        return prim.bind(*(bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)),
                         **params), 0
    batch_rules[prim] = rule


def defreducer(prim: Primitive, axes_param: str = "axes") -> None:
    """Reductions over ``axes``: shift the reduced axes past the batch axis."""
    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        (x,), (bdim,) = args, dims
        x = moveaxis(x, bdim, 0)
        axes = params[axes_param]
        axes = tuple(a + 1 for a in axes) if isinstance(axes, tuple) else axes + 1
        return prim.bind(x, **{**params, axes_param: axes}), 0
    batch_rules[prim] = rule


defbroadcasting(add_any_p)


# == the trace ================================================================================

class BatchTracer(Tracer):
    __slots__ = ("val", "bdim", "_aval")

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim
        self._aval: ShapedArray | None = None

    @property
    def aval(self) -> ShapedArray:
        if self._aval is None:  # computed once: rules ask for shapes many times
            aval = get_aval(self.val)
            shape = aval.shape[:self.bdim] + aval.shape[self.bdim + 1:]
            self._aval = ShapedArray(shape, aval.dtype, aval.weak_type)
        return self._aval


class BatchTrace(Trace):
    concretization_hint = (
        "under vmap this value differs per example, so Python control flow cannot branch on "
        "it: use fnp.where or fg.lax.cond")

    def __init__(self, parent: Trace, axis_size: int, axis_name: Any = None):
        self.parent = parent
        self.axis_size = axis_size
        self.axis_name = axis_name

    def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]
                          ) -> Any:
        if self.axis_name is not None and prim in collective_rules:  # unnamed vmaps: no lookup
            names = params["axis_name"]
            if self.axis_name in names:
                return self._process_collective(prim, args, params)
        vals: list[Any] = []
        dims: list[int | None] = []
        batched = False
        for x in args:
            if x.__class__ is BatchTracer and x._trace is self:
                vals.append(x.val)
                dims.append(x.bdim)
                batched = True
            else:
                vals.append(x)
                dims.append(None)
        if not batched:
            return self.parent.process_primitive(prim, vals, params)
        rule = batch_rules.get(prim)
        if rule is None:
            raise NotImplementedError(f"batching rule for primitive {prim.name!r} is not "
                                      f"implemented")
        if self.axis_name is None:
            with set_current_trace(self.parent):
                out, out_dim = rule(vals, dims, **params)
        else:  # a rule batching a sub-program (jit, cond, scan) batches it for this axis
            outer_name, _rule_axis.name = _rule_axis.name, self.axis_name
            try:
                with set_current_trace(self.parent):
                    out, out_dim = rule(vals, dims, **params)
            finally:
                _rule_axis.name = outer_name
        if prim.multiple_results:
            return [o if d is None else BatchTracer(self, o, d) for o, d in zip(out, out_dim,
                                                                                strict=True)]
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def _process_collective(self, prim: Primitive, args: Sequence[Any],
                            params: dict[str, Any]) -> Any:
        """A collective over this vmap's axis: its rule reduces (or gathers) the batch axis;
        the other axis names of the same call go on to the enclosing vmaps."""
        vals, dims = self._unbatch_args(args)
        rest = tuple(n for n in params["axis_name"] if n != self.axis_name)
        with set_current_trace(self.parent):
            out, out_dim = collective_rules[prim](vals, dims, self.axis_size,
                                                  **{**params, "axis_name": rest})
            if rest:
                out = prim.bind(out, **{**params, "axis_name": rest}) if out_dim is None \
                    else out
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def _unbatch_args(self, args: Sequence[Any]) -> tuple[list, list]:
        vals, dims = [], []
        for x in args:
            own = isinstance(x, BatchTracer) and x._trace is self
            vals.append(x.val if own else x)
            dims.append(x.bdim if own else None)
        return vals, dims

    def process_custom_vjp(self, fun: Any, fwd: Any, bwd: Any, args: Sequence[Any],
                           out_tree: Any, jvp_ok: bool = False) -> Any:
        """Batch the function and both rules; the parent trace sees one custom_vjp."""
        vals, dims = self._unbatch_args(args)
        if all(d is None for d in dims):
            with set_current_trace(self.parent):
                return self.parent.process_custom_vjp(fun, fwd, bwd, vals, out_tree, jvp_ok)
        in_axes = tuple(dims)
        fun_b = vmap(lambda *xs: fun(*xs), in_axes=in_axes)
        fwd_b = vmap(lambda *xs: fwd(*xs), in_axes=in_axes)

        def bwd_b(res: Any, cts: Sequence[Any]) -> list[Any]:
            in_cts = vmap(lambda r, c: bwd(r, c))(res, list(cts))
            # Arguments that were not batched get the sum of their per-example cotangents.
            from funcgrad.lax import reduce_sum
            return [c if d is not None or c is None else reduce_sum(c, 0)
                    for c, d in zip(in_cts, dims, strict=True)]

        with set_current_trace(self.parent):
            outs = self.parent.process_custom_vjp(fun_b, fwd_b, bwd_b, vals, out_tree, jvp_ok)
        return [BatchTracer(self, o, 0) for o in outs]

    def process_custom_jvp(self, fun: Any, jvp: Any, args: Sequence[Any]) -> Any:
        """Batch the function and its JVP rule; the parent trace sees one custom_jvp."""
        vals, dims = self._unbatch_args(args)
        if all(d is None for d in dims):
            with set_current_trace(self.parent):
                return self.parent.process_custom_jvp(fun, jvp, vals)
        in_axes = tuple(dims)
        fun_b = vmap(lambda *xs: fun(*xs), in_axes=in_axes)

        def jvp_b(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
            return tuple(vmap(lambda p, t: tuple(jvp(list(p), list(t))),
                              in_axes=(in_axes, in_axes))(tuple(primals), tuple(tangents)))

        with set_current_trace(self.parent):
            outs = self.parent.process_custom_jvp(fun_b, jvp_b, vals)
        return [BatchTracer(self, o, 0) for o in outs]


# == vmap =====================================================================================

def _axis_spec(axes: Any) -> Any:
    return tuple(axes) if isinstance(axes, list) else axes


def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0,
         axis_name: Any = None, axis_size: int | None = None) -> Callable[..., Any]:
    """Vectorise ``fun`` over an axis of its inputs.

    ``in_axes`` is an int, None, or a pytree prefix of the arguments tuple; ``out_axes`` the same
    for the output. Nested vmaps, and vmap of grad (per-example gradients), work. With
    ``axis_name``, collectives (``fg.lax.psum``, ``pmean``, ``pmax``, ``pmin``, ``all_gather``,
    ``axis_index``) inside ``fun`` reduce over the mapped axis (also across nested vmaps by a
    tuple of names). A ``jit`` called inside the vmap cannot see the name: jit the vmap.

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> fg.vmap(fnp.dot, in_axes=(0, None))(np.eye(2), np.array([3.0, 4.0]))
    array([3., 4.])
    """
    def batched_fun(*args: Any) -> Any:
        spec = _axis_spec(in_axes)
        if isinstance(spec, tuple) and len(spec) != len(args):
            raise FuncgradValueError(at_user_line(
                f"vmap: in_axes has {len(spec)} entries but the function was called with "
                f"{len(args)} positional arguments"))
        leaves, in_tree = pytree.tree_flatten(args)
        axes = pytree.broadcast_prefix(spec if isinstance(spec, tuple) else (spec,) * len(args),
                                       args, "vmap in_axes")
        paths = pytree.tree_key_paths(args)
        size = _mapped_axis_size(leaves, axes, paths, axis_size)
        trace = BatchTrace(current_trace(), size, axis_name)
        try:
            ins = []
            for x, ax in zip(leaves, axes, strict=True):
                if ax is None:
                    ins.append(x)
                    continue
                x = x if isinstance(x, (np.ndarray, Tracer)) else np.asarray(x)
                ins.append(BatchTracer(trace, x, ax % get_aval(x).ndim))
            with set_current_trace(trace):
                out = fun(*pytree.tree_unflatten(in_tree, ins))
            out_leaves, out_tree = pytree.tree_flatten(out)
            o_spec = _axis_spec(out_axes)
            o_axes = pytree.broadcast_prefix(o_spec, out, "vmap out_axes")
            outs = [_unbatch(trace, o, ax, size) for o, ax in zip(out_leaves, o_axes, strict=True)]
        finally:
            trace.is_alive = False
        return pytree.tree_unflatten(out_tree, outs)

    batched_fun.__name__ = f"vmap({getattr(fun, '__name__', 'fun')})"
    batched_fun.__wrapped__ = fun  # type: ignore[attr-defined]
    return batched_fun


def pmap(fun: Callable[..., Any], axis_name: Any = None, *, in_axes: Any = 0,
         out_axes: Any = 0, static_broadcasted_argnums: int | Sequence[int] = (),
         devices: Any = None, backend: Any = None, axis_size: int | None = None,
         donate_argnums: Any = ()) -> Callable[..., Any]:
    """``jax.pmap`` on one CPU: ``vmap`` with the same ``axis_name`` and collectives (there is
    one device; the mapped axis runs vectorised, not in parallel). ``devices``, ``backend``
    and ``donate_argnums`` are accepted and ignored; static arguments are passed through.

    >>> import funcgrad as fg, numpy as np
    >>> fg.pmap(lambda x: x - fg.lax.pmean(x, "i"), axis_name="i")(np.arange(3.0))
    array([-1.,  0.,  1.])
    """
    static = ((static_broadcasted_argnums,) if isinstance(static_broadcasted_argnums, int)
              else tuple(static_broadcasted_argnums))
    if not static:
        return vmap(fun, in_axes, out_axes, axis_name=axis_name, axis_size=axis_size)

    def mapped(*args: Any) -> Any:
        dyn = [i for i in range(len(args)) if i not in static]

        def inner(*dyn_args: Any) -> Any:
            full = list(args)
            for i, a in zip(dyn, dyn_args, strict=True):
                full[i] = a
            return fun(*full)
        axes = in_axes if not isinstance(in_axes, (tuple, list)) else tuple(
            in_axes[i] for i in dyn)
        return vmap(inner, axes, out_axes, axis_name=axis_name,
                    axis_size=axis_size)(*(args[i] for i in dyn))
    return mapped


def _mapped_axis_size(leaves: Sequence[Any], axes: Sequence[Any], paths: Sequence[str],
                      axis_size: int | None) -> int:
    sizes = {}
    for x, ax, path in zip(leaves, axes, paths, strict=True):
        if ax is None:
            continue
        if not isinstance(ax, int):
            raise FuncgradValueError(f"vmap: in_axes entries must be ints or None, got {ax!r}")
        shape = get_aval(x).shape
        if not -len(shape) <= ax < len(shape):
            raise FuncgradValueError(at_user_line(
                f"vmap: in_axes={ax} is out of range for argument{path} of shape {shape}"))
        sizes[f"argument{path}"] = shape[ax]
    if axis_size is not None:
        sizes.setdefault("axis_size", axis_size)
    if not sizes:
        raise FuncgradValueError(at_user_line(
            "vmap: every in_axes is None, so the batch size is unknown; pass axis_size"))
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k} has size {v}" for k, v in sizes.items())
        raise FuncgradValueError(at_user_line(
            f"vmap got inconsistent sizes for the mapped axis: {listed}"))
    return next(iter(sizes.values()))


def _unbatch(trace: BatchTrace, out: Any, out_axis: int | None, size: int) -> Any:
    batched = isinstance(out, BatchTracer) and out._trace is trace
    if out_axis is None:
        if batched:
            raise FuncgradValueError(at_user_line(
                "vmap: out_axes is None for an output that depends on the mapped inputs"))
        return out
    if not isinstance(out_axis, int):
        raise FuncgradValueError(f"vmap: out_axes entries must be ints or None, got {out_axis!r}")
    # The batched output has one more axis than each example's output: out_axis ranges over it.
    rank = get_aval(out.val if batched else out).ndim - (1 if batched else 0)
    if not -(rank + 1) <= out_axis < rank + 1:
        raise FuncgradValueError(at_user_line(
            f"vmap: out_axes={out_axis} is out of range for an output of rank {rank} "
            f"(the batched output has rank {rank + 1}, so out_axes must be in "
            f"[{-(rank + 1)}, {rank}])"))
    if batched:
        return moveaxis(out.val, out.bdim, out_axis)
    out = out if isinstance(out, (np.ndarray, Tracer)) else np.asarray(out)
    return moveaxis(bdim_at_front(out, None, size), 0, out_axis)


# == jaxpr transforms (used by control flow and jit) =============================================

def batch_eval(closed: ClosedJaxpr, args: Sequence[Any], batched: Sequence[bool], size: int,
                force: Sequence[bool]) -> tuple[list[Any], list[bool]]:
    """Run ``closed`` on ``args`` (batched ones on axis 0) under a batch trace; outputs come
    back with the batch axis first, unbatched ones broadcast where ``force`` says so."""
    # the sub-program is batched for the axis whose rule is running, under that axis's name
    trace = BatchTrace(current_trace(), size, _rule_axis.name)
    ins = [BatchTracer(trace, a, 0) if b else a for a, b in zip(args, batched, strict=True)]
    try:
        with set_current_trace(trace):
            outs = eval_closed(closed, *ins)
        res, flags = [], []
        for o, f in zip(outs, force, strict=True):
            if isinstance(o, BatchTracer) and o._trace is trace:
                res.append(moveaxis(o.val, o.bdim, 0))
                flags.append(True)
            else:
                o = (o if isinstance(o, (np.ndarray, Tracer)) else np.asarray(o))
                res.append(bdim_at_front(o, None, size) if f else o)
                flags.append(bool(f))
    finally:
        trace.is_alive = False
    return res, flags


def batch_jaxpr(closed: ClosedJaxpr, batched: Sequence[bool], size: int,
                 force: Sequence[bool]) -> tuple[ClosedJaxpr, list[bool]]:
    """The batched jaxpr (batched inputs and outputs on axis 0) and which outputs are batched."""
    in_avals = [a.update(shape=(size, *a.shape)) if b else a
                for a, b in zip(closed.in_avals, batched, strict=True)]
    flags: list[list[bool]] = []

    def fun(*args: Any) -> list[Any]:
        outs, out_flags = batch_eval(closed, args, batched, size, force)
        flags.append(out_flags)
        return outs

    def build() -> tuple[ClosedJaxpr, list[bool]]:
        return stage_rule(fun, in_avals), flags[0]
    return cached_rule(closed, ("batch", tuple(batched), size, tuple(force), _rule_axis.name),
                       build)

