"""What the numbers were measured on: CPU, threads, BLAS kernels, library versions, commit."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.contenders import pin_threads, threads, versions

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS",
               "OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OPENBLAS_THREAD_TIMEOUT",
               "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
               "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "JAX_PLATFORMS")
REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _blas_pools() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed: BLAS pools not inspected or pinned"}]
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads",
            "threading_layer", "filepath")
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]


def _numpy_blas() -> dict[str, Any]:
    try:
        config = np.show_config(mode="dicts")  # type: ignore[func-returns-value]
        return dict(config["Build Dependencies"]["blas"])
    except Exception as exc:  # the layout of this dict is not a stable API
        return {"error": repr(exc)}


def _torch_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {}
    return {"num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "mkl": bool(torch.backends.mkl.is_available())}


def _jax_info() -> dict[str, Any]:
    try:
        import jax
    except ImportError:
        return {}
    return {"devices": [str(d) for d in jax.devices()], "backend": jax.default_backend()}


def collect(imported: set[str]) -> dict[str, Any]:
    """The environment, inspecting only libraries already imported (plus versions of all)."""
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads_pinned": threads(),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "env": {v: os.environ.get(v) for v in THREAD_VARS},
        "versions": versions(),
        "numpy_blas": _numpy_blas(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Whether funcgrad's own sources differ from that commit (the benchmarks may).
        "dirty": bool(_git("status", "--porcelain", "--", "funcgrad")),
    }
    if "torch" in imported:
        info["torch"] = _torch_info()
    if "jax" in imported:
        info["jax"] = _jax_info()
    pin_threads()
    info["blas_pools"] = _blas_pools()
    return info


def summary(info: dict[str, Any]) -> list[str]:
    """A few markdown bullet lines for the top of results.md."""
    v = info["versions"]
    pools = ", ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture') or p.get('prefix')},"
        f" {p.get('num_threads')} threads)"
        for p in info["blas_pools"] if "internal_api" in p)
    libs = ", ".join(f"{k} {v[k]}" for k in ("funcgrad", "numpy", "jax", "torch", "autograd")
                     if v.get(k))
    dirty = " (with uncommitted changes to funcgrad/)" if info.get("dirty") else ""
    load = info.get("load_average_1_5_15min")
    load_text = (f"; 1-min load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} "
                 f"after" if load else "")
    return [
        f"- machine: {info['cpu']}, {info['logical_cpus']} logical CPUs; "
        f"{info['threads_pinned']} threads for every library, nice {info.get('nice', 0)}"
        f"{load_text}",
        f"- thread pools: {pools or 'not inspected (threadpoolctl missing)'}",
        f"- libraries: Python {info['python']}, {libs}",
        f"- funcgrad commit {info['commit']}{dirty}, run on {info['date']}",
    ]
