"""Smoke test of ``benchmarks/run.py``: it runs, and every correctness check passes.

It never asserts a speed: timings on a shared CI machine say nothing. What it guards is that the
benchmark keeps working as funcgrad grows (a workload whose funcgrad feature lands must check
out against hand-written NumPy), and that a missing feature shows as "unavailable", not a crash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_every_check_passes(tmp_path: Path) -> None:
    json_path, md_path = tmp_path / "quick.json", tmp_path / "quick.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
         "--only", "funcgrad-jit,funcgrad,numpy", "--json", str(json_path),
         "--markdown", str(md_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-5000:]

    results = json.loads(json_path.read_text())
    status = {(row["name"], name): entry["status"]
              for row in results["rows"] for name, entry in row["contenders"].items()}
    problems = {key: s for key, s in status.items() if s not in ("ok", "unavailable")}
    assert not problems, problems
    rows = {row["name"] for row in results["rows"]}
    assert {"chain60", "elementwise", "mlp-train"} <= rows
    assert all(status[(row, "numpy")] == "ok" for row in rows)
    # funcgrad eager exists today on the rows that need only fg.numpy: they must have run.
    assert all(status[(row, "funcgrad")] == "ok" for row in ("chain60", "elementwise", "mlp-train"))
    assert not [p for p in results["probes"] if p["status"] == "error"]
    assert "| grad, 60-op elementwise chain" in md_path.read_text()
