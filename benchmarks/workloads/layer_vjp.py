"""Builders shared by the single-layer rows: one layer's forward pass plus its VJP.

Each contender returns ``(out, *input_cotangents)`` for a fixed output cotangent ``ct``. The
layer is given once for the NumPy-like libraries (a function of an
:class:`~benchmarks.contenders.ArrayOps`) and once for PyTorch; the hand-written NumPy builder is
passed in by the workload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.contenders import (
    ArrayOps,
    autograd_ops,
    funcgrad_jit,
    funcgrad_ops,
    import_autograd,
    import_jax,
    import_torch,
    jax_ops,
)
from benchmarks.harness import Builder, Inputs, Step

LayerFor = Callable[[ArrayOps], Callable[..., Any]]


def funcgrad_step(layer_for: LayerFor, args: tuple[str, ...], jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        import funcgrad as fg

        layer = layer_for(funcgrad_ops())

        def forward_and_vjp(ct: Any, *primals: Any) -> Any:
            out, pullback = fg.vjp(layer, *primals)
            return (out, *pullback(ct))

        if jit:
            forward_and_vjp = funcgrad_jit()(forward_and_vjp)
        ct, primals = inputs["ct"], [inputs[a] for a in args]
        return lambda: forward_and_vjp(ct, *primals)
    return build


def jax_step(layer_for: LayerFor, args: tuple[str, ...], jit: bool = False) -> Builder:
    def build(inputs: Inputs) -> Step:
        jax = import_jax()
        import jax.numpy as jnp

        layer = layer_for(jax_ops())

        def forward_and_vjp(ct: Any, *primals: Any) -> Any:
            out, pullback = jax.vjp(layer, *primals)
            return (out, *pullback(ct))

        if jit:
            forward_and_vjp = jax.jit(forward_and_vjp)
        ct, primals = jnp.asarray(inputs["ct"]), [jnp.asarray(inputs[a]) for a in args]
        return lambda: jax.block_until_ready(forward_and_vjp(ct, *primals))
    return build


def autograd_step(layer_for: LayerFor, args: tuple[str, ...]) -> Builder:
    def build(inputs: Inputs) -> Step:
        autograd = import_autograd()
        layer = layer_for(autograd_ops())
        make_vjp = autograd.make_vjp(lambda primals: layer(*primals))
        ct, primals = inputs["ct"], tuple(inputs[a] for a in args)

        def step() -> Any:
            pullback, out = make_vjp(primals)
            return (out, *pullback(ct))
        return step
    return build


def torch_step(layer: Callable[..., Any], args: tuple[str, ...]) -> Builder:
    def build(inputs: Inputs) -> Step:
        torch = import_torch()
        ct = torch.tensor(inputs["ct"])
        primals = [torch.tensor(inputs[a], requires_grad=True) for a in args]

        def step() -> Any:
            out = layer(*primals)
            cts = torch.autograd.grad(out, primals, ct)
            return (out.detach(), *cts)
        return step
    return build


def builders(layer_for: LayerFor, torch_layer: Callable[..., Any], numpy_step: Builder,
             args: tuple[str, ...]) -> dict[str, Builder]:
    return {
        "funcgrad-jit": funcgrad_step(layer_for, args, jit=True),
        "funcgrad": funcgrad_step(layer_for, args),
        "jax-jit": jax_step(layer_for, args, jit=True),
        "jax": jax_step(layer_for, args),
        "torch": torch_step(torch_layer, args),
        "autograd": autograd_step(layer_for, args),
        "numpy": numpy_step,
    }
