"""`mlperf-ops report`: one self-contained HTML page about a submission tree or manifest."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import state_dir_option
from mlperf_ops.core.errors import EXIT_OK, UsageError
from mlperf_ops.report import build_report
from mlperf_ops.core.atomic import write_text


@click.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write (replaced atomically).")
@state_dir_option
@click.option("--pipeline", help="Pipeline profile whose records to use for a manifest (default: the manifest's).")
@click.option("--round", "round_name", help="Round whose rules judge a tree (default: what the tree says, else the newest).")
def report_cmd(path: Path, out: Path, state_dir: Path, pipeline: str | None, round_name: str | None) -> int:
    """Write an HTML report of PATH: a submission tree (a directory) or a manifest (a file,
    assembled from the ledger into a temporary tree first). Prints the report's path."""
    if not path.exists():
        raise UsageError(f"{path} does not exist",
                         hint="give a submission tree directory (e.g. dist/submission) or a manifest file")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory", hint="give a file name such as report.html")
    page = build_report(path, state_dir=state_dir, pipeline=pipeline, round=round_name)
    write_text(out, page)
    click.echo(str(out))
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(report_cmd)
