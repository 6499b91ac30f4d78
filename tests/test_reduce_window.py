"""lax.reduce_window with any monoid, base and window dilation, as jax.lax.reduce_window."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from oracles import oracle

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.test_util import check_grads

L = fg.lax
X = np.random.default_rng(0).normal(size=(5, 6))
GRID = list(itertools.product(
    [("add", 0.0), ("max", -np.inf), ("min", np.inf), ("mul", 1.0), ("add", 1.5)],
    ["VALID", "SAME", ((1, 0), (2, 1))],
    [(None, None), ((2, 1), None), (None, (2, 1)), ((1, 2), (2, 2))]))


@pytest.mark.parametrize("monoid,padding,dilations", GRID)
def test_matches_jax(monoid: Any, padding: Any, dilations: Any) -> None:
    jax = oracle("jax")
    jax.config.update("jax_enable_x64", True)
    (name, init), (base, window) = monoid, dilations
    kw = dict(base_dilation=base, window_dilation=window)
    ours = L.reduce_window(X, init, getattr(L, name), (2, 3), (1, 2), padding, **kw)
    theirs = jax.lax.reduce_window(X, init, getattr(jax.lax, name), (2, 3), (1, 2), padding, **kw)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-12)


def _prod_pool(x: Any) -> Any:
    return L.reduce_window(x, 1.0, L.mul, (2, 2), (1, 2), "SAME", window_dilation=(2, 1))


def test_composite_is_differentiable_batched_and_staged() -> None:
    check_grads(_prod_pool, (X,), order=2)
    check_grads(lambda x: L.reduce_window(x, 0.0, L.add, (2, 2), (1, 1), "VALID",
                                          base_dilation=(2, 1)), (X,), order=1)
    stack = np.stack([X, 2 * X])
    np.testing.assert_allclose(fg.vmap(_prod_pool)(stack),
                               np.stack([_prod_pool(X), _prod_pool(2 * X)]))
    np.testing.assert_allclose(fg.jit(_prod_pool)(X), _prod_pool(X))
    user_monoid = lambda a, b: fnp.logaddexp(a, b)  # noqa: E731 - a computation of lax ops
    soft = L.reduce_window(X, -np.inf, user_monoid, (2, 2), (1, 1), "VALID")
    np.testing.assert_allclose(soft, np.log(np.exp(X[:-1, :-1]) + np.exp(X[1:, :-1])
                                            + np.exp(X[:-1, 1:]) + np.exp(X[1:, 1:])))


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="window_dilation must have 2 positive entries"):
        L.reduce_window(X, 1.0, L.mul, (2, 2), (1, 1), "VALID", window_dilation=(0, 1))
    with pytest.raises(ValueError, match="init_value must be a scalar"):
        L.reduce_window(X, np.ones(2), L.mul, (2, 2), (1, 1), "VALID")
