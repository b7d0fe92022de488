"""One finding instead of hundreds when a whole tree was run for another round.

A tree of real v6.0 results checked as v6.1 fails every LoadGen log on its RNG seeds: three
`perf.seed-mismatch` errors per log bury the only thing worth saying, "check it as v6.0".
When every log with foreign seeds carries the seeds of one same other round, those
findings become one `perf.seed-round`; the results they refused stay refused, with it as
their reason.

That round may be one this tool holds no rules for (a v5.0 tree: rules/rounds_without_rules.yaml
knows it by its seeds), or one whose tree layout is another (v5.1 kept compliance/ and
measurements/ beside results/). Then, when every result carries its seeds, the findings of
the checked round's rules are set aside too (a v5.1 tree lacks v6.1's files because v5.1
kept them elsewhere, not because it is broken); what no round's rules decide stays: a
credential in a file, a log no checker can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlperf_ops.check.findings import Finding, ResultRow, finding
from mlperf_ops.core.loadgen_log import parse_detail
from mlperf_ops.rules import available_rounds, load_rules, seeds_by_round

RULE = "perf.seed-mismatch"
# What a tree of a round without rules is still told: findings no round's rules decide.
ROUND_FREE_RULES = frozenset({
    "tree.secret", "tree.unreadable", "tree.large-file", "tree.space-in-name", "tree.pycache",
    "tree.symlink", "tree.hidden", "perf.unparsable", "check.internal",
})


def _seeds(log: Path) -> dict[str, str]:
    """The effective seeds a detail log carries, as text (they exceed a float's precision)."""
    try:
        return parse_detail(log).seed_texts
    except OSError:
        return {}


def _rounds_with(seeds: dict[str, str], checked: str) -> set[str]:
    """The other rounds whose seeds are exactly these."""
    return {
        name for name, expected in seeds_by_round().items()
        if name != checked and expected and all(seeds.get(k) == str(v) for k, v in expected.items())
    }


def collapse_seed_findings(
    root: Path, checked: str, findings: list[Finding], known: Mapping[str, dict[str, str]] | None = None,
    results: list[ResultRow] | None = None,
) -> tuple[list[Finding], Finding | None, set[str]]:
    """(findings with the seed errors collapsed, the collapsed finding, the logs it stands for).

    Unchanged (and no finding) unless every flagged log matches one same other round.
    `known`: the seeds of flagged logs as the check read them (by the finding's path); a
    log not in it is read again. `results`: the tree's results, to tell whether all of
    them carry a round without rules (see the module's doc)."""
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
    kept = [f for f in findings if f.rule_id != RULE]
    with_rules = available_rounds()
    if other in with_rules:
        message = f"these logs carry {other} seeds: use --round {other}"
        other_layout = load_rules(other).layout != load_rules(checked).layout
    else:
        message = (f"these logs carry {other} seeds, a round this tool has no rules for (it has "
                   f"{', '.join(with_rules)}): check the tree with the official checker, --version {other}")
        other_layout = True
    if other_layout and results and all(_lies_in_any(row, logs) for row in results):
        moot = [f for f in kept if f.rule_id not in ROUND_FREE_RULES]
        kept = [f for f in kept if f.rule_id in ROUND_FREE_RULES]
        message += (f"; {len(moot)} finding(s) by {checked}'s rules are left out, they do not "
                    f"apply to a {other} tree")
    said = finding("perf.seed-round", "", f"{message} ({len(logs)} LoadGen log(s) have no {checked} seeds)")
    return [said, *kept], said, set(logs)


def _lies_in_any(row: ResultRow, logs: set[str] | list[str]) -> bool:
    return bool(row.path) and any(log.startswith(row.path + "/") for log in logs)


def refuse(results: list[ResultRow], said: Finding, logs: set[str]) -> None:
    """Refuse each result one of `logs` lies in, with `said` as its reason."""
    for row in results:
        if _lies_in_any(row, logs):
            row.valid = False
            row.reasons.append(said.as_dict())
