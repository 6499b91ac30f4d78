"""Pytrees: nested containers of arrays, flattened to a list of leaves and a structure.

Built-in nodes are tuple, list, dict (keys sorted, as JAX), namedtuple and ``None`` (a node
with no children). Anything else is a leaf unless registered.

>>> leaves, tree = tree_flatten({"b": (1, 2), "a": [3, None]})
>>> leaves
[3, 1, 2]
>>> tree
PyTreeDef({'a': [*, None], 'b': (*, *)})
>>> tree_unflatten(tree, [30, 10, 20])
{'a': [30, None], 'b': (10, 20)}
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from funcgrad.core.errors import FuncgradTypeError, FuncgradValueError

T = TypeVar("T")


# == key paths: how a child is reached from its node, as jax.tree_util's key classes ==========

@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """The ``idx``-th child of a tuple or list; prints as ``[0]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True)
class DictKey:
    """The child of a dict under ``key``; prints as ``['a']``."""

    key: Any

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The attribute ``name`` (namedtuple and dataclass fields); prints as ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """The ``key``-th child of a node registered without keys; prints as
    ``[<flat index 0>]``."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key!r}>]"


KeyEntry = Any
KeyPath = tuple[KeyEntry, ...]


class _NodeType(NamedTuple):
    to_iterable: Callable[[Any], tuple[Iterable[Any], Any]]  # -> (children, aux data)
    from_iterable: Callable[[Any, Iterable[Any]], Any]
    keys: Callable[[Any, Any], list[KeyEntry]]


_REGISTRY: dict[type, _NodeType] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten_func: Callable[[Any, Iterable[Any]], Any],
                         flatten_with_keys_func: Callable[[Any], Any] | None = None) -> None:
    """Make ``nodetype`` a pytree node: ``flatten_func(x) -> (children, aux_data)``. Its
    children's key paths are ``FlattenedIndexKey``s unless ``flatten_with_keys_func`` (as in
    ``register_pytree_with_keys``) gives them."""
    if flatten_with_keys_func is not None:
        register_pytree_with_keys(nodetype, flatten_with_keys_func, unflatten_func,
                                  flatten_func)
        return

    def keys(x: Any, aux: Any) -> list[KeyEntry]:
        return [FlattenedIndexKey(i) for i, _ in enumerate(flatten_func(x)[0])]
    _REGISTRY[nodetype] = _NodeType(flatten_func, unflatten_func, keys)


def register_pytree_with_keys(
        nodetype: type,
        flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[KeyEntry, Any]], Any]],
        unflatten_func: Callable[[Any, Iterable[Any]], Any],
        flatten_func: Callable[[Any], tuple[Iterable[Any], Any]] | None = None) -> None:
    """Make ``nodetype`` a pytree node whose children have keys, as
    ``jax.tree_util.register_pytree_with_keys``: ``flatten_with_keys(x) -> ([(key, child),
    ...], aux_data)``; ``flatten_func`` (the same without keys) is derived when omitted.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_with_keys(
    ...     Pair, lambda p: (((GetAttrKey("a"), p.a), (GetAttrKey("b"), p.b)), None),
    ...     lambda aux, c: Pair(*c))
    >>> [keystr(k) for k, _ in tree_flatten_with_path([Pair(1, 2)])[0]]
    ['[0].a', '[0].b']
    """
    def flat(x: Any) -> tuple[list[Any], Any]:
        pairs, aux = flatten_with_keys(x)
        return [c for _, c in pairs], aux

    def keys(x: Any, aux: Any) -> list[KeyEntry]:
        return [k for k, _ in flatten_with_keys(x)[0]]

    _REGISTRY[nodetype] = _NodeType(flatten_func or flat, unflatten_func, keys)


def register_pytree_node_class(cls: type[T]) -> type[T]:
    """Class decorator using ``cls.tree_flatten`` and ``cls.tree_unflatten``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(),
                         cls.tree_unflatten)  # type: ignore[attr-defined]
    return cls


def register_dataclass(cls: type[T], data_fields: list[str] | None = None,
                       meta_fields: list[str] | None = None) -> type[T]:
    """Register a dataclass: ``data_fields`` are children, ``meta_fields`` static aux data.

    Either list, when omitted, is inferred as JAX infers it: fields declared with
    ``dataclasses.field(metadata=dict(static=True))`` are meta fields, the others data.
    """
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    static = [f.name for f in fields if f.metadata.get("static", False)]
    if meta_fields is None:
        meta_fields = [n for n in static if data_fields is None or n not in data_fields]
    if data_fields is None:
        data_fields = [f.name for f in fields if f.name not in meta_fields]
    meta = list(meta_fields)
    data = list(data_fields)

    def flatten(x: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(x, n) for n in data], tuple(getattr(x, n) for n in meta)

    def unflatten(aux: tuple[Any, ...], children: Iterable[Any]) -> Any:
        return cls(**dict(zip(data, children, strict=True)), **dict(zip(meta, aux, strict=True)))

    _REGISTRY[cls] = _NodeType(flatten, unflatten, lambda x, aux: [GetAttrKey(n) for n in data])
    return cls


def register_pytree_with_keys_class(cls: type[T]) -> type[T]:
    """Class decorator using ``cls.tree_flatten_with_keys`` (``([(key, child), ...], aux)``)
    and ``cls.tree_unflatten``, as ``jax.tree_util.register_pytree_with_keys_class``."""
    flatten = getattr(cls, "tree_flatten", None)
    register_pytree_with_keys(
        cls, lambda x: x.tree_flatten_with_keys(),  # type: ignore[attr-defined]
        cls.tree_unflatten,  # type: ignore[attr-defined]
        None if flatten is None else (lambda x: x.tree_flatten()))
    return cls


def register_static(cls: type[T]) -> type[T]:
    """Register ``cls`` as a pytree with no leaves: each instance is static aux data (so it
    must be hashable and compare by value), as ``jax.tree_util.register_static``."""
    _REGISTRY[cls] = _NodeType(lambda x: ((), x), lambda aux, _: aux, lambda x, aux: [])
    return cls


def _dict_flatten(d: dict) -> tuple[list[Any], tuple[Any, ...]]:
    try:
        keys = tuple(sorted(d))
    except TypeError as e:
        raise FuncgradTypeError(f"pytree dict keys must be sortable, got {list(d)}") from e
    return [d[k] for k in keys], keys


_REGISTRY[tuple] = _NodeType(lambda t: (t, None), lambda _, c: tuple(c),
                             lambda x, aux: [SequenceKey(i) for i in range(len(x))])
_REGISTRY[list] = _NodeType(lambda t: (t, None), lambda _, c: list(c),
                            lambda x, aux: [SequenceKey(i) for i in range(len(x))])
_REGISTRY[dict] = _NodeType(_dict_flatten, lambda keys, c: dict(zip(keys, c, strict=True)),
                            lambda x, keys: [DictKey(k) for k in keys])
_REGISTRY[type(None)] = _NodeType(lambda _: ((), None), lambda _, c: None, lambda x, aux: [])


def _make_namedtuple(cls: type, aux: Any, children: Iterable[Any]) -> Any:
    return cls(*children)


def _node_type(x: Any) -> tuple[type, _NodeType] | None:
    t = type(x)
    node = _REGISTRY.get(t)
    if node is not None:
        return t, node
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return t, _NodeType(lambda n: (tuple(n), None), functools.partial(_make_namedtuple, t),
                            lambda n, aux: [GetAttrKey(f) for f in n._fields])
    return None


class PyTreeDef:
    """The structure of a pytree: node types, aux data and where the leaves go."""

    __slots__ = ("node", "aux", "children", "num_leaves")

    def __init__(self, node: tuple[type, _NodeType] | None, aux: Any,
                 children: tuple[PyTreeDef, ...]):
        self.node = node
        self.aux = aux
        self.children = children
        self.num_leaves: int = 1 if node is None else sum(c.num_leaves for c in children)

    @property
    def num_nodes(self) -> int:
        return 1 + sum(c.num_nodes for c in self.children)

    def _key(self) -> tuple[Any, ...]:
        ntype = None if self.node is None else self.node[0]
        return (ntype, self.aux, tuple(c._key() for c in self.children))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyTreeDef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _str(self) -> str:
        if self.node is None:
            return "*"
        ntype = self.node[0]
        kids = [c._str() for c in self.children]
        if ntype is type(None):
            return "None"
        if ntype is tuple:
            return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
        if ntype is list:
            return "[" + ", ".join(kids) + "]"
        if ntype is dict:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.aux, kids, strict=True)) + "}"
        return f"{ntype.__name__}(" + ", ".join(kids) + ")"

    def __repr__(self) -> str:
        return f"PyTreeDef({self._str()})"

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return tree_unflatten(self, leaves)


_LEAF = PyTreeDef(None, None, ())


# The recursions are module-level functions, not closures: a recursive closure refers to
# itself through its cell, a reference cycle that would keep the leaves (a pullback's tape and
# every residual) alive until the cycle collector runs.

def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Leaves in order and the structure to rebuild ``tree`` from them."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, is_leaf, leaves)


def _flatten(x: Any, is_leaf: Callable[[Any], bool] | None, leaves: list[Any]) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    node = _node_type(x)
    if node is None:
        leaves.append(x)
        return _LEAF
    children, aux = node[1].to_iterable(x)
    return PyTreeDef(node, aux, tuple([_flatten(c, is_leaf, leaves) for c in children]))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise FuncgradValueError(
            f"tree_unflatten: {treedef} has {treedef.num_leaves} leaves, got {len(leaves)}")
    return _unflatten(treedef, iter(leaves))


def _unflatten(td: PyTreeDef, it: Iterator[Any]) -> Any:
    if td.node is None:
        return next(it)
    return td.node[1].from_iterable(td.aux, [_unflatten(c, it) for c in td.children])


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise to ``tree`` and trees of the same structure ``rest``.

    >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2,)}, {"a": 10, "b": (20,)})
    {'a': 11, 'b': (22,)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    all_leaves = [leaves]
    for i, other in enumerate(rest):
        other_leaves, other_def = tree_flatten(other, is_leaf)
        if other_def != treedef:
            raise FuncgradValueError(
                f"tree_map: argument {i + 1} has structure {other_def}, which does not match "
                f"the first argument's {treedef}")
        all_leaves.append(other_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(*all_leaves, strict=True)])


def tree_key_paths(tree: Any) -> list[str]:
    """A readable path per leaf, e.g. ``"['conv1']['w']"``, for error messages."""
    return [keystr(p) for p, _ in tree_flatten_with_path(tree)[0]]


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """A key path as a string, as ``jax.tree_util.keystr``: ``"[0]['a'].b"``; with
    ``simple=True`` the bare keys joined by ``separator``.

    >>> keystr((SequenceKey(0), DictKey("a"), GetAttrKey("b")))
    "[0]['a'].b"
    >>> keystr((SequenceKey(0), DictKey("a")), simple=True, separator="/")
    '0/a'
    """
    if not simple:
        return separator.join(str(k) for k in keys)

    def bare(k: Any) -> str:
        for attr in ("idx", "key", "name"):
            if hasattr(k, attr):
                return str(getattr(k, attr))
        return str(k)

    return separator.join(bare(k) for k in keys)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """``([(key_path, leaf), ...], treedef)``, as ``jax.tree_util.tree_flatten_with_path``.

    >>> pairs, _ = tree_flatten_with_path({"a": [1, 2]})
    >>> [(keystr(p), x) for p, x in pairs]
    [("['a'][0]", 1), ("['a'][1]", 2)]
    """
    pairs: list[tuple[KeyPath, Any]] = []
    _flatten_with_path(tree, is_leaf, (), pairs)
    return pairs, tree_structure(tree, is_leaf)


def _flatten_with_path(x: Any, is_leaf: Callable[[Any], bool] | None, path: KeyPath,
                       pairs: list[tuple[KeyPath, Any]]) -> None:
    node = None if is_leaf is not None and is_leaf(x) else _node_type(x)
    if node is None:
        pairs.append((path, x))
        return
    children, aux = node[1].to_iterable(x)
    for key, child in zip(node[1].keys(x, aux), list(children), strict=True):
        _flatten_with_path(child, is_leaf, (*path, key), pairs)


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                          ) -> list[tuple[KeyPath, Any]]:
    """``[(key_path, leaf), ...]``, as ``jax.tree_util.tree_leaves_with_path``."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``tree_map`` whose ``f`` also receives each leaf's key path first, as
    ``jax.tree_util.tree_map_with_path``.

    >>> tree_map_with_path(lambda p, x: keystr(p) + "=" + str(x), {"a": 1, "b": (2,)})
    {'a': "['a']=1", 'b': ("['b'][0]=2",)}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    all_leaves = [[x for _, x in pairs]]
    for i, other in enumerate(rest):
        other_leaves, other_def = tree_flatten(other, is_leaf)
        if other_def != treedef:
            raise FuncgradValueError(
                f"tree_map_with_path: argument {i + 1} has structure {other_def}, which does "
                f"not match the first argument's {treedef}")
        all_leaves.append(other_leaves)
    paths = [p for p, _ in pairs]
    return tree_unflatten(treedef, [f(p, *xs) for p, *xs in zip(paths, *all_leaves, strict=True)])


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    return list(treedef.children)


def broadcast_prefix(prefix: Any, tree: Any, name: str = "prefix",
                     is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """Expand a pytree prefix (e.g. ``in_axes``) to one entry per leaf of ``tree``."""
    out: list[Any] = []
    _expand_prefix(prefix, tree, "", out, name, is_leaf)
    return out


def _expand_prefix(p: Any, t: Any, path: str, out: list[Any], name: str,
                   is_leaf: Callable[[Any], bool] | None) -> None:
    # a module function, not a closure over itself: that would be a reference cycle per call
    pnode = _node_type(p)
    if (is_leaf is not None and is_leaf(p)) or pnode is None or p is None:
        out.extend([p] * tree_structure(t).num_leaves)
        return
    tnode = _node_type(t)
    if tnode is None or pnode[0] != tnode[0]:
        raise FuncgradValueError(
            f"{name} {tree_structure(p)} is not a tree prefix of the arguments "
            f"{tree_structure(t)} (at {path or 'the root'})")
    pch, paux = pnode[1].to_iterable(p)
    tch, taux = tnode[1].to_iterable(t)
    pch, tch = list(pch), list(tch)
    if paux != taux or len(pch) != len(tch):
        raise FuncgradValueError(
            f"{name} {tree_structure(p)} does not match the arguments' structure "
            f"{tree_structure(t)} (at {path or 'the root'})")
    for key, pc, tc in zip(tnode[1].keys(t, taux), pch, tch, strict=True):
        _expand_prefix(pc, tc, path + str(key), out, name, is_leaf)
