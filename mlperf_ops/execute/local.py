"""Run the harness as a child process instead of a container (MLPERF_OPS_EXECUTOR=local).

For places where the caller already *is* the hardened container — a Kubernetes pod
rendered by `mlperf-ops render k8s` (non-root, no privilege escalation, capabilities
dropped, read-only root) — and there is no Docker engine to ask. The container
contract is kept: the same MLPERF_* variables, with the container paths of the
mounts (/mlperf/config, /mlperf/output, …) translated to the host directories they
would have been bound to, and what Docker would take from the image — the command of a
run that declares none, the variables the image declares — from what the controller image
recorded of its harness image (HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV). This module adds
no isolation of its own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mlperf_ops.execute.executor import ContainerResult, ContainerSpec, ExecutorName
from mlperf_ops.core.errors import OperationalError

# What Docker takes from the harness image and a child process cannot: the command a run
# without `command:` runs (the image's CMD) and the variables the image declares (its ENV,
# e.g. the LLM image's NLTK_DATA). `mlperf-ops images build controller` reads both from the
# harness image's config and bakes them into the controller image under these names, as
# JSON lists (README, "Kubernetes"). A pod cannot ask an engine for them at run time.
HARNESS_COMMAND_ENV = "MLPERF_HARNESS_COMMAND"
HARNESS_ENV_NAMES_ENV = "MLPERF_HARNESS_ENV"
# Variables a child process needs to find Python and its libraries on any host. Besides
# them only the names the harness image declares are passed on: nothing else of the
# caller's environment (the Job's or a shell's, which may hold secrets).
PASSTHROUGH = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_COMMAND_HINT = (
    "declare the benchmark's `command:` in the manifest, or run the controller image built by "
    "`mlperf-ops images build controller --for TARGET` from a harness image whose CMD runs its "
    f"harness (it records that CMD as {HARNESS_COMMAND_ENV}); on a host, set {HARNESS_COMMAND_ENV} "
    'to a JSON list, e.g. ["python3", "-m", "harness", "run"]'
)


def harness_defaults_env(command: Sequence[str] | None, image_env: Sequence[str]) -> dict[str, str]:
    """The controller's record of its harness image: `command` its CMD, `image_env` its ENV
    entries (`NAME=value`). Names only: the pod's values are the image's unless the Job
    overrides one, as a container's would be."""
    names = sorted({entry.partition("=")[0] for entry in image_env} - {HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV})
    return {HARNESS_COMMAND_ENV: json.dumps(list(command)) if command else "",
            HARNESS_ENV_NAMES_ENV: json.dumps([n for n in names if _ENV_NAME.fullmatch(n)])}


def _json_strings(environ: Mapping[str, str], name: str) -> list[str] | None:
    """The JSON list of strings in `environ[name]`; None when unset or empty."""
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OperationalError(f"{name} is not a JSON list of strings: {text[:200]!r}", hint=_NO_COMMAND_HINT)
    return value


def default_command(environ: Mapping[str, str]) -> list[str]:
    """The harness image's own command, for a run that declares none."""
    command = _json_strings(environ, HARNESS_COMMAND_ENV)
    if not command:
        # Never a guess: the image-classification harness started for an LLM system (or any
        # other image's) would fail late and misleadingly, or worse, measure the wrong thing.
        raise OperationalError(
            "the run declares no command and this environment names no harness command "
            f"({HARNESS_COMMAND_ENV} is unset or empty)", hint=_NO_COMMAND_HINT)
    return command


def declared_env_names(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The variables the harness image declares (HARNESS_ENV_NAMES_ENV), besides PASSTHROUGH."""
    names = _json_strings(environ, HARNESS_ENV_NAMES_ENV) or []
    return tuple(n for n in names if _ENV_NAME.fullmatch(n))


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


def local_command(spec: ContainerSpec, mounts: Mapping[str, str],
                  environ: Mapping[str, str] | None = None) -> list[str]:
    command = list(spec.command or default_command(os.environ if environ is None else environ))
    module = command[2] if command[:2] == ["python3", "-m"] and len(command) > 2 else ""
    if module == "harness" or module.startswith("harness."):
        # `harness` is a top-level package in our images and mlperf_ops.harness on a host.
        command = [sys.executable, "-m", harness_module() + module[len("harness"):], *command[3:]]
    elif command and command[0] == "python3":
        command[0] = sys.executable
    return [translate(arg, mounts) for arg in command]


def local_env(spec: ContainerSpec, mounts: Mapping[str, str], extra: Mapping[str, str],
              environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment as a container's would be: the image's variables, then the run's."""
    environ = os.environ if environ is None else environ
    names = (*PASSTHROUGH, *declared_env_names(environ))
    env = {name: environ[name] for name in names if name in environ}
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
