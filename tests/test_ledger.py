"""The ledger: atomic records, snapshots, sweeping, the apply lock (no Docker)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from mlperf_ops.core.errors import UsageError
from mlperf_ops.state.ledger import Ledger
from tests.support.records import run_record
from mlperf_ops.state.record import RECORD_SCHEMA


def _finish(ledger: Ledger, key: str, run_id: str, status: str = "done", payload: str = "x") -> None:
    attempt = ledger.begin(key, run_id)
    (attempt.output_dir / "mlperf_log_summary.txt").write_text(payload)
    ledger.commit(attempt, run_record(status=status, reason=status, inputs={"k": key}, finished_unix=time.time()))


def test_done_record_is_found_by_key_and_verifies(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _finish(ledger, "a" * 64, "s/b/SingleStream/performance")
    record = ledger.done("a" * 64)
    assert record is not None and record.status == "done"
    assert record.run.artifacts["output/mlperf_log_summary.txt"].size == 1
    assert ledger.verify(record) == []
    (record.output_dir / "mlperf_log_summary.txt").write_text("tampered")
    assert ledger.verify(record) == ["output/mlperf_log_summary.txt: sha256 differs"]


def test_failed_attempts_are_kept_apart_and_never_satisfy_a_plan(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _finish(ledger, "b" * 64, "s/b/Offline/performance", status="invalid")
    assert ledger.done("b" * 64) is None
    snap = ledger.snapshot()
    assert "b" * 64 not in snap.done
    assert snap.latest["s/b/Offline/performance"].status == "invalid"
    assert len(list((tmp_path / "attempts").iterdir())) == 1


def test_latest_attempt_wins_in_snapshot(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _finish(ledger, "c" * 64, "r", status="failed")
    _finish(ledger, "d" * 64, "r", status="done")
    assert ledger.snapshot().latest["r"].key == "d" * 64


def test_staging_left_by_a_crash_is_swept_and_unreadable_records_are_ignored(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    attempt = ledger.begin("e" * 64, "r")
    (attempt.output_dir / "half.txt").write_text("half")
    broken = tmp_path / "records" / ("f" * 64)
    broken.mkdir(parents=True)
    (broken / "record.json").write_text("{not json")
    assert ledger.done("f" * 64) is None
    assert list(ledger.records()) == []
    with ledger.lock():
        removed = ledger.sweep_staging()
    assert [p.name for p in removed] == [attempt.dir.name]
    assert not attempt.dir.exists()


def test_each_record_is_parsed_once_until_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apply reads the whole ledger before its first plan and after every run: a record
    that did not change is not parsed again; one replaced or broken since is."""
    import mlperf_ops.state.ledger as ledger_module

    parsed: list[str] = []
    real = ledger_module.parse_record

    def counting(data: object) -> object:
        parsed.append(str(data["key"]))  # type: ignore[index]
        return real(data)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_module, "parse_record", counting)
    ledger = Ledger(tmp_path)
    _finish(ledger, "a" * 64, "r1")
    _finish(ledger, "b" * 64, "r2")
    ledger = Ledger(tmp_path)  # a new command
    parsed.clear()
    assert len(list(ledger.records())) == 2 and len(parsed) == 2
    ledger.snapshot()
    ledger.problems()
    assert len(parsed) == 2  # read twice more, parsed never again
    path = tmp_path / "records" / ("a" * 64) / "record.json"
    data = json.loads(path.read_text())
    data["reason"] = "edited by hand"
    path.write_text(json.dumps(data))  # a different size: re-parsed
    assert ledger.done("a" * 64).run.reason == "edited by hand"  # type: ignore[union-attr]
    path.write_bytes(b"\xff not UTF-8")  # unreadable now: reported, never the cached record
    assert ledger.done("a" * 64) is None
    assert [u.path.name for u in ledger.problems()] == ["a" * 64]


def _hold_lock(state: str, ready: "multiprocessing.synchronize.Event") -> None:
    with Ledger(Path(state)).lock():
        ready.set()
        time.sleep(60)


def test_one_apply_per_state_dir_and_kill_9_releases_the_lock(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(UsageError, match="another mlperf-ops apply"):
            with Ledger(tmp_path).lock():
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    with Ledger(tmp_path).lock():
        pass


def test_record_json_is_complete_json_after_commit(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _finish(ledger, "1" * 64, "r")
    data = json.loads((tmp_path / "records" / ("1" * 64) / "record.json").read_text())
    assert data["key"] == "1" * 64 and data["record_schema"] == RECORD_SCHEMA
    leftovers = [p for p in (tmp_path / "records").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_relative_state_dir_becomes_absolute_because_records_are_bind_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = Ledger(Path(".mlperf-ops"))
    attempt = ledger.begin("9" * 64, "r")
    assert attempt.config_dir.is_absolute() and attempt.config_dir.is_dir()
    assert str(attempt.config_dir).startswith(str(tmp_path))
