"""funcgrad.export: to_jax against funcgrad (values and jax.grad of every op spec, composition
programs, a CNN train step sharded over 8 simulated CPU devices) and to_numpy_source (a file
that runs with NumPy alone).

The JAX checks run in one subprocess (tests/export_jax_worker.py), because XLA_FLAGS and
jax_enable_x64 must be set before jax is imported; each check is reported by its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from op_specs import all_specs

from funcgrad.core import primitives

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SPECS = all_specs()
PROGRAMS = ["mlp_grad", "mlp_grad_eager", "mlp_exported_fg_grad", "scan_grad", "fori_grad",
            "cond_grad_+1", "cond_grad_-1", "switch_-1", "switch_0", "switch_1", "switch_2",
            "switch_7", "while_value_and_jvp", "custom_vjp_grad", "custom_jvp_grad_and_jvp",
            "checkpoint_grad", "checkpoint_policy_grad", "jit_grad", "unknown_primitive",
            "pytree_and_cache", "random_bits_jit", "philox_bits_exact", "sharded_cnn_train_step"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    env["OPENBLAS_THREAD_TIMEOUT"] = "4"
    return env


@pytest.fixture(scope="module")
def jax_results() -> dict[str, Any]:
    pytest.importorskip("jax")
    proc = subprocess.run([sys.executable, str(TESTS / "export_jax_worker.py")],
                          capture_output=True, text=True, env=_env(), timeout=900)
    marker = proc.stdout.rfind("RESULTS")
    assert proc.returncode == 0 and marker >= 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout[marker + len("RESULTS"):])


def test_importing_funcgrad_does_not_import_jax() -> None:
    code = "import sys, funcgrad; funcgrad.export.to_numpy_source; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), check=True)
    assert out.stdout.strip() == "False"


def test_every_primitive_has_a_jax_rule(jax_results: dict[str, Any]) -> None:
    assert len(primitives()) >= 100
    assert jax_results["missing_rules"] == [], (
        f"primitives without a rule in funcgrad/export/_jax_rules.py: "
        f"{jax_results['missing_rules']}")


def test_eight_simulated_devices(jax_results: dict[str, Any]) -> None:
    assert jax_results["devices"] == 8


@pytest.mark.parametrize("name", [s.name for s in SPECS])
def test_spec_value(jax_results: dict[str, Any], name: str) -> None:
    assert f"fwd:{name}" in jax_results, f"spec {name} was not checked"
    assert jax_results[f"fwd:{name}"] is None, jax_results[f"fwd:{name}"]


def _no_jax_gradient() -> dict[str, str]:
    sys.path.insert(0, str(TESTS))
    from export_jax_worker import NO_JAX_GRADIENT
    return NO_JAX_GRADIENT


@pytest.mark.parametrize("name", [s.name for s in SPECS if s.grad_order > 0])
def test_spec_gradient(jax_results: dict[str, Any], name: str) -> None:
    key = f"grad:{name}"
    assert key in jax_results, f"spec {name}'s gradient was not checked"
    excluded = _no_jax_gradient().get(key)
    if excluded is not None:
        # The exclusion must still be JAX's limitation, not an export bug.
        assert jax_results[key] is not None and excluded in jax_results[key], jax_results[key]
    else:
        assert jax_results[key] is None, jax_results[key]


@pytest.mark.parametrize("name", PROGRAMS)
def test_program(jax_results: dict[str, Any], name: str) -> None:
    assert name in jax_results, f"program {name} was not checked"
    assert jax_results[name] is None, jax_results[name]



# == to_numpy_source ==========================================================================

_RUNNER = """
import sys
sys.path.append({site!r})  # NumPy's site-packages, without its .pth files (funcgrad's install)
import importlib.util
assert importlib.util.find_spec("funcgrad") is None, "funcgrad is importable"
import numpy as np
spec = importlib.util.spec_from_file_location("exported", "exported.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
assert "funcgrad" not in sys.modules
data = np.load("inputs.npz")
args = {args}
out = getattr(mod, {name!r})(*args)
leaves = []
def walk(x):
    if isinstance(x, dict):
        for k in sorted(x):
            walk(x[k])
    elif isinstance(x, (tuple, list)):
        for v in x:
            walk(v)
    else:
        leaves.append(np.asarray(x))
walk(out)
np.savez("outputs.npz", *leaves)
print("STANDALONE-OK", sorted(sys.modules.keys() & {{"funcgrad", "jax"}}))
"""


def _run_standalone(tmp_path: Path, source: str, name: str, inputs: dict[str, Any],
                    args_expr: str) -> list[Any]:
    import numpy as np
    (tmp_path / "exported.py").write_text(source)
    np.savez(tmp_path / "inputs.npz", **inputs)
    site = str(Path(np.__file__).resolve().parent.parent)
    runner = _RUNNER.format(site=site, args=args_expr, name=name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", runner], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "STANDALONE-OK []" in proc.stdout, proc.stdout
    with np.load(tmp_path / "outputs.npz") as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


def test_numpy_source_mlp_value_and_grad(tmp_path: Path) -> None:
    import numpy as np
    from export_jax_programs import mlp_loss, mlp_params

    import funcgrad as fg
    from funcgrad.core.pytree import tree_leaves

    params, x, y = mlp_params(np.random.default_rng(0))
    path = tmp_path / "copy.py"
    source = fg.export.to_numpy_source(mlp_loss, params, x, y, grad="value_and_grad",
                                       path=path)
    assert path.read_text() == source and "import funcgrad" not in source
    inputs = {**{f"p_{k}": v for k, v in params.items()}, "x": x, "y": y}
    args = ("({" + ", ".join(f"{k!r}: data['p_{k}']" for k in params) + "}, data['x'], "
            "data['y'])")
    got = _run_standalone(tmp_path, source, "value_and_grad_mlp_loss", inputs, args)
    want = tree_leaves(fg.value_and_grad(mlp_loss)(params, x, y))
    assert len(got) == len(want) == 5
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_numpy_source_cnn_forward(tmp_path: Path) -> None:
    import numpy as np
    from export_jax_programs import cnn_forward, cnn_params

    import funcgrad as fg

    rng = np.random.default_rng(1)
    params, x = cnn_params(rng), rng.standard_normal((4, 1, 8, 8))
    source = fg.export.to_numpy_source(cnn_forward, params, x, name="predict")
    inputs = {**{f"p_{k}": v for k, v in params.items()}, "x": x}
    args = "({" + ", ".join(f"{k!r}: data['p_{k}']" for k in params) + "}, data['x'])"
    (got,) = _run_standalone(tmp_path, source, "predict", inputs, args)
    np.testing.assert_allclose(got, cnn_forward(params, x), rtol=1e-12, atol=1e-12)


def test_numpy_source_embeds_large_constants_and_scan(tmp_path: Path) -> None:
    import numpy as np

    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad import lax

    table = np.random.default_rng(2).standard_normal((64, 3))  # a closed-over constant

    def f(x: Any) -> Any:
        def step(c: Any, row: Any) -> Any:
            return fnp.tanh(c * row + x), fnp.sum(c)
        c, ys = lax.scan(step, x, table)
        return c, ys

    x = np.linspace(-1, 1, 3)
    source = fg.export.to_numpy_source(f, x, name="f")
    assert "_fg_const(" in source  # the 64x3 table as base64, not as digits
    got = _run_standalone(tmp_path, source, "f", {"x": x}, "(data['x'],)")
    for g, w in zip(got, f(x), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_numpy_source_rejects_bad_grad_mode() -> None:
    import numpy as np

    import funcgrad as fg
    with pytest.raises(ValueError, match="grad must be"):
        fg.export.to_numpy_source(lambda x: x, np.ones(2), grad="hessian")


# Ops whose programs cannot be written as a standalone file, with the reason.
NO_STANDALONE = {"debug.callback": "a Python callback of the user's session",
                 **{f"pure_callback_{m}": "a Python callback of the user's session"
                    for m in ("sequential", "expand_dims", "broadcast_all")}}

_SPEC_RUNNER = """
import sys
sys.path.append({site!r})
import importlib.util, json
assert importlib.util.find_spec("funcgrad") is None, "funcgrad is importable"
import numpy as np
results = {{}}
for key in json.load(open("index.json")):
    try:
        spec = importlib.util.spec_from_file_location("m", key + ".py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        with np.load(key + ".in.npz") as f:
            leaves = [f[f"arr_{{j}}"] for j in range(len(f.files))]
        with np.load(key + ".want.npz") as f:
            want = [f[f"arr_{{j}}"] for j in range(len(f.files))]
        out = mod.f_flat(*leaves)
        assert len(out) == len(want), f"{{len(out)}} outputs, want {{len(want)}}"
        for g, w in zip(out, want):
            g = np.asarray(g)
            assert (g.shape, g.dtype) == (w.shape, w.dtype), (
                f"{{g.dtype}}{{g.shape}} != {{w.dtype}}{{w.shape}}")
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
        results[key] = None
    except Exception as e:
        results[key] = f"{{type(e).__name__}}: {{e}}"[:1500]
assert "funcgrad" not in sys.modules
print("RESULTS" + json.dumps(results))
"""


@pytest.fixture(scope="module")
def standalone_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every op spec (forward, and the gradient of a weighted sum of its outputs) exported
    with to_numpy_source and run in one interpreter where funcgrad is not importable."""
    import numpy as np
    from export_jax_worker import _spec_problem

    import funcgrad as fg
    from funcgrad.core.pytree import tree_leaves

    root = tmp_path_factory.mktemp("standalone")
    results: dict[str, Any] = {}
    keys = []
    for spec in SPECS:
        problem = _spec_problem(spec)
        fn, args, loss, diff, want = problem
        jobs = [("fwd", fn, args, tree_leaves(want["fwd"]), False)]
        if loss is not None:
            jobs.append(("grad", loss, diff, tree_leaves(want["grad"]), "grad"))
        for kind, f, a, w, grad in jobs:
            key = f"{kind}:{spec.name}"
            try:
                src = fg.export.to_numpy_source(f, *a, grad=grad,
                                                argnums=tuple(range(len(a))), name="f")
            except Exception as e:  # noqa: BLE001 (reported by the spec's test)
                results[key] = f"export: {type(e).__name__}: {e}"
                continue
            stem = f"s{len(keys)}"
            (root / f"{stem}.py").write_text(src)
            np.savez(root / f"{stem}.in.npz", *[np.asarray(x) for x in tree_leaves(a)])
            np.savez(root / f"{stem}.want.npz", *[np.asarray(x) for x in w])
            keys.append((stem, key))
    (root / "index.json").write_text(json.dumps([s for s, _ in keys]))
    site = str(Path(np.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", _SPEC_RUNNER.format(site=site)],
                          cwd=root, capture_output=True, text=True, env=env, timeout=600)
    marker = proc.stdout.rfind("RESULTS")
    assert proc.returncode == 0 and marker >= 0, proc.stderr[-4000:]
    ran = json.loads(proc.stdout[marker + len("RESULTS"):])
    results.update({key: ran[stem] for stem, key in keys})
    return results


@pytest.mark.parametrize("key", [f"{k}:{s.name}" for s in SPECS
                                 for k in (("fwd", "grad") if s.grad_order else ("fwd",))])
def test_numpy_source_every_op_spec(standalone_results: dict[str, Any], key: str) -> None:
    name = key.split(":", 1)[1]
    if name in NO_STANDALONE:
        assert standalone_results[key] is not None and "cannot write" in standalone_results[key]
        return
    assert standalone_results[key] is None, standalone_results[key]
