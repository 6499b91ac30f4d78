"""The small top-level transforms of JAX's surface: ``eval_shape`` with ``ShapeDtypeStruct``,
``device_put``/``block_until_ready`` (the identity: NumPy has one device and no asynchrony),
``linear_transpose``, ``closure_convert`` and ``custom_gradient``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval, short_dtype_name
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.ir import ClosedJaxpr
from funcgrad.core.staging import eval_closed, stage_closure_converted, trace_pytree, trace_to_jaxpr
from funcgrad.core.tracing import Tracer
from funcgrad.transforms import api
from funcgrad.transforms.custom import custom_vjp

__all__ = ["ShapeDtypeStruct", "block_until_ready", "closure_convert", "custom_gradient",
           "device_put", "eval_shape", "linear_transpose", "make_jaxpr"]


# == ShapeDtypeStruct and eval_shape ==========================================================

class ShapeDtypeStruct:
    """A shape and a dtype standing for an array, as ``jax.ShapeDtypeStruct``. Accepted
    where funcgrad traces abstractly: ``eval_shape``, ``make_jaxpr``, ``linear_transpose``,
    ``closure_convert`` and ``pure_callback``'s ``result_shape_dtypes``.

    >>> ShapeDtypeStruct((2, 3), np.float32)
    ShapeDtypeStruct(shape=(2, 3), dtype=float32)
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, *, weak_type: bool = False,
                 sharding: Any = None):
        try:
            self.shape = tuple(int(d) for d in shape)
        except TypeError as e:
            raise FuncgradTypeError(f"ShapeDtypeStruct: shape must be a sequence of ints, "
                                    f"got {shape!r}") from e
        if any(d < 0 for d in self.shape):
            raise FuncgradValueError(f"ShapeDtypeStruct: negative dimension in {self.shape}")
        if dtype is None:
            raise FuncgradTypeError("ShapeDtypeStruct: dtype must be given")
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def aval(self) -> ShapedArray:
        # get_aval reads .aval, so every abstract entry point takes a ShapeDtypeStruct.
        return ShapedArray(self.shape, self.dtype, self.weak_type)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    def str_short(self) -> str:
        return f"{short_dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"


def _abstract(x: Any, what: str) -> ShapedArray:
    if isinstance(x, ShapeDtypeStruct):
        return x.aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(
            x, (np.ndarray, np.generic, Tracer)):
        return ShapedArray(tuple(x.shape), np.dtype(x.dtype))  # e.g. a jax.ShapeDtypeStruct
    try:
        return get_aval(x)
    except TypeError as e:
        raise FuncgradTypeError(at_user_line(
            f"{what}: arguments must be arrays, scalars or ShapeDtypeStructs, got "
            f"{type(x).__name__}")) from e


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes of ``fun(*args, **kwargs)`` as a pytree of ``ShapeDtypeStruct``,
    found by tracing on abstract values (nothing is computed), as ``jax.eval_shape``.

    Args:
      fun: the function.
      *args, **kwargs: pytrees of arrays or ``ShapeDtypeStruct``s.

    >>> import funcgrad.numpy as fnp
    >>> eval_shape(lambda x, y: fnp.dot(x, y), ShapeDtypeStruct((2, 3), np.float32),
    ...            np.ones((3, 4), np.float32))
    ShapeDtypeStruct(shape=(2, 4), dtype=float32)
    """
    leaves, in_tree = pytree.tree_flatten((args, kwargs))
    avals = [_abstract(x, "eval_shape") for x in leaves]
    out_trees: list[pytree.PyTreeDef] = []

    def flat_fun(*flat: Any) -> list[Any]:
        a, kw = pytree.tree_unflatten(in_tree, flat)
        out_leaves, out_tree = pytree.tree_flatten(fun(*a, **kw))
        out_trees.append(out_tree)
        return out_leaves

    closed = trace_to_jaxpr(flat_fun, avals)
    outs = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in closed.out_avals]
    return pytree.tree_unflatten(out_trees[0], outs)


def make_jaxpr(fun: Callable[..., Any], static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable[..., Any]:
    """The traced IR of ``fun`` at the given arguments' shapes and dtypes, as
    ``jax.make_jaxpr``: a :class:`ClosedJaxpr` (print it, or walk ``.eqns``).

    Pytrees in and out are flattened: the jaxpr's ``invars`` are the leaves of the non-static
    arguments, its ``outvars`` the leaves of the result. With ``return_shape=True`` the call
    returns ``(closed_jaxpr, out_shape)``, ``out_shape`` the result's pytree of
    ``ShapeDtypeStruct`` (the jaxpr itself holds no pytree structure).

    >>> closed, shape = make_jaxpr(lambda x: {"y": x * x}, return_shape=True)(np.ones(2))
    >>> print(closed)
    { lambda ; a:f64[2]. let
        b:f64[2] = mul a a
      in (b,) }
    >>> shape
    {'y': ShapeDtypeStruct(shape=(2,), dtype=float64)}
    """
    def make(*args: Any) -> ClosedJaxpr | tuple[ClosedJaxpr, Any]:
        closed, out_tree = trace_pytree(fun, args, static_argnums)
        if not return_shape:
            return closed
        outs = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                for a in closed.out_avals]
        return closed, pytree.tree_unflatten(out_tree, outs)

    return make


# == devices: one, synchronous ================================================================

def device_put(x: Any, device: Any = None, *, src: Any = None, donate: bool = False,
               may_alias: bool | None = None) -> Any:
    """Place a pytree on ``device``, as ``jax.device_put``. funcgrad runs on NumPy's one
    device, so arrays (and tracers) come back as they are and Python scalars and lists become
    arrays; ``device`` and the other arguments are accepted and ignored.

    >>> device_put({"w": [1.0, 2.0]})
    {'w': [array(1.), array(2.)]}
    """
    def put(leaf: Any) -> Any:
        if isinstance(leaf, (np.ndarray, Tracer)):
            return leaf
        try:
            arr = np.asarray(leaf)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype == object:
            raise FuncgradTypeError(at_user_line(
                f"device_put: leaf of type {type(leaf).__name__} is not an array"))
        return arr
    return pytree.tree_map(put, x)


def block_until_ready(x: Any) -> Any:
    """Wait for ``x``'s computation, as ``jax.block_until_ready``: NumPy computes
    synchronously, so this is the identity (a pytree comes back unchanged).

    >>> block_until_ready(np.ones(2))
    array([1., 1.])
    """
    return x


# == linear_transpose =========================================================================

def linear_transpose(fun: Callable[..., Any], *primals: Any, reduce_axes: Sequence[Any] = ()
                     ) -> Callable[[Any], tuple[Any, ...]]:
    """The transpose of the linear function ``fun``, as ``jax.linear_transpose``: for
    ``y = fun(*xs)``, ``linear_transpose(fun, *xs)(ct)`` is the tuple of ``A^T ct`` per
    argument. ``primals`` (arrays or ``ShapeDtypeStruct``s) only give shapes and dtypes.

    ``fun`` must be linear in its arguments: the transpose is its reverse-mode derivative,
    taken at zero (the same at every point for a linear function).

    >>> import funcgrad.numpy as fnp
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> linear_transpose(lambda x: a @ x, np.zeros(2))(np.array([1.0, 0.0]))
    (array([1., 2.]),)
    """
    leaves, in_tree = pytree.tree_flatten(primals)
    avals = [_abstract(x, "linear_transpose") for x in leaves]
    for i, a in enumerate(avals):
        if not np.issubdtype(a.dtype, np.inexact):
            raise FuncgradTypeError(at_user_line(
                f"linear_transpose: primal leaf {i} has dtype {a.dtype}; only floating and "
                f"complex inputs can be transposed"))
    zeros = pytree.tree_unflatten(in_tree, [np.zeros(a.shape, a.dtype) for a in avals])
    out, pullback = api.vjp(fun, *zeros)  # linear: one pullback serves every cotangent
    out_leaves, out_tree = pytree.tree_flatten(out)
    out_avals = [get_aval(o) for o in out_leaves]

    def transposed(ct: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = pytree.tree_flatten(ct)
        if ct_tree != out_tree:
            raise FuncgradValueError(at_user_line(
                f"linear_transpose: the cotangent's structure {ct_tree} does not match the "
                f"output's {out_tree}"))
        for i, (c, o) in enumerate(zip(ct_leaves, out_avals, strict=True)):
            shape = c.aval.shape if isinstance(c, Tracer) else np.shape(c)
            if tuple(shape) != o.shape:
                raise FuncgradValueError(at_user_line(
                    f"linear_transpose: cotangent leaf {i} has shape {tuple(shape)}, the "
                    f"output {o.shape}"))
        return pullback(ct)

    return transposed


# == closure_convert ==========================================================================

def closure_convert(fun: Callable[..., Any], *example_args: Any
                    ) -> tuple[Callable[..., Any], list[Any]]:
    """``(converted, consts)`` with ``converted(*args, *consts) == fun(*args)``, where
    ``consts`` are the traced values ``fun`` closes over (an enclosing transform's tracers),
    as ``jax.closure_convert``: for passing a closure to ``custom_vjp``/``custom_jvp``,
    whose functions must not close over traced values. Concrete constants stay inside.

    >>> import funcgrad as fg
    >>> def outer(w):
    ...     f, consts = closure_convert(lambda x: w * x, np.array(1.0))
    ...     return f(np.array(3.0), *consts), len(consts)
    >>> outer(np.array(2.0))
    (array(6.), 0)
    >>> fg.grad(lambda w: outer(w)[0])(np.array(2.0))
    array(3.)
    """
    leaves, in_tree = pytree.tree_flatten(example_args)
    avals = [_abstract(x, "closure_convert") for x in leaves]
    out_trees: list[pytree.PyTreeDef] = []

    def flat_fun(*flat: Any) -> list[Any]:
        out_leaves, out_tree = pytree.tree_flatten(fun(*pytree.tree_unflatten(in_tree, flat)))
        out_trees.append(out_tree)
        return out_leaves

    closed, hoisted = stage_closure_converted(flat_fun, avals)
    num_consts = len(hoisted)
    num_args = len(example_args)

    def converted(*args_and_consts: Any) -> Any:
        if len(args_and_consts) != num_args + num_consts:
            raise FuncgradTypeError(at_user_line(
                f"closure_convert: the converted function takes {num_args} argument(s) and "
                f"{num_consts} constant(s), got {len(args_and_consts)} values"))
        args, consts = args_and_consts[:num_args], args_and_consts[num_args:]
        flat, tree = pytree.tree_flatten(tuple(args))
        if tree != in_tree:
            raise FuncgradValueError(at_user_line(
                f"closure_convert: arguments of structure {tree}, the example's {in_tree}"))
        return pytree.tree_unflatten(out_trees[0], eval_closed(closed, *consts, *flat))

    converted.__name__ = getattr(fun, "__name__", "converted")
    return converted, list(hoisted)


# == custom_gradient ==========================================================================

def custom_gradient(fun: Callable[..., tuple[Any, Callable[[Any], Any]]]) -> Callable[..., Any]:
    """A function with its own reverse-mode rule, as ``jax.custom_gradient``: ``fun(*args)``
    returns ``(value, vjp)`` with ``vjp(ct)`` the tuple of cotangents, one per argument.

    Built on ``custom_vjp``: the forward pass keeps the arguments, the backward pass calls
    ``fun`` again for its ``vjp`` (so ``vjp`` may close over anything ``fun`` computed).
    Forward mode is refused, as JAX refuses it.

    >>> import funcgrad as fg, funcgrad.numpy as fnp
    >>> @custom_gradient
    ... def f(x):
    ...     return fnp.sin(x), lambda g: (g * 10.0,)
    >>> fg.grad(f)(np.array(0.0))
    array(10.)
    """
    def primal(*args: Any) -> Any:
        return _value_and_vjp(fun, args)[0]

    wrapped = custom_vjp(primal)

    def fwd(*args: Any) -> tuple[Any, Any]:
        return _value_and_vjp(fun, args)[0], args

    def bwd(args: Any, ct: Any) -> tuple[Any, ...]:
        cts = _value_and_vjp(fun, args)[1](ct)
        if not isinstance(cts, (tuple, list)):
            cts = (cts,)  # JAX accepts a bare cotangent for a one-argument function
        # NumPy arithmetic on 0-d arrays gives scalars; cotangents are arrays.
        return tuple(pytree.tree_map(
            lambda c: c if isinstance(c, (Tracer, np.ndarray)) else np.asarray(c), ct_i,
            is_leaf=lambda c: c is None) for ct_i in cts)

    wrapped.defvjp(fwd, bwd)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(wrapped, attr, getattr(fun, attr))
        except (AttributeError, TypeError):
            pass
    return wrapped


def _value_and_vjp(fun: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, Any]:
    out = fun(*args)
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and callable(out[1])):
        raise FuncgradTypeError(at_user_line(
            f"custom_gradient: {getattr(fun, '__name__', 'fun')} must return a pair "
            f"(value, vjp_function), got {type(out).__name__}"))
    return out[0], out[1]
