"""checkpoint policies, checkpoint_name and the residual listing."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.lax.dot import dot_general_p

cp = fg.checkpoint_policies
POLICIES = [None, cp.everything_saveable, cp.nothing_saveable, cp.dots_saveable,
            cp.dots_with_no_batch_dims_saveable, cp.save_only_these_names("h"),
            cp.save_any_names_but_these("other")]


def _body(w, x):
    h = fg.ad_checkpoint.checkpoint_name(x @ w, "h")
    return fnp.sum(fnp.tanh(h) ** 2)


def _plain(w, x):
    return fnp.sum(fnp.tanh(x @ w) ** 2)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: getattr(p, "__name__", str(p)))
def test_every_policy_gives_the_plain_derivatives(policy, rng):
    w, x = rng.normal(size=(3, 2)), rng.normal(size=(5, 3))
    f = fg.checkpoint(_body, policy=policy)
    np.testing.assert_allclose(fg.grad(f)(w, x), fg.grad(_plain)(w, x), rtol=1e-12)
    np.testing.assert_allclose(fg.grad(f, argnums=(0, 1))(w, x)[1],
                               fg.grad(_plain, argnums=1)(w, x), rtol=1e-12)
    np.testing.assert_allclose(fg.hessian(f)(w, x), fg.hessian(_plain)(w, x), rtol=1e-10)
    per_example = fg.vmap(fg.grad(f), in_axes=(None, 0))(w, x[:, None])
    np.testing.assert_allclose(per_example, fg.vmap(fg.grad(_plain), in_axes=(None, 0))(
        w, x[:, None]), rtol=1e-12)
    np.testing.assert_allclose(fg.jvp(f, (w, x), (np.ones_like(w), np.zeros_like(x)))[1],
                               fg.jvp(_plain, (w, x), (np.ones_like(w), np.zeros_like(x)))[1],
                               rtol=1e-12)


def _count_dots(monkeypatch, f, *args):
    calls = []
    impl = dot_general_p.impl
    monkeypatch.setattr(dot_general_p, "impl", lambda *a, **p: calls.append(1) or impl(*a, **p))
    fg.grad(f)(*args)
    monkeypatch.setattr(dot_general_p, "impl", impl)
    return len(calls)


def test_saved_dots_are_not_recomputed(monkeypatch, rng):
    w, x = rng.normal(size=(3, 2)), rng.normal(size=(5, 3))
    recompute = _count_dots(monkeypatch, fg.checkpoint(_body, policy=cp.nothing_saveable), w, x)
    # the forward dot, its recomputation and the two cotangent dots of the backward
    assert recompute == 4
    assert _count_dots(monkeypatch, fg.checkpoint(_body, policy=cp.dots_saveable), w, x) == 3
    assert _count_dots(monkeypatch, fg.checkpoint(
        _body, policy=cp.save_only_these_names("h")), w, x) == 3
    assert _count_dots(monkeypatch, fg.checkpoint(
        _body, policy=cp.save_only_these_names("other")), w, x) == 4


def test_static_argnums():
    f = fg.checkpoint(lambda x, n: fnp.sum(x ** n), static_argnums=1)
    np.testing.assert_allclose(fg.grad(f)(np.array([1.0, 2.0]), 3), [3.0, 12.0])


def test_residual_listing_with_hand_computed_bytes(capsys):
    x = np.zeros(4)
    plain = fg.ad_checkpoint.saved_residuals(lambda v: fnp.sum(fnp.sin(v) * v), x)
    # x, sin(x), sin(x)*x (4 float64 each) and the 0-d sum.
    assert [r.nbytes for r in plain] == [32, 32, 32, 8]
    assert plain[0].description == "from the argument 0"
    assert plain[1].description.startswith("output of sin at test_checkpoint_policies.py:")
    remat = fg.ad_checkpoint.saved_residuals(
        lambda v: fnp.sum(fg.checkpoint(lambda u: fnp.sin(u) * u)(v)), x)
    assert [r.nbytes for r in remat] == [32, 32, 8]  # sin(x) is recomputed, not stored
    w, xs = np.ones((3, 2)), np.ones((5, 3))
    named = fg.ad_checkpoint.saved_residuals(
        fg.checkpoint(_body, policy=cp.save_only_these_names("h")), w, xs)
    assert sorted(r.nbytes for r in named) == [8, 48, 80, 120]  # w, x, the sum and h
    fg.ad_checkpoint.print_saved_residuals(lambda v: fnp.sum(fnp.sin(v)), x)
    assert capsys.readouterr().out.splitlines()[0] == "f64[4] 32 B  from the argument 0"
