"""Pipeline profiles (`pipelines/<name>.yaml`): how runs are made, not what is run.

`smoke` shortens LoadGen's minimum duration and nothing else, so a smoke tree
differs from a valid one only in the duration rule; `submission` keeps LoadGen's
official durations and counts.

Profiles are read like manifests (`mlperf_ops.yamlfile`): a schema, positions, every
problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlperf_ops import secretscan
from mlperf_ops.core.errors import FileInvalid, Problem, UsageError
from mlperf_ops.yamlfile import read_yaml
from mlperf_ops.yamlfile.schema import packaged_schema, schema_problems

EXAMPLE = "pipelines/submission.yaml"


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
    audit_retries: int = 4  # see mlperf_ops/run/audit_retry.py

    def identity(self) -> dict[str, Any]:
        """What of the profile determines a run's result (part of the run key)."""
        return {"name": self.name, "min_duration_ms": self.min_duration_ms, "submittable": self.submittable}


def list_profiles(project_root: Path) -> list[str]:
    folder = project_root / "pipelines"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def check_profile(path: Path, display: str | None = None) -> tuple[Profile | None, list[Problem]]:
    """Read and validate one profile file: the profile, or every problem in it."""
    doc, problems = read_yaml(path, display, kind="pipeline profile", example=EXAMPLE)
    if doc is None:
        return None, problems
    problems += schema_problems(doc, packaged_schema("mlperf_ops.schemas", "pipeline.json"), example=EXAMPLE)
    problems += secretscan.document_problems(doc)
    if problems:
        return None, problems
    raw = doc.data
    loadgen = raw.get("loadgen") or {}
    calibration = raw.get("calibration") or {}
    if raw.get("name", path.stem) != path.stem:
        # The manifest names a profile by its file; a different `name` would be recorded instead.
        problems.append(doc.problem(("name",), f"name {raw['name']!r} differs from the file name {path.stem!r}",
                                    f"write 'name: {path.stem}' or rename the file"))
    if raw["submittable"] and loadgen.get("min_duration_ms") is not None:
        problems.append(doc.problem(("loadgen", "min_duration_ms"),
                                    "a submittable profile cannot change LoadGen's minimum duration",
                                    "set min_duration_ms: null, or submittable: false"))
    if problems:
        return None, problems
    return Profile(
        name=path.stem,
        description=str(raw.get("description", "")),
        submittable=bool(raw["submittable"]),
        min_duration_ms=loadgen.get("min_duration_ms"),
        run_timeout_s=int(raw.get("run_timeout_s", 3600)),
        transient_retries=int(raw.get("transient_retries", 2)),
        audit_retries=int(raw.get("audit_retries", 4)),
        calibrate=bool(calibration.get("enabled", True)),
        calibration_duration_ms=int(calibration.get("duration_ms", 1500)),
        require_valid=bool(raw.get("require_valid", True)),
    ), []


def load_profile(project_root: Path, name: str) -> Profile:
    path = project_root / "pipelines" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_profiles(project_root)) or "none found"
        raise UsageError(f"pipeline profile {name!r} not found in {project_root / 'pipelines'}",
                         hint=f"profiles: {known}")
    profile, problems = check_profile(path)
    if profile is None:
        raise FileInvalid(problems, "pipeline profile")
    return profile
