"""export/merge: bundles are verified, conflicts refused, nothing half-imported (no Docker)."""

from __future__ import annotations

import tarfile
import time
from pathlib import Path

import pytest

from mlperf_ops.ship.bundle import _verify, merge_bundles
from mlperf_ops.core.errors import UsageError
from mlperf_ops.state.ledger import RECORD_FILE, Ledger
from tests.support.records import bundle_of, for_spec, run_record


def _record(ledger: Ledger, key: str, run_id: str, payload: str) -> None:
    attempt = ledger.begin(key, run_id)
    (attempt.output_dir / "mlperf_log_summary.txt").write_text(payload)
    ledger.commit(attempt, run_record(reason="", finished_unix=time.time()))


def test_two_machines_merge_into_one_ledger(tmp_path: Path) -> None:
    a, b, merged = Ledger(tmp_path / "a"), Ledger(tmp_path / "b"), Ledger(tmp_path / "m")
    _record(a, "a" * 64, "sysA/x", "A")
    _record(b, "b" * 64, "sysB/x", "B")
    result = merge_bundles(merged, [bundle_of(a, ["a" * 64], tmp_path / "a.tgz"),
                                    bundle_of(b, ["b" * 64], tmp_path / "b.tgz")])
    assert sorted(result.imported) == ["a" * 64, "b" * 64]
    for key in ("a" * 64, "b" * 64):
        record = merged.done(key)
        assert record is not None and merged.verify(record) == []
    again = merge_bundles(merged, [tmp_path / "a.tgz"])
    assert again.identical == ["a" * 64] and again.imported == []


def test_conflicting_record_is_refused_and_the_ledger_keeps_its_own(tmp_path: Path) -> None:
    a, b = Ledger(tmp_path / "a"), Ledger(tmp_path / "b")
    _record(a, "c" * 64, "s/x", "first")
    _record(b, "c" * 64, "s/x", "different bytes")
    with pytest.raises(UsageError, match="conflict"):
        merge_bundles(a, [bundle_of(b, ["c" * 64], tmp_path / "b.tgz")])
    record = a.done("c" * 64)
    assert record is not None
    assert (record.output_dir / "mlperf_log_summary.txt").read_text() == "first"


def test_tampered_bundle_imports_nothing(tmp_path: Path) -> None:
    a, target = Ledger(tmp_path / "a"), Ledger(tmp_path / "t")
    _record(a, "d" * 64, "s/x", "good")
    _record(a, "e" * 64, "s/y", "good too")
    (a.records_dir / ("e" * 64) / "output" / "mlperf_log_summary.txt").write_text("tampered after the fact")
    bundle = bundle_of(a, ["d" * 64, "e" * 64], tmp_path / "a.tgz")
    with pytest.raises(UsageError, match="failed verification"):
        merge_bundles(target, [bundle])
    assert target.done("d" * 64) is None  # nothing from a bad bundle, not even its good records


def test_bundle_with_a_symlink_or_escape_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "evil.tgz"
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("records/../../escape")
        info.size = 0
        import io

        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(UsageError, match="unsafe path"):
        merge_bundles(Ledger(tmp_path / "t"), [out])


def test_other_submitters_bundle_is_refused(tmp_path: Path) -> None:
    a = Ledger(tmp_path / "a")
    _record(a, "f" * 64, "s/x", "x")
    with pytest.raises(UsageError, match="belongs to submitter"):
        merge_bundles(Ledger(tmp_path / "t"), [bundle_of(a, ["f" * 64], tmp_path / "a.tgz", "Other")],
                      submitter="Org")


def test_verify_reports_an_unlisted_record(tmp_path: Path) -> None:
    (tmp_path / "records" / "zz").mkdir(parents=True)
    assert _verify(tmp_path, {"records": {}}) == ["records/zz: not in the bundle index"]


def test_export_refuses_records_that_hold_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle is a CI artifact others download: a token a harness printed never rides in it."""
    from mlperf_ops.ship.bundle import export_bundle
    from mlperf_ops.plan.controller import load_context, make_plan
    from mlperf_ops.core.errors import CheckFailed

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(repo))
    ctx = load_context(repo / "manifests" / "demo.yaml")
    ledger = Ledger(tmp_path / "state")
    spec = make_plan(ctx, ledger).run("demo-cpu/digits-mlp/Offline/accuracy").spec
    attempt = ledger.begin(spec.key, spec.run_id)
    token = "ghp_" + "x1Y2" * 9
    (attempt.dir / "container.log").write_text(f"harness: using GITHUB_TOKEN={token}\n")
    ledger.commit(attempt, for_spec(spec))
    with pytest.raises(CheckFailed) as caught:
        export_bundle(ctx, ledger, "demo-cpu", tmp_path / "b.tar.gz")
    assert "container.log:1 (a GitHub token)" in caught.value.message and token not in caught.value.message
    assert not (tmp_path / "b.tar.gz").exists()
