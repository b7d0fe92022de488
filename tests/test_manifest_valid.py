"""The shipped manifests validate (CLI, subprocess) and load into the typed, frozen model."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlperf_ops.manifest import Manifest, check_manifest, load_manifest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "manifests").glob("*.yaml"))


def test_there_are_shipped_manifests() -> None:
    names = {p.name for p in SHIPPED}
    assert {"demo.yaml", "example-closed-edge.yaml", "example-closed-datacenter-8gpu.yaml"} <= names


def test_validate_cli_accepts_every_shipped_manifest() -> None:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", CI="true")
    env.pop("MLPERF_OPS_PROJECT", None)
    rels = [str(p.relative_to(REPO)) for p in SHIPPED]
    result = subprocess.run([sys.executable, "-m", "mlperf_ops", "validate", *rels],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [f"{rel}: valid" for rel in rels]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_manifest_loads_into_the_model(path: Path) -> None:
    manifest, problems = check_manifest(path)
    assert problems == []
    assert isinstance(manifest, Manifest)
    assert load_manifest(path) == manifest  # same input, equal frozen value

    raw: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    assert (manifest.round, manifest.submitter, manifest.division, manifest.status, manifest.system_type) == (
        raw["round"], raw["submitter"], raw["division"], raw["status"], raw["system_type"])
    assert manifest.pipeline == raw.get("pipeline", "submission")
    assert [s.id for s in manifest.systems] == [s["id"] for s in raw["systems"]]
    for system, raw_system in zip(manifest.systems, raw["systems"]):
        assert system.image == raw_system["image"]
        assert list(system.runner_labels) == (raw_system.get("runner") or {}).get("labels", ["self-hosted"])
        assert (system.accelerator is None) == (raw_system.get("accelerator") is None)
        assert [b.name for b in system.benchmarks] == [b["name"] for b in raw_system["benchmarks"]]
        for bench, raw_bench in zip(system.benchmarks, raw_system["benchmarks"]):
            assert bench.official == raw_bench.get("maps_to", raw_bench["name"])
            assert bench.custom == ("maps_to" in raw_bench)
            assert [s.scenario for s in bench.scenarios] == list(raw_bench["scenarios"])
            for spec in bench.scenarios:
                assert spec.as_dict() == (raw_bench["scenarios"][spec.scenario] or {})

    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.division = "open"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.systems[0].image = "rocm"  # type: ignore[misc]
