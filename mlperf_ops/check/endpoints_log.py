"""A result of the MLCommons endpoints harness, read onto LoadGen's keys.

The endpoints harness (a result format new in v6.1) writes no LoadGen logs. Its run leaves
a JSON file per mode (performance/result_summary.json, accuracy/accuracy_results.json)
and the harness's configuration (config.yaml) in the scenario folder. The official
checker reads these onto the keys of a LoadGen detail log with tables of the round (rules
data: `endpoints`), then judges them mostly as it judges a LoadGen log. This module does
that reading, in the same order of lookups, so that every check reads the value the
official one reads. It is pure: the caller reads and parses the files.

The order, for each (dotted path, LoadGen key) of the round's table: the path in the
run's JSON file, then the path the table gives instead (`json_fallback`), then the path
in the configuration (`config_paths`), then the path itself there. The first LoadGen
value found is the one read (the official reader keeps them all and reads the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mlperf_ops.rules import EndpointsRules

Mode = Literal["performance", "accuracy"]

# a JSON number, not a flag (True is an int to Python)
_NUMBER = (int, float)


def lookup(data: Any, dotted: str) -> Any:
    """The value at a dotted path of nested mappings, or None.

    A key may hold dots itself ("99.9" in a percentile table): at each level the longest
    run of the remaining parts that names a key wins. A last part "0" after a value that
    is no mapping is taken as read: "50.0" finds a percentile stored under "50". An empty
    mapping or list counts as absent."""
    if not isinstance(data, dict):
        return None
    parts = dotted.split(".")
    current: Any = data
    i = 0
    while i < len(parts):
        if not isinstance(current, dict):
            if parts[i:] == ["0"] and not isinstance(current, list):
                return current
            return None
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in current:
                current, i = current[candidate], j
                break
        else:
            return None
    if isinstance(current, (dict, list)) and not current:
        return None
    return current


def _resolve(path: str, run: dict[str, Any], config: Any, tables: EndpointsRules) -> Any:
    value = lookup(run, path)
    if value is None and path in tables.json_fallback:
        value = lookup(run, tables.json_fallback[path])
    if value is not None:
        return value
    if path in tables.config_paths:
        value = lookup(config, tables.config_paths[path])
        if value is not None:
            return value
    return lookup(config, path)


def accuracy_sample_count(run: dict[str, Any]) -> int | None:
    """The samples the accuracy run scored: the sum over its data sets of type accuracy
    (gpt-oss-120b has three), each its `total_samples` or else its issued responses."""
    counts = []
    scores = run.get("accuracy_scores")
    for result in scores if isinstance(scores, list) else ():
        if not isinstance(result, dict) or result.get("dataset_type") not in (None, "accuracy"):
            continue
        responses = result.get("response_counts")
        issued = responses.get("issued") if isinstance(responses, dict) else None
        count = result.get("total_samples")
        count = issued if count is None else count
        if isinstance(count, _NUMBER) and not isinstance(count, bool):
            counts.append(int(count))
        elif isinstance(count, str) and count.strip().lstrip("+-").isdigit():
            counts.append(int(count))
    return sum(counts) if counts else None


@dataclass(frozen=True)
class EndpointsLog:
    """One mode's reading: LoadGen key -> value, as a detail log's `values` are."""

    values: dict[str, Any]
    # every data set's score in order: the official checker reads the first as the accuracy
    accuracy_scores: tuple[Any, ...] = ()
    # the scores of the data sets of type accuracy (the ones the sample count sums)
    accuracy_dataset_scores: tuple[Any, ...] = ()


def read_endpoints(run: Any, config: Any, tables: EndpointsRules, mode: Mode) -> EndpointsLog:
    """The LoadGen keys of one mode of an endpoints result: `run` is its parsed JSON file
    (anything but a mapping reads as an empty one), `config` the parsed configuration."""
    run = run if isinstance(run, dict) else {}
    values: dict[str, Any] = {}
    for path, key in tables.keys:
        value = _resolve(path, run, config, tables)
        if value is not None:
            values.setdefault(key, value)
    if mode == "accuracy":
        count = accuracy_sample_count(run)
        if count is not None:
            values["effective_accuracy_sample_count"] = count
            values.setdefault("qsl_reported_total_count", count)
    # what was read so far decides the derived values (the official reader looks them up
    # in the keys it had before adding any)
    read = dict(values)
    for key, source in tables.inferred_keys.items():
        if read.get(source) is not None:
            values.setdefault(key, read[source])
    duration, count, scenario = (read.get(k) for k in ("generated_query_duration", "generated_query_count",
                                                        "effective_scenario"))
    if (isinstance(duration, _NUMBER) and isinstance(count, _NUMBER) and isinstance(scenario, str)
            and duration and count and scenario):
        # a throughput the run did not write: samples over seconds
        key = "result_samples_per_second" if scenario.lower() == "offline" else "result_completed_samples_per_sec"
        values.setdefault(key, count / (duration / 1e9))
    listed = run.get("accuracy_scores")
    scored = [r for r in (listed if isinstance(listed, list) else ()) if isinstance(r, dict) and r.get("score") is not None]
    return EndpointsLog(
        values,
        tuple(r["score"] for r in scored),
        tuple(r["score"] for r in scored if r.get("dataset_type") in (None, "accuracy")),
    )
