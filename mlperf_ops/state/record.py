"""The run record: what `apply` wrote about one run, typed, versioned and checked once.

Every verb after `apply` (status, assemble, report, bundle, rerun) reads runs through
`RunRecord`; nobody reads `record.json` as a dict. The dataclasses below *are* the
schema: `parse_record` walks their type hints and refuses anything else (a missing
field, a wrong type, an unknown key, a newer `record_schema`), so a record that
does not parse is reported by the ledger, never silently skipped. The same schema
is checked again when a record is written (`record_json`), as DVC does for its lock
files.

Versions: `record_schema` 1 was written by mlperf-ops up to 0.9 (a flat dict with an
audit's `retryable` flag); 2 adds the failure class and the retry counts, so a
resumed `apply` continues its retries where the killed one stopped. `_MIGRATIONS`
lifts old records on read; the file on disk is never rewritten.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

RECORD_SCHEMA = 2

Status = Literal["done", "failed", "invalid", "retired"]
Mode = Literal["calibration", "performance", "accuracy", "audit"]
# How a run that did not finish was judged, where it was judged (outcome, verify):
# transient = running it again may give another answer (an audit's timing comparison
# on a noisy machine, a run that outran its calibration); permanent = it will not.
Failure = Literal["transient", "permanent"]
Number = int | float
# LoadGen's detail log values and the planner's inputs are free-form JSON.
Json = Any


class RecordError(ValueError):
    """A record.json that is not a run record of a schema this version knows."""


@dataclass(frozen=True)
class ImageUsed:
    target: str
    tag: str
    id: str
    identity: str  # the image's content identity (spec hash)


@dataclass(frozen=True)
class ContainerEnd:
    exit_code: int
    oom_killed: bool
    timed_out: bool


@dataclass(frozen=True)
class RunSummary:
    """LoadGen's own verdict, read from the summary and detail logs (`outcome.summarise`)."""

    result_validity: str | None = None
    scenario: str | None = None
    mode: str | None = None
    metric: str | None = None
    value: Number | None = None
    early_stopping_met: bool | None = None
    min_duration_met: bool | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seeds: Mapping[str, Json] = field(default_factory=dict)
    loadgen_version: Json = None
    min_duration_ms: Json = None
    performance_sample_count: Json = None


@dataclass(frozen=True)
class RetryCounts:
    """Where this run stands in its retries, so a resumed `apply` does not start over."""

    attempt: int = 1  # attempts at this run in a row, this one included
    timing_failures: int = 0  # audits: timing failures since the reference was measured
    remeasures: int = 0  # reference performance runs of this scenario re-measured so far


@dataclass(frozen=True)
class ArtifactFile:
    sha256: str
    size: int


@dataclass(frozen=True)
class RunRecord:
    key: str
    run_id: str
    status: Status
    reason: str
    system: str
    benchmark: str
    official: str
    scenario: str
    mode: Mode
    audit_test: str | None
    inputs: Mapping[str, Json]
    image: ImageUsed | None
    profile: str
    submittable: bool
    started_unix: float
    finished_unix: float
    duration_s: float
    tool_version: str
    host: str
    summary: RunSummary | None = None
    accuracy: Mapping[str, Json] | None = None
    calibrated: Mapping[str, Number] | None = None
    container: ContainerEnd | None = None
    verification: Mapping[str, Json] | None = None  # audits: the verdict and its details
    failure: Failure | None = None
    retry: RetryCounts = field(default_factory=RetryCounts)
    server: Mapping[str, Json] | None = None  # LLM runs: the inference server's identity
    artifacts: Mapping[str, ArtifactFile] = field(default_factory=dict)
    record_schema: int = RECORD_SCHEMA

    # -- what readers ask ----------------------------------------------------

    @property
    def validity(self) -> str | None:
        """LoadGen's VALID/INVALID for a timed run (None for accuracy and calibration runs)."""
        if self.mode in ("accuracy", "calibration") or self.summary is None:
            return None
        return self.summary.result_validity

    @property
    def transient(self) -> bool:
        return self.status in ("failed", "invalid") and self.failure == "transient"

    @property
    def reference_performance(self) -> str | None:
        """The key of the performance run an audit is compared with."""
        refs = self.inputs.get("references")
        value = refs.get("performance") if isinstance(refs, Mapping) else None
        return str(value) if value else None

    def headline(self) -> str:
        """The one line that says what this run measured: accuracy, calibrated settings,
        or LoadGen's metric in human units."""
        if self.accuracy:
            return ", ".join(f"{k}={v}" for k, v in self.accuracy.items())
        if self.calibrated:
            # user.conf's latencies are in ms: say so, a bare 0.1697 reads as seconds as easily.
            return ", ".join(f"{k}={v}{' ms' if k.endswith('latency') else ''}" for k, v in self.calibrated.items())
        if self.summary is not None and self.summary.value is not None:
            from mlperf_ops.core.units import human_metric

            return human_metric(str(self.summary.metric), float(self.summary.value))
        return ""

    def result_line(self) -> str:
        """Validity and headline together, as `status` and `apply` print them."""
        return " ".join(x for x in (self.validity, self.headline()) if x)


# -- reading and writing -------------------------------------------------------------


def _migrate_1(data: dict[str, Json]) -> dict[str, Json]:
    """Schema 1 → 2: `retryable` (audits) becomes the failure class; retry counts start at 1."""
    out = dict(data)
    retryable = bool(out.pop("retryable", False))
    summary = out.get("summary") or {}
    outran = (out.get("status") == "invalid" and summary.get("result_validity") == "INVALID"
              and summary.get("min_duration_met") is False and not summary.get("errors"))
    if out.get("status") in ("failed", "invalid"):
        out["failure"] = "transient" if (retryable or outran) else "permanent"
    out["record_schema"] = 2
    return out


_MIGRATIONS = {1: _migrate_1}


def parse_record(data: Json) -> RunRecord:
    """A record.json's content as a `RunRecord`, or `RecordError` saying what is wrong."""
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    version = data.get("record_schema", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(f"record_schema: {version!r} is not a version number")
    if version > RECORD_SCHEMA:
        raise RecordError(f"record_schema {version} was written by a newer mlperf-ops (this one reads "
                          f"up to {RECORD_SCHEMA}); upgrade mlperf-ops to read it")
    while version < RECORD_SCHEMA:
        if version not in _MIGRATIONS:
            raise RecordError(f"record_schema {version} is older than any this version can read")
        data = _MIGRATIONS[version](data)
        version = data["record_schema"]
    record = _build(RunRecord, data, "")
    assert isinstance(record, RunRecord)
    return record


def record_json(record: RunRecord) -> dict[str, Json]:
    """The record as JSON, checked against the schema it will be read with."""
    data = _to_json(record)
    assert isinstance(data, dict)
    parse_record(data)  # what we write, we can read (raises on a bug, before anything is renamed)
    return data


def _to_json(value: Any) -> Json:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _build(tp: Any, value: Json, where: str) -> Any:
    """Check `value` against the type `tp` and build it (dataclasses from objects)."""
    here = where or "record.json"
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise RecordError(f"{here}: {value!r} is not one of {', '.join(map(repr, typing.get_args(tp)))}")
        return value
    if origin in (Union, types.UnionType):
        options = [o for o in typing.get_args(tp) if value is None or o is not type(None)]
        if len(options) == 1:  # `X | None` holding a value: X's own error names the field
            return _build(options[0], value, where)
        errors = []
        for option in options:
            try:
                return _build(option, value, where)
            except RecordError as error:
                errors.append(str(error))
        raise RecordError(errors[-1] if len(errors) == 1 else f"{here}: {value!r} matches none of its types")
    if tp is type(None):
        if value is not None:
            raise RecordError(f"{here}: expected null, found {type(value).__name__}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise RecordError(f"{here}: expected true/false, found {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and not isinstance(value, int)):
            raise RecordError(f"{here}: expected a number, found {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise RecordError(f"{here}: expected a string, found {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise RecordError(f"{here}: expected a list, found {type(value).__name__}")
        item = typing.get_args(tp)[0]
        return tuple(_build(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping or origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{here}: expected an object, found {type(value).__name__}")
        item = typing.get_args(tp)[1]
        return {str(k): _build(item, v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise RecordError(f"{here}: expected an object, found {type(value).__name__}")
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise RecordError(f"{here}: unknown field(s) {', '.join(unknown)}")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _build(hints[name], value[name], f"{where}.{name}" if where else name)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{here}: missing field {name}")
        return tp(**kwargs)
    raise RecordError(f"{here}: no reader for {tp!r}")  # a bug in the schema above
