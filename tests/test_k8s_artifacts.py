"""`render k8s` brings each model and data set into the pod, read-only, at the manifest's path (issue 11).

The pod runs `apply` with the local executor, which verifies the artifact's digest and gives
the harness that path: a Job that mounted only the state volume would never find them.
Rendered Jobs are checked with `kubernetes-validate --strict` (the Kubernetes OpenAPI schemas).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.core.errors import UsageError
from mlperf_ops.render.k8s_documents import dump_documents, render_k8s_documents
from mlperf_ops.manifest import check_manifest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "manifests" / "example-closed-resnet-cpu.yaml"
MODEL_LINE = "        model: {path: /models/resnet50_v1.onnx, sha256: " + "0c" * 32 + "}\n"
DATA_LINE = "        dataset: {path: /data/imagenet/val, sha256: " + "0d" * 32 + "}\n"


def _render(manifest: Path) -> list[dict[str, Any]]:
    return render_k8s_documents(manifest, namespace="mlperf", state_pvc="ledger", image_registry=None,
                                image_overrides={}, resolve_image=lambda root, spec: f"mlperf-ops/{spec.image}:x")


def _pod(job: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    spec = job["spec"]["template"]["spec"]
    return spec["volumes"], spec["containers"][0]["volumeMounts"]


@pytest.fixture(autouse=True)
def _project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))  # manifests in tmp_path find images/ here


def _variant(tmp_path: Path, model: str, data: str) -> Path:
    text = EXAMPLE.read_text("utf-8")
    assert MODEL_LINE in text and DATA_LINE in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(MODEL_LINE, model).replace(DATA_LINE, data), "utf-8")
    return path


def _validate(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    target = tmp_path / "rendered.yaml"
    target.write_text(dump_documents(docs), encoding="utf-8")
    tool = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run([str(tool), "--strict", str(target)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_is_the_same_path_on_the_node(tmp_path: Path) -> None:
    [_, job] = _render(EXAMPLE)
    volumes, mounts = _pod(job)
    assert {"name": "artifact-0", "hostPath": {"path": "/models/resnet50_v1.onnx"}} in volumes
    assert {"name": "artifact-1", "hostPath": {"path": "/data/imagenet/val"}} in volumes
    assert {"name": "artifact-0", "mountPath": "/models/resnet50_v1.onnx", "readOnly": True} in mounts
    assert {"name": "artifact-1", "mountPath": "/data/imagenet/val", "readOnly": True} in mounts
    _validate(tmp_path, [job])


def test_host_path_and_claim_as_the_manifest_says(tmp_path: Path) -> None:
    manifest = _variant(
        tmp_path,
        MODEL_LINE.replace("}\n", ", kubernetes: {host_path: /srv/mlperf/resnet50_v1.onnx}}\n"),
        DATA_LINE.replace("}\n", ", kubernetes: {claim: imagenet-val, sub_path: ILSVRC2012/val}}\n"))
    assert check_manifest(manifest)[1] == []
    [_, job] = _render(manifest)
    volumes, mounts = _pod(job)
    assert {"name": "artifact-0", "hostPath": {"path": "/srv/mlperf/resnet50_v1.onnx"}} in volumes
    assert {"name": "artifact-1", "persistentVolumeClaim": {"claimName": "imagenet-val", "readOnly": True}} in volumes
    assert {"name": "artifact-1", "mountPath": "/data/imagenet/val", "readOnly": True,
            "subPath": "ILSVRC2012/val"} in mounts
    # the state volume is still there, and nothing else is writable
    assert any(m["name"] == "state" for m in mounts)
    _validate(tmp_path, [job])


@pytest.mark.parametrize("block, message", [
    ("{host_path: /a, claim: b}", "is not any of the allowed forms"),
    ("{sub_path: x}", "'dependentRequired' rule"),
    ("{claim: Not_A_Name}", "does not match"),
    ("{host_path: relative/path}", "does not match"),
])
def test_a_wrong_kubernetes_block_is_refused_by_validate(tmp_path: Path, block: str, message: str) -> None:
    manifest = _variant(tmp_path, MODEL_LINE.replace("}\n", f", kubernetes: {block}}}\n"), DATA_LINE)
    problems = check_manifest(manifest)[1]
    assert problems and all("kubernetes" in p.path for p in problems), problems
    assert any(message in p.message for p in problems), [p.message for p in problems]
    assert all("host_path" in (p.hint or "") or "pattern" in p.message or "match" in p.message
               for p in problems), problems


def test_a_relative_artifact_path_cannot_be_mounted(tmp_path: Path) -> None:
    manifest = _variant(tmp_path, MODEL_LINE.replace("/models/resnet50_v1.onnx", "models/resnet50_v1.onnx"),
                        DATA_LINE)
    with pytest.raises(UsageError, match="model path 'models/resnet50_v1.onnx' is relative"):
        _render(manifest)
