"""Pictures of the IR: Graphviz DOT and Mermaid flowcharts of a jaxpr.

One node per input, equation and output; an edge per value an equation reads (labelled with its
type). Forward equations are blue, the backward pass's red, a checkpoint's recomputation gold,
and each equation's tooltip is the user's line (``backward of tanh at model.py:12`` for the
backward pass). ``groups`` (index ranges of equations, as jit's fused regions) become clusters
(DOT) or subgraphs (Mermaid). Sub-jaxprs (cond branches, loop bodies, custom rules) are drawn
as one node of their primitive.

>>> import numpy as np, funcgrad as fg, funcgrad.numpy as fnp
>>> closed = fg.make_jaxpr(lambda x: fnp.sum(fnp.sin(x)))(np.ones(3))
>>> print(to_mermaid(closed.jaxpr).splitlines()[0])
flowchart TD
>>> "sin" in to_dot(closed.jaxpr)
True
"""

from __future__ import annotations

from collections.abc import Sequence

from funcgrad.core.errors import pass_of
from funcgrad.core.ir import Eqn, Jaxpr, Literal, Var

_COLORS = {"forward": "#dbe9f6", "backward": "#f6dbdb", "recomputed": "#f6efd0"}


def _kind(eqn: Eqn) -> str:
    return pass_of(eqn.source_info)


def _tooltip(eqn: Eqn) -> str:
    return str(eqn.source_info) if eqn.source_info is not None else eqn.primitive.name


def _type(atom: Var | Literal) -> str:
    return atom.aval.str_short()


class _Graph:
    """Nodes and edges of a jaxpr, shared by both renderers."""

    def __init__(self, jaxpr: Jaxpr):
        self.jaxpr = jaxpr
        self.producer: dict[Var, str] = {}
        for i, v in enumerate(jaxpr.constvars):
            self.producer[v] = f"c{i}"
        for i, v in enumerate(jaxpr.invars):
            self.producer[v] = f"in{i}"
        for i, eqn in enumerate(jaxpr.eqns):
            for v in eqn.outvars:
                self.producer[v] = f"e{i}"

    def edges(self) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        for i, eqn in enumerate(self.jaxpr.eqns):
            for a in eqn.invars:
                if isinstance(a, Var) and a in self.producer:
                    out.append((self.producer[a], f"e{i}", _type(a)))
        for i, a in enumerate(self.jaxpr.outvars):
            if isinstance(a, Var) and a in self.producer:
                out.append((self.producer[a], f"out{i}", _type(a)))
        return out


def _escape_dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(jaxpr: Jaxpr, name: str = "jaxpr",
           groups: Sequence[tuple[int, int]] = ()) -> str:
    """The jaxpr as a Graphviz ``digraph`` (render with ``dot -Tsvg``)."""
    g = _Graph(jaxpr)
    lines = [f'digraph "{_escape_dot(name)}" {{', "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#777777"];']
    for i, v in enumerate(jaxpr.constvars):
        lines.append(f'  c{i} [label="const {_type(v)}", shape=note];')
    for i, v in enumerate(jaxpr.invars):
        lines.append(f'  in{i} [label="in{i}: {_type(v)}", shape=ellipse];')
    in_group = {i: k for k, (lo, hi) in enumerate(groups) for i in range(lo, hi)}

    def node(i: int, eqn: Eqn) -> str:
        label = eqn.primitive.name + "\n" + ", ".join(_type(v) for v in eqn.outvars)
        return (f'e{i} [label="{_escape_dot(label)}", shape=box, style="rounded,filled", '
                f'fillcolor="{_COLORS[_kind(eqn)]}", tooltip="{_escape_dot(_tooltip(eqn))}"];')

    for k, (lo, hi) in enumerate(groups):
        lines.append(f"  subgraph cluster_{k} {{")
        lines.append(f'    label="fused[{hi - lo}]"; style=dashed; color="#4a7ab5";')
        lines.extend(f"    {node(i, jaxpr.eqns[i])}" for i in range(lo, hi))
        lines.append("  }")
    lines.extend(f"  {node(i, e)}" for i, e in enumerate(jaxpr.eqns) if i not in in_group)
    for i, a in enumerate(jaxpr.outvars):
        label = f"out{i}: {_type(a)}" + (f" = {a.val!r}" if isinstance(a, Literal) else "")
        lines.append(f'  out{i} [label="{_escape_dot(label)}", shape=ellipse, '
                     f'style=bold];')
    lines.extend(f'  {a} -> {b} [label="{_escape_dot(t)}"];' for a, b, t in g.edges())
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape_mermaid(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(jaxpr: Jaxpr, groups: Sequence[tuple[int, int]] = ()) -> str:
    """The jaxpr as a Mermaid ``flowchart`` (GitHub renders it in a ```mermaid block)."""
    g = _Graph(jaxpr)
    lines = ["flowchart TD"]
    for kind, color in _COLORS.items():
        lines.append(f"  classDef {kind} fill:{color},stroke:#555")
    for i, v in enumerate(jaxpr.constvars):
        lines.append(f'  c{i}[/"const {_type(v)}"/]')
    for i, v in enumerate(jaxpr.invars):
        lines.append(f'  in{i}(["in{i}: {_type(v)}"])')
    in_group = {i: k for k, (lo, hi) in enumerate(groups) for i in range(lo, hi)}

    def node(i: int, eqn: Eqn) -> str:
        label = f"{eqn.primitive.name}<br/>{', '.join(_type(v) for v in eqn.outvars)}"
        return f'e{i}["{_escape_mermaid(label)}"]:::{_kind(eqn)}'

    for k, (lo, hi) in enumerate(groups):
        lines.append(f'  subgraph fused{k}["fused[{hi - lo}]"]')
        lines.extend(f"    {node(i, jaxpr.eqns[i])}" for i in range(lo, hi))
        lines.append("  end")
    lines.extend(f"  {node(i, e)}" for i, e in enumerate(jaxpr.eqns) if i not in in_group)
    for i, a in enumerate(jaxpr.outvars):
        lines.append(f'  out{i}(["out{i}: {_type(a)}"])')
    lines.extend(f'  {a} -->|"{_escape_mermaid(t)}"| {b}' for a, b, t in g.edges())
    for i, eqn in enumerate(jaxpr.eqns):
        lines.append(f'  click e{i} callback "{_escape_mermaid(_tooltip(eqn))}"')
    return "\n".join(lines) + "\n"
