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
    x = np.ones(200_000, np.float32)
    f = fg.jit(fg.value_and_grad(lambda x: fnp.sum(fnp.tanh(x * 0.5) ** 2 + fnp.sin(x))))
    cost = f.lower(x).cost()
    (group,) = cost.groups
    assert group.primitive.startswith("fused[") and "tanh" in group.fused
    assert group.blocks == -(-x.size // 16384)
    # Only what enters and leaves the region is memory traffic: x in, the gradient out.
    assert group.bytes_read == x.nbytes and group.bytes_written == x.nbytes + 4
    assert "blocks of 16,384" in str(cost)
    small = fg.jit(lambda x: fnp.sin(x) * 2.0).lower(np.ones(3)).cost()
    assert not small.groups and [r.primitive for r in small.rows] == ["sin", "mul"]
