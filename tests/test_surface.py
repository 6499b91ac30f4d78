"""The JAX surface outside ``jax.numpy``: ``fg.tree_util`` key paths and helpers, and the
top-level ``eval_shape``/``ShapeDtypeStruct``/``device_put``/``linear_transpose``/
``closure_convert``/``pure_callback``/``custom_gradient``/``custom_jvp.defjvps``, each
checked against JAX (x64) and NumPy."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import tree_util as jtu

import funcgrad as fg
from funcgrad import tree_util as tu

jax.config.update("jax_enable_x64", True)

Pt = collections.namedtuple("Pt", "x y")


@dataclasses.dataclass
class DC:
    w: Any
    b: Any


tu.register_dataclass(DC, data_fields=["w", "b"], meta_fields=[])
jtu.register_dataclass(DC, data_fields=["w", "b"], meta_fields=[])


def _trees() -> list[Any]:
    return [
        {"a": [1, (2, 3)], "b": Pt(4, None), "c": {}},
        [DC(1.0, [2.0, 3.0]), (), None, {"z": 5, "y": (6,)}],
        7,
        (Pt(x=[8], y={"k": 9}),),
    ]


# == tree_util ================================================================================

@pytest.mark.parametrize("i", range(4))
def test_keystr_and_flatten_with_path_match_jax(i: int) -> None:
    tree = _trees()[i]
    ours, jours = tu.tree_flatten_with_path(tree)[0], jtu.tree_flatten_with_path(tree)[0]
    assert [tu.keystr(p) for p, _ in ours] == [jtu.keystr(p) for p, _ in jours]
    assert [tu.keystr(p, simple=True, separator="/") for p, _ in ours] == \
        [jtu.keystr(p, simple=True, separator="/") for p, _ in jours]
    assert [x for _, x in ours] == [x for _, x in jours]
    assert [repr(k) for p, _ in ours for k in p] == [repr(k) for p, _ in jours for k in p]
    assert tu.tree_leaves_with_path(tree) == ours
    assert [tu.keystr(p) for p, _ in ours] == tu.tree_key_paths(tree)


def test_registered_node_keys_are_flat_indices() -> None:
    class Box:
        def __init__(self, a: Any, b: Any) -> None:
            self.a, self.b = a, b

    tu.register_pytree_node(Box, lambda x: ((x.a, x.b), None), lambda aux, c: Box(*c))
    paths = [tu.keystr(p) for p, _ in tu.tree_flatten_with_path({"q": Box(1, [2])})[0]]
    assert paths == ["['q'][<flat index 0>]", "['q'][<flat index 1>][0]"]


def test_register_pytree_with_keys() -> None:
    class Pair:
        def __init__(self, a: Any, b: Any) -> None:
            self.a, self.b = a, b

    tu.register_pytree_with_keys(
        Pair, lambda p: (((tu.GetAttrKey("a"), p.a), (tu.DictKey("bee"), p.b)), "aux"),
        lambda aux, c: Pair(*c))
    tree = [Pair(np.array(1.0), np.array(2.0))]
    assert [tu.keystr(p) for p, _ in tu.tree_flatten_with_path(tree)[0]] == \
        ["[0].a", "[0]['bee']"]
    out = fg.grad(lambda t: t[0].a * t[0].b)(tree)
    assert isinstance(out[0], Pair) and float(out[0].a) == 2.0 and float(out[0].b) == 1.0


def test_tree_map_with_path() -> None:
    tree = {"a": [1, 2], "b": Pt(3, 4)}
    ours = tu.tree_map_with_path(lambda p, x, y: (tu.keystr(p), x + 10 * y), tree, tree)
    theirs = jtu.tree_map_with_path(lambda p, x, y: (jtu.keystr(p), x + 10 * y), tree, tree)
    assert ours == theirs
    with pytest.raises(ValueError, match="structure"):
        tu.tree_map_with_path(lambda p, x, y: x, tree, [1, 2])


def test_tree_reduce_all_transpose() -> None:
    tree = {"a": [1, 2], "b": (3, 4)}
    assert tu.tree_reduce(lambda a, b: a * b, tree) == jtu.tree_reduce(lambda a, b: a * b, tree)
    assert tu.tree_reduce(lambda a, b: a + b, tree, 100) == 110
    assert tu.tree_reduce(lambda a, b: a + b, [], 5) == 5
    with pytest.raises(TypeError, match="no leaves"):
        tu.tree_reduce(lambda a, b: a + b, [])
    assert tu.tree_all([True, {"a": 1}]) and not tu.tree_all([True, (0,)]) and tu.tree_all([])
    outer, inner = tu.tree_structure([0, 0, 0]), tu.tree_structure({"p": 0, "q": (0,)})
    x = [{"p": i, "q": (10 * i,)} for i in range(3)]
    want = jtu.tree_transpose(jtu.tree_structure([0, 0, 0]),
                              jtu.tree_structure({"p": 0, "q": (0,)}), x)
    assert tu.tree_transpose(outer, inner, x) == want
    assert tu.tree_transpose(outer, None, x) == want
    with pytest.raises(ValueError, match="inner"):
        tu.tree_transpose(outer, inner, [{"p": 0, "q": (1,)}, {"p": 0, "q": 1}, x[0]])
    with pytest.raises(TypeError, match="list"):
        tu.tree_transpose(outer, inner, (1, 2, 3))
    assert fg.tree.transpose is tu.tree_transpose and fg.tree.map_with_path is \
        tu.tree_map_with_path


def test_partial_is_a_pytree_through_transforms() -> None:
    def apply(f: Any, x: Any) -> Any:
        return f(x)

    f = tu.Partial(lambda a, x, *, s: s * a * x ** 2, np.array(3.0), s=2.0)
    assert tu.tree_leaves(f) == [np.array(3.0), 2.0]
    assert float(fg.jit(apply)(f, np.array(2.0))) == 24.0
    g = fg.grad(apply)(f, np.array(2.0))
    assert isinstance(g, tu.Partial) and float(g.args[0]) == 8.0
    batched = fg.vmap(apply)(tu.Partial(lambda a, x, *, s: s * a * x, np.arange(3.0), s=np.ones(3)),
                             np.arange(3.0))
    np.testing.assert_allclose(batched, np.arange(3.0) ** 2)
    nested = tu.Partial(tu.Partial(lambda a, b, c: a + b + c, 1), 2)
    assert nested(3) == 6 and len(tu.tree_leaves(nested)) == 2
    jf = jtu.Partial(lambda a, x, *, s: s * a * x ** 2, jnp.array(3.0), s=2.0)
    assert float(jax.grad(apply)(jf, 2.0).args[0]) == float(g.args[0])
