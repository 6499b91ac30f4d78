"""Fast paths of the NumPy kernels equal the general paths they short-cut."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

D = importlib.import_module("funcgrad.lax.dot")  # the module (fg.lax.dot is lax.dot)

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
    # the backward's path: the forward's maxima passed as the optional third operand
    saved_sc = W._select_and_scatter_add_impl(src, x, fast_max, **p)
    saved_ga = W._select_and_gather_add_impl(tan, x, fast_max, **p)
    monkeypatch.setattr(W, "_MASK_TAPS", 0)   # the general (argmax) path
    want_sc = W._select_and_scatter_add_impl(src, x, **p)
    want_ga = W._select_and_gather_add_impl(tan, x, **p)
    assert fast_sc.shape == want_sc.shape == x.shape and fast_sc.dtype == want_sc.dtype
    assert fast_ga.shape == want_ga.shape == fast_max.shape and fast_ga.dtype == want_ga.dtype
    np.testing.assert_array_equal(_bits(fast_sc), _bits(want_sc))
    np.testing.assert_array_equal(_bits(fast_ga), _bits(want_ga))
    np.testing.assert_array_equal(_bits(saved_sc), _bits(want_sc))
    np.testing.assert_array_equal(_bits(saved_ga), _bits(want_ga))
    # and the argmax path ignores the maxima it was given
    np.testing.assert_array_equal(
        _bits(W._select_and_scatter_add_impl(src, x, fast_max, **p)), _bits(want_sc))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pool_kernels_in_row_chunks_on_threads_give_the_sequential_bits(case, dtype,
                                                                        monkeypatch):
    from funcgrad.transforms import codegen
    spatial, win, stride, pads = case
    rng = np.random.default_rng(4)
    x = rng.integers(-2, 3, (7, 3, *spatial)).astype(dtype)        # ties everywhere
    if np.dtype(dtype).kind == "f":
        x.flat[::7] = -0.0
        x.flat[3::11] = -np.inf
    p = dict(window_dimensions=(1, 1, *win), window_strides=(1, 1, *stride),
             padding=((0, 0), (0, 0), *pads))
    out_shape = W._window_out_shape(x.shape, p["window_dimensions"], p["window_strides"],
                                    p["padding"])
    src = rng.standard_normal(out_shape).astype(dtype)

    def run():
        mx = W._reduce_window_max_impl(x, **p)
        return (mx, W._reduce_window_sum_impl(x, **p),
                W._select_and_scatter_add_impl(src, x, mx, **p),
                W._select_and_scatter_add_impl(src, x, **p))

    monkeypatch.setattr(codegen, "BLOCK_THREADS", 1)
    want = [r.copy() for r in run()]
    chunked = []
    real = codegen.parallel_chunks
    monkeypatch.setattr(codegen, "parallel_chunks",
                        lambda fn, n, nbytes: (chunked.append(n), real(fn, n, nbytes))[1])
    monkeypatch.setattr(codegen, "BLOCK_THREADS", 2)
    monkeypatch.setattr(codegen, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(codegen, "CHUNK_BYTES", max(1, x.nbytes // 5))   # 5 chunks of 7 rows
    got = run()
    assert chunked
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(_bits(g), _bits(w))


def test_parallel_chunks_cover_the_rows_and_raise_after_all_finish(monkeypatch):
    from funcgrad.transforms import codegen
    monkeypatch.setattr(codegen, "BLOCK_THREADS", 2)
    out = np.zeros(11)
    seen = []

    monkeypatch.setattr(codegen, "PARALLEL_MIN_BYTES", 100)
    monkeypatch.setattr(codegen, "CHUNK_BYTES", 100)

    def fill(lo, hi):
        seen.append((lo, hi))
        codegen.parallel_chunks(lambda a, b: None, 4, 200)   # nested: inline, no deadlock
        out[lo:hi] += 1

    codegen.parallel_chunks(fill, 11, 400)
    assert sorted(seen) == [(0, 2), (2, 5), (5, 8), (8, 11)]
    seen.clear()
    codegen.parallel_chunks(fill, 11, 99)   # small work: one call
    assert seen == [(0, 11)]
    np.testing.assert_array_equal(out, np.full(11, 2.0))   # every element once per call

    def fail(lo, hi):
        if lo:
            raise ValueError(f"chunk {lo}")
        out[lo:hi] = 7

    with pytest.raises(ValueError, match="chunk"):
        codegen.parallel_chunks(fail, 11, 200)
    assert out[0] == 7


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


def test_max_pool_backward_reads_the_forward_maxima():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    closed = fg.make_jaxpr(fg.grad(lambda a: fg.numpy.sum(fg.nn.max_pool(a, 2) ** 2)))(x)
    (fwd,) = [e for e in closed.eqns if e.primitive.name == "reduce_window_max"]
    (bwd,) = [e for e in closed.eqns if e.primitive.name == "select_and_scatter_add"]
    assert len(bwd.invars) == 3 and bwd.invars[2] is fwd.outvars[0]
    # hessian-vector products, vmap and jit through the three-operand form
    def loss(a):
        return fg.numpy.sum(fg.nn.max_pool(a, 2) ** 3)
    v = np.random.default_rng(1).standard_normal(x.shape)
    hvp = fg.jvp(fg.grad(loss), (x,), (v,))[1]
    y = fg.nn.max_pool(x, 2)
    mask = fg.grad(lambda a: fg.numpy.sum(fg.nn.max_pool(a, 2)))(x)
    want = mask * 6 * np.repeat(np.repeat(y, 2, -1), 2, -2) * v
    np.testing.assert_allclose(hvp, want, rtol=1e-12)
    np.testing.assert_allclose(fg.jit(fg.grad(loss))(x), fg.grad(loss)(x))
    np.testing.assert_allclose(fg.vmap(fg.grad(loss))(x), np.stack([fg.grad(loss)(a) for a in x]))
    with pytest.raises(fg.core.errors.ShapeError, match="maxima"):
        W.select_and_scatter_add_p.bind(y, x, y[..., :1], window_dimensions=(1, 1, 2, 2),
                                        window_strides=(1, 1, 2, 2), padding=((0, 0),) * 4)


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


# == conv: the column kernels vs the seed rules ================================================

from funcgrad.lax import conv as C  # noqa: E402

# (lhs shape, rhs shape, strides, padding, rhs dilation, groups): the op-spec table's conv
# configurations and the benchmark's classes (stride 1 / 2, dilation 2, depthwise, 1-3 d).
CONV_CASES = [
    ((2, 4, 6, 5), (4, 2, 3, 2), (2, 1), ((1, 0), (2, 1)), (1, 2), 2),
    ((2, 3, 10), (2, 3, 4), (3,), ((1, 2),), (1,), 1),                 # 1-d 'SAME', stride 3
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), (1, 2, 1), ((1, 0), (0, 1), (1, 1)), (1, 1, 1), 1),
    ((2, 3, 7, 7), (6, 1, 3, 3), (2, 2), ((0, 0), (0, 0)), (1, 1), 3),  # depthwise, stride 2
    ((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),  # 'SAME' stride 1
    ((2, 3, 8, 8), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),  # stride 2
    ((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 1),  # dilation 2
    ((2, 3, 9, 8), (4, 3, 3, 2), (2, 3), ((-1, 1), (2, -1)), (1, 1), 1),  # crops, odd strides
    ((1, 2, 9, 9), (3, 2, 2, 2), (3, 3), ((0, 0), (0, 0)), (2, 1), 1),  # rows never read
    ((3, 2, 12, 11), (2, 2, 4, 4), (1, 1), ((0, 0), (1, 2)), (1, 1), 1),  # > 64 positions
    ((2, 16, 6, 6), (8, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),  # dX by the seed rule
    ((2, 4, 9, 9), (12, 2, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 2),  # dX by col2im, groups
]


def test_col2im_layout_dispatch():
    assert C._col2im_batch_last(64, (10, 10))       # LeNet's conv 2 input gradient
    assert not C._col2im_batch_last(32, (16, 16))   # the 64->64 stride-2 layer's
    assert not C._col2im_batch_last(2, ())


def test_conv_input_gradient_dispatch(monkeypatch):
    # unit strides: col2im when the seed rule's GEMM would be thin (few input channels) and
    # its im2col of dZ the bigger copy; the seed rule's single GEMM otherwise
    assert C._dx_by_col2im((16, 6, 5, 5), (14, 14), (10, 10), 1)        # LeNet conv 2
    assert not C._dx_by_col2im((64, 64, 3, 3), (32, 32), (32, 32), 1)   # the 64->64 layer
    assert not C._dx_by_col2im((64, 32, 3, 3), (16, 16), (16, 16), 1)   # CNN conv 3
    assert not C._dx_by_col2im((4, 8, 3, 3), (8, 8), (8, 8), 1)         # fewer outputs
    assert C._dx_by_col2im((12, 2, 5, 5), (9, 9), (5, 5), 2)
    x, w = np.ones((2, 6, 14, 14)), np.ones((16, 6, 5, 5))
    names = [e.primitive.name for e in fg.make_jaxpr(fg.grad(
        lambda a: fg.numpy.sum(fg.nn.conv(a, w))))(x).eqns]
    assert "conv_patches_transpose" in names and "conv_general_dilated" not in names
    monkeypatch.setattr(C, "_PER_IMAGE_FLOPS", 0)     # the one-GEMM layout, at test sizes
    names = [e.primitive.name for e in fg.make_jaxpr(fg.grad(
        lambda a: fg.numpy.sum(fg.nn.conv(a, np.ones((8, 16, 3, 3)), padding=1))))(
        np.ones((2, 16, 6, 6))).eqns]
    assert "conv_patches_transpose" not in names and "conv_general_dilated" in names


def _conv_params(case):
    _, _, strides, pads, rd, g = case
    return dict(window_strides=strides, padding=pads, lhs_dilation=(1,) * len(strides),
                rhs_dilation=rd, feature_group_count=g)


def test_conv_per_image_dispatch():
    # one GEMM per image for small ungrouped convs (LeNet, the CNN's first layer), one GEMM
    # over all images otherwise
    assert C._per_image(6, 25, 784, 1) and C._per_image(16, 150, 100, 1)
    assert C._per_image(32, 27, 1024, 1)
    assert not C._per_image(32, 288, 1024, 1) and not C._per_image(64, 576, 1024, 1)
    assert not C._per_image(6, 25, 784, 2)


@pytest.mark.parametrize("per_image", [True, False, "batch_last"],
                         ids=["per_image", "one_gemm", "per_image_batch_last"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_column_kernels_match_seed_rules(case, dtype, per_image, monkeypatch):
    # batch_last: the per-image VJP's one-GEMM columns in (C*K, *out, N) for the images-last
    # col2im (the static dispatch picks it for many images on short rows: LeNet's conv 2)
    monkeypatch.setattr(C, "_PER_IMAGE_FLOPS", 1 << 60 if per_image else 0)
    monkeypatch.setattr(C, "_col2im_batch_last", (lambda n, out_sp: per_image == "batch_last")
                        if per_image else C._col2im_batch_last)
    xs, ws = case[:2]
    p = _conv_params(case)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    ans, f = fg.vjp(lambda a, b: C.conv_general_dilated_p.bind(a, b, **p), x, w)
    ct = rng.standard_normal(ans.shape).astype(dtype)
    dx, dw = f(ct)
    # the seed rules, evaluated directly (they bind conv_general_dilated eagerly)
    want_ans = C._conv_impl(x, w, **p)
    want_dx = C._conv_lhs_vjp(ct, want_ans, x, w, **p)
    want_dw = C._conv_rhs_vjp(ct, want_ans, x, w, **p)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for got, want in ((ans, want_ans), (dx, want_dx), (dw, want_dw)):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    # reverse mode's forward is the plain forward's GEMM: the same bits
    np.testing.assert_array_equal(ans, want_ans)


def _patches_loop(x, ks, strides, pads, rd):
    """im2col by loops over the output positions (the definition)."""
    xp = np.pad(x, ((0, 0), (0, 0), *((max(lo, 0), max(hi, 0)) for lo, hi in pads)))
    xp = xp[(Ellipsis, *(slice(max(-lo, 0), xp.shape[2 + a] - max(-hi, 0))
                         for a, (lo, hi) in enumerate(pads)))]
    out_sp = C.conv_output_shape(x.shape[2:], ks, strides, pads, (1,) * len(ks), rd)
    out = np.zeros((x.shape[0], x.shape[1], *ks, *out_sp), x.dtype)
    for m in np.ndindex(*out_sp):
        for t in np.ndindex(*ks):
            src = tuple(mi * s + ti * r for mi, s, ti, r in zip(m, strides, t, rd, strict=True))
            out[(slice(None), slice(None), *t, *m)] = xp[(slice(None), slice(None), *src)]
    return out.reshape(x.shape[0], -1, *out_sp).swapaxes(0, 1)   # (C*K, N, *out)


@pytest.mark.parametrize("batch_last", [False, True], ids=["channel_major", "batch_last"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_patches_and_their_transpose(case, batch_last, monkeypatch):
    monkeypatch.setattr(C, "_col2im_batch_last", lambda n, out_sp: batch_last)
    xs, ws, strides, pads, rd, _ = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal(xs)
    ks = ws[2:]
    cols = C.conv_patches(x, ks, strides, pads, rd)
    np.testing.assert_array_equal(cols, _patches_loop(x, ks, strides, pads, rd))
    # col2im is the adjoint: <P x, y> == <x, P^T y>
    y = rng.standard_normal(cols.shape)
    back = C.conv_patches_transpose_p.bind(y, input_shape=xs[2:], kernel_shape=ks,
                                           window_strides=strides, padding=pads,
                                           rhs_dilation=rd)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(cols, y), np.vdot(x, back), rtol=1e-12)
    # and bit for bit the plain col2im: every tap added in order, from zeros, then cropped
    np.testing.assert_array_equal(back, _col2im_loop(y, xs, ks, strides, pads, rd))


def _col2im_loop(cols, xs, ks, strides, pads, rd):
    n, c = xs[:2]
    out_sp = cols.shape[2:]
    c6 = cols.reshape(c, *ks, n, *out_sp)
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    big = np.zeros((n, c, *(size + lo + hi for size, (lo, hi) in zip(xs[2:], grow,
                                                                      strict=True))))
    for t in np.ndindex(*ks):
        at = tuple(slice(ti * r, ti * r + (m - 1) * s + 1, s)
                   for ti, r, m, s in zip(t, rd, out_sp, strides, strict=True))
        # a negative pad crops the input: its (cropped) rows are shifted by the crop
        at = tuple(slice(a.start - min(lo, 0) + 0, a.stop - min(lo, 0), a.step)
                   for a, (lo, _) in zip(at, pads, strict=True))
        big[(Ellipsis, *at)] += c6[(slice(None), *t)].swapaxes(0, 1)
    crop = tuple(slice(lo - min(lo, 0), lo - min(lo, 0) + size)
                 for (lo, _), size in zip(grow, xs[2:], strict=True))
    return big[(Ellipsis, *crop)]


@pytest.mark.parametrize("per_image", [True, False, "batch_last"],
                         ids=["per_image", "one_gemm", "per_image_batch_last"])
@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[4], CONV_CASES[5], CONV_CASES[7]],
                         ids=str)
def test_conv_column_kernels_second_order(case, per_image, monkeypatch):
    monkeypatch.setattr(C, "_PER_IMAGE_FLOPS", 1 << 60 if per_image else 0)
    monkeypatch.setattr(C, "_col2im_batch_last", (lambda n, out_sp: per_image == "batch_last")
                        if per_image else C._col2im_batch_last)
    xs, ws = case[:2]
    p = _conv_params(case)
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)

    def f(a, b):
        return fg.numpy.sum(fg.numpy.sin(C.conv_general_dilated_p.bind(a, b, **p)))

    fg.test_util.check_grads(f, (x, w), order=2, modes=("rev",))
    # grad of grad through the fast paths against the same through the seed rules only
    hv = fg.grad(lambda a, b: fg.numpy.sum(fg.grad(f, argnums=(0, 1))(a, b)[1] ** 2))(x, w)
    rules = fg.transforms.ad.residual_rules
    saved = rules.pop(C.conv_general_dilated_p)
    lhs_rule = fg.transforms.ad.vjp_rules[C.conv_general_dilated_p]
    try:
        fg.transforms.ad.defvjp(C.conv_general_dilated_p, C._conv_lhs_vjp, C._conv_rhs_vjp)
        want = fg.grad(lambda a, b: fg.numpy.sum(fg.grad(f, argnums=(0, 1))(a, b)[1] ** 2))(x, w)
    finally:
        rules[C.conv_general_dilated_p] = saved
        fg.transforms.ad.vjp_rules[C.conv_general_dilated_p] = lhs_rule
    np.testing.assert_allclose(hv, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("per_image", [True, False, "batch_last"],
                         ids=["per_image", "one_gemm", "per_image_batch_last"])
def test_conv_column_kernels_under_vmap_and_staging(per_image, monkeypatch):
    monkeypatch.setattr(C, "_PER_IMAGE_FLOPS", 1 << 60 if per_image else 0)
    monkeypatch.setattr(C, "_col2im_batch_last", (lambda n, out_sp: per_image == "batch_last")
                        if per_image else C._col2im_batch_last)
    rng = np.random.default_rng(8)
    xs, w = rng.standard_normal((3, 2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))

    def loss(x, w):
        return fg.numpy.sum(fg.nn.conv(x, w, stride=2, padding=1) ** 2)

    per_example = fg.vmap(fg.grad(loss, argnums=(0, 1)), in_axes=(0, None))(xs, w)
    for i in range(3):
        gx, gw = fg.grad(loss, argnums=(0, 1))(xs[i], w)
        np.testing.assert_allclose(per_example[0][i], gx, rtol=1e-12)
        np.testing.assert_allclose(per_example[1][i], gw, rtol=1e-12)
    closed = fg.make_jaxpr(fg.grad(loss, argnums=(0, 1)))(xs[0], w)
    staged = fg.core.eval_jaxpr(closed.jaxpr, closed.consts, xs[0], w)
    for got, want in zip(staged, fg.grad(loss, argnums=(0, 1))(xs[0], w), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_conv_saves_its_columns():
    # the residual is the column matrix, the weight gradient reuses it (no second im2col)
    x, w = np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))
    listing = fg.ad_checkpoint.saved_residuals(lambda a, b: fg.numpy.sum(fg.nn.conv(a, b)),
                                               x, w)
    assert [r.aval.shape for r in listing].count((27, 2, 6, 6)) == 1


def _col2im_plain(cols, input_shape, ks, strides, pads, rd):
    """The plain col2im: a zero padded buffer, one strided += per tap in row-major tap order,
    then the crop (zero where a negative padding cropped the input)."""
    ck, n, *out_sp = cols.shape
    c = ck // int(np.prod(ks))
    padded = [max(size + lo + hi, 0) for size, (lo, hi) in zip(input_shape, pads, strict=True)]
    buf = np.zeros((n, c, *padded), cols.dtype)
    c6 = cols.reshape(c, *ks, n, *out_sp)
    for tap in itertools.product(*(range(k) for k in ks)):
        where = (Ellipsis, *(slice(t * r, t * r + (m - 1) * s + 1, s)
                             for t, r, m, s in zip(tap, rd, out_sp, strides, strict=True)))
        buf[where] += c6[(slice(None), *tap)].swapaxes(0, 1)
    big = np.pad(buf, ((0, 0), (0, 0), *((max(0, -lo), max(0, -hi)) for lo, hi in pads)))
    crop = (Ellipsis, *(slice(lo + max(0, -lo), lo + max(0, -lo) + size)
                        for size, (lo, _) in zip(input_shape, pads, strict=True)))
    return big[crop]


def _col2im_configs():
    for nsp, s, r, k, pad in itertools.product((1, 2, 3), (1, 2, 3), (1, 2), (1, 2, 3),
                                               ((0, 0), (1, 1), (2, 0), (0, 3), (-1, 0),
                                                (1, -2))):
        yield (nsp, (s,) * nsp, (r,) * nsp, (k,) * nsp, (pad,) * nsp, (7 if nsp < 3 else 5,) * nsp)
    yield 2, (2, 1), (1, 3), (3, 2), ((1, 0), (0, 2)), (8, 9)
    yield 2, (2, 2), (1, 1), (3, 3), ((1, 1), (1, 1)), (32, 32)   # conv_layer[s2]'s dX
    yield 2, (1, 1), (1, 1), (5, 5), ((0, 0), (0, 0)), (14, 14)   # LeNet's second conv
    yield 2, (1, 1), (1, 1), (5, 5), ((2, 2), (2, 2)), (28, 28)   # and its first
    yield 3, (1, 1, 1), (2, 1, 3), (2, 3, 2), ((1, 0), (0, 0), (2, 1)), (6, 7, 8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_by_phase_is_bitwise_the_plain_col2im(dtype):
    # The phase col2im sums each output element's taps in the plain col2im's order from
    # zero, so the two agree bit for bit (signed zeros, infinities and NaN included).
    rng = np.random.default_rng(11)
    checked = 0
    for nsp, strides, rd, ks, pads, in_sp in _col2im_configs():
        out_sp = C.conv_output_shape(in_sp, ks, strides, pads, (1,) * nsp, rd)
        if min(out_sp) <= 0:
            continue
        cols = rng.standard_normal((2 * int(np.prod(ks)), 3, *out_sp)).astype(dtype)
        cols[0, 0] = -0.0
        cols.reshape(-1)[1::97] = np.inf
        cols.reshape(-1)[5::211] = np.nan
        got = C.conv_patches_transpose_p.bind(cols, input_shape=in_sp, kernel_shape=ks,
                                              window_strides=strides, padding=pads,
                                              rhs_dilation=rd)
        want = _col2im_plain(cols, in_sp, ks, strides, pads, rd)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), (strides, rd, ks, pads)
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("shape", [(128, 784, 512), (512, 300, 600)], ids=["small", "pooled"])
def test_dot_matmul_path_below_and_above_the_pool_size(shape):
    # Outputs under workspace.MIN_BYTES skip the pool (plain np.matmul), larger ones are
    # written into a pooled buffer: both are the same BLAS call, bitwise np.matmul's.
    m, k, n = shape
    rng = np.random.default_rng(12)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    ct = rng.standard_normal((m, n)).astype(np.float32)
    for a, b, dn, want in ((x, w, (((1,), (0,)), ((), ())), x @ w),
                           (ct, w, (((1,), (1,)), ((), ())), ct @ w.T),
                           (x, ct, (((0,), (0,)), ((), ())), x.T @ ct)):
        got = D._dot_general_impl(a, b, dn)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_windowed_kernels_of_a_0d_operand():
    # no axes, one window of one element: the maximum is the value, its gradient the cotangent
    x = np.array(3.0)
    f = lambda a: fg.lax.reduce_window_max(a, (), (), ())   # noqa: E731
    assert f(x) == 3.0 and fg.lax.reduce_window_sum(x, (), (), ()) == 3.0
    assert fg.grad(f)(x) == 1.0 and fg.jit(fg.grad(f))(x) == 1.0
    assert fg.jvp(f, (x,), (np.array(2.0),))[1] == 2.0
    assert fg.grad(fg.grad(lambda a: f(a) ** 3))(x) == 18.0
    got = W._select_and_scatter_add_impl(np.array(-0.0), x, window_dimensions=(),
                                         window_strides=(), padding=())
    assert got.shape == () and got == 0.0 and not np.signbit(got)   # 0 + source, as zeros +=


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32, np.uint8])
@pytest.mark.parametrize("prim_name", ["max", "min"])
def test_max_min_against_a_constant_block_kernel_keeps_the_bits(dtype, prim_name, monkeypatch):
    # The kernel takes the operand in blocks against a filled array (NumPy's array-array loop)
    # where np.maximum against a scalar runs an element loop; every bit must be NumPy's own.
    from funcgrad.lax import elementwise
    monkeypatch.setattr(elementwise, "_constant_blocks", {})
    monkeypatch.setattr(elementwise, "CONSTANT_BLOCK", 1000)     # several blocks, a ragged end
    ufunc = np.maximum if prim_name == "max" else np.minimum
    prim = fnp.maximum if prim_name == "max" else fnp.minimum
    rng = np.random.default_rng(12)
    floating = np.dtype(dtype).kind == "f"
    specials = ([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -3.0, 2.5] if floating
                else [0, 1, 7, 200])
    x = rng.choice(np.array(specials, dtype=dtype), size=(57, 100))
    with np.errstate(over="ignore"):
        for c in specials:
            c = dtype(c)
            for args in ((x, c), (c, x)):
                want = ufunc(*args).view(np.uint8)
                got_eager = np.asarray(prim(*args))
                got_jit = np.asarray(fg.jit(prim)(*args))
                assert np.array_equal(got_eager.view(np.uint8), want), (c, args[0] is x)
                assert np.array_equal(got_jit.view(np.uint8), want), (c, args[0] is x)
    src = fg.jit(lambda x: prim(x, dtype(2))).lower(x).source()
    assert f"{ufunc.__name__}_with_constant(" in src
    small = x[:2, :10]                                           # below CONSTANT_MIN_SIZE
    assert np.array_equal(np.asarray(prim(small, dtype(1))).view(np.uint8),
                          ufunc(small, dtype(1)).view(np.uint8))


def test_relu_grad_through_the_constant_kernel_matches_numpy():
    x = np.random.default_rng(13).standard_normal((64, 300)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.nan]
    g = fg.grad(lambda x: fnp.sum(fg.nn.relu(x) * x))(x)
    want = np.where(x > 0, 2 * x, np.float32(0))
    want[0, 2] = np.nan
    np.testing.assert_array_equal(np.asarray(g)[:, 3:], want[:, 3:])
    assert np.array_equal(np.asarray(fg.jit(fg.grad(lambda x: fnp.sum(fg.nn.relu(x) * x)))(x)),
                          np.asarray(g), equal_nan=True)
