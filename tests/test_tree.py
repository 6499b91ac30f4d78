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
        cells = dict(zip(pullback.__code__.co_freevars, pullback.__closure__, strict=True))
        trace_ref = weakref.ref(cells["trace"].cell_contents)  # the tape and its residuals
        del y, pullback, cells
        assert trace_ref() is None
    finally:
        gc.enable()


# == save / load ==============================================================================

def test_save_load_round_trip_nested(tmp_path):
    import funcgrad.optim as fo
    State = namedtuple("State", ["count", "mu"])
    tree = {"params": {"w": np.arange(6.0).reshape(2, 3), "b": np.float32([1, 2])},
            "layers": [(np.int64([1, 2, 3]), None), {"k": np.bool_([True, False])}],
            "step": 7, "lr": 0.5, "flag": True, "ints": {3: np.zeros((0, 2)), 1: 2.5},
            "state": State(np.int32(2), [np.ones((2, 2), np.float16)])}
    p = tmp_path / "tree.npz"
    tu.save(p, tree)
    back = tu.load(p)
    assert sorted(back["ints"]) == [1, 3] and back["ints"][1] == 2.5
    assert back["step"] == 7 and type(back["step"]) is int
    assert back["lr"] == 0.5 and back["flag"] is True and back["layers"][0][1] is None
    assert type(back["layers"][0]) is tuple and type(back["layers"]) is list
    assert back["state"]._fields == ("count", "mu") and type(back["state"]).__name__ == "State"
    for a, b in zip(tu.tree_leaves(tree), tu.tree_leaves(back), strict=True):
        if isinstance(a, (bool, int, float)):
            assert type(a) is type(b) and a == b
        else:
            assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all()
    # with like=, registered structures (here optimiser state NamedTuples) come back exactly
    opt = fo.adam(0.1)
    params = {"w": np.ones((2, 2)), "b": np.zeros(2)}
    st = opt.init(params)
    _, st = opt.update({"w": np.full((2, 2), 0.3), "b": np.ones(2)}, st)
    tu.save(p, st)
    st2 = tu.load(p, like=opt.init(params))
    assert tu.tree_structure(st2) == tu.tree_structure(st)
    for a, b in zip(tu.tree_leaves(st), tu.tree_leaves(st2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_load_registered_class_needs_like(tmp_path):
    @tu.register_dataclass
    @dataclasses.dataclass
    class Lin:
        w: np.ndarray
        b: np.ndarray

    tree = {"lin": Lin(np.ones(3), np.zeros(1))}
    p = tmp_path / "lin.npz"
    tu.save(p, tree)
    with pytest.raises(fg.core.errors.FuncgradValueError, match="like="):
        tu.load(p)
    back = tu.load(p, like={"lin": Lin(np.zeros(3), np.zeros(1))})
    assert isinstance(back["lin"], Lin) and (back["lin"].w == 1).all()
    with pytest.raises(fg.core.errors.FuncgradValueError, match="shape"):
        tu.load(p, like={"lin": Lin(np.zeros(4), np.zeros(1))})
    with pytest.raises(fg.core.errors.FuncgradValueError, match="leaves"):
        tu.load(p, like={"lin": Lin(np.zeros(3), (np.zeros(1), 1))})


def test_save_refuses_objects_and_never_pickles(tmp_path):
    p = tmp_path / "o.npz"
    with pytest.raises(fg.core.errors.FuncgradTypeError, match="leaf 0"):
        tu.save(p, [np.array([object()], dtype=object)])
    tu.save(p, {"a": np.ones(2)})
    with np.load(p, allow_pickle=False) as z:  # the file loads with pickling disabled
        assert set(z.files) == {"leaf_0", "__treedef__"}
    np.savez(tmp_path / "plain.npz", x=np.ones(1))
    with pytest.raises(fg.core.errors.FuncgradValueError, match="__treedef__"):
        tu.load(tmp_path / "plain.npz")
