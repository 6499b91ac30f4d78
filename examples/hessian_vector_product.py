"""Hessian-vector products by forward-over-reverse (jvp of grad), checked against the Hessian.

Run: python examples/hessian_vector_product.py [--dim N] [--smoke]

``fg.jvp(fg.grad(f), (x,), (v,))[1]`` is ``H(x) @ v`` at the cost of about two gradients, and
never forms ``H``. The script checks it against ``fg.hessian(f)(x) @ v`` on a small logistic
regression loss, times both as the dimension grows, and uses HVPs for a few steps of
Newton-CG (conjugate gradients on ``H d = -g``), which needs only products with ``H``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def make_loss(a: np.ndarray, y: np.ndarray, l2: float) -> Any:
    def loss(w: Any) -> Any:
        z = a @ w
        return fnp.mean(fnp.logaddexp(0.0, z) - y * z) + 0.5 * l2 * fnp.sum(w * w)
    return loss


def hvp(f: Any, x: Any, v: Any) -> Any:
    """``H(x) @ v`` by forward-mode differentiation of the gradient."""
    return fg.jvp(fg.grad(f), (x,), (v,))[1]


def newton_cg_step(f: Any, w: np.ndarray, iters: int) -> np.ndarray:
    g = fg.grad(f)(w)
    hv = fg.jit(lambda v: hvp(f, w, v))
    d, r = np.zeros_like(w), -g
    p = r.copy()
    for _ in range(iters):
        hp = hv(p)
        alpha = (r @ r) / (p @ hp)
        d, r_new = d + alpha * p, r - alpha * hp
        if np.linalg.norm(r_new) < 1e-10:
            break
        p, r = r_new + (r_new @ r_new) / (r @ r) * p, r_new
    return w + d


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=400, help="number of weights")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="a small problem, for the tests")
    args = parser.parse_args(argv)
    dim, n = (20, 100) if args.smoke else (args.dim, args.samples)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, dim)) / np.sqrt(dim)
    y = (a @ rng.normal(size=dim) + 0.1 * rng.normal(size=n) > 0).astype(np.float64)
    loss = make_loss(a, y, l2=1e-2)
    w, v = rng.normal(size=dim), rng.normal(size=dim)

    start = time.perf_counter()
    product = hvp(loss, w, v)
    t_hvp = time.perf_counter() - start
    start = time.perf_counter()
    hessian = fg.hessian(loss)(w)
    t_hessian = time.perf_counter() - start
    error = np.max(np.abs(product - hessian @ v)) / np.max(np.abs(hessian @ v))
    print(f"dimension {dim}: HVP {1e3 * t_hvp:.1f} ms, full Hessian {1e3 * t_hessian:.1f} ms, "
          f"relative difference {error:.1e}")
    assert error < 1e-10, error
    # The closed form of this Hessian: A^T diag(s(1 - s)) A / n + l2 I.
    s = 1 / (1 + np.exp(-(a @ w)))
    closed = a.T @ (a * (s * (1 - s))[:, None]) / n + 1e-2 * np.eye(dim)
    assert np.allclose(hessian, closed, atol=1e-12)

    w = np.zeros(dim)
    for step in range(3 if args.smoke else 5):
        w = newton_cg_step(loss, w, iters=dim)
        print(f"Newton-CG step {step + 1}: loss {float(loss(w)):.8f}  "
              f"|grad| {np.linalg.norm(fg.grad(loss)(w)):.2e}")


if __name__ == "__main__":
    main()
