"""How far ``fg.profile``'s totals are from the call they profile, on three programs.

    python benchmarks/profiler_overhead.py [--repeats 5]

For each program it prints the median over repeats of: the plain call of ``f`` (eager), the
staged program run without clocks (``Profile.plain_seconds``), the profiled run
(``Profile.wall_seconds``), the sum of the rows (``Profile.seconds``), and the overhead
``wall / plain - 1``, with the per-equation cost ``(wall - plain) / equations``. The profiler's
docstring states the overhead these numbers support: the sum of the rows is within the
profiled run's time, and the profiled run costs about a microsecond per equation more than
the plain one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402


def _chain(x: Any) -> Any:
    for _ in range(20):
        x = fnp.tanh(x) * 1.01 + 0.1
    return fnp.sum(x)


def _mlp(params: Any, x: Any) -> Any:
    h = x
    for w in params[:-1]:
        h = fg.nn.relu(h @ w)
    return fnp.mean((h @ params[-1]) ** 2)


def _cnn(w: Any, x: Any) -> Any:
    h = fg.nn.relu(fg.nn.conv(x, w, padding=1))
    return fnp.mean(fg.nn.max_pool(h, 2) ** 2)


def programs() -> list[tuple[str, Any, tuple[Any, ...]]]:
    rng = np.random.default_rng(0)
    params = [rng.normal(size=s) * 0.05 for s in ((784, 512), (512, 512), (512, 10))]
    return [
        ("grad of a 60-op chain, 10-vector", fg.grad(_chain), (rng.normal(size=10),)),
        ("MLP value_and_grad, batch 128", fg.value_and_grad(_mlp),
         (params, rng.normal(size=(128, 784)))),
        ("conv + pool grad, 16x8x32x32", fg.grad(_cnn),
         (rng.normal(size=(16, 8, 3, 3)) * 0.1, rng.normal(size=(16, 8, 32, 32)))),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'program':<36}{'eqns':>6}{'call':>11}{'plain':>11}{'profiled':>11}"
          f"{'rows':>11}{'overhead':>10}{'per eqn':>10}")
    for name, f, xs in programs():
        calls, plains, walls, rows = [], [], [], []
        n = 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            f(*xs)
            calls.append(time.perf_counter() - t0)
            prof = fg.profile(f)(*xs)
            plains.append(prof.plain_seconds)
            walls.append(prof.wall_seconds)
            rows.append(prof.seconds)
            n = len(prof.rows)
            assert prof.seconds <= prof.wall_seconds
        call, plain = statistics.median(calls), statistics.median(plains)
        wall, row = statistics.median(walls), statistics.median(rows)
        print(f"{name:<36}{n:>6}{1e3 * call:>9.2f}ms{1e3 * plain:>9.2f}ms{1e3 * wall:>9.2f}ms"
              f"{1e3 * row:>9.2f}ms{100 * (wall / plain - 1):>9.1f}%"
              f"{1e6 * (wall - plain) / max(n, 1):>8.2f}us")


if __name__ == "__main__":
    main()
