"""`mlperf-ops render k8s`: pure rendering of one batch/v1 Job per system, validated
against the Kubernetes OpenAPI schemas with `kubernetes-validate --strict`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlperf_ops.stacks import images
from mlperf_ops.render import k8s
from mlperf_ops.render.k8s_documents import dump_documents, job_deadline_s, render_k8s_documents
from mlperf_ops.core.errors import UsageError
from mlperf_ops.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

CPU = k8s.K8sSystem(id="demo-cpu", image="mlperf-ops-cpu:abc123", timeout_s=3600)
GPU8 = k8s.K8sSystem(
    id="xc-h100-sxm-8",
    image="registry.example/mlperf/nvidia-cuda:def456",
    node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "pool": "mlperf"},
    gpu_vendor="nvidia",
    gpu_count=8,
    timeout_s=14400 * 12,
    memory="900g",
    shm="64g",
)


def _render(*systems: k8s.K8sSystem, configmap: str | None = "cm") -> list[dict[str, Any]]:
    return k8s.render_jobs(
        systems,
        manifest_path="manifests/x.yaml",
        namespace="mlperf",
        state_pvc="ledger",
        manifest_configmap=configmap,
    )


def _container(job: dict[str, Any]) -> dict[str, Any]:
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def _validator() -> Path:
    tool = VENV_BIN / "kubernetes-validate"
    # A missing validator is a failure, not a skip: the dev extras install it.
    assert tool.is_file(), f"kubernetes-validate not found in {VENV_BIN}; pip install -e '.[dev]'"
    return tool


def _kubernetes_validate(tmp_path: Path, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "rendered.yaml"
    target.write_text(dump_documents(docs), encoding="utf-8")
    return subprocess.run(
        [str(_validator()), "--strict", str(target)], capture_output=True, text=True, timeout=300, check=False
    )


# --- unit: the pieces of one Job --------------------------------------------------


def test_gpu_limits_per_vendor() -> None:
    assert k8s.gpu_limits("nvidia", 8) == {"nvidia.com/gpu": "8"}
    assert k8s.gpu_limits("amd", 2) == {"amd.com/gpu": "2"}
    assert k8s.gpu_limits(None, 0) == {}
    assert k8s.gpu_limits("nvidia", 0) == {}


def test_unknown_vendor_and_negative_count_are_usage_errors() -> None:
    with pytest.raises(UsageError) as info:
        k8s.gpu_limits("other", 1)
    assert info.value.hint and "nvidia" in info.value.hint
    with pytest.raises(UsageError):
        k8s.gpu_limits("nvidia", -1)


def test_cpu_job_has_no_gpu_limits_node_selector_or_tolerations() -> None:
    (job,) = _render(CPU)
    pod = job["spec"]["template"]["spec"]
    assert "resources" not in _container(job)
    assert "nodeSelector" not in pod
    assert "tolerations" not in pod


def test_gpu_job_limits_selector_and_toleration() -> None:
    (job,) = _render(GPU8)
    pod = job["spec"]["template"]["spec"]
    assert _container(job)["resources"] == {"limits": {"nvidia.com/gpu": "8", "memory": "900Gi"}}
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "pool": "mlperf"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_shm_is_a_sized_memory_emptydir() -> None:
    (job,) = _render(GPU8)
    mounts = {m["mountPath"]: m["name"] for m in _container(job)["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
    (cpu_job,) = _render(CPU)
    assert "/dev/shm" not in {m["mountPath"] for m in _container(cpu_job)["volumeMounts"]}


@pytest.mark.parametrize(("docker", "k8s_quantity"), [("6g", "6Gi"), ("512m", "512Mi"), ("1024", "1024"), ("2GB", "2Gi")])
def test_docker_sizes_become_binary_quantities(docker: str, k8s_quantity: str) -> None:
    assert k8s.quantity(docker) == k8s_quantity


def test_bad_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        k8s.quantity("lots")


def test_amd_job_asks_for_amd_gpus() -> None:
    amd = k8s.K8sSystem(id="mi300x-8", image="rocm:1", gpu_vendor="amd", gpu_count=8)
    (job,) = _render(amd)
    assert _container(job)["resources"]["limits"] == {"amd.com/gpu": "8"}


def test_security_context_is_locked_down() -> None:
    (job,) = _render(GPU8)
    pod = job["spec"]["template"]["spec"]
    container = _container(job)
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    # A read-only root needs a writable /tmp, and it must be an emptyDir (not the image).
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]] == {"name": "tmp", "emptyDir": {}}


def test_command_state_pvc_and_manifest_configmap() -> None:
    (job,) = _render(CPU)
    container = _container(job)
    pod = job["spec"]["template"]["spec"]
    assert container["command"] == ["mlperf-ops", "apply", f"{k8s.MANIFEST_MOUNT}/x.yaml", "--system", "demo-cpu"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLPERF_OPS_STATE"] == k8s.STATE_MOUNT
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[k8s.STATE_MOUNT]["name"]]["persistentVolumeClaim"] == {"claimName": "ledger"}
    assert mounts[k8s.MANIFEST_MOUNT]["readOnly"] is True
    assert volumes[mounts[k8s.MANIFEST_MOUNT]["name"]]["configMap"] == {"name": "cm"}
    assert job["metadata"]["namespace"] == "mlperf"


def test_without_configmap_the_manifest_path_is_used_as_given() -> None:
    (job,) = _render(CPU, configmap=None)
    assert _container(job)["command"][2] == "manifests/x.yaml"
    assert all(v["name"] != "manifest" for v in job["spec"]["template"]["spec"]["volumes"])


def test_job_policy_deadline_and_labels() -> None:
    (job,) = _render(GPU8)
    spec = job["spec"]
    assert spec["activeDeadlineSeconds"] == GPU8.timeout_s
    assert spec["backoffLimit"] == k8s.BACKOFF_LIMIT
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    fail_rule = spec["podFailurePolicy"]["rules"][0]
    assert fail_rule["action"] == "FailJob" and fail_rule["onExitCodes"]["values"] == [2, 3]
    labels = job["metadata"]["labels"]
    assert labels["mlperf-ops/system"] == "xc-h100-sxm-8"
    assert spec["template"]["metadata"]["labels"] == labels


def test_non_positive_deadline_is_rejected() -> None:
    with pytest.raises(UsageError):
        _render(k8s.K8sSystem(id="a", image="i", timeout_s=0))


@pytest.mark.parametrize(
    "system_id",
    ["demo-cpu", "Big_Box.v2", "x" * 100, "a.", "-"],
)
def test_job_names_are_dns_labels(system_id: str) -> None:
    name = k8s.job_name(system_id)
    assert len(name) <= 63
    assert name == name.lower()
    assert name[0].isalnum() and name[-1].isalnum()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_ids_differing_only_in_case_get_distinct_jobs() -> None:
    assert k8s.job_name("Box-A") != k8s.job_name("box-a")
    assert k8s.job_name("box_a") != k8s.job_name("box-a")


def test_render_is_pure_and_keeps_order() -> None:
    first = _render(CPU, GPU8)
    assert first == _render(CPU, GPU8)
    assert [j["metadata"]["annotations"]["mlperf-ops/system-id"] for j in first] == ["demo-cpu", "xc-h100-sxm-8"]


def test_registry_prefix() -> None:
    assert k8s.with_registry("mlperf-ops-cpu:1", "reg.example/team/") == "reg.example/team/mlperf-ops-cpu:1"
    assert k8s.with_registry("reg.example/team/x:1", "reg.example/team") == "reg.example/team/x:1"
    assert k8s.with_registry("x:1", None) == "x:1"


def test_deadline_covers_every_run_back_to_back() -> None:
    assert job_deadline_s(600, 5) == 3000
    assert job_deadline_s(600, 0) == 600


# --- the rendered documents are valid Kubernetes objects -------------------------


def test_pure_render_cpu_and_8gpu_pass_kubernetes_validate(tmp_path: Path) -> None:
    docs = [
        k8s.render_manifest_configmap(name="cm", namespace="mlperf", manifest_path="manifests/x.yaml", text="a: 1\n"),
        *_render(CPU, GPU8),
    ]
    result = _kubernetes_validate(tmp_path, docs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") + result.stderr.count("passed") == 3


def test_kubernetes_validate_rejects_a_broken_job(tmp_path: Path) -> None:
    # Guards the test above: the validator must actually look at the Job's fields.
    (job,) = _render(CPU)
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["dropEverything"] = True
    result = _kubernetes_validate(tmp_path, [job])
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("manifest", "gpu_limit"),
    [("manifests/demo.yaml", None), ("manifests/example-closed-datacenter-8gpu.yaml", {"nvidia.com/gpu": "8"})],
)
def test_example_manifests_render_valid_jobs(
    tmp_path: Path, manifest: str, gpu_limit: dict[str, str] | None
) -> None:
    docs = render_k8s_documents(
        REPO / manifest, namespace="mlperf", state_pvc="ledger", image_registry="reg.example/t", image_overrides={}
    )
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "ConfigMap" and set(kinds[1:]) == {"Job"}
    for job in docs[1:]:
        container = _container(job)
        # The controller image of the system's harness target (`images build controller --for T`),
        # not the harness image itself: only the controller carries the `mlperf-ops` command.
        system = load_manifest(REPO / manifest).system(job["metadata"]["annotations"]["mlperf-ops/system-id"])
        tag = images.image_tag(images.load_controller(REPO / "images", system.image))
        assert tag.startswith(f"mlperf-ops/{system.image}-controller:")
        assert tag != images.image_tag(images.load_target(REPO / "images", system.image))
        assert container["image"] == f"reg.example/t/{tag}"
        assert {k: v for k, v in container["resources"]["limits"].items() if k != "memory"} == (gpu_limit or {})
        assert job["spec"]["activeDeadlineSeconds"] > 0
    result = _kubernetes_validate(tmp_path, docs)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_prints_multi_document_yaml(tmp_path: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            str(VENV_BIN / "mlperf-ops"), "render", "k8s", "manifests/example-closed-datacenter-8gpu.yaml",
            "--namespace", "bench", "--state-pvc", "ledger", "--image", "xc-h100-sxm-8=reg/x:9",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert job["metadata"]["namespace"] == "bench"
    assert _container(job)["image"] == "reg/x:9"
    assert "&id" not in result.stdout  # no YAML anchors for people to puzzle over


def test_cli_unknown_system_is_a_usage_error() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "mlperf-ops"), "render", "k8s", "manifests/demo.yaml", "--system", "nope"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr
