"""Run every contender on every workload and write the results (see benchmarks/README.md).

    python benchmarks/run.py                  # everything: results/latest.json + results.md
    python benchmarks/run.py --quick          # tiny sizes, fast-importing contenders
    python benchmarks/run.py --only funcgrad,numpy --workloads chain60,mlp-train

The thread counts of every BLAS/OpenMP/XLA pool are pinned here, before NumPy, JAX or PyTorch
is imported, so that every contender gets the same number of threads; ``--nice`` (negative
needs root) is applied here too, before any worker thread exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pin_thread_environment(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    # Several libraries' pools share 2 cores in one process. Workers that spin-wait after a
    # call (OpenBLAS for ~2^28 cycles, libgomp, Intel OpenMP) steal the cores the next
    # contender's threads need: measured 2-3x slower matmuls in every library. Make idle
    # workers sleep at once.
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["KMP_BLOCKTIME"] = "0"
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
    xla = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in xla:
        xla = f"{xla} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = xla.strip()
    os.environ["FUNCGRAD_BENCH_THREADS"] = str(threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def raise_priority(increment: int) -> None:
    """``os.nice(increment)`` before any thread pool exists: Linux priorities are per thread,
    and BLAS/OpenMP worker threads inherit theirs when they are created, at import."""
    try:
        os.nice(increment)
    except OSError as exc:
        print(f"run.py: could not change priority by {increment}: {exc}", file=sys.stderr)


def _int_option(argv: list[str], name: str, default: int) -> int:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith(name + "="):
            return int(arg.split("=", 1)[1])
    return default


# glibc returns freed blocks above these sizes to the OS, and a later allocation of the same
# size then pays a page fault per 4 KiB on first touch (about 2 ms per 4 MB here, more than the
# arithmetic). Whether a contender pays depended on what ran before it. Keep freed memory in
# the process instead, for every contender alike (the memory probe sets its own threshold).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31)}


def reexec_with_malloc_env() -> None:
    """glibc reads its tunables at start-up: set them and restart this script once."""
    if all(os.environ.get(k) for k in MALLOC_ENV) or os.environ.get("FUNCGRAD_BENCH_EXEC"):
        return
    os.environ.update({k: v for k, v in MALLOC_ENV.items() if not os.environ.get(k)})
    os.environ["FUNCGRAD_BENCH_EXEC"] = "1"
    os.execv(sys.executable, [sys.executable, *sys.argv])


if __name__ == "__main__":
    reexec_with_malloc_env()
    if "--probe" not in sys.argv:  # probe children inherit the parent's priority
        nice = _int_option(sys.argv, "--nice", 0)
        if nice:
            raise_priority(nice)
    pin_thread_environment(_int_option(sys.argv, "--threads", 2))
    # Import `benchmarks` as a package from the repository root, and keep this script's own
    # directory off the path so that its modules cannot shadow a library's.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from benchmarks.main import main

    sys.exit(main(sys.argv[1:]))
