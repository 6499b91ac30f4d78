"""debug_nans/debug_infs name the first equation producing a NaN/Inf, forward and backward,
eager and jitted, with its line and the range of its inputs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp


@pytest.fixture
def checks() -> Iterator[None]:
    fg.config.update("debug_nans", True)
    fg.config.update("debug_infs", True)
    try:
        yield
    finally:
        fg.config.update("debug_nans", False)
        fg.config.update("debug_infs", False)


def forward_nan(x: Any) -> Any:
    y = fnp.exp(x)
    return fnp.sum(fnp.log(y - 2.0))                  # log of a negative: NaN (the 'log' line)


def backward_inf(x: Any) -> Any:
    return fnp.sum(fnp.sqrt(x) * 0.0 + x)            # forward finite; d sqrt at 0 is Inf


def _line_of(fn: Any, text: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_forward_nan_eager_and_jitted(checks: None) -> None:
    x = np.array([0.1, 2.0])
    line = _line_of(forward_nan, "fnp.log")
    with pytest.raises(FloatingPointError, match=r"'log'.*in \[") as eager:
        forward_nan(x)
    assert f"test_nan_pinpointing.py:{line}" in str(eager.value)
    with pytest.raises(FloatingPointError) as jitted:
        fg.jit(forward_nan)(x)
    msg = str(jitted.value)
    assert "'log' produced NaN" in msg and f"test_nan_pinpointing.py:{line}" in msg
    # the input range: exp(x) - 2 spans [exp(0.1) - 2, exp(2) - 2]
    lo, hi = re.search(r"in \[([-\d.e]+), ([-\d.e]+)\]", msg).groups()
    np.testing.assert_allclose([float(lo), float(hi)], [np.exp(0.1) - 2, np.exp(2) - 2],
                               rtol=1e-5)


def test_backward_inf_names_the_rule_and_forward_line(checks: None) -> None:
    x = np.array([0.0, 1.0])
    assert np.isfinite(backward_inf(x))             # the forward pass is clean
    line = _line_of(backward_inf, "fnp.sqrt")
    with pytest.raises(FloatingPointError, match="backward pass") as eager:
        fg.grad(backward_inf)(x)                     # eager: the tape recorded the line
    assert f"backward of sqrt at test_nan_pinpointing.py:{line}" in str(eager.value)
    with pytest.raises(FloatingPointError) as jitted:
        fg.jit(fg.grad(backward_inf))(x)
    assert f"backward of sqrt at test_nan_pinpointing.py:{line}" in str(jitted.value)


def test_off_by_default_costs_nothing() -> None:
    assert not fg.config.debug_nans and not fg.config.debug_infs
    assert np.isnan(fg.jit(forward_nan)(np.array([0.1])))
