"""``fg.lax`` functions that are composites of existing primitives (no rules of their own):
dynamic slicing (``gather``/``scatter`` with clamped traced starts), ``rsqrt``, ``cbrt``,
``clamp``, ``select_n``, the cumulative reductions ``cumprod``/``cummax``/``cummin``/
``cumlogsumexp`` (as JAX on CPU: an ``associative_scan``), ``reduce`` of a recognised monoid,
``associative_scan`` itself, and the ``Precision`` enum.

Their derivatives, batching and staging are those of the primitives they are built from, so
the op-spec table checks them like any primitive.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.ir import Var
from funcgrad.core.staging import trace_to_jaxpr
from funcgrad.core.tracing import Tracer
from funcgrad.lax import elementwise as ew
from funcgrad.lax import reductions as red
from funcgrad.lax import structural as st
from funcgrad.lax.indexing import gather, scatter

__all__ = [
    "Precision", "associative_scan", "cbrt", "clamp", "cumlogsumexp", "cummax", "cummin",
    "cumprod", "dynamic_index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
    "dynamic_update_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
    "index_in_dim", "reduce", "rsqrt", "select_n",
]


def _asarray(x: Any) -> Any:
    return x if isinstance(x, Tracer) else np.asarray(x)


# == Precision ================================================================================

class Precision(enum.Enum):
    """Matmul/convolution precision, as ``jax.lax.Precision``. NumPy computes in the operands'
    own dtype, so funcgrad accepts every value (and JAX's strings: ``"highest"``,
    ``"float32"``, ...) and ignores it.

    >>> Precision("highest"), str(Precision.DEFAULT)
    (<Precision.HIGHEST: 2>, 'DEFAULT')
    """

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> Precision | None:
        names = {"default": cls.DEFAULT, "bfloat16": cls.DEFAULT, "fastest": cls.DEFAULT,
                 "high": cls.HIGH, "bfloat16_3x": cls.HIGH, "tensorfloat32": cls.HIGH,
                 "highest": cls.HIGHEST, "float32": cls.HIGHEST}
        return names.get(value.lower()) if isinstance(value, str) else None

    def __str__(self) -> str:
        return self.name


# == dynamic slicing ==========================================================================

def _split_starts(start_indices: Any, ndim: int, what: str) -> list[Any]:
    if isinstance(start_indices, (Tracer, np.ndarray)):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise FuncgradValueError(at_user_line(
                f"{what}: start_indices must be a sequence of scalars or a 1-d array, got "
                f"shape {aval.shape}"))
        starts = [st.squeeze(st.slice_in_dim(start_indices, i, i + 1), (0,))
                  for i in range(aval.shape[0])] if isinstance(start_indices, Tracer) \
            else list(start_indices)
    else:
        starts = list(start_indices)
    if len(starts) != ndim:
        raise FuncgradValueError(at_user_line(
            f"{what}: {len(starts)} start indices for an operand of rank {ndim}"))
    return starts


def _clamped_start(i: Any, dim: int, size: int, allow_negative: bool, what: str) -> Any:
    """A start index as JAX clamps it: negative counts from the end (when allowed), then into
    ``[0, dim - size]``; a Python int when concrete, a traced int64 scalar otherwise."""
    if not isinstance(i, Tracer):
        a = np.asarray(i)
        if a.ndim != 0 or a.dtype.kind not in "iu":
            raise FuncgradTypeError(at_user_line(
                f"{what}: start indices must be integer scalars, got {a.dtype} of shape "
                f"{a.shape}"))
        v = int(a)
        if v < 0:
            if not allow_negative:
                raise FuncgradValueError(at_user_line(
                    f"{what}: index {v} is out of bounds for dimension {dim} with "
                    f"allow_negative_indices=False"))
            v += dim
        return builtins.min(builtins.max(v, 0), dim - size)
    aval = get_aval(i)
    if aval.ndim != 0 or aval.dtype.kind not in "iu":
        raise FuncgradTypeError(at_user_line(
            f"{what}: start indices must be integer scalars, got {aval.str_short()}"))
    i = ew.convert_element_type(i, np.int64)
    if allow_negative:
        i = ew.select(ew.lt(i, 0), ew.add(i, dim), i)
    return ew.min(ew.max(i, 0), dim - size)


def _index_arrays(starts: Sequence[Any], sizes: Sequence[int]) -> list[Any]:
    """``starts[d] + arange(sizes[d])`` along axis ``d``, broadcast to ``sizes``."""
    shape = tuple(sizes)
    out = []
    for d, s in enumerate(starts):
        ramp = st.broadcasted_iota(np.int64, shape, d)
        out.append(ew.add(ramp, st.broadcast_in_dim(_asarray(s), shape, ())
                          if isinstance(s, Tracer) else np.full(shape, s, np.int64)))
    return out


def _negatives(allow: bool | Sequence[bool], n: int) -> list[bool]:
    return [bool(allow)] * n if isinstance(allow, (bool, np.bool_)) else [bool(a) for a in allow]


def dynamic_slice(operand: Any, start_indices: Any, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """``operand[s0:s0+n0, s1:s1+n1, ...]`` with possibly traced starts, as
    ``jax.lax.dynamic_slice``: a negative start counts from the end, and starts are clamped
    so the slice stays in bounds.

    >>> import numpy as np
    >>> dynamic_slice(np.arange(10), (8,), (3,))
    array([7, 8, 9])
    """
    x = _asarray(operand)
    shape = get_aval(x).shape
    sizes = tuple(int(n) for n in slice_sizes)
    if len(sizes) != len(shape) or any(n < 0 or n > d for n, d in zip(sizes, shape, strict=True)):
        raise FuncgradValueError(at_user_line(
            f"dynamic_slice: slice_sizes {sizes} do not fit the operand of shape {shape}"))
    starts = _split_starts(start_indices, len(shape), "dynamic_slice")
    neg = _negatives(allow_negative_indices, len(shape))
    starts = [_clamped_start(s, d, n, a, "dynamic_slice")
              for s, d, n, a in zip(starts, shape, sizes, neg, strict=True)]
    if not any(isinstance(s, Tracer) for s in starts):
        return st.slice(x, starts, [s + n for s, n in zip(starts, sizes, strict=True)])
    if not shape:
        return x
    return gather(x, *_index_arrays(starts, sizes))


def dynamic_update_slice(operand: Any, update: Any, start_indices: Any, *,
                         allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """``operand`` with the block at ``start_indices`` replaced by ``update``, starts clamped
    as in ``dynamic_slice``, as ``jax.lax.dynamic_update_slice``.

    >>> import numpy as np
    >>> dynamic_update_slice(np.zeros(5), np.ones(2), (4,))
    array([0., 0., 0., 1., 1.])
    """
    x, u = _asarray(operand), _asarray(update)
    xa, ua = get_aval(x), get_aval(u)
    if ua.ndim != xa.ndim or any(n > d for n, d in zip(ua.shape, xa.shape, strict=True)):
        raise FuncgradValueError(at_user_line(
            f"dynamic_update_slice: update of shape {ua.shape} does not fit the operand of "
            f"shape {xa.shape}"))
    if ua.dtype != xa.dtype:
        raise FuncgradTypeError(at_user_line(
            f"dynamic_update_slice: update dtype {ua.dtype} differs from the operand's "
            f"{xa.dtype}"))
    starts = _split_starts(start_indices, xa.ndim, "dynamic_update_slice")
    neg = _negatives(allow_negative_indices, xa.ndim)
    starts = [_clamped_start(s, d, n, a, "dynamic_update_slice")
              for s, d, n, a in zip(starts, xa.shape, ua.shape, neg, strict=True)]
    if not xa.shape:
        return u
    return scatter(x, u, *_index_arrays(starts, ua.shape))


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True) -> Any:
    """``dynamic_slice`` along one axis, as ``jax.lax.dynamic_slice_in_dim``."""
    shape = get_aval(_asarray(operand)).shape
    axis = _axis(axis, len(shape), "dynamic_slice_in_dim")
    starts: list[Any] = [0] * len(shape)
    sizes = list(shape)
    starts[axis], sizes[axis] = start_index, int(slice_size)
    neg = [False] * len(shape)
    neg[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=neg)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True) -> Any:
    """The slice at (possibly traced) ``index`` along ``axis``, as
    ``jax.lax.dynamic_index_in_dim``.

    >>> import numpy as np
    >>> dynamic_index_in_dim(np.arange(6).reshape(2, 3), -1, axis=1, keepdims=False)
    array([2, 5])
    """
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    ndim = get_aval(out).ndim
    return out if keepdims else st.squeeze(out, (_axis(axis, ndim, "dynamic_index_in_dim"),))


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """``dynamic_update_slice`` along one axis, as ``jax.lax.dynamic_update_slice_in_dim``."""
    ndim = get_aval(_asarray(operand)).ndim
    axis = _axis(axis, ndim, "dynamic_update_slice_in_dim")
    starts: list[Any] = [0] * ndim
    starts[axis] = start_index
    neg = [False] * ndim
    neg[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=neg)


def dynamic_update_index_in_dim(operand: Any, update: Any, index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """Replace the slice at ``index`` along ``axis`` (``update`` with or without that axis),
    as ``jax.lax.dynamic_update_index_in_dim``."""
    x, u = _asarray(operand), _asarray(update)
    ndim = get_aval(x).ndim
    axis = _axis(axis, ndim, "dynamic_update_index_in_dim")
    if get_aval(u).ndim == ndim - 1:
        u = st.expand_dims(u, (axis,))
    return dynamic_update_slice_in_dim(x, u, index, axis,
                                       allow_negative_indices=allow_negative_indices)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True) -> Any:
    """The slice at static ``index`` (negative counts from the end) along ``axis``, as
    ``jax.lax.index_in_dim``."""
    x = _asarray(operand)
    shape = get_aval(x).shape
    axis = _axis(axis, len(shape), "index_in_dim")
    i = int(index)
    if not -shape[axis] <= i < shape[axis]:
        raise FuncgradValueError(at_user_line(
            f"index_in_dim: index {i} is out of bounds for axis {axis} of size {shape[axis]}"))
    i %= shape[axis]
    out = st.slice_in_dim(x, i, i + 1, axis=axis)
    return out if keepdims else st.squeeze(out, (axis,))


def _axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise FuncgradValueError(at_user_line(
            f"{what}: axis {axis} is out of bounds for rank {ndim}"))
    return axis % builtins.max(ndim, 1)


# == elementwise composites ===================================================================

def _float_operand(x: Any, what: str) -> Any:
    x = _asarray(x)
    if get_aval(x).dtype.kind not in "fc":
        raise FuncgradTypeError(at_user_line(
            f"{what}: needs a floating operand, got {get_aval(x).dtype}"))
    return x


def rsqrt(x: Any) -> Any:
    """``1 / sqrt(x)``, as ``jax.lax.rsqrt``.

    >>> import numpy as np
    >>> rsqrt(np.array([4.0, 0.25]))
    array([0.5, 2. ])
    """
    x = _float_operand(x, "rsqrt")
    return ew.div(ew.full_like(x, 1), ew.sqrt(x))


def cbrt(x: Any) -> Any:
    """The real cube root (negative for negative ``x``), as ``jax.lax.cbrt``.

    >>> import numpy as np
    >>> cbrt(np.array([-8.0, 27.0]))
    array([-2.,  3.])
    """
    x = _float_operand(x, "cbrt")
    return ew.mul(ew.sign(x), ew.pow(ew.abs(x), ew.full_like(x, 1.0 / 3.0)))


def _like(v: Any, x: Any, what: str, name: str) -> Any:
    v = _asarray(v)
    va, xa = get_aval(v), get_aval(x)
    if va.shape == xa.shape:
        return ew.convert_element_type(v, xa.dtype)
    if va.ndim == 0:
        return st.broadcast_in_dim(ew.convert_element_type(v, xa.dtype), xa.shape, ())
    raise FuncgradValueError(at_user_line(
        f"{what}: {name} must be a scalar or have the operand's shape {xa.shape}, got "
        f"{va.shape}"))


def clamp(min: Any, x: Any, max: Any) -> Any:  # noqa: A002 (JAX's names)
    """``x`` limited to ``[min, max]`` (scalars or arrays of ``x``'s shape), as
    ``jax.lax.clamp``.

    >>> import numpy as np
    >>> clamp(0.0, np.array([-1.0, 0.5, 3.0]), 1.0)
    array([0. , 0.5, 1. ])
    """
    x = _asarray(x)
    lo, hi = _like(min, x, "clamp", "min"), _like(max, x, "clamp", "max")
    return ew.min(ew.max(x, lo), hi)


def select_n(which: Any, *cases: Any) -> Any:
    """``cases[which]`` elementwise, as ``jax.lax.select_n``: a boolean ``which`` picks
    ``cases[1]`` where true; an integer ``which`` indexes the cases. ``which`` is a scalar or
    has the cases' shape.

    >>> import numpy as np
    >>> select_n(np.array([0, 2, 1]), np.zeros(3), np.ones(3), np.full(3, 2.0))
    array([0., 2., 1.])
    """
    if not cases:
        raise FuncgradValueError(at_user_line("select_n: needs at least one case"))
    cs = [_asarray(c) for c in cases]
    first = get_aval(cs[0])
    for i, c in enumerate(cs[1:], 1):
        a = get_aval(c)
        if a.shape != first.shape or a.dtype != first.dtype:
            raise FuncgradTypeError(at_user_line(
                f"select_n: case {i} is {a.str_short()}, case 0 {first.str_short()}; all "
                f"cases must have one shape and dtype"))
    w = _asarray(which)
    wa = get_aval(w)
    if wa.dtype.kind not in "biu":
        raise FuncgradTypeError(at_user_line(
            f"select_n: which must be boolean or integer, got {wa.dtype}"))
    if wa.shape != first.shape:
        if wa.ndim != 0:
            raise FuncgradValueError(at_user_line(
                f"select_n: which has shape {wa.shape}; it must be a scalar or the cases' "
                f"shape {first.shape}"))
        w = st.broadcast_in_dim(w, first.shape, ())
    if len(cs) == 1:
        return cs[0]
    if wa.dtype.kind == "b":
        if len(cs) > 2:
            raise FuncgradValueError(at_user_line(
                f"select_n: a boolean which selects between 2 cases, got {len(cs)}"))
        return ew.select(w, cs[1], cs[0])
    out = cs[0]
    for i, c in enumerate(cs[1:], 1):
        out = ew.select(ew.eq(w, ew.full_like(w, i)), c, out)
    return out


# == associative_scan and the cumulative reductions ===========================================

def _interleave(a: Any, b: Any, axis: int) -> Any:
    # a at even positions, b at odd: each padded with interior holes, then summed.
    na, nb = get_aval(a).shape[axis], get_aval(b).shape[axis]
    ndim = get_aval(a).ndim
    a_pad = [(0, 0, 0)] * ndim
    b_pad = [(0, 0, 0)] * ndim
    a_pad[axis] = (0, 1 if na == nb else 0, 1)
    b_pad[axis] = (1, 0 if na == nb else 1, 1)
    op = ew.bitwise_or if get_aval(a).dtype == np.bool_ else ew.add
    zero_a = False if get_aval(a).dtype == np.bool_ else 0
    zero_b = False if get_aval(b).dtype == np.bool_ else 0
    return op(st.pad(a, zero_a, a_pad), st.pad(b, zero_b, b_pad))


def _slice_axis(x: Any, start: int, limit: int | None, stride: int, axis: int) -> Any:
    n = get_aval(x).shape[axis]
    return st.slice_in_dim(x, start, n if limit is None else (limit % n if limit < 0 else
                                                              limit), stride, axis)


def associative_scan(fn: Callable[[Any, Any], Any], elems: Any, reverse: bool = False,
                     axis: int = 0) -> Any:
    """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` of an associative ``fn``
    along ``axis``, as ``jax.lax.associative_scan``: the odd-even (Blelloch-style)
    recursion, ``O(log n)`` rounds of vectorised ``fn`` calls. ``elems`` is a pytree whose
    leaves share the axis length; ``fn`` maps pairs of such pytrees (of any equal batch
    shape) to one.

    >>> import numpy as np
    >>> associative_scan(lambda a, b: a + b, np.arange(1.0, 6.0))
    array([ 1.,  3.,  6., 10., 15.])
    """
    leaves, tree = pytree.tree_flatten(elems)
    if not leaves:
        return elems
    leaves = [_asarray(x) for x in leaves]
    ndim = get_aval(leaves[0]).ndim
    if ndim == 0:
        raise FuncgradValueError(at_user_line("associative_scan: elems must have an axis to "
                                              "scan over, got scalars"))
    axis = _axis(axis, ndim, "associative_scan")
    lengths = {get_aval(x).shape[axis] if get_aval(x).ndim > axis else -1 for x in leaves}
    if len(lengths) != 1:
        raise FuncgradValueError(at_user_line(
            f"associative_scan: leaves of elems have different lengths along axis {axis}: "
            f"{sorted(lengths)}"))
    if reverse:
        leaves = [st.rev(x, (axis,)) for x in leaves]

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        c = fn(pytree.tree_unflatten(tree, a), pytree.tree_unflatten(tree, b))
        c_leaves, c_tree = pytree.tree_flatten(c)
        if c_tree != tree:
            raise FuncgradTypeError(at_user_line(
                f"associative_scan: fn returned structure {c_tree}, elems have {tree}"))
        return [_asarray(x) for x in c_leaves]

    def scan(xs: list[Any]) -> list[Any]:
        n = get_aval(xs[0]).shape[axis]
        if n < 2:
            return xs
        reduced = combine([_slice_axis(x, 0, n - 1, 2, axis) for x in xs],
                          [_slice_axis(x, 1, None, 2, axis) for x in xs])
        odd = scan(reduced)
        if n % 2 == 0:
            even = combine([_slice_axis(e, 0, get_aval(e).shape[axis] - 1, 1, axis)
                            for e in odd],
                           [_slice_axis(x, 2, None, 2, axis) for x in xs])
        else:
            even = combine(odd, [_slice_axis(x, 2, None, 2, axis) for x in xs])
        even = [st.concatenate([_slice_axis(x, 0, 1, 1, axis), r], axis)
                for x, r in zip(xs, even, strict=True)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd, strict=True)]

    out = scan(leaves)
    if reverse:
        out = [st.rev(x, (axis,)) for x in out]
    return pytree.tree_unflatten(tree, out)


def _cumulative(name: str, op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def cum(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
        x = _asarray(operand)
        if get_aval(x).ndim == 0:
            raise FuncgradValueError(at_user_line(f"{name}: operand must have an axis"))
        return associative_scan(op, x, reverse=reverse, axis=axis)
    cum.__name__ = cum.__qualname__ = name
    return cum


def _logaddexp(a: Any, b: Any) -> Any:
    # max + log1p(exp(-|a - b|)); where a - b is NaN (both -inf, or a NaN) the max stands.
    amax = ew.max(a, b)
    delta = ew.sub(a, b)
    safe = ew.select(ew.ne(delta, delta), ew.full_like(delta, 0), delta)
    return ew.select(ew.ne(delta, delta), amax,
                     ew.add(amax, ew.log1p(ew.exp(ew.neg(ew.abs(safe))))))


cumprod = _cumulative("cumprod", ew.mul)
cummax = _cumulative("cummax", ew.max)
cummin = _cumulative("cummin", ew.min)
cumlogsumexp = _cumulative("cumlogsumexp", _logaddexp)
cumprod.__doc__ = """Cumulative product along ``axis`` (``reverse=`` from the end), as
    ``jax.lax.cumprod``.

    >>> import numpy as np
    >>> cumprod(np.array([1.0, 2.0, 3.0]), reverse=True)
    array([6., 6., 3.])
    """
cummax.__doc__ = "Cumulative maximum along ``axis``, as ``jax.lax.cummax``."
cummin.__doc__ = "Cumulative minimum along ``axis``, as ``jax.lax.cummin``."
cumlogsumexp.__doc__ = "Cumulative ``log(sum(exp))`` along ``axis``, as ``jax.lax.cumlogsumexp``."


# == reduce ===================================================================================

_MONOIDS: dict[str, tuple[Callable[..., Any], Callable[[Any, Any], Any]]] = {
    "add": (red.reduce_sum, ew.add),
    "mul": (red.reduce_prod, ew.mul),
    "max": (red.reduce_max, ew.max),
    "min": (red.reduce_min, ew.min),
    "and": (red.reduce_min, ew.bitwise_and),  # boolean only (checked below)
    "or": (red.reduce_max, ew.bitwise_or),
}


def _identity(name: str, dtype: np.dtype) -> Any:
    if name == "add":
        return 0
    if name == "mul":
        return 1
    if name in ("and", "or"):
        return name == "and"
    info: Any = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    if name == "max":
        return -np.inf if dtype.kind == "f" else info.min
    return np.inf if dtype.kind == "f" else info.max


def _monoids(computation: Callable[[Any, Any], Any], avals: list[ShapedArray],
             tree: pytree.PyTreeDef) -> list[str]:
    """The monoid each output leaf of ``computation`` is, found by tracing it on scalars."""
    n = len(avals)

    def flat(*xs: Any) -> list[Any]:
        out = computation(pytree.tree_unflatten(tree, xs[:n]), pytree.tree_unflatten(tree, xs[n:]))
        out_leaves, out_tree = pytree.tree_flatten(out)
        if out_tree != tree:
            raise FuncgradTypeError(at_user_line(
                f"reduce: computation returned structure {out_tree}, the operands have {tree}"))
        return out_leaves

    closed = trace_to_jaxpr(flat, avals + avals)
    jaxpr = closed.jaxpr
    producers = {o: e for e in jaxpr.eqns for o in e.outvars}
    names = []
    for i, out in enumerate(jaxpr.outvars):
        eqn = producers.get(out) if isinstance(out, Var) else None
        a, b = jaxpr.invars[i], jaxpr.invars[n + i]
        name = None if eqn is None else eqn.primitive.name
        if (eqn is None or name not in _MONOIDS or set(eqn.invars) != {a, b}
                or len(eqn.invars) != 2 or len(jaxpr.eqns) != n
                or (name in ("and", "or") and avals[i].dtype != np.bool_)):
            raise FuncgradTypeError(at_user_line(
                "reduce: computation is not a recognised monoid (add, mul, max, min, and of "
                "booleans, or of booleans, applied leafwise); general reducers are not "
                "supported: use lax.scan, lax.associative_scan or an explicit reduction"))
        names.append(str(name))
    return names


def reduce(operands: Any, init_values: Any, computation: Callable[[Any, Any], Any],
           dimensions: Sequence[int]) -> Any:
    """Reduce ``operands`` (a pytree of arrays of one shape) over ``dimensions`` with the
    monoid ``computation``, starting from ``init_values``, as ``jax.lax.reduce``.

    ``computation`` must be (leafwise) ``add``, ``mul``, ``max`` or ``min`` (``and``/``or``
    of booleans): funcgrad recognises it by tracing and reduces with its primitive. An
    ``init_value`` that is not the monoid's identity is combined once with the result.

    >>> import numpy as np
    >>> from funcgrad import lax
    >>> reduce(np.arange(6.0).reshape(2, 3), 0.0, lax.add, (1,))
    array([ 3., 12.])
    >>> reduce(np.arange(6.0).reshape(2, 3), -np.inf, lax.max, (0,))
    array([3., 4., 5.])
    """
    leaves, tree = pytree.tree_flatten(operands)
    inits, init_tree = pytree.tree_flatten(init_values)
    if init_tree != tree:
        raise FuncgradValueError(at_user_line(
            f"reduce: init_values of structure {init_tree} do not match the operands' {tree}"))
    leaves = [_asarray(x) for x in leaves]
    shapes = {get_aval(x).shape for x in leaves}
    if len(shapes) > 1:
        raise FuncgradValueError(at_user_line(
            f"reduce: operands must share one shape, got {sorted(shapes)}"))
    shape = next(iter(shapes)) if shapes else ()
    dims = tuple(sorted(_axis(d, len(shape), "reduce") for d in dimensions))
    if len(set(dims)) != len(dims):
        raise FuncgradValueError(at_user_line(f"reduce: repeated dimensions {tuple(dimensions)}"))
    scalar_avals = [ShapedArray((), get_aval(x).dtype) for x in leaves]
    names = _monoids(computation, scalar_avals, tree)
    outs = []
    for x, init, name in zip(leaves, inits, names, strict=True):
        reducer, op = _MONOIDS[name]
        dtype = get_aval(x).dtype
        out = reducer(x, dims) if dims else x
        if isinstance(init, Tracer) or np.asarray(init) != _identity(name, dtype):
            init_arr = ew.convert_element_type(_asarray(init), dtype)
            out = op(out, st.broadcast_in_dim(init_arr, get_aval(out).shape, ()))
        outs.append(out)
    return pytree.tree_unflatten(tree, outs)
