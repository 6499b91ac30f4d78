"""``jit``: stage a function once per input signature, generate NumPy source for it, run that.

A jitted call is the ``jit`` primitive holding the closed jaxpr. Its impl compiles the jaxpr
(``codegen``) and runs the generated function; its JVP rule is the jit of the JVP jaxpr; its
VJP splits reverse mode into a jitted forward that also returns the residuals (through the
residual channel) and a jitted backward; its batching rule is the jit of the batched jaxpr.
So ``jit`` composes both ways with every transform, and nested jits stay calls.

>>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
>>> f = fg.jit(lambda x: fnp.sum(fnp.tanh(x) ** 2))
>>> float(f(np.zeros(3))), f.cache_info().misses
(0.0, 1)
>>> fg.grad(f)(np.zeros(3))
array([0., 0., 0.])
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.config import config
from funcgrad.core.errors import (
    FuncgradTypeError,
    FuncgradValueError,
    at_user_line,
    value_ranges,
)
from funcgrad.core.ir import ClosedJaxpr
from funcgrad.core.primitive import Primitive
from funcgrad.core.staging import stage_closure_converted
from funcgrad.core.tracing import EVAL_TRACE, EvalTrace, Tracer, _state, set_current_trace
from funcgrad.transforms import ad, batching, codegen, passes
from funcgrad.transforms.ad import instantiate_zeros

logger = logging.getLogger("funcgrad.jit")
# The plain interpreter (no per-primitive checks), for the NaN pinpointing walk.
EVAL_TRACE_FAST = EvalTrace()
EVAL_TRACE_FAST.parent = EVAL_TRACE_FAST

# == the primitive ===============================================================================

jit_p = Primitive("jit", multiple_results=True)


def _inexact(aval: ShapedArray) -> bool:
    return bool(np.issubdtype(aval.dtype, np.inexact))


def _jit_impl(*args: Any, jaxpr: ClosedJaxpr, name: str, donated_invars: tuple[bool, ...]
              ) -> list[Any]:
    return run_checked(jaxpr, executable(jaxpr, name, donated_invars), args)


def run_checked(closed: ClosedJaxpr, exe: Executable, args: Sequence[Any]) -> list[Any]:
    """Run ``exe``; with ``enable_checks`` check its outputs against the staged types, and
    with ``debug_nans``/``debug_infs`` re-run a non-finite result primitive by primitive, so
    the error names the primitive and the user's line that produced it (as JAX does)."""
    if config.debug_nans or config.debug_infs:
        # The check below reports at the user's line; NumPy's RuntimeWarning from inside the
        # generated code would only point into funcgrad.
        with np.errstate(all="ignore"):
            outs = list(exe(*args))
    else:
        outs = list(exe(*args))
    if config.enable_checks:
        got = [(np.shape(o), np.asarray(o).dtype) for o in outs]
        want = [(a.shape, a.dtype) for a in closed.out_avals]
        if got != want:
            raise FuncgradTypeError(f"enable_checks: the code generated for {exe.name} returned "
                                    f"{got} where the staged program says {want}")
    if config.debug_nans or config.debug_infs:
        for o in outs:
            o = np.asarray(o)
            if o.dtype.kind in "fc" and ((config.debug_nans and np.isnan(o).any()) or (
                    config.debug_infs and np.isinf(o).any())):
                _pinpoint_non_finite(closed, args)
                raise FloatingPointError(f"debug_nans/debug_infs: {exe.name} produced a "
                                         f"non-finite value")
    return outs


def _pinpoint_non_finite(closed: ClosedJaxpr, args: Sequence[Any]) -> None:
    """Re-run the staged program equation by equation and raise at the first one whose output
    is NaN/Inf, naming its primitive and its line: for a backward equation the line reads
    ``backward of log at model.py:12``, the forward line it differentiates."""
    from funcgrad.core.ir import Literal
    jaxpr = closed.jaxpr
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, closed.consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    with set_current_trace(EVAL_TRACE_FAST), np.errstate(all="ignore"):
        for eqn in jaxpr.eqns:
            ins = [a.val if isinstance(a, Literal) else env[a] for a in eqn.invars]
            out = eqn.primitive.bind(*ins, **eqn.params)
            outs = out if eqn.primitive.multiple_results else [out]
            env.update(zip(eqn.outvars, outs, strict=True))
            for o in outs:
                o = np.asarray(o)
                if o.dtype.kind in "fc" and ((config.debug_nans and np.isnan(o).any()) or (
                        config.debug_infs and np.isinf(o).any())):
                    kind = "NaN" if config.debug_nans and np.isnan(o).any() else "Inf"
                    where = eqn.source_info if eqn.source_info is not None else "an unknown line"
                    raise FloatingPointError(
                        f"debug_nans/debug_infs: primitive {eqn.primitive.name!r} produced "
                        f"{kind} at {where}, from inputs {value_ranges(ins)}")


def _jit_abstract_eval(*avals: ShapedArray, jaxpr: ClosedJaxpr, name: str,
                       donated_invars: tuple[bool, ...]) -> list[ShapedArray]:
    if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in jaxpr.in_avals]:
        raise FuncgradTypeError(
            f"jit: {name} was staged for {[a.str_short() for a in jaxpr.in_avals]} but is "
            f"called with {[a.str_short() for a in avals]}")
    return jaxpr.out_avals


jit_p.def_impl(_jit_impl)
jit_p.def_abstract_eval(_jit_abstract_eval)


def _no_donation(n: int) -> tuple[bool, ...]:
    return (False,) * n


def _jit_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, jaxpr: ClosedJaxpr, name: str,
             donated_invars: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    nonzero = [t is not None for t in tangents]
    jvp = ad.jvp_jaxpr(jaxpr, nonzero)
    dots = [t for t in tangents if t is not None]
    outs = jit_p.bind(*primals, *dots, jaxpr=jvp, name=f"jvp_{name}",
                      donated_invars=_no_donation(len(primals) + len(dots)))
    n = len(jaxpr.out_avals)
    out_dots = iter(outs[n:])
    return outs[:n], [next(out_dots) if _inexact(a) else None for a in jaxpr.out_avals]


def _jit_residuals(*primals: Any, jaxpr: ClosedJaxpr, name: str,
                   donated_invars: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    # Reverse mode: the forward runs jitted and also returns what the backward reads.
    fwd, _, n_res = ad.linearize_jaxpr(jaxpr)
    outs = jit_p.bind(*primals, jaxpr=fwd, name=name,
                      donated_invars=_no_donation(len(primals)))
    n = len(outs) - n_res
    return outs[:n], outs[n:]


def _jit_vjp(cts: Sequence[Any], ans: Sequence[Any], primals: Sequence[Any],
             needs: Sequence[bool], **params: Any) -> list[Any]:
    jaxpr, name = params["jaxpr"], params["name"]
    _, bwd, _ = ad.linearize_jaxpr(jaxpr)
    cts_in = [instantiate_zeros(c, a) for c, a, o in zip(cts, ans, jaxpr.out_avals, strict=True)
              if _inexact(o)]
    residuals = params["residuals"]
    grads = iter(jit_p.bind(*residuals, *cts_in, jaxpr=bwd, name=f"vjp_{name}",
                            donated_invars=_no_donation(len(residuals) + len(cts_in))))
    in_cts = [next(grads) if _inexact(a) else None for a in jaxpr.in_avals]
    return [c if need else None for c, need in zip(in_cts, needs, strict=True)]


def _jit_batch(args: Sequence[Any], dims: Sequence[int | None], *, jaxpr: ClosedJaxpr,
               name: str, donated_invars: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
    moved = [a if d is None else batching.moveaxis(a, d, 0) for a, d in zip(args, dims,
                                                                            strict=True)]
    batched = [d is not None for d in dims]
    closed, out_batched = batching.batch_jaxpr(jaxpr, batched, size,
                                               [False] * len(jaxpr.out_avals))
    outs = jit_p.bind(*moved, jaxpr=closed, name=name,
                      donated_invars=_no_donation(len(moved)))
    return outs, [0 if b else None for b in out_batched]


ad.jvp_rules[jit_p] = _jit_jvp
ad.residual_rules[jit_p] = _jit_residuals
ad.vjp_rules[jit_p] = _jit_vjp
batching.batch_rules[jit_p] = _jit_batch


def _jit_codegen(fn: codegen.FunctionWriter, eqn: Any, ins: list[str], outs: list[str]) -> None:
    # A nested jit is a call of its own generated function.
    callee = fn.call_function(eqn.params["jaxpr"], eqn.params["name"])
    fn.assign(eqn, outs, f"{callee}({', '.join(ins)})")


codegen.codegen_rules[jit_p] = _jit_codegen
passes.inlinable[jit_p] = "jaxpr"  # a nested jit is fused into its caller when it can be


# == compiled executables ========================================================================

class Executable:
    """A generated function with its source; calling it runs the NumPy code.

    An exception raised inside the generated code gets a note naming the user's line behind
    the failing generated line."""

    def __init__(self, closed: ClosedJaxpr, name: str, donated: Sequence[bool] = ()):
        start = time.perf_counter()
        self.module = codegen.Module(name)
        self.name = self.module.function(closed, name, donated=donated)
        self.fn = self.module.compile()[self.name]
        self.compile_time = time.perf_counter() - start
        if config.jit_dump_dir:
            _dump(self.module, config.jit_dump_dir)
        if config.log_compiles:
            logger.warning("compiled %s for %s in %.1f ms", name,
                           [a.str_short() for a in closed.in_avals], 1e3 * self.compile_time)

    @property
    def source(self) -> str:
        return self.module.source

    def __call__(self, *args: Any) -> tuple[Any, ...]:
        try:
            return self.fn(*args)  # type: ignore[no-any-return]
        except Exception as e:
            self._annotate(e)
            raise

    def _annotate(self, e: BaseException) -> None:
        tb, sources = e.__traceback__, self.module.line_sources
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.module.filename:
                info = sources.get(tb.tb_lineno)
                add_note = getattr(e, "add_note", None)  # Python 3.11+
                if info is not None and add_note is not None:
                    add_note(f"funcgrad.jit: raised by the code generated for "
                             f"{_user_line(info)}")
                    return
            tb = tb.tb_next


def _user_line(info: Any) -> str:
    import linecache
    code = linecache.getline(info[0], info[1]).strip()
    return f"{info}: {code}" if code else str(info)


_dump_count = iter(range(1 << 62))


def _dump(module: codegen.Module, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{module.name}_{next(_dump_count)}.py")
    with open(path, "w") as f:
        f.write(module.source)


_executables: weakref.WeakKeyDictionary[ClosedJaxpr, dict[Any, Executable]] = (
    weakref.WeakKeyDictionary())


def executable(closed: ClosedJaxpr, name: str, donated: tuple[bool, ...] = ()) -> Executable:
    """The compiled form of ``closed`` (generated once per jaxpr and donation)."""
    per_jaxpr = _executables.setdefault(closed, {})
    key = tuple(donated)
    exe = per_jaxpr.get(key)
    if exe is None:
        exe = per_jaxpr[key] = Executable(closed, name, donated)
    return exe


# == the user's wrapper ==========================================================================

class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: None
    currsize: int


class _Entry:
    """One traced signature: the staged program, its output tree and its executable."""

    __slots__ = ("closed", "out_tree", "exe", "exe_donated", "hoisted")

    def __init__(self, closed: ClosedJaxpr, out_tree: Any, hoisted: list[Any]):
        self.closed = closed
        self.out_tree = out_tree
        self.hoisted = hoisted
        self.exe: Executable | None = None
        self.exe_donated: Executable | None = None


def _check_static(value: Any, where: str) -> Any:
    try:
        hash(value)
    except TypeError:
        raise FuncgradTypeError(at_user_line(
            f"jit: {where} is static, so it must be hashable, but it is a "
            f"{type(value).__name__} ({value!r}); pass arrays as non-static arguments, or "
            f"convert it (a tuple instead of a list)")) from None
    return value


def _leaf_key(x: Any, name: str) -> Any:
    if type(x) is np.ndarray:
        return (x.shape, x.dtype)
    if not isinstance(x, (np.ndarray, np.generic, Tracer, bool, int, float, complex)):
        _as_leaf(x, name)  # raises, with advice
    aval = get_aval(x)
    return (aval.shape, aval.dtype, aval.weak_type)


def _flags() -> tuple[bool, bool, bool]:
    return (config.debug_nans, config.debug_infs, config.enable_checks)


class JitFunction:
    """What ``fg.jit(f)`` returns: call it like ``f``; also ``lower``, ``cache_info``,
    ``clear_cache``."""

    def __init__(self, fun: Callable[..., Any], static_argnums: tuple[int, ...],
                 static_argnames: tuple[str, ...], donate_argnums: tuple[int, ...]):
        self.fun = fun
        self.static_argnums = static_argnums
        self.static_argnames = static_argnames
        self.donate_argnums = donate_argnums
        self.name = getattr(fun, "__name__", "fn")
        if self.name == "<lambda>":
            self.name = "lambda_fn"
        self._cache: dict[Any, _Entry] = {}
        self._fast: dict[Any, tuple[Callable[..., Any], Callable[..., Any]]] = {}
        self._hits = 0
        self._misses = 0
        self._simple = not static_argnums and not static_argnames
        # Not the wrapped function's __dict__: a jit of a jitted function has its own cache.
        functools.update_wrapper(self, fun, updated=())

    # -- calling ------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        fast_key = None
        if self._simple and not kwargs and _state.trace is EVAL_TRACE and not (
                config.enable_checks or config.debug_nans or config.debug_infs):
            # The fast path: arrays and flat tuples/lists of arrays, one dictionary lookup,
            # the generated function, a generated output builder.
            fast_key = _fast_key(args)
            if fast_key is not None:
                hit = self._fast.get(fast_key)
                if hit is not None:
                    self._hits += 1
                    return hit[1](hit[0](*_fast_leaves(args)))
        entry, leaves, key = self._lookup(args, kwargs)
        if entry.hoisted or _state.trace is not EVAL_TRACE or any(
                isinstance(x, Tracer) for x in leaves):
            outs = jit_p.bind(*entry.hoisted, *leaves, jaxpr=entry.closed, name=self.name,
                              donated_invars=_no_donation(len(entry.hoisted) + len(leaves)))
            return pytree.tree_unflatten(entry.out_tree, outs)
        exe = self._executable(entry, leaves)
        if fast_key is not None and key is not None and not self.donate_argnums:
            self._fast[fast_key] = (exe.fn, _unflattener(entry.out_tree))
        if config.enable_checks or config.debug_nans or config.debug_infs:
            return pytree.tree_unflatten(entry.out_tree, run_checked(entry.closed, exe, leaves))
        return pytree.tree_unflatten(entry.out_tree, list(exe(*leaves)))

    def _executable(self, entry: _Entry, leaves: list[Any]) -> Executable:
        donated = self._donated_leaves(leaves)
        if any(donated) and _safe_to_donate(leaves, donated):
            if entry.exe_donated is None:
                entry.exe_donated = executable(entry.closed, self.name, tuple(donated))
            return entry.exe_donated
        if entry.exe is None:
            entry.exe = executable(entry.closed, self.name)
        return entry.exe

    def _donated_leaves(self, leaves: list[Any]) -> list[bool]:
        if not self.donate_argnums:
            return [False] * len(leaves)
        return self._donation_mask  # set by _lookup for the current call

    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[_Entry, list[Any], Any]:
        nargs = len(args)
        static_nums = {i + nargs if i < 0 else i for i in self.static_argnums}
        for i in static_nums:
            if not 0 <= i < nargs:
                raise FuncgradValueError(at_user_line(
                    f"jit({self.name}): static_argnums={self.static_argnums} refers to "
                    f"argument {i}, but it was called with {nargs} positional argument(s)"))
        statics = tuple((i, _check_static(args[i], f"argument {i}")) for i in sorted(static_nums))
        static_kw = tuple(sorted((k, _check_static(v, f"argument {k!r}"))
                                 for k, v in kwargs.items() if k in self.static_argnames))
        dyn_pos = [a for i, a in enumerate(args) if i not in static_nums]
        dyn_kw = {k: v for k, v in sorted(kwargs.items()) if k not in self.static_argnames}
        leaves, in_tree = pytree.tree_flatten((dyn_pos, dyn_kw))
        sig = tuple(_leaf_key(x, self.name) for x in leaves)  # Python scalars are weakly typed
        leaves = [x if isinstance(x, (np.ndarray, Tracer)) else _as_leaf(x, self.name)
                  for x in leaves]
        if self.donate_argnums:
            self._donation_mask = self._mask(args, static_nums, dyn_kw)
        key = (in_tree, sig, statics, static_kw, _flags())
        entry = self._cache.get(key)
        if entry is not None:
            self._hits += 1
            return entry, leaves, key
        self._misses += 1
        self._explain_miss(key, leaves)
        entry = self._trace(args, static_nums, dyn_kw, statics, static_kw, sig, in_tree)
        if not entry.hoisted:  # a program closing over an outer tracer is not reusable
            self._cache[key] = entry
        return entry, leaves, (key if not entry.hoisted else None)

    def _mask(self, args: tuple[Any, ...], static_nums: set[int], dyn_kw: dict[str, Any]
              ) -> list[bool]:
        donate = {i + len(args) if i < 0 else i for i in self.donate_argnums}
        mask: list[bool] = []
        for i, a in enumerate(args):
            if i not in static_nums:
                mask.extend([i in donate] * len(pytree.tree_leaves(a)))
        mask.extend([False] * len(pytree.tree_leaves(dyn_kw)))
        return mask

    def _trace(self, args: tuple[Any, ...], static_nums: set[int], dyn_kw: dict[str, Any],
               statics: Any, static_kw: Any, sig: tuple[Any, ...], in_tree: Any) -> _Entry:
        out_trees: list[Any] = []
        fun, nargs = self.fun, len(args)
        kw_static = dict(static_kw)

        def flat_fun(*flat: Any) -> list[Any]:
            dyn_pos, kw = pytree.tree_unflatten(in_tree, list(flat))
            it = iter(dyn_pos)
            full = [args[i] if i in static_nums else next(it) for i in range(nargs)]
            out = fun(*full, **kw, **kw_static)
            out_leaves, tree = pytree.tree_flatten(out)
            out_trees.append(tree)
            return [o if isinstance(o, (np.ndarray, Tracer)) else _as_leaf(o, self.name)
                    for o in out_leaves]

        in_avals = [ShapedArray(k[0], k[1], len(k) > 2 and k[2]) for k in sig]
        closed, hoisted = stage_closure_converted(flat_fun, in_avals)
        return _Entry(closed, out_trees[-1], hoisted)

    def _explain_miss(self, key: Any, leaves: list[Any]) -> None:
        n = len(self._cache)
        if n and config.explain_cache_misses:
            logger.warning("jit(%s): tracing again because %s", self.name,
                           _difference(key, list(self._cache)))
        if n == config.jit_retrace_warn:
            warnings.warn(
                f"jit({self.name}) has been traced for {n + 1} different signatures; "
                f"the last change: {_difference(key, list(self._cache))}. Mark arguments that "
                f"vary in value static (static_argnums), or keep shapes fixed",
                stacklevel=4)

    # -- inspection ---------------------------------------------------------------------------
    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """The staged program for these arguments, before compilation."""
        entry, leaves, _ = self._lookup(args, kwargs)
        return Lowered(entry, self.name, self)

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, None, len(self._cache))

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()
        self._hits = self._misses = 0

    def eval_shape(self, *args: Any, **kwargs: Any) -> Any:
        """The output's structure, shapes and dtypes as ``ShapedArray`` leaves."""
        entry, _, _ = self._lookup(args, kwargs)
        return pytree.tree_unflatten(entry.out_tree, entry.closed.out_avals)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"jit({self.name})"


def _fast_key(args: tuple[Any, ...]) -> Any:
    """The signature of arguments that are arrays or flat tuples/lists of arrays, else None."""
    key: list[Any] = []
    for a in args:
        c = a.__class__
        if c is np.ndarray:
            key.append((a.shape, a.dtype))
        elif c is tuple or c is list:
            for x in a:
                if x.__class__ is not np.ndarray:
                    return None
            key.append((c, tuple([(x.shape, x.dtype) for x in a])))
        else:
            return None
    return tuple(key)


def _fast_leaves(args: tuple[Any, ...]) -> list[Any]:
    leaves: list[Any] = []
    for a in args:
        if a.__class__ is np.ndarray:
            leaves.append(a)
        else:
            leaves.extend(a)
    return leaves


def _unflattener(tree: Any) -> Callable[[Sequence[Any]], Any]:
    """A function rebuilding ``tree`` from its leaves: a generated expression for tuples,
    lists, dicts and None, else ``tree_unflatten``."""
    counter = iter(range(tree.num_leaves))

    def expr(td: Any) -> str | None:
        if td.node is None:
            return f"o[{next(counter)}]"
        kids = [expr(c) for c in td.children]
        if any(k is None for k in kids):
            return None
        ntype = td.node[0]
        if ntype is tuple:
            return "(" + "".join(f"{k}, " for k in kids) + ")"
        if ntype is list:
            return "[" + ", ".join(kids) + "]"  # type: ignore[arg-type]
        if ntype is dict and all(type(k) is str for k in td.aux):
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(td.aux, kids, strict=True)) + "}"
        if ntype is type(None):
            return "None"
        return None

    source = expr(tree)
    if source is None:
        return lambda outs: pytree.tree_unflatten(tree, list(outs))
    return eval(f"lambda o: {source}")  # type: ignore[no-any-return]  # noqa: S307


def _as_leaf(x: Any, name: str) -> Any:
    if isinstance(x, (bool, int, float, complex, np.generic)):
        return np.asarray(x)
    raise FuncgradTypeError(at_user_line(
        f"jit({name}): an argument or result leaf is a {type(x).__name__} ({x!r}), not an "
        f"array; mark it static with static_argnums/static_argnames"))


def _safe_to_donate(leaves: list[Any], donated: list[bool]) -> bool:
    """A donated buffer is written only if no other argument can see it."""
    for i, (x, d) in enumerate(zip(leaves, donated, strict=True)):
        if d:
            if not (isinstance(x, np.ndarray) and x.flags.writeable and x.flags.owndata):
                return False
            if any(j != i and isinstance(y, np.ndarray) and np.may_share_memory(x, y)
                   for j, y in enumerate(leaves)):
                return False
    return True


def _difference(key: Any, previous: list[Any]) -> str:
    """What changed between ``key`` and the closest earlier signature, in words."""
    in_tree, sig, statics, static_kw, flags = key
    best = None
    for old in reversed(previous):  # the most recent of the closest
        score = (old[0] != in_tree, sum(a != b for a, b in zip(old[1], sig, strict=True)),
                 sum(a != b for a, b in zip(old[2:], key[2:], strict=True)))
        if best is None or score < best[0]:
            best = (score, old)
    assert best is not None
    o_tree, o_sig, o_statics, o_static_kw, o_flags = best[1]
    if o_tree != in_tree:
        return f"the argument structure changed from {o_tree} to {in_tree}"
    for i, (a, b) in enumerate(zip(o_sig, sig, strict=True)):
        if a != b:
            return f"argument leaf {i} changed from {_sig_str(a)} to {_sig_str(b)}"
    if o_statics != statics or o_static_kw != static_kw:
        return (f"a static argument changed from {dict(o_statics) | dict(o_static_kw)} to "
                f"{dict(statics) | dict(static_kw)}")
    return f"the config flags (debug_nans, debug_infs, enable_checks) changed to {flags}"


def _sig_str(k: Any) -> str:
    shape, dtype = k[0], np.dtype(k[1])
    weak = len(k) > 2 and k[2]
    return ShapedArray(shape, dtype, bool(weak)).str_short() + ("{weak}" if weak else "")


class Lowered:
    """A staged program: ``as_text()``, ``source()``, ``cost()``, ``compile()``."""

    def __init__(self, entry: _Entry, name: str, jitted: JitFunction):
        self._entry = entry
        self.name = name
        self._jitted = jitted

    @property
    def jaxpr(self) -> ClosedJaxpr:
        return self._entry.closed

    @property
    def out_tree(self) -> Any:
        """The pytree structure of the result (``jax.stages.Lowered.out_tree``)."""
        return self._entry.out_tree

    def as_text(self, source_info: bool = False) -> str:
        """The IR that is compiled, as ``make_jaxpr`` prints it."""
        return self._entry.closed.pretty_print(source_info)

    def source(self) -> str:
        """The generated NumPy source."""
        return self.compile().source

    def compile(self) -> Executable:
        if self._entry.exe is None:
            self._entry.exe = executable(self._entry.closed, self.name)
        return self._entry.exe

    def to_dot(self) -> str:
        """The optimised program that is compiled, as Graphviz DOT, its fused regions as
        clusters."""
        from funcgrad.core.pictures import to_dot
        jaxpr = passes.optimize(self._entry.closed.jaxpr)
        return to_dot(jaxpr, self.name, codegen.block_regions(jaxpr))

    def to_mermaid(self) -> str:
        """The optimised program as a Mermaid flowchart, fused regions as subgraphs."""
        from funcgrad.core.pictures import to_mermaid
        jaxpr = passes.optimize(self._entry.closed.jaxpr)
        return to_mermaid(jaxpr, codegen.block_regions(jaxpr))

    def cost(self) -> Cost:
        """FLOPs, bytes read and written and NumPy calls per equation of the optimised program
        that is compiled, with totals; a fused elementwise region is one row (``fused[n]``)
        whose bytes are only what enters and leaves the region, and whose calls count every
        block."""
        return Cost.of(self._entry.closed, optimized=True)


class EqnCost(NamedTuple):
    primitive: str
    flops: int
    bytes_read: int
    bytes_written: int
    numpy_calls: int
    fused: tuple[str, ...] = ()   # the primitives of a fused region, in order
    blocks: int = 0               # the number of blocks the region runs in


class Cost:
    """Per-equation cost estimates of a program (sub-jaxprs counted once, as written)."""

    def __init__(self, rows: list[EqnCost]):
        self.rows = rows

    @classmethod
    def of(cls, closed: ClosedJaxpr, optimized: bool = False) -> Cost:
        if not optimized:
            return cls([_eqn_cost(e) for e in closed.eqns])
        jaxpr = passes.optimize(closed.jaxpr)
        views = codegen.implicit_broadcasts(jaxpr)
        regions = dict(codegen.block_regions(jaxpr, views))
        rows: list[EqnCost] = []
        i = 0
        while i < len(jaxpr.eqns):
            end = regions.get(i)
            if end is None:
                eqn = jaxpr.eqns[i]
                if eqn.outvars and eqn.outvars[0] in views:  # a reshaped view: no traffic
                    rows.append(EqnCost(eqn.primitive.name, 0, 0, 0, 1))
                else:
                    rows.append(_eqn_cost(eqn))
                i += 1
                continue
            rows.append(_region_cost(jaxpr, i, end))
            i = end
        return cls(rows)

    @property
    def groups(self) -> list[EqnCost]:
        """The fused regions."""
        return [r for r in self.rows if r.fused]

    @property
    def flops(self) -> int:
        return sum(r.flops for r in self.rows)

    @property
    def bytes_read(self) -> int:
        return sum(r.bytes_read for r in self.rows)

    @property
    def bytes_written(self) -> int:
        return sum(r.bytes_written for r in self.rows)

    @property
    def numpy_calls(self) -> int:
        return sum(r.numpy_calls for r in self.rows)

    def __str__(self) -> str:
        head = f"{'primitive':<24}{'flops':>14}{'read':>14}{'written':>14}{'calls':>7}"
        notes = [f"{r.primitive}: {', '.join(r.fused)} in {r.blocks} blocks of "
                 f"{codegen.BLOCK_SIZE:,} elements" for r in self.rows if r.fused]
        lines = [head] + [f"{r.primitive:<24}{r.flops:>14,}{r.bytes_read:>14,}"
                          f"{r.bytes_written:>14,}{r.numpy_calls:>7}" for r in self.rows]
        lines.append(f"{'total':<24}{self.flops:>14,}{self.bytes_read:>14,}"
                     f"{self.bytes_written:>14,}{self.numpy_calls:>7}")
        return "\n".join(lines + notes)

    __repr__ = __str__


# FLOPs of the primitives that are not one per output element, by primitive name (the
# families register nothing here: jit must not import lax).
def _dot_flops(ins: list[ShapedArray], outs: list[ShapedArray], params: dict[str, Any]) -> int:
    (contract, _), _ = params["dimension_numbers"]
    k = math.prod([ins[0].shape[d] for d in contract])
    return 2 * int(outs[0].size) * k


def _conv_flops(ins: list[ShapedArray], outs: list[ShapedArray], params: dict[str, Any]) -> int:
    # Each output element is a dot of one kernel slice: kernel size / output features.
    out_features = max(ins[1].size // max(int(ins[1].shape[0]), 1), 1)
    return 2 * int(outs[0].size) * out_features


cost_rules: dict[str, Callable[[list[ShapedArray], list[ShapedArray], dict[str, Any]], int]] = {
    "dot_general": _dot_flops, "conv_general_dilated": _conv_flops}


def _region_cost(jaxpr: Any, start: int, end: int) -> EqnCost:
    eqns = jaxpr.eqns[start:end]
    inside = {v for e in eqns for v in e.outvars}
    later = {a for e in jaxpr.eqns[end:] for a in e.invars} | set(jaxpr.outvars)
    ins = {id(a): a for e in eqns for a in e.invars  # literals are scalars at run time
           if not hasattr(a, "val") and a not in inside}
    outs = [v for v in inside if v in later]
    rows = [_eqn_cost(e) for e in eqns]
    size = int(eqns[0].outvars[0].aval.size)
    blocks = -(-size // codegen.BLOCK_SIZE)
    names = tuple(e.primitive.name for e in eqns)
    return EqnCost(f"fused[{len(eqns)}]", sum(r.flops for r in rows),
                   sum(_nbytes(a.aval) for a in ins.values()),
                   sum(_nbytes(v.aval) for v in outs),
                   blocks * (sum(r.numpy_calls for r in rows) + 1), names, blocks)


def _nbytes(aval: ShapedArray) -> int:
    return int(aval.size) * aval.dtype.itemsize


def _eqn_cost(eqn: Any) -> EqnCost:
    ins = [a.aval for a in eqn.invars]
    outs = [v.aval for v in eqn.outvars]
    rule = cost_rules.get(eqn.primitive.name)
    flops = rule(ins, outs, eqn.params) if rule else sum(int(a.size) for a in outs)
    subs = [v for v in eqn.params.values() if isinstance(v, ClosedJaxpr)]
    for v in eqn.params.values():
        if isinstance(v, tuple):
            subs.extend(x for x in v if isinstance(x, ClosedJaxpr))
    calls = codegen.numpy_calls(eqn) + sum(Cost.of(s).numpy_calls for s in subs)
    if subs:
        flops = sum(Cost.of(s).flops for s in subs)
    return EqnCost(eqn.primitive.name, int(flops), sum(_nbytes(a) for a in ins),
                   sum(_nbytes(a) for a in outs), calls)


# == the public functions ========================================================================

def jit(fun: Callable[..., Any] | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        **unsupported: Any) -> Any:
    """Compile ``fun`` to NumPy source, once per input signature, as ``jax.jit``.

    Arguments in ``static_argnums``/``static_argnames`` are Python values the trace depends
    on (hashable); the rest are arrays, pytrees of them and Python scalars, whose shapes,
    dtypes and weak types make the signature. ``donate_argnums`` lets outputs reuse those
    arguments' buffers (the caller must not use them afterwards).

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> @fg.jit
    ... def f(x, y):
    ...     return fnp.tanh(x) @ y
    >>> f(np.zeros((2, 3)), np.ones(3))
    array([0., 0.])
    """
    for name in unsupported:
        if name not in ("inline", "keep_unused", "device", "backend", "abstracted_axes"):
            raise FuncgradTypeError(f"jit() got an unexpected keyword argument {name!r}")
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    donate = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
    if fun is None:
        return functools.partial(jit, static_argnums=nums, static_argnames=names,
                                 donate_argnums=donate)
    if not callable(fun):
        raise FuncgradTypeError(f"jit: expected a function, got {type(fun).__name__}")
    return JitFunction(fun, nums, names, donate)


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    """Run jitted functions eagerly inside the block (for debugging with print and pdb).

    >>> import funcgrad as fg, numpy as np
    >>> with fg.disable_jit():
    ...     fg.jit(lambda x: x + 1)(np.zeros(1))
    array([1.])
    """
    previous = config.disable_jit
    config.update("disable_jit", disable)
    try:
        yield
    finally:
        config.update("disable_jit", previous)

