"""`mlperf-ops plan` as a subprocess: JSON, exit codes, the GitHub Actions outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from mlperf_ops.state.record import record_json
from tests.support.records import run_record

REPO = Path(__file__).resolve().parents[1]
DEMO = "manifests/demo.yaml"


def run_plan(*args: str, state: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true", NO_COLOR="1")
    for name in ("MLPERF_OPS_PROJECT", "MLPERF_OPS_STATE", "GITHUB_OUTPUT"):
        env.pop(name, None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "mlperf_ops", "plan", *args, "--state-dir", str(state)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )


def plan_json(state: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    result = run_plan(DEMO, "--json", *args, state=state)
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout), result


def test_plan_json_of_the_demo(tmp_path: Path) -> None:
    state = tmp_path / "state"
    data, result = plan_json(state)
    assert result.returncode == 0, result.stderr
    runs = data["runs"]
    assert runs and all({"run_id", "key", "action", "reason", "mode", "scenario"} <= set(r) for r in runs)
    pending = [r for r in runs if r["action"] != "skip"]
    assert data["pending_total"] == len(pending) == len(runs)  # empty ledger: everything pending
    assert data["matrix"]["include"] == [
        {"system": "demo-cpu", "runs_on": ["self-hosted", "linux", "x64"], "pending": len(pending)}
    ]
    demo = yaml.safe_load((REPO / "manifests" / "demo.yaml").read_text())
    assert {r["scenario"] for r in runs} == set(demo["systems"][0]["benchmarks"][0]["scenarios"])
    assert data["submittable"] is False and data["profile"] == "smoke"
    assert not state.exists(), "plan must not write to the state directory"


def test_exit_code_4_when_pending(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert run_plan(DEMO, "--json", state=state).returncode == 0
    result = run_plan(DEMO, "--json", "--exit-code", state=state)
    assert result.returncode == 4, result.stderr
    assert json.loads(result.stdout)["pending_total"] > 0


def test_github_output(tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    out.write_text("earlier=1\n", encoding="utf-8")  # the step appends, never truncates
    result = run_plan(DEMO, "--json", "--github-output", state=tmp_path / "state",
                      extra_env={"GITHUB_OUTPUT": str(out)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    lines = out.read_text("utf-8").splitlines()
    assert lines[0] == "earlier=1"
    matrix_lines = [line for line in lines if line.startswith("matrix=")]
    pending_lines = [line for line in lines if line.startswith("pending=")]
    assert len(matrix_lines) == 1 and len(pending_lines) == 1
    assert json.loads(matrix_lines[0][len("matrix="):]) == data["matrix"]
    assert pending_lines[0] == f"pending={data['pending_total']}"


def test_two_invocations_print_identical_bytes(tmp_path: Path) -> None:
    first = run_plan(DEMO, "--json", state=tmp_path / "state")
    second = run_plan(DEMO, "--json", state=tmp_path / "state")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout and first.stdout


def test_done_record_in_the_state_dir_is_skipped(tmp_path: Path) -> None:
    """The plan reads the ledger: a finished record with the run's key makes it 'up to date'."""
    state = tmp_path / "state"
    data, _ = plan_json(state)
    target = next(r for r in data["runs"] if r["mode"] == "accuracy")
    record_dir = state / "records" / target["key"]
    record_dir.mkdir(parents=True)
    # A record that is not a whole run record never satisfies the plan, and plan says so.
    (record_dir / "record.json").write_text(json.dumps({
        "key": target["key"], "run_id": target["run_id"], "status": "done", "inputs": {},
    }), encoding="utf-8")
    partial, result = plan_json(state)
    assert partial["pending_total"] == data["pending_total"]
    assert f"warning: unreadable record {record_dir}: record.json: missing field reason" in result.stderr, result.stderr
    record = run_record(key=target["key"], run_id=target["run_id"], mode="accuracy")
    (record_dir / "record.json").write_text(json.dumps(record_json(record)), encoding="utf-8")
    again, result = plan_json(state)
    assert result.returncode == 0 and "unreadable" not in result.stderr
    by_id = {r["run_id"]: r for r in again["runs"]}
    assert (by_id[target["run_id"]]["action"], by_id[target["run_id"]]["reason"]) == ("skip", "up to date")
    assert again["pending_total"] == data["pending_total"] - 1
    assert again["matrix"]["include"][0]["pending"] == data["pending_total"] - 1


def test_plan_of_an_invalid_manifest_is_a_usage_error(tmp_path: Path) -> None:
    result = run_plan("tests/manifests/invalid/rules_unknown_round.yaml", "--json", state=tmp_path / "state")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "tests/manifests/invalid/rules_unknown_round.yaml:2:8: " in result.stderr
    assert result.stdout == ""
