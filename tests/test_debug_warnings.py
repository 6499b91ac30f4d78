"""debug_nans/debug_infs report a non-finite value as a FloatingPointError at the user's line,
and NumPy's RuntimeWarnings (which would point into funcgrad's files) do not leak, eager,
under transforms and from jit's generated code alike."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

THIS_FILE = os.path.basename(__file__)

NAN_CASES: dict[str, Callable[[], Any]] = {
    "eager log": lambda: fnp.log(np.array([-1.0])),
    "eager 0/0": lambda: fnp.divide(np.array([0.0]), 0.0),
    "arccos": lambda: fnp.arccos(np.array([2.0])),
    "jit log": lambda: fg.jit(lambda x: fnp.log(x))(np.array([-1.0])),
    "vmap log": lambda: fg.vmap(fnp.log)(np.array([-1.0])),
    "grad log": lambda: fg.grad(lambda x: fnp.sum(fnp.log(x)))(np.array([-1.0])),
    "scan log": lambda: fg.lax.scan(lambda c, x: (c + fnp.log(x), c), 0.0, np.array([-1.0])),
}
INF_CASES: dict[str, Callable[[], Any]] = {
    "eager 1/0": lambda: fnp.divide(np.array([1.0]), 0.0),
    "grad sqrt at 0": lambda: fg.grad(lambda x: fnp.sum(fnp.sqrt(x)))(np.array([0.0])),
    "jit grad sqrt at 0": lambda: fg.jit(fg.grad(lambda x: fnp.sum(fnp.sqrt(x))))(
        np.array([0.0])),
    "jit log 0": lambda: fg.jit(fnp.log)(np.array([0.0])),
}


def _check(flag: str, fun: Callable[[], Any]) -> None:
    fg.config.update(flag, True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a leaked RuntimeWarning fails the test
            with pytest.raises(FloatingPointError) as e:
                fun()
        assert THIS_FILE in str(e.value), str(e.value)
    finally:
        fg.config.update(flag, False)


@pytest.mark.parametrize("name", list(NAN_CASES))
def test_debug_nans_raises_at_user_line_without_warnings(name: str) -> None:
    _check("debug_nans", NAN_CASES[name])


@pytest.mark.parametrize("name", list(INF_CASES))
def test_debug_infs_raises_at_user_line_without_warnings(name: str) -> None:
    _check("debug_infs", INF_CASES[name])


def test_without_debug_flags_results_are_numpys() -> None:
    with np.errstate(all="ignore"):
        assert np.isnan(fnp.log(np.array([-1.0]))).all()
        assert np.isinf(fg.jit(fnp.log)(np.array([0.0]))).all()
