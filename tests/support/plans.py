"""Plans of the test project's manifests, made without Docker or a ledger on disk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlperf_ops.manifest.model import BenchmarkSpec, Manifest
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import Plan, plan
from mlperf_ops.rules import load_rules
from mlperf_ops.state.snapshot import LedgerSnapshot

PROJECT = Path(__file__).resolve().parents[1] / "project"


def plan_llm(manifest: Manifest, ledger: LedgerSnapshot | None = None) -> Plan:
    """The plan of an LLM manifest of the test project, its llm-endpoint image at a fixed identity."""
    return plan(manifest, load_rules(manifest.round), load_profile(PROJECT, manifest.pipeline),
                {"llm-endpoint": "identity-a"}, ledger or LedgerSnapshot())


def with_first_benchmark(manifest: Manifest, bench: BenchmarkSpec) -> Manifest:
    """The manifest with its first system's only benchmark replaced by `bench`."""
    system = manifest.systems[0]
    return dataclasses.replace(manifest, systems=(dataclasses.replace(system, benchmarks=(bench,)),))
