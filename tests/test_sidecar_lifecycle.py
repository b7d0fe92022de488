"""The sidecar lifecycle of one `apply` (mlperf_ops/run/sidecar.py) against a scripted engine:
which server runs when, what is stopped and removed, what a server that never answers costs.
The same lifecycle on a real engine with a real server is tests/test_llm_sidecar.py."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from mlperf_ops.execute.engine import Engine, ImageInfo
from mlperf_ops.core.errors import OperationalError
from mlperf_ops.core.events import Event
from mlperf_ops.execute.executor import ContainerResult, ContainerSpec
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.model import BenchmarkSpec, SystemSpec
from mlperf_ops.run.sidecar import OnNetwork, Sidecars
from mlperf_ops.state.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "tests" / "project" / "manifests" / "llm-sidecar.yaml"
MODELS = {"object": "list", "data": [{"id": "tiny.gguf", "owned_by": "me"}]}


class ScriptedEngine(Engine):
    """The engine's service calls, recorded; probes answer as `probe_answers` says."""

    def __init__(self, probe_answers: Callable[[int], tuple[int, str]]) -> None:  # no docker client
        self.calls: list[tuple[str, str]] = []
        self.services: dict[str, str] = {}  # id -> status
        self.networks: set[str] = set()
        self.probes = 0
        self._answers = probe_answers

    def image_info(self, tag: str) -> ImageInfo | None:
        return ImageInfo(id="sha256:" + "f" * 64, tags=(tag,), labels={}, size_bytes=1) if tag != "absent" else None

    def create_private_network(self, name: str, labels: Mapping[str, str]) -> str:
        self.calls.append(("network", name))
        self.networks.add(name)
        return name

    def start_service(self, spec: ContainerSpec, network: str, alias: str) -> str:
        sid = f"{sum(1 for c in self.calls if c[0] == 'start')}" + "a" * 63  # unique in its first 12, as real ids
        self.calls.append(("start", spec.image))
        self.services[sid] = "running"
        return sid

    def service_status(self, container_id: str) -> tuple[str, int | None]:
        status = self.services.get(container_id, "gone")
        return status, (1 if status == "exited" else None)

    def service_logs(self, container_id: str, tail: int | None = None) -> str:
        return "INFO: loading tiny.gguf\nINFO: Uvicorn running on http://0.0.0.0:8009\n"

    def stop_service(self, container_id: str, grace_s: int = 10) -> None:
        self.calls.append(("stop", container_id[0]))
        self.services.pop(container_id, None)

    def remove_networks(self, labels: Mapping[str, str]) -> list[str]:
        name = labels.get("org.mlperf-ops.network")
        gone = [n for n in self.networks if name is None or n == name]
        self.networks -= set(gone)
        return gone

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        return []

    def run_on_network(self, spec: ContainerSpec, network: str, log_path: Path,
                       on_line: Callable[[str], None] | None = None, timeout_s: float = 3600.0) -> ContainerResult:
        assert network in self.networks and spec.command is not None and spec.command[0] == "python3"
        code, text = self._answers(self.probes)
        self.probes += 1
        log_path.write_text(text)
        return ContainerResult(code, False, False, 0.1, log_path, "probe")


def _answer_at_once(_: int) -> tuple[int, str]:
    return 0, "MLPERF-OPS-SERVER " + json.dumps({"models": MODELS, "version": "b1", "server_header": None})


def _benches() -> tuple[SystemSpec, BenchmarkSpec, BenchmarkSpec, BenchmarkSpec]:
    system = load_manifest(MANIFEST).systems[0]
    first = system.benchmarks[0]
    assert first.server is not None and first.server.sidecar is not None
    other = dataclasses.replace(first, name="llama3.1-8b-edge", server=dataclasses.replace(
        first.server, sidecar=dataclasses.replace(first.server.sidecar, image="other:1")))
    plain = dataclasses.replace(first, name="resnet", server=None)
    return system, first, other, plain


def test_one_server_at_a_time_kept_for_its_benchmarks_runs(tmp_path: Path) -> None:
    engine = ScriptedEngine(_answer_at_once)
    events: list[Event] = []
    ledger = Ledger(tmp_path / "state")
    system, first, other, plain = _benches()
    with Sidecars(engine, ledger, events.append) as sidecars:
        runner = sidecars.executor_for(system, first, "harness:1")
        assert isinstance(runner, OnNetwork) and runner.network in engine.networks
        assert sidecars.executor_for(system, first, "harness:1").network == runner.network  # type: ignore[attr-defined]
        assert [c[0] for c in engine.calls] == ["network", "start"] and engine.probes == 1
        identity = sidecars.identity(system.id, first.name)
        assert identity is not None and identity.model == "tiny.gguf" and identity.version == "b1"
        assert ledger.probe(system.id) == {"llm_server:llama3.1-8b": identity.software()}
        # another benchmark's server: the first one goes (with its network) before it starts
        sidecars.executor_for(system, other, "harness:1")
        assert engine.calls[2:] == [("stop", "0"), ("network", engine.calls[3][1]), ("start", "other:1")]
        assert len(engine.networks) == 1
        # a benchmark without a sidecar runs on the engine itself, and frees the GPUs first
        assert sidecars.executor_for(system, plain, "harness:1") is engine
        assert engine.calls[-1] == ("stop", "1") and not engine.networks and not engine.services
        sidecars.executor_for(system, first, "harness:1")
    # leaving the block (apply's finally) stops whatever runs
    assert engine.calls[-1] == ("stop", "2") and not engine.networks and not engine.services
    kept = sorted(p.name for p in (tmp_path / "state" / "sidecars").glob("*.log") if ".probe." not in p.name)
    assert len(kept) == 3, kept  # every server's output is kept


def test_a_server_that_dies_between_runs_is_started_again(tmp_path: Path) -> None:
    engine = ScriptedEngine(_answer_at_once)
    events: list[Event] = []
    system, first, _, _ = _benches()
    with Sidecars(engine, Ledger(tmp_path / "state"), events.append) as sidecars:
        sidecars.executor_for(system, first, "harness:1")
        engine.services[next(iter(engine.services))] = "exited"
        sidecars.executor_for(system, first, "harness:1")
    assert [c[0] for c in engine.calls] == ["network", "start", "stop", "network", "start", "stop"]
    assert any("stopped; starting it again" in e.message for e in events), events


def test_a_server_that_never_answers_is_given_up_after_its_timeout(tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda n: (3, "not yet: URLError: <urlopen error [Errno 111] Connection refused>\n"))
    system, first, _, _ = _benches()
    assert first.server is not None and first.server.sidecar is not None
    slow = dataclasses.replace(first, server=dataclasses.replace(
        first.server, sidecar=dataclasses.replace(first.server.sidecar, health_timeout_s=1)))
    with Sidecars(engine, Ledger(tmp_path / "state"), lambda e: None) as sidecars:
        with pytest.raises(OperationalError) as caught:
            sidecars.executor_for(system, slow, "harness:1")
    message = caught.value.message
    assert "did not answer http://llm-server:8000/v1/models within 1 s" in message
    assert "Connection refused" in message  # what the probe last saw
    assert "--- the server's last 30 lines ---\nINFO: loading tiny.gguf" in message
    assert engine.probes >= 1 and not engine.services and not engine.networks  # nothing outlives it


def test_an_image_that_is_not_there_is_never_pulled(tmp_path: Path) -> None:
    engine = ScriptedEngine(_answer_at_once)
    system, first, _, _ = _benches()
    assert first.server is not None and first.server.sidecar is not None
    absent = dataclasses.replace(first, server=dataclasses.replace(
        first.server, sidecar=dataclasses.replace(first.server.sidecar, image="absent")))
    with Sidecars(engine, Ledger(tmp_path / "state"), lambda e: None) as sidecars:
        with pytest.raises(OperationalError, match="is not on this Docker engine"):
            sidecars.executor_for(system, absent, "harness:1")
    assert engine.calls == []
