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
        for a, b in zip(ours, theirs, strict=True):
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


MORE: list[tuple[str, Callable[[Any], Any]]] = [
    ("rmsprop", lambda m: m.rmsprop(0.01)),
    ("rmsprop_torch_eps", lambda m: m.rmsprop(0.01, eps=1e-3, eps_in_sqrt=False)),
    ("rmsprop_centered_momentum", lambda m: m.rmsprop(0.01, centered=True, momentum=0.9,
                                                      initial_scale=0.5)),
    ("adagrad", lambda m: m.adagrad(0.1)),
    ("adagrad_zero_init", lambda m: m.adagrad(0.1, initial_accumulator_value=0.0)),
    ("adamax", lambda m: m.adamax(0.02)),
    ("adabelief", lambda m: m.adabelief(0.02)),
    ("lion", lambda m: m.lion(0.01, weight_decay=0.1)),
    ("sgd_warmup_cosine", lambda m: m.sgd(m.warmup_cosine_decay_schedule(0.0, 0.2, 2, 5, 0.01))),
    ("sgd_piecewise", lambda m: m.sgd(m.piecewise_constant_schedule(0.1, {1: 0.5, 3: 0.2}))),
    ("sgd_linear", lambda m: m.sgd(m.linear_schedule(0.1, 0.0, 3, transition_begin=1))),
    ("adam_polynomial", lambda m: m.adam(m.polynomial_schedule(0.1, 0.01, 2, 4))),
    ("inject_adam", lambda m: m.inject_hyperparams(m.adam)(learning_rate=0.01, b1=0.8)),
    ("inject_schedule", lambda m: m.inject_hyperparams(m.sgd)(
        learning_rate=m.linear_schedule(0.1, 0.0, 4), momentum=0.9)),
    ("masked_adam", lambda m: m.chain(m.masked(m.adam(0.1), {"w": True, "b": [False]}),
                                      m.masked(m.sgd(0.5), {"w": False, "b": [True]}))),
]


@pytest.mark.parametrize("name,make", MORE, ids=[c[0] for c in MORE])
def test_more_match_optax(name: str, make: Callable[[Any], Any]) -> None:
    test_matches_optax(name, make)


@pytest.mark.parametrize("name,kwargs", [
    ("linear_schedule", dict(init_value=0.3, end_value=0.05, transition_steps=5,
                             transition_begin=2)),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.1, power=3, transition_steps=6)),
    ("piecewise_constant_schedule", dict(init_value=2.0, boundaries_and_scales={3: 0.5, 7: 0.1})),
    ("warmup_cosine_decay_schedule", dict(init_value=0.01, peak_value=1.0, warmup_steps=3,
                                          decay_steps=9, end_value=0.1, exponent=2.0)),
])
def test_schedules_match_optax(name: str, kwargs: dict[str, Any]) -> None:
    optax = oracle("optax")
    ours, theirs = getattr(fo, name)(**kwargs), getattr(optax, name)(**kwargs)
    for c in range(12):
        np.testing.assert_allclose(ours(c), float(theirs(c)), rtol=1e-6, err_msg=f"count {c}")


def test_inject_hyperparams_state_can_be_edited() -> None:
    opt = fo.inject_hyperparams(fo.sgd)(learning_rate=0.1)
    params = np.ones(2)
    st = opt.init(params)
    upd, st = opt.update(np.ones(2), st)
    np.testing.assert_allclose(upd, -0.1)
    st = st._replace(hyperparams={**st.hyperparams, "learning_rate": np.asarray(0.01)})
    upd, st = opt.update(np.ones(2), st)
    np.testing.assert_allclose(upd, -0.01)
    assert int(st.count) == 2
    # a schedule is evaluated at the count of each step
    sch = fo.inject_hyperparams(fo.sgd)(learning_rate=lambda c: 0.1 * (c + 1))
    s2 = sch.init(params)
    for c in range(3):
        upd, s2 = sch.update(np.ones(2), s2)
        np.testing.assert_allclose(upd, -0.1 * (c + 1))


def test_masked_leaves_pass_through_and_callable_mask() -> None:
    opt = fo.masked(fo.sgd(0.5), lambda p: {"a": True, "b": False})
    upd, _ = opt.update({"a": np.ones(2), "b": np.full(2, 3.0)}, opt.init({"a": np.zeros(2),
                                                                         "b": np.zeros(2)}))
    np.testing.assert_allclose(upd["a"], -0.5)
    np.testing.assert_allclose(upd["b"], 3.0)
    from funcgrad.core.errors import FuncgradValueError
    with pytest.raises(FuncgradValueError, match="mask"):
        fo.masked(fo.sgd(0.5), {"a": True}).init({"a": 1.0, "b": 2.0})


def test_multi_transform_routes_each_label_and_matches_optax() -> None:
    optax = oracle("optax")
    rng = np.random.default_rng(1)
    params = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,)), "e": rng.normal(size=4)}
    labels = {"w": "adam", "b": "sgd", "e": "frozen"}
    grads = [{k: rng.normal(size=np.shape(v)) for k, v in params.items()} for _ in range(4)]

    def make(m: Any) -> Any:
        return m.multi_transform({"adam": m.adam(0.01), "sgd": m.sgd(0.1, momentum=0.9),
                                  "frozen": m.sgd(0.0)}, labels)
    ours, theirs = _run(make(fo), params, grads), _run(make(optax), params, grads)
    for a, b in zip(ours, theirs, strict=True):
        for k in params:
            np.testing.assert_allclose(a[k], np.asarray(b[k]), atol=1e-6)
    np.testing.assert_array_equal(ours[-1]["e"], params["e"])
    # Labels from a callable, and the errors naming what is wrong.
    opt = fo.multi_transform({"a": fo.sgd(1.0), "b": fo.sgd(2.0)},
                             lambda p: {k: "a" if k == "w" else "b" for k in p})
    upd, _ = opt.update(grads[0], opt.init(params))
    np.testing.assert_allclose(upd["b"], -2.0 * grads[0]["b"])
    with pytest.raises(ValueError, match="'nope'"):
        fo.multi_transform({"a": fo.sgd(1.0)}, {"w": "nope", "b": "a", "e": "a"}).init(params)
    with pytest.raises(ValueError, match="leaves"):
        fo.multi_transform({"a": fo.sgd(1.0)}, {"w": "a"}).init(params)


def test_multi_transform_update_jits() -> None:
    import funcgrad as fg
    params = {"w": np.ones(3), "b": np.ones(2)}
    opt = fo.multi_transform({"x": fo.adam(0.1), "y": fo.sgd(0.5)}, {"w": "x", "b": "y"})
    state = opt.init(params)
    eager = opt.update(params, state, params)
    jitted = fg.jit(opt.update)(params, state, params)
    for a, b in zip(fg.tree_util.tree_leaves(eager), fg.tree_util.tree_leaves(jitted), strict=True):
        np.testing.assert_allclose(a, b)


JIT_CASES = ["sgd", "sgd_momentum", "adam", "adamw", "adam_expdecay", "sgd_cosine", "clip_chain"]


@pytest.mark.parametrize("name", JIT_CASES)
def test_update_and_apply_updates_jit(name: str) -> None:
    # init, update and apply_updates all trace: a whole train step is one jitted function.
    import funcgrad as fg
    make = dict(CASES)[name]
    opt = make(fo)
    rng = np.random.default_rng(2)
    params = {"w": rng.normal(size=(3, 2)), "b": [rng.normal(size=(2,))]}
    grads = [{"w": rng.normal(size=(3, 2)), "b": [rng.normal(size=(2,))]} for _ in range(3)]

    @fg.jit
    def step(params: Any, state: Any, g: Any) -> tuple[Any, Any]:
        upd, state = opt.update(g, state, params)
        return fo.apply_updates(params, upd), state

    p_eager, s_eager = params, opt.init(params)
    p_jit, s_jit = params, fg.jit(opt.init)(params)
    for g in grads:
        p_eager, s_eager = (lambda u_s: (fo.apply_updates(p_eager, u_s[0]), u_s[1]))(
            opt.update(g, s_eager, p_eager))
        p_jit, s_jit = step(p_jit, s_jit, g)
    for a, b in zip(fg.tree_util.tree_leaves((p_eager, s_eager)),
                    fg.tree_util.tree_leaves((p_jit, s_jit)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
