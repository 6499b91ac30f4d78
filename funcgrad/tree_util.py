"""``fg.tree_util`` (also ``fg.tree``): pytrees, as ``jax.tree_util``; ``save``/``load`` of
pytrees of arrays to one ``.npz`` (no pickle)."""

from __future__ import annotations

import collections
import json
import os
from typing import Any

import numpy as np

from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError
from funcgrad.core.pytree import PyTreeDef as PyTreeDef
from funcgrad.core.pytree import register_dataclass as register_dataclass
from funcgrad.core.pytree import register_pytree_node as register_pytree_node
from funcgrad.core.pytree import register_pytree_node_class as register_pytree_node_class
from funcgrad.core.pytree import register_static as register_static
from funcgrad.core.pytree import tree_flatten as tree_flatten
from funcgrad.core.pytree import tree_key_paths as tree_key_paths
from funcgrad.core.pytree import tree_leaves as tree_leaves
from funcgrad.core.pytree import tree_map as tree_map
from funcgrad.core.pytree import tree_structure as tree_structure
from funcgrad.core.pytree import tree_unflatten as tree_unflatten

# jax.tree.* short names
flatten = tree_flatten
unflatten = tree_unflatten
leaves = tree_leaves
structure = tree_structure
map = tree_map

__all__ = [
    "PyTreeDef", "flatten", "leaves", "map", "register_dataclass", "register_pytree_node",
    "register_pytree_node_class", "register_static", "load", "save", "structure", "tree_flatten",
    "tree_key_paths", "tree_leaves", "tree_map", "tree_structure", "tree_unflatten", "unflatten",
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
                for (kt, k), e in zip(d["keys"], d["c"])}
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
    for i, (a, b) in enumerate(zip(like_leaves, leaves)):
        if hasattr(a, "shape") and tuple(np.shape(a)) != b.shape:
            raise FuncgradValueError(f"load: leaf {i} has shape {b.shape} in the file but "
                                     f"{tuple(np.shape(a))} in like")
    return tree_unflatten(treedef, leaves)
