"""Results as JSON (every number) and as markdown tables (ratios only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.contenders import LABELS, NUMPY_BASED
from benchmarks.environment import summary
from benchmarks.harness import RowResult
from benchmarks.probes import ProbeResult

BASELINES = (("numpy", "hand-written NumPy"), ("jax-jit", "jax.jit"), ("floor", "the floor"))


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    if r < 10:
        return f"{r:.2f}"
    return f"{r:.1f}" if r < 100 else f"{r:.0f}"


# == JSON =====================================================================================

def row_json(row: RowResult) -> dict[str, Any]:
    w = row.workload
    contenders = {}
    for name, e in row.entries.items():
        contenders[name] = {
            "status": e.status, "reason": e.reason or None, "median_s": e.median,
            "min_s": min(e.samples) if e.samples else None, "samples_s": e.samples,
            "calls_per_sample": e.n_inner, "max_rel_err": e.max_rel_err,
            **{f"ratio_to_{b}": row.ratio(name, b) for b, _ in BASELINES},
        }
    floor = None
    if w.floor is not None and row.floor is not None:
        floor = {"kind": w.floor.kind, "what": w.floor.describe(), "median_s": row.floor.median,
                 "samples_s": row.floor.samples}
        if w.floor.nbytes and row.floor.median:
            floor["copy_bandwidth_GBps"] = w.floor.nbytes / row.floor.median / 1e9
    return {"name": w.name, "title": w.title, "bound": w.bound, "rounds": row.rounds,
            "seconds": row.seconds, "tolerance": w.rtol, "floor": floor,
            "contenders": contenders}


def probe_json(results: Sequence[ProbeResult]) -> list[dict[str, Any]]:
    return [{"workload": r.workload, "kind": r.kind, "contender": r.contender,
             "status": r.status, "reason": r.reason or None, "values": r.values}
            for r in results]


# == markdown =================================================================================

def _cell(row: RowResult, name: str, baseline: str) -> str:
    entry = row.entries.get(name)
    if entry is None:
        return " "
    if entry.status == "failed":
        return "**check failed**"
    if entry.status == "error":
        return "**error**"
    return fmt_ratio(row.ratio(name, baseline))


def ratio_table(rows: Sequence[RowResult], contenders: Sequence[str], baseline: str) -> list[str]:
    head = ["workload", "bound", *(LABELS[c] for c in contenders), "floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for row in rows:
        cells = [row.workload.title, row.workload.bound]
        cells += [_cell(row, c, baseline) for c in contenders]
        cells.append(fmt_ratio(row.ratio("floor", baseline)))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _probe_by(results: Sequence[ProbeResult], kind: str) -> dict[tuple[str, str], ProbeResult]:
    return {(r.workload, r.contender): r for r in results if r.kind == kind}


def _workloads(results: Sequence[ProbeResult], kind: str) -> list[str]:
    return list(dict.fromkeys(r.workload for r in results if r.kind == kind))


def latency_table(results: Sequence[ProbeResult], contenders: Sequence[str]) -> list[str]:
    probes = _probe_by(results, "latency")
    head = ["train step", "first call ÷", *(LABELS[c] for c in contenders)]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(contenders)]
    for workload in _workloads(results, "latency"):
        numpy_probe = probes.get((workload, "numpy"))
        numpy_steady = numpy_probe.median("steady_s") if numpy_probe else None
        for label in ("its own steady call", "NumPy's steady call"):
            cells = [workload, label]
            for c in contenders:
                p = probes.get((workload, c))
                if p is None or p.status != "ok":
                    cells.append("**error**" if p is not None and p.status == "error" else "—")
                    continue
                base = p.median("steady_s") if label.startswith("its") else numpy_steady
                cells.append(fmt_ratio(ratio(p.median("first_call_s"), base)))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def memory_table(results: Sequence[ProbeResult], contenders: Sequence[str]) -> list[str]:
    probes = _probe_by(results, "memory")
    head = ["train step", *(LABELS[c] for c in contenders)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(contenders)]
    for workload in _workloads(results, "memory"):
        cells = [workload]
        for c in contenders:
            p = probes.get((workload, c))
            if p is None or p.status != "ok":
                cells.append("**error**" if p is not None and p.status == "error" else "—")
                continue
            key, tag = (("tracemalloc_peak_bytes", "tm") if c in NUMPY_BASED
                        else ("rss_peak_delta_bytes", "rss"))
            value = p.median(key)
            cells.append("—" if value is None else f"{value / 2**20:.1f} MiB ({tag})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def unavailable_notes(rows: Sequence[RowResult], probes: Sequence[ProbeResult]) -> list[str]:
    """One bullet per distinct reason, naming the rows it applies to."""
    reasons: dict[str, list[str]] = {}
    for row in rows:
        for e in row.entries.values():
            if e.status != "ok":
                reasons.setdefault(f"{e.status}: {e.reason}", []).append(row.workload.name)
    for p in probes:
        if p.status != "ok":
            reasons.setdefault(f"{p.status}: {p.reason}", []).append(f"{p.kind} {p.workload}")
    return [f"- {reason} ({', '.join(dict.fromkeys(where))})"
            for reason, where in reasons.items()]


def markdown(rows: Sequence[RowResult], probes: Sequence[ProbeResult],
             contenders: Sequence[str], env: dict[str, Any], command: str) -> str:
    out = [
        "# funcgrad benchmarks",
        "",
        f"Generated by `{command}` (see `benchmarks/README.md`). Each cell is a contender's "
        "time per call divided by a baseline's in the same round (median over rounds; all "
        "contenders run in one process, interleaved in rounds); lower is better. Every "
        "contender's loss and gradients were checked against hand-written NumPy before it was "
        "timed. Absolute medians, samples and the environment "
        "are in `benchmarks/results/latest.json`.",
        "",
        *summary(env),
        "",
    ]
    for baseline, label in BASELINES:
        out += [f"## Time ÷ {label}", ""]
        out += ratio_table(rows, contenders, baseline)
        out.append("")
    floors = [f"- {r.workload.name}: {r.workload.floor.describe()}" for r in rows
              if r.workload.floor is not None]
    out += ["### The floor", "",
            "Matmul-bound rows: the bare `np.matmul` calls of an im2col implementation on the "
            "same shapes (m x k x n, batch first where batched). Memory-bound rows: the minimal "
            "bytes moved (inputs read and outputs written once) at the copy bandwidth measured "
            "on the same working set. The dispatch-bound row has no meaningful floor.", "",
            *floors, ""]
    if any(p.kind == "latency" for p in probes):
        out += ["## First-call latency", "",
                "A fresh process builds the train step and calls it once (for jit contenders: "
                "trace, compile and run), divided by the same contender's steady-state call, "
                "and by hand-written NumPy's steady-state call.", ""]
        out += latency_table(probes, contenders) + [""]
    if any(p.kind == "memory" for p in probes):
        out += ["## Peak memory of one train step", "",
                "Memory one call adds at its peak, after warm-up, in a fresh process. "
                "(tm): tracemalloc's peak (NumPy-based contenders); (rss): growth of the "
                "resident set's high-water mark (JAX and PyTorch, invisible to tracemalloc).", ""]
        out += memory_table(probes, contenders) + [""]
    notes = unavailable_notes(rows, probes)
    if notes:
        out += ["## Unavailable, failed and not applicable", "", *notes, ""]
    return "\n".join(out)
