"""``pure_callback``: call back into Python (NumPy) from a traced program, as
``jax.pure_callback``.

One primitive, ``pure_callback``, whose params hold the callback and the declared result
types. Eagerly its impl calls the callback at once and checks the result against the
declaration; under ``make_jaxpr``/``jit`` it is an equation (pure: dead-code elimination may
drop it) whose generated code calls the impl. Derivatives are refused, as JAX refuses them
(wrap the callback in ``custom_jvp``/``custom_vjp``). ``vmap`` follows ``vmap_method``:
``"sequential"`` calls once per example, ``"expand_dims"`` once with unbatched arguments
given a leading axis of 1, ``"broadcast_all"`` once with every argument broadcast to the
batch; the callback must then return results with the leading batch axis.

>>> import funcgrad as fg, numpy as np
>>> f = lambda x: fg.pure_callback(np.sin, fg.ShapeDtypeStruct(x.shape, x.dtype), x,
...                                vmap_method="sequential")
>>> fg.jit(fg.vmap(f))(np.zeros((2, 3)))
array([[0., 0., 0.],
       [0., 0., 0.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.primitive import Primitive
from funcgrad.core.tracing import Tracer
from funcgrad.transforms import ad, batching, codegen

__all__ = ["pure_callback", "pure_callback_p"]

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all")


class _PureCallback:
    """The user's function with its argument and result structures: a param hashed by
    identity."""

    __slots__ = ("fn", "in_tree", "out_tree")

    def __init__(self, fn: Callable[..., Any], in_tree: pytree.PyTreeDef,
                 out_tree: pytree.PyTreeDef):
        self.fn, self.in_tree, self.out_tree = fn, in_tree, out_tree

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", "callback")


pure_callback_p = Primitive("pure_callback", multiple_results=True)


def _pure_callback_impl(*args: Any, callback: _PureCallback,
                        result_avals: tuple[ShapedArray, ...], vmap_method: str | None
                        ) -> list[np.ndarray]:
    a, kw = pytree.tree_unflatten(callback.in_tree, [np.asarray(x) for x in args])
    out = callback.fn(*a, **kw)
    leaves, tree = pytree.tree_flatten(out)
    if tree != callback.out_tree:
        raise FuncgradValueError(
            f"pure_callback: {callback!r} returned a result of structure {tree}, but "
            f"result_shape_dtypes has structure {callback.out_tree}")
    results = []
    for i, (r, aval) in enumerate(zip(leaves, result_avals, strict=True)):
        r = np.asarray(r)
        if r.shape != aval.shape:
            raise FuncgradValueError(
                f"pure_callback: incorrect output shape for return value #{i}: expected "
                f"{aval.shape}, got {r.shape}")
        if r.dtype != aval.dtype:
            raise FuncgradTypeError(
                f"pure_callback: incorrect output dtype for return value #{i}: expected "
                f"{aval.dtype}, got {r.dtype}")
        results.append(r)
    return results


pure_callback_p.def_impl(_pure_callback_impl)
pure_callback_p.def_abstract_eval(lambda *avals, result_avals, **_: list(result_avals))

_NO_DERIVATIVE = ("Pure callbacks do not support {}. Please use `fg.custom_jvp` or "
                  "`fg.custom_vjp` to use callbacks while taking gradients.")


def _pure_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> Any:
    raise FuncgradValueError(at_user_line(_NO_DERIVATIVE.format("JVP")))


def _pure_callback_vjp(cts: Any, ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                       **params: Any) -> Any:
    raise FuncgradValueError(at_user_line(_NO_DERIVATIVE.format("VJP")))


def _lax() -> Any:
    from funcgrad.lax import structural
    return structural


def _pure_callback_batch(args: Sequence[Any], dims: Sequence[Any], *,
                         callback: _PureCallback, result_avals: tuple[ShapedArray, ...],
                         vmap_method: str | None) -> tuple[list[Any], list[int]]:
    lax = _lax()
    size = batching.batch_size(args, dims)
    if vmap_method in ("sequential", "sequential_unrolled"):
        # One call per example, in order; the results stacked along a new leading axis.
        per_example = [pure_callback_p.bind(
            *(x if d is None else lax.squeeze(lax.slice_in_dim(x, i, i + 1, axis=d), (d,))
              for x, d in zip(args, dims, strict=True)),
            callback=callback, result_avals=result_avals, vmap_method=vmap_method)
            for i in range(size)]
        outs = [lax.concatenate([lax.expand_dims(r[k], (0,)) for r in per_example], 0)
                if size else _empty_batch(a)
                for k, a in enumerate(result_avals)]
        return outs, [0] * len(outs)
    if vmap_method in ("expand_dims", "broadcast_all"):
        new_args = []
        for x, d in zip(args, dims, strict=True):
            if d is not None:
                new_args.append(batching.moveaxis(x, d, 0))
            elif vmap_method == "expand_dims":
                new_args.append(lax.expand_dims(x, (0,)))
            else:
                new_args.append(batching.bdim_at_front(x, None, size))
        batched_avals = tuple(a.update(shape=(size, *a.shape)) for a in result_avals)
        outs = pure_callback_p.bind(*new_args, callback=callback, result_avals=batched_avals,
                                    vmap_method=vmap_method)
        return list(outs), [0] * len(outs)
    raise NotImplementedError(
        f"vmap of pure_callback needs vmap_method= one of {', '.join(map(repr, VMAP_METHODS))}"
        f"; got vmap_method={vmap_method!r}")


def _empty_batch(aval: ShapedArray) -> np.ndarray:
    return np.zeros((0, *aval.shape), aval.dtype)


ad.jvp_rules[pure_callback_p] = _pure_callback_jvp
ad.vjp_rules[pure_callback_p] = _pure_callback_vjp
batching.batch_rules[pure_callback_p] = _pure_callback_batch
codegen.def_impl_call(pure_callback_p)


def _result_aval(x: Any, i: int) -> ShapedArray:
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return ShapedArray(tuple(int(d) for d in x.shape), np.dtype(x.dtype))
    raise FuncgradTypeError(at_user_line(
        f"pure_callback: result_shape_dtypes leaf {i} must be a ShapeDtypeStruct (or have "
        f".shape and .dtype), got {type(x).__name__}"))


def _operand(x: Any) -> Any:
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (np.ndarray, np.generic, bool, int, float, complex)):
        return np.asarray(x)
    raise FuncgradTypeError(at_user_line(
        f"pure_callback: arguments must be pytrees of arrays, got {type(x).__name__}; pass "
        f"other values through the callback's closure"))


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None,
                  **kwargs: Any) -> Any:
    """Call the pure Python function ``callback(*args, **kwargs)`` on NumPy arrays from
    inside any transform, as ``jax.pure_callback``.

    Args:
      callback: a side-effect-free function of NumPy arrays returning arrays of exactly the
        shapes and dtypes ``result_shape_dtypes`` declares.
      result_shape_dtypes: a pytree of ``ShapeDtypeStruct`` (anything with ``.shape`` and
        ``.dtype``), the result's structure.
      *args, **kwargs: pytrees of arrays passed to ``callback``.
      sharding: accepted and ignored (one device).
      vmap_method: ``"sequential"``, ``"sequential_unrolled"``, ``"expand_dims"`` or
        ``"broadcast_all"`` (see the module docstring); ``None`` refuses ``vmap``.

    Returns:
      The callback's result, a pytree like ``result_shape_dtypes``.

    >>> import funcgrad as fg, numpy as np
    >>> fg.pure_callback(lambda x: x * 2, fg.ShapeDtypeStruct((2,), np.float64), np.ones(2))
    array([2., 2.])
    """
    if vmap_method is not None and vmap_method not in VMAP_METHODS:
        raise FuncgradValueError(at_user_line(
            f"pure_callback: vmap_method must be one of {', '.join(map(repr, VMAP_METHODS))} "
            f"or None, got {vmap_method!r}"))
    if not callable(callback):
        raise FuncgradTypeError(at_user_line(
            f"pure_callback: callback must be callable, got {type(callback).__name__}"))
    res_leaves, out_tree = pytree.tree_flatten(result_shape_dtypes)
    result_avals = tuple(_result_aval(x, i) for i, x in enumerate(res_leaves))
    leaves, in_tree = pytree.tree_flatten((args, kwargs))
    outs = pure_callback_p.bind(*(_operand(x) for x in leaves),
                                callback=_PureCallback(callback, in_tree, out_tree),
                                result_avals=result_avals, vmap_method=vmap_method)
    return pytree.tree_unflatten(out_tree, outs)

