"""A local stand-in for the MLCommons submission portal, with injectable faults.

The real portal cannot be reached from development machines, so tests and rehearsals
talk to this server instead. It speaks the classic protocol (see `mlperf_ops.ship.portal`) the way the
real one behaves: `POST /index/url` hands out an HMAC-signed, expiring upload URL on
the same server; `PUT` to it streams the body to disk (constant memory) and answers 403
when the signature is wrong or expired, like object storage; `POST /index` (form)
starts a "check". Only the latest upload per submitter is kept. It binds loopback
only, and its request log never contains query strings (they hold signatures).

Inspection for tests: `uploads` (latest per submitter), `checks`, `calls` (per step),
`statuses` (step, HTTP status) in order; `GET /_devportal/state` returns the same as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

BENCHMARKS = ("Inference", "Automotive")
MAX_SMALL_BODY = 64 * 1024
CHUNK = 1024 * 1024


@dataclass
class FaultPlan:
    """Faults to inject. Counters are consumed as requests arrive."""

    fail_url: int = 0  # the first N `POST /index/url` answer 503
    fail_put: int = 0  # the first N PUTs answer 503 (after reading the body)
    fail_check: int = 0  # the first N `POST /index` answer 503
    drop_put_after: int | None = None  # drop the connection after K body bytes ...
    drop_put_times: int = 1  # ... on this many PUTs
    expire_after: float = 3600.0  # lifetime of a signed URL, seconds
    expire_first: int = 0  # the first N signed URLs are issued already expired
    slow: float = 0.0  # sleep before every answer, seconds
    url_status: int | None = None  # force this status on every `POST /index/url`
    put_status: int | None = None  # force this status on every PUT
    check_status: int | None = None  # force this status on every `POST /index`


@dataclass(frozen=True)
class ArrivedUpload:
    submitter_name: str
    submission_id: str
    filename: str
    sha256: str
    size: int
    path: str


@dataclass(frozen=True)
class CheckRequest:
    submitter_name: str
    submission_id: str
    benchmark: str
    sha256: str


@dataclass
class _Slot:
    submitter_name: str
    filename: str
    benchmark: str


@dataclass
class _State:
    uploads: dict[str, ArrivedUpload] = field(default_factory=dict)
    checks: list[CheckRequest] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    slots: dict[str, _Slot] = field(default_factory=dict)
    urls_issued: int = 0
    signed_urls: list[str] = field(default_factory=list)  # secrets: for leak tests only
    drops_done: int = 0
    bytes_received: int = 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback and ipaddress.ip_address(host).version == 4
    except ValueError:
        return False


class DevPortal:
    """`with DevPortal(submitters={"id": "name"}) as portal: ... portal.url ...`"""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        storage_dir: Path | None = None,
        faults: FaultPlan | None = None,
        submitters: Mapping[str, str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the dev portal binds loopback (127.0.0.1) only, not {host!r}")
        self.host = host
        self.port = port
        self._own_storage = storage_dir is None
        self.storage_dir = Path(storage_dir or tempfile.mkdtemp(prefix="mlperf-devportal-"))
        self.faults = faults or FaultPlan()
        self.submitters: dict[str, str] = dict(submitters or {})
        self._log = log
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("dev portal not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> DevPortal:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        server = _Server((self.host, self.port), _Handler)
        server.portal = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="devportal", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_storage:
            shutil.rmtree(self.storage_dir, ignore_errors=True)

    def __enter__(self) -> DevPortal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection -------------------------------------------------------

    @property
    def uploads(self) -> dict[str, ArrivedUpload]:
        with self._lock:
            return dict(self._state.uploads)

    @property
    def checks(self) -> list[CheckRequest]:
        with self._lock:
            return list(self._state.checks)

    @property
    def calls(self) -> Counter[str]:
        with self._lock:
            return Counter(self._state.calls)

    @property
    def statuses(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._state.statuses)

    @property
    def signed_urls(self) -> list[str]:
        """Every signed URL handed out (secrets; never in `snapshot()`), for leak tests."""
        with self._lock:
            return list(self._state.signed_urls)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "uploads": {k: asdict(v) for k, v in self._state.uploads.items()},
                "checks": [asdict(c) for c in self._state.checks],
                "calls": dict(self._state.calls),
                "statuses": [list(s) for s in self._state.statuses],
                "bytes_received": self._state.bytes_received,
            }

    # -- signing ----------------------------------------------------------

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"PUT\n{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _signed_url(self, submission_id: str, filename: str) -> str:
        with self._lock:
            self._state.urls_issued += 1
            expired = self._state.urls_issued <= self.faults.expire_first
        expires = int(time.time() - 60) if expired else int(time.time() + self.faults.expire_after)
        path = f"/upload/{submission_id}/{quote(filename)}"
        url = f"{self.url}{path}?expires={expires}&signature={self._signature(path, expires)}"
        with self._lock:
            self._state.signed_urls.append(url)
        return url

    # -- bookkeeping used by the handler -----------------------------------

    def _count(self, step: str) -> int:
        with self._lock:
            self._state.calls[step] += 1
            return self._state.calls[step]

    def _status(self, step: str, status: int) -> None:
        with self._lock:
            self._state.statuses.append((step, status))

    def _take(self, attribute: str) -> bool:
        """Consume one unit of a fault counter; True if a fault should fire."""
        with self._lock:
            left = int(getattr(self.faults, attribute))
            if left > 0:
                setattr(self.faults, attribute, left - 1)
                return True
            return False

    def _should_drop(self) -> int | None:
        with self._lock:
            if self.faults.drop_put_after is None:
                return None
            if self._state.drops_done >= self.faults.drop_put_times:
                return None
            self._state.drops_done += 1
            return self.faults.drop_put_after

    def _log_line(self, text: str) -> None:
        if self._log is not None:
            self._log(text)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    portal: DevPortal

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that vanish mid-body are part of the test plan, not server bugs.
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "mlperf-ops-devportal"

    @property
    def portal(self) -> DevPortal:
        return self.server.portal

    def log_message(self, format: str, *args: Any) -> None:
        return None  # requests are logged by _reply without query strings

    # -- helpers ----------------------------------------------------------

    def _reply(self, step: str, status: int, body: Any, *, close: bool = False) -> None:
        if self.portal.faults.slow > 0:
            time.sleep(self.portal.faults.slow)
        payload = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)
        self.portal._status(step, status)
        self.portal._log_line(f"{self.command} {urlsplit(self.path).path} -> {status}")

    def _length(self) -> int | None:
        value = self.headers.get("Content-Length")
        if value is None or not value.isdigit():
            return None
        return int(value)

    def _small_body(self, step: str) -> bytes | None:
        length = self._length()
        if length is None:
            self._reply(step, 411, {"error": "Content-Length required"}, close=True)
            return None
        if length > MAX_SMALL_BODY:
            self._reply(step, 413, {"error": "body too large"}, close=True)
            return None
        return self.rfile.read(length)

    def _drain(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)

    def _submitter(self, step: str, submitter_id: Any) -> str | None:
        if not isinstance(submitter_id, str) or not submitter_id:
            self._reply(step, 401, {"error": "submitter_id missing"})
            return None
        name = self.portal.submitters.get(submitter_id)
        if name is None:
            self._reply(step, 403, {"error": "unknown submitter_id"})
            return None
        return name

    # -- routes -----------------------------------------------------------

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/_devportal/state":
            self._reply("state", 200, self.portal.snapshot())
        else:
            self._reply("other", 404, {"error": "not found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/index/url":
            self._request_url()
        elif path == "/index":
            self._start_check()
        else:
            self._drain(self._length() or 0)
            self._reply("other", 404, {"error": "not found"})

    def do_PUT(self) -> None:
        if urlsplit(self.path).path.startswith("/upload/"):
            self._put()
        else:
            self._drain(self._length() or 0)
            self._reply("other", 404, {"error": "not found"})

    def _request_url(self) -> None:
        step = "url"
        self.portal._count(step)
        body = self._small_body(step)
        if body is None:
            return
        if self.portal._take("fail_url"):
            self._reply(step, 503, {"error": "service unavailable (injected)"})
            return
        if self.portal.faults.url_status is not None:
            self._reply(step, self.portal.faults.url_status, {"error": "forced status (injected)"})
            return
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._reply(step, 415, {"error": "expected application/json"})
            return
        try:
            data = json.loads(body)
        except ValueError:
            self._reply(step, 400, {"error": "body is not JSON"})
            return
        if not isinstance(data, dict):
            self._reply(step, 400, {"error": "body must be a JSON object"})
            return
        name = self._submitter(step, data.get("submitter_id"))
        if name is None:
            return
        benchmark, filename = data.get("benchmark"), data.get("filename")
        if benchmark not in BENCHMARKS:
            self._reply(step, 400, {"error": f"benchmark must be one of {BENCHMARKS}"})
            return
        if not isinstance(filename, str) or not filename.strip():
            self._reply(step, 400, {"error": "filename missing"})
            return
        filename = os.path.basename(filename.replace("\\", "/"))
        submission_id = uuid.uuid4().hex
        with self.portal._lock:
            self.portal._state.slots[submission_id] = _Slot(name, filename, str(benchmark))
        self._reply(
            step,
            200,
            {
                "signed_url": self.portal._signed_url(submission_id, filename),
                "submission_id": submission_id,
                "submitter_name": name,
            },
        )

    def _put(self) -> None:
        step = "put"
        self.portal._count(step)
        parts = urlsplit(self.path)
        length = self._length()
        if length is None:
            self._reply(step, 411, {"error": "MissingContentLength"}, close=True)
            return
        query = parse_qs(parts.query)
        try:
            expires = int(query["expires"][0])
            signature = query["signature"][0]
        except (KeyError, ValueError, IndexError):
            self._drain(length)
            self._reply(step, 403, {"error": "AccessDenied: missing signature"})
            return
        if not hmac.compare_digest(signature, self.portal._signature(parts.path, expires)):
            self._drain(length)
            self._reply(step, 403, {"error": "SignatureDoesNotMatch"})
            return
        if time.time() > expires:
            self._drain(length)
            self._reply(step, 403, {"error": "AccessDenied: Request has expired"})
            return
        if self.portal._take("fail_put"):
            self._drain(length)
            self._reply(step, 503, {"error": "SlowDown (injected)"})
            return
        if self.portal.faults.put_status is not None:
            self._drain(length)
            self._reply(step, self.portal.faults.put_status, {"error": "forced status (injected)"})
            return
        _, _, submission_id, quoted_name = parts.path.split("/", 3)
        with self.portal._lock:
            slot = self.portal._state.slots.get(submission_id)
        if slot is None or unquote(quoted_name) != slot.filename:
            self._drain(length)
            self._reply(step, 404, {"error": "NoSuchUpload"})
            return
        self._receive(step, submission_id, slot, length)

    def _receive(self, step: str, submission_id: str, slot: _Slot, length: int) -> None:
        drop_after = self.portal._should_drop()
        digest = hashlib.sha256()
        part = self.portal.storage_dir / f".{submission_id}.part"
        received = 0
        with open(part, "wb") as out:
            while received < length:
                want = min(CHUNK, length - received)
                if drop_after is not None:
                    want = min(want, drop_after - received)
                    if want <= 0:
                        break
                chunk = self.rfile.read(want)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        with self.portal._lock:
            self.portal._state.bytes_received += received
        if received < length:
            # An incomplete body never becomes an object, like object storage.
            part.unlink(missing_ok=True)
            self.close_connection = True
            self.portal._status(step, 0)
            if drop_after is not None:
                self.portal._log_line(f"PUT {urlsplit(self.path).path} -> dropped after {received} bytes")
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        folder = self.portal.storage_dir / slot.submitter_name
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / slot.filename
        os.replace(part, final)
        arrived = ArrivedUpload(
            slot.submitter_name, submission_id, slot.filename, digest.hexdigest(), received, str(final)
        )
        with self.portal._lock:
            previous = self.portal._state.uploads.get(slot.submitter_name)
            self.portal._state.uploads[slot.submitter_name] = arrived
        if previous is not None and previous.path != arrived.path:
            Path(previous.path).unlink(missing_ok=True)  # only the latest upload is kept
        self._reply(step, 200, {"sha256": arrived.sha256, "size": received})

    def _start_check(self) -> None:
        step = "check"
        self.portal._count(step)
        body = self._small_body(step)
        if body is None:
            return
        if self.portal._take("fail_check"):
            self._reply(step, 503, {"error": "service unavailable (injected)"})
            return
        if self.portal.faults.check_status is not None:
            self._reply(step, self.portal.faults.check_status, {"error": "forced status (injected)"})
            return
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            self._reply(step, 415, {"error": "expected a form"})
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        name = self._submitter(step, form.get("submitter_id"))
        if name is None:
            return
        benchmark, submission_id = form.get("benchmark"), form.get("submission_id", "")
        if benchmark not in BENCHMARKS:
            self._reply(step, 400, {"error": "unknown benchmark"})
            return
        with self.portal._lock:
            slot = self.portal._state.slots.get(submission_id)
            upload = self.portal._state.uploads.get(name)
        if slot is None or slot.submitter_name != name:
            self._reply(step, 404, {"error": "unknown submission_id"})
            return
        if upload is None or upload.submission_id != submission_id:
            self._reply(step, 409, {"error": "no upload arrived for this submission_id"})
            return
        with self.portal._lock:
            self.portal._state.checks.append(
                CheckRequest(name, submission_id, str(benchmark), upload.sha256)
            )
        self._reply(step, 200, {"status": "check started; results are e-mailed"})
