"""Op specs for the JAX surface outside ``jax.numpy``: ``pure_callback`` (one spec per
``vmap_method``; not differentiable, as JAX) and the ``fg.lax`` composites of
``tests/test_lax_surface.py`` (dynamic slicing, ``rsqrt``/``cbrt``/``clamp``/``select_n``,
cumulative reductions, ``reduce``, ``associative_scan``, ``map(batch_size=)``,
``custom_root``/``custom_linear_solve``). ``extra["lax"]`` names the ``fg.lax`` functions a
spec covers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad as fg

SPECS: list[OpSpec] = []


def spec(name: str, fn: Callable[..., Any], make: Callable[[np.random.Generator], tuple],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None, order: int = 2,
         diff: tuple[int, ...] | None = None, tol: float | None = None,
         lax_names: tuple[str, ...] = (), **extra: Any) -> None:
    shapes = tuple(np.shape(a) for a in make(np.random.default_rng(0)))
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=shapes, primitives=prims, tol=tol,
                        grad_order=order, diff_argnums=diff, make_args=make, reference=ref,
                        extra={"lax": lax_names, **extra}))


# == pure_callback ============================================================================

def _callback_fn(method: str) -> Callable[..., Any]:
    def f(x: Any, y: Any) -> Any:
        return fg.pure_callback(lambda a, b: np.sin(a) * b + 1.0,
                                fg.ShapeDtypeStruct(x.shape, x.dtype), x, y,
                                vmap_method=method)
    f.__name__ = f"pure_callback_{method}"
    return f


for _method in ("sequential", "expand_dims", "broadcast_all"):
    spec(f"pure_callback_{_method}", _callback_fn(_method),
         lambda rng: (rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))),
         ("pure_callback",), lambda a, b: np.sin(a) * b + 1.0, order=0, diff=())
