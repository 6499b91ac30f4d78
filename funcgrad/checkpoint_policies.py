"""Checkpoint policies, as ``jax.checkpoint_policies``: which equations' outputs a
``fg.checkpoint(f, policy=...)`` saves for the backward pass instead of recomputing.

A policy is called as ``policy(primitive, *input_avals, **params)`` for every equation of the
checkpointed body and returns whether to save its output.

>>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
>>> f = fg.checkpoint(lambda w, x: fnp.tanh(x @ w), policy=fg.checkpoint_policies.dots_saveable)
>>> fg.grad(lambda w: fnp.sum(f(w, np.ones((2, 3)))))(np.zeros((3, 1))).shape
(3, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from funcgrad.lax.dot import dot_general_p
from funcgrad.transforms.custom import name_p


def everything_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save every output: no recomputation."""
    return True


def nothing_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save nothing but the inputs: recompute the whole body (the default)."""
    return False


def dots_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save the outputs of contractions (``dot_general``): the expensive part."""
    return prim is dot_general_p


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save contractions without batch dimensions (plain matrix products)."""
    if prim is not dot_general_p:
        return False
    (_, (lhs_batch, rhs_batch)) = params["dimension_numbers"]
    return not lhs_batch and not rhs_batch


checkpoint_dots_with_no_batch_dims = dots_with_no_batch_dims_saveable


def save_only_these_names(*names: str) -> Callable[..., bool]:
    """Save exactly the values marked with ``fg.ad_checkpoint.checkpoint_name(x, name)``."""
    wanted = frozenset(names)

    def policy(prim: Any, *avals: Any, **params: Any) -> bool:
        return prim is name_p and params["name"] in wanted
    return policy


def save_any_names_but_these(*names: str) -> Callable[..., bool]:
    """Save every named value except those in ``names``."""
    unwanted = frozenset(names)

    def policy(prim: Any, *avals: Any, **params: Any) -> bool:
        return prim is name_p and params["name"] not in unwanted
    return policy
