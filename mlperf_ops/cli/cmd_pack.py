"""`mlperf-ops pack DIR`: a deterministic tarball, its .sha256 and report.json."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import echo_json, json_option
from mlperf_ops.ship.pack import pack as pack_tree


def register(group: click.Group) -> None:
    @group.command("pack")
    @click.argument("tree", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"),
                  show_default=True, help="Where the tarball, .sha256 and report.json go.")
    @click.option("--name", help="Archive name without .tar.gz (default <submitter>-<round>-<profile>).")
    @click.option("--round", "round_name", help="Round to check against.")
    @click.option("--force", is_flag=True, help="Pack even when the check fails (never for hidden files/symlinks).")
    @json_option
    def pack(tree: Path, out_dir: Path, name: str | None, round_name: str | None, force: bool, as_json: bool) -> None:
        """Check TREE, then pack it reproducibly (same tree, same bytes)."""
        result = pack_tree(tree, out_dir, name=name, force=force, round=round_name)
        if as_json:
            echo_json({"tarball": str(result.tarball), "sha256": result.sha256,
                       "sha256_file": str(result.sha256_file), "report": str(result.report_file),
                       "file_count": result.file_count, "total_size": result.total_size})
            return
        click.echo(f"{result.tarball}")
        click.echo(f"sha256 {result.sha256}  ({result.file_count} files, {result.total_size} bytes)")
        click.echo(f"report {result.report_file}")
