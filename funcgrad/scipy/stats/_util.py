"""Shared argument handling for ``fg.scipy.stats``."""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp

Array = Any


def promote(*args: Array) -> list[Array]:
    """The arguments as arrays of one floating dtype (integers become float64), broadcast."""
    dtype = fnp.result_type(*args)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return list(fnp.broadcast_arrays(*(fnp.asarray(a, dtype) for a in args)))
