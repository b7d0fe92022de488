"""`mlperf-ops check DIR`: check a submission tree; exit 0 only when it would pass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from mlperf_ops.check import CheckReport, Finding, ResultRow, check_tree
from mlperf_ops.cli.common import echo_json, in_github_actions, json_option
from mlperf_ops.core.errors import CheckFailed, UsageError

_MARK = {"error": "ERROR", "warning": "warn ", "info": "info "}


def _render_human(report: CheckReport) -> None:
    by_path: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_path.setdefault(f.path or ".", []).append(f)
    for path in sorted(by_path):
        click.echo(path)
        for f in by_path[path]:
            click.echo(f"  {_MARK[f.severity]} {f.rule_id}: {f.message}")
    if report.results:
        click.echo("")
        click.echo("results:")
        for r in report.results:
            click.echo(f"  {_result_line(r)}")
    errors = len(report.errors)
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    kind = "smoke tree" if report.smoke else "tree"
    verdict = "OK" if report.ok else "FAILED"
    accepted = sum(1 for r in report.results if r.valid)
    counts = f"{len(report.results)} result(s)"
    if report.results:
        counts += f" ({accepted} accepted, {len(report.results) - accepted} refused)"
    click.echo(f"\n{verdict}: {kind} for {report.round}, {counts}, {errors} error(s), {warnings} warning(s)")


def _result_line(r: ResultRow) -> str:
    """One result: its verdict, its value as the official CSV reports it, LoadGen's word."""
    bench = r.benchmark if r.benchmark == r.official_benchmark else f"{r.benchmark} ({r.official_benchmark})"
    verdict = "accepted" if r.valid else "REFUSED"
    if r.official_value is not None:
        value = f"{r.official_value:g} {r.unit}"
    elif r.value is not None:
        value = f"{r.metric}={r.value:g}"
    else:
        value = "no value"
    # LoadGen's "Result is" line of performance/run_1, absent when that log is
    if r.validity:
        loadgen = f"LoadGen {r.validity}"
    else:
        loadgen = "endpoints harness" if r.log_format == "endpoints" else "no performance log"
    return (f"{r.division}/{r.submitter}/{r.system} {bench} {r.scenario}: {verdict}, {value}, "
            f"{loadgen}, accuracy {r.accuracy or '-'}")


def _github(report: CheckReport, root: Path) -> None:
    for f in report.findings:
        if f.severity == "info":
            continue
        level = "error" if f.severity == "error" else "warning"
        msg = f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        click.echo(f"::{level} file={(root / f.path).as_posix()},title={f.rule_id}::{msg}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    lines = [
        f"### mlperf-ops check: {'OK' if report.ok else 'FAILED'} ({report.round}{', smoke' if report.smoke else ''})",
        "",
        "| severity | rule | path | message |",
        "|---|---|---|---|",
    ]
    for f in report.findings:
        cells = [f.severity, f"`{f.rule_id}`", f"`{f.path or '.'}`", f.message.replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| system | benchmark | scenario | result | verdict | accuracy |", "|---|---|---|---|---|---|"]
    for r in report.results:
        value = "-" if r.official_value is None else f"{r.official_value:g} {r.unit}"
        verdict = "accepted" if r.valid else "refused"
        lines.append(f"| {r.system} | {r.benchmark} | {r.scenario} | {value} | {verdict} | {r.accuracy or '-'} |")
    with open(summary, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def register(group: click.Group) -> None:
    @group.command("check")
    @click.argument("tree", type=click.Path(exists=True, path_type=Path))
    @json_option
    @click.option("--round", "round_name", help="Round to check against (default: what the tree says, else the newest).")
    @click.option("--as-submission", is_flag=True, help="Judge a smoke tree as a real submission (duration rules are errors).")
    @click.option("--strict", is_flag=True, help="Hygiene warnings (stray files, calibration.md, ...) are errors too.")
    @click.option(
        "--official",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Also run the official checker from this mlcommons/inference checkout.",
    )
    @click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write the official checker's summary CSV (one row per accepted result) to this file.",
    )
    def check(
        tree: Path, as_json: bool, round_name: str | None, as_submission: bool, strict: bool, official: Path | None,
        csv_path: Path | None,
    ) -> None:
        """Check a submission tree, or a packed tarball (its .sha256 is verified first).

        Every official rule plus what the official checker misses; exit 3 on failure.
        """
        if tree.is_file():  # a tree is a directory: tarfile and hashing only for a file
            from mlperf_ops.ship.tarballs import is_tarball, unpacked, verify_sha256_sidecar

            if is_tarball(tree):
                verify_sha256_sidecar(tree)
                with unpacked(tree) as root:
                    _check(root, tree, as_json, round_name, as_submission, official, strict, csv_path)
                return
        if not tree.is_dir():
            raise UsageError(f"{tree} is neither a submission tree nor a tarball")
        _check(tree, tree, as_json, round_name, as_submission, official, strict, csv_path)

    def _check(tree: Path, shown: Path, as_json: bool, round_name: str | None, as_submission: bool,
               official: Path | None, strict: bool = False, csv_path: Path | None = None) -> None:
        report = check_tree(tree, round=round_name, as_submission=as_submission, strict=strict)
        csv_differences: list[str] = []
        if csv_path is not None:
            from mlperf_ops.check.summary_csv import write_summary_csv  # only when asked for

            rows = write_summary_csv(report, csv_path)
            if not as_json:
                click.echo(f"summary CSV: {csv_path} ({rows} accepted result(s))", err=True)
        verdicts: list[dict[str, Any]] = []
        official_csvs: list[tuple[str, str]] = []
        if official is not None:
            from mlperf_ops.check.official import report_disagreements, run_official_checker

            submitters = sorted({r.submitter for r in report.results}) or [""]
            for submitter in submitters:
                v = run_official_checker(official, tree, report.round, submitter)
                verdicts.append(
                    {"submitter": submitter, "ok": v.ok, "results": v.results, "exit_code": v.exit_code,
                     "errors": v.errors, "traceback": v.traceback, "reasons": v.reasons,
                     "disagreements": report_disagreements(report, submitter, v, tree)}
                )
                official_csvs.append((v.csv, str(Path(tree).resolve())))
            if csv_path is not None:
                from mlperf_ops.check.summary_csv import compare_with_official

                # the official CSV is the reference for ours: say where they part
                csv_differences = compare_with_official(
                    csv_path.read_text(encoding="utf-8"), report.root, official_csvs)
        if as_json:
            doc = report.as_dict()
            if official is not None:
                doc["official"] = verdicts
                if csv_path is not None:
                    doc["official_csv_differences"] = csv_differences
            echo_json(doc)
        else:
            _render_human(report)
            for verdict in verdicts:
                state = "OK" if verdict["ok"] else "FAILED: " + "; ".join(verdict["reasons"])
                click.echo(f"official checker ({verdict['submitter']}): {state}")
                for line in verdict["errors"][:20]:
                    click.echo(f"  {line}")
                for d in verdict["disagreements"]:
                    said = {True: "accepts", False: "refuses", None: "does not list"}
                    why = f" ({', '.join(d['our_reasons'])})" if d["our_reasons"] else ""
                    click.echo(f"  differs: {d['result']}: ours {said[d['ours']]}{why}, "
                               f"the official checker {said[d['official']]}")
            if official is not None and csv_path is not None:
                click.echo("summary CSV: " + ("the official checker's, row for row" if not csv_differences
                                              else f"{len(csv_differences)} difference(s) from the official checker's"))
                for line in csv_differences[:20]:
                    click.echo(f"  {line}")
        if in_github_actions():
            _github(report, shown if shown.is_dir() else Path(shown.name))
        official_ok = all(verdict["ok"] for verdict in verdicts)
        if not report.ok or not official_ok:
            refused = sum(1 for r in report.results if not r.valid)
            why = "the tree holds no result" if not report.results else f"{len(report.errors)} error(s)"
            if refused:
                why += f", {refused} of {len(report.results)} result(s) refused"
            if not official_ok:
                why += ", official checker failed"
            raise CheckFailed(f"check failed: {why}", hint="fix the findings above; rule ids are listed in the README")
