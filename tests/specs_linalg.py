"""Op specs for the decompositions of ``fg.lax.linalg`` (``eigh``, ``svd``, ``qr``) and the
``fg.numpy.linalg`` composites built on them.

Eigenvectors and singular vectors are defined up to a sign per column (and a rotation within
a degenerate eigenspace), so the differentiated functions are gauge invariant: eigenvalues,
squared entries of ``v`` (``v_ij^2`` does not change when column ``j`` flips), projectors
``v v^T``. Inputs have well-separated eigenvalues / singular values: symmetric matrices are
``Q diag(d) Q^T`` with ``d`` spaced by at least 1, general matrices ``U diag(s) V^T`` with
``s`` in [1, 4] spaced by at least 0.5. The QR factorisation of a full-rank matrix is unique
with LAPACK's sign convention held fixed by continuity, so ``q`` and ``r`` are checked as they
are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from op_specs import OpSpec

import funcgrad.numpy as fnp
from funcgrad.lax import linalg as lla

SPECS: list[OpSpec] = []
F32_64 = (np.float64, np.float32)


def spec(name: str, fn: Callable[..., Any], make: Callable[[np.random.Generator], tuple],
         prims: tuple[str, ...], ref: Callable[..., Any] | None = None, order: int = 2,
         tol: float | None = None, dtypes: tuple[Any, ...] = (np.float64,),
         numpy: tuple[str, ...] = ()) -> None:
    shapes = tuple(np.shape(a) for a in make(np.random.default_rng(0)))
    SPECS.append(OpSpec(name=name, fn=fn, arg_shapes=shapes, primitives=prims, tol=tol,
                        dtypes=dtypes, grad_order=order, make_args=make, reference=ref,
                        extra={"numpy": numpy}))


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def sym_separated(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Symmetric matrices ``(..., n, n)`` with eigenvalues at least 1 apart."""
    n = shape[-1]
    out = np.empty(shape)
    for idx in np.ndindex(*shape[:-2]):
        q = _orthogonal(rng, n)
        d = np.arange(n) * 1.5 - n / 2 + rng.uniform(-0.2, 0.2, n)
        out[idx] = q @ np.diag(d) @ q.T
    return out


def sv_separated(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Matrices ``(..., m, n)`` with singular values in [1, 4] at least 0.5 apart."""
    m, n = shape[-2:]
    k = min(m, n)
    out = np.empty(shape)
    for idx in np.ndindex(*shape[:-2]):
        u, v = _orthogonal(rng, m)[:, :k], _orthogonal(rng, n)[:, :k]
        s = np.linspace(4.0, 1.0, k) + rng.uniform(-0.1, 0.1, k)
        out[idx] = (u * s) @ v.T
    return out


def _sq(x: Any) -> Any:
    return x * x


# == primitives ===============================================================================

spec("lax.linalg.eigh", lambda a: (lambda v, w: (_sq(v), w))(*lla.eigh(a)),
     lambda r: (sym_separated(r, 4, 4),), ("eigh",),
     lambda a: (np.linalg.eigh(a)[1] ** 2, np.linalg.eigh(a)[0]))
spec("lax.linalg.eigh_batched_lower_triangle",
     lambda a: lla.eigh(a, symmetrize_input=False)[1],
     lambda r: (np.tril(sym_separated(r, 2, 3, 3)) + np.triu(r.uniform(-9, 9, (3, 3)), 1),),
     ("eigh",), lambda a: np.linalg.eigh(a, UPLO="L")[0], dtypes=F32_64)
spec("lax.linalg.eigh_upper", lambda a: lla.eigh(a, lower=False, symmetrize_input=False)[1],
     lambda r: (np.triu(sym_separated(r, 3, 3)) + np.tril(r.uniform(-9, 9, (3, 3)), -1),),
     ("eigh",), lambda a: np.linalg.eigh(a, UPLO="U")[0])
spec("lax.linalg.eigh_projector",
     lambda a: (lambda v: v[:, :2] @ v[:, :2].T)(lla.eigh(a)[0]),
     lambda r: (sym_separated(r, 4, 4),), ("eigh", "dot_general"))

spec("lax.linalg.svd_values", lambda a: lla.svd(a, compute_uv=False),
     lambda r: (sv_separated(r, 2, 4, 3),), ("svd",),
     lambda a: np.linalg.svd(a, compute_uv=False), dtypes=F32_64)
spec("lax.linalg.svd_tall", lambda a: (lambda u, s, vt: (_sq(u), s, _sq(vt)))(
         *lla.svd(a, full_matrices=False)),
     lambda r: (sv_separated(r, 5, 3),), ("svd",),
     lambda a: (lambda u, s, vt: (u ** 2, s, vt ** 2))(*np.linalg.svd(a, full_matrices=False)))
spec("lax.linalg.svd_wide_batched", lambda a: (lambda u, s, vt: (_sq(u), s, _sq(vt)))(
         *lla.svd(a, full_matrices=False)),
     lambda r: (sv_separated(r, 2, 3, 5),), ("svd",), tol=1e-4)
spec("lax.linalg.svd_square_full", lambda a: (lambda u, s, vt: (_sq(u), s, _sq(vt)))(
         *lla.svd(a)),
     lambda r: (sv_separated(r, 3, 3),), ("svd",))

spec("lax.linalg.qr_reduced", lambda a: lla.qr(a, full_matrices=False),
     lambda r: (sv_separated(r, 5, 3),), ("qr",),
     lambda a: tuple(np.linalg.qr(a)))
spec("lax.linalg.qr_square_batched", lla.qr, lambda r: (sv_separated(r, 2, 3, 3),), ("qr",),
     lambda a: tuple(np.linalg.qr(a, mode="complete")), dtypes=F32_64, tol=1e-4)

# eig: only the eigenvalues are differentiable, once (their derivative uses the eigenvectors,
# whose own derivative is not implemented, as JAX). |w|^2 and re(w) are real and smooth where
# the eigenvalues are distinct.
spec("lax.linalg.eig_values", lambda a: (lambda w: (fnp.abs(w) ** 2, fnp.real(w)))(
         lla.eig(a, compute_eigenvectors=False)[0]),
     lambda r: (r.standard_normal((2, 4, 4)),), ("eig",),
     lambda a: (np.abs(np.linalg.eigvals(a)) ** 2, np.linalg.eigvals(a).real), order=1)

# == fnp.linalg composites ====================================================================

la = fnp.linalg
spec("linalg.eigh", lambda a: (lambda r: (r.eigenvalues, _sq(r.eigenvectors)))(la.eigh(a)),
     lambda r: (sym_separated(r, 3, 3),), ("eigh",), numpy=("linalg.eigh",))
spec("linalg.eigvalsh", la.eigvalsh, lambda r: (sym_separated(r, 2, 3, 3),), ("eigh",),
     lambda a: np.linalg.eigvalsh(a), numpy=("linalg.eigvalsh",))
spec("linalg.eigvals", lambda a: fnp.abs(la.eigvals(a)), lambda r: (r.standard_normal((3, 3)),),
     ("eig",), lambda a: np.abs(np.linalg.eigvals(a)), order=1, numpy=("linalg.eigvals",))
spec("linalg.svd", lambda a: (lambda r: (_sq(r.U), r.S, _sq(r.Vh)))(
         la.svd(a, full_matrices=False)),
     lambda r: (sv_separated(r, 4, 3),), ("svd",), numpy=("linalg.svd",))
spec("linalg.svdvals", la.svdvals, lambda r: (sv_separated(r, 3, 4),), ("svd",),
     lambda a: np.linalg.svd(a, compute_uv=False), numpy=("linalg.svdvals",))
spec("linalg.qr", lambda a: tuple(la.qr(a)), lambda r: (sv_separated(r, 4, 3),), ("qr",),
     lambda a: tuple(np.linalg.qr(a)), numpy=("linalg.qr",))
spec("linalg.pinv", la.pinv, lambda r: (sv_separated(r, 2, 4, 3),), ("svd",), np.linalg.pinv,
     numpy=("linalg.pinv",))
spec("linalg.lstsq", lambda a, b: la.lstsq(a, b)[0],
     lambda r: (sv_separated(r, 5, 3), r.uniform(-2, 2, (5, 2))), ("svd",),
     lambda a, b: np.linalg.lstsq(a, b)[0], numpy=("linalg.lstsq",))
spec("linalg.norm_matrix_ords", lambda a: fnp.stack(
         [la.norm(a, o) for o in ("nuc", 2, -2, 1, -1, np.inf, -np.inf, "fro")]),
     lambda r: (sv_separated(r, 4, 3) + r.uniform(0.01, 0.02, (4, 3)),), ("svd",),
     lambda a: np.stack([np.linalg.norm(a, o)
                         for o in ("nuc", 2, -2, 1, -1, np.inf, -np.inf, "fro")]),
     numpy=("linalg.norm", "linalg.matrix_norm"))
spec("linalg.vector_norm", lambda x: fnp.stack(
         [la.vector_norm(x, ord=o, axis=1) for o in (1, 3, 0.5, -1.5, np.inf)]),
     lambda r: (r.uniform(0.5, 2.0, (2, 4)) * r.choice([-1.0, 1.0], (2, 4)),), ("abs", "pow"),
     lambda x: np.stack([np.linalg.vector_norm(x, ord=o, axis=1)
                         for o in (1, 3, 0.5, -1.5, np.inf)]), numpy=("linalg.vector_norm",))
spec("linalg.cond", la.cond, lambda r: (sv_separated(r, 3, 3),), ("svd",), np.linalg.cond,
     numpy=("linalg.cond",))
spec("linalg.matrix_power", lambda a: la.matrix_power(a, 5), lambda r: (sv_separated(r, 3, 3) / 3,),
     ("dot_general",), lambda a: np.linalg.matrix_power(a, 5), numpy=("linalg.matrix_power",))
spec("linalg.multi_dot", lambda a, b, c: la.multi_dot([a, b, c]),
     lambda r: (r.uniform(-1, 1, (3,)), r.uniform(-1, 1, (3, 4)), r.uniform(-1, 1, (4, 2))),
     ("dot_general",), lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     numpy=("linalg.multi_dot",))
spec("linalg.cross", la.cross, lambda r: (r.uniform(-1, 1, (2, 3)), r.uniform(-1, 1, (3,))),
     ("mul", "sub"), np.linalg.cross, numpy=("linalg.cross",))
spec("linalg.vecdot_trace_diagonal", lambda a, b: (la.vecdot(a, b), la.trace(a, offset=1),
                                                   la.diagonal(a, offset=-1)),
     lambda r: (r.uniform(-1, 1, (2, 3, 4)), r.uniform(-1, 1, (3, 4))), ("mul", "reduce_sum"),
     lambda a, b: (np.linalg.vecdot(a, b), np.linalg.trace(a, offset=1),
                   np.linalg.diagonal(a, offset=-1)),
     numpy=("linalg.vecdot", "linalg.trace", "linalg.diagonal"))


def _hermitian_parts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of a Hermitian 3x3 matrix with eigenvalues 1.5 apart."""
    z = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    q = np.linalg.qr(z)[0]
    h = (q * np.array([-1.5, 0.2, 1.8])) @ q.conj().T
    return h.real, h.imag


spec("linalg.eigh_hermitian", lambda x, y: (lambda r: (r.eigenvalues,
                                                      fnp.abs(r.eigenvectors) ** 2))(
         la.eigh(x + 1j * y)),
     _hermitian_parts, ("eigh",),
     lambda x, y: (np.linalg.eigvalsh(x + 1j * y), np.abs(np.linalg.eigh(x + 1j * y)[1]) ** 2))
