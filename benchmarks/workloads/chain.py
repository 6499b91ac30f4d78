"""Dispatch overhead: the gradient of a chain of 60 elementwise ops on a 10-vector.

The arrays are so small that the arithmetic is free: what is timed is each library's cost per
operation (tracing, dispatch, recording the tape, running the backward rules). This is the
row the core issue's key number comes from: funcgrad eager should stay within 3x of the
hand-written NumPy forward + backward below.

The chain is 10 repeats of ``sin, *1.7, tanh, +0.5, cos, square`` (60 ops), then a sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Inputs, Step, Workload
from benchmarks.workloads import scalar_loss

REPEATS = 10  # x 6 ops


def chain_loss(xp: Any, x: Any) -> Any:
    """The chain on any NumPy-like namespace (funcgrad.numpy, jax.numpy, autograd.numpy)."""
    for _ in range(REPEATS):
        x = xp.sin(x)
        x = x * 1.7
        x = xp.tanh(x)
        x = x + 0.5
        x = xp.cos(x)
        x = x * x
    return xp.sum(x)


def numpy_step(inputs: Inputs) -> Step:
    x0 = inputs["x"]

    def step() -> tuple[np.ndarray, np.ndarray]:
        x, saved = x0, []
        for _ in range(REPEATS):
            s = np.sin(x)
            t = np.tanh(s * 1.7)
            u = t + 0.5
            c = np.cos(u)
            saved.append((x, t, u, c))
            x = c * c
        loss = x.sum()
        g = np.ones_like(x)
        for x_in, t, u, c in reversed(saved):
            g = g * (2 * c)               # square
            g = -g * np.sin(u)            # cos
            g = g * (1 - t * t) * 1.7     # tanh, *1.7
            g = g * np.cos(x_in)          # sin
        return loss, g
    return step


def workloads(quick: bool) -> list[Workload]:
    def make_inputs() -> Inputs:
        return {"x": np.linspace(-1.0, 1.0, 10, dtype=np.float32)}

    return [Workload(
        name="chain60",
        title="grad, 60-op elementwise chain, 10-vector",
        bound="dispatch",
        make_inputs=make_inputs,
        builders=scalar_loss.builders(chain_loss, numpy_step),
        floor=None,  # dispatch-bound: the arithmetic is nanoseconds; no meaningful floor
    )]
