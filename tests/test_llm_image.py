"""The LLM endpoint harness in its own image (images/llm-endpoint), in the hardened container
mlperf-ops runs every harness in (read-only root, caller's uid, no capabilities), reaching
llama.cpp's server on the host's loopback through `network: host`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.docker_fixtures import IMAGES_DIR
from mlperf_ops.stacks import images
from mlperf_ops.execute.engine import Engine
from mlperf_ops.execute.executor import ContainerSpec, Mount
from tests.test_llm_llamacpp import SAMPLES, llama_files, llama_server  # noqa: F401 (fixtures)
from tests.test_check_llm import findings

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_image_runs_a_server_scenario_against_llama_cpp(
        tmp_path: Path, engine: Engine, llama_server: tuple[str, Path, Path],  # noqa: F811
        docker_labels: dict[str, str]) -> None:
    url, data, vocab = llama_server
    ref = images.ensure_image(engine, images.load_target(IMAGES_DIR, "llm-endpoint"))
    config, inputs = tmp_path / "config", tmp_path / "inputs"
    out = tmp_path / "Server" / "performance" / "run_1"
    for d in (config, inputs, out):
        d.mkdir(parents=True)
    (inputs / "dataset.json").write_bytes(data.read_bytes())
    (inputs / "vocab.json").write_bytes(vocab.read_bytes())
    (config / "user.conf").write_text(
        "llama3_1-8b.Server.target_qps = 1\nllama3_1-8b.Server.min_duration = 3000\n"
        f"llama3_1-8b.Server.min_query_count = 3\nllama3_1-8b.Server.performance_sample_count_override = {SAMPLES}\n")
    os.chmod(out, 0o777)  # written by the caller's uid, as in apply
    env = {
        "MLPERF_BENCHMARK": "llama3.1-8b", "MLPERF_LOADGEN_MODEL": "llama3_1-8b", "MLPERF_SCENARIO": "Server",
        "MLPERF_MODE": "PerformanceOnly", "MLPERF_AUDIT_TEST": "", "MLPERF_CONFIG_DIR": "/mlperf/config",
        "MLPERF_OUTPUT_DIR": "/mlperf/output", "MLPERF_DATASET_PATH": "/mlperf/dataset", "HOME": "/tmp",
        "MLPERF_LLM_URL": url, "MLPERF_LLM_PROMPT": "text", "MLPERF_LLM_TOKEN_IDS": "vocab",
        "MLPERF_LLM_VOCAB": "/mlperf/dataset/vocab.json", "MLPERF_LLM_CONCURRENCY": "2",
    }
    spec = ContainerSpec(image=ref.tag, env=env, workdir="/mlperf/config", network="host", labels=docker_labels,
                         mounts=(Mount(config, "/mlperf/config", True), Mount(out, "/mlperf/output", False),
                                 Mount(inputs, "/mlperf/dataset", True)))
    result = engine.run(spec, tmp_path / "container.log", timeout_s=300)
    log = (tmp_path / "container.log").read_text()
    assert result.exit_code == 0, log
    record = json.loads((out / "llm_run.json").read_text())
    assert record["faults"] == 0 and record["server"]["url"] == url, record
    summary = (out / "mlperf_log_summary.txt").read_text()
    assert "Performance constraints satisfied : Yes" in summary, summary
    found = findings(tmp_path / "Server", "Server")
    assert not {f.rule_id for f in found} & {"perf.token-latency", "perf.token-latencies-off"}, found
