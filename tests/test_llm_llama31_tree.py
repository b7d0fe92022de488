"""llama3.1-8b, datacenter and edge, as one submission tree: `apply`, `assemble` and `check`,
against llama.cpp's real server (llama-cpp-python[server]) on this machine.

The manifest (tests/project/manifests/llama31-tree.yaml) declares one `datacenter,edge` system
with what the round requires (mlperf_ops/rules/v6.1.yaml): llama3.1-8b in Offline and Server
(one of Server/Interactive), each with TEST06, and llama3.1-8b-edge in Offline and SingleStream
(no audit); every scenario with its performance run and its accuracy run over the whole data
set, run by the llm-endpoint image with the `test` profile (LoadGen's minimum duration cut to
1 s: never submittable).

The model is ours, the settings are not: requests carry the official generation settings
(max_tokens 128, greedy), and the server serves `write_chain`'s tiny model, whose greedy answer
to these prompts is `Done.` and then `</s>`: five real tokens, tokenized, sampled, detokenized
and streamed by the server one by one, so LoadGen's TTFT and TPOT are two measurements. That
makes a request ~10 ms instead of ~125 ms (128 tokens; bench/bench_llm_chain.py), but ~10 ms is
llama.cpp's Python server itself (its HTTP and event stream; the model's own work, in-process,
is ~3 ms of it), so LoadGen's full counts stay long: every run covers the whole data set,
13,368 samples for llama3.1-8b and 5,000 for the edge benchmark (Offline's min_query_count,
equal-issue padding to the performance sample count, the accuracy data set): ~73,500 requests,
1,127 s on 2 cores when measured. That is the full tree, run with MLPERF_OPS_LLM_FULL_TREE=1.
On CI (by default) each data set has 1,536 prompts and Offline declares `min_query_count: 1`,
so each run covers 1,536 samples (200 s measured); every other setting is LoadGen's and the
round's, and the checker says what that costs: each accuracy run covers fewer samples than the
round needs.

What must hold:
- every run is done through the server, with no fault, every answer five tokens, every
  performance and accuracy run covering the whole data set;
- LoadGen found every performance run VALID, and the checker's LLM rules (token latencies on,
  TTFT/TPOT under the round's Server limits) pass on its logs; the open tree passes `mlperf-ops
  check` (the full one with no error at all; the CI one with exactly the data-set size error of
  each accuracy run);
- filed as closed, the same tree is refused for its accuracy — a tiny model's ROUGE and generated
  length are below the round's targets — and for nothing its logs got right (on CI also for the
  small data sets: each accuracy run's size, each Offline query's size);
- with MLPERF_INFERENCE_CHECKOUT set, the official checker gives every result, open and closed,
  the verdict ours gives, and each reason it gives is one of ours for the same result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlperf_ops.check import run_official_checker
from mlperf_ops.check.official import per_result_verdicts
from mlperf_ops.rules import load_rules
from mlperf_ops.run.artifacts import digest
from tests.support import llm_tiny_model
from tests.support.llm_harness_run import write_dataset
from tests.support.records import records_on_disk, run_label
from tests.support.llamacpp_server import SCORING_DATA, ensure_llama_cpp, serving

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "tests" / "project" / "manifests" / "llama31-tree.yaml"
CHECKOUT = os.environ.get("MLPERF_INFERENCE_CHECKOUT")
RULES = load_rules("v6.1")
FULL = os.environ.get("MLPERF_OPS_LLM_FULL_TREE") == "1"
# benchmark -> its scenarios in the tree
SCENARIOS = {"llama3.1-8b": ("Offline", "Server"), "llama3.1-8b-edge": ("Offline", "SingleStream")}
AUDITED = {"llama3.1-8b"}  # TEST06; the edge benchmark has no audit in this round
# Each benchmark's whole data set (its accuracy sample count and LoadGen's performance sample
# count: 13,368 and 5,000), or CI's 1,536 prompts.
SAMPLES = {name: RULES.benchmark(name).dataset_size if FULL else 1536 for name in SCENARIOS}
# Server's rate, queries/s. LoadGen pads a Server run to a multiple of the data set (equal issue),
# and paces its accuracy run at the same rate, so this sets both runs' length. The server answers
# ~90 requests/s here (~70 on a busy machine). A Server run that asks for more than the server
# answers queues without bound and comes back INVALID, so the rate is what a server sharing its 2
# cores with 3-4 other busy processes still answers (~20): a busy machine must not decide this
# test. It costs ~40 s per Server run over 45 queries/s.
SERVER_QPS = 20
SUBMITTER = "MLPerfOpsDemo"
SYSTEM = "llm-cpu"
RESULTS = {f"open/{SUBMITTER}/results/{SYSTEM}/{name}/{scenario}"
           for name, scenarios in SCENARIOS.items() for scenario in scenarios}


@dataclass(frozen=True)
class Applied:
    project: Path
    manifest: Path
    state: Path
    tree: Path
    timings: dict[str, float]


def _mlperf_ops(project: Path, *args: str | Path, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPERF_OPS_")}
    env.update(NO_COLOR="1", CI="true", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "mlperf_ops", *map(str, args)], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(map(str, done.args))}\nexit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def _prompts(count: int) -> list[str]:
    # Each ends in "x", which is not in the chain model's answer: every answer is the whole chain.
    return [f"Summarize article {i}: the quick brown fox" for i in range(count)]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Applied:
    ensure_llama_cpp()
    home = tmp_path_factory.mktemp("llama31-tree")
    gguf = llm_tiny_model.write_chain(home / "chain.gguf")
    data = write_dataset(home / "dataset.json", _prompts(SAMPLES["llama3.1-8b"]))
    edge_data = write_dataset(home / "edge-dataset.json", _prompts(SAMPLES["llama3.1-8b-edge"]))
    # The benchmark's model artifact is what the harness reads of it: the tokenizer that names the
    # server's tokens (token_ids: vocab) and decodes the accuracy run's answers; its byte tokens
    # are the tiny model's (3 + byte).
    model = SCORING_DATA / "tokenizer_fast"
    project = home / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "images").symlink_to(REPO / "images")
    (project / "pipelines").symlink_to(REPO / "tests" / "project" / "pipelines")
    state = home / "state"
    timings: dict[str, float] = {}
    with serving(home, gguf, "--interrupt_requests", "False") as url:
        text = MANIFEST.read_text("utf-8")
        for old, new in {"SERVER_URL": url, "SERVER_QPS": str(SERVER_QPS), "MODEL_DIR": str(model),
                         "a" * 64: digest(model), "EDGE_DATASET": str(edge_data), "DATASET": str(data),
                         "b" * 64: digest(data), "c" * 64: digest(edge_data)}.items():
            assert old in text, old
            text = text.replace(old, new)
        if not FULL:
            assert text.count("          Offline: {target_qps: 1}\n") == 2
            text = text.replace("          Offline: {target_qps: 1}\n",
                                "          Offline: {target_qps: 1, min_query_count: 1}\n")
        manifest = project / "manifests" / "llama31.yaml"
        manifest.write_text(text, "utf-8")
        started = time.monotonic()
        done = _mlperf_ops(project, "apply", manifest, "--state-dir", state, timeout=3600)
        timings["apply"] = time.monotonic() - started
        assert done.returncode == 0, _explain(done)
    tree = home / "tree"
    started = time.monotonic()
    done = _mlperf_ops(project, "assemble", manifest, "--state-dir", state, "--out", tree)
    timings["assemble"] = time.monotonic() - started
    assert done.returncode == 0, _explain(done)
    print("\nllama31 tree: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return Applied(project, manifest, state, tree, timings)


def _records(state: Path) -> dict[str, dict[str, Any]]:
    return records_on_disk(state, lambda r: f"{r['benchmark']}/{r['scenario']}/{run_label(r)}")


def test_every_run_is_done_through_the_server_over_the_whole_data_set(applied: Applied) -> None:
    records = _records(applied.state)
    expected = {f"{name}/{s}/{label}" for name, scenarios in SCENARIOS.items() for s in scenarios
                for label in ("performance", "accuracy", *(("TEST06",) if name in AUDITED else ()))}
    assert expected <= set(records), sorted(records)
    answer = len(llm_tiny_model.CHAIN)
    for name in sorted(expected):
        record = records[name]
        assert record["status"] == "done", (name, record.get("reason"))
        [run_file] = list(record["_dir"].rglob("llm_run.json"))
        run = json.loads(run_file.read_text("utf-8"))
        # the official generation settings went out; the answers were the chain, whole
        assert run["generation"]["max_tokens"] == 128 and run["generation"]["top_k"] == 1, run
        assert run["faults"] == 0 and run["tokens"] == answer * run["samples_completed"], run
        if not name.endswith("TEST06"):
            assert run["samples_completed"] == SAMPLES[record["benchmark"]], (name, run)


def _check(tree: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "mlperf_ops", "check", str(tree), "--json", *extra],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def _errors(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(rule id, path below the system's results: benchmark/scenario/...) of every error finding."""
    return {(f["rule_id"], f["path"].split(f"/results/{SYSTEM}/", 1)[-1]) for f in report["findings"]
            if f["severity"] == "error"}


# What data sets smaller than the round's cost (CI): each accuracy run covers too few samples,
# and in the closed division each Offline run's single query is too small (min_query_count: 1).
SMALL_DATA_SET = set() if FULL else {("acc.dataset-size", f"{name}/{s}/accuracy/mlperf_log_detail.txt")
                                     for name, scenarios in SCENARIOS.items() for s in scenarios}
SMALL_OFFLINE = set() if FULL else {("perf.offline-spq", f"{name}/Offline/performance/run_1/mlperf_log_detail.txt")
                                    for name in SCENARIOS}


def _run_dir(tree: Path, division: str, name: str, scenario: str) -> Path:
    return tree / division / SUBMITTER / "results" / SYSTEM / name / scenario / "performance" / "run_1"


def _detail(run: Path) -> dict[str, Any]:
    detail = {}
    for line in (run / "mlperf_log_detail.txt").read_text("utf-8").splitlines():
        if line.startswith(":::MLLOG "):
            entry = json.loads(line[len(":::MLLOG "):])
            detail[entry["key"]] = entry["value"]
    return detail


def test_the_open_tree_passes_check_with_loadgens_token_latencies(applied: Applied) -> None:
    code, report = _check(applied.tree)
    assert _errors(report) == SMALL_DATA_SET, _errors(report)
    assert code == (0 if FULL else 3)
    assert {r["path"]: r["valid"] for r in report["results"]} == {path: FULL for path in RESULTS}
    # the performance logs pass every rule, the LLM ones among them
    assert not {rule for rule, path in _errors(report) if "/performance/" in path}
    rule_ids = {f["rule_id"] for f in report["findings"]}
    assert not rule_ids & {"perf.token-latency", "perf.token-latencies-off"}, report["findings"]
    for name, scenario in sorted((n, s) for n, scenarios in SCENARIOS.items() for s in scenarios):
        run = _run_dir(applied.tree, "open", name, scenario)
        summary = (run / "mlperf_log_summary.txt").read_text("utf-8")
        assert "Result is : VALID" in summary, summary
        detail = _detail(run)
        assert detail["requested_use_token_latencies"] is True
        # LoadGen's mlperf.conf count (on CI it outnumbers the data set's 1,536 prompts)
        assert detail["effective_performance_sample_count"] == RULES.benchmark(name).performance_sample_count
        assert detail["effective_sample_concatenate_permutation"] is True  # equal issue, as mlperf.conf says
        if scenario == "Offline":
            assert detail["result_tokens_per_second"] > 0
        elif scenario == "SingleStream":
            assert detail["early_stopping_met"] is True and detail["result_first_token_99.00_percentile_latency_ns"] > 0
        else:
            # LoadGen's own TTFT and TPOT (five tokens: a TPOT that is not TTFT again), under the limits
            ttft = detail["result_first_token_99.00_percentile_latency_ns"]
            tpot = detail["result_time_per_output_token_99.00_percentile_ns"]
            assert 0 < ttft < 2000e6 and 0 < tpot < 100e6, (ttft, tpot)
            assert "ttft_latency (ns): 2000000000" in summary and "tpot_latency (ns): 100000000" in summary


def _as_closed(tree: Path, dest: Path) -> Path:
    """The same tree filed in the closed division (its system description says so too)."""
    shutil.copytree(tree, dest, symlinks=True)
    (dest / "open").rename(dest / "closed")
    system = dest / "closed" / SUBMITTER / "systems" / f"{SYSTEM}.json"
    doc = json.loads(system.read_text("utf-8"))
    doc["division"] = "closed"
    system.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    return dest


def test_filed_as_closed_the_tree_is_refused_for_its_accuracy(applied: Applied, tmp_path: Path) -> None:
    closed = _as_closed(applied.tree, tmp_path / "closed-tree")
    code, report = _check(closed)
    assert code == 3, report
    assert {r["path"]: r["valid"] for r in report["results"]} == {
        path.replace("open/", "closed/", 1): False for path in RESULTS}
    below = {("acc.target", f"{name}/{s}/accuracy/accuracy.txt") for name, scenarios in SCENARIOS.items()
             for s in scenarios}
    assert _errors(report) == below | SMALL_DATA_SET | SMALL_OFFLINE, _errors(report)
    metrics: dict[str, list[str]] = {}
    for f in report["findings"]:
        if f["rule_id"] == "acc.target":
            metrics.setdefault("/".join(f["path"].split("/")[-4:-2]), []).append(f["message"].split()[0])
    # ROUGE of a five-token answer, and its generated length (gen_len is a lower bound too)
    assert metrics == {f"{name}/{s}": ["ROUGE1", "ROUGE2", "ROUGEL", "ROUGELSUM", "GEN_LEN"]
                       for name, scenarios in SCENARIOS.items() for s in scenarios}, metrics


# The official checker's lines about one result -> our rule id for the same fault: its ERROR lines,
# and the WARNING it gives each accuracy metric below target (its verdict is refusal all the same).
# Its lines that only say "checks failed" or count results carry no reason of their own.
OFFICIAL_REASONS = {
    "Test duration less than 600s": "perf.min-duration",
    "Required minimum samples per query not met": "perf.offline-spq",
    "accurcy run does not cover all dataset": "acc.dataset-size",  # sic
    "accuracy not met: expected=": "acc.target",
}
OFFICIAL_NOISE = ("Checks failed for", "NoResults", "SUMMARY")


def _official_reasons(output: str, closed: bool) -> list[tuple[str, str, str]]:
    """(our rule id, scenario, the line) for each reason the official checker gives."""
    out = []
    for line in output.splitlines():
        # It warns of an accuracy below target in the open division too, where that refuses nothing.
        if not (" ERROR] " in line or (closed and " WARNING] " in line and "accuracy not met" in line)):
            continue
        if any(noise in line for noise in OFFICIAL_NOISE):
            continue
        rule = next((rule for text, rule in OFFICIAL_REASONS.items() if text in line), "?")
        where = f"/results/{SYSTEM}/"
        scenario = "/".join(line.split(where, 1)[1].split("/")[:2]) if where in line else "?"
        out.append((rule, scenario, line))
    return out


@pytest.mark.skipif(not CHECKOUT, reason="set MLPERF_INFERENCE_CHECKOUT to a mlcommons/inference checkout to compare "
                                         "with the official checker")
def test_the_official_checker_gives_every_result_our_verdict_for_our_reasons(applied: Applied, tmp_path: Path) -> None:
    for division, tree in (("open", applied.tree), ("closed", _as_closed(applied.tree, tmp_path / "closed-tree"))):
        # The official checker always asks for LoadGen's 600 s; ours does with --as-submission.
        _, ours = _check(tree, "--as-submission")
        verdict = run_official_checker(Path(CHECKOUT or "."), tree, "v6.1", SUBMITTER)
        assert not verdict.traceback, verdict.output[-3000:]
        theirs = per_result_verdicts(verdict.output, tree)
        assert theirs == {r["path"]: r["valid"] for r in ours["results"]}, (theirs, verdict.errors[:20])
        assert set(theirs.values()) == {False}  # a 1 s smoke run is never a submission
        our_reasons = {(rule, "/".join(path.split("/")[:2])) for rule, path in _errors(ours)}
        reasons = _official_reasons(verdict.output, closed=division == "closed")
        unknown = [line for rule, scenario, line in reasons if "?" in (rule, scenario)]
        assert not unknown, f"official reasons this test does not know: {unknown}"
        assert {(rule, scenario) for rule, scenario, _ in reasons} == our_reasons, (reasons, sorted(our_reasons))
        if division == "closed":
            assert sum(rule == "acc.target" for rule, _, _ in reasons) == 5 * len(RESULTS), reasons
