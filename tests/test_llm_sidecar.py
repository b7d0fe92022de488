"""`apply` with the LLM server as a sidecar it starts: llama.cpp's real server
(llama-cpp-python[server], tests/support/llm_sidecar_image.py) serving a tiny random-weight model written
here, on a private network that only the harness joins.

- a run goes through the sidecar, the record and systems/<id>.json say which server answered,
  and nothing of the sidecar (container, network) outlives the apply;
- a sidecar that never answers, or dies while loading, stops apply with its last log lines;
- `kill -9` of apply during an LLM run: the next apply removes the orphaned sidecar and network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.support import llm_tiny_model
from tests.support.docker_fixtures import PROJECT_ROOT as REPO
from tests.support.llm_harness_run import write_dataset
from tests.support.llm_sidecar_image import ensure_sidecar_image
from mlperf_ops.run.artifacts import digest
from mlperf_ops.execute.engine import Engine
from mlperf_ops.run.runner import state_label
from mlperf_ops.state.ledger import Ledger

pytestmark = [pytest.mark.docker, pytest.mark.slow]
MANIFEST = REPO / "tests" / "project" / "manifests" / "llm-sidecar.yaml"
ONLY = "*/Offline/performance"
SYSTEM = "llm-sidecar"


@dataclass(frozen=True)
class Project:
    root: Path
    image: str
    model: Path
    data: Path

    def manifest(self, name: str, replace: dict[str, str] | None = None) -> Path:
        text = MANIFEST.read_text()
        text = (text.replace("SIDECAR_IMAGE", self.image).replace("MODEL_DIR", str(self.model))
                .replace("a" * 64, digest(self.model)).replace("DATASET", str(self.data))
                .replace("b" * 64, digest(self.data)))
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = self.root / "manifests" / f"{name}.yaml"
        path.write_text(text)
        return path


@pytest.fixture(scope="module")
def project(engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    work = tmp_path_factory.mktemp("sidecar")
    image = ensure_sidecar_image(engine, base_image, work)
    root = work / "project"
    (root / "manifests").mkdir(parents=True)
    (root / "images").symlink_to(REPO / "images")
    (root / "pipelines").symlink_to(REPO / "tests" / "project" / "pipelines")
    model = work / "model"
    model.mkdir()
    llm_tiny_model.write(model / "tiny.gguf")
    # llama.cpp's server names tokens by their text: the harness maps them back through the
    # model directory's tokenizer.json (a flat {token: id} here), as the reference's SUT_API.py does.
    (model / "tokenizer.json").write_text(json.dumps(llm_tiny_model.vocab()))
    data = write_dataset(work / "dataset.json", [f"Summarize article {i}: the quick brown fox." for i in range(8)])
    return Project(root, image, model, data)


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[docker.DockerClient]:
    raw = docker.from_env()
    yield raw
    raw.close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(NO_COLOR="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def _apply(project: Project, manifest: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(manifest), "--state-dir", str(state),
                           "--only", ONLY, "-v", *extra], cwd=project.root, env=_env(), capture_output=True,
                          text=True, timeout=1200)


def _left(client: docker.DockerClient, state: Path) -> dict[str, list[str]]:
    """Every container and network this state directory's applies made that still exists."""
    label = f"org.mlperf-ops.state={state_label(Ledger(state).root)}"
    return {"containers": [f"{c.name} {c.status} {c.labels.get('org.mlperf-ops.role', 'run')}"
                           for c in client.containers.list(all=True, filters={"label": label})],
            "networks": [n.name for n in client.networks.list(filters={"label": label})]}


def _records(state: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((state / "records").glob("*/record.json"))]


def test_a_run_through_the_sidecar_records_the_server_and_leaves_nothing(
        project: Project, client: docker.DockerClient, tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = _apply(project, project.manifest("ok"), state)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "started the LLM server sidecar" in out and "the LLM server answers" in out, out
    assert _left(client, state) == {"containers": [], "networks": []}
    records = _records(state)
    assert records and all(r["status"] == "done" for r in records), records
    # What the harness saw: the server on the private network, by its alias, serving the model.
    runs = list((state / "records").glob("*/output/llm_run.json")) or list(state.rglob("llm_run.json"))
    assert runs, list(state.rglob("*"))
    seen = json.loads(runs[0].read_text())
    assert seen["server"]["url"] == "http://llm-server:8000", seen
    assert seen["server"]["models"] == ["/mlperf/model/tiny.gguf"], seen
    assert seen["faults"] == 0 and seen["samples_completed"] > 0, seen
    # The record says which server answered: its model, version (none here) and image digest.
    image_id = client.images.get(project.image).id
    for record in records:
        assert record["server"] == {"kind": "sidecar", "model": "/mlperf/model/tiny.gguf",
                                    "models": ["/mlperf/model/tiny.gguf"], "owned_by": "me", "version": None,
                                    "server_header": "uvicorn", "image": project.image, "image_id": image_id,
                                    "repo_digests": []}, record
    # systems/<id>.json's software stack names the server, its model and the image it ran from.
    probe = json.loads((state / "probes" / f"{SYSTEM}.json").read_text())
    assert probe["llm_server:llama3.1-8b"].endswith(f"serving /mlperf/model/tiny.gguf (sidecar image "
                                                    f"{project.image}@{image_id})"), probe
    described = subprocess.run([sys.executable, "-m", "mlperf_ops", "describe", str(project.manifest("ok")),
                                "--system", SYSTEM, "--state-dir", str(state)], cwd=project.root, env=_env(), capture_output=True,
                               text=True, timeout=120)
    assert described.returncode == 0, described.stderr
    assert f"llama3.1-8b: uvicorn serving /mlperf/model/tiny.gguf (sidecar image {project.image}@{image_id})" \
        in json.loads(described.stdout)["other_software_stack"]
    # The server's whole output is kept: it served the harness's requests.
    logs = [p for p in (state / "sidecars").glob("llm-sidecar--llama3.1-8b--*.log") if ".probe." not in p.name]
    assert logs and "POST /v1/completions" in logs[0].read_text(), logs


@pytest.mark.parametrize(("case", "replace", "expected"), [
    # it listens, but not where the manifest says: apply waits its bounded time, then quotes it
    ("wrong-port", {'--port, "8000"': '--port, "8009"', "health_timeout_s: 120": "health_timeout_s: 20"},
     ["did not answer http://llm-server:8000/v1/models within 20 s", "0.0.0.0:8009"]),
    # it dies while loading: apply says so at once, with the server's own error
    ("no-model", {"/mlperf/model/tiny.gguf": "/mlperf/model/missing.gguf"},
     ["the LLM server sidecar exited (exit code", "missing.gguf"]),
])
def test_a_sidecar_that_never_serves_stops_apply_with_its_last_lines(
        project: Project, client: docker.DockerClient, tmp_path: Path, case: str, replace: dict[str, str],
        expected: list[str]) -> None:
    state = tmp_path / "state"
    started = time.monotonic()
    proc = _apply(project, project.manifest(case, replace), state)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # a clean error of ours; a traceback may only be the server's own, quoted
    assert "Traceback" not in out.split("--- the server's last")[0], out
    for text in expected:
        assert text in out, out
    assert "--- the server's last 30 lines ---" in out, out
    assert time.monotonic() - started < 300, out  # bounded: not the harness's own 300 s wait after it
    assert _left(client, state) == {"containers": [], "networks": []}
    assert not _records(state)  # no run happened, so nothing is recorded as one


def test_kill_9_during_an_llm_run_leaves_no_sidecar_after_the_next_apply(
        project: Project, client: docker.DockerClient, tmp_path: Path) -> None:
    state = tmp_path / "state"
    manifest = project.manifest("killed")
    label = f"org.mlperf-ops.state={state_label(Ledger(state).root)}"
    log = tmp_path / "killed-apply.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mlperf_ops", "apply", str(manifest), "--state-dir", str(state),
                                 "--only", ONLY], cwd=project.root, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        running: list[str] = []
        while time.monotonic() < deadline and proc.poll() is None:
            # "during an LLM run": the harness container is running beside its sidecar
            harness = client.containers.list(filters={"label": [label, "org.mlperf-ops.run-id"]})
            if harness:
                running = [c.id for c in harness]
                break
            time.sleep(0.2)
        assert running, f"apply never started an LLM run:\n{log.read_text()}"
        os.killpg(proc.pid, signal.SIGKILL)  # the apply and its children; not the Docker daemon
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    orphaned = _left(client, state)
    # The kill really orphaned them: the engine keeps both until somebody removes them.
    assert any(c.endswith("llm-sidecar") for c in orphaned["containers"]) and orphaned["networks"], orphaned

    again = _apply(project, manifest, state)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "left by an interrupted apply" in out, out
    for network in orphaned["networks"]:
        assert network in out, out  # named when removed
    assert _left(client, state) == {"containers": [], "networks": []}
    assert all(r["status"] == "done" for r in _records(state))
