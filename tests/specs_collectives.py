"""Op specs for the collectives (``fg.lax.parallel``): each runs under a named ``vmap``.

A named vmap resolves its collectives when it traces them (``psum`` becomes a reduction of the
batch axis), so ``make_jaxpr`` of the vmapped function holds the reduction, not the
collective; ``extra["stage"]`` stages the body inside the vmap instead, where the collective
equation is what the trace records (the registry test checks that one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad as fg
import funcgrad.numpy as fnp

L = fg.lax
SPECS: list[OpSpec] = []


def _stage_inside(body: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The jaxpr of ``body`` staged inside ``vmap(axis_name="i")`` (collective equations)."""
    def stage(x: Any) -> Any:
        found: list[Any] = []

        def per_example(r: Any) -> Any:
            found.append(fg.make_jaxpr(body)(r))
            return body(r)
        fg.vmap(per_example, axis_name="i")(x)
        return found[0]
    return stage


def _named(body: Callable[[Any], Any], name: str, prims: tuple[str, ...],
           ref: Callable[[Any], Any]) -> None:
    fn = fg.vmap(body, axis_name="i")
    fn.__name__ = name
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=((4, 3),), primitives=prims,
                        reference=ref, extra={"stage": _stage_inside(body)}))


_named(lambda r: L.psum(r, "i") * r, "psum", ("psum",), lambda x: x.sum(0) * x)
_named(lambda r: r - L.pmean(r, "i"), "pmean", ("psum",), lambda x: x - x.mean(0))
_named(lambda r: fnp.sum(L.all_gather(r, "i") ** 2, axis=0) * r, "all_gather", ("all_gather",),
       lambda x: (x ** 2).sum(0) * x)
_named(lambda r: L.pmax(r, "i") + r, "pmax", ("all_gather",), lambda x: x.max(0) + x)
_named(lambda r: r * L.axis_index("i"), "axis_index", ("axis_index",),
       lambda x: x * np.arange(x.shape[0])[:, None])
