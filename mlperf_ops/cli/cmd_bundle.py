"""`mlperf-ops export` and `mlperf-ops merge`: run records across machines."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.ship.bundle import export_bundle, merge_bundles
from mlperf_ops.cli.common import echo_json, json_option, state_dir_option
from mlperf_ops.plan.controller import load_context
from mlperf_ops.core.errors import EXIT_OK
from mlperf_ops.state.ledger import Ledger


@click.command("export")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--system", required=True, help="The system whose records to export.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Bundle file (.tar.gz).")
@click.option("--pipeline", help="Pipeline profile (default: the manifest's).")
@state_dir_option
@json_option
def export_cmd(manifest: Path, system: str, out: Path, pipeline: str | None, state_dir: Path, as_json: bool) -> int:
    """Write one system's finished run records into a bundle for `merge` elsewhere."""
    ctx = load_context(manifest, pipeline=pipeline, system=system)
    index = export_bundle(ctx, Ledger(state_dir), system, out)
    if as_json:
        echo_json({"bundle": str(out), "records": len(index["records"]), "missing": index["missing"]})
    else:
        click.echo(f"exported {len(index['records'])} record(s) of {system} to {out}")
        if index["missing"]:
            click.echo(f"note: {len(index['missing'])} run(s) of {system} have no finished record yet", err=True)
    return EXIT_OK


@click.command("merge")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--submitter", help="Refuse bundles of another submitter.")
@state_dir_option
@json_option
def merge_cmd(bundles: tuple[Path, ...], submitter: str | None, state_dir: Path, as_json: bool) -> int:
    """Verify bundles (sha256 of every file) and import their records into this ledger."""
    result = merge_bundles(Ledger(state_dir), list(bundles), submitter=submitter)
    if as_json:
        echo_json(result.__dict__)
    else:
        click.echo(f"merged {len(bundles)} bundle(s): {len(result.imported)} record(s) imported, "
                   f"{len(result.identical)} already present; probes: {', '.join(result.probes) or 'none'}")
    return EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(export_cmd)
    group.add_command(merge_cmd)
