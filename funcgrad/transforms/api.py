"""The user-facing differentiation transforms: ``vjp``, ``grad``, ``value_and_grad``, ``jvp``,
``linearize``, ``jacfwd``, ``jacrev`` and ``hessian``.

They flatten pytrees, check the arguments and name the user's line in errors; the traces and
rule tables they drive live in :mod:`funcgrad.transforms.ad` (and ``vmap`` in
:mod:`funcgrad.transforms.batching`, imported lazily here since it imports the rules).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.staging import eval_jaxpr, trace_to_jaxpr
from funcgrad.core.tracing import Tracer, current_trace, set_current_trace
from funcgrad.transforms import api_util
from funcgrad.transforms.ad import (
    VJPTrace,
    VJPTracer,
    _jvp_primals,
    _primal_of,
    instantiate_zeros,
    jvp_flat,
)


def _check_cotangent(ct: Any, primal_out: Any, where: str) -> Any:
    ct_aval, out_aval = get_aval(ct), get_aval(primal_out)
    if ct_aval.shape != out_aval.shape:
        raise FuncgradValueError(at_user_line(
            f"{where}: cotangent has shape {ct_aval.shape} but the primal output has shape "
            f"{out_aval.shape}"))
    if type(ct) in (int, float, complex, bool):
        # a Python scalar is weakly typed (as in JAX): it takes the output's dtype
        return np.asarray(ct, dtype=out_aval.dtype)
    if isinstance(ct, np.generic):
        return np.asarray(ct)
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
        ct_leaves = [_check_cotangent(c, o, "vjp_fn") for c, o in zip(ct_leaves, out_primals,
                                                                      strict=True)]
        in_cts = trace.backward(out_slots, ct_leaves, in_slots)
        in_cts = [_owned(instantiate_zeros(c, x), ct_leaves) for c, x in zip(in_cts, leaves,
                                                                             strict=True)]
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
            for x, n in zip(leaves, names, strict=True):
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
                                                for c, x in zip(in_cts, leaves, strict=True)])
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
                zip(t_leaves, names, strict=True)]
    api_util.check_differentiable(p_leaves, names, "jvp")
    for p, t, n in zip(p_leaves, t_leaves, names, strict=True):
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
    for x, size in zip(leaves, sizes, strict=True):
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
            size = math.prod(oshape)
            jac_per_out.append([
                lax.reshape(lax.slice_in_dim(r, start, start + size, axis=0),
                            (*oshape, *get_aval(x).shape)) for r, x in zip(rows, leaves,
                                                                           strict=True)])
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
    for col, o in zip(jac_cols, holder["outs"], strict=True):
        oshape = get_aval(o).shape
        row, start = [], 0
        for x in leaves:
            ishape = get_aval(x).shape
            size = math.prod(ishape)
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
