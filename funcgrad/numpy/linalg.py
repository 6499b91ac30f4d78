"""``fg.numpy.linalg``: NumPy's and the array API's linear algebra, as ``jax.numpy.linalg``.

``solve``, ``slogdet``, ``cholesky``, ``eigh``, ``svd``, ``qr`` and ``eig`` are primitives
(``fg.lax.linalg``); everything else is a composite of them: ``inv`` is ``solve(a, I)``, ``det``
is ``sign * exp(logabsdet)``, ``pinv``/``lstsq``/``matrix_rank``/``cond`` and the 2-, nuclear
and -2 norms go through the SVD, so their derivatives come from those rules. Inputs follow
NumPy: stacks of matrices ``(..., n, n)``, integers computed in float64. Complex matrices
are accepted throughout (``eigh``: Hermitian). ``vmap`` of any of them batches the leading
axes (NumPy's LAPACK calls broadcast over them), no Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from funcgrad import numpy as fnp
from funcgrad.core.errors import FuncgradTypeError, ShapeError, at_user_line
from funcgrad.lax import linalg as lax_linalg
from funcgrad.transforms.custom import custom_jvp, stop_gradient

__all__ = [
    "EigResult", "EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cond",
    "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matmul",
    "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm",
    "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
    "vector_norm",
]


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector and matrix norms, as ``numpy.linalg.norm``: vectors any ``ord`` (2, 1, 0, inf,
    -inf, p), matrices ``None``/'fro', 'nuc', 1, -1, 2, -2, inf, -inf (2, -2 and 'nuc' from
    the singular values).

    The gradient of the 2-norm at zero is zero (the subgradient JAX picks), not NaN.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> float(fnp.linalg.norm(np.array([[3.0, 0.0], [0.0, -4.0]]), 2))
    4.0
    """
    x = fnp.asarray(x)
    if axis is None and ord is None:
        return _two_norm(fnp.ravel(x), 0, keepdims, x.ndim)
    if axis is None:
        axis = tuple(range(x.ndim)) if x.ndim <= 2 else None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == 1:
        ax = axes[0]
        if ord is None or ord == 2:
            return _two_norm(x, ax, keepdims, None)
        if ord == np.inf:
            return fnp.max(fnp.abs(x), axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return fnp.min(fnp.abs(x), axis=ax, keepdims=keepdims)
        if ord == 0:
            return fnp.sum(fnp.not_equal(x, 0).astype(fnp.abs(x).dtype), axis=ax, keepdims=keepdims)
        if ord == 1:
            return fnp.sum(fnp.abs(x), axis=ax, keepdims=keepdims)
        p = float(ord)
        return fnp.power(fnp.sum(fnp.power(fnp.abs(x), p), axis=ax, keepdims=keepdims), 1 / p)
    if ord in (None, "fro"):
        return fnp.sqrt(fnp.sum(_abs2(x), axis=axes, keepdims=keepdims))
    if len(axes) != 2:
        raise ValueError(at_user_line(f"linalg.norm: axis must be an int or a pair of ints, "
                                      f"got {axis!r}"))
    r, c = (a % x.ndim for a in axes)
    if r == c:
        raise ValueError(at_user_line(f"linalg.norm: duplicate axes {axis!r}"))
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x| (sum over rows); inf: the largest row sum.
        summed = r if ord in (1, -1) else c
        red = fnp.max if ord in (1, np.inf) else fnp.min
        return red(fnp.sum(fnp.abs(x), axis=summed, keepdims=True), axis=axes,
                   keepdims=keepdims)
    if ord in (2, -2, "nuc"):
        s = svdvals(fnp.moveaxis(x, (r, c), (-2, -1)))
        out = fnp.max(s, -1) if ord == 2 else fnp.min(s, -1) if ord == -2 else fnp.sum(s, -1)
        if keepdims:
            out = fnp.expand_dims(out, tuple(sorted((r, c))))
        return out
    raise ValueError(at_user_line(
        f"linalg.norm: invalid matrix norm ord={ord!r} (valid: None, 'fro', 'nuc', 1, -1, 2, "
        f"-2, inf, -inf)"))


def _abs2(x: Any) -> Any:
    # |x|^2, real for complex x (x * x would be complex and give a complex norm).
    return fnp.real(x * fnp.conj(x)) if x.dtype.kind == "c" else x * x


def _two_norm(x: Any, axis: int, keepdims: bool, full_ndim: int | None) -> Any:
    sq = fnp.sum(_abs2(x), axis=axis, keepdims=keepdims)
    # sqrt has an infinite derivative at 0; route zeros through a safe branch.
    is_zero = fnp.equal(sq, 0)
    safe = fnp.where(is_zero, 1.0, sq)
    out = fnp.where(is_zero, 0.0, fnp.sqrt(safe))
    if full_ndim is not None and keepdims:
        out = fnp.reshape(out, (1,) * full_ndim)
    return out


# == matrix functions =========================================================================

def _square_stack(a: Any, name: str) -> Any:
    """``a`` as a floating array of square matrices ``(..., n, n)``."""
    x = fnp.asarray(a)
    if x.dtype.kind not in "fc":
        x = fnp.astype(x, np.float64)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(at_user_line(
            f"linalg.{name}: expected square matrices of shape (..., n, n), got {x.shape}"))
    return x


def solve(a: Any, b: Any) -> Any:
    """Solve ``a @ x = b`` for ``x``, as ``numpy.linalg.solve`` (NumPy 2).

    Args:
        a: square matrices, shape ``(..., n, n)``.
        b: a vector ``(n,)`` or matrices ``(..., n, k)``; batch axes broadcast against ``a``'s.

    Returns:
        ``x`` with ``b``'s shape (broadcast batch axes).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.solve(np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([9.0, 8.0]))
    array([2., 3.])
    """
    x = _square_stack(a, "solve")
    y = fnp.asarray(b)
    dtype = np.result_type(x.dtype, y.dtype)
    if dtype.kind not in "fc":
        raise FuncgradTypeError(at_user_line(
            f"linalg.solve: b must be numeric, got dtype {y.dtype}"))
    x, y = fnp.astype(x, dtype), fnp.astype(y, dtype)
    n = x.shape[-1]
    vector = y.ndim == 1
    if vector:
        y = fnp.expand_dims(y, -1)
    if y.ndim < 2 or y.shape[-2] != n:
        raise ShapeError(at_user_line(
            f"linalg.solve: a has shape {x.shape}, so b must have shape ({n},) or "
            f"(..., {n}, k), got {tuple(fnp.shape(b))}"))
    batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    x = fnp.broadcast_to(x, (*batch, n, n))
    y = fnp.broadcast_to(y, (*batch, *y.shape[-2:]))
    out = lax_linalg.solve(x, y)
    return fnp.squeeze(out, -1) if vector else out


def inv(a: Any) -> Any:
    """The inverse of square matrices ``(..., n, n)``, as ``numpy.linalg.inv``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    x = _square_stack(a, "inv")
    eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
    return lax_linalg.solve(x, eye)


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as NumPy's and JAX's ``slogdet`` return."""

    sign: Any
    logabsdet: Any


def slogdet(a: Any) -> SlogdetResult:
    """Sign and natural log of the absolute determinant, as ``numpy.linalg.slogdet``.

    The sign has a zero derivative; ``logabsdet``'s gradient is ``inv(a).T``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.slogdet(np.array([[0.0, 2.0], [3.0, 0.0]]))
    SlogdetResult(sign=array(-1.), logabsdet=array(1.79175947))
    """
    sign, logabsdet = lax_linalg.slogdet(_square_stack(a, "slogdet"))
    return SlogdetResult(sign, logabsdet)


def det(a: Any) -> Any:
    """The determinant, as ``numpy.linalg.det``: ``sign * exp(logabsdet)`` from ``slogdet``,
    so its gradient is ``det(a) * inv(a).T`` (not defined at singular matrices).

    >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> round(float(fnp.linalg.det(a)), 12)
    5.0
    >>> fg.grad(fnp.linalg.det)(a)
    array([[ 3., -1.],
           [-1.,  2.]])
    """
    sign, logabsdet = slogdet(a)
    return fnp.multiply(sign, fnp.exp(logabsdet))


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """The Cholesky factor of symmetric positive-definite matrices, as
    ``jax.numpy.linalg.cholesky``: lower ``L`` with ``L @ L.T == a`` (or upper ``L.T``).

    With ``symmetrize_input`` (JAX's default) it factors ``(a + a.T) / 2``, so gradients are
    symmetric; otherwise only the lower triangle of ``a`` is read, as NumPy. A matrix that is
    not positive definite gives NaNs (as JAX) rather than an error.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    L = lax_linalg.cholesky(_square_stack(a, "cholesky"), symmetrize_input=symmetrize_input)
    if not upper:
        return L
    U = fnp.swapaxes(L, -1, -2)  # L^H: L^H L = a
    return fnp.conj(U) if U.dtype.kind == "c" else U


# == decompositions ===========================================================================

def _mH(x: Any) -> Any:
    """The conjugate transpose of the last two axes (the transpose for real ``x``)."""
    t = fnp.swapaxes(x, -1, -2)
    return fnp.conj(t) if t.dtype.kind == "c" else t


def _matrix_stack(a: Any, name: str, square: bool = False) -> Any:
    """``a`` as a floating (real or complex) array of matrices ``(..., m, n)``."""
    x = fnp.asarray(a)
    if x.dtype.kind not in "fc":
        x = fnp.astype(x, np.float64)
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        kind = "square matrices of shape (..., n, n)" if square else "matrices (..., m, n)"
        raise ShapeError(at_user_line(f"linalg.{name}: expected {kind}, got {x.shape}"))
    return x


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)``, as NumPy's ``eigh``."""

    eigenvalues: Any
    eigenvectors: Any


class EigResult(NamedTuple):
    """``(eigenvalues, eigenvectors)``, as NumPy's ``eig`` (always complex, as JAX)."""

    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    """``(U, S, Vh)``, as NumPy's ``svd``."""

    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    """``(Q, R)``, as NumPy's ``qr``."""

    Q: Any
    R: Any


def _lower(UPLO: str | None) -> bool:
    if UPLO not in (None, "L", "U"):
        raise ValueError(at_user_line(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}"))
    return UPLO != "U"


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (real, ascending) and eigenvectors of symmetric or Hermitian matrices, as
    ``jax.numpy.linalg.eigh``: with ``symmetrize_input`` (JAX's default) it decomposes
    ``(a + a^H) / 2``, otherwise the ``UPLO`` triangle of ``a``, as NumPy.

    Differentiable where the eigenvalues are distinct; eigenvectors are defined up to sign
    (and a rotation inside a repeated eigenvalue's eigenspace, where their derivative is
    infinite), so differentiate functions that do not depend on that choice (projectors
    ``v v^T``, ``v**2``, eigenvalues).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.eigh(np.array([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
    array([1., 3.])
    """
    x = _square_stack(a, "eigh")
    v, w = lax_linalg.eigh(x, lower=_lower(UPLO), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str | None = "L", symmetrize_input: bool = True) -> Any:
    """The eigenvalues (real, ascending) of symmetric or Hermitian matrices, as
    ``numpy.linalg.eigvalsh``;
    differentiable where they are distinct.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.eigvalsh(np.array([[2.0, 0.0], [0.0, -1.0]]))
    array([-1.,  2.])
    """
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a: Any) -> EigResult:
    """Eigenvalues and right eigenvectors of general square matrices, as
    ``jax.numpy.linalg.eig`` (complex outputs). Forward only: differentiating the result
    raises ``NotImplementedError`` (as JAX); ``eigvals`` is differentiable.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.eig(np.array([[2.0, 0.0], [0.0, 3.0]])).eigenvalues
    array([2.+0.j, 3.+0.j])
    """
    w, v = lax_linalg.eig(_square_stack(a, "eig"))
    return EigResult(w, v)


def eigvals(a: Any) -> Any:
    """The eigenvalues of general square matrices (complex), as ``numpy.linalg.eigvals``;
    differentiable where they are distinct (``dw = diag(V^-1 dA V)``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.eigvals(np.array([[0.0, 1.0], [-1.0, 0.0]]))
    array([0.+1.j, 0.-1.j])
    """
    return lax_linalg.eig(_square_stack(a, "eigvals"), compute_eigenvectors=False)[0]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """The singular value decomposition, as ``numpy.linalg.svd``: ``SVDResult(U, S, Vh)`` with
    ``a = (U[..., :k] * S) @ Vh[..., :k, :]`` and ``S`` descending, or ``S`` alone.

    Differentiable (``full_matrices=False`` or square ``a``) where the singular values are
    distinct and, for non-square ``a``, nonzero; ``U`` and ``Vh`` are defined up to a joint
    sign per singular value. ``hermitian`` is accepted and ignored (the general path is used).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.svd(np.array([[0.0, 2.0], [1.0, 0.0]])).S
    array([2., 1.])
    """
    x = _matrix_stack(a, "svd")
    if not compute_uv:
        return lax_linalg.svd(x, full_matrices=full_matrices, compute_uv=False)
    u, s, vt = lax_linalg.svd(x, full_matrices=full_matrices)
    return SVDResult(u, s, vt)


def svdvals(x: Any) -> Any:
    """The singular values, descending (the array API's ``svdvals``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.svdvals(np.array([[0.0, 2.0], [1.0, 0.0]]))
    array([2., 1.])
    """
    return lax_linalg.svd(_matrix_stack(x, "svdvals"), full_matrices=False, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR decomposition, as ``numpy.linalg.qr``: ``mode`` 'reduced' (``Q`` is
    ``(m, k)``), 'complete' (``(m, m)``) or 'r' (``R`` alone). Differentiable for ``m >= n``
    in 'reduced' mode (and square matrices in any mode), as JAX.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> q, r = fnp.linalg.qr(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    >>> q.shape, r.shape
    ((3, 2), (2, 2))
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(at_user_line(
            f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}"))
    q, r = lax_linalg.qr(_matrix_stack(a, "qr"), full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


# == composites of the decompositions =========================================================

def _default_rtol(x: Any) -> float:
    return 10.0 * max(x.shape[-2:]) * float(np.finfo(x.dtype).eps)


def _as_cutoff(rtol: Any, s: Any) -> Any:
    """``rtol * max(s)`` per matrix, shape ``(..., 1)``: rtol may be a per-matrix array."""
    r = fnp.asarray(rtol)
    smax = fnp.max(s, axis=-1, keepdims=True)
    return fnp.expand_dims(r, -1) * smax if r.ndim else r * smax


def pinv(a: Any, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None) -> Any:
    """The Moore-Penrose pseudo-inverse via the SVD, as ``jax.numpy.linalg.pinv``: singular
    values at or below ``rtol * max(s)`` (default ``10 * max(m, n) * eps``) are dropped.

    Its derivative is Golub and Pereyra's formula (a ``custom_jvp``, as JAX), so it exists at
    repeated singular values too (``pinv`` of an orthogonal matrix), where the rank is
    locally constant. (Second derivatives there are NaN for now: funcgrad's reverse mode
    runs a custom_jvp function's primal through the enclosing transform, here the SVD.)

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    x = _matrix_stack(a, "pinv")
    if rcond is not None:
        rtol = rcond
    if rtol is None:
        rtol = _default_rtol(x)
    return _pinv(x, rtol)


def _pinv_impl(x: Any, rtol: Any) -> Any:
    u, s, vt = lax_linalg.svd(x, full_matrices=False)
    keep = s > _as_cutoff(rtol, s)
    s_inv = fnp.where(keep, 1.0 / fnp.where(keep, s, 1.0), 0.0)
    return fnp.matmul(_mH(vt) * fnp.expand_dims(s_inv, -2), _mH(u))


_pinv = custom_jvp(_pinv_impl, nondiff_argnums=(1,))


@_pinv.defjvp
def _pinv_jvp(rtol: Any, primals: Any, tangents: Any) -> tuple[Any, Any]:
    # Golub & Pereyra (1973): dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P,
    # grouped as JAX does for m >= n and m < n.
    (a,), (a_dot,) = primals, tangents
    p = _pinv(a, rtol)
    mm = fnp.matmul
    pt, a_dot_t = _mH(p), _mH(a_dot)
    m, n = a.shape[-2:]
    if m >= n:
        s = mm(mm(p, pt), a_dot_t)
        t = mm(mm(a_dot_t, pt), p)
        p_dot = -mm(mm(p, a_dot), p) + s - mm(mm(s, a), p) + t - mm(mm(p, a), t)
    else:
        s = mm(p, mm(pt, a_dot_t))
        t = mm(a_dot_t, mm(pt, p))
        p_dot = -mm(p, mm(a_dot, p)) + s - mm(s, mm(a, p)) + t - mm(p, mm(a, t))
    return p, p_dot


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """The least-squares solution of ``a @ x = b``, as ``numpy.linalg.lstsq``:
    ``(x, residuals, rank, s)`` with ``x = pinv(a) @ b`` (cutoff ``rcond * max(s)``, default
    ``max(m, n) * eps``).

    ``residuals`` are the squared 2-norms of the columns of ``b - a @ x`` when ``rank == n``
    and ``m > n``, else an empty array, as NumPy; under tracing (``jit``, ``vmap``) the rank is
    not known, so they are always returned (JAX's shape). ``vmap`` batches it as a batched SVD.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> x, res, rank, s = fnp.linalg.lstsq(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
    ...                                    np.array([1.0, 2.0, 3.0]))
    >>> x, res, int(rank)
    (array([1., 2.]), array([9.]), 2)
    """
    x = _matrix_stack(a, "lstsq")
    y = fnp.asarray(b)
    if x.ndim != 2 or y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ShapeError(at_user_line(
            f"linalg.lstsq: expected a of shape (m, n) and b of shape (m,) or (m, k) with the "
            f"same m, got {x.shape} and {y.shape}"))
    dtype = np.result_type(x.dtype, y.dtype) if y.dtype.kind in "fc" else x.dtype
    x, y = fnp.astype(x, dtype), fnp.astype(y, dtype)
    m, n = x.shape
    rtol = max(m, n) * float(np.finfo(x.dtype).eps) if rcond is None or rcond < 0 else rcond
    s = svdvals(stop_gradient(x))
    rank = fnp.sum((s > _as_cutoff(rtol, s)).astype(np.int64))
    sol = fnp.matmul(_pinv(x, rtol), y)
    r = y - fnp.matmul(x, sol)
    resid = fnp.sum(_abs2(r), axis=0)
    if y.ndim == 1:
        resid = fnp.reshape(resid, (1,))
    if _concrete(rank) and (int(np.asarray(rank)) < n or m <= n):
        resid = np.zeros((0,), s.dtype)
    return sol, resid, rank, s


def _concrete(x: Any) -> bool:
    return isinstance(x, (np.ndarray, np.generic))


def matrix_rank(M: Any, rtol: Any = None, *, tol: Any = None) -> Any:
    """The number of singular values above ``tol`` (default ``rtol * max(s)``, ``rtol``
    default ``max(m, n) * eps``), as ``numpy.linalg.matrix_rank``; a 1-d input has rank 1
    unless it is all zeros.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> int(fnp.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])))
    1
    """
    x = fnp.asarray(M)
    if x.ndim < 2:
        return fnp.any(fnp.not_equal(x, 0)).astype(np.int64)
    x = _matrix_stack(x, "matrix_rank")
    s = svdvals(x)
    if tol is not None:
        t = fnp.asarray(tol)
        cutoff = fnp.expand_dims(t, -1) if t.ndim else t
    else:
        cutoff = _as_cutoff(max(x.shape[-2:]) * float(np.finfo(x.dtype).eps)
                            if rtol is None else rtol, s)
    return fnp.sum((s > cutoff).astype(np.int64), axis=-1)


def cond(x: Any, p: Any = None) -> Any:
    """The condition number, as ``numpy.linalg.cond``: ``s_max / s_min`` for ``p`` None or 2
    (its inverse for -2), otherwise ``norm(x, p) * norm(inv(x), p)`` (square ``x``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> float(fnp.linalg.cond(np.array([[4.0, 0.0], [0.0, 0.5]])))
    8.0
    """
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = fnp.max(s, axis=-1), fnp.min(s, axis=-1)
        return fnp.divide(big, small) if p != -2 else fnp.divide(small, big)
    a = _square_stack(x, "cond")
    return fnp.multiply(norm(a, p, axis=(-2, -1)), norm(inv(a), p, axis=(-2, -1)))


def matrix_power(a: Any, n: int) -> Any:
    """``a`` to the integer power ``n`` by repeated squaring, as
    ``numpy.linalg.matrix_power`` (``n < 0`` inverts first, ``n == 0`` gives the identity).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
    array([[1., 3.],
           [0., 1.]])
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(at_user_line(f"linalg.matrix_power: n must be an integer, got {n!r}"))
    x = fnp.asarray(a)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(at_user_line(
            f"linalg.matrix_power: expected square matrices (..., n, n), got {x.shape}"))
    n = int(n)
    if n == 0:
        return fnp.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
    if n < 0:
        x, n = inv(x), -n
    result = None
    while True:
        if n & 1:
            result = x if result is None else fnp.matmul(result, x)
        n >>= 1
        if not n:
            return result
        x = fnp.matmul(x, x)


def multi_dot(arrays: Sequence[Any], *, precision: Any = None) -> Any:
    """The product of a chain of matrices, as ``numpy.linalg.multi_dot``: the first may be
    1-d (a row vector) and the last 1-d (a column vector); the others must be 2-d. The
    product is taken left to right.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.multi_dot([np.ones(2), np.eye(2), np.array([1.0, 2.0])])
    array(3.)
    """
    xs = [fnp.asarray(x) for x in arrays]
    if len(xs) < 2:
        raise ValueError(at_user_line("linalg.multi_dot: expected at least two arrays"))
    for i, x in enumerate(xs):
        ok = x.ndim == 2 or (x.ndim == 1 and i in (0, len(xs) - 1))
        if not ok:
            raise ShapeError(at_user_line(
                f"linalg.multi_dot: array {i} must be 2-d (the first and last may be 1-d), got "
                f"shape {x.shape}"))
    out = xs[0]
    for x in xs[1:]:
        out = fnp.dot(out, x)
    return out


# == the array API's linalg namespace =========================================================

def matmul(x1: Any, x2: Any) -> Any:
    """``x1 @ x2``, as ``numpy.linalg.matmul``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.matmul(np.eye(2), np.array([1.0, 2.0]))
    array([1., 2.])
    """
    return fnp.matmul(x1, x2)


def matrix_transpose(x: Any) -> Any:
    """Swap the last two axes (the array API's ``matrix_transpose``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.matrix_transpose(np.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """
    a = fnp.asarray(x)
    if a.ndim < 2:
        raise ShapeError(at_user_line(
            f"linalg.matrix_transpose: expected at least 2 dimensions, got shape {a.shape}"))
    return fnp.swapaxes(a, -1, -2)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """A matrix norm over the last two axes (the array API's ``matrix_norm``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> float(fnp.linalg.matrix_norm(np.eye(3), ord="nuc"))
    3.0
    """
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """A vector norm over ``axis`` (all axes by default, the array as one flat vector), as
    the array API's ``vector_norm``.

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> float(fnp.linalg.vector_norm(np.array([[3.0], [4.0]])))
    5.0
    """
    a = fnp.asarray(x)
    if axis is None:
        out = norm(fnp.ravel(a), ord, axis=0)
        return fnp.reshape(out, (1,) * a.ndim) if keepdims else out
    if isinstance(axis, (tuple, list)) and len(axis) != 1:
        axes = tuple(ax % a.ndim for ax in axis)
        rest = tuple(i for i in range(a.ndim) if i not in axes)
        moved = fnp.reshape(fnp.transpose(a, (*rest, *axes)),
                            (*(a.shape[i] for i in rest), -1))
        out = norm(moved, ord, axis=-1)
        return fnp.expand_dims(out, axes) if keepdims else out
    ax = axis[0] if isinstance(axis, (tuple, list)) else axis
    return norm(a, ord, axis=ax, keepdims=keepdims)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis)`` with broadcasting (the array API's ``vecdot``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.vecdot(np.array([1.0, 2.0]), np.array([[3.0, 4.0], [1.0, 1.0]]))
    array([11.,  3.])
    """
    return fnp.vecdot(x1, x2, axis=axis)   # one implementation: fg.numpy's


def outer(x1: Any, x2: Any, /) -> Any:
    """The outer product of two 1-d arrays (the array API's ``outer``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.outer(np.array([1.0, 2.0]), np.array([1.0, 0.0, -1.0]))
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.]])
    """
    a, b = fnp.asarray(x1), fnp.asarray(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(at_user_line(
            f"linalg.outer: expected 1-d arrays, got shapes {a.shape} and {b.shape}"))
    return fnp.outer(a, b)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """``numpy.tensordot`` (the array API's ``linalg.tensordot``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1).shape
    (2, 4)
    """
    return fnp.tensordot(x1, x2, axes)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The sum of the ``offset`` diagonal over the last two axes (the array API's ``trace``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.trace(np.arange(8.0).reshape(2, 2, 2))
    array([ 3., 11.])
    """
    out = fnp.trace(x, offset=offset, axis1=-2, axis2=-1)
    return out if dtype is None else fnp.astype(out, dtype)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """The ``offset`` diagonal of the last two axes (the array API's ``diagonal``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.diagonal(np.arange(4.0).reshape(2, 2))
    array([0., 3.])
    """
    return fnp.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along ``axis``, broadcasting the others (the array
    API's ``linalg.cross``).

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> fnp.linalg.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    a, b = fnp.asarray(x1), fnp.asarray(x2)
    if a.ndim == 0 or b.ndim == 0 or a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ShapeError(at_user_line(
            f"linalg.cross: axis {axis} must have size 3 in both inputs, got shapes {a.shape} "
            f"and {b.shape}"))
    a, b = fnp.moveaxis(a, axis, -1), fnp.moveaxis(b, axis, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = fnp.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return fnp.moveaxis(out, -1, axis)
