"""A benchmark's LLM server declared in the manifest (`server:`): validated before anything
runs, part of the run keys, and handed to the endpoint harness as MLPERF_LLM_* variables."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_ops.stacks import images
from mlperf_ops.manifest import load_manifest
from mlperf_ops.manifest.model import LlmServer, Manifest
from mlperf_ops.manifest.pipeline import load_profile
from mlperf_ops.plan.matrix import plan
from mlperf_ops.state.snapshot import LedgerSnapshot, RecordSummary
from mlperf_ops.rules import load_rules
from mlperf_ops.run.runner import container_env
from tests.support.plans import plan_llm, with_first_benchmark

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "tests" / "project" / "manifests" / "llm-endpoint.yaml"


_plan = plan_llm


def _with_server(manifest: Manifest, **changes: object) -> Manifest:
    system = manifest.systems[0]
    bench = system.benchmarks[0]
    assert bench.server is not None
    bench = dataclasses.replace(bench, server=dataclasses.replace(bench.server, **changes))
    return with_first_benchmark(manifest, bench)


def test_the_server_reaches_the_harness_environment() -> None:
    manifest = load_manifest(MANIFEST)
    bench = manifest.systems[0].benchmarks[0]
    assert bench.server == LlmServer(url="http://127.0.0.1:8000", concurrency=2, prompt="text", token_ids="vocab")
    run = next(r.spec for r in _plan(manifest).runs if r.spec.scenario == "Server" and r.spec.mode == "performance")
    env = container_env(run, images.load_target(REPO / "images", "llm-endpoint"), bench)
    assert {k: v for k, v in env.items() if k.startswith("MLPERF_LLM_")} == {
        "MLPERF_LLM_URL": "http://127.0.0.1:8000", "MLPERF_LLM_CONCURRENCY": "2",
        "MLPERF_LLM_PROMPT": "text", "MLPERF_LLM_TOKEN_IDS": "vocab"}


def test_another_server_means_new_runs_with_the_reason() -> None:
    manifest = load_manifest(MANIFEST)
    first = _plan(manifest)
    moved = _with_server(manifest, url="http://127.0.0.1:9000")
    records = {r.spec.run_id: RecordSummary(run_id=r.spec.run_id, key=r.spec.key, status="done",
                                            inputs=r.spec.inputs) for r in first.runs}
    ledger = LedgerSnapshot(latest=records, done={rec.key: rec for rec in records.values()})
    assert all(r.action == "skip" for r in _plan(manifest, ledger).runs)
    again = _plan(moved, ledger)
    assert all(r.spec.key != o.spec.key for r, o in zip(again.runs, first.runs))
    assert {r.reason for r in again.runs if r.action == "run"} == {"LLM server changed"}
    assert all(r.action in ("run", "wait") for r in again.runs)


def _validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "tests" / "project" / "manifests"
    path.mkdir(parents=True)
    for name in ("images", "pipelines"):
        (tmp_path / "tests" / "project" / name).symlink_to(REPO / "tests" / "project" / name)
    (path / "m.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "mlperf_ops", "validate", str(path / "m.yaml")],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                                               "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize(("old", "new", "message"), [
    ("network: host ", "network: none ", "the harness container has no network (container.network: none)"),
    ("network: host ", "network: bridge ", "is the container's own loopback on a bridge network"),
    ("      - name: llama3.1-8b\n", "      - name: deepseek-r1\n", "the LLM endpoint harness does not serve 'deepseek-r1'"),
])
def test_a_server_the_harness_cannot_use_is_a_manifest_problem(tmp_path: Path, old: str, new: str,
                                                               message: str) -> None:
    text = MANIFEST.read_text()
    assert old in text
    proc = _validate(tmp_path, text.replace(old, new))
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stdout + proc.stderr
