"""A submission checker users can trust: every rule of the official v6.x checker,
plus what it forgets (README, "Checker rules"), each finding with a stable rule id,
and no crash on a malformed tree.

The names below are loaded on first use: `apply` and `validate` import a helper or two
of this package (measurements, system descriptions) and do not pay for the checker."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlperf_ops.check.findings import RULES, CheckReport, Finding, ResultRow, Severity, finding, rule_table
    from mlperf_ops.check.official import OfficialVerdict, run_official_checker
    from mlperf_ops.check.runner import check_tree, is_smoke_tree, tree_round

_WHERE = {
    "RULES": "findings", "CheckReport": "findings", "Finding": "findings", "ResultRow": "findings",
    "Severity": "findings", "finding": "findings", "rule_table": "findings",
    "check_tree": "runner", "is_smoke_tree": "runner", "tree_round": "runner",
    "OfficialVerdict": "official", "run_official_checker": "official",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "RULES",
    "CheckReport",
    "Finding",
    "OfficialVerdict",
    "ResultRow",
    "Severity",
    "check_tree",
    "finding",
    "is_smoke_tree",
    "rule_table",
    "run_official_checker",
    "tree_round",
]
