"""Op specs for control flow (``cond``, ``while``, ``scan`` and their public wrappers) and for
linear algebra (``solve``, ``slogdet``, ``cholesky`` and ``fnp.linalg``).

Notes for the harness:

- A ``cond`` with a concrete predicate is a Python ``if``; the ``*_staged`` specs run the
  staged program through ``eval_jaxpr``, so the ``cond`` primitive and its JVP/VJP/batching
  rules are what ``check_grads`` and ``vmap`` exercise.
- ``while`` is differentiable in forward mode only (as JAX), which the table cannot express:
  its specs have ``grad_order=0`` and no differentiable argument; ``test_control_flow.py``
  checks its forward-mode derivatives and the reverse-mode error.
- Matrices are well conditioned (a dominant diagonal) and Cholesky inputs are SPD.
- ``extra["numpy"]`` names the public ``fg.numpy`` functions covered (``linalg.<name>``) and
  ``extra["lax"]`` the public ``fg.lax`` functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec, staged

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax

SPECS: list[OpSpec] = []
F32_64 = (np.float64, np.float32)


def spec(name: str, fn: Callable[..., Any], make: Callable[[np.random.Generator], tuple],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None, order: int = 2,
         diff: tuple[int, ...] | None = None, tol: float | None = None,
         numpy: tuple[str, ...] = (), lax_names: tuple[str, ...] = (),
         dtypes: tuple[Any, ...] = (np.float64,)) -> None:
    shapes = tuple(np.shape(a) for a in make(np.random.default_rng(0)))
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=shapes, primitives=prims, tol=tol,
                        dtypes=dtypes,
                        grad_order=order, diff_argnums=diff, make_args=make, reference=ref,
                        extra={"numpy": numpy, "lax": lax_names}))


def sign(rng: np.random.Generator) -> np.ndarray:
    return np.array(rng.choice([-1.0, 1.0]))


def well_conditioned(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random matrices ``(..., n, n)`` with a dominant diagonal (condition number ~ 3)."""
    n = shape[-1]
    return rng.uniform(-1, 1, shape) + n * np.eye(n)


def spd(rng: np.random.Generator, *shape: int) -> np.ndarray:
    m = rng.uniform(-1, 1, shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])


# == cond / switch ============================================================================

def _two_way(p: Any, x: Any) -> Any:
    return lax.cond(p > 0, lambda x: fnp.sin(x) * x, lambda x: fnp.cos(x) + x ** 2, x)


def _two_way_ref(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.sin(x) * x if p > 0 else np.cos(x) + x ** 2


_BRANCHES = [lambda x: x * 2.0 + 1.0, lambda x: fnp.sin(x) * x, lambda x: fnp.exp(-x * x)]


def _three_way(i: Any, x: Any) -> Any:
    return lax.switch(i, _BRANCHES, x)


def _three_way_ref(i: np.ndarray, x: np.ndarray) -> np.ndarray:
    return [x * 2.0 + 1.0, np.sin(x) * x, np.exp(-x * x)][int(np.clip(i, 0, 2))]


def _cond_args(rng: np.random.Generator) -> tuple:
    return sign(rng), rng.uniform(-2, 2, (2, 3))


def _switch_args(rng: np.random.Generator) -> tuple:
    return np.array(rng.integers(-1, 4)), rng.uniform(-2, 2, (2, 3))


spec("cond", _two_way, _cond_args, ("cond",), _two_way_ref, diff=(1,), lax_names=("cond",),
     dtypes=F32_64)
spec("cond_staged", staged(_two_way), _cond_args, ("cond",), _two_way_ref, diff=(1,))
spec("switch", _three_way, _switch_args, ("cond",), _three_way_ref, diff=(1,),
     lax_names=("switch",))
spec("switch_staged", staged(_three_way), _switch_args, ("cond",), _three_way_ref, diff=(1,))


def _cond_pytree(p: Any, x: Any, y: Any) -> Any:
    return lax.cond(p < 0, lambda a, b: {"s": a * b[0], "t": (b, a)},
                    lambda a, b: {"s": a + b[1], "t": (b * 2.0, fnp.tanh(a))}, x, y)


def _cond_pytree_ref(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> Any:
    if p < 0:
        return {"s": x * y[0], "t": (y, x)}
    return {"s": x + y[1], "t": (y * 2.0, np.tanh(x))}


spec("cond_pytree_staged", staged(_cond_pytree),
     lambda r: (sign(r), r.uniform(-2, 2, (3,)), r.uniform(-2, 2, (2,))), ("cond",),
     _cond_pytree_ref, diff=(1, 2))


# == while / fori_loop ========================================================================

def _count_up(n: Any, x: Any) -> Any:
    return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + fnp.sin(x)),
                          (0, x))


def _count_up_ref(n: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, v = 0, x
    while i < n:
        i, v = i + 1, v * 0.5 + np.sin(x)
    return np.asarray(i), v


_WHILE_ARGS = lambda r: (np.array(r.integers(0, 4)), r.uniform(-2, 2, (3,)))  # noqa: E731
spec("while_loop", _count_up, _WHILE_ARGS, ("while",), _count_up_ref, order=0, diff=(),
     lax_names=("while_loop",))


def _fori_dynamic(n: Any, x: Any) -> Any:
    return lax.fori_loop(0, n, lambda i, v: v * x + i, x)


def _fori_dynamic_ref(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    v = x
    for i in range(int(n)):
        v = v * x + i
    return v


spec("fori_loop_dynamic", _fori_dynamic, _WHILE_ARGS, ("while",), _fori_dynamic_ref, order=0,
     diff=())


def _fori(x: Any) -> Any:
    return lax.fori_loop(0, 3, lambda i, v: fnp.sin(v) * x + i, x)


def _fori_ref(x: np.ndarray) -> np.ndarray:
    v = x
    for i in range(3):
        v = np.sin(v) * x + i
    return v


spec("fori_loop", _fori, lambda r: (r.uniform(-1.5, 1.5, (2, 3)),), ("scan",), _fori_ref,
     lax_names=("fori_loop",))


# == scan / map ===============================================================================

def _rnn(w: Any, h0: Any, xs: Any) -> Any:
    return lax.scan(lambda h, x: (fnp.tanh(w @ h + x), fnp.sum(h * x)), h0, xs)


def _rnn_ref(w: np.ndarray, h0: np.ndarray, xs: np.ndarray) -> Any:
    h, ys = h0, []
    for x in xs:
        ys.append(np.sum(h * x))
        h = np.tanh(w @ h + x)
    return h, np.array(ys)


spec("scan", _rnn,
     lambda r: (r.uniform(-0.7, 0.7, (3, 3)), r.uniform(-1, 1, (3,)), r.uniform(-1, 1, (4, 3))),
     ("scan",), _rnn_ref, lax_names=("scan",), dtypes=F32_64)


def _scan_tree(a: Any, xs: Any) -> Any:
    def step(c: Any, x: Any) -> Any:
        u, v = c
        return (u * fnp.cos(x) + v, v * 0.5), {"p": u * v}
    return lax.scan(step, (a, a * 2.0), xs, reverse=True)


def _scan_tree_ref(a: np.ndarray, xs: np.ndarray) -> Any:
    u, v, ps = a, a * 2.0, [None] * len(xs)
    for i in reversed(range(len(xs))):
        ps[i] = u * v
        u, v = u * np.cos(xs[i]) + v, v * 0.5
    return (u, v), {"p": np.stack(ps)}


spec("scan_reverse_pytree", _scan_tree,
     lambda r: (r.uniform(-1, 1, (2,)), r.uniform(-2, 2, (5, 2))), ("scan",), _scan_tree_ref)
spec("scan_staged", staged(_rnn),
     lambda r: (r.uniform(-0.7, 0.7, (2, 2)), r.uniform(-1, 1, (2,)), r.uniform(-1, 1, (3, 2))),
     ("scan",), _rnn_ref)
spec("map", lambda xs: lax.map(lambda x: fnp.sum(fnp.sin(x) * x), xs),
     lambda r: (r.uniform(-2, 2, (4, 3)),), ("scan",), lambda xs: np.sum(np.sin(xs) * xs, 1),
     lax_names=("map",))


# == linear algebra ===========================================================================

spec("linalg.solve", fnp.linalg.solve,
     lambda r: (well_conditioned(r, 3, 3), r.uniform(-2, 2, (3,))), ("solve",),
     np.linalg.solve, numpy=("linalg.solve",))
spec("linalg.solve_batched", fnp.linalg.solve,
     lambda r: (well_conditioned(r, 2, 3, 3), r.uniform(-2, 2, (2, 3, 2))), ("solve",),
     np.linalg.solve, numpy=("linalg.solve",), dtypes=F32_64)
spec("linalg.inv", fnp.linalg.inv, lambda r: (well_conditioned(r, 2, 3, 3),), ("solve",),
     np.linalg.inv, numpy=("linalg.inv",), dtypes=F32_64)
spec("linalg.det", fnp.linalg.det, lambda r: (well_conditioned(r, 3, 3),), ("slogdet", "exp"),
     np.linalg.det, numpy=("linalg.det",))
spec("linalg.slogdet", fnp.linalg.slogdet, lambda r: (well_conditioned(r, 2, 3, 3),),
     ("slogdet",), lambda a: tuple(np.linalg.slogdet(a)), numpy=("linalg.slogdet",),
     dtypes=F32_64)
spec("linalg.cholesky", fnp.linalg.cholesky, lambda r: (spd(r, 3, 3),), ("cholesky",),
     np.linalg.cholesky, numpy=("linalg.cholesky",), dtypes=F32_64)
spec("lax.linalg.cholesky_lower_triangle",
     lambda a: fg.lax.linalg.cholesky(a, symmetrize_input=False),
     lambda r: (spd(r, 2, 3, 3),), ("cholesky",), np.linalg.cholesky)
spec("linalg.norm", lambda x: fnp.linalg.norm(x) + fnp.linalg.norm(x, axis=1),
     lambda r: (r.uniform(-2, 2, (2, 3)),), ("sqrt", "reduce_sum"),
     lambda x: np.linalg.norm(x) + np.linalg.norm(x, axis=1), numpy=("linalg.norm",))


# -- custom rules and checkpoint, which stage as call equations -------------------------------

@fg.custom_jvp
def _softplus(x: Any) -> Any:
    return fnp.log1p(fnp.exp(x))


@_softplus.defjvp
def _softplus_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return _softplus(x), t / (1.0 + fnp.exp(-x))


_remat_body = fg.checkpoint(lambda x: fnp.sin(x) * x)
spec("custom_jvp_call", _softplus, lambda r: (r.normal(size=(3,)),), ("custom_jvp_call",),
     lambda x: np.log1p(np.exp(x)))
spec("checkpoint_custom_vjp_call", _remat_body, lambda r: (r.normal(size=(3,)),),
     ("custom_vjp_call",), lambda x: np.sin(x) * x)
spec("checkpoint_name", lambda x: fg.ad_checkpoint.checkpoint_name(fnp.sin(x), "h"),
     lambda r: (r.normal(size=(3,)),), ("name",), np.sin)


# -- jit: a call equation holding the staged program ------------------------------------------

@fg.jit
def _jitted_layer(x: Any, w: Any) -> Any:
    return fnp.tanh(x @ w) * 2.0 + fnp.sum(w)


_jitted_branchy = fg.jit(lambda x: fg.lax.cond(fnp.sum(x) > 0, fnp.sin, fnp.cos, x) * x)
spec("jit", _jitted_layer, lambda r: (r.normal(size=(2, 3)), r.normal(size=(3, 4))),
     ("jit", "dot_general", "tanh"), lambda x, w: np.tanh(x @ w) * 2.0 + np.sum(w),
     dtypes=F32_64)
spec("jit_of_cond", lambda x: fg.jit(lambda y: _jitted_branchy(y) + 1.0)(x),
     lambda r: (r.normal(size=(3,)),), ("jit", "cond"),
     lambda x: (np.sin(x) if x.sum() > 0 else np.cos(x)) * x + 1.0)
