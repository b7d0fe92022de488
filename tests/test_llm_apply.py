"""`apply` with a manifest-declared LLM server that fails: the record says the server's fault.

The manifest (tests/project/manifests/llm-endpoint.yaml, its URL pointed at a stand-in server
answering HTTP 500) runs the endpoint harness image with `container.network: host`; the first
run's record must carry the harness's reason, not only an exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.llm_harness_run import write_dataset
from tests.support.llm_standin import Standin
from mlperf_ops.run.artifacts import digest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


def test_a_server_fault_is_the_reason_in_the_apply_record(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "images").symlink_to(REPO / "images")
    (project / "pipelines").symlink_to(REPO / "tests" / "project" / "pipelines")
    data = write_dataset(tmp_path / "dataset.json", [f"prompt {i}" for i in range(8)])
    with Standin(fault="http500") as server:
        text = (REPO / "tests" / "project" / "manifests" / "llm-endpoint.yaml").read_text()
        text = text.replace("http://127.0.0.1:8000", server.url).replace(", token_ids: vocab", "")
        text = text.replace("        eos_token_id: 2\n", "        eos_token_id: 2\n"
                            f"        dataset: {{path: {data}, sha256: \"{digest(data)}\"}}\n")
        manifest = project / "manifests" / "llm.yaml"
        manifest.write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
        env.update(NO_COLOR="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, "-m", "mlperf_ops", "apply", str(manifest), "--state-dir",
                               str(tmp_path / "state"), "--only", "*/Offline/calibration", "--json"],
                              cwd=project, env=env, capture_output=True, text=True, timeout=900)
        sent = len(server.requests)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "state").rglob("record.json")]
    assert records, proc.stdout + proc.stderr
    reasons = [r.get("reason", "") for r in records]
    assert any(f"harness exited with code 1: server fault: HTTP 500 from {server.url}/v1/completions" in reason
               for reason in reasons), reasons
    assert 1 <= sent <= 8, sent  # the harness stopped sending after the first fault
