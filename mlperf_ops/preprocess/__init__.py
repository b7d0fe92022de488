"""`mlperf-ops preprocess IN --out OUT`: the guide's "Preprocess Submission" step.

The official tools/submission/preprocess_submission.py makes a new tree from a measured
one: failed closed results move to open, failed results and empty folders go, results the
rules let a submitter infer are added. This does the same on a copy (never in place),
each step switchable, judging results with our checker (which agrees with the official
one result by result), and reports every action. Where the official tool leaves a tree its
own checker refuses (a system description left without results), the tree is pruned so
that `check` passes on the output.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mlperf_ops.check import check_tree
from mlperf_ops.preprocess.failed import handle_failed
from mlperf_ops.preprocess.infer import infer_low_accuracy, infer_scenarios
from mlperf_ops.preprocess.report import Action, PreprocessReport
from mlperf_ops.preprocess.tree_ops import copy_tree, delete_empty_dirs
from mlperf_ops.core.errors import UsageError
from mlperf_ops.rules import available_rounds, load_rules
from mlperf_ops.core.tree_layout import DIVISIONS

__all__ = ["Action", "PreprocessOptions", "PreprocessReport", "preprocess"]


@dataclass(frozen=True)
class PreprocessOptions:
    round: str | None = None  # default: what the tree says, else the newest
    submitter: str | None = None  # only this submitter's folders
    infer_low_accuracy: bool = True
    infer_scenarios: bool = True
    delete_empty_dirs: bool = True
    move_failed_to_open: bool = True
    delete_failed: bool = True


def _prune(out: Path, report: PreprocessReport) -> None:
    """Systems left without results lose their description; a submitter left without
    any result leaves the division (both would fail the official checker)."""
    for division in DIVISIONS:
        for sub in sorted(p for p in (out / division).glob("*") if p.is_dir()):
            results = sub / "results"
            systems = {p.name for p in results.iterdir() if p.is_dir()} if results.is_dir() else set()
            if not systems:
                shutil.rmtree(sub)
                report.add("deleted-empty-dir", sub.relative_to(out).as_posix(), "the submitter has no result left here")
                continue
            for doc in sorted((sub / "systems").glob("*.json")):
                if doc.name[: -len(".json")] not in systems:
                    doc.unlink()
                    report.add("deleted-unused-system", doc.relative_to(out).as_posix(), "no result of this system is left")


def preprocess(src: Path, out: Path, options: PreprocessOptions = PreprocessOptions()) -> PreprocessReport:
    """Write the preprocessed copy of `src` to the new directory `out`."""
    from mlperf_ops.check import tree_round

    round_name = options.round or tree_round(src)
    if round_name not in available_rounds():
        round_name = available_rounds()[-1]
    rules = load_rules(round_name)
    if rules.layout.apart:
        # moving a result would have to move its compliance/ and measurements/ folders too
        raise UsageError(
            f"preprocess handles trees that keep all of a result's files in its results/ folder (v6.x); "
            f"{round_name} kept compliance/ and measurements/ apart",
            hint=f"for a {round_name} tree use the official tools/submission/preprocess_submission.py "
                 f"--version {round_name}; `mlperf-ops check TREE --round {round_name}` checks it")
    copy_tree(src, out, options.submitter)
    report = PreprocessReport(source=str(src), output=str(out), round=round_name)

    def empty_dirs() -> None:
        if options.delete_empty_dirs:
            for path in delete_empty_dirs(out):
                report.add("deleted-empty-dir", path.relative_to(out).as_posix(), "empty")

    empty_dirs()
    # closed and network first: what moves to open is judged there next, as in the official order
    for divisions in (("closed", "network"), ("open",)):
        checked = check_tree(out, round=round_name)
        if "perf.seed-round" in checked.rule_ids():
            break  # judged by the wrong round's rules: every verdict is moot, touch nothing
        handle_failed(out, rules, checked, report, divisions=divisions,
                      move_to_open=options.move_failed_to_open, delete_failed=options.delete_failed)
    if options.infer_scenarios:
        infer_scenarios(out, rules, report)
    if options.infer_low_accuracy:
        infer_low_accuracy(out, rules, report)
    empty_dirs()
    if options.delete_empty_dirs:
        _prune(out, report)
        empty_dirs()  # a division whose last submitter left
    final = check_tree(out, round=round_name)
    report.accepted = sum(1 for r in final.results if r.valid)
    report.refused = len(final.results) - report.accepted
    report.ok = final.ok
    # a tree of another round's logs fails as a whole, not result by result: nothing was
    # moved or deleted, and the check says which round to preprocess it for
    report.notes = [f.message for f in final.findings if f.rule_id == "perf.seed-round"]
    return report
