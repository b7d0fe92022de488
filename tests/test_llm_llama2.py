"""llama2-70b end to end through the endpoint harness against llama.cpp's real server (the tiny
random-weights model of test_llm_llamacpp), and the chat-completions path.

llama2-70b's official settings send 1024 new tokens per sample (the tiny model never stops
early), LoadGen's model key is `llama2-70b` (`llama2-70b-interactive` for Interactive), the
checker's token-latency limits are 2 s / 200 ms (Server) and 450 ms / 40 ms (Interactive), and
the accuracy run is scored like language/llama2-70b/evaluate-accuracy.py (ROUGE-1/2/L and
tokens_per_sample) with a Llama-2-style SentencePiece tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.llm_harness_run import run_harness, write_dataset
from mlperf_ops.check.scenario import ScenarioCtx, ScenarioOutcome, check_accuracy, check_performance
from mlperf_ops.run.compliance import verify_test06
from mlperf_ops.run.outcome import read_accuracy
from mlperf_ops.rules import load_rules
from tests.test_llm_llamacpp import SAMPLES as LLAMA31_SAMPLES
from tests.test_llm_llamacpp import _env, accuracy_env, llama_files, llama_server, nltk_data  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
BENCHMARK = "llama2-70b-99.9"
MAX_TOKENS = 1024
SAMPLES = 4  # 4096 tokens per pass over the data set: a few seconds of this server


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("llama2") / "dataset.json",
                         [f"[INST] Summarize conversation {i}: the quick brown fox. [/INST]" for i in range(SAMPLES)])
RULES = load_rules("v6.1")
BENCH = RULES.benchmark(BENCHMARK)


def findings(scenario_dir: Path, scenario: str, division: str = "open") -> list[object]:
    """The checker's scenario rules on one scenario directory of a llama2-70b-99.9 tree."""
    ctx = ScenarioCtx(root=scenario_dir.parent, path=scenario_dir, rules=RULES, division=division,
                      submitter="ExampleOrg", system="box", system_type="datacenter", benchmark_dir=BENCHMARK,
                      bench=BENCH, scenario=scenario, system_json={}, duration_severity="info")
    out = ScenarioOutcome()
    if (scenario_dir / "accuracy").is_dir():
        check_accuracy(ctx, out)
    else:
        check_performance(ctx, out)
    return ctx.findings


PERF = {  # scenario -> LoadGen model key, user.conf settings (short runs)
    "Offline": ("llama2-70b", {"min_duration": 1000, "min_query_count": SAMPLES, "offline_expected_qps": 1}),
    "Server": ("llama2-70b", {"target_qps": 0.5, "min_duration": 3000, "min_query_count": 3}),
    "Interactive": ("llama2-70b-interactive", {"target_qps": 0.5, "min_duration": 3000, "min_query_count": 3}),
}


@pytest.mark.parametrize("scenario", list(PERF))
def test_llama2_performance_on_llama_cpp(tmp_path: Path, llama_server: tuple[str, Path, Path],  # noqa: F811
                                         data: Path, scenario: str) -> None:
    url, _, vocab = llama_server
    model_key, conf = PERF[scenario]
    run = run_harness(tmp_path / scenario, url=url, dataset=data, scenario=scenario, loadgen_model=model_key,
                      benchmark=BENCHMARK, conf={**conf, "performance_sample_count_override": SAMPLES},
                      extra_env=_env(vocab), timeout=600)
    assert run.code == 0, run.stdout + run.stderr
    record = run.record
    assert record["generation"]["max_tokens"] == MAX_TOKENS and record["api"] == "completions", record
    assert record["faults"] == 0 and record["tokens"] == MAX_TOKENS * record["samples_completed"], record
    summary = run.summary()
    found = findings(tmp_path / scenario, scenario)
    assert "perf.token-latencies-off" not in {getattr(f, "rule_id") for f in found}
    if scenario == "Offline":
        assert "Result is : VALID" in summary, summary
        return
    limits = {"Server": (2000, 200), "Interactive": (450, 40)}[scenario]
    assert f"ttft_latency (ns): {limits[0] * 1_000_000}" in summary
    assert f"tpot_latency (ns): {limits[1] * 1_000_000}" in summary
    # The checker's LLM rule must say what LoadGen says about the limits (see test_llm_llamacpp).
    latency = [f for f in found if getattr(f, "rule_id") == "perf.token-latency"]
    if "Performance constraints satisfied : Yes" in summary:
        assert not latency, latency
    else:
        assert latency, (summary, found)
        assert all(f"limit of {limits[0]} ms" in str(getattr(f, "message")) or
                   f"limit of {limits[1]} ms" in str(getattr(f, "message")) for f in latency), latency


def test_llama2_accuracy_scored_and_checked(tmp_path: Path, llama_server: tuple[str, Path, Path],  # noqa: F811
                                            nltk_data: Path, data: Path) -> None:  # noqa: F811
    url, _, vocab = llama_server
    scenario_dir = tmp_path / "Offline"
    run = run_harness(scenario_dir, url=url, dataset=data, scenario="Offline", mode="AccuracyOnly",
                      loadgen_model="llama2-70b", benchmark=BENCHMARK,
                      conf={"performance_sample_count_override": SAMPLES},
                      extra_env=accuracy_env(vocab, nltk_data, "tokenizer_sp"), timeout=600)
    assert run.code == 0, run.stdout + run.stderr
    text = (run.out / "accuracy.txt").read_text()
    # evaluate-accuracy.py's dict: every answer is 1024 tokens, so tokens_per_sample is exactly that
    assert f"'gen_num': {SAMPLES}, 'gen_tok_len': {SAMPLES * MAX_TOKENS}, 'tokens_per_sample': 1024.0}}" in text, text
    found = read_accuracy(run.out / "accuracy.txt", RULES, BENCHMARK)
    assert found is not None and set(found) == {"ROUGE1", "ROUGE2", "ROUGEL", "TOKENS_PER_SAMPLE"}, found
    # A random-weights model: the closed-division checker fails it for its accuracy, and for
    # nothing it got right (the format is read, the token latencies are not at issue here).
    rules: dict[str, list[str]] = {}
    for f in findings(scenario_dir, "Offline", "closed"):
        rules.setdefault(getattr(f, "rule_id"), []).append(str(getattr(f, "message")))
    assert "acc.pattern" not in rules, rules
    below = rules["acc.target"]
    assert [m.split()[0] for m in below] == ["ROUGE1", "ROUGE2", "ROUGEL"], below
    assert "below the target 44.3868" in below[0], below
    assert rules["acc.upper"] == ["TOKENS_PER_SAMPLE 1024 is above the bound 323.895"], rules
    assert f"covered {SAMPLES} samples" in rules["acc.dataset-size"][0], rules


def test_llama2_test06(tmp_path: Path, llama_server: tuple[str, Path, Path], data: Path) -> None:  # noqa: F811
    """The round's TEST06 audit.config asks for 100 queries: 100 x 1024 tokens from this
    server, the slowest test here (272 s on 2 cores busy with other test runs)."""
    url, _, vocab = llama_server
    audit = RULES.audit_tests["TEST06"].audit_config_lines(BENCHMARK)
    run = run_harness(tmp_path / "Server", url=url, dataset=data, scenario="Server", audit=("TEST06", audit),
                      loadgen_model="llama2-70b", benchmark=BENCHMARK,
                      conf={"target_qps": 4, "performance_sample_count_override": SAMPLES},
                      extra_env=_env(vocab), timeout=600)
    assert run.code == 0, run.stdout + run.stderr
    verdict = verify_test06(accuracy_log=run.out / "mlperf_log_accuracy.json", scenario="Server",
                            eos_token_id=2, dtype="int32")
    assert verdict.passed, verdict.verify_accuracy_text + "\n".join(verdict.reasons)
    assert verdict.first_token is True and verdict.samples >= SAMPLES


def test_chat_completions_on_llama_cpp(tmp_path: Path, llama_files: tuple[Path, Path, Path, Path],  # noqa: F811
                                       llama_server: tuple[str, Path, Path]) -> None:  # noqa: F811
    """MLPERF_LLM_API=chat: the prompt text as a user message to /v1/chat/completions, the
    server applying the model's chat template; tokens named in logprobs.content."""
    home = llama_files[0]
    url, data, vocab = llama_server  # llama3.1-8b's 8 prompts, 128 new tokens each
    # 32 queries: over LoadGen's 1 s minimum duration however fast the server is
    conf = {"min_duration": 1000, "min_query_count": 4 * LLAMA31_SAMPLES, "offline_expected_qps": 1,
            "performance_sample_count_override": LLAMA31_SAMPLES}
    run = run_harness(tmp_path / "Offline", url=url, dataset=data, scenario="Offline", conf=conf,
                      extra_env={**_env(vocab), "MLPERF_LLM_API": "chat"})
    assert run.code == 0, run.stdout + run.stderr
    record = run.record
    assert record["api"] == "chat" and record["faults"] == 0, record
    assert record["tokens"] == 128 * record["samples_completed"] >= 128 * 4 * LLAMA31_SAMPLES, record
    assert "Result is : VALID" in run.summary()
    logs = "".join(p.read_text() for p in home.glob("server-*.log"))
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in logs
    # a chat request has no token-id prompt: asking for one is bad input, exit 2
    bad = run_harness(tmp_path / "bad", url=url, dataset=data, scenario="Offline", conf=conf,
                      extra_env={**_env(vocab), "MLPERF_LLM_API": "chat", "MLPERF_LLM_PROMPT": "tokens"})
    assert bad.code == 2 and "MLPERF_LLM_API=chat sends the prompt text" in bad.stderr, bad.stderr
