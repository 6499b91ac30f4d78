"""Dispatch overhead: the gradient of a chain of 60 elementwise ops on a 10-vector.

The arrays are so small that the arithmetic is free: what is timed is each library's cost per
operation (tracing, dispatch, recording the tape, running the backward rules). This is the
row the core issue's key number comes from: funcgrad eager should stay within 3x of the
hand-written NumPy forward + backward below.

The chain is 10 repeats of ``sin, *1.7, tanh, +0.5, cos, square`` (60 ops), then a sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.contenders import funcgrad_jit, import_autograd, import_jax, import_torch
from benchmarks.harness import Inputs, Step, Workload

REPEATS = 10  # x 6 ops


def chain_loss(xp: Any, x: Any) -> Any:
    """The chain on any NumPy-like namespace (funcgrad.numpy, jax.numpy, autograd.numpy)."""
    for _ in range(REPEATS):
        x = xp.sin(x)
        x = x * 1.7
        x = xp.tanh(x)
        x = x + 0.5
        x = xp.cos(x)
        x = x * x
    return xp.sum(x)


def numpy_step(inputs: Inputs) -> Step:
    x0 = inputs["x"]

    def step() -> tuple[np.ndarray, np.ndarray]:
        x, saved = x0, []
        for _ in range(REPEATS):
            s = np.sin(x)
            t = np.tanh(s * 1.7)
            u = t + 0.5
            c = np.cos(u)
            saved.append((x, t, u, c))
            x = c * c
        loss = x.sum()
        g = np.ones_like(x)
        for x_in, t, u, c in reversed(saved):
            g = g * (2 * c)               # square
            g = -g * np.sin(u)            # cos
            g = g * (1 - t * t) * 1.7     # tanh, *1.7
            g = g * np.cos(x_in)          # sin
        return loss, g
    return step


def funcgrad_step(inputs: Inputs, jit: bool = False) -> Step:
    import funcgrad as fg
    import funcgrad.numpy as fnp

    f = fg.value_and_grad(lambda x: chain_loss(fnp, x))
    if jit:
        f = funcgrad_jit()(f)
    x = inputs["x"]
    return lambda: f(x)


def jax_step(inputs: Inputs, jit: bool = False) -> Step:
    jax = import_jax()
    import jax.numpy as jnp

    f = jax.value_and_grad(lambda x: chain_loss(jnp, x))
    if jit:
        f = jax.jit(f)
    x = jnp.asarray(inputs["x"])
    return lambda: jax.block_until_ready(f(x))


def torch_step(inputs: Inputs) -> Step:
    torch = import_torch()
    x0 = torch.tensor(inputs["x"])

    def step() -> Any:
        x = x0.detach().requires_grad_(True)
        loss = chain_loss(torch, x)
        (g,) = torch.autograd.grad(loss, (x,))
        return loss.detach(), g
    return step


def autograd_step(inputs: Inputs) -> Step:
    autograd = import_autograd()
    import autograd.numpy as anp

    f = autograd.value_and_grad(lambda x: chain_loss(anp, x))
    x = inputs["x"]
    return lambda: f(x)


def workloads(quick: bool) -> list[Workload]:
    def make_inputs() -> Inputs:
        return {"x": np.linspace(-1.0, 1.0, 10, dtype=np.float32)}

    return [Workload(
        name="chain60",
        title="grad, 60-op elementwise chain, 10-vector",
        bound="dispatch",
        make_inputs=make_inputs,
        builders={
            "funcgrad-jit": lambda i: funcgrad_step(i, jit=True),
            "funcgrad": funcgrad_step,
            "jax-jit": lambda i: jax_step(i, jit=True),
            "jax": jax_step,
            "torch": torch_step,
            "autograd": autograd_step,
            "numpy": numpy_step,
        },
        floor=None,  # dispatch-bound: the arithmetic is nanoseconds; no meaningful floor
    )]
