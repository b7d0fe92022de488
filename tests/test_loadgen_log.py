"""LoadGen detail logs read at once (one JSON array) decide exactly as line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlperf_ops.core import loadgen_log
from mlperf_ops.core.loadgen_log import DetailLog, parse_detail_text

CORPUS = Path(__file__).resolve().parent / "data" / "real_trees"
REAL_LOGS = sorted(CORPUS.glob("*/tree/*/*/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))


def line_by_line(text: str, monkeypatch: pytest.MonkeyPatch) -> DetailLog:
    with monkeypatch.context() as patch:
        patch.setattr(loadgen_log, "_events_at_once", lambda lines, wanted=None: None)
        return parse_detail_text(text)


def test_real_logs_read_at_once_as_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(REAL_LOGS) >= 10
    for path in REAL_LOGS:
        text = path.read_text("utf-8", errors="replace")
        assert loadgen_log._events_at_once(text.splitlines()) is not None, path  # the fast path ran
        fast = parse_detail_text(text)
        assert fast == line_by_line(text, monkeypatch), path
        assert fast.values.get("result_validity") or fast.values.get("effective_scenario"), path


GOOD = ':::MLLOG {"key": "a", "value": 1}'
ERROR = ':::MLLOG {"key": "error_x", "value": "bad", "metadata": {"is_error": true}}'
WARN = ':::MLLOG {"key": "w", "value": "hm", "metadata": {"is_warning": true}}'


@pytest.mark.parametrize("text", [
    "",
    "\n".join([GOOD, ERROR, WARN, GOOD.replace("1", "2")]),
    "\n".join([GOOD, "", ERROR]),  # a blank line
    "\n".join([GOOD, "garbage", ERROR]),  # a foreign line
    "\n".join([GOOD + "," + GOOD, ERROR]),  # two objects on one line
    "\n".join([':::MLLOG {"key": "a", "value": [1', ':::MLLOG 2]}', WARN]),  # one object over two lines
    "\n".join([":::MLLOG", GOOD]),  # a prefix with nothing after it
    "\n".join([':::MLLOG {"value": 1}', ":::MLLOG [1]", GOOD]),  # no key; not an object
    "\n".join([GOOD + "]", ":::MLLOG [" + GOOD[9:]]),  # brackets that would close the array early
])
def test_odd_logs_read_as_line_by_line(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_detail_text(text) == line_by_line(text, monkeypatch)


def test_malformed_lines_keep_their_numbers() -> None:
    log = parse_detail_text("\n".join([GOOD, "garbage", GOOD + "," + GOOD, ERROR]))
    assert log.malformed_lines == [2, 3]
    assert log.errors == ["error_x: bad"] and log.values["a"] == 1
