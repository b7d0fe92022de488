"""The rules of an MLPerf Inference round, as data.

Each round is one YAML file next to this module (`v6.1.yaml`, `v6.0.yaml`, ...).
Every value in those files cites the file of the official `mlcommons/inference`
repository it comes from, at a pinned commit. Nothing round-specific lives in code:
code asks a `Rules` object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from mlperf_ops.errors import UsageError

SCENARIOS = ("SingleStream", "MultiStream", "Offline", "Server", "Interactive")
SYSTEM_TYPES = ("datacenter", "edge")
DIVISIONS = ("closed", "open", "network")


@dataclass(frozen=True)
class AccuracyTarget:
    metric: str  # e.g. "acc", "F1", "DICE", "ROUGE1"
    pattern: str  # regex with one group capturing the number in accuracy.txt
    target: float  # the absolute value a closed/network result must reach


@dataclass(frozen=True)
class AuditTest:
    """A compliance test: the settings of its official audit.config."""

    name: str  # "TEST01"
    kind: str  # "accuracy_sampling" | "duplicate_sample" | "output_consistency" | "external"
    settings: dict[str, str]  # `*.*.key = value` lines of audit.config
    per_benchmark: dict[str, dict[str, str]] = field(default_factory=dict)
    source: str = ""

    def audit_config_for(self, benchmark: str) -> dict[str, str]:
        merged = dict(self.settings)
        merged.update(self.per_benchmark.get(benchmark, {}))
        return merged


@dataclass(frozen=True)
class Benchmark:
    name: str  # the checker's name: "resnet", "llama3.1-8b", ...
    loadgen_model: str  # LoadGen's model key for FromConfig: "resnet50", "llama3_1-8b", ...
    # closed/network: scenarios every system of that type must submit
    required_scenarios: dict[str, tuple[str, ...]]
    # closed/network: per system type, groups of which at least one scenario is required
    one_of_scenarios: dict[str, tuple[tuple[str, ...], ...]]
    # scenarios that exist at all for this benchmark (open may submit any subset)
    allowed_scenarios: tuple[str, ...]
    system_types: tuple[str, ...]  # where the benchmark exists: ("datacenter",), ("edge",), both
    compliance_tests: tuple[str, ...]
    accuracy: tuple[AccuracyTarget, ...]
    performance_sample_count: int
    dataset_size: int  # samples an accuracy run must cover
    offline_min_samples_per_query: int | None
    server_target_latency_ms: float | None
    interactive_target_latency_ms: float | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field -> cited file


@dataclass(frozen=True)
class Rules:
    round: str
    source_repo: str
    source_commit: str
    min_duration_ms: int
    seeds: dict[str, int]  # qsl_rng_seed, sample_index_rng_seed, schedule_rng_seed
    loadgen_version: str  # the mlcommons-loadgen release that carries these seeds
    benchmarks: dict[str, Benchmark]
    audit_tests: dict[str, AuditTest]
    sources: dict[str, str] = field(default_factory=dict)

    def benchmark(self, name: str) -> Benchmark:
        try:
            return self.benchmarks[name]
        except KeyError:
            raise UsageError(
                f"benchmark {name!r} is not part of round {self.round}",
                hint=f"known: {', '.join(sorted(self.benchmarks))}",
            ) from None

    def required_scenarios(self, benchmark: str, system_type: str) -> tuple[str, ...]:
        """Scenarios a closed submission must contain for one system type."""
        bench = self.benchmark(benchmark)
        types = [t for t in system_type.split(",") if t]
        out: list[str] = []
        for t in types:
            for s in bench.required_scenarios.get(t, ()):
                if s not in out:
                    out.append(s)
        return tuple(out)


def available_rounds() -> list[str]:
    files = resources.files(__package__).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.startswith("v") and f.name.endswith(".yaml"))


def _tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v or ())


def _benchmark(name: str, raw: dict[str, Any]) -> Benchmark:
    return Benchmark(
        name=name,
        loadgen_model=raw["loadgen_model"],
        required_scenarios={k: _tuple(v) for k, v in (raw.get("required_scenarios") or {}).items()},
        one_of_scenarios={
            k: tuple(_tuple(g) for g in v) for k, v in (raw.get("one_of_scenarios") or {}).items()
        },
        allowed_scenarios=_tuple(raw["allowed_scenarios"]),
        system_types=_tuple(raw["system_types"]),
        compliance_tests=_tuple(raw.get("compliance_tests")),
        accuracy=tuple(
            AccuracyTarget(metric=a["metric"], pattern=a["pattern"], target=float(a["target"]))
            for a in raw.get("accuracy") or ()
        ),
        performance_sample_count=int(raw["performance_sample_count"]),
        dataset_size=int(raw["dataset_size"]),
        offline_min_samples_per_query=raw.get("offline_min_samples_per_query"),
        server_target_latency_ms=raw.get("server_target_latency_ms"),
        interactive_target_latency_ms=raw.get("interactive_target_latency_ms"),
        sources=dict(raw.get("sources") or {}),
    )


@cache
def load_rules(round_name: str) -> Rules:
    rounds = available_rounds()
    if round_name not in rounds:
        raise UsageError(
            f"no rules for round {round_name!r}", hint=f"rounds known: {', '.join(rounds)}"
        )
    text = resources.files(__package__).joinpath(f"{round_name}.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return Rules(
        round=raw["round"],
        source_repo=raw["source"]["repo"],
        source_commit=raw["source"]["commit"],
        min_duration_ms=int(raw["min_duration_ms"]),
        seeds={k: int(v) for k, v in raw["seeds"].items()},
        loadgen_version=str(raw["loadgen_version"]),
        benchmarks={n: _benchmark(n, b) for n, b in raw["benchmarks"].items()},
        audit_tests={
            n: AuditTest(
                name=n,
                kind=t["kind"],
                settings={k: str(v) for k, v in (t.get("settings") or {}).items()},
                per_benchmark={
                    b: {k: str(v) for k, v in s.items()}
                    for b, s in (t.get("per_benchmark") or {}).items()
                },
                source=t.get("source", ""),
            )
            for n, t in raw["audit_tests"].items()
        },
        sources=dict(raw.get("sources") or {}),
    )
