"""Export a funcgrad program: to JAX (``to_jax``, for jit/GPU/TPU/sharding) or to one NumPy-only
Python file (``to_numpy_source``, for deployment without funcgrad).

jax is imported only when ``to_jax`` is called.

>>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
>>> src = fg.export.to_numpy_source(lambda x: fnp.sum(fnp.tanh(x)), np.zeros(3))
>>> "import numpy as np" in src and "import funcgrad" not in src
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from funcgrad.core import pytree
from funcgrad.export._numpy_source import to_numpy_source

__all__ = ["to_jax", "to_numpy_source"]


def to_jax(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` as a function of JAX arrays, built from funcgrad's IR, for ``jax.jit``,
    ``jax.grad`` and JAX's sharding.

    Each call is traced with ``make_jaxpr`` at its arguments' shapes and dtypes (cached per
    signature) and the jaxpr interpreted with one ``jax.lax``/``jax.numpy`` rule per
    primitive: custom rules become ``jax.custom_jvp``/``custom_vjp`` (the user's rules are
    staged and exported too), ``checkpoint`` becomes ``jax.checkpoint``, ``jit`` ``jax.jit`` and
    control flow ``lax.switch``/``while_loop``/``scan``. Inputs and outputs keep their pytree
    structure. Enable ``jax_enable_x64`` for float64 programs.

    Args:
      fun: a function of arrays (pytrees of arrays) written with funcgrad.

    Returns:
      A function of JAX arrays with the same pytree structure in and out.

    Raises:
      NotImplementedError: naming a primitive that has no JAX rule.

    >>> import funcgrad as fg, funcgrad.numpy as fnp
    >>> import jax, jax.numpy as jnp
    >>> f = fg.export.to_jax(lambda x: fnp.sum(fnp.sin(x)))
    >>> [float(g) for g in jax.jit(jax.grad(f))(jnp.zeros(2))]
    [1.0, 1.0]
    """
    from funcgrad.export import _jax_rules as rules  # imports jax

    cache: dict[Any, Any] = {}

    @functools.wraps(fun)
    def exported(*args: Any) -> Any:
        leaves, in_tree = pytree.tree_flatten(args)
        avals = [rules.aval_of(x) for x in leaves]
        key = (in_tree, tuple((a.shape, a.dtype, a.weak_type) for a in avals))
        hit = cache.get(key)
        if hit is None:
            closed, out_tree = rules._trace_flat(
                lambda *xs: fun(*pytree.tree_unflatten(in_tree, list(xs))), avals)
            hit = cache[key] = (closed, out_tree[0])
        closed, out_tree = hit
        outs = rules.eval_closed_jax(closed, *leaves)
        return pytree.tree_unflatten(out_tree, outs)

    exported.jaxpr_cache = cache  # type: ignore[attr-defined]
    return exported
