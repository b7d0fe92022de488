"""A submission checker users can trust: every rule of the official v6.x checker,
plus what it forgets (README, "Checker rules"), each finding with a stable rule id,
and no crash on a malformed tree."""

from mlperf_ops.check.findings import (
    RULES,
    CheckReport,
    Finding,
    ResultRow,
    Severity,
    finding,
    rule_table,
)
from mlperf_ops.check.runner import check_tree, is_smoke_tree, tree_round

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlperf_ops.check.official import OfficialVerdict, run_official_checker


def __getattr__(name: str) -> Any:
    # the official checker's runner (subprocess, its output parser) only when asked for:
    # `check` without --official does not pay its import
    if name in ("OfficialVerdict", "run_official_checker"):
        from mlperf_ops.check import official

        return getattr(official, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
