"""`apply`: the reconcile loop. Plan, ensure images, run what is pending, record.

This half plans and stops when nothing is pending (a no-op `apply` loads nothing more);
run/pending.py runs the rest. An interrupted apply resumes exactly where the ledger
says it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlperf_ops.core.events import Event, EventSink
from mlperf_ops.plan.controller import Context, make_plan
from mlperf_ops.plan.matrix import Plan, PlannedRun
from mlperf_ops.run.rerun import RERUN_REASON, rerun_preview, retire_matching
from mlperf_ops.state.ledger import Ledger, Record

if TYPE_CHECKING:
    from mlperf_ops.execute.executor import Executor
    from mlperf_ops.stacks.images import ImageRef


@dataclass
class ApplyResult:
    plan_before: Plan
    records: list[Record] = field(default_factory=list)
    remaining: tuple[PlannedRun, ...] = ()
    images: dict[str, ImageRef] = field(default_factory=dict)

    @property
    def failed(self) -> list[Record]:
        """Final failures: a retried run that then finished does not count."""
        last: dict[str, Record] = {}
        for record in self.records:
            last[record.run_id] = record
        return [r for r in last.values() if r.status != "done"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.remaining


def apply(
    ctx: Context,
    ledger: Ledger,
    *,
    connect: Callable[[], Executor],
    system: str | None = None,
    only: str | None = None,
    keep_going: bool = False,
    dry_run: bool = False,
    rerun: str | None = None,
    accept_probe: bool = False,
    on_event: EventSink,
) -> ApplyResult:
    with ledger.lock():
        for stale in ledger.sweep_staging():
            on_event(Event("warning", f"removed an interrupted run's staging directory {stale.name}"))
        for problem in ledger.problems():
            # Never silently: an unreadable record is a run that will be done again.
            on_event(Event("warning", f"unreadable record {problem.path}: {problem.error}; "
                                      "its run counts as not done (move it away to silence this)"))
        if rerun:
            # `--rerun GLOB` re-runs exactly what it matches, unless --only says otherwise.
            only = only or rerun
            if not dry_run:
                for old in retire_matching(make_plan(ctx, ledger, system=system, only=only), ledger, rerun):
                    on_event(Event("info", f"{old.run_id}: {RERUN_REASON}; the old record is kept at {old.path}"))
        first = make_plan(ctx, ledger, system=system, only=only)
        if rerun and dry_run:
            first = rerun_preview(first, rerun)
        if dry_run or not first.pending:
            return ApplyResult(plan_before=first, remaining=first.pending)
        from mlperf_ops.run.pending import run_pending  # the engine, images and runner: only now

        ran = run_pending(ctx, ledger, first, connect=connect, system=system, only=only, keep_going=keep_going,
                          accept_probe=accept_probe, on_event=on_event)
        return ApplyResult(plan_before=first, records=ran.records, remaining=ran.remaining, images=ran.images)
