"""Pytrees: flatten/unflatten, node types, registration, key paths, transforms over pytrees."""

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import tree_util as tu

Point = namedtuple("Point", ["x", "y"])


def test_flatten_order_and_roundtrip():
    tree = {"b": [1, (2, 3)], "a": None, "c": Point(4, 5)}
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [1, 2, 3, 4, 5]  # dict keys sorted; None has no leaves
    assert tu.tree_unflatten(treedef, leaves) == tree
    assert treedef.num_leaves == 5
    assert repr(treedef) == "PyTreeDef({'a': None, 'b': [*, (*, *)], 'c': Point(*, *)})"


def test_structure_equality_and_unflatten_errors():
    assert tu.tree_structure((1, 2)) == tu.tree_structure((3, 4))
    assert tu.tree_structure((1, 2)) != tu.tree_structure([3, 4])
    with pytest.raises(ValueError, match="has 2 leaves, got 3"):
        tu.tree_unflatten(tu.tree_structure((1, 2)), [1, 2, 3])


def test_tree_map_multiple_trees_and_mismatch():
    assert tu.tree_map(lambda a, b: a * b, [1, {"k": 2}], [3, {"k": 4}]) == [3, {"k": 8}]
    with pytest.raises(ValueError, match="does not match"):
        tu.tree_map(lambda a, b: a, [1, 2], (1, 2))


def test_key_paths():
    params = {"conv1": {"w": 1, "b": 2}, "fc": [3, Point(4, 5)]}
    assert tu.tree_key_paths(params) == [
        "['conv1']['b']", "['conv1']['w']", "['fc'][0]", "['fc'][1].x", "['fc'][1].y"]


def test_register_pytree_node_and_class():
    class Box:
        def __init__(self, value, label):
            self.value, self.label = value, label

    tu.register_pytree_node(Box, lambda b: ((b.value,), b.label),
                            lambda label, kids: Box(kids[0], label))
    g = fg.grad(lambda b: fnp.sum(b.value ** 2))(Box(np.array([1.0, 2.0]), "w"))
    assert isinstance(g, Box) and g.label == "w"
    np.testing.assert_allclose(g.value, [2.0, 4.0])

    @tu.register_pytree_node_class
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def tree_flatten(self):
            return (self.a, self.b), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    out = tu.tree_map(lambda v: v + 1, Pair(1, 2))
    assert (out.a, out.b) == (2, 3)


def test_register_dataclass():
    @dataclasses.dataclass
    class Layer:
        w: np.ndarray
        b: np.ndarray
        name: str = "dense"

    tu.register_dataclass(Layer, data_fields=["w", "b"], meta_fields=["name"])
    layer = Layer(np.ones((2, 2)), np.zeros(2), "fc1")
    g = fg.grad(lambda p, x: fnp.sum(x @ p.w + p.b))(layer, np.array([1.0, 2.0]))
    assert g.name == "fc1"
    np.testing.assert_allclose(g.w, [[1, 1], [2, 2]])
    np.testing.assert_allclose(g.b, [1, 1])


def test_tree_namespace_aliases():
    assert fg.tree is fg.tree_util
    assert fg.tree.leaves({"a": 1, "b": [2]}) == [1, 2]
    assert fg.tree.map(lambda x: -x, (1,)) == (-1,)


def test_vmap_in_axes_prefix_with_none():
    params = {"w": np.ones(3), "b": np.array(1.0)}
    xs = np.arange(6.0).reshape(2, 3)
    out = fg.vmap(lambda p, x: fnp.dot(p["w"], x) + p["b"], in_axes=(None, 0))(params, xs)
    np.testing.assert_allclose(out, xs.sum(1) + 1)
    per_leaf = fg.vmap(lambda p: p["w"] * p["b"], in_axes=({"w": 0, "b": None},))(
        {"w": xs, "b": np.array(2.0)})
    np.testing.assert_allclose(per_leaf, 2 * xs)
    with pytest.raises(ValueError, match="prefix"):
        fg.vmap(lambda p: p, in_axes=([0, 0],))({"w": xs})


def test_a_dropped_pullback_frees_its_residuals_without_the_cycle_collector() -> None:
    # tree_flatten's recursive closure was a reference cycle holding the leaves, so a dropped
    # pullback's tape (and every residual) lived until gc ran.
    import gc
    import weakref

    import funcgrad as fg
    import funcgrad.numpy as fnp

    gc.disable()
    try:
        x = np.ones(1000)
        y, pullback = fg.vjp(lambda x: fnp.sin(fnp.tanh(x)), x)
        cells = dict(zip(pullback.__code__.co_freevars, pullback.__closure__))
        trace_ref = weakref.ref(cells["trace"].cell_contents)  # the tape and its residuals
        del y, pullback, cells
        assert trace_ref() is None
    finally:
        gc.enable()
