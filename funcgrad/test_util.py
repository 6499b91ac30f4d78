"""``check_grads``: compare funcgrad's derivatives with central finite differences.

As ``jax.test_util.check_grads``: in a random direction, forward mode (``jvp``) and reverse
mode (``vjp``), recursively to ``order``. A failure raises ``AssertionError`` with a report
naming the mode, the order and the argument.

>>> import funcgrad.numpy as fnp, numpy as np
>>> check_grads(fnp.sin, (np.array([0.5, 1.0]),), order=2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad.core import pytree
from funcgrad.transforms.api import jvp, vjp

_DEFAULT_EPS: dict[Any, float] = {np.dtype(np.float32): 3e-3, np.dtype(np.float64): 1e-5,
                np.dtype(np.float16): 3e-2}
_DEFAULT_TOL: dict[Any, float] = {np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-5,
                np.dtype(np.float16): 1e-1}


def _tol(leaves: Sequence[Any], table: dict[Any, float], given: float | None) -> float:
    if given is not None:
        return given
    dtypes = [np.asarray(x).dtype for x in leaves if np.asarray(x).dtype.kind in "fc"]
    return max((table.get(np.dtype(d), 1e-5) for d in dtypes), default=1e-5)


def _tolerances(leaves: Sequence[Any], atol: float | None, rtol: float | None,
                eps: float | None) -> tuple[float, float, float]:
    """``(eps, atol, rtol)``: the given ones, else defaults for the leaves' least precise dtype
    (``rtol`` defaults to ``atol``)."""
    eps = _tol(leaves, _DEFAULT_EPS, eps)
    atol = _tol(leaves, _DEFAULT_TOL, atol)
    return eps, atol, atol if rtol is None else rtol


def _random_like(x: Any, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x)
    return rng.standard_normal(x.shape).astype(x.dtype)


def _vdot(a: Sequence[Any], b: Sequence[Any]) -> float:
    return float(sum(np.vdot(np.asarray(x, np.float64), np.asarray(y, np.float64))
                     for x, y in zip(a, b, strict=True)))


def _add(xs: Sequence[Any], ts: Sequence[Any], scale: float) -> list[Any]:
    return [np.asarray(x + scale * t, dtype=np.asarray(x).dtype) for x, t in zip(xs, ts,
                                                                                 strict=True)]


def _check_close(name: str, got: Any, want: Any, atol: float, rtol: float) -> None:
    got_l = [np.asarray(g, np.float64) for g in pytree.tree_leaves(got)]
    want_l = [np.asarray(w, np.float64) for w in pytree.tree_leaves(want)]
    for i, (g, w) in enumerate(zip(got_l, want_l, strict=True)):
        if g.shape != w.shape or not np.allclose(g, w, atol=atol, rtol=rtol):
            err = np.max(np.abs(g - w)) if g.shape == w.shape else float("nan")
            raise AssertionError(
                f"{name}: output leaf {i} differs from finite differences "
                f"(max abs error {err:.3g}, atol={atol:.3g}, rtol={rtol:.3g})\n"
                f"  transform:          {np.array2string(g, precision=6, threshold=20)}\n"
                f"  finite differences: {np.array2string(w, precision=6, threshold=20)}")


def check_jvp(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
              rtol: float | None = None, eps: float | None = None,
              rng: np.random.Generator | None = None, name: str = "jvp") -> None:
    """``jvp(f)`` in a random direction against a central difference."""
    rng = rng or np.random.default_rng(0)
    leaves, tree = pytree.tree_flatten(tuple(args))
    eps, atol, rtol = _tolerances(leaves, atol, rtol, eps)
    tangent = [_random_like(x, rng) for x in leaves]
    _, t_out = jvp(f, tuple(pytree.tree_unflatten(tree, leaves)),
                   tuple(pytree.tree_unflatten(tree, tangent)))
    plus = f(*pytree.tree_unflatten(tree, _add(leaves, tangent, eps)))
    minus = f(*pytree.tree_unflatten(tree, _add(leaves, tangent, -eps)))
    fd = pytree.tree_map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64))
                         / (2 * eps), plus, minus)
    _check_close(name, t_out, fd, atol, rtol)


def check_vjp(f: Callable[..., Any], args: Sequence[Any], atol: float | None = None,
              rtol: float | None = None, eps: float | None = None,
              rng: np.random.Generator | None = None, name: str = "vjp") -> None:
    """``<vjp(f)(u), v>`` against ``<u, (f(x + eps v) - f(x - eps v)) / 2 eps>``."""
    rng = rng or np.random.default_rng(1)
    leaves, tree = pytree.tree_flatten(tuple(args))
    eps, atol, rtol = _tolerances(leaves, atol, rtol, eps)
    out, f_vjp = vjp(f, *pytree.tree_unflatten(tree, leaves))
    out_leaves, out_tree = pytree.tree_flatten(out)
    ct = [_random_like(o, rng) for o in out_leaves]
    in_cts = pytree.tree_leaves(f_vjp(pytree.tree_unflatten(out_tree, ct)))
    for k in range(len(leaves)):
        direction = [_random_like(x, rng) if i == k else np.zeros_like(np.asarray(x))
                     for i, x in enumerate(leaves)]
        plus = pytree.tree_leaves(f(*pytree.tree_unflatten(tree, _add(leaves, direction, eps))))
        minus = pytree.tree_leaves(f(*pytree.tree_unflatten(tree, _add(leaves, direction,
                                                                      -eps))))
        fd = [(np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps)
              for p, m in zip(plus, minus, strict=True)]
        want = _vdot(ct, fd)
        got = _vdot([in_cts[k]], [direction[k]])
        scale = max(1.0, abs(want))
        if not abs(got - want) <= atol * scale + rtol * abs(want):
            raise AssertionError(
                f"{name}: cotangent of argument leaf {k} disagrees with finite differences: "
                f"<vjp(u), v> = {got:.10g} but <u, J v> = {want:.10g} "
                f"(difference {abs(got - want):.3g}, atol={atol:.3g})")


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 1,
                modes: Sequence[str] = ("fwd", "rev"), atol: float | None = None,
                rtol: float | None = None, eps: float | None = None) -> None:
    """Check ``f``'s derivatives up to ``order`` in forward and/or reverse mode."""
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {mode!r} (use 'fwd' and/or 'rev')")
    rng = np.random.default_rng(0)
    args = tuple(args)

    def rec(fun: Callable[..., Any], order_left: int, label: str) -> None:
        if "fwd" in modes:
            check_jvp(fun, args, atol, rtol, eps, rng, name=f"{label}jvp")
            if order_left > 1:
                leaves, tree = pytree.tree_flatten(args)
                tangent = pytree.tree_unflatten(tree, [_random_like(x, rng) for x in leaves])

                def f_jvp(*xs: Any, fun: Callable[..., Any] = fun, t: Any = tangent) -> Any:
                    return jvp(fun, xs, tuple(t))[1]
                rec(f_jvp, order_left - 1, f"{label}jvp of ")
        if "rev" in modes:
            check_vjp(fun, args, atol, rtol, eps, rng, name=f"{label}vjp")
            if order_left > 1:
                out = fun(*args)
                out_leaves, out_tree = pytree.tree_flatten(out)
                ct = pytree.tree_unflatten(out_tree, [_random_like(o, rng) for o in out_leaves])

                def f_vjp(*xs: Any, fun: Callable[..., Any] = fun, ct: Any = ct) -> Any:
                    return vjp(fun, *xs)[1](ct)
                rec(f_vjp, order_left - 1, f"{label}vjp of ")

    rec(f, order, "")
