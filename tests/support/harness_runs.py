"""Shared, disk-cached harness runs for tests/test_harness_*.py and tests/test_compliance*.py.

Each LoadGen run happens in its own subprocess (LoadGen allows one run per process).
Results are cached under the session's pytest base temp directory, so a run that
several test files need (the 50,000-sample accuracy run above all) happens once.
A support module: pytest collects no tests from it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HARNESS_SRC = Path(__file__).resolve().parents[2] / "mlperf_ops" / "harness"

# Short runs: min_duration far below the submission's 600000 ms; query counts chosen so
# every scenario stays VALID whether the machine is idle or busy (Server's latency bound
# is relaxed from resnet's 15 ms: on a shared 2-core machine the 99th percentile is noise).
SHORT_USER_CONF = """\
*.SingleStream.min_duration = 1000
*.SingleStream.target_latency = 1
*.SingleStream.min_query_count = 8000
*.MultiStream.min_duration = 1000
*.MultiStream.target_latency = 2
*.MultiStream.min_query_count = 1500
*.Offline.min_duration = 500
*.Offline.target_qps = 12000
resnet50.Offline.min_query_count = 2048
*.Server.min_duration = 1500
*.Server.target_qps = 400
*.Server.min_query_count = 100
resnet50.Server.target_latency = 200
"""


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MLPERF_ORT_INTRA_OP_THREADS="1")
    for key in list(env):
        if key.startswith("MLPERF_") and key != "MLPERF_ORT_INTRA_OP_THREADS":
            del env[key]
    return env


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    output_dir: Path

    @property
    def summary(self) -> Path:
        return self.output_dir / "mlperf_log_summary.txt"

    @property
    def detail(self) -> Path:
        return self.output_dir / "mlperf_log_detail.txt"

    @property
    def accuracy_log(self) -> Path:
        return self.output_dir / "mlperf_log_accuracy.json"


def harness(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlperf_ops.harness", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )


def model_dir(base: Path) -> Path:
    """The demo model, trained once per session (as the image build does)."""
    out = base / "models"
    if not (out / "model.json").is_file():
        staging = base / "models.staging"
        shutil.rmtree(staging, ignore_errors=True)
        proc = harness(["train", "--out", str(staging)], base_env(), base)
        assert proc.returncode == 0, proc.stderr
        staging.rename(out)
    return out


def run_harness(
    base: Path,
    name: str,
    *,
    scenario: str,
    mode: str = "PerformanceOnly",
    audit_config: str | None = None,
    audit_test: str = "",
    user_conf: str = SHORT_USER_CONF,
    mlperf_conf: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> RunResult:
    """One `harness run` in a subprocess, cached on disk under base/runs/name."""
    root = base / "runs" / name
    record = root / "result.json"
    if record.is_file():
        data = json.loads(record.read_text())
        return RunResult(data["returncode"], data["stdout"], data["stderr"], root / "output")
    shutil.rmtree(root, ignore_errors=True)
    config, output, cwd = root / "config", root / "output", root / "cwd"
    for d in (config, output, cwd):
        d.mkdir(parents=True)
    (config / "user.conf").write_text(user_conf)
    if mlperf_conf is not None:
        (config / "mlperf.conf").write_text(mlperf_conf)
    if audit_config is not None:
        (cwd / "audit.config").write_text(audit_config)
    env = base_env()
    env.update(
        MLPERF_BENCHMARK="resnet",
        MLPERF_LOADGEN_MODEL="resnet50",
        MLPERF_SCENARIO=scenario,
        MLPERF_MODE=mode,
        MLPERF_AUDIT_TEST=audit_test,
        MLPERF_CONFIG_DIR=str(config),
        MLPERF_OUTPUT_DIR=str(output),
        MLPERF_MODEL_DIR=str(model_dir(base)),
        MLPERF_HARNESS_PROGRESS_SECONDS="0",
    )
    env.update(extra_env or {})
    proc = harness(["run"], env, cwd)
    record.write_text(json.dumps({"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}))
    return RunResult(proc.returncode, proc.stdout, proc.stderr, output)


def accuracy_run(base: Path) -> RunResult:
    """The full 50,000-sample SingleStream accuracy run (about 15-30 s)."""
    return run_harness(base, "accuracy-singlestream", scenario="SingleStream", mode="AccuracyOnly")


def shared_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp() / "harness-shared"
    base.mkdir(exist_ok=True)
    return base


def official_audit_config(test: str) -> str:
    """The audit.config files of compliance/TEST01/resnet50 and compliance/TEST04 in
    mlcommons/inference (commit b66003e10e2db4b8c36a448b0545ec90fcc6e9e9), as data."""
    if test == "TEST01":
        return (
            "*.*.mode = 2\n"
            "*.*.accuracy_log_rng_seed = 720381539243781796\n"
            "*.*.accuracy_log_sampling_target = 4096\n"
        )
    if test == "TEST04":
        lines = []
        for scenario in ("MultiStream", "Offline", "SingleStream", "Server"):
            lines += [
                f"*.{scenario}.mode = 2",
                f"*.{scenario}.performance_issue_unique = 0",
                f"*.{scenario}.performance_issue_same = 1",
                f"*.{scenario}.performance_issue_same_index = 3",
            ]
        return "\n".join(lines) + "\n"
    raise ValueError(test)
