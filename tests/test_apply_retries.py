"""`apply`'s loop follows the audit re-run policy, with the real planner and ledger.

The runs themselves are scripted here (each call of `execute` commits the record the
script says), because the point is what `apply` does with the outcomes: which run comes
next, which records it retires, when it gives up, and that every attempt stays in the
ledger. The timing comparisons themselves are tested on real LoadGen logs elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.run import apply as apply_mod
from mlperf_ops.run import pending as pending_mod
from mlperf_ops.run.audit_retry import MAX_REMEASURES
from mlperf_ops.plan.controller import load_context
from mlperf_ops.core.events import Event
from mlperf_ops.state.ledger import Ledger
from tests.support.executors import NoExecutor
from tests.support.records import for_spec
from mlperf_ops.state.record import RetryCounts

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "manifests" / "demo.yaml"


Script = Callable[[Any, int], dict[str, Any]]


def run_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: Script) -> tuple[Ledger, list[str], Any]:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    ledger = Ledger(tmp_path / "state")
    calls: list[str] = []

    def fake_execute(spec: Any, *, ledger: Ledger, retry: RetryCounts, **_: Any) -> Any:
        calls.append(spec.run_id)
        attempt = ledger.begin(spec.key, spec.run_id)
        (attempt.output_dir / "mlperf_log_summary.txt").write_text("Result is : VALID\n")
        outcome = script(spec, sum(1 for c in calls if c == spec.run_id))
        if spec.mode == "audit" and outcome.get("failure") == "transient" and outcome.get("verification"):
            # What the runner does when an audit's verification fails only its timing comparison.
            retry = replace(retry, timing_failures=retry.timing_failures + 1)
        data: dict[str, Any] = {"finished_unix": time.time(), "retry": retry, **outcome}
        if spec.mode == "calibration":
            data["calibrated"] = {"target_latency": 0.5} if spec.scenario == "SingleStream" else {"target_qps": 100.0}
        return ledger.commit(attempt, for_spec(spec, **data))

    monkeypatch.setattr(pending_mod, "execute", fake_execute)
    monkeypatch.setattr(pending_mod, "probe_host", lambda: {"host_processor_model_name": "test"})
    ctx = load_context(DEMO)
    events: list[Event] = []
    result = apply_mod.apply(ctx, ledger, connect=NoExecutor, keep_going=True, on_event=events.append)
    return ledger, calls, result


TIMING_FAILURE = {"status": "failed", "reason": "TEST01 verification failed: performance outside threshold",
                  "failure": "transient", "verification": {"passed": False, "summary": "performance outside threshold"}}


def test_an_audit_that_keeps_losing_its_timing_comparison_follows_the_policy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = "demo-cpu/digits-mlp/SingleStream/TEST01"
    ledger, calls, result = run_apply(
        tmp_path, monkeypatch, lambda spec, n: TIMING_FAILURE if spec.run_id == target else {})
    retries = load_context(DEMO).profile.audit_retries
    assert calls.count(target) == 2 * MAX_REMEASURES + retries + 1
    # Each re-measure runs the reference again, right before the audits compared with it.
    perf = "demo-cpu/digits-mlp/SingleStream/performance"
    assert calls.count(perf) == 1 + MAX_REMEASURES
    first_perf = calls.index(perf)
    assert calls[first_perf + 1] == target
    # Gave up on that audit only; everything else finished.
    assert [r.run_id for r in result.failed] == [target]
    assert {r.spec.run_id for r in result.remaining} == {target}
    # Every attempt is kept: failed ones, and the retired reference measurements.
    statuses = [r.status for r in ledger.records() if r.run_id == target]
    assert statuses.count("failed") == calls.count(target)
    assert [r.status for r in ledger.records() if r.run_id == perf].count("retired") == MAX_REMEASURES


def test_an_audit_that_loses_once_then_wins_costs_one_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = "demo-cpu/digits-mlp/Offline/TEST04"
    ledger, calls, result = run_apply(
        tmp_path, monkeypatch, lambda spec, n: TIMING_FAILURE if spec.run_id == target and n == 1 else {})
    assert calls.count(target) == 2 and result.ok
    assert calls.count("demo-cpu/digits-mlp/Offline/performance") == 1  # no re-measure after one failure


def test_an_accuracy_failure_is_never_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = "demo-cpu/digits-mlp/Offline/TEST01"
    wrong = {"status": "failed", "reason": "TEST01 verification failed: responses differ", "failure": "permanent"}
    ledger, calls, result = run_apply(tmp_path, monkeypatch, lambda spec, n: wrong if spec.run_id == target else {})
    assert calls.count(target) == 1 and [r.run_id for r in result.failed] == [target]


def test_a_run_that_outran_its_calibration_calibrates_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    perf = "demo-cpu/digits-mlp/Offline/performance"
    outran = {"status": "invalid", "reason": "LoadGen result is INVALID",
              "failure": "transient", "summary": {"result_validity": "INVALID", "min_duration_met": False}}
    ledger, calls, result = run_apply(tmp_path, monkeypatch, lambda spec, n: outran if spec.run_id == perf and n == 1 else {})
    assert result.ok, result.failed
    assert calls.count("demo-cpu/digits-mlp/Offline/calibration") == 2 and calls.count(perf) == 2


def test_an_audit_that_outran_its_calibration_calibrates_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An INVALID audit run (transient: it ran out of queries) is not a timing comparison:
    it re-calibrates like a performance run would, and never crashes the retry policy."""
    audit = "demo-cpu/digits-mlp/Offline/TEST04"
    outran = {"status": "invalid", "reason": "LoadGen result is INVALID",
              "failure": "transient", "summary": {"result_validity": "INVALID", "min_duration_met": False}}
    ledger, calls, result = run_apply(tmp_path, monkeypatch, lambda spec, n: outran if spec.run_id == audit and n == 1 else {})
    assert result.ok, result.failed
    assert calls.count("demo-cpu/digits-mlp/Offline/calibration") == 2
    assert [r.run.reason for r in ledger.records() if r.status == "retired"][0].startswith("re-calibrated: " + audit)
