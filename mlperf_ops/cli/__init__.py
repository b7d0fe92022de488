"""The `mlperf-ops` command line: a thin shell over the library.

Each verb lives in its own `cmd_<name>.py` module exposing `register(group)`. The
module is imported only when its verb runs (or `--help` lists every verb): importing
them all up front cost ~0.4 s of every invocation (jsonschema, requests, rich, the
manifest package). `VERBS` says which module holds which verb; a test keeps it in
step with what the modules register.
The library raises `MlperfOpsError`s; this module turns them into `ERROR ...` lines,
a one-line tip and the documented exit code — never a traceback for bad input.
"""

from __future__ import annotations

import importlib
import sys

import click

from mlperf_ops import __version__
from mlperf_ops.core.errors import EXIT_OPERATIONAL, EXIT_USAGE, FileInvalid, MlperfOpsError


# verb -> the cmd_<name> module that registers it (imported on first use).
VERBS: dict[str, str] = {
    "apply": "cmd_apply",
    "assemble": "cmd_assemble",
    "check": "cmd_check",
    "describe": "cmd_assemble",
    "dev-portal": "cmd_upload",
    "digest": "cmd_digest",
    "export": "cmd_bundle",
    "images": "cmd_images",
    "merge": "cmd_bundle",
    "pack": "cmd_pack",
    "plan": "cmd_plan",
    "preprocess": "cmd_preprocess",
    "render": "cmd_render",
    "report": "cmd_report",
    "status": "cmd_apply",
    "summary": "cmd_assemble",
    "truncate": "cmd_truncate",
    "upload": "cmd_upload",
    "validate": "cmd_validate",
}


class LazyGroup(click.Group):
    """A group that imports a verb's module only when that verb is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(VERBS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in VERBS:
            module = importlib.import_module(f"{__name__}.{VERBS[cmd_name]}")
            module.register(self)  # registers every verb of that module at once
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlperf-ops")
def cli() -> None:
    """Declarative MLPerf Inference submissions.

    Commit a manifest; mlperf-ops plans the runs the round requires, runs LoadGen in
    containers, and assembles, checks, packs and uploads the submission.
    """


def render_error(error: MlperfOpsError) -> None:
    if isinstance(error, FileInvalid):
        for problem in error.problems:
            click.echo(problem.render(), err=True)
        click.echo(f"ERROR: {error.message}", err=True)
        return
    click.echo(f"ERROR: {error.message}", err=True)
    if error.hint:
        click.echo(f"  tip: {error.hint}", err=True)


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="mlperf-ops", standalone_mode=False)
    except MlperfOpsError as error:
        render_error(error)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE if error.exit_code == 2 else error.exit_code
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; finished results are kept, the next command resumes.", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_OPERATIONAL
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
