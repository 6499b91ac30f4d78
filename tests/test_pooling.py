"""Pooling: ``reduce_window_sum`` / ``reduce_window_max`` and the max-pool gradient primitives
(``select_and_scatter_add`` / ``select_and_gather_add``), ``fg.nn.max_pool`` / ``avg_pool`` /
``adaptive_avg_pool`` / ``global_avg_pool``: forward against a loop reference, the gradient
conventions (upsampling; one position per window, the first maximum, with the full cotangent),
PyTorch and JAX cross-checks, second order, vmap and dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import reference as ref
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax, nn
from funcgrad.test_util import check_grads

POOL_CASES = [
    # (input shape, window, stride, padding as nn takes it, reference padding)
    ((2, 3, 8, 8), (2, 2), (2, 2), 0, [(0, 0), (0, 0)]),
    ((2, 2, 7, 6), (3, 3), (2, 2), 1, [(1, 1), (1, 1)]),
    ((1, 2, 7, 7), (3, 3), (1, 1), ((2, 0), (0, 1)), [(2, 0), (0, 1)]),
    ((1, 2, 9, 5), (3, 2), (3, 1), ((1, 1), (0, 0)), [(1, 1), (0, 0)]),
    ((2, 2, 7, 6), (2, 3), (2, 2), "SAME", "SAME"),
    ((2, 2, 7, 6), (2, 3), (1, 2), "VALID", "VALID"),
    ((2, 3, 11), (3,), (2,), 1, [(1, 1)]),
    ((1, 2, 5, 4, 6), (2, 2, 3), (2, 1, 2), ((0, 1), (1, 0), (1, 1)), [(0, 1), (1, 0), (1, 1)]),
]
IDS = [f"{len(c[0]) - 2}d-w{c[1]}-s{c[2]}-p{c[3]}".replace(" ", "") for c in POOL_CASES]


@pytest.mark.parametrize("shape, window, stride, padding, ref_pad", POOL_CASES, ids=IDS)
def test_forward_matches_reference(shape: tuple[int, ...], window: tuple[int, ...],
                                   stride: tuple[int, ...], padding: Any, ref_pad: Any,
                                   rng: np.random.Generator) -> None:
    x = rng.standard_normal(shape)
    got_max = nn.max_pool(x, window, stride, padding)
    got_avg = nn.avg_pool(x, window, stride, padding)
    np.testing.assert_array_equal(got_max, ref.max_pool(x, window, stride, ref_pad))
    np.testing.assert_allclose(got_avg, ref.avg_pool(x, window, stride, ref_pad), rtol=1e-13,
                               atol=1e-14)
    assert type(got_max) is np.ndarray and type(got_avg) is np.ndarray


@pytest.mark.parametrize("shape, window, stride, padding, ref_pad", POOL_CASES, ids=IDS)
def test_max_pool_gradient_matches_reference_routing(
        shape: tuple[int, ...], window: tuple[int, ...], stride: tuple[int, ...], padding: Any,
        ref_pad: Any, rng: np.random.Generator) -> None:
    # Random values and small integers (many ties): the loop reference routes each window's
    # cotangent to its first maximum in row-major order.
    for x in (rng.standard_normal(shape), rng.integers(-1, 2, shape).astype(np.float64)):
        y, f_vjp = fg.vjp(lambda x: nn.max_pool(x, window, stride, padding), x)
        ct = rng.standard_normal(y.shape)
        np.testing.assert_allclose(f_vjp(ct)[0], ref.max_pool_grad(x, ct, window, stride,
                                                                   ref_pad),
                                   rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("shape, window, stride, padding, ref_pad", POOL_CASES, ids=IDS)
def test_check_grads_order2(shape: tuple[int, ...], window: tuple[int, ...],
                            stride: tuple[int, ...], padding: Any, ref_pad: Any,
                            rng: np.random.Generator) -> None:
    x = rng.standard_normal(shape)
    for pool in (nn.max_pool, nn.avg_pool):
        def f(x: Any, pool: Any = pool) -> Any:
            return pool(x, window, stride, padding)
        check_grads(f, (x,), order=2, modes=("rev",))
        check_grads(f, (x,), order=2, modes=("fwd",))
    # A nonlinear function of a pool: second derivatives route through select_and_gather_add.
    check_grads(lambda x: fnp.sin(nn.max_pool(x, window, stride, padding)) ** 2, (x,), order=2,
                modes=("rev", "fwd"))


# == the seed's max-pool bugs ================================================================

def test_ties_route_to_exactly_one_position() -> None:
    # k=3, s=2 on a 5x5 of equal values: 4 windows; each sends its whole gradient to its first
    # (top-left) element; the centre is shared by all four windows and accumulates.
    x = np.ones((1, 1, 5, 5))
    g = fg.grad(lambda x: fnp.sum(nn.max_pool(x, 3, 2)))(x)
    assert g.sum() == 4.0
    want = np.zeros((5, 5))
    want[0, 0] = want[0, 2] = want[2, 0] = want[2, 2] = 1.0
    np.testing.assert_array_equal(g[0, 0], want)


def test_cotangent_magnitude_is_kept() -> None:
    # The seed normalised by the summed cotangent; the gradient must scale with it.
    x = np.array([[[[1.0, 3.0, 2.0, 2.0]]]])
    g = fg.grad(lambda x: 3.0 * fnp.sum(nn.max_pool(x, (1, 2), (1, 2))))(x)
    np.testing.assert_array_equal(g[0, 0, 0], [0.0, 3.0, 3.0, 0.0])
    _, f_vjp = fg.vjp(lambda x: nn.max_pool(x, (1, 2), (1, 1)), x)
    # Overlapping windows [1,3], [3,2], [2,2]: 3 wins twice, the tie [2,2] goes to its first.
    np.testing.assert_array_equal(f_vjp(np.array([[[[-7.0, 0.5, 4.0]]]]))[0][0, 0, 0],
                                  [0.0, -6.5, 4.0, 0.0])


def test_overlapping_windows_accumulate(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 2, 6, 6))
    x[:, :, 2, 2] = 10.0  # the maximum of every window that contains it
    y, f_vjp = fg.vjp(lambda x: nn.max_pool(x, 3, 1), x)
    ct = rng.standard_normal(y.shape)
    g = f_vjp(ct)[0]
    covering = ct[:, :, 0:3, 0:3].sum(axis=(2, 3))   # windows starting at rows/cols 0..2
    np.testing.assert_allclose(g[:, :, 2, 2], covering, rtol=1e-14)


def test_no_python_loop_over_outputs_is_needed_for_large_inputs(
        rng: np.random.Generator) -> None:
    # A size the seed's per-output Python loop took seconds on: the impl is vectorised.
    import time
    x = rng.standard_normal((8, 16, 64, 64))
    start = time.perf_counter()
    y, f_vjp = fg.vjp(lambda x: nn.max_pool(x, 2), x)
    f_vjp(np.ones_like(y))
    assert time.perf_counter() - start < 5.0


# == average pooling ==========================================================================

def test_avg_pool_gradient_upsamples(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 4, 6))
    y, f_vjp = fg.vjp(lambda x: nn.avg_pool(x, 2), x)
    ct = rng.standard_normal(y.shape)
    want = np.repeat(np.repeat(ct, 2, axis=2), 2, axis=3) / 4
    np.testing.assert_allclose(f_vjp(ct)[0], want, rtol=1e-15)


def test_avg_pool_overlap_and_padding_counts_zeros() -> None:
    x = np.ones((1, 1, 3, 3))
    # count_include_pad=True: corner windows see 4 ones out of 9.
    y = nn.avg_pool(x, 3, 1, 1)
    np.testing.assert_allclose(y[0, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1.0, 6 / 9],
                                         [4 / 9, 6 / 9, 4 / 9]])
    g = fg.grad(lambda x: fnp.sum(nn.avg_pool(x, 3, 1, 1)))(x)
    # Element (i, j) sits in as many windows as it has neighbours-or-self: 4, 6 or 9.
    np.testing.assert_allclose(g[0, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1.0, 6 / 9],
                                         [4 / 9, 6 / 9, 4 / 9]])


def test_adaptive_and_global_avg_pool(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 7, 5))
    for size in ((3, 2), (7, 5), (1, 1), (2, 4)):
        np.testing.assert_allclose(nn.adaptive_avg_pool(x, size), ref.adaptive_avg_pool(x, size),
                                   rtol=1e-13, atol=1e-14)
    check_grads(lambda x: nn.adaptive_avg_pool(x, (3, 2)), (x,), order=2, modes=("rev", "fwd"))
    np.testing.assert_allclose(nn.global_avg_pool(x), x.mean(axis=(2, 3)), rtol=1e-14)
    assert nn.global_avg_pool(x, keepdims=True).shape == (2, 3, 1, 1)
    check_grads(nn.global_avg_pool, (x,), order=2, modes=("rev", "fwd"))
    x3 = rng.standard_normal((1, 2, 5, 4, 3))
    np.testing.assert_allclose(nn.adaptive_avg_pool(x3, 2), ref.adaptive_avg_pool(x3, (2, 2, 2)),
                               rtol=1e-13)


# == PyTorch and JAX ==========================================================================

TORCH_POOL = [
    ((2, 3, 8, 8), 2, 2, 0),
    ((2, 3, 9, 7), 3, 2, 1),
    ((1, 2, 7, 7), (3, 2), (1, 2), (1, 0)),
]


@pytest.mark.parametrize("shape, window, stride, padding", TORCH_POOL)
def test_pools_match_torch(shape: tuple[int, ...], window: Any, stride: Any, padding: Any,
                           rng: np.random.Generator) -> None:
    torch = oracle("torch")
    F = torch.nn.functional
    x = rng.standard_normal(shape)
    for ours, theirs in ((nn.max_pool, F.max_pool2d), (nn.avg_pool, F.avg_pool2d)):
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx, window, stride, padding)
        ct = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(ct))
        y, f_vjp = fg.vjp(lambda x, ours=ours: ours(x, window, stride, padding), x)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(f_vjp(ct)[0], tx.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_1d_and_3d_pools_match_torch(rng: np.random.Generator) -> None:
    torch = oracle("torch")
    F = torch.nn.functional
    for shape, t_max, t_avg in (((2, 3, 11), F.max_pool1d, F.avg_pool1d),
                                ((1, 2, 6, 5, 7), F.max_pool3d, F.avg_pool3d)):
        x = rng.standard_normal(shape)
        for ours, theirs in ((nn.max_pool, t_max), (nn.avg_pool, t_avg)):
            tx = torch.tensor(x, requires_grad=True)
            ty = theirs(tx, 3, 2, 1)
            ty.backward(torch.ones_like(ty))
            y, f_vjp = fg.vjp(lambda x, ours=ours: ours(x, 3, 2, 1), x)
            np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(f_vjp(np.ones(y.shape))[0], tx.grad.numpy(), rtol=1e-13,
                                       atol=1e-14)


def test_lax_reduce_window_matches_jax(rng: np.random.Generator) -> None:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    x = rng.standard_normal((2, 7, 6))
    for init, j_op, f_op in ((0.0, jax.lax.add, lax.add), (-np.inf, jax.lax.max, lax.max),
                             (np.inf, jax.lax.min, lax.min)):
        for padding in ("SAME", "VALID", ((0, 0), (1, 2), (2, 0))):
            args = ((1, 3, 2), (1, 2, 1), padding)
            want, j_vjp = jax.vjp(lambda a, i=init, op=j_op, args=args:
                                  jax.lax.reduce_window(a, i, op, *args), x)
            got, f_vjp = fg.vjp(lambda a, i=init, op=f_op, args=args:
                                lax.reduce_window(a, i, op, *args), x)
            np.testing.assert_allclose(got, np.asarray(want), rtol=1e-14)
            ct = rng.standard_normal(got.shape)
            np.testing.assert_allclose(f_vjp(ct)[0], np.asarray(j_vjp(ct)[0]), rtol=1e-14,
                                       atol=1e-14)


def test_reduce_window_general_forms_and_what_it_refuses() -> None:
    x = np.arange(16.0).reshape(4, 4)
    # non-identity init, other monoids and dilations take the composite path (exact values;
    # tests/test_reduce_window.py compares the grid with JAX)
    np.testing.assert_array_equal(lax.reduce_window(x, 1.0, lax.add, (2, 2), (1, 1), "VALID"),
                                  lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "VALID")
                                  + 1.0)
    np.testing.assert_array_equal(lax.reduce_window(x, 1.0, lax.mul, (1, 2), (1, 2), "VALID"),
                                  x[:, ::2] * x[:, 1::2])
    np.testing.assert_array_equal(
        lax.reduce_window(x, 0.0, lax.add, (2, 1), (1, 1), "VALID", window_dilation=(2, 1)),
        x[:2] + x[2:])
    with pytest.raises(ValueError, match="one entry per axis"):
        lax.reduce_window_max(x, (2,), (1,), "VALID")


# == the gradient primitives themselves =======================================================

def test_select_and_scatter_and_gather_are_adjoint(rng: np.random.Generator) -> None:
    x = rng.integers(-1, 2, (2, 3, 7, 6)).astype(np.float64)   # ties everywhere
    params = ((1, 1, 3, 2), (1, 1, 2, 2), ((0, 0), (0, 0), (1, 1), (0, 1)))
    out_shape = lax.reduce_window_max(x, *params).shape
    src, t = rng.standard_normal(out_shape), rng.standard_normal(x.shape)
    scattered = lax.select_and_scatter_add(src, x, *params)
    gathered = lax.select_and_gather_add(t, x, *params)
    np.testing.assert_allclose(np.vdot(scattered, t), np.vdot(src, gathered), rtol=1e-13)
    # The gather is the JVP of the max, the scatter its VJP.
    _, t_out = fg.jvp(lambda x: lax.reduce_window_max(x, *params), (x,), (t,))
    np.testing.assert_array_equal(t_out, gathered)
    check_grads(lambda s: lax.select_and_scatter_add(s, x, *params), (src,), order=2,
                modes=("rev", "fwd"))
    check_grads(lambda t: lax.select_and_gather_add(t, x, *params), (t,), order=2,
                modes=("rev", "fwd"))
    # Piecewise constant in the operand: zero derivative there.
    g = fg.grad(lambda x: fnp.sum(lax.select_and_scatter_add(src, x, *params) ** 2))(x)
    np.testing.assert_array_equal(g, np.zeros_like(x))


def test_grad_of_grad_through_max_pool(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 6, 6))

    def f(x: Any) -> Any:
        return fnp.sum(nn.max_pool(x, 2) ** 3)

    # d/dx sum(max^3) = 3 max^2 at the argmax; its derivative 6 max there (diagonal Hessian).
    h_diag = fg.grad(lambda x: fnp.sum(fg.grad(f)(x)))(x)
    g = fg.grad(f)(x)
    winners = g != 0
    np.testing.assert_allclose(h_diag[winners], 6 * x[winners], rtol=1e-13)
    assert np.all(h_diag[~winners] == 0)


# == transforms and dtypes ====================================================================

@pytest.mark.parametrize("pool", [nn.max_pool, nn.avg_pool])
@pytest.mark.parametrize("in_axis", [0, 2, 4])
def test_vmap_pool_matches_loop(pool: Any, in_axis: int, rng: np.random.Generator) -> None:
    xs = rng.standard_normal((3, 2, 3, 7, 6))

    def f(x: Any) -> Any:
        return fnp.sum(pool(x, 3, 2, 1) ** 2)

    got = fg.vmap(fg.grad(f), in_axes=in_axis)(np.moveaxis(xs, 0, in_axis))
    want = np.stack([fg.grad(f)(x) for x in xs])
    np.testing.assert_allclose(np.moveaxis(got, 0, 0), want, rtol=1e-13)
    got_fwd = fg.vmap(lambda x: pool(x, 3, 2, 1), in_axes=in_axis)(np.moveaxis(xs, 0, in_axis))
    np.testing.assert_array_equal(got_fwd, np.stack([pool(x, 3, 2, 1) for x in xs]))
    empty = fg.vmap(lambda x: pool(x, 3, 2, 1))(np.zeros((0, 2, 3, 7, 6)))
    assert empty.shape == (0, 2, 3, 4, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_dtypes_are_preserved(dtype: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    for pool in (nn.max_pool, nn.avg_pool, lambda x, *a: nn.adaptive_avg_pool(x, (2, 3))):
        y, f_vjp = fg.vjp(lambda x, pool=pool: pool(x, 2, 2, 0), x)
        assert y.dtype == dtype
        assert f_vjp(np.ones_like(y))[0].dtype == dtype
        gg = fg.grad(lambda x, pool=pool: fnp.sum(fg.grad(
            lambda z: fnp.sum(pool(z, 2, 2, 0) ** 2))(x) ** 2))(x)
        assert gg.dtype == dtype


def test_max_pool_on_integers() -> None:
    x = np.arange(16).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.max_pool(x, 2, padding=1)[0, 0],
                                  [[0, 2, 3], [8, 10, 11], [12, 14, 15]])
