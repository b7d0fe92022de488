"""The `mlperf-ops` command line: a thin shell over the library.

Each verb lives in its own `cmd_<name>.py` module exposing `register(group)`. The
module is imported only when its verb runs: importing them all up front cost ~0.4 s of
every invocation (jsonschema, requests, rich, the manifest package), and ~0.1 s of
`--help`, which lists the verbs from `VERB_HELP` instead. `VERBS` says which module
holds which verb, `VERB_HELP` what `--help` says of it; tests keep both in step with
what the modules register.
The library raises `MlperfOpsError`s; this module turns them into `ERROR ...` lines,
a one-line tip and the documented exit code — never a traceback for bad input.
"""

from __future__ import annotations

import gc
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

# verb -> the first sentence of its help: what `mlperf-ops --help` shows of it (click
# shortens it to the terminal's width as it would the command's own help).
VERB_HELP: dict[str, str] = {
    "apply": "Build images as needed and run every pending run in containers, recording results.",
    "assemble": "Build the v6.x submission tree from finished ledger records (and truncate accuracy logs).",
    "check": "Check a submission tree, or a packed tarball (its .sha256 is verified first).",
    "describe": "Print systems/<id>.json as it will be submitted: host probe, image software and the manifest.",
    "dev-portal": "Run a local portal on 127.0.0.1 that speaks the upload protocol, faults included.",
    "digest": "Print the digest of a model file or a data-set directory (cached in the state directory).",
    "export": "Write one system's finished run records into a bundle for `merge` elsewhere.",
    "images": "Build, list and prune the content-addressed harness images.",
    "merge": "Verify bundles (sha256 of every file) and import their records into this ledger.",
    "pack": "Check TREE, then pack it reproducibly (same tree, same bytes).",
    "plan": "Show every run the submission needs, its content key and why it will or will not run.",
    "preprocess": "Write a preprocessed copy of TREE: failed closed results moved to open, failed results and "
                  "empty folders deleted, inferable results added; exit 3 if the copy still fails `check`.",
    "render": "Render the manifest for another orchestrator (prints; changes nothing).",
    "report": "Write an HTML report of PATH: a submission tree (a directory) or a manifest (a file, assembled "
              "from the ledger into a temporary tree first).",
    "status": "Desired vs observed for every run: up to date, pending, failed or invalid, with the reason.",
    "summary": "The end of `make submission`: where the tarball is, its sha256, and the results table.",
    "truncate": "Cut every mlperf_log_accuracy.json to 4 KiB + 4 KiB and add its hash to accuracy.txt.",
    "upload": "Upload a packed submission tarball to the MLCommons portal and keep a receipt.",
    "validate": "Validate manifests against the schema, the round's rules and the system descriptions.",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The verbs as click lists them, each verb not loaded yet by its VERB_HELP line:
        listing them imports no verb's module."""
        listed = [(name, self.commands.get(name) or click.Command(name, help=VERB_HELP[name]))
                  for name in self.list_commands(ctx)]
        listed = [(name, command) for name, command in listed if not command.hidden]
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])


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


def run() -> int:
    """The `mlperf-ops` program: main(), then a quick exit.

    Before the interpreter exits it collects garbage one last time, across every object
    the command made: 10-15 ms on a `check` of a tree (3 ms of it left after this), a
    tenth of a small tree's whole check. gc.freeze() leaves those objects out of that
    collection; the rest of the exit (atexit, flushing, closing) is unchanged. Not in
    main(), which tests call many times in one process.
    """
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
