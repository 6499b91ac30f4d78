"""Eager backward passes replay VJP rules as compiled NumPy (``ad._REPLAYS``): the replay must
give what running the rule through ``bind`` gives, bit for bit, for every op spec, and must
step aside wherever it could not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id
from test_grad_ops import diff_problem

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.config import config
from funcgrad.core.pytree import tree_leaves
from funcgrad.transforms import ad

DIFF_SPECS = [s for s in all_specs() if s.grad_order > 0]


@pytest.fixture(autouse=True)
def _plain_eval(_enable_checks: None) -> Iterator[None]:
    # The suite runs with enable_checks, whose checking interpreter never replays: these
    # tests need plain evaluation.
    config.update("enable_checks", False)
    yield
    config.update("enable_checks", True)


@pytest.fixture
def replay_off() -> Iterator[None]:
    ad.REPLAY_RULES = False
    try:
        yield
    finally:
        ad.REPLAY_RULES = True


def _vjp_leaves(f: Any, args: tuple[Any, ...], rng: np.random.Generator, replay: bool
                ) -> list[np.ndarray]:
    ad.REPLAY_RULES = replay
    try:
        out, f_vjp = fg.vjp(f, *args)
        cts = [np.asarray(rng.standard_normal(np.shape(o))).astype(np.asarray(o).dtype)
               for o in tree_leaves(out)]
        ct = fg.tree_util.tree_unflatten(fg.tree_util.tree_structure(out), cts)
        return [np.asarray(g) for g in tree_leaves(f_vjp(ct))]
    finally:
        ad.REPLAY_RULES = True


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind in "fc"
                       else a == b))


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_replay_matches_the_rules(spec: OpSpec, rng: np.random.Generator) -> None:
    f, args = diff_problem(spec, rng)
    seed = int(rng.integers(1 << 30))
    direct = _vjp_leaves(f, args, np.random.default_rng(seed), replay=False)
    for _ in range(2):  # the first call compiles, the second replays from the cache
        replayed = _vjp_leaves(f, args, np.random.default_rng(seed), replay=True)
        assert len(replayed) == len(direct)
        for a, b in zip(direct, replayed, strict=True):
            assert _same_bits(a, b), (spec.name, a, b)


def test_the_tiny_chain_is_replayed_and_equal() -> None:
    x = np.linspace(-1, 1, 10).astype(np.float32)

    def f(x: Any) -> Any:
        y = x
        for _ in range(3):
            y = fnp.exp(fnp.tanh(fnp.sin(y) * 1.3 + x)) * 0.5
        return fnp.sum(y)

    ad._REPLAYS.clear()
    g = fg.grad(f)(x)
    assert ad._REPLAYS and all(fn is not None for fn in ad._REPLAYS.values())
    ad.REPLAY_RULES = False
    try:
        g_direct = fg.grad(f)(x)
    finally:
        ad.REPLAY_RULES = True
    assert g.dtype == np.float32 and np.array_equal(g, g_direct)


def test_results_are_fresh_and_writable() -> None:
    # A constant the rule makes must not become one array shared by every call.
    def f(x: Any) -> Any:
        return fnp.sum(lax.stop_gradient(x) * 0.0 + x * 2.0)

    x = np.ones(3)
    g1 = fg.grad(f)(x)
    g1 += 100.0
    g2 = fg.grad(f)(x)
    np.testing.assert_array_equal(g2, [2.0, 2.0, 2.0])
    assert g2.flags.writeable


def test_0d_values_stay_arrays() -> None:
    g = fg.grad(lambda x: fnp.sin(x) * fnp.cos(x))(np.float32(0.5))
    assert type(g) is np.ndarray and g.shape == () and g.dtype == np.float32
    assert g == np.float32(np.cos(np.float32(1.0)))


def test_not_replayed_under_debug_checks() -> None:
    ad._REPLAYS.clear()
    config.update("debug_nans", True)
    try:
        fg.grad(lambda x: fnp.sum(fnp.sin(x)))(np.ones(3))
    finally:
        config.update("debug_nans", False)
    assert not ad._REPLAYS


def test_not_replayed_under_an_outer_transform() -> None:
    ad._REPLAYS.clear()
    h = fg.grad(fg.grad(lambda x: fnp.sin(x) * x))(1.5)
    np.testing.assert_allclose(h, 2 * np.cos(1.5) - 1.5 * np.sin(1.5))
    jitted = fg.jit(fg.grad(lambda x: fnp.sum(fnp.tanh(x))))(np.ones(2))
    np.testing.assert_allclose(jitted, 1 - np.tanh(1.0) ** 2)
    vm = fg.vmap(fg.grad(lambda x: fnp.sin(x)))(np.ones(2))
    np.testing.assert_allclose(vm, np.cos(np.ones(2)))


def test_rules_with_array_params_run_directly(replay_off: None) -> None:
    # A residual-channel entry (arrays in params) has no cache key: the rule runs as usual.
    ad.REPLAY_RULES = True
    key = ad._replay_key(ad.vjp_rules[lax.elementwise.mul_p], np.ones(2), np.ones(2),
                         [np.ones(2), np.ones(2)], (True, True), {"residuals": np.ones(2)})
    assert key is None
