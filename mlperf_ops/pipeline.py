"""Pipeline profiles (`pipelines/<name>.yaml`): how runs are made, not what is run.

`smoke` shortens LoadGen's minimum duration and nothing else, so a smoke tree
differs from a valid one only in the duration rule; `submission` keeps LoadGen's
official durations and counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlperf_ops.errors import UsageError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    submittable: bool
    min_duration_ms: int | None  # None: LoadGen's official value
    run_timeout_s: int
    transient_retries: int
    calibrate: bool
    calibration_duration_ms: int
    require_valid: bool

    def identity(self) -> dict[str, Any]:
        """What of the profile determines a run's result (part of the run key)."""
        return {"name": self.name, "min_duration_ms": self.min_duration_ms, "submittable": self.submittable}


def list_profiles(project_root: Path) -> list[str]:
    folder = project_root / "pipelines"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_profile(project_root: Path, name: str) -> Profile:
    path = project_root / "pipelines" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_profiles(project_root)) or "none found"
        raise UsageError(f"pipeline profile {name!r} not found in {project_root / 'pipelines'}",
                         hint=f"profiles: {known}")
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
        loadgen = raw.get("loadgen") or {}
        calibration = raw.get("calibration") or {}
        return Profile(
            name=str(raw.get("name", name)),
            description=str(raw.get("description", "")),
            submittable=bool(raw["submittable"]),
            min_duration_ms=loadgen.get("min_duration_ms"),
            run_timeout_s=int(raw.get("run_timeout_s", 3600)),
            transient_retries=int(raw.get("transient_retries", 2)),
            calibrate=bool(calibration.get("enabled", True)),
            calibration_duration_ms=int(calibration.get("duration_ms", 1500)),
            require_valid=bool(raw.get("require_valid", True)),
        )
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise UsageError(f"pipeline profile {path} is malformed: {error}",
                         hint="compare with pipelines/submission.yaml") from None
