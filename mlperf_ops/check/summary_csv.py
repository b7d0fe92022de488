"""`check --csv FILE`: the summary CSV the official checker writes, one row per accepted
result (two for a power result: the second with its power metric).

Pipelines that collect results (the results tables, a vendor's dashboard) read that
file, so the columns, their order, the quoting and the formatting of values are the
official ones (README, "check --csv"), down to its quirks: every value quoted and none
escaped, the accuracy column a flattened `metric: value` list, `inferred` comparing the
folder name with the log's scenario as spelled (a lower-case `multistream` folder reads
as inferred). Values are the ones our checker computed (`ResultRow.official_value`); the
rest comes from the files the official checker reads for the row.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlperf_ops.check.accuracy_txt import read_accuracy_txt
from mlperf_ops.check.findings import CheckReport, ResultRow
from mlperf_ops.check.measurements import measurements_json_path
from mlperf_ops.check.official_value import canonical_scenario
from mlperf_ops.check.power_value import POWER_UNITS, design_power_watts, power_metric
from mlperf_ops.core.loadgen_log import parse_detail
from mlperf_ops.rules import Rules, load_rules
from mlperf_ops.core.tree_layout import DETAIL
from mlperf_ops.core.tree_files import read_tree_text

COLUMNS = (
    "Organization", "Availability", "Division", "SystemType", "SystemName", "Platform", "Model",
    "MlperfModel", "Scenario", "Result", "Accuracy", "number_of_nodes", "host_processor_model_name",
    "host_processors_per_node", "host_processor_core_count", "accelerator_model_name",
    "accelerators_per_node", "total_accelerators", "Location", "framework", "operating_system", "notes",
    "compliance", "errors", "version", "inferred", "has_power", "Units", "weight_data_types",
    "design_power_watts", "PrivateID",
)
# system-description keys copied as they are
_SYSTEM_COLUMNS = {
    "Availability": "status", "SystemType": "system_type", "SystemName": "system_name",
    "number_of_nodes": "number_of_nodes", "host_processor_model_name": "host_processor_model_name",
    "host_processors_per_node": "host_processors_per_node",
    "host_processor_core_count": "host_processor_core_count",
    "accelerator_model_name": "accelerator_model_name", "accelerators_per_node": "accelerators_per_node",
    "framework": "framework", "operating_system": "operating_system",
}
_FLATTEN = str.maketrans({",": " ", '"': None, "{": None, "}": None})


def _json(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        doc = json.loads(read_tree_text(path))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _text(value: Any) -> str:
    """A value as the official CSV prints it (Python's str of the JSON value)."""
    return "" if value is None else str(value)


def _accuracy(rules: Rules, row: ResultRow, scenario_dir: Path) -> str:
    """`ROUGE1: 38.8  ROUGE2: 16.0`: each metric's text as accuracy.txt has it, in the
    order the lines first name them (a later line naming a metric again updates its value,
    up to where the official reading of the file stops: accuracy_txt)."""
    if row.official_benchmark is None or row.official_benchmark not in rules.benchmarks:
        return ""
    try:
        text = read_tree_text(scenario_dir / "accuracy" / "accuracy.txt", errors="replace")
    except OSError:
        return ""
    targets = rules.benchmarks[row.official_benchmark].accuracy_for(row.scenario)
    reading = read_accuracy_txt(text, targets)
    found = {targets[i].metric: reading.values[i][-1] for i in reading.order}
    return json.dumps(found).translate(_FLATTEN).strip()


def _notes(system: dict[str, Any]) -> str:
    notes = _text(system.get("hw_notes", ""))
    sw = system.get("sw_notes")
    if sw:
        notes = (notes + ". " if notes else "") + _text(sw)
    return notes


def _total_accelerators(system: dict[str, Any]) -> str:
    try:
        return str(int(system["number_of_nodes"]) * int(system["accelerators_per_node"]))
    except (KeyError, TypeError, ValueError):
        return ""


def _detail_values(run_dir: Path) -> dict[str, Any]:
    try:
        return parse_detail(run_dir / DETAIL).values
    except OSError:
        return {}


def _design_power(rules: Rules, root: Path, row: ResultRow, system: dict[str, Any], has_power: bool) -> str:
    """The design_power_watts column: empty where the round has no nameplate file, "None"
    (as the official CSV prints it) for a result without power or without a nameplate."""
    if not rules.nameplate_power_file:
        return ""
    if not has_power:
        return "None"
    if "system_power_capacity" in system:
        return _text(system["system_power_capacity"])
    path = root / row.division / row.submitter / "systems" / rules.nameplate_power_file.format(system=row.system)
    import yaml  # only for a power result of a round with nameplates

    try:
        return _text(design_power_watts(yaml.safe_load(read_tree_text(path))))
    except (OSError, ValueError, yaml.YAMLError):
        return "None"


def summary_row(report: CheckReport, rules: Rules, row: ResultRow) -> list[dict[str, str]]:
    """The CSV row(s) of one accepted result: two for a power result."""
    root = Path(report.root)
    scenario_dir = root / row.path
    folder = row.path.rsplit("/", 1)[-1]
    system = _json(root / row.division / row.submitter / "systems" / f"{row.system}.json")
    run_dir = scenario_dir / "performance" / "run_1"
    values = _detail_values(run_dir) if row.log_format == "LoadGen" else {}
    logged = values.get("effective_scenario")
    if row.log_format == "endpoints" and rules.endpoints is not None:
        from mlperf_ops.check.endpoints import csv_reading

        # the harness's own scenario name (`online`) and its score as the JSON holds it
        logged, score = csv_reading(rules.endpoints, scenario_dir)
        accuracy = json.dumps(score).translate(_FLATTEN).strip()
    else:
        accuracy = _accuracy(rules, row, scenario_dir)
    logged = logged if isinstance(logged, str) else ""
    has_power = (run_dir.parent / "power").exists()
    out = {column: "" for column in COLUMNS}
    out.update({column: _text(system.get(key)) for column, key in _SYSTEM_COLUMNS.items()})
    out.update({
        "Organization": row.submitter,
        "Division": row.division,
        "Platform": row.system,
        "Model": row.benchmark,
        "MlperfModel": row.official_benchmark or "",
        "Scenario": folder,
        "Result": _text(row.official_value),
        "Accuracy": accuracy,
        "total_accelerators": _total_accelerators(system),
        # the run's folder as the checker was given the tree (not resolved)
        "Location": os.path.join(report.root, row.path, "performance", "run_1"),
        "notes": _notes(system),
        "compliance": row.division,
        "errors": "0",
        "version": rules.round,
        "inferred": "1" if folder != logged and (logged, folder) != ("server", "interactive") else "0",
        "has_power": str(has_power),
        "Units": row.unit or "",
        "weight_data_types": _text(_json(measurements_json_path(rules.layout, scenario_dir)).get("weight_data_types")),
        "design_power_watts": _design_power(rules, root, row, system, has_power),
    })
    rows = [out]
    if has_power:
        # a power result has a second row: the same with the power metric and its unit
        power = power_metric(run_dir, folder, values)
        scenario = canonical_scenario(folder) or folder
        rows.append({**out, "Result": _text(power), "Units": POWER_UNITS.get(scenario, "")})
    return rows


def summary_rows(report: CheckReport) -> list[dict[str, str]]:
    """One row per accepted result, in the official order (each path level sorted)."""
    rules = load_rules(report.round)
    accepted = sorted((r for r in report.results if r.valid), key=lambda r: r.path.split("/"))
    return [line for r in accepted for line in summary_row(report, rules, r)]


def render(rows: list[dict[str, str]]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [",".join(f'"{row.get(column, "")}"' for column in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def write_summary_csv(report: CheckReport, path: Path) -> int:
    """Write the summary CSV of `report` to `path`; the number of rows written."""
    rows = summary_rows(report)
    Path(path).write_text(render(rows), encoding="utf-8")
    return len(rows)


def _rows_relative(text: str, root: str) -> list[str]:
    """The CSV's data lines with the tree's own path cut from Location."""
    prefix = '"' + root.rstrip("/") + "/"
    return [line.replace(prefix, '"', 1) for line in text.splitlines()[1:] if line]


def _without_result(line: str) -> tuple[str, str, str]:
    """(the row without its Result, its Result, its Location): the official quoting puts
    every value in quotes and escapes none, so the fields are split at '","'."""
    fields = line.strip()[1:-1].split('","')
    if len(fields) != len(COLUMNS):
        return line, "", ""
    result, location = COLUMNS.index("Result"), COLUMNS.index("Location")
    return '","'.join(fields[:result] + fields[result + 1:]), fields[result], fields[location]


def compare_with_official(ours: str, our_root: str, official: list[tuple[str, str]]) -> list[str]:
    """What differs between our CSV and the official checker's (one CSV per submitter
    run, each with the root it was given); [] when they agree row for row. A row whose only
    difference is its Result is named once, with both values (an endpoints LLM result:
    ours is the published tokens/s, README)."""
    mine = sorted(_rows_relative(ours, our_root))
    theirs = sorted(line for text, root in official for line in _rows_relative(text, root))
    if mine == theirs:
        return []
    only_ours = [line for line in mine if line not in theirs]
    only_theirs = [line for line in theirs if line not in mine]
    theirs_by_rest = {_without_result(line)[0]: line for line in only_theirs}
    values: list[str] = []
    for line in list(only_ours):
        rest, value, location = _without_result(line)
        twin = theirs_by_rest.pop(rest, None) if location else None
        if twin is not None:
            only_ours.remove(line)
            only_theirs.remove(twin)
            values.append(f"Result of {location}: ours {value}, the official CSV {_without_result(twin)[1]}")
    return (values + [f"only in ours: {line}" for line in only_ours]
            + [f"only in the official CSV: {line}" for line in only_theirs])
