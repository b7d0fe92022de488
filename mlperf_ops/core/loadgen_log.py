"""Read LoadGen's own log files (pure parsing; never raises on malformed input).

`mlperf_log_detail.txt` holds one `:::MLLOG {json}` line per event; the first value
of a key counts, as the official checker's log parser reads a key logged more than once
(an accuracy run logs `loaded_qsl_set` once per load, a power run `power_begin` too).
`mlperf_log_summary.txt` is a
human-readable `Key : value` report whose `Result is` line carries validity.
"""

from __future__ import annotations

import json
import re
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import AbstractSet, Any, Callable, Optional, Sequence

from msgspec import Struct, field

MLLOG_PREFIX = ":::MLLOG"


class DetailLog(Struct):
    """Parsed `mlperf_log_detail.txt`.

    The official checker's parser stops (and refuses the tree) at `malformed_lines`: a first
    line that is not an event, an MLLOG line that is not a JSON event with a key, bytes that
    are not UTF-8. It skips `foreign_lines`: any other line that does not start with the
    prefix (leading white space included), and so does this reader."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    malformed_lines: list[int] = field(default_factory=list)
    foreign_lines: list[int] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def seeds(self) -> dict[str, int]:
        names = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")
        return {n: self.values[f"effective_{n}"] for n in names if f"effective_{n}" in self.values}

    @property
    def seed_texts(self) -> dict[str, str]:
        """`seeds` as text: a 64-bit seed exceeds a float's precision, so rounds compare text."""
        return {name: str(value) for name, value in self.seeds.items()}


class _Decoders:
    """msgspec decoders of one event, built on first use (0.1-0.2 ms; msgspec itself is
    imported with this module, whose types are msgspec Structs)."""

    def __init__(self) -> None:
        import msgspec

        # defstruct, not class bodies: this module's annotations are strings (PEP 563)
        # that msgspec could not resolve to these local classes.
        # gc=False: a log is 10^3-10^5 events, two structs each, and the collector ran
        # every 700 of them (a third of the decoding time of a large tree). Decoded JSON
        # is a tree: no event can take part in a reference cycle.
        meta = msgspec.defstruct("Meta", [("is_error", Any, None), ("is_warning", Any, None)], gc=False)
        # key: any other type, or metadata that is not an object, and the line-by-line
        # reader decides (it says str(key) and ignores such metadata)
        event = msgspec.defstruct("Event", [("key", str), ("value", Any, None), ("metadata", Optional[meta], None)],
                                  gc=False)
        # value: its syntax checked, not decoded
        raw_event = msgspec.defstruct(
            "RawEvent", [("key", str), ("value", msgspec.Raw, msgspec.Raw(b"null")), ("metadata", Optional[meta], None)],
            gc=False)
        # Any: the structs are made at run time, so their fields are not known to a type checker
        self.event: Callable[[str], Any] = msgspec.json.Decoder(event).decode
        self.raw_event: Callable[[str], Any] = msgspec.json.Decoder(raw_event).decode
        self.value: Callable[[Any], Any] = msgspec.json.decode
        self.errors: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError)


_decoders: _Decoders | None = None


def prepare_decoders() -> None:
    """Build the decoders now, before `check` forks its workers, so that each child
    inherits them rather than building its own."""
    global _decoders
    _decoders = _decoders or _Decoders()


_BODY = itemgetter(slice(len(MLLOG_PREFIX), None))


def _value(decoders: _Decoders, raw: Any) -> Any:
    try:
        return decoders.value(raw)
    except decoders.errors:  # 1e400 and the like: json makes it inf, msgspec refuses
        return json.loads(bytes(raw))


def _compiled_events(lines: Sequence[str] | Sequence[bytes], wanted: AbstractSet[str] | None,
                     prefixed: bool = False) -> DetailLog | None:
    """The log, each line decoded by msgspec (C, several times faster than json), or None
    when any line is not a plain event: the line-by-line json reader then decides.

    Each line is decoded on its own, so no line can borrow another's text. msgspec checks
    the same JSON syntax as json; what it refuses and json accepts (NaN, lone surrogate
    escapes, numbers beyond a float) goes to that reader, and so do lines with text
    around the event (it strips them). `wanted`: the values of other keys stay
    undecoded (None); their syntax is still checked. `prefixed`: `lines` are the events
    after their MLLOG prefix, which every line was seen to start with (_ascii_events).
    """
    global _decoders
    if not prefixed and not all(map(str.startswith, lines, repeat(MLLOG_PREFIX))):  # type: ignore[arg-type]
        return None
    decoders = _decoders = _decoders or _Decoders()
    try:
        events = list(map(decoders.event if wanted is None else decoders.raw_event,
                          lines if prefixed else map(_BODY, lines)))
    except decoders.errors:
        return None
    except RecursionError:
        return None
    log = DetailLog()
    flagged = [e for e in events if e.metadata is not None and (e.metadata.is_error or e.metadata.is_warning)]
    raws = _first_values(events)
    if wanted is None:
        log.values = raws
        for e in flagged:
            (log.errors if e.metadata.is_error else log.warnings).append(f"{e.key}: {e.value}")
        return log
    log.values = dict.fromkeys(raws)
    try:
        for key in wanted & raws.keys():
            log.values[key] = _value(decoders, raws[key])
        for e in flagged:  # an error's message shows its value
            (log.errors if e.metadata.is_error else log.warnings).append(f"{e.key}: {_value(decoders, e.value)}")
    except (ValueError, RecursionError):
        # json cannot make a value of it either: an integer of more than 4300 digits (Python's
        # limit on converting one), nesting too deep. The official parser stops at such a
        # line; the line-by-line reader says which it is. (A value of a key no check reads is
        # only syntax-checked here: such an integer there goes unremarked.)
        return None
    return log


def _first_values(events: list[Any]) -> dict[str, Any]:
    """key -> the value of its first event, keys in the order they first appear (C loops:
    a log has thousands of events, most of them repeated keys of an accuracy run)."""
    keys = [e.key for e in events]
    values = dict.fromkeys(keys)
    values.update(zip(reversed(keys), [e.value for e in reversed(events)]))
    return values


def log_lines(text: str) -> list[str]:
    """The lines of a log as the official checker reads them: a text file's lines in
    Python, broken at "\n", "\r" and "\r\n" only (str.splitlines() breaks at U+2028,
    NEL, VT, FF and more, which JSON may hold in a string), without their line breaks."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the break that ends the last line starts no line
    return lines


def parse_detail_text(text: str, wanted: AbstractSet[str] | None = None) -> DetailLog:
    """The log's events. `wanted`: the only keys whose values the caller reads; the values
    of other keys may then be left undecoded (None). Which keys there are, the errors,
    warnings and malformed lines stay the same."""
    lines = log_lines(text)
    fast = _compiled_events(lines, wanted)
    return fast if fast is not None else _line_by_line(lines)


# log_lines() breaks ASCII text at "\n" and "\r"; JSON reads "\r" as white space, so only
# "\r" must be looked for (other control characters msgspec refuses: the text decides).
_PREFIX_BYTES = MLLOG_PREFIX.encode()
_BREAK_PREFIX = b"\n" + _PREFIX_BYTES


def _ascii_events(data: bytes) -> list[bytes] | None:
    """The events of the text these bytes decode to, each line's bytes after its MLLOG
    prefix, when that text is plain: ASCII, broken at "\n" only, every line an MLLOG line.
    None otherwise: the text decides then.

    An accuracy run's detail log is ~0.5 MB of such lines (its sample-index arrays).
    Decoding it to text and splitting the text copied every byte twice; finding each line
    in Python cost ~1 us a line. Here one split at "\n" + prefix cuts out the events (C, one
    copy), and no event but the last may hold a "\n", the last only at its end."""
    if not data:
        return []
    if b"\r" in data:  # CRLF line breaks (a published log has them) are "\n" to log_lines()
        data = data.replace(b"\r\n", b"\n")
    if not data.isascii() or b"\r" in data or not data.startswith(_PREFIX_BYTES):
        return None  # log_lines() would break at a lone "\r" too, or the text differs from the bytes
    events = data.split(_BREAK_PREFIX)
    # Each cut consumed one "\n", and the log may end in one: any other "\n" is inside an
    # event, where a blank or foreign line left it (one count in C, not a test per event).
    if data.count(b"\n") != len(events) - 1 + data.endswith(b"\n"):
        return None  # the line-by-line reader says which line
    events[0] = events[0][len(_PREFIX_BYTES):]
    return events  # the last one may end in the log's last "\n": white space to JSON


def parse_detail_bytes(data: bytes, wanted: AbstractSet[str] | None = None) -> DetailLog:
    """parse_detail_text of the text these bytes decode to (UTF-8, bad bytes replaced),
    read from the bytes themselves where they are plain lines of events. Where they are
    not UTF-8, the line of the first bad byte is malformed too (the official checker
    reads the log as UTF-8 and stops there)."""
    events = _ascii_events(data)
    fast = None if events is None else _compiled_events(events, wanted, prefixed=True)
    if fast is not None:
        return fast
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        log = parse_detail_text(data.decode("utf-8", errors="replace"), wanted)
        before = data[:error.start].decode("utf-8", errors="replace")
        bad_line = len(log_lines(before + "x"))  # the line the first bad byte is on
        log.malformed_lines = sorted({*log.malformed_lines, bad_line})
        log.foreign_lines = [n for n in log.foreign_lines if n != bad_line]
        return log
    return parse_detail_text(text, wanted)


def _line_by_line(lines: list[str]) -> DetailLog:
    """Each line on its own with json: what decides for any line the fast reader refuses.
    A line is read as the official parser reads it: white space stripped at its end only."""
    log = DetailLog()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.startswith(MLLOG_PREFIX):
            if number == 1:
                log.malformed_lines.append(number)  # the official parser stops: no MLLOG log
            elif line:
                log.foreign_lines.append(number)
            continue
        try:
            event = json.loads(line[len(MLLOG_PREFIX):])
        except (ValueError, RecursionError):  # not JSON, an integer json will not convert, nested too deep
            log.malformed_lines.append(number)
            continue
        if not isinstance(event, dict) or "key" not in event or isinstance(event["key"], (list, dict)):
            log.malformed_lines.append(number)  # the official reader files events under their key:
            continue  # one that cannot be a dict's key stops it
        key = str(event["key"])
        value = event.get("value")
        meta = event.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("is_error"):
            log.errors.append(f"{key}: {value}")
        elif isinstance(meta, dict) and meta.get("is_warning"):
            log.warnings.append(f"{key}: {value}")
        if key not in log.values:  # the first value of a key counts
            log.values[key] = value
    return log


def parse_detail(path: Path) -> DetailLog:
    return parse_detail_bytes(path.read_bytes())


class SummaryLog(Struct):
    """Parsed `mlperf_log_summary.txt`."""

    fields: dict[str, str] = field(default_factory=dict)

    @property
    def result_validity(self) -> str | None:
        value = self.fields.get("Result is")
        return value.strip() if value else None

    @property
    def valid(self) -> bool:
        return self.result_validity == "VALID"

    @property
    def early_stopping_met(self) -> bool | None:
        value = self.fields.get("Early stopping satisfied")
        return None if value is None else value.strip().lower() == "yes"

    @property
    def min_duration_met(self) -> bool | None:
        value = self.fields.get("Min duration satisfied")
        return None if value is None else value.strip().lower() == "yes"

    @property
    def scenario(self) -> str | None:
        return self.fields.get("Scenario")

    @property
    def mode(self) -> str | None:
        return self.fields.get("Mode")


_SUMMARY_LINE = re.compile(r"^\s*([^:*][^:]*?)\s*:\s*(.*?)\s*$")

# The headline metric of each scenario, as LoadGen's summary names it.
PRIMARY_METRIC = {
    "SingleStream": ("90.0th percentile latency (ns)", "latency_ns"),
    "MultiStream": ("99.0th percentile latency (ns)", "latency_ns"),
    "Offline": ("Samples per second", "samples_per_second"),
    "Server": ("Completed samples per second", "samples_per_second"),
    "Interactive": ("Completed samples per second", "samples_per_second"),
}


def parse_summary_text(text: str) -> SummaryLog:
    summary = SummaryLog()
    for raw in text.splitlines():
        match = _SUMMARY_LINE.match(raw)
        if not match:
            continue
        key, value = match.group(1).strip(), match.group(2)
        if key and key not in summary.fields:
            summary.fields[key] = value
    return summary


def primary_metric(summary: SummaryLog) -> tuple[str, float | None]:
    """(metric name, value) of the scenario's headline result; value None when absent."""
    name, _ = PRIMARY_METRIC.get(summary.scenario or "", ("", ""))
    raw = summary.fields.get(name)
    if raw is None and summary.scenario == "Server":
        raw = summary.fields.get("Scheduled samples per second")
    try:
        return name, float(raw) if raw is not None else None
    except ValueError:
        return name, None


def parse_summary(path: Path) -> SummaryLog:
    return parse_summary_text(path.read_text(encoding="utf-8", errors="replace"))
