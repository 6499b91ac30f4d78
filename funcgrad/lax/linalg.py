"""Dense linear algebra primitives: ``solve``, ``slogdet``, ``cholesky``, ``eigh``, ``svd``,
``qr`` and ``eig``.

Each impl is ``numpy.linalg``'s, batched over leading axes (``(..., m, n)`` matrices), so the
batching rules just move the batch axis to the front. Everything else is a composite in
``funcgrad.numpy.linalg``: ``inv(a) = solve(a, I)``, ``det = sign * exp(logabsdet)``, pinv
and the spectral norms through ``svd``. ``solve``, ``slogdet``, ``cholesky`` and ``eig`` take
real or complex matrices (cotangents are transposes, not adjoints, as JAX), and so do
``eigh`` (Hermitian), ``svd`` and ``qr``. The rules are matrix calculus written
with funcgrad primitives (so they differentiate again), with ``solve`` standing in for
triangular solves:

- ``solve``: ``x = A^-1 b``; ``dx = A^-1 (db - dA x)``; ``ct_b = A^-T ct``, ``ct_A = -ct_b x^T``.
- ``slogdet``: ``d logabsdet = re tr(A^-1 dA)``; ``ct_A = ct A^-T``; the sign of a real matrix
  is locally constant, a complex one turns by ``i im tr(A^-1 dA)``.
- ``cholesky`` reads the lower triangle of its input, as LAPACK, i.e. it factors
  ``S(A) = tril(A) + tril(A, -1)^H``. With ``L = chol(S(A))``:
  ``dL = L Phi(L^-1 S(dA) L^-H)`` where ``Phi`` keeps the lower triangle and halves the
  diagonal (Murray 2016, as JAX); the real VJP is its adjoint,
  ``ct_A = S^T(L^-T Phi(L^T ct) L^-1)`` with ``S^T(G) = tril(G) + tril(G^T, -1)``.
- ``eigh``, ``svd``, ``qr``, ``eig``: JAX's JVP rules (in their sections); each VJP is the
  transpose of the JVP's tangent map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from funcgrad.core.avals import ShapedArray, get_aval
from funcgrad.core.errors import FuncgradTypeError, ShapeError
from funcgrad.core.primitive import Primitive, zeros_like_aval
from funcgrad.lax.dot import dot_general
from funcgrad.lax.elementwise import (
    add,
    conj,
    convert_element_type,
    div,
    integer_pow,
    mul,
    neg,
    real,
    sub,
)
from funcgrad.lax.reductions import reduce_sum
from funcgrad.lax.structural import broadcast_in_dim, transpose
from funcgrad.transforms import ad, batching, codegen
from funcgrad.transforms.batching import bdim_at_front, moveaxis

# == helpers (written with primitives: they run inside rules) =================================


def _check_matrix(x: ShapedArray, name: str, kinds: str = "fc") -> int:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{name}: expected square matrices of shape (..., n, n), got "
                         f"{x.shape}")
    if x.dtype.kind not in kinds:
        what = "a real floating" if kinds == "f" else "a floating or complex"
        raise FuncgradTypeError(f"{name}: expected {what} dtype, got {x.dtype}")
    return x.shape[-1]


def _is_complex(x: Any) -> bool:
    return bool(get_aval(x).dtype.kind == "c")


def _H(x: Any) -> Any:
    """The conjugate transpose of the last two axes (the transpose for real ``x``)."""
    return conj(_mT(x)) if _is_complex(x) else _mT(x)


def _real_dtype(dtype: Any) -> np.dtype:
    return np.empty(0, dtype).real.dtype


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
    a, b = (bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True))
    return solve(a, b), 0


ad.jvp_rules[solve_p] = _solve_jvp
ad.vjp_rules[solve_p] = _solve_vjp
batching.batch_rules[solve_p] = _solve_batch


# == slogdet ==================================================================================

slogdet_p = Primitive("slogdet", multiple_results=True)


def _slogdet_abstract_eval(a: ShapedArray) -> list[ShapedArray]:
    _check_matrix(a, "slogdet")
    # As NumPy and JAX: a complex matrix has a unit-modulus complex sign and a real log.
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], _real_dtype(a.dtype))]


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


def _slogdet_tangent(a: Any, sign: Any, a_dot: Any) -> list[Any]:
    # t = tr(A^-1 dA); d log|det| = re t; d sign = i im(t) sign (zero for real A), as JAX.
    t = _trace_last2(solve(a, a_dot))
    if not _is_complex(a):
        return [None, t]
    re_t = real(t)
    return [mul(sub(t, convert_element_type(re_t, get_aval(t).dtype)), sign), re_t]


def _slogdet_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
    (a,), (a_dot,) = primals, tangents
    sign, logdet = slogdet_p.bind(a)
    return [sign, logdet], _slogdet_tangent(a, sign, a_dot)


def _slogdet_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
                 **params: Any) -> list[Any]:
    (a,), ct = primals, cts[1]
    if _is_complex(a):
        return _transpose_of_tangent_map(lambda t: _slogdet_tangent(a, ans[0], t), a, cts, ans)
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
        x = div(add(x, _H(x)), np.full(get_aval(x).shape, 2, get_aval(x).dtype))
    return cholesky_p.bind(x)


def _sym_lower(x: Any) -> Any:
    """``S(x) = tril(x) + tril(x, -1)^H``: the Hermitian matrix that ``x``'s lower half means."""
    n = get_aval(x).shape[-1]
    return add(_masked(x, _tril_mask(n)), _H(_masked(x, _tril_mask(n, -1))))


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
    return L, _cholesky_tangent(L, a_dot)


def _cholesky_tangent(L: Any, a_dot: Any) -> Any:
    inner = solve(L, _H(solve(L, _sym_lower(a_dot))))  # L^-1 S(dA) L^-H (S Hermitian)
    return _matmul(L, _phi(inner))


def _cholesky_vjp(ct: Any, L: Any, primals: Sequence[Any], needs: Sequence[bool],
                  **params: Any) -> list[Any]:
    if _is_complex(L):
        return _transpose_of_tangent_map(lambda t: [_cholesky_tangent(L, t)], primals[0], [ct],
                                         [L])
    p = _phi(_matmul(_mT(L), ct))
    left = solve(_mT(L), p)                    # L^-T P
    g = _mT(solve(_mT(L), _mT(left)))          # (L^-T (L^-T P)^T)^T = L^-T P L^-1
    return [_sym_lower_transpose(g)]


def _cholesky_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, int]:
    return cholesky_p.bind(moveaxis(args[0], dims[0], 0)), 0


ad.jvp_rules[cholesky_p] = _cholesky_jvp
ad.vjp_rules[cholesky_p] = _cholesky_vjp
batching.batch_rules[cholesky_p] = _cholesky_batch




# == eigh, svd, qr: shared helpers ============================================================
# All three take real or complex matrices (eigh: Hermitian); complex terms as JAX's rules.
# Each VJP is the transpose of its (linear in the tangent) JVP map, taken by reverse mode over
# that map at a zero tangent, as ad's custom_jvp does: one formula, both modes from it.


def _check_stack(x: ShapedArray, name: str) -> tuple[int, int]:
    if x.ndim < 2:
        raise ShapeError(f"{name}: expected matrices of shape (..., m, n), got {x.shape}")
    if x.dtype.kind not in "fc":
        raise FuncgradTypeError(f"{name}: expected a floating or complex dtype, got {x.dtype}")
    return x.shape[-2], x.shape[-1]


def _diag_part(x: Any) -> Any:
    """The diagonal of square matrices ``(..., n, n)``, shape ``(..., n)``."""
    nd = get_aval(x).ndim
    return reduce_sum(_masked(x, np.eye(get_aval(x).shape[-1], dtype=bool)), (nd - 1,))


def _rows(v: Any, shape: Sequence[int]) -> Any:
    """``v[..., None, :]`` broadcast to ``shape`` (..., r, k): ``v`` along the last axis."""
    nd = len(shape)
    return broadcast_in_dim(v, tuple(shape), (*range(nd - 2), nd - 1))


def _cols(v: Any, shape: Sequence[int]) -> Any:
    """``v[..., :, None]`` broadcast to ``shape`` (..., k, c)."""
    nd = len(shape)
    return broadcast_in_dim(v, tuple(shape), (*range(nd - 2), nd - 2))


def _transpose_of_tangent_map(tangent: Any, a: Any, cts: Sequence[Any],
                              outs: Sequence[Any]) -> list[Any]:
    # The tangent map dA -> d(outs) is linear, so reverse mode over it at dA = 0 is its
    # transpose; the decomposition outputs it closes over stay differentiable (higher order).
    cts = [ad.instantiate_zeros(c, o) for c, o in zip(cts, outs, strict=True)]
    _, pullback = ad.vjp_flat(lambda t: list(tangent(t)), [zeros_like_aval(get_aval(a))])
    return pullback(cts)


def _sym_from(x: Any, lower: bool) -> Any:
    """The symmetric matrix that the ``lower`` (or upper) triangle of ``x`` means."""
    return _sym_lower(x) if lower else _mT(_sym_lower(_mT(x)))


# == eigh =====================================================================================
# A = V diag(w) V^H, w real ascending. With M = V^H S(dA) V (S: the triangle LAPACK reads, made
# Hermitian): dw = re diag(M), dV = V (F o M), F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it
# (JAX's eigh_jvp_rule). Degenerate eigenvalues make F infinite: the eigenvectors are not
# differentiable there (any rotation within the eigenspace is as good), only the eigenvalues
# and gauge-invariant functions of the eigenvectors are, and only away from the degeneracy.

eigh_p = Primitive("eigh", multiple_results=True)


def _eigh_impl(a: np.ndarray, lower: bool) -> list[np.ndarray]:
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v, w]


def _eigh_abstract_eval(a: ShapedArray, lower: bool) -> list[ShapedArray]:
    _check_matrix(a, "eigh")
    return [ShapedArray(a.shape, a.dtype), ShapedArray(a.shape[:-1], _real_dtype(a.dtype))]


eigh_p.def_impl(_eigh_impl)
eigh_p.def_abstract_eval(_eigh_abstract_eval)
codegen.def_impl_call(eigh_p)


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True) -> tuple[Any, Any]:
    """Eigenvectors and eigenvalues ``(v, w)`` of symmetric (Hermitian) matrices
    ``(..., n, n)``, as ``jax.lax.linalg.eigh``: ``x = v @ diag(w) @ v^H`` with real ``w``
    ascending (always sorted). With ``symmetrize_input`` it decomposes ``(x + x^H) / 2``,
    otherwise the ``lower`` (or upper) triangle of ``x``. Differentiable where the eigenvalues
    are distinct.

    >>> v, w = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    array([1., 3.])
    """
    aval = get_aval(x)
    _check_matrix(aval, "eigh")
    if symmetrize_input:
        x = div(add(x, _H(x)), np.full(aval.shape, 2, aval.dtype))
    v, w = eigh_p.bind(x, lower=bool(lower))
    return v, w


def _eigh_tangent(v: Any, w: Any, a_dot: Any, lower: bool) -> tuple[Any, Any]:
    shape = get_aval(v).shape
    m = _matmul(_H(v), _matmul(_sym_from(a_dot, lower), v))
    eye = _identity_like(_rows(w, shape))
    f = sub(integer_pow(add(eye, sub(_rows(w, shape), _cols(w, shape))), -1), eye)
    dw = _diag_part(m)
    if _is_complex(v):  # Hermitian M: a real diagonal; F real, cast to M's dtype
        return _matmul(v, mul(convert_element_type(f, get_aval(m).dtype), m)), real(dw)
    return _matmul(v, mul(f, m)), dw


def _eigh_jvp(primals: Sequence[Any], tangents: Sequence[Any], lower: bool) -> tuple[list, list]:
    v, w = eigh_p.bind(primals[0], lower=lower)
    return [v, w], list(_eigh_tangent(v, w, tangents[0], lower))


def _eigh_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
              lower: bool) -> list[Any]:
    v, w = ans
    return _transpose_of_tangent_map(lambda t: _eigh_tangent(v, w, t, lower), primals[0], cts,
                                     ans)


def _eigh_batch(args: Sequence[Any], dims: Sequence[Any], lower: bool) -> tuple[list, list]:
    return eigh_p.bind(moveaxis(args[0], dims[0], 0), lower=lower), [0, 0]


ad.jvp_rules[eigh_p] = _eigh_jvp
ad.vjp_rules[eigh_p] = _eigh_vjp
batching.batch_rules[eigh_p] = _eigh_batch


# == svd ======================================================================================
# A = U diag(s) V^T (reduced, k = min(m, n)). With dS = U^T dA V: ds = diag(dS);
# F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it; dU = U (F o (dS S + S dS^T)),
# dV = V (F o (S dS + dS^T S)), plus the parts outside the span for m > n (dU) or n > m (dV):
# (I - U U^T) dA V S^-1 and (I - V V^T) dA^T U S^-1 (JAX's svd_jvp_rule; complex: ^H for ^T
# and the phase term (dS - dS^H) S^-1 / 2 in dU). Equal
# singular values (F infinite) and, for non-square A, zero ones (S^-1) are not differentiable
# for U and V; s itself is differentiable where its entries are distinct. With
# full_matrices the extra columns are not unique: their derivative is not implemented (JAX).

svd_p = Primitive("svd", multiple_results=True)


def _svd_impl(a: np.ndarray, full_matrices: bool, compute_uv: bool) -> list[np.ndarray]:
    if not compute_uv:
        return [np.linalg.svd(a, compute_uv=False)]
    u, s, vt = np.linalg.svd(a, full_matrices=full_matrices)
    return [s, u, vt]


def _svd_abstract_eval(a: ShapedArray, full_matrices: bool, compute_uv: bool
                       ) -> list[ShapedArray]:
    m, n = _check_stack(a, "svd")
    k = min(m, n)
    batch = a.shape[:-2]
    s = ShapedArray((*batch, k), _real_dtype(a.dtype))
    if not compute_uv:
        return [s]
    cu, rv = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray((*batch, m, cu), a.dtype), ShapedArray((*batch, rv, n), a.dtype)]


svd_p.def_impl(_svd_impl)
svd_p.def_abstract_eval(_svd_abstract_eval)
codegen.def_impl_call(svd_p)


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition of ``(..., m, n)`` matrices, as
    ``jax.lax.linalg.svd``: ``(u, s, vh)`` with ``x = u[..., :k] * s @ vh[..., :k, :]`` and
    ``s`` descending, or ``s`` alone without ``compute_uv``.

    >>> svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    _svd_abstract_eval(get_aval(x), bool(full_matrices), bool(compute_uv))
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vt = outs
    return u, s, vt


def _svd_tangent(s: Any, u: Any, vt: Any, a_dot: Any, compute_uv: bool) -> list[Any]:
    cplx = _is_complex(u)
    dtype = get_aval(u).dtype

    def c(x: Any) -> Any:  # real -> the matrices' dtype
        return convert_element_type(x, dtype) if cplx else x

    v = _H(vt)
    ds_mat = _matmul(_H(u), _matmul(a_dot, v))
    ds = real(_diag_part(ds_mat)) if cplx else _diag_part(ds_mat)
    if not compute_uv:
        return [ds]
    kk = get_aval(ds_mat).shape
    s_row, s_col = _rows(s, kk), _cols(s, kk)
    eye = _identity_like(s_row)
    f = c(sub(integer_pow(add(mul(add(s_row, s_col), sub(s_row, s_col)), eye), -1), eye))
    dss, sds = mul(c(s_row), ds_mat), mul(c(s_col), ds_mat)
    inner_u = mul(f, add(dss, _H(dss)))
    if cplx:  # the phase freedom: i im diag(dS) / s goes to dU (JAX's dUdV_diag)
        s_inv = c(mul(div(eye, add(s_row, sub(_identity_like(s_row), eye))), eye))
        half = np.full(kk, 0.5, dtype)
        inner_u = add(inner_u, mul(mul(half, sub(ds_mat, _H(ds_mat))), s_inv))
    du = _matmul(u, inner_u)
    dv = _matmul(v, mul(f, add(sds, _H(sds))))
    m, n = get_aval(a_dot).shape[-2:]
    if m > n:
        dav = _matmul(a_dot, v)
        du = add(du, div(sub(dav, _matmul(u, _matmul(_H(u), dav))),
                         c(_rows(s, (*kk[:-2], m, n)))))
    if n > m:
        dahu = _matmul(_H(a_dot), u)
        dv = add(dv, div(sub(dahu, _matmul(v, _matmul(vt, dahu))),
                         c(_rows(s, (*kk[:-2], n, m)))))
    return [ds, du, _H(dv)]


def _svd_reduced(a: Any, full_matrices: bool, compute_uv: bool) -> list[Any]:
    m, n = get_aval(a).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            "svd: the derivative of u and vh with full_matrices=True is not implemented for "
            f"non-square matrices (got {m}x{n}); use full_matrices=False (as JAX)")
    return svd_p.bind(a, full_matrices=False, compute_uv=True)


def _svd_jvp(primals: Sequence[Any], tangents: Sequence[Any], full_matrices: bool,
             compute_uv: bool) -> tuple[list, list]:
    s, u, vt = _svd_reduced(primals[0], full_matrices, compute_uv)
    # s alone comes from LAPACK's values-only path, bit-identical to what reverse mode returns.
    outs = [s, u, vt] if compute_uv else svd_p.bind(primals[0], full_matrices=full_matrices,
                                                     compute_uv=False)
    return outs, _svd_tangent(s, u, vt, tangents[0], compute_uv)


def _svd_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
             full_matrices: bool, compute_uv: bool) -> list[Any]:
    m, n = get_aval(primals[0]).shape[-2:]
    reduced = compute_uv and (not full_matrices or m == n)  # the outputs are the reduced SVD
    s, u, vt = ans if reduced else _svd_reduced(primals[0], full_matrices, compute_uv)
    return _transpose_of_tangent_map(lambda t: _svd_tangent(s, u, vt, t, compute_uv),
                                     primals[0], cts, ans)


def _svd_batch(args: Sequence[Any], dims: Sequence[Any], full_matrices: bool, compute_uv: bool
               ) -> tuple[list, list]:
    outs = svd_p.bind(moveaxis(args[0], dims[0], 0), full_matrices=full_matrices,
                      compute_uv=compute_uv)
    return outs, [0] * len(outs)


ad.jvp_rules[svd_p] = _svd_jvp
ad.vjp_rules[svd_p] = _svd_vjp
batching.batch_rules[svd_p] = _svd_batch


# == qr =======================================================================================
# A = Q R (reduced, m >= n). With X = Q^T dA R^-1 and Omega = tril(X, -1) - tril(X, -1)^T:
# dQ = Q (Omega - X) + dA R^-1, dR = (X - Omega) R (JAX's qr_jvp_rule, after Townsend's note).
# Not differentiable for m < n or for the complete Q of m > n (not unique), as JAX; nor where
# R is singular.

qr_p = Primitive("qr", multiple_results=True)


def _qr_impl(a: np.ndarray, full_matrices: bool) -> list[np.ndarray]:
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [q, r]


def _qr_abstract_eval(a: ShapedArray, full_matrices: bool) -> list[ShapedArray]:
    m, n = _check_stack(a, "qr")
    k = m if full_matrices else min(m, n)
    batch = a.shape[:-2]
    return [ShapedArray((*batch, m, k), a.dtype), ShapedArray((*batch, k, n), a.dtype)]


qr_p.def_impl(_qr_impl)
qr_p.def_abstract_eval(_qr_abstract_eval)
codegen.def_impl_call(qr_p)


def qr(x: Any, *, full_matrices: bool = True) -> tuple[Any, Any]:
    """The QR decomposition ``(q, r)`` of ``(..., m, n)`` matrices, as ``jax.lax.linalg.qr``:
    ``q`` orthonormal columns (``(m, m)`` with ``full_matrices``, else ``(m, min(m, n))``),
    ``r`` upper triangular.

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> np.round(np.abs(r), 6)
    array([[5. , 2.2],
           [0. , 0.4]])
    """
    _qr_abstract_eval(get_aval(x), bool(full_matrices))
    q, r = qr_p.bind(x, full_matrices=bool(full_matrices))
    return q, r


def _qr_tangent(q: Any, r: Any, a_dot: Any) -> list[Any]:
    dx_rinv = _mT(solve(_mT(r), _mT(a_dot)))  # dA R^-1
    x = _matmul(_H(q), dx_rinv)
    n = get_aval(x).shape[-1]
    low = _masked(x, _tril_mask(n, -1))
    omega = sub(low, _H(low))
    if _is_complex(x):  # the phase freedom of R's real diagonal: i im diag(X) (as JAX)
        im = sub(x, convert_element_type(real(x), get_aval(x).dtype))
        omega = add(omega, _masked(im, np.eye(n, dtype=bool)))
    return [add(_matmul(q, sub(omega, x)), dx_rinv), _matmul(sub(x, omega), r)]


def _qr_reduced(a: Any, full_matrices: bool) -> list[Any]:
    m, n = get_aval(a).shape[-2:]
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            f"qr: the derivative is implemented for m >= n with the reduced Q only, got a "
            f"{m}x{n} matrix with full_matrices={full_matrices} (as JAX)")
    return qr_p.bind(a, full_matrices=False)


def _qr_jvp(primals: Sequence[Any], tangents: Sequence[Any], full_matrices: bool
            ) -> tuple[list, list]:
    q, r = _qr_reduced(primals[0], full_matrices)
    return [q, r], _qr_tangent(q, r, tangents[0])


def _qr_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
            full_matrices: bool) -> list[Any]:
    q, r = _qr_reduced(primals[0], full_matrices)
    return _transpose_of_tangent_map(lambda t: _qr_tangent(q, r, t), primals[0], cts, ans)


def _qr_batch(args: Sequence[Any], dims: Sequence[Any], full_matrices: bool
              ) -> tuple[list, list]:
    return qr_p.bind(moveaxis(args[0], dims[0], 0), full_matrices=full_matrices), [0, 0]


ad.jvp_rules[qr_p] = _qr_jvp
ad.vjp_rules[qr_p] = _qr_vjp
batching.batch_rules[qr_p] = _qr_batch


# == eig ======================================================================================
# General (non-symmetric) eigendecomposition A V = V diag(w), always complex, as JAX. Only the
# eigenvalues are differentiable: dw = diag(V^-1 dA V) (Magnus 1985; JAX's eig_jvp_rule) where
# they are distinct. The eigenvectors' derivative is not implemented (as JAX; their
# normalisation is not unique), so differentiating them raises.

eig_p = Primitive("eig", multiple_results=True)


def _complex_of(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _eig_impl(a: np.ndarray, compute_eigenvectors: bool) -> list[np.ndarray]:
    # Always through geev with vectors: the values-only path may order or round the
    # eigenvalues differently, and the derivative pairs each eigenvalue with its vector.
    c = _complex_of(a.dtype)
    w, v = np.linalg.eig(a)
    return [w.astype(c), v.astype(c)] if compute_eigenvectors else [w.astype(c)]


def _eig_abstract_eval(a: ShapedArray, compute_eigenvectors: bool) -> list[ShapedArray]:
    _check_matrix(a, "eig")
    c = _complex_of(a.dtype)
    w = ShapedArray(a.shape[:-1], c)
    return [w, ShapedArray(a.shape, c)] if compute_eigenvectors else [w]


eig_p.def_impl(_eig_impl)
eig_p.def_abstract_eval(_eig_abstract_eval)
codegen.def_impl_call(eig_p)


def eig(x: Any, *, compute_eigenvectors: bool = True) -> Any:
    """Eigenvalues ``w`` and right eigenvectors ``v`` (``x @ v = v * w``) of square matrices
    ``(..., n, n)``, complex, as ``jax.lax.linalg.eig`` (``[w, v]``, or ``[w]`` without
    ``compute_eigenvectors``). Only the eigenvalues are differentiable.

    >>> eig(np.array([[0.0, 1.0], [-1.0, 0.0]]), compute_eigenvectors=False)[0]
    array([0.+1.j, 0.-1.j])
    """
    _eig_abstract_eval(get_aval(x), bool(compute_eigenvectors))
    return list(eig_p.bind(x, compute_eigenvectors=bool(compute_eigenvectors)))


def _eig_tangent(w: Any, v: Any, a_dot: Any) -> list[Any]:
    dt = convert_element_type(a_dot, get_aval(v).dtype)
    return [_diag_part(_matmul(solve(v, dt), v))]


def _eig_vectors(a: Any, compute_eigenvectors: bool) -> list[Any]:
    if compute_eigenvectors:
        raise NotImplementedError(
            "eig: the derivative of the eigenvectors is not implemented (as JAX); "
            "differentiate eigvals, or use eigh for symmetric matrices")
    return eig_p.bind(a, compute_eigenvectors=True)


def _eig_jvp(primals: Sequence[Any], tangents: Sequence[Any], compute_eigenvectors: bool
             ) -> tuple[list, list]:
    w, v = _eig_vectors(primals[0], compute_eigenvectors)
    return [w], _eig_tangent(w, v, tangents[0])


def _eig_vjp(cts: Sequence[Any], ans: Any, primals: Sequence[Any], needs: Sequence[bool],
             compute_eigenvectors: bool) -> list[Any]:
    if compute_eigenvectors and cts[1] is None:
        compute_eigenvectors = False  # only the eigenvalues carry a cotangent
    w, v = _eig_vectors(primals[0], compute_eigenvectors)
    return _transpose_of_tangent_map(lambda t: _eig_tangent(w, v, t), primals[0], cts[:1],
                                     ans[:1])


def _eig_batch(args: Sequence[Any], dims: Sequence[Any], compute_eigenvectors: bool
               ) -> tuple[list, list]:
    outs = eig_p.bind(moveaxis(args[0], dims[0], 0), compute_eigenvectors=compute_eigenvectors)
    return outs, [0] * len(outs)


ad.jvp_rules[eig_p] = _eig_jvp
ad.vjp_rules[eig_p] = _eig_vjp
batching.batch_rules[eig_p] = _eig_batch

__all__ = ["cholesky", "eig", "eigh", "qr", "slogdet", "solve", "svd"]
