"""Run records for tests that write the ledger without running anything."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlperf_ops.core.hashing import file_sha256
from mlperf_ops.ship.bundle import INDEX
from mlperf_ops.state.ledger import RECORD_FILE, Ledger
from mlperf_ops.state.record import RetryCounts, RunRecord, RunSummary


def run_record(**fields: Any) -> RunRecord:
    """A well-formed `RunRecord`; `fields` override the defaults (dicts for nested parts
    are turned into their types: `summary={...}`, `retry={...}`)."""
    now = time.time()
    data: dict[str, Any] = {
        "key": "0" * 64, "run_id": "sys/bench/Offline/performance", "status": "done", "reason": "ok",
        "system": "sys", "benchmark": "bench", "official": "resnet", "scenario": "Offline",
        "mode": "performance", "audit_test": None, "inputs": {}, "image": None, "profile": "smoke",
        "submittable": False, "started_unix": now, "finished_unix": now, "duration_s": 0.0,
        "tool_version": "test", "host": "test",
    }
    data.update(fields)
    if isinstance(data.get("summary"), dict):
        data["summary"] = RunSummary(**data["summary"])
    if isinstance(data.get("retry"), dict):
        data["retry"] = RetryCounts(**data["retry"])
    return RunRecord(**data)


def for_spec(spec: Any, **fields: Any) -> RunRecord:
    """A record of planned run `spec` (a `plan.RunSpec`)."""
    return run_record(key=spec.key, run_id=spec.run_id, system=spec.system, benchmark=spec.benchmark,
                      official=spec.official, scenario=spec.scenario, mode=spec.mode,
                      audit_test=spec.audit_test, inputs=dict(spec.inputs), **fields)


def records_on_disk(state: Path, key: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
    """Every record.json of a state directory as written, by `key(record)`; each with `_dir`,
    the record's directory (where its logs are)."""
    out = {}
    for path in (state / "records").glob("*/record.json"):
        data = json.loads(path.read_text("utf-8"))
        data["_dir"] = path.parent
        out[key(data)] = data
    return out


def run_label(record: dict[str, Any]) -> str:
    """`performance`, `accuracy` or the audit's name: the last part of a run's id."""
    return str(record["audit_test"] or record["mode"])


def bundle_of(ledger: Ledger, keys: list[str], out: Path, submitter: str = "Org", compresslevel: int = 9) -> Path:
    """The bundle `export` writes of these records of `ledger`: its index and each record's folder."""
    index = {"bundle_schema": 1, "submitter": submitter, "system": "s",
             "records": {k: {"run_id": f"s/{k[:4]}", "record_sha256": file_sha256(ledger.records_dir / k / RECORD_FILE)}
                         for k in keys}}
    with tarfile.open(out, "w:gz", compresslevel=compresslevel) as tar:
        data = json.dumps(index).encode()
        info = tarfile.TarInfo(INDEX)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for key in keys:
            tar.add(ledger.records_dir / key, arcname=f"records/{key}")
    return out
