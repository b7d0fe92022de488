"""What a LoadGen setting's value may be, so a manifest cannot ask for a run that means nothing.

LoadGen reads user.conf values as numbers without judging them: `target_qps: 0` or
`-5` schedules no queries (or divides by zero), a non-integer count is truncated, and a
percentile of 150 is silently clamped. Ranges follow loadgen/test_settings_internal.cc:
percentiles are written in percent (LoadGen multiplies by 0.01), durations in ms and
latencies in ns; 0 means "no limit" for the max_* settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Allowed:
    low: float
    low_inclusive: bool = True
    high: float = math.inf
    integer: bool = False
    meaning: str = ""

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range (finiteness is checked first by the caller), or None."""
        if self.integer and not float(value).is_integer():
            return f"must be a whole number, got {value}"
        too_low = value < self.low or (value == self.low and not self.low_inclusive)
        if too_low or value > self.high:
            return f"must be {self.meaning}, got {value}"
        return None


_POSITIVE = Allowed(0, low_inclusive=False, meaning="more than 0")
_COUNT = Allowed(1, integer=True, meaning="a whole number of at least 1")
_LIMIT = Allowed(0, integer=True, meaning="a whole number of at least 0 (0: no limit)")
_FLAG = Allowed(0, high=1, integer=True, meaning="0 or 1")

ALLOWED: dict[str, Allowed] = {
    "target_qps": _POSITIVE,
    "target_latency": _POSITIVE,
    "ttft_latency": _POSITIVE,
    "tpot_latency": _POSITIVE,
    "token_latency_scaling_factor": _POSITIVE,
    "target_latency_percentile": Allowed(0, low_inclusive=False, high=100,
                                         meaning="a percentile above 0 and at most 100 (e.g. 99 or 99.9)"),
    "samples_per_query": _COUNT,
    "min_query_count": _COUNT,
    "max_query_count": _LIMIT,
    "max_duration": _LIMIT,
    "max_async_queries": _LIMIT,
    "server_num_issue_query_threads": _LIMIT,
    "server_coalesce_queries": _FLAG,
    "use_token_latencies": _FLAG,
    "infer_token_latencies": _FLAG,
    "print_timestamps": _FLAG,
    "sample_concatenate_permutation": _FLAG,
}


def value_problem(key: str, value: float) -> str | None:
    """Why `value` is no use for LoadGen setting `key`, or None (also for keys without a rule)."""
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    allowed = ALLOWED.get(key)
    return allowed.problem(value) if allowed else None
