"""How long will this take? A lower-bound time estimate for the runs a plan still needs.

Pure, like the planner: it reads only the plan and the round's rules. A timed run lasts at
least LoadGen's minimum duration (600 s, or the `min_duration` its user.conf sets: a smoke
profile's shorter one, or the calibration run's few seconds). An accuracy run covers the
whole data set at the rate the scenario's settings expect (from its calibration, or the
manifest); before those are known its length is unknown, and said so rather than guessed.
Done runs cost nothing. Container start-up and image builds come on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlperf_ops.core.events import RunStartData
from mlperf_ops.plan.matrix import ACCURACY, Plan, PlannedRun, RunSpec
from mlperf_ops.rules import Rules
from mlperf_ops.core.units import human_duration

LOADGEN_MIN_DURATION_S = 600.0  # LoadGen's official minimum for performance and audit runs
# calibrate.choose_settings sets target_latency below the measured median and target_qps
# around the measured rate; these factors undo that to get the rate that was measured.
_LATENCY_FACTOR = 0.8
_QPS_FACTOR = {"Offline": 1.6, "Server": 0.6, "Interactive": 0.6}
_MULTISTREAM_SAMPLES_PER_QUERY = 8


def _setting(user_conf: str, key: str) -> float | None:
    match = re.search(rf"^\S+\.{re.escape(key)}\s*=\s*([0-9.eE+-]+)\s*$", user_conf, re.M)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def min_duration_s(spec: RunSpec) -> float | None:
    """The shortest a timed run may be (None for an accuracy run: it has no minimum)."""
    if spec.mode == ACCURACY:
        return None
    ms = _setting(spec.user_conf, "min_duration")
    return ms / 1000 if ms is not None else LOADGEN_MIN_DURATION_S


def _accuracy_s(spec: RunSpec, timed: RunSpec | None, rules: Rules) -> float | None:
    """The data set at the rate the scenario's performance run is set up for, if known."""
    if timed is None or timed.settings_source.get(_key(spec.scenario), "").startswith("pending"):
        return None
    rb = rules.benchmarks[spec.official]
    samples = rb.dataset_size_by_scenario.get(spec.scenario, rb.dataset_size)
    latency_ms = _setting(timed.user_conf, "target_latency")
    qps = _setting(timed.user_conf, "target_qps")
    calibrated = timed.settings_source.get(_key(spec.scenario), "").startswith("calibration")
    if spec.scenario in ("SingleStream", "MultiStream") and latency_ms:
        per_query_s = latency_ms / 1000 / (_LATENCY_FACTOR if calibrated else 1.0)
        queries = samples / (_MULTISTREAM_SAMPLES_PER_QUERY if spec.scenario == "MultiStream" else 1)
        return queries * per_query_s
    if qps:
        rate = qps / _QPS_FACTOR.get(spec.scenario, 1.0) if calibrated else qps
        return samples / rate
    return None


def _key(scenario: str) -> str:
    return "target_latency" if scenario in ("SingleStream", "MultiStream") else "target_qps"


@dataclass(frozen=True)
class RunEstimate:
    run_id: str
    system: str
    seconds: float | None  # None: not known yet (an accuracy run before its calibration)


@dataclass(frozen=True)
class Estimate:
    runs: tuple[RunEstimate, ...]

    def seconds(self, system: str | None = None) -> float:
        return sum(r.seconds or 0.0 for r in self.runs if system is None or r.system == system)

    def unknown(self, system: str | None = None) -> int:
        return sum(1 for r in self.runs if r.seconds is None and (system is None or r.system == system))

    @property
    def systems(self) -> list[str]:
        return sorted({r.system for r in self.runs})

    def summary(self, system: str | None = None) -> str:
        """`at least 1 h 10 min (12 runs; 2 accuracy runs of unknown length)`."""
        runs = [r for r in self.runs if system is None or r.system == system]
        text = f"at least {human_duration(self.seconds(system))} ({len(runs)} run{'s' if len(runs) != 1 else ''}"
        unknown = self.unknown(system)
        if unknown:
            text += f"; {unknown} accuracy run{'s' if unknown != 1 else ''} of unknown length until calibrated"
        return text + ")"


def estimate_runs(plan: Plan, rules: Rules, runs: tuple[PlannedRun, ...] | None = None) -> Estimate:
    """Per pending run (or per run of `runs`), its expected length."""
    timed = {(r.spec.system, r.spec.benchmark, r.spec.scenario): r.spec
             for r in plan.runs if r.spec.mode == "performance"}
    out = []
    for planned in plan.pending if runs is None else runs:
        spec = planned.spec
        if spec.mode == ACCURACY:
            seconds = _accuracy_s(spec, timed.get((spec.system, spec.benchmark, spec.scenario)), rules)
        else:
            seconds = min_duration_s(spec)
        out.append(RunEstimate(spec.run_id, spec.system, seconds))
    return Estimate(tuple(out))


def run_start_data(plan: Plan, rules: Rules, current: PlannedRun) -> RunStartData:
    """What `apply`'s progress display needs when `current` starts: its minimum duration and
    its own estimate, and the estimate of every pending run including it."""
    estimate = estimate_runs(plan, rules)
    mine = next((r.seconds for r in estimate.runs if r.run_id == current.spec.run_id), None)
    return RunStartData(min_duration_s=min_duration_s(current.spec), estimate_s=mine,
                        remaining_s=estimate.seconds(), remaining_unknown=estimate.unknown())


def estimate_json(result: Plan, rules: Rules) -> dict[str, Any]:
    """The estimate for machines: seconds per pending run (null: unknown yet), per system, in total."""
    estimate = estimate_runs(result, rules)
    return {
        "total_s": estimate.seconds(), "unknown_runs": estimate.unknown(),
        "systems": {s: {"seconds": estimate.seconds(s), "unknown_runs": estimate.unknown(s)} for s in estimate.systems},
        "runs": {r.run_id: r.seconds for r in estimate.runs},
    }


def estimate_title(result: Plan, rules: Rules) -> str:
    """`at least 1 h 51 min`, and how many accuracy runs are not counted: for a step summary title."""
    estimate = estimate_runs(result, rules)
    unknown = estimate.unknown()
    return f"at least {human_duration(estimate.seconds())}" + (f" + {unknown} of unknown length" if unknown else "")
