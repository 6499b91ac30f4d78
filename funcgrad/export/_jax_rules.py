"""The funcgrad -> JAX rule table and the jaxpr interpreter that uses it.

``RULES`` maps a primitive's *name* to ``rule(*jax_values, **params) -> value`` (a list for
``multiple_results`` primitives). Adding a primitive is one entry, for example::

    RULES["sort"] = lambda x, *, dimension: jnp.sort(x, axis=dimension)

This module imports jax at its top: ``funcgrad.export`` imports it only inside ``to_jax``.
Every rule is written with ``jax.lax``/``jax.numpy`` (or JAX's own transforms of them), so
``jax.grad``, ``jax.jit`` and sharding see ordinary JAX programs.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.ad_checkpoint
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.scipy.special as jss
import numpy as np
from jax import lax

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.ir import ClosedJaxpr, Jaxpr, Literal
from funcgrad.core.staging import trace_to_jaxpr

Rule = Callable[..., Any]
RULES: dict[str, Rule] = {}

_HI = lax.Precision.HIGHEST


# == the interpreter ==========================================================================

def eval_jaxpr_jax(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """Run a funcgrad jaxpr on JAX values, one rule of ``RULES`` per equation."""
    env: dict[Any, Any] = {}

    def read(atom: Any) -> Any:
        if isinstance(atom, Literal):
            return jnp.asarray(atom.val, atom.aval.dtype)
        return env[atom]

    env.update(zip(jaxpr.constvars, (jnp.asarray(c) for c in consts), strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        rule = RULES.get(name)
        if rule is None:
            raise NotImplementedError(
                f"funcgrad.export.to_jax: no JAX rule for the primitive {name!r}; add one to "
                f"funcgrad/export/_jax_rules.py (RULES[{name!r}] = ...)")
        outs = rule(*(read(a) for a in eqn.invars), **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for var, out in zip(eqn.outvars, outs, strict=True):
            env[var] = _coerce(out, var.aval, name)
    return [read(a) for a in jaxpr.outvars]


def eval_closed_jax(closed: ClosedJaxpr, *args: Any) -> list[Any]:
    return eval_jaxpr_jax(closed.jaxpr, closed.consts, *args)


def _coerce(x: Any, aval: ShapedArray, name: str) -> Any:
    """``x`` with the dtype funcgrad's shape rule gave the equation (jnp may promote)."""
    x = jnp.asarray(x)
    if tuple(x.shape) != tuple(aval.shape):
        raise RuntimeError(f"funcgrad.export.to_jax: the rule for {name!r} gave shape "
                           f"{tuple(x.shape)}, funcgrad's shape rule {aval.shape}")
    if x.dtype != aval.dtype:
        x = lax.convert_element_type(x, aval.dtype)
    return x


def aval_of(x: Any) -> ShapedArray:
    """funcgrad's abstract value of a JAX array, a JAX tracer, a NumPy array or a scalar."""
    if isinstance(x, (bool, int, float, complex)):
        return get_aval(x)
    return ShapedArray(tuple(x.shape), np.dtype(x.dtype))


def _trace_flat(fun: Callable[..., Any], avals: Sequence[ShapedArray]
                ) -> tuple[ClosedJaxpr, list[Any]]:
    """Stage ``fun`` (flat arrays -> pytree) and return its jaxpr and output treedef (boxed)."""
    tree: list[Any] = []

    def flat(*xs: Any) -> list[Any]:
        leaves, t = pytree.tree_flatten(fun(*xs))
        tree.append(t)
        return leaves

    return trace_to_jaxpr(flat, list(avals)), tree


def _as_fn(closed: ClosedJaxpr) -> Callable[..., list[Any]]:
    return functools.partial(eval_closed_jax, closed)


def _is_float(dtype: Any) -> bool:
    return np.dtype(dtype).kind in "fc"


# == elementwise ==============================================================================

_SAME_NAME_LAX = (
    "add", "sub", "mul", "max", "min", "atan2", "neg", "exp", "exp2", "log", "log1p",
    "expm1", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "asinh", "acosh", "atanh", "logistic", "erf", "erfc", "erf_inv", "lgamma", "digamma",
    "igamma", "igammac", "igamma_grad_a", "betainc", "floor", "ceil", "is_finite", "real",
    "imag", "conj", "eq", "ne", "lt", "le", "gt", "ge",
)
for _name in _SAME_NAME_LAX:
    RULES[_name] = getattr(lax, _name)

RULES["add_any"] = lax.add
RULES["abs"] = jnp.abs                       # of complex: real, as funcgrad
RULES["sign"] = jnp.sign
RULES["round"] = jnp.round                   # half to even, as NumPy
RULES["rem"] = jnp.remainder                 # NumPy's remainder (sign of the divisor)
RULES["and"] = jnp.bitwise_and
RULES["or"] = jnp.bitwise_or
RULES["xor"] = jnp.bitwise_xor
RULES["not"] = jnp.invert                    # logical on bool, bitwise on ints
RULES["div"] = lambda x, y: lax.div(x, y) if _is_float(x.dtype) else jnp.floor_divide(x, y)
RULES["pow"] = lambda x, y: lax.pow(x, y) if _is_float(x.dtype) else jnp.power(x, y)
RULES["integer_pow"] = lambda x, *, y: lax.integer_pow(x, y)
RULES["polygamma"] = lambda x, *, m: lax.polygamma(jnp.full_like(x, m), x)
RULES["ndtri"] = jss.ndtri
RULES["select"] = lax.select
RULES["stop_gradient"] = lax.stop_gradient
RULES["name"] = lambda x, *, name: jax.ad_checkpoint.checkpoint_name(x, name)


def _convert(x: Any, *, new_dtype: Any) -> Any:
    if jnp.iscomplexobj(x) and np.dtype(new_dtype).kind != "c":
        x = lax.real(x)  # the real part, as funcgrad and JAX
    return lax.convert_element_type(x, new_dtype)


RULES["convert_element_type"] = _convert


# == structural, reductions, indexing =========================================================

RULES["broadcast_in_dim"] = lambda x, *, shape, broadcast_dimensions: lax.broadcast_in_dim(
    x, shape, broadcast_dimensions)
RULES["reshape"] = lambda x, *, new_sizes: jnp.reshape(x, new_sizes)
RULES["transpose"] = lambda x, *, permutation: lax.transpose(x, permutation)
RULES["pad"] = lambda x, *, padding_config, padding_value: lax.pad(
    x, jnp.asarray(padding_value, x.dtype), padding_config)
RULES["slice"] = lambda x, *, start_indices, limit_indices, strides: lax.slice(
    x, start_indices, limit_indices, strides)
RULES["rev"] = lambda x, *, dimensions: lax.rev(x, dimensions)
RULES["concatenate"] = lambda *xs, dimension: lax.concatenate(xs, dimension)
RULES["iota"] = lambda *, dtype, shape, dimension: lax.broadcasted_iota(dtype, shape, dimension)

RULES["reduce_sum"] = lambda x, *, axes: jnp.sum(x, axis=axes, dtype=x.dtype)
RULES["reduce_prod"] = lambda x, *, axes: jnp.prod(x, axis=axes, dtype=x.dtype)
RULES["reduce_max"] = lambda x, *, axes: jnp.max(x, axis=axes)
RULES["reduce_min"] = lambda x, *, axes: jnp.min(x, axis=axes)
RULES["argmax"] = lambda x, *, axis, index_dtype: jnp.argmax(x, axis=axis).astype(index_dtype)
RULES["argmin"] = lambda x, *, axis, index_dtype: jnp.argmin(x, axis=axis).astype(index_dtype)
RULES["cumsum"] = lambda x, *, axis, reverse: lax.cumsum(x, axis, reverse)

# gather(x, *indices) is x[indices] on the leading axes (NumPy advanced indexing).
RULES["gather"] = lambda x, *indices: x[tuple(indices)]
RULES["scatter_add"] = lambda x, u, *indices: x.at[tuple(indices)].add(u)
RULES["scatter"] = lambda x, u, *indices: x.at[tuple(indices)].set(u)

RULES["dot_general"] = lambda x, y, *, dimension_numbers: lax.dot_general(
    x, y, dimension_numbers, precision=_HI)


# == linear algebra ===========================================================================

RULES["solve"] = jnp.linalg.solve
RULES["slogdet"] = lambda a: list(jnp.linalg.slogdet(a))


def _cholesky(a: Any) -> Any:
    # funcgrad reads the lower triangle only (its gradient lives there), so the factored
    # matrix is the one the lower triangle defines, unsymmetrised.
    low = jnp.tril(a)
    sym = low + jnp.swapaxes(jnp.tril(a, -1), -1, -2)
    return jax.lax.linalg.cholesky(sym, symmetrize_input=False)


RULES["cholesky"] = _cholesky
RULES["expm"] = jsl.expm


# == convolution and windows (funcgrad's layout: NC*spatial, OI*kernel) ======================

def _conv(lhs: Any, rhs: Any, *, window_strides: Any, padding: Any, lhs_dilation: Any,
          rhs_dilation: Any, feature_group_count: int) -> Any:
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                    rhs_dilation, feature_group_count=feature_group_count,
                                    precision=_HI)


def _patches(x: Any, *, kernel_shape: Any, window_strides: Any, padding: Any,
             rhs_dilation: Any) -> Any:
    # (N, C, *in) -> (C*K, N, *out), feature c*K + t: JAX's patches are (N, C*K, *out) in the
    # same channel-major order.
    out = lax.conv_general_dilated_patches(x, kernel_shape, window_strides, padding,
                                           rhs_dilation=rhs_dilation, precision=_HI)
    return jnp.swapaxes(out, 0, 1)


def _patches_transpose(cols: Any, *, input_shape: Any, kernel_shape: Any, **params: Any) -> Any:
    k = int(np.prod(kernel_shape, dtype=np.int64))
    x = jax.ShapeDtypeStruct((cols.shape[1], cols.shape[0] // k, *input_shape), cols.dtype)
    fn = functools.partial(_patches, kernel_shape=kernel_shape, **params)
    return jax.linear_transpose(fn, x)(cols)[0]


RULES["conv_general_dilated"] = _conv
RULES["conv_patches"] = _patches
RULES["conv_patches_transpose"] = _patches_transpose


def _window_init(dtype: Any, kind: str) -> Any:
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.array(0, dtype)
    if dtype.kind == "f":
        return np.array(-np.inf, dtype)
    return np.array(np.iinfo(dtype).min if dtype.kind in "iu" else False, dtype)


def _reduce_window(kind: str) -> Rule:
    op = lax.add if kind == "sum" else lax.max

    def rule(x: Any, *, window_dimensions: Any, window_strides: Any, padding: Any) -> Any:
        return lax.reduce_window(x, _window_init(x.dtype, kind), op, window_dimensions,
                                 window_strides, padding)
    return rule


RULES["reduce_window_sum"] = _reduce_window("sum")
RULES["reduce_window_max"] = _reduce_window("max")


# select_and_scatter_add / select_and_gather_add are the VJP and JVP of the window max (each
# window's first maximum), which is how JAX builds them too.
def _select_and_scatter_add(source: Any, operand: Any, *saved_maxima: Any, **params: Any
                            ) -> Any:
    # funcgrad may pass the forward's maxima (its kernel's mask); JAX's VJP finds its own
    _, pullback = jax.vjp(functools.partial(RULES["reduce_window_max"], **params), operand)
    return pullback(source)[0]


def _select_and_gather_add(tangent: Any, operand: Any, *saved_maxima: Any, **params: Any
                           ) -> Any:
    fn = functools.partial(RULES["reduce_window_max"], **params)
    return jax.jvp(fn, (operand,), (tangent,))[1]


RULES["select_and_scatter_add"] = _select_and_scatter_add
RULES["select_and_gather_add"] = _select_and_gather_add


# == random bits and callbacks ================================================================
# funcgrad's stream is NumPy's Philox-4x64-10 keyed by (k0 << 32 | k1, salt), counter 1, 2, ...
# per block of four 64-bit words (NumPy increments the counter before each block). With
# jax_enable_x64 it is computed natively (uint64 arithmetic, a 64x64 -> 128-bit product from
# 32-bit halves); without x64 it runs as a host callback. Either way the exported program
# draws exactly funcgrad's numbers.

_PHILOX_M = (0xD2E7470EE14C6C93, 0xCA5A826395121157)
_PHILOX_W = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)


def _mulhilo64(a: int, b: Any) -> tuple[Any, Any]:
    u32 = jnp.uint64(0xFFFFFFFF)
    a_lo, a_hi = jnp.uint64(a & 0xFFFFFFFF), jnp.uint64(a >> 32)
    b_lo, b_hi = b & u32, b >> 32
    lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
    cross = (lo_lo >> 32) + (hi_lo & u32) + lo_hi
    hi = hi_hi + (hi_lo >> 32) + (cross >> 32)
    return hi, jnp.uint64(a) * b  # uint64 products wrap: the low word


def _philox_raw(key0: Any, key1: int, n: int) -> Any:
    """``np.random.Philox(key=key1 << 64 | key0).random_raw(n)`` for a traced ``key0``."""
    blocks = -(-n // 4)
    c0 = jnp.arange(1, blocks + 1, dtype=jnp.uint64)
    zero = jnp.zeros_like(c0)
    c = [c0, zero, zero, zero]
    k0, k1 = key0.astype(jnp.uint64), jnp.uint64(key1)
    for r in range(10):
        if r:
            k0, k1 = k0 + jnp.uint64(_PHILOX_W[0]), k1 + jnp.uint64(_PHILOX_W[1])
        hi0, lo0 = _mulhilo64(_PHILOX_M[0], c[0])
        hi1, lo1 = _mulhilo64(_PHILOX_M[1], c[2])
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return jnp.stack(c, axis=-1).reshape(-1)[:n]


def _random_bits_native(keys: Any, shape: Any, dtype: Any, salt: int) -> Any:
    n = int(np.prod(shape, dtype=np.int64))
    flat = keys.reshape(-1, 2).astype(jnp.uint64)
    seeds = (flat[:, 0] << 32) | flat[:, 1]
    raw = jax.vmap(lambda s: _philox_raw(s, salt, n))(seeds)
    if np.dtype(dtype) == np.uint32:
        out = (raw >> 32).astype(jnp.uint32)
    elif np.dtype(dtype) == np.float32:
        out = ((raw >> 40).astype(jnp.float64) * 2.0 ** -24).astype(jnp.float32)
    else:
        out = (raw >> 11).astype(jnp.float64) * 2.0 ** -53
    return out.reshape((*keys.shape[:-1], *shape))


def _random_bits(keys: Any, *, shape: Any, dtype: Any, salt: int) -> Any:
    if jax.config.read("jax_enable_x64") and 0 <= salt < 2 ** 64:
        return _random_bits_native(keys, shape, dtype, salt)
    from funcgrad.random import random_bits_p
    out = jax.ShapeDtypeStruct((*keys.shape[:-1], *shape), dtype)

    def host(k: Any) -> Any:
        return random_bits_p.impl(np.asarray(k), shape=shape, dtype=dtype, salt=salt)
    return jax.pure_callback(host, out, keys, vmap_method="sequential")


def _debug_callback(*args: Any, callback: Any, ordered: bool) -> Any:
    jax.debug.callback(callback, *args, ordered=ordered)
    return jnp.asarray(True)


RULES["random_bits"] = _random_bits
RULES["debug_callback"] = _debug_callback


# == call primitives and control flow =========================================================

_jitted: weakref.WeakKeyDictionary[ClosedJaxpr, Any] = weakref.WeakKeyDictionary()


def _jit(*args: Any, jaxpr: ClosedJaxpr, name: str, donated_invars: Any) -> list[Any]:
    fn = _jitted.get(jaxpr)
    if fn is None:
        fn = _jitted[jaxpr] = jax.jit(_as_fn(jaxpr))
    return list(fn(*args))


def _cond(index: Any, *ops: Any, branches: Sequence[ClosedJaxpr]) -> list[Any]:
    return list(lax.switch(index, [_as_fn(b) for b in branches], *ops))  # clamps, as funcgrad


def _while(*args: Any, cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr, cond_nconsts: int,
           body_nconsts: int) -> list[Any]:
    cc, bc = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts]
    init = tuple(args[cond_nconsts + body_nconsts:])
    out = lax.while_loop(lambda c: eval_closed_jax(cond_jaxpr, *cc, *c)[0],
                         lambda c: tuple(eval_closed_jax(body_jaxpr, *bc, *c)), init)
    return list(out)


def _scan(*args: Any, jaxpr: ClosedJaxpr, length: int, reverse: bool, num_consts: int,
          num_carry: int) -> list[Any]:
    consts, carry = args[:num_consts], tuple(args[num_consts:num_consts + num_carry])
    xs = tuple(args[num_consts + num_carry:])

    def body(c: Any, x: Any) -> Any:
        out = eval_closed_jax(jaxpr, *consts, *c, *x)
        return tuple(out[:num_carry]), tuple(out[num_carry:])

    carry, ys = lax.scan(body, carry, xs, length=length, reverse=reverse)
    return [*carry, *ys]


RULES["jit"] = _jit
RULES["cond"] = _cond
RULES["while"] = _while
RULES["scan"] = _scan


# == custom rules =============================================================================
# The user's rules are funcgrad callables: each is staged once at the call's types and its
# jaxpr interpreted with this table (the rule "exported" alongside the function).

def _tangent_in(t: Any, aval: ShapedArray) -> Any:
    # JAX passes float0 tangents/cotangents for integer values; funcgrad rules take zeros.
    if _is_float(aval.dtype):
        return t
    return jnp.zeros(aval.shape, aval.dtype)


def _tangent_out(t: Any, aval: ShapedArray) -> Any:
    if _is_float(aval.dtype):
        return t
    return np.zeros(aval.shape, jax.dtypes.float0)


def _zeros_if_none(cts: Sequence[Any], avals: Sequence[ShapedArray]) -> list[Any]:
    import funcgrad.numpy as fnp
    return [fnp.zeros(a.shape, a.dtype) if c is None else c for c, a in zip(cts, avals,
                                                                            strict=True)]


def _custom_jvp(*args: Any, call_jaxpr: ClosedJaxpr, jvp: Callable[..., Any]) -> list[Any]:
    in_avals, out_avals = call_jaxpr.in_avals, call_jaxpr.out_avals
    n = len(args)

    def jvp_all(*xs: Any) -> list[Any]:
        outs, touts = jvp(list(xs[:n]), list(xs[n:]))
        return [*outs, *_zeros_if_none(touts, out_avals)]

    jvp_closed, _ = _trace_flat(jvp_all, [*in_avals, *in_avals])
    f = jax.custom_jvp(lambda *xs: eval_closed_jax(call_jaxpr, *xs))

    @f.defjvp
    def f_jvp(primals: Any, tangents: Any) -> Any:
        ts = [_tangent_in(t, a) for t, a in zip(tangents, in_avals, strict=True)]
        outs = eval_closed_jax(jvp_closed, *primals, *ts)
        m = len(out_avals)
        return outs[:m], [_tangent_out(t, a) for t, a in zip(outs[m:], out_avals, strict=True)]

    return list(f(*args))


def _custom_vjp(*args: Any, call_jaxpr: ClosedJaxpr, fwd: Callable[..., Any],
                bwd: Callable[..., Any], out_trees: Any, jvp_ok: bool) -> list[Any]:
    primal = _as_fn(call_jaxpr)
    if jvp_ok:  # funcgrad's checkpoint is a custom_vjp that forward mode may differentiate
        return list(jax.checkpoint(primal, policy=_jax_policy(fwd))(*args))
    in_avals, out_avals = call_jaxpr.in_avals, call_jaxpr.out_avals
    m = len(out_avals)
    res_tree: list[Any] = []

    def fwd_all(*xs: Any) -> list[Any]:
        outs, res = fwd(*xs)
        leaves, tree = pytree.tree_flatten(res)
        res_tree.append(tree)
        return [*outs, *leaves]

    fwd_closed, _ = _trace_flat(fwd_all, in_avals)
    res_avals = fwd_closed.out_avals[m:]
    nr = len(res_avals)

    def bwd_all(*xs: Any) -> list[Any]:
        res = pytree.tree_unflatten(res_tree[-1], list(xs[:nr]))
        return _zeros_if_none(bwd(res, list(xs[nr:])), in_avals)

    bwd_closed, _ = _trace_flat(bwd_all, [*res_avals, *out_avals])
    f = jax.custom_vjp(lambda *xs: primal(*xs))

    def f_fwd(*xs: Any) -> Any:
        outs = eval_closed_jax(fwd_closed, *xs)
        return outs[:m], outs[m:]

    def f_bwd(res: Any, cts: Any) -> Any:
        cts = [_tangent_in(c, a) for c, a in zip(cts, out_avals, strict=True)]
        in_cts = eval_closed_jax(bwd_closed, *res, *cts)
        return tuple(c if _is_float(a.dtype) else None for c, a in zip(in_cts, in_avals,
                                                                       strict=True))

    f.defvjp(f_fwd, f_bwd)
    return list(f(*args))


def _closure_cell(fn: Any, name: str, depth: int = 4) -> Any:
    """The value of the closure variable ``name`` of ``fn`` or of a function it closes over."""
    cells = dict(zip(getattr(getattr(fn, "__code__", None), "co_freevars", ()),
                     getattr(fn, "__closure__", None) or (), strict=True))
    if name in cells:
        return cells[name].cell_contents
    if depth:
        for cell in cells.values():
            value = cell.cell_contents
            if callable(value):
                found = _closure_cell(value, name, depth - 1)
                if found is not None:
                    return found
    return None


def _jax_policy(fwd: Any) -> Any:
    """JAX's counterpart of a funcgrad checkpoint policy, found in the checkpoint's rules
    (None, JAX's recompute-everything default, for no policy or a user-written one: the
    values are the same, only what is saved differs)."""
    from funcgrad import checkpoint_policies as fcp
    policy = _closure_cell(fwd, "policy")
    if policy is None:
        return None
    jcp = jax.checkpoint_policies
    for name in ("everything_saveable", "nothing_saveable", "dots_saveable",
                 "dots_with_no_batch_dims_saveable"):
        if policy is getattr(fcp, name):
            return getattr(jcp, name)
    qual = getattr(policy, "__qualname__", "")
    for name, cell in (("save_only_these_names", "wanted"),
                       ("save_any_names_but_these", "unwanted")):
        if qual.startswith(f"{name}.") and policy.__module__ == fcp.__name__:
            return getattr(jcp, name)(*sorted(_closure_cell(policy, cell, 0)))
    return None


RULES["custom_jvp_call"] = _custom_jvp
RULES["custom_vjp_call"] = _custom_vjp


# == rules of the primitives added with sorting, linalg, fft, callbacks and collectives ========

def _sort(*operands: Any, dimension: int, is_stable: bool, num_keys: int) -> list[Any]:
    return list(lax.sort(operands, dimension=dimension, is_stable=True, num_keys=num_keys))


def _eigh(a: Any, *, lower: bool) -> list[Any]:
    # funcgrad's eigh reads one triangle and differentiates that read: build the Hermitian
    # matrix from it explicitly so JAX's gradient flows through the same read.
    tri = jnp.tril(a) if lower else jnp.triu(a)
    strict = jnp.tril(a, -1) if lower else jnp.triu(a, 1)
    herm = tri + jnp.conj(jnp.swapaxes(strict, -1, -2))
    v, w = lax.linalg.eigh(herm, lower=lower, symmetrize_input=False)
    return [v, w]


def _svd(a: Any, *, full_matrices: bool, compute_uv: bool) -> list[Any]:
    if not compute_uv:
        return [lax.linalg.svd(a, full_matrices=False, compute_uv=False)]
    u, s, vt = lax.linalg.svd(a, full_matrices=full_matrices, compute_uv=True)
    return [s, u, vt]


def _qr(a: Any, *, full_matrices: bool) -> list[Any]:
    q, r = jnp.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [q, r]


def _eig(a: Any, *, compute_eigenvectors: bool) -> list[Any]:
    out = lax.linalg.eig(a, compute_left_eigenvectors=False,
                         compute_right_eigenvectors=compute_eigenvectors)
    return list(out)


def _fft(x: Any, *, fft_type: Any, fft_lengths: Any) -> Any:
    return lax.fft(x, lax.FftType[fft_type.name], tuple(fft_lengths))


def _on_host(prim_name: str) -> Rule:
    """A primitive JAX has no counterpart for, run as a ``jax.pure_callback`` of funcgrad's
    own impl (values only: no derivative, as funcgrad's own rules)."""
    def rule(*args: Any, **params: Any) -> Any:
        from funcgrad.core.primitive import primitives
        prim = primitives()[prim_name]
        avals = prim.abstract_eval(*(ShapedArray(a.shape, np.dtype(a.dtype)) for a in args),
                                   **params)
        outs = avals if prim.multiple_results else [avals]
        shapes = [jax.ShapeDtypeStruct(tuple(o.shape), o.dtype) for o in outs]

        def host(*xs: Any) -> Any:
            res = prim.impl(*(np.asarray(x) for x in xs), **params)
            res = res if prim.multiple_results else [res]
            return [np.asarray(r, o.dtype) for r, o in zip(res, outs, strict=True)]
        res = jax.pure_callback(host, shapes, *args, vmap_method="sequential")
        return list(res) if prim.multiple_results else res[0]
    return rule


RULES["sort"] = _sort
RULES["eigh"] = _eigh
RULES["svd"] = _svd
RULES["qr"] = _qr
RULES["eig"] = _eig
RULES["fft"] = _fft
RULES["random_fold_in"] = _on_host("random_fold_in")
RULES["pure_callback"] = _on_host("pure_callback")
RULES["psum"] = lambda x, *, axis_name: lax.psum(x, axis_name)
RULES["all_gather"] = lambda x, *, axis_name, axis, axis_size: lax.all_gather(
    x, axis_name, axis=axis)
RULES["axis_index"] = lambda *, axis_name: lax.axis_index(axis_name[0])
RULES["shift_left"] = lax.shift_left
RULES["shift_right_arithmetic"] = lax.shift_right_arithmetic
RULES["shift_right_logical"] = lax.shift_right_logical
RULES["nextafter"] = lax.nextafter
RULES["signbit"] = jnp.signbit
