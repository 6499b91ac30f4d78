"""Dense linear algebra primitives: ``cholesky``, ``solve`` and ``slogdet``.

Each impl is ``numpy.linalg``'s, batched over leading axes (``(..., n, n)`` matrices), so the
batching rules just move the batch axis to the front. Everything else is a composite in
``funcgrad.numpy.linalg``: ``inv(a) = solve(a, I)``, ``det = sign * exp(logabsdet)``. Real
floating dtypes only. The rules are matrix calculus written with funcgrad primitives (so they
differentiate again), with ``solve`` standing in for triangular solves:

- ``solve``: ``x = A^-1 b``; ``dx = A^-1 (db - dA x)``; ``ct_b = A^-T ct``, ``ct_A = -ct_b x^T``.
- ``slogdet``: ``d logabsdet = tr(A^-1 dA)``; ``ct_A = ct A^-T``; the sign is locally constant.
- ``cholesky`` reads the lower triangle of its input, as LAPACK, i.e. it factors
  ``S(A) = tril(A) + tril(A, -1)^T``. With ``L = chol(S(A))``:
  ``dL = L Phi(L^-1 S(dA) L^-T)`` where ``Phi`` keeps the lower triangle and halves the
  diagonal (Murray 2016, as JAX); the VJP is its adjoint,
  ``ct_A = S^T(L^-T Phi(L^T ct) L^-1)`` with ``S^T(G) = tril(G) + tril(G^T, -1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, ShapeError
from funcgrad.core.primitive import Primitive
from funcgrad.lax.dot import dot_general
from funcgrad.lax.elementwise import add, div, mul, neg
from funcgrad.lax.reductions import reduce_sum
from funcgrad.lax.structural import broadcast_in_dim, transpose
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import bdim_at_front, moveaxis

# == helpers (written with primitives: they run inside rules) =================================


def _check_matrix(x: ShapedArray, name: str) -> int:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{name}: expected square matrices of shape (..., n, n), got "
                         f"{x.shape}")
    if x.dtype.kind != "f":
        raise FuncgradTypeError(f"{name}: expected a real floating dtype, got {x.dtype}")
    return x.shape[-1]


def _mT(x: Any) -> Any:
    """Swap the last two axes."""
    nd = get_aval(x).ndim
    return transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _matmul(a: Any, b: Any) -> Any:
    """``a @ b`` for stacks with equal leading (batch) axes."""
    nd = get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _const(mask: np.ndarray, like: Any) -> np.ndarray:
    aval = get_aval(like)
    return np.broadcast_to(mask.astype(aval.dtype), aval.shape)


def _masked(x: Any, mask: np.ndarray) -> Any:
    return mul(x, _const(mask, x))


def _tril_mask(n: int, k: int = 0) -> np.ndarray:
    return np.tri(n, n, k, dtype=bool)


def _identity_like(a: Any) -> np.ndarray:
    aval = get_aval(a)
    return np.broadcast_to(np.eye(aval.shape[-1], dtype=aval.dtype), aval.shape)


# == solve ====================================================================================

solve_p = Primitive("solve")


def _solve_abstract_eval(a: ShapedArray, b: ShapedArray) -> ShapedArray:
    n = _check_matrix(a, "solve")
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != n:
        raise ShapeError(f"solve: the right-hand side must have shape (..., {n}, k) with the "
                         f"batch axes of a {a.shape}, got {b.shape}")
    if a.dtype != b.dtype:
        raise FuncgradTypeError(f"solve requires equal dtypes, got {a.dtype} and {b.dtype}")
    return ShapedArray(b.shape, b.dtype)


solve_p.def_impl(lambda a, b: np.linalg.solve(a, b))
solve_p.def_abstract_eval(_solve_abstract_eval)
codegen.def_impl_call(solve_p)


def solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` for ``a`` of shape ``(..., n, n)`` and ``b`` of shape ``(..., n, k)``.

    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([[2.0], [2.0]]))
    array([[1. ],
           [0.5]])
    """
    _solve_abstract_eval(get_aval(a), get_aval(b))  # eager binds skip shape rules: check now
    return solve_p.bind(a, b)


def _solve_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    (a, b), (a_dot, b_dot) = primals, tangents
    x = solve_p.bind(a, b)
    rhs = None if a_dot is None else neg(_matmul(a_dot, x))
    rhs = ad.add_tangents(rhs, b_dot)
    return x, solve(a, rhs)


def _solve_vjp(ct: Any, x: Any, primals: Sequence[Any], needs: Sequence[bool],
               **params: Any) -> list[Any]:
    a, _ = primals
    ct_b = solve(_mT(a), ct)
    return [neg(_matmul(ct_b, _mT(x))) if needs[0] else None, ct_b if needs[1] else None]


def _solve_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    size = batching.batch_size(args, dims)
    a, b = (bdim_at_front(x, d, size) for x, d in zip(args, dims))
    return solve(a, b), 0


ad.jvp_rules[solve_p] = _solve_jvp
ad.vjp_rules[solve_p] = _solve_vjp
batching.batch_rules[solve_p] = _solve_batch


# == slogdet ==================================================================================

slogdet_p = Primitive("slogdet", multiple_results=True)


def _slogdet_abstract_eval(a: ShapedArray) -> list[ShapedArray]:
    _check_matrix(a, "slogdet")
    out = ShapedArray(a.shape[:-2], a.dtype)
    return [out, out]


slogdet_p.def_impl(lambda a: list(np.linalg.slogdet(a)))
slogdet_p.def_abstract_eval(_slogdet_abstract_eval)
codegen.def_impl_call(slogdet_p)


def slogdet(a: Any) -> tuple[Any, Any]:
    """``(sign, log|det a|)`` of square matrices ``(..., n, n)``.

    >>> slogdet(np.array([[-2.0, 0.0], [0.0, 3.0]]))
    (array(-1.), array(1.79175947))
    """
    _check_matrix(get_aval(a), "slogdet")
    sign, logabsdet = slogdet_p.bind(a)
    return sign, logabsdet


def _trace_last2(x: Any) -> Any:
    nd = get_aval(x).ndim
    return reduce_sum(_masked(x, np.eye(get_aval(x).shape[-1], dtype=bool)), (nd - 2, nd - 1))


def _slogdet_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
    (a,), (a_dot,) = primals, tangents
    sign, logdet = slogdet_p.bind(a)
    return [sign, logdet], [None, _trace_last2(solve(a, a_dot))]


def _slogdet_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                 **params: Any) -> list[Any]:
    (a,), ct = primals, cts[1]
    if ct is None:
        return [None]
    inv_t = solve(_mT(a), _identity_like(a))  # A^-T
    shape = get_aval(a).shape
    return [mul(broadcast_in_dim(ct, shape, tuple(range(len(shape) - 2))), inv_t)]


def _slogdet_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[list, list]:
    return slogdet_p.bind(moveaxis(args[0], dims[0], 0)), [0, 0]


ad.jvp_rules[slogdet_p] = _slogdet_jvp
ad.vjp_rules[slogdet_p] = _slogdet_vjp
batching.batch_rules[slogdet_p] = _slogdet_batch


# == cholesky =================================================================================

cholesky_p = Primitive("cholesky")


def _cholesky_impl(a: np.ndarray) -> np.ndarray:
    # As JAX: a matrix that is not positive definite factors to NaNs instead of raising.
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        flat = a.reshape((-1, *a.shape[-2:]))
        out = np.full(flat.shape, np.nan, a.dtype)
        for i, m in enumerate(flat):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                pass
        return out.reshape(a.shape)


def _cholesky_abstract_eval(a: ShapedArray) -> ShapedArray:
    _check_matrix(a, "cholesky")
    return ShapedArray(a.shape, a.dtype)


cholesky_p.def_impl(_cholesky_impl)
cholesky_p.def_abstract_eval(_cholesky_abstract_eval)
codegen.def_impl_call(cholesky_p)


def cholesky(x: Any, *, symmetrize_input: bool = True) -> Any:
    """The lower Cholesky factor ``L`` of symmetric positive-definite ``x`` (``L L^T = x``),
    as ``jax.lax.linalg.cholesky``: with ``symmetrize_input`` it factors ``(x + x^T) / 2``,
    otherwise the lower triangle of ``x``. Not positive definite: NaNs.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    _check_matrix(get_aval(x), "cholesky")
    if symmetrize_input:
        x = div(add(x, _mT(x)), np.full(get_aval(x).shape, 2, get_aval(x).dtype))
    return cholesky_p.bind(x)


def _sym_lower(x: Any) -> Any:
    """``S(x) = tril(x) + tril(x, -1)^T``: the symmetric matrix that ``x``'s lower half means."""
    n = get_aval(x).shape[-1]
    return add(_masked(x, _tril_mask(n)), _mT(_masked(x, _tril_mask(n, -1))))


def _sym_lower_transpose(g: Any) -> Any:
    n = get_aval(g).shape[-1]
    return add(_masked(g, _tril_mask(n)), _masked(_mT(g), _tril_mask(n, -1)))


def _phi(x: Any) -> Any:
    """The lower triangle with the diagonal halved."""
    n = get_aval(x).shape[-1]
    return mul(x, _const(np.tri(n) - 0.5 * np.eye(n), x))


def _cholesky_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    L = cholesky_p.bind(a)
    inner = solve(L, _mT(solve(L, _sym_lower(a_dot))))  # L^-1 S(dA) L^-T
    return L, _matmul(L, _phi(inner))


def _cholesky_vjp(ct: Any, L: Any, primals: Sequence[Any], needs: Sequence[bool],
                  **params: Any) -> list[Any]:
    p = _phi(_matmul(_mT(L), ct))
    left = solve(_mT(L), p)                    # L^-T P
    g = _mT(solve(_mT(L), _mT(left)))          # (L^-T (L^-T P)^T)^T = L^-T P L^-1
    return [_sym_lower_transpose(g)]


def _cholesky_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    return cholesky_p.bind(moveaxis(args[0], dims[0], 0)), 0


ad.jvp_rules[cholesky_p] = _cholesky_jvp
ad.vjp_rules[cholesky_p] = _cholesky_vjp
batching.batch_rules[cholesky_p] = _cholesky_batch

__all__ = ["cholesky", "slogdet", "solve"]
