"""The classic portal client against the dev portal over real loopback HTTP: retries,
signed-URL refresh, dropped connections, refusals, redirects, redaction."""

from __future__ import annotations

import hashlib
import io
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlperf_ops.ship.devportal import DevPortal, FaultPlan
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.ship.portal import (
    MASK,
    PortalError,
    RetryPolicy,
    SignedUrlRejected,
    TarballChanged,
    Timeouts,
    UploadSlot,
    _HashingReader,
    load_submitter_id,
    redact,
    register_secret,
    resolve_portal_url,
)
from mlperf_ops.state.receipts import OK, UPLOADED_CHECK_NOT_STARTED, ReceiptStore
from mlperf_ops.ship.upload import upload_tarball
from tests.support.upload_support import (
    SUBMITTER,
    SUBMITTER_ID,
    client,
    make_tarball,
    passing_check,
    portal,  # noqa: F401  (fixture)
    sha256_of,
    start_portal,
)


def _upload(tmp_path: Path, server: DevPortal, tarball: Path, events: list[Event] | None = None):  # type: ignore[no-untyped-def]
    events = [] if events is None else events
    return upload_tarball(
        tarball,
        portal=client(server.url, events),
        receipts=ReceiptStore(tmp_path / "state"),
        check=passing_check,
        on_event=events.append,
        refresh_delay=0.0,
    )


@pytest.fixture
def faulty(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DevPortal]:
    server = start_portal(tmp_path, request.param)
    try:
        yield server
    finally:
        server.stop()


def test_clean_upload_server_sha_matches_and_check_started(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist", payload=b"x" * 300_000)
    receipt = _upload(tmp_path, portal, tarball)
    arrived = portal.uploads[SUBMITTER]
    assert arrived.sha256 == sha256_of(tarball) == receipt.sha256
    assert arrived.size == tarball.stat().st_size == receipt.size
    assert Path(arrived.path).read_bytes() == tarball.read_bytes()
    assert portal.calls == {"url": 1, "put": 1, "check": 1}
    assert [c.submission_id for c in portal.checks] == [receipt.submission_id]
    assert receipt.result == OK and receipt.submitter_name == SUBMITTER
    assert set(receipt.steps) == {"request_upload_url", "put", "start_check"}
    assert receipt.portal_url == portal.url and receipt.path and Path(receipt.path).is_file()


@pytest.mark.parametrize(
    ("faulty", "expected_calls"),
    [(FaultPlan(fail_url=2), {"url": 3, "put": 1, "check": 1}),
     (FaultPlan(fail_put=2), {"url": 1, "put": 3, "check": 1})],
    indirect=["faulty"],
)
def test_two_503s_then_success(tmp_path: Path, faulty: DevPortal, expected_calls: dict[str, int]) -> None:
    events: list[Event] = []
    tarball = make_tarball(tmp_path / "dist")
    receipt = _upload(tmp_path, faulty, tarball, events)
    assert receipt.result == OK
    assert faulty.uploads[SUBMITTER].sha256 == sha256_of(tarball)
    assert sorted(status for _, status in faulty.statuses).count(503) == 2
    assert faulty.calls == expected_calls
    assert len([e for e in events if e.kind == "retry"]) == 2


@pytest.mark.parametrize("faulty", [FaultPlan(drop_put_after=100_000)], indirect=True)
def test_dropped_connection_mid_body_is_retried(tmp_path: Path, faulty: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist", payload=random.Random(0).randbytes(400_000))
    assert tarball.stat().st_size > 100_000
    events: list[Event] = []
    receipt = _upload(tmp_path, faulty, tarball, events)
    assert faulty.calls["put"] == 2
    assert ("put", 0) in faulty.statuses  # the first PUT never got an answer
    assert faulty.uploads[SUBMITTER].sha256 == sha256_of(tarball) == receipt.sha256
    assert any(e.kind == "retry" and e.data.get("step") == "put" for e in events)


@pytest.mark.parametrize("faulty", [FaultPlan(expire_first=1, fail_put=1)], indirect=True)
def test_expired_signed_url_gets_a_fresh_one(tmp_path: Path, faulty: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    events: list[Event] = []
    receipt = _upload(tmp_path, faulty, tarball, events)
    assert faulty.calls["put"] == 3  # expired, then 503, then done
    signatures = [url.split("signature=")[1] for url in faulty.signed_urls]
    for event in events:  # what the CLI would print: no id, no signature
        text = repr(event)
        assert SUBMITTER_ID not in text and not any(sig in text for sig in signatures)
    assert faulty.calls["url"] == 2
    assert ("put", 403) in faulty.statuses
    assert receipt.url_refreshes == 1 and receipt.result == OK
    assert faulty.uploads[SUBMITTER].submission_id == receipt.submission_id


@pytest.mark.parametrize("faulty", [FaultPlan(expire_first=10)], indirect=True)
def test_signed_url_refresh_is_bounded(tmp_path: Path, faulty: DevPortal) -> None:
    with pytest.raises(SignedUrlRejected):
        _upload(tmp_path, faulty, make_tarball(tmp_path / "dist"))
    assert faulty.calls["url"] == 4 and faulty.calls["put"] == 4  # 1 + 3 refreshes
    assert faulty.uploads == {}


@pytest.mark.parametrize("faulty", [FaultPlan(url_status=400)], indirect=True)
def test_4xx_on_step_one_is_not_retried(tmp_path: Path, faulty: DevPortal) -> None:
    with pytest.raises(PortalError) as caught:
        _upload(tmp_path, faulty, make_tarball(tmp_path / "dist"))
    assert caught.value.status == 400
    assert faulty.calls == {"url": 1}


def test_unknown_submitter_id_is_refused_without_leaking_it(tmp_path: Path, portal: DevPortal) -> None:
    wrong = "sid-wrong-" + "7" * 16
    with pytest.raises(PortalError) as caught:
        client(portal.url, submitter_id=wrong).request_upload_url("x.tar.gz")
    assert caught.value.status == 403
    assert wrong not in caught.value.message and wrong not in str(caught.value)
    assert portal.calls == {"url": 1}


@pytest.mark.parametrize("faulty", [FaultPlan(check_status=500), FaultPlan(check_status=404)],
                         indirect=True)
def test_non_2xx_on_step_three_is_an_error_and_not_retried(tmp_path: Path, faulty: DevPortal) -> None:
    store = ReceiptStore(tmp_path / "state")
    with pytest.raises(PortalError) as caught:
        upload_tarball(make_tarball(tmp_path / "dist"), portal=client(faulty.url), receipts=store,
                       check=passing_check)
    assert "did not start the check" in caught.value.message
    assert faulty.calls["check"] == 1
    [receipt] = store.all()
    assert receipt.result == UPLOADED_CHECK_NOT_STARTED and receipt.error
    assert faulty.uploads[SUBMITTER].sha256 == receipt.sha256  # the PUT itself landed


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_step_three_is_retried_only_when_the_request_never_left() -> None:
    events: list[Event] = []
    dead = client(f"http://127.0.0.1:{_closed_port()}", events, retry=RetryPolicy(3, 0.01, 0.02, 0.0))
    with pytest.raises(PortalError):
        dead.start_check("abc")
    assert len([e for e in events if e.kind == "retry"]) == 2  # connection refused: safe


def test_backoff_doubles_up_to_the_cap_plus_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    events: list[Event] = []
    dead = client(f"http://127.0.0.1:{_closed_port()}", events, retry=RetryPolicy(5, 1.0, 3.0, 0.5))
    with pytest.raises(PortalError) as caught:
        dead.request_upload_url("x.tar.gz")
    assert "re-run the upload" in (caught.value.hint or "")
    # initial_wait * 2^(n-1), at most max_wait, plus up to `jitter` seconds
    assert [int(w) for w in waits] == [1, 2, 3, 3] and all(0 <= w % 1 <= 0.5 for w in waits)
    assert [e.data["attempt"] for e in events if e.kind == "retry"] == [1, 2, 3, 4]


@pytest.mark.parametrize("faulty", [FaultPlan(fail_check=1)], indirect=True)
def test_step_three_503_is_not_retried(tmp_path: Path, faulty: DevPortal) -> None:
    with pytest.raises(PortalError):
        upload_tarball(make_tarball(tmp_path / "dist"), portal=client(faulty.url),
                       receipts=ReceiptStore(tmp_path / "s"), check=passing_check)
    assert faulty.calls["check"] == 1 and faulty.checks == []


@pytest.mark.parametrize("faulty", [FaultPlan(slow=1.0)], indirect=True)
def test_step_three_read_timeout_is_not_retried(faulty: DevPortal) -> None:
    events: list[Event] = []
    slow_client = client(faulty.url, events, retry=RetryPolicy(3, 0.01, 0.02, 0.0),
                         timeouts=Timeouts(connect=1.0, read=0.2))
    with pytest.raises(PortalError) as caught:
        slow_client.start_check("abc")
    assert "check your e-mail" in (caught.value.hint or "")
    assert faulty.calls["check"] == 1 and not [e for e in events if e.kind == "retry"]


@pytest.mark.parametrize("faulty", [FaultPlan(slow=1.0)], indirect=True)
def test_read_timeout_is_enforced_and_retried(faulty: DevPortal) -> None:
    events: list[Event] = []
    slow_client = client(faulty.url, events, retry=RetryPolicy(2, 0.01, 0.02, 0.0),
                         timeouts=Timeouts(connect=1.0, read=0.2))
    with pytest.raises(PortalError) as caught:
        slow_client.request_upload_url("x.tar.gz")
    assert "Timeout" in caught.value.message
    assert len([e for e in events if e.kind == "retry"]) == 1


class _Redirector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.1:9/elsewhere?token=abc")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_redirects_are_not_followed() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PortalError) as caught:
            client(f"http://127.0.0.1:{server.server_address[1]}").request_upload_url("x.tar.gz")
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.status == 302 and "redirect" in caught.value.message
    assert "token=abc" not in caught.value.message


def test_put_refuses_a_file_that_no_longer_matches(tmp_path: Path, portal: DevPortal) -> None:
    tarball = make_tarball(tmp_path / "dist")
    digest, size = sha256_of(tarball), tarball.stat().st_size
    classic = client(portal.url)
    slot = classic.request_upload_url(tarball.name)
    tarball.write_bytes(b"y" * size)  # same size, other bytes: caught while sending
    with pytest.raises(TarballChanged):
        classic.put(slot, tarball, digest, size)
    assert not portal.uploads  # the last chunk was held back: no complete object
    tarball.write_bytes(b"y" * (size + 1))  # other size: caught before sending anything
    puts = portal.calls["put"]
    with pytest.raises(TarballChanged):
        classic.put(slot, tarball, digest, size)
    assert portal.calls["put"] == puts


def test_streaming_rehash_holds_back_the_last_chunk_when_bytes_differ() -> None:
    data = b"a" * (3 * 1024 * 1024 + 5)
    reader = _HashingReader(io.BytesIO(data), len(data), hashlib.sha256(b"other").hexdigest(), None)
    sent = b""
    with pytest.raises(TarballChanged):
        for chunk in reader:
            sent += chunk
    assert 0 < len(sent) < len(data)
    good = _HashingReader(io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), None)
    assert b"".join(good) == data


def test_redact_masks_secrets_queries_and_credentials() -> None:
    register_secret("s3cr3t-id-value")
    text = redact("id=s3cr3t-id-value url=https://u:p@store.example/b/k?X-Sig=abc&e=1 end")
    assert "s3cr3t" not in text and "X-Sig" not in text and "u:p@" not in text
    assert f"https://{MASK}@store.example/b/k?{MASK} end" in text


def test_submitter_id_only_from_environment(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    id_file.write_text("from-file-id\n")
    assert load_submitter_id({"MLPERF_SUBMITTER_ID_FILE": str(id_file)}) == "from-file-id"
    assert load_submitter_id({"MLPERF_SUBMITTER_ID": "env-id", "MLPERF_SUBMITTER_ID_FILE": "x"}) == "env-id"
    with pytest.raises(UsageError):
        load_submitter_id({})
    with pytest.raises(UsageError):
        load_submitter_id({"MLPERF_SUBMITTER_ID_FILE": str(tmp_path / "missing")})
    assert redact("from-file-id") == MASK


def test_portal_url_resolution() -> None:
    assert resolve_portal_url(None, {}) == "https://submissions-ui.mlcommons.org"
    assert resolve_portal_url(None, {"MLPERF_OPS_PORTAL_URL": "http://127.0.0.1:1/"}) == "http://127.0.0.1:1"
    assert resolve_portal_url("http://127.0.0.1:2", {"MLPERF_OPS_PORTAL_URL": "x"}) == "http://127.0.0.1:2"
    for bad in ("ftp://x", "https://x/?token=1", "https://user:pw@x"):
        with pytest.raises(UsageError):
            resolve_portal_url(bad, {})


def test_slot_repr_hides_the_signed_url() -> None:
    slot = UploadSlot("https://h/p?sig=1", "sub", SUBMITTER)
    assert "sig=1" not in repr(slot)
    client("http://127.0.0.1:1")  # constructing a client registers the id for redaction
    assert redact(f"x {SUBMITTER_ID} y") == f"x {MASK} y"
