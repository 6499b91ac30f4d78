"""Contender builders for a workload that is ``value_and_grad`` of one scalar loss of one array.

The loss is written once against a NumPy-like namespace (``loss(xp, x)``) and run on
funcgrad.numpy, jax.numpy, torch and autograd.numpy; only the hand-written NumPy forward +
backward differs per workload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.contenders import funcgrad_jit, import_autograd, import_jax, import_torch
from benchmarks.harness import Builder, Inputs, Step

Loss = Callable[[Any, Any], Any]


def builders(loss: Loss, numpy_step: Builder) -> dict[str, Builder]:
    """One builder per contender for ``value_and_grad(lambda x: loss(xp, x))(inputs['x'])``."""
    return {
        "funcgrad-jit": lambda i: _funcgrad_step(loss, i, jit=True),
        "funcgrad": lambda i: _funcgrad_step(loss, i),
        "jax-jit": lambda i: _jax_step(loss, i, jit=True),
        "jax": lambda i: _jax_step(loss, i),
        "torch": lambda i: _torch_step(loss, i),
        "autograd": lambda i: _autograd_step(loss, i),
        "numpy": numpy_step,
    }


def _funcgrad_step(loss: Loss, inputs: Inputs, jit: bool = False) -> Step:
    import funcgrad as fg
    import funcgrad.numpy as fnp

    f = fg.value_and_grad(lambda x: loss(fnp, x))
    if jit:
        f = funcgrad_jit()(f)
    x = inputs["x"]
    return lambda: f(x)


def _jax_step(loss: Loss, inputs: Inputs, jit: bool = False) -> Step:
    jax = import_jax()
    import jax.numpy as jnp

    f = jax.value_and_grad(lambda x: loss(jnp, x))
    if jit:
        f = jax.jit(f)
    x = jnp.asarray(inputs["x"])
    return lambda: jax.block_until_ready(f(x))


def _torch_step(loss: Loss, inputs: Inputs) -> Step:
    torch = import_torch()
    x0 = torch.tensor(inputs["x"])

    def step() -> Any:
        x = x0.detach().requires_grad_(True)
        value = loss(torch, x)
        (g,) = torch.autograd.grad(value, (x,))
        return value.detach(), g
    return step


def _autograd_step(loss: Loss, inputs: Inputs) -> Step:
    autograd = import_autograd()
    import autograd.numpy as anp

    f = autograd.value_and_grad(lambda x: loss(anp, x))
    x = inputs["x"]
    return lambda: f(x)
