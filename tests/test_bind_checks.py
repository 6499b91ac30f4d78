"""Eager evaluation refuses what staging refuses: every primitive's shape rule runs at bind
time (without ``enable_checks``), so a bad parameter raises the same exception in both, naming
the primitive and the user's line, instead of NumPy broadcasting, wrapping or clipping it into
a wrong answer."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_specs import all_specs

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import primitives
from funcgrad.lax.fft import FftType

THIS_FILE = os.path.basename(__file__)
P = primitives()


@pytest.fixture(autouse=True)
def _no_enable_checks() -> Any:
    # The suite runs with enable_checks on (conftest); users run without it.
    fg.config.update("enable_checks", False)
    yield
    fg.config.update("enable_checks", True)


def f64(*shape: int) -> np.ndarray:
    return np.ones(shape)


def i64(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.int64)


_WIN = dict(window_strides=(1, 1, 2, 1), padding=((0, 0), (0, 0), (1, 1), (0, 1)))
_CONV = dict(window_strides=(2, 1), padding=((1, 0), (2, 1)), lhs_dilation=(1, 1),
             rhs_dilation=(1, 2), feature_group_count=2)
_PATCH = dict(kernel_shape=(3, 2), window_strides=(2, 1), padding=((1, 0), (2, 1)),
              rhs_dilation=(1, 2))
_I64 = np.dtype(np.int64)


def _eqn(fun: Callable[..., Any], *args: Any, name: str) -> Any:
    return next(e for e in fg.make_jaxpr(fun)(*args).jaxpr.eqns if e.primitive.name == name)


def _control_flow_params() -> dict[str, dict[str, Any]]:
    lax = fg.lax
    return {
        "cond": _eqn(lambda i, x: lax.switch(i, [lambda x: x, lambda x: -x], x), 0, f64(3),
                     name="cond").params,
        "while": _eqn(lambda x: lax.while_loop(lambda c: c[0] < 3,
                                               lambda c: (c[0] + 1, c[1] * 2), (0, x)),
                      f64(3), name="while").params,
        "scan": _eqn(lambda x: lax.scan(lambda c, y: (c + y, c * y), x[0], x), f64(4, 3),
                     name="scan").params,
        "jit": _eqn(lambda x: fg.jit(lambda y: y * 2)(x), f64(3), name="jit").params,
    }


_CF = _control_flow_params()

# (primitive, operands, params): each is refused by the primitive's shape rule.
BAD: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("pad", (f64(3),), dict(padding_config=((1, 1, 0), (1, 1, 0)), padding_value=0.0)),
    ("pad", (f64(3),), dict(padding_config=((1, 1, -1),), padding_value=0.0)),
    ("argmax", (f64(2, 3),), dict(axis=2, index_dtype=_I64)),
    ("argmax", (f64(2, 3),), dict(axis=0, index_dtype=np.dtype(np.float64))),
    ("argmin", (f64(2, 3),), dict(axis=3, index_dtype=_I64)),
    ("broadcast_in_dim", (f64(3),), dict(shape=(2, 4), broadcast_dimensions=(1,))),
    ("broadcast_in_dim", (f64(3),), dict(shape=(2, 3), broadcast_dimensions=(0, 1))),
    ("concatenate", (f64(2, 3), f64(3, 3)), dict(dimension=1)),
    ("concatenate", (f64(2, 3), f64(2, 3)), dict(dimension=2)),
    ("concatenate", (f64(2, 3), np.ones((2, 3), np.float32)), dict(dimension=0)),
    ("conv_general_dilated", (f64(2, 4, 6, 5), f64(4, 2, 3, 2)),
     {**_CONV, "feature_group_count": 3}),
    ("conv_general_dilated", (f64(2, 4, 6, 5), f64(4, 2, 3, 2)), {**_CONV, "window_strides": (2,)}),
    ("conv_patches", (f64(2, 2, 6, 5),), {**_PATCH, "kernel_shape": (3,)}),
    ("conv_patches_transpose", (f64(12, 2, 3, 6),), {**_PATCH, "input_shape": (6,)}),
    ("convert_element_type", (f64(3),), dict(new_dtype=np.dtype(object))),
    ("cumsum", (f64(2, 3),), dict(axis=2, reverse=False)),
    ("dot_general", (f64(2, 3), f64(4, 4)), dict(dimension_numbers=(((1,), (0,)), ((), ())))),
    ("dot_general", (f64(2, 3), f64(3, 4)), dict(dimension_numbers=(((2,), (0,)), ((), ())))),
    ("dot_general", (f64(2, 3), np.ones((3, 4), np.float32)),
     dict(dimension_numbers=(((1,), (0,)), ((), ())))),
    ("integer_pow", (f64(3),), dict(y=1.5)),
    ("iota", (), dict(dtype=np.dtype(np.float64), shape=(2, 3), dimension=2)),
    ("polygamma", (f64(3),), dict(m=-1)),
    ("random_bits", (np.zeros(2, np.uint32),), dict(shape=(2, -3), dtype=np.dtype(np.float64),
                                                     salt=0)),
    ("random_bits", (np.zeros(3, np.uint32),), dict(shape=(2, 3), dtype=np.dtype(np.float64),
                                                     salt=0)),
    ("reduce_max", (f64(2, 3),), dict(axes=(2,))),
    ("reduce_min", (f64(2, 3),), dict(axes=(0, 0))),
    ("reduce_prod", (f64(2, 3),), dict(axes=(-3,))),
    ("reduce_sum", (f64(2, 3),), dict(axes=(5,))),
    ("reduce_window_max", (f64(2, 3, 7, 5),), dict(window_dimensions=(1, 3, 2), **_WIN)),
    ("reduce_window_sum", (f64(2, 3, 7, 5),), dict(window_dimensions=(1, 1, 3, 0), **_WIN)),
    ("reshape", (f64(2, 4),), dict(new_sizes=(3, 3))),
    ("rev", (f64(2, 3),), dict(dimensions=(2,))),
    ("select_and_gather_add", (f64(2, 3, 7, 5), f64(2, 3, 7, 4)),
     dict(window_dimensions=(1, 1, 3, 2), **_WIN)),
    ("select_and_scatter_add", (f64(2, 3, 4, 4), f64(2, 3, 7, 5)),
     dict(window_dimensions=(1, 1, 3, 2), **_WIN)),
    ("slice", (f64(2, 6),), dict(start_indices=(0, 0), limit_indices=(2, 7), strides=(1, 1))),
    ("slice", (f64(2, 6),), dict(start_indices=(0, 3), limit_indices=(2, 2), strides=(1, 1))),
    ("slice", (f64(2, 6),), dict(start_indices=(0, 0), limit_indices=(2, 2), strides=(1, 0))),
    ("transpose", (f64(4, 2),), dict(permutation=(1, 1))),
    ("transpose", (f64(4, 2),), dict(permutation=(0,))),
    ("cond", (np.float64(0.0), f64(3)), _CF["cond"]),
    ("cond", (np.int32(0), f64(4)), _CF["cond"]),
    ("while", (np.int64(0), f64(4)), _CF["while"]),
    ("scan", (f64(3), f64(5, 3)), _CF["scan"]),
    ("jit", (np.ones(3, np.float32),), _CF["jit"]),
    # operands a shape rule refuses (no params)
    ("gather", (f64(4, 2), np.zeros(3)), {}),
    ("gather", (f64(4, 2), i64(3), i64(2)), {}),
    ("scatter_add", (f64(4, 2), f64(2, 2), i64(3)), {}),
    ("scatter", (f64(4, 2), f64(3, 2), np.zeros(3)), {}),
    ("solve", (f64(3, 3), f64(4)), {}),
    ("cholesky", (f64(3, 2),), {}),
    ("slogdet", (f64(3, 2),), {}),
    ("expm", (f64(3, 2),), {}),
    ("select", (np.ones(3, bool), f64(3), f64(4)), {}),
    ("select", (f64(3), f64(3), f64(3)), {}),
    ("add", (f64(3), f64(2, 3)), {}),
    ("mul", (f64(3), np.ones(3, np.float32)), {}),
    ("atan2", (f64(3), f64(1)), {}),
    ("max", (f64(3), i64(3)), {}),
    ("eq", (f64(3), f64(4)), {}),
    ("and", (f64(3), f64(3)), {}),
    ("not", (f64(3),), {}),
    ("rem", (np.ones(3, complex), np.ones(3, complex)), {}),
    ("sub", (np.ones(3, bool), np.ones(3, bool)), {}),
    ("pow", (np.ones(3, bool), np.ones(3, bool)), {}),
    ("div", (np.ones(3, bool), np.ones(3, bool)), {}),
    ("atan2", (i64(3), i64(3)), {}),
    ("real", (f64(3),), {}),
    ("betainc", (f64(3), f64(3), f64(2)), {}),
    ("igamma", (f64(3), f64(2)), {}),
]

# Primitives whose params cannot be wrong in a way a shape rule could see: a name, a
# callback or the custom rules, all taken as given.
# pure_callback's params are built (and checked) by fg.pure_callback from the user's call.
NO_BAD_PARAMS = {"name", "debug_callback", "custom_jvp_call", "custom_vjp_call", "pure_callback"}


BAD += [
    ("sort", (f64(3),), dict(dimension=2, is_stable=True, num_keys=1)),
    ("sort", (f64(3),), dict(dimension=0, is_stable=True, num_keys=2)),
    ("eigh", (f64(2, 3),), dict(lower=True)),
    ("svd", (f64(3),), dict(full_matrices=True, compute_uv=True)),
    ("qr", (f64(3),), dict(full_matrices=False)),
    ("eig", (f64(2, 3),), dict(compute_eigenvectors=True)),
    ("fft", (np.ones(4, complex),), dict(fft_type=FftType.RFFT, fft_lengths=(4,))),
]


def _case_id(case: tuple[str, tuple[Any, ...], dict[str, Any]]) -> str:
    return case[0]


@pytest.mark.parametrize("case", BAD, ids=_case_id)
def test_eager_refuses_what_staging_refuses(case: tuple[str, tuple[Any, ...], dict[str, Any]]
                                            ) -> None:
    name, args, params = case
    prim = P[name]
    with pytest.raises((TypeError, ValueError)) as staged:
        fg.make_jaxpr(lambda *a: prim.bind(*a, **params))(*args)
    with pytest.raises((TypeError, ValueError)) as eager:
        prim.bind(*args, **params)
    assert type(eager.value) is type(staged.value)
    message = str(eager.value)
    assert name in message.splitlines()[0], message
    assert f"{THIS_FILE}:" in message, message


def test_every_primitive_with_params_in_the_spec_table_has_a_bad_case() -> None:
    rng = np.random.default_rng(0)
    with_params = set()
    for spec in all_specs():
        for eqn in fg.make_jaxpr(spec.fn)(*spec.args(rng)).jaxpr.eqns:
            if eqn.params:
                with_params.add(eqn.primitive.name)
    missing = with_params - {c[0] for c in BAD} - NO_BAD_PARAMS
    assert not missing, sorted(missing)


def test_issue_repro_pad_eager_and_staged() -> None:
    bad = [(1, 1, 0), (1, 1, 0)]
    with pytest.raises(ValueError, match=r"pad: padding_config has 2 entries .* \(3,\)"):
        fg.lax.pad(np.ones(3), 0.0, bad)
    with pytest.raises(ValueError, match=r"pad: padding_config has 2 entries"):
        fg.make_jaxpr(lambda x: fg.lax.pad(x, 0.0, bad))(np.ones(3))
    with pytest.raises(ValueError, match=r"pad: padding_config has 2 entries"):
        fg.grad(lambda x: fnp.sum(fg.lax.pad(x, 0.0, bad)))(np.ones(3))
    np.testing.assert_array_equal(fg.lax.pad(np.ones(2), 0.0, [(1, 0, 1)]), [0, 1, 0, 1])


def test_a_good_call_is_cached_and_a_bad_one_still_raises() -> None:
    x = np.arange(6.0).reshape(2, 3)
    for _ in range(2):
        np.testing.assert_array_equal(fg.lax.transpose(x, (1, 0)), x.T)
        with pytest.raises(ValueError, match="transpose"):
            P["transpose"].bind(x, permutation=(0, 0))
    # a new shape is checked on its own (the cache is keyed by the operand types)
    with pytest.raises(ValueError, match="transpose"):
        P["transpose"].bind(np.ones((2, 3, 4)), permutation=(1, 0))


def test_lax_binary_ops_do_not_broadcast_eagerly() -> None:
    with pytest.raises(ValueError, match=r"add: .*\(3,\) and \(2, 3\)"):
        fg.lax.add(np.ones(3), np.ones((2, 3)))
    with pytest.raises(TypeError, match="mul requires equal dtypes"):
        fg.lax.mul(np.ones(3), np.ones(3, np.float32))
    # fnp inserts NumPy's broadcasts and promotions, so its functions still broadcast
    np.testing.assert_array_equal(fnp.add(np.ones(3), np.ones((2, 3))), np.full((2, 3), 2.0))
    assert fnp.multiply(np.ones(3), np.ones(3, np.float32)).dtype == np.float64
