"""Our reading of the endpoints harness's files against the official checker's reader.

tests/data/endpoints_logs/cases.json holds scenario folders written for this test (a
percentile stored under "50" rather than "50.0", a null or empty table, a throughput the run
did not write, the run's JSON beside the configuration, keys with dots, several accuracy
data sets, ...) and, first, a published result of the corpus (Atlas_Inference's
qwen3.6-27b). `scripts/record_official_verdicts.py CHECKOUT --endpoints` recorded what the
official reader (EndpointsParser at b66003e1) read of each in both modes: every LoadGen key
with its first value. Ours must read the same keys with the same values, from the files
parsed as `check` parses them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.check.endpoints import parse_config
from mlperf_ops.check.endpoints_log import lookup, read_endpoints
from mlperf_ops.rules import load_rules
from tests.support.official_reader import plain

HERE = Path(__file__).resolve().parent
DOC = json.loads((HERE / "data" / "endpoints_logs" / "cases.json").read_text())
TABLES = load_rules("v6.1").endpoints
CORPUS = HERE / "data" / "real_trees"
FILES = {"result_summary": "performance/result_summary.json", "accuracy_results": "accuracy/accuracy_results.json",
         "config": "config.yaml"}


def _texts(case: dict[str, Any]) -> dict[str, str]:
    if "corpus_result" in case:
        folder = CORPUS / case["corpus_result"]
        return {name: (folder / path).read_text("utf-8") for name, path in FILES.items() if (folder / path).is_file()}
    return {name: case[name] for name in FILES if name in case}


def ours(case: dict[str, Any], mode: str) -> dict[str, Any]:
    texts = _texts(case)
    config = parse_config(texts["config"].encode()) if "config" in texts else None
    name = "result_summary" if mode == "performance" else "accuracy_results"
    run = json.loads(texts[name]) if name in texts else None
    assert TABLES is not None
    log = read_endpoints(run, config, TABLES, mode)  # type: ignore[arg-type]
    read = dict(log.values)
    if log.accuracy_scores:
        read["accuracy_score"] = log.accuracy_scores[0]
    return {key: plain(value) for key, value in read.items()}


def test_the_cases_were_recorded_by_the_official_reader() -> None:
    assert DOC["checker"]["commit"] == "b66003e10e2db4b8c36a448b0545ec90fcc6e9e9"
    assert all(set(case["official"]) == {"performance", "accuracy"} for case in DOC["cases"])
    # the published result is among them, and the official reader read it in both modes
    published = DOC["cases"][0]
    assert "corpus_result" in published and all(o["read"] for o in published["official"].values())
    assert len(published["official"]["performance"]["first_values"]) > 30


@pytest.mark.parametrize("mode", ["performance", "accuracy"])
@pytest.mark.parametrize("case", DOC["cases"], ids=[c["name"] for c in DOC["cases"]])
def test_reads_what_the_official_reader_reads(case: dict[str, Any], mode: str) -> None:
    official = case["official"][mode]
    assert official["read"], official
    assert ours(case, mode) == official["first_values"]


def test_the_published_result_reads_its_real_values() -> None:
    """What the checks judge of the published result, as its files say it."""
    performance = ours(DOC["cases"][0], "performance")
    assert performance["effective_scenario"] == "online"
    assert performance["effective_schedule_rng_seed"] == 16159082839903944936
    assert performance["result_mean_latency_ns"] == pytest.approx(7058989199.685204)
    assert performance["num_errors"] == 0
    accuracy = ours(DOC["cases"][0], "accuracy")
    assert accuracy["effective_accuracy_sample_count"] == 995
    assert accuracy["accuracy_score"] == pytest.approx(0.8623115577889447)


@pytest.mark.parametrize("data,path,expected", [
    ({"a": {"99.9": 1}}, "a.99.9", 1),  # a key with a dot: the longest run of parts wins
    ({"a": {"50": 4}}, "a.50.0", 4),  # "50.0" finds a value stored under "50"
    ({"a": {"50": {"x": 1}}}, "a.50.0", None),  # ... not a mapping stored there
    ({"a": {}}, "a", None),  # an empty mapping is absent
    ({"a": []}, "a", None),
    ({"a": 0}, "a", 0),  # a zero is a value
    ({"a": None}, "a", None),
    (["a"], "a", None),  # not a mapping at all
    ({"a.b": {"c": 2}, "a": {"b": {"c": 3}}}, "a.b.c", 2),
])
def test_lookup(data: Any, path: str, expected: Any) -> None:
    assert lookup(data, path) == expected
