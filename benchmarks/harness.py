"""Workloads, correctness checks, floors and interleaved timing.

A :class:`Workload` is one row of the results: a function that makes its inputs, and one
*builder* per contender. A builder takes the inputs (NumPy arrays), converts them to its
library's arrays outside the timed region, and returns ``step``: a zero-argument callable that
runs the work once and returns its results (loss, gradients, ...) as a nested tuple of arrays.

Before a contender is timed, its ``step()`` output is compared leaf by leaf with the output of
the hand-written NumPy builder (values, shapes, and float32 dtype). Then all contenders and the
floor are timed in rounds: in each round every contender runs ``n_inner`` calls (calibrated so
a sample takes about ``target`` seconds) and the round order rotates, so that machine noise,
thermal drift and cache state hit every contender alike. The reported time is the median over
rounds of the per-call time; a ratio is the median over rounds of the two contenders' times in
the same round (:meth:`RowResult.ratio`).
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.contenders import Unavailable

Inputs = dict[str, Any]
Step = Callable[[], Any]
Builder = Callable[[Inputs], Step]


@dataclass(frozen=True)
class Floor:
    """What the hardware needs at least: bare ``np.matmul`` calls on the same shapes
    (matmul-bound rows), or the minimal bytes moved at measured copy bandwidth (memory-bound
    rows). ``matmuls`` are ``(m, k, n)`` or ``(batch, m, k, n)``."""

    matmuls: tuple[tuple[int, ...], ...] = ()
    nbytes: int = 0

    @property
    def kind(self) -> str:
        return "matmul" if self.matmuls else "bytes"

    def describe(self) -> str:
        if self.matmuls:
            return " + ".join("x".join(map(str, s)) for s in self.matmuls) + " (np.matmul)"
        return f"{self.nbytes / 1e6:.1f} MB at copy bandwidth"

    def build(self) -> Step:
        rng = np.random.default_rng(0)
        if self.matmuls:
            operands = []
            for shape in self.matmuls:
                *batch, m, k, n = shape
                a = rng.standard_normal((*batch, m, k), dtype=np.float32)
                b = rng.standard_normal((*batch, k, n), dtype=np.float32)
                operands.append((a, b, np.empty((*batch, m, n), np.float32)))

            def matmuls() -> None:
                for a, b, out in operands:
                    np.matmul(a, b, out=out)
            return matmuls
        # A copy of nbytes / 2 reads nbytes / 2 and writes nbytes / 2: nbytes moved.
        src = rng.standard_normal(max(self.nbytes // 8, 1), dtype=np.float32)
        dst = np.empty_like(src)

        def copy() -> None:
            np.copyto(dst, src)
        return copy


@dataclass
class Workload:
    name: str                   # short id, used by --workloads and in the JSON
    title: str                  # the row label in the tables
    bound: str                  # "dispatch", "memory" or "matmul"
    make_inputs: Callable[[], Inputs]
    builders: dict[str, Builder]
    floor: Floor | None = None
    rtol: float = 1e-3          # max |got - ref| <= rtol * max |ref|, per output array
    reference: str = "numpy"


@dataclass
class Entry:
    """One contender on one workload."""

    status: str                 # "ok", "unavailable", "failed" (check), "error"
    reason: str = ""
    max_rel_err: float | None = None
    n_inner: int = 0
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return float(np.median(self.samples)) if self.samples else None


@dataclass
class RowResult:
    workload: Workload
    entries: dict[str, Entry]
    floor: Entry | None
    rounds: int
    seconds: float

    def entry(self, name: str) -> Entry | None:
        return self.floor if name == "floor" else self.entries.get(name)

    def median(self, name: str) -> float | None:
        entry = self.entry(name)
        return entry.median if entry else None

    def ratio(self, name: str, baseline: str) -> float | None:
        """Median over rounds of ``name``'s time / ``baseline``'s time in the same round.

        Samples of one round ran back to back, so a machine that slows down between rounds
        slows both: the paired ratio cancels that drift, a ratio of two medians does not.
        """
        a, b = self.entry(name), self.entry(baseline)
        if a is None or b is None or not a.samples or not b.samples:
            return None
        if len(a.samples) != len(b.samples):
            return a.median / b.median if a.median and b.median else None
        return float(np.median(np.asarray(a.samples) / np.asarray(b.samples)))


# == correctness ==============================================================================

def leaves(x: Any) -> list[np.ndarray]:
    """The arrays in a nested tuple/list/dict of NumPy, JAX or torch arrays, as NumPy."""
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in leaves(item)]
    if isinstance(x, dict):
        return [leaf for key in sorted(x) for leaf in leaves(x[key])]
    if hasattr(x, "detach"):  # torch.Tensor
        x = x.detach().cpu().numpy()
    return [np.asarray(x)]


def compare(got: Any, ref: Sequence[np.ndarray], rtol: float) -> tuple[str | None, float]:
    """``(problem or None, max relative error)`` of ``got`` against the reference leaves."""
    got_leaves = leaves(got)
    if len(got_leaves) != len(ref):
        return f"returned {len(got_leaves)} arrays, the reference {len(ref)}", float("inf")
    worst = 0.0
    for i, (g, r) in enumerate(zip(got_leaves, ref, strict=True)):
        if g.shape != r.shape:
            return f"output {i}: shape {g.shape}, reference {r.shape}", float("inf")
        if r.dtype == np.float32 and g.dtype != np.float32:
            return f"output {i}: dtype {g.dtype}, expected float32", float("inf")
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        err = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
        rel = err / scale if scale > 0 else err
        if not np.isfinite(rel) or rel > rtol:
            return (f"output {i} (shape {r.shape}): max |error| {err:.3g} is "
                    f"{rel:.3g} of max |reference| {scale:.3g} (tolerance {rtol:g})"), rel
        worst = max(worst, rel)
    return None, worst


# == timing ===================================================================================

def _time_calls(step: Step, n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def _calibrate(step: Step, target: float, warmup: int) -> tuple[int, float]:
    """Warm up, then choose how many calls make one sample of about ``target`` seconds.

    A step that takes over a second (the check call has already run it once) gets one
    warm-up call instead of ``warmup``, to keep the whole run within minutes.
    """
    first = _time_calls(step, 1)
    for _ in range(warmup - 1 if first < 1.0 else 0):
        step()
    once = _time_calls(step, 1)
    if once < target / 10:  # a single call is too short to time; measure a few
        once = _time_calls(step, max(1, int(target / 10 / max(once, 1e-7))))
    return max(1, min(100_000, round(target / max(once, 1e-9)))), once


@dataclass
class TimingConfig:
    rounds: int = 7
    min_rounds: int = 3
    target: float = 0.1        # seconds per sample
    row_budget: float = 20.0   # seconds of timing per row; fewer rounds if exceeded
    warmup: int = 2


def run_workload(workload: Workload, contenders: Sequence[str], config: TimingConfig,
                 log: Callable[[str], None]) -> RowResult:
    """Check, then time, every contender (and the floor) on one workload."""
    started = time.perf_counter()
    inputs = workload.make_inputs()
    reference = leaves(workload.builders[workload.reference](inputs)())
    entries: dict[str, Entry] = {}
    steps: dict[str, tuple[Step, int, float]] = {}
    for name in contenders:
        builder = workload.builders.get(name)
        if builder is None:
            entries[name] = Entry("unavailable", f"{name}: not applicable to this workload")
            continue
        try:
            step = builder(inputs)
            problem, err = compare(step(), reference, workload.rtol)
            if problem is not None:
                entries[name] = Entry("failed", problem, max_rel_err=err)
                log(f"  {name:13s} CHECK FAILED: {problem}")
                continue
            n_inner, once = _calibrate(step, config.target, config.warmup)
        except Unavailable as exc:
            entries[name] = Entry("unavailable", str(exc))
            continue
        except NotImplementedError as exc:
            entries[name] = Entry("unavailable", f"{name}: not implemented: {exc}")
            continue
        except Exception as exc:  # a crash in one contender must not stop the others
            entries[name] = Entry("error", f"{type(exc).__name__}: {exc}")
            log(f"  {name:13s} ERROR: {traceback.format_exc(limit=-3)}")
            continue
        entries[name] = Entry("ok", max_rel_err=err, n_inner=n_inner)
        steps[name] = (step, n_inner, once)

    floor_entry = None
    if workload.floor is not None:
        floor_step = workload.floor.build()
        n_inner, once = _calibrate(floor_step, config.target, config.warmup)
        floor_entry = Entry("ok", n_inner=n_inner)
        steps["floor"] = (floor_step, n_inner, once)

    per_round = sum(n * once for _, n, once in steps.values())
    rounds = config.rounds
    if per_round * rounds > config.row_budget:
        rounds = max(config.min_rounds, int(config.row_budget / max(per_round, 1e-9)))
    order = list(steps)
    for r in range(rounds):
        shift = r % max(len(order), 1)
        for name in order[shift:] + order[:shift]:
            step, n_inner, _ = steps[name]
            entry = floor_entry if name == "floor" else entries[name]
            assert entry is not None
            entry.samples.append(_time_calls(step, n_inner))
    return RowResult(workload, entries, floor_entry, rounds, time.perf_counter() - started)
