"""Command line of ``benchmarks/run.py`` (run that file: it pins the threads first)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from benchmarks import environment, probes, report
from benchmarks.contenders import CONTENDERS, QUICK_CONTENDERS, pin_threads
from benchmarks.harness import RowResult, TimingConfig, run_workload
from benchmarks.workloads import all_workloads

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, 2 rounds, fast-importing contenders (a smoke test)")
    p.add_argument("--only", help=f"comma-separated contenders, from: {', '.join(CONTENDERS)}")
    p.add_argument("--workloads", help="comma-separated workload names (default: all)")
    p.add_argument("--rounds", type=int, help="timing rounds per row (default 7, quick 2)")
    p.add_argument("--target", type=float, help="seconds per timing sample (default 0.1)")
    p.add_argument("--row-budget", type=float,
                   help="seconds of timing per row before rounds are cut (default 20)")
    p.add_argument("--probe-rounds", type=int,
                   help="fresh processes per contender for the latency probe (default 2; "
                        "memory always 1)")
    p.add_argument("--no-probes", action="store_true",
                   help="skip the first-call latency and peak memory measurements")
    p.add_argument("--threads", type=int, default=2, help="threads for every library")
    p.add_argument("--nice", type=int, default=0,
                   help="change the scheduling priority first (e.g. -10 on a shared machine, "
                        "as root: 2-thread BLAS stalls whenever another process takes a core)")
    p.add_argument("--json", type=Path, help="JSON output (default results/latest.json)")
    p.add_argument("--markdown", type=Path,
                   help="markdown output (default benchmarks/results.md; quick: stdout only)")
    p.add_argument("--probe", help=argparse.SUPPRESS)  # internal: KIND:WORKLOAD:CONTENDER
    return p.parse_args(argv)


def select_contenders(only: str | None, quick: bool) -> list[str]:
    if not only:
        return list(QUICK_CONTENDERS if quick else CONTENDERS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise SystemExit(f"unknown contender(s) {unknown}; choose from {list(CONTENDERS)}")
    return [c for c in CONTENDERS if c in names]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pin_threads()
    if args.probe:
        kind, workload, contender = args.probe.split(":")
        print(json.dumps(probes.probe(kind, workload, contender, args.quick)))
        return 0

    contenders = select_contenders(args.only, args.quick)
    config = TimingConfig(
        rounds=args.rounds or (2 if args.quick else 7),
        min_rounds=1 if args.quick else 3,
        target=args.target or (0.005 if args.quick else 0.1),
        row_budget=args.row_budget or (2.0 if args.quick else 20.0),
    )
    workloads = all_workloads(args.quick)
    if args.workloads:
        wanted = {w.strip() for w in args.workloads.split(",")}
        unknown = wanted - {w.name for w in workloads}
        if unknown:
            raise SystemExit(f"unknown workload(s) {sorted(unknown)}; choose from "
                             f"{[w.name for w in workloads]}")
        workloads = [w for w in workloads if w.name in wanted]

    started = time.perf_counter()
    load_before = os.getloadavg()
    rows: list[RowResult] = []
    for workload in workloads:
        log(f"{workload.name}: {workload.title}")
        row = run_workload(workload, contenders, config, log)
        for name, entry in row.entries.items():
            ratio = row.ratio(name, "numpy")
            log(f"  {name:13s} {entry.status:11s} "
                + (f"{entry.median * 1e3:10.3f} ms  x{report.fmt_ratio(ratio)} NumPy"
                   if entry.median else entry.reason))
        rows.append(row)

    probe_results: list[probes.ProbeResult] = []
    if not args.no_probes:
        latency_rounds = args.probe_rounds or (1 if args.quick else 2)
        probe_results += probes.run_probes("latency", contenders, args.quick, latency_rounds, log)
        probe_results += probes.run_probes("memory", contenders, args.quick, 1, log)

    imported: set[str] = {name for name in ("jax", "torch") if name in sys.modules}
    env = environment.collect(imported)
    env["load_average_1_5_15min"] = {"before": load_before, "after": os.getloadavg()}
    command = "python benchmarks/run.py" + (" " + shlex.join(argv) if argv else "")
    results = {
        "command": command,
        "quick": args.quick,
        "seconds": time.perf_counter() - started,
        "timing": vars(config),
        "environment": env,
        "contenders": contenders,
        "rows": [report.row_json(r) for r in rows],
        "probes": report.probe_json(probe_results),
    }
    json_path = args.json or HERE / "results" / ("quick.json" if args.quick else "latest.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    text = report.markdown(rows, probe_results, contenders, env, command)
    md_path = args.markdown or (None if args.quick else HERE / "results.md")
    if md_path is not None:
        md_path.write_text(text + "\n")
    else:
        print(text)
    log(f"wrote {json_path}" + (f" and {md_path}" if md_path else "")
        + f" in {results['seconds']:.0f} s")

    bad = [(r.workload.name, n, e.reason) for r in rows for n, e in r.entries.items()
           if e.status in ("failed", "error")]
    bad += [(p.workload, p.contender, p.reason) for p in probe_results if p.status == "error"]
    for workload, name, reason in bad:
        log(f"FAILED {workload} / {name}: {reason}")
    return 1 if bad else 0
