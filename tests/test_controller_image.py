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
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlperf_ops.stacks import images
from mlperf_ops.render import k8s
from mlperf_ops.render.k8s_documents import render_k8s_documents
from mlperf_ops.plan.controller import load_context, make_plan
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec, Mount
from mlperf_ops.state.ledger import Ledger
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


def _k8s_size_as_docker(quantity: str) -> str:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", quantity).groups()  # type: ignore[union-attr]
    return number + {None: "", "Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}[unit]


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


def _pod_spec(job: dict[str, Any], tmp_path: Path, configmap: dict[str, Any],
              labels: dict[str, str]) -> tuple[ContainerSpec, Path]:
    """The rendered Job's container as a ContainerSpec; volumes become host directories."""
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)  # what the Job's fsGroup does for the claim: writable by the pod's uid
    mounts: list[Mount] = []
    shm_size: str | None = None
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            mounts.append(Mount(state, mount["mountPath"], read_only=False))
        elif "configMap" in volume:
            assert volume["configMap"]["name"] == configmap["metadata"]["name"]
            manifest_dir = tmp_path / "configmap"
            manifest_dir.mkdir()
            for key, text in configmap["data"].items():
                (manifest_dir / key).write_text(text)
            mounts.append(Mount(manifest_dir, mount["mountPath"], read_only=bool(mount.get("readOnly"))))
        elif mount["mountPath"] == "/tmp":
            assert volume["emptyDir"] == {}  # the engine gives every container a private tmpfs /tmp
        elif mount["mountPath"] == "/dev/shm":
            shm_size = _k8s_size_as_docker(volume["emptyDir"]["sizeLimit"])
        else:
            raise AssertionError(f"unexpected volume in the Job: {mount}")
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"] == {"drop": ["ALL"]}
    user = f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"
    limits = container.get("resources", {}).get("limits", {})
    spec = ContainerSpec(
        image=container["image"],
        command=[*container["command"], "--only", ONLY],
        env={e["name"]: e["value"] for e in container["env"]},
        mounts=tuple(mounts),
        workdir=container["workingDir"],
        user=user,
        network="none",
        read_only_rootfs=True,
        mem_limit=_k8s_size_as_docker(limits["memory"]) if "memory" in limits else None,
        shm_size=shm_size,
        labels=labels,
    )
    return spec, state


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

    spec, state = _pod_spec(job, tmp_path, configmap, docker_labels)
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
