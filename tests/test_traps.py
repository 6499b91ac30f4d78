"""Silent wrong answers (issue 15): each of these used to return a plausible but wrong result."""

import os
import re

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

THIS_FILE = os.path.basename(__file__)


def test_arange_step_keyword_without_stop():
    np.testing.assert_array_equal(fnp.arange(10, step=2), np.arange(10, step=2))
    np.testing.assert_array_equal(fnp.arange(0, step=7), np.arange(0, step=7))
    assert fnp.arange(0, step=7).shape == (0,)
    np.testing.assert_array_equal(fnp.arange(2, 10, step=3), np.arange(2, 10, 3))
    np.testing.assert_array_equal(fnp.arange(5), np.arange(5))
    np.testing.assert_array_equal(fnp.arange(1, 5), np.arange(1, 5))
    np.testing.assert_array_equal(fnp.arange(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25))
    assert fnp.arange(3, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("ax", [2, 3, -4])
def test_vmap_out_axes_out_of_range_names_axis_and_rank(ax):
    with pytest.raises(ValueError, match=rf"out_axes={ax}.*rank 1") as e:
        fg.vmap(lambda a: a, out_axes=ax)(np.ones((2, 3)))
    assert THIS_FILE in str(e.value)
    with pytest.raises(ValueError, match=rf"out_axes={ax}.*rank 1"):
        fg.vmap(lambda a: np.ones(3), out_axes=ax)(np.ones((2, 3)))


def test_vmap_out_axes_in_range_still_work():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(fg.vmap(lambda a: a, out_axes=1)(x), x.T)
    np.testing.assert_array_equal(fg.vmap(lambda a: a, out_axes=-1)(x), x.T)
    np.testing.assert_array_equal(fg.vmap(lambda a: a, out_axes=-2)(x), x)


@pytest.mark.parametrize("pred", [True, False, np.array(True), np.array(0.0)])
def test_cond_concrete_predicate_still_checks_branch_types(pred):
    with pytest.raises(TypeError, match=r"f64\[2\].*f64\[3\]|f64\[3\].*f64\[2\]") as e:
        fg.lax.cond(pred, lambda x: x, lambda x: x[:2], np.ones(3))
    assert THIS_FILE in str(e.value)
    with pytest.raises(TypeError, match=r"f32\[3\]"):
        fg.lax.cond(pred, lambda x: x, lambda x: x.astype(np.float32), np.ones(3))
    with pytest.raises(TypeError, match=r"pytree structure"):
        fg.lax.cond(pred, lambda x: (x, x), lambda x: [x, x], np.ones(3))


@pytest.mark.parametrize("index", [0, 1, 5, -1])
def test_switch_concrete_index_still_checks_branch_types(index):
    branches = [lambda x: x, lambda x: x * 2, lambda x: x.sum()]
    with pytest.raises(TypeError, match=r"f64\[\]") as e:
        fg.lax.switch(index, branches, np.ones(3))
    assert THIS_FILE in str(e.value)


def test_cond_concrete_predicate_matching_branches_work_under_grad():
    f = lambda x: fg.lax.cond(True, lambda y: y * 3.0, lambda y: 1.0, x)  # noqa: E731
    assert fg.grad(f)(2.0) == 3.0
    out = fg.lax.cond(False, lambda y: y, lambda y: 1.0, np.float32(2.0))
    assert out.dtype == np.float32 and out == 1.0


def test_gelu_of_0d_array_and_jax_default():
    import math
    x = 0.5
    tanh_form = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    exact = 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
    out = fg.nn.gelu(np.array(x))
    assert out.shape == ()
    np.testing.assert_allclose(out, tanh_form, rtol=1e-12)        # approximate=True, as JAX
    np.testing.assert_allclose(fg.nn.gelu(np.array(x), approximate=False), exact, rtol=1e-12)
    np.testing.assert_allclose(fg.lax.erf(np.array(x)), math.erf(x), rtol=1e-15)
    np.testing.assert_allclose(fg.grad(lambda v: fg.nn.gelu(v, approximate=False))(x),
                               0.5 * (1 + math.erf(x / math.sqrt(2)))
                               + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi))


def test_grad_abs_at_zero_is_one_as_jax():
    assert fg.grad(fnp.abs)(0.0) == 1.0
    assert fg.grad(fnp.abs)(-0.0) == 1.0
    assert fg.grad(fnp.abs)(-2.0) == -1.0
    assert fg.grad(fnp.abs)(np.float32(0.0)).dtype == np.float32
    np.testing.assert_array_equal(fg.vmap(fg.grad(fnp.abs))(np.array([-1.0, 0.0, 3.0])),
                                  [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(fnp.abs(x)))(np.zeros(3)), np.ones(3))
    assert fg.jvp(fnp.abs, (0.0,), (2.0,))[1] == 2.0


def test_result_type_accepts_dtypes_and_scalar_types():
    assert fnp.result_type(fnp.float32, fnp.int8) == np.float32
    assert fnp.result_type(np.dtype("float32"), np.dtype("int8")) == np.float32
    assert fnp.result_type("int8", fnp.uint8) == np.int16
    assert fnp.result_type(fnp.int32, float) == np.result_type(np.int32, float)
    assert fnp.result_type(np.ones(2, np.float32), fnp.float64) == np.float64
    assert fnp.result_type(np.ones(2, np.float32), 1.0) == np.float32      # weak scalar
    assert fnp.result_type(fnp.bool_, fnp.int8) == np.int8


def test_einsum_interleaved_form():
    rng = np.random.default_rng(0)
    A, B, v = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=3)
    np.testing.assert_allclose(fnp.einsum(A, [0, 1], B, [1, 2], [0, 2]), A @ B)
    np.testing.assert_allclose(fnp.einsum(A, [0, 1], B, [1, 2]),
                               np.einsum(A, [0, 1], B, [1, 2]))
    np.testing.assert_allclose(fnp.einsum(A, [0, 1], v, [1]), A @ v)
    np.testing.assert_allclose(fnp.einsum(A, [0, 1], [1, 0]), A.T)
    np.testing.assert_allclose(fnp.einsum(A, [Ellipsis, 1], v, [1], [Ellipsis]), A @ v)
    g = fg.grad(lambda a: fnp.sum(fnp.einsum(a, [0, 1], B, [1, 2], [0, 2])))(A)
    np.testing.assert_allclose(g, np.ones((2, 4)) @ B.T)
    with pytest.raises(ValueError, match="sublist"):
        fnp.einsum(A, [0, "j"], [0])


def test_cross_entropy_float_labels_of_index_shape_raise():
    logits = np.random.default_rng(0).normal(size=(3, 4))
    with pytest.raises(TypeError, match=r"\(3,\).*\(3, 4\)") as e:
        fg.nn.cross_entropy(logits, np.array([0., 2., 1.]))
    assert THIS_FILE in str(e.value)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 4\)"):
        fg.nn.cross_entropy(logits, np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        fg.nn.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"\(2, 4\).*\(2, 3, 4\)"):
        fg.nn.cross_entropy(np.ones((2, 3, 4)), np.zeros((2, 4)), axis=1)
    labels = np.array([0, 2, 1])
    want = fg.nn.cross_entropy(logits, labels)
    np.testing.assert_allclose(fg.nn.cross_entropy(logits, np.eye(4)[labels]), want)
    np.testing.assert_allclose(fg.nn.cross_entropy(logits, labels.astype(np.int32)), want)


@pytest.mark.parametrize("pool", [fg.nn.max_pool, fg.nn.avg_pool])
def test_pool_window_larger_than_padded_input_raises(pool):
    with pytest.raises(ValueError, match=r"window \(5, 5\).*size 4.*= 4 < 5") as e:
        pool(np.ones((1, 1, 4, 4)), 5)
    assert THIS_FILE in str(e.value)
    with pytest.raises(ValueError, match=r"axis 1"):
        pool(np.ones((1, 1, 6, 4)), (2, 5))
    assert pool(np.ones((1, 1, 4, 4)), 5, padding=1).shape == (1, 1, 1, 1)
    assert pool(np.ones((1, 1, 4, 4)), 4).shape == (1, 1, 1, 1)


def test_register_dataclass_honours_static_field_metadata():
    import dataclasses

    @fg.tree_util.register_dataclass
    @dataclasses.dataclass
    class Layer:
        w: np.ndarray
        act: str = dataclasses.field(default="relu", metadata=dict(static=True))

    layer = Layer(np.ones(2), "tanh")
    leaves, tree = fg.tree_util.tree_flatten(layer)
    assert len(leaves) == 1 and leaves[0] is layer.w
    back = fg.tree_util.tree_unflatten(tree, [np.zeros(2)])
    assert back.act == "tanh"
    assert tree != fg.tree_util.tree_structure(Layer(np.ones(2), "relu"))
    g = fg.grad(lambda p: fnp.sum(p.w * 3.0))(layer)
    assert g.act == "tanh"
    np.testing.assert_array_equal(g.w, [3.0, 3.0])


def test_register_static():
    @fg.tree_util.register_static
    class Cfg:
        def __init__(self, n):
            self.n = n

        def __eq__(self, other):
            return isinstance(other, Cfg) and other.n == self.n

        def __hash__(self):
            return hash(self.n)

    leaves, tree = fg.tree_util.tree_flatten({"c": Cfg(3), "x": np.ones(2)})
    assert len(leaves) == 1
    assert fg.tree_util.tree_unflatten(tree, leaves)["c"].n == 3


def test_item_assignment_on_tracer_says_to_use_at_set():
    def f(x):
        x[0] = 1.0
        return fnp.sum(x)
    with pytest.raises(TypeError, match=r"x = x\.at\[0\]\.set\(1\.0\)") as e:
        fg.grad(f)(np.ones(3))
    assert THIS_FILE in str(e.value)

    def g(x):
        x[1:, ..., None] = x[0]
        return x
    with pytest.raises(TypeError, match=r"x\.at\[1:, \.\.\., None\]\.set\(value\)"):
        fg.vmap(g)(np.ones((2, 3, 2)))
    # the suggested fix works
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(x.at[0].set(1.0)))(np.ones(3)),
                                  [0.0, 1.0, 1.0])


def test_config_accepts_jax_spellings():
    from funcgrad.core.config import config
    fg.config.update("jax_enable_x64", True)
    assert fg.config.jax_enable_x64
    assert fg.grad(lambda x: x * 2.0)(np.float64(1.0)).dtype == np.float64
    with pytest.raises(ValueError, match=r"float32"):
        fg.config.update("jax_enable_x64", False)
    try:
        fg.config.update("jax_debug_nans", True)
        assert config.debug_nans and fg.config.jax_debug_nans
        with pytest.raises(FloatingPointError):
            fnp.log(-np.ones(2))
    finally:
        fg.config.update("jax_debug_nans", False)
    assert not config.debug_nans
    for name in ("jax_debug_infs", "jax_enable_checks"):
        fg.config.update(name, True)
        assert getattr(config, name[4:])
        fg.config.update(name, False)
        assert not getattr(config, name[4:])
    with pytest.raises(ValueError, match="unknown config option"):
        fg.config.update("jax_no_such_option", True)


def test_grad_of_complex_output_needs_holomorphic():
    with pytest.raises(TypeError, match=r"real-valued output.*complex128.*holomorphic=True") as e:
        fg.grad(lambda x: x * (1 + 0.2j))(1.0)
    assert THIS_FILE in str(e.value)
    with pytest.raises(TypeError, match=r"complex"):
        fg.value_and_grad(lambda x: x * (1 + 0.2j))(1.0)
    g = fg.grad(lambda z: z * z, holomorphic=True)(np.complex128(1 + 2j))
    np.testing.assert_allclose(g, 2 * (1 + 2j))
    v, g = fg.value_and_grad(lambda z: z * (1 + 0.2j), holomorphic=True)(np.complex128(1.0))
    np.testing.assert_allclose(g, 1 + 0.2j)
    with pytest.raises(TypeError, match=r"holomorphic=True\) requires complex inputs"):
        fg.grad(lambda x: x * (1 + 0.2j), holomorphic=True)(1.0)


@pytest.mark.parametrize("option", ["debug_nans", "debug_infs"])
def test_debug_checks_do_not_leak_numpy_warnings(option):
    import warnings
    x = -np.ones(2) if option == "debug_nans" else np.zeros(2)
    f = fnp.log if option == "debug_nans" else (lambda v: fnp.divide(1.0, v))
    try:
        fg.config.update(option, True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")    # a RuntimeWarning would fail the test
            with pytest.raises(FloatingPointError) as e:
                f(x)
        assert THIS_FILE in str(e.value)
    finally:
        fg.config.update(option, False)


# -- Python numbers from a value being differentiated ------------------------------------------

@pytest.mark.parametrize("convert, fix", [
    (lambda x: float(x), "float(fg.lax.stop_gradient(x))"),
    (lambda x: complex(x).real, "complex(fg.lax.stop_gradient(x))"),
    (lambda x: x.item(), "fg.lax.stop_gradient(x).item()"),
    (lambda x: x.tolist(), "fg.lax.stop_gradient(x).tolist()"),
])
def test_python_number_of_a_differentiated_value_is_refused(convert, fix) -> None:
    # grad(x * float(x)) at 2 used to return 2.0; the true derivative is 4.
    from funcgrad.core.errors import ConcretizationTypeError
    for transform in (fg.grad, lambda f: lambda x: fg.jvp(f, (x,), (1.0,))):
        with pytest.raises(ConcretizationTypeError, match=re.escape(fix)) as info:
            transform(lambda x: x * convert(x))(2.0)
        assert "test_traps.py" in str(info.value)


def test_int_comparisons_and_stopped_values_still_convert() -> None:
    assert fg.grad(lambda x: x * int(x))(2.0) == 2.0
    assert fg.grad(lambda x: x * 3.0 if x > 1 else x)(2.0) == 3.0
    assert fg.grad(lambda x: x * float(fg.lax.stop_gradient(x)))(2.0) == 2.0
    assert fg.vmap(lambda x: x * 2.0)(np.ones(2)).tolist() == [2.0, 2.0]
