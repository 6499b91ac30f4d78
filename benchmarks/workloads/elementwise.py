"""Memory bandwidth: ``value_and_grad`` of an elementwise expression on 1e6 float32 elements.

``loss(x) = sum(x * tanh(x) + 0.5 * x * x)``. A fused implementation reads ``x`` once and
writes the gradient once, so the floor is 8 bytes per element at measured copy bandwidth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.contenders import funcgrad_jit, import_autograd, import_jax, import_torch
from benchmarks.harness import Floor, Inputs, Step, Workload


def loss(xp: Any, x: Any) -> Any:
    return xp.sum(x * xp.tanh(x) + 0.5 * x * x)


def numpy_step(inputs: Inputs) -> Step:
    x = inputs["x"]

    def step() -> tuple[np.ndarray, np.ndarray]:
        t = np.tanh(x)
        value = np.sum(x * t + 0.5 * x * x)
        g = t + x * (1 - t * t) + x
        return value, g
    return step


def funcgrad_step(inputs: Inputs, jit: bool = False) -> Step:
    import funcgrad as fg
    import funcgrad.numpy as fnp

    f = fg.value_and_grad(lambda x: loss(fnp, x))
    if jit:
        f = funcgrad_jit()(f)
    x = inputs["x"]
    return lambda: f(x)


def jax_step(inputs: Inputs, jit: bool = False) -> Step:
    jax = import_jax()
    import jax.numpy as jnp

    f = jax.value_and_grad(lambda x: loss(jnp, x))
    if jit:
        f = jax.jit(f)
    x = jnp.asarray(inputs["x"])
    return lambda: jax.block_until_ready(f(x))


def torch_step(inputs: Inputs) -> Step:
    torch = import_torch()
    x0 = torch.tensor(inputs["x"])

    def step() -> Any:
        x = x0.detach().requires_grad_(True)
        value = loss(torch, x)
        (g,) = torch.autograd.grad(value, (x,))
        return value.detach(), g
    return step


def autograd_step(inputs: Inputs) -> Step:
    autograd = import_autograd()
    import autograd.numpy as anp

    f = autograd.value_and_grad(lambda x: loss(anp, x))
    x = inputs["x"]
    return lambda: f(x)


def workloads(quick: bool) -> list[Workload]:
    n = 10_000 if quick else 1_000_000

    def make_inputs() -> Inputs:
        return {"x": np.random.default_rng(0).standard_normal(n, dtype=np.float32)}

    return [Workload(
        name="elementwise",
        title=f"value_and_grad, elementwise expression, {n:.0e} elements",
        bound="memory",
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
        floor=Floor(nbytes=2 * 4 * n),  # read x, write the gradient
        rtol=1e-4,
    )]
