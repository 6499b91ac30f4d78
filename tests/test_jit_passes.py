"""jit's passes keep what reverse mode saved: nothing in a jitted train step is recomputed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.transforms import passes


def _cnn_loss(p: dict[str, Any], x: Any, y: Any) -> Any:
    h = fnp.tanh(fg.lax.conv_general_dilated(x, p["c1"], (1, 1), "SAME"))
    h = fg.nn.max_pool(h, 2)
    h = fg.nn.relu(fg.lax.conv_general_dilated(h, p["c2"], (1, 1), "SAME"))
    h = fg.nn.max_pool(h, 2)
    return fg.nn.cross_entropy(fnp.reshape(h, (h.shape[0], -1)) @ p["w"], y)


def _cnn_args() -> tuple[Any, ...]:
    rng = np.random.default_rng(0)
    params = {"c1": rng.normal(size=(4, 1, 3, 3)), "c2": rng.normal(size=(8, 4, 3, 3)),
              "w": rng.normal(size=(8 * 2 * 2, 10))}
    return params, rng.normal(size=(2, 1, 8, 8)), np.array([1, 2])


def test_jitted_train_step_recomputes_nothing() -> None:
    args = _cnn_args()
    lowered = fg.jit(fg.value_and_grad(_cnn_loss)).lower(*args)
    counts = Counter(e.primitive.name for e in passes.optimize(lowered.jaxpr.jaxpr).eqns)
    # Each conv builds its columns once (the weight gradient reuses them), each pool takes its
    # maxima once (the backward masks against them), each activation runs once (its VJP reads
    # the saved output), and the forward of every layer appears exactly once.
    assert counts["conv_patches"] == 2, counts
    assert counts["reduce_window_max"] == 2, counts
    assert counts["tanh"] == 1, counts
    forward = Counter(e.primitive.name for e in fg.make_jaxpr(_cnn_loss)(*args).jaxpr.eqns)
    assert counts["exp"] == forward["exp"] and counts["log"] == forward["log"]
    # ... and the jitted step computes what eager reverse mode computes.
    value, grads = fg.jit(fg.value_and_grad(_cnn_loss))(*args)
    v_eager, g_eager = fg.value_and_grad(_cnn_loss)(*args)
    np.testing.assert_allclose(value, v_eager, rtol=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], g_eager[k], rtol=1e-10, atol=1e-12)


def test_checkpoint_recomputation_survives_the_passes() -> None:
    # The opposite promise: what checkpoint chose to recompute is recomputed.
    def f(x: Any) -> Any:
        return fnp.sum(fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))(x))
    lowered = fg.jit(fg.value_and_grad(f)).lower(np.ones(3))
    counts = Counter(e.primitive.name for e in passes.optimize(lowered.jaxpr.jaxpr).eqns)
    # Forward: sin(x), sin(sin(x)). Backward: cos(sin(x)) needs sin(x), which checkpoint
    # saved nothing of, so it is recomputed: a third sin that CSE must not merge away.
    assert counts["sin"] == 3 and counts["cos"] == 2, counts
    np.testing.assert_allclose(fg.jit(fg.value_and_grad(f))(np.ones(3))[1],
                               np.cos(np.sin(1.0)) * np.cos(1.0) * np.ones(3))


def _eqn_names(jaxpr: Any) -> list[str]:
    return [e.primitive.name for e in jaxpr.eqns]


def test_fold_evaluates_literal_equations_in_the_result_dtype() -> None:
    closed = fg.make_jaxpr(lambda x: x * (fnp.float32(3.0) * 2.0))(np.ones(3, np.float32))
    folded = passes.fold(closed.jaxpr)
    assert _eqn_names(folded) == ["mul"], folded
    lit = folded.eqns[0].invars[1]
    assert lit.val.dtype == np.float32 and np.all(lit.val == 6.0)
    # NaN and -0.0 are folded bit for bit; a result that is not one repeated value is not.
    assert np.all(np.signbit(passes.fold(fg.make_jaxpr(lambda x: x + (-0.0 * fnp.float32(1.0)))(
        np.ones(2, np.float32)).jaxpr).eqns[0].invars[1].val))
    nan = passes.fold(fg.make_jaxpr(lambda x: x + fnp.log(fnp.float32(-1.0)))(np.ones(2)).jaxpr)
    assert np.all(np.isnan(nan.eqns[-1].invars[1].val))
    ramp = fg.make_jaxpr(lambda x: x + fnp.arange(3.0))(np.ones(3))
    assert len(passes.fold(ramp.jaxpr).eqns) == len(ramp.jaxpr.eqns)


def test_inline_gives_fresh_variables_per_call_site_and_keeps_source_lines() -> None:
    inner = fg.jit(lambda x: fnp.tanh(x) + 1.0)
    closed = fg.make_jaxpr(lambda x: inner(x) * inner(x * 2.0))(np.ones(3))
    assert _eqn_names(closed.jaxpr) == ["jit", "mul", "jit", "mul"]
    flat = passes.inline(closed.jaxpr)
    assert _eqn_names(flat) == ["tanh", "add", "mul", "tanh", "add", "mul"]
    outvars = [v for e in flat.eqns for v in e.outvars]
    assert len(set(outvars)) == len(outvars)
    assert all(e.source_info is not None for e in flat.eqns)
    from funcgrad.core import eval_jaxpr
    x = np.linspace(-1, 1, 3)
    np.testing.assert_allclose(eval_jaxpr(flat, closed.consts, x)[0],
                               (np.tanh(x) + 1) * (np.tanh(2 * x) + 1))


def test_cost_reports_fused_regions_and_their_blocks() -> None:
    from funcgrad.transforms import codegen
    x = np.ones(1_000_000, np.float32)
    f = fg.jit(fg.value_and_grad(lambda x: fnp.sum(fnp.tanh(x * 0.5) ** 2 + fnp.sin(x))))
    cost = f.lower(x).cost()
    (group,) = cost.groups
    assert group.primitive.startswith("fused[") and "tanh" in group.fused
    assert group.blocks == -(-x.size // codegen.BLOCK_SIZE)
    # Only what enters and leaves the region is memory traffic: x in, the gradient out.
    assert group.bytes_read == x.nbytes and group.bytes_written == x.nbytes + 4
    assert f"blocks of {codegen.BLOCK_SIZE:,}" in str(cost)
    small = fg.jit(lambda x: fnp.sin(x) * 2.0).lower(np.ones(3)).cost()
    assert not small.groups and [r.primitive for r in small.rows] == ["sin", "mul"]


def _mlp_like(w: Any, x: Any) -> Any:
    h = fnp.tanh(x @ w)
    return fnp.sum(h * h * 0.5)


def _mlp_args() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(64, 512)).astype(np.float32),
            rng.normal(size=(256, 64)).astype(np.float32))


def test_planned_buffers_are_allocated_once_and_never_escape() -> None:
    from funcgrad.transforms import codegen
    f = fg.jit(fg.value_and_grad(_mlp_like))
    w, x = _mlp_args()
    src = f.lower(w, x).source()
    assert "planned" in src and ".acquire()" in src and "finally:" in src
    workspace = next(v for k, v in f.lower(w, x).compile().module.namespace.items()
                     if isinstance(v, codegen.Workspace))
    assert [s for s in workspace.specs if s[0] == (256, 512)]
    eager = fg.value_and_grad(_mlp_like)(w, x)
    results = [f(w, x) for _ in range(4)]
    assert workspace.allocations == 1          # steady state: nothing allocated per call
    for value, grad in results:
        np.testing.assert_allclose(value, eager[0], rtol=1e-5)
        np.testing.assert_allclose(grad, eager[1], rtol=1e-4, atol=1e-5)
    # Outputs are fresh arrays: never a workspace buffer, never shared between calls.
    (held,) = workspace._free
    for _, grad in results:
        assert not any(np.shares_memory(grad, b) for b in held)
    assert not np.shares_memory(results[0][1], results[1][1])


def test_planned_buffers_under_reentrant_and_threaded_calls() -> None:
    import threading
    f = fg.jit(fg.value_and_grad(_mlp_like))
    w, x = _mlp_args()
    expected = fg.value_and_grad(_mlp_like)(w, x)[1]
    inner_results: list[Any] = []
    entered: list[bool] = []

    def reenter(_: Any) -> None:  # runs inside g, while g's call holds its buffers
        if not entered:
            entered.append(True)
            inner_results.append(g(w, x * 2.0)[1])

    def body(w: Any, x: Any) -> Any:
        value, grad = fg.value_and_grad(_mlp_like)(w, x)
        fg.debug.callback(reenter, value)
        return value, grad
    g = fg.jit(body)
    got = g(w, x)[1]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(inner_results[0], fg.value_and_grad(_mlp_like)(w, x * 2.0)[1],
                               rtol=1e-4, atol=1e-5)
    from funcgrad.transforms import codegen
    workspace = next(v for v in g.lower(w, x).compile().module.namespace.values()
                     if isinstance(v, codegen.Workspace))
    assert workspace.allocations == 2 and len(workspace._free) == 2  # one set per live call
    errors: list[BaseException] = []

    def worker(scale: float) -> None:
        try:
            for _ in range(5):
                g = f(w, x * scale)[1]
                ref = fg.value_and_grad(_mlp_like)(w, x * scale)[1]
                np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(s,)) for s in (0.5, 1.0, 1.5, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
