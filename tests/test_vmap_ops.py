"""vmap of every OpSpec against ``np.stack`` of a Python loop (JAX's _CheckBatching): batch axis
first and last, batch sizes 0, 1 and 3, and unbatched (``in_axes=None``) arguments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id

import funcgrad as fg
from funcgrad.core.pytree import tree_flatten, tree_unflatten

SPECS = [s for s in all_specs() if s.arg_shapes]


def _stack(examples: list[Any], axis: int, template: Any) -> Any:
    """Stack a list of equal-structure pytrees leafwise along ``axis`` (size 0 allowed)."""
    leaves_t, tree = tree_flatten(template)
    if not examples:
        out = []
        for leaf in leaves_t:
            leaf = np.asarray(leaf)
            empty = np.zeros((0, *leaf.shape), leaf.dtype)
            out.append(np.moveaxis(empty, 0, axis))
        return tree_unflatten(tree, out)
    cols = zip(*(tree_flatten(e)[0] for e in examples), strict=True)
    return tree_unflatten(tree, [np.stack([np.asarray(c) for c in col], axis=axis)
                                 for col in cols])


def _assert_tree_close(got: Any, want: Any, name: str) -> None:
    g_leaves, g_tree = tree_flatten(got)
    w_leaves, w_tree = tree_flatten(want)
    assert g_tree == w_tree, f"{name}: output structure {g_tree} != {w_tree}"
    for i, (g, w) in enumerate(zip(g_leaves, w_leaves, strict=True)):
        assert isinstance(g, np.ndarray), f"{name}: output {i} is a {type(g).__name__}"
        assert g.shape == w.shape, f"{name}: output {i} has shape {g.shape}, loop {w.shape}"
        assert g.dtype == w.dtype, f"{name}: output {i} has dtype {g.dtype}, loop {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"{name}: output {i}")


def _check(spec: OpSpec, rng: np.random.Generator, size: int, axis: int,
           unbatched: tuple[int, ...] = ()) -> None:
    examples = [spec.args(rng) for _ in range(max(size, 1))]
    template = examples[0]
    shared = examples[0]
    n = len(template)
    batched_args = []
    in_axes: list[int | None] = []
    for i in range(n):
        if i in unbatched:
            batched_args.append(shared[i])
            in_axes.append(None)
        else:
            ax = axis if axis >= 0 else np.ndim(template[i])  # the last axis of the stack
            batched_args.append(_stack([e[i] for e in examples[:size]], ax, template[i]))
            in_axes.append(ax if axis >= 0 else -1)
    per_example = [tuple(shared[i] if i in unbatched else e[i] for i in range(n))
                   for e in examples[:size]]
    want = _stack([spec.fn(*a) for a in per_example], 0, spec.fn(*template))
    got = fg.vmap(spec.fn, in_axes=tuple(in_axes))(*batched_args)
    _assert_tree_close(got, want, spec.name)


@pytest.mark.parametrize("size", [1, 3])
@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_vmap_axis0(spec: OpSpec, size: int, rng: np.random.Generator) -> None:
    _check(spec, rng, size, 0)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_vmap_last_axis(spec: OpSpec, rng: np.random.Generator) -> None:
    _check(spec, rng, 3, -1)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_vmap_size0(spec: OpSpec, rng: np.random.Generator) -> None:
    if not spec.extra.get("vmap_size0", True):
        pytest.skip("the op does not allow a batch of size 0")
    _check(spec, rng, 0, 0)
    _check(spec, rng, 0, -1)


@pytest.mark.parametrize("spec", [s for s in SPECS if len(s.arg_shapes) > 1], ids=spec_id)
def test_vmap_in_axes_none(spec: OpSpec, rng: np.random.Generator) -> None:
    n = len(spec.arg_shapes)
    if spec.extra.get("vmap_none", True):
        _check(spec, rng, 3, 0, unbatched=(0,))             # the first argument shared
    _check(spec, rng, 2, -1, unbatched=tuple(range(1, n)))  # only the first batched


def test_vmap_table_is_not_empty() -> None:
    assert len(SPECS) > 100


def test_vmap_of_grad_per_example() -> None:
    # Per-example gradients of a tiny regression loss equal the loop.
    rng = np.random.default_rng(0)
    w = rng.standard_normal(3)
    xs, ys = rng.standard_normal((4, 3)), rng.standard_normal(4)
    import funcgrad.numpy as fnp

    def loss(w: Any, x: Any, y: Any) -> Any:
        return (fnp.tanh(x @ w) - y) ** 2

    got = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    want = np.stack([fg.grad(loss)(w, x, y) for x, y in zip(xs, ys, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-13)
