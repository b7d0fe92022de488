"""Our LoadGen detail-log reader against the official checker's, on odd logs.

tests/data/detail_logs/cases.json holds logs written for this test (blank lines, line
breaks that are not "\\n", events over two lines, keys that are not strings, bytes that are
not UTF-8, ...) and, recorded by `scripts/record_official_verdicts.py --logs` from a
mlcommons/inference checkout, what the official reader (LoadgenParser, the one the v6.x
checker reads every detail log with) did with each: refused the log, or read which keys
with which first values. Ours must refuse the same logs and read the same values, from
the bytes as `check` reads them and from the text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.core.loadgen_log import DetailLog, parse_detail_bytes, parse_detail_text
from tests.support.official_reader import plain

CASES = json.loads((Path(__file__).resolve().parent / "data" / "detail_logs" / "cases.json").read_text())


def outcome(log: DetailLog) -> dict[str, Any]:
    if log.malformed_lines:
        return {"read": False}
    return {"read": True, "first_values": {key: plain(value) for key, value in log.values.items()}}


def official(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case["official"].items() if k != "why"}


def test_the_cases_were_recorded_by_the_official_reader() -> None:
    assert CASES["checker"]["repo"] == "mlcommons/inference" and CASES["checker"]["commit"]
    assert len(CASES["cases"]) >= 50
    assert all("official" in case for case in CASES["cases"])
    # both outcomes occur: a reader that refused everything (or nothing) would not pass
    assert {case["official"]["read"] for case in CASES["cases"]} == {True, False}


@pytest.mark.parametrize("case", CASES["cases"], ids=[case["name"] for case in CASES["cases"]])
def test_our_reader_reads_a_log_as_the_official_one(case: dict[str, Any]) -> None:
    data = case["bytes"].encode("latin-1")
    assert outcome(parse_detail_bytes(data)) == official(case)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the official reader refuses the bytes before any line; the text has no such log
    assert outcome(parse_detail_text(text)) == official(case)
