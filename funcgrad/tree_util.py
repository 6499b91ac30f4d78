"""``fg.tree_util`` (also ``fg.tree``): pytrees, as ``jax.tree_util``; ``save``/``load`` of
pytrees of arrays to one ``.npz`` (no pickle)."""

from __future__ import annotations

import builtins
import collections
import functools
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError
from funcgrad.core.pytree import DictKey as DictKey
from funcgrad.core.pytree import FlattenedIndexKey as FlattenedIndexKey
from funcgrad.core.pytree import GetAttrKey as GetAttrKey
from funcgrad.core.pytree import KeyEntry as KeyEntry
from funcgrad.core.pytree import KeyPath as KeyPath
from funcgrad.core.pytree import PyTreeDef as PyTreeDef
from funcgrad.core.pytree import SequenceKey as SequenceKey
from funcgrad.core.pytree import keystr as keystr
from funcgrad.core.pytree import register_dataclass as register_dataclass
from funcgrad.core.pytree import register_pytree_node as register_pytree_node
from funcgrad.core.pytree import register_pytree_node_class as register_pytree_node_class
from funcgrad.core.pytree import register_pytree_with_keys as register_pytree_with_keys
from funcgrad.core.pytree import (
    register_pytree_with_keys_class as register_pytree_with_keys_class,
)
from funcgrad.core.pytree import register_static as register_static
from funcgrad.core.pytree import tree_flatten as tree_flatten
from funcgrad.core.pytree import tree_flatten_with_path as tree_flatten_with_path
from funcgrad.core.pytree import tree_key_paths as tree_key_paths
from funcgrad.core.pytree import tree_leaves as tree_leaves
from funcgrad.core.pytree import tree_leaves_with_path as tree_leaves_with_path
from funcgrad.core.pytree import tree_map as tree_map
from funcgrad.core.pytree import tree_map_with_path as tree_map_with_path
from funcgrad.core.pytree import tree_structure as tree_structure
from funcgrad.core.pytree import tree_unflatten as tree_unflatten

T = TypeVar("T")


class _Unspecified:
    def __repr__(self) -> str:
        return "<unspecified>"


_UNSPECIFIED: Any = _Unspecified()


def tree_reduce(function: Callable[[T, Any], T], tree: Any, initializer: Any = _UNSPECIFIED,
                is_leaf: Callable[[Any], bool] | None = None) -> T:
    """``functools.reduce`` over the leaves, as ``jax.tree_util.tree_reduce``.

    >>> tree_reduce(lambda a, b: a + b, {"a": 1, "b": (2, 3)})
    6
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _UNSPECIFIED:
        if not leaves:
            raise FuncgradTypeError("tree_reduce: the tree has no leaves and no initializer "
                                    "was given")
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every leaf is truthy, as ``jax.tree_util.tree_all``.

    >>> tree_all([True, {"a": 1}]), tree_all([True, 0])
    (True, False)
    """
    return builtins.all(tree_leaves(tree, is_leaf))


def _flatten_up_to(treedef: PyTreeDef, tree: Any, where: str) -> list[Any]:
    """The subtrees of ``tree`` at the leaves of its prefix ``treedef``."""
    if treedef.node is None:
        return [tree]
    nodetype, node = treedef.node
    if type(tree) is not nodetype:
        raise FuncgradTypeError(f"tree_transpose: expected a {nodetype.__name__} at "
                                f"{where or 'the root'}, got {type(tree).__name__}")
    children, aux = node.to_iterable(tree)
    children = list(children)
    if aux != treedef.aux or len(children) != len(treedef.children):
        raise FuncgradValueError(f"tree_transpose: the tree does not match the outer "
                                 f"structure {treedef} at {where or 'the root'}")
    out: list[Any] = []
    for key, sub, child in zip(node.keys(tree, aux), treedef.children, children, strict=True):
        out.extend(_flatten_up_to(sub, child, where + str(key)))
    return out


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn a tree of structure ``outer`` of trees of structure ``inner`` into an ``inner``
    of ``outer``s, as ``jax.tree_util.tree_transpose`` (``inner_treedef=None``: inferred).

    >>> tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    """
    subtrees = _flatten_up_to(outer_treedef, pytree_to_transpose, "")
    if inner_treedef is None:
        if not subtrees:
            raise FuncgradValueError("tree_transpose: cannot infer inner_treedef from an "
                                     "outer structure with no leaves")
        inner_treedef = tree_structure(subtrees[0])
    columns: list[list[Any]] = []
    for i, sub in enumerate(subtrees):
        sub_leaves, sub_def = tree_flatten(sub)
        if sub_def != inner_treedef:
            raise FuncgradValueError(f"tree_transpose: outer leaf {i} has structure "
                                     f"{sub_def}, expected the inner {inner_treedef}")
        columns.append(sub_leaves)
    rows = [[col[j] for col in columns] for j in range(inner_treedef.num_leaves)]
    return tree_unflatten(inner_treedef, [tree_unflatten(outer_treedef, r) for r in rows])


class Partial(functools.partial):  # type: ignore[type-arg]
    """A ``functools.partial`` that is a pytree (its bound arguments are the children, the
    function static), so it can be passed into and returned from transformed functions, as
    ``jax.tree_util.Partial``.

    >>> import funcgrad as fg, numpy as np
    >>> add = Partial(lambda a, b: a + b, np.array(1.0))
    >>> fg.jit(lambda f, x: f(x))(add, np.array(2.0))
    array(3.)
    """

    def __new__(cls, func: Callable[..., Any], *args: Any, **kw: Any) -> Partial:
        # A Partial of a Partial keeps the inner function static, as JAX's.
        if isinstance(func, functools.partial):
            original = func
            func = func.func
            args = (*original.args, *args)
            kw = {**original.keywords, **kw}
        return super().__new__(cls, func, *args, **kw)


def _partial_unflatten(func: Callable[..., Any], children: Any) -> Partial:
    args, keywords = children
    return Partial(func, *args, **keywords)


register_pytree_node(Partial, lambda p: ((p.args, p.keywords), p.func), _partial_unflatten)


# jax.tree.* short names
flatten = tree_flatten
unflatten = tree_unflatten
leaves = tree_leaves
structure = tree_structure
map = tree_map
flatten_with_path = tree_flatten_with_path
leaves_with_path = tree_leaves_with_path
map_with_path = tree_map_with_path
reduce = tree_reduce
all = tree_all  # noqa: A001
transpose = tree_transpose

__all__ = [
    "DictKey", "FlattenedIndexKey", "GetAttrKey", "KeyEntry", "KeyPath", "Partial", "PyTreeDef",
    "SequenceKey", "all", "flatten", "flatten_with_path", "keystr", "leaves",
    "leaves_with_path", "load", "map", "map_with_path", "reduce", "register_dataclass",
    "register_pytree_node", "register_pytree_node_class", "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static", "save", "structure", "transpose", "tree_all", "tree_flatten",
    "tree_flatten_with_path", "tree_key_paths", "tree_leaves", "tree_leaves_with_path",
    "tree_map", "tree_map_with_path", "tree_reduce", "tree_structure", "tree_transpose",
    "tree_unflatten", "unflatten",
]


_FORMAT = "funcgrad.tree_util.save/1"
_PY_SCALARS: dict[str, type] = {"bool": bool, "int": int, "float": float, "complex": complex}


def _describe(x: Any) -> Any:
    """The JSON structure of ``x``: built-in containers spelled out; registered nodes opaque."""
    if x is None:
        return {"t": "none"}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return {"t": "namedtuple", "name": type(x).__name__, "fields": list(x._fields),
                "c": [_describe(v) for v in x]}
    if type(x) in (tuple, list):
        return {"t": type(x).__name__, "c": [_describe(v) for v in x]}
    if type(x) is dict:
        keys = sorted(x)
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise FuncgradTypeError(f"save: dict keys must be str or int, got {k!r}")
        return {"t": "dict", "keys": [[type(k).__name__, k] for k in keys],
                "c": [_describe(x[k]) for k in keys]}
    leaves = tree_leaves(x)
    if len(leaves) == 1 and leaves[0] is x:
        kind = type(x).__name__ if type(x) in _PY_SCALARS.values() else "array"
        return {"t": "leaf", "py": kind}
    return {"t": "opaque", "type": f"{type(x).__module__}.{type(x).__qualname__}",
            "n": len(leaves)}


def _rebuild(d: Any, it: Any) -> Any:
    t = d["t"]
    if t == "none":
        return None
    if t == "leaf":
        v = next(it)
        return _PY_SCALARS[d["py"]](v.item()) if d["py"] in _PY_SCALARS else v
    if t in ("tuple", "list"):
        c = [_rebuild(e, it) for e in d["c"]]
        return tuple(c) if t == "tuple" else c
    if t == "namedtuple":
        cls = collections.namedtuple(d["name"], d["fields"])  # type: ignore[misc]
        return cls(*[_rebuild(e, it) for e in d["c"]])
    if t == "dict":
        return {(int(k) if kt == "int" else k): _rebuild(e, it)
                for (kt, k), e in zip(d["keys"], d["c"], strict=True)}
    raise FuncgradValueError(f"load: the file holds a registered pytree node ({d['type']}); "
                             f"pass like= a tree of that structure to rebuild it")


def save(path: str | os.PathLike[str], tree: Any) -> None:
    """Write a pytree of arrays (params, optimiser state) to one ``.npz``: leaves as
    ``leaf_<i>`` arrays, the structure as JSON in ``__treedef__``. No pickle: object
    arrays are refused. Registered (non-built-in) nodes are stored opaquely; load them with
    ``like=``. Namedtuples come back as namedtuples of the same name and fields.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> save(p, {"w": np.ones(2), "n": 3})
    >>> load(p)
    {'n': 3, 'w': array([1., 1.])}
    """
    structure = _describe(tree)
    arrays: dict[str, np.ndarray] = {}
    for i, leaf in enumerate(tree_leaves(tree)):
        a = np.asarray(leaf)
        if a.dtype == object:
            raise FuncgradTypeError(f"save: leaf {i} ({type(leaf).__name__}) is not an array "
                                    f"of numbers; only numeric/bool/str arrays are saved")
        arrays[f"leaf_{i}"] = a
    meta = json.dumps({"format": _FORMAT, "n": len(arrays), "tree": structure})
    arrays["__treedef__"] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # (numpy stubs: allow_pickle kw)


def load(path: str | os.PathLike[str], like: Any = None) -> Any:
    """Read a pytree written by :func:`save`. With ``like``, the leaves are placed into
    ``like``'s structure (needed for registered classes); the leaf count and each leaf's
    shape must match. Never unpickles.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "t.npz")
    >>> save(p, (np.zeros(1), [np.ones(1)]))
    >>> load(p, like=(0.0, [0.0]))
    (array([0.]), [array([1.])])
    """
    with np.load(path, allow_pickle=False) as z:
        if "__treedef__" not in z.files:
            raise FuncgradValueError(f"load: {os.fspath(path)!r} was not written by "
                                     f"fg.tree_util.save (no __treedef__)")
        meta = json.loads(z["__treedef__"].tobytes().decode("utf-8"))
        leaves = [z[f"leaf_{i}"] for i in range(int(meta["n"]))]
    if like is None:
        return _rebuild(meta["tree"], iter(leaves))
    like_leaves, treedef = tree_flatten(like)
    if len(like_leaves) != len(leaves):
        raise FuncgradValueError(f"load: like has {len(like_leaves)} leaves, the file "
                                 f"{len(leaves)}")
    for i, (a, b) in enumerate(zip(like_leaves, leaves, strict=True)):
        if hasattr(a, "shape") and tuple(np.shape(a)) != b.shape:
            raise FuncgradValueError(f"load: leaf {i} has shape {b.shape} in the file but "
                                     f"{tuple(np.shape(a))} in like")
    return tree_unflatten(treedef, leaves)
