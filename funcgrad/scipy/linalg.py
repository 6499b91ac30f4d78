"""``fg.scipy.linalg``: ``jax.scipy.linalg``'s factorizations and solvers, composed.

NumPy has no triangular solve and no LU, so:

- ``solve_triangular`` is ``lax.linalg.solve`` on the masked triangle, with a lower triangle
  flipped to an upper one first (``J L J`` is upper triangular for the reversal ``J``): LAPACK's
  LU of an upper-triangular matrix pivots nowhere and has ``L = I``, so the solve is exactly
  back substitution. Its gradients are ``solve``'s, masked to the triangle by the composition.
- ``lu_factor``/``lu`` are right-looking Gaussian elimination with partial pivoting (LAPACK's
  ``getf2`` order, so the pivots agree), unrolled over the ``n`` columns in primitives: the
  pivot choice is piecewise constant, so the elimination differentiates exactly, to any order,
  batches under ``vmap`` and stages under ``make_jaxpr``. About 15 primitives a column.
- ``expm`` is the ``fg.lax.special.expm`` primitive (Pade 13 with scaling and squaring).

Matrices are stacks ``(..., n, n)``; square LU only. Real floating dtypes.

>>> import numpy as np
>>> solve_triangular(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([2.0, 3.0]), lower=True)
array([1., 2.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.lax import linalg as lax_linalg
from funcgrad.lax import special as _sp
from funcgrad.numpy import linalg as fnp_linalg

Array = Any

__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "det", "expm", "inv", "lu",
           "lu_factor", "lu_solve", "solve", "solve_triangular"]


def _matrices(a: Array, name: str) -> Array:
    x = fnp.asarray(a)
    if x.dtype.kind == "c":
        raise FuncgradTypeError(at_user_line(
            f"scipy.linalg.{name}: complex matrices are not supported, got dtype {x.dtype}"))
    if x.dtype.kind != "f":
        x = fnp.asarray(x, np.float64)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(at_user_line(
            f"scipy.linalg.{name}: expected square matrices of shape (..., n, n), got "
            f"{x.shape}"))
    return x


def _mT(x: Array) -> Array:
    return fnp.swapaxes(x, -1, -2)


def _rhs(a: Array, b: Array, name: str) -> tuple[Array, Array, bool]:
    """``(a, b)`` broadcast to common batch axes, ``b`` as ``(..., n, k)``; and whether ``b``
    was a vector."""
    b = fnp.asarray(b)
    dtype = fnp.result_type(a, b)
    a, b = fnp.asarray(a, dtype), fnp.asarray(b, dtype)
    n = a.shape[-1]
    vector = b.ndim == a.ndim - 1 or b.ndim == 1
    if vector:
        b = fnp.expand_dims(b, -1)
    if b.ndim < 2 or b.shape[-2] != n:
        raise ShapeError(at_user_line(
            f"scipy.linalg.{name}: b must have shape (..., {n}) or (..., {n}, k) for a of "
            f"shape {a.shape}, got {fnp.asarray(b).shape if not vector else b.shape[:-1]}"))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return (fnp.broadcast_to(a, (*batch, n, n)),
            fnp.broadcast_to(b, (*batch, n, b.shape[-1])), vector)


def _trans_code(trans: Any) -> int:
    codes = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}
    if trans not in codes:
        raise FuncgradTypeError(at_user_line(
            f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}"))
    return codes[trans]


def solve_triangular(a: Array, b: Array, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     debug: Any = None, check_finite: bool = True) -> Array:
    """Solve ``op(a) x = b`` reading only one triangle of ``a``, as
    ``jax.scipy.linalg.solve_triangular``.

    Args:
      a: triangular matrices ``(..., n, n)``; the other triangle is ignored.
      b: right-hand sides ``(..., n)`` or ``(..., n, k)``.
      trans: ``0``/``'N'``: ``a x = b``; ``1``/``'T'`` and ``2``/``'C'``: ``a^T x = b``.
      lower: use the lower triangle (else the upper).
      unit_diagonal: assume ones on the diagonal (the stored diagonal is ignored).
      overwrite_b, debug, check_finite: accepted for SciPy compatibility; unused.

    Returns:
      ``x`` shaped like ``b``.

    >>> import numpy as np
    >>> solve_triangular(np.array([[2.0, 1.0], [0.0, 4.0]]), np.array([3.0, 4.0]))
    array([1., 1.])
    """
    a = _matrices(a, "solve_triangular")
    a, b, vector = _rhs(a, b, "solve_triangular")
    n = a.shape[-1]
    tri = fnp.tril(a) if lower else fnp.triu(a)
    if unit_diagonal:
        eye = np.eye(n, dtype=a.dtype)
        tri = tri * (1 - eye) + eye
    if _trans_code(trans):
        tri, lower = _mT(tri), not lower
    if lower:  # J L J is upper triangular: solve (J L J)(J x) = J b
        x = fnp.flip(lax_linalg.solve(fnp.flip(tri, (-2, -1)), fnp.flip(b, -2)), -2)
    else:
        x = lax_linalg.solve(tri, b)
    return fnp.squeeze(x, -1) if vector else x


def cholesky(a: Array, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Array:
    """The Cholesky factor of a symmetric positive-definite ``a``, reading one triangle:
    ``U`` with ``U^T U = a`` (default), or ``L`` with ``L L^T = a`` (``lower=True``).

    >>> import numpy as np
    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    a = _matrices(a, "cholesky")
    factor = lax_linalg.cholesky(a if lower else _mT(a), symmetrize_input=False)
    return factor if lower else _mT(factor)


def cho_factor(a: Array, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Array, bool]:
    """``(c, lower)`` for ``cho_solve``: the Cholesky factor (zeros in the other triangle).

    >>> import numpy as np
    >>> cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]), lower=True)[0]
    array([[2., 0.],
           [1., 2.]])
    """
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower: tuple[Array, bool], b: Array, overwrite_b: bool = False,
              check_finite: bool = True) -> Array:
    """Solve ``a x = b`` given ``cho_factor(a)``.

    >>> import numpy as np
    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> cho_solve(cho_factor(a), a @ np.array([1.0, -1.0]))
    array([ 1., -1.])
    """
    c, lower = c_and_lower
    if lower:
        y = solve_triangular(c, b, lower=True)
        return solve_triangular(c, y, trans=1, lower=True)
    y = solve_triangular(c, b, trans=1, lower=False)
    return solve_triangular(c, y, lower=False)


# == LU =======================================================================================

# Index grids are iota primitives, not captured NumPy constants: staged, an LU is equations only.

def _grid(n: int, axis: int) -> Array:
    return lax.broadcasted_iota(np.int32, (n, n), axis)


def _swap_rows(x: Array, k: int, p: Array) -> Array:
    """Rows ``k`` and ``p`` (an integer per matrix or vector of the stack) of ``x`` exchanged;
    row ``p`` is read by a one-hot masked sum (exact: one term, the rest zeros)."""
    if x.ndim == p.ndim + 2:  # a stack of matrices
        idx, rows, axis = fnp.reshape(p, (*p.shape, 1, 1)), _grid(x.shape[-2], 0)[:, :1], -2
        row_k = x[..., k:k + 1, :]
    else:  # a stack of vectors (permutations)
        idx, rows, axis = fnp.reshape(p, (*p.shape, 1)), lax.iota(np.int32, x.shape[-1]), -1
        row_k = x[..., k:k + 1]
    at_p = rows == idx
    row_p = fnp.sum(fnp.where(at_p, x, 0), axis=axis, keepdims=True)
    return fnp.where(rows == k, row_p, fnp.where(at_p, row_k, x))


def _lu(a: Array) -> tuple[Array, Array, Array]:
    """``(lu, pivots, permutation)`` of square matrices by Gaussian elimination with
    partial pivoting (``a[perm] = L U``)."""
    n = a.shape[-1]
    batch = a.shape[:-2]
    rows, cols = _grid(n, 0), _grid(n, 1)
    index = lax.iota(np.int32, n)
    perm = fnp.broadcast_to(index, (*batch, n))
    pivots = []
    for k in range(n):
        col = lax.stop_gradient(fnp.abs(a[..., :, k]))
        col = fnp.where(index >= k, col, -1)
        p = fnp.astype(fnp.argmax(col, axis=-1), np.int32)
        pivots.append(p)
        a = _swap_rows(a, k, p)
        perm = _swap_rows(perm, k, p)
        pivot = a[..., k:k + 1, k:k + 1]
        # An exactly zero pivot column stays as it is (LAPACK skips the scaling too).
        safe = fnp.where(pivot == 0, 1, pivot)
        below = (rows > k) & (cols == k)
        mult = fnp.where(below, a / safe, 0)[..., :, k:k + 1]            # (..., n, 1)
        update = mult * a[..., k:k + 1, :]                               # l u^T
        a = fnp.where((rows > k) & (cols > k), a - update, fnp.where(below, a / safe, a))
    piv = fnp.stack(pivots, axis=-1) if pivots else np.zeros((*batch, 0), np.int32)
    return a, piv, perm


def lu_factor(a: Array, overwrite_a: bool = False, check_finite: bool = True
              ) -> tuple[Array, Array]:
    """``(lu, piv)``: ``L`` (unit diagonal, below) and ``U`` packed in one matrix, and LAPACK's
    pivots (row ``i`` was interchanged with row ``piv[i]``), int32, as SciPy.

    >>> import numpy as np
    >>> lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))[1]
    array([1, 1], dtype=int32)
    """
    packed, piv, _ = _lu(_matrices(a, "lu_factor"))
    return packed, piv


def _perm_matrix(perm: Array, dtype: Any) -> Array:
    # P[j, i] = (perm[i] == j), so that a = P L U
    return fnp.astype(_grid(perm.shape[-1], 0) == fnp.expand_dims(perm, -2), dtype)


def lu(a: Array, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Array, ...]:
    """``(p, l, u)`` with ``a = p @ l @ u``; with ``permute_l``, ``(p @ l, u)``.

    >>> import numpy as np
    >>> p, l, u = lu(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> u
    array([[3.        , 4.        ],
           [0.        , 0.66666667]])
    """
    a = _matrices(a, "lu")
    packed, _, perm = _lu(a)
    rows, cols = _grid(a.shape[-1], 0), _grid(a.shape[-1], 1)
    lower = fnp.where(rows > cols, packed, fnp.where(rows == cols, 1, 0))
    upper = fnp.where(rows <= cols, packed, 0)
    p = _perm_matrix(perm, a.dtype)
    if permute_l:
        return fnp.matmul(p, lower), upper
    return p, lower, upper


def _perm_from_pivots(piv: Array) -> Array:
    n = piv.shape[-1]
    perm = fnp.broadcast_to(lax.iota(np.int32, n), piv.shape)
    for k in range(n):
        perm = _swap_rows(perm, k, piv[..., k])
    return perm


def lu_solve(lu_and_piv: tuple[Array, Array], b: Array, trans: int = 0,
             overwrite_b: bool = False, check_finite: bool = True) -> Array:
    """Solve ``a x = b`` (``trans=0``) or ``a^T x = b`` (``1``, ``2``) given ``lu_factor(a)``.

    >>> import numpy as np
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> lu_solve(lu_factor(a), a @ np.array([1.0, 2.0]))
    array([1., 2.])
    """
    packed, piv = lu_and_piv
    packed = _matrices(packed, "lu_solve")
    perm = _perm_from_pivots(fnp.asarray(piv))
    code = _trans_code(trans)
    packed_b, rhs, vector = _rhs(packed, b, "lu_solve")
    perm = fnp.broadcast_to(perm, (*rhs.shape[:-2], rhs.shape[-2]))
    if code == 0:  # L U x = b[perm]
        permuted = fnp.matmul(_mT(_perm_matrix(perm, rhs.dtype)), rhs)   # b[perm]
        y = solve_triangular(packed_b, permuted, lower=True, unit_diagonal=True)
        x = solve_triangular(packed_b, y)
    else:  # U^T L^T (P^T x) = b
        z = solve_triangular(packed_b, rhs, trans=1)
        w = solve_triangular(packed_b, z, trans=1, lower=True, unit_diagonal=True)
        x = fnp.matmul(_perm_matrix(perm, w.dtype), w)
    return fnp.squeeze(x, -1) if vector else x


# == the rest =================================================================================

def expm(A: Array, *, upper_triangular: bool = False, max_squarings: int = 16) -> Array:
    """The matrix exponential (Pade 13, scaling and squaring; exact Frechet derivatives).

    >>> import numpy as np
    >>> expm(np.zeros((2, 2)))
    array([[1., 0.],
           [0., 1.]])
    """
    return _sp.expm(_matrices(A, "expm"))


def block_diag(*arrs: Array) -> Array:
    """The block-diagonal matrix of the given blocks (scalars and vectors as 1-row blocks).

    >>> import numpy as np
    >>> block_diag(np.ones((1, 1)), 2 * np.ones((1, 2)))
    array([[1., 0., 0.],
           [0., 2., 2.]])
    """
    if not arrs:
        return np.zeros((1, 0))
    blocks = [fnp.asarray(x) for x in arrs]
    dtype = fnp.result_type(*blocks)
    blocks = [fnp.reshape(fnp.asarray(x, dtype), (1, -1)) if fnp.asarray(x).ndim < 2
              else fnp.asarray(x, dtype) for x in blocks]
    for blk in blocks:
        if blk.ndim != 2:
            raise ShapeError(at_user_line(
                f"block_diag: blocks must have at most 2 dimensions, got shape {blk.shape}"))
    total = sum(blk.shape[1] for blk in blocks)
    rows, before = [], 0
    for blk in blocks:
        rows.append(fnp.pad(blk, ((0, 0), (before, total - before - blk.shape[1]))))
        before += blk.shape[1]
    return fnp.concatenate(rows, axis=0)


def solve(a: Array, b: Array, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen") -> Array:
    """Solve ``a x = b`` (``assume_a='pos'`` uses the Cholesky factor).

    >>> import numpy as np
    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))
    array([1. , 0.5])
    """
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    a = _matrices(a, "solve")
    a, rhs, vector = _rhs(a, b, "solve")
    x = lax_linalg.solve(a, rhs)
    return fnp.squeeze(x, -1) if vector else x


def inv(a: Array, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The inverse of square matrices.

    >>> import numpy as np
    >>> inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return fnp_linalg.inv(a)


def det(a: Array, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The determinant of square matrices.

    >>> import numpy as np
    >>> det(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array(8.)
    """
    return fnp_linalg.det(a)

