"""fg.profile and fg.memory_report: totals against rows, bytes against hand counts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


def _loss(w: Any, x: Any) -> Any:
    h = fnp.tanh(x @ w)
    return fnp.sum(h * h)


def _args() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 8)), rng.normal(size=(32, 16))


def test_profile_rows_totals_and_directions() -> None:
    prof = fg.profile(fg.value_and_grad(_loss))(*_args())
    closed = fg.make_jaxpr(fg.value_and_grad(_loss))(*_args())
    assert len(prof.rows) == len(closed.eqns) == prof.calls
    assert prof.seconds == pytest.approx(sum(r.seconds for r in prof.rows))
    assert prof.flops == sum(r.flops for r in prof.rows) >= 2 * (2 * 32 * 16 * 8)
    assert {r.direction for r in prof.rows} == {"forward", "backward"}
    by_line = prof.by_line()
    assert sum(r.calls for r in by_line) == prof.calls
    assert any("test_profile_memory.py" in r.line for r in by_line)
    assert prof.seconds <= prof.wall_seconds      # the rows are inside the timed walk
    value, grads = prof.outputs                   # the call's result, as f returns it
    np.testing.assert_allclose(value, _loss(*_args()))
    np.testing.assert_allclose(grads, fg.grad(_loss)(*_args()))
    text = prof.table(by="line", limit=3)
    assert "total" in text and text.count("\n") == 4
    with pytest.raises(ValueError, match="sort must be one of"):
        prof.table(sort="speed")


def test_profile_of_a_jitted_function_and_chrome_trace(tmp_path: Any) -> None:
    f = fg.jit(fg.value_and_grad(_loss))
    prof = fg.profile(f)(*_args())
    assert prof.jit_seconds is not None and prof.jit_seconds > 0
    path = tmp_path / "trace.json"
    trace = prof.to_chrome_trace(str(path))
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(json.dumps(trace))
    complete = [e for e in loaded["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(prof.rows)
    assert all(e["dur"] >= 0 and "line" in e["args"] for e in complete)
    assert {e["tid"] for e in complete} <= {1, 2, 3}


def test_memory_report_against_hand_counted_bytes() -> None:
    n = 1000
    rep = fg.memory_report(lambda x: fnp.sin(x) * 2.0 + 1.0, measure=False)(np.ones(n))
    # x (8n) live throughout; sin -> a, mul -> b (a dies), add -> out (b dies).
    assert rep.argument_bytes == 8 * n
    assert rep.timeline == [16 * n, 16 * n, 16 * n]
    assert rep.peak_bytes == 24 * n and rep.peak_at == 1
    assert rep.residuals == []


def test_memory_report_residuals_and_checkpoint() -> None:
    n = 10_000

    def chain(x: Any) -> Any:
        for _ in range(4):
            x = fnp.sin(x)
        return x

    plain = fg.memory_report(fg.grad(lambda x: fnp.sum(chain(x))))(np.ones(n))
    # The backward pass reads sin's inputs: x (an argument) and the three inner values.
    assert len(plain.residuals) == 3 and plain.residual_bytes == 3 * 8 * n
    assert all(r.primitive == "sin" and r.shape == (n,) for r in plain.residuals)
    saved = fg.memory_report(fg.grad(lambda x: fnp.sum(fg.checkpoint(chain)(x))))(np.ones(n))
    assert saved.residual_bytes == 0                 # checkpoint recomputes them instead
    assert any(m.direction == "recomputed" for m in saved.lines)
    assert plain.measured_peak_bytes is not None and plain.measured_peak_bytes >= 8 * n
    assert "residual float64[10000]" in str(plain)


def test_profiler_overhead_benchmark_runs(capsys: Any) -> None:
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "profiler_overhead.py"
    spec = importlib.util.spec_from_file_location("profiler_overhead", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.main(["--repeats", "1"])
    out = capsys.readouterr().out
    assert out.count("%") == 3 and "MLP value_and_grad" in out
