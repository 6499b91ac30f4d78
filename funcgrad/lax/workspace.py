"""Reused buffers for the big temporaries and outputs of the conv, pooling and dot kernels.

On this kind of machine (a VM sharing its host) first touching fresh memory is expensive:
a new 75 MB im2col buffer costs 10-300 ms of page faults, against 10 ms for the copy into a
buffer touched before. ``empty(shape, dtype)`` is ``np.empty`` served from a small pool of
buffers per (shape, dtype) that nobody references any more (CPython's reference count: an
array handed out, or any view of it, keeps its buffer taken), so a training loop's steady
state allocates nothing large. Only buffers of at least ``MIN_BYTES`` are pooled, at most
``PER_KEY`` per key and ``MAX_BYTES`` in all; past that, plain ``np.empty``. Thread-safe.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

MIN_BYTES = 1 << 20
PER_KEY = 4
MAX_BYTES = 1 << 30

_pool: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
_pooled_bytes = 0
_lock = threading.Lock()


def empty(shape: Sequence[int], dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array, reused from the pool when one is free.

    >>> a = empty((512, 1024), np.float32)
    >>> del a
    >>> empty((512, 1024), np.float32).shape
    (512, 1024)
    """
    global _pooled_bytes
    dt = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dt)
    key = (shape, dt.str)
    with _lock:
        bufs = _pool.setdefault(key, [])
        for buf in bufs:
            # referenced by the list, the loop variable and getrefcount's argument only
            if sys.getrefcount(buf) == 3:
                return buf
        out = np.empty(shape, dt)
        if len(bufs) < PER_KEY and _pooled_bytes + nbytes <= MAX_BYTES:
            bufs.append(out)
            _pooled_bytes += nbytes
        return out


def zeros(shape: Sequence[int], dtype: Any) -> np.ndarray:
    """``empty`` filled with zeros."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def contiguous(x: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray`` into a pooled buffer."""
    if x.flags.c_contiguous:
        return x
    out = empty(x.shape, x.dtype)
    np.copyto(out, x)
    return out


def clear() -> None:
    """Drop every pooled buffer (tests, or to give the memory back)."""
    global _pooled_bytes
    with _lock:
        _pool.clear()
        _pooled_bytes = 0
