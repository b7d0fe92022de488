"""A result's measurements JSON: where it is (the round's layout) and the keys it must hold
(the round's rules). A module of its own, so that a manifest's validation (which asks the
keys of each benchmark) imports no checker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlperf_ops.rules import ResultLayout, Rules

SYSTEM_PREFIXED_JSON = "{system}*.json"  # ResultLayout.measurements_json of the v5.x layout


def measurements_json_path(layout: ResultLayout, result_dir: Path) -> Path | None:
    """The measurements JSON of the result in `result_dir` (its results/ folder), or None when
    its name is looked up and no file has it. v6.x names it measurements.json; v5.x named
    it after the system, and the official loader takes the first file, by name, of the
    measurements folder whose name starts with the system's and ends with .json."""
    folder = layout.measurements_dir(result_dir)
    if layout.measurements_json != SYSTEM_PREFIXED_JSON:
        return folder / layout.measurements_json
    system = result_dir.parents[1].name
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
    except OSError:
        return None
    return next((folder / name for name in names if name.startswith(system) and name.endswith(".json")), None)


def measurements_issues(doc: dict[str, Any], rules: Rules) -> list[tuple[str, str, str]]:
    """(key, rule id, message) for each required measurements.json key that is absent or empty."""
    issues = []
    for key in rules.measurements_keys:
        if key not in doc:
            issues.append((key, "measurements.missing-key", f"key {key!r} is missing"))
        elif not doc[key]:
            issues.append((key, "measurements.empty-key", f"key {key!r} is empty"))
    return issues
