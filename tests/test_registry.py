"""The registry test: every primitive has every rule and is exercised by an OpSpec, and the
op-spec table tells the truth about which primitives each spec exercises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from op_specs import OpSpec, all_specs, spec_id

import funcgrad as fg  # noqa: F401  (importing funcgrad registers every primitive family)
from funcgrad.core import ClosedJaxpr, Jaxpr, primitives
from funcgrad.core.pytree import tree_leaves
from funcgrad.transforms import ad, batching, codegen

PRIMITIVES = primitives()
SPECS = all_specs()


def _is_placeholder(rule: Any) -> bool:
    # core.primitive._missing_rule builds a closure named "missing".
    return getattr(rule, "__name__", "") == "missing"


def test_registry_is_not_empty() -> None:
    # Guards the parametrized tests below against vacuously passing on an empty registry.
    assert len(PRIMITIVES) >= 40
    for name in ("add", "dot_general", "gather", "scatter_add", "reduce_sum", "pad"):
        assert name in PRIMITIVES


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_impl_and_shape_rule(name: str) -> None:
    p = PRIMITIVES[name]
    assert p.name == name
    assert not _is_placeholder(p.impl), f"primitive {name!r} has no impl"
    assert not _is_placeholder(p.abstract_eval), f"primitive {name!r} has no abstract_eval"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_jvp_rule(name: str) -> None:
    assert PRIMITIVES[name] in ad.jvp_rules, f"primitive {name!r} has no JVP rule"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_vjp_rule(name: str) -> None:
    assert PRIMITIVES[name] in ad.vjp_rules, f"primitive {name!r} has no VJP rule"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_batching_rule(name: str) -> None:
    assert PRIMITIVES[name] in batching.batch_rules, f"primitive {name!r} has no batching rule"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_codegen_rule(name: str) -> None:
    assert PRIMITIVES[name] in codegen.codegen_rules, f"primitive {name!r} has no codegen rule"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_is_exercised_by_a_spec(name: str) -> None:
    covering = [s.name for s in SPECS if name in s.primitives]
    assert covering, f"no OpSpec declares primitive {name!r} in its primitives"


def test_spec_names_are_unique() -> None:
    names = [s.name for s in SPECS]
    dups = sorted({n for n in names if names.count(n) > 1})
    assert not dups, f"duplicate OpSpec names: {dups}"


@pytest.mark.parametrize("name", sorted({p for s in SPECS for p in s.primitives}))
def test_declared_primitive_exists(name: str) -> None:
    assert name in PRIMITIVES, f"an OpSpec declares {name!r}, which is not a registered primitive"


# -- the table cannot lie ----------------------------------------------------------------------

def _primitive_names(jaxpr: Jaxpr) -> set[str]:
    """Every primitive in ``jaxpr``, including those in sub-jaxprs held in params."""
    names: set[str] = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, ClosedJaxpr):
                    names |= _primitive_names(sub.jaxpr)
                elif isinstance(sub, Jaxpr):
                    names |= _primitive_names(sub)
    return names


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_spec_primitives_appear_in_jaxpr(spec: OpSpec) -> None:
    args = spec.args(np.random.default_rng(0))
    # A spec may stage elsewhere (collectives: inside their named vmap, which resolves them).
    stage = spec.extra.get("stage") or fg.make_jaxpr(spec.fn)
    closed = stage(*args)
    found = _primitive_names(closed.jaxpr)
    missing = sorted(set(spec.primitives) - found)
    assert not missing, (f"spec {spec.name!r} declares {missing} but its jaxpr only has "
                         f"{sorted(found)}:\n{closed}")


SPEC_DTYPES = [(s, np.dtype(d)) for s in SPECS for d in s.dtypes]


@pytest.mark.parametrize("spec, dtype", SPEC_DTYPES,
                         ids=[f"{s.name}-{d.name}" for s, d in SPEC_DTYPES])
def test_shape_rules_agree_with_impls(spec: OpSpec, dtype: np.dtype) -> None:
    # The abstract evaluation (shape rules) must predict what the impls produce, for every
    # dtype the spec declares (float32 must not be typed float64 at trace time).
    args = tuple(a.astype(dtype) if np.asarray(a).dtype == np.float64 else a
                 for a in spec.args(np.random.default_rng(0)))
    closed = fg.make_jaxpr(spec.fn)(*args)
    outs = tree_leaves(spec.fn(*args))
    assert len(outs) == len(closed.out_avals)
    for i, (o, aval) in enumerate(zip(outs, closed.out_avals, strict=True)):
        o = np.asarray(o)
        assert (o.shape, o.dtype) == (aval.shape, aval.dtype), (
            f"output {i}: impl gives {o.dtype}{list(o.shape)}, shape rule {aval.str_short()}")


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_eval_jaxpr_agrees_with_eager(spec: OpSpec) -> None:
    from funcgrad.core import eval_jaxpr
    args = spec.args(np.random.default_rng(0))
    closed = fg.make_jaxpr(spec.fn)(*args)
    got = eval_jaxpr(closed.jaxpr, closed.consts, *tree_leaves(args))
    want = tree_leaves(spec.fn(*args))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)
