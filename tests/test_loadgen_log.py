"""LoadGen detail logs read by the fast reader (msgspec, every line) decide exactly as line by line with json."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from mlperf_ops.core import loadgen_log
from mlperf_ops.core.loadgen_log import DetailLog, parse_detail_bytes, parse_detail_text

CORPUS = Path(__file__).resolve().parent / "data" / "real_trees"
REAL_LOGS = sorted(CORPUS.glob("*/tree/*/*/results/*/*/*/performance/run_1/mlperf_log_detail.txt"))


def line_by_line(text: str, monkeypatch: pytest.MonkeyPatch) -> DetailLog:
    with monkeypatch.context() as patch:
        patch.setattr(loadgen_log, "_compiled_events", lambda lines, wanted=None, prefixed=False: None)
        return parse_detail_text(text)


def test_real_logs_read_at_once_as_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(REAL_LOGS) >= 10
    for path in REAL_LOGS:
        text = path.read_text("utf-8", errors="replace")
        assert loadgen_log._compiled_events(text.splitlines(), None) is not None, path  # the fast path ran
        fast = parse_detail_text(text)
        assert fast == line_by_line(text, monkeypatch), path
        assert fast.values.get("result_validity") or fast.values.get("effective_scenario"), path
        # read from the bytes, as check reads them: the same log, and without building the text
        data = path.read_bytes()
        assert loadgen_log._ascii_events(data) is not None, path
        assert parse_detail_bytes(data) == fast, path


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
    # two objects on one line, one object over the next two: as many objects as lines
    "\n".join([GOOD + ", " + GOOD[9:], ':::MLLOG {"key": "p"', ':::MLLOG "q": 1}']),
    "\n".join([':::MLLOG {"key": "a", "value": NaN}', GOOD]),  # json reads NaN and Infinity, msgspec not
    ':::MLLOG {"key": "a", "value": 1e400}',  # beyond a float: json says inf
    ':::MLLOG {"key": "a", "value": -123456789012345678901234567890}',  # beyond 64 bits: kept exact
    ':::MLLOG {"key": "a", "value": "\\ud800"}',  # a lone surrogate escape
    ':::MLLOG {"key": "a", "value": 1, "key": "b", "value": 2}',  # the last member wins
    ':::MLLOG {"key": 7, "value": 1}',  # a key that is not a string: str(7)
    ':::MLLOG {"key": null, "value": 1}',
    "\n".join([':::MLLOG {"key": "a", "value": 1, "metadata": [1]}', WARN]),  # metadata not an object
    ':::MLLOG {"key": "a", "value": 1, "metadata": {"is_error": "no"}}',  # a truthy flag
    ':::MLLOG {"key": "a", "value": 1, "metadata": null}',
    "\n".join(["  " + GOOD, GOOD + "  ", GOOD + "\t", GOOD + "\u00a0"]),  # text around the event
    "\n".join([GOOD, ERROR]).replace("\n", "\r\n"),
    ':::MLLOG {"key": "a", "value": "x\u2028y"}',  # a line separator inside a string
    ':::MLLOG {"key": "a", "value": ' + "[" * 5000 + "]" * 5000 + "}",  # deeper than json decodes
    ":::MLLOG " + "[" * 100000 + "]" * 100000,
    ':::MLLOG {"key": "a", "value": "\u00fc\ufffd"}',
])
def test_odd_logs_read_as_line_by_line(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    full = line_by_line(text, monkeypatch)
    assert parse_detail_text(text) == full
    assert parse_detail_bytes(text.encode()) == full
    keys = frozenset(list(full.values)[:1])
    for part in (parse_detail_text(text, keys), parse_detail_bytes(text.encode(), keys)):
        # values of the other keys may be left undecoded
        assert (list(part.values), part.errors, part.warnings, part.malformed_lines, part.foreign_lines) == (
            list(full.values), full.errors, full.warnings, full.malformed_lines, full.foreign_lines)
        assert all(repr(part.values[k]) == repr(full.values[k]) or (k not in keys and part.values[k] is None)
                   for k in full.values)  # repr: NaN is not equal to itself


@pytest.mark.parametrize("data", [
    b"",
    b"\n",
    ("\n".join([GOOD, ERROR]) + "\n").encode(),  # a last line break: no empty line after it
    ("\n".join([GOOD, ERROR]) + "\n\n").encode(),  # ...but a blank line before it
    ("\n".join([GOOD, WARN])).encode(),  # no last line break
    *(GOOD.encode() + brk + ERROR.encode() for brk in (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")),
    # ...and inside a string, or as if white space, in an event msgspec would otherwise read
    *(b':::MLLOG {"key": "a", "value": "x' + brk + b'y"}\n' + GOOD.encode()
      for brk in (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")),
    *(b':::MLLOG {"key": "a",' + brk + b'"value": [1,' + brk + b'2]}' for brk in (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")),
    GOOD.encode() + "\x85".encode() + ERROR.encode(),  # str.splitlines breaks at NEL, U+2028, U+2029 too
    GOOD.encode() + "\u2028".encode() + ERROR.encode(),
    b':::MLLOG {"key": "a", "value": "\xff\xfe"}\n' + ERROR.encode(),  # bytes that are not UTF-8
    b':::MLLOG {"key": "a\xc3", "value": 1}',  # a character cut short
    GOOD.encode() + b"\n\xff garbage\n" + ERROR.encode(),  # a foreign line that is not UTF-8
    GOOD.encode() + b"\n" + ERROR.encode() + b"\n" + WARN.encode()[:-2] + b"\xe2\x82",  # cut short at the end
    GOOD.encode() + b"\n  " + ERROR.encode(),  # a line that does not start with the prefix
    GOOD.encode() + b'\n12345678{"key": "b", "value": 2}',  # ...and is an event after as many characters
    b':::MLLOG {"key": "a",\r"value": 1}',  # "\r" is JSON's white space, and a line break to splitlines
    GOOD.encode() + b"\n:::MLLO",
    b":::MLLOG\n",  # a prefix and a line break, nothing else
    GOOD.encode() + b"\n\n" + ERROR.encode(),  # a blank line between events
    b"\n" + GOOD.encode(),  # a blank first line
    GOOD.encode() + b"\n:::MLLOG" + GOOD.encode(),  # the prefix twice on a line
    (GOOD + "\n" + ERROR + "\n" + WARN).encode() + b"\n",
])
def test_a_log_read_from_its_bytes_is_the_log_of_its_text(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    text = data.decode("utf-8", errors="replace")
    full = line_by_line(text, monkeypatch)
    assert full == parse_detail_text(text)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:  # ...and the line of the first byte that is not UTF-8 is malformed
        line = data[:error.start].count(b"\n") + 1  # these cases break lines at "\n" only
        full.malformed_lines = sorted({*full.malformed_lines, line})
        full.foreign_lines = [n for n in full.foreign_lines if n != line]
        assert parse_detail_bytes(data).malformed_lines
    assert parse_detail_bytes(data) == full
    keys = frozenset(list(full.values)[:1])
    part = parse_detail_bytes(data, keys)
    assert (part.malformed_lines, part.foreign_lines) == (full.malformed_lines, full.foreign_lines)


def test_malformed_lines_keep_their_numbers() -> None:
    log = parse_detail_text("\n".join([GOOD, "garbage", GOOD + "," + GOOD, ERROR, "  " + WARN, ""]))
    assert log.malformed_lines == [3]  # the official parser stops at an MLLOG line it cannot read...
    assert log.foreign_lines == [2, 5]  # ...and skips other lines, an event after white space too
    assert log.warnings == []
    assert log.errors == ["error_x: bad"] and log.values["a"] == 1


@pytest.mark.parametrize("reader", [parse_detail_text, lambda text: parse_detail_bytes(text.encode())])
def test_the_first_value_of_a_key_counts(reader: Callable[[str], DetailLog], monkeypatch: pytest.MonkeyPatch) -> None:
    """As the official checker's log parser reads a key logged twice (an accuracy run's
    loaded_qsl_set, a power run's power_begin): its first value."""
    text = "\n".join([GOOD, ':::MLLOG {"key": "b", "value": 3}', GOOD.replace("1", "2")])
    for log in (reader(text), line_by_line(text, monkeypatch)):
        assert log.values == {"a": 1, "b": 3} and list(log.values) == ["a", "b"]
    assert reader(text).values == line_by_line(text, monkeypatch).values
