"""Op specs for ``fg.numpy``'s statistics and numerical-calculus composites
(``funcgrad/numpy/_statistics.py``, ``_calculus.py``) and for the ``where=``/``initial=``
reductions.

No new primitive is behind them: each spec lists the existing primitives its jaxpr must
contain. The table drives the forward checks against NumPy (float64, and float32 where
listed), ``check_grads`` to order 2 in both modes, the adjoint test, vmap against a loop, the
staged and jit checks. Inputs with NaNs never hold an all-NaN slice along the reduced axis
(there the value is NaN and has no derivative); knots, bins and kinks are kept away from the
random points finite differences move.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad.numpy as fnp

F32_64 = (np.float64, np.float32)
Draw = Callable[[np.random.Generator], Any]
Gen = tuple[tuple[int, ...], Draw]
SPECS: list[OpSpec] = []


def U(shape: tuple[int, ...], lo: float = -2.0, hi: float = 2.0) -> Gen:
    return shape, lambda rng: rng.uniform(lo, hi, shape)


def NANS(shape: tuple[int, ...]) -> Gen:
    """Uniform floats with NaNs at (i + 2 j) % 3 == 0 of the last two axes: every row and
    every column keeps a number (for 3 rows and at least 2 columns)."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(-2, 2, shape)
        i, j = np.indices(shape[-2:])
        x[..., (i + 2 * j) % 3 == 0] = np.nan
        return x
    return shape, draw


def POS(shape: tuple[int, ...]) -> Gen:
    return U(shape, 0.5, 2.0)


def SORTED(n: int, lo: float, hi: float) -> Gen:
    """Increasing points at least (hi - lo) / (3 n) apart."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        gaps = rng.uniform(1.0, 2.0, n)
        pts = np.cumsum(gaps)
        return lo + (pts - pts[0]) * (hi - lo) / (pts[-1] - pts[0])
    return (n,), draw


def INTS(shape: tuple[int, ...], lo: int, hi: int) -> Gen:
    return shape, lambda rng: rng.integers(lo, hi, shape)


def MASK(shape: tuple[int, ...]) -> Gen:
    """A boolean mask with at least one True in every row."""
    def draw(rng: np.random.Generator) -> np.ndarray:
        m = rng.random(shape) < 0.6
        m[..., 0] = True
        return m
    return shape, draw


def quiet(ref: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ref(*args)
    return run


def spec(name: str, fn: Callable[..., Any], args: list[Gen], prims: tuple[str, ...],
         ref: Callable[..., Any] | None = None, numpy: tuple[str, ...] = (), order: int = 2,
         dtypes: tuple[Any, ...] = (np.float64,), tol: float | None = None,
         diff_argnums: tuple[int, ...] | None = None, vmap_size0: bool = True,
         vmap_none: bool = True) -> None:
    draws = tuple(d for _, d in args)
    SPECS.append(OpSpec(
        name=f"stats.{name}", fn=fn, arg_shapes=tuple(s for s, _ in args), primitives=prims,
        dtypes=dtypes, tol=tol, grad_order=order, diff_argnums=diff_argnums,
        make_args=lambda rng, draws=draws: tuple(d(rng) for d in draws),
        reference=None if ref is None else quiet(ref),
        extra={"numpy": numpy, "vmap_size0": vmap_size0, "vmap_none": vmap_none}))


S = (3, 4)

# == nan-reductions ===========================================================================

for _name, _ax in [("nansum", 1), ("nanmean", 0), ("nanmax", 1), ("nanmin", 0),
                   ("nanprod", 1), ("nanstd", None)]:
    _ours, _numpy = getattr(fnp, _name), getattr(np, _name)
    spec(f"{_name}_axis{_ax}", lambda x, f=_ours, a=_ax: f(x, axis=a), [NANS(S)],
         ("ne", "select"), lambda x, f=_numpy, a=_ax: f(x, axis=a), numpy=(_name,),
         dtypes=F32_64)
spec("nanvar_ddof1", lambda x: fnp.nanvar(x, axis=1, ddof=1), [NANS(S)], ("ne", "select"),
     lambda x: np.nanvar(x, axis=1, ddof=1), numpy=("nanvar",), dtypes=F32_64)
spec("nanmean_3d_keepdims", lambda x: fnp.nanmean(x, axis=(0, 2), keepdims=True),
     [NANS((2, 3, 4))], ("select", "reduce_sum"),
     lambda x: np.nanmean(x, axis=(0, 2), keepdims=True), numpy=("nanmean",))
spec("nanmax_where_initial", lambda x, m: fnp.nanmax(x, axis=1, where=m, initial=-3.0),
     [NANS(S), MASK(S)], ("select", "reduce_max", "max"),
     lambda x, m: np.nanmax(x, axis=1, where=m, initial=-3.0), numpy=("nanmax",))
spec("nancumsum", lambda x: fnp.nancumsum(x, axis=1), [NANS(S)], ("select", "cumsum"),
     lambda x: np.nancumsum(x, axis=1), numpy=("nancumsum",), dtypes=F32_64)
spec("nancumprod", lambda x: fnp.nancumprod(x, axis=0), [NANS(S)], ("select", "reduce_prod"),
     lambda x: np.nancumprod(x, axis=0), numpy=("nancumprod",))
spec("nanargmax", lambda x: fnp.nanargmax(x, axis=1), [NANS(S)], ("select", "argmax"),
     lambda x: np.nanargmax(x, axis=1), numpy=("nanargmax",), order=0)
spec("nanargmin_flat", fnp.nanargmin, [NANS(S)], ("select", "argmin"), np.nanargmin,
     numpy=("nanargmin",), order=0)
spec("count_nonzero", lambda x: fnp.count_nonzero(fnp.round(x), axis=1, keepdims=True),
     [U(S)], ("ne", "reduce_sum"),
     lambda x: np.count_nonzero(np.round(x), axis=1, keepdims=True), numpy=("count_nonzero",),
     order=0)

# == reductions with where= and initial= ======================================================

spec("sum_where_initial", lambda x, m: fnp.sum(x, axis=1, where=m, initial=1.5),
     [U(S), MASK(S)], ("select", "reduce_sum", "add"),
     lambda x, m: np.sum(x, axis=1, where=m, initial=1.5), numpy=("sum",))
_M = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])
spec("sum_where_const_mask", lambda x: fnp.sum(x, axis=1, where=_M), [U(S)],
     ("select", "reduce_sum"), lambda x: np.sum(x, axis=1, where=_M), numpy=("sum",),
     dtypes=F32_64)
spec("mean_where_const_mask", lambda x: fnp.mean(x, axis=0, where=_M[[0, 2, 0]]), [U(S)],
     ("select", "reduce_sum"), lambda x: np.mean(x, axis=0, where=_M[[0, 2, 0]]),
     numpy=("mean",), dtypes=F32_64)
spec("prod_where", lambda x, m: fnp.prod(x, axis=0, where=m, initial=2.0), [U(S), MASK(S)],
     ("select", "reduce_prod", "mul"), lambda x, m: np.prod(x, axis=0, where=m, initial=2.0),
     numpy=("prod",))
spec("max_where_initial", lambda x, m: fnp.max(x, axis=1, where=m, initial=-1.0),
     [U(S), MASK(S)], ("select", "reduce_max", "max"),
     lambda x, m: np.max(x, axis=1, where=m, initial=-1.0), numpy=("max",))
spec("min_initial", lambda x: fnp.min(x, axis=0, initial=0.5), [U(S)], ("reduce_min", "min"),
     lambda x: np.min(x, axis=0, initial=0.5), numpy=("min",))
spec("mean_where", lambda x, m: fnp.mean(x, axis=1, where=m), [U(S), MASK(S)],
     ("select", "reduce_sum", "div"), lambda x, m: np.mean(x, axis=1, where=m),
     numpy=("mean",))
spec("var_where", lambda x, m: fnp.var(x, axis=1, where=m), [U(S), MASK(S)],
     ("select", "reduce_sum"), lambda x, m: np.var(x, axis=1, where=m), numpy=("var",))
spec("std_where_ddof", lambda x: fnp.std(x, axis=0, ddof=1, where=np.arange(3)[:, None] < 2),
     [U(S)], ("select", "sqrt"),
     lambda x: np.std(x, axis=0, ddof=1, where=np.arange(3)[:, None] < 2), numpy=("std",))
spec("var_correction", lambda x: fnp.var(x, axis=0, correction=1), [U(S)], ("reduce_sum",),
     lambda x: np.var(x, axis=0, correction=1), numpy=("var",))
spec("all_where", lambda m, w: fnp.all(m, axis=1, where=w), [MASK(S), MASK(S)],
     ("select", "reduce_min"), lambda m, w: np.all(m, axis=1, where=w), numpy=("all",),
     order=0)
spec("any_where", lambda x, w: fnp.any(x > 0, axis=0, where=w), [U(S), MASK(S)],
     ("select", "reduce_max"), lambda x, w: np.any(x > 0, axis=0, where=w), numpy=("any",),
     order=0)

# == weighted averages, covariance ============================================================

spec("average_weights", lambda x, w: fnp.average(x, axis=1, weights=w), [U((2, 4, 3)), POS((4,))],
     ("mul", "reduce_sum", "div"), lambda x, w: np.average(x, axis=1, weights=w),
     numpy=("average",), dtypes=F32_64)
spec("average_returned", lambda x, w: fnp.average(x, weights=w, returned=True),
     [U(S), POS(S)], ("mul", "reduce_sum", "div"),
     lambda x, w: np.average(x, weights=w, returned=True), numpy=("average",))
spec("cov", fnp.cov, [U((3, 6))], ("dot_general", "sub"), np.cov, numpy=("cov",))
spec("cov_rowvar_bias", lambda m: fnp.cov(m, rowvar=False, bias=True), [U((6, 2))],
     ("dot_general",), lambda m: np.cov(m, rowvar=False, bias=True), numpy=("cov",))
spec("cov_y", lambda x, y: fnp.cov(x, y), [U((5,)), U((5,))], ("dot_general", "concatenate"),
     lambda x, y: np.cov(x, y), numpy=("cov",))
_FW = np.array([1, 2, 1, 3, 1, 2])
spec("cov_weights", lambda m, aw: fnp.cov(m, fweights=_FW, aweights=aw), [U((3, 6)), POS((6,))],
     ("dot_general", "mul", "div"), lambda m, aw: np.cov(m, fweights=_FW, aweights=aw),
     numpy=("cov",))
spec("cov_aweights_ddof0", lambda m, aw: fnp.cov(m, aweights=aw, ddof=0),
     [U((2, 5)), POS((5,))], ("dot_general",), lambda m, aw: np.cov(m, aweights=aw, ddof=0),
     numpy=("cov",))
spec("corrcoef", fnp.corrcoef, [U((3, 6))], ("dot_general", "sqrt", "max", "min"),
     np.corrcoef, numpy=("corrcoef",))

# == counting =================================================================================

spec("bincount_weights_length",
     lambda x, w: fnp.bincount(x, weights=w, length=5), [INTS((7,), 0, 7), U((7,))],
     ("scatter_add", "slice"), lambda x, w: np.bincount(x, w, minlength=7)[:5],
     numpy=("bincount",))
spec("bincount_length", lambda x: fnp.bincount(x, length=6), [INTS((9,), 0, 6)],
     ("scatter_add",), lambda x: np.bincount(x, minlength=6), numpy=("bincount",), order=0)
spec("histogram_weights_range",
     lambda a, w: fnp.histogram(a, bins=4, range=(-2.0, 2.0), weights=w), [U((3, 5)), U((3, 5))],
     ("ge", "le", "gather", "scatter_add"),
     lambda a, w: np.histogram(a, bins=4, range=(-2.0, 2.0), weights=w),
     numpy=("histogram",), dtypes=F32_64)
spec("histogram_density", lambda a: fnp.histogram(a, bins=3, density=True), [U((8,))],
     ("reduce_max", "reduce_min", "div"), lambda a: np.histogram(a, bins=3, density=True),
     numpy=("histogram",))
_EDGES = np.array([-2.0, -0.5, 0.0, 1.0, 2.0])
spec("histogram_edges_counts", lambda a: fnp.histogram(a, bins=_EDGES)[0], [U((10,))],
     ("lt", "le", "scatter_add"), lambda a: np.histogram(a, bins=_EDGES)[0],
     numpy=("histogram",), order=0)
spec("histogram_bin_edges", lambda a: fnp.histogram_bin_edges(a, bins=5), [U((6,))],
     ("reduce_max", "reduce_min"), lambda a: np.histogram_bin_edges(a, bins=5),
     numpy=("histogram_bin_edges",), dtypes=F32_64)

# == cumulative functions =====================================================================

spec("cumulative_sum_initial", lambda x: fnp.cumulative_sum(x, axis=1, include_initial=True),
     [U(S)], ("cumsum",), lambda x: np.cumulative_sum(x, axis=1, include_initial=True),
     numpy=("cumulative_sum",), dtypes=F32_64)
spec("cumulative_prod_initial", lambda x: fnp.cumulative_prod(x, axis=0, include_initial=True),
     [U(S)], ("reduce_prod",), lambda x: np.cumulative_prod(x, axis=0, include_initial=True),
     numpy=("cumulative_prod",))

# == convolution and correlation ==============================================================

for _mode in ("full", "same", "valid"):
    for _n, _m in ((6, 3), (3, 6), (4, 4)):
        spec(f"convolve_{_mode}_{_n}x{_m}",
             lambda a, v, mode=_mode: fnp.convolve(a, v, mode), [U((_n,)), U((_m,))],
             ("gather", "dot_general"), lambda a, v, mode=_mode: np.convolve(a, v, mode),
             numpy=("convolve",), dtypes=F32_64 if _n == 6 else (np.float64,))
        spec(f"correlate_{_mode}_{_n}x{_m}",
             lambda a, v, mode=_mode: fnp.correlate(a, v, mode), [U((_n,)), U((_m,))],
             ("gather", "dot_general", "rev"),
             lambda a, v, mode=_mode: np.correlate(a, v, mode), numpy=("correlate",))

# == polynomials, integration, interpolation, differences =====================================

spec("polyval", fnp.polyval, [U((4,)), U((2, 3))], ("mul", "add"), np.polyval,
     numpy=("polyval",), dtypes=F32_64)
spec("trapezoid_x", lambda y, x: fnp.trapezoid(y, x), [U((3, 5)), SORTED(5, 0.0, 3.0)],
     ("sub", "reduce_sum"), np.trapezoid, numpy=("trapezoid",), dtypes=F32_64)
spec("trapezoid_dx_axis0", lambda y, dx: fnp.trapezoid(y, dx=dx, axis=0), [U((4, 3)), POS(())],
     ("mul", "reduce_sum"), lambda y, dx: np.trapezoid(y, dx=dx, axis=0),
     numpy=("trapezoid",))
spec("interp", fnp.interp, [U((2, 3), 0.05, 3.95), SORTED(6, 0.0, 4.0), U((6,))],
     ("le", "gather", "select"), np.interp, numpy=("interp",))
spec("interp_left_right", lambda x, xp, fp: fnp.interp(x, xp, fp, left=-3.0, right=5.0),
     [U((7,), -1.0, 5.0), SORTED(5, 0.0, 4.0), U((5,))], ("gather", "select"),
     lambda x, xp, fp: np.interp(x, xp, fp, left=-3.0, right=5.0), numpy=("interp",))
spec("interp_period", lambda x, xp, fp: fnp.interp(x, xp, fp, period=4.0),
     [U((5,), -3.0, 7.0), U((5,), 0.1, 3.9), U((5,))], ("rem", "gather", "concatenate"),
     lambda x, xp, fp: np.interp(x, xp, fp, period=4.0), numpy=("interp",))
spec("gradient_coords", lambda f, c: fnp.gradient(f, c, 0.5),
     [U((4, 5)), SORTED(4, 0.0, 2.0)], ("sub", "div", "concatenate"),
     lambda f, c: np.gradient(f, c, 0.5), numpy=("gradient",), dtypes=F32_64)
spec("gradient_edge2_axis", lambda f, c: fnp.gradient(f, c, axis=1, edge_order=2),
     [U((3, 5)), SORTED(5, 0.0, 2.0)], ("sub", "div", "concatenate"),
     lambda f, c: np.gradient(f, c, axis=1, edge_order=2), numpy=("gradient",))
spec("gradient_uniform_edge2", lambda f: fnp.gradient(f, 0.25, edge_order=2), [U((6,))],
     ("sub", "div"), lambda f: np.gradient(f, 0.25, edge_order=2), numpy=("gradient",),
     dtypes=F32_64)
spec("diff_n2_prepend", lambda x, p: fnp.diff(x, n=2, axis=0, prepend=p),
     [U((4, 3)), U((1, 3))], ("sub", "concatenate"),
     lambda x, p: np.diff(x, n=2, axis=0, prepend=p), numpy=("diff",), dtypes=F32_64)
spec("diff_append_scalar", lambda x: fnp.diff(x, append=0.0), [U(S)], ("sub",),
     lambda x: np.diff(x, append=0.0), numpy=("diff",))
spec("ediff1d", lambda x, b: fnp.ediff1d(x, to_begin=b, to_end=np.array([1.0, 2.0])),
     [U(S), U((2,))], ("sub", "concatenate"),
     lambda x, b: np.ediff1d(x, to_begin=b, to_end=np.array([1.0, 2.0])), numpy=("ediff1d",))
spec("polyfit", lambda x, y: fnp.polyfit(x, y, 2), [SORTED(7, -1.0, 2.0), U((7,))],
     ("solve", "dot_general"), lambda x, y: np.polyfit(x, y, 2), numpy=("polyfit",))
spec("polyfit_weights_cov", lambda x, y, w: fnp.polyfit(x, y, 1, w=w, cov=True),
     [SORTED(6, 0.0, 3.0), U((6, 2)), POS((6,))], ("solve", "mul"),
     lambda x, y, w: np.polyfit(x, y, 1, w=w, cov=True), numpy=("polyfit",))
spec("interp_binary_search", fnp.interp, [U((2, 3), 0.05, 3.95), SORTED(40, 0.0, 4.0), U((40,))],
     ("le", "gather", "select", "div"), np.interp, numpy=("interp",))
