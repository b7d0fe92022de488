"""The edges where a harness runs: the Executor seam, the Docker engine, the local executor, the host probe."""
