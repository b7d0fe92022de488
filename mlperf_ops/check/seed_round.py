"""One finding instead of hundreds when a whole tree was run for another round.

A tree of real v6.0 results checked as v6.1 fails every LoadGen log on its RNG seeds: three
`perf.seed-mismatch` errors per log bury the only thing worth saying, "check it as v6.0".
When every log with foreign seeds carries the seeds of one same other round, those
findings become one `perf.seed-round`; the results they refused stay refused, with it as
their reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlperf_ops.check.findings import Finding, ResultRow, finding
from mlperf_ops.core.loadgen_log import parse_detail
from mlperf_ops.rules import available_rounds, load_rules

RULE = "perf.seed-mismatch"


def _seeds(log: Path) -> dict[str, str]:
    """The effective seeds a detail log carries, as text (they exceed a float's precision)."""
    try:
        return parse_detail(log).seed_texts
    except OSError:
        return {}


def _rounds_with(seeds: dict[str, str], checked: str) -> set[str]:
    """The other rounds whose seeds are exactly these."""
    out = set()
    for name in available_rounds():
        expected = load_rules(name).seeds
        if name != checked and expected and all(seeds.get(k) == str(v) for k, v in expected.items()):
            out.add(name)
    return out


def collapse_seed_findings(
    root: Path, checked: str, findings: list[Finding], known: Mapping[str, dict[str, str]] | None = None
) -> tuple[list[Finding], Finding | None, set[str]]:
    """(findings with the seed errors collapsed, the collapsed finding, the logs it stands for).

    Unchanged (and no finding) unless every flagged log matches one same other round.
    `known`: the seeds of flagged logs as the check read them (by the finding's path); a
    log not in it is read again."""
    logs = sorted({f.path for f in findings if f.rule_id == RULE})
    if not logs:
        return findings, None, set()
    common: set[str] | None = None
    for log in logs:
        seeds = known.get(log) if known is not None else None
        rounds = _rounds_with(seeds if seeds is not None else _seeds(root / log), checked)
        common = rounds if common is None else common & rounds
        if not common:
            return findings, None, set()
    other = sorted(common or ())[-1]
    said = finding(
        "perf.seed-round",
        "",
        f"these logs carry {other} seeds: use --round {other} ({len(logs)} LoadGen log(s) "
        f"have no {checked} seeds)",
    )
    kept = [f for f in findings if f.rule_id != RULE]
    return [said, *kept], said, set(logs)


def refuse(results: list[ResultRow], said: Finding, logs: set[str]) -> None:
    """Refuse each result one of `logs` lies in, with `said` as its reason."""
    for row in results:
        if row.path and any(log.startswith(row.path + "/") for log in logs):
            row.valid = False
            row.reasons.append(said.as_dict())
