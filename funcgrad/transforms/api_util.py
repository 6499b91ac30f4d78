"""Argument handling shared by the transforms' user wrappers: argnums, leaves, dtype checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.core.avals import get_aval
from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError, at_user_line
from funcgrad.core.tracing import Tracer


def normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    """Validate ``argnums`` against the number of positional arguments."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise FuncgradTypeError(f"{fname}: argnums must be an int or a non-empty tuple of ints, "
                                f"got {argnums!r}")
    out = []
    for i in nums:
        j = i + nargs if i < 0 else i
        if not 0 <= j < nargs:
            raise FuncgradValueError(at_user_line(
                f"{fname}: argnums={argnums!r} refers to argument {i}, but the function was "
                f"called with {nargs} positional argument(s)"))
        out.append(j)
    return tuple(out)


def as_array_leaf(x: Any, where: str) -> Any:
    """Validate a pytree leaf given to a transform; Python scalars become arrays."""
    if isinstance(x, (np.ndarray, Tracer)):
        return x
    if isinstance(x, (bool, int, float, complex, np.generic)):
        return np.asarray(x)
    raise FuncgradTypeError(at_user_line(
        f"{where} is a {type(x).__name__}, not an array; transforms accept pytrees (tuples, "
        f"lists, dicts, registered classes) whose leaves are arrays or scalars"))


class LeafNames(Sequence[str]):
    """``"argument 0['w']"`` per leaf, computed only when read: names appear in error
    messages, and walking the key paths on every ``grad`` call would be wasted work."""

    def __init__(self, args: Sequence[Any], argnums: Sequence[int]):
        self._args, self._argnums = args, argnums
        self._names: list[str] | None = None

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = [f"argument {i}{p}" for i in self._argnums
                           for p in pytree.tree_key_paths(self._args[i])]
        return self._names

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())


def flatten_args(args: Sequence[Any], fname: str, argnums: Sequence[int]
                 ) -> tuple[list[Any], pytree.PyTreeDef, LeafNames]:
    """Leaves of the differentiated arguments, their structure and a readable name per leaf."""
    leaves, tree = pytree.tree_flatten(tuple(args[i] for i in argnums))
    names = LeafNames(args, argnums)
    for k, x in enumerate(leaves):
        if not isinstance(x, (np.ndarray, Tracer)):
            leaves[k] = as_array_leaf(x, f"{fname}: {names[k]}")
    return leaves, tree, names


def check_differentiable(leaves: Sequence[Any], names: Sequence[str], fname: str) -> None:
    """Differentiation is defined for floating and complex inputs only (as JAX)."""
    for k, x in enumerate(leaves):
        dtype = get_aval(x).dtype
        if dtype.kind not in "fc":
            raise FuncgradTypeError(at_user_line(
                f"{fname} requires real- or complex-valued inputs (input dtype that is a "
                f"sub-dtype of np.inexact), but {names[k]} has dtype {dtype}; pass a float "
                f"array or leave that argument out of argnums"))


def replace_args(args: Sequence[Any], argnums: Sequence[int], new: Sequence[Any]) -> list[Any]:
    full = list(args)
    for i, v in zip(argnums, new, strict=True):
        full[i] = v
    return full


def flatten_fun(fun: Callable[..., Any], in_tree: pytree.PyTreeDef,
                out_trees: list[pytree.PyTreeDef]) -> Callable[..., list[Any]]:
    """``fun`` of pytree arguments (structure ``in_tree``) as a function of their leaves that
    returns its output's leaves; each call appends the output's structure to ``out_trees``."""
    def flat(*leaves: Any) -> list[Any]:
        out_leaves, tree = pytree.tree_flatten(fun(*pytree.tree_unflatten(in_tree, leaves)))
        out_trees.append(tree)
        return out_leaves
    return flat
