"""Run the LLM endpoint harness (`python -m mlperf_ops.harness.llm run`) as the container
contract runs it: one LoadGen test per process, configured by MLPERF_* variables and a
user.conf; its logs go to `<scenario dir>/performance/run_1`, the layout the checker reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class HarnessRun:
    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "llm_run.json").read_text())
        return data

    def summary(self) -> str:
        return (self.out / "mlperf_log_summary.txt").read_text()


def write_dataset(path: Path, prompts: list[str]) -> Path:
    # pandas' default JSON orientation, as the reference's pd.read_json reads it; `output` holds
    # the reference answers an accuracy run is scored against
    path.write_text(json.dumps({"input": {str(i): p for i, p in enumerate(prompts)},
                                "tok_input": {str(i): [1, 2, 3] for i in range(len(prompts))},
                                "output": {str(i): f"The answer to {p}" for i, p in enumerate(prompts)}}))
    return path


def run_harness(scenario_dir: Path, *, url: str, dataset: Path, scenario: str, conf: dict[str, float],
                loadgen_model: str = "llama3_1-8b", benchmark: str = "llama3.1-8b", mode: str = "PerformanceOnly",
                extra_env: dict[str, str] | None = None, timeout: float = 300,
                audit: tuple[str, list[str]] | None = None) -> HarnessRun:
    """`audit`: (test name, audit.config lines) for an audit run; LoadGen reads the file from
    the working directory, which is the config directory as in the container contract."""
    out = scenario_dir / ("accuracy" if mode == "AccuracyOnly" else "performance/run_1")
    out.mkdir(parents=True, exist_ok=True)
    config = scenario_dir / "config"
    config.mkdir(exist_ok=True)
    lg_scenario = "Server" if scenario == "Interactive" else scenario
    (config / "user.conf").write_text(
        "".join(f"{loadgen_model}.{lg_scenario}.{key} = {value}\n" for key, value in conf.items()))
    if audit is not None:
        (config / "audit.config").write_text("".join(line + "\n" for line in audit[1]))
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MLPERF_BENCHMARK": benchmark, "MLPERF_LOADGEN_MODEL": loadgen_model,
        "MLPERF_SCENARIO": lg_scenario, "MLPERF_MODE": mode,
        "MLPERF_CONFIG_DIR": str(config), "MLPERF_OUTPUT_DIR": str(out),
        "MLPERF_LLM_URL": url, "MLPERF_LLM_DATASET": str(dataset), "MLPERF_LLM_PROMPT": "text",
        "MLPERF_LLM_HEALTH_TIMEOUT_S": "30",
        "MLPERF_AUDIT_TEST": audit[0] if audit else "",
        **(extra_env or {}),
    }
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops.harness.llm", "run"], cwd=config, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return HarnessRun(proc.returncode, proc.stdout, proc.stderr, out)
