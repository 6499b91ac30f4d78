"""The JAX side of tests/test_export.py, run in a subprocess (XLA_FLAGS and jax_enable_x64
must be set before jax is imported): every op spec, the composition programs and the sharded
CNN train step, each check's error (or None) printed as one JSON object."""

from __future__ import annotations

import json
import time
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _close(got: Any, want: Any, tol: float = 1e-6) -> None:
    import numpy as np

    from funcgrad.core.pytree import tree_flatten
    g_leaves, g_tree = tree_flatten(got)
    w_leaves, w_tree = tree_flatten(want)
    assert g_tree == w_tree, f"structure {g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"shape {g.shape} != {w.shape}"
        assert g.dtype == w.dtype or w.dtype.kind == g.dtype.kind == "V", \
            f"dtype {g.dtype} != {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def _jnp_tree(x: Any) -> Any:
    import jax.numpy as jnp

    from funcgrad.core.pytree import tree_map
    return tree_map(lambda a: jnp.asarray(a) if hasattr(a, "dtype") else a, x)


def spec_checks(results: dict[str, Any]) -> None:
    times = results.setdefault('_times', {})
    import jax
    import numpy as np
    from op_specs import all_specs
    from test_grad_ops import diff_problem

    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad.core.pytree import tree_leaves
    from funcgrad.export import to_jax

    def run(key: str, check: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        try:
            check()
            results[key] = None
        except Exception as e:  # noqa: BLE001 (each failure is reported by its test)
            results[key] = f"{type(e).__name__}: {e}"[:2000]
        times[key] = time.perf_counter() - t0

    for spec in all_specs():
        def forward(spec: Any = spec) -> None:
            args = spec.args(np.random.default_rng(0))
            _close(to_jax(spec.fn)(*_jnp_tree(args)), spec.fn(*args))

        run(f"fwd:{spec.name}", forward)
        if spec.grad_order == 0:
            continue

        def gradient(spec: Any = spec) -> None:
            rng = np.random.default_rng(1)
            f, args = diff_problem(spec, rng)
            outs = tree_leaves(f(*args))
            ws = [rng.standard_normal(np.shape(o)) for o in outs]

            def loss(*a: Any) -> Any:
                total = 0.0
                for o, w in zip(tree_leaves(f(*a)), ws, strict=True):
                    total = total + fnp.sum(fnp.real(o) * w)
                return total

            nums = tuple(range(len(args)))
            want = fg.grad(loss, argnums=nums)(*args)
            got = jax.grad(to_jax(loss), argnums=nums)(*_jnp_tree(args))
            _close(got, want)

        run(f"grad:{spec.name}", gradient)


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import jax
    jax.config.update("jax_enable_x64", True)
    results: dict[str, Any] = {"devices": len(jax.devices())}
    which = sys.argv[1:] or ["specs", "programs"]
    if "specs" in which:
        spec_checks(results)
    if "programs" in which:
        import export_jax_programs
        export_jax_programs.program_checks(results)
    print("RESULTS" + json.dumps(results))


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        raise
