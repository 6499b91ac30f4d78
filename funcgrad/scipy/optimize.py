"""``fg.scipy.optimize.minimize`` with BFGS, as ``jax.scipy.optimize.minimize``.

The iteration is a ``lax.while_loop`` (so it runs eagerly, under ``vmap`` over the starting
points or the extra arguments, and staged under ``make_jaxpr``); each step takes the quasi-Newton
direction ``p = -H g``, a backtracking line search to the Armijo condition (an inner
``while_loop``, at most ``line_search_maxiter`` halvings), and the BFGS update of the inverse
Hessian ``H``, skipped when the curvature ``s.y`` is not positive (so ``H`` stays positive
definite). JAX's line search is a strong-Wolfe zoom, so iteration counts differ; the minimizer
agrees to the tolerance. Like JAX's, ``minimize`` is not differentiable (reverse mode through
a ``while_loop`` raises).

>>> import numpy as np
>>> res = minimize(lambda x: ((x - 3.0) ** 2).sum(), np.zeros(2), method="BFGS")
>>> res.x.round(6), bool(res.success)
(array([3., 3.]), True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import FuncgradValueError, ShapeError, at_user_line
from funcgrad.transforms.api import value_and_grad

Array = Any

__all__ = ["OptimizeResults", "minimize"]


class OptimizeResults(NamedTuple):
    """The result of ``minimize``, with ``jax.scipy.optimize.OptimizeResults``' fields.

    ``status``: 0 converged (``|g|_inf <= gtol``), 1 the iteration limit was reached, 3 the
    line search found no decrease.
    """

    x: Array
    success: Array
    status: Array
    fun: Array
    jac: Array
    hess_inv: Array | None
    nfev: Array
    njev: Array
    nit: Array


class _State(NamedTuple):
    k: Array
    converged: Array
    failed: Array
    x: Array
    f: Array
    g: Array
    H: Array
    nfev: Array


def minimize(fun: Callable[..., Array], x0: Array, args: tuple[Any, ...] = (), *,
             method: str, tol: float | None = None,
             options: Mapping[str, Any] | None = None) -> OptimizeResults:
    """Minimize the scalar function ``fun(x, *args)`` of a 1-d array ``x`` from ``x0``.

    Args:
      fun: the objective, written with ``fg.numpy`` (it is differentiated with ``grad``).
      x0: the starting point, shape ``(n,)``.
      args: extra arguments passed to ``fun``.
      method: ``"BFGS"`` (the only method, as in JAX).
      tol: the gradient tolerance ``gtol`` (default ``1e-5``), in the infinity norm.
      options: ``maxiter`` (default ``200 n``), ``gtol``, ``line_search_maxiter`` (default
        20).

    Returns:
      An ``OptimizeResults``.

    >>> import numpy as np
    >>> rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    >>> minimize(rosen, np.array([-1.2, 1.0]), method="BFGS").x.round(4)
    array([1., 1.])
    """
    if str(method).lower() != "bfgs":
        raise FuncgradValueError(at_user_line(
            f"minimize: method must be 'BFGS' (the only one jax.scipy.optimize has), got "
            f"{method!r}"))
    opts = dict(options or {})
    unknown = set(opts) - {"maxiter", "gtol", "norm", "line_search_maxiter"}
    if unknown:
        raise FuncgradValueError(at_user_line(f"minimize: unknown options {sorted(unknown)}"))
    x0 = fnp.asarray(x0)
    if x0.dtype.kind != "f":
        x0 = fnp.asarray(x0, np.float64)
    if x0.ndim != 1:
        raise ShapeError(at_user_line(f"minimize: x0 must be 1-d, got shape {x0.shape}"))
    n = x0.shape[0]
    maxiter = int(opts.get("maxiter") or 200 * n)
    gtol = float(tol if tol is not None else opts.get("gtol", 1e-5))
    max_ls = int(opts.get("line_search_maxiter", 20))
    dtype = x0.dtype
    f_and_g = value_and_grad(lambda x: fnp.asarray(fun(x, *args), dtype))

    def converged(g: Array) -> Array:
        return fnp.max(fnp.abs(g)) <= gtol

    def step(s: _State) -> _State:
        p = -fnp.matmul(s.H, s.g)
        slope = fnp.dot(s.g, p)

        def ls_cond(c: tuple[Array, ...]) -> Array:
            alpha, f_new, _, i = c
            return (f_new > s.f + 1e-4 * alpha * slope) & (i < max_ls)

        def ls_body(c: tuple[Array, ...]) -> tuple[Array, ...]:
            alpha, _, _, i = c
            alpha = alpha * 0.5
            f_new, g_new = f_and_g(s.x + alpha * p)
            return alpha, fnp.where(fnp.isfinite(f_new), f_new, np.inf), g_new, i + 1

        f1, g1 = f_and_g(s.x + p)
        init = (fnp.asarray(1.0, dtype), fnp.where(fnp.isfinite(f1), f1, np.inf), g1,
                fnp.asarray(1))
        alpha, f_new, g_new, evals = lax.while_loop(ls_cond, ls_body, init)
        ok = f_new <= s.f + 1e-4 * alpha * slope
        step_ = alpha * p
        y = g_new - s.g
        sy = fnp.dot(step_, y)
        rho = 1.0 / fnp.where(sy > 0, sy, 1.0)
        eye = np.eye(n, dtype=dtype)
        left = eye - rho * fnp.outer(step_, y)
        updated = fnp.matmul(fnp.matmul(left, s.H), left.T) + rho * fnp.outer(step_, step_)
        H = fnp.where(ok & (sy > 0), updated, s.H)
        return _State(k=s.k + 1, converged=ok & converged(g_new), failed=~ok,
                      x=fnp.where(ok, s.x + step_, s.x), f=fnp.where(ok, f_new, s.f),
                      g=fnp.where(ok, g_new, s.g), H=H, nfev=s.nfev + evals)

    f0, g0 = f_and_g(x0)
    state = _State(k=fnp.asarray(0), converged=converged(g0), failed=fnp.asarray(False),
                   x=x0, f=f0, g=g0, H=np.eye(n, dtype=dtype), nfev=fnp.asarray(1))
    state = lax.while_loop(lambda s: ~s.converged & ~s.failed & (s.k < maxiter), step, state)
    status = fnp.where(state.converged, 0, fnp.where(state.failed, 3, 1))
    return OptimizeResults(x=state.x, success=state.converged, status=status, fun=state.f,
                           jac=state.g, hess_inv=state.H, nfev=state.nfev, njev=state.nfev,
                           nit=state.k)
