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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.avals import ShapedArray
from funcgrad.core.errors import FuncgradTypeError as _FgTypeError
from funcgrad.core.errors import FuncgradValueError as _FgValueError
from funcgrad.core.primitive import Primitive
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import moveaxis

__all__ = ["PRNGKey", "bernoulli", "beta", "categorical", "chisquare", "choice", "dirichlet",
           "exponential", "fold_in", "gamma", "gumbel", "key", "laplace", "multivariate_normal",
           "normal", "orthogonal", "permutation", "poisson", "rademacher", "randint",
           "random_bits_p", "random_fold_in_p",
           "split", "t", "truncated_normal", "uniform"]

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
    n = math.prod(shape)
    flat = keys.reshape(-1, 2)
    out = np.empty((flat.shape[0], n), dtype=dtype)
    for i in range(flat.shape[0]):
        out[i] = _one_key(flat[i], n, dtype, salt)
    return out.reshape(lead + tuple(shape))


random_bits_p.def_impl(_random_bits_impl)
def _random_bits_abstract_eval(keys: ShapedArray, shape: tuple[int, ...], dtype: np.dtype,
                               salt: int) -> ShapedArray:
    if keys.shape[-1:] != (2,) or keys.dtype != np.uint32:
        raise _FgValueError(f"random_bits: keys must be uint32 of shape (..., 2), got "
                            f"{keys.str_short()}")
    if any(d < 0 for d in shape):
        raise _FgValueError(f"random_bits: shape {shape} has a negative dimension")
    if np.dtype(dtype) not in _OUT_DTYPES:
        raise _FgValueError(f"random_bits: dtype must be one of {_OUT_DTYPES}, got {dtype}")
    return ShapedArray(tuple(keys.shape[:-1]) + tuple(shape), dtype)


random_bits_p.def_abstract_eval(_random_bits_abstract_eval)
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


random_fold_in_p = Primitive("random_fold_in")


def _random_fold_in_impl(keys: np.ndarray, data: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.uint32)
    data = np.asarray(data)
    lead = np.broadcast_shapes(keys.shape[:-1], data.shape)
    flat_keys = np.broadcast_to(keys, lead + (2,)).reshape(-1, 2)
    flat_data = np.broadcast_to(data, lead).reshape(-1)
    out = np.empty((flat_keys.shape[0], 2), np.uint32)
    for i in range(flat_keys.shape[0]):
        out[i] = _one_key(flat_keys[i], 2, np.dtype(np.uint32), int(flat_data[i]) + 1)
    return out.reshape(lead + (2,))


def _random_fold_in_abstract_eval(keys: ShapedArray, data: ShapedArray) -> ShapedArray:
    if keys.dtype != np.uint32 or tuple(keys.shape[-1:]) != (2,):
        raise _FgTypeError(f"fold_in: key must be a uint32 array of shape (..., 2), got "
                           f"{keys.dtype}{list(keys.shape)}")
    if not np.issubdtype(data.dtype, np.integer):
        raise _FgTypeError(f"fold_in: data must be an integer, got dtype {data.dtype}")
    try:
        lead = np.broadcast_shapes(tuple(keys.shape[:-1]), tuple(data.shape))
    except ValueError:
        raise _FgValueError(f"fold_in: key batch shape {tuple(keys.shape[:-1])} and data shape "
                            f"{tuple(data.shape)} do not broadcast") from None
    return ShapedArray(lead + (2,), np.dtype(np.uint32))


random_fold_in_p.def_impl(_random_fold_in_impl)
random_fold_in_p.def_abstract_eval(_random_fold_in_abstract_eval)
ad.defnondiff(random_fold_in_p)
codegen.def_impl_call(random_fold_in_p)


def _random_fold_in_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    # Per example, data broadcasts against the key's batch shape from the right; with the vmap
    # axis moved to the front of both, pad the lower-rank operand's example dims with 1s after
    # the vmap axis so the right alignment survives.
    keys, data = args
    k_dim, d_dim = dims
    k_rank = fnp.ndim(keys) - 1 - (k_dim is not None)     # per-example key batch rank
    d_rank = fnp.ndim(data) - (d_dim is not None)
    rank = max(k_rank, d_rank)
    if k_dim is not None:
        keys = moveaxis(keys, k_dim, 0)
        keys = fnp.reshape(keys, keys.shape[:1] + (1,) * (rank - k_rank) + keys.shape[1:])
    if d_dim is not None:
        data = moveaxis(data, d_dim, 0)
        data = fnp.reshape(data, data.shape[:1] + (1,) * (rank - d_rank) + data.shape[1:])
    if k_dim is None:
        keys = fnp.reshape(keys, (1,) * (rank - k_rank + 1) + tuple(fnp.shape(keys)))
    if d_dim is None:
        data = fnp.reshape(data, (1,) * (rank - d_rank + 1) + tuple(fnp.shape(data)))
    return random_fold_in_p.bind(keys, data), 0


batching.batch_rules[random_fold_in_p] = _random_fold_in_batch


def fold_in(key: Any, data: Any) -> Any:
    """A new key from ``key`` and an integer ``data`` (the Philox stream of ``key`` salted by
    ``data + 1``). ``data`` may be traced (``vmap`` over it, a loop counter under ``jit``), and
    broadcasts against the batch shape of a batch of keys.

    >>> bool((fold_in(PRNGKey(0), 1) != fold_in(PRNGKey(0), 2)).any())
    True
    """
    if isinstance(data, (int, np.integer)) and not isinstance(data, (bool, np.bool_)):
        data = np.int64(data)
    elif isinstance(data, float):
        raise _FgTypeError(f"fold_in: data must be an integer, got {data!r}")
    return random_fold_in_p.bind(_check_key(key), fnp.asarray(data))


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


# == composite samplers (exact compositions of fg.numpy / lax: vmap, jit and staging for free) ==

def _erfinv(y: Any) -> Any:
    """``erf^-1`` for ``-1 <= y <= 1``: Giles' single-precision polynomial, then two Newton
    steps on ``lax.erf`` where ``|y| < 1 - 1e-8`` (float64-exact to ~1e-12 there; nearer the
    ends erf's rounding next to 1 would spoil Newton, and the polynomial's ~1e-7 stands)."""
    w = -fnp.log1p(-y * y)
    wc = w - 2.5
    p = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p = c + p * wc
    wt = fnp.sqrt(fnp.maximum(w, 5.0)) - 3.0
    q = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        q = c + q * wt
    x = fnp.where(w < 5.0, p, q) * y
    inner = fnp.abs(y) < 1.0 - 1e-8
    for _ in range(2):
        step = (lax.erf(x) - y) * (0.5 * np.sqrt(np.pi)) * fnp.exp(fnp.minimum(x * x, 700.0))
        x = fnp.where(fnp.isfinite(step) & inner, x - step, x)
    # tails: Newton on log erfc(|x|) = log(1 - |y|), erfc by its continued fraction (x > 4)
    ax = fnp.maximum(fnp.abs(x), 4.0)
    target = fnp.log1p(-fnp.minimum(fnp.abs(y), 1.0 - 1e-300))
    for _ in range(3):
        t = ax
        for n in range(40, 0, -1):
            t = ax + (0.5 * n) / t
        g = -ax * ax - 0.5 * np.log(np.pi) - fnp.log(t) - target   # log erfc(ax) - target
        ax = fnp.maximum(ax + g / (2.0 * t), 4.0)   # d/dx log erfc = -2 / (sqrt(pi) e^x^2 erfc)
    tail = fnp.sign(y) * ax
    return fnp.where(inner, x, fnp.where(fnp.abs(y) >= 1.0, fnp.sign(y) * np.inf, tail))


def truncated_normal(key: Any, lower: Any = -2.0, upper: Any = 2.0,
                     shape: int | Sequence[int] | None = None, dtype: Any = np.float64) -> Any:
    """Standard normal draws conditioned on ``lower < x < upper`` (inverse CDF, as JAX).

    ``shape`` defaults to the broadcast shape of ``lower`` and ``upper``.

    >>> x = truncated_normal(PRNGKey(0), -1.0, 1.0, (100,))
    >>> bool((x > -1).all() and (x < 1).all())
    True
    """
    s = _shape(shape) if shape is not None else np.broadcast_shapes(np.shape(lower),
                                                                    np.shape(upper))
    dt = np.dtype(dtype)
    a = lax.erf(fnp.asarray(lower, dtype=dt) / np.sqrt(2.0))
    b = lax.erf(fnp.asarray(upper, dtype=dt) / np.sqrt(2.0))
    u = a + _bits(key, s, dt) * (b - a)
    x = np.sqrt(2.0) * _erfinv(u)
    lo = fnp.asarray(lower, dtype=dt)
    hi = fnp.asarray(upper, dtype=dt)
    return fnp.asarray(fnp.clip(x, _inside(lo, 1.0), _inside(hi, -1.0)), dtype=dt)


def _inside(b: Any, direction: float) -> Any:
    """``b`` moved a few ulps toward ``direction`` (infinite bounds stay)."""
    fin = fnp.isfinite(b)
    bf = fnp.where(fin, b, 0.0)
    eps = np.finfo(np.result_type(b)).eps
    return fnp.where(fin, bf + direction * eps * fnp.maximum(fnp.abs(bf), 1.0), b)


def rademacher(key: Any, shape: int | Sequence[int], dtype: Any = np.int64) -> Any:
    """-1 or +1 with equal probability.

    >>> sorted(set(rademacher(PRNGKey(0), (50,)).tolist()))
    [-1, 1]
    """
    return fnp.asarray(fnp.where(_bits(key, _shape(shape), np.float64) < 0.5, -1, 1),
                       dtype=dtype)


def categorical(key: Any, logits: Any, axis: int = -1,
                shape: int | Sequence[int] | None = None) -> Any:
    """Indices drawn with probabilities ``softmax(logits, axis)`` (Gumbel-max, as JAX).

    ``shape`` must end with the batch shape of ``logits`` (its shape without ``axis``); it
    defaults to that batch shape.

    >>> int(categorical(PRNGKey(0), np.log(np.array([0.0, 1.0, 0.0]))))
    1
    """
    logits = fnp.asarray(logits)
    nd = fnp.ndim(logits)
    if nd == 0:
        raise _FgValueError("categorical: logits must have at least one axis, got a scalar")
    ax = axis % nd
    batch = tuple(d for i, d in enumerate(fnp.shape(logits)) if i != ax)
    s = batch if shape is None else _shape(shape)
    if s[len(s) - len(batch):] != batch:
        raise _FgValueError(f"categorical: shape {s} must end with the batch shape {batch} of "
                            f"logits {tuple(fnp.shape(logits))} (axis {axis})")
    lg = fnp.moveaxis(logits, ax, -1)
    k = fnp.shape(logits)[ax]
    g = gumbel(key, s + (k,), np.float64)
    return fnp.argmax(g + lg, axis=-1)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True, p: Any = None,
           axis: int = 0) -> Any:
    """Draws from ``a`` (an int ``n`` means ``arange(n)``) along ``axis``, uniformly or with
    probabilities ``p``; ``replace=False`` draws distinct entries (Gumbel top-k).

    >>> choice(PRNGKey(0), 5, (3,), replace=False).shape
    (3,)
    """
    s = _shape(shape)
    if isinstance(a, (int, np.integer)):
        n = int(a)
        arr = None
    else:
        arr = fnp.asarray(a)
        if fnp.ndim(arr) == 0:
            raise _FgValueError("choice: a must be an int or an array with at least one axis")
        n = fnp.shape(arr)[axis]
    m = math.prod(s)
    if n == 0 and m > 0:
        raise _FgValueError("choice: a is empty but shape asks for draws")
    if not replace and m > n:
        raise _FgValueError(f"choice: cannot take {m} draws from {n} entries without "
                            f"replacement")
    logp = fnp.zeros((n,)) if p is None else fnp.log(fnp.asarray(p, dtype=np.float64))
    if p is not None and tuple(fnp.shape(logp)) != (n,):
        raise _FgValueError(f"choice: p must have shape ({n},), got {tuple(fnp.shape(p))}")
    if replace:
        idx = categorical(key, logp, shape=s)
    else:
        g = gumbel(key, (n,), np.float64) + logp
        idx = fnp.reshape(_argsort_desc(g)[:m], s)
    if arr is None:
        return idx
    return fnp.take(arr, idx, axis=axis)


def _argsort_desc(x: Any) -> Any:
    """Indices sorting a 1-d ``x`` descending (ties by index), as rank counting: ``O(n^2)``
    memory, composed of comparisons so it stages and vmaps."""
    n = fnp.shape(x)[0]
    i = np.arange(n)
    beats = (x[None, :] > x[:, None]) | ((x[None, :] == x[:, None]) & (i[None, :] < i[:, None]))
    rank = fnp.sum(fnp.asarray(beats, dtype=np.int64), axis=1)  # rank of x[j] in the order
    onehot = fnp.asarray(rank[None, :] == i[:, None], dtype=np.int64)  # [r, j]
    return fnp.sum(onehot * i[None, :], axis=1)


def multivariate_normal(key: Any, mean: Any, cov: Any,
                        shape: int | Sequence[int] | None = None,
                        dtype: Any = np.float64) -> Any:
    """Draws from ``N(mean, cov)`` through the Cholesky factor of ``cov``.

    ``shape`` is the batch shape (default: broadcast batch of ``mean`` and ``cov``); the
    result has shape ``shape + mean.shape[-1:]``.

    >>> multivariate_normal(PRNGKey(0), np.zeros(2), np.eye(2), (5,)).shape
    (5, 2)
    """
    mean = fnp.asarray(mean, dtype=dtype)
    cov = fnp.asarray(cov, dtype=dtype)
    ms, cs = tuple(fnp.shape(mean)), tuple(fnp.shape(cov))
    if len(ms) < 1 or len(cs) < 2 or cs[-1] != cs[-2] or cs[-1] != ms[-1]:
        raise _FgValueError(f"multivariate_normal: mean (..., n) and cov (..., n, n) expected, "
                            f"got mean {ms} and cov {cs}")
    s = (_shape(shape) if shape is not None else np.broadcast_shapes(ms[:-1], cs[:-2]))
    chol = fnp.linalg.cholesky(cov)
    z = normal(key, s + ms[-1:], dtype)
    return fnp.asarray(mean + fnp.einsum("...ij,...j->...i", chol, z), dtype=dtype)


def orthogonal(key: Any, n: int, shape: Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Haar-distributed ``n x n`` orthogonal matrices, shape ``shape + (n, n)``.

    The Q of a Gaussian matrix's QR with positive ``diag(R)``: ``R`` is the transposed
    Cholesky factor of ``A^T A`` and ``Q = A R^-1`` (computed in float64).

    >>> q = orthogonal(PRNGKey(0), 3)
    >>> bool(np.allclose(q.T @ q, np.eye(3)))
    True
    """
    z = normal(key, _shape(shape) + (int(n), int(n)), np.float64)
    return fnp.asarray(_q_factor(z), dtype=dtype)


def _q_factor(a: Any) -> Any:
    """Q of the QR of tall ``a`` (..., m, k), ``m >= k``, with positive ``diag(R)``."""
    at = fnp.swapaxes(a, -1, -2)
    chol = fnp.linalg.cholesky(at @ a)
    q = fnp.swapaxes(fnp.linalg.solve(chol, at), -1, -2)
    # one re-orthogonalisation pass (Cholesky-QR2) for A^T A's squared condition number
    qt = fnp.swapaxes(q, -1, -2)
    chol2 = fnp.linalg.cholesky(qt @ q)
    return fnp.swapaxes(fnp.linalg.solve(chol2, qt), -1, -2)


def permutation(key: Any, x: Any, axis: int = 0) -> Any:
    """A random permutation of ``arange(x)`` (int ``x``) or of ``x`` along ``axis``.

    The order is the rank order of i.i.d. uniform draws (ties broken by index); the ranking is
    an ``O(n^2)``-memory comparison count, so it stages and vmaps but suits ``n`` up to a few
    thousand (see the issue note).

    >>> sorted(permutation(PRNGKey(0), 5).tolist())
    [0, 1, 2, 3, 4]
    """
    if isinstance(x, (int, np.integer)):
        return _argsort_desc(_bits(key, (int(x),), np.float64))
    arr = fnp.asarray(x)
    if fnp.ndim(arr) == 0:
        raise _FgValueError("permutation: x must be an int or an array with at least one axis")
    idx = _argsort_desc(_bits(key, (fnp.shape(arr)[axis],), np.float64))
    return fnp.take(arr, idx, axis=axis)


_GAMMA_ROUNDS = 16   # Marsaglia-Tsang rounds: P(no acceptance) <= 0.049^16 ~ 1e-21 per draw


def gamma(key: Any, a: Any, shape: int | Sequence[int] | None = None,
          dtype: Any = np.float64) -> Any:
    """Gamma(``a``, 1) draws: Marsaglia-Tsang squeeze-rejection run for 16 candidate rounds in
    parallel (the first accepted candidate wins; every round fails with probability below
    1e-21), boosted by ``U^(1/a)`` for ``a < 1``. No gradient flows to ``a`` (it is held by
    ``stop_gradient``; JAX's implicit reparameterisation is not implemented).

    >>> bool((gamma(PRNGKey(0), 0.5, (10,)) > 0).all())
    True
    """
    from funcgrad import stop_gradient

    dt = np.dtype(dtype)
    a = stop_gradient(fnp.asarray(a, dtype=np.float64))
    s = _shape(shape) if shape is not None else tuple(fnp.shape(a))
    a = fnp.broadcast_to(a, s)
    ab = fnp.where(a < 1.0, a + 1.0, a)
    d = ab - 1.0 / 3.0
    c = 1.0 / fnp.sqrt(9.0 * d)
    k_norm, k_unif, k_boost = split(key, 3)
    z = normal(k_norm, (_GAMMA_ROUNDS,) + s, np.float64)
    u = _bits(k_unif, (_GAMMA_ROUNDS,) + s, np.float64)
    v = 1.0 + c * z
    v3 = fnp.maximum(v, 0.0) ** 3
    ok = (v > 0) & (fnp.log1p(-u) < 0.5 * z * z + d - d * v3 + d * fnp.log(fnp.maximum(v3,
                                                                                   1e-300)))
    first = fnp.argmax(ok, axis=0)                     # the last round if none accepted
    first = fnp.where(fnp.any(ok, axis=0), first, _GAMMA_ROUNDS - 1)
    x = fnp.take_along_axis(d * v3, first[None], axis=0)[0]
    boost = fnp.exp(fnp.log1p(-_bits(k_boost, s, np.float64)) / a)
    return fnp.asarray(fnp.where(a < 1.0, x * boost, x), dtype=dt)


def chisquare(key: Any, df: Any, shape: int | Sequence[int] | None = None,
              dtype: Any = np.float64) -> Any:
    """Chi-square(``df``) draws, ``2 * gamma(df / 2)``.

    >>> chisquare(PRNGKey(0), 3.0, (4,)).shape
    (4,)
    """
    return fnp.asarray(2.0 * gamma(key, fnp.asarray(df) / 2.0, shape, np.float64), dtype=dtype)


def beta(key: Any, a: Any, b: Any, shape: int | Sequence[int] | None = None,
         dtype: Any = np.float64) -> Any:
    """Beta(``a``, ``b``) draws, ``Ga / (Ga + Gb)`` from two independent gamma draws.

    >>> x = beta(PRNGKey(0), 2.0, 3.0, (5,))
    >>> bool(((x > 0) & (x < 1)).all())
    True
    """
    s = (_shape(shape) if shape is not None
         else np.broadcast_shapes(np.shape(a), np.shape(b)))
    ka, kb = split(key)
    ga = gamma(ka, a, s)
    gb = gamma(kb, b, s)
    return fnp.asarray(ga / (ga + gb), dtype=dtype)


def dirichlet(key: Any, alpha: Any, shape: int | Sequence[int] | None = None,
              dtype: Any = np.float64) -> Any:
    """Dirichlet(``alpha``) draws over ``alpha``'s last axis: normalised gamma draws; the result
    has shape ``shape + alpha.shape[-1:]``.

    >>> float(dirichlet(PRNGKey(0), np.ones(3)).sum())
    1.0
    """
    alpha = fnp.asarray(alpha, dtype=np.float64)
    if fnp.ndim(alpha) < 1:
        raise _FgValueError("dirichlet: alpha must have at least one axis (the categories)")
    s = (_shape(shape) if shape is not None else tuple(fnp.shape(alpha))[:-1])
    g = gamma(key, alpha, s + tuple(fnp.shape(alpha))[-1:])
    return fnp.asarray(g / fnp.sum(g, axis=-1, keepdims=True), dtype=dtype)


def t(key: Any, df: Any, shape: int | Sequence[int] = (), dtype: Any = np.float64) -> Any:
    """Student's t(``df``) draws, ``z / sqrt(chi2(df) / df)``.

    >>> t(PRNGKey(0), 3.0, (4,)).shape
    (4,)
    """
    s = _shape(shape)
    kz, kc = split(key)
    df = fnp.asarray(df, dtype=np.float64)
    z = normal(kz, s, np.float64)
    return fnp.asarray(z / fnp.sqrt(chisquare(kc, df, s) / df), dtype=dtype)


_POISSON_KNUTH_TERMS = 64   # P(Poisson(lam < 10) >= 64) < 1e-27: the count never saturates
_POISSON_PTRS_ROUNDS = 32   # PTRS accepts a round with p > 0.86 for lam >= 10: 0.14^32 ~ 5e-28


def poisson(key: Any, lam: Any, shape: int | Sequence[int] | None = None,
            dtype: Any = np.int64) -> Any:
    """Poisson(``lam``) counts. ``lam < 10`` counts uniform products above ``exp(-lam)``
    (Knuth, 64 terms in parallel); ``lam >= 10`` uses Hormann's transformed rejection (PTRS),
    32 candidate rounds in parallel, the first accepted winning (as ``jax.random.poisson``'s
    two regimes, without a data-dependent loop, so it stages, jits and vmaps). Not
    differentiable in ``lam`` (integer output).

    >>> x = poisson(PRNGKey(0), 3.0, (1000,))
    >>> x.dtype, bool(abs(x.mean() - 3.0) < 0.3)
    (dtype('int64'), True)
    """
    from funcgrad import stop_gradient

    lam = stop_gradient(fnp.asarray(lam, dtype=np.float64))
    s = _shape(shape) if shape is not None else tuple(fnp.shape(lam))
    lam = fnp.broadcast_to(lam, s)
    k_knuth, k_u, k_v = split(key, 3)
    # Knuth: X = #{k >= 1 : u_1 * ... * u_k > exp(-lam)}, in log space.
    logu = fnp.log1p(-_bits(k_knuth, (_POISSON_KNUTH_TERMS,) + s, np.float64))
    small = fnp.sum(fnp.cumsum(logu, axis=0) > -lam, axis=0)
    # PTRS (Hormann 1993), with lam clamped into its regime where the small branch is chosen.
    lam_big = fnp.maximum(lam, 10.0)
    slam = fnp.sqrt(lam_big)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    u = _bits(k_u, (_POISSON_PTRS_ROUNDS,) + s, np.float64) - 0.5
    v = _bits(k_v, (_POISSON_PTRS_ROUNDS,) + s, np.float64)
    us = 0.5 - fnp.abs(u)
    k = fnp.floor((2.0 * a / us + b) * u + lam_big + 0.43)
    log_v = (fnp.log(fnp.maximum(v, 1e-300)) + fnp.log(inv_alpha)
             - fnp.log(a / (us * us) + b))
    log_p = -lam_big + k * fnp.log(lam_big) - lax.lgamma(fnp.maximum(k, 0.0) + 1.0)
    quick = (us >= 0.07) & (v <= v_r)
    reject = (k < 0) | ((us < 0.013) & (v > us))
    ok = quick | (~reject & (log_v <= log_p))
    first = fnp.argmax(ok, axis=0)
    big = fnp.take_along_axis(k, first[None], axis=0)[0]
    return fnp.asarray(fnp.where(lam < 10.0, small, big), dtype=dtype)
