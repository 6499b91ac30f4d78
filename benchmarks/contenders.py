"""The contenders: their names, how each library is imported (threads pinned), and the small
layer adapters that let one model definition run on funcgrad, JAX and autograd alike.

Libraries are imported lazily, the first time a workload asks for them, so ``--only`` and
``--quick`` never pay for an import they do not use. A contender that is not installed, or a
funcgrad feature that does not exist yet, raises :class:`Unavailable`: the harness shows it as
"unavailable" with the reason, never as a crash.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Column order of every table. "numpy" is hand-written NumPy forward + backward: the reference.
CONTENDERS: tuple[str, ...] = (
    "funcgrad-jit", "funcgrad", "jax-jit", "jax", "torch", "autograd", "numpy")
LABELS: dict[str, str] = {
    "funcgrad-jit": "funcgrad jit",
    "funcgrad": "funcgrad eager",
    "jax-jit": "jax.jit",
    "jax": "JAX eager",
    "torch": "PyTorch eager",
    "autograd": "HIPS autograd",
    "numpy": "NumPy by hand",
}
# What --quick runs unless --only says otherwise: the contenders that import in well under 1 s.
QUICK_CONTENDERS: tuple[str, ...] = ("funcgrad-jit", "funcgrad", "autograd", "numpy")
# Contenders whose arrays live in NumPy's allocator (so tracemalloc sees them).
NUMPY_BASED: frozenset[str] = frozenset({"funcgrad-jit", "funcgrad", "autograd", "numpy"})


class Unavailable(Exception):
    """This contender cannot run this workload here: not installed, or not implemented yet."""


def threads() -> int:
    return int(os.environ.get("FUNCGRAD_BENCH_THREADS", "2"))


def pin_threads() -> None:
    """Limit every BLAS/OpenMP pool loaded so far to ``threads()`` (needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads())


def _import(module: str, contender: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{contender}: `{module}` is not installed ({exc})") from None
    pin_threads()
    return mod


def import_torch() -> Any:
    torch = _import("torch", "torch")
    if torch.get_num_threads() != threads():
        torch.set_num_threads(threads())
    return torch


def import_jax() -> Any:
    return _import("jax", "jax")


def import_autograd() -> Any:
    return _import("autograd", "autograd")


def funcgrad_jit() -> Callable[..., Any]:
    """``fg.jit``, or Unavailable while funcgrad has none."""
    import funcgrad as fg
    if not hasattr(fg, "jit"):
        raise Unavailable("funcgrad jit: fg.jit is not implemented yet")
    return fg.jit  # type: ignore[no-any-return]


def versions() -> dict[str, str | None]:
    """Installed version of each library, or None (from package metadata: imports nothing)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"numpy": np.__version__}
    for name in ("funcgrad", "jax", "jaxlib", "torch", "autograd", "threadpoolctl"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# == layer adapters ===========================================================================

@dataclass(frozen=True)
class ArrayOps:
    """A NumPy-like namespace plus the layer functions the models use.

    ``conv(x, w, stride, padding, dilation)`` is NCHW x OIHW cross-correlation with symmetric
    padding; ``max_pool(x, k)`` and ``avg_pool(x, k)`` pool non-overlapping ``k x k`` windows.
    """

    xp: Any
    conv: Callable[[Any, Any, int, int, int], Any]
    max_pool: Callable[[Any, int], Any]
    avg_pool: Callable[[Any, int], Any]


def _missing(reason: str) -> Callable[..., Any]:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable(reason)
    return missing


def funcgrad_ops() -> ArrayOps:
    """funcgrad's layers, looked up at run time (``fg.nn`` first, else ``fg.lax`` as JAX's):
    conv and pooling are being written now."""
    import funcgrad as fg
    import funcgrad.numpy as fnp

    nn, lax = fg.nn, fg.lax
    if hasattr(nn, "conv"):
        def conv(x: Any, w: Any, stride: int, padding: int, dilation: int) -> Any:
            return nn.conv(x, w, stride=stride, padding=padding, dilation=dilation)
    elif hasattr(lax, "conv_general_dilated"):
        def conv(x: Any, w: Any, stride: int, padding: int, dilation: int) -> Any:
            return lax.conv_general_dilated(
                x, w, window_strides=(stride, stride), padding=[(padding, padding)] * 2,
                rhs_dilation=(dilation, dilation), dimension_numbers=("NCHW", "OIHW", "NCHW"))
    else:
        conv = _missing("funcgrad: fg.nn.conv / fg.lax.conv_general_dilated not implemented yet")

    window = lambda k: (1, 1, k, k)  # noqa: E731
    if hasattr(nn, "max_pool"):
        def max_pool(x: Any, k: int) -> Any:
            return nn.max_pool(x, (k, k))
    elif hasattr(lax, "reduce_window"):
        def max_pool(x: Any, k: int) -> Any:
            return lax.reduce_window(x, -np.inf, lax.max, window(k), window(k), "VALID")
    else:
        max_pool = _missing("funcgrad: fg.nn.max_pool / fg.lax.reduce_window not implemented yet")
    if hasattr(nn, "avg_pool"):
        def avg_pool(x: Any, k: int) -> Any:
            return nn.avg_pool(x, (k, k))
    elif hasattr(lax, "reduce_window"):
        def avg_pool(x: Any, k: int) -> Any:
            return lax.reduce_window(x, 0.0, lax.add, window(k), window(k), "VALID") / (k * k)
    else:
        avg_pool = _missing("funcgrad: fg.nn.avg_pool / fg.lax.reduce_window not implemented yet")
    return ArrayOps(fnp, conv, max_pool, avg_pool)


def jax_ops() -> ArrayOps:
    import_jax()
    import jax.numpy as jnp
    from jax import lax

    def conv(x: Any, w: Any, stride: int, padding: int, dilation: int) -> Any:
        return lax.conv_general_dilated(
            x, w, window_strides=(stride, stride), padding=[(padding, padding)] * 2,
            rhs_dilation=(dilation, dilation), dimension_numbers=("NCHW", "OIHW", "NCHW"))

    def max_pool(x: Any, k: int) -> Any:
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, k, k), (1, 1, k, k), "VALID")

    def avg_pool(x: Any, k: int) -> Any:
        summed = lax.reduce_window(x, 0.0, lax.add, (1, 1, k, k), (1, 1, k, k), "VALID")
        return summed / (k * k)

    return ArrayOps(jnp, conv, max_pool, avg_pool)


def autograd_ops() -> ArrayOps:
    """autograd has no strided/dilated conv primitive: im2col from ``kh * kw`` strided slices
    (each differentiable) and one ``tensordot``, as an autograd user would write it."""
    import_autograd()
    import autograd.numpy as anp

    def conv(x: Any, w: Any, stride: int, padding: int, dilation: int) -> Any:
        if padding:
            x = anp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), "constant")
        c_out, c_in, kh, kw = w.shape
        h, wd = x.shape[2], x.shape[3]
        ho = (h - dilation * (kh - 1) - 1) // stride + 1
        wo = (wd - dilation * (kw - 1) - 1) // stride + 1
        patches = [x[:, :, i * dilation: i * dilation + stride * (ho - 1) + 1: stride,
                     j * dilation: j * dilation + stride * (wo - 1) + 1: stride]
                   for i in range(kh) for j in range(kw)]
        cols = anp.stack(patches, axis=2)                      # (N, C, kh*kw, Ho, Wo)
        out = anp.tensordot(cols, anp.reshape(w, (c_out, c_in, kh * kw)),
                            axes=([1, 2], [1, 2]))              # (N, Ho, Wo, C_out)
        return anp.transpose(out, (0, 3, 1, 2))

    def max_pool(x: Any, k: int) -> Any:
        n, c, h, w = x.shape
        return anp.max(anp.reshape(x, (n, c, h // k, k, w // k, k)), axis=(3, 5))

    def avg_pool(x: Any, k: int) -> Any:
        n, c, h, w = x.shape
        return anp.mean(anp.reshape(x, (n, c, h // k, k, w // k, k)), axis=(3, 5))

    return ArrayOps(anp, conv, max_pool, avg_pool)
