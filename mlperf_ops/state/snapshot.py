"""What the planner is told about the ledger: a snapshot of its records, no I/O.

The ledger makes it (`Ledger.snapshot`); the planner reads it. Defined here, with the
ledger, so that the state layer never imports the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordSummary:
    """What the planner needs to know about one ledger record."""

    run_id: str
    key: str
    status: str  # done | failed | invalid
    inputs: Mapping[str, Any]
    calibrated: Mapping[str, int | float] | None = None
    reason: str = ""


@dataclass(frozen=True)
class LedgerSnapshot:
    latest: Mapping[str, RecordSummary] = field(default_factory=dict)  # by run_id: newest attempt
    done: Mapping[str, RecordSummary] = field(default_factory=dict)  # by key: finished records
