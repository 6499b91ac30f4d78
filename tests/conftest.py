"""Shared test setup: seeding, per-dtype tolerances and the hypothesis profiles.

Every test that needs random numbers takes the ``rng`` fixture: a NumPy Generator seeded from
the test's own id, so a test sees the same numbers whether it runs alone or in the full suite,
and on every machine. Hypothesis runs derandomized (a fixed seed, no example database) when the
``CI`` environment variable is set, so CI time and results are reproducible.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a test extra; tests that need it import it themselves
    settings = None

# Forward-value tolerances per dtype (rtol, atol).
FORWARD_TOL = {np.dtype(np.float64): (1e-12, 1e-12), np.dtype(np.float32): (2e-6, 2e-6)}

if settings is not None:
    settings.register_profile("ci", derandomize=True, database=None, max_examples=30,
                              deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=30, deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def jax_x64() -> Any:
    """JAX (the oracle extra) with float64 enabled for the test, restored after it."""
    from oracles import oracle
    jax = oracle("jax")
    old = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", old)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A Generator seeded from the test id (stable across runs, orders and machines)."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(autouse=True)
def _seed_legacy_numpy() -> None:
    # Code under test must not draw from the global NumPy state; if some does, at least
    # make it reproducible.
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _enable_checks() -> object:
    # Every test runs with the shape rules checked against eager NumPy results and every staged
    # jaxpr type-checked, so an impl that disagrees with its rule fails the suite.
    import funcgrad as fg

    fg.config.update("enable_checks", True)
    yield
    fg.config.update("enable_checks", False)
