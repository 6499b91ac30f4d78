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
    ``debug_nans``/``debug_infs``: raise at the first primitive that outputs a NaN/Inf.
    ``disable_jit``, ``log_compiles``, ``explain_cache_misses``, ``jit_dump_dir`` and
    ``jit_retrace_warn`` control ``fg.jit``.

    JAX's spellings are accepted too: ``jax_enable_checks``, ``jax_debug_nans``,
    ``jax_debug_infs``, ``jax_disable_jit``, ``jax_log_compiles``,
    ``jax_explain_cache_misses``, and ``jax_enable_x64`` (funcgrad computes in NumPy's
    dtypes, float64 by default, so True changes nothing and False is refused)."""

    _JAX_NAMES = {"jax_enable_checks": "enable_checks", "jax_debug_nans": "debug_nans",
                  "jax_debug_infs": "debug_infs", "jax_disable_jit": "disable_jit",
                  "jax_log_compiles": "log_compiles",
                  "jax_explain_cache_misses": "explain_cache_misses"}

    def __init__(self) -> None:
        self.enable_checks = os.environ.get("FUNCGRAD_ENABLE_CHECKS", "") not in ("", "0")
        self.debug_nans = os.environ.get("FUNCGRAD_DEBUG_NANS", "") not in ("", "0")
        self.debug_infs = os.environ.get("FUNCGRAD_DEBUG_INFS", "") not in ("", "0")
        # jit: run eagerly; log each compile with its time; say why a function is traced
        # again; write every generated source to a folder; warn after this many signatures.
        self.disable_jit = os.environ.get("FUNCGRAD_DISABLE_JIT", "") not in ("", "0")
        self.log_compiles = False
        self.explain_cache_misses = False
        self.jit_dump_dir: str | None = os.environ.get("FUNCGRAD_JIT_DUMP_DIR") or None
        self.jit_retrace_warn = 8

    @property
    def jax_enable_x64(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:  # only called for names not found normally
        if name in Config._JAX_NAMES:
            return getattr(self, Config._JAX_NAMES[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def update(self, name: str, value: Any) -> None:
        if name == "jax_enable_x64":
            if not value:
                raise ValueError(
                    "config.update('jax_enable_x64', False) is not supported: funcgrad computes "
                    "in NumPy's dtypes (float64 by default, as JAX with x64 enabled); for 32-bit "
                    "computation cast your inputs to float32 (e.g. x.astype(np.float32))")
            return  # True: NumPy's default already
        name = Config._JAX_NAMES.get(name, name)
        if name not in vars(self):
            options = sorted([*vars(self), *Config._JAX_NAMES, "jax_enable_x64"])
            raise ValueError(f"unknown config option {name!r}; options: {options}")
        setattr(self, name, value)
        if name in ("debug_nans", "debug_infs", "enable_checks"):
            from funcgrad.core import tracing  # late: tracing installs the checking eval trace
            tracing.set_debug_checks(self.debug_nans, self.debug_infs, self.enable_checks)


config = Config()
if config.debug_nans or config.debug_infs or config.enable_checks:  # set from the environment
    from funcgrad.core import tracing

    tracing.set_debug_checks(config.debug_nans, config.debug_infs, config.enable_checks)
