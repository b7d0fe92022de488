"""The round rules data (mlperf_ops/rules/v*.yaml) against its loader, itself and LoadGen.

Expected values marked "official" are facts read from the official checker at the commit
the rules data cites and confirmed by an accepted submission; the YAML files were written
separately, so these tests catch transcription slips in either.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlperf_ops.core.errors import UsageError
from mlperf_ops.core.loadgen_log import parse_detail
from mlperf_ops.rules import SCENARIOS, SYSTEM_TYPES, Benchmark, available_rounds, load_rules

ROUNDS = ("v6.1", "v6.0")
HEX40 = re.compile(r"[0-9a-f]{40}")
TABLE_KEYS = {"datacenter", "edge", "datacenter,edge"}

V61_BENCHMARKS = {  # official
    "resnet", "bert-99", "bert-99.9", "3d-unet-99", "3d-unet-99.9", "llama3.1-8b",
    "llama3.1-8b-edge", "llama2-70b-99.9", "stable-diffusion-xl", "rgat", "deepseek-r1",
    "whisper", "gpt-oss-120b", "wan-2.2-t2v-a14b", "qwen3-vl-235b-a22b", "qwen3.6-27b",
    "dlrm-v3", "yolo-95", "yolo-99", "e2e-rag-qna", "e2e-rag-db",
}
V60_ONLY = {"retinanet", "llama2-70b-99", "mixtral-8x7b", "llama3.1-405b", "pointpainting"}

# every benchmark must cite where these fields came from
CITED_FIELDS = (
    "loadgen_model", "system_types", "allowed_scenarios", "required_scenarios",
    "one_of_scenarios", "compliance_tests", "accuracy", "performance_sample_count",
    "dataset_size", "offline_min_samples_per_query", "server_target_latency_ms",
    "min_query_count",
)


def _benchmarks() -> list[tuple[str, Benchmark]]:
    return [(r, b) for r in ROUNDS for b in load_rules(r).benchmarks.values()]


BENCH_IDS = [f"{r}:{b.name}" for r, b in _benchmarks()]


def test_both_rounds_are_packaged_and_load() -> None:
    assert set(ROUNDS) <= set(available_rounds())
    for name in ROUNDS:
        rules = load_rules(name)
        assert rules.round == name
        assert rules.source_repo == "mlcommons/inference"
        assert rules.min_duration_ms == 600000
        assert set(rules.seeds) == {"qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"}


def test_unknown_round_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        load_rules("v0.1")
    with pytest.raises(UsageError):
        load_rules("v6.1").benchmark("gptj-99")


def test_benchmark_lists_match_the_design() -> None:
    assert set(load_rules("v6.1").benchmarks) == V61_BENCHMARKS
    v60 = set(load_rules("v6.0").benchmarks)
    assert V60_ONLY <= v60
    # v6.0 had neither the edge agentic workload nor the e2e-rag pair
    assert v60 == (V61_BENCHMARKS | V60_ONLY) - {"qwen3.6-27b", "e2e-rag-qna", "e2e-rag-db"}


def _all_citations(name: str) -> list[str]:
    rules = load_rules(name)
    out = list(rules.sources.values())
    for bench in rules.benchmarks.values():
        out.extend(bench.sources.values())
    out.extend(t.source for t in rules.audit_tests.values())
    if rules.system_description is not None:
        out.append(rules.system_description.source)
    return out


@pytest.mark.parametrize("name", ROUNDS)
def test_commits_are_pinned_40_hex(name: str) -> None:
    rules = load_rules(name)
    assert HEX40.fullmatch(rules.source_commit)
    citations = _all_citations(name)
    assert citations and all(citations)
    for cite in citations:
        commits = re.findall(r"@([0-9A-Za-z]+)", cite)
        assert commits, f"citation without a commit: {cite!r}"
        for commit in commits:
            assert HEX40.fullmatch(commit), cite
    # the bulk of the facts come from the pinned commit itself
    assert sum(rules.source_commit in c for c in citations) > len(citations) // 2


@pytest.mark.parametrize(("name", "bench"), _benchmarks(), ids=BENCH_IDS)
def test_every_field_group_is_cited(name: str, bench: Benchmark) -> None:
    missing = [f for f in CITED_FIELDS if not bench.sources.get(f)]
    assert not missing, f"{name} {bench.name}: no source for {missing}"
    known = set(Benchmark.__struct_fields__)
    assert set(bench.sources) <= known, set(bench.sources) - known
    # every optional fact that is present is cited too
    for f in ("accuracy_by_scenario", "dataset_size_by_scenario", "loadgen_model_by_scenario",
              "token_latency_limits_ms", "accuracy_extra_files", "optional_scenarios"):
        if getattr(bench, f):
            assert bench.sources.get(f), f"{bench.name}: {f} not cited"


@pytest.mark.parametrize(("name", "bench"), _benchmarks(), ids=BENCH_IDS)
def test_scenarios_are_consistent(name: str, bench: Benchmark) -> None:
    rules = load_rules(name)
    assert set(bench.allowed_scenarios) <= set(SCENARIOS)
    assert set(bench.system_types) <= set(SYSTEM_TYPES)
    for table in (bench.required_scenarios, bench.optional_scenarios, bench.one_of_scenarios):
        assert set(table) <= TABLE_KEYS
    for scens in list(bench.required_scenarios.values()) + list(bench.optional_scenarios.values()):
        assert scens and set(scens) <= set(bench.allowed_scenarios)
    for groups in bench.one_of_scenarios.values():
        for group in groups:
            assert len(group) >= 2 and set(group) <= set(bench.allowed_scenarios)
    # a benchmark exists for at least one kind of system, and system_types says which
    assert any(rules.offered(bench.name, t) for t in TABLE_KEYS)
    for t in SYSTEM_TYPES:
        assert (t in bench.system_types) == rules.offered(bench.name, t)
    for scen in bench.min_query_count:
        assert scen in SCENARIOS


@pytest.mark.parametrize(("name", "bench"), _benchmarks(), ids=BENCH_IDS)
def test_numbers_and_patterns_are_sane(name: str, bench: Benchmark) -> None:
    assert bench.loadgen_model
    assert bench.performance_sample_count > 0
    assert bench.dataset_size > 0
    assert bench.compliance_tests == tuple(sorted(set(bench.compliance_tests)))
    targets = list(bench.accuracy) + [a for v in bench.accuracy_by_scenario.values() for a in v]
    assert bench.accuracy
    for acc in targets:
        assert re.compile(acc.pattern).groups == 1, acc
        assert math.isfinite(acc.target) and acc.target > 0
        if acc.upper is not None:
            assert acc.upper >= acc.target
    assert len({a.metric for a in bench.accuracy}) == len(bench.accuracy)
    for limits in bench.token_latency_limits_ms.values():
        assert set(limits) == {"ttft", "tpot"} and all(v > 0 for v in limits.values())


@pytest.mark.parametrize("name", ROUNDS)
def test_compliance_tests_exist_and_have_settings(name: str) -> None:
    rules = load_rules(name)
    kinds = {"accuracy_sampling", "duplicate_sample", "output_consistency", "external"}
    for test in rules.audit_tests.values():
        assert test.kind in kinds and test.required_files and test.source
    for bench in rules.benchmarks.values():
        for test_name in bench.compliance_tests:
            assert test_name in rules.audit_tests, (bench.name, test_name)
            config = rules.audit_tests[test_name].audit_config_for(bench.name)
            assert config, (bench.name, test_name)
            lines = rules.audit_tests[test_name].audit_config_lines(bench.name)
            for line in lines:
                key, _, value = line.partition(" = ")
                assert len(key.split(".")) >= 3 and value, line
        if "TEST01" in bench.compliance_tests:
            config = rules.audit_tests["TEST01"].audit_config_for(bench.name)
            assert config["mode"] == "2"
            assert int(config["accuracy_log_sampling_target"]) > 0


def test_resnet_matches_the_design() -> None:
    rules = load_rules("v6.1")
    resnet = rules.benchmark("resnet")
    assert resnet.loadgen_model == "resnet50"
    (acc,) = resnet.accuracy
    assert acc.metric == "acc"
    assert acc.target == pytest.approx(75.6954, abs=1e-9)
    match = re.match(acc.pattern, "accuracy=76.456%, good=38228, total=50000")
    assert match and float(match.group(1)) == 76.456
    assert resnet.performance_sample_count == 1024
    assert resnet.loadgen_performance_sample_count == 1024
    assert resnet.dataset_size == 50000
    assert resnet.offline_min_samples_per_query == 24576
    assert resnet.server_target_latency_ms == 15
    assert resnet.compliance_tests == ("TEST01", "TEST04")
    assert rules.required_scenarios("resnet", "edge") == ("SingleStream", "MultiStream", "Offline")
    # the checker keeps its own table for combined systems: not the union of the two
    both = rules.required_scenarios("resnet", "edge,datacenter")
    assert both == rules.required_scenarios("resnet", "datacenter,edge")
    assert "Server" in both
    test01 = rules.audit_tests["TEST01"].audit_config_lines("resnet")
    assert "*.*.mode = 2" in test01
    assert "*.*.accuracy_log_sampling_target = 4096" in test01


def test_accuracy_targets_match_the_design() -> None:
    rules = load_rules("v6.1")
    expected = {  # official
        "bert-99": ("F1", 89.9653), "bert-99.9": ("F1", 90.7831),
        "3d-unet-99": ("DICE", 0.853083), "whisper": ("ACCURACY", 96.9536),
        "yolo-95": ("mAP", 50.73), "yolo-99": ("mAP", 52.866),
    }
    for name, (metric, target) in expected.items():
        acc = rules.benchmark(name).accuracy[0]
        assert acc.metric == metric
        assert acc.target == pytest.approx(target, abs=5e-5), name
    bert = rules.benchmark("bert-99").accuracy[0]
    line = '{"exact_match": 83.9, "f1": 90.87}'
    match = re.match(bert.pattern, line)
    assert match and float(match.group(1)) == 90.87


def test_llm_metrics_are_listed_each_with_bounds() -> None:
    llama = load_rules("v6.1").benchmark("llama2-70b-99.9")
    metrics = [a.metric for a in llama.accuracy]
    assert metrics == ["ROUGE1", "ROUGE2", "ROUGEL", "TOKENS_PER_SAMPLE"]
    tokens = llama.accuracy[-1]
    assert tokens.upper is not None and tokens.target < tokens.upper
    assert all(a.upper is None for a in llama.accuracy[:-1])
    line = "{'rouge1': 44.5, 'rouge2': 22.1, 'rougeL': 28.7, 'tokens_per_sample': 294.0}"
    for acc in llama.accuracy:
        m = re.match(acc.pattern, line)
        assert m, acc.metric
    assert llama.token_latency_limits_ms["Interactive"] == {"ttft": 450.0, "tpot": 40.0}
    assert llama.loadgen_model_for("Interactive") == "llama2-70b-interactive"


def test_required_scenarios_match_the_design() -> None:
    rules = load_rules("v6.1")
    edge = {  # official
        "resnet": ("SingleStream", "MultiStream", "Offline"),
        "bert-99": ("SingleStream", "Offline"), "3d-unet-99.9": ("SingleStream", "Offline"),
        "llama3.1-8b-edge": ("SingleStream", "Offline"),
        "stable-diffusion-xl": ("SingleStream", "Offline"), "whisper": ("Offline",),
        "yolo-95": ("SingleStream", "MultiStream", "Offline"), "qwen3.6-27b": ("SingleStream",),
    }
    for name, scens in edge.items():
        assert rules.required_scenarios(name, "edge") == scens, name
    assert set(rules.required_scenarios("dlrm-v3", "datacenter")) == {"Offline", "Server"}
    assert set(rules.required_scenarios("wan-2.2-t2v-a14b", "datacenter")) == {
        "Offline", "SingleStream"}
    for name in ("llama2-70b-99.9", "llama3.1-8b", "deepseek-r1", "gpt-oss-120b",
                 "qwen3-vl-235b-a22b"):
        assert rules.required_scenarios(name, "datacenter") == ("Offline",), name
        groups = rules.one_of_scenarios(name, "datacenter")
        assert [set(g) for g in groups] == [{"Server", "Interactive"}], name
        assert set(rules.closed_scenarios(name, "datacenter")) == {
            "Offline", "Server", "Interactive"}
    assert rules.one_of_scenarios("resnet", "edge") == ()
    assert not rules.offered("wan-2.2-t2v-a14b", "datacenter,edge")


def test_v60_differs_where_the_round_did() -> None:
    v60, v61 = load_rules("v6.0"), load_rules("v6.1")
    assert v60.seeds != v61.seeds
    # v6.0 required Server for qwen3-vl on datacenter; v6.1 made it one-of
    assert set(v60.required_scenarios("qwen3-vl-235b-a22b", "datacenter")) == {"Offline", "Server"}
    assert v60.one_of_scenarios("qwen3-vl-235b-a22b", "datacenter") == ()
    assert "TEST04" in v60.benchmark("pointpainting").compliance_tests
    assert v60.benchmark("llama3.1-405b").loadgen_model == "llama3_1-405b"


def test_scenario_specific_overrides() -> None:
    qwen = load_rules("v6.1").benchmark("qwen3-vl-235b-a22b")
    assert qwen.dataset_size_for("Interactive") == 8000
    assert qwen.dataset_size_for("Offline") == qwen.dataset_size == 48289
    assert qwen.accuracy_for("Interactive")[0].target < qwen.accuracy_for("Offline")[0].target
    assert qwen.interactive_target_latency_ms == 1500
    gpt = load_rules("v6.1").benchmark("gpt-oss-120b")
    assert gpt.dataset_size == 4395  # accuracy runs use the accuracy sample count
    assert not load_rules("v6.1").benchmark("e2e-rag-db").min_duration_applies


@pytest.mark.parametrize("name", ROUNDS)
def test_system_description_and_measurements(name: str) -> None:
    rules = load_rules(name)
    desc = rules.system_description
    assert desc is not None
    assert len(desc.required_keys) == len(set(desc.required_keys)) == 35  # official
    assert len(desc.non_empty_keys) == len(set(desc.non_empty_keys)) == 26
    assert set(desc.non_empty_keys) <= set(desc.required_keys)
    assert {"accelerator_on-chip_memories", "system_type_detail"} <= set(desc.required_keys)
    assert desc.status_values == ("available", "preview", "rdi")
    assert set(desc.system_type_values) == {
        "datacenter", "edge", "datacenter,edge", "edge,datacenter"}
    assert desc.network_flag_key in desc.network_required_keys
    assert set(desc.integer_keys) == {"number_of_nodes", "accelerators_per_node"}
    assert rules.measurements_keys == (
        "input_data_types", "retraining", "starting_weights_filename",
        "weight_data_types", "weight_transformations")


_TINY_RUN = textwrap.dedent(
    """
    import sys
    import mlperf_loadgen as lg

    with open("user.conf", "w") as f:
        f.write("*.SingleStream.min_duration = 50\\n*.SingleStream.min_query_count = 8\\n")
    settings = lg.TestSettings()
    settings.FromConfig("user.conf", "resnet50", "SingleStream")
    settings.scenario = lg.TestScenario.SingleStream
    settings.mode = lg.TestMode.PerformanceOnly

    def issue(queries):
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in queries])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(8, 8, lambda s: None, lambda s: None)
    out = lg.LogOutputSettings()
    out.outdir = sys.argv[1]
    out.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = out
    log.enable_trace = False
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    """
)


def test_v61_seeds_are_what_the_pinned_loadgen_logs(tmp_path: Path) -> None:
    rules = load_rules("v6.1")
    assert importlib.metadata.version("mlcommons-loadgen") == rules.loadgen_version
    outdir = tmp_path / "logs"
    outdir.mkdir()
    # its own empty working directory: LoadGen would apply any audit.config found there
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, "-c", _TINY_RUN, str(outdir)],
        cwd=tmp_path, env=env, check=True, timeout=120, capture_output=True,
    )
    detail = parse_detail(outdir / "mlperf_log_detail.txt")
    assert detail.get("effective_min_duration_ms") == 50  # our user.conf was applied
    assert detail.seeds == rules.seeds
    assert str(detail.get("loadgen_version", "")).startswith(rules.loadgen_version + " ")
    assert detail.seeds != load_rules("v6.0").seeds


def test_two_rounds_same_layout_is_the_same_layout_whatever_each_cites() -> None:
    """seed_round leaves a round's layout findings out of a tree of another round only
    when that round's layout differs: v6.0 and v6.1 place a result's files alike and cite
    different tables, v5.1 places them apart."""
    v51, v60, v61 = (load_rules(r).layout for r in ("v5.1", "v6.0", "v6.1"))
    assert v60.source != v61.source
    assert v60 == v61 and hash(v60) == hash(v61)
    assert v51 != v60 and v51.apart and not v60.apart
