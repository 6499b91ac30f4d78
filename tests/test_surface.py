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
import funcgrad.numpy as fnp
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

    class Box2(Box):
        pass

    tu.register_pytree_node(
        Box2, lambda x: ((x.a, x.b), None), lambda aux, c: Box2(*c),
        lambda x: (((tu.GetAttrKey("a"), x.a), (tu.GetAttrKey("b"), x.b)), None))
    assert [tu.keystr(p) for p, _ in tu.tree_flatten_with_path(Box2(1, 2))[0]] == [".a", ".b"]
    assert tu.tree_map(lambda v: v * 10, Box2(1, 2)).b == 20


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


def test_register_pytree_with_keys_class() -> None:
    @tu.register_pytree_with_keys_class
    class Lin:
        def __init__(self, w: Any, b: Any) -> None:
            self.w, self.b = w, b

        def tree_flatten_with_keys(self) -> Any:
            return ((tu.GetAttrKey("w"), self.w), (tu.GetAttrKey("b"), self.b)), None

        @classmethod
        def tree_unflatten(cls, aux: Any, children: Any) -> Any:
            return cls(*children)

    tree = {"l": Lin(np.ones(2), np.zeros(2))}
    assert [tu.keystr(p) for p, _ in tu.tree_flatten_with_path(tree)[0]] == \
        ["['l'].w", "['l'].b"]
    out = fg.jit(lambda t: fg.tree_util.tree_map(lambda v: v + 1, t))(tree)
    assert isinstance(out["l"], Lin) and float(out["l"].b[0]) == 1.0


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


# == eval_shape, ShapeDtypeStruct, device_put, block_until_ready ==============================

def test_eval_shape_matches_jax() -> None:
    def f(x: Any, y: Any) -> Any:
        return {"dot": x @ y, "s": (x.sum(), y.astype(np.int32))}

    sx, sy = fg.ShapeDtypeStruct((2, 3), np.float32), fg.ShapeDtypeStruct((3, 4), np.float32)
    ours = fg.eval_shape(f, sx, sy)
    theirs = jax.eval_shape(f, jax.ShapeDtypeStruct((2, 3), np.float32),
                            jax.ShapeDtypeStruct((3, 4), np.float32))
    assert tu.tree_structure(ours) == tu.tree_structure(
        {"dot": 0, "s": (0, 0)}) and all(isinstance(o, fg.ShapeDtypeStruct)
                                         for o in tu.tree_leaves(ours))
    for o, t in zip(tu.tree_leaves(ours), jtu.tree_leaves(theirs), strict=True):
        assert o.shape == t.shape and o.dtype == t.dtype
    assert repr(ours["dot"]) == "ShapeDtypeStruct(shape=(2, 4), dtype=float32)"
    # arrays, Python scalars (weak) and JAX's structs are accepted too; nothing is computed
    calls = []
    out = fg.eval_shape(lambda a, b, c: (calls.append(type(a)), a * b + c)[1],
                        np.ones(5), 2.0, jax.ShapeDtypeStruct((5,), np.float64))
    assert out == fg.ShapeDtypeStruct((5,), np.float64) and calls[0] is not np.ndarray
    scalar = fg.eval_shape(lambda a: a * 2, 1.0)
    assert scalar.shape == () and scalar.dtype == np.float64
    with pytest.raises(TypeError, match="eval_shape"):
        fg.eval_shape(lambda a: a, "x")
    with pytest.raises(TypeError, match="shape"):
        fg.ShapeDtypeStruct(3, np.float32)  # type: ignore[arg-type]


def test_shape_dtype_struct_stages() -> None:
    s = fg.ShapeDtypeStruct((3,), np.float64)
    closed = fg.make_jaxpr(lambda x: fnp.sin(x) * 2)(s)
    assert [v.aval.shape for v in closed.jaxpr.invars] == [(3,)]
    assert s.ndim == 1 and s.size == 3 and len(s) == 3 and hash(s) == hash(
        fg.ShapeDtypeStruct([3], "float64"))


def test_device_put_and_block_until_ready() -> None:
    x = np.arange(3.0)
    assert fg.device_put(x) is x and fg.device_put(x, "cpu") is x
    out = fg.device_put({"a": [1.0, 2], "b": np.float32(3)})
    assert isinstance(out["a"][0], np.ndarray) and out["a"][1].dtype == np.asarray(2).dtype
    assert out["b"].dtype == np.float32
    tree = {"a": x, "b": (x,)}
    assert fg.block_until_ready(tree) is tree
    np.testing.assert_array_equal(fg.jit(lambda v: fg.device_put(v) * 2)(x), 2 * x)
    with pytest.raises(TypeError, match="device_put"):
        fg.device_put(object())


# == linear_transpose =========================================================================

def test_linear_transpose_matches_jax_and_matrix_transpose() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))

    def f(x: Any, y: Any) -> Any:
        return {"u": a @ x + 2 * y[:3], "v": fnp.cumsum(x)}

    def jf(x: Any, y: Any) -> Any:
        return {"u": a @ x + 2 * y[:3], "v": jnp.cumsum(x)}

    ct = {"u": rng.normal(size=3), "v": rng.normal(size=4)}
    ours = fg.linear_transpose(f, np.zeros(4), fg.ShapeDtypeStruct((5,), np.float64))(ct)
    theirs = jax.linear_transpose(jf, np.zeros(4), np.zeros(5))(ct)
    assert isinstance(ours, tuple) and len(ours) == 2
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    np.testing.assert_allclose(fg.linear_transpose(lambda x: a @ x, np.ones(4))(np.ones(3))[0],
                               a.T @ np.ones(3))
    # the transpose itself stages and transforms (it is linear in the cotangent)
    t_fn = fg.linear_transpose(lambda x: a @ x, np.ones(4))
    np.testing.assert_allclose(fg.jit(t_fn)(np.ones(3))[0], a.T @ np.ones(3))
    np.testing.assert_allclose(fg.vmap(lambda c: t_fn(c)[0])(np.eye(3)), a)
    with pytest.raises(TypeError, match="floating"):
        fg.linear_transpose(lambda x: x, np.ones(2, np.int64))
    with pytest.raises(ValueError, match="shape"):
        t_fn(np.ones(2))


# == closure_convert ==========================================================================

def test_closure_convert_hoists_traced_values() -> None:
    seen: list[int] = []

    def outer(w: Any, x: Any) -> Any:
        f, consts = fg.closure_convert(lambda v: fnp.sin(w * v) + 1.0, x)
        seen.append(len(consts))
        return f(x, *consts)

    w, x = np.array(0.7), np.array(1.3)
    np.testing.assert_allclose(outer(w, x), np.sin(0.7 * 1.3) + 1)
    assert seen[-1] == 0
    g = fg.grad(outer)(w, x)
    assert seen[-1] == 1
    np.testing.assert_allclose(g, jax.grad(lambda w: jnp.sin(w * 1.3) + 1.0)(0.7), rtol=1e-12)
    np.testing.assert_allclose(fg.jit(outer)(w, x), outer(w, x))
    np.testing.assert_allclose(fg.vmap(outer, (0, None))(np.array([0.1, 0.7]), x),
                               np.sin(np.array([0.1, 0.7]) * 1.3) + 1)


def test_closure_convert_with_custom_vjp() -> None:
    # JAX's documented use: a closure passed to a custom_vjp function as explicit operands.
    @fg.custom_vjp
    def apply(fun_consts: Any, x: Any) -> Any:
        return x

    def outer(w: Any, x: Any) -> Any:
        f, consts = fg.closure_convert(lambda v: w * v ** 2, x)
        return f(x, *consts)

    np.testing.assert_allclose(fg.grad(outer, argnums=(0, 1))(np.array(2.0), np.array(3.0)),
                               (9.0, 12.0))
    with pytest.raises(TypeError, match="argument"):
        fg.closure_convert(lambda v: v, np.ones(2))[0](np.ones(2), np.ones(2))
    del apply


# == custom_gradient and custom_jvp.defjvps ===================================================

def test_custom_gradient_matches_jax() -> None:
    def make(np_: Any, deco: Any) -> Any:
        @deco
        def f(x: Any, y: Any) -> Any:
            out = np_.sin(x) * y
            return out, lambda g: (g * np_.cos(x) * y * 3.0, g * np_.sin(x))
        return f

    f, jf = make(fnp, fg.custom_gradient), make(jnp, jax.custom_gradient)
    x, y = np.array([0.3, 1.1]), np.array([2.0, -1.0])
    np.testing.assert_allclose(f(x, y), jf(x, y))
    ours = fg.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(x, y)
    theirs = jax.grad(lambda a, b: jf(a, b).sum(), argnums=(0, 1))(x, y)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    jitted = fg.jit(fg.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1)))(x, y)
    for o, t in zip(jitted, theirs, strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    per = fg.vmap(fg.grad(lambda a, b: f(a, b)))(x, y)
    np.testing.assert_allclose(per, theirs[0])
    # second order: the vjp's own derivative (d/dx of 3 cos(x) y) is differentiated normally
    np.testing.assert_allclose(fg.grad(fg.grad(lambda a: f(a, np.array(2.0))))(np.array(0.3)),
                               jax.grad(jax.grad(lambda a: jf(a, 2.0)))(0.3), rtol=1e-12)
    with pytest.raises(TypeError, match="pair"):
        fg.custom_gradient(lambda x: x)(np.ones(1))
    with pytest.raises(TypeError, match="forward-mode"):
        fg.jvp(lambda a: f(a, y), (x,), (x,))


def test_custom_gradient_bare_cotangent() -> None:
    @fg.custom_gradient
    def clip(x: Any) -> Any:
        return x, lambda g: fnp.clip(g, -1.0, 1.0)

    assert float(fg.grad(lambda v: 5.0 * clip(v))(np.array(2.0))) == 1.0


def test_defjvps_matches_jax() -> None:
    def make(np_: Any, deco: Any) -> Any:
        f = deco(lambda x, y: np_.sin(x) * y)
        f.defjvps(lambda t, ans, x, y: np_.cos(x) * y * t * 2.0,
                  lambda t, ans, x, y: np_.sin(x) * t)
        return f

    f, jf = make(fnp, fg.custom_jvp), make(jnp, jax.custom_jvp)
    x, y = np.array([0.3, 1.1]), np.array([2.0, -1.0])
    tx, ty = np.array([1.0, 0.5]), np.array([-0.2, 0.7])
    o, t = fg.jvp(f, (x, y), (tx, ty))
    jo, jt = jax.jvp(jf, (x, y), (tx, ty))
    np.testing.assert_allclose(o, jo)
    np.testing.assert_allclose(t, jt, rtol=1e-12)
    for argnums in (0, 1, (0, 1)):
        ours = fg.grad(lambda a, b: f(a, b).sum(), argnums=argnums)(x, y)
        theirs = jax.grad(lambda a, b: jf(a, b).sum(), argnums=argnums)(x, y)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(fg.jit(lambda a: fg.jvp(f, (a, y), (tx, ty))[1])(x), jt)
    np.testing.assert_allclose(fg.vmap(fg.grad(lambda a, b: f(a, b)))(x, y),
                               jax.vmap(jax.grad(jf))(x, y))
    g = fg.custom_jvp(lambda x, y: x * y)
    g.defjvps(None, lambda t, ans, x, y: x * t)
    np.testing.assert_allclose(fg.jvp(g, (x, y), (tx, ty))[1], x * ty)
    bad = fg.custom_jvp(lambda x: x)
    bad.defjvps(None, None)
    with pytest.raises(TypeError, match="2 JVP"):
        fg.jvp(bad, (x,), (tx,))
    with pytest.raises(TypeError, match="nondiff_argnums"):
        fg.custom_jvp(lambda n, x: x, nondiff_argnums=(0,)).defjvps(None)


# == pure_callback ============================================================================

_CB_TYPES: list[type] = []


def _cb(x: np.ndarray, y: np.ndarray) -> Any:
    _CB_TYPES.extend([type(x), type(y)])
    return {"s": np.sin(x) * y, "n": np.asarray(np.sum(x), np.float64)}


def _call(x: Any, y: Any, method: str | None = "sequential") -> Any:
    shapes = {"s": fg.ShapeDtypeStruct(x.shape, np.float64),
              "n": fg.ShapeDtypeStruct((), np.float64)}
    return fg.pure_callback(_cb, shapes, x, y=y, vmap_method=method)


def test_pure_callback_eager_staged_and_jit() -> None:
    x, y = np.array([0.3, 1.1, 2.0]), np.array([2.0, -1.0, 0.5])
    out = _call(x, y)
    assert set(_CB_TYPES) == {np.ndarray}  # the callback sees NumPy arrays, never tracers
    np.testing.assert_allclose(out["s"], np.sin(x) * y)
    np.testing.assert_allclose(out["n"], x.sum())
    closed = fg.make_jaxpr(_call)(x, y)
    assert "pure_callback" in str(closed)
    jitted = fg.jit(_call)(x, y)
    np.testing.assert_allclose(jitted["s"], out["s"])
    jout = jax.pure_callback(_cb, {"s": jax.ShapeDtypeStruct((3,), np.float64),
                                   "n": jax.ShapeDtypeStruct((), np.float64)}, x, y=y)
    np.testing.assert_allclose(jout["s"], out["s"])
    # a pure callback whose result nobody reads is dead code under jit
    calls: list[int] = []
    dead = fg.jit(lambda v: (fg.pure_callback(lambda a: (calls.append(1), a)[1],
                                              fg.ShapeDtypeStruct((3,), np.float64), v), v)[1])
    dead(x)
    assert calls == []


@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims",
                                    "broadcast_all"])
def test_pure_callback_vmap_methods(method: str) -> None:
    xs, y = np.random.default_rng(1).normal(size=(4, 3)), np.array([2.0, -1.0, 0.5])
    seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def cb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        seen.append((a.shape, b.shape))
        return np.sin(a) * b

    def f(x: Any) -> Any:
        return fg.pure_callback(cb, fg.ShapeDtypeStruct(x.shape, x.dtype), x, y,
                                vmap_method=method)

    np.testing.assert_allclose(fg.vmap(f)(xs), np.sin(xs) * y)
    np.testing.assert_allclose(fg.jit(fg.vmap(f))(xs), np.sin(xs) * y)
    want = {"sequential": [((3,), (3,))] * 4, "sequential_unrolled": [((3,), (3,))] * 4,
            "expand_dims": [((4, 3), (1, 3))], "broadcast_all": [((4, 3), (4, 3))]}[method]
    assert seen[:len(want)] == want
    np.testing.assert_allclose(fg.vmap(f, in_axes=1, out_axes=1)(xs.T), (np.sin(xs) * y).T)
    np.testing.assert_allclose(fg.vmap(fg.vmap(f))(xs[None]), (np.sin(xs) * y)[None])


def test_pure_callback_refusals() -> None:
    x = np.array([0.3, 1.1])
    f = lambda v: fg.pure_callback(np.sin, fg.ShapeDtypeStruct((2,), np.float64), v)  # noqa: E731
    with pytest.raises(NotImplementedError, match="vmap_method"):
        fg.vmap(f)(np.ones((3, 2)))
    with pytest.raises(ValueError, match="do not support JVP"):
        fg.jvp(f, (x,), (x,))
    with pytest.raises(ValueError, match="do not support"):
        fg.grad(lambda v: f(v).sum())(x)
    with pytest.raises(ValueError, match="output shape"):
        fg.pure_callback(lambda v: v[:1], fg.ShapeDtypeStruct((2,), np.float64), x)
    with pytest.raises(TypeError, match="output dtype"):
        fg.pure_callback(lambda v: v.astype(np.float32), fg.ShapeDtypeStruct((2,), np.float64),
                         x)
    with pytest.raises(ValueError, match="vmap_method"):
        fg.pure_callback(np.sin, fg.ShapeDtypeStruct((2,), np.float64), x, vmap_method="loop")
    with pytest.raises(TypeError, match="result_shape_dtypes"):
        fg.pure_callback(np.sin, 3, x)
    # under custom_jvp a callback is differentiable, as JAX documents
    g = fg.custom_jvp(f)
    g.defjvp(lambda p, t: (f(p[0]), fnp.cos(p[0]) * t[0]))
    np.testing.assert_allclose(fg.grad(lambda v: g(v).sum())(x), np.cos(x))


def test_custom_jvp_rule_survives_nested_reverse_mode() -> None:
    # The primal body is never differentiated (here it is stop_gradient'ed, as an iterative
    # solver's would be): every order of derivative must come from the rule, as in JAX.
    def make(np_: Any, deco: Any, sg: Any) -> Any:
        f = deco(lambda a: sg(np_.sqrt(a)))
        f.defjvp(lambda p, t: (f(p[0]), t[0] / (2 * f(p[0]))))
        return f

    f, jf = make(fnp, fg.custom_jvp, fg.stop_gradient), make(jnp, jax.custom_jvp,
                                                           jax.lax.stop_gradient)
    a = np.array([2.0, 3.0])
    for ours, theirs in (
            (fg.grad(lambda v: fg.grad(lambda w: f(w).sum())(v).sum()),
             jax.grad(lambda v: jax.grad(lambda w: jf(w).sum())(v).sum())),
            (fg.jacfwd(fg.grad(lambda w: f(w).sum())), jax.jacfwd(jax.grad(lambda w: jf(w).sum()))),
            (fg.grad(lambda v: fg.vjp(f, v)[1](a)[0].sum()),
             jax.grad(lambda v: jax.vjp(jf, v)[1](a)[0].sum())),
            (fg.hessian(lambda w: f(w).sum()), jax.hessian(lambda w: jf(w).sum()))):
        np.testing.assert_allclose(ours(a), theirs(a), rtol=1e-12)
