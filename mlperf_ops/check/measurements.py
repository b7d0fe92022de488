"""The keys a result's measurements.json must hold (the round's rules): a module of its
own, so that a manifest's validation (which asks this of each benchmark) imports no checker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlperf_ops.rules import Rules


def measurements_issues(doc: dict[str, Any], rules: Rules) -> list[tuple[str, str, str]]:
    """(key, rule id, message) for each required measurements.json key that is absent or empty."""
    issues = []
    for key in rules.measurements_keys:
        if key not in doc:
            issues.append((key, "measurements.missing-key", f"key {key!r} is missing"))
        elif not doc[key]:
            issues.append((key, "measurements.empty-key", f"key {key!r} is empty"))
    return issues
