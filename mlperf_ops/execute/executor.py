"""What runs a harness, said without Docker: the container spec, its result, the Executor seam.

Two executors implement `Executor`: `engine.Engine` (a Docker container, the default)
and `local.LocalEngine` (a child process, for a Kubernetes pod that already is
the hardened container). `apply` and the runner only ever see this protocol, so
neither they nor their tests import docker-py; the environment chooses the executor
(`executor_from_env`; `connect.connect_from_env` connects it). This module imports
neither implementation: they import it.

Failures are classified where they are judged (kopf's temporary vs permanent errors):
an executor that cannot be reached raises `EngineUnavailable` (transient: the next
`apply` resumes); what a finished run left is judged by `outcome.evaluate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Network = Literal["none", "host", "bridge"]
ExecutorName = Literal["docker", "local"]
EXECUTOR_ENV = "MLPERF_OPS_EXECUTOR"

# nobody:nogroup. A root caller (CI runners and Kubernetes often are) never gets a root
# container: dropped capabilities still leave uid 0 owning every root-owned file it can reach.
UNPRIVILEGED_USER = "65534:65534"


def caller_user() -> str:
    """The uid:gid containers run as: the caller's own, so the files they write are the
    caller's to read and delete; for a root caller, nobody:nogroup (the engine hands the
    writable mounts over for the run)."""
    if os.getuid() == 0:
        return UNPRIVILEGED_USER
    return f"{os.getuid()}:{os.getgid()}"


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class GpuRequest:
    """GPUs for one container. `count=None` and no ids means all GPUs of that vendor."""

    vendor: Literal["nvidia", "amd"]
    count: int | None = None
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: list[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    workdir: str | None = None
    user: str = field(default_factory=caller_user)
    network: Network = "none"
    mem_limit: str | int | None = None
    pids_limit: int | None = 4096
    shm_size: str | int | None = None
    gpus: GpuRequest | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    read_only_rootfs: bool = True
    tmp_size: str = "1g"


@dataclass(frozen=True)
class ContainerResult:
    exit_code: int
    oom_killed: bool
    timed_out: bool
    duration_s: float
    log_path: Path
    container_id: str


LineSink = Callable[[str], None]


class Executor(Protocol):
    """Runs one harness to completion and says how it ended."""

    name: ExecutorName

    def run(self, spec: ContainerSpec, log_path: Path, on_line: LineSink | None = None,
            timeout_s: float = 3600.0) -> ContainerResult: ...

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        """Remove what an interrupted apply left running (by label); their ids."""
        ...

    def close(self) -> None: ...


def executor_from_env(environ: Mapping[str, str] | None = None) -> ExecutorName:
    """`MLPERF_OPS_EXECUTOR=local` inside a pod rendered by `render k8s`; docker otherwise."""
    value = (environ if environ is not None else os.environ).get(EXECUTOR_ENV, "docker")
    return "local" if value == "local" else "docker"
