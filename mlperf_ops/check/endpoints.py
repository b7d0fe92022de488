"""Checks of a result measured by the MLCommons endpoints harness (no LoadGen logs).

Its scenario folder holds the harness's configuration (config.yaml), the performance
run's performance/result_summary.json, the accuracy run's accuracy/accuracy_results.json,
and, for the compliance tests it has, audit/audit_<test>.json. check/endpoints_log.py
reads them onto LoadGen's keys with the round's tables; what is judged here follows the
official checker's handling of such a result (performance_check.py, accuracy_check.py,
compliance_check.py at b66003e1), which differs from a LoadGen result's:

- the scenario is the configuration's `type`: `online` is Server, and a SingleStream
  folder is SingleStream whatever the type says;
- two seeds (the sample index and schedule ones; there is no QSL seed), the minimum
  duration, and the latency bound (TTFT/TPOT for LLMs, the 99th percentile otherwise);
  no early stopping, performance sample count or query minimum;
- the value is the key of `result_keys` (the mean latency for SingleStream);
- the accuracy score is held to the target only for the round's
  `accuracy_target_benchmarks` (the others are reported as read: an info finding says so);
- the benchmark must be one the round allows from the endpoints harness;
- README.md and measurements.json are required, user.conf is not.

Two checks of ours go further (README, "Results of the endpoints harness"): failed
samples in the performance run refuse the result, as a LoadGen error does; and the
accuracy is the score of a data set of type accuracy (the official checker takes the
first score listed, of whatever data set).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlperf_ops.check.official_value import MS_PER_S, NS_PER_MS, TOKENS_PER_S, canonical_scenario, unit_for
from mlperf_ops.check.scenario import (
    SCENARIO_FILES, SCENARIO_OPTIONAL, ScenarioCtx, ScenarioOutcome, as_number, check_compliance_with, check_files,
    check_extra_accuracy_files, check_network_sut_name, compliance_fail_rule, read_bytes, token_latency_findings,
)
from mlperf_ops.check.endpoints_log import EndpointsLog, read_endpoints
from mlperf_ops.core.tree_layout import ENDPOINTS_FILES
from mlperf_ops.rules import EndpointsRules
from mlperf_ops.core.tree_files import read_tree_file

AUDIT_DIR = "audit"
# the scenarios whose value is a latency (reported in ms, or s for `latency_in_seconds`)
LATENCY_SCENARIOS = ("SingleStream", "MultiStream")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """A JSON number as read (an int stays one), or None: text such as "600000" fails the
    official comparisons, a flag is no number."""
    return value if _is_number(value) else None


def run_scenario(config_type: str, folder: str) -> str:
    """The scenario the run stands for: the folder's for SingleStream and Interactive,
    Server for the harness's `online` type, else the type as written (compared without case)."""
    if folder.lower() == "singlestream":
        return "SingleStream"
    if folder.lower() == "interactive" or config_type.lower() == "interactive":
        return "Interactive"
    if config_type.lower() == "online":
        return "Server"
    return config_type


def _load_json(ctx: ScenarioCtx, path: Path) -> dict[str, Any] | None:
    data = read_bytes(ctx, path)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as error:
        ctx.add("perf.endpoints-unreadable", path, f"{path.name} is not JSON ({str(error)[:120]})")
        return None
    if not isinstance(doc, dict):
        ctx.add("perf.endpoints-unreadable", path, f"{path.name} is not a JSON object")
        return None
    return doc


def parse_config(data: bytes) -> Any:
    """The harness's configuration, read by the bounded YAML reader of manifests (an alias
    bomb or a 100,000-deep nesting in a tree is refused, not expanded); ValueError when it
    cannot be read."""
    import yaml

    from mlperf_ops.yamlfile.compose import Refused, compose
    from mlperf_ops.yamlfile.construct import construct

    try:
        node = compose(data.decode("utf-8"))
        return None if node is None else construct(node)
    except (UnicodeDecodeError, Refused, yaml.YAMLError, RecursionError) as error:
        raise ValueError(str(error)[:120]) from None


def config_path(scenario_dir: Path, tables: EndpointsRules) -> Path | None:
    return next((scenario_dir / n for n in tables.config_files if (scenario_dir / n).is_file()), None)


def _load_config(ctx: ScenarioCtx, tables: EndpointsRules) -> Any:
    path = config_path(ctx.path, tables)
    if path is None:
        ctx.add("files.missing", ctx.path / tables.config_files[0],
                f"{tables.config_files[0]} (the endpoints harness's configuration) is missing")
        return None
    data = read_bytes(ctx, path)
    if data is None:
        return None
    try:
        config = parse_config(data)
    except ValueError as error:
        ctx.add("perf.endpoints-unreadable", path, f"{path.name} cannot be read as YAML ({error})")
        return None
    if not isinstance(config, dict) or not config:
        # no scenario, seeds or duration to read: the official checker reads none and refuses
        ctx.add("perf.endpoints-unreadable", path, f"{path.name} holds no settings (empty, or not a mapping)")
        return None
    return config


def csv_reading(tables: EndpointsRules, scenario_dir: Path) -> tuple[Any, Any]:
    """What the official summary CSV reads of an accepted endpoints result beside its value:
    the configuration's type (the run's scenario as logged) and the first accuracy score."""
    path = config_path(scenario_dir, tables)
    try:
        config = parse_config(read_tree_file(path)) if path is not None else None
        scores = json.loads(read_tree_file(scenario_dir / tables.accuracy_file))
    except (OSError, ValueError, RecursionError):
        return None, None
    perf = read_endpoints({}, config, tables, "performance")
    acc = read_endpoints(scores, config, tables, "accuracy")
    return perf.values.get("effective_scenario"), (acc.accuracy_dataset_scores or (None,))[0]


def _missing(ctx: ScenarioCtx, where: Path, key: str, what: str) -> None:
    ctx.add("perf.missing-key", where, f"the endpoints run has no {key} ({what})")


def check_endpoints_performance(ctx: ScenarioCtx, out: ScenarioOutcome, perf: EndpointsLog, where: Path,
                                config_path: Path) -> str | None:
    """The performance run's checks and value; returns the scenario the run stands for."""
    bench, rules, values = ctx.bench, ctx.rules, perf.values
    config_type = values.get("effective_scenario")
    if not isinstance(config_type, str):
        _missing(ctx, config_path, "scenario", "the configuration's `type`")
        return None
    scenario = run_scenario(config_type, ctx.scenario)
    if scenario.lower() != ctx.scenario.lower() and (scenario.lower(), ctx.scenario.lower()) != ("server", "interactive"):
        # an edge folder inferred from a run of another scenario is not read from this format
        ctx.add("perf.scenario-mismatch", config_path,
                f"the endpoints run's type {config_type!r} is {scenario}, the directory says {ctx.scenario}")
    failed = values.get("num_errors")
    if _is_number(failed) and failed:
        total = values.get("result_query_count")
        ctx.add("perf.endpoints-failed", where,
                f"{failed:g} of {total if total is not None else '?'} samples failed in the performance run")
    for name in ("sample_index_rng_seed", "schedule_rng_seed"):
        found, expected = values.get(f"effective_{name}"), rules.seeds[name]
        # exactly, as numbers: a seed is ~2^63, beyond a float's precision
        if not (_is_number(found) and found == expected):
            ctx.add("perf.seed-mismatch", config_path,
                    f"{name} is {found!r}, round {rules.round} needs {expected}")
    if bench.min_duration_applies:
        duration = _number(values.get("effective_min_duration_ms"))
        if duration is None:
            _missing(ctx, config_path, "min_duration_ms", "settings.runtime.min_duration_ms")
        elif duration < rules.min_duration_ms:
            ctx.add("perf.min-duration", config_path,
                    f"min_duration is {duration / 1000:g} s, a valid result needs {rules.min_duration_ms / 1000:g} s",
                    ctx.duration_severity)
    if bench.name in rules.llm_benchmarks:
        token_latency_findings(ctx, values, where, scenario)
    else:
        folder = canonical_scenario(ctx.scenario)
        bound_ms = {"Server": bench.server_target_latency_ms,
                    "Interactive": bench.interactive_target_latency_ms}.get(folder or "")
        p99 = _number(values.get("result_99.00_percentile_latency_ns"))
        if bound_ms and p99 is None:
            _missing(ctx, where, "99th-percentile latency", "latency.early_stopping_percentiles.99.0")
        elif bound_ms and p99 is not None and p99 > bound_ms * NS_PER_MS:
            ctx.add("perf.latency-bound", where,
                    f"99th-percentile latency {p99 / NS_PER_MS:g} ms is above the bound of {bound_ms:g} ms")
    check_network_sut_name(ctx, values, where)
    _value(ctx, out, values, scenario, where)
    return scenario


def _value(ctx: ScenarioCtx, out: ScenarioOutcome, values: dict[str, Any], scenario: str, where: Path) -> None:
    """The result's value in the official unit (the official order of operations)."""
    tables, rules, bench = ctx.rules.endpoints, ctx.rules, ctx.bench
    assert tables is not None
    unit = unit_for(rules, bench.name, ctx.scenario)
    key = {k.lower(): v for k, v in tables.result_keys.items()}.get(scenario.lower())
    key = rules.result_keys.get(bench.name, {}).get(scenario, key)
    if unit == TOKENS_PER_S and tables.token_result_key and scenario not in LATENCY_SCENARIOS:
        # tokens/s as MLCommons published it; the official checker writes samples/s for
        # Offline and Interactive under this unit (README, "Results of the endpoints harness")
        key = tables.token_result_key
    out.metric, out.unit = key, unit
    raw = _number(values.get(key)) if key else None
    if raw is None and key == tables.token_result_key:
        # the official checker falls back on samples/s here: a value this result does not have
        ctx.add("perf.missing-key", where, f"the endpoints run has no tokens per second (`tps`): the value of an "
                                           f"LLM's {ctx.scenario} result is in {unit}")
        return
    if raw is None:
        _missing(ctx, where, f"value {key}", f"the {scenario} result")
        return
    out.value = value = float(raw)
    if scenario in LATENCY_SCENARIOS:
        value /= NS_PER_MS
        if bench.name in rules.latency_in_seconds:
            value /= MS_PER_S
    out.official_value = value


def _numeric_score(score: Any, metrics: tuple[str, ...]) -> float | None:
    """A score to compare with a target: a number, a number's text, or a mapping's first
    such entry named after a metric (F1_HIERARCHICAL, f1_hierarchical, hierarchical) or f1,
    score, accuracy."""
    if not isinstance(score, dict):
        return as_number(score)
    names = [n for m in metrics for n in (m, m.lower(), m.split("_")[-1].lower())] + ["f1", "score", "accuracy"]
    return next((number for name in names if (number := as_number(score.get(name))) is not None), None)


def check_endpoints_accuracy(ctx: ScenarioCtx, out: ScenarioOutcome, acc: EndpointsLog, where: Path) -> None:
    tables = ctx.rules.endpoints
    assert tables is not None
    failed = acc.values.get("num_errors")
    if _is_number(failed) and failed:
        ctx.add("acc.invalid", where, f"the accuracy run reports {failed:g} failed samples")
    if not acc.accuracy_dataset_scores:
        # the official checker reads the first score of any data set: a performance data
        # set's score is no accuracy (ours refuses it, README)
        other = f" (the first, {json.dumps(acc.accuracy_scores[0])[:60]}, is of another data set)" if (
            acc.accuracy_scores) else ""
        ctx.add("acc.missing", where, f"{where.name} holds no score of an accuracy data set{other}")
    else:
        score = acc.accuracy_dataset_scores[0]
        out.accuracy = f"score={score:g}" if _is_number(score) else f"score={json.dumps(score)[:200]}"
        if ctx.division != "open":
            _score_against_target(ctx, score, where)
    expected = ctx.bench.dataset_size_for(ctx.scenario)
    count = acc.values.get("effective_accuracy_sample_count", acc.values.get("qsl_reported_total_count"))
    if not _is_number(count) or count != expected:
        ctx.add("acc.dataset-size", where,
                f"the accuracy run covered {count} samples; {ctx.bench.name} needs exactly {expected}")
    check_extra_accuracy_files(ctx, where.parent)


def _score_against_target(ctx: ScenarioCtx, score: Any, where: Path) -> None:
    tables = ctx.rules.endpoints
    assert tables is not None
    targets = ctx.bench.accuracy_for(ctx.scenario)
    if ctx.bench.name not in tables.accuracy_target_benchmarks or not targets:
        ctx.add("acc.endpoints-score", where,
                f"round {ctx.rules.round} holds no {ctx.bench.name} score of the endpoints harness to a target: "
                "reported as read", "info")
        return
    numeric = _numeric_score(score, tuple(t.metric for t in targets))
    if numeric is None:
        ctx.add("acc.pattern", where, f"the accuracy score {json.dumps(score)[:120]} holds no number to compare")
    elif numeric < targets[0].target:
        ctx.add("acc.target", where, f"{targets[0].metric} {numeric:g} is below the target {targets[0].target:g}")


def _check_audits(ctx: ScenarioCtx, perf: EndpointsLog | None) -> None:
    """The compliance tests, as the endpoints harness records them: audit/audit_<name>.json
    with the test's name and `passed`; TEST09 from the run's mean output length."""
    tables = ctx.rules.endpoints
    assert tables is not None
    for test in ctx.bench.compliance_tests:
        name = tables.audit_files.get(test)
        fail_rule = compliance_fail_rule(test)
        if name is not None:
            path = ctx.path / AUDIT_DIR / f"audit_{name}.json"
            if not path.is_file():
                if test in tables.required_audits:
                    ctx.add("compliance.missing", path, f"{test} ({AUDIT_DIR}/{path.name}) is required for {ctx.bench.name}")
                continue
            data = read_bytes(ctx, path)
            try:
                doc = json.loads(data or b"")
            except (ValueError, RecursionError):
                doc = None
            if not isinstance(doc, dict) or "test" not in doc or "passed" not in doc:
                ctx.add(fail_rule, path, f"{test}: {path.name} is no audit record (JSON with test and passed)")
            elif doc["test"] != name:
                ctx.add(fail_rule, path, f"{test}: {path.name} records the test {doc['test']!r}, not {name!r}")
            elif not doc["passed"]:
                ctx.add(fail_rule, path, f"{test}: {path.name} says it did not pass")
        if test == "TEST09" and perf is not None:
            bounds = ctx.rules.audit_tests["TEST09"].per_benchmark.get(ctx.bench.name, {}) if (
                "TEST09" in ctx.rules.audit_tests) else {}
            low, high = bounds.get("test09_min_output_tokens"), bounds.get("test09_max_output_tokens")
            mean = _number(perf.values.get("mean_output_tokens"))
            if low is None or high is None:
                continue
            if mean is None:
                _missing(ctx, ctx.path / tables.performance_file, "mean output length", "output_sequence_lengths.avg")
            elif not float(low) <= mean <= float(high):
                ctx.add("compliance.test-fail", ctx.path / tables.performance_file,
                        f"TEST09: the mean output length {mean:g} is outside [{low}, {high}]")


def check_endpoints_result(ctx: ScenarioCtx) -> ScenarioOutcome:
    out = ScenarioOutcome(log_format="endpoints")
    tables = ctx.rules.endpoints
    if tables is None:
        ctx.add("perf.endpoints-format", ctx.path / ENDPOINTS_FILES[0],
                f"a result of the MLCommons endpoints harness (result_summary.json, no LoadGen logs): round "
                f"{ctx.rules.round} has no such results; `check --official CHECKOUT` gives the official verdict")
        return out
    known = {*SCENARIO_FILES, *SCENARIO_OPTIONAL, *tables.config_files, "performance", "accuracy", AUDIT_DIR}
    for entry in sorted(ctx.path.iterdir()):
        if entry.name in known or entry.name.startswith(("TEST", ".")):
            continue
        kind = "tree.stray-dir" if entry.is_dir() else "tree.stray-entry"
        ctx.add(kind, entry, f"unexpected {'directory' if entry.is_dir() else 'file'} {entry.name} in a scenario",
                "warning")
    if not ctx.bench.endpoints_allowed:
        ctx.add("perf.endpoints-model", ctx.path / tables.performance_file,
                f"round {ctx.rules.round} does not take {ctx.bench.name} results from the endpoints harness")
    # the endpoints harness writes no LoadGen user.conf; the official check asks none
    check_files(ctx, tuple(n for n in SCENARIO_FILES if n != "user.conf"))
    config = _load_config(ctx, tables)
    config_file = config_path(ctx.path, tables) or ctx.path / tables.config_files[0]
    perf_path, acc_path = ctx.path / tables.performance_file, ctx.path / tables.accuracy_file
    perf_doc = _load_json(ctx, perf_path)
    perf = read_endpoints(perf_doc, config, tables, "performance") if perf_doc is not None else None
    check_compliance_with(ctx, lambda: _check_audits(ctx, perf))
    # without the configuration (a finding already) the scenario, seeds and duration are unknown
    if perf is not None and config is not None:
        check_endpoints_performance(ctx, out, perf, perf_path, config_file)
    acc_doc = _load_json(ctx, acc_path) if (ctx.path / "accuracy").is_dir() else None
    if acc_doc is None and not (ctx.path / "accuracy").is_dir():
        ctx.add("acc.missing", acc_path, f"{tables.accuracy_file} is missing")
    if acc_doc is not None:
        check_endpoints_accuracy(ctx, out, read_endpoints(acc_doc, config, tables, "accuracy"), acc_path)
    return out
