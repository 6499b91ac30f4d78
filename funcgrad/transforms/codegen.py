"""Code generation: a closed jaxpr becomes the source of one Python function whose body is NumPy.

Every primitive has a codegen rule, registered next to its other rules in its family file:

- ``def_ufunc(prim, np.add)``: an elementwise primitive whose impl is that ufunc is written as
  ``c = np_add(a, b)`` (the ufunc bound as a global), written into an operand's buffer that
  is dead by liveness (``c = np_add(a, b, b)``: out passed positionally) when there is one;
- ``def_impl_call(prim)``: the generated code calls the primitive's impl (a self-contained
  NumPy function) directly, with its parameters bound: no ``bind``, no shape rule at run time;
- ``codegen_rules[prim] = rule``: ``rule(fn, eqn, ins, outs)`` writes the statements that
  assign the expressions ``ins`` to the names ``outs`` (control flow writes ``if``, ``while``
  and ``for`` around calls of generated functions for its bodies).

Variable names are the ones ``make_jaxpr`` prints; globals (ufuncs, kernels, constants) always
contain ``_`` or a digit, so they never collide with a variable. Each group of lines is
commented with the user's line it came from, and the source is registered with ``linecache``,
so tracebacks and pdb show it.

>>> import numpy as np
>>> from funcgrad import make_jaxpr
>>> import funcgrad.numpy as fnp
>>> closed = make_jaxpr(lambda x: fnp.tanh(x) * 2.0)(np.ones(3))
>>> print(generate(closed, "f").source, end="")  # doctest: +ELLIPSIS
def f_0(a):
    # <doctest ...>:1 (<lambda>)  closed = make_jaxpr(lambda x: fnp.tanh(x) * 2.0)(np.ones(3))
    b = np_tanh(a)
    c = np_multiply(b, f64_2_0, b)
    return (c,)
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import linecache
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core.errors import BackwardSourceInfo, SourceInfo
from funcgrad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var, _Namer
from funcgrad.core.primitive import Primitive, add_any_p
from funcgrad.transforms import passes

CodegenRule = Callable[["FunctionWriter", Eqn, list[str], list[str]], None]
codegen_rules: dict[Primitive, CodegenRule] = {}

# Primitives whose output never shares memory with an input and which write every element:
# only their outputs may be overwritten by a later ``out=`` (a view's buffer is someone else's).
# These are the elementwise primitives (ufuncs and select), which blocked evaluation fuses.
_fresh_output: set[Primitive] = set()
# The ufuncs among them: NumPy broadcasting lets their operands be lower-rank views.
_ufuncs: set[Primitive] = set()


# Reductions blocked evaluation can accumulate block by block: primitive -> its ufunc.
block_reductions: dict[Primitive, np.ufunc] = {}

# Blocked evaluation: an elementwise region over at least BLOCK_MIN_SIZE elements runs as a
# loop over blocks of BLOCK_SIZE elements, which stay in L2 between the region's ufuncs.
# Measured on the 19-ufunc value_and_grad of sum(tanh(x*a+b)**2 + exp(-x)*sin(x)) (float32,
# 2 MB L2): straight-line code with planned buffers is as fast or faster up to ~512K
# elements, blocks win from ~1M (4 MB per array) on; 32K- and 64K-element blocks tie
# (16K: ~6% slower, the per-block Python calls).
BLOCK_SIZE = 32768
# Below this many elements a fresh array costs less than passing out= by keyword (argument
# parsing; the ufuncs pass it positionally, which is cheaper than either).
SMALL_SIZE = 1024
BLOCK_MIN_SIZE = 1 << 19
# Memory: the generated code drops its reference to an intermediate of at least this many
# bytes after its last reader (smaller ones wait for the return; a line per equation would
# cost more than they weigh).
RELEASE_MIN_BYTES = 1 << 16
# Buffer planning: an elementwise intermediate of at least this many bytes that never reaches
# an output is written into a buffer of the compiled function's workspace, allocated once per
# signature, instead of a fresh array (a fresh large array costs its page faults every call).
PLAN_MIN_BYTES = 1 << 18
# Kernels whose result never aliases (or keeps) an operand, by name (codegen imports no lax):
# with the ufuncs and reductions, the readers a planned buffer may have. Their result is a
# buffer nobody else holds (fresh, or a pooled one handed out whole), so a later ufunc may
# write into it once it is dead (``p - lr * g`` into the gradient's buffer).
NON_ALIASING_KERNELS = frozenset({"dot_general", "conv_general_dilated",
                                  "reduce_window_max", "reduce_window_sum",
                                  "select_and_scatter_add", "select_and_gather_add",
                                  "conv_patches_transpose"})
# Blocking pays only when a region's temporaries would leave the cache: at least this many
# ufuncs (shorter runs, like an SGD update, are written straight into dead inputs' buffers:
# no block loop, no allocation) over at least BLOCK_MIN_SIZE elements.
BLOCK_MIN_UFUNCS = 3


class Workspace:
    """Buffers of fixed shapes and dtypes that a generated function borrows for a call.

    ``acquire`` pops a free set (allocating one only when none is free: the first call, or
    a re-entrant or concurrent call while another holds the set), ``release`` returns it; so
    steady-state calls allocate nothing, and no two running calls share a buffer.

    >>> ws = Workspace([((2, 3), np.dtype(np.float32))])
    >>> a = ws.acquire(); ws.release(a); ws.acquire()[0] is a[0]
    True
    """

    def __init__(self, specs: Sequence[tuple[tuple[int, ...], np.dtype]]):
        self.specs = list(specs)
        self._free: list[tuple[np.ndarray, ...]] = []
        self.allocations = 0

    def acquire(self) -> tuple[np.ndarray, ...]:
        try:
            return self._free.pop()    # atomic under the GIL: safe across threads
        except IndexError:
            self.allocations += 1
            return tuple(np.empty(shape, dtype) for shape, dtype in self.specs)

    def release(self, buffers: tuple[np.ndarray, ...]) -> None:
        self._free.append(buffers)


def def_ufunc(prim: Primitive, ufunc: np.ufunc,
              with_constant: Callable[..., np.ndarray] | None = None) -> None:
    """``prim`` is the elementwise ``ufunc``: emitted as ``ufunc(*ins)``, reusing dead buffers.
    ``with_constant(a, b, out)``, when given, is emitted instead for an operand that is a
    constant (a literal) and a large other one: the same bits by another kernel (max/min)."""
    codegen_rules[prim] = _ufunc_rule(ufunc, with_constant)
    _fresh_output.add(prim)
    _ufuncs.add(prim)


def def_ufunc_by_dtype(prim: Primitive, choose: Callable[[np.dtype], np.ufunc]) -> None:
    """``prim`` is the elementwise ufunc ``choose(dtype of its first operand)`` (``div``:
    np.divide, or np.floor_divide on integers)."""
    def rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
        _ufunc_rule(choose(eqn.invars[0].aval.dtype))(fn, eqn, ins, outs)
    codegen_rules[prim] = rule
    _fresh_output.add(prim)
    _ufuncs.add(prim)


def def_reshape(prim: Primitive, broadcast_kernel: Callable[..., np.ndarray]) -> None:
    """``prim`` is ``reshape``: of a broadcast (a zero-stride view, which NumPy's reshape
    copies element by element when the repeated axis is inner), the generated code calls
    ``broadcast_kernel(view, new_sizes)``, which returns a fresh array; otherwise the impl."""
    codegen_rules[prim] = _reshape_rule
    _broadcast_reshape_kernels[prim] = broadcast_kernel


_broadcast_reshape_kernels: dict[Primitive, Callable[..., np.ndarray]] = {}


def _reshape_rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
    x = eqn.invars[0]
    if isinstance(x, Var) and x in fn.broadcast_results and x.aval.size > SMALL_SIZE:
        helper = fn.global_(_broadcast_reshape_kernels[eqn.primitive], "broadcast_reshape")
        fn.assign(eqn, outs, f"{helper}({ins[0]}, {tuple(eqn.params['new_sizes'])!r})")
        fn._fresh.update(eqn.outvars)   # a fresh array, nobody else's
        return
    _impl_call_rule(fn, eqn, ins, outs)


def def_select(prim: Primitive) -> None:
    """``prim(pred, on_true, on_false)`` is ``np.where``: emitted on the bits, as ufuncs that
    write into a dead buffer or a block (see ``_select_rule``)."""
    codegen_rules[prim] = _select_rule
    _fresh_output.add(prim)


def def_broadcast(prim: Primitive) -> None:
    """``prim`` is ``broadcast_in_dim``: read only by ufuncs, it is a reshaped view that
    NumPy broadcasting expands inside the ufunc; otherwise the impl is called."""
    codegen_rules[prim] = _broadcast_rule


def def_impl_call(prim: Primitive) -> None:
    """The generated code calls ``prim.impl(*ins, **params)`` directly."""
    codegen_rules[prim] = _impl_call_rule


def def_identity(prim: Primitive) -> None:
    """``prim`` is the identity on its (single) operand at run time."""
    codegen_rules[prim] = _identity_rule


def call_rule(param: str) -> CodegenRule:
    """The rule of a call primitive: call the function generated for ``params[param]``."""
    def rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
        hint = eqn.params.get("name") or f"{eqn.primitive.name}_body"
        callee = fn.call_function(eqn.params[param], str(hint))
        fn.assign(eqn, outs, f"{callee}({', '.join(ins)})")
    return rule


def _ufunc_rule(ufunc: np.ufunc, with_constant: Callable[..., np.ndarray] | None = None
                ) -> CodegenRule:
    def rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
        if with_constant is not None and eqn.outvars[0].aval.size >= SMALL_SIZE and any(
                isinstance(a, Literal) for a in eqn.invars):
            callee = fn.global_(with_constant, f"{ufunc.__name__}_with_constant")
        else:
            callee = fn.ufunc(ufunc)
        call = f"{callee}({', '.join(ins)}"
        buf = fn.out_buffers.get(eqn.outvars[0]) or fn.reusable_buffer(eqn)
        if buf is not None:
            # out positionally: NumPy parses it faster than out= (and than allocating, for
            # small arrays: a 10-element np.sin 202 ns against 225 ns fresh, 240 ns out=)
            positional = len(ins) == ufunc.nin and ufunc not in _OUT_BY_KEYWORD
            out = buf if positional else f"out={buf}"
            fn.emit(f"{outs[0]} = {call}, {out})")
        else:
            fn.assign(eqn, outs, f"{call})")
    return rule


_UINT_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
# NumPy 2 deprecates a positional out for these (a DeprecationWarning on every call)
_OUT_BY_KEYWORD = {np.maximum, np.minimum}


def numpy_calls(eqn: Eqn) -> int:
    """NumPy calls the code for ``eqn`` makes (for ``cost()``): a select on the bits of two
    non-zero operands is three ufuncs; everything else one call."""
    if codegen_rules.get(eqn.primitive) is _select_rule and eqn.outvars[0].aval.size >= \
            SMALL_SIZE and eqn.outvars[0].aval.dtype.itemsize in _UINT_OF_SIZE:
        b = eqn.invars[2]
        zero = isinstance(b, Literal) and not np.array(_first(b.val)).view(
            _UINT_OF_SIZE[b.aval.dtype.itemsize]).item()
        return 1 if zero else 3
    return 1


def _select_rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
    """``select`` exactly (every bit: NaN payloads, -0.0), branch-free on the unsigned
    integers of the values' size: ``b ^ ((a ^ b) * pred)``, and ``a * pred`` when ``b`` is
    +0.0 (relu and its VJP). A bool times an integer is 0 or the integer, so each is one
    pass per ufunc that writes into the block or a dead operand's buffer; np.where branches
    per element (mispredicting on a relu's mask) and cannot write into a buffer. Small
    arrays, and dtypes with no unsigned integer of their size, use np.where."""
    pred, on_true, on_false = eqn.invars
    out = eqn.outvars[0].aval
    uint = _UINT_OF_SIZE.get(out.dtype.itemsize)
    buf = fn.out_buffers.get(eqn.outvars[0])
    if uint is None or (buf is None and out.size < SMALL_SIZE):
        expr = f"{fn.global_(np.where, 'np_where')}({', '.join(ins)})"
        if buf is not None:
            fn.emit(f"{fn.global_(np.copyto, 'np_copyto')}({buf}, {expr})")
            fn.emit(f"{outs[0]} = {buf}")
        else:
            fn.assign(eqn, outs, expr)
        return
    u = fn.param(np.dtype(uint), "dtype")

    def bits(atom: Any, name: str) -> tuple[str, bool]:
        """The operand's bits as source, and whether they are all zero."""
        if isinstance(atom, Literal):
            value = np.array(_first(atom.val)).view(uint)
            return fn.global_(value, f"u{8 * value.itemsize}_bits"), not value.item()
        return f"{name}.view({u})", False

    a, _ = bits(on_true, ins[1])
    b, b_zero = bits(on_false, ins[2])
    if buf is None:
        # a dead operand's buffer: on_true's (each formula reads it once, first)
        buf = fn.reusable_buffer(eqn, only=on_true)
    mul, xor = fn.ufunc(np.multiply), fn.ufunc(np.bitwise_xor)
    if b_zero:
        if buf is not None:
            fn.emit(f"{mul}({a}, {ins[0]}, out={buf}.view({u}))")
            fn.emit(f"{outs[0]} = {buf}")
        else:
            fn.emit(f"{outs[0]} = {mul}({a}, {ins[0]}).view({fn.param(out.dtype, 'dtype')})")
        return
    if buf is not None:
        t = f"{buf}.view({u})"
        fn.emit(f"{xor}({a}, {b}, out={t})")
        fn.emit(f"{mul}({t}, {ins[0]}, out={t})")
        fn.emit(f"{xor}({t}, {b}, out={t})")
        fn.emit(f"{outs[0]} = {buf}")
        return
    t = fn.fresh_name()
    fn.emit(f"{t} = {mul}({xor}({a}, {b}), {ins[0]})")
    fn.emit(f"{xor}({t}, {b}, out={t})")
    fn.emit(f"{outs[0]} = {t}.view({fn.param(out.dtype, 'dtype')})")


def _broadcast_rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
    view = fn.implicit_broadcasts.get(eqn.outvars[0])
    if view is None:
        _impl_call_rule(fn, eqn, ins, outs)
    elif view == tuple(eqn.invars[0].aval.shape):
        fn.emit(f"{outs[0]} = {ins[0]}")
    else:
        fn.emit(f"{outs[0]} = {ins[0]}.reshape({view!r})")


def _impl_call_rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
    impl = fn.global_(eqn.primitive.impl, f"{eqn.primitive.name}_impl")
    args = [*ins, *(f"{k}={fn.param(v, k)}" for k, v in eqn.params.items())]
    fn.assign(eqn, outs, f"{impl}({', '.join(args)})")


def _identity_rule(fn: FunctionWriter, eqn: Eqn, ins: list[str], outs: list[str]) -> None:
    fn.emit(f"{outs[0]} = {ins[0]}")


def_ufunc(add_any_p, np.add)
passes.commutative.add(add_any_p)


# == the writer ==================================================================================

class Module:
    """The generated module: its functions' source lines and the globals they read."""

    _ids = itertools.count()

    def __init__(self, name: str):
        self.name = _identifier(name)
        self.filename = f"<funcgrad-jit {self.name} #{next(Module._ids)}>"
        self.namespace: dict[str, Any] = {"np": np}
        self._global_names: dict[int, str] = {}  # id(value) -> name
        self._keep_alive: list[Any] = []
        self.functions: list[list[str]] = []
        self.function_sources: list[list[SourceInfo | None]] = []  # per line, the user's
        self._function_names: dict[int, str] = {}
        self._literals: dict[Any, str] = {}
        self._counters: dict[str, itertools.count[int]] = {}

    def unique(self, hint: str) -> str:
        """A new global name from ``hint``, with a ``_`` or digit (no variable has either)."""
        hint = _identifier(hint)
        counter = self._counters.setdefault(hint, itertools.count())
        while True:
            n = next(counter)
            name = f"{hint}_{n}" if n or "_" not in hint else hint
            if name not in self.namespace:
                return name

    def global_(self, value: Any, hint: str) -> str:
        """The global name under which the generated code reads ``value``."""
        key = id(value)
        if key not in self._global_names:
            name = self.unique(hint)
            self.namespace[name] = value
            self._keep_alive.append(value)  # ids stay unique while the module lives
            self._global_names[key] = name
        return self._global_names[key]

    def function(self, closed: ClosedJaxpr | Jaxpr, hint: str, namer: _Namer | None = None,
                 consts: Sequence[Any] | None = None, donated: Sequence[bool] = ()) -> str:
        """Generate a function for ``closed`` (once per jaxpr object); return its name."""
        key = id(closed)
        if key in self._function_names:
            return self._function_names[key]
        # Always a name with "_" or a digit: a plain "f" could be a constant's global.
        name = self.unique(hint)
        self.namespace[name] = None  # reserved: the def below binds it
        self._function_names[key] = name
        self._keep_alive.append(closed)
        jaxpr = closed.jaxpr if isinstance(closed, ClosedJaxpr) else closed
        if consts is None:
            consts = closed.consts if isinstance(closed, ClosedJaxpr) else []
        writer = FunctionWriter(self, name, jaxpr, consts, namer or _Namer())
        # A donated input's buffer is the function's to overwrite once it is dead.
        if donated:  # () means nothing is donated
            writer._fresh.update(v for v, d in zip(jaxpr.invars, donated, strict=True) if d)
        slot = len(self.functions)
        self.functions.append([])  # the top function is first in the source
        self.function_sources.append([])
        self.functions[slot], self.function_sources[slot] = writer.write()
        return name

    def literal(self, lit: Literal) -> str:
        """The global holding a literal's value (one per dtype and value)."""
        # A literal is a scalar or a scalar broadcast by a zero-stride view: its first
        # element and shape say what it is (tobytes would materialize the broadcast).
        val = lit.val
        key = (val.dtype.str, val.shape, _first(val).tobytes() if val.size else b"")
        if key not in self._literals:
            self._literals[key] = self.global_(lit.val, _literal_hint(lit))
        return self._literals[key]

    @property
    def source(self) -> str:
        return "\n\n\n".join("\n".join(lines) for lines in self.functions) + "\n"

    def compile(self) -> dict[str, Any]:
        """Execute the source (registered with ``linecache``) and return the namespace."""
        source = self.source
        lines = source.splitlines(keepends=True)
        linecache.cache[self.filename] = (len(source), None, lines, self.filename)
        exec(compile(source, self.filename, "exec"), self.namespace)  # noqa: S102
        return self.namespace

    @property
    def line_sources(self) -> dict[int, SourceInfo]:
        """The user's line behind each generated line (by line number in the source)."""
        found: dict[int, SourceInfo] = {}
        lineno = 1
        for infos in self.function_sources:
            for info in infos:
                if info is not None:
                    found[lineno] = info
                lineno += 1
            lineno += 2  # the blank lines between functions
        return found


def _identifier(hint: str) -> str:
    name = re.sub(r"\W", "_", hint).strip("_") or "fn"
    return f"fn_{name}" if name[0].isdigit() else name


class FunctionWriter:
    """Writes one generated function: a statement per equation, grouped by the user's line."""

    def __init__(self, module: Module, name: str, jaxpr: Jaxpr, consts: Sequence[Any],
                 namer: _Namer, optimize: bool = True):
        self.module = module
        self.name = name
        self.jaxpr = passes.optimize(jaxpr) if optimize else jaxpr
        self.blocking = optimize  # a block function is not blocked again
        self.consts = consts
        self.namer = namer
        self.lines: list[str] = []
        self.sources: list[SourceInfo | None] = []  # the user's line behind each line
        self.source_info: SourceInfo | None = None
        self.indent = 1
        self._last_uses = _last_uses(self.jaxpr)
        self._not_released = {*self.jaxpr.constvars, *self.jaxpr.invars}  # globals, caller's
        self._fresh: set[Var] = set()  # variables whose buffer this function allocated
        self._views_taken: set[Var] = set()  # read by an equation that might alias them
        self._eqn_index = 0
        self.out_buffers: dict[Var, str] = {}  # outputs written into given buffers (blocks)
        self.buffer_vars: dict[Var, Var] = {}  # ... named by these (block function params)
        self._private = _private_vars(self.jaxpr) if optimize else set()
        # broadcast_in_dim results read only by ufuncs: var -> the operand's view shape
        self.implicit_broadcasts = implicit_broadcasts(self.jaxpr) if optimize else {}
        # materialised broadcast_in_dim results (zero-stride views at run time)
        self.broadcast_results = {e.outvars[0] for e in self.jaxpr.eqns
                                  if e.primitive.name == "broadcast_in_dim"
                                  and e.outvars[0] not in self.implicit_broadcasts}
        self._planned: set[Var] = set()  # variables living in a workspace buffer
        self._workspace: list[tuple[str, tuple[int, ...], np.dtype]] = []

    # -- what rules call -----------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)
        self.sources.append(self.source_info)

    def global_(self, value: Any, hint: str) -> str:
        return self.module.global_(value, hint)

    def ufunc(self, ufunc: np.ufunc) -> str:
        # A global per ufunc (np_sin), not np.sin: one dictionary lookup fewer per call,
        # which is a tenth of a ufunc call on small arrays.
        if getattr(np, ufunc.__name__, None) is ufunc:
            return self.global_(ufunc, f"np_{ufunc.__name__}")
        return self.global_(ufunc, f"{ufunc.__name__}_ufunc")

    def fresh_name(self) -> str:
        """A new local variable name (from the same sequence as the printed names)."""
        return next(self.namer.fresh)

    def param(self, value: Any, hint: str) -> str:
        """``value`` as source: a literal when it round-trips, else a global."""
        if _is_literal(value):
            return repr(value)
        if isinstance(value, np.dtype):
            return self.global_(_canonical(value), f"dtype_{value.name}")
        return self.global_(value, f"{hint}_param")

    def call_function(self, closed: ClosedJaxpr | Jaxpr, hint: str) -> str:
        """The name of a generated function for a sub-jaxpr (returns a tuple of outputs)."""
        return self.module.function(closed, hint, self.namer)

    def assign(self, eqn: Eqn, outs: list[str], expr: str) -> None:
        """``outs = expr``; a 0-d result is made an array (NumPy returns scalars for them)."""
        if not outs:
            self.emit(expr)  # an equation run for its effect
        elif eqn.primitive.multiple_results:
            targets = ", ".join(outs) + ("," if len(outs) == 1 else "")
            self.emit(f"{targets} = {expr}")
        elif eqn.outvars[0].aval.shape == ():
            self.emit(f"{outs[0]} = np.asarray({expr})")
        else:
            self.emit(f"{outs[0]} = {expr}")

    def reusable_buffer(self, eqn: Eqn, only: Any = None) -> str | None:
        """An input of ``eqn`` (or just ``only``) that the output may overwrite: allocated here
        by a fresh-output primitive or kernel, of the output's shape and dtype, never aliased,
        and dead after ``eqn``; else a planned workspace buffer for a private result."""
        out = eqn.outvars[0].aval
        private = eqn.outvars[0] in self._private
        for atom in (eqn.invars if only is None else [only]):
            if (isinstance(atom, Var) and atom in self._fresh and atom not in self._views_taken
                    and self._last_uses.get(atom) == self._eqn_index
                    and atom.aval.shape == out.shape and atom.aval.dtype == out.dtype
                    and (private or atom not in self._planned)):  # a workspace never escapes
                if atom in self._planned:
                    self._planned.add(eqn.outvars[0])
                return self.namer(atom)
        if private:
            name = self.fresh_name()
            self._workspace.append((name, tuple(out.shape), out.dtype))
            self._planned.add(eqn.outvars[0])
            return name
        return None

    # -- writing ------------------------------------------------------------------------------
    def write(self) -> tuple[list[str], list[SourceInfo | None]]:
        namer, jaxpr = self.namer, self.jaxpr
        for v in [*jaxpr.constvars, *jaxpr.invars]:
            namer(v)
        for eqn in jaxpr.eqns:
            for v in eqn.outvars:
                namer(v)
        for var, value in zip(jaxpr.constvars, self.consts, strict=True):
            self.module.namespace[namer(var)] = value  # unique names: module-wide namer
        header = f"def {self.name}({', '.join(namer(v) for v in jaxpr.invars)}):"
        last_source: Any = object()
        regions = dict(block_regions(jaxpr, self.implicit_broadcasts)) if self.blocking else {}
        for var, buf in self.buffer_vars.items():
            self.out_buffers[var] = namer(buf)
        skip_to = 0
        for i, eqn in enumerate(jaxpr.eqns):
            if i < skip_to:
                continue
            if i in regions:
                self.source_info = None
                self._emit_blocked(i, regions[i])
                self._release(i, regions[i])
                skip_to, last_source = regions[i], object()
                continue
            self._eqn_index = i
            where = (eqn.source_info, getattr(eqn.source_info, "backward_of", None))
            if where != last_source and eqn.source_info is not None:
                self.source_info = None
                self.emit(_source_comment(eqn.source_info))
            last_source, self.source_info = where, eqn.source_info
            rule = codegen_rules.get(eqn.primitive)
            if rule is None:
                raise NotImplementedError(f"primitive {eqn.primitive.name!r} has no codegen rule")
            ins = [self._atom(a) for a in eqn.invars]
            outs = [namer(v) for v in eqn.outvars]
            rule(self, eqn, ins, outs)
            if eqn.primitive in _fresh_output or _non_aliasing(eqn.primitive):
                self._fresh.update(eqn.outvars)
            else:
                self._views_taken.update(a for a in eqn.invars if isinstance(a, Var))
            self._release(i, i + 1)
        outs = [self._atom(a) for a in jaxpr.outvars]
        self.source_info = None
        self.emit(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
        if self._workspace:
            return self._with_workspace(header)
        return [header, *self.lines], [None, *self.sources]

    def _release(self, lo: int, hi: int) -> None:
        """Drop the local names of large arrays whose last reader is in eqns[lo:hi] (and of
        results nobody reads), so their memory goes back as the program runs instead of at
        its return: the peak is then what is live, as in eager mode. Constants are globals
        (a local of that name would shadow them) and inputs belong to the caller."""
        if not self.blocking:  # block functions see slices: nothing large to drop
            return
        jaxpr, last, keep = self.jaxpr, self._last_uses, self._not_released
        dead: list[Var] = []
        for eqn in jaxpr.eqns[lo:hi]:
            for a in eqn.invars:
                if (isinstance(a, Var) and a not in keep and a not in dead
                        and lo <= last.get(a, -1) < hi):
                    dead.append(a)
            if hi - lo == 1:  # a region's unread temporaries live inside its block function
                dead.extend(v for v in eqn.outvars if v not in last and v not in dead)
        names = [self.namer(v) for v in dead if _nbytes(v) >= RELEASE_MIN_BYTES]
        if names:
            self.emit(" = ".join(names) + " = None")

    def _with_workspace(self, header: str) -> tuple[list[str], list[SourceInfo | None]]:
        """The body inside ``try``: borrow the workspace's buffers for the call, give them
        back in ``finally`` (the outputs never live in them)."""
        ws = self.global_(Workspace([(shape, dtype) for _, shape, dtype in self._workspace]),
                          "workspace")
        held = self.fresh_name()
        names = ", ".join(name for name, _, _ in self._workspace)
        lines = [f"    # {len(self._workspace)} intermediate buffer(s) planned: allocated once "
                 f"per signature, borrowed per call",
                 f"    {held} = {ws}.acquire()",
                 f"    {names}{',' if len(self._workspace) == 1 else ''} = {held}",
                 "    try:",
                 *("    " + line for line in self.lines),
                 "    finally:",
                 f"        {ws}.release({held})"]
        sources = [None, None, None, None, *self.sources, None, None]
        return [header, *lines], [None, *sources]

    def _atom(self, atom: Var | Literal) -> str:
        if isinstance(atom, Literal):
            return self.module.literal(atom)
        return self.namer(atom)

    # -- blocked evaluation -----------------------------------------------------------------
    def _emit_blocked(self, start: int, end: int) -> None:
        """Emit eqns[start:end] (an elementwise region) as a loop over blocks of a generated
        block function: inputs and outputs are flat slices, temporaries block buffers."""
        eqns = self.jaxpr.eqns[start:end]
        shape = eqns[0].outvars[0].aval.shape
        size = eqns[0].outvars[0].aval.size
        inside = {v for e in eqns for v in e.outvars}
        later = {a for e in self.jaxpr.eqns[end:] for a in e.invars if isinstance(a, Var)}
        later |= {a for a in self.jaxpr.outvars if isinstance(a, Var)}
        ins: list[Var] = []
        for e in eqns:
            for a in e.invars:
                if isinstance(a, Var) and a not in inside and a not in ins:
                    ins.append(a)
        reduced = [e for e in eqns if e.primitive in block_reductions]
        outs = [v for e in eqns if e.primitive not in block_reductions for v in e.outvars
                if v in later]
        # block buffers for the temporaries, reused by liveness inside the region
        last: dict[Var, int] = {}
        for j, e in enumerate(eqns):
            for a in e.invars:
                if isinstance(a, Var):
                    last[a] = j
        free: dict[Any, list[Var]] = {}
        buffers: list[Var] = []
        assigned: dict[Var, Var] = {}
        out_slices = {v: Var(v.aval) for v in outs}
        for j, e in enumerate(eqns):
            v = e.outvars[0]
            if e.primitive not in block_reductions and v not in out_slices:
                pool = free.setdefault(v.aval.dtype, [])
                if not pool:
                    buf = Var(v.aval)
                    buffers.append(buf)
                    pool.append(buf)
                assigned[v] = pool.pop()
            for a in e.invars:
                if isinstance(a, Var) and a in assigned and last.get(a) == j:
                    free.setdefault(a.aval.dtype, []).append(assigned[a])
        # the block function: reductions reduce their whole (1-d) block
        body_eqns = [Eqn(e.primitive, [_scalar_literal(a) for a in e.invars], e.outvars,
                         {**e.params, "axes": (0,)} if e.primitive in block_reductions
                         else e.params, e.source_info) for e in eqns]
        partials = [e.outvars[0] for e in reduced]
        body = Jaxpr([], [*ins, *out_slices.values(), *buffers],
                     partials, body_eqns)
        writer_buffers = {**{v: out_slices[v] for v in outs}, **assigned}
        name = self.module.unique("fused_block")
        self.module.namespace[name] = None
        writer = FunctionWriter(self.module, name, body, [], self.namer, optimize=False)
        writer.buffer_vars = writer_buffers
        slot = len(self.module.functions)
        self.module.functions.append([])
        self.module.function_sources.append([])
        self.module.functions[slot], self.module.function_sources[slot] = writer.write()
        # the loop
        n_full, tail = divmod(size, BLOCK_SIZE)
        names = {v: self.namer(v) for v in [*ins, *outs]}
        self.emit(f"# {len(eqns)} elementwise equations fused over {size:,} elements in "
                  f"blocks of {BLOCK_SIZE:,}" + (" (reductions accumulated per block)"
                                                 if reduced else ""))
        for v in outs:
            if v in self._private:
                self._workspace.append((names[v], tuple(v.aval.shape), v.aval.dtype))
                self._planned.add(v)
            else:
                self.emit(f"{names[v]} = np.empty({shape!r}, "
                          f"{self.param(v.aval.dtype, 'dtype')})")
            self._fresh.add(v)
        flat = {v: self.fresh_name() for v in [*ins, *outs] if v.aval.shape == shape}
        for v, f in flat.items():
            self.emit(f"{f} = {names[v]}.reshape(-1)")
        threads = BLOCK_THREADS if n_full >= BLOCK_THREADS * BLOCKS_PER_THREAD else 1
        bufs = [self.fresh_name() for _ in buffers]
        for b, v in zip(bufs, buffers, strict=True):  # block temporaries: planned, never escape
            self._workspace.append((b, (threads, BLOCK_SIZE) if threads > 1 else (BLOCK_SIZE,),
                                    v.aval.dtype))
        if threads > 1:
            self._emit_threaded_loop(name, ins, outs, flat, names, bufs, reduced, n_full, tail,
                                     threads)
            self._views_taken.update(ins)
            if flat:  # the flat views would keep their arrays alive
                self.emit(" = ".join(flat.values()) + " = None")
            return
        for e in reduced:
            out = e.outvars[0]
            self.emit(f"{self.namer(out)} = np.zeros((), {self.param(out.aval.dtype, 'dtype')})")
        acc = [self.fresh_name() for _ in reduced]
        lo = self.fresh_name()

        def call(block: str, buf_slice: str) -> None:
            args = [f"{flat[v]}[{block}]" if v in flat else names[v] for v in ins]
            args += [f"{flat[v]}[{block}]" for v in outs]
            args += [f"{b}{buf_slice}" for b in bufs]
            targets = ", ".join(acc) + ("," if len(acc) == 1 else "")
            self.emit(f"{targets + ' = ' if acc else ''}{name}({', '.join(args)})")
            for e, a in zip(reduced, acc, strict=True):
                ufunc = block_reductions[e.primitive]
                r = self.namer(e.outvars[0])
                self.emit(f"{self.ufunc(ufunc)}({r}, {a}, out={r})")

        if n_full:
            self.emit(f"for {lo} in range(0, {n_full * BLOCK_SIZE}, {BLOCK_SIZE}):")
            self.indent += 1
            call(f"{lo}:{lo} + {BLOCK_SIZE}", "")
            self.indent -= 1
        if tail:
            call(f"{n_full * BLOCK_SIZE}:", f"[:{tail}]")
        self._views_taken.update(ins)
        if flat:  # the flat views would keep their arrays alive
            self.emit(" = ".join(flat.values()) + " = None")

    def _emit_threaded_loop(self, block_fn: str, ins: list[Var], outs: list[Var],
                            flat: dict[Var, str], names: dict[Var, str], bufs: list[str],
                            reduced: list[Eqn], n_full: int, tail: int, threads: int) -> None:
        """The full blocks split between ``threads`` threads (NumPy's ufuncs release the
        GIL): thread ``t`` runs blocks t, t + threads, ... in a generated loop function with
        its own row of the block temporaries; each block's partial reductions are kept and
        accumulated in block order afterwards, so the result is the single-thread one, bit
        for bit."""
        loop = self.module.unique("fused_loop")
        self.module.namespace[loop] = None
        first, i, lo = self.fresh_name(), self.fresh_name(), self.fresh_name()
        parts = [self.fresh_name() for _ in reduced]
        accs = [self.fresh_name() for _ in reduced]
        arrays = [flat.get(v, names[v]) for v in ins] + [flat[v] for v in outs]
        params = [first, *arrays, *bufs, *parts]
        block = f"{lo}:{lo} + {BLOCK_SIZE}"
        args = [f"{flat[v]}[{block}]" if v in flat else names[v] for v in ins]
        args += [f"{flat[v]}[{block}]" for v in outs] + bufs
        targets = ", ".join(accs) + ("," if len(accs) == 1 else "")
        body = [f"def {loop}({', '.join(params)}):",
                f"    for {i} in range({first}, {n_full}, {threads}):",
                f"        {lo} = {i} * {BLOCK_SIZE}",
                f"        {targets + ' = ' if accs else ''}{block_fn}({', '.join(args)})",
                *(f"        {p}[{i}] = {a}" for p, a in zip(parts, accs, strict=True)),
                "    return None"]
        self.module.functions.append(body)
        self.module.function_sources.append([None] * len(body))
        for e, p in zip(reduced, parts, strict=True):
            dt = self.param(e.outvars[0].aval.dtype, "dtype")
            self.emit(f"{self.namer(e.outvars[0])} = np.zeros((), {dt})")
            self.emit(f"{p} = np.empty(({n_full},), {dt})")
        run = self.global_(run_on_threads, "run_on_threads")
        t = self.fresh_name()
        self.emit(f"# {n_full} full blocks run by {threads} threads, block i by thread "
                  f"i % {threads}")
        loop_args = ", ".join([t, *arrays, *(f"{b}[{t}]" for b in bufs), *parts])
        self.emit(f"{run}(lambda {t}: {loop}({loop_args}), {threads})")
        for e, p in zip(reduced, parts, strict=True):
            ufunc = block_reductions[e.primitive]
            r = self.namer(e.outvars[0])
            part = self.fresh_name()
            self.emit(f"for {part} in {p}:  # in block order: the sequential result")
            self.emit(f"    {self.ufunc(ufunc)}({r}, {part}, out={r})")
        if tail:
            start = n_full * BLOCK_SIZE
            args = [f"{flat[v]}[{start}:]" if v in flat else names[v] for v in ins]
            args += [f"{flat[v]}[{start}:]" for v in outs]
            args += [f"{b}[0][:{tail}]" for b in bufs]
            self.emit(f"{targets + ' = ' if accs else ''}{block_fn}({', '.join(args)})")
            for e, a in zip(reduced, accs, strict=True):
                ufunc = block_reductions[e.primitive]
                r = self.namer(e.outvars[0])
                self.emit(f"{self.ufunc(ufunc)}({r}, {a}, out={r})")



# Threads for the block loop of a large region: NumPy's ufuncs release the GIL, so the blocks
# of one region can run on BLOCK_THREADS cores (the main thread and BLOCK_THREADS - 1 pool
# threads), when there are at least BLOCKS_PER_THREAD full blocks per thread. Two by default
# (FUNCGRAD_JIT_THREADS, read at import, capped at the CPU count; 1 turns it off): on the
# 2-core box, value_and_grad of the 1e6-element chain went from 4.0 to 2.5 ms. Smaller blocks
# lose it again: every ufunc call holds the GIL for about a microsecond, and at 8K-element
# blocks those serialised calls cost more than the second core gives.
BLOCK_THREADS = max(1, min(os.cpu_count() or 1, int(os.environ.get("FUNCGRAD_JIT_THREADS", 2))))
BLOCKS_PER_THREAD = 4
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _forget_executor() -> None:
    global _executor, _executor_lock
    # A forked child has the pool object but not its threads (work submitted to it would
    # wait forever), and maybe a lock held by a thread it does not have.
    _executor, _executor_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor)


def submit_block_loop(fn: Callable[..., None], *args: Any) -> concurrent.futures.Future[None]:
    """Run ``fn(*args)`` on the block-loop thread pool, in the caller's context (NumPy's
    errstate is a context variable)."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = concurrent.futures.ThreadPoolExecutor(
                    max(1, BLOCK_THREADS - 1), thread_name_prefix="funcgrad-blocks")
    return _executor.submit(contextvars.copy_context().run, fn, *args)


_in_pool = threading.local()  # set in the pool's threads: a nested parallel_chunks runs inline


# Kernels split work of at least PARALLEL_MIN_BYTES into chunks of about CHUNK_BYTES (at
# least one per thread). On the 2-core box a max pool's forward on 32x64x32x32 float32 went
# from 1.0 to 0.6-0.9 ms and its VJP from 3.7-6 to 2-3 ms in two chunks; 32 one-image chunks
# lost most of it again to the per-chunk Python and the GIL each call holds.
PARALLEL_MIN_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20


def parallel_chunks(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """``fn(lo, hi)`` over contiguous ranges that cover ``range(n)``: one call when the work
    (``nbytes``) is small, else chunks of about CHUNK_BYTES on BLOCK_THREADS threads (thread
    ``t`` runs chunks t, t + T, ...). How the kernels split independent rows (images,
    channels): ``fn`` writes each range's own part of its outputs, so the result is the
    sequential one, bit for bit. An exception from any chunk is raised after every chunk has
    finished.

    >>> out = np.zeros(10)
    >>> parallel_chunks(lambda lo, hi: out.__setitem__(slice(lo, hi), hi - lo), 10, 0)
    >>> out
    array([10., 10., 10., 10., 10., 10., 10., 10., 10., 10.])
    """
    chunks = 1 if nbytes < PARALLEL_MIN_BYTES else max(BLOCK_THREADS, nbytes // CHUNK_BYTES)
    chunks = max(1, min(chunks, n))
    threads = min(BLOCK_THREADS, chunks)
    bounds = [n * i // chunks for i in range(chunks + 1)]
    if threads == 1 or getattr(_in_pool, "active", False):
        for i in range(chunks):
            fn(bounds[i], bounds[i + 1])
        return

    def share(t: int) -> None:
        _in_pool.active = True
        try:
            for i in range(t, chunks, threads):
                fn(bounds[i], bounds[i + 1])
        finally:
            _in_pool.active = False

    run_on_threads(share, threads)


def run_on_threads(fn: Callable[[int], None], threads: int) -> None:
    """``fn(t)`` for every ``t`` in ``range(threads)``: 0 on the calling thread, the others on
    the block-loop pool. Returns only when every call has finished, even when one raised
    (they write into the caller's buffers, which may go back to a workspace right after),
    then raises the first exception.

    >>> seen = []
    >>> run_on_threads(seen.append, 1); seen
    [0]
    """
    futures = [submit_block_loop(fn, t) for t in range(1, threads)]
    try:
        fn(0)
    finally:
        for future in futures:
            future.exception()  # waits, and keeps the pool thread's exception for result()
    for future in futures:
        future.result()


def _nbytes(v: Var) -> int:
    return v.aval.size * np.dtype(v.aval.dtype).itemsize


def _scalar_literal(atom: Any) -> Any:
    # A zero-stride literal broadcasts as its scalar, which every block can use.
    if isinstance(atom, Literal) and atom.val.ndim and not any(atom.val.strides):
        return Literal(np.asarray(atom.val[(0,) * atom.val.ndim]), atom.aval.update(shape=()))
    return atom


def block_regions(jaxpr: Jaxpr, views: Any = None) -> list[tuple[int, int]]:
    """Maximal runs of at least BLOCK_MIN_UFUNCS elementwise equations over one large shape
    (operands of that shape, 0-d, or broadcast literals; not the broadcasting ``views``,
    by default ``implicit_broadcasts(jaxpr)``), with the full reductions of their values."""
    if views is None:
        views = implicit_broadcasts(jaxpr)
    regions: list[tuple[int, int]] = []
    start: int | None = None
    shape: tuple[int, ...] | None = None
    inside: set[Var] = set()
    n_ufuncs = 0

    def close(end: int) -> None:
        if start is not None and n_ufuncs >= BLOCK_MIN_UFUNCS:
            regions.append((start, end))

    def operands_ok(eqn: Eqn, shape: tuple[int, ...]) -> bool:
        return all(a.aval.shape in (shape, ()) and a not in views and (
            not isinstance(a, Literal) or a.val.ndim == 0 or not any(a.val.strides))
            for a in eqn.invars)

    for i, eqn in enumerate(jaxpr.eqns):
        if len(eqn.outvars) != 1:
            close(i)
            start, shape, n_ufuncs = None, None, 0
            continue
        out = eqn.outvars[0].aval
        ok_shape = shape if shape is not None else out.shape
        fusible = False
        if eqn.primitive in _fresh_output and len(eqn.outvars) == 1 and out.shape == ok_shape \
                and out.size >= BLOCK_MIN_SIZE:
            fusible = operands_ok(eqn, out.shape)
        elif eqn.primitive in block_reductions and shape is not None:
            x = eqn.invars[0]
            fusible = (isinstance(x, Var) and x in inside and x.aval.shape == shape
                       and tuple(eqn.params.get("axes", ())) == tuple(range(len(shape))))
        if fusible:
            if start is None:
                start, shape, inside, n_ufuncs = i, out.shape, set(), 0
            inside.update(eqn.outvars)
            n_ufuncs += eqn.primitive in _fresh_output
        else:
            close(i)
            start, shape, n_ufuncs = None, None, 0
            if eqn.primitive in _fresh_output and len(eqn.outvars) == 1 and \
                    out.size >= BLOCK_MIN_SIZE and operands_ok(eqn, out.shape):
                start, shape, inside, n_ufuncs = i, out.shape, set(eqn.outvars), 1
    close(len(jaxpr.eqns))
    return regions


def _non_aliasing(prim: Primitive) -> bool:
    return prim in block_reductions or prim.name in NON_ALIASING_KERNELS


def implicit_broadcasts(jaxpr: Jaxpr) -> dict[Var, tuple[int, ...]]:
    """``broadcast_in_dim`` results that stay lower-rank views (``b.reshape(1, 512)``), with
    the view's shape: every reader is a ufunc that NumPy broadcasting expands them in, and
    another operand of it (not such a view) has the full shape, so the result's shape is
    right. Never an output. The views keep the broadcast out of memory (and blocked regions
    never read them: flattening a broadcast would copy it)."""
    views: dict[Var, tuple[int, ...]] = {}
    for eqn in jaxpr.eqns:
        if eqn.primitive.name != "broadcast_in_dim" or not isinstance(eqn.invars[0], Var):
            continue
        x, dims = eqn.invars[0].aval, tuple(eqn.params["broadcast_dimensions"])
        shape = tuple(eqn.params["shape"])
        if list(dims) != sorted(set(dims)):
            continue  # a transposing broadcast is no reshape
        expanded = [1] * len(shape)
        for src, dst in enumerate(dims):
            expanded[dst] = x.shape[src]
        while expanded and expanded[0] == 1 and len(expanded) > x.ndim:
            expanded.pop(0)  # NumPy broadcasting prepends the leading axes
        views[eqn.outvars[0]] = tuple(expanded)
    if not views:
        return views
    for a in jaxpr.outvars:
        if isinstance(a, Var):
            views.pop(a, None)
    for eqn in jaxpr.eqns:
        read = [a for a in eqn.invars if isinstance(a, Var) and a in views]
        if not read:
            continue
        full = eqn.outvars[0].aval.shape if len(eqn.outvars) == 1 else None
        if not (eqn.primitive in _ufuncs and len(eqn.outvars) == 1 and any(
                isinstance(a, Var) and a not in views and a.aval.shape == full
                for a in eqn.invars)):
            for a in read:
                views.pop(a, None)
    return views


def _private_vars(jaxpr: Jaxpr) -> set[Var]:
    """Large elementwise results read only by operations that never alias their operands
    (ufuncs, reductions) and never outputs: they may live in a planned workspace buffer."""
    readers: dict[Var, list[Primitive]] = {}
    for eqn in jaxpr.eqns:
        for a in eqn.invars:
            if isinstance(a, Var):
                readers.setdefault(a, []).append(eqn.primitive)
    outputs = {a for a in jaxpr.outvars if isinstance(a, Var)}
    private = set()
    for eqn in jaxpr.eqns:
        if eqn.primitive not in _fresh_output or len(eqn.outvars) != 1:
            continue
        v = eqn.outvars[0]
        if (v not in outputs and v.aval.size * v.aval.dtype.itemsize >= PLAN_MIN_BYTES
                and all(p in _fresh_output or p in block_reductions
                        or p.name in NON_ALIASING_KERNELS for p in readers.get(v, []))):
            private.add(v)
    return private


def _last_uses(jaxpr: Jaxpr) -> dict[Var, int]:
    """The index of the last equation reading each variable (outputs: never dead)."""
    last: dict[Var, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for a in eqn.invars:
            if isinstance(a, Var):
                last[a] = i
    for a in jaxpr.outvars:
        if isinstance(a, Var):
            last[a] = len(jaxpr.eqns)
    return last


def _is_literal(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value) in (bool, int, float, str, type(None)) and (
            not isinstance(value, float) or np.isfinite(value))
    if isinstance(value, tuple):
        return all(_is_literal(v) for v in value)
    return False


_DTYPES: dict[str, np.dtype] = {}


def _canonical(dtype: np.dtype) -> np.dtype:
    return _DTYPES.setdefault(dtype.str, dtype)


def _first(val: np.ndarray) -> Any:
    return val[(0,) * val.ndim]


def _literal_hint(lit: Literal) -> str:
    val = _first(lit.val).item() if lit.val.size else 0
    text = repr(val).replace("-", "m").replace(".", "_").replace("+", "")
    return f"{lit.aval.str_short().split('[')[0]}_{text}"


def _source_comment(info: SourceInfo) -> str:
    file, line, _ = info[:3]
    code = linecache.getline(file, line).strip()
    where = f"{info}  {code}" if code else str(info)
    if isinstance(info, BackwardSourceInfo):
        where = f"{SourceInfo.__str__(info)}  {code}  [vjp of {info.backward_of}]"
    return f"# {where}"


class Generated:
    """A generated module's top function and its source."""

    def __init__(self, module: Module, name: str):
        self.module = module
        self.name = name

    @property
    def source(self) -> str:
        return self.module.source

    def compile(self) -> Callable[..., tuple[Any, ...]]:
        return self.module.compile()[self.name]  # type: ignore[no-any-return]


def generate(closed: ClosedJaxpr, name: str) -> Generated:
    """The generated source of ``closed`` as a function ``name(*invars) -> tuple of outvars``."""
    module = Module(name)
    return Generated(module, module.function(closed, name))
