"""Judge what a finished container left behind (pure reading; no Docker, no ledger).

Exit code 0 only means LoadGen finished. Whether a run counts is decided here from
LoadGen's own summary and detail logs: VALID, zero LoadGen errors, and for accuracy
runs an accuracy.txt that the round's pattern can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_ops.plan.calibrate import choose_settings
from mlperf_ops.core.loadgen_log import parse_detail, parse_summary, primary_metric
from mlperf_ops.core.loadgen import LoadGenValue
from mlperf_ops.plan.matrix import ACCURACY, CALIBRATION, RunSpec
from mlperf_ops.rules import Rules
from mlperf_ops.state.record import Failure, RunSummary, Status
from mlperf_ops.core.tree_layout import ACCURACY_LOG, ACCURACY_TXT, DETAIL, SUMMARY



@dataclass
class Outcome:
    status: Status  # done | failed | invalid
    reason: str
    summary: RunSummary | None = None
    accuracy: dict[str, Any] | None = None
    calibrated: dict[str, LoadGenValue] | None = None
    # Judged here, where the failure is understood: may running it again change the answer?
    failure: Failure | None = field(default=None)

    def __post_init__(self) -> None:
        if self.status != "done" and self.failure is None:
            self.failure = "permanent"


@dataclass(frozen=True)
class ContainerExit:
    exit_code: int
    oom_killed: bool
    timed_out: bool
    timeout_s: float
    log_path: Path


def container_failure(exit_: ContainerExit) -> str | None:
    if exit_.timed_out:
        return f"timed out after {exit_.timeout_s:.0f} s and was killed (log: {exit_.log_path})"
    if exit_.oom_killed:
        return f"killed: out of memory (raise container.memory in the manifest; log: {exit_.log_path})"
    if exit_.exit_code != 0:
        said = harness_error(exit_.log_path)
        return f"harness exited with code {exit_.exit_code}{': ' + said if said else ''} (log: {exit_.log_path})"
    return None


def harness_error(log_path: Path, tail_bytes: int = 65536, limit: int = 300) -> str | None:
    """The last `error: …` line a harness printed (docs/harness.md), so the record says why
    (`server fault: HTTP 500 …`) instead of only an exit code. Only the log's tail is read."""
    try:
        with log_path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - tail_bytes))
            tail = log.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if line.startswith("error: "):
            message = line[len("error: "):].strip()
            return message if len(message) <= limit else message[: limit - 1] + "…"
    return None


def read_accuracy(path: Path, rules: Rules, official: str) -> dict[str, Any] | None:
    """Values of the round's accuracy metrics found in accuracy.txt (None when none match)."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return None
    found: dict[str, Any] = {}
    for target in rules.benchmarks[official].accuracy:
        value = target.find(text)
        if value is not None:
            found[target.metric] = value
    return found or None


def summarise(output: Path) -> RunSummary:
    summary = parse_summary(output / SUMMARY)
    detail = parse_detail(output / DETAIL)
    metric, value = primary_metric(summary)
    return RunSummary(
        result_validity=summary.result_validity,
        scenario=summary.scenario,
        mode=summary.mode,
        metric=metric,
        value=value,
        early_stopping_met=summary.early_stopping_met,
        min_duration_met=summary.min_duration_met,
        errors=tuple(detail.errors),
        warnings=tuple(detail.warnings[:20]),
        seeds=detail.seeds,
        loadgen_version=detail.get("loadgen_version"),
        min_duration_ms=detail.get("effective_min_duration_ms"),
        performance_sample_count=detail.get("effective_performance_sample_count"),
    )


def outran_calibration(summary: RunSummary) -> bool:
    """An INVALID timed run that ended before LoadGen's minimum duration: the SUT ran
    faster than the calibration measured (the machine was busier then). Measuring again
    gives settings that fill the duration, so this failure is transient."""
    return (summary.result_validity == "INVALID" and summary.min_duration_met is False
            and not summary.errors)


def judged_by_its_log_only(spec: RunSpec, rules: Rules) -> bool:
    """An audit whose verdict is its verification of the logged outputs alone (TEST06's output
    consistency): its LoadGen validity is no part of it. TEST06's official audit.config asks
    for 100 queries with no minimum duration, too few for Server's early-stopping estimate
    (it wants ~460 at the 99th percentile), so LoadGen calls every Server/Interactive TEST06
    run INVALID; the official checker reads only its verify_accuracy.txt."""
    test = rules.audit_tests.get(spec.audit_test) if spec.audit_test else None
    return test is not None and test.kind == "output_consistency"


def evaluate(spec: RunSpec, output: Path, exit_: ContainerExit, rules: Rules, *, require_valid: bool) -> Outcome:
    failure = container_failure(exit_)
    if failure:
        return Outcome("failed", failure)
    if not (output / SUMMARY).is_file() or not (output / DETAIL).is_file():
        return Outcome("failed", f"LoadGen wrote no {SUMMARY}/{DETAIL} (log: {exit_.log_path})")
    summary = summarise(output)

    if spec.mode == CALIBRATION:
        chosen = choose_settings(spec.scenario, parse_summary(output / SUMMARY))
        if chosen is None:
            return Outcome("failed", "calibration run measured nothing usable", summary)
        return Outcome("done", f"calibrated {chosen}", summary, calibrated=chosen)

    if summary.errors:
        return Outcome("invalid", f"LoadGen logged {len(summary.errors)} error(s): {summary.errors[0]}", summary)

    if spec.mode == ACCURACY:
        if not (output / ACCURACY_LOG).is_file():
            return Outcome("failed", f"no {ACCURACY_LOG} in the accuracy run's output", summary)
        accuracy = read_accuracy(output / ACCURACY_TXT, rules, spec.official)
        if accuracy is None:
            return Outcome("failed", f"{ACCURACY_TXT} missing or not in the form the round expects for "
                                     f"{spec.official}", summary)
        return Outcome("done", "accuracy " + ", ".join(f"{k}={v}" for k, v in accuracy.items()), summary, accuracy)

    validity = summary.result_validity
    if validity != "VALID" and require_valid and not judged_by_its_log_only(spec, rules):
        hint = "; LoadGen's recommendation is in the summary" if validity == "INVALID" else ""
        return Outcome("invalid", f"LoadGen result is {validity}{hint} ({output / SUMMARY})", summary,
                       failure="transient" if outran_calibration(summary) else "permanent")
    return Outcome("done", f"{validity}: {summary.metric} = {summary.value}", summary)
