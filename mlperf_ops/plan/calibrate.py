"""Choose LoadGen's expected-performance settings from a short measurement run.

A SingleStream/MultiStream target latency far below the real one makes LoadGen
run out of pre-generated queries; an Offline expected QPS below the real rate ends
the run before the minimum duration (INVALID). So before long runs a short run
measures the SUT and these pure functions pick the values. Manifest values win.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlperf_ops.core.loadgen_log import SummaryLog
from mlperf_ops.core.loadgen import LoadGenValue

# What each scenario needs to know about the SUT, and the user.conf key it sets.
CALIBRATED_KEY = {
    "SingleStream": "target_latency",
    "MultiStream": "target_latency",
    "Offline": "target_qps",
    "Server": "target_qps",
}

# Settings for the measurement run itself: generous, short, validity irrelevant.
_MEASURE = {
    "SingleStream": {"target_latency": 1, "min_query_count": 64},
    "MultiStream": {"target_latency": 4, "min_query_count": 64},
    "Offline": {"target_qps": 2000, "min_query_count": 1},
    "Server": {"target_qps": 200, "min_query_count": 64},
}


def needs_calibration(scenario: str, settings: Mapping[str, LoadGenValue]) -> bool:
    key = CALIBRATED_KEY.get(scenario)
    return key is not None and key not in settings


def measurement_settings(scenario: str, duration_ms: int) -> dict[str, LoadGenValue]:
    settings: dict[str, LoadGenValue] = dict(_MEASURE.get(scenario, {}))
    settings["min_duration"] = duration_ms
    return settings


def _number(summary: SummaryLog, *names: str) -> float | None:
    for name in names:
        raw = summary.fields.get(name)
        if raw is None:
            continue
        try:
            return float(raw)
        except ValueError:
            continue
    return None


def choose_settings(scenario: str, summary: SummaryLog) -> dict[str, LoadGenValue] | None:
    """The setting to use for real runs, or None when the measurement is unusable."""
    if scenario in ("SingleStream", "MultiStream"):
        ns = _number(summary, "50.00 percentile latency (ns)", "Mean latency (ns)",
                     "90.00 percentile latency (ns)", "90th percentile latency (ns)")
        if not ns or ns <= 0:
            return None
        # Below the median so LoadGen pre-generates more queries than the run uses.
        ms = max(ns / 1e6 * 0.8, 0.001)
        return {"target_latency": round(ms, 4)}
    if scenario == "Offline":
        qps = _number(summary, "Samples per second")
        if not qps or qps <= 0:
            return None
        # Well above the measured rate: the one big query must outlast the minimum
        # duration even when the real run is faster than the short measurement.
        return {"target_qps": round(qps * 1.6, 1)}
    if scenario == "Server":
        qps = _number(summary, "Completed samples per second", "Scheduled samples per second")
        if not qps or qps <= 0:
            return None
        return {"target_qps": round(qps * 0.6, 1)}
    return None
