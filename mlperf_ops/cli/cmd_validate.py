"""`mlperf-ops validate FILE…`: every tier of validation, no Docker, no runs.

Manifests, pipeline profiles (pipelines/*.yaml) and image specs (images/*/image.yaml).
"""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import echo_json, json_option, state_dir_option
from mlperf_ops.plan.controller import host_facts
from mlperf_ops.core.errors import EXIT_OK, EXIT_USAGE
from mlperf_ops.state.ledger import Ledger
from mlperf_ops.manifest.files import MAX_SHOWN, file_problems, shown


@click.command("validate")
@click.argument("manifests", nargs=-1, type=click.Path(path_type=Path))
@state_dir_option
@json_option
def validate(manifests: tuple[Path, ...], state_dir: Path, as_json: bool) -> int:
    """Validate manifests against the schema, the round's rules and the system descriptions.

    Pipeline profiles (pipelines/NAME.yaml) and image specs (images/TARGET/image.yaml)
    given as FILE are checked against their own schemas.

    The system descriptions (systems/<id>.json) are built as `describe` prints them:
    the host facts recorded where a system's runs happened, else this host's.
    Every problem is reported at once as FILE:LINE:COL: PATH: MESSAGE with a hint.
    Exit 0 when all are valid, 2 otherwise. Defaults to manifests/*.yaml.
    """
    paths = list(manifests) or sorted(Path("manifests").glob("*.yaml"))
    if not paths:
        click.echo("ERROR: no manifests given and none found under manifests/", err=True)
        return EXIT_USAGE
    report: list[dict[str, object]] = []
    failed = 0
    total = 0
    facts = host_facts(Ledger(state_dir))
    for path in paths:
        problems = file_problems(path, facts)
        report.append({"manifest": str(path), "valid": not problems,
                       "problems": [p.__dict__ for p in shown(problems)]})
        if problems:
            failed += 1
            total += len(problems)
            if not as_json:
                for problem in shown(problems):
                    click.echo(problem.render(), err=True)
                if len(problems) > MAX_SHOWN:
                    click.echo(f"{path}: … and {len(problems) - MAX_SHOWN} more problem(s) not shown", err=True)
        elif not as_json:
            click.echo(f"{path}: valid")
    if as_json:
        echo_json(report)
    if failed and not as_json:
        click.echo(f"ERROR: {total} problem(s) in {failed} of {len(paths)} manifest(s)", err=True)
    return EXIT_USAGE if failed else EXIT_OK


def register(group: click.Group) -> None:
    group.add_command(validate)
