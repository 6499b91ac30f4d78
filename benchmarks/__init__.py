"""funcgrad's benchmarks: every contender on every workload, in one process (see README.md)."""
