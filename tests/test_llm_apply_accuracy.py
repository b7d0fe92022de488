"""`apply` runs an LLM accuracy run end to end and records the reference-style score.

The manifest (tests/project/manifests/llm-endpoint.yaml) points the llm-endpoint image at
llama.cpp's real server on this machine's loopback, with the scoring test data's tokenizer as
the benchmark's `model:` (mounted at /mlperf/model, where the harness finds it) and a data set
with its `output` column. The accuracy run's record must be `done` with every metric the round
reads for llama3.1-8b, from the `accuracy.txt` the harness wrote inside the container.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.llm_harness_run import write_dataset
from mlperf_ops.run.artifacts import digest
from tests.support.llamacpp_server import SCORING_DATA, serving
from tests.test_llm_llamacpp import llama_files  # noqa: F401 (fixture)

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, url: str) -> tuple[Path, Path]:
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "images").symlink_to(REPO / "images")
    (project / "pipelines").symlink_to(REPO / "tests" / "project" / "pipelines")
    data = write_dataset(tmp_path / "dataset.json", [f"Summarize article {i}: the quick brown fox." for i in range(4)])
    tokenizer = SCORING_DATA / "tokenizer_fast"
    text = (REPO / "tests" / "project" / "manifests" / "llm-endpoint.yaml").read_text()
    assert "        eos_token_id: 2\n" in text
    text = text.replace("http://127.0.0.1:8000", url).replace(
        "        eos_token_id: 2\n",
        "        eos_token_id: 2\n"
        f"        dataset: {{path: {data}, sha256: \"{digest(data)}\"}}\n"
        f"        model: {{path: {tokenizer}, sha256: \"{digest(tokenizer)}\"}}\n")
    manifest = project / "manifests" / "llm.yaml"
    manifest.write_text(text)
    return project, manifest


def _mlperf_ops(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(NO_COLOR="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "mlperf_ops", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=1500)


def test_apply_scores_the_accuracy_run(tmp_path: Path, llama_files: tuple[Path, Path, Path, Path]) -> None:  # noqa: F811
    home, model, _, _ = llama_files
    with serving(home, model, "--interrupt_requests", "False") as url:
        project, manifest = _project(tmp_path, url)
        proc = _mlperf_ops(project, "apply", str(manifest), "--state-dir", str(tmp_path / "state"),
                           "--only", "*/Offline/accuracy", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "state").rglob("record.json")]
    accuracy = [r for r in records if "accuracy" in str(r.get("reason", ""))]
    assert len(accuracy) == 1, records
    record = accuracy[0]
    assert record.get("status") == "done", record
    for metric in ("ROUGE1=", "ROUGE2=", "ROUGEL=", "ROUGELSUM=", "GEN_LEN="):
        assert metric in record["reason"], record
    texts = list((tmp_path / "state").rglob("accuracy.txt"))
    assert texts and "'gen_num': 4}" in texts[0].read_text(), texts

