"""The checker's LLM token-latency and network-SUT rules, on logs real LoadGen runs write.

Each run is a short Server-scenario LoadGen test against a SUT that reports its first
token and then the rest, with service times chosen to land under or over the round's
99th-percentile TTFT/TPOT limits for llama3.1-8b.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.check.scenario import ScenarioCtx, ScenarioOutcome, check_performance
from mlperf_ops.rules import load_rules

RULES = load_rules("v6.1")
BENCH = RULES.benchmark("llama3.1-8b")


def _worker(spec: dict[str, Any]) -> None:
    """One LoadGen Server run in this process, writing its logs to spec['outdir']."""
    import array
    import threading
    import time

    import mlperf_loadgen as lg

    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Server
    settings.mode = lg.TestMode.PerformanceOnly
    settings.server_target_qps = 20
    settings.min_duration_ms = 1000
    settings.min_query_count = 20
    settings.use_token_latencies = spec["token_latencies"]
    settings.ttft_latency = 2_000_000_000
    settings.tpot_latency = 100_000_000
    tokens = 4
    keep: list[Any] = []

    def serve(sample: Any) -> None:
        data = array.array("i", [1] * tokens)
        keep.append(data)
        address, _ = data.buffer_info()
        time.sleep(spec["ttft_s"])
        if spec["token_latencies"]:
            lg.FirstTokenComplete([lg.QuerySampleResponse(sample.id, address, 4, 1)])
        time.sleep(spec["tpot_s"] * (tokens - 1))
        lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, address, 4 * tokens, tokens)])

    def issue(samples: list[Any]) -> None:
        for sample in samples:
            threading.Thread(target=serve, args=(sample,), daemon=True).start()

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(64, 64, lambda _: None, lambda _: None)
    log_out = lg.LogOutputSettings()
    log_out.outdir = spec["outdir"]
    log_out.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = log_out
    lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)


def loadgen_run(dest: Path, *, ttft_s: float, tpot_s: float, token_latencies: bool = True) -> Path:
    """A scenario directory whose performance/run_1 holds a real LoadGen Server log."""
    run_dir = dest / "performance" / "run_1"
    run_dir.mkdir(parents=True)
    spec = {"outdir": str(run_dir), "ttft_s": ttft_s, "tpot_s": tpot_s, "token_latencies": token_latencies}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), json.dumps(spec)],
                          cwd=tempfile.mkdtemp(prefix="lg-llm-"), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return dest


def findings(scenario_dir: Path, scenario: str = "Server", system_json: dict[str, Any] | None = None) -> list[Any]:
    ctx = ScenarioCtx(
        root=scenario_dir.parent, path=scenario_dir, rules=RULES, division="open", submitter="ExampleOrg",
        system="box", system_type="datacenter", benchmark_dir="llama3.1-8b", bench=BENCH, scenario=scenario,
        system_json=system_json if system_json is not None else {}, duration_severity="info",
    )
    check_performance(ctx, ScenarioOutcome())
    return ctx.findings


def ids(found: list[Any]) -> set[str]:
    return {f.rule_id for f in found}


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return loadgen_run(tmp_path_factory.mktemp("fast") / "Server", ttft_s=0.005, tpot_s=0.002)


def test_token_latencies_under_the_limits_pass(fast: Path) -> None:
    found = findings(fast)
    assert not ids(found) & {"perf.token-latency", "perf.token-latencies-off"}, found
    assert BENCH.name in RULES.llm_benchmarks


def test_tpot_over_the_interactive_limit_is_an_error(tmp_path: Path) -> None:
    # 40 ms per output token: under Server's 100 ms, over Interactive's 30 ms.
    slow = loadgen_run(tmp_path / "Interactive", ttft_s=0.005, tpot_s=0.040)
    assert "perf.token-latency" not in ids(findings(slow, "Server"))
    found = [f for f in findings(slow, "Interactive") if f.rule_id == "perf.token-latency"]
    assert len(found) == 1, found
    assert "TPOT" in found[0].message and "limit of 30 ms" in found[0].message


def test_an_llm_run_without_token_latencies_is_refused(tmp_path: Path) -> None:
    plain = loadgen_run(tmp_path / "Server", ttft_s=0.005, tpot_s=0.002, token_latencies=False)
    found = findings(plain)
    assert "perf.token-latencies-off" in ids(found)
    assert "perf.token-latency" not in ids(found)


def test_a_network_mode_system_needs_a_network_sut_name(fast: Path, tmp_path: Path) -> None:
    assert "perf.network-sut-name" not in ids(findings(fast, system_json={"is_network": "false"}))
    found = [f for f in findings(fast, system_json={"is_network": "true"}) if f.rule_id == "perf.network-sut-name"]
    assert len(found) == 1 and "'Network SUT'" in found[0].message
    # The same log with the SUT named the way the network division requires.
    renamed = tmp_path / "Server"
    run = renamed / "performance" / "run_1"
    run.mkdir(parents=True)
    for log in (fast / "performance" / "run_1").iterdir():
        text = log.read_text()
        if log.name == "mlperf_log_detail.txt":
            assert '"sut_name", "value": "PySUT"' in text
            text = text.replace('"sut_name", "value": "PySUT"', '"sut_name", "value": "Network SUT box"')
        (run / log.name).write_text(text)
    assert "perf.network-sut-name" not in ids(findings(renamed, system_json={"is_network": "true"}))


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
