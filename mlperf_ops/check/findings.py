"""What a check reports: findings with stable rule ids, result rows, the report.

Every rule the checker can raise is registered once in `RULES` (id, default severity,
one-line summary); `rule_table()` exports it for the README. Rule ids never change
meaning: scripts and CI filters rely on them.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct, field, to_builtins

Severity = Literal["error", "warning", "info"]

# id -> (default severity, summary). Grouped by the part of the tree they look at.
RULES: dict[str, tuple[Severity, str]] = {
    # the tree as a whole
    "tree.empty": ("error", "the tree holds no division folder or no result at all"),
    "tree.unreadable": ("error", "a file or directory cannot be read"),
    "tree.division-case": ("error", "a division folder is not spelled closed/open/network"),
    "tree.stray-entry": ("error", "a file or directory the submission layout does not allow"),
    "tree.stray-dir": ("error", "a directory where a benchmark/scenario/test is expected is not one"),
    "tree.not-a-dir": ("error", "a file stands where a directory is required"),
    "tree.hidden": ("warning", "a hidden file or directory (name starts with '.'); published trees hold some"),
    "tree.space-in-name": ("error", "a file or directory name contains a space"),
    "tree.symlink": ("warning", "a symbolic link; published trees hold some, `pack` refuses them"),
    "tree.empty-dir": ("warning", "an empty directory"),
    "tree.large-file": ("error", "a file over 50 MB"),
    "tree.pycache": ("error", "a __pycache__ directory"),
    "tree.secret": ("error", "a file holds what looks like a credential (a token format; the value is never shown)"),
    "tree.calibration-missing": ("warning", "closed/network submitter without calibration.md (the round asks for it; the official checker does not enforce it)"),
    "tree.src-missing": ("error", "the submitter has no src/ directory"),
    "tree.no-results": ("error", "the submitter has no results/ directory or it is empty"),
    # systems/<system>.json
    "system.missing": ("error", "a results/<system>/ has no systems/<system>.json"),
    "system.bad-json": ("error", "a system description is not a JSON object"),
    "system.missing-key": ("error", "a required key is absent from the system description"),
    "system.empty-key": ("error", "a key that needs a meaningful value is empty"),
    "system.bad-status": ("error", "status is not one of the round's availability values"),
    "system.bad-type": ("error", "system_type is not one of the round's exact values"),
    "system.not-integer": ("error", "number_of_nodes / accelerators_per_node not integer-convertible"),
    "system.bad-value-type": ("error", "a key the checker reads as text holds another JSON type"),
    "system.nested-value": ("warning", "a value is a JSON object or list (the official checker accepts it; the results table shows it as text)"),
    "system.division-mismatch": ("error", "the division key differs from the directory"),
    "system.submitter-mismatch": ("error", "the submitter key differs from the directory"),
    "system.network-flag": ("error", "is_network does not match the division"),
    "system.unused": ("error", "a system description without any result"),
    "system.not-checked": ("info", "the round's rules hold no system-description data"),
    # open-division model mapping and benchmark names
    "mapping.bad-json": ("error", "a model_mapping.json entry a result folder uses does not name a benchmark"),
    "mapping.unknown-target": ("error", "a model_mapping.json entry a result folder uses maps to a benchmark not in the round"),
    "mapping.unused": ("warning", "a model_mapping.json entry names no result directory"),
    "bench.unknown": ("error", "a benchmark directory that is no benchmark of the round (nor mapped)"),
    "bench.wrong-system-type": ("error", "a closed benchmark not offered for the system type"),
    "scenario.unknown": ("error", "a folder in a benchmark folder that is no scenario of it (closed/network: for the system type)"),
    "scenario.missing": ("error", "a closed/network benchmark lacks a required scenario"),
    "scenario.case": ("warning", "a scenario folder not spelled as LoadGen spells the scenario (offline for Offline)"),
    # per-scenario files
    "files.missing": ("error", "a required file is absent"),
    "files.empty": ("error", "a required file is empty"),
    "measurements.bad-json": ("error", "measurements.json is not a JSON object"),
    "measurements.missing-key": ("error", "measurements.json lacks a required key"),
    "measurements.empty-key": ("error", "a measurements.json key is empty"),
    # performance logs
    "perf.missing-run": ("error", "performance/run_1 is missing"),
    "perf.endpoints-format": ("error", "a result of the MLCommons endpoints harness in a round that has none (v6.1 is the first): `check --official` gives the official verdict"),
    "perf.endpoints-unreadable": ("error", "an endpoints harness file (result_summary.json, accuracy_results.json, config.yaml) is not JSON/YAML the checker can read"),
    "perf.endpoints-model": ("error", "the round does not take this benchmark's results from the endpoints harness"),
    "perf.endpoints-failed": ("error", "samples failed in the endpoints harness's performance run (the official checker does not refuse this)"),
    "perf.unparsable": ("error", "a LoadGen log the official checker cannot read: a detail log whose first line is not an MLLOG event, an MLLOG line that is not a JSON event, bytes that are not UTF-8"),
    "perf.foreign-lines": ("warning", "a LoadGen detail log holds lines that are not MLLOG events (the official checker skips them, and so does this one)"),
    "perf.missing-key": ("error", "a LoadGen log lacks a key the checker reads"),
    "perf.invalid": ("error", "LoadGen marked the run INVALID"),
    "perf.loadgen-error": ("error", "the LoadGen log reports an error"),
    "perf.scenario-mismatch": ("error", "the log's scenario differs from the directory"),
    "perf.mode-mismatch": ("error", "the log's test mode is not the expected one"),
    "perf.seed-mismatch": ("error", "an effective RNG seed differs from the round's"),
    "perf.seed-round": ("error", "every log with foreign seeds carries another round's: check it with that --round (or, for a round this tool has no rules for, with the official checker)"),
    "perf.min-duration": ("error", "effective_min_duration_ms below the round's minimum"),
    "perf.sample-count": ("error", "effective_performance_sample_count below the benchmark's"),
    "perf.early-stopping": ("error", "early stopping not met (SingleStream/MultiStream/Server)"),
    "perf.latency-bound": ("error", "Server/Interactive latency above the benchmark's bound"),
    "perf.offline-spq": ("error", "closed Offline samples per query below the benchmark's minimum"),
    "perf.min-query-count": ("error", "effective_min_query_count below the benchmark's minimum"),
    "perf.token-latencies-off": ("error", "an LLM benchmark's log was not run with use_token_latencies"),
    "perf.token-latency": ("error", "LLM Server/Interactive 99th-percentile TTFT or TPOT not below the limit"),
    "perf.network-sut-name": ("error", "a network-mode system's LoadGen sut_name lacks the required substring"),
    # power results (performance/power/ beside run_1)
    "power.files": ("error", "a power result's run_1/, ranging/ or power/ does not hold exactly the round's files"),
    "power.samples": ("error", "no positive analyser reading between the log's power_begin and power_end"),
    "power.analyser-logs": ("info", "the Power WG's own checks of the analyser logs are left to the official checker"),
    # accuracy
    "acc.missing": ("error", "the accuracy directory or one of its files is missing"),
    "acc.invalid": ("error", "the accuracy run's LoadGen log is missing or reports errors"),
    "acc.pattern": ("error", "accuracy.txt has no line matching the benchmark's metric pattern"),
    "acc.target": ("error", "closed/network accuracy below the benchmark's target"),
    "acc.upper": ("error", "accuracy above the benchmark's upper bound"),
    "acc.dataset-size": ("error", "the accuracy run did not cover exactly the data set"),
    "acc.untruncated": ("error", "mlperf_log_accuracy.json over the 10 KiB limit"),
    "acc.hash-missing": ("error", "accuracy.txt lacks the hash= line of truncation"),
    "acc.endpoints-score": ("info", "an endpoints result's accuracy score that the round holds to no target (reported as read)"),
    "acc.extra-files": ("error", "the accuracy folder lacks the extra outputs the round requires (e.g. videos/)"),
    # compliance (audit) tests
    "compliance.missing": ("error", "a required compliance test or one of its files is missing"),
    "compliance.test01-fail": ("error", "TEST01 verify_accuracy/verify_performance lacks TEST PASS"),
    "compliance.test04-fail": ("error", "TEST04 verify_performance lacks TEST PASS"),
    "compliance.test-fail": ("error", "another compliance test's verification lacks TEST PASS"),
    "compliance.run-files": ("error", "a TEST01/TEST04 performance/run_1 holds other files than the LoadGen logs"),
    "compliance.unknown": ("warning", "a TESTxx directory that the benchmark has no use for"),
    # the checker itself
    "check.internal": ("error", "the checker failed on this part of the tree (bug: please report)"),
    "check.round-unknown": ("warning", "the tree names a round this tool has no rules for"),
}


# Hygiene: what neither the official checker nor the portal refuses, but a careful
# submitter fixes. Warnings by default, errors with --strict (`strictly`).
HYGIENE_RULES: frozenset[str] = frozenset({
    "tree.calibration-missing",
    "tree.hidden",
    "tree.symlink",
    "system.nested-value",
    "tree.stray-entry",
    "tree.stray-dir",
    "tree.empty-dir",
    "scenario.case",
    "perf.foreign-lines",
    "system.unused",
    "mapping.unused",
    "mapping.bad-json",
    "mapping.unknown-target",
    "acc.untruncated",
    "acc.hash-missing",
    "compliance.test-fail",
    "compliance.test01-fail",
    "compliance.test04-fail",
    "compliance.missing",
    "compliance.unknown",
})


def strictly(f: "Finding") -> "Finding":
    """The finding as --strict sees it: a hygiene warning becomes an error."""
    if f.severity == "warning" and f.rule_id in HYGIENE_RULES:
        return Finding(rule_id=f.rule_id, severity="error", path=f.path, message=f.message)
    return f


def rule_table() -> list[tuple[str, str, str]]:
    """(rule id, default severity, summary) for every rule, sorted by id."""
    return [(rid, sev, summary) for rid, (sev, summary) in sorted(RULES.items())]


class Finding(Struct, frozen=True):
    rule_id: str
    severity: Severity
    path: str  # relative to the checked root, "/"-separated; "" is the root
    message: str

    def as_dict(self) -> dict[str, str]:
        return to_builtins(self)  # type: ignore[no-any-return]


def finding(rule_id: str, path: str, message: str, severity: Severity | None = None) -> Finding:
    """A finding of a registered rule (its default severity unless overridden)."""
    default, _ = RULES[rule_id]
    return Finding(rule_id=rule_id, severity=severity or default, path=path, message=message)


class ResultRow(Struct):
    division: str
    submitter: str
    system: str
    benchmark: str  # the directory name (custom in open)
    official_benchmark: str | None  # the round's benchmark it maps to
    scenario: str
    metric: str | None
    value: float | None
    validity: str | None  # LoadGen's "Result is" of performance/run_1
    accuracy: str | None  # e.g. "acc=80.000"
    path: str = ""  # the scenario folder, relative to the checked root
    # the value as the official summary CSV reports it, in `unit` (Tokens/s, Latency (ms), ...)
    official_value: float | None = None
    unit: str | None = None
    # a power result's power metric as the official CSV's second row reports it, in
    # `power_unit` (Watts; millijoules per query for SingleStream/MultiStream)
    power_value: float | None = None
    power_unit: str | None = None
    # what the result's measurements are in: "LoadGen" logs, or the "endpoints" harness's files
    log_format: str = "LoadGen"
    # the verdict: no error finding in the result's folder nor in what it depends on
    # (its benchmark folder, system, submitter); `reasons` are those errors
    valid: bool | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return to_builtins(self)  # type: ignore[no-any-return]


class CheckReport(Struct):
    root: str
    round: str
    smoke: bool
    as_submission: bool
    findings: list[Finding] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    strict: bool = False

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.errors

    def rule_ids(self) -> set[str]:
        return {f.rule_id for f in self.findings}

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "round": self.round,
            "smoke": self.smoke,
            "as_submission": self.as_submission,
            "strict": self.strict,
            "ok": self.ok,
            "counts": {
                sev: sum(1 for f in self.findings if f.severity == sev)
                for sev in ("error", "warning", "info")
            },
            "findings": [f.as_dict() for f in self.findings],
            "results": [r.as_dict() for r in self.results],
        }
