"""The IR: make_jaxpr printouts (golden text), inspection, eval_jaxpr, the type checker."""

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import core, lax
from funcgrad.core.errors import FuncgradTypeError
from funcgrad.core.ir import Eqn, Jaxpr, Var

F32 = np.ones(3, np.float32)


def test_print_simple_program():
    jaxpr = fg.make_jaxpr(lambda x, y: fnp.sum(fnp.sin(x) * 2.0 + y))(F32, F32)
    assert str(jaxpr) == (
        "{ lambda ; a:f32[3] b:f32[3]. let\n"
        "    c:f32[3] = sin a\n"
        "    d:f32[3] = mul c 2.0:f32[3]\n"
        "    e:f32[3] = add d b\n"
        "    f:f32[] = reduce_sum[axes=(0,)] e\n"
        "  in (f,) }")


def test_print_broadcast_and_constvars():
    w = np.arange(6.0).reshape(2, 3)
    jaxpr = fg.make_jaxpr(lambda x: fnp.dot(w, x) + 1.0)(np.ones(3))
    assert str(jaxpr) == (
        "{ lambda a:f64[2,3]; b:f64[3]. let\n"
        "    c:f64[2] = dot_general[dimension_numbers=(((1,), (0,)), ((), ()))] a b\n"
        "    d:f64[2] = add c 1.0:f64[2]\n"
        "  in (d,) }")
    assert jaxpr.consts[0] is w


def test_print_grad_program_and_pytree_output():
    jaxpr, shape = fg.make_jaxpr(lambda x: {"y": x * x, "z": fnp.exp(x)}, return_shape=True)(
        np.ones(2))
    assert str(jaxpr) == (
        "{ lambda ; a:f64[2]. let\n"
        "    b:f64[2] = mul a a\n"
        "    c:f64[2] = exp a\n"
        "  in (b, c) }")
    assert shape == {"y": fg.ShapeDtypeStruct((2,), np.float64),
                     "z": fg.ShapeDtypeStruct((2,), np.float64)}
    assert not hasattr(jaxpr, "out_tree")  # the structure lives with the API, not the IR


def test_jaxpr_is_inspectable():
    jaxpr = fg.make_jaxpr(lambda x: fnp.transpose(fnp.tanh(x)))(np.ones((2, 3)))
    assert [e.primitive.name for e in jaxpr.eqns] == ["tanh", "transpose"]
    assert jaxpr.eqns[1].params == {"permutation": (1, 0)}
    assert jaxpr.invars[0].aval.shape == (2, 3)
    assert jaxpr.outvars[0].aval.shape == (3, 2)
    assert jaxpr.eqns[0].outvars[0] is jaxpr.eqns[1].invars[0]


def test_static_argnums():
    jaxpr = fg.make_jaxpr(lambda x, n: x ** n, static_argnums=1)(np.ones(2), 3)
    assert [e.primitive.name for e in jaxpr.eqns] == ["integer_pow"]
    assert jaxpr.eqns[0].params == {"y": 3}


def test_eval_jaxpr_roundtrip_and_under_grad():
    def f(x):
        return fnp.sum(fnp.tanh(x) * fnp.exp(x))
    x = np.linspace(-1, 1, 5)
    closed = fg.make_jaxpr(f)(x)
    (out,) = core.eval_jaxpr(closed.jaxpr, closed.consts, x)
    np.testing.assert_allclose(out, f(x))
    g = fg.grad(lambda x: core.eval_jaxpr(closed.jaxpr, closed.consts, x)[0])(x)
    np.testing.assert_allclose(g, fg.grad(f)(x))


def test_make_jaxpr_of_grad_has_no_primal_branching():
    jaxpr = fg.make_jaxpr(fg.grad(lambda x: fnp.sum(x ** 3)))(np.ones(2))
    names = [e.primitive.name for e in jaxpr.eqns]
    assert names[:2] == ["integer_pow", "reduce_sum"]
    assert "mul" in names


def test_typecheck_catches_wrong_types():
    closed = fg.make_jaxpr(lambda x: fnp.sin(x))(np.ones(2))
    core.typecheck_jaxpr(closed.jaxpr)
    bad = Jaxpr([], closed.jaxpr.invars, [Var(core.ShapedArray((3,), np.float64))],
                [Eqn(closed.eqns[0].primitive, closed.eqns[0].invars,
                     [Var(core.ShapedArray((3,), np.float64))], {})])
    with pytest.raises(FuncgradTypeError, match="sin produces"):
        core.typecheck_jaxpr(bad)


def test_enable_checks_typechecks_at_trace_time():
    fg.config.update("enable_checks", True)
    try:
        jaxpr = fg.make_jaxpr(lambda x: fnp.sum(x * x))(np.ones(3))
        assert len(jaxpr.eqns) == 2
    finally:
        fg.config.update("enable_checks", False)


def test_shape_errors_at_trace_time():
    # lax-level ops do not broadcast; the shape rule names both shapes when staged.
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        fg.make_jaxpr(lambda x, y: lax.add(x, y))(np.ones(2), np.ones(3))


def test_registry_lists_primitives():
    prims = core.primitives()
    for name in ("add", "mul", "dot_general", "broadcast_in_dim", "gather", "scatter_add",
                 "reduce_sum", "pad", "rev", "iota", "add_any"):
        assert name in prims
    assert all(p.name == n for n, p in prims.items())


def test_params_are_hashable():
    jaxpr = fg.make_jaxpr(lambda x: fnp.pad(x[::-1][1:], 1).reshape(1, -1).sum(0))(np.ones(4))
    for eqn in jaxpr.eqns:
        hash(tuple(sorted(eqn.params.items())))


def test_typecheck_recurses_into_sub_jaxprs():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    from funcgrad.core.avals import ShapedArray
    from funcgrad.core.errors import FuncgradTypeError
    from funcgrad.core.ir import Eqn, Var, typecheck_jaxpr

    closed = fg.make_jaxpr(lambda x: fg.lax.cond(x.sum() > 0, fnp.sin, fnp.cos, x))(np.ones(3))
    typecheck_jaxpr(closed.jaxpr)
    cond = next(e for e in closed.eqns if e.primitive.name == "cond")
    branch = next(v for v in cond.params.values() if isinstance(v, tuple))[0]
    inner = branch.jaxpr if hasattr(branch, "jaxpr") else branch
    eqn = inner.eqns[0]
    # a dead, mistyped equation: only a check that walks into the branch can see it
    inner.eqns.insert(0, Eqn(eqn.primitive, eqn.invars,
                             [Var(ShapedArray((4,), np.float64))], {}))
    with pytest.raises(FuncgradTypeError, match="in a sub-jaxpr of cond.*cos produces"):
        typecheck_jaxpr(closed.jaxpr)


def test_jaxpr_replace_builds_a_new_jaxpr():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    closed = fg.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3))
    shorter = closed.jaxpr.replace(eqns=closed.jaxpr.eqns[:1],
                                   outvars=closed.jaxpr.eqns[0].outvars)
    assert len(shorter.eqns) == 1 and len(closed.jaxpr.eqns) == 2
    assert shorter.invars == closed.jaxpr.invars
    with pytest.raises(TypeError, match="unknown fields"):
        closed.jaxpr.replace(body=[])


def test_literals_compare_by_type_and_bits() -> None:
    from funcgrad.core.avals import ShapedArray
    from funcgrad.core.ir import Literal
    f32 = ShapedArray((), np.float32)
    nan_a, nan_b = Literal(np.float32(np.nan), f32), Literal(np.float32(np.nan), f32)
    assert nan_a == nan_b and hash(nan_a) == hash(nan_b)  # one NaN literal, not two
    assert Literal(np.float32(-0.0), f32) != Literal(np.float32(0.0), f32)
    assert Literal(np.float32(1.0), f32) != Literal(np.float64(1.0), ShapedArray((), np.float64))
    wide = Literal(np.broadcast_to(np.float32(2.0), (3, 4)), ShapedArray((3, 4), np.float32))
    assert wide.scalar.shape == () and wide.val.shape == (3, 4)  # no full-shape array inside
    assert wide != Literal(np.float32(2.0), f32)  # the type is part of the literal
    closed = fg.make_jaxpr(lambda x: x * 2.0)(np.ones(3, np.float32))
    lit = closed.eqns[0].invars[1]
    assert isinstance(lit, Literal) and lit.scalar.ndim == 0
