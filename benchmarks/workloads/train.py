"""Train steps: forward + backward + SGD update of the MLP, LeNet-5 and the 3-conv CNN.

Every contender returns ``(loss, grads, new_params)``; the update is functional (PyTorch's too,
``p - lr * g`` under ``no_grad``), so every timed call starts from the same parameters.
"""

from __future__ import annotations

from typing import Any

from benchmarks.contenders import (
    autograd_ops,
    funcgrad_jit,
    funcgrad_ops,
    import_autograd,
    import_jax,
    import_torch,
    jax_ops,
)
from benchmarks.harness import Builder, Floor, Inputs, Step, Workload
from benchmarks.models import (
    CNN3,
    LENET5,
    MLP,
    NetSpec,
    loss,
    numpy_value_and_grad,
    sgd,
    torch_loss,
)


def numpy_step(spec: NetSpec) -> Builder:
    def build(inputs: Inputs) -> Step:
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]

        def step() -> Any:
            value, grads = numpy_value_and_grad(spec, params, x, onehot)
            return value, grads, sgd(params, grads)
        return step
    return build


def funcgrad_step(spec: NetSpec, jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        import funcgrad as fg

        ops = funcgrad_ops()
        value_and_grad = fg.value_and_grad(lambda p, x, y: loss(ops, spec, p, x, y))

        def train_step(params: Any, x: Any, onehot: Any) -> Any:
            value, grads = value_and_grad(params, x, onehot)
            return value, grads, sgd(params, grads)

        if jit:
            train_step = funcgrad_jit()(train_step)
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]
        return lambda: train_step(params, x, onehot)
    return build


def jax_step(spec: NetSpec, jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        jax = import_jax()
        import jax.numpy as jnp

        ops = jax_ops()
        value_and_grad = jax.value_and_grad(lambda p, x, y: loss(ops, spec, p, x, y))

        def train_step(params: Any, x: Any, onehot: Any) -> Any:
            value, grads = value_and_grad(params, x, onehot)
            return value, grads, sgd(params, grads)

        if jit:
            train_step = jax.jit(train_step)
        params = tuple(jnp.asarray(p) for p in inputs["params"])
        x, onehot = jnp.asarray(inputs["x"]), jnp.asarray(inputs["onehot"])
        return lambda: jax.block_until_ready(train_step(params, x, onehot))
    return build


def torch_step(spec: NetSpec) -> Builder:
    def build(inputs: Inputs) -> Step:
        torch = import_torch()
        params = tuple(torch.tensor(p, requires_grad=True) for p in inputs["params"])
        x, labels = torch.tensor(inputs["x"]), torch.tensor(inputs["labels"])

        def step() -> Any:
            value = torch_loss(spec, params, x, labels)
            grads = torch.autograd.grad(value, params)
            with torch.no_grad():
                return value.detach(), grads, sgd(params, grads)
        return step
    return build


def autograd_step(spec: NetSpec) -> Builder:
    def build(inputs: Inputs) -> Step:
        autograd = import_autograd()
        ops = autograd_ops()
        value_and_grad = autograd.value_and_grad(lambda p, x, y: loss(ops, spec, p, x, y))
        params, x, onehot = inputs["params"], inputs["x"], inputs["onehot"]

        def step() -> Any:
            value, grads = value_and_grad(params, x, onehot)
            return value, grads, sgd(params, grads)
        return step
    return build


def builders(spec: NetSpec) -> dict[str, Builder]:
    return {
        "funcgrad-jit": funcgrad_step(spec, jit=True),
        "funcgrad": funcgrad_step(spec),
        "jax-jit": jax_step(spec, jit=True),
        "jax": jax_step(spec),
        "torch": torch_step(spec),
        "autograd": autograd_step(spec),
        "numpy": numpy_step(spec),
    }


def make_inputs(spec: NetSpec) -> Inputs:
    return {"params": spec.init(), **spec.batch_inputs()}


def quick_spec(spec: NetSpec) -> NetSpec:
    """The same architecture on a tiny batch (and a narrow MLP) for --quick."""
    dense = (32, 32, spec.dense[-1]) if not spec.convs else spec.dense
    return NetSpec(spec.name, spec.in_shape, spec.convs, dense, batch=2)


def train_workload(spec: NetSpec, title: str) -> Workload:
    return Workload(
        name=f"{spec.name}-train",
        title=title,
        bound="matmul",
        make_inputs=lambda: make_inputs(spec),
        builders=builders(spec),
        floor=Floor(matmuls=spec.matmul_shapes()),
        rtol=2e-3,
    )


def specs(quick: bool) -> dict[str, NetSpec]:
    chosen = {"mlp": MLP, "lenet5": LENET5, "cnn3": CNN3}
    return {k: quick_spec(s) for k, s in chosen.items()} if quick else chosen


def workloads(quick: bool) -> list[Workload]:
    s = specs(quick)
    widths = "-".join(map(str, s["mlp"].in_shape + s["mlp"].dense))
    return [
        train_workload(s["mlp"], f"MLP {widths} train step, batch {s['mlp'].batch}"),
        train_workload(s["lenet5"], f"LeNet-5 train step, batch {s['lenet5'].batch}, 1x28x28"),
        train_workload(s["cnn3"], f"3-conv CNN train step, batch {s['cnn3'].batch}, 3x32x32"),
    ]

