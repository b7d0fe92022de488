"""The local executor (MLPERF_OPS_EXECUTOR=local): the pod-is-the-container path of `render k8s`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.execute.executor import ContainerSpec, Mount
from mlperf_ops.execute.local import LocalEngine, local_command, local_env, translate

REPO = Path(__file__).resolve().parents[1]


def test_container_paths_map_onto_the_mounted_host_directories() -> None:
    mounts = {"/mlperf/config": "/s/cfg", "/mlperf/output": "/s/out", "/mlperf": "/s/all"}
    assert translate("/mlperf/config", mounts) == "/s/cfg"
    assert translate("/mlperf/output/x.json", mounts) == "/s/out/x.json"
    assert translate("/mlperf/configs", mounts) == "/s/all/configs"  # prefix must end at a path separator
    assert translate("/opt/other", mounts) == "/opt/other"


def test_command_and_environment_keep_the_contract_and_no_host_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_SUBMITTER_ID", "secret-id")
    spec = ContainerSpec(image="x", env={"MLPERF_OUTPUT_DIR": "/mlperf/output", "MLPERF_SCENARIO": "Offline"},
                         mounts=(Mount(Path("/h/out"), "/mlperf/output", False),))
    mounts = {"/mlperf/output": "/h/out"}
    command = local_command(spec, mounts)
    assert command[0] == sys.executable and command[1:3] == ["-m", "mlperf_ops.harness"] and command[3] == "run"
    env = local_env(spec, mounts, {})
    assert env["MLPERF_OUTPUT_DIR"] == "/h/out" and env["MLPERF_SCENARIO"] == "Offline"
    assert "MLPERF_SUBMITTER_ID" not in env


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    spec = ContainerSpec(image="x", command=["sh", "-c", "sleep 60 & sleep 60"])
    result = LocalEngine().run(spec, tmp_path / "log", timeout_s=1)
    assert result.timed_out and result.exit_code != 0


def test_apply_with_the_local_executor_runs_the_real_harness(tmp_path: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CI": "true"}
    # The demo's model and data set, made on this host as the cpu image makes them: demo.yaml names
    # them relative to the directory apply runs in, and apply checks them against its digests.
    subprocess.run([sys.executable, "-m", "mlperf_ops.harness", "demo", "--out", str(tmp_path / "build" / "demo")],
                   check=True, env=env, capture_output=True, timeout=600)
    env.update(MLPERF_OPS_EXECUTOR="local", MLPERF_OPS_PROJECT=str(REPO))
    state = tmp_path / "state"
    done = subprocess.run(
        [sys.executable, "-m", "mlperf_ops", "apply", str(REPO / "manifests" / "demo.yaml"), "--state-dir",
         str(state), "--only", "*/SingleStream/performance", "--json"],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    records = {r["run_id"].rsplit("/", 1)[1]: r for r in json.loads(done.stdout)["records"]}
    assert set(records) == {"calibration", "performance"}  # --only brings its dependency along
    record = json.loads((Path(records["performance"]["path"]) / "record.json").read_text())
    assert record["status"] == "done"
    assert record["summary"]["result_validity"] == "VALID"
    assert record["image"]["id"] == "local"
