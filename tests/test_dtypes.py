"""Dtypes NumPy lacks (bfloat16, the float8 family, int4, ...) are refused with a clear
TypeError naming the dtype and what to use instead, wherever a dtype is accepted; NumPy's own
dtypes keep working."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

THIS_FILE = os.path.basename(__file__)

MISSING = ["bfloat16", "float8_e4m3fn", "float8_e5m2", "int4", "uint4",
           ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.int4]

CALLS: dict[str, Callable[[Any], Any]] = {
    "zeros": lambda d: fnp.zeros(3, dtype=d),
    "ones": lambda d: fnp.ones((2, 2), d),
    "full": lambda d: fnp.full(3, 1.0, dtype=d),
    "empty": lambda d: fnp.empty(2, dtype=d),
    "zeros_like": lambda d: fnp.zeros_like(np.ones(2), dtype=d),
    "ones_like": lambda d: fnp.ones_like(np.ones(2), dtype=d),
    "arange": lambda d: fnp.arange(3, dtype=d),
    "linspace": lambda d: fnp.linspace(0.0, 1.0, 3, dtype=d),
    "eye": lambda d: fnp.eye(2, dtype=d),
    "identity": lambda d: fnp.identity(2, dtype=d),
    "asarray": lambda d: fnp.asarray([1.0, 2.0], dtype=d),
    "array": lambda d: fnp.array([1.0, 2.0], dtype=d),
    "astype": lambda d: fnp.astype(np.ones(2), d),
    "traced astype": lambda d: fg.grad(lambda x: fnp.sum(x.astype(d)))(np.ones(2)),
    "staged astype": lambda d: fg.make_jaxpr(lambda x: x.astype(d))(np.ones(2)),
    "convert_element_type": lambda d: fg.lax.convert_element_type(np.ones(2), d),
}


def _name(d: Any) -> str:
    return d if isinstance(d, str) else np.dtype(d).name


@pytest.mark.parametrize("dtype", MISSING, ids=_name)
@pytest.mark.parametrize("call", list(CALLS), ids=str)
def test_dtypes_numpy_lacks_are_refused(call: str, dtype: Any) -> None:
    with pytest.raises(TypeError) as e:
        CALLS[call](dtype)
    message = str(e.value)
    assert _name(dtype) in message, message
    assert ("int8" if "int" in _name(dtype) else "float32") in message, message
    assert THIS_FILE in message, message


def test_an_ml_dtypes_array_from_outside_is_refused() -> None:
    with pytest.raises(TypeError, match="bfloat16 is not supported.*float32"):
        fnp.asarray(np.ones(2, ml_dtypes.bfloat16))


def test_unknown_dtype_names_raise_funcgrad_type_error() -> None:
    with pytest.raises(TypeError, match="'nonsense' not understood") as e:
        fnp.zeros(2, dtype="nonsense")
    assert THIS_FILE in str(e.value)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, "float64", np.int8, "uint8", bool,
                                   np.complex64, int, float])
def test_numpy_dtypes_still_work(dtype: Any) -> None:
    want = np.dtype(dtype)
    assert fnp.zeros(3, dtype).dtype == want
    assert fnp.asarray([1, 0], dtype=dtype).dtype == want
    assert fnp.astype(np.ones(2), dtype).dtype == want
    assert fnp.arange(2, dtype=dtype).dtype == np.arange(2, dtype=dtype).dtype
    np.testing.assert_array_equal(fnp.full(2, 1, dtype), np.full(2, 1, dtype))
