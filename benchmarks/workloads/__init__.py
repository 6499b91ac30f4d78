"""The workloads, one module per family; :func:`all_workloads` lists them in table order."""

from __future__ import annotations

from benchmarks.harness import Workload
from benchmarks.workloads import chain, conv, elementwise, per_example, pooling, train


def all_workloads(quick: bool) -> list[Workload]:
    return [
        *chain.workloads(quick),
        *elementwise.workloads(quick),
        *train.workloads(quick)[:1],      # the MLP
        *conv.workloads(quick),
        *pooling.workloads(quick),
        *train.workloads(quick)[1:],      # LeNet-5, the 3-conv CNN
        *per_example.workloads(quick),
    ]
