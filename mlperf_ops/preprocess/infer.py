"""Results the official preprocess infers from measured ones.

- Edge scenarios: an edge SingleStream run may stand for MultiStream and Offline, a
  MultiStream run for Offline (the round's `inferred_scenarios`). The official tool copies
  the SingleStream folder to each missing one of them (to MultiStream only when Offline is
  already there; with both missing, to both), and the MultiStream folder to a missing
  Offline. It compares folder names lower-case only, so a `SingleStream` next to an
  `Offline` gained a second `offline`; here folders compare case-insensitively, and a
  copy is spelled as its source is (`singlestream` -> `offline`, `SingleStream` -> `Offline`).
  Only where the checker accepts an inferred result: a benchmark that offers the scenario
  on an edge system.
- Lower accuracy: `<benchmark>-99.9` results also stand for `<benchmark>-99` (a stricter
  accuracy target met), copied with the benchmark's code, where the round has that benchmark
  for the system's type.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlperf_ops.check.official_value import canonical_scenario
from mlperf_ops.preprocess.report import PreprocessReport
from mlperf_ops.rules import Rules
from mlperf_ops.core.tree_layout import DIVISIONS
from mlperf_ops.core.tree_files import read_tree_text

HIGH, LOW = "-99.9", "-99"


def _system_type(sub: Path, system: str) -> str | None:
    try:
        doc = json.loads(read_tree_text(sub / "systems" / f"{system}.json"))
    except (OSError, ValueError):
        return None
    value = doc.get("system_type") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _mapping(sub: Path, division: str) -> dict[str, str]:
    if division != "open":
        return {}
    try:
        doc = json.loads(read_tree_text(sub / "model_mapping.json"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def _systems(root: Path) -> list[tuple[str, Path, Path]]:
    """(division, submitter folder, results/<system>/ folder) of the tree."""
    out = []
    for division in DIVISIONS:
        for sub in sorted(p for p in (root / division).glob("*") if p.is_dir()):
            results = sub / "results"
            if results.is_dir():
                out += [(division, sub, s) for s in sorted(results.iterdir()) if s.is_dir()]
    return out


def _spelled_like(source: str, scenario: str) -> str:
    return scenario.lower() if source == source.lower() else scenario


def infer_scenarios(root: Path, rules: Rules, report: PreprocessReport) -> None:
    for division, sub, system_dir in _systems(root):
        system_type = _system_type(sub, system_dir.name)
        mapping = _mapping(sub, division)
        for bench_dir in sorted(p for p in system_dir.iterdir() if p.is_dir()):
            official = rules.benchmark_for_folder(bench_dir.name, mapping)
            if official is None:
                continue
            allowed = rules.benchmarks[official].allowed_scenarios
            present = {canonical_scenario(p.name): p for p in bench_dir.iterdir() if p.is_dir()}

            def copy(source: Path, scenario: str) -> None:
                if scenario not in allowed or not rules.may_infer(scenario, canonical_scenario(source.name) or "", system_type):
                    return
                target = bench_dir / _spelled_like(source.name, scenario)
                shutil.copytree(source, target, symlinks=True)
                present[scenario] = target
                report.add("inferred-scenario", target.relative_to(root).as_posix(), f"from {source.name}")

            single, multi = present.get("SingleStream"), present.get("MultiStream")
            if single is not None and multi is None:
                if "Offline" not in present:
                    copy(single, "Offline")
                copy(single, "MultiStream")
            elif multi is not None and "Offline" not in present:
                copy(multi, "Offline")


def infer_low_accuracy(root: Path, rules: Rules, report: PreprocessReport) -> None:
    for division, sub, system_dir in _systems(root):
        system_types = (_system_type(sub, system_dir.name) or "").split(",")
        for bench_dir in sorted(p for p in system_dir.iterdir() if p.is_dir()):
            if not bench_dir.name.endswith(HIGH):
                continue
            low = bench_dir.name[: -len(HIGH)] + LOW
            bench = rules.benchmarks.get(low)
            target = system_dir / low
            if bench is None or not set(system_types) & set(bench.system_types) or target.exists():
                continue
            shutil.copytree(bench_dir, target, symlinks=True)
            report.add("inferred-low-accuracy", target.relative_to(root).as_posix(), f"from {bench_dir.name}")
            code, low_code = sub / "src" / bench_dir.name, sub / "src" / low
            if code.is_dir() and not low_code.exists():
                shutil.copytree(code, low_code, symlinks=True)
