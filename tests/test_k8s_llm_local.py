"""An LLM system as `render k8s` runs it: the llm-endpoint controller image in a pod runs the LLM
harness, for real.

The Job's pod runs `mlperf-ops apply` with the local executor, which starts the harness as a
child process: the run declares no `command:`, so it must be the harness image's own CMD
(`python3 -m harness.llm run`, recorded in the controller image when it is built) with the
variables that image declares (NLTK_DATA: the sentence splitter's tables the ROUGE scorer
needs). The old local executor started the image-classification harness here.

The test builds the llm-endpoint controller (`images build controller --for llm-endpoint`),
renders the Job for tests/project/manifests/llm-k8s.yaml — its server declared by `url:` — and
starts the Job's container as a kubelet would (tests/support/k8s_pod.py): its command, env and
working directory; uid 10001, read-only root, capabilities dropped; the state claim as a
writable bind mount, the manifest's ConfigMap as files, the model and data set as read-only
hostPath volumes; its own network namespace (Docker's bridge), from which it reaches
llama.cpp's real server on this machine at the bridge's gateway, as a pod reaches a Service.
The server serves `write_chain`'s tiny model (every answer `Done.`, five tokens). With the
shipped smoke profile, `apply` in the pod runs Offline performance (VALID, ~22 s), its TEST06
audit, and the accuracy run over the 32 prompts, scored in the pod (~45 s in all; building the
controller image once adds ~1 min).

Planting the old `DEFAULT_COMMAND` back (the vision harness for a run without `command:`) fails
every run in the pod, and passing on only the old fixed variables (no NLTK_DATA) fails the
accuracy run: both were shown once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec
from mlperf_ops.execute.local import HARNESS_COMMAND_ENV, HARNESS_ENV_NAMES_ENV
from mlperf_ops.plan.controller import load_context, make_plan
from mlperf_ops.render import k8s
from mlperf_ops.render.k8s_documents import render_k8s_documents
from mlperf_ops.run.artifacts import digest
from mlperf_ops.stacks import images
from mlperf_ops.state.ledger import Ledger
from tests.support import bridge, llm_tiny_model
from tests.support.k8s_pod import pod_spec
from tests.support.llamacpp_server import SCORING_DATA, ensure_llama_cpp, serving
from tests.support.llm_harness_run import write_dataset
from tests.test_k8s import _kubernetes_validate

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
IMAGES_DIR = REPO / "images"
MANIFEST = REPO / "tests" / "project" / "manifests" / "llm-k8s.yaml"
PROMPTS = 32


@dataclass(frozen=True)
class PodRun:
    exit_code: int
    lines: list[str]
    manifest: Path
    state: Path
    records: dict[str, dict[str, Any]]  # mode -> the pod's record of it

    def explain(self) -> str:
        return "\n".join(self.lines[-60:])


@pytest.fixture(scope="module")
def controller_tag(engine: Engine) -> str:
    """llm-endpoint-controller, built (with the llm-endpoint image below it) only when its tag is missing."""
    ref = images.ensure_image(engine, images.load_controller(IMAGES_DIR, "llm-endpoint"))
    info = engine.require_image(ref.tag)
    assert info.labels["org.mlperf-ops.target"] == "llm-endpoint-controller"
    return ref.tag


def _bridge_gateway() -> str:
    """This machine's address on Docker's default bridge: where a container reaches the server."""
    client = docker.from_env()
    try:
        return bridge.host_address(client.networks.get("bridge").attrs)
    finally:
        client.close()


def _manifest(home: Path, url: str) -> Path:
    data = write_dataset(home / "dataset.json", [f"Summarize article {i}: the quick brown fox" for i in range(PROMPTS)])
    # The model artifact is what the harness reads of it: the tokenizer that names the server's
    # tokens (token_ids: vocab) and decodes the accuracy run's answers.
    model = SCORING_DATA / "tokenizer_fast"
    text = MANIFEST.read_text("utf-8")
    for old, new in {"SERVER_URL": url, "MODEL_HOST_PATH": str(model), "DATASET_HOST_PATH": str(data),
                     "a" * 64: digest(model), "b" * 64: digest(data)}.items():
        assert old in text, old
        text = text.replace(old, new)
    path = home / "manifests" / "llm-k8s.yaml"
    path.parent.mkdir()
    path.write_text(text, "utf-8")
    return path


def _reachable_from_a_container(engine: Engine, image: str, url: str, home: Path, labels: dict[str, str]) -> None:
    """Fail fast (not after the harness's 300 s health wait) when a firewall keeps Docker's bridge
    from this machine's address."""
    probe = f"import urllib.request; urllib.request.urlopen({url + '/v1/models'!r}, timeout=10).read()"
    lines: list[str] = []
    result = engine.run(ContainerSpec(image=image, command=["python3", "-c", probe], network="bridge",
                                      user=f"{k8s.RUN_AS_UID}:{k8s.RUN_AS_UID}", labels=labels),
                        home / "reach.log", lines.append, timeout_s=60)
    assert result.exit_code == 0, f"a container on Docker's bridge cannot reach {url}: " + "\n".join(lines[-10:])


@pytest.fixture(scope="module")
def pod_run(engine: Engine, controller_tag: str, session_labels: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> PodRun:
    ensure_llama_cpp()
    home = tmp_path_factory.mktemp("k8s-llm")
    gguf = llm_tiny_model.write_chain(home / "chain.gguf")
    # Listening on every address: the pod reaches it at the bridge's gateway, this test's health
    # check at the loopback (tests/support/llamacpp_server.py asks 127.0.0.1).
    with serving(home, gguf, "--interrupt_requests", "False", "--host", "0.0.0.0") as url, \
            pytest.MonkeyPatch.context() as patch:
        port = url.rsplit(":", 1)[1]
        pod_url = f"http://{_bridge_gateway()}:{port}"
        _reachable_from_a_container(engine, controller_tag, pod_url, home, session_labels)
        manifest = _manifest(home, pod_url)
        patch.setenv("MLPERF_OPS_PROJECT", str(REPO))  # the manifest copy lives outside the project
        docs = render_k8s_documents(manifest, namespace="mlperf", state_pvc="ledger", image_registry=None,
                                    image_overrides={})
        configmap, job = docs
        validated = _kubernetes_validate(home, docs)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert job["spec"]["template"]["spec"]["containers"][0]["image"] == controller_tag
        pod = pod_spec(job, configmap, home, session_labels, network="bridge")
        assert pod.spec.env["MLPERF_OPS_EXECUTOR"] == "local"
        lines: list[str] = []
        result = engine.run(pod.spec, home / "pod.log", lines.append, timeout_s=600)
    records = {}
    for path in (pod.state / "records").glob("*/record.json"):  # finished runs, one per run key
        record = json.loads(path.read_text())
        record["_dir"] = path.parent
        records[record["mode"]] = record
    return PodRun(result.exit_code, lines, manifest, pod.state, records)


def test_the_controller_records_the_harness_images_command_and_variables(engine: Engine, controller_tag: str) -> None:
    harness = engine.image_info(images.image_tag(images.load_target(IMAGES_DIR, "llm-endpoint")))
    assert harness is not None
    env = dict(entry.split("=", 1) for entry in engine.require_image(controller_tag).env)
    assert json.loads(env[HARNESS_COMMAND_ENV]) == list(harness.command) == ["python3", "-m", "harness.llm", "run"]
    assert "NLTK_DATA" in json.loads(env[HARNESS_ENV_NAMES_ENV])


def test_apply_in_the_pod_runs_the_llm_harness_against_the_server(pod_run: PodRun) -> None:
    assert pod_run.exit_code == 0, pod_run.explain()
    assert set(pod_run.records) == {"performance", "audit", "accuracy"}, pod_run.explain()
    for mode, record in pod_run.records.items():
        assert record["status"] == "done", (mode, record.get("reason"), pod_run.explain())
        assert record["image"]["id"] == "local" and record["system"] == "llm-k8s"
        # keyed on the harness image's identity as the host computes it
        assert record["image"]["identity"] == images.spec_hash(images.load_target(IMAGES_DIR, "llm-endpoint"))
    performance = pod_run.records["performance"]
    assert performance["scenario"] == "Offline" and performance["summary"]["result_validity"] == "VALID"
    assert pod_run.records["audit"]["audit_test"] == "TEST06"
    # The LLM harness ran, through the server: every answer the chain model's five tokens.
    for mode in ("performance", "audit", "accuracy"):
        [run_file] = list(pod_run.records[mode]["_dir"].rglob("llm_run.json"))
        run = json.loads(run_file.read_text("utf-8"))
        assert run["faults"] == 0 and run["samples_completed"] >= PROMPTS, run
        assert run["tokens"] == len(llm_tiny_model.CHAIN) * run["samples_completed"], run
        assert run["generation"]["max_tokens"] == 128, run


def test_the_accuracy_run_is_scored_in_the_pod(pod_run: PodRun) -> None:
    # Scoring splits sentences with NLTK's tables from the image (NLTK_DATA): the pod found them.
    record = pod_run.records["accuracy"]
    assert record["status"] == "done", (record.get("reason"), pod_run.explain())
    for metric in ("ROUGE1=", "ROUGE2=", "ROUGEL=", "ROUGELSUM=", "GEN_LEN="):
        assert metric in record["reason"], record["reason"]
    [text] = list(record["_dir"].rglob("accuracy.txt"))
    assert f"'gen_num': {PROMPTS}}}" in text.read_text(), text.read_text()


def test_the_host_finds_nothing_left_to_run_in_the_pods_ledger(pod_run: PodRun,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Same run keys in the pod and on the host: records made in either are interchangeable.
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    host_plan = make_plan(load_context(pod_run.manifest), Ledger(pod_run.state))
    assert host_plan.runs and {r.action for r in host_plan.runs} == {"skip"}, host_plan.runs
