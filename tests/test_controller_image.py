"""The controller image runs the Job `mlperf-ops render k8s` emits, for real.

Builds images/controller/ on top of the cpu harness image, then starts the rendered Job's
container the way a kubelet would — its command, env, working dir and user taken from the
rendered Job, the manifest where its ConfigMap is mounted, an empty writable state volume,
read-only root with a tmpfs /tmp, no capabilities, no network — and checks that `apply`
inside it left a finished, VALID run in the ledger under the host's run key identity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlperf_ops.stacks import images
from mlperf_ops.render import k8s
from mlperf_ops.render.k8s_documents import render_k8s_documents
from mlperf_ops.plan.controller import load_context, make_plan
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec
from mlperf_ops.state.ledger import Ledger
from tests.support.k8s_pod import pod_spec
from tests.test_k8s import _kubernetes_validate

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
IMAGES_DIR = REPO / "images"
ONLY = "*/SingleStream/performance"


@pytest.fixture(scope="module")
def controller_tag(engine: Engine) -> str:
    """cpu-controller, built (with the cpu image below it) only when its content tag is missing."""
    ref = images.ensure_image(engine, images.load_controller(IMAGES_DIR, "cpu"))
    info = engine.require_image(ref.tag)
    assert info.labels["org.mlperf-ops.target"] == "cpu-controller"
    assert info.labels["org.mlperf-ops.spec-hash"] == ref.spec_hash
    return ref.tag


def _host_cpu_identity() -> str:
    return images.spec_hash(images.load_target(IMAGES_DIR, "cpu"))


def _run(engine: Engine, spec: ContainerSpec, log: Path, timeout_s: float = 300) -> list[str]:
    lines: list[str] = []
    result = engine.run(spec, log, lines.append, timeout_s=timeout_s)
    assert result.exit_code == 0 and not result.timed_out, "\n".join(lines[-60:])
    return lines


def test_the_pod_computes_the_hosts_harness_identities(engine: Engine, controller_tag: str,
                                                        docker_labels: dict[str, str], tmp_path: Path) -> None:
    # The identities apply keys runs on, computed in the image from the files it carries; every
    # target, since `apply --system ID` plans the whole manifest (other systems, other targets).
    probe = ("from pathlib import Path; from mlperf_ops.stacks import images; "
             "from mlperf_ops.plan.controller import image_identity; d = Path('/opt/mlperf-ops/images'); "
             "[print('identity', t, image_identity(d, t)) for t in images.list_targets(d)]")
    lines = _run(engine, ContainerSpec(image=controller_tag, command=["python3", "-c", probe],
                                       user=f"{k8s.RUN_AS_UID}:{k8s.RUN_AS_UID}", labels=docker_labels),
                 tmp_path / "identity.log")
    host = [f"identity {t} {images.spec_hash(images.load_target(IMAGES_DIR, t))}"
            for t in images.list_targets(IMAGES_DIR)]
    assert host and lines == host, lines


def _limited_manifest(tmp_path: Path) -> Path:
    """demo-singlestream with no audit tests: one calibration and one performance run."""
    data = yaml.safe_load((REPO / "manifests" / "demo-singlestream.yaml").read_text())
    (system,) = data["systems"]
    for bench in system["benchmarks"]:
        bench["scenarios"] = {"SingleStream": {}}
        bench["compliance"] = []
    path = tmp_path / "manifests" / "k8s-demo.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_rendered_job_runs_apply_in_the_controller_image(
    engine: Engine, controller_tag: str, docker_labels: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))  # the manifest copy lives outside the project
    manifest = _limited_manifest(tmp_path)
    docs = render_k8s_documents(manifest, namespace="mlperf", state_pvc="ledger", image_registry=None,
                                image_overrides={})
    configmap, job = docs
    assert configmap["kind"] == "ConfigMap" and job["kind"] == "Job"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == controller_tag
    validated = _kubernetes_validate(tmp_path, docs)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    pod = pod_spec(job, configmap, tmp_path, docker_labels, extra_args=("--only", ONLY))
    spec, state = pod.spec, pod.state
    assert spec.env["MLPERF_OPS_EXECUTOR"] == "local"
    lines = _run(engine, spec, tmp_path / "pod.log", timeout_s=900)

    records = [json.loads(p.read_text()) for p in state.rglob("record.json")]
    by_mode = {r["mode"]: r for r in records}
    assert set(by_mode) == {"calibration", "performance"}, lines[-40:]  # --only brings calibration along
    performance = by_mode["performance"]
    assert performance["status"] == "done", performance.get("reason")
    assert performance["summary"]["result_validity"] == "VALID"
    assert performance["scenario"] == "SingleStream" and performance["system"] == "demo-cpu"
    # Keyed on the harness image's identity as the host computes it: records made in the
    # pod and on a self-hosted runner are interchangeable.
    assert performance["image"]["identity"] == _host_cpu_identity()
    assert performance["image"]["tag"] == images.image_tag(images.load_target(IMAGES_DIR, "cpu"))
    assert performance["image"]["id"] == "local"
    logs = sorted(p.name for p in state.rglob("mlperf_log_summary.txt"))
    assert logs, "no LoadGen summary in the state volume"
    # The host, reading the pod's ledger, has nothing left to do: same run keys on both sides.
    host_plan = make_plan(load_context(manifest), Ledger(state), only=ONLY)
    assert host_plan.runs and {r.action for r in host_plan.runs} == {"skip"}, host_plan.runs


def test_cli_builds_the_controller_for_a_target(controller_tag: str) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CI": "true"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mlperf-ops"), "images", "build", "controller", "--for", "cpu", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False, env=env,
    )
    assert done.returncode == 0, done.stderr
    (ref,) = json.loads(done.stdout)
    assert ref["target"] == "cpu-controller" and ref["tag"] == controller_tag and ref["built"] is False
