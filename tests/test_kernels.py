"""Fast paths of the NumPy kernels equal the general paths they short-cut."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.lax import dot as D

# (x shape, y shape, dimension numbers): every layout the matmul path dispatches on, plus
# cases it must hand to the general path.
DOT_CASES = [
    ((5, 3), (3, 4), (((1,), (0,)), ((), ()))),        # x @ w
    ((5, 4), (3, 4), (((1,), (1,)), ((), ()))),        # ct @ w.T
    ((3, 5), (3, 4), (((0,), (0,)), ((), ()))),        # x.T @ ct
    ((3, 5), (4, 3), (((0,), (1,)), ((), ()))),        # x.T @ w.T
    ((3,), (3, 4), (((0,), (0,)), ((), ()))),          # vector @ matrix
    ((3,), (4, 3), (((0,), (1,)), ((), ()))),
    ((5, 3), (3,), (((1,), (0,)), ((), ()))),          # matrix @ vector
    ((3, 5), (3,), (((0,), (0,)), ((), ()))),
    ((2, 5, 3), (2, 3, 4), (((2,), (1,)), ((0,), (0,)))),   # batched
    ((2, 3, 5), (2, 3, 4), (((1,), (1,)), ((0,), (0,)))),
    ((2, 5, 3), (2, 4, 3), (((2,), (2,)), ((0,), (0,)))),
    ((2, 3, 5), (2, 4, 3), (((1,), (2,)), ((0,), (0,)))),
    ((2, 6, 5, 3), (2, 6, 3, 4), (((3,), (2,)), ((0, 1), (0, 1)))),
    # general path only
    ((3,), (3,), (((0,), (0,)), ((), ()))),
    ((2, 5, 1), (2, 1, 4), (((2,), (1,)), ((0,), (0,)))),   # batched outer products
    ((5, 2, 3), (2, 3, 4), (((2,), (1,)), ((1,), (0,)))),   # batch not leading
    ((2, 5, 3), (2, 3), (((2,), (1,)), ((0,), (0,)))),      # batched matrix-vector
    ((5, 2, 3), (2, 3, 4), (((1, 2), (0, 1)), ((), ()))),   # two contracting axes
    ((6, 5, 3), (3, 4), (((2,), (0,)), ((), ()))),
]


def _operand(rng: np.random.Generator, shape: tuple[int, ...], dtype: type,
             contiguous: bool) -> np.ndarray:
    if contiguous:
        return rng.standard_normal(shape).astype(dtype)
    big = rng.standard_normal(tuple(2 * n for n in shape)).astype(dtype)
    return big[tuple(slice(None, None, 2) for _ in shape)]   # strided, not contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("case", DOT_CASES, ids=lambda c: f"{c[0]}x{c[1]}:{c[2]}")
def test_dot_general_fast_path_matches_tensordot(case, dtype, contiguous):
    xs, ys, dn = case
    rng = np.random.default_rng(0)
    x, y = _operand(rng, xs, dtype, contiguous), _operand(rng, ys, dtype, contiguous)
    want = D._dot_general_tensordot(x, y, dn)
    got = D._dot_general_impl(x, y, dn)
    aval = D._dot_general_abstract_eval(fg.core.avals.get_aval(x), fg.core.avals.get_aval(y),
                                        dn)
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape == aval.shape
    assert got.dtype == want.dtype == aval.dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_dense_vjp_is_matmul_on_views():
    # dW of x @ w comes out in w's layout (no transposed view of a transposed product).
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((6, 4)), rng.standard_normal((4, 3))
    out, f = fg.vjp(lambda x, w: x @ w, x, w)
    ct = rng.standard_normal(out.shape)
    dx, dw = f(ct)
    np.testing.assert_allclose(dx, ct @ w.T, rtol=1e-12)
    np.testing.assert_allclose(dw, x.T @ ct, rtol=1e-12)
    assert dx.flags.c_contiguous and dw.flags.c_contiguous


@pytest.mark.parametrize("case", [c for c in DOT_CASES if c[0] != (3,) or c[1] != (3,)],
                         ids=lambda c: f"{c[0]}x{c[1]}:{c[2]}")
def test_dot_general_vjp_matches_numeric(case):
    xs, ys, dn = case
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    out, f = fg.vjp(lambda a, b: fg.lax.dot_general(a, b, dn), x, y)
    ct = rng.standard_normal(out.shape)
    dx, dy = f(ct)
    # <ct, dot(x, y)> is bilinear: its gradient in x is dot(., y) applied adjointly.
    for i in itertools.islice(np.ndindex(*xs), 7):
        e = np.zeros(xs)
        e[i] = 1
        np.testing.assert_allclose(dx[i], np.sum(ct * D._dot_general_tensordot(e, y, dn)),
                                   rtol=1e-10, atol=1e-12)
    for i in itertools.islice(np.ndindex(*ys), 7):
        e = np.zeros(ys)
        e[i] = 1
        np.testing.assert_allclose(dy[i], np.sum(ct * D._dot_general_tensordot(x, e, dn)),
                                   rtol=1e-10, atol=1e-12)


def test_dot_general_dispatch():
    fast = [D._dot_general_matmul(np.ones(xs), np.ones(ys), dn) is not None
            for xs, ys, dn in DOT_CASES]
    assert fast == [True] * 13 + [False] * (len(DOT_CASES) - 13)


# == pooling: first-max masks vs the argmax path ===============================================

from funcgrad.lax import windowed as W  # noqa: E402

POOL_CASES = [   # (spatial shape, window, stride, padding per spatial axis)
    ((8, 8), (2, 2), (2, 2), ((0, 0), (0, 0))),      # non-overlapping, covers everything
    ((9, 7), (2, 2), (2, 2), ((0, 0), (0, 0))),      # non-overlapping, leftover rows/cols
    ((9, 9), (3, 3), (3, 3), ((1, 1), (0, 2))),      # non-overlapping, padded
    ((8, 8), (2, 2), (3, 3), ((0, 0), (0, 0))),      # gaps between windows
    ((8, 8), (3, 3), (2, 2), ((1, 1), (1, 1))),      # overlapping, padded
    ((7, 8), (2, 2), (1, 1), ((0, 0), (0, 0))),      # overlapping, stride 1
    ((8, 8), (2, 3), (2, 1), ((-1, 0), (1, -1))),    # negative padding crops
    ((8, 8), (4, 4), (4, 4), ((0, 0), (0, 0))),      # 16 taps: still masks
    ((10, 10), (5, 5), (5, 5), ((0, 0), (0, 0))),    # 25 taps: argmax
    ((8,), (2,), (2,), ((0, 0),)),
]


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind in "fiu" else a


def _pool_operands(rng, spatial, dtype, special):
    shape = (2, 3, *spatial)
    x = rng.integers(-2, 3, shape).astype(dtype)        # many ties
    if special and np.dtype(dtype).kind == "f":
        x.flat[::7] = -0.0
        x.flat[3::11] = np.inf
        x.flat[5::13] = -np.inf
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool_gradient_masks_match_argmax(case, dtype, special, contiguous, monkeypatch):
    spatial, win, stride, pads = case
    rng = np.random.default_rng(3)
    x = _pool_operands(rng, spatial, dtype, special)
    if not contiguous:
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    p = dict(window_dimensions=(1, 1, *win), window_strides=(1, 1, *stride),
             padding=((0, 0), (0, 0), *pads))
    out_shape = W._window_out_shape(x.shape, p["window_dimensions"], p["window_strides"],
                                    p["padding"])
    src = rng.standard_normal(out_shape).astype(dtype)
    tan = rng.standard_normal(x.shape).astype(dtype)
    if special and np.dtype(dtype).kind == "f":
        src.flat[::5] = -0.0
        src.flat[1::9] = np.nan
        src.flat[2::9] = -np.inf
        tan.flat[::4] = -0.0
    fast_sc = W._select_and_scatter_add_impl(src, x, **p)
    fast_ga = W._select_and_gather_add_impl(tan, x, **p)
    fast_max = W._reduce_window_max_impl(x, **p)
    monkeypatch.setattr(W, "_MASK_TAPS", 0)   # the general (argmax) path
    want_sc = W._select_and_scatter_add_impl(src, x, **p)
    want_ga = W._select_and_gather_add_impl(tan, x, **p)
    assert fast_sc.shape == want_sc.shape == x.shape and fast_sc.dtype == want_sc.dtype
    assert fast_ga.shape == want_ga.shape == fast_max.shape and fast_ga.dtype == want_ga.dtype
    np.testing.assert_array_equal(_bits(fast_sc), _bits(want_sc))
    np.testing.assert_array_equal(_bits(fast_ga), _bits(want_ga))


def test_pool_gradient_nan_operand_uses_argmax(monkeypatch):
    x = np.array([[[[1.0, np.nan, 2.0, 3.0], [0.0, 5.0, np.nan, 1.0]]]])
    p = dict(window_dimensions=(1, 1, 2, 2), window_strides=(1, 1, 2, 2),
             padding=((0, 0),) * 4)
    src = np.array([[[[10.0, 20.0]]]])
    got = W._select_and_scatter_add_impl(src, x, **p)
    monkeypatch.setattr(W, "_MASK_TAPS", 0)
    np.testing.assert_array_equal(got, W._select_and_scatter_add_impl(src, x, **p))
    # the argmax never lets a later NaN take over: first window -> 5.0, second -> 3.0
    np.testing.assert_array_equal(got, [[[[0, 0, 0, 20.0], [0, 10.0, 0, 0]]]])


def test_max_pool_first_max_routing_by_masks():
    x = np.ones((1, 1, 4, 4), np.float32)                # every tap ties
    out, f = fg.vjp(lambda a: fg.nn.max_pool(a, 2), x)
    (dx,) = f(np.ones_like(out))
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]] * 2)


SUM_CASES = [   # tiling windows (stride == window) take the repeat path
    ((8, 8), (2, 2), ((0, 0), (0, 0))),
    ((9, 7), (2, 2), ((0, 0), (0, 0))),
    ((9, 9), (3, 3), ((1, 1), (0, 2))),
    ((8, 8), (2, 3), ((1, 0), (2, 1))),
    ((8, 8), (2, 2), ((-1, 0), (1, -1))),
    ((8, 8), (1, 4), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SUM_CASES, ids=str)
def test_window_sum_transpose_tiling_matches_general(case, dtype):
    spatial, win, pads = case
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, *spatial)).astype(dtype)
    dims, pad4 = (1, 1, *win), ((0, 0), (0, 0), *pads)
    out, f = fg.vjp(lambda a: fg.lax.reduce_window_sum(a, dims, dims, pad4), x)
    ct = rng.standard_normal(out.shape).astype(dtype)
    (got,) = f(ct)
    cfg = W._upsample_pads(x.shape, dims, dims, out.shape, pad4)
    padded = W.pad_p.impl(ct, padding_config=tuple(map(tuple, cfg)), padding_value=0)
    want = W._reduce_window_sum_impl(padded, window_dimensions=dims,
                                     window_strides=(1,) * 4, padding=((0, 0),) * 4)
    assert got.shape == want.shape == x.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    # second order: the transpose of the upsampling is the window sum again
    _, g = fg.vjp(lambda c: f(c)[0], ct)
    (back,) = g(x)
    np.testing.assert_allclose(back, W._reduce_window_sum_impl(
        x, window_dimensions=dims, window_strides=dims, padding=pad4), rtol=1e-5, atol=1e-5)
