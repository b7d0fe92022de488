"""The typed run record: old ledgers still read, bad records reported, retries resumed.

`tests/data/ledger_schema1/` is a real state directory written by the version before
the typed record (see its NOTE.md), so these tests read records this code did not write.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mlperf_ops.run.audit_retry import after_timing_failure, counts_before
from mlperf_ops.state.ledger import RECORD_FILE, Ledger
from mlperf_ops.state.record import RECORD_SCHEMA, RecordError, parse_record, record_json
from tests.support.records import run_record

OLD = Path(__file__).parent / "data" / "ledger_schema1"
TEST01 = "demo-cpu/digits-mlp/SingleStream/TEST01"
PERF = "demo-cpu/digits-mlp/SingleStream/performance"


@pytest.fixture()
def old_ledger(tmp_path: Path) -> Ledger:
    shutil.copytree(OLD, tmp_path / "state", ignore=shutil.ignore_patterns("NOTE.md"))
    return Ledger(tmp_path / "state")


def test_every_record_of_a_schema_1_ledger_reads(old_ledger: Ledger) -> None:
    records = list(old_ledger.records())
    assert old_ledger.problems() == []
    assert len(records) == len(list(OLD.rglob(RECORD_FILE))) == 14
    by_status: dict[str, int] = {}
    for record in records:
        by_status[record.status] = by_status.get(record.status, 0) + 1
        assert record.run.record_schema == RECORD_SCHEMA
    assert by_status == {"done": 3, "retired": 2, "failed": 9}
    # `retryable: true` of schema 1 is the transient failure class of schema 2.
    failed = [r.run for r in records if r.status == "failed"]
    assert all(r.failure == "transient" and r.mode == "audit" and r.verification for r in failed)
    accuracy = next(r.run for r in records if r.run_id.endswith("/accuracy"))
    assert accuracy.headline() == "acc=97.456" and accuracy.validity is None
    perf = old_ledger.done(next(r.key for r in records if r.run_id == PERF and r.status == "done"))
    assert perf is not None and perf.run.validity == "VALID"
    assert perf.run.headline().startswith("90.0th percentile latency = 0.5")  # ns shown as ms


def test_a_resumed_apply_continues_the_retries_the_old_ledger_recorded(old_ledger: Ledger) -> None:
    history = [r.run for r in old_ledger.records()]
    audit = next(r for r in history if r.run_id == TEST01)
    reference = audit.reference_performance
    assert reference is not None
    counts = counts_before(TEST01, audit.key, reference, history)
    measured = old_ledger.done(reference)
    assert measured is not None
    after = [r for r in history if r.run_id == TEST01 and r.finished_unix > measured.run.finished_unix]
    assert counts.attempt == 10  # nine failures in a row, this is the tenth attempt
    assert counts.remeasures == 2  # both retired references carry the policy's reason
    assert counts.timing_failures == len(after) > 0
    # The policy that gave up then still gives up: nothing starts over after a restart.
    assert after_timing_failure(counts.timing_failures + 1, 4, counts.remeasures).action == "give-up"


def test_a_record_that_does_not_parse_is_reported_not_skipped(old_ledger: Ledger) -> None:
    victim = next(p for p in (old_ledger.root / "records").iterdir())
    data = json.loads((victim / RECORD_FILE).read_text())
    (victim / RECORD_FILE).write_text(json.dumps({**data, "status": "finished"}))
    assert old_ledger.done(victim.name) is None
    problems = old_ledger.problems()
    assert [p.path for p in problems] == [victim]
    assert "status: 'finished' is not one of" in problems[0].error
    (victim / RECORD_FILE).write_text("{not json")
    assert old_ledger.problems()[0].path == victim


@pytest.mark.parametrize(("change", "message"), [
    ({"record_schema": RECORD_SCHEMA + 1}, "written by a newer mlperf-ops"),
    ({"surprise": 1}, "unknown field(s) surprise"),
    ({"duration_s": "12 s"}, "duration_s: expected a number"),
    ({"summary": {"errors": "boom"}}, "summary.errors: expected a list"),
    ({"mode": "benchmark"}, "mode: 'benchmark' is not one of"),
])
def test_schema_errors_name_the_field(change: dict[str, object], message: str) -> None:
    data = {**record_json(run_record()), **change}
    with pytest.raises(RecordError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_record(data)


def test_a_missing_field_is_named() -> None:
    data = record_json(run_record())
    del data["inputs"]
    with pytest.raises(RecordError, match="missing field inputs"):
        parse_record(data)


def test_what_is_written_reads_back_the_same() -> None:
    record = run_record(status="failed", failure="transient", summary={"result_validity": "INVALID", "errors": ("e",)},
                        retry={"attempt": 3, "timing_failures": 2, "remeasures": 1}, calibrated={"target_qps": 9.5})
    assert parse_record(json.loads(json.dumps(record_json(record)))) == record
    assert replace(record, status="done").transient is False and record.transient


def test_an_outran_invalid_run_of_schema_1_migrates_as_transient() -> None:
    data = json.loads(next(OLD.rglob(RECORD_FILE)).read_text())
    data.update(status="invalid", retryable=False, mode="performance",
                summary={"result_validity": "INVALID", "min_duration_met": False, "errors": []})
    assert parse_record(data).failure == "transient"
    data["summary"]["errors"] = ["loadgen error"]
    assert parse_record(data).failure == "permanent"
