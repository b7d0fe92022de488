"""Run the official submission checker from a user's mlcommons/inference checkout.

Its exit code alone cannot be trusted (it returns success on an empty tree; README,
"Checker rules"), so the verdict is read from its log: at least one `Results` line, no
`ERROR` line, no Python traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlperf_ops.core.errors import OperationalError, UsageError

if TYPE_CHECKING:
    from mlperf_ops.check.findings import CheckReport

ENTRY_POINTS = (
    "tools/submission/submission_checker/main.py",  # v6.x: a package with a main module
    "tools/submission/submission_checker.py",  # older rounds: one script
)
_RESULTS = re.compile(r"\bResults=(\d+), NoResults=(\d+)")
# Its log lines look like "[date file.py:123 ERROR] message"; a plain "ERROR:" too.
_ERROR = re.compile(r"(?:^|\s)ERROR\]|^ERROR\b")


@dataclass
class OfficialVerdict:
    ok: bool
    exit_code: int
    results: int  # what its summary line says ("Results=N"), -1 if absent
    errors: list[str] = field(default_factory=list)  # its ERROR lines
    traceback: bool = False
    command: list[str] = field(default_factory=list)
    output: str = ""  # its whole log (stdout + stderr)
    csv: str = ""  # the summary CSV it wrote (`check --csv` compares its own with it)

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.traceback:
            out.append("the official checker crashed (traceback)")
        if self.results <= 0:
            out.append("the official checker reported no result")
        if self.errors:
            out.append(f"the official checker logged {len(self.errors)} ERROR line(s)")
        if self.exit_code != 0:
            out.append(f"the official checker exited with {self.exit_code}")
        return out


def _entry_point(checkout: Path) -> Path:
    for candidate in ENTRY_POINTS:
        if (checkout / candidate).is_file():
            return checkout / candidate
    raise UsageError(
        f"{checkout} has no submission checker",
        hint="give the root of a mlcommons/inference checkout (with tools/submission/)",
    )


def checkout_commit(checkout: Path, given: str = "") -> str:
    """The commit of a mlcommons/inference checkout: `given`, else git's ("" when neither
    tells, as for a checkout exported without its .git)."""
    if given:
        return given
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()


def judge(output: str, exit_code: int) -> tuple[bool, int, list[str], bool]:
    errors = [line for line in output.splitlines() if _ERROR.search(line)]
    crashed = "Traceback (most recent call last)" in output
    counts = [int(good) for good, _ in _RESULTS.findall(output)]
    results = counts[-1] if counts else -1
    ok = exit_code == 0 and not errors and not crashed and results > 0
    return ok, results, errors, crashed


def run_official_checker(
    checkout: Path, root: Path, round: str, submitter: str, *, timeout: float = 1800
) -> OfficialVerdict:
    """Run `<checkout>/tools/submission/...` on `root` and judge its output strictly."""
    entry = _entry_point(Path(checkout))
    csv = Path(root).resolve().parent / f".official-summary-{submitter}.csv"
    command = [
        sys.executable,
        str(entry),
        "--input",
        str(Path(root).resolve()),
        "--version",
        round,
        "--submitter",
        submitter,
        "--csv",
        str(csv),
    ]
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=checkout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise OperationalError(
            f"the official checker did not finish within {timeout:.0f} s",
            hint="run it by hand to see where it hangs",
        ) from error
    try:
        csv_text = csv.read_text(encoding="utf-8")
    except OSError:
        csv_text = ""
    csv.unlink(missing_ok=True)
    output = proc.stdout + proc.stderr
    ok, results, errors, crashed = judge(output, proc.returncode)
    return OfficialVerdict(
        ok=ok,
        exit_code=proc.returncode,
        results=results,
        errors=errors,
        traceback=crashed,
        command=command,
        output=output,
        csv=csv_text,
    )


# Its closing lines name every result it loaded: "Results <perf log path> <value>" for an
# accepted one, "NoResults <perf log path>" for a refused one.
_PER_RESULT = re.compile(r"\b(Results|NoResults) (\S+?/performance/run_1/mlperf_log_detail\.txt)(?: (\S.*))?$")


def per_result_verdicts(output: str, root: Path) -> dict[str, bool]:
    """`<division>/<submitter>/results/<system>/<benchmark>/<scenario>` -> accepted, from its log."""
    base = str(Path(root).resolve()).rstrip("/") + "/"
    verdicts: dict[str, bool] = {}
    for line in output.splitlines():
        m = _PER_RESULT.search(line)
        if not m:
            continue
        path = m.group(2)
        path = path[len(base):] if path.startswith(base) else path
        key = path[: -len("/performance/run_1/mlperf_log_detail.txt")]
        verdicts[key] = m.group(1) == "Results"
    return verdicts


def disagreements(ours: dict[str, tuple[bool, list[str]]], official: dict[str, bool]) -> list[dict[str, object]]:
    """The results the two checkers judge differently (one of them not knowing a result
    counts): {result, ours, official, our_reasons} each, ours as `path -> (valid, rule ids)`."""
    out: list[dict[str, object]] = []
    for path in sorted(set(ours) | set(official)):
        mine = ours.get(path)
        theirs = official.get(path)
        if (mine[0] if mine else None) != theirs:
            out.append({"result": path, "ours": mine[0] if mine else None, "official": theirs,
                        "our_reasons": sorted(set(mine[1])) if mine else []})
    return out


def report_disagreements(report: CheckReport, submitter: str, verdict: OfficialVerdict,
                         root: Path) -> list[dict[str, object]]:
    """`disagreements` of one submitter's results: ours from `report`, the official ones
    from its run's log (none when it crashed: it names no result then)."""
    if verdict.traceback:
        return []
    ours = {r.path: (bool(r.valid), [f["rule_id"] for f in r.reasons])
            for r in report.results if r.submitter == submitter}
    return disagreements(ours, per_result_verdicts(verdict.output, root))
