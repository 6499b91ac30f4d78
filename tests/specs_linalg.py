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
