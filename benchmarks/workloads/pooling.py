"""2x2 max and average pooling (stride 2), forward + VJP, on a (32, 64, 32, 32) batch.

Memory-bound: the floor is reading the input and the output cotangent and writing the output
and the input cotangent once each, at measured copy bandwidth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import nplayers
from benchmarks.contenders import ArrayOps
from benchmarks.harness import Floor, Inputs, Step, Workload
from benchmarks.workloads import layer_vjp

K = 2


def numpy_max_pool(inputs: Inputs) -> Step:
    x, ct = inputs["x"], inputs["ct"]

    def step() -> Any:
        out, argmax = nplayers.max_pool_forward(x, K)
        return out, nplayers.max_pool_backward(ct, argmax, x.shape, K)
    return step


def numpy_avg_pool(inputs: Inputs) -> Step:
    x, ct = inputs["x"], inputs["ct"]

    def step() -> Any:
        return nplayers.avg_pool_forward(x, K), nplayers.avg_pool_backward(ct, x.shape, K)
    return step


def torch_max_pool(x: Any) -> Any:
    import torch.nn.functional as F
    return F.max_pool2d(x, K)


def torch_avg_pool(x: Any) -> Any:
    import torch.nn.functional as F
    return F.avg_pool2d(x, K)


def max_pool_for(ops: ArrayOps) -> Callable[..., Any]:
    return lambda x: ops.max_pool(x, K)


def avg_pool_for(ops: ArrayOps) -> Callable[..., Any]:
    return lambda x: ops.avg_pool(x, K)


def workloads(quick: bool) -> list[Workload]:
    shape = (2, 4, 8, 8) if quick else (32, 64, 32, 32)
    out_shape = (*shape[:2], shape[2] // K, shape[3] // K)

    def make_inputs() -> Inputs:
        rng = np.random.default_rng(0)
        return {"x": rng.standard_normal(shape, dtype=np.float32),
                "ct": rng.standard_normal(out_shape, dtype=np.float32)}

    nbytes = 2 * 4 * (int(np.prod(shape)) + int(np.prod(out_shape)))
    dims = "x".join(map(str, shape))
    return [
        Workload(
            name="maxpool",
            title=f"max pool 2x2 on {dims}, forward + VJP",
            bound="memory",
            make_inputs=make_inputs,
            builders=layer_vjp.builders(max_pool_for, torch_max_pool, numpy_max_pool, ("x",)),
            floor=Floor(nbytes=nbytes),
            rtol=1e-5,
        ),
        Workload(
            name="avgpool",
            title=f"avg pool 2x2 on {dims}, forward + VJP",
            bound="memory",
            make_inputs=make_inputs,
            builders=layer_vjp.builders(avg_pool_for, torch_avg_pool, numpy_avg_pool, ("x",)),
            floor=Floor(nbytes=nbytes),
            rtol=1e-5,
        ),
    ]
