"""What `apply` does when an audit run fails only its timing comparison.

TEST01's and TEST04's performance checks compare two timed runs made minutes apart
(the audit and its reference performance run) within 10 % (20 % for very short
latencies). The compliance procedure lets a submitter run an audit again when that
comparison fails, and measure the reference again when the audit keeps disagreeing
with it, so that both runs are made under the same machine state. A failure of the
audit's *accuracy* check, or an INVALID run, is never retried here: that is a wrong
result, not noise.

Pure: the loop in `apply` counts failures and calls `after_timing_failure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["retry", "remeasure", "give-up"]


@dataclass(frozen=True)
class RetryDecision:
    action: Action
    why: str


def after_timing_failure(failures: int, retries: int) -> RetryDecision:
    """The decision after the audit's `failures`-th timing failure (1-based) in this apply.

    Every second failure re-measures the reference (and so re-verifies every audit
    compared with it); the others re-run the audit alone. After `retries` re-runs, give up.
    """
    if failures < 1:
        raise ValueError("failures counts from 1")
    if failures > retries:
        return RetryDecision("give-up", f"timing comparison failed {failures} times (audit_retries: {retries})")
    if failures % 2 == 0:
        return RetryDecision("remeasure", f"timing comparison failed {failures} times: "
                                          "measuring the reference performance run again")
    return RetryDecision("retry", f"timing comparison failed ({failures} of {retries + 1} allowed attempts)")
