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
