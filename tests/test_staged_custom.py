"""Custom rules and checkpoint stay in the staged program: eval_jaxpr of a make_jaxpr result
means exactly what the eager program means, under grad, jvp, vmap and their nestings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.ir import _var_names
from funcgrad.core.staging import eval_jaxpr


def _scaled_identity() -> fg.custom_vjp:
    @fg.custom_vjp
    def f(x):
        return x

    def scale_fwd(x):
        return x, None

    def scale_bwd(res, g):
        return (100.0 * g,)

    f.defvjp(scale_fwd, scale_bwd)
    return f


def _staged(fun, *args):
    closed = fg.make_jaxpr(fun)(*args)
    return closed, lambda *xs: eval_jaxpr(closed.jaxpr, closed.consts, *xs)[0]


def test_staged_custom_vjp_keeps_its_rule_under_grad_and_vmap():
    f = _scaled_identity()
    loss = lambda x: fnp.sum(f(x))  # noqa: E731
    closed, run = _staged(loss, np.ones(2))
    assert [e.primitive.name for e in closed.eqns] == ["custom_vjp_call", "reduce_sum"]
    np.testing.assert_array_equal(fg.grad(loss)(np.ones(2)), [100.0, 100.0])
    np.testing.assert_array_equal(fg.grad(run)(np.ones(2)), [100.0, 100.0])
    np.testing.assert_array_equal(fg.vmap(fg.grad(run))(np.ones((3, 2))),
                                  np.full((3, 2), 100.0))
    np.testing.assert_array_equal(run(np.arange(2.0)), 1.0)


def test_printed_jaxpr_shows_the_sub_jaxpr_and_the_rules_by_name():
    text = str(fg.make_jaxpr(lambda x: fnp.sum(_scaled_identity()(x)))(np.ones(2)))
    assert "custom_vjp_call[" in text
    assert "fwd=_scaled_identity.<locals>.scale_fwd" in text
    assert "bwd=_scaled_identity.<locals>.scale_bwd" in text
    assert "call_jaxpr={ lambda ; a:f64[2]." in text


def test_forward_mode_of_custom_vjp_is_refused_as_in_jax():
    f = _scaled_identity()
    for attempt in (lambda: fg.jvp(f, (np.ones(2),), (np.ones(2),)),
                    lambda: fg.jacfwd(f)(np.ones(2)),
                    lambda: fg.linearize(f, np.ones(2))):
        with pytest.raises(TypeError, match="forward-mode autodiff.*custom_vjp"):
            attempt()
    _, run = _staged(lambda x: f(x), np.ones(2))
    with pytest.raises(TypeError, match="custom_vjp"):
        fg.jvp(run, (np.ones(2),), (np.ones(2),))


def test_what_works_in_jax_keeps_working():
    f = _scaled_identity()
    # hessian is forward over reverse: the custom rule is only ever seen by reverse mode.
    np.testing.assert_allclose(fg.hessian(lambda x: fnp.sum(f(x) ** 3))(np.ones(2)),
                               np.diag([600.0, 600.0]))
    g = fg.checkpoint(lambda x: fnp.sin(x) ** 2)
    x = np.array([0.3, -1.2])
    _, t = fg.jvp(g, (x,), (np.ones(2),))
    np.testing.assert_allclose(t, 2 * np.sin(x) * np.cos(x))
    np.testing.assert_allclose(fg.jacfwd(g)(x), np.diag(2 * np.sin(x) * np.cos(x)))
    np.testing.assert_allclose(fg.hessian(lambda v: fnp.sum(g(v)))(x),
                               np.diag(2 * np.cos(2 * x)))


def test_staged_custom_jvp_keeps_its_rule_in_both_modes():
    @fg.custom_jvp
    def h(x):
        return fnp.sin(x)

    h.defjvp(lambda p, t: (h(p[0]), 2.0 * t[0]))  # a deliberately different derivative
    closed, run = _staged(lambda x: fnp.sum(h(x)), np.ones(2))
    assert closed.eqns[0].primitive.name == "custom_jvp_call"
    np.testing.assert_array_equal(fg.grad(run)(np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(fg.jvp(run, (np.ones(2),), (np.ones(2),))[1], 4.0)
    np.testing.assert_array_equal(fg.vmap(fg.grad(run))(np.ones((3, 2))), np.full((3, 2), 2.0))


def test_staged_checkpoint_recomputes_and_matches_eager():
    g = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    closed, run = _staged(lambda x: fnp.sum(g(x)), np.ones(3))
    assert closed.eqns[0].primitive.name == "custom_vjp_call"
    x = np.array([0.1, 0.5, -0.7])
    np.testing.assert_allclose(fg.grad(run)(x), np.cos(np.sin(x)) * np.cos(x))
    np.testing.assert_allclose(fg.grad(run)(x), fg.grad(lambda v: fnp.sum(g(v)))(x))


def test_custom_rule_closing_over_a_traced_value_is_refused():
    def outer(y):
        @fg.custom_vjp
        def f(x):
            return x * y
        f.defvjp(lambda x: (x * y, None), lambda r, g: (g,))
        return f(y)

    with pytest.raises(TypeError, match="closes over a traced value"):
        fg.make_jaxpr(outer)(np.ones(2))


def test_printed_names_are_never_keywords_or_builtins():
    import builtins
    import keyword
    names = list(itertools.islice(_var_names(), 2000))
    assert not [n for n in names if keyword.iskeyword(n) or n in dir(builtins)]
    assert "as" not in names and "id" not in names and len(set(names)) == len(names)


def test_custom_vjp_bwd_results_are_checked_as_jax_checks_them():
    def make(bwd):
        @fg.custom_vjp
        def f(x):
            return x
        f.defvjp(lambda x: (x, None), bwd)
        return lambda x: fnp.sum(f(x))

    def wrong_shape(r, g):
        return (g[:2],)

    with pytest.raises(ValueError, match=r"wrong_shape.*shape \(2,\).*primal has shape \(3,\)"):
        fg.grad(make(wrong_shape))(np.ones(3))
    with pytest.raises(TypeError, match="dtype float32"):
        fg.grad(make(lambda r, g: (g.astype(np.float32),)))(np.ones(3))
    with pytest.raises(ValueError, match="one cotangent per differentiable argument"):
        fg.grad(make(lambda r, g: (g, g)))(np.ones(3))
    np.testing.assert_array_equal(fg.grad(make(lambda r, g: (None,)))(np.ones(3)), 0.0)


def test_staged_equations_record_the_users_line_and_function():
    def model(x):
        h = fnp.tanh(x)
        return fnp.sum(h * h)

    closed = fg.make_jaxpr(model)(np.ones(3))
    first_line = model.__code__.co_firstlineno
    infos = [e.source_info for e in closed.eqns]
    assert [i[1] for i in infos] == [first_line + 1, first_line + 2, first_line + 2]
    assert all(i[2] == "model" and i[0] == __file__ for i in infos)
    text = closed.pretty_print(source_info=True)
    assert f"tanh a  # test_staged_custom.py:{first_line + 1} (model)" in text
    assert "#" not in str(closed)


def test_backward_equations_name_the_rule_and_the_forward_line():
    def model(x):
        h = fnp.tanh(x)
        return fnp.sum(h * h)

    closed = fg.make_jaxpr(fg.grad(model))(np.ones(3))
    line = model.__code__.co_firstlineno
    forward = [str(e.source_info) for e in closed.eqns[:3]]
    backward = [str(e.source_info) for e in closed.eqns[3:]]
    assert forward[0] == f"test_staged_custom.py:{line + 1} (model)"
    assert backward[0] == f"backward of reduce_sum at test_staged_custom.py:{line + 2} (model)"
    assert backward[-1] == f"backward of tanh at test_staged_custom.py:{line + 1} (model)"
    assert all(s.startswith("backward of ") for s in backward)
    assert closed.eqns[-1].source_info.backward_of == "tanh"
    assert closed.eqns[-1].source_info[1] == line + 1


@pytest.mark.parametrize("call", [
    lambda: fg.lax.reshape(np.ones(6), (4,)),
    lambda: fg.make_jaxpr(lambda x: fg.lax.reshape(x, (4,)))(np.ones(6)),
    lambda: fg.nn.conv(np.ones((1, 3, 5, 5)), np.ones((2, 4, 3, 3))),
    lambda: fg.tree_util.tree_map(lambda a, b: a + b, (1, 2), (1,)),
], ids=["reshape", "reshape_staged", "conv", "tree_map"])
def test_shape_rule_and_layer_errors_name_the_users_line(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert f"(at {__file__}:" in str(info.value)
    assert str(info.value).count("(at ") == 1


def test_eager_grad_through_custom_rules_leaves_no_reference_cycle():
    # A custom_vjp's backward used to close over its arguments, which under grad are tracers
    # holding their trace, whose tape holds the backward: a cycle that kept every residual
    # (conv columns, activations) alive until the garbage collector ran, so each training
    # step paid fresh memory's page faults.
    import gc

    @fg.custom_vjp
    def scale(p, x):
        return p["a"] * x

    scale.defvjp(lambda p, x: (p["a"] * x, (p, x)),
                 lambda res, g: ({"a": fnp.sum(g * res[1]), "w": None}, g * res[0]["a"]))

    def loss(p, x):
        h = fg.nn.relu(fg.nn.conv(x, p["w"], padding=1))
        return fnp.sum(scale(p, h) ** 2)

    rng = np.random.default_rng(14)
    p = {"w": rng.standard_normal((4, 3, 3, 3)), "a": np.array(1.5)}
    x = rng.standard_normal((2, 3, 8, 8))
    step = fg.value_and_grad(loss)
    step(p, x)                                           # warm: first-call caches
    gc.collect()
    gc.disable()
    try:
        value, grads = step(p, x)
        assert gc.collect() == 0
    finally:
        gc.enable()
    # the checks the backward makes still see the arguments' types
    bad = fg.custom_vjp(lambda x: x)
    bad.defvjp(lambda x: (x, None), lambda res, g: (g[:2],))
    with pytest.raises(ValueError, match=r"shape \(2,\) for argument 0, whose primal has shape"
                                          r" \(3,\)"):
        fg.grad(lambda x: fnp.sum(bad(x)))(np.ones(3))


def test_custom_vjp_of_a_partial_with_a_non_array_argument():
    # the backward keeps the arguments' types: a leaf that is no array is kept as it is, and
    # a callable without __name__ (a partial) still works
    import functools

    def scaled(x, tag, factor):
        return x * factor

    f = fg.custom_vjp(functools.partial(scaled, factor=3.0))
    f.defvjp(lambda x, tag: (x * 3.0, None), lambda res, g: (g * 3.0, None))
    g = fg.grad(lambda x: fnp.sum(f(x, "label")))(np.ones(3))
    np.testing.assert_array_equal(g, np.full(3, 3.0))
