"""einsum as pairwise dot_generals, in the contraction order ``numpy.einsum_path`` picks."""

from __future__ import annotations

import string
from collections import Counter
from typing import Any

import numpy as np

from funcgrad import lax
from funcgrad.core.errors import FuncgradValueError, ShapeError, at_user_line


def _parse(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins, out = subscripts, None
    terms = ins.split(",")
    if len(terms) != len(ndims):
        raise ValueError(at_user_line(
            f"einsum: {len(terms)} operand subscripts for {len(ndims)} operands"))
    used = set(subscripts) & set(string.ascii_letters)
    spare = [c for c in string.ascii_letters if c not in used]
    max_ell = max((nd - len(t.replace("...", "")) for t, nd in zip(terms, ndims, strict=True)
                   if "..." in t), default=0)
    ell = "".join(spare[:max_ell])
    expanded = []
    for t, nd in zip(terms, ndims, strict=True):
        if "..." in t:
            n = nd - len(t.replace("...", ""))
            t = t.replace("...", ell[max_ell - n:] if n else "")
        if len(t) != nd:
            raise ShapeError(at_user_line(
                f"einsum: subscripts {t!r} do not match an operand with {nd} dimensions"))
        expanded.append(t)
    if out is None:
        counts = Counter("".join(expanded))
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return expanded, out


def _diagonalize(x: Any, labels: str) -> tuple[Any, str]:
    from funcgrad import numpy as fnp
    while True:
        dup = next((c for c in labels if labels.count(c) > 1), None)
        if dup is None:
            return x, labels
        a = labels.index(dup)
        b = labels.index(dup, a + 1)
        x = fnp.diagonal(x, 0, a, b)  # the diagonal becomes the last axis
        labels = "".join(c for i, c in enumerate(labels) if i not in (a, b)) + dup


def _sum_unused(x: Any, labels: str, keep: set[str]) -> tuple[Any, str]:
    drop = tuple(i for i, c in enumerate(labels) if c not in keep)
    if not drop:
        return x, labels
    return lax.reduce_sum(x, drop), "".join(c for c in labels if c in keep)


def _stretch(x: Any, axis: int, n: int) -> Any:
    shape = list(x.shape)
    shape[axis] = n
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape))))


def _contract(x: Any, lx: str, y: Any, ly: str, keep: set[str]) -> tuple[Any, str]:
    batch = [c for c in lx if c in ly and c in keep]
    contract = [c for c in lx if c in ly and c not in keep]
    dn = ((tuple(lx.index(c) for c in contract), tuple(ly.index(c) for c in contract)),
          (tuple(lx.index(c) for c in batch), tuple(ly.index(c) for c in batch)))
    for c in batch + contract:
        nx, ny = x.shape[lx.index(c)], y.shape[ly.index(c)]
        if nx == ny:
            continue
        # NumPy broadcasts size 1 against n (ellipsis dimensions, and labels alike).
        if nx == 1:
            x = _stretch(x, lx.index(c), ny)
        elif ny == 1:
            y = _stretch(y, ly.index(c), nx)
        else:
            raise ShapeError(at_user_line(
                f"einsum: label {c!r} has size {nx} in one operand and {ny} in another"))
    out = lax.dot_general(x, y, dn)
    free_x = [c for c in lx if c not in batch and c not in contract]
    free_y = [c for c in ly if c not in batch and c not in contract]
    return out, "".join(batch + free_x + free_y)


_LETTERS = string.ascii_letters  # NumPy's sublist integers 0..51 name these labels


def _sublist_str(sub: Any) -> str:
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < 52:
            out.append(_LETTERS[s])
        else:
            raise FuncgradValueError(at_user_line(
                f"einsum: subscripts in a sublist must be integers in [0, 52) or Ellipsis, "
                f"got {s!r}"))
    return "".join(out)


def _interleaved(args: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """NumPy's ``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])`` as a subscripts
    string and the operands."""
    pairs = len(args) // 2
    operands = [args[2 * k] for k in range(pairs)]
    subs = [_sublist_str(args[2 * k + 1]) for k in range(pairs)]
    spec = ",".join(subs)
    if len(args) % 2:
        spec += "->" + _sublist_str(args[-1])
    return spec, operands


def einsum(subscripts: Any, *operands: Any, optimize: Any = "greedy") -> Any:
    """``numpy.einsum`` on funcgrad primitives, in the subscripts-string form or NumPy's
    interleaved form ``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])``.

    >>> import numpy as np
    >>> einsum("ij,jk->ik", np.eye(2), np.ones((2, 3))).shape
    (2, 3)
    >>> einsum(np.eye(2), [0, 1], np.ones((2, 3)), [1, 2], [0, 2]).shape
    (2, 3)
    """
    from funcgrad import numpy as fnp
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved((subscripts, *operands))  # type: ignore[assignment]
    arrays = [fnp.asarray(o) for o in operands]
    dt = np.result_type(*(a.dtype for a in arrays))
    arrays = [fnp.astype(a, dt) for a in arrays]
    terms, out = _parse(subscripts, [a.ndim for a in arrays])
    ops = []
    for a, t in zip(arrays, terms, strict=True):
        ops.append(_diagonalize(a, t))
    if len(ops) > 1 and optimize:
        stand_ins = [np.broadcast_to(np.zeros((), dt), a.shape) for a, _ in ops]
        spec = ",".join(t for _, t in ops) + "->" + out
        path = np.einsum_path(spec, *stand_ins, optimize=optimize)[0][1:]
    else:
        path = [(0, 1)] * (len(ops) - 1)
    for pair in path:
        if len(pair) == 1:
            continue
        i, j = sorted(pair)
        (y, ly), (x, lx) = ops.pop(j), ops.pop(i)
        rest = set(out).union(*(set(t) for _, t in ops))
        x, lx = _sum_unused(x, lx, rest | set(ly))
        y, ly = _sum_unused(y, ly, rest | set(lx))
        ops.append(_contract(x, lx, y, ly, rest))
    (x, lx), = ops
    x, lx = _sum_unused(x, lx, set(out))
    return lax.transpose(x, tuple(lx.index(c) for c in out))
