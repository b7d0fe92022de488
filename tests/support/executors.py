"""Executors for tests that script what runs (the `execution.Executor` seam)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mlperf_ops.execute.executor import ContainerResult, ContainerSpec, ExecutorName


class NoExecutor:
    """An executor that must never run anything: the test scripts `runner.execute` itself."""

    name: ExecutorName = "local"

    def run(self, spec: ContainerSpec, log_path: Path, on_line: Callable[[str], None] | None = None,
            timeout_s: float = 3600.0) -> ContainerResult:
        raise AssertionError(f"the test scripted the runs, yet {spec.image} was asked to run")

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        return []

    def close(self) -> None:
        return None
