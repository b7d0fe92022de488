"""TEST01 verification against real harness runs (accuracy run + audit run with the official audit.config)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlperf_ops.run.compliance import AccuracyScore, verify_test01
from mlperf_ops.core.errors import UsageError
from mlperf_ops.harness import accuracy as harness_accuracy
from mlperf_ops.core.loadgen_log import parse_detail
from tests.support.harness_runs import RunResult, accuracy_run, model_dir, official_audit_config, run_harness, shared_base


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    base = shared_base(tmp_path_factory)
    out = {
        "accuracy": accuracy_run(base),
        "perf": run_harness(base, "perf-Offline", scenario="Offline"),
        "audit": run_harness(base, "test01-Offline", scenario="Offline", audit_test="TEST01",
                             audit_config=official_audit_config("TEST01")),
        "models": model_dir(base),  # type: ignore[dict-item]
    }
    for name in ("accuracy", "perf", "audit"):
        assert out[name].returncode == 0, out[name].stderr
    return out


def _accuracy_fn(models: Path):  # type: ignore[no-untyped-def]
    labels = np.load(models / "eval_labels.npy")

    def score(log: Path) -> AccuracyScore:
        result = harness_accuracy.score(log, labels)
        return AccuracyScore(result.accuracy, result.line() + "\n")

    return score


def _verify(runs: dict[str, RunResult], audit_log: Path | None = None, **kw):  # type: ignore[no-untyped-def]
    return verify_test01(
        accuracy_log=runs["accuracy"].accuracy_log,
        audit_accuracy_log=audit_log or runs["audit"].accuracy_log,
        reference_detail=runs["perf"].detail,
        audit_detail=runs["audit"].detail,
        reference_summary=runs["perf"].summary,
        audit_summary=runs["audit"].summary,
        **kw,
    )


def test_real_audit_run_matches_the_accuracy_run(runs: dict[str, RunResult]) -> None:
    audit_detail = parse_detail(runs["audit"].detail)
    assert audit_detail.get("effective_accuracy_log_sampling_target") == 4096  # audit.config was read
    verdict = _verify(runs)
    assert verdict.responses.mismatched == 0 and verdict.responses.missing == 0
    assert verdict.responses.matched > 500
    assert verdict.accuracy_passed and verdict.fallback is None
    assert verdict.verify_accuracy_text.strip().splitlines()[-1] == "TEST PASS"
    # Performance is compared on the official metric, read from the real logs.
    perf = verdict.performance
    assert perf.metric == "result_samples_per_second"
    assert perf.reference_score == parse_detail(runs["perf"].detail).get("result_samples_per_second")
    assert perf.audit_score == audit_detail.get("result_samples_per_second")
    assert ("TEST PASS" in perf.text.splitlines()) == perf.passed
    assert verdict.passed == perf.passed  # accuracy passed, so performance decides
    assert set(verdict.files()) == {"verify_accuracy.txt", "verify_performance.txt"}
    # The harness scored the sampled log too (TEST01/accuracy/accuracy.txt in the tree).
    assert re.match(r"accuracy=\d+\.\d{3}%", (runs["audit"].output_dir / "accuracy.txt").read_text())


def _tamper(src: Path, dst: Path, every: int) -> int:
    entries = json.loads(src.read_text())
    changed = 0
    for i, entry in enumerate(entries):
        if i % every == 0:
            value = int(np.frombuffer(bytes.fromhex(entry["data"]), dtype=np.int64)[0])
            entry["data"] = np.array([(value + 1) % 10], dtype=np.int64).tobytes().hex()
            changed += 1
    dst.write_text(json.dumps(entries))
    return changed


def test_a_few_changed_responses_fall_back_to_accuracy_and_pass(runs: dict[str, RunResult], tmp_path: Path) -> None:
    tampered = tmp_path / "mlperf_log_accuracy.json"
    changed = _tamper(runs["audit"].accuracy_log, tampered, every=400)
    verdict = _verify(runs, tampered, accuracy_fn=_accuracy_fn(runs["models"]))  # type: ignore[arg-type]
    assert verdict.responses.mismatched == changed > 0
    assert "TEST FAIL" in verdict.verify_accuracy_text.splitlines()
    assert verdict.fallback is not None and verdict.fallback.passed
    assert verdict.fallback.delta_perc <= 1.0
    files = verdict.files()
    assert files["accuracy/baseline_accuracy.txt"].startswith("accuracy=")
    assert files["accuracy/compliance_accuracy.txt"].startswith("accuracy=")
    assert verdict.accuracy_passed


def test_many_changed_responses_fail(runs: dict[str, RunResult], tmp_path: Path) -> None:
    tampered = tmp_path / "mlperf_log_accuracy.json"
    _tamper(runs["audit"].accuracy_log, tampered, every=4)
    verdict = _verify(runs, tampered, accuracy_fn=_accuracy_fn(runs["models"]))  # type: ignore[arg-type]
    assert verdict.fallback is not None and not verdict.fallback.passed
    assert not verdict.accuracy_passed and not verdict.passed
    assert any("differs by" in p for p in verdict.problems)


def test_changed_responses_without_accuracy_script_fail(runs: dict[str, RunResult], tmp_path: Path) -> None:
    tampered = tmp_path / "mlperf_log_accuracy.json"
    _tamper(runs["audit"].accuracy_log, tampered, every=400)
    verdict = _verify(runs, tampered)
    assert not verdict.passed and verdict.fallback is None
    assert any("no accuracy script" in p for p in verdict.problems)


def _scaled_detail(src: Path, dst: Path, key: str, factor: float) -> None:
    lines = []
    for line in src.read_text().splitlines():
        if f'"key": "{key}"' in line:
            event = json.loads(line[len(":::MLLOG"):])
            event["value"] = event["value"] * factor
            line = ":::MLLOG " + json.dumps(event)
        lines.append(line)
    dst.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("factor, passes", [(1.0, True), (1.08, True), (0.93, True), (1.15, False), (0.85, False)])
def test_performance_window(runs: dict[str, RunResult], tmp_path: Path, factor: float, passes: bool) -> None:
    audit_detail = tmp_path / "mlperf_log_detail.txt"
    _scaled_detail(runs["perf"].detail, audit_detail, "result_samples_per_second", factor)
    verdict = verify_test01(
        accuracy_log=runs["accuracy"].accuracy_log,
        audit_accuracy_log=runs["audit"].accuracy_log,
        reference_detail=runs["perf"].detail,
        audit_detail=audit_detail,
    )
    assert verdict.performance.passed is passes
    assert verdict.performance.threshold == 0.10
    assert verdict.performance.text.strip().splitlines()[-1] == ("TEST PASS" if passes else "TEST FAIL: Test score invalid")
    assert verdict.passed is passes


def test_invalid_run_fails(runs: dict[str, RunResult], tmp_path: Path) -> None:
    audit_detail = tmp_path / "mlperf_log_detail.txt"
    text = runs["perf"].detail.read_text().replace('"value": "VALID"', '"value": "INVALID"')
    audit_detail.write_text(text)
    verdict = verify_test01(
        accuracy_log=runs["accuracy"].accuracy_log, audit_accuracy_log=runs["audit"].accuracy_log,
        reference_detail=runs["perf"].detail, audit_detail=audit_detail,
    )
    assert not verdict.passed and "Invalid results in audit run" in verdict.performance.text


def test_truncated_log_is_a_usage_error(runs: dict[str, RunResult], tmp_path: Path) -> None:
    truncated = tmp_path / "mlperf_log_accuracy.json"
    truncated.write_text(runs["audit"].accuracy_log.read_text()[:4096] + "\n\n...\n\n")
    with pytest.raises(UsageError):
        _verify(runs, truncated)
