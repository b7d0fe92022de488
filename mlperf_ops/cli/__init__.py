"""The `mlperf-ops` command line: a thin shell over the library.

Each verb lives in its own `cmd_<name>.py` module exposing `register(group)`; they
are discovered here so that adding a verb never means editing a shared list.
The library raises `MlperfOpsError`s; this module turns them into `ERROR ...` lines,
a one-line tip and the documented exit code — never a traceback for bad input.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from mlperf_ops import __version__
from mlperf_ops.errors import EXIT_OPERATIONAL, EXIT_USAGE, FileInvalid, MlperfOpsError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mlperf-ops")
def cli() -> None:
    """Declarative MLPerf Inference submissions.

    Commit a manifest; mlperf-ops plans the runs the round requires, runs LoadGen in
    containers, and assembles, checks, packs and uploads the submission.
    """


def _register_commands() -> None:
    package = importlib.import_module(__name__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(cli)


_register_commands()


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
