"""upload_tarball's guards and receipts, against the dev portal on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlperf_ops.ship.devportal import DevPortal
from mlperf_ops.core.errors import CheckFailed, UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.ship.portal import MASK
from mlperf_ops.state.receipts import ALREADY_UPLOADED, DRY_RUN, OK, REFUSED, ReceiptStore
from mlperf_ops.ship.upload import CheckOutcome, inspect_tarball, upload_tarball
from tests.support.upload_support import (
    SUBMITTER,
    SUBMITTER_ID,
    client,
    make_tarball,
    passing_check,
    portal,  # noqa: F401  (fixture)
    sha256_of,
    write_tar,
)


def _go(tmp_path: Path, server: DevPortal, tarball: Path, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("check", passing_check)
    return upload_tarball(tarball, portal=client(server.url), receipts=ReceiptStore(tmp_path / "state"),
                          **kwargs)


def test_submitter_name_mismatch_stops_before_the_put(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist", submitter="globex")
    with pytest.raises(UsageError) as caught:
        _go(tmp_path, portal, tarball)
    assert "'acme'" in caught.value.message and "'globex'" in caught.value.message
    assert portal.calls == {"url": 1}
    assert portal.uploads == {}
    [receipt] = ReceiptStore(tmp_path / "state").all()
    assert receipt.result == REFUSED and "put" not in receipt.steps


def test_expected_submitter_mismatch_sends_nothing(tmp_path: Path, portal: DevPortal) -> None:
    with pytest.raises(UsageError):
        _go(tmp_path, portal, make_tarball(tmp_path / "dist"), expected_submitter="globex")
    assert portal.calls == {}


@pytest.mark.parametrize("force", [False, True])
def test_smoke_tarball_is_never_uploaded(tmp_path: Path, portal: DevPortal, force: bool) -> None:
    with pytest.raises(CheckFailed) as caught:
        _go(tmp_path, portal, make_tarball(tmp_path / "dist", smoke=True), force=force)
    assert "smoke" in caught.value.message
    assert portal.calls == {}


def test_smoke_verdict_from_the_checker_is_refused_even_forced(tmp_path: Path, portal: DevPortal) -> None:
    with pytest.raises(CheckFailed):
        _go(tmp_path, portal, make_tarball(tmp_path / "dist"), force=True,
            check=lambda _: CheckOutcome(ok=True, smoke=True))
    assert portal.calls == {}


def test_failing_check_refused_unless_forced(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    failing = lambda _: CheckOutcome(ok=False, summary="results/sut1: missing accuracy.txt")  # noqa: E731
    with pytest.raises(CheckFailed) as caught:
        _go(tmp_path, portal, tarball, check=failing)
    assert "missing accuracy.txt" in caught.value.message and portal.calls == {}
    receipt = _go(tmp_path, portal, tarball, check=failing, force=True)
    assert receipt.result == OK and receipt.check == {"ran": True, "ok": False, "checker": "", "forced": True}


def test_older_tarball_refused_unless_forced(tmp_path: Path, portal: DevPortal) -> None:
    now = time.time()
    old = make_tarball(tmp_path / "old", mtime=now - 3600)
    new = make_tarball(tmp_path / "new", mtime=now)
    assert _go(tmp_path, portal, new).result == OK
    with pytest.raises(UsageError) as caught:
        _go(tmp_path, portal, old)
    assert "older than the last upload" in caught.value.message
    assert portal.calls["url"] == 1 and portal.uploads[SUBMITTER].sha256 == sha256_of(new)
    assert _go(tmp_path, portal, old, force=True).result == OK
    assert portal.uploads[SUBMITTER].sha256 == sha256_of(old)


def test_created_time_comes_from_report_json_when_it_describes_the_tarball(
    tmp_path: Path, portal: DevPortal
) -> None:
    newer_file_but_older_report = make_tarball(tmp_path / "a", mtime=time.time())
    (tmp_path / "a" / "report.json").write_text(json.dumps(
        {"created_at": "2020-01-01T00:00:00Z", "sha256": sha256_of(newer_file_but_older_report)}))
    first = make_tarball(tmp_path / "b", mtime=time.time() - 10)
    assert _go(tmp_path, portal, first).created_source == "mtime"
    with pytest.raises(UsageError):
        _go(tmp_path, portal, newer_file_but_older_report)


def test_same_sha_is_a_noop_unless_forced(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    first = _go(tmp_path, portal, tarball)
    events: list[Event] = []
    again = _go(tmp_path, portal, tarball, on_event=events.append)
    assert again.result == ALREADY_UPLOADED and again.submission_id == first.submission_id
    assert portal.calls == {"url": 1, "put": 1, "check": 1}
    assert any(e.kind == "noop" for e in events)
    assert len(ReceiptStore(tmp_path / "state").all()) == 1
    forced = _go(tmp_path, portal, tarball, force=True)
    assert forced.result == OK and forced.submission_id != first.submission_id
    assert portal.calls["put"] == 2


@pytest.mark.parametrize("payload_mb", [0, 3])  # one chunk, several chunks of the PUT body
def test_sha256_sidecar_mismatch_is_refused(tmp_path: Path, portal: DevPortal, payload_mb: int) -> None:
    # pack's .sha256 is verified while sending (one read of the tarball): a mismatch
    # abandons the PUT before its last bytes, so the portal never holds a copy and no
    # check starts; the failure is recorded in a receipt.
    import os

    tarball = make_tarball(tmp_path / "dist", payload=os.urandom(payload_mb << 20))
    (tmp_path / "dist" / f"{tarball.name}.sha256").write_text("0" * 64 + f"  {tarball.name}\n")
    with pytest.raises(CheckFailed) as caught:
        _go(tmp_path, portal, tarball, force=True)
    assert f"does not match {tarball.name}.sha256" in caught.value.message
    assert "re-run `mlperf-ops pack`" in (caught.value.hint or "")
    assert not portal.uploads and "check" not in portal.calls
    assert [r.result for r in ReceiptStore(tmp_path / "state").all()] == ["failed"]


def test_sha256_sidecar_mismatch_in_a_dry_run_sends_nothing(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    (tmp_path / "dist" / f"{tarball.name}.sha256").write_text("0" * 64 + f"  {tarball.name}\n")
    with pytest.raises(CheckFailed):
        _go(tmp_path, portal, tarball, dry_run=True)
    assert portal.calls == {}


def test_without_a_sidecar_the_tarball_is_hashed_before_sending(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist", sidecar=False)
    receipt = _go(tmp_path, portal, tarball)
    assert receipt.result == OK and receipt.sha256 == sha256_of(tarball) == portal.uploads[SUBMITTER].sha256


def test_dry_run_sends_nothing_and_masks_the_id(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    receipt = _go(tmp_path, portal, tarball, dry_run=True)
    assert portal.calls == {} and ReceiptStore(tmp_path / "state").all() == []
    assert receipt.result == DRY_RUN
    assert [p["method"] for p in receipt.planned] == ["POST", "PUT", "POST"]
    text = json.dumps(receipt.planned)
    assert SUBMITTER_ID not in text and MASK in text and sha256_of(tarball) in text
    assert receipt.planned[0]["json_body"]["submitter_id"] == MASK
    assert receipt.planned[1]["headers"]["Content-Length"] == str(tarball.stat().st_size)


def test_portal_keeps_only_the_latest_upload(tmp_path: Path, portal: DevPortal) -> None:
    first = make_tarball(tmp_path / "one", mtime=time.time() - 100)
    second = make_tarball(tmp_path / "two", name="acme-v6.1-submission-2.tar.gz")
    _go(tmp_path, portal, first)
    first_path = Path(portal.uploads[SUBMITTER].path)
    _go(tmp_path, portal, second)
    assert list(portal.uploads) == [SUBMITTER] and not first_path.exists()
    assert portal.uploads[SUBMITTER].sha256 == sha256_of(second)
    store = ReceiptStore(tmp_path / "state")
    assert [r.sha256 for r in store.all()] == [sha256_of(first), sha256_of(second)]
    latest = store.latest_on_portal(portal.url, SUBMITTER)
    assert latest is not None and latest.sha256 == sha256_of(second)


def test_receipt_file_holds_no_secret_and_the_documented_fields(tmp_path: Path, portal: DevPortal) -> None:
    receipt = _go(tmp_path, portal, make_tarball(tmp_path / "dist"))
    assert receipt.path is not None
    text = Path(receipt.path).read_text()
    data = json.loads(text)
    for key in ("tarball", "sha256", "size", "submission_id", "submitter_name", "portal_url",
                "steps", "tool_version", "result", "created_at", "check"):
        assert key in data
    assert SUBMITTER_ID not in text and "signature" not in text and "?" not in data["portal_url"]


def test_inspect_tarball_rejects_non_tars_and_several_submitters(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(UsageError):
        inspect_tarball(junk)
    mixed = write_tar(tmp_path / "mixed.tar", {"closed/acme/a.txt": b"x", "open/globex/b.txt": b"x"})
    with pytest.raises(UsageError) as caught:
        inspect_tarball(mixed)
    assert "several submitters" in caught.value.message


def test_a_tarball_of_more_entries_than_unpacking_takes_is_refused_before_any_call(
    tmp_path: Path, portal: DevPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its names are not all read (a tarball of millions of empty entries made a list of
    millions): the count stops at the limit that unpacking for the check would refuse too."""
    from mlperf_ops.ship import upload

    entries = 40
    many = write_tar(tmp_path / "many.tar", {f"closed/{SUBMITTER}/results/f{n}.txt": b"" for n in range(entries)})
    monkeypatch.setattr(upload, "MAX_MEMBERS", entries)
    assert inspect_tarball(many).submitter == SUBMITTER
    monkeypatch.setattr(upload, "MAX_MEMBERS", entries - 1)
    with pytest.raises(UsageError) as caught:
        _go(tmp_path, portal, many)
    assert f"more than {entries - 1:,} entries" in caught.value.message and caught.value.exit_code == 2
    assert portal.calls == {} and portal.uploads == {}
