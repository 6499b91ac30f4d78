"""Run every contender on every workload and write the results (see benchmarks/README.md).

    python benchmarks/run.py                  # everything: results/latest.json + results.md
    python benchmarks/run.py --quick          # tiny sizes, fast-importing contenders
    python benchmarks/run.py --only funcgrad,numpy --workloads chain60,mlp-train

The thread counts of every BLAS/OpenMP/XLA pool are pinned here, before NumPy, JAX or PyTorch
is imported, so that every contender gets the same number of threads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pin_thread_environment(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    xla = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in xla:
        xla = f"{xla} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"
    os.environ["XLA_FLAGS"] = xla.strip()
    os.environ["FUNCGRAD_BENCH_THREADS"] = str(threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _threads_from_argv(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 2


if __name__ == "__main__":
    pin_thread_environment(_threads_from_argv(sys.argv))
    # Import `benchmarks` as a package from the repository root, and keep this script's own
    # directory off the path so that its modules cannot shadow a library's.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from benchmarks.main import main

    sys.exit(main(sys.argv[1:]))
