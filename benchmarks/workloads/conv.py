"""One conv layer, forward + VJP (input and kernel cotangents): batch 32, 64 -> 64 channels,
3x3 kernel, 32x32 images; stride 1, stride 2, and dilation 2 ("same"-style padding).

The floor is the three bare matmuls of im2col on the same shapes: forward, kernel gradient and
input-column gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import nplayers
from benchmarks.contenders import ArrayOps
from benchmarks.harness import Floor, Inputs, Step, Workload
from benchmarks.models import conv_matmul_shapes
from benchmarks.workloads import layer_vjp

VARIANTS = (  # (name, stride, padding, dilation)
    ("stride 1", 1, 1, 1),
    ("stride 2", 2, 1, 1),
    ("dilation 2", 1, 2, 2),
)


def conv_workload(n: int, c: int, hw: int, k: int, stride: int, padding: int, dilation: int,
                  label: str) -> Workload:
    ho = nplayers.conv_out_size(hw, k, stride, padding, dilation)

    def make_inputs() -> Inputs:
        rng = np.random.default_rng(0)
        return {
            "x": rng.standard_normal((n, c, hw, hw), dtype=np.float32),
            "w": (rng.standard_normal((c, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32),
            "ct": rng.standard_normal((n, c, ho, ho), dtype=np.float32),
        }

    def layer_for(ops: ArrayOps) -> Callable[..., Any]:
        return lambda x, w: ops.conv(x, w, stride, padding, dilation)

    def torch_layer(x: Any, w: Any) -> Any:
        import torch.nn.functional as F
        return F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)

    def numpy_step(inputs: Inputs) -> Step:
        x, w, ct = inputs["x"], inputs["w"], inputs["ct"]

        def step() -> Any:
            z, cache = nplayers.conv_forward(x, w, stride, padding, dilation)
            dx, dw = nplayers.conv_backward(ct, cache)
            return z, dx, dw
        return step

    return Workload(
        name=f"conv-{label.replace(' ', '')}",
        title=f"conv {c}->{c} {k}x{k} on {n}x{c}x{hw}x{hw}, forward + VJP, {label}",
        bound="matmul",
        make_inputs=make_inputs,
        builders=layer_vjp.builders(layer_for, torch_layer, numpy_step, ("x", "w")),
        floor=Floor(matmuls=tuple(conv_matmul_shapes(n, c, c, ho * ho, k))),
        rtol=2e-3,
    )


def workloads(quick: bool) -> list[Workload]:
    n, c, hw = (2, 4, 8) if quick else (32, 64, 32)
    return [conv_workload(n, c, hw, 3, s, p, d, label) for label, s, p, d in VARIANTS]
