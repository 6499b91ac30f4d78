"""``fg.numpy``'s statistics and numerical calculus against NumPy over shapes, axes and dtypes
(NaN inputs included), the nan-reductions' gradients against JAX (zero at NaN entries), vmap
against a loop, staged and jitted equal to eager, and the errors bad input raises.

The op specs in ``specs_statistics.py`` add check_grads to order 2, the adjoint test and the
per-spec vmap/staged/jit checks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.errors import FuncgradTypeError
from funcgrad.core.pytree import tree_leaves
from funcgrad.test_util import check_grads


def _same(got: Any, want: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    g_leaves, w_leaves = tree_leaves(got), tree_leaves(want)
    assert len(g_leaves) == len(w_leaves)
    for g, w in zip(g_leaves, w_leaves, strict=True):
        w = np.asarray(w)
        assert isinstance(g, np.ndarray), type(g)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _np(f: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def _tol(dt: Any) -> dict[str, float]:
    return {"rtol": 2e-6, "atol": 2e-6} if np.dtype(dt) == np.float32 else {}


def _with_nans(rng: np.random.Generator, shape: tuple[int, ...], dt: Any) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dt)
    x[rng.random(shape) < 0.3] = np.nan
    if x.ndim >= 2:
        x[0] = np.nan  # one all-NaN slice along every axis but the first
    return x


def _jax() -> Any:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


# == nan-reductions ===========================================================================

NAN_FUNCS = ["nansum", "nanmean", "nanmax", "nanmin", "nanstd", "nanvar", "nanprod"]
AXES = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", NAN_FUNCS)
def test_nan_reductions_match_numpy(name: str, axis: Any, dt: Any,
                                    rng: np.random.Generator) -> None:
    x = _with_nans(rng, (3, 4, 2), dt)
    for keepdims in (False, True):
        _same(getattr(fnp, name)(x, axis=axis, keepdims=keepdims),
              _np(getattr(np, name), x, axis=axis, keepdims=keepdims), **_tol(dt))


@pytest.mark.parametrize("name", ["nanstd", "nanvar"])
@pytest.mark.parametrize("ddof", [1, 2, 3])
def test_nanvar_ddof_gives_nan_without_degrees_of_freedom(name: str, ddof: int,
                                                          rng: np.random.Generator) -> None:
    x = _with_nans(rng, (4, 3), np.float64)
    _same(getattr(fnp, name)(x, axis=0, ddof=ddof), _np(getattr(np, name), x, axis=0, ddof=ddof))


def test_nan_reductions_of_integers_are_the_plain_ones() -> None:
    x = np.arange(12).reshape(3, 4)
    for name in NAN_FUNCS + ["nancumsum", "nancumprod", "nanargmax", "nanargmin"]:
        _same(getattr(fnp, name)(x, axis=1), getattr(np, name)(x, axis=1))


@pytest.mark.parametrize("name", ["nancumsum", "nancumprod"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_nan_scans_match_numpy(name: str, axis: Any, rng: np.random.Generator) -> None:
    x = _with_nans(rng, (3, 4), np.float64)
    _same(getattr(fnp, name)(x, axis=axis), getattr(np, name)(x, axis=axis))
    x32 = x.astype(np.float32)
    _same(getattr(fnp, name)(x32, axis=axis), getattr(np, name)(x32, axis=axis), **_tol(x32.dtype))


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_nanarg_match_numpy(name: str, axis: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 5))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 0] = 1.0
    x[0, :] = 1.0  # no all-NaN slice
    x[2, 3] = -np.inf
    for keepdims in (False, True):
        _same(getattr(fnp, name)(x, axis=axis, keepdims=keepdims),
              getattr(np, name)(x, axis=axis, keepdims=keepdims))


def test_nanargmax_all_nan_slice() -> None:
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with pytest.raises(ValueError, match="All-NaN slice"):
        fnp.nanargmax(x, axis=1)
    # Traced, the value is unknown: -1 marks the slice, as JAX's jnp.nanargmax.
    np.testing.assert_array_equal(fg.jit(lambda x: fnp.nanargmax(x, axis=1))(x), [-1, 0])
    np.testing.assert_array_equal(fg.vmap(fnp.nanargmin)(x), [-1, 0])


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanmin", "nanstd", "nanvar",
                                  "nanprod", "nancumsum", "nancumprod"])
def test_nan_gradients_match_jax(name: str, rng: np.random.Generator) -> None:
    jax = _jax()
    x = rng.uniform(0.5, 2.0, (3, 4))
    x[0, 1] = x[2, 3] = x[1, 0] = np.nan
    w = rng.standard_normal(getattr(np, name)(np.ones((3, 4)), axis=1).shape)

    def ours(x: Any) -> Any:
        return fnp.sum(getattr(fnp, name)(x, axis=1) * w)

    def theirs(x: Any) -> Any:
        return jax.numpy.sum(getattr(jax.numpy, name)(x, axis=1) * w)

    g = fg.grad(ours)(x)
    assert np.all(np.isfinite(g)), g
    assert np.all(g[np.isnan(x)] == 0.0)
    np.testing.assert_allclose(g, np.asarray(jax.grad(theirs)(x)), rtol=1e-12, atol=1e-14)
    if name not in ("nancumprod", "nanprod"):  # JAX's prod hessian differs only in rounding
        h = fg.hessian(ours)(x)
        np.testing.assert_allclose(h, np.asarray(jax.hessian(theirs)(x)), rtol=1e-10,
                                   atol=1e-12)


def test_nan_gradients_are_zero_at_nan_closed_form() -> None:
    x = np.array([1.0, np.nan, 3.0, 5.0])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.nansum(x))(x), [1, 0, 1, 1])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.nanmean(x))(x), [1 / 3, 0, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.nanmax(x))(x), [0, 0, 0, 1])
    # d/dx var = 2 (x - mean) / n over the non-NaN entries
    np.testing.assert_allclose(fg.grad(lambda x: fnp.nanvar(x))(x), [-4 / 3, 0, 0, 4 / 3])
    _, t = fg.jvp(lambda x: fnp.nanstd(x), (x,), (np.ones(4),))
    assert t == 0.0  # shifting every value leaves the spread


def test_count_nonzero_matches_numpy(rng: np.random.Generator) -> None:
    x = rng.integers(-1, 2, (3, 4, 2))
    for axis in [None, 0, (1, 2)]:
        for keepdims in (False, True):
            _same(fnp.count_nonzero(x, axis=axis, keepdims=keepdims),
                  np.asarray(np.count_nonzero(x, axis=axis, keepdims=keepdims), np.int64))
    _same(fnp.count_nonzero(x > 0, axis=1), np.count_nonzero(x > 0, axis=1))


# == reductions with where= and initial= ======================================================

RED_CASES = [
    ("sum", {"initial": 2}), ("sum", {"where": True}), ("prod", {"where": True}),
    ("prod", {"initial": 3}), ("max", {"where": True, "initial": -5}),
    ("min", {"where": True, "initial": 5}), ("max", {"initial": 0}), ("min", {"initial": 0}),
    ("mean", {"where": True}), ("var", {"where": True}), ("std", {"where": True}),
    ("std", {"where": True, "ddof": 1}), ("var", {"correction": 1}),
    ("nansum", {"where": True, "initial": 1}), ("nanmean", {"where": True}),
    ("nanvar", {"where": True}), ("nanmax", {"where": True, "initial": -5}),
]


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64, np.int32])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("name, kw", RED_CASES, ids=[f"{n}-{'-'.join(k)}" for n, k in RED_CASES])
def test_where_initial_reductions_match_numpy(name: str, kw: dict[str, Any], axis: Any, dt: Any,
                                              rng: np.random.Generator) -> None:
    x = (rng.standard_normal((3, 4)) * 3).astype(dt)
    if name.startswith("nan") and x.dtype.kind == "f":
        x[1, 2] = np.nan
    kwargs = dict(kw)
    if kwargs.get("where") is True:
        kwargs["where"] = rng.random((3, 4)) < 0.6
    for keepdims in (False, True):
        _same(getattr(fnp, name)(x, axis=axis, keepdims=keepdims, **kwargs),
              _np(getattr(np, name), x, axis=axis, keepdims=keepdims, **kwargs), **_tol(dt))


@pytest.mark.parametrize("name", ["all", "any"])
def test_bool_reductions_where(name: str, rng: np.random.Generator) -> None:
    x = rng.random((3, 4)) < 0.5
    m = rng.random((3, 4)) < 0.5
    for axis in [None, 0, 1]:
        _same(getattr(fnp, name)(x, axis=axis, where=m), getattr(np, name)(x, axis=axis, where=m))
    # a mask that broadcasts (one row of it)
    _same(getattr(fnp, name)(x, axis=0, where=m[0]), getattr(np, name)(x, axis=0, where=m[0]))


def test_where_broadcast_and_empty_with_initial() -> None:
    x = np.arange(6.0).reshape(2, 3)
    row = np.array([True, False, True])
    _same(fnp.sum(x, axis=1, where=row), np.sum(x, axis=1, where=row))
    _same(fnp.max(np.zeros((0, 3)), axis=0, initial=1.5),
          np.max(np.zeros((0, 3)), axis=0, initial=1.5))
    _same(fnp.sum(np.zeros((0, 2)), axis=0, initial=4.0),
          np.sum(np.zeros((0, 2)), axis=0, initial=4.0))


def test_where_mask_gradient_is_zero_outside_even_at_nan() -> None:
    x = np.array([1.0, np.nan, 2.0, 4.0])
    m = np.array([True, False, True, True])
    for f in (lambda x: fnp.mean(x, where=m), lambda x: fnp.var(x, where=m),
              lambda x: fnp.std(x, where=m, ddof=1), lambda x: fnp.sum(x, where=m),
              lambda x: fnp.max(x, where=m, initial=0.0)):
        g = fg.grad(f)(x)
        assert np.all(np.isfinite(g)) and g[1] == 0.0, g
        check_grads(f, (np.array([1.0, 7.0, 2.0, 4.0]),), order=2)


def test_max_where_requires_initial_and_out_is_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        fnp.max(np.ones(3), where=np.array([True, False, True]))
    with pytest.raises(ValueError, match="does not broadcast"):
        fnp.sum(np.ones((2, 3)), where=np.ones(2, bool))
    with pytest.raises(NotImplementedError, match="out"):
        fnp.sum(np.ones(3), out=np.zeros(()))
    with pytest.raises(ValueError, match="not both"):
        fnp.var(np.ones(3), ddof=1, correction=1)


# == average, cov, corrcoef ===================================================================

@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64])
def test_average_matches_numpy(dt: Any, rng: np.random.Generator) -> None:
    a = (rng.standard_normal((3, 4, 5)) * 4).astype(dt)
    w1 = rng.uniform(0.5, 2, 4).astype(dt if np.dtype(dt).kind == "f" else np.float64)
    w_full = rng.uniform(0.5, 2, a.shape)
    w2 = rng.uniform(0.5, 2, (5, 3))
    cases: list[tuple[Any, ...]] = [
        ({},), ({"axis": 1},), ({"axis": (0, 2)},), ({"axis": 1, "weights": w1},),
        ({"weights": w_full},), ({"axis": 0, "weights": w_full, "keepdims": True},),
        ({"axis": (2, 0), "weights": w2},), ({"axis": 1, "weights": w1, "returned": True},),
        ({"axis": (0, 2), "returned": True, "keepdims": True},), ({"returned": True},)]
    for (kw,) in cases:
        _same(fnp.average(a, **kw), np.average(a, **kw), **_tol(a.dtype))


def test_average_errors() -> None:
    a = np.ones((2, 3))
    with pytest.raises(TypeError, match="axis must be specified"):
        fnp.average(a, weights=np.ones(3))
    with pytest.raises(ValueError, match="consistent"):
        fnp.average(a, axis=1, weights=np.ones(2))
    with pytest.raises(ZeroDivisionError):
        fnp.average(a, axis=1, weights=np.zeros(3))


COV_CASES: list[dict[str, Any]] = [
    {}, {"bias": True}, {"ddof": 0}, {"ddof": 2}, {"fweights": True}, {"aweights": True},
    {"fweights": True, "aweights": True}, {"fweights": True, "aweights": True, "ddof": 0},
    {"aweights": True, "bias": True}, {"fweights": True, "ddof": 3},
]


@pytest.mark.parametrize("kw", COV_CASES, ids=lambda k: "-".join(k) or "plain")
@pytest.mark.parametrize("complex_", [False, True])
def test_cov_matches_numpy(kw: dict[str, Any], complex_: bool, rng: np.random.Generator) -> None:
    m = rng.standard_normal((3, 7))
    if complex_:
        m = m + 1j * rng.standard_normal((3, 7))
    kwargs = dict(kw)
    if kwargs.get("fweights"):
        kwargs["fweights"] = rng.integers(1, 4, 7)
    if kwargs.get("aweights"):
        kwargs["aweights"] = rng.uniform(0.1, 1.0, 7)
    _same(fnp.cov(m, **kwargs), np.cov(m, **kwargs))
    _same(fnp.cov(m.T, rowvar=False, **kwargs), np.cov(m.T, rowvar=False, **kwargs))


def test_cov_shapes_and_dtypes(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    _same(fnp.cov(x), np.cov(x))                                  # 0-d
    _same(fnp.cov(x, y), np.cov(x, y))                            # 2 x 2
    _same(fnp.cov(np.stack([x, y]), x), np.cov(np.stack([x, y]), x))
    _same(fnp.cov(x.astype(np.float32)), np.cov(x.astype(np.float32)))  # float64, as NumPy
    _same(fnp.cov(x, dtype=np.float32), np.cov(x, dtype=np.float32), rtol=1e-5)
    _same(fnp.cov(np.arange(6).reshape(2, 3)), np.cov(np.arange(6).reshape(2, 3)))
    _same(fnp.cov(x[None, :], rowvar=False), np.cov(x[None, :], rowvar=False))


def test_cov_errors() -> None:
    with pytest.raises(ValueError, match="more than 2"):
        fnp.cov(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="fweights must be integer"):
        fnp.cov(np.ones((2, 3)), fweights=np.array([1.0, 1.5, 1.0]))
    with pytest.raises(ValueError, match="negative"):
        fnp.cov(np.ones((2, 3)), aweights=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="incompatible numbers"):
        fnp.cov(np.ones((2, 3)), aweights=np.ones(4))


def test_corrcoef_matches_numpy(rng: np.random.Generator) -> None:
    m = rng.standard_normal((4, 9))
    _same(fnp.corrcoef(m), np.corrcoef(m))
    _same(fnp.corrcoef(m.T, rowvar=False), np.corrcoef(m.T, rowvar=False))
    _same(fnp.corrcoef(m[0], m[1]), np.corrcoef(m[0], m[1]))
    z = m + 1j * rng.standard_normal((4, 9))
    _same(fnp.corrcoef(z), np.corrcoef(z))
    _same(fnp.corrcoef(m[0]), np.corrcoef(m[0]))  # 0-d: c / c


def test_cov_corrcoef_gradients_match_jax(rng: np.random.Generator) -> None:
    jax = _jax()
    m, aw = rng.standard_normal((3, 6)), rng.uniform(0.5, 1.5, 6)
    fw = np.array([1, 2, 1, 1, 3, 1])
    w = rng.standard_normal((3, 3))
    for ours, theirs in [
        (lambda m, a: fnp.sum(fnp.cov(m, aweights=a, fweights=fw) * w),
         lambda m, a: jax.numpy.sum(jax.numpy.cov(m, aweights=a, fweights=fw) * w)),
        (lambda m, a: fnp.sum(fnp.corrcoef(m * a) * w),
         lambda m, a: jax.numpy.sum(jax.numpy.corrcoef(m * a) * w)),
    ]:
        got = fg.grad(ours, argnums=(0, 1))(m, aw)
        want = jax.grad(theirs, argnums=(0, 1))(m, aw)
        for g, h in zip(got, want, strict=True):
            np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-12)


# == bincount, histogram ======================================================================

def test_bincount_matches_numpy(rng: np.random.Generator) -> None:
    x = rng.integers(0, 6, 20)
    w = rng.standard_normal(20)
    _same(fnp.bincount(x), np.bincount(x))
    _same(fnp.bincount(x, minlength=10), np.bincount(x, minlength=10))
    _same(fnp.bincount(x, weights=w), np.bincount(x, weights=w))
    w32 = w.astype(np.float32)
    _same(fnp.bincount(x, weights=w32), np.bincount(x, weights=w32))
    _same(fnp.bincount(x.astype(np.uint8)), np.bincount(x.astype(np.uint8)))
    _same(fnp.bincount(np.zeros(0, np.int64)), np.bincount(np.zeros(0, np.int64)))
    _same(fnp.bincount(x, length=4), np.bincount(x)[:4])  # values >= length dropped (JAX)


def test_bincount_traced_needs_length(rng: np.random.Generator) -> None:
    x = rng.integers(0, 5, (4, 7))
    w = rng.standard_normal((4, 7))
    with pytest.raises(FuncgradTypeError, match="length="):
        fg.jit(fnp.bincount)(x[0])
    got = fg.vmap(lambda x, w: fnp.bincount(x, w, length=5))(x, w)
    _same(got, np.stack([np.bincount(a, b, minlength=5) for a, b in zip(x, w, strict=True)]))
    got = fg.jit(lambda x: fnp.bincount(x, length=3))(x[0])
    _same(got, np.bincount(x[0], minlength=5)[:3])
    # traced negative values count as 0 (JAX's clip); concrete ones raise (NumPy)
    _same(fg.jit(lambda x: fnp.bincount(x, length=2))(np.array([-1, 1])), np.array([1, 1]))
    with pytest.raises(ValueError, match="negative"):
        fnp.bincount(np.array([-1, 1]))
    with pytest.raises(TypeError, match="integers"):
        fnp.bincount(np.array([1.0]))
    with pytest.raises(ValueError, match="1-D"):
        fnp.bincount(np.ones((2, 2), int))
    g = fg.grad(lambda w: fnp.sum(fnp.bincount(x[0], w, length=5) ** 2))(w[0])
    counts = np.bincount(x[0], w[0], minlength=5)
    np.testing.assert_allclose(g, 2 * counts[x[0]])


HIST_CASES: list[dict[str, Any]] = [
    {}, {"bins": 5}, {"bins": [-1.0, 0.0, 0.5, 2.0]}, {"range": (-1.0, 1.0)},
    {"density": True}, {"weights": True}, {"bins": 3, "density": True, "weights": True},
    {"bins": 1}, {"bins": 4, "range": (-3, 3), "density": True},
]


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("kw", HIST_CASES, ids=lambda k: "-".join(k) or "plain")
def test_histogram_matches_numpy(kw: dict[str, Any], dt: Any, rng: np.random.Generator) -> None:
    a = (rng.standard_normal((5, 6)) * 2).astype(dt)
    kwargs = dict(kw)
    if kwargs.get("weights"):
        kwargs["weights"] = rng.uniform(0, 1, a.shape)
    _same(fnp.histogram(a, **kwargs), np.histogram(a, **kwargs), **_tol(dt))
    kwargs.pop("density", None)
    _same(fnp.histogram_bin_edges(a, **kwargs), np.histogram_bin_edges(a, **kwargs), **_tol(dt))


def test_histogram_edge_cases() -> None:
    _same(fnp.histogram(np.ones(4), bins=3), np.histogram(np.ones(4), bins=3))  # min == max
    x = np.array([0.0, 1.0, 2.0, 3.0, np.inf])  # on the edges; out of range dropped
    _same(fnp.histogram(x, bins=3, range=(0, 3)), np.histogram(x, bins=3, range=(0, 3)))
    _same(fnp.histogram(np.zeros(0)), np.histogram(np.zeros(0)))
    # values exactly on uniform edges, where the computed bin can miss by one before correction
    for dt in (np.float64, np.float32):
        on_edges = np.linspace(-1, 1, 101).astype(dt)
        for bins in (10, 7, 33):
            _same(fnp.histogram(on_edges, bins=bins), np.histogram(on_edges, bins=bins))
            _same(fnp.histogram(on_edges, bins=bins, range=(-0.9, 0.7)),
                  np.histogram(on_edges, bins=bins, range=(-0.9, 0.7)))
            # traced (the edges from a traced min and max): the same edges, to the bit
            got = fg.jit(lambda a, b=bins: fnp.histogram(a, bins=b))(on_edges)
            want = np.histogram(on_edges, bins=bins)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    big = np.random.default_rng(1).standard_normal(200_000)
    _same(fnp.histogram(big, bins=50), np.histogram(big, bins=50))
    with pytest.raises(NotImplementedError, match="string bins"):
        fnp.histogram(np.ones(3), bins="auto")
    with pytest.raises(ValueError, match="monotonically"):
        fnp.histogram(np.ones(3), bins=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="larger than min"):
        fnp.histogram(np.ones(3), range=(2, 1))
    with pytest.raises(ValueError, match="positive integer"):
        fnp.histogram(np.ones(3), bins=0)


def test_histogram_traced_and_batched(rng: np.random.Generator) -> None:
    a = rng.standard_normal((3, 20))
    got = fg.vmap(lambda a: fnp.histogram(a, bins=4))(a)
    want = [np.histogram(r, bins=4) for r in a]
    _same(got, (np.stack([h for h, _ in want]), np.stack([e for _, e in want])))
    _same(fg.jit(lambda a: fnp.histogram(a, bins=6, density=True))(a[0]),
          np.histogram(a[0], bins=6, density=True))
    # density through the data-dependent edges is differentiable (as JAX)
    jax = _jax()
    g = fg.grad(lambda a: fnp.sum(fnp.histogram(a, bins=3, density=True)[0] ** 2))(a[0])
    h = jax.grad(lambda a: jax.numpy.sum(jax.numpy.histogram(a, bins=3, density=True)[0] ** 2))(
        a[0])
    np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-12)


# == cumulative_sum / cumulative_prod =========================================================

@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int32, np.bool_])
def test_cumulative_match_numpy(name: str, dt: Any, rng: np.random.Generator) -> None:
    x = (rng.standard_normal((3, 4)) * 2).astype(dt)
    for axis in (0, 1, -1):
        for include_initial in (False, True):
            _same(getattr(fnp, name)(x, axis=axis, include_initial=include_initial),
                  getattr(np, name)(x, axis=axis, include_initial=include_initial), **_tol(dt))
    _same(getattr(fnp, name)(x[0], include_initial=True),
          getattr(np, name)(x[0], include_initial=True), **_tol(dt))
    _same(getattr(fnp, name)(x, axis=1, dtype=np.float64),
          getattr(np, name)(x, axis=1, dtype=np.float64))
    with pytest.raises(ValueError, match="axis must be specified"):
        getattr(fnp, name)(x)


# == convolve / correlate =====================================================================

SIZES = [(5, 3), (3, 5), (4, 4), (6, 2), (2, 6), (1, 4), (5, 1), (7, 4), (4, 7), (1, 1)]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, m", SIZES)
def test_convolve_correlate_match_numpy(n: int, m: int, mode: str,
                                        rng: np.random.Generator) -> None:
    a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    v = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    for x, y in ((a, v), (a.real, v.real), (a.real.astype(np.float32), v.real.astype(np.float32))):
        _same(fnp.convolve(x, y, mode), np.convolve(x, y, mode), **_tol(x.dtype))
        _same(fnp.correlate(x, y, mode), np.correlate(x, y, mode), **_tol(x.dtype))
    ai, vi = rng.integers(-3, 4, n), rng.integers(-3, 4, m)
    _same(fnp.convolve(ai, vi, mode), np.convolve(ai, vi, mode))


def test_convolve_gradients_and_errors(rng: np.random.Generator) -> None:
    a, v = rng.standard_normal(6), rng.standard_normal(3)
    jax = _jax()
    for mode in ("full", "same", "valid"):
        w = rng.standard_normal(np.convolve(a, v, mode).shape)
        for ours, theirs in ((fnp.convolve, jax.numpy.convolve),
                             (fnp.correlate, jax.numpy.correlate)):
            def loss(a: Any, v: Any, f: Any = ours, mode: str = mode, w: Any = w) -> Any:
                return fnp.sum(f(a, v, mode) * w)

            def loss_jax(a: Any, v: Any, f: Any = theirs, mode: str = mode, w: Any = w) -> Any:
                return jax.numpy.sum(f(a, v, mode) * w)

            got = fg.grad(loss, argnums=(0, 1))(a, v)
            want = jax.grad(loss_jax, argnums=(0, 1))(a, v)
            for g, h in zip(got, want, strict=True):
                np.testing.assert_allclose(g, np.asarray(h), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="cannot be empty"):
        fnp.convolve(np.ones(0), np.ones(2))
    with pytest.raises(ValueError, match="mode must be"):
        fnp.convolve(np.ones(3), np.ones(2), mode="wrap")
    with pytest.raises(ValueError, match="1-D"):
        fnp.correlate(np.ones((2, 2)), np.ones(2))


# == polyval, trapezoid, interp ===============================================================

def test_polyval_matches_numpy(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3))
    _same(fnp.polyval([3.0, -2.0, 1.0], x), np.polyval([3.0, -2.0, 1.0], x))
    p = np.array([1, 2, 3])
    _same(fnp.polyval(p, np.arange(4)), np.polyval(p, np.arange(4)))
    _same(fnp.polyval(np.array([2.0], np.float32), x.astype(np.float32)),
          np.polyval(np.array([2.0], np.float32), x.astype(np.float32)))
    _same(fnp.polyval(np.array([1.0, 0.5]), 2.0), np.polyval(np.array([1.0, 0.5]), 2.0))


def test_trapezoid_matches_numpy(rng: np.random.Generator) -> None:
    y = rng.standard_normal((3, 5))
    x = np.sort(rng.uniform(0, 4, 5))
    _same(fnp.trapezoid(y), np.trapezoid(y))
    _same(fnp.trapezoid(y, x), np.trapezoid(y, x))
    _same(fnp.trapezoid(y, dx=0.3, axis=0), np.trapezoid(y, dx=0.3, axis=0))
    x2 = np.cumsum(rng.uniform(0.1, 1, (3, 5)), axis=1)
    _same(fnp.trapezoid(y, x2), np.trapezoid(y, x2))
    _same(fnp.trapezoid(y.astype(np.float32)), np.trapezoid(y.astype(np.float32)), rtol=1e-6)
    _same(fnp.trapezoid(np.arange(6).reshape(2, 3)), np.trapezoid(np.arange(6).reshape(2, 3)))
    _same(fnp.trapezoid(y[:, :1]), np.trapezoid(y[:, :1]))


def _interp_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xp = np.sort(rng.uniform(0, 10, 8))
    fp = rng.standard_normal(8)
    x = rng.uniform(-2, 12, (3, 5))
    x[0, :3] = xp[3], xp[-1], xp[0]  # exactly on knots and ends
    return x, xp, fp


def test_interp_matches_numpy(rng: np.random.Generator) -> None:
    x, xp, fp = _interp_data(rng)
    _same(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    _same(fnp.interp(x, xp, fp, left=-5, right=7.0), np.interp(x, xp, fp, left=-5, right=7.0))
    _same(fnp.interp(x, xp, fp + 1j * fp[::-1]), np.interp(x, xp, fp + 1j * fp[::-1]))
    _same(fnp.interp(x, xp, fp, period=3.0), np.interp(x, xp, fp, period=3.0))
    _same(fnp.interp(x, xp[::-1] % 7, fp, period=-7), np.interp(x, xp[::-1] % 7, fp, period=-7))
    _same(fnp.interp(2.5, xp, fp), np.interp(2.5, xp, fp))
    _same(fnp.interp(x, xp[:1], fp[:1]), np.interp(x, xp[:1], fp[:1]))
    _same(fnp.interp(x.astype(np.float32), xp, fp.astype(np.float32)),
          np.interp(x.astype(np.float32), xp, fp.astype(np.float32)))
    _same(fnp.interp(np.array([np.nan, 1.0]), xp, fp), np.interp(np.array([np.nan, 1.0]), xp, fp))
    _same(fnp.interp(np.arange(5), np.arange(0, 8, 2), np.arange(4)),
          np.interp(np.arange(5), np.arange(0, 8, 2), np.arange(4)))


def test_interp_traced_period_and_vmap(rng: np.random.Generator) -> None:
    x, xp, fp = _interp_data(rng)
    perm = rng.permutation(8)
    got = fg.jit(lambda x, xp, fp: fnp.interp(x, xp, fp, period=4.0))(x, xp[perm], fp[perm])
    _same(got, np.interp(x, xp[perm], fp[perm], period=4.0))
    xps = np.sort(rng.uniform(0, 10, (4, 8)), axis=1)
    fps = rng.standard_normal((4, 8))
    got = fg.vmap(fnp.interp, in_axes=(None, 0, 0))(x, xps, fps)
    _same(got, np.stack([np.interp(x, a, b) for a, b in zip(xps, fps, strict=True)]))
    got = fg.vmap(fnp.interp, in_axes=(0, None, None))(x, xp, fp)
    _same(got, np.stack([np.interp(r, xp, fp) for r in x]))


def test_interp_gradients(rng: np.random.Generator) -> None:
    xp = np.array([0.0, 1.0, 3.0, 4.0])
    fp = np.array([1.0, 3.0, -1.0, 0.0])
    # d/dx is the slope of the segment; d/dfp are the hat-function weights
    x = np.array([0.5, 2.0, 3.75])
    g = fg.grad(lambda x: fnp.sum(fnp.interp(x, xp, fp)))(x)
    np.testing.assert_allclose(g, [2.0, -2.0, 1.0])
    g = fg.jacrev(lambda fp: fnp.interp(x, xp, fp))(fp)
    np.testing.assert_allclose(g, [[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.25, 0.75]])
    jax = _jax()
    xs, xps, fps = _interp_data(rng)
    xs = xs[1:]  # off the knots, where the derivative exists
    got = fg.grad(lambda a, b, c: fnp.sum(fnp.interp(a, b, c) ** 2), argnums=(0, 1, 2))(
        xs, xps, fps)
    want = jax.grad(lambda a, b, c: jax.numpy.sum(jax.numpy.interp(a, b, c) ** 2),
                    argnums=(0, 1, 2))(xs, xps, fps)
    for g_, h in zip(got, want, strict=True):
        np.testing.assert_allclose(g_, np.asarray(h), rtol=1e-10, atol=1e-12)


def test_interp_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        fnp.interp(1.0, np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="empty"):
        fnp.interp(1.0, np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="period"):
        fnp.interp(1.0, np.arange(3.0), np.arange(3.0), period=0)


# == gradient, diff, ediff1d ==================================================================

GRAD_CASES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}), ((0.5,), {}), ((0.5, 2.0, 1.0), {}), ((), {"axis": 1}), ((), {"axis": (2, 0)}),
    ((), {"edge_order": 2}), ((0.3,), {"axis": -1, "edge_order": 2}),
    (("c0", "c1", "c2"), {}), (("c0", 0.7, "c2"), {"edge_order": 2}),
    (("u1",), {"axis": 1}), (("c1",), {"axis": 1, "edge_order": 2}),
]


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("args, kw", GRAD_CASES, ids=[str(i) for i in range(len(GRAD_CASES))])
def test_gradient_matches_numpy(args: tuple[Any, ...], kw: dict[str, Any], dt: Any,
                                rng: np.random.Generator) -> None:
    f = (rng.standard_normal((4, 5, 3)) * 3).astype(dt)
    coords = {f"c{i}": np.cumsum(rng.uniform(0.5, 1.5, n)) for i, n in enumerate(f.shape)}
    coords["u1"] = np.arange(5) * 0.25  # uniform coordinates: NumPy's scalar path
    spacing = [coords[a] if isinstance(a, str) else a for a in args]
    _same(fnp.gradient(f, *spacing, **kw), np.gradient(f, *spacing, **kw), **_tol(dt))


def test_gradient_of_gradient_and_errors(rng: np.random.Generator) -> None:
    f = rng.standard_normal(6)
    c = np.cumsum(rng.uniform(0.5, 1.5, 6))
    check_grads(lambda f, c: fnp.gradient(f, c, edge_order=2), (f, c), order=2)
    jax = _jax()
    got = fg.grad(lambda f, c: fnp.sum(fnp.gradient(f, c) ** 2), argnums=(0, 1))(f, c)
    want = jax.grad(lambda f, c: jax.numpy.sum(jax.numpy.gradient(f, c) ** 2),
                    argnums=(0, 1))(f, c)
    for g, h in zip(got, want, strict=True):
        np.testing.assert_allclose(g, np.asarray(h), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="too small"):
        fnp.gradient(np.ones(2), edge_order=2)
    with pytest.raises(ValueError, match="match the length"):
        fnp.gradient(np.ones(4), np.arange(3.0))
    with pytest.raises(TypeError, match="number of spacing"):
        fnp.gradient(np.ones((3, 3)), 1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="edge_order"):
        fnp.gradient(np.ones(4), edge_order=3)


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int32, np.bool_])
def test_diff_matches_numpy(dt: Any, rng: np.random.Generator) -> None:
    x = (rng.standard_normal((4, 5)) * 3).astype(dt)
    for n in (0, 1, 2, 3, 6):
        for axis in (0, 1, -1):
            _same(fnp.diff(x, n=n, axis=axis), np.diff(x, n=n, axis=axis), **_tol(dt))
    if dt != np.bool_:
        _same(fnp.diff(x, prepend=0, append=x[:, :2]), np.diff(x, prepend=0, append=x[:, :2]))
        _same(fnp.diff(x, axis=0, prepend=x[:1]), np.diff(x, axis=0, prepend=x[:1]))
    with pytest.raises(ValueError, match="non-negative"):
        fnp.diff(x, n=-1)
    with pytest.raises(ValueError, match="one dimensional"):
        fnp.diff(np.float64(1.0))


def test_ediff1d_matches_numpy(rng: np.random.Generator) -> None:
    x = rng.integers(-5, 5, (3, 4))
    _same(fnp.ediff1d(x), np.ediff1d(x))
    _same(fnp.ediff1d(x, to_end=[7, 8], to_begin=-1), np.ediff1d(x, to_end=[7, 8], to_begin=-1))
    y = rng.standard_normal(5)
    _same(fnp.ediff1d(y, to_begin=np.array([0.5])), np.ediff1d(y, to_begin=np.array([0.5])))
    with pytest.raises(TypeError, match="same_kind"):
        fnp.ediff1d(x, to_begin=0.5)


# == vmap against a loop, staged and jitted equal to eager ====================================

BATCHED: list[tuple[str, Callable[..., Any], Callable[[np.random.Generator], tuple[Any, ...]]]] = [
    ("nanvar", lambda x: fnp.nanvar(x, axis=0, ddof=1),
     lambda r: (_with_nans(r, (4, 3), np.float64)[1:],)),
    ("nanmax", lambda x: fnp.nanmax(x, axis=1), lambda r: (_with_nans(r, (4, 3), np.float64),)),
    ("average", lambda x, w: fnp.average(x, axis=0, weights=w, returned=True),
     lambda r: (r.standard_normal((4, 3)), r.uniform(0.5, 1, 4))),
    ("cov", lambda m, a: fnp.cov(m, aweights=a), lambda r: (r.standard_normal((2, 5)),
                                                             r.uniform(0.5, 1, 5))),
    ("corrcoef", fnp.corrcoef, lambda r: (r.standard_normal((3, 5)),)),
    ("convolve", lambda a, v: fnp.convolve(a, v, "same"),
     lambda r: (r.standard_normal(6), r.standard_normal(3))),
    ("correlate", lambda a, v: fnp.correlate(a, v, "full"),
     lambda r: (r.standard_normal(3), r.standard_normal(5))),
    ("polyval", fnp.polyval, lambda r: (r.standard_normal(3), r.standard_normal(4))),
    ("trapezoid", fnp.trapezoid, lambda r: (r.standard_normal(5), np.sort(r.uniform(0, 3, 5)))),
    ("gradient", lambda f, c: fnp.gradient(f, c, edge_order=2),
     lambda r: (r.standard_normal(5), np.cumsum(r.uniform(0.5, 1, 5)))),
    ("diff", lambda x, p: fnp.diff(x, n=2, prepend=p), lambda r: (r.standard_normal(5),
                                                                   r.standard_normal(1))),
    ("histogram", lambda a, w: fnp.histogram(a, bins=3, weights=w),
     lambda r: (r.standard_normal(8), r.uniform(0, 1, 8))),
    ("interp_period", lambda x, xp, fp: fnp.interp(x, xp, fp, period=5.0),
     lambda r: (r.uniform(-5, 10, 4), r.uniform(0, 5, 6), r.standard_normal(6))),
    ("cumulative_prod", lambda x: fnp.cumulative_prod(x, include_initial=True),
     lambda r: (r.standard_normal(4),)),
    ("mean_where", lambda x, m: fnp.mean(x, where=m), lambda r: (r.standard_normal(5),
                                                                 r.random(5) < 0.7)),
]


@pytest.mark.parametrize("name, f, draw", BATCHED, ids=[b[0] for b in BATCHED])
def test_vmap_matches_loop(name: str, f: Callable[..., Any],
                           draw: Callable[[np.random.Generator], tuple[Any, ...]],
                           rng: np.random.Generator) -> None:
    examples = [draw(rng) for _ in range(3)]
    if name == "mean_where":
        for e in examples:
            e[1][0] = True
    stacked = [np.stack(col) for col in zip(*examples, strict=True)]
    got = fg.vmap(f)(*stacked)
    outs = [f(*e) for e in examples]
    want = tuple(np.stack(col) for col in zip(*(tree_leaves(o) for o in outs), strict=True))
    _same(tuple(tree_leaves(got)), want)
    # staged (make_jaxpr) and jitted equal eager
    _same(tuple(tree_leaves(fg.jit(f)(*examples[0]))), tuple(tree_leaves(outs[0])))
    closed = fg.make_jaxpr(f)(*examples[0])
    assert len(closed.jaxpr.eqns) > 0


# == polyfit ==================================================================================

POLYFIT_CASES: list[tuple[int, bool, dict[str, Any]]] = [
    (3, False, {}), (2, True, {}), (4, False, {"w": True}), (2, True, {"w": True}),
    (2, False, {"cov": True}), (2, True, {"cov": True}), (3, False, {"cov": "unscaled", "w": True}),
    (0, False, {}), (1, True, {"cov": "unscaled"}),
]


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("deg, two_d, kw", POLYFIT_CASES,
                         ids=[str(i) for i in range(len(POLYFIT_CASES))])
def test_polyfit_matches_numpy(deg: int, two_d: bool, kw: dict[str, Any], dt: Any,
                               rng: np.random.Generator) -> None:
    x = (rng.uniform(-2, 2, 12) * 3).astype(dt)
    y = (rng.standard_normal((12, 3) if two_d else 12) * 3).astype(dt)
    kwargs = dict(kw)
    if kwargs.get("w") is True:
        kwargs["w"] = rng.uniform(0.5, 1.5, 12)
    # NumPy keeps float32 data's Vandermonde matrix in float32 (then returns float64)
    tol = 1e-5 if dt == np.float32 else 1e-9
    _same(fnp.polyfit(x, y, deg, **kwargs), np.polyfit(x, y, deg, **kwargs), rtol=tol,
          atol=tol * 1e-3)


def test_polyfit_gradient_and_errors(rng: np.random.Generator) -> None:
    x, y = np.sort(rng.uniform(-1, 1, 8)), rng.standard_normal(8)
    # The fit is linear in y: its Jacobian is the pseudo-inverse of the Vandermonde matrix.
    jac = fg.jacrev(lambda y: fnp.polyfit(x, y, 2))(y)
    np.testing.assert_allclose(jac, np.linalg.pinv(np.vander(x, 3)), rtol=1e-9, atol=1e-12)
    check_grads(lambda x, y: fnp.polyfit(x, y, 2), (x, y), order=2)
    with pytest.raises(NotImplementedError, match="full=True"):
        fnp.polyfit(x, y, 1, full=True)
    with pytest.raises(ValueError, match="deg >= 0"):
        fnp.polyfit(x, y, -1)
    with pytest.raises(TypeError, match="rows"):
        fnp.polyfit(x, y[:5], 1)
    with pytest.raises(ValueError, match="exceed order"):
        fnp.polyfit(x[:3], y[:3], 2, cov=True)


@pytest.mark.parametrize("n", [2, 32, 33, 64, 257])
def test_binary_search_paths_match_numpy(n: int, rng: np.random.Generator) -> None:
    # Above 32 knots/edges interp and histogram search by a branchless binary search.
    xp = np.sort(rng.uniform(0, 10, n))
    fp = rng.standard_normal(n)
    x = rng.uniform(-1, 11, (4, 50))
    x[0, :4] = xp[[0, 1, n // 2, n - 1]]
    x[1, 0] = np.nan
    _same(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    _same(fg.jit(fnp.interp)(x, xp, fp), np.interp(x, xp, fp))
    got = fg.vmap(fnp.interp, in_axes=(0, None, None))(x, xp, fp)
    _same(got, np.stack([np.interp(r, xp, fp) for r in x]))
    finite = x[np.isfinite(x)]
    dup = np.concatenate([xp[: n // 2], xp[n // 2 - 1:]])  # a repeated edge: an empty bin
    for edges in (xp, dup):
        _same(fnp.histogram(x, bins=edges), np.histogram(finite, bins=edges))
        _same(fg.jit(lambda a, e=edges: fnp.histogram(a, bins=e))(finite),
              np.histogram(finite, bins=edges))
    g = fg.grad(lambda fp: fnp.sum(fnp.interp(x[2:], xp, fp)))(fp)
    h = np.stack([np.interp(x[2:], xp, np.eye(n)[k]).sum() for k in range(n)])
    np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-12)
