"""What `apply` does when an audit run fails only its timing comparison.

TEST01's and TEST04's performance checks compare two timed runs made minutes apart
(the audit and its reference performance run) within 10 % (20 % for very short
latencies). The compliance procedure lets a submitter run an audit again when that
comparison fails, and measure the reference again when the audit keeps disagreeing
with it, so that both runs are made under the same machine state. A failure of the
audit's *accuracy* check, or an INVALID run, is never retried here: that is a wrong
result, not noise.

The policy, per audit and apply:
- failures are counted since its reference was last measured;
- every second failure measures the reference again (at most `MAX_REMEASURES` times per
  reference and apply), which starts every audit compared with it afresh;
- otherwise the audit runs again alone, until more than `audit_retries` failures.
So one audit runs at most 2 * MAX_REMEASURES + audit_retries + 1 times.

Pure: the loop in `apply` keeps the counts and calls `after_timing_failure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["retry", "remeasure", "give-up"]
MAX_REMEASURES = 2


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
