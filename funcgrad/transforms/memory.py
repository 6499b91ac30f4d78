"""``fg.memory_report``: the peak and the live bytes, per user line, of a program.

``fg.memory_report(f)(*args)`` stages ``f`` (``grad``, ``value_and_grad``, ``vjp`` programs and
jitted functions, whose optimised program is what runs) and walks it in order: an equation's
outputs become live when it runs and die after their last reader; the arguments and the
program's outputs stay live throughout. ``peak_bytes`` is the largest live total, at the
equation ``peak_at``; ``lines`` is the live total after each user line (forward and backward
apart), and ``residuals`` are the forward values the backward pass reads: what reverse mode
keeps between the passes, and what a ``checkpoint`` policy trades for recomputation
(``fg.ad_checkpoint.print_saved_residuals`` lists the same arrays for the eager tape).
``measured_peak_bytes`` runs ``f`` itself once under ``tracemalloc`` (NumPy reports its
buffers to it), plus the arguments: eager reverse mode keeps its whole tape until the
backward pass, and kernels' workspaces and views make the real peak differ from the plan.

>>> import numpy as np, funcgrad as fg, funcgrad.numpy as fnp
>>> rep = fg.memory_report(fg.grad(lambda x: fnp.sum(fnp.sin(fnp.sin(x)))))(np.ones(1000))
>>> rep.residual_bytes > 0, rep.peak_bytes >= 2 * 8000
(True, True)
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple

from funcgrad.core import pytree
from funcgrad.core.errors import SourceInfo, pass_of
from funcgrad.core.ir import ClosedJaxpr, Jaxpr, Var
from funcgrad.core.staging import trace_pytree

__all__ = ["LineMemory", "MemoryReport", "Residual", "memory_report"]


class LineMemory(NamedTuple):
    line: str          # the user's line, or "" (arguments, unattributed equations)
    direction: str     # "forward", "backward" or "recomputed"
    live_bytes: int    # live after the line's last equation
    allocated_bytes: int  # bytes its equations produced


class Residual(NamedTuple):
    primitive: str     # the forward equation that produced it
    line: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


def _nbytes(v: Any) -> int:
    return int(v.aval.size) * v.aval.dtype.itemsize


def _line(info: Any) -> str:
    return "" if info is None else SourceInfo.__str__(info)


class MemoryReport:
    """The liveness walk of one program (see the module docstring)."""

    def __init__(self, jaxpr: Jaxpr, consts_bytes: int, measured_peak_bytes: int | None):
        last_use: dict[Var, int] = {}
        for i, eqn in enumerate(jaxpr.eqns):
            for a in eqn.invars:
                if isinstance(a, Var):
                    last_use[a] = i
        pinned = {a for a in jaxpr.outvars if isinstance(a, Var)} | set(jaxpr.invars)
        self.argument_bytes = sum(_nbytes(v) for v in jaxpr.invars) + consts_bytes
        live = self.argument_bytes
        self.peak_bytes, self.peak_at = live, -1
        self.lines: list[LineMemory] = []
        self.residuals: list[Residual] = []
        self._residual_vars: list[Var] = []
        self.timeline: list[int] = []        # live bytes after each equation
        dying: dict[int, list[Var]] = {}
        for v, i in last_use.items():
            if v not in pinned and v not in jaxpr.constvars:
                dying.setdefault(i, []).append(v)
        produced_by: dict[Var, Any] = {}
        current: tuple[str, str] | None = None
        allocated = 0
        for i, eqn in enumerate(jaxpr.eqns):
            key = (_line(eqn.source_info), pass_of(eqn.source_info))
            if current is not None and key != current:
                self.lines.append(LineMemory(current[0], current[1], self.timeline[-1],
                                             allocated))
                allocated = 0
            current = key
            new = sum(_nbytes(v) for v in eqn.outvars)
            allocated += new
            live += new
            if live > self.peak_bytes:
                self.peak_bytes, self.peak_at = live, i
            for v in eqn.outvars:
                produced_by[v] = eqn
            if key[1] == "backward":
                for a in eqn.invars:
                    src = produced_by.get(a) if isinstance(a, Var) else None
                    if (isinstance(a, Var) and src is not None
                            and pass_of(src.source_info) == "forward"
                            and not any(r is a for r in self._residual_vars)):
                        self._residual_vars.append(a)
                        self.residuals.append(Residual(
                            src.primitive.name, _line(src.source_info), tuple(a.aval.shape),
                            str(a.aval.dtype), _nbytes(a)))
            # outputs nobody reads die at once (the program does not keep them)
            live -= sum(_nbytes(v) for v in eqn.outvars if v not in last_use
                        and v not in pinned)
            live -= sum(_nbytes(v) for v in dying.get(i, []))
            self.timeline.append(live)
        if current is not None:
            self.lines.append(LineMemory(current[0], current[1], self.timeline[-1],
                                         allocated))
        self.measured_peak_bytes = measured_peak_bytes

    @property
    def residual_bytes(self) -> int:
        return sum(r.nbytes for r in self.residuals)

    def table(self) -> str:
        """Live bytes after each user line, with the peak and the residuals."""
        out = [f"{'live':>14} {'allocated':>14}  {'dir':<10} line"]
        out += [f"{m.live_bytes:>14,} {m.allocated_bytes:>14,}  {m.direction:<10} "
                f"{m.line or '(unattributed)'}" for m in self.lines]
        out.append(f"peak {self.peak_bytes:,} B at equation {self.peak_at} (arguments "
                   f"{self.argument_bytes:,} B); residuals kept for the backward pass "
                   f"{self.residual_bytes:,} B in {len(self.residuals)} arrays"
                   + (f"; measured peak {self.measured_peak_bytes:,} B"
                      if self.measured_peak_bytes is not None else ""))
        out += [f"  residual {r.dtype}{list(r.shape)} {r.nbytes:,} B from {r.primitive} at "
                f"{r.line}" for r in self.residuals]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__


def memory_report(fun: Callable[..., Any], measure: bool = True
                  ) -> Callable[..., MemoryReport]:
    """``memory_report(f)(*args)``: the :class:`MemoryReport` of ``f`` at ``args``; with
    ``measure``, also run it once under ``tracemalloc`` (``measured_peak_bytes``)."""
    from funcgrad.transforms.jit import JitFunction

    def run(*args: Any) -> MemoryReport:
        if isinstance(fun, JitFunction):
            from funcgrad.transforms import passes
            closed = fun.lower(*args).jaxpr
            jaxpr = passes.optimize(closed.jaxpr)
            closed = ClosedJaxpr(jaxpr, closed.consts)
        else:
            closed, _ = trace_pytree(fun, args)
        consts_bytes = sum(int(getattr(c, "nbytes", 0)) for c in closed.consts)
        measured = None
        if measure:    # the real call: eager reverse mode's tape, or the compiled program
            was_tracing = tracemalloc.is_tracing()
            if not was_tracing:
                tracemalloc.start()
            try:
                base, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                result = fun(*args)
                _, peak = tracemalloc.get_traced_memory()
                del result
            finally:
                if not was_tracing:
                    tracemalloc.stop()
            measured = max(peak - base, 0) + sum(
                int(getattr(x, "nbytes", 0)) for x in pytree.tree_leaves(args))
        return MemoryReport(closed.jaxpr, consts_bytes, measured)
    return run
