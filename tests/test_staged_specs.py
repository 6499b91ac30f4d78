"""Every differentiable op spec, staged (make_jaxpr, then eval_jaxpr) and eager, under vjp,
jvp and vmap(vjp): the staged program must mean what the eager one means."""

from __future__ import annotations

import numpy as np
import pytest
from op_specs import OpSpec, spec_id, staged
from test_grad_ops import DIFF_SPECS, diff_problem

import funcgrad as fg
from funcgrad.core.pytree import tree_leaves, tree_map


def _close(got, want) -> None:
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=spec_id)
def test_staged_equals_eager_under_vjp_jvp_and_vmap(spec: OpSpec, rng) -> None:
    f, args = diff_problem(spec, rng)
    g = staged(f)
    out, pull = fg.vjp(f, *args)
    s_out, s_pull = fg.vjp(g, *args)
    _close(s_out, out)
    ct = tree_map(lambda o: rng.normal(size=np.shape(o)).astype(np.asarray(o).dtype), out)
    _close(s_pull(ct), pull(ct))
    tangents = tuple(rng.normal(size=np.shape(a)).astype(np.asarray(a).dtype) for a in args)
    _close(fg.jvp(g, args, tangents), fg.jvp(f, args, tangents))
    cts = tree_map(lambda c: np.stack([c, 2 * c]), ct)
    _close(fg.vmap(s_pull)(cts), fg.vmap(pull)(cts))
