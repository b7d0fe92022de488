"""`mlperf-ops plan MANIFEST`: what apply would run, and why. Touches nothing."""

from __future__ import annotations

import json
import os
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
from mlperf_ops.cli.render import estimate_lines, plan_table
from mlperf_ops.plan.controller import host_facts, load_context, make_plan
from mlperf_ops.core.errors import EXIT_OK, EXIT_PENDING
from mlperf_ops.plan.matrix import github_matrix, plan_to_json
from mlperf_ops.state.ledger import Ledger


@click.command("plan")
@click.argument("manifest", type=click.Path(path_type=Path))
@state_dir_option
@json_option
@click.option("--pipeline", help="Pipeline profile to plan with (default: the manifest's).")
@click.option("--system", help="Only this system's runs.")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 4 when runs are pending.")
@click.option("--rerun", metavar="GLOB", help="Preview `apply --rerun GLOB`: matching finished runs run again.")
@click.option("--github-output", is_flag=True,
              help="Append matrix=… and pending=… to $GITHUB_OUTPUT (for runs.yml).")
@step_summary_option
def plan_cmd(manifest: Path, state_dir: Path, as_json: bool, pipeline: str | None, system: str | None,
             exit_code: bool, rerun: str | None, github_output: bool, step_summary: bool) -> int:
    """Show every run the submission needs, its content key and why it will or will not run."""
    ledger = Ledger(state_dir)
    ctx = load_context(manifest, pipeline=pipeline, system=system, describe_with=host_facts(ledger))
    result = make_plan(ctx, ledger, system=system)
    for problem in ledger.problems():
        click.echo(f"warning: unreadable record {problem.path}: {problem.error}; its run counts as not done",
                   err=True)
    if rerun:
        from mlperf_ops.run.rerun import rerun_preview

        result = rerun_preview(result, rerun)
    from mlperf_ops.plan.estimate import estimate_json, estimate_title

    data = plan_to_json(result, ctx.manifest)
    data["estimate"] = estimate_json(result, ctx.rules)
    if github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if target:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(f"matrix={json.dumps(github_matrix(result, ctx.manifest), sort_keys=True)}\n")
                handle.write(f"pending={len(result.pending)}\n")
    if step_summary:
        append_step_summary(markdown_table(
            f"Plan: {manifest} ({len(result.pending)} of {len(result.runs)} runs pending, "
            f"{estimate_title(result, ctx.rules)})",
            ["run", "action", "reason"], [[r.spec.run_id, r.action, r.reason] for r in result.runs]))
    if as_json:
        echo_json(data)
    else:
        plan_table(result)
        for line in estimate_lines(result, ctx.rules):
            click.echo(line, err=True)
    if exit_code and result.pending:
        return EXIT_PENDING
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(plan_cmd)
