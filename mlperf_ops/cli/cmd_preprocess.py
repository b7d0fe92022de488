"""`mlperf-ops preprocess IN --out OUT`: the official "Preprocess Submission" step, on a copy."""

from __future__ import annotations

from pathlib import Path

import click

from mlperf_ops.cli.common import echo_json, json_option
from mlperf_ops.core.errors import CheckFailed


def register(group: click.Group) -> None:
    @group.command("preprocess")
    @click.argument("tree", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--out", "out", required=True, type=click.Path(path_type=Path),
                  help="The new tree (must not exist; the input is never changed).")
    @click.option("--round", "round_name", help="Round whose rules judge the results (default: what the tree says, else the newest).")
    @click.option("--submitter", help="Only this submitter's folders.")
    @click.option("--no-infer-low-accuracy", is_flag=True, help="Do not copy <benchmark>-99.9 results to <benchmark>-99.")
    @click.option("--no-infer-scenarios", is_flag=True, help="Do not infer edge Offline/MultiStream from SingleStream/MultiStream.")
    @click.option("--no-delete-empty-dirs", is_flag=True, help="Keep empty folders and systems left without results.")
    @click.option("--no-move-failed-to-open", is_flag=True, help="Do not move failed closed/network results to open.")
    @click.option("--no-delete-failed", is_flag=True, help="Keep failed results (check will fail on them).")
    @json_option
    def preprocess_cmd(tree: Path, out: Path, round_name: str | None, submitter: str | None,
                       no_infer_low_accuracy: bool, no_infer_scenarios: bool, no_delete_empty_dirs: bool,
                       no_move_failed_to_open: bool, no_delete_failed: bool, as_json: bool) -> None:
        """Write a preprocessed copy of TREE: failed closed results moved to open, failed
        results and empty folders deleted, inferable results added; exit 3 if the copy
        still fails `check`."""
        from mlperf_ops.preprocess import PreprocessOptions, preprocess  # the verb's modules load on use

        options = PreprocessOptions(
            round=round_name, submitter=submitter,
            infer_low_accuracy=not no_infer_low_accuracy, infer_scenarios=not no_infer_scenarios,
            delete_empty_dirs=not no_delete_empty_dirs, move_failed_to_open=not no_move_failed_to_open,
            delete_failed=not no_delete_failed,
        )
        report = preprocess(tree, out, options)
        if as_json:
            echo_json(report.as_dict())
        else:
            for action in report.actions:
                click.echo(f"{action.kind:22} {action.path}: {action.detail}")
            for note in report.notes:
                click.echo(f"note: {note}")
            state = "passes check" if report.ok else "still FAILS check"
            click.echo(f"\n{out}: {len(report.actions)} action(s); {state} for {report.round} "
                       f"({report.accepted} accepted, {report.refused} refused)")
        if not report.ok:
            raise CheckFailed("the preprocessed tree fails check", hint=f"run `mlperf-ops check {out}` for the findings")
