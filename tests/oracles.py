"""The outside libraries the tests compare against (the ``oracle`` extra).

``oracle("torch")`` imports an oracle or skips the test when it is absent, except under CI
(``CI`` set), where the extra is always installed: there a missing oracle fails the test
instead of silently skipping the comparison.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def oracle(name: str) -> ModuleType:
    """Import the oracle module ``name`` (skip locally when missing, fail under CI)."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)
