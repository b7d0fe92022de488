"""Talk HTTP to an MLCommons submission portal (the only module that does HTTP).

`Portal` is the narrow interface the uploader needs: ask for an upload slot, PUT the
tarball to it, start the server-side check. `ClassicPortal` speaks the classic
three-call protocol (README, `mlperf-ops upload`; `mlperf_ops.ship.devportal` serves it locally); a second protocol (the
Endpoints/PRISM API) can implement the same interface later.

Retry policy (why each step is or is not repeated):
- step 1 (`POST /index/url`) only hands out a signed URL and a submission id; asking
  twice leaves an unused slot behind and nothing else, so connection errors, timeouts
  and 5xx are retried with exponential backoff and jitter;
- the PUT to the signed URL writes one object under a fixed key: repeating it replaces
  the object with identical bytes, so it is idempotent and retried the same way. A
  400/403 from object storage means the signature expired: that is surfaced as
  `SignedUrlRejected` so the caller can ask for a fresh slot (a bounded number of times);
- step 3 (`POST /index`) *starts* a server-side check whose result is e-mailed; the
  portal documents no idempotency, so a repeat could start a second check. It is
  retried only when the request provably never reached the server (connection refused,
  DNS failure, connect timeout); a 5xx, a read timeout or a dropped connection after
  sending is an error, and a re-run of `mlperf-ops upload` repeats all three steps.
- any other 4xx is final; redirects are never followed (a 3xx is an error), because a
  redirect could carry the submitter id or the signed URL somewhere else.

Secrets: the submitter id is read only from the environment; it and signed-URL query
strings are masked by `redact()` in every message this module produces.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from mlperf_ops import __version__
from mlperf_ops.core.errors import OperationalError, UsageError
from mlperf_ops.core.events import Event, EventSink, UploadKind

if TYPE_CHECKING:
    import ssl

    import requests

DEFAULT_PORTAL_URL = "https://submissions-ui.mlcommons.org"
PORTAL_URL_ENV = "MLPERF_OPS_PORTAL_URL"
SUBMITTER_ID_ENV = "MLPERF_SUBMITTER_ID"
SUBMITTER_ID_FILE_ENV = "MLPERF_SUBMITTER_ID_FILE"
BENCHMARKS = ("Inference", "Automotive")
MASK = "***"

# ---------------------------------------------------------------------------
# Redaction: one helper used for every log line, exception, event and receipt.

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
# A URL's query string (where signed URLs keep their signature) and its userinfo.
_QUERY_RE = re.compile(r"(?P<base>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"<>]*)\?[^\s#'\"<>]*")
_USERINFO_RE = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"<>]+@")


def register_secret(value: str) -> None:
    """Remember a value that `redact()` must mask from now on (in this process)."""
    if value:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Mask registered secrets, URL query strings and URL credentials in `text`."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _QUERY_RE.sub(lambda m: f"{m.group('base')}?{MASK}", text)
    return _USERINFO_RE.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def redact_data(value: Any) -> Any:
    """`redact()` applied to every string inside JSON-like data."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe for receipts and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


# ---------------------------------------------------------------------------
# Configuration from the environment.


def load_submitter_id(environ: Mapping[str, str] | None = None) -> str:
    """The submitter id from `MLPERF_SUBMITTER_ID` or the file `MLPERF_SUBMITTER_ID_FILE`.

    Never from an argument or a manifest: it is the organisation's only credential.
    """
    env = os.environ if environ is None else environ
    value = env.get(SUBMITTER_ID_ENV, "").strip()
    source = SUBMITTER_ID_ENV
    if not value and env.get(SUBMITTER_ID_FILE_ENV):
        path = Path(env[SUBMITTER_ID_FILE_ENV])
        source = f"{SUBMITTER_ID_FILE_ENV} ({path})"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(
                f"cannot read the submitter id file named by {SUBMITTER_ID_FILE_ENV}: "
                f"{error.strerror}",
                hint="point it at a readable file holding only the id",
            ) from None
    if not value:
        raise UsageError(
            "no submitter id: set MLPERF_SUBMITTER_ID or MLPERF_SUBMITTER_ID_FILE",
            hint="use the id MLCommons e-mailed before the round; keep it in a CI secret",
        )
    if any(ch.isspace() for ch in value):
        raise UsageError(f"the submitter id from {source} contains whitespace")
    register_secret(value)
    return value


def resolve_portal_url(option: str | None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = (option or env.get(PORTAL_URL_ENV) or DEFAULT_PORTAL_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"portal URL must be http(s)://host[:port][/path], got {redact(url)!r}",
            hint=f"use --portal-url or {PORTAL_URL_ENV}",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError("portal URL must not carry a query, fragment or credentials")
    return url


# ---------------------------------------------------------------------------
# Interface.


@dataclass(frozen=True)
class UploadSlot:
    """Where to PUT one tarball. `signed_url` is a secret (its query signs the upload)."""

    signed_url: str = field(repr=False)
    submission_id: str
    submitter_name: str


@dataclass(frozen=True)
class PlannedRequest:
    """One request as `--dry-run` shows it; every value already masked."""

    step: str
    method: str
    url: str
    headers: dict[str, str]
    json_body: dict[str, str] | None = None
    form: dict[str, str] | None = None
    body: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.step,
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
        }
        for key in ("json_body", "form", "body"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


class Portal(Protocol):
    """What the uploader needs from a submission portal."""

    @property
    def base_url(self) -> str: ...

    def request_upload_url(self, filename: str) -> UploadSlot: ...

    def put(
        self,
        slot: UploadSlot,
        path: Path,
        sha256: str,
        size: int,
        progress: Callable[[int], None] | None = None,
    ) -> None: ...

    def start_check(self, submission_id: str) -> None: ...

    def describe(self, filename: str, sha256: str, size: int) -> list[PlannedRequest]: ...


class PortalError(OperationalError):
    """The portal answered badly or could not be reached (after retries)."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(redact(message), redact(hint) if hint else None)
        self.status = status


class SignedUrlRejected(PortalError):
    """Object storage refused the signed URL (400/403): it has probably expired."""


class TarballChanged(OperationalError):
    """The file on disk no longer matches the digest it was announced with."""


class _Transient(Exception):
    """A failure worth another attempt (5xx or connection trouble); internal."""

    def __init__(self, message: str, *, before_send: bool) -> None:
        super().__init__(message)
        self.before_send = before_send


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    jitter: float = 1.0


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


# ---------------------------------------------------------------------------
# Streaming with a second hash.

CHUNK = 1024 * 1024


class _HashingReader:
    """The PUT body: the file in 1 MiB chunks, re-hashed as it is sent, refusing to finish
    sending if the file changed: the last chunk is held back until the digest of
    everything before it plus that chunk matches, so the server never receives a
    complete body that differs from the announced one. This one pass is the integrity
    check (no separate re-hash before the PUT: that cost a full read of the file).

    Iterable and without `read()` on purpose: both HTTP clients below send an iterable's
    chunks as they come, but read a file-like body 8-16 KiB at a time (64x the Python
    calls, hash updates and progress callbacks)."""

    def __init__(
        self,
        handle: IO[bytes],
        size: int,
        sha256: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._handle = handle
        self._size = size
        self._expected = sha256
        self._sent = 0
        self._hash = hashlib.sha256()
        self._progress = progress

    def __len__(self) -> int:
        return self._size - self._sent

    def __iter__(self) -> Iterator[bytes]:
        while self._sent < self._size:
            chunk = self._handle.read(min(CHUNK, self._size - self._sent))
            if not chunk:
                raise TarballChanged(
                    f"tarball shrank while sending ({self._sent} of {self._size} bytes read)",
                    hint="do not rewrite the tarball during an upload; run the upload again",
                )
            self._hash.update(chunk)
            if self._sent + len(chunk) >= self._size and self._hash.hexdigest() != self._expected:
                raise TarballChanged(
                    "tarball changed while sending (sha256 differs); the last bytes were "
                    "held back so the portal did not receive a complete copy",
                    hint="do not rewrite the tarball during an upload; run the upload again",
                )
            self._sent += len(chunk)
            if self._progress is not None:
                self._progress(self._sent)
            yield chunk


# ---------------------------------------------------------------------------
# Classic three-call protocol.


def _never_reached_server(error: BaseException) -> bool:
    """True when a request made with `requests` cannot have been seen by the server."""
    import requests
    import urllib3.exceptions

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError) and error.args:
        inner = error.args[0]
        if isinstance(inner, urllib3.exceptions.MaxRetryError):
            return isinstance(inner.reason, urllib3.exceptions.NewConnectionError)
        return isinstance(inner, urllib3.exceptions.NewConnectionError)
    return False


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def _proxy_configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment names a proxy (any case); then `requests` sends, with its
    handling of proxies and NO_PROXY."""
    env = os.environ if environ is None else environ
    return any(key.lower() in _PROXY_VARIABLES and value for key, value in env.items())


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, whichever client fetched it; `headers` has lower-case names."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


Body = bytes | Iterable[bytes]


class ClassicPortal:
    """`POST /index/url` → `PUT signed_url` → `POST /index` (form)."""

    def __init__(
        self,
        base_url: str,
        submitter_id: str,
        benchmark: str = "Inference",
        *,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        on_event: EventSink | None = None,
        session: requests.Session | None = None,
    ) -> None:
        """`session` (or a proxy in the environment) makes `requests` send; otherwise the
        standard library's http.client does, which is all a direct upload needs: importing
        requests cost ~0.12 s of CPU per upload, a third of the CLI's own."""
        if benchmark not in BENCHMARKS:
            raise UsageError(f"benchmark must be one of {', '.join(BENCHMARKS)}, got {benchmark!r}")
        if not submitter_id:
            raise UsageError("empty submitter id")
        register_secret(submitter_id)
        self._base = base_url.rstrip("/")
        self._submitter_id = submitter_id
        self.benchmark = benchmark
        self.timeouts = timeouts
        self.retry = retry
        self._on_event = on_event
        self._session = session
        # The CA bundle from the environment, else certifi's (what requests verifies with).
        self._verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )

    @property
    def base_url(self) -> str:
        return public_url(self._base)

    # -- plumbing ---------------------------------------------------------

    def _emit(self, kind: UploadKind, message: str, **data: Any) -> None:
        if self._on_event is not None:
            self._on_event(Event(kind, redact(message), data=redact_data(data)))

    def _send(self, step: str, method: str, url: str, body: Body, headers: Mapping[str, str]) -> Answer:
        if self._session is not None or _proxy_configured():
            return self._send_requests(step, method, url, body, headers)
        return self._send_direct(step, method, url, body, headers)

    def _send_requests(
        self, step: str, method: str, url: str, body: Body, headers: Mapping[str, str]
    ) -> Answer:
        import requests

        if self._session is None:
            self._session = requests.Session()
            # trust_env would also read ~/.netrc and add an Authorization header to the
            # signed-URL PUT; proxies and CA bundles from the environment are applied here.
            self._session.trust_env = False
        proxies = requests.utils.get_environ_proxies(url)
        try:
            response = self._session.request(
                method,
                url,
                data=body,
                headers=dict(headers),
                timeout=self.timeouts.pair(),
                allow_redirects=False,
                proxies=proxies,
                verify=self._verify,
            )
        except requests.exceptions.RequestException as error:
            raise _Transient(
                f"{step}: {type(error).__name__}: {redact(str(error))}",
                before_send=_never_reached_server(error),
            ) from None
        return Answer(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
        )

    def _tls_context(self) -> ssl.SSLContext:
        import ssl

        where = self._verify if isinstance(self._verify, str) else None
        if where is None:
            try:
                import certifi

                where = certifi.where()
            except ImportError:  # the system's store then
                where = None
        if where is not None and os.path.isdir(where):
            return ssl.create_default_context(capath=where)
        return ssl.create_default_context(cafile=where)

    def _send_direct(
        self, step: str, method: str, url: str, body: Body, headers: Mapping[str, str]
    ) -> Answer:
        import http.client

        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connect_timeout, read_timeout = self.timeouts.pair()
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=connect_timeout, context=self._tls_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=connect_timeout)
        try:
            try:
                connection.connect()  # DNS, refusal, connect timeout, TLS: nothing was sent
            except OSError as error:
                raise _Transient(
                    f"{step}: {type(error).__name__}: {redact(str(error))}", before_send=True
                ) from None
            connection.sock.settimeout(read_timeout)
            try:
                connection.putrequest(method, target, skip_accept_encoding=True)
                for name, value in {"User-Agent": f"mlperf-ops/{__version__}", **headers}.items():
                    connection.putheader(name, value)
                if isinstance(body, bytes):
                    connection.putheader("Content-Length", str(len(body)))
                    connection.endheaders(body)
                else:
                    connection.endheaders()
                    for chunk in body:  # a no-op chunk ends nothing: http.client sends it as is
                        connection.send(chunk)
                response = connection.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise _Transient(
                    f"{step}: {type(error).__name__}: {redact(str(error))}", before_send=False
                ) from None
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
        finally:
            connection.close()

    def _with_retries(
        self,
        step: str,
        call: Callable[[], Answer],
        *,
        retry_after_send: bool,
    ) -> Answer:
        # A plain loop, not tenacity: the policy is five lines, and importing tenacity cost
        # ~30 ms of CPU on every upload (a tenth of the CLI's own time beside the PUT).
        import random
        import time

        attempts = max(1, self.retry.attempts)
        attempt = 1
        try:
            while True:
                try:
                    return call()
                except _Transient as error:
                    if attempt >= attempts or not (retry_after_send or error.before_send):
                        raise
                    # exponential backoff (initial_wait * 2^(n-1), at most max_wait) plus jitter
                    wait = min(self.retry.max_wait, self.retry.initial_wait * 2 ** (attempt - 1))
                    wait = max(0.0, wait) + random.uniform(0, self.retry.jitter)
                    self._emit(
                        "retry",
                        f"{step}: attempt {attempt} failed ({error}); retrying in {wait:.1f}s",
                        step=step,
                        attempt=attempt,
                    )
                    time.sleep(wait)
                    attempt += 1
        except _Transient as error:
            hint = (
                "the portal may not have received this request; re-run the upload"
                if retry_after_send or error.before_send
                else "the request may have reached the portal; check your e-mail before "
                "re-running the upload"
            )
            raise PortalError(f"{step} failed: {error}", hint=hint) from None

    @staticmethod
    def _raise_for_redirect(step: str, response: Answer) -> None:
        if 300 <= response.status_code < 400:
            location = redact(response.headers.get("location", "?"))
            raise PortalError(
                f"{step}: unexpected redirect {response.status_code} to {location}; "
                "redirects are not followed",
                hint="check --portal-url (https, no trailing path)",
                status=response.status_code,
            )

    @staticmethod
    def _snippet(response: Answer) -> str:
        text = response.text[:200].replace("\n", " ").strip()
        return f": {redact(text)}" if text else ""

    def _check_5xx(self, step: str, response: Answer) -> Answer:
        if response.status_code >= 500:
            raise _Transient(
                f"{step}: HTTP {response.status_code}{self._snippet(response)}", before_send=False
            )
        return response

    # -- the three calls --------------------------------------------------

    def request_upload_url(self, filename: str) -> UploadSlot:
        step = "request_upload_url"
        payload = {"submitter_id": self._submitter_id, "benchmark": self.benchmark, "filename": filename}
        self._emit("step", f"POST {self.base_url}/index/url ({filename})", step=step)
        response = self._with_retries(
            step,
            lambda: self._check_5xx(
                step,
                self._send(step, "POST", f"{self._base}/index/url", json.dumps(payload).encode(),
                           {"Content-Type": "application/json"}),
            ),
            retry_after_send=True,
        )
        self._raise_for_redirect(step, response)
        if response.status_code in (401, 403):
            raise PortalError(
                f"{step}: the portal refused the submitter id (HTTP {response.status_code})",
                hint="check MLPERF_SUBMITTER_ID against the id MLCommons e-mailed for this round",
                status=response.status_code,
            )
        if not 200 <= response.status_code < 300:
            raise PortalError(
                f"{step}: HTTP {response.status_code}{self._snippet(response)}",
                status=response.status_code,
            )
        try:
            data = response.json()
            slot = UploadSlot(
                signed_url=str(data["signed_url"]),
                submission_id=str(data["submission_id"]),
                submitter_name=str(data["submitter_name"]),
            )
        except (ValueError, KeyError, TypeError):
            raise PortalError(
                f"{step}: answer is not JSON with signed_url, submission_id, submitter_name"
            ) from None
        if urlsplit(slot.signed_url).scheme not in ("http", "https"):
            raise PortalError(f"{step}: the signed URL is not http(s)")
        register_secret(urlsplit(slot.signed_url).query)
        return slot

    def put(
        self,
        slot: UploadSlot,
        path: Path,
        sha256: str,
        size: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        step = "put"
        # Right before sending: a size change is caught for free here; changed bytes of
        # the same size are caught by the hash taken while sending (_HashingReader).
        if path.stat().st_size != size:
            raise TarballChanged(
                f"{path.name} no longer matches its size; refusing to upload it",
                hint="re-run `mlperf-ops pack` and upload the new tarball",
            )
        self._emit("step", f"PUT {redact(slot.signed_url)} ({size} bytes)", step=step, size=size)

        def attempt() -> Answer:
            with open(path, "rb") as handle:
                reader = _HashingReader(handle, size, sha256, progress)
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
                return self._check_5xx(
                    step, self._send(step, "PUT", slot.signed_url, reader, headers)
                )

        response = self._with_retries(step, attempt, retry_after_send=True)
        self._raise_for_redirect(step, response)
        if response.status_code in (400, 403):
            raise SignedUrlRejected(
                f"{step}: object storage refused the signed URL (HTTP {response.status_code})"
                f"{self._snippet(response)}",
                status=response.status_code,
            )
        if not 200 <= response.status_code < 300:
            raise PortalError(
                f"{step}: HTTP {response.status_code}{self._snippet(response)}",
                status=response.status_code,
            )

    def start_check(self, submission_id: str) -> None:
        step = "start_check"
        form = {
            "submitter_id": self._submitter_id,
            "benchmark": self.benchmark,
            "submission_id": submission_id,
        }
        self._emit("step", f"POST {self.base_url}/index (submission {submission_id})", step=step)
        response = self._with_retries(
            step,
            lambda: self._send(step, "POST", f"{self._base}/index", urlencode(form).encode(),
                               {"Content-Type": "application/x-www-form-urlencoded"}),
            retry_after_send=False,
        )
        self._raise_for_redirect(step, response)
        if not 200 <= response.status_code < 300:
            raise PortalError(
                f"{step}: the portal did not start the check (HTTP {response.status_code})"
                f"{self._snippet(response)}",
                hint="the tarball was uploaded; re-run the upload to start the check again",
                status=response.status_code,
            )

    def describe(self, filename: str, sha256: str, size: int) -> list[PlannedRequest]:
        return [
            PlannedRequest(
                step="request_upload_url",
                method="POST",
                url=f"{self.base_url}/index/url",
                headers={"Content-Type": "application/json"},
                json_body={"submitter_id": MASK, "benchmark": self.benchmark, "filename": filename},
            ),
            PlannedRequest(
                step="put",
                method="PUT",
                url="<signed_url from step 1>",
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                body={"file": filename, "size": size, "sha256": sha256},
            ),
            PlannedRequest(
                step="start_check",
                method="POST",
                url=f"{self.base_url}/index",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                form={"submitter_id": MASK, "benchmark": self.benchmark, "submission_id": "<from step 1>"},
            ),
        ]


def dumps_redacted(data: Any) -> str:
    return json.dumps(redact_data(data), indent=2, sort_keys=True)
