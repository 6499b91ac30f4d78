"""Measurements that need a fresh process: first-call latency and peak memory of a train step.

The parent runs ``python benchmarks/run.py --probe KIND:WORKLOAD:CONTENDER`` once per contender
(and round); the child builds the step, measures, and prints one JSON line.

- ``latency``: the first call of a freshly built step (for a jit contender: trace + compile +
  run), and the median of the next calls, in a process where nothing was compiled before.
- ``memory``: after two warm-up calls, the peak memory one more call adds. For the NumPy-based
  contenders this is tracemalloc's peak (NumPy reports its array buffers to tracemalloc); for
  JAX and PyTorch, whose buffers tracemalloc cannot see, it is the growth of the resident set's
  high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) over the resident set
  before the call. The child runs with ``MALLOC_MMAP_THRESHOLD_=65536`` so that large buffers
  are returned to the system when freed and the resident set follows live memory. Both numbers
  are recorded for every contender where they can be measured.
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.contenders import NUMPY_BASED, Unavailable

PROBE_WORKLOADS = ("mlp-train", "cnn3-train")
RUN_PY = Path(__file__).resolve().parent / "run.py"


@dataclass
class ProbeResult:
    workload: str
    kind: str
    contender: str
    status: str
    reason: str = ""
    values: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        xs = [v[key] for v in self.values if v.get(key) is not None]
        return float(np.median(xs)) if xs else None


# == in the child =============================================================================

def _proc_status_kib(field_name: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise OSError(f"no {field_name} in /proc/self/status")
    return int(match.group(1))


def _rss_peak_delta(step: Callable[[], Any]) -> float | None:
    """Bytes by which one call raises the resident set's high-water mark, or None."""
    try:
        gc.collect()
        before = _proc_status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        out = step()
        peak = _proc_status_kib("VmHWM")
        del out
    except OSError:
        return None
    return float(max(peak - before, 0) * 1024)


def _tracemalloc_peak(step: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = step()
        _, peak = tracemalloc.get_traced_memory()
        del out
    finally:
        tracemalloc.stop()
    return float(peak - current)


def probe(kind: str, workload_name: str, contender: str, quick: bool) -> dict[str, Any]:
    """Run in the child process: one measurement, as a JSON-able dict."""
    from benchmarks.workloads import all_workloads

    workload = next(w for w in all_workloads(quick) if w.name == workload_name)
    try:
        step = workload.builders[contender](workload.make_inputs())
        if kind == "latency":
            start = time.perf_counter()
            step()
            first = time.perf_counter() - start
            steady = []
            for _ in range(5):
                start = time.perf_counter()
                step()
                steady.append(time.perf_counter() - start)
            return {"status": "ok", "first_call_s": first, "steady_s": float(np.median(steady))}
        step()
        step()
        result: dict[str, Any] = {"status": "ok", "rss_peak_delta_bytes": _rss_peak_delta(step)}
        if contender in NUMPY_BASED:
            result["tracemalloc_peak_bytes"] = _tracemalloc_peak(step)
        return result
    except Unavailable as exc:
        return {"status": "unavailable", "reason": str(exc)}
    except NotImplementedError as exc:
        return {"status": "unavailable", "reason": f"{contender}: not implemented: {exc}"}
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}


# == in the parent ============================================================================

def _run_child(kind: str, workload: str, contender: str, quick: bool, timeout: float
               ) -> dict[str, Any]:
    env = dict(os.environ)
    if kind == "memory":  # large blocks go back to the OS when freed: RSS follows live memory
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        env["MALLOC_TRIM_THRESHOLD_"] = "131072"
    cmd = [sys.executable, str(RUN_PY), "--probe", f"{kind}:{workload}:{contender}"]
    if quick:
        cmd.append("--quick")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"probe timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"status": "error", "reason": f"probe exited {proc.returncode}: {' | '.join(tail)}"}
    return dict(json.loads(lines[-1]))


def run_probes(kind: str, contenders: Sequence[str], quick: bool, rounds: int,
               log: Callable[[str], None], timeout: float = 600.0) -> list[ProbeResult]:
    results = []
    for workload in PROBE_WORKLOADS:
        for contender in contenders:
            result = ProbeResult(workload, kind, contender, "ok")
            for _ in range(rounds):
                out = _run_child(kind, workload, contender, quick, timeout)
                if out["status"] != "ok":
                    result.status, result.reason = out["status"], out.get("reason", "")
                    break
                result.values.append({k: v for k, v in out.items() if k != "status"})
            log(f"  {kind:7s} {workload:11s} {contender:13s} {result.status} {result.reason}")
            results.append(result)
    return results
