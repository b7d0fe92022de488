"""An LLM benchmark's inference server as a sidecar container that `apply` starts and stops.

A benchmark whose `server:` declares a `sidecar` gets, before its first run, a private
Docker network that reaches nothing else (an `internal` network: no route to the host's
networks or the outside), the server container on it (reachable there as `llm-server`),
and its harness containers on that network only. `apply` waits until the server answers
`/v1/models` (bounded; a server that never does stops `apply` with its last log lines),
records which server answered (model, version, image digest), and removes the server and
the network when the benchmark's runs are over, when `apply` ends, and when it fails.

The health probe runs in a short-lived container of the harness's own image on the same
network: the question is whether the *harness* can reach the server, and the controller
may not be able to reach an internal network at all (a remote engine, a rootless one).

Everything this module creates carries the state directory's label (`runner.STATE_LABEL`),
so after `kill -9` of `apply` the next `apply` (which holds the ledger lock, so nothing
else of that state directory runs) removes the leftovers before it starts anything.
Docker itself is reached only through `engine.Engine`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlperf_ops.execute.engine import Engine
from mlperf_ops.core.errors import OperationalError
from mlperf_ops.core.events import ApplyKind, Event, EventSink
from mlperf_ops.execute.executor import ContainerResult, ContainerSpec, Executor, ExecutorName, GpuRequest, LineSink, Mount
from mlperf_ops.manifest.model import SIDECAR_ALIAS, SIDECAR_MODEL_MOUNT, BenchmarkSpec, Sidecar, SystemSpec
from mlperf_ops.run.runner import STATE_LABEL, state_label
from mlperf_ops.state.ledger import Ledger

ROLE_LABEL = "org.mlperf-ops.role"
ROLE = "llm-sidecar"
PROBE_WINDOW_S = 10.0  # one probe container polls this long: the sidecar's state is checked between
LOG_TAIL_LINES = 30
PROBE_MARK = "MLPERF-OPS-SERVER "

# Runs in the harness image with `python3 -c`: the standard library only, so any image
# with a Python answers. Prints the identity after PROBE_MARK and exits 0, or exits 3
# when the server did not answer within the window (the caller looks at the sidecar
# and tries again until its own deadline).
PROBE_SCRIPT = r'''
import json, sys, time, urllib.request
base, window = sys.argv[1].rstrip("/"), float(sys.argv[2])
end = time.monotonic() + window
def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as answer:
        return json.loads(answer.read().decode("utf-8")), dict(answer.headers)
while True:
    try:
        models, headers = get("/v1/models")
        break
    except Exception as exc:
        if time.monotonic() >= end:
            print("not yet: %s: %s" % (type(exc).__name__, exc))
            sys.exit(3)
        time.sleep(0.5)
version = None
try:
    answer, _ = get("/version")
    version = answer.get("version") if isinstance(answer, dict) else None
except Exception:
    pass
print("MLPERF-OPS-SERVER " + json.dumps({"models": models, "version": version,
                                         "server_header": headers.get("server") or headers.get("Server")}))
'''


@dataclass(frozen=True)
class ServerIdentity:
    """Which server answered a benchmark's runs: for the run record and the system description."""

    model: str | None
    models: tuple[str, ...]
    owned_by: str | None
    version: str | None
    server_header: str | None
    image: str
    image_id: str
    repo_digests: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "sidecar", "model": self.model, "models": list(self.models), "owned_by": self.owned_by,
                "version": self.version, "server_header": self.server_header, "image": self.image,
                "image_id": self.image_id, "repo_digests": list(self.repo_digests)}

    def software(self) -> str:
        """One entry of the system description's software stack."""
        who = self.server_header or self.owned_by or "OpenAI-compatible server"
        version = f" {self.version}" if self.version else ""
        digest = self.repo_digests[0] if self.repo_digests else f"{self.image}@{self.image_id}"
        return f"{who}{version} serving {self.model or 'no model'} (sidecar image {digest})"


def parse_identity(log_text: str, image: str, image_id: str, repo_digests: tuple[str, ...]) -> ServerIdentity:
    """The identity a probe printed; an answer that is no OpenAI model list is an error."""
    line = next((ln for ln in reversed(log_text.splitlines()) if ln.startswith(PROBE_MARK)), None)
    if line is None:
        raise OperationalError("the sidecar's health probe printed no answer", hint="see its log above")
    data = json.loads(line[len(PROBE_MARK):])
    listing = data.get("models")
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        raise OperationalError(f"the sidecar's /v1/models did not answer an OpenAI model list: {str(listing)[:200]}",
                               hint="the sidecar image must run an OpenAI-compatible server")
    models = tuple(str(m["id"]) for m in entries if isinstance(m, dict) and m.get("id"))
    owned = next((str(m["owned_by"]) for m in entries if isinstance(m, dict) and m.get("owned_by")), None)
    version = data.get("version")
    header = data.get("server_header")
    return ServerIdentity(model=models[0] if models else None, models=models, owned_by=owned,
                          version=str(version) if version else None, server_header=str(header) if header else None,
                          image=image, image_id=image_id, repo_digests=repo_digests)


SOFTWARE_KEY = "llm_server:"  # + benchmark: a probe fact of the system (systems/<id>.json's software stack)


def kept_server_facts(old_probe: Mapping[str, str] | None) -> dict[str, str]:
    """The servers a system's earlier applies recorded, kept when its probe is taken again."""
    return {k: v for k, v in (old_probe or {}).items() if k.startswith(SOFTWARE_KEY)}


def sidecar_labels(state: str, system: str, benchmark: str) -> dict[str, str]:
    return {STATE_LABEL: state, ROLE_LABEL: ROLE, "org.mlperf-ops.system": system,
            "org.mlperf-ops.benchmark": benchmark}


def gpu_request(sidecar: Sidecar, system: SystemSpec) -> GpuRequest | None:
    acc = system.accelerator
    if sidecar.gpus is None or acc is None or acc.vendor not in ("nvidia", "amd"):
        return None  # validation refuses GPUs without such an accelerator
    vendor: Literal["nvidia", "amd"] = "nvidia" if acc.vendor == "nvidia" else "amd"
    if sidecar.gpus == "all":
        return GpuRequest(vendor=vendor)
    if isinstance(sidecar.gpus, int):
        return GpuRequest(vendor=vendor, count=sidecar.gpus)
    return GpuRequest(vendor=vendor, device_ids=tuple(sidecar.gpus))


def server_spec(system: SystemSpec, bench: BenchmarkSpec, labels: Mapping[str, str]) -> ContainerSpec:
    """The sidecar's container: the declared image, command, GPUs, model (read-only) and env;
    the same hardening as every harness (read-only root, private /tmp, no capabilities)."""
    assert bench.server is not None and bench.server.sidecar is not None
    sidecar = bench.server.sidecar
    mounts: tuple[Mount, ...] = ()
    if bench.model is not None:
        mounts = (Mount(Path(bench.model.path).absolute(), sidecar.model_mount or SIDECAR_MODEL_MOUNT, True),)
    # HOME=/tmp: the uid has no home and the root file system is read-only; servers cache there.
    env = {"HOME": "/tmp", **dict(sidecar.env)}
    return ContainerSpec(image=sidecar.image, command=list(sidecar.command) if sidecar.command else None,
                         env=env, mounts=mounts, gpus=gpu_request(sidecar, system), shm_size=sidecar.shm,
                         labels=dict(labels))


class OnNetwork:
    """The executor a sidecar's benchmark runs with: every container on the private network only."""

    name: ExecutorName = "docker"

    def __init__(self, engine: Engine, network: str) -> None:
        self._engine = engine
        self.network = network

    def run(self, spec: ContainerSpec, log_path: Path, on_line: LineSink | None = None,
            timeout_s: float = 3600.0) -> ContainerResult:
        return self._engine.run_on_network(spec, self.network, log_path, on_line, timeout_s)

    def remove_orphans(self, labels: Mapping[str, str]) -> list[str]:
        return self._engine.remove_orphans(labels)

    def close(self) -> None:
        return None  # the engine is closed by whoever connected it


@dataclass
class _Running:
    key: tuple[str, str]
    network: str
    container_id: str
    identity: ServerIdentity
    labels: dict[str, str] = field(default_factory=dict)


class Sidecars:
    """The sidecars of one `apply`: at most one server runs at a time (two large models rarely
    fit on the same GPUs), started for a benchmark's first run and kept for the next ones."""

    def __init__(self, engine: Executor, ledger: Ledger, on_event: EventSink) -> None:
        self._engine = engine
        self._ledger = ledger
        self._state_label = state_label(ledger.root)
        self._logs = ledger.sidecar_logs_dir
        self._on_event = on_event
        self._current: _Running | None = None

    def __enter__(self) -> Sidecars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def remove_leftovers(self) -> list[str]:
        """Networks (and any container still on one) that a killed `apply` of this state left."""
        if not isinstance(self._engine, Engine):
            return []
        labels = {STATE_LABEL: self._state_label, ROLE_LABEL: ROLE}
        gone = [f"container {cid[:12]}" for cid in self._engine.remove_orphans(labels)]
        return gone + [f"network {name}" for name in self._engine.remove_networks(labels)]

    def executor_for(self, system: SystemSpec, bench: BenchmarkSpec, harness_image: str) -> Executor:
        """The executor for one run: the engine itself, or (for a sidecar benchmark) the engine
        on the running sidecar's network, starting the sidecar first when it is not running."""
        if bench.server is None or bench.server.sidecar is None:
            if self._current is not None:
                self.stop()  # the next benchmark may need the GPUs the server holds
            return self._engine
        if not isinstance(self._engine, Engine):
            raise OperationalError(
                f"{system.id}/{bench.name}: a sidecar server needs the Docker executor; this apply runs "
                "inside a pod (MLPERF_OPS_EXECUTOR=local) and cannot start containers",
                hint="run the server beside the pod and declare its 'url' instead")
        key = (system.id, bench.name)
        if self._current is not None and self._current.key == key:
            status, code = self._engine.service_status(self._current.container_id)
            if status == "running":
                return OnNetwork(self._engine, self._current.network)
            self.stop(reason=f"it stopped ({status}, exit code {code})")
            self._event("warning", f"{system.id}/{bench.name}: the LLM server sidecar stopped; starting it again")
        elif self._current is not None:
            self.stop()
        self._current = self._start(self._engine, system, bench, harness_image)
        return OnNetwork(self._engine, self._current.network)

    def identity(self, system: str, benchmark: str) -> ServerIdentity | None:
        if self._current is not None and self._current.key == (system, benchmark):
            return self._current.identity
        return None

    def stop(self, reason: str = "") -> None:
        """Stop and remove the running sidecar and its network; keep its output in the state dir."""
        running, self._current = self._current, None
        if running is None or not isinstance(self._engine, Engine):
            return
        engine = self._engine
        try:
            try:
                self._keep_log(running)
            except (OperationalError, OSError) as error:
                # Stopping the server matters more than keeping its output.
                self._event("warning", f"could not keep the LLM server sidecar's output: {error}")
            engine.stop_service(running.container_id)
        finally:
            engine.remove_networks({"org.mlperf-ops.network": running.network})
        why = f" ({reason})" if reason else ""
        self._event("info", f"stopped the LLM server sidecar of {'/'.join(running.key)}{why}")

    # ------------------------------------------------------------------ internals

    def _event(self, kind: ApplyKind, message: str) -> None:
        self._on_event(Event(kind, message))

    def _keep_log(self, running: _Running) -> None:
        assert isinstance(self._engine, Engine)
        self._logs.mkdir(parents=True, exist_ok=True)
        path = self._logs / f"{running.key[0]}--{running.key[1]}--{running.container_id[:12]}.log"
        path.write_text(self._engine.service_logs(running.container_id), "utf-8")

    def _start(self, engine: Engine, system: SystemSpec, bench: BenchmarkSpec, harness_image: str) -> _Running:
        assert bench.server is not None and bench.server.sidecar is not None
        sidecar = bench.server.sidecar
        info = engine.image_info(sidecar.image)
        if info is None:
            raise OperationalError(
                f"{system.id}/{bench.name}: the sidecar image {sidecar.image} is not on this Docker engine "
                "(mlperf-ops never pulls images)", hint=f"docker pull {sidecar.image} (or build it) first")
        network = f"mlperf-ops-llm-{self._state_label}-{uuid.uuid4().hex[:8]}"
        labels = {**sidecar_labels(self._state_label, system.id, bench.name), "org.mlperf-ops.network": network}
        engine.create_private_network(network, labels)
        container_id = ""
        try:
            container_id = engine.start_service(server_spec(system, bench, labels), network, SIDECAR_ALIAS)
            self._event("info", f"{system.id}/{bench.name}: started the LLM server sidecar ({sidecar.image}) "
                                f"on the private network {network}; waiting up to {sidecar.health_timeout_s} s "
                                "for it to answer")
            identity = self._wait_healthy(engine, system, bench, sidecar, network, labels, container_id,
                                          harness_image, info.id, info.repo_digests)
        except BaseException:
            # Nothing of a sidecar that never served may outlive this call (also on Ctrl-C).
            if container_id:
                self._keep_log(_Running((system.id, bench.name), network, container_id,
                                        ServerIdentity(None, (), None, None, None, sidecar.image, info.id, ())))
                engine.stop_service(container_id, grace_s=2)
            engine.remove_networks({"org.mlperf-ops.network": network})
            raise
        self._event("info", f"{system.id}/{bench.name}: the LLM server answers: {identity.software()}")
        # systems/<id>.json lists the server in its software stack (sysdesc.build_system_json).
        probe = self._ledger.probe(system.id) or {}
        self._ledger.write_probe(system.id, {**probe, SOFTWARE_KEY + bench.name: identity.software()})
        return _Running((system.id, bench.name), network, container_id, identity, labels)

    def _wait_healthy(self, engine: Engine, system: SystemSpec, bench: BenchmarkSpec, sidecar: Sidecar,
                      network: str, labels: Mapping[str, str], container_id: str, harness_image: str,
                      image_id: str, repo_digests: tuple[str, ...]) -> ServerIdentity:
        deadline = time.monotonic() + sidecar.health_timeout_s
        self._logs.mkdir(parents=True, exist_ok=True)
        probe_log = self._logs / f"{system.id}--{bench.name}--{container_id[:12]}.probe.log"
        last = "no answer yet"
        while True:
            status, code = engine.service_status(container_id)
            if status != "running":
                raise self._unhealthy(engine, system, bench, container_id,
                                      f"the LLM server sidecar exited (exit code {code}) before it answered")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._unhealthy(engine, system, bench, container_id,
                                      f"the LLM server sidecar did not answer {sidecar.url}/v1/models within "
                                      f"{sidecar.health_timeout_s} s ({last})",
                                      hint="raise server.sidecar.health_timeout_s if it loads slowly, or check "
                                           "that its command makes it listen on 0.0.0.0:"
                                           f"{sidecar.port}")
            window = max(1.0, min(PROBE_WINDOW_S, left))
            probe = ContainerSpec(image=harness_image, command=["python3", "-c", PROBE_SCRIPT, sidecar.url,
                                                                f"{window:.1f}"],
                                  env={"HOME": "/tmp", "PYTHONUNBUFFERED": "1"}, mem_limit="256m", pids_limit=64,
                                  labels={**dict(labels), ROLE_LABEL: ROLE + "-probe"}, tmp_size="16m")
            result = engine.run_on_network(probe, network, probe_log, timeout_s=window + 60)
            text = probe_log.read_text("utf-8", "replace")
            if result.exit_code == 0:
                return parse_identity(text, sidecar.image, image_id, repo_digests)
            if result.exit_code != 3:
                raise self._unhealthy(engine, system, bench, container_id,
                                      f"the sidecar's health probe (python3 in {harness_image}) failed with exit "
                                      f"code {result.exit_code}: {text.strip()[-300:]}")
            last = text.strip().splitlines()[-1] if text.strip() else last

    def _unhealthy(self, engine: Engine, system: SystemSpec, bench: BenchmarkSpec, container_id: str,
                   message: str, hint: str | None = None) -> OperationalError:
        tail = engine.service_logs(container_id, tail=LOG_TAIL_LINES).rstrip()
        lines = f"\n--- the server's last {LOG_TAIL_LINES} lines ---\n{tail}" if tail else \
            "\n(the server printed nothing)"
        return OperationalError(f"{system.id}/{bench.name}: {message}{lines}",
                                hint=hint or f"the server's whole output is kept in {self._logs}")
