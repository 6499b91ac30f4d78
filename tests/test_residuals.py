"""The residual channel: a primitive's forward may save values (in primitives) for its VJP."""

from __future__ import annotations

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.primitive import Primitive
from funcgrad.transforms import ad, batching

cube_p = Primitive("cube_with_residual_example", register=False)
cube_p.def_impl(lambda x: x * x * x)
cube_p.def_abstract_eval(lambda x: x)
batching.defvectorized(cube_p)
residual_runs: list[int] = []


def _cube_fwd(x):
    residual_runs.append(1)
    square = lax.mul(x, x)
    return lax.mul(square, x), square  # the answer, and 3 * x**2 / 3 for the backward


def _cube_vjp(ct, ans, primals, needs, *, residuals):
    return [fnp.multiply(ct, fnp.multiply(3.0, residuals))]


ad.residual_rules[cube_p] = _cube_fwd
ad.vjp_rules[cube_p] = _cube_vjp
ad.defjvp(cube_p, lambda t, ans, x: t * 3.0 * x * x)


def _loss(x):
    return fnp.sum(cube_p.bind(x))


def test_the_vjp_rule_reads_what_the_forward_saved():
    x = np.array([1.0, -2.0, 0.5])
    residual_runs.clear()
    np.testing.assert_allclose(fg.grad(_loss)(x), 3 * x ** 2)
    assert residual_runs == [1]
    # eager evaluation outside reverse mode never runs the residual rule
    residual_runs.clear()
    _loss(x)
    fg.jvp(_loss, (x,), (np.ones(3),))
    assert residual_runs == []


def test_residuals_are_differentiable_batchable_and_staged():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(fg.hessian(_loss)(x), np.diag(6 * x))
    np.testing.assert_allclose(fg.vmap(fg.grad(_loss))(np.stack([x, 2 * x])),
                               3 * np.stack([x, 2 * x]) ** 2)
    closed = fg.make_jaxpr(fg.grad(_loss))(x)
    names = [e.primitive.name for e in closed.eqns]
    assert names[:2] == ["mul", "mul"]  # the forward computes the square once, saved
    assert "cube_with_residual_example" not in names


def test_residuals_are_counted_and_listed():
    x = np.ones(4)
    listing = fg.ad_checkpoint.saved_residuals(_loss, x)
    # x, the saved square and the answer (4 float64 each), and the 0-d sum
    assert sorted(r.nbytes for r in listing) == [8, 32, 32, 32]
    assert ad.residual_bytes(_loss, x) == 3 * 32 + 8
