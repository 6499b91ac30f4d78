"""``fg.numpy`` against NumPy: every function in API.md, forward values and dtypes (NEP 50),
broadcasting, reductions, indexing with its gradients, ``.at[]`` updates and einsum."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id, staged
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.errors import ShapeError
from funcgrad.core.pytree import tree_flatten, tree_leaves
from funcgrad.lax.indexing import IndexHelper

SPECS = all_specs()

# The fg.numpy functions API.md promises (section "fg.numpy").
API_NUMPY = {
    "elementwise": """add subtract multiply divide true_divide floor_divide power negative abs sign
        exp exp2 log log2 log10 log1p expm1 sqrt square reciprocal sin cos tan arcsin arccos
        arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh maximum minimum clip where floor
        ceil round isnan isfinite logaddexp""",
    "comparison and logical": """equal not_equal less less_equal greater greater_equal
        logical_and logical_or logical_xor logical_not""",
    "reductions": """sum mean prod max min amax amin argmax argmin var std all any cumsum
        cumprod""",
    "shape": """reshape ravel transpose moveaxis swapaxes expand_dims squeeze broadcast_to
        concatenate stack hstack vstack split pad flip rot90 tile repeat roll take
        take_along_axis""",
    "linear algebra": "dot matmul vdot inner outer tensordot einsum trace diagonal",
    "creation": "array asarray zeros ones full zeros_like ones_like full_like arange linspace eye",
}
API_NAMES = sorted({n for names in API_NUMPY.values() for n in names.split()})


# == the API surface ==========================================================================

@pytest.mark.parametrize("name", API_NAMES)
def test_api_function_exists(name: str) -> None:
    assert callable(getattr(fnp, name, None)), f"fg.numpy.{name} is missing"


@pytest.mark.parametrize("name", API_NAMES)
def test_api_function_has_a_spec(name: str) -> None:
    covering = [s.name for s in SPECS if name in s.extra.get("numpy", ())]
    assert covering, f"no OpSpec covers fg.numpy.{name} (extra['numpy'])"


def test_api_function_names_parse() -> None:
    assert len(API_NAMES) > 90 and "take_along_axis" in API_NAMES


# == every spec against its NumPy reference ===================================================

REF_SPECS = [s for s in SPECS if s.reference is not None]


def _assert_same(got: Any, want: Any, rtol: float, atol: float, what: str) -> None:
    g_leaves, g_tree = tree_flatten(got)
    w_leaves = tree_leaves(want)
    assert len(g_leaves) == len(w_leaves), f"{what}: {len(g_leaves)} outputs, want " \
                                           f"{len(w_leaves)}"
    for i, (g, w) in enumerate(zip(g_leaves, w_leaves, strict=True)):
        w = np.asarray(w)
        assert type(g) is np.ndarray, f"{what}: output {i} is a {type(g).__name__}, not ndarray"
        assert g.shape == w.shape, f"{what}: output {i} shape {g.shape}, NumPy {w.shape}"
        assert g.dtype == w.dtype, f"{what}: output {i} dtype {g.dtype}, NumPy {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}: output {i}")


def run(spec: OpSpec, *args: Any) -> Any:
    """``spec.fn(*args)``; a spec written with operators, methods or ``x[key]`` runs on tracers
    (staged and evaluated), since on ndarrays those would be NumPy's own."""
    return staged(spec.fn)(*args) if spec.extra.get("tracer_only") else spec.fn(*args)


def test_reference_table_is_not_empty() -> None:
    assert len(REF_SPECS) > 150


@pytest.mark.parametrize("spec", REF_SPECS, ids=spec_id)
def test_spec_forward_float64(spec: OpSpec, rng: np.random.Generator) -> None:
    args = spec.args(rng)
    _assert_same(run(spec, *args), spec.reference(*args), 1e-12, 1e-12, spec.name)


F32_SPECS = [s for s in REF_SPECS if np.float32 in s.dtypes]


@pytest.mark.parametrize("spec", F32_SPECS, ids=spec_id)
def test_spec_forward_float32_stays_float32(spec: OpSpec, rng: np.random.Generator) -> None:
    args = tuple(a.astype(np.float32) if np.asarray(a).dtype == np.float64 else a
                 for a in spec.args(rng))
    want = spec.reference(*args)
    assert any(np.asarray(w).dtype == np.float32 for w in tree_leaves(want))
    _assert_same(run(spec, *args), want, 2e-6, 2e-6, spec.name)
    # ... and the derivatives are float32 too: nothing upcasts silently.
    if spec.grad_order:
        _, f_vjp = fg.vjp(spec.fn, *args)
        out = spec.fn(*args)
        cts = fg.tree_util.tree_map(lambda o: np.ones_like(o), out)
        for a, c in zip(args, f_vjp(cts), strict=True):
            assert c.dtype == np.asarray(a).dtype, f"cotangent {c.dtype} for a {a.dtype} input"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_spec_outputs_are_plain_ndarrays(spec: OpSpec, rng: np.random.Generator) -> None:
    for o in tree_leaves(run(spec, *spec.args(rng))):
        assert type(o) is np.ndarray, f"{spec.name} returned a {type(o).__name__}"


def test_grad_outputs_are_plain_ndarrays() -> None:
    g = fg.grad(lambda x: fnp.sum(x * x))(np.ones(3))
    assert type(g) is np.ndarray
    out, t = fg.jvp(fnp.sin, (np.array(1.0),), (np.array(1.0),))
    assert type(out) is np.ndarray and type(t) is np.ndarray
    assert type(fnp.sum(np.ones(3))) is np.ndarray  # NumPy would give np.float64
    assert type(fnp.argmax(np.ones(3))) is np.ndarray


@pytest.mark.parametrize("name, fn", [
    ("zeros", lambda: fnp.zeros((2, 3))), ("ones", lambda: fnp.ones(3, np.int32)),
    ("full", lambda: fnp.full((2,), 7, np.int8)), ("eye", lambda: fnp.eye(3, 4, 1)),
    ("arange", lambda: fnp.arange(1, 7, 2)), ("arange_float", lambda: fnp.arange(0.5, 2.0, 0.5)),
    ("linspace", lambda: fnp.linspace(0, 1, 5)), ("zeros_like", lambda: fnp.zeros_like(
        np.ones((2, 2), np.float32))), ("ones_like", lambda: fnp.ones_like(np.arange(3))),
    ("full_like", lambda: fnp.full_like(np.arange(3.0), 2)),
    ("array", lambda: fnp.array([[1, 2], [3, 4]])), ("asarray", lambda: fnp.asarray([1.5, 2])),
    ("array_dtype", lambda: fnp.array([1, 2], np.float32)),
])
def test_creation_matches_numpy(name: str, fn: Any) -> None:
    ref = {"zeros": lambda: np.zeros((2, 3)), "ones": lambda: np.ones(3, np.int32),
           "full": lambda: np.full((2,), 7, np.int8), "eye": lambda: np.eye(3, 4, 1),
           "arange": lambda: np.arange(1, 7, 2), "arange_float": lambda: np.arange(0.5, 2.0, 0.5),
           "linspace": lambda: np.linspace(0, 1, 5),
           "zeros_like": lambda: np.zeros_like(np.ones((2, 2), np.float32)),
           "ones_like": lambda: np.ones_like(np.arange(3)),
           "full_like": lambda: np.full_like(np.arange(3.0), 2),
           "array": lambda: np.array([[1, 2], [3, 4]]), "asarray": lambda: np.asarray([1.5, 2]),
           "array_dtype": lambda: np.array([1, 2], np.float32)}[name]
    _assert_same(fn(), ref(), 0, 0, name)


def test_array_copies_and_asarray_does_not() -> None:
    x = np.arange(3.0)
    assert fnp.asarray(x) is x
    y = fnp.array(x)
    assert y is not x and np.array_equal(x, y)
    y[0] = 5.0
    assert x[0] == 0.0


def test_traced_creation_keeps_derivatives() -> None:
    # Traced fill values and linspace ends are differentiable (they used to be lowered to
    # constants, silently dropping the derivative).
    assert fg.grad(lambda s: fnp.sum(fnp.full((2, 3), s)))(2.0) == 6.0
    assert fg.grad(lambda s: fnp.sum(fnp.full_like(np.ones(4), s)))(2.0) == 4.0
    ga, gb = fg.grad(lambda a, b: fnp.sum(fnp.linspace(a, b, 5) * np.arange(5.0)),
                     argnums=(0, 1))(0.0, 1.0)
    np.testing.assert_allclose([ga, gb], [np.sum((1 - np.linspace(0, 1, 5)) * np.arange(5)),
                                          np.sum(np.linspace(0, 1, 5) * np.arange(5))])
    assert fg.grad(lambda v: fnp.sum(fnp.pad(np.ones(2), 1, constant_values=v)))(3.0) == 2.0


def test_linspace_traced_array_ends() -> None:
    a, b = np.array([0.0, 1.0], np.float32), np.array([1.0, 3.0], np.float32)
    got = fg.vmap(lambda a, b: fnp.linspace(a, b, 4), in_axes=(None, None),
                  axis_size=1)(a, b)[0]
    want = np.linspace(a, b, 4)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)


# == NEP 50 promotion =========================================================================

F32 = np.array([1.5, -2.0], np.float32)
F64 = np.array([1.5, -2.0])
I32 = np.array([3, -4], np.int32)
I8 = np.array([3, -4], np.int8)
U8 = np.array([3, 4], np.uint8)
BOOL = np.array([True, False])

NEP50 = [
    ("f32 * 2.0", lambda m: m.multiply(F32, 2.0)),
    ("2.0 * f32", lambda m: m.multiply(2.0, F32)),
    ("f32 + 1", lambda m: m.add(F32, 1)),
    ("f32 / 3", lambda m: m.divide(F32, 3)),
    ("f32 ** 2", lambda m: m.power(F32, 2)),
    ("f32 ** 2.5", lambda m: m.power(np.abs(F32), 2.5)),
    ("f32 ** np.float64(2)", lambda m: m.power(F32, np.float64(2.0))),
    ("f32 ** np.int64(3)", lambda m: m.power(F32, np.int64(3))),
    ("i8 ** 0-d int64", lambda m: m.power(I8, np.array(2))),
    ("f32 * np.float64", lambda m: m.multiply(F32, np.float64(2.0))),
    ("f32 + f64 array", lambda m: m.add(F32, F64)),
    ("f32 + 0-d f64 array", lambda m: m.add(F32, np.array(1.0))),
    ("i32 + 1.5", lambda m: m.add(I32, 1.5)),
    ("i32 + f32", lambda m: m.add(I32, F32)),
    ("i8 + 1", lambda m: m.add(I8, 1)),
    ("u8 + i8", lambda m: m.add(U8, I8)),
    ("bool + 1", lambda m: m.add(BOOL, 1)),
    ("bool + bool", lambda m: m.add(BOOL, BOOL)),
    ("i32 / 2", lambda m: m.true_divide(I32, 2)),
    ("i8 / i8", lambda m: m.true_divide(I8, I8)),
    ("i32 // 3", lambda m: m.floor_divide(I32, 3)),
    ("f32 // 0.5", lambda m: m.floor_divide(F32, 0.5)),
    ("i32 % 3", lambda m: m.remainder(I32, 3)),
    ("maximum(f32, 0)", lambda m: m.maximum(F32, 0)),
    ("where(b, f32, 0.0)", lambda m: m.where(BOOL, F32, 0.0)),
    ("where(b, i32, 0.5)", lambda m: m.where(BOOL, I32, 0.5)),
    ("f32 < 1", lambda m: m.less(F32, 1)),
    ("sqrt(i32 ** 2)", lambda m: m.sqrt(m.square(I32))),
    ("exp(i8)", lambda m: m.exp(I8)),
    ("mean(i32)", lambda m: m.mean(I32)),
    ("sum(i8)", lambda m: m.sum(I8)),
    ("sum(bool)", lambda m: m.sum(BOOL)),
    ("prod(u8)", lambda m: m.prod(U8)),
    ("cumsum(i32)", lambda m: m.cumsum(I32)),
    ("f32 @ f32", lambda m: m.matmul(F32, F32)),
    ("i32 @ f32", lambda m: m.dot(I32, F32)),
    ("concatenate(i32, f32)", lambda m: m.concatenate([I32, F32])),
    ("clip(i32, 0.5, 2)", lambda m: m.clip(I32, 0, 2)),
    ("abs(i8)", lambda m: m.abs(I8)),
    ("floor(i8)", lambda m: m.floor(I8)), ("ceil(u8)", lambda m: m.ceil(U8)),
    ("floor(bool)", lambda m: m.floor(BOOL)), ("reciprocal(i32)", lambda m: m.reciprocal(
        np.array([1, 2, -1, -2, 7]))),
    ("round(f32, 1)", lambda m: m.round(F32, 1)),
    ("round(i32, -1)", lambda m: m.round(np.array([15, 25, -15, 14]), -1)),
    ("einsum(i32, f32)", lambda m: m.einsum("i,i->", I32, F32)),
    ("logaddexp(f32, f32)", lambda m: m.logaddexp(F32, F32)),
    ("arctan2(i32, f32)", lambda m: m.arctan2(I32, F32)),
    ("var(f32)", lambda m: m.var(F32)),
    ("isnan(i32)", lambda m: m.isnan(I32)),
    ("isfinite(i32)", lambda m: m.isfinite(I32)),
]


@pytest.mark.parametrize("name, fn", NEP50, ids=[n for n, _ in NEP50])
def test_nep50_promotion_matches_numpy(name: str, fn: Any) -> None:
    with np.errstate(all="ignore"):
        want = np.asarray(fn(np))
    _assert_same(fn(fnp), want, 1e-6, 1e-6, name)


@pytest.mark.parametrize("name, fn", NEP50, ids=[n for n, _ in NEP50])
def test_nep50_promotion_under_transforms(name: str, fn: Any) -> None:
    # The shape rules see the same dtypes the impls produce (weak types at trace time).
    with np.errstate(all="ignore"):
        want = np.asarray(fn(np))
    closed = fg.make_jaxpr(lambda: fn(fnp))()
    (aval,) = closed.out_avals
    assert (aval.shape, aval.dtype) == (want.shape, want.dtype)


def test_float32_traced_times_python_scalar_stays_float32() -> None:
    closed = fg.make_jaxpr(lambda x: x * 2.0 + 1)(F32)
    assert closed.out_avals[0].dtype == np.float32
    g = fg.grad(lambda x: fnp.sum(x * 2.0))(F32)
    assert g.dtype == np.float32
    out = fg.vmap(lambda x: x / 3)(F32)
    assert out.dtype == np.float32


def test_python_int_overflow_is_an_error_as_numpy() -> None:
    with pytest.raises(OverflowError):
        np.add(I8, 1000)
    with pytest.raises(OverflowError):
        fnp.add(I8, 1000)


def test_negative_zero_constants_keep_their_sign() -> None:
    # Cached scalar constants must not conflate 0.0 and -0.0 (they compare and hash equal).
    one = np.array([1.0])
    assert not np.signbit(fnp.multiply(one, 0.0))[0]
    assert np.signbit(fnp.multiply(one, -0.0))[0]
    assert np.signbit(fnp.add(np.array([-0.0]), -0.0))[0]


# == broadcasting =============================================================================

@pytest.mark.parametrize("shapes", [
    ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((1,), (3, 1)), ((0, 3), (1, 3)),
    ((2, 0), (2, 1)),
])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "maximum", "arctan2", "where"])
def test_broadcasting_matches_numpy(shapes: tuple[tuple[int, ...], ...], op: str,
                                    rng: np.random.Generator) -> None:
    x, y = (rng.uniform(0.5, 2, s) for s in shapes)
    if op == "where":
        c = rng.random(np.broadcast_shapes(*shapes)) < 0.5
        _assert_same(fnp.where(c, x, y), np.where(c, x, y), 0, 0, op)
        return
    _assert_same(getattr(fnp, op)(x, y), getattr(np, op)(x, y), 1e-15, 0, op)
    # and the gradient un-broadcasts back to each operand's shape
    gx, gy = fg.grad(lambda a, b: fnp.sum(getattr(fnp, op)(a, b)), argnums=(0, 1))(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape


@pytest.mark.parametrize("fn", [
    lambda a, b: fnp.add(a, b), lambda a, b: fnp.multiply(a, b),
    lambda a, b: fnp.where(a > 0, a, b), lambda a, b: fnp.maximum(a, b),
    lambda a, b: fnp.arctan2(a, b), lambda a, b: fnp.logaddexp(a, b),
    lambda a, b: fnp.logical_and(a, b),
])
def test_broadcast_mismatch_names_both_shapes(fn: Any) -> None:
    x, y = np.ones((2, 3)), np.ones((4,))
    for call in (lambda: fn(x, y), lambda: fg.make_jaxpr(fn)(x, y),
                 lambda: fg.make_jaxpr(lambda a, b: a * b)(x, y),
                 lambda: fg.grad(lambda a: fnp.sum(fn(a, y)))(x),
                 lambda: fg.vmap(fn)(x[None], y[None])):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "(2, 3)" in msg and "(4,)" in msg, msg


def test_matmul_mismatch_names_both_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        fnp.matmul(np.ones((2, 3)), np.ones((4, 2)))
    assert "(2, 3)" in str(info.value) and "(4, 2)" in str(info.value)


# == reductions ===============================================================================

REDUCTIONS = ["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "all", "any"]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (2, 0, 1), ()])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_axis_keepdims(name: str, axis: Any, keepdims: bool,
                                 rng: np.random.Generator) -> None:
    x = rng.uniform(-2, 2, (2, 3, 4))
    if name in ("all", "any"):
        x = x > 0.5
    _assert_same(getattr(fnp, name)(x, axis=axis, keepdims=keepdims),
                 getattr(np, name)(x, axis=axis, keepdims=keepdims), 1e-13, 1e-13, name)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.bool_, np.float32])
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min", "cumsum", "cumprod"])
def test_reduction_dtypes(name: str, dtype: Any, rng: np.random.Generator) -> None:
    x = rng.integers(0, 3, (2, 3)).astype(dtype)
    _assert_same(getattr(fnp, name)(x, axis=1), getattr(np, name)(x, axis=1), 1e-6, 0, name)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions(name: str, axis: Any, keepdims: bool) -> None:
    x = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]])  # ties: the first index wins
    _assert_same(getattr(fnp, name)(x, axis=axis, keepdims=keepdims),
                 getattr(np, name)(x, axis=axis, keepdims=keepdims), 0, 0, name)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative(name: str, axis: Any, rng: np.random.Generator) -> None:
    x = rng.uniform(0.5, 1.5, (3, 4))
    _assert_same(getattr(fnp, name)(x, axis=axis), getattr(np, name)(x, axis=axis), 1e-13, 0,
                 name)


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std_ddof(ddof: int, rng: np.random.Generator) -> None:
    x = rng.uniform(-2, 2, (3, 4))
    _assert_same(fnp.var(x, axis=0, ddof=ddof), np.var(x, axis=0, ddof=ddof), 1e-13, 0, "var")
    _assert_same(fnp.std(x, ddof=ddof), np.std(x, ddof=ddof), 1e-13, 0, "std")


def test_empty_reductions() -> None:
    e = np.zeros((2, 0))
    _assert_same(fnp.sum(e, axis=1), np.sum(e, axis=1), 0, 0, "sum")
    _assert_same(fnp.prod(e, axis=1), np.prod(e, axis=1), 0, 0, "prod")
    _assert_same(fnp.all(e), np.all(e), 0, 0, "all")
    _assert_same(fnp.any(e), np.any(e), 0, 0, "any")
    _assert_same(fnp.all(e, axis=1, keepdims=True), np.all(e, axis=1, keepdims=True), 0, 0,
                 "all")
    _assert_same(fnp.any(e, axis=1), np.any(e, axis=1), 0, 0, "any")
    _assert_same(fnp.max(e, axis=0), np.max(e, axis=0), 0, 0, "max over a nonempty axis")
    with pytest.raises(ValueError):
        fnp.max(e, axis=1)
    with pytest.raises(ValueError):
        fnp.argmin(e)


def test_reduction_axis_out_of_range() -> None:
    with pytest.raises(ValueError):
        fnp.sum(np.ones((2, 3)), axis=2)


# == indexing =================================================================================

X345 = np.arange(60.0).reshape(3, 4, 5) / 7.0

INDEX_KEYS: list[Any] = [
    1, -1, (slice(1, None),), (slice(None, None, -1),), (slice(3, 0, -2), slice(None, 4, 3)),
    (Ellipsis, 0), (Ellipsis, None), (None, 1), (0, None, slice(None, None, -2)),
    (slice(None), -2, slice(-1, 0, -1)), (2, 3, 4), (slice(5, 9),),
    np.array([0, 2, 0]), np.array([[1, -1], [0, 0]]), (slice(None), [3, 0, 3]),
    ([0, 1], [1, 2]), ([0, 1], slice(None), [1, 0]), (1, slice(None), [0, 2]),
    (slice(None), 1, [0, 4, 4]), (slice(None), [[0], [1]], [1, 2]), ([2, 0], 1, 3),
    (Ellipsis, [0, 0]), ([0, 2], Ellipsis, [4, 1]), (None, [1, 0]), ([1, 0], None, [2, 2]),
    (slice(None), None, [1, 2], [0, 0]), (np.array(1), slice(None), np.array([1, 2])),
    (X345[:, 0, 0] > 2,), (slice(None), X345[0] > 3.0), (X345 > 4.0,),
    (slice(None), X345[0, :, 0] > 1),
    ([],), (slice(None), []), (1, [True, False, True, True]),
]


def _key_id(key: Any) -> str:
    return repr(key).replace("\n", "").replace(" ", "")[:60]


def _index_grad_ref(shape: tuple[int, ...], key: Any, w: np.ndarray) -> np.ndarray:
    # The VJP of x[key] scatters w back, adding over repeats: written with bincount over the
    # flat positions (no np.add.at, whose broadcasting is broken: PITFALLS.md).
    positions = np.arange(int(np.prod(shape))).reshape(shape)[key]
    return np.bincount(np.ravel(positions), weights=np.ravel(w),
                       minlength=int(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("key", INDEX_KEYS, ids=_key_id)
def test_getitem_forward_and_gradient(key: Any, rng: np.random.Generator) -> None:
    want = X345[key]
    # forward on a traced array (the operator is funcgrad's only on tracers)
    _assert_same(staged(lambda x: x[key])(X345), np.asarray(want), 0, 0, "getitem")
    got = fg.vmap(lambda x: x[key])(X345[None])
    _assert_same(got[0, ...], np.asarray(want), 0, 0, "vmap getitem")
    closed = fg.make_jaxpr(lambda x: x[key])(X345)
    assert closed.out_avals[0].shape == want.shape
    # reverse and forward mode against the scatter-add closed form
    w = rng.standard_normal(want.shape)
    g = fg.grad(lambda x: fnp.sum(x[key] * w))(X345)
    np.testing.assert_array_equal(g, _index_grad_ref(X345.shape, key, w))
    t = rng.standard_normal(X345.shape)
    _, t_out = fg.jvp(lambda x: x[key], (X345,), (t,))
    np.testing.assert_array_equal(t_out, t[key])


def test_getitem_traced_integer_indices() -> None:
    idx = np.array([[2, 0], [2, 2]])
    out = fg.vmap(lambda i: fg.lax.indexing.getitem(X345, (slice(None), i)))(idx)
    _assert_same(out, np.stack([X345[:, i] for i in idx]), 0, 0, "traced indices")
    g = fg.grad(lambda x, i: fnp.sum(x[i]))(X345, np.array([1, 1, 0]))
    np.testing.assert_array_equal(g[:, 0, 0], [1.0, 2.0, 0.0])


@pytest.mark.parametrize("key, error", [
    ((3,), IndexError), ((0, 4), IndexError), ((0, 0, 0, 0), IndexError),
    ((np.array([3]),), IndexError), ((np.array([-4]),), IndexError),
    ((np.array([0.5]),), TypeError), ((Ellipsis, Ellipsis), IndexError),
])
def test_getitem_errors(key: Any, error: type) -> None:
    with pytest.raises(error):
        fg.grad(lambda x: fnp.sum(x[key]))(X345)


def test_boolean_mask_must_be_concrete() -> None:
    # Under vmap the mask differs per example, so the result shape is unknown: a TypeError.
    with pytest.raises(TypeError, match="concrete"):
        fg.vmap(lambda x: x[x > 0])(np.ones((2, 3)))
    # Under grad the mask is concrete and works.
    g = fg.grad(lambda x: fnp.sum(x[x > 0] ** 2))(np.array([-1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 4.0, 6.0])


def test_basic_slices_match_numpy_hypothesis() -> None:
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    bound = st.one_of(st.none(), st.integers(-7, 7))
    step = st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0))
    slices = st.builds(slice, bound, bound, step)
    entries = st.one_of(slices, st.integers(-3, 2), st.just(None), st.just(Ellipsis))

    @hyp.given(st.lists(entries, min_size=1, max_size=4))
    def check(key_list: list[Any]) -> None:
        key = tuple(key_list)
        try:
            want = X345[key]
        except IndexError:
            with pytest.raises(IndexError):
                fg.make_jaxpr(lambda x: x[key])(X345)
            return
        w = np.arange(want.size, dtype=np.float64).reshape(want.shape) + 1
        g = fg.grad(lambda x: fnp.sum(x[key] * w))(X345)
        np.testing.assert_array_equal(g, _index_grad_ref(X345.shape, key, w))
        np.testing.assert_array_equal(staged(lambda x: x[key])(X345), want)

    check()


# == .at[] updates ============================================================================

AT_CASES = [
    ("set", (1,), np.float64(9.0)),
    ("set", (slice(None), [0, 2]), np.array([[1.0], [2.0]])),
    ("set", (np.array([[0, 2], [2, 0]]),), np.array([[1.0], [2.0], [3.0], [4.0]])),
    ("add", (np.array([[0, 2], [2, 2]]),), np.array([[1.0], [10.0], [100.0], [1000.0]])),
    ("add", (np.array([[0, 2], [2, 2]]), 1), np.array([1.0, 10.0, 100.0, 1000.0, 1e4])),
    ("add", ([1, 1, 1], slice(1, 3)), np.array([[1.0], [2.0]])),
    ("add", (X345[:, :, 0] > 1,), np.array(1.5)),
    ("add", (Ellipsis, -1), np.arange(4.0)),
    ("multiply", (slice(None), 0), np.array([[2.0], [3.0], [4.0]])),
    ("min", (1, slice(None, None, -1)), np.zeros(5)),
    ("max", ([0, 2],), np.full((4, 5), 3.0)),
]


def _at_ref(x: np.ndarray, op: str, key: Any, v: np.ndarray) -> np.ndarray:
    out = x.copy()
    if op == "add":
        np.add.at(out, key, np.broadcast_to(v, out[key].shape))  # PITFALLS.md: broadcast first
    elif op == "set":
        out[key] = v
    else:
        out[key] = {"multiply": np.multiply, "min": np.minimum, "max": np.maximum}[op](
            out[key], v)
    return out


@pytest.mark.parametrize("op, key, v", AT_CASES, ids=[f"{o}-{_key_id(k)}" for o, k, _ in
                                                       AT_CASES])
def test_at_updates(op: str, key: Any, v: np.ndarray) -> None:
    want = _at_ref(X345, op, key, v)
    _assert_same(getattr(IndexHelper(X345)[key], op)(v), want, 0, 0, f"at[].{op} concrete")
    # the .at property on tracers, under vmap (traced x) and under grad
    _assert_same(staged(lambda x: getattr(x.at[key], op)(v))(X345), want, 0, 0,
                 f"at[].{op} traced")
    got = fg.vmap(lambda x, v: getattr(x.at[key], op)(v))(X345[None], v[None])[0]
    _assert_same(got, want, 0, 0, f"at[].{op} vmapped")
    fg.test_util.check_grads(lambda x, v: getattr(IndexHelper(x)[key], op)(v), (X345, v), order=2,
                             modes=("rev", "fwd"))


def test_at_get_and_mul_alias() -> None:
    got = staged(lambda x: (x.at[1, ::-2].get(), x.at[0].mul(2.0)))(X345)
    np.testing.assert_array_equal(got[0], X345[1, ::-2])
    np.testing.assert_array_equal(got[1], _at_ref(X345, "multiply", (0,), np.array(2.0)))


def test_at_add_repeated_indices_gradients() -> None:
    idx = np.array([[0, 2], [2, 2]])
    u = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    w = np.arange(60.0).reshape(3, 4, 5)

    def f(x: Any, u: Any) -> Any:
        return fnp.sum(x.at[idx].add(u) * w)

    gx, gu = fg.grad(f, argnums=(0, 1))(X345, u)
    np.testing.assert_array_equal(gx, w)
    # each update is added at 4 positions (i, j) for idx entries, once per occurrence
    want = sum(w[i] for i in idx.ravel()).sum(axis=0)
    np.testing.assert_array_equal(gu, want)


def test_at_set_repeated_indices_gradient_goes_to_the_written_update() -> None:
    idx = np.array([1, 1, 0])
    u = np.array([10.0, 20.0, 30.0])

    def f(x: Any, u: Any) -> Any:
        return fnp.sum(x.at[idx].set(u) * np.array([1.0, 2.0, 3.0]))

    out = staged(lambda x: x.at[idx].set(u))(np.zeros(3))
    written = 1 if out[1] == 20.0 else 0  # which duplicate NumPy wrote (in practice: last)
    gx, gu = fg.grad(f, argnums=(0, 1))(np.zeros(3), u)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 3.0])
    want = np.zeros(3)
    want[written] = 2.0
    want[2] = 1.0
    np.testing.assert_array_equal(gu, want)


def test_at_multiply_repeated_indices_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="repeated"):
        fg.grad(lambda x: fnp.sum(x.at[np.array([0, 0])].multiply(2.0)))(np.ones(3))


def test_at_update_shape_mismatch_names_shapes() -> None:
    with pytest.raises(ValueError) as info:
        fg.grad(lambda x: fnp.sum(x.at[0].set(np.ones(3))))(np.ones((2, 4)))
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)


# == einsum ===================================================================================

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->", [(3, 3)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
    ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij", [(2, 3), (2, 3)]), ("ij,jk", [(2, 3), (3, 2)]), ("ba,bc", [(3, 2), (3, 4)]),
    ("i,j->ij", [(3,), (2,)]), ("i,i->", [(3,), (3,)]), ("...ij,...jk->...ik",
                                                          [(2, 2, 3), (2, 3, 4)]),
    ("...ij,jk", [(2, 2, 3), (3, 4)]), ("i...->...", [(3, 2, 2)]), ("...ii->...i",
                                                                    [(2, 3, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ab,bc,ca->", [(2, 3), (3, 4), (4, 2)]), ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
    ("ij,kj->ki", [(2, 3), (4, 3)]), ("i,jk->", [(2,), (3, 2)]), ("iji->j", [(2, 3, 2)]),
    ("Ab,bA->A", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("sub, shapes", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_matches_numpy(sub: str, shapes: list[tuple[int, ...]],
                              rng: np.random.Generator) -> None:
    xs = [rng.standard_normal(s) for s in shapes]
    _assert_same(fnp.einsum(sub, *xs), np.einsum(sub, *xs), 1e-12, 1e-12, sub)
    ints = [rng.integers(-3, 3, s) for s in shapes]
    _assert_same(fnp.einsum(sub, *ints), np.einsum(sub, *ints), 0, 0, sub + " (ints)")
    fg.test_util.check_grads(lambda *a: fnp.einsum(sub, *a), xs, order=1,
                             modes=("rev", "fwd"))


EINSUMS_BROADCASTING = [
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 2)]), ("...i,...i->...", [(1, 3), (4, 3)]),
    ("ij,ij->i", [(2, 1), (2, 3)]), ("i,i->", [(1,), (3,)]), ("...i,...i", [(2, 1, 3), (4, 3)]),
]


@pytest.mark.parametrize("sub, shapes", EINSUMS_BROADCASTING,
                         ids=[f"{s}{shapes}" for s, shapes in EINSUMS_BROADCASTING])
def test_einsum_broadcasting(sub: str, shapes: list[tuple[int, ...]],
                             rng: np.random.Generator) -> None:
    xs = [rng.standard_normal(s) for s in shapes]
    _assert_same(fnp.einsum(sub, *xs), np.einsum(sub, *xs), 1e-12, 1e-12, sub)
    fg.test_util.check_grads(lambda *a: fnp.einsum(sub, *a), xs, order=1,
                             modes=("rev", "fwd"))


def test_einsum_gradients_against_jax(rng: np.random.Generator) -> None:
    jax = oracle("jax")
    import jax.numpy as jnp
    with jax.enable_x64(True):  # scoped: other tests may use jax in its default mode
        for sub, shapes in EINSUMS:
            xs = [rng.standard_normal(s) for s in shapes]
            w = rng.standard_normal(np.shape(np.einsum(sub, *xs)))
            argnums = tuple(range(len(xs)))
            got = fg.grad(lambda *a, s=sub, w=w: fnp.sum(fnp.einsum(s, *a) * w),
                          argnums=argnums)(*xs)
            want = jax.grad(lambda *a, s=sub, w=w: jnp.sum(jnp.einsum(s, *a) * w),
                            argnums=argnums)(*xs)
            for g, wt in zip(got, want, strict=True):
                np.testing.assert_allclose(g, np.asarray(wt), rtol=1e-12, atol=1e-12,
                                           err_msg=sub)


def test_einsum_errors() -> None:
    with pytest.raises(ValueError):
        fnp.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError):
        fnp.einsum("ijk->", np.ones((2, 3)))


# == shape functions: a few parameter grids beyond the spec table ==============================

@pytest.mark.parametrize("fn", [
    lambda m, x: m.moveaxis(x, -1, 0), lambda m, x: m.moveaxis(x, [0, 2], [2, 1]),
    lambda m, x: m.swapaxes(x, 1, 2), lambda m, x: m.transpose(x, (2, 0, 1)),
    lambda m, x: m.expand_dims(x, 3), lambda m, x: m.expand_dims(x, -1),
    lambda m, x: m.squeeze(m.expand_dims(x, 1), 1), lambda m, x: m.reshape(x, (-1, 5)),
    lambda m, x: m.reshape(x, 60), lambda m, x: m.split(x, [1, 2], axis=0)[2],
    lambda m, x: m.split(x, [-1], axis=1)[0], lambda m, x: m.split(x, [2, -2], axis=2)[1],
    lambda m, x: m.split(x, [-9, 9], axis=2)[1], lambda m, x: m.pad(x, (1,)),
    lambda m, x: m.pad(x, [[1], [2], [0]]), lambda m, x: m.pad(x, [[1, 2]]),
    lambda m, x: m.moveaxis(x, np.int64(0), np.int64(-1)),
    lambda m, x: m.expand_dims(x, np.int64(1)), lambda m, x: m.squeeze(x[:1], np.int64(0)),
    lambda m, x: m.split(x, [3, 1], axis=1)[1], lambda m, x: m.split(x, 5, axis=-1)[4],
    lambda m, x: m.pad(x, 1), lambda m, x: m.pad(x, (1, 2)),
    lambda m, x: m.pad(x, ((0, 0), (2, 0), (1, 1)), constant_values=-1),
    lambda m, x: m.tile(x, 2), lambda m, x: m.tile(x, (2, 1, 1, 1)),
    lambda m, x: m.repeat(x, 2), lambda m, x: m.repeat(x, [1, 0, 2], axis=0),
    lambda m, x: m.roll(x, 7), lambda m, x: m.roll(x, -1, axis=0),
    lambda m, x: m.roll(x, (1, 2), axis=(2, 0)), lambda m, x: m.rot90(x, 2, axes=(0, 2)),
    lambda m, x: m.flip(x, -1), lambda m, x: m.take(x, [[0, 1]], axis=2),
    lambda m, x: m.take(x, 3), lambda m, x: m.take_along_axis(
        x, np.argsort(x, axis=1), axis=1), lambda m, x: m.take_along_axis(x, np.array(
            [[[4]], [[0]], [[1]]]), axis=2),
    lambda m, x: m.diagonal(x), lambda m, x: m.diagonal(x, 1, 2, 0),
    lambda m, x: m.trace(x, -1), lambda m, x: m.hstack([x, x]), lambda m, x: m.vstack([x, x]),
    lambda m, x: m.stack([x, x], axis=-1), lambda m, x: m.broadcast_to(x, (2, 3, 4, 5)),
    lambda m, x: m.concatenate([x, x[:1]], axis=0), lambda m, x: m.ravel(x[:, ::2]),
    lambda m, x: m.outer(x[0, 0], x[1, 1]), lambda m, x: m.inner(x, x[0]),
    lambda m, x: m.tensordot(x[0], x[1], 0),
    lambda m, x: m.tensordot(x, x, ((0, 1), (0, 1))), lambda m, x: m.dot(x, x[0].T),
    lambda m, x: m.vdot(x, x), lambda m, x: m.matmul(x, x[0, 0][:, None]),
    lambda m, x: m.matmul(x[:, None], x[:2, 0][:, :, None]),
])
def test_shape_and_linalg_functions(fn: Any) -> None:
    _assert_same(fn(fnp, X345), fn(np, X345), 1e-12, 1e-12, "shape function")
