"""The local executor (MLPERF_OPS_EXECUTOR=local): the pod-is-the-container path of `render k8s`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.core.errors import OperationalError
from mlperf_ops.execute.executor import ContainerSpec, Mount
from mlperf_ops.execute.local import (HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV, LocalEngine, harness_defaults_env,
                                      local_command, local_env, translate)

REPO = Path(__file__).resolve().parents[1]
# What `images build controller` records of the cpu image (its CMD and ENV), as JSON lists.
VISION = {HARNESS_COMMAND_ENV: '["python3", "-m", "harness", "run"]', HARNESS_ENV_NAMES_ENV: "[]"}


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
    command = local_command(spec, mounts, VISION)
    assert command[0] == sys.executable and command[1:3] == ["-m", "mlperf_ops.harness"] and command[3] == "run"
    env = local_env(spec, mounts, {})
    assert env["MLPERF_OUTPUT_DIR"] == "/h/out" and env["MLPERF_SCENARIO"] == "Offline"
    assert "MLPERF_SUBMITTER_ID" not in env


# An llm-endpoint controller's environment in its pod: the image's ENV, what the controller
# image recorded of it, and what the Job adds (a secret among them).
LLM_POD = {
    "PATH": "/opt/venv/bin:/usr/bin", "PYTHONPATH": "/opt/mlperf-ops", "HOME": "/tmp", "NLTK_DATA": "/opt/nltk_data",
    "VIRTUAL_ENV": "/opt/venv", "PIP_NO_CACHE_DIR": "1",
    **harness_defaults_env(["python3", "-m", "harness.llm", "run"],
                           ["PATH=/opt/venv/bin:/usr/bin", "PYTHONPATH=/opt/mlperf-ops", "HOME=/tmp",
                            "NLTK_DATA=/opt/nltk_data", "VIRTUAL_ENV=/opt/venv"]),
    "MLPERF_OPS_EXECUTOR": "local", "MLPERF_PORTAL_TOKEN": "secret", "CI": "true",
}


def test_a_run_without_command_runs_the_harness_the_image_names() -> None:
    spec = ContainerSpec(image="x")
    command = local_command(spec, {}, LLM_POD)
    # the LLM harness, under this interpreter (mlperf_ops.harness.llm outside an image)
    assert command[0] == sys.executable and command[1:] == ["-m", "mlperf_ops.harness.llm", "run"]
    # a declared command wins over the image's, as `command:` does under Docker
    declared = ContainerSpec(image="x", command=["python3", "-m", "acme_harness.run", "/mlperf/output"])
    assert local_command(declared, {"/mlperf/output": "/h/out"}, LLM_POD) == [
        sys.executable, "-m", "acme_harness.run", "/h/out"]
    assert local_command(ContainerSpec(image="x", command=["sh", "-c", "true"]), {}, {}) == ["sh", "-c", "true"]


@pytest.mark.parametrize("recorded", [None, "", '[]'])
def test_no_command_anywhere_is_an_operational_error_not_the_vision_harness(recorded: str | None) -> None:
    environ = {} if recorded is None else {HARNESS_COMMAND_ENV: recorded}
    with pytest.raises(OperationalError) as caught:
        local_command(ContainerSpec(image="x"), {}, environ)
    assert HARNESS_COMMAND_ENV in caught.value.message
    assert "command:" in (caught.value.hint or "") and "images build controller" in (caught.value.hint or "")


@pytest.mark.parametrize("recorded", ["python3 -m harness run", '{"cmd": 1}', '["python3", 3]'])
def test_a_malformed_command_record_is_an_operational_error(recorded: str) -> None:
    with pytest.raises(OperationalError) as caught:
        local_command(ContainerSpec(image="x"), {}, {HARNESS_COMMAND_ENV: recorded})
    assert "JSON list of strings" in caught.value.message and caught.value.hint


def test_the_child_gets_the_variables_the_image_declares_and_no_others() -> None:
    spec = ContainerSpec(image="x", env={"HOME": "/tmp/run", "MLPERF_MODE": "AccuracyOnly"})
    env = local_env(spec, {}, {}, LLM_POD)
    # NLTK_DATA (the accuracy scorer's sentence splitter tables) and the image's other variables
    assert env["NLTK_DATA"] == "/opt/nltk_data" and env["VIRTUAL_ENV"] == "/opt/venv"
    assert env["PATH"] == "/opt/venv/bin:/usr/bin" and env["PYTHONPATH"] == "/opt/mlperf-ops"
    # the run's own variables win over the image's, as in a container
    assert env["HOME"] == "/tmp/run" and env["MLPERF_MODE"] == "AccuracyOnly"
    # neither the Job's nor the controller image's own variables, nor the record itself
    for name in ("MLPERF_PORTAL_TOKEN", "MLPERF_OPS_EXECUTOR", "CI", "PIP_NO_CACHE_DIR",
                 HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV):
        assert name not in env, name
    # a name the image declares but the pod does not set is simply absent
    assert "NLTK_DATA" not in local_env(spec, {}, {}, {k: v for k, v in LLM_POD.items() if k != "NLTK_DATA"})


def test_the_record_of_an_image_is_json_and_leaves_out_what_is_no_variable_name() -> None:
    record = harness_defaults_env(["python3", "-c", "print('a b')"], ["A=1", "B=x=y", "=odd", "C",
                                                                     f"{HARNESS_COMMAND_ENV}=old"])
    assert json.loads(record[HARNESS_COMMAND_ENV]) == ["python3", "-c", "print('a b')"]
    assert json.loads(record[HARNESS_ENV_NAMES_ENV]) == ["A", "B", "C"]
    assert harness_defaults_env(None, [])[HARNESS_COMMAND_ENV] == ""  # an image without CMD: nothing to run


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
    env = {k: v for k, v in env.items() if k not in VISION}
    env.update(MLPERF_OPS_EXECUTOR="local", MLPERF_OPS_PROJECT=str(REPO))
    state = tmp_path / "state"
    apply = [sys.executable, "-m", "mlperf_ops", "apply", str(REPO / "manifests" / "demo.yaml"), "--state-dir",
             str(state), "--only", "*/SingleStream/performance", "--json"]
    # On a host nothing records the harness command (a controller image does), and the demo
    # declares none: apply stops at the first run, saying so, and starts no harness.
    refused = subprocess.run(apply, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert f"names no harness command ({HARNESS_COMMAND_ENV} is unset or empty)" in refused.stderr
    assert "tip:" in refused.stderr and "Traceback" not in refused.stderr
    # Named (the cpu image's CMD), the same ledger goes on.
    done = subprocess.run(apply, env={**env, **VISION}, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = {r["run_id"].rsplit("/", 1)[1]: r for r in json.loads(done.stdout)["records"]}
    assert set(records) == {"calibration", "performance"}  # --only brings its dependency along
    record = json.loads((Path(records["performance"]["path"]) / "record.json").read_text())
    assert record["status"] == "done"
    assert record["summary"]["result_validity"] == "VALID"
    assert record["image"]["id"] == "local"
