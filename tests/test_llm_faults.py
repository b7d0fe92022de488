"""The LLM endpoint harness against a server that misbehaves (a stdlib stand-in): every fault
fails the run with its reason, quickly; a correct but slow server passes the harness and
fails the checker's token-latency rule for the right limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.llm_harness_run import run_harness, write_dataset
from tests.support.llm_standin import Standin
from tests.test_check_llm import findings

OFFLINE = {"min_duration": 500, "min_query_count": 1, "offline_expected_qps": 20,
           "performance_sample_count_override": 16}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "dataset.json", [f"prompt {i}" for i in range(16)])


@pytest.mark.parametrize(("fault", "reason"), [
    ("http500", "HTTP 500 from http://127.0.0.1:"),
    ("drop", "lost the stream from"),
    ("slow_first", "no data from the server for 1 s after 0 tokens"),
    ("wrong_count", "the server reported 11 completion tokens but streamed 8"),
])
def test_a_server_fault_fails_the_run_with_its_reason(tmp_path: Path, data: Path, fault: str, reason: str) -> None:
    with Standin(fault=fault) as server:
        run = run_harness(tmp_path / "Offline", url=server.url, dataset=data, scenario="Offline", conf=OFFLINE,
                          extra_env={"MLPERF_LLM_CONCURRENCY": "2", "MLPERF_LLM_READ_TIMEOUT_S": "1"})
        sent = len(server.requests)
    assert run.code == 1, run.stderr
    assert "error: server fault: " + reason in run.stderr, run.stderr
    assert run.record["first_fault"].startswith(reason.split(" http")[0])
    # The first fault stops the traffic: the other samples are not sent to a broken server.
    assert sent <= 2, sent
    assert run.record["samples_completed"] >= 16


def test_a_healthy_standin_passes(tmp_path: Path, data: Path) -> None:
    """The control for the fault cases: the same stand-in without a fault runs clean."""
    with Standin() as server:
        run = run_harness(tmp_path / "Offline", url=server.url, dataset=data, scenario="Offline", conf=OFFLINE)
        bodies = server.requests
    assert run.code == 0, run.stderr
    assert run.record["faults"] == 0 and run.record["tokens"] == 8 * run.record["samples_completed"]
    # the official llama3.1-8b generation settings, streamed, with token ids asked for
    body = bodies[0]
    assert body["stream"] is True and body["max_tokens"] == 128 and body["temperature"] == 0
    assert body["top_k"] == 1 and body["seed"] == 42 and body["logprobs"] == 1
    assert body["return_tokens_as_token_ids"] is True and body["model"] == "standin-model"


@pytest.mark.parametrize(("slow", "metric", "limit"), [
    ({"tpot_s": 0.045}, "TPOT", "limit of 30 ms"),  # under Server's 100 ms, over Interactive's 30 ms
    ({"ttft_s": 0.6}, "TTFT", "limit of 500 ms"),  # under Server's 2 s, over Interactive's 500 ms
])
def test_a_slow_server_fails_the_interactive_limit(tmp_path: Path, data: Path, slow: dict[str, float],
                                                   metric: str, limit: str) -> None:
    conf = {"target_qps": 4, "min_duration": 1500, "min_query_count": 4,
            "performance_sample_count_override": 16}
    with Standin(tokens=6, **slow) as server:
        run = run_harness(tmp_path / "Interactive", url=server.url, dataset=data, scenario="Interactive",
                          conf=conf, loadgen_model="llama3_1-8b-interactive")
    assert run.code == 0, run.stderr
    assert f"{metric} constrain not met" in run.summary()  # LoadGen's own verdict
    assert "perf.token-latency" not in {f.rule_id for f in findings(tmp_path / "Interactive", "Server")}
    found = [f for f in findings(tmp_path / "Interactive", "Interactive") if f.rule_id == "perf.token-latency"]
    assert len(found) == 1 and metric in found[0].message and limit in found[0].message, found
