"""Functional, splittable pseudo-random numbers, as ``jax.random``.

A key is a ``uint32[2]`` ndarray. Every draw is a pure function of (key, shape, dtype): the
raw 64-bit words come from NumPy's counter-based Philox bit generator,
``np.random.Philox(key=k0 << 32 | k1 | salt << 64).random_raw(n)``, whose stream is fixed by
the Philox-4x64 algorithm (stable across NumPy versions). ``split`` takes ``2 * num`` raw
words of the parent key (top 32 bits of each); ``fold_in(key, data)`` does the same with
``salt = data + 1``. Floats take the top 53 (float64) or 24 (float32) bits -> ``[0, 1)``.
The streams differ from JAX's threefry streams. There is no global state.

>>> import funcgrad as fg
>>> k = fg.random.key(0)
>>> bool((fg.random.uniform(k, (3,)) == fg.random.uniform(k, (3,))).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import FuncgradValueError as _FgValueError
from funcgrad.core.primitive import Primitive
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis

__all__ = ["PRNGKey", "bernoulli", "exponential", "fold_in", "gumbel", "key", "laplace",
           "normal", "randint", "random_bits_p", "split", "uniform"]

_OUT_DTYPES = (np.dtype(np.uint32), np.dtype(np.float32), np.dtype(np.float64))

random_bits_p = Primitive("random_bits")


def _one_key(k: np.ndarray, n: int, dtype: np.dtype, salt: int) -> np.ndarray:
    seed = (int(k[0]) << 32) | int(k[1]) | (int(salt) << 64)
    raw = np.random.Philox(key=seed).random_raw(n).astype(np.uint64)
    if dtype == np.uint32:
        return (raw >> np.uint64(32)).astype(np.uint32)
    if dtype == np.float32:
        return ((raw >> np.uint64(40)).astype(np.float64) * 2.0 ** -24).astype(np.float32)
    return (raw >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _random_bits_impl(keys: np.ndarray, shape: tuple[int, ...], dtype: np.dtype,
                      salt: int) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.uint32)
    lead = keys.shape[:-1]
    n = int(np.prod(shape, dtype=np.int64))
    flat = keys.reshape(-1, 2)
    out = np.empty((flat.shape[0], n), dtype=dtype)
    for i in range(flat.shape[0]):
        out[i] = _one_key(flat[i], n, dtype, salt)
    return out.reshape(lead + tuple(shape))


random_bits_p.def_impl(_random_bits_impl)
random_bits_p.def_abstract_eval(
    lambda keys, shape, dtype, salt: ShapedArray(tuple(keys.shape[:-1]) + tuple(shape), dtype))
ad.defnondiff(random_bits_p)
codegen.def_impl_call(random_bits_p)


def _random_bits_batch(args: Sequence[Any], dims: Sequence[Any], shape: tuple[int, ...],
                       dtype: np.dtype, salt: int) -> tuple[Any, int]:
    return random_bits_p.bind(moveaxis(args[0], dims[0], 0), shape=shape, dtype=dtype,
                              salt=salt), 0


batching.batch_rules[random_bits_p] = _random_bits_batch


def _check_key(k: Any, name: str = "key") -> Any:
    if isinstance(k, np.ndarray) and (k.shape[-1:] != (2,) or k.dtype != np.uint32):
        raise _FgValueError(f"{name} must be a uint32 array of shape (2,), got "
                            f"{k.dtype}{list(k.shape)}")
    return k


def _shape(shape: int | Sequence[int] | None) -> tuple[int, ...]:
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _bits(k: Any, shape: tuple[int, ...], dtype: Any, salt: int = 0) -> Any:
    dt = np.dtype(dtype)
    if dt not in _OUT_DTYPES:
        raise _FgValueError(f"dtype must be float32 or float64, got {dt}")
    return random_bits_p.bind(_check_key(k), shape=shape, dtype=dt, salt=int(salt))


def key(seed: int) -> np.ndarray:
    """A key from an integer seed: ``uint32[2]`` (high and low 32 bits of the seed).

    >>> key(1)
    array([0, 1], dtype=uint32)
    """
    s = int(seed) & 0xFFFFFFFFFFFFFFFF
    return np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32)


PRNGKey = key


def split(key: Any, num: int = 2) -> Any:
    """``num`` new keys, shape ``(num, 2)``, from raw words of ``key``.

    >>> split(PRNGKey(0), 3).shape
    (3, 2)
    """
    return _bits(key, (int(num), 2), np.uint32)


def fold_in(key: Any, data: int) -> Any:
    """A new key from ``key`` and a concrete integer ``data`` (salted Philox stream).

    >>> bool((fold_in(PRNGKey(0), 1) != fold_in(PRNGKey(0), 2)).any())
    True
    """
    return _bits(key, (2,), np.uint32, salt=int(data) + 1)


def uniform(key: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64,
            minval: Any = 0.0, maxval: Any = 1.0) -> Any:
    """Uniform floats in ``[minval, maxval)``.

    >>> float(uniform(PRNGKey(0), (1000,)).mean()) < 1.0
    True
    """
    u = _bits(key, _shape(shape), dtype)
    if minval == 0.0 and maxval == 1.0:
        return u
    return fnp.asarray(u * (maxval - minval) + minval, dtype=dtype)


def normal(key: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Standard normal draws (Box-Muller on two uniform streams).

    >>> normal(PRNGKey(0), (2, 3)).shape
    (2, 3)
    """
    s = _shape(shape)
    u = _bits(key, (2,) + s, dtype)
    r = fnp.sqrt(-2.0 * fnp.log1p(-u[0]))
    return fnp.asarray(r * fnp.cos(2.0 * np.pi * u[1]), dtype=dtype)


def bernoulli(key: Any, p: Any = 0.5, shape: int | Sequence[int] | None = None) -> Any:
    """Booleans that are True with probability ``p``.

    >>> bernoulli(PRNGKey(0), 0.5, (4,)).dtype
    dtype('bool')
    """
    s = _shape(shape) if shape is not None else np.shape(p)
    return _bits(key, s, np.float64) < p


def randint(key: Any, shape: int | Sequence[int], minval: int, maxval: int,
            dtype: Any = np.int64) -> Any:
    """Integers in ``[minval, maxval)``.

    >>> int(randint(PRNGKey(0), (100,), 0, 3).max()) <= 2
    True
    """
    if int(maxval) <= int(minval):
        raise _FgValueError(f"maxval ({maxval}) must be greater than minval ({minval})")
    u = _bits(key, _shape(shape), np.float64)
    return fnp.asarray(fnp.floor(u * (int(maxval) - int(minval))) + int(minval), dtype=dtype)


def exponential(key: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Exponential(1) draws.

    >>> bool((exponential(PRNGKey(0), (5,)) >= 0).all())
    True
    """
    return -fnp.log1p(-_bits(key, _shape(shape), dtype))


def gumbel(key: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Standard Gumbel draws.

    >>> gumbel(PRNGKey(0), (5,)).shape
    (5,)
    """
    return -fnp.log(exponential(key, shape, dtype))


def laplace(key: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Standard Laplace draws.

    >>> laplace(PRNGKey(0), (5,)).shape
    (5,)
    """
    u = _bits(key, _shape(shape), dtype) - 0.5
    return -fnp.sign(u) * fnp.log1p(-2.0 * fnp.abs(u))
