"""Op specs for the JAX surface outside ``jax.numpy``: ``pure_callback`` (one spec per
``vmap_method``; not differentiable, as JAX) and the ``fg.lax`` composites of
``tests/test_lax_surface.py`` (dynamic slicing, ``rsqrt``/``cbrt``/``clamp``/``select_n``,
cumulative reductions, ``reduce``, ``associative_scan``, ``map(batch_size=)``,
``custom_root``/``custom_linear_solve``). ``extra["lax"]`` names the ``fg.lax`` functions a
spec covers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad as fg

SPECS: list[OpSpec] = []


def spec(name: str, fn: Callable[..., Any], make: Callable[[np.random.Generator], tuple],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None, order: int = 2,
         diff: tuple[int, ...] | None = None, tol: float | None = None,
         lax_names: tuple[str, ...] = (), **extra: Any) -> None:
    shapes = tuple(np.shape(a) for a in make(np.random.default_rng(0)))
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=shapes, primitives=prims, tol=tol,
                        grad_order=order, diff_argnums=diff, make_args=make, reference=ref,
                        extra={"lax": lax_names, **extra}))


# == pure_callback ============================================================================

def _callback_fn(method: str) -> Callable[..., Any]:
    def f(x: Any, y: Any) -> Any:
        return fg.pure_callback(lambda a, b: np.sin(a) * b + 1.0,
                                fg.ShapeDtypeStruct(x.shape, x.dtype), x, y,
                                vmap_method=method)
    f.__name__ = f"pure_callback_{method}"
    return f


for _method in ("sequential", "expand_dims", "broadcast_all"):
    spec(f"pure_callback_{_method}", _callback_fn(_method),
         lambda rng: (rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))),
         ("pure_callback",), lambda a, b: np.sin(a) * b + 1.0, order=0, diff=())


# == fg.lax composites ========================================================================
# The composites add no primitive: these specs put them through the table's forward,
# check_grads (order 2), adjoint, vmap, staged and jit tests. Integer start indices are
# arguments, so vmap batches them too (each example its own clamped start).

import funcgrad.numpy as fnp  # noqa: E402
from funcgrad import lax  # noqa: E402


def _ds_ref(x: np.ndarray, i: Any, j: Any) -> np.ndarray:
    i, j = int(np.clip(i + 4 if i < 0 else i, 0, 2)), int(np.clip(j + 5 if j < 0 else j, 0, 2))
    return x[i:i + 2, j:j + 3]


def _dus_ref(x: np.ndarray, u: np.ndarray, i: Any) -> np.ndarray:
    out = x.copy()
    i = int(np.clip(i + 4 if i < 0 else i, 0, 2))
    out[i:i + 2, 1:4] = u
    return out


spec("dynamic_slice", lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
     lambda rng: (rng.uniform(-2, 2, (4, 5)), np.array(3), np.array(-2)), ("gather",),
     _ds_ref, diff=(0,), lax_names=("dynamic_slice",))
spec("dynamic_slice_array_starts", lambda x, s: lax.dynamic_slice(x, s, (2, 3)),
     lambda rng: (rng.uniform(-2, 2, (4, 5)), np.array([1, 9])), ("gather",),
     lambda x, s: x[1:3, 2:5], diff=(0,), lax_names=("dynamic_slice",))
spec("dynamic_update_slice", lambda x, u, i: lax.dynamic_update_slice(x, u, (i, 1)),
     lambda rng: (rng.uniform(-2, 2, (4, 5)), rng.uniform(-2, 2, (2, 3)), np.array(-1)),
     ("scatter",), _dus_ref, diff=(0, 1), lax_names=("dynamic_update_slice",))
spec("dynamic_slice_in_dim", lambda x, i: lax.dynamic_slice_in_dim(x, i, 2, axis=1),
     lambda rng: (rng.uniform(-2, 2, (3, 5)), np.array(1)), ("gather",),
     lambda x, i: x[:, 1:3], diff=(0,), lax_names=("dynamic_slice_in_dim",))
spec("dynamic_index_in_dim", lambda x, i: lax.dynamic_index_in_dim(x, i, 1, keepdims=False),
     lambda rng: (rng.uniform(-2, 2, (3, 5)), np.array(-2)), ("gather",),
     lambda x, i: x[:, 3], diff=(0,), lax_names=("dynamic_index_in_dim",))
spec("dynamic_update_index_in_dim",
     lambda x, u, i: lax.dynamic_update_index_in_dim(x, u, i, 0),
     lambda rng: (rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,)), np.array(2)),
     ("scatter",), lambda x, u, i: np.concatenate([x[:2], u[None]]), diff=(0, 1),
     lax_names=("dynamic_update_index_in_dim", "dynamic_update_slice_in_dim"))
spec("rsqrt", lax.rsqrt, lambda rng: (rng.uniform(0.5, 3, (2, 3)),), ("sqrt", "div"),
     lambda x: 1 / np.sqrt(x), lax_names=("rsqrt",))
spec("cbrt", lax.cbrt,
     lambda rng: (rng.uniform(0.5, 3, (2, 3)) * rng.choice([-1.0, 1.0], (2, 3)),), ("pow",),
     np.cbrt, lax_names=("cbrt",))
spec("clamp", lambda lo, x, hi: lax.clamp(lo, x, hi),
     lambda rng: (rng.uniform(-1.5, -0.5, (2, 3)), rng.uniform(-2, 2, (2, 3)),
                  rng.uniform(0.5, 1.5, (2, 3))), ("max", "min"), np.clip,
     lax_names=("clamp",))
spec("clamp_scalar_bounds", lambda x: lax.clamp(-0.5, x, 1.0),
     lambda rng: (rng.uniform(-2, 2, (2, 3)),), ("max", "min"),
     lambda x: np.clip(x, -0.5, 1.0), lax_names=("clamp",))
spec("select_n", lambda w, a, b, c: lax.select_n(w, a, b, c),
     lambda rng: (rng.integers(0, 3, (2, 3)), rng.uniform(-2, 2, (2, 3)),
                  rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))), ("select",),
     lambda w, a, b, c: np.choose(w, [a, b, c]), diff=(1, 2, 3), lax_names=("select_n",))
spec("select_n_bool", lambda w, a, b: lax.select_n(w, a, b),
     lambda rng: (rng.uniform(size=(2, 3)) > 0.5, rng.uniform(-2, 2, (2, 3)),
                  rng.uniform(-2, 2, (2, 3))), ("select",),
     lambda w, a, b: np.where(w, b, a), diff=(1, 2), lax_names=("select_n",))


def _cum_ref(ufunc: Any, reverse: bool) -> Callable[..., Any]:
    def ref(x: np.ndarray) -> np.ndarray:
        y = np.flip(x, 1) if reverse else x
        out = ufunc.accumulate(y, axis=1)
        return np.flip(out, 1) if reverse else out
    return ref


for _name, _ufunc in (("cumprod", np.multiply), ("cummax", np.maximum),
                      ("cummin", np.minimum), ("cumlogsumexp", np.logaddexp)):
    for _rev in (False, True):
        spec(f"lax_{_name}{'_reverse' if _rev else ''}",
             (lambda f, r: lambda x: f(x, axis=1, reverse=r))(getattr(lax, _name), _rev),
             lambda rng: (rng.uniform(0.5, 2, (2, 5)) * rng.choice([-1.0, 1.0], (2, 5)),),
             ("pad", "slice", "concatenate"), _cum_ref(_ufunc, _rev), lax_names=(_name,))


def _linear_recurrence(x: Any, a: Any) -> Any:
    # h_t = a_t h_{t-1} + x_t as an associative scan over (a, x) pairs.
    def combine(p: Any, q: Any) -> Any:
        return {"a": p["a"] * q["a"], "x": q["a"] * p["x"] + q["x"]}
    return lax.associative_scan(combine, {"a": a, "x": x}, axis=1)["x"]


def _linear_recurrence_ref(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    h, out = np.zeros(x.shape[0]), []
    for t in range(x.shape[1]):
        h = a[:, t] * h + x[:, t]
        out.append(h)
    return np.stack(out, 1)


spec("associative_scan_pytree", _linear_recurrence,
     lambda rng: (rng.uniform(-2, 2, (2, 7)), rng.uniform(-1, 1, (2, 7))),
     ("mul", "add", "pad"), _linear_recurrence_ref, lax_names=("associative_scan",))
spec("associative_scan_reverse",
     lambda x: lax.associative_scan(lambda a, b: a + b * 0.5, x, reverse=True),
     lambda rng: (rng.uniform(-2, 2, (6, 2)),), ("mul", "add"),
     None, lax_names=("associative_scan",))
spec("reduce_add", lambda x: lax.reduce(x, 0.0, lax.add, (0, 2)),
     lambda rng: (rng.uniform(-2, 2, (2, 3, 4)),), ("reduce_sum",),
     lambda x: x.sum((0, 2)), lax_names=("reduce",))
spec("reduce_max_min_tree",
     lambda x, y: lax.reduce((x, y), (-np.inf, 2.0), lambda a, b: (lax.max(a[0], b[0]),
                                                                      lax.min(a[1], b[1])),
                             (1,)),
     lambda rng: (rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))),
     ("reduce_max", "reduce_min"), lambda x, y: (x.max(1), np.minimum(y.min(1), 2.0)),
     lax_names=("reduce",))
spec("map_batch_size", lambda x: lax.map(lambda r: fnp.sin(r) * r.sum(), x, batch_size=2),
     lambda rng: (rng.uniform(-2, 2, (5, 3)),), ("scan",),
     lambda x: np.sin(x) * x.sum(1, keepdims=True), lax_names=("map",))


def _newton_sqrt(a: Any) -> Any:
    def solve(f: Any, x: Any) -> Any:
        return lax.fori_loop(0, 40, lambda i, x: x - f(x) / (2.0 * x + 1e-300), x)
    return lax.custom_root(lambda x: x * x - a, fnp.ones_like(a), solve,
                           lambda g, y: y / g(fnp.ones_like(y)))


spec("custom_root", _newton_sqrt, lambda rng: (rng.uniform(0.5, 3, (3,)),),
     ("custom_jvp_call",),
     np.sqrt, lax_names=("custom_root",), tol=1e-5)


def _spd_solve(m: Any, b: Any) -> Any:
    a = fnp.dot(m, m.T) + 3.0 * fnp.eye(3)
    return lax.custom_linear_solve(lambda x: fnp.dot(a, x), b,
                                   lambda mv, r: fnp.linalg.solve(a, r), symmetric=True)


def _spd_solve_ref(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.solve(m @ m.T + 3 * np.eye(3), b)


spec("custom_linear_solve", _spd_solve,
     lambda rng: (rng.uniform(-1, 1, (3, 3)), rng.uniform(-2, 2, (3,))),
     ("custom_jvp_call", "solve"),
     _spd_solve_ref, lax_names=("custom_linear_solve",))
