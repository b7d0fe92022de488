"""TEST04 verification: a real audit run (official audit.config) plus summaries edited to be too fast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlperf_ops.run.compliance import verify_test04
from mlperf_ops.core.loadgen_log import parse_detail
from tests.support.harness_runs import RunResult, official_audit_config, run_harness, shared_base


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    base = shared_base(tmp_path_factory)
    out = {
        "perf": run_harness(base, "perf-Offline", scenario="Offline"),
        "audit": run_harness(base, "test04-Offline", scenario="Offline", audit_test="TEST04",
                             audit_config=official_audit_config("TEST04")),
        "perf-ss": run_harness(base, "perf-SingleStream", scenario="SingleStream"),
    }
    for run in out.values():
        assert run.returncode == 0, run.stderr
    return out


def _samples_per_second(summary: Path) -> float:
    match = re.search(r"^Samples per second: ([\d.]+)$", summary.read_text(), re.M)
    assert match
    return float(match.group(1))


def _with_score(src: Path, dst: Path, label_regex: str, factor: float) -> Path:
    def scale(m: re.Match[str]) -> str:
        return f"{m.group(1)}{float(m.group(2)) * factor:.2f}"

    dst.write_text(re.sub(rf"^({label_regex}: )([\d.]+)$", scale, src.read_text(), flags=re.M))
    return dst


def test_real_audit_run_is_read_and_compared(runs: dict[str, RunResult]) -> None:
    detail = parse_detail(runs["audit"].detail)
    assert detail.get("effective_performance_issue_same") is True  # audit.config was read
    verdict = verify_test04(reference_summary=runs["perf"].summary, audit_summary=runs["audit"].summary,
                            reference_detail=runs["perf"].detail, audit_detail=runs["audit"].detail)
    perf = verdict.performance
    assert perf.reference_score == _samples_per_second(runs["perf"].summary)
    assert perf.audit_score == _samples_per_second(runs["audit"].summary)
    assert perf.passed == (perf.audit_score < perf.reference_score * 1.10)
    assert verdict.files() == {"verify_performance.txt": perf.text}


def test_same_speed_passes(runs: dict[str, RunResult]) -> None:
    verdict = verify_test04(reference_summary=runs["audit"].summary, audit_summary=runs["audit"].summary)
    assert verdict.passed and verdict.verify_performance_text.strip().splitlines()[-1] == "TEST PASS"


@pytest.mark.parametrize("factor, passes", [(0.5, True), (1.05, True), (1.12, False), (2.0, False)])
def test_offline_too_fast_fails(runs: dict[str, RunResult], tmp_path: Path, factor: float, passes: bool) -> None:
    audit = _with_score(runs["perf"].summary, tmp_path / "audit_summary.txt", "Samples per second", factor)
    verdict = verify_test04(reference_summary=runs["perf"].summary, audit_summary=audit)
    assert verdict.passed is passes
    assert verdict.verify_performance_text.strip().splitlines()[-1] == ("TEST PASS" if passes else "TEST FAIL: Test score invalid")


def test_singlestream_scores_are_inverse_latency(runs: dict[str, RunResult], tmp_path: Path) -> None:
    ref = runs["perf-ss"].summary
    # Latency x0.5 means twice as fast: fails; latency x1.5 is slower: passes.
    faster = _with_score(ref, tmp_path / "fast.txt", r" \* Early stopping 90\.0th percentile estimate", 0.5)
    slower = _with_score(ref, tmp_path / "slow.txt", r" \* Early stopping 90\.0th percentile estimate", 1.5)
    assert not verify_test04(reference_summary=ref, audit_summary=faster).passed
    verdict = verify_test04(reference_summary=ref, audit_summary=slower)
    assert verdict.passed
    latency = float(re.search(r"90\.0th percentile estimate: (\d+)", ref.read_text()).group(1))  # type: ignore[union-attr]
    assert verdict.performance.reference_score == pytest.approx(1e9 / latency)


def test_invalid_or_mismatched_runs_fail(runs: dict[str, RunResult], tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.txt"
    invalid.write_text(runs["audit"].summary.read_text().replace("Result is : VALID", "Result is : INVALID"))
    verdict = verify_test04(reference_summary=runs["perf"].summary, audit_summary=invalid)
    assert not verdict.passed and "Test results are invalid" in verdict.verify_performance_text
    verdict = verify_test04(reference_summary=runs["perf-ss"].summary, audit_summary=runs["audit"].summary)
    assert not verdict.passed and "do not match" in verdict.verify_performance_text
