"""Custom derivatives: gradient clipping inside the backward pass, and a stable log(1 + e^x).

Run: python examples/custom_gradient.py [--smoke]

``fg.custom_vjp`` replaces the derivative of a function by your own rule: here an identity
whose backward pass clips the cotangent's norm (a gradient-clipping layer), and
``log1pexp(x) = log(1 + exp(x))``, whose automatic derivative ``exp(x) / (1 + exp(x))`` is
NaN for large ``x`` (inf / inf), while the rule ``sigmoid(x)`` is exact everywhere.
``fg.custom_jvp`` does the same for forward mode; both stay equations in ``make_jaxpr``, so
``jit``, ``vmap`` and higher derivatives keep using them.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def clip_gradient(max_norm: float) -> Any:
    @fg.custom_vjp
    def identity(x: Any) -> Any:
        return x

    def fwd(x: Any) -> tuple[Any, None]:
        return x, None

    def bwd(_: None, g: Any) -> tuple[Any]:
        norm = fnp.sqrt(fnp.sum(g * g))
        return (g * fnp.minimum(1.0, max_norm / (norm + 1e-12)),)

    identity.defvjp(fwd, bwd)
    return identity


def log1pexp_naive(x: Any) -> Any:
    return fnp.log(1.0 + fnp.exp(x))


@fg.custom_jvp
def log1pexp(x: Any) -> Any:
    return fnp.logaddexp(0.0, x)


@log1pexp.defjvp
def _log1pexp_jvp(primals: tuple[Any], tangents: tuple[Any]) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * fg.nn.sigmoid(x)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-norm", type=float, default=1.0)
    parser.add_argument("--smoke", action="store_true", help="the same checks (they are fast)")
    args = parser.parse_args(argv)

    clip = clip_gradient(args.max_norm)
    w = np.array([3.0, -4.0, 12.0])
    plain = fg.grad(lambda w: fnp.sum(w ** 2))(w)
    clipped = fg.grad(lambda w: fnp.sum(clip(w) ** 2))(w)
    print(f"gradient {plain} (norm {np.linalg.norm(plain):.1f}) clipped to {clipped} "
          f"(norm {np.linalg.norm(clipped):.3f})")
    assert np.isclose(np.linalg.norm(clipped), args.max_norm)
    assert np.allclose(clipped, plain / np.linalg.norm(plain) * args.max_norm)
    # The rule survives jit and vmap (per-example clipping).
    batched = fg.vmap(fg.grad(lambda w: fnp.sum(clip(w) ** 2)))(np.stack([w, w / 100]))
    print("per-example clipped gradients:\n", np.round(batched, 4))
    assert np.allclose(fg.jit(fg.grad(lambda w: fnp.sum(clip(w) ** 2)))(w), clipped)

    x = np.array([-30.0, 0.0, 30.0, 800.0])
    with np.errstate(all="ignore"):
        naive = fg.vmap(fg.grad(log1pexp_naive))(x)
    stable = fg.vmap(fg.grad(log1pexp))(x)
    print(f"d/dx log(1 + e^x) at {x}: automatic {naive}, custom rule {stable}")
    assert np.isnan(naive[-1]) and np.allclose(stable, 1 / (1 + np.exp(-np.clip(x, -50, 50))))
    second = fg.grad(fg.grad(log1pexp))(0.0)      # the rule is differentiable too
    assert np.isclose(second, 0.25)
    print("second derivative at 0:", second)
    print("\nThe custom rule is an equation of the staged program:")
    print(fg.make_jaxpr(log1pexp)(1.0))


if __name__ == "__main__":
    main()
