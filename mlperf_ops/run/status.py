"""Desired vs observed per run, as a few named states with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from mlperf_ops.plan.controller import Context, make_plan
from mlperf_ops.state.ledger import Ledger


@dataclass(frozen=True)
class StatusRow:
    run_id: str
    state: str  # up-to-date | pending | waiting | failed | invalid
    reason: str
    result: str
    key: str


def status_rows(ctx: Context, ledger: Ledger, *, system: str | None = None) -> list[StatusRow]:
    current = make_plan(ctx, ledger, system=system)
    snapshot = ledger.snapshot()
    rows = []
    for planned in current.runs:
        spec = planned.spec
        done = snapshot.done.get(spec.key)
        latest = snapshot.latest.get(spec.run_id)
        if done is not None:
            record = ledger.done(spec.key)
            result = record.run.result_line() if record else ""
            rows.append(StatusRow(spec.run_id, "up-to-date", "done", result, spec.key))
        elif latest is not None and latest.key == spec.key and latest.status in ("failed", "invalid"):
            rows.append(StatusRow(spec.run_id, latest.status, latest.reason, "", spec.key))
        elif planned.action == "wait":
            rows.append(StatusRow(spec.run_id, "waiting", planned.reason, "", spec.key))
        else:
            rows.append(StatusRow(spec.run_id, "pending", planned.reason, "", spec.key))
    return rows
