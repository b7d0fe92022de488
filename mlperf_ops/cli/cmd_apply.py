"""`mlperf-ops apply` and `mlperf-ops status`: reconcile the world toward the manifest."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import (
    append_step_summary,
    echo_json,
    json_option,
    markdown_table,
    state_dir_option,
    step_summary_option,
)
from mlperf_ops.cli.progress import Progress
from mlperf_ops.cli.render import estimate_lines, plan_table, table
from mlperf_ops.plan.controller import host_facts, load_context
from mlperf_ops.core.errors import EXIT_OK, EXIT_OPERATIONAL
from mlperf_ops.core.units import humanize_ns
from mlperf_ops.run.status import status_rows
from mlperf_ops.state.ledger import Ledger



@click.command("apply")
@click.argument("manifest", type=click.Path(path_type=Path))
@state_dir_option
@click.option("--pipeline", help="Pipeline profile (default: the manifest's).")
@click.option("--system", help="Only this system's runs (one CI job per system).")
@click.option("--only", help="Only runs whose id matches this glob or substring, e.g. '*/Offline/*'.")
@click.option("--keep-going", is_flag=True, help="Carry on with other runs after a failure.")
@click.option("--dry-run", is_flag=True, help="Show what would run; start nothing.")
@click.option("--rerun", metavar="GLOB",
              help="Retire the finished records of matching runs (kept, listed by `status --all`) and run them again.")
@click.option("--accept-probe", is_flag=True,
              help="The machine differs from the declared system: record what the probe found instead.")
@click.option("-v", "--verbose", is_flag=True, help="Show container output as it streams.")
@json_option
def apply_cmd(manifest: Path, state_dir: Path, pipeline: str | None, system: str | None, only: str | None,
              keep_going: bool, dry_run: bool, rerun: str | None, accept_probe: bool, verbose: bool,
              as_json: bool) -> int:
    """Build images as needed and run every pending run in containers, recording results."""
    from mlperf_ops.run.apply import apply as run_apply
    from mlperf_ops.execute.connect import connect_from_env

    ledger = Ledger(state_dir)
    # Refuse before any run: a system description the checker would reject costs hours later.
    ctx = load_context(manifest, pipeline=pipeline, system=system, describe_with=host_facts(ledger))
    with Progress(verbose=verbose, live=not as_json) as progress:
        result = run_apply(ctx, ledger, system=system, only=only, keep_going=keep_going, dry_run=dry_run,
                           rerun=rerun, accept_probe=accept_probe, connect=connect_from_env, on_event=progress)
    if dry_run:
        if as_json:
            from mlperf_ops.plan.matrix import plan_to_json

            echo_json(plan_to_json(result.plan_before, ctx.manifest))
        else:
            plan_table(result.plan_before)
            for line in estimate_lines(result.plan_before, ctx.rules):
                click.echo(line, err=True)
        return EXIT_OK
    rows = [(r.run_id, r.status, r.run.validity or "", r.run.headline()) for r in result.records]
    if as_json:
        echo_json({
            "records": [{"run_id": r.run_id, "key": r.key, "status": r.status, "reason": r.run.reason,
                         "path": str(r.path)} for r in result.records],
            "remaining": [{"run_id": p.spec.run_id, "action": p.action, "reason": p.reason} for p in result.remaining],
            "ok": result.ok,
        })
    elif not result.records and not result.remaining:
        click.echo(f"up to date: all {len(result.plan_before.runs)} run(s) have records; no container started")
    else:
        table("apply", ("run", "status", "validity", "result"), rows)
    for record in result.failed:
        click.echo(f"ERROR: {record.run_id}: {humanize_ns(record.run.reason)}", err=True)
        click.echo(f"  log: {record.log_path}", err=True)
    if result.remaining:
        click.echo(f"{len(result.remaining)} run(s) still pending; see `mlperf-ops status {manifest}`", err=True)
    return EXIT_OK if result.ok else EXIT_OPERATIONAL


@click.command("status")
@click.argument("manifest", type=click.Path(path_type=Path))
@state_dir_option
@click.option("--pipeline", help="Pipeline profile (default: the manifest's).")
@click.option("--system", help="Only this system's runs.")
@click.option("--all", "show_all", is_flag=True, help="Also list retired records (re-runs, re-measurements).")
@json_option
@step_summary_option
def status_cmd(manifest: Path, state_dir: Path, pipeline: str | None, system: str | None, show_all: bool,
               as_json: bool, step_summary: bool) -> int:
    """Desired vs observed for every run: up to date, pending, failed or invalid, with the reason."""
    ctx = load_context(manifest, pipeline=pipeline, system=system)
    ledger = Ledger(state_dir)
    rows = status_rows(ctx, ledger, system=system)
    for problem in ledger.problems():
        click.echo(f"warning: unreadable record {problem.path}: {problem.error}", err=True)
    if show_all:
        from mlperf_ops.run.rerun import retired_records
        from mlperf_ops.run.status import StatusRow

        for old in retired_records(Ledger(state_dir), {r.run_id for r in rows}):
            rows.append(StatusRow(old.run_id, "retired", f"{old.run.reason} ({old.path})",
                                  old.run.headline(), old.key))
    if step_summary:
        append_step_summary(markdown_table(f"Status: {manifest}", ["run", "state", "reason", "result"],
                                           [[r.run_id, r.state, r.reason, r.result] for r in rows]))
    if as_json:
        echo_json([row.__dict__ for row in rows])
    else:
        table(f"status {manifest} (profile {ctx.profile.name})", ("run", "state", "reason", "result"),
              [(r.run_id, r.state, humanize_ns(r.reason), r.result) for r in rows])
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(apply_cmd)
    group.add_command(status_cmd)
