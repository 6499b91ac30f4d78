"""``lax.sort``/``sort_key_val``/``top_k`` and the ``fg.numpy`` sorting composites against
NumPy (and JAX where it is the oracle): ties, NaNs, stable order, descending, lexicographic
keys; gradients by ``check_grads`` and closed forms; vmap against a loop; staged and jitted
against eager; errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import ConcretizationTypeError
from funcgrad.test_util import check_grads


def _jax() -> tuple[Any, Any]:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, oracle("jax.numpy")


def _eq(got: Any, want: Any) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


def _nan_data(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.integers(-2, 3, shape).astype(np.float64)   # ties
    x[rng.random(shape) < 0.2] = np.nan
    x[rng.random(shape) < 0.1] = np.inf
    x[rng.random(shape) < 0.1] = -np.inf
    return x


# == lax.sort =================================================================================

@pytest.mark.parametrize("dimension", [0, 1, -1])
def test_lax_sort_matches_numpy_with_nans_and_ties(dimension: int) -> None:
    x = _nan_data(np.random.default_rng(0), (6, 7))
    _eq(lax.sort(x, dimension), np.sort(x, axis=dimension))


def test_lax_sort_multiple_operands_is_stable_and_lexicographic() -> None:
    rng = np.random.default_rng(1)
    k1 = rng.integers(0, 3, 20)
    k2 = rng.integers(0, 2, 20).astype(np.float32)
    v = np.arange(20.0)
    perm = np.lexsort((k2, k1))   # numpy: last key primary; lexsort is stable
    got = lax.sort((k1, k2, v), num_keys=2)
    assert isinstance(got, tuple) and len(got) == 3
    _eq(got[0], k1[perm])
    _eq(got[1], k2[perm])
    _eq(got[2], v[perm])
    # num_keys=1: the second operand rides along and does not break ties.
    got1 = lax.sort((k1, k2, v), num_keys=1)
    perm1 = np.argsort(k1, kind="stable")
    _eq(got1[2], v[perm1])


def test_lax_sort_matches_jax() -> None:
    jax, _ = _jax()
    rng = np.random.default_rng(2)
    k, v = rng.integers(0, 4, (3, 9)), rng.normal(size=(3, 9))
    want = jax.lax.sort((k, v), dimension=1, num_keys=1, is_stable=True)
    got = lax.sort((k, v), dimension=1, num_keys=1)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, np.asarray(w))


def test_sort_key_val() -> None:
    k, v = np.array([3.0, 1.0, 2.0, 1.0]), np.array([0, 1, 2, 3])
    sk, sv = lax.sort_key_val(k, v)
    _eq(sk, np.array([1.0, 1.0, 2.0, 3.0]))
    _eq(sv, np.array([1, 3, 2, 0]))


def test_top_k_matches_jax_with_ties_and_nan() -> None:
    jax, _ = _jax()
    x = np.array([[1.0, 4.0, 2.0, 4.0, np.nan, -1.0], [0.0, 0.0, 0.0, 1.0, 1.0, 5.0]])
    vals, idx = lax.top_k(x, 4)
    w_vals, w_idx = jax.lax.top_k(x, 4)
    np.testing.assert_array_equal(vals, np.asarray(w_vals))
    _eq(idx, np.asarray(w_idx))
    assert idx.dtype == np.int32


def test_top_k_gradient_routes_to_the_chosen_entries() -> None:
    x = np.array([0.5, 3.0, -1.0, 2.0])
    g = fg.grad(lambda x: fnp.sum(lax.top_k(x, 2)[0] * np.array([10.0, 1.0])))(x)
    _eq(g, np.array([0.0, 10.0, 0.0, 1.0]))
    check_grads(lambda x: lax.top_k(x, 3)[0], (np.random.default_rng(3).normal(size=(2, 5)),),
                order=2, modes=("fwd", "rev"))


def test_sort_gradient_is_the_permutation() -> None:
    jax, jnp = _jax()
    x = np.array([3.0, 1.0, 2.0])
    w = np.array([1.0, 10.0, 100.0])
    g = fg.grad(lambda x: fnp.sum(lax.sort(x) * w))(x)
    _eq(g, np.array([100.0, 1.0, 10.0]))
    _, t = fg.jvp(lambda x: lax.sort(x), (x,), (np.array([1.0, 2.0, 3.0]),))
    _eq(t, np.array([2.0, 3.0, 1.0]))
    # Same as JAX, also at a tie (the stable order decides who gets the gradient).
    xt = np.array([1.0, 1.0, 0.0, 1.0])
    want = jax.grad(lambda x: jnp.sum(jnp.sort(x) * jnp.arange(4.0)))(xt)
    got = fg.grad(lambda x: fnp.sum(fnp.sort(x) * np.arange(4.0)))(xt)
    np.testing.assert_array_equal(got, np.asarray(want))


def test_sort_second_derivatives_and_multi_operand_grads() -> None:
    rng = np.random.default_rng(4)
    k, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    check_grads(lambda k, v: lax.sort((k, v), dimension=0), (k, v), order=2,
                modes=("fwd", "rev"))
    h = fg.hessian(lambda x: fnp.sum(lax.sort(x) ** 3 * np.arange(3.0)))(np.array([2.0, 1.0,
                                                                                   3.0]))
    np.testing.assert_allclose(h, np.diag([12.0, 0.0, 36.0]))


def test_sort_vmap_matches_loop_and_batches_unbatched_operands() -> None:
    rng = np.random.default_rng(5)
    k = rng.integers(0, 3, (4, 6))
    v = rng.normal(size=(6,))

    def f(k: Any, v: Any) -> Any:
        return lax.sort((k, v), num_keys=1)

    got = fg.vmap(f, in_axes=(0, None))(k, v)
    want = [np.stack(c) for c in zip(*(f(ki, v) for ki in k), strict=True)]
    for g, w in zip(got, want, strict=True):
        _eq(g, w)
    got_t = fg.vmap(lambda x: lax.sort(x, 0), in_axes=1, out_axes=1)(k.T.copy())
    _eq(got_t, np.sort(k.T, axis=0))


def test_sort_staged_and_jitted_equal_eager() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 5))

    def loss(x: Any) -> Any:
        return fnp.sum(fnp.sort(x, axis=0) * np.arange(15.0).reshape(3, 5)) + fnp.median(x)

    jaxpr = fg.make_jaxpr(loss)(x)
    assert "sort" in str(jaxpr)
    np.testing.assert_allclose(fg.jit(loss)(x), loss(x), rtol=1e-13)
    np.testing.assert_allclose(fg.jit(fg.grad(loss))(x), fg.grad(loss)(x), rtol=1e-13)
    np.testing.assert_allclose(fg.grad(fg.jit(loss))(x), fg.grad(loss)(x), rtol=1e-13)
    src = fg.jit(loss).lower(x).source()
    assert "sort" in src


def test_tracer_sort_and_argsort_methods() -> None:
    x = np.array([[2.0, 0.0, 1.0], [5.0, 4.0, 3.0]])
    _eq(fg.jit(lambda x: x.sort())(x), np.sort(x))
    _eq(fg.jit(lambda x: x.argsort(axis=0))(x), np.argsort(x, axis=0))
    g = fg.grad(lambda x: fnp.sum(x.sort() * np.arange(3.0)))(x)
    _eq(g, np.array([[2.0, 0.0, 1.0], [2.0, 1.0, 0.0]]))


def test_lax_sort_errors() -> None:
    with pytest.raises(ValueError, match="share one shape"):
        lax.sort((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="num_keys"):
        lax.sort((np.zeros(3), np.zeros(3)), num_keys=3)
    with pytest.raises(ValueError, match="dimension 2 is out of range"):
        lax.sort(np.zeros((2, 2)), dimension=2)
    with pytest.raises(ValueError, match="k=7"):
        lax.top_k(np.zeros(3), 7)


# == fnp.sort / argsort / lexsort / partition =================================================

@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_sort_argsort_match_numpy(axis: int | None) -> None:
    x = _nan_data(np.random.default_rng(7), (5, 6))
    _eq(fnp.sort(x, axis=axis), np.sort(x, axis=axis))
    _eq(fnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"))


def test_sort_and_argsort_descending_match_the_array_api() -> None:
    x = _nan_data(np.random.default_rng(8), (4, 9))
    _, jnp = _jax()
    _eq(fnp.sort(x, descending=True), np.asarray(jnp.sort(x, descending=True)))
    _eq(fnp.argsort(x, axis=0, descending=True),
        np.asarray(jnp.argsort(x, axis=0, descending=True, stable=True)))
    # stable descending: equal values keep their order
    _eq(fnp.argsort(np.array([1.0, 2.0, 1.0, 2.0]), descending=True), np.array([1, 3, 0, 2]))


def test_sort_integers_and_bools_keep_dtype() -> None:
    for x in (np.array([3, -1, 2], np.int32), np.array([True, False, True]),
              np.array([3, 1, 2], np.uint8)):
        _eq(fnp.sort(x), np.sort(x))
        _eq(fnp.argsort(x), np.argsort(x, kind="stable"))


def test_sort_complex_orders_by_real_then_imaginary_part() -> None:
    rng = np.random.default_rng(16)
    z = rng.integers(0, 3, (3, 8)) + 1j * rng.integers(0, 3, (3, 8))
    _eq(fnp.sort(z), np.sort(z))
    _eq(fnp.argsort(z, axis=0), np.argsort(z, axis=0, kind="stable"))
    _eq(fg.jit(fnp.sort)(z), np.sort(z))
    # JAX's convention for a real loss of complex inputs: the cotangent is routed unchanged.
    g = fg.grad(lambda z: fnp.real(fnp.sum(fnp.sort(z) * np.arange(3.0))))(
        np.array([2 + 1j, 1 + 0j, 2 + 0j]))
    _eq(g, np.array([2.0 + 0j, 0.0, 1.0]))


def test_lexsort_matches_numpy() -> None:
    rng = np.random.default_rng(9)
    keys = rng.integers(0, 3, (3, 12))
    _eq(fnp.lexsort(keys), np.lexsort(keys))
    _eq(fnp.lexsort((keys[0], keys[1])), np.lexsort((keys[0], keys[1])))
    k2 = rng.integers(0, 2, (2, 4, 5))
    _eq(fnp.lexsort((k2[0], k2[1]), axis=0), np.lexsort((k2[0], k2[1]), axis=0))


@pytest.mark.parametrize("kth", [0, 3, -1, (1, 4)])
def test_partition_satisfies_numpy_contract(kth: Any) -> None:
    x = np.random.default_rng(10).integers(0, 5, (3, 7)).astype(float)
    got, idx = fnp.partition(x, kth), fnp.argpartition(x, kth)
    want = np.partition(x, kth)
    for k in np.atleast_1d(kth):
        np.testing.assert_array_equal(got[:, k], want[:, k])
        assert np.all(got[:, :k % 7] <= got[:, k:k % 7 + 1])
        assert np.all(got[:, k % 7:] >= got[:, k:k % 7 + 1] if k >= 0 else True)
    _eq(np.take_along_axis(x, idx, -1), got)


def test_sort_errors() -> None:
    with pytest.raises(ValueError, match="kind"):
        fnp.sort(np.zeros(3), kind="bogus")
    with pytest.raises(TypeError, match="order"):
        fnp.argsort(np.zeros(3), order="f")
    with pytest.raises(ValueError, match="kth"):
        fnp.partition(np.zeros(3), 5)
    with pytest.raises(np.exceptions.AxisError):
        fnp.sort(np.zeros((2, 2)), axis=3)


# == searchsorted =============================================================================

@pytest.mark.parametrize("method", ["compare_all", "sort", None])
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_matches_numpy_with_nans_and_repeats(side: str, method: str | None
                                                          ) -> None:
    a = np.array([-np.inf, -1.0, 0.0, 0.0, 2.0, np.inf, np.nan, np.nan])
    v = np.array([[np.nan, 0.0, -np.inf], [np.inf, 5.0, -3.0]])
    _eq(fnp.searchsorted(a, v, side=side, method=method), np.searchsorted(a, v, side=side))
    ai = np.array([1, 3, 3, 7])
    _eq(fnp.searchsorted(ai, np.array([0, 3, 8]), side=side, method=method),
        np.searchsorted(ai, np.array([0, 3, 8]), side=side))
    _eq(fnp.searchsorted(ai, 3, side=side, method=method), np.searchsorted(ai, 3, side=side))
    rng = np.random.default_rng(17)
    for _ in range(50):   # random sizes (incl. empty), repeats and NaNs
        n = int(rng.integers(0, 8))
        r = np.sort(rng.integers(-3, 4, n).astype(float))
        if n and rng.random() < 0.3:
            r[-1] = np.nan
        q = rng.integers(-4, 5, (int(rng.integers(0, 3)), 3)).astype(float)
        q[rng.random(q.shape) < 0.2] = np.nan
        _eq(fnp.searchsorted(r, q, side=side, method=method), np.searchsorted(r, q, side=side))


def test_searchsorted_large_inputs_use_the_sort_method() -> None:
    rng = np.random.default_rng(18)
    a, v = np.sort(rng.normal(size=3000)), rng.normal(size=2000)   # 6e6 comparisons
    jaxpr = str(fg.make_jaxpr(fnp.searchsorted)(a, v))
    assert "sort" in jaxpr
    _eq(fnp.searchsorted(a, v), np.searchsorted(a, v))


def test_searchsorted_sorter_vmap_and_jit() -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(size=7)
    v = rng.normal(size=(3, 4))
    s = np.argsort(a)
    _eq(fnp.searchsorted(a, v, sorter=s), np.searchsorted(a, v, sorter=s))
    sa = np.sort(rng.normal(size=(5, 6)), axis=1)
    vs = rng.normal(size=(5, 3))
    for method in ("compare_all", "sort"):
        got = fg.vmap(lambda a, v, m=method: fnp.searchsorted(a, v, method=m))(sa, vs)
        _eq(got, np.stack([np.searchsorted(x, y) for x, y in zip(sa, vs, strict=True)]))
    _eq(fg.jit(lambda a, v: fnp.searchsorted(a, v, side="right"))(sa[0], vs),
        np.searchsorted(sa[0], vs, side="right"))


def test_searchsorted_errors() -> None:
    with pytest.raises(ValueError, match="side"):
        fnp.searchsorted(np.zeros(3), 1.0, side="middle")
    with pytest.raises(ValueError, match="1-d"):
        fnp.searchsorted(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="method"):
        fnp.searchsorted(np.zeros(3), 1.0, method="scan")


# == unique ===================================================================================

@pytest.mark.parametrize("x", [
    np.array([[3, 1, 3], [2, 1, 0]]),
    np.array([1.0, np.nan, 2.0, np.nan, 1.0]),
    np.array([True, False, True]),
    np.zeros(0),
])
def test_unique_concrete_matches_numpy(x: np.ndarray) -> None:
    got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, want, strict=True):
        _eq(g, w)
    _eq(fnp.unique(x), np.unique(x))
    _eq(fnp.unique(x, equal_nan=False), np.unique(x, equal_nan=False))
    for name in ("unique_values", "unique_counts", "unique_inverse", "unique_all"):
        g_res, w_res = getattr(fnp, name)(x), getattr(np, name)(x)
        if name == "unique_values":   # the array API leaves the order open; NumPy hashes ints
            _eq(g_res, np.sort(w_res))
        else:
            assert g_res._fields == w_res._fields
            for g, w in zip(g_res, w_res, strict=True):
                _eq(g, w)


def test_unique_size_matches_jax() -> None:
    _, jnp = _jax()
    x = np.array([[3.0, 1.0, np.nan], [3.0, np.nan, 0.0]])
    for size, fill in ((6, None), (2, None), (5, -1.0)):
        got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                         size=size, fill_value=fill)
        want = jnp.unique(x, return_index=True, return_inverse=True, return_counts=True,
                          size=size, fill_value=fill)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, np.asarray(w))


def test_unique_under_jit_and_vmap_needs_size() -> None:
    x = np.array([[2.0, 2.0, 5.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ConcretizationTypeError, match="size="):
        fg.jit(fnp.unique)(x[0])
    got = fg.vmap(lambda r: fnp.unique(r, return_counts=True, size=3, fill_value=0.0))(x)
    _eq(got[0], np.array([[2.0, 5.0, 0.0], [1.0, 2.0, 3.0]]))
    _eq(got[1], np.array([[3, 1, 0], [1, 1, 1]]))
    jitted = fg.jit(lambda r: fnp.unique_counts(r, size=3))(x[0])
    _eq(jitted.values, np.array([2.0, 5.0, 2.0]))
    _eq(jitted.counts, np.array([3, 1, 0]))


def test_unique_gradient_goes_to_the_first_occurrence() -> None:
    jax, jnp = _jax()
    x = np.array([2.0, 2.0, 5.0, 2.0])
    _eq(fg.grad(lambda x: fnp.sum(fnp.unique(x) * np.array([1.0, 10.0])))(x),
        np.array([1.0, 0.0, 10.0, 0.0]))
    want = jax.grad(lambda x: jnp.sum(jnp.unique(x, size=2)))(x)
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(fnp.unique(x, size=2)))(x),
                                  np.asarray(want))


def test_unique_errors() -> None:
    with pytest.raises(ValueError, match="axis"):
        fnp.unique(np.zeros((2, 2)), axis=0)
    with pytest.raises(ValueError, match="size"):
        fnp.unique(np.zeros(3), size=-1)


# == median / quantile / percentile ===========================================================

METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "inverted_cdf",
           "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
           "hazen", "weibull", "median_unbiased", "normal_unbiased"]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods_match_numpy(method: str) -> None:
    rng = np.random.default_rng(12)
    q = np.array([0.0, 0.1, 0.25, 0.5, 0.77, 1.0])
    x = rng.normal(size=(3, 7))
    x[0, 2] = np.nan
    for axis in (None, 0, 1, (0, 1)):
        for keepdims in (False, True):
            for fn in ("quantile", "nanquantile"):
                got = getattr(fnp, fn)(x, q, axis=axis, method=method, keepdims=keepdims)
                want = getattr(np, fn)(x, q, axis=axis, method=method, keepdims=keepdims)
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    for n in range(1, 6):   # small samples exercise every boundary clip
        y = rng.normal(size=n)
        for qq in np.linspace(0, 1, 21):
            np.testing.assert_allclose(fnp.quantile(y, qq, method=method),
                                       np.quantile(y, qq, method=method), rtol=1e-13)


def test_median_percentile_nan_forms_and_dtypes() -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(size=(4, 6))
    x[1, :] = np.nan
    x[2, 3] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want_nanmedian = np.nanmedian(x, axis=1)   # NumPy warns on the all-NaN row
    np.testing.assert_allclose(fnp.nanmedian(x, axis=1), want_nanmedian)
    np.testing.assert_allclose(fnp.median(x, axis=0), np.median(x, axis=0))
    np.testing.assert_allclose(fnp.percentile(x, [5, 95], axis=1),
                               np.percentile(x, [5, 95], axis=1))
    np.testing.assert_allclose(fnp.nanpercentile(x[2], 30), np.nanpercentile(x[2], 30))
    ints = np.arange(10)
    for got, want in ((fnp.median(ints), np.median(ints)),
                      (fnp.quantile(ints.astype(np.float32), 0.3),
                       np.quantile(ints.astype(np.float32), 0.3)),
                      (fnp.quantile(ints.astype(np.float32), np.array([0.3])),
                       np.quantile(ints.astype(np.float32), np.array([0.3])))):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_quantile_gradients_match_jax_and_finite_differences() -> None:
    jax, jnp = _jax()
    rng = np.random.default_rng(14)
    x = rng.normal(size=(5, 4))
    for fn, jfn in ((lambda x: fnp.median(x, axis=0), lambda x: jnp.median(x, axis=0)),
                    (lambda x: fnp.quantile(x, 0.3, axis=1), lambda x: jnp.quantile(x, 0.3,
                                                                                    axis=1))):
        ct = rng.normal(size=np.shape(fn(x)))
        got = fg.grad(lambda x, fn=fn, ct=ct: fnp.sum(fn(x) * ct))(x)
        want = jax.grad(lambda x, jfn=jfn, ct=ct: jnp.sum(jfn(x) * ct))(x)
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12)
    check_grads(lambda x, q: fnp.quantile(x, q, axis=0), (x, np.array([0.15, 0.6])), order=2,
                modes=("fwd", "rev"))
    # d quantile / d q for linear interpolation: (n - 1) * (x_(k+1) - x_(k)).
    s = np.sort(x[:, 0])
    g = fg.grad(lambda q: fnp.quantile(x[:, 0], q))(0.3)
    np.testing.assert_allclose(g, 4 * (s[2] - s[1]), rtol=1e-12)


def test_quantile_vmap_matches_loop() -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(4, 6))
    x[0, 1] = np.nan
    qs = rng.uniform(size=4)
    got = fg.vmap(lambda r, q: fnp.nanquantile(r, q, method="hazen"))(x, qs)
    want = np.stack([np.nanquantile(r, q, method="hazen") for r, q in zip(x, qs, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_quantile_errors() -> None:
    with pytest.raises(ValueError, match="method"):
        fnp.quantile(np.zeros(3), 0.5, method="bogus")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fnp.quantile(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="scalar or 1-d"):
        fnp.quantile(np.zeros(3), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        fnp.median(np.zeros((0, 3)), axis=0)
