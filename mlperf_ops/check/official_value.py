"""A result's value as the official summary CSV reports it, with its unit.

LoadGen logs a headline metric per scenario in its own units (ns latencies, samples/s);
the official results table reports LLM throughput in tokens/s, latencies in ms (seconds
for text-to-video), and an edge folder's inferred result from the run of another
scenario. What differs per benchmark is the round's rules data (`result_keys`,
`latency_in_seconds`, `result_units`); what follows from LoadGen's scenarios is here.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from mlperf_ops.rules import Rules

# the detail-log key of each scenario's headline metric (the same since v5.0)
SCENARIO_KEYS = {
    "Offline": "result_samples_per_second",
    "SingleStream": "early_stopping_latency_ss",
    "MultiStream": "early_stopping_latency_ms",
    "Server": "result_completed_samples_per_sec",
    "Interactive": "result_completed_samples_per_sec",
}
# a scenario's unit when the benchmark names none of its own
SCENARIO_UNITS = {
    "SingleStream": "Latency (ms)",
    "MultiStream": "Latency (ms)",
    "Offline": "Samples/s",
    "Server": "Queries/s",
    "Interactive": "Queries/s",
}
TOKENS_PER_S = "Tokens/s"  # the unit of the LLMs' throughput (the round's result_units)
NS_PER_MS = 1_000_000
MS_PER_S = 1000
# an inferred MultiStream query holds 8 samples of the SingleStream run
MULTISTREAM_SAMPLES = 8
_CANONICAL = {s.lower(): s for s in SCENARIO_UNITS}


class OfficialValue(Struct, frozen=True):
    value: float | None
    unit: str


def canonical_scenario(name: str) -> str | None:
    """`offline` -> `Offline`: the official loader reads scenario folders case-insensitively."""
    return _CANONICAL.get(name.lower())


def unit_for(rules: Rules, benchmark: str, folder_scenario: str) -> str:
    scenario = canonical_scenario(folder_scenario) or folder_scenario
    return rules.result_units.get(benchmark, {}).get(scenario, SCENARIO_UNITS.get(scenario, ""))


def _number(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _inferred(values: dict[str, Any], folder: str, logged: str) -> float | None:
    """An edge folder's result from a run of another scenario (the official formulas)."""
    if folder == "Offline" and logged == "SingleStream":
        raw = values.get("result_qps_without_loadgen_overhead")
        # reported as logged: an integer stays one (the CSV prints it as such)
        return raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    if folder == "Offline" and logged == "MultiStream":
        spq = _number(values, "effective_samples_per_query")
        mean = _number(values, "result_mean_query_latency_ns")
        return spq * MS_PER_S / (mean / NS_PER_MS) if spq is not None and mean else None
    if folder == "MultiStream" and logged == "SingleStream":
        # LoadGen's SingleStream log carries the early-stopping estimate MultiStream would use
        latency = values.get("early_stopping_latency_ms")
        if isinstance(latency, (int, float)) and not isinstance(latency, bool):
            return latency * MULTISTREAM_SAMPLES / NS_PER_MS
    return None


def official_value(rules: Rules, benchmark: str, folder_scenario: str, values: dict[str, Any]) -> OfficialValue:
    """The value and unit of a result whose performance detail log holds `values`.

    `benchmark` is the round's name (after aliases and the open model mapping); the
    arithmetic follows the official order of operations so that the CSV prints the same
    digits."""
    unit = unit_for(rules, benchmark, folder_scenario)
    logged = values.get("effective_scenario")
    folder = canonical_scenario(folder_scenario)
    if not isinstance(logged, str) or logged not in SCENARIO_KEYS or folder is None:
        return OfficialValue(None, unit)
    key = rules.result_keys.get(benchmark, {}).get(logged, SCENARIO_KEYS[logged])
    value = _number(values, key)
    if value is not None and logged in ("SingleStream", "MultiStream"):
        value /= NS_PER_MS
        if benchmark in rules.latency_in_seconds:
            value /= MS_PER_S
    if folder != logged and (logged, folder) != ("Server", "Interactive"):
        value = _inferred(values, folder, logged)
    return OfficialValue(value, unit)
