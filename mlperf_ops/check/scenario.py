"""Checks of one `results/<system>/<benchmark>/<scenario>/` directory.

Performance, accuracy, compliance and the files around them (README, "Checker
rules", lists every rule id). Each function returns findings and never raises on bad input:
the runner still wraps every scenario so that a bug here reports `check.internal`.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from mlperf_ops.check.findings import Finding, Severity, finding
from mlperf_ops.check.hygiene import rel, secret_findings
from mlperf_ops.check.measurements import measurements_issues, measurements_json_path
from mlperf_ops.check.official_value import official_value
from mlperf_ops.check.accuracy_txt import last_values, number, read_accuracy_txt
from mlperf_ops.core.tree_files import FileTooLarge, NotAFile, read_tree_file
from mlperf_ops.core.loadgen_log import DetailLog, SummaryLog, log_lines, parse_detail_bytes, parse_summary_text
from mlperf_ops.rules import Benchmark, Rules
from mlperf_ops.secretscan import scan_bytes
from mlperf_ops.core.tree_layout import (
    ACCURACY_FILES, ACCURACY_LOG, ENDPOINTS_CONFIG_FILES, ENDPOINTS_FILES, LOG_FILES, MAX_ACCURACY_LOG_SIZE,
    POWER_DIRS, hash_values,
)

# Scenarios whose latency LoadGen judges with early stopping (the checker's
# configuration.uses_early_stopping at b66003e1; a LoadGen fact, not a round's).
EARLY_STOPPING_SCENARIOS = ("SingleStream", "MultiStream", "Server")
# The detail-log key LoadGen writes for a scenario's headline metric
# (constants.RESULT_FIELD_NEW at b66003e1: the same since v5.0).
METRIC_KEYS = {
    "Offline": "result_samples_per_second",
    "SingleStream": "early_stopping_latency_ss",
    "MultiStream": "early_stopping_latency_ms",
    "Server": "result_completed_samples_per_sec",
    "Interactive": "result_completed_samples_per_sec",
}
# What check_accuracy reads of the accuracy run's detail log: the other keys' values (its
# list of every loaded sample index is most of its bytes) need not be decoded.
ACCURACY_RUN_KEYS = frozenset({"effective_test_mode", "effective_accuracy_sample_count", "qsl_reported_total_count"})
# what the checkers require of every result beside its runs, where the round's layout puts it
MEASUREMENTS_JSON = "measurements.json"  # its name in v6.x; ResultLayout.measurements_json says where it is
SCENARIO_FILES = ("README.md", "user.conf", MEASUREMENTS_JSON)
SCENARIO_OPTIONAL = ("mlperf.conf",)
# what TEST01/accuracy/ holds when its accuracy is compared rather than bit-exact
# (compliance_check.py REQUIRED_TEST01_ACC_FILES at b66003e1)
TEST01_FALLBACK_FILES = (ACCURACY_LOG, "accuracy.txt", "baseline_accuracy.txt", "compliance_accuracy.txt")
# names the official comparison of a folder's files with its list always lets be
# (utils.py files_diff at b66003e1)
ALWAYS_OPTIONAL_FILES = ("mlperf_log_trace.json", "results.json", ".gitkeep")
# what a TEST01/TEST04 performance/run_1 may hold: the two LoadGen logs, and these
# (compliance_check.py compliance_performance_check at b66003e1)
COMPLIANCE_RUN_OPTIONAL = (ACCURACY_LOG, *ALWAYS_OPTIONAL_FILES)
# what a result's performance/run_1 holds beside the logs without a warning (the official
# checker restricts that list only for power runs): LoadGen's own trace among them
RUN_OPTIONAL = (*COMPLIANCE_RUN_OPTIONAL, "spl.txt")
# the key of every event LoadGen's error calls log (MLPERF_LOG_ERROR in loadgen/ at b66003e1)
LOADGEN_ERROR_PREFIX = "error_"


class ScenarioCtx(Struct):
    root: Path
    path: Path
    rules: Rules
    division: str
    submitter: str
    system: str
    system_type: str | None
    benchmark_dir: str
    bench: Benchmark
    scenario: str
    system_json: dict[str, Any] | None
    duration_severity: Severity  # "info" on smoke trees unless checked as a submission
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False  # --strict: what open may get wrong in audit tests is an error too
    # the effective seeds of each log given a perf.seed-mismatch (its path as in the
    # finding): what seed_round needs to name the round they belong to, without reading
    # the log a second time
    foreign_seeds: dict[str, dict[str, str]] = field(default_factory=dict)
    # the secret findings of every file read_bytes read (by its path in the tree): the
    # hygiene walk takes them instead of reading the file a second time
    scanned: dict[str, list[Finding]] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        return rel(self.root, path)

    def add(self, rule_id: str, path: Path, message: str, severity: Severity | None = None) -> None:
        self.findings.append(finding(rule_id, self.rel(path), message, severity))

    @property
    def strict_division(self) -> bool:
        return self.division in ("closed", "network")

    @property
    def measurements_path(self) -> Path:
        """The folder of README.md, user.conf and the measurements JSON (the round's layout)."""
        return self.rules.layout.measurements_dir(self.path)

    @property
    def compliance_path(self) -> Path:
        """The folder of the result's compliance tests (TEST01/, ...; the round's layout)."""
        return self.rules.layout.compliance_dir(self.path)


class ScenarioOutcome(Struct):
    validity: str | None = None
    metric: str | None = None
    value: float | None = None
    accuracy: str | None = None
    # the value as the official summary CSV reports it (tokens/s for LLMs, ms latencies)
    official_value: float | None = None
    unit: str | None = None
    power_value: float | None = None  # a power result's metric (the official CSV's second row)
    power_unit: str | None = None
    log_format: str = "LoadGen"  # or "endpoints" (check/endpoints.py)


def read_text(ctx: ScenarioCtx, path: Path) -> str | None:
    """A text file's content; missing/unreadable files become findings."""
    data = read_bytes(ctx, path)
    return None if data is None else data.decode("utf-8", errors="replace")


# The names of the files read_bytes reads (and scans for secrets) in a result's folders:
# the hygiene walk leaves them to the result checks. Only a guide: a file named here that
# no check read is scanned after them, a file missing here is scanned twice.
READ_AND_SCANNED = frozenset({*LOG_FILES, "measurements.json", "accuracy.txt", "verify_accuracy.txt",
                              "verify_performance.txt", "baseline_accuracy.txt", "compliance_accuracy.txt",
                              # a result of the endpoints harness (check/endpoints.py)
                              *(Path(name).name for name in ENDPOINTS_FILES), *ENDPOINTS_CONFIG_FILES})
# What Path.exists() reads as "no such file" (a loop of links included).
_ABSENT = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF}


def read_bytes(ctx: ScenarioCtx, path: Path) -> bytes | None:
    """A file's bytes; missing, unreadable and oversized files become findings. One open and
    one fstat, not a stat for "exists" and one for "is a file" before it (thousands of files
    a tree)."""
    try:
        data = read_tree_file(path)
    except NotAFile:
        ctx.add("tree.stray-entry", path, f"{path.name} is not a file")
        return None
    except FileTooLarge as error:  # the walk reports it too, unless a link hides it from the walk
        ctx.add("tree.large-file", path, f"not read: {error.strerror}")
        return None
    except OSError as error:
        if error.errno in _ABSENT:
            ctx.add("files.missing", path, f"{path.name} is missing")
        else:
            ctx.add("tree.unreadable", path, f"cannot read: {error.strerror}")
        return None
    where = ctx.rel(path)
    ctx.scanned[where] = secret_findings(where, scan_bytes(data))
    return data


def _load_logs(
    ctx: ScenarioCtx, run_dir: Path, wanted: frozenset[str] | None = None
) -> tuple[DetailLog, SummaryLog] | None:
    """`wanted`: the detail-log keys the caller reads (parse_detail_text); None: all."""
    if not run_dir.exists():
        ctx.add("perf.missing-run", run_dir, f"{run_dir.name}/ is missing")
        return None
    if not run_dir.is_dir():
        ctx.add("tree.not-a-dir", run_dir, f"{run_dir.name} must be a directory")
        return None
    detail_bytes = read_bytes(ctx, run_dir / LOG_FILES[0])
    summary_text = read_text(ctx, run_dir / LOG_FILES[1])
    if detail_bytes is None or summary_text is None:
        return None
    detail = parse_detail_bytes(detail_bytes, wanted)
    detail_path = run_dir / LOG_FILES[0]
    if not detail.values:
        ctx.add("perf.unparsable", detail_path, "no LoadGen event could be read from the detail log")
        return None
    if detail.malformed_lines:
        first = detail.malformed_lines[0]
        ctx.add(
            "perf.unparsable",
            detail_path,
            f"{len(detail.malformed_lines)} line(s) the official checker stops at (first: line {first}): "
            f"{'the first line is not an MLLOG event' if first == 1 else 'not a JSON event, or not UTF-8'}",
        )
    if detail.foreign_lines:
        ctx.add("perf.foreign-lines", detail_path,
                f"{len(detail.foreign_lines)} line(s) are not MLLOG events (first: line {detail.foreign_lines[0]}): "
                "skipped, as the official checker skips them", "warning")
    return detail, parse_summary_text(summary_text)


def as_number(value: Any) -> float | None:
    """A number, or a number's text, as a float; a flag or anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _require(ctx: ScenarioCtx, detail: DetailLog, path: Path, key: str) -> Any:
    if key not in detail.values:
        ctx.add("perf.missing-key", path, f"the log has no {key!r}")
        return None
    return detail.values[key]


def _compared(ctx: ScenarioCtx, detail: DetailLog, path: Path, key: str, rule: str, label: str) -> float | None:
    """A value the official checker compares with a bound (`value < bound`): a JSON number.
    Anything else (text such as "600000", null, a list) makes that comparison fail, and the
    official checker refuses the result: so does this, under the rule of the bound."""
    value = _require(ctx, detail, path, key)
    if value is None and key not in detail.values:
        return None
    if isinstance(value, (int, float)):  # a bool too: JSON's true compares as 1, as in Python
        return float(value)
    ctx.add(rule, path, f"{label}: {key} is {value!r}, not a number: it cannot be compared with the bound")
    return None


def check_run(
    ctx: ScenarioCtx, run_dir: Path, *, expected_mode: str, label: str
) -> tuple[DetailLog, SummaryLog] | None:
    """LoadGen logs of one performance run (the result's or an audit test's)."""
    loaded = _load_logs(ctx, run_dir)
    if loaded is None:
        return None
    detail, summary = loaded
    dpath = run_dir / LOG_FILES[0]
    bench, rules = ctx.bench, ctx.rules

    validity = detail.values.get("result_validity") or summary.result_validity
    if summary.result_validity is None:
        ctx.add("perf.unparsable", run_dir / LOG_FILES[1], f"{label}: the summary has no 'Result is' line")
    said = {"the detail log": detail.values.get("result_validity"), "the summary": summary.result_validity}
    if validity != "VALID" or (summary.result_validity not in (None, "VALID")):
        shown = "; ".join(f"{log} says {value}" for log, value in said.items() if value not in (None, "VALID"))
        ctx.add("perf.invalid", run_dir / LOG_FILES[1], f"{label}: the result is not VALID ({shown or 'no result'})")
    # LoadGen's error calls write `error_*` events (error_runtime, error_invalid_config, ...);
    # any other event flagged is_error carries LoadGen's flag for the next event, which its
    # logging.h notes it sets without a lock: a published, accepted log has it on all 91
    # events. The official checker refuses neither; ours refuses the first, notes the other.
    errors = [e for e in detail.errors if e.startswith(LOADGEN_ERROR_PREFIX)]
    for error in errors[:5]:
        ctx.add("perf.loadgen-error", dpath, f"{label}: LoadGen error: {error[:200]}")
    if len(errors) > 5:
        ctx.add("perf.loadgen-error", dpath, f"{label}: {len(errors) - 5} more LoadGen errors")
    flagged = len(detail.errors) - len(errors)
    if flagged:
        first = next(e for e in detail.errors if not e.startswith(LOADGEN_ERROR_PREFIX))
        ctx.add("perf.loadgen-error", dpath,
                f"{label}: {flagged} event(s) flagged is_error that are no LoadGen error (first: {first[:80]}); "
                "not counted as errors", "warning")

    scenario = _require(ctx, detail, dpath, "effective_scenario")
    log_scenario = "Interactive" if ctx.scenario == "Interactive" and scenario == "Server" else scenario
    # the scenario the run's own rules follow: the log's when it stands for another (inferred)
    run_scenario = ctx.scenario
    if scenario is not None and log_scenario != ctx.scenario:
        if isinstance(scenario, str) and ctx.rules.may_infer(ctx.scenario, scenario, ctx.system_type):
            run_scenario = scenario
        else:
            ctx.add("perf.scenario-mismatch", dpath, f"{label}: the log ran {scenario}, the directory says {ctx.scenario}")
    mode = _require(ctx, detail, dpath, "effective_test_mode")
    if mode is not None and mode != expected_mode:
        ctx.add("perf.mode-mismatch", dpath, f"{label}: test mode {mode}, expected {expected_mode}")

    for name, expected in rules.seeds.items():
        found = _require(ctx, detail, dpath, f"effective_{name}")
        # exactly, as integers: a seed is ~2^61, beyond a float's precision (so is its text)
        if found is not None and not (type(found) is int and found == int(expected)):
            ctx.add(
                "perf.seed-mismatch",
                dpath,
                f"{label}: {name} is {found}, round {rules.round} needs {expected}"
                f" (use mlcommons-loadgen {rules.loadgen_version})",
            )
            ctx.foreign_seeds[ctx.rel(dpath)] = detail.seed_texts

    if bench.min_duration_applies:
        duration = _compared(ctx, detail, dpath, "effective_min_duration_ms", "perf.min-duration", label)
        if duration is not None and duration < rules.min_duration_ms:
            have, need = duration / 1000, rules.min_duration_ms / 1000
            if ctx.duration_severity == "info":
                message = f"smoke run: {have:g} s < {need:g} s; never submittable"
            else:
                message = f"{label}: min_duration is {have:g} s, a valid result needs {need:g} s"
            ctx.add("perf.min-duration", dpath, message, ctx.duration_severity)

    count = _compared(ctx, detail, dpath, "effective_performance_sample_count", "perf.sample-count", label)
    if count is not None and count < bench.performance_sample_count:
        ctx.add(
            "perf.sample-count",
            dpath,
            f"{label}: performance_sample_count {count:g} < {bench.performance_sample_count}",
        )

    log_scen = scenario if isinstance(scenario, str) else ctx.scenario
    if log_scen in EARLY_STOPPING_SCENARIOS:
        met = detail.values.get("early_stopping_met")
        if not met:  # as officially: any true value
            ctx.add("perf.early-stopping", dpath, f"{label}: early stopping not met ({met!r})")
    bound_ms = (
        bench.interactive_target_latency_ms if ctx.scenario == "Interactive" else bench.server_target_latency_ms
    )
    if ctx.scenario in ("Server", "Interactive") and bound_ms:
        latency = _compared(ctx, detail, dpath, "effective_target_latency_ns", "perf.latency-bound", label)
        if latency is not None and latency > bound_ms * 1e6:
            ctx.add(
                "perf.latency-bound",
                dpath,
                f"{label}: target latency {latency / 1e6:g} ms is above the bound of {bound_ms:g} ms",
            )
    # the log's own scenario sets the query minimums, as officially, inferred or not
    own = log_scenario if isinstance(log_scenario, str) else ctx.scenario
    if log_scen not in EARLY_STOPPING_SCENARIOS:
        need_q = bench.min_query_count.get(own)
        got_q = _compared(ctx, detail, dpath, "effective_min_query_count", "perf.min-query-count", label) if need_q else None
        if need_q and got_q is not None and got_q < need_q:
            ctx.add("perf.min-query-count", dpath, f"{label}: min_query_count {got_q:g} < {need_q}")
    if own == "Offline" and ctx.division == "closed" and bench.offline_min_samples_per_query:
        spq = _compared(ctx, detail, dpath, "effective_samples_per_query", "perf.offline-spq", label)
        if spq is not None and spq < bench.offline_min_samples_per_query:
            ctx.add(
                "perf.offline-spq",
                dpath,
                f"{label}: samples per query {spq:g} < {bench.offline_min_samples_per_query}",
            )
    return detail, summary


def check_files(ctx: ScenarioCtx, names: tuple[str, ...] = SCENARIO_FILES) -> None:
    """README.md, user.conf and the measurements JSON, where the round's layout keeps them."""
    folder = ctx.measurements_path
    layout = ctx.rules.layout
    mpath = measurements_json_path(layout, ctx.path)
    for name in names:
        path = folder / name
        if name == MEASUREMENTS_JSON:
            if mpath is None:  # looked up by the system's name, and none is there
                ctx.add("files.missing", folder / layout.measurements_json.format(system=ctx.system),
                        f"the measurements JSON ({layout.measurements_json.format(system=ctx.system)}) is missing")
                continue
            path, name = mpath, mpath.name
        if not path.is_file():
            ctx.add("files.missing", path, f"{name} is missing")
        elif path.stat().st_size == 0:
            ctx.add("files.empty", path, f"{name} is empty")
    if MEASUREMENTS_JSON in names and mpath is not None and mpath.is_file():
        text = read_text(ctx, mpath)
        try:
            doc = json.loads(text or "")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            ctx.add("measurements.bad-json", mpath, f"{mpath.name} is not a JSON object")
            return
        for _, rule_id, message in measurements_issues(doc, ctx.rules):
            ctx.add(rule_id, mpath, message)


def check_performance(ctx: ScenarioCtx, out: ScenarioOutcome) -> None:
    perf = ctx.path / "performance"
    if not perf.is_dir():
        ctx.add("perf.missing-run", perf / "run_1", "performance/run_1/ is missing")
        return
    for entry in sorted(perf.iterdir()):
        if entry.is_dir() and entry.name in POWER_DIRS:
            continue  # a power result's analyser logs and ranging run
        if entry.name != "run_1" and not entry.name.startswith("."):
            # the official checker reads run_1 alone (a power result's folders aside): hygiene
            ctx.add("tree.stray-dir" if entry.is_dir() else "tree.stray-entry", entry, "only run_1 belongs in performance/",
                    "warning")
    loaded = check_run(ctx, perf / "run_1", expected_mode="PerformanceOnly", label="performance")
    if loaded is None:
        return
    detail, summary = loaded
    out.validity = summary.result_validity or detail.values.get("result_validity")
    log_scenario = detail.values.get("effective_scenario")
    if isinstance(log_scenario, str) and ctx.rules.may_infer(ctx.scenario, log_scenario, ctx.system_type):
        _inferred_metric(ctx, out, detail, log_scenario, perf / "run_1" / LOG_FILES[0])
    else:
        key = METRIC_KEYS.get(ctx.scenario)
        if key is not None:
            out.metric = key
            out.value = as_number(detail.values.get(key))
    reported = official_value(ctx.rules, ctx.bench.name, ctx.scenario, detail.values)
    out.official_value, out.unit = reported.value, reported.unit
    _check_token_latencies(ctx, detail, perf / "run_1" / LOG_FILES[0])
    check_network_sut_name(ctx, detail.values, perf / "run_1" / LOG_FILES[0])
    if (perf / "power").exists():
        _check_power(ctx, perf, detail, out)
    else:
        # the official procedure restricts this file list only for power runs: other files
        # (a harness's metadata.json, a trace) are hygiene
        _check_run_files(ctx, perf / "run_1", "warning")


def _check_power(ctx: ScenarioCtx, perf: Path, detail: DetailLog, out: ScenarioOutcome) -> None:
    """A power result: the analyser's and the ranging run's files, and samples in the run.

    What the official checker itself enforces (its power_check.py at b66003e1): the file
    lists of run_1/, ranging/ and power/ (the round's rules data), and at least one
    positive analyser reading between LoadGen's power_begin and power_end. The Power
    WG's own checks of the analyser logs (power_checker.py: PTD versions, checksums,
    uncertainty, ranging against testing) are not reproduced here: an info finding says so.
    """
    from mlperf_ops.check.power_value import POWER_UNITS, _time, average_power, power_metric

    rules = ctx.rules
    optional = set(rules.power_optional_files)
    lists = (
        (perf / "run_1", rules.power_run_files, optional | set(rules.power_run_optional_files)),
        (perf / "ranging", rules.power_run_files, optional | set(rules.power_run_optional_files)),
        (perf / "power", rules.power_log_files, optional),
    )
    for folder, required, allowed in lists:
        if not folder.is_dir():
            ctx.add("power.files", folder, f"a power result needs performance/{folder.name}/ "
                                           f"({', '.join(required)})")
            continue
        present = {entry.name for entry in folder.iterdir() if entry.is_file()}
        missing = sorted(set(required) - present)
        extra = sorted(present - set(required) - allowed)
        if missing or extra:
            said = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                               f"unexpected {', '.join(extra)}" if extra else "") if part)
            ctx.add("power.files", folder, f"a power result's {folder.name}/ must hold exactly "
                                           f"{', '.join(required)}: {said}")
    begin, end = _time(detail.values.get("power_begin")), _time(detail.values.get("power_end"))
    spl = perf / "run_1" / "spl.txt"
    if begin is None or end is None:
        ctx.add("power.samples", perf / "run_1" / LOG_FILES[0],
                "a power result's LoadGen log needs power_begin and power_end")
    elif spl.is_file() and average_power(spl, begin, end) is None:
        ctx.add("power.samples", spl, f"no positive power reading between power_begin ({begin}) "
                                      f"and power_end ({end})")
    out.power_value = power_metric(perf / "run_1", ctx.path.name, detail.values)
    out.power_unit = POWER_UNITS.get(ctx.scenario)
    ctx.add("power.analyser-logs", perf / "power",
            "the Power WG's checks of the analyser logs (power_checker.py) are not reproduced: "
            "run the official checker on this tree", "info")


# MultiStream queries hold 8 samples: a SingleStream latency times 8 stands for one
# (performance_check.py get_inferred_result at b66003e1)
MULTISTREAM_SAMPLES_PER_QUERY = 8


def _inferred_metric(ctx: ScenarioCtx, out: ScenarioOutcome, detail: DetailLog, log_scenario: str, dpath: Path) -> None:
    """The folder scenario's metric computed from a run of another scenario (edge only)."""
    values = detail.values
    if ctx.scenario == "Offline" and log_scenario == "SingleStream":
        out.metric, out.value = "result_qps_without_loadgen_overhead", as_number(values.get("result_qps_without_loadgen_overhead"))
    elif ctx.scenario == "Offline" and log_scenario == "MultiStream":
        spq = as_number(values.get("effective_samples_per_query"))
        mean = as_number(values.get("result_mean_query_latency_ns"))
        out.metric = "samples_per_query / result_mean_query_latency"
        out.value = spq * 1e9 / mean if spq and mean else None
    elif ctx.scenario == "MultiStream" and log_scenario == "SingleStream":
        # a SingleStream log carries the early-stopping estimate for 8-sample queries too
        latency = as_number(values.get("early_stopping_latency_ms"))
        if not latency:
            ctx.add("perf.early-stopping", dpath, "inferred MultiStream: the SingleStream run has no early-stopping latency")
        out.metric = f"early_stopping_latency_ms * {MULTISTREAM_SAMPLES_PER_QUERY}"
        out.value = latency * MULTISTREAM_SAMPLES_PER_QUERY if latency else None
    out.metric = f"{out.metric} (inferred from {log_scenario})"


def _check_token_latencies(ctx: ScenarioCtx, detail: DetailLog, dpath: Path) -> None:
    """LLMs are judged on time to first token and time per output token, not only on throughput."""
    bench = ctx.bench
    if bench.name not in ctx.rules.llm_benchmarks:
        return
    if detail.values.get("requested_use_token_latencies") is not True:
        ctx.add("perf.token-latencies-off", dpath,
                f"{bench.name} must run with use_token_latencies=1 (the log says "
                f"{detail.values.get('requested_use_token_latencies')!r})")
        return
    token_latency_findings(ctx, detail.values, dpath, ctx.scenario)


def token_latency_findings(ctx: ScenarioCtx, values: dict[str, Any], dpath: Path, scenario: str) -> None:
    """The 99th-percentile TTFT and TPOT of a `scenario` run against the benchmark's limits."""
    bench = ctx.bench
    if scenario not in ("Server", "Interactive"):
        return
    limits = bench.token_latency_limits_ms.get(scenario)
    if not limits:
        ctx.add("perf.token-latency", dpath,
                f"round {ctx.rules.round} sets no TTFT/TPOT limits for {bench.name} {scenario}")
        return
    measured = {
        "ttft": as_number(values.get("result_first_token_99.00_percentile_latency_ns")),
        "tpot": as_number(values.get("result_time_per_output_token_99.00_percentile_ns")),
    }
    for name, value in measured.items():
        limit_ms = limits.get(name)
        if value is None:
            ctx.add("perf.token-latency", dpath, f"the log has no 99th-percentile {name.upper()}")
        elif limit_ms is not None and value >= limit_ms * 1e6:
            ctx.add("perf.token-latency", dpath,
                    f"99th-percentile {name.upper()} {value / 1e6:g} ms is not below the "
                    f"{bench.name} {scenario} limit of {limit_ms:g} ms")


def check_network_sut_name(ctx: ScenarioCtx, values: dict[str, Any], dpath: Path) -> None:
    sd = ctx.rules.system_description
    if sd is None or not sd.network_sut_name_substring or not isinstance(ctx.system_json, dict):
        return
    flag = ctx.system_json.get(sd.network_flag_key)
    if not (isinstance(flag, str) and flag.lower() == "true"):
        return
    sut_name = values.get("sut_name")
    if not isinstance(sut_name, str) or sd.network_sut_name_substring not in sut_name:
        ctx.add("perf.network-sut-name", dpath,
                f"a network-mode system's SUT must be named with {sd.network_sut_name_substring!r} "
                f"(LoadGen sut_name is {sut_name!r})")


def _check_run_files(ctx: ScenarioCtx, run_dir: Path, severity: Severity, rule_id: str = "tree.stray-entry") -> None:
    for entry in sorted(run_dir.iterdir()):
        if entry.name in LOG_FILES or entry.name in RUN_OPTIONAL or entry.name.startswith("."):
            continue
        if entry.is_dir() and entry.name == "power":
            continue
        ctx.add(rule_id, entry, f"unexpected in {run_dir.name}/", severity)


def _check_compliance_run_files(ctx: ScenarioCtx, run_dir: Path) -> None:
    """A TEST01/TEST04 run holds its two LoadGen logs and nothing else but COMPLIANCE_RUN_OPTIONAL
    (a hidden file, a power log, anything: the official checker refuses the result)."""
    for entry in sorted(run_dir.iterdir()):
        if entry.name not in LOG_FILES and entry.name not in COMPLIANCE_RUN_OPTIONAL:
            ctx.add("compliance.run-files", entry, f"unexpected in {run_dir.parent.parent.name}/performance/run_1/")


def _accuracy_txt_findings(ctx: ScenarioCtx, acc_dir: Path, out: ScenarioOutcome | None) -> None:
    """`out` is None for a compliance test's accuracy folder: the official procedure reads
    neither its size nor its hash there, so both are hygiene (warnings)."""
    txt_path = acc_dir / "accuracy.txt"
    # one that is missing is reported with the folder's files (acc.missing), not twice
    text = read_text(ctx, txt_path) if txt_path.is_file() else None
    log_path = acc_dir / ACCURACY_LOG
    untruncated: Severity = "error" if out is not None else "warning"
    if log_path.is_file() and log_path.stat().st_size > MAX_ACCURACY_LOG_SIZE:
        size_kib = log_path.stat().st_size / 1024
        ctx.add(
            "acc.untruncated",
            log_path,
            f"{size_kib:.0f} KiB is over the {MAX_ACCURACY_LOG_SIZE // 1024} KiB limit: run `mlperf-ops truncate`",
            untruncated,
        )
    if text is None:
        return
    if not hash_values(text):
        # the official checker requires the hash only of closed/network results
        hashed: Severity = "error" if out is not None and ctx.strict_division else "warning"
        ctx.add("acc.hash-missing", txt_path, "no hash= line: the accuracy log was not truncated", hashed)
    if out is None:
        return
    targets = ctx.bench.accuracy_for(ctx.scenario)
    reading = read_accuracy_txt(text, targets)
    shown: list[str] = []
    for target, texts in zip(targets, reading.values):
        values = [v for v in map(number, texts) if v is not None]
        if not values:
            sev: Severity = "error" if ctx.strict_division else "warning"
            ctx.add("acc.pattern", txt_path, f"no line matches the {target.metric} pattern of {ctx.bench.name}", sev)
            continue
        shown.append(f"{target.metric}={values[-1]:g}")  # the official summary's: the last one read
        if not ctx.strict_division:
            continue
        # every value read counts, as the official reading judges them
        low = next((v for v in values if v < target.target), None)
        if low is not None:
            again = f" ({len(values)} values read, {values[0]:g} first)" if len(values) > 1 else ""
            ctx.add("acc.target", txt_path, f"{target.metric} {low:g} is below the target {target.target:g}{again}")
        high = next((v for v in values if target.upper is not None and v > target.upper), None)
        if high is not None:
            ctx.add("acc.upper", txt_path, f"{target.metric} {high:g} is above the bound {target.upper:g}")
    out.accuracy = ", ".join(shown) or None


def check_accuracy(ctx: ScenarioCtx, out: ScenarioOutcome) -> None:
    acc = ctx.path / "accuracy"
    if not acc.is_dir():
        ctx.add("acc.missing", acc, "accuracy/ is missing" if not acc.exists() else "accuracy must be a directory")
        return
    for name in ACCURACY_FILES:
        if not (acc / name).is_file():
            ctx.add("acc.missing", acc / name, f"accuracy/{name} is missing")
    loaded = _load_logs(ctx, acc, ACCURACY_RUN_KEYS) if all((acc / n).is_file() for n in LOG_FILES) else None
    if loaded is not None:
        detail, _ = loaded
        dpath = acc / LOG_FILES[0]
        for error in detail.errors[:5]:
            ctx.add("acc.invalid", dpath, f"accuracy run: LoadGen error: {error[:200]}")
        mode = detail.values.get("effective_test_mode")
        if mode != "AccuracyOnly":
            ctx.add("perf.mode-mismatch", dpath, f"accuracy run: test mode {mode}, expected AccuracyOnly")
        expected = ctx.bench.dataset_size_for(ctx.scenario)
        count = detail.values.get("effective_accuracy_sample_count", detail.values.get("qsl_reported_total_count"))
        # as officially, `count != expected`: a JSON number equal to it (50000.0 too), not text
        if type(count) not in (int, float) or count != expected:
            ctx.add(
                "acc.dataset-size",
                dpath,
                f"the accuracy run covered {count} samples; {ctx.bench.name} needs exactly {expected}",
            )
    _accuracy_txt_findings(ctx, acc, out)
    check_extra_accuracy_files(ctx, acc)


def check_extra_accuracy_files(ctx: ScenarioCtx, acc: Path) -> None:
    """Outputs a round requires next to the accuracy log (sample images, videos), by file stem."""
    for folder, stems in ctx.bench.accuracy_extra_files.items():
        where = acc / folder
        if not where.is_dir():
            ctx.add("acc.extra-files", where, f"accuracy/{folder}/ is missing ({len(stems)} sample outputs required)")
            continue
        present = {p.name.split(".")[0] for p in where.iterdir() if p.is_file()}
        missing = [stem for stem in stems if stem not in present]
        if missing:
            ctx.add("acc.extra-files", where, f"accuracy/{folder}/ lacks {', '.join(missing)}")


# TEST06's verify_accuracy.txt passes on these three lines, each exactly (stripped);
# its other lines are not read (compliance_check.py accuracy_check at b66003e1)
TEST06_PASS_LINES = (("First token check pass: True", "First token check pass: Skipped"),
                     ("EOS check pass: True",), ("Sample length check pass: True",))


def verify_passes(text: str, how: str | None = None) -> bool:
    """Whether a verify_*.txt says the test passed, read `how` the round's rules say (an
    AuditTest's `verify`; None, for the HTML report: TEST06's lines where the file has
    them, else TEST PASS anywhere)."""
    lines = [line.strip() for line in log_lines(text)]
    if how is None:
        how = "output-consistency" if any("check pass:" in line for line in lines) else "pass-anywhere"
    if how == "pass-line":
        return "TEST PASS" in lines
    if how == "output-consistency":
        present = set(lines)
        return all(not present.isdisjoint(either) for either in TEST06_PASS_LINES)
    return "TEST PASS" in text


def _test01_accuracy_within_delta(ctx: ScenarioCtx, tdir: Path, deltas: dict[str, float]) -> str | None:
    """TEST01's fallback for SUTs that are not bit-exact: None when the baseline and
    compliance accuracies agree within the round's delta, else why not."""
    acc = tdir / "accuracy"
    if not acc.is_dir():
        return "TEST01/accuracy/ is missing"
    have = {p.name for p in acc.iterdir() if p.is_file()} - set(ALWAYS_OPTIONAL_FILES)
    if have != set(TEST01_FALLBACK_FILES):
        return f"TEST01/accuracy/ must hold exactly {', '.join(TEST01_FALLBACK_FILES)}"
    texts = {}
    for name in ("baseline_accuracy.txt", "compliance_accuracy.txt"):
        text = read_text(ctx, acc / name)
        if text is None:
            return f"{name} is unreadable"
        texts[name] = text
    targets = ctx.bench.accuracy_for(ctx.scenario)
    # the last value of each file counts, as the official fallback reads them
    bases = last_values(texts["baseline_accuracy.txt"], targets)
    comps = last_values(texts["compliance_accuracy.txt"], targets)
    for target, base, comp in zip(targets, bases, comps):
        if not base or not comp:
            return f"no {target.metric} in baseline_accuracy.txt or compliance_accuracy.txt"
        delta = abs(1 - base / comp) * 100
        allowed = deltas.get(target.metric)
        if allowed is None or delta > allowed:
            return f"{target.metric} differs by {delta:.3g} % (allowed: {allowed} %)"
    return None


# the rule a failed compliance test is reported under (TEST01 and TEST04 have their own)
_FAIL_RULE = {"TEST01": "compliance.test01-fail", "TEST04": "compliance.test04-fail"}
COMPLIANCE_FAIL_RULES = frozenset({*_FAIL_RULE.values(), "compliance.test-fail"})


def compliance_fail_rule(test: str) -> str:
    return _FAIL_RULE.get(test, "compliance.test-fail")


def accuracy_delta(rules: Rules, bench: Benchmark, test: str) -> dict[str, float] | None:
    """The accuracy deltas (metric -> percent) within which the checker accepts `test`'s
    verify_accuracy.txt without TEST PASS (TEST01 of a SUT that is not bit-exact); None
    where it does not, or does not read the test for this benchmark."""
    audit = rules.audit_tests.get(test)
    if audit is None or test not in bench.compliance_tests:
        return None
    return audit.accuracy_delta_percent.get(bench.name)


def check_compliance(ctx: ScenarioCtx) -> None:
    check_compliance_with(ctx, lambda: _check_compliance_tests(ctx))


def check_compliance_with(ctx: ScenarioCtx, check: Callable[[], None]) -> None:
    """Audit tests, checked by `check`. The open division is not held to them (the official
    procedure skips them there): what a present test gets wrong in open is a warning."""
    first = len(ctx.findings)
    check()
    if not ctx.strict_division and not ctx.strict:
        ctx.findings[first:] = [
            Finding(f.rule_id, "warning", f.path, f.message) if f.severity == "error" else f
            for f in ctx.findings[first:]
        ]


def _check_compliance_tests(ctx: ScenarioCtx) -> None:
    where = ctx.compliance_path
    present = sorted(p for p in where.iterdir() if p.name.startswith("TEST")) if where.is_dir() else []
    needed = list(ctx.bench.compliance_tests) if ctx.strict_division else []
    for test in needed:
        if not (where / test).is_dir():
            ctx.add("compliance.missing", where / test, f"{test} is required for {ctx.bench.name} in {ctx.division}")
    for tdir in present:
        name = tdir.name
        if not tdir.is_dir():
            ctx.add("tree.stray-entry", tdir, f"{name} must be a directory")
            continue
        audit = ctx.rules.audit_tests.get(name)
        if audit is None or name not in ctx.bench.compliance_tests:
            # the official procedure reads only the tests the benchmark needs: hygiene
            ctx.add("compliance.unknown", tdir, f"{ctx.bench.name} has no compliance test {name}", "warning")
            continue
        fail_rule = compliance_fail_rule(name)
        for required in audit.required_files:
            if not (tdir / required).is_file():
                ctx.add("compliance.missing", tdir / required, f"{name}/{required} is missing")
        for verify_name, how in audit.verify.items():
            verify = tdir / verify_name
            text = read_text(ctx, verify) if verify.is_file() else None
            if text is None or verify_passes(text, how):
                continue  # a missing one is reported with the required files
            deltas = accuracy_delta(ctx.rules, ctx.bench, name)
            if verify.name == "verify_accuracy.txt" and deltas is not None:
                why = _test01_accuracy_within_delta(ctx, tdir, deltas)
                if why is None:
                    continue  # not bit-exact, but within the allowed accuracy delta
                ctx.add(fail_rule, verify, f"{name}: {verify.name} does not say TEST PASS and {why}")
                continue
            ctx.add(fail_rule, verify, f"{name}: {verify.name} does not say TEST PASS")
        if not audit.performance_run_checked:
            continue  # judged by its verify files alone; its logs are the test's business
        run = tdir / "performance" / "run_1"
        logs_there = all((run / log).is_file() for log in LOG_FILES)  # else reported as required files
        if (tdir / "performance").exists() and logs_there:
            check_run(ctx, run, expected_mode="PerformanceOnly", label=f"{name} performance")
        if run.is_dir():
            _check_compliance_run_files(ctx, run)
        if name == "TEST01" and (tdir / "accuracy").is_dir():
            _accuracy_txt_findings(ctx, tdir / "accuracy", None)


def check_scenario(ctx: ScenarioCtx) -> ScenarioOutcome:
    out = ScenarioOutcome()
    known = set(SCENARIO_FILES) | set(SCENARIO_OPTIONAL) | {"performance", "accuracy"}
    for entry in sorted(ctx.path.iterdir()):
        name = entry.name
        if name in known or name.startswith("TEST") or name.startswith("."):
            continue
        if entry.is_dir():
            # the official procedure reads only the folders it knows: others are hygiene
            ctx.add("tree.stray-dir", entry, f"unexpected directory {name}/ in a scenario", "warning")
        else:
            ctx.add("tree.stray-entry", entry, f"unexpected file {name} in a scenario", "warning")
    for step in (check_files, check_compliance):
        step(ctx)
    check_performance(ctx, out)
    check_accuracy(ctx, out)
    return out
