"""Collectives over a named ``vmap``/``pmap`` axis: ``psum``, ``all_gather``, ``axis_index``
(primitives), and ``pmean``, ``pmax``, ``pmin`` (composites), as ``jax.lax``'s.

Inside ``fg.vmap(f, axis_name="i")`` every example sees the whole batch through them:
``psum(x, "i")`` is the sum of ``x`` over the examples (the same value for each),
``all_gather(x, "i")`` stacks every example's ``x``, ``axis_index("i")`` is the example's
position. The vmap that owns the name applies each one's collective rule (a reduction or a
move of its batch axis: no loop); other vmaps batch them like any primitive, so nested names
and tuples of names work. Outside a vmap of that name they raise JAX's ``NameError``.

Derivatives: ``psum`` and ``all_gather`` are linear. ``psum``'s transpose is ``psum`` (each
example's input reaches every example's output); ``all_gather``'s is the sum over examples of
the cotangent's slice at the example's own index, ``psum(ct)[axis_index]``.

>>> import funcgrad as fg, numpy as np
>>> fg.vmap(lambda x: x / fg.lax.psum(x, "i"), axis_name="i")(np.array([1.0, 3.0]))
array([0.25, 0.75])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError
from funcgrad.core.primitive import Primitive
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis

__all__ = ["all_gather", "axis_index", "pmax", "pmean", "pmin", "psum"]


def _names(axis_name: Any) -> tuple[Any, ...]:
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    if not names or any(n is None for n in names):
        raise FuncgradValueError(f"collectives need an axis name, got {axis_name!r}")
    return names


def _unbound(name: str) -> Any:
    def impl(*args: Any, axis_name: tuple[Any, ...], **params: Any) -> Any:
        raise NameError(f"unbound axis name: {axis_name[0]!r} ({name} must run inside "
                        f"fg.vmap(..., axis_name={axis_name[0]!r}) or fg.pmap)")
    return impl


# == psum ======================================================================================

psum_p = Primitive("psum")
psum_p.def_impl(_unbound("psum"))
psum_p.def_abstract_eval(lambda x, axis_name: x)
codegen.def_impl_call(psum_p)
ad.deflinear(psum_p, lambda ct, x, axis_name: [psum_p.bind(ct, axis_name=axis_name)])
batching.batch_rules[psum_p] = lambda vals, dims, axis_name: (
    psum_p.bind(vals[0], axis_name=axis_name), dims[0])


def _psum_collective(vals: Sequence[Any], dims: Sequence[Any], size: int,
                     axis_name: tuple[Any, ...]) -> tuple[Any, None]:
    from funcgrad.lax import reduce_sum
    x, d = vals[0], dims[0]
    if d is None:       # the same value in every example
        import funcgrad.numpy as fnp
        return fnp.multiply(x, np.asarray(size, get_aval(x).dtype)), None
    return reduce_sum(x, (d,)), None


batching.collective_rules[psum_p] = _psum_collective


def psum(x: Any, axis_name: Any) -> Any:
    """The sum of ``x`` over the examples of the named mapped axis (or axes).

    >>> import funcgrad as fg, numpy as np
    >>> fg.vmap(lambda x: fg.lax.psum(x, "i"), axis_name="i")(np.arange(3.0))
    array([3., 3., 3.])
    """
    import funcgrad.numpy as fnp
    return psum_p.bind(fnp.asarray(x), axis_name=_names(axis_name))


# == all_gather ================================================================================

all_gather_p = Primitive("all_gather")
all_gather_p.def_impl(_unbound("all_gather"))


def _all_gather_abstract_eval(x: ShapedArray, axis_name: tuple[Any, ...], axis: int,
                              axis_size: int) -> ShapedArray:
    if not 0 <= axis <= len(x.shape):
        raise FuncgradValueError(f"all_gather: axis {axis} is out of range for an operand of "
                                 f"shape {x.shape}")
    return ShapedArray((*x.shape[:axis], axis_size, *x.shape[axis:]), x.dtype, x.weak_type)


all_gather_p.def_abstract_eval(_all_gather_abstract_eval)
codegen.def_impl_call(all_gather_p)


def _all_gather_transpose(ct: Any, x: Any, *, axis_name: tuple[Any, ...], axis: int,
                          axis_size: int) -> list[Any]:
    from funcgrad.lax.composites import dynamic_index_in_dim
    total = psum_p.bind(ct, axis_name=axis_name)
    return [dynamic_index_in_dim(total, axis_index(axis_name), axis, keepdims=False)]


ad.deflinear(all_gather_p, _all_gather_transpose)


def _all_gather_batch(vals: Sequence[Any], dims: Sequence[Any], axis_name: tuple[Any, ...],
                      axis: int, axis_size: int) -> tuple[Any, int]:
    x = moveaxis(vals[0], dims[0], 0)
    return all_gather_p.bind(x, axis_name=axis_name, axis=axis + 1, axis_size=axis_size), 0


batching.batch_rules[all_gather_p] = _all_gather_batch


def _all_gather_collective(vals: Sequence[Any], dims: Sequence[Any], size: int,
                           axis_name: tuple[Any, ...], axis: int, axis_size: int
                           ) -> tuple[Any, None]:
    from funcgrad.lax import broadcast_in_dim
    x, d = vals[0], dims[0]
    if d is None:
        shape = tuple(get_aval(x).shape)
        out_shape = (*shape[:axis], size, *shape[axis:])
        keep = tuple(i for i in range(len(out_shape)) if i != axis)
        return broadcast_in_dim(x, out_shape, keep), None
    return moveaxis(x, d, axis), None


batching.collective_rules[all_gather_p] = _all_gather_collective


def all_gather(x: Any, axis_name: Any, *, axis: int = 0, tiled: bool = False,
               axis_size: int | None = None) -> Any:
    """Every example's ``x``, stacked along a new ``axis`` (concatenated along it when
    ``tiled``), over the named mapped axis.

    >>> import funcgrad as fg, numpy as np
    >>> fg.vmap(lambda x: fg.lax.all_gather(x, "i"), axis_name="i")(np.arange(2.0))
    array([[0., 1.],
           [0., 1.]])
    """
    import funcgrad.numpy as fnp
    names = _names(axis_name)
    if len(names) != 1:
        raise FuncgradTypeError("all_gather: gathering over several axis names at once is not "
                                "supported; nest two all_gather calls")
    x = fnp.asarray(x)
    size = _axis_size(names[0]) if axis_size is None else int(axis_size)
    axis = axis % (fnp.ndim(x) + 1)
    out = all_gather_p.bind(x, axis_name=names, axis=axis, axis_size=size)
    if tiled:
        shape = tuple(fnp.shape(out))
        out = fnp.reshape(out, (*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2:])
                          ) if fnp.ndim(x) else out
    return out


# == axis_index ===============================================================================

axis_index_p = Primitive("axis_index")
axis_index_p.def_impl(_unbound("axis_index"))
axis_index_p.def_abstract_eval(lambda axis_name: ShapedArray((), np.dtype(np.int32)))
codegen.def_impl_call(axis_index_p)
ad.defnondiff(axis_index_p)
batching.batch_rules[axis_index_p] = lambda vals, dims, axis_name: (
    axis_index_p.bind(axis_name=axis_name), None)


def _axis_index_collective(vals: Sequence[Any], dims: Sequence[Any], size: int,
                           axis_name: tuple[Any, ...]) -> tuple[Any, int]:
    from funcgrad.lax import iota
    return iota(np.int32, size), 0


batching.collective_rules[axis_index_p] = _axis_index_collective


def axis_index(axis_name: Any) -> Any:
    """The position of this example along the named mapped axis (int32).

    >>> import funcgrad as fg, numpy as np
    >>> fg.vmap(lambda x: x * fg.lax.axis_index("i"), axis_name="i")(np.ones(3))
    array([0., 1., 2.])
    """
    names = _names(axis_name)
    if len(names) != 1:
        raise FuncgradTypeError("axis_index takes one axis name")
    return axis_index_p.bind(axis_name=names)


def _axis_size(name: Any) -> int:
    """The size of the vmap named ``name`` that encloses the current call."""
    from funcgrad.core.tracing import current_trace
    trace: Any = current_trace()
    while trace is not None:
        if isinstance(trace, batching.BatchTrace) and trace.axis_name == name:
            return int(trace.axis_size)
        parent = getattr(trace, "parent", None)
        trace = None if parent is trace else parent
    raise NameError(f"unbound axis name: {name!r}")


# == composites ===============================================================================

def pmean(x: Any, axis_name: Any) -> Any:
    """The mean of ``x`` over the named mapped axis: ``psum(x) / psum(1)``."""
    import funcgrad.numpy as fnp
    x = fnp.asarray(x)
    return psum(x, axis_name) / psum(np.ones((), get_aval(x).dtype
                                             if get_aval(x).dtype.kind in "fc" else None),
                                     axis_name)


def pmax(x: Any, axis_name: Any) -> Any:
    """The maximum of ``x`` over the named mapped axis (its gradient goes to the examples
    holding the maximum, as ``fnp.max``'s)."""
    import funcgrad.numpy as fnp
    out = fnp.asarray(x)
    for name in _names(axis_name):
        out = fnp.max(all_gather(out, name), axis=0)
    return out


def pmin(x: Any, axis_name: Any) -> Any:
    """The minimum of ``x`` over the named mapped axis."""
    import funcgrad.numpy as fnp
    out = fnp.asarray(x)
    for name in _names(axis_name):
        out = fnp.min(all_gather(out, name), axis=0)
    return out
