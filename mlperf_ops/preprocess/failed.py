"""Failed results: moved from closed to open, or deleted (the official preprocess's rules).

A result is "failed" when our checker refuses it for something in its own scenario
folder; refusals that come from its benchmark, system or submitter (a missing required
scenario, a bad system description) are not a result's failure and are left to the user,
as the official tool leaves them. What happens to a failed result:

- open: it is deleted;
- a closed/network Offline or MultiStream result whose performance or accuracy failed is
  deleted when the scenario can be inferred on that system (an edge run of another scenario
  is there to stand for it); the official tool deletes it whatever the system, which
  leaves a datacenter benchmark short of a required scenario;
- any other closed/network failure moves the benchmark's results to open (when the
  performance run itself failed, without that scenario: it is worth nothing in open
  either), with the system description (division: open) and the benchmark's code; the
  benchmark leaves closed with all its scenarios, which depended on the failed one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlperf_ops.check import CheckReport, ResultRow
from mlperf_ops.check.official_value import canonical_scenario
from mlperf_ops.preprocess.report import PreprocessReport
from mlperf_ops.rules import Rules
from mlperf_ops.core.tree_files import read_tree_text

INFERABLE = ("Offline", "MultiStream")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def own_reasons(row: ResultRow) -> list[dict[str, str]]:
    """The errors that lie in the result's own folder (what makes it a failed result)."""
    return [r for r in row.reasons if _under(r["path"], row.path)]


def performance_failed(row: ResultRow) -> bool:
    return any(r["rule_id"].startswith("perf.") or _under(r["path"], row.path + "/performance")
               for r in own_reasons(row))


def _compliance_only(row: ResultRow) -> bool:
    return all(r["rule_id"].startswith("compliance.") or "/TEST" in r["path"][len(row.path):]
               for r in own_reasons(row))


def _system_type(root: Path, row: ResultRow) -> str | None:
    try:
        doc = json.loads(read_tree_text(root / row.division / row.submitter / "systems" / f"{row.system}.json"))
    except (OSError, ValueError):
        return None
    value = doc.get("system_type") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _inferable(rules: Rules, root: Path, row: ResultRow) -> bool:
    """Whether another scenario folder of the benchmark could stand for this one."""
    bench_dir = root / row.path.rsplit("/", 1)[0]
    siblings = {canonical_scenario(p.name) for p in bench_dir.iterdir() if p.is_dir()} - {row.scenario}
    system_type = _system_type(root, row)
    return any(s is not None and rules.may_infer(row.scenario, s, system_type) for s in siblings)


def _move_to_open(root: Path, row: ResultRow, report: PreprocessReport, drop_failed: bool) -> None:
    bench_rel = row.path.rsplit("/", 1)[0]
    bench_dir = root / bench_rel
    if drop_failed:
        shutil.rmtree(root / row.path)
        report.add("deleted-failed", row.path, "its performance run failed: worth nothing in open either")
    open_sub = root / "open" / row.submitter
    closed_sub = root / row.division / row.submitter
    target = open_sub / bench_rel.split("/", 2)[2]  # results/<system>/<benchmark>
    if target.exists():
        # the official tool keeps what open holds and drops the closed copy: say so
        report.add("deleted-failed", bench_rel, f"{_why(row)}; open already holds "
                   f"{target.relative_to(root).as_posix()}, kept as it is")
    elif any(bench_dir.iterdir()):
        shutil.copytree(bench_dir, target, symlinks=True)
        report.add("moved-to-open", target.relative_to(root).as_posix(), f"from {bench_rel}: {_why(row)}")
    system_json = open_sub / "systems" / f"{row.system}.json"
    if not system_json.exists():
        source = closed_sub / "systems" / f"{row.system}.json"
        try:
            doc: Any = json.loads(read_tree_text(source))
        except (OSError, ValueError):
            doc = None
        if isinstance(doc, dict):
            system_json.parent.mkdir(parents=True, exist_ok=True)
            # as the official tool writes it (json.dump, indent 2, no last line break)
            system_json.write_text(json.dumps({**doc, "division": "open"}, indent=2), "utf-8")
    # the benchmark's code goes with it (src/<benchmark>, as officially); where the closed
    # src/ has no such folder (the official tool fails there), an open submitter without
    # src/ gets the closed one's, since open needs one too
    code = closed_sub / "src" / row.benchmark
    if code.is_dir():
        if not (open_sub / "src" / row.benchmark).exists():
            shutil.copytree(code, open_sub / "src" / row.benchmark, symlinks=True)
    elif not (open_sub / "src").exists() and (closed_sub / "src").is_dir():
        shutil.copytree(closed_sub / "src", open_sub / "src", symlinks=True)


def _why(row: ResultRow) -> str:
    reasons = own_reasons(row)
    first = f"{reasons[0]['rule_id']}" if reasons else "refused"
    return f"{row.scenario} failed ({first}{f' and {len(reasons) - 1} more' if len(reasons) > 1 else ''})"


def handle_failed(
    root: Path, rules: Rules, checked: CheckReport, report: PreprocessReport, *,
    divisions: tuple[str, ...], move_to_open: bool, delete_failed: bool,
) -> None:
    """Move or delete the failed results of `divisions` in the tree at `root`."""
    failed = [r for r in checked.results if r.division in divisions and not r.valid and own_reasons(r)]
    for row in sorted(failed, key=lambda r: r.path.split("/")):
        scenario_dir = root / row.path
        if not scenario_dir.exists():
            continue  # its benchmark already moved or went with an earlier failure
        if row.division == "open" or (
            row.scenario in INFERABLE and not _compliance_only(row) and _inferable(rules, root, row)
        ):
            if delete_failed:
                shutil.rmtree(scenario_dir)
                report.add("deleted-failed", row.path, _why(row) + (
                    "" if row.division == "open" else "; it can be inferred from another scenario"))
            continue
        bench_dir = scenario_dir.parent
        if move_to_open:
            _move_to_open(root, row, report, drop_failed=delete_failed and performance_failed(row))
        elif not delete_failed:
            continue
        if bench_dir.exists():
            shutil.rmtree(bench_dir)
            if not move_to_open:
                report.add("deleted-failed", bench_dir.relative_to(root).as_posix(),
                           f"{_why(row)}; the benchmark's other scenarios depend on it")
