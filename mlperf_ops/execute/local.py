"""Run the harness as a child process instead of a container (MLPERF_OPS_EXECUTOR=local).

For places where the caller already *is* the hardened container — a Kubernetes pod
rendered by `mlperf-ops render k8s` (non-root, no privilege escalation, capabilities
dropped, read-only root) — and there is no Docker engine to ask. The container
contract is kept: the same MLPERF_* variables, with the container paths of the
mounts (/mlperf/config, /mlperf/output, …) translated to the host directories they
would have been bound to. This module adds no isolation of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from mlperf_ops.execute.executor import ContainerResult, ContainerSpec, ExecutorName
from mlperf_ops.core.errors import OperationalError

DEFAULT_COMMAND = ["python3", "-m", "harness", "run"]
# Variables a child process needs to find Python and its libraries; nothing else of
# the caller's environment (which may hold secrets) is passed on.
PASSTHROUGH = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ")


def harness_module() -> str:
    """`harness` inside our images (top-level package), `mlperf_ops.harness` elsewhere."""
    try:
        import harness  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "mlperf_ops.harness"
    return "harness"


def translate(value: str, mounts: Mapping[str, str]) -> str:
    """Map a container path onto the host directory its mount would bind."""
    for target in sorted(mounts, key=len, reverse=True):
        if value == target or value.startswith(target + "/"):
            return mounts[target] + value[len(target):]
    return value


def local_command(spec: ContainerSpec, mounts: Mapping[str, str]) -> list[str]:
    command = list(spec.command or DEFAULT_COMMAND)
    if command[:3] == ["python3", "-m", "harness"]:
        command = [sys.executable, "-m", harness_module(), *command[3:]]
    elif command and command[0] == "python3":
        command[0] = sys.executable
    return [translate(arg, mounts) for arg in command]


def local_env(spec: ContainerSpec, mounts: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
    env.update({key: translate(value, mounts) for key, value in spec.env.items()})
    env.update(extra)
    return env


class LocalEngine:
    """An `execution.Executor` backed by child processes."""

    name: ExecutorName = "local"

    def __init__(self, extra_env: Mapping[str, str] | None = None) -> None:
        self.extra_env = dict(extra_env or {})

    @classmethod
    def connect(cls) -> LocalEngine:
        extra = {}
        if os.environ.get("MLPERF_OPS_LOCAL_MODEL_DIR"):
            extra["MLPERF_MODEL_DIR"] = os.environ["MLPERF_OPS_LOCAL_MODEL_DIR"]
        return cls(extra)

    def close(self) -> None:
        return None

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        # A child process dies with the apply that started it (same session): nothing to remove.
        return []

    def run(self, spec: ContainerSpec, log_path: Path, on_line: Callable[[str], None] | None = None,
            timeout_s: float = 3600.0) -> ContainerResult:
        mounts = {m.target: str(Path(m.source).absolute()) for m in spec.mounts}
        command = local_command(spec, mounts)
        cwd = translate(spec.workdir, mounts) if spec.workdir else None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                command, cwd=cwd, env=local_env(spec, mounts, self.extra_env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as error:
            raise OperationalError(f"cannot start {command[0]}: {error.strerror}",
                                   hint="the local executor runs the harness in this environment") from None
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            with open(log_path, "ab") as log:
                for raw in iter(stream.readline, b""):
                    log.write(raw)
                    log.flush()
                    if on_line:
                        on_line(raw.decode("utf-8", errors="replace").rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            exit_code = process.wait()
        reader.join(timeout=30)
        # Killed by the kernel's OOM killer is indistinguishable from kill -9 here.
        return ContainerResult(
            exit_code=137 if exit_code == -signal.SIGKILL else exit_code, oom_killed=False,
            timed_out=timed_out, duration_s=time.monotonic() - started, log_path=log_path,
            container_id=f"pid-{process.pid}",
        )
