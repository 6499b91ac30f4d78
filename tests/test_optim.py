"""fg.optim against optax, step by step in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad.optim as fo


def _run(opt: Any, params: Any, grads_seq: list[Any]) -> list[Any]:
    state = opt.init(params)
    out = []
    for g in grads_seq:
        upd, state = opt.update(g, state, params)
        params = fo.apply_updates(params, upd)
        out.append(params)
    return out


CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("sgd", lambda m: m.sgd(0.1)),
    ("sgd_momentum", lambda m: m.sgd(0.1, momentum=0.9)),
    ("sgd_nesterov", lambda m: m.sgd(0.1, momentum=0.9, nesterov=True)),
    ("adam", lambda m: m.adam(0.01)),
    ("adamw", lambda m: m.adamw(0.01, weight_decay=0.1)),
    ("adam_expdecay", lambda m: m.adam(m.exponential_decay(0.1, 2, 0.5))),
    ("sgd_cosine", lambda m: m.sgd(m.cosine_decay_schedule(0.1, 3))),
    ("clip_chain", lambda m: m.chain(m.clip_by_global_norm(1.0), m.sgd(0.1))),
]


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_matches_optax(name: str, make: Callable[[Any], Any]) -> None:
    optax = oracle("optax")
    import jax
    old = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        rng = np.random.default_rng(0)
        params = {"w": rng.normal(size=(3, 2)), "b": [rng.normal(size=(2,))]}
        grads = [{"w": rng.normal(size=(3, 2)) * 3, "b": [rng.normal(size=(2,))]}
                 for _ in range(5)]
        ours = _run(make(fo), params, grads)
        theirs = _run(make(optax), params, grads)  # optax also works on NumPy leaves
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a["w"], np.asarray(b["w"]), atol=1e-6)
            np.testing.assert_allclose(a["b"][0], np.asarray(b["b"][0]), atol=1e-6)
    finally:
        jax.config.update("jax_enable_x64", old)


def test_adam_second_moment_is_per_element() -> None:
    # Regression: nu must have each parameter's shape, not one scalar per tensor.
    opt = fo.adam(0.1)
    st = opt.init({"w": np.zeros((2, 3))})
    _, st = opt.update({"w": np.arange(6.0).reshape(2, 3)}, st)
    nu = st[0].nu["w"]
    assert nu.shape == (2, 3)
    np.testing.assert_allclose(nu, 0.001 * np.arange(6.0).reshape(2, 3) ** 2)
