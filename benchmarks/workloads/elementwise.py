"""Memory bandwidth: ``value_and_grad`` of an elementwise expression on 1e6 float32 elements.

``loss(x) = sum(x * tanh(x) + 0.5 * x * x)``. A fused implementation reads ``x`` once and
writes the gradient once, so the floor is 8 bytes per element at measured copy bandwidth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Floor, Inputs, Step, Workload
from benchmarks.workloads import scalar_loss


def loss(xp: Any, x: Any) -> Any:
    return xp.sum(x * xp.tanh(x) + 0.5 * x * x)


def numpy_step(inputs: Inputs) -> Step:
    x = inputs["x"]

    def step() -> tuple[np.ndarray, np.ndarray]:
        t = np.tanh(x)
        value = np.sum(x * t + 0.5 * x * x)
        g = t + x * (1 - t * t) + x
        return value, g
    return step


def workloads(quick: bool) -> list[Workload]:
    n = 10_000 if quick else 1_000_000

    def make_inputs() -> Inputs:
        return {"x": np.random.default_rng(0).standard_normal(n, dtype=np.float32)}

    return [Workload(
        name="elementwise",
        title=f"value_and_grad, elementwise expression, {n:.0e} elements",
        bound="memory",
        make_inputs=make_inputs,
        builders=scalar_loss.builders(loss, numpy_step),
        floor=Floor(nbytes=2 * 4 * n),  # read x, write the gradient
        rtol=1e-4,
    )]
