"""Re-runs on purpose: `apply --rerun GLOB` retires matching finished records and runs them again.

Records are retired, never deleted (`Ledger.retire` keeps them under `attempts/` with
status "retired" and the reason), so an old measurement stays readable next to the new
one, and `status --all` lists it. Only the matched runs are re-run: a re-measured
performance run keeps its content key, so the audits compared with it stay done.
"""

from __future__ import annotations

import fnmatch

from mlperf_ops.plan.matrix import Plan, PlannedRun
from mlperf_ops.state.ledger import Ledger, Record

RERUN_REASON = "re-run requested"


def matches(run_id: str, pattern: str) -> bool:
    """A glob over run ids (`*/Offline/*`), or a plain substring like `--only` takes."""
    return fnmatch.fnmatch(run_id, pattern) or pattern in run_id


def rerun_preview(plan: Plan, pattern: str) -> Plan:
    """The plan as `apply --rerun` would see it: matched finished runs become `run` again."""
    runs = tuple(PlannedRun(r.spec, "run", RERUN_REASON) if r.action == "skip" and matches(r.spec.run_id, pattern)
                 else r for r in plan.runs)
    return Plan(plan.manifest, plan.round, plan.division, plan.submitter, plan.profile, plan.submittable, runs)


def retire_matching(plan: Plan, ledger: Ledger, pattern: str) -> list[Record]:
    """Retire the finished record of every planned run the pattern matches; returns the retired records."""
    retired = []
    for planned in plan.runs:
        if planned.action == "skip" and matches(planned.spec.run_id, pattern):
            record = ledger.retire(planned.spec.key, RERUN_REASON)
            if record is not None:
                retired.append(record)
    return retired


def retired_records(ledger: Ledger, run_ids: set[str]) -> list[Record]:
    """Every retired record of these runs, oldest first."""
    found = [r for r in ledger.records() if r.status == "retired" and r.run_id in run_ids]
    return sorted(found, key=lambda r: r.run.finished_unix)
