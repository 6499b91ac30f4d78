"""IR pictures: DOT and Mermaid of make_jaxpr results and lowered jit programs."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def _dot_structure(text: str) -> tuple[set[str], list[tuple[str, str]], int]:
    """Declared nodes, edges and clusters of a DOT digraph, checking it is well formed."""
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    body = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)          # strings out of the way
    nodes = set(re.findall(r"^\s*(\w+) \[", body, flags=re.M)) - {"node", "edge"}
    edges = re.findall(r"^\s*(\w+) -> (\w+) \[", body, flags=re.M)
    return nodes, edges, len(re.findall(r"subgraph cluster_\d+ \{", body))


def _loss(w: Any, x: Any) -> Any:
    return fnp.sum(fnp.tanh(x * w) ** 2)


def test_dot_of_a_staged_gradient_is_well_formed_and_colours_the_backward() -> None:
    closed = fg.make_jaxpr(fg.grad(_loss))(np.ones(4), np.ones(4))
    text = closed.to_dot("grad_loss")
    nodes, edges, clusters = _dot_structure(text)
    n_eqns = len(closed.eqns)
    assert {f"e{i}" for i in range(n_eqns)} <= nodes and {"in0", "in1", "out0"} <= nodes
    assert all(a in nodes and b in nodes for a, b in edges)
    # one edge per variable operand of every equation, plus one per output
    n_reads = sum(1 for e in closed.eqns for a in e.invars if hasattr(a, "count"))
    assert len(edges) == n_reads + 1 and clusters == 0
    assert "#f6dbdb" in text and "#dbe9f6" in text               # backward and forward
    assert "backward of tanh at test_pictures.py" in text        # tooltips: the user's lines


def test_lowered_jit_pictures_show_fused_regions_as_clusters() -> None:
    from funcgrad.transforms.codegen import BLOCK_MIN_SIZE
    x = np.ones(BLOCK_MIN_SIZE, np.float32)  # large enough to be blocked
    lowered = fg.jit(fg.value_and_grad(_loss)).lower(x, x)
    text = lowered.to_dot()
    nodes, edges, clusters = _dot_structure(text)
    assert clusters == len(lowered.cost().groups) >= 1
    assert all(a in nodes and b in nodes for a, b in edges)
    mermaid = lowered.to_mermaid()
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    assert mermaid.count("subgraph fused") == clusters and mermaid.count("\n  end") == clusters
    declared = set(re.findall(r"^\s*(\w+)[\[(]", mermaid, flags=re.M))
    for a, b in re.findall(r"^\s*(\w+) -->\|[^|]*\| (\w+)$", mermaid, flags=re.M):
        assert a in declared and b in declared


def test_checkpoint_recomputation_is_drawn_apart() -> None:
    f = fg.grad(lambda x: fnp.sum(fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))(x)))
    text = fg.make_jaxpr(f)(np.ones(3)).to_mermaid()
    assert ":::recomputed" in text and ":::backward" in text and ":::forward" in text
