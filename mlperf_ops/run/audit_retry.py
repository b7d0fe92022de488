"""What `apply` does when an audit run fails only its timing comparison.

TEST01's and TEST04's performance checks compare two timed runs made minutes apart
(the audit and its reference performance run) within 10 % (20 % for very short
latencies). The compliance procedure lets a submitter run an audit again when that
comparison fails, and measure the reference again when the audit keeps disagreeing
with it, so that both runs are made under the same machine state. A failure of the
audit's *accuracy* check, or an INVALID run, is never retried here: that is a wrong
result, not noise.

The policy, per audit:
- failures are counted since its reference was last measured;
- every second failure measures the reference again (at most `MAX_REMEASURES` times per
  reference), which starts every audit compared with it afresh;
- otherwise the audit runs again alone, until more than `audit_retries` failures.
So one audit runs at most 2 * MAX_REMEASURES + audit_retries + 1 times.

The counts are not kept in memory: `counts_before` reads them from the ledger's records
(each record carries its `RetryCounts`, and re-measured references are retired with
`REMEASURED` in their reason), so an `apply` killed half-way and started again goes on
where it stopped instead of starting its retries over.

Pure: `apply` passes the records and calls `after_timing_failure`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mlperf_ops.state.record import RetryCounts, RunRecord

Action = Literal["retry", "remeasure", "give-up"]
MAX_REMEASURES = 2
REMEASURED = "re-measured"  # the reason's first word on a reference retired by this policy
RECALIBRATED = "re-calibrated"  # ... and on a calibration retired because a run outran it


def counts_before(run_id: str, key: str, reference: str | None, records: Iterable[RunRecord]) -> RetryCounts:
    """Where run `run_id` (content `key`) stands before its next attempt, from the ledger.

    `attempt`: failed or invalid attempts at this key since its last finished one, plus
    this one. `timing_failures`: those of them that failed only the audit's timing
    comparison after `reference` (the audit's performance run) was last measured.
    `remeasures`: how often that reference was retired by this policy.
    """
    history = sorted(records, key=lambda r: r.finished_unix)
    measured = max((r.finished_unix for r in history if r.key == reference and r.status == "done"), default=0.0)
    streak: list[RunRecord] = []
    for record in history:
        if record.run_id != run_id or record.key != key:
            continue
        if record.status in ("failed", "invalid"):
            streak.append(record)
        else:
            streak = []
    timing = sum(1 for r in streak if r.mode == "audit" and r.transient and r.finished_unix > measured)
    remeasures = sum(1 for r in history if r.key == reference and r.status == "retired"
                     and r.reason.startswith(REMEASURED))
    return RetryCounts(attempt=len(streak) + 1, timing_failures=timing, remeasures=remeasures)


def recalibrations(calibration_key: str, records: Iterable[RunRecord]) -> int:
    """How often a calibration was measured again because a run outran it."""
    return sum(1 for r in records if r.key == calibration_key and r.status == "retired"
               and r.reason.startswith(RECALIBRATED))


@dataclass(frozen=True)
class RetryDecision:
    action: Action
    why: str


def after_timing_failure(failures: int, retries: int, remeasures: int = 0,
                         max_remeasures: int = MAX_REMEASURES) -> RetryDecision:
    """The decision after an audit's `failures`-th timing failure (1-based) against the
    current measurement of its reference, which has been re-measured `remeasures` times."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    if failures % 2 == 0 and remeasures < max_remeasures:
        return RetryDecision("remeasure", f"timing comparison failed {failures} times against this reference: "
                                          f"measuring the reference again ({remeasures + 1} of {max_remeasures})")
    if failures > retries:
        return RetryDecision("give-up", f"timing comparison failed {failures} times against this reference "
                                        f"(audit_retries: {retries}, reference re-measured {remeasures} times)")
    return RetryDecision("retry", f"timing comparison failed ({failures} of {retries + 1} attempts against "
                                  "this reference)")
