"""Read LoadGen's own log files (pure parsing; never raises on malformed input).

`mlperf_log_detail.txt` holds one `:::MLLOG {json}` line per event; the last value
of a key wins, as the official tools read it. `mlperf_log_summary.txt` is a
human-readable `Key : value` report whose `Result is` line carries validity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import AbstractSet, Any

MLLOG_PREFIX = ":::MLLOG"


@dataclass
class DetailLog:
    """Parsed `mlperf_log_detail.txt`."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    malformed_lines: list[int] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def seeds(self) -> dict[str, int]:
        names = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")
        return {n: self.values[f"effective_{n}"] for n in names if f"effective_{n}" in self.values}

    @property
    def seed_texts(self) -> dict[str, str]:
        """Every effective RNG seed the log carries, by name, as text (a seed exceeds a float's precision)."""
        return {key[len("effective_"):]: str(value) for key, value in self.values.items()
                if key.startswith("effective_") and key.endswith("_rng_seed")}


# An event as LoadGen writes it, up to the opening bracket of an array value.
_ARRAY_EVENT = re.compile(r'\s*\{"key": "([^"\\]*)", "value": \[')
_DIGITS_AND_COMMAS = b"0123456789,"
_LEADING_ZERO = re.compile(rb",0[0-9]")
# Arrays shorter than this are decoded: eliding them saves nothing worth the test.
_ELIDE_FROM = 512


def _elided(body: str, wanted: AbstractSet[str]) -> str | None:
    """`body` with its value replaced by null when that value is a long JSON array of
    non-negative integers and its key is not wanted; None when it is anything else.

    An accuracy run's log lists every loaded sample index (`loaded_qsl_set`): two thirds
    of its bytes, and most of the time `check` spent on it. The array is still proved to
    be valid JSON (digits and single commas, no leading zeros), so replacing it with
    another value changes neither whether the line parses nor anything else in the event.
    """
    match = _ARRAY_EVENT.match(body)
    if match is None or match.group(1) in wanted:
        return None
    start = match.end()
    end = body.find("]", start)
    if end - start < _ELIDE_FROM or not body.isascii():
        return None
    items = body[start:end].encode("ascii")  # bytes: their tests are ~5x faster than str's
    if (items.translate(None, _DIGITS_AND_COMMAS) or items[:1] == b"," or items[-1:] == b"," or b",," in items
            or _LEADING_ZERO.search(items) or (items[:1] == b"0" and items[1:2] != b",")):
        return None
    return body[:start - 1] + "null" + body[end + 1:]


def _events_at_once(lines: list[str], wanted: AbstractSet[str] | None = None) -> list[dict[str, Any]] | None:
    """Every line's event from one JSON array, or None when any line is not a plain event.

    A detail log holds thousands of lines; one json.loads over all of them is several
    times faster than one call per line (check reads hundreds of logs). Anything unusual
    (a foreign or blank line, a line holding more or less than one object, an event
    without a key) returns None, and the line-by-line reader decides as before.
    `wanted`: see parse_detail_text.
    """
    bodies: list[str] = []
    elided: list[int] = []
    for raw in lines:
        line = raw.strip()
        if not line.startswith(MLLOG_PREFIX):
            return None
        body = line[len(MLLOG_PREFIX):]
        if wanted is not None and len(body) > _ELIDE_FROM:
            shorter = _elided(body, wanted)
            if shorter is not None:
                elided.append(len(bodies))
                body = shorter
        bodies.append(body)
    try:
        events: list[Any] = json.loads("[" + ",".join(bodies) + "]")
    except (json.JSONDecodeError, RecursionError):
        return None
    if len(events) != len(bodies) or not all(isinstance(e, dict) and "key" in e for e in events):
        return None
    for index in elided:
        # decoded after all when the value is read: a wanted key (a second "key" member
        # can rename the event), or an error or warning, whose message shows the value
        event = events[index]
        meta = event.get("metadata")
        if str(event["key"]) in (wanted or ()) or (meta and isinstance(meta, dict) and (
                meta.get("is_error") or meta.get("is_warning"))):
            events[index] = json.loads(lines[index].strip()[len(MLLOG_PREFIX):])
    return events


def parse_detail_text(text: str, wanted: AbstractSet[str] | None = None) -> DetailLog:
    """The log's events. `wanted`: the only keys whose values the caller reads; a long
    integer array under any other key may then be left undecoded (its value is None).
    Which keys there are, the errors, warnings and malformed lines stay the same."""
    lines = text.splitlines()
    events = _events_at_once(lines, wanted)
    if events is not None:
        return _from_events(events)
    log = DetailLog()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(MLLOG_PREFIX):
            log.malformed_lines.append(number)
            continue
        try:
            event = json.loads(line[len(MLLOG_PREFIX):])
        except json.JSONDecodeError:
            log.malformed_lines.append(number)
            continue
        if not isinstance(event, dict) or "key" not in event:
            log.malformed_lines.append(number)
            continue
        key = str(event["key"])
        value = event.get("value")
        meta = event.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("is_error"):
            log.errors.append(f"{key}: {value}")
        elif isinstance(meta, dict) and meta.get("is_warning"):
            log.warnings.append(f"{key}: {value}")
        log.values[key] = value
    return log


def _from_events(events: list[dict[str, Any]]) -> DetailLog:
    """The log of well-formed events (the same bookkeeping as parse_detail_text's loop)."""
    log = DetailLog()
    values = log.values
    for event in events:
        key = str(event["key"])
        value = event.get("value")
        meta = event.get("metadata")
        if meta and isinstance(meta, dict):
            if meta.get("is_error"):
                log.errors.append(f"{key}: {value}")
            elif meta.get("is_warning"):
                log.warnings.append(f"{key}: {value}")
        values[key] = value
    return log


def parse_detail(path: Path) -> DetailLog:
    return parse_detail_text(path.read_text(encoding="utf-8", errors="replace"))


@dataclass
class SummaryLog:
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
