"""Per-example gradients of a small CNN (conv 1->8 3x3, relu, 2x2 max pool, dense 1568->10) on a
batch of 32 1x28x28 images, three ways:

- ``vmap``: ``vmap(grad(loss_of_one_example))`` (hand-written NumPy: the per-example weight
  gradients of the backward pass, without summing over the batch);
- ``loop``: a Python loop of ``grad`` calls, one example at a time, then a stack;
- ``mean``: one ``grad`` of the batch-mean loss (the cost of the ordinary batched gradient, for
  scale: per-example gradients should cost about as much).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.contenders import (
    Unavailable,
    autograd_ops,
    funcgrad_jit,
    funcgrad_ops,
    import_autograd,
    import_jax,
    import_torch,
    jax_ops,
)
from benchmarks.harness import Builder, Floor, Inputs, Step, Workload
from benchmarks.models import SMALL_CNN, NetSpec, loss, numpy_value_and_grad, torch_loss
from benchmarks.workloads.train import make_inputs, quick_spec

MODES = ("vmap", "loop", "mean")


def numpy_step(spec: NetSpec, mode: str) -> Builder:
    def build(inputs: Inputs) -> Step:
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]
        if mode == "vmap":
            return lambda: numpy_value_and_grad(spec, params, x, onehot, per_example=True)[1]
        if mode == "mean":
            return lambda: numpy_value_and_grad(spec, params, x, onehot)[1]

        def loop() -> Any:
            grads = [numpy_value_and_grad(spec, params, x[i:i + 1], onehot[i:i + 1])[1]
                     for i in range(len(x))]
            return tuple(np.stack(g) for g in zip(*grads, strict=True))
        return loop
    return build


def funcgrad_step(spec: NetSpec, mode: str, jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        import funcgrad as fg

        ops = funcgrad_ops()
        wrap = funcgrad_jit() if jit else (lambda f: f)
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]
        if mode == "mean":
            batch_grad = wrap(fg.grad(lambda p, x, y: loss(ops, spec, p, x, y)))
            return lambda: batch_grad(params, x, onehot)
        example_grad = fg.grad(lambda p, x, y: loss(ops, spec, p, x[None], y[None]))
        if mode == "vmap":
            per_example = wrap(fg.vmap(example_grad, in_axes=(None, 0, 0)))
            return lambda: per_example(params, x, onehot)
        example_grad = wrap(example_grad)

        def loop() -> Any:
            grads = [example_grad(params, x[i], onehot[i]) for i in range(len(x))]
            return tuple(np.stack(g) for g in zip(*grads, strict=True))
        return loop
    return build


def jax_step(spec: NetSpec, mode: str, jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        jax = import_jax()
        import jax.numpy as jnp

        ops = jax_ops()
        wrap = jax.jit if jit else (lambda f: f)
        params = tuple(jnp.asarray(p) for p in inputs["params"])
        x, onehot = jnp.asarray(inputs["x"]), jnp.asarray(inputs["onehot"])
        if mode == "mean":
            batch_grad = wrap(jax.grad(lambda p, x, y: loss(ops, spec, p, x, y)))
            return lambda: jax.block_until_ready(batch_grad(params, x, onehot))
        example_grad = jax.grad(lambda p, x, y: loss(ops, spec, p, x[None], y[None]))
        if mode == "vmap":
            per_example = wrap(jax.vmap(example_grad, in_axes=(None, 0, 0)))
            return lambda: jax.block_until_ready(per_example(params, x, onehot))
        example_grad = wrap(example_grad)

        def loop() -> Any:
            grads = [example_grad(params, x[i], onehot[i]) for i in range(len(x))]
            return jax.block_until_ready(tuple(jnp.stack(g) for g in zip(*grads, strict=True)))
        return loop
    return build


def torch_step(spec: NetSpec, mode: str) -> Builder:
    def build(inputs: Inputs) -> Step:
        torch = import_torch()
        params = tuple(torch.tensor(p, requires_grad=True) for p in inputs["params"])
        x, labels = torch.tensor(inputs["x"]), torch.tensor(inputs["labels"])
        if mode == "mean":
            return lambda: torch.autograd.grad(torch_loss(spec, params, x, labels), params)
        if mode == "vmap":
            from torch.func import grad, vmap

            example_grad = grad(lambda p, x, y: torch_loss(spec, p, x[None], y[None]))
            per_example = vmap(example_grad, in_dims=(None, 0, 0))
            detached = tuple(p.detach() for p in params)
            return lambda: per_example(detached, x, labels)

        def loop() -> Any:
            grads = [torch.autograd.grad(torch_loss(spec, params, x[i:i + 1], labels[i:i + 1]),
                                         params) for i in range(len(x))]
            return tuple(torch.stack(g) for g in zip(*grads, strict=True))
        return loop
    return build


def autograd_step(spec: NetSpec, mode: str) -> Builder:
    def build(inputs: Inputs) -> Step:
        autograd = import_autograd()
        if mode == "vmap":
            raise Unavailable("autograd: has no vmap")
        ops = autograd_ops()
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]
        if mode == "mean":
            batch_grad = autograd.grad(lambda p, x, y: loss(ops, spec, p, x, y))
            return lambda: batch_grad(params, x, onehot)
        example_grad = autograd.grad(lambda p, x, y: loss(ops, spec, p, x, y))

        def loop() -> Any:
            grads = [example_grad(params, x[i:i + 1], onehot[i:i + 1]) for i in range(len(x))]
            return tuple(np.stack(g) for g in zip(*grads, strict=True))
        return loop
    return build


def workloads(quick: bool) -> list[Workload]:
    spec = quick_spec(SMALL_CNN) if quick else SMALL_CNN
    titles = {
        "vmap": "per-example grads, small CNN: vmap(grad)",
        "loop": "per-example grads, small CNN: loop of grad",
        "mean": "per-example grads, small CNN: grad of mean loss (batched, for scale)",
    }
    return [Workload(
        name=f"per-example-{mode}",
        title=f"{titles[mode]}, batch {spec.batch}",
        bound="matmul",
        make_inputs=lambda: make_inputs(spec),
        builders={
            "funcgrad-jit": funcgrad_step(spec, mode, jit=True),
            "funcgrad": funcgrad_step(spec, mode),
            "jax-jit": jax_step(spec, mode, jit=True),
            "jax": jax_step(spec, mode),
            "torch": torch_step(spec, mode),
            "autograd": autograd_step(spec, mode),
            "numpy": numpy_step(spec, mode),
        },
        floor=Floor(matmuls=spec.matmul_shapes(per_example=mode != "mean")),
        rtol=2e-3,
    ) for mode in MODES]
