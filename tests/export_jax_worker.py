"""The JAX side of tests/test_export.py, run in a subprocess (XLA_FLAGS and jax_enable_x64
must be set before jax is imported): every op spec, the composition programs and the sharded
CNN train step, each check's error (or None) printed as one JSON object."""

from __future__ import annotations

import json
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


# Checks JAX itself cannot run, with the reason; tests/test_export.py asserts each still fails
# in JAX with this message (so an exclusion disappears when JAX gains the rule).
NO_JAX_GRADIENT = {
    "grad:lax.igamma_grad_a": "Differentiation rule for 'igamma_grad_a' not implemented",
}


def _spec_problem(spec: Any) -> tuple[Any, tuple[Any, ...], Any, tuple[Any, ...], Any]:
    """(fn, args, loss, diff args, funcgrad's results): ``loss`` is a weighted sum of the
    outputs as a function of the differentiable arguments (None when not differentiable)."""
    import numpy as np
    from test_grad_ops import diff_problem

    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad.core.pytree import tree_leaves

    args = spec.args(np.random.default_rng(0))
    want: dict[str, Any] = {"fwd": spec.fn(*args)}
    if spec.grad_order == 0:
        return spec.fn, args, None, (), want
    rng = np.random.default_rng(1)
    f, diff = diff_problem(spec, rng)
    ws = [rng.standard_normal(np.shape(o)) for o in tree_leaves(f(*diff))]

    def loss(*a: Any) -> Any:
        total = 0.0
        for o, w in zip(tree_leaves(f(*a)), ws, strict=True):
            total = total + fnp.sum(fnp.real(o) * w)
        return total

    want["grad"] = fg.grad(loss, argnums=tuple(range(len(diff))))(*diff)
    return spec.fn, args, loss, diff, want


def _exported_problem(problem: Any) -> Callable[..., Any]:
    """The JAX computation of one spec: its exported outputs and jax.grad of its loss."""
    import jax

    from funcgrad.export import to_jax
    fn, _, loss, diff, _ = problem
    f_j = to_jax(fn)
    loss_j = None if loss is None else jax.grad(to_jax(loss), argnums=tuple(range(len(diff))))

    def run(args: Any, diff_args: Any) -> dict[str, Any]:
        out = {"fwd": f_j(*args)}
        if loss_j is not None:
            out["grad"] = loss_j(*diff_args)
        return out
    return run


def spec_checks(results: dict[str, Any], group: int = 20) -> None:
    """Every op spec: the exported function's value and jax.grad against funcgrad's. Specs run
    ``group`` at a time in one jax.jit (one XLA compile for many specs keeps CI time small);
    a group that fails to build reruns its specs one by one, eagerly, to name the culprit."""
    import jax
    from op_specs import all_specs

    problems = {}
    for spec in all_specs():
        try:
            problems[spec.name] = _spec_problem(spec)
            if f"grad:{spec.name}" in NO_JAX_GRADIENT:  # checked alone below
                problems[spec.name] = (*problems[spec.name][:2], None, (),
                                       {"fwd": problems[spec.name][4]["fwd"]})
        except Exception as e:  # noqa: BLE001 (funcgrad itself failed: reported per spec)
            results[f"fwd:{spec.name}"] = f"funcgrad: {type(e).__name__}: {e}"

    def record(name: str, got: dict[str, Any], want: dict[str, Any]) -> None:
        for kind in want:
            try:
                _close(got[kind], want[kind])
                results[f"{kind}:{name}"] = None
            except Exception as e:  # noqa: BLE001
                results[f"{kind}:{name}"] = f"{type(e).__name__}: {e}"[:2000]

    names = list(problems)
    for i in range(0, len(names), group):
        chunk = names[i:i + group]
        runs = [_exported_problem(problems[n]) for n in chunk]
        inputs = [(problems[n][1], problems[n][3]) for n in chunk]
        try:
            outs = jax.jit(lambda xs, runs=runs: [r(a, d) for r, (a, d) in zip(runs, xs,
                                                                               strict=True)])(
                _jnp_tree(inputs))
        except Exception:  # noqa: BLE001
            outs = None
        for j, n in enumerate(chunk):
            want = problems[n][4]
            if outs is not None:
                record(n, outs[j], want)
                continue
            problem = problems[n]  # eagerly, value then gradient, to name the failing one
            for kind in want:
                try:
                    run = _exported_problem(problem if kind == "grad" else
                                            (*problem[:2], None, (), problem[4]))
                    got = run(_jnp_tree(problem[1]), _jnp_tree(problem[3]))
                    record(n, {kind: got[kind]}, {kind: want[kind]})
                except Exception as e:  # noqa: BLE001
                    results[f"{kind}:{n}"] = f"{type(e).__name__}: {e}"[:2000]
    for key in NO_JAX_GRADIENT:
        spec = next(s for s in all_specs() if s.name == key.split(":", 1)[1])
        problem = _spec_problem(spec)
        try:
            _exported_problem(problem)(_jnp_tree(problem[1]), _jnp_tree(problem[3]))
            results[key] = None
        except Exception as e:  # noqa: BLE001
            results[key] = f"{type(e).__name__}: {e}"[:2000]


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
