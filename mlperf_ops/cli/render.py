"""Human output: tables with rich on a terminal, plain aligned text elsewhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from mlperf_ops.plan.matrix import Plan
from mlperf_ops.rules import Rules


def fancy() -> bool:
    return sys.stdout.isatty() and os.environ.get("CI") != "true" and os.environ.get("TERM") != "dumb"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if fancy():
        from rich.console import Console  # ~25 ms: only for a terminal
        from rich.table import Table

        t = Table(title=title, title_justify="left")
        for h in headers:
            t.add_column(h)
        for row in rows:
            t.add_row(*row)
        Console().print(t)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    click.echo(title)
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def plan_table(plan: Plan) -> None:
    rows = [(r.spec.run_id, r.action, r.reason, r.spec.key[:12]) for r in plan.runs]
    flag = "" if plan.submittable else " (smoke: never submittable)"
    table(f"plan {plan.manifest}: round {plan.round}, {plan.division}, profile {plan.profile}{flag}",
          ("run", "action", "reason", "key"), rows)
    click.echo(f"{len(plan.pending)} of {len(plan.runs)} run(s) pending", err=True)


def estimate_lines(plan: Plan, rules: Rules) -> list[str]:
    """`plan`'s time estimate: one line per system with pending runs, then the total."""
    from mlperf_ops.plan.estimate import estimate_runs

    estimate = estimate_runs(plan, rules)
    if not estimate.runs:
        return ["estimate: nothing to run"]
    lines = [f"estimate {system}: {estimate.summary(system)}" for system in estimate.systems]
    lines.append(f"estimate total: {estimate.summary()}, plus container start-up and image builds")
    return lines
