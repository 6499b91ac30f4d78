"""Global flags, set as attributes or with ``config.update(name, value)``.

>>> from funcgrad.core.config import config
>>> config.update("enable_checks", True); config.enable_checks
True
>>> config.update("enable_checks", False)
"""

from __future__ import annotations

import os
from typing import Any


class Config:
    """``enable_checks``: type-check every jaxpr as it is built, and check every eagerly
    evaluated primitive against its shape rule (slow; for debugging and tests).
    ``debug_nans``/``debug_infs``: raise at the first primitive that outputs a NaN/Inf."""

    def __init__(self) -> None:
        self.enable_checks = os.environ.get("FUNCGRAD_ENABLE_CHECKS", "") not in ("", "0")
        self.debug_nans = os.environ.get("FUNCGRAD_DEBUG_NANS", "") not in ("", "0")
        self.debug_infs = os.environ.get("FUNCGRAD_DEBUG_INFS", "") not in ("", "0")

    def update(self, name: str, value: Any) -> None:
        if not hasattr(self, name):
            raise ValueError(f"unknown config option {name!r}; options: {sorted(vars(self))}")
        setattr(self, name, value)
        if name in ("debug_nans", "debug_infs", "enable_checks"):
            from funcgrad.core import tracing  # late: tracing installs the checking eval trace
            tracing.set_debug_checks(self.debug_nans, self.debug_infs, self.enable_checks)


config = Config()
if config.debug_nans or config.debug_infs or config.enable_checks:  # set from the environment
    from funcgrad.core import tracing

    tracing.set_debug_checks(config.debug_nans, config.debug_infs, config.enable_checks)
