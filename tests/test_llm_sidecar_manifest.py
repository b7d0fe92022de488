"""A benchmark's LLM server declared as a sidecar (`server: {sidecar: …}`), without an engine:
what the manifest accepts and refuses, what reaches the harness and the run keys, the sidecar's
container spec, and where the server's identity goes (the system description's software stack).
The real server in a real sidecar is tests/test_llm_sidecar.py."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.stacks import images
from mlperf_ops.core.errors import OperationalError
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.model import Accelerator, Manifest, Sidecar
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import plan
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary
from mlperf_ops.rules import load_rules
from mlperf_ops.run.runner import container_env
from tests.support.plans import plan_llm, with_first_benchmark
from mlperf_ops.run.sidecar import kept_server_facts, parse_identity, server_spec, sidecar_labels
from mlperf_ops.manifest.sysdesc import build_system_json

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "tests" / "project" / "manifests" / "llm-sidecar.yaml"


_plan = plan_llm


def _with_sidecar(manifest: Manifest, **changes: object) -> Manifest:
    system = manifest.systems[0]
    bench = system.benchmarks[0]
    assert bench.server is not None and bench.server.sidecar is not None
    server = dataclasses.replace(bench.server, sidecar=dataclasses.replace(bench.server.sidecar, **changes))
    bench = dataclasses.replace(bench, server=server)
    return with_first_benchmark(manifest, bench)


def test_the_sidecar_is_read_and_the_harness_reaches_it_by_its_alias() -> None:
    manifest = load_manifest(MANIFEST)
    bench = manifest.systems[0].benchmarks[0]
    assert bench.server is not None and bench.server.sidecar is not None
    sidecar = bench.server.sidecar
    assert sidecar.image == "SIDECAR_IMAGE" and sidecar.port == 8000 and sidecar.health_timeout_s == 120
    assert sidecar.command is not None and sidecar.command[:2] == ("--model", "/mlperf/model/tiny.gguf")
    run = next(r.spec for r in _plan(manifest).runs if r.spec.mode == "performance")
    env = container_env(run, images.load_target(REPO / "images", "llm-endpoint"), bench)
    assert env["MLPERF_LLM_URL"] == "http://llm-server:8000"
    assert run.inputs["server"]["sidecar"]["image"] == "SIDECAR_IMAGE"


@pytest.mark.parametrize("change", [{"image": "other/server:2"}, {"command": ("--model", "/m/other.gguf")},
                                    {"gpus": "all"}, {"env": (("VLLM_ATTENTION_BACKEND", "FLASH"),)}])
def test_another_sidecar_means_new_runs_with_the_reason(change: dict[str, object]) -> None:
    manifest = load_manifest(MANIFEST)
    first = _plan(manifest)
    records = {r.spec.run_id: RecordSummary(run_id=r.spec.run_id, key=r.spec.key, status="done",
                                            inputs=r.spec.inputs) for r in first.runs}
    ledger = LedgerSnapshot(latest=records, done={rec.key: rec for rec in records.values()})
    assert all(r.action == "skip" for r in _plan(manifest, ledger).runs)
    again = _plan(_with_sidecar(manifest, **change), ledger)
    assert {r.reason for r in again.runs if r.action == "run"} == {"LLM server changed"}
    # How long apply waits for the server is not part of what a run measured.
    same = _plan(_with_sidecar(manifest, health_timeout_s=5), ledger)
    assert all(r.action == "skip" for r in same.runs)


def _validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "tests" / "project" / "manifests"
    path.mkdir(parents=True)
    for name in ("images", "pipelines"):
        (tmp_path / "tests" / "project" / name).symlink_to(REPO / "tests" / "project" / name)
    (path / "m.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "mlperf_ops", "validate", str(path / "m.yaml")],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                               "PYTHONPATH": str(REPO)})


SIDECAR_BLOCK = MANIFEST.read_text().split("          sidecar:\n")[1].split("        model:")[0]


@pytest.mark.parametrize(("old", "new", "where", "message"), [
    ("          sidecar:\n", '          url: "http://127.0.0.1:8000"\n          sidecar:\n', "server.url",
     "give either 'url' or 'sidecar', not both"),
    ("          sidecar:\n" + SIDECAR_BLOCK, "", "server",
     "the server needs either 'url' (a server that is already running) or 'sidecar'"),
    ("            port: 8000\n", "            port: 8000\n            gpus: 2\n", "server.sidecar.gpus",
     "the sidecar asks for GPUs but the system declares no NVIDIA or AMD accelerator"),
    ("            port: 8000\n", "            port: 70000\n", "server.sidecar.port", "must be at most 65535"),
    ("            port: 8000\n", "", "server.sidecar", "port"),
    ("            image: SIDECAR_IMAGE\n", "            image: \"two words\"\n", "server.sidecar.image",
     "does not match"),
    ("            health_timeout_s: 120\n", "            health_timeout_s: 0\n", "server.sidecar.health_timeout_s",
     "must be at least 1"),
    ("            port: 8000\n", "            port: 8000\n            volumes: [/data]\n", "server.sidecar",
     "volumes"),
])
def test_a_bad_sidecar_is_a_manifest_problem_at_its_line(tmp_path: Path, old: str, new: str, where: str,
                                                         message: str) -> None:
    text = MANIFEST.read_text()
    assert old in text
    bad = text.replace(old, new)
    proc = _validate(tmp_path, bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    problem = next((line for line in out.splitlines() if f": systems[0].benchmarks[0].{where}" in line), None)
    assert problem is not None and message in problem, out
    # file:line:col of the offending line (or of the mapping that misses a key)
    path, line, col = problem.split(":")[:3]
    assert path.endswith("m.yaml") and int(line) >= 1 and int(col) >= 1, problem
    assert "hint:" in out, out


def test_gpus_are_taken_from_the_systems_accelerator_vendor() -> None:
    manifest = _with_sidecar(load_manifest(MANIFEST), gpus=("0", "2"))
    system = dataclasses.replace(manifest.systems[0],
                                 accelerator=Accelerator(vendor="nvidia", model="NVIDIA L4", count=4))
    bench = system.benchmarks[0]
    labels = sidecar_labels("abc", system.id, bench.name)
    spec = server_spec(system, bench, labels)
    assert spec.gpus is not None and spec.gpus.vendor == "nvidia" and spec.gpus.device_ids == ("0", "2")
    assert spec.image == "SIDECAR_IMAGE" and spec.command is not None and spec.command[0] == "--model"
    # the model artifact, read-only, where the command expects it; nothing of the host's environment
    assert [(m.target, m.read_only) for m in spec.mounts] == [("/mlperf/model", True)]
    assert dict(spec.env) == {"HOME": "/tmp"}
    assert spec.read_only_rootfs and spec.network == "none"  # the engine attaches the private network
    assert spec.labels["org.mlperf-ops.role"] == "llm-sidecar" and spec.labels["org.mlperf-ops.state"] == "abc"
    counted = server_spec(system, dataclasses.replace(bench, server=dataclasses.replace(
        bench.server, sidecar=Sidecar(image="x", port=1, gpus=1))), labels)  # type: ignore[arg-type]
    assert counted.gpus is not None and counted.gpus.count == 1 and not counted.gpus.device_ids


LLAMA_CPP_MODELS = {"object": "list", "data": [{"id": "/mlperf/model/tiny.gguf", "object": "model",
                                               "owned_by": "me", "permissions": []}]}


def test_the_servers_identity_is_what_it_answered() -> None:
    log = "some noise\nMLPERF-OPS-SERVER " + json.dumps({"models": LLAMA_CPP_MODELS, "version": None,
                                                         "server_header": "uvicorn"}) + "\n"
    identity = parse_identity(log, "mlperf-ops/llm-sidecar:1", "sha256:" + "c" * 64, ())
    assert identity.model == "/mlperf/model/tiny.gguf" and identity.version is None
    assert identity.as_dict()["image_id"] == "sha256:" + "c" * 64
    assert identity.software() == ("uvicorn serving /mlperf/model/tiny.gguf (sidecar image "
                                   "mlperf-ops/llm-sidecar:1@sha256:" + "c" * 64 + ")")
    pulled = parse_identity(log.replace('"version": null', '"version": "0.8.5"'), "vllm/vllm-openai:v0.8.5",
                            "sha256:" + "d" * 64, ("vllm/vllm-openai@sha256:" + "e" * 64,))
    assert pulled.software() == ("uvicorn 0.8.5 serving /mlperf/model/tiny.gguf (sidecar image "
                                 "vllm/vllm-openai@sha256:" + "e" * 64 + ")")
    with pytest.raises(OperationalError, match="did not answer an OpenAI model list"):
        parse_identity('MLPERF-OPS-SERVER {"models": {"detail": "Not Found"}}', "x", "sha256:0", ())


def test_the_server_is_in_the_system_descriptions_software_stack() -> None:
    probed = {"python": "3.11.2", "framework_versions": "mlcommons-loadgen 6.0.17",
              "llm_server:llama3.1-8b": "uvicorn serving tiny.gguf (sidecar image x@sha256:1)", "cpu": "x"}
    doc = build_system_json(probed, {}, division="open", submitter="S", status="available",
                            system_type="datacenter", system_name="n", accelerator_model=None,
                            accelerator_count=0, accelerator_memory=None)
    assert doc["other_software_stack"] == ("Python 3.11.2, mlcommons-loadgen 6.0.17, "
                                           "llama3.1-8b: uvicorn serving tiny.gguf (sidecar image x@sha256:1)")
    # a new probe of the machine keeps what earlier applies learnt about their servers
    assert kept_server_facts(probed) == {"llm_server:llama3.1-8b": probed["llm_server:llama3.1-8b"]}
    assert kept_server_facts(None) == {}
