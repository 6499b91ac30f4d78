"""Issue 17's ``fg.numpy`` names against NumPy on several shapes and dtypes (NaN, infinities,
integers included), closed-form derivatives, ``np.<name>(tracer)`` dispatch through
``__array_function__``, and the array API's keywords, dtype functions and inspection namespace.

Gradients (check_grads, order 2), vmap against a loop, staged against eager and jit of every
name run from the op specs in ``specs_numnames.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.errors import TracerArrayConversionError
from funcgrad.core.pytree import tree_leaves
from funcgrad.test_util import check_grads


def _same(got: Any, want: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    g_leaves, w_leaves = tree_leaves(got), tree_leaves(want)
    assert len(g_leaves) == len(w_leaves)
    for g, w in zip(g_leaves, w_leaves, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


def _special(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    x = rng.uniform(-3, 3, shape)
    flat = x.reshape(-1)
    picks = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], flat.size)
    mask = rng.random(flat.size) < 0.4
    flat[mask] = picks[mask]
    return x.astype(dtype)


SHAPES = [(), (5,), (2, 3), (2, 1, 4)]
FLOATS = [np.float64, np.float32]

UNARY = ["fabs", "deg2rad", "rad2deg", "degrees", "radians", "sinc", "cbrt", "trunc", "fix",
         "signbit", "nan_to_num", "acos", "asin", "atan", "acosh", "asinh", "atanh",
         "bitwise_invert"]
BINARY = ["fmax", "fmin", "hypot", "logaddexp2", "heaviside", "copysign", "float_power",
          "nextafter", "isclose", "atan2", "pow"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", [n for n in UNARY if n != "bitwise_invert"])
def test_unary_matches_numpy_with_specials(name: str, shape: tuple[int, ...], dtype: Any,
                                           rng: np.random.Generator) -> None:
    x = _special(rng, shape, dtype)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x)
        got = getattr(fnp, name)(x)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    _same(got, want, tol, tol)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.int64, np.bool_])
@pytest.mark.parametrize("name", ["fabs", "deg2rad", "rad2deg", "sinc", "cbrt", "trunc",
                                  "signbit", "nan_to_num", "bitwise_invert"])
def test_unary_matches_numpy_on_integers(name: str, dtype: Any,
                                         rng: np.random.Generator) -> None:
    x = rng.integers(0 if dtype in (np.uint8, np.bool_) else -5, 6, (3, 4)).astype(dtype)
    if name in ("deg2rad", "rad2deg", "sinc", "cbrt") and dtype == np.bool_:
        pytest.skip("NumPy has no boolean loop for this ufunc")
    _same(getattr(fnp, name)(x), getattr(np, name)(x))


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.float32, np.float64), (np.int32, np.float32)])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1), (1, 5)),
                                    ((), (3,))])
@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_numpy_with_specials(name: str, shapes: Any, dtypes: Any,
                                            rng: np.random.Generator) -> None:
    def arg(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        if np.dtype(dtype).kind == "i":
            return rng.integers(-4, 5, shape).astype(dtype)
        return _special(rng, shape, dtype)

    x, y = arg(shapes[0], dtypes[0]), arg(shapes[1], dtypes[1])
    if name == "nextafter" and np.dtype(dtypes[0]).kind == "i":
        pytest.skip("NumPy's nextafter has no integer loop")
    if name == "copysign":  # NaNs of both signs
        y = np.where(np.isnan(y) & (rng.random(y.shape) < 0.5), -y, y).astype(y.dtype)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x, y)
        got = getattr(fnp, name)(x, y)
    tol = 1e-12 if np.result_type(x, y) == np.float64 else 2e-6
    _same(got, want, tol, tol)


@pytest.mark.parametrize("name,args", [
    ("fmax", (1.0, np.array([np.nan, 2.0], np.float32))),
    ("hypot", (3, np.array([4.0], np.float32))),
    ("copysign", (np.array([2.0], np.float32), -1)),
    ("logaddexp2", (np.array([1], np.int8), 1.0)),
    ("float_power", (np.array([2], np.float32), 2)),
    ("heaviside", (np.array([0.0], np.float32), 0.5)),
])
def test_python_scalars_promote_weakly(name: str, args: Any) -> None:
    _same(getattr(fnp, name)(*args), getattr(np, name)(*args))


def test_isclose_allclose_options(rng: np.random.Generator) -> None:
    a = _special(rng, (4, 5), np.float64)
    b = a + rng.normal(size=a.shape) * 1e-6
    for kw in ({}, {"rtol": 1e-3}, {"atol": 1e-5}, {"equal_nan": True}):
        _same(fnp.isclose(a, b, **kw), np.isclose(a, b, **kw))
        assert bool(fnp.allclose(a, b, **kw)) == np.allclose(a, b, **kw)
    assert bool(fnp.allclose(np.arange(3), np.arange(3.0)))


def test_array_equal_and_equiv() -> None:
    a = np.array([1.0, np.nan])
    assert not bool(fnp.array_equal(a, a)) and bool(fnp.array_equal(a, a, equal_nan=True))
    assert not bool(fnp.array_equal(np.ones(2), np.ones(3)))
    assert bool(fnp.array_equiv(np.ones(2), np.ones((3, 2))))
    assert not bool(fnp.array_equiv(np.ones(2), np.ones((3, 3))))
    t = fg.jit(lambda x, y: fnp.array_equal(x, y))(np.arange(3), np.arange(3))
    assert bool(t)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8, np.uint32])
def test_shifts_match_numpy_past_the_width(dtype: Any, rng: np.random.Generator) -> None:
    bits = np.dtype(dtype).itemsize * 8
    lo = 0 if np.dtype(dtype).kind == "u" else -100
    x = rng.integers(lo, 100, (3, 5)).astype(dtype)
    s = rng.integers(0, bits + 3, (3, 5)).astype(dtype)
    for name in ("left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift"):
        _same(getattr(fnp, name)(x, s), getattr(np, name)(x, s))
        _same(fg.jit(getattr(fnp, name))(x, s), getattr(np, name)(x, s))
    _same(fnp.left_shift(x, 1), np.left_shift(x, 1))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_signbit_sees_negative_zero_and_nan(dtype: Any) -> None:
    x = np.array([-0.0, 0.0, -np.nan, np.nan, -np.inf, 1.0], dtype)
    _same(fnp.signbit(x), np.signbit(x))
    _same(fg.jit(fnp.signbit)(x), np.signbit(x))
    _same(fnp.copysign(np.ones(6, dtype), x), np.copysign(np.ones(6, dtype), x))


def test_shifts_refuse_floats() -> None:
    with pytest.raises(TypeError, match="left_shift: integer operands"):
        fnp.left_shift(np.ones(2), 1)


def test_lax_shifts_match_jax() -> None:
    jax = pytest.importorskip("jax")
    x = np.array([-128, -5, 5, 127, 1], np.int8)
    s = np.array([1, 2, 9, 7, 0], np.int8)
    for name in ("shift_left", "shift_right_arithmetic", "shift_right_logical"):
        _same(getattr(fg.lax, name)(x, s), np.asarray(getattr(jax.lax, name)(x, s)))
    u = x.view(np.uint8)
    _same(fg.lax.shift_right_arithmetic(u, s.view(np.uint8)),
          np.asarray(jax.lax.shift_right_arithmetic(u, s.view(np.uint8))))


# == derivatives with closed forms ============================================================

def test_sinc_derivatives_at_zero() -> None:
    # sinc(x) = 1 - (pi x)^2 / 6 + ...: f'(0) = 0, f''(0) = -pi^2 / 3.
    d1 = fg.grad(fnp.sinc)(0.0)
    d2 = fg.grad(fg.grad(fnp.sinc))(0.0)
    np.testing.assert_allclose(d1, 0.0, atol=1e-15)
    np.testing.assert_allclose(d2, -np.pi ** 2 / 3, rtol=1e-9)
    x = 0.3
    np.testing.assert_allclose(
        fg.grad(fnp.sinc)(x),
        (np.cos(np.pi * x) * np.pi * x - np.sin(np.pi * x)) / (np.pi * x ** 2), rtol=1e-12)


def test_hypot_gradient_is_finite_at_zero_and_scales() -> None:
    g = fg.grad(lambda x, y: fnp.hypot(x, y), argnums=(0, 1))
    gx, gy = g(3.0, 4.0)
    np.testing.assert_allclose([gx, gy], [0.6, 0.8], rtol=1e-12)
    assert np.all(np.isfinite(g(0.0, 0.0)))
    big = np.array([1e200, 1e200])
    np.testing.assert_allclose(fnp.hypot(*big), np.hypot(*big), rtol=1e-15)


def test_cbrt_and_copysign_gradients_match_jax(rng: np.random.Generator) -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    jax.config.update("jax_enable_x64", True)
    x = rng.uniform(0.5, 2, 5) * rng.choice([-1.0, 1.0], 5)
    y = rng.uniform(0.5, 2, 5) * rng.choice([-1.0, 1.0], 5)
    for f, jf in ((fnp.cbrt, jnp.cbrt), (fnp.fabs, jnp.fabs), (fnp.sinc, jnp.sinc)):
        np.testing.assert_allclose(fg.grad(lambda v, f=f: fnp.sum(f(v)))(x),
                                   jax.grad(lambda v, jf=jf: jf(v).sum())(x), rtol=1e-10)
    for f, jf in ((fnp.copysign, jnp.copysign), (fnp.hypot, jnp.hypot),
                  (fnp.logaddexp2, jnp.logaddexp2), (fnp.fmax, jnp.fmax)):
        got = fg.grad(lambda a, b, f=f: fnp.sum(f(a, b)), argnums=(0, 1))(x, y)
        want = jax.grad(lambda a, b, jf=jf: jf(a, b).sum(), argnums=(0, 1))(x, y)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-10)


def test_nonfinite_inputs_keep_finite_gradients() -> None:
    # nan_to_num, fmax and fmin pass the gradient of the finite entries only.
    x = np.array([np.nan, 1.5, np.inf, -2.0])
    np.testing.assert_array_equal(fg.grad(lambda v: fnp.sum(fnp.nan_to_num(v)))(x),
                                  [0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, np.nan, 3.0, -3.0])
    gx, gy = fg.grad(lambda a, b: fnp.sum(fnp.fmax(a, b)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gy, [1.0, 0.0, 0.0, 0.0])


def test_nextafter_and_trunc_have_zero_gradient() -> None:
    assert fg.grad(lambda v: fnp.nextafter(v, 2.0))(1.0) == 0.0
    assert fg.grad(lambda v: fnp.trunc(v))(1.5) == 0.0
    check_grads(lambda v: fnp.sum(fnp.diag(v, 1) ** 2), (np.arange(1.0, 4.0),), order=2)


# == building arrays ==========================================================================

@pytest.mark.parametrize("k", [-3, -1, 0, 2])
@pytest.mark.parametrize("shape", [(4,), (3, 5), (5, 2), (1,)])
def test_diag_matches_numpy(shape: tuple[int, ...], k: int, rng: np.random.Generator) -> None:
    for dtype in (np.float32, np.int32, np.complex128):
        v = (rng.normal(size=shape) * 4).astype(dtype)
        _same(fnp.diag(v, k), np.diag(v, k))
        _same(fnp.diagflat(v, k), np.diagflat(v, k))


def test_diag_refuses_3d() -> None:
    with pytest.raises(ValueError, match=r"diag: v must be 1-D or 2-D, got shape \(1, 2, 3\)"):
        fnp.diag(np.zeros((1, 2, 3)))


def test_index_helpers_match_numpy() -> None:
    for n, k, m in ((3, 0, None), (4, -1, 2), (2, 1, 5)):
        _same(fnp.tril_indices(n, k, m), np.tril_indices(n, k, m))
        _same(fnp.triu_indices(n, k, m), np.triu_indices(n, k, m))
    a = np.zeros((3, 4))
    _same(fnp.tril_indices_from(a, 1), np.tril_indices_from(a, 1))
    _same(fnp.triu_indices_from(a, -1), np.triu_indices_from(a, -1))
    _same(fnp.diag_indices(3, 3), np.diag_indices(3, 3))
    _same(fnp.diag_indices_from(np.zeros((2, 2, 2))), np.diag_indices_from(np.zeros((2, 2, 2))))
    with pytest.raises(ValueError, match="must be 2-D"):
        fnp.tril_indices_from(np.zeros(3))
    # Usable to index traced arrays, with gradients to the picked entries.
    g = fg.grad(lambda m: fnp.sum(m[fnp.triu_indices(3)]))(np.ones((3, 3)))
    np.testing.assert_array_equal(g, np.triu(np.ones((3, 3))))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_meshgrid_matches_numpy(n: int, sparse: bool, indexing: str) -> None:
    xs = [np.arange(i + 2, dtype=np.float32) * (i + 1) for i in range(n)]
    _same(fnp.meshgrid(*xs, sparse=sparse, indexing=indexing),
          np.meshgrid(*xs, sparse=sparse, indexing=indexing))


def test_ix_matches_numpy() -> None:
    args = ([0, 2], np.array([True, False, True]), np.array([1], np.int32))
    _same(fnp.ix_(*args), np.ix_(*args))
    m = np.arange(12.0).reshape(3, 4)
    _same(m[fnp.ix_([0, 2], [1, 3])], m[np.ix_([0, 2], [1, 3])])
    got = fg.jit(lambda x: x[fnp.ix_([0, 2], [1, 3])])(m)
    _same(got, m[np.ix_([0, 2], [1, 3])])


@pytest.mark.parametrize("sa,sb", [((2,), (3,)), ((2, 3), (4, 5)), ((3,), (2, 2)),
                                   ((2, 1, 2), (3, 2))])
def test_kron_matches_numpy(sa: Any, sb: Any, rng: np.random.Generator) -> None:
    a, b = rng.normal(size=sa), rng.integers(-3, 4, sb)
    _same(fnp.kron(a, b), np.kron(a, b))


@pytest.mark.parametrize("sa,sb,kw", [((3,), (3,), {}), ((4, 3), (3,), {}),
                                      ((2,), (2,), {}), ((5, 2), (5, 3), {}),
                                      ((3, 4), (4, 3), {"axisa": 0, "axisc": 0}),
                                      ((2, 3, 1), (1, 3, 1), {"axis": 1})])
def test_cross_matches_numpy(sa: Any, sb: Any, kw: Any, rng: np.random.Generator) -> None:
    a, b = rng.normal(size=sa).astype(np.float32), rng.normal(size=sb)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy deprecates 2-vectors
        want = np.cross(a, b, **kw)
    _same(fnp.cross(a, b, **kw), want, 1e-6, 1e-6)
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        fnp.cross(np.ones(4), np.ones(3))


def test_stacking_and_splitting_match_numpy(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(3,)), rng.normal(size=(3, 2)).astype(np.float32)
    _same(fnp.column_stack([a, b, 1 + a]), np.column_stack([a, b, 1 + a]))
    _same(fnp.column_stack([np.float64(2.0)]), np.column_stack([np.float64(2.0)]))
    for arrs in ([a, a], [b, b], [np.ones(()), np.ones(())]):
        _same(fnp.dstack(arrs), np.dstack(arrs))
        _same(fnp.atleast_3d(*arrs), np.atleast_3d(*arrs))
    _same(fnp.atleast_3d(np.ones((2, 3, 4, 5))), np.atleast_3d(np.ones((2, 3, 4, 5))))
    _same(fnp.append(b, [[1, 2]], axis=0), np.append(b, [[1, 2]], axis=0))
    x = rng.normal(size=(4, 6, 2))
    for sec in (1, 3, 4, 5, [1, 3], [-1], [0, 10]):
        _same(fnp.array_split(x, sec, axis=1), np.array_split(x, sec, axis=1))
    for sec in (2, [1, 3]):
        _same(fnp.hsplit(x, sec), np.hsplit(x, sec))
        _same(fnp.vsplit(x, sec), np.vsplit(x, sec))
        _same(fnp.dsplit(x, [1]), np.dsplit(x, [1]))
    _same(fnp.hsplit(np.arange(4), 2), np.hsplit(np.arange(4), 2))
    with pytest.raises(ValueError, match="vsplit only works on arrays of 2 or more"):
        fnp.vsplit(np.arange(4), 2)
    with pytest.raises(ValueError, match="equal division"):
        fnp.hsplit(x, 4)
    for axis, start in ((0, 0), (2, 0), (1, 3), (-1, 1), (0, -1)):
        _same(fnp.rollaxis(x, axis, start), np.rollaxis(x, axis, start))


def test_array_api_shape_names_match_numpy(rng: np.random.Generator) -> None:
    x = rng.normal(size=(2, 3, 4))
    _same(fnp.permute_dims(x, (1, 2, 0)), np.permute_dims(x, (1, 2, 0)))
    _same(fnp.matrix_transpose(x), np.matrix_transpose(x))
    _same(fnp.unstack(x, axis=-1), np.unstack(x, axis=-1))
    _same(fnp.concat([x, x], axis=2), np.concat([x, x], axis=2))
    y = rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    _same(fnp.vecdot(x, y), np.vecdot(x, y))
    _same(fnp.vecdot(y, y, axis=0), np.vecdot(y, y, axis=0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fnp.matrix_transpose(np.ones(3))


def test_select_and_piecewise_match_numpy(rng: np.random.Generator) -> None:
    x = rng.integers(-5, 6, (4, 5))
    conds = [x < -2, x > 2, x == 0]
    for choices, default in (([x, x * 2, x * 3], 0), ([x, 1.5, x], -1),
                             ([x.astype(np.float32), x, x], np.float64(7))):
        _same(fnp.select(conds, choices, default), np.select(conds, choices, default))
    with pytest.raises(ValueError, match="same length"):
        fnp.select(conds, [x])
    with pytest.raises(TypeError, match="should be boolean"):
        fnp.select([x], [x])
    xf = rng.normal(size=(6,))
    for condlist, funclist in (([xf < 0], [lambda v: -v]),
                               ([xf < 0, xf > 1], [0.0, lambda v: v * 2, 5.0]),
                               (xf > 0, [lambda v: v + 1]),
                               ([xf < 0], [1, 2])):
        _same(fnp.piecewise(xf, condlist, funclist), np.piecewise(xf, condlist, funclist))
    s = np.float64(0.5)
    _same(fnp.piecewise(s, [True], [lambda v: v * 3]), np.piecewise(s, [True], [lambda v: v * 3]))
    xi = np.arange(-3, 3)
    _same(fnp.piecewise(xi, [xi < 0], [lambda v: v * 1.5, 9]),
          np.piecewise(xi, [xi < 0], [lambda v: v * 1.5, 9]))


@pytest.mark.parametrize("key", [
    (slice(1, 4), 7, slice(0, 1, 5j)),
    ("0,2", [1, 2], [[3, 4]]),
    ("1", np.ones((2, 2)), np.zeros((2, 1))),
    ("0,2,0", [1, 2, 3], [4, 5, 6]),
    ("-1,3,1", np.ones((2,)), np.zeros((1, 2, 1))),
])
def test_r_matches_numpy(key: Any) -> None:
    _same(fnp.r_[key], np.r_[key])


@pytest.mark.parametrize("key", [(np.ones(2, np.float32), 0.5), (np.ones(2, np.float32), 2),
                                 (np.ones(2, np.float32), np.float64(1.0)), (0.5, 1),
                                 (np.arange(2, dtype=np.int8), True)])
def test_r_promotes_scalars_as_numpy(key: Any) -> None:
    _same(fnp.r_[key], np.r_[key])


def test_c_matches_numpy() -> None:
    a = np.array([1.0, 2.0, 3.0])
    _same(fnp.c_[a, a * 2], np.c_[a, a * 2])
    _same(fnp.c_[np.ones((3, 2)), a, 0:3], np.c_[np.ones((3, 2)), a, 0:3])
    got = fg.grad(lambda v: fnp.sum(fnp.c_[v, 2 * v] ** 2))(a)
    np.testing.assert_allclose(got, 10 * a)


# == pad ======================================================================================

PAD_MODES: list[tuple[str, dict[str, Any]]] = [
    ("edge", {}), ("wrap", {}), ("reflect", {}), ("symmetric", {}),
    ("reflect", {"reflect_type": "odd"}), ("symmetric", {"reflect_type": "odd"}),
    ("linear_ramp", {}), ("linear_ramp", {"end_values": (2, -3)}),
    ("maximum", {}), ("minimum", {"stat_length": 1}), ("mean", {}),
    ("mean", {"stat_length": (2, 3)}), ("constant", {"constant_values": (4, 5)}),
    ("empty", {}),
]


@pytest.mark.parametrize("mode,kw", PAD_MODES, ids=lambda v: str(v))
@pytest.mark.parametrize("shape,width", [((5,), 2), ((5,), (1, 7)), ((3, 4), ((0, 2), (3, 1))),
                                         ((2, 3, 2), 4), ((1,), 3)])
def test_pad_modes_match_numpy(mode: str, kw: Any, shape: Any, width: Any,
                               rng: np.random.Generator) -> None:
    for dtype in (np.float64, np.float32, np.int32):
        x = (rng.normal(size=shape) * 5).astype(dtype)
        want = np.pad(x, width, mode="constant" if mode == "empty" else mode, **kw)
        tol = 1e-12 if dtype != np.float32 else 1e-4
        _same(fnp.pad(x, width, mode=mode, **kw), want, tol, tol)


@pytest.mark.parametrize("mode,kw", [m for m in PAD_MODES if m[0] != "empty"],
                         ids=lambda v: str(v))
def test_pad_modes_grad_and_vmap(mode: str, kw: Any, rng: np.random.Generator) -> None:
    x = rng.normal(size=(3, 4))
    f = lambda v: fnp.pad(v, ((2, 1), (1, 3)), mode=mode, **kw)  # noqa: E731
    check_grads(lambda v: fnp.sum(f(v) ** 2), (x,), order=2, atol=1e-4, rtol=1e-4)
    xs = rng.normal(size=(2, 3, 4))
    _same(fg.vmap(f)(xs), np.stack([np.pad(v, ((2, 1), (1, 3)), mode=mode, **kw)
                                    for v in xs]))
    _same(fg.jit(f)(x), f(x))


def test_pad_errors() -> None:
    with pytest.raises(NotImplementedError, match="median"):
        fnp.pad(np.ones(3), 1, mode="median")
    with pytest.raises(ValueError, match="unsupported keyword"):
        fnp.pad(np.ones(3), 1, mode="edge", constant_values=1)
    with pytest.raises(ValueError, match="empty axis"):
        fnp.pad(np.ones((0, 2)), 1, mode="wrap")
    with pytest.raises(ValueError, match="negative"):
        fnp.pad(np.ones(3), -1)


# == np.<name>(tracer) through __array_function__ =============================================

def test_numpy_functions_trace_through_array_function() -> None:
    def loss(x: Any) -> Any:
        y = np.concatenate([x, np.where(x > 0, x, 0.0)])
        return np.sum(y ** 2) + np.linalg.norm(x) + np.mean(np.diag(np.outer(x, x))) + \
            np.dot(x, x) * np.max(x)

    x = np.array([1.0, -2.0, 3.0])
    want = loss(x)
    np.testing.assert_allclose(fg.jit(loss)(x), want, rtol=1e-12)
    check_grads(loss, (x,), order=2)
    jaxpr = fg.make_jaxpr(loss)(x)
    assert "concatenate" in str(jaxpr) and "dot_general" in str(jaxpr)
    # ... and vmap: np.sum of a batched tracer is the per-example sum.
    xs = np.arange(6.0).reshape(2, 3)
    _same(fg.vmap(lambda v: np.sum(v * v))(xs), np.sum(xs * xs, axis=1))


def test_numpy_function_fg_numpy_lacks_still_refuses() -> None:
    with pytest.raises(TracerArrayConversionError, match="passed to plain NumPy"):
        fg.grad(lambda x: np.sum(np.histogram2d(x, x)[0] * x[0]))(np.ones(3))


def test_array_function_passes_keywords() -> None:
    f = lambda x: np.sum(x, axis=1, keepdims=True)  # noqa: E731
    x = np.arange(6.0).reshape(2, 3)
    _same(fg.jit(f)(x), f(x))
    _same(fg.jit(lambda x: np.clip(x, min=1.0, max=4.0))(x), np.clip(x, 1.0, 4.0))


# == the array API ============================================================================

def test_array_api_version_and_namespace_info() -> None:
    assert fnp.__array_api_version__ == "2024.12"
    info = fnp.__array_namespace_info__()
    assert info.capabilities()["boolean indexing"] is False
    dev = info.default_device()
    assert info.devices() == [dev] and dev == "cpu"
    assert info.default_dtypes()["real floating"] == np.float64
    assert info.default_dtypes(device=dev)["indexing"] == np.int64
    all_dtypes = info.dtypes()
    assert set(all_dtypes) == {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                               "uint32", "uint64", "float32", "float64", "complex64",
                               "complex128"}
    assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    assert set(info.dtypes(kind=("bool", "unsigned integer"))) == {
        "bool", "uint8", "uint16", "uint32", "uint64"}
    assert set(info.dtypes(kind="integral")) == set(info.dtypes(kind="signed integer")) | set(
        info.dtypes(kind="unsigned integer"))
    with pytest.raises(ValueError, match="only device is 'cpu'"):
        info.dtypes(device="gpu")


def test_dtype_names_and_functions() -> None:
    assert fnp.uint16 is np.uint16 and fnp.bool is np.bool_
    assert fnp.can_cast(np.zeros(2, np.int8), fnp.int16)
    assert not fnp.can_cast(fnp.float64, fnp.float32)
    assert fnp.can_cast(fnp.float64, fnp.float32, casting="same_kind")
    assert fnp.isdtype(fnp.float32, "real floating")
    assert fnp.isdtype(fnp.int8, ("integral", "bool"))
    assert not fnp.isdtype(fnp.complex64, "real floating")
    assert fnp.isdtype(np.zeros(1, np.uint8), "unsigned integer")
    assert fnp.finfo(np.zeros(2, np.float32)).eps == np.finfo(np.float32).eps
    assert fnp.iinfo(np.zeros(2, np.int16)).max == 32767
    assert fnp.finfo(fnp.float16).bits == 16
    seen = []

    def f(x: Any) -> Any:
        seen.append((fnp.finfo(x).bits, fnp.can_cast(x, np.float64),
                     fnp.isdtype(x, "real floating")))
        return x

    fg.jit(f)(np.ones(2, np.float32))
    assert seen == [(32, True, True)]
    kinds = []
    fg.jit(lambda z: kinds.append((np.iscomplexobj(z), fnp.isrealobj(z))) or z)(np.ones(2) * 1j)
    assert kinds == [(True, False)]


def test_keywords_of_the_array_api(rng: np.random.Generator) -> None:
    a = np.arange(3.0)
    assert fnp.asarray(a, copy=True) is not a
    np.testing.assert_array_equal(fnp.asarray(a, copy=True), a)
    assert fnp.asarray(a, copy=False) is a
    with pytest.raises(ValueError):
        fnp.asarray(a, dtype=np.float32, copy=False)
    assert fnp.astype(a, np.float64, copy=False) is a
    b = fnp.astype(a, np.float64)
    assert b is not a and np.array_equal(b, a)
    assert fnp.astype(a, np.int8, copy=False).dtype == np.int8
    x = rng.normal(size=(3, 4))
    for c in (0, 1, 2.5):
        _same(fnp.var(x, axis=0, correction=c), np.var(x, axis=0, correction=c))
        _same(fnp.std(x, correction=c, keepdims=True), np.std(x, correction=c, keepdims=True))
    with pytest.raises(ValueError, match="not both"):   # NumPy: ValueError too
        fnp.var(x, ddof=1, correction=1)
    _same(fnp.clip(x, min=-0.1), np.clip(x, min=-0.1))
    _same(fnp.clip(x, max=0.2), np.clip(x, max=0.2))
    _same(fnp.clip(x, a_min=-0.1, a_max=0.3), np.clip(x, a_min=-0.1, a_max=0.3))
    _same(fnp.clip(x, -0.1, 0.3), np.clip(x, -0.1, 0.3))
    _same(fnp.reshape(x, shape=(4, 3), copy=True), np.reshape(x, shape=(4, 3), copy=True))
    _same(fnp.reshape(x, newshape=(2, 6)), x.reshape(2, 6))
    _same(fnp.from_dlpack(x), x)
    assert fnp.from_dlpack(x, copy=True) is not x
    with pytest.raises(TypeError, match="not both"):
        fnp.clip(x, a_min=0.0, min=0.0)
    check_grads(lambda v: fnp.sum(fnp.std(v, correction=1, axis=1) ** 2), (x,), order=2)
    # Under a trace the keywords work too: a traced value is immutable, so never copied.
    _same(fg.jit(lambda v: fnp.asarray(v, copy=True) + fnp.astype(v, np.float32, copy=False))(x),
          x + x.astype(np.float32))


@pytest.mark.parametrize("name,args", [
    ("zeros", ((2, 3),)), ("ones", (3,)), ("empty", ((2,),)), ("full", ((2,), 1.5)),
    ("arange", (4,)), ("linspace", (0.0, 1.0, 5)), ("eye", (3,)), ("identity", (2,)),
    ("asarray", ([1, 2],)), ("array", ([1, 2],)),
])
def test_device_keyword_on_creation(name: str, args: Any) -> None:
    want = getattr(np, name)(*args)
    dev = fnp.__array_namespace_info__().default_device()
    for device in (None, "cpu", dev):
        got = getattr(fnp, name)(*args, device=device)
        if name == "empty":
            want = np.zeros_like(want)
        _same(got, want)
    with pytest.raises(ValueError, match="only device is 'cpu'"):
        getattr(fnp, name)(*args, device="cuda:0")


def test_like_functions_take_shape_dtype_device() -> None:
    proto = np.ones((2, 3), np.float32)
    for name in ("zeros_like", "ones_like", "empty_like"):
        got = getattr(fnp, name)(proto, device="cpu")
        assert got.shape == (2, 3) and got.dtype == np.float32
        got = getattr(fnp, name)(proto, dtype=np.int8, shape=(4,))
        assert got.shape == (4,) and got.dtype == np.int8
    _same(fnp.full_like(proto, 7, shape=(1, 2)), np.full_like(proto, 7, shape=(1, 2)))
    _same(fnp.empty_like(proto), np.zeros_like(proto))
    # empty_like of a traced value is a constant: no derivative flows through it.
    g = fg.grad(lambda x: fnp.sum(fnp.empty_like(x) + x))(np.ones(3))
    np.testing.assert_array_equal(g, np.ones(3))
