"""Which HTTP client sends, and that both speak the protocol: the standard library's
http.client for a direct upload (no requests import: ~0.12 s of CPU per upload), requests
when the environment names a proxy. TLS is verified against the CA bundle from
REQUESTS_CA_BUNDLE (a self-signed certificate made here with the openssl command)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlperf_ops.ship.devportal import DevPortal
from mlperf_ops.ship.portal import PortalError, RetryPolicy, _proxy_configured
from mlperf_ops.state.receipts import OK, ReceiptStore
from mlperf_ops.ship.upload import upload_tarball
from tests.support.upload_support import (
    SUBMITTER,
    SUBMITTER_ID,
    client,
    make_tarball,
    passing_check,
    portal,  # noqa: F401  (fixture)
    sha256_of,
)

REPO = Path(__file__).resolve().parents[1]


def test_a_direct_upload_never_imports_requests(tmp_path: Path, portal: DevPortal) -> None:  # noqa: F811
    tarball = make_tarball(tmp_path / "dist")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mlperf_ops.ship.portal import ClassicPortal\n"
        "from mlperf_ops.state.receipts import ReceiptStore\n"
        "from mlperf_ops.ship.upload import upload_tarball\n"
        f"r = upload_tarball(Path({str(tarball)!r}), portal=ClassicPortal({portal.url!r}, {SUBMITTER_ID!r}),\n"
        f"                   receipts=ReceiptStore(Path({str(tmp_path / 'state')!r})))\n"
        "print(r.result, 'requests' in sys.modules, 'urllib3' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [OK, "False", "False"]
    assert portal.uploads[SUBMITTER].sha256 == sha256_of(tarball)


def test_a_proxy_in_the_environment_sends_through_requests(
    tmp_path: Path, portal: DevPortal, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    # The dev portal stands in for the proxy too: it answers absolute-form requests
    # ("POST http://host/index/url"), which only a client that knows the proxy sends.
    assert not _proxy_configured({}) and _proxy_configured({"HTTPS_PROXY": "http://p:3128"})
    monkeypatch.setenv("HTTP_PROXY", portal.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = "http://portal.invalid:8080"  # resolvable by the proxy only
    classic = client(portal.url)
    classic._base = target  # the portal URL the proxy is asked for
    tarball = make_tarball(tmp_path / "dist")
    slot = classic.request_upload_url(tarball.name)
    assert slot.submitter_name == SUBMITTER and "requests" in sys.modules
    assert portal.calls["url"] == 1


# ---------------------------------------------------------------------------
# TLS, verified.


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


class _SlotHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"signed_url": "https://127.0.0.1/upload/x?sig=1", "submission_id": "s1",
                           "submitter_name": SUBMITTER}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlotHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_https_is_verified_against_the_ca_bundle(tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert = tls_server
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    assert client(url).request_upload_url("x.tar.gz").submission_id == "s1"
    # Without the bundle the certificate is unknown: refused, never sent in clear.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(PortalError) as caught:
        client(url, retry=RetryPolicy(1, 0.0, 0.0, 0.0)).request_upload_url("x.tar.gz")
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message


def test_upload_over_the_direct_client_with_a_retry(tmp_path: Path, portal: DevPortal) -> None:  # noqa: F811
    portal.faults.fail_put = 1
    tarball = make_tarball(tmp_path / "dist", payload=os.urandom(3 << 20))
    receipt = upload_tarball(tarball, portal=client(portal.url), receipts=ReceiptStore(tmp_path / "state"),
                             check=passing_check)
    assert receipt.result == OK and portal.calls["put"] == 2
    assert portal.uploads[SUBMITTER].sha256 == sha256_of(tarball) == receipt.sha256
