"""Services on a private network (the LLM server sidecar's plumbing), on a real engine.

The network must reach nothing but its own containers: a web server on this host, listening
on every interface, answers an ordinary bridge container (the control) but not a container on
the private network, at any address of the host; the service is reached by its alias there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec
from tests.support.bridge import host_address

pytestmark = pytest.mark.docker

# python3 -c SCRIPT URL…: prints {url: "ok" | error} for each URL (3 s each)
REACH = r'''
import json, sys, urllib.request
out = {}
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            out[url] = "ok %d" % answer.status
    except Exception as exc:
        out[url] = "%s: %s" % (type(exc).__name__, exc)
print("REACH " + json.dumps(out))
'''


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def host_server() -> Iterator[int]:
    """A web server of this host on every interface (0.0.0.0), as a careless host service is."""
    server = ThreadingHTTPServer(("0.0.0.0", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _reach(engine: Engine, image: str, labels: dict[str, str], log: Path, urls: list[str],
           network: str | None = None) -> dict[str, str]:
    spec = ContainerSpec(image=image, command=["python3", "-c", REACH, *urls], labels=labels,
                         network="bridge" if network is None else "none")
    if network is None:
        result = engine.run(spec, log, timeout_s=120)
    else:
        result = engine.run_on_network(spec, network, log, timeout_s=120)
    text = log.read_text()
    assert result.exit_code == 0, text
    line = next(ln for ln in text.splitlines() if ln.startswith("REACH "))
    answers: dict[str, str] = json.loads(line[len("REACH "):])
    return answers


def test_a_private_network_reaches_its_service_and_nothing_else(
        engine: Engine, base_image: str, docker_labels: dict[str, str], host_server: int, tmp_path: Path) -> None:
    name = f"mlperf-ops-test-{docker_labels['org.mlperf-ops.test']}"
    engine.create_private_network(name, docker_labels)
    try:
        info = engine.network_info(name)
        assert info is not None and info["Internal"] is True, info
        service = ContainerSpec(image=base_image, command=["python3", "-m", "http.server", "8000"],
                                labels=docker_labels, workdir="/tmp")
        service_id = engine.start_service(service, name, "llm-server")
        assert engine.service_status(service_id) == ("running", None)

        bridge = engine.network_info("bridge")
        assert bridge is not None
        host_ip = host_address(bridge)
        own_gateway = (info.get("IPAM", {}).get("Config") or [{}])[0].get("Gateway")
        # Control: an ordinary container reaches the host's server, so a refusal below is the network's.
        control = _reach(engine, base_image, docker_labels, tmp_path / "control.log", [f"http://{host_ip}:{host_server}/"])
        assert control[f"http://{host_ip}:{host_server}/"] == "ok 200", control

        host_urls = [f"http://{host_ip}:{host_server}/", "http://1.1.1.1/"]
        if own_gateway:
            host_urls.append(f"http://{own_gateway}:{host_server}/")
        inside = _reach(engine, base_image, docker_labels, tmp_path / "inside.log",
                        ["http://llm-server:8000/", *host_urls], network=name)
        assert inside["http://llm-server:8000/"] == "ok 200", inside
        for url in host_urls:
            assert not inside[url].startswith("ok"), inside

        # The service's own output is there to quote, and the probe's request is in it.
        assert "GET / HTTP/1.1" in engine.service_logs(service_id, tail=5)
        attached = set((engine.network_info(name) or {}).get("Containers") or {})
        assert service_id in attached, attached

        engine.stop_service(service_id, grace_s=2)
        assert engine.service_status(service_id) == ("gone", None)
        engine.stop_service(service_id)  # stopping twice is fine (an apply's finally after a failure)
    finally:
        engine.prune("containers", docker_labels)  # so that a failure above is the one reported
        removed = engine.remove_networks(docker_labels)
    assert removed == [name]
    assert engine.network_info(name) is None


def test_a_service_that_exits_says_so_with_its_exit_code(
        engine: Engine, base_image: str, docker_labels: dict[str, str]) -> None:
    name = f"mlperf-ops-test-{docker_labels['org.mlperf-ops.test']}"
    engine.create_private_network(name, docker_labels)
    try:
        spec = ContainerSpec(image=base_image, command=["python3", "-c", "print('loading failed'); raise SystemExit(7)"],
                             labels=docker_labels)
        service_id = engine.start_service(spec, name, "llm-server")
        for _ in range(100):
            status, code = engine.service_status(service_id)
            if status != "running" and status != "created":
                break
            import time
            time.sleep(0.1)
        assert (status, code) == ("exited", 7)
        assert "loading failed" in engine.service_logs(service_id)
        engine.stop_service(service_id)
    finally:
        engine.prune("containers", docker_labels)
        engine.remove_networks(docker_labels)
