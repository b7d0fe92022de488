"""`mlperf-ops truncate DIR`: the official accuracy-log truncation, idempotent."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import echo_json, json_option, state_dir_option
from mlperf_ops.state.ledger import Ledger
from mlperf_ops.submission.truncate import truncate_tree


def register(group: click.Group) -> None:
    @group.command("truncate")
    @click.argument("tree", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--backup", type=click.Path(file_okay=False, path_type=Path),
                  help="Where the untruncated originals go (default: <state-dir>/originals/<tree name>).")
    @state_dir_option
    @json_option
    def truncate(tree: Path, backup: Path | None, state_dir: Path, as_json: bool) -> None:
        """Cut every mlperf_log_accuracy.json to 4 KiB + 4 KiB and add its hash to accuracy.txt."""
        # The state directory is written only through the ledger.
        backup = backup or Ledger(state_dir).originals_for(tree.resolve().name)
        result = truncate_tree(tree, backup)
        if as_json:
            echo_json({"backup": str(backup),
                       "truncated": [str(p) for p in result.truncated],
                       "already_done": [str(p) for p in result.already_done],
                       "skipped": [{"dir": str(d), "why": why} for d, why in result.skipped]})
            return
        for path in result.truncated:
            click.echo(f"truncated {path}")
        for directory, why in result.skipped:
            click.echo(f"skipped {directory}: {why}", err=True)
        click.echo(f"{len(result.truncated)} truncated, {len(result.already_done)} already done; originals in {backup}")
