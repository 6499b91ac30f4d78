"""The op-spec table: one entry per primitive and per public composite.

Each family contributes a list from its own module (``specs_core.py``, ``specs_nn.py``,
``specs_control.py``); ``all_specs()`` joins them. The table drives the forward checks, the
gradient checks (reverse and forward mode, to ``grad_order``), the adjoint test, the vmap
tests, and the registry test (every registered primitive must be exercised by some spec).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import funcgrad as fg
from funcgrad.core import eval_jaxpr
from funcgrad.core.pytree import tree_leaves, tree_structure, tree_unflatten


@dataclass(frozen=True)
class OpSpec:
    name: str                                  # test id
    fn: Callable[..., Any]                     # a function of arrays, built on funcgrad
    arg_shapes: tuple[tuple[int, ...], ...]    # shapes of the (random) arguments
    primitives: tuple[str, ...]                # primitive names this spec exercises
    domain: tuple[float, float] = (-2.0, 2.0)  # uniform sampling range for float args
    dtypes: tuple[Any, ...] = (np.float64,)
    tol: float | None = None                   # gradient-check tolerance (None: default)
    grad_order: int = 2                        # 0 = not differentiable
    diff_argnums: tuple[int, ...] | None = None  # differentiable args (None: all)
    make_args: Callable[[np.random.Generator], tuple[Any, ...]] | None = None
    reference: Callable[..., Any] | None = None  # NumPy oracle for the forward pass
    extra: dict[str, Any] = field(default_factory=dict)

    def args(self, rng: np.random.Generator, dtype: Any = np.float64) -> tuple[Any, ...]:
        if self.make_args is not None:
            return self.make_args(rng)
        lo, hi = self.domain
        return tuple(rng.uniform(lo, hi, s).astype(dtype) for s in self.arg_shapes)


def spec_id(s: OpSpec) -> str:
    """The test id of a spec (for ``pytest.mark.parametrize(..., ids=spec_id)``)."""
    return s.name


def staged(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` traced with make_jaxpr at the arguments' types, then run with eval_jaxpr under
    whatever transform is current: the staged primitives and their rules do all the work."""
    def run(*args: Any) -> Any:
        closed, out_shape = fg.make_jaxpr(fun, return_shape=True)(*args)
        outs = eval_jaxpr(closed.jaxpr, closed.consts, *tree_leaves(args))
        return tree_unflatten(tree_structure(out_shape), outs)
    run.__name__ = f"staged_{getattr(fun, '__name__', 'fun')}"
    return run


SPEC_MODULES = ("specs_core", "specs_nn", "specs_control", "specs_special", "specs_sorting",
                "specs_surface", "specs_collectives", "specs_statistics", "specs_linalg",
                "specs_fft", "specs_numnames")


def all_specs() -> list[OpSpec]:
    specs: list[OpSpec] = []
    for name in SPEC_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        specs.extend(module.SPECS)
    return specs
