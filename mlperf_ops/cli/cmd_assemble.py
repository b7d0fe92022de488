"""`mlperf-ops assemble`, `describe` and `summary`: from ledger records to the official tree."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlperf_ops.submission.assemble import assemble
from mlperf_ops.cli.common import echo_json, json_option, state_dir_option
from mlperf_ops.cli.progress import Progress
from mlperf_ops.cli.render import table
from mlperf_ops.plan.controller import describe_systems, host_facts, load_context
from mlperf_ops.core.errors import EXIT_OK, EXIT_USAGE
from mlperf_ops.state.ledger import Ledger


@click.command("assemble")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist/submission"), show_default=True,
              help="Where the tree goes (replaced atomically).")
@state_dir_option
@click.option("--pipeline", help="Pipeline profile whose records to use (default: the manifest's).")
@click.option("--smoke", "allow_smoke", is_flag=True,
              help="Accept non-submittable records under a submittable profile; the tree is then marked as a smoke tree "
                   "(a smoke profile always makes one).")
@json_option
def assemble_cmd(manifest: Path, out: Path, state_dir: Path, pipeline: str | None, allow_smoke: bool,
                 as_json: bool) -> int:
    """Build the v6.x submission tree from finished ledger records (and truncate accuracy logs)."""
    ctx = load_context(manifest, pipeline=pipeline)
    with Progress() as progress:
        result = assemble(ctx, Ledger(state_dir), out, allow_smoke=allow_smoke, on_event=progress)
    if as_json:
        echo_json({"root": str(result.root), "smoke": result.smoke, "results": result.results})
    else:
        kind = "SMOKE tree (never submittable)" if result.smoke else "submission tree"
        click.echo(f"assembled {kind} with {result.results} result(s) at {result.root}")
    return EXIT_OK


@click.command("describe")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--system", help="Only this system.")
@click.option("--sources", "as_sources", is_flag=True,
              help="Print where each field comes from (probe, manifest, image, default) as JSON instead.")
@state_dir_option
def describe_cmd(manifest: Path, system: str | None, as_sources: bool, state_dir: Path) -> int:
    """Print systems/<id>.json as it will be submitted: host probe, image software and the manifest.

    Uses the host facts recorded where the system's runs happened, else this host's.
    Where each field comes from follows on stderr (stdout stays the document itself).
    Problems are reported like `validate` does (exit 2), after the JSON.
    """
    from mlperf_ops.manifest.provenance import field_sources, render_sources

    ctx = load_context(manifest, system=system)
    facts = host_facts(Ledger(state_dir))
    docs, problems = describe_systems(ctx, facts, system=system)
    sources = {s.id: field_sources(ctx.manifest, s, ctx.rules, ctx.images_dir, facts(s.id))
               for s in ctx.manifest.systems if s.id in docs}
    if as_sources:
        echo_json(sources if system is None else sources[system])
    else:
        echo_json(docs if system is None else docs[system])
        for system_id, fields in sources.items():
            for line in render_sources(system_id, fields):
                click.echo(line, err=True)
    for problem in problems:
        click.echo(problem.render(), err=True)
    return EXIT_USAGE if problems else EXIT_OK


@click.command("summary")
@click.option("--dist", type=click.Path(path_type=Path), default=Path("dist"), show_default=True,
              help="The folder `pack` and `report` wrote (report.json, the tarball).")
def summary_cmd(dist: Path) -> int:
    """The end of `make submission`: where the tarball is, its sha256, and the results table."""
    from mlperf_ops.core.units import human_metric

    report_path = dist / "report.json"
    if not report_path.is_file():
        click.echo(f"ERROR: {report_path} not found", err=True)
        click.echo("  tip: run `mlperf-ops pack` first", err=True)
        return EXIT_USAGE
    report = json.loads(report_path.read_text("utf-8"))
    rows = []
    for row in report.get("results", []):
        value = row.get("value")
        shown = (human_metric(str(row.get("metric")), float(value)) if isinstance(value, (int, float))
                 else f"{row.get('metric')} = {value}")
        rows.append((str(row.get("system")), str(row.get("benchmark")), str(row.get("scenario")),
                     shown, str(row.get("validity")),
                     str(row.get("accuracy") or "")))
    table("results", ("system", "benchmark", "scenario", "performance", "validity", "accuracy"), rows)
    click.echo("")
    checker = report.get("checker") or {}
    verdict = "passes mlperf-ops check" if checker.get("ok") else "does NOT pass mlperf-ops check"
    click.echo(f"tree:    {dist / 'submission'}")
    click.echo(f"tarball: {dist / str(report.get('tarball'))}")
    click.echo(f"sha256:  {report.get('sha256')}")
    click.echo(f"check:   {verdict} ({checker.get('errors', '?')} errors, {checker.get('warnings', '?')} warnings)")
    if (dist / "report.html").is_file():
        click.echo(f"report:  {dist / 'report.html'}")
    if report.get("profile") == "smoke":
        click.echo("NOTE: a smoke submission (shortened runs) — never submittable; "
                   "use PIPELINE=submission for a real one.")
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(assemble_cmd)
    group.add_command(describe_cmd)
    group.add_command(summary_cmd)
