"""The machine is what the manifest says: the probe against the declared system (issue 12, item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.run import apply as apply_mod
from mlperf_ops.run import pending as pending_mod
from mlperf_ops.plan.controller import load_context
from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.events import Event
from mlperf_ops.manifest.documents import system_document
from mlperf_ops.manifest.probe_check import ACCEPTED_KEY, mismatches, same_model
from mlperf_ops.state.ledger import Ledger
from tests.support.executors import NoExecutor
from tests.support.records import for_spec

REPO = Path(__file__).resolve().parents[1]
CPU_ONLY = {"host_processor_model_name": "Intel(R) Xeon(R) CPU @ 2.20GHz", "host_processors_per_node": "1"}
GPU_LINE = "    accelerator: {vendor: nvidia, model: NVIDIA H100-SXM-80GB, count: 2, memory: 80 GB}\n"


def gpu_manifest(tmp_path: Path, accelerator: str = GPU_LINE) -> Path:
    """The demo, declared as a 2-GPU system (an image that may use GPUs)."""
    text = (REPO / "manifests" / "demo.yaml").read_text("utf-8")
    path = tmp_path / "gpu2.yaml"
    path.write_text(text.replace("    image: cpu\n", "    image: nvidia-cuda\n" + accelerator), "utf-8")
    return path


@pytest.mark.parametrize(("declared", "probed", "same"), [
    ("NVIDIA H100-SXM-80GB", "NVIDIA H100 80GB HBM3", True),
    ("NVIDIA L4", "NVIDIA L4", True),
    ("NVIDIA H100-SXM-80GB", "NVIDIA H200", False),
    ("NVIDIA L4", "NVIDIA L40S", False),
    ("MI300X", "AMD Instinct MI300X", True),
    ("Intel Xeon Platinum 8480+", "Intel(R) Xeon(R) Platinum 8480+", True),
    ("AMD EPYC 9654", "Intel(R) Xeon(R) Platinum 8480+", False),
])
def test_models_compare_by_their_model_number(declared: str, probed: str, same: bool) -> None:
    assert same_model(declared, probed) is same


def test_each_declared_accelerator_field_is_compared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    system = load_context(gpu_manifest(tmp_path)).manifest.systems[0]
    right = {"accelerator_vendor": "nvidia", "accelerator_model_name": "NVIDIA H100 80GB HBM3",
             "accelerators_per_node": "2"}
    assert mismatches(system, right) == []
    wrong = {"accelerator_vendor": "amd", "accelerator_model_name": "AMD Instinct MI300X", "accelerators_per_node": "8"}
    found = {m.field: (m.declared, m.probed) for m in mismatches(system, wrong)}
    assert found == {"accelerator vendor": ("nvidia", "amd"),
                     "accelerator model": ("NVIDIA H100-SXM-80GB", "AMD Instinct MI300X"),
                     "accelerator count": ("2", "8")}


def test_an_accelerator_the_probe_cannot_see_is_not_a_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    other = "    accelerator: {vendor: other, model: Example NPU 9, count: 4}\n"
    system = load_context(gpu_manifest(tmp_path, other)).manifest.systems[0]
    assert mismatches(system, CPU_ONLY) == []  # no nvidia-smi or rocm-smi knows it
    assert mismatches(system, {"accelerator_model_name": "NVIDIA L4", "accelerators_per_node": "1"}) == []
    nvidia = load_context(gpu_manifest(tmp_path)).manifest.systems[0]
    assert [m.probed for m in mismatches(nvidia, CPU_ONLY)] == ["no accelerator"]


def test_a_cpu_system_compares_the_cpu_it_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    text = (REPO / "manifests" / "demo.yaml").read_text("utf-8").replace(
        "      cooling: air\n", "      cooling: air\n      host_processor_model_name: AMD EPYC 9654\n")
    (tmp_path / "cpu.yaml").write_text(text, "utf-8")
    system = load_context(tmp_path / "cpu.yaml").manifest.systems[0]
    assert [(m.declared, m.probed) for m in mismatches(system, CPU_ONLY)] == [
        ("AMD EPYC 9654", CPU_ONLY["host_processor_model_name"])]
    # The demo declares no CPU: whatever runs it is what it describes.
    demo = load_context(REPO / "manifests" / "demo.yaml").manifest.systems[0]
    assert mismatches(demo, CPU_ONLY) == []


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has NVIDIA GPUs")
def test_two_declared_gpus_on_this_machine_stop_apply_before_any_container(tmp_path: Path) -> None:
    """The acceptance: exit 2 with both values, and no engine was even asked (it does not exist)."""
    state = tmp_path / "state"
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
           "CI": "true"}
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(gpu_manifest(tmp_path)),
                           "--state-dir", str(state)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "the manifest declares 2x NVIDIA H100-SXM-80GB (nvidia); the probe found no accelerator" in proc.stderr
    assert "--accept-probe" in proc.stderr
    assert "Docker" not in proc.stderr and "engine" not in proc.stderr.lower()
    assert not (state / "records").exists() and not (state / "probes").exists()


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, accept: bool) -> tuple[Ledger, list[str], Any]:
    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    ledger = Ledger(tmp_path / "state")
    calls: list[str] = []

    def fake_execute(spec: Any, *, ledger: Ledger, **_: Any) -> Any:
        calls.append(spec.run_id)
        attempt = ledger.begin(spec.key, spec.run_id)
        data: dict[str, Any] = {"finished_unix": time.time()}
        if spec.mode == "calibration":
            data["calibrated"] = {"target_latency": 0.5} if spec.scenario == "SingleStream" else {"target_qps": 100.0}
        return ledger.commit(attempt, for_spec(spec, **data))

    monkeypatch.setattr(pending_mod, "execute", fake_execute)
    monkeypatch.setattr(pending_mod, "probe_host", lambda: dict(CPU_ONLY))
    ctx = load_context(gpu_manifest(tmp_path))
    events: list[Event] = []
    result = apply_mod.apply(ctx, ledger, connect=NoExecutor, accept_probe=accept, on_event=events.append)
    return ledger, calls, result


def test_a_mismatch_runs_and_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="probe found no accelerator"):
        run(tmp_path, monkeypatch, accept=False)
    ledger = Ledger(tmp_path / "state")
    assert list(ledger.records()) == [] and ledger.probe("demo-cpu") is None


def test_accept_probe_records_the_probed_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, calls, result = run(tmp_path, monkeypatch, accept=True)
    assert result.ok and calls
    probe = ledger.probe("demo-cpu")
    assert probe is not None and "accelerators_per_node" in probe[ACCEPTED_KEY]
    # systems/<id>.json describes what ran: a CPU system, not the declared GPUs.
    ctx = load_context(gpu_manifest(tmp_path))
    doc = system_document(ctx.manifest, ctx.manifest.systems[0], ctx.rules, ctx.images_dir, probe)
    assert doc["accelerators_per_node"] == "0" and doc["accelerator_model_name"] == "N/A"
    # The acceptance holds for a resumed apply on the same machine: no new --accept-probe needed.
    ledger.retire(next(r.key for r in ledger.records() if r.status == "done"), "test")
    again = apply_mod.apply(ctx, ledger, connect=NoExecutor, on_event=lambda _: None)
    assert again.ok


def test_describe_marks_probed_and_declared_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlperf_ops.manifest.provenance import ACCEPTED, MANIFEST, PROBE, field_sources

    monkeypatch.setenv("MLPERF_OPS_PROJECT", str(REPO))
    ctx = load_context(gpu_manifest(tmp_path))
    system = ctx.manifest.systems[0]
    sources = field_sources(ctx.manifest, system, ctx.rules, ctx.images_dir, CPU_ONLY)
    assert sources["host_processor_model_name"] == PROBE and sources["accelerators_per_node"] == MANIFEST
    assert sources["cooling"] == MANIFEST
    accepted = {**CPU_ONLY, ACCEPTED_KEY: "accelerators_per_node"}
    assert field_sources(ctx.manifest, system, ctx.rules, ctx.images_dir, accepted)["accelerators_per_node"] == ACCEPTED
    # On the command line: the document on stdout, the sources after it on stderr.
    env = {**os.environ, "MLPERF_OPS_PROJECT": str(REPO), "CI": "true"}
    proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "describe", str(gpu_manifest(tmp_path)),
                           "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, env=env)
    assert '"accelerators_per_node": "2"' in proc.stdout
    assert "  manifest: accelerator_" in proc.stderr and "  probe: host_" in proc.stderr
