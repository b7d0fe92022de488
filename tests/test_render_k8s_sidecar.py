"""`render k8s` refuses an LLM server sidecar up front, where the manifest declares it.

A Job's pod runs `apply` with no Docker engine (MLPERF_OPS_EXECUTOR=local), so it cannot start
the sidecar; before this refusal the Jobs rendered and each pod's `apply` failed later on the
cluster. Now the manifest is refused with `file:line:col: path: message` and a hint, exit 2,
nothing printed on stdout; a system without a sidecar still renders, also beside one that has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlperf_ops.core.errors import ManifestInvalid
from mlperf_ops.render.k8s_documents import render_k8s_documents

REPO = Path(__file__).resolve().parents[1]
SIDECAR = REPO / "tests" / "project" / "manifests" / "llm-sidecar.yaml"
ENDPOINT = REPO / "tests" / "project" / "manifests" / "llm-endpoint.yaml"
MESSAGE = "render k8s cannot run the LLM server sidecar of system 'llm-sidecar'"


def _two_systems(tmp_path: Path) -> Path:
    """llm-sidecar.yaml plus llm-endpoint.yaml's system (its server given by `url:`)."""
    # the project's own profiles (MLPERF_OPS_PROJECT): `test` lives in tests/project/pipelines
    text = SIDECAR.read_text("utf-8").replace("SIDECAR_IMAGE", "vllm/vllm-openai:v0.8.5")
    assert "pipeline: test\n" in text
    text = text.replace("pipeline: test\n", "pipeline: smoke\n").replace("MODEL_DIR", "/models/tiny")
    text = text.replace("DATASET", "/data/llama3.1-8b/dataset.json")
    endpoint = ENDPOINT.read_text("utf-8")
    system = endpoint[endpoint.index("  - id: llm-cpu\n"):]
    path = tmp_path / "manifests" / "two.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text + system, "utf-8")
    return path


def _sidecar_position(path: Path) -> str:
    lines = path.read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if text.strip() == "sidecar:")
    return f"{path}:{line}:{lines[line - 1].index('sidecar') + 1}"


def _cli(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MLPERF_OPS_PROJECT": str(REPO)}
    return subprocess.run([sys.executable, "-m", "mlperf_ops", "render", "k8s", str(path), *extra], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_sidecar_is_refused_at_its_line_with_a_hint_and_nothing_rendered(tmp_path: Path) -> None:
    manifest = _two_systems(tmp_path)
    proc = _cli(manifest)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""  # not a half-rendered stream that kubectl would apply
    assert "Traceback" not in proc.stderr
    first, hint = proc.stderr.splitlines()[:2]
    assert first.startswith(f"{_sidecar_position(manifest)}: systems[0].benchmarks[0].server.sidecar: {MESSAGE}"), \
        proc.stderr
    assert hint.strip().startswith("hint:") and "'url:' instead of 'sidecar:'" in hint, proc.stderr
    # the system whose server is a URL is not refused
    assert "llm-cpu" not in proc.stderr


def test_only_the_selected_systems_are_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    manifest = _two_systems(tmp_path)
    docs = render_k8s_documents(manifest, namespace="mlperf", state_pvc="ledger", image_registry=None,
                                image_overrides={}, only_systems=("llm-cpu",),
                                resolve_image=lambda root, spec: f"mlperf-ops/{spec.image}:x")
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert [j["metadata"]["annotations"]["mlperf-ops/system-id"] for j in jobs] == ["llm-cpu"]
    with pytest.raises(ManifestInvalid) as refused:
        render_k8s_documents(manifest, namespace="mlperf", state_pvc="ledger", image_registry=None,
                             image_overrides={}, only_systems=("llm-sidecar",),
                             resolve_image=lambda root, spec: f"mlperf-ops/{spec.image}:x")
    [problem] = refused.value.problems
    assert problem.path == "systems[0].benchmarks[0].server.sidecar" and MESSAGE in problem.message
    # the CLI renders the URL system alone, as valid YAML
    proc = _cli(manifest, "--system", "llm-cpu")
    assert proc.returncode == 0, proc.stderr
    assert [d["kind"] for d in yaml.safe_load_all(proc.stdout)] == ["ConfigMap", "Job"]
